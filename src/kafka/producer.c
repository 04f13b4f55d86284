/* The worker's producer: tracked records (results, dead letters) that are
 * held and produced again until the broker has them, and side records
 * (metrics, alerts) that expire; in exactly-once mode, the transactions
 * that commit tracked records with the input positions. See
 * govstream/kafka.h. */
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
    rd_kafka_t *side; /* metrics and alerts: rk, or a plain producer next to a transactional rk */
    gs_offsets_t *offsets;
    gs_series_t *delivery_failures, *side_failures;
    held_t *held; /* in the order they were sent */
    size_t n_held, cap_held;
    size_t n_queue_full; /* held because librdkafka's queue was full */
    long side_inflight;  /* metrics and alert records in librdkafka */
    long queue_max;      /* queue.buffering.max.messages */
    int queue_full;
    int eos;        /* delivery.mode = exactly_once: rk is transactional */
    int in_txn;     /* a transaction is open */
    int txn_failed; /* a record of it was refused: it can only abort */
    int committing; /* a commit timed out on its way: only that commit may be called again */
    gs_producer_stats_t stats;
};

/* Exactly-once: the first record after a commit opens the next transaction. */
static void begin_txn(gs_producer_t *p)
{
    rd_kafka_error_t *e = rd_kafka_begin_transaction(p->rk);
    if (!e) {
        p->in_txn = 1;
        return;
    }
    gs_log_error(p->base.log, "cannot begin a transaction; stopping",
                 GS_LS("error", rd_kafka_error_string(e)));
    rd_kafka_error_destroy(e);
    p->base.state->fatal = 1;
}

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
    if (p->eos && !p->in_txn)
        begin_txn(p);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        p->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(token), RD_KAFKA_V_END);
    /* a fatal error (a fenced producer) is logged once, by the error callback */
    if (err && err != RD_KAFKA_RESP_ERR__QUEUE_FULL && err != RD_KAFKA_RESP_ERR__FATAL)
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
    if (p->eos) {
        /* The transaction aborts and its inputs are read again: no retry.
         * Records purged by an abort are not failures. */
        p->txn_failed = 1;
        if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
            return;
    }
    p->stats.delivery_failures++;
    gs_counter_add(p->delivery_failures, 1);
    gs_log_warn(p->base.log, "delivery failed; will retry",
                GS_LS("topic", rd_kafka_topic_name(m->rkt)),
                GS_LS("error", rd_kafka_err2name(m->err)));
    if (!p->eos && live(p, m->_private))
        hold(p, m->rkt, m->partition, m->key, m->key_len, m->payload, m->len, m->_private,
             p->cfg->delivery.retry_backoff_ms);
}

void gs_producer_poll(gs_producer_t *p, int ms)
{
    rd_kafka_poll(p->rk, ms);
    if (p->side != p->rk)
        rd_kafka_poll(p->side, 0);
    if (p->n_held)
        retry_held(p);
}

/* Records the stream waits for: results and dead letters, not metrics or
 * alerts (those may sit in librdkafka for a missing topic until they
 * expire, and must not delay a rebalance or a shutdown). */
static long tracked_outq(const gs_producer_t *p)
{
    return rd_kafka_outq_len(p->rk) - (p->side == p->rk ? p->side_inflight : 0);
}

long gs_producer_unacked(const gs_producer_t *p)
{
    return tracked_outq(p) + (long)p->n_held;
}

size_t gs_producer_held(const gs_producer_t *p)
{
    return p->n_held;
}

void gs_producer_flush(gs_producer_t *p, int ms)
{
    int64_t deadline = gs_now_us() + (int64_t)ms * 1000;
    while (tracked_outq(p) > 0 && gs_now_us() < deadline)
        rd_kafka_poll(p->rk, 10);
}

void gs_producer_send_now(gs_producer_t *p, int ms)
{
    rd_kafka_flush(p->rk, ms > 0 ? ms : 1);
}

void gs_producer_purge(gs_producer_t *p)
{
    rd_kafka_purge(p->side, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(p->side, 0);
    if (!p->eos) { /* a transactional producer's records leave with an abort only */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->rk, 0);
    }
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
    return rd_kafka_topic_new(side ? p->side : p->rk, name, tc);
}

