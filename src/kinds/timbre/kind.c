/* The timbre kind, per clip of a micro-batch (docs/TIMBRE.md):
 *   validate -> rate limit (per tenant, SPEC 1.2) -> int16 to float ->
 *   resample to 22,050 Hz -> features, pooled -> family probabilities (the
 *   loaded model) -> this clip's top_k -> the recording's sum of
 *   log-probabilities (a state store) -> on the last clip, the recording's
 *   top_k.
 * The model is loaded at start and on SIGHUP and swapped between batches;
 * the old one stays when a reload fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "features.h"
#include "internal.h"
#include "model.h"

#define MAX_IN          (TIMBRE_MAX_MS / 1000 * GS_TIMBRE_RATE_MAX) /* samples of the longest clip */
#define LOGP_EPS        1e-6 /* a family's floor in the log: one clip cannot veto it */
#define EXPIRE_EVERY_MS 1000

typedef struct timbre_conf {
    gs_config_kind_t stream; /* first: the worker reads it */
    char *model;             /* models.timbre */
    double idle_s;
    int max_recordings;
    gs_kind_rate_t rate;
} timbre_conf_t;

struct gs_kind {
    const timbre_conf_t *conf;
    timbre_model_t *model; /* NULL until one loaded */
    gs_timbre_fx_t *fx;
    rec_table_t *recs;
    gs_kind_gate_t gate;
    gs_store_t stores[2];
    float *in, *y, *scratch, *cnn_x;
    int64_t expired_at_ms;
};

static gs_avro_model_ref_t model_ref(const timbre_model_t *m)
{
    return (gs_avro_model_ref_t){gs_avro_cstr(m->name), gs_avro_cstr(m->version),
                                 gs_avro_cstr(m->sha256)};
}

