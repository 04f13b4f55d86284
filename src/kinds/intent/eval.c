/* The intent model's held-out evaluation (docs/INTENT.md, "Evaluation"):
 * test scenes come from another subject population, other scene seeds and
 * other noise seeds than training and validation. Top-1 accuracy at 1/3,
 * 1/2 and all of the movement observed, against the majority class, a
 * target-heading rule and seed 004's own method (a uniformly random mock);
 * the +0.5 s forecast error against constant velocity and a held hand. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "govstream/svg.h"
#include "train.h"

const char *const intent_names[N_INTENTS] = {"REACH", "GRAB", "HANDOVER", "POINT", "WAVE", "IDLE"};

enum { M_MODEL, M_HEADING, M_MAJORITY, M_SEED, N_METHODS };
static const char *const method_names[N_METHODS] = {"logistic regression", "target heading",
                                                    "majority class", "seed 004 (random)"};

static const double fractions[3] = {1.0 / 3, 0.5, 1.0};
static const char *const fraction_names[3] = {"1/3 observed", "1/2 observed", "all observed"};

typedef struct errs {
    double *v;
    size_t n;
} errs_t;

typedef struct tally {
    size_t correct[3][N_METHODS], total[3];
    double confusion[N_INTENTS * N_INTENTS];
    size_t target_ok, target_n;
    /* wave and idle, goal-directed, goal-directed still moving x model,
     * constant velocity, hold */
    errs_t fc[3][3];
    errs_t by_intent[N_INTENTS][3]; /* the same per true intent */
} tally_t;

/* The baseline rule: no movement is IDLE; heading more to the end effector
 * than to any target is HANDOVER; else a GRAB of the target it heads to. */
static int heading_rule(const double *f)
{
    if (f[11] < 0.05)
        return GS_AVRO_INTENT_IDLE;
    return f[20] > f[16] ? GS_AVRO_INTENT_HANDOVER : GS_AVRO_INTENT_GRAB;
}

static int argmax(const double *p)
{
    int b = 0;
    for (int k = 1; k < N_INTENTS; k++)
        if (p[k] > p[b])
            b = k;
    return b;
}

static int majority(const dataset_t *train)
{
    size_t count[N_INTENTS] = {0};
    for (size_t i = 0; i < train->n; i++)
        count[train->y[i]]++;
    int b = 0;
    for (int k = 1; k < N_INTENTS; k++)
        if (count[k] > count[b])
            b = k;
    return b;
}

static void push(errs_t *e, double v, size_t cap)
{
    if (e->n < cap)
        e->v[e->n++] = v;
}

/* The forecast errors (cm) of one scene at +0.5 s. */
static void forecast_errors(const gen_out_t *g, const track_t *tr, int target, const double *prob,
                            double idle_tau, tally_t *t, size_t cap)
{
    forecast_in_t in = {.s = &g->scene, .tr = tr, .target = target, .h = 0.5, .idle_tau = idle_tau};
    vec3_t truth = g->future[50], last = tr->p[tr->n - 1];
    vec3_t ours = forecast_mix(&in, prob);
    vec3_t cv = v3_add(last, v3_scale(tr->v[tr->n - 1], 0.5));
    int goal = g->intent <= GS_AVRO_INTENT_POINT;
    const vec3_t guess[3] = {ours, cv, last};
    for (int m = 0; m < 3; m++) {
        double e = 100 * v3_norm(v3_sub(guess[m], truth));
        push(&t->fc[goal][m], e, cap);
        if (goal && g->move_end > 0)
            push(&t->fc[2][m], e, cap);
        push(&t->by_intent[g->intent][m], e, cap);
    }
}

static void score_scene(const intent_params_t *p, const gen_out_t *g, int fi, int major,
                        gs_rng_t *rng, tally_t *t, size_t cap)
{
    static track_t tr;
    double f[N_FEATURES], prob[N_INTENTS];
    int best;
    track_build(&g->scene, &tr);
    features_compute(&g->scene, &tr, f, &best, NULL);
    intent_predict(p, f, prob);
    int pred[N_METHODS] = {argmax(prob), heading_rule(f), major,
                           (int)(gs_rng_next(rng) % N_INTENTS)};
    for (int m = 0; m < N_METHODS; m++)
        t->correct[fi][m] += pred[m] == g->intent;
    t->total[fi]++;
    if (fi == 2)
        t->confusion[g->intent * N_INTENTS + pred[M_MODEL]]++;
    if (g->target >= 0) {
        t->target_n++;
        t->target_ok += best == g->target;
    }
    forecast_errors(g, &tr, best, prob, p->idle_tau, t, cap);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double quantile_of(double *v, size_t n, double q)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof(double), cmp_double);
    return v[(size_t)(q * (double)(n - 1) + 0.5)];
}

static double quantile(errs_t *e, double q)
{
    return quantile_of(e->v, e->n, q);
}

