/* Worker metrics. Names follow Prometheus conventions (base units,
 * _total counters); docs/OPERATIONS.md lists them all. */
#include "observe.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "govstream/deadletter.h"

#define STATE_MAX_SCOPES 100 /* /state lists the most recently used scopes */

/* request stages: 10 us .. 10 s; batch sizes: powers of two */
static const double LATENCY_BOUNDS[] = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                        0.0025,  0.005,    0.01,    0.025,  0.05,    0.1,    0.25,
                                        0.5,     1,        2.5,     5,      10};
static const double BATCH_BOUNDS[] = {1,   2,   4,   8,    16,   32,    64,
                                      128, 256, 512, 1024, 4096, 16384, 65536};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *name, *help;
    gs_metric_type_t type;
    const double *bounds;
    size_t n_bounds;
    double scale;
} families[] = {
    {"govstream_requests_total", "Requests processed, by kind and outcome.", GS_METRIC_COUNTER,
     NULL, 0, 1},
    {"govstream_request_duration_seconds",
     "Time per request and stage (total: batch start to result encoded).", GS_METRIC_HISTOGRAM,
     LATENCY_BOUNDS, N_OF(LATENCY_BOUNDS), 1e-6},
    {"govstream_deadletters_total", "Dead letters written, by error class.", GS_METRIC_COUNTER,
     NULL, 0, 1},
    {"govstream_batch_size", "Requests per micro-batch.", GS_METRIC_HISTOGRAM, BATCH_BOUNDS,
     N_OF(BATCH_BOUNDS), 1},
    {"govstream_consumer_lag", "Messages behind the partition's high watermark.", GS_METRIC_GAUGE,
     NULL, 0, 1},
    {"govstream_producer_queue_messages", "Records in the producer queue, not yet acknowledged.",
     GS_METRIC_GAUGE, NULL, 0, 1},
    {"govstream_pending_records", "Records held for re-production after a refusal.",
     GS_METRIC_GAUGE, NULL, 0, 1},
    {"govstream_ready", "1 when /health/ready answers 200.", GS_METRIC_GAUGE, NULL, 0, 1},
    {"govstream_delivery_failures_total",
     "Result or dead-letter deliveries the broker refused (they are retried).", GS_METRIC_COUNTER,
     NULL, 0, 1},
    {"govstream_side_records_failed_total",
     "Metrics snapshots and alert records that could not be written (not retried).",
     GS_METRIC_COUNTER, NULL, 0, 1},
    {"govstream_transactions_total", "Exactly-once transactions, by outcome (committed, aborted).",
     GS_METRIC_COUNTER, NULL, 0, 1},
    {"govstream_state_restored_records_total",
     "Changelog records read while restoring partitions' state.", GS_METRIC_COUNTER, NULL, 0, 1},
    {"govstream_state_restored_bytes_total", "Bytes of those records (keys and values).",
     GS_METRIC_COUNTER, NULL, 0, 1},
    {"govstream_state_restore_seconds_total", "Time spent restoring partitions' state.",
     GS_METRIC_COUNTER, NULL, 0, 1e-6},
    {"govstream_state_restoring_partitions", "Assigned partitions held paused for a restore.",
     GS_METRIC_GAUGE, NULL, 0, 1},
    {"govstream_state_records_skipped_total",
     "Changelog records skipped: corrupt, of an unknown version or not applicable.",
     GS_METRIC_COUNTER, NULL, 0, 1},
    {"govstream_state_records_written_total", "Changelog records written (tombstones included).",
     GS_METRIC_COUNTER, NULL, 0, 1},
    {"govstream_moral_threshold",
     "Moral threshold over the scopes in memory (agg: min, max, mean).", GS_METRIC_GAUGE, NULL, 0,
     1},
    {"govstream_moral_pinned_scopes",
     "Scopes whose threshold has sat at a bound for alerts.events.moral_pinned_steps requests.",
     GS_METRIC_GAUGE, NULL, 0, 1},
    {"govstream_governance_scopes", "Governance scopes in memory.", GS_METRIC_GAUGE, NULL, 0, 1},
    {"govstream_memory_vectors", "PELM vectors over all scopes.", GS_METRIC_GAUGE, NULL, 0, 1},
    {"govstream_memory_utilization_max", "Fullest scope's vector memory (0..1).", GS_METRIC_GAUGE,
     NULL, 0, 1},
    {"govstream_memory_bytes", "Bytes of governance state (exact accounting).", GS_METRIC_GAUGE,
     NULL, 0, 1},
    {"govstream_model_reload_failed", "1 while the last model (re)load of the kind failed.",
     GS_METRIC_GAUGE, NULL, 0, 1},
    {"govstream_model_reload_failures_total", "Model reloads refused (SIGHUP with a bad file).",
     GS_METRIC_COUNTER, NULL, 0, 1},
    {"govstream_build_info",
     "Always 1; the version and the BLAS kernel in use (OpenBLAS core name) are labels.",
     GS_METRIC_GAUGE, NULL, 0, 1},
    /* the standard process metrics, named as Prometheus' client libraries do */
    {"process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
     GS_METRIC_COUNTER, NULL, 0, 1e-6},
    {"process_resident_memory_bytes", "Resident memory size in bytes.", GS_METRIC_GAUGE, NULL, 0,
     1},
    {"process_virtual_memory_bytes", "Virtual memory size in bytes.", GS_METRIC_GAUGE, NULL, 0, 1},
    {"process_open_fds", "Number of open file descriptors.", GS_METRIC_GAUGE, NULL, 0, 1},
    {"process_max_fds", "Maximum number of open file descriptors.", GS_METRIC_GAUGE, NULL, 0, 1},
    {"process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
     GS_METRIC_GAUGE, NULL, 0, 1},
};