/* The top k of p (sorted descending, ties in the families' order). */
static gs_avro_label_t *top_labels(const double *p, int k, gs_arena_t *arena, size_t *n)
{
    gs_avro_label_t *l = gs_arena_alloc(arena, (size_t)k * sizeof(*l));
    int order[GS_TIMBRE_N_FAMILIES] = {0};
    *n = 0;
    if (!l)
        return NULL;
    for (int i = 0; i < GS_TIMBRE_N_FAMILIES; i++) {
        int j = i;
        for (; j > 0 && p[order[j - 1]] < p[i]; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    for (int i = 0; i < k; i++)
        l[i] = (gs_avro_label_t){gs_avro_cstr(gs_timbre_family_names[order[i]]), p[order[i]]};
    *n = (size_t)k;
    return l;
}

/* The recording's probabilities: the normalised geometric mean of its
 * clips' (the mean of their log-probabilities, through a softmax). */
static void recording_probs(const double *sum, uint32_t clips, double *p)
{
    double top = -INFINITY, s = 0;
    for (int j = 0; j < GS_TIMBRE_N_FAMILIES; j++)
        top = fmax(top, sum[j] / clips);
    for (int j = 0; j < GS_TIMBRE_N_FAMILIES; j++)
        s += p[j] = exp(sum[j] / clips - top);
    for (int j = 0; j < GS_TIMBRE_N_FAMILIES; j++)
        p[j] /= s;
}

static void answer_recording(const gs_avro_timbre_request_t *r, gs_avro_timbre_result_t *res,
                             const double *sum, uint32_t clips, gs_arena_t *arena)
{
    res->clips = (int32_t)clips;
    if (!r->last || !clips)
        return;
    double p[GS_TIMBRE_N_FAMILIES];
    recording_probs(sum, clips, p);
    res->recording_labels = top_labels(p, r->top_k, arena, &res->n_recording_labels);
    res->has_recording_labels = res->recording_labels != NULL;
}

/* Int16 little-endian to float, at 22,050 Hz. */
static gs_err_t samples_of(gs_kind_t *d, const gs_avro_timbre_request_t *r, size_t *n, char *errstr,
                           size_t en)
{
    size_t m = r->pcm.len / 2;
    const unsigned char *b = (const unsigned char *)r->pcm.p;
    for (size_t i = 0; i < m; i++)
        d->in[i] = (float)(int16_t)(uint16_t)(b[2 * i] | b[2 * i + 1] << 8) / 32768.0f;
    *n = gs_timbre_resampled_len(m, r->sample_rate);
    return gs_timbre_resample(d->in, m, r->sample_rate, d->y, errstr, en);
}

static double mean_of(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s / (double)n;
}

static void summary_of(const float *y, size_t n, const gs_timbre_frames_t *f,
                       gs_avro_timbre_summary_t *s)
{
    double e = 0;
    for (size_t i = 0; i < n; i++)
        e += (double)y[i] * y[i];
    double level = 10.0 * log10(e / (double)n);
    *s = (gs_avro_timbre_summary_t){.rms_dbfs = isfinite(level) && level > -200 ? level : -200,
                                    .centroid_hz = mean_of(f->centroid, f->n_frames),
                                    .zcr = mean_of(f->zcr, f->n_frames)};
}

static gs_err_t classify(gs_kind_t *d, gs_item_t *it, gs_arena_t *arena)
{
    const gs_avro_timbre_request_t *r = it->request;
    gs_avro_timbre_result_t *res = it->result;
    size_t n;
    double p[GS_TIMBRE_N_FAMILIES], logp[GS_TIMBRE_N_FAMILIES];
    gs_timbre_frames_t f;
    gs_err_t err = samples_of(d, r, &n, it->errmsg, sizeof(it->errmsg));
    if (!err)
        err = gs_timbre_fx_frames(d->fx, d->y, n, &f, it->errmsg, sizeof(it->errmsg));
    if (!err && timbre_model_predict(d->model, &f, d->scratch, d->cnn_x, p))
        err = gs_fail(it->errmsg, sizeof(it->errmsg), GS_ERR_NOMEM, "out of memory");
    if (err)
        return err;
    summary_of(d->y, n, &f, &res->features);
    for (int j = 0; j < GS_TIMBRE_N_FAMILIES; j++)
        logp[j] = log(fmax(p[j], LOGP_EPS));
    res->labels = top_labels(p, r->top_k, arena, &res->n_labels);
    double sum[GS_TIMBRE_N_FAMILIES];
    int64_t ts = it->timestamp_ms >= 0 ? it->timestamp_ms : r->created_at_ms;
    uint32_t clips = rec_add(d->recs, it->partition, r->recording_id, logp, ts, r->last, sum);
    answer_recording(r, res, sum, clips, arena);
    return GS_OK;
}

/* Refused by the rate limit: nothing is computed for the clip and it is
 * not counted; a last clip still answers (and closes) the recording with
 * the clips counted before it. */
static void refuse(gs_kind_t *d, gs_item_t *it, gs_arena_t *arena)
{
    const gs_avro_timbre_request_t *r = it->request;
    gs_avro_timbre_result_t *res = it->result;
    double sum[GS_TIMBRE_N_FAMILIES];
    uint32_t clips = rec_peek(d->recs, it->partition, r->recording_id, r->last, sum);
    answer_recording(r, res, sum, clips, arena);
    res->labels = gs_arena_alloc(arena, sizeof(*res->labels));
    res->note = gs_avro_cstr("rate limited");
}

static void classify_one(gs_kind_t *d, gs_item_t *it, gs_arena_t *arena)
{
    const gs_avro_timbre_request_t *r = it->request;
    gs_avro_timbre_result_t *res = it->result;
    if ((it->err = timbre_request_validate(r, it->errmsg, sizeof(it->errmsg))))
        return;
    if (!d->model) { /* the worker does not run a kind that is not ready */
        it->err =
            gs_fail(it->errmsg, sizeof(it->errmsg), GS_ERR_INTERNAL, "no timbre model loaded");
        return;
    }
    int64_t t0 = gs_now_us();
    int64_t ts = it->timestamp_ms >= 0 ? it->timestamp_ms : r->created_at_ms;
    res->model = model_ref(d->model);
    size_t samples = r->pcm.len / 2;
    res->duration_ms = (int64_t)llround(1000.0 * (double)samples / r->sample_rate);
    if (!gs_kind_gate_pass(&d->gate, it->partition, r->tenant, ts)) {
        refuse(d, it, arena);
        it->govern_us = gs_now_us() - t0;
        return;
    }
    int64_t t1 = gs_now_us();
    it->govern_us = t1 - t0;
    if ((it->err = classify(d, it, arena)))
        return;
    it->infer_us = gs_now_us() - t1;
    res->accepted = it->accepted = true;
    res->note = gs_avro_cstr("classified");
}

static void process(gs_kind_t *d, const gs_batch_t *b)
{
    int64_t now = 0;
    for (size_t i = 0; i < b->n; i++) {
        classify_one(d, b->items[i], b->arena);
        now = b->items[i]->timestamp_ms > now ? b->items[i]->timestamp_ms : now;
    }
    if (now - d->expired_at_ms >= EXPIRE_EVERY_MS) { /* the record clock, as the rate limit */
        rec_expire(d->recs, now);
        d->expired_at_ms = now;
    }
}

static gs_err_t load_models(gs_kind_t *d, char *errstr, size_t n)
{
    if (!*d->conf->model)
        return gs_fail(errstr, n, GS_ERR_CONFIG,
                       "no timbre model configured: set models.timbre (govstream train timbre)");
    timbre_model_t *m = calloc(1, sizeof(*m));
    if (!m)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_err_t err = timbre_model_load(d->conf->model, m, errstr, n);
    if (err || mlp_width(&m->mlp) > 1024) {
        if (!err)
            err = gs_fail(errstr, n, GS_ERR_DECODE, "%s: layers wider than 1024", d->conf->model);
        free(m);
        return err;
    }
    if (d->model)
        timbre_model_free(d->model);
    free(d->model);
    d->model = m;
    snprintf(errstr, n, "timbre model %s v%s: serves %s (temperatures: mlp %.3f, cnn %.3f)",
             m->name, m->version, timbre_serve_names[m->serve], (double)m->mlp.temperature,
             (double)m->cnn.temperature);
    return GS_OK;
}

static void destroy(gs_kind_t *d)
{
    if (!d)
        return;
    if (d->model)
        timbre_model_free(d->model);
    free(d->model);
    gs_timbre_fx_destroy(d->fx);
    rec_destroy(d->recs);
    gs_kind_gate_free(&d->gate);
    free(d->in);
    free(d->y);
    free(d->scratch);
    free(d->cnn_x);
    free(d);
}

static gs_err_t create(const gs_config_t *cfg, const void *conf, gs_kind_t **out, char *errstr,
                       size_t n)
{
    (void)cfg;
    gs_kind_t *d = calloc(1, sizeof(*d));
    if (!d)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    d->conf = conf;
    d->in = malloc((size_t)MAX_IN * sizeof(float));
    d->y = malloc(((size_t)TIMBRE_MAX_MS / 1000 * GS_TIMBRE_SR + 16) * sizeof(float));
    d->scratch = malloc((size_t)2 * 1024 * sizeof(float));
    /* frames of the longest clip: 1 + samples / hop */
    size_t frames = 1 + ((size_t)TIMBRE_MAX_MS / 1000 * GS_TIMBRE_SR + 16) / GS_TIMBRE_HOP;
    d->cnn_x = malloc(GS_TIMBRE_N_MELS * cnn_width(frames) * sizeof(float));
    gs_err_t err = d->in && d->y && d->scratch && d->cnn_x
                       ? gs_timbre_fx_new(&d->fx, errstr, n)
                       : gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    if (!err)
        err = rec_new((size_t)d->conf->max_recordings, d->conf->idle_s, &d->recs, errstr, n);
    if (!err)
        err = gs_kind_gate_init(&d->gate, "timbre", &d->conf->rate, errstr, n);
    if (err) {
        destroy(d);
        return err;
    }
    *out = d;
    return GS_OK;
}

static size_t stores(gs_kind_t *d, const gs_store_t **out)
{
    d->stores[0] = (gs_store_t){"timbre.recordings", &rec_store_ops, d->recs};
    const gs_store_t *gate;
    size_t n = 1;
    if (gs_kind_gate_stores(&d->gate, &gate))
        d->stores[n++] = *gate;
    *out = d->stores;
    return n;
}

static gs_err_t check(const gs_config_t *cfg, const void *conf, char *errstr, size_t n)
{
    const timbre_conf_t *c = conf;
    if (c->stream.enabled && cfg->deadletter.max_value_bytes < c->stream.max_request_bytes)
        return gs_fail(errstr, n, GS_ERR_CONFIG,
                       "%s: deadletter.max_value_bytes: must be at least timbre.max_request_bytes "
                       "so that every accepted-size clip is dead-lettered whole",
                       *cfg->path ? cfg->path : "defaults");
    return gs_kind_check_stream(cfg, &c->stream, errstr, n);
}

static const gs_config_key_t keys[] = {
    GS_KIND_STREAM_KEYS("timbre", timbre_conf_t, "false"),
    GS_CONFIG_INT("timbre.max_request_bytes", timbre_conf_t, stream.max_request_bytes, "961000", 16,
                  100000000,
                  "this kind's `limits.max_request_bytes`: 10 s of 48 kHz audio is 960,000 bytes "
                  "(must stay within Kafka's message.max.bytes, 1 MB by default)"),
    GS_CONFIG_PATH("models.timbre", timbre_conf_t, model, "../.cache/models/timbre.gsm",
                   "timbre model file (`govstream train timbre`); the default is the one "
                   "`ops/quickstart.sh` trains. Without a model the worker is not ready"),
    GS_CONFIG_DOUBLE("timbre.recordings.idle_s", timbre_conf_t, idle_s, "600", 0.0, 86400.0 * 7,
                     "a recording with no clip for this long (by the record timestamps) is "
                     "forgotten without an answer; 0: never"),
    GS_CONFIG_INT("timbre.recordings.max", timbre_conf_t, max_recordings, "100000", 1, 10000000,
                  "open recordings kept per worker; beyond it the least recently updated one "
                  "is forgotten"),
    GS_KIND_RATE_KEYS("timbre", timbre_conf_t, "the clip is not classified"),
};

static const gs_config_section_t section = {
    .name = "timbre",
    .doc = "The timbre kind (SPEC 1.4): `TimbreRequest` in, `TimbreResult` out, keyed by "
           "`recording_id`; instrument families of PCM clips, aggregated per recording.",
    .keys = keys,
    .n_keys = sizeof(keys) / sizeof(keys[0]),
    .size = sizeof(timbre_conf_t),
    .check = check,
};

static gs_err_t check_model(const char *path, char *errstr, size_t n)
{
    timbre_model_t m;
    gs_err_t err = timbre_model_load(path, &m, errstr, n);
    if (!err)
        timbre_model_free(&m);
    return err;
}

const gs_kind_ops_t gs_kind_timbre = {
    .name = "timbre",
    .request = &gs_avro_type_timbre_request,
    .result = &gs_avro_type_timbre_result,
    .key_field = "recording_id",
    .config = &section,
    .create = create,
    .destroy = destroy,
    .load_models = load_models,
    .process = process,
    .stores = stores,
    .load = &timbre_load,
    .train = timbre_train_main,
    .model_kind = GS_MODEL_KIND_TIMBRE,
    .check_model = check_model,
};
