/* The worker's producer: tracked records (results, dead letters) that are
 * held and produced again until the broker has them, and side records
 * (metrics, alerts) that expire. See govstream/kafka.h. */
#include <stdlib.h>
#include <string.h>

#include "govstream/kafka.h"

/* A record the producer did not take or the broker refused: produced again
 * after a backoff, keeping the input offset unacknowledged meanwhile. */
typedef struct held {
    rd_kafka_topic_t *rkt;
    int32_t partition; /* RD_KAFKA_PARTITION_UA: by key */
    void *key, *value;
    size_t key_len, value_len;
    void *token;
    int64_t due_us;
    int backoff_ms;
} held_t;

struct gs_producer {
    gs_kafka_base_t base; /* first: the shared callbacks' opaque */
    const gs_config_t *cfg;
    rd_kafka_t *rk;
    gs_offsets_t *offsets;
    gs_series_t *delivery_failures, *side_failures;
    held_t *held; /* in the order they were sent */
    size_t n_held, cap_held;
    size_t n_queue_full; /* held because librdkafka's queue was full */
    long side_inflight;  /* metrics and alert records in librdkafka */
    long queue_max;      /* queue.buffering.max.messages */
    int queue_full;
    gs_producer_stats_t stats;
};

static void hold(gs_producer_t *p, rd_kafka_topic_t *rkt, int32_t partition, const void *key,
                 size_t key_len, const void *value, size_t value_len, void *token, int backoff_ms)
{
    if (p->n_held == p->cap_held) {
        size_t cap = p->cap_held ? p->cap_held * 2 : 64;
        if (gs_grow(&p->held, cap, sizeof(*p->held)))
            goto oom;
        p->cap_held = cap;
    }
    held_t *h = &p->held[p->n_held];
    *h = (held_t){.rkt = rkt,
                  .partition = partition,
                  .key_len = key_len,
                  .value_len = value_len,
                  .token = token,
                  .backoff_ms = backoff_ms,
                  .due_us = gs_now_us() + (int64_t)backoff_ms * 1000};
    h->key = key_len ? malloc(key_len) : NULL;
    h->value = value_len ? malloc(value_len) : NULL;
    if ((key_len && !h->key) || (value_len && !h->value)) {
        free(h->key);
        free(h->value);
        goto oom;
    }
    if (key_len)
        memcpy(h->key, key, key_len);
    if (value_len)
        memcpy(h->value, value, value_len);
    p->n_held++;
    p->n_queue_full += !backoff_ms;
    return;
oom:
    /* The offset stays unacknowledged, so the input is redelivered after a
     * restart; stopping is the only safe move. */
    gs_log_error(p->base.log, "out of memory holding a record for retry; stopping",
                 GS_LS("topic", rd_kafka_topic_name(rkt)));
    p->base.state->fatal = 1;
}

/* RD_KAFKA_RESP_ERR_NO_ERROR when librdkafka took the record. */
static rd_kafka_resp_err_t produce(gs_producer_t *p, rd_kafka_topic_t *rkt, int32_t partition,
                                   const void *key, size_t key_len, const void *value,
                                   size_t value_len, void *token)
{
    rd_kafka_resp_err_t err = rd_kafka_producev(
        p->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(token), RD_KAFKA_V_END);
    if (err && err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        gs_log_warn(p->base.log, "produce refused; will retry",
                    GS_LS("topic", rd_kafka_topic_name(rkt)),
                    GS_LS("error", rd_kafka_err2name(err)));
    return err;
}

void gs_producer_send_to(gs_producer_t *p, rd_kafka_topic_t *rkt, int32_t partition,
                         const void *key, size_t key_len, const void *value, size_t value_len,
                         void *token)
{
    /* Behind records held for a full queue, so that records keep the order
     * they were sent in (a changelog's later value must stay later). */
    rd_kafka_resp_err_t err =
        p->n_queue_full ? RD_KAFKA_RESP_ERR__QUEUE_FULL
                        : produce(p, rkt, partition, key, key_len, value, value_len, token);
    if (err) /* a full queue is retried on the next poll, errors later */
        hold(p, rkt, partition, key, key_len, value, value_len, token,
             err == RD_KAFKA_RESP_ERR__QUEUE_FULL ? 0 : p->cfg->delivery.retry_backoff_ms);
}

void gs_producer_send(gs_producer_t *p, rd_kafka_topic_t *rkt, const void *key, size_t key_len,
                      const void *value, size_t value_len, void *token)
{
    gs_producer_send_to(p, rkt, RD_KAFKA_PARTITION_UA, key, key_len, value, value_len, token);
}

void gs_producer_send_side(gs_producer_t *p, rd_kafka_topic_t *rkt, const void *key, size_t key_len,
                           const void *value, size_t value_len)
{
    if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)value, value_len,
                         key, key_len, NULL))
        gs_counter_add(p->side_failures, 1);
    else
        p->side_inflight++;
}

static int live(const gs_producer_t *p, void *token)
{
    return token == GS_PRODUCER_UNTRACKED || gs_offsets_live(p->offsets, token);
}

/* Produces the held records that are due, in order, until the queue is
 * full again; drops those of revoked partitions (their new owner redoes
 * them). */
