/* Values of the generated layout <-> avro-c generic values of the same
 * schema: how the tests hold the generated codec against avro-c, and how
 * the load generator writes with a producer's other schema. Not on the
 * worker's path. */
#include <stdlib.h>
#include <string.h>

#include "govstream/codec.h"

static gs_err_t oops(char *errstr, size_t n, const char *what)
{
    return gs_fail(errstr, n, GS_ERR_INTERNAL, "%s: %s", what, avro_strerror());
}

/* avro-c takes strings NUL-terminated, with the NUL in the size. */
static int set_string(avro_value_t *v, gs_str_t s)
{
    char *tmp = malloc(s.len + 1);
    if (!tmp)
        return -1;
    if (s.len)
        memcpy(tmp, s.p, s.len);
    tmp[s.len] = '\0';
    int rc = avro_value_set_string_len(v, tmp, s.len + 1);
    free(tmp);
    return rc;
}

static gs_err_t to_value(const gs_avro_node_t *t, const void *v, size_t count, bool has,
                         avro_value_t *out, int depth, char *errstr, size_t n);

static gs_err_t to_record(const gs_avro_node_t *t, const char *v, avro_value_t *out, int depth,
                          char *errstr, size_t n)
{
    for (uint32_t i = 0; i < t->n_fields; i++) {
        const gs_avro_field_t *f = &t->fields[i];
        avro_value_t fv;
        if (avro_value_get_by_index(out, i, &fv, NULL))
            return oops(errstr, n, f->name);
        size_t count = 0;
        bool has = true;
        if (f->count)
            memcpy(&count, v + f->count, sizeof(count));
        if (f->has)
            memcpy(&has, v + f->has, sizeof(has));
        gs_err_t err = to_value(f->type, v + f->offset, count, has, &fv, depth + 1, errstr, n);
        if (err)
            return err;
    }
    return GS_OK;
}

static gs_err_t to_items(const gs_avro_node_t *t, const void *v, size_t count, avro_value_t *out,
                         int depth, char *errstr, size_t n)
{
    const char *items;
    memcpy(&items, v, sizeof(items));
    avro_value_reset(out);
    int map = t->kind == GS_AVRO_T_MAP;
    size_t stride = map ? t->entry_size : t->items->size;
    for (size_t i = 0; i < count; i++) {
        const char *it = items + i * stride;
        avro_value_t e;
        if (map) {
            gs_str_t key;
            memcpy(&key, it, sizeof(key));
            char *k = strndup(key.p, key.len);
            int rc = !k || avro_value_add(out, k, &e, NULL, NULL);
            free(k);
            if (rc)
                return oops(errstr, n, "map entry");
        } else if (avro_value_append(out, &e, NULL)) {
            return oops(errstr, n, "array item");
        }
        gs_err_t err =
            to_value(t->items, it + (map ? t->value_offset : 0), 0, true, &e, depth + 1, errstr, n);
        if (err)
            return err;
    }
    return GS_OK;
}

