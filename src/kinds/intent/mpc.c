/* The constrained MPC of the intent kind (see mpc.h). Per axis, with
 * U = (u_0 .. u_{N-1}) and x_k = A^k x_0 + sum_{j<k} A^{k-1-j} B u_j:
 *   J(U) = U'HU + 2 x_0'F'U + x_0'Cx_0,  H = sum_k G_k'W_kG_k + rI,
 * W_k = Q for k < N and P for k = N. The QP  min J  s.t. |u_j| <= a_max,
 * |v_k| <= vb_k  is solved by a primal active-set method (Nocedal & Wright,
 * Numerical Optimization, 2nd ed., algorithm 16.3) from a feasible start,
 * with the inverse Hessian computed once: each step solves only the small
 * system of the working set. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mpc.h"

#define NC_MAX    (4 * MPC_MAX_N) /* u <= a, -u <= a, v <= vb, -v <= vb per step */
#define DARE_ITER 64
/* A relaxed velocity bound sits this far outside full braking, so that the
 * two never bind at once (a degenerate vertex the active set cycles on). */
#define RELAX_MARGIN 1e-9

typedef double m2_t[2][2];

struct mpc {
    mpc_conf_t c;
    mpc_dare_t dare;
    int n;
    double ginv[MPC_MAX_N][MPC_MAX_N];     /* (2H)^-1 */
    double gcum[MPC_MAX_N + 1][MPC_MAX_N]; /* gcum[k] = sum_{j<k} ginv[.][j] */
    double h[MPC_MAX_N][MPC_MAX_N];
    double f[MPC_MAX_N][2];
    m2_t cst;
};

/* ---- 2x2 algebra ------------------------------------------------------------ */

static void m2_mul(const m2_t a, const m2_t b, m2_t out)
{
    m2_t t;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            t[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j];
    memcpy(out, t, sizeof(t));
}

static void m2_add(const m2_t a, const m2_t b, m2_t out)
{
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            out[i][j] = a[i][j] + b[i][j];
}

static void m2_t_(const m2_t a, m2_t out)
{
    m2_t t = {{a[0][0], a[1][0]}, {a[0][1], a[1][1]}};
    memcpy(out, t, sizeof(t));
}

static int m2_inv(const m2_t a, m2_t out)
{
    double det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
    if (!(fabs(det) > 1e-300))
        return -1;
    m2_t t = {{a[1][1] / det, -a[0][1] / det}, {-a[1][0] / det, a[0][0] / det}};
    memcpy(out, t, sizeof(t));
    return 0;
}

static double m2_norm(const m2_t a)
{
    return sqrt(a[0][0] * a[0][0] + a[0][1] * a[0][1] + a[1][0] * a[1][0] + a[1][1] * a[1][1]);
}

static void model(const mpc_conf_t *c, m2_t a, double b[2])
{
    a[0][0] = 1, a[0][1] = c->dt, a[1][0] = 0, a[1][1] = 1;
    b[0] = c->dt * c->dt / 2, b[1] = c->dt;
}

/* ---- the Riccati equation ----------------------------------------------------- */

/* A'PA - A'PB (r + B'PB)^-1 B'PA + Q, and K = (r + B'PB)^-1 B'PA. */
static void riccati(const mpc_conf_t *c, const m2_t p, m2_t out, double k[2])
{
    m2_t a, at, pa, apa;
    double b[2];
    model(c, a, b);
    m2_t_(a, at);
    m2_mul(p, a, pa);
    m2_mul(at, pa, apa);
    double bpa[2] = {b[0] * pa[0][0] + b[1] * pa[1][0], b[0] * pa[0][1] + b[1] * pa[1][1]};
    double bpb =
        b[0] * (p[0][0] * b[0] + p[0][1] * b[1]) + b[1] * (p[1][0] * b[0] + p[1][1] * b[1]);
    double s = c->r + bpb;
    for (int i = 0; i < 2; i++) {
        k[i] = bpa[i] / s;
        for (int j = 0; j < 2; j++)
            out[i][j] = apa[i][j] - bpa[i] * bpa[j] / s;
    }
    out[0][0] += c->q_pos;
    out[1][1] += c->q_vel;
}

