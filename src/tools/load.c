/* govstream-load - load generator and result verifier.
 *
 *   govstream-load produce -b BOOTSTRAP -t TOPIC -n N [options]
 *   govstream-load verify  -b BOOTSTRAP --run-id ID [options]
 *   govstream-load topics  -b BOOTSTRAP --create T1,T2 [--partitions P] [--replication R]
 *
 * Requests are synthetic dialogue windows built from a fixed phrase list
 * (deterministic per --seed); every key and request id starts with the run
 * id so that verify can tell this run's results and dead letters apart. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "govstream/deadletter.h"
#include "govstream/dialogue.h"
#include "govstream/registry.h"

enum { BAD_RANDOM, BAD_TRUNCATED, BAD_MAGIC, BAD_SCHEMA_ID, BAD_NAN, BAD_OVERSIZE, BAD__N };
static const char *const bad_names[BAD__N] = {
    "random", "truncated", "wrong_magic", "unknown_schema_id", "nan_moral_value", "oversize"};
static const char *const bad_class[BAD__N] = {"DECODE", "DECODE",     "DECODE",
                                              "SCHEMA", "VALIDATION", "TOO_LARGE"};

typedef struct opts {
    const char *bootstrap, *topic, *run_id, *registry, *writer_schema, *framing, *from, *dump;
    const char *results, *deadletter, *create, *linger_ms;
    long n, rate, sessions, tenants, seed, oversize_bytes, partitions, replication;
    long malformed_count, show;
    double malformed, moral_given;
    double timeout_s;
    long expect_results, expect_deadletters;
    int quiet;
} opts_t;

static uint64_t rng_state;
static uint64_t rnd(void) /* xorshift64*: deterministic per --seed */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}
static double rnd01(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

static const char *const phrases[] = {"hello there",
                                      "can you help me plan a trip",
                                      "thanks for the support",
                                      "what is the weather like",
                                      "i want to learn about peace and trust",
                                      "tell me a story",
                                      "the meeting was fair and honest",
                                      "please protect my data",
                                      "how do i fix this bug",
                                      "i hate waiting in line",
                                      "that movie had too much violence",
                                      "let us collaborate on it",
                                      "we should respect the rules",
                                      "is it safe to swim here",
                                      "that was kind of you",
                                      "the game lets you attack and destroy the base",
                                      "good morning",
                                      "see you tomorrow"};
#define N_PHRASES (sizeof(phrases) / sizeof(phrases[0]))

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
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk)
        die("kafka: %s", err);
    return rk;
}

/* ---- produce ----------------------------------------------------------- */

static void make_request(const opts_t *o, long i, gs_dialogue_request_t *r, char *rid, char *sid,
                         char *tenant, char turns[][256])
{
    snprintf(rid, 160, "%s-%ld", o->run_id, i);
    snprintf(sid, 160, "%s-s%ld", o->run_id, (long)(rnd() % (uint64_t)o->sessions));
    snprintf(tenant, 64, "tenant-%ld", (long)(rnd() % (uint64_t)o->tenants));
    memset(r, 0, sizeof(*r));
    r->request_id = (gs_str_t){rid, strlen(rid)};
    r->session_id = (gs_str_t){sid, strlen(sid)};
    r->tenant = (gs_str_t){tenant, strlen(tenant)};
    r->op = (gs_dialogue_op_t)(rnd() % 3);
    r->n_turns = 1 + rnd() % 4;
    for (size_t t = 0; t < r->n_turns; t++) {
        snprintf(turns[t], 256, "%s", phrases[rnd() % N_PHRASES]);
        r->turns[t] = (gs_str_t){turns[t], strlen(turns[t])};
    }
    r->top_k = 5;
    r->max_tokens = 32;
    r->context_top_k = 5;
    r->has_moral_value = rnd01() < o->moral_given;
    r->moral_value = rnd01();
    r->created_at_ms = (int64_t)time(NULL) * 1000;
}

/* One request from a JSON object of a --from file; strings stay owned by
 * the JSON document. */
