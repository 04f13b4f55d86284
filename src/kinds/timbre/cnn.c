/* The timbre CNN (cnn.h): stride-2 3 x 3 convolutions by im2col + SGEMM,
 * global average, dense; trained one clip at a time with the gradients
 * summed over a minibatch. */
#include "cnn.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define H0 GS_TIMBRE_N_MELS

const int cnn_channels[CNN_LAYERS + 1] = {1, 16, 32, 64};

static int out_dim(int d)
{
    return (d + 1) / 2; /* 3 x 3, padding 1, stride 2 */
}

static double gauss(gs_rng_t *r)
{
    double u1 = gs_rng_unit(r) + 1e-300, u2 = gs_rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

gs_err_t cnn_init(cnn_t *c, int classes, uint64_t seed, char *errstr, size_t n)
{
    *c = (cnn_t){.classes = classes, .temperature = 1.0f};
    gs_rng_t r;
    gs_rng_seed(&r, seed);
    int ok = 1;
    for (int l = 0; l <= CNN_LAYERS; l++)
        c->ch[l] = cnn_channels[l];
    for (int l = 0; ok && l < CNN_LAYERS; l++) {
        size_t k = (size_t)c->ch[l] * 9, m = (size_t)c->ch[l + 1];
        ok = (c->w[l] = malloc(m * k * sizeof(float))) && (c->b[l] = calloc(m, sizeof(float)));
        for (size_t i = 0; ok && i < m * k; i++)
            c->w[l][i] = (float)(sqrt(2.0 / (double)k) * gauss(&r));
    }
    size_t d = (size_t)c->ch[CNN_LAYERS];
    ok = ok && (c->hw = malloc((size_t)classes * d * sizeof(float))) &&
         (c->hb = calloc((size_t)classes, sizeof(float)));
    for (size_t i = 0; ok && i < (size_t)classes * d; i++)
        c->hw[i] = (float)(sqrt(1.0 / (double)d) * gauss(&r));
    if (!ok) {
        cnn_free(c);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "cnn: out of memory");
    }
    return GS_OK;
}

void cnn_free(cnn_t *c)
{
    for (int l = 0; l < CNN_LAYERS; l++) {
        free(c->w[l]);
        free(c->b[l]);
    }
    free(c->hw);
    free(c->hb);
    *c = (cnn_t){0};
}

size_t cnn_width(size_t n_frames)
{
    return (n_frames + CNN_POOL - 1) / CNN_POOL;
}

void cnn_input(const gs_timbre_frames_t *f, float *x)
{
    size_t w = cnn_width(f->n_frames);
    double top = -INFINITY;
    for (size_t i = 0; i < f->n_frames * H0; i++) /* finite (features.c): no fmax() call */
        top = f->mel_db[i] > top ? f->mel_db[i] : top;
    for (size_t c = 0; c < w; c++) {
        size_t t0 = c * CNN_POOL, t1 = t0 + CNN_POOL < f->n_frames ? t0 + CNN_POOL : f->n_frames;
        for (size_t m = 0; m < H0; m++) {
            double s = 0;
            for (size_t t = t0; t < t1; t++)
                s += f->mel_db[t * H0 + m];
            /* the dB floor is top - 80 (power_to_db's top_db): 0 .. 1 */
            x[m * w + c] = (float)(1.0 + (s / (double)(t1 - t0) - top) / 80.0);
        }
    }
}

/* ---- one clip through the network --------------------------------------- */

/* What a pass keeps for the backward one: each layer's columns and
 * output (after the ReLU). */
typedef struct pass {
    int h[CNN_LAYERS + 1], w[CNN_LAYERS + 1];
    float *col[CNN_LAYERS], *out[CNN_LAYERS];
    float pooled[64], logits[64];
    size_t cap_col[CNN_LAYERS], cap_out[CNN_LAYERS];
} pass_t;

static void pass_free(pass_t *p)
{
    for (int l = 0; l < CNN_LAYERS; l++) {
        free(p->col[l]);
        free(p->out[l]);
    }
}