/* The structure-preserving doubling algorithm: H_k converges to P
 * quadratically (Chu, Fan, Lin & Wang, 2004). */
static int dare_doubling(const mpc_conf_t *c, m2_t p)
{
    m2_t a, g, h = {{c->q_pos, 0}, {0, c->q_vel}};
    double b[2];
    model(c, a, b);
    g[0][0] = b[0] * b[0] / c->r, g[0][1] = g[1][0] = b[0] * b[1] / c->r;
    g[1][1] = b[1] * b[1] / c->r;
    for (int it = 1; it <= DARE_ITER; it++) {
        m2_t gh, w, aw, at, t1, t2;
        m2_mul(g, h, gh);
        gh[0][0] += 1, gh[1][1] += 1;
        if (m2_inv(gh, w))
            return -1;
        m2_mul(a, w, aw);   /* A W */
        m2_t_(a, at);       /* A' */
        m2_mul(aw, g, t1);  /* A W G */
        m2_mul(t1, at, t1); /* A W G A' */
        m2_add(g, t1, g);
        m2_mul(at, h, t2); /* A' H */
        m2_mul(t2, w, t2); /* A' H W */
        m2_mul(t2, a, t2); /* A' H W A */
        double before = m2_norm(h);
        m2_add(h, t2, h);
        m2_mul(aw, a, a); /* A W A */
        if (m2_norm(t2) <= 1e-15 * before) {
            memcpy(p, h, sizeof(m2_t));
            return it;
        }
    }
    return -1;
}

/* Spectral radius of a 2x2 matrix. */
static double radius(const m2_t m)
{
    double tr = m[0][0] + m[1][1], det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
    double disc = tr * tr - 4 * det;
    if (disc < 0)
        return sqrt(fabs(det));
    double s = sqrt(disc);
    return fmax(fabs((tr + s) / 2), fabs((tr - s) / 2));
}

static gs_err_t solve_dare(const mpc_conf_t *c, mpc_dare_t *d, char *errstr, size_t n)
{
    m2_t p, rp, a, diff;
    double b[2];
    d->iterations = dare_doubling(c, p);
    if (d->iterations < 0)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "the Riccati equation did not converge");
    riccati(c, p, rp, d->k);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            diff[i][j] = rp[i][j] - p[i][j];
    d->residual = m2_norm(diff) / m2_norm(p);
    memcpy(d->p, p, sizeof(p));
    model(c, a, b);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            a[i][j] -= b[i] * d->k[j];
    d->rho = radius(a);
    if (!(d->residual < 1e-9) || !(d->rho < 1))
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG,
                       "the Riccati solution is not stabilising (residual %.3g, spectral radius "
                       "of A-BK %.6f)",
                       d->residual, d->rho);
    return GS_OK;
}

/* ---- condensing ----------------------------------------------------------------- */

/* H, F and C (see the top), from the powers of A and the step responses. */
static void condense(mpc_t *m)
{
    int n = m->n;
    m2_t a, ak = {{1, 0}, {0, 1}};
    double b[2], resp[MPC_MAX_N + 1][MPC_MAX_N][2] = {{{0}}}; /* resp[k][j] = A^{k-1-j}B */
    model(&m->c, a, b);
    memset(m->h, 0, sizeof(m->h));
    memset(m->f, 0, sizeof(m->f));
    memset(m->cst, 0, sizeof(m->cst));
    for (int k = 1; k <= n; k++) {
        m2_mul(a, ak, ak);
        for (int j = 0; j < k; j++) {
            const double *prev = j < k - 1 ? resp[k - 1][j] : b;
            resp[k][j][0] = j < k - 1 ? prev[0] + a[0][1] * prev[1] : b[0];
            resp[k][j][1] = j < k - 1 ? prev[1] : b[1];
        }
        m2_t w = {{m->c.q_pos, 0}, {0, m->c.q_vel}};
        if (k == n)
            memcpy(w, m->dare.p, sizeof(w));
        for (int i = 0; i < k; i++) {
            const double *gi = resp[k][i];
            double wg[2] = {w[0][0] * gi[0] + w[0][1] * gi[1], w[1][0] * gi[0] + w[1][1] * gi[1]};
            for (int j = 0; j < k; j++)
                m->h[i][j] += wg[0] * resp[k][j][0] + wg[1] * resp[k][j][1];
            for (int c = 0; c < 2; c++)
                m->f[i][c] += wg[0] * ak[0][c] + wg[1] * ak[1][c];
        }
        m2_t wa, at;
        m2_mul(w, ak, wa);
        m2_t_(ak, at);
        m2_mul(at, wa, wa);
        m2_add(m->cst, wa, m->cst);
    }
    for (int i = 0; i < n; i++)
        m->h[i][i] += m->c.r;
}

