/* govstream - the worker command line, over a table of request kinds
 * (gs_kinds in the product; main.c).
 *
 *   govstream run -c FILE [-o key=value]...
 *   govstream check-config FILE [-o key=value]... [--dump]
 *   govstream config docs
 *   govstream schema print [--resolved] NAME | schema list
 *   govstream train KIND ...
 *   govstream model info|validate FILE
 *   govstream <a kind's command> ...   (for example: watchlist build)
 *   govstream version
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <avro.h>
#include <curl/curl.h>
#include <cblas.h>
#include <librdkafka/rdkafka.h>

#include "govstream/codec.h"
#include "govstream/config.h"
#include "govstream/govern.h"
#include "govstream/kafka.h"
#include "govstream/log.h"
#include "govstream/kinds.h"
#include "govstream/pipeline.h"
#include "cmds.h"

/* The one global: set by signal handlers, read by the poll loop. */
static volatile sig_atomic_t gs_signals;

static void on_signal(int sig)
{
    gs_signals |= sig == SIGHUP ? GS_SIG_RELOAD : GS_SIG_STOP;
}

static void usage(FILE *fp, const gs_kind_ops_t *const *kinds)
{
    fprintf(fp, "usage: govstream run -c FILE [-o key=value]...\n"
                "       govstream check-config FILE [-o key=value]... [--dump]\n"
                "       govstream config docs\n"
                "       govstream schema print [--resolved] NAME\n"
                "       govstream schema list\n");
    for (size_t i = 0; kinds[i]; i++)
        if (kinds[i]->train)
            fprintf(fp, "       govstream train %s ... (--help)\n", kinds[i]->name);
    for (size_t i = 0; kinds[i]; i++)
        for (const gs_kind_command_t *c = kinds[i]->commands; c && c->name; c++)
            fprintf(fp, "       govstream %s %s\n", c->name, c->usage);
    fprintf(fp, "       govstream model info|validate FILE\n"
                "       govstream version\n");
}

/* Collects -c FILE and -o key=value; returns the index of the first other
 * argument, or -1 on a usage error. */
