/* The poll loop: consume -> decode -> govern/infer (kinds) -> encode ->
 * produce -> commit, single-threaded except for librdkafka's own threads.
 * The Kafka clients are src/kafka/ (consumer.c, producer.c), one batch is
 * batch.c; this file starts, runs, observes and drains.
 *
 * Invariants:
 * - every consumed message yields exactly one produced record (result or
 *   dead letter), and its offset is stored only after the broker
 *   acknowledged that record (gs_offsets watermark);
 * - infrastructure failures (registry down, producer refusing) never become
 *   dead letters: the message stays queued, partitions pause, we retry;
 * - messages of revoked partitions are dropped unprocessed, so the new owner
 *   processes them (at-least-once);
 * - exactly-once: what a transaction produced and the input positions it
 *   reached commit together (every delivery.transaction_interval_ms, and
 *   before partitions are revoked); an aborted one rewinds every partition
 *   to its committed offset and its state to the changelog. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define STATS_INTERVAL_US  (30LL * 1000000)
#define GAUGES_INTERVAL_US (1000000LL) /* governance gauges and /state */
#define PROBE_INTERVAL_US  (2000000LL) /* brokers, while they are down */

enum { WAIT_DONE, WAIT_STOP, WAIT_RELOAD };

/* Waits ms while serving /health/live; cut short by a stop (and, when
 * `reload`, by SIGHUP, which it consumes). The one waiting loop of the
 * start-up phases. */
static int wait_or_stop(gs_worker_t *w, volatile sig_atomic_t *signals, int ms, int reload)
{
    for (int waited = 0; waited < ms; waited += 100) {
        if (*signals & GS_SIG_STOP)
            return WAIT_STOP;
        if (reload && (*signals & GS_SIG_RELOAD)) {
            *signals &= ~GS_SIG_RELOAD;
            return WAIT_RELOAD;
        }
        gs_health_beat(w->health);
        gs_sleep_ms(100);
    }
    return WAIT_DONE;
}

static int remaining_ms(int64_t deadline_us)
{
    int64_t left = (deadline_us - gs_now_us()) / 1000;
    return left < 0 ? 0 : (int)left;
}

/* A timer of the loop: true (and rescheduled) when due. */
static int due(int64_t *at, int64_t now, int64_t period_us)
{
    if (now < *at)
        return 0;
    *at = now + period_us;
    return 1;
}

/* ---- exactly-once ----------------------------------------------------------- */

static int eos(const gs_worker_t *w)
{
    return w->cfg->delivery.mode == GS_DELIVERY_EXACTLY_ONCE;
}

static int txn_timeout_ms(const gs_worker_t *w)
{
    int ms = w->cfg->delivery.transaction_timeout_ms / 2;
    if (w->deadline_us && remaining_ms(w->deadline_us) < ms)
        ms = remaining_ms(w->deadline_us);
    return ms;
}

/* An aborted transaction leaves inputs and state behind what was processed:
 * both go back to the last commit (gs_consumer_rewind, in the loop). */
static void txn_done(gs_worker_t *w, gs_txn_result_t r)
{
    if (r == GS_TXN_COMMITTED)
        gs_counter_add(w->obs.txn_committed, 1);
    if (r == GS_TXN_ABORTED || r == GS_TXN_FATAL)
        gs_counter_add(w->obs.txn_aborted, 1);
    w->aborting = r == GS_TXN_PENDING;
    if (r == GS_TXN_ABORTED)
        w->rewind = 1;
    if (r == GS_TXN_FATAL)
        w->kafka.fatal = 1;
}

static void txn_commit(gs_worker_t *w)
{
    if (eos(w) && !w->kafka.fatal)
        txn_done(w, gs_producer_txn_commit(w->producer, w->consumer, txn_timeout_ms(w)));
}

/* The loop's exactly-once work after a batch: an abort to finish, a commit
 * that is due, a rewind after an abort. */
static void txn_tick(gs_worker_t *w, int64_t now)
{
    if (w->aborting)
        txn_done(w, gs_producer_txn_abort(w->producer, 500));
    else if (due(&w->t.txn, now, (int64_t)w->cfg->delivery.transaction_interval_ms * 1000))
        txn_commit(w);
}

static void rewind_inputs(gs_worker_t *w)
{
    w->rewind = 0;
    gs_log_warn(w->log, "transaction aborted; rewinding inputs and state to the last commit",
                GS_LI("queued", w->q_len));
    gs_consumer_rewind(w->consumer);
}

