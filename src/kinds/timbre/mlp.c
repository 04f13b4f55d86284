/* The timbre classifier's perceptron and its trainer (mlp.h). */
#include "mlp.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

gs_err_t mlp_init(mlp_t *m, int n_layers, const int *dims, uint64_t seed, char *errstr, size_t n)
{
    *m = (mlp_t){.n_layers = n_layers, .temperature = 1.0f};
    if (n_layers < 1 || n_layers > MLP_MAX_LAYERS)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "mlp: %d layers", n_layers);
    gs_rng_t rng;
    gs_rng_seed(&rng, seed);
    for (int l = 0; l <= n_layers; l++)
        m->dims[l] = dims[l];
    for (int l = 0; l < n_layers; l++) {
        size_t rows = (size_t)dims[l + 1], cols = (size_t)dims[l];
        m->w[l] = malloc(rows * cols * sizeof(float));
        m->b[l] = calloc(rows, sizeof(float));
        if (!m->w[l] || !m->b[l]) {
            mlp_free(m);
            return gs_fail(errstr, n, GS_ERR_NOMEM, "mlp: out of memory");
        }
        double sd = sqrt(2.0 / (double)cols); /* He: the ReLU halves the variance */
        for (size_t i = 0; i < rows * cols; i++) {
            double u1 = gs_rng_unit(&rng) + 1e-12, u2 = gs_rng_unit(&rng);
            m->w[l][i] = (float)(sd * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
        }
    }
    return GS_OK;
}

void mlp_free(mlp_t *m)
{
    for (int l = 0; l < m->n_layers; l++) {
        free(m->w[l]);
        free(m->b[l]);
    }
    *m = (mlp_t){0};
}

int mlp_width(const mlp_t *m)
{
    int w = 0;
    for (int l = 0; l <= m->n_layers; l++)
        w = m->dims[l] > w ? m->dims[l] : w;
    return w;
}

/* out = in W^T + b for one layer, ReLU unless it is the last. */
static void layer_forward(const mlp_t *m, int l, const float *in, size_t rows, float *out)
{
    int d_in = m->dims[l], d_out = m->dims[l + 1];
    for (size_t r = 0; r < rows; r++)
        memcpy(out + r * (size_t)d_out, m->b[l], (size_t)d_out * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, d_out, d_in, 1.0f, in, d_in,
                m->w[l], d_in, 1.0f, out, d_out);
    if (l + 1 < m->n_layers)
        for (size_t i = 0; i < rows * (size_t)d_out; i++)
            out[i] = out[i] > 0.0f ? out[i] : 0.0f;
}

void nn_softmax(float *z, size_t rows, int k, float temperature)
{
    for (size_t r = 0; r < rows; r++) {
        float *p = z + r * (size_t)k, mx = -INFINITY;
        for (int j = 0; j < k; j++)
            mx = p[j] > mx ? p[j] : mx;
        double s = 0;
        for (int j = 0; j < k; j++)
            s += p[j] = expf((p[j] - mx) / temperature);
        for (int j = 0; j < k; j++)
            p[j] = (float)(p[j] / s);
    }
}

/* The last layer's logits of x into out (rows x classes). */
static void logits(const mlp_t *m, const float *x, size_t rows, float *out, float *scratch)
{
    size_t w = (size_t)mlp_width(m);
    const float *in = x;
    float *buf[2] = {scratch, scratch + rows * w};
    for (int l = 0; l < m->n_layers; l++) {
        float *o = l + 1 == m->n_layers ? out : buf[l & 1];
        layer_forward(m, l, in, rows, o);
        in = o;
    }
}

void mlp_predict(const mlp_t *m, const float *x, size_t rows, float *probs, float *scratch)
{
    logits(m, x, rows, probs, scratch);
    nn_softmax(probs, rows, m->dims[m->n_layers], m->temperature);
}

double mlp_nll(const float *probs, const int *y, size_t rows, int k)
{
    double s = 0;
    for (size_t r = 0; r < rows; r++)
        s -= log(fmax(1e-12, probs[r * (size_t)k + (size_t)y[r]]));
    return rows ? s / (double)rows : 0.0;
}

/* ---- training --------------------------------------------------------- */

