/* The generated codec against avro-c (and, through --dump, fastavro):
 * thousands of random records of every schema must encode to the same
 * bytes and decode to the same values with the generated code, the
 * node-driven reader, a resolution plan, avro-c, and (test_avro_peer.sh)
 * fastavro; mutated bytes are accepted or refused alike by the generated
 * decoder and the byte walker that guards avro-c; and the schema
 * resolution cases of test_codec.c give the same values and the same
 * errors through plans as through avro-c's projection.
 *
 *   test_avrogen                 the cmocka tests
 *   test_avrogen --dump DIR      also writes DIR/records.jsonl and
 *                                DIR/resolution.jsonl for the Python peer */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testschema.h"
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/codec.h"
#include "govstream/schemas.h"

#define RECORDS_PER_SCHEMA 2000

static const char *dump_dir; /* --dump DIR */

/* ---- random values of a node ----------------------------------------- */

static void random_value(const gs_avro_node_t *t, void *v, size_t *count, bool *has, gs_arena_t *a);

static gs_str_t random_text(gs_arena_t *a, int utf8)
{
    static const char *const pieces[] = {"a", "Z",  "7",  " ",  "é", "Ж", "ї", "漢",
                                         "😀", "\"", "\\", "\n", "'", "-", "x"};
    size_t n = rng_below(5) == 0 ? 0 : rng_below(24);
    char *p = gs_arena_alloc(a, n * 4 + 1);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (utf8) {
            const char *s = pieces[rng_below(sizeof(pieces) / sizeof(pieces[0]))];
            memcpy(p + len, s, strlen(s));
            len += strlen(s);
        } else {
            p[len++] = (char)rng_next();
        }
    }
    return (gs_str_t){p, len};
}

static int64_t random_long(void)
{
    static const int64_t edges[] = {0, 1, -1, 63, 64, -64, -65, INT64_MAX, INT64_MIN, 1LL << 40};
    switch (rng_below(3)) {
    case 0:
        return edges[rng_below(sizeof(edges) / sizeof(edges[0]))];
    case 1:
        return (int64_t)rng_below(1000) - 500;
    default:
        return (int64_t)rng_next();
    }
}

static double random_double(void)
{
    for (;;) {
        uint64_t bits = rng_next();
        double d;
        memcpy(&d, &bits, sizeof(d));
        if (rng_below(2))
            d = (double)random_long() / 7.0;
        if (isfinite(d))
            return d;
    }
}

static void random_items(const gs_avro_node_t *t, void *v, size_t *count, gs_arena_t *a)
{
    int map = t->kind == GS_AVRO_T_MAP;
    size_t n = rng_below(6), stride = map ? t->entry_size : t->items->size;
    char *items = gs_arena_alloc(a, n * stride + 1);
    memset(items, 0, n * stride);
    for (size_t i = 0; i < n; i++) {
        char *it = items + i * stride;
        if (map) { /* distinct keys: a JSON object (the peer's) keeps one per key */
            char *k = gs_arena_alloc(a, 24);
            int kl = snprintf(k, 24, "k%zu-%u", i, (unsigned)rng_below(1000));
            gs_str_t key = {k, (size_t)kl};
            memcpy(it, &key, sizeof(key));
        }
        random_value(t->items, it + (map ? t->value_offset : 0), NULL, NULL, a);
    }
    memcpy(v, &items, sizeof(items));
    *count = n;
}

