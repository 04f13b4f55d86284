/* Metrics reading and alerts at their edges: selectors, quantiles, the
 * Prometheus fingerprint and HMAC against published vectors, the rule
 * state machine on a controlled clock (pending, for, repeat, resolve, no
 * data), the core's built-in alerts fed the way the worker feeds them, and
 * webhook delivery against a local receiver (retries, 4xx, overflow,
 * flush, nothing secret in the logs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "testutil.h"

#include "govstream/alert.h"
#include "../../src/pipeline/observe.h" /* white-box: the worker's families */

#define assert_near(a, b, eps)                                                                     \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (eps)))                                                             \
            fail_msg("%.17g != %.17g", a_, b_);                                                    \
    } while (0)

static gs_metrics_t *registry(void)
{
    gs_metrics_t *m = NULL;
    char err[256];
    if (gs_metrics_new(&m, err, sizeof(err)))
        fail_msg("%s", err);
    static const double bounds[] = {0.001, 0.01, 0.1};
    struct {
        const char *name;
        gs_metric_type_t type;
    } fams[] = {{"t_requests_total", GS_METRIC_COUNTER},
                {"t_level", GS_METRIC_GAUGE},
                {"t_latency_seconds", GS_METRIC_HISTOGRAM}};
    for (size_t i = 0; i < 3; i++) {
        int hist = fams[i].type == GS_METRIC_HISTOGRAM;
        if (gs_metrics_family(m, fams[i].name, fams[i].type, "test", hist ? bounds : NULL,
                              hist ? 3 : 0, hist ? 1e-6 : 1, err, sizeof(err)))
            fail_msg("%s", err);
    }
    return m;
}

static gs_series_t *series(gs_metrics_t *m, const char *fam, const char *k, const char *v)
{
    const char *l[] = {k, v};
    gs_series_t *s = gs_metrics_series(m, fam, k ? l : NULL, k ? 1 : 0);
    assert_non_null(s);
    return s;
}

static gs_metrics_reading_t read_sel(gs_metrics_t *m, const char *text)
{
    gs_metrics_sel_t sel;
    gs_metrics_reading_t r;
    char err[256];
    if (gs_metrics_sel_parse(m, text, &sel, err, sizeof(err)))
        fail_msg("%s", err);
    gs_metrics_read(m, &sel, &r);
    return r;
}

static double value_of(gs_metrics_t *m, const char *text)
{
    return read_sel(m, text).sum;
}

/* ---- selectors and reading ----------------------------------------------- */