/* Cholesky of an s x s SPD matrix in place (lower); -1 when not SPD. */
static int cholesky(double *a, int s, int ld)
{
    for (int j = 0; j < s; j++) {
        double d = a[j * ld + j];
        for (int k = 0; k < j; k++)
            d -= a[j * ld + k] * a[j * ld + k];
        if (!(d > 0))
            return -1;
        d = sqrt(d);
        a[j * ld + j] = d;
        for (int i = j + 1; i < s; i++) {
            double v = a[i * ld + j];
            for (int k = 0; k < j; k++)
                v -= a[i * ld + k] * a[j * ld + k];
            a[i * ld + j] = v / d;
        }
    }
    return 0;
}

/* Solves (LL')x = b in place. */
static void chol_solve(const double *l, int s, int ld, double *b)
{
    for (int i = 0; i < s; i++) {
        for (int k = 0; k < i; k++)
            b[i] -= l[i * ld + k] * b[k];
        b[i] /= l[i * ld + i];
    }
    for (int i = s - 1; i >= 0; i--) {
        for (int k = i + 1; k < s; k++)
            b[i] -= l[k * ld + i] * b[k];
        b[i] /= l[i * ld + i];
    }
}

/* (2H)^-1, column by column, and its running column sums. */
static int invert_hessian(mpc_t *m)
{
    int n = m->n;
    double l[MPC_MAX_N * MPC_MAX_N];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            l[i * n + j] = 2 * m->h[i][j];
    if (cholesky(l, n, n))
        return -1;
    for (int j = 0; j < n; j++) {
        double col[MPC_MAX_N] = {0};
        col[j] = 1;
        chol_solve(l, n, n, col);
        for (int i = 0; i < n; i++)
            m->ginv[i][j] = col[i];
    }
    memset(m->gcum, 0, sizeof(m->gcum));
    for (int k = 1; k <= n; k++)
        for (int i = 0; i < n; i++)
            m->gcum[k][i] = m->gcum[k - 1][i] + m->ginv[i][k - 1];
    return 0;
}

static gs_err_t check_conf(const mpc_conf_t *c, char *errstr, size_t n)
{
    if (c->horizon < 1 || c->horizon > MPC_MAX_N)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "mpc horizon %d: 1..%d", c->horizon,
                       MPC_MAX_N);
    if (!(c->dt > 0 && c->a_max > 0 && c->v_max > 0 && c->r > 0 && c->q_pos > 0 && c->q_vel >= 0 &&
          isfinite(c->dt + c->a_max + c->v_max + c->r + c->q_pos + c->q_vel)))
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG,
                       "mpc: dt, a_max, v_max, r and q_pos must be > 0 and q_vel >= 0");
    return GS_OK;
}

