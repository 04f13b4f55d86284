/* Training of the dialogue model (SPEC 4):
 *   corpus -> split by conversation (hash of the line: 80/10/10) ->
 *   vocabulary (top V tokens of the training split) -> bigram counts and
 *   token codes (truncated SVD) -> reservoir pass over the training
 *   conversations (batched, sparse x dense) accumulating X X^T and X Y^T ->
 *   ridge solutions for a few lambdas (LAPACK, double) -> lambda by
 *   validation MSE -> eps and temperature by validation NLL -> interpolated
 *   modified Kneser-Ney trigrams of the training split (kn.c) and the
 *   model's weight in a linear mix with them by validation NLL -> held-out
 *   evaluation of the model, of the mix (what is served) and of unigram
 *   and bigram baselines (add-k, k fitted on validation) and the trigrams
 *   alone, on the same test samples -> model file (with the trigrams). */
#include <cblas.h>
#include <float.h>
#include <jansson.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "features.h"
#include "govstream/model.h"
#include "kn.h"

#define BATCH 64   /* conversations read together */
#define CHUNK 4096 /* feature columns per SSYRK */
#define N_VAL 8000 /* validation samples for lambda (MSE) */
#define N_FIT 3000 /* validation samples for eps and T (NLL) */

void gs_train_conf_default(gs_train_conf_t *c)
{
    memset(c, 0, sizeof(*c));
    gs_reservoir_conf_default(&c->reservoir);
    c->vocab = 8192;
    c->code_dims = 256;
    c->readout_rank = 64; /* docs/BENCHMARKS.md: the speed and perplexity of 32, 64, 128 */
    c->eval_tokens = 100000;
    /* windows of 128 to 256 tokens: the reservoir forgets within 128 (the report's `context`),
     * a miss reads at most 256, and a window's start moves only every 128 */
    c->context_tokens = 256;
    c->name = "dialogue-reservoir";
    c->version = "1";
}

/* ---- progress ----------------------------------------------------------- */

typedef struct progress {
    FILE *fp;
    const char *phase;
    double total, last_print;
    int64_t start_us;
    int tty;
} progress_t;

static double secs_since(int64_t us)
{
    return (double)(gs_now_us() - us) / 1e6;
}

static void phase(progress_t *p, const char *name, double total)
{
    if (p->fp && p->phase)
        fprintf(p->fp, "%s[train] %-28s done in %.1f s\n", p->tty ? "\r" : "", p->phase,
                secs_since(p->start_us));
    p->phase = name;
    p->total = total;
    p->last_print = 0;
    p->start_us = gs_now_us();
}

/* Percentages on a terminal only: in a pipe or a log, the phases' one line
 * each is enough. */
static void tick(progress_t *p, double done)
{
    if (!p->fp || !p->tty)
        return;
    double t = secs_since(p->start_us);
    if (t - p->last_print < 2.0 && done < p->total)
        return;
    p->last_print = t;
    double frac = p->total > 0 ? done / p->total : 1;
    double eta = frac > 0.001 ? t / frac - t : 0;
    fprintf(p->fp, "\r[train] %-28s %5.1f%%  %6.1f s  eta %6.1f s", p->phase, 100 * frac, t, eta);
    fflush(p->fp);
}

/* ---- corpus and split ---------------------------------------------------- */

typedef struct seqs {
    uint32_t *ids; /* all conversations back to back */
    size_t *start; /* n + 1 offsets */
    size_t n, n_ids, cap_ids;
} seqs_t;

typedef struct corpus {
    char *text;
    char **line;
    size_t *len;
    size_t n;
    int *split; /* 0 train, 1 validation, 2 test */
} corpus_t;

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static gs_err_t load_corpus(const char *path, corpus_t *c, char *errstr, size_t n)
{
    size_t len;
    gs_err_t err = gs_read_file(path, &c->text, &len, errstr, n);
    if (err)
        return err;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += c->text[i] == '\n';
    c->n = 0;
    c->line = malloc(lines * sizeof(char *));
    c->len = malloc(lines * sizeof(size_t));
    c->split = malloc(lines * sizeof(int));
    if (!c->line || !c->len || !c->split)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    char *p = c->text, *end = c->text + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = (size_t)((nl ? nl : end) - p);
        if (l) {
            c->line[c->n] = p;
            c->len[c->n] = l;
            uint64_t h = fnv(p, l) % 10;
            c->split[c->n++] = h < 8 ? 0 : h == 8 ? 1 : 2;
        }
        p = nl ? nl + 1 : end;
    }
    if (!c->n)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "%s: no conversations", path);
    return GS_OK;
}

static void free_corpus(corpus_t *c)
{
    free(c->text);
    free(c->line);
    free(c->len);
    free(c->split);
}

/* A conversation line as turns (TAB-separated). */
static size_t line_turns(const char *line, size_t len, gs_str_t *turns, size_t max)
{
    size_t n = 0;
    const char *p = line, *end = line + len;
    while (p <= end && n < max) {
        const char *tab = memchr(p, '\t', (size_t)(end - p));
        const char *e = tab ? tab : end;
        if (e > p)
            turns[n++] = (gs_str_t){p, (size_t)(e - p)};
        if (!tab)
            break;
        p = tab + 1;
    }
    return n;
}

/* ---- vocabulary ---------------------------------------------------------- */

typedef struct counter {
    char **tok;
    uint32_t *len;
    uint64_t *count;
    size_t cap, n;
    int oom;
} counter_t;

static void count_token(const char *tok, size_t len, void *opaque)
{
    counter_t *c = opaque;
    if (c->oom)
        return;
    if (c->n * 2 >= c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 1 << 16;
        counter_t nc = {calloc(ncap, sizeof(char *)),
                        calloc(ncap, sizeof(uint32_t)),
                        calloc(ncap, sizeof(uint64_t)),
                        ncap,
                        c->n,
                        0};
        if (!nc.tok || !nc.len || !nc.count) {
            free(nc.tok), free(nc.len), free(nc.count);
            c->oom = 1;
            return;
        }
        for (size_t i = 0; i < c->cap; i++) {
            if (!c->tok[i])
                continue;
            size_t j = fnv(c->tok[i], c->len[i]) & (ncap - 1);
            while (nc.tok[j])
                j = (j + 1) & (ncap - 1);
            nc.tok[j] = c->tok[i], nc.len[j] = c->len[i], nc.count[j] = c->count[i];
        }
        free(c->tok), free(c->len), free(c->count);
        *c = nc;
    }
    size_t j = fnv(tok, len) & (c->cap - 1);
    while (c->tok[j] && !(c->len[j] == len && !memcmp(c->tok[j], tok, len)))
        j = (j + 1) & (c->cap - 1);
    if (!c->tok[j]) {
        if (!(c->tok[j] = strndup(tok, len))) {
            c->oom = 1;
            return;
        }
        c->len[j] = (uint32_t)len;
        c->n++;
    }
    c->count[j]++;
}

typedef struct word {
    const char *tok;
    uint32_t len;
    uint64_t count;
} word_t;

static int by_count(const void *a, const void *b)
{
    const word_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->tok, y->tok);
}

/* Vocabulary blob: <unk>, <eot>, then the most frequent training tokens
 * (ties in byte order, so the result is deterministic). */
static gs_err_t build_vocab(const corpus_t *c, uint32_t V, char **blob, size_t *blob_len,
                            progress_t *pg, char *errstr, size_t n)
{
    counter_t cnt = {0};
    gs_str_t turns[4096];
    phase(pg, "counting tokens", (double)c->n);
    for (size_t i = 0; i < c->n && !cnt.oom; i++) {
        if (c->split[i] != 0)
            continue;
        size_t nt = line_turns(c->line[i], c->len[i], turns, 4096);
        for (size_t t = 0; t < nt; t++)
            gs_tokenize(turns[t].p, turns[t].len, count_token, &cnt);
        tick(pg, (double)i);
    }
    gs_err_t err = cnt.oom ? gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory counting") : GS_OK;
    word_t *words = err ? NULL : malloc((cnt.n ? cnt.n : 1) * sizeof(word_t));
    size_t k = 0;
    if (!err && !words)
        err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    if (!err) {
        for (size_t i = 0; i < cnt.cap; i++)
            if (cnt.tok[i])
                words[k++] = (word_t){cnt.tok[i], cnt.len[i], cnt.count[i]};
        qsort(words, k, sizeof(word_t), by_count);
        size_t keep = k < V - 2 ? k : V - 2, bytes = 12;
        for (size_t i = 0; i < keep; i++)
            bytes += words[i].len + 1;
        *blob = malloc(bytes);
        if (!*blob) {
            err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
        } else {
            memcpy(*blob, "<unk>\0<eot>\0", 12);
            size_t off = 12;
            for (size_t i = 0; i < keep; i++) {
                memcpy(*blob + off, words[i].tok, words[i].len + 1);
                off += words[i].len + 1;
            }
            *blob_len = off;
        }
    }
    free(words);
    for (size_t i = 0; i < cnt.cap; i++)
        free(cnt.tok[i]);
    free(cnt.tok), free(cnt.len), free(cnt.count);
    return err;
}

static gs_err_t encode_split(const corpus_t *c, const gs_vocab_t *v, int split, seqs_t *s,
                             char *errstr, size_t n)
{
    gs_str_t turns[4096];
    s->start = malloc((c->n + 1) * sizeof(size_t));
    if (!s->start)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->n; i++) {
        if (c->split[i] != split)
            continue;
        s->start[s->n++] = s->n_ids;
        size_t nt = line_turns(c->line[i], c->len[i], turns, 4096);
        if (gs_vocab_encode_turns(v, turns, nt, &s->ids, &s->n_ids, &s->cap_ids))
            return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory encoding");
    }
    s->start[s->n] = s->n_ids;
    return GS_OK;
}

static void free_seqs(seqs_t *s)
{
    free(s->ids);
    free(s->start);
}

/* ---- bigram counts (baseline and token codes) ----------------------------- */

