/* The poll loop: consume -> decode -> govern/infer (kind) -> encode ->
 * produce -> commit, single-threaded except for librdkafka's own threads.
 *
 * Invariants:
 * - every consumed message yields exactly one produced record (result or
 *   dead letter), and its offset is stored only after the broker
 *   acknowledged that record (gs_offsets watermark);
 * - infrastructure failures (registry down, producer refusing) never become
 *   dead letters: the message stays queued, partitions pause, we retry;
 * - messages of revoked partitions are dropped unprocessed, so the new owner
 *   processes them (at-least-once). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "govstream/alert.h"
#include "govstream/deadletter.h"
#include "govstream/health.h"
#include "govstream/kafka.h"
#include "govstream/metrics_codec.h"
#include "govstream/pipeline.h"
#include "govstream/registry.h"
#include "kind.h"
#include "observe.h"

#define STATS_INTERVAL_US  (30LL * 1000000)
#define GAUGES_INTERVAL_US (1000000LL) /* governance gauges and /state */

/* A record the producer did not take or the broker refused: produced again
 * after a backoff, keeping the input offset unacknowledged meanwhile. */
typedef struct pending {
    rd_kafka_topic_t *rkt;
    void *key, *value;
    size_t key_len, value_len;
    void *token;
    int64_t due_us;
    int backoff_ms;
} pending_t;

typedef struct counters {
    uint64_t consumed, results, deadletters[GS_ERR__COUNT], acked, delivery_failures,
        dropped_revoked;
} counters_t;

struct gs_worker {
    const gs_config_t *cfg;
    gs_log_t *log;
    rd_kafka_t *consumer, *producer;
    rd_kafka_topic_t *dl_rkt;
    gs_offsets_t *offsets;
    gs_registry_t *registry;
    gs_health_t *health;
    gs_metrics_t *metrics;
    obs_t obs;
    gs_alerter_t *alerter;
    gs_msnap_codec_t *msnap;
    gs_buf_t msnap_buf;
    int32_t msnap_schema_id;
    rd_kafka_topic_t *metrics_rkt, *alerts_rkt; /* NULL when not configured */
    int64_t next_gauges_us, next_snapshot_us, last_snapshot_us;
    long side_inflight; /* metrics and alert records in the producer */
    gs_deadletter_codec_t *dlc;
    int32_t dl_schema_id;
    gs_kind_t *kinds[MAX_KINDS];
    rd_kafka_topic_t *result_rkt[MAX_KINDS];
    avro_value_t *values[MAX_KINDS]; /* batch.max decode targets per kind */
    size_t n_kinds;

    /* consumed, not yet processed, in consumption order */
    rd_kafka_message_t **queue;
    size_t q_len, q_cap;

    gs_item_t *items;
    gs_buf_t *bufs;
    gs_buf_t dl_buf;
    size_t batch_max;

    pending_t *pending;
    size_t n_pending, cap_pending;

    uint8_t *paused; /* per offsets slot: paused by flow control */
    uint32_t *taken; /* per offsets slot: items of the current batch */
    int n_slots;
    int queue_full; /* producer queue above the high mark */
    int throttled;  /* a partition is paused by the producer side */
    long queue_max;

    int registry_down;
    int registry_backoff_ms;
    int64_t registry_retry_us;
    int joined, brokers_down, fatal;
    int64_t deadline_us; /* shutdown deadline once draining, else 0 */
    int64_t next_probe_us, next_stats_us;
    counters_t c;
};

/* ---- helpers ----------------------------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int remaining_ms(int64_t deadline_us)
{
    int64_t left = (deadline_us - gs_now_us()) / 1000;
    return left < 0 ? 0 : (int)left;
}

static int next_backoff(int cur, int max)
{
    return cur * 2 > max ? max : cur * 2;
}

static gs_kind_t *kind_of(gs_worker_t *w, const char *topic, size_t *idx)
{
    for (size_t i = 0; i < w->n_kinds; i++) {
        if (!strcmp(w->kinds[i]->cfg->requests_topic, topic)) {
            *idx = i;
            return w->kinds[i];
        }
    }
    return NULL;
}

/* Grows the per-slot arrays with the offset tracker's slot count. */
static void ensure_slots(gs_worker_t *w)
{
    int n = gs_offsets_slots(w->offsets);
    if (n <= w->n_slots)
        return;
    if (gs_grow(&w->paused, (size_t)n, sizeof(*w->paused)) ||
        gs_grow(&w->taken, (size_t)n, sizeof(*w->taken))) {
        gs_log_msg(w->log, GS_LOG_ERROR, "out of memory growing partition state; stopping");
        w->fatal = 1;
        return;
    }
    memset(w->paused + w->n_slots, 0, (size_t)(n - w->n_slots) * sizeof(*w->paused));
    memset(w->taken + w->n_slots, 0, (size_t)(n - w->n_slots) * sizeof(*w->taken));
    w->n_slots = n;
}

/* ---- producing --------------------------------------------------------- */

static void pending_add(gs_worker_t *w, rd_kafka_topic_t *rkt, const void *key, size_t key_len,
                        const void *value, size_t value_len, void *token, int backoff_ms)
{
    if (w->n_pending == w->cap_pending) {
        size_t cap = w->cap_pending ? w->cap_pending * 2 : 64;
        pending_t *np = realloc(w->pending, cap * sizeof(*np));
        if (!np)
            goto oom;
        w->pending = np;
        w->cap_pending = cap;
    }
    pending_t *p = &w->pending[w->n_pending];
    p->key = key_len ? malloc(key_len) : NULL;
    p->value = value_len ? malloc(value_len) : NULL;
    if ((key_len && !p->key) || (value_len && !p->value)) {
        free(p->key);
        free(p->value);
        goto oom;
    }
    if (key_len)
        memcpy(p->key, key, key_len);
    if (value_len)
        memcpy(p->value, value, value_len);
    p->rkt = rkt;
    p->key_len = key_len;
    p->value_len = value_len;
    p->token = token;
    p->backoff_ms = backoff_ms;
    p->due_us = gs_now_us() + (int64_t)backoff_ms * 1000;
    w->n_pending++;
    return;
oom:
    /* The offset stays unacknowledged, so the input is redelivered after a
     * restart; stopping is the only safe move. */
    gs_log_error(w->log, "out of memory holding a record for retry; stopping",
                 GS_LS("topic", rd_kafka_topic_name(rkt)));
    w->fatal = 1;
}

