/* The dialogue model at inference time: a mapped model file, a reservoir
 * whose arrays point into it, a readout and, in files that have it, the
 * Kneser-Ney trigrams (kn.c, arrays in the file too) whose distribution
 * after the last two tokens is mixed with the readout's. A batch of
 * windows is read together (one reservoir step for all) and read out
 * together (one SGEMM for all), then each query takes its predictions or
 * generates. */
#include <cblas.h>
#include <jansson.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "features.h"
#include "kn.h"
#include "vmath.h"
#include "govstream/model.h"

#define GEN_MAX 256 /* generated tokens per request, at most */

struct gs_dmodel {
    gs_modelfile_t *mf;
    gs_vocab_t *vocab;
    gs_reservoir_t res;
    const float *w_out; /* V x D, row-major */
    const float *code;  /* V x code_dims */
    uint32_t V, D, units, code_dims;
    float eps, inv_temp;
    uint32_t context_tokens; /* the last tokens of a window that are read */
    gs_kn_t *kn;             /* the n-gram part; NULL in files without one */
    double kn_weight;        /* the readout's weight in the mix (1 without) */
    char name[64], version[32];
    /* scratch, grown to the largest batch */
    size_t cap;
    float *xa, *xb;   /* units x B */
    float *phi;       /* B x D */
    float *logits;    /* B x V */
    float *terms;     /* V: a row's unnormalised probabilities */
    uint32_t *tokens; /* B, by position */
    uint32_t *last;   /* B, by position: the token each sequence read last */
    uint32_t *last2;  /* B, by position: the one before it (GS_KN_START: none) */
    float *mixed;     /* V: a row's distribution mixed with the n-gram part */
    size_t *order;    /* position -> query (read_windows) */
    uint64_t *keys;   /* B: read_windows' sort keys */
    uint64_t *rng;    /* B, by position: sampling state */
    size_t *rows;     /* B: positions of the readout rows */
    uint32_t **ids;   /* by query: the window's tokens */
    size_t *n_ids, *cap_ids;
    uint32_t *gen; /* B x GEN_MAX generated tokens, by position */
};

static gs_err_t check_reservoir(const gs_reservoir_t *r, char *errstr, size_t n)
{
    /* The checksums catch damage, not a crafted file: indices are checked
     * before they are used to address memory. */
    if (r->row_ptr[0] != 0 || r->row_ptr[r->conf.units] != r->nnz)
        return gs_fail(errstr, n, GS_ERR_DECODE, "reservoir: bad row pointers");
    for (uint32_t i = 0; i < r->conf.units; i++)
        if (r->row_ptr[i] > r->row_ptr[i + 1])
            return gs_fail(errstr, n, GS_ERR_DECODE, "reservoir: row pointers not increasing");
    for (uint32_t e = 0; e < r->nnz; e++)
        if (r->col[e] >= r->conf.units)
            return gs_fail(errstr, n, GS_ERR_DECODE, "reservoir: column index out of range");
    for (size_t e = 0; e < (size_t)r->vocab * r->conf.input_nnz; e++)
        if (r->in_row[e] >= r->conf.units)
            return gs_fail(errstr, n, GS_ERR_DECODE, "reservoir: input row out of range");
    return GS_OK;
}

static double num(json_t *o, const char *k, double def)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : def;
}

/* A count from the metadata: a whole number in [0, GS_DMODEL_MAX_COUNT],
 * checked before the conversion (out of range it would be undefined);
 * anything else is 0, which the plausibility check refuses. */
/* A real from the metadata as a float: NAN where a float cannot hold it
 * (the conversion would be undefined), which the plausibility check
 * refuses. */
static float real(double v)
{
    return fabs(v) <= FLT_MAX ? (float)v : NAN;
}

#define GS_DMODEL_MAX_COUNT (1u << 24)
static uint32_t count(json_t *o, const char *k, double def)
{
    double v = num(o, k, def);
    return v >= 0 && v <= GS_DMODEL_MAX_COUNT && v == floor(v) ? (uint32_t)v : 0;
}