static void random_value(const gs_avro_node_t *t, void *v, size_t *count, bool *has, gs_arena_t *a)
{
    gs_str_t s;
    switch (t->kind) {
    case GS_AVRO_T_NULL:
        return;
    case GS_AVRO_T_BOOLEAN:
        *(bool *)v = rng_below(2);
        return;
    case GS_AVRO_T_INT: {
        int32_t x = rng_below(4) ? (int32_t)random_long() : (rng_below(2) ? INT32_MAX : INT32_MIN);
        memcpy(v, &x, sizeof(x));
        return;
    }
    case GS_AVRO_T_LONG: {
        int64_t x = random_long();
        memcpy(v, &x, sizeof(x));
        return;
    }
    case GS_AVRO_T_FLOAT: {
        float f = (float)random_double();
        if (!isfinite(f))
            f = 1.5f;
        memcpy(v, &f, sizeof(f));
        return;
    }
    case GS_AVRO_T_DOUBLE: {
        double d = random_double();
        memcpy(v, &d, sizeof(d));
        return;
    }
    case GS_AVRO_T_STRING:
    case GS_AVRO_T_BYTES:
        s = random_text(a, t->kind == GS_AVRO_T_STRING);
        memcpy(v, &s, sizeof(s));
        return;
    case GS_AVRO_T_FIXED: {
        char *p = gs_arena_alloc(a, t->fixed_size + 1);
        for (uint32_t i = 0; i < t->fixed_size; i++)
            p[i] = (char)rng_next();
        s = (gs_str_t){p, t->fixed_size};
        memcpy(v, &s, sizeof(s));
        return;
    }
    case GS_AVRO_T_ENUM: {
        int e = (int)rng_below(t->n_symbols);
        memcpy(v, &e, sizeof(e));
        return;
    }
    case GS_AVRO_T_RECORD:
        for (uint32_t i = 0; i < t->n_fields; i++) {
            const gs_avro_field_t *f = &t->fields[i];
            char *rec = v;
            random_value(f->type, rec + f->offset, f->count ? (size_t *)(rec + f->count) : NULL,
                         f->has ? (bool *)(rec + f->has) : NULL, a);
        }
        return;
    case GS_AVRO_T_ARRAY:
    case GS_AVRO_T_MAP:
        random_items(t, v, count, a);
        return;
    case GS_AVRO_T_OPTIONAL:
        *has = rng_below(2);
        if (*has)
            random_value(t->items, v, count, NULL, a);
        else if (count)
            *count = 0;
        return;
    }
}

/* ---- equality and JSON of a node's value -------------------------------- */

static int equal(const gs_avro_node_t *t, const void *a, const void *b, size_t ca, size_t cb,
                 bool ha, bool hb)
{
    gs_str_t sa, sb;
    switch (t->kind) {
    case GS_AVRO_T_NULL:
        return 1;
    case GS_AVRO_T_STRING:
    case GS_AVRO_T_BYTES:
    case GS_AVRO_T_FIXED:
        memcpy(&sa, a, sizeof(sa));
        memcpy(&sb, b, sizeof(sb));
        return sa.len == sb.len && (!sa.len || !memcmp(sa.p, sb.p, sa.len));
    case GS_AVRO_T_RECORD:
        for (uint32_t i = 0; i < t->n_fields; i++) {
            const gs_avro_field_t *f = &t->fields[i];
            const char *x = a, *y = b;
            size_t cx = 0, cy = 0;
            bool hx = true, hy = true;
            if (f->count)
                memcpy(&cx, x + f->count, sizeof(cx)), memcpy(&cy, y + f->count, sizeof(cy));
            if (f->has)
                memcpy(&hx, x + f->has, sizeof(hx)), memcpy(&hy, y + f->has, sizeof(hy));
            if (!equal(f->type, x + f->offset, y + f->offset, cx, cy, hx, hy))
                return 0;
        }
        return 1;
    case GS_AVRO_T_ARRAY:
    case GS_AVRO_T_MAP: {
        if (ca != cb)
            return 0;
        int map = t->kind == GS_AVRO_T_MAP;
        size_t stride = map ? t->entry_size : t->items->size;
        const char *ia, *ib;
        memcpy(&ia, a, sizeof(ia));
        memcpy(&ib, b, sizeof(ib));
        for (size_t i = 0; i < ca; i++) {
            if (map && !equal(&gs_avro_node_string, ia + i * stride, ib + i * stride, 0, 0, 1, 1))
                return 0;
            size_t off = i * stride + (map ? t->value_offset : 0);
            if (!equal(t->items, ia + off, ib + off, 0, 0, 1, 1))
                return 0;
        }
        return 1;
    }
    case GS_AVRO_T_OPTIONAL:
        return ha == hb && (!ha || equal(t->items, a, b, ca, cb, 1, 1));
    default: /* numbers bit for bit: -0.0 is not 0.0 on the wire */
        return !memcmp(a, b, t->size);
    }
}

/* Does a value hold a map that avro-c cannot: a key twice (avro-c keeps
 * one entry; the Avro specification leaves it open), or a key with a NUL
 * byte (avro-c keys are C strings)? We keep the entries as the bytes say. */
