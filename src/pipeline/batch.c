/* One micro-batch: frame, resolve and decode every message into its kind's
 * generated struct; give each kind its requests in one call; write every
 * result's SPEC 1.2 envelope, encode it and produce it, or a dead letter.
 * Kinds come from the table given to gs_worker_new; none is named here. */
#include <stdlib.h>
#include <string.h>

#include "govstream/kinds.h"
#include "govstream/schemas.h"
#include "internal.h"

/* ---- the kinds ----------------------------------------------------------- */

/* Offset of record field `name`, which must have the node `want`. */
static gs_err_t field_at(const gs_kind_ops_t *ops, const gs_avro_type_t *type, const char *name,
                         const gs_avro_node_t *want, uint32_t *out, char *errstr, size_t n)
{
    const gs_avro_field_t *f = gs_avro_field(type->node, name);
    if (!f || f->type != want)
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "kind %s: %s lacks the SPEC 1.2 field %s (%s)",
                       ops->name, type->name, name,
                       want->name ? want->name : "a primitive of the envelope");
    *out = f->offset;
    return GS_OK;
}

/* Every kind's request and result carry the envelope; the worker fills it. */
static gs_err_t envelope_init(kind_rt_t *k, char *errstr, size_t n)
{
    const gs_kind_ops_t *o = k->ops;
    envelope_t *e = &k->env;
    const gs_avro_node_t *str = &gs_avro_node_string;
    uint32_t unused;
    gs_err_t err;
    if ((err = field_at(o, o->request, "request_id", str, &e->req_id, errstr, n)) ||
        (err = field_at(o, o->request, o->key_field, str, &e->req_key, errstr, n)) ||
        (err = field_at(o, o->request, "tenant", str, &e->req_tenant, errstr, n)) ||
        (err = field_at(o, o->result, "request_id", str, &e->res_id, errstr, n)) ||
        (err = field_at(o, o->result, o->key_field, str, &e->res_key, errstr, n)) ||
        (err = field_at(o, o->result, "tenant", str, &e->res_tenant, errstr, n)) ||
        (err = field_at(o, o->result, "accepted", &gs_avro_node_boolean, &unused, errstr, n)) ||
        (err = field_at(o, o->result, "note", str, &unused, errstr, n)) ||
        (err = field_at(o, o->result, "model", &gs_avro_node_model_ref, &unused, errstr, n)) ||
        (err = field_at(o, o->result, "timings", &gs_avro_node_timings, &e->timings, errstr, n)) ||
        (err = field_at(o, o->result, "source", &gs_avro_node_source, &e->source, errstr, n)) ||
        (err = field_at(o, o->result, "worker_id", str, &e->worker_id, errstr, n)))
        return err;
    return field_at(o, o->result, "processed_at_ms", &gs_avro_node_long, &e->processed_at, errstr,
                    n);
}

static gs_err_t kind_new(gs_worker_t *w, const gs_kind_ops_t *ops, const void *conf, kind_rt_t *k,
                         char *errstr, size_t n)
{
    *k = (kind_rt_t){.ops = ops, .stream = conf, .result_schema_id = -1};
    gs_err_t err = envelope_init(k, errstr, n);
    if (!err)
        err = gs_avro_schema_parse(ops->result->schema, strlen(ops->result->schema),
                                   &k->result_schema, errstr, n);
    if (!err) {
        k->requests = calloc(w->batch_max, ops->request->node->size);
        k->results = calloc(w->batch_max, ops->result->node->size);
        k->mine = calloc(w->batch_max, sizeof(gs_item_t *));
        if (!k->requests || !k->results || !k->mine)
            err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    if (!err)
        err = ops->create(w->cfg, conf, &k->k, errstr, n);
    return err;
}

static void kind_free(kind_rt_t *k)
{
    if (k->k)
        k->ops->destroy(k->k);
    gs_avro_schema_destroy(k->result_schema);
    free(k->requests);
    free(k->results);
    free(k->mine);
}

gs_err_t kinds_init(gs_worker_t *w, const gs_kind_ops_t *const *kinds, char *errstr, size_t n)
{
    size_t count = gs_kinds_count(kinds);
    w->kinds = calloc(count ? count : 1, sizeof(*w->kinds));
    if (!w->kinds)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const gs_config_kind_t *stream = gs_config_section(w->cfg, kinds[i]->name);
        if (!stream)
            return gs_fail(errstr, n, GS_ERR_INTERNAL, "kind %s: its configuration was not loaded",
                           kinds[i]->name);
        if (!stream->enabled)
            continue;
        /* counted first: a kind that fails half-made is freed with the rest */
        gs_err_t err = kind_new(w, kinds[i], stream, &w->kinds[w->n_kinds++], errstr, n);
        if (err)
            return err;
    }
    if (!w->n_kinds)
        return gs_fail(errstr, n, GS_ERR_CONFIG, "%s: no request kind is enabled",
                       *w->cfg->path ? w->cfg->path : "defaults");
    return GS_OK;
}