static void request_from_json(json_t *j, gs_dialogue_request_t *r)
{
    static const char *const ops[] = {"NEXT_TOKEN", "TOP_K", "GENERATE"};
    memset(r, 0, sizeof(*r));
#define JSTR(field, dst, def)                                                                      \
    do {                                                                                           \
        json_t *v_ = json_object_get(j, field);                                                    \
        (dst).p = json_is_string(v_) ? json_string_value(v_) : (def);                              \
        (dst).len = json_is_string(v_) ? json_string_length(v_) : strlen(def);                     \
    } while (0)
    JSTR("request_id", r->request_id, "");
    JSTR("session_id", r->session_id, "");
    JSTR("tenant", r->tenant, "default");
#undef JSTR
    const char *op = json_string_value(json_object_get(j, "op"));
    r->op = GS_OP_TOP_K;
    for (int i = 0; op && i < 3; i++)
        if (!strcmp(op, ops[i]))
            r->op = (gs_dialogue_op_t)i;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(j, "turns"), i, t)
    {
        if (r->n_turns < GS_DIALOGUE_MAX_TURNS && json_is_string(t))
            r->turns[r->n_turns++] = (gs_str_t){json_string_value(t), json_string_length(t)};
    }
    json_t *v = json_object_get(j, "top_k");
    r->top_k = json_is_integer(v) ? (int32_t)json_integer_value(v) : 5;
    v = json_object_get(j, "max_tokens");
    r->max_tokens = json_is_integer(v) ? (int32_t)json_integer_value(v) : 32;
    v = json_object_get(j, "context_top_k");
    r->context_top_k = json_is_integer(v) ? (int32_t)json_integer_value(v) : 5;
    v = json_object_get(j, "moral_value");
    r->has_moral_value = json_is_number(v);
    r->moral_value = json_is_number(v) ? json_number_value(v) : 0;
    r->created_at_ms = (int64_t)time(NULL) * 1000;
}

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

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    long *failed = opaque;
    if (m->err) {
        (*failed)++;
        fprintf(stderr, "govstream-load: delivery failed: %s\n", rd_kafka_err2str(m->err));
    }
}

static int cmd_produce(opts_t *o)
{
    json_t *script = o->from ? load_requests(o->from) : NULL;
    if (script)
        o->n = (long)json_array_size(script);
    if (!o->topic || !o->n)
        die("%s", "produce needs -t TOPIC and -n N (or --from FILE)");
    char err[512];
    int confluent = !strcmp(o->framing, "confluent");
    gs_avro_schema_t *writer = NULL;
    if (o->writer_schema) {
        char *text;
        size_t len;
        if (gs_read_file(o->writer_schema, &text, &len, err, sizeof(err)) ||
            gs_avro_schema_parse(text, len, &writer, err, sizeof(err)))
            die("writer schema: %s", err);
        free(text);
    } else if (gs_avro_schema_load("DialogueRequest", &writer, err, sizeof(err))) {
        die("%s", err);
    }
    int32_t schema_id = -1;
    if (confluent) {
        if (!o->registry)
            die("%s", "--framing confluent needs --registry URL");
        gs_registry_conf_t rc = {o->registry, NULL, NULL, NULL, 2000, 5000, 3, 200, 2000, 0};
        gs_registry_t *reg;
        char subject[300];
        snprintf(subject, sizeof(subject), "%s-value", o->topic);
        if (gs_registry_new(&rc, &reg, err, sizeof(err)) ||
            gs_registry_register(reg, subject, gs_avro_schema_json(writer), &schema_id, err,
                                 sizeof(err)))
            die("registry: %s", err);
        gs_registry_destroy(reg);
    }

    long failed = 0;
    rd_kafka_t *rk = client(o, RD_KAFKA_PRODUCER, on_dr, &failed);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);

    long bad_counts[BAD__N] = {0}, valid = 0;
    gs_buf_t buf = {0};
    char *big = NULL;
    int64_t t0 = gs_now_us();
    for (long i = 0; i < o->n; i++) {
        char rid[160], sid[160], tenant[64], turns[GS_DIALOGUE_MAX_TURNS][256];
        gs_dialogue_request_t r;
        if (script)
            request_from_json(json_array_get(script, (size_t)i), &r);
        else
            make_request(o, i, &r, rid, sid, tenant, turns);
        int bad = -1;
        if (o->malformed_count > 0) { /* exactly M, evenly spread, kinds in turn */
            long before = i * o->malformed_count / o->n,
                 after = (i + 1) * o->malformed_count / o->n;
            if (after > before)
                bad = (int)(before % BAD__N);
        } else if (rnd01() < o->malformed) {
            bad = (int)(rnd() % BAD__N);
        }
        if (bad == BAD_NAN)
            r.has_moral_value = 1, r.moral_value = NAN;
        if (bad == BAD_OVERSIZE) {
            char *nb = realloc(big, (size_t)o->oversize_bytes + 1);
            if (!nb)
                die("%s", "out of memory");
            big = nb;
            for (long k = 0; k < o->oversize_bytes; k++)
                big[k] = (char)('a' + k % 26);
            big[o->oversize_bytes] = '\0';
            r.turns[0] = (gs_str_t){big, (size_t)o->oversize_bytes};
            r.n_turns = 1;
        }
        if ((bad == BAD_SCHEMA_ID || bad == BAD_MAGIC) && !confluent)
            bad = BAD_TRUNCATED; /* needs a header to be wrong */
        if (gs_dialogue_request_encode(&r, writer, schema_id, &buf, err, sizeof(err)))
            die("encode: %s", err);
        size_t hdr = schema_id >= 0 ? GS_CONFLUENT_HEADER : 0;
        switch (bad) {
        case BAD_RANDOM: /* header intact, Avro body random */
            for (size_t k = hdr; k < buf.len; k++)
                buf.data[k] = (uint8_t)rnd();
            break;
        case BAD_TRUNCATED:
            buf.len = hdr + (buf.len - hdr) / 2;
            break;
        case BAD_MAGIC:
            buf.data[0] = (uint8_t)(1 + rnd() % 255);
            break;
        case BAD_SCHEMA_ID:
            gs_frame_header(buf.data, 999000 + (int32_t)(rnd() % 1000));
            break;
        default:
            break;
        }
        if (bad >= 0)
            bad_counts[bad]++;
        else
            valid++;
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY(r.session_id.p, r.session_id.len),
                RD_KAFKA_V_VALUE(buf.data, buf.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_END);
            if (!e)
                break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                die("produce: %s", rd_kafka_err2str(e));
            rd_kafka_poll(rk, 10);
        }
        rd_kafka_poll(rk, 0);
        if (o->rate > 0) { /* pace to the target rate */
            int64_t due = t0 + (int64_t)((double)(i + 1) * 1e6 / (double)o->rate);
            int64_t now = gs_now_us();
            if (due > now)
                usleep((useconds_t)(due - now));
        }
    }
    rd_kafka_flush(rk, 60000);
    double secs = (double)(gs_now_us() - t0) / 1e6;
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
    free(big);
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

