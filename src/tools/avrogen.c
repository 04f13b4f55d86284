/* gs-avrogen - compiles the Avro schemas of schemas/ into C (run by the build).
 *
 *   gs-avrogen SCHEMA_DIR OUT_DIR
 *   gs-avrogen --set NAME CORE_SCHEMA_DIR SCHEMA_DIR OUT_DIR
 *
 * The second form compiles a kind's own schemas that are not the product's
 * (a test-only kind): OUT_DIR/govstream/NAME_schemas.h and NAME_schemas.c,
 * using the shared records of CORE_SCHEMA_DIR/common/ from the core's
 * generated code, with no lookup by name.
 *
 * Reads the shared records of SCHEMA_DIR/common/ and the top-level schemas
 * of SCHEMA_DIR/, and writes OUT_DIR/govstream/schemas.h (a struct per
 * record, a C enum per enum, the decoder and encoder of every top-level
 * schema) and OUT_DIR/schemas.c (the code, the node trees that describe the
 * layout at run time, field defaults as Avro binary, and the schema texts:
 * verbatim and resolved). The layout rules are in include/govstream/avrogen.h.
 *
 * Shared records are defined once, in common/, and used by full name; a
 * top-level schema may not use a record that another top-level schema
 * defines. Outputs are replaced only when their content changes. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    K_NULL,
    K_BOOLEAN,
    K_INT,
    K_LONG,
    K_FLOAT,
    K_DOUBLE,
    K_BYTES,
    K_STRING,
    K_FIXED,
    K_ENUM,
    K_RECORD,
    K_ARRAY,
    K_MAP,
    K_OPTIONAL,
    K__N
} kind_t;

static const char *const prim_names[] = {"null",   "boolean", "int",    "long", "float",
                                         "double", "bytes",   "string", NULL};
static const char *const kind_enum[K__N] = {"NULL",   "BOOLEAN", "INT",    "LONG",    "FLOAT",
                                            "DOUBLE", "BYTES",   "STRING", "FIXED",   "ENUM",
                                            "RECORD", "ARRAY",   "MAP",    "OPTIONAL"};
static const char *const prim_ctype[] = {"",      "bool",   "int32_t",  "int64_t",
                                         "float", "double", "gs_str_t", "gs_str_t"};

typedef struct gtype gtype_t;

typedef struct gfield {
    char *name, *doc;
    gtype_t *type;
    json_t *def; /* NULL: no default */
} gfield_t;

struct gtype {
    char *name, *fullname, *cname; /* named types */
    const char *file;              /* where a named type is defined */
    json_t *json;                  /* a named type's definition */
    char *doc;
    gfield_t *fields;
    size_t n_fields;
    char **symbols;
    size_t n_symbols;
    gtype_t *items; /* array items, map values, optional's value */
    long fixed_size;
    const gtype_t *owner; /* map: the record and field its entry type is named after */
    const char *owner_field;
    int null_first;
    kind_t kind;
    int id; /* node name for anonymous types: node_<id> */
    int emitted;
};

typedef struct schema_file {
    char *name, *path, *text;
    json_t *root;
    gtype_t *type;
    int top;        /* a top-level schema (not common/) */
    char *resolved; /* self-contained text */
} schema_file_t;

static gtype_t prims[K_STRING + 1];
static const char *set_name; /* --set: a kind's own schemas */
static gtype_t **all;        /* every type made, anonymous ones included */
static size_t n_all;
static gtype_t **named;
static size_t n_named;
static const char *current_file;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gs-avrogen: %s: ", current_file ? current_file : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        die("out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s ? s : "");
    if (!p)
        die("out of memory");
    return p;
}

static gtype_t *new_type(kind_t kind)
{
    gtype_t *t = xcalloc(1, sizeof(*t));
    t->kind = kind;
    t->file = current_file;
    t->id = (int)n_all;
    gtype_t **na = realloc(all, (n_all + 1) * sizeof(gtype_t *));
    if (!na)
        die("out of memory");
    all = na;
    all[n_all++] = t;
    return t;
}

/* "DialogueRequest" -> "dialogue_request", "IBANCode" -> "iban_code" */
static char *snake(const char *s)
{
    size_t n = strlen(s);
    char *out = xcalloc(2 * n + 1, 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        int up = isupper((unsigned char)s[i]);
        if (up && i > 0 &&
            (islower((unsigned char)s[i - 1]) || isdigit((unsigned char)s[i - 1]) ||
             (i + 1 < n && islower((unsigned char)s[i + 1]) && isupper((unsigned char)s[i - 1]))))
            *o++ = '_';
        *o++ = (char)tolower((unsigned char)s[i]);
    }
    return out;
}