static int grow(float **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 1;
    float *b = realloc(*buf, need * sizeof(float));
    if (!b)
        return 0;
    *buf = b;
    *cap = need;
    return 1;
}

/* col[(ci*9 + ky*3 + kx) * P + oy*ow + ox] = x[ci][2oy+ky-1][2ox+kx-1] */
static void im2col(const float *x, int cin, int h, int w, float *col)
{
    int oh = out_dim(h), ow = out_dim(w);
    size_t P = (size_t)oh * (size_t)ow;
    for (int ci = 0; ci < cin; ci++)
        for (int k = 0; k < 9; k++) {
            int ky = k / 3 - 1, kx = k % 3 - 1;
            float *row = col + (size_t)(ci * 9 + k) * P;
            for (int oy = 0; oy < oh; oy++) {
                int iy = 2 * oy + ky;
                for (int ox = 0; ox < ow; ox++) {
                    int ix = 2 * ox + kx;
                    row[oy * ow + ox] =
                        iy < 0 || iy >= h || ix < 0 || ix >= w
                            ? 0.0f
                            : x[((size_t)ci * (size_t)h + (size_t)iy) * (size_t)w + (size_t)ix];
                }
            }
        }
}

/* The adjoint of im2col: dx += the columns' gradients at their pixels. */
static void col2im(const float *col, int cin, int h, int w, float *dx)
{
    int oh = out_dim(h), ow = out_dim(w);
    size_t P = (size_t)oh * (size_t)ow;
    memset(dx, 0, (size_t)cin * (size_t)h * (size_t)w * sizeof(float));
    for (int ci = 0; ci < cin; ci++)
        for (int k = 0; k < 9; k++) {
            int ky = k / 3 - 1, kx = k % 3 - 1;
            const float *row = col + (size_t)(ci * 9 + k) * P;
            for (int oy = 0; oy < oh; oy++) {
                int iy = 2 * oy + ky;
                if (iy < 0 || iy >= h)
                    continue;
                for (int ox = 0; ox < ow; ox++) {
                    int ix = 2 * ox + kx;
                    if (ix >= 0 && ix < w)
                        dx[((size_t)ci * (size_t)h + (size_t)iy) * (size_t)w + (size_t)ix] +=
                            row[oy * ow + ox];
                }
            }
        }
}

static int forward(const cnn_t *c, const float *x, size_t width, pass_t *p)
{
    const float *in = x;
    p->h[0] = H0;
    p->w[0] = (int)width;
    for (int l = 0; l < CNN_LAYERS; l++) {
        int oh = p->h[l + 1] = out_dim(p->h[l]), ow = p->w[l + 1] = out_dim(p->w[l]);
        size_t P = (size_t)oh * (size_t)ow, K = (size_t)c->ch[l] * 9, M = (size_t)c->ch[l + 1];
        if (!grow(&p->col[l], &p->cap_col[l], K * P) || !grow(&p->out[l], &p->cap_out[l], M * P))
            return 0;
        im2col(in, c->ch[l], p->h[l], p->w[l], p->col[l]);
        for (size_t m = 0; m < M; m++)
            for (size_t q = 0; q < P; q++)
                p->out[l][m * P + q] = c->b[l][m];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)P, (int)K, 1.0f,
                    c->w[l], (int)K, p->col[l], (int)P, 1.0f, p->out[l], (int)P);
        for (size_t i = 0; i < M * P; i++)
            p->out[l][i] = p->out[l][i] > 0.0f ? p->out[l][i] : 0.0f;
        in = p->out[l];
    }
    int D = c->ch[CNN_LAYERS];
    size_t P = (size_t)p->h[CNN_LAYERS] * (size_t)p->w[CNN_LAYERS];
    for (int d = 0; d < D; d++) {
        double s = 0;
        for (size_t q = 0; q < P; q++)
            s += p->out[CNN_LAYERS - 1][(size_t)d * P + q];
        p->pooled[d] = (float)(s / (double)P);
    }
    for (int k = 0; k < c->classes; k++) {
        double z = c->hb[k];
        for (int d = 0; d < D; d++)
            z += (double)c->hw[k * D + d] * p->pooled[d];
        p->logits[k] = (float)z;
    }
    return 1;
}

