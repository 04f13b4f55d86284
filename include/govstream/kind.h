/* govstream - a request kind as one table of operations (as curl's TLS
 * backends are): everything one kind owns lives in src/kinds/<name>/, and
 * the kinds are listed once, in src/kinds/kinds.c (govstream/kinds.h). The
 * worker, the configuration, check-config, /state, the metrics,
 * govstream-load and `govstream train` iterate that table and name no kind.
 *
 * Division of work per request:
 * - the worker consumes, frames and decodes the request into the kind's
 *   generated struct (schema resolution for other writer schemas included);
 * - the kind, once per micro-batch, validates, governs and infers, and
 *   fills each result's `accepted`, `note`, `model` and its own fields, or
 *   marks the item as a dead letter;
 * - the worker writes the rest of the SPEC 1.2 envelope (request_id, the
 *   key, tenant, timings, source, worker_id, processed_at_ms), encodes,
 *   produces, and commits. A kind never encodes anything itself. */
#ifndef GOVSTREAM_KIND_H
#define GOVSTREAM_KIND_H

#include <jansson.h>

#include "govstream/alert.h"
#include "govstream/avrogen.h"
#include "govstream/config.h"
#include "govstream/govern.h"
#include "govstream/store.h"

/* One request of a micro-batch, as the kind sees it. */
typedef struct gs_item {
    int32_t partition;    /* its input partition: state is kept per partition (SPEC 3.6) */
    int64_t timestamp_ms; /* the record's Kafka timestamp (-1: none): the clock of rate limits */
    const void *request;  /* the decoded request: the kind's generated struct */
    void *result;         /* zeroed; the kind fills it (the worker, the envelope) */
    gs_err_t err;         /* set by the kind: the request becomes a dead letter */
    char errmsg[256];     /* its reason, naming the field */
    bool accepted;        /* the verdict, for the metrics */
    /* An alert this request raises (a screening's HIGH), or NULL; valid
     * until the batch is encoded (the batch's arena, or the kind's). */
    const gs_alert_event_t *alert;
    int64_t govern_us, infer_us;
} gs_item_t;

typedef struct gs_batch {
    gs_item_t *const *items; /* this kind's requests of the micro-batch, in order */
    size_t n;
    gs_arena_t *arena; /* for the results' arrays: valid until they are encoded */
} gs_batch_t;

typedef struct gs_kind gs_kind_t; /* a kind's state, its own business */

/* What govstream-load makes a synthetic run from. */
typedef struct gs_load_params {
    const char *run_id; /* every key and request id starts with "<run_id>-" */
    long keys;          /* distinct keys (--sessions): sessions, robots, ... */
    long tenants;
    double moral_given; /* share of requests that carry the caller's moral value */
} gs_load_params_t;

/* govstream-load's side of a kind. Strings a function makes live in the
 * arena (reset per request). */
typedef struct gs_kind_load {
    /* The i-th request of a synthetic run, deterministic for the rng. */
    void (*generate)(const gs_load_params_t *p, long i, gs_rng_t *rng, void *request,
                     gs_arena_t *arena);
    /* A request from a JSON object of a --from file (absent fields take
     * their defaults). */
    gs_err_t (*from_json)(json_t *j, void *request, gs_arena_t *arena, char *errstr,
                          size_t errstr_size);
    /* Requests from a --from path that is not JSON lines (timbre: a WAV file
     * or a folder of them): 0 when the path is not one (it is read as JSON
     * lines), 1 with *out the array of objects for from_json, -1 when it
     * cannot be read (errstr says why; *out is the caller's to free).
     * NULL: JSON lines only. */
    int (*script_of)(const char *path, const char *run_id, json_t **out, char *errstr,
                     size_t errstr_size);
    /* Makes a valid request invalid: the worker dead-letters it as VALIDATION. */
    void (*invalidate)(void *request);
    /* The verifier's JSON line of a result (`verify --dump`). */
    json_t *(*dump)(const void *result);
} gs_kind_load_t;

/* A command of the `govstream` binary that a kind brings, such as
 * `govstream watchlist build ...`: argv[0] is its name. Returns the exit
 * code (0 done, 1 failed, 2 usage). */
typedef struct gs_kind_command {
    const char *name;
    const char *usage; /* what follows the name on the usage line */
    int (*run)(int argc, char **argv);
} gs_kind_command_t;

