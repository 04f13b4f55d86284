/* The intent kind, per request of a micro-batch (docs/INTENT.md):
 *   validate -> rate limit (per tenant, SPEC 1.2) -> smooth the hand's
 *   window and compute its features -> intent probabilities (the loaded
 *   model) -> forecast at +horizon -> ISO/TS 15066 separation -> command
 *   -> constrained MPC toward the command's goal -> result; a protective
 *   stop raises an alert.
 * The model is loaded at start and on SIGHUP and swapped between batches;
 * the old one stays when a reload fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mpc.h"

typedef struct intent_conf {
    gs_config_kind_t stream; /* first: the worker reads it */
    char *model;             /* models.intent */
    double dt, a_max, v_max, q_pos, q_vel, r;
    int horizon;
    double t_r, t_s, c, z_d, z_r, warn;
    rules_conf_t rules;
    int alert_stop;
    double alert_interval; /* s */
    gs_kind_rate_t rate;
} intent_conf_t;

typedef struct alert_slot {
    gs_alert_event_t ev;
    const char *ann[10];
    char request_id[GS_KIND_MAX_ID + 1], robot_id[GS_KIND_MAX_ID + 1];
    char distance[24], protective[24];
} alert_slot_t;

/* When each robot's last protective-stop alert went out: a robot that
 * stays too close alerts once per interval, not at every cycle. A slot
 * holds one robot's hash; another robot in the same slot takes it over,
 * so a collision can only add an alert, never hide one. */
#define ALERT_SLOTS 4096

struct gs_kind {
    const intent_conf_t *conf;
    intent_model_t *model; /* NULL until one loaded */
    mpc_t *mpc;
    gs_intent_sep_conf_t sep;
    gs_kind_gate_t gate;
    size_t cap;           /* batch.max */
    alert_slot_t *alerts; /* cap */
    scene_t scene;
    track_t track;
    uint64_t alert_robot[ALERT_SLOTS];
    int64_t alert_ms[ALERT_SLOTS];
};

static int alert_due(gs_kind_t *d, gs_str_t robot, int64_t now_ms)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < robot.len; i++)
        h = (h ^ (unsigned char)robot.p[i]) * 1099511628211ull;
    size_t slot = h % ALERT_SLOTS;
    int64_t every = (int64_t)(d->conf->alert_interval * 1000);
    if (d->alert_robot[slot] == h && now_ms >= d->alert_ms[slot] &&
        now_ms - d->alert_ms[slot] < every)
        return 0;
    d->alert_robot[slot] = h;
    d->alert_ms[slot] = now_ms;
    return 1;
}

/* A protective stop: labels bounded (alertname, severity, worker); the
 * request and the robot in the annotations. */
static const gs_alert_event_t *alert_of(gs_kind_t *d, size_t j, const gs_avro_intent_request_t *r,
                                        const gs_avro_safety_t *sf)
{
    alert_slot_t *a = &d->alerts[j];
    gs_kind_copy_str(a->request_id, sizeof(a->request_id), r->request_id);
    gs_kind_copy_str(a->robot_id, sizeof(a->robot_id), r->robot_id);
    snprintf(a->distance, sizeof(a->distance), "%.3f", sf->min_distance);
    snprintf(a->protective, sizeof(a->protective), "%.3f", sf->protective_distance);
    const char *ann[] = {"summary",
                         "a hand or body part is inside the protective separation distance",
                         "request_id",
                         a->request_id,
                         "robot_id",
                         a->robot_id,
                         "min_distance",
                         a->distance,
                         "protective_distance",
                         a->protective};
    memcpy(a->ann, ann, sizeof(ann));
    a->ev = (gs_alert_event_t){.name = "GovstreamIntentProtectiveStop",
                               .severity = "critical",
                               .annotations = a->ann,
                               .n_annotations = 5};
    return &a->ev;
}

static gs_avro_vec3_t avro_vec(vec3_t v)
{
    return (gs_avro_vec3_t){v.x, v.y, v.z};
}

/* The six probabilities, most likely first (ties in the enum's order). */
static void fill_intents(gs_avro_intent_result_t *res, const double *prob, gs_arena_t *arena)
{
    res->intents = gs_arena_alloc(arena, N_INTENTS * sizeof(*res->intents));
    if (!res->intents)
        return;
    res->n_intents = N_INTENTS;
    for (int i = 0; i < N_INTENTS; i++)
        res->intents[i] = (gs_avro_intent_probability_t){(gs_avro_intent_t)i, prob[i]};
    for (int i = 1; i < N_INTENTS; i++)
        for (int k = i; k > 0 && res->intents[k].probability > res->intents[k - 1].probability;
             k--) {
            gs_avro_intent_probability_t t = res->intents[k];
            res->intents[k] = res->intents[k - 1];
            res->intents[k - 1] = t;
        }
}

