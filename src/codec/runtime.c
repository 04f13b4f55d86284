/* What the generated decoders and encoders call (govstream/avrogen.h), and
 * the node-driven reader that does the same from a gs_avro_node_t tree. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "govstream/avrogen.h"

#define MAX_BLOCK_ITEMS 10000000 /* items of one array or map, for zero-byte items */

const gs_avro_node_t gs_avro_node_null = {.kind = GS_AVRO_T_NULL};
const gs_avro_node_t gs_avro_node_boolean = {
    .kind = GS_AVRO_T_BOOLEAN, .size = sizeof(bool), .min_bytes = 1};
const gs_avro_node_t gs_avro_node_int = {
    .kind = GS_AVRO_T_INT, .size = sizeof(int32_t), .min_bytes = 1};
const gs_avro_node_t gs_avro_node_long = {
    .kind = GS_AVRO_T_LONG, .size = sizeof(int64_t), .min_bytes = 1};
const gs_avro_node_t gs_avro_node_float = {
    .kind = GS_AVRO_T_FLOAT, .size = sizeof(float), .min_bytes = 4};
const gs_avro_node_t gs_avro_node_double = {
    .kind = GS_AVRO_T_DOUBLE, .size = sizeof(double), .min_bytes = 8};
const gs_avro_node_t gs_avro_node_bytes = {
    .kind = GS_AVRO_T_BYTES, .size = sizeof(gs_str_t), .min_bytes = 1};
const gs_avro_node_t gs_avro_node_string = {
    .kind = GS_AVRO_T_STRING, .size = sizeof(gs_str_t), .min_bytes = 1};

int gs_avro_bad(gs_avro_in_t *in, const char *why)
{
    if (!in->why) {
        in->why = why;
        in->err = GS_ERR_DECODE;
    }
    return -1;
}

int gs_avro_bad_schema(gs_avro_in_t *in, const char *fmt, ...)
{
    if (!in->why) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(in->detail, sizeof(in->detail), fmt, ap);
        va_end(ap);
        in->why = in->detail;
        in->err = GS_ERR_SCHEMA;
    }
    return -1;
}

int gs_avro_end(gs_avro_in_t *in)
{
    return in->p == in->end ? 0 : gs_avro_bad(in, "trailing bytes after the record");
}

gs_err_t gs_avro_in_fail(const gs_avro_in_t *in, char *errstr, size_t n)
{
    const char *why = in->why ? in->why : "decoder failed";
    if (in->err == GS_ERR_SCHEMA)
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "%s", why);
    if (in->err == GS_ERR_NOMEM)
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "out of memory decoding %zu bytes",
                       (size_t)(in->end - in->start));
    if (in->err == GS_ERR_INTERNAL)
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "%s", why);
    return gs_fail(errstr, n, GS_ERR_DECODE, "invalid Avro at byte %zu of %zu: %s",
                   (size_t)(in->p - in->start), (size_t)(in->end - in->start), why);
}

int gs_avro_get_block(gs_avro_in_t *in, int64_t *count, uint32_t min_bytes)
{
    int64_t c;
    if (gs_avro_get_long(in, &c))
        return -1;
    if (c < 0) { /* a negative count is followed by the block's byte size */
        if (c == INT64_MIN)
            return gs_avro_bad(in, "invalid block count");
        c = -c;
        int64_t bytes;
        if (gs_avro_get_long(in, &bytes))
            return -1;
        if (bytes < 0 || bytes > in->end - in->p)
            return gs_avro_bad(in, "invalid block byte size");
    }
    /* what the bytes left can hold, so a huge count cannot spin or allocate */
    if ((min_bytes && (uint64_t)c > (uint64_t)(in->end - in->p) / min_bytes) || c > MAX_BLOCK_ITEMS)
        return gs_avro_bad(in, "block count larger than the message can hold");
    *count = c;
    return 0;
}

void *gs_avro_extend(gs_avro_in_t *in, void **items, size_t *n, size_t add, size_t size)
{
    size_t total = *n + add;
    if (!in->arena || (size && total > SIZE_MAX / size)) {
        gs_avro_bad(in, "array too large");
        in->err = GS_ERR_NOMEM;
        return NULL;
    }
    char *p = gs_arena_alloc(in->arena, total * size + 1);
    if (!p) {
        gs_avro_bad(in, "out of memory");
        in->err = GS_ERR_NOMEM;
        return NULL;
    }
    if (*n)
        memcpy(p, *items, *n * size); /* a second block: rare */
    *items = p;
    *n = total;
    return p + (total - add) * size;
}

int gs_avro_begin(gs_buf_t *b, int32_t schema_id)
{
    b->len = 0;
    if (schema_id < 0)
        return 0;
    if (gs_buf_reserve(b, GS_CONFLUENT_HEADER))
        return -1;
    gs_frame_header(b->data, schema_id);
    b->len = GS_CONFLUENT_HEADER;
    return 0;
}

void gs_frame_header(uint8_t out[GS_CONFLUENT_HEADER], int32_t schema_id)
{
    uint32_t id = (uint32_t)schema_id;
    out[0] = 0;
    out[1] = (uint8_t)(id >> 24);
    out[2] = (uint8_t)(id >> 16);
    out[3] = (uint8_t)(id >> 8);
    out[4] = (uint8_t)id;
}