/* ---- the consumer's hooks ------------------------------------------------- */

static int in_list(const rd_kafka_topic_partition_list_t *l, const char *topic, int32_t p)
{
    for (int i = 0; i < l->cnt; i++)
        if (l->elems[i].partition == p && !strcmp(l->elems[i].topic, topic))
            return 1;
    return 0;
}

/* Queued, unprocessed messages of revoked partitions are dropped (the new
 * owner processes them); unless the partitions were lost, what is in flight
 * for them is waited for (bounded), so the commit covers it. */
static void on_revoking(void *opaque, const rd_kafka_topic_partition_list_t *parts, int lost)
{
    gs_worker_t *w = opaque;
    size_t keep = 0;
    for (size_t i = 0; i < w->q_len; i++) {
        rd_kafka_message_t *m = w->queue[i];
        if (in_list(parts, rd_kafka_topic_name(m->rkt), m->partition))
            rd_kafka_message_destroy(m);
        else
            w->queue[keep++] = m;
    }
    w->q_len = keep;
    if (eos(w) && !lost) {
        txn_commit(w); /* the revoked partitions' positions with their results */
    } else if (eos(w)) {
        /* a lost partition's offsets cannot commit: nothing of it may */
        txn_done(w, gs_producer_txn_abort(w->producer, txn_timeout_ms(w)));
    } else if (!lost) {
        int ms = w->cfg->delivery.flush_timeout_ms;
        if (w->deadline_us && remaining_ms(w->deadline_us) < ms)
            ms = remaining_ms(w->deadline_us);
        gs_producer_flush(w->producer, ms);
    }
    for (int i = 0; i < parts->cnt; i++) {
        obs_lag_hide(&w->obs, parts->elems[i].topic, parts->elems[i].partition);
        gs_state_revoke(w->state, parts->elems[i].topic, parts->elems[i].partition);
    }
}

/* A partition with state stores is held paused until its state is
 * restored from the changelog (SPEC 3.6); the others start at once. */
static void on_assigned(void *opaque, const rd_kafka_topic_partition_list_t *parts)
{
    gs_worker_t *w = opaque;
    for (int i = 0; i < parts->cnt; i++) {
        const char *topic = parts->elems[i].topic;
        int32_t p = parts->elems[i].partition;
        gs_state_assign(w->state, topic, p);
        if (gs_state_restoring(w->state, topic, p))
            gs_consumer_hold(w->consumer, topic, p, 1);
    }
}

static void on_restored(void *opaque, const char *topic, int32_t partition)
{
    gs_worker_t *w = opaque;
    if (eos(w)) /* the state is now as of the last commit: so must the input be */
        gs_consumer_seek_committed(w->consumer, topic, partition);
    gs_consumer_hold(w->consumer, topic, partition, 0);
    w->t.gauges = 0; /* /state shows the restored scopes now, not in a second */
}

static void on_stats(void *opaque, const char *json, size_t len)
{
    obs_lag(&((gs_worker_t *)opaque)->obs, json, len);
}

/* ---- consuming and flow control ----------------------------------------- */

static void enqueue(gs_worker_t *w, rd_kafka_message_t *m)
{
    if (w->q_len == w->q_cap) {
        size_t cap = w->q_cap ? w->q_cap * 2 : 64;
        if (gs_grow(&w->queue, cap, sizeof(rd_kafka_message_t *))) {
            /* not consumed as far as offsets go: redelivered later */
            gs_log_msg(w->log, GS_LOG_ERROR, "out of memory queueing a message; stopping");
            rd_kafka_message_destroy(m);
            w->kafka.fatal = 1;
            return;
        }
        w->q_cap = cap;
    }
    w->queue[w->q_len++] = m;
}

/* Polls for up to batch.max messages: waits up to wait_ms for the first,
 * then at most batch.linger_us for the rest. Also serves rebalances. */
static void fill_queue(gs_worker_t *w, int wait_ms)
{
    rd_kafka_message_t *m = gs_consumer_poll(w->consumer, wait_ms);
    if (!m)
        return;
    enqueue(w, m);
    int64_t deadline = gs_now_us() + w->cfg->batch.linger_us;
    while (w->q_len < w->batch_max && !w->kafka.fatal) {
        int64_t left_us = deadline - gs_now_us();
        m = gs_consumer_poll(w->consumer, 0);
        if (!m && left_us > 0)
            m = gs_consumer_poll(w->consumer, (int)((left_us + 999) / 1000));
        if (!m)
            break;
        enqueue(w, m);
    }
}

