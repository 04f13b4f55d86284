/* bench/intent MODEL [N] [OUT_PREFIX] - the intent kind in-process (issue
 * 13): N decisions (default 20,000) on generated scenes (all six intents,
 * 1/3 to all of the movement observed, Kinect- and mocap-class noise),
 * each through the kind's own process() on a batch of one: validation,
 * smoothing and features, the classifier, the forecast, the separation,
 * the command and the MPC. Also every stage alone on the same scenes, and
 * the MPC alone (three axes) from random states. p50/p99/max per row. One
 * core, one thread. Prints JSON; with OUT_PREFIX also writes OUT_PREFIX.json
 * and OUT_PREFIX.svg. Progress on a terminal only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "govstream/svg.h"
#include "../src/kinds/intent/internal.h"
#include "../src/kinds/intent/mpc.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "bench-intent: %s: %s\n", what, err);
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { R_DECISION, R_FEATURES, R_CLASSIFY, R_FORECAST, R_SAFETY, R_MPC, N_ROWS };
static const char *const row_names[N_ROWS] = {
    "decision (process, batch of 1)", "smoothing + features", "classifier", "forecast (mixture)",
    "separation + command",           "MPC alone (3 axes)"};

typedef struct row {
    double *us;
    double p50, p99, max, mean;
} row_t;

static void summarise(row_t *r, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += r->us[i];
    qsort(r->us, n, sizeof(double), cmp_double);
    r->p50 = r->us[n / 2];
    r->p99 = r->us[(size_t)((double)(n - 1) * 0.99)];
    r->max = r->us[n - 1];
    r->mean = sum / (double)n;
}

/* The kind as the worker makes it, with the model loaded. */
static gs_kind_t *make_kind(const char *model, gs_config_t **cfg)
{
    char err[512], ov[4200];
    snprintf(ov, sizeof(ov), "models.intent=%s", model);
    const char *ovs[] = {ov, "batch.max=1", "intent.enabled=true"};
    static const gs_config_section_t *sections[2];
    sections[0] = gs_kind_intent.config;
    gs_kind_t *k = NULL;
    if (gs_config_load(NULL, sections, ovs, 3, cfg, err, sizeof(err)) ||
        gs_kind_intent.create(*cfg, gs_config_section(*cfg, "intent"), &k, err, sizeof(err)) ||
        gs_kind_intent.load_models(k, err, sizeof(err)))
        die(model, err);
    return k;
}

/* The stages alone, as kind.c strings them together. */
static void stages(const gs_avro_intent_request_t *r, const intent_params_t *p, const mpc_t *mpc,
                   double *us)
{
    static scene_t s;
    static track_t tr;
    static const gs_intent_sep_conf_t sep = {0.1, 0.2, 0.2, 0.05, 0.01, 2.0, 1.6, 0.5};
    static const rules_conf_t rules = {0.8, 0.2, 0.5, 0.15, 0.3, 0.5, 0.1};
    double f[N_FEATURES], prob[N_INTENTS], t0 = now_ns();
    int target;
    scene_from_request(r, &s);
    track_build(&s, &tr);
    features_compute(&s, &tr, f, &target, NULL);
    double t1 = now_ns();
    intent_predict(p, f, prob);
    double t2 = now_ns();
    forecast_in_t in = {
        .s = &s, .tr = &tr, .target = target, .h = r->horizon_ms / 1000.0, .idle_tau = p->idle_tau};
    vec3_t fc = forecast_mix(&in, prob);
    double t3 = now_ns();
    const double ee[3] = {s.ee.x, s.ee.y, s.ee.z}, ev[3] = {s.ee_vel.x, s.ee_vel.y, s.ee_vel.z};
    const double pts[2][3] = {{s.p[s.n - 1].x, s.p[s.n - 1].y, s.p[s.n - 1].z}, {fc.x, fc.y, fc.z}};
    gs_intent_safety_t sf;
    gs_intent_safety_eval(&sep, 0.3, ee, ev, pts, 2, NULL, 0, &sf);
    decision_in_t di = {.s = &s,
                        .prob = prob,
                        .target = target,
                        .hand = s.p[s.n - 1],
                        .forecast = fc,
                        .safety = &sf};
    decision_t d;
    decide(&rules, &di, &d);
    double t4 = now_ns();
    mpc_plan_t pl;
    for (int a = 0; a < 3; a++)
        mpc_solve(mpc, (a - 1) * 0.3, ((double[]){s.ee_vel.x, s.ee_vel.y, s.ee_vel.z})[a], &pl);
    double t5 = now_ns();
    us[R_FEATURES] = (t1 - t0) / 1e3;
    us[R_CLASSIFY] = (t2 - t1) / 1e3;
    us[R_FORECAST] = (t3 - t2) / 1e3;
    us[R_SAFETY] = (t4 - t3) / 1e3;
    us[R_MPC] = (t5 - t4) / 1e3;
}

