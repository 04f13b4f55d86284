/* The intent model: a multinomial logistic regression over the
 * standardised features (train.c fits it), in the project's model file
 * format (GS_MODEL_KIND_INTENT: tensors mean, scale and weights; the
 * metadata names the features in order, so a model of another feature
 * set is refused, not misread). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct intent_model {
    intent_params_t p;
    char name[64], version[64], sha256[65];
};

void intent_predict(const intent_params_t *p, const double *f, double *prob)
{
    double z[N_FEATURES], logit[N_INTENTS], top = -INFINITY, sum = 0;
    for (int j = 0; j < N_FEATURES; j++)
        z[j] = (f[j] - p->mean[j]) / p->scale[j];
    for (int k = 0; k < N_INTENTS; k++) {
        double a = p->w[k][N_FEATURES];
        for (int j = 0; j < N_FEATURES; j++)
            a += p->w[k][j] * z[j];
        logit[k] = a / p->temperature;
        top = fmax(top, logit[k]);
    }
    for (int k = 0; k < N_INTENTS; k++)
        sum += prob[k] = exp(logit[k] - top);
    for (int k = 0; k < N_INTENTS; k++)
        prob[k] /= sum;
}

static gs_err_t check_features(json_t *meta, const char *path, char *errstr, size_t n)
{
    json_t *names = json_object_get(meta, "features");
    if (json_array_size(names) != N_FEATURES)
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "%s: %zu features, this build reads %d", path,
                       json_array_size(names), N_FEATURES);
    for (size_t j = 0; j < N_FEATURES; j++) {
        const char *s = json_string_value(json_array_get(names, j));
        if (!s || strcmp(s, feature_names[j]) != 0)
            return gs_fail(errstr, n, GS_ERR_SCHEMA,
                           "%s: feature %zu is %s, this build reads %s there", path, j,
                           s ? s : "(none)", feature_names[j]);
    }
    return GS_OK;
}

static gs_err_t read_tensors(intent_model_t *m, gs_modelfile_t *mf, const char *path, char *errstr,
                             size_t n)
{
    const gs_tensor_t *mean = gs_modelfile_get(mf, "mean", GS_DT_F32, N_FEATURES, errstr, n);
    const gs_tensor_t *scale =
        mean ? gs_modelfile_get(mf, "scale", GS_DT_F32, N_FEATURES, errstr, n) : NULL;
    const gs_tensor_t *w = scale
                               ? gs_modelfile_get(mf, "weights", GS_DT_F32,
                                                  (uint64_t)N_INTENTS * (N_FEATURES + 1), errstr, n)
                               : NULL;
    if (!w)
        return GS_ERR_DECODE;
    const float *fm = mean->data, *fs = scale->data, *fw = w->data;
    for (int j = 0; j < N_FEATURES; j++) {
        m->p.mean[j] = fm[j];
        m->p.scale[j] = fs[j];
        if (!isfinite(fm[j]) || !(fs[j] > 0) || !isfinite(fs[j]))
            return gs_fail(errstr, n, GS_ERR_DECODE, "%s: feature %s has no usable scale", path,
                           feature_names[j]);
    }
    for (int k = 0; k < N_INTENTS; k++)
        for (int j = 0; j <= N_FEATURES; j++)
            if (!isfinite(m->p.w[k][j] = fw[k * (N_FEATURES + 1) + j]))
                return gs_fail(errstr, n, GS_ERR_DECODE, "%s: a weight is not finite", path);
    return GS_OK;
}

static gs_err_t read_meta(intent_model_t *m, json_t *meta, const char *path, char *errstr, size_t n)
{
    if (!meta)
        return gs_fail(errstr, n, GS_ERR_DECODE, "%s: metadata is not JSON", path);
    gs_err_t err = check_features(meta, path, errstr, n);
    if (err)
        return err;
    m->p.temperature = json_number_value(json_object_get(meta, "temperature"));
    if (!(m->p.temperature > 0) || !isfinite(m->p.temperature))
        return gs_fail(errstr, n, GS_ERR_DECODE, "%s: no usable temperature", path);
    m->p.idle_tau = json_number_value(json_object_get(meta, "idle_tau")); /* absent: 0, hold */
    if (!(m->p.idle_tau >= 0 && m->p.idle_tau <= 10))
        return gs_fail(errstr, n, GS_ERR_DECODE, "%s: idle_tau out of range", path);
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *version = json_string_value(json_object_get(meta, "version"));
    snprintf(m->name, sizeof(m->name), "%s", name ? name : "intent");
    snprintf(m->version, sizeof(m->version), "%s", version ? version : "0");
    return GS_OK;
}

