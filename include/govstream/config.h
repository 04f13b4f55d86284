/* govstream - configuration (libconfig file + command-line overrides).
 *
 * Every key lives in one table (src/config/config.c) with its type, default,
 * bounds and documentation; config/govstream.cfg documents the same keys and
 * a test keeps the two in step. Keys under kafka / kafka_consumer /
 * kafka_producer pass through to librdkafka unchanged (see gs_config_kv_t). */
#ifndef GOVSTREAM_CONFIG_H
#define GOVSTREAM_CONFIG_H

#include <stdio.h>

#include "govstream/common.h"

typedef enum { GS_FRAMING_RAW = 0, GS_FRAMING_CONFLUENT = 1 } gs_framing_t;
typedef enum { GS_SCOPE_TENANT = 0, GS_SCOPE_SESSION = 1 } gs_scope_by_t;
typedef enum { GS_SLEEP_DEGRADE = 0, GS_SLEEP_REJECT = 1 } gs_sleep_policy_t;
typedef enum { GS_LOG_DEBUG = 0, GS_LOG_INFO, GS_LOG_WARN, GS_LOG_ERROR } gs_log_level_t;

/* One librdkafka property: name as librdkafka spells it, value as a string,
 * and where it came from (for error messages). */
typedef struct gs_config_kv {
    char *name;
    char *value;
    int line;   /* 0: command line */
    int secret; /* value came from an *_env / *_file indirection */
} gs_config_kv_t;

typedef struct gs_config_kvlist {
    gs_config_kv_t *items;
    size_t count;
} gs_config_kvlist_t;

/* One request kind's stream settings. */
typedef struct gs_config_kind {
    int enabled;
    char *requests_topic;
    char *results_topic;
    int input_framing;  /* gs_framing_t */
    int output_framing; /* gs_framing_t */
} gs_config_kind_t;

/* One alert rule (alerts.rules in the file; SPEC 5). Checked for syntax
 * here; metric names are resolved by the alert module. */
typedef struct gs_alert_rule_conf {
    char *name;      /* alertname */
    char *metric;    /* selector: name or name{label="value",...} */
    char *over;      /* ratio: the denominator's selector */
    int aggregation; /* gs_alert_agg_t */
    double quantile; /* quantile: 0 < q <= 1 */
    int window_ms;   /* rate, ratio, quantile: look-back */
    int op;          /* gs_alert_op_t */
    double threshold;
    int for_ms; /* condition must hold this long before firing */
    char *severity;
    gs_config_kvlist_t labels, annotations;
    int line;
} gs_alert_rule_conf_t;

typedef enum {
    GS_AGG_VALUE, /* sum over the matched series */
    GS_AGG_MAX,
    GS_AGG_MIN,
    GS_AGG_RATE,  /* per second over the window (counters) */
    GS_AGG_RATIO, /* rate(metric) / rate(over) */
    GS_AGG_QUANTILE,
    GS_AGG__COUNT
} gs_alert_agg_t;
typedef enum {
    GS_OP_GT,
    GS_OP_GE,
    GS_OP_LT,
    GS_OP_LE,
    GS_OP_EQ,
    GS_OP_NE,
    GS_OP__COUNT
} gs_alert_op_t;
extern const char *const gs_alert_agg_names[];
extern const char *const gs_alert_op_names[];

typedef struct gs_config {
    char *path; /* file the configuration was read from ("" for defaults) */

    struct {
        char *id;
    } worker;
    struct {
        int level; /* gs_log_level_t */
    } log;
    struct {
        char *listen;
    } http;
    struct {
        char *url;
        int connect_timeout_ms;
        int timeout_ms;
        int retries;
        int backoff_ms;
        int backoff_max_ms;
        int negative_cache_ms;
        char *username;
        char *password_env;  /* name of the env var holding the password */
        char *password_file; /* or a file holding it */
        char *password;      /* resolved at load; never printed */
        char *ca_file;
    } registry;
    gs_config_kind_t dialogue;
    struct {
        char *topic;
        int framing; /* gs_framing_t */
        int max_value_bytes;
    } deadletter;
    struct {
        int max_request_bytes;
    } limits;
    struct {
        int max;
        int linger_us;
    } batch;
    struct {
        int max_inflight_per_partition;
        int queue_high_pct;
        int queue_low_pct;
        int retry_backoff_ms;
        int retry_backoff_max_ms;
        int flush_timeout_ms;
    } delivery;
    struct {
        int timeout_ms;
    } shutdown;
    struct {
        int scope; /* gs_scope_by_t */
        int max_scopes;
        int scope_idle_s;
        int memory_capacity;
        int max_memory_mb;
        int wake_steps;
        int sleep_steps;
        int sleep_policy; /* gs_sleep_policy_t */
        int sleep_max_tokens;
        char *harm_lexicon;
        char *care_lexicon;
    } governance;

    struct {
        char *dialogue;        /* model file, "" for none */
        int dialogue_sampling; /* 0 greedy, 1 top_k */
        int sampling_top_k;
    } models;

    struct {
        char *topic;
        int framing; /* gs_framing_t */
        int interval_ms;
        int lag_interval_ms;
    } metrics;
    struct {
        char *topic;
        int eval_interval_ms;
        int repeat_ms;
        struct {
            char *url;
            char *secret_env;
            char *secret_file;
            char *secret; /* resolved at load; never printed */
            int connect_timeout_ms;
            int timeout_ms;
            int retries;
            int backoff_ms;
            int backoff_max_ms;
            int queue_max;
        } webhook;
        struct {
            int enabled;
            int moral_pinned_steps;
            int deadletter_per_min;
            int lag_max;
            int p95_ms;
            int memory_pct;
            int for_ms;
        } events;
        gs_alert_rule_conf_t *rules;
        size_t n_rules;
    } alerts;

    gs_config_kvlist_t kafka;          /* both clients */
    gs_config_kvlist_t kafka_consumer; /* consumer only, applied after kafka */
    gs_config_kvlist_t kafka_producer; /* producer only, applied after kafka */
} gs_config_t;

/* Loads FILE (NULL: defaults only), then applies overrides of the form
 * "key=value" (e.g. "batch.max=64", "kafka.bootstrap.servers=h:9092").
 * Unknown keys, wrong types and out-of-range values are errors that name
 * the file, line and key. */
gs_err_t gs_config_load(const char *path, const char *const *overrides, size_t n_overrides,
                        gs_config_t **out, char *errstr, size_t errstr_size);
void gs_config_destroy(gs_config_t *cfg);

/* Writes every table key with its effective value, one "key = value" per
 * line (secrets masked). */
void gs_config_dump(const gs_config_t *cfg, FILE *fp);

/* Calls fn for every table key with its documentation; used to check that
 * config/govstream.cfg documents every key. */
typedef void(gs_config_key_fn)(const char *key, const char *default_value, const char *doc,
                               void *opaque);
void gs_config_keys(gs_config_key_fn *fn, void *opaque);

#endif
