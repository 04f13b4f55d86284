/* govstream train intent: draws the training, validation and test scenes
 * from the generator (gen.c), fits the intent model (fit.c), evaluates it
 * on held-out subjects, seeds and noise against simple baselines, checks
 * it on the real GunPoint series when given, and writes the model file and
 * its report (JSON and SVG; docs/INTENT.md, "Evaluation"). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fit.h"
#include "govstream/svg.h"
#include "train.h"

/* ---- data ------------------------------------------------------------------- */

static uint64_t seed_of(uint64_t seed, uint64_t stream, uint64_t i)
{
    gs_rng_t r;
    gs_rng_seed(&r, seed ^ (stream * 0x9E3779B97F4A7C15ull) ^ (i * 0xD1B54A32D192ED03ull));
    gs_rng_next(&r);
    return gs_rng_next(&r);
}

void split_scene(const train_conf_t *tc, const split_t *sp, size_t i, double fraction, gen_out_t *g)
{
    gen_conf_t c = {.seed = seed_of(tc->seed, sp->stream, i),
                    .noise_seed = seed_of(tc->seed, sp->stream + 7, i),
                    .subject_seed = sp->subject_seed,
                    .subject = sp->first_subject + (long)(i % (size_t)sp->subjects),
                    .intent = (int)(i % N_INTENTS),
                    .fraction = fraction};
    gen_scene(&c, g);
}

static void progress(const char *what, size_t i, size_t n)
{
    if (isatty(2) && (i % 500 == 0 || i + 1 == n))
        fprintf(stderr, "\r%s %zu/%zu", what, i + 1, n);
    if (isatty(2) && i + 1 == n)
        fputc('\n', stderr);
}

/* Features of n scenes of a split; the fractions cycle through `fracs`. */
static gs_err_t draw(const train_conf_t *tc, const split_t *sp, size_t n, const double *fracs,
                     size_t n_fracs, dataset_t *ds, char *errstr, size_t en)
{
    static gen_out_t g;
    static track_t tr;
    ds->n = n;
    ds->f = calloc(n * N_FEATURES, sizeof(double));
    ds->y = malloc(n * sizeof(int));
    if (!ds->f || !ds->y)
        return gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        split_scene(tc, sp, i, fracs[(i / N_INTENTS) % n_fracs], &g);
        track_build(&g.scene, &tr);
        int best;
        features_compute(&g.scene, &tr, ds->f + i * N_FEATURES, &best, NULL);
        ds->y[i] = g.intent;
        progress(sp->name, i, n);
    }
    return GS_OK;
}

void dataset_free(dataset_t *ds)
{
    free(ds->f);
    free(ds->y);
    ds->f = NULL;
    ds->y = NULL;
}

/* ---- fitting ------------------------------------------------------------------ */

static void standardise(const dataset_t *ds, intent_params_t *p)
{
    for (int j = 0; j < N_FEATURES; j++) {
        double s = 0, q = 0;
        for (size_t i = 0; i < ds->n; i++) {
            double v = ds->f[i * N_FEATURES + j];
            s += v;
            q += v * v;
        }
        double mean = s / (double)ds->n, var = q / (double)ds->n - mean * mean;
        p->mean[j] = (float)mean;
        p->scale[j] = (float)(var > 1e-12 ? sqrt(var) : 1.0);
    }
}

static double *zscores(const dataset_t *ds, const intent_params_t *p)
{
    double *z = malloc(ds->n * N_FEATURES * sizeof(double));
    for (size_t i = 0; z && i < ds->n; i++)
        for (int j = 0; j < N_FEATURES; j++)
            z[i * N_FEATURES + j] = (ds->f[i * N_FEATURES + j] - p->mean[j]) / p->scale[j];
    return z;
}

/* The stored model is float: what is evaluated is what is served. */
static void round_params(intent_params_t *p, const double *w)
{
    for (int k = 0; k < N_INTENTS; k++)
        for (int j = 0; j <= N_FEATURES; j++)
            p->w[k][j] = (float)w[k * (N_FEATURES + 1) + j];
}

/* Fits every penalty of the grid on train and keeps the one of the lowest
 * validation log-loss; then the temperature on validation. */