/* The metadata's parameters, each range-checked before it is converted. */
static gs_err_t read_meta(gs_dmodel_t *m, json_t *meta, json_t *rc, json_t *ro, const char *path,
                          char *errstr, size_t n)
{
    gs_reservoir_conf_t c;
    gs_reservoir_conf_default(&c);
    c.units = count(rc, "units", 0);
    c.input_nnz = count(rc, "input_nnz", 0);
    c.density = real(num(rc, "density", c.density));
    c.radius = real(num(rc, "radius", c.radius));
    c.leak = real(num(rc, "leak", c.leak));
    c.amp = real(num(rc, "amp", c.amp));
    c.alpha = real(num(rc, "alpha", c.alpha));
    c.omega = real(num(rc, "omega", c.omega));
    m->res.conf = c;
    m->units = c.units;
    m->code_dims = count(ro, "code_dims", 0);
    m->D = c.units + 1 + m->code_dims;
    m->eps = real(num(ro, "eps", 0));
    double temp = num(ro, "temperature", 0);
    m->inv_temp = temp > 0 ? real(1.0 / temp) : 0; /* as calibrated in train.c */
    m->context_tokens = count(meta, "context_tokens", 128);
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *version = json_string_value(json_object_get(meta, "version"));
    snprintf(m->name, sizeof(m->name), "%s", name ? name : "dialogue");
    snprintf(m->version, sizeof(m->version), "%s", version ? version : "0");
    if (!c.units || !c.input_nnz || c.input_nnz > c.units || !(m->eps > 0) || !(m->inv_temp > 0) ||
        !isfinite(m->inv_temp) || !m->context_tokens || !isfinite(c.density) ||
        !isfinite(c.radius) || !isfinite(c.leak) || !isfinite(c.amp) || !isfinite(c.alpha) ||
        !isfinite(c.omega))
        return gs_fail(errstr, n, GS_ERR_DECODE, "%s: implausible model parameters", path);
    return GS_OK;
}

/* The n-gram part, where the metadata says there is one; files written
 * before it have none and serve the readout alone, as they always did. */
static gs_err_t load_ngram(gs_dmodel_t *m, json_t *ng, const char *path, char *errstr, size_t n)
{
    m->kn_weight = 1;
    if (!ng)
        return GS_OK;
    double a = num(ng, "weight", NAN);
    if (!json_is_object(ng) || !(a >= 0 && a <= 1))
        return gs_fail(errstr, n, GS_ERR_DECODE, "%s: implausible n-gram weight", path);
    m->kn_weight = a;
    return gs_kn_from_file(m->mf, m->V, &m->kn, errstr, n);
}

