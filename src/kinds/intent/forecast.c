/* Where the hand will be at +h (docs/INTENT.md, "Forecast"): a
 * minimum-jerk completion (Flash & Hogan 1985) for the goal-directed
 * intents, toward the likely target, the end effector or the end point the
 * movement's own profile gives; the oscillation's centre for WAVE; a damped
 * constant velocity for IDLE. The mixture weights them by the intents'
 * probabilities. */
#include <math.h>

#include "internal.h"

double minjerk(double s)
{
    s = s < 0 ? 0 : s > 1 ? 1 : s;
    return s * s * s * (10 - 15 * s + 6 * s * s);
}

#define FIT_POINTS 12
#define FIT_DURS   12
#define FIT_ONSETS 5

/* Up to FIT_POINTS samples of the progress along dir since the onset, as
 * measured: smoothing would bend the profile the fit is looking for. */
static size_t progress_points(const track_t *tr, vec3_t from, vec3_t dir, double *t, double *s)
{
    size_t first = tr->onset, m = tr->n - first;
    size_t k = m < FIT_POINTS ? m : FIT_POINTS;
    for (size_t j = 0; j < k; j++) {
        size_t i = k > 1 ? first + j * (m - 1) / (k - 1) : tr->n - 1;
        t[j] = tr->t[i];
        s[j] = v3_dot(v3_sub(tr->raw[i], from), dir);
    }
    return k;
}

/* A movement's duration as its length suggests (a weak prior: reaches of
 * 0.2-0.6 m take 0.5-1.2 s; Flash & Hogan 1985, Fitts 1954). Before the
 * peak speed the profile alone cannot tell a long slow reach from a short
 * fast one. */
static double prior_duration(double dist)
{
    return fmin(1.5, fmax(0.4, 0.5 + 1.75 * (dist - 0.2)));
}

/* The residual of onset t0 and duration dur, with the prior. The progress
 * is s0 + dist * sigma: s0 because the onset sample has already moved a
 * little. Both are fitted by least squares (dist never short of where the
 * hand is), or s0 alone when the goal is known. */
static double fit_cost(const double *t, const double *s, size_t k, double t0, double dur, int known,
                       double *s0, double *dist)
{
    double sig[FIT_POINTS], n = (double)k, a = 0, aa = 0, y = 0, ay = 0;
    for (size_t j = 0; j < k; j++) {
        sig[j] = minjerk((t[j] - t0) / dur);
        a += sig[j], aa += sig[j] * sig[j], y += s[j], ay += sig[j] * s[j];
    }
    if (known) {
        /* s - G sigma = s0 (1 - sigma) */
        double num = 0, den = 0;
        for (size_t j = 0; j < k; j++) {
            num += (s[j] - *dist * sig[j]) * (1 - sig[j]);
            den += (1 - sig[j]) * (1 - sig[j]);
        }
        *s0 = den > 1e-9 ? num / den : 0;
        *dist -= *s0;
    } else {
        double det = n * aa - a * a;
        *dist = det > 1e-9 ? (n * ay - a * y) / det : s[k - 1];
        *s0 = det > 1e-9 ? (y - *dist * a) / n : 0;
        *dist = fmax(*dist, s[k - 1] - *s0);
    }
    double r = 0;
    for (size_t j = 0; j < k; j++) {
        double e = s[j] - *s0 - *dist * sig[j];
        r += e * e;
    }
    double dt = dur - prior_duration(*s0 + *dist);
    /* 0.1 s off the prior weighs like 1 mm of residual per sample */
    return r + 1e-4 * n * dt * dt;
}

typedef struct grid {
    double t0, dt0, dur, ddur;
    int n0, nd;
} grid_t;

static void search(const double *t, const double *s, size_t k, int known, const grid_t *g,
                   double goal_dist, double *best, mj_fit_t *out)
{
    for (int a = 0; a < g->n0; a++)
        for (int b = 0; b < g->nd; b++) {
            double t0 = g->t0 + g->dt0 * a, dur = g->dur + g->ddur * b;
            double s0, dist = goal_dist;
            if (dur < 0.2)
                continue;
            double c = fit_cost(t, s, k, t0, dur, known, &s0, &dist);
            if (c < *best) {
                *best = c;
                out->t0 = t0, out->dur = dur, out->dist = dist, out->s0 = s0;
            }
        }
}

void minjerk_fit(const track_t *tr, const vec3_t *goal, mj_fit_t *out)
{
    vec3_t from = tr->p[tr->onset], last = tr->p[tr->n - 1];
    vec3_t way = goal ? v3_sub(*goal, from) : v3_sub(last, from);
    double t_on = tr->t[tr->onset];
    *out =
        (mj_fit_t){.from = from, .dir = v3_unit(way), .dist = v3_norm(way), .dur = 0.8, .t0 = t_on};
    double t[FIT_POINTS], s[FIT_POINTS], best = INFINITY, goal_dist = out->dist;
    size_t k = progress_points(tr, from, out->dir, t, s);
    if (k < 3)
        return;
    /* a coarse grid, then two finer ones around the best */
    grid_t coarse = {t_on - 0.25, 0.07, 0.35, 0.11, FIT_ONSETS, FIT_DURS};
    search(t, s, k, goal != NULL, &coarse, goal_dist, &best, out);
    for (int pass = 1; pass <= 2; pass++) {
        double step = pass == 1 ? 1.0 / 3 : 1.0 / 9;
        grid_t fine = {
            out->t0 - 0.07 * step * 3, 0.07 * step, out->dur - 0.11 * step * 3, 0.11 * step, 7, 7};
        search(t, s, k, goal != NULL, &fine, goal_dist, &best, out);
    }
    out->rms = sqrt(best / (double)k);
}