/* RD_KAFKA_RESP_ERR_NO_ERROR when librdkafka took the record. */
static rd_kafka_resp_err_t produce(gs_worker_t *w, rd_kafka_topic_t *rkt, const void *key,
                                   size_t key_len, const void *value, size_t value_len, void *token)
{
    rd_kafka_resp_err_t err = rd_kafka_producev(
        w->producer, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(token), RD_KAFKA_V_END);
    if (err && err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        gs_log_warn(w->log, "produce refused; will retry", GS_LS("topic", rd_kafka_topic_name(rkt)),
                    GS_LS("error", rd_kafka_err2name(err)));
    return err;
}

static void produce_or_hold(gs_worker_t *w, rd_kafka_topic_t *rkt, const void *key, size_t key_len,
                            const void *value, size_t value_len, void *token)
{
    rd_kafka_resp_err_t err = produce(w, rkt, key, key_len, value, value_len, token);
    if (err) /* a full queue is retried on the next iteration, errors later */
        pending_add(w, rkt, key, key_len, value, value_len, token,
                    err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? 0 : w->cfg->delivery.retry_backoff_ms);
}

static void retry_pending(gs_worker_t *w)
{
    int64_t now = gs_now_us();
    size_t keep = 0;
    for (size_t i = 0; i < w->n_pending; i++) {
        pending_t *p = &w->pending[i];
        int done = 0;
        if (!gs_offsets_live(w->offsets, p->token)) {
            done = 1; /* partition revoked: the new owner redoes it */
            w->c.dropped_revoked++;
        } else if (p->due_us <= now) {
            rd_kafka_resp_err_t err =
                produce(w, p->rkt, p->key, p->key_len, p->value, p->value_len, p->token);
            if (!err) {
                done = 1;
            } else if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                p->backoff_ms = p->backoff_ms ? next_backoff(p->backoff_ms,
                                                             w->cfg->delivery.retry_backoff_max_ms)
                                              : w->cfg->delivery.retry_backoff_ms;
                p->due_us = now + (int64_t)p->backoff_ms * 1000;
            }
        }
        if (done) {
            free(p->key);
            free(p->value);
        } else {
            w->pending[keep++] = *p;
        }
    }
    w->n_pending = keep;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    gs_worker_t *w = opaque;
    if (!m->_private) { /* a metrics snapshot or an alert: not retried */
        w->side_inflight--;
        if (m->err) {
            gs_counter_add(w->obs.side_failures, 1);
            gs_log_warn(w->log, "metrics or alert record not delivered",
                        GS_LS("topic", rd_kafka_topic_name(m->rkt)),
                        GS_LS("error", rd_kafka_err2name(m->err)));
        }
        return;
    }
    if (!m->err) {
        w->c.acked++;
        gs_offsets_ack(w->offsets, m->_private);
        return;
    }
    w->c.delivery_failures++;
    gs_counter_add(w->obs.delivery_failures, 1);
    gs_log_warn(w->log, "delivery failed; will retry", GS_LS("topic", rd_kafka_topic_name(m->rkt)),
                GS_LS("error", rd_kafka_err2name(m->err)));
    if (gs_offsets_live(w->offsets, m->_private))
        pending_add(w, m->rkt, m->key, m->key_len, m->payload, m->len, m->_private,
                    w->cfg->delivery.retry_backoff_ms);
}

/* Records the stream waits for: results and dead letters, not metrics or
 * alerts (those may sit in the producer for a missing topic until they
 * expire, and must not delay a rebalance or a shutdown). */
static long tracked_outq(gs_worker_t *w)
{
    return rd_kafka_outq_len(w->producer) - w->side_inflight;
}

static void flush_tracked(gs_worker_t *w, int ms)
{
    int64_t deadline = gs_now_us() + (int64_t)ms * 1000;
    while (tracked_outq(w) > 0 && gs_now_us() < deadline)
        rd_kafka_poll(w->producer, 10);
}

/* ---- offsets ----------------------------------------------------------- */

/* Stores the advanced watermarks; librdkafka's auto-commit sends them. */
static void store_offsets(gs_worker_t *w)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    for (int s = 0; s < gs_offsets_slots(w->offsets); s++) {
        int64_t pos = gs_offsets_advance(w->offsets, s);
        if (pos < 0)
            continue;
        if (!l)
            l = rd_kafka_topic_partition_list_new(8);
        rd_kafka_topic_partition_list_add(l, gs_offsets_topic(w->offsets, s),
                                          gs_offsets_partition(w->offsets, s))
            ->offset = pos;
    }
    if (!l)
        return;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(w->consumer, l);
    if (err)
        gs_log_debug(w->log, "offsets store", GS_LS("error", rd_kafka_err2name(err)));
    rd_kafka_topic_partition_list_destroy(l);
}

