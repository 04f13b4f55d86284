/* Avro schemas, safe decoding, projection onto the reader schema, encoding.
 * See include/govstream/codec.h for why each step exists. */
#include "govstream/codec.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

struct gs_avro_schema {
    avro_schema_t schema;
    avro_value_iface_t *iface;
    json_t *defaults; /* "namespace.Record.field" -> default value */
    char *json;
    avro_value_t scratch; /* writer-side decode target, see gs_avro_decode */
    int has_scratch;
    const gs_avro_schema_t *cmp_reader; /* memo of the last equality test */
    int cmp_equal;
    avro_reader_t reader; /* reused memory reader for bytes of this schema */
    struct plan_entry {
        const gs_avro_type_t *reader;
        gs_avro_plan_t *plan; /* NULL: the writer cannot be read as reader */
        char *why;
    } * plans; /* resolution plans from this (writer) schema, by reader */
    size_t n_plans;
};

/* ---- loading ----------------------------------------------------------- */

/* Records every field default under "<record fullname>.<field>". avro-c
 * 1.11 drops defaults while parsing, so they come from the JSON itself. */
static void collect_defaults(json_t *t, const char *ns, json_t *out)
{
    if (json_is_array(t)) { /* union */
        size_t i;
        json_t *b;
        json_array_foreach(t, i, b) collect_defaults(b, ns, out);
        return;
    }
    if (!json_is_object(t))
        return;
    const char *type = json_string_value(json_object_get(t, "type"));
    if (!type) { /* {"type": {...}} */
        collect_defaults(json_object_get(t, "type"), ns, out);
        return;
    }
    if (!strcmp(type, "array")) {
        collect_defaults(json_object_get(t, "items"), ns, out);
        return;
    }
    if (!strcmp(type, "map")) {
        collect_defaults(json_object_get(t, "values"), ns, out);
        return;
    }
    if (strcmp(type, "record") != 0 && strcmp(type, "error") != 0)
        return;
    const char *name = json_string_value(json_object_get(t, "name"));
    const char *own_ns = json_string_value(json_object_get(t, "namespace"));
    if (!name)
        return;
    char full[1024], rec_ns[512];
    if (strchr(name, '.')) {
        snprintf(full, sizeof(full), "%s", name);
        snprintf(rec_ns, sizeof(rec_ns), "%.*s", (int)(strrchr(name, '.') - name), name);
    } else {
        const char *use = own_ns ? own_ns : ns;
        snprintf(rec_ns, sizeof(rec_ns), "%s", use ? use : "");
        snprintf(full, sizeof(full), "%s%s%.500s", rec_ns, *rec_ns ? "." : "", name);
    }
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(t, "fields"), i, f)
    {
        const char *fname = json_string_value(json_object_get(f, "name"));
        json_t *def = json_object_get(f, "default");
        if (fname && def) {
            char key[1300];
            snprintf(key, sizeof(key), "%s.%.250s", full, fname);
            json_object_set(out, key, def);
        }
        collect_defaults(json_object_get(f, "type"), rec_ns, out);
    }
}

/* ---- what avro-c is given ------------------------------------------------
 * avro-c 1.11 leaks what it had built when a schema redefines a name, and
 * holds counted references around a recursive type (a type used inside
 * itself), which are never freed. Registry schemas are untrusted, so they
 * are checked first: each name defined once, no recursive types (our
 * generated code has none to resolve them onto), bounded nesting and
 * size (a schema must not cost more than a message to read). */
#define CHECK_MAX_DEPTH 64
#define CHECK_MAX_NODES 10000

typedef struct precheck {
    json_t *defined; /* full name -> true once defined, false while being defined */
    size_t nodes;
    char *errstr;
    size_t n;
} precheck_t;

static gs_err_t precheck(precheck_t *c, json_t *t, const char *ns, int depth);

static int primitive(const char *name)
{
    static const char *const p[] = {"null",  "boolean", "int",   "long",
                                    "float", "double",  "bytes", "string"};
    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
        if (!strcmp(name, p[i]))
            return 1;
    return 0;
}

static void full_name(const char *name, const char *ns, char *out, size_t n)
{
    if (strchr(name, '.') || !ns || !*ns)
        snprintf(out, n, "%s", name);
    else
        snprintf(out, n, "%s.%s", ns, name);
}

/* A type given by name: a primitive, or a named type defined before and
 * not still being defined (that would be a recursive type). */
static gs_err_t precheck_ref(precheck_t *c, const char *name, const char *ns)
{
    if (primitive(name))
        return GS_OK;
    char full[1024];
    full_name(name, ns, full, sizeof(full));
    json_t *state = json_object_get(c->defined, full);
    if (!state)
        state = json_object_get(c->defined, name);
    if (json_is_false(state))
        return gs_fail(c->errstr, c->n, GS_ERR_SCHEMA,
                       "type %.200s is used inside itself (recursive types are not supported)",
                       full);
    return GS_OK; /* undefined names are avro-c's to refuse */
}