/* The separation over the hand now (the last measured sample, not the
 * smoothed one: smoothing lags), the forecast hand every PATH_STEP up to
 * the horizon (a hand that passes the robot on its way counts, not only
 * where it ends up) and the obstacles. */
static void safety_of(gs_kind_t *d, const gs_avro_intent_request_t *r, const vec3_t *path,
                      size_t n_path, gs_intent_safety_t *out)
{
    const gs_avro_hand_sample_t *h = &r->hand[r->n_hand - 1];
    double pts[PATH_MAX + 1][3] = {{h->x, h->y, h->z}};
    for (size_t i = 0; i < n_path && i < PATH_MAX; i++) {
        pts[i + 1][0] = path[i].x, pts[i + 1][1] = path[i].y, pts[i + 1][2] = path[i].z;
    }
    double sph[GS_INTENT_MAX_TARGETS][4];
    size_t ns = r->n_obstacles < GS_INTENT_MAX_TARGETS ? r->n_obstacles : GS_INTENT_MAX_TARGETS;
    for (size_t i = 0; i < ns; i++) {
        const gs_avro_obstacle_t *o = &r->obstacles[i];
        sph[i][0] = o->position.x, sph[i][1] = o->position.y, sph[i][2] = o->position.z;
        sph[i][3] = o->radius;
    }
    double ee[3] = {r->robot.position.x, r->robot.position.y, r->robot.position.z};
    double ev[3] = {r->robot.velocity.x, r->robot.velocity.y, r->robot.velocity.z};
    size_t np = 1 + (n_path < PATH_MAX ? n_path : PATH_MAX);
    gs_intent_safety_eval(&d->sep, d->conf->warn, ee, ev, (const double(*)[3])pts, np,
                          (const double(*)[4])sph, ns, out);
}

/* The plan toward the command's goal; a stop brakes to rest where it is.
 * CONTINUE sends the robot nowhere, so there is nothing to plan. */
static void plan(gs_kind_t *d, const scene_t *s, const decision_t *dc, gs_avro_intent_result_t *res)
{
    if (dc->command == GS_AVRO_ROBOT_COMMAND_CONTINUE) {
        res->mpc = (gs_avro_mpc_info_t){.status = gs_avro_cstr("none")};
        return;
    }
    int64_t t0 = gs_now_us();
    vec3_t err = dc->has_goal ? v3_sub(s->ee, dc->goal) : v3(0, 0, 0);
    const double p[3] = {err.x, err.y, err.z}, v[3] = {s->ee_vel.x, s->ee_vel.y, s->ee_vel.z};
    double u[3], cost = 0;
    int iterations = 0;
    mpc_status_t worst = MPC_OPTIMAL;
    for (int a = 0; a < 3; a++) {
        mpc_plan_t pl;
        mpc_solve(d->mpc, p[a], v[a], &pl);
        u[a] = pl.u[0];
        cost += pl.cost;
        iterations += pl.iterations;
        worst = pl.status > worst ? pl.status : worst;
    }
    res->acceleration = (gs_avro_vec3_t){u[0], u[1], u[2]};
    res->mpc = (gs_avro_mpc_info_t){.status = gs_avro_cstr(mpc_status_name(worst)),
                                    .iterations = iterations,
                                    .cost = cost,
                                    .solve_us = gs_now_us() - t0};
}