/* Synchronous commit of the watermarks of the given (assigned) partitions. */
static void commit_partitions(gs_worker_t *w, const rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        int s = gs_offsets_find(w->offsets, parts->elems[i].topic, parts->elems[i].partition);
        gs_offsets_advance(w->offsets, s);
        int64_t pos = gs_offsets_position(w->offsets, s);
        if (pos >= 0)
            rd_kafka_topic_partition_list_add(l, parts->elems[i].topic, parts->elems[i].partition)
                ->offset = pos;
    }
    if (l->cnt) {
        rd_kafka_resp_err_t err = rd_kafka_commit(w->consumer, l, 0);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
            gs_log_warn(w->log, "commit failed", GS_LS("error", rd_kafka_err2name(err)));
        else
            gs_log_info(w->log, "committed", GS_LI("partitions", l->cnt));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* ---- rebalancing ------------------------------------------------------- */

static int in_list(const rd_kafka_topic_partition_list_t *l, const char *topic, int32_t p)
{
    for (int i = 0; i < l->cnt; i++)
        if (l->elems[i].partition == p && !strcmp(l->elems[i].topic, topic))
            return 1;
    return 0;
}

static void drop_queued(gs_worker_t *w, const rd_kafka_topic_partition_list_t *parts)
{
    size_t keep = 0;
    for (size_t i = 0; i < w->q_len; i++) {
        rd_kafka_message_t *m = w->queue[i];
        if (in_list(parts, rd_kafka_topic_name(m->rkt), m->partition)) {
            rd_kafka_message_destroy(m);
            w->c.dropped_revoked++;
        } else {
            w->queue[keep++] = m;
        }
    }
    w->q_len = keep;
}

static void list_str(const rd_kafka_topic_partition_list_t *l, char *out, size_t n)
{
    size_t off = 0;
    out[0] = '\0';
    for (int i = 0; i < l->cnt && off < n; i++)
        off += (size_t)snprintf(out + off, n - off, "%s%s[%d]", i ? "," : "", l->elems[i].topic,
                                l->elems[i].partition);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    gs_worker_t *w = opaque;
    int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    char desc[512];
    list_str(parts, desc, sizeof(desc));
    rd_kafka_error_t *error = NULL;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) {
            int s = gs_offsets_assign(w->offsets, parts->elems[i].topic, parts->elems[i].partition);
            if (s < 0) {
                gs_log_error(w->log, "cannot track partition", GS_LS("partitions", desc));
                w->fatal = 1;
            }
            ensure_slots(w);
            if (s >= 0 && s < w->n_slots)
                w->paused[s] = 0;
        }
        if (coop)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
        w->joined = 1;
        gs_log_info(w->log, "partitions assigned", GS_LS("partitions", desc),
                    GS_LS("protocol", coop ? "cooperative" : "eager"));
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        int lost = rd_kafka_assignment_lost(rk);
        drop_queued(w, parts);
        if (!lost) {
            /* Finish what is in flight for these partitions, then commit
             * exactly what the broker acknowledged. */
            int ms = w->cfg->delivery.flush_timeout_ms;
            if (w->deadline_us && remaining_ms(w->deadline_us) < ms)
                ms = remaining_ms(w->deadline_us);
            flush_tracked(w, ms);
            commit_partitions(w, parts);
        }
        for (int i = 0; i < parts->cnt; i++) {
            gs_offsets_revoke(w->offsets, gs_offsets_find(w->offsets, parts->elems[i].topic,
                                                          parts->elems[i].partition));
            obs_lag_hide(&w->obs, parts->elems[i].topic, parts->elems[i].partition);
        }
        if (coop)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
        gs_log_info(w->log, lost ? "partitions lost" : "partitions revoked",
                    GS_LS("partitions", desc));
    } else {
        gs_log_error(w->log, "rebalance failed", GS_LS("error", rd_kafka_err2str(err)));
        rd_kafka_assign(rk, NULL);
    }
    if (error) {
        gs_log_error(w->log, "incremental assignment failed",
                     GS_LS("error", rd_kafka_error_string(error)));
        rd_kafka_error_destroy(error);
        w->fatal = 1;
    }
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    gs_worker_t *w = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        w->brokers_down = 1;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[256];
        rd_kafka_fatal_error(rk, buf, sizeof(buf));
        gs_log_error(w->log, "fatal Kafka error", GS_LS("client", rd_kafka_name(rk)),
                     GS_LS("error", buf));
        w->fatal = 1;
        return;
    }
    gs_log_warn(w->log, "Kafka error", GS_LS("client", rd_kafka_name(rk)),
                GS_LS("error", rd_kafka_err2name((rd_kafka_resp_err_t)err)),
                GS_LS("reason", reason));
}

static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    obs_lag(&((gs_worker_t *)opaque)->obs, json, len);
    return 0; /* librdkafka frees json */
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    gs_worker_t *w = rd_kafka_opaque(rk);
    gs_log_level_t lvl = level <= 3   ? GS_LOG_ERROR
                         : level <= 4 ? GS_LOG_WARN
                         : level <= 6 ? GS_LOG_INFO
                                      : GS_LOG_DEBUG;
    gs_log_write(w->log, lvl, "librdkafka",
                 (const gs_log_field_t[]){GS_LS("client", rd_kafka_name(rk)),
                                          GS_LS("facility", fac), GS_LS("detail", buf)},
                 3);
}

/* ---- decoding ---------------------------------------------------------- */

/* Frame, resolve the writer schema, check and decode one message. Returns
 * GS_ERR_TRANSPORT (registry unreachable) to stop the batch; any other
 * failure is recorded in the item as its dead-letter reason. */
static gs_err_t decode_item(gs_worker_t *w, gs_kind_t *k, gs_item_t *it)
{
    const rd_kafka_message_t *m = it->msg;
    const uint8_t *payload;
    size_t plen;
    gs_avro_schema_t *writer = k->request_schema;
    char *e = it->errmsg;
    size_t en = sizeof(it->errmsg);

    it->schema_id = -1;
    if (!m->payload)
        return it->err = gs_fail(e, en, GS_ERR_DECODE, "message has no value"), GS_OK;
    if (m->len > (size_t)w->cfg->limits.max_request_bytes)
        return it->err = gs_fail(e, en, GS_ERR_TOO_LARGE, "value of %zu bytes exceeds %d", m->len,
                                 w->cfg->limits.max_request_bytes),
               GS_OK;
    if ((it->err = gs_frame_parse(m->payload, m->len, (gs_framing_t)k->cfg->input_framing,
                                  &it->schema_id, &payload, &plen, e, en)))
        return GS_OK;
    if (it->schema_id >= 0) {
        gs_err_t err = gs_registry_schema(w->registry, it->schema_id, &writer, e, en);
        if (err == GS_ERR_TRANSPORT)
            return err;
        if (err)
            return it->err = err, GS_OK;
        if ((it->err = gs_avro_compatible(writer, k->request_schema, e, en)))
            return GS_OK;
    }
    if ((it->err = gs_avro_check(writer, payload, plen, e, en)))
        return GS_OK;
    it->err = gs_avro_decode(payload, plen, writer, k->request_schema, it->request, e, en);
    return GS_OK;
}

/* ---- the batch --------------------------------------------------------- */

