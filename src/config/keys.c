/* The core configuration keys (the ones no request kind owns) and the
 * prose of docs/CONFIG.md around the key tables. A kind's keys are in its
 * folder (src/kinds/<name>/). */
#include <stddef.h>

#include "keys.h"

const char *const gs_framing_names[] = {"raw", "confluent", NULL};
static const char *const scope_names[] = {"tenant", "session", NULL};
static const char *const delivery_names[] = {"at_least_once", "exactly_once", NULL};
static const char *const policy_names[] = {"degrade", "reject", NULL};
static const char *const level_names[] = {"debug", "info", "warn", "error", NULL};
const char *const gs_alert_agg_names[] = {"value", "max", "min", "rate", "ratio", "quantile", NULL};
const char *const gs_alert_op_names[] = {">", ">=", "<", "<=", "==", "!=", NULL};

#define STR(k, m, d, doc)         GS_CONFIG_STR(k, gs_config_t, m, d, doc)
#define PATH(k, m, d, doc)        GS_CONFIG_PATH(k, gs_config_t, m, d, doc)
#define INT(k, m, d, lo, hi, doc) GS_CONFIG_INT(k, gs_config_t, m, d, lo, hi, doc)
#define BOOL(k, m, d, doc)        GS_CONFIG_BOOL(k, gs_config_t, m, d, doc)
#define ENUM(k, m, d, names, doc) GS_CONFIG_ENUM(k, gs_config_t, m, d, names, doc)
#define SPECIAL(k, d, doc_)                                                                        \
    {                                                                                              \
        .key = (k), .type = GS_CFG_SPECIAL, .def = (d), .doc = (doc_)                              \
    }

