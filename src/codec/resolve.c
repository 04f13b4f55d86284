/* Schema resolution plans: how to read bytes written with another writer
 * schema (a producer's, by Confluent schema id) straight into the generated
 * layout of our reader type. Compiled once per writer schema and reader:
 * writer-only fields are skipped, missing fields take the reader's default
 * (avrogen.c stores them as Avro binary), numbers are promoted as Avro
 * allows (int -> long -> float -> double, string <-> bytes), enum symbols are
 * matched by name, and a writer union resolves branch by branch. When the
 * writer schema is ours, the plan is the generated decoder itself. */
#include <stdlib.h>
#include <string.h>

#include "govstream/codec.h"

typedef struct pnode pnode_t;

typedef struct pfield { /* one writer field, in writer order */
    const pnode_t *plan;
    const gs_avro_field_t *to; /* NULL: writer-only, skipped */
} pfield_t;

struct pnode {
    avro_type_t w;                  /* writer type */
    const gs_avro_node_t *r;        /* reader type; NULL: skip the writer value */
    const gs_avro_node_t *optional; /* the reader is this ["null", T]: set `has` */
    pfield_t *fields;               /* record */
    size_t n_fields;
    const gs_avro_field_t **defaults; /* reader fields the writer lacks */
    size_t n_defaults;
    const pnode_t *items;     /* array, map */
    const pnode_t **branches; /* union: NULL where a branch cannot be read */
    const char **branch_why;
    size_t n_branches;
    int *symmap; /* enum: writer index -> reader index, -1 unknown */
    const char *const *wsymbols;
    size_t n_wsymbols;
    int64_t fixed_size;
};

struct gs_avro_plan {
    gs_arena_t arena; /* every pnode */
    const gs_avro_type_t *reader;
    const pnode_t *root;
    int identity; /* writer schema = ours: the generated decoder */
};

/* A writer schema whose named types form a DAG (a record with two fields
 * of the same record type, and so on) stands for exponentially many
 * nodes; so does decoding one. The plan and each decode are bounded. */
#define MAX_PLAN_NODES   4096
#define MIN_DECODE_STEPS 100000 /* values visited per decode, or 16 per byte */

typedef struct compiler {
    gs_avro_plan_t *plan;
    char *errstr;
    size_t n;
    size_t nodes;
} compiler_t;

static void *alloc0(compiler_t *c, size_t size)
{
    void *p = gs_arena_alloc(&c->plan->arena, size ? size : 1);
    if (p)
        memset(p, 0, size);
    return p;
}

static const char *reader_name(const gs_avro_node_t *r)
{
    static const char *const names[] = {"null",   "boolean", "int",    "long",  "float",
                                        "double", "bytes",   "string", "fixed", "enum",
                                        "record", "array",   "map",    "union"};
    if (r->name)
        return strrchr(r->name, '.') ? strrchr(r->name, '.') + 1 : r->name;
    return names[r->kind];
}

/* Writer type w can be stored as reader kind r (same kind or a promotion;
 * named types must share their unqualified name). */
static int fits(avro_schema_t w, const gs_avro_node_t *r)
{
    switch (avro_typeof(w)) {
    case AVRO_NULL:
        return r->kind == GS_AVRO_T_NULL;
    case AVRO_BOOLEAN:
        return r->kind == GS_AVRO_T_BOOLEAN;
    case AVRO_INT32:
        return r->kind >= GS_AVRO_T_INT && r->kind <= GS_AVRO_T_DOUBLE;
    case AVRO_INT64:
        return r->kind >= GS_AVRO_T_LONG && r->kind <= GS_AVRO_T_DOUBLE;
    case AVRO_FLOAT:
        return r->kind == GS_AVRO_T_FLOAT || r->kind == GS_AVRO_T_DOUBLE;
    case AVRO_DOUBLE:
        return r->kind == GS_AVRO_T_DOUBLE;
    case AVRO_STRING:
    case AVRO_BYTES:
        return r->kind == GS_AVRO_T_STRING || r->kind == GS_AVRO_T_BYTES;
    case AVRO_FIXED:
    case AVRO_ENUM:
    case AVRO_RECORD:
        return r->kind == (avro_typeof(w) == AVRO_FIXED  ? GS_AVRO_T_FIXED
                           : avro_typeof(w) == AVRO_ENUM ? GS_AVRO_T_ENUM
                                                         : GS_AVRO_T_RECORD) &&
               !strcmp(avro_schema_name(w), reader_name(r));
    case AVRO_ARRAY:
        return r->kind == GS_AVRO_T_ARRAY;
    case AVRO_MAP:
        return r->kind == GS_AVRO_T_MAP;
    default:
        return 0;
    }
}

