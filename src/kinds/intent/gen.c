/* The seeded trajectory generator (docs/DATA.md, "Intent trajectories"):
 * no labelled 3-D hand-trajectory set ships in a package registry, so
 * training, the tests and govstream-load draw scenes from this model of a
 * person at a table across from the robot. Three seeds keep what a user
 * meets next apart: the scene's draws, the sensor's noise and the subject
 * population (each subject moves in its own way). */
#include <math.h>
#include <string.h>
#include <time.h>

#include "govstream/kind_load.h"
#include "internal.h"

#define GRID_DT  0.005
#define GRID_MAX 1600 /* 8 s */

static double uni(gs_rng_t *r, double lo, double hi)
{
    return lo + (hi - lo) * gs_rng_unit(r);
}

static double gauss(gs_rng_t *r)
{
    double u = gs_rng_unit(r), v = gs_rng_unit(r);
    return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

static vec3_t gauss3(gs_rng_t *r, double sd)
{
    return v3(sd * gauss(r), sd * gauss(r), sd * gauss(r));
}

static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t z = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    return z ^ (z >> 31);
}

void gen_subject(uint64_t subject_seed, long subject, subject_t *s)
{
    gs_rng_t r;
    gs_rng_seed(&r, mix(subject_seed, (uint64_t)subject));
    *s = (subject_t){
        .speed = uni(&r, 0.8, 1.25),
        .motor_noise = uni(&r, 0.02, 0.08),
        .endpoint_sd = uni(&r, 0.005, 0.02),
        .hold = uni(&r, 0.7, 1.4),
        .wave_hz = uni(&r, 1.5, 3.0),
        .side = uni(&r, -0.15, 0.15),
    };
}

/* ---- the workspace ---------------------------------------------------------- */

typedef struct world {
    vec3_t rest, ee, ee_vel;
    size_t n_targets;
    vec3_t targets[8];
} world_t;

/* A point 0.2-0.6 m from the resting hand, toward the robot's side of the
 * table (within 70 degrees of -x), at table height. */
static vec3_t table_point(gs_rng_t *r, vec3_t rest)
{
    double ang = uni(r, -1.22, 1.22), d = uni(r, 0.2, 0.6);
    return v3(rest.x - d * cos(ang), rest.y + d * sin(ang), uni(r, 0.0, 0.08));
}

static int far_from_all(vec3_t p, const world_t *w, double min)
{
    for (size_t j = 0; j < w->n_targets; j++)
        if (v3_norm(v3_sub(p, w->targets[j])) < min)
            return 0;
    return 1;
}

static void draw_world(gs_rng_t *r, const subject_t *sub, int need_target, world_t *w)
{
    w->ee = v3(uni(r, -0.3, 0.3), uni(r, -0.4, 0.4), uni(r, 0.15, 0.45));
    double sp = uni(r, 0, 0.5);
    w->ee_vel = v3_scale(v3_unit(gauss3(r, 1)), sp);
    w->rest = v3(uni(r, 0.95, 1.15), sub->side + uni(r, -0.2, 0.2), uni(r, 0.05, 0.25));
    size_t n = gs_rng_unit(r) < 0.1 && !need_target ? 0 : 1 + gs_rng_next(r) % 6;
    w->n_targets = 0;
    for (int tries = 0; w->n_targets < n && tries < 60; tries++) {
        vec3_t p = table_point(r, w->rest);
        if (far_from_all(p, w, 0.08))
            w->targets[w->n_targets++] = p;
    }
}

/* ---- movements -------------------------------------------------------------- */

/* One person's movement as a function of time on a 5 ms grid. */
typedef struct path {
    vec3_t p[GRID_MAX];
    size_t n;
    double onset, move_end, motion_end; /* s */
} path_t;

static double reach_duration(gs_rng_t *r, const subject_t *sub, double dist)
{
    double t = 0.5 + 0.7 * fmin(fmax(dist - 0.2, 0), 0.4) / 0.4;
    return t * sub->speed * uni(r, 0.9, 1.1);
}

/* A minimum-jerk reach from `from` to `to` starting at onset, lifted over
 * the table (a vertical arc), with signal-dependent motor noise: velocity
 * perturbations in proportion to the speed, low-passed (Harris & Wolpert
 * 1998), which also scatters the end point. */
static void reach(path_t *pa, gs_rng_t *r, const subject_t *sub, vec3_t from, vec3_t to,
                  double onset, double dur, double lift)
{
    vec3_t drift = v3(0, 0, 0), noise = v3(0, 0, 0);
    double dist = v3_norm(v3_sub(to, from));
    for (size_t i = 0; i < pa->n; i++) {
        double t = (double)i * GRID_DT;
        double s = (t - onset) / dur;
        if (s < 0) {
            pa->p[i] = from;
            continue;
        }
        double sc = fmin(s, 1.0);
        double speed = s < 1 ? dist / dur * 30 * sc * sc * (1 - sc) * (1 - sc) : 0;
        noise = v3_add(v3_scale(noise, 0.85), gauss3(r, 0.15));
        drift = v3_add(drift, v3_scale(noise, sub->motor_noise * speed * GRID_DT));
        vec3_t p = v3_add(from, v3_scale(v3_sub(to, from), minjerk(sc)));
        p.z += lift * sin(M_PI * sc);
        pa->p[i] = v3_add(p, drift);
    }
}