gs_err_t gs_dmodel_load(const char *path, gs_dmodel_t **out, char *errstr, size_t n)
{
    gs_dmodel_t *m = calloc(1, sizeof(*m));
    if (!m)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_err_t err = gs_modelfile_open(path, &m->mf, errstr, n);
    json_t *meta = NULL;
    if (!err && gs_modelfile_kind(m->mf) != GS_MODEL_KIND_DIALOGUE)
        err = gs_fail(errstr, n, GS_ERR_SCHEMA, "%s: not a dialogue model (kind %u)", path,
                      gs_modelfile_kind(m->mf));
    if (!err && !(meta = json_loads(gs_modelfile_meta(m->mf), 0, NULL)))
        err = gs_fail(errstr, n, GS_ERR_DECODE, "%s: metadata is not JSON", path);
    json_t *rc = json_object_get(meta, "reservoir"), *ro = json_object_get(meta, "readout");
    if (!err && (!json_is_object(rc) || !json_is_object(ro)))
        err = gs_fail(errstr, n, GS_ERR_DECODE, "%s: metadata lacks reservoir or readout", path);
    if (!err)
        err = read_meta(m, meta, rc, ro, path, errstr, n);
    const gs_tensor_t *t;
    if (!err && (t = gs_modelfile_get(m->mf, "vocab", GS_DT_BYTES, 0, errstr, n)))
        err = gs_vocab_new(t->data, t->nbytes, &m->vocab, errstr, n);
    else if (!err)
        err = GS_ERR_DECODE;
    if (!err) {
        m->V = gs_vocab_size(m->vocab);
        gs_reservoir_t *r = &m->res;
        r->vocab = m->V;
        const gs_tensor_t *rp =
            gs_modelfile_get(m->mf, "w_row_ptr", GS_DT_U32, m->units + 1, errstr, n);
        const gs_tensor_t *col =
            rp ? gs_modelfile_get(m->mf, "w_col", GS_DT_U32, 0, errstr, n) : NULL;
        const gs_tensor_t *val =
            col ? gs_modelfile_get(m->mf, "w_val", GS_DT_F32, col->nbytes / 4, errstr, n) : NULL;
        size_t in = (size_t)m->V * r->conf.input_nnz;
        const gs_tensor_t *ir =
            val ? gs_modelfile_get(m->mf, "in_row", GS_DT_U32, in, errstr, n) : NULL;
        const gs_tensor_t *iv =
            ir ? gs_modelfile_get(m->mf, "in_val", GS_DT_F32, in, errstr, n) : NULL;
        const gs_tensor_t *b =
            iv ? gs_modelfile_get(m->mf, "bias", GS_DT_F32, m->units, errstr, n) : NULL;
        const gs_tensor_t *wo =
            b ? gs_modelfile_get(m->mf, "w_out", GS_DT_F32, (uint64_t)m->V * m->D, errstr, n)
              : NULL;
        const gs_tensor_t *cd = wo && m->code_dims
                                    ? gs_modelfile_get(m->mf, "code", GS_DT_F32,
                                                       (uint64_t)m->V * m->code_dims, errstr, n)
                                    : wo;
        if (!wo || !cd) {
            err = GS_ERR_DECODE;
        } else {
            r->row_ptr = (uint32_t *)rp->data;
            r->col = (uint32_t *)col->data;
            r->val = (float *)val->data;
            r->nnz = (uint32_t)(col->nbytes / 4);
            r->in_row = (uint32_t *)ir->data;
            r->in_val = (float *)iv->data;
            r->bias = (float *)b->data;
            r->owned = 0;
            m->w_out = wo->data;
            m->code = m->code_dims ? cd->data : NULL;
            err = check_reservoir(r, errstr, n);
        }
    }
    if (!err)
        err = load_ngram(m, json_object_get(meta, "ngram"), path, errstr, n);
    json_decref(meta);
    if (err) {
        gs_dmodel_destroy(m);
        return err;
    }
    *out = m;
    return GS_OK;
}

void gs_dmodel_destroy(gs_dmodel_t *m)
{
    if (!m)
        return;
    gs_kn_destroy(m->kn); /* borrows the mapped file */
    gs_vocab_destroy(m->vocab);
    gs_modelfile_close(m->mf);
    free(m->xa);
    free(m->xb);
    free(m->phi);
    free(m->logits);
    free(m->terms);
    free(m->tokens);
    free(m->last);
    free(m->last2);
    free(m->mixed);
    free(m->order);
    free(m->keys);
    free(m->rng);
    free(m->rows);
    for (size_t i = 0; m->ids && i < m->cap; i++)
        free(m->ids[i]);
    free(m->ids);
    free(m->n_ids);
    free(m->cap_ids);
    free(m->gen);
    free(m);
}

const char *gs_dmodel_name(const gs_dmodel_t *m)
{
    return m->name;
}

const char *gs_dmodel_version(const gs_dmodel_t *m)
{
    return m->version;
}

const char *gs_dmodel_sha256(const gs_dmodel_t *m)
{
    return gs_modelfile_sha256(m->mf);
}

const gs_vocab_t *gs_dmodel_vocab(const gs_dmodel_t *m)
{
    return m->vocab;
}

double gs_dmodel_ngram_weight(const gs_dmodel_t *m)
{
    return m->kn ? m->kn_weight : 1;
}

