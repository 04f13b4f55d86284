/* govstream-load's side of the dialogue kind: synthetic dialogue windows
 * built from a fixed phrase list (deterministic per --seed), requests from
 * JSON (--from), and the verifier's JSON line of a result. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static const char *const phrases[] = {"hello there",
                                      "can you help me plan a trip",
                                      "thanks for the support",
                                      "what is the weather like",
                                      "i want to learn about peace and trust",
                                      "tell me a story",
                                      "the meeting was fair and honest",
                                      "please protect my data",
                                      "how do i fix this bug",
                                      "i hate waiting in line",
                                      "that movie had too much violence",
                                      "let us collaborate on it",
                                      "we should respect the rules",
                                      "is it safe to swim here",
                                      "that was kind of you",
                                      "the game lets you attack and destroy the base",
                                      "good morning",
                                      "see you tomorrow"};
#define N_PHRASES (sizeof(phrases) / sizeof(phrases[0]))

/* The draws happen in a fixed order (statements, not an initializer list,
 * whose order C leaves open), so a seed always makes the same run. */
static void generate(const gs_load_params_t *p, long i, gs_rng_t *rng, void *request, gs_arena_t *a)
{
    gs_avro_dialogue_request_t *r = request;
    *r = (gs_avro_dialogue_request_t){.top_k = 5, .max_tokens = 32, .context_top_k = 5};
    r->request_id = gs_kind_printf(a, "%s-%ld", p->run_id, i);
    r->session_id =
        gs_kind_printf(a, "%s-s%ld", p->run_id, (long)(gs_rng_next(rng) % (uint64_t)p->keys));
    r->tenant = gs_kind_printf(a, "tenant-%ld", (long)(gs_rng_next(rng) % (uint64_t)p->tenants));
    r->op = (gs_avro_dialogue_op_t)(gs_rng_next(rng) % 3);
    r->n_turns = 1 + gs_rng_next(rng) % 4;
    r->turns = gs_arena_alloc(a, r->n_turns * sizeof(*r->turns));
    for (size_t t = 0; t < r->n_turns; t++) {
        uint64_t k = gs_rng_next(rng) % N_PHRASES;
        if (r->turns)
            r->turns[t] = gs_avro_cstr(phrases[k]);
    }
    if (!r->turns)
        r->n_turns = 0;
    r->has_moral_value = gs_rng_unit(rng) < p->moral_given;
    r->moral_value = gs_rng_unit(rng);
    r->created_at_ms = (int64_t)time(NULL) * 1000;
}

static void take_int(json_t *j, const char *field, int32_t *dst)
{
    json_t *v = json_object_get(j, field);
    if (json_is_integer(v))
        *dst = (int32_t)json_integer_value(v);
}

/* Strings stay owned by the JSON document; the schema's defaults fill what
 * the object leaves out (the ids, which have none, are empty, and the op
 * is TOP_K), and created_at_ms is now. */
static gs_err_t from_json(json_t *j, void *request, gs_arena_t *a, char *errstr, size_t n)
{
    static const char *const ops[] = {"NEXT_TOKEN", "TOP_K", "GENERATE"};
    gs_avro_dialogue_request_t *r = request;
    gs_err_t err = gs_avro_set_defaults_node(gs_avro_type_dialogue_request.node, r, a, errstr, n);
    if (err)
        return err;
    r->request_id = r->session_id = gs_avro_cstr("");
    r->op = GS_AVRO_DIALOGUE_OP_TOP_K;
    gs_kind_json_str(j, "request_id", &r->request_id);
    gs_kind_json_str(j, "session_id", &r->session_id);
    gs_kind_json_str(j, "tenant", &r->tenant);
    take_int(j, "top_k", &r->top_k);
    take_int(j, "max_tokens", &r->max_tokens);
    take_int(j, "context_top_k", &r->context_top_k);
    json_t *turns = json_object_get(j, "turns"), *mv = json_object_get(j, "moral_value");
    r->has_moral_value = json_is_number(mv);
    r->moral_value = json_is_number(mv) ? json_number_value(mv) : 0;
    r->created_at_ms = (int64_t)time(NULL) * 1000;
    const char *op = json_string_value(json_object_get(j, "op"));
    for (int i = 0; op && i < 3; i++)
        if (!strcmp(op, ops[i]))
            r->op = (gs_avro_dialogue_op_t)i;
    size_t count = json_array_size(turns);
    r->turns = gs_arena_alloc(a, (count + 1) * sizeof(*r->turns));
    if (!r->turns)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    size_t i;
    json_t *t;
    json_array_foreach(turns, i, t) /* all of them: a test may send too many */
    {
        if (json_is_string(t))
            r->turns[r->n_turns++] = (gs_str_t){json_string_value(t), json_string_length(t)};
    }
    return GS_OK;
}

static void invalidate(void *request)
{
    gs_avro_dialogue_request_t *r = request;
    r->has_moral_value = true;
    r->moral_value = NAN;
}

static json_t *str_json(gs_str_t s)
{
    return json_stringn(s.p, s.len);
}

/* Every result field a test may check. */
static json_t *dump(const void *result)
{
    static const char *const phases[] = {"WAKE", "SLEEP"};
    const gs_avro_dialogue_result_t *r = result;
    json_t *j = json_pack("{s:o,s:o,s:o,s:b,s:o,s:s,s:I,s:f,s:f,s:I,s:o}", "request_id",
                          str_json(r->request_id), "session_id", str_json(r->session_id), "tenant",
                          str_json(r->tenant), "accepted", r->accepted, "note", str_json(r->note),
                          "phase", phases[r->phase == GS_AVRO_PHASE_SLEEP], "step",
                          (json_int_t)r->step, "moral_threshold", r->moral_threshold, "moral_value",
                          r->moral_value, "context_items", (json_int_t)r->context_items,
                          "worker_id", str_json(r->worker_id));
    json_t *preds = json_array();
    for (size_t i = 0; i < r->n_predictions; i++)
        json_array_append_new(preds, json_pack("[o,f]", str_json(r->predictions[i].token),
                                               r->predictions[i].probability));
    json_object_set_new(j, "predictions", preds);
    json_t *context = json_array();
    for (size_t i = 0; i < r->n_context; i++)
        json_array_append_new(
            context, json_pack("{s:o,s:f,s:s}", "memory_id", str_json(r->context[i].memory_id),
                               "score", r->context[i].score, "phase",
                               phases[r->context[i].phase == GS_AVRO_PHASE_SLEEP]));
    json_object_set_new(j, "context", context);
    json_object_set_new(j, "text", r->has_text ? str_json(r->text) : json_null());
    gs_kind_dump_envelope(j, &r->model, &r->timings, &r->source, r->processed_at_ms);
    return j;
}

const gs_kind_load_t gs_dialogue_load = {
    .generate = generate,
    .from_json = from_json,
    .invalidate = invalidate,
    .dump = dump,
};
