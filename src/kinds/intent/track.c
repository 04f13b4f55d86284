/* The hand's window as a smoothed track, and the kinematic features the
 * classifier reads (docs/INTENT.md, "Features"). Everything is O(samples)
 * except the 3 x 3 principal axis, so a 256-sample window costs a few
 * microseconds. */
#include <math.h>

#include "internal.h"

double v3_norm(vec3_t a)
{
    return sqrt(v3_dot(a, a));
}

vec3_t v3_unit(vec3_t a)
{
    double n = v3_norm(a);
    return n < 1e-9 ? v3(0, 0, 0) : v3_scale(a, 1 / n);
}

static vec3_t vec_of(gs_avro_vec3_t v)
{
    return v3(v.x, v.y, v.z);
}

void scene_from_request(const gs_avro_intent_request_t *r, scene_t *s)
{
    s->n = r->n_hand < MAX_SAMPLES ? r->n_hand : MAX_SAMPLES;
    int64_t last = r->hand[s->n - 1].t_ms;
    for (size_t i = 0; i < s->n; i++) {
        s->t[i] = (double)(r->hand[i].t_ms - last) / 1000.0;
        s->p[i] = v3(r->hand[i].x, r->hand[i].y, r->hand[i].z);
    }
    s->ee = vec_of(r->robot.position);
    s->ee_vel = vec_of(r->robot.velocity);
    s->n_targets = r->n_targets < MAX_TARGETS ? r->n_targets : MAX_TARGETS;
    for (size_t j = 0; j < s->n_targets; j++)
        s->targets[j] = vec_of(r->targets[j].position);
}

/* ---- smoothing ------------------------------------------------------------ */

typedef struct sums {
    double c[MAX_SAMPLES + 1], t[MAX_SAMPLES + 1], tt[MAX_SAMPLES + 1];
    vec3_t x[MAX_SAMPLES + 1], tx[MAX_SAMPLES + 1];
} sums_t;

static void prefix_sums(const scene_t *s, sums_t *m)
{
    m->c[0] = m->t[0] = m->tt[0] = 0;
    m->x[0] = m->tx[0] = v3(0, 0, 0);
    for (size_t i = 0; i < s->n; i++) {
        double t = s->t[i];
        m->c[i + 1] = m->c[i] + 1;
        m->t[i + 1] = m->t[i] + t;
        m->tt[i + 1] = m->tt[i] + t * t;
        m->x[i + 1] = v3_add(m->x[i], s->p[i]);
        m->tx[i + 1] = v3_add(m->tx[i], v3_scale(s->p[i], t));
    }
}

/* The least-squares line through samples [lo, hi) evaluated at time t. */
static void line_fit(const sums_t *m, size_t lo, size_t hi, double t, vec3_t *p, vec3_t *v)
{
    double c = m->c[hi] - m->c[lo], st = m->t[hi] - m->t[lo], stt = m->tt[hi] - m->tt[lo];
    vec3_t sx = v3_sub(m->x[hi], m->x[lo]), stx = v3_sub(m->tx[hi], m->tx[lo]);
    double den = c * stt - st * st;
    vec3_t mean = v3_scale(sx, 1 / c);
    *v = den > 1e-12 ? v3_scale(v3_sub(v3_scale(stx, c), v3_scale(sx, st)), 1 / den) : v3(0, 0, 0);
    *p = v3_add(mean, v3_scale(*v, t - st / c));
}

static void smooth(const scene_t *s, track_t *tr)
{
    static _Thread_local sums_t m;
    prefix_sums(s, &m);
    size_t lo = 0, hi = 0;
    for (size_t i = 0; i < s->n; i++) {
        while (s->t[lo] < s->t[i] - SMOOTH_S)
            lo++;
        while (hi < s->n && s->t[hi] <= s->t[i] + SMOOTH_S)
            hi++;
        /* at least three samples, so that a dropped frame leaves a line */
        size_t a = lo, b = hi;
        while (b - a < 3 && (a > 0 || b < s->n)) {
            if (a > 0)
                a--;
            if (b - a < 3 && b < s->n)
                b++;
        }
        line_fit(&m, a, b, s->t[i], &tr->p[i], &tr->v[i]);
        tr->speed[i] = v3_norm(tr->v[i]);
    }
}

