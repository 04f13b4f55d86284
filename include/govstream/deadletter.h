/* govstream - the DeadLetter record (SPEC 2, schemas/DeadLetter.avsc). */
#ifndef GOVSTREAM_DEADLETTER_H
#define GOVSTREAM_DEADLETTER_H

#include "govstream/codec.h"

typedef struct gs_deadletter {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *kind;
    const void *key; /* NULL: null */
    size_t key_len;
    const void *value; /* NULL: null */
    size_t value_len;  /* bytes kept (may be less than value_size) */
    int64_t value_size;
    int32_t schema_id;    /* -1: null */
    gs_err_t error_class; /* GS_ERR_DECODE .. GS_ERR_INTERNAL */
    const char *error_message;
    const char *worker_id;
    int64_t failed_at_ms;
} gs_deadletter_t;

typedef struct gs_deadletter_codec gs_deadletter_codec_t;

gs_err_t gs_deadletter_codec_new(gs_deadletter_codec_t **out, char *errstr, size_t errstr_size);
void gs_deadletter_codec_destroy(gs_deadletter_codec_t *c);
gs_avro_schema_t *gs_deadletter_schema(const gs_deadletter_codec_t *c);

/* Encodes dl; value is cut to max_value_bytes (value_truncated = true). */
gs_err_t gs_deadletter_encode(gs_deadletter_codec_t *c, const gs_deadletter_t *dl,
                              size_t max_value_bytes, int32_t schema_id, gs_buf_t *out,
                              char *errstr, size_t errstr_size);

/* The error_class symbol for an input error ("DECODE", ...). */
const char *gs_deadletter_class_name(gs_err_t err);

#endif
