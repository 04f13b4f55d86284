/* govstream train timbre --notes DIR --out MODEL [--report PREFIX] ...:
 * the held-out evaluation on the rendered notes (eval.c), then the served
 * model, fitted on every lineage with one program per family held out for
 * early stopping and the temperature. */
#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/timbre.h"
#include "internal.h"
#include "train.h"

#define HIDDEN_1 256
#define HIDDEN_2 128

/* The rows of `role` (every copy for TRAIN, the clean one otherwise) on
 * the chosen features. */
static size_t gather(const tdata_t *d, const unsigned char *role, int want, const size_t *idx,
                     size_t nf, float *x, int *y)
{
    size_t rows = 0, copies = want == ROLE_TRAIN ? d->copies : 1;
    for (size_t k = 0; k < copies; k++)
        for (size_t i = 0; i < d->notes.n; i++) {
            if (role[i] != want)
                continue;
            const double *p = tdata_row(d, k, i);
            if (x)
                for (size_t j = 0; j < nf; j++)
                    x[rows * nf + j] = (float)p[idx[j]];
            if (y)
                y[rows] = d->notes.notes[i].family;
            rows++;
        }
    return rows;
}

/* Standardises x in place with the training rows' mean and deviation. */
static void standardise(timbre_model_t *m, float *x, size_t rows, size_t nf, float *xv, size_t nv)
{
    for (size_t j = 0; j < nf; j++) {
        double s = 0, s2 = 0;
        for (size_t r = 0; r < rows; r++)
            s += x[r * nf + j];
        double mean = s / (double)rows;
        for (size_t r = 0; r < rows; r++)
            s2 += pow(x[r * nf + j] - mean, 2);
        double sd = sqrt(s2 / (double)rows);
        m->mean[j] = (float)mean;
        m->scale[j] = (float)(sd > 1e-9 * fabs(mean) && sd > 0 ? sd : 1.0);
        for (size_t r = 0; r < rows; r++)
            x[r * nf + j] = (x[r * nf + j] - m->mean[j]) / m->scale[j];
        for (size_t r = 0; r < nv; r++)
            xv[r * nf + j] = (xv[r * nf + j] - m->mean[j]) / m->scale[j];
    }
}

gs_err_t timbre_fit(const train_conf_t *c, const tdata_t *d, const unsigned char *role,
                    const size_t *idx, size_t nf, timbre_model_t *m, mlp_fit_result_t *res,
                    char *errstr, size_t en)
{
    *m = (timbre_model_t){0};
    size_t n = gather(d, role, ROLE_TRAIN, idx, nf, NULL, NULL);
    size_t nv = gather(d, role, ROLE_VAL, idx, nf, NULL, NULL);
    if (!n || !nv)
        return gs_fail(errstr, en, GS_ERR_INVALID_ARG,
                       "timbre: %zu training and %zu validation notes: too few fonts or programs",
                       n, nv);
    float *x = malloc(n * nf * sizeof(float)), *xv = malloc(nv * nf * sizeof(float));
    int *y = malloc(n * sizeof(int)), *yv = malloc(nv * sizeof(int));
    gs_err_t err = x && xv && y && yv ? GS_OK : gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    if (!err) {
        gather(d, role, ROLE_TRAIN, idx, nf, x, y);
        gather(d, role, ROLE_VAL, idx, nf, xv, yv);
        standardise(m, x, n, nf, xv, nv);
        int dims[4] = {(int)nf, HIDDEN_1, HIDDEN_2, GS_TIMBRE_N_FAMILIES};
        err = mlp_init(&m->mlp, 3, dims, c->seed, errstr, en);
    }
    mlp_fit_conf_t fc = {.max_epochs = c->max_epochs,
                         .patience = 15,
                         .batch = 64,
                         .lr = 1e-3,
                         .l2 = 1e-4,
                         .dropout = 0.3,
                         .seed = c->seed,
                         .progress = "train timbre"};
    if (!err)
        err = mlp_fit(&m->mlp, x, y, n, xv, yv, nv, &fc, res, errstr, en);
    free(x);
    free(xv);
    free(y);
    free(yv);
    if (err)
        timbre_model_free(m);
    return err;
}

/* The CNN rows of `role`: every copy for TRAIN, the clean one otherwise. */
static gs_err_t cnn_rows_of(const tdata_t *d, const unsigned char *role, int want, cnn_rows_t *r,
                            size_t **off, size_t **width, int **y, char *errstr, size_t en)
{
    size_t copies = want == ROLE_TRAIN ? d->copies : 1, n = 0;
    for (size_t i = 0; i < d->notes.n; i++)
        n += role[i] == want;
    *off = malloc((n * copies + 1) * sizeof(size_t));
    *width = malloc((n * copies + 1) * sizeof(size_t));
    *y = malloc((n * copies + 1) * sizeof(int));
    if (!*off || !*width || !*y)
        return gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    size_t rows = 0;
    for (size_t k = 0; k < copies; k++)
        for (size_t i = 0; i < d->notes.n; i++)
            if (role[i] == want) {
                (*off)[rows] = k * d->mel_copy + d->mel_off[i];
                (*width)[rows] = d->mel_width[i];
                (*y)[rows++] = d->notes.notes[i].family;
            }
    *r = (cnn_rows_t){.x = d->mel, .off = *off, .width = *width, .y = *y, .n = rows};
    return GS_OK;
}

