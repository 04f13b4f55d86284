/* govstream-load - load generator and result verifier, for any kind of
 * the table it is given (main.c: the product's kinds).
 *
 *   govstream-load produce -b BOOTSTRAP -t TOPIC -n N [--kind KIND] [options]
 *   govstream-load verify  -b BOOTSTRAP --run-id ID [--kind KIND] [options]
 *   govstream-load rate | latency | topics ...
 *
 * Requests come from the kind's generator (deterministic per --seed) or a
 * --from file; every key and request id starts with the run id so that
 * verify can tell this run's results and dead letters apart. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "cmds.h"
#include "govstream/codec.h"
#include "govstream/kinds.h"
#include "govstream/registry.h"
#include "govstream/schemas.h"
#include "govstream/svg.h"

enum { BAD_RANDOM, BAD_TRUNCATED, BAD_MAGIC, BAD_SCHEMA_ID, BAD_INVALID, BAD_OVERSIZE, BAD__N };
static const char *const bad_names[BAD__N] = {
    "random", "truncated", "wrong_magic", "unknown_schema_id", "invalid_value", "oversize"};
static const char *const bad_class[BAD__N] = {"DECODE", "DECODE",     "DECODE",
                                              "SCHEMA", "VALIDATION", "TOO_LARGE"};

typedef struct opts {
    const char *bootstrap, *topic, *run_id, *registry, *writer_schema, *framing, *from, *dump;
    const char *dump_deadletters;
    const char *results, *deadletter, *create, *linger_ms, *kind_name, *report;
    const gs_kind_ops_t *kind;
    long n, rate, sessions, tenants, seed, oversize_bytes, partitions, replication;
    long malformed_count, show, since_ms;
    double malformed, moral_given;
    double timeout_s;
    long expect_results, expect_deadletters;
    int quiet;
    gs_rng_t rng;
} opts_t;

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "govstream-load: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(1);
}

typedef void(dr_fn)(rd_kafka_t *, const rd_kafka_message_t *, void *);

static rd_kafka_t *client(const opts_t *o, rd_kafka_type_t type, dr_fn *on_dr, void *opaque)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (on_dr) {
        rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
        rd_kafka_conf_set_opaque(conf, opaque);
    }
    rd_kafka_conf_set(conf, "bootstrap.servers", o->bootstrap, err, sizeof(err));
    rd_kafka_conf_set(conf, "client.id", "govstream-load", err, sizeof(err));
    if (type == RD_KAFKA_PRODUCER && on_dr) {
        rd_kafka_conf_set(conf, "linger.ms", o->linger_ms, err, sizeof(err));
        rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err));
        rd_kafka_conf_set(conf, "queue.buffering.max.messages", "500000", err, sizeof(err));
        rd_kafka_conf_set(conf, "message.max.bytes", "2000000", err, sizeof(err));
    } else if (type == RD_KAFKA_CONSUMER) {
        rd_kafka_conf_set(conf, "group.id", "govstream-load-verify", err, sizeof(err));
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
        rd_kafka_conf_set(conf, "enable.partition.eof", "false", err, sizeof(err));
        /* librdkafka's default, said here: results of aborted transactions
         * (exactly-once workers) are never counted */
        rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof(err));
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk)
        die("kafka: %s", err);
    return rk;
}

/* A string field of a generated record, by name ("" when it has none). */
static gs_str_t field_str(const gs_avro_node_t *node, const void *v, const char *name)
{
    const gs_avro_field_t *f = gs_avro_field(node, name);
    if (!f || (f->type->kind != GS_AVRO_T_STRING && f->type->kind != GS_AVRO_T_BYTES))
        return (gs_str_t){"", 0};
    gs_str_t s;
    memcpy(&s, (const char *)v + f->offset, sizeof(s));
    return s;
}

/* A field's address by name and node, NULL if it has another type. */
static const void *field_at(const gs_avro_node_t *node, const void *v, const char *name,
                            const gs_avro_node_t *type)
{
    const gs_avro_field_t *f = gs_avro_field(node, name);
    return f && f->type == type ? (const char *)v + f->offset : NULL;
}

/* ---- produce ----------------------------------------------------------- */

/* The requests of a --from file: one JSON object per line. */
static json_t *load_requests(const char *path)
{
    char err[256], *text, *save = NULL;
    size_t len;
    if (gs_read_file(path, &text, &len, err, sizeof(err)))
        die("%s", err);
    json_t *all = json_array();
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!*line)
            continue;
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        if (!json_is_object(j))
            die("--from: a line is not a JSON object: %s", je.text);
        json_array_append_new(all, j);
    }
    free(text);
    return all;
}

/* --from: the kind's own file type (audio for timbre), or JSON lines. */
static json_t *load_script(const opts_t *o)
{
    char err[512];
    json_t *s = NULL;
    int got = o->kind->load->script_of
                  ? o->kind->load->script_of(o->from, o->run_id, &s, err, sizeof(err))
                  : 0;
    if (got < 0)
        die("--from: %s", err);
    return got ? s : load_requests(o->from);
}

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    long *failed = opaque;
    if (m->err) {
        (*failed)++;
        fprintf(stderr, "govstream-load: delivery failed: %s\n", rd_kafka_err2str(m->err));
    }
}

/* The writer schema (ours, or --writer-schema) and its id under confluent
 * framing (registered as <topic>-value). */
