/* DeadLetter encoding, with the generated codec. */
#include "govstream/deadletter.h"

#include <stdlib.h>
#include <string.h>

#include "govstream/schemas.h"

struct gs_deadletter_codec {
    gs_avro_schema_t *schema; /* parsed, for the registry */
};

gs_err_t gs_deadletter_codec_new(gs_deadletter_codec_t **out, char *errstr, size_t n)
{
    gs_deadletter_codec_t *c = calloc(1, sizeof(*c));
    if (!c)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_err_t err = gs_avro_schema_load("DeadLetter", &c->schema, errstr, n);
    if (err) {
        free(c);
        return err;
    }
    *out = c;
    return GS_OK;
}

void gs_deadletter_codec_destroy(gs_deadletter_codec_t *c)
{
    if (!c)
        return;
    gs_avro_schema_destroy(c->schema);
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

/* ErrorClass follows gs_err_t's input errors, DECODE first. */
_Static_assert(GS_ERR_DECODE + GS_AVRO_ERROR_CLASS_INTERNAL == GS_ERR_INTERNAL,
               "ErrorClass and gs_err_t disagree");

gs_err_t gs_deadletter_encode(gs_deadletter_codec_t *c, const gs_deadletter_t *dl,
                              size_t max_value_bytes, int32_t schema_id, gs_buf_t *out,
                              char *errstr, size_t n)
{
    (void)c;
    size_t keep = dl->value_len > max_value_bytes ? max_value_bytes : dl->value_len;
    gs_err_t cls = gs_err_is_input(dl->error_class) ? dl->error_class : GS_ERR_INTERNAL;
    gs_avro_dead_letter_t v = {
        .source = {gs_avro_cstr(dl->topic), dl->partition, dl->offset},
        .kind = gs_avro_cstr(dl->kind),
        .has_key = dl->key != NULL,
        .key = {dl->key, dl->key_len},
        .has_value = dl->value != NULL,
        .value = {dl->value, keep},
        .value_size = dl->value_size,
        .value_truncated = dl->value && (int64_t)keep < dl->value_size,
        .has_schema_id = dl->schema_id >= 0,
        .schema_id = dl->schema_id,
        .error_class = (gs_avro_error_class_t)(cls - GS_ERR_DECODE),
        .error_message = gs_avro_cstr(dl->error_message),
        .worker_id = gs_avro_cstr(dl->worker_id),
        .failed_at_ms = dl->failed_at_ms,
    };
    return gs_avro_dead_letter_encode(&v, schema_id, out, errstr, n);
}