gs_err_t cnn_predict(const cnn_t *c, const float *x, size_t width, float *probs)
{
    pass_t p = {0};
    int ok = forward(c, x, width, &p);
    if (ok) {
        memcpy(probs, p.logits, (size_t)c->classes * sizeof(float));
        nn_softmax(probs, 1, c->classes, c->temperature);
    }
    pass_free(&p);
    return ok ? GS_OK : GS_ERR_NOMEM;
}

/* ---- training ------------------------------------------------------------- */

typedef struct grads {
    float *w[CNN_LAYERS], *b[CNN_LAYERS], *hw, *hb;
} grads_t;

typedef struct trainer {
    cnn_t *c;
    pass_t p;
    grads_t g, m, v;
    float *dout, *dcol, *dprev; /* scratch of the backward pass */
    size_t cap_dout, cap_dcol, cap_dprev;
    double class_w[64];
    long step;
} trainer_t;

static size_t wlen(const cnn_t *c, int l)
{
    return (size_t)c->ch[l + 1] * (size_t)c->ch[l] * 9;
}

static int grads_init(grads_t *g, const cnn_t *c)
{
    int ok = 1;
    for (int l = 0; ok && l < CNN_LAYERS; l++)
        ok = (g->w[l] = calloc(wlen(c, l), sizeof(float))) &&
             (g->b[l] = calloc((size_t)c->ch[l + 1], sizeof(float)));
    size_t d = (size_t)c->ch[CNN_LAYERS];
    return ok && (g->hw = calloc((size_t)c->classes * d, sizeof(float))) &&
           (g->hb = calloc((size_t)c->classes, sizeof(float)));
}

static void grads_free(grads_t *g)
{
    for (int l = 0; l < CNN_LAYERS; l++) {
        free(g->w[l]);
        free(g->b[l]);
    }
    free(g->hw);
    free(g->hb);
}

static void grads_zero(grads_t *g, const cnn_t *c)
{
    for (int l = 0; l < CNN_LAYERS; l++) {
        memset(g->w[l], 0, wlen(c, l) * sizeof(float));
        memset(g->b[l], 0, (size_t)c->ch[l + 1] * sizeof(float));
    }
    memset(g->hw, 0, (size_t)c->classes * (size_t)c->ch[CNN_LAYERS] * sizeof(float));
    memset(g->hb, 0, (size_t)c->classes * sizeof(float));
}

/* The dense head's gradients; dout gets the last layer's output gradient
 * (the average spread over its positions, through the ReLU). */
static int backward_head(trainer_t *t, const float *dz)
{
    cnn_t *c = t->c;
    pass_t *p = &t->p;
    int D = c->ch[CNN_LAYERS];
    size_t P = (size_t)p->h[CNN_LAYERS] * (size_t)p->w[CNN_LAYERS];
    if (!grow(&t->dout, &t->cap_dout, (size_t)D * P))
        return 0;
    for (int d = 0; d < D; d++) {
        float dg = 0;
        for (int k = 0; k < c->classes; k++) {
            t->g.hw[k * D + d] += dz[k] * p->pooled[d];
            dg += c->hw[k * D + d] * dz[k];
        }
        const float *o = p->out[CNN_LAYERS - 1] + (size_t)d * P;
        for (size_t q = 0; q < P; q++)
            t->dout[(size_t)d * P + q] = o[q] > 0.0f ? dg / (float)P : 0.0f;
    }
    for (int k = 0; k < c->classes; k++)
        t->g.hb[k] += dz[k];
    return 1;
}