static gs_avro_schema_t *writer_schema(const opts_t *o, int32_t *schema_id)
{
    char err[512];
    gs_avro_schema_t *writer = NULL;
    const gs_avro_type_t *type = o->kind->request;
    if (o->writer_schema) {
        char *text;
        size_t len;
        if (gs_read_file(o->writer_schema, &text, &len, err, sizeof(err)) ||
            gs_avro_schema_parse(text, len, &writer, err, sizeof(err)))
            die("writer schema: %s", err);
        free(text);
    } else if (gs_avro_schema_parse(type->schema, strlen(type->schema), &writer, err,
                                    sizeof(err))) {
        die("%s", err);
    }
    *schema_id = -1;
    if (strcmp(o->framing, "confluent") != 0)
        return writer;
    if (!o->registry)
        die("%s", "--framing confluent needs --registry URL");
    gs_registry_conf_t rc = {
        .url = o->registry,
        .connect_timeout_ms = 2000,
        .timeout_ms = 5000,
        .retries = 3,
        .backoff_ms = 200,
        .backoff_max_ms = 2000,
    };
    gs_registry_t *reg;
    char subject[300];
    snprintf(subject, sizeof(subject), "%s-value", o->topic);
    if (gs_registry_new(&rc, &reg, err, sizeof(err)) ||
        gs_registry_register(reg, subject, gs_avro_schema_json(writer), schema_id, err,
                             sizeof(err)))
        die("registry: %s", err);
    gs_registry_destroy(reg);
    return writer;
}

/* Which malformation request i gets (-1: none): exactly M of them evenly
 * spread, kinds in turn, or a random share. */
static int pick_bad(opts_t *o, long i, int confluent)
{
    int bad = -1;
    if (o->malformed_count > 0) {
        long before = i * o->malformed_count / o->n, after = (i + 1) * o->malformed_count / o->n;
        if (after > before)
            bad = (int)(before % BAD__N);
    } else if (gs_rng_unit(&o->rng) < o->malformed) {
        bad = (int)(gs_rng_next(&o->rng) % BAD__N);
    }
    if ((bad == BAD_SCHEMA_ID || bad == BAD_MAGIC) && !confluent)
        bad = BAD_TRUNCATED; /* needs a header to be wrong */
    return bad;
}

/* Spoils an encoded request as malformation `bad` asks. */
static void spoil(opts_t *o, int bad, gs_buf_t *buf, size_t hdr)
{
    switch (bad) {
    case BAD_RANDOM: /* header intact, Avro body random */
        for (size_t k = hdr; k < buf->len; k++)
            buf->data[k] = (uint8_t)gs_rng_next(&o->rng);
        break;
    case BAD_TRUNCATED:
        buf->len = hdr + (buf->len - hdr) / 2;
        break;
    case BAD_MAGIC:
        buf->data[0] = (uint8_t)(1 + gs_rng_next(&o->rng) % 255);
        break;
    case BAD_SCHEMA_ID:
        gs_frame_header(buf->data, 999000 + (int32_t)(gs_rng_next(&o->rng) % 1000));
        break;
    case BAD_OVERSIZE: /* larger than the worker takes, whatever the bytes are */
        while (buf->len < (size_t)o->oversize_bytes)
            if (gs_avro_put_raw(buf, "oversize", 8))
                die("%s", "out of memory");
        break;
    default:
        break;
    }
}

/* Request i: the kind's generator or line i of --from. */
static void make_request(opts_t *o, json_t *script, long i, void *req, gs_arena_t *a)
{
    char err[256];
    const gs_kind_load_t *l = o->kind->load;
    if (script) {
        if (l->from_json(json_array_get(script, (size_t)i), req, a, err, sizeof(err)))
            die("--from: %s", err);
        return;
    }
    gs_load_params_t p = {o->run_id, o->sessions, o->tenants, o->moral_given};
    l->generate(&p, i, &o->rng, req, a);
}