/* The batch's per-partition counts grow with the tracker's slots. */
static void ensure_taken(gs_worker_t *w)
{
    int n = gs_offsets_slots(w->offsets);
    if (n <= w->n_taken)
        return;
    if (gs_grow(&w->taken, (size_t)n, sizeof(*w->taken)) ||
        gs_grow(&w->first, (size_t)n, sizeof(*w->first))) {
        gs_log_msg(w->log, GS_LOG_ERROR, "out of memory growing partition state; stopping");
        w->kafka.fatal = 1;
        return;
    }
    memset(w->taken + w->n_taken, 0, (size_t)(n - w->n_taken) * sizeof(*w->taken));
    memset(w->first + w->n_taken, 0, (size_t)(n - w->n_taken) * sizeof(*w->first));
    w->n_taken = n;
}

/* Pauses partitions while the producer queue is full, the registry is down
 * or a partition has no room for another batch. */
static int flow_control(gs_worker_t *w)
{
    long qlen;
    int full = gs_producer_queue_full(w->producer, &qlen);
    gs_gauge_set(w->obs.producer_queue, (double)qlen);
    gs_gauge_set(w->obs.pending, (double)gs_producer_held(w->producer));
    ensure_taken(w);
    size_t limit = (size_t)(w->cfg->delivery.max_inflight_per_partition - w->cfg->batch.max);
    /* an abort (or a commit being resumed) that has not completed holds every
     * input like a registry outage */
    return gs_consumer_flow(w->consumer, full, qlen, w->registry_down || w->aborting, limit);
}

/* A micro-batch that did not fill batch.max means the input does not keep
 * the worker busy: its results need not wait linger.ms for company. */
static void send_if_idle(gs_worker_t *w)
{
    int us = w->cfg->batch.idle_flush_us;
    if (!us || eos(w) || !w->last_batch || w->last_batch >= w->batch_max || w->q_len)
        return;
    w->last_batch = 0;
    gs_producer_send_now(w->producer, (us + 999) / 1000);
}

/* ---- health, observability ------------------------------------------------- */

/* Why the brokers cannot be used: they refused our credentials (an error
 * the producer's poll reports), or they are unreachable. */
static gs_readiness_t brokers_unusable(gs_worker_t *w)
{
    gs_producer_poll(w->producer, 0);
    return w->kafka.auth_failed ? GS_NOT_READY_AUTH : GS_NOT_READY_BROKER_DOWN;
}

/* While librdkafka reports the brokers down or a connection failing, a
 * metadata request tells whether any broker answers (one node of a
 * cluster down is not "all brokers down"). */
static void probe_brokers(gs_worker_t *w, int64_t now)
{
    gs_kafka_state_t *k = &w->kafka;
    if (!(k->brokers_down || k->auth_failed || k->transport) ||
        !due(&w->t.probe, now, PROBE_INTERVAL_US))
        return;
    k->transport = 0;
    int up = gs_kafka_probe(gs_producer_handle(w->producer), 500);
    if (up && (k->brokers_down || k->auth_failed)) {
        k->brokers_down = k->auth_failed = 0;
        gs_log_msg(w->log, GS_LOG_INFO, "brokers reachable again");
    } else if (!up && !k->brokers_down && !k->auth_failed) {
        k->brokers_down = 1;
        gs_log_msg(w->log, GS_LOG_WARN, "no broker answers");
    }
}

static void update_health(gs_worker_t *w, int64_t now)
{
    probe_brokers(w, now);
    gs_readiness_t state = w->kafka.auth_failed               ? GS_NOT_READY_AUTH
                           : w->kafka.brokers_down            ? GS_NOT_READY_BROKER_DOWN
                           : w->registry_down                 ? GS_NOT_READY_REGISTRY_DOWN
                           : !gs_consumer_joined(w->consumer) ? GS_NOT_READY_NOT_JOINED
                                                              : GS_READY;
    /* the gauge first: whoever sees /health/ready answer 200 finds it 1 */
    gs_gauge_set(w->obs.ready, state == GS_READY);
    gs_health_set(w->health, state);
    gs_health_beat(w->health);
}