static int duplicate_keys(const gs_avro_node_t *t, const void *v, size_t count)
{
    if (t->kind == GS_AVRO_T_RECORD) {
        for (uint32_t i = 0; i < t->n_fields; i++) {
            const gs_avro_field_t *f = &t->fields[i];
            const gs_avro_node_t *ft =
                f->type->kind == GS_AVRO_T_OPTIONAL ? f->type->items : f->type;
            size_t c = 0;
            if (f->count)
                memcpy(&c, (const char *)v + f->count, sizeof(c));
            if (duplicate_keys(ft, (const char *)v + f->offset, c))
                return 1;
        }
        return 0;
    }
    if (t->kind != GS_AVRO_T_ARRAY && t->kind != GS_AVRO_T_MAP)
        return 0;
    const char *items;
    memcpy(&items, v, sizeof(items));
    size_t stride = t->kind == GS_AVRO_T_MAP ? t->entry_size : t->items->size;
    for (size_t i = 0; i < count; i++) {
        if (t->kind == GS_AVRO_T_ARRAY) {
            if (duplicate_keys(t->items, items + i * stride, 0))
                return 1;
            continue;
        }
        gs_str_t key;
        memcpy(&key, items + i * stride, sizeof(key));
        if (memchr(key.p, '\0', key.len))
            return 1;
        for (size_t j = 0; j < i; j++)
            if (equal(&gs_avro_node_string, items + i * stride, items + j * stride, 0, 0, 1, 1))
                return 1;
    }
    return 0;
}

static int equal_records(const gs_avro_node_t *t, const void *a, const void *b)
{
    return equal(t, a, b, 0, 0, 1, 1);
}

static json_t *to_json(const gs_avro_node_t *t, const void *v, size_t count, bool has)
{
    gs_str_t s;
    switch (t->kind) {
    case GS_AVRO_T_NULL:
        return json_null();
    case GS_AVRO_T_BOOLEAN:
        return json_boolean(*(const bool *)v);
    case GS_AVRO_T_INT:
        return json_integer(*(const int32_t *)v);
    case GS_AVRO_T_LONG:
        return json_integer(*(const int64_t *)v);
    case GS_AVRO_T_FLOAT:
        return json_real(*(const float *)v);
    case GS_AVRO_T_DOUBLE:
        return json_real(*(const double *)v);
    case GS_AVRO_T_STRING:
        memcpy(&s, v, sizeof(s));
        return json_stringn(s.p, s.len);
    case GS_AVRO_T_BYTES:
    case GS_AVRO_T_FIXED: { /* hex: the peer turns it back into bytes */
        memcpy(&s, v, sizeof(s));
        char *hex = malloc(2 * s.len + 1);
        for (size_t i = 0; i < s.len; i++)
            sprintf(hex + 2 * i, "%02x", (unsigned char)s.p[i]);
        hex[2 * s.len] = '\0';
        json_t *j = json_string(hex);
        free(hex);
        return j;
    }
    case GS_AVRO_T_ENUM: {
        int e;
        memcpy(&e, v, sizeof(e));
        return json_string(t->symbols[e]);
    }
    case GS_AVRO_T_RECORD: {
        json_t *o = json_object();
        for (uint32_t i = 0; i < t->n_fields; i++) {
            const gs_avro_field_t *f = &t->fields[i];
            const char *rec = v;
            size_t c = 0;
            bool h = true;
            if (f->count)
                memcpy(&c, rec + f->count, sizeof(c));
            if (f->has)
                memcpy(&h, rec + f->has, sizeof(h));
            json_object_set_new(o, f->name, to_json(f->type, rec + f->offset, c, h));
        }
        return o;
    }
    case GS_AVRO_T_ARRAY:
    case GS_AVRO_T_MAP: {
        int map = t->kind == GS_AVRO_T_MAP;
        size_t stride = map ? t->entry_size : t->items->size;
        const char *items;
        memcpy(&items, v, sizeof(items));
        json_t *j = map ? json_object() : json_array();
        for (size_t i = 0; i < count; i++) {
            const char *it = items + i * stride;
            json_t *x = to_json(t->items, it + (map ? t->value_offset : 0), 0, 1);
            if (map) {
                memcpy(&s, it, sizeof(s));
                char *k = strndup(s.p, s.len);
                json_object_set_new(j, k, x);
                free(k);
            } else {
                json_array_append_new(j, x);
            }
        }
        return j;
    }
    case GS_AVRO_T_OPTIONAL:
        return has ? to_json(t->items, v, count, 1) : json_null();
    }
    return json_null();
}

/* ---- fixture ------------------------------------------------------------ */

typedef struct fx {
    gs_arena_t arena;
    gs_buf_t a, b;
    FILE *records, *resolution;
} fx_t;

static FILE *open_dump(const char *name)
{
    if (!dump_dir)
        return NULL;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dump_dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        fail_msg("cannot write %s", path);
    return f;
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    gs_arena_free(&f->arena);
    gs_buf_free(&f->a);
    gs_buf_free(&f->b);
    if (f->records)
        fclose(f->records);
    if (f->resolution)
        fclose(f->resolution);
    free(f);
    return 0;
}