static void retry_held(gs_producer_t *p)
{
    int64_t now = gs_now_us();
    size_t keep = 0;
    int full = 0;
    p->n_queue_full = 0;
    for (size_t i = 0; i < p->n_held; i++) {
        held_t *h = &p->held[i];
        int done = 0;
        if (!live(p, h->token)) {
            done = 1;
            p->stats.dropped_revoked++;
        } else if (h->due_us <= now && !full) {
            rd_kafka_resp_err_t err = produce(p, h->rkt, h->partition, h->key, h->key_len, h->value,
                                              h->value_len, h->token);
            if (!err) {
                done = 1;
            } else if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                full = 1;
            } else {
                h->backoff_ms = gs_backoff_next(h->backoff_ms, p->cfg->delivery.retry_backoff_ms,
                                                p->cfg->delivery.retry_backoff_max_ms);
                h->due_us = now + (int64_t)h->backoff_ms * 1000;
            }
        }
        if (done) {
            free(h->key);
            free(h->value);
        } else {
            p->n_queue_full += !h->backoff_ms;
            p->held[keep++] = *h;
        }
    }
    p->n_held = keep;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    gs_producer_t *p = opaque;
    if (!m->_private) { /* a metrics snapshot or an alert: not retried */
        p->side_inflight--;
        if (m->err) {
            gs_counter_add(p->side_failures, 1);
            gs_log_warn(p->base.log, "metrics or alert record not delivered",
                        GS_LS("topic", rd_kafka_topic_name(m->rkt)),
                        GS_LS("error", rd_kafka_err2name(m->err)));
        }
        return;
    }
    if (!m->err) {
        p->stats.acked++;
        gs_offsets_ack(p->offsets, m->_private);
        return;
    }
    p->stats.delivery_failures++;
    gs_counter_add(p->delivery_failures, 1);
    gs_log_warn(p->base.log, "delivery failed; will retry",
                GS_LS("topic", rd_kafka_topic_name(m->rkt)),
                GS_LS("error", rd_kafka_err2name(m->err)));
    if (live(p, m->_private))
        hold(p, m->rkt, m->partition, m->key, m->key_len, m->payload, m->len, m->_private,
             p->cfg->delivery.retry_backoff_ms);
}

void gs_producer_poll(gs_producer_t *p, int ms)
{
    rd_kafka_poll(p->rk, ms);
    if (p->n_held)
        retry_held(p);
}

/* Records the stream waits for: results and dead letters, not metrics or
 * alerts (those may sit in librdkafka for a missing topic until they
 * expire, and must not delay a rebalance or a shutdown). */
long gs_producer_unacked(const gs_producer_t *p)
{
    return rd_kafka_outq_len(p->rk) - p->side_inflight + (long)p->n_held;
}

size_t gs_producer_held(const gs_producer_t *p)
{
    return p->n_held;
}

void gs_producer_flush(gs_producer_t *p, int ms)
{
    int64_t deadline = gs_now_us() + (int64_t)ms * 1000;
    while (rd_kafka_outq_len(p->rk) - p->side_inflight > 0 && gs_now_us() < deadline)
        rd_kafka_poll(p->rk, 10);
}

void gs_producer_purge(gs_producer_t *p)
{
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(p->rk, 0);
}

int gs_producer_queue_full(gs_producer_t *p, long *len)
{
    long q = rd_kafka_outq_len(p->rk);
    const gs_config_t *c = p->cfg;
    if (!p->queue_full && q >= p->queue_max * c->delivery.queue_high_pct / 100)
        p->queue_full = 1;
    else if (p->queue_full && q <= p->queue_max * c->delivery.queue_low_pct / 100)
        p->queue_full = 0;
    *len = q;
    return p->queue_full;
}

gs_producer_stats_t gs_producer_stats(const gs_producer_t *p)
{
    return p->stats;
}

rd_kafka_t *gs_producer_handle(gs_producer_t *p)
{
    return p->rk;
}

rd_kafka_topic_t *gs_producer_topic(gs_producer_t *p, const char *name, int side)
{
    if (!*name)
        return NULL;
    rd_kafka_topic_conf_t *tc = NULL;
    if (side) { /* metrics and alerts must never hold up the stream: they expire */
        char ms[16];
        tc = rd_kafka_topic_conf_new();
        snprintf(ms, sizeof(ms), "%d", 2 * p->cfg->metrics.interval_ms + 30000);
        rd_kafka_topic_conf_set(tc, "message.timeout.ms", ms, NULL, 0);
    }
    return rd_kafka_topic_new(p->rk, name, tc);
}

gs_err_t gs_producer_new(const gs_config_t *cfg, gs_log_t *log, gs_offsets_t *offsets,
                         gs_kafka_state_t *state, gs_series_t *delivery_failures,
                         gs_series_t *side_failures, gs_producer_t **out, char *errstr, size_t n)
{
    gs_producer_t *p = calloc(1, sizeof(*p));
    if (!p)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    *p = (gs_producer_t){.base = {log, state},
                         .cfg = cfg,
                         .offsets = offsets,
                         .delivery_failures = delivery_failures,
                         .side_failures = side_failures,
                         .queue_max = 100000};
    rd_kafka_conf_t *conf;
    gs_err_t err = gs_kafka_conf_build(cfg, GS_KAFKA_PRODUCER, &conf, errstr, n);
    if (!err) {
        char buf[32];
        size_t sz = sizeof(buf);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        if (rd_kafka_conf_get(conf, "queue.buffering.max.messages", buf, &sz) == RD_KAFKA_CONF_OK)
            p->queue_max = atol(buf);
        err = gs_kafka_client_new(conf, GS_KAFKA_PRODUCER, &p->base, &p->rk, errstr, n);
    }
    if (err) {
        free(p);
        return err;
    }
    *out = p;
    return GS_OK;
}

void gs_producer_destroy(gs_producer_t *p)
{
    if (!p)
        return;
    if (p->rk)
        rd_kafka_destroy(p->rk);
    for (size_t i = 0; i < p->n_held; i++) {
        free(p->held[i].key);
        free(p->held[i].value);
    }
    free(p->held);
    free(p);
}
