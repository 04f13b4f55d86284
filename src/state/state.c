/* State stores over the changelog topic (see govstream/state.h): framing,
 * the restore consumer, and the routing of records to stores.
 *
 * Restores use a consumer of their own, outside the group, reading one
 * changelog partition from the beginning to its end (read_committed, so
 * that an aborted transaction's records never come back). Several input
 * topics share a changelog partition number: a partition assigned while
 * its changelog partition is being read waits for that pass to end and is
 * restored by another pass from the beginning.
 *
 * read_committed ends a partition at its last stable offset, the first
 * record of the oldest open transaction. That may be the previous owner's
 * last one (a zombie that sent its offsets and stalled before EndTxn):
 * once it commits, the input resumes after its offsets, so the pass must
 * have its records. A pass therefore ends only at an end that reached the
 * high watermark seen at its first end (what any earlier owner wrote is
 * before it; later transactions, other kinds' owners', are not waited
 * for), or after a bound past which the broker has aborted any such
 * transaction. */
#include <stdlib.h>
#include <string.h>

#include "govstream/state.h"

static const char magic[4] = {'G', 'S', 'S', 'T'};

typedef enum { TP_FREE, TP_WAITING, TP_READING, TP_READY } tp_phase_t;

/* The restore consumer's work on one changelog partition. */
typedef struct pass {
    uint8_t consuming; /* the partition is being fetched */
    uint8_t stalled;   /* at an end short of target: nothing comes until it moves */
    int64_t target;    /* the high watermark at the pass's first end; -1 before */
    int64_t end;       /* the last end (last stable offset) seen */
    int64_t wait_us;   /* when the pass first ended short of target; 0: it did not */
} pass_t;

typedef struct topic {
    char *name;
    const gs_store_t *stores;
    size_t n_stores;
} topic_t;

/* An assigned input partition with stores. */
typedef struct tp {
    size_t topic;
    int32_t partition;
    tp_phase_t phase;
    uint64_t next_seq; /* of the next record written */
    int64_t start_us;
    uint64_t records, bytes, skipped;
} tp_t;

struct gs_state {
    const gs_config_t *cfg;
    gs_kafka_base_t base; /* the restore consumer's opaque */
    gs_state_series_t series;
    topic_t *topics;
    size_t n_topics;
    tp_t *tps;
    size_t n_tps;
    rd_kafka_t *rk; /* the restore consumer, made by gs_state_prepare */
    rd_kafka_topic_t *rkt;
    rd_kafka_queue_t *queue;
    pass_t *passes; /* per changelog partition */
    int32_t n_partitions;
    gs_buf_t frame;
    int64_t next_skip_log_us;
};

/* ---- framing ------------------------------------------------------------- */

static void le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t from_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes; i-- > 0;)
        v = v << 8 | p[i];
    return v;
}

gs_err_t gs_state_frame(gs_buf_t *buf, const char *store, const void *key, size_t key_len,
                        uint64_t seq, const void *payload, size_t payload_len, size_t *value_off)
{
    size_t name_len = strlen(store) + 1;
    buf->len = 0;
    if (gs_buf_reserve(buf, name_len + key_len + GS_STATE_FRAME_BYTES + payload_len))
        return GS_ERR_NOMEM;
    uint8_t *p = buf->data;
    memcpy(p, store, name_len);
    memcpy(p + name_len, key, key_len);
    size_t v = name_len + key_len;
    *value_off = v;
    if (!payload) {
        buf->len = v;
        return GS_OK;
    }
    memcpy(p + v, magic, 4);
    le(p + v + 4, GS_STATE_VERSION, 2);
    le(p + v + 6, 0, 2);
    le(p + v + 8, seq, 8);
    memcpy(p + v + 16, payload, payload_len);
    size_t end = v + 16 + payload_len;
    le(p + end, gs_crc32c(gs_crc32c(0, p, v), p + v, end - v), 4);
    buf->len = end + 4;
    return GS_OK;
}