gs_err_t fit_model(const dataset_t *train, const dataset_t *val, intent_params_t *p, json_t *rep,
                   char *errstr, size_t en)
{
    static const double lambdas[] = {1e-4, 1e-3, 1e-2};
    standardise(train, p);
    double *zt = zscores(train, p), *zv = zscores(val, p);
    double w[N_INTENTS * (N_FEATURES + 1)], best_w[N_INTENTS * (N_FEATURES + 1)] = {0};
    double best = INFINITY, best_lambda = 0;
    int iters = 0, best_iters = 0;
    gs_err_t err = zt && zv ? GS_OK : gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    for (size_t l = 0; !err && l < sizeof(lambdas) / sizeof(lambdas[0]); l++) {
        if (isatty(2))
            fprintf(stderr, "fitting, penalty %g\n", lambdas[l]);
        err = lr_fit(zt, train->y, train->n, lambdas[l], w, &iters, errstr, en);
        double nll = err ? INFINITY : lr_nll(zv, val->y, val->n, w, 1);
        if (nll < best) {
            best = nll, best_lambda = lambdas[l], best_iters = iters;
            memcpy(best_w, w, sizeof(w));
        }
    }
    if (!err) {
        p->temperature = lr_temperature(zv, val->y, val->n, best_w);
        round_params(p, best_w);
        json_object_set_new(rep, "fit",
                            json_pack("{s:s,s:f,s:i,s:f,s:f,s:f}", "method",
                                      "multinomial logistic regression, Newton", "l2", best_lambda,
                                      "iterations", best_iters, "validation_nll", best,
                                      "temperature", p->temperature, "validation_nll_calibrated",
                                      lr_nll(zv, val->y, val->n, best_w, p->temperature)));
    }
    free(zt);
    free(zv);
    return err;
}

/* The idle hand's damping on the validation scenes: the tau of the lowest
 * median error at +0.5 s among a few, 0 (holding still) included. */
static gs_err_t choose_idle_tau(const train_conf_t *c, const split_t *va, size_t n_val,
                                const double *fracs, intent_params_t *p, json_t *rep, char *errstr,
                                size_t en)
{
    static const double taus[] = {0, 0.02, 0.05, 0.1, 0.2};
    enum { N_TAUS = sizeof(taus) / sizeof(taus[0]) };
    static gen_out_t g;
    static track_t tr;
    size_t m = 0, cap = n_val / N_INTENTS + 1;
    double *err[N_TAUS];
    for (int k = 0; k < N_TAUS; k++)
        err[k] = malloc(cap * sizeof(double));
    json_t *medians = json_object();
    gs_err_t e = GS_OK;
    for (int k = 0; k < N_TAUS && !e; k++)
        if (!err[k])
            e = gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    for (size_t i = GS_AVRO_INTENT_IDLE; !e && i < n_val && m < cap; i += N_INTENTS, m++) {
        split_scene(c, va, i, fracs[(i / N_INTENTS) % 4], &g);
        track_build(&g.scene, &tr);
        for (int k = 0; k < N_TAUS; k++) {
            forecast_in_t in = {
                .s = &g.scene, .tr = &tr, .target = -1, .h = 0.5, .idle_tau = taus[k]};
            vec3_t fc = forecast_intent(&in, GS_AVRO_INTENT_IDLE);
            err[k][m] = 100 * v3_norm(v3_sub(fc, g.future[50]));
        }
    }
    double best = INFINITY;
    for (int k = 0; k < N_TAUS && !e && m; k++) {
        double med = quantile_of(err[k], m, 0.5);
        char key[16];
        snprintf(key, sizeof(key), "%g", taus[k]);
        json_object_set_new(medians, key, json_real(med));
        if (med < best)
            best = med, p->idle_tau = taus[k];
    }
    json_object_set_new(json_object_get(rep, "fit"), "idle_tau",
                        json_pack("{s:f,s:I,s:o}", "chosen", p->idle_tau, "validation_scenes",
                                  (json_int_t)m, "median_cm_by_tau", medians));
    for (int k = 0; k < N_TAUS; k++)
        free(err[k]);
    return e;
}

