/* Alert rules: inactive -> pending (condition true) -> firing (held for
 * `for`) -> resolved (condition false), as Prometheus does. Rates and
 * quantiles look back over a window of samples taken at every evaluation.
 * A condition without data (no series, no observations, a zero
 * denominator) is false. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "govstream/alert.h"

#define MAX_PAIRS 16

typedef struct sample {
    int64_t t_us;
    double a, b;                            /* metric and denominator sums */
    uint64_t h[GS_METRICS_MAX_BUCKETS + 1]; /* histogram buckets */
} sample_t;

typedef enum { ST_INACTIVE, ST_PENDING, ST_FIRING } state_t;

typedef struct rule {
    gs_metrics_sel_t sel, over;
    int agg, op;
    double q, threshold;
    int64_t window_us, for_us;
    char *pairs[2 * MAX_PAIRS]; /* labels, sorted by name: alertname, severity, worker, ... */
    size_t n_pairs;
    char *ann[2 * MAX_PAIRS]; /* annotations */
    size_t n_ann;
    const char *name; /* the alertname label's value */
    char fingerprint[17];
    sample_t *ring;
    size_t ring_cap, ring_head, ring_len;
    state_t state;
    int64_t active_us, last_sent_us;
    int64_t fired_ms;
    double value;
} rule_t;

struct gs_alerter {
    const gs_config_t *cfg;
    gs_metrics_t *m;
    gs_log_t *log;
    gs_webhook_t *webhook;
    rule_t *rules;
    size_t n_rules;
    int64_t next_eval_us;
    char external_url[160];
    gs_series_t *firing;
};