static void log_stats(gs_worker_t *w)
{
    const counters_t *c = &w->c;
    gs_producer_stats_t p = gs_producer_stats(w->producer);
    gs_log_info(w->log, "stats", GS_LI("consumed", c->consumed), GS_LI("results", c->results),
                GS_LI("acked", p.acked), GS_LI("dl_decode", c->deadletters[GS_ERR_DECODE]),
                GS_LI("dl_schema", c->deadletters[GS_ERR_SCHEMA]),
                GS_LI("dl_validation", c->deadletters[GS_ERR_VALIDATION]),
                GS_LI("dl_too_large", c->deadletters[GS_ERR_TOO_LARGE]),
                GS_LI("dl_internal", c->deadletters[GS_ERR_INTERNAL]),
                GS_LI("delivery_failures", p.delivery_failures),
                GS_LI("dropped_revoked", p.dropped_revoked),
                GS_LI("pending", gs_producer_held(w->producer)), GS_LI("queued", w->q_len));
}

static void emit_alert(const char *fingerprint, const char *payload, size_t len, void *opaque)
{
    gs_worker_t *w = opaque;
    if (w->alerts_rkt)
        gs_producer_send_side(w->producer, w->alerts_rkt, fingerprint, strlen(fingerprint), payload,
                              len);
}

void raise_alert(gs_worker_t *w, const gs_alert_event_t *ev, int64_t wall_ms)
{
    if (w->alerter)
        gs_alerter_raise(w->alerter, ev, wall_ms, emit_alert, w);
}

static void snapshot(gs_worker_t *w, int64_t now)
{
    char err[256];
    int64_t interval_ms =
        w->t.last_snapshot ? (now - w->t.last_snapshot) / 1000 : w->cfg->metrics.interval_ms;
    w->t.last_snapshot = now;
    if (gs_msnap_encode(w->msnap, w->metrics, w->cfg->worker.id, gs_wall_ms(), interval_ms,
                        w->msnap_schema_id, &w->msnap_buf, err, sizeof(err))) {
        gs_log_error(w->log, "cannot encode a metrics snapshot", GS_LS("error", err));
        return;
    }
    const char *id = w->cfg->worker.id;
    gs_producer_send_side(w->producer, w->metrics_rkt, id, strlen(id), w->msnap_buf.data,
                          w->msnap_buf.len);
}

static void governance_gauges(gs_worker_t *w)
{
    obs_gov_t govs[w->n_kinds ? w->n_kinds : 1];
    for (size_t k = 0; k < w->n_kinds; k++) {
        const kind_rt_t *kr = &w->kinds[k];
        govs[k] =
            (obs_gov_t){kr->ops->name, kr->ops->governance ? kr->ops->governance(kr->k) : NULL};
    }
    char *state = obs_governance(&w->obs, govs, w->n_kinds,
                                 (uint64_t)w->cfg->alerts.events.moral_pinned_steps,
                                 w->cfg->worker.id, gs_readiness_reason(gs_health_get(w->health)));
    if (state)
        gs_health_set_state(w->health, state);
    obs_process(&w->obs);
}

/* The loop's periodic work: one clock read per iteration otherwise. */
static void observe(gs_worker_t *w, int64_t now)
{
    if (due(&w->t.gauges, now, GAUGES_INTERVAL_US))
        governance_gauges(w);
    gs_alerter_tick(w->alerter, now, emit_alert, w);
    if (w->metrics_rkt && now >= w->t.snapshot) {
        if (w->t.snapshot)
            snapshot(w, now);
        else
            w->t.last_snapshot = now; /* the first one after a full interval */
        w->t.snapshot = now + (int64_t)w->cfg->metrics.interval_ms * 1000;
    }
    if (due(&w->t.stats, now, STATS_INTERVAL_US))
        log_stats(w);
}

/* ---- lifecycle ------------------------------------------------------------ */

static gs_err_t new_registry(gs_worker_t *w, char *errstr, size_t n)
{
    const gs_config_t *cfg = w->cfg;
    if (!*cfg->registry.url)
        return GS_OK;
    gs_registry_conf_t rc = {
        .url = cfg->registry.url,
        .username = cfg->registry.username,
        .password = cfg->registry.password,
        .ca_file = cfg->registry.ca_file,
        .connect_timeout_ms = cfg->registry.connect_timeout_ms,
        .timeout_ms = cfg->registry.timeout_ms,
        .retries = cfg->registry.retries,
        .backoff_ms = cfg->registry.backoff_ms,
        .backoff_max_ms = cfg->registry.backoff_max_ms,
        .negative_cache_ms = cfg->registry.negative_cache_ms,
    };
    return gs_registry_new(&rc, &w->registry, errstr, n);
}

