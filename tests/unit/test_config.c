/* Unit tests of the configuration loader (SPEC 6): defaults, the documented
 * config/govstream.cfg, error messages naming file, line and key, overrides,
 * librdkafka pass-through, secrets and cross-key rules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "govstream/config.h"
#include "govstream/kafka.h"
#include "govstream/kinds.h"

/* The sections of the product's kinds (the dialogue keys are its). */
static const gs_config_section_t *const *kind_sections(void)
{
    static const gs_config_section_t *sections[8];
    gs_kinds_sections(gs_kinds, sections, 8);
    return sections;
}

/* The dialogue kind's stream settings. */
#define DLG(cfg) ((const gs_config_kind_t *)gs_config_section((cfg), "dialogue"))

#define assert_not_contains(hay, needle)                                                           \
    do {                                                                                           \
        const char *h_ = (hay), *n_ = (needle);                                                    \
        if (h_ && strstr(h_, n_))                                                                  \
            fail_msg("\"%s\" must not contain \"%s\"", h_, n_);                                    \
    } while (0)

#define assert_starts_with(s, prefix)                                                              \
    do {                                                                                           \
        const char *s_ = (s), *p_ = (prefix);                                                      \
        if (strncmp(s_, p_, strlen(p_)))                                                           \
            fail_msg("\"%s\" does not start with \"%s\"", s_, p_);                                 \
    } while (0)

/* Per-test state: the loaded config and temp files, released even when an
 * assertion fails. */
typedef struct ctx {
    gs_config_t *cfg, *cfg2;
    char files[4][64];
    int n_files;
    char last[64];
    char err[1024];
    char out[512]; /* client_prop */
    char *dump;
    size_t dump_len;
} ctx_t;

static int setup(void **state)
{
    *state = calloc(1, sizeof(ctx_t));
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    ctx_t *c = *state;
    gs_config_destroy(c->cfg);
    gs_config_destroy(c->cfg2);
    for (int i = 0; i < c->n_files; i++)
        unlink(c->files[i]);
    free(c->dump);
    free(c);
    unsetenv("GS_TEST_PW");
    unsetenv("GS_TEST_REG_PW");
    return 0;
}