static gs_err_t precheck_named(precheck_t *c, json_t *t, const char *type, const char *ns,
                               int depth)
{
    const char *name = json_string_value(json_object_get(t, "name"));
    const char *own = json_string_value(json_object_get(t, "namespace"));
    if (!name)
        return GS_OK; /* avro-c refuses it before it allocates */
    char full[1024], inner[1024];
    full_name(name, own ? own : ns, full, sizeof(full));
    if (json_object_get(c->defined, full))
        return gs_fail(c->errstr, c->n, GS_ERR_SCHEMA, "type %.200s is defined twice", full);
    json_object_set_new(c->defined, full, json_false());
    /* names inside take the namespace of the type they are in */
    snprintf(inner, sizeof(inner), "%s", full);
    char *dot = strrchr(inner, '.');
    if (dot)
        *dot = '\0';
    else
        inner[0] = '\0';
    if (!strcmp(type, "record")) {
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(t, "fields"), i, f)
        {
            gs_err_t err = precheck(c, json_object_get(f, "type"), inner, depth + 1);
            if (err)
                return err;
        }
    }
    json_object_set_new(c->defined, full, json_true());
    return GS_OK;
}

static gs_err_t precheck(precheck_t *c, json_t *t, const char *ns, int depth)
{
    if (depth > CHECK_MAX_DEPTH)
        return gs_fail(c->errstr, c->n, GS_ERR_SCHEMA, "schema nested more than %d deep",
                       CHECK_MAX_DEPTH);
    if (++c->nodes > CHECK_MAX_NODES)
        return gs_fail(c->errstr, c->n, GS_ERR_SCHEMA, "schema of more than %d types",
                       CHECK_MAX_NODES);
    if (json_is_string(t))
        return precheck_ref(c, json_string_value(t), ns);
    if (json_is_array(t)) {
        size_t i;
        json_t *b;
        json_array_foreach(t, i, b)
        {
            gs_err_t err = precheck(c, b, ns, depth + 1);
            if (err)
                return err;
        }
        return GS_OK;
    }
    const char *type = json_string_value(json_object_get(t, "type"));
    if (!type)
        return GS_OK; /* avro-c refuses it */
    if (!strcmp(type, "record") || !strcmp(type, "enum") || !strcmp(type, "fixed"))
        return precheck_named(c, t, type, ns, depth);
    if (!strcmp(type, "array"))
        return precheck(c, json_object_get(t, "items"), ns, depth + 1);
    if (!strcmp(type, "map"))
        return precheck(c, json_object_get(t, "values"), ns, depth + 1);
    return precheck_ref(c, type, ns);
}

static gs_err_t precheck_schema(json_t *root, char *errstr, size_t n)
{
    precheck_t c = {.defined = json_object(), .errstr = errstr, .n = n};
    if (!c.defined)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_err_t err = precheck(&c, root, NULL, 0);
    json_decref(c.defined);
    return err;
}

gs_err_t gs_avro_schema_parse(const char *json, size_t len, gs_avro_schema_t **out, char *errstr,
                              size_t n)
{
    gs_avro_schema_t *s = calloc(1, sizeof(*s));
    if (!s)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!root) {
        free(s);
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "schema is not JSON: %s (line %d)", jerr.text,
                       jerr.line);
    }
    gs_err_t err = precheck_schema(root, errstr, n);
    if (err) {
        json_decref(root);
        free(s);
        return err;
    }
    if (avro_schema_from_json_length(json, len, &s->schema)) {
        json_decref(root);
        free(s);
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "not an Avro schema: %s", avro_strerror());
    }
    s->defaults = json_object();
    s->json = strndup(json, len);
    s->iface = avro_generic_class_from_schema(s->schema);
    if (s->defaults)
        collect_defaults(root, NULL, s->defaults);
    json_decref(root);
    if (!s->defaults || !s->json || !s->iface) {
        gs_avro_schema_destroy(s);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "cannot build Avro class: %s", avro_strerror());
    }
    *out = s;
    return GS_OK;
}

gs_err_t gs_avro_schema_load(const char *name, gs_avro_schema_t **out, char *errstr, size_t n)
{
    const char *text = gs_schema_resolved(name);
    if (!text)
        return gs_fail(errstr, n, GS_ERR_NOT_FOUND, "no schema named %s", name);
    return gs_avro_schema_parse(text, strlen(text), out, errstr, n);
}

void gs_avro_schema_destroy(gs_avro_schema_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_plans; i++) {
        gs_avro_plan_destroy(s->plans[i].plan);
        free(s->plans[i].why);
    }
    free(s->plans);
    if (s->has_scratch)
        avro_value_decref(&s->scratch);
    if (s->reader)
        avro_reader_free(s->reader);
    if (s->iface)
        avro_value_iface_decref(s->iface);
    if (s->schema)
        avro_schema_decref(s->schema);
    json_decref(s->defaults);
    free(s->json);
    free(s);
}