static void send_one(rd_kafka_t *rk, rd_kafka_topic_t *rkt, gs_str_t key, const gs_buf_t *buf)
{
    for (;;) {
        rd_kafka_resp_err_t e =
            rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY(key.p, key.len),
                              RD_KAFKA_V_VALUE(buf->data, buf->len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (!e)
            break;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            die("produce: %s", rd_kafka_err2str(e));
        rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
}

static void produce_summary(const opts_t *o, long valid, long failed, double secs,
                            const long *bad_counts)
{
    json_t *out = json_pack("{s:s,s:s,s:I,s:I,s:I,s:f,s:f}", "run_id", o->run_id, "topic", o->topic,
                            "produced", (json_int_t)o->n, "valid", (json_int_t)valid,
                            "delivery_failures", (json_int_t)failed, "seconds", secs, "rate",
                            secs > 0 ? (double)o->n / secs : 0.0);
    json_t *bm = json_object(), *cls = json_object();
    long bad_total = 0;
    for (int b = 0; b < BAD__N; b++) {
        json_object_set_new(bm, bad_names[b], json_integer(bad_counts[b]));
        json_object_set_new(
            cls, bad_class[b],
            json_integer(json_integer_value(json_object_get(cls, bad_class[b])) + bad_counts[b]));
        bad_total += bad_counts[b];
    }
    json_object_set_new(bm, "total", json_integer(bad_total));
    json_object_set_new(out, "malformed", bm);
    json_object_set_new(out, "expected_deadletters", cls);
    char *s = json_dumps(out, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(out);
}

static int cmd_produce(opts_t *o)
{
    json_t *script = o->from ? load_script(o) : NULL;
    if (script)
        o->n = (long)json_array_size(script);
    if (!o->topic || !o->n)
        die("%s", "produce needs -t TOPIC and -n N (or --from FILE)");
    char err[512];
    int confluent = !strcmp(o->framing, "confluent");
    int32_t schema_id;
    gs_avro_schema_t *writer = writer_schema(o, &schema_id);
    const gs_avro_type_t *type = o->kind->request;
    int ours = !o->writer_schema;
    long failed = 0, bad_counts[BAD__N] = {0}, valid = 0;
    rd_kafka_t *rk = client(o, RD_KAFKA_PRODUCER, on_dr, &failed);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    /* connected before the first record: its CreateTime must not count the
     * client's own start (a long-lived producer has none) */
    const struct rd_kafka_metadata *md;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
    gs_buf_t buf = {0};
    gs_arena_t arena = {0};
    void *req = calloc(1, type->node->size);
    if (!req)
        die("%s", "out of memory");
    int64_t t0 = gs_now_us();
    for (long i = 0; i < o->n; i++) {
        gs_arena_reset(&arena);
        make_request(o, script, i, req, &arena);
        int bad = pick_bad(o, i, confluent);
        if (bad == BAD_INVALID)
            o->kind->load->invalidate(req);
        if (ours ? type->encode(req, schema_id, &buf, err, sizeof(err))
                 : gs_avro_encode_as(type, req, writer, schema_id, &buf, err, sizeof(err)))
            die("encode: %s", err);
        spoil(o, bad, &buf, schema_id >= 0 ? GS_CONFLUENT_HEADER : 0);
        if (bad >= 0)
            bad_counts[bad]++;
        else
            valid++;
        send_one(rk, rkt, field_str(type->node, req, o->kind->key_field), &buf);
        if (o->rate > 0) { /* pace to the target rate */
            int64_t due = t0 + (int64_t)((double)(i + 1) * 1e6 / (double)o->rate);
            int64_t now = gs_now_us();
            if (due > now)
                usleep((useconds_t)(due - now));
        }
    }
    rd_kafka_flush(rk, 60000);
    produce_summary(o, valid, failed, (double)(gs_now_us() - t0) / 1e6, bad_counts);
    free(req);
    gs_arena_free(&arena);
    gs_buf_free(&buf);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    gs_avro_schema_destroy(writer);
    json_decref(script);
    return failed ? 1 : 0;
}

/* ---- verify ------------------------------------------------------------ */

typedef struct seen {
    char **ids;
    size_t n, cap;
} seen_t;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void assign_all(rd_kafka_t *rk, const char *const *topics, size_t n_topics)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (size_t t = 0; t < n_topics; t++) {
        const struct rd_kafka_metadata *md;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topics[t], NULL);
        if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 || md->topics[0].err)
            die("no metadata for topic %s", topics[t]);
        for (int p = 0; p < md->topics[0].partition_cnt; p++)
            rd_kafka_topic_partition_list_add(l, topics[t], md->topics[0].partitions[p].id)
                ->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
    }
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

static void count(json_t *map, gs_str_t key)
{
    char *k = strndup(key.p, key.len);
    json_object_set_new(map, k, json_integer(json_integer_value(json_object_get(map, k)) + 1));
    free(k);
}

static int prefix_of(const void *p, size_t len, const char *run_id)
{
    size_t rl = strlen(run_id);
    return p && len > rl && !memcmp(p, run_id, rl) && ((const char *)p)[rl] == '-';
}

/* What verify adds up. */
typedef struct tally {
    seen_t seen;
    long dl_by_class[GS_ERR__COUNT], dl_total, accepted, bad_results;
    json_t *workers, *notes, *tenants, *dl_kinds;
    int64_t first_ms, last_ms;
    FILE *dl_dump; /* --dump-deadletters, or NULL */
} tally_t;

static void add_seen(tally_t *t, gs_str_t id)
{
    if (t->seen.n == t->seen.cap) {
        t->seen.cap = t->seen.cap ? t->seen.cap * 2 : 1024;
        if (gs_grow(&t->seen.ids, t->seen.cap, sizeof(char *)))
            die("%s", "out of memory");
    }
    t->seen.ids[t->seen.n++] = strndup(id.p, id.len);
}

/* The JSON line of a result: the kind's, plus where it came from. */
static void dump_result(FILE *fp, const gs_kind_ops_t *k, const void *res,
                        const rd_kafka_message_t *m)
{
    json_t *j = k->load->dump(res);
    json_object_set_new(j, "partition", json_integer(m->partition));
    json_object_set_new(j, "offset", json_integer(m->offset));
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    fprintf(fp, "%s\n", s);
    free(s);
    json_decref(j);
}

static void tally_result(tally_t *t, const opts_t *o, const void *res, FILE *dump,
                         const rd_kafka_message_t *m)
{
    const gs_avro_node_t *node = o->kind->result->node;
    const bool *accepted = field_at(node, res, "accepted", &gs_avro_node_boolean);
    const int64_t *at = field_at(node, res, "processed_at_ms", &gs_avro_node_long);
    add_seen(t, field_str(node, res, "request_id"));
    t->accepted += accepted && *accepted;
    count(t->notes, field_str(node, res, "note"));
    count(t->workers, field_str(node, res, "worker_id"));
    count(t->tenants, field_str(node, res, "tenant"));
    if (o->show > 0 && (long)t->seen.n <= o->show)
        dump_result(stderr, o->kind, res, m); /* stdout carries the summary */
    if (dump)
        dump_result(dump, o->kind, res, m);
    if (at) {
        t->first_ms = *at < t->first_ms ? *at : t->first_ms;
        t->last_ms = *at > t->last_ms ? *at : t->last_ms;
    }
}

/* Decodes one record of this run: a result, or a dead letter; 0 when it
 * is not one of this run's. */
/* A dead letter's line for --dump-deadletters: what a test checks (the
 * error names the field), not the original bytes. */
static void dump_deadletter(FILE *fp, const gs_avro_dead_letter_t *dl, const rd_kafka_message_t *m)
{
    static const char *const classes[] = {"DECODE", "SCHEMA", "VALIDATION", "TOO_LARGE",
                                          "INTERNAL"};
    json_t *j = json_pack("{s:s#,s:s,s:s#,s:s#}", "kind", dl->kind.p, dl->kind.len, "error_class",
                          classes[dl->error_class % 5], "error_message", dl->error_message.p,
                          dl->error_message.len, "key", m->key ? (const char *)m->key : "",
                          m->key ? m->key_len : 0);
    char *s = json_dumps(j, JSON_COMPACT);
    fprintf(fp, "%s\n", s);
    free(s);
    json_decref(j);
}

static int take(tally_t *t, const opts_t *o, rd_kafka_message_t *m, void *res, gs_arena_t *a,
                FILE *dump)
{
    if (!prefix_of(m->key, m->key_len, o->run_id))
        return 0;
    int is_result = !strcmp(rd_kafka_topic_name(m->rkt), o->results);
    char err[512];
    int32_t sid;
    const uint8_t *payload;
    size_t plen;
    gs_avro_dead_letter_t dl;
    gs_arena_reset(a);
    if (gs_frame_parse(m->payload, m->len,
                       strcmp(o->framing, "confluent") ? GS_FRAMING_RAW : GS_FRAMING_CONFLUENT,
                       &sid, &payload, &plen, err, sizeof(err)) ||
        (is_result ? o->kind->result->decode(payload, plen, a, res, err, sizeof(err))
                   : gs_avro_dead_letter_decode(payload, plen, a, &dl, err, sizeof(err)))) {
        t->bad_results++;
        return 1;
    }
    if (is_result) {
        tally_result(t, o, res, dump, m);
    } else {
        t->dl_by_class[GS_ERR_DECODE + dl.error_class]++;
        t->dl_total++;
        if (t->dl_dump)
            dump_deadletter(t->dl_dump, &dl, m);
        count(t->dl_kinds, dl.kind);
    }
    return 1;
}

static json_t *verify_summary(tally_t *t, const opts_t *o, long *unique)
{
    if (t->seen.n)
        qsort(t->seen.ids, t->seen.n, sizeof(char *), cmp_str);
    long dups = 0;
    *unique = 0;
    for (size_t i = 0; i < t->seen.n; i++) {
        if (i && !strcmp(t->seen.ids[i], t->seen.ids[i - 1]))
            dups++;
        else
            (*unique)++;
    }
    double span = t->last_ms > t->first_ms ? (double)(t->last_ms - t->first_ms) / 1000.0 : 0.0;
    json_t *out = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:f,s:f}", "run_id", o->run_id, "results",
                            (json_int_t)t->seen.n, "unique", (json_int_t)*unique, "duplicates",
                            (json_int_t)dups, "accepted", (json_int_t)t->accepted, "undecodable",
                            (json_int_t)t->bad_results, "processing_span_s", span, "throughput_rps",
                            span > 0 ? (double)t->seen.n / span : 0.0);
    if (o->expect_results >= 0)
        json_object_set_new(
            out, "missing",
            json_integer(o->expect_results - *unique > 0 ? o->expect_results - *unique : 0));
    json_t *dlj = json_object();
    for (int e = GS_ERR_DECODE; e <= GS_ERR_INTERNAL; e++)
        json_object_set_new(dlj, gs_err_name((gs_err_t)e), json_integer(t->dl_by_class[e]));
    json_object_set_new(dlj, "total", json_integer(t->dl_total));
    json_object_set_new(out, "deadletters", dlj);
    json_object_set_new(out, "workers", t->workers);
    json_object_set_new(out, "tenants", t->tenants);
    json_object_set_new(out, "notes", t->notes);
    json_object_set_new(out, "deadletter_kinds", t->dl_kinds);
    return out;
}

