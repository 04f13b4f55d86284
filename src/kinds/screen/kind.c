/* The screen kind, per request of a micro-batch:
 *   validate -> rate limit (per tenant, SPEC 1.2) -> screen the text and
 *   the counterparty against the loaded watch list (engine.c) -> decision
 *   from the configured thresholds -> result; a HIGH raises an alert.
 * The watch list is loaded at start and on SIGHUP and swapped between
 * batches; the old one stays when a reload fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "govstream/screen_list.h"
#include "private.h"

typedef struct screen_conf {
    gs_config_kind_t stream; /* first: the worker reads it */
    char *list;              /* models.screen */
    double high, medium;     /* score thresholds */
    int alert_high;
    gs_kind_rate_t rate;
} screen_conf_t;

/* What one request's alert is made of, alive until the batch is encoded. */
typedef struct alert_slot {
    gs_alert_event_t ev;
    const char *labels[2];
    const char *ann[10];
    char score[16];
    char request_id[GS_KIND_MAX_ID + 1], account_id[GS_KIND_MAX_ID + 1];
    char entry_id[64];
    char list[32];
} alert_slot_t;

struct gs_kind {
    const screen_conf_t *conf;
    gs_screen_engine_t *engine; /* NULL until a list loaded */
    gs_screen_scratch_t *scratch;
    gs_kind_gate_t gate;
    size_t cap;           /* batch.max */
    alert_slot_t *alerts; /* cap */
};

static const gs_avro_screen_request_t *req_of(const gs_item_t *it)
{
    return it->request;
}

/* A HIGH: labels bounded (alertname, severity, worker, list); the request,
 * the account and the entry in the annotations; never the payment text. */
static const gs_alert_event_t *alert_of(gs_kind_t *d, size_t j, const gs_avro_screen_request_t *r,
                                        const gs_avro_screen_result_t *res)
{
    alert_slot_t *a = &d->alerts[j];
    const gs_avro_match_t *m = &res->matches[0];
    gs_kind_copy_str(a->request_id, sizeof(a->request_id), r->request_id);
    gs_kind_copy_str(a->account_id, sizeof(a->account_id), r->account_id);
    gs_kind_copy_str(a->entry_id, sizeof(a->entry_id), m->entry_id);
    gs_kind_copy_str(a->list, sizeof(a->list), m->list);
    snprintf(a->score, sizeof(a->score), "%.3f", res->score);
    a->labels[0] = "list";
    a->labels[1] = a->list;
    const char *ann[] = {"summary",    "a payment matched a watch-list entry",
                         "request_id", a->request_id,
                         "account_id", a->account_id,
                         "entry_id",   a->entry_id,
                         "score",      a->score};
    memcpy(a->ann, ann, sizeof(ann));
    a->ev = (gs_alert_event_t){.name = "GovstreamScreenHigh",
                               .severity = "critical",
                               .labels = a->labels,
                               .n_labels = 1,
                               .annotations = a->ann,
                               .n_annotations = 5};
    return &a->ev;
}

static void refuse(gs_kind_t *d, gs_avro_screen_result_t *res)
{
    *res = (gs_avro_screen_result_t){
        .accepted = false,
        .note = gs_avro_cstr("rate limited"),
        .decision = GS_AVRO_DECISION_SKIP,
        .language = gs_avro_cstr(""),
        .model = gs_screen_engine_ref(d->engine),
    };
}

static void screen_one(gs_kind_t *d, size_t j, gs_item_t *it, gs_arena_t *arena)
{
    const gs_avro_screen_request_t *r = req_of(it);
    gs_avro_screen_result_t *res = it->result;
    if ((it->err = gs_screen_request_validate(r, it->errmsg, sizeof(it->errmsg))))
        return;
    int64_t t0 = gs_now_us();
    int64_t ts = it->timestamp_ms >= 0 ? it->timestamp_ms : r->created_at_ms;
    if (!gs_kind_gate_pass(&d->gate, it->partition, r->tenant, ts)) {
        refuse(d, res);
        it->govern_us = gs_now_us() - t0;
        return;
    }
    int64_t t1 = gs_now_us();
    screen_thresholds_t p = {.high = d->conf->high, .medium = d->conf->medium};
    it->err = gs_screen_engine_run(d->engine, d->scratch, r, &p, res, arena, it->errmsg,
                                   sizeof(it->errmsg));
    it->govern_us = t1 - t0;
    it->infer_us = gs_now_us() - t1;
    if (it->err)
        return;
    res->accepted = true;
    res->note = gs_avro_cstr("screened");
    res->model = gs_screen_engine_ref(d->engine);
    it->accepted = true;
    if (res->decision == GS_AVRO_DECISION_HIGH && d->conf->alert_high && res->n_matches)
        it->alert = alert_of(d, j, r, res);
}