gs_err_t gs_avro_value_new(const char *name, gs_avro_schema_t **schema, avro_value_t *value,
                           char *errstr, size_t n)
{
    *schema = NULL;
    *value = (avro_value_t){0};
    gs_err_t err = gs_avro_schema_load(name, schema, errstr, n);
    if (!err && avro_generic_value_new(gs_avro_schema_iface(*schema), value)) {
        err = gs_fail(errstr, n, GS_ERR_NOMEM, "%s", avro_strerror());
        *value = (avro_value_t){0};
        gs_avro_schema_destroy(*schema);
        *schema = NULL;
    }
    return err;
}

void gs_avro_value_free(gs_avro_schema_t *schema, avro_value_t *value)
{
    if (value->iface)
        avro_value_decref(value);
    gs_avro_schema_destroy(schema);
}

avro_schema_t gs_avro_schema_get(const gs_avro_schema_t *s)
{
    return s->schema;
}

avro_value_iface_t *gs_avro_schema_iface(const gs_avro_schema_t *s)
{
    return s->iface;
}

const char *gs_avro_schema_json(const gs_avro_schema_t *s)
{
    return s->json;
}

static json_t *field_default(const gs_avro_schema_t *reader, avro_schema_t record,
                             const char *field)
{
    char key[600];
    const char *ns = avro_schema_namespace(record);
    snprintf(key, sizeof(key), "%s%s%s.%s", ns ? ns : "", ns && *ns ? "." : "",
             avro_schema_name(record), field);
    return json_object_get(reader->defaults, key);
}

/* ---- the byte walker --------------------------------------------------- */

typedef struct walk {
    const uint8_t *start, *p, *end;
    char *errstr;
    size_t n;
} walk_t;

static gs_err_t werr(walk_t *w, const char *what)
{
    return gs_fail(w->errstr, w->n, GS_ERR_DECODE, "invalid Avro at byte %zu of %zu: %s",
                   (size_t)(w->p - w->start), (size_t)(w->end - w->start), what);
}

static gs_err_t read_varint(walk_t *w, int64_t *out)
{
    uint64_t v = 0;
    *out = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (w->p >= w->end)
            return werr(w, "truncated varint");
        uint8_t b = *w->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)((v >> 1) ^ -(v & 1));
            return GS_OK;
        }
    }
    return werr(w, "varint longer than 10 bytes");
}

static gs_err_t skip_len(walk_t *w, const char *what)
{
    int64_t len;
    gs_err_t err = read_varint(w, &len);
    if (err)
        return err;
    if (len < 0)
        return werr(w, what);
    if (len > w->end - w->p)
        return werr(w, "length runs past the end of the message");
    w->p += len;
    return GS_OK;
}

static size_t min_size(avro_schema_t s)
{
    s = gs_avro_deref(s);
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        return 0;
    case AVRO_FLOAT:
        return 4;
    case AVRO_DOUBLE:
        return 8;
    case AVRO_FIXED:
        return (size_t)avro_schema_fixed_size(s);
    case AVRO_RECORD: {
        size_t sum = 0;
        for (size_t i = 0; i < avro_schema_record_size(s); i++)
            sum += min_size(avro_schema_record_field_get_by_index(s, (int)i));
        return sum;
    }
    default:
        return 1;
    }
}

static gs_err_t walk_value(walk_t *w, avro_schema_t s, int depth);

/* Arrays and maps: blocks of (count, [byte size], items) ending with 0. */
static gs_err_t walk_blocks(walk_t *w, avro_schema_t item, int is_map, int depth)
{
    size_t per_item = min_size(item) + (is_map ? 1 : 0);
    int64_t total = 0;
    for (;;) {
        int64_t count;
        gs_err_t err = read_varint(w, &count);
        if (err)
            return err;
        if (count == 0)
            return GS_OK;
        if (count < 0) {
            if (count == INT64_MIN)
                return werr(w, "invalid block count");
            count = -count;
            int64_t bytes;
            if ((err = read_varint(w, &bytes)))
                return err;
            if (bytes < 0 || bytes > w->end - w->p)
                return werr(w, "invalid block byte size");
        }
        /* Bound the loop by what the bytes can hold (zero-size items are
         * capped separately), so a huge count cannot spin. */
        if ((per_item && (uint64_t)count > (uint64_t)(w->end - w->p) / per_item) ||
            count > 10000000 - total)
            return werr(w, "block count larger than the message can hold");
        total += count;
        for (int64_t i = 0; i < count; i++) {
            if (is_map && (err = skip_len(w, "negative map key length")))
                return err;
            if ((err = walk_value(w, item, depth + 1)))
                return err;
        }
    }
}