const gs_config_key_t gs_config_core_keys[] = {
    STR("worker.id", worker.id, "",
        "id in results, dead letters and logs; `\"\"`: `<hostname>-<pid>`"),
    ENUM("log.level", log.level, "info", level_names,
         "`debug`, `info`, `warn`, `error` (JSON lines on stderr)"),
    STR("http.listen", http.listen, "127.0.0.1:9464",
        "`/metrics`, `/health/live`, `/health/ready`, `/state`; `\"\"` disables"),
    STR("metrics.topic", metrics.topic, "govstream.metrics",
        "Avro `MetricsSnapshot` records (key: worker id); `\"\"` writes none"),
    ENUM("metrics.framing", metrics.framing, "raw", gs_framing_names,
         "`raw` or `confluent` (registered as `<topic>-value`)"),
    INT("metrics.interval_ms", metrics.interval_ms, "10000", 100, 86400000, "snapshot period"),
    INT("metrics.lag_interval_ms", metrics.lag_interval_ms, "5000", 100, 86400000,
        "librdkafka `statistics.interval.ms`, the source of `govstream_consumer_lag`"),
    STR("alerts.topic", alerts.topic, "govstream.alerts",
        "every notification's JSON payload (key: fingerprint); `\"\"` writes none"),
    INT("alerts.eval_interval_ms", alerts.eval_interval_ms, "1000", 100, 3600000,
        "rule evaluation period"),
    INT("alerts.repeat_ms", alerts.repeat_ms, "3600000", 0, 604800000,
        "re-send a firing alert this often; `0`: only on changes"),
    STR("alerts.webhook.url", alerts.webhook.url, "",
        "Alertmanager-v4 webhook receiver (`http://` or `https://`); `\"\"`: none"),
    STR("alerts.webhook.secret_env", alerts.webhook.secret_env, "",
        "env var holding the HMAC-SHA256 key for `X-Govstream-Signature: sha256=<hex>`"),
    PATH("alerts.webhook.secret_file", alerts.webhook.secret_file, "", "or a file holding it"),
    INT("alerts.webhook.connect_timeout_ms", alerts.webhook.connect_timeout_ms, "2000", 1, 60000,
        "per attempt"),
    INT("alerts.webhook.timeout_ms", alerts.webhook.timeout_ms, "5000", 1, 120000,
        "whole request, per attempt"),
    INT("alerts.webhook.retries", alerts.webhook.retries, "5", 0, 100,
        "extra attempts on 5xx and connection errors; none on other 4xx"),
    INT("alerts.webhook.backoff_ms", alerts.webhook.backoff_ms, "500", 1, 600000,
        "first retry delay, doubling per attempt"),
    INT("alerts.webhook.backoff_max_ms", alerts.webhook.backoff_max_ms, "30000", 1, 3600000,
        "cap of that delay"),
    INT("alerts.webhook.queue_max", alerts.webhook.queue_max, "256", 1, 1000000,
        "notifications waiting; the oldest is dropped (and counted) beyond it"),
    BOOL("alerts.events.enabled", alerts.events.enabled, "true",
         "the built-in core alerts ([OPERATIONS](OPERATIONS.md#alerts))"),
    INT("alerts.events.moral_pinned_steps", alerts.events.moral_pinned_steps, "1000", 1, 1000000000,
        "threshold at 0.30 or 0.90 this many requests in a row"),
    INT("alerts.events.deadletter_per_min", alerts.events.deadletter_per_min, "60", 0, 1000000000,
        "dead-letter spike threshold"),
    INT("alerts.events.lag_max", alerts.events.lag_max, "100000", 0, 2000000000,
        "consumer lag threshold, any partition"),
    INT("alerts.events.p95_ms", alerts.events.p95_ms, "100", 1, 3600000,
        "p95 of `total` processing time over a minute"),
    INT("alerts.events.memory_pct", alerts.events.memory_pct, "95", 1, 100,
        "a scope's vector memory this full"),
    INT("alerts.events.for_ms", alerts.events.for_ms, "60000", 0, 86400000,
        "how long spike, lag and latency must hold before firing"),
    SPECIAL("alerts.rules", "()",
            "your rules: a libconfig list of groups ([below](#alert-rules)), also `-o "
            "'alerts.rules=( {...} )'`, which adds to the file's"),
    STR("registry.url", registry.url, "",
        "Confluent-compatible registry base URL (Apicurio: `.../apis/ccompat/v7`)"),
    INT("registry.connect_timeout_ms", registry.connect_timeout_ms, "2000", 1, 60000,
        "per attempt"),
    INT("registry.timeout_ms", registry.timeout_ms, "5000", 1, 120000,
        "whole request, per attempt"),
    INT("registry.retries", registry.retries, "2", 0, 10,
        "extra attempts on connection errors, HTTP 429 and 5xx; none on other 4xx"),
    INT("registry.backoff_ms", registry.backoff_ms, "200", 1, 60000,
        "first retry delay, doubling per attempt"),
    INT("registry.backoff_max_ms", registry.backoff_max_ms, "10000", 1, 600000,
        "cap of that delay and of the pause while the registry is down"),
    INT("registry.negative_cache_ms", registry.negative_cache_ms, "30000", 0, 86400000,
        "how long an unknown schema id is remembered as unknown"),
    STR("registry.username", registry.username, "", "basic auth user"),
    STR("registry.password_env", registry.password_env, "",
        "env var holding the basic auth password"),
    PATH("registry.password_file", registry.password_file, "", "or a file holding it"),
    PATH("registry.ca_file", registry.ca_file, "", "CA bundle for https"),
    BOOL("state.changelog", state.changelog, "true",
         "per-partition state (scopes) logged to `state.topic` and restored from it when a "
         "partition is assigned ([OPERATIONS](OPERATIONS.md#state-and-delivery)); off: state "
         "starts empty on every assignment"),
    STR("state.topic", state.topic, "govstream.state",
        "the compacted changelog, co-partitioned with the inputs; created at start if missing"),
    INT("state.replication_factor", state.replication_factor, "-1", -1, 32767,
        "replicas when govstream creates `state.topic`; -1: the broker's default"),
    STR("deadletter.topic", deadletter.topic, "govstream.deadletter", "dead-letter topic"),
    ENUM("deadletter.framing", deadletter.framing, "raw", gs_framing_names,
         "`confluent` registers `DeadLetter` under `<topic>-value`"),
    INT("deadletter.max_value_bytes", deadletter.max_value_bytes, "961000", 0, 100000000,
        "original bytes kept per dead letter; longer ones are cut and flagged `value_truncated`"),
    INT("limits.max_request_bytes", limits.max_request_bytes, "65536", 16, 100000000,
        "larger values are dead-lettered as `TOO_LARGE` without decoding"),
    INT("batch.max", batch.max, "256", 1, 65536, "requests per micro-batch"),
    INT("batch.linger_us", batch.linger_us, "1000", 0, 1000000,
        "how long to wait to fill a micro-batch"),
    INT("batch.idle_flush_us", batch.idle_flush_us, "1000", 0, 1000000,
        "after a micro-batch that did not fill `batch.max` (the input does not keep the worker "
        "busy), wait up to this long for its results to reach the brokers, `linger.ms` "
        "ignored: low load gets low latency, full batches keep librdkafka's batching; 0: off "
        "(ignored in exactly-once mode, whose commit sends everything)"),
    INT("delivery.max_inflight_per_partition", delivery.max_inflight_per_partition, "10000", 1,
        1000000, "unacknowledged requests per partition before it pauses"),
    INT("delivery.queue_high_pct", delivery.queue_high_pct, "80", 1, 100,
        "pause all partitions at this producer-queue fill..."),
    INT("delivery.queue_low_pct", delivery.queue_low_pct, "50", 0, 99, "...and resume at this"),
    INT("delivery.retry_backoff_ms", delivery.retry_backoff_ms, "100", 1, 60000,
        "re-produce a record the broker refused after this, doubling"),
    INT("delivery.retry_backoff_max_ms", delivery.retry_backoff_max_ms, "10000", 1, 600000,
        "cap of that delay"),
    INT("delivery.flush_timeout_ms", delivery.flush_timeout_ms, "10000", 0, 600000,
        "wait for acknowledgements when partitions are revoked"),
    ENUM("delivery.mode", delivery.mode, "at_least_once", delivery_names,
         "`at_least_once`, or `exactly_once`: results, dead letters, changelog records and input "
         "offsets commit in one Kafka transaction "
         "([OPERATIONS](OPERATIONS.md#delivery-guarantees))"),
    INT("delivery.transaction_interval_ms", delivery.transaction_interval_ms, "100", 1, 600000,
        "`exactly_once`: commit the open transaction this often (results are visible to "
        "`read_committed` readers only then)"),
    INT("delivery.transaction_timeout_ms", delivery.transaction_timeout_ms, "10000", 1000, 900000,
        "`exactly_once`: librdkafka `transaction.timeout.ms`; a crashed worker's open transaction "
        "holds back its partitions' readers until the broker aborts it after this (a state "
        "restore waits for it at most this + 15 s)"),
    INT("shutdown.timeout_ms", shutdown.timeout_ms, "30000", 100, 3600000,
        "SIGTERM: drain, flush, commit, close and exit within this"),
    ENUM("governance.scope", governance.scope, "tenant", scope_names,
         "governance state per `tenant` or per `session`"),
    INT("governance.max_scopes", governance.max_scopes, "10000", 1, 10000000,
        "beyond this the least recently used scope is evicted; at least `batch.max`"),
    INT("governance.scope_idle_s", governance.scope_idle_s, "3600", 0, 100000000,
        "scopes unused this long are evicted; `0`: never"),
    BOOL("governance.memory", governance.memory, "true",
         "context retrieval and memory writes (SPEC 3.4); `false`: the moral filter and the "
         "rhythm only, `context_items` 0"),
    INT("governance.memory_capacity", governance.memory_capacity, "20000", 1, 10000000,
        "PELM vectors per scope (384 floats each); the oldest is replaced beyond"),
    INT("governance.memory_index_min", governance.memory_index_min, "4096", 0, 10000000,
        "from this many vectors a scope's memory answers sparse queries through an approximate "
        "index (int8 codes by dimension, the best 32 candidates re-scored exactly; 392 bytes "
        "per vector on top of the bank's 1,548); `0`: exact search always"),
    INT("governance.max_memory_mb", governance.max_memory_mb, "256", 1, 1000000,
        "all scopes' memory together (scope state, PELM banks, synaptic memory, buffers), counted "
        "exactly; least recently used scopes are evicted to stay under"),
    INT("governance.wake_steps", governance.wake_steps, "8", 1, 1000000,
        "rhythm wake length (requests)"),
    INT("governance.sleep_steps", governance.sleep_steps, "3", 1, 1000000,
        "rhythm sleep length (requests)"),
    ENUM("governance.sleep_policy", governance.sleep_policy, "degrade", policy_names,
         "`degrade` (answer; GENERATE capped) or `reject` (note `sleep phase`)"),
    INT("governance.sleep_max_tokens", governance.sleep_max_tokens, "16", 1, 256,
        "GENERATE cap during sleep under `degrade`"),
    PATH("governance.harm_lexicon", governance.harm_lexicon, "lexicon/harm.txt",
         "harm words, one per line"),
    PATH("governance.care_lexicon", governance.care_lexicon, "lexicon/care.txt",
         "care words, one per line"),
};
const size_t gs_config_n_core_keys = sizeof(gs_config_core_keys) / sizeof(gs_config_core_keys[0]);

