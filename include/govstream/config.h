/* govstream - configuration (libconfig file + command-line overrides).
 *
 * Every key is a table entry with its type, default, bounds and
 * documentation: the core keys in src/config/keys.c, each request kind's in
 * its own section; config/govstream.cfg documents the same keys and a test
 * keeps the two in step. Keys under kafka / kafka_consumer /
 * kafka_producer pass through to librdkafka unchanged (see gs_config_kv_t). */
#ifndef GOVSTREAM_CONFIG_H
#define GOVSTREAM_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "govstream/common.h"

typedef enum { GS_FRAMING_RAW = 0, GS_FRAMING_CONFLUENT = 1 } gs_framing_t;
typedef enum { GS_SCOPE_TENANT = 0, GS_SCOPE_SESSION = 1 } gs_scope_by_t;
typedef enum { GS_DELIVERY_AT_LEAST_ONCE = 0, GS_DELIVERY_EXACTLY_ONCE = 1 } gs_delivery_mode_t;
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

/* The stream settings every request kind has (<kind>.enabled, ...): the
 * first member of each kind's configuration struct (govstream/kind.h). */
typedef struct gs_config_kind {
    int enabled;
    char *requests_topic;
    char *results_topic;
    int input_framing;  /* gs_framing_t */
    int output_framing; /* gs_framing_t */
    /* the kind's own limits.max_request_bytes (<kind>.max_request_bytes,
     * for kinds with large requests); 0: limits.max_request_bytes */
    int max_request_bytes;
} gs_config_kind_t;

/* ---- key tables ---------------------------------------------------------
 * Every key is one table entry: type, default, bounds and documentation;
 * the reader, the defaults, --dump, `govstream config docs` (which writes
 * docs/CONFIG.md) and the check that config/govstream.cfg documents every
 * key all come from the tables. The core keys are keys.c's; a request
 * kind brings its keys as a section (govstream/kind.h), so this module
 * knows no kind. */

typedef enum {
    GS_CFG_STR,
    GS_CFG_PATH, /* a string; relative paths resolve against the file's directory */
    GS_CFG_INT,
    GS_CFG_BOOL,
    GS_CFG_ENUM,
    GS_CFG_DOUBLE, /* a finite number within [dmin, dmax] */
    GS_CFG_SPECIAL /* not a scalar: parsed by its own code (alerts.rules) */
} gs_config_type_t;

typedef struct gs_config_key {
    const char *key; /* full name: "dialogue.requests_topic" */
    gs_config_type_t type;
    size_t offset;            /* of the int or char * in the section's struct */
    const char *def;          /* default, in the syntax of `-o key=value` */
    long min, max;            /* GS_CFG_INT */
    double dmin, dmax;        /* GS_CFG_DOUBLE */
    const char *const *names; /* GS_CFG_ENUM: NULL-terminated; the index is the value */
    const char *doc;          /* what it does, one line of Markdown */
} gs_config_key_t;

#define GS_CONFIG_KEY(k, t, T, m, d, lo, hi, nm, doc_)                                             \
    {                                                                                              \
        .key = (k), .type = (t), .offset = offsetof(T, m), .def = (d), .min = (lo), .max = (hi),   \
        .names = (nm), .doc = (doc_)                                                               \
    }
#define GS_CONFIG_STR(k, T, m, d, doc)  GS_CONFIG_KEY(k, GS_CFG_STR, T, m, d, 0, 0, NULL, doc)
#define GS_CONFIG_PATH(k, T, m, d, doc) GS_CONFIG_KEY(k, GS_CFG_PATH, T, m, d, 0, 0, NULL, doc)
#define GS_CONFIG_INT(k, T, m, d, lo, hi, doc)                                                     \
    GS_CONFIG_KEY(k, GS_CFG_INT, T, m, d, lo, hi, NULL, doc)
#define GS_CONFIG_DOUBLE(k, T, m, d, lo, hi, doc_)                                                 \
    {                                                                                              \
        .key = (k), .type = GS_CFG_DOUBLE, .offset = offsetof(T, m), .def = (d), .dmin = (lo),     \
        .dmax = (hi), .doc = (doc_)                                                                \
    }
