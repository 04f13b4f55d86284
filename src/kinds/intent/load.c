/* govstream-load's side of the intent kind: scenes from the trajectory
 * generator (deterministic per --seed), requests from JSON (--from), and
 * the verifier's JSON line of a result. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "govstream/kind_load.h"
#include "internal.h"

static void generate(const gs_load_params_t *p, long i, gs_rng_t *rng, void *request, gs_arena_t *a)
{
    static _Thread_local gen_out_t g;
    gs_avro_intent_request_t *r = request;
    *r = (gs_avro_intent_request_t){.horizon_ms = 500};
    r->request_id = gs_kind_printf(a, "%s-%ld", p->run_id, i);
    r->robot_id =
        gs_kind_printf(a, "%s-r%ld", p->run_id, (long)(gs_rng_next(rng) % (uint64_t)p->keys));
    r->tenant = gs_kind_printf(a, "tenant-%ld", (long)(gs_rng_next(rng) % (uint64_t)p->tenants));
    gen_conf_t c = {.seed = gs_rng_next(rng),
                    .noise_seed = gs_rng_next(rng),
                    .subject_seed = 13,
                    .subject = (long)(gs_rng_next(rng) % 64),
                    .intent = -1,
                    .fraction = 0.3 + 0.7 * gs_rng_unit(rng)};
    gen_scene(&c, &g);
    gen_to_request(&g, r, a);
}

static double num(json_t *o, const char *field)
{
    json_t *v = json_object_get(o, field);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static gs_avro_vec3_t vec_json(json_t *o)
{
    return (gs_avro_vec3_t){num(o, "x"), num(o, "y"), num(o, "z")};
}

/* Arrays go into the arena; a missing number is NaN, so validation names
 * it. */
static gs_err_t arrays_json(json_t *j, gs_avro_intent_request_t *r, gs_arena_t *a, char *errstr,
                            size_t n)
{
    json_t *hand = json_object_get(j, "hand"), *tg = json_object_get(j, "targets");
    json_t *ob = json_object_get(j, "obstacles");
    r->n_hand = json_array_size(hand);
    r->n_targets = json_array_size(tg);
    r->n_obstacles = json_array_size(ob);
    r->hand = gs_arena_alloc(a, (r->n_hand + 1) * sizeof(*r->hand));
    r->targets = gs_arena_alloc(a, (r->n_targets + 1) * sizeof(*r->targets));
    r->obstacles = gs_arena_alloc(a, (r->n_obstacles + 1) * sizeof(*r->obstacles));
    if (!r->hand || !r->targets || !r->obstacles)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < r->n_hand; i++) {
        json_t *s = json_array_get(hand, i);
        gs_avro_vec3_t p = vec_json(s);
        r->hand[i] = (gs_avro_hand_sample_t){
            .t_ms = json_integer_value(json_object_get(s, "t_ms")), .x = p.x, .y = p.y, .z = p.z};
    }
    for (size_t i = 0; i < r->n_targets; i++) {
        json_t *t = json_array_get(tg, i);
        r->targets[i].id = gs_avro_cstr("");
        gs_kind_json_str(t, "id", &r->targets[i].id);
        r->targets[i].position = vec_json(json_object_get(t, "position"));
    }
    for (size_t i = 0; i < r->n_obstacles; i++) {
        json_t *o = json_array_get(ob, i);
        r->obstacles[i] = (gs_avro_obstacle_t){.position = vec_json(json_object_get(o, "position")),
                                               .radius = num(o, "radius")};
    }
    return GS_OK;
}

static gs_err_t from_json(json_t *j, void *request, gs_arena_t *a, char *errstr, size_t n)
{
    gs_avro_intent_request_t *r = request;
    gs_err_t err = gs_avro_set_defaults_node(gs_avro_type_intent_request.node, r, a, errstr, n);
    if (err)
        return err;
    r->request_id = r->robot_id = gs_avro_cstr("");
    gs_kind_json_str(j, "request_id", &r->request_id);
    gs_kind_json_str(j, "robot_id", &r->robot_id);
    gs_kind_json_str(j, "tenant", &r->tenant);
    json_t *robot = json_object_get(j, "robot");
    r->robot = (gs_avro_robot_state_t){.position = vec_json(json_object_get(robot, "position")),
                                       .velocity = vec_json(json_object_get(robot, "velocity"))};
    json_t *h = json_object_get(j, "horizon_ms");
    if (json_is_integer(h))
        r->horizon_ms = (int32_t)json_integer_value(h);
    r->created_at_ms = (int64_t)time(NULL) * 1000;
    return arrays_json(j, r, a, errstr, n);
}

static void invalidate(void *request)
{
    gs_avro_intent_request_t *r = request;
    if (r->n_hand)
        r->hand[r->n_hand / 2].x = NAN;
}

static json_t *vec_dump(gs_avro_vec3_t v)
{
    return json_pack("{s:f,s:f,s:f}", "x", v.x, "y", v.y, "z", v.z);
}

static json_t *intents_json(const gs_avro_intent_result_t *r)
{
    static const char *const names[] = {"REACH", "GRAB", "HANDOVER", "POINT", "WAVE", "IDLE"};
    json_t *arr = json_array();
    for (size_t i = 0; i < r->n_intents; i++)
        json_array_append_new(arr, json_pack("{s:s,s:f}", "intent",
                                             names[r->intents[i].intent % N_INTENTS], "probability",
                                             r->intents[i].probability));
    return arr;
}

/* Every result field a test may check. */
static json_t *dump(const void *result)
{
    static const char *const commands[] = {"CONTINUE", "APPROACH", "HANDOVER_POSE",
                                           "YIELD",    "RETREAT",  "STOP"};
    const gs_avro_intent_result_t *r = result;
    json_t *j = json_pack(
        "{s:s#,s:s#,s:s#,s:b,s:s#,s:s,s:o,s:o,s:s#}", "request_id", r->request_id.p,
        r->request_id.len, "robot_id", r->robot_id.p, r->robot_id.len, "tenant", r->tenant.p,
        r->tenant.len, "accepted", r->accepted, "note", r->note.p, r->note.len, "command",
        commands[r->command % 6], "predicted_hand", vec_dump(r->predicted_hand), "acceleration",
        vec_dump(r->acceleration), "worker_id", r->worker_id.p, r->worker_id.len);
    json_object_set_new(j, "intents", intents_json(r));
    json_object_set_new(j, "target_id",
                        r->has_target_id ? json_stringn(r->target_id.p, r->target_id.len)
                                         : json_null());
    json_object_set_new(j, "goal", r->has_goal ? vec_dump(r->goal) : json_null());
    json_object_set_new(j, "mpc",
                        json_pack("{s:s#,s:i,s:f,s:I}", "status", r->mpc.status.p,
                                  r->mpc.status.len, "iterations", r->mpc.iterations, "cost",
                                  r->mpc.cost, "solve_us", (json_int_t)r->mpc.solve_us));
    json_object_set_new(j, "safety",
                        json_pack("{s:f,s:f,s:f,s:b}", "min_distance", r->safety.min_distance,
                                  "protective_distance", r->safety.protective_distance, "risk",
                                  r->safety.risk, "emergency_stop", r->safety.emergency_stop));
    gs_kind_dump_envelope(j, &r->model, &r->timings, &r->source, r->processed_at_ms);
    return j;
}

const gs_kind_load_t gs_intent_load = {
    .generate = generate,
    .from_json = from_json,
    .invalidate = invalidate,
    .dump = dump,
};
