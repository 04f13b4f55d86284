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

/* The per-session state cache (model.h): one slab of `cap` bytes used as
 * a ring of records, each a header, the state (units floats) and the ids
 * (uint16 when V <= 65,536), 8-byte aligned. A session's query always
 * writes a new record at the head and kills its old one, so the oldest
 * record, the one evicted at the tail, is the least recently used: LRU by
 * bytes, with variable-length windows and no per-entry maximum. Live
 * records are found by hash chains (offsets) through their headers. */
typedef struct crec {
    uint64_t key;
    uint64_t chain; /* next live record in the bucket (NOFF: none) */
    uint32_t n_ids; /* ids of the window read */
    uint32_t size;  /* bytes of the record, header included */
    uint32_t live;  /* 0: replaced, waiting for the tail */
    uint32_t pad;
} crec_t;

#define NOFF UINT64_MAX

typedef struct cache {
    size_t cap, n_buckets; /* slab bytes (0: not allocated), buckets */
    unsigned char *slab;
    uint64_t *head;       /* n_buckets chains of record offsets */
    size_t w, t, wrap;    /* head (next write), tail (oldest), wrap point */
    int wrapped;          /* records in [t, wrap) and [0, w); else [t, w) */
    size_t records, live; /* records in the ring, live ones */
    size_t live_bytes;    /* bytes of the live records */
    uint32_t id_bytes;    /* 2 or 4 */
    uint64_t hits, misses, saved;
} cache_t;

struct gs_dmodel {
    gs_modelfile_t *mf;
    gs_vocab_t *vocab;
    gs_reservoir_t res;
    const float *w_out; /* V x D, row-major (full-rank files) */
    const float *u, *p; /* W_out ~ U P: V x rank and rank x D (rank > 0) */
    const float *code;  /* V x code_dims */
    uint32_t V, D, units, code_dims, rank;
    float eps, inv_temp;
    uint32_t context_tokens; /* the most tokens of a window that are read */
    uint32_t context_step;   /* a longer window's start moves by this many (1: slides) */
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
    uint32_t *gen;    /* B x GEN_MAX generated tokens, by position */
    float *z;         /* B x rank: phi P^T */
    size_t *pos;      /* query -> position */
    uint32_t *skip;   /* by query: ids already read (a cache hit) */
    uint64_t *src;    /* by query: the hit's record (NOFF: none) */
    uint64_t *hkey;   /* by query: the session's key (0: none) */
    size_t cache_cap; /* the setting, bytes; the cache is allocated on first use */
    cache_t cache;
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
    m->context_step = count(meta, "context_step", 1); /* files before it: a sliding window */
    m->rank = count(ro, "rank", 0); /* files before the factorised readout: none, full */
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *version = json_string_value(json_object_get(meta, "version"));
    snprintf(m->name, sizeof(m->name), "%s", name ? name : "dialogue");
    snprintf(m->version, sizeof(m->version), "%s", version ? version : "0");
    if (!c.units || !c.input_nnz || c.input_nnz > c.units || !(m->eps > 0) || !(m->inv_temp > 0) ||
        !isfinite(m->inv_temp) || !m->context_tokens || !m->context_step ||
        m->context_step > m->context_tokens || !isfinite(c.density) || !isfinite(c.radius) ||
        !isfinite(c.leak) || !isfinite(c.amp) || !isfinite(c.alpha) || !isfinite(c.omega))
        return gs_fail(errstr, n, GS_ERR_DECODE, "%s: implausible model parameters", path);
    return GS_OK;
}

/* The readout: W_out, or with a rank its factors U and P (their first, or
 * NULL with errstr set). */