/* Small physiological tremor and drift while holding or idling: an
 * Ornstein-Uhlenbeck process around where the hand is. */
static void settle(path_t *pa, gs_rng_t *r, double from_t, double sd)
{
    vec3_t off = v3(0, 0, 0);
    double a = exp(-GRID_DT / 0.8);
    for (size_t i = 0; i < pa->n; i++) {
        if ((double)i * GRID_DT < from_t)
            continue;
        off = v3_add(v3_scale(off, a), gauss3(r, sd * sqrt(1 - a * a)));
        pa->p[i] = v3_add(pa->p[i], off);
    }
}

static void wave(path_t *pa, gs_rng_t *r, const subject_t *sub, vec3_t rest, double onset)
{
    double raise = uni(r, 0.2, 0.4), amp = uni(r, 0.05, 0.15);
    double hz = sub->wave_hz * uni(r, 0.85, 1.15), up = 0.4 * sub->speed;
    vec3_t top = v3(rest.x - uni(r, 0.0, 0.15), rest.y, rest.z + raise);
    double phase0 = onset + up;
    for (size_t i = 0; i < pa->n; i++) {
        double t = (double)i * GRID_DT;
        vec3_t p = v3_add(rest, v3_scale(v3_sub(top, rest), minjerk((t - onset) / up)));
        if (t > phase0) {
            double ramp = fmin(1.0, (t - phase0) / 0.25);
            p.y += ramp * amp * sin(2 * M_PI * hz * (t - phase0));
            p.z += ramp * 0.2 * amp * sin(4 * M_PI * hz * (t - phase0));
        }
        pa->p[i] = p;
    }
    pa->move_end = onset + up;
    pa->motion_end = onset + up + uni(r, 1.5, 3.0);
}

/* The movement of one intent; *target gets the target it goes to. */
static void movement(path_t *pa, gs_rng_t *r, const subject_t *sub, const world_t *w, int intent,
                     int *target)
{
    double onset = uni(r, 0.2, 0.6), hold = 0;
    vec3_t to;
    *target = -1;
    pa->onset = onset;
    pa->n = GRID_MAX;
    switch (intent) {
    case GS_AVRO_INTENT_REACH:
        to = table_point(r, w->rest);
        for (int i = 0; i < 20 && !far_from_all(to, w, 0.15); i++)
            to = table_point(r, w->rest);
        hold = uni(r, 0.1, 0.4);
        break;
    case GS_AVRO_INTENT_GRAB:
        *target = (int)(gs_rng_next(r) % w->n_targets);
        to = v3_add(w->targets[*target], v3(0, 0, 0.02));
        hold = uni(r, 0.3, 0.8) * sub->hold;
        break;
    case GS_AVRO_INTENT_HANDOVER:
        to = v3_add(w->ee, v3_scale(v3_unit(v3_sub(w->rest, w->ee)), uni(r, 0.05, 0.15)));
        hold = uni(r, 0.5, 1.0) * sub->hold;
        break;
    case GS_AVRO_INTENT_POINT: {
        *target = (int)(gs_rng_next(r) % w->n_targets);
        vec3_t dir = v3_unit(v3_sub(w->targets[*target], w->rest));
        dir = v3_unit(v3_add(dir, v3(0, 0, uni(r, 0.3, 0.8))));
        to = v3_add(w->rest, v3_scale(dir, uni(r, 0.15, 0.35)));
        hold = uni(r, 0.8, 1.2) * sub->hold;
        break;
    }
    case GS_AVRO_INTENT_WAVE:
        wave(pa, r, sub, w->rest, onset);
        settle(pa, r, 0, 0.004);
        return;
    default: /* IDLE */
        for (size_t i = 0; i < pa->n; i++)
            pa->p[i] = w->rest;
        settle(pa, r, 0, 0.02);
        pa->move_end = onset;
        pa->motion_end = onset + uni(r, 1.0, 3.0);
        return;
    }
    to = v3_add(to, gauss3(r, sub->endpoint_sd));
    double dist = v3_norm(v3_sub(to, w->rest)), dur = reach_duration(r, sub, dist);
    double lift = intent == GS_AVRO_INTENT_POINT ? 0 : uni(r, 0.02, 0.08);
    reach(pa, r, sub, w->rest, to, onset, dur, lift);
    settle(pa, r, onset + dur, 0.003);
    pa->move_end = onset + dur;
    pa->motion_end = onset + dur + hold;
}

/* ---- the sensor ------------------------------------------------------------- */

static vec3_t path_at(const path_t *pa, double t)
{
    double x = t / GRID_DT;
    if (x <= 0)
        return pa->p[0];
    size_t i = (size_t)x;
    if (i + 1 >= pa->n)
        return pa->p[pa->n - 1];
    double f = x - (double)i;
    return v3_add(v3_scale(pa->p[i], 1 - f), v3_scale(pa->p[i + 1], f));
}

