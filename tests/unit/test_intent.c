/* Unit tests of the intent kind's parts (src/kinds/intent): the ISO/TS
 * 15066 separation on worked examples, the command rules, request
 * validation naming the field, the smoothing and the minimum-jerk fit on
 * exact movements, the forecast, the generator's determinism and seeds,
 * the model file (round trip, refusals) and a small training run whose
 * held-out accuracy must clear a floor. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/kinds/intent/internal.h"

static const gs_intent_sep_conf_t sep = {.t_r = 0.1,
                                         .t_s = 0.2,
                                         .c = 0.2,
                                         .z_d = 0.05,
                                         .z_r = 0.01,
                                         .v_h_near = 2.0,
                                         .v_h_far = 1.6,
                                         .near = 0.5};

/* S_p = v_h (T_r + T_s) + v_r T_r + v_r T_s / 2 + C + Z_d + Z_r, by hand. */
static void test_separation(void **state)
{
    (void)state;
    /* far: 1.6 * 0.3 + 0.5 * 0.1 + 0.5 * 0.1 + 0.26 = 0.84 */
    assert_true(fabs(gs_intent_protective_distance(&sep, 1.0, 0.5) - 0.84) < 1e-12);
    /* within 0.5 m the human is taken at 2.0 m/s: 0.6 + 0.1 + 0.26 = 0.96 */
    assert_true(fabs(gs_intent_protective_distance(&sep, 0.4, 0.5) - 0.96) < 1e-12);
    /* a robot at rest: 0.48 + 0.26 */
    assert_true(fabs(gs_intent_protective_distance(&sep, 2.0, 0.0) - 0.74) < 1e-12);

    const double ee[3] = {0, 0, 0}, vel[3] = {0.3, 0.4, 0}; /* |v_r| = 0.5 */
    const double far[2][3] = {{1.2, 0, 0}, {1.0, 0, 0}};    /* the forecast is nearer */
    gs_intent_safety_t s;
    gs_intent_safety_eval(&sep, 0.3, ee, vel, far, 2, NULL, 0, &s);
    assert_true(fabs(s.min_distance - 1.0) < 1e-12);
    assert_true(fabs(s.protective_distance - 0.84) < 1e-12);
    assert_true(fabs(s.h - 0.16) < 1e-12);
    assert_true(fabs(s.risk - (1 - 0.16 / 0.3)) < 1e-12);
    assert_false(s.emergency_stop);

    /* an obstacle's surface counts: centre 1.0 m away, radius 0.3 */
    const double sphere[1][4] = {{0, 1.0, 0, 0.3}};
    gs_intent_safety_eval(&sep, 0.3, ee, vel, far, 2, sphere, 1, &s);
    assert_true(fabs(s.min_distance - 0.7) < 1e-12);
    assert_true(fabs(s.protective_distance - 0.84) < 1e-12);
    assert_true(s.emergency_stop && s.risk == 1);

    /* well clear: no risk */
    const double clear[1][3] = {{3, 0, 0}};
    gs_intent_safety_eval(&sep, 0.3, ee, vel, clear, 1, NULL, 0, &s);
    assert_true(s.risk == 0 && !s.emergency_stop);
}

static const rules_conf_t rules = {.retreat_risk = 0.8,
                                   .retreat_dist = 0.2,
                                   .handover_prob = 0.5,
                                   .handover_offset = 0.15,
                                   .yield_radius = 0.3,
                                   .point_prob = 0.5,
                                   .approach_height = 0.1};

static decision_t run_rules(int top, double p_top, vec3_t hand, vec3_t fc, double risk, int stop)
{
    static scene_t s;
    s.ee = v3(0, 0, 0);
    s.n_targets = 1;
    s.targets[0] = v3(1.0, 0.5, 0);
    double prob[N_INTENTS];
    for (int i = 0; i < N_INTENTS; i++)
        prob[i] = (1 - p_top) / (N_INTENTS - 1);
    prob[top] = p_top;
    gs_intent_safety_t sf = {.risk = risk, .emergency_stop = stop};
    decision_in_t in = {
        .s = &s, .prob = prob, .target = 0, .hand = hand, .forecast = fc, .safety = &sf};
    decision_t d;
    decide(&rules, &in, &d);
    return d;
}