static char *upper(const char *s)
{
    char *u = xstrdup(s);
    for (char *p = u; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return u;
}

static gtype_t *find_named(const char *fullname)
{
    for (size_t i = 0; i < n_named; i++)
        if (!strcmp(named[i]->fullname, fullname))
            return named[i];
    return NULL;
}

static char *full_name(const char *name, const char *ns)
{
    if (strchr(name, '.') || !ns || !*ns)
        return xstrdup(name);
    char *f = xcalloc(strlen(ns) + strlen(name) + 2, 1);
    sprintf(f, "%s.%s", ns, name);
    return f;
}

static void register_named(gtype_t *t)
{
    gtype_t *old = find_named(t->fullname);
    if (old)
        die("%s is defined twice (also in %s): define a shared record once, in common/",
            t->fullname, old->file);
    for (size_t i = 0; i < n_named; i++)
        if (!strcmp(named[i]->name, t->name))
            die("two types are named %s (%s, %s): C names would collide", t->name,
                named[i]->fullname, t->fullname);
    gtype_t **nn = realloc(named, (n_named + 1) * sizeof(gtype_t *));
    if (!nn)
        die("out of memory");
    named = nn;
    named[n_named++] = t;
}

static gtype_t *parse_type(json_t *j, const char *ns);

static gtype_t *parse_ref(const char *name, const char *ns)
{
    for (int k = 0; prim_names[k]; k++)
        if (!strcmp(name, prim_names[k]))
            return &prims[k];
    char *full = full_name(name, ns);
    gtype_t *t = find_named(full);
    if (!t)
        die("unknown type %s", full);
    if (strcmp(t->file, current_file) != 0 && strstr(t->file, "/common/") == NULL)
        die("uses %s, which %s defines: move shared records to common/", full, t->file);
    free(full);
    return t;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static gtype_t *parse_union(json_t *j, const char *ns)
{
    if (json_array_size(j) != 2)
        die("unions other than [\"null\", T] are not supported");
    json_t *a = json_array_get(j, 0), *b = json_array_get(j, 1);
    int a_null = json_is_string(a) && !strcmp(json_string_value(a), "null");
    int b_null = json_is_string(b) && !strcmp(json_string_value(b), "null");
    if (a_null == b_null)
        die("unions other than [\"null\", T] are not supported");
    gtype_t *t = new_type(K_OPTIONAL);
    t->null_first = a_null;
    t->items = parse_type(a_null ? b : a, ns);
    if (t->items->kind == K_OPTIONAL)
        die("nested unions are not supported");
    return t;
}

static void parse_fields(gtype_t *t, json_t *fields, const char *ns)
{
    if (!json_is_array(fields))
        die("record %s: fields must be an array", t->fullname);
    t->n_fields = json_array_size(fields);
    t->fields = xcalloc(t->n_fields, sizeof(*t->fields));
    for (size_t i = 0; i < t->n_fields; i++) {
        json_t *f = json_array_get(fields, i);
        const char *fname = jstr(f, "name");
        if (!fname)
            die("record %s: a field without a name", t->fullname);
        t->fields[i].name = xstrdup(fname);
        t->fields[i].doc = jstr(f, "doc") ? xstrdup(jstr(f, "doc")) : NULL;
        t->fields[i].type = parse_type(json_object_get(f, "type"), ns);
        t->fields[i].def = json_object_get(f, "default");
        gtype_t *ft = t->fields[i].type;
        if (ft == t)
            die("record %s contains itself", t->fullname);
        if (ft->kind == K_MAP) {
            ft->owner = t;
            ft->owner_field = t->fields[i].name;
        }
    }
}

static gtype_t *parse_named(json_t *j, const char *type, const char *ns)
{
    const char *name = jstr(j, "name");
    if (!name)
        die("a %s without a name", type);
    const char *own_ns = jstr(j, "namespace");
    kind_t k = !strcmp(type, "enum") ? K_ENUM : !strcmp(type, "fixed") ? K_FIXED : K_RECORD;
    gtype_t *t = new_type(k);
    t->fullname = full_name(name, own_ns ? own_ns : ns);
    t->name = xstrdup(strrchr(t->fullname, '.') ? strrchr(t->fullname, '.') + 1 : t->fullname);
    t->cname = snake(t->name);
    t->json = j;
    t->doc = jstr(j, "doc") ? xstrdup(jstr(j, "doc")) : NULL;
    register_named(t);
    char *rec_ns = xstrdup(t->fullname);
    *(strrchr(rec_ns, '.') ? strrchr(rec_ns, '.') : rec_ns) = '\0';
    if (k == K_RECORD) {
        parse_fields(t, json_object_get(j, "fields"), rec_ns);
    } else if (k == K_ENUM) {
        json_t *syms = json_object_get(j, "symbols");
        t->n_symbols = json_array_size(syms);
        if (!t->n_symbols)
            die("enum %s has no symbols", t->fullname);
        t->symbols = xcalloc(t->n_symbols, sizeof(char *));
        for (size_t i = 0; i < t->n_symbols; i++)
            t->symbols[i] = xstrdup(json_string_value(json_array_get(syms, i)));
    } else {
        t->fixed_size = (long)json_integer_value(json_object_get(j, "size"));
        if (t->fixed_size <= 0)
            die("fixed %s: size must be positive", t->fullname);
    }
    free(rec_ns);
    return t;
}

static gtype_t *parse_type(json_t *j, const char *ns)
{
    if (json_is_string(j))
        return parse_ref(json_string_value(j), ns);
    if (json_is_array(j))
        return parse_union(j, ns);
    if (!json_is_object(j))
        die("a type must be a string, an array or an object");
    json_t *tj = json_object_get(j, "type");
    if (!json_is_string(tj))
        return parse_type(tj, ns); /* {"type": {...}} */
    const char *type = json_string_value(tj);
    if (!strcmp(type, "record") || !strcmp(type, "error") || !strcmp(type, "enum") ||
        !strcmp(type, "fixed"))
        return parse_named(j, type, ns);
    if (!strcmp(type, "array") || !strcmp(type, "map")) {
        gtype_t *t = new_type(type[0] == 'a' ? K_ARRAY : K_MAP);
        t->items = parse_type(json_object_get(j, type[0] == 'a' ? "items" : "values"), ns);
        kind_t ik = t->items->kind;
        if (ik == K_ARRAY || ik == K_MAP || ik == K_OPTIONAL || ik == K_NULL)
            die("%s of %s is not supported", type, kind_enum[ik]);
        return t;
    }
    return parse_ref(type, ns); /* a primitive with attributes (logicalType) */
}

/* ---- files ------------------------------------------------------------- */

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot read %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = xcalloc((size_t)n + 1, 1);
    if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)
        die("cannot read %s", path);
    fclose(f);
    return buf;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .avsc files of dir, sorted. */
static char **list_avsc(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    *n = 0;
    if (!d)
        return NULL;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".avsc") != 0)
            continue;
        char **nn = realloc(names, (*n + 1) * sizeof(*nn));
        if (!nn)
            die("out of memory");
        names = nn;
        names[(*n)++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(names, *n, sizeof(*names), cmp_str);
    return names;
}

static void load_file(schema_file_t *sf)
{
    current_file = sf->path;
    sf->text = read_all(sf->path);
    json_error_t je;
    sf->root = json_loads(sf->text, 0, &je);
    if (!sf->root)
        die("not JSON: %s (line %d)", je.text, je.line);
    sf->type = parse_type(sf->root, NULL);
    if (sf->type->kind != K_RECORD && sf->top)
        die("a top-level schema must be a record");
    if (strcmp(sf->type->name, sf->name) != 0)
        die("the file must be named after its type (%s.avsc)", sf->type->name);
}

/* ---- resolved (self-contained) schema texts ----------------------------- */

typedef struct seen {
    const char **names;
    size_t n;
} seen_t;

static int seen_has(const seen_t *s, const char *full)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->names[i], full))
            return 1;
    return 0;
}

static void seen_add(seen_t *s, const char *full)
{
    const char **nn = realloc(s->names, (s->n + 1) * sizeof(*nn));
    if (!nn)
        die("out of memory");
    s->names = nn;
    s->names[s->n++] = full;
}

static json_t *resolve(json_t *j, const char *ns, seen_t *seen, int *changed);