static void process(gs_kind_t *d, const gs_batch_t *b)
{
    for (size_t i = 0; i < b->n && i < d->cap; i++)
        screen_one(d, i, b->items[i], b->arena);
}

/* Loads models.screen and swaps it in; the old list stays on failure. The
 * poll loop calls this between batches, so the swap is atomic for
 * requests. */
static gs_err_t load_models(gs_kind_t *d, char *errstr, size_t n)
{
    if (!*d->conf->list)
        return gs_fail(errstr, n, GS_ERR_CONFIG,
                       "no watch list configured: set models.screen (govstream watchlist build)");
    gs_screen_engine_t *e;
    gs_err_t err = gs_screen_engine_load(d->conf->list, &e, errstr, n);
    if (err)
        return err;
    gs_screen_engine_destroy(d->engine);
    d->engine = e;
    return GS_OK;
}

static void destroy(gs_kind_t *d)
{
    if (!d)
        return;
    gs_screen_engine_destroy(d->engine);
    gs_screen_scratch_destroy(d->scratch);
    gs_kind_gate_free(&d->gate);
    free(d->alerts);
    free(d);
}

static gs_err_t create(const gs_config_t *cfg, const void *conf, gs_kind_t **out, char *errstr,
                       size_t n)
{
    gs_kind_t *d = calloc(1, sizeof(*d));
    if (!d)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    d->conf = conf;
    d->cap = (size_t)cfg->batch.max;
    d->alerts = calloc(d->cap, sizeof(*d->alerts));
    gs_err_t err = d->alerts ? gs_screen_scratch_new(&d->scratch, errstr, n)
                             : gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    if (!err)
        err = gs_kind_gate_init(&d->gate, "screen", &d->conf->rate, errstr, n);
    if (err) {
        destroy(d);
        return err;
    }
    *out = d;
    return GS_OK;
}

static size_t stores(gs_kind_t *d, const gs_store_t **out)
{
    return gs_kind_gate_stores(&d->gate, out);
}

static gs_err_t check(const gs_config_t *cfg, const void *conf, char *errstr, size_t n)
{
    const screen_conf_t *c = conf;
    if (c->medium > c->high)
        return gs_fail(errstr, n, GS_ERR_CONFIG,
                       "screen.medium (%g) must not be above screen.high (%g)", c->medium, c->high);
    return gs_kind_check_stream(cfg, &c->stream, errstr, n);
}

static const gs_config_key_t keys[] = {
    GS_KIND_STREAM_KEYS("screen", screen_conf_t, "false"),
    GS_CONFIG_PATH("models.screen", screen_conf_t, list, "../.cache/models/watchlist.gsl",
                   "watch-list file (`govstream watchlist build`); the default is the one "
                   "`ops/quickstart.sh` builds from the UN list. Without a list the worker is not "
                   "ready"),
    GS_CONFIG_DOUBLE("screen.high", screen_conf_t, high, "0.9", 0.0, 1.0,
                     "a best match scoring at least this is `HIGH` (and raises an alert)"),
    GS_CONFIG_DOUBLE("screen.medium", screen_conf_t, medium, "0.75", 0.0, 1.0,
                     "a best match scoring at least this (and below `screen.high`) is `MEDIUM`; "
                     "lower is `LOW`"),
    GS_CONFIG_BOOL("screen.alert_high", screen_conf_t, alert_high, "true",
                   "a `HIGH` raises the `GovstreamScreenHigh` alert (webhook and alerts topic)"),
    GS_KIND_RATE_KEYS("screen", screen_conf_t, "decision `SKIP`"),
};

static const gs_config_section_t section = {
    .name = "screen",
    .doc = "The screen kind (SPEC 1.5): `ScreenRequest` in, `ScreenResult` out, keyed by "
           "`account_id`; payment texts screened against a watch list.",
    .keys = keys,
    .n_keys = sizeof(keys) / sizeof(keys[0]),
    .size = sizeof(screen_conf_t),
    .check = check,
};

static const gs_kind_command_t commands[] = {
    {"watchlist", "build|info|validate|eval ... (--help)", gs_screen_watchlist_cmd},
    {NULL, NULL, NULL},
};

const gs_kind_ops_t gs_kind_screen = {
    .name = "screen",
    .request = &gs_avro_type_screen_request,
    .result = &gs_avro_type_screen_result,
    .key_field = "account_id",
    .config = &section,
    .create = create,
    .destroy = destroy,
    .load_models = load_models,
    .process = process,
    .stores = stores,
    .load = &gs_screen_load,
    .commands = commands,
};