const char gs_config_doc_intro[] =
    "# Configuration\n"
    "\n"
    "One [libconfig](https://hyperrealm.github.io/libconfig/) file, normally\n"
    "`config/govstream.cfg`, which shows every key with its default. Command-line\n"
    "overrides apply after the file:\n"
    "\n"
    "```sh\n"
    "govstream check-config config/govstream.cfg            # exit 1 and \"FILE:LINE: key: "
    "reason\" on error\n"
    "govstream check-config config/govstream.cfg --dump     # effective values, secrets masked\n"
    "govstream run -c config/govstream.cfg -o batch.max=64 -o kafka.group.id=blue\n"
    "```\n"
    "\n"
    "Rules:\n"
    "- Unknown keys are errors, so typos do not pass silently. So are values of the wrong type or\n"
    "  outside their range. Each error names the file, line and key (`command line` for `-o`).\n"
    "- Relative paths (lexicons, password files) resolve against the directory of the config "
    "file.\n"
    "- Secrets never appear in the file. Use `registry.password_env` / `registry.password_file`, "
    "and\n"
    "  for librdkafka `<name>_env = \"VAR\"` or `<name>_file = \"/path\"`, e.g.\n"
    "  `sasl_password_file = \"/run/secrets/kafka\"`. Literal `sasl.password`, "
    "`ssl.key.password`,\n"
    "  `ssl.keystore.password`, `sasl.oauthbearer.client.secret` and `ssl.key.pem` are refused.\n"
    "  Secret values are masked in `--dump`, never logged, and wiped from memory on exit.\n"
    "- Checks that span keys: confluent framing needs `registry.url`;\n"
    "  `delivery.queue_low_pct < delivery.queue_high_pct`;\n"
    "  `delivery.max_inflight_per_partition >= batch.max`;\n"
    "  `delivery.transaction_interval_ms < delivery.transaction_timeout_ms`;\n"
    "  `deadletter.max_value_bytes >= limits.max_request_bytes` (and every enabled kind's own\n"
    "  `<kind>.max_request_bytes`), so every dead letter below the request limit carries its\n"
    "  whole input. The registry's worst case, all attempts timing out,\n"
    "  must stay under half of `max.poll.interval.ms`: a hung registry must not get the worker\n"
    "  evicted from its group.\n";