void track_build(const scene_t *s, track_t *tr)
{
    tr->n = s->n;
    tr->t = s->t;
    tr->raw = s->p;
    smooth(s, tr);
    tr->peak = 0;
    for (size_t i = 1; i < s->n; i++)
        if (tr->speed[i] > tr->speed[tr->peak])
            tr->peak = i;
    /* the last movement: back from the peak to where the speed was low */
    size_t on = tr->peak;
    while (on > 0 && tr->speed[on - 1] >= ONSET_SPEED)
        on--;
    tr->onset = tr->speed[tr->peak] >= ONSET_SPEED ? on : 0;
}

/* ---- features ------------------------------------------------------------- */

const char *const feature_names[N_FEATURES] = {
    "log_duration",
    "path_length",
    "net_displacement",
    "straightness",
    "peak_speed",
    "mean_speed",
    "final_speed",
    "final_over_peak",
    "since_peak_s",
    "hold_s",
    "moving_s",
    "moved",
    "oscillation_hz",
    "principal_sd",
    "rise",
    "has_targets",
    "target_heading",
    "target_remaining",
    "target_progress",
    "nearest_target",
    "ee_heading",
    "ee_remaining",
    "ee_progress",
    "ee_approach_speed",
    "target_approach_speed",
    "speed_cv",
};

/* The largest principal axis of the positions (power iteration on the
 * 3 x 3 covariance) and its standard deviation. */
static vec3_t principal_axis(const track_t *tr, double *sd)
{
    vec3_t mean = v3(0, 0, 0);
    for (size_t i = 0; i < tr->n; i++)
        mean = v3_add(mean, tr->p[i]);
    mean = v3_scale(mean, 1.0 / (double)tr->n);
    double c[3][3] = {{0}};
    for (size_t i = 0; i < tr->n; i++) {
        vec3_t d = v3_sub(tr->p[i], mean);
        double e[3] = {d.x, d.y, d.z};
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++)
                c[a][b] += e[a] * e[b] / (double)tr->n;
    }
    vec3_t u = v3(0.577, 0.577, 0.577);
    double lambda = 0;
    for (int it = 0; it < 24; it++) {
        vec3_t w = v3(c[0][0] * u.x + c[0][1] * u.y + c[0][2] * u.z,
                      c[1][0] * u.x + c[1][1] * u.y + c[1][2] * u.z,
                      c[2][0] * u.x + c[2][1] * u.y + c[2][2] * u.z);
        lambda = v3_norm(w);
        if (lambda < 1e-12)
            break;
        u = v3_scale(w, 1 / lambda);
    }
    *sd = sqrt(lambda);
    return u;
}

/* Sign changes of the velocity along the axis, with a dead band, per
 * second over two: the oscillation's frequency. */
static double oscillation_hz(const track_t *tr, vec3_t axis)
{
    int sign = 0, changes = 0;
    for (size_t i = 0; i < tr->n; i++) {
        double u = v3_dot(tr->v[i], axis);
        int s = u > 0.05 ? 1 : u < -0.05 ? -1 : 0;
        if (s && sign && s != sign)
            changes++;
        if (s)
            sign = s;
    }
    double dur = tr->t[tr->n - 1] - tr->t[0];
    return dur > 0 ? changes / (2 * dur) : 0;
}

/* How the movement since the onset heads to a goal: cosine, metres left,
 * and the share of the way covered. */