static int grow(gs_dmodel_t *m, size_t B)
{
    if (B <= m->cap)
        return 0;
    size_t cap = B < 64 ? 64 : B;
#define GROW(field, count) gs_grow(&m->field, (count), sizeof(*m->field))
    if (GROW(xa, (size_t)m->units * cap) || GROW(xb, (size_t)m->units * cap) ||
        GROW(phi, cap * m->D) || GROW(logits, cap * m->V) || GROW(terms, m->V) ||
        GROW(tokens, cap) || GROW(last, cap) || GROW(last2, cap) || GROW(mixed, m->V) ||
        GROW(order, cap) || GROW(keys, cap) || GROW(rng, cap) || GROW(rows, cap) ||
        GROW(gen, cap * GEN_MAX) || GROW(n_ids, cap) || GROW(ids, cap) || GROW(cap_ids, cap))
        return -1;
#undef GROW
    memset(m->ids + m->cap, 0, (cap - m->cap) * sizeof(*m->ids));
    memset(m->cap_ids + m->cap, 0, (cap - m->cap) * sizeof(*m->cap_ids));
    m->cap = cap;
    return 0;
}

static size_t window(const gs_dmodel_t *m, size_t b)
{
    return m->n_ids[b] < m->context_tokens ? m->n_ids[b] : m->context_tokens;
}

static int by_key_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x < y) - (x > y);
}

/* Reads the windows of sequences 0..B-1 (the last context_tokens of each)
 * from a zero state into column p of m->xa for the sequence at position p,
 * m->order[p]. Positions are by window length, longest first, so the
 * sequences still reading are always a prefix and no step is spent on a
 * finished one. */
static void read_windows(gs_dmodel_t *m, size_t B)
{
    uint64_t *keys = m->keys;
    for (size_t b = 0; b < B; b++) /* (length, -index): stable for equal lengths */
        keys[b] = (uint64_t)window(m, b) << 32 | (uint32_t)(UINT32_MAX - b);
    qsort(keys, B, sizeof(keys[0]), by_key_desc);
    for (size_t p = 0; p < B; p++) {
        size_t b = m->order[p] = UINT32_MAX - (uint32_t)keys[p];
        m->last[p] = m->n_ids[b] ? m->ids[b][m->n_ids[b] - 1] : UINT32_MAX;
        m->last2[p] = m->n_ids[b] >= 2 ? m->ids[b][m->n_ids[b] - 2] : GS_KN_START;
    }
    memset(m->xa, 0, (size_t)m->units * B * sizeof(float));
    memset(m->xb, 0, (size_t)m->units * B * sizeof(float)); /* blocks may read past `active` */
    size_t active = B;
    for (size_t t = 0;; t++) {
        while (active && window(m, m->order[active - 1]) <= t)
            active--;
        if (!active)
            break;
        for (size_t p = 0; p < active; p++) {
            size_t b = m->order[p];
            m->tokens[p] = m->ids[b][m->n_ids[b] - window(m, b) + t];
        }
        gs_reservoir_step(&m->res, m->tokens, active, B, m->xa, m->xb);
        float *tmp = m->xa;
        m->xa = m->xb;
        m->xb = tmp;
        /* windows that end here: their state is final in both buffers */
        for (size_t p = active; p-- > 0 && window(m, m->order[p]) == t + 1;)
            for (uint32_t i = 0; i < m->units; i++)
                m->xb[(size_t)i * B + p] = m->xa[(size_t)i * B + p];
    }
}

/* logits row r = readout of the sequence at position rows[r] (B columns). */
static void read_out(gs_dmodel_t *m, size_t B, const size_t *rows, size_t nrows)
{
    for (size_t r = 0; r < nrows; r++)
        gs_features(m->phi + r * m->D, m->xa, B, rows[r], m->units, m->code, m->code_dims,
                    m->last[rows[r]]);
    if (nrows < 4) /* SGEMM would mostly pack w_out; SGEMV streams it once per row */
        for (size_t r = 0; r < nrows; r++)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)m->V, (int)m->D, 1.0f, m->w_out,
                        (int)m->D, m->phi + r * m->D, 1, 0.0f, m->logits + r * m->V, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nrows, (int)m->V, (int)m->D, 1.0f,
                    m->phi, (int)m->D, m->w_out, (int)m->D, 0.0f, m->logits, (int)m->V);
}