typedef struct bigram {
    uint32_t V;
    uint64_t *uni;   /* V: counts of the token as a successor */
    uint64_t *prevc; /* V: counts of the token as a predecessor */
    uint64_t total;
    size_t *off;    /* V + 1: per previous token, its successors... */
    uint32_t *next; /* ...sorted by count descending (ties: lower id) */
    uint64_t *count;
    uint32_t uni_top[5];
} bigram_t;

typedef struct pair {
    uint32_t prev, next;
} pair_t;

static int cmp_pair(const void *a, const void *b)
{
    const pair_t *x = a, *y = b;
    if (x->prev != y->prev)
        return x->prev < y->prev ? -1 : 1;
    return (x->next > y->next) - (x->next < y->next);
}

static gs_err_t bigram_build(bigram_t *bg, const seqs_t *train, uint32_t V, char *errstr, size_t n)
{
    bg->V = V;
    bg->uni = calloc(V, sizeof(uint64_t));
    bg->prevc = calloc(V, sizeof(uint64_t));
    bg->off = calloc((size_t)V + 1, sizeof(size_t));
    size_t np = 0;
    for (size_t c = 0; c < train->n; c++) {
        size_t len = train->start[c + 1] - train->start[c];
        np += len ? len - 1 : 0;
    }
    pair_t *pairs = malloc((np ? np : 1) * sizeof(pair_t));
    bg->next = malloc((np ? np : 1) * sizeof(uint32_t));
    bg->count = malloc((np ? np : 1) * sizeof(uint64_t));
    if (!bg->uni || !bg->prevc || !bg->off || !pairs || !bg->next || !bg->count) {
        free(pairs);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory for the bigram counts");
    }
    size_t k = 0;
    for (size_t c = 0; c < train->n; c++)
        for (size_t i = train->start[c]; i + 1 < train->start[c + 1]; i++)
            pairs[k++] = (pair_t){train->ids[i], train->ids[i + 1]};
    qsort(pairs, k, sizeof(pair_t), cmp_pair);
    size_t distinct = 0;
    for (size_t i = 0; i < k; i++) {
        bg->uni[pairs[i].next]++;
        bg->prevc[pairs[i].prev]++;
        if (i && pairs[i].prev == pairs[i - 1].prev && pairs[i].next == pairs[i - 1].next) {
            bg->count[distinct - 1]++;
            continue;
        }
        bg->next[distinct] = pairs[i].next;
        bg->count[distinct] = 1;
        bg->off[pairs[i].prev + 1] = ++distinct; /* end of this prev's run so far */
    }
    for (uint32_t v = 1; v <= V; v++) /* tokens without successors: empty runs */
        if (bg->off[v] < bg->off[v - 1])
            bg->off[v] = bg->off[v - 1];
    bg->total = k;
    free(pairs);
    for (uint32_t v = 0; v < V; v++) { /* each run by count descending */
        for (size_t i = bg->off[v] + 1; i < bg->off[v + 1]; i++) {
            uint32_t nx = bg->next[i];
            uint64_t ct = bg->count[i];
            size_t j = i;
            while (j > bg->off[v] &&
                   (bg->count[j - 1] < ct || (bg->count[j - 1] == ct && bg->next[j - 1] > nx))) {
                bg->next[j] = bg->next[j - 1];
                bg->count[j] = bg->count[j - 1];
                j--;
            }
            bg->next[j] = nx;
            bg->count[j] = ct;
        }
    }
    size_t m = 0; /* the five most frequent successors overall */
    for (uint32_t v = 0; v < V; v++) {
        if (m == 5 && bg->uni[v] <= bg->uni[bg->uni_top[4]])
            continue;
        size_t i = m < 5 ? m++ : 4;
        while (i > 0 && bg->uni[bg->uni_top[i - 1]] < bg->uni[v])
            bg->uni_top[i] = bg->uni_top[i - 1], i--;
        bg->uni_top[i] = v;
    }
    return GS_OK;
}

static void bigram_free(bigram_t *bg)
{
    free(bg->uni), free(bg->prevc), free(bg->off), free(bg->next), free(bg->count);
}

static uint64_t bigram_count(const bigram_t *bg, uint32_t prev, uint32_t next)
{
    for (size_t i = bg->off[prev]; i < bg->off[prev + 1]; i++)
        if (bg->next[i] == next)
            return bg->count[i];
    return 0;
}

/* ---- token codes ----------------------------------------------------------------
 * The top `dims` left singular vectors of the bigram matrix with rows
 * weighted by sqrt(count of the previous token): M[p][n] = c(p,n)/sqrt(c(p)).
 * With U S V^T ~ M, code(p) = U[p] S / sqrt(c(p)) lets a linear readout of
 * the code hold the best rank-`dims` approximation of the bigram conditional
 * probabilities, weighted by how often each context occurs. Randomized SVD
 * (Halko, Martinsson, Tropp) with two power iterations; matrices are
 * row-major V x k. */

static void m_mul(const bigram_t *bg, const float *x, size_t k, float *y) /* y = M x */
{
    memset(y, 0, (size_t)bg->V * k * sizeof(float));
    for (uint32_t p = 0; p < bg->V; p++) {
        if (!bg->prevc[p])
            continue;
        float inv = (float)(1.0 / sqrt((double)bg->prevc[p]));
        float *yr = y + (size_t)p * k;
        for (size_t e = bg->off[p]; e < bg->off[p + 1]; e++) {
            float w = (float)bg->count[e] * inv;
            const float *xr = x + (size_t)bg->next[e] * k;
            for (size_t j = 0; j < k; j++)
                yr[j] += w * xr[j];
        }
    }
}

static void m_mul_t(const bigram_t *bg, const float *x, size_t k, float *y) /* y = M^T x */
{
    memset(y, 0, (size_t)bg->V * k * sizeof(float));
    for (uint32_t p = 0; p < bg->V; p++) {
        if (!bg->prevc[p])
            continue;
        float inv = (float)(1.0 / sqrt((double)bg->prevc[p]));
        const float *xr = x + (size_t)p * k;
        for (size_t e = bg->off[p]; e < bg->off[p + 1]; e++) {
            float w = (float)bg->count[e] * inv;
            float *yr = y + (size_t)bg->next[e] * k;
            for (size_t j = 0; j < k; j++)
                yr[j] += w * xr[j];
        }
    }
}

static int orthonormalise(float *y, uint32_t V, size_t k, float *tau)
{
    return LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, (lapack_int)V, (lapack_int)k, y, (lapack_int)k, tau) ||
           LAPACKE_sorgqr(LAPACK_ROW_MAJOR, (lapack_int)V, (lapack_int)k, (lapack_int)k, y,
                          (lapack_int)k, tau);
}