void gs_alert_fingerprint(const char *const *labels, size_t n_pairs, char out[17])
{
    /* sort the pairs by name (a handful: insertion sort of indexes) */
    size_t idx[MAX_PAIRS];
    for (size_t i = 0; i < n_pairs && i < MAX_PAIRS; i++) {
        size_t j = i;
        while (j && strcmp(labels[2 * idx[j - 1]], labels[2 * i]) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n_pairs && i < MAX_PAIRS; i++) {
        for (int k = 0; k < 2; k++) {
            for (const char *p = labels[2 * idx[i] + k]; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ull;
            h = (h ^ 0xffu) * 1099511628211ull;
        }
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* ---- building rules ------------------------------------------------------ */

/* Inserts the pair (k, v) into arr[0..2n), kept sorted by name; returns
 * its index. There must be room. */
static size_t insert_pair(char **arr, size_t *n, char *k, char *v)
{
    size_t i = *n;
    while (i && strcmp(arr[2 * (i - 1)], k) > 0) {
        arr[2 * i] = arr[2 * (i - 1)];
        arr[2 * i + 1] = arr[2 * (i - 1) + 1];
        i--;
    }
    arr[2 * i] = k;
    arr[2 * i + 1] = v;
    (*n)++;
    return i;
}

static gs_err_t add_pair(char **arr, size_t *n, const char *k, const char *v, char *errstr,
                         size_t en)
{
    if (*n == MAX_PAIRS)
        return gs_fail(errstr, en, GS_ERR_CONFIG, "more than %d labels or annotations", MAX_PAIRS);
    size_t i = insert_pair(arr, n, strdup(k), strdup(v));
    if (!arr[2 * i] || !arr[2 * i + 1])
        return gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    return GS_OK;
}

static void rule_free(rule_t *r)
{
    for (size_t i = 0; i < 2 * r->n_pairs; i++)
        free(r->pairs[i]);
    for (size_t i = 0; i < 2 * r->n_ann; i++)
        free(r->ann[i]);
    free(r->ring);
}

typedef struct rule_spec {
    const char *name, *metric, *over, *severity;
    int agg, op;
    double q, threshold;
    int window_ms, for_ms;
    const gs_config_kvlist_t *labels, *annotations; /* NULL: none */
    const char *summary;                            /* built-in rules */
} rule_spec_t;

static gs_err_t rule_add(gs_alerter_t *a, const rule_spec_t *sp, const char *where, char *errstr,
                         size_t en)
{
    if (gs_grow(&a->rules, a->n_rules + 1, sizeof(*a->rules)))
        return gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    rule_t *r = &a->rules[a->n_rules++];
    *r = (rule_t){.agg = sp->agg,
                  .op = sp->op,
                  .q = sp->q,
                  .threshold = sp->threshold,
                  .window_us = (int64_t)sp->window_ms * 1000,
                  .for_us = (int64_t)sp->for_ms * 1000};
    char err[256];
    if (gs_metrics_sel_parse(a->m, sp->metric, &r->sel, err, sizeof(err)) ||
        (sp->over && gs_metrics_sel_parse(a->m, sp->over, &r->over, err, sizeof(err))))
        return gs_fail(errstr, en, GS_ERR_CONFIG, "%s: %s", where, err);
    int hist = gs_metrics_sel_type(a->m, &r->sel) == GS_METRIC_HISTOGRAM;
    if ((sp->agg == GS_AGG_QUANTILE) != hist && sp->agg != GS_AGG_RATE)
        return gs_fail(errstr, en, GS_ERR_CONFIG, "%s: %s", where,
                       hist ? "a histogram takes the quantile or rate aggregation"
                            : "quantile needs a histogram");
    if (sp->agg == GS_AGG_RATE || sp->agg == GS_AGG_RATIO || sp->agg == GS_AGG_QUANTILE) {
        int64_t step = a->cfg->alerts.eval_interval_ms;
        r->ring_cap = (size_t)(sp->window_ms / step) + 2;
        r->ring = calloc(r->ring_cap, sizeof(*r->ring));
        if (!r->ring)
            return gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    }
    gs_err_t e = add_pair(r->pairs, &r->n_pairs, "alertname", sp->name, errstr, en);
    if (!e)
        e = add_pair(r->pairs, &r->n_pairs, "severity", sp->severity, errstr, en);
    if (!e)
        e = add_pair(r->pairs, &r->n_pairs, "worker", a->cfg->worker.id, errstr, en);
    for (size_t i = 0; !e && sp->labels && i < sp->labels->count; i++)
        e = add_pair(r->pairs, &r->n_pairs, sp->labels->items[i].name, sp->labels->items[i].value,
                     errstr, en);
    for (size_t i = 0; !e && sp->annotations && i < sp->annotations->count; i++)
        e = add_pair(r->ann, &r->n_ann, sp->annotations->items[i].name,
                     sp->annotations->items[i].value, errstr, en);
    if (!e && sp->summary)
        e = add_pair(r->ann, &r->n_ann, "summary", sp->summary, errstr, en);
    if (e)
        return e;
    for (size_t i = 0; i < r->n_pairs; i++)
        if (!strcmp(r->pairs[2 * i], "alertname"))
            r->name = r->pairs[2 * i + 1];
    gs_alert_fingerprint((const char *const *)r->pairs, r->n_pairs, r->fingerprint);
    return GS_OK;
}

/* The core's own alerts (SPEC 5), as rules over the metrics it exports. */
static gs_err_t add_builtins(gs_alerter_t *a, char *errstr, size_t en)
{
    const gs_config_t *c = a->cfg;
    int fm = c->alerts.events.for_ms;
    char pinned[160], spike[160], lag[160], p95[160], mem[160];
    snprintf(pinned, sizeof(pinned),
             "a scope's moral threshold has been at 0.30 or 0.90 for %d requests in a row",
             c->alerts.events.moral_pinned_steps);
    snprintf(spike, sizeof(spike), "more than %d dead letters per minute",
             c->alerts.events.deadletter_per_min);
    snprintf(lag, sizeof(lag), "a partition's consumer lag is above %d messages",
             c->alerts.events.lag_max);
    snprintf(p95, sizeof(p95), "p95 of request processing over the last minute is above %d ms",
             c->alerts.events.p95_ms);
    snprintf(mem, sizeof(mem), "a scope's vector memory is at least %d%% full",
             c->alerts.events.memory_pct);
    const rule_spec_t specs[] = {
        {"GovstreamMoralThresholdPinned", "govstream_moral_pinned_scopes", NULL, "warning",
         GS_AGG_MAX, GS_OP_GT, 0, 0, 60000, 0, NULL, NULL, pinned},
        {"GovstreamDeadLetterSpike", "govstream_deadletters_total", NULL, "warning", GS_AGG_RATE,
         GS_OP_GT, 0, c->alerts.events.deadletter_per_min / 60.0, 60000, fm, NULL, NULL, spike},
        {"GovstreamConsumerLag", "govstream_consumer_lag", NULL, "warning", GS_AGG_MAX, GS_OP_GT, 0,
         c->alerts.events.lag_max, 60000, fm, NULL, NULL, lag},
        {"GovstreamLatencyP95", "govstream_request_duration_seconds{stage=\"total\"}", NULL,
         "warning", GS_AGG_QUANTILE, GS_OP_GT, 0.95, c->alerts.events.p95_ms / 1000.0, 60000, fm,
         NULL, NULL, p95},
        {"GovstreamMemoryNearlyFull", "govstream_memory_utilization_max", NULL, "warning",
         GS_AGG_MAX, GS_OP_GE, 0, c->alerts.events.memory_pct / 100.0, 60000, 0, NULL, NULL, mem},
        {"GovstreamModelReloadFailed", "govstream_model_reload_failed", NULL, "critical",
         GS_AGG_MAX, GS_OP_GT, 0, 0, 60000, 0, NULL, NULL,
         "the last model reload failed; the worker serves the previous model"},
    };
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        gs_err_t e = rule_add(a, &specs[i], specs[i].name, errstr, en);
        if (e)
            return e;
    }
    return GS_OK;
}

static gs_err_t build(const gs_config_t *cfg, gs_metrics_t *m, gs_log_t *log, int webhook,
                      gs_alerter_t **out, char *errstr, size_t en)
{
    gs_alerter_t *a = calloc(1, sizeof(*a));
    if (!a)
        return gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    a->cfg = cfg;
    a->m = m;
    a->log = log;
    snprintf(a->external_url, sizeof(a->external_url), "http://%s",
             *cfg->http.listen ? cfg->http.listen : "127.0.0.1");
    gs_err_t e = gs_metrics_family(m, "govstream_alerts_firing", GS_METRIC_GAUGE,
                                   "Alert rules currently firing.", NULL, 0, 1, errstr, en);
    if (!e && !(a->firing = gs_metrics_series(m, "govstream_alerts_firing", NULL, 0)))
        e = gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    if (!e)
        gs_gauge_set(a->firing, 0);
    if (!e && cfg->alerts.events.enabled)
        e = add_builtins(a, errstr, en);
    for (size_t i = 0; !e && i < cfg->alerts.n_rules; i++) {
        const gs_alert_rule_conf_t *rc = &cfg->alerts.rules[i];
        char where[300];
        if (rc->line && *cfg->path)
            snprintf(where, sizeof(where), "%s:%d: alerts.rules[%zu] (%s)", cfg->path, rc->line, i,
                     rc->name);
        else
            snprintf(where, sizeof(where), "command line: alerts.rules (%s)", rc->name);
        for (size_t j = 0; j < a->n_rules; j++)
            if (!strcmp(a->rules[j].name, rc->name))
                e = gs_fail(errstr, en, GS_ERR_CONFIG, "%s: name is a built-in alert's", where);
        rule_spec_t sp = {
            rc->name,    rc->metric,       rc->over,      rc->severity,  rc->aggregation,
            rc->op,      rc->quantile,     rc->threshold, rc->window_ms, rc->for_ms,
            &rc->labels, &rc->annotations, NULL};
        if (!e)
            e = rule_add(a, &sp, where, errstr, en);
    }
    if (!e && webhook && *cfg->alerts.webhook.url) {
        gs_webhook_conf_t wc = {cfg->alerts.webhook.url,
                                cfg->alerts.webhook.secret,
                                cfg->alerts.webhook.connect_timeout_ms,
                                cfg->alerts.webhook.timeout_ms,
                                cfg->alerts.webhook.retries,
                                cfg->alerts.webhook.backoff_ms,
                                cfg->alerts.webhook.backoff_max_ms,
                                (size_t)cfg->alerts.webhook.queue_max};
        e = gs_webhook_new(&wc, m, log, &a->webhook, errstr, en);
    }
    if (e) {
        gs_alerter_destroy(a);
        return e;
    }
    *out = a;
    return GS_OK;
}

gs_err_t gs_alerter_new(const gs_config_t *cfg, gs_metrics_t *m, gs_log_t *log, gs_alerter_t **out,
                        char *errstr, size_t en)
{
    return build(cfg, m, log, 1, out, errstr, en);
}

gs_err_t gs_alerter_check(const gs_config_t *cfg, gs_metrics_t *m, char *errstr, size_t en)
{
    gs_alerter_t *a = NULL;
    gs_err_t e = build(cfg, m, NULL, 0, &a, errstr, en);
    gs_alerter_destroy(a);
    return e;
}

void gs_alerter_destroy(gs_alerter_t *a)
{
    if (!a)
        return;
    gs_webhook_destroy(a->webhook, 2000);
    for (size_t i = 0; i < a->n_rules; i++)
        rule_free(&a->rules[i]);
    free(a->rules);
    free(a);
}

/* ---- evaluation ---------------------------------------------------------- */

/* The oldest sample in the window, after adding the current one. */
static const sample_t *window_start(rule_t *r, const sample_t *cur)
{
    if (r->ring_len == r->ring_cap) {
        r->ring_head = (r->ring_head + 1) % r->ring_cap;
        r->ring_len--;
    }
    r->ring[(r->ring_head + r->ring_len++) % r->ring_cap] = *cur;
    while (r->ring_len > 1 && cur->t_us - r->ring[r->ring_head].t_us > r->window_us) {
        r->ring_head = (r->ring_head + 1) % r->ring_cap;
        r->ring_len--;
    }
    return r->ring_len > 1 ? &r->ring[r->ring_head] : NULL;
}

static double eval(gs_alerter_t *a, rule_t *r, int64_t now_us)
{
    gs_metrics_reading_t cur, den;
    gs_metrics_read(a->m, &r->sel, &cur);
    switch (r->agg) {
    case GS_AGG_VALUE:
        return cur.series ? cur.sum : NAN;
    case GS_AGG_MAX:
        return cur.series ? cur.max : NAN;
    case GS_AGG_MIN:
        return cur.series ? cur.min : NAN;
    default:
        break;
    }
    int hist = gs_metrics_sel_type(a->m, &r->sel) == GS_METRIC_HISTOGRAM;
    sample_t s = {.t_us = now_us, .a = hist ? (double)cur.count : cur.sum};
    memcpy(s.h, cur.buckets, sizeof(s.h));
    if (r->agg == GS_AGG_RATIO) {
        gs_metrics_read(a->m, &r->over, &den);
        s.b = gs_metrics_sel_type(a->m, &r->over) == GS_METRIC_HISTOGRAM ? (double)den.count
                                                                         : den.sum;
    }
    const sample_t *old = window_start(r, &s);
    if (!old || !cur.series)
        return NAN;
    double dt = (double)(now_us - old->t_us) / 1e6;
    /* a counter that went down was reset (a restart): count from zero */
    double da = s.a >= old->a ? s.a - old->a : s.a;
    double db = s.b >= old->b ? s.b - old->b : s.b;
    if (r->agg == GS_AGG_RATE)
        return da / dt;
    if (r->agg == GS_AGG_RATIO)
        return db > 0 ? da / db : NAN;
    uint64_t delta[GS_METRICS_MAX_BUCKETS + 1];
    for (size_t i = 0; i <= GS_METRICS_MAX_BUCKETS; i++)
        delta[i] = s.h[i] >= old->h[i] ? s.h[i] - old->h[i] : s.h[i];
    size_t nb;
    const double *bounds = gs_metrics_sel_bounds(a->m, &r->sel, &nb);
    return gs_quantile_buckets(bounds, nb, delta, r->q);
}

static int holds(const rule_t *r, double v)
{
    if (isnan(v))
        return 0;
    switch (r->op) {
    case GS_OP_GT:
        return v > r->threshold;
    case GS_OP_GE:
        return v >= r->threshold;
    case GS_OP_LT:
        return v < r->threshold;
    case GS_OP_LE:
        return v <= r->threshold;
    case GS_OP_EQ:
        return v == r->threshold;
    default:
        return v != r->threshold;
    }
}

static void rfc3339(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t len = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + len, 32 - len, ".%03dZ", (int)(ms % 1000));
}

static json_t *pairs_obj(char *const *arr, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++)
        json_object_set_new(o, arr[2 * i], json_string(arr[2 * i + 1]));
    return o;
}

/* What one alert of a payload is made of. */
typedef struct alert_doc {
    const char *status, *name, *fingerprint;
    char *const *pairs; /* labels, sorted by name */
    size_t n_pairs;
    json_t *ann; /* annotations (taken) */
    char starts[32], ends[32];
} alert_doc_t;

/* The Alertmanager webhook payload (version 4) of one alert. */
static char *payload_of(gs_alerter_t *a, alert_doc_t *d)
{
    char gk[512];
    const char *worker = a->cfg->worker.id;
    snprintf(gk, sizeof(gk), "{}:{alertname=\"%s\", worker=\"%s\"}", d->name, worker);
    json_t *alert = json_pack("{s:s, s:o, s:o, s:s, s:s, s:s, s:s}", "status", d->status, "labels",
                              pairs_obj(d->pairs, d->n_pairs), "annotations", json_copy(d->ann),
                              "startsAt", d->starts, "endsAt", d->ends, "generatorURL",
                              a->external_url, "fingerprint", d->fingerprint);
    json_t *root = json_pack(
        "{s:s, s:s, s:i, s:s, s:s, s:{s:s, s:s}, s:o, s:o, s:s, s:[o]}", "version", "4", "groupKey",
        gk, "truncatedAlerts", 0, "status", d->status, "receiver", "govstream", "groupLabels",
        "alertname", d->name, "worker", worker, "commonLabels", pairs_obj(d->pairs, d->n_pairs),
        "commonAnnotations", d->ann, "externalURL", a->external_url, "alerts", alert);
    char *s = root ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(root);
    return s;
}

static char *payload(gs_alerter_t *a, const rule_t *r, int resolved, int64_t wall_ms)
{
    alert_doc_t d = {
        .status = resolved ? "resolved" : "firing",
        .name = r->name,
        .fingerprint = r->fingerprint,
        .pairs = r->pairs,
        .n_pairs = r->n_pairs,
        .ann = pairs_obj(r->ann, r->n_ann),
    };
    rfc3339(r->fired_ms, d.starts);
    if (resolved)
        rfc3339(wall_ms, d.ends);
    else
        snprintf(d.ends, sizeof(d.ends), "0001-01-01T00:00:00Z");
    char value[64];
    snprintf(value, sizeof(value), "%.6g", r->value);
    if (d.ann && !isnan(r->value))
        json_object_set_new(d.ann, "value", json_string(value));
    return payload_of(a, &d);
}

/* Hands a payload to the webhook and to emit. */
static void deliver(gs_alerter_t *a, const char *fingerprint, char *body, gs_alert_emit_fn *emit,
                    void *opaque)
{
    size_t len = strlen(body);
    if (a->webhook)
        gs_webhook_send(a->webhook, body, len);
    if (emit)
        emit(fingerprint, body, len, opaque);
    free(body);
}

static void notify(gs_alerter_t *a, rule_t *r, int resolved, int64_t now_us, int64_t wall_ms,
                   gs_alert_emit_fn *emit, void *opaque)
{
    r->last_sent_us = now_us;
    char *body = payload(a, r, resolved, wall_ms);
    if (!body) {
        gs_log_error(a->log, "cannot build an alert payload", GS_LS("alertname", r->name));
        return;
    }
    deliver(a, r->fingerprint, body, emit, opaque);
}

void gs_alerter_raise(gs_alerter_t *a, const gs_alert_event_t *ev, int64_t wall_ms,
                      gs_alert_emit_fn *emit, void *opaque)
{
    char *pairs[2 * MAX_PAIRS] = {0};
    size_t n = 0;
    const char *base[] = {"alertname",  ev->name, "severity",
                          ev->severity, "worker", a->cfg->worker.id};
    /* the pairs are not written through: the casts only fit the rules' type */
    for (size_t i = 0; i < 3; i++)
        insert_pair(pairs, &n, (char *)base[2 * i], (char *)base[2 * i + 1]);
    for (size_t i = 0; i < ev->n_labels && n < MAX_PAIRS; i++)
        insert_pair(pairs, &n, (char *)ev->labels[2 * i], (char *)ev->labels[2 * i + 1]);
    alert_doc_t d = {
        .status = "firing", .name = ev->name, .pairs = pairs, .n_pairs = n, .ann = json_object()};
    char fp[17];
    gs_alert_fingerprint((const char *const *)pairs, n, fp);
    d.fingerprint = fp;
    for (size_t i = 0; d.ann && i < ev->n_annotations; i++)
        json_object_set_new(d.ann, ev->annotations[2 * i], json_string(ev->annotations[2 * i + 1]));
    rfc3339(wall_ms, d.starts);
    rfc3339(wall_ms + (int64_t)GS_ALERT_EVENT_TTL_S * 1000, d.ends);
    char *body = payload_of(a, &d);
    if (!body) {
        gs_log_error(a->log, "cannot build an alert payload", GS_LS("alertname", ev->name));
        return;
    }
    gs_log_info(a->log, "alert raised", GS_LS("alertname", ev->name), GS_LS("fingerprint", fp));
    deliver(a, fp, body, emit, opaque);
}

void gs_alerter_tick(gs_alerter_t *a, int64_t now_us, gs_alert_emit_fn *emit, void *opaque)
{
    if (now_us < a->next_eval_us)
        return;
    int64_t wall_ms = gs_wall_ms();
    a->next_eval_us = now_us + (int64_t)a->cfg->alerts.eval_interval_ms * 1000;
    int64_t repeat_us = (int64_t)a->cfg->alerts.repeat_ms * 1000;
    size_t firing = 0;
    for (size_t i = 0; i < a->n_rules; i++) {
        rule_t *r = &a->rules[i];
        double v = eval(a, r, now_us);
        const char *name = r->name;
        if (holds(r, v)) {
            r->value = v;
            if (r->state == ST_INACTIVE) {
                r->state = ST_PENDING;
                r->active_us = now_us;
            }
            if (r->state == ST_PENDING && now_us - r->active_us >= r->for_us) {
                r->state = ST_FIRING;
                r->fired_ms = wall_ms;
                gs_log_warn(a->log, "alert firing", GS_LS("alertname", name), GS_LD("value", v),
                            GS_LS("fingerprint", r->fingerprint));
                notify(a, r, 0, now_us, wall_ms, emit, opaque);
            } else if (r->state == ST_FIRING && repeat_us &&
                       now_us - r->last_sent_us >= repeat_us) {
                notify(a, r, 0, now_us, wall_ms, emit, opaque);
            }
        } else if (r->state == ST_FIRING) {
            r->value = v;
            gs_log_info(a->log, "alert resolved", GS_LS("alertname", name),
                        GS_LS("fingerprint", r->fingerprint));
            notify(a, r, 1, now_us, wall_ms, emit, opaque);
            r->state = ST_INACTIVE;
        } else {
            r->state = ST_INACTIVE;
        }
        firing += r->state == ST_FIRING;
    }
    gs_gauge_set(a->firing, (double)firing);
}