gs_err_t mpc_new(const mpc_conf_t *c, mpc_t **out, char *errstr, size_t n)
{
    *out = NULL;
    gs_err_t err = check_conf(c, errstr, n);
    if (err)
        return err;
    mpc_t *m = calloc(1, sizeof(*m));
    if (!m)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    m->c = *c;
    m->n = c->horizon;
    err = solve_dare(c, &m->dare, errstr, n);
    if (!err) {
        condense(m);
        if (invert_hessian(m))
            err = gs_fail(errstr, n, GS_ERR_INVALID_ARG, "mpc: the QP's Hessian is not definite");
    }
    if (err) {
        free(m);
        return err;
    }
    *out = m;
    return GS_OK;
}

void mpc_destroy(mpc_t *m)
{
    free(m);
}

const mpc_dare_t *mpc_dare(const mpc_t *m)
{
    return &m->dare;
}

int mpc_horizon(const mpc_t *m)
{
    return m->n;
}

const char *mpc_status_name(mpc_status_t s)
{
    static const char *const names[] = {"optimal", "relaxed", "max_iterations"};
    return (unsigned)s < 3 ? names[s] : "?";
}

/* ---- the QP of one axis ------------------------------------------------------------ */

/* Constraint i: kind (i % 4: u <= a, -u <= a, v <= vb, -v <= vb) of step
 * i / 4; its row, applied to a vector, is a running sum for the velocity. */
typedef struct qp {
    const mpc_t *m;
    double v0, b[NC_MAX]; /* a_i'U <= b_i */
    double c[MPC_MAX_N];  /* 2 F x0 */
} qp_t;

static double row_dot(const qp_t *q, int i, const double *x)
{
    int k = i / 4, kind = i % 4;
    if (kind < 2)
        return kind ? -x[k] : x[k];
    double s = 0;
    for (int j = 0; j <= k; j++)
        s += x[j];
    s *= q->m->c.dt;
    return kind == 2 ? s : -s;
}

/* G^-1 a_i. */
static void ginv_row(const qp_t *q, int i, double *out)
{
    const mpc_t *m = q->m;
    int k = i / 4, kind = i % 4, n = m->n;
    double sign = kind % 2 ? -1 : 1;
    for (int r = 0; r < n; r++)
        out[r] = kind < 2 ? sign * m->ginv[r][k] : sign * m->c.dt * m->gcum[k + 1][r];
}

static void setup(const mpc_t *m, double p0, double v0, qp_t *q, double *x, mpc_status_t *st)
{
    int n = m->n;
    *q = (qp_t){.m = m, .v0 = v0};
    double v = v0;
    for (int k = 0; k < n; k++) {
        q->c[k] = 2 * (m->f[k][0] * p0 + m->f[k][1] * v0);
        /* the bound braking can reach when the robot is already too fast */
        double vb = fmax(m->c.v_max, fabs(v0) - m->c.a_max * m->c.dt * (k + 1) + RELAX_MARGIN);
        double *bk = q->b + (size_t)4 * (size_t)k;
        bk[0] = bk[1] = m->c.a_max;
        bk[2] = vb - v0;
        bk[3] = vb + v0;
        /* the start: brake to a stop, which every bound allows */
        x[k] = fmax(-m->c.a_max, fmin(m->c.a_max, -v / m->c.dt));
        v += x[k] * m->c.dt;
    }
    *st = fabs(v0) > m->c.v_max ? MPC_RELAXED : MPC_OPTIMAL;
}

typedef struct wset {
    int idx[MPC_MAX_N];
    double t[MPC_MAX_N][MPC_MAX_N]; /* G^-1 a_i of each */
    int n;
} wset_t;

/* The step p from x on the working set, and its multipliers mu. */
static void eqp_step(const qp_t *q, const wset_t *w, const double *x, double *p, double *mu)
{
    const mpc_t *m = q->m;
    int n = m->n;
    double g[MPC_MAX_N];
    for (int i = 0; i < n; i++) {
        g[i] = q->c[i];
        for (int j = 0; j < n; j++)
            g[i] += 2 * m->h[i][j] * x[j];
    }
    for (int i = 0; i < n; i++) {
        p[i] = 0;
        for (int j = 0; j < n; j++)
            p[i] -= m->ginv[i][j] * g[j];
    }
    if (!w->n)
        return;
    double s[MPC_MAX_N * MPC_MAX_N];
    for (int a = 0; a < w->n; a++) {
        mu[a] = row_dot(q, w->idx[a], p); /* -a_i'G^-1 g */
        for (int b = 0; b < w->n; b++)
            s[a * w->n + b] = row_dot(q, w->idx[a], w->t[b]);
    }
    if (cholesky(s, w->n, w->n))
        return; /* cannot happen for independent rows; p then leaves W */
    chol_solve(s, w->n, w->n, mu);
    for (int a = 0; a < w->n; a++)
        for (int i = 0; i < n; i++)
            p[i] -= mu[a] * w->t[a][i];
}

