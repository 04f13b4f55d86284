/* The worker's consumer: cooperative-sticky rebalancing with the offset
 * tracker, offsets stored and committed at the contiguous watermark, and
 * flow control by pausing partitions. See govstream/kafka.h. */
#include <stdlib.h>
#include <string.h>

#include "govstream/kafka.h"

struct gs_consumer {
    gs_kafka_base_t base; /* first: the shared callbacks' opaque */
    rd_kafka_t *rk;
    gs_offsets_t *offsets;
    gs_consumer_hooks_t hooks;
    uint8_t *paused; /* per offsets slot: paused */
    uint8_t *held;   /* per offsets slot: held paused by gs_consumer_hold */
    int n_slots;
    int joined;
    int eos; /* delivery.mode = exactly_once: the producer's transactions commit */
};

/* Grows the per-slot state with the offset tracker's slot count. */
static int ensure_slots(gs_consumer_t *c)
{
    int n = gs_offsets_slots(c->offsets);
    if (n <= c->n_slots)
        return 0;
    if (gs_grow(&c->paused, (size_t)n, sizeof(*c->paused)) ||
        gs_grow(&c->held, (size_t)n, sizeof(*c->held))) {
        gs_log_msg(c->base.log, GS_LOG_ERROR, "out of memory growing partition state; stopping");
        c->base.state->fatal = 1;
        return -1;
    }
    memset(c->paused + c->n_slots, 0, (size_t)(n - c->n_slots));
    memset(c->held + c->n_slots, 0, (size_t)(n - c->n_slots));
    c->n_slots = n;
    return 0;
}

/* Synchronous commit of the watermarks of the given (assigned) partitions.
 * They are stored too: with enable.auto.commit, librdkafka commits the
 * stored offsets of revoked partitions itself after the rebalance callback,
 * and an older stored offset would overwrite this commit (and the new owner
 * would redo what was acknowledged). */
static void commit_partitions(gs_consumer_t *c, const rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        int s = gs_offsets_find(c->offsets, parts->elems[i].topic, parts->elems[i].partition);
        gs_offsets_advance(c->offsets, s);
        int64_t pos = gs_offsets_position(c->offsets, s);
        if (pos >= 0)
            rd_kafka_topic_partition_list_add(l, parts->elems[i].topic, parts->elems[i].partition)
                ->offset = pos;
    }
    if (l->cnt) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_store(c->rk, l);
        if (!err)
            err = rd_kafka_commit(c->rk, l, 0);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
            gs_log_warn(c->base.log, "commit failed", GS_LS("error", rd_kafka_err2name(err)));
        else
            gs_log_info(c->base.log, "committed", GS_LI("partitions", l->cnt));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

static void list_str(const rd_kafka_topic_partition_list_t *l, char *out, size_t n)
{
    size_t off = 0;
    out[0] = '\0';
    for (int i = 0; i < l->cnt && off < n; i++)
        off += (size_t)snprintf(out + off, n - off, "%s%s[%d]", i ? "," : "", l->elems[i].topic,
                                l->elems[i].partition);
}

static rd_kafka_error_t *assign(gs_consumer_t *c, rd_kafka_topic_partition_list_t *parts, int coop,
                                const char *desc)
{
    for (int i = 0; i < parts->cnt; i++) {
        int s = gs_offsets_assign(c->offsets, parts->elems[i].topic, parts->elems[i].partition);
        if (s < 0) {
            gs_log_error(c->base.log, "cannot track partition", GS_LS("partitions", desc));
            c->base.state->fatal = 1;
        }
        if (!ensure_slots(c) && s >= 0)
            c->paused[s] = c->held[s] = 0;
    }
    rd_kafka_error_t *error = NULL;
    if (coop)
        error = rd_kafka_incremental_assign(c->rk, parts);
    else
        rd_kafka_assign(c->rk, parts);
    c->joined = 1;
    if (!error && c->hooks.assigned)
        c->hooks.assigned(c->hooks.opaque, parts);
    gs_log_info(c->base.log, "partitions assigned", GS_LS("partitions", desc),
                GS_LS("protocol", coop ? "cooperative" : "eager"));
    return error;
}