gs_err_t timbre_fit_cnn(const train_conf_t *c, const tdata_t *d, const unsigned char *role,
                        cnn_t *m, mlp_fit_result_t *res, char *errstr, size_t en)
{
    cnn_rows_t tr, va;
    *m = (cnn_t){0};
    size_t *off[2] = {0}, *width[2] = {0};
    int *y[2] = {0};
    gs_err_t err = cnn_rows_of(d, role, ROLE_TRAIN, &tr, &off[0], &width[0], &y[0], errstr, en);
    if (!err)
        err = cnn_rows_of(d, role, ROLE_VAL, &va, &off[1], &width[1], &y[1], errstr, en);
    if (!err)
        err = cnn_init(m, GS_TIMBRE_N_FAMILIES, c->seed, errstr, en);
    mlp_fit_conf_t fc = {.max_epochs = c->max_epochs,
                         .patience = 8,
                         .batch = 32,
                         .lr = 1e-3,
                         .l2 = 1e-4,
                         .seed = c->seed,
                         .progress = "train timbre cnn"};
    if (!err)
        err = cnn_fit(m, &tr, &va, &fc, res, errstr, en);
    if (err)
        cnn_free(m);
    for (int i = 0; i < 2; i++) {
        free(off[i]);
        free(width[i]);
        free(y[i]);
    }
    return err;
}

/* Which answer serves: the perceptron, the CNN or their mean, whichever
 * has the lowest loss on the validation notes. */
static gs_err_t choose_serve(const tdata_t *d, const unsigned char *role, timbre_model_t *m,
                             double *loss)
{
    float x[GS_TIMBRE_N_POOLED], pm[GS_TIMBRE_N_FAMILIES], pc[GS_TIMBRE_N_FAMILIES];
    float scratch[2 * 1024];
    size_t nv = 0;
    loss[0] = loss[1] = loss[2] = 0;
    for (size_t i = 0; i < d->notes.n; i++) {
        if (role[i] != ROLE_VAL)
            continue;
        int y = d->notes.notes[i].family;
        timbre_model_input(m, tdata_row(d, 0, i), x);
        mlp_predict(&m->mlp, x, 1, pm, scratch);
        if (cnn_predict(&m->cnn, d->mel + d->mel_off[i], d->mel_width[i], pc))
            return GS_ERR_NOMEM;
        loss[SERVE_MLP] -= log(fmax(1e-12, pm[y]));
        loss[SERVE_CNN] -= log(fmax(1e-12, pc[y]));
        loss[SERVE_MEAN] -= log(fmax(1e-12, 0.5 * (pm[y] + pc[y])));
        nv++;
    }
    m->serve = SERVE_MLP;
    for (int k = 0; k < 3; k++) {
        loss[k] /= (double)(nv ? nv : 1);
        if (loss[k] < loss[m->serve])
            m->serve = (timbre_serve_t)k;
    }
    return GS_OK;
}

/* The served model: every note, one program per family held out. */
static gs_err_t final_model(const train_conf_t *c, const tdata_t *d, json_t *rep, char *errstr,
                            size_t en)
{
    unsigned char val[128], *role = malloc(d->notes.n + 1);
    if (!role)
        return gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    timbre_val_programs(c->seed, NULL, val);
    for (size_t i = 0; i < d->notes.n; i++)
        role[i] = val[d->notes.notes[i].program] ? ROLE_VAL : ROLE_TRAIN;
    size_t idx[GS_TIMBRE_N_POOLED];
    for (size_t j = 0; j < GS_TIMBRE_N_POOLED; j++)
        idx[j] = j;
    timbre_model_t m;
    mlp_fit_result_t fr, cr;
    double loss[3];
    gs_err_t err = timbre_fit(c, d, role, idx, GS_TIMBRE_N_POOLED, &m, &fr, errstr, en);
    if (!err && (err = timbre_fit_cnn(c, d, role, &m.cnn, &cr, errstr, en)))
        timbre_model_free(&m);
    if (!err && (err = choose_serve(d, role, &m, loss)))
        timbre_model_free(&m);
    free(role);
    if (err)
        return err == GS_ERR_NOMEM ? gs_fail(errstr, en, err, "out of memory") : err;
    snprintf(m.name, sizeof(m.name), "%s", c->name);
    snprintf(m.version, sizeof(m.version), "%s", c->version);
    json_object_set_new(rep, "served_model",
                        json_pack("{s:s,s:{s:i,s:f,s:f},s:{s:i,s:f,s:f},s:{s:f,s:f,s:f}}", "serve",
                                  timbre_serve_names[m.serve], "mlp", "epochs", fr.best_epoch,
                                  "val_loss", fr.val_loss, "temperature", fr.temperature, "cnn",
                                  "epochs", cr.best_epoch, "val_loss", cr.val_loss, "temperature",
                                  cr.temperature, "val_loss_calibrated", "mlp", loss[SERVE_MLP],
                                  "cnn", loss[SERVE_CNN], "mlp_cnn_mean", loss[SERVE_MEAN]));
    char *text = json_dumps(rep, JSON_COMPACT | JSON_SORT_KEYS);
    err = timbre_model_save(&m, c->out, text, errstr, en);
    free(text);
    timbre_model_free(&m);
    return err;
}