static json_t *resolve_object(json_t *j, const char *ns, seen_t *seen, int *changed)
{
    const char *type = jstr(j, "type");
    char *own_ns = NULL;
    if (type && (!strcmp(type, "record") || !strcmp(type, "error") || !strcmp(type, "enum") ||
                 !strcmp(type, "fixed"))) {
        const char *name = jstr(j, "name");
        char *full = full_name(name ? name : "", jstr(j, "namespace") ? jstr(j, "namespace") : ns);
        gtype_t *t = find_named(full);
        if (!t)
            die("%s: not parsed", full);
        seen_add(seen, t->fullname);
        own_ns = full;
        *(strrchr(own_ns, '.') ? strrchr(own_ns, '.') : own_ns) = '\0';
        ns = own_ns;
    }
    json_t *out = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (!strcmp(key, "type") || !strcmp(key, "items") || !strcmp(key, "values")) {
            json_object_set_new(out, key, resolve(v, ns, seen, changed));
        } else if (!strcmp(key, "fields") && json_is_array(v)) {
            json_t *fs = json_array();
            size_t i;
            json_t *f;
            json_array_foreach(v, i, f)
                json_array_append_new(fs, resolve_object(f, ns, seen, changed));
            json_object_set_new(out, key, fs);
        } else {
            json_object_set(out, key, v);
        }
    }
    free(own_ns);
    return out;
}

static json_t *resolve(json_t *j, const char *ns, seen_t *seen, int *changed)
{
    if (json_is_array(j)) {
        json_t *out = json_array();
        size_t i;
        json_t *b;
        json_array_foreach(j, i, b) json_array_append_new(out, resolve(b, ns, seen, changed));
        return out;
    }
    if (json_is_object(j))
        return resolve_object(j, ns, seen, changed);
    const char *name = json_string_value(j);
    if (!name)
        return json_incref(j);
    for (int k = 0; prim_names[k]; k++)
        if (!strcmp(name, prim_names[k]))
            return json_incref(j);
    char *full = full_name(name, ns);
    gtype_t *t = find_named(full);
    free(full);
    if (!t || seen_has(seen, t->fullname))
        return json_incref(j);
    *changed = 1; /* first use of a shared record: its definition goes here */
    return resolve(t->json, NULL, seen, changed);
}

static void resolve_file(schema_file_t *sf)
{
    seen_t seen = {0};
    int changed = 0;
    json_t *r = resolve(sf->root, NULL, &seen, &changed);
    sf->resolved = changed ? json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER) : xstrdup(sf->text);
    if (!sf->resolved)
        die("out of memory");
    json_decref(r);
    free(seen.names);
}

/* ---- defaults as Avro binary ------------------------------------------- */

typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
} bytes_t;

static void put(bytes_t *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 16;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            die("out of memory");
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void put_long(bytes_t *b, long long v)
{
    unsigned long long z = ((unsigned long long)v << 1) ^ (0 - ((unsigned long long)v >> 63));
    while (z > 0x7f) {
        unsigned char c = (unsigned char)(z | 0x80);
        put(b, &c, 1);
        z >>= 7;
    }
    unsigned char c = (unsigned char)z;
    put(b, &c, 1);
}

static void encode_default(const gtype_t *t, json_t *j, bytes_t *b, const char *what);

static void encode_default_record(const gtype_t *t, json_t *j, bytes_t *b, const char *what)
{
    if (!json_is_object(j))
        die("%s: a record default must be an object", what);
    for (size_t i = 0; i < t->n_fields; i++) {
        json_t *v = json_object_get(j, t->fields[i].name);
        if (!v)
            v = t->fields[i].def;
        if (!v)
            die("%s: no value for field %s", what, t->fields[i].name);
        encode_default(t->fields[i].type, v, b, what);
    }
}

/* Bytes and fixed defaults are JSON strings whose code points 0-255 are
 * the bytes (the Avro specification). */
static void encode_default_bytes(json_t *j, bytes_t *b, long fixed, const char *what)
{
    const unsigned char *s = (const unsigned char *)json_string_value(j);
    if (!s)
        die("%s: a bytes default must be a string", what);
    bytes_t raw = {0};
    for (size_t i = 0; s[i]; i++) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            if ((c != 0xC2 && c != 0xC3) || !s[i + 1])
                die("%s: a bytes default holds a code point above 255", what);
            c = (unsigned char)(((c & 0x03) << 6) | (s[++i] & 0x3F));
        }
        put(&raw, &c, 1);
    }
    if (fixed && (long)raw.n != fixed)
        die("%s: a fixed default must have %ld bytes", what, fixed);
    if (!fixed)
        put_long(b, (long long)raw.n);
    put(b, raw.p, raw.n);
    free(raw.p);
}

static void encode_default(const gtype_t *t, json_t *j, bytes_t *b, const char *what)
{
    switch (t->kind) {
    case K_NULL:
        if (!json_is_null(j))
            die("%s: default must be null", what);
        return;
    case K_BOOLEAN: {
        if (!json_is_boolean(j))
            die("%s: default must be true or false", what);
        unsigned char c = json_is_true(j);
        put(b, &c, 1);
        return;
    }
    case K_INT:
    case K_LONG:
        if (!json_is_integer(j))
            die("%s: default must be an integer", what);
        put_long(b, json_integer_value(j));
        return;
    case K_FLOAT: {
        if (!json_is_number(j))
            die("%s: default must be a number", what);
        float f = (float)json_number_value(j);
        put(b, &f, 4);
        return;
    }
    case K_DOUBLE: {
        if (!json_is_number(j))
            die("%s: default must be a number", what);
        double d = json_number_value(j);
        put(b, &d, 8);
        return;
    }
    case K_STRING:
        if (!json_is_string(j))
            die("%s: default must be a string", what);
        put_long(b, (long long)json_string_length(j));
        put(b, json_string_value(j), json_string_length(j));
        return;
    case K_BYTES:
    case K_FIXED:
        encode_default_bytes(j, b, t->kind == K_FIXED ? t->fixed_size : 0, what);
        return;
    case K_ENUM:
        for (size_t i = 0; i < t->n_symbols; i++)
            if (json_is_string(j) && !strcmp(json_string_value(j), t->symbols[i])) {
                put_long(b, (long long)i);
                return;
            }
        die("%s: default is not a symbol of %s", what, t->fullname);
    case K_RECORD:
        encode_default_record(t, j, b, what);
        return;
    case K_ARRAY:
    case K_MAP: {
        size_t n = json_is_array(j) ? json_array_size(j) : json_object_size(j);
        if (t->kind == K_ARRAY ? !json_is_array(j) : !json_is_object(j))
            die("%s: default must be a JSON %s", what, t->kind == K_ARRAY ? "array" : "object");
        if (n) {
            put_long(b, (long long)n);
            if (t->kind == K_ARRAY) {
                size_t i;
                json_t *v;
                json_array_foreach(j, i, v) encode_default(t->items, v, b, what);
            } else {
                const char *k;
                json_t *v;
                json_object_foreach(j, k, v)
                {
                    put_long(b, (long long)strlen(k));
                    put(b, k, strlen(k));
                    encode_default(t->items, v, b, what);
                }
            }
        }
        put_long(b, 0);
        return;
    }
    case K_OPTIONAL: /* the default is a value of the first branch */
        put_long(b, 0);
        if (t->null_first)
            encode_default(&prims[K_NULL], j, b, what);
        else
            encode_default(t->items, j, b, what);
        return;
    default:
        die("%s: unsupported default", what);
    }
}