/* Field getters for decoded records; a missing or mistyped field reads as
 * the zero value (the record already passed the schema check). */
static const char *field_str(avro_value_t *v, const char *name)
{
    avro_value_t f;
    const char *s = NULL;
    size_t sz = 0;
    if (avro_value_get_by_name(v, name, &f, NULL) || avro_value_get_string(&f, &s, &sz) || !s)
        return "";
    return s;
}

static int64_t field_long(avro_value_t *v, const char *name)
{
    avro_value_t f;
    int64_t l = 0;
    if (avro_value_get_by_name(v, name, &f, NULL) || avro_value_get_long(&f, &l))
        return 0;
    return l;
}

static int32_t field_int(avro_value_t *v, const char *name)
{
    avro_value_t f;
    int32_t i = 0;
    if (avro_value_get_by_name(v, name, &f, NULL) || avro_value_get_int(&f, &i))
        return 0;
    return i;
}

static double field_double(avro_value_t *v, const char *name)
{
    avro_value_t f;
    double d = 0;
    if (avro_value_get_by_name(v, name, &f, NULL) || avro_value_get_double(&f, &d))
        return 0;
    return d;
}

static int field_bool(avro_value_t *v, const char *name)
{
    avro_value_t f;
    int b = 0;
    if (avro_value_get_by_name(v, name, &f, NULL) || avro_value_get_boolean(&f, &b))
        return 0;
    return b;
}

static const char *field_enum(avro_value_t *v, const char *name)
{
    avro_value_t f;
    int i = 0;
    if (avro_value_get_by_name(v, name, &f, NULL) || avro_value_get_enum(&f, &i))
        return "";
    const char *sym = avro_schema_enum_get(avro_value_get_schema(&f), i);
    return sym ? sym : "";
}

/* Every result field a test may check, one JSON line per result, in the
 * order consumed (per partition that is the order processed). */
