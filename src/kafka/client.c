/* librdkafka configuration: govstream's defaults, the user's pass-through
 * properties, then the settings at-least-once delivery depends on. */
#include "govstream/kafka.h"

#include <stdio.h>
#include <string.h>

typedef struct kv {
    const char *name, *value, *why;
} kv_t;

/* Defaults an operator may override (docs/CONFIG.md lists them, from here). */
static const kv_t consumer_defaults[] = {
    {"bootstrap.servers", "127.0.0.1:9092", "the local broker from `ops/kafka/`"},
    {"client.id", "govstream", ""},
    {"group.id", "govstream", "all workers form one group"},
    {"auto.offset.reset", "earliest", "a new group processes the backlog"},
    {"partition.assignment.strategy", "cooperative-sticky",
     "incremental rebalances: other partitions keep flowing"},
    {"enable.auto.commit", "true", "commits the offsets govstream *stores*, see below"},
    {"auto.commit.interval.ms", "1000", ""},
    {"enable.partition.eof", "false", ""},
    {NULL, NULL, NULL}};

static const kv_t producer_defaults[] = {
    {"bootstrap.servers", "127.0.0.1:9092", "the local broker from `ops/kafka/`"},
    {"client.id", "govstream", ""},
    {"enable.idempotence", "true", "no duplicates from producer retries"},
    {"acks", "all", "with idempotence"},
    {"linger.ms", "5", "batching"},
    /* Never give up on a record: during a broker outage the worker pauses
     * (backpressure) instead of losing results. */
    {"message.timeout.ms", "0", "never: during an outage results wait; they are never dropped"},
    {NULL, NULL, NULL}};

/* Owned by govstream (config.c refuses them from the user). */
static const kv_t consumer_forced[] = {{"enable.auto.offset.store", "false", ""},
                                       {NULL, NULL, NULL}};
/* delivery.mode = exactly_once: offsets are committed by the producer's
 * transactions only, and only committed records are read (the inputs may
 * come from transactional producers too). */
static const kv_t consumer_eos[] = {{"enable.auto.commit", "false", ""},
                                    {"isolation.level", "read_committed", ""},
                                    {NULL, NULL, NULL}};

static rd_kafka_conf_res_t set_prop(rd_kafka_conf_t *conf, const char *name, const char *value,
                                    char *err, size_t n)
{
    rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, name, value, err, n);
    if (res == RD_KAFKA_CONF_UNKNOWN && strchr(name, '.')) {
        /* The file spells '.' as '_'; the few librdkafka names that really
         * contain '_' (log_level) are found by trying the other spelling. */
        char alt[256];
        snprintf(alt, sizeof(alt), "%s", name);
        for (char *p = alt; *p; p++)
            if (*p == '.')
                *p = '_';
        char err2[256];
        if (rd_kafka_conf_set(conf, alt, value, err2, sizeof(err2)) == RD_KAFKA_CONF_OK)
            return RD_KAFKA_CONF_OK;
    }
    return res;
}

static gs_err_t apply_list(rd_kafka_conf_t *conf, const gs_config_t *cfg, const char *group,
                           const gs_config_kvlist_t *list, char *errstr, size_t n)
{
    for (size_t i = 0; i < list->count; i++) {
        const gs_config_kv_t *kv = &list->items[i];
        char err[256];
        if (set_prop(conf, kv->name, kv->value, err, sizeof(err)) == RD_KAFKA_CONF_OK)
            continue;
        char where[512];
        if (kv->line)
            snprintf(where, sizeof(where), "%s:%d", cfg->path, kv->line);
        else
            snprintf(where, sizeof(where), "command line");
        /* librdkafka may quote the value; never echo a secret. */
        return gs_fail(errstr, n, GS_ERR_CONFIG, "%s: %s.%s: %s", where, group, kv->name,
                       kv->secret ? "invalid value (secret not shown)" : err);
    }
    return GS_OK;
}

static void set_all(rd_kafka_conf_t *conf, const kv_t *list)
{
    for (const kv_t *d = list; d->name; d++)
        rd_kafka_conf_set(conf, d->name, d->value, NULL, 0);
}