gs_err_t kinds_stores(gs_worker_t *w, char *errstr, size_t n)
{
    for (size_t i = 0; i < w->n_kinds && w->cfg->state.changelog; i++) {
        kind_rt_t *k = &w->kinds[i];
        const gs_store_t *stores = NULL;
        size_t count = k->ops->stores ? k->ops->stores(k->k, &stores) : 0;
        gs_err_t err =
            count ? gs_state_add(w->state, k->stream->requests_topic, stores, count, errstr, n)
                  : GS_OK;
        if (err)
            return err;
    }
    return GS_OK;
}

void kinds_destroy(gs_worker_t *w)
{
    for (size_t i = 0; i < w->n_kinds; i++)
        kind_free(&w->kinds[i]);
    free(w->kinds);
    w->kinds = NULL;
    w->n_kinds = 0;
}

static kind_rt_t *kind_of(gs_worker_t *w, const char *topic, size_t *idx)
{
    for (size_t i = 0; i < w->n_kinds; i++) {
        if (!strcmp(w->kinds[i].stream->requests_topic, topic)) {
            *idx = i;
            return &w->kinds[i];
        }
    }
    return NULL;
}

/* ---- decoding ------------------------------------------------------------ */

/* Frame, resolve the writer schema and decode one message into request.
 * Returns GS_ERR_TRANSPORT (registry unreachable) to stop the batch; any
 * other failure is recorded in the item as its dead-letter reason. */
static gs_err_t decode_item(gs_worker_t *w, kind_rt_t *k, witem_t *it, void *request)
{
    const rd_kafka_message_t *m = it->msg;
    const uint8_t *payload;
    size_t plen;
    char *e = it->pub.errmsg;
    size_t en = sizeof(it->pub.errmsg);
    it->schema_id = -1;
    if (!m->payload)
        return it->pub.err = gs_fail(e, en, GS_ERR_DECODE, "message has no value"), GS_OK;
    int limit = k->stream->max_request_bytes > 0 ? k->stream->max_request_bytes
                                                 : w->cfg->limits.max_request_bytes;
    if (m->len > (size_t)limit)
        return it->pub.err =
                   gs_fail(e, en, GS_ERR_TOO_LARGE, "value of %zu bytes exceeds %d", m->len, limit),
               GS_OK;
    if ((it->pub.err = gs_frame_parse(m->payload, m->len, (gs_framing_t)k->stream->input_framing,
                                      &it->schema_id, &payload, &plen, e, en)))
        return GS_OK;
    if (it->schema_id < 0) {
        it->pub.err = k->ops->request->decode(payload, plen, &w->arena, request, e, en);
        return GS_OK;
    }
    gs_avro_schema_t *writer;
    const gs_avro_plan_t *plan;
    gs_err_t err = gs_registry_schema(w->registry, it->schema_id, &writer, e, en);
    if (err == GS_ERR_TRANSPORT)
        return err;
    if (!err)
        err = gs_avro_schema_plan(writer, k->ops->request, &plan, e, en);
    if (!err)
        err = gs_avro_plan_decode(plan, payload, plen, &w->arena, request, e, en);
    it->pub.err = err;
    return GS_OK;
}

/* Decodes up to batch.max queued messages into w->items, stopping early
 * (the rest stays queued) when the registry is unreachable (*transport) or
 * a partition has no room for more in-flight offsets. */
static size_t decode_batch(gs_worker_t *w, int *transport)
{
    size_t n = w->q_len < w->batch_max ? w->q_len : w->batch_max, done = 0;
    int64_t prev = gs_now_us();
    for (; done < n; done++) {
        witem_t *it = &w->items[done];
        rd_kafka_message_t *m = w->queue[done];
        size_t ki = 0;
        kind_rt_t *k = kind_of(w, rd_kafka_topic_name(m->rkt), &ki);
        int slot = gs_offsets_find(w->offsets, rd_kafka_topic_name(m->rkt), m->partition);
        /* room for this one plus the ones already taken from its partition */
        if (!k || slot < 0 || slot >= w->n_taken ||
            gs_offsets_inflight(w->offsets, slot) + w->taken[slot] + 1 >
                (size_t)w->cfg->delivery.max_inflight_per_partition)
            break;
        void *request = k->requests + k->n_batch * k->ops->request->node->size;
        void *result = k->results + k->n_batch * k->ops->result->node->size;
        memset(result, 0, k->ops->result->node->size);
        *it = (witem_t){.pub = {.partition = m->partition,
                                .timestamp_ms = rd_kafka_message_timestamp(m, NULL),
                                .request = request,
                                .result = result},
                        .msg = m,
                        .slot = slot,
                        .kind = (unsigned)ki,
                        .out = &w->bufs[done]};
        if (decode_item(w, k, it, request) == GS_ERR_TRANSPORT) {
            *transport = 1;
            break;
        }
        k->n_batch++;
        w->taken[slot]++;
        int64_t now = gs_now_us();
        it->decode_us = now - prev;
        prev = now;
    }
    for (size_t i = 0; i < done; i++)
        w->taken[w->items[i].slot] = 0;
    return done;
}