static gs_err_t token_codes(const bigram_t *bg, uint32_t dims, uint64_t seed, float **out,
                            char *errstr, size_t n)
{
    const uint32_t V = bg->V;
    size_t k = dims + 16 < V ? dims + 16 : V; /* oversampling */
    if (dims > k)
        dims = (uint32_t)k;
    float *q = malloc((size_t)V * k * sizeof(float)), *z = malloc((size_t)V * k * sizeof(float));
    float *tau = malloc(k * sizeof(float)), *s = malloc(k * sizeof(float));
    float *u = malloc((size_t)V * k * sizeof(float)), *vt = malloc(k * k * sizeof(float));
    float *superb = malloc(k * sizeof(float));
    float *code = calloc((size_t)V * dims, sizeof(float));
    gs_err_t err = q && z && tau && s && u && vt && superb && code ? GS_OK : GS_ERR_NOMEM;
    for (size_t i = 0; !err && i < (size_t)V * k; i++) { /* Gaussian, Box-Muller */
        uint64_t a = (seed += 0x9E3779B97F4A7C15ull), b = (seed += 0x9E3779B97F4A7C15ull);
        a = (a ^ (a >> 31)) * 0xBF58476D1CE4E5B9ull;
        b = (b ^ (b >> 29)) * 0x94D049BB133111EBull;
        double u1 = ((double)(a >> 11) + 1) / 9007199254740993.0;
        double u2 = (double)(b >> 11) / 9007199254740992.0;
        z[i] = (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
    }
    if (!err) {
        m_mul(bg, z, k, q);                      /* q = M omega */
        for (int it = 0; it < 2 && !err; it++) { /* power iterations: (M M^T) q */
            if (orthonormalise(q, V, k, tau))
                err = GS_ERR_INTERNAL;
            m_mul_t(bg, q, k, z);
            if (!err && orthonormalise(z, V, k, tau))
                err = GS_ERR_INTERNAL;
            m_mul(bg, z, k, q);
        }
        if (!err && orthonormalise(q, V, k, tau))
            err = GS_ERR_INTERNAL;
    }
    if (!err) {
        /* C = M^T Q (V x k) is B^T for B = Q^T M; B's left singular vectors
         * are C's right ones (VT rows) */
        m_mul_t(bg, q, k, z);
        if (LAPACKE_sgesvd(LAPACK_ROW_MAJOR, 'N', 'S', (lapack_int)V, (lapack_int)k, z,
                           (lapack_int)k, s, NULL, 1, vt, (lapack_int)k, superb))
            err = GS_ERR_INTERNAL;
    }
    if (!err) {
        /* U = Q U_B = Q VT^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)V, (int)k, (int)k, 1.0f, q,
                    (int)k, vt, (int)k, 0.0f, u, (int)k);
        double energy = 0, weight = 0;
        for (uint32_t p = 0; p < V; p++) {
            if (!bg->prevc[p])
                continue;
            double inv = 1.0 / sqrt((double)bg->prevc[p]), norm = 0;
            for (uint32_t j = 0; j < dims; j++) {
                float c = (float)(u[(size_t)p * k + j] * s[j] * inv);
                code[(size_t)p * dims + j] = c;
                norm += (double)c * c;
            }
            energy += norm * (double)bg->prevc[p];
            weight += (double)bg->prevc[p];
        }
        /* unit mean squared norm over the training tokens */
        float scale = energy > 0 ? (float)sqrt(weight / energy) : 1.0f;
        for (size_t i = 0; i < (size_t)V * dims; i++)
            code[i] *= scale;
    }
    free(q), free(z), free(tau), free(s), free(u), free(vt), free(superb);
    if (err) {
        free(code);
        return gs_fail(errstr, n, err,
                       err == GS_ERR_NOMEM ? "out of memory for token codes"
                                           : "token codes: LAPACK failed");
    }
    *out = code;
    return GS_OK;
}

/* ---- the reservoir pass ------------------------------------------------------
 * Calls sink(features, target token, current token, the token before it or
 * GS_KN_START at a conversation's first token, the current token's index
 * in s->ids, the tokens read so far) for every position of every
 * conversation that has a next token, in batches of conversations of
 * similar length, until `limit` samples (0: all). */
typedef void(sink_fn)(const float *phi, uint32_t target, uint32_t prev, uint32_t prev2, size_t at,
                      uint32_t read, void *opaque);

typedef struct codes {
    const float *code; /* vocab x dims */
    uint32_t dims;
} codes_t;

static int by_key(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static gs_err_t pass(const gs_reservoir_t *r, const codes_t *cd, const seqs_t *s, uint64_t limit,
                     sink_fn *sink, void *opaque, progress_t *pg, char *errstr, size_t n)
{
    const uint32_t units = r->conf.units, D = units + 1 + cd->dims;
    uint64_t *order = malloc((s->n ? s->n : 1) * sizeof(uint64_t));
    float *xa = malloc((size_t)units * BATCH * sizeof(float));
    float *xb = malloc((size_t)units * BATCH * sizeof(float));
    float *phi = malloc(D * sizeof(float));
    if (!order || !xa || !xb || !phi) {
        free(order), free(xa), free(xb), free(phi);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    /* similar lengths share a batch: sort by (length, index) */
    for (size_t i = 0; i < s->n; i++)
        order[i] = (uint64_t)(s->start[i + 1] - s->start[i]) << 32 | i;
    qsort(order, s->n, sizeof(uint64_t), by_key);
    for (size_t i = 0; i < s->n; i++)
        order[i] &= 0xFFFFFFFFu;
    uint64_t samples = 0, total = limit ? limit : s->n_ids;
    for (size_t first = 0; first < s->n && (!limit || samples < limit); first += BATCH) {
        size_t B = s->n - first < BATCH ? s->n - first : BATCH, steps = 0;
        for (size_t b = 0; b < B; b++) {
            size_t len = s->start[order[first + b] + 1] - s->start[order[first + b]];
            steps = len > steps ? len : steps;
        }
        memset(xa, 0, (size_t)units * B * sizeof(float));
        uint32_t tok[BATCH];
        for (size_t t = 0; t + 1 < steps && (!limit || samples < limit); t++) {
            for (size_t b = 0; b < B; b++) {
                size_t c = order[first + b], len = s->start[c + 1] - s->start[c];
                tok[b] = t < len ? s->ids[s->start[c] + t] : UINT32_MAX;
            }
            gs_reservoir_step(r, tok, B, B, xa, xb);
            float *tmp = xa;
            xa = xb;
            xb = tmp;
            for (size_t b = 0; b < B && (!limit || samples < limit); b++) {
                size_t c = order[first + b], len = s->start[c + 1] - s->start[c];
                if (t + 1 >= len)
                    continue;
                gs_features(phi, xa, B, b, units, cd->code, cd->dims, tok[b]);
                uint32_t prev2 = t ? s->ids[s->start[c] + t - 1] : GS_KN_START;
                sink(phi, s->ids[s->start[c] + t + 1], tok[b], prev2, s->start[c] + t,
                     (uint32_t)(t + 1), opaque);
                samples++;
            }
        }
        tick(pg, (double)samples > total ? (double)total : (double)samples);
    }
    free(order), free(xa), free(xb), free(phi);
    return GS_OK;
}

/* Gram sink: A += phi phi^T (SSYRK per chunk), B[:, target] += phi. */
typedef struct gram {
    uint32_t D, V;
    double *A, *B; /* D x D, D x V, column-major */
    float *chunk, *tmp;
    size_t fill;
} gram_t;

static void gram_flush(gram_t *g)
{
    if (!g->fill)
        return;
    cblas_ssyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int)g->D, (int)g->fill, 1.0f, g->chunk,
                (int)g->D, 0.0f, g->tmp, (int)g->D);
    for (uint32_t j = 0; j < g->D; j++)
        for (uint32_t i = 0; i <= j; i++)
            g->A[(size_t)j * g->D + i] += g->tmp[(size_t)j * g->D + i];
    g->fill = 0;
}

static void gram_sink(const float *phi, uint32_t target, uint32_t prev, uint32_t prev2, size_t at,
                      uint32_t read, void *opaque)
{
    (void)prev, (void)prev2, (void)at, (void)read;
    gram_t *g = opaque;
    memcpy(g->chunk + g->fill * g->D, phi, g->D * sizeof(float));
    double *col = g->B + (size_t)target * g->D;
    for (uint32_t i = 0; i < g->D; i++)
        col[i] += phi[i];
    if (++g->fill == CHUNK)
        gram_flush(g);
}

/* Sample sink: features (one sample per row), targets, current tokens and
 * the ones before them (GS_KN_START at a conversation's first token), and
 * where the current token is (its index in the sequences, the tokens read
 * so far: the served window's evaluation reads them again). */
typedef struct samples {
    uint32_t D;
    size_t n, cap;
    float *phi;
    uint32_t *target, *prev, *prev2, *read;
    size_t *at;
} samples_t;

static void sample_sink(const float *phi, uint32_t target, uint32_t prev, uint32_t prev2, size_t at,
                        uint32_t read, void *opaque)
{
    samples_t *s = opaque;
    if (s->n == s->cap)
        return;
    memcpy(s->phi + s->n * s->D, phi, s->D * sizeof(float));
    s->at[s->n] = at;
    s->read[s->n] = read;
    s->target[s->n] = target;
    s->prev2[s->n] = prev2;
    s->prev[s->n++] = prev;
}

static gs_err_t collect(const gs_reservoir_t *r, const codes_t *cd, const seqs_t *s, size_t cap,
                        samples_t *out, progress_t *pg, char *errstr, size_t n)
{
    if (!cap)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "no samples to collect");
    out->D = r->conf.units + 1 + cd->dims;
    out->cap = cap;
    out->phi = malloc(cap * out->D * sizeof(float));
    out->target = malloc(cap * sizeof(uint32_t));
    out->prev = malloc(cap * sizeof(uint32_t));
    out->prev2 = malloc(cap * sizeof(uint32_t));
    out->read = malloc(cap * sizeof(uint32_t));
    out->at = malloc(cap * sizeof(size_t));
    if (!out->phi || !out->target || !out->prev || !out->prev2 || !out->read || !out->at)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory for %zu samples", cap);
    return pass(r, cd, s, cap, sample_sink, out, pg, errstr, n);
}

static void free_samples(samples_t *s)
{
    free(s->phi), free(s->target), free(s->prev), free(s->prev2), free(s->read), free(s->at);
}

/* Y (n x V) = samples x W_out^T. */
static void readout(const float *w_out, uint32_t V, uint32_t D, const float *phi, size_t n,
                    float *y)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)V, (int)D, 1.0f, phi, (int)D,
                w_out, (int)D, 0.0f, y, (int)V);
}

/* A readout as evaluated: full (w, V x D) or factorised W ~ U P (u V x r,
 * p r x D; z: scratch for N_VAL x r), computed as serving does, (phi P^T)
 * U^T. */
typedef struct ro {
    const float *w, *u, *p;
    uint32_t V, D, r;
    float *z;
} ro_t;

static void ro_apply(const ro_t *ro, const float *phi, size_t n, float *y)
{
    if (!ro->r) {
        readout(ro->w, ro->V, ro->D, phi, n, y);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)ro->r, (int)ro->D, 1.0f, phi,
                (int)ro->D, ro->p, (int)ro->D, 0.0f, ro->z, (int)ro->r);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)ro->V, (int)ro->r, 1.0f,
                ro->z, (int)ro->r, ro->u, (int)ro->r, 0.0f, y, (int)ro->V);
}

/* ---- calibration and metrics ----------------------------------------------- */

/* Mean NLL of p ~ max(y, eps)^(1/T) on rows y (n x V) with targets, by
 * the link serving uses; NAN when out of memory. */
static double nll_link(const float *y, const uint32_t *target, size_t n, uint32_t V, float eps,
                       double T)
{
    float *terms = malloc(V * sizeof(float));
    if (!terms)
        return NAN;
    double total = 0;
    for (size_t s = 0; s < n; s++) {
        double sum = gs_link_terms(y + s * V, V, eps, (float)(1.0 / T), terms);
        total -= log(terms[target[s]] / sum);
    }
    free(terms);
    return total / (double)n;
}

/* Mean NLL of softmax(y / T): the SPEC's literal form, for the report. */
static double nll_softmax(const float *y, const uint32_t *target, size_t n, uint32_t V, double T)
{
    double total = 0;
    for (size_t s = 0; s < n; s++) {
        const float *row = y + s * V;
        float ymax = -FLT_MAX;
        for (uint32_t v = 0; v < V; v++)
            ymax = row[v] > ymax ? row[v] : ymax;
        double sum = 0; /* >= 1: the largest term is exp(0) */
        for (uint32_t v = 0; v < V; v++)
            sum += exp((row[v] - ymax) / T);
        // cppcheck-suppress invalidFunctionArg
        total += -((row[target[s]] - ymax) / T - log(sum));
    }
    return total / (double)n;
}

typedef double(nll_of_t)(double T, void *ctx);

/* Golden-section search of log T in [log lo, log hi]. */
static double golden(nll_of_t *f, void *ctx, double lo, double hi, double *best)
{
    const double g = 0.6180339887498949;
    double a = log(lo), b = log(hi), c = b - g * (b - a), d = a + g * (b - a);
    double fc = f(exp(c), ctx), fd = f(exp(d), ctx);
    for (int i = 0; i < 24; i++) {
        if (fc < fd) {
            b = d, d = c, fd = fc;
            c = b - g * (b - a);
            fc = f(exp(c), ctx);
        } else {
            a = c, c = d, fc = fd;
            d = a + g * (b - a);
            fd = f(exp(d), ctx);
        }
    }
    *best = fc < fd ? fc : fd;
    return fc < fd ? exp(c) : exp(d);
}