static void dump_line(FILE *fp, const char *kind, const char *writer, const char *reader,
                      json_t *value, const gs_buf_t *bytes)
{
    if (!fp)
        return;
    char *hex = malloc(2 * bytes->len + 1);
    for (size_t i = 0; i < bytes->len; i++)
        sprintf(hex + 2 * i, "%02x", bytes->data[i]);
    hex[2 * bytes->len] = '\0';
    json_t *line = json_pack("{s:s, s:s, s:s, s:o, s:s}", "case", kind, "writer", writer, "reader",
                             reader, "value", json_incref(value), "hex", hex);
    char *s = json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(17));
    fprintf(fp, "%s\n", s);
    free(s);
    free(hex);
    json_decref(line);
}

/* ---- 1. every schema, every path agrees ---------------------------------- */

/* A writer schema that avro-c does not find equal to ours (one extra
 * field), so that plans read through the interpreter, not the generated
 * decoder. */
static gs_avro_schema_t *extended(const char *name)
{
    json_t *j = json_loads(gs_schema_resolved(name), 0, NULL);
    assert_non_null(j);
    json_array_append_new(
        json_object_get(j, "fields"),
        json_pack("{s:s, s:s, s:s}", "name", "zz_writer_only", "type", "string", "default", ""));
    char *text = json_dumps(j, JSON_COMPACT);
    gs_avro_schema_t *s = NULL;
    char err[256];
    if (gs_avro_schema_parse(text, strlen(text), &s, err, sizeof(err)))
        fail_msg("%s", err);
    free(text);
    json_decref(j);
    return s;
}

static void one_schema(fx_t *f, const gs_avro_type_t *type)
{
    char err[512];
    gs_avro_schema_t *ours, *ext = extended(type->name);
    avro_value_t value;
    assert_int_equal(gs_avro_value_new(type->name, &ours, &value, err, sizeof(err)), GS_OK);
    const gs_avro_plan_t *identity, *interp;
    assert_int_equal(gs_avro_schema_plan(ours, type, &identity, err, sizeof(err)), GS_OK);
    assert_true(gs_avro_plan_identity(identity));
    assert_int_equal(gs_avro_schema_plan(ext, type, &interp, err, sizeof(err)), GS_OK);
    assert_false(gs_avro_plan_identity(interp));
    size_t size = type->node->size;
    char *orig = malloc(size), *back = malloc(size);
    for (int i = 0; i < RECORDS_PER_SCHEMA; i++) {
        gs_arena_reset(&f->arena);
        memset(orig, 0, size);
        random_value(type->node, orig, NULL, NULL, &f->arena);
        /* generated and avro-c write the same bytes */
        assert_int_equal(type->encode(orig, -1, &f->a, err, sizeof(err)), GS_OK);
        assert_int_equal(gs_avro_to_value(type->node, orig, &value, err, sizeof(err)), GS_OK);
        assert_int_equal(gs_avro_encode(&value, -1, &f->b, err, sizeof(err)), GS_OK);
        if (f->a.len != f->b.len || memcmp(f->a.data, f->b.data, f->a.len))
            fail_msg("%s record %d: generated and avro-c encodings differ", type->name, i);
        assert_int_equal(gs_avro_check(ours, f->a.data, f->a.len, err, sizeof(err)), GS_OK);
        /* and every decoder gives the value back */
        memset(back, 0x5A, size);
        assert_int_equal(type->decode(f->a.data, f->a.len, &f->arena, back, err, sizeof(err)),
                         GS_OK);
        if (!equal_records(type->node, orig, back))
            fail_msg("%s record %d: generated decode differs", type->name, i);
        gs_avro_in_t in = GS_AVRO_IN(f->a.data, f->a.len, &f->arena);
        memset(back, 0x5A, size);
        assert_int_equal(gs_avro_read_node(&in, type->node, back, NULL, NULL), 0);
        assert_true(in.p == in.end && equal_records(type->node, orig, back));
        memset(back, 0x5A, size);
        assert_int_equal(gs_avro_decode(f->a.data, f->a.len, ours, ours, &value, err, sizeof(err)),
                         GS_OK);
        assert_int_equal(gs_avro_from_value(type->node, &value, back, &f->arena, err, sizeof(err)),
                         GS_OK);
        if (!equal_records(type->node, orig, back))
            fail_msg("%s record %d: avro-c decode differs", type->name, i);
        /* the interpreter, on bytes with one more (writer-only) field */
        assert_int_equal(gs_avro_put_bytes(&f->a, (gs_str_t){"extra", 5}), 0);
        memset(back, 0x5A, size);
        assert_int_equal(
            gs_avro_plan_decode(interp, f->a.data, f->a.len, &f->arena, back, err, sizeof(err)),
            GS_OK);
        if (!equal_records(type->node, orig, back))
            fail_msg("%s record %d: plan decode differs", type->name, i);
        f->a.len -= 6;
        json_t *j = to_json(type->node, orig, 0, 1);
        dump_line(f->records, "record", type->name, type->name, j, &f->a);
        json_decref(j);
    }
    free(orig);
    free(back);
    avro_value_decref(&value);
    gs_avro_schema_destroy(ours);
    gs_avro_schema_destroy(ext);
}