static const char *const outcome_names[OUT__N] = {"accepted", "rejected", "dead_letter"};
static const char *const stage_names[STAGE__N] = {"decode", "govern", "infer", "total"};

static gs_series_t *one(gs_metrics_t *m, const char *family, int *oom)
{
    gs_series_t *s = gs_metrics_series(m, family, NULL, 0);
    *oom |= !s;
    return s;
}

static gs_series_t *labelled(gs_metrics_t *m, const char *family, const char *k1, const char *v1,
                             const char *k2, const char *v2, int *oom)
{
    const char *l[] = {k1, v1, k2, v2};
    gs_series_t *s = gs_metrics_series(m, family, l, k2 ? 2 : 1);
    *oom |= !s;
    return s;
}

gs_err_t obs_declare(gs_metrics_t *m, char *errstr, size_t n)
{
    for (size_t i = 0; i < N_OF(families); i++) {
        gs_err_t err = gs_metrics_family(m, families[i].name, families[i].type, families[i].help,
                                         families[i].bounds, families[i].n_bounds,
                                         families[i].scale, errstr, n);
        if (err)
            return err;
    }
    return GS_OK;
}

static void kind_series(gs_metrics_t *m, const char *kind, obs_kind_t *k, int *oom)
{
    for (int i = 0; i < OUT__N; i++)
        k->outcome[i] =
            labelled(m, "govstream_requests_total", "kind", kind, "outcome", outcome_names[i], oom);
    for (int i = 0; i < STAGE__N; i++)
        k->stage[i] = labelled(m, "govstream_request_duration_seconds", "kind", kind, "stage",
                               stage_names[i], oom);
    k->model_failed = labelled(m, "govstream_model_reload_failed", "kind", kind, NULL, NULL, oom);
    k->model_failures =
        labelled(m, "govstream_model_reload_failures_total", "kind", kind, NULL, NULL, oom);
    if (!*oom)
        gs_gauge_set(k->model_failed, 0);
}