typedef struct fit_ctx {
    const float *y;
    const uint32_t *target;
    size_t n;
    uint32_t V;
    float eps;
} fit_ctx_t;

static double f_link(double T, void *c)
{
    fit_ctx_t *x = c;
    return nll_link(x->y, x->target, x->n, x->V, x->eps, T);
}

static double f_softmax(double T, void *c)
{
    fit_ctx_t *x = c;
    return nll_softmax(x->y, x->target, x->n, x->V, T);
}

typedef struct metrics {
    double nll, top1, top5;
    size_t n;
} metrics_t;

static json_t *metrics_json(const metrics_t *m)
{
    return json_pack("{s:f,s:f,s:f,s:f,s:I}", "perplexity", exp(m->nll / (double)m->n), "nll",
                     m->nll / (double)m->n, "top1", m->top1 / (double)m->n, "top5",
                     m->top5 / (double)m->n, "samples", (json_int_t)m->n);
}

static void eval_unigram(const bigram_t *bg, const samples_t *s, double k, metrics_t *m)
{
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < s->n; i++) {
        uint32_t t = s->target[i];
        m->nll -= log(((double)bg->uni[t] + k) / ((double)bg->total + k * bg->V));
        m->top1 += bg->uni_top[0] == t;
        for (int j = 0; j < 5; j++)
            m->top5 += bg->uni_top[j] == t;
    }
    m->n = s->n;
}

static void eval_bigram(const bigram_t *bg, const samples_t *s, double k, metrics_t *m)
{
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < s->n; i++) {
        uint32_t p = s->prev[i] < bg->V ? s->prev[i] : GS_TOK_UNK, t = s->target[i];
        m->nll -= log(((double)bigram_count(bg, p, t) + k) / ((double)bg->prevc[p] + k * bg->V));
        /* top 5: successors by count, then (if fewer) the unigram order */
        uint32_t top[5] = {0};
        size_t nt = 0;
        for (size_t j = bg->off[p]; j < bg->off[p + 1] && nt < 5; j++)
            top[nt++] = bg->next[j];
        for (int j = 0; j < 5 && nt < 5; j++) {
            int seen = 0;
            for (size_t q = 0; q < nt; q++)
                seen |= top[q] == bg->uni_top[j];
            if (!seen)
                top[nt++] = bg->uni_top[j];
        }
        m->top1 += top[0] == t;
        for (size_t j = 0; j < nt; j++)
            m->top5 += top[j] == t;
    }
    m->n = s->n;
}

/* Interpolated modified Kneser-Ney trigrams (kn.h) on the context the
 * samples carry; top 1 and 5 by the exact rank of the target over the
 * vocabulary (ties: lower id, as eval_model). */
static void eval_trigram_kn(const gs_kn_t *kn, const samples_t *s, metrics_t *m)
{
    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < s->n; i++) {
        uint32_t t = s->target[i];
        m->nll -= log(gs_kn_prob(kn, s->prev2[i], s->prev[i], t));
        size_t above = gs_kn_rank(kn, s->prev2[i], s->prev[i], t, 5);
        m->top1 += above == 0;
        m->top5 += above < 5;
    }
    m->n = s->n;
}

static json_t *trigram_kn_json(const gs_kn_t *kn, const metrics_t *m)
{
    json_t *o = metrics_json(m), *d = json_object();
    static const char *const order[] = {"unigram", "bigram", "trigram"};
    for (int k = 0; k < 3 && d; k++) {
        double x[3];
        gs_kn_discounts(kn, k + 1, x);
        json_object_set_new(d, order[k], json_pack("[f,f,f]", x[0], x[1], x[2]));
    }
    json_object_set_new(o, "discounts", d); /* D_1, D_2, D_3+ per order */
    const gs_kn_arrays_t *a = gs_kn_arrays(kn);
    json_object_set_new(o, "contexts", json_integer((json_int_t)a->n_ctx));
    json_object_set_new(o, "trigrams", json_integer((json_int_t)a->n_tri));
    json_object_set_new(o, "bigrams", json_integer((json_int_t)a->n_bi));
    json_object_set_new(o, "smoothing",
                        json_string("interpolated modified Kneser-Ney (Chen & Goodman 1998), "
                                    "continuation counts below the trigrams, the unigram "
                                    "level interpolated with 1/V"));
    return o;
}

/* add-k from a grid, by validation NLL */
static double fit_k(const bigram_t *bg, const samples_t *val, int bigram)
{
    static const double grid[] = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0};
    double best_k = 1, best = INFINITY;
    for (size_t i = 0; i < sizeof(grid) / sizeof(grid[0]); i++) {
        metrics_t m;
        if (bigram)
            eval_bigram(bg, val, grid[i], &m);
        else
            eval_unigram(bg, val, grid[i], &m);
        if (m.nll < best)
            best = m.nll, best_k = grid[i];
    }
    return best_k;
}

/* The readout's link and the n-gram mix, as served: what eval_model and
 * fit_mix need of both. */
typedef struct link {
    float eps, inv_temp;
    const gs_kn_t *kn; /* NULL: the model alone */
    double a;          /* the mix weight of the model */
} link_t;

/* How many tokens rank above t in a row (higher value, or equal and a
 * lower id). */
static size_t rank_in(const float *row, uint32_t V, uint32_t t)
{
    size_t above = 0;
    for (uint32_t v = 0; v < V; v++)
        above += row[v] > row[t] || (v < t && row[v] == row[t]);
    return above;
}

static void count_hit(metrics_t *m, double p, size_t above)
{
    m->nll -= log(p);
    m->top1 += above == 0;
    m->top5 += above < 5;
}

/* The model (*m) and, with lk->kn, the mix (*mk) on the samples: one
 * readout, the link, and the served mix of gs_kn_mix; top 1 and 5 by the
 * exact rank over the vocabulary (the model's by readout value, which the
 * link keeps in order). */
static gs_err_t eval_model(const ro_t *ro, const link_t *lk, const samples_t *s, metrics_t *m,
                           metrics_t *mk, progress_t *pg, char *errstr, size_t n)
{
    const uint32_t V = ro->V, D = ro->D;
    enum { ROWS = 256 };
    float *y = malloc((size_t)ROWS * V * sizeof(float)), *terms = malloc(V * sizeof(float));
    float *mixed = malloc(V * sizeof(float));
    if (!y || !terms || !mixed) {
        free(y), free(terms), free(mixed);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    memset(m, 0, sizeof(*m));
    memset(mk, 0, sizeof(*mk));
    for (size_t first = 0; first < s->n; first += ROWS) {
        size_t rows = s->n - first < ROWS ? s->n - first : ROWS;
        ro_apply(ro, s->phi + first * D, rows, y);
        for (size_t r = 0; r < rows; r++) {
            const float *row = y + r * V;
            const size_t i = first + r;
            const uint32_t t = s->target[i];
            double sum = gs_link_terms(row, V, lk->eps, lk->inv_temp, terms);
            count_hit(m, terms[t] / sum, rank_in(row, V, t));
            if (!lk->kn)
                continue;
            gs_kn_mix(lk->kn, s->prev2[i], s->prev[i], lk->a, terms, 1 / sum, mixed);
            count_hit(mk, mixed[t], rank_in(mixed, V, t));
        }
        tick(pg, (double)(first + rows));
    }
    m->n = mk->n = s->n;
    free(y), free(terms), free(mixed);
    return GS_OK;
}

/* The mix weight a of p = a p_model + (1 - a) p_kn by validation NLL, on
 * a grid of 0.01 (the NLL is convex in a: the grid's best is within 0.01
 * of the optimum). *nll: the mean NLL at a. */
static gs_err_t fit_mix(const ro_t *ro, link_t *lk, const samples_t *s, double *nll, char *errstr,
                        size_t n)
{
    const uint32_t V = ro->V, D = ro->D;
    enum { ROWS = 256, GRID = 101 };
    float *y = malloc((size_t)ROWS * V * sizeof(float)), *terms = malloc(V * sizeof(float));
    double *pm = malloc(s->n * sizeof(double)), *pk = malloc(s->n * sizeof(double));
    if (!y || !terms || !pm || !pk) {
        free(y), free(terms), free(pm), free(pk);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    for (size_t first = 0; first < s->n; first += ROWS) {
        size_t rows = s->n - first < ROWS ? s->n - first : ROWS;
        ro_apply(ro, s->phi + first * D, rows, y);
        for (size_t r = 0; r < rows; r++) {
            const size_t i = first + r;
            double sum = gs_link_terms(y + r * V, V, lk->eps, lk->inv_temp, terms);
            pm[i] = terms[s->target[i]] * (1 / sum); /* as gs_kn_mix scales */
            pk[i] = gs_kn_prob(lk->kn, s->prev2[i], s->prev[i], s->target[i]);
        }
    }
    *nll = INFINITY;
    for (int g = 0; g < GRID; g++) {
        double a = g / (double)(GRID - 1), total = 0;
        for (size_t i = 0; i < s->n; i++)
            total -= log(a * pm[i] + (1 - a) * pk[i]);
        if (total / (double)s->n < *nll)
            *nll = total / (double)s->n, lk->a = a;
    }
    free(y), free(terms), free(pm), free(pk);
    return GS_OK;
}

/* What the loader reads of the n-gram part (dialogue.c): its form and the
 * model's weight in the mix; the sizes are for `govstream model info`. */
static json_t *ngram_meta(const gs_kn_t *kn, double weight)
{
    const gs_kn_arrays_t *a = gs_kn_arrays(kn);
    return json_pack("{s:s,s:f,s:I,s:I,s:I}", "form",
                     "interpolated modified Kneser-Ney trigrams, linear mix", "weight", weight,
                     "contexts", (json_int_t)a->n_ctx, "trigrams", (json_int_t)a->n_tri, "bigrams",
                     (json_int_t)a->n_bi);
}

static json_t *mix_json(const metrics_t *m, const link_t *lk, double val_nll, size_t val_n)
{
    json_t *o = metrics_json(m);
    json_object_set_new(o, "weight", json_real(lk->a));
    json_object_set_new(o, "validation_nll", json_real(val_nll));
    json_object_set_new(o, "validation_samples", json_integer((json_int_t)val_n));
    json_object_set_new(o, "form",
                        json_string("linear: p = weight * p_model + (1 - weight) * p_trigram_kn, "
                                    "weight on a grid of 0.01 by validation NLL"));
    return o;
}

/* ---- calibration of a readout ------------------------------------------------ */

typedef struct calib {
    float eps;
    double T, nll; /* the temperature and its validation NLL */
} calib_t;

/* eps and T of the link by validation NLL (the first N_FIT validation
 * samples, y: their readout on return). */
static gs_err_t calibrate(const ro_t *ro, const samples_t *vs, float *y, calib_t *out,
                          progress_t *pg, char *errstr, size_t n)
{
    static const float epss[] = {1e-6f, 3e-6f, 1e-5f, 3e-5f, 1e-4f, 3e-4f, 1e-3f, 3e-3f};
    const size_t n_eps = sizeof(epss) / sizeof(epss[0]);
    size_t nfit = vs->n < N_FIT ? vs->n : N_FIT;
    ro_apply(ro, vs->phi, nfit, y);
    *out = (calib_t){0, 1, INFINITY};
    for (size_t e = 0; e < n_eps; e++) {
        fit_ctx_t fc = {y, vs->target, nfit, ro->V, epss[e]};
        double nll, T = golden(f_link, &fc, 0.05, 20.0, &nll);
        if (nll < out->nll)
            out->nll = nll, out->T = T, out->eps = epss[e];
        tick(pg, (double)e + 1);
    }
    if (!isfinite(out->nll))
        return gs_fail(errstr, n, GS_ERR_NOMEM, "calibration failed (out of memory)");
    return GS_OK;
}

/* ---- the low-rank readout -----------------------------------------------------
 * Reduced-rank ridge regression: W_r = U U^T W minimises the fitted-value
 * error ||Phi (W - W_r)^T|| over rank r, U (V x r) the top left singular
 * vectors of M = W C^(1/2), C = Phi^T Phi the training features' Gram
 * matrix. From the D x D side: M^T M = C^(1/2) W^T W C^(1/2) = E S^2 E^T,
 * F = C^(1/2) E, U = W F / s and P = U^T W = F^T (W^T W) / s. All ranks
 * come from one eigen-decomposition (prefixes by singular value). */
typedef struct lowrank {
    uint32_t V, D, rmax;
    double *g;     /* V x rmax: W F, row-major */
    double *pt;    /* rmax x D: F^T W^T W, row-major */
    double *sigma; /* rmax, descending */
} lowrank_t;

static void lowrank_free(lowrank_t *lr)
{
    free(lr->g), free(lr->pt), free(lr->sigma);
}

/* Eigen-decomposition of the symmetric D x D a (column-major, upper
 * triangle read): vectors in a, values ascending in w. */
static int eig(double *a, uint32_t D, double *w)
{
    return LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)D, a, (lapack_int)D, w) != 0;
}