static void write_svg(const char *prefix, const row_t *rows)
{
    char path[4200], err[256];
    snprintf(path, sizeof(path), "%s.svg", prefix);
    FILE *fp = fopen(path, "w");
    if (!fp)
        die(path, "cannot write");
    static const char *const series[] = {"p50", "p99", "max"};
    double v[N_ROWS * 3];
    for (size_t i = 0; i < N_ROWS; i++) {
        v[i * 3] = rows[i].p50;
        v[i * 3 + 1] = rows[i].p99;
        v[i * 3 + 2] = rows[i].max;
    }
    gs_svg_bars_t b = {.title = "Intent decisions in-process (one core)",
                       .axis = "microseconds",
                       .categories = row_names,
                       .n_categories = N_ROWS,
                       .series = series,
                       .n_series = 3,
                       .values = v,
                       .value_format = "%.1f"};
    if (gs_svg_bars_write(fp, &b, err, sizeof(err)))
        die(path, err);
    fclose(fp);
}

static char *report(const row_t *rows, size_t n, const size_t *commands)
{
    static char out[4096];
    size_t len = (size_t)snprintf(out, sizeof(out), "{\"decisions\": %zu, \"us\": {", n);
    for (int i = 0; i < N_ROWS; i++)
        len += (size_t)snprintf(out + len, sizeof(out) - len,
                                "%s\"%s\": {\"p50\": %.2f, \"p99\": %.2f, \"max\": %.2f, "
                                "\"mean\": %.2f}",
                                i ? ", " : "", row_names[i], rows[i].p50, rows[i].p99, rows[i].max,
                                rows[i].mean);
    static const char *const cmd[] = {"CONTINUE", "APPROACH", "HANDOVER_POSE",
                                      "YIELD",    "RETREAT",  "STOP"};
    len += (size_t)snprintf(out + len, sizeof(out) - len, "}, \"commands\": {");
    for (int c = 0; c < 6; c++)
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s\"%s\": %zu", c ? ", " : "",
                                cmd[c], commands[c]);
    snprintf(out + len, sizeof(out) - len, "}, \"target_p99_us\": 50}\n");
    return out;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench-intent MODEL [N] [OUT_PREFIX]\n");
        return 2;
    }
    size_t n = argc > 2 ? (size_t)atol(argv[2]) : 20000;
    n = n < 100 ? 100 : n;
    gs_config_t *cfg;
    gs_kind_t *k = make_kind(argv[1], &cfg);
    intent_model_t *model;
    mpc_t *mpc;
    char err[512];
    mpc_conf_t mc = {
        .dt = 0.1, .a_max = 3, .v_max = 2, .horizon = 10, .q_pos = 10, .q_vel = 1, .r = 0.1};
    if (intent_model_load(argv[1], &model, err, sizeof(err)) ||
        mpc_new(&mc, &mpc, err, sizeof(err)))
        die(argv[1], err);
    row_t rows[N_ROWS];
    for (int i = 0; i < N_ROWS; i++)
        rows[i].us = malloc(n * sizeof(double));
    gs_arena_t arena = {0};
    gs_rng_t rng;
    gs_rng_seed(&rng, 13);
    gs_load_params_t lp = {.run_id = "bench", .keys = 64, .tenants = 4};
    gs_avro_intent_request_t req;
    gs_avro_intent_result_t res;
    size_t commands[6] = {0};
    int tty = isatty(2);
    for (size_t i = 0; i < n; i++) {
        gs_arena_reset(&arena);
        gs_intent_load.generate(&lp, (long)i, &rng, &req, &arena);
        memset(&res, 0, sizeof(res));
        gs_item_t it = {.partition = 0, .timestamp_ms = -1, .request = &req, .result = &res};
        gs_item_t *items[1] = {&it};
        gs_batch_t b = {.items = items, .n = 1, .arena = &arena};
        double t0 = now_ns();
        gs_kind_intent.process(k, &b);
        rows[R_DECISION].us[i] = (now_ns() - t0) / 1e3;
        if (it.err)
            die("a generated request", it.errmsg);
        commands[res.command % 6]++;
        double us[N_ROWS];
        stages(&req, intent_model_params(model), mpc, us);
        for (int r = 1; r < N_ROWS; r++)
            rows[r].us[i] = us[r];
        if (tty && (i % 1000 == 0 || i + 1 == n))
            fprintf(stderr, "\rdecisions %zu/%zu%s", i + 1, n, i + 1 == n ? "\n" : "");
    }
    for (int i = 0; i < N_ROWS; i++)
        summarise(&rows[i], n);
    char *out = report(rows, n, commands);
    fputs(out, stdout);
    if (argc > 3) {
        char path[4200];
        snprintf(path, sizeof(path), "%s.json", argv[3]);
        FILE *fp = fopen(path, "w");
        if (!fp || fputs(out, fp) < 0)
            die(path, "cannot write");
        fclose(fp);
        write_svg(argv[3], rows);
    }
    for (int i = 0; i < N_ROWS; i++)
        free(rows[i].us);
    gs_arena_free(&arena);
    intent_model_destroy(model);
    mpc_destroy(mpc);
    gs_kind_intent.destroy(k);
    gs_config_destroy(cfg);
    return 0;
}