static void test_every_schema_every_path(void **state)
{
    fx_t *f = *state;
    rng_seed(20261202);
    f->records = open_dump("records.jsonl");
    size_t n = 0;
    for (size_t i = 0; gs_schema_name(i); i++, n++) {
        const gs_avro_type_t *t = gs_avro_type(gs_schema_name(i));
        assert_non_null(t);
        one_schema(f, t);
    }
    assert_true(n >= 4); /* DeadLetter, DialogueRequest, DialogueResult, MetricsSnapshot, ... */
}

/* ---- 2. hostile bytes: the generated decoder and the walker agree -------- */

static void test_mutations_agree_with_walker(void **state)
{
    fx_t *f = *state;
    rng_seed(7);
    char err[512];
    for (size_t s = 0; gs_schema_name(s); s++) {
        const gs_avro_type_t *type = gs_avro_type(gs_schema_name(s));
        gs_avro_schema_t *ours;
        avro_value_t value;
        assert_int_equal(gs_avro_value_new(type->name, &ours, &value, err, sizeof(err)), GS_OK);
        char *v = malloc(type->node->size), *w = malloc(type->node->size);
        uint8_t m[2048];
        size_t accepted = 0;
        for (int i = 0; i < 20000; i++) {
            gs_arena_reset(&f->arena);
            memset(v, 0, type->node->size);
            random_value(type->node, v, NULL, NULL, &f->arena);
            assert_int_equal(type->encode(v, -1, &f->a, err, sizeof(err)), GS_OK);
            size_t len = f->a.len < sizeof(m) ? f->a.len : sizeof(m);
            memcpy(m, f->a.data, len);
            if (i % 3 == 0)
                len = len ? rng_below((uint32_t)len) : 0; /* truncated */
            for (int k = 0, flips = 1 + (int)rng_below(3); len && k < flips; k++)
                m[rng_below((uint32_t)len)] = (uint8_t)rng_next();
            gs_err_t gen = type->decode(m, len, &f->arena, w, err, sizeof(err));
            gs_err_t walk = gs_avro_check(ours, m, len, err, sizeof(err));
            if ((gen == GS_OK) != (walk == GS_OK))
                fail_msg("%s mutation %d: generated %s, walker %s", type->name, i, gs_err_name(gen),
                         gs_err_name(walk));
            if (gen)
                continue;
            accepted++;
            char *x = malloc(type->node->size);
            assert_int_equal(gs_avro_decode(m, len, ours, ours, &value, err, sizeof(err)), GS_OK);
            assert_int_equal(gs_avro_from_value(type->node, &value, x, &f->arena, err, sizeof(err)),
                             GS_OK);
            int same = equal_records(type->node, w, x) || duplicate_keys(type->node, w, 0);
            free(x);
            if (!same)
                fail_msg("%s mutation %d: accepted by both, decoded differently", type->name, i);
        }
        assert_true(accepted > 0);
        free(v);
        free(w);
        avro_value_decref(&value);
        gs_avro_schema_destroy(ours);
    }
}

/* The walker's hostile cases (test_codec.c) through a generated decoder:
 * refused, with the same reason. */
static void test_hostile_lengths(void **state)
{
    fx_t *f = *state;
    char err[512];
    struct {
        uint8_t bytes[16];
        size_t len;
        const char *why;
    } cases[] = {
        {{0x01}, 1, "negative length"},
        {{0xFE, 0xFF, 0xFF, 0xFF, 0x0F}, 5, "runs past"},
        {{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 11, "longer than 10"},
        {{0x02, 'a', 0x02, 'b', 0x02, 'c', 0x08}, 7, "enum index"},
        {{0x02, 'a', 0x02, 'b', 0x02, 'c', 0x02, 0xFE, 0xFF, 0xFF, 0xFF, 0x0F}, 12, "block count"},
        {{0x02, 'a', 0x02, 'b', 0x02, 'c', 0x02, 0x01, 0x7F}, 10, "block byte size"},
        {{0x02, 'a', 0x02, 'b', 0x02, 'c', 0x02, 0x00, 0x0A, 0x40, 0x04}, 11, "union branch"},
        {{0x02, 'a', 0x02, 'b', 0x02, 'c', 0x02, 0x00, 0xFE, 0xFF, 0xFF, 0xFF, 0x1F},
         13,
         "int out of range"},
    };
    gs_avro_dialogue_request_t r;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gs_err_t e = gs_avro_dialogue_request_decode(cases[i].bytes, cases[i].len, &f->arena, &r,
                                                     err, sizeof(err));
        if (e != GS_ERR_DECODE || !strstr(err, cases[i].why) ||
            !strstr(err, "invalid Avro at byte"))
            fail_msg("case %zu: got %s \"%s\", want \"%s\"", i, gs_err_name(e), err, cases[i].why);
    }
}