gs_err_t obs_init(obs_t *o, gs_metrics_t *m, const char *const *kinds, size_t n_kinds, char *errstr,
                  size_t n)
{
    *o = (obs_t){
        .m = m, .kinds = calloc(n_kinds ? n_kinds : 1, sizeof(obs_kind_t)), .n_kinds = n_kinds};
    if (!o->kinds)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_err_t err = obs_declare(m, errstr, n);
    if (err)
        return err;
    int oom = 0;
    for (size_t k = 0; k < n_kinds; k++)
        kind_series(m, kinds[k], &o->kinds[k], &oom);
    for (int e = GS_ERR_DECODE; e <= GS_ERR_INTERNAL; e++)
        o->deadletters[e] = labelled(m, "govstream_deadletters_total", "error_class",
                                     gs_deadletter_class_name((gs_err_t)e), NULL, NULL, &oom);
    o->batch = one(m, "govstream_batch_size", &oom);
    o->producer_queue = one(m, "govstream_producer_queue_messages", &oom);
    o->pending = one(m, "govstream_pending_records", &oom);
    o->ready = one(m, "govstream_ready", &oom);
    o->delivery_failures = one(m, "govstream_delivery_failures_total", &oom);
    o->side_failures = one(m, "govstream_side_records_failed_total", &oom);
    o->txn_committed =
        labelled(m, "govstream_transactions_total", "outcome", "committed", NULL, NULL, &oom);
    o->txn_aborted =
        labelled(m, "govstream_transactions_total", "outcome", "aborted", NULL, NULL, &oom);
    o->state = (gs_state_series_t){
        .restored_records = one(m, "govstream_state_restored_records_total", &oom),
        .restored_bytes = one(m, "govstream_state_restored_bytes_total", &oom),
        .restore_us = one(m, "govstream_state_restore_seconds_total", &oom),
        .skipped = one(m, "govstream_state_records_skipped_total", &oom),
        .written = one(m, "govstream_state_records_written_total", &oom),
        .restoring = one(m, "govstream_state_restoring_partitions", &oom),
    };
    o->threshold_min = labelled(m, "govstream_moral_threshold", "agg", "min", NULL, NULL, &oom);
    o->threshold_max = labelled(m, "govstream_moral_threshold", "agg", "max", NULL, NULL, &oom);
    o->threshold_mean = labelled(m, "govstream_moral_threshold", "agg", "mean", NULL, NULL, &oom);
    o->pinned = one(m, "govstream_moral_pinned_scopes", &oom);
    o->scopes = one(m, "govstream_governance_scopes", &oom);
    o->vectors = one(m, "govstream_memory_vectors", &oom);
    o->util_max = one(m, "govstream_memory_utilization_max", &oom);
    o->memory_bytes = one(m, "govstream_memory_bytes", &oom);
    gs_series_t *build = labelled(m, "govstream_build_info", "version", GS_VERSION, "blas",
                                  gs_blas_info().core, &oom);
    gs_series_t *start = one(m, "process_start_time_seconds", &oom);
    gs_series_t *max_fds = one(m, "process_max_fds", &oom);
    o->cpu = one(m, "process_cpu_seconds_total", &oom);
    o->rss = one(m, "process_resident_memory_bytes", &oom);
    o->vsz = one(m, "process_virtual_memory_bytes", &oom);
    o->fds = one(m, "process_open_fds", &oom);
    if (oom)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_gauge_set(build, 1);
    gs_gauge_set(start, (double)gs_wall_ms() / 1000); /* the worker starts with the process */
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
        gs_gauge_set(max_fds, (double)rl.rlim_cur);
    else
        gs_series_hide(max_fds);
    obs_process(o);
    gs_gauge_set(o->ready, 0);
    /* no scope yet: the thresholds are unknown, so they are not shown */
    gs_series_hide(o->threshold_min);
    gs_series_hide(o->threshold_max);
    gs_series_hide(o->threshold_mean);
    return GS_OK;
}