/* ---- C declarations ---------------------------------------------------- */

typedef struct out {
    FILE *h, *c;
} out_t;

static const char *ctype(const gtype_t *t, char *buf, size_t n)
{
    if (t->kind <= K_STRING)
        return prim_ctype[t->kind];
    if (t->kind == K_FIXED)
        return "gs_str_t";
    snprintf(buf, n, "gs_avro_%s_t", t->cname);
    return buf;
}

static void comment(FILE *f, const char *doc, const char *indent)
{
    if (!doc || !*doc)
        return;
    fprintf(f, "%s/* ", indent);
    for (const char *p = doc; *p; p++) {
        if (p[0] == '*' && p[1] == '/')
            fputs("* /", f), p++;
        else
            fputc(*p, f);
    }
    fprintf(f, " */\n");
}

static void emit_decl(out_t *o, gtype_t *t);

static void map_entry_name(const gtype_t *m, char *buf, size_t n)
{
    snprintf(buf, n, "gs_avro_%s_%s_entry_t", m->owner->cname, m->owner_field);
}

static void emit_field_decl(out_t *o, const gfield_t *f)
{
    const gtype_t *t = f->type;
    char b[256], e[256];
    comment(o->h, f->doc, "    ");
    if (t->kind == K_OPTIONAL) {
        fprintf(o->h, "    bool has_%s;\n", f->name);
        t = t->items;
    }
    if (t->kind == K_ARRAY)
        fprintf(o->h, "    %s *%s;\n    size_t n_%s;\n", ctype(t->items, b, sizeof(b)), f->name,
                f->name);
    else if (t->kind == K_MAP)
        map_entry_name(t, e, sizeof(e)),
            fprintf(o->h, "    %s *%s;\n    size_t n_%s;\n", e, f->name, f->name);
    else
        fprintf(o->h, "    %s %s;\n", ctype(t, b, sizeof(b)), f->name);
}

/* Types a record needs declared before it. */
static void emit_deps(out_t *o, gtype_t *t)
{
    if (t->kind == K_ENUM || t->kind == K_RECORD) {
        emit_decl(o, t);
    } else if (t->kind == K_ARRAY || t->kind == K_OPTIONAL) {
        emit_deps(o, t->items);
    } else if (t->kind == K_MAP) {
        emit_deps(o, t->items);
        char b[256], e[256];
        map_entry_name(t, e, sizeof(e));
        fprintf(o->h, "typedef struct {\n    gs_str_t key;\n    %s value;\n} %s;\n\n",
                ctype(t->items, b, sizeof(b)), e);
    }
}

static void emit_decl(out_t *o, gtype_t *t)
{
    if (t->emitted)
        return;
    t->emitted = 1;
    char *up = upper(t->cname);
    if (t->kind == K_ENUM) {
        comment(o->h, t->doc, "");
        fprintf(o->h, "typedef enum gs_avro_%s {\n", t->cname);
        for (size_t i = 0; i < t->n_symbols; i++)
            fprintf(o->h, "    GS_AVRO_%s_%s = %zu,\n", up, t->symbols[i], i);
        fprintf(o->h, "} gs_avro_%s_t;\n#define GS_AVRO_%s__COUNT %zu\n", t->cname, up,
                t->n_symbols);
        fprintf(o->h, "_Static_assert(sizeof(gs_avro_%s_t) == sizeof(int), \"enums are ints\");\n",
                t->cname);
        fprintf(o->h, "extern const gs_avro_node_t gs_avro_node_%s;\n\n", t->cname);
    } else if (t->kind == K_RECORD) {
        for (size_t i = 0; i < t->n_fields; i++)
            emit_deps(o, t->fields[i].type);
        comment(o->h, t->doc, "");
        fprintf(o->h, "typedef struct gs_avro_%s {\n", t->cname);
        for (size_t i = 0; i < t->n_fields; i++)
            emit_field_decl(o, &t->fields[i]);
        fprintf(o->h, "} gs_avro_%s_t;\n", t->cname);
        fprintf(o->h, "extern const gs_avro_node_t gs_avro_node_%s;\n\n", t->cname);
    }
    free(up);
}

/* ---- node trees -------------------------------------------------------- */

static void node_ref(const gtype_t *t, char *buf, size_t n)
{
    if (t->kind <= K_STRING)
        snprintf(buf, n, "gs_avro_node_%s", prim_names[t->kind]);
    else if (t->kind == K_ENUM || t->kind == K_RECORD)
        snprintf(buf, n, "gs_avro_node_%s", t->cname);
    else
        snprintf(buf, n, "node_%d", t->id);
}

static unsigned min_bytes(const gtype_t *t)
{
    switch (t->kind) {
    case K_NULL:
        return 0;
    case K_FLOAT:
        return 4;
    case K_DOUBLE:
        return 8;
    case K_FIXED:
        return (unsigned)t->fixed_size;
    case K_RECORD: {
        unsigned s = 0;
        for (size_t i = 0; i < t->n_fields; i++)
            s += min_bytes(t->fields[i].type);
        return s;
    }
    default:
        return 1;
    }
}