static int backward_convs(trainer_t *t)
{
    cnn_t *c = t->c;
    pass_t *p = &t->p;
    for (int l = CNN_LAYERS - 1; l >= 0; l--) {
        size_t P = (size_t)p->h[l + 1] * (size_t)p->w[l + 1], K = (size_t)c->ch[l] * 9;
        size_t M = (size_t)c->ch[l + 1];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)K, (int)P, 1.0f, t->dout,
                    (int)P, p->col[l], (int)P, 1.0f, t->g.w[l], (int)K);
        for (size_t m = 0; m < M; m++)
            for (size_t q = 0; q < P; q++)
                t->g.b[l][m] += t->dout[m * P + q];
        if (l == 0)
            break;
        size_t prev = (size_t)c->ch[l] * (size_t)p->h[l] * (size_t)p->w[l];
        if (!grow(&t->dcol, &t->cap_dcol, K * P) || !grow(&t->dprev, &t->cap_dprev, prev))
            return 0;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)P, (int)M, 1.0f, c->w[l],
                    (int)K, t->dout, (int)P, 0.0f, t->dcol, (int)P);
        col2im(t->dcol, c->ch[l], p->h[l], p->w[l], t->dprev);
        const float *o = p->out[l - 1];
        for (size_t i = 0; i < prev; i++)
            t->dprev[i] = o[i] > 0.0f ? t->dprev[i] : 0.0f;
        float *swap = t->dout; /* dprev becomes the next layer's dout */
        size_t cap = t->cap_dout;
        t->dout = t->dprev, t->cap_dout = t->cap_dprev;
        t->dprev = swap, t->cap_dprev = cap;
    }
    return 1;
}

/* One clip: forward, the weighted cross-entropy's gradient, backward. */
static int train_clip(trainer_t *t, const cnn_rows_t *r, size_t i, double weight)
{
    if (!forward(t->c, r->x + r->off[i], r->width[i], &t->p))
        return 0;
    float dz[64];
    memcpy(dz, t->p.logits, (size_t)t->c->classes * sizeof(float));
    nn_softmax(dz, 1, t->c->classes, 1.0f);
    dz[r->y[i]] -= 1.0f;
    for (int k = 0; k < t->c->classes; k++)
        dz[k] *= (float)weight;
    return backward_head(t, dz) && backward_convs(t);
}

static void apply(trainer_t *t, double lr)
{
    cnn_t *c = t->c;
    t->step++;
    for (int l = 0; l < CNN_LAYERS; l++) {
        nn_adam(c->w[l], t->g.w[l], t->m.w[l], t->v.w[l], wlen(c, l), lr, t->step);
        nn_adam(c->b[l], t->g.b[l], t->m.b[l], t->v.b[l], (size_t)c->ch[l + 1], lr, t->step);
    }
    size_t d = (size_t)c->classes * (size_t)c->ch[CNN_LAYERS];
    nn_adam(c->hw, t->g.hw, t->m.hw, t->v.hw, d, lr, t->step);
    nn_adam(c->hb, t->g.hb, t->m.hb, t->v.hb, (size_t)c->classes, lr, t->step);
}