static void produce_item(gs_worker_t *w, gs_item_t *it)
{
    size_t kind_idx = it->kind;
    void *token = NULL;
    rd_kafka_message_t *m = it->msg;
    if (gs_offsets_track(w->offsets, it->slot, m->offset, &token)) {
        /* cannot happen: process_queue reserved room for the batch */
        gs_log_error(w->log, "offset tracker refused an offset; stopping",
                     GS_LI("partition", m->partition));
        w->fatal = 1;
        return;
    }
    obs_item(&w->obs, it);
    if (!it->err) {
        w->c.results++;
        produce_or_hold(w, w->result_rkt[kind_idx], it->out_key.p, it->out_key.len, it->out->data,
                        it->out->len, token);
        return;
    }
    gs_deadletter_t dl = {
        .topic = rd_kafka_topic_name(m->rkt),
        .partition = m->partition,
        .offset = m->offset,
        .kind = w->kinds[kind_idx]->name,
        .key = m->key,
        .key_len = m->key_len,
        .value = m->payload,
        .value_len = m->len,
        .value_size = (int64_t)m->len,
        .schema_id = it->schema_id,
        .error_class = it->err,
        .error_message = it->errmsg,
        .worker_id = w->cfg->worker.id,
        .failed_at_ms = gs_wall_ms(),
    };
    char err[256];
    if (gs_deadletter_encode(w->dlc, &dl, (size_t)w->cfg->deadletter.max_value_bytes,
                             w->dl_schema_id, &w->dl_buf, err, sizeof(err))) {
        gs_log_error(w->log, "cannot encode a dead letter; stopping", GS_LS("error", err));
        w->fatal = 1;
        return;
    }
    w->c.deadletters[gs_err_is_input(it->err) ? it->err : GS_ERR_INTERNAL]++;
    gs_log_debug(w->log, "dead letter", GS_LS("topic", dl.topic), GS_LI("partition", dl.partition),
                 GS_LI("offset", dl.offset),
                 GS_LS("error_class", gs_deadletter_class_name(it->err)),
                 GS_LS("error", it->errmsg));
    produce_or_hold(w, w->dl_rkt, m->key, m->key_len, w->dl_buf.data, w->dl_buf.len, token);
}

/* Processes up to batch.max queued messages, stopping early (and keeping
 * the rest queued) when the registry is unreachable or a partition has no
 * room for more in-flight offsets. */
static void process_queue(gs_worker_t *w)
{
    if (!w->q_len || w->fatal)
        return;
    if (w->registry_down && gs_now_us() < w->registry_retry_us)
        return;
    size_t n = w->q_len < w->batch_max ? w->q_len : w->batch_max;
    size_t per_kind[MAX_KINDS] = {0};
    size_t done = 0;
    int transport = 0;
    int64_t start = gs_now_us(), prev = start;

    for (; done < n; done++) {
        gs_item_t *it = &w->items[done];
        rd_kafka_message_t *m = w->queue[done];
        size_t ki = 0;
        gs_kind_t *k = kind_of(w, rd_kafka_topic_name(m->rkt), &ki);
        int slot = gs_offsets_find(w->offsets, rd_kafka_topic_name(m->rkt), m->partition);
        /* room for this one plus the ones already taken from its partition */
        if (!k || slot < 0 || slot >= w->n_slots ||
            gs_offsets_inflight(w->offsets, slot) + w->taken[slot] + 1 >
                (size_t)w->cfg->delivery.max_inflight_per_partition)
            break;
        *it = (gs_item_t){.msg = m, .slot = slot, .kind = (unsigned)ki, .out = &w->bufs[done]};
        it->request = &w->values[ki][per_kind[ki]];
        if (decode_item(w, k, it) == GS_ERR_TRANSPORT) {
            transport = 1;
            break;
        }
        per_kind[ki]++;
        w->taken[slot]++;
        int64_t now = gs_now_us();
        it->decode_us = now - prev;
        prev = now;
    }
    for (size_t i = 0; i < done; i++)
        w->taken[w->items[i].slot] = 0;
    if (done)
        gs_hist_observe(w->obs.batch, done);

    if (transport) {
        if (!w->registry_down)
            gs_log_warn(w->log, "schema registry unreachable; pausing",
                        GS_LS("error", w->items[done].errmsg));
        w->registry_down = 1;
        w->registry_backoff_ms =
            w->registry_backoff_ms
                ? next_backoff(w->registry_backoff_ms, w->cfg->registry.backoff_max_ms)
                : w->cfg->registry.backoff_ms;
        w->registry_retry_us = gs_now_us() + (int64_t)w->registry_backoff_ms * 1000;
    } else if (w->registry_down && done) {
        gs_log_msg(w->log, GS_LOG_INFO, "schema registry reachable again; resuming");
        w->registry_down = 0;
        w->registry_backoff_ms = 0;
    }

    /* Each kind gets its own items of the batch, in order, in one call. */
    gs_batch_env_t env = {w->cfg->worker.id, start, prev, gs_wall_ms()};
    gs_item_t *mine[done ? done : 1];
    for (size_t ki = 0; ki < w->n_kinds; ki++) {
        size_t cnt = 0;
        for (size_t i = 0; i < done && cnt < per_kind[ki]; i++)
            if (w->items[i].kind == ki)
                mine[cnt++] = &w->items[i];
        if (cnt)
            w->kinds[ki]->process(w->kinds[ki], mine, cnt, &env);
    }
    for (size_t i = 0; i < done && !w->fatal; i++)
        produce_item(w, &w->items[i]);

    for (size_t i = 0; i < done; i++)
        rd_kafka_message_destroy(w->queue[i]);
    memmove(w->queue, w->queue + done, (w->q_len - done) * sizeof(rd_kafka_message_t *));
    w->q_len -= done;
    w->c.consumed += done;
}

/* ---- consuming and flow control ---------------------------------------- */

static void enqueue(gs_worker_t *w, rd_kafka_message_t *m)
{
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            gs_log_warn(w->log, "consumer error", GS_LS("error", rd_kafka_err2name(m->err)),
                        GS_LS("detail", rd_kafka_message_errstr(m)));
        rd_kafka_message_destroy(m);
        return;
    }
    if (w->q_len == w->q_cap) {
        size_t cap = w->q_cap ? w->q_cap * 2 : 64;
        rd_kafka_message_t **nq = realloc(w->queue, cap * sizeof(rd_kafka_message_t *));
        if (!nq) {
            /* not consumed as far as offsets go: redelivered later */
            gs_log_msg(w->log, GS_LOG_ERROR, "out of memory queueing a message; stopping");
            rd_kafka_message_destroy(m);
            w->fatal = 1;
            return;
        }
        w->queue = nq;
        w->q_cap = cap;
    }
    w->queue[w->q_len++] = m;
}

/* Polls for up to batch.max messages: waits up to wait_ms for the first,
 * then at most batch.linger_us for the rest. Also serves rebalances. */
