/* The timbre model's held-out evaluation (train.h, docs/TIMBRE.md,
 * "Evaluation"). Every split trains on one lineage of sound fonts and
 * tests on another, so no sample is ever on both sides: across lineages,
 * across lineages on programs never trained on, and across lineages on the
 * top quarter of each family's pitch range, never trained on. Each split
 * reports our perceptron on the pooled features against the majority
 * class, a k-NN on the MFCC statistics and the seed's method (the same
 * perceptron on the seed's 34 values). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/svg.h"
#include "govstream/timbre.h"
#include "train.h"

#define NF  GS_TIMBRE_N_FAMILIES
#define KNN 5

enum { MODE_ALL, MODE_PROGRAMS, MODE_TOP_PITCH };
enum { M_MAJORITY, M_KNN, M_SEED, M_MLP, M_CNN, M_MEAN, N_METHODS };

static const char *const method_names[N_METHODS] = {"majority", "mfcc_knn5", "seed34_mlp",
                                                    "mlp",      "cnn",       "mlp_cnn_mean"};

typedef struct split_def {
    const char *name, *description;
    int train_lineage, test_lineage, mode;
} split_def_t;

static const split_def_t splits[] = {
    {"lineage_0_to_1", "train on lineage 0, test on lineage 1", 0, 1, MODE_ALL},
    {"lineage_1_to_0", "train on lineage 1, test on lineage 0", 1, 0, MODE_ALL},
    {"held_out_programs",
     "train on lineage 0 without a third of each family's programs, test on lineage 1 with "
     "only those",
     0, 1, MODE_PROGRAMS},
    {"held_out_top_pitch",
     "train on lineage 0 below the top quarter of each family's pitches, test on lineage 1 "
     "with only that quarter",
     0, 1, MODE_TOP_PITCH},
};
#define N_SPLITS (sizeof(splits) / sizeof(splits[0]))

typedef struct metrics {
    double conf[NF][NF];
    long n, top1, top3;
} metrics_t;

/* ---- which notes a split uses ------------------------------------------ */

void timbre_val_programs(uint64_t seed, const unsigned char *avoid, unsigned char *val)
{
    memset(val, 0, 128);
    for (int f = 0; f < NF; f++) {
        int cand[128], n = 0;
        for (int p = 0; p < 128; p++)
            if (gs_timbre_gm_family(p) == f && !(avoid && avoid[p]))
                cand[n++] = p;
        if (n > 1) /* a family of one program keeps it for training */
            val[cand[(seed + (uint64_t)f) % (uint64_t)n]] = 1;
    }
}

/* Every third program of each family, from its second. */
static void test_programs(unsigned char *held)
{
    int seen[NF] = {0};
    memset(held, 0, 128);
    for (int p = 0; p < 128; p++) {
        int f = gs_timbre_gm_family(p);
        if (f >= 0)
            held[p] = seen[f]++ % 3 == 1;
    }
}

static int pitches_per_program(const tdata_t *d)
{
    int top = 0;
    for (size_t i = 0; i < d->notes.n; i++)
        top = d->notes.notes[i].pitch_index > top ? d->notes.notes[i].pitch_index : top;
    return top + 1;
}

static void split_roles(const train_conf_t *c, const tdata_t *d, const split_def_t *s,
                        unsigned char *role)
{
    unsigned char held[128], val[128];
    test_programs(held);
    timbre_val_programs(c->seed, s->mode == MODE_PROGRAMS ? held : NULL, val);
    int pitches = pitches_per_program(d), top_from = pitches - (pitches / 4 > 1 ? pitches / 4 : 1);
    for (size_t i = 0; i < d->notes.n; i++) {
        const note_t *nt = &d->notes.notes[i];
        int in_held = s->mode == MODE_PROGRAMS    ? held[nt->program]
                      : s->mode == MODE_TOP_PITCH ? nt->pitch_index >= top_from
                                                  : -1;
        role[i] = ROLE_NONE;
        if (nt->lineage == s->train_lineage && in_held != 1)
            role[i] = val[nt->program] ? ROLE_VAL : ROLE_TRAIN;
        else if (nt->lineage == s->test_lineage && in_held != 0)
            role[i] = ROLE_TEST;
    }
}

/* ---- the methods -------------------------------------------------------- */

static void add_result(metrics_t *m, int truth, const double *p)
{
    int best = 0, rank = 0;
    for (int j = 1; j < NF; j++)
        best = p[j] > p[best] ? j : best;
    for (int j = 0; j < NF; j++)
        rank += p[j] > p[truth] || (j < truth && p[j] == p[truth]);
    m->conf[truth][best]++;
    m->n++;
    m->top1 += rank == 0;
    m->top3 += rank < 3;
}