/* The new owner processes what is still queued for these partitions; the
 * hook drops it, then (unless lost) waits for what is in flight, and the
 * watermark is committed: exactly what the broker acknowledged. */
static rd_kafka_error_t *revoke(gs_consumer_t *c, rd_kafka_topic_partition_list_t *parts, int coop,
                                const char *desc)
{
    int lost = rd_kafka_assignment_lost(c->rk);
    c->hooks.revoking(c->hooks.opaque, parts, lost);
    if (!lost && !c->eos)
        commit_partitions(c, parts);
    for (int i = 0; i < parts->cnt; i++)
        gs_offsets_revoke(c->offsets, gs_offsets_find(c->offsets, parts->elems[i].topic,
                                                      parts->elems[i].partition));
    rd_kafka_error_t *error = NULL;
    if (coop)
        error = rd_kafka_incremental_unassign(c->rk, parts);
    else
        rd_kafka_assign(c->rk, NULL);
    gs_log_info(c->base.log, lost ? "partitions lost" : "partitions revoked",
                GS_LS("partitions", desc));
    return error;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    gs_consumer_t *c = opaque;
    int coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    char desc[512];
    list_str(parts, desc, sizeof(desc));
    rd_kafka_error_t *error = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        error = assign(c, parts, coop, desc);
    } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        error = revoke(c, parts, coop, desc);
    } else {
        gs_log_error(c->base.log, "rebalance failed", GS_LS("error", rd_kafka_err2str(err)));
        rd_kafka_assign(rk, NULL);
    }
    if (error) {
        gs_log_error(c->base.log, "incremental assignment failed",
                     GS_LS("error", rd_kafka_error_string(error)));
        rd_kafka_error_destroy(error);
        c->base.state->fatal = 1;
    }
}

static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    gs_consumer_t *c = opaque;
    if (c->hooks.stats)
        c->hooks.stats(c->hooks.opaque, json, len);
    return 0; /* librdkafka frees json */
}

gs_err_t gs_consumer_new(const gs_config_t *cfg, gs_log_t *log, gs_offsets_t *offsets,
                         gs_kafka_state_t *state, const gs_consumer_hooks_t *hooks,
                         gs_consumer_t **out, char *errstr, size_t n)
{
    gs_consumer_t *c = calloc(1, sizeof(*c));
    if (!c)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    *c = (gs_consumer_t){.base = {log, state},
                         .offsets = offsets,
                         .hooks = *hooks,
                         .eos = cfg->delivery.mode == GS_DELIVERY_EXACTLY_ONCE};
    rd_kafka_conf_t *conf;
    gs_err_t err = gs_kafka_conf_build(cfg, GS_KAFKA_CONSUMER, &conf, errstr, n);
    if (!err) {
        char ms[16];
        snprintf(ms, sizeof(ms), "%d", cfg->metrics.lag_interval_ms);
        rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
        rd_kafka_conf_set_stats_cb(conf, on_stats);
        rd_kafka_conf_set(conf, "statistics.interval.ms", ms, NULL, 0);
        err = gs_kafka_client_new(conf, GS_KAFKA_CONSUMER, &c->base, &c->rk, errstr, n);
    }
    if (err) {
        free(c);
        return err;
    }
    rd_kafka_poll_set_consumer(c->rk);
    *out = c;
    return GS_OK;
}

void gs_consumer_destroy(gs_consumer_t *c)
{
    if (!c)
        return;
    if (c->rk)
        rd_kafka_destroy(c->rk);
    free(c->paused);
    free(c->held);
    free(c);
}

int gs_consumer_joined(const gs_consumer_t *c)
{
    return c->joined;
}

