/* SPEC 1.3 request limits (they are also in the schema's docs). Every
 * violation names the field, with the index of the element. */
#include <math.h>
#include <stdio.h>

#include "govstream/intent.h"

/* A coordinate's complaint; the caller names it only when it is bad, since
 * formatting names for every sample would cost more than the decision. */
static gs_err_t bad_coord(const char *field, char axis, double v, char *errstr, size_t n)
{
    if (isnan(v))
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "%s.%c: NaN", field, axis);
    return gs_fail(errstr, n, GS_ERR_VALIDATION, "%s.%c: %g, must be finite with |value| <= %g",
                   field, axis, v, GS_INTENT_MAX_COORD);
}

static int coord_ok(double v)
{
    return fabs(v) <= GS_INTENT_MAX_COORD; /* false for NaN and the infinities */
}

static gs_err_t check_xyz(const char *field, double x, double y, double z, char *errstr, size_t n)
{
    if (coord_ok(x) && coord_ok(y) && coord_ok(z))
        return GS_OK;
    const double c[3] = {x, y, z};
    int a = !coord_ok(x) ? 0 : !coord_ok(y) ? 1 : 2;
    return bad_coord(field, "xyz"[a], c[a], errstr, n);
}

static gs_err_t check_vec3(const char *field, const gs_avro_vec3_t *v, char *errstr, size_t n)
{
    return check_xyz(field, v->x, v->y, v->z, errstr, n);
}

static gs_err_t check_hand(const gs_avro_intent_request_t *r, char *errstr, size_t n)
{
    if (r->n_hand < GS_INTENT_MIN_SAMPLES || r->n_hand > GS_INTENT_MAX_SAMPLES)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "hand: %zu samples, must be %d..%d", r->n_hand,
                       GS_INTENT_MIN_SAMPLES, GS_INTENT_MAX_SAMPLES);
    for (size_t i = 0; i < r->n_hand; i++) {
        const gs_avro_hand_sample_t *s = &r->hand[i];
        if (i && s->t_ms <= r->hand[i - 1].t_ms)
            return gs_fail(errstr, n, GS_ERR_VALIDATION,
                           "hand[%zu].t_ms: %lld, not after the previous sample's %lld", i,
                           (long long)s->t_ms, (long long)r->hand[i - 1].t_ms);
        if (!coord_ok(s->x) || !coord_ok(s->y) || !coord_ok(s->z)) {
            char name[64];
            snprintf(name, sizeof(name), "hand[%zu]", i);
            return check_xyz(name, s->x, s->y, s->z, errstr, n);
        }
    }
    int64_t span = r->hand[r->n_hand - 1].t_ms - r->hand[0].t_ms;
    if (span < GS_INTENT_MIN_SPAN_MS || span > GS_INTENT_MAX_SPAN_MS)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "hand: spans %lld ms, must be %d..%d",
                       (long long)span, GS_INTENT_MIN_SPAN_MS, GS_INTENT_MAX_SPAN_MS);
    return GS_OK;
}

static gs_err_t check_targets(const gs_avro_intent_request_t *r, char *errstr, size_t n)
{
    if (r->n_targets > GS_INTENT_MAX_TARGETS)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "targets: %zu, at most %d", r->n_targets,
                       GS_INTENT_MAX_TARGETS);
    for (size_t i = 0; i < r->n_targets; i++) {
        char name[64];
        const gs_avro_target_t *t = &r->targets[i];
        if (gs_kind_check_id("", t->id, errstr, n)) {
            snprintf(name, sizeof(name), "targets[%zu].id", i);
            return gs_kind_check_id(name, t->id, errstr, n);
        }
        if (check_vec3("", &t->position, errstr, n)) {
            snprintf(name, sizeof(name), "targets[%zu].position", i);
            return check_vec3(name, &t->position, errstr, n);
        }
    }
    return GS_OK;
}

static gs_err_t check_obstacles(const gs_avro_intent_request_t *r, char *errstr, size_t n)
{
    if (r->n_obstacles > GS_INTENT_MAX_TARGETS)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "obstacles: %zu, at most %d", r->n_obstacles,
                       GS_INTENT_MAX_TARGETS);
    for (size_t i = 0; i < r->n_obstacles; i++) {
        if (check_vec3("", &r->obstacles[i].position, errstr, n)) {
            char name[64];
            snprintf(name, sizeof(name), "obstacles[%zu].position", i);
            return check_vec3(name, &r->obstacles[i].position, errstr, n);
        }
        double rad = r->obstacles[i].radius;
        if (!(rad >= 0 && rad <= GS_INTENT_MAX_RADIUS))
            return gs_fail(errstr, n, GS_ERR_VALIDATION,
                           "obstacles[%zu].radius: %g, must be 0..%g m", i, rad,
                           GS_INTENT_MAX_RADIUS);
    }
    return GS_OK;
}

gs_err_t gs_intent_request_validate(const gs_avro_intent_request_t *r, char *errstr, size_t n)
{
    gs_err_t err;
    if ((err = gs_kind_check_id("request_id", r->request_id, errstr, n)) ||
        (err = gs_kind_check_id("robot_id", r->robot_id, errstr, n)) ||
        (err = gs_kind_check_id("tenant", r->tenant, errstr, n)) ||
        (err = check_hand(r, errstr, n)) ||
        (err = check_vec3("robot.position", &r->robot.position, errstr, n)) ||
        (err = check_vec3("robot.velocity", &r->robot.velocity, errstr, n)) ||
        (err = check_targets(r, errstr, n)) || (err = check_obstacles(r, errstr, n)))
        return err;
    if (r->horizon_ms < 100 || r->horizon_ms > 2000)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "horizon_ms: %d, must be 100..2000",
                       (int)r->horizon_ms);
    if (r->created_at_ms < 0)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "created_at_ms: negative");
    return GS_OK;
}