/* Vectorized like the reservoir (see vmath.h): the same bits everywhere. */
GS_CLONES double gs_link_terms(const float *restrict y, uint32_t n, float eps, float inv_temp,
                               float *restrict terms)
{
    float ymax = eps;
    for (uint32_t v = 0; v < n; v++)
        ymax = y[v] > ymax ? y[v] : ymax;
    const float lmax = gs_vm_log(ymax);
    for (uint32_t v = 0; v < n; v++)
        terms[v] = gs_vm_exp((gs_vm_log(y[v] > eps ? y[v] : eps) - lmax) * inv_temp);
    double sum = 0;
    for (uint32_t v = 0; v < n; v++)
        sum += terms[v];
    return sum;
}

/* Top k of a row by readout value (the link is monotone). */
static size_t top_k(const float *y, uint32_t V, size_t k, uint32_t *ids, int skip_unk)
{
    size_t n = 0;
    for (uint32_t v = skip_unk ? 1 : 0; v < V; v++) {
        if (n == k && y[v] <= y[ids[k - 1]])
            continue;
        size_t i = n < k ? n++ : k - 1;
        while (i > 0 && y[ids[i - 1]] < y[v]) {
            ids[i] = ids[i - 1];
            i--;
        }
        ids[i] = v;
    }
    return n;
}

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* With the n-gram part, the served distribution of readout row y of the
 * sequence at position p (in m->mixed); NULL without it. */
static const float *mixed_row(gs_dmodel_t *m, const float *y, size_t p)
{
    if (!m->kn)
        return NULL;
    double norm = gs_link_terms(y, m->V, m->eps, m->inv_temp, m->terms);
    gs_kn_mix(m->kn, m->last2[p], m->last[p], m->kn_weight, m->terms, 1 / norm, m->mixed);
    return m->mixed;
}

/* Next token of a generation: the best non-<unk> token, or a draw among the
 * top `sample` by probability. */
static uint32_t choose(gs_dmodel_t *m, const float *y, size_t p, int sample, uint64_t *rng)
{
    uint32_t ids[GS_DM_MAX_K] = {GS_TOK_EOT}; /* a vocabulary of <unk> alone ends at once */
    const float *mx = mixed_row(m, y, p);
    size_t k =
        top_k(mx ? mx : y, m->V,
              sample > 0 ? (size_t)(sample < GS_DM_MAX_K ? sample : GS_DM_MAX_K) : 1, ids, 1);
    if (k <= 1 || sample <= 0)
        return ids[0];
    float top[GS_DM_MAX_K], w[GS_DM_MAX_K];
    double total = 0;
    if (mx) {
        for (size_t i = 0; i < k; i++) {
            w[i] = mx[ids[i]];
            total += w[i];
        }
    } else {
        for (size_t i = 0; i < k; i++)
            top[i] = y[ids[i]];
        total = gs_link_terms(top, (uint32_t)k, m->eps, m->inv_temp, w);
    }
    double r = (double)(mix(rng) >> 11) / 9007199254740992.0 * total;
    for (size_t i = 0; i < k; i++)
        if ((r -= w[i]) <= 0)
            return ids[i];
    return ids[k - 1];
}

/* Predictions of readout row y of the sequence at position p: the top k
 * tokens and their probabilities. */
static void predict(gs_dmodel_t *m, const float *y, size_t p, size_t k, gs_dm_answer_t *a)
{
    uint32_t ids[GS_DM_MAX_K];
    k = k < 1 ? 1 : k > GS_DM_MAX_K ? GS_DM_MAX_K : k;
    const float *mx = mixed_row(m, y, p);
    a->n_preds = top_k(mx ? mx : y, m->V, k, ids, 0);
    const float *prob = mx ? mx : m->terms;
    double norm = mx ? 1 : gs_link_terms(y, m->V, m->eps, m->inv_temp, m->terms), sum = 0;
    for (size_t i = 0; i < a->n_preds; i++) {
        a->preds[i] = (gs_dm_pred_t){gs_vocab_token(m->vocab, ids[i]), prob[ids[i]] / norm};
        sum += a->preds[i].probability;
    }
    /* When the top k hold nearly all the mass, the divisions' rounding can
     * lift their sum over 1 by an ulp; the contract is a sum <= 1, added up
     * in order as a consumer would. */
    while (sum > 1.0) {
        double f = (1.0 - 0x1p-50) / sum;
        sum = 0;
        for (size_t i = 0; i < a->n_preds; i++)
            sum += a->preds[i].probability *= f;
    }
}