static void test_rules(void **state)
{
    (void)state;
    vec3_t far = v3(1.5, 0, 0), nearer = v3(1.2, 0, 0);
    /* a protective stop overrules every intent */
    decision_t d = run_rules(GS_AVRO_INTENT_HANDOVER, 0.9, far, nearer, 1, 1);
    assert_int_equal(d.command, GS_AVRO_ROBOT_COMMAND_STOP);
    assert_false(d.has_goal);
    /* high risk and coming closer: back off, away from the forecast hand */
    d = run_rules(GS_AVRO_INTENT_REACH, 0.9, far, nearer, 0.9, 0);
    assert_int_equal(d.command, GS_AVRO_ROBOT_COMMAND_RETREAT);
    assert_true(d.goal.x < 0 && fabs(v3_norm(d.goal) - 0.2) < 1e-12);
    /* a handover: the pose short of the forecast hand, on the robot's side */
    d = run_rules(GS_AVRO_INTENT_HANDOVER, 0.8, far, nearer, 0.2, 0);
    assert_int_equal(d.command, GS_AVRO_ROBOT_COMMAND_HANDOVER_POSE);
    assert_true(fabs(d.goal.x - 1.05) < 1e-12);
    /* pointing at the target: approach above it */
    d = run_rules(GS_AVRO_INTENT_POINT, 0.8, far, far, 0.0, 0);
    assert_int_equal(d.command, GS_AVRO_ROBOT_COMMAND_APPROACH);
    assert_true(fabs(d.goal.z - 0.1) < 1e-12 && fabs(d.goal.x - 1.0) < 1e-12);
    /* a reach ending near the end effector: yield where it is */
    d = run_rules(GS_AVRO_INTENT_GRAB, 0.8, far, v3(0.2, 0, 0), 0.5, 0);
    assert_int_equal(d.command, GS_AVRO_ROBOT_COMMAND_YIELD);
    /* waving far away: continue */
    d = run_rules(GS_AVRO_INTENT_WAVE, 0.9, far, far, 0.0, 0);
    assert_int_equal(d.command, GS_AVRO_ROBOT_COMMAND_CONTINUE);
}

/* ---- validation ------------------------------------------------------------------ */

static gs_avro_hand_sample_t hand[40];
static gs_avro_target_t targets[40];

static gs_avro_intent_request_t valid_request(void)
{
    for (int i = 0; i < 40; i++)
        hand[i] = (gs_avro_hand_sample_t){.t_ms = 1000 + 33 * i, .x = 1, .y = 0, .z = 0.1};
    for (int i = 0; i < 40; i++)
        targets[i] = (gs_avro_target_t){.id = gs_avro_cstr("cup"), .position = {0.5, 0, 0}};
    return (gs_avro_intent_request_t){.request_id = gs_avro_cstr("r1"),
                                      .robot_id = gs_avro_cstr("arm-1"),
                                      .tenant = gs_avro_cstr("default"),
                                      .hand = hand,
                                      .n_hand = 10,
                                      .targets = targets,
                                      .n_targets = 2,
                                      .horizon_ms = 500,
                                      .created_at_ms = 1};
}

static void expect_invalid(const gs_avro_intent_request_t *r, const char *field)
{
    char err[256];
    assert_int_equal(gs_intent_request_validate(r, err, sizeof(err)), GS_ERR_VALIDATION);
    if (strncmp(err, field, strlen(field)) != 0)
        fail_msg("'%s' does not start with '%s'", err, field);
}