/* Samples of the window [end - span, end]: Kinect-class (30 Hz, 1-3 cm,
 * 5% dropped) or mocap-class (60 or 120 Hz, 2-5 mm, 1% dropped), with
 * timestamp jitter; the last sample is always there. */
static void observe(const path_t *pa, gs_rng_t *nr, double end, scene_t *s, int *sensor)
{
    int kinect = gs_rng_unit(nr) < 0.7;
    double rate = kinect ? 30 : gs_rng_unit(nr) < 0.5 ? 60 : 120;
    double sd = kinect ? uni(nr, 0.01, 0.03) : uni(nr, 0.002, 0.005);
    double drop = kinect ? 0.05 : 0.01, jitter = kinect ? 0.004 : 0.001;
    /* inside SPEC 1.3's 3 s span, jitter and rounding included */
    double start = fmax(0, end - 2.99);
    size_t k_max = (size_t)((end - start) * rate);
    long last_ms = -1;
    long end_ms = lround(end * 1000);
    size_t n = 0;
    static _Thread_local double t_all[512];
    static _Thread_local vec3_t p_all[512];
    for (size_t k = 0; k <= k_max && n < 512; k++) {
        double t = end - (double)(k_max - k) / rate;
        if (k < k_max)
            t += uni(nr, -jitter, jitter);
        long ms = k == k_max ? end_ms : lround(t * 1000);
        if ((k < k_max && (gs_rng_unit(nr) < drop || ms >= end_ms)) || ms <= last_ms)
            continue;
        last_ms = ms;
        t_all[n] = (double)(ms - end_ms) / 1000.0;
        p_all[n++] = v3_add(path_at(pa, (double)ms / 1000.0), gauss3(nr, sd));
    }
    size_t from = n > MAX_SAMPLES ? n - MAX_SAMPLES : 0;
    s->n = n - from;
    memcpy(s->t, t_all + from, s->n * sizeof(double));
    memcpy(s->p, p_all + from, s->n * sizeof(vec3_t));
    *sensor = kinect ? SENSOR_KINECT : SENSOR_MOCAP;
}

void gen_scene(const gen_conf_t *c, gen_out_t *out)
{
    static _Thread_local path_t pa;
    subject_t sub;
    gen_subject(c->subject_seed, c->subject, &sub);
    gs_rng_t r, nr;
    gs_rng_seed(&r, mix(c->seed, 1));
    gs_rng_seed(&nr, mix(c->noise_seed, 2));
    int intent = c->intent >= 0 ? c->intent : (int)(gs_rng_next(&r) % N_INTENTS);
    world_t w;
    draw_world(&r, &sub, intent == GS_AVRO_INTENT_GRAB || intent == GS_AVRO_INTENT_POINT, &w);
    movement(&pa, &r, &sub, &w, intent, &out->target);
    double end = pa.onset + c->fraction * (pa.motion_end - pa.onset);
    end = fmax(end, 0.25);
    observe(&pa, &nr, end, &out->scene, &out->sensor);
    out->intent = intent;
    out->move_end = pa.move_end - end;
    for (int k = 0; k <= 200; k++)
        out->future[k] = path_at(&pa, end + k * 0.01);
    scene_t *s = &out->scene;
    s->ee = w.ee;
    s->ee_vel = w.ee_vel;
    s->n_targets = w.n_targets;
    memcpy(s->targets, w.targets, w.n_targets * sizeof(vec3_t));
}

/* ---- as a request ------------------------------------------------------------- */

static gs_avro_vec3_t avro_vec(vec3_t v)
{
    return (gs_avro_vec3_t){v.x, v.y, v.z};
}

void gen_to_request(const gen_out_t *g, gs_avro_intent_request_t *r, gs_arena_t *a)
{
    const scene_t *s = &g->scene;
    int64_t now = (int64_t)time(NULL) * 1000;
    r->hand = gs_arena_alloc(a, s->n * sizeof(*r->hand));
    r->targets = gs_arena_alloc(a, (s->n_targets + 1) * sizeof(*r->targets));
    if (!r->hand || !r->targets) {
        r->n_hand = r->n_targets = 0;
        return;
    }
    r->n_hand = s->n;
    for (size_t i = 0; i < s->n; i++)
        r->hand[i] = (gs_avro_hand_sample_t){
            .t_ms = now + lround(s->t[i] * 1000), .x = s->p[i].x, .y = s->p[i].y, .z = s->p[i].z};
    r->n_targets = s->n_targets;
    for (size_t j = 0; j < s->n_targets; j++)
        r->targets[j] = (gs_avro_target_t){.id = gs_kind_printf(a, "object-%zu", j),
                                           .position = avro_vec(s->targets[j])};
    r->robot =
        (gs_avro_robot_state_t){.position = avro_vec(s->ee), .velocity = avro_vec(s->ee_vel)};
    r->created_at_ms = now;
}