gs_err_t gs_dmodel_run(gs_dmodel_t *m, const gs_dm_query_t *q, size_t n, gs_dm_answer_t *a,
                       char *errstr, size_t en)
{
    if (!n)
        return GS_OK;
    if (grow(m, n))
        return gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory for a batch of %zu", n);
    for (size_t b = 0; b < n; b++) {
        m->n_ids[b] = 0;
        memset(&a[b], 0, sizeof(a[b]));
        if (gs_vocab_encode_turns(m->vocab, q[b].turns, q[b].n_turns, &m->ids[b], &m->n_ids[b],
                                  &m->cap_ids[b]))
            return gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory tokenizing");
    }
    read_windows(m, n);
    size_t *rows = m->rows;
    for (size_t p = 0; p < n; p++)
        rows[p] = p;
    read_out(m, n, rows, n);

    /* from here on, sequence p is query order[p] */
    size_t active = 0;
    for (size_t p = 0; p < n; p++) {
        const gs_dm_query_t *qq = &q[m->order[p]];
        if (qq->op == GS_DM_GENERATE)
            rows[active++] = p;
        else
            predict(m, m->logits + p * m->V, p, qq->op == GS_DM_TOP_K ? (size_t)qq->k : 1,
                    &a[m->order[p]]);
    }

    /* GENERATE: one token per step for every generation still running;
     * logits rows are compacted to the running ones (row r: position rows[r]) */
    if (active)
        read_out(m, n, rows, active);
    uint64_t *rng = m->rng;
    for (size_t p = 0; p < n; p++)
        rng[p] = q[m->order[p]].seed;
    for (int step = 0; active && step < GEN_MAX; step++) {
        size_t still = 0;
        for (size_t p = 0; p < n; p++)
            m->tokens[p] = UINT32_MAX;
        for (size_t r = 0; r < active; r++) {
            size_t p = rows[r];
            const gs_dm_query_t *qq = &q[m->order[p]];
            gs_dm_answer_t *ap = &a[m->order[p]];
            uint32_t t = choose(m, m->logits + r * m->V, p, qq->sample_top_k, &rng[p]);
            if (t == GS_TOK_EOT || ap->tokens >= qq->max_tokens)
                continue;
            m->gen[p * GEN_MAX + (size_t)ap->tokens++] = t;
            if (ap->tokens < qq->max_tokens) {
                m->last2[p] = m->last[p];
                m->tokens[p] = m->last[p] = t;
                rows[still++] = p;
            }
        }
        active = still;
        if (!active)
            break;
        gs_reservoir_step(&m->res, m->tokens, n, n, m->xa, m->xb);
        float *tmp = m->xa;
        m->xa = m->xb;
        m->xb = tmp;
        read_out(m, n, rows, active);
    }
    for (size_t p = 0; p < n; p++) {
        gs_dm_answer_t *ap = &a[m->order[p]];
        if (q[m->order[p]].op == GS_DM_GENERATE)
            ap->text_len = gs_vocab_decode(m->vocab, m->gen + p * GEN_MAX, (size_t)ap->tokens,
                                           ap->text, sizeof(ap->text));
    }
    return GS_OK;
}

gs_err_t gs_dmodel_distribution(gs_dmodel_t *m, const uint32_t *ids, size_t n, float *probs,
                                char *errstr, size_t en)
{
    if (grow(m, 1))
        return gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    if (n > m->cap_ids[0]) {
        if (gs_grow(&m->ids[0], n, sizeof(uint32_t)))
            return gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
        m->cap_ids[0] = n;
    }
    if (n)
        memcpy(m->ids[0], ids, n * sizeof(uint32_t));
    m->n_ids[0] = n;
    read_windows(m, 1);
    size_t row = 0;
    read_out(m, 1, &row, 1);
    const float *mx = mixed_row(m, m->logits, 0);
    if (mx) {
        memcpy(probs, mx, m->V * sizeof(float));
        return GS_OK;
    }
    double norm = gs_link_terms(m->logits, m->V, m->eps, m->inv_temp, m->terms);
    for (uint32_t v = 0; v < m->V; v++)
        probs[v] = (float)(m->terms[v] / norm);
    return GS_OK;
}