static void fill_queue(gs_worker_t *w, int wait_ms)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer, wait_ms);
    if (!m)
        return;
    enqueue(w, m);
    int64_t deadline = gs_now_us() + w->cfg->batch.linger_us;
    while (w->q_len < w->batch_max && !w->fatal) {
        int64_t left_us = deadline - gs_now_us();
        m = rd_kafka_consumer_poll(w->consumer, 0);
        if (!m && left_us > 0)
            m = rd_kafka_consumer_poll(w->consumer, (int)((left_us + 999) / 1000));
        if (!m)
            break;
        enqueue(w, m);
    }
}

/* Pauses a partition while the producer queue is above its high mark, the
 * registry is down, or the partition has no room for another batch; an
 * in-flight pause lifts only when half of that room is back, so that a
 * busy partition does not flap. Returns 1 when any partition is paused by
 * the producer side (the loop then waits for acknowledgements instead). */
static int flow_control(gs_worker_t *w)
{
    long qlen = rd_kafka_outq_len(w->producer);
    gs_gauge_set(w->obs.producer_queue, (double)qlen);
    gs_gauge_set(w->obs.pending, (double)w->n_pending);
    if (!w->queue_full && qlen >= w->queue_max * w->cfg->delivery.queue_high_pct / 100)
        w->queue_full = 1;
    else if (w->queue_full && qlen <= w->queue_max * w->cfg->delivery.queue_low_pct / 100)
        w->queue_full = 0;

    ensure_slots(w);
    rd_kafka_topic_partition_list_t *pause = NULL, *resume = NULL;
    size_t limit = (size_t)(w->cfg->delivery.max_inflight_per_partition - w->cfg->batch.max);
    int throttled = w->queue_full;
    for (int s = 0; s < gs_offsets_slots(w->offsets) && s < w->n_slots; s++) {
        if (!gs_offsets_assigned(w->offsets, s))
            continue;
        size_t inflight = gs_offsets_inflight(w->offsets, s);
        int full = inflight > (w->paused[s] ? limit / 2 : limit);
        throttled |= full;
        int want = w->queue_full || w->registry_down || full;
        if (want == w->paused[s])
            continue;
        rd_kafka_topic_partition_list_t **l = want ? &pause : &resume;
        if (!*l)
            *l = rd_kafka_topic_partition_list_new(8);
        rd_kafka_topic_partition_list_add(*l, gs_offsets_topic(w->offsets, s),
                                          gs_offsets_partition(w->offsets, s));
        w->paused[s] = (uint8_t)want;
    }
    if (pause) {
        rd_kafka_pause_partitions(w->consumer, pause);
        gs_log_debug(w->log, "paused", GS_LI("partitions", pause->cnt),
                     GS_LI("producer_queue", qlen));
        rd_kafka_topic_partition_list_destroy(pause);
    }
    if (resume) {
        rd_kafka_resume_partitions(w->consumer, resume);
        gs_log_debug(w->log, "resumed", GS_LI("partitions", resume->cnt),
                     GS_LI("producer_queue", qlen));
        rd_kafka_topic_partition_list_destroy(resume);
    }
    return throttled;
}

static void update_health(gs_worker_t *w)
{
    if (w->brokers_down && gs_now_us() >= w->next_probe_us) {
        /* librdkafka reports "all brokers down" but not their return. */
        const struct rd_kafka_metadata *md = NULL;
        if (!rd_kafka_metadata(w->producer, 0, NULL, &md, 500)) {
            rd_kafka_metadata_destroy(md);
            w->brokers_down = 0;
            gs_log_msg(w->log, GS_LOG_INFO, "brokers reachable again");
        }
        w->next_probe_us = gs_now_us() + 2000000;
    }
    gs_readiness_t state = w->brokers_down    ? GS_NOT_READY_BROKER_DOWN
                           : w->registry_down ? GS_NOT_READY_REGISTRY_DOWN
                           : !w->joined       ? GS_NOT_READY_NOT_JOINED
                                              : GS_READY;
    gs_health_set(w->health, state);
    gs_gauge_set(w->obs.ready, state == GS_READY);
    gs_health_beat(w->health);
}

static void log_stats(gs_worker_t *w)
{
    const counters_t *c = &w->c;
    gs_log_info(w->log, "stats", GS_LI("consumed", c->consumed), GS_LI("results", c->results),
                GS_LI("acked", c->acked), GS_LI("dl_decode", c->deadletters[GS_ERR_DECODE]),
                GS_LI("dl_schema", c->deadletters[GS_ERR_SCHEMA]),
                GS_LI("dl_validation", c->deadletters[GS_ERR_VALIDATION]),
                GS_LI("dl_too_large", c->deadletters[GS_ERR_TOO_LARGE]),
                GS_LI("dl_internal", c->deadletters[GS_ERR_INTERNAL]),
                GS_LI("delivery_failures", c->delivery_failures),
                GS_LI("dropped_revoked", c->dropped_revoked), GS_LI("pending", w->n_pending),
                GS_LI("queued", w->q_len));
}

/* ---- observability ----------------------------------------------------- */

static void emit_alert(const char *fingerprint, const char *payload, size_t len, void *opaque)
{
    gs_worker_t *w = opaque;
    if (!w->alerts_rkt)
        return;
    if (rd_kafka_produce(w->alerts_rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)payload,
                         len, fingerprint, strlen(fingerprint), NULL))
        gs_counter_add(w->obs.side_failures, 1);
    else
        w->side_inflight++;
}

static void snapshot(gs_worker_t *w, int64_t now)
{
    char err[256];
    int64_t interval_ms =
        w->last_snapshot_us ? (now - w->last_snapshot_us) / 1000 : w->cfg->metrics.interval_ms;
    w->last_snapshot_us = now;
    if (gs_msnap_encode(w->msnap, w->metrics, w->cfg->worker.id, gs_wall_ms(), interval_ms,
                        w->msnap_schema_id, &w->msnap_buf, err, sizeof(err))) {
        gs_log_error(w->log, "cannot encode a metrics snapshot", GS_LS("error", err));
        return;
    }
    const char *id = w->cfg->worker.id;
    if (rd_kafka_produce(w->metrics_rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                         w->msnap_buf.data, w->msnap_buf.len, id, strlen(id), NULL))
        gs_counter_add(w->obs.side_failures, 1);
    else
        w->side_inflight++;
}