static gs_err_t walk_value(walk_t *w, avro_schema_t s, int depth)
{
    int64_t v;
    gs_err_t err;
    if (depth > GS_AVRO_MAX_DEPTH)
        return werr(w, "nesting too deep");
    s = gs_avro_deref(s);
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        return GS_OK;
    case AVRO_BOOLEAN:
        if (w->p >= w->end)
            return werr(w, "truncated boolean");
        if (*w->p > 1)
            return werr(w, "boolean byte is not 0 or 1");
        w->p++;
        return GS_OK;
    case AVRO_INT32:
        if ((err = read_varint(w, &v)))
            return err;
        return v < INT32_MIN || v > INT32_MAX ? werr(w, "int out of range") : GS_OK;
    case AVRO_INT64:
        return read_varint(w, &v);
    case AVRO_FLOAT:
    case AVRO_DOUBLE: {
        size_t sz = avro_typeof(s) == AVRO_FLOAT ? 4 : 8;
        if ((size_t)(w->end - w->p) < sz)
            return werr(w, "truncated floating-point value");
        w->p += sz;
        return GS_OK;
    }
    case AVRO_STRING:
    case AVRO_BYTES:
        return skip_len(w, "negative length");
    case AVRO_FIXED: {
        int64_t sz = avro_schema_fixed_size(s);
        if (sz > w->end - w->p)
            return werr(w, "truncated fixed");
        w->p += sz;
        return GS_OK;
    }
    case AVRO_ENUM:
        if ((err = read_varint(w, &v)))
            return err;
        return v < 0 || v >= avro_schema_enum_number_of_symbols(s)
                   ? werr(w, "enum index out of range")
                   : GS_OK;
    case AVRO_UNION:
        if ((err = read_varint(w, &v)))
            return err;
        if (v < 0 || (size_t)v >= avro_schema_union_size(s))
            return werr(w, "union branch out of range");
        return walk_value(w, avro_schema_union_branch(s, (int)v), depth + 1);
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(s); i++)
            if ((err = walk_value(w, avro_schema_record_field_get_by_index(s, (int)i), depth + 1)))
                return err;
        return GS_OK;
    case AVRO_ARRAY:
        return walk_blocks(w, avro_schema_array_items(s), 0, depth);
    case AVRO_MAP:
        return walk_blocks(w, avro_schema_map_values(s), 1, depth);
    default:
        return werr(w, "unsupported schema type");
    }
}

gs_err_t gs_avro_check(const gs_avro_schema_t *schema, const void *buf, size_t len, char *errstr,
                       size_t n)
{
    walk_t w = {buf, buf, (const uint8_t *)buf + len, errstr, n};
    gs_err_t err = walk_value(&w, schema->schema, 0);
    if (err)
        return err;
    if (w.p != w.end)
        return werr(&w, "trailing bytes after the record");
    return GS_OK;
}

/* ---- resolution -------------------------------------------------------- */

/* Writer type w can be read as reader type r (same kind, or an Avro
 * promotion). Named types must share their unqualified name. */
static int type_matches(avro_schema_t w, avro_schema_t r)
{
    w = gs_avro_deref(w);
    r = gs_avro_deref(r);
    avro_type_t tw = avro_typeof(w), tr = avro_typeof(r);
    if (tw == tr) {
        if (tw == AVRO_RECORD || tw == AVRO_ENUM || tw == AVRO_FIXED)
            return !strcmp(avro_schema_name(w), avro_schema_name(r));
        return 1;
    }
    switch (tw) {
    case AVRO_INT32:
        return tr == AVRO_INT64 || tr == AVRO_FLOAT || tr == AVRO_DOUBLE;
    case AVRO_INT64:
        return tr == AVRO_FLOAT || tr == AVRO_DOUBLE;
    case AVRO_FLOAT:
        return tr == AVRO_DOUBLE;
    case AVRO_STRING:
        return tr == AVRO_BYTES;
    case AVRO_BYTES:
        return tr == AVRO_STRING;
    default:
        return 0;
    }
}

/* Reader union branch for writer type w: exact kind first, then promotion. */
static int union_branch_for(avro_schema_t r_union, avro_schema_t w)
{
    size_t nb = avro_schema_union_size(r_union);
    for (size_t i = 0; i < nb; i++) {
        avro_schema_t b = gs_avro_deref(avro_schema_union_branch(r_union, (int)i));
        if (avro_typeof(b) == avro_typeof(gs_avro_deref(w)) && type_matches(w, b))
            return (int)i;
    }
    for (size_t i = 0; i < nb; i++)
        if (type_matches(w, avro_schema_union_branch(r_union, (int)i)))
            return (int)i;
    return -1;
}