static gs_err_t to_value(const gs_avro_node_t *t, const void *v, size_t count, bool has,
                         avro_value_t *out, int depth, char *errstr, size_t n)
{
    gs_str_t s;
    int rc = 0, i;
    if (depth > GS_AVRO_MAX_DEPTH)
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "value nested too deeply");
    switch (t->kind) {
    case GS_AVRO_T_NULL:
        rc = avro_value_set_null(out);
        break;
    case GS_AVRO_T_BOOLEAN:
        rc = avro_value_set_boolean(out, *(const bool *)v);
        break;
    case GS_AVRO_T_INT:
        rc = avro_value_set_int(out, *(const int32_t *)v);
        break;
    case GS_AVRO_T_LONG:
        rc = avro_value_set_long(out, *(const int64_t *)v);
        break;
    case GS_AVRO_T_FLOAT:
        rc = avro_value_set_float(out, *(const float *)v);
        break;
    case GS_AVRO_T_DOUBLE:
        rc = avro_value_set_double(out, *(const double *)v);
        break;
    case GS_AVRO_T_STRING:
        memcpy(&s, v, sizeof(s));
        rc = set_string(out, s);
        break;
    case GS_AVRO_T_BYTES:
    case GS_AVRO_T_FIXED:
        memcpy(&s, v, sizeof(s));
        rc = t->kind == GS_AVRO_T_BYTES ? avro_value_set_bytes(out, (void *)s.p, s.len)
                                        : avro_value_set_fixed(out, (void *)s.p, s.len);
        break;
    case GS_AVRO_T_ENUM:
        memcpy(&i, v, sizeof(i));
        rc = avro_value_set_enum(out, i);
        break;
    case GS_AVRO_T_RECORD:
        return to_record(t, v, out, depth, errstr, n);
    case GS_AVRO_T_ARRAY:
    case GS_AVRO_T_MAP:
        return to_items(t, v, count, out, depth, errstr, n);
    case GS_AVRO_T_OPTIONAL: {
        avro_value_t b;
        int branch = has ? t->null_first : !t->null_first; /* of ["null", T] or [T, "null"] */
        if (avro_value_set_branch(out, branch, &b))
            return oops(errstr, n, "union");
        return has ? to_value(t->items, v, count, true, &b, depth + 1, errstr, n)
                   : (avro_value_set_null(&b) ? oops(errstr, n, "null") : GS_OK);
    }
    }
    return rc ? oops(errstr, n, "value") : GS_OK;
}

gs_err_t gs_avro_to_value(const gs_avro_node_t *node, const void *value, avro_value_t *out,
                          char *errstr, size_t n)
{
    return to_value(node, value, 0, true, out, 0, errstr, n);
}

/* ---- and back ------------------------------------------------------------ */

static gs_err_t from_value(const gs_avro_node_t *t, avro_value_t *in, void *v, size_t *count,
                           bool *has, gs_arena_t *arena, int depth, char *errstr, size_t n);

static gs_err_t from_items(const gs_avro_node_t *t, avro_value_t *in, void *v, size_t *count,
                           gs_arena_t *arena, int depth, char *errstr, size_t n)
{
    size_t size;
    if (!count) /* arrays are record fields (the generator refuses others) */
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "an array without a count");
    if (avro_value_get_size(in, &size))
        return oops(errstr, n, "size");
    int map = t->kind == GS_AVRO_T_MAP;
    size_t stride = map ? t->entry_size : t->items->size;
    char *items = gs_arena_alloc(arena, size * stride + 1);
    if (!items)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    memset(items, 0, size * stride);
    for (size_t i = 0; i < size; i++) {
        avro_value_t e;
        const char *key = NULL;
        if (avro_value_get_by_index(in, i, &e, &key))
            return oops(errstr, n, "item");
        char *it = items + i * stride;
        if (map) {
            gs_str_t k = {key, strlen(key)};
            memcpy(it, &k, sizeof(k));
        }
        gs_err_t err = from_value(t->items, &e, it + (map ? t->value_offset : 0), NULL, NULL, arena,
                                  depth + 1, errstr, n);
        if (err)
            return err;
    }
    memcpy(v, &items, sizeof(items));
    *count = size;
    return GS_OK;
}