static void dump_result(FILE *fp, avro_value_t *v, const rd_kafka_message_t *m)
{
    json_t *j = json_pack(
        "{s:s,s:s,s:s,s:b,s:s,s:s,s:I,s:f,s:f,s:I,s:s,s:i,s:I}", "request_id",
        field_str(v, "request_id"), "session_id", field_str(v, "session_id"), "tenant",
        field_str(v, "tenant"), "accepted", field_bool(v, "accepted"), "note", field_str(v, "note"),
        "phase", field_enum(v, "phase"), "step", (json_int_t)field_long(v, "step"),
        "moral_threshold", field_double(v, "moral_threshold"), "moral_value",
        field_double(v, "moral_value"), "context_items", (json_int_t)field_int(v, "context_items"),
        "worker_id", field_str(v, "worker_id"), "partition", (int)m->partition, "offset",
        (json_int_t)m->offset);
    avro_value_t f, item, sub;
    json_t *preds = json_array();
    size_t np = 0;
    if (!avro_value_get_by_name(v, "predictions", &f, NULL) && !avro_value_get_size(&f, &np))
        for (size_t i = 0; i < np; i++)
            if (!avro_value_get_by_index(&f, i, &item, NULL))
                json_array_append_new(preds, json_pack("[s,f]", field_str(&item, "token"),
                                                       field_double(&item, "probability")));
    json_object_set_new(j, "predictions", preds);
    int branch = 0;
    const char *text = NULL;
    size_t sz;
    if (!avro_value_get_by_name(v, "text", &f, NULL) && !avro_value_get_discriminant(&f, &branch) &&
        branch == 1 && !avro_value_get_current_branch(&f, &sub) &&
        !avro_value_get_string(&sub, &text, &sz))
        json_object_set_new(j, "text", json_string(text));
    else
        json_object_set_new(j, "text", json_null());
    if (!avro_value_get_by_name(v, "model", &f, NULL))
        json_object_set_new(j, "model",
                            json_pack("{s:s,s:s,s:s}", "name", field_str(&f, "name"), "version",
                                      field_str(&f, "version"), "sha256", field_str(&f, "sha256")));
    if (!avro_value_get_by_name(v, "timings", &f, NULL))
        json_object_set_new(j, "timings",
                            json_pack("{s:I,s:I,s:I,s:I}", "decode_us",
                                      (json_int_t)field_long(&f, "decode_us"), "govern_us",
                                      (json_int_t)field_long(&f, "govern_us"), "infer_us",
                                      (json_int_t)field_long(&f, "infer_us"), "total_us",
                                      (json_int_t)field_long(&f, "total_us")));
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    fprintf(fp, "%s\n", s);
    free(s);
    json_decref(j);
}

static void count(json_t *map, const char *key)
{
    json_object_set_new(map, key, json_integer(json_integer_value(json_object_get(map, key)) + 1));
}

static int prefix_of(const void *p, size_t len, const char *run_id)
{
    size_t rl = strlen(run_id);
    return p && len > rl && !memcmp(p, run_id, rl) && ((const char *)p)[rl] == '-';
}