/* ---- results ------------------------------------------------------------- */

#define AT(base, off, T) ((T *)((char *)(base) + (off)))

static void envelope_fill(gs_worker_t *w, const kind_rt_t *k, witem_t *it, int64_t wall_ms)
{
    const envelope_t *e = &k->env;
    const void *req = it->pub.request;
    void *res = it->pub.result;
    *AT(res, e->res_id, gs_str_t) = *AT(req, e->req_id, const gs_str_t);
    *AT(res, e->res_key, gs_str_t) = *AT(req, e->req_key, const gs_str_t);
    *AT(res, e->res_tenant, gs_str_t) = *AT(req, e->req_tenant, const gs_str_t);
    *AT(res, e->source, gs_avro_source_t) = (gs_avro_source_t){
        gs_avro_cstr(rd_kafka_topic_name(it->msg->rkt)), it->msg->partition, it->msg->offset};
    *AT(res, e->timings, gs_avro_timings_t) =
        (gs_avro_timings_t){it->decode_us, it->pub.govern_us, it->pub.infer_us, it->total_us};
    *AT(res, e->worker_id, gs_str_t) = gs_avro_cstr(w->cfg->worker.id);
    *AT(res, e->processed_at, int64_t) = wall_ms;
}

/* Each kind gets its own items of the batch, in order, in one call; then
 * the results get their envelope and are encoded. */
static void run_kinds(gs_worker_t *w, size_t done, int64_t start)
{
    for (size_t ki = 0; ki < w->n_kinds; ki++) {
        kind_rt_t *k = &w->kinds[ki];
        size_t cnt = 0;
        for (size_t i = 0; i < done && k->n_batch; i++)
            if (w->items[i].kind == ki && !w->items[i].pub.err)
                k->mine[cnt++] = &w->items[i].pub;
        if (cnt)
            k->ops->process(k->k, &(gs_batch_t){k->mine, cnt, &w->arena});
    }
    int64_t end = gs_now_us(), wall = gs_wall_ms();
    for (size_t i = 0; i < done; i++) {
        witem_t *it = &w->items[i];
        if (it->pub.err)
            continue;
        const kind_rt_t *k = &w->kinds[it->kind];
        it->total_us = end - start;
        envelope_fill(w, k, it, wall);
        it->pub.err = k->ops->result->encode(it->pub.result, k->result_schema_id, it->out,
                                             it->pub.errmsg, sizeof(it->pub.errmsg));
        if (it->pub.err)
            it->pub.err = GS_ERR_INTERNAL; /* our bug, dead-lettered with its reason */
        else if (it->pub.alert)
            raise_alert(w, it->pub.alert, wall);
    }
}

static void produce_deadletter(gs_worker_t *w, witem_t *it, void *token)
{
    rd_kafka_message_t *m = it->msg;
    gs_deadletter_t dl = {
        .topic = rd_kafka_topic_name(m->rkt),
        .partition = m->partition,
        .offset = m->offset,
        .kind = w->kinds[it->kind].ops->name,
        .key = m->key,
        .key_len = m->key_len,
        .value = m->payload,
        .value_len = m->len,
        .value_size = (int64_t)m->len,
        .schema_id = it->schema_id,
        .error_class = it->pub.err,
        .error_message = it->pub.errmsg,
        .worker_id = w->cfg->worker.id,
        .failed_at_ms = gs_wall_ms(),
    };
    char err[256];
    if (gs_deadletter_encode(w->dlc, &dl, (size_t)w->cfg->deadletter.max_value_bytes,
                             w->dl_schema_id, &w->dl_buf, err, sizeof(err))) {
        gs_log_error(w->log, "cannot encode a dead letter; stopping", GS_LS("error", err));
        w->kafka.fatal = 1;
        return;
    }
    w->c.deadletters[gs_err_is_input(it->pub.err) ? it->pub.err : GS_ERR_INTERNAL]++;
    gs_log_debug(w->log, "dead letter", GS_LS("topic", dl.topic), GS_LI("partition", dl.partition),
                 GS_LI("offset", dl.offset),
                 GS_LS("error_class", gs_deadletter_class_name(it->pub.err)),
                 GS_LS("error", it->pub.errmsg));
    gs_producer_send(w->producer, w->dl_rkt, m->key, m->key_len, w->dl_buf.data, w->dl_buf.len,
                     token);
}