static void infer(gs_kind_t *d, const gs_avro_intent_request_t *r, gs_avro_intent_result_t *res,
                  gs_intent_safety_t *sf, gs_arena_t *arena)
{
    scene_t *s = &d->scene;
    scene_from_request(r, s);
    track_build(s, &d->track);
    double f[N_FEATURES], prob[N_INTENTS];
    int target;
    features_compute(s, &d->track, f, &target, NULL);
    intent_predict(intent_model_params(d->model), f, prob);
    fill_intents(res, prob, arena);
    if (target >= 0) {
        res->has_target_id = true;
        res->target_id = r->targets[target].id;
    }
    forecast_in_t fi = {.s = s,
                        .tr = &d->track,
                        .target = target,
                        .h = r->horizon_ms / 1000.0,
                        .idle_tau = intent_model_params(d->model)->idle_tau};
    vec3_t path[PATH_MAX];
    size_t np = forecast_path(&fi, prob, PATH_STEP, path, PATH_MAX);
    vec3_t fc = path[np - 1];
    res->predicted_hand = avro_vec(fc);
    safety_of(d, r, path, np, sf);
    const gs_avro_hand_sample_t *h = &r->hand[r->n_hand - 1];
    decision_in_t di = {.s = s,
                        .prob = prob,
                        .target = target,
                        .hand = v3(h->x, h->y, h->z),
                        .forecast = fc,
                        .safety = sf};
    decision_t dc;
    decide(&d->conf->rules, &di, &dc);
    res->command = dc.command;
    res->has_goal = dc.has_goal;
    res->goal = avro_vec(dc.goal);
    plan(d, s, &dc, res);
}

/* Refused by the rate limit: the separation is still checked (a robot is
 * never told CONTINUE into a person), nothing else is computed, and the
 * intents say so by being uniform. */
static void refuse(gs_kind_t *d, const gs_avro_intent_request_t *r, gs_avro_intent_result_t *res,
                   gs_intent_safety_t *sf, gs_arena_t *arena)
{
    const gs_avro_hand_sample_t *h = &r->hand[r->n_hand - 1];
    vec3_t now = v3(h->x, h->y, h->z);
    double prob[N_INTENTS];
    for (int i = 0; i < N_INTENTS; i++)
        prob[i] = 1.0 / N_INTENTS;
    fill_intents(res, prob, arena);
    res->predicted_hand = avro_vec(now);
    safety_of(d, r, &now, 1, sf);
    scene_from_request(r, &d->scene);
    decision_t dc = {.command = sf->emergency_stop ? GS_AVRO_ROBOT_COMMAND_STOP
                                                   : GS_AVRO_ROBOT_COMMAND_CONTINUE};
    res->command = dc.command;
    plan(d, &d->scene, &dc, res);
    res->note = gs_avro_cstr("rate limited");
}

static void decide_one(gs_kind_t *d, size_t j, gs_item_t *it, gs_arena_t *arena)
{
    const gs_avro_intent_request_t *r = it->request;
    gs_avro_intent_result_t *res = it->result;
    if ((it->err = gs_intent_request_validate(r, it->errmsg, sizeof(it->errmsg))))
        return;
    int64_t t0 = gs_now_us();
    int64_t ts = it->timestamp_ms >= 0 ? it->timestamp_ms : r->created_at_ms;
    if (!d->model) { /* the worker does not run a kind that is not ready */
        it->err =
            gs_fail(it->errmsg, sizeof(it->errmsg), GS_ERR_INTERNAL, "no intent model loaded");
        return;
    }
    gs_intent_safety_t sf;
    res->model = intent_model_ref(d->model);
    if (!gs_kind_gate_pass(&d->gate, it->partition, r->tenant, ts)) {
        refuse(d, r, res, &sf, arena);
        it->govern_us = gs_now_us() - t0;
    } else {
        int64_t t1 = gs_now_us();
        infer(d, r, res, &sf, arena);
        it->govern_us = t1 - t0;
        it->infer_us = gs_now_us() - t1;
        res->accepted = it->accepted = true;
        res->note = gs_avro_cstr("decided");
    }
    res->safety = (gs_avro_safety_t){.min_distance = sf.min_distance,
                                     .protective_distance = sf.protective_distance,
                                     .risk = sf.risk,
                                     .emergency_stop = sf.emergency_stop};
    if (sf.emergency_stop && d->conf->alert_stop && alert_due(d, r->robot_id, ts))
        it->alert = alert_of(d, j, r, &res->safety);
}

static void process(gs_kind_t *d, const gs_batch_t *b)
{
    for (size_t i = 0; i < b->n && i < d->cap; i++)
        decide_one(d, i, b->items[i], b->arena);
}

