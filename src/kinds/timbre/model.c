/* The timbre model file (model.h). */
#include "model.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/model.h"
#include "govstream/timbre.h"

const char *const timbre_serve_names[3] = {"mlp", "cnn", "mlp_cnn_mean"};

void timbre_model_input(const timbre_model_t *m, const double *pooled, float *x)
{
    for (int j = 0; j < GS_TIMBRE_N_POOLED; j++)
        x[j] = (float)((pooled[j] - m->mean[j]) / m->scale[j]);
}

gs_err_t timbre_model_predict(const timbre_model_t *m, const gs_timbre_frames_t *f, float *scratch,
                              float *cnn_x, double *probs)
{
    float pm[GS_TIMBRE_N_FAMILIES] = {0}, pc[GS_TIMBRE_N_FAMILIES] = {0};
    if (m->serve != SERVE_CNN) {
        double pooled[GS_TIMBRE_N_POOLED];
        float x[GS_TIMBRE_N_POOLED];
        gs_timbre_pool(f, pooled);
        timbre_model_input(m, pooled, x);
        mlp_predict(&m->mlp, x, 1, pm, scratch);
    }
    if (m->serve != SERVE_MLP) {
        cnn_input(f, cnn_x);
        gs_err_t err = cnn_predict(&m->cnn, cnn_x, cnn_width(f->n_frames), pc);
        if (err)
            return err;
    }
    double wm = m->serve == SERVE_MLP ? 1.0 : m->serve == SERVE_CNN ? 0.0 : 0.5;
    for (int j = 0; j < GS_TIMBRE_N_FAMILIES; j++)
        probs[j] = wm * pm[j] + (1.0 - wm) * pc[j];
    return GS_OK;
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
    json_t *ch = json_array();
    for (int l = 0; l <= CNN_LAYERS; l++)
        json_array_append_new(ch, json_integer(m->cnn.ch[l]));
    json_t *meta =
        json_pack("{s:s,s:s,s:o,s:o,s:o,s:f,s:o,s:f,s:s}", "name", m->name, "version", m->version,
                  "features", names_json(gs_timbre_pooled_name, GS_TIMBRE_N_POOLED), "families",
                  names_json(family_name, GS_TIMBRE_N_FAMILIES), "dims", dims, "temperature",
                  (double)m->mlp.temperature, "cnn_channels", ch, "cnn_temperature",
                  (double)m->cnn.temperature, "serve", timbre_serve_names[m->serve]);
    json_t *rep = report_json ? json_loads(report_json, 0, NULL) : NULL;
    if (rep)
        json_object_set_new(meta, "training", rep);
    char *s = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(meta);
    return s;
}

static void add_tensor(gs_tensor_t *t, size_t *nt, const char *name, const float *data,
                       uint64_t rows, uint64_t cols)
{
    t[*nt] = (gs_tensor_t){.dtype = GS_DT_F32,
                           .ndim = cols ? 2 : 1,
                           .dims = {rows, cols},
                           .data = data,
                           .nbytes = rows * (cols ? cols : 1) * sizeof(float)};
    snprintf(t[(*nt)++].name, sizeof(t[0].name), "%s", name);
}

gs_err_t timbre_model_save(const timbre_model_t *m, const char *path, const char *report_json,
                           char *errstr, size_t n)
{
    gs_tensor_t t[4 + 2 * MLP_MAX_LAYERS + 2 * CNN_LAYERS];
    size_t nt = 0;
    char name[8];
    add_tensor(t, &nt, "mean", m->mean, GS_TIMBRE_N_POOLED, 0);
    add_tensor(t, &nt, "scale", m->scale, GS_TIMBRE_N_POOLED, 0);
    for (int l = 0; l < m->mlp.n_layers; l++) {
        uint64_t rows = (uint64_t)m->mlp.dims[l + 1], cols = (uint64_t)m->mlp.dims[l];
        snprintf(name, sizeof(name), "w%d", l);
        add_tensor(t, &nt, name, m->mlp.w[l], rows, cols);
        snprintf(name, sizeof(name), "b%d", l);
        add_tensor(t, &nt, name, m->mlp.b[l], rows, 0);
    }
    for (int l = 0; l < CNN_LAYERS; l++) {
        uint64_t rows = (uint64_t)m->cnn.ch[l + 1], cols = (uint64_t)m->cnn.ch[l] * 9;
        snprintf(name, sizeof(name), "c%dw", l);
        add_tensor(t, &nt, name, m->cnn.w[l], rows, cols);
        snprintf(name, sizeof(name), "c%db", l);
        add_tensor(t, &nt, name, m->cnn.b[l], rows, 0);
    }
    add_tensor(t, &nt, "hw", m->cnn.hw, GS_TIMBRE_N_FAMILIES, (uint64_t)m->cnn.ch[CNN_LAYERS]);
    add_tensor(t, &nt, "hb", m->cnn.hb, GS_TIMBRE_N_FAMILIES, 0);
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
    double ctemp = json_number_value(json_object_get(meta, "cnn_temperature"));
    if (!(temp > 0 && temp < 100) || !(ctemp > 0 && ctemp < 100))
        return gs_fail(errstr, n, GS_ERR_DECODE, "%s: no usable temperature", path);
    m->mlp.temperature = (float)temp;
    m->cnn.temperature = (float)ctemp;
    json_t *ch = json_object_get(meta, "cnn_channels");
    for (int l = 0; l <= CNN_LAYERS; l++)
        if (json_array_size(ch) != CNN_LAYERS + 1 ||
            json_integer_value(json_array_get(ch, (size_t)l)) != cnn_channels[l])
            return gs_fail(errstr, n, GS_ERR_SCHEMA,
                           "%s: a CNN of other channels than this build's", path);
    const char *serve = json_string_value(json_object_get(meta, "serve"));
    int s = -1;
    for (int i = 0; serve && i < 3; i++)
        s = strcmp(serve, timbre_serve_names[i]) ? s : i;
    if (s < 0)
        return gs_fail(errstr, n, GS_ERR_DECODE, "%s: serve is %s", path, serve ? serve : "(none)");
    m->serve = (timbre_serve_t)s;
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
    for (int l = 0; !err && l < CNN_LAYERS; l++) {
        uint64_t rows = (uint64_t)m->cnn.ch[l + 1], cols = (uint64_t)m->cnn.ch[l] * 9;
        snprintf(name, sizeof(name), "c%dw", l);
        err = copy_tensor(mf, name, m->cnn.w[l], rows * cols, path, errstr, n);
        snprintf(name, sizeof(name), "c%db", l);
        if (!err)
            err = copy_tensor(mf, name, m->cnn.b[l], rows, path, errstr, n);
    }
    uint64_t d = (uint64_t)m->cnn.ch[CNN_LAYERS];
    if (!err)
        err = copy_tensor(mf, "hw", m->cnn.hw, GS_TIMBRE_N_FAMILIES * d, path, errstr, n);
    if (!err)
        err = copy_tensor(mf, "hb", m->cnn.hb, GS_TIMBRE_N_FAMILIES, path, errstr, n);
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
    float temp = m->mlp.temperature, ctemp = m->cnn.temperature;
    if (!err)
        err = mlp_init(&m->mlp, n_layers, dims, 0, errstr, n);
    if (!err)
        err = cnn_init(&m->cnn, GS_TIMBRE_N_FAMILIES, 0, errstr, n);
    if (!err) {
        m->mlp.temperature = temp;
        m->cnn.temperature = ctemp;
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
    cnn_free(&m->cnn);
}