gs_err_t gs_state_parse(const void *key, size_t key_len, const void *value, size_t value_len,
                        gs_state_record_t *out, char *errstr, size_t n)
{
    const uint8_t *k = key, *v = value;
    const uint8_t *nul = key_len ? memchr(k, 0, key_len) : NULL;
    if (!nul || nul == k || (size_t)(nul - k) >= GS_STATE_STORE_MAX)
        return gs_fail(errstr, n, GS_ERR_DECODE, "changelog key without a store name");
    *out = (gs_state_record_t){.store = {(const char *)k, (size_t)(nul - k)},
                               .key = nul + 1,
                               .key_len = key_len - (size_t)(nul - k) - 1};
    if (!v)
        return GS_OK; /* a tombstone */
    if (value_len < GS_STATE_FRAME_BYTES || memcmp(v, magic, 4) != 0)
        return gs_fail(errstr, n, GS_ERR_DECODE, "not a govstream changelog value");
    uint32_t crc = (uint32_t)from_le(v + value_len - 4, 4);
    if (gs_crc32c(gs_crc32c(0, k, key_len), v, value_len - 4) != crc)
        return gs_fail(errstr, n, GS_ERR_DECODE, "changelog record CRC32C mismatch (corrupted)");
    unsigned version = (unsigned)from_le(v + 4, 2);
    if (version != GS_STATE_VERSION)
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "changelog record version %u, this build reads %u",
                       version, GS_STATE_VERSION);
    out->seq = from_le(v + 8, 8);
    out->payload = v + 16;
    out->payload_len = value_len - GS_STATE_FRAME_BYTES;
    return GS_OK;
}

/* ---- set-up ---------------------------------------------------------------- */

gs_err_t gs_state_new(const gs_config_t *cfg, gs_log_t *log, gs_kafka_state_t *kstate,
                      const gs_state_series_t *series, gs_state_t **out, char *errstr, size_t n)
{
    gs_state_t *st = calloc(1, sizeof(*st));
    if (!st)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    *st = (gs_state_t){.cfg = cfg, .base = {log, kstate}, .series = *series};
    *out = st;
    return GS_OK;
}

void gs_state_destroy(gs_state_t *st)
{
    if (!st)
        return;
    if (st->rk) {
        for (int32_t p = 0; p < st->n_partitions; p++)
            if (st->passes[p].consuming)
                rd_kafka_consume_stop(st->rkt, p);
        rd_kafka_queue_destroy(st->queue);
        rd_kafka_topic_destroy(st->rkt);
        rd_kafka_destroy(st->rk);
    }
    for (size_t i = 0; i < st->n_topics; i++)
        free(st->topics[i].name);
    free(st->topics);
    free(st->tps);
    free(st->passes);
    gs_buf_free(&st->frame);
    free(st);
}

gs_err_t gs_state_add(gs_state_t *st, const char *topic, const gs_store_t *stores, size_t count,
                      char *errstr, size_t n)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(stores[i].name) >= GS_STATE_STORE_MAX || !*stores[i].name)
            return gs_fail(errstr, n, GS_ERR_INTERNAL, "store name \"%s\" of 1..%d bytes",
                           stores[i].name, GS_STATE_STORE_MAX - 1);
    if (gs_grow(&st->topics, st->n_topics + 1, sizeof(*st->topics)))
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    char *name = strdup(topic);
    if (!name)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    st->topics[st->n_topics++] = (topic_t){name, stores, count};
    return GS_OK;
}

static size_t topic_index(const gs_state_t *st, const char *topic)
{
    for (size_t i = 0; i < st->n_topics; i++)
        if (!strcmp(st->topics[i].name, topic))
            return i;
    return SIZE_MAX;
}

int gs_state_has(const gs_state_t *st, const char *topic)
{
    return topic_index(st, topic) != SIZE_MAX;
}

/* ---- the changelog topic ------------------------------------------------------ */

/* Partitions of topic in md, 0 when absent, -1 on a topic error. */
static int partitions_of(const struct rd_kafka_metadata *md, const char *topic)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, topic))
            return md->topics[i].err
                       ? (md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? 0 : -1)
                       : md->topics[i].partition_cnt;
    return 0;
}

/* One admin request's result event, or NULL after the timeout. */
static rd_kafka_event_t *admin_wait(rd_kafka_t *rk, rd_kafka_queue_t *q, rd_kafka_admin_op_t op,
                                    int create, rd_kafka_NewTopic_t *nt,
                                    rd_kafka_ConfigResource_t *cr)
{
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, op);
    rd_kafka_AdminOptions_set_request_timeout(opt, 10000, NULL, 0);
    if (create)
        rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    else
        rd_kafka_DescribeConfigs(rk, &cr, 1, opt, q);
    rd_kafka_AdminOptions_destroy(opt);
    return rd_kafka_queue_poll(q, 15000);
}