static void emit_fields_table(out_t *o, const gtype_t *t)
{
    fprintf(o->c, "static const gs_avro_field_t fields_%s[] = {\n", t->cname);
    for (size_t i = 0; i < t->n_fields; i++) {
        const gfield_t *f = &t->fields[i];
        const gtype_t *v = f->type->kind == K_OPTIONAL ? f->type->items : f->type;
        char ref[128];
        node_ref(f->type, ref, sizeof(ref));
        fprintf(o->c, "    {.name = \"%s\", .type = &%s, .offset = offsetof(gs_avro_%s_t, %s)",
                f->name, ref, t->cname, f->name);
        if (v->kind == K_ARRAY || v->kind == K_MAP)
            fprintf(o->c, ", .count = offsetof(gs_avro_%s_t, n_%s)", t->cname, f->name);
        if (f->type->kind == K_OPTIONAL)
            fprintf(o->c, ", .has = offsetof(gs_avro_%s_t, has_%s)", t->cname, f->name);
        if (f->def) {
            bytes_t b = {0};
            char what[256];
            snprintf(what, sizeof(what), "%s.%s", t->fullname, f->name);
            encode_default(f->type, f->def, &b, what);
            fprintf(o->c, ",\n     .def = (const uint8_t *)\"");
            for (size_t k = 0; k < b.n; k++)
                fprintf(o->c, "\\x%02x", b.p[k]);
            fprintf(o->c, "\", .def_len = %zu", b.n);
            free(b.p);
        }
        fprintf(o->c, "},\n");
    }
    fprintf(o->c, "};\n");
}

static void emit_node(out_t *o, const gtype_t *t)
{
    char ref[128], items[128], e[256];
    node_ref(t, ref, sizeof(ref));
    int exported = t->kind == K_ENUM || t->kind == K_RECORD;
    if (t->kind == K_RECORD)
        emit_fields_table(o, t);
    if (t->kind == K_ENUM) {
        fprintf(o->c, "static const char *const symbols_%s[] = {", t->cname);
        for (size_t i = 0; i < t->n_symbols; i++)
            fprintf(o->c, "%s\"%s\"", i ? ", " : "", t->symbols[i]);
        fprintf(o->c, "};\n");
    }
    fprintf(o->c, "%sconst gs_avro_node_t %s = {\n    .kind = GS_AVRO_T_%s, .min_bytes = %u,\n",
            exported ? "" : "static ", ref, kind_enum[t->kind], min_bytes(t));
    if (t->fullname)
        fprintf(o->c, "    .name = \"%s\",\n", t->fullname);
    switch (t->kind) {
    case K_RECORD:
        fprintf(o->c, "    .size = sizeof(gs_avro_%s_t), .fields = fields_%s, .n_fields = %zu,\n",
                t->cname, t->cname, t->n_fields);
        break;
    case K_ENUM:
        fprintf(o->c,
                "    .size = sizeof(gs_avro_%s_t), .symbols = symbols_%s, .n_symbols = %zu,\n",
                t->cname, t->cname, t->n_symbols);
        break;
    case K_FIXED:
        fprintf(o->c, "    .size = sizeof(gs_str_t), .fixed_size = %ld,\n", t->fixed_size);
        break;
    case K_ARRAY:
        node_ref(t->items, items, sizeof(items));
        fprintf(o->c, "    .size = sizeof(void *), .items = &%s,\n", items);
        break;
    case K_MAP:
        node_ref(t->items, items, sizeof(items));
        map_entry_name(t, e, sizeof(e));
        fprintf(o->c,
                "    .size = sizeof(void *), .items = &%s, .entry_size = sizeof(%s),\n"
                "    .value_offset = offsetof(%s, value),\n",
                items, e, e);
        break;
    case K_OPTIONAL:
        node_ref(t->items, items, sizeof(items));
        fprintf(o->c, "    .size = %u, .items = &%s, .null_first = %d,\n", 0u, items,
                t->null_first);
        break;
    case K_NULL:
        break;
    default:
        fprintf(o->c, "    .size = sizeof(%s),\n", prim_ctype[t->kind]);
        break;
    }
    fprintf(o->c, "};\n\n");
}

/* ---- decoders and encoders -------------------------------------------- */

static void ind(FILE *f, int n)
{
    fprintf(f, "%*s", 4 * n, "");
}

static void emit_read(FILE *f, const gtype_t *t, const char *lv, const char *cnt, const char *has,
                      int d, int in_);

static void emit_read_blocks(FILE *f, const gtype_t *t, const char *lv, const char *cnt, int d,
                             int in_)
{
    char b[256], it[64], sub[96], key[96];
    const char *item_type =
        t->kind == K_MAP ? (map_entry_name(t, b, sizeof(b)), b) : ctype(t->items, b, sizeof(b));
    if (!cnt)
        die("an array or map outside a record field");
    snprintf(it, sizeof(it), "it%d", d);
    ind(f, in_), fprintf(f, "%s = NULL;\n", lv);
    ind(f, in_), fprintf(f, "%s = 0;\n", cnt);
    ind(f, in_), fprintf(f, "for (;;) {\n");
    ind(f, in_ + 1), fprintf(f, "int64_t c%d = 0;\n", d);
    ind(f, in_ + 1), fprintf(f, "if (gs_avro_get_block(in, &c%d, %u))\n", d,
                             t->kind == K_MAP ? 1 + min_bytes(t->items) : min_bytes(t->items));
    ind(f, in_ + 2), fprintf(f, "return -1;\n");
    ind(f, in_ + 1), fprintf(f, "if (!c%d)\n", d);
    ind(f, in_ + 2), fprintf(f, "break;\n");
    ind(f, in_ + 1), fprintf(f, "void *base%d = %s;\n", d, lv);
    ind(f, in_ + 1),
        fprintf(f, "%s *%s = gs_avro_extend(in, &base%d, &%s, (size_t)c%d, sizeof(%s));\n",
                item_type, it, d, cnt, d, item_type);
    ind(f, in_ + 1), fprintf(f, "if (!%s)\n", it);
    ind(f, in_ + 2), fprintf(f, "return -1;\n");
    ind(f, in_ + 1), fprintf(f, "%s = base%d;\n", lv, d);
    ind(f, in_ + 1), fprintf(f, "for (int64_t i%d = 0; i%d < c%d; i%d++) {\n", d, d, d, d);
    if (t->kind == K_MAP) {
        snprintf(key, sizeof(key), "%s[i%d].key", it, d);
        emit_read(f, &prims[K_STRING], key, NULL, NULL, d + 1, in_ + 2);
        snprintf(sub, sizeof(sub), "%s[i%d].value", it, d);
    } else {
        snprintf(sub, sizeof(sub), "%s[i%d]", it, d);
    }
    emit_read(f, t->items, sub, NULL, NULL, d + 1, in_ + 2);
    ind(f, in_ + 1), fprintf(f, "}\n");
    ind(f, in_), fprintf(f, "}\n");
}

