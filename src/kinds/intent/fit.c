/* Fitting the intent model: multinomial logistic regression by Newton's
 * method with a backtracking line search (the problem is small, about 160
 * parameters, so the exact Hessian is cheap and converges in a dozen
 * steps), an L2 penalty on the weights (not the biases), and a
 * temperature fitted on validation data by golden-section search. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fit.h"

/* size_t, so that offsets are computed in the width they are used in */
#define D ((size_t)N_FEATURES + 1)
#define K ((size_t)N_INTENTS)
#define P (K * D)

/* The rows of z with a 1 appended: n x D. */
static double *design(const double *z, size_t n)
{
    double *x = malloc(n * D * sizeof(double));
    if (!x)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        memcpy(x + i * D, z + i * N_FEATURES, N_FEATURES * sizeof(double));
        x[i * D + N_FEATURES] = 1;
    }
    return x;
}

/* Probabilities (n x K) under w (K x D) and temperature t; returns the
 * mean negative log-likelihood of the labels. */
static double probs(const double *x, const int *y, size_t n, const double *w, double t, double *p)
{
    double nll = 0;
    for (size_t i = 0; i < n; i++) {
        double *pi = p + i * N_INTENTS, top = -INFINITY, sum = 0;
        for (size_t k = 0; k < K; k++) {
            pi[k] = cblas_ddot((int)D, x + i * D, 1, w + k * D, 1) / t;
            top = fmax(top, pi[k]);
        }
        for (size_t k = 0; k < K; k++)
            sum += pi[k] = exp(pi[k] - top);
        for (size_t k = 0; k < K; k++)
            pi[k] /= sum;
        nll -= log(fmax(pi[y[i]], 1e-300));
    }
    return nll / (double)n;
}

static double penalty(const double *w, double lambda)
{
    double s = 0;
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < N_FEATURES; j++)
            s += w[k * D + j] * w[k * D + j];
    return 0.5 * lambda * s;
}

static void gradient(const double *x, const int *y, size_t n, const double *w, const double *p,
                     double lambda, double *g)
{
    memset(g, 0, P * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < K; k++)
            cblas_daxpy((int)D, (p[i * N_INTENTS + k] - (y[i] == (int)k)) / (double)n, x + i * D, 1,
                        g + k * D, 1);
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < N_FEATURES; j++)
            g[k * D + j] += lambda * w[k * D + j];
}

/* H[(a,j),(b,l)] = mean_i p_ia (delta_ab - p_ib) x_ij x_il + the penalty's
 * (and a tiny ridge on the biases, whose common shift is a flat
 * direction). */
static void hessian(const double *x, size_t n, const double *p, double lambda, double *h,
                    double *tmp)
{
    memset(h, 0, P * P * sizeof(double));
    for (size_t a = 0; a < K; a++)
        for (size_t b = a; b < K; b++) {
            for (size_t i = 0; i < n; i++) {
                double wi =
                    p[i * N_INTENTS + a] * ((double)(a == b) - p[i * N_INTENTS + b]) / (double)n;
                for (size_t j = 0; j < D; j++)
                    tmp[i * D + j] = wi * x[i * D + j];
            }
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)D, (int)D, (int)n, 1.0, x,
                        (int)D, tmp, (int)D, 0.0, h + a * D * P + b * D, (int)P);
            for (size_t j = 0; a != b && j < D; j++)
                for (size_t l = 0; l < D; l++)
                    h[(b * D + l) * P + a * D + j] = h[(a * D + j) * P + b * D + l];
        }
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < D; j++)
            h[(k * D + j) * P + k * D + j] += j < N_FEATURES ? lambda : 1e-8;
}

gs_err_t lr_fit(const double *z, const int *y, size_t n, double lambda, double *w, int *iters,
                char *errstr, size_t en)
{
    double *x = design(z, n), *p = malloc(n * N_INTENTS * sizeof(double));
    double *tmp = malloc(n * D * sizeof(double)), *h = malloc(P * P * sizeof(double));
    double g[P], step[P], trial[P];
    gs_err_t err = x && p && tmp && h ? GS_OK : gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    memset(w, 0, P * sizeof(double));
    double f = err ? 0 : probs(x, y, n, w, 1, p) + penalty(w, lambda);
    for (*iters = 0; !err && *iters < 50; ++*iters) {
        gradient(x, y, n, w, p, lambda, g);
        hessian(x, n, p, lambda, h, tmp);
        memcpy(step, g, sizeof(g));
        if (LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (int)P, 1, h, (int)P, step, 1) != 0) {
            err = gs_fail(errstr, en, GS_ERR_INTERNAL, "the Hessian is not positive definite");
            break;
        }
        double t = 1, fn = f;
        for (int ls = 0; ls < 30; ls++, t /= 2) {
            for (size_t k = 0; k < P; k++)
                trial[k] = w[k] - t * step[k];
            fn = probs(x, y, n, trial, 1, p) + penalty(trial, lambda);
            if (fn <= f - 1e-4 * t * cblas_ddot((int)P, g, 1, step, 1))
                break;
        }
        memcpy(w, trial, sizeof(trial));
        int done = f - fn < 1e-10;
        f = fn;
        if (done)
            break;
    }
    free(x);
    free(p);
    free(tmp);
    free(h);
    return err;
}

double lr_nll(const double *z, const int *y, size_t n, const double *w, double t)
{
    double *x = design(z, n), *p = malloc(n * N_INTENTS * sizeof(double));
    double nll = x && p ? probs(x, y, n, w, t, p) : INFINITY;
    free(x);
    free(p);
    return nll;
}

double lr_temperature(const double *z, const int *y, size_t n, const double *w)
{
    double a = 0.2, b = 5.0, r = (sqrt(5) - 1) / 2;
    double c = b - r * (b - a), d = a + r * (b - a);
    double fc = lr_nll(z, y, n, w, c), fd = lr_nll(z, y, n, w, d);
    for (int i = 0; i < 40; i++) {
        if (fc < fd) {
            b = d, d = c, fd = fc;
            c = b - r * (b - a);
            fc = lr_nll(z, y, n, w, c);
        } else {
            a = c, c = d, fc = fd;
            d = a + r * (b - a);
            fd = lr_nll(z, y, n, w, d);
        }
    }
    return (a + b) / 2;
}