static gs_err_t compat(avro_schema_t w, avro_schema_t r, const gs_avro_schema_t *reader,
                       const char *path, int depth, char *errstr, size_t n)
{
    w = gs_avro_deref(w);
    r = gs_avro_deref(r);
    if (depth > GS_AVRO_MAX_DEPTH)
        return GS_OK; /* recursive schema: the per-value projection decides */
    if (avro_typeof(w) == AVRO_UNION) {
        /* Usable if any writer branch resolves; a value in another branch
         * fails alone, at projection. */
        for (size_t i = 0; i < avro_schema_union_size(w); i++)
            if (!compat(avro_schema_union_branch(w, (int)i), r, reader, path, depth + 1, NULL, 0))
                return GS_OK;
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "%s: no branch of the writer union fits %s", path,
                       avro_schema_type_name(r));
    }
    if (avro_typeof(r) == AVRO_UNION) {
        int b = union_branch_for(r, w);
        if (b < 0)
            return gs_fail(errstr, n, GS_ERR_SCHEMA, "%s: writer type %s is not in the union", path,
                           avro_schema_type_name(w));
        return compat(w, avro_schema_union_branch(r, b), reader, path, depth + 1, errstr, n);
    }
    if (!type_matches(w, r))
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "%s: writer type %s cannot be read as %s", path,
                       avro_schema_type_name(w), avro_schema_type_name(r));
    char sub[256];
    switch (avro_typeof(r)) {
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(r); i++) {
            const char *fname = avro_schema_record_field_name(r, (int)i);
            snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", fname);
            int wi = avro_schema_record_field_get_index(w, fname);
            gs_err_t err;
            if (wi < 0) {
                if (!field_default(reader, r, fname))
                    return gs_fail(errstr, n, GS_ERR_SCHEMA,
                                   "%s: missing in the writer schema and has no default", sub);
                continue;
            }
            if ((err = compat(avro_schema_record_field_get_by_index(w, wi),
                              avro_schema_record_field_get_by_index(r, (int)i), reader, sub,
                              depth + 1, errstr, n)))
                return err;
        }
        return GS_OK;
    case AVRO_ARRAY:
        snprintf(sub, sizeof(sub), "%s[]", path);
        return compat(avro_schema_array_items(w), avro_schema_array_items(r), reader, sub,
                      depth + 1, errstr, n);
    case AVRO_MAP:
        snprintf(sub, sizeof(sub), "%s{}", path);
        return compat(avro_schema_map_values(w), avro_schema_map_values(r), reader, sub, depth + 1,
                      errstr, n);
    case AVRO_FIXED:
        if (avro_schema_fixed_size(w) != avro_schema_fixed_size(r))
            return gs_fail(errstr, n, GS_ERR_SCHEMA, "%s: fixed sizes differ", path);
        return GS_OK;
    default:
        return GS_OK;
    }
}

gs_err_t gs_avro_compatible(const gs_avro_schema_t *writer, const gs_avro_schema_t *reader,
                            char *errstr, size_t n)
{
    return compat(writer->schema, reader->schema, reader, "", 0, errstr, n);
}

/* ---- defaults ---------------------------------------------------------- */

static gs_err_t set_json(avro_value_t *v, json_t *j, const gs_avro_schema_t *reader, char *errstr,
                         size_t n);

/* A record default: each field from the given JSON, else its own default. */
static gs_err_t set_record_defaults(avro_value_t *v, json_t *given, const gs_avro_schema_t *reader,
                                    char *errstr, size_t n)
{
    avro_schema_t rs = gs_avro_deref(avro_value_get_schema(v));
    for (size_t i = 0; i < avro_schema_record_size(rs); i++) {
        const char *fname = avro_schema_record_field_name(rs, (int)i);
        json_t *j = json_object_get(given, fname);
        if (!j)
            j = field_default(reader, rs, fname);
        if (!j) {
            return gs_fail(errstr, n, GS_ERR_SCHEMA, "%s.%s: no value and no default",
                           avro_schema_name(rs), fname);
        }
        avro_value_t f;
        avro_value_get_by_index(v, i, &f, NULL);
        gs_err_t err = set_json(&f, j, reader, errstr, n);
        if (err)
            return err;
    }
    return GS_OK;
}