void obs_free(obs_t *o)
{
    free(o->kinds);
    o->kinds = NULL;
}

void obs_item(obs_t *o, size_t kind, const obs_sample_t *s)
{
    obs_kind_t *k = &o->kinds[kind];
    gs_hist_observe(k->stage[STAGE_DECODE], (uint64_t)s->decode_us);
    if (s->err) {
        gs_counter_add(k->outcome[OUT_DEAD_LETTER], 1);
        gs_counter_add(o->deadletters[gs_err_is_input(s->err) ? s->err : GS_ERR_INTERNAL], 1);
        return;
    }
    gs_counter_add(k->outcome[s->accepted ? OUT_ACCEPTED : OUT_REJECTED], 1);
    gs_hist_observe(k->stage[STAGE_GOVERN], (uint64_t)s->govern_us);
    gs_hist_observe(k->stage[STAGE_INFER], (uint64_t)s->infer_us);
    gs_hist_observe(k->stage[STAGE_TOTAL], (uint64_t)s->total_us);
}

void obs_process(obs_t *o)
{
    struct rusage ru;
    if (!getrusage(RUSAGE_SELF, &ru)) {
        uint64_t us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
                      (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
        if (us > o->cpu_us) { /* a counter of microseconds, rendered in seconds */
            gs_counter_add(o->cpu, us - o->cpu_us);
            o->cpu_us = us;
        }
    }
    unsigned long long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%llu %llu", &pages, &resident) == 2) {
        double page = (double)sysconf(_SC_PAGESIZE);
        gs_gauge_set(o->vsz, (double)pages * page);
        gs_gauge_set(o->rss, (double)resident * page);
    } else { /* not Linux: unknown, so not shown */
        gs_series_hide(o->vsz);
        gs_series_hide(o->rss);
    }
    if (f)
        fclose(f);
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        size_t fds = 0;
        for (const struct dirent *e; (e = readdir(d));)
            fds += e->d_name[0] != '.';
        closedir(d);
        gs_gauge_set(o->fds, (double)(fds ? fds - 1 : 0)); /* not the one reading it */
    } else {
        gs_series_hide(o->fds);
    }
}

/* A partition's fetch_state in librdkafka's statistics; a report without
 * one counts as fetching. */
static int fetching(const char *fetch_state)
{
    return !fetch_state ||
           (strcmp(fetch_state, "none") != 0 && strcmp(fetch_state, "stopping") != 0 &&
            strcmp(fetch_state, "stopped") != 0);
}

/* {"topics": {"<t>": {"partitions": {"<p>": {"consumer_lag": N, ...}}}}};
 * partition -1 is librdkafka's internal UA partition, lag -1 unknown. */
void obs_lag(obs_t *o, const char *stats_json, size_t len)
{
    json_t *root = json_loadb(stats_json, len, 0, NULL);
    json_t *topics = json_object_get(root, "topics");
    const char *topic, *part;
    json_t *t, *p;
    json_object_foreach(topics, topic, t)
    {
        json_object_foreach(json_object_get(t, "partitions"), part, p)
        {
            json_int_t lag = json_integer_value(json_object_get(p, "consumer_lag"));
            if (!strcmp(part, "-1") || !json_is_integer(json_object_get(p, "consumer_lag")))
                continue;
            gs_series_t *s =
                gs_metrics_series(o->m, "govstream_consumer_lag",
                                  (const char *[]){"topic", topic, "partition", part}, 2);
            /* librdkafka keeps reporting a partition given up (revoked,
             * lost or rewound away) with its last lag: not ours to show */
            if (s && !fetching(json_string_value(json_object_get(p, "fetch_state"))))
                gs_series_hide(s);
            else if (s && lag >= 0)
                gs_gauge_set(s, (double)lag);
        }
    }
    json_decref(root);
}