/* Writes text to a new temp file and returns its path. */
static const char *temp_file(ctx_t *c, const char *text)
{
    assert_true(c->n_files < 4);
    char *path = c->files[c->n_files];
    strcpy(path, "/tmp/gs_test_cfgXXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    c->n_files++;
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

/* Loads text as a config file (plus overrides) into c->cfg; the file is
 * removed again at once, its name stays in c->last for messages. */
static gs_err_t load_text(ctx_t *c, const char *text, const char *const *ov, size_t n_ov,
                          const char **path_out)
{
    strcpy(c->last, "/tmp/gs_test_cfgXXXXXX");
    int fd = mkstemp(c->last);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    ssize_t wr = write(fd, text, len);
    close(fd);
    if (wr != (ssize_t)len) {
        unlink(c->last);
        fail_msg("cannot write %s", c->last);
    }
    if (path_out)
        *path_out = c->last;
    gs_config_destroy(c->cfg);
    c->cfg = NULL;
    c->err[0] = '\0';
    gs_err_t rc =
        gs_config_load(c->last, kind_sections(), ov, n_ov, &c->cfg, c->err, sizeof(c->err));
    unlink(c->last);
    return rc;
}

/* Expects a load error whose message contains "<file>:<line>: <key>:". */
static void expect_error_at(ctx_t *c, const char *text, int line, const char *key)
{
    const char *path;
    gs_err_t rc = load_text(c, text, NULL, 0, &path);
    if (rc != GS_ERR_CONFIG)
        fail_msg("config \"%s\": %s, want CONFIG", text, gs_err_name(rc));
    assert_null(c->cfg);
    char want[256];
    snprintf(want, sizeof(want), "%s:%d: %s:", path, line, key);
    assert_contains(c->err, want);
}

static gs_err_t load_defaults(ctx_t *c, const char *const *ov, size_t n_ov)
{
    gs_config_destroy(c->cfg);
    c->cfg = NULL;
    c->err[0] = '\0';
    return gs_config_load(NULL, kind_sections(), ov, n_ov, &c->cfg, c->err, sizeof(c->err));
}

static const gs_config_kv_t *find_kv(const gs_config_kvlist_t *l, const char *name)
{
    for (size_t i = 0; i < l->count; i++)
        if (!strcmp(l->items[i].name, name))
            return &l->items[i];
    return NULL;
}

#define assert_kv(list, nm, val)                                                                   \
    do {                                                                                           \
        const gs_config_kv_t *kv_ = find_kv((list), (nm));                                         \
        if (!kv_)                                                                                  \
            fail_msg("no librdkafka property %s", (nm));                                           \
        assert_string_equal(kv_->value, (val));                                                    \
    } while (0)

static const char *dump(ctx_t *c, const gs_config_t *cfg)
{
    free(c->dump);
    c->dump = NULL;
    FILE *fp = open_memstream(&c->dump, &c->dump_len);
    assert_non_null(fp);
    gs_config_dump(cfg, fp);
    fclose(fp);
    return c->dump;
}

static const char *source_dir(void)
{
    const char *root = getenv("GS_SOURCE_DIR");
    assert_non_null(root);
    return root;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* ---- defaults and the documented file ------------------------------------- */

static void test_defaults(void **state)
{
    ctx_t *c = *state;
    if (load_defaults(c, NULL, 0))
        fail_msg("defaults: %s", c->err);
    const gs_config_t *g = c->cfg;
    assert_string_equal(g->path, "");
    assert_int_equal(g->batch.max, 256);
    assert_int_equal(g->batch.linger_us, 1000);
    assert_int_equal(g->shutdown.timeout_ms, 30000);
    assert_string_equal(DLG(g)->requests_topic, "govstream.dialogue.requests");
    assert_string_equal(DLG(g)->results_topic, "govstream.dialogue.results");
    assert_int_equal(DLG(g)->enabled, 1);
    assert_int_equal(DLG(g)->input_framing, GS_FRAMING_RAW);
    assert_int_equal(DLG(g)->output_framing, GS_FRAMING_RAW);
    assert_string_equal(g->deadletter.topic, "govstream.deadletter");
    assert_int_equal(g->deadletter.max_value_bytes, 961000);
    assert_int_equal(g->limits.max_request_bytes, 65536);
    assert_int_equal(g->delivery.max_inflight_per_partition, 10000);
    assert_int_equal(g->delivery.queue_high_pct, 80);
    assert_int_equal(g->delivery.queue_low_pct, 50);
    assert_int_equal(g->governance.wake_steps, 8);
    assert_int_equal(g->governance.sleep_steps, 3);
    assert_int_equal(g->governance.sleep_policy, GS_SLEEP_DEGRADE);
    assert_int_equal(g->governance.sleep_max_tokens, 16);
    assert_int_equal(g->governance.max_scopes, 10000);
    assert_int_equal(g->governance.scope, GS_SCOPE_TENANT);
    assert_true(ends_with(g->governance.harm_lexicon, "lexicon/harm.txt"));
    assert_true(ends_with(g->governance.care_lexicon, "lexicon/care.txt"));
    assert_int_equal(g->log.level, GS_LOG_INFO);
    assert_string_equal(g->http.listen, "127.0.0.1:9464");
    assert_string_equal(g->registry.url, "");
    assert_int_equal(g->registry.timeout_ms, 5000);
    assert_int_equal(g->registry.retries, 2);
    assert_non_null(g->registry.password);
    assert_string_equal(g->registry.password, "");
    assert_int_equal(g->kafka.count, 0);
    assert_int_equal(g->kafka_consumer.count, 0);
    assert_int_equal(g->kafka_producer.count, 0);
}

static void test_worker_id(void **state)
{
    ctx_t *c = *state;
    if (load_defaults(c, NULL, 0))
        fail_msg("defaults: %s", c->err);
    char host[128] = "", want[200];
    gethostname(host, sizeof(host) - 1);
    snprintf(want, sizeof(want), "%s-%ld", host, (long)getpid());
    assert_true(strlen(c->cfg->worker.id) > 0);
    assert_string_equal(c->cfg->worker.id, want);

    const char *ov[] = {"worker.id=blue-7"};
    if (load_defaults(c, ov, 1))
        fail_msg("override: %s", c->err);
    assert_string_equal(c->cfg->worker.id, "blue-7");
}

static void count_key(const char *key, const char *def, const char *doc, void *opaque)
{
    (void)key, (void)def, (void)doc;
    (*(int *)opaque)++;
}

/* The shipped file loads and, apart from the path keys (resolved against
 * its directory) and the kafka pass-through, equals the defaults. */
static void test_shipped_file_equals_defaults(void **state)
{
    ctx_t *c = *state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/config/govstream.cfg", source_dir());
    if (gs_config_load(path, kind_sections(), NULL, 0, &c->cfg2, c->err, sizeof(c->err)))
        fail_msg("%s", c->err);
    if (load_defaults(c, NULL, 0))
        fail_msg("defaults: %s", c->err);
    const gs_config_t *f = c->cfg2;

    assert_true(ends_with(f->governance.harm_lexicon, "config/lexicon/harm.txt"));
    assert_true(ends_with(f->governance.care_lexicon, "config/lexicon/care.txt"));
    assert_starts_with(f->governance.harm_lexicon, source_dir());
    assert_int_equal(access(f->governance.harm_lexicon, R_OK), 0);
    assert_int_equal(access(f->governance.care_lexicon, R_OK), 0);
    assert_int_equal(f->batch.max, 256);
    assert_int_equal(f->shutdown.timeout_ms, 30000);
    assert_string_equal(DLG(f)->requests_topic, "govstream.dialogue.requests");
    assert_int_equal(f->governance.wake_steps, 8);
    assert_int_equal(f->governance.sleep_policy, GS_SLEEP_DEGRADE);

    /* every other dumped line is identical */
    char *from_file = strdup(dump(c, f));
    const char *from_defaults = dump(c, c->cfg);
    assert_non_null(from_file);
    int compared = 0;
    char *save = NULL;
    for (char *line = strtok_r(from_file, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* paths resolve against the file's directory */
        if (!strncmp(line, "governance.harm_lexicon", 23) ||
            !strncmp(line, "governance.care_lexicon", 23) || !strncmp(line, "kafka", 5) ||
            !strncmp(line, "models.", 7))
            continue;
        char want[4200];
        snprintf(want, sizeof(want), "%s\n", line);
        if (!strstr(from_defaults, want)) {
            free(from_file);
            fail_msg("%s: \"%s\" differs from the defaults", path, line);
        }
        compared++;
    }
    free(from_file);
    int keys = 0;
    gs_config_keys(kind_sections(), count_key, &keys);
    assert_int_equal(compared, keys - 6); /* all but the six paths */

    /* its librdkafka sections */
    assert_kv(&f->kafka, "bootstrap.servers", "127.0.0.1:9092");
    assert_kv(&f->kafka, "client.id", "govstream");
    assert_int_equal(f->kafka.count, 2);
    assert_kv(&f->kafka_consumer, "group.id", "govstream");
    assert_int_equal(f->kafka_consumer.count, 1);
    assert_int_equal(f->kafka_producer.count, 0);
}

typedef struct doc_check {
    config_t *lc;
    int keys;
    char missing[4096];
} doc_check_t;

/* Text of a libconfig scalar as the table writes defaults. */
static int setting_text(const config_setting_t *s, char *buf, size_t n)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
        snprintf(buf, n, "%d", config_setting_get_int(s));
        return 1;
    case CONFIG_TYPE_INT64:
        snprintf(buf, n, "%lld", config_setting_get_int64(s));
        return 1;
    case CONFIG_TYPE_BOOL:
        snprintf(buf, n, "%s", config_setting_get_bool(s) ? "true" : "false");
        return 1;
    case CONFIG_TYPE_FLOAT:
        snprintf(buf, n, "%g", config_setting_get_float(s));
        return 1;
    case CONFIG_TYPE_STRING:
        snprintf(buf, n, "%s", config_setting_get_string(s));
        return 1;
    default:
        return 0;
    }
}

static void check_documented(const char *key, const char *def, const char *doc, void *opaque)
{
    doc_check_t *d = opaque;
    size_t used = strlen(d->missing);
    d->keys++;
    assert_non_null(doc);
    assert_true(strlen(doc) > 0);
    config_setting_t *s = config_lookup(d->lc, key);
    char text[1024];
    if (!s)
        snprintf(d->missing + used, sizeof(d->missing) - used, " %s (missing)", key);
    else if (!setting_text(s, text, sizeof(text)) || strcmp(text, def))
        snprintf(d->missing + used, sizeof(d->missing) - used, " %s (file \"%s\", default \"%s\")",
                 key, text, def);
}

/* Every table key is documented in config/govstream.cfg with its default. */
static void test_shipped_file_documents_every_key(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof(path), "%s/config/govstream.cfg", source_dir());
    config_t lc;
    config_init(&lc);
    if (!config_read_file(&lc, path)) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s:%d: %s", path, config_error_line(&lc),
                 config_error_text(&lc));
        config_destroy(&lc);
        fail_msg("%s", msg);
    }
    doc_check_t d = {&lc, 0, ""};
    gs_config_keys(kind_sections(), check_documented, &d);
    config_destroy(&lc);
    if (d.missing[0])
        fail_msg("config/govstream.cfg out of step with the key table:%s", d.missing);
    assert_true(d.keys >= 40);
}