/* ---- the command ---------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: govstream train intent --out MODEL [--seed N] [--train N] [--test N]\n"
            "           [--gunpoint DIR] [--report PREFIX] [--name S] [--version S]\n"
            "  draws its data from the seeded trajectory generator (docs/DATA.md); writes\n"
            "  MODEL and PREFIX.json / PREFIX.svg (default PREFIX: MODEL.report): top-1 on\n"
            "  held-out subjects at 1/3, 1/2 and all of the movement, against baselines,\n"
            "  and the +0.5 s forecast error against constant velocity. --gunpoint: the\n"
            "  UCR GunPoint series (ops/data/gunpoint.sh) for the real-data check\n");
}

static int number(const char *name, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(optarg, &end);
    if (errno || end == optarg || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "govstream train intent: --%s: expected a number in [%g, %g], got '%s'\n",
                name, lo, hi, optarg);
        return 1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, train_conf_t *c)
{
    static const struct option lo[] = {{"out", 1, 0, 'o'},      {"seed", 1, 0, 's'},
                                       {"train", 1, 0, 't'},    {"test", 1, 0, 'T'},
                                       {"gunpoint", 1, 0, 'g'}, {"report", 1, 0, 'r'},
                                       {"name", 1, 0, 'n'},     {"version", 1, 0, 'v'},
                                       {"help", 0, 0, 'h'},     {0, 0, 0, 0}};
    optind = 1;
    int o, idx = 0, bad = 0;
    double v = 0;
    while ((o = getopt_long(argc, argv, "", lo, &idx)) != -1) {
        switch (o) {
        case 'o':
            c->out = optarg;
            break;
        case 'g':
            c->gunpoint = optarg;
            break;
        case 'r':
            c->report = optarg;
            break;
        case 'n':
            c->name = optarg;
            break;
        case 'v':
            c->version = optarg;
            break;
        case 's':
            bad |= number("seed", 0, 4294967295.0, &v);
            c->seed = (uint64_t)v;
            break;
        case 't':
            bad |= number("train", 600, 1e7, &v);
            c->n_train = (size_t)v;
            break;
        case 'T':
            bad |= number("test", 60, 1e7, &v);
            c->n_test = (size_t)v;
            break;
        case 'h':
            usage();
            return -1;
        default:
            usage();
            return 2;
        }
    }
    if (bad)
        return 2;
    if (!c->out) {
        usage();
        return 2;
    }
    return 0;
}

static const split_t train_split = {"train", 0, 1, 0, 40};
static const split_t val_split = {"validation", 0, 2, 40, 10};

int intent_train_cmd(int argc, char **argv)
{
    train_conf_t c = {
        .seed = 4, .n_train = 24000, .n_test = 2400, .name = "intent", .version = "1"};
    int rc = parse_args(argc, argv, &c);
    if (rc)
        return rc < 0 ? 0 : rc;
    char err[512], prefix[4096];
    snprintf(prefix, sizeof(prefix), "%s", c.report ? c.report : c.out);
    if (!c.report)
        strncat(prefix, ".report", sizeof(prefix) - strlen(prefix) - 1);
    split_t tr = train_split, va = val_split;
    tr.subject_seed = va.subject_seed = c.seed;
    static const double fracs[] = {1.0 / 3, 0.5, 2.0 / 3, 1.0};
    dataset_t train = {0}, val = {0};
    intent_params_t p = {0};
    json_t *rep = json_object();
    gs_err_t e = draw(&c, &tr, c.n_train, fracs, 4, &train, err, sizeof(err));
    if (!e)
        e = draw(&c, &va, c.n_train / 4, fracs, 4, &val, err, sizeof(err));
    if (!e)
        e = fit_model(&train, &val, &p, rep, err, sizeof(err));
    if (!e)
        e = choose_idle_tau(&c, &va, val.n, fracs, &p, rep, err, sizeof(err));
    if (!e)
        e = evaluate(&c, &p, &train, rep, err, sizeof(err));
    if (!e && c.gunpoint)
        e = gunpoint_check(&c, &p, rep, err, sizeof(err));
    char *text = e ? NULL : json_dumps(rep, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!e)
        e = write_report(prefix, rep, text, err, sizeof(err));
    if (!e)
        e = intent_model_write(c.out, &p, c.name, c.version, text, err, sizeof(err));
    if (e)
        fprintf(stderr, "govstream train intent: %s\n", err);
    else
        fprintf(stderr, "govstream train intent: wrote %s, %s.json and %s.svg\n", c.out, prefix,
                prefix);
    free(text);
    json_decref(rep);
    dataset_free(&train);
    dataset_free(&val);
    return e ? 1 : 0;
}