static gs_err_t compile(compiler_t *c, avro_schema_t w, const gs_avro_node_t *r, const char *path,
                        int depth, const pnode_t **out);

static gs_err_t cannot(compiler_t *c, const char *path, avro_schema_t w, const gs_avro_node_t *r)
{
    return gs_fail(c->errstr, c->n, GS_ERR_SCHEMA, "%s%swriter type %s cannot be read as %s", path,
                   *path ? ": " : "", avro_schema_type_name(w), reader_name(r));
}

static gs_err_t compile_record(compiler_t *c, avro_schema_t w, pnode_t *p, const char *path,
                               int depth)
{
    const gs_avro_node_t *r = p->r;
    size_t nw = avro_schema_record_size(w);
    p->fields = alloc0(c, nw * sizeof(*p->fields));
    p->defaults = alloc0(c, r->n_fields * sizeof(const gs_avro_field_t *));
    if (!p->fields || !p->defaults)
        return gs_fail(c->errstr, c->n, GS_ERR_NOMEM, "out of memory");
    char sub[256];
    for (size_t i = 0; i < nw; i++) {
        const char *name = avro_schema_record_field_name(w, (int)i);
        const gs_avro_field_t *to = gs_avro_field(r, name);
        snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", name);
        p->fields[i].to = to;
        gs_err_t err = compile(c, avro_schema_record_field_get_by_index(w, (int)i),
                               to ? to->type : NULL, sub, depth + 1, &p->fields[i].plan);
        if (err)
            return err;
    }
    p->n_fields = nw;
    for (uint32_t i = 0; i < r->n_fields; i++) {
        const gs_avro_field_t *f = &r->fields[i];
        if (avro_schema_record_field_get_index(w, f->name) >= 0)
            continue;
        snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", f->name);
        if (!f->def)
            return gs_fail(c->errstr, c->n, GS_ERR_SCHEMA,
                           "%s: missing in the writer schema and has no default", sub);
        p->defaults[p->n_defaults++] = f;
    }
    return GS_OK;
}

static gs_err_t compile_enum(compiler_t *c, avro_schema_t w, pnode_t *p)
{
    p->n_wsymbols = (size_t)avro_schema_enum_number_of_symbols(w);
    p->symmap = alloc0(c, p->n_wsymbols * sizeof(int));
    const char **syms = alloc0(c, p->n_wsymbols * sizeof(char *));
    if (!p->symmap || !syms)
        return gs_fail(c->errstr, c->n, GS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < p->n_wsymbols; i++) {
        syms[i] = avro_schema_enum_get(w, (int)i);
        p->symmap[i] = -1;
        for (uint32_t k = 0; p->r && k < p->r->n_symbols; k++)
            if (!strcmp(p->r->symbols[k], syms[i]))
                p->symmap[i] = (int)k;
    }
    p->wsymbols = syms;
    return GS_OK;
}