static void produce_item(gs_worker_t *w, witem_t *it)
{
    void *token = NULL;
    rd_kafka_message_t *m = it->msg;
    if (gs_offsets_track(w->offsets, it->slot, m->offset, &token)) {
        /* cannot happen: decode_batch reserved room for the batch */
        gs_log_error(w->log, "offset tracker refused an offset; stopping",
                     GS_LI("partition", m->partition));
        w->kafka.fatal = 1;
        return;
    }
    if (!w->first[it->slot])
        w->first[it->slot] = token;
    obs_item(&w->obs, it->kind,
             &(obs_sample_t){.err = it->pub.err,
                             .accepted = it->pub.accepted,
                             .decode_us = it->decode_us,
                             .govern_us = it->pub.govern_us,
                             .infer_us = it->pub.infer_us,
                             .total_us = it->total_us});
    if (it->pub.err) {
        produce_deadletter(w, it, token);
        return;
    }
    const kind_rt_t *k = &w->kinds[it->kind];
    const gs_str_t *key = AT(it->pub.result, k->env.res_key, const gs_str_t);
    w->c.results++;
    gs_producer_send(w->producer, k->rkt, key->p, key->len, it->out->data, it->out->len, token);
}

/* ---- state ---------------------------------------------------------------- */

/* A changelog record of the batch is acknowledged with the first request
 * of its partition in the batch: that offset, and so every later one, is
 * committed only once the state it led to is in the changelog. */
static void send_state(void *opaque, const char *topic, int32_t partition, const void *key,
                       size_t key_len, const void *value, size_t value_len)
{
    gs_worker_t *w = opaque;
    int slot = gs_offsets_find(w->offsets, topic, partition);
    void *token = slot >= 0 && slot < w->n_taken ? w->first[slot] : NULL;
    if (!token || !gs_offsets_hold(w->offsets, token))
        token = GS_PRODUCER_UNTRACKED; /* a partition without a request in this batch */
    gs_producer_send_to(w->producer, w->state_rkt, partition, key, key_len, value, value_len,
                        token);
}

static void log_state(gs_worker_t *w, size_t done)
{
    char err[256];
    if (w->state_rkt && gs_state_flush(w->state, send_state, w, err, sizeof(err))) {
        /* the offsets stay uncommitted with the state unlogged: stopping
         * makes the next owner redo them from the logged state */
        gs_log_error(w->log, "cannot log state changes; stopping", GS_LS("error", err));
        w->kafka.fatal = 1;
    }
    for (size_t i = 0; i < done; i++)
        w->first[w->items[i].slot] = NULL;
}

/* ---- the batch ----------------------------------------------------------- */

static void registry_state(gs_worker_t *w, int transport, size_t done)
{
    if (transport) {
        if (!w->registry_down)
            gs_log_warn(w->log, "schema registry unreachable; pausing",
                        GS_LS("error", w->items[done].pub.errmsg));
        w->registry_down = 1;
        w->registry_backoff_ms = gs_backoff_next(
            w->registry_backoff_ms, w->cfg->registry.backoff_ms, w->cfg->registry.backoff_max_ms);
        w->t.registry_retry = gs_now_us() + (int64_t)w->registry_backoff_ms * 1000;
    } else if (w->registry_down && done) {
        gs_log_msg(w->log, GS_LOG_INFO, "schema registry reachable again; resuming");
        w->registry_down = 0;
        w->registry_backoff_ms = 0;
    }
}

void process_queue(gs_worker_t *w)
{
    if (!w->q_len || w->kafka.fatal)
        return;
    if (w->registry_down && gs_now_us() < w->t.registry_retry)
        return;
    for (size_t ki = 0; ki < w->n_kinds; ki++)
        w->kinds[ki].n_batch = 0;
    int transport = 0;
    int64_t start = gs_now_us();
    gs_arena_reset(&w->arena);
    size_t done = decode_batch(w, &transport);
    w->last_batch = done;
    if (done)
        gs_hist_observe(w->obs.batch, done);
    registry_state(w, transport, done);
    run_kinds(w, done, start);
    for (size_t i = 0; i < done && !w->kafka.fatal; i++)
        produce_item(w, &w->items[i]);
    log_state(w, done);
    for (size_t i = 0; i < done; i++)
        rd_kafka_message_destroy(w->queue[i]);
    memmove(w->queue, w->queue + done, (w->q_len - done) * sizeof(rd_kafka_message_t *));
    w->q_len -= done;
    w->c.consumed += done;
}
