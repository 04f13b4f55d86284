/* Unit tests of the worker (src/pipeline/) on librdkafka's in-process mock
 * cluster: no broker, the real consumer, producer, offset tracker and
 * dialogue kind. Each test gets its own mock cluster (3 brokers, fresh
 * topics and group), produces Avro requests with a plain producer, runs
 * gs_worker_run() in a thread, stops it as SIGTERM would, and reads every
 * result and dead letter back to check SPEC 2: exactly one output per
 * input, offsets committed at the contiguous acknowledged watermark, queued
 * messages of revoked partitions left to their new owner. The last tests
 * check that a kind that cannot be created makes gs_worker_new fail
 * cleanly (the binary runs under LeakSanitizer and valgrind). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <fcntl.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "govstream/dialogue.h"
#include "govstream/kinds.h"
#include "govstream/log.h"
#include "govstream/pipeline.h"
#include "govstream/schemas.h"

#define IN_TOPIC  "t.requests"
#define RES_TOPIC "t.results"
#define DL_TOPIC  "t.deadletter"
#define IN_PARTS  4
/* 3, not 4: with as many partitions as the input, a key's result would
 * land in the partition of the same number and a blocked result partition
 * would block one whole input partition, hiding the watermark. */
#define OUT_PARTS 3
#define BROKERS   3
#define GROUP     "govstream" /* the worker's default group.id */
/* Kafka protocol ApiKey of ProduceRequest (librdkafka's RD_KAFKAP_Produce
 * is in a private header). */
#define API_PRODUCE    0
#define API_JOIN_GROUP 11
#define API_END_TXN    26

/* Upper bound of every wait: a hang fails, not stalls. valgrind runs ~50x
 * slower, and ops/test.sh runs two of them at once. */
#define WAIT_MS (RUNNING_ON_VALGRIND ? 240000 : 60000)

/* ---- fixture: everything a test makes is freed even when it fails ---------- */

typedef struct input {
    int32_t partition;
    int64_t offset;
    int invalid;  /* made invalid: must become a VALIDATION dead letter */
    int status;   /* 0 pending, 1 delivered, -1 failed */
    char key[32]; /* session_id: decides the result's partition */
} input_t;

/* One result or dead letter read back from the output topics. */
typedef struct output {
    int32_t partition; /* of its input (source) */
    int64_t offset;
    int32_t out_partition; /* where it was written */
    int dead;
    int error_class;
    int64_t at_ms; /* processed_at_ms or failed_at_ms */
    char worker_id[32];
    char request_id[64];
} output_t;

typedef struct wk {
    gs_config_t *cfg;
    gs_log_t *log;
    FILE *logf; /* the worker's log lines, read back by the tests */
    gs_worker_t *w;
    pthread_t thread;
    int running;
    volatile sig_atomic_t signals;
    int rc;
} wk_t;

typedef struct fx {
    rd_kafka_t *mock_rk; /* the handle the mock cluster lives in */
    rd_kafka_mock_cluster_t *mc;
    char bootstraps[256];
    rd_kafka_t *producer; /* the test's input producer, NULL between uses */
    /* In the worker's group but never subscribed (it does not join): it
     * reads outputs by assign() and asks for the group's committed offsets. */
    rd_kafka_t *reader;
    const gs_config_section_t *sections[8];
    wk_t wk[2];
    int no_leader;                               /* result partition made leaderless, -1: none */
    const gs_config_section_t *kind_sections[4]; /* test 4's: must outlive the config */
    gs_rng_t rng;
    const char *run_id;
    input_t *in;
    size_t n_in, cap_in;
    int64_t end[IN_PARTS];       /* input end offsets, from the deliveries */
    size_t *by_offset[IN_PARTS]; /* input index of every offset */
    output_t *out;
    size_t n_out, cap_out;
    int *seen;  /* outputs per input */
    int *owner; /* per input: which worker wrote its output (1, 2) */
    gs_arena_t arena;
    gs_buf_t buf;
} fx_t;

static void wk_free(wk_t *k)
{
    if (k->running) {
        k->signals |= GS_SIG_STOP;
        pthread_join(k->thread, NULL);
        k->running = 0;
    }
    gs_worker_destroy(k->w);
    gs_config_destroy(k->cfg);
    gs_log_destroy(k->log);
    if (k->logf) {
        if (getenv("GS_TEST_VERBOSE")) { /* the worker's log, to see why a test failed */
            char line[4096];
            rewind(k->logf);
            while (fgets(line, sizeof(line), k->logf))
                fputs(line, stderr);
        }
        fclose(k->logf);
    }
    memset(k, 0, sizeof(*k));
}

static int fx_teardown(void **state)
{
    fx_t *f = *state;
    if (!f)
        return 0;
    /* workers first: their clients talk to the mock cluster */
    for (size_t i = 0; i < 2; i++)
        wk_free(&f->wk[i]);
    if (f->producer)
        rd_kafka_destroy(f->producer);
    if (f->reader) {
        rd_kafka_consumer_close(f->reader);
        rd_kafka_destroy(f->reader);
    }
    if (f->mc)
        rd_kafka_mock_cluster_destroy(f->mc);
    if (f->mock_rk)
        rd_kafka_destroy(f->mock_rk);
    for (size_t p = 0; p < IN_PARTS; p++)
        free(f->by_offset[p]);
    free(f->in);
    free(f->out);
    free(f->seen);
    free(f->owner);
    gs_arena_free(&f->arena);
    gs_buf_free(&f->buf);
    free(f);
    *state = NULL;
    return 0;
}

static rd_kafka_conf_t *client_conf(const char *bootstraps)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    if ((bootstraps &&
         rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err))) ||
        rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err))) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