/* Sets v from a JSON default as the Avro specification encodes them. */
static gs_err_t set_json(avro_value_t *v, json_t *j, const gs_avro_schema_t *reader, char *errstr,
                         size_t n)
{
    avro_schema_t s = gs_avro_deref(avro_value_get_schema(v));
    int rc = 0;
    switch (avro_value_get_type(v)) {
    case AVRO_NULL:
        rc = json_is_null(j) ? avro_value_set_null(v) : EINVAL;
        break;
    case AVRO_BOOLEAN:
        rc = json_is_boolean(j) ? avro_value_set_boolean(v, json_is_true(j)) : EINVAL;
        break;
    case AVRO_INT32:
        rc = json_is_integer(j) ? avro_value_set_int(v, (int32_t)json_integer_value(j)) : EINVAL;
        break;
    case AVRO_INT64:
        rc = json_is_integer(j) ? avro_value_set_long(v, json_integer_value(j)) : EINVAL;
        break;
    case AVRO_FLOAT:
        rc = json_is_number(j) ? avro_value_set_float(v, (float)json_number_value(j)) : EINVAL;
        break;
    case AVRO_DOUBLE:
        rc = json_is_number(j) ? avro_value_set_double(v, json_number_value(j)) : EINVAL;
        break;
    case AVRO_STRING:
        rc = json_is_string(j)
                 ? avro_value_set_string_len(v, json_string_value(j), json_string_length(j) + 1)
                 : EINVAL;
        break;
    case AVRO_BYTES:
    case AVRO_FIXED: {
        /* JSON strings whose code points 0-255 are the bytes. */
        if (!json_is_string(j)) {
            rc = EINVAL;
            break;
        }
        const unsigned char *p = (const unsigned char *)json_string_value(j);
        size_t len = json_string_length(j), k = 0;
        unsigned char *bytes = malloc(len + 1);
        if (!bytes)
            return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < len; i++) {
            if (p[i] < 0x80)
                bytes[k++] = p[i];
            else if ((p[i] == 0xC2 || p[i] == 0xC3) && i + 1 < len)
                bytes[k++] = (unsigned char)(((p[i] & 0x03) << 6) | (p[i + 1] & 0x3F)), i++;
            else
                rc = EINVAL;
        }
        if (!rc)
            rc = avro_value_get_type(v) == AVRO_BYTES      ? avro_value_set_bytes(v, bytes, k)
                 : (int64_t)k == avro_schema_fixed_size(s) ? avro_value_set_fixed(v, bytes, k)
                                                           : EINVAL;
        free(bytes);
        break;
    }
    case AVRO_ENUM: {
        int idx = json_is_string(j) ? avro_schema_enum_get_by_name(s, json_string_value(j)) : -1;
        rc = idx >= 0 ? avro_value_set_enum(v, idx) : EINVAL;
        break;
    }
    case AVRO_ARRAY: {
        if (!json_is_array(j)) {
            rc = EINVAL;
            break;
        }
        avro_value_reset(v);
        size_t i;
        json_t *item;
        json_array_foreach(j, i, item)
        {
            avro_value_t e;
            gs_err_t err;
            if (avro_value_append(v, &e, NULL))
                return gs_fail(errstr, n, GS_ERR_INTERNAL, "%s", avro_strerror());
            if ((err = set_json(&e, item, reader, errstr, n)))
                return err;
        }
        break;
    }
    case AVRO_MAP: {
        if (!json_is_object(j)) {
            rc = EINVAL;
            break;
        }
        avro_value_reset(v);
        const char *key;
        json_t *item;
        json_object_foreach(j, key, item)
        {
            avro_value_t e;
            gs_err_t err;
            if (avro_value_add(v, key, &e, NULL, NULL))
                return gs_fail(errstr, n, GS_ERR_INTERNAL, "%s", avro_strerror());
            if ((err = set_json(&e, item, reader, errstr, n)))
                return err;
        }
        break;
    }
    case AVRO_UNION: { /* a union's default is a value of its first branch */
        avro_value_t b;
        if (avro_value_set_branch(v, 0, &b))
            return gs_fail(errstr, n, GS_ERR_INTERNAL, "%s", avro_strerror());
        return set_json(&b, j, reader, errstr, n);
    }
    case AVRO_RECORD:
        if (!json_is_object(j)) {
            rc = EINVAL;
            break;
        }
        return set_record_defaults(v, j, reader, errstr, n);
    default:
        rc = EINVAL;
    }
    if (rc)
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "default does not fit type %s",
                       avro_schema_type_name(s));
    return GS_OK;
}

/* ---- projection -------------------------------------------------------- */