/* Each method fills probs (n_notes x NF) on the TEST notes. */
static void majority(const tdata_t *d, const unsigned char *role, double *probs)
{
    double prior[NF] = {0}, n = 0;
    for (size_t i = 0; i < d->notes.n; i++)
        if (role[i] == ROLE_TRAIN)
            prior[d->notes.notes[i].family]++, n++;
    for (size_t i = 0; i < d->notes.n; i++)
        if (role[i] == ROLE_TEST)
            for (int j = 0; j < NF; j++)
                probs[i * NF + (size_t)j] = prior[j] / n;
}

/* k-NN on the standardised MFCC means and deviations of the clean
 * training notes; a family's score is its votes, ties to the nearer. */
static void knn(const tdata_t *d, const unsigned char *role, double *probs)
{
    enum { D = 2 * GS_TIMBRE_N_MFCC };
    double mean[D] = {0}, sd[D] = {0};
    long n = 0;
    for (size_t i = 0; i < d->notes.n; i++)
        if (role[i] == ROLE_TRAIN) {
            for (int j = 0; j < D; j++)
                mean[j] += tdata_row(d, 0, i)[j];
            n++;
        }
    for (int j = 0; j < D; j++)
        mean[j] /= (double)(n ? n : 1);
    for (size_t i = 0; i < d->notes.n; i++)
        if (role[i] == ROLE_TRAIN)
            for (int j = 0; j < D; j++)
                sd[j] += pow(tdata_row(d, 0, i)[j] - mean[j], 2);
    for (int j = 0; j < D; j++)
        sd[j] = sqrt(sd[j] / (double)(n ? n : 1)) + 1e-9;
    for (size_t t = 0; t < d->notes.n; t++) {
        if (role[t] != ROLE_TEST)
            continue;
        double best[KNN], score[NF] = {0};
        int who[KNN];
        for (int k = 0; k < KNN; k++)
            best[k] = INFINITY, who[k] = 0;
        for (size_t i = 0; i < d->notes.n; i++) {
            if (role[i] != ROLE_TRAIN)
                continue;
            double dist = 0;
            for (int j = 0; j < D; j++)
                dist += pow((tdata_row(d, 0, t)[j] - tdata_row(d, 0, i)[j]) / sd[j], 2);
            int k = KNN - 1;
            if (dist >= best[k])
                continue;
            for (; k > 0 && best[k - 1] > dist; k--)
                best[k] = best[k - 1], who[k] = who[k - 1];
            best[k] = dist;
            who[k] = d->notes.notes[i].family;
        }
        for (int k = 0; k < KNN; k++)
            score[who[k]] += 1.0 + 1e-3 * (KNN - k); /* the nearer breaks a tie */
        double total = 0;
        for (int j = 0; j < NF; j++)
            total += score[j];
        for (int j = 0; j < NF; j++)
            probs[t * NF + (size_t)j] = score[j] / total;
    }
}

/* The pooled values a method learns from, into idx: the seed's 34 or all. */
static size_t method_features(int method, size_t *idx)
{
    size_t n = method == M_SEED ? GS_TIMBRE_N_SEED : GS_TIMBRE_N_POOLED;
    for (size_t i = 0; i < n; i++)
        idx[i] = method == M_SEED ? gs_timbre_seed_index(i) : i;
    return n;
}

/* A perceptron on the given features, and its test results. */
static gs_err_t perceptron(const train_conf_t *c, const tdata_t *d, const unsigned char *role,
                           int method, double *probs, json_t *out, char *errstr, size_t en)
{
    size_t idx[GS_TIMBRE_N_POOLED], nf = method_features(method, idx);
    timbre_model_t model;
    mlp_fit_result_t fr;
    gs_err_t err = timbre_fit(c, d, role, idx, nf, &model, &fr, errstr, en);
    if (err)
        return err;
    float x[GS_TIMBRE_N_POOLED], p[NF], *scratch = malloc((size_t)2 * 512 * sizeof(float));
    for (size_t i = 0; scratch && i < d->notes.n; i++) {
        if (role[i] != ROLE_TEST)
            continue;
        for (size_t j = 0; j < nf; j++)
            x[j] = (float)((tdata_row(d, 0, i)[idx[j]] - model.mean[j]) / model.scale[j]);
        mlp_predict(&model.mlp, x, 1, p, scratch);
        for (int j = 0; j < NF; j++)
            probs[i * NF + (size_t)j] = p[j];
    }
    json_object_set_new(out, "epochs", json_integer(fr.best_epoch));
    json_object_set_new(out, "temperature", json_real(fr.temperature));
    timbre_model_free(&model);
    free(scratch);
    return scratch ? GS_OK : gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
}

