/* The worker's metrics (private to src/pipeline): family declarations,
 * the series the poll loop updates, consumer lag from librdkafka's
 * statistics, and the governance gauges and /state document. */
#ifndef GS_PIPELINE_OBSERVE_H
#define GS_PIPELINE_OBSERVE_H

#include <stdbool.h>

#include "govstream/govern.h"
#include "govstream/metrics.h"
#include "govstream/state.h"

enum { OUT_ACCEPTED, OUT_REJECTED, OUT_DEAD_LETTER, OUT__N };
enum { STAGE_DECODE, STAGE_GOVERN, STAGE_INFER, STAGE_TOTAL, STAGE__N };

/* One kind's series (label kind="<name>"). */
typedef struct obs_kind {
    gs_series_t *outcome[OUT__N];
    gs_series_t *stage[STAGE__N];
    gs_series_t *model_failed, *model_failures;
} obs_kind_t;

/* One produced request, for the metrics. */
typedef struct obs_sample {
    gs_err_t err; /* set: a dead letter */
    bool accepted;
    int64_t decode_us, govern_us, infer_us, total_us;
} obs_sample_t;

/* A kind as /state and the governance gauges see it. */
typedef struct obs_gov {
    const char *kind;
    const gs_govern_t *govern; /* NULL: none */
} obs_gov_t;

typedef struct obs {
    gs_metrics_t *m;
    obs_kind_t *kinds;
    size_t n_kinds;
    gs_series_t *deadletters[GS_ERR__COUNT];
    gs_series_t *batch, *producer_queue, *pending, *ready, *delivery_failures, *side_failures;
    gs_series_t *txn_committed, *txn_aborted;
    gs_series_t *threshold_min, *threshold_max, *threshold_mean, *pinned, *scopes, *vectors,
        *util_max, *memory_bytes;
    gs_series_t *cpu, *rss, *vsz, *fds;
    gs_state_series_t state;
    uint64_t cpu_us; /* CPU time already counted */
} obs_t;

/* Declares every family of the worker. */
gs_err_t obs_declare(gs_metrics_t *m, char *errstr, size_t errstr_size);
/* Declares every family and creates the fixed series and those of each
 * kind (names); release with obs_free. */
gs_err_t obs_init(obs_t *o, gs_metrics_t *m, const char *const *kinds, size_t n_kinds, char *errstr,
                  size_t errstr_size);
void obs_free(obs_t *o);
/* Outcome and stage durations of one produced request of kind `kind`. */
void obs_item(obs_t *o, size_t kind, const obs_sample_t *s);
/* Updates the process_* metrics (CPU, memory, file descriptors). */
void obs_process(obs_t *o);
/* Sets govstream_consumer_lag from a librdkafka statistics document. */
void obs_lag(obs_t *o, const char *stats_json, size_t len);
void obs_lag_hide(obs_t *o, const char *topic, int32_t partition);
/* Sets the governance gauges and returns the /state document (malloc'd,
 * NULL when out of memory). pinned_steps: at-bound run that counts as
 * pinned. */
char *obs_governance(obs_t *o, const obs_gov_t *kinds, size_t n_kinds, uint64_t pinned_steps,
                     const char *worker_id, const char *readiness);

#endif