static gs_err_t create_topic(gs_state_t *st, rd_kafka_t *rk, rd_kafka_queue_t *q, int partitions,
                             char *errstr, size_t n)
{
    const char *name = st->cfg->state.topic;
    char e[256];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(name, partitions, st->cfg->state.replication_factor, e, sizeof(e));
    if (!nt)
        return gs_fail(errstr, n, GS_ERR_CONFIG, "state.topic %s: %s", name, e);
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_event_t *ev = admin_wait(rk, q, RD_KAFKA_ADMIN_OP_CREATETOPICS, 1, nt, NULL);
    rd_kafka_NewTopic_destroy(nt);
    gs_err_t err = GS_OK;
    rd_kafka_resp_err_t kerr = ev ? rd_kafka_event_error(ev) : RD_KAFKA_RESP_ERR__TIMED_OUT;
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    size_t cnt = 0;
    const rd_kafka_topic_result_t **trs =
        res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
    if (!kerr && cnt == 1)
        kerr = rd_kafka_topic_result_error(trs[0]);
    if (kerr && kerr != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        err = gs_fail(errstr, n,
                      kerr == RD_KAFKA_RESP_ERR__TIMED_OUT || kerr == RD_KAFKA_RESP_ERR__TRANSPORT
                          ? GS_ERR_TRANSPORT
                          : GS_ERR_CONFIG,
                      "cannot create state.topic %s: %s", name, rd_kafka_err2str(kerr));
    else
        gs_log_info(st->base.log, "changelog topic created", GS_LS("topic", name),
                    GS_LI("partitions", partitions));
    if (ev)
        rd_kafka_event_destroy(ev);
    return err;
}

/* The topic must be compacted: a deleting one loses state after retention. */
static gs_err_t check_compacted(gs_state_t *st, rd_kafka_t *rk, rd_kafka_queue_t *q, char *errstr,
                                size_t n)
{
    const char *name = st->cfg->state.topic;
    rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
    rd_kafka_event_t *ev = admin_wait(rk, q, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, 0, NULL, cr);
    rd_kafka_ConfigResource_destroy(cr);
    const rd_kafka_DescribeConfigs_result_t *res =
        ev && !rd_kafka_event_error(ev) ? rd_kafka_event_DescribeConfigs_result(ev) : NULL;
    size_t cnt = 0, n_entries = 0;
    const rd_kafka_ConfigResource_t **rs =
        res ? rd_kafka_DescribeConfigs_result_resources(res, &cnt) : NULL;
    const rd_kafka_ConfigEntry_t **entries =
        cnt == 1 && !rd_kafka_ConfigResource_error(rs[0])
            ? rd_kafka_ConfigResource_configs(rs[0], &n_entries)
            : NULL;
    const char *policy = NULL;
    for (size_t i = 0; i < n_entries; i++)
        if (!strcmp(rd_kafka_ConfigEntry_name(entries[i]), "cleanup.policy"))
            policy = rd_kafka_ConfigEntry_value(entries[i]);
    gs_err_t err = GS_OK;
    if (!entries)
        err = gs_fail(errstr, n, GS_ERR_TRANSPORT, "cannot read the configuration of %s: %s", name,
                      ev ? rd_kafka_event_error_string(ev) : "timed out");
    else if (!policy || !strstr(policy, "compact"))
        err = gs_fail(errstr, n, GS_ERR_CONFIG,
                      "state.topic %s has cleanup.policy=%s; it must be compact", name,
                      policy ? policy : "(none)");
    if (ev)
        rd_kafka_event_destroy(ev);
    return err;
}

static gs_err_t restore_consumer(gs_state_t *st, char *errstr, size_t n)
{
    rd_kafka_conf_t *conf;
    gs_err_t err = gs_kafka_conf_build(st->cfg, GS_KAFKA_CONSUMER, &conf, errstr, n);
    if (err)
        return err;
    /* outside the group: partitions are read by hand, nothing is committed;
     * at the end of a partition the broker answers at once (not after the
     * default 500 ms wait), so an empty changelog costs no pause */
    static const char *const overrides[][2] = {{"enable.auto.commit", "false"},
                                               {"fetch.wait.max.ms", "10"},
                                               {"enable.partition.eof", "true"},
                                               {"isolation.level", "read_committed"},
                                               {"auto.offset.reset", "earliest"}};
    for (size_t i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++)
        rd_kafka_conf_set(conf, overrides[i][0], overrides[i][1], NULL, 0);
    char id[300];
    snprintf(id, sizeof(id), "%s-restore", st->cfg->worker.id);
    rd_kafka_conf_set(conf, "client.id", id, NULL, 0);
    err = gs_kafka_client_new(conf, GS_KAFKA_CONSUMER, &st->base, &st->rk, errstr, n);
    if (err)
        return err;
    st->rkt = rd_kafka_topic_new(st->rk, st->cfg->state.topic, NULL);
    st->queue = rd_kafka_queue_new(st->rk);
    st->passes = calloc((size_t)st->n_partitions, sizeof(*st->passes));
    if (!st->rkt || !st->queue || !st->passes)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    return GS_OK;
}

gs_err_t gs_state_prepare(gs_state_t *st, rd_kafka_t *rk, char *errstr, size_t n)
{
    if (st->rk || !st->n_topics)
        return GS_OK;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(rk, 1, NULL, &md, 5000);
    if (kerr)
        return gs_fail(errstr, n, GS_ERR_TRANSPORT, "metadata: %s", rd_kafka_err2str(kerr));
    int need = 0, have = partitions_of(md, st->cfg->state.topic);
    gs_err_t err = GS_OK;
    for (size_t i = 0; i < st->n_topics && !err; i++) {
        int p = partitions_of(md, st->topics[i].name);
        if (p <= 0) /* its partition count sizes the changelog */
            err = gs_fail(errstr, n, GS_ERR_NOT_FOUND, "input topic %s does not exist (yet)",
                          st->topics[i].name);
        need = p > need ? p : need;
    }
    rd_kafka_metadata_destroy(md);
    if (err)
        return err;
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    if (have <= 0)
        err = create_topic(st, rk, q, need, errstr, n);
    else if (have < need)
        err = gs_fail(errstr, n, GS_ERR_CONFIG,
                      "state.topic %s has %d partitions; the inputs need %d (one per input "
                      "partition)",
                      st->cfg->state.topic, have, need);
    if (!err)
        err = check_compacted(st, rk, q, errstr, n);
    rd_kafka_queue_destroy(q);
    st->n_partitions = have > need ? have : need;
    if (!err)
        err = restore_consumer(st, errstr, n);
    return err;
}

/* ---- restores ----------------------------------------------------------------- */

static tp_t *find_tp(const gs_state_t *st, size_t topic, int32_t partition)
{
    for (size_t i = 0; i < st->n_tps; i++)
        if (st->tps[i].phase != TP_FREE && st->tps[i].topic == topic &&
            st->tps[i].partition == partition)
            return &st->tps[i];
    return NULL;
}

static size_t count_phase(const gs_state_t *st, int32_t partition, tp_phase_t phase)
{
    size_t c = 0;
    for (size_t i = 0; i < st->n_tps; i++)
        c += st->tps[i].phase == phase && (partition < 0 || st->tps[i].partition == partition);
    return c;
}

static void update_restoring(gs_state_t *st)
{
    gs_gauge_set(st->series.restoring,
                 (double)(count_phase(st, -1, TP_WAITING) + count_phase(st, -1, TP_READING)));
}

/* A pass over the changelog partition from the beginning, for every input
 * partition waiting for it. */
static void start_pass(gs_state_t *st, int32_t partition)
{
    for (size_t i = 0; i < st->n_tps; i++) {
        tp_t *t = &st->tps[i];
        if (t->phase == TP_WAITING && t->partition == partition) {
            t->phase = TP_READING;
            t->start_us = gs_now_us();
            t->records = t->bytes = t->skipped = 0;
        }
    }
    pass_t *ps = &st->passes[partition];
    int started = ps->consuming
                      ? !rd_kafka_seek(st->rkt, partition, RD_KAFKA_OFFSET_BEGINNING, 5000)
                      : !rd_kafka_consume_start_queue(st->rkt, partition, RD_KAFKA_OFFSET_BEGINNING,
                                                      st->queue);
    *ps = (pass_t){.consuming = 1, .target = -1, .end = -1};
    if (!started) {
        gs_log_error(st->base.log, "cannot read the changelog; stopping",
                     GS_LS("topic", st->cfg->state.topic), GS_LI("partition", partition),
                     GS_LS("error", rd_kafka_err2str(rd_kafka_last_error())));
        st->base.state->fatal = 1;
    }
}

static void stop_reading(gs_state_t *st, int32_t partition)
{
    if (st->passes[partition].consuming && !count_phase(st, partition, TP_READING)) {
        rd_kafka_consume_stop(st->rkt, partition);
        st->passes[partition] = (pass_t){.target = -1, .end = -1};
    }
}

void gs_state_assign(gs_state_t *st, const char *topic, int32_t partition)
{
    size_t ti = topic_index(st, topic);
    if (ti == SIZE_MAX || !st->rk)
        return;
    tp_t *t = find_tp(st, ti, partition);
    for (size_t i = 0; i < st->n_tps && !t; i++)
        if (st->tps[i].phase == TP_FREE)
            t = &st->tps[i];
    if (!t) {
        if (gs_grow(&st->tps, st->n_tps + 1, sizeof(*st->tps))) {
            gs_log_msg(st->base.log, GS_LOG_ERROR, "out of memory for a restore; stopping");
            st->base.state->fatal = 1;
            return;
        }
        t = &st->tps[st->n_tps++];
    }
    *t = (tp_t){.topic = ti, .partition = partition, .phase = TP_WAITING};
    if (partition >= st->n_partitions) {
        /* cannot happen after prepare's check, unless the input grew since */
        gs_log_error(st->base.log,
                     "input partition has no changelog partition; its state is not "
                     "logged",
                     GS_LS("topic", topic), GS_LI("partition", partition));
        t->phase = TP_READY;
        return;
    }
    gs_log_info(st->base.log, "restoring state", GS_LS("topic", topic),
                GS_LI("partition", partition));
    if (!count_phase(st, partition, TP_READING))
        start_pass(st, partition);
    update_restoring(st);
}

void gs_state_revoke(gs_state_t *st, const char *topic, int32_t partition)
{
    size_t ti = topic_index(st, topic);
    tp_t *t = ti == SIZE_MAX ? NULL : find_tp(st, ti, partition);
    if (!t)
        return;
    const topic_t *tt = &st->topics[ti];
    for (size_t s = 0; s < tt->n_stores; s++)
        tt->stores[s].ops->drop(tt->stores[s].self, partition);
    t->phase = TP_FREE;
    if (partition < st->n_partitions) {
        stop_reading(st, partition);
        if (!st->passes[partition].consuming && count_phase(st, partition, TP_WAITING))
            start_pass(st, partition);
    }
    update_restoring(st);
}

int gs_state_restoring(const gs_state_t *st, const char *topic, int32_t partition)
{
    size_t ti = topic_index(st, topic);
    const tp_t *t = ti == SIZE_MAX ? NULL : find_tp(st, ti, partition);
    return t && (t->phase == TP_WAITING || t->phase == TP_READING);
}

/* A record that cannot be applied is skipped: counted, and logged at most
 * every 10 s (without its content, which is user state). */
static void skipped(gs_state_t *st, tp_t *t, const rd_kafka_message_t *m, const char *why)
{
    gs_counter_add(st->series.skipped, 1);
    if (t)
        t->skipped++;
    int64_t now = gs_now_us();
    if (now < st->next_skip_log_us)
        return;
    st->next_skip_log_us = now + 10 * 1000000LL;
    gs_log_error(st->base.log, "changelog record skipped", GS_LS("topic", st->cfg->state.topic),
                 GS_LI("partition", m->partition), GS_LI("offset", m->offset), GS_LS("error", why));
}

static const gs_store_t *store_named(const topic_t *t, gs_str_t name)
{
    for (size_t s = 0; s < t->n_stores; s++)
        if (strlen(t->stores[s].name) == name.len && !memcmp(t->stores[s].name, name.p, name.len))
            return &t->stores[s];
    return NULL;
}

/* Routes one record to the store it names, in whichever input partition
 * being restored has it. Other stores' records (another kind's, or one no
 * longer enabled) pass by. */
static void apply_record(gs_state_t *st, const rd_kafka_message_t *m)
{
    gs_state_record_t r;
    char err[256];
    tp_t *reader = NULL;
    for (size_t i = 0; i < st->n_tps && !reader; i++)
        if (st->tps[i].phase == TP_READING && st->tps[i].partition == m->partition)
            reader = &st->tps[i];
    if (!reader)
        return; /* a pass that ended */
    st->passes[m->partition].stalled = 0;
    if (gs_state_parse(m->key, m->key_len, m->payload, m->len, &r, err, sizeof(err))) {
        skipped(st, reader, m, err);
        return;
    }
    for (size_t i = 0; i < st->n_tps; i++) {
        tp_t *t = &st->tps[i];
        const gs_store_t *s = t->phase == TP_READING && t->partition == m->partition
                                  ? store_named(&st->topics[t->topic], r.store)
                                  : NULL;
        if (!s)
            continue;
        t->records++;
        t->bytes += m->key_len + m->len;
        gs_counter_add(st->series.restored_records, 1);
        gs_counter_add(st->series.restored_bytes, m->key_len + m->len);
        if (r.payload && r.seq >= t->next_seq)
            t->next_seq = r.seq + 1;
        if (s->ops->apply(s->self, m->partition, r.seq, r.key, r.key_len, r.payload, r.payload_len,
                          err, sizeof(err)))
            skipped(st, t, m, err);
    }
}

static void finish_pass(gs_state_t *st, int32_t partition, gs_state_done_fn *done, void *opaque)
{
    int64_t now = gs_now_us(), end = st->passes[partition].end;
    for (size_t i = 0; i < st->n_tps; i++) {
        tp_t *t = &st->tps[i];
        if (t->phase != TP_READING || t->partition != partition)
            continue;
        const topic_t *tt = &st->topics[t->topic];
        size_t keys = 0;
        for (size_t s = 0; s < tt->n_stores; s++)
            keys += tt->stores[s].ops->restored(tt->stores[s].self, partition);
        t->phase = TP_READY;
        gs_counter_add(st->series.restore_us, (uint64_t)(now - t->start_us));
        gs_log_info(st->base.log, "state restored", GS_LS("topic", tt->name),
                    GS_LI("partition", partition), GS_LI("records", t->records),
                    GS_LI("bytes", t->bytes), GS_LI("keys", keys), GS_LI("skipped", t->skipped),
                    GS_LI("ms", (now - t->start_us) / 1000), GS_LI("end_offset", end));
        done(opaque, tt->name, partition);
    }
    if (count_phase(st, partition, TP_WAITING))
        start_pass(st, partition);
    else
        stop_reading(st, partition);
    update_restoring(st);
}

/* The end of the changelog partition as read_committed sees it: the pass
 * is complete if it reached the target (see the top of the file). */
static void at_end(gs_state_t *st, int32_t partition, int64_t end, gs_state_done_fn *done,
                   void *opaque)
{
    pass_t *ps = &st->passes[partition];
    ps->end = end;
    if (ps->target < 0) {
        int64_t lo = -1, hi = -1;
        rd_kafka_get_watermark_offsets(st->rk, st->cfg->state.topic, partition, &lo, &hi);
        ps->target = hi > end ? hi : end;
    }
    if (end >= ps->target || !count_phase(st, partition, TP_READING)) {
        finish_pass(st, partition, done, opaque);
        return;
    }
    ps->stalled = 1;
    if (ps->wait_us)
        return;
    ps->wait_us = gs_now_us();
    gs_log_info(st->base.log, "restore waits for an open transaction on the changelog",
                GS_LS("topic", st->cfg->state.topic), GS_LI("partition", partition),
                GS_LI("end_offset", end), GS_LI("high_watermark", ps->target));
}

/* How long a pass waits for a transaction: the broker aborts one that
 * outlived delivery.transaction_timeout_ms at its next check
 * (transaction.abort.timed.out.transaction.cleanup.interval.ms, 10 s by
 * default), then writes the markers. */
static int64_t wait_bound_us(const gs_state_t *st)
{
    return ((int64_t)st->cfg->delivery.transaction_timeout_ms + GS_STATE_TXN_SLACK_MS) * 1000;
}

/* Passes that waited past the bound end without the transaction. */
static void check_waits(gs_state_t *st, gs_state_done_fn *done, void *opaque)
{
    int64_t now = gs_now_us();
    for (int32_t p = 0; p < st->n_partitions; p++) {
        const pass_t *ps = &st->passes[p];
        if (!ps->consuming || !ps->wait_us || now - ps->wait_us < wait_bound_us(st))
            continue;
        gs_log_warn(st->base.log,
                    "restore stopped waiting for an open transaction on the changelog; the "
                    "state may lack its records",
                    GS_LS("topic", st->cfg->state.topic), GS_LI("partition", p),
                    GS_LI("end_offset", ps->end), GS_LI("high_watermark", ps->target),
                    GS_LI("waited_ms", (now - ps->wait_us) / 1000));
        finish_pass(st, p, done, opaque);
    }
}

/* Partitions restoring whose pass is not stalled behind a transaction
 * (a waiting partition waits for its changelog partition's pass). */
static size_t count_busy(const gs_state_t *st)
{
    size_t c = 0;
    for (size_t i = 0; i < st->n_tps; i++) {
        const tp_t *t = &st->tps[i];
        c += (t->phase == TP_WAITING || t->phase == TP_READING) &&
             !(t->partition < st->n_partitions && st->passes[t->partition].stalled);
    }
    return c;
}

size_t gs_state_poll(gs_state_t *st, int max_ms, gs_state_done_fn *done, void *opaque)
{
    if (!st->rk)
        return 0;
    int64_t until = gs_now_us() + (int64_t)max_ms * 1000;
    rd_kafka_message_t *msgs[256];
    for (;;) {
        ssize_t got = rd_kafka_consume_batch_queue(st->queue, 0, msgs, 256);
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                at_end(st, m->partition, m->offset, done, opaque);
            else if (m->err)
                gs_log_warn(st->base.log, "changelog read error",
                            GS_LS("error", rd_kafka_err2name(m->err)),
                            GS_LI("partition", m->partition));
            else
                apply_record(st, m);
            rd_kafka_message_destroy(m);
        }
        if (got <= 0 || gs_now_us() >= until)
            break;
    }
    check_waits(st, done, opaque);
    return count_busy(st);
}