static int cmd_verify(opts_t *o)
{
    rd_kafka_t *rk = client(o, RD_KAFKA_CONSUMER, NULL, NULL);
    const char *topics[2] = {o->results, o->deadletter};
    assign_all(rk, topics, 2);
    FILE *dump = o->dump ? fopen(o->dump, "w") : NULL;
    if (o->dump && !dump)
        die("cannot write %s", o->dump);
    tally_t t = {.workers = json_object(),
                 .notes = json_object(),
                 .tenants = json_object(),
                 .dl_kinds = json_object(),
                 .first_ms = INT64_MAX};
    if (o->dump_deadletters && !(t.dl_dump = fopen(o->dump_deadletters, "w")))
        die("cannot write %s", o->dump_deadletters);
    gs_arena_t arena = {0};
    void *res = calloc(1, o->kind->result->node->size);
    int64_t deadline = gs_now_us() + (int64_t)(o->timeout_s * 1e6);
    while (gs_now_us() < deadline) {
        if ((long)t.seen.n >= o->expect_results && t.dl_total >= o->expect_deadletters &&
            o->expect_results >= 0) {
            /* linger a moment so that late duplicates are counted too */
            int64_t settle = gs_now_us() + 1000000;
            if (settle < deadline)
                deadline = settle;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err)
            take(&t, o, m, res, &arena, dump);
        rd_kafka_message_destroy(m);
    }
    if (dump)
        fclose(dump);
    if (t.dl_dump)
        fclose(t.dl_dump);
    long unique;
    json_t *out = verify_summary(&t, o, &unique);
    char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    printf("%s\n", s);
    free(s);
    json_decref(out);
    int ok = (o->expect_results < 0 || unique == o->expect_results) &&
             (o->expect_deadletters < 0 || t.dl_total == o->expect_deadletters) && !t.bad_results;
    for (size_t i = 0; i < t.seen.n; i++)
        free(t.seen.ids[i]);
    free(t.seen.ids);
    free(res);
    gs_arena_free(&arena);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return ok ? 0 : 1;
}