static void heading_to(const track_t *tr, vec3_t goal, double *cosine, double *remaining,
                       double *progress)
{
    vec3_t from = tr->p[tr->onset], last = tr->p[tr->n - 1];
    vec3_t moved = v3_sub(last, from), way = v3_sub(goal, from);
    double m = v3_norm(moved), w = v3_norm(way);
    /* a hand that has not moved has no heading */
    double trust = m < 0.1 ? m / 0.1 : 1;
    *cosine = m > 1e-6 && w > 1e-6 ? trust * v3_dot(moved, way) / (m * w) : 0;
    *remaining = fmin(v3_norm(v3_sub(goal, last)), 2.0);
    double pr = w > 1e-6 ? v3_dot(moved, way) / (w * w) : 0;
    *progress = fmax(-1.0, fmin(2.0, pr));
}

static double approach_speed(const track_t *tr, vec3_t goal)
{
    vec3_t last = tr->p[tr->n - 1];
    return v3_dot(tr->v[tr->n - 1], v3_unit(v3_sub(goal, last)));
}

static double target_score(const target_fit_t *f)
{
    return 3 * f->heading - 2 * f->remaining;
}

static int fit_targets(const scene_t *s, const track_t *tr, target_fit_t *fits)
{
    int best = -1;
    for (size_t j = 0; j < s->n_targets; j++) {
        double progress;
        heading_to(tr, s->targets[j], &fits[j].heading, &fits[j].remaining, &progress);
        fits[j].score = target_score(&fits[j]);
        if (best < 0 || fits[j].score > fits[best].score)
            best = (int)j;
    }
    return best;
}

static void speed_stats(const track_t *tr, double *f)
{
    double sum = 0, sq = 0, path = 0;
    for (size_t i = 0; i < tr->n; i++) {
        sum += tr->speed[i];
        sq += tr->speed[i] * tr->speed[i];
        if (i)
            path += v3_norm(v3_sub(tr->p[i], tr->p[i - 1]));
    }
    double n = (double)tr->n, mean = sum / n;
    double dur = tr->t[tr->n - 1] - tr->t[0];
    double net = v3_norm(v3_sub(tr->p[tr->n - 1], tr->p[0]));
    double peak = tr->speed[tr->peak], last = tr->speed[tr->n - 1];
    size_t hold = tr->n - 1;
    while (hold > 0 && tr->speed[hold - 1] < ONSET_SPEED)
        hold--;
    f[0] = log(fmax(dur, 0.05));
    f[1] = path;
    f[2] = net;
    f[3] = net / (path + 0.01);
    f[4] = peak;
    f[5] = mean;
    f[6] = last;
    f[7] = last / (peak + 0.05);
    f[8] = -tr->t[tr->peak];
    f[9] = last < ONSET_SPEED ? -tr->t[hold] : 0;
    f[10] = -tr->t[tr->onset];
    f[11] = v3_norm(v3_sub(tr->p[tr->n - 1], tr->p[tr->onset]));
    f[25] = sqrt(fmax(sq / n - mean * mean, 0)) / (mean + 0.02);
}

void features_compute(const scene_t *s, const track_t *tr, double *f, int *best, target_fit_t *fits)
{
    static _Thread_local target_fit_t own[MAX_TARGETS];
    target_fit_t *tf = fits ? fits : own;
    speed_stats(tr, f);
    double sd;
    vec3_t axis = principal_axis(tr, &sd);
    f[12] = oscillation_hz(tr, axis);
    f[13] = sd;
    f[14] = tr->p[tr->n - 1].z - tr->p[tr->onset].z;
    *best = fit_targets(s, tr, tf);
    f[15] = s->n_targets > 0;
    f[16] = 0, f[17] = 2.0, f[18] = 0, f[19] = 2.0, f[24] = 0;
    if (*best >= 0) {
        vec3_t g = s->targets[*best];
        heading_to(tr, g, &f[16], &f[17], &f[18]);
        f[24] = approach_speed(tr, g);
        for (size_t j = 0; j < s->n_targets; j++)
            f[19] = fmin(f[19], tf[j].remaining);
    }
    heading_to(tr, s->ee, &f[20], &f[21], &f[22]);
    f[23] = approach_speed(tr, s->ee);
}