static void emit_read(FILE *f, const gtype_t *t, const char *lv, const char *cnt, const char *has,
                      int d, int in_)
{
    static const char *const getter[] = {
        [K_BOOLEAN] = "boolean", [K_INT] = "int",     [K_LONG] = "long",   [K_FLOAT] = "float",
        [K_DOUBLE] = "double",   [K_BYTES] = "bytes", [K_STRING] = "bytes"};
    char b[256];
    switch (t->kind) {
    case K_NULL:
        return;
    case K_BOOLEAN:
    case K_INT:
    case K_LONG:
    case K_FLOAT:
    case K_DOUBLE:
    case K_BYTES:
    case K_STRING:
        ind(f, in_), fprintf(f, "if (gs_avro_get_%s(in, &%s))\n", getter[t->kind], lv);
        ind(f, in_ + 1), fprintf(f, "return -1;\n");
        return;
    case K_FIXED:
        ind(f, in_), fprintf(f, "if (gs_avro_get_fixed(in, &%s, %ld))\n", lv, t->fixed_size);
        ind(f, in_ + 1), fprintf(f, "return -1;\n");
        return;
    case K_ENUM:
        ind(f, in_), fprintf(f, "{\n");
        ind(f, in_ + 1), fprintf(f, "int e%d;\n", d);
        ind(f, in_ + 1),
            fprintf(f, "if (gs_avro_get_index(in, &e%d, %zu, \"enum index out of range\"))\n", d,
                    t->n_symbols);
        ind(f, in_ + 2), fprintf(f, "return -1;\n");
        ind(f, in_ + 1), fprintf(f, "%s = (%s)e%d;\n", lv, ctype(t, b, sizeof(b)), d);
        ind(f, in_), fprintf(f, "}\n");
        return;
    case K_RECORD:
        ind(f, in_), fprintf(f, "if (dec_%s(in, &%s))\n", t->cname, lv);
        ind(f, in_ + 1), fprintf(f, "return -1;\n");
        return;
    case K_ARRAY:
    case K_MAP:
        emit_read_blocks(f, t, lv, cnt, d, in_);
        return;
    case K_OPTIONAL:
        ind(f, in_), fprintf(f, "{\n");
        ind(f, in_ + 1), fprintf(f, "int b%d;\n", d);
        ind(f, in_ + 1),
            fprintf(f, "if (gs_avro_get_index(in, &b%d, 2, \"union branch out of range\"))\n", d);
        ind(f, in_ + 2), fprintf(f, "return -1;\n");
        ind(f, in_ + 1), fprintf(f, "%s = b%d == %d;\n", has, d, t->null_first);
        ind(f, in_ + 1), fprintf(f, "if (%s) {\n", has);
        emit_read(f, t->items, lv, cnt, NULL, d + 1, in_ + 2);
        ind(f, in_ + 1), fprintf(f, "} else {\n");
        if (t->items->kind == K_ARRAY || t->items->kind == K_MAP) {
            ind(f, in_ + 2), fprintf(f, "%s = NULL;\n", lv);
            ind(f, in_ + 2), fprintf(f, "%s = 0;\n", cnt);
        } else {
            ind(f, in_ + 2), fprintf(f, "memset(&%s, 0, sizeof(%s));\n", lv, lv);
        }
        ind(f, in_ + 1), fprintf(f, "}\n");
        ind(f, in_), fprintf(f, "}\n");
        return;
    default:
        die("cannot decode kind %d", t->kind);
    }
}

static void emit_write(FILE *f, const gtype_t *t, const char *rv, const char *cnt, const char *has,
                       int d, int in_)
{
    static const char *const putter[] = {
        [K_BOOLEAN] = "boolean", [K_INT] = "long",    [K_LONG] = "long",   [K_FLOAT] = "float",
        [K_DOUBLE] = "double",   [K_BYTES] = "bytes", [K_STRING] = "bytes"};
    char sub[128], key[128];
    switch (t->kind) {
    case K_NULL:
        return;
    case K_BOOLEAN:
    case K_INT:
    case K_LONG:
    case K_FLOAT:
    case K_DOUBLE:
    case K_BYTES:
    case K_STRING:
        ind(f, in_), fprintf(f, "if (gs_avro_put_%s(b, %s))\n", putter[t->kind], rv);
        ind(f, in_ + 1), fprintf(f, "return -1;\n");
        return;
    case K_FIXED: /* exactly its size: shorter views are padded with zeros */
        ind(f, in_), fprintf(f, "if (gs_avro_put_fixed(b, %s, %ld))\n", rv, t->fixed_size);
        ind(f, in_ + 1), fprintf(f, "return -1;\n");
        return;
    case K_ENUM:
        ind(f, in_), fprintf(f, "if (gs_avro_put_long(b, (int64_t)%s))\n", rv);
        ind(f, in_ + 1), fprintf(f, "return -1;\n");
        return;
    case K_RECORD:
        ind(f, in_), fprintf(f, "if (enc_%s(b, &%s))\n", t->cname, rv);
        ind(f, in_ + 1), fprintf(f, "return -1;\n");
        return;
    case K_ARRAY:
    case K_MAP:
        ind(f, in_), fprintf(f, "if (%s) {\n", cnt);
        ind(f, in_ + 1), fprintf(f, "if (gs_avro_put_long(b, (int64_t)%s))\n", cnt);
        ind(f, in_ + 2), fprintf(f, "return -1;\n");
        ind(f, in_ + 1), fprintf(f, "for (size_t i%d = 0; i%d < %s; i%d++) {\n", d, d, cnt, d);
        if (t->kind == K_MAP) {
            snprintf(key, sizeof(key), "%s[i%d].key", rv, d);
            emit_write(f, &prims[K_STRING], key, NULL, NULL, d + 1, in_ + 2);
            snprintf(sub, sizeof(sub), "%s[i%d].value", rv, d);
        } else {
            snprintf(sub, sizeof(sub), "%s[i%d]", rv, d);
        }
        emit_write(f, t->items, sub, NULL, NULL, d + 1, in_ + 2);
        ind(f, in_ + 1), fprintf(f, "}\n");
        ind(f, in_), fprintf(f, "}\n");
        ind(f, in_), fprintf(f, "if (gs_avro_put_long(b, 0))\n");
        ind(f, in_ + 1), fprintf(f, "return -1;\n");
        return;
    case K_OPTIONAL:
        ind(f, in_), fprintf(f, "if (%s) {\n", has);
        ind(f, in_ + 1), fprintf(f, "if (gs_avro_put_long(b, %d))\n", t->null_first);
        ind(f, in_ + 2), fprintf(f, "return -1;\n");
        emit_write(f, t->items, rv, cnt, NULL, d + 1, in_ + 1);
        ind(f, in_), fprintf(f, "} else if (gs_avro_put_long(b, %d)) {\n", !t->null_first);
        ind(f, in_ + 1), fprintf(f, "return -1;\n");
        ind(f, in_), fprintf(f, "}\n");
        return;
    default:
        die("cannot encode kind %d", t->kind);
    }
}