/* ---- rate -------------------------------------------------------------- */

/* Rate of a topic's records from their CreateTime stamps: (count - 1) over
 * the span from first to last. Measures any producer the same way. */
static int cmd_rate(opts_t *o)
{
    if (!o->topic || o->expect_results <= 0)
        die("%s", "rate needs -t TOPIC and --expect-results N");
    rd_kafka_t *rk = client(o, RD_KAFKA_CONSUMER, NULL, NULL);
    const char *topics[1] = {o->topic};
    assign_all(rk, topics, 1);
    long n = 0, counted = 0; /* all records; those written from --since-ms on */
    int64_t first = INT64_MAX, last = 0, deadline = gs_now_us() + (int64_t)(o->timeout_s * 1e6);
    while (n < o->expect_results && gs_now_us() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err) {
            rd_kafka_timestamp_type_t tt;
            int64_t ts = rd_kafka_message_timestamp(m, &tt);
            if (ts >= o->since_ms) {
                first = ts < first ? ts : first;
                last = ts > last ? ts : last;
                counted++;
            }
            n++;
        }
        rd_kafka_message_destroy(m);
    }
    double span = last > first ? (double)(last - first) / 1000.0 : 0.0;
    printf("{\"topic\":\"%s\",\"records\":%ld,\"span_s\":%.3f,\"rate\":%.0f}\n", o->topic, counted,
           span, span > 0 ? (double)(counted - 1) / span : 0.0);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n == o->expect_results ? 0 : 1;
}

/* ---- latency ----------------------------------------------------------- */

#define LAT_MAX_PARTITIONS 256

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Latency histogram bins, in ms (the last: everything above). */
static const int64_t lat_bins[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};
#define N_LAT_BINS (sizeof(lat_bins) / sizeof(lat_bins[0]) + 1)

static json_t *percentiles(const int64_t *sorted, size_t n, double sum)
{
#define PCT(q) (json_int_t)(n ? sorted[(size_t)((double)(n - 1) * (q))] : 0)
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:f}", "p50", PCT(0.5), "p90", PCT(0.9), "p99",
                     PCT(0.99), "p999", PCT(0.999), "max", PCT(1.0), "mean",
                     n ? sum / (double)n : 0.0);
#undef PCT
}

/* The p99 of the m values at v[idx[0..m)] (scratch: m slots). */
static int64_t p99_of(const int64_t *v, const size_t *idx, size_t m, int64_t *scratch)
{
    for (size_t i = 0; i < m; i++)
        scratch[i] = v[idx[i]];
    qsort(scratch, m, sizeof(*scratch), cmp_i64);
    return m ? scratch[(size_t)((double)(m - 1) * 0.99)] : 0;
}

/* Per second of CreateTime (from the first request's): count, p50, p99,
 * max, and the p99 of the worker's share (request CreateTime to the
 * result's: consume, process, produce call); shows whether a tail comes
 * from a start-up, a stall or the whole run, and from the worker or the
 * way to the consumer. Parallel arrays, in ms. */
static json_t *latency_timeline(const int64_t *lat, const int64_t *worker, const int64_t *created,
                                size_t n)
{
    json_t *out = json_array();
    int64_t t0 = INT64_MAX, t1 = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        t0 = created[i] < t0 ? created[i] : t0;
        t1 = created[i] > t1 ? created[i] : t1;
    }
    int64_t *bucket = malloc((n + 1) * sizeof(*bucket));
    size_t *idx = malloc((n + 1) * sizeof(*idx));
    if (!bucket || !idx)
        die("%s", "out of memory");
    for (int64_t sec = 0; n && t0 + sec * 1000 <= t1; sec++) {
        size_t m = 0;
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            if ((created[i] - t0) / 1000 == sec) {
                idx[m++] = i;
                sum += (double)lat[i];
            }
        int64_t worker_p99 = p99_of(worker, idx, m, bucket);
        for (size_t i = 0; i < m; i++)
            bucket[i] = lat[idx[i]];
        qsort(bucket, m, sizeof(*bucket), cmp_i64);
        json_t *p = percentiles(bucket, m, sum);
        json_object_set_new(p, "second", json_integer(sec));
        json_object_set_new(p, "n", json_integer((json_int_t)m));
        json_object_set_new(p, "worker_p99", json_integer(worker_p99));
        json_array_append_new(out, p);
    }
    free(bucket);
    free(idx);
    return out;
}

/* Percentiles of n values, copied (the input keeps its order). */
static json_t *percentiles_of(const int64_t *v, size_t n)
{
    int64_t *sorted = malloc((n + 1) * sizeof(*sorted));
    if (!sorted)
        die("%s", "out of memory");
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)(sorted[i] = v[i]);
    qsort(sorted, n, sizeof(*sorted), cmp_i64);
    json_t *p = percentiles(sorted, n, sum);
    free(sorted);
    return p;
}

/* The report of n latencies (ms), the worker's share of each and their
 * requests' CreateTime: overall percentiles (of both), a histogram and
 * the timeline. */
static json_t *latency_report(const int64_t *lat, const int64_t *worker, const int64_t *created,
                              size_t n)
{
    size_t counts[N_LAT_BINS] = {0};
    for (size_t i = 0; i < n; i++) {
        size_t b = 0;
        while (b < N_LAT_BINS - 1 && lat[i] > lat_bins[b])
            b++;
        counts[b]++;
    }
    json_t *hist = json_array();
    for (size_t b = 0; b < N_LAT_BINS; b++)
        json_array_append_new(hist, json_pack("{s:I,s:I}", "above_ms",
                                              (json_int_t)(b ? lat_bins[b - 1] : 0), "n",
                                              (json_int_t)counts[b]));
    return json_pack("{s:I,s:o,s:o,s:o,s:o}", "matched", (json_int_t)n, "latency_ms",
                     percentiles_of(lat, n), "worker_ms", percentiles_of(worker, n), "histogram",
                     hist, "timeline", latency_timeline(lat, worker, created, n));
}

