/* The intent kind's parts (private to src/kinds/intent/; docs/INTENT.md):
 *
 *   track.c     the hand's samples smoothed into positions, velocities and
 *               speeds, and the kinematic features of the window;
 *   classify.c  the intent model: a multinomial logistic regression over
 *               the standardised features, in the model file format;
 *   forecast.c  the hand at +horizon per intent (minimum-jerk completion,
 *               oscillation centre, damped constant velocity), mixed by the
 *               intents' probabilities;
 *   safety.c    ISO/TS 15066 separation and the command rules;
 *   mpc.c       the constrained MPC (mpc.h);
 *   gen.c       the seeded trajectory generator (training, tests, load);
 *   train.c     `govstream train intent`: data, fit, held-out report. */
#ifndef GS_KINDS_INTENT_INTERNAL_H
#define GS_KINDS_INTENT_INTERNAL_H

#include <stdio.h>

#include "govstream/intent.h"
#include "govstream/model.h"

#define N_INTENTS   GS_AVRO_INTENT__COUNT
#define MAX_SAMPLES 256
#define MAX_TARGETS 32

typedef struct vec3 {
    double x, y, z;
} vec3_t;

static inline vec3_t v3(double x, double y, double z)
{
    return (vec3_t){x, y, z};
}
static inline vec3_t v3_add(vec3_t a, vec3_t b)
{
    return v3(a.x + b.x, a.y + b.y, a.z + b.z);
}
static inline vec3_t v3_sub(vec3_t a, vec3_t b)
{
    return v3(a.x - b.x, a.y - b.y, a.z - b.z);
}
static inline vec3_t v3_scale(vec3_t a, double s)
{
    return v3(a.x * s, a.y * s, a.z * s);
}
static inline double v3_dot(vec3_t a, vec3_t b)
{
    return a.x * b.x + a.y * b.y + a.z * b.z;
}
double v3_norm(vec3_t a);
/* a / |a|, or zero when |a| is below 1e-9. */
vec3_t v3_unit(vec3_t a);

/* ---- the scene (a request, in plain arrays) ------------------------------ */

typedef struct scene {
    size_t n;
    double t[MAX_SAMPLES]; /* seconds, the last sample at 0 */
    vec3_t p[MAX_SAMPLES];
    vec3_t ee, ee_vel; /* the end effector */
    size_t n_targets;
    vec3_t targets[MAX_TARGETS];
} scene_t;

/* The request's hand, robot and targets (validated before). */
void scene_from_request(const gs_avro_intent_request_t *r, scene_t *s);

/* ---- track.c ------------------------------------------------------------- */

/* The smoothed track: a local linear least-squares fit of position against
 * time over +-SMOOTH_S seconds around each sample (O(n) by running sums), so that
 * Kinect-class noise (1-3 cm at 30 Hz) does not become metres per second. */
#define SMOOTH_S 0.15

typedef struct track {
    size_t n;
    const double *t;
    const vec3_t *raw;     /* the samples as measured */
    vec3_t p[MAX_SAMPLES]; /* smoothed positions */
    vec3_t v[MAX_SAMPLES]; /* velocities */
    double speed[MAX_SAMPLES];
    size_t onset; /* first sample of the last movement (speed above ONSET_SPEED) */
    size_t peak;  /* the sample of the highest speed */
} track_t;

#define ONSET_SPEED 0.12 /* m/s: slower is holding or drifting */

void track_build(const scene_t *s, track_t *tr);

/* The features the classifier reads, in this order (docs/INTENT.md). */
#define N_FEATURES 26
extern const char *const feature_names[N_FEATURES];

/* What the window says about each target: how well the movement heads to
 * it and how far the hand still is. */
typedef struct target_fit {
    double heading;   /* cosine between the movement and the target, from the onset */
    double remaining; /* metres from the hand's last position */
    double score;     /* the target's likelihood score (docs/INTENT.md) */
} target_fit_t;

/* Features of the scene into f; the best target's index into *best (-1:
 * no targets) and every target's fit into fits (n_targets of them; may be
 * NULL). */
void features_compute(const scene_t *s, const track_t *tr, double *f, int *best,
                      target_fit_t *fits);

/* ---- classify.c ---------------------------------------------------------- */

#define GS_MODEL_KIND_INTENT 3

typedef struct intent_model intent_model_t;

/* What a model is made of, for training and tests: weights K x (F + 1),
 * bias last; features standardised by mean and scale first. */
typedef struct intent_params {
    double mean[N_FEATURES], scale[N_FEATURES];
    double w[N_INTENTS][N_FEATURES + 1];
    double temperature; /* logits / T: calibrated on validation data */
    double idle_tau;    /* forecast_in_t's, chosen on validation data */
} intent_params_t;

gs_err_t intent_model_load(const char *path, intent_model_t **out, char *errstr,
                           size_t errstr_size);
void intent_model_destroy(intent_model_t *m);
gs_avro_model_ref_t intent_model_ref(const intent_model_t *m);
const intent_params_t *intent_model_params(const intent_model_t *m);