const gs_avro_field_t *gs_avro_field(const gs_avro_node_t *record, const char *name)
{
    for (uint32_t i = 0; record && i < record->n_fields; i++)
        if (!strcmp(record->fields[i].name, name))
            return &record->fields[i];
    return NULL;
}

/* ---- the node-driven reader -------------------------------------------- */

static int read_node(gs_avro_in_t *in, const gs_avro_node_t *t, void *v, size_t *count, bool *has,
                     int depth);

static int read_record(gs_avro_in_t *in, const gs_avro_node_t *t, char *v, int depth)
{
    for (uint32_t i = 0; i < t->n_fields; i++) {
        const gs_avro_field_t *f = &t->fields[i];
        if (read_node(in, f->type, v + f->offset, f->count ? (size_t *)(v + f->count) : NULL,
                      f->has ? (bool *)(v + f->has) : NULL, depth + 1))
            return -1;
    }
    return 0;
}

static int read_blocks(gs_avro_in_t *in, const gs_avro_node_t *t, void **items, size_t *count,
                       int depth)
{
    int map = t->kind == GS_AVRO_T_MAP;
    size_t stride = map ? t->entry_size : t->items->size;
    *items = NULL;
    *count = 0;
    for (;;) {
        int64_t c = 0;
        if (gs_avro_get_block(in, &c, t->items->min_bytes + (uint32_t)map))
            return -1;
        if (!c)
            return 0;
        char *it = gs_avro_extend(in, items, count, (size_t)c, stride);
        if (!it)
            return -1;
        for (int64_t i = 0; i < c; i++, it += stride) {
            if (map && gs_avro_get_bytes(in, (gs_str_t *)it))
                return -1;
            if (read_node(in, t->items, it + (map ? t->value_offset : 0), NULL, NULL, depth + 1))
                return -1;
        }
    }
}

static int read_node(gs_avro_in_t *in, const gs_avro_node_t *t, void *v, size_t *count, bool *has,
                     int depth)
{
    int idx;
    if (depth > GS_AVRO_MAX_DEPTH)
        return gs_avro_bad(in, "nesting too deep");
    switch (t->kind) {
    case GS_AVRO_T_NULL:
        return 0;
    case GS_AVRO_T_BOOLEAN:
        return gs_avro_get_boolean(in, v);
    case GS_AVRO_T_INT:
        return gs_avro_get_int(in, v);
    case GS_AVRO_T_LONG:
        return gs_avro_get_long(in, v);
    case GS_AVRO_T_FLOAT:
        return gs_avro_get_float(in, v);
    case GS_AVRO_T_DOUBLE:
        return gs_avro_get_double(in, v);
    case GS_AVRO_T_BYTES:
    case GS_AVRO_T_STRING:
        return gs_avro_get_bytes(in, v);
    case GS_AVRO_T_FIXED:
        return gs_avro_get_fixed(in, v, t->fixed_size);
    case GS_AVRO_T_ENUM:
        if (gs_avro_get_index(in, &idx, t->n_symbols, "enum index out of range"))
            return -1;
        memcpy(v, &idx, sizeof(int)); /* C enums of the generated code are int-sized */
        return 0;
    case GS_AVRO_T_RECORD:
        return read_record(in, t, v, depth);
    case GS_AVRO_T_ARRAY:
    case GS_AVRO_T_MAP: {
        void *items;
        if (!count) /* arrays are record fields (the generator refuses others) */
            return gs_avro_bad(in, "an array without a count");
        int rc = read_blocks(in, t, &items, count, depth);
        memcpy(v, &items, sizeof(items));
        return rc;
    }
    case GS_AVRO_T_OPTIONAL:
        if (!has) /* optionals are record fields (the generator refuses others) */
            return gs_avro_bad(in, "a union without a flag");
        if (gs_avro_get_index(in, &idx, 2, "union branch out of range"))
            return -1;
        *has = idx == t->null_first;
        if (*has)
            return read_node(in, t->items, v, count, NULL, depth + 1);
        memset(v, 0, t->items->size);
        if (count)
            *count = 0;
        return 0;
    }
    return gs_avro_bad(in, "unsupported type");
}

int gs_avro_read_node(gs_avro_in_t *in, const gs_avro_node_t *node, void *value, size_t *count,
                      bool *has)
{
    return read_node(in, node, value, count, has, 0);
}

int gs_avro_read_default(gs_avro_in_t *in, const gs_avro_field_t *f, char *record)
{
    gs_avro_in_t d = GS_AVRO_IN(f->def, f->def_len, in->arena);
    if (!read_node(&d, f->type, record + f->offset, f->count ? (size_t *)(record + f->count) : NULL,
                   f->has ? (bool *)(record + f->has) : NULL, 0))
        return 0;
    gs_avro_bad(in, "a default does not decode (the generator is wrong)");
    in->err = GS_ERR_INTERNAL;
    return -1;
}

gs_err_t gs_avro_set_defaults_node(const gs_avro_node_t *record, void *value, gs_arena_t *arena,
                                   char *errstr, size_t n)
{
    memset(value, 0, record->size);
    gs_avro_in_t in = GS_AVRO_IN((const uint8_t *)"", 0, arena);
    for (uint32_t i = 0; i < record->n_fields; i++)
        if (record->fields[i].def && gs_avro_read_default(&in, &record->fields[i], value))
            return gs_avro_in_fail(&in, errstr, n);
    return GS_OK;
}