static gs_err_t draw_histogram(FILE *fp, void *ctx, char *errstr, size_t en)
{
    json_t *hist = json_object_get(ctx, "histogram");
    double total = (double)json_integer_value(json_object_get(ctx, "matched")), values[N_LAT_BINS];
    char labels[N_LAT_BINS][32];
    const char *cats[N_LAT_BINS], *series[] = {"share of results"};
    for (size_t b = 0; b < N_LAT_BINS; b++) {
        json_t *e = json_array_get(hist, b);
        values[b] = total > 0 ? (double)json_integer_value(json_object_get(e, "n")) / total : 0;
        if (b + 1 < N_LAT_BINS)
            snprintf(labels[b], sizeof(labels[b]), "<= %lld ms", (long long)lat_bins[b]);
        else
            snprintf(labels[b], sizeof(labels[b]), "> %lld ms", (long long)lat_bins[b - 1]);
        cats[b] = labels[b];
    }
    gs_svg_bars_t bars = {.title = "Latency, producer timestamp to result visible",
                          .axis = "share of results",
                          .categories = cats,
                          .n_categories = N_LAT_BINS,
                          .series = series,
                          .n_series = 1,
                          .values = values,
                          .max = 1,
                          .value_format = "%.4f"};
    return gs_svg_bars_write(fp, &bars, errstr, en);
}

#define MAX_TIMELINE 120 /* seconds drawn */

static gs_err_t draw_timeline(FILE *fp, void *ctx, char *errstr, size_t en)
{
    json_t *tl = json_object_get(ctx, "timeline");
    size_t n = json_array_size(tl) < MAX_TIMELINE ? json_array_size(tl) : MAX_TIMELINE;
    char labels[MAX_TIMELINE][16];
    const char *cats[MAX_TIMELINE], *series[] = {"p50", "p99", "max"};
    double values[MAX_TIMELINE * 3];
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(tl, i);
        snprintf(labels[i], sizeof(labels[i]), "%zu s", i);
        cats[i] = labels[i];
        values[3 * i] = (double)json_integer_value(json_object_get(e, "p50"));
        values[3 * i + 1] = (double)json_integer_value(json_object_get(e, "p99"));
        values[3 * i + 2] = (double)json_integer_value(json_object_get(e, "max"));
    }
    gs_svg_bars_t bars = {.title = "Latency by second of the run (requests' CreateTime)",
                          .axis = "ms",
                          .categories = cats,
                          .n_categories = n,
                          .series = series,
                          .n_series = 3,
                          .values = values,
                          .value_format = "%.0f"};
    return gs_svg_bars_write(fp, &bars, errstr, en);
}

static gs_err_t write_latency_pictures(const char *prefix, const char *json_text, json_t *rep,
                                       char *errstr, size_t en)
{
    static const gs_svg_page_t pages[] = {{"-histogram.svg", draw_histogram},
                                          {"-timeline.svg", draw_timeline}};
    return gs_svg_report_write(prefix, json_text, pages, 2, rep, errstr, en);
}

/* Producer timestamp -> result visible (SPEC 8). Results are consumed as
 * they arrive, each stamped with the wall clock when poll returns it and
 * its source partition and offset; then the requests topic is read for
 * each source record's CreateTime (the producer's clock: same machine).
 * Start it before producing. */