/* The transactional producer: its id is stable per worker (group and
 * worker.id), so a restarted worker fences its predecessor's producer and
 * aborts what that left open. A record may wait no longer than its
 * transaction may stay open. */
static gs_err_t set_transactional(rd_kafka_conf_t *conf, const gs_config_t *cfg, char *errstr,
                                  size_t n)
{
    rd_kafka_conf_t *cc;
    gs_err_t e = gs_kafka_conf_build(cfg, GS_KAFKA_CONSUMER, &cc, errstr, n);
    if (e)
        return e;
    char group[256], id[600], ms[16], err[256];
    size_t len = sizeof(group);
    if (rd_kafka_conf_get(cc, "group.id", group, &len) != RD_KAFKA_CONF_OK)
        snprintf(group, sizeof(group), "govstream");
    rd_kafka_conf_destroy(cc);
    snprintf(id, sizeof(id), "%s.%s", group, cfg->worker.id);
    snprintf(ms, sizeof(ms), "%d", cfg->delivery.transaction_timeout_ms);
    const kv_t eos[] = {{"transactional.id", id, ""},
                        {"transaction.timeout.ms", ms, ""},
                        {"message.timeout.ms", ms, ""},
                        {NULL, NULL, NULL}};
    for (const kv_t *d = eos; d->name; d++)
        if (rd_kafka_conf_set(conf, d->name, d->value, err, sizeof(err)) != RD_KAFKA_CONF_OK)
            return gs_fail(errstr, n, GS_ERR_CONFIG, "exactly_once: %s: %s", d->name, err);
    return GS_OK;
}

gs_err_t gs_kafka_conf_build(const gs_config_t *cfg, gs_kafka_role_t role, rd_kafka_conf_t **out,
                             char *errstr, size_t n)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    const kv_t *defs = role == GS_KAFKA_CONSUMER ? consumer_defaults : producer_defaults;
    for (const kv_t *d = defs; d->name; d++) {
        if (rd_kafka_conf_set(conf, d->name, d->value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return gs_fail(errstr, n, GS_ERR_INTERNAL, "default %s: %s", d->name, err);
        }
    }
    gs_err_t e = apply_list(conf, cfg, "kafka", &cfg->kafka, errstr, n);
    if (!e)
        e = role == GS_KAFKA_CONSUMER
                ? apply_list(conf, cfg, "kafka_consumer", &cfg->kafka_consumer, errstr, n)
                : apply_list(conf, cfg, "kafka_producer", &cfg->kafka_producer, errstr, n);
    int eos = cfg->delivery.mode == GS_DELIVERY_EXACTLY_ONCE;
    if (!e && role == GS_KAFKA_CONSUMER) {
        set_all(conf, consumer_forced);
        if (eos)
            set_all(conf, consumer_eos);
    }
    if (!e && role == GS_KAFKA_PRODUCER && eos)
        e = set_transactional(conf, cfg, errstr, n);
    if (e) {
        rd_kafka_conf_destroy(conf);
        return e;
    }
    *out = conf;
    return GS_OK;
}

/* ---- client creation and the callbacks both clients share ---------------- */

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    gs_kafka_base_t *b = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        b->state->brokers_down = 1;
    /* librdkafka 2.10 and later report all brokers down only once each
     * known broker was tried since the last success, which may be never
     * while nothing needs them: the loop asks instead */
    if (err == RD_KAFKA_RESP_ERR__TRANSPORT)
        b->state->transport = 1;
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION)
        b->state->auth_failed = 1;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[256];
        rd_kafka_fatal_error(rk, buf, sizeof(buf));
        gs_log_error(b->log, "fatal Kafka error", GS_LS("client", rd_kafka_name(rk)),
                     GS_LS("error", buf));
        b->state->fatal = 1;
        return;
    }
    gs_log_warn(b->log, "Kafka error", GS_LS("client", rd_kafka_name(rk)),
                GS_LS("error", rd_kafka_err2name((rd_kafka_resp_err_t)err)),
                GS_LS("reason", reason));
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    gs_kafka_base_t *b = rd_kafka_opaque(rk);
    gs_log_level_t lvl = level <= 3   ? GS_LOG_ERROR
                         : level <= 4 ? GS_LOG_WARN
                         : level <= 6 ? GS_LOG_INFO
                                      : GS_LOG_DEBUG;
    gs_log_write(b->log, lvl, "librdkafka",
                 (const gs_log_field_t[]){GS_LS("client", rd_kafka_name(rk)),
                                          GS_LS("facility", fac), GS_LS("detail", buf)},
                 3);
}