static gs_err_t new_client(gs_producer_t *p, gs_kafka_role_t role, rd_kafka_t **rk, char *errstr,
                           size_t n)
{
    rd_kafka_conf_t *conf;
    gs_err_t err = gs_kafka_conf_build(p->cfg, role, &conf, errstr, n);
    if (err)
        return err;
    char buf[32];
    size_t sz = sizeof(buf);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    if (role == GS_KAFKA_PRODUCER &&
        rd_kafka_conf_get(conf, "queue.buffering.max.messages", buf, &sz) == RD_KAFKA_CONF_OK)
        p->queue_max = atol(buf);
    return gs_kafka_client_new(conf, role, &p->base, rk, errstr, n);
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
                         .queue_max = 100000,
                         .eos = cfg->delivery.mode == GS_DELIVERY_EXACTLY_ONCE};
    gs_err_t err = new_client(p, GS_KAFKA_PRODUCER, &p->rk, errstr, n);
    p->side = p->rk;
    if (!err && p->eos)
        err = new_client(p, GS_KAFKA_SIDE, &p->side, errstr, n);
    if (err) {
        gs_producer_destroy(p);
        return err;
    }
    *out = p;
    return GS_OK;
}

void gs_producer_destroy(gs_producer_t *p)
{
    if (!p)
        return;
    if (p->side && p->side != p->rk)
        rd_kafka_destroy(p->side);
    if (p->rk)
        rd_kafka_destroy(p->rk);
    for (size_t i = 0; i < p->n_held; i++) {
        free(p->held[i].key);
        free(p->held[i].value);
    }
    free(p->held);
    free(p);
}

/* ---- transactions (delivery.mode = exactly_once) ------------------------------ */

