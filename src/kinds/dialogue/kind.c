/* The dialogue kind, per micro-batch:
 *   validate every request -> govern (moral value, filter, rhythm) ->
 *   model (NEXT_TOKEN / TOP_K / GENERATE for the accepted ones, batched) ->
 *   output checks on generated text (moral post-check, quality gate) ->
 *   memory (retrieve context, commit, consolidate) -> results.
 * Stages that run on the whole batch report each request an equal share of
 * their time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/model.h"
#include "internal.h"

#define NOTE_MAX 80

typedef struct dialogue_conf {
    gs_config_kind_t stream; /* first: the worker reads it */
    char *model;             /* models.dialogue */
    int governance_only;
    int sampling; /* 0 greedy, 1 top_k */
    int sampling_top_k;
    int state_cache_mb; /* the model's per-session state cache (0: off) */
} dialogue_conf_t;

struct gs_kind {
    const dialogue_conf_t *conf;
    gs_lexicon_t *lexicon;
    gs_govern_t *govern;
    gs_store_t store;   /* the governor's scopes, per input partition */
    gs_dmodel_t *model; /* NULL: governance only */
    int scope_by;
    size_t cap; /* batch.max, the size of every array below */
    gs_govern_req_t *greqs;
    gs_item_t **valid; /* items that reached governance */
    gs_dm_query_t *queries;
    gs_dm_answer_t *answers;
    size_t *query_of;                             /* request j -> its model query, or SIZE_MAX */
    char (*notes)[NOTE_MAX];                      /* "quality_gate:<modes>" notes */
    gs_context_item_t (*context)[GS_CONTEXT_MAX]; /* by request: what was retrieved */
};

static const gs_avro_dialogue_request_t *req_of(const gs_item_t *it)
{
    return it->request;
}

static uint64_t seed_of(gs_str_t id)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < id.len; i++)
        h = (h ^ (unsigned char)id.p[i]) * 1099511628211ull;
    return h;
}

/* Generated text must score at least the request's moral value - 0.15
 * (SPEC 3.2) and pass the quality gate (SPEC 3.5). A failure rejects the
 * answer (no text, no memory write); a drift keeps it but out of memory. */
static gs_err_t check_output(gs_kind_t *d, size_t j, gs_dm_answer_t *a, char *err, size_t en)
{
    gs_govern_req_t *g = &d->greqs[j];
    const gs_avro_dialogue_request_t *req = req_of(d->valid[j]);
    gs_str_t text = {a->text, a->text_len};
    gs_quality_t q;
    if (gs_quality_check(req->turns, req->n_turns, text, &q))
        return gs_fail(err, en, GS_ERR_NOMEM, "out of memory in the quality gate");
    if (gs_lexicon_score(d->lexicon, &text, 1) < g->v.moral_value - 0.15) {
        g->v.accepted = 0;
        g->v.note = "morally rejected output";
    } else if (q.reject || q.degrade) {
        snprintf(d->notes[j], NOTE_MAX, "quality_gate:%s", q.modes);
        g->v.note = d->notes[j];
        g->v.accepted = !q.reject;
    }
    if (!g->v.accepted || q.degrade)
        g->commit = 0;
    g->output = g->v.accepted ? text : (gs_str_t){NULL, 0};
    return GS_OK;
}

static gs_dm_op_t model_op(gs_avro_dialogue_op_t op)
{
    return op == GS_AVRO_DIALOGUE_OP_GENERATE ? GS_DM_GENERATE
           : op == GS_AVRO_DIALOGUE_OP_TOP_K  ? GS_DM_TOP_K
                                              : GS_DM_NEXT;
}

