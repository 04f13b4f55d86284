/* The worker's state, shared by the poll loop (worker.c) and the batch
 * (batch.c). Private to src/pipeline. */
#ifndef GS_PIPELINE_INTERNAL_H
#define GS_PIPELINE_INTERNAL_H

#include "govstream/alert.h"
#include "govstream/deadletter.h"
#include "govstream/health.h"
#include "govstream/kafka.h"
#include "govstream/kind.h"
#include "govstream/metrics_codec.h"
#include "govstream/pipeline.h"
#include "govstream/registry.h"
#include "govstream/state.h"
#include "observe.h"

/* One consumed message of the batch. */
typedef struct witem {
    gs_item_t pub; /* what its kind sees */
    rd_kafka_message_t *msg;
    int slot;          /* offset-tracker slot of msg's partition */
    unsigned kind;     /* index in w->kinds */
    int32_t schema_id; /* -1: raw framing */
    gs_buf_t *out;     /* the encoded result */
    int64_t decode_us, total_us;
} witem_t;

/* Where the SPEC 1.2 envelope is in a kind's request and result structs. */
typedef struct envelope {
    uint32_t req_id, req_key, req_tenant;
    uint32_t res_id, res_key, res_tenant, source, timings, worker_id, processed_at;
} envelope_t;

/* An enabled kind in the worker. */
typedef struct kind_rt {
    const gs_kind_ops_t *ops;
    gs_kind_t *k;
    const gs_config_kind_t *stream;
    gs_avro_schema_t *result_schema; /* parsed: registered under <topic>-value */
    int32_t result_schema_id;        /* -1: raw output framing */
    rd_kafka_topic_t *rkt;           /* results */
    char *requests, *results;        /* batch.max structs of each */
    size_t n_batch;                  /* of them used by the batch */
    gs_item_t **mine;                /* its items of the batch */
    envelope_t env;
} kind_rt_t;

/* The loop's periodic work, in one place. */
typedef struct timers {
    int64_t gauges, snapshot, last_snapshot, stats, probe, registry_retry, txn;
} timers_t;

typedef struct counters {
    uint64_t consumed, results, deadletters[GS_ERR__COUNT];
} counters_t;

struct gs_worker {
    const gs_config_t *cfg;
    gs_log_t *log;
    gs_kafka_state_t kafka;
    gs_consumer_t *consumer;
    gs_producer_t *producer;
    gs_offsets_t *offsets;
    gs_state_t *state;           /* the kinds' state stores and their changelog */
    rd_kafka_topic_t *state_rkt; /* NULL: no stores, or state.changelog off */
    gs_registry_t *registry;
    gs_health_t *health;
    gs_metrics_t *metrics;
    obs_t obs;
    gs_alerter_t *alerter;
    gs_msnap_codec_t *msnap;
    gs_buf_t msnap_buf;
    int32_t msnap_schema_id;
    rd_kafka_topic_t *dl_rkt, *metrics_rkt, *alerts_rkt; /* the last two NULL when off */
    gs_deadletter_codec_t *dlc;
    int32_t dl_schema_id;
    gs_buf_t dl_buf;
    kind_rt_t *kinds;
    size_t n_kinds;

    /* consumed, not yet processed, in consumption order */
    rd_kafka_message_t **queue;
    size_t q_len, q_cap;
    size_t last_batch; /* requests in the last micro-batch */

    witem_t *items;
    gs_buf_t *bufs;
    gs_arena_t arena; /* the batch's decoded arrays and results' arrays */
    size_t batch_max;
    uint32_t *taken; /* per offsets slot: items of the current batch */
    void **first;    /* per offsets slot: offset token of its first item in the batch */
    int n_taken;

    int throttled; /* a partition is paused by the producer side */
    int rewind;    /* exactly-once: a transaction aborted, inputs and state go back */
    int aborting;  /* exactly-once: an abort to complete before anything is produced */
    int registry_down;
    int registry_backoff_ms;
    int64_t deadline_us; /* shutdown deadline once draining, else 0 */
    timers_t t;
    counters_t c;
};

/* batch.c */
gs_err_t kinds_init(gs_worker_t *w, const gs_kind_ops_t *const *kinds, char *errstr,
                    size_t errstr_size);
/* Registers the kinds' state stores with w->state. */
gs_err_t kinds_stores(gs_worker_t *w, char *errstr, size_t errstr_size);
void kinds_destroy(gs_worker_t *w);
/* Processes up to batch.max queued messages (see batch.c). */
void process_queue(gs_worker_t *w);

/* worker.c: an alert a request raised, to the webhook and the alerts topic */
void raise_alert(gs_worker_t *w, const gs_alert_event_t *ev, int64_t wall_ms);

#endif