/* ---- errors name file, line and key ------------------------------------------ */

static void test_error_unknown_key(void **state)
{
    ctx_t *c = *state;
    expect_error_at(c, "batch: {\n  max = 64;\n  bogus = 1;\n};\n", 3, "batch.bogus");
    assert_contains(c->err, "unknown key");
    expect_error_at(c, "# comment\n\nnothing = 1;\n", 3, "nothing");
    expect_error_at(c, "governance: {\n  deep: {\n    x = \"y\";\n  };\n};\n", 3,
                    "governance.deep.x");
}

static void test_error_wrong_type(void **state)
{
    ctx_t *c = *state;
    expect_error_at(c, "# header\nbatch: { max = \"64\"; };\n", 2, "batch.max");
    expect_error_at(c, "dialogue: {\n  requests_topic = 5;\n};\n", 2, "dialogue.requests_topic");
    expect_error_at(c, "dialogue: {\n  enabled = \"yes\";\n};\n", 2, "dialogue.enabled");
    expect_error_at(c, "batch: {\n  linger_us = 1.5;\n};\n", 2, "batch.linger_us");
    expect_error_at(c, "batch: {\n  max = [1, 2];\n};\n", 2, "batch.max");
    expect_error_at(c, "governance: {\n  sleep_policy = 1;\n};\n", 2, "governance.sleep_policy");
}

static void test_error_out_of_range(void **state)
{
    ctx_t *c = *state;
    expect_error_at(c, "batch: {\n  max = 0;\n};\n", 2, "batch.max");
    assert_contains(c->err, "between 1 and 65536");
    expect_error_at(c, "batch: { max = 65537; };\n", 1, "batch.max");
    expect_error_at(c, "\n\nshutdown: { timeout_ms = -1; };\n", 3, "shutdown.timeout_ms");
    expect_error_at(c, "batch: {\n  max = 10000000000L;\n};\n", 2, "batch.max");
    expect_error_at(c, "delivery: {\n queue_high_pct = 101;\n};\n", 2, "delivery.queue_high_pct");
}

static void test_error_bad_enum(void **state)
{
    ctx_t *c = *state;
    expect_error_at(c, "governance: {\n  sleep_policy = \"sometimes\";\n};\n", 2,
                    "governance.sleep_policy");
    assert_contains(c->err, "sometimes");
    expect_error_at(c, "log: { level = \"verbose\"; };\n", 1, "log.level");
    expect_error_at(c, "dialogue: {\n\n  input_framing = \"avro\";\n};\n", 3,
                    "dialogue.input_framing");
}

static void test_error_syntax(void **state)
{
    ctx_t *c = *state;
    const char *path;
    gs_err_t rc = load_text(c, "batch: {\n  max = 64;\n  linger_us = ;\n};\n", NULL, 0, &path);
    assert_int_equal(rc, GS_ERR_CONFIG);
    char want[128];
    snprintf(want, sizeof(want), "%s:3:", path);
    assert_contains(c->err, want);
    assert_contains(c->err, "syntax error");

    rc = load_text(c, "log: { level = \"info\"; };\nbatch: { max = 64 64; };\n", NULL, 0, &path);
    assert_int_equal(rc, GS_ERR_CONFIG);
    snprintf(want, sizeof(want), "%s:2:", path);
    assert_contains(c->err, want);

    /* a file that cannot be read names its path */
    c->err[0] = '\0';
    rc = gs_config_load("/nonexistent/dir/govstream.cfg", kind_sections(), NULL, 0, &c->cfg2,
                        c->err, sizeof(c->err));
    assert_int_equal(rc, GS_ERR_CONFIG);
    assert_contains(c->err, "/nonexistent/dir/govstream.cfg");
}