static const gs_tensor_t *readout_tensors(gs_dmodel_t *m, char *errstr, size_t n)
{
    if (!m->rank) {
        const gs_tensor_t *wo =
            gs_modelfile_get(m->mf, "w_out", GS_DT_F32, (uint64_t)m->V * m->D, errstr, n);
        m->w_out = wo ? wo->data : NULL;
        return wo;
    }
    if (m->rank > m->D || m->rank > m->V) {
        (void)gs_fail(errstr, n, GS_ERR_DECODE, "readout rank %u above min(V, D)", m->rank);
        return NULL;
    }
    const gs_tensor_t *u =
        gs_modelfile_get(m->mf, "w_out_u", GS_DT_F32, (uint64_t)m->V * m->rank, errstr, n);
    const gs_tensor_t *p =
        u ? gs_modelfile_get(m->mf, "w_out_p", GS_DT_F32, (uint64_t)m->rank * m->D, errstr, n)
          : NULL;
    if (!p)
        return NULL;
    m->u = u->data;
    m->p = p->data;
    return u;
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

/* ---- the per-session state cache ------------------------------------------ */

static void cache_free(cache_t *c)
{
    free(c->slab);
    free(c->head);
    memset(c, 0, sizeof(*c));
}

/* The smallest record: a window of no ids. */
static size_t rec_min(uint32_t units)
{
    return sizeof(crec_t) + (size_t)units * sizeof(float);
}

static size_t rec_bytes(const cache_t *c, uint32_t units, size_t n_ids)
{
    return (rec_min(units) + c->id_bytes * n_ids + 7) & ~(size_t)7;
}

static int cache_alloc(cache_t *c, size_t bytes, uint32_t units, uint32_t V)
{
    size_t cap = bytes & ~(size_t)7, nb = 1;
    while (nb < cap / rec_min(units) + 1) /* at most one live record per bucket on average */
        nb *= 2;
    c->slab = malloc(cap ? cap : 8);
    c->head = malloc(nb * sizeof(*c->head));
    if (!c->slab || !c->head) {
        cache_free(c);
        return -1;
    }
    for (size_t i = 0; i < nb; i++)
        c->head[i] = NOFF;
    c->cap = cap ? cap : 8, c->n_buckets = nb;
    c->id_bytes = V <= 65536 ? 2 : 4;
    return 0;
}

static crec_t *rec_at(const cache_t *c, uint64_t off)
{
    return (crec_t *)(void *)(c->slab + off);
}

static float *rec_state(crec_t *r)
{
    return (float *)(void *)(r + 1);
}

static unsigned char *rec_ids(crec_t *r, uint32_t units)
{
    return (unsigned char *)(rec_state(r) + units);
}

/* FNV-1a 64 of the session; 0 is kept for "none". */
static uint64_t session_key(gs_str_t s)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < s.len; i++)
        h = (h ^ (unsigned char)s.p[i]) * 1099511628211ull;
    return h ? h : 1;
}

static uint64_t cache_find(const cache_t *c, uint64_t key)
{
    uint64_t i = c->head[key & (c->n_buckets - 1)];
    while (i != NOFF && rec_at(c, i)->key != key)
        i = rec_at(c, i)->chain;
    return i;
}

/* A live record out of its chain and counted dead; its bytes stay in the
 * ring until the tail passes them. */
static void cache_kill(cache_t *c, uint64_t off)
{
    crec_t *r = rec_at(c, off);
    uint64_t *at = &c->head[r->key & (c->n_buckets - 1)];
    while (*at != off)
        at = &rec_at(c, *at)->chain;
    *at = r->chain;
    r->live = 0;
    c->live--, c->live_bytes -= r->size;
}

/* Drops the oldest record. */
static void ring_evict(cache_t *c)
{
    crec_t *r = rec_at(c, c->t);
    if (r->live)
        cache_kill(c, c->t);
    c->t += r->size, c->records--;
    if (c->wrapped && c->t == c->wrap)
        c->t = 0, c->wrapped = 0;
}

/* Room for a record of `size` bytes at the head, evicting from the tail;
 * NOFF if it could never fit. Records never straddle the slab's end: the
 * head wraps to 0 and [wrap, cap) stays unused until the tail wraps. */
