/* The timbre model file (model.h). */
#include "model.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/model.h"
#include "govstream/timbre.h"

void timbre_model_input(const timbre_model_t *m, const double *pooled, float *x)
{
    for (int j = 0; j < GS_TIMBRE_N_POOLED; j++)
        x[j] = (float)((pooled[j] - m->mean[j]) / m->scale[j]);
}

static json_t *names_json(const char *(*name)(size_t), size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(name(i)));
    return a;
}

static const char *family_name(size_t i)
{
    return gs_timbre_family_names[i];
}

static char *meta_text(const timbre_model_t *m, const char *report_json)
{
    json_t *dims = json_array();
    for (int l = 0; l <= m->mlp.n_layers; l++)
        json_array_append_new(dims, json_integer(m->mlp.dims[l]));
    json_t *meta = json_pack("{s:s,s:s,s:o,s:o,s:o,s:f}", "name", m->name, "version", m->version,
                             "features", names_json(gs_timbre_pooled_name, GS_TIMBRE_N_POOLED),
                             "families", names_json(family_name, GS_TIMBRE_N_FAMILIES), "dims",
                             dims, "temperature", (double)m->mlp.temperature);
    json_t *rep = report_json ? json_loads(report_json, 0, NULL) : NULL;
    if (rep)
        json_object_set_new(meta, "training", rep);
    char *s = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(meta);
    return s;
}

gs_err_t timbre_model_save(const timbre_model_t *m, const char *path, const char *report_json,
                           char *errstr, size_t n)
{
    gs_tensor_t t[2 + 2 * MLP_MAX_LAYERS] = {{.name = "mean",
                                              .dtype = GS_DT_F32,
                                              .ndim = 1,
                                              .dims = {GS_TIMBRE_N_POOLED},
                                              .data = m->mean,
                                              .nbytes = sizeof(m->mean)},
                                             {.name = "scale",
                                              .dtype = GS_DT_F32,
                                              .ndim = 1,
                                              .dims = {GS_TIMBRE_N_POOLED},
                                              .data = m->scale,
                                              .nbytes = sizeof(m->scale)}};
    size_t nt = 2;
    for (int l = 0; l < m->mlp.n_layers; l++) {
        uint64_t rows = (uint64_t)m->mlp.dims[l + 1], cols = (uint64_t)m->mlp.dims[l];
        t[nt] = (gs_tensor_t){.dtype = GS_DT_F32,
                              .ndim = 2,
                              .dims = {rows, cols},
                              .data = m->mlp.w[l],
                              .nbytes = rows * cols * sizeof(float)};
        snprintf(t[nt++].name, sizeof(t[0].name), "w%d", l);
        t[nt] = (gs_tensor_t){.dtype = GS_DT_F32,
                              .ndim = 1,
                              .dims = {rows},
                              .data = m->mlp.b[l],
                              .nbytes = rows * sizeof(float)};
        snprintf(t[nt++].name, sizeof(t[0].name), "b%d", l);
    }
    char *meta = meta_text(m, report_json);
    if (!meta)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_err_t err = gs_modelfile_write(path, GS_MODEL_KIND_TIMBRE, meta, t, nt, errstr, n);
    free(meta);
    return err;
}

/* The names in meta[key] must be exactly name(0..count). */
static gs_err_t check_names(json_t *meta, const char *key, const char *(*name)(size_t),
                            size_t count, const char *path, char *errstr, size_t n)
{
    json_t *a = json_object_get(meta, key);
    if (json_array_size(a) != count)
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "%s: %zu %s, this build reads %zu", path,
                       json_array_size(a), key, count);
    for (size_t i = 0; i < count; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s || strcmp(s, name(i)) != 0)
            return gs_fail(errstr, n, GS_ERR_SCHEMA, "%s: %s[%zu] is %s, this build reads %s", path,
                           key, i, s ? s : "(none)", name(i));
    }
    return GS_OK;
}