/* ---- overrides ------------------------------------------------------------------- */

static void test_overrides(void **state)
{
    ctx_t *c = *state;
    const char *ok[] = {"batch.max=64",
                        "dialogue.requests_topic=in.t",
                        "governance.sleep_policy=reject",
                        "dialogue.enabled=false",
                        "governance.harm_lexicon=/abs/h.txt",
                        "http.listen="};
    if (load_defaults(c, ok, 6))
        fail_msg("%s", c->err);
    assert_int_equal(c->cfg->batch.max, 64);
    assert_string_equal(DLG(c->cfg)->requests_topic, "in.t");
    assert_int_equal(c->cfg->governance.sleep_policy, GS_SLEEP_REJECT);
    assert_int_equal(DLG(c->cfg)->enabled, 0);
    assert_string_equal(c->cfg->governance.harm_lexicon, "/abs/h.txt");
    assert_string_equal(c->cfg->http.listen, "");
    assert_int_equal(c->cfg->batch.linger_us, 1000); /* untouched */

    /* overrides apply after the file */
    const char *ov[] = {"batch.max=32"};
    if (load_text(c, "batch: { max = 100; linger_us = 7; };\n", ov, 1, NULL))
        fail_msg("%s", c->err);
    assert_int_equal(c->cfg->batch.max, 32);
    assert_int_equal(c->cfg->batch.linger_us, 7);

    const char *unknown[] = {"nope.key=1"};
    assert_int_equal(load_defaults(c, unknown, 1), GS_ERR_CONFIG);
    assert_null(c->cfg);
    assert_starts_with(c->err, "command line: ");
    assert_contains(c->err, "nope.key");

    const char *no_eq[] = {"batch.max"};
    assert_int_equal(load_defaults(c, no_eq, 1), GS_ERR_CONFIG);
    assert_starts_with(c->err, "command line: ");
    assert_contains(c->err, "batch.max");

    const char *no_key[] = {"=5"};
    assert_int_equal(load_defaults(c, no_key, 1), GS_ERR_CONFIG);
    assert_starts_with(c->err, "command line: ");

    const char *bad_int[] = {"batch.max=abc"};
    assert_int_equal(load_defaults(c, bad_int, 1), GS_ERR_CONFIG);
    assert_starts_with(c->err, "command line: batch.max: ");

    const char *empty_int[] = {"batch.max="};
    assert_int_equal(load_defaults(c, empty_int, 1), GS_ERR_CONFIG);
    assert_starts_with(c->err, "command line: batch.max: ");

    const char *range[] = {"batch.max=0"};
    assert_int_equal(load_defaults(c, range, 1), GS_ERR_CONFIG);
    assert_starts_with(c->err, "command line: batch.max: ");

    const char *bad_enum[] = {"governance.scope=planet"};
    assert_int_equal(load_defaults(c, bad_enum, 1), GS_ERR_CONFIG);
    assert_starts_with(c->err, "command line: governance.scope: ");

    const char *bad_bool[] = {"dialogue.enabled=maybe"};
    assert_int_equal(load_defaults(c, bad_bool, 1), GS_ERR_CONFIG);
    assert_starts_with(c->err, "command line: dialogue.enabled: ");
}

/* ---- librdkafka pass-through -------------------------------------------------------- */

static void test_kafka_passthrough(void **state)
{
    ctx_t *c = *state;
    const char *text = "kafka: {\n"
                       "  bootstrap_servers = \"h:1\";\n"
                       "  socket_timeout_ms = 5000;\n"
                       "  ssl: { ca: { location = \"/x\"; }; };\n"
                       "  enable_idempotence = true;\n"
                       "};\n";
    if (load_text(c, text, NULL, 0, NULL))
        fail_msg("%s", c->err);
    const gs_config_kvlist_t *k = &c->cfg->kafka;
    assert_int_equal(k->count, 4);
    assert_kv(k, "bootstrap.servers", "h:1");
    assert_kv(k, "socket.timeout.ms", "5000");
    assert_kv(k, "ssl.ca.location", "/x");
    assert_kv(k, "enable.idempotence", "true");
    assert_int_equal(find_kv(k, "bootstrap.servers")->line, 2);
    assert_int_equal(find_kv(k, "ssl.ca.location")->line, 4);
    assert_int_equal(find_kv(k, "bootstrap.servers")->secret, 0);
    assert_int_equal(c->cfg->kafka_consumer.count, 0);
    assert_int_equal(c->cfg->kafka_producer.count, 0);
}

static void test_kafka_role_groups(void **state)
{
    ctx_t *c = *state;
    const char *text = "kafka: { client_id = \"both\"; };\n"
                       "kafka_consumer: {\n"
                       "  group_id = \"g\";\n"
                       "  max_poll_interval_ms = 600000;\n"
                       "};\n"
                       "kafka_producer: {\n"
                       "  linger_ms = 7;\n"
                       "  acks = \"all\";\n"
                       "};\n";
    const char *ov[] = {"kafka_producer.compression.type=lz4", "kafka_consumer.group.id=h"};
    if (load_text(c, text, ov, 2, NULL))
        fail_msg("%s", c->err);
    assert_int_equal(c->cfg->kafka.count, 1);
    assert_kv(&c->cfg->kafka, "client.id", "both");
    assert_int_equal(c->cfg->kafka_consumer.count, 2);
    assert_kv(&c->cfg->kafka_consumer, "group.id", "h");
    assert_kv(&c->cfg->kafka_consumer, "max.poll.interval.ms", "600000");
    assert_int_equal(c->cfg->kafka_producer.count, 3);
    assert_kv(&c->cfg->kafka_producer, "linger.ms", "7");
    assert_kv(&c->cfg->kafka_producer, "acks", "all");
    assert_kv(&c->cfg->kafka_producer, "compression.type", "lz4");
    assert_null(find_kv(&c->cfg->kafka, "group.id"));
}