static void test_validation(void **state)
{
    (void)state;
    char err[256];
    gs_avro_intent_request_t r = valid_request();
    assert_int_equal(gs_intent_request_validate(&r, err, sizeof(err)), GS_OK);
    r.n_hand = 4;
    expect_invalid(&r, "hand: 4 samples");
    r = valid_request();
    hand[3].y = NAN;
    expect_invalid(&r, "hand[3].y: NaN");
    r = valid_request();
    hand[5].t_ms = hand[4].t_ms;
    expect_invalid(&r, "hand[5].t_ms");
    r = valid_request();
    r.n_hand = 6; /* 165 ms */
    expect_invalid(&r, "hand: spans 165 ms");
    r = valid_request();
    r.n_targets = 33;
    expect_invalid(&r, "targets: 33");
    r = valid_request();
    targets[1].position.z = 11;
    expect_invalid(&r, "targets[1].position.z");
    r = valid_request();
    r.horizon_ms = 50;
    expect_invalid(&r, "horizon_ms");
    r = valid_request();
    r.robot.velocity.x = INFINITY;
    expect_invalid(&r, "robot.velocity.x");
    r = valid_request();
    r.robot_id = gs_avro_cstr("");
    expect_invalid(&r, "robot_id");
}

/* ---- the track, the fit and the forecast ------------------------------------------ */

/* An exact minimum-jerk reach of 0.4 m along x in 0.8 s from t = 0.3 s,
 * sampled at 100 Hz up to `end` seconds. */
static void exact_reach(double end, scene_t *s)
{
    memset(s, 0, sizeof(*s));
    size_t n = (size_t)lround(end * 100) + 1;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / 100;
        s->t[i] = t - end;
        s->p[i] = v3(1.0 - 0.4 * minjerk((t - 0.3) / 0.8), 0.1, 0.2);
    }
    s->n = n;
    s->ee = v3(0.2, 0, 0.3);
}

static void test_track(void **state)
{
    (void)state;
    static scene_t s;
    static track_t tr;
    /* a line at constant velocity: smoothing is exact */
    memset(&s, 0, sizeof(s));
    s.n = 30;
    for (size_t i = 0; i < s.n; i++) {
        s.t[i] = (double)i / 30 - 1;
        s.p[i] = v3(0.5 * s.t[i], -0.2 * s.t[i], 0.1);
    }
    track_build(&s, &tr);
    for (size_t i = 0; i < s.n; i++) {
        assert_true(fabs(tr.v[i].x - 0.5) < 1e-9 && fabs(tr.v[i].y + 0.2) < 1e-9);
        assert_true(fabs(tr.p[i].x - s.p[i].x) < 1e-9);
    }
    /* an exact reach at its peak speed: the end point within 6 cm (before
     * the peak only distance / duration^3 shows) */
    exact_reach(0.7, &s);
    track_build(&s, &tr);
    mj_fit_t f;
    minjerk_fit(&tr, NULL, &f);
    assert_true(fabs(f.from.x + f.dir.x * (f.s0 + f.dist) - 0.6) < 0.06);
    /* three quarters done: within 1 cm, and the duration within 30 ms */
    exact_reach(0.9, &s);
    track_build(&s, &tr);
    minjerk_fit(&tr, NULL, &f);
    assert_true(fabs(f.from.x + f.dir.x * (f.s0 + f.dist) - 0.6) < 0.01);
    assert_true(fabs(f.dur - 0.8) < 0.03);
    forecast_in_t in = {.s = &s, .tr = &tr, .target = -1, .h = 0.5};
    vec3_t fc = forecast_intent(&in, GS_AVRO_INTENT_REACH);
    assert_true(fabs(fc.x - 0.6) < 0.03); /* done by 1.1 s: at the end point */
    in.h = 0.1;
    fc = forecast_intent(&in, GS_AVRO_INTENT_REACH);
    double truth = 1.0 - 0.4 * minjerk((1.0 - 0.3) / 0.8);
    assert_true(fabs(fc.x - truth) < 0.01);
    /* toward a known goal the distance is known */
    s.n_targets = 1;
    s.targets[0] = v3(0.6, 0.1, 0.2);
    in.target = 0;
    in.h = 0.5;
    fc = forecast_intent(&in, GS_AVRO_INTENT_GRAB);
    assert_true(v3_norm(v3_sub(fc, s.targets[0])) < 0.02);
    /* the path: every 0.1 s up to the horizon, its last point the forecast,
     * nearer the end point as it goes */
    double prob[N_INTENTS] = {[GS_AVRO_INTENT_GRAB] = 1};
    vec3_t path[PATH_MAX];
    size_t np = forecast_path(&in, prob, PATH_STEP, path, PATH_MAX);
    assert_int_equal(np, 5);
    vec3_t mix = forecast_mix(&in, prob);
    assert_memory_equal(&path[np - 1], &mix, sizeof(mix));
    for (size_t i = 1; i < np; i++)
        assert_true(path[i].x <= path[i - 1].x + 1e-12);
    /* the features: moving toward the target, more than toward the robot */
    double feat[N_FEATURES];
    int best;
    target_fit_t fits[1];
    features_compute(&s, &tr, feat, &best, fits);
    assert_int_equal(best, 0);
    assert_true(fits[0].heading > 0.99);
    assert_true(feat[16] > feat[20]);
    assert_true(feat[4] > 0.8 && feat[4] < 0.94); /* peak: 1.875 D / T = 0.94 m/s, smoothed */
}