static gs_err_t read_meta(timbre_model_t *m, json_t *meta, int *dims, int *n_layers,
                          const char *path, char *errstr, size_t n)
{
    if (!meta)
        return gs_fail(errstr, n, GS_ERR_DECODE, "%s: metadata is not JSON", path);
    gs_err_t err =
        check_names(meta, "features", gs_timbre_pooled_name, GS_TIMBRE_N_POOLED, path, errstr, n);
    if (!err)
        err = check_names(meta, "families", family_name, GS_TIMBRE_N_FAMILIES, path, errstr, n);
    if (err)
        return err;
    json_t *d = json_object_get(meta, "dims");
    *n_layers = (int)json_array_size(d) - 1;
    if (*n_layers < 1 || *n_layers > MLP_MAX_LAYERS)
        return gs_fail(errstr, n, GS_ERR_DECODE, "%s: %d layers", path, *n_layers);
    for (int l = 0; l <= *n_layers; l++) {
        json_int_t v = json_integer_value(json_array_get(d, (size_t)l));
        if (v < 1 || v > 4096)
            return gs_fail(errstr, n, GS_ERR_DECODE, "%s: layer size %lld", path, (long long)v);
        dims[l] = (int)v;
    }
    if (dims[0] != GS_TIMBRE_N_POOLED || dims[*n_layers] != GS_TIMBRE_N_FAMILIES)
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "%s: %d inputs and %d classes", path, dims[0],
                       dims[*n_layers]);
    double temp = json_number_value(json_object_get(meta, "temperature"));
    if (!(temp > 0 && temp < 100))
        return gs_fail(errstr, n, GS_ERR_DECODE, "%s: no usable temperature", path);
    m->mlp.temperature = (float)temp;
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *version = json_string_value(json_object_get(meta, "version"));
    snprintf(m->name, sizeof(m->name), "%s", name ? name : "timbre");
    snprintf(m->version, sizeof(m->version), "%s", version ? version : "0");
    return GS_OK;
}

/* Copies a float tensor, refusing one that is not finite. */
static gs_err_t copy_tensor(gs_modelfile_t *mf, const char *name, float *to, uint64_t count,
                            const char *path, char *errstr, size_t n)
{
    const gs_tensor_t *t = gs_modelfile_get(mf, name, GS_DT_F32, count, errstr, n);
    if (!t)
        return GS_ERR_DECODE;
    memcpy(to, t->data, count * sizeof(float));
    for (uint64_t i = 0; i < count; i++)
        if (!isfinite(to[i]))
            return gs_fail(errstr, n, GS_ERR_DECODE, "%s: %s[%llu] is not finite", path, name,
                           (unsigned long long)i);
    return GS_OK;
}

static gs_err_t read_tensors(timbre_model_t *m, gs_modelfile_t *mf, const char *path, char *errstr,
                             size_t n)
{
    gs_err_t err = copy_tensor(mf, "mean", m->mean, GS_TIMBRE_N_POOLED, path, errstr, n);
    if (!err)
        err = copy_tensor(mf, "scale", m->scale, GS_TIMBRE_N_POOLED, path, errstr, n);
    for (int j = 0; !err && j < GS_TIMBRE_N_POOLED; j++)
        if (!(m->scale[j] > 0))
            err = gs_fail(errstr, n, GS_ERR_DECODE, "%s: feature %s has no usable scale", path,
                          gs_timbre_pooled_name((size_t)j));
    char name[8];
    for (int l = 0; !err && l < m->mlp.n_layers; l++) {
        uint64_t rows = (uint64_t)m->mlp.dims[l + 1], cols = (uint64_t)m->mlp.dims[l];
        snprintf(name, sizeof(name), "w%d", l);
        err = copy_tensor(mf, name, m->mlp.w[l], rows * cols, path, errstr, n);
        snprintf(name, sizeof(name), "b%d", l);
        if (!err)
            err = copy_tensor(mf, name, m->mlp.b[l], rows, path, errstr, n);
    }
    return err;
}

gs_err_t timbre_model_load(const char *path, timbre_model_t *m, char *errstr, size_t n)
{
    *m = (timbre_model_t){0};
    gs_modelfile_t *mf = NULL;
    json_t *meta = NULL;
    int dims[MLP_MAX_LAYERS + 1], n_layers = 0;
    gs_err_t err = gs_modelfile_open(path, &mf, errstr, n);
    if (!err && gs_modelfile_kind(mf) != GS_MODEL_KIND_TIMBRE)
        err = gs_fail(errstr, n, GS_ERR_SCHEMA, "%s: not a timbre model (kind %u)", path,
                      gs_modelfile_kind(mf));
    if (!err) {
        meta = json_loads(gs_modelfile_meta(mf), 0, NULL);
        err = read_meta(m, meta, dims, &n_layers, path, errstr, n);
    }
    float temp = m->mlp.temperature;
    if (!err && !(err = mlp_init(&m->mlp, n_layers, dims, 0, errstr, n))) {
        m->mlp.temperature = temp;
        err = read_tensors(m, mf, path, errstr, n);
    }
    if (!err)
        snprintf(m->sha256, sizeof(m->sha256), "%s", gs_modelfile_sha256(mf));
    json_decref(meta);
    gs_modelfile_close(mf); /* the parameters are copied: nothing points into it */
    if (err)
        timbre_model_free(m);
    return err;
}

void timbre_model_free(timbre_model_t *m)
{
    mlp_free(&m->mlp);
}