/* Periodic work of the poll loop: a clock read per iteration otherwise. */
static void observe(gs_worker_t *w)
{
    int64_t now = gs_now_us();
    if (now >= w->next_gauges_us) {
        char *state = obs_governance(
            &w->obs, w->kinds, w->n_kinds, (uint64_t)w->cfg->alerts.events.moral_pinned_steps,
            w->cfg->worker.id, gs_readiness_reason(gs_health_get(w->health)));
        if (state)
            gs_health_set_state(w->health, state);
        obs_process(&w->obs);
        w->next_gauges_us = now + GAUGES_INTERVAL_US;
    }
    gs_alerter_tick(w->alerter, now, emit_alert, w);
    if (w->metrics_rkt && now >= w->next_snapshot_us) {
        if (w->next_snapshot_us)
            snapshot(w, now);
        else
            w->last_snapshot_us = now; /* the first one after a full interval */
        w->next_snapshot_us = now + (int64_t)w->cfg->metrics.interval_ms * 1000;
    }
    if (now >= w->next_stats_us) {
        log_stats(w);
        w->next_stats_us = now + STATS_INTERVAL_US;
    }
}

/* ---- lifecycle --------------------------------------------------------- */

static gs_err_t new_client(gs_worker_t *w, gs_kafka_role_t role, rd_kafka_t **out, char *errstr,
                           size_t n)
{
    rd_kafka_conf_t *conf;
    gs_err_t err = gs_kafka_conf_build(w->cfg, role, &conf, errstr, n);
    if (err)
        return err;
    rd_kafka_conf_set_opaque(conf, w);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    if (role == GS_KAFKA_CONSUMER) {
        char ms[16];
        snprintf(ms, sizeof(ms), "%d", w->cfg->metrics.lag_interval_ms);
        rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
        rd_kafka_conf_set_stats_cb(conf, on_stats);
        rd_kafka_conf_set(conf, "statistics.interval.ms", ms, NULL, 0);
    } else {
        char buf[32];
        size_t sz = sizeof(buf);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        if (rd_kafka_conf_get(conf, "queue.buffering.max.messages", buf, &sz) == RD_KAFKA_CONF_OK)
            w->queue_max = atol(buf);
    }
    char kerr[512];
    *out = rd_kafka_new(role == GS_KAFKA_CONSUMER ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER, conf,
                        kerr, sizeof(kerr));
    if (!*out) {
        rd_kafka_conf_destroy(conf);
        return gs_fail(errstr, n, GS_ERR_KAFKA, "cannot create the Kafka %s: %s",
                       role == GS_KAFKA_CONSUMER ? "consumer" : "producer", kerr);
    }
    return GS_OK;
}

/* Metrics and alert records must never hold up the stream: they expire
 * (instead of waiting forever like results) and are not required at
 * start. NULL when the topic is not configured. */
static rd_kafka_topic_t *side_topic(gs_worker_t *w, const char *name)
{
    if (!*name)
        return NULL;
    rd_kafka_topic_conf_t *tc = rd_kafka_topic_conf_new();
    char ms[16];
    snprintf(ms, sizeof(ms), "%d", 2 * w->cfg->metrics.interval_ms + 30000);
    rd_kafka_topic_conf_set(tc, "message.timeout.ms", ms, NULL, 0);
    return rd_kafka_topic_new(w->producer, name, tc);
}

gs_err_t gs_worker_new(const gs_config_t *cfg, gs_log_t *log, gs_worker_t **out, char *errstr,
                       size_t n)
{
    gs_worker_t *w = calloc(1, sizeof(*w));
    if (!w)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    w->cfg = cfg;
    w->log = log;
    w->dl_schema_id = -1;
    w->msnap_schema_id = -1;
    w->batch_max = (size_t)cfg->batch.max;
    w->queue_max = 100000;
    gs_err_t err = gs_metrics_new(&w->metrics, errstr, n);
    if (!err)
        err = gs_deadletter_codec_new(&w->dlc, errstr, n);
    if (!err)
        err = gs_msnap_codec_new(&w->msnap, errstr, n);
    if (!err && cfg->dialogue.enabled)
        err = gs_kind_dialogue_new(cfg, &w->kinds[w->n_kinds++], errstr, n);
    if (!err && !w->n_kinds)
        err = gs_fail(errstr, n, GS_ERR_CONFIG, "%s: no request kind is enabled", cfg->path);
    /* every family is declared before the rules are compiled against them */
    if (!err)
        err = obs_init(&w->obs, w->metrics, w->kinds, w->n_kinds, errstr, n);
    if (!err)
        err = gs_alerter_new(cfg, w->metrics, log, &w->alerter, errstr, n);
    if (!err)
        err = gs_health_new(cfg->http.listen, w->metrics, &w->health, errstr, n);
    if (!err && *cfg->registry.url) {
        gs_registry_conf_t rc = {cfg->registry.url,
                                 cfg->registry.username,
                                 cfg->registry.password,
                                 cfg->registry.ca_file,
                                 cfg->registry.connect_timeout_ms,
                                 cfg->registry.timeout_ms,
                                 cfg->registry.retries,
                                 cfg->registry.backoff_ms,
                                 cfg->registry.backoff_max_ms,
                                 cfg->registry.negative_cache_ms};
        err = gs_registry_new(&rc, &w->registry, errstr, n);
    }
    if (!err)
        err = gs_offsets_new((size_t)cfg->delivery.max_inflight_per_partition, &w->offsets, errstr,
                             n);
    if (!err) {
        w->q_cap = w->batch_max * 2;
        w->queue = calloc(w->q_cap, sizeof(rd_kafka_message_t *));
        w->items = calloc(w->batch_max, sizeof(*w->items));
        w->bufs = calloc(w->batch_max, sizeof(*w->bufs));
        if (!w->queue || !w->items || !w->bufs)
            err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; !err && k < w->n_kinds; k++) {
        w->values[k] = calloc(w->batch_max, sizeof(avro_value_t));
        for (size_t i = 0; w->values[k] && i < w->batch_max && !err; i++)
            if (avro_generic_value_new(gs_avro_schema_iface(w->kinds[k]->request_schema),
                                       &w->values[k][i]))
                err = gs_fail(errstr, n, GS_ERR_NOMEM, "%s", avro_strerror());
        if (!w->values[k])
            err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    if (!err)
        err = new_client(w, GS_KAFKA_CONSUMER, &w->consumer, errstr, n);
    if (!err)
        err = new_client(w, GS_KAFKA_PRODUCER, &w->producer, errstr, n);
    if (!err) {
        rd_kafka_poll_set_consumer(w->consumer);
        w->dl_rkt = rd_kafka_topic_new(w->producer, cfg->deadletter.topic, NULL);
        for (size_t k = 0; k < w->n_kinds; k++)
            w->result_rkt[k] =
                rd_kafka_topic_new(w->producer, w->kinds[k]->cfg->results_topic, NULL);
        w->metrics_rkt = side_topic(w, cfg->metrics.topic);
        w->alerts_rkt = side_topic(w, cfg->alerts.topic);
    }
    if (err) {
        gs_worker_destroy(w);
        return err;
    }
    *out = w;
    return GS_OK;
}

void gs_worker_destroy(gs_worker_t *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->q_len; i++)
        rd_kafka_message_destroy(w->queue[i]);
    for (size_t k = 0; k < w->n_kinds; k++)
        if (w->result_rkt[k])
            rd_kafka_topic_destroy(w->result_rkt[k]);
    if (w->dl_rkt)
        rd_kafka_topic_destroy(w->dl_rkt);
    if (w->metrics_rkt)
        rd_kafka_topic_destroy(w->metrics_rkt);
    if (w->alerts_rkt)
        rd_kafka_topic_destroy(w->alerts_rkt);
    if (w->consumer)
        rd_kafka_destroy(w->consumer);
    if (w->producer)
        rd_kafka_destroy(w->producer);
    for (size_t i = 0; i < w->n_pending; i++) {
        free(w->pending[i].key);
        free(w->pending[i].value);
    }
    free(w->pending);
    for (size_t k = 0; k < w->n_kinds; k++) {
        for (size_t i = 0; w->values[k] && i < w->batch_max; i++)
            if (w->values[k][i].self)
                avro_value_decref(&w->values[k][i]);
        free(w->values[k]);
        w->kinds[k]->destroy(w->kinds[k]);
    }
    for (size_t i = 0; w->bufs && i < w->batch_max; i++)
        gs_buf_free(&w->bufs[i]);
    gs_buf_free(&w->dl_buf);
    gs_buf_free(&w->msnap_buf);
    free(w->bufs);
    free(w->items);
    free(w->queue);
    free(w->paused);
    free(w->taken);
    gs_offsets_destroy(w->offsets);
    gs_registry_destroy(w->registry);
    gs_deadletter_codec_destroy(w->dlc);
    gs_msnap_codec_destroy(w->msnap);
    /* the HTTP and webhook threads read the registry: stop them first */
    gs_health_destroy(w->health);
    gs_alerter_destroy(w->alerter);
    gs_metrics_destroy(w->metrics);
    free(w);
}