/* ---- the generator ---------------------------------------------------------------- */

static void test_generator(void **state)
{
    (void)state;
    static gen_out_t a, b, c;
    gen_conf_t gc = {
        .seed = 5, .noise_seed = 6, .subject_seed = 7, .subject = 3, .intent = 1, .fraction = 1};
    gen_scene(&gc, &a);
    gen_scene(&gc, &b);
    assert_int_equal(a.scene.n, b.scene.n);
    assert_memory_equal(a.scene.p, b.scene.p, a.scene.n * sizeof(vec3_t));
    assert_true(a.intent == 1 && a.target >= 0);
    /* the grab ends at its target */
    assert_true(v3_norm(v3_sub(a.future[200], a.scene.targets[a.target])) < 0.08);
    /* another noise seed: the same movement, other samples */
    gc.noise_seed = 60;
    gen_scene(&gc, &c);
    assert_memory_equal(a.future, c.future, sizeof(a.future));
    assert_memory_not_equal(a.scene.p, c.scene.p, 5 * sizeof(vec3_t));
    /* every intent gives a request that validates */
    for (int k = 0; k < N_INTENTS * 40; k++) {
        gen_conf_t g = {.seed = (uint64_t)k,
                        .noise_seed = (uint64_t)k + 99,
                        .subject_seed = 1,
                        .subject = k % 9,
                        .intent = k % N_INTENTS,
                        .fraction = (k % 3 + 1) / 3.0};
        gen_scene(&g, &a);
        gs_arena_t arena = {0};
        gs_avro_intent_request_t r = {.request_id = gs_avro_cstr("r"),
                                      .robot_id = gs_avro_cstr("b"),
                                      .tenant = gs_avro_cstr("t"),
                                      .horizon_ms = 500};
        gen_to_request(&a, &r, &arena);
        char err[256];
        if (gs_intent_request_validate(&r, err, sizeof(err)))
            fail_msg("scene %d: %s", k, err);
        gs_arena_free(&arena);
    }
}

/* ---- the model file and training -------------------------------------------------- */

static char dir[] = "/tmp/gs-test-intent.XXXXXX";