static int train_epoch(trainer_t *t, const cnn_rows_t *r, size_t *order, const mlp_fit_conf_t *fc,
                       gs_rng_t *rng)
{
    for (size_t i = r->n; i > 1; i--) {
        size_t j = (size_t)(gs_rng_next(rng) % i), tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
    for (size_t s = 0; s < r->n; s += (size_t)fc->batch) {
        size_t e = s + (size_t)fc->batch < r->n ? s + (size_t)fc->batch : r->n;
        double wsum = 0;
        for (size_t i = s; i < e; i++)
            wsum += t->class_w[r->y[order[i]]];
        grads_zero(&t->g, t->c);
        for (size_t i = s; i < e; i++)
            if (!train_clip(t, r, order[i], t->class_w[r->y[order[i]]] / wsum))
                return 0;
        for (int l = 0; l < CNN_LAYERS; l++) /* L2 on the weights */
            for (size_t k = 0; k < wlen(t->c, l); k++)
                t->g.w[l][k] += (float)fc->l2 * t->c->w[l][k];
        apply(t, fc->lr);
    }
    return 1;
}

/* The validation logits (val->n x classes) at temperature 1. */
static int val_logits(trainer_t *t, const cnn_rows_t *val, float *z)
{
    for (size_t i = 0; i < val->n; i++) {
        if (!forward(t->c, val->x + val->off[i], val->width[i], &t->p))
            return 0;
        memcpy(z + i * (size_t)t->c->classes, t->p.logits, (size_t)t->c->classes * sizeof(float));
    }
    return 1;
}

static void copy_params(cnn_t *c, grads_t *best, int restore)
{
    for (int l = 0; l < CNN_LAYERS; l++) {
        size_t nw = wlen(c, l) * sizeof(float), nb = (size_t)c->ch[l + 1] * sizeof(float);
        memcpy(restore ? c->w[l] : best->w[l], restore ? best->w[l] : c->w[l], nw);
        memcpy(restore ? c->b[l] : best->b[l], restore ? best->b[l] : c->b[l], nb);
    }
    size_t nh = (size_t)c->classes * (size_t)c->ch[CNN_LAYERS] * sizeof(float);
    memcpy(restore ? c->hw : best->hw, restore ? best->hw : c->hw, nh);
    memcpy(restore ? c->hb : best->hb, restore ? best->hb : c->hb,
           (size_t)c->classes * sizeof(float));
}

static void trainer_free(trainer_t *t)
{
    pass_free(&t->p);
    grads_free(&t->g);
    grads_free(&t->m);
    grads_free(&t->v);
    free(t->dout);
    free(t->dcol);
    free(t->dprev);
}

static double epoch_loss(trainer_t *t, const cnn_rows_t *val, float *z, float *probs, int *ok)
{
    *ok = val_logits(t, val, z);
    memcpy(probs, z, val->n * (size_t)t->c->classes * sizeof(float));
    nn_softmax(probs, val->n, t->c->classes, 1.0f);
    return mlp_nll(probs, val->y, val->n, t->c->classes);
}

gs_err_t cnn_fit(cnn_t *c, const cnn_rows_t *train, const cnn_rows_t *val, const mlp_fit_conf_t *fc,
                 mlp_fit_result_t *res, char *errstr, size_t n)
{
    trainer_t t = {.c = c};
    grads_t best = {0};
    size_t *order = malloc((train->n + 1) * sizeof(size_t)), k = (size_t)c->classes;
    float *z = malloc((val->n + 1) * k * sizeof(float)),
          *probs = malloc((val->n + 1) * k * sizeof(float));
    int ok = order && z && probs && grads_init(&t.g, c) && grads_init(&t.m, c) &&
             grads_init(&t.v, c) && grads_init(&best, c);
    gs_rng_t rng;
    gs_rng_seed(&rng, fc->seed);
    *res = (mlp_fit_result_t){.val_loss = INFINITY};
    for (size_t i = 0; ok && i < train->n; i++)
        order[i] = i;
    if (ok)
        nn_class_weights(train->y, train->n, c->classes, t.class_w);
    for (int e = 1; ok && e <= fc->max_epochs && e - res->best_epoch <= fc->patience; e++) {
        ok = train_epoch(&t, train, order, fc, &rng);
        double l = ok ? epoch_loss(&t, val, z, probs, &ok) : INFINITY;
        res->epochs = e;
        if (l < res->val_loss) {
            res->val_loss = l;
            res->best_epoch = e;
            copy_params(c, &best, 0);
        }
        if (fc->progress && isatty(2))
            fprintf(stderr, "\r%s: epoch %3d, validation loss %.4f (best %.4f at %d)   ",
                    fc->progress, e, l, res->val_loss, res->best_epoch);
    }
    if (ok && res->best_epoch > 0) {
        copy_params(c, &best, 1);
        ok = val_logits(&t, val, z);
        if (ok)
            c->temperature =
                (float)(res->temperature = nn_temperature(z, val->y, val->n, c->classes, probs));
    }
    if (fc->progress && isatty(2))
        fputc('\n', stderr);
    trainer_free(&t);
    grads_free(&best);
    free(order);
    free(z);
    free(probs);
    return ok ? GS_OK : gs_fail(errstr, n, GS_ERR_NOMEM, "cnn: out of memory");
}