/* The build needs librdkafka 2.6.1 or later (CMakeLists.txt); a loader that
 * finds an older librdkafka.so.1 first would bring back what 2.6.1 fixed:
 * SCRAM refused by Kafka 4.0 and later whatever the password
 * (librdkafka#4895). Refused, not warned, so the supervisor sees why. */
#define GS_KAFKA_MIN_VERSION 0x02060100

gs_err_t gs_kafka_client_new(rd_kafka_conf_t *conf, gs_kafka_role_t role, gs_kafka_base_t *base,
                             rd_kafka_t **out, char *errstr, size_t n)
{
    if (rd_kafka_version() < GS_KAFKA_MIN_VERSION) {
        rd_kafka_conf_destroy(conf);
        return gs_fail(errstr, n, GS_ERR_KAFKA,
                       "librdkafka %s is loaded; govstream needs 2.6.1 or later",
                       rd_kafka_version_str());
    }
    rd_kafka_conf_set_opaque(conf, base);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
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

int gs_kafka_probe(rd_kafka_t *rk, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms))
        return 0;
    rd_kafka_metadata_destroy(md);
    return 1;
}

/* ---- docs/CONFIG.md ------------------------------------------------------- */

static const kv_t *find_kv(const kv_t *list, const char *name)
{
    for (; list->name; list++)
        if (!strcmp(list->name, name))
            return list;
    return NULL;
}

static void docs_rows(FILE *fp, const kv_t *list, const kv_t *other, const char *client)
{
    for (const kv_t *d = list; d->name; d++) {
        const kv_t *o = find_kv(other, d->name);
        int both = o && !strcmp(o->value, d->value);
        if (both && list != consumer_defaults)
            continue; /* listed once, with the consumer's */
        fprintf(fp, "| %s | `%s` | `%s` |%s%s |\n", both ? "both" : client, d->name, d->value,
                *d->why ? " " : "", d->why);
    }
}

void gs_kafka_docs(FILE *fp)
{
    fprintf(fp, "## librdkafka pass-through\n\n"
                "Keys under `kafka` go to both clients; keys under `kafka_consumer` and "
                "`kafka_producer` go to\none client and are applied after `kafka`. Values pass "
                "to `rd_kafka_conf_set()` unchanged, and\nlibrdkafka's own validation errors "
                "come back with the file and line.\n\n"
                "libconfig names cannot contain `.`, so in the file `_` stands for `.` "
                "(`bootstrap_servers` is\n`bootstrap.servers`). Nested groups also join with "
                "`.`\n(`ssl: { ca: { location = \"...\"; }; }`). The few librdkafka names that "
                "contain `_`\n(`log_level`) are found as well. On the command line either "
                "spelling works:\n`-o kafka.bootstrap.servers=h:9092`.\n\n"
                "govstream's defaults (overridable):\n\n"
                "| client | property | default | why |\n|---|---|---|---|\n");
    docs_rows(fp, consumer_defaults, producer_defaults, "consumer");
    docs_rows(fp, producer_defaults, consumer_defaults, "producer");
    fprintf(fp, "\n`enable.auto.offset.store` belongs to govstream and is always `false`. "
                "Offsets are stored only\nafter the broker acknowledged the result or dead "
                "letter for them (at-least-once). Setting it\nis an error.\n\n"
                "With `delivery.mode = \"exactly_once\"` govstream also sets: on the consumer "
                "`enable.auto.commit=false`\nand `isolation.level=read_committed`; on the "
                "producer `transactional.id=<group.id>.<worker.id>`\nand "
                "`transaction.timeout.ms` = `message.timeout.ms` = "
                "`delivery.transaction_timeout_ms`.\n`transactional.id` and "
                "`transaction.timeout.ms` belong to govstream in both modes. Metrics and\nalerts "
                "then go through a second producer without transactions.\n\n");
}