/* Runs the model for the accepted requests of the batch, in one call. */
static gs_err_t infer(gs_kind_t *d, size_t m, char *err, size_t en)
{
    size_t nq = 0;
    for (size_t j = 0; j < m; j++) {
        const gs_govern_req_t *g = &d->greqs[j];
        const gs_avro_dialogue_request_t *req = req_of(d->valid[j]);
        d->query_of[j] = SIZE_MAX;
        if (g->err || !g->v.accepted)
            continue;
        d->queries[nq] = (gs_dm_query_t){
            .turns = req->turns,
            .n_turns = req->n_turns,
            .session = req->session_id, /* the model's state cache */
            .op = model_op(req->op),
            .k = req->top_k,
            .max_tokens =
                req->max_tokens < g->v.max_tokens_cap ? req->max_tokens : g->v.max_tokens_cap,
            .sample_top_k = d->conf->sampling ? d->conf->sampling_top_k : 0,
            .seed = seed_of(req->request_id),
        };
        d->query_of[j] = nq++;
    }
    gs_err_t e = gs_dmodel_run(d->model, d->queries, nq, d->answers, err, en);
    for (size_t j = 0; !e && j < m; j++)
        if (d->query_of[j] != SIZE_MAX && d->queries[d->query_of[j]].op == GS_DM_GENERATE)
            e = check_output(d, j, &d->answers[d->query_of[j]], err, en);
    return e;
}

/* Validates and queues the batch's requests for governance; returns how
 * many reached it. */
static size_t admit(gs_kind_t *d, const gs_batch_t *b)
{
    size_t m = 0;
    for (size_t i = 0; i < b->n && m < d->cap; i++) {
        gs_item_t *it = b->items[i];
        const gs_avro_dialogue_request_t *req = req_of(it);
        if ((it->err = gs_dialogue_request_validate(req, it->errmsg, sizeof(it->errmsg))))
            continue;
        d->greqs[m] = (gs_govern_req_t){
            .partition = it->partition,
            .scope = d->scope_by == GS_SCOPE_SESSION ? req->session_id : req->tenant,
            .has_value = req->has_moral_value,
            .value = req->moral_value,
            .texts = req->turns,
            .n_texts = req->n_turns,
            .context_top_k = req->context_top_k,
            .memory_id = req->request_id,
            .context = d->context[m],
        };
        d->valid[m++] = it;
    }
    return m;
}

/* The model's predictions (and text) for request j, into its result. */
static int fill_answer(gs_kind_t *d, size_t j, gs_avro_dialogue_result_t *res, gs_arena_t *arena)
{
    if (!d->model || d->query_of[j] == SIZE_MAX)
        return 0;
    const gs_dm_answer_t *a = &d->answers[d->query_of[j]];
    res->predictions = gs_arena_alloc(arena, (a->n_preds + 1) * sizeof(*res->predictions));
    if (!res->predictions)
        return -1;
    for (size_t p = 0; p < a->n_preds; p++)
        res->predictions[p] =
            (gs_avro_prediction_t){gs_avro_cstr(a->preds[p].token), a->preds[p].probability};
    res->n_predictions = a->n_preds;
    if (d->queries[d->query_of[j]].op == GS_DM_GENERATE && d->greqs[j].v.accepted) {
        res->has_text = true;
        res->text = (gs_str_t){a->text, a->text_len};
    }
    return 0;
}

/* The memories retrieved for request j; they live in d->context until
 * the next batch, as long as the result does. */
static int fill_context(gs_kind_t *d, size_t j, gs_avro_dialogue_result_t *res, gs_arena_t *arena)
{
    size_t n = (size_t)d->greqs[j].v.context_items;
    res->context = gs_arena_alloc(arena, (n + 1) * sizeof(*res->context));
    if (!res->context)
        return -1;
    for (size_t c = 0; c < n; c++) {
        const gs_context_item_t *ci = &d->context[j][c];
        res->context[c] = (gs_avro_context_item_t){
            .memory_id = {ci->id, ci->id_len},
            .score = ci->score,
            .phase = ci->phase > 0.5f ? GS_AVRO_PHASE_SLEEP : GS_AVRO_PHASE_WAKE,
        };
    }
    res->n_context = n;
    return 0;
}