gs_err_t intent_model_load(const char *path, intent_model_t **out, char *errstr, size_t n)
{
    intent_model_t *m = calloc(1, sizeof(*m));
    if (!m)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_modelfile_t *mf = NULL;
    json_t *meta = NULL;
    gs_err_t err = gs_modelfile_open(path, &mf, errstr, n);
    if (!err && gs_modelfile_kind(mf) != GS_MODEL_KIND_INTENT)
        err = gs_fail(errstr, n, GS_ERR_SCHEMA, "%s: not an intent model (kind %u)", path,
                      gs_modelfile_kind(mf));
    if (!err) {
        meta = json_loads(gs_modelfile_meta(mf), 0, NULL);
        err = read_meta(m, meta, path, errstr, n);
    }
    if (!err)
        err = read_tensors(m, mf, path, errstr, n);
    if (!err)
        snprintf(m->sha256, sizeof(m->sha256), "%s", gs_modelfile_sha256(mf));
    json_decref(meta);
    gs_modelfile_close(mf); /* the parameters are copied: nothing points into it */
    if (err) {
        free(m);
        return err;
    }
    *out = m;
    return GS_OK;
}

void intent_model_destroy(intent_model_t *m)
{
    free(m);
}

gs_avro_model_ref_t intent_model_ref(const intent_model_t *m)
{
    if (!m)
        return (gs_avro_model_ref_t){gs_avro_cstr(""), gs_avro_cstr(""), gs_avro_cstr("")};
    return (gs_avro_model_ref_t){gs_avro_cstr(m->name), gs_avro_cstr(m->version),
                                 gs_avro_cstr(m->sha256)};
}

const intent_params_t *intent_model_params(const intent_model_t *m)
{
    return &m->p;
}

static char *meta_text(const intent_params_t *p, const char *name, const char *version,
                       const char *report_json)
{
    json_t *meta = json_pack("{s:s,s:s,s:f,s:f}", "name", name, "version", version, "temperature",
                             p->temperature, "idle_tau", p->idle_tau);
    json_t *names = json_array();
    for (int j = 0; j < N_FEATURES; j++)
        json_array_append_new(names, json_string(feature_names[j]));
    json_object_set_new(meta, "features", names);
    json_object_set_new(
        meta, "classes",
        json_pack("[s,s,s,s,s,s]", "REACH", "GRAB", "HANDOVER", "POINT", "WAVE", "IDLE"));
    json_t *report = report_json ? json_loads(report_json, 0, NULL) : NULL;
    if (report)
        json_object_set_new(meta, "report", report);
    char *text = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(meta);
    return text;
}

gs_err_t intent_model_write(const char *path, const intent_params_t *p, const char *name,
                            const char *version, const char *report_json, char *errstr, size_t n)
{
    float mean[N_FEATURES], scale[N_FEATURES], w[N_INTENTS * (N_FEATURES + 1)];
    for (int j = 0; j < N_FEATURES; j++) {
        mean[j] = (float)p->mean[j];
        scale[j] = (float)p->scale[j];
    }
    for (int k = 0; k < N_INTENTS; k++)
        for (int j = 0; j <= N_FEATURES; j++)
            w[k * (N_FEATURES + 1) + j] = (float)p->w[k][j];
    gs_tensor_t t[3] = {
        {.name = "mean",
         .dtype = GS_DT_F32,
         .ndim = 1,
         .dims = {N_FEATURES},
         .data = mean,
         .nbytes = sizeof(mean)},
        {.name = "scale",
         .dtype = GS_DT_F32,
         .ndim = 1,
         .dims = {N_FEATURES},
         .data = scale,
         .nbytes = sizeof(scale)},
        {.name = "weights",
         .dtype = GS_DT_F32,
         .ndim = 2,
         .dims = {N_INTENTS, N_FEATURES + 1},
         .data = w,
         .nbytes = sizeof(w)},
    };
    char *meta = meta_text(p, name, version, report_json);
    if (!meta)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_err_t err = gs_modelfile_write(path, GS_MODEL_KIND_INTENT, meta, t, 3, errstr, n);
    free(meta);
    return err;
}