static int cmd_verify(opts_t *o)
{
    char err[512];
    int confluent = !strcmp(o->framing, "confluent");
    gs_dialogue_codec_t *dc;
    gs_deadletter_codec_t *dlc;
    if (gs_dialogue_codec_new(&dc, err, sizeof(err)) ||
        gs_deadletter_codec_new(&dlc, err, sizeof(err)))
        die("%s", err);
    avro_value_t res, dl;
    avro_generic_value_new(gs_avro_schema_iface(gs_dialogue_result_schema(dc)), &res);
    avro_generic_value_new(gs_avro_schema_iface(gs_deadletter_schema(dlc)), &dl);

    rd_kafka_t *rk = client(o, RD_KAFKA_CONSUMER, NULL, NULL);
    const char *topics[2] = {o->results, o->deadletter};
    assign_all(rk, topics, 2);

    seen_t seen = {0};
    FILE *dump = o->dump ? fopen(o->dump, "w") : NULL;
    if (o->dump && !dump)
        die("cannot write %s", o->dump);
    long dl_by_class[GS_ERR__COUNT] = {0}, dl_total = 0, accepted = 0, bad_results = 0;
    json_t *workers = json_object(), *notes = json_object(), *tenants = json_object();
    int64_t first_ms = INT64_MAX, last_ms = 0;
    int64_t deadline = gs_now_us() + (int64_t)(o->timeout_s * 1e6);
    while (gs_now_us() < deadline) {
        if ((long)seen.n >= o->expect_results && dl_total >= o->expect_deadletters &&
            o->expect_results >= 0) {
            /* linger a moment so that late duplicates are counted too */
            int64_t settle = gs_now_us() + 1000000;
            if (settle < deadline)
                deadline = settle;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        int is_result = !strcmp(rd_kafka_topic_name(m->rkt), o->results);
        int32_t sid;
        const uint8_t *payload;
        size_t plen;
        gs_avro_schema_t *schema =
            is_result ? gs_dialogue_result_schema(dc) : gs_deadletter_schema(dlc);
        avro_value_t *v = is_result ? &res : &dl;
        if (!prefix_of(m->key, m->key_len, o->run_id) ||
            gs_frame_parse(m->payload, m->len, confluent ? GS_FRAMING_CONFLUENT : GS_FRAMING_RAW,
                           &sid, &payload, &plen, err, sizeof(err)) ||
            gs_avro_check(schema, payload, plen, err, sizeof(err)) ||
            gs_avro_decode(payload, plen, schema, schema, v, err, sizeof(err))) {
            if (prefix_of(m->key, m->key_len, o->run_id))
                bad_results++;
            rd_kafka_message_destroy(m);
            continue;
        }
        if (is_result) {
            if (seen.n == seen.cap) {
                seen.cap = seen.cap ? seen.cap * 2 : 1024;
                char **ni = realloc(seen.ids, seen.cap * sizeof(char *));
                if (!ni)
                    die("%s", "out of memory");
                seen.ids = ni;
            }
            seen.ids[seen.n++] = strdup(field_str(v, "request_id"));
            accepted += field_bool(v, "accepted");
            count(notes, field_str(v, "note"));
            count(workers, field_str(v, "worker_id"));
            count(tenants, field_str(v, "tenant"));
            if (o->show > 0 && (long)seen.n <= o->show)
                dump_result(stderr, v, m); /* stdout carries the summary */
            if (dump)
                dump_result(dump, v, m);
            int64_t t = field_long(v, "processed_at_ms");
            first_ms = t < first_ms ? t : first_ms;
            last_ms = t > last_ms ? t : last_ms;
        } else {
            const char *name = field_enum(v, "error_class");
            for (int e = GS_ERR_DECODE; e <= GS_ERR_INTERNAL; e++)
                if (!strcmp(name, gs_err_name((gs_err_t)e)))
                    dl_by_class[e]++;
            dl_total++;
        }
        rd_kafka_message_destroy(m);
    }
    if (dump)
        fclose(dump);
    if (seen.n)
        qsort(seen.ids, seen.n, sizeof(char *), cmp_str);
    long unique = 0, dups = 0;
    for (size_t i = 0; i < seen.n; i++) {
        if (i && !strcmp(seen.ids[i], seen.ids[i - 1]))
            dups++;
        else
            unique++;
    }
    double span = last_ms > first_ms ? (double)(last_ms - first_ms) / 1000.0 : 0.0;
    json_t *out = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:f,s:f}", "run_id", o->run_id, "results",
                            (json_int_t)seen.n, "unique", (json_int_t)unique, "duplicates",
                            (json_int_t)dups, "accepted", (json_int_t)accepted, "undecodable",
                            (json_int_t)bad_results, "processing_span_s", span, "throughput_rps",
                            span > 0 ? (double)seen.n / span : 0.0);
    if (o->expect_results >= 0)
        json_object_set_new(
            out, "missing",
            json_integer(o->expect_results - unique > 0 ? o->expect_results - unique : 0));
    json_t *dlj = json_object();
    for (int e = GS_ERR_DECODE; e <= GS_ERR_INTERNAL; e++)
        json_object_set_new(dlj, gs_err_name((gs_err_t)e), json_integer(dl_by_class[e]));
    json_object_set_new(dlj, "total", json_integer(dl_total));
    json_object_set_new(out, "deadletters", dlj);
    json_object_set_new(out, "workers", workers);
    json_object_set_new(out, "tenants", tenants);
    json_object_set_new(out, "notes", notes);
    char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    printf("%s\n", s);
    free(s);
    json_decref(out);
    int ok = (o->expect_results < 0 || unique == o->expect_results) &&
             (o->expect_deadletters < 0 || dl_total == o->expect_deadletters) && !bad_results;
    for (size_t i = 0; i < seen.n; i++)
        free(seen.ids[i]);
    free(seen.ids);
    avro_value_decref(&res);
    avro_value_decref(&dl);
    gs_dialogue_codec_destroy(dc);
    gs_deadletter_codec_destroy(dlc);
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
    long n = 0;
    int64_t first = INT64_MAX, last = 0, deadline = gs_now_us() + (int64_t)(o->timeout_s * 1e6);
    while (n < o->expect_results && gs_now_us() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (!m->err) {
            rd_kafka_timestamp_type_t tt;
            int64_t ts = rd_kafka_message_timestamp(m, &tt);
            first = ts < first ? ts : first;
            last = ts > last ? ts : last;
            n++;
        }
        rd_kafka_message_destroy(m);
    }
    double span = last > first ? (double)(last - first) / 1000.0 : 0.0;
    printf("{\"topic\":\"%s\",\"records\":%ld,\"span_s\":%.3f,\"rate\":%.0f}\n", o->topic, n, span,
           span > 0 ? (double)(n - 1) / span : 0.0);
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
    gs_dialogue_codec_t *dc;
    if (gs_dialogue_codec_new(&dc, err, sizeof(err)))
        die("%s", err);
    gs_avro_schema_t *schema = gs_dialogue_result_schema(dc);
    avro_value_t res;
    avro_generic_value_new(gs_avro_schema_iface(schema), &res);
    size_t n_res = (size_t)o->expect_results, got = 0;
    int32_t *part = malloc(n_res * sizeof(*part));
    int64_t *off = malloc(n_res * sizeof(*off)), *arrival = malloc(n_res * sizeof(*arrival));
    if (!part || !off || !arrival)
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
        int32_t sid;
        const uint8_t *payload;
        size_t plen;
        avro_value_t src;
        if (!m->err &&
            !gs_frame_parse(m->payload, m->len, GS_FRAMING_RAW, &sid, &payload, &plen, err,
                            sizeof(err)) &&
            !gs_avro_decode(payload, plen, schema, schema, &res, err, sizeof(err)) &&
            !avro_value_get_by_name(&res, "source", &src, NULL)) {
            part[got] = field_int(&src, "partition");
            off[got] = field_long(&src, "offset");
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

    size_t n = 0;
    double sum = 0;
    for (size_t i = 0; i < got; i++) {
        int64_t t = ts[part[i]][off[i]];
        if (t >= 0) {
            arrival[n] = arrival[i] - t; /* reuse: latency in ms */
            sum += (double)arrival[n++];
        }
    }
    qsort(arrival, n, sizeof(int64_t), cmp_i64);
#define PCT(q) (n ? arrival[(size_t)((double)(n - 1) * (q))] : 0)
    printf("{\"results\":%zu,\"matched\":%zu,\"latency_ms\":{\"p50\":%lld,\"p90\":%lld,"
           "\"p99\":%lld,\"p999\":%lld,\"max\":%lld,\"mean\":%.2f}}\n",
           got, n, (long long)PCT(0.5), (long long)PCT(0.9), (long long)PCT(0.99),
           (long long)PCT(0.999), (long long)PCT(1.0), n ? sum / (double)n : 0.0);
#undef PCT
    for (int p = 0; p < LAT_MAX_PARTITIONS; p++)
        free(ts[p]);
    free(part);
    free(off);
    free(arrival);
    avro_value_decref(&res);
    gs_dialogue_codec_destroy(dc);
    return got == n_res && n == got ? 0 : 1;
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

static void usage(void)
{
    fprintf(stderr,
            "usage: govstream-load produce -b BOOTSTRAP -t TOPIC -n N [--rate R] [--run-id ID]\n"
            "           [--framing raw|confluent] [--registry URL] [--writer-schema FILE]\n"
            "           [--malformed FRACTION | --malformed-count M] [--oversize-bytes N]\n"
            "           [--sessions S]\n"
            "           [--tenants T] [--moral-given FRACTION] [--seed N] [--from FILE.jsonl]\n"
            "           [--linger-ms MS]\n"
            "       govstream-load verify -b BOOTSTRAP --run-id ID --results TOPIC\n"
            "           --deadletter TOPIC [--framing raw|confluent] [--expect-results N]\n"
            "           [--expect-deadletters N] [--timeout SECONDS] [--show N]\n"
            "           [--dump FILE.jsonl]\n"
            "       govstream-load rate -b BOOTSTRAP -t TOPIC --expect-results N [--timeout S]\n"
            "       govstream-load latency -b BOOTSTRAP -t REQUESTS --results TOPIC\n"
            "           --expect-results N [--timeout S]\n"
            "       govstream-load topics -b BOOTSTRAP --create T1,T2 [--partitions P]\n"
            "           [--replication R]\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    opts_t o = {.bootstrap = "127.0.0.1:9092",
                .run_id = "run",
                .framing = "raw",
                .results = "govstream.dialogue.results",
                .deadletter = "govstream.deadletter",
                .linger_ms = "5",
                .n = 0,
                .rate = 0,
                .sessions = 100,
                .tenants = 4,
                .seed = 1,
                .oversize_bytes = 70000,
                .partitions = 6,
                .replication = 1,
                .malformed = 0,
                .moral_given = 0.5,
                .timeout_s = 60,
                .expect_results = -1,
                .expect_deadletters = -1};
    static const struct option lo[] = {{"bootstrap", 1, 0, 'b'},
                                       {"topic", 1, 0, 't'},
                                       {"count", 1, 0, 'n'},
                                       {"rate", 1, 0, 'r'},
                                       {"run-id", 1, 0, 'i'},
                                       {"framing", 1, 0, 'f'},
                                       {"registry", 1, 0, 'R'},
                                       {"writer-schema", 1, 0, 'w'},
                                       {"malformed", 1, 0, 'm'},
                                       {"oversize-bytes", 1, 0, 'O'},
                                       {"malformed-count", 1, 0, 'C'},
                                       {"show", 1, 0, 'H'},
                                       {"from", 1, 0, 'F'},
                                       {"dump", 1, 0, 'U'},
                                       {"sessions", 1, 0, 's'},
                                       {"tenants", 1, 0, 'T'},
                                       {"moral-given", 1, 0, 'M'},
                                       {"seed", 1, 0, 'S'},
                                       {"results", 1, 0, 'x'},
                                       {"deadletter", 1, 0, 'd'},
                                       {"expect-results", 1, 0, 'E'},
                                       {"expect-deadletters", 1, 0, 'D'},
                                       {"timeout", 1, 0, 'W'},
                                       {"create", 1, 0, 'c'},
                                       {"partitions", 1, 0, 'p'},
                                       {"replication", 1, 0, 'P'},
                                       {"quiet", 0, 0, 'q'},
                                       {"linger-ms", 1, 0, 'L'},
                                       {0, 0, 0, 0}};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "b:t:n:r:i:f:q", lo, NULL)) != -1) {
        switch (c) {
        case 'b':
            o.bootstrap = optarg;
            break;
        case 't':
            o.topic = optarg;
            break;
        case 'n':
            o.n = atol(optarg);
            break;
        case 'r':
            o.rate = atol(optarg);
            break;
        case 'i':
            o.run_id = optarg;
            break;
        case 'f':
            o.framing = optarg;
            break;
        case 'R':
            o.registry = optarg;
            break;
        case 'w':
            o.writer_schema = optarg;
            break;
        case 'm':
            o.malformed = atof(optarg);
            break;
        case 'O':
            o.oversize_bytes = atol(optarg);
            break;
        case 'C':
            o.malformed_count = atol(optarg);
            break;
        case 'H':
            o.show = atol(optarg);
            break;
        case 'F':
            o.from = optarg;
            break;
        case 'U':
            o.dump = optarg;
            break;
        case 's':
            o.sessions = atol(optarg) > 0 ? atol(optarg) : 1;
            break;
        case 'T':
            o.tenants = atol(optarg) > 0 ? atol(optarg) : 1;
            break;
        case 'M':
            o.moral_given = atof(optarg);
            break;
        case 'S':
            o.seed = atol(optarg);
            break;
        case 'x':
            o.results = optarg;
            break;
        case 'd':
            o.deadletter = optarg;
            break;
        case 'E':
            o.expect_results = atol(optarg);
            break;
        case 'D':
            o.expect_deadletters = atol(optarg);
            break;
        case 'W':
            o.timeout_s = atof(optarg);
            break;
        case 'c':
            o.create = optarg;
            break;
        case 'p':
            o.partitions = atol(optarg);
            break;
        case 'P':
            o.replication = atol(optarg);
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'L':
            o.linger_ms = optarg;
            break;
        default:
            usage();
            return 2;
        }
    }
    rng_state = (uint64_t)o.seed * 0x9E3779B97F4A7C15ull + 1;
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
    usage();
    return 2;
}