typedef struct trainer {
    mlp_t *m;
    float *act[MLP_MAX_LAYERS + 1]; /* act[l]: batch x dims[l] (act[0] the input rows) */
    float *delta[2], *gw[MLP_MAX_LAYERS], *gb[MLP_MAX_LAYERS];
    float *mw[MLP_MAX_LAYERS], *vw[MLP_MAX_LAYERS], *mb[MLP_MAX_LAYERS], *vb[MLP_MAX_LAYERS];
    double class_w[64];
    long step;
} trainer_t;

static size_t wsize(const mlp_t *m, int l)
{
    return (size_t)m->dims[l + 1] * (size_t)m->dims[l];
}

static void trainer_free(trainer_t *t)
{
    for (int l = 0; l <= MLP_MAX_LAYERS; l++)
        free(t->act[l]);
    for (int l = 0; l < MLP_MAX_LAYERS; l++) {
        free(t->gw[l]);
        free(t->gb[l]);
        free(t->mw[l]);
        free(t->vw[l]);
        free(t->mb[l]);
        free(t->vb[l]);
    }
    free(t->delta[0]);
    free(t->delta[1]);
}

static int trainer_init(trainer_t *t, mlp_t *m, size_t batch)
{
    *t = (trainer_t){.m = m};
    int ok = 1;
    size_t w = (size_t)mlp_width(m);
    for (int l = 0; l <= m->n_layers; l++)
        ok &= (t->act[l] = malloc((batch + 1) * (size_t)m->dims[l] * sizeof(float))) != NULL;
    for (int i = 0; i < 2; i++)
        ok &= (t->delta[i] = malloc((batch + 1) * (w + 1) * sizeof(float))) != NULL;
    for (int l = 0; l < m->n_layers; l++) {
        size_t d = (size_t)m->dims[l + 1];
        ok &= (t->gw[l] = malloc(wsize(m, l) * sizeof(float))) != NULL;
        ok &= (t->gb[l] = malloc(d * sizeof(float))) != NULL;
        ok &= (t->mw[l] = calloc(wsize(m, l), sizeof(float))) != NULL;
        ok &= (t->vw[l] = calloc(wsize(m, l), sizeof(float))) != NULL;
        ok &= (t->mb[l] = calloc(d, sizeof(float))) != NULL;
        ok &= (t->vb[l] = calloc(d, sizeof(float))) != NULL;
    }
    return ok;
}

/* Forward with inverted dropout on the hidden layers. */
static void train_forward(trainer_t *t, size_t rows, double dropout, gs_rng_t *rng)
{
    mlp_t *m = t->m;
    for (int l = 0; l < m->n_layers; l++) {
        layer_forward(m, l, t->act[l], rows, t->act[l + 1]);
        if (l + 1 == m->n_layers || dropout <= 0)
            continue;
        float keep = (float)(1.0 - dropout), *a = t->act[l + 1];
        for (size_t i = 0; i < rows * (size_t)m->dims[l + 1]; i++)
            a[i] = gs_rng_unit(rng) < dropout ? 0.0f : a[i] / keep;
    }
}

/* Gradients of the class-weighted mean cross-entropy. */
static void train_backward(trainer_t *t, const int *y, size_t rows, double l2, double dropout)
{
    mlp_t *m = t->m;
    int L = m->n_layers, k = m->dims[L];
    float *d = t->delta[0];
    double wsum = 0;
    for (size_t r = 0; r < rows; r++)
        wsum += t->class_w[y[r]];
    memcpy(d, t->act[L], rows * (size_t)k * sizeof(float));
    nn_softmax(d, rows, k, 1.0f);
    for (size_t r = 0; r < rows; r++) {
        float cw = (float)(t->class_w[y[r]] / wsum);
        d[r * (size_t)k + (size_t)y[r]] -= 1.0f;
        for (int j = 0; j < k; j++)
            d[r * (size_t)k + (size_t)j] *= cw;
    }
    for (int l = L - 1; l >= 0; l--) {
        int d_in = m->dims[l], d_out = m->dims[l + 1];
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d_out, d_in, (int)rows, 1.0f, d, d_out,
                    t->act[l], d_in, 0.0f, t->gw[l], d_in);
        for (size_t i = 0; i < wsize(m, l); i++)
            t->gw[l][i] += (float)l2 * m->w[l][i];
        for (int j = 0; j < d_out; j++) {
            float s = 0;
            for (size_t r = 0; r < rows; r++)
                s += d[r * (size_t)d_out + (size_t)j];
            t->gb[l][j] = s;
        }
        if (l == 0)
            break;
        float *prev = t->delta[(L - l) & 1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, d_in, d_out, 1.0f, d,
                    d_out, m->w[l], d_in, 0.0f, prev, d_in);
        float scale = (float)(1.0 / (1.0 - dropout)); /* the inverted dropout's */
        for (size_t i = 0; i < rows * (size_t)d_in; i++)
            prev[i] = t->act[l][i] > 0.0f ? prev[i] * scale : 0.0f; /* ReLU and dropout both */
        d = prev;
    }
}

