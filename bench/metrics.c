/* bench/metrics [N] - what the metrics and alerts cost the poll thread
 * (issue 5: "cheap enough to leave on"):
 *   1. ns per counter add, gauge set and histogram observation, and per
 *      request (obs_item: the outcome counter and four stage histograms,
 *      exactly what the worker does per result);
 *   2. counter adds from two threads, on one shared series and on one
 *      series each (webhook and poll thread share a registry);
 *   3. one /metrics rendering and one alert evaluation (the built-in
 *      alerts plus 20 rules) over the worker's families with 12 lag
 *      partitions.
 * Prints JSON. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/alert.h"
#include "../src/pipeline/observe.h" /* the worker's families and obs_item */

static double now_ns(void)
{
    return (double)gs_now_us() * 1e3;
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "bench-metrics: %s: %s\n", what, err);
    exit(1);
}

typedef struct adder {
    gs_series_t *s;
    size_t n;
} adder_t;

static void *add_loop(void *arg)
{
    const adder_t *a = arg;
    for (size_t i = 0; i < a->n; i++)
        gs_counter_add(a->s, 1);
    return NULL;
}

/* ns per add with two threads adding to s1 and s2 at once */
static double two_threads(gs_series_t *s1, gs_series_t *s2, size_t n)
{
    adder_t a1 = {s1, n}, a2 = {s2, n};
    pthread_t t;
    double t0 = now_ns();
    if (pthread_create(&t, NULL, add_loop, &a2))
        die("pthread_create", "failed");
    add_loop(&a1);
    pthread_join(t, NULL);
    return (now_ns() - t0) / (double)n;
}

static void rule(char *buf, size_t size, int i)
{
    static const char *const forms[] = {
        "{name=\"R%d\"; metric=\"govstream_requests_total\"; aggregation=\"rate\"; "
        "window_ms=60000; op=\">\"; threshold=1.0;}",
        "{name=\"R%d\"; metric=\"govstream_requests_total{outcome=\\\"rejected\\\"}\"; "
        "over=\"govstream_requests_total\"; aggregation=\"ratio\"; window_ms=60000; op=\">\"; "
        "threshold=0.5;}",
        "{name=\"R%d\"; metric=\"govstream_request_duration_seconds{stage=\\\"total\\\"}\"; "
        "aggregation=\"quantile\"; quantile=0.99; window_ms=60000; op=\">\"; threshold=0.1;}",
        "{name=\"R%d\"; metric=\"govstream_consumer_lag\"; aggregation=\"max\"; op=\">\"; "
        "threshold=1000.0;}",
    };
    snprintf(buf, size, forms[i % 4], i);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 20000000;
    char err[512];
    gs_metrics_t *m;
    obs_t o;
    const char *kinds[] = {"dialogue"};
    if (gs_metrics_new(&m, err, sizeof(err)) || obs_init(&o, m, kinds, 1, err, sizeof(err)))
        die("metrics", err);
    for (int p = 0; p < 12; p++) {
        char part[8];
        snprintf(part, sizeof(part), "%d", p);
        gs_gauge_set(gs_metrics_series(m, "govstream_consumer_lag",
                                       (const char *[]){"topic", "requests", "partition", part}, 2),
                     (double)p);
    }

    /* 1. single operations, and one request's worth */
    gs_series_t *c = o.kinds[0].outcome[OUT_ACCEPTED], *h = o.kinds[0].stage[STAGE_TOTAL];
    double t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        gs_counter_add(c, 1);
    double counter_ns = (now_ns() - t0) / (double)n;
    t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        gs_gauge_set(o.pending, (double)i);
    double gauge_ns = (now_ns() - t0) / (double)n;
    t0 = now_ns();
    for (size_t i = 0; i < n; i++) /* 1 us .. 16 ms: the whole bucket range */
        gs_hist_observe(h, (i * 2654435761u) % 16384);
    double hist_ns = (now_ns() - t0) / (double)n;
    obs_sample_t it = {.accepted = 1};
    size_t n_items = n / 4;
    t0 = now_ns();
    for (size_t i = 0; i < n_items; i++) {
        it.decode_us = (int64_t)(i & 7);
        it.govern_us = (int64_t)(i & 15);
        it.infer_us = 0;
        it.total_us = (int64_t)(i & 63);
        obs_item(&o, 0, &it);
    }
    double item_ns = (now_ns() - t0) / (double)n_items;

    /* 2. two threads */
    gs_series_t *other = o.kinds[0].outcome[OUT_REJECTED];
    double shared_ns = two_threads(c, c, n_items), own_ns = two_threads(c, other, n_items);

    /* 3. rendering and alert evaluation */
    enum { RENDERS = 2000, EVALS = 20000 };
    char *text = NULL;
    size_t len = 0;
    t0 = now_ns();
    for (int i = 0; i < RENDERS; i++) {
        free(text);
        if (gs_metrics_render(m, &text, &len))
            die("render", "out of memory");
    }
    double render_us = (now_ns() - t0) / RENDERS / 1e3;
    size_t samples = 0;
    for (const char *p = text; (p = strchr(p, '\n')); p++)
        samples += p[1] && p[1] != '#';
    free(text);

    char rules[8192] = "alerts.rules=(", one[512];
    for (int i = 0; i < 20; i++) {
        rule(one, sizeof(one), i);
        strncat(rules, one, sizeof(rules) - strlen(rules) - 3);
        strcat(rules, i < 19 ? "," : ")");
    }
    const char *ov[] = {rules, "alerts.eval_interval_ms=100", "alerts.repeat_ms=0"};
    gs_config_t *cfg;
    gs_alerter_t *a;
    if (gs_config_load(NULL, NULL, ov, 3, &cfg, err, sizeof(err)) ||
        gs_alerter_new(cfg, m, NULL, &a, err, sizeof(err)))
        die("alerts", err);
    t0 = now_ns();
    for (int i = 0; i < EVALS; i++) /* every call is due: 100 ms apart */
        gs_alerter_tick(a, (int64_t)i * 100000, NULL, NULL);
    double eval_us = (now_ns() - t0) / EVALS / 1e3;

    printf("{\"ns_per_op\": {\"counter_add\": %.1f, \"gauge_set\": %.1f, \"hist_observe\": %.1f, "
           "\"per_request\": %.1f},\n"
           " \"two_threads_ns_per_add\": {\"one_shared_series\": %.1f, \"a_series_each\": %.1f},\n"
           " \"render\": {\"us\": %.1f, \"samples\": %zu, \"bytes\": %zu},\n"
           " \"alert_evaluation_us\": %.2f, \"rules\": 26}\n",
           counter_ns, gauge_ns, hist_ns, item_ns, shared_ns, own_ns, render_us, samples, len,
           eval_us);
    gs_alerter_destroy(a);
    gs_config_destroy(cfg);
    gs_metrics_destroy(m);
    return 0;
}