static int set_all(rd_kafka_conf_t *conf, const char *const *kv)
{
    char err[256];
    for (; *kv; kv += 2)
        if (rd_kafka_conf_set(conf, kv[0], kv[1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "%s: %s\n", kv[0], err);
            return -1;
        }
    return 0;
}

static rd_kafka_t *new_reader(const char *bootstraps)
{
    /* frequent metadata: a partition's leader comes back within a second */
    static const char *const kv[] = {"group.id",
                                     GROUP,
                                     "enable.auto.commit",
                                     "false",
                                     "enable.auto.offset.store",
                                     "false",
                                     "topic.metadata.refresh.interval.ms",
                                     "500",
                                     NULL};
    rd_kafka_conf_t *conf = client_conf(bootstraps);
    char err[256];
    if (!conf || set_all(conf, kv)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk)
        rd_kafka_conf_destroy(conf);
    else
        rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Leaders are the mock's choice: setting them costs a round trip to the
 * mock's thread each, which librdkafka 2.0.2 often serves only after its
 * 1 s poll timeout. */
static int make_topics(rd_kafka_mock_cluster_t *mc)
{
    return rd_kafka_mock_topic_create(mc, IN_TOPIC, IN_PARTS, BROKERS) ||
           rd_kafka_mock_topic_create(mc, RES_TOPIC, OUT_PARTS, BROKERS) ||
           rd_kafka_mock_topic_create(mc, DL_TOPIC, OUT_PARTS, BROKERS);
}

static int fx_setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    *state = f;
    char err[256];
    rd_kafka_conf_t *conf = client_conf(NULL);
    if (!conf || !(f->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)))) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        return fx_teardown(state), -1;
    }
    f->mc = rd_kafka_mock_cluster_new(f->mock_rk, BROKERS);
    if (!f->mc || make_topics(f->mc))
        return fx_teardown(state), -1;
    /* The mock answers a group's first JoinGroup after this delay (3 s by
     * default) but also expires a member that has not been heard from for
     * the session timeout, which the workers set to 3 s: a member that
     * expires first loses its JoinGroup response, and its worker then waits
     * for the request's own timeout (5 min; seen under valgrind). */
    rd_kafka_mock_group_initial_rebalance_delay_ms(f->mc, 1000);
    snprintf(f->bootstraps, sizeof(f->bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(f->mc));
    if (!(f->reader = new_reader(f->bootstraps)))
        return fx_teardown(state), -1;
    gs_kinds_sections(gs_kinds, f->sections, sizeof(f->sections) / sizeof(f->sections[0]));
    gs_rng_seed(&f->rng, 0x5EED0F1D1A1061ull);
    f->no_leader = -1;
    return 0;
}

/* For tests that never reach Kafka: gs_worker_new fails before it makes
 * a client. */
static int fx_setup_offline(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    *state = f;
    snprintf(f->bootstraps, sizeof(f->bootstraps), "127.0.0.1:9");
    gs_kinds_sections(gs_kinds, f->sections, sizeof(f->sections) / sizeof(f->sections[0]));
    f->no_leader = -1;
    return 0;
}

/* ---- inputs ---------------------------------------------------------------- */

static void copy_str(char *dst, size_t n, gs_str_t s)
{
    snprintf(dst, n, "%.*s", (int)s.len, s.p);
}

static void on_input_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    fx_t *f = opaque;
    input_t *in = &f->in[(uintptr_t)m->_private - 1];
    in->status = m->err ? -1 : 1;
    in->partition = m->partition;
    in->offset = m->offset;
}

static void open_producer(fx_t *f)
{
    /* idempotent: a retry must not duplicate an input, or it would have no
     * index and the exactly-once check would blame the worker */
    static const char *const kv[] = {"enable.idempotence", "true", "linger.ms", "2", NULL};
    rd_kafka_conf_t *conf = client_conf(f->bootstraps);
    assert_non_null(conf);
    rd_kafka_conf_set_dr_msg_cb(conf, on_input_delivery);
    rd_kafka_conf_set_opaque(conf, f);
    char err[256] = "";
    if (set_all(conf, kv)) {
        rd_kafka_conf_destroy(conf);
        fail_msg("input producer configuration");
    }
    f->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!f->producer) {
        rd_kafka_conf_destroy(conf);
        fail_msg("input producer: %s", err);
    }
}

static void close_producer(fx_t *f)
{
    rd_kafka_resp_err_t err = rd_kafka_flush(f->producer, WAIT_MS);
    rd_kafka_destroy(f->producer);
    f->producer = NULL;
    assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
    for (size_t i = 0; i < f->n_in; i++)
        if (f->in[i].status != 1)
            fail_msg("input %zu was not delivered (status %d)", i, f->in[i].status);
}

/* Request i of the run (load.c's generator, as govstream-load makes them),
 * every invalid_every-th one made invalid; keyed by session_id. */