static gs_err_t convnet(const train_conf_t *c, const tdata_t *d, const unsigned char *role,
                        double *probs, json_t *out, char *errstr, size_t en)
{
    cnn_t net;
    mlp_fit_result_t fr;
    gs_err_t err = timbre_fit_cnn(c, d, role, &net, &fr, errstr, en);
    if (err)
        return err;
    float p[NF];
    for (size_t i = 0; !err && i < d->notes.n; i++) {
        if (role[i] != ROLE_TEST)
            continue;
        err = cnn_predict(&net, d->mel + d->mel_off[i], d->mel_width[i], p);
        for (int j = 0; j < NF; j++)
            probs[i * NF + (size_t)j] = p[j];
    }
    json_object_set_new(out, "epochs", json_integer(fr.best_epoch));
    json_object_set_new(out, "temperature", json_real(fr.temperature));
    cnn_free(&net);
    return err;
}

/* ---- the report ---------------------------------------------------------- */

static json_t *metrics_json(const metrics_t *m, json_t *o)
{
    json_t *recall = json_object();
    for (int f = 0; f < NF; f++) {
        double row = 0;
        for (int j = 0; j < NF; j++)
            row += m->conf[f][j];
        json_object_set_new(recall, gs_timbre_family_names[f],
                            row > 0 ? json_real(m->conf[f][f] / row) : json_null());
    }
    json_object_set_new(o, "top1", json_real(m->n ? (double)m->top1 / m->n : 0));
    json_object_set_new(o, "top3", json_real(m->n ? (double)m->top3 / m->n : 0));
    json_object_set_new(o, "recall", recall);
    return o;
}

static json_t *confusion_json(const metrics_t *m)
{
    json_t *rows = json_array();
    for (int f = 0; f < NF; f++) {
        json_t *r = json_array();
        for (int j = 0; j < NF; j++)
            json_array_append_new(r, json_integer((json_int_t)m->conf[f][j]));
        json_array_append_new(rows, r);
    }
    return rows;
}

static json_t *role_counts(const tdata_t *d, const unsigned char *role)
{
    long n[4] = {0};
    for (size_t i = 0; i < d->notes.n; i++)
        n[role[i]]++;
    return json_pack("{s:I,s:I,s:I}", "train_notes", (json_int_t)n[ROLE_TRAIN], "val_notes",
                     (json_int_t)n[ROLE_VAL], "test_notes", (json_int_t)n[ROLE_TEST]);
}

static gs_err_t run_split(const train_conf_t *c, const tdata_t *d, const split_def_t *s,
                          json_t *out, char *errstr, size_t en)
{
    unsigned char *role = malloc(d->notes.n + 1);
    if (!role)
        return gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    split_roles(c, d, s, role);
    json_t *o = role_counts(d, role), *methods = json_object();
    json_object_set_new(o, "description", json_string(s->description));
    json_object_set_new(out, s->name, o);
    if (!json_integer_value(json_object_get(o, "train_notes")) ||
        !json_integer_value(json_object_get(o, "val_notes")) ||
        !json_integer_value(json_object_get(o, "test_notes"))) {
        json_object_set_new(o, "skipped", json_string("no notes on one side: one lineage only"));
        json_decref(methods);
        free(role);
        return GS_OK;
    }
    double *probs = calloc(N_METHODS * d->notes.n * NF + 1, sizeof(double));
    gs_err_t err = probs ? GS_OK : gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    for (int k = 0; !err && k < N_METHODS; k++) {
        double *p = probs + (size_t)k * d->notes.n * NF;
        json_t *mo = json_object();
        if (k == M_MAJORITY)
            majority(d, role, p);
        else if (k == M_KNN)
            knn(d, role, p);
        else if (k == M_CNN)
            err = convnet(c, d, role, p, mo, errstr, en);
        else if (k == M_MEAN) /* the two learners' calibrated probabilities, averaged */
            for (size_t i = 0; i < d->notes.n * NF; i++)
                p[i] =
                    0.5 * (probs[M_MLP * d->notes.n * NF + i] + probs[M_CNN * d->notes.n * NF + i]);
        else
            err = perceptron(c, d, role, k, p, mo, errstr, en);
        metrics_t m = {0};
        for (size_t i = 0; i < d->notes.n; i++)
            if (role[i] == ROLE_TEST)
                add_result(&m, d->notes.notes[i].family, p + i * NF);
        metrics_json(&m, mo);
        json_object_set_new(mo, "confusion", confusion_json(&m));
        json_object_set_new(methods, method_names[k], mo);
    }
    free(probs);
    json_object_set_new(o, "methods", methods);
    free(role);
    return err;
}