static gs_err_t project(avro_value_t *src, avro_value_t *dst, const gs_avro_schema_t *reader,
                        int depth, char *errstr, size_t n)
{
    if (depth > GS_AVRO_MAX_DEPTH)
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "value nested too deeply");
    avro_type_t ts = avro_value_get_type(src), td = avro_value_get_type(dst);
    avro_schema_t ss = gs_avro_deref(avro_value_get_schema(src)),
                  ds = gs_avro_deref(avro_value_get_schema(dst));
    avro_value_t a, b;
    int rc = 0;

    if (ts == AVRO_UNION) {
        if (avro_value_get_current_branch(src, &a))
            return gs_fail(errstr, n, GS_ERR_DECODE, "union without a branch");
        return project(&a, dst, reader, depth + 1, errstr, n);
    }
    if (td == AVRO_UNION) {
        int bi = union_branch_for(ds, ss);
        if (bi < 0)
            return gs_fail(errstr, n, GS_ERR_SCHEMA, "writer type %s is not in reader union",
                           avro_schema_type_name(ss));
        if (avro_value_set_branch(dst, bi, &b))
            return gs_fail(errstr, n, GS_ERR_INTERNAL, "%s", avro_strerror());
        return project(src, &b, reader, depth + 1, errstr, n);
    }
    if (!type_matches(ss, ds))
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "writer type %s cannot be read as %s",
                       avro_schema_type_name(ss), avro_schema_type_name(ds));
    switch (td) {
    case AVRO_NULL:
        rc = avro_value_set_null(dst);
        break;
    case AVRO_BOOLEAN: {
        int x;
        rc = avro_value_get_boolean(src, &x) || avro_value_set_boolean(dst, x);
        break;
    }
    case AVRO_INT32: {
        int32_t x;
        rc = avro_value_get_int(src, &x) || avro_value_set_int(dst, x);
        break;
    }
    case AVRO_INT64:
    case AVRO_FLOAT:
    case AVRO_DOUBLE: {
        double d = 0;
        int64_t l = 0;
        if (ts == AVRO_INT32) {
            int32_t x = 0;
            rc = avro_value_get_int(src, &x);
            l = x, d = x;
        } else if (ts == AVRO_INT64) {
            rc = avro_value_get_long(src, &l);
            d = (double)l;
        } else if (ts == AVRO_FLOAT) {
            float f = 0;
            rc = avro_value_get_float(src, &f);
            d = f;
        } else {
            rc = avro_value_get_double(src, &d);
        }
        if (!rc)
            rc = td == AVRO_INT64   ? avro_value_set_long(dst, l)
                 : td == AVRO_FLOAT ? avro_value_set_float(dst, (float)d)
                                    : avro_value_set_double(dst, d);
        break;
    }
    case AVRO_STRING:
    case AVRO_BYTES: {
        const void *p = NULL;
        size_t len = 0;
        if (ts == AVRO_STRING) {
            const char *s = NULL;
            rc = avro_value_get_string(src, &s, &len);
            p = s, len = len ? len - 1 : 0; /* size includes the NUL */
        } else {
            rc = avro_value_get_bytes(src, &p, &len);
        }
        if (!rc && td == AVRO_STRING) {
            /* set_string_len wants the NUL-terminated size */
            char *tmp = malloc(len + 1);
            if (!tmp)
                return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
            memcpy(tmp, p, len);
            tmp[len] = '\0';
            rc = avro_value_set_string_len(dst, tmp, len + 1);
            free(tmp);
        } else if (!rc) {
            rc = avro_value_set_bytes(dst, (void *)p, len);
        }
        break;
    }
    case AVRO_FIXED: {
        const void *p;
        size_t len;
        rc = avro_value_get_fixed(src, &p, &len) || avro_value_set_fixed(dst, (void *)p, len);
        break;
    }
    case AVRO_ENUM: {
        int idx;
        if (avro_value_get_enum(src, &idx))
            return gs_fail(errstr, n, GS_ERR_DECODE, "%s", avro_strerror());
        const char *sym = avro_schema_enum_get(ss, idx);
        int ridx = sym ? avro_schema_enum_get_by_name(ds, sym) : -1;
        if (ridx < 0)
            return gs_fail(errstr, n, GS_ERR_SCHEMA, "enum %s: symbol %s is unknown to us",
                           avro_schema_name(ds), sym ? sym : "?");
        rc = avro_value_set_enum(dst, ridx);
        break;
    }
    case AVRO_ARRAY: {
        size_t count;
        avro_value_reset(dst);
        rc = avro_value_get_size(src, &count);
        for (size_t i = 0; !rc && i < count; i++) {
            gs_err_t err;
            if (avro_value_get_by_index(src, i, &a, NULL) || avro_value_append(dst, &b, NULL))
                return gs_fail(errstr, n, GS_ERR_INTERNAL, "%s", avro_strerror());
            if ((err = project(&a, &b, reader, depth + 1, errstr, n)))
                return err;
        }
        break;
    }
    case AVRO_MAP: {
        size_t count;
        avro_value_reset(dst);
        rc = avro_value_get_size(src, &count);
        for (size_t i = 0; !rc && i < count; i++) {
            const char *key;
            gs_err_t err;
            if (avro_value_get_by_index(src, i, &a, &key) ||
                avro_value_add(dst, key, &b, NULL, NULL))
                return gs_fail(errstr, n, GS_ERR_INTERNAL, "%s", avro_strerror());
            if ((err = project(&a, &b, reader, depth + 1, errstr, n)))
                return err;
        }
        break;
    }
    case AVRO_RECORD:
        for (size_t i = 0; i < avro_schema_record_size(ds); i++) {
            const char *fname = avro_schema_record_field_name(ds, (int)i);
            gs_err_t err;
            avro_value_get_by_index(dst, i, &b, NULL);
            if (!avro_value_get_by_name(src, fname, &a, NULL)) {
                err = project(&a, &b, reader, depth + 1, errstr, n);
            } else {
                json_t *def = field_default(reader, ds, fname);
                err = def ? set_json(&b, def, reader, errstr, n)
                          : gs_fail(errstr, n, GS_ERR_SCHEMA,
                                    "%s: missing in the writer and has no default", fname);
            }
            if (err)
                return err;
        }
        break;
    default:
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "unsupported type %s", avro_schema_type_name(ds));
    }
    if (rc)
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "projection failed: %s", avro_strerror());
    return GS_OK;
}