/* ---- 3. resolution: plans against avro-c's projection -------------------- */

/* Random requests written with the v2 producer schema read the same
 * through a plan as through avro-c + projection; absent fields take the
 * reader's defaults. */
static void test_evolved_writer_plan(void **state)
{
    fx_t *f = *state;
    rng_seed(11);
    char err[512];
    const gs_avro_type_t *type = &gs_avro_type_dialogue_request;
    gs_avro_schema_t *v2 = load_file("tests/data/DialogueRequest_v2.avsc"), *ours;
    avro_value_t value;
    assert_int_equal(gs_avro_value_new(type->name, &ours, &value, err, sizeof(err)), GS_OK);
    const gs_avro_plan_t *plan;
    assert_int_equal(gs_avro_schema_plan(v2, type, &plan, err, sizeof(err)), GS_OK);
    f->resolution = open_dump("resolution.jsonl");
    for (int i = 0; i < RECORDS_PER_SCHEMA; i++) {
        gs_arena_reset(&f->arena);
        gs_avro_dialogue_request_t r = {0}, a, b;
        random_value(type->node, &r, NULL, NULL, &f->arena);
        assert_int_equal(gs_avro_encode_as(type, &r, v2, -1, &f->a, err, sizeof(err)), GS_OK);
        assert_int_equal(
            gs_avro_plan_decode(plan, f->a.data, f->a.len, &f->arena, &a, err, sizeof(err)), GS_OK);
        assert_int_equal(gs_avro_decode(f->a.data, f->a.len, v2, ours, &value, err, sizeof(err)),
                         GS_OK);
        assert_int_equal(gs_avro_from_value(type->node, &value, &b, &f->arena, err, sizeof(err)),
                         GS_OK);
        assert_true(equal_records(type->node, &a, &b));
        assert_true(a.tenant.len == 7 && !memcmp(a.tenant.p, "default", 7)); /* v2 lacks it */
        assert_false(a.has_moral_value);
        assert_int_equal(a.op, r.op);
        assert_int_equal(a.n_turns, r.n_turns);
        assert_int_equal(a.created_at_ms, r.created_at_ms);
        json_t *j = to_json(type->node, &a, 0, 1);
        dump_line(f->resolution, "evolved", "tests/data/DialogueRequest_v2.avsc", "DialogueRequest",
                  j, &f->a);
        json_decref(j);
    }
    avro_value_decref(&value);
    gs_avro_schema_destroy(ours);
    gs_avro_schema_destroy(v2);
}

/* The incompatible writers of test_codec.c: refused by a plan with the
 * reason avro-c's check gives. */