#define GS_CONFIG_BOOL(k, T, m, d, doc) GS_CONFIG_KEY(k, GS_CFG_BOOL, T, m, d, 0, 0, NULL, doc)
#define GS_CONFIG_ENUM(k, T, m, d, names, doc)                                                     \
    GS_CONFIG_KEY(k, GS_CFG_ENUM, T, m, d, 0, 0, names, doc)

typedef struct gs_config gs_config_t;

/* A group of keys with a struct of its own, e.g. one request kind's. */
typedef struct gs_config_section {
    const char *name; /* "dialogue": what gs_config_section() finds, a heading in the docs */
    const char *doc;  /* a paragraph of Markdown for the docs */
    const gs_config_key_t *keys;
    size_t n_keys;
    size_t size; /* of the struct the keys fill (zeroed first) */
    /* Rules across keys, after every key is set; conf is this section's
     * struct. NULL: none. */
    gs_err_t (*check)(const gs_config_t *cfg, const void *conf, char *errstr, size_t errstr_size);
} gs_config_section_t;

extern const char *const gs_framing_names[]; /* "raw", "confluent" */

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

struct gs_config {
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
        int idle_flush_us;
    } batch;
    struct {
        int max_inflight_per_partition;
        int queue_high_pct;
        int queue_low_pct;
        int retry_backoff_ms;
        int retry_backoff_max_ms;
        int flush_timeout_ms;
        int mode; /* gs_delivery_mode_t */
        int transaction_interval_ms;
        int transaction_timeout_ms;
    } delivery;
    struct {
        int timeout_ms;
    } shutdown;
    struct {
        int scope; /* gs_scope_by_t */
        int max_scopes;
        int scope_idle_s;
        int memory; /* bool: retrieval and memory writes */
        int memory_capacity;
        int memory_index_min;
        int max_memory_mb;
        int wake_steps;
        int sleep_steps;
        int sleep_policy; /* gs_sleep_policy_t */
        int sleep_max_tokens;
        char *harm_lexicon;
        char *care_lexicon;
    } governance;

    struct {
        int changelog; /* bool: state stores logged and restored (SPEC 3.6) */
        char *topic;
        int replication_factor; /* when we create the topic; -1: broker default */
    } state;
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

    /* the sections given to gs_config_load and their structs (internal) */
    const gs_config_section_t *const *sections;
    void **section_data;
    size_t n_sections;
};

/* Loads FILE (NULL: defaults only) with the core keys and those of
 * `sections` (NULL-terminated; NULL for none), then applies overrides of
 * the form "key=value" (e.g. "batch.max=64", "kafka.bootstrap.servers=h:9092").
 * Unknown keys, wrong types and out-of-range values are errors that name
 * the file, line and key. The sections array must outlive cfg. */
gs_err_t gs_config_load(const char *path, const gs_config_section_t *const *sections,
                        const char *const *overrides, size_t n_overrides, gs_config_t **out,
                        char *errstr, size_t errstr_size);
void gs_config_destroy(gs_config_t *cfg);

/* The struct of section NAME, NULL if it was not loaded. */
const void *gs_config_section(const gs_config_t *cfg, const char *name);

/* Writes every table key with its effective value, one "key = value" per
 * line (secrets masked). */
void gs_config_dump(const gs_config_t *cfg, FILE *fp);

/* Calls fn for every key of the core and of `sections` (NULL-terminated,
 * may be NULL) with its documentation; used to check that
 * config/govstream.cfg documents every key. */
typedef void(gs_config_key_fn)(const char *key, const char *default_value, const char *doc,
                               void *opaque);
void gs_config_keys(const gs_config_section_t *const *sections, gs_config_key_fn *fn, void *opaque);

/* docs/CONFIG.md's parts: the rules of the file (Markdown, up to the
 * librdkafka section), the key tables of the core and of `sections`, and
 * the alert rules' syntax. `govstream config docs` puts them together. */
void gs_config_docs_intro(FILE *fp);
void gs_config_docs_keys(const gs_config_section_t *const *sections, FILE *fp);
void gs_config_docs_rules(FILE *fp);

#endif
