/* The dialogue kind, per micro-batch:
 *   view + validate every request -> govern (moral value, filter, rhythm) ->
 *   model (NEXT_TOKEN / TOP_K / GENERATE for the accepted ones, batched) ->
 *   output checks on generated text (moral post-check, quality gate) ->
 *   memory (retrieve context, commit, consolidate) -> results.
 * Stages that run on the whole batch report each request an equal share of
 * their time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/dialogue.h"
#include "govstream/govern.h"
#include "govstream/model.h"
#include "kind.h"

#define NOTE_MAX 80

typedef struct dialogue {
    const gs_config_t *cfg;
    gs_dialogue_codec_t *codec;
    gs_lexicon_t *lexicon;
    gs_govern_t *govern;
    gs_dmodel_t *model; /* NULL: governance only */
    int scope_by;
    size_t cap; /* batch.max, the size of every array below */
    gs_dialogue_request_t *views;
    gs_govern_req_t *greqs;
    gs_item_t **valid; /* items that reached governance */
    gs_dm_query_t *queries;
    gs_dm_answer_t *answers;
    size_t *query_of;        /* request j -> its model query, or SIZE_MAX */
    char (*notes)[NOTE_MAX]; /* "quality_gate:<modes>" notes */
} dialogue_t;

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
static gs_err_t check_output(dialogue_t *d, size_t j, gs_dm_answer_t *a, char *err, size_t en)
{
    gs_govern_req_t *g = &d->greqs[j];
    gs_str_t text = {a->text, a->text_len};
    gs_quality_t q;
    if (gs_quality_check(d->views[j].turns, d->views[j].n_turns, text, &q))
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

/* Runs the model for the accepted requests of the batch, in one call. */
static gs_err_t infer(dialogue_t *d, size_t m, char *err, size_t en)
{
    size_t nq = 0;
    for (size_t j = 0; j < m; j++) {
        gs_govern_req_t *g = &d->greqs[j];
        const gs_dialogue_request_t *req = &d->views[j];
        d->query_of[j] = SIZE_MAX;
        if (g->err || !g->v.accepted)
            continue;
        d->queries[nq] = (gs_dm_query_t){
            .turns = req->turns,
            .n_turns = req->n_turns,
            .op = req->op == GS_OP_GENERATE ? GS_DM_GENERATE
                  : req->op == GS_OP_TOP_K  ? GS_DM_TOP_K
                                            : GS_DM_NEXT,
            .k = req->top_k,
            .max_tokens =
                req->max_tokens < g->v.max_tokens_cap ? req->max_tokens : g->v.max_tokens_cap,
            .sample_top_k = d->cfg->models.dialogue_sampling ? d->cfg->models.sampling_top_k : 0,
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

static void process(gs_kind_t *k, gs_item_t *const *items, size_t n, const gs_batch_env_t *env)
{
    dialogue_t *d = k->state;
    size_t m = 0;
    for (size_t i = 0; i < n && m < d->cap; i++) {
        gs_item_t *it = items[i];
        if (it->err)
            continue;
        gs_dialogue_request_t *req = &d->views[m];
        it->err =
            gs_dialogue_request_view(d->codec, it->request, req, it->errmsg, sizeof(it->errmsg));
        if (!it->err)
            it->err = gs_dialogue_request_validate(req, it->errmsg, sizeof(it->errmsg));
        if (it->err)
            continue;
        d->greqs[m] = (gs_govern_req_t){
            .scope = d->scope_by == GS_SCOPE_SESSION ? req->session_id : req->tenant,
            .has_value = req->has_moral_value,
            .value = req->moral_value,
            .texts = req->turns,
            .n_texts = req->n_turns,
            .context_top_k = req->context_top_k,
        };
        d->valid[m++] = it;
    }

    char err[256];
    gs_err_t e = gs_govern_decide(d->govern, d->greqs, m, err, sizeof(err));
    int64_t t_decided = gs_now_us();
    if (!e && d->model)
        e = infer(d, m, err, sizeof(err));
    int64_t t_inferred = gs_now_us();
    if (!e)
        e = gs_govern_memory(d->govern, d->greqs, m, err, sizeof(err));
    int64_t t_done = gs_now_us();
    int64_t govern_us = 0, infer_us = 0;
    if (m) {
        govern_us = ((t_decided - env->decoded_us) + (t_done - t_inferred)) / (int64_t)m;
        infer_us = (t_inferred - t_decided) / (int64_t)m;
    }

    for (size_t j = 0; j < m; j++) {
        gs_item_t *it = d->valid[j];
        const gs_govern_req_t *g = &d->greqs[j];
        const gs_dialogue_request_t *req = &d->views[j];
        if (e || g->err) {
            it->err = e ? GS_ERR_INTERNAL : g->err;
            snprintf(it->errmsg, sizeof(it->errmsg), "governance: %s",
                     e ? err : gs_err_name(g->err));
            continue;
        }
        gs_prediction_t preds[GS_DM_MAX_K];
        size_t n_preds = 0;
        const char *text = NULL;
        if (d->model && d->query_of[j] != SIZE_MAX) {
            const gs_dm_answer_t *a = &d->answers[d->query_of[j]];
            for (size_t p = 0; p < a->n_preds; p++)
                preds[n_preds++] = (gs_prediction_t){a->preds[p].token, a->preds[p].probability};
            if (d->queries[d->query_of[j]].op == GS_DM_GENERATE && g->v.accepted)
                text = a->text;
        }
        gs_dialogue_result_t res = {
            .request_id = req->request_id,
            .session_id = req->session_id,
            .tenant = req->tenant,
            .accepted = g->v.accepted,
            .note = g->v.note,
            .phase = g->v.phase,
            .step = g->v.step,
            .moral_threshold = g->v.moral_threshold,
            .moral_value = g->v.moral_value,
            .context_items = g->v.context_items,
            .predictions = preds,
            .n_predictions = n_preds,
            .text = text,
            .model = {d->model ? gs_dmodel_name(d->model) : "",
                      d->model ? gs_dmodel_version(d->model) : "",
                      d->model ? gs_dmodel_sha256(d->model) : ""},
            .timings = {it->decode_us, govern_us, infer_us, t_done - env->start_us},
            .source = {rd_kafka_topic_name(it->msg->rkt), it->msg->partition, it->msg->offset},
            .worker_id = env->worker_id,
            .processed_at_ms = env->wall_ms,
        };
        it->err = gs_dialogue_result_encode(d->codec, &res, k->result_schema_id, it->out,
                                            it->errmsg, sizeof(it->errmsg));
        it->out_key = req->session_id;
        it->accepted = g->v.accepted;
        it->govern_us = govern_us;
        it->infer_us = infer_us;
        it->total_us = t_done - env->start_us;
    }
}

/* Loads models.dialogue and swaps it in; the old one stays on failure. The
 * poll loop calls this between batches, so the swap is atomic for requests. */
static gs_err_t load_models(gs_kind_t *k, char *errstr, size_t n)
{
    dialogue_t *d = k->state;
    if (!*d->cfg->models.dialogue) {
        gs_dmodel_destroy(d->model);
        d->model = NULL;
        return GS_OK;
    }
    gs_dmodel_t *m;
    gs_err_t err = gs_dmodel_load(d->cfg->models.dialogue, &m, errstr, n);
    if (err)
        return err;
    gs_dmodel_destroy(d->model);
    d->model = m;
    return GS_OK;
}

static void destroy(gs_kind_t *k)
{
    dialogue_t *d = k->state;
    if (d) {
        gs_dmodel_destroy(d->model);
        gs_govern_destroy(d->govern);
        gs_lexicon_destroy(d->lexicon);
        gs_dialogue_codec_destroy(d->codec);
        free(d->views);
        free(d->greqs);
        free(d->valid);
        free(d->queries);
        free(d->answers);
        free(d->query_of);
        free(d->notes);
        free(d);
    }
    free(k);
}

gs_err_t gs_kind_dialogue_new(const gs_config_t *cfg, gs_kind_t **out, char *errstr, size_t n)
{
    gs_kind_t *k = calloc(1, sizeof(*k));
    dialogue_t *d = calloc(1, sizeof(*d));
    if (!k || !d) {
        free(k);
        free(d);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    k->name = "dialogue";
    k->cfg = &cfg->dialogue;
    k->state = d;
    k->process = process;
    k->load_models = load_models;
    k->destroy = destroy;
    k->result_schema_id = -1;
    d->cfg = cfg;
    d->scope_by = cfg->governance.scope;
    d->cap = (size_t)cfg->batch.max;
    d->views = calloc(d->cap, sizeof(*d->views));
    d->greqs = calloc(d->cap, sizeof(*d->greqs));
    d->valid = calloc(d->cap, sizeof(gs_item_t *));
    d->queries = calloc(d->cap, sizeof(*d->queries));
    d->answers = calloc(d->cap, sizeof(*d->answers));
    d->query_of = calloc(d->cap, sizeof(size_t));
    d->notes = calloc(d->cap, sizeof(*d->notes));
    gs_govern_conf_t gc;
    gs_govern_conf_from(&gc, cfg);
    gs_err_t err =
        d->views && d->greqs && d->valid && d->queries && d->answers && d->query_of && d->notes
            ? GS_OK
            : gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    if (!err)
        err = gs_dialogue_codec_new(&d->codec, errstr, n);
    if (!err)
        err = gs_lexicon_load(cfg->governance.harm_lexicon, cfg->governance.care_lexicon,
                              &d->lexicon, errstr, n);
    if (!err)
        err = gs_govern_new(&gc, d->lexicon, &d->govern, errstr, n);
    if (err) {
        destroy(k);
        return err;
    }
    k->govern = d->govern;
    k->request_schema = gs_dialogue_request_schema(d->codec);
    k->result_schema = gs_dialogue_result_schema(d->codec);
    *out = k;
    return GS_OK;
}