static void test_selectors(void **state)
{
    (void)state;
    gs_metrics_t *m = registry();
    gs_gauge_set(series(m, "t_level", "shard", "a"), 2);
    gs_gauge_set(series(m, "t_level", "shard", "b"), 5);
    gs_series_t *c = series(m, "t_level", "shard", "c");
    gs_gauge_set(c, -1);

    gs_metrics_reading_t r = read_sel(m, "t_level");
    assert_int_equal(r.series, 3);
    assert_true(r.sum == 6 && r.min == -1 && r.max == 5);
    r = read_sel(m, "t_level{shard=\"b\"}");
    assert_int_equal(r.series, 1);
    assert_true(r.sum == 5);
    assert_int_equal(read_sel(m, "t_level{shard=\"zz\"}").series, 0);
    assert_int_equal(read_sel(m, "t_level{other=\"a\"}").series, 0);
    /* a hidden series (a revoked partition's lag) is not read, until set */
    gs_series_hide(c);
    r = read_sel(m, "t_level");
    assert_true(r.series == 2 && r.min == 2);
    gs_gauge_set(c, 0);
    assert_int_equal(read_sel(m, "t_level").series, 3);

    static const struct {
        const char *text, *why;
    } bad[] = {
        {"t_nope", "unknown metric \"t_nope\""},
        {"t_level{shard}", "expected label=\"value\""},
        {"t_level{shard=b}", "expected label=\"value\""},
        {"t_level{=\"b\"}", "expected label=\"value\""},
        {"t_level{shard=\"b}", "unterminated label value"},
        {"t_level{shard=\"b\"", "expected , or }"},
        {"t_level{", "unterminated selector"},
        {"t_level{shard=\"b\"}x", "unterminated selector"},
        {"t_level{shard=\"b\" x=\"c\"}", "expected , or }"},
        {"t_level{a=\"1\",b=\"2\",c=\"3\",d=\"4\",e=\"5\"}", "too many label matchers"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        gs_metrics_sel_t sel;
        char err[256] = "";
        assert_int_equal(gs_metrics_sel_parse(m, bad[i].text, &sel, err, sizeof(err)),
                         GS_ERR_CONFIG);
        assert_contains(err, bad[i].why);
    }
    gs_metrics_destroy(m);
}

/* A counter of microseconds rendered and read in seconds
 * (process_cpu_seconds_total); scale 1 stays an exact integer. */
static void test_counter_scale(void **state)
{
    (void)state;
    gs_metrics_t *m = registry();
    char err[256], *text = NULL;
    size_t len;
    if (gs_metrics_family(m, "t_cpu_seconds_total", GS_METRIC_COUNTER, "test", NULL, 0, 1e-6, err,
                          sizeof(err)))
        fail_msg("%s", err);
    assert_int_equal(gs_metrics_family(m, "t_bad_total", GS_METRIC_COUNTER, "test", NULL, 0, 0, err,
                                       sizeof(err)),
                     GS_ERR_INVALID_ARG);
    gs_counter_add(series(m, "t_cpu_seconds_total", NULL, NULL), 1500000);
    gs_counter_add(series(m, "t_requests_total", NULL, NULL), 9007199254740993ull); /* 2^53 + 1 */
    assert_true(value_of(m, "t_cpu_seconds_total") == 1.5);
    assert_int_equal(gs_metrics_render(m, &text, &len), GS_OK);
    assert_contains(text, "\nt_cpu_seconds_total 1.5\n");
    assert_contains(text, "\nt_requests_total 9007199254740993\n");
    free(text);
    gs_metrics_destroy(m);
}

/* ---- quantiles ------------------------------------------------------------ */

static void test_quantile_edges(void **state)
{
    (void)state;
    const double b[] = {0.001, 0.01, 0.1};
    uint64_t none[4] = {0}, inf_only[4] = {0, 0, 0, 7}, one_bucket[4] = {0, 10, 0, 0};
    uint64_t spread[4] = {50, 30, 15, 5};
    assert_true(isnan(gs_quantile_buckets(b, 3, none, 0.5)));
    assert_true(isnan(gs_quantile_buckets(b, 3, spread, -0.1)));
    assert_true(isnan(gs_quantile_buckets(b, 3, spread, 1.5)));
    /* all in +Inf: the highest finite bound, as histogram_quantile */
    assert_true(gs_quantile_buckets(b, 3, inf_only, 0.5) == 0.1);
    /* linear within the bucket (0.001, 0.01] */
    assert_near(gs_quantile_buckets(b, 3, one_bucket, 0.5), 0.0055, 1e-15);
    assert_near(gs_quantile_buckets(b, 3, one_bucket, 1.0), 0.01, 1e-15);
    assert_near(gs_quantile_buckets(b, 3, one_bucket, 0.0), 0.001, 1e-15);
    /* the first bucket starts at 0; rank 25 of 100 is half of bucket 0 */
    assert_near(gs_quantile_buckets(b, 3, spread, 0.25), 0.0005, 1e-15);
    /* rank 50 ends bucket 0 exactly: its upper bound */
    assert_near(gs_quantile_buckets(b, 3, spread, 0.5), 0.001, 1e-15);
    /* rank 90: 10 of bucket 2's 15 */
    assert_near(gs_quantile_buckets(b, 3, spread, 0.9), 0.01 + 0.09 * 10 / 15, 1e-15);
    /* rank 99 is in +Inf */
    assert_true(gs_quantile_buckets(b, 3, spread, 0.99) == 0.1);
    /* a histogram without finite buckets has no quantile */
    assert_true(isnan(gs_quantile_buckets(b, 0, inf_only + 3, 0.5)));
}

/* ---- published vectors ------------------------------------------------------ */

static void test_fingerprint_vectors(void **state)
{
    (void)state;
    char fp[17];
    /* prometheus/common model: labelSetToFingerprint(LabelSet{}) and
     * {"name": "garland, briggs", "fear": "love is not enough"} */
    gs_alert_fingerprint(NULL, 0, fp);
    char want[17];
    snprintf(want, sizeof(want), "%016llx", 14695981039346656037ull);
    assert_string_equal(fp, want);
    const char *pairs[] = {"name", "garland, briggs", "fear", "love is not enough"};
    gs_alert_fingerprint(pairs, 2, fp);
    snprintf(want, sizeof(want), "%016llx", 5799056148416392346ull);
    assert_string_equal(fp, want);
    /* the order of the pairs does not matter */
    const char *swapped[] = {"fear", "love is not enough", "name", "garland, briggs"};
    char fp2[17];
    gs_alert_fingerprint(swapped, 2, fp2);
    assert_string_equal(fp, fp2);
}

static void test_hmac_rfc4231(void **state)
{
    (void)state;
    char key1[21], key6[132], sig[72];
    memset(key1, 0x0b, 20);
    key1[20] = '\0';
    memset(key6, 0xaa, 131);
    key6[131] = '\0';
    static const char m6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
    const struct {
        const char *key, *data, *mac;
    } v[] = {
        {key1, "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"Jefe", "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {key6, m6, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        gs_webhook_signature(v[i].key, v[i].data, strlen(v[i].data), sig);
        assert_memory_equal(sig, "sha256=", 7);
        assert_string_equal(sig + 7, v[i].mac);
    }
}

/* ---- the rule state machine ------------------------------------------------- */

typedef struct sink {
    json_t *notes[64];
    char keys[64][17];
    size_t n;
} sink_t;

static void collect(const char *fingerprint, const char *payload, size_t len, void *opaque)
{
    sink_t *s = opaque;
    json_error_t je;
    json_t *j = json_loadb(payload, len, 0, &je);
    if (!j)
        fail_msg("payload is not JSON: %s", je.text);
    assert_true(s->n < 64);
    snprintf(s->keys[s->n], 17, "%s", fingerprint);
    s->notes[s->n++] = j;
}

static void sink_clear(sink_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        json_decref(s->notes[i]);
    s->n = 0;
}

static const char *str_at(json_t *j, const char *path)
{
    /* "a.b.0.c": objects by name, arrays by index */
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); j && tok;
         tok = strtok_r(NULL, ".", &save))
        j = json_is_array(j) ? json_array_get(j, strtoul(tok, NULL, 10)) : json_object_get(j, tok);
    return json_string_value(j);
}

static gs_config_t *config(const char *rules, const char *events)
{
    char r[2048], err[512];
    snprintf(r, sizeof(r), "alerts.rules=%s", rules);
    const char *ov[] = {"worker.id=w-7", "alerts.eval_interval_ms=1000", "alerts.repeat_ms=5000",
                        events, r};
    gs_config_t *cfg = NULL;
    if (gs_config_load(NULL, NULL, ov, rules ? 5 : 4, &cfg, err, sizeof(err)))
        fail_msg("%s", err);
    return cfg;
}

static gs_alerter_t *alerter(const gs_config_t *cfg, gs_metrics_t *m)
{
    gs_alerter_t *a = NULL;
    char err[512];
    if (gs_alerter_new(cfg, m, NULL, &a, err, sizeof(err)))
        fail_msg("%s", err);
    return a;
}

static void teardown(sink_t *s, gs_alerter_t *a, gs_config_t *cfg, gs_metrics_t *m)
{
    sink_clear(s);
    gs_alerter_destroy(a);
    gs_config_destroy(cfg);
    gs_metrics_destroy(m);
}

#define S 1000000 /* one second in microseconds */

static void test_rule_lifecycle(void **state)
{
    (void)state;
    gs_metrics_t *m = registry();
    gs_config_t *cfg = config("({ name = \"TLevelHigh\"; metric = \"t_level{shard=\\\"a\\\"}\";"
                              " aggregation = \"value\"; op = \">\"; threshold = 5.0;"
                              " for_ms = 3000; severity = \"page\"; labels = { team = \"ml\"; };"
                              " annotations = { summary = \"level high\"; }; })",
                              "alerts.events.enabled=false");
    gs_alerter_t *a = alerter(cfg, m);
    sink_t s = {0};
    gs_series_t *lv = series(m, "t_level", "shard", "a");
    int64_t t0 = 1000 * (int64_t)S;

    gs_alerter_tick(a, t0, collect, &s); /* 0: below the threshold */
    gs_gauge_set(lv, 10);
    /* before the evaluation interval has passed, nothing is evaluated */
    gs_alerter_tick(a, t0 + S / 2, collect, &s);
    for (int i = 1; i <= 3; i++) /* pending at 1 s, held for 3 s */
        gs_alerter_tick(a, t0 + i * S, collect, &s);
    assert_int_equal(s.n, 0);
    assert_true(value_of(m, "govstream_alerts_firing") == 0);
    gs_alerter_tick(a, t0 + 4 * S, collect, &s);
    assert_int_equal(s.n, 1);
    assert_true(value_of(m, "govstream_alerts_firing") == 1);

    json_t *n = s.notes[0];
    assert_string_equal(str_at(n, "version"), "4");
    assert_string_equal(str_at(n, "status"), "firing");
    assert_string_equal(str_at(n, "receiver"), "govstream");
    assert_string_equal(str_at(n, "groupKey"), "{}:{alertname=\"TLevelHigh\", worker=\"w-7\"}");
    assert_string_equal(str_at(n, "groupLabels.alertname"), "TLevelHigh");
    assert_string_equal(str_at(n, "commonLabels.severity"), "page");
    assert_string_equal(str_at(n, "alerts.0.labels.team"), "ml");
    assert_string_equal(str_at(n, "alerts.0.labels.worker"), "w-7");
    assert_string_equal(str_at(n, "alerts.0.annotations.summary"), "level high");
    assert_string_equal(str_at(n, "alerts.0.annotations.value"), "10");
    assert_string_equal(str_at(n, "alerts.0.endsAt"), "0001-01-01T00:00:00Z");
    assert_int_equal(json_integer_value(json_object_get(n, "truncatedAlerts")), 0);
    const char *l[] = {"alertname", "TLevelHigh", "severity", "page",
                       "team",      "ml",         "worker",   "w-7"};
    char fp[17];
    gs_alert_fingerprint(l, 4, fp);
    assert_string_equal(str_at(n, "alerts.0.fingerprint"), fp);
    assert_string_equal(s.keys[0], fp);
    const char *starts = str_at(n, "alerts.0.startsAt");
    assert_int_equal(strlen(starts), 24); /* 2026-11-23T10:00:00.000Z */

    /* still true: repeated every alerts.repeat_ms (5 s), same startsAt */
    for (int i = 5; i <= 9; i++)
        gs_alerter_tick(a, t0 + i * S, collect, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(str_at(s.notes[1], "status"), "firing");
    assert_string_equal(str_at(s.notes[1], "alerts.0.startsAt"), starts);

    /* false: resolved once, with an end time */
    gs_gauge_set(lv, 1);
    gs_alerter_tick(a, t0 + 10 * S, collect, &s);
    gs_alerter_tick(a, t0 + 11 * S, collect, &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(str_at(s.notes[2], "status"), "resolved");
    assert_string_equal(str_at(s.notes[2], "alerts.0.fingerprint"), fp);
    assert_string_equal(str_at(s.notes[2], "alerts.0.annotations.value"), "1");
    assert_string_not_equal(str_at(s.notes[2], "alerts.0.endsAt"), "0001-01-01T00:00:00Z");
    assert_true(value_of(m, "govstream_alerts_firing") == 0);

    /* true for less than `for`, then false: pending is dropped silently */
    gs_gauge_set(lv, 9);
    gs_alerter_tick(a, t0 + 12 * S, collect, &s);
    gs_alerter_tick(a, t0 + 13 * S, collect, &s);
    gs_gauge_set(lv, 0);
    gs_alerter_tick(a, t0 + 14 * S, collect, &s);
    gs_gauge_set(lv, 9);
    gs_alerter_tick(a, t0 + 15 * S, collect, &s); /* pending restarts here */
    gs_alerter_tick(a, t0 + 17 * S, collect, &s);
    assert_int_equal(s.n, 3);
    gs_alerter_tick(a, t0 + 18 * S, collect, &s);
    assert_int_equal(s.n, 4);

    teardown(&s, a, cfg, m);
}

/* An alert one request raises: bounded labels, the request in the
 * annotations, an end time so that Alertmanager resolves it itself. */
static void test_event_alert(void **state)
{
    (void)state;
    gs_metrics_t *m = registry();
    gs_config_t *cfg = config(NULL, "alerts.events.enabled=false");
    gs_alerter_t *a = alerter(cfg, m);
    sink_t s = {0};
    const char *labels[] = {"list", "UN"};
    const char *ann[] = {"request_id", "r-1", "account_id", "acc-9"};
    gs_alert_event_t ev = {.name = "GovstreamScreenHigh",
                           .severity = "page",
                           .labels = labels,
                           .n_labels = 1,
                           .annotations = ann,
                           .n_annotations = 2};
    int64_t wall = 1795000000000; /* 2026-11-18T... */
    gs_alerter_raise(a, &ev, wall, collect, &s);
    ann[1] = "r-2";
    gs_alerter_raise(a, &ev, wall + 1000, collect, &s);
    assert_int_equal(s.n, 2);
    json_t *n = s.notes[0];
    assert_string_equal(str_at(n, "status"), "firing");
    assert_string_equal(str_at(n, "alerts.0.labels.alertname"), "GovstreamScreenHigh");
    assert_string_equal(str_at(n, "alerts.0.labels.severity"), "page");
    assert_string_equal(str_at(n, "alerts.0.labels.worker"), "w-7");
    assert_string_equal(str_at(n, "alerts.0.labels.list"), "UN");
    assert_int_equal(json_object_size(json_object_get(
                         json_array_get(json_object_get(n, "alerts"), 0), "labels")),
                     4);
    assert_string_equal(str_at(n, "alerts.0.annotations.request_id"), "r-1");
    assert_string_equal(str_at(s.notes[1], "alerts.0.annotations.request_id"), "r-2");
    assert_string_equal(str_at(n, "alerts.0.annotations.account_id"), "acc-9");
    /* 15 minutes later, to the millisecond */
    const char *starts = str_at(n, "alerts.0.startsAt"), *ends = str_at(n, "alerts.0.endsAt");
    assert_int_equal(strlen(ends), 24);
    assert_string_not_equal(starts, ends);
    assert_memory_equal(starts + 19, ends + 19, 5); /* .sssZ */
    const char *l[] = {
        "alertname", "GovstreamScreenHigh", "list", "UN", "severity", "page", "worker", "w-7"};
    char fp[17];
    gs_alert_fingerprint(l, 4, fp);
    assert_string_equal(str_at(n, "alerts.0.fingerprint"), fp);
    assert_string_equal(s.keys[0], fp);
    assert_string_equal(s.keys[1], fp); /* the same labels: one alert group */
    teardown(&s, a, cfg, m);
}

static void test_rule_windows(void **state)
{
    (void)state;
    gs_metrics_t *m = registry();
    gs_config_t *cfg = config(
        "({ name = \"TRate\"; metric = \"t_requests_total\"; aggregation = \"rate\";"
        " window_ms = 3000; op = \">\"; threshold = 5.0; },"
        " { name = \"TRatio\"; metric = \"t_requests_total{outcome=\\\"rejected\\\"}\";"
        " over = \"t_requests_total\"; aggregation = \"ratio\"; window_ms = 3000; op = \">=\";"
        " threshold = 0.5; },"
        " { name = \"TP95\"; metric = \"t_latency_seconds\"; aggregation = \"quantile\";"
        " quantile = 0.95; window_ms = 3000; op = \">\"; threshold = 0.05; })",
        "alerts.events.enabled=false");
    gs_alerter_t *a = alerter(cfg, m);
    sink_t s = {0};
    gs_series_t *ok = series(m, "t_requests_total", "outcome", "accepted");
    gs_series_t *rej = series(m, "t_requests_total", "outcome", "rejected");
    gs_series_t *lat = series(m, "t_latency_seconds", NULL, NULL);
    int64_t t0 = 50 * (int64_t)S;

    /* one sample is no window: nothing, however large the values */
    gs_counter_add(ok, 1000);
    gs_alerter_tick(a, t0, collect, &s);
    assert_int_equal(s.n, 0);
    /* 4/s over 1 s: below 5/s; none rejected; no observations: no quantile */
    gs_counter_add(ok, 4);
    gs_alerter_tick(a, t0 + S, collect, &s);
    assert_int_equal(s.n, 0);
    /* now (4 + 4 + 4)/2 s = 6/s, of which 4 of 12 rejected (below 0.5) */
    gs_counter_add(ok, 4);
    gs_counter_add(rej, 4);
    for (int i = 0; i < 100; i++)
        gs_hist_observe(lat, i < 90 ? 500 : 80000); /* 0.5 ms, 80 ms */
    gs_alerter_tick(a, t0 + 2 * S, collect, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(str_at(s.notes[0], "groupLabels.alertname"), "TRate");
    assert_string_equal(str_at(s.notes[0], "alerts.0.annotations.value"), "6");
    /* p95 of the window: rank 95 is 5 into the 10 at (0.01, 0.1] */
    assert_string_equal(str_at(s.notes[1], "groupLabels.alertname"), "TP95");
    assert_string_equal(str_at(s.notes[1], "alerts.0.annotations.value"), "0.055");
    /* mostly rejected now: the ratio over the 3 s window passes 0.5 */
    gs_counter_add(rej, 12);
    gs_alerter_tick(a, t0 + 3 * S, collect, &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(str_at(s.notes[2], "groupLabels.alertname"), "TRatio");
    assert_string_equal(str_at(s.notes[2], "alerts.0.annotations.value"), "0.666667"); /* 16/24 */
    /* nothing new: once the window has slid past the increments, every
     * rule resolves (the quantile has no observations, the ratio no
     * denominator) */
    for (int i = 4; i <= 7; i++)
        gs_alerter_tick(a, t0 + i * S, collect, &s);
    assert_int_equal(s.n, 6);
    for (size_t i = 3; i < 6; i++)
        assert_string_equal(str_at(s.notes[i], "status"), "resolved");
    assert_true(value_of(m, "govstream_alerts_firing") == 0);

    teardown(&s, a, cfg, m);
}

static void test_rule_errors(void **state)
{
    (void)state;
    static const struct {
        const char *rules, *why;
    } bad[] = {
        {"({ name = \"X\"; metric = \"t_missing\"; aggregation = \"value\"; op = \">\";"
         " threshold = 1.0; })",
         "unknown metric \"t_missing\""},
        {"({ name = \"X\"; metric = \"t_level\"; aggregation = \"quantile\"; quantile = 0.5;"
         " op = \">\"; threshold = 1.0; })",
         "quantile needs a histogram"},
        {"({ name = \"X\"; metric = \"t_latency_seconds\"; aggregation = \"max\"; op = \">\";"
         " threshold = 1.0; })",
         "a histogram takes the quantile or rate aggregation"},
        {"({ name = \"X\"; metric = \"t_level\"; aggregation = \"ratio\";"
         " over = \"t_level{a=\"; op = \">\"; threshold = 1.0; })",
         "alerts.rules (X): expected label=\"value\""},
        {"({ name = \"GovstreamConsumerLag\"; metric = \"govstream_consumer_lag\";"
         " aggregation = \"max\"; op = \">\"; threshold = 1.0; })",
         "name is a built-in alert's"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        gs_metrics_t *m = registry();
        char err[512] = "";
        if (obs_declare(m, err, sizeof(err)))
            fail_msg("%s", err);
        gs_config_t *cfg = config(bad[i].rules, "alerts.events.enabled=true");
        assert_int_equal(gs_alerter_check(cfg, m, err, sizeof(err)), GS_ERR_CONFIG);
        assert_contains(err, bad[i].why);
        gs_config_destroy(cfg);
        gs_metrics_destroy(m);
    }
}

/* The gauges behind three of the core's alerts. */
static void set_gauges(gs_metrics_t *m, double reload_failed, double memory_util, double pinned)
{
    gs_gauge_set(series(m, "govstream_model_reload_failed", "kind", "dialogue"), reload_failed);
    gs_gauge_set(series(m, "govstream_memory_utilization_max", NULL, NULL), memory_util);
    gs_gauge_set(series(m, "govstream_moral_pinned_scopes", NULL, NULL), pinned);
}

/* The core's alerts, fed through the worker's own families and its
 * librdkafka-statistics parser. */
static void test_builtin_alerts(void **state)
{
    (void)state;
    gs_metrics_t *m = NULL;
    char err[512];
    if (gs_metrics_new(&m, err, sizeof(err)) || obs_declare(m, err, sizeof(err)))
        fail_msg("%s", err);
    const char *ov[] = {"worker.id=w-1",
                        "alerts.eval_interval_ms=1000",
                        "alerts.events.for_ms=0",
                        "alerts.events.lag_max=100",
                        "alerts.events.p95_ms=100",
                        "alerts.events.deadletter_per_min=60",
                        "alerts.events.memory_pct=95"};
    gs_config_t *cfg = NULL;
    if (gs_config_load(NULL, NULL, ov, sizeof(ov) / sizeof(ov[0]), &cfg, err, sizeof(err)))
        fail_msg("%s", err);
    gs_alerter_t *a = alerter(cfg, m);
    sink_t s = {0};
    obs_t o = {.m = m};
    int64_t t0 = 7 * (int64_t)S;

    gs_series_t *dl = series(m, "govstream_deadletters_total", "error_class", "decode");
    gs_counter_add(dl, 0);
    gs_alerter_tick(a, t0, collect, &s); /* no data at all: nothing fires */
    assert_int_equal(s.n, 0);

    /* below every threshold */
    set_gauges(m, 0, 0.94, 0);
    const char low[] = "{\"topics\":{\"in\":{\"partitions\":{\"0\":{\"consumer_lag\":100},"
                       "\"-1\":{\"consumer_lag\":99999}}}}}";
    obs_lag(&o, low, strlen(low));
    gs_counter_add(dl, 1);
    const char *tl[] = {"kind", "dialogue", "stage", "total"};
    gs_series_t *total = gs_metrics_series(m, "govstream_request_duration_seconds", tl, 2);
    for (int i = 0; i < 100; i++)
        gs_hist_observe(total, 20000); /* 20 ms */
    gs_alerter_tick(a, t0 + S, collect, &s);
    assert_int_equal(s.n, 0);

    /* above every threshold */
    set_gauges(m, 1, 0.95, 2);
    const char high[] = "{\"topics\":{\"in\":{\"partitions\":{\"0\":{\"consumer_lag\":100},"
                        "\"1\":{\"consumer_lag\":101,\"fetch_state\":\"active\"}}}}}";
    obs_lag(&o, high, strlen(high));
    gs_counter_add(dl, 200);
    for (int i = 0; i < 1000; i++)
        gs_hist_observe(total, 200000); /* 200 ms */
    gs_alerter_tick(a, t0 + 2 * S, collect, &s);
    const char *want[] = {"GovstreamMoralThresholdPinned", "GovstreamDeadLetterSpike",
                          "GovstreamConsumerLag",          "GovstreamLatencyP95",
                          "GovstreamMemoryNearlyFull",     "GovstreamModelReloadFailed"};
    assert_int_equal(s.n, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(str_at(s.notes[i], "groupLabels.alertname"), want[i]);
        assert_string_equal(str_at(s.notes[i], "status"), "firing");
        assert_non_null(str_at(s.notes[i], "alerts.0.annotations.summary"));
    }
    assert_string_equal(str_at(s.notes[5], "commonLabels.severity"), "critical");
    assert_string_equal(str_at(s.notes[2], "alerts.0.annotations.value"), "101");

    /* the partition is revoked (its lag hidden; librdkafka goes on
     * reporting it, stopped, with its last lag), the rest recovers, and the
     * windows slide past the spike: everything resolves */
    obs_lag_hide(&o, "in", 1);
    const char gone[] = "{\"topics\":{\"in\":{\"partitions\":{\"0\":{\"consumer_lag\":100},"
                        "\"1\":{\"consumer_lag\":101,\"fetch_state\":\"stopped\"}}}}}";
    obs_lag(&o, gone, strlen(gone));
    set_gauges(m, 0, 0.5, 0);
    gs_alerter_tick(a, t0 + 3 * S, collect, &s);
    assert_int_equal(s.n, 10);
    gs_alerter_tick(a, t0 + 63 * S, collect, &s);
    assert_int_equal(s.n, 12);
    for (size_t i = 6; i < 12; i++)
        assert_string_equal(str_at(s.notes[i], "status"), "resolved");
    assert_true(value_of(m, "govstream_alerts_firing") == 0);

    teardown(&s, a, cfg, m);
}

/* ---- webhook delivery against a local receiver ------------------------------ */

typedef struct receiver {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t lock;
    int statuses[8]; /* answer to request i; the last one repeats */
    size_t n_statuses, n_req, n_bad_sig;
    const char *secret;
} receiver_t;

typedef struct upload {
    char *body;
    size_t len;
} upload_t;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **con_cls)
{
    (void)url, (void)version;
    receiver_t *r = cls;
    upload_t *u = *con_cls;
    if (!u) {
        if (strcmp(method, "POST") != 0)
            return MHD_NO;
        *con_cls = calloc(1, sizeof(upload_t));
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*data_size) {
        char *nb = realloc(u->body, u->len + *data_size + 1);
        if (!nb)
            return MHD_NO;
        memcpy(nb + u->len, data, *data_size);
        u->len += *data_size;
        nb[u->len] = '\0';
        u->body = nb;
        *data_size = 0;
        return MHD_YES;
    }
    const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Govstream-Signature");
    char want[72];
    gs_webhook_signature(r->secret, u->body ? u->body : "", u->len, want);
    pthread_mutex_lock(&r->lock);
    size_t i = r->n_req++;
    int status = r->statuses[i < r->n_statuses ? i : r->n_statuses - 1];
    r->n_bad_sig += !sig || strcmp(sig, want) != 0;
    pthread_mutex_unlock(&r->lock);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    upload_t *u = *con_cls;
    if (u)
        free(u->body);
    free(u);
    *con_cls = NULL;
}

static void receiver_start(receiver_t *r, const int *statuses, size_t n)
{
    memset(r, 0, sizeof(*r));
    memcpy(r->statuses, statuses, n * sizeof(int));
    r->n_statuses = n;
    r->secret = "s3cr3t-hmac-key";
    pthread_mutex_init(&r->lock, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, r,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
    assert_non_null(r->d);
    r->port = MHD_get_daemon_info(r->d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

static void receiver_stop(receiver_t *r)
{
    MHD_stop_daemon(r->d);
    pthread_mutex_destroy(&r->lock);
}

static size_t receiver_requests(receiver_t *r)
{
    pthread_mutex_lock(&r->lock);
    size_t n = r->n_req;
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* A loopback port nothing listens on: connections are refused at once. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

typedef struct wh {
    gs_metrics_t *m;
    gs_log_t *log;
    FILE *logf;
    gs_webhook_t *w;
} wh_t;

static void wh_start(wh_t *h, int port, int retries, int backoff_ms, size_t queue_max)
{
    char err[256], url[128];
    if (gs_metrics_new(&h->m, err, sizeof(err)))
        fail_msg("%s", err);
    h->logf = tmpfile();
    assert_non_null(h->logf);
    h->log = gs_log_new(fileno(h->logf), GS_LOG_DEBUG, "w-1");
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook?token=URLTOKEN123", port);
    gs_webhook_conf_t c = {url,     "s3cr3t-hmac-key", 1000,           5000,
                           retries, backoff_ms,        8 * backoff_ms, queue_max};
    if (gs_webhook_new(&c, h->m, h->log, &h->w, err, sizeof(err)))
        fail_msg("%s", err);
}

/* Counters after destroying the webhook (every attempt has ended). */
typedef struct tally {
    double sent, failed, dropped, retries;
} tally_t;

static tally_t wh_stop(wh_t *h, int flush_ms)
{
    gs_webhook_destroy(h->w, flush_ms);
    tally_t t = {value_of(h->m, "govstream_alerts_sent_total"),
                 value_of(h->m, "govstream_alerts_failed_total"),
                 value_of(h->m, "govstream_alerts_dropped_total"),
                 value_of(h->m, "govstream_alert_retries_total")};
    /* failures are logged, but the URL's token and the secret never are */
    fflush(h->logf);
    rewind(h->logf);
    char line[4096];
    int lines = 0;
    while (fgets(line, sizeof(line), h->logf)) {
        lines++;
        assert_null(strstr(line, "URLTOKEN123"));
        assert_null(strstr(line, "s3cr3t"));
    }
    if (t.failed > 0)
        assert_true(lines > 0);
    fclose(h->logf);
    gs_log_destroy(h->log);
    gs_metrics_destroy(h->m);
    return t;
}

/* Polls a counter until it reaches want (the delivery thread is async). */
static void wait_for(gs_metrics_t *m, const char *name, double want)
{
    for (int i = 0; i < 1000 && value_of(m, name) < want; i++)
        usleep(5000);
    assert_true(value_of(m, name) >= want);
}

static const char body[] = "{\"version\":\"4\",\"status\":\"firing\"}";

static void test_webhook_retries_then_delivers(void **state)
{
    (void)state;
    receiver_t r;
    receiver_start(&r, (const int[]){503, 502, 200}, 3);
    wh_t h;
    wh_start(&h, r.port, 5, 10, 8);
    gs_webhook_send(h.w, body, strlen(body));
    wait_for(h.m, "govstream_alerts_sent_total", 1);
    tally_t t = wh_stop(&h, 1000);
    assert_true(t.sent == 1 && t.failed == 0 && t.dropped == 0 && t.retries == 2);
    assert_int_equal(receiver_requests(&r), 3);
    assert_int_equal(r.n_bad_sig, 0); /* every attempt signed over the same body */
    receiver_stop(&r);
}

static void test_webhook_4xx_not_retried(void **state)
{
    (void)state;
    const int codes[] = {400, 404, 409};
    for (size_t i = 0; i < 3; i++) {
        receiver_t r;
        receiver_start(&r, &codes[i], 1);
        wh_t h;
        wh_start(&h, r.port, 5, 10, 8);
        gs_webhook_send(h.w, body, strlen(body));
        wait_for(h.m, "govstream_alerts_failed_total", 1);
        tally_t t = wh_stop(&h, 1000);
        assert_true(t.sent == 0 && t.failed == 1 && t.retries == 0);
        assert_int_equal(receiver_requests(&r), 1);
        receiver_stop(&r);
    }
}

static void test_webhook_retries_exhausted(void **state)
{
    (void)state;
    receiver_t r;
    receiver_start(&r, (const int[]){500}, 1);
    wh_t h;
    wh_start(&h, r.port, 2, 10, 8);
    gs_webhook_send(h.w, body, strlen(body));
    gs_webhook_send(h.w, body, strlen(body));
    wait_for(h.m, "govstream_alerts_failed_total", 2);
    tally_t t = wh_stop(&h, 1000);
    assert_true(t.sent == 0 && t.failed == 2 && t.retries == 4);
    assert_int_equal(receiver_requests(&r), 6); /* 1 + 2 retries each */
    receiver_stop(&r);
}

/* An unreachable receiver with a long backoff: the first notification sits
 * in its backoff, the queue fills, the oldest queued ones are dropped, and
 * send never blocks. At shutdown the backoff is cut short and each note
 * gets at most one last attempt within the flush time. */
static void test_webhook_overflow(void **state)
{
    (void)state;
    wh_t h;
    wh_start(&h, closed_port(), 100, 60000, 4);
    gs_webhook_send(h.w, body, strlen(body));
    wait_for(h.m, "govstream_alert_retries_total", 1); /* in its first backoff */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 10; i++)
        gs_webhook_send(h.w, body, strlen(body));
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_true(b.tv_sec - a.tv_sec < 2); /* never waited for a 60 s backoff */
    assert_true(value_of(h.m, "govstream_alerts_dropped_total") == 6);
    assert_true(value_of(h.m, "govstream_alert_queue_depth") == 4);
    tally_t t = wh_stop(&h, 500);
    assert_true(t.sent == 0 && t.retries == 1);
    assert_true(t.failed >= 1);
    assert_true(t.failed + t.dropped == 11);
}

/* Notifications queued at shutdown are still delivered within flush_ms. */
static void test_webhook_flush(void **state)
{
    (void)state;
    receiver_t r;
    receiver_start(&r, (const int[]){200}, 1);
    wh_t h;
    wh_start(&h, r.port, 5, 10, 16);
    for (int i = 0; i < 5; i++)
        gs_webhook_send(h.w, body, strlen(body));
    tally_t t = wh_stop(&h, 5000);
    assert_true(t.sent == 5 && t.failed == 0 && t.dropped == 0);
    assert_int_equal(receiver_requests(&r), 5);
    receiver_stop(&r);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selectors),
        cmocka_unit_test(test_counter_scale),
        cmocka_unit_test(test_quantile_edges),
        cmocka_unit_test(test_fingerprint_vectors),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_rule_lifecycle),
        cmocka_unit_test(test_event_alert),
        cmocka_unit_test(test_rule_windows),
        cmocka_unit_test(test_rule_errors),
        cmocka_unit_test(test_builtin_alerts),
        cmocka_unit_test(test_webhook_retries_then_delivers),
        cmocka_unit_test(test_webhook_4xx_not_retried),
        cmocka_unit_test(test_webhook_retries_exhausted),
        cmocka_unit_test(test_webhook_overflow),
        cmocka_unit_test(test_webhook_flush),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