static gs_err_t new_observability(gs_worker_t *w, char *errstr, size_t n)
{
    const char *names[w->n_kinds];
    for (size_t k = 0; k < w->n_kinds; k++)
        names[k] = w->kinds[k].ops->name;
    /* every family is declared before the rules are compiled against them */
    gs_err_t err = obs_init(&w->obs, w->metrics, names, w->n_kinds, errstr, n);
    if (!err)
        err = gs_alerter_new(w->cfg, w->metrics, w->log, &w->alerter, errstr, n);
    if (!err)
        err = gs_health_new(w->cfg->http.listen, w->metrics, &w->health, errstr, n);
    return err;
}

static gs_err_t new_clients(gs_worker_t *w, char *errstr, size_t n)
{
    const gs_config_t *cfg = w->cfg;
    gs_consumer_hooks_t hooks = {
        .opaque = w, .revoking = on_revoking, .assigned = on_assigned, .stats = on_stats};
    gs_err_t err =
        gs_offsets_new((size_t)cfg->delivery.max_inflight_per_partition, &w->offsets, errstr, n);
    if (!err)
        err = gs_consumer_new(cfg, w->log, w->offsets, &w->kafka, &hooks, &w->consumer, errstr, n);
    if (!err)
        err = gs_producer_new(cfg, w->log, w->offsets, &w->kafka, w->obs.delivery_failures,
                              w->obs.side_failures, &w->producer, errstr, n);
    if (err)
        return err;
    w->dl_rkt = gs_producer_topic(w->producer, cfg->deadletter.topic, 0);
    for (size_t k = 0; k < w->n_kinds; k++)
        w->kinds[k].rkt = gs_producer_topic(w->producer, w->kinds[k].stream->results_topic, 0);
    if (w->cfg->state.changelog)
        w->state_rkt = gs_producer_topic(w->producer, cfg->state.topic, 0);
    w->metrics_rkt = gs_producer_topic(w->producer, cfg->metrics.topic, 1);
    w->alerts_rkt = gs_producer_topic(w->producer, cfg->alerts.topic, 1);
    return GS_OK;
}