/* A later setting of the same property replaces the earlier one. */
static void test_kafka_later_wins(void **state)
{
    ctx_t *c = *state;
    const char *ov[] = {"kafka.socket.timeout.ms=7000"};
    if (load_text(c, "kafka: {\n  socket_timeout_ms = 5000;\n  client_id = \"c\";\n};\n", ov, 1,
                  NULL))
        fail_msg("%s", c->err);
    assert_int_equal(c->cfg->kafka.count, 2);
    assert_kv(&c->cfg->kafka, "socket.timeout.ms", "7000");
    assert_int_equal(find_kv(&c->cfg->kafka, "socket.timeout.ms")->line, 0); /* command line */
    assert_kv(&c->cfg->kafka, "client.id", "c");

    /* two spellings of one name inside the file: the later one */
    if (load_text(c,
                  "kafka: {\n  socket_timeout_ms = 1;\n  socket: { timeout: { ms = 2; }; };\n};\n",
                  NULL, 0, NULL))
        fail_msg("%s", c->err);
    assert_int_equal(c->cfg->kafka.count, 1);
    assert_kv(&c->cfg->kafka, "socket.timeout.ms", "2");
}

/* librdkafka takes inline PEM (ssl.ca.pem, ssl.certificate.pem) whose values
 * are often longer than 4 KiB: they must arrive whole, or be refused. */
static void test_kafka_long_value(void **state)
{
    ctx_t *c = *state;
    enum { LEN = 6000 };
    char *text = malloc(LEN + 128);
    assert_non_null(text);
    int n = snprintf(text, 64, "kafka: {\n  ssl_ca_pem = \"");
    memset(text + n, 'A', LEN);
    snprintf(text + n + LEN, 64, "\";\n};\n");
    gs_err_t rc = load_text(c, text, NULL, 0, NULL);
    free(text);
    if (rc == GS_ERR_CONFIG) {
        assert_contains(c->err, "kafka.ssl_ca_pem");
        return;
    }
    assert_int_equal(rc, GS_OK);
    const gs_config_kv_t *kv = find_kv(&c->cfg->kafka, "ssl.ca.pem");
    assert_non_null(kv);
    if (strlen(kv->value) != LEN)
        fail_msg("ssl.ca.pem: %zu of %d bytes kept, silently truncated", strlen(kv->value), LEN);
}

/* ---- secrets -------------------------------------------------------------------------- */

static void test_secret_literal_refused(void **state)
{
    ctx_t *c = *state;
    expect_error_at(c, "kafka: {\n  sasl_password = \"x\";\n};\n", 2, "kafka.sasl_password");
    assert_contains(c->err, "_env");
    expect_error_at(c, "kafka_consumer: {\n  ssl_key_password = \"x\";\n};\n", 2,
                    "kafka_consumer.ssl_key_password");
    assert_contains(c->err, "_env");
    expect_error_at(c, "kafka: { ssl: { keystore: { password = \"x\"; }; }; };\n", 1,
                    "kafka.ssl.keystore.password");

    const char *ov[] = {"kafka.sasl.password=x"};
    assert_int_equal(load_defaults(c, ov, 1), GS_ERR_CONFIG);
    assert_starts_with(c->err, "command line: ");
    assert_contains(c->err, "_env");
}

static void test_secret_env(void **state)
{
    ctx_t *c = *state;
    const char *text =
        "kafka: {\n  sasl_username = \"u\";\n  sasl_password_env = \"GS_TEST_PW\";\n};\n";
    setenv("GS_TEST_PW", "pw-from-env-7731", 1);
    if (load_text(c, text, NULL, 0, NULL))
        fail_msg("%s", c->err);
    const gs_config_kv_t *kv = find_kv(&c->cfg->kafka, "sasl.password");
    assert_non_null(kv);
    assert_string_equal(kv->value, "pw-from-env-7731");
    assert_int_equal(kv->secret, 1);
    assert_int_equal(find_kv(&c->cfg->kafka, "sasl.username")->secret, 0);
    assert_null(find_kv(&c->cfg->kafka, "sasl.password.env"));

    unsetenv("GS_TEST_PW");
    const char *path;
    assert_int_equal(load_text(c, text, NULL, 0, &path), GS_ERR_CONFIG);
    char want[128];
    snprintf(want, sizeof(want), "%s:3: kafka.sasl_password_env:", path);
    assert_contains(c->err, want);
    assert_contains(c->err, "GS_TEST_PW");
    assert_contains(c->err, "not set");
}

static void test_secret_file(void **state)
{
    ctx_t *c = *state;
    const char *secret = temp_file(c, "pw-from-file\n");
    const char *crlf = temp_file(c, "pw-crlf\r\n");
    char text[512];
    /* the second one is relative: resolved against the config's directory */
    snprintf(text, sizeof(text),
             "kafka: {\n  sasl_password_file = \"%s\";\n};\n"
             "kafka_producer: {\n  ssl_key_password_file = \"%s\";\n};\n",
             secret, strrchr(crlf, '/') + 1);
    if (load_text(c, text, NULL, 0, NULL))
        fail_msg("%s", c->err);
    const gs_config_kv_t *kv = find_kv(&c->cfg->kafka, "sasl.password");
    assert_non_null(kv);
    assert_string_equal(kv->value, "pw-from-file");
    assert_int_equal(kv->secret, 1);
    kv = find_kv(&c->cfg->kafka_producer, "ssl.key.password");
    assert_non_null(kv);
    assert_string_equal(kv->value, "pw-crlf");
    assert_int_equal(kv->secret, 1);

    const char *path;
    assert_int_equal(
        load_text(c, "kafka: {\n  sasl_password_file = \"/nonexistent/pw\";\n};\n", NULL, 0, &path),
        GS_ERR_CONFIG);
    char want[128];
    snprintf(want, sizeof(want), "%s:2: kafka.sasl_password_file:", path);
    assert_contains(c->err, want);
    assert_contains(c->err, "/nonexistent/pw");
}