/* h = C^(1/2) (C from the Gram's upper triangle, negative eigenvalues of
 * rounding clamped to 0). q, w: scratch D x D and D. */
static int gram_sqrt(const gram_t *g, double *h, double *q, double *w)
{
    const uint32_t D = g->D;
    memcpy(q, g->A, (size_t)D * D * sizeof(double));
    if (eig(q, D, w))
        return -1;
    for (uint32_t j = 0; j < D; j++) {              /* h = Q diag(sqrt w) Q^T */
        double s = w[j] > 0 ? sqrt(sqrt(w[j])) : 0; /* split between both factors */
        for (uint32_t i = 0; i < D; i++)
            q[(size_t)j * D + i] *= s;
    }
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)D, (int)D, (int)D, 1.0, q, (int)D, q,
                (int)D, 0.0, h, (int)D);
    return 0;
}

static gs_err_t lowrank_basis(const gram_t *g, const float *w_out, uint32_t rmax, lowrank_t *lr,
                              char *errstr, size_t n)
{
    const uint32_t D = g->D, V = g->V;
    const size_t DD = (size_t)D * D;
    double *wd = malloc((size_t)V * D * sizeof(double)), *h = malloc(DD * sizeof(double));
    double *s = malloc(DD * sizeof(double)), *k = malloc(DD * sizeof(double));
    double *t = malloc(DD * sizeof(double)), *w = malloc(D * sizeof(double));
    double *f = malloc((size_t)D * rmax * sizeof(double));
    *lr = (lowrank_t){V,
                      D,
                      rmax,
                      malloc((size_t)V * rmax * sizeof(double)),
                      malloc((size_t)rmax * D * sizeof(double)),
                      malloc(rmax * sizeof(double))};
    gs_err_t err = wd && h && s && k && t && w && f && lr->g && lr->pt && lr->sigma
                       ? GS_OK
                       : gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory for the low-rank readout");
    if (!err && gram_sqrt(g, h, t, w))
        err = gs_fail(errstr, n, GS_ERR_INTERNAL, "low-rank readout: eigen-decomposition failed");
    if (!err) {
        for (size_t i = 0; i < (size_t)V * D; i++)
            wd[i] = w_out[i];
        /* s = W^T W: w_out row-major V x D is column-major D x V */
        cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int)D, (int)V, 1.0, wd, (int)D, 0.0,
                    s, (int)D);
        for (uint32_t j = 0; j < D; j++)
            for (uint32_t i = j + 1; i < D; i++)
                s[(size_t)j * D + i] = s[(size_t)i * D + j];
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)D, (int)D, (int)D, 1.0, s,
                    (int)D, h, (int)D, 0.0, t, (int)D); /* t = S H */
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)D, (int)D, (int)D, 1.0, h,
                    (int)D, t, (int)D, 0.0, k, (int)D); /* k = H S H */
        if (eig(k, D, w))
            err =
                gs_fail(errstr, n, GS_ERR_INTERNAL, "low-rank readout: eigen-decomposition failed");
    }
    if (!err) {
        for (uint32_t j = 0; j < rmax; j++) /* the top eigenvectors, largest first */
            lr->sigma[j] = w[D - 1 - j] > 0 ? sqrt(w[D - 1 - j]) : 0;
        /* f = H E_r (D x rmax, column-major) */
        for (uint32_t j = 0; j < rmax; j++)
            cblas_dgemv(CblasColMajor, CblasNoTrans, (int)D, (int)D, 1.0, h, (int)D,
                        k + (size_t)(D - 1 - j) * D, 1, 0.0, f + (size_t)j * D, 1);
        /* f column-major is F^T row-major: g = W F, pt = F^T S (row-major) */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)V, (int)rmax, (int)D, 1.0, wd,
                    (int)D, f, (int)D, 0.0, lr->g, (int)rmax);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rmax, (int)D, (int)D, 1.0, f,
                    (int)D, s, (int)D, 0.0, lr->pt, (int)D);
    }
    free(wd), free(h), free(s), free(k), free(t), free(w), free(f);
    return err;
}

/* One rank's readout, calibrated and mixed like the full one, on the same
 * validation and test samples. */
typedef struct rank_eval {
    uint32_t rank;
    float *u, *p; /* V x r, r x D */
    calib_t cal;
    link_t lk;
    double mix_nll;
    metrics_t mm, mx;
} rank_eval_t;

static gs_err_t eval_rank(const lowrank_t *lr, const samples_t *vs, const samples_t *ts,
                          const gs_kn_t *kn, float *y, float *z, rank_eval_t *re, progress_t *pg,
                          char *errstr, size_t n)
{
    const uint32_t V = lr->V, D = lr->D, r = re->rank;
    re->u = malloc((size_t)V * r * sizeof(float));
    re->p = malloc((size_t)r * D * sizeof(float));
    if (!re->u || !re->p)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory for the low-rank readout");
    for (uint32_t j = 0; j < r; j++) {
        double inv = lr->sigma[j] > 0 ? 1 / lr->sigma[j] : 0;
        for (uint32_t v = 0; v < V; v++)
            re->u[(size_t)v * r + j] = (float)(lr->g[(size_t)v * lr->rmax + j] * inv);
        for (uint32_t d = 0; d < D; d++)
            re->p[(size_t)j * D + d] = (float)(lr->pt[(size_t)j * D + d] * inv);
    }
    ro_t ro = {NULL, re->u, re->p, V, D, r, z};
    phase(pg, "low-rank calibration", 9); /* the names must outlive the call */
    gs_err_t err = calibrate(&ro, vs, y, &re->cal, pg, errstr, n);
    re->lk = (link_t){.eps = re->cal.eps, .inv_temp = (float)(1.0 / re->cal.T), .kn = kn, .a = 1};
    if (!err)
        err = fit_mix(&ro, &re->lk, vs, &re->mix_nll, errstr, n);
    phase(pg, "low-rank evaluation (test)", (double)ts->n);
    if (!err)
        err = eval_model(&ro, &re->lk, ts, &re->mm, &re->mx, pg, errstr, n);
    return err;
}

static json_t *rank_json(const rank_eval_t *re, uint32_t V, uint32_t D, const metrics_t *full_mix,
                         size_t val_n)
{
    json_t *o = json_pack("{s:i,s:I,s:I,s:f,s:f,s:f,s:o,s:o}", "rank", (int)re->rank, "parameters",
                          (json_int_t)re->rank * (V + D), "multiply_adds_per_request",
                          (json_int_t)re->rank * (V + D), "eps", (double)re->cal.eps, "temperature",
                          re->cal.T, "validation_nll", re->cal.nll, "model", metrics_json(&re->mm),
                          "model_kn_mix", mix_json(&re->mx, &re->lk, re->mix_nll, val_n));
    double ppl = exp(re->mx.nll / (double)re->mx.n),
           full = exp(full_mix->nll / (double)full_mix->n);
    json_object_set_new(o, "mix_perplexity_cost_vs_full_rank", json_real(ppl / full - 1));
    return o;
}