static void fill_result(gs_kind_t *d, size_t j, gs_arena_t *arena)
{
    gs_item_t *it = d->valid[j];
    const gs_verdict_t *v = &d->greqs[j].v;
    gs_avro_dialogue_result_t *res = it->result;
    int answered = v->accepted && !d->conf->governance_only;
    *res = (gs_avro_dialogue_result_t){
        .accepted = answered,
        /* governance only: say so rather than "processed" with no prediction */
        .note = gs_avro_cstr(v->accepted && !answered ? "no model" : v->note),
        .phase = (gs_avro_phase_t)v->phase,
        .step = v->step,
        .moral_threshold = v->moral_threshold,
        .moral_value = v->moral_value,
        .context_items = v->context_items,
        .model = {gs_avro_cstr(d->model ? gs_dmodel_name(d->model) : ""),
                  gs_avro_cstr(d->model ? gs_dmodel_version(d->model) : ""),
                  gs_avro_cstr(d->model ? gs_dmodel_sha256(d->model) : "")},
    };
    if (fill_answer(d, j, res, arena) || fill_context(d, j, res, arena)) {
        it->err = gs_fail(it->errmsg, sizeof(it->errmsg), GS_ERR_INTERNAL, "out of memory");
        return;
    }
    it->accepted = answered;
}

static void process(gs_kind_t *d, const gs_batch_t *b)
{
    int64_t t0 = gs_now_us();
    size_t m = admit(d, b);
    char err[256];
    gs_err_t e = gs_govern_decide(d->govern, d->greqs, m, err, sizeof(err));
    int64_t t_decided = gs_now_us();
    if (!e && d->model)
        e = infer(d, m, err, sizeof(err));
    int64_t t_inferred = gs_now_us();
    if (!e)
        e = gs_govern_memory(d->govern, d->greqs, m, err, sizeof(err));
    int64_t t_done = gs_now_us();
    int64_t govern_us = m ? ((t_decided - t0) + (t_done - t_inferred)) / (int64_t)m : 0;
    int64_t infer_us = m ? (t_inferred - t_decided) / (int64_t)m : 0;
    for (size_t j = 0; j < m; j++) {
        gs_item_t *it = d->valid[j];
        const gs_govern_req_t *g = &d->greqs[j];
        if (e || g->err) {
            it->err = e ? GS_ERR_INTERNAL : g->err;
            snprintf(it->errmsg, sizeof(it->errmsg), "governance: %s",
                     e ? err : gs_err_name(g->err));
            continue;
        }
        fill_result(d, j, b->arena);
        it->govern_us = govern_us;
        it->infer_us = infer_us;
    }
}

/* Loads models.dialogue and swaps it in; the old one stays on failure. The
 * poll loop calls this between batches, so the swap is atomic for requests. */
static gs_err_t load_models(gs_kind_t *d, char *errstr, size_t n)
{
    if (d->conf->governance_only)
        return GS_OK;
    if (!*d->conf->model)
        return gs_fail(errstr, n, GS_ERR_CONFIG,
                       "no model configured: set models.dialogue (govstream train dialogue), or "
                       "dialogue.governance_only = true");
    gs_dmodel_t *m = NULL;
    gs_err_t err = gs_dmodel_load(d->conf->model, &m, errstr, n);
    if (!err)
        err = gs_dmodel_set_cache(m, (size_t)d->conf->state_cache_mb << 20, errstr, n);
    if (err) {
        gs_dmodel_destroy(m);
        return err;
    }
    gs_dmodel_destroy(d->model);
    d->model = m;
    return GS_OK;
}

static void destroy(gs_kind_t *d)
{
    if (!d)
        return;
    gs_dmodel_destroy(d->model);
    gs_govern_destroy(d->govern);
    gs_lexicon_destroy(d->lexicon);
    free(d->greqs);
    free(d->valid);
    free(d->queries);
    free(d->answers);
    free(d->query_of);
    free(d->notes);
    free(d->context);
    free(d);
}

