/* govstream - the governance core (SPEC 3): moral filter, cognitive rhythm,
 * lexicon moral scorer and per-scope state. No Kafka dependency.
 *
 * Per request: moral value (given or scored) -> evaluate against the scope's
 * threshold -> adapt -> rhythm phase -> verdict -> rhythm step. */
#ifndef GOVSTREAM_GOVERN_H
#define GOVSTREAM_GOVERN_H

#include <stdint.h>

#include "govstream/common.h"
#include "govstream/config.h"
#include "govstream/memory.h"
#include "govstream/store.h"

/* ---- moral filter (3.1) ------------------------------------------------
 * The threshold is kept in integer twentieths so that repeated 0.05 steps
 * are exact: 16/20.0 is the same double as the literal 0.8. */
#define GS_MORAL_T20_MIN       6  /* 0.30 */
#define GS_MORAL_T20_MAX       18 /* 0.90 */
#define GS_MORAL_T20_INIT      10 /* 0.50 */
#define GS_MORAL_ACCEPT_ALWAYS 0.90
#define GS_MORAL_REJECT_BELOW  0.30

typedef struct gs_moral {
    int t20;    /* threshold x 20 */
    double ema; /* of acceptances, starts at 0.5 */
} gs_moral_t;

void gs_moral_init(gs_moral_t *m);
double gs_moral_threshold(const gs_moral_t *m);
/* v must be a number in [0,1] (callers validate). */
int gs_moral_evaluate(const gs_moral_t *m, double v);
void gs_moral_adapt(gs_moral_t *m, int accepted);

/* ---- cognitive rhythm (3.3) -------------------------------------------
 * Advances on every governed request, so it always leaves sleep. */
typedef struct gs_rhythm {
    uint32_t wake_steps, sleep_steps;
    uint32_t pos;   /* 0 .. wake+sleep-1; < wake_steps means WAKE */
    uint64_t steps; /* governed requests so far */
} gs_rhythm_t;

void gs_rhythm_init(gs_rhythm_t *r, uint32_t wake_steps, uint32_t sleep_steps);
gs_phase_t gs_rhythm_phase(const gs_rhythm_t *r);
/* Returns 1 when this step entered sleep (consolidation runs then). */
int gs_rhythm_step(gs_rhythm_t *r);

/* ---- lexicon moral scorer (3.2) ----------------------------------------
 * score = 0.8 - 0.15 per harm match + 0.05 per care match, clamped to
 * [0,1], computed exactly (in twentieths). */

typedef struct gs_lexicon gs_lexicon_t;

/* Word lists: one word per line, '#' comments, case-insensitive. */
gs_err_t gs_lexicon_load(const char *harm_path, const char *care_path, gs_lexicon_t **out,
                         char *errstr, size_t errstr_size);
gs_err_t gs_lexicon_new(const char *const *harm, size_t n_harm, const char *const *care,
                        size_t n_care, gs_lexicon_t **out, char *errstr, size_t errstr_size);
void gs_lexicon_destroy(gs_lexicon_t *lx);
/* 0.8 - 0.15 per harm word + 0.05 per care word over all texts, in [0,1]. */
double gs_lexicon_score(const gs_lexicon_t *lx, const gs_str_t *texts, size_t n_texts);

/* ---- quality gate (3.5) ------------------------------------------------ */

typedef struct gs_quality {
    int reject;     /* collapse, looping or incoherence */
    int degrade;    /* drift: answer kept, no memory write */
    char modes[64]; /* "looping,incoherence"; "" when clean */
} gs_quality_t;

/* Checks generated text against the dialogue it answers (SPEC 3.5).
 * GS_ERR_NOMEM only. */
gs_err_t gs_quality_check(const gs_str_t *prompt, size_t n_prompt, gs_str_t response,
                          gs_quality_t *out);

/* ---- scopes and the flow ------------------------------------------------ */

typedef struct gs_govern_conf {
    uint32_t wake_steps, sleep_steps;
    int sleep_policy; /* gs_sleep_policy_t */
    int sleep_max_tokens;
    size_t max_scopes;
    size_t memory_capacity;  /* PELM vectors per scope */
    size_t memory_index_min; /* PELM size from which the index serves; 0: never */
    size_t max_memory_bytes; /* all scopes together, exact */
    int64_t scope_idle_us;   /* evict scopes idle this long; 0: never */
    int memory_off;          /* no retrieval, no memory writes (context_items 0) */
    int changelog;           /* track changes for gs_govern_changes (SPEC 3.6) */
} gs_govern_conf_t;

void gs_govern_conf_from(gs_govern_conf_t *gc, const gs_config_t *cfg);

