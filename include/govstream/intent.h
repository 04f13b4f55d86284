/* govstream - the intent kind (issue 13, SPEC 1.3; src/kinds/intent/):
 * human-intent estimate, hand forecast, constrained MPC and ISO/TS 15066
 * speed and separation monitoring for a collaborative robot cell.
 * docs/INTENT.md gives the model, the rules and the defaults. */
#ifndef GOVSTREAM_INTENT_H
#define GOVSTREAM_INTENT_H

#include "govstream/common.h"
#include "govstream/kind.h"
#include "govstream/schemas.h"

/* SPEC 1.3 limits. */
#define GS_INTENT_MIN_SAMPLES 5
#define GS_INTENT_MAX_SAMPLES 256
#define GS_INTENT_MIN_SPAN_MS 200
#define GS_INTENT_MAX_SPAN_MS 3000
#define GS_INTENT_MAX_COORD   10.0
#define GS_INTENT_MAX_TARGETS 32
#define GS_INTENT_MAX_RADIUS  5.0

/* GS_ERR_VALIDATION naming the field (with its index) and the limit. */
gs_err_t gs_intent_request_validate(const gs_avro_intent_request_t *req, char *errstr,
                                    size_t errstr_size);

/* ISO/TS 15066 speed and separation monitoring (clause 5.5.4):
 *   S_p = v_h (T_r + T_s) + v_r T_r + S_s + C + Z_d + Z_r
 * with v_h the human's speed (ISO 13855: 2.0 m/s within 0.5 m, else 1.6 m/s),
 * v_r the robot's speed, S_s = v_r T_s / 2 its stopping distance at a
 * constant deceleration, C the intrusion distance and Z_d, Z_r the
 * position uncertainties of the human's sensor and of the robot. */
typedef struct gs_intent_sep_conf {
    double t_r, t_s;                /* reaction and stopping time, s */
    double c, z_d, z_r;             /* metres */
    double v_h_near, v_h_far, near; /* m/s, m/s, m */
} gs_intent_sep_conf_t;

typedef struct gs_intent_safety {
    double min_distance, protective_distance, h, risk;
    int emergency_stop;
} gs_intent_safety_t;

/* S_p for a human at `distance` metres from a robot moving at v_r m/s. */
double gs_intent_protective_distance(const gs_intent_sep_conf_t *c, double distance, double v_r);

/* The barrier over the points a human occupies (the hand now, the hand
 * forecast along the horizon) and the obstacles (spheres: other body parts,
 * treated alike):
 * min_distance to the nearest surface, S_p at that distance, h = min - S_p,
 * risk = clamp(1 - h / warn_margin, 0, 1), emergency_stop = h < 0. */
void gs_intent_safety_eval(const gs_intent_sep_conf_t *c, double warn_margin, const double ee[3],
                           const double ee_vel[3], const double (*points)[3], size_t n_points,
                           const double (*spheres)[4], size_t n_spheres, gs_intent_safety_t *out);

/* The kind (kind.c), for src/kinds/kinds.c. */
extern const gs_kind_ops_t gs_kind_intent;

#endif
