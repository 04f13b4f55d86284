/* Unit tests of the intent kind's constrained MPC (src/kinds/intent/mpc.c):
 * the Riccati solution (against scipy's solve_discrete_are), its residual,
 * the sign of K and the closed loop's stability; every QP against DAQP on
 * the sparse formulation (tests/data/intent_qp_cases.json, made by
 * ops/data/intent_qp_oracle.py): the first-step command within 1e-6, the
 * plan's cost, and no bound violated; and what LQR plus clipping would
 * have done instead. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../src/kinds/intent/mpc.h"

static json_t *cases;

static int load_cases(void **state)
{
    (void)state;
    char path[4096];
    const char *src = getenv("GS_SOURCE_DIR");
    snprintf(path, sizeof(path), "%s/tests/data/intent_qp_cases.json", src ? src : ".");
    json_error_t je;
    cases = json_load_file(path, 0, &je);
    if (!cases)
        fprintf(stderr, "%s: %s\n", path, je.text);
    return cases ? 0 : -1;
}

static int free_cases(void **state)
{
    (void)state;
    json_decref(cases);
    return 0;
}

static double num(const json_t *o, const char *k, size_t i)
{
    const json_t *v = json_object_get(o, k);
    return json_number_value(json_is_array(v) ? json_array_get(v, i) : v);
}

static mpc_t *new_mpc(double q_pos, double q_vel, double r)
{
    mpc_conf_t c = {.dt = num(cases, "dt", 0),
                    .a_max = num(cases, "a_max", 0),
                    .v_max = num(cases, "v_max", 0),
                    .horizon = (int)num(cases, "horizon", 0),
                    .q_pos = q_pos,
                    .q_vel = q_vel,
                    .r = r};
    mpc_t *m = NULL;
    char err[256];
    if (mpc_new(&c, &m, err, sizeof(err)))
        fail_msg("mpc_new: %s", err);
    return m;
}

static void test_dare(void **state)
{
    (void)state;
    json_t *list = json_object_get(cases, "cases");
    for (size_t i = 0; i < 4; i++) { /* the four weightings */
        const json_t *c = json_array_get(list, i);
        mpc_t *m = new_mpc(num(c, "q", 0), num(c, "q", 1), num(c, "r", 0));
        const mpc_dare_t *d = mpc_dare(m);
        for (int k = 0; k < 4; k++) {
            double want = num(c, "p", (size_t)k), got = d->p[k / 2][k % 2];
            if (fabs(got - want) > 1e-8 * fabs(want) + 1e-10)
                fail_msg("case %zu: P[%d] %.12g, scipy %.12g", i, k, got, want);
        }
        assert_true(d->residual < 1e-12);
        assert_true(d->rho < 1);
        /* u = -Kx pushes back towards the goal: K > 0 (the seed had it the other way) */
        assert_true(d->k[0] > 0 && d->k[1] > 0);
        assert_true(d->iterations >= 1 && d->iterations < 64);
        mpc_destroy(m);
    }
}

/* The plan's velocities and accelerations within their bounds. */
static void check_bounds(const mpc_t *m, double v0, const mpc_plan_t *p, double dt)
{
    double v = v0;
    for (int k = 0; k < mpc_horizon(m); k++) {
        assert_true(fabs(p->u[k]) <= 3.0 + 1e-9);
        v += p->u[k] * dt;
        double vb = fmax(2.0, fabs(v0) - 3.0 * dt * (k + 1));
        if (fabs(v) > vb + 1e-8) /* mpc.c keeps relaxed bounds 1e-9 out */
            fail_msg("v_%d = %.12g beyond %.12g (v0 %.6g)", k + 1, v, vb, v0);
    }
}

static void test_against_daqp(void **state)
{
    (void)state;
    json_t *list = json_object_get(cases, "cases");
    double dt = num(cases, "dt", 0), worst = 0;
    size_t clipped_wrong = 0;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *c = json_array_get(list, i);
        mpc_t *m = new_mpc(num(c, "q", 0), num(c, "q", 1), num(c, "r", 0));
        double p0 = num(c, "x0", 0), v0 = num(c, "x0", 1);
        mpc_plan_t plan;
        mpc_solve(m, p0, v0, &plan);
        assert_int_not_equal(plan.status, MPC_MAX_ITER);
        double d = fabs(plan.u[0] - num(c, "u", 0));
        worst = fmax(worst, d);
        if (d > 1e-6)
            fail_msg("case %zu (x0 %.6g %.6g): u0 %.9g, DAQP %.9g", i, p0, v0, plan.u[0],
                     num(c, "u", 0));
        double want = num(c, "cost", 0);
        if (fabs(plan.cost - want) > 1e-6 * fmax(1, fabs(want)))
            fail_msg("case %zu: cost %.12g, DAQP %.12g", i, plan.cost, want);
        check_bounds(m, v0, &plan, dt);
        /* LQR clipped to the bounds: another command where a bound binds */
        const mpc_dare_t *r = mpc_dare(m);
        double lqr = fmax(-3, fmin(3, -(r->k[0] * p0 + r->k[1] * v0)));
        clipped_wrong += fabs(lqr - plan.u[0]) > 1e-3;
        mpc_destroy(m);
    }
    print_message("%zu QPs: worst first-step difference to DAQP %.3g; LQR plus clipping "
                  "differs in %zu\n",
                  json_array_size(list), worst, clipped_wrong);
    assert_true(clipped_wrong > 0);
}

/* Far more states than the oracle's: every plan within its bounds, ended
 * by optimality (not the iteration limit), and no worse than braking to a
 * stop, the feasible start. */
static void test_random_states(void **state)
{
    (void)state;
    double dt = num(cases, "dt", 0);
    mpc_t *m = new_mpc(100, 10, 1);
    uint64_t seed = 0x13;
    int most = 0;
    for (int i = 0; i < 20000; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        double p0 = ((double)(seed >> 11) / 9007199254740992.0 - 0.5) * 6;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        double v0 = ((double)(seed >> 11) / 9007199254740992.0 - 0.5) * 8;
        mpc_plan_t plan;
        mpc_solve(m, p0, v0, &plan);
        assert_int_not_equal(plan.status, MPC_MAX_ITER);
        check_bounds(m, v0, &plan, dt);
        most = plan.iterations > most ? plan.iterations : most;
    }
    print_message("20,000 random states: at most %d active-set iterations\n", most);
    mpc_destroy(m);
}

static void test_refused(void **state)
{
    (void)state;
    mpc_conf_t c = {
        .dt = 0.1, .a_max = 3, .v_max = 2, .horizon = 0, .q_pos = 1, .q_vel = 1, .r = 1};
    mpc_t *m = NULL;
    char err[256];
    assert_int_equal(mpc_new(&c, &m, err, sizeof(err)), GS_ERR_INVALID_ARG);
    c.horizon = 10, c.r = 0;
    assert_int_equal(mpc_new(&c, &m, err, sizeof(err)), GS_ERR_INVALID_ARG);
    c.r = NAN;
    assert_int_equal(mpc_new(&c, &m, err, sizeof(err)), GS_ERR_INVALID_ARG);
    assert_null(m);
    assert_string_equal(mpc_status_name(MPC_RELAXED), "relaxed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dare),
        cmocka_unit_test(test_against_daqp),
        cmocka_unit_test(test_random_states),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, load_cases, free_cases);
}