gs_err_t gs_consumer_subscribe(gs_consumer_t *c, const char *const *topics, size_t count,
                               char *errstr, size_t n)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)count);
    for (size_t i = 0; i < count; i++)
        rd_kafka_topic_partition_list_add(l, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err)
        return gs_fail(errstr, n, GS_ERR_KAFKA, "subscribe failed: %s", rd_kafka_err2str(err));
    return GS_OK;
}

rd_kafka_message_t *gs_consumer_poll(gs_consumer_t *c, int ms)
{
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, ms);
        if (!m || !m->err)
            return m;
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            gs_log_warn(c->base.log, "consumer error", GS_LS("error", rd_kafka_err2name(m->err)),
                        GS_LS("detail", rd_kafka_message_errstr(m)));
        rd_kafka_message_destroy(m);
        ms = 0;
    }
}

void gs_consumer_store(gs_consumer_t *c)
{
    if (c->eos)
        return;
    rd_kafka_topic_partition_list_t *l = NULL;
    for (int s = 0; s < gs_offsets_slots(c->offsets); s++) {
        int64_t pos = gs_offsets_advance(c->offsets, s);
        if (pos < 0)
            continue;
        if (!l)
            l = rd_kafka_topic_partition_list_new(8);
        rd_kafka_topic_partition_list_add(l, gs_offsets_topic(c->offsets, s),
                                          gs_offsets_partition(c->offsets, s))
            ->offset = pos;
    }
    if (!l)
        return;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(c->rk, l);
    if (err)
        gs_log_debug(c->base.log, "offsets store", GS_LS("error", rd_kafka_err2name(err)));
    rd_kafka_topic_partition_list_destroy(l);
}

int gs_consumer_finish(gs_consumer_t *c)
{
    gs_consumer_store(c);
    int clean = 1;
    rd_kafka_resp_err_t err = c->eos ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_commit(c->rk, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        gs_log_warn(c->base.log, "final commit failed", GS_LS("error", rd_kafka_err2name(err)));
        clean = 0;
    }
    err = rd_kafka_consumer_close(c->rk); /* its revoke flushes within the deadline */
    if (err)
        gs_log_warn(c->base.log, "consumer close", GS_LS("error", rd_kafka_err2name(err)));
    return clean;
}

static void apply(gs_consumer_t *c, rd_kafka_topic_partition_list_t *l, int pause, long qlen)
{
    if (!l)
        return;
    if (pause)
        rd_kafka_pause_partitions(c->rk, l);
    else
        rd_kafka_resume_partitions(c->rk, l);
    gs_log_debug(c->base.log, pause ? "paused" : "resumed", GS_LI("partitions", l->cnt),
                 GS_LI("producer_queue", qlen));
    rd_kafka_topic_partition_list_destroy(l);
}

int gs_consumer_flow(gs_consumer_t *c, int queue_full, long queue_len, int registry_down,
                     size_t limit)
{
    if (ensure_slots(c))
        return 1;
    rd_kafka_topic_partition_list_t *lists[2] = {NULL, NULL}; /* resume, pause */
    int throttled = queue_full;
    for (int s = 0; s < gs_offsets_slots(c->offsets) && s < c->n_slots; s++) {
        if (!gs_offsets_assigned(c->offsets, s))
            continue;
        /* an in-flight pause lifts only when half the room is back */
        int full = gs_offsets_inflight(c->offsets, s) > (c->paused[s] ? limit / 2 : limit);
        throttled |= full;
        int want = queue_full || registry_down || full || c->held[s];
        if (want == c->paused[s])
            continue;
        if (!lists[want])
            lists[want] = rd_kafka_topic_partition_list_new(8);
        rd_kafka_topic_partition_list_add(lists[want], gs_offsets_topic(c->offsets, s),
                                          gs_offsets_partition(c->offsets, s));
        c->paused[s] = (uint8_t)want;
    }
    apply(c, lists[1], 1, queue_len);
    apply(c, lists[0], 0, queue_len);
    return throttled;
}