static gs_err_t load_models(gs_kind_t *d, char *errstr, size_t n)
{
    if (!*d->conf->model)
        return gs_fail(errstr, n, GS_ERR_CONFIG,
                       "no intent model configured: set models.intent (govstream train intent)");
    intent_model_t *m;
    gs_err_t err = intent_model_load(d->conf->model, &m, errstr, n);
    if (err)
        return err;
    intent_model_destroy(d->model);
    d->model = m;
    const mpc_dare_t *dr = mpc_dare(d->mpc);
    gs_avro_model_ref_t ref = intent_model_ref(m);
    snprintf(errstr, n,
             "intent model %s v%s; MPC terminal cost by DARE doubling: residual %.2g after %d "
             "steps, K = [%.4g, %.4g], closed-loop spectral radius %.4f",
             ref.name.p, ref.version.p, dr->residual, dr->iterations, dr->k[0], dr->k[1], dr->rho);
    return GS_OK;
}

static void destroy(gs_kind_t *d)
{
    if (!d)
        return;
    intent_model_destroy(d->model);
    mpc_destroy(d->mpc);
    gs_kind_gate_free(&d->gate);
    free(d->alerts);
    free(d);
}

static mpc_conf_t mpc_conf_of(const intent_conf_t *c)
{
    return (mpc_conf_t){.dt = c->dt,
                        .a_max = c->a_max,
                        .v_max = c->v_max,
                        .horizon = c->horizon,
                        .q_pos = c->q_pos,
                        .q_vel = c->q_vel,
                        .r = c->r};
}

static gs_intent_sep_conf_t sep_conf_of(const intent_conf_t *c)
{
    return (gs_intent_sep_conf_t){.t_r = c->t_r,
                                  .t_s = c->t_s,
                                  .c = c->c,
                                  .z_d = c->z_d,
                                  .z_r = c->z_r,
                                  .v_h_near = 2.0,
                                  .v_h_far = 1.6,
                                  .near = 0.5};
}

static gs_err_t create(const gs_config_t *cfg, const void *conf, gs_kind_t **out, char *errstr,
                       size_t n)
{
    gs_kind_t *d = calloc(1, sizeof(*d));
    if (!d)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    d->conf = conf;
    d->cap = (size_t)cfg->batch.max;
    d->sep = sep_conf_of(d->conf);
    d->alerts = calloc(d->cap, sizeof(*d->alerts));
    mpc_conf_t mc = mpc_conf_of(d->conf);
    gs_err_t err = d->alerts ? mpc_new(&mc, &d->mpc, errstr, n)
                             : gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    if (!err)
        err = gs_kind_gate_init(&d->gate, "intent", &d->conf->rate, errstr, n);
    if (err) {
        destroy(d);
        return err;
    }
    *out = d;
    return GS_OK;
}

static size_t stores(gs_kind_t *d, const gs_store_t **out)
{
    return gs_kind_gate_stores(&d->gate, out);
}

/* The MPC's weights and limits are checked as they will be used: the
 * Riccati solution must exist and stabilise. */
static gs_err_t check(const gs_config_t *cfg, const void *conf, char *errstr, size_t n)
{
    const intent_conf_t *c = conf;
    mpc_conf_t mc = mpc_conf_of(c);
    mpc_t *m;
    gs_err_t err = mpc_new(&mc, &m, errstr, n);
    if (err)
        return err;
    mpc_destroy(m);
    return gs_kind_check_stream(cfg, &c->stream, errstr, n);
}

#define RULE(k, m, d, lo, hi, doc)                                                                 \
    GS_CONFIG_DOUBLE("intent.rules." k, intent_conf_t, rules.m, d, lo, hi, doc)
#define SAFE(k, m, d, hi, doc)                                                                     \
    GS_CONFIG_DOUBLE("intent.safety." k, intent_conf_t, m, d, 0.0, hi, doc)

