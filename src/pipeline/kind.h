/* The contract between the generic worker and one request kind (private to
 * src/pipeline). The worker consumes, frames, checks and decodes; the kind
 * turns decoded requests into encoded results in one call per micro-batch
 * (so models can run matrix-matrix); the worker produces and commits. */
#ifndef GS_PIPELINE_KIND_H
#define GS_PIPELINE_KIND_H

#include <librdkafka/rdkafka.h>

#include "govstream/codec.h"
#include "govstream/config.h"
#include "govstream/govern.h"

#define MAX_KINDS 4

typedef struct gs_item {
    rd_kafka_message_t *msg;
    int slot;          /* offset-tracker slot of msg's partition */
    unsigned kind;     /* index of its kind in the worker */
    int32_t schema_id; /* -1: raw framing */
    gs_err_t err;      /* set: the item becomes a dead letter */
    char errmsg[256];
    avro_value_t *request; /* decoded, reader schema */
    gs_buf_t *out;         /* encoded result */
    gs_str_t out_key;      /* result key (a view into request) */
    int64_t decode_us;     /* framing, registry lookup, check and decode */
    /* filled by the kind for items it turned into results */
    int accepted;                          /* the result's verdict */
    int64_t govern_us, infer_us, total_us; /* total: batch start to result encoded */
} gs_item_t;

/* What one micro-batch shares. Timings are chained per item (the end of
 * one is the start of the next) to read the clock twice per request. */
typedef struct gs_batch_env {
    const char *worker_id;
    int64_t start_us;   /* processing of the batch began (monotonic) */
    int64_t decoded_us; /* all items decoded, the kind's turn begins */
    int64_t wall_ms;    /* processed_at of the batch's results */
} gs_batch_env_t;

typedef struct gs_kind gs_kind_t;

struct gs_kind {
    const char *name;
    const gs_config_kind_t *cfg;
    gs_avro_schema_t *request_schema; /* reader */
    gs_avro_schema_t *result_schema;
    int32_t result_schema_id;  /* -1: raw output framing */
    const gs_govern_t *govern; /* its governance state, for metrics and /state */
    void *state;
    /* (Re)loads the kind's models from the configuration: at start and on
     * SIGHUP. On failure the current models stay; errstr says why. May be
     * NULL for kinds without models. */
    gs_err_t (*load_models)(gs_kind_t *k, char *errstr, size_t errstr_size);
    /* Fills out/out_key, or err/errmsg, for every item with err == GS_OK. */
    void (*process)(gs_kind_t *k, gs_item_t *const *items, size_t n, const gs_batch_env_t *env);
    void (*destroy)(gs_kind_t *k);
};

gs_err_t gs_kind_dialogue_new(const gs_config_t *cfg, gs_kind_t **out, char *errstr,
                              size_t errstr_size);

#endif