void obs_lag_hide(obs_t *o, const char *topic, int32_t partition)
{
    char part[16];
    snprintf(part, sizeof(part), "%d", partition);
    gs_series_t *s = gs_metrics_series(o->m, "govstream_consumer_lag",
                                       (const char *[]){"topic", topic, "partition", part}, 2);
    if (s)
        gs_series_hide(s);
}

/* Over all kinds' scopes (gauges); list and listed are per kind. */
typedef struct gov_acc {
    size_t scopes, listed, pinned, vectors;
    uint64_t pinned_steps;
    double tmin, tmax, tsum, util_max;
    json_t *list;
} gov_acc_t;

static void visit(const gs_scope_info_t *s, void *opaque)
{
    gov_acc_t *a = opaque;
    a->scopes++;
    a->tmin = s->threshold < a->tmin ? s->threshold : a->tmin;
    a->tmax = s->threshold > a->tmax ? s->threshold : a->tmax;
    a->tsum += s->threshold;
    a->pinned += s->at_bound_steps >= a->pinned_steps;
    a->vectors += s->vectors;
    double u = s->capacity ? (double)s->vectors / (double)s->capacity : 0;
    a->util_max = u > a->util_max ? u : a->util_max;
    if (a->list && a->listed < STATE_MAX_SCOPES) {
        a->listed++;
        json_array_append_new(
            a->list,
            json_pack("{s:i, s:s%, s:f, s:f, s:s, s:I, s:I, s:I, s:I, s:I}", "partition",
                      (int)s->partition, "scope", s->key.p, s->key.len, "threshold", s->threshold,
                      "ema", s->ema, "phase", s->phase == GS_PHASE_WAKE ? "WAKE" : "SLEEP", "step",
                      (json_int_t)s->step, "memory_used", (json_int_t)s->vectors, "memory_capacity",
                      (json_int_t)s->capacity, "accepted", (json_int_t)s->accepted, "rejected",
                      (json_int_t)s->rejected));
    }
}

char *obs_governance(obs_t *o, const obs_gov_t *kinds, size_t n_kinds, uint64_t pinned_steps,
                     const char *worker_id, const char *readiness)
{
    gov_acc_t a = {.tmin = 1, .pinned_steps = pinned_steps};
    size_t bytes = 0;
    json_t *jk = json_object();
    for (size_t k = 0; k < n_kinds; k++) {
        if (!kinds[k].govern)
            continue;
        size_t before = a.scopes;
        a.listed = 0;
        a.list = json_array();
        gs_govern_visit(kinds[k].govern, visit, &a);
        gs_scope_stats_t st = gs_govern_stats(kinds[k].govern);
        bytes += st.bytes;
        json_object_set_new(
            jk, kinds[k].kind,
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:b, s:o}", "scope_count",
                      (json_int_t)(a.scopes - before), "max_scopes", (json_int_t)st.max_scopes,
                      "memory_bytes", (json_int_t)st.bytes, "memory_budget_bytes",
                      (json_int_t)st.max_bytes, "evicted", (json_int_t)st.evicted,
                      "scopes_truncated", a.scopes - before > a.listed, "scopes", a.list));
    }
    gs_gauge_set(o->scopes, (double)a.scopes);
    gs_gauge_set(o->pinned, (double)a.pinned);
    gs_gauge_set(o->vectors, (double)a.vectors);
    gs_gauge_set(o->util_max, a.util_max);
    gs_gauge_set(o->memory_bytes, (double)bytes);
    if (a.scopes) {
        gs_gauge_set(o->threshold_min, a.tmin);
        gs_gauge_set(o->threshold_max, a.tmax);
        gs_gauge_set(o->threshold_mean, a.tsum / (double)a.scopes);
    }
    json_t *root = json_pack("{s:s, s:s, s:I, s:o}", "worker_id", worker_id, "readiness", readiness,
                             "generated_at_ms", (json_int_t)gs_wall_ms(), "kinds", jk);
    char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return s;
}