typedef struct gs_verdict {
    int accepted;
    const char *note;       /* static string */
    gs_phase_t phase;       /* phase the request was governed in */
    int64_t step;           /* 1-based governed-request count of the scope */
    double moral_threshold; /* threshold it was evaluated against */
    double moral_value;     /* value used */
    int32_t context_items;  /* memories retrieved as context */
    int max_tokens_cap;     /* GENERATE cap from the sleep policy */
} gs_verdict_t;

/* One request through the governor, in two calls per micro-batch:
 *   gs_govern_decide(reqs)  moral value -> evaluate + adapt -> rhythm:
 *                           fills v (all but context_items) and sets
 *                           commit = v.accepted;
 *   [the model runs; the caller clears commit when output checks fail and
 *    sets output to the generated text, if any]
 *   gs_govern_memory(reqs)  retrieve context (top context_top_k) -> memory
 *                           commit -> consolidation when the rhythm entered
 *                           sleep: fills v.context_items.
 * Retrieval uses one SGEMM per scope for up to 64 queries and still sees
 * memory exactly as one-by-one processing would. */
#define GS_CONTEXT_MAX 20 /* context_top_k at most (SPEC 1.1) */

/* One memory retrieved as context: the request_id that wrote it, its
 * cosine with the query and the phase it was stored with. */
typedef struct gs_context_item {
    float score, phase;
    uint8_t id_len;
    char id[GS_MEMORY_ID_MAX];
} gs_context_item_t;

typedef struct gs_govern_req { /* pointers first, then ints: no padding */
    /* in */
    gs_str_t scope;
    gs_str_t memory_id;    /* the request_id: the id of the memory it writes */
    const gs_str_t *texts; /* the dialogue window, oldest first */
    size_t n_texts;
    double value;
    /* out of decide */
    gs_verdict_t v;
    /* in to memory */
    gs_str_t output;
    gs_context_item_t *context; /* room for min(context_top_k, GS_CONTEXT_MAX) items, or NULL */
    void *scope_;               /* private to the governor between the two calls */
    /* in */
    int32_t partition; /* the input partition: scopes are per (partition, scope) */
    int has_value;
    int context_top_k;
    /* out of decide */
    gs_err_t err; /* GS_ERR_VALIDATION (bad key or value) or GS_ERR_NOMEM: skipped */
    /* in to memory (decide sets commit = v.accepted) */
    int commit;
    int entered_sleep_; /* private */
} gs_govern_req_t;

typedef struct gs_scope_stats {
    size_t scopes, max_scopes;
    size_t bytes, max_bytes; /* exact: scope table + every scope's memory */
    size_t vectors;          /* PELM vectors over all scopes */
    uint64_t created, evicted, memory_refused;
    uint64_t changelog_lost; /* changes not logged for want of memory */
} gs_scope_stats_t;

typedef struct gs_govern gs_govern_t;

/* lexicon is borrowed and must outlive the governor. */
gs_err_t gs_govern_new(const gs_govern_conf_t *conf, const gs_lexicon_t *lexicon, gs_govern_t **out,
                       char *errstr, size_t errstr_size);
void gs_govern_destroy(gs_govern_t *g);

gs_err_t gs_govern_decide(gs_govern_t *g, gs_govern_req_t *reqs, size_t n, char *errstr,
                          size_t errstr_size);
gs_err_t gs_govern_memory(gs_govern_t *g, gs_govern_req_t *reqs, size_t n, char *errstr,
                          size_t errstr_size);

/* Both steps for one request without a model (commit = accepted). */
gs_err_t gs_govern_one(gs_govern_t *g, gs_str_t key, int has_value, double value,
                       const gs_str_t *texts, size_t n_texts, int context_top_k, gs_verdict_t *out,
                       char *errstr, size_t errstr_size);

gs_scope_stats_t gs_govern_stats(const gs_govern_t *g);

/* One scope's state, for /state and the governance gauges. */
typedef struct gs_scope_info {
    int32_t partition;
    gs_str_t key;
    double threshold, ema;
    gs_phase_t phase;
    uint64_t step; /* governed requests */
    size_t vectors, capacity;
    uint64_t accepted, rejected;
    uint64_t at_bound_steps; /* consecutive requests with the threshold at 0.30 or 0.90 */
} gs_scope_info_t;
typedef void(gs_scope_visit_fn)(const gs_scope_info_t *info, void *opaque);
/* Calls fn for every scope in memory, most recently used first. */
void gs_govern_visit(const gs_govern_t *g, gs_scope_visit_fn *fn, void *opaque);

/* Bytes one scope would take with a full memory: for sizing max_memory. */
size_t gs_govern_scope_max_bytes(const gs_govern_conf_t *conf);

/* ---- snapshots (3.6) -------------------------------------------------------
 * One scope's whole state (filter, rhythm, counters, synaptic memory,
 * consolidation buffer, PELM) as a versioned little-endian record ending in
 * a CRC32C of everything before it. */
#define GS_SNAPSHOT_VERSION 2 /* 2: memory ids; version 1 is still read */