/* The manifest's fonts and shared samples, so the report says what each
 * lineage number is. */
static void add_manifest(const train_conf_t *c, json_t *rep)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/manifest.json", c->notes);
    json_t *m = json_load_file(path, 0, NULL);
    json_object_set(rep, "fonts", json_object_get(m, "fonts"));
    json_object_set(rep, "shared_samples", json_object_get(m, "shared_samples"));
    json_decref(m);
}

static void print_summary(json_t *rep)
{
    const char *name;
    json_t *s;
    json_object_foreach(json_object_get(rep, "splits"), name, s)
    {
        if (json_object_get(s, "skipped")) {
            printf("%-20s skipped: %s\n", name, json_string_value(json_object_get(s, "skipped")));
            continue;
        }
        json_t *mlp = json_object_get(json_object_get(s, "methods"), "mlp");
        json_t *knn = json_object_get(json_object_get(s, "methods"), "mfcc_knn5");
        printf("%-20s mlp top-1 %.3f top-3 %.3f  (mfcc k-NN top-1 %.3f)\n", name,
               json_number_value(json_object_get(mlp, "top1")),
               json_number_value(json_object_get(mlp, "top3")),
               json_number_value(json_object_get(knn, "top1")));
    }
}

static gs_err_t run(const train_conf_t *c, char *errstr, size_t en)
{
    tdata_t d;
    gs_err_t err = tdata_build(c, &d, errstr, en);
    if (err)
        return err;
    json_t *rep = json_pack("{s:I,s:I,s:I}", "seed", (json_int_t)c->seed, "augmented_copies",
                            (json_int_t)c->augment, "notes", (json_int_t)d.notes.n);
    add_manifest(c, rep);
    err = timbre_evaluate(c, &d, rep, errstr, en);
    if (!err)
        err = final_model(c, &d, rep, errstr, en);
    if (!err && c->report)
        err = timbre_write_report(c->report, rep, errstr, en);
    if (!err)
        print_summary(rep);
    json_decref(rep);
    tdata_free(&d);
    return err;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: govstream train timbre --notes DIR --out MODEL [--report PREFIX]\n"
            "           [--seed N] [--augment N] [--epochs N] [--name S] [--version S]\n"
            "  DIR is govstream-render's output. Reports every held-out split (PREFIX.json,\n"
            "  PREFIX.svg, -top3.svg, -recall.svg, -confusion.svg), then fits the served model\n");
}

static int parse(int argc, char **argv, train_conf_t *c)
{
    static const struct option lo[] = {{"notes", 1, 0, 'n'},   {"out", 1, 0, 'o'},
                                       {"report", 1, 0, 'r'},  {"seed", 1, 0, 's'},
                                       {"augment", 1, 0, 'a'}, {"epochs", 1, 0, 'e'},
                                       {"name", 1, 0, 'N'},    {"version", 1, 0, 'V'},
                                       {"help", 0, 0, 'h'},    {0, 0, 0, 0}};
    *c = (train_conf_t){
        .seed = 14, .augment = 2, .max_epochs = 200, .name = "timbre", .version = "1"};
    optind = 1;
    for (int o; (o = getopt_long(argc, argv, "", lo, NULL)) != -1;) {
        char *end = NULL;
        switch (o) {
        case 'n':
            c->notes = optarg;
            break;
        case 'o':
            c->out = optarg;
            break;
        case 'r':
            c->report = optarg;
            break;
        case 's':
            c->seed = strtoull(optarg, &end, 10);
            break;
        case 'a':
            c->augment = strtoull(optarg, &end, 10);
            break;
        case 'e':
            c->max_epochs = (int)strtol(optarg, &end, 10);
            break;
        case 'N':
            c->name = optarg;
            break;
        case 'V':
            c->version = optarg;
            break;
        default:
            return 2;
        }
        if (end && *end)
            return 2;
    }
    return c->notes && c->out && c->augment <= 8 && c->max_epochs >= 1 && optind == argc ? 0 : 2;
}

int timbre_train_main(int argc, char **argv)
{
    train_conf_t c;
    if (parse(argc, argv, &c)) {
        usage();
        return 2;
    }
    /* One BLAS thread unless the environment says otherwise: the products
     * here are small (a batch of notes by a hidden layer), and OpenBLAS's
     * second thread spins more than it computes, 7x slower on a busy
     * machine (docs/TIMBRE.md). */
    if (!getenv("OPENBLAS_NUM_THREADS"))
        openblas_set_num_threads(1);
    char errstr[512];
    gs_err_t err = run(&c, errstr, sizeof(errstr));
    if (err) {
        fprintf(stderr, "govstream train timbre: %s\n", errstr);
        return 1;
    }
    return 0;
}