static json_t *error_json(errs_t *e)
{
    return json_pack("{s:f,s:f,s:I}", "median_cm", quantile(e, 0.5), "p90_cm", quantile(e, 0.9),
                     "n", (json_int_t)e->n);
}

/* errs_t a and b joined (the "all" row). */
static errs_t joined(const errs_t *a, const errs_t *b)
{
    errs_t j = {malloc((a->n + b->n + 1) * sizeof(double)), 0};
    if (!j.v)
        return j;
    memcpy(j.v, a->v, a->n * sizeof(double));
    memcpy(j.v + a->n, b->v, b->n * sizeof(double));
    j.n = a->n + b->n;
    return j;
}

static void forecast_json(tally_t *t, json_t *rep)
{
    static const char *const fm[3] = {"model", "constant_velocity", "hold"};
    json_t *out = json_object(), *gd = json_object(), *all = json_object(), *other = json_object();
    json_t *moving = json_object();
    for (int m = 0; m < 3; m++) {
        errs_t a = joined(&t->fc[0][m], &t->fc[1][m]);
        json_object_set_new(all, fm[m], error_json(&a));
        json_object_set_new(gd, fm[m], error_json(&t->fc[1][m]));
        json_object_set_new(other, fm[m], error_json(&t->fc[0][m]));
        json_object_set_new(moving, fm[m], error_json(&t->fc[2][m]));
        free(a.v);
    }
    json_object_set_new(out, "goal_directed", gd);
    json_object_set_new(out, "goal_directed_still_moving", moving);
    json_t *per = json_object();
    for (int k = 0; k < N_INTENTS; k++) {
        json_t *row = json_object();
        for (int m = 0; m < 3; m++)
            json_object_set_new(row, fm[m], error_json(&t->by_intent[k][m]));
        json_object_set_new(per, intent_names[k], row);
    }
    json_object_set_new(out, "by_intent", per);
    json_object_set_new(out, "wave_idle", other);
    json_object_set_new(out, "all", all);
    json_object_set_new(rep, "forecast_0_5s", out);
}

static void accuracy_json(const tally_t *t, json_t *rep)
{
    json_t *acc = json_object();
    for (int fi = 0; fi < 3; fi++) {
        json_t *row = json_object();
        for (int m = 0; m < N_METHODS; m++)
            json_object_set_new(row, method_names[m],
                                json_real((double)t->correct[fi][m] / (double)t->total[fi]));
        json_object_set_new(row, "n", json_integer((json_int_t)t->total[fi]));
        json_object_set_new(acc, fraction_names[fi], row);
    }
    json_object_set_new(rep, "top1", acc);
    json_t *recall = json_object(), *conf = json_array();
    for (int k = 0; k < N_INTENTS; k++) {
        double row = 0;
        json_t *r = json_array();
        for (int c = 0; c < N_INTENTS; c++) {
            row += t->confusion[k * N_INTENTS + c];
            json_array_append_new(r, json_integer((json_int_t)t->confusion[k * N_INTENTS + c]));
        }
        json_array_append_new(conf, r);
        json_object_set_new(recall, intent_names[k],
                            json_real(row > 0 ? t->confusion[k * N_INTENTS + k] / row : 0));
    }
    json_object_set_new(rep, "recall_all_observed", recall);
    json_object_set_new(rep, "confusion_all_observed", conf);
    json_object_set_new(rep, "target_top1",
                        json_pack("{s:f,s:I}", "accuracy",
                                  t->target_n ? (double)t->target_ok / (double)t->target_n : 0, "n",
                                  (json_int_t)t->target_n));
}

static json_t *data_json(const train_conf_t *c, const dataset_t *train, const split_t *te)
{
    return json_pack("{s:s,s:I,s:I,s:I,s:I,s:s}", "generator",
                     "ops: src/kinds/intent/gen.c (seeded; docs/DATA.md)", "seed",
                     (json_int_t)c->seed, "train_scenes", (json_int_t)train->n,
                     "test_scenes_per_fraction", (json_int_t)c->n_test, "test_subject_seed",
                     (json_int_t)te->subject_seed, "split",
                     "test: another subject population, other scene and noise seeds");
}