gs_err_t gs_avro_project(avro_value_t *src, avro_value_t *dst, const gs_avro_schema_t *reader,
                         char *errstr, size_t n)
{
    return project(src, dst, reader, 0, errstr, n);
}

/* ---- encode / decode --------------------------------------------------- */

/* Reads bytes of schema s into dst with the schema's reused reader. */
static int read_into(gs_avro_schema_t *s, const uint8_t *payload, size_t len, avro_value_t *dst)
{
    if (!s->reader) {
        s->reader = avro_reader_memory((const char *)payload, (int64_t)len);
        if (!s->reader)
            return ENOMEM;
    } else {
        avro_reader_memory_set_source(s->reader, (const char *)payload, (int64_t)len);
    }
    return avro_value_read(s->reader, dst);
}

gs_err_t gs_avro_decode(const uint8_t *payload, size_t len, gs_avro_schema_t *writer,
                        const gs_avro_schema_t *reader, avro_value_t *dst, char *errstr, size_t n)
{
    if (writer->cmp_reader != reader) {
        writer->cmp_reader = reader;
        writer->cmp_equal = writer == reader || avro_schema_equal(writer->schema, reader->schema);
    }
    if (writer->cmp_equal) {
        if (read_into(writer, payload, len, dst))
            return gs_fail(errstr, n, GS_ERR_DECODE, "Avro decode failed: %s", avro_strerror());
        return GS_OK;
    }
    if (!writer->has_scratch) {
        if (avro_generic_value_new(writer->iface, &writer->scratch))
            return gs_fail(errstr, n, GS_ERR_NOMEM, "%s", avro_strerror());
        writer->has_scratch = 1;
    }
    if (read_into(writer, payload, len, &writer->scratch))
        return gs_fail(errstr, n, GS_ERR_DECODE, "Avro decode failed: %s", avro_strerror());
    return project(&writer->scratch, dst, reader, 0, errstr, n);
}

gs_err_t gs_avro_encode(avro_value_t *value, int32_t schema_id, gs_buf_t *out, char *errstr,
                        size_t n)
{
    size_t size;
    if (avro_value_sizeof(value, &size))
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "Avro encode failed: %s", avro_strerror());
    if (gs_avro_begin(out, schema_id) || gs_buf_reserve(out, size))
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    avro_writer_t w = avro_writer_memory((const char *)out->data + out->len, (int64_t)size);
    if (!w)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    int rc = avro_value_write(w, value);
    avro_writer_free(w);
    if (rc)
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "Avro encode failed: %s", avro_strerror());
    out->len += size;
    return GS_OK;
}

gs_err_t gs_avro_schema_plan(gs_avro_schema_t *writer, const gs_avro_type_t *reader,
                             const gs_avro_plan_t **out, char *errstr, size_t n)
{
    size_t i = 0;
    while (i < writer->n_plans && writer->plans[i].reader != reader)
        i++;
    if (i == writer->n_plans) {
        char why[512];
        gs_avro_plan_t *plan = NULL;
        gs_err_t err = gs_avro_plan_new(writer, reader, &plan, why, sizeof(why));
        char *kept = err ? strdup(why) : NULL;
        if (err == GS_ERR_NOMEM || (err && !kept) ||
            gs_grow(&writer->plans, i + 1, sizeof(*writer->plans))) {
            gs_avro_plan_destroy(plan); /* not kept: compiled again next time */
            free(kept);
            return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory compiling a schema plan");
        }
        writer->plans[i] = (struct plan_entry){reader, plan, kept};
        writer->n_plans++;
    }
    if (!writer->plans[i].plan)
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "%s", writer->plans[i].why);
    *out = writer->plans[i].plan;
    return GS_OK;
}

/* ---- framing ----------------------------------------------------------- */

gs_err_t gs_frame_parse(const void *buf, size_t len, gs_framing_t mode, int32_t *schema_id,
                        const uint8_t **payload, size_t *payload_len, char *errstr, size_t n)
{
    const uint8_t *p = buf;
    if (mode == GS_FRAMING_RAW) {
        *schema_id = -1;
        *payload = p;
        *payload_len = len;
        return GS_OK;
    }
    if (len < GS_CONFLUENT_HEADER)
        return gs_fail(errstr, n, GS_ERR_DECODE,
                       "%zu bytes: shorter than the 5-byte Confluent header", len);
    if (p[0] != 0)
        return gs_fail(errstr, n, GS_ERR_DECODE,
                       "wrong magic byte 0x%02x (Confluent framing starts with 0x00)", p[0]);
    *schema_id = (int32_t)((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 |
                           (uint32_t)p[4]);
    *payload = p + GS_CONFLUENT_HEADER;
    *payload_len = len - GS_CONFLUENT_HEADER;
    return GS_OK;
}