static void test_incompatible_writer_plans(void **state)
{
    (void)state;
    char err[512], err2[512];
    static const char *const schemas[] = {
        "{\"type\":\"record\",\"name\":\"DialogueRequest\",\"fields\":["
        "{\"name\":\"session_id\",\"type\":\"string\"}]}",
        "{\"type\":\"record\",\"name\":\"DialogueRequest\",\"fields\":["
        "{\"name\":\"request_id\",\"type\":\"string\"},{\"name\":\"session_id\",\"type\":"
        "\"string\"},{\"name\":\"op\",\"type\":{\"type\":\"enum\",\"name\":\"DialogueOp\","
        "\"symbols\":[\"TOP_K\"]}},{\"name\":\"turns\",\"type\":\"string\"},"
        "{\"name\":\"created_at_ms\",\"type\":\"long\"}]}",
        "{\"type\":\"record\",\"name\":\"IntentRequest\",\"fields\":[]}",
        "{\"type\":\"record\",\"name\":\"DialogueRequest\",\"fields\":["
        "{\"name\":\"request_id\",\"type\":\"string\"},{\"name\":\"session_id\",\"type\":"
        "\"string\"},{\"name\":\"op\",\"type\":{\"type\":\"enum\",\"name\":\"DialogueOp\","
        "\"symbols\":[\"TOP_K\"]}},{\"name\":\"turns\",\"type\":{\"type\":\"array\",\"items\":"
        "\"string\"}},{\"name\":\"top_k\",\"type\":\"long\"},{\"name\":\"created_at_ms\","
        "\"type\":\"long\"}]}",
    };
    gs_avro_schema_t *reader;
    assert_int_equal(gs_avro_schema_load("DialogueRequest", &reader, err, sizeof(err)), GS_OK);
    for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++) {
        gs_avro_schema_t *w = parse(schemas[i]);
        const gs_avro_plan_t *plan;
        gs_err_t e =
            gs_avro_schema_plan(w, &gs_avro_type_dialogue_request, &plan, err, sizeof(err));
        gs_err_t e2 = gs_avro_compatible(w, reader, err2, sizeof(err2));
        /* avro-c's messages start with the path, ": " when it is empty */
        const char *want = strncmp(err2, ": ", 2) ? err2 : err2 + 2;
        if (e != GS_ERR_SCHEMA || e2 != GS_ERR_SCHEMA || strcmp(err, want) != 0)
            fail_msg("case %zu: plan %s \"%s\", avro-c %s \"%s\"", i, gs_err_name(e), err,
                     gs_err_name(e2), err2);
        /* cached: the same refusal again, without compiling */
        assert_int_equal(
            gs_avro_schema_plan(w, &gs_avro_type_dialogue_request, &plan, err2, sizeof(err2)),
            GS_ERR_SCHEMA);
        assert_string_equal(err, err2);
        gs_avro_schema_destroy(w);
    }
    gs_avro_schema_destroy(reader);
}

/* An unknown enum symbol fails that value only (SCHEMA), int is promoted
 * to long, and a writer union resolves branch by branch. */
static void test_symbols_promotion_unions(void **state)
{
    fx_t *f = *state;
    char err[512];
    gs_avro_schema_t *w =
        parse("{\"type\":\"record\",\"name\":\"DialogueRequest\",\"fields\":["
              "{\"name\":\"request_id\",\"type\":\"string\"},{\"name\":\"session_id\",\"type\":"
              "[\"null\",\"string\"]},{\"name\":\"op\",\"type\":{\"type\":\"enum\",\"name\":"
              "\"DialogueOp\",\"symbols\":[\"TOP_K\",\"SUMMARIZE\"]}},"
              "{\"name\":\"turns\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
              "{\"name\":\"moral_value\",\"type\":[\"null\",\"int\",\"float\"]},"
              "{\"name\":\"created_at_ms\",\"type\":\"int\"}]}");
    const gs_avro_plan_t *plan;
    assert_int_equal(
        gs_avro_schema_plan(w, &gs_avro_type_dialogue_request, &plan, err, sizeof(err)), GS_OK);
    /* r, ["s"], TOP_K, ["hi"], int 1, created 12345 */
    uint8_t ok[] = {0x02, 'r', 0x02, 0x02, 's',  0x00, 0x02, 0x04,
                    'h',  'i', 0x00, 0x02, 0x02, 0xF2, 0xC0, 0x01};
    gs_avro_dialogue_request_t r;
    assert_int_equal(gs_avro_plan_decode(plan, ok, sizeof(ok), &f->arena, &r, err, sizeof(err)),
                     GS_OK);
    assert_int_equal(r.op, GS_AVRO_DIALOGUE_OP_TOP_K); /* index 0 in writer, 1 in reader */
    assert_int_equal(r.created_at_ms, 12345);
    assert_int_equal(r.top_k, 5); /* default */
    assert_true(r.has_moral_value && r.moral_value == 1.0);
    assert_true(r.session_id.len == 1 && r.session_id.p[0] == 's');
    ok[5] = 0x02; /* SUMMARIZE */
    assert_int_equal(gs_avro_plan_decode(plan, ok, sizeof(ok), &f->arena, &r, err, sizeof(err)),
                     GS_ERR_SCHEMA);
    assert_contains(err, "symbol SUMMARIZE is unknown");
    ok[5] = 0x00;
    ok[2] = 0x00; /* session_id null: the reader's string cannot hold it */
    uint8_t null_session[sizeof(ok) - 2];
    memcpy(null_session, ok, 3);
    memcpy(null_session + 3, ok + 5, sizeof(ok) - 5);
    assert_int_equal(gs_avro_plan_decode(plan, null_session, sizeof(null_session), &f->arena, &r,
                                         err, sizeof(err)),
                     GS_ERR_SCHEMA);
    assert_contains(err, "writer type null cannot be read as string");
    gs_avro_schema_destroy(w);
}