typedef struct gs_kind_ops {
    const char *name;                       /* config prefix, metrics label, dead letter "kind" */
    const gs_avro_type_t *request, *result; /* generated from schemas/ */
    const char *key_field; /* the request field that keys its results: "session_id" */
    /* Its keys: <name>.* (and models.<name>), starting with GS_KIND_STREAM_KEYS;
     * its struct starts with a gs_config_kind_t. The section's check is the
     * kind's check-config hook. */
    const gs_config_section_t *config;
    gs_err_t (*create)(const gs_config_t *cfg, const void *conf, gs_kind_t **out, char *errstr,
                       size_t errstr_size);
    void (*destroy)(gs_kind_t *k);
    /* (Re)loads the kind's models, at start and on SIGHUP, between batches.
     * On failure the current ones stay; errstr says why. A kind that needs
     * a model and has none fails here, so the worker stays not ready. On
     * success errstr may say what was loaded (one line, logged; it starts
     * empty). NULL: no models. */
    gs_err_t (*load_models)(gs_kind_t *k, char *errstr, size_t errstr_size);
    /* Every item of the batch gets a result or an error. */
    void (*process)(gs_kind_t *k, const gs_batch_t *batch);
    /* Its governance state, for /state and the governance gauges; NULL: none. */
    const gs_govern_t *(*governance)(const gs_kind_t *k);
    /* Its state stores (SPEC 3.6), valid while k lives; *out gets the
     * array. Every change of the state a batch made must be handed out by
     * the stores' `changes` before the next batch. NULL: stateless. */
    size_t (*stores)(gs_kind_t *k, const gs_store_t **out);
    const gs_kind_load_t *load;
    /* `govstream train <name> ...` (argv[0] is the kind's name); NULL: nothing
     * to train. Returns the exit code. */
    int (*train)(int argc, char **argv);
    /* `govstream model validate` of its model files (the file kind number
     * model_kind): loads the model as the worker would, GS_OK or why not;
     * NULL: the kind has no model files of that format. */
    uint32_t model_kind;
    gs_err_t (*check_model)(const char *path, char *errstr, size_t errstr_size);
    /* Its own commands, ended by one with a NULL name; NULL: none. */
    const gs_kind_command_t *commands;
} gs_kind_ops_t;

/* The stream keys every kind's table starts with; T is its struct, whose
 * first member `stream` is a gs_config_kind_t. */
#define GS_KIND_STREAM_KEYS(name_, T, enabled_)                                                    \
    GS_CONFIG_BOOL(name_ ".enabled", T, stream.enabled, enabled_, "serve the " name_ " kind"),     \
        GS_CONFIG_STR(name_ ".requests_topic", T, stream.requests_topic,                           \
                      "govstream." name_ ".requests", "input"),                                    \
        GS_CONFIG_STR(name_ ".results_topic", T, stream.results_topic,                             \
                      "govstream." name_ ".results", "output"),                                    \
        GS_CONFIG_ENUM(name_ ".input_framing", T, stream.input_framing, "raw", gs_framing_names,   \
                       "`raw` (Avro binary, our schema) or `confluent` (magic byte + schema id, "  \
                       "writer schema from the registry)"),                                        \
        GS_CONFIG_ENUM(name_ ".output_framing", T, stream.output_framing, "raw", gs_framing_names, \
                       "`confluent` registers the result schema under `<topic>-value` at start")

/* The per-tenant rate limit of SPEC 1.2's governance gate, which the
 * non-dialogue kinds share: its configuration (a member of the kind's
 * struct), its keys, and the limiter with its state store. */
typedef struct gs_kind_rate {
    double rate, burst; /* per tenant and input partition; rate 0: off */
    int max_buckets;
} gs_kind_rate_t;

/* The three keys <name>.rate_limit.*, for the member `rate` (a
 * gs_kind_rate_t) of T; refused_ says what a refused request gets. */
#define GS_KIND_RATE_KEYS(name_, T, refused_)                                                      \
    GS_CONFIG_DOUBLE(name_ ".rate_limit.per_second", T, rate.rate, "0", 0.0, 1e9,                  \
                     "requests a second per tenant and input partition (token bucket, clocked "    \
                     "by the record timestamps); over it: `accepted = false`, note `rate "         \
                     "limited`, " refused_ "; 0: no limit"),                                       \
        GS_CONFIG_DOUBLE(name_ ".rate_limit.burst", T, rate.burst, "100", 1.0, 1e9,                \
                         "the bucket's size: requests a tenant may send at once"),                 \
        GS_CONFIG_INT(name_ ".rate_limit.max_buckets", T, rate.max_buckets, "100000", 1, 10000000, \
                      "tenant buckets kept per worker (full ones are evicted first)")

/* The kind's rate limit and its store "<name>.rate_limits". */
typedef struct gs_kind_gate {
    gs_ratelimit_t *limiter; /* NULL: no limit */
    gs_store_t store;
    char store_name[64];
} gs_kind_gate_t;

/* Makes the limiter when c->rate > 0 (none otherwise). */
gs_err_t gs_kind_gate_init(gs_kind_gate_t *g, const char *kind, const gs_kind_rate_t *c,
                           char *errstr, size_t errstr_size);
void gs_kind_gate_free(gs_kind_gate_t *g);
/* True when the request may pass (always, without a limit). */
int gs_kind_gate_pass(gs_kind_gate_t *g, int32_t partition, gs_str_t tenant, int64_t now_ms);
/* The kind's `stores` hook for the gate: 0 or 1 store into *out. */
size_t gs_kind_gate_stores(gs_kind_gate_t *g, const gs_store_t **out);

#define GS_KIND_MAX_ID 128

/* s into dst[0..size) as a NUL-terminated C string, cut to fit: the
 * identifiers an alert's annotations carry. */
void gs_kind_copy_str(char *dst, size_t size, gs_str_t s);

/* The identifier rule of every kind's request_id, key and tenant (SPEC
 * 1.1-1.5): 1..128 bytes of valid UTF-8 without NUL. GS_ERR_VALIDATION
 * naming the field. */
gs_err_t gs_kind_check_id(const char *field, gs_str_t s, char *errstr, size_t errstr_size);

/* The check every kind's section check starts with: confluent framing
 * needs registry.url. */
gs_err_t gs_kind_check_stream(const gs_config_t *cfg, const gs_config_kind_t *stream, char *errstr,
                              size_t errstr_size);

#endif