static gs_err_t from_value(const gs_avro_node_t *t, avro_value_t *in, void *v, size_t *count,
                           bool *has, gs_arena_t *arena, int depth, char *errstr, size_t n)
{
    gs_str_t s = {0};
    const void *p = NULL;
    int rc = 0, i = 0;
    if (depth > GS_AVRO_MAX_DEPTH)
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "value nested too deeply");
    switch (t->kind) {
    case GS_AVRO_T_NULL:
        return GS_OK;
    case GS_AVRO_T_BOOLEAN:
        rc = avro_value_get_boolean(in, &i);
        *(bool *)v = i != 0;
        break;
    case GS_AVRO_T_INT:
        return avro_value_get_int(in, v) ? oops(errstr, n, "int") : GS_OK;
    case GS_AVRO_T_LONG:
        return avro_value_get_long(in, v) ? oops(errstr, n, "long") : GS_OK;
    case GS_AVRO_T_FLOAT:
        return avro_value_get_float(in, v) ? oops(errstr, n, "float") : GS_OK;
    case GS_AVRO_T_DOUBLE:
        return avro_value_get_double(in, v) ? oops(errstr, n, "double") : GS_OK;
    case GS_AVRO_T_STRING:
        rc = avro_value_get_string(in, &s.p, &s.len);
        s.len = s.len ? s.len - 1 : 0; /* avro-c counts the NUL */
        memcpy(v, &s, sizeof(s));
        break;
    case GS_AVRO_T_BYTES:
    case GS_AVRO_T_FIXED:
        rc = t->kind == GS_AVRO_T_BYTES ? avro_value_get_bytes(in, &p, &s.len)
                                        : avro_value_get_fixed(in, &p, &s.len);
        s.p = p;
        memcpy(v, &s, sizeof(s));
        break;
    case GS_AVRO_T_ENUM:
        rc = avro_value_get_enum(in, &i);
        memcpy(v, &i, sizeof(i));
        break;
    case GS_AVRO_T_RECORD:
        for (uint32_t k = 0; k < t->n_fields; k++) {
            const gs_avro_field_t *f = &t->fields[k];
            avro_value_t fv;
            char *rec = v;
            if (avro_value_get_by_index(in, k, &fv, NULL))
                return oops(errstr, n, f->name);
            gs_err_t err = from_value(
                f->type, &fv, rec + f->offset, f->count ? (size_t *)(rec + f->count) : NULL,
                f->has ? (bool *)(rec + f->has) : NULL, arena, depth + 1, errstr, n);
            if (err)
                return err;
        }
        return GS_OK;
    case GS_AVRO_T_ARRAY:
    case GS_AVRO_T_MAP:
        return from_items(t, in, v, count, arena, depth, errstr, n);
    case GS_AVRO_T_OPTIONAL: {
        avro_value_t b;
        if (!has)
            return gs_fail(errstr, n, GS_ERR_INTERNAL, "a union without a flag");
        if (avro_value_get_discriminant(in, &i) || avro_value_get_current_branch(in, &b))
            return oops(errstr, n, "union");
        *has = i == t->null_first;
        if (*has)
            return from_value(t->items, &b, v, count, NULL, arena, depth + 1, errstr, n);
        memset(v, 0, t->items->size);
        if (count)
            *count = 0;
        return GS_OK;
    }
    }
    return rc ? oops(errstr, n, "value") : GS_OK;
}

gs_err_t gs_avro_from_value(const gs_avro_node_t *node, avro_value_t *in, void *value,
                            gs_arena_t *arena, char *errstr, size_t n)
{
    return from_value(node, in, value, NULL, NULL, arena, 0, errstr, n);
}

gs_err_t gs_avro_encode_as(const gs_avro_type_t *type, const void *value,
                           const gs_avro_schema_t *writer, int32_t schema_id, gs_buf_t *out,
                           char *errstr, size_t n)
{
    gs_avro_schema_t *ours;
    avro_value_t mine, theirs;
    gs_err_t err = gs_avro_schema_parse(type->schema, strlen(type->schema), &ours, errstr, n);
    if (err)
        return err;
    if (avro_generic_value_new(gs_avro_schema_iface(ours), &mine)) {
        gs_avro_schema_destroy(ours);
        return oops(errstr, n, "our value");
    }
    if (avro_generic_value_new(gs_avro_schema_iface(writer), &theirs)) {
        gs_avro_value_free(ours, &mine);
        return oops(errstr, n, "writer value");
    }
    err = gs_avro_to_value(type->node, value, &mine, errstr, n);
    if (!err)
        err = gs_avro_project(&mine, &theirs, writer, errstr, n);
    if (!err)
        err = gs_avro_encode(&theirs, schema_id, out, errstr, n);
    avro_value_decref(&theirs);
    gs_avro_value_free(ours, &mine);
    return err;
}