/* The rest of a fitted movement: the hand covers the share of the
 * remaining way that the profile covers between now and +h. */
static vec3_t complete(const track_t *tr, const mj_fit_t *f, double h)
{
    vec3_t last = tr->p[tr->n - 1];
    vec3_t end = v3_add(f->from, v3_scale(f->dir, f->s0 + f->dist));
    double now = minjerk(-f->t0 / f->dur), then = minjerk((h - f->t0) / f->dur);
    if (1 - now < 1e-3)
        return last;
    return v3_add(last, v3_scale(v3_sub(end, last), (then - now) / (1 - now)));
}

/* The fits of one forecast, each made once and only when an intent needs
 * it: toward the likely target, toward the end effector, along the
 * movement. A path of several horizons reuses them. */
enum { FIT_TARGET, FIT_EE, FIT_FREE, N_FITS };

typedef struct fit_cache {
    int done[N_FITS];
    mj_fit_t f[N_FITS];
} fit_cache_t;

static const mj_fit_t *fit_of(const forecast_in_t *in, int which, fit_cache_t *c)
{
    if (!c->done[which]) {
        const track_t *tr = in->tr;
        vec3_t last = tr->p[tr->n - 1], ee = in->s->ee, goal;
        if (which == FIT_TARGET)
            goal = in->s->targets[in->target];
        else /* a handing hand stops short of the end effector */
            goal = v3_add(ee, v3_scale(v3_unit(v3_sub(last, ee)), 0.1));
        minjerk_fit(tr, which == FIT_FREE ? NULL : &goal, &c->f[which]);
        c->done[which] = 1;
    }
    return &c->f[which];
}

/* The mean of the last 0.7 s: where an oscillation is centred. */
static vec3_t centre(const track_t *tr)
{
    vec3_t sum = v3(0, 0, 0);
    size_t m = 0;
    for (size_t i = tr->n; i-- > 0 && tr->t[i] >= -0.7;) {
        sum = v3_add(sum, tr->p[i]);
        m++;
    }
    return v3_scale(sum, 1.0 / (double)m);
}

/* p + v tau (1 - e^(-h / tau)): a velocity that dies out in tau. */
static vec3_t damped(const track_t *tr, double tau, double h)
{
    vec3_t last = tr->p[tr->n - 1];
    if (!(tau > 0))
        return last;
    return v3_add(last, v3_scale(tr->v[tr->n - 1], tau * (1 - exp(-h / tau))));
}

static vec3_t forecast_one(const forecast_in_t *in, int intent, double h, fit_cache_t *c)
{
    const track_t *tr = in->tr;
    switch (intent) {
    case GS_AVRO_INTENT_GRAB:
        return complete(tr, fit_of(in, in->target >= 0 ? FIT_TARGET : FIT_FREE, c), h);
    case GS_AVRO_INTENT_HANDOVER:
        return complete(tr, fit_of(in, FIT_EE, c), h);
    case GS_AVRO_INTENT_REACH:
    case GS_AVRO_INTENT_POINT:
        return complete(tr, fit_of(in, FIT_FREE, c), h);
    case GS_AVRO_INTENT_WAVE:
        return centre(tr);
    default:
        return damped(tr, in->idle_tau, h);
    }
}

vec3_t forecast_intent(const forecast_in_t *in, int intent)
{
    fit_cache_t c = {.done = {0}};
    return forecast_one(in, intent, in->h, &c);
}

/* Intents less likely than this are left out of the mixture (the rest
 * renormalised): on the held-out scenes it moves the median error by
 * 0.2 mm and the p90 by 2 mm, and saves most of the fits. */
#define MIX_MIN 0.05

static vec3_t mix_at(const forecast_in_t *in, const double *prob, double h, fit_cache_t *c)
{
    vec3_t sum = v3(0, 0, 0);
    double w = 0;
    for (int i = 0; i < N_INTENTS; i++) {
        if (prob[i] < MIX_MIN)
            continue; /* weighs next to nothing, costs a fit */
        sum = v3_add(sum, v3_scale(forecast_one(in, i, h, c), prob[i]));
        w += prob[i];
    }
    return w > 0 ? v3_scale(sum, 1 / w) : in->tr->p[in->tr->n - 1];
}

vec3_t forecast_mix(const forecast_in_t *in, const double *prob)
{
    fit_cache_t c = {.done = {0}};
    return mix_at(in, prob, in->h, &c);
}

size_t forecast_path(const forecast_in_t *in, const double *prob, double step, vec3_t *out,
                     size_t cap)
{
    fit_cache_t c = {.done = {0}};
    size_t n = 0;
    for (size_t k = 1; n + 1 < cap && step * (double)k < in->h - 1e-9; k++)
        out[n++] = mix_at(in, prob, step * (double)k, &c);
    out[n++] = mix_at(in, prob, in->h, &c);
    return n;
}
