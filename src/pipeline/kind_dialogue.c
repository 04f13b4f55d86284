/* The dialogue kind, per micro-batch: view + validate every request ->
 * govern (moral value, filter, rhythm) -> [model: SPEC 4, not built yet, so
 * predictions stay empty and model names nothing] -> memory (retrieve
 * context, commit, consolidate) -> results. Stages that run on the whole
 * batch report each request an equal share of their time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/dialogue.h"
#include "govstream/govern.h"
#include "kind.h"

typedef struct dialogue {
    gs_dialogue_codec_t *codec;
    gs_lexicon_t *lexicon;
    gs_govern_t *govern;
    int scope_by;
    size_t cap;                   /* batch.max */
    gs_dialogue_request_t *views; /* cap */
    gs_govern_req_t *greqs;       /* cap */
    gs_item_t **valid;            /* cap: items that reached governance */
} dialogue_t;

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
    gs_err_t gerr = gs_govern_decide(d->govern, d->greqs, m, err, sizeof(err));
    if (!gerr)
        gerr = gs_govern_memory(d->govern, d->greqs, m, err, sizeof(err));
    int64_t t_governed = gs_now_us();
    int64_t govern_share = m ? (t_governed - env->decoded_us) / (int64_t)m : 0;

    for (size_t j = 0; j < m; j++) {
        gs_item_t *it = d->valid[j];
        const gs_govern_req_t *g = &d->greqs[j];
        const gs_dialogue_request_t *req = &d->views[j];
        if (gerr || g->err) {
            it->err = gerr ? GS_ERR_INTERNAL : g->err;
            snprintf(it->errmsg, sizeof(it->errmsg), "governance: %s",
                     gerr ? err : gs_err_name(g->err));
            continue;
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
            .model = {"", "", ""},
            .timings = {it->decode_us, govern_share, 0, gs_now_us() - env->start_us},
            .source = {rd_kafka_topic_name(it->msg->rkt), it->msg->partition, it->msg->offset},
            .worker_id = env->worker_id,
            .processed_at_ms = env->wall_ms,
        };
        it->err = gs_dialogue_result_encode(d->codec, &res, k->result_schema_id, it->out,
                                            it->errmsg, sizeof(it->errmsg));
        it->out_key = req->session_id;
    }
}

static void destroy(gs_kind_t *k)
{
    dialogue_t *d = k->state;
    if (d) {
        gs_govern_destroy(d->govern);
        gs_lexicon_destroy(d->lexicon);
        gs_dialogue_codec_destroy(d->codec);
        free(d->views);
        free(d->greqs);
        free(d->valid);
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
    k->destroy = destroy;
    k->result_schema_id = -1;
    d->scope_by = cfg->governance.scope;
    d->cap = (size_t)cfg->batch.max;
    d->views = calloc(d->cap, sizeof(*d->views));
    d->greqs = calloc(d->cap, sizeof(*d->greqs));
    d->valid = calloc(d->cap, sizeof(gs_item_t *));
    gs_govern_conf_t gc;
    gs_govern_conf_from(&gc, cfg);
    gs_err_t err = d->views && d->greqs && d->valid ? GS_OK : GS_ERR_NOMEM;
    if (err)
        gs_fail(errstr, n, err, "out of memory");
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
    k->request_schema = gs_dialogue_request_schema(d->codec);
    k->result_schema = gs_dialogue_result_schema(d->codec);
    *out = k;
    return GS_OK;
}
