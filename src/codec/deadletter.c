/* DeadLetter encoding. Field positions are resolved by name at creation. */
#include "govstream/deadletter.h"

#include <stdlib.h>
#include <string.h>

enum {
    DL_SOURCE,
    DL_KIND,
    DL_KEY,
    DL_VALUE,
    DL_VALUE_SIZE,
    DL_VALUE_TRUNCATED,
    DL_SCHEMA_ID,
    DL_ERROR_CLASS,
    DL_ERROR_MESSAGE,
    DL_WORKER_ID,
    DL_FAILED_AT_MS,
    DL__N
};
static const char *const dl_names[DL__N] = {
    "source",    "kind",        "key",           "value",     "value_size",  "value_truncated",
    "schema_id", "error_class", "error_message", "worker_id", "failed_at_ms"};

struct gs_deadletter_codec {
    gs_avro_schema_t *schema;
    size_t ix[DL__N];
    avro_value_t value;
};

gs_err_t gs_deadletter_codec_new(gs_deadletter_codec_t **out, char *errstr, size_t n)
{
    gs_deadletter_codec_t *c = calloc(1, sizeof(*c));
    if (!c)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_err_t err = gs_avro_value_new("DeadLetter", &c->schema, &c->value, errstr, n);
    if (!err)
        err = gs_avro_field_indexes(c->schema, dl_names, DL__N, c->ix, errstr, n);
    if (err) {
        gs_deadletter_codec_destroy(c);
        return err;
    }
    *out = c;
    return GS_OK;
}

void gs_deadletter_codec_destroy(gs_deadletter_codec_t *c)
{
    if (!c)
        return;
    gs_avro_value_free(c->schema, &c->value);
    free(c);
}

gs_avro_schema_t *gs_deadletter_schema(const gs_deadletter_codec_t *c)
{
    return c->schema;
}

const char *gs_deadletter_class_name(gs_err_t err)
{
    return gs_err_is_input(err) ? gs_err_name(err) : "INTERNAL";
}

/* ["null", bytes] */
static int set_opt_bytes(avro_value_t *u, const void *p, size_t len)
{
    avro_value_t b;
    if (!p)
        return avro_value_set_branch(u, 0, &b) || avro_value_set_null(&b);
    return avro_value_set_branch(u, 1, &b) || avro_value_set_bytes(&b, (void *)p, len);
}

gs_err_t gs_deadletter_encode(gs_deadletter_codec_t *c, const gs_deadletter_t *dl,
                              size_t max_value_bytes, int32_t schema_id, gs_buf_t *out,
                              char *errstr, size_t n)
{
    avro_value_t *v = &c->value, f, sub;
    int rc = 0;
    size_t keep = dl->value_len > max_value_bytes ? max_value_bytes : dl->value_len;
    avro_value_reset(v);
#define F(i) (avro_value_get_by_index(v, c->ix[i], &f, NULL) ? -1 : 0)
    rc |= F(DL_SOURCE);
    rc |= rc || avro_value_get_by_index(&f, 0, &sub, NULL) || gs_avro_set_cstr(&sub, dl->topic);
    rc |=
        rc || avro_value_get_by_index(&f, 1, &sub, NULL) || avro_value_set_int(&sub, dl->partition);
    rc |= rc || avro_value_get_by_index(&f, 2, &sub, NULL) || avro_value_set_long(&sub, dl->offset);
    rc |= F(DL_KIND) || gs_avro_set_cstr(&f, dl->kind);
    rc |= F(DL_KEY) || set_opt_bytes(&f, dl->key, dl->key_len);
    rc |= F(DL_VALUE) || set_opt_bytes(&f, dl->value, keep);
    rc |= F(DL_VALUE_SIZE) || avro_value_set_long(&f, dl->value_size);
    rc |= F(DL_VALUE_TRUNCATED) ||
          avro_value_set_boolean(&f, dl->value && (int64_t)keep < dl->value_size);
    rc |= F(DL_SCHEMA_ID);
    if (!rc && dl->schema_id >= 0)
        rc |= avro_value_set_branch(&f, 1, &sub) || avro_value_set_int(&sub, dl->schema_id);
    else if (!rc)
        rc |= avro_value_set_branch(&f, 0, &sub) || avro_value_set_null(&sub);
    rc |= F(DL_ERROR_CLASS);
    if (!rc) {
        int sym = avro_schema_enum_get_by_name(avro_value_get_schema(&f),
                                               gs_deadletter_class_name(dl->error_class));
        rc |= sym < 0 || avro_value_set_enum(&f, sym);
    }
    rc |= F(DL_ERROR_MESSAGE) || gs_avro_set_cstr(&f, dl->error_message);
    rc |= F(DL_WORKER_ID) || gs_avro_set_cstr(&f, dl->worker_id);
    rc |= F(DL_FAILED_AT_MS) || avro_value_set_long(&f, dl->failed_at_ms);
#undef F
    if (rc)
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "dead letter encode: %s", avro_strerror());
    return gs_avro_encode(v, schema_id, out, errstr, n);
}