const char gs_config_doc_rules[] =
    "## Alert rules\n"
    "\n"
    "```\n"
    "alerts: { rules = ( {\n"
    "  name = \"GovstreamRejectingMost\";              # alertname label; letters, digits, _\n"
    "  metric = \"govstream_requests_total{outcome=\\\"rejected\\\"}\";   # name or "
    "name{label=\"value\",...}\n"
    "  aggregation = \"ratio\";                         # value (sum) | max | min | rate | ratio | "
    "quantile\n"
    "  over = \"govstream_requests_total\";             # ratio only: rate(metric) / rate(over)\n"
    "  quantile = 0.99;                               # quantile only, on a histogram\n"
    "  window_ms = 300000;                            # rate, ratio, quantile look back this far "
    "(>= 1000)\n"
    "  op = \">\"; threshold = 0.9;                     # > >= < <= == !=\n"
    "  for_ms = 600000;                               # hold this long before firing (default 0)\n"
    "  severity = \"warning\";                          # default warning\n"
    "  labels = { team = \"ml-platform\"; };            # not alertname, worker or severity\n"
    "  annotations = { summary = \"most requests are morally rejected\"; };\n"
    "} ); };\n"
    "```\n"
    "\n"
    "A selector matches every series whose labels include the given ones; `value` sums them. A\n"
    "condition without data (no series, no observations in the window, a zero denominator) is "
    "false.\n"
    "`govstream check-config` compiles the rules against the worker's metrics, so an unknown "
    "metric\n"
    "or a quantile on a counter is an error naming the rule and its line.\n";