static gs_err_t create(const gs_config_t *cfg, const void *conf, gs_kind_t **out, char *errstr,
                       size_t n)
{
    gs_kind_t *d = calloc(1, sizeof(*d));
    if (!d)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    d->conf = conf;
    d->scope_by = cfg->governance.scope;
    d->cap = (size_t)cfg->batch.max;
    d->greqs = calloc(d->cap, sizeof(*d->greqs));
    d->valid = calloc(d->cap, sizeof(gs_item_t *));
    d->queries = calloc(d->cap, sizeof(*d->queries));
    d->answers = calloc(d->cap, sizeof(*d->answers));
    d->query_of = calloc(d->cap, sizeof(*d->query_of));
    d->notes = calloc(d->cap, sizeof(*d->notes));
    d->context = calloc(d->cap, sizeof(*d->context));
    gs_govern_conf_t gc;
    gs_govern_conf_from(&gc, cfg);
    gc.changelog = cfg->state.changelog;
    gs_err_t err =
        d->greqs && d->valid && d->queries && d->answers && d->query_of && d->notes && d->context
            ? GS_OK
            : gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    if (!err)
        err = gs_lexicon_load(cfg->governance.harm_lexicon, cfg->governance.care_lexicon,
                              &d->lexicon, errstr, n);
    if (!err)
        err = gs_govern_new(&gc, d->lexicon, &d->govern, errstr, n);
    if (err) {
        destroy(d);
        return err;
    }
    *out = d;
    return GS_OK;
}

static const gs_govern_t *governance(const gs_kind_t *d)
{
    return d->govern;
}

static size_t stores(gs_kind_t *d, const gs_store_t **out)
{
    d->store = (gs_store_t){"dialogue.scopes", &gs_govern_store_ops, d->govern};
    *out = &d->store;
    return 1;
}

static gs_err_t check(const gs_config_t *cfg, const void *conf, char *errstr, size_t n)
{
    return gs_kind_check_stream(cfg, &((const dialogue_conf_t *)conf)->stream, errstr, n);
}

static const char *const sampling_names[] = {"greedy", "top_k", NULL};

static const gs_config_key_t keys[] = {
    GS_KIND_STREAM_KEYS("dialogue", dialogue_conf_t, "true"),
    GS_CONFIG_PATH("models.dialogue", dialogue_conf_t, model, "../.cache/models/dialogue.gsm",
                   "dialogue model file (`govstream train dialogue`); the default is the one "
                   "`ops/quickstart.sh` trains. Without a model the worker is not ready, unless "
                   "`dialogue.governance_only`"),
    GS_CONFIG_BOOL("dialogue.governance_only", dialogue_conf_t, governance_only, "false",
                   "serve without a model: governance (verdict, threshold, phase, memory) only; "
                   "accepted requests are answered `accepted = false`, note `no model`"),
    GS_CONFIG_ENUM("dialogue.sampling", dialogue_conf_t, sampling, "greedy", sampling_names,
                   "GENERATE: `greedy` or `top_k` (seeded by the request id, so repeatable)"),
    GS_CONFIG_INT("dialogue.sampling_top_k", dialogue_conf_t, sampling_top_k, "20", 1, 20,
                  "`top_k` sampling draws among this many tokens"),
    GS_CONFIG_INT("dialogue.state_cache_mb", dialogue_conf_t, state_cache_mb, "8", 0, 16384,
                  "MiB of reservoir states kept per worker, by `session_id`: a request that "
                  "extends its session's last window reads only the new tokens (the same "
                  "answers); least recently used sessions are evicted; `0`: off"),
};

static const gs_config_section_t section = {
    .name = "dialogue",
    .doc = "The dialogue kind (SPEC 1.1): `DialogueRequest` in, `DialogueResult` out, keyed by "
           "`session_id`; the full governance flow and the dialogue model.",
    .keys = keys,
    .n_keys = sizeof(keys) / sizeof(keys[0]),
    .size = sizeof(dialogue_conf_t),
    .check = check,
};

static gs_err_t check_model(const char *path, char *errstr, size_t n)
{
    gs_dmodel_t *m = NULL;
    gs_err_t err = gs_dmodel_load(path, &m, errstr, n);
    gs_dmodel_destroy(m);
    return err;
}

const gs_kind_ops_t gs_kind_dialogue = {
    .name = "dialogue",
    .request = &gs_avro_type_dialogue_request,
    .result = &gs_avro_type_dialogue_result,
    .key_field = "session_id",
    .config = &section,
    .create = create,
    .destroy = destroy,
    .load_models = load_models,
    .process = process,
    .governance = governance,
    .stores = stores,
    .load = &gs_dialogue_load,
    .train = gs_dialogue_train,
    .model_kind = GS_MODEL_KIND_DIALOGUE,
    .check_model = check_model,
};