/* The candidate ranks (RANKS, and the one asked for) below min(V, D); the
 * asked-for one (0 if full) is *chosen. */
static size_t rank_list(uint32_t asked, uint32_t V, uint32_t D, uint32_t *ranks, uint32_t *chosen)
{
    static const uint32_t cand[] = {32, 64, 128};
    size_t k = 0;
    uint32_t lim = V < D ? V : D;
    for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]); i++)
        if (cand[i] < lim)
            ranks[k++] = cand[i];
    *chosen = asked && asked < lim ? asked : 0;
    int listed = !*chosen;
    for (size_t i = 0; i < k; i++)
        listed |= ranks[i] == *chosen;
    if (!listed)
        ranks[k++] = *chosen;
    return k;
}

/* Every candidate rank evaluated (res[i]); the report's "low_rank" object. */
static gs_err_t eval_ranks(const gram_t *g, const float *w_out, const samples_t *vs,
                           const samples_t *ts, const gs_kn_t *kn, float *y, const uint32_t *ranks,
                           size_t nr, rank_eval_t *res, progress_t *pg, char *errstr, size_t n)
{
    uint32_t rmax = 0;
    for (size_t i = 0; i < nr; i++)
        rmax = ranks[i] > rmax ? ranks[i] : rmax;
    if (!nr || !rmax) /* rank 0 is the full readout: nothing to factorise */
        return GS_OK;
    lowrank_t lr = {0};
    phase(pg, "low-rank readout (RRR)", 1);
    gs_err_t err = lowrank_basis(g, w_out, rmax, &lr, errstr, n);
    float *z = err ? NULL : malloc((size_t)N_VAL * rmax * sizeof(float));
    if (!err && !z)
        err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !err && i < nr; i++) {
        res[i].rank = ranks[i];
        err = eval_rank(&lr, vs, ts, kn, y, z, &res[i], pg, errstr, n);
    }
    free(z);
    lowrank_free(&lr);
    return err;
}

/* The report's "readout_rank" (what the file serves, 0: full) and
 * "low_rank": every rank tried, by rank, with its perplexity cost against
 * the full-rank mix on the same test samples. */
static void lowrank_report(json_t *report, const rank_eval_t *re, size_t nr,
                           const rank_eval_t *served, const metrics_t *full_mix, uint32_t V,
                           uint32_t D, size_t val_n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < nr; i++) {
        char key[16];
        snprintf(key, sizeof(key), "%u", re[i].rank);
        json_object_set_new(o, key, rank_json(&re[i], V, D, full_mix, val_n));
    }
    json_object_set_new(o, "form",
                        json_string("reduced-rank ridge regression: W_r = U U^T W, U the top "
                                    "left singular vectors of W C^(1/2), C the training "
                                    "features' Gram matrix; eps, T and the mix weight fitted "
                                    "on validation as for the full rank"));
    json_object_set_new(o, "full_rank_multiply_adds_per_request", json_integer((json_int_t)V * D));
    json_object_set_new(report, "low_rank", o);
    json_object_set_new(report, "readout_rank",
                        json_integer(served ? (json_int_t)served->rank : 0));
}

/* ---- the served window ------------------------------------------------------
 * Training and the report read each conversation from its start; serving
 * reads a request's last W = context_tokens tokens from a zero state. At
 * test positions with at most W tokens read the two states are the same
 * bits; at the others the window is read again here and the served mix is
 * evaluated on both states, so the report says what the bound costs. */
typedef struct wineval {
    uint32_t W, step;    /* the window: as served with context_tokens W, context_step step */
    size_t longer;       /* test positions with more than W tokens read */
    metrics_t full, win; /* the served mix there: state from the start, from the window */
} wineval_t;

typedef struct winbuf {
    samples_t f, w; /* the same positions: features from the start, from the window */
    float *xa, *xb;
} winbuf_t;

static void add_metrics(metrics_t *to, const metrics_t *m)
{
    to->nll += m->nll, to->top1 += m->top1, to->top5 += m->top5, to->n += m->n;
}

/* Reads the windows of the positions gathered in wb->w (their `at`) from
 * zero and evaluates the served mix on both feature sets. */
static gs_err_t window_flush(const gs_reservoir_t *r, const codes_t *cd, const seqs_t *te,
                             const ro_t *ro, const link_t *lk, winbuf_t *wb, wineval_t *we,
                             char *errstr, size_t n)
{
    const size_t B = wb->w.n;
    const uint32_t units = r->conf.units;
    uint32_t tok[BATCH], len = 0;
    for (size_t b = 0; b < B; b++)
        len = wb->w.read[b] > len ? wb->w.read[b] : len;
    memset(wb->xa, 0, (size_t)units * B * sizeof(float));
    for (uint32_t t = 0; t < len; t++) { /* aligned at the end: shorter ones start later */
        for (size_t b = 0; b < B; b++)
            tok[b] = t + wb->w.read[b] < len ? UINT32_MAX : te->ids[wb->w.at[b] + 1 + t - len];
        gs_reservoir_step(r, tok, B, B, wb->xa, wb->xb);
        float *tmp = wb->xa;
        wb->xa = wb->xb, wb->xb = tmp;
    }
    for (size_t b = 0; b < B; b++)
        gs_features(wb->w.phi + b * wb->w.D, wb->xa, B, b, units, cd->code, cd->dims,
                    te->ids[wb->w.at[b]]);
    metrics_t mm = {0}, mf = {0}, mw = {0};
    progress_t quiet = {0};
    gs_err_t err = eval_model(ro, lk, &wb->f, &mm, &mf, &quiet, errstr, n);
    if (!err)
        err = eval_model(ro, lk, &wb->w, &mm, &mw, &quiet, errstr, n);
    if (!err)
        add_metrics(&we->full, &mf), add_metrics(&we->win, &mw);
    wb->f.n = wb->w.n = 0;
    return err;
}

static int winbuf_new(winbuf_t *wb, uint32_t D, uint32_t units)
{
    for (int k = 0; k < 2; k++) {
        samples_t *s = k ? &wb->w : &wb->f;
        *s = (samples_t){.D = D, .cap = BATCH};
        s->phi = malloc((size_t)BATCH * D * sizeof(float));
        s->target = malloc(BATCH * sizeof(uint32_t));
        s->prev = malloc(BATCH * sizeof(uint32_t));
        s->prev2 = malloc(BATCH * sizeof(uint32_t));
        s->at = malloc(BATCH * sizeof(size_t));
        s->read = malloc(BATCH * sizeof(uint32_t)); /* the window's length */
        if (!s->phi || !s->target || !s->prev || !s->prev2 || !s->at || !s->read)
            return -1;
    }
    wb->xa = malloc((size_t)units * BATCH * sizeof(float));
    wb->xb = malloc((size_t)units * BATCH * sizeof(float));
    return wb->xa && wb->xb ? 0 : -1;
}

static void winbuf_free(winbuf_t *wb)
{
    free_samples(&wb->f), free_samples(&wb->w);
    free(wb->xa), free(wb->xb);
}

/* The served mix (ro, lk) with the state read from the last W tokens, on
 * the test samples ts (of the sequences te) that have more than W. */
static gs_err_t eval_window(const gs_reservoir_t *r, const codes_t *cd, const seqs_t *te,
                            const samples_t *ts, const ro_t *ro, const link_t *lk, uint32_t W,
                            uint32_t step, wineval_t *we, char *errstr, size_t n)
{
    *we = (wineval_t){.W = W, .step = step};
    winbuf_t wb = {0};
    gs_err_t err = winbuf_new(&wb, ts->D, r->conf.units)
                       ? gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory")
                       : GS_OK;
    for (size_t i = 0; !err && i < ts->n; i++) {
        if (ts->read[i] <= W)
            continue;
        we->longer++;
        for (int k = 0; k < 2; k++) {
            samples_t *s = k ? &wb.w : &wb.f;
            if (!k)
                memcpy(s->phi + s->n * s->D, ts->phi + i * ts->D, ts->D * sizeof(float));
            s->target[s->n] = ts->target[i], s->prev[s->n] = ts->prev[i];
            s->prev2[s->n] = ts->prev2[i], s->at[s->n] = ts->at[i];
            /* as dialogue.c's window(): from the first multiple of step
             * that leaves at most W */
            s->read[s->n++] = ts->read[i] - (ts->read[i] - W + step - 1) / step * step;
        }
        if (wb.w.n == BATCH)
            err = window_flush(r, cd, te, ro, lk, &wb, we, errstr, n);
    }
    if (!err && wb.w.n)
        err = window_flush(r, cd, te, ro, lk, &wb, we, errstr, n);
    winbuf_free(&wb);
    return err;
}

/* One window's line of the report: on all test samples (the served mix
 * from the start, `all`, with the longer positions' terms replaced by the
 * window's) and on the longer positions alone. */
static json_t *window_json(const wineval_t *we, const metrics_t *all)
{
    metrics_t w = *all;
    w.nll += we->win.nll - we->full.nll, w.top1 += we->win.top1 - we->full.top1;
    w.top5 += we->win.top5 - we->full.top5;
    json_t *o = json_object();
    json_object_set_new(o, "context_step", json_integer(we->step));
    json_object_set_new(o, "positions_longer", json_integer((json_int_t)we->longer));
    json_object_set_new(o, "all_positions", metrics_json(&w));
    json_object_set_new(o, "perplexity_cost_vs_full_history",
                        json_real(exp((w.nll - all->nll) / (double)all->n) - 1));
    if (we->longer) {
        json_object_set_new(o, "longer_full_history", metrics_json(&we->full));
        json_object_set_new(o, "longer_window", metrics_json(&we->win));
    }
    return o;
}

/* The report's "context": the served mix (ro, lk; all: its metrics from
 * the conversations' start) with the state read from windows of 128 (the
 * bound before it was a training option) and of context_tokens. */