static const gs_config_key_t keys[] = {
    GS_KIND_STREAM_KEYS("intent", intent_conf_t, "false"),
    GS_CONFIG_PATH("models.intent", intent_conf_t, model, "../.cache/models/intent.gsm",
                   "intent model file (`govstream train intent`); the default is the one "
                   "`ops/quickstart.sh` trains. Without a model the worker is not ready"),
    GS_CONFIG_DOUBLE("intent.mpc.dt", intent_conf_t, dt, "0.1", 0.001, 1.0, "MPC step, s"),
    GS_CONFIG_INT("intent.mpc.horizon", intent_conf_t, horizon, "10", 1, 32, "MPC steps"),
    GS_CONFIG_DOUBLE("intent.mpc.a_max", intent_conf_t, a_max, "3", 0.01, 100.0,
                     "|acceleration| bound per axis, m/s²"),
    GS_CONFIG_DOUBLE("intent.mpc.v_max", intent_conf_t, v_max, "2", 0.01, 100.0,
                     "|velocity| bound per axis, m/s"),
    GS_CONFIG_DOUBLE("intent.mpc.q_position", intent_conf_t, q_pos, "10", 0.0, 1e6,
                     "Q's weight on the position error"),
    GS_CONFIG_DOUBLE("intent.mpc.q_velocity", intent_conf_t, q_vel, "1", 0.0, 1e6,
                     "Q's weight on the velocity"),
    GS_CONFIG_DOUBLE("intent.mpc.r", intent_conf_t, r, "0.1", 1e-6, 1e6,
                     "R, the weight on the acceleration"),
    SAFE("t_r", t_r, "0.1", 10.0, "T_r of ISO/TS 15066: the system's reaction time, s"),
    SAFE("t_s", t_s, "0.2", 10.0, "T_s: the robot's stopping time, s"),
    SAFE("c", c, "0.2", 5.0,
         "C: intrusion distance, m; the default is the fingers beyond the tracked wrist"),
    SAFE("z_d", z_d, "0.05", 5.0, "Z_d: the hand tracker's position uncertainty, m"),
    SAFE("z_r", z_r, "0.01", 5.0, "Z_r: the robot's position uncertainty, m"),
    SAFE("warn_margin", warn, "0.3", 10.0,
         "risk rises from 0 to 1 as the margin min_distance - S_p falls from this to 0, m"),
    GS_CONFIG_BOOL("intent.safety.alert_stop", intent_conf_t, alert_stop, "true",
                   "a protective stop raises `GovstreamIntentProtectiveStop` (webhook and alerts "
                   "topic)"),
    GS_CONFIG_DOUBLE("intent.safety.alert_interval_s", intent_conf_t, alert_interval, "10", 0.0,
                     86400.0,
                     "a robot that stays stopped alerts again after this many seconds (by the "
                     "record timestamps); 0: at every stopped cycle"),
    RULE("retreat_risk", retreat_risk, "0.8", 0.0, 1.0,
         "RETREAT at this risk when the forecast hand comes closer"),
    RULE("retreat_distance", retreat_dist, "0.2", 0.0, 2.0, "how far RETREAT backs off, m"),
    RULE("handover_probability", handover_prob, "0.5", 0.0, 1.0,
         "HANDOVER_POSE when HANDOVER is the most likely intent with this probability"),
    RULE("handover_offset", handover_offset, "0.15", 0.0, 1.0,
         "the handover pose's distance short of the forecast hand, m"),
    RULE("yield_radius", yield_radius, "0.3", 0.0, 2.0,
         "YIELD when a reach or grab ends this close to the end effector, m"),
    RULE("point_probability", point_prob, "0.5", 0.0, 1.0,
         "APPROACH the pointed target when POINT is the most likely intent with this "
         "probability"),
    RULE("approach_height", approach_height, "0.1", 0.0, 1.0,
         "APPROACH's goal: this far above the pointed target, m"),
    GS_KIND_RATE_KEYS("intent", intent_conf_t, "only the separation checked"),
};

static const gs_config_section_t section = {
    .name = "intent",
    .doc = "The intent kind (SPEC 1.3): `IntentRequest` in, `IntentResult` out, keyed by "
           "`robot_id`; human intent, hand forecast, ISO/TS 15066 separation and a constrained "
           "MPC for a collaborative robot.",
    .keys = keys,
    .n_keys = sizeof(keys) / sizeof(keys[0]),
    .size = sizeof(intent_conf_t),
    .check = check,
};

static gs_err_t check_model(const char *path, char *errstr, size_t n)
{
    intent_model_t *m;
    gs_err_t err = intent_model_load(path, &m, errstr, n);
    intent_model_destroy(err ? NULL : m);
    return err;
}

static const gs_kind_command_t commands[] = {
    {"intent", "sample --out FILE [--n N] [--seed N] [--fraction F] (--help)", intent_cmd},
    {NULL, NULL, NULL},
};

const gs_kind_ops_t gs_kind_intent = {
    .name = "intent",
    .request = &gs_avro_type_intent_request,
    .result = &gs_avro_type_intent_result,
    .key_field = "robot_id",
    .config = &section,
    .create = create,
    .destroy = destroy,
    .load_models = load_models,
    .process = process,
    .stores = stores,
    .load = &gs_intent_load,
    .train = intent_train_cmd,
    .model_kind = GS_MODEL_KIND_INTENT,
    .check_model = check_model,
    .commands = commands,
};