static void test_model_file(void **state)
{
    (void)state;
    intent_params_t p = {.temperature = 0.9};
    for (int j = 0; j < N_FEATURES; j++) {
        p.mean[j] = 0.25 * j;
        p.scale[j] = 1 + 0.5 * j;
    }
    for (int k = 0; k < N_INTENTS; k++)
        for (int j = 0; j <= N_FEATURES; j++)
            p.w[k][j] = (float)sin(k * 31 + j);
    char path[256], err[512];
    snprintf(path, sizeof(path), "%s/m.gsm", dir);
    assert_int_equal(intent_model_write(path, &p, "t", "v9", "{\"x\":1}", err, sizeof(err)), 0);
    intent_model_t *m;
    if (intent_model_load(path, &m, err, sizeof(err)))
        fail_msg("%s", err);
    const intent_params_t *q = intent_model_params(m);
    double f[N_FEATURES], pa[N_INTENTS], pb[N_INTENTS], sum = 0;
    for (int j = 0; j < N_FEATURES; j++)
        f[j] = cos(j);
    intent_predict(&p, f, pa);
    intent_predict(q, f, pb);
    for (int k = 0; k < N_INTENTS; k++) {
        assert_true(fabs(pa[k] - pb[k]) < 1e-6);
        sum += pb[k];
    }
    assert_true(fabs(sum - 1) < 1e-12);
    assert_string_equal(intent_model_ref(m).version.p, "v9");
    intent_model_destroy(m);
    /* a flipped byte: refused by the checksums */
    FILE *fp = fopen(path, "r+b");
    fseek(fp, -40, SEEK_END);
    fputc(0x5a, fp);
    fclose(fp);
    assert_int_not_equal(intent_model_load(path, &m, err, sizeof(err)), 0);
    unlink(path);
}

static void test_training(void **state)
{
    (void)state;
    char out[256], report[300];
    snprintf(out, sizeof(out), "%s/intent.gsm", dir);
    char *argv[] = {"intent", "--out", out, "--train", "600", "--test", "60", NULL};
    assert_int_equal(intent_train_cmd(7, argv), 0);
    snprintf(report, sizeof(report), "%s.report.json", out);
    json_t *r = json_load_file(report, 0, NULL);
    assert_non_null(r);
    json_t *top = json_object_get(r, "top1");
    double full = json_number_value(
        json_object_get(json_object_get(top, "all observed"), "logistic regression"));
    double third = json_number_value(
        json_object_get(json_object_get(top, "1/3 observed"), "logistic regression"));
    double heading =
        json_number_value(json_object_get(json_object_get(top, "all observed"), "target heading"));
    assert_true(full > 0.85 && third > 0.6 && full > heading);
    json_decref(r);
    intent_model_t *m;
    char err[512];
    if (intent_model_load(out, &m, err, sizeof(err)))
        fail_msg("%s", err);
    intent_model_destroy(m);
    static const char *const suffix[] = {".report.json", ".report.svg", ".report-forecast.svg",
                                         ".report-confusion.svg", ""};
    for (int i = 0; i < 5; i++) {
        snprintf(report, sizeof(report), "%s%s", out, suffix[i]);
        assert_int_equal(unlink(report), 0);
    }
}

/* The fuzzer's intent seeds (tests/fuzz/make_seeds.py) decode and
 * validate, so that fuzzing starts from the deep path. */
static void test_fuzz_seeds(void **state)
{
    (void)state;
    const char *src = getenv("GS_SOURCE_DIR");
    for (int i = 0; i < 4; i++) {
        char path[4096], err[256];
        snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/request/intent-%02d", src ? src : ".",
                 i);
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        static uint8_t buf[65536];
        size_t n = fread(buf, 1, sizeof(buf), fp);
        fclose(fp);
        gs_arena_t arena = {0};
        gs_avro_intent_request_t r;
        assert_int_equal(
            gs_avro_intent_request_decode(buf + 1, n - 1, &arena, &r, err, sizeof(err)), GS_OK);
        if (gs_intent_request_validate(&r, err, sizeof(err)))
            fail_msg("%s: %s", path, err);
        gs_arena_free(&arena);
    }
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_separation), cmocka_unit_test(test_rules),
        cmocka_unit_test(test_validation), cmocka_unit_test(test_track),
        cmocka_unit_test(test_generator),  cmocka_unit_test(test_model_file),
        cmocka_unit_test(test_training),   cmocka_unit_test(test_fuzz_seeds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