gs_err_t evaluate(const train_conf_t *c, const intent_params_t *p, const dataset_t *train,
                  json_t *rep, char *errstr, size_t en)
{
    static gen_out_t g;
    split_t te = {"test", c->seed + 1000003, 3, 0, 20};
    size_t cap = 3 * c->n_test;
    tally_t *t = calloc(1, sizeof(*t));
    int ok = t != NULL;
    for (int a = 0; ok && a < 3; a++)
        for (int m = 0; m < 3; m++)
            ok = (t->fc[a][m].v = malloc(cap * sizeof(double))) != NULL;
    for (int k = 0; ok && k < N_INTENTS; k++)
        for (int m = 0; m < 3; m++)
            ok = (t->by_intent[k][m].v = malloc(cap * sizeof(double))) != NULL;
    gs_err_t err = ok ? GS_OK : gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    int major = majority(train);
    gs_rng_t rng;
    gs_rng_seed(&rng, c->seed ^ 0x5EED004);
    for (int fi = 0; !err && fi < 3; fi++)
        for (size_t i = 0; i < c->n_test; i++) {
            split_scene(c, &te, i, fractions[fi], &g);
            score_scene(p, &g, fi, major, &rng, t, cap);
            if (isatty(2) && (i % 500 == 0 || i + 1 == c->n_test))
                fprintf(stderr, "\rtest, %s %zu/%zu%s", fraction_names[fi], i + 1, c->n_test,
                        i + 1 == c->n_test ? "\n" : "");
        }
    if (!err) {
        json_object_set_new(rep, "data", data_json(c, train, &te));
        accuracy_json(t, rep);
        forecast_json(t, rep);
    }
    for (int a = 0; t && a < 3; a++)
        for (int m = 0; m < 3; m++)
            free(t->fc[a][m].v);
    for (int k = 0; t && k < N_INTENTS; k++)
        for (int m = 0; m < 3; m++)
            free(t->by_intent[k][m].v);
    free(t);
    return err;
}

/* ---- pictures ------------------------------------------------------------------- */

static double jnum(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(json_object_get(o, a), b);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static gs_err_t accuracy_svg(FILE *fp, void *ctx, char *errstr, size_t en)
{
    json_t *rep = ctx;
    double v[3 * N_METHODS];
    json_t *acc = json_object_get(rep, "top1");
    for (int fi = 0; fi < 3; fi++)
        for (int m = 0; m < N_METHODS; m++)
            v[fi * N_METHODS + m] = jnum(acc, fraction_names[fi], method_names[m]);
    gs_svg_bars_t b = {.title = "Intent top-1 on held-out subjects, seeds and noise",
                       .axis = "top-1 accuracy",
                       .categories = fraction_names,
                       .n_categories = 3,
                       .series = method_names,
                       .n_series = N_METHODS,
                       .values = v,
                       .max = 1,
                       .value_format = "%.3f"};
    return gs_svg_bars_write(fp, &b, errstr, en);
}

static gs_err_t forecast_svg(FILE *fp, void *ctx, char *errstr, size_t en)
{
    json_t *rep = ctx;
    static const char *const rows[] = {"goal-directed, median", "goal-directed, p90",
                                       "still moving, median",  "still moving, p90",
                                       "all, median",           "all, p90"};
    static const char *const groups[] = {"goal_directed", "goal_directed_still_moving", "all"};
    static const char *const series[] = {"ours (intent mixture)", "constant velocity", "hold"};
    static const char *const keys[] = {"model", "constant_velocity", "hold"};
    json_t *f = json_object_get(rep, "forecast_0_5s");
    double v[6 * 3];
    for (int gi = 0; gi < 3; gi++)
        for (int m = 0; m < 3; m++) {
            json_t *e = json_object_get(json_object_get(f, groups[gi]), keys[m]);
            v[(2 * gi) * 3 + m] = json_number_value(json_object_get(e, "median_cm"));
            v[(2 * gi + 1) * 3 + m] = json_number_value(json_object_get(e, "p90_cm"));
        }
    gs_svg_bars_t b = {.title = "Hand forecast error at +0.5 s (held-out test scenes)",
                       .axis = "error, cm",
                       .categories = rows,
                       .n_categories = 6,
                       .series = series,
                       .n_series = 3,
                       .values = v,
                       .value_format = "%.1f"};
    return gs_svg_bars_write(fp, &b, errstr, en);
}

static gs_err_t confusion_svg(FILE *fp, void *ctx, char *errstr, size_t en)
{
    json_t *rep = ctx;
    double counts[N_INTENTS * N_INTENTS];
    json_t *conf = json_object_get(rep, "confusion_all_observed");
    for (int r = 0; r < N_INTENTS; r++)
        for (int c = 0; c < N_INTENTS; c++)
            counts[r * N_INTENTS + c] =
                (double)json_integer_value(json_array_get(json_array_get(conf, r), c));
    gs_svg_matrix_t m = {.title = "Intent confusion, all of the movement observed",
                         .note = "held-out subjects, scene seeds and noise seeds",
                         .labels = intent_names,
                         .n = N_INTENTS,
                         .counts = counts};
    return gs_svg_matrix_write(fp, &m, errstr, en);
}

gs_err_t write_report(const char *prefix, json_t *rep, const char *text, char *errstr, size_t en)
{
    static const gs_svg_page_t pages[] = {
        {".svg", accuracy_svg}, {"-forecast.svg", forecast_svg}, {"-confusion.svg", confusion_svg}};
    return gs_svg_report_write(prefix, text, pages, sizeof(pages) / sizeof(pages[0]), rep, errstr,
                               en);
}