/* ---- 4. hostile writer schemas (found by tests/fuzz/) --------------------- */

/* A DialogueRequest whose extra field `deep` nests `levels` records (25:
 * within the depth bound, so the size bound is what stops it), each
 * with two fields of the record one level down: 2^levels paths through
 * types that are each defined once. */
static char *dag_schema(int levels, const char *leaf)
{
    size_t cap = 200 + (size_t)levels * 120;
    char *t = malloc(cap), *u = malloc(cap);
    assert_non_null(t);
    assert_non_null(u);
    snprintf(t, cap,
             "{\"type\":\"record\",\"name\":\"L0\",\"fields\":[{\"name\":\"x\",\"type\":%s}]}",
             leaf);
    for (int i = 1; i <= levels; i++) {
        snprintf(u, cap,
                 "{\"type\":\"record\",\"name\":\"L%d\",\"fields\":[{\"name\":\"a\",\"type\":%s},"
                 "{\"name\":\"b\",\"type\":\"L%d\"}]}",
                 i, t, i - 1);
        char *x = t;
        t = u;
        u = x;
    }
    snprintf(u, cap,
             "{\"type\":\"record\",\"name\":\"DialogueRequest\",\"fields\":[{\"name\":"
             "\"request_id\",\"type\":\"string\"},{\"name\":\"deep\",\"type\":%s}]}",
             t);
    free(t);
    return u;
}

static gs_err_t parse_err(const char *json, char *err, size_t n)
{
    gs_avro_schema_t *s = NULL;
    gs_err_t e = gs_avro_schema_parse(json, strlen(json), &s, err, n);
    gs_avro_schema_destroy(s);
    return e;
}

/* Every bound is a SCHEMA error (a dead letter), never a crash, a hang or
 * a leak: exponential DAGs, recursion, names defined twice, deep nesting. */
static void test_hostile_writer_schemas(void **state)
{
    (void)state;
    char err[512];
    const gs_avro_plan_t *plan;
    for (int null_leaves = 0; null_leaves < 2; null_leaves++) {
        char *json = dag_schema(25, null_leaves ? "\"null\"" : "\"string\"");
        gs_avro_schema_t *w = parse(json);
        assert_int_equal(
            gs_avro_schema_plan(w, &gs_avro_type_dialogue_request, &plan, err, sizeof(err)),
            GS_ERR_SCHEMA);
        assert_contains(err, "too large to resolve");
        gs_avro_schema_destroy(w);
        free(json);
    }
    assert_int_equal(parse_err("{\"type\":\"record\",\"name\":\"List\",\"fields\":[{\"name\":"
                               "\"next\",\"type\":[\"null\",\"List\"]}]}",
                               err, sizeof(err)),
                     GS_ERR_SCHEMA);
    assert_contains(err, "List is used inside itself");
    assert_int_equal(
        parse_err("{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\",\"fields\":["
                  "{\"name\":\"a\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
                  "\"symbols\":[\"X\"]}},{\"name\":\"b\",\"type\":{\"type\":\"enum\","
                  "\"name\":\"E\",\"symbols\":[\"Y\"]}}]}",
                  err, sizeof(err)),
        GS_ERR_SCHEMA);
    assert_contains(err, "type n.E is defined twice");
    char deep[8192] = "\"string\"", next[8192];
    for (int i = 0; i < 70; i++) {
        snprintf(next, sizeof(next), "{\"type\":\"array\",\"items\":%s}", deep);
        memcpy(deep, next, sizeof(deep));
    }
    assert_int_equal(parse_err(deep, err, sizeof(err)), GS_ERR_SCHEMA);
    assert_contains(err, "nested more than 64 deep");
}

/* --dump: the resolved schemas the peer parses, by name. */
static void dump_schemas(void)
{
    json_t *all = json_object();
    for (size_t i = 0; gs_schema_name(i); i++)
        json_object_set_new(all, gs_schema_name(i),
                            json_string(gs_schema_resolved(gs_schema_name(i))));
    char path[4096];
    snprintf(path, sizeof(path), "%s/schemas.json", dump_dir);
    if (json_dump_file(all, path, JSON_COMPACT))
        fprintf(stderr, "cannot write %s\n", path);
    json_decref(all);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--dump")) {
        dump_dir = argv[2];
        dump_schemas();
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_schema_every_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mutations_agree_with_walker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_lengths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_evolved_writer_plan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incompatible_writer_plans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symbols_promotion_unions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_writer_schemas, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
