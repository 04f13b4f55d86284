/* librdkafka configuration: govstream's defaults, the user's pass-through
 * properties, then the settings at-least-once delivery depends on. */
#include "govstream/kafka.h"

#include <stdio.h>
#include <string.h>

typedef struct kv {
    const char *name, *value;
} kv_t;

/* Defaults an operator may override. */
static const kv_t consumer_defaults[] = {
    {"bootstrap.servers", "127.0.0.1:9092"},
    {"client.id", "govstream"},
    {"group.id", "govstream"},
    {"auto.offset.reset", "earliest"},
    {"partition.assignment.strategy", "cooperative-sticky"},
    {"enable.auto.commit", "true"}, /* commits the offsets we store */
    {"auto.commit.interval.ms", "1000"},
    {"enable.partition.eof", "false"},
    {NULL, NULL}};

static const kv_t producer_defaults[] = {
    {"bootstrap.servers", "127.0.0.1:9092"},
    {"client.id", "govstream"},
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"linger.ms", "5"},
    /* Never give up on a record: during a broker outage the worker pauses
     * (backpressure) instead of losing results. */
    {"message.timeout.ms", "0"},
    {NULL, NULL}};

/* Owned by govstream (config.c refuses them from the user). */
static const kv_t consumer_forced[] = {{"enable.auto.offset.store", "false"}, {NULL, NULL}};

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
    if (!e && role == GS_KAFKA_CONSUMER) {
        for (const kv_t *d = consumer_forced; d->name; d++)
            rd_kafka_conf_set(conf, d->name, d->value, err, sizeof(err));
    }
    if (e) {
        rd_kafka_conf_destroy(conf);
        return e;
    }
    *out = conf;
    return GS_OK;
}
