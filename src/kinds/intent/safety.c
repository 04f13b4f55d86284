/* ISO/TS 15066 speed and separation monitoring, and the command rules
 * (docs/INTENT.md, "Safety" and "Commands"). The rules are checked in a
 * fixed order, the protective stop first, so that no intent can overrule
 * a violated separation. */
#include <math.h>

#include "internal.h"

double gs_intent_protective_distance(const gs_intent_sep_conf_t *c, double distance, double v_r)
{
    double v_h = distance <= c->near ? c->v_h_near : c->v_h_far;
    double s_s = v_r * c->t_s / 2; /* a constant deceleration to rest in T_s */
    return v_h * (c->t_r + c->t_s) + v_r * c->t_r + s_s + c->c + c->z_d + c->z_r;
}

static double dist3(const double a[3], const double b[3])
{
    double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    return sqrt(dx * dx + dy * dy + dz * dz);
}

void gs_intent_safety_eval(const gs_intent_sep_conf_t *c, double warn_margin, const double ee[3],
                           const double ee_vel[3], const double (*points)[3], size_t n_points,
                           const double (*spheres)[4], size_t n_spheres, gs_intent_safety_t *out)
{
    double d = INFINITY;
    for (size_t i = 0; i < n_points; i++)
        d = fmin(d, dist3(ee, points[i]));
    for (size_t i = 0; i < n_spheres; i++)
        d = fmin(d, fmax(0, dist3(ee, spheres[i]) - spheres[i][3]));
    double v_r = sqrt(ee_vel[0] * ee_vel[0] + ee_vel[1] * ee_vel[1] + ee_vel[2] * ee_vel[2]);
    double sp = gs_intent_protective_distance(c, d, v_r);
    /* h = d - S_p(d) only grows with d (S_p steps down at `near`), so the
     * nearest point is the binding one */
    out->min_distance = d;
    out->protective_distance = sp;
    out->h = d - sp;
    out->risk = fmin(1, fmax(0, 1 - out->h / warn_margin));
    out->emergency_stop = out->h < 0;
}

static int top_intent(const double *prob)
{
    int best = 0;
    for (int i = 1; i < N_INTENTS; i++)
        if (prob[i] > prob[best])
            best = i;
    return best;
}

static void go(decision_t *out, gs_avro_robot_command_t cmd, vec3_t goal)
{
    *out = (decision_t){.command = cmd, .has_goal = 1, .goal = goal};
}

void decide(const rules_conf_t *c, const decision_in_t *in, decision_t *out)
{
    const gs_intent_safety_t *sf = in->safety;
    vec3_t ee = in->s->ee;
    int top = top_intent(in->prob);
    *out = (decision_t){.command = GS_AVRO_ROBOT_COMMAND_CONTINUE};
    double now = v3_norm(v3_sub(in->hand, ee)), then = v3_norm(v3_sub(in->forecast, ee));
    if (sf->emergency_stop) {
        out->command = GS_AVRO_ROBOT_COMMAND_STOP;
    } else if (sf->risk >= c->retreat_risk && then < now && top != GS_AVRO_INTENT_HANDOVER) {
        vec3_t away = v3_unit(v3_sub(ee, in->forecast));
        go(out, GS_AVRO_ROBOT_COMMAND_RETREAT, v3_add(ee, v3_scale(away, c->retreat_dist)));
    } else if (top == GS_AVRO_INTENT_HANDOVER && in->prob[top] >= c->handover_prob) {
        vec3_t back = v3_unit(v3_sub(ee, in->forecast));
        go(out, GS_AVRO_ROBOT_COMMAND_HANDOVER_POSE,
           v3_add(in->forecast, v3_scale(back, c->handover_offset)));
    } else if ((top == GS_AVRO_INTENT_REACH || top == GS_AVRO_INTENT_GRAB) &&
               (then < c->yield_radius ||
                (in->target >= 0 &&
                 v3_norm(v3_sub(in->s->targets[in->target], ee)) < c->yield_radius))) {
        go(out, GS_AVRO_ROBOT_COMMAND_YIELD, ee);
    } else if (top == GS_AVRO_INTENT_POINT && in->prob[top] >= c->point_prob && in->target >= 0) {
        go(out, GS_AVRO_ROBOT_COMMAND_APPROACH,
           v3_add(in->s->targets[in->target], v3(0, 0, c->approach_height)));
    }
}