static uint64_t ring_alloc(cache_t *c, size_t size)
{
    if (size > c->cap)
        return NOFF;
    for (;;) {
        if (!c->records)
            c->w = c->t = 0, c->wrapped = 0;
        if (!c->wrapped && c->cap - c->w >= size)
            break;
        if (!c->wrapped && c->t >= size) {
            c->wrap = c->w, c->w = 0, c->wrapped = 1;
            break;
        }
        if (c->wrapped && c->t - c->w >= size)
            break;
        ring_evict(c);
    }
    uint64_t off = c->w;
    c->w += size, c->records++;
    return off;
}

/* Whether a record's ids are the first ones of win. */
static int ids_match(const cache_t *c, crec_t *r, uint32_t units, const uint32_t *win)
{
    const unsigned char *p = rec_ids(r, units);
    if (c->id_bytes == 4)
        return !memcmp(p, win, r->n_ids * sizeof(*win));
    for (uint32_t k = 0; k < r->n_ids; k++) {
        uint16_t id;
        memcpy(&id, p + 2 * (size_t)k, 2);
        if (id != win[k])
            return 0;
    }
    return 1;
}

/* A new record of session `key`: the window's ids and the state. */
static void cache_put(cache_t *c, uint64_t key, const uint32_t *win, size_t n, const float *x,
                      size_t ld, uint32_t units)
{
    uint64_t old = cache_find(c, key);
    if (old != NOFF)
        cache_kill(c, old);
    size_t size = rec_bytes(c, units, n);
    uint64_t off = ring_alloc(c, size);
    if (off == NOFF)
        return; /* larger than the whole cache: not cached */
    crec_t *r = rec_at(c, off);
    uint64_t *h = &c->head[key & (c->n_buckets - 1)];
    *r = (crec_t){.key = key, .chain = *h, .n_ids = (uint32_t)n, .size = (uint32_t)size, .live = 1};
    *h = off;
    c->live++, c->live_bytes += size;
    float *st = rec_state(r);
    for (uint32_t u = 0; u < units; u++)
        st[u] = x[(size_t)u * ld];
    unsigned char *p = rec_ids(r, units);
    if (c->id_bytes == 4) {
        memcpy(p, win, n * sizeof(*win));
        return;
    }
    for (size_t k = 0; k < n; k++) {
        uint16_t id = (uint16_t)win[k];
        memcpy(p + 2 * k, &id, 2);
    }
}

gs_err_t gs_dmodel_set_cache(gs_dmodel_t *m, size_t bytes, char *errstr, size_t n)
{
    if (bytes > GS_DM_CACHE_MAX)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "state cache of %zu bytes: at most %zu",
                       bytes, (size_t)GS_DM_CACHE_MAX);
    cache_free(&m->cache);
    m->cache_cap = bytes;
    return GS_OK;
}

size_t gs_dmodel_cache_bytes(const gs_dmodel_t *m)
{
    return m->cache.slab ? m->cache.cap + m->cache.n_buckets * sizeof(uint64_t) : 0;
}

void gs_dmodel_cache_stats(const gs_dmodel_t *m, gs_dm_cache_stats_t *out)
{
    *out = (gs_dm_cache_stats_t){.hits = m->cache.hits,
                                 .misses = m->cache.misses,
                                 .tokens_saved = m->cache.saved,
                                 .entries = m->cache.live,
                                 .entry_bytes = m->cache.live_bytes,
                                 .capacity = m->cache_cap};
}

uint32_t gs_dmodel_context_tokens(const gs_dmodel_t *m)
{
    return m->context_tokens;
}

uint32_t gs_dmodel_context_step(const gs_dmodel_t *m)
{
    return m->context_step;
}