static void test_registry_password(void **state)
{
    ctx_t *c = *state;
    setenv("GS_TEST_REG_PW", "reg-env-pw", 1);
    const char *ov[] = {"registry.password_env=GS_TEST_REG_PW"};
    if (load_defaults(c, ov, 1))
        fail_msg("%s", c->err);
    assert_string_equal(c->cfg->registry.password, "reg-env-pw");
    unsetenv("GS_TEST_REG_PW");
    assert_int_equal(load_defaults(c, ov, 1), GS_ERR_CONFIG);
    assert_contains(c->err, "registry.password_env");
    assert_contains(c->err, "GS_TEST_REG_PW");

    /* password_file is a path: relative to the config file's directory */
    const char *pw = temp_file(c, "reg-file-pw\n");
    char text[256];
    snprintf(text, sizeof(text), "registry: {\n  password_file = \"%s\";\n};\n",
             strrchr(pw, '/') + 1);
    if (load_text(c, text, NULL, 0, NULL))
        fail_msg("%s", c->err);
    assert_string_equal(c->cfg->registry.password, "reg-file-pw");
}

/* The same secret file must give the same secret to the registry client as
 * to librdkafka (which strips CR LF as well as LF). */
static void test_registry_password_file_crlf(void **state)
{
    ctx_t *c = *state;
    const char *pw = temp_file(c, "reg-crlf-pw\r\n");
    char text[256];
    snprintf(text, sizeof(text),
             "registry: {\n  password_file = \"%s\";\n};\nkafka: {\n  sasl_password_file = "
             "\"%s\";\n};\n",
             pw, pw);
    if (load_text(c, text, NULL, 0, NULL))
        fail_msg("%s", c->err);
    assert_kv(&c->cfg->kafka, "sasl.password", "reg-crlf-pw");
    const char *got = c->cfg->registry.password;
    if (strcmp(got, "reg-crlf-pw"))
        fail_msg("registry.password from a CR LF file is %zu bytes%s, want \"reg-crlf-pw\" (11)",
                 strlen(got), got[strlen(got) - 1] == '\r' ? " ending in CR" : "");
}

static void test_auto_offset_store_refused(void **state)
{
    ctx_t *c = *state;
    const char *path;
    assert_int_equal(
        load_text(c, "kafka: {\n  enable_auto_offset_store = false;\n};\n", NULL, 0, &path),
        GS_ERR_CONFIG);
    assert_contains(c->err, path);
    assert_contains(c->err, "enable_auto_offset_store");
    assert_null(c->cfg);

    assert_int_equal(
        load_text(c, "kafka_consumer: {\n  enable_auto_offset_store = true;\n};\n", NULL, 0, NULL),
        GS_ERR_CONFIG);
    assert_contains(c->err, "enable_auto_offset_store");

    const char *ov[] = {"kafka.enable.auto.offset.store=false"};
    assert_int_equal(load_defaults(c, ov, 1), GS_ERR_CONFIG);
    assert_contains(c->err, "enable_auto_offset_store");
}

/* librdkafka property `name` of a client built from c->cfg, "" if unset;
 * in c->out. */
static const char *client_prop(ctx_t *c, gs_kafka_role_t role, const char *name)
{
    char *buf = c->out;
    rd_kafka_conf_t *conf;
    if (gs_kafka_conf_build(c->cfg, role, &conf, c->err, sizeof(c->err)))
        fail_msg("%s", c->err);
    size_t n = sizeof(c->out);
    if (rd_kafka_conf_get(conf, name, buf, &n) != RD_KAFKA_CONF_OK)
        buf[0] = '\0';
    rd_kafka_conf_destroy(conf);
    return buf;
}

static void test_delivery_mode(void **state)
{
    ctx_t *c = *state;
    if (load_defaults(c, NULL, 0))
        fail_msg("%s", c->err);
    assert_int_equal(c->cfg->delivery.mode, GS_DELIVERY_AT_LEAST_ONCE);
    assert_string_equal(client_prop(c, GS_KAFKA_PRODUCER, "transactional.id"), "");
    assert_string_equal(client_prop(c, GS_KAFKA_CONSUMER, "enable.auto.commit"), "true");

    const char *eos[] = {"delivery.mode=exactly_once", "worker.id=w7",
                         "kafka_consumer.group.id=blue", "delivery.transaction_timeout_ms=20000",
                         "kafka_consumer.enable.auto.commit=true"};
    if (load_defaults(c, eos, 5))
        fail_msg("%s", c->err);
    assert_int_equal(c->cfg->delivery.mode, GS_DELIVERY_EXACTLY_ONCE);
    assert_string_equal(client_prop(c, GS_KAFKA_PRODUCER, "transactional.id"), "blue.w7");
    assert_string_equal(client_prop(c, GS_KAFKA_PRODUCER, "transaction.timeout.ms"), "20000");
    assert_string_equal(client_prop(c, GS_KAFKA_PRODUCER, "message.timeout.ms"), "20000");
    /* the mode wins over the user's auto-commit */
    assert_string_equal(client_prop(c, GS_KAFKA_CONSUMER, "enable.auto.commit"), "false");
    assert_string_equal(client_prop(c, GS_KAFKA_CONSUMER, "isolation.level"), "read_committed");
    /* metrics and alerts: a producer outside the transactions */
    assert_string_equal(client_prop(c, GS_KAFKA_SIDE, "transactional.id"), "");

    const char *bad[] = {"delivery.mode=twice"};
    assert_int_equal(load_defaults(c, bad, 1), GS_ERR_CONFIG);
    assert_contains(c->err, "delivery.mode");
    const char *owned[] = {"kafka_producer.transactional.id=mine"};
    assert_int_equal(load_defaults(c, owned, 1), GS_ERR_CONFIG);
    assert_contains(c->err, "transactional.id");
    const char *owned2[] = {"kafka.transaction.timeout.ms=5000"};
    assert_int_equal(load_defaults(c, owned2, 1), GS_ERR_CONFIG);
    assert_contains(c->err, "transaction.timeout.ms");
    const char *slow[] = {"delivery.transaction_interval_ms=10000"};
    assert_int_equal(load_defaults(c, slow, 1), GS_ERR_CONFIG);
    assert_contains(c->err, "transaction_interval_ms");
}