static void produce_one(fx_t *f, long invalid_every)
{
    if (f->n_in == f->cap_in) {
        size_t cap = f->cap_in ? f->cap_in * 2 : 1024;
        input_t *in = realloc(f->in, cap * sizeof(*in));
        assert_non_null(in);
        f->in = in;
        f->cap_in = cap;
    }
    size_t i = f->n_in;
    gs_avro_dialogue_request_t req;
    gs_load_params_t p = {f->run_id, 40, 3, 0.5};
    char err[256] = "";
    gs_arena_reset(&f->arena);
    gs_kind_dialogue.load->generate(&p, (long)i, &f->rng, &req, &f->arena);
    f->in[i] = (input_t){.invalid = invalid_every > 0 && i % (size_t)invalid_every == 0};
    copy_str(f->in[i].key, sizeof(f->in[i].key), req.session_id);
    if (f->in[i].invalid)
        gs_kind_dialogue.load->invalidate(&req);
    if (gs_avro_dialogue_request_encode(&req, -1, &f->buf, err, sizeof(err)))
        fail_msg("encode: %s", err);
    f->n_in++;
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(f->producer, RD_KAFKA_V_TOPIC(IN_TOPIC),
                                  RD_KAFKA_V_KEY(req.session_id.p, req.session_id.len),
                                  RD_KAFKA_V_VALUE(f->buf.data, f->buf.len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_OPAQUE((void *)(uintptr_t)(i + 1)), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(f->producer, 10);
    assert_int_equal(e, RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_poll(f->producer, 0);
}

static void produce_inputs(fx_t *f, long n, long invalid_every)
{
    open_producer(f);
    for (long i = 0; i < n; i++)
        produce_one(f, invalid_every);
    close_producer(f);
}

/* Maps every input offset to its request; the partitions must hold
 * exactly our requests, offsets 0..end-1 without a gap. */
static void index_inputs(fx_t *f)
{
    for (int p = 0; p < IN_PARTS; p++) {
        f->end[p] = 0;
        for (size_t i = 0; i < f->n_in; i++)
            if (f->in[i].partition == p && f->in[i].offset + 1 > f->end[p])
                f->end[p] = f->in[i].offset + 1;
        free(f->by_offset[p]);
        f->by_offset[p] = calloc((size_t)f->end[p] + 1, sizeof(size_t));
        assert_non_null(f->by_offset[p]);
        int64_t lo = -1, hi = -1;
        assert_int_equal(rd_kafka_query_watermark_offsets(f->reader, IN_TOPIC, p, &lo, &hi, 5000),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        assert_int_equal(lo, 0);
        assert_int_equal(hi, f->end[p]);
    }
    size_t total = 0;
    for (int p = 0; p < IN_PARTS; p++)
        total += (size_t)f->end[p];
    assert_int_equal(total, f->n_in); /* no offset twice, none missing */
    for (size_t i = 0; i < f->n_in; i++)
        f->by_offset[f->in[i].partition][f->in[i].offset] = i;
}

static size_t count_invalid(const fx_t *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_in; i++)
        n += (size_t)f->in[i].invalid;
    return n;
}

/* ---- workers ----------------------------------------------------------------- */

static void *run_worker(void *arg)
{
    wk_t *k = arg;
    k->rc = gs_worker_run(k->w, &k->signals);
    return NULL;
}

/* The source tree: GS_SOURCE_DIR (ctest, ops/test.sh), else where this
 * file was compiled from (CMake passes absolute paths). */
static void source_dir(char *out, size_t n)
{
    const char *root = getenv("GS_SOURCE_DIR");
    if (root && *root) {
        snprintf(out, n, "%s", root);
        return;
    }
    snprintf(out, n, "%s", __FILE__);
    char *cut = strstr(out, "/tests/unit/");
    if (cut)
        *cut = '\0';
}

#define MAX_OVERRIDES 32

/* Loads a worker's configuration: the mock cluster, our topics, no HTTP,
 * metrics or alerts, governance only, fast group timeouts; extra last. */
static gs_err_t load_config(fx_t *f, const char *id, const char *const *extra,
                            const gs_config_section_t *const *sections, gs_config_t **cfg,
                            char *err, size_t n)
{
    char root[1024], bs[512], wid[128], harm[1200], care[1200];
    source_dir(root, sizeof(root));
    snprintf(bs, sizeof(bs), "kafka.bootstrap.servers=%s", f->bootstraps);
    snprintf(wid, sizeof(wid), "worker.id=%s", id);
    snprintf(harm, sizeof(harm), "governance.harm_lexicon=%s/config/lexicon/harm.txt", root);
    snprintf(care, sizeof(care), "governance.care_lexicon=%s/config/lexicon/care.txt", root);
    /* the mock cluster has no DescribeConfigs: the changelog is tested
     * against a real broker (it.state) */
    const char *ov[MAX_OVERRIDES] = {
        bs,
        wid,
        harm,
        care,
        "dialogue.requests_topic=" IN_TOPIC,
        "dialogue.results_topic=" RES_TOPIC,
        "deadletter.topic=" DL_TOPIC,
        "metrics.topic=",
        "alerts.topic=",
        "http.listen=",
        "dialogue.governance_only=true",
        "governance.memory_capacity=200",
        "kafka_consumer.session.timeout.ms=3000",
        "kafka_consumer.heartbeat.interval.ms=250",
        "kafka.log_level=4",
        "log.level=info",
        "state.changelog=false",
    };
    size_t n_ov = 17;
    /* GS_TEST_RDKAFKA_DEBUG=msg,eos: librdkafka's debug contexts, in the
     * worker's log (see GS_TEST_VERBOSE) */
    char dbg[256];
    if (getenv("GS_TEST_RDKAFKA_DEBUG")) {
        snprintf(dbg, sizeof(dbg), "kafka.debug=%s", getenv("GS_TEST_RDKAFKA_DEBUG"));
        ov[n_ov++] = dbg;
        ov[n_ov++] = "kafka.log_level=7";
        ov[n_ov++] = "log.level=debug";
    }
    for (; extra && *extra && n_ov < MAX_OVERRIDES; extra++)
        ov[n_ov++] = *extra;
    return gs_config_load(NULL, sections, ov, n_ov, cfg, err, n);
}

/* Creates worker slot i with worker.id = id and runs it in a thread. */
static wk_t *start_worker(fx_t *f, int i, const char *id, const char *const *extra)
{
    wk_t *k = &f->wk[i];
    char err[512] = "";
    if (load_config(f, id, extra, f->sections, &k->cfg, err, sizeof(err)))
        fail_msg("config: %s", err);
    k->logf = tmpfile();
    assert_non_null(k->logf);
    /* the worker writes with write(2) while the test rewinds and reads the
     * same file description: appends must not depend on its offset */
    assert_int_equal(fcntl(fileno(k->logf), F_SETFL, O_APPEND), 0);
    k->log = gs_log_new(fileno(k->logf), (gs_log_level_t)k->cfg->log.level, id);
    assert_non_null(k->log);
    if (gs_worker_new(k->cfg, gs_kinds, k->log, &k->w, err, sizeof(err)))
        fail_msg("gs_worker_new: %s", err);
    assert_int_equal(pthread_create(&k->thread, NULL, run_worker, k), 0);
    k->running = 1;
    return k;
}

/* SIGTERM: drain, commit, leave the group. Returns the exit code. */
static int stop_worker(wk_t *k)
{
    k->signals |= GS_SIG_STOP;
    pthread_join(k->thread, NULL);
    k->running = 0;
    return k->rc;
}

/* Lines of the worker's log that contain needle. */
static long log_count(wk_t *k, const char *needle)
{
    char line[4096];
    long n = 0;
    rewind(k->logf);
    while (fgets(line, sizeof(line), k->logf))
        n += strstr(line, needle) != NULL;
    return n;
}

/* Waits until the worker's log has `count` lines containing needle. */
static void wait_log(wk_t *k, const char *needle, long count, int timeout_ms)
{
    int64_t deadline = gs_now_us() + (int64_t)timeout_ms * 1000;
    long n;
    while ((n = log_count(k, needle)) < count && gs_now_us() < deadline)
        gs_sleep_ms(50);
    if (n < count)
        fail_msg("%ld log lines with %s after %d ms, expected %ld", n, needle, timeout_ms, count);
}

typedef struct stats {
    long consumed, results, acked, dl_validation, delivery_failures, dropped_revoked, pending,
        queued;
} stats_t;

/* The last "stats" line of the worker's log (the drain writes one). */
static stats_t last_stats(wk_t *k)
{
    char line[4096], last[4096] = "";
    rewind(k->logf);
    while (fgets(line, sizeof(line), k->logf))
        if (strstr(line, "\"msg\":\"stats\""))
            memcpy(last, line, sizeof(last));
    json_error_t jerr;
    json_t *j = json_loads(last, 0, &jerr);
    if (!j)
        fail_msg("no stats line in the worker's log: %s", jerr.text);
    stats_t s = {0};
    json_unpack(j, "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "consumed", &s.consumed, "results",
                &s.results, "acked", &s.acked, "dl_validation", &s.dl_validation,
                "delivery_failures", &s.delivery_failures, "dropped_revoked", &s.dropped_revoked,
                "pending", &s.pending, "queued", &s.queued);
    json_decref(j);
    return s;
}

/* ---- outputs ----------------------------------------------------------------- */

/* Records written to the result and dead-letter topics (high watermarks),
 * -1 if one cannot be read. A result partition without a leader has none
 * to tell: f->no_leader names it, it is counted as empty. */
static long outputs_written(fx_t *f)
{
    const char *topics[] = {RES_TOPIC, DL_TOPIC};
    long total = 0;
    for (size_t t = 0; t < 2; t++)
        for (int p = 0; p < OUT_PARTS; p++) {
            int64_t lo = 0, hi = 0;
            if (t == 0 && p == f->no_leader)
                continue;
            if (rd_kafka_query_watermark_offsets(f->reader, topics[t], p, &lo, &hi, 5000))
                return -1;
            total += (long)hi;
        }
    return total;
}

/* Waits until at least `want` outputs are written; returns how many are. */
static long wait_outputs(fx_t *f, long want, int timeout_ms)
{
    int64_t deadline = gs_now_us() + (int64_t)timeout_ms * 1000;
    long n;
    while ((n = outputs_written(f)) < want && gs_now_us() < deadline)
        gs_sleep_ms(50);
    return n;
}

static void add_output(fx_t *f, const output_t *o)
{
    if (f->n_out == f->cap_out) {
        size_t cap = f->cap_out ? f->cap_out * 2 : 1024;
        output_t *out = realloc(f->out, cap * sizeof(*out));
        assert_non_null(out);
        f->out = out;
        f->cap_out = cap;
    }
    f->out[f->n_out++] = *o;
}

/* One output record, copied out of its message (so that a failed check
 * holds no librdkafka message). */
static void decode_output(fx_t *f, int is_result, int32_t out_partition, const gs_buf_t *v)
{
    char err[256] = "";
    output_t o = {.out_partition = out_partition};
    gs_arena_reset(&f->arena);
    if (is_result) {
        gs_avro_dialogue_result_t r;
        if (gs_avro_dialogue_result_decode(v->data, v->len, &f->arena, &r, err, sizeof(err)))
            fail_msg("result in partition %d: %s", out_partition, err);
        assert_true(r.source.topic.len == strlen(IN_TOPIC) &&
                    !memcmp(r.source.topic.p, IN_TOPIC, r.source.topic.len));
        o.partition = r.source.partition;
        o.offset = r.source.offset;
        o.at_ms = r.processed_at_ms;
        copy_str(o.worker_id, sizeof(o.worker_id), r.worker_id);
        copy_str(o.request_id, sizeof(o.request_id), r.request_id);
    } else {
        gs_avro_dead_letter_t d;
        if (gs_avro_dead_letter_decode(v->data, v->len, &f->arena, &d, err, sizeof(err)))
            fail_msg("dead letter in partition %d: %s", out_partition, err);
        o.dead = 1;
        o.partition = d.source.partition;
        o.offset = d.source.offset;
        o.error_class = (int)d.error_class;
        o.at_ms = d.failed_at_ms;
        copy_str(o.worker_id, sizeof(o.worker_id), d.worker_id);
    }
    add_output(f, &o);
}

static void assign_outputs(fx_t *f)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2 * OUT_PARTS);
    for (int p = 0; p < OUT_PARTS; p++) {
        rd_kafka_topic_partition_list_add(l, RES_TOPIC, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_topic_partition_list_add(l, DL_TOPIC, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(f->reader, l);
    rd_kafka_topic_partition_list_destroy(l);
    assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Reads every output written so far, from the beginning. */
static void read_outputs(fx_t *f)
{
    long total = outputs_written(f);
    assert_true(total >= 0);
    assign_outputs(f);
    f->n_out = 0;
    int64_t deadline = gs_now_us() + WAIT_MS * 1000LL;
    while ((long)f->n_out < total && gs_now_us() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(f->reader, 100);
        if (!m)
            continue;
        f->buf.len = 0;
        int ok = !m->err && !gs_buf_reserve(&f->buf, m->len + 1);
        int is_result = !strcmp(rd_kafka_topic_name(m->rkt), RES_TOPIC);
        int32_t partition = m->partition;
        if (ok) {
            memcpy(f->buf.data, m->payload, m->len);
            f->buf.len = m->len;
        }
        rd_kafka_message_destroy(m);
        if (ok)
            decode_output(f, is_result, partition, &f->buf);
    }
    assert_int_equal(rd_kafka_assign(f->reader, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal((long)f->n_out, total);
}

/* Who wrote what, as runs of offsets per input partition ("w1+w2" for an
 * offset written twice, "-" for one not written): printed when the check
 * fails, to see how the duplicates came about. */
static void print_runs(const fx_t *f)
{
    for (int p = 0; p < IN_PARTS; p++) {
        char prev[80] = "", cur[80];
        int64_t from = 0;
        fprintf(stderr, "partition %d:", p);
        for (int64_t off = 0; off <= f->end[p]; off++) {
            cur[0] = '\0';
            for (size_t j = 0; off < f->end[p] && j < f->n_out; j++)
                if (f->out[j].partition == p && f->out[j].offset == off)
                    snprintf(cur + strlen(cur), sizeof(cur) - strlen(cur), "%s%s", *cur ? "+" : "",
                             f->out[j].worker_id);
            if (off < f->end[p] && !*cur)
                snprintf(cur, sizeof(cur), "-");
            if (off && (off == f->end[p] || strcmp(cur, prev))) {
                fprintf(stderr, " %s[%lld..%lld]", prev, (long long)from, (long long)off - 1);
                from = off;
            }
            memcpy(prev, cur, sizeof(prev));
        }
        fprintf(stderr, "\n");
    }
}

/* Fails naming input i, how many outputs it has and who wrote them. */
static void fail_input(const fx_t *f, size_t i)
{
    print_runs(f);
    char who[256] = "";
    size_t len = 0, n_bad = 0;
    for (size_t j = 0; j < f->n_out && len < sizeof(who) - 40; j++)
        if (f->out[j].partition == f->in[i].partition && f->out[j].offset == f->in[i].offset)
            len += (size_t)snprintf(who + len, sizeof(who) - len, " %s", f->out[j].worker_id);
    for (size_t k = 0; k < f->n_in; k++)
        n_bad += f->seen[k] != 1;
    fail_msg("input %zu (partition %d offset %lld) has %d outputs (from:%s); %zu inputs are "
             "wrong",
             i, f->in[i].partition, (long long)f->in[i].offset, f->seen[i], who, n_bad);
}

/* Every output names an input and is what that input must get: a result
 * for a valid request (its request_id), a VALIDATION dead letter for an
 * invalid one. Outputs per input go to f->seen; returns the number of
 * dead letters. */
static size_t count_outputs(fx_t *f)
{
    size_t dead = 0;
    free(f->seen);
    f->seen = calloc(f->n_in + 1, sizeof(int));
    assert_non_null(f->seen);
    for (size_t j = 0; j < f->n_out; j++) {
        const output_t *o = &f->out[j];
        if (o->partition < 0 || o->partition >= IN_PARTS || o->offset < 0 ||
            o->offset >= f->end[o->partition])
            fail_msg("output %zu names input %d/%lld, which was never produced", j, o->partition,
                     (long long)o->offset);
        size_t i = f->by_offset[o->partition][o->offset];
        const input_t *in = &f->in[i];
        if (o->dead != in->invalid)
            fail_msg("input %zu (%d/%lld, %s) got a %s", i, in->partition, (long long)in->offset,
                     in->invalid ? "invalid" : "valid", o->dead ? "dead letter" : "result");
        if (o->dead) {
            assert_int_equal(o->error_class, GS_AVRO_ERROR_CLASS_VALIDATION);
            dead++;
        } else {
            char want[64];
            snprintf(want, sizeof(want), "%s-%zu", f->run_id, i);
            assert_string_equal(o->request_id, want);
        }
        f->seen[i]++;
    }
    return dead;
}

/* After count_outputs: no input without an output (nothing lost). */
static void check_none_missing(const fx_t *f)
{
    for (size_t i = 0; i < f->n_in; i++)
        if (!f->seen[i])
            fail_input(f, i);
}

/* Every input has exactly one output, no more, no less; returns the
 * number of dead letters. */
static size_t check_exactly_once(fx_t *f)
{
    size_t dead = count_outputs(f);
    for (size_t i = 0; i < f->n_in; i++)
        if (f->seen[i] != 1)
            fail_input(f, i);
    return dead;
}

/* The group's committed offsets of the input partitions
 * (RD_KAFKA_OFFSET_INVALID: none). */
static void committed(fx_t *f, int64_t out[IN_PARTS])
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(IN_PARTS);
    for (int p = 0; p < IN_PARTS; p++)
        rd_kafka_topic_partition_list_add(l, IN_TOPIC, p);
    rd_kafka_resp_err_t err = rd_kafka_committed(f->reader, l, 5000);
    for (int p = 0; p < IN_PARTS; p++)
        out[p] = l->elems[p].err ? -2 : l->elems[p].offset;
    rd_kafka_topic_partition_list_destroy(l);
    assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Waits until the committed offsets are `want` (auto-commit runs every
 * second); fails with what they are otherwise. */
static void expect_committed(fx_t *f, const int64_t want[IN_PARTS], int timeout_ms)
{
    int64_t got[IN_PARTS];
    int64_t deadline = gs_now_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        committed(f, got);
        if (!memcmp(got, want, sizeof(got)))
            return;
        if (gs_now_us() >= deadline)
            break;
        gs_sleep_ms(100);
    }
    for (int p = 0; p < IN_PARTS; p++)
        if (got[p] != want[p])
            fail_msg("partition %d: committed %lld, expected %lld", p, (long long)got[p],
                     (long long)want[p]);
}

/* Fewer requests under valgrind, where everything runs ~50x slower. */
static long scaled(long n)
{
    return RUNNING_ON_VALGRIND ? n / 4 : n;
}

/* ---- 1. exactly one output per input, with produce errors --------------- */

/* Which brokers lead a result or dead-letter partition (the mock picks
 * leaders at random): the ones the worker produces to. */
static void output_leaders(fx_t *f, int leads[BROKERS + 1])
{
    const struct rd_kafka_metadata *md = NULL;
    assert_int_equal(rd_kafka_metadata(f->reader, 1, NULL, &md, 5000), RD_KAFKA_RESP_ERR_NO_ERROR);
    memset(leads, 0, (BROKERS + 1) * sizeof(int));
    for (int t = 0; t < md->topic_cnt; t++) {
        const rd_kafka_metadata_topic_t *mt = &md->topics[t];
        if (strcmp(mt->topic, RES_TOPIC) && strcmp(mt->topic, DL_TOPIC))
            continue;
        for (int p = 0; p < mt->partition_cnt; p++)
            if (mt->partitions[p].leader >= 1 && mt->partitions[p].leader <= BROKERS)
                leads[mt->partitions[p].leader] = 1;
    }
    rd_kafka_metadata_destroy(md);
}

/* Each leader refuses the worker's first produce requests: errors that
 * librdkafka retries itself (leader moved, timeout, too few replicas),
 * then one it gives up on (the records fail, the worker holds them and
 * produces them again). None of them stored anything, so a duplicate could
 * only come from the worker. */
static void inject_produce_errors(fx_t *f, const int leads[BROKERS + 1])
{
    for (int b = 1; b <= BROKERS; b++)
        if (leads[b])
            assert_int_equal(
                rd_kafka_mock_broker_push_request_error_rtts(
                    f->mc, b, API_PRODUCE, 5, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 0,
                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, 50, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                    0, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, 0,
                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, 0),
                RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Every injected error was served to a produce request. */
static void expect_errors_served(fx_t *f, const int leads[BROKERS + 1])
{
    for (int b = 1; b <= BROKERS; b++) {
        size_t left = 99;
        if (!leads[b])
            continue;
        assert_int_equal(rd_kafka_mock_broker_error_stack_cnt(f->mc, b, API_PRODUCE, &left),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        if (left)
            fail_msg("broker %d: %zu injected produce errors were never served", b, left);
    }
}

static void test_exactly_once_with_produce_errors(void **state)
{
    fx_t *f = *state;
    long n = scaled(2000);
    f->run_id = "eo";
    produce_inputs(f, n, 7);
    index_inputs(f);
    size_t invalid = count_invalid(f);
    assert_int_equal(invalid, (size_t)((n + 6) / 7));

    int leads[BROKERS + 1];
    output_leaders(f, leads);
    /* One request in flight per broker: the mock checks the sequence numbers
     * of transactional producers only, so it stores a batch that follows a
     * refused one, and librdkafka, as it should with a real broker (which
     * would refuse it as out of order), takes that success to acknowledge
     * the refused batch too ("implicitly acked by subsequent batch success"):
     * results lost to the mock, in 2 of 13 runs under valgrind. */
    const char *const one_in_flight[] = {"kafka_producer.max.in.flight.requests.per.connection=1",
                                         NULL};
    wk_t *k = start_worker(f, 0, "w1", one_in_flight);
    inject_produce_errors(f, leads);
    assert_int_equal(wait_outputs(f, n, WAIT_MS), n);
    assert_int_equal(stop_worker(k), 0);
    expect_errors_served(f, leads);

    read_outputs(f);
    assert_int_equal(check_exactly_once(f), invalid);
    /* after the drain the group is at the end of every partition */
    expect_committed(f, f->end, 5000);

    stats_t s = last_stats(k);
    assert_int_equal(s.consumed, n);
    assert_int_equal(s.results, n - (long)invalid);
    assert_int_equal(s.dl_validation, (long)invalid);
    assert_int_equal(s.acked, n); /* one acknowledgement per input */
    if (s.delivery_failures < 1)
        fail_msg("no record failed delivery: the worker's retry path was not exercised");
    assert_int_equal(log_count(k, "delivery failed; will retry"), s.delivery_failures);
    assert_int_equal(s.pending, 0);
    assert_int_equal(s.queued, 0);
}

/* ---- 2. offsets follow the contiguous watermark ------------------------- */

#define BLOCKED 2 /* the result partition without a leader */

/* Committed offsets while results for partition BLOCKED cannot be
 * delivered: in each input partition, the first valid request keyed to
 * BLOCKED (everything before it is acknowledged), else its end. Returns how
 * many results are blocked. */
static long blocked_watermarks(const fx_t *f, int64_t want[IN_PARTS])
{
    long blocked = 0;
    memcpy(want, f->end, sizeof(f->end));
    for (size_t i = 0; i < f->n_in; i++) {
        const input_t *in = &f->in[i];
        /* the producer's default partitioner (consistent_random) for a key */
        if (in->invalid || rd_kafka_msg_partitioner_consistent(NULL, in->key, strlen(in->key),
                                                               OUT_PARTS, NULL, NULL) != BLOCKED)
            continue;
        blocked++;
        if (in->offset < want[in->partition])
            want[in->partition] = in->offset;
    }
    return blocked;
}

static void test_commit_follows_watermark(void **state)
{
    fx_t *f = *state;
    long n = scaled(1200);
    f->run_id = "wm";
    produce_inputs(f, n, 9);
    index_inputs(f);
    int64_t want[IN_PARTS];
    long blocked = blocked_watermarks(f, want);
    int mid = 0; /* partitions whose watermark stops part way */
    for (int p = 0; p < IN_PARTS; p++)
        mid += want[p] > 0 && want[p] < f->end[p];
    assert_true(blocked > 0 && mid > 0); /* the run's keys must make the case */

    assert_int_equal(rd_kafka_mock_partition_set_leader(f->mc, RES_TOPIC, BLOCKED, -1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    f->no_leader = BLOCKED;
    wk_t *k = start_worker(f, 0, "w1", NULL);
    /* everything else arrives; the later, acknowledged offsets behind a
     * blocked one are not committed */
    assert_int_equal(wait_outputs(f, n - blocked, WAIT_MS), n - blocked);
    expect_committed(f, want, 10000);
    gs_sleep_ms(2500); /* two more auto-commit rounds: still there */
    expect_committed(f, want, 0);
    assert_int_equal(outputs_written(f), n - blocked);

    assert_int_equal(rd_kafka_mock_partition_set_leader(f->mc, RES_TOPIC, BLOCKED, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    f->no_leader = -1;
    assert_int_equal(wait_outputs(f, n, WAIT_MS), n);
    expect_committed(f, f->end, 10000); /* by auto-commit, before any drain */
    assert_int_equal(stop_worker(k), 0);
    expect_committed(f, f->end, 0);

    read_outputs(f);
    assert_int_equal(check_exactly_once(f), count_invalid(f));
    long in_blocked = 0;
    for (size_t j = 0; j < f->n_out; j++)
        in_blocked += !f->out[j].dead && f->out[j].out_partition == BLOCKED;
    assert_int_equal(in_blocked, blocked); /* the prediction above was the producer's */
}

/* ---- 3. a rebalance: queued messages of revoked partitions are dropped -- */

/* Bit 0 for w1, bit 1 for w2. */
static int worker_bit(const char *id)
{
    if (!strcmp(id, "w1"))
        return 1;
    if (!strcmp(id, "w2"))
        return 2;
    fail_msg("output from unknown worker \"%s\"", id);
    return 0; /* not reached */
}

/* In every input partition the writers, in offset order, are w1, then (if
 * the partition moved) w2, and it never goes back: w2 took over where w1
 * left. An overlap (both wrote the same offsets) is allowed here and left
 * to the exactly-once check. Returns the number of partitions that moved. */
static int check_handoff(fx_t *f)
{
    static const int rank[4] = {-1, 0, 2, 1}; /* w1, w2, both */
    free(f->owner);
    f->owner = calloc(f->n_in + 1, sizeof(int));
    assert_non_null(f->owner);
    for (size_t j = 0; j < f->n_out; j++)
        f->owner[f->by_offset[f->out[j].partition][f->out[j].offset]] |=
            worker_bit(f->out[j].worker_id);
    int moved = 0;
    for (int p = 0; p < IN_PARTS; p++) {
        assert_true(f->end[p] > 0);
        int prev = f->owner[f->by_offset[p][0]];
        assert_true(prev & 1); /* w1 was alone with the backlog */
        for (int64_t off = 1; off < f->end[p]; off++) {
            int w = f->owner[f->by_offset[p][off]];
            if (rank[w] < rank[prev])
                fail_msg("partition %d went back to w1 at offset %lld", p, (long long)off);
            prev = w;
        }
        moved += (prev & 2) != 0;
    }
    return moved;
}

/* Milliseconds since the epoch of a log line's "ts". */
static int64_t line_ms(const char *line)
{
    const char *ts = strstr(line, "\"ts\":\"");
    struct tm tm = {0};
    int ms = 0;
    if (!ts || sscanf(ts + 6, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                      &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* Dead letters written by both workers (inputs redone after a refused
 * commit). */
static size_t dead_redone(const fx_t *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_in; i++)
        n += f->in[i].invalid && f->seen[i] == 2 ? 1 : 0;
    return n;
}

/* w1's first revoke: when it was logged, which partitions, and whether
 * the commit of their watermarks just before it was accepted ("committed")
 * or refused ("commit failed"). */
typedef struct revoke {
    int64_t at_ms;
    int parts[IN_PARTS];
    int committed;
} revoke_t;

static revoke_t first_revoke(wk_t *k)
{
    char line[4096];
    revoke_t r = {.at_ms = -1};
    rewind(k->logf);
    while (fgets(line, sizeof(line), k->logf)) {
        if (strstr(line, "\"msg\":\"committed\""))
            r.committed = 1;
        else if (strstr(line, "\"msg\":\"commit failed\""))
            r.committed = 0;
        else if (strstr(line, "\"msg\":\"partitions revoked\"")) {
            r.at_ms = line_ms(line);
            for (int p = 0; p < IN_PARTS; p++) {
                char name[64];
                snprintf(name, sizeof(name), IN_TOPIC "[%d]", p);
                r.parts[p] = strstr(line, name) != NULL;
            }
            break;
        }
    }
    if (r.at_ms < 0)
        fail_msg("w1 never logged a revoke");
    return r;
}

/* Nothing w1 wrote for a partition it gave up was processed after the
 * revoke: what it had queued for it was dropped, not processed. */
static void check_nothing_after_revoke(fx_t *f, const revoke_t *r)
{
    for (size_t j = 0; j < f->n_out; j++) {
        const output_t *o = &f->out[j];
        if (r->parts[o->partition] && !strcmp(o->worker_id, "w1") && o->at_ms > r->at_ms)
            fail_msg("w1 processed partition %d offset %lld at %lld ms, after giving the "
                     "partition up at %lld ms",
                     o->partition, (long long)o->offset, (long long)o->at_ms, (long long)r->at_ms);
    }
}

/* Where w2 took over a revoked partition, and where w1 stopped. */
static void handoff_at(const fx_t *f, int p, int64_t *w1_end, int64_t *w2_first)
{
    *w1_end = 0;
    *w2_first = f->end[p];
    for (size_t j = 0; j < f->n_out; j++) {
        const output_t *o = &f->out[j];
        if (o->partition != p)
            continue;
        if (!strcmp(o->worker_id, "w1") && o->offset + 1 > *w1_end)
            *w1_end = o->offset + 1;
        if (!strcmp(o->worker_id, "w2") && o->offset < *w2_first)
            *w2_first = o->offset;
    }
}

/* The new owner starts exactly where the old one's accepted commit left
 * it: everything w1 processed was acknowledged (the revoke waits for it)
 * and committed, so w2 redoes nothing. When the mock refused that commit
 * (it refuses commits while the group is joining, which a broker does
 * not) w2 may redo what w1 had acknowledged: at-least-once, reported. */
static void check_exact_handoff(const fx_t *f, const revoke_t *r)
{
    for (int p = 0; p < IN_PARTS; p++) {
        int64_t w1_end, w2_first;
        if (!r->parts[p])
            continue;
        handoff_at(f, p, &w1_end, &w2_first);
        if (r->committed && w2_first != w1_end)
            fail_msg("partition %d: w1 processed and committed up to offset %lld, w2 started "
                     "at %lld (%lld redone)",
                     p, (long long)w1_end, (long long)w2_first, (long long)(w1_end - w2_first));
        if (!r->committed)
            print_message("partition %d: the revoke's commit was refused: w2 redid %lld "
                          "acknowledged offsets (%lld..%lld)\n",
                          p, (long long)(w1_end - w2_first), (long long)w2_first,
                          (long long)w1_end - 1);
    }
}

/* What a worker's final stats say matches what it wrote. */
static void check_stats(fx_t *f, wk_t *k, const char *id)
{
    long wrote = 0, dead = 0;
    for (size_t j = 0; j < f->n_out; j++)
        if (!strcmp(f->out[j].worker_id, id)) {
            wrote++;
            dead += f->out[j].dead;
        }
    stats_t s = last_stats(k);
    assert_int_equal(s.consumed, wrote);
    assert_int_equal(s.acked, wrote);
    assert_int_equal(s.results, wrote - dead);
    assert_int_equal(s.dl_validation, dead);
    assert_int_equal(s.dropped_revoked, 0);
    assert_int_equal(s.pending, 0);
    assert_int_equal(s.queued, 0);
}

#define ASSIGNED_SOME(id) "\"partitions assigned\",\"worker_id\":\"" id "\",\"partitions\":\"t."

/* Produces a steady stream (~500 requests/s) until w1 gave partitions up
 * and w2 got them, and one more second. */
static void stream_through_rebalance(fx_t *f, wk_t *k1, wk_t *k2)
{
    int64_t deadline = gs_now_us() + WAIT_MS * 1000LL, settled = 0;
    while (gs_now_us() < deadline && (!settled || gs_now_us() < settled + 1000000)) {
        for (int j = 0; j < 25; j++)
            produce_one(f, 11);
        gs_sleep_ms(50);
        if (!settled && log_count(k1, "\"partitions revoked\"") &&
            log_count(k2, ASSIGNED_SOME("w2")))
            settled = gs_now_us();
    }
    if (!settled)
        fail_msg("no rebalance within %d ms", WAIT_MS);
}

/* The next produce requests of each leader are answered after rtt_ms:
 * records stay in flight long enough that the revoke always finds some. */
static void delay_acks(fx_t *f, const int leads[BROKERS + 1], int n, int rtt_ms)
{
    for (int b = 1; b <= BROKERS; b++)
        for (int i = 0; leads[b] && i < n; i++)
            assert_int_equal(rd_kafka_mock_broker_push_request_error_rtts(
                                 f->mc, b, API_PRODUCE, 1, RD_KAFKA_RESP_ERR_NO_ERROR, rtt_ms),
                             RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* The mock (librdkafka 2.0.2) completes a SyncGroup round with the
 * leader's request alone; a follower whose SyncGroup comes later is refused
 * and rejoins, and the group is joining again (refusing commits) just as
 * the old owner commits on revoke. Answering the leader's JoinGroup (the
 * second one of w2's join, from w1) later makes w2 sync first. */
static void follower_syncs_first(fx_t *f)
{
    assert_int_equal(rd_kafka_mock_broker_push_request_error_rtts(f->mc, 1, API_JOIN_GROUP, 2,
                                                                  RD_KAFKA_RESP_ERR_NO_ERROR, 0,
                                                                  RD_KAFKA_RESP_ERR_NO_ERROR, 700),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void test_revoked_queue_dropped(void **state)
{
    fx_t *f = *state;
    /* A long linger and a steady stream: w1 spends its time part way
     * through filling a batch, so the revoke finds messages of the revoked
     * partitions in its queue, and records of them in flight. */
    const char *const linger[] = {"batch.linger_us=200000", NULL};
    int leads[BROKERS + 1];
    f->run_id = "rb";
    assert_int_equal(rd_kafka_mock_coordinator_set(f->mc, "group", GROUP, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    output_leaders(f, leads);
    open_producer(f);
    for (long i = 0; i < scaled(1000); i++) /* a backlog for w1 alone */
        produce_one(f, 11);
    assert_int_equal(rd_kafka_flush(f->producer, WAIT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
    wk_t *k1 = start_worker(f, 0, "w1", linger);
    assert_true(wait_outputs(f, 1, WAIT_MS) >= 1);
    delay_acks(f, leads, 300, 100);
    follower_syncs_first(f);
    wk_t *k2 = start_worker(f, 1, "w2", linger);
    stream_through_rebalance(f, k1, k2);
    close_producer(f);
    index_inputs(f);

    expect_committed(f, f->end, WAIT_MS); /* everything processed */
    /* One after the other: a member that stops while the other's leave is
     * rebalancing the group has its final commit refused (the mock refuses
     * commits while the group is joining). w1 gets its partitions back
     * before it stops. */
    assert_int_equal(stop_worker(k2), 0);
    wait_log(k1, ASSIGNED_SOME("w1"), 2, WAIT_MS);
    assert_int_equal(stop_worker(k1), 0);

    read_outputs(f);
    size_t dead = count_outputs(f);
    check_none_missing(f);
    revoke_t r = first_revoke(k1);
    check_nothing_after_revoke(f, &r);
    /* cooperative-sticky gives each of the two members half */
    assert_int_equal(check_handoff(f), IN_PARTS / 2);
    assert_int_equal(log_count(k1, "\"partitions lost\""), 0);
    check_stats(f, k1, "w1");
    check_stats(f, k2, "w2");
    expect_committed(f, f->end, 0);
    check_exact_handoff(f, &r);
    if (r.committed) /* then nothing at all was done twice */
        assert_int_equal(check_exactly_once(f), count_invalid(f));
    else
        assert_int_equal(dead - count_invalid(f), dead_redone(f));
}

/* ---- 4. a kind that cannot be created --------------------------------------- */

/* A test-only kind on dialogue's types whose constructor always fails. */
typedef struct failing_conf {
    gs_config_kind_t stream;
} failing_conf_t;

static const gs_config_key_t failing_keys[] = {
    GS_KIND_STREAM_KEYS("failing", failing_conf_t, "true"),
};

static const gs_config_section_t failing_section = {
    .name = "failing",
    .doc = "test only",
    .keys = failing_keys,
    .n_keys = sizeof(failing_keys) / sizeof(failing_keys[0]),
    .size = sizeof(failing_conf_t),
};

/* What the worker called: create once, destroy never (nothing was made). */
static int failing_creates, failing_destroys;

static gs_err_t failing_create(const gs_config_t *cfg, const void *conf, gs_kind_t **out,
                               char *errstr, size_t n)
{
    (void)cfg;
    (void)conf;
    (void)out;
    failing_creates++;
    return gs_fail(errstr, n, GS_ERR_IO, "failing: cannot open its model (test)");
}

static void failing_destroy(gs_kind_t *k)
{
    (void)k;
    failing_destroys++;
}

static void failing_process(gs_kind_t *k, const gs_batch_t *b)
{
    (void)k;
    (void)b;
}

static const gs_kind_ops_t failing_kind = {
    .name = "failing",
    .request = &gs_avro_type_dialogue_request,
    .result = &gs_avro_type_dialogue_result,
    .key_field = "session_id",
    .config = &failing_section,
    .create = failing_create,
    .destroy = failing_destroy,
    .process = failing_process,
};

/* gs_worker_new must fail with `want` and a reason containing `msg`,
 * leaving *out as it was; whatever it made is freed (LeakSanitizer and
 * valgrind check that at exit). */
static void expect_new_fails(fx_t *f, const gs_kind_ops_t *const *kinds,
                             const gs_config_section_t *const *sections, const char *const *extra,
                             gs_err_t want, const char *msg)
{
    static char sentinel;
    wk_t *k = &f->wk[0];
    char err[512] = "";
    if (load_config(f, "w1", extra, sections, &k->cfg, err, sizeof(err)))
        fail_msg("config: %s", err);
    k->log = gs_log_new(2, GS_LOG_ERROR, "w1");
    assert_non_null(k->log);
    gs_worker_t *w = (gs_worker_t *)(void *)&sentinel;
    failing_creates = failing_destroys = 0;
    gs_err_t e = gs_worker_new(k->cfg, kinds, k->log, &w, err, sizeof(err));
    if (w != (gs_worker_t *)(void *)&sentinel) {
        k->w = w; /* freed by the teardown */
        fail_msg("gs_worker_new wrote *out (returned %d)", (int)e);
    }
    assert_int_equal(e, want);
    assert_contains(err, msg);
}

static void test_kind_create_fails_memory_budget(void **state)
{
    /* the dialogue kind's governor cannot fit one scope in 1 MB */
    const char *const extra[] = {"governance.max_memory_mb=1", NULL};
    fx_t *f = *state;
    expect_new_fails(f, gs_kinds, f->sections, extra, GS_ERR_CONFIG,
                     "governance.max_memory_mb: 1 MB cannot hold");
}

static void test_kind_create_fails_after_another(void **state)
{
    /* dialogue is created first and must be freed with the rest */
    const gs_kind_ops_t *const kinds[] = {&gs_kind_dialogue, &failing_kind, NULL};
    fx_t *f = *state;
    gs_kinds_sections(kinds, f->kind_sections, 4);
    expect_new_fails(f, kinds, f->kind_sections, NULL, GS_ERR_IO,
                     "failing: cannot open its model (test)");
    assert_int_equal(failing_creates, 1);
    assert_int_equal(failing_destroys, 0);
}

static void test_kind_without_config(void **state)
{
    /* the table names a kind whose section was not loaded */
    const gs_kind_ops_t *const kinds[] = {&gs_kind_dialogue, &failing_kind, NULL};
    fx_t *f = *state;
    expect_new_fails(f, kinds, f->sections, NULL, GS_ERR_INTERNAL,
                     "kind failing: its configuration was not loaded");
    assert_int_equal(failing_creates, 0);
}

/* Exactly-once: a commit whose EndTxn answer comes after the commit's
 * timeout (a stalled process, a slow coordinator) is still under way in
 * librdkafka, which refuses any other call until commit_transaction is
 * called again. The worker resumes it and goes on; before, it tried to
 * abort and was refused forever ("Conflicting commit_transaction API call
 * is already in progress"), its partitions held and never processed. */
static void test_commit_timeout_resumed(void **state)
{
    fx_t *f = *state;
    const char *const eos[] = {"delivery.mode=exactly_once", "delivery.transaction_timeout_ms=2000",
                               NULL};
    long n = scaled(600);
    f->run_id = "ct";
    produce_inputs(f, n, 1000000);
    index_inputs(f);
    assert_int_equal(rd_kafka_mock_coordinator_set(f->mc, "transaction", GROUP ".w1", 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    /* the first commit waits 1 s at most (half the timeout); its answer takes 2.5 s */
    assert_int_equal(rd_kafka_mock_broker_push_request_error_rtts(f->mc, 1, API_END_TXN, 1,
                                                                  RD_KAFKA_RESP_ERR_NO_ERROR, 2500),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    wk_t *k = start_worker(f, 0, "w1", eos);
    assert_int_equal(wait_outputs(f, n, WAIT_MS), n);
    /* the mock keeps transactional offset commits to itself: the log and
     * a clean drain (exit 0: everything committed) tell what happened */
    gs_sleep_ms(3000); /* the delayed answer is in */
    assert_int_equal(log_count(k, "Conflicting"), 0);
    assert_int_equal(stop_worker(k), 0);
    assert_int_equal(log_count(k, "Conflicting"), 0);
    assert_int_equal(log_count(k, "transaction aborted"), 0);
    assert_true(log_count(k, "transaction commit not complete; resuming it") >= 1);
    read_outputs(f);
    assert_int_equal(check_exactly_once(f), count_invalid(f));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exactly_once_with_produce_errors, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_commit_follows_watermark, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_commit_timeout_resumed, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_revoked_queue_dropped, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_kind_create_fails_memory_budget, fx_setup_offline,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_kind_create_fails_after_another, fx_setup_offline,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_kind_without_config, fx_setup_offline, fx_teardown),
    };
    /* GS_TEST_FILTER=test_name (or a glob) runs one test */
    if (getenv("GS_TEST_FILTER"))
        cmocka_set_test_filter(getenv("GS_TEST_FILTER"));
    return cmocka_run_group_tests_name("worker", tests, NULL, NULL);
}