static gs_err_t context_report(json_t *report, const gs_reservoir_t *r, const codes_t *cd,
                               const seqs_t *te, const samples_t *ts, const ro_t *ro,
                               const link_t *lk, const metrics_t *all, uint32_t ctx, uint32_t step,
                               progress_t *pg, char *errstr, size_t n)
{
    uint32_t ws[2] = {128, ctx}, steps[2] = {1, step};
    json_t *o = json_object(), *w = json_object();
    gs_err_t err = o && w ? GS_OK : gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    phase(pg, "served window evaluation", 2);
    for (int k = 0; !err && k < (ctx == 128 && step == 1 ? 1 : 2); k++) {
        wineval_t we;
        err = eval_window(r, cd, te, ts, ro, lk, ws[k], steps[k], &we, errstr, n);
        char key[16];
        snprintf(key, sizeof(key), k ? "served" : "128");
        if (!err)
            json_object_set_new(w, key, window_json(&we, all));
        tick(pg, k + 1.0);
    }
    if (err) {
        json_decref(o), json_decref(w);
        return err;
    }
    json_object_set_new(o, "context_tokens", json_integer(ctx));
    json_object_set_new(o, "context_step", json_integer(step));
    json_object_set_new(o, "full_history", metrics_json(all));
    json_object_set_new(o, "windows", w);
    json_object_set_new(o, "form",
                        json_string("the served mix on the test samples with the reservoir "
                                    "state read from the conversation's start (as trained) or "
                                    "from the last W tokens from zero (as served with "
                                    "context_tokens = W); the same bits where at most W were "
                                    "read"));
    json_object_set_new(report, "context", o);
    return GS_OK;
}

/* context_report for the readout the file serves: the factorised one, or
 * the full one (w_out, lk, mx) without a rank. */
static gs_err_t served_context(json_t *report, const gs_reservoir_t *r, const codes_t *cd,
                               const seqs_t *te, const samples_t *ts, const float *w_out,
                               const rank_eval_t *served, const link_t *lk, const metrics_t *mx,
                               uint32_t V, uint32_t ctx, uint32_t step, progress_t *pg,
                               char *errstr, size_t n)
{
    const uint32_t rank = served ? served->rank : 0;
    float *z = rank ? malloc((size_t)BATCH * rank * sizeof(float)) : NULL;
    if (rank && !z)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    const ro_t ro = {.w = rank ? NULL : w_out,
                     .u = rank ? served->u : NULL,
                     .p = rank ? served->p : NULL,
                     .V = V,
                     .D = ts->D,
                     .r = rank,
                     .z = z};
    gs_err_t err = context_report(report, r, cd, te, ts, &ro, rank ? &served->lk : lk,
                                  rank ? &served->mx : mx, ctx, step, pg, errstr, n);
    free(z);
    return err;
}

/* ---- the whole training ---------------------------------------------------------- */

static char *iso_now(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* Ridge solutions for a few lambdas (relative to the mean diagonal of
 * X X^T); the one with the lowest validation MSE goes into w_out (V x D). */
static gs_err_t ridge(const gram_t *g, const samples_t *vs, float *w_out, float *y,
                      double *lambda_rel, double *val_mse, progress_t *pg, char *errstr, size_t n)
{
    static const double lambdas[] = {1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2};
    const size_t n_lambdas = sizeof(lambdas) / sizeof(lambdas[0]);
    const uint32_t D = g->D, V = g->V;
    double *A = malloc((size_t)D * D * sizeof(double)),
           *Bm = malloc((size_t)D * V * sizeof(double));
    double *best = malloc((size_t)D * V * sizeof(double)), diag = 0;
    if (!A || !Bm || !best) {
        free(A), free(Bm), free(best);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory for the readout");
    }
    for (uint32_t i = 0; i < D; i++)
        diag += g->A[(size_t)i * D + i];
    diag /= D;
    *val_mse = INFINITY;
    phase(pg, "ridge regression", (double)n_lambdas);
    for (size_t li = 0; li < n_lambdas; li++) {
        memcpy(A, g->A, (size_t)D * D * sizeof(double));
        memcpy(Bm, g->B, (size_t)D * V * sizeof(double));
        for (uint32_t i = 0; i < D; i++)
            A[(size_t)i * D + i] += lambdas[li] * diag;
        tick(pg, (double)li + 0.5);
        if (LAPACKE_dposv(LAPACK_COL_MAJOR, 'U', (lapack_int)D, (lapack_int)V, A, (lapack_int)D, Bm,
                          (lapack_int)D))
            continue;                              /* not positive definite at this lambda */
        for (size_t i = 0; i < (size_t)V * D; i++) /* column v of the solution = row v of w_out */
            w_out[i] = (float)Bm[i];
        readout(w_out, V, D, vs->phi, vs->n, y);
        double mse = 0;
        for (size_t s = 0; s < vs->n; s++) {
            const float *row = y + s * V;
            for (uint32_t v = 0; v < V; v++)
                mse += (double)row[v] * row[v];
            mse += 1 - 2.0 * row[vs->target[s]];
        }
        mse /= (double)vs->n;
        if (mse < *val_mse) {
            *val_mse = mse, *lambda_rel = lambdas[li];
            memcpy(best, Bm, (size_t)D * V * sizeof(double));
        }
    }
    for (size_t i = 0; i < (size_t)V * D; i++)
        w_out[i] = (float)best[i];
    free(A), free(Bm), free(best);
    if (!isfinite(*val_mse))
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "no ridge solution (singular normal equations)");
    return GS_OK;
}