/* ---- rules over several keys ------------------------------------------------------------ */

static void test_cross_checks(void **state)
{
    ctx_t *c = *state;
    const char *confluent[] = {"dialogue.input_framing=confluent"};
    assert_int_equal(load_defaults(c, confluent, 1), GS_ERR_CONFIG);
    assert_contains(c->err, "registry.url");
    const char *dl_confluent[] = {"deadletter.framing=confluent"};
    assert_int_equal(load_defaults(c, dl_confluent, 1), GS_ERR_CONFIG);
    assert_contains(c->err, "registry.url");
    const char *with_registry[] = {"dialogue.output_framing=confluent",
                                   "registry.url=http://127.0.0.1:8081"};
    if (load_defaults(c, with_registry, 2))
        fail_msg("%s", c->err);
    assert_int_equal(DLG(c->cfg)->output_framing, GS_FRAMING_CONFLUENT);

    const char *queue_eq[] = {"delivery.queue_low_pct=80"};
    assert_int_equal(load_defaults(c, queue_eq, 1), GS_ERR_CONFIG);
    assert_contains(c->err, "queue_low_pct");
    const char *queue_over[] = {"delivery.queue_low_pct=90"};
    assert_int_equal(load_defaults(c, queue_over, 1), GS_ERR_CONFIG);
    const char *queue_ok[] = {"delivery.queue_low_pct=79"};
    if (load_defaults(c, queue_ok, 1))
        fail_msg("%s", c->err);

    const char *inflight[] = {"delivery.max_inflight_per_partition=100", "batch.max=101"};
    assert_int_equal(load_defaults(c, inflight, 2), GS_ERR_CONFIG);
    assert_contains(c->err, "max_inflight_per_partition");

    const char *dl_small[] = {"deadletter.max_value_bytes=1000", "limits.max_request_bytes=1001"};
    assert_int_equal(load_defaults(c, dl_small, 2), GS_ERR_CONFIG);
    assert_contains(c->err, "max_value_bytes");

    /* 11 attempts x 100 s cannot fit half of the default 300 s poll interval */
    const char *slow[] = {"registry.url=http://r:8081", "registry.timeout_ms=100000",
                          "registry.retries=10"};
    assert_int_equal(load_defaults(c, slow, 3), GS_ERR_CONFIG);
    assert_contains(c->err, "registry.timeout_ms");
    assert_contains(c->err, "max.poll.interval.ms");
    /* without a registry the registry timings do not matter */
    if (load_defaults(c, slow + 1, 2))
        fail_msg("%s", c->err);
    /* a longer poll interval (here on the consumer) makes room */
    const char *slow_ok[] = {"registry.url=http://r:8081", "registry.timeout_ms=100000",
                             "registry.retries=10", "kafka_consumer.max.poll.interval.ms=3000000"};
    if (load_defaults(c, slow_ok, 4))
        fail_msg("%s", c->err);
    /* and a shorter one (shared section) makes the defaults too slow:
     * 3 x 5000 + 200 + 400 = 15600 > 30000 / 2 */
    const char *short_poll[] = {"registry.url=http://r:8081", "kafka.max.poll.interval.ms=30000"};
    assert_int_equal(load_defaults(c, short_poll, 2), GS_ERR_CONFIG);
    assert_contains(c->err, "max.poll.interval.ms");
    const char *short_ok[] = {"registry.url=http://r:8081", "kafka.max.poll.interval.ms=31200"};
    if (load_defaults(c, short_ok, 2))
        fail_msg("%s", c->err);
}

/* ---- dump ------------------------------------------------------------------------------------ */