/* Probabilities of the six intents from features. */
void intent_predict(const intent_params_t *p, const double *f, double *prob);

/* Writes a model file (meta: name, version, the feature names and the
 * training report). */
gs_err_t intent_model_write(const char *path, const intent_params_t *p, const char *name,
                            const char *version, const char *report_json, char *errstr,
                            size_t errstr_size);

/* ---- forecast.c ---------------------------------------------------------- */

/* Normalised minimum-jerk progress 10 s^3 - 15 s^4 + 6 s^5, s clamped to
 * [0, 1] (Flash & Hogan 1985). */
double minjerk(double s);

/* A fitted minimum-jerk movement along the track's direction. */
typedef struct mj_fit {
    double t0, dur;   /* onset (s, the last sample at 0) and duration */
    double s0, dist;  /* metres along dir: the progress is s0 + dist * minjerk */
    vec3_t from, dir; /* where it started, unit direction */
    double rms;       /* residual, metres */
} mj_fit_t;

/* Fits a minimum-jerk profile to the track since its onset, toward goal
 * when goal is not NULL (the distance is then known) or along the movement
 * (the distance fitted). */
void minjerk_fit(const track_t *tr, const vec3_t *goal, mj_fit_t *out);

/* The hand at +h seconds for one intent. */
typedef struct forecast_in {
    const scene_t *s;
    const track_t *tr;
    int target; /* the most likely target, -1 none */
    double h;
    /* s: how long an idle hand keeps its velocity (the model's, chosen on
     * validation data); 0 holds it where it is */
    double idle_tau;
} forecast_in_t;

vec3_t forecast_intent(const forecast_in_t *in, int intent);

/* The mixture: every intent's forecast weighted by its probability. */
vec3_t forecast_mix(const forecast_in_t *in, const double *prob);

/* The mixture along the way: at step, 2 step, ... before in->h, and at in->h
 * last (the same as forecast_mix); at most cap points, returns how many. */
size_t forecast_path(const forecast_in_t *in, const double *prob, double step, vec3_t *out,
                     size_t cap);

/* The forecast path's spacing and its most points (a 2 s horizon). */
#define PATH_STEP 0.1
#define PATH_MAX  20

/* ---- safety.c ------------------------------------------------------------ */

typedef struct rules_conf {
    double retreat_risk;    /* RETREAT above this risk when the hand approaches */
    double retreat_dist;    /* metres the robot backs off */
    double handover_prob;   /* HANDOVER_POSE at this HANDOVER probability */
    double handover_offset; /* metres short of the forecast hand */
    double yield_radius;    /* YIELD when a reach ends this close to the end effector */
    double point_prob;      /* APPROACH at this POINT probability */
    double approach_height; /* metres above the pointed target */
} rules_conf_t;

typedef struct decision_in {
    const scene_t *s;
    const double *prob; /* six */
    int target;         /* -1: none */
    vec3_t hand, forecast;
    const gs_intent_safety_t *safety;
} decision_in_t;

typedef struct decision {
    gs_avro_robot_command_t command;
    int has_goal;
    vec3_t goal;
} decision_t;

void decide(const rules_conf_t *c, const decision_in_t *in, decision_t *out);

/* ---- gen.c --------------------------------------------------------------- */

/* A subject: how one person moves (drawn per subject id). */
typedef struct subject {
    double speed;       /* movement duration multiplier */
    double motor_noise; /* signal-dependent noise coefficient (Harris & Wolpert 1998) */
    double endpoint_sd; /* endpoint scatter, metres */
    double hold;        /* hold-time multiplier */
    double wave_hz;     /* preferred waving frequency */
    double side;        /* lateral offset of the resting hand, metres */
} subject_t;

typedef enum sensor_class { SENSOR_KINECT = 0, SENSOR_MOCAP = 1 } sensor_class_t;

typedef struct gen_conf {
    uint64_t seed;         /* the scene's draws */
    uint64_t noise_seed;   /* the sensor's */
    uint64_t subject_seed; /* the subject population's */
    long subject;          /* which subject */
    int intent;            /* the label; -1: drawn */
    double fraction;       /* of the movement observed, (0, 1] */
} gen_conf_t;

typedef struct gen_out {
    scene_t scene; /* the observed window */
    int intent;
    int target;      /* the target the movement goes to, -1 none */
    double move_end; /* s after the last sample when the movement ends (< 0: ended) */
    /* The true hand at +h for the forecast checks: positions every 10 ms
     * after the last sample, up to 2 s (noise-free). */
    vec3_t future[201];
    int sensor;
} gen_out_t;

void gen_subject(uint64_t subject_seed, long subject, subject_t *out);
void gen_scene(const gen_conf_t *c, gen_out_t *out);

/* Writes a scene into a request (arrays from the arena). */
void gen_to_request(const gen_out_t *g, gs_avro_intent_request_t *r, gs_arena_t *a);

/* ---- train.c ------------------------------------------------------------- */

int intent_train_cmd(int argc, char **argv);
/* `govstream intent sample ...` (sample_cmd.c). */
int intent_cmd(int argc, char **argv);

extern const gs_kind_load_t gs_intent_load;

#endif