static void emit_codec(out_t *o, const gtype_t *t)
{
    char lv[128], cnt[128], has[128];
    fprintf(o->c, "static int dec_%s(gs_avro_in_t *in, gs_avro_%s_t *v)\n{\n", t->cname, t->cname);
    for (size_t i = 0; i < t->n_fields; i++) {
        const char *n = t->fields[i].name;
        snprintf(lv, sizeof(lv), "v->%s", n);
        snprintf(cnt, sizeof(cnt), "v->n_%s", n);
        snprintf(has, sizeof(has), "v->has_%s", n);
        emit_read(o->c, t->fields[i].type, lv, cnt, has, 1, 1);
    }
    fprintf(o->c, "    return 0;\n}\n\n");
    fprintf(o->c, "static int enc_%s(gs_buf_t *b, const gs_avro_%s_t *v)\n{\n", t->cname, t->cname);
    for (size_t i = 0; i < t->n_fields; i++) {
        const char *n = t->fields[i].name;
        snprintf(lv, sizeof(lv), "v->%s", n);
        snprintf(cnt, sizeof(cnt), "v->n_%s", n);
        snprintf(has, sizeof(has), "v->has_%s", n);
        emit_write(o->c, t->fields[i].type, lv, cnt, has, 1, 1);
    }
    fprintf(o->c, "    return 0;\n}\n\n");
}

/* Records in the order their codecs must appear (callees first). */
static void emit_codecs(out_t *o, gtype_t *t, int *done)
{
    if (t->kind == K_ARRAY || t->kind == K_MAP || t->kind == K_OPTIONAL) {
        emit_codecs(o, t->items, done);
        return;
    }
    if (t->kind != K_RECORD || done[t->id])
        return;
    done[t->id] = 1;
    for (size_t i = 0; i < t->n_fields; i++)
        emit_codecs(o, t->fields[i].type, done);
    emit_codec(o, t);
}

static void emit_top(out_t *o, const schema_file_t *sf)
{
    const char *c = sf->type->cname;
    fprintf(o->h,
            "extern const gs_avro_type_t gs_avro_type_%s;\n"
            "gs_err_t gs_avro_%s_decode(const uint8_t *buf, size_t len, gs_arena_t *arena,\n"
            "                          gs_avro_%s_t *out, char *errstr, size_t errstr_size);\n"
            "gs_err_t gs_avro_%s_encode(const gs_avro_%s_t *v, int32_t schema_id, gs_buf_t *out,\n"
            "                          char *errstr, size_t errstr_size);\n\n",
            c, c, c, c, c);
    fprintf(o->c,
            "gs_err_t gs_avro_%s_decode(const uint8_t *buf, size_t len, gs_arena_t *arena,\n"
            "                          gs_avro_%s_t *out, char *errstr, size_t errstr_size)\n{\n"
            "    gs_avro_in_t in = GS_AVRO_IN(buf, len, arena);\n"
            "    if (dec_%s(&in, out) || gs_avro_end(&in))\n"
            "        return gs_avro_in_fail(&in, errstr, errstr_size);\n"
            "    return GS_OK;\n}\n\n",
            c, c, c);
    fprintf(o->c,
            "gs_err_t gs_avro_%s_encode(const gs_avro_%s_t *v, int32_t schema_id, gs_buf_t *out,\n"
            "                          char *errstr, size_t errstr_size)\n{\n"
            "    if (gs_avro_begin(out, schema_id) || enc_%s(out, v))\n"
            "        return gs_fail(errstr, errstr_size, GS_ERR_NOMEM, \"%s: out of memory\");\n"
            "    return GS_OK;\n}\n\n",
            c, c, c, sf->name);
    fprintf(o->c,
            "static gs_err_t decode_%s(const uint8_t *buf, size_t len, gs_arena_t *arena, "
            "void *out,\n                         char *errstr, size_t errstr_size)\n{\n"
            "    return gs_avro_%s_decode(buf, len, arena, out, errstr, errstr_size);\n}\n\n"
            "static gs_err_t encode_%s(const void *v, int32_t schema_id, gs_buf_t *out, "
            "char *errstr,\n                         size_t errstr_size)\n{\n"
            "    return gs_avro_%s_encode(v, schema_id, out, errstr, errstr_size);\n}\n\n"
            "const gs_avro_type_t gs_avro_type_%s = {\n"
            "    .name = \"%s\",\n    .text = text_%s,\n    .schema = resolved_%s,\n"
            "    .node = &gs_avro_node_%s,\n    .decode = decode_%s,\n    .encode = encode_%s,\n"
            "};\n\n",
            c, c, c, c, c, sf->name, c, c, c, c, c);
}

static void emit_string(FILE *f, const char *s)
{
    fputc('"', f);
    size_t col = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n') {
            fputs("\\n\"\n    \"", f);
            col = 0;
            continue;
        }
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(f, "\\%03o", *p);
        else
            fputc(*p, f);
        if (++col > 100) {
            fputs("\"\n    \"", f);
            col = 0;
        }
    }
    fputc('"', f);
}

/* The schema texts, before the types that point at them. */
static void emit_text_arrays(out_t *o, schema_file_t *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!files[i].top && set_name)
            continue; /* the core's shared records */
        const char *c = files[i].type->cname;
        fprintf(o->c, "static const char text_%s[] =\n    ", c);
        emit_string(o->c, files[i].text);
        fprintf(o->c, ";\nstatic const char resolved_%s[] =\n    ", c);
        emit_string(o->c, files[i].resolved);
        fprintf(o->c, ";\n\n");
    }
}