static int cmd_latency(opts_t *o)
{
    if (!o->topic || o->expect_results <= 0)
        die("%s", "latency needs -t REQUESTS, --results TOPIC and --expect-results N");
    char err[512];
    const gs_avro_type_t *type = o->kind->result;
    void *res = calloc(1, type->node->size);
    gs_arena_t arena = {0};
    size_t n_res = (size_t)o->expect_results, got = 0;
    int32_t *part = malloc(n_res * sizeof(*part));
    int64_t *off = malloc(n_res * sizeof(*off)), *arrival = malloc(n_res * sizeof(*arrival));
    int64_t *produced = malloc(n_res * sizeof(*produced)); /* the results' CreateTime */
    if (!part || !off || !arrival || !produced)
        die("%s", "out of memory");

    rd_kafka_t *rk = client(o, RD_KAFKA_CONSUMER, NULL, NULL);
    const char *results[1] = {o->results};
    assign_all(rk, results, 1);
    int64_t deadline = gs_now_us() + (int64_t)(o->timeout_s * 1e6);
    while (got < n_res && gs_now_us() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        int64_t now = gs_wall_ms();
        const gs_avro_source_t *src;
        gs_arena_reset(&arena);
        if (!m->err && !type->decode(m->payload, m->len, &arena, res, err, sizeof(err)) &&
            (src = field_at(type->node, res, "source", &gs_avro_node_source))) {
            part[got] = src->partition;
            off[got] = src->offset;
            produced[got] = rd_kafka_message_timestamp(m, NULL);
            arrival[got++] = now;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    /* the requests' CreateTime by partition and offset */
    int64_t *ts[LAT_MAX_PARTITIONS] = {0};
    size_t ts_len[LAT_MAX_PARTITIONS] = {0}, need = 0, have = 0;
    for (size_t i = 0; i < got; i++) {
        if (part[i] < 0 || part[i] >= LAT_MAX_PARTITIONS || off[i] < 0)
            die("%s", "a result names a source partition out of range");
        size_t len = (size_t)off[i] + 1;
        if (len > ts_len[part[i]]) {
            int64_t *nt = realloc(ts[part[i]], len * sizeof(int64_t));
            if (!nt)
                die("%s", "out of memory");
            for (size_t j = ts_len[part[i]]; j < len; j++)
                nt[j] = -1;
            need += len - ts_len[part[i]];
            ts[part[i]] = nt;
            ts_len[part[i]] = len;
        }
    }
    rk = client(o, RD_KAFKA_CONSUMER, NULL, NULL);
    const char *requests[1] = {o->topic};
    assign_all(rk, requests, 1);
    deadline = gs_now_us() + 60000000;
    while (have < need && gs_now_us() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err && m->partition < LAT_MAX_PARTITIONS && m->offset >= 0 &&
            (size_t)m->offset < ts_len[m->partition] && ts[m->partition][m->offset] < 0) {
            ts[m->partition][m->offset] = rd_kafka_message_timestamp(m, NULL);
            have++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    size_t n = 0, unmatched = 0;
    int64_t *created = malloc((got + 1) * sizeof(*created));
    if (!created)
        die("%s", "out of memory");
    for (size_t i = 0; i < got; i++) {
        int64_t t = ts[part[i]][off[i]];
        unmatched += t < 0;
        if (t >= 0 && t >= o->since_ms) { /* --since-ms: the warm-up's results left out */
            created[n] = t;
            produced[n] = produced[i] - t; /* reuse: the worker's share */
            arrival[n++] = arrival[i] - t; /* reuse: latency in ms */
        }
    }
    json_t *rep = latency_report(arrival, produced, created, n);
    json_object_set_new(rep, "results", json_integer((json_int_t)got));
    char *text = json_dumps(rep, JSON_COMPACT);
    if (!text)
        die("%s", "out of memory");
    printf("%s\n", text);
    if (o->report && write_latency_pictures(o->report, text, rep, err, sizeof(err)))
        die("%s", err);
    free(text);
    json_decref(rep);
    free(created);
    for (int p = 0; p < LAT_MAX_PARTITIONS; p++)
        free(ts[p]);
    free(part);
    free(off);
    free(arrival);
    free(produced);
    free(res);
    gs_arena_free(&arena);
    return got == n_res && !unmatched ? 0 : 1;
}

/* ---- topics ------------------------------------------------------------ */

static int cmd_topics(opts_t *o)
{
    if (!o->create)
        die("%s", "topics needs --create T1,T2,...");
    rd_kafka_t *rk = client(o, RD_KAFKA_PRODUCER, NULL, NULL);
    char *list = strdup(o->create), *save = NULL;
    rd_kafka_NewTopic_t *nt[64];
    size_t n = 0;
    char err[512];
    for (char *t = strtok_r(list, ",", &save); t && n < 64; t = strtok_r(NULL, ",", &save)) {
        nt[n] = rd_kafka_NewTopic_new(t, (int)o->partitions, (int)o->replication, err, sizeof(err));
        if (!nt[n])
            die("%s", err);
        n++;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, nt, n, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = 0;
    if (!ev) {
        fprintf(stderr, "govstream-load: CreateTopics timed out\n");
        rc = 1;
    } else {
        size_t cnt;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
            if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                fprintf(stderr, "govstream-load: %s: %s\n", rd_kafka_topic_result_name(res[i]),
                        rd_kafka_topic_result_error_string(res[i]));
                rc = 1;
            } else if (!o->quiet) {
                printf("%s %s\n", rd_kafka_topic_result_name(res[i]), e ? "exists" : "created");
            }
        }
        rd_kafka_event_destroy(ev);
    }
    for (size_t i = 0; i < n; i++)
        rd_kafka_NewTopic_destroy(nt[i]);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    free(list);
    return rc;
}

static void usage(const gs_kind_ops_t *const *kinds)
{
    fprintf(stderr, "kinds:");
    for (size_t i = 0; kinds[i]; i++)
        fprintf(stderr, " %s", kinds[i]->name);
    fprintf(stderr,
            "\nusage: govstream-load produce -b BOOTSTRAP -t TOPIC -n N [--kind KIND] [--rate R]\n"
            "           [--run-id ID]\n"
            "           [--framing raw|confluent] [--registry URL] [--writer-schema FILE]\n"
            "           [--malformed FRACTION | --malformed-count M] [--oversize-bytes N]\n"
            "           [--sessions S]\n"
            "           [--tenants T] [--moral-given FRACTION] [--seed N] [--from FILE.jsonl]\n"
            "           [--linger-ms MS]\n"
            "       govstream-load verify -b BOOTSTRAP --run-id ID [--kind KIND] --results TOPIC\n"
            "           --deadletter TOPIC [--framing raw|confluent] [--expect-results N]\n"
            "           [--expect-deadletters N] [--timeout SECONDS] [--show N]\n"
            "           [--dump FILE.jsonl] [--dump-deadletters FILE.jsonl]\n"
            "       govstream-load rate -b BOOTSTRAP -t TOPIC --expect-results N [--timeout S]\n"
            "           [--since-ms T]\n"
            "       govstream-load latency -b BOOTSTRAP -t REQUESTS --results TOPIC [--kind KIND]\n"
            "           --expect-results N [--timeout S] [--report PREFIX] [--since-ms T]\n"
            "       govstream-load topics -b BOOTSTRAP --create T1,T2 [--partitions P]\n"
            "           [--replication R]\n");
}

/* ---- options: one table, kcat-style flat flags ---------------------------- */

typedef enum { O_STR, O_LONG, O_POSITIVE, O_DOUBLE, O_FLAG } opt_type_t;

typedef struct optdef {
    const char *name;
    int val; /* getopt's value: a letter, also the short flag where there is one */
    opt_type_t type;
    size_t off; /* of the field in opts_t */
} optdef_t;

#define OPT(name, val, type, field)                                                                \
    {                                                                                              \
        name, val, type, offsetof(opts_t, field)                                                   \
    }
static const optdef_t optdefs[] = {
    OPT("bootstrap", 'b', O_STR, bootstrap),
    OPT("topic", 't', O_STR, topic),
    OPT("count", 'n', O_LONG, n),
    OPT("rate", 'r', O_LONG, rate),
    OPT("run-id", 'i', O_STR, run_id),
    OPT("framing", 'f', O_STR, framing),
    OPT("registry", 'R', O_STR, registry),
    OPT("writer-schema", 'w', O_STR, writer_schema),
    OPT("malformed", 'm', O_DOUBLE, malformed),
    OPT("oversize-bytes", 'O', O_LONG, oversize_bytes),
    OPT("malformed-count", 'C', O_LONG, malformed_count),
    OPT("show", 'H', O_LONG, show),
    OPT("from", 'F', O_STR, from),
    OPT("dump", 'U', O_STR, dump),
    OPT("dump-deadletters", 'X', O_STR, dump_deadletters),
    OPT("sessions", 's', O_POSITIVE, sessions),
    OPT("tenants", 'T', O_POSITIVE, tenants),
    OPT("moral-given", 'M', O_DOUBLE, moral_given),
    OPT("seed", 'S', O_LONG, seed),
    OPT("results", 'x', O_STR, results),
    OPT("deadletter", 'd', O_STR, deadletter),
    OPT("expect-results", 'E', O_LONG, expect_results),
    OPT("expect-deadletters", 'D', O_LONG, expect_deadletters),
    OPT("timeout", 'W', O_DOUBLE, timeout_s),
    OPT("create", 'c', O_STR, create),
    OPT("partitions", 'p', O_LONG, partitions),
    OPT("replication", 'P', O_LONG, replication),
    OPT("quiet", 'q', O_FLAG, quiet),
    OPT("linger-ms", 'L', O_STR, linger_ms),
    OPT("kind", 'K', O_STR, kind_name),
    OPT("report", 'Y', O_STR, report),
    OPT("since-ms", 'Z', O_LONG, since_ms),
};
#define N_OPTS (sizeof(optdefs) / sizeof(optdefs[0]))

static void set_opt(opts_t *o, const optdef_t *d, const char *arg)
{
    void *field = (char *)o + d->off; /* a field of the type d->type says */
    long l = d->type == O_POSITIVE && atol(arg) < 1 ? 1 : (arg ? atol(arg) : 0);
    double x = arg ? atof(arg) : 0;
    int one = 1;
    switch (d->type) {
    case O_STR:
        memcpy(field, &arg, sizeof(arg));
        break;
    case O_LONG:
    case O_POSITIVE:
        memcpy(field, &l, sizeof(l));
        break;
    case O_DOUBLE:
        memcpy(field, &x, sizeof(x));
        break;
    case O_FLAG:
        memcpy(field, &one, sizeof(one));
        break;
    }
}

/* 0, or -1 for an unknown option. */
static int parse_opts(int argc, char **argv, opts_t *o)
{
    struct option lo[N_OPTS + 1];
    for (size_t i = 0; i < N_OPTS; i++)
        lo[i] = (struct option){optdefs[i].name, optdefs[i].type != O_FLAG, 0, optdefs[i].val};
    lo[N_OPTS] = (struct option){0, 0, 0, 0};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "b:t:n:r:i:f:q", lo, NULL)) != -1) {
        size_t i = 0;
        while (i < N_OPTS && optdefs[i].val != c)
            i++;
        if (i == N_OPTS)
            return -1;
        set_opt(o, &optdefs[i], optarg);
    }
    return 0;
}