/* *out: a malloc'd snapshot of *out_len bytes (the caller frees it).
 * GS_ERR_NOT_FOUND when the scope does not exist. */
gs_err_t gs_govern_snapshot(const gs_govern_t *g, int32_t partition, gs_str_t key, uint8_t **out,
                            size_t *out_len, char *errstr, size_t errstr_size);
/* Replaces (or creates) the scope named in the snapshot. GS_ERR_DECODE for
 * a truncated, corrupted (CRC) or inconsistent snapshot, GS_ERR_SCHEMA for
 * an unknown version or a memory shape other than the configured one. */
gs_err_t gs_govern_restore(gs_govern_t *g, int32_t partition, const void *data, size_t len,
                           char *errstr, size_t errstr_size);

/* ---- the changelog (3.6) ----------------------------------------------------
 * With conf.changelog every change of a scope is noted, and
 * gs_govern_changes hands the changes out as records of the scope's input
 * partition, keyed so that a compacted log keeps exactly the live state:
 *   key 'H' scope          header: filter, rhythm, counters, synaptic
 *                          memory, write buffer, the PELM's size and head
 *   key 'S' u32 slot scope one PELM slot (unit vector, phase, confidence,
 *                          norm, memory id), one record per slot written
 * An evicted scope's keys get tombstones (NULL values). Values start with
 * a payload version (GS_CHANGELOG_VERSION); the framing around them
 * (store, sequence, CRC32C) is the state layer's (govstream/state.h). */
#define GS_CHANGELOG_VERSION 2 /* 2: memory ids; version 1 is still read */

/* Emits every change since the last call: tombstones first, then per
 * changed scope its slots and its header. GS_ERR_NOMEM only. */
gs_err_t gs_govern_changes(gs_govern_t *g, gs_store_emit_fn *emit, void *opaque, char *errstr,
                           size_t errstr_size);
/* Applies one changelog record while the partition is restored (value
 * NULL: a tombstone). seq orders records of one key: a header older than
 * the one applied is ignored. GS_ERR_DECODE for a record no governor
 * wrote, GS_ERR_SCHEMA for another payload version or memory shape,
 * GS_ERR_NOMEM when it does not fit the memory budget; the scope is then
 * left as it was. */
gs_err_t gs_govern_apply(gs_govern_t *g, int32_t partition, uint64_t seq, const void *key,
                         size_t key_len, const void *value, size_t value_len, char *errstr,
                         size_t errstr_size);
/* The partition's restore is complete: slots whose scope has no header
 * (its header was deleted) are dropped. Returns the partition's scopes. */
size_t gs_govern_restored(gs_govern_t *g, int32_t partition);
/* The partition was revoked: its scopes leave memory (not the changelog). */
void gs_govern_drop(gs_govern_t *g, int32_t partition);
/* The four above as a store's operations (self: the gs_govern_t). */
extern const gs_store_ops_t gs_govern_store_ops;

/* ---- the BLAS ------------------------------------------------------------ */

typedef struct gs_blas_info {
    const char *core;         /* OpenBLAS's kernel for this CPU ("Haswell", "Prescott", ...) */
    const char *config;       /* its build: version, DYNAMIC_ARCH, ... */
    int cpu_avx2, cpu_avx512; /* what the CPU can do */
    int kernel_avx2, kernel_avx512; /* what the kernel uses */
    int slow; /* a kernel without AVX2 on a CPU with it: set OPENBLAS_CORETYPE */
} gs_blas_info_t;

gs_blas_info_t gs_blas_info(void);

/* ---- rate limits (SPEC 1.2) ---------------------------------------------
 * A token bucket per (input partition, tenant): `rate` tokens a second up
 * to `burst`, one per request. The clock is the request record's Kafka
 * timestamp, so replays and restores decide the same way. It is a state
 * store (gs_ratelimit_store_ops; the changelog keeps one 17-byte value per
 * bucket). */
typedef struct gs_ratelimit_conf {
    double rate, burst;
    size_t max_buckets; /* live buckets kept; when none is full, new tenants' requests pass */
} gs_ratelimit_conf_t;

typedef struct gs_ratelimit gs_ratelimit_t;

gs_err_t gs_ratelimit_new(const gs_ratelimit_conf_t *conf, gs_ratelimit_t **out, char *errstr,
                          size_t errstr_size);
void gs_ratelimit_destroy(gs_ratelimit_t *rl);
/* 1: the request may pass (a token was taken), 0: over the limit. */
int gs_ratelimit_take(gs_ratelimit_t *rl, int32_t partition, gs_str_t tenant, int64_t now_ms);
/* Requests refused so far. */
uint64_t gs_ratelimit_refused(const gs_ratelimit_t *rl);

extern const gs_store_ops_t gs_ratelimit_store_ops;

#endif