static int parse_common(int argc, char **argv, int start, const char **file, const char **overrides,
                        size_t *n_overrides, int *dump)
{
    for (int i = start; i < argc; i++) {
        if (!strcmp(argv[i], "-c") && i + 1 < argc) {
            *file = argv[++i];
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            overrides[(*n_overrides)++] = argv[++i];
        } else if (dump && !strcmp(argv[i], "--dump")) {
            *dump = 1;
        } else if (argv[i][0] != '-' && !*file) {
            *file = argv[i];
        } else {
            fprintf(stderr, "govstream: unexpected argument \"%s\"\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

/* Loads the configuration and checks everything it refers to. */
static int check(const gs_config_t *cfg)
{
    char err[512];
    rd_kafka_conf_t *conf;
    for (int role = GS_KAFKA_CONSUMER; role <= GS_KAFKA_PRODUCER; role++) {
        if (gs_kafka_conf_build(cfg, (gs_kafka_role_t)role, &conf, err, sizeof(err))) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        rd_kafka_conf_destroy(conf);
    }
    gs_lexicon_t *lx;
    if (gs_lexicon_load(cfg->governance.harm_lexicon, cfg->governance.care_lexicon, &lx, err,
                        sizeof(err))) {
        fprintf(stderr, "%s: governance lexicon: %s\n", cfg->path, err);
        return 1;
    }
    gs_lexicon_destroy(lx);
    if (gs_worker_check_alerts(cfg, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    return 0;
}

typedef struct watchdog {
    gs_log_t *log;
    int timeout_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC */
    int done;          /* main finished the shutdown itself */
} watchdog_t;

static void ts_add_ms(struct timespec *t, long ms)
{
    t->tv_sec += ms / 1000;
    t->tv_nsec += (ms % 1000) * 1000000L;
    if (t->tv_nsec >= 1000000000L) {
        t->tv_sec++;
        t->tv_nsec -= 1000000000L;
    }
}

/* Last resort behind the worker's own deadlines: once a stop was asked
 * for, the process is gone within shutdown.timeout_ms. Waits on absolute
 * monotonic times, so an interrupted wait cannot end it early. */
static void *watchdog_main(void *arg)
{
    watchdog_t *wd = arg;
    struct timespec deadline = {0, 0};
    int armed = 0;
    pthread_mutex_lock(&wd->mu);
    while (!wd->done) {
        struct timespec now, wake;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (!armed && (gs_signals & GS_SIG_STOP)) {
            armed = 1;
            deadline = now;
            ts_add_ms(&deadline, wd->timeout_ms);
        }
        if (armed && (now.tv_sec > deadline.tv_sec ||
                      (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))) {
            gs_log_error(wd->log, "shutdown deadline exceeded; exiting now",
                         GS_LI("timeout_ms", wd->timeout_ms));
            _exit(3);
        }
        wake = now; /* poll the signal flag until armed */
        ts_add_ms(&wake, 50);
        pthread_cond_timedwait(&wd->cv, &wd->mu, armed ? &deadline : &wake);
    }
    pthread_mutex_unlock(&wd->mu);
    return NULL;
}

/* The BLAS kernel runs retrieval: a generic one on an AVX2 CPU costs about
 * half the throughput at full memory (docs/OPERATIONS.md). */
static void log_blas(gs_log_t *log)
{
    gs_blas_info_t b = gs_blas_info();
    gs_log_info(log, "BLAS", GS_LS("kernel", b.core), GS_LS("build", b.config ? b.config : ""),
                GS_LI("cpu_avx2", b.cpu_avx2), GS_LI("cpu_avx512", b.cpu_avx512),
                GS_LI("kernel_avx2", b.kernel_avx2), GS_LI("kernel_avx512", b.kernel_avx512));
    if (b.slow)
        gs_log_warn(log,
                    "the BLAS kernel uses neither AVX2 nor AVX-512 on a CPU that has them: set "
                    "OPENBLAS_CORETYPE (Haswell, or SkylakeX with AVX-512; docs/OPERATIONS.md)",
                    GS_LS("kernel", b.core));
}

static int cmd_run(const gs_config_t *cfg, const gs_kind_ops_t *const *kinds)
{
    if (check(cfg))
        return 1;
    gs_log_t *log = gs_log_new(2, (gs_log_level_t)cfg->log.level, cfg->worker.id);
    if (!log) {
        fprintf(stderr, "govstream: out of memory\n");
        return 1;
    }
    /* One BLAS thread: the poll loop is the unit of parallelism (scale with
     * processes); more threads would fight librdkafka for the cores. */
    if (!getenv("OPENBLAS_NUM_THREADS"))
        openblas_set_num_threads(1);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* before any thread exists: curl's global init is not thread-safe on
     * every build */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char err[512];
    gs_worker_t *w;
    if (gs_worker_new(cfg, kinds, log, &w, err, sizeof(err))) {
        gs_log_error(log, "cannot start", GS_LS("error", err));
        gs_log_destroy(log);
        return 1;
    }
    watchdog_t wd = {.log = log, .timeout_ms = cfg->shutdown.timeout_ms};
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wd.cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&wd.mu, NULL);
    pthread_t th;
    pthread_create(&th, NULL, watchdog_main, &wd);
    gs_log_info(log, "govstream starting", GS_LS("version", GS_VERSION), GS_LS("config", cfg->path),
                GS_LS("librdkafka", rd_kafka_version_str()));
    log_blas(log);
    int rc = gs_worker_run(w, &gs_signals);
    gs_worker_destroy(w);
    pthread_mutex_lock(&wd.mu);
    wd.done = 1;
    pthread_cond_signal(&wd.cv);
    pthread_mutex_unlock(&wd.mu);
    pthread_join(th, NULL);
    pthread_cond_destroy(&wd.cv);
    pthread_mutex_destroy(&wd.mu);
    gs_log_info(log, "exit", GS_LI("code", rc));
    gs_log_destroy(log);
    return rc;
}

static int cmd_schema(int argc, char **argv, const gs_kind_ops_t *const *kinds)
{
    if (argc == 3 && !strcmp(argv[2], "list")) {
        for (size_t i = 0; gs_schema_name(i); i++)
            printf("%s\n", gs_schema_name(i));
        return 0;
    }
    int resolved = argc == 5 && !strcmp(argv[3], "--resolved");
    if ((argc == 4 || resolved) && !strcmp(argv[2], "print")) {
        const char *name = argv[argc - 1];
        const char *text = resolved ? gs_schema_resolved(name) : gs_schema_text(name);
        for (size_t i = 0; !text && kinds[i]; i++) /* a kind's own schemas (tests) */
            for (int r = 0; r < 2 && !text; r++) {
                const gs_avro_type_t *t = r ? kinds[i]->result : kinds[i]->request;
                if (!strcmp(t->name, name))
                    text = resolved ? t->schema : t->text;
            }
        if (!text) {
            fprintf(stderr, "govstream: no schema named %s (see: govstream schema list)\n", name);
            return 1;
        }
        fputs(text, stdout);
        return 0;
    }
    usage(stderr, kinds);
    return 2;
}

/* docs/CONFIG.md, from the key tables. */
static int cmd_config(int argc, char **argv, const gs_kind_ops_t *const *kinds)
{
    if (argc != 3 || strcmp(argv[2], "docs") != 0) {
        usage(stderr, kinds);
        return 2;
    }
    const gs_config_section_t *sections[gs_kinds_count(kinds) + 1];
    gs_kinds_sections(kinds, sections, sizeof(sections) / sizeof(sections[0]));
    gs_config_docs_intro(stdout);
    gs_kafka_docs(stdout);
    gs_config_docs_keys(sections, stdout);
    fputs("\n", stdout);
    gs_config_docs_rules(stdout);
    return 0;
}

/* A command some kind brings, by its name; NULL: none does. */
static const gs_kind_command_t *find_command(const gs_kind_ops_t *const *kinds, const char *name)
{
    for (size_t i = 0; kinds[i]; i++)
        for (const gs_kind_command_t *c = kinds[i]->commands; c && c->name; c++)
            if (!strcmp(c->name, name))
                return c;
    return NULL;
}

/* govstream train KIND ...: the kind's own training command. */
static int cmd_train(int argc, char **argv, const gs_kind_ops_t *const *kinds)
{
    const gs_kind_ops_t *k = argc > 2 ? gs_kinds_find(kinds, argv[2]) : NULL;
    if (!k || !k->train) {
        if (argc > 2)
            fprintf(stderr, "govstream: no kind \"%s\" to train\n", argv[2]);
        usage(stderr, kinds);
        return 2;
    }
    return k->train(argc - 2, argv + 2);
}

static int cmd_config_file(const char *cmd, int argc, char **argv,
                           const gs_kind_ops_t *const *kinds)
{
    const char *file = NULL;
    const char **overrides = calloc((size_t)argc, sizeof(*overrides));
    size_t n_over = 0;
    int dump = 0;
    if (!overrides ||
        parse_common(argc, argv, 2, &file, overrides, &n_over,
                     !strcmp(cmd, "run") ? NULL : &dump) ||
        !file) {
        free(overrides);
        usage(stderr, kinds);
        return 2;
    }
    const gs_config_section_t *sections[gs_kinds_count(kinds) + 1];
    gs_kinds_sections(kinds, sections, sizeof(sections) / sizeof(sections[0]));
    gs_config_t *cfg;
    char err[1024];
    gs_err_t e = gs_config_load(file, sections, overrides, n_over, &cfg, err, sizeof(err));
    free(overrides);
    if (e) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rc;
    if (!strcmp(cmd, "run")) {
        rc = cmd_run(cfg, kinds);
    } else {
        rc = check(cfg);
        if (!rc && dump)
            gs_config_dump(cfg, stdout);
        if (!rc)
            fprintf(stderr, "%s: OK\n", file);
    }
    gs_config_destroy(cfg);
    return rc;
}

int gs_govstream_main(int argc, char **argv, const gs_kind_ops_t *const *kinds)
{
    if (argc < 2) {
        usage(stderr, kinds);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "version")) {
        printf("govstream %s (librdkafka %s, avro-c, C11, OpenBLAS kernel %s)\n", GS_VERSION,
               rd_kafka_version_str(), gs_blas_info().core);
        return 0;
    }
    if (!strcmp(cmd, "schema"))
        return cmd_schema(argc, argv, kinds);
    if (!strcmp(cmd, "config"))
        return cmd_config(argc, argv, kinds);
    if (!strcmp(cmd, "train"))
        return cmd_train(argc, argv, kinds);
    if (!strcmp(cmd, "model"))
        return gs_cmd_model(argc - 1, argv + 1, kinds);
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout, kinds);
        return 0;
    }
    if (!strcmp(cmd, "run") || !strcmp(cmd, "check-config"))
        return cmd_config_file(cmd, argc, argv, kinds);
    const gs_kind_command_t *kc = find_command(kinds, cmd);
    if (kc)
        return kc->run(argc - 1, argv + 1);
    fprintf(stderr, "govstream: unknown command \"%s\"\n", cmd);
    usage(stderr, kinds);
    return 2;
}