void nn_adam(float *p, const float *g, float *mo, float *v, size_t n, double lr, long step)
{
    const double b1 = 0.9, b2 = 0.999;
    double c1 = 1.0 - pow(b1, (double)step), c2 = 1.0 - pow(b2, (double)step);
    for (size_t i = 0; i < n; i++) {
        mo[i] = (float)(b1 * mo[i] + (1 - b1) * g[i]);
        v[i] = (float)(b2 * v[i] + (1 - b2) * (double)g[i] * g[i]);
        p[i] -= (float)(lr * (mo[i] / c1) / (sqrt(v[i] / c2) + 1e-8));
    }
}

static void train_step(trainer_t *t, const int *y, size_t rows, const mlp_fit_conf_t *c,
                       gs_rng_t *rng)
{
    train_forward(t, rows, c->dropout, rng);
    train_backward(t, y, rows, c->l2, c->dropout > 0 ? c->dropout : 0.0);
    t->step++;
    for (int l = 0; l < t->m->n_layers; l++) {
        nn_adam(t->m->w[l], t->gw[l], t->mw[l], t->vw[l], wsize(t->m, l), c->lr, t->step);
        nn_adam(t->m->b[l], t->gb[l], t->mb[l], t->vb[l], (size_t)t->m->dims[l + 1], c->lr,
                t->step);
    }
}

/* One pass over a shuffled order of the rows. */
static void train_epoch(trainer_t *t, const float *x, const int *y, size_t n, size_t *order,
                        int *yb, const mlp_fit_conf_t *c, gs_rng_t *rng)
{
    int d = t->m->dims[0];
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(gs_rng_next(rng) % i), tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
    for (size_t s = 0; s < n; s += (size_t)c->batch) {
        size_t rows = n - s < (size_t)c->batch ? n - s : (size_t)c->batch;
        for (size_t r = 0; r < rows; r++) {
            memcpy(t->act[0] + r * (size_t)d, x + order[s + r] * (size_t)d,
                   (size_t)d * sizeof(float));
            yb[r] = y[order[s + r]];
        }
        train_step(t, yb, rows, c, rng);
    }
}

/* The validation loss at temperature 1 (probs: nv x classes). */
static double val_loss(mlp_t *m, const float *xv, const int *yv, size_t nv, float *probs,
                       float *scratch)
{
    float keep = m->temperature;
    m->temperature = 1.0f;
    mlp_predict(m, xv, nv, probs, scratch);
    m->temperature = keep;
    return mlp_nll(probs, yv, nv, m->dims[m->n_layers]);
}

double nn_temperature(const float *z, const int *y, size_t rows, int k, float *probs)
{
    double best_t = 1.0, best = INFINITY;
    for (int i = 0; i <= 100; i++) { /* a log grid from 0.25 to 8 */
        double temp = 0.25 * pow(32.0, i / 100.0);
        memcpy(probs, z, rows * (size_t)k * sizeof(float));
        nn_softmax(probs, rows, k, (float)temp);
        double l = mlp_nll(probs, y, rows, k);
        if (l < best) {
            best = l;
            best_t = temp;
        }
    }
    return best_t;
}

/* The temperature with the lowest validation loss: the logits are
 * computed once. */
static double fit_temperature(mlp_t *m, const float *xv, const int *yv, size_t nv, float *z,
                              float *probs, float *scratch)
{
    logits(m, xv, nv, z, scratch);
    return nn_temperature(z, yv, nv, m->dims[m->n_layers], probs);
}