gs_err_t gs_producer_txn_init(gs_producer_t *p, int timeout_ms, char *errstr, size_t n)
{
    rd_kafka_error_t *e = rd_kafka_init_transactions(p->rk, timeout_ms);
    if (!e)
        return GS_OK;
    gs_err_t err = rd_kafka_error_is_fatal(e) ? GS_ERR_KAFKA : GS_ERR_TRANSPORT;
    gs_fail(errstr, n, err, "init_transactions: %s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return err;
}

int gs_producer_txn_open(const gs_producer_t *p)
{
    return p->in_txn;
}

typedef enum { CALL_OFFSETS, CALL_COMMIT, CALL_ABORT } call_t;
static const char *const call_names[] = {"send_offsets_to_transaction", "commit_transaction",
                                         "abort_transaction"};

/* One transactional call, repeated while librdkafka calls its error
 * retriable and time is left. */
static gs_txn_result_t txn_call(gs_producer_t *p, call_t call, rd_kafka_t *consumer,
                                const rd_kafka_topic_partition_list_t *offsets, int64_t deadline)
{
    for (;;) {
        int ms = (int)((deadline - gs_now_us()) / 1000);
        ms = ms < 1 ? 1 : ms;
        rd_kafka_error_t *e = NULL;
        if (call == CALL_OFFSETS) {
            rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata(consumer);
            e = rd_kafka_send_offsets_to_transaction(p->rk, offsets, md, ms);
            rd_kafka_consumer_group_metadata_destroy(md);
        } else {
            e = call == CALL_COMMIT ? rd_kafka_commit_transaction(p->rk, ms)
                                    : rd_kafka_abort_transaction(p->rk, ms);
        }
        if (!e)
            return GS_TXN_COMMITTED;
        int retriable = rd_kafka_error_is_retriable(e);
        int retry = retriable && gs_now_us() < deadline;
        /* An abort that cannot complete now (brokers unreachable) is tried
         * again by the caller. So is a commit that timed out: librdkafka
         * finishes it in the background and refuses any other call until
         * commit_transaction is called again ("Conflicting commit_transaction
         * API call is already in progress"). */
        gs_txn_result_t r = rd_kafka_error_is_fatal(e)                   ? GS_TXN_FATAL
                            : call == CALL_ABORT                         ? GS_TXN_PENDING
                            : call == CALL_COMMIT && retriable && !retry ? GS_TXN_PENDING
                                                                         : GS_TXN_ABORTED;
        if (!retry)
            gs_log_error(p->base.log,
                         r == GS_TXN_FATAL ? "transaction failed; stopping"
                         : call == CALL_COMMIT && r == GS_TXN_PENDING
                             ? "transaction commit not complete; resuming it"
                         : r == GS_TXN_PENDING ? "transaction abort not complete; retrying"
                                               : "transaction failed; aborting it",
                         GS_LS("call", call_names[call]), GS_LS("error", rd_kafka_error_string(e)));
        rd_kafka_error_destroy(e);
        if (!retry)
            return r;
        rd_kafka_poll(p->rk, 10);
    }
}

/* Records held for a full queue go into librdkafka before the commit, or
 * the commit would cover inputs whose results it lacks. */
static int push_held(gs_producer_t *p, int64_t deadline)
{
    while (p->n_held && !p->txn_failed && gs_now_us() < deadline) {
        rd_kafka_poll(p->rk, 5);
        retry_held(p);
    }
    return p->n_held == 0;
}

static void drop_held(gs_producer_t *p)
{
    for (size_t i = 0; i < p->n_held; i++) {
        free(p->held[i].key);
        free(p->held[i].value);
    }
    p->n_held = p->n_queue_full = 0;
}

static gs_txn_result_t committed(gs_producer_t *p)
{
    p->in_txn = p->committing = 0;
    p->stats.txn_committed++;
    return GS_TXN_COMMITTED;
}

gs_txn_result_t gs_producer_txn_abort(gs_producer_t *p, int timeout_ms)
{
    if (!p->in_txn)
        return GS_TXN_NONE;
    drop_held(p);
    int64_t deadline = gs_now_us() + (int64_t)timeout_ms * 1000;
    if (p->committing) { /* the only call librdkafka takes now; it may yet commit */
        gs_txn_result_t c = txn_call(p, CALL_COMMIT, NULL, NULL, deadline);
        if (c == GS_TXN_COMMITTED)
            return committed(p);
        if (c == GS_TXN_PENDING || c == GS_TXN_FATAL)
            return c;
        p->committing = 0; /* it failed: now it can abort */
    }
    gs_txn_result_t r = txn_call(p, CALL_ABORT, NULL, NULL, deadline);
    if (r != GS_TXN_COMMITTED)
        return r;
    p->in_txn = p->txn_failed = 0;
    p->stats.txn_aborted++;
    return GS_TXN_ABORTED;
}

/* Every record of the transaction acknowledged: the input watermarks are
 * then exactly the positions processed. */
static int flush_txn(gs_producer_t *p, int64_t deadline)
{
    while (tracked_outq(p) > 0 && !p->txn_failed && gs_now_us() < deadline)
        rd_kafka_poll(p->rk, 5);
    return tracked_outq(p) == 0 && !p->txn_failed;
}

gs_txn_result_t gs_producer_txn_commit(gs_producer_t *p, gs_consumer_t *c, int timeout_ms)
{
    if (!p->in_txn)
        return GS_TXN_NONE;
    if (p->committing) /* the last commit is still under way */
        return gs_producer_txn_abort(p, timeout_ms);
    int64_t deadline = gs_now_us() + (int64_t)timeout_ms * 1000;
    gs_txn_result_t r = GS_TXN_ABORTED;
    if (push_held(p, deadline) && flush_txn(p, deadline)) {
        rd_kafka_topic_partition_list_t *offsets = gs_consumer_positions(c);
        r = offsets->cnt ? txn_call(p, CALL_OFFSETS, gs_consumer_handle(c), offsets, deadline)
                         : GS_TXN_COMMITTED;
        rd_kafka_topic_partition_list_destroy(offsets);
        if (r == GS_TXN_COMMITTED)
            r = txn_call(p, CALL_COMMIT, NULL, NULL, deadline);
    }
    /* a delivery refused during the commit's flush fails it too */
    if (r == GS_TXN_COMMITTED)
        return committed(p);
    if (r == GS_TXN_PENDING) {
        p->committing = 1; /* resumed by gs_producer_txn_abort, which the caller calls next */
        return r;
    }
    return r == GS_TXN_FATAL ? r : gs_producer_txn_abort(p, timeout_ms);
}
