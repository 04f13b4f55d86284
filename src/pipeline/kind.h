/* The contract between the generic worker and one request kind (private to
 * src/pipeline). The worker consumes, frames, checks and decodes; the kind
 * turns decoded requests into encoded results in one call per micro-batch
 * (so models can run matrix-matrix); the worker produces and commits. */
#ifndef GS_PIPELINE_KIND_H
#define GS_PIPELINE_KIND_H

#include <librdkafka/rdkafka.h>

#include "govstream/codec.h"
#include "govstream/config.h"

typedef struct gs_item {
    rd_kafka_message_t *msg;
    int slot;          /* offset-tracker slot of msg's partition */
    int32_t schema_id; /* -1: raw framing */
    gs_err_t err;      /* set: the item becomes a dead letter */
    char errmsg[256];
    avro_value_t *request; /* decoded, reader schema */
    gs_buf_t *out;         /* encoded result */
    gs_str_t out_key;      /* result key (a view into request) */
    int64_t t0_us, decode_us;
} gs_item_t;

typedef struct gs_kind gs_kind_t;

struct gs_kind {
    const char *name;
    const gs_config_kind_t *cfg;
    gs_avro_schema_t *request_schema; /* reader */
    gs_avro_schema_t *result_schema;
    int32_t result_schema_id; /* -1: raw output framing */
    void *state;
    /* Fills out/out_key, or err/errmsg, for every item with err == GS_OK. */
    void (*process)(gs_kind_t *k, gs_item_t *items, size_t n, const char *worker_id);
    void (*destroy)(gs_kind_t *k);
};

gs_err_t gs_kind_dialogue_new(const gs_config_t *cfg, gs_kind_t **out, char *errstr,
                              size_t errstr_size);

#endif