gs_err_t timbre_evaluate(const train_conf_t *c, const tdata_t *d, json_t *rep, char *errstr,
                         size_t en)
{
    json_t *sp = json_object();
    json_object_set_new(rep, "splits", sp);
    gs_err_t err = GS_OK;
    for (size_t i = 0; !err && i < N_SPLITS; i++)
        err = run_split(c, d, &splits[i], sp, errstr, en);
    json_t *methods = json_array();
    for (int k = 0; k < N_METHODS; k++)
        json_array_append_new(methods, json_string(method_names[k]));
    json_object_set_new(rep, "methods", methods);
    return err;
}

/* ---- the pictures ------------------------------------------------------- */

static double method_value(json_t *split, int k, const char *what)
{
    json_t *v =
        json_object_get(json_object_get(json_object_get(split, "methods"), method_names[k]), what);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static gs_err_t split_bars(FILE *fp, json_t *rep, const char *what, const char *title, char *errstr,
                           size_t en)
{
    const char *cats[N_SPLITS];
    double v[N_SPLITS * N_METHODS];
    json_t *sp = json_object_get(rep, "splits");
    for (size_t i = 0; i < N_SPLITS; i++) {
        cats[i] = splits[i].name;
        for (int k = 0; k < N_METHODS; k++)
            v[i * N_METHODS + (size_t)k] =
                method_value(json_object_get(sp, splits[i].name), k, what);
    }
    gs_svg_bars_t b = {.title = title,
                       .axis = "share of held-out notes",
                       .categories = cats,
                       .n_categories = N_SPLITS,
                       .series = method_names,
                       .n_series = N_METHODS,
                       .values = v,
                       .max = 1.0,
                       .value_format = "%.3f"};
    return gs_svg_bars_write(fp, &b, errstr, en);
}

static gs_err_t top1_svg(FILE *fp, void *ctx, char *errstr, size_t en)
{
    json_t *rep = ctx;
    return split_bars(fp, rep, "top1", "Timbre top-1 across sound-font lineages", errstr, en);
}

static gs_err_t top3_svg(FILE *fp, void *ctx, char *errstr, size_t en)
{
    json_t *rep = ctx;
    return split_bars(fp, rep, "top3", "Timbre top-3 across sound-font lineages", errstr, en);
}

static gs_err_t recall_svg(FILE *fp, void *ctx, char *errstr, size_t en)
{
    json_t *rep = ctx;
    json_t *s = json_object_get(json_object_get(rep, "splits"), splits[0].name);
    double v[NF * N_METHODS];
    for (int f = 0; f < NF; f++)
        for (int k = 0; k < N_METHODS; k++) {
            json_t *r = json_object_get(
                json_object_get(json_object_get(json_object_get(s, "methods"), method_names[k]),
                                "recall"),
                gs_timbre_family_names[f]);
            v[f * N_METHODS + k] = json_is_number(r) ? json_number_value(r) : NAN;
        }
    gs_svg_bars_t b = {.title = "Recall by family, lineage 0 to lineage 1",
                       .axis = "recall",
                       .categories = gs_timbre_family_names,
                       .n_categories = NF,
                       .series = method_names,
                       .n_series = N_METHODS,
                       .values = v,
                       .max = 1.0,
                       .value_format = "%.2f"};
    return gs_svg_bars_write(fp, &b, errstr, en);
}

static gs_err_t confusion_svg(FILE *fp, void *ctx, char *errstr, size_t en)
{
    json_t *rep = ctx;
    json_t *c = json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(rep, "splits"), splits[0].name),
                            "methods"),
            "cnn"),
        "confusion");
    double counts[NF * NF];
    for (int i = 0; i < NF; i++)
        for (int j = 0; j < NF; j++)
            counts[i * NF + j] =
                (double)json_integer_value(json_array_get(json_array_get(c, (size_t)i), (size_t)j));
    gs_svg_matrix_t m = {.title = "Timbre confusion (cnn), lineage 0 to lineage 1",
                         .note = "rows: the family rendered; columns: the family predicted",
                         .labels = gs_timbre_family_names,
                         .n = NF,
                         .counts = counts};
    return gs_svg_matrix_write(fp, &m, errstr, en);
}

gs_err_t timbre_write_report(const char *prefix, json_t *rep, char *errstr, size_t en)
{
    static const gs_svg_page_t pages[] = {{".svg", top1_svg},
                                          {"-top3.svg", top3_svg},
                                          {"-recall.svg", recall_svg},
                                          {"-confusion.svg", confusion_svg}};
    char *text = json_dumps(rep, JSON_INDENT(2) | JSON_SORT_KEYS);
    gs_err_t err = text ? gs_svg_report_write(prefix, text, pages, sizeof(pages) / sizeof(pages[0]),
                                              rep, errstr, en)
                        : gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    free(text);
    return err;
}