uint32_t gs_dmodel_readout_rank(const gs_dmodel_t *m)
{
    return m->rank;
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
        const gs_tensor_t *wo = b ? readout_tensors(m, errstr, n) : NULL;
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
            m->code = m->code_dims ? cd->data : NULL;
            err = check_reservoir(r, errstr, n);
        }
    }
    if (!err)
        err = load_ngram(m, json_object_get(meta, "ngram"), path, errstr, n);
    m->cache_cap = GS_DM_CACHE_DEFAULT_BYTES;
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
    free(m->z);
    free(m->pos);
    free(m->skip);
    free(m->src);
    free(m->hkey);
    cache_free(&m->cache);
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
        GROW(gen, cap * GEN_MAX) || GROW(n_ids, cap) || GROW(ids, cap) || GROW(cap_ids, cap) ||
        GROW(z, cap * (m->rank ? m->rank : 1)) || GROW(pos, cap) || GROW(skip, cap) ||
        GROW(src, cap) || GROW(hkey, cap))
        return -1;
#undef GROW
    memset(m->ids + m->cap, 0, (cap - m->cap) * sizeof(*m->ids));
    memset(m->cap_ids + m->cap, 0, (cap - m->cap) * sizeof(*m->cap_ids));
    m->cap = cap;
    return 0;
}

/* Tokens of query b's window: all of them up to context_tokens; past it,
 * from the first multiple of context_step that leaves at most
 * context_tokens, so the start moves only every context_step tokens and
 * the cache extends the window in between (step 1: the last
 * context_tokens, a window that slides with every token). */
static size_t window(const gs_dmodel_t *m, size_t b)
{
    size_t n = m->n_ids[b], c = m->context_tokens, s = m->context_step;
    return n <= c ? n : n - (n - c + s - 1) / s * s;
}

static int by_key_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x < y) - (x > y);
}

/* Tokens of query b's window still to read: all but a cache hit's. */
static size_t todo(const gs_dmodel_t *m, size_t b)
{
    return window(m, b) - m->skip[b];
}

/* Looks up the queries with a session: skip[b] of query b's window are
 * already read, in record src[b] (NOFF: none; the cached ids are compared
 * in full). hkey[b]: the session's key, 0 for queries not cached. */
static gs_err_t cache_lookup(gs_dmodel_t *m, const gs_dm_query_t *q, size_t n, char *errstr,
                             size_t en)
{
    cache_t *c = &m->cache;
    for (size_t b = 0; b < n; b++) {
        m->skip[b] = 0, m->src[b] = NOFF, m->hkey[b] = 0;
        size_t w = window(m, b);
        if (!m->cache_cap || !q[b].session.len || !w)
            continue;
        if (!c->slab && cache_alloc(c, m->cache_cap, m->units, m->V))
            return gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory for the state cache");
        m->hkey[b] = session_key(q[b].session);
        uint64_t i = cache_find(c, m->hkey[b]);
        const uint32_t *win = m->ids[b] + m->n_ids[b] - w;
        crec_t *r = i != NOFF ? rec_at(c, i) : NULL;
        if (r && r->n_ids <= w && ids_match(c, r, m->units, win)) {
            m->skip[b] = r->n_ids, m->src[b] = i;
            c->hits++, c->saved += r->n_ids;
        } else {
            c->misses++;
        }
    }
    return GS_OK;
}

/* Each cached query's window and final state into its session's entry
 * (the later query wins when a session comes twice in a batch). */
static void cache_store(gs_dmodel_t *m, size_t B)
{
    for (size_t b = 0; b < B; b++) {
        if (!m->hkey[b])
            continue;
        size_t w = window(m, b);
        cache_put(&m->cache, m->hkey[b], m->ids[b] + m->n_ids[b] - w, w, m->xa + m->pos[b], B,
                  m->units);
    }
}

/* Orders sequences 0..B-1 by tokens still to read, most first (position p
 * is query order[p], query b at pos[b]), and starts each from zero or its
 * cached state. */