gs_err_t gs_train_dialogue(const gs_train_conf_t *conf, const char *corpus_path, const char *out,
                           FILE *progress_fp, char **report_out, char *errstr, size_t n)
{
    progress_t pg = {progress_fp, NULL,        0,
                     0,           gs_now_us(), progress_fp && isatty(fileno(progress_fp))};
    int64_t t0 = gs_now_us();
    corpus_t c = {0};
    seqs_t tr = {0}, va = {0}, te = {0};
    gs_vocab_t *vocab = NULL;
    gs_reservoir_t res = {0};
    gram_t g = {0};
    samples_t vs = {0}, ts = {0};
    bigram_t bg = {0};
    gs_kn_t *kn = NULL;
    char *blob = NULL, *meta_text = NULL;
    size_t blob_len = 0;
    float *w_out = NULL, *y = NULL, *code = NULL;
    json_t *report = NULL;
    const uint32_t units = conf->reservoir.units, D = units + 1 + conf->code_dims;
    const uint32_t step = conf->context_step ? conf->context_step : (conf->context_tokens + 1) / 2;

    gs_err_t err =
        conf->vocab < 16 ? gs_fail(errstr, n, GS_ERR_INVALID_ARG, "vocabulary too small")
        : !conf->context_tokens || conf->context_tokens > (1u << 24) || step > conf->context_tokens
            ? gs_fail(errstr, n, GS_ERR_INVALID_ARG,
                      "context tokens %u, step %u: expected 1 to %u, step at most that",
                      conf->context_tokens, step, 1u << 24)
            : load_corpus(corpus_path, &c, errstr, n);
    if (!err)
        err = build_vocab(&c, conf->vocab, &blob, &blob_len, &pg, errstr, n);
    if (!err)
        err = gs_vocab_new(blob, blob_len, &vocab, errstr, n);
    const uint32_t V = vocab ? gs_vocab_size(vocab) : 0;
    if (!err && conf->code_dims >= V) /* the corpus may have fewer words than asked for */
        err = gs_fail(errstr, n, GS_ERR_INVALID_ARG,
                      "code dims %u: must be below the vocabulary size (%u)", conf->code_dims, V);
    if (!err) {
        phase(&pg, "encoding", 3);
        err = encode_split(&c, vocab, 0, &tr, errstr, n);
        if (!err)
            err = encode_split(&c, vocab, 1, &va, errstr, n);
        if (!err)
            err = encode_split(&c, vocab, 2, &te, errstr, n);
        if (!err && (tr.n < 2 || va.n < 1 || te.n < 1))
            err = gs_fail(errstr, n, GS_ERR_INVALID_ARG,
                          "corpus too small: %zu / %zu / %zu conversations for train / "
                          "validation / test (split by line hash, 80/10/10)",
                          tr.n, va.n, te.n);
    }
    if (!err) {
        phase(&pg, "bigram counts", 1);
        err = bigram_build(&bg, &tr, V, errstr, n);
    }
    if (!err && conf->code_dims) {
        phase(&pg, "token codes (SVD)", 1);
        err = token_codes(&bg, conf->code_dims, conf->reservoir.seed ^ 0xC0DEull, &code, errstr, n);
    }
    codes_t cd = {code, conf->code_dims};
    if (!err) {
        phase(&pg, "drawing the reservoir", 1);
        err = gs_reservoir_init(&res, &conf->reservoir, V, errstr, n);
    }
    if (!err) {
        g.D = D, g.V = V;
        g.A = calloc((size_t)D * D, sizeof(double));
        g.B = calloc((size_t)D * V, sizeof(double));
        g.chunk = malloc((size_t)CHUNK * D * sizeof(float));
        g.tmp = malloc((size_t)D * D * sizeof(float));
        w_out = malloc((size_t)V * D * sizeof(float));
        y = malloc((size_t)N_VAL * V * sizeof(float));
        if (!g.A || !g.B || !g.chunk || !g.tmp || !w_out || !y)
            err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory for the normal equations");
    }
    if (!err) {
        phase(&pg, "reservoir pass (train)",
              (double)(conf->max_train_tokens ? conf->max_train_tokens : tr.n_ids));
        err = pass(&res, &cd, &tr, conf->max_train_tokens, gram_sink, &g, &pg, errstr, n);
        gram_flush(&g);
    }
    if (!err) {
        phase(&pg, "reservoir pass (validation)", N_VAL);
        err = collect(&res, &cd, &va, N_VAL, &vs, &pg, errstr, n);
    }
    size_t n_eval = conf->eval_tokens ? conf->eval_tokens : te.n_ids;
    if (!err) {
        phase(&pg, "reservoir pass (test)", (double)n_eval);
        err = collect(&res, &cd, &te, n_eval, &ts, &pg, errstr, n);
    }
    double lambda_rel = 0, val_mse = INFINITY;
    if (!err)
        err = ridge(&g, &vs, w_out, y, &lambda_rel, &val_mse, &pg, errstr, n);

    /* eps and temperature by validation NLL; softmax(y/T) for comparison */
    calib_t cal = {0, 1, INFINITY};
    double softmax_T = 1, softmax_nll = INFINITY;
    const ro_t full = {w_out, NULL, NULL, V, D, 0, NULL};
    if (!err) {
        phase(&pg, "calibration", 9);
        err = calibrate(&full, &vs, y, &cal, &pg, errstr, n);
        fit_ctx_t fc = {y, vs.target, vs.n < N_FIT ? vs.n : N_FIT, V, 0};
        softmax_T = golden(f_softmax, &fc, 1e-3, 10.0, &softmax_nll);
    }
    const float best_eps = cal.eps;
    const double best_T = cal.T, best_nll = cal.nll;

    /* the trigrams of the training split, mixed with the model by a weight
     * fitted on validation, then everything on the same test samples */
    metrics_t mm = {0}, mu = {0}, mb = {0}, mk = {0}, mx = {0};
    double k_uni = 1, k_bi = 1, mix_nll = NAN;
    link_t lk = {.eps = best_eps, .inv_temp = (float)(1.0 / best_T), .kn = NULL, .a = 1};
    if (!err) {
        phase(&pg, "trigram baseline (KN)", 1);
        err = gs_kn_new(tr.ids, tr.start, tr.n, V, &kn, errstr, n);
    }
    if (!err) {
        phase(&pg, "n-gram mix weight", 1);
        lk.kn = kn;
        err = fit_mix(&full, &lk, &vs, &mix_nll, errstr, n);
    }
    if (!err) {
        phase(&pg, "evaluation (test)", (double)ts.n);
        err = eval_model(&full, &lk, &ts, &mm, &mx, &pg, errstr, n);
    }
    if (!err) {
        phase(&pg, "baselines", 1);
        k_uni = fit_k(&bg, &vs, 0);
        k_bi = fit_k(&bg, &vs, 1);
        eval_unigram(&bg, &ts, k_uni, &mu);
        eval_bigram(&bg, &ts, k_bi, &mb);
        eval_trigram_kn(kn, &ts, &mk);
    }
    /* the factorised readouts on the same samples; the chosen one is served */
    uint32_t ranks[4], rank = 0;
    size_t nr = rank_list(conf->readout_rank, V, D, ranks, &rank), ri = 0;
    rank_eval_t re[4] = {0};
    if (!err)
        err = eval_ranks(&g, w_out, &vs, &ts, kn, y, ranks, nr, re, &pg, errstr, n);
    while (rank && re[ri].rank != rank)
        ri++;
    const rank_eval_t *served = rank ? &re[ri] : NULL;

    if (!err) {
        char when[32];
        size_t lines[3] = {0, 0, 0};
        for (size_t i = 0; i < c.n; i++)
            lines[c.split[i]]++;
        json_t *model_m = metrics_json(&mm), *uni_m = metrics_json(&mu), *bi_m = metrics_json(&mb);
        json_object_set_new(uni_m, "add_k", json_real(k_uni));
        json_object_set_new(bi_m, "add_k", json_real(k_bi));
        report = json_pack(
            "{s:s,s:{s:s,s:I,s:{s:I,s:I,s:I},s:{s:I,s:I,s:I}},s:{s:I,s:f},s:{s:I,s:I,s:f,s:f,s:f},"
            "s:{s:s,s:i,s:f,s:f,s:f,s:f,s:f,s:f,s:f},s:o,s:o,s:o,s:o,s:s}",
            "created_at", iso_now(when, sizeof(when)), "corpus", "file", corpus_path, "lines",
            (json_int_t)c.n, "conversations", "train", (json_int_t)lines[0], "validation",
            (json_int_t)lines[1], "test", (json_int_t)lines[2], "tokens", "train",
            (json_int_t)tr.n_ids, "validation", (json_int_t)va.n_ids, "test", (json_int_t)te.n_ids,
            "vocabulary", "size", (json_int_t)V, "coverage",
            bg.total ? 1.0 - (double)bg.uni[GS_TOK_UNK] / (double)bg.total : 0.0, "reservoir",
            "units", (json_int_t)units, "nnz", (json_int_t)res.nnz, "density",
            (double)conf->reservoir.density, "radius", (double)conf->reservoir.radius, "leak",
            (double)conf->reservoir.leak, "readout", "features",
            conf->code_dims ? "[1; c(u_t); x_t]" : "[1; x_t]", "code_dims", (int)conf->code_dims,
            "lambda_rel", lambda_rel, "validation_mse", val_mse, "eps", (double)best_eps,
            "temperature", best_T, "validation_nll", best_nll, "softmax_temperature", softmax_T,
            "softmax_temperature_validation_nll", softmax_nll, "model", model_m, "unigram", uni_m,
            "bigram", bi_m, "trigram_kn", trigram_kn_json(kn, &mk), "split",
            "line hash (FNV-1a 64) mod 10: 0-7 train, 8 validation, 9 test");
        json_object_set_new(report, "model_kn_mix", mix_json(&mx, &lk, mix_nll, vs.n));
        lowrank_report(report, re, nr, served, &mx, V, D, vs.n);
        err = served_context(report, &res, &cd, &te, &ts, w_out, served, &lk, &mx, V,
                             conf->context_tokens, step, &pg, errstr, n);
        json_t *meta = json_pack(
            "{s:s,s:s,s:s,s:i,s:{s:i,s:i,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:I},"
            "s:{s:f,s:f,s:f,s:i},s:O}",
            "kind", "dialogue", "name", conf->name, "version", conf->version, "context_tokens",
            (int)conf->context_tokens, "reservoir", "units", (int)units, "input_nnz",
            (int)conf->reservoir.input_nnz, "density", (double)conf->reservoir.density, "radius",
            (double)conf->reservoir.radius, "leak", (double)conf->reservoir.leak, "amp",
            (double)conf->reservoir.amp, "alpha", (double)conf->reservoir.alpha, "omega",
            (double)conf->reservoir.omega, "input_scale", (double)conf->reservoir.input_scale,
            "bias_scale", (double)conf->reservoir.bias_scale, "seed",
            (json_int_t)conf->reservoir.seed, "readout", "eps",
            (double)(served ? served->cal.eps : best_eps), "temperature",
            served ? served->cal.T : best_T, "lambda_rel", lambda_rel, "code_dims",
            (int)conf->code_dims, "report", report);
        if (meta) {
            if (served) /* the readout is the factorised one: w_out_u, w_out_p */
                json_object_set_new(json_object_get(meta, "readout"), "rank",
                                    json_integer((json_int_t)rank));
            json_object_set_new(meta, "ngram", ngram_meta(kn, served ? served->lk.a : lk.a));
            json_object_set_new(meta, "context_step", json_integer(step));
            json_object_set_new(report, "training_seconds", json_real(secs_since(t0)));
        }
        meta_text = meta ? json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(meta);
    }
    if (!err && (!report || !meta_text))
        err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory for the report");
    if (!err) {
        phase(&pg, "writing the model file", 1);
        const uint32_t k_in = conf->reservoir.input_nnz;
        gs_tensor_t t[10 + GS_KN_TENSORS] = {
            {"vocab", GS_DT_BYTES, 1, {blob_len, 0, 0, 0}, blob, blob_len, 0, 0},
            {"w_row_ptr",
             GS_DT_U32,
             1,
             {units + 1, 0, 0, 0},
             res.row_ptr,
             (uint64_t)(units + 1) * 4,
             0,
             0},
            {"w_col", GS_DT_U32, 1, {res.nnz, 0, 0, 0}, res.col, (uint64_t)res.nnz * 4, 0, 0},
            {"w_val", GS_DT_F32, 1, {res.nnz, 0, 0, 0}, res.val, (uint64_t)res.nnz * 4, 0, 0},
            {"in_row", GS_DT_U32, 2, {V, k_in, 0, 0}, res.in_row, (uint64_t)V * k_in * 4, 0, 0},
            {"in_val", GS_DT_F32, 2, {V, k_in, 0, 0}, res.in_val, (uint64_t)V * k_in * 4, 0, 0},
            {"bias", GS_DT_F32, 1, {units, 0, 0, 0}, res.bias, (uint64_t)units * 4, 0, 0},
            {"w_out", GS_DT_F32, 2, {V, D, 0, 0}, w_out, (uint64_t)V * D * 4, 0, 0},
            {"code",
             GS_DT_F32,
             2,
             {V, conf->code_dims, 0, 0},
             code,
             (uint64_t)V * conf->code_dims * 4,
             0,
             0},
        };
        size_t nt = conf->code_dims ? 9 : 8;
        if (served) { /* w_out_u and w_out_p in place of w_out */
            t[7] = (gs_tensor_t){.name = "w_out_u",
                                 .dtype = GS_DT_F32,
                                 .ndim = 2,
                                 .dims = {V, rank},
                                 .data = served->u,
                                 .nbytes = (uint64_t)V * rank * 4};
            t[nt++] = (gs_tensor_t){.name = "w_out_p",
                                    .dtype = GS_DT_F32,
                                    .ndim = 2,
                                    .dims = {rank, D},
                                    .data = served->p,
                                    .nbytes = (uint64_t)rank * D * 4};
        }
        gs_kn_tensors(kn, t + nt); /* the n-gram part that serving mixes in */
        nt += GS_KN_TENSORS;
        err = gs_modelfile_write(out, GS_MODEL_KIND_DIALOGUE, meta_text, t, nt, errstr, n);
        phase(&pg, NULL, 0);
    }
    if (!err && report_out)
        *report_out = json_dumps(report, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(report);
    for (size_t i = 0; i < nr; i++)
        free(re[i].u), free(re[i].p);
    free(meta_text), free(blob), free(w_out), free(y), free(code);
    free(g.A), free(g.B), free(g.chunk), free(g.tmp);
    free_samples(&vs), free_samples(&ts);
    bigram_free(&bg);
    gs_kn_destroy(kn);
    gs_reservoir_free(&res);
    gs_vocab_destroy(vocab);
    free_seqs(&tr), free_seqs(&va), free_seqs(&te);
    free_corpus(&c);
    return err;
}