static void test_dump(void **state)
{
    ctx_t *c = *state;
    if (load_defaults(c, NULL, 0))
        fail_msg("%s", c->err);
    const char *d = dump(c, c->cfg);
    assert_starts_with(d, "worker.id = \"");
    assert_contains(d, "\nbatch.max = 256\n");
    assert_contains(d, "\nshutdown.timeout_ms = 30000\n");
    assert_contains(d, "\ndialogue.requests_topic = \"govstream.dialogue.requests\"\n");
    assert_contains(d, "\ndialogue.enabled = true\n");
    assert_contains(d, "\ngovernance.sleep_policy = \"degrade\"\n");
    assert_contains(d, "\nlog.level = \"info\"\n");

    /* secrets: resolved, used, never printed */
    setenv("GS_TEST_PW", "kafka-secret-5521", 1);
    setenv("GS_TEST_REG_PW", "registry-secret-8812", 1);
    const char *text = "kafka: {\n  bootstrap_servers = \"h:1\";\n"
                       "  sasl_password_env = \"GS_TEST_PW\";\n};\n"
                       "registry: {\n  password_env = \"GS_TEST_REG_PW\";\n};\n";
    const char *ov[] = {"batch.max=64"};
    if (load_text(c, text, ov, 1, NULL))
        fail_msg("%s", c->err);
    assert_kv(&c->cfg->kafka, "sasl.password", "kafka-secret-5521");
    assert_string_equal(c->cfg->registry.password, "registry-secret-8812");
    d = dump(c, c->cfg);
    assert_contains(d, "\nbatch.max = 64\n");
    assert_contains(d, "kafka.bootstrap.servers = \"h:1\"\n");
    assert_contains(d, "kafka.sasl.password = \"(secret)\"\n");
    assert_contains(d, "registry.password_env = \"GS_TEST_REG_PW\"\n");
    assert_not_contains(d, "kafka-secret-5521");
    assert_not_contains(d, "registry-secret-8812");

    /* one line per table key, each "key = value" */
    int lines = 0, keys = 0;
    for (const char *p = d; *p; p++)
        lines += *p == '\n';
    for (const char *p = d; (p = strstr(p, " = ")); p += 3)
        keys++;
    assert_int_equal(lines, keys);
}

/* A number key: file integers and floats, overrides, bounds, the dump. */
typedef struct dbl_conf {
    double x;
} dbl_conf_t;

static void test_double_key(void **state)
{
    ctx_t *c = *state;
    static const gs_config_key_t keys[] = {
        GS_CONFIG_DOUBLE("t.x", dbl_conf_t, x, "0.75", 0.0, 1.0, "a share"),
    };
    static const gs_config_section_t sec = {
        .name = "t", .doc = "test", .keys = keys, .n_keys = 1, .size = sizeof(dbl_conf_t)};
    const gs_config_section_t *secs[] = {&sec, NULL};
    char err[512];
    struct {
        const char *file, *ov;
        double want; /* < 0: refused */
    } cases[] = {
        {"", NULL, 0.75},
        {"t: { x = 0.9; };", NULL, 0.9},
        {"t: { x = 1; };", NULL, 1},
        {"", "t.x=0.125", 0.125},
        {"t: { x = 1.5; };", NULL, -1},
        {"t: { x = \"0.5\"; };", NULL, -1},
        {"", "t.x=abc", -1},
        {"", "t.x=nan", -1},
        {"", "t.x=0.5x", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *path = temp_file(c, cases[i].file);
        gs_config_t *cfg = NULL;
        gs_err_t e = gs_config_load(path, secs, cases[i].ov ? &cases[i].ov : NULL,
                                    cases[i].ov ? 1 : 0, &cfg, err, sizeof(err));
        unlink(path);
        c->n_files--;
        if (cases[i].want < 0) {
            if (e == GS_OK)
                fail_msg("case %zu: accepted", i);
            assert_non_null(strstr(err, "t.x"));
            continue;
        }
        if (e)
            fail_msg("case %zu: %s", i, err);
        const dbl_conf_t *d = gs_config_section(cfg, "t");
        assert_true(d->x == cases[i].want);
        if (i == 1) {
            char *buf = NULL;
            size_t len = 0;
            FILE *fp = open_memstream(&buf, &len);
            gs_config_dump(cfg, fp);
            fclose(fp);
            assert_non_null(strstr(buf, "\nt.x = 0.9\n"));
            free(buf);
        }
        gs_config_destroy(cfg);
    }
}

/* Relative paths (and only those) resolve against the file's directory. */
static void test_paths_relative_to_file(void **state)
{
    ctx_t *c = *state;
    const char *path;
    if (load_text(
            c,
            "governance: {\n  harm_lexicon = \"lex/h.txt\";\n  care_lexicon = \"/abs/c.txt\";\n};\n"
            "registry: { ca_file = \"certs/ca.pem\"; };\n",
            NULL, 0, &path))
        fail_msg("%s", c->err);
    char dir[64];
    snprintf(dir, sizeof(dir), "%s", path);
    *strrchr(dir, '/') = '\0';
    char want[128];
    snprintf(want, sizeof(want), "%s/lex/h.txt", dir);
    assert_string_equal(c->cfg->governance.harm_lexicon, want);
    assert_string_equal(c->cfg->governance.care_lexicon, "/abs/c.txt");
    snprintf(want, sizeof(want), "%s/certs/ca.pem", dir);
    assert_string_equal(c->cfg->registry.ca_file, want);
    assert_string_equal(c->cfg->registry.password_file, ""); /* empty stays empty */
    assert_string_equal(c->cfg->path, path);

    /* keys the file leaves out resolve their defaults there too */
    if (load_text(c, "batch: { max = 10; };\n", NULL, 0, &path))
        fail_msg("%s", c->err);
    snprintf(want, sizeof(want), "%s/lexicon/harm.txt", dir);
    assert_string_equal(c->cfg->governance.harm_lexicon, want);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_worker_id),
        T(test_shipped_file_equals_defaults),
        T(test_shipped_file_documents_every_key),
        T(test_error_unknown_key),
        T(test_error_wrong_type),
        T(test_error_out_of_range),
        T(test_error_bad_enum),
        T(test_error_syntax),
        T(test_overrides),
        T(test_kafka_passthrough),
        T(test_kafka_role_groups),
        T(test_kafka_later_wins),
        T(test_kafka_long_value),
        T(test_secret_literal_refused),
        T(test_secret_env),
        T(test_secret_file),
        T(test_registry_password),
        T(test_registry_password_file_crlf),
        T(test_auto_offset_store_refused),
        T(test_delivery_mode),
        T(test_cross_checks),
        T(test_double_key),
        T(test_dump),
        T(test_paths_relative_to_file),
    };
#undef T
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