int gs_load_main(int argc, char **argv, const gs_kind_ops_t *const *kinds)
{
    if (argc < 2) {
        usage(kinds);
        return 2;
    }
    opts_t o = {.bootstrap = "127.0.0.1:9092",
                .run_id = "run",
                .framing = "raw",
                .deadletter = "govstream.deadletter",
                .linger_ms = "5",
                .sessions = 100,
                .tenants = 4,
                .seed = 1,
                .oversize_bytes = 70000,
                .partitions = 6,
                .replication = 1,
                .moral_given = 0.5,
                .timeout_s = 60,
                .expect_results = -1,
                .expect_deadletters = -1};
    if (parse_opts(argc, argv, &o)) {
        usage(kinds);
        return 2;
    }
    const char *kind = o.kind_name;
    o.kind = kind ? gs_kinds_find(kinds, kind) : kinds[0];
    if (!o.kind || !o.kind->load) {
        fprintf(stderr, "govstream-load: no kind \"%s\" with a generator\n", kind);
        usage(kinds);
        return 2;
    }
    char results[300];
    snprintf(results, sizeof(results), "govstream.%s.results", o.kind->name);
    if (!o.results)
        o.results = results;
    gs_rng_seed(&o.rng, (uint64_t)o.seed);
    if (!strcmp(argv[1], "produce"))
        return cmd_produce(&o);
    if (!strcmp(argv[1], "verify"))
        return cmd_verify(&o);
    if (!strcmp(argv[1], "topics"))
        return cmd_topics(&o);
    if (!strcmp(argv[1], "rate"))
        return cmd_rate(&o);
    if (!strcmp(argv[1], "latency"))
        return cmd_latency(&o);
    usage(kinds);
    return 2;
}