void nn_class_weights(const int *y, size_t n, int k, double *w)
{
    double count[64] = {0};
    for (size_t i = 0; i < n; i++)
        count[y[i]]++;
    for (int j = 0; j < k; j++) /* every family weighs the same in the loss */
        w[j] = count[j] > 0 ? (double)n / (k * count[j]) : 0.0;
}

typedef struct fit_bufs {
    size_t *order;
    int *yb;
    float *scratch, *probs, *z, *best[2 * MLP_MAX_LAYERS];
} fit_bufs_t;

static void fit_bufs_free(fit_bufs_t *b)
{
    free(b->order);
    free(b->yb);
    free(b->scratch);
    free(b->probs);
    free(b->z);
    for (int i = 0; i < 2 * MLP_MAX_LAYERS; i++)
        free(b->best[i]);
}

static int fit_bufs_init(fit_bufs_t *b, const mlp_t *m, size_t n, size_t nv, size_t batch)
{
    *b = (fit_bufs_t){0};
    size_t w = (size_t)mlp_width(m), k = (size_t)m->dims[m->n_layers];
    int ok = (b->order = malloc((n + 1) * sizeof(size_t))) &&
             (b->yb = malloc((batch + 1) * sizeof(int))) &&
             (b->scratch = malloc(2 * (nv + 1) * (w + 1) * sizeof(float))) &&
             (b->probs = calloc((nv + 1) * k, sizeof(float))) &&
             (b->z = calloc((nv + 1) * k, sizeof(float)));
    for (int l = 0; ok && l < m->n_layers; l++)
        ok = (b->best[2 * (size_t)l] = malloc(wsize(m, l) * sizeof(float))) &&
             (b->best[2 * (size_t)l + 1] = malloc((size_t)m->dims[l + 1] * sizeof(float)));
    for (size_t i = 0; ok && i < n; i++)
        b->order[i] = i;
    return ok;
}

static void keep_weights(mlp_t *m, fit_bufs_t *b, int restore)
{
    for (int l = 0; l < m->n_layers; l++) {
        size_t nw = wsize(m, l) * sizeof(float), nb = (size_t)m->dims[l + 1] * sizeof(float);
        float *kw = b->best[2 * (size_t)l], *kb = b->best[2 * (size_t)l + 1];
        memcpy(restore ? m->w[l] : kw, restore ? kw : m->w[l], nw);
        memcpy(restore ? m->b[l] : kb, restore ? kb : m->b[l], nb);
    }
}

gs_err_t mlp_fit(mlp_t *m, const float *x, const int *y, size_t n, const float *xv, const int *yv,
                 size_t nv, const mlp_fit_conf_t *c, mlp_fit_result_t *res, char *errstr,
                 size_t errstr_size)
{
    trainer_t t = {0};
    fit_bufs_t b = {0};
    int ok = trainer_init(&t, m, (size_t)c->batch) && fit_bufs_init(&b, m, n, nv, (size_t)c->batch);
    gs_rng_t rng;
    gs_rng_seed(&rng, c->seed);
    *res = (mlp_fit_result_t){.val_loss = INFINITY};
    if (ok)
        nn_class_weights(y, n, m->dims[m->n_layers], t.class_w);
    for (int e = 1; ok && e <= c->max_epochs && e - res->best_epoch <= c->patience; e++) {
        train_epoch(&t, x, y, n, b.order, b.yb, c, &rng);
        double l = val_loss(m, xv, yv, nv, b.probs, b.scratch);
        res->epochs = e;
        if (l < res->val_loss) {
            res->val_loss = l;
            res->best_epoch = e;
            keep_weights(m, &b, 0);
        }
        if (c->progress && isatty(2))
            fprintf(stderr, "\r%s: epoch %3d, validation loss %.4f (best %.4f at %d)   ",
                    c->progress, e, l, res->val_loss, res->best_epoch);
    }
    if (ok && res->best_epoch > 0) {
        keep_weights(m, &b, 1);
        m->temperature =
            (float)(res->temperature = fit_temperature(m, xv, yv, nv, b.z, b.probs, b.scratch));
    }
    if (c->progress && isatty(2))
        fputc('\n', stderr);
    trainer_free(&t);
    fit_bufs_free(&b);
    return ok ? GS_OK : gs_fail(errstr, errstr_size, GS_ERR_NOMEM, "mlp: out of memory");
}