/* ---- logging changes ------------------------------------------------------------ */

typedef struct flush_ctx {
    gs_state_t *st;
    size_t topic;
    const char *store;
    gs_state_send_fn *send;
    void *opaque;
    gs_err_t err;
} flush_ctx_t;

static void emit(void *opaque, int32_t partition, const void *key, size_t key_len,
                 const void *value, size_t value_len)
{
    flush_ctx_t *c = opaque;
    gs_state_t *st = c->st;
    tp_t *t = find_tp(st, c->topic, partition);
    if (!t || partition >= st->n_partitions) {
        /* a store changes only partitions it holds: this is a bug */
        gs_log_error(st->base.log, "state change of a partition not held; not logged",
                     GS_LS("store", c->store), GS_LI("partition", partition));
        return;
    }
    size_t voff;
    if (gs_state_frame(&st->frame, c->store, key, key_len, t->next_seq, value, value_len, &voff)) {
        c->err = GS_ERR_NOMEM;
        return;
    }
    t->next_seq += value != NULL;
    gs_counter_add(st->series.written, 1);
    c->send(c->opaque, st->topics[c->topic].name, partition, st->frame.data, voff,
            value ? st->frame.data + voff : NULL, value ? st->frame.len - voff : 0);
}

gs_err_t gs_state_flush(gs_state_t *st, gs_state_send_fn *send, void *opaque, char *errstr,
                        size_t n)
{
    for (size_t ti = 0; ti < st->n_topics; ti++) {
        const topic_t *t = &st->topics[ti];
        for (size_t s = 0; s < t->n_stores; s++) {
            flush_ctx_t c = {st, ti, t->stores[s].name, send, opaque, GS_OK};
            gs_err_t err = t->stores[s].ops->changes(t->stores[s].self, emit, &c, errstr, n);
            if (!err && c.err)
                err = gs_fail(errstr, n, c.err, "out of memory framing a changelog record");
            if (err)
                return err;
        }
    }
    return GS_OK;
}
