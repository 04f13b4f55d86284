/* The dialogue kind: validate -> moral value -> govern -> [model: SPEC 4,
 * not yet built, so predictions stay empty and model names nothing] ->
 * result. */
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
} dialogue_t;

static void process(gs_kind_t *k, gs_item_t *const *items, size_t n, const gs_batch_env_t *env)
{
    dialogue_t *d = k->state;
    int64_t prev = env->decoded_us;
    for (size_t i = 0; i < n; i++) {
        gs_item_t *it = items[i];
        if (it->err)
            continue;
        gs_dialogue_request_t req;
        gs_verdict_t v;
        it->err =
            gs_dialogue_request_view(d->codec, it->request, &req, it->errmsg, sizeof(it->errmsg));
        if (!it->err)
            it->err = gs_dialogue_request_validate(&req, it->errmsg, sizeof(it->errmsg));
        if (!it->err)
            it->err = gs_govern_decide(
                d->govern, d->scope_by == GS_SCOPE_SESSION ? req.session_id : req.tenant,
                req.has_moral_value, req.moral_value, req.turns, req.n_turns, &v, it->errmsg,
                sizeof(it->errmsg));
        if (it->err)
            continue;
        int64_t t_done = gs_now_us();
        int64_t govern_us = t_done - prev;
        prev = t_done;
        gs_dialogue_result_t res = {
            .request_id = req.request_id,
            .session_id = req.session_id,
            .tenant = req.tenant,
            .accepted = v.accepted,
            .note = v.note,
            .phase = v.phase,
            .step = v.step,
            .moral_threshold = v.moral_threshold,
            .moral_value = v.moral_value,
            .context_items = v.context_items,
            .model = {"", "", ""},
            .timings = {it->decode_us, govern_us, 0, t_done - env->start_us},
            .source = {rd_kafka_topic_name(it->msg->rkt), it->msg->partition, it->msg->offset},
            .worker_id = env->worker_id,
            .processed_at_ms = env->wall_ms,
        };
        it->err = gs_dialogue_result_encode(d->codec, &res, k->result_schema_id, it->out,
                                            it->errmsg, sizeof(it->errmsg));
        it->out_key = req.session_id;
    }
}

static void destroy(gs_kind_t *k)
{
    dialogue_t *d = k->state;
    if (d) {
        gs_govern_destroy(d->govern);
        gs_lexicon_destroy(d->lexicon);
        gs_dialogue_codec_destroy(d->codec);
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
    gs_govern_conf_t gc;
    gs_govern_conf_from(&gc, cfg);
    gs_err_t err = gs_dialogue_codec_new(&d->codec, errstr, n);
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