gs_err_t gs_worker_check_alerts(const gs_config_t *cfg, char *errstr, size_t n)
{
    gs_metrics_t *m;
    gs_err_t err = gs_metrics_new(&m, errstr, n);
    if (err)
        return err;
    err = obs_declare(m, errstr, n);
    if (!err)
        err = gs_alerter_check(cfg, m, errstr, n);
    gs_metrics_destroy(m);
    return err;
}

/* Registers every schema we write with confluent framing under
 * <topic>-value; retries while the registry is unreachable. */
static int register_outputs(gs_worker_t *w, volatile sig_atomic_t *signals)
{
    typedef struct output {
        int framing;
        const char *topic;
        gs_avro_schema_t *schema;
        int32_t *id;
    } output_t;
    output_t outs[MAX_KINDS + 2];
    size_t n_out = 0;
    outs[n_out++] = (output_t){w->cfg->deadletter.framing, w->cfg->deadletter.topic,
                               gs_deadletter_schema(w->dlc), &w->dl_schema_id};
    if (w->metrics_rkt)
        outs[n_out++] = (output_t){w->cfg->metrics.framing, w->cfg->metrics.topic,
                                   gs_msnap_schema(w->msnap), &w->msnap_schema_id};
    for (size_t k = 0; k < w->n_kinds; k++)
        outs[n_out++] =
            (output_t){w->kinds[k]->cfg->output_framing, w->kinds[k]->cfg->results_topic,
                       w->kinds[k]->result_schema, &w->kinds[k]->result_schema_id};
    int backoff = w->cfg->registry.backoff_ms;
    for (size_t i = 0; i < n_out; i++) {
        if (outs[i].framing != GS_FRAMING_CONFLUENT)
            continue;
        char subject[300], err[512];
        snprintf(subject, sizeof(subject), "%s-value", outs[i].topic);
        for (;;) {
            gs_err_t e =
                gs_registry_register(w->registry, subject, gs_avro_schema_json(outs[i].schema),
                                     outs[i].id, err, sizeof(err));
            if (!e) {
                gs_log_info(w->log, "schema registered", GS_LS("subject", subject),
                            GS_LI("id", *outs[i].id));
                break;
            }
            if (e != GS_ERR_TRANSPORT) {
                gs_log_error(w->log, "schema registration refused", GS_LS("subject", subject),
                             GS_LS("error", err));
                return -1;
            }
            gs_health_set(w->health, GS_NOT_READY_REGISTRY_DOWN);
            gs_log_warn(w->log, "schema registry unreachable; retrying", GS_LS("error", err),
                        GS_LI("backoff_ms", backoff));
            for (int waited = 0; waited < backoff; waited += 100) {
                if (*signals & GS_SIG_STOP)
                    return -1;
                gs_health_beat(w->health);
                sleep_ms(100);
            }
            backoff = next_backoff(backoff, w->cfg->registry.backoff_max_ms);
        }
    }
    return 0;
}

/* SIGTERM: no new fetches; finish what was consumed, wait for the broker to
 * acknowledge, commit exactly that, leave the group. Every wait is bounded
 * by the shutdown deadline; the tool enforces it as a last resort. */