static void start_windows(gs_dmodel_t *m, size_t B)
{
    uint64_t *keys = m->keys;
    for (size_t b = 0; b < B; b++) /* (length, -index): stable for equal lengths */
        keys[b] = (uint64_t)todo(m, b) << 32 | (uint32_t)(UINT32_MAX - b);
    qsort(keys, B, sizeof(keys[0]), by_key_desc);
    memset(m->xa, 0, (size_t)m->units * B * sizeof(float));
    memset(m->xb, 0, (size_t)m->units * B * sizeof(float)); /* blocks may read past `active` */
    for (size_t p = 0; p < B; p++) {
        size_t b = m->order[p] = UINT32_MAX - (uint32_t)keys[p];
        m->pos[b] = p;
        m->last[p] = m->n_ids[b] ? m->ids[b][m->n_ids[b] - 1] : UINT32_MAX;
        m->last2[p] = m->n_ids[b] >= 2 ? m->ids[b][m->n_ids[b] - 2] : GS_KN_START;
        if (m->src[b] == NOFF)
            continue;
        const float *st = rec_state(rec_at(&m->cache, m->src[b]));
        for (uint32_t i = 0; i < m->units; i++) /* in both: it may never be stepped */
            m->xa[(size_t)i * B + p] = m->xb[(size_t)i * B + p] = st[i];
    }
}

/* Reads the windows of sequences 0..B-1 (the last context_tokens of each,
 * less what the cache holds) into column p of m->xa for the sequence at
 * position p. Positions are by tokens to read, most first, so the
 * sequences still reading are always a prefix and no step is spent on a
 * finished one. */
static void read_windows(gs_dmodel_t *m, size_t B)
{
    start_windows(m, B);
    size_t active = B;
    for (size_t t = 0;; t++) {
        while (active && todo(m, m->order[active - 1]) <= t)
            active--;
        if (!active)
            break;
        for (size_t p = 0; p < active; p++) {
            size_t b = m->order[p];
            m->tokens[p] = m->ids[b][m->n_ids[b] - window(m, b) + m->skip[b] + t];
        }
        gs_reservoir_step(&m->res, m->tokens, active, B, m->xa, m->xb);
        float *tmp = m->xa;
        m->xa = m->xb;
        m->xb = tmp;
        /* windows that end here: their state is final in both buffers */
        for (size_t p = active; p-- > 0 && todo(m, m->order[p]) == t + 1;)
            for (uint32_t i = 0; i < m->units; i++)
                m->xb[(size_t)i * B + p] = m->xa[(size_t)i * B + p];
    }
}

/* logits = phi (P^T U^T): two products of rank r instead of one of D. */
static void read_out_lowrank(gs_dmodel_t *m, size_t nrows)
{
    const int V = (int)m->V, D = (int)m->D, r = (int)m->rank;
    if (nrows < 4) {
        for (size_t i = 0; i < nrows; i++) {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, r, D, 1.0f, m->p, D, m->phi + i * m->D, 1,
                        0.0f, m->z + i * m->rank, 1);
            cblas_sgemv(CblasRowMajor, CblasNoTrans, V, r, 1.0f, m->u, r, m->z + i * m->rank, 1,
                        0.0f, m->logits + i * m->V, 1);
        }
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nrows, r, D, 1.0f, m->phi, D, m->p, D,
                0.0f, m->z, r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nrows, V, r, 1.0f, m->z, r, m->u, r,
                0.0f, m->logits, V);
}

/* logits row r = readout of the sequence at position rows[r] (B columns). */
static void read_out(gs_dmodel_t *m, size_t B, const size_t *rows, size_t nrows)
{
    for (size_t r = 0; r < nrows; r++)
        gs_features(m->phi + r * m->D, m->xa, B, rows[r], m->units, m->code, m->code_dims,
                    m->last[rows[r]]);
    if (m->rank)
        read_out_lowrank(m, nrows);
    else if (nrows < 4) /* SGEMM would mostly pack w_out; SGEMV streams it once per row */
        for (size_t r = 0; r < nrows; r++)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)m->V, (int)m->D, 1.0f, m->w_out,
                        (int)m->D, m->phi + r * m->D, 1, 0.0f, m->logits + r * m->V, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nrows, (int)m->V, (int)m->D, 1.0f,
                    m->phi, (int)m->D, m->w_out, (int)m->D, 0.0f, m->logits, (int)m->V);
}