void gs_consumer_hold(gs_consumer_t *c, const char *topic, int32_t partition, int hold)
{
    int s = gs_offsets_find(c->offsets, topic, partition);
    if (s < 0 || ensure_slots(c) || c->held[s] == !!hold)
        return;
    c->held[s] = (uint8_t) !!hold;
    if (c->paused[s] == c->held[s])
        return;
    c->paused[s] = c->held[s]; /* flow control pauses it again at once if it must */
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    apply(c, l, hold, 0);
}

void gs_consumer_seek_committed(gs_consumer_t *c, const char *topic, int32_t partition)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    rd_kafka_resp_err_t err = rd_kafka_committed(c->rk, l, 10000);
    if (!err)
        err = l->elems[0].err;
    rd_kafka_error_t *error = NULL;
    if (!err && l->elems[0].offset >= 0)
        error = rd_kafka_seek_partitions(c->rk, l, 10000);
    if (err || error) /* the position from the assignment stays */
        gs_log_warn(c->base.log, "cannot seek a restored partition to its committed offset",
                    GS_LS("topic", topic), GS_LI("partition", partition),
                    GS_LS("error", error ? rd_kafka_error_string(error) : rd_kafka_err2str(err)));
    else if (l->elems[0].offset >= 0)
        gs_log_info(c->base.log, "restored partition at its committed offset",
                    GS_LS("topic", topic), GS_LI("partition", partition),
                    GS_LI("offset", l->elems[0].offset));
    if (error)
        rd_kafka_error_destroy(error);
    rd_kafka_topic_partition_list_destroy(l);
}

rd_kafka_t *gs_consumer_handle(gs_consumer_t *c)
{
    return c->rk;
}

rd_kafka_topic_partition_list_t *gs_consumer_positions(gs_consumer_t *c)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (int s = 0; s < gs_offsets_slots(c->offsets); s++) {
        if (!gs_offsets_assigned(c->offsets, s))
            continue;
        gs_offsets_advance(c->offsets, s);
        int64_t pos = gs_offsets_position(c->offsets, s);
        if (pos >= 0)
            rd_kafka_topic_partition_list_add(l, gs_offsets_topic(c->offsets, s),
                                              gs_offsets_partition(c->offsets, s))
                ->offset = pos;
    }
    return l;
}

void gs_consumer_rewind(gs_consumer_t *c)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t err = rd_kafka_assignment(c->rk, &parts);
    if (err || !parts->cnt) {
        if (parts)
            rd_kafka_topic_partition_list_destroy(parts);
        return;
    }
    char desc[512];
    list_str(parts, desc, sizeof(desc));
    int coop = !strcmp(rd_kafka_rebalance_protocol(c->rk), "COOPERATIVE");
    c->hooks.revoking(c->hooks.opaque, parts, 1);
    for (int i = 0; i < parts->cnt; i++) {
        gs_offsets_revoke(c->offsets, gs_offsets_find(c->offsets, parts->elems[i].topic,
                                                      parts->elems[i].partition));
        parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID; /* from the committed offset */
    }
    rd_kafka_error_t *error = coop ? rd_kafka_incremental_unassign(c->rk, parts) : NULL;
    if (!coop)
        rd_kafka_assign(c->rk, NULL);
    gs_log_info(c->base.log, "rewinding to the committed offsets", GS_LS("partitions", desc));
    if (!error)
        error = assign(c, parts, coop, desc);
    if (error) {
        gs_log_error(c->base.log, "rewind failed; stopping",
                     GS_LS("error", rd_kafka_error_string(error)));
        rd_kafka_error_destroy(error);
        c->base.state->fatal = 1;
    }
    rd_kafka_topic_partition_list_destroy(parts);
}