gs_err_t gs_worker_new(const gs_config_t *cfg, const gs_kind_ops_t *const *kinds, gs_log_t *log,
                       gs_worker_t **out, char *errstr, size_t n)
{
    gs_worker_t *w = calloc(1, sizeof(*w));
    if (!w)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    w->cfg = cfg;
    w->log = log;
    w->dl_schema_id = -1;
    w->msnap_schema_id = -1;
    w->batch_max = (size_t)cfg->batch.max;
    gs_err_t err = gs_metrics_new(&w->metrics, errstr, n);
    if (!err)
        err = gs_deadletter_codec_new(&w->dlc, errstr, n);
    if (!err)
        err = gs_msnap_codec_new(&w->msnap, errstr, n);
    if (!err)
        err = kinds_init(w, kinds, errstr, n);
    if (!err)
        err = new_observability(w, errstr, n);
    if (!err)
        err = gs_state_new(cfg, log, &w->kafka, &w->obs.state, &w->state, errstr, n);
    if (!err)
        err = kinds_stores(w, errstr, n);
    if (!err)
        err = new_registry(w, errstr, n);
    if (!err) {
        w->q_cap = w->batch_max * 2;
        w->queue = calloc(w->q_cap, sizeof(rd_kafka_message_t *));
        w->items = calloc(w->batch_max, sizeof(*w->items));
        w->bufs = calloc(w->batch_max, sizeof(*w->bufs));
        if (!w->queue || !w->items || !w->bufs)
            err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    if (!err)
        err = new_clients(w, errstr, n);
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
    /* topics before their client */
    rd_kafka_topic_t *topics[] = {w->dl_rkt, w->metrics_rkt, w->alerts_rkt, w->state_rkt};
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
        if (topics[i])
            rd_kafka_topic_destroy(topics[i]);
    for (size_t k = 0; k < w->n_kinds; k++)
        if (w->kinds[k].rkt)
            rd_kafka_topic_destroy(w->kinds[k].rkt);
    gs_consumer_destroy(w->consumer);
    gs_producer_destroy(w->producer);
    gs_state_destroy(w->state); /* before the kinds: it holds their stores */
    kinds_destroy(w);
    for (size_t i = 0; w->bufs && i < w->batch_max; i++)
        gs_buf_free(&w->bufs[i]);
    gs_buf_free(&w->dl_buf);
    gs_buf_free(&w->msnap_buf);
    gs_arena_free(&w->arena);
    free(w->bufs);
    free(w->items);
    free(w->queue);
    free(w->taken);
    free(w->first);
    gs_offsets_destroy(w->offsets);
    gs_registry_destroy(w->registry);
    gs_deadletter_codec_destroy(w->dlc);
    gs_msnap_codec_destroy(w->msnap);
    /* the HTTP and webhook threads read the registry: stop them first */
    gs_health_destroy(w->health);
    gs_alerter_destroy(w->alerter);
    obs_free(&w->obs);
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

/* ---- start-up --------------------------------------------------------------- */

typedef struct output {
    int framing;
    const char *topic;
    gs_avro_schema_t *schema;
    int32_t *id;
} output_t;

/* Registers one schema under <topic>-value, retrying while the registry is
 * unreachable. Returns -1 when refused or asked to stop. */
static int register_output(gs_worker_t *w, const output_t *o, volatile sig_atomic_t *signals)
{
    char subject[300], err[512];
    snprintf(subject, sizeof(subject), "%s-value", o->topic);
    for (int backoff = 0;;) {
        gs_err_t e = gs_registry_register(w->registry, subject, gs_avro_schema_json(o->schema),
                                          o->id, err, sizeof(err));
        if (!e) {
            gs_log_info(w->log, "schema registered", GS_LS("subject", subject),
                        GS_LI("id", *o->id));
            return 0;
        }
        if (e != GS_ERR_TRANSPORT) {
            gs_log_error(w->log, "schema registration refused", GS_LS("subject", subject),
                         GS_LS("error", err));
            return -1;
        }
        backoff =
            gs_backoff_next(backoff, w->cfg->registry.backoff_ms, w->cfg->registry.backoff_max_ms);
        gs_health_set(w->health, GS_NOT_READY_REGISTRY_DOWN);
        gs_log_warn(w->log, "schema registry unreachable; retrying", GS_LS("error", err),
                    GS_LI("backoff_ms", backoff));
        if (wait_or_stop(w, signals, backoff, 0) == WAIT_STOP)
            return -1;
    }
}

/* Every schema we write with confluent framing, registered at start. */
static int register_outputs(gs_worker_t *w, volatile sig_atomic_t *signals)
{
    output_t outs[w->n_kinds + 2];
    size_t n_out = 0;
    outs[n_out++] = (output_t){w->cfg->deadletter.framing, w->cfg->deadletter.topic,
                               gs_deadletter_schema(w->dlc), &w->dl_schema_id};
    if (w->metrics_rkt)
        outs[n_out++] = (output_t){w->cfg->metrics.framing, w->cfg->metrics.topic,
                                   gs_msnap_schema(w->msnap), &w->msnap_schema_id};
    for (size_t k = 0; k < w->n_kinds; k++)
        outs[n_out++] =
            (output_t){w->kinds[k].stream->output_framing, w->kinds[k].stream->results_topic,
                       w->kinds[k].result_schema, &w->kinds[k].result_schema_id};
    for (size_t i = 0; i < n_out; i++)
        if (outs[i].framing == GS_FRAMING_CONFLUENT && register_output(w, &outs[i], signals))
            return -1;
    return 0;
}

/* 0 when the topic exists; else the reason it is not ready. */
static gs_readiness_t topic_state(gs_worker_t *w, rd_kafka_topic_t *rkt, int64_t *next_log)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(gs_producer_handle(w->producer), 0, rkt, &md, 5000);
    gs_readiness_t why = GS_READY;
    if (!err)
        w->kafka.auth_failed = 0;
    if (err || md->topic_cnt != 1 || md->topics[0].err) {
        why = err ? brokers_unusable(w) : GS_NOT_READY_TOPIC_MISSING;
        if (gs_now_us() >= *next_log) {
            gs_log_error(w->log, gs_readiness_reason(why), GS_LS("topic", rd_kafka_topic_name(rkt)),
                         GS_LS("error", rd_kafka_err2name(err ? err : md->topics[0].err)));
            *next_log = gs_now_us() + STATS_INTERVAL_US;
        }
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    return why;
}

/* Output topics must exist before anything is consumed: with
 * message.timeout.ms=0 results for a missing topic would wait silently.
 * Not ready (and retrying) until they do. Returns -1 when asked to stop. */
static int wait_for_topics(gs_worker_t *w, volatile sig_atomic_t *signals)
{
    rd_kafka_topic_t *outs[w->n_kinds + 1];
    size_t n = 0;
    outs[n++] = w->dl_rkt;
    for (size_t k = 0; k < w->n_kinds; k++)
        outs[n++] = w->kinds[k].rkt;
    int backoff = 0;
    int64_t next_log = 0;
    for (size_t i = 0; i < n;) {
        gs_readiness_t why = topic_state(w, outs[i], &next_log);
        if (why == GS_READY) {
            i++;
            continue;
        }
        gs_health_set(w->health, why);
        backoff = gs_backoff_next(backoff, 500, 10000);
        if (wait_or_stop(w, signals, backoff, 0) == WAIT_STOP)
            return -1;
    }
    return 0;
}

/* The changelog topic exists (created if need be) and is compacted, and
 * the restore consumer is ready. Not ready (and retrying) while the
 * brokers or an input topic are missing; -1 when the topic is unfit or
 * asked to stop. */
static int prepare_state(gs_worker_t *w, volatile sig_atomic_t *signals)
{
    char err[512];
    for (int backoff = 0;;) {
        gs_err_t e = gs_state_prepare(w->state, gs_producer_handle(w->producer), err, sizeof(err));
        if (!e)
            return 0;
        if (e != GS_ERR_TRANSPORT && e != GS_ERR_NOT_FOUND) {
            gs_log_error(w->log, "state topic unusable", GS_LS("error", err));
            return -1;
        }
        backoff = gs_backoff_next(backoff, 500, 10000);
        gs_health_set(w->health,
                      e == GS_ERR_TRANSPORT ? brokers_unusable(w) : GS_NOT_READY_TOPIC_MISSING);
        gs_log_warn(w->log, "state topic not ready; retrying", GS_LS("error", err),
                    GS_LI("backoff_ms", backoff));
        if (wait_or_stop(w, signals, backoff, 0) == WAIT_STOP)
            return -1;
    }
}

/* (Re)loads one kind's models; 0 when they loaded. */
static int load_kind(gs_worker_t *w, size_t k, int at_start)
{
    kind_rt_t *kr = &w->kinds[k];
    char err[512] = "";
    if (!kr->ops->load_models)
        return 0;
    if (kr->ops->load_models(kr->k, err, sizeof(err))) {
        gs_gauge_set(w->obs.kinds[k].model_failed, 1);
        gs_counter_add(w->obs.kinds[k].model_failures, 1);
        gs_log_error(w->log,
                     at_start ? "model not loaded; not joining the group"
                              : "model reload failed; keeping the current model",
                     GS_LS("kind", kr->ops->name), GS_LS("error", err));
        return -1;
    }
    gs_gauge_set(w->obs.kinds[k].model_failed, 0);
    const char *msg = at_start ? "models loaded" : "models reloaded";
    if (*err)
        gs_log_info(w->log, msg, GS_LS("kind", kr->ops->name), GS_LS("detail", err));
    else
        gs_log_info(w->log, msg, GS_LS("kind", kr->ops->name));
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
        for (size_t k = 0; k < w->n_kinds; k++)
            failed |= load_kind(w, k, at_start) != 0;
        if (!failed || !at_start)
            return 0;
        gs_health_set(w->health, GS_NOT_READY_MODEL);
        if (wait_or_stop(w, signals, 10000, 1) == WAIT_STOP)
            return -1;
    }
}

/* Exactly-once: the transactional id is registered (and a predecessor
 * with it fenced) before anything is produced; retried while the
 * coordinator cannot be reached. -1 when refused or asked to stop. */
static int init_transactions(gs_worker_t *w, volatile sig_atomic_t *signals)
{
    char err[512];
    for (int backoff = 0; eos(w);) {
        gs_err_t e = gs_producer_txn_init(w->producer, 10000, err, sizeof(err));
        if (!e)
            return 0;
        if (e != GS_ERR_TRANSPORT) {
            gs_log_error(w->log, "transactions refused", GS_LS("error", err));
            return -1;
        }
        backoff = gs_backoff_next(backoff, 500, 10000);
        gs_health_set(w->health, brokers_unusable(w));
        gs_log_warn(w->log, "transaction coordinator not ready; retrying", GS_LS("error", err),
                    GS_LI("backoff_ms", backoff));
        if (wait_or_stop(w, signals, backoff, 0) == WAIT_STOP)
            return -1;
    }
    return 0;
}

static int subscribe(gs_worker_t *w)
{
    const char *topics[w->n_kinds];
    for (size_t k = 0; k < w->n_kinds; k++)
        topics[k] = w->kinds[k].stream->requests_topic;
    char err[512];
    if (gs_consumer_subscribe(w->consumer, topics, w->n_kinds, err, sizeof(err))) {
        gs_log_error(w->log, "subscribe failed", GS_LS("error", err));
        return -1;
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
    gs_log_info(w->log, "draining", GS_LI("queued", w->q_len),
                GS_LI("unacknowledged", gs_producer_unacked(w->producer)));
    /* Keep a third of the budget for the commit and the group leave. */
    int64_t work_deadline = gs_now_us() + (deadline_us - gs_now_us()) * 2 / 3;
    while (w->q_len && !w->kafka.fatal && !w->registry_down && !w->aborting &&
           gs_now_us() < work_deadline)
        process_queue(w);
    while (gs_producer_unacked(w->producer) > 0 && gs_now_us() < work_deadline)
        gs_producer_poll(w->producer, 50);
    if (w->aborting)
        txn_done(w, gs_producer_txn_abort(w->producer, txn_timeout_ms(w)));
    else
        txn_commit(w); /* the positions processed: what is still queued is not in them */
    int clean =
        gs_producer_unacked(w->producer) == 0 && !w->rewind && !w->aborting && !w->kafka.fatal;
    clean &= gs_consumer_finish(w->consumer);
    gs_producer_flush(w->producer, remaining_ms(deadline_us));
    /* metrics and alerts still queued (a missing topic?) are dropped */
    gs_producer_purge(w->producer);
    if (!clean || w->q_len)
        gs_log_warn(w->log, "unfinished work left uncommitted (it will be redelivered)",
                    GS_LI("queued", w->q_len), GS_LI("pending", gs_producer_held(w->producer)));
    log_stats(w);
    gs_log_info(w->log, "stopped", GS_LI("left_ms", remaining_ms(deadline_us)));
    return w->kafka.fatal ? 1 : clean && !w->q_len ? 0 : 4;
}

int gs_worker_run(gs_worker_t *w, volatile sig_atomic_t *signals)
{
    if (w->registry && register_outputs(w, signals))
        return (*signals & GS_SIG_STOP) ? 0 : 1;
    if (wait_for_topics(w, signals) || load_models(w, signals, 1))
        return 0;
    if (prepare_state(w, signals) || init_transactions(w, signals))
        return (*signals & GS_SIG_STOP) ? 0 : 1;
    if (subscribe(w))
        return 1;
    gs_health_set(w->health, GS_NOT_READY_NOT_JOINED);
    gs_log_info(w->log, "running", GS_LI("kinds", w->n_kinds), GS_LI("batch_max", w->batch_max),
                GS_LI("http_port", gs_health_port(w->health)));
    w->t.stats = gs_now_us() + STATS_INTERVAL_US;

    while (!(*signals & GS_SIG_STOP) && !w->kafka.fatal) {
        if (*signals & GS_SIG_RELOAD) { /* between batches: the swap is atomic */
            *signals &= ~GS_SIG_RELOAD;
            load_models(w, signals, 0);
        }
        /* Delivery reports; while the producer side throttles us, wait for
         * them here rather than in the consumer poll below. */
        gs_producer_poll(w->producer, w->throttled ? 5 : 0);
        gs_consumer_store(w->consumer);
        w->throttled = flow_control(w);
        int64_t now = gs_now_us();
        update_health(w, now);
        size_t restoring = gs_state_poll(w->state, w->q_len ? 5 : 50, on_restored, w);
        /* While work is held back, throttled or restored, keep serving the
         * group without waiting. */
        fill_queue(w, w->q_len || w->throttled || restoring ? 0 : 100);
        if (!w->aborting)
            process_queue(w);
        send_if_idle(w);
        now = gs_now_us();
        if (eos(w))
            txn_tick(w, now);
        if (w->rewind)
            rewind_inputs(w);
        observe(w, now);
    }
    /* 10% margin under shutdown.timeout_ms, where the tool's watchdog fires */
    int64_t budget_ms = w->cfg->shutdown.timeout_ms - w->cfg->shutdown.timeout_ms / 10;
    return drain(w, gs_now_us() + budget_ms * 1000);
}