static int drain(gs_worker_t *w, int64_t deadline_us)
{
    w->deadline_us = deadline_us;
    gs_health_set(w->health, GS_NOT_READY_DRAINING);
    gs_log_info(w->log, "draining", GS_LI("queued", w->q_len), GS_LI("pending", w->n_pending),
                GS_LI("in_producer", tracked_outq(w)));
    /* Keep a third of the budget for the commit and the group leave. */
    int64_t work_deadline = gs_now_us() + (deadline_us - gs_now_us()) * 2 / 3;
    while (w->q_len && !w->fatal && !w->registry_down && gs_now_us() < work_deadline)
        process_queue(w);
    while ((w->n_pending || tracked_outq(w) > 0) && gs_now_us() < work_deadline) {
        retry_pending(w);
        rd_kafka_poll(w->producer, 50);
    }
    store_offsets(w);
    int clean = !w->n_pending && tracked_outq(w) == 0;
    rd_kafka_resp_err_t err = rd_kafka_commit(w->consumer, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        gs_log_warn(w->log, "final commit failed", GS_LS("error", rd_kafka_err2name(err)));
        clean = 0;
    }
    err = rd_kafka_consumer_close(w->consumer); /* its revoke flushes within the deadline */
    if (err)
        gs_log_warn(w->log, "consumer close", GS_LS("error", rd_kafka_err2name(err)));
    flush_tracked(w, remaining_ms(deadline_us));
    /* metrics and alerts still queued (a missing topic?) are dropped */
    rd_kafka_purge(w->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(w->producer, 0);
    if (!clean || w->q_len)
        gs_log_warn(w->log, "unfinished work left uncommitted (it will be redelivered)",
                    GS_LI("queued", w->q_len), GS_LI("pending", w->n_pending));
    log_stats(w);
    gs_log_info(w->log, "stopped", GS_LI("left_ms", remaining_ms(deadline_us)));
    return w->fatal ? 1 : clean && !w->q_len ? 0 : 4;
}

/* Output topics must exist before anything is consumed: with
 * message.timeout.ms=0 results for a missing topic would wait silently.
 * Not ready (and retrying) until they do. Returns -1 when asked to stop. */
static int wait_for_topics(gs_worker_t *w, volatile sig_atomic_t *signals)
{
    rd_kafka_topic_t *outs[MAX_KINDS + 1];
    size_t n = 0;
    outs[n++] = w->dl_rkt;
    for (size_t k = 0; k < w->n_kinds; k++)
        outs[n++] = w->result_rkt[k];
    int backoff = 500;
    int64_t next_log = 0;
    for (size_t i = 0; i < n;) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(w->producer, 0, outs[i], &md, 5000);
        if (!err && md->topic_cnt == 1 && !md->topics[0].err) {
            rd_kafka_metadata_destroy(md);
            i++;
            continue;
        }
        gs_readiness_t why = err ? GS_NOT_READY_BROKER_DOWN : GS_NOT_READY_TOPIC_MISSING;
        if (gs_now_us() >= next_log) {
            gs_log_error(w->log, gs_readiness_reason(why),
                         GS_LS("topic", rd_kafka_topic_name(outs[i])),
                         GS_LS("error", rd_kafka_err2name(err ? err : md->topics[0].err)));
            next_log = gs_now_us() + STATS_INTERVAL_US;
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        gs_health_set(w->health, why);
        for (int waited = 0; waited < backoff; waited += 100) {
            if (*signals & GS_SIG_STOP)
                return -1;
            gs_health_beat(w->health);
            sleep_ms(100);
        }
        backoff = next_backoff(backoff, 10000);
    }
    return 0;
}

/* Loads every kind's models. At start it retries (every 10 s, or at once on
 * SIGHUP) and the worker stays out of the group and not ready meanwhile;
 * while running (SIGHUP) a failure keeps the current models. Returns -1
 * when asked to stop before the models loaded. */
static int load_models(gs_worker_t *w, volatile sig_atomic_t *signals, int at_start)
{
    for (;;) {
        int failed = 0;
        for (size_t k = 0; k < w->n_kinds; k++) {
            char err[512];
            if (!w->kinds[k]->load_models)
                continue;
            if (w->kinds[k]->load_models(w->kinds[k], err, sizeof(err))) {
                failed = 1;
                gs_gauge_set(w->obs.model_failed[k], 1);
                gs_counter_add(w->obs.model_failures[k], 1);
                gs_log_error(w->log,
                             at_start ? "model not loaded; not joining the group"
                                      : "model reload failed; keeping the current model",
                             GS_LS("kind", w->kinds[k]->name), GS_LS("error", err));
            } else {
                gs_gauge_set(w->obs.model_failed[k], 0);
                gs_log_info(w->log, at_start ? "models loaded" : "models reloaded",
                            GS_LS("kind", w->kinds[k]->name));
            }
        }
        if (!failed || !at_start)
            return 0;
        gs_health_set(w->health, GS_NOT_READY_MODEL);
        for (int waited = 0; waited < 10000; waited += 100) {
            if (*signals & GS_SIG_STOP)
                return -1;
            if (*signals & GS_SIG_RELOAD) {
                *signals &= ~GS_SIG_RELOAD;
                break;
            }
            gs_health_beat(w->health);
            sleep_ms(100);
        }
    }
}

int gs_worker_run(gs_worker_t *w, volatile sig_atomic_t *signals)
{
    if (w->registry && register_outputs(w, signals))
        return (*signals & GS_SIG_STOP) ? 0 : 1;
    if (wait_for_topics(w, signals) || load_models(w, signals, 1))
        return 0;

    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(MAX_KINDS);
    for (size_t k = 0; k < w->n_kinds; k++)
        rd_kafka_topic_partition_list_add(topics, w->kinds[k]->cfg->requests_topic,
                                          RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(w->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err) {
        gs_log_error(w->log, "subscribe failed", GS_LS("error", rd_kafka_err2str(err)));
        return 1;
    }
    gs_health_set(w->health, GS_NOT_READY_NOT_JOINED);
    gs_log_info(w->log, "running", GS_LI("kinds", w->n_kinds), GS_LI("batch_max", w->batch_max),
                GS_LI("http_port", gs_health_port(w->health)));
    w->next_stats_us = gs_now_us() + STATS_INTERVAL_US;

    while (!(*signals & GS_SIG_STOP) && !w->fatal) {
        if (*signals & GS_SIG_RELOAD) { /* between batches: the swap is atomic */
            *signals &= ~GS_SIG_RELOAD;
            load_models(w, signals, 0);
        }
        /* Delivery reports; while the producer side throttles us, wait for
         * them here rather than in the consumer poll below. */
        rd_kafka_poll(w->producer, w->throttled ? 5 : 0);
        retry_pending(w);
        store_offsets(w);
        w->throttled = flow_control(w);
        update_health(w);
        /* While work is held back or throttled, keep serving the group
         * without waiting. */
        fill_queue(w, w->q_len || w->throttled ? 0 : 100);
        process_queue(w);
        observe(w);
    }
    /* 10% margin under shutdown.timeout_ms, where the tool's watchdog fires */
    int64_t budget_ms = w->cfg->shutdown.timeout_ms - w->cfg->shutdown.timeout_ms / 10;
    return drain(w, gs_now_us() + budget_ms * 1000);
}