/* A writer union: each branch on its own; usable when one branch is. */
static gs_err_t compile_union(compiler_t *c, avro_schema_t w, pnode_t *p, const char *path,
                              int depth)
{
    p->n_branches = avro_schema_union_size(w);
    p->branches = alloc0(c, p->n_branches * sizeof(const pnode_t *));
    p->branch_why = alloc0(c, p->n_branches * sizeof(char *));
    if (!p->branches || !p->branch_why)
        return gs_fail(c->errstr, c->n, GS_ERR_NOMEM, "out of memory");
    size_t usable = 0;
    char why[256] = "";
    for (size_t i = 0; i < p->n_branches; i++) {
        compiler_t bc = {c->plan, why, sizeof(why), c->nodes};
        avro_schema_t b = avro_schema_union_branch(w, (int)i);
        gs_err_t err = compile(&bc, b, p->r, path, depth + 1, &p->branches[i]);
        c->nodes = bc.nodes;
        if (err == GS_ERR_NOMEM)
            return gs_fail(c->errstr, c->n, err, "out of memory");
        if (err) {
            p->branches[i] = NULL;
            size_t len = strlen(why) + 1;
            char *kept = alloc0(c, len);
            if (kept)
                memcpy(kept, why, len);
            p->branch_why[i] = kept ? kept : "incompatible union branch";
        } else {
            usable++;
        }
    }
    if (!usable)
        return gs_fail(c->errstr, c->n, GS_ERR_SCHEMA, "%s%sno branch of the writer union fits %s",
                       path, *path ? ": " : "", p->r ? reader_name(p->r) : "it");
    return GS_OK;
}

static gs_err_t compile(compiler_t *c, avro_schema_t w, const gs_avro_node_t *r, const char *path,
                        int depth, const pnode_t **out)
{
    w = gs_avro_deref(w);
    if (depth > GS_AVRO_MAX_DEPTH)
        return gs_fail(c->errstr, c->n, GS_ERR_SCHEMA, "%s: writer schema nested too deeply", path);
    if (++c->nodes > MAX_PLAN_NODES)
        return gs_fail(c->errstr, c->n, GS_ERR_SCHEMA,
                       "writer schema too large to resolve (more than %d nodes)", MAX_PLAN_NODES);
    pnode_t *p = alloc0(c, sizeof(*p));
    if (!p)
        return gs_fail(c->errstr, c->n, GS_ERR_NOMEM, "out of memory");
    *out = p;
    p->w = avro_typeof(w);
    p->r = r;
    if (r && r->kind == GS_AVRO_T_OPTIONAL && p->w != AVRO_UNION) {
        p->optional = r;
        p->r = p->w == AVRO_NULL ? NULL : r->items; /* null: has = false */
        if (p->w != AVRO_NULL && !fits(w, r->items))
            return gs_fail(c->errstr, c->n, GS_ERR_SCHEMA, "%s: writer type %s is not in the union",
                           path, avro_schema_type_name(w));
    } else if (r && p->w != AVRO_UNION && !fits(w, r)) {
        return cannot(c, path, w, r);
    }
    char sub[256];
    switch (p->w) {
    case AVRO_RECORD:
        if (p->r)
            return compile_record(c, w, p, path, depth);
        /* skipped: every field skipped */
        p->n_fields = avro_schema_record_size(w);
        p->fields = alloc0(c, p->n_fields * sizeof(*p->fields));
        if (!p->fields)
            return gs_fail(c->errstr, c->n, GS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < p->n_fields; i++) {
            gs_err_t err = compile(c, avro_schema_record_field_get_by_index(w, (int)i), NULL, path,
                                   depth + 1, &p->fields[i].plan);
            if (err)
                return err;
        }
        return GS_OK;
    case AVRO_ENUM:
        return compile_enum(c, w, p);
    case AVRO_FIXED:
        p->fixed_size = avro_schema_fixed_size(w);
        if (p->r && p->fixed_size != p->r->fixed_size)
            return gs_fail(c->errstr, c->n, GS_ERR_SCHEMA, "%s: fixed sizes differ", path);
        return GS_OK;
    case AVRO_ARRAY:
    case AVRO_MAP:
        snprintf(sub, sizeof(sub), p->w == AVRO_ARRAY ? "%s[]" : "%s{}", path);
        return compile(c,
                       p->w == AVRO_ARRAY ? avro_schema_array_items(w) : avro_schema_map_values(w),
                       p->r ? p->r->items : NULL, sub, depth + 1, &p->items);
    case AVRO_UNION:
        return compile_union(c, w, p, path, depth);
    default:
        return GS_OK;
    }
}

/* ---- execution ---------------------------------------------------------- */

static int exec(gs_avro_in_t *in, const pnode_t *p, void *v, size_t *count, bool *has, int depth);