/* From x along p: the largest step up to 1 that keeps every bound, and the
 * constraint that stops it (-1: none). */
static double ratio_test(const qp_t *q, const wset_t *w, const double *x, const double *p,
                         int *block)
{
    double alpha = 1;
    *block = -1;
    for (int i = 0; i < 4 * q->m->n; i++) {
        int in = 0;
        for (int a = 0; a < w->n; a++)
            in |= w->idx[a] == i;
        double ap = in ? 0 : row_dot(q, i, p);
        if (ap <= 1e-14)
            continue;
        double step = fmax(0, q->b[i] - row_dot(q, i, x)) / ap;
        if (step < alpha) /* ties: the lowest index (Bland's rule, against cycling) */
            alpha = step, *block = i;
    }
    return alpha;
}

static void wset_add(const qp_t *q, wset_t *w, int i)
{
    w->idx[w->n] = i;
    ginv_row(q, i, w->t[w->n]);
    w->n++;
}

static void wset_drop(wset_t *w, int a)
{
    w->n--;
    w->idx[a] = w->idx[w->n];
    memcpy(w->t[a], w->t[w->n], sizeof(w->t[0]));
}

/* One iteration: 1 when x is optimal. */
static int active_set_step(const qp_t *q, wset_t *w, double *x)
{
    int n = q->m->n;
    double p[MPC_MAX_N] = {0}, mu[MPC_MAX_N] = {0}, pn = 0, xn = 1;
    eqp_step(q, w, x, p, mu);
    for (int i = 0; i < n; i++)
        pn = fmax(pn, fabs(p[i])), xn = fmax(xn, fabs(x[i]));
    if (pn <= 1e-12 * xn) {
        int worst = -1; /* the lowest-index constraint with a negative multiplier (Bland) */
        for (int a = 0; a < w->n; a++)
            if (mu[a] < -1e-10 && (worst < 0 || w->idx[a] < w->idx[worst]))
                worst = a;
        if (worst < 0)
            return 1;
        wset_drop(w, worst);
        return 0;
    }
    int block;
    double alpha = ratio_test(q, w, x, p, &block);
    for (int i = 0; i < n; i++)
        x[i] += alpha * p[i];
    if (block >= 0 && w->n < n)
        wset_add(q, w, block);
    return 0;
}

static double plan_cost(const mpc_t *m, double p0, double v0, const double *x)
{
    int n = m->n;
    double j = m->cst[0][0] * p0 * p0 + 2 * m->cst[0][1] * p0 * v0 + m->cst[1][1] * v0 * v0;
    for (int i = 0; i < n; i++) {
        j += 2 * (m->f[i][0] * p0 + m->f[i][1] * v0) * x[i];
        for (int k = 0; k < n; k++)
            j += x[i] * m->h[i][k] * x[k];
    }
    return j;
}

void mpc_solve(const mpc_t *m, double p0, double v0, mpc_plan_t *out)
{
    qp_t q;
    wset_t w = {.n = 0};
    *out = (mpc_plan_t){0};
    setup(m, p0, v0, &q, out->u, &out->status);
    int done = 0, limit = 8 * m->n + 40;
    while (!done && out->iterations < limit) {
        done = active_set_step(&q, &w, out->u);
        out->iterations++;
    }
    if (!done)
        out->status = MPC_MAX_ITER;
    out->cost = plan_cost(m, p0, v0, out->u);
}