/* The core's lookup by name (the generated set of a test kind has none). */
static void emit_lookup(out_t *o, schema_file_t *files, size_t n)
{
    fprintf(o->c, "static const struct {\n    const char *name, *text, *resolved;\n"
                  "    const gs_avro_type_t *type; /* top-level schemas */\n} schemas[] = {\n");
    for (int top = 1; top >= 0; top--) /* top-level ones first: gs_schema_name */
        for (size_t i = 0; i < n; i++) {
            if (files[i].top != top)
                continue;
            const char *c = files[i].type->cname;
            fprintf(o->c, "    {\"%s\", text_%s, resolved_%s, %s%s},\n", files[i].name, c, c,
                    top ? "&gs_avro_type_" : "NULL", top ? c : "");
        }
    fprintf(o->c, "};\n#define N_SCHEMAS (sizeof(schemas) / sizeof(schemas[0]))\n\n");
    fprintf(o->c, "static int find(const char *name)\n{\n"
                  "    for (size_t i = 0; i < N_SCHEMAS; i++)\n"
                  "        if (!strcmp(schemas[i].name, name))\n            return (int)i;\n"
                  "    return -1;\n}\n\n"
                  "const char *gs_schema_text(const char *name)\n{\n"
                  "    int i = find(name);\n    return i < 0 ? NULL : schemas[i].text;\n}\n\n"
                  "const char *gs_schema_resolved(const char *name)\n{\n"
                  "    int i = find(name);\n    return i < 0 ? NULL : schemas[i].resolved;\n}\n\n"
                  "const char *gs_schema_name(size_t i)\n{\n"
                  "    return i < N_SCHEMAS && schemas[i].type ? schemas[i].name : NULL;\n}\n\n"
                  "const gs_avro_type_t *gs_avro_type(const char *name)\n{\n"
                  "    int i = find(name);\n    return i < 0 ? NULL : schemas[i].type;\n}\n");
}

/* ---- main -------------------------------------------------------------- */

static void load_dir(const char *dir, int top, schema_file_t **files, size_t *n)
{
    size_t count;
    char **names = list_avsc(dir, &count);
    for (size_t i = 0; i < count; i++) {
        schema_file_t *nf = realloc(*files, (*n + 1) * sizeof(*nf));
        if (!nf)
            die("out of memory");
        *files = nf;
        schema_file_t *sf = &(*files)[(*n)++];
        *sf = (schema_file_t){.top = top};
        sf->path = xcalloc(strlen(dir) + strlen(names[i]) + 2, 1);
        sprintf(sf->path, "%s/%s", dir, names[i]);
        names[i][strlen(names[i]) - 5] = '\0';
        sf->name = names[i];
        load_file(sf);
    }
    free(names);
}

/* Writes path only when its content changes, so the build does not redo
 * what depends on it. */
static void commit(const char *tmp, const char *path)
{
    char *a = read_all(tmp);
    FILE *f = fopen(path, "rb");
    char *b = f ? (fclose(f), read_all(path)) : NULL;
    if (b && !strcmp(a, b))
        remove(tmp);
    else if (rename(tmp, path))
        die("cannot write %s: %s", path, strerror(errno));
    free(a);
    free(b);
}

static FILE *open_out(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write %s: %s", path, strerror(errno));
    return f;
}

/* In --set mode the shared records are the core's: declared and defined there. */
static int external(const gtype_t *t)
{
    return set_name && t->file && strstr(t->file, "/common/");
}

static void emit_all(out_t *o, schema_file_t *files, size_t n)
{
    char *guard = upper(set_name ? set_name : "");
    fprintf(o->h,
            "/* Generated by gs-avrogen - do not edit. */\n"
            "#ifndef GOVSTREAM_%s_SCHEMAS_H\n#define GOVSTREAM_%s_SCHEMAS_H\n\n"
            "#include \"govstream/%s.h\"\n\n",
            guard, guard, set_name ? "schemas" : "avrogen");
    fprintf(o->c,
            "/* Generated by gs-avrogen - do not edit. */\n"
            "#include <stddef.h>\n#include <string.h>\n\n"
            "#include \"govstream/%s%sschemas.h\"\n\n",
            set_name ? set_name : "", set_name ? "_" : "");
    free(guard);
    for (size_t i = 0; i < n; i++)
        if (external(files[i].type))
            files[i].type->emitted = 1;
    for (size_t i = 0; i < n; i++)
        emit_decl(o, files[i].type);
    for (size_t i = 0; i < n_all; i++) /* forward declarations: nodes refer to each other */
        if (all[i]->kind > K_STRING && all[i]->kind != K_ENUM && all[i]->kind != K_RECORD &&
            !external(all[i]))
            fprintf(o->c, "static const gs_avro_node_t node_%d;\n", all[i]->id);
    fprintf(o->c, "\n");
    for (size_t i = 0; i < n_all; i++)
        if (!external(all[i]))
            emit_node(o, all[i]);
    emit_text_arrays(o, files, n);
    int *done = xcalloc(n_all, sizeof(int));
    for (size_t i = 0; i < n; i++)
        if (files[i].top) {
            emit_codecs(o, files[i].type, done);
            emit_top(o, &files[i]);
        }
    free(done);
    if (!set_name)
        emit_lookup(o, files, n);
    fprintf(o->h, "#endif\n");
}

int main(int argc, char **argv)
{
    const char *core_dir, *dir, *out_dir;
    if (argc == 6 && !strcmp(argv[1], "--set")) {
        set_name = argv[2];
        core_dir = argv[3], dir = argv[4], out_dir = argv[5];
    } else if (argc == 3) {
        core_dir = dir = argv[1], out_dir = argv[2];
    } else {
        fprintf(stderr, "usage: gs-avrogen SCHEMA_DIR OUT_DIR\n"
                        "       gs-avrogen --set NAME CORE_SCHEMA_DIR SCHEMA_DIR OUT_DIR\n");
        return 2;
    }
    for (int k = K_NULL; k <= K_STRING; k++)
        prims[k] = (gtype_t){.kind = (kind_t)k, .id = -1};
    schema_file_t *files = NULL;
    size_t n = 0;
    char common[4096], hpath[4096], cpath[4096], htmp[4200], ctmp[4200];
    snprintf(common, sizeof(common), "%s/common", core_dir);
    load_dir(common, 0, &files, &n);
    load_dir(dir, 1, &files, &n);
    current_file = NULL;
    for (size_t i = 0; i < n; i++)
        resolve_file(&files[i]);
    snprintf(hpath, sizeof(hpath), "%s/govstream/%s%sschemas.h", out_dir, set_name ? set_name : "",
             set_name ? "_" : "");
    snprintf(cpath, sizeof(cpath), "%s/%s%sschemas.c", out_dir, set_name ? set_name : "",
             set_name ? "_" : "");
    snprintf(htmp, sizeof(htmp), "%s.tmp", hpath);
    snprintf(ctmp, sizeof(ctmp), "%s.tmp", cpath);
    out_t o = {open_out(htmp), open_out(ctmp)};
    emit_all(&o, files, n);
    if (fclose(o.h) || fclose(o.c))
        die("write error");
    commit(htmp, hpath);
    commit(ctmp, cpath);
    return 0;
}