/* A number read as the writer wrote it, stored as the reader keeps it. */
static void store_number(const gs_avro_node_t *r, void *v, int64_t l, double d, int integral)
{
    switch (r->kind) {
    case GS_AVRO_T_INT: {
        int32_t x = (int32_t)l;
        memcpy(v, &x, sizeof(x));
        return;
    }
    case GS_AVRO_T_LONG:
        memcpy(v, &l, sizeof(l));
        return;
    case GS_AVRO_T_FLOAT: {
        float f = integral ? (float)l : (float)d;
        memcpy(v, &f, sizeof(f));
        return;
    }
    default: {
        double x = integral ? (double)l : d;
        memcpy(v, &x, sizeof(x));
        return;
    }
    }
}

static int exec_number(gs_avro_in_t *in, const pnode_t *p, void *v)
{
    int64_t l = 0;
    double d = 0;
    float f = 0;
    int32_t i = 0;
    int rc;
    switch (p->w) {
    case AVRO_INT32:
        rc = gs_avro_get_int(in, &i), l = i;
        break;
    case AVRO_INT64:
        rc = gs_avro_get_long(in, &l);
        break;
    case AVRO_FLOAT:
        rc = gs_avro_get_float(in, &f), d = f;
        break;
    default:
        rc = gs_avro_get_double(in, &d);
        break;
    }
    if (!rc && p->r && v)
        store_number(p->r, v, l, d, p->w == AVRO_INT32 || p->w == AVRO_INT64);
    return rc;
}

static int exec_record(gs_avro_in_t *in, const pnode_t *p, char *v, int depth)
{
    for (size_t i = 0; i < p->n_fields; i++) {
        const gs_avro_field_t *f = v ? p->fields[i].to : NULL; /* no v: skipped */
        if (exec(in, p->fields[i].plan, f ? v + f->offset : NULL,
                 f && f->count ? (size_t *)(v + f->count) : NULL,
                 f && f->has ? (bool *)(v + f->has) : NULL, depth + 1))
            return -1;
    }
    for (size_t i = 0; v && i < p->n_defaults; i++)
        if (gs_avro_read_default(in, p->defaults[i], v))
            return -1;
    return 0;
}

static int exec_blocks(gs_avro_in_t *in, const pnode_t *p, void *v, size_t *count, int depth)
{
    int map = p->w == AVRO_MAP;
    const gs_avro_node_t *r = v && count ? p->r : NULL; /* NULL: skipped */
    size_t stride = r ? (map ? r->entry_size : r->items->size) : 0;
    void *items = NULL;
    size_t n = 0;
    for (;;) {
        int64_t c = 0;
        /* a writer item takes at least one byte unless it is null */
        if (gs_avro_get_block(in, &c, (p->items->w == AVRO_NULL ? 0 : 1) + (uint32_t)map))
            return -1;
        if (!c)
            break;
        char *it = r ? gs_avro_extend(in, &items, &n, (size_t)c, stride) : NULL;
        if (r && !it)
            return -1;
        for (int64_t i = 0; i < c; i++) {
            gs_str_t key;
            if (map && gs_avro_get_bytes(in, r ? (gs_str_t *)it : &key))
                return -1;
            if (exec(in, p->items, it ? it + (map ? r->value_offset : 0) : NULL, NULL, NULL,
                     depth + 1))
                return -1;
            if (it)
                it += stride;
        }
    }
    if (r) {
        memcpy(v, &items, sizeof(items));
        *count = n;
    }
    return 0;
}