/* Vectorized like the reservoir (see vmath.h): the same bits everywhere.
 * The max and the sum run in LANES independent lanes, combined in a fixed
 * order: a serial double sum over V was a chain of V dependent adds, the
 * link's largest cost; the lanes are the same on every clone. */
#define LANES 16
GS_CLONES double gs_link_terms(const float *restrict y, uint32_t n, float eps, float inv_temp,
                               float *restrict terms)
{
    float mx[LANES];
    for (int l = 0; l < LANES; l++)
        mx[l] = eps;
    uint32_t v = 0;
    for (; v + LANES <= n; v += LANES)
        for (int l = 0; l < LANES; l++)
            mx[l] = y[v + l] > mx[l] ? y[v + l] : mx[l];
    float ymax = eps; /* the max is exact: the lanes give the serial loop's value */
    for (int l = 0; l < LANES; l++)
        ymax = mx[l] > ymax ? mx[l] : ymax;
    for (uint32_t t = v; t < n; t++)
        ymax = y[t] > ymax ? y[t] : ymax;
    const float lmax = gs_vm_log(ymax);
    for (uint32_t t = 0; t < n; t++)
        terms[t] = gs_vm_exp((gs_vm_log(y[t] > eps ? y[t] : eps) - lmax) * inv_temp);
    double acc[LANES] = {0};
    for (v = 0; v + LANES <= n; v += LANES)
        for (int l = 0; l < LANES; l++)
            acc[l] += terms[v + l];
    for (int w = LANES / 2; w > 0; w /= 2) /* pairwise, in a fixed order */
        for (int l = 0; l < w; l++)
            acc[l] += acc[l + w];
    double sum = acc[0];
    for (; v < n; v++)
        sum += terms[v];
    return sum;
}

/* Whether any of y[0..LANES) is above thr (or NaN, as the serial scan
 * would take it): top_k skips blocks where none is. */
GS_CLONES static int any_above(const float *restrict y, float thr)
{
    int any = 0;
    for (int l = 0; l < LANES; l++)
        any |= !(y[l] <= thr);
    return any;
}

/* Top k of a row by readout value (the link is monotone). Blocks that
 * cannot enter the list are skipped whole: the same ids as the scan of
 * every element. */
static size_t top_k(const float *y, uint32_t V, size_t k, uint32_t *ids, int skip_unk)
{
    size_t n = 0;
    for (uint32_t v = skip_unk ? 1 : 0; v < V; v++) {
        if (n == k && (v & (LANES - 1)) == 0 && v + LANES <= V &&
            !any_above(y + v, y[ids[k - 1]])) {
            v += LANES - 1;
            continue;
        }
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

/* GENERATE: one token per step for every generation still running (the
 * first `active` of rows, positions in query order, their logits rows read
 * out); logits rows are compacted to the running ones (row r: position
 * rows[r]). */
static void generate(gs_dmodel_t *m, const gs_dm_query_t *q, size_t n, gs_dm_answer_t *a,
                     size_t active)
{
    size_t *rows = m->rows;
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
    gs_err_t err = cache_lookup(m, q, n, errstr, en);
    if (err)
        return err;
    read_windows(m, n);
    cache_store(m, n);
    /* readout rows in query order, so a query's row and the SGEMM are the
     * same whatever the cache read (positions depend on it) */
    size_t *rows = m->rows, active = 0;
    for (size_t b = 0; b < n; b++)
        rows[b] = m->pos[b];
    read_out(m, n, rows, n);
    for (size_t b = 0; b < n; b++) {
        if (q[b].op == GS_DM_GENERATE)
            rows[active++] = m->pos[b];
        else
            predict(m, m->logits + b * m->V, m->pos[b], q[b].op == GS_DM_TOP_K ? (size_t)q[b].k : 1,
                    &a[b]);
    }
    if (active)
        read_out(m, n, rows, active);
    generate(m, q, n, a, active);
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
    m->skip[0] = 0, m->src[0] = NOFF; /* not cached */
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