static int exec_value(gs_avro_in_t *in, const pnode_t *p, void *v, size_t *count, int depth)
{
    int idx;
    gs_str_t s;
    bool b;
    switch (p->w) {
    case AVRO_NULL:
        return 0;
    case AVRO_BOOLEAN:
        return gs_avro_get_boolean(in, v ? (bool *)v : &b);
    case AVRO_INT32:
    case AVRO_INT64:
    case AVRO_FLOAT:
    case AVRO_DOUBLE:
        return exec_number(in, p, v);
    case AVRO_STRING:
    case AVRO_BYTES:
        return gs_avro_get_bytes(in, v ? (gs_str_t *)v : &s);
    case AVRO_FIXED:
        return gs_avro_get_fixed(in, v ? (gs_str_t *)v : &s, (uint32_t)p->fixed_size);
    case AVRO_ENUM:
        if (gs_avro_get_index(in, &idx, (uint32_t)p->n_wsymbols, "enum index out of range"))
            return -1;
        if (!p->r || !v)
            return 0;
        if (p->symmap[idx] < 0)
            return gs_avro_bad_schema(in, "enum %s: symbol %s is unknown to us", reader_name(p->r),
                                      p->wsymbols[idx]);
        memcpy(v, &p->symmap[idx], sizeof(int));
        return 0;
    case AVRO_RECORD:
        return exec_record(in, p, v, depth);
    case AVRO_ARRAY:
    case AVRO_MAP:
        return exec_blocks(in, p, v, count, depth);
    default:
        return gs_avro_bad(in, "unsupported writer type");
    }
}

static int exec(gs_avro_in_t *in, const pnode_t *p, void *v, size_t *count, bool *has, int depth)
{
    if (depth > GS_AVRO_MAX_DEPTH)
        return gs_avro_bad(in, "nesting too deep");
    if (in->steps_left-- == 0)
        return gs_avro_bad_schema(in, "the writer schema makes this message too costly to decode");
    if (p->w == AVRO_UNION) {
        int b;
        if (gs_avro_get_index(in, &b, (uint32_t)p->n_branches, "union branch out of range"))
            return -1;
        if (!p->branches[b])
            return gs_avro_bad_schema(in, "%s", p->branch_why[b]);
        return exec(in, p->branches[b], v, count, has, depth + 1);
    }
    if (p->optional && v && has) {
        *has = p->r != NULL;
        if (!*has) {
            memset(v, 0, p->optional->items->size);
            if (count)
                *count = 0;
            return 0;
        }
    }
    return exec_value(in, p, p->r ? v : NULL, count, depth);
}

/* ---- the plan ------------------------------------------------------------ */

gs_err_t gs_avro_plan_new(const gs_avro_schema_t *writer, const gs_avro_type_t *reader,
                          gs_avro_plan_t **out, char *errstr, size_t n)
{
    gs_avro_plan_t *p = calloc(1, sizeof(*p));
    if (!p)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    p->reader = reader;
    gs_avro_schema_t *ours = NULL;
    gs_err_t err = gs_avro_schema_parse(reader->schema, strlen(reader->schema), &ours, errstr, n);
    if (!err && avro_schema_equal(gs_avro_schema_get(writer), gs_avro_schema_get(ours))) {
        p->identity = 1;
    } else if (!err) {
        compiler_t c = {p, errstr, n, 0};
        avro_schema_t w = gs_avro_deref(gs_avro_schema_get(writer));
        err = avro_typeof(w) == AVRO_RECORD && fits(w, reader->node)
                  ? compile(&c, w, reader->node, "", 0, &p->root)
                  : cannot(&c, "", w, reader->node);
    }
    gs_avro_schema_destroy(ours);
    if (err) {
        gs_avro_plan_destroy(p);
        return err;
    }
    *out = p;
    return GS_OK;
}

void gs_avro_plan_destroy(gs_avro_plan_t *p)
{
    if (!p)
        return;
    gs_arena_free(&p->arena);
    free(p);
}

int gs_avro_plan_identity(const gs_avro_plan_t *p)
{
    return p->identity;
}

gs_err_t gs_avro_plan_decode(const gs_avro_plan_t *p, const uint8_t *buf, size_t len,
                             gs_arena_t *arena, void *out, char *errstr, size_t n)
{
    if (p->identity)
        return p->reader->decode(buf, len, arena, out, errstr, n);
    gs_avro_in_t in = GS_AVRO_IN(buf, len, arena);
    in.steps_left = len > MIN_DECODE_STEPS / 16 ? 16 * (uint64_t)len : MIN_DECODE_STEPS;
    if (exec_record(&in, p->root, out, 0) || gs_avro_end(&in))
        return gs_avro_in_fail(&in, errstr, n);
    return GS_OK;
}
