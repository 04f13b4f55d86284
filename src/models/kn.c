/* Interpolated modified Kneser-Ney trigrams (kn.h). Counting uses an
 * open-addressing table keyed by (w1, w2, w3) packed into 21 bits each;
 * what is kept are the sorted arrays of gs_kn_arrays_t: the contexts
 * (w1, w2) grouped by w1, each with its successors sorted by id, and the
 * bigram level CSR by w2. The rest (discounts, weights, P1) is derived from
 * those arrays by the same code after building and after loading, so that
 * a loaded model gives the same bits. Nothing is V x V. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/model.h"
#include "kn.h"

#define BITS         21
#define MASK         ((1ull << BITS) - 1)
#define EMPTY        UINT64_MAX /* no key: every key fits in 63 bits */
#define KEY(a, b, c) ((uint64_t)(a) << (2 * BITS) | (uint64_t)(b) << BITS | (uint64_t)(c))

typedef struct table { /* key -> u32, linear probing */
    uint64_t *key;
    uint32_t *val;
    size_t cap, n;
} table_t;

struct gs_kn {
    gs_kn_arrays_t a; /* owned by gs_kn_new's models, borrowed by gs_kn_load's */
    int owned;
    uint32_t V;
    double d[3][3];      /* [order - 1]: D_1, D_2, D_3+ */
    double *b_g, *b_inv; /* V: w2's weights */
    double *uni;         /* V: P1 */
    uint32_t *u_order;   /* V: by P1 descending, ties lower id */
};

/* ---- the table ------------------------------------------------------------ */

static size_t slot_of(uint64_t k, size_t cap)
{
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDull;
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

static int table_init(table_t *t, size_t cap)
{
    t->key = malloc(cap * sizeof(uint64_t));
    t->val = calloc(cap, sizeof(uint32_t));
    t->cap = cap, t->n = 0;
    if (!t->key || !t->val)
        return -1;
    memset(t->key, 0xFF, cap * sizeof(uint64_t));
    return 0;
}

static void table_free(table_t *t)
{
    free(t->key), free(t->val);
}

/* The slot of k: its own, or the free one where it would go. */
static size_t table_find(const table_t *t, uint64_t k)
{
    size_t j = slot_of(k, t->cap);
    while (t->key[j] != EMPTY && t->key[j] != k)
        j = (j + 1) & (t->cap - 1);
    return j;
}

static int table_grow(table_t *t)
{
    table_t nt;
    if (table_init(&nt, t->cap * 2)) {
        table_free(&nt);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (t->key[i] == EMPTY)
            continue;
        size_t j = table_find(&nt, t->key[i]);
        nt.key[j] = t->key[i], nt.val[j] = t->val[i];
    }
    nt.n = t->n;
    table_free(t);
    *t = nt;
    return 0;
}

/* The value slot of k, inserted as 0 if new; NULL when out of memory.
 * Half full at most, so probes stay short. */
static uint32_t *table_put(table_t *t, uint64_t k)
{
    if ((t->n + 1) * 2 > t->cap && table_grow(t))
        return NULL;
    size_t j = table_find(t, k);
    if (t->key[j] == EMPTY)
        t->key[j] = k, t->n++;
    return &t->val[j];
}

/* ---- discounts ------------------------------------------------------------- */

void gs_kn_estimate(const uint64_t n[4], double d[3])
{
    double n1 = (double)n[0], n2 = (double)n[1];
    double y = n1 + 2 * n2 > 0 ? n1 / (n1 + 2 * n2) : 0;
    int ok = n[0] && n[1] && n[2] && n[3];
    for (int k = 0; k < 3 && ok; k++) {
        d[k] = (k + 1) - (k + 2) * y * (double)n[k + 1] / (double)n[k];
        ok = d[k] > 0;
    }
    if (!ok) /* a discount of 0 would leave the unseen tokens nothing */
        d[0] = d[1] = d[2] = y > 0 && y < 1 ? y : 0.5;
}

static void estimate_from(const uint32_t *count, size_t n, double d[3])
{
    uint64_t coc[4] = {0};
    for (size_t i = 0; i < n; i++)
        if (count[i] >= 1 && count[i] <= 4)
            coc[count[i] - 1]++;
    gs_kn_estimate(coc, d);
}

/* Without an early return: selects, not branches, in the serving loop. */
static double kept(const double d[3], uint32_t c)
{
    double k = (double)c - (c ? d[c < 3 ? c - 1 : 2] : 0);
    return k > 0 ? k : 0;
}

/* A context's weights from its successors' counts: 1 / total and the
 * discounted mass g that goes to the lower order. */
static void weights(const double d[3], const uint32_t *count, size_t n, double *g, double *inv)
{
    double total = 0, taken = 0;
    for (size_t i = 0; i < n; i++) {
        total += count[i];
        taken += count[i] - kept(d, count[i]);
    }
    *inv = total > 0 ? 1 / total : 0;
    *g = total > 0 ? taken / total : 1;
}

/* ---- building ------------------------------------------------------------- */

static uint32_t clamp_id(uint32_t w, uint32_t V)
{
    return w < V ? w : GS_TOK_UNK;
}

static int count_trigrams(table_t *tri, uint32_t V, const uint32_t *ids, const size_t *start,
                          size_t n_seqs)
{
    if (table_init(tri, 1 << 16))
        return -1;
    for (size_t s = 0; s < n_seqs; s++) {
        for (size_t i = start[s] + 1; i < start[s + 1]; i++) {
            uint32_t w1 = i >= start[s] + 2 ? clamp_id(ids[i - 2], V) : V;
            uint64_t k = KEY(w1, clamp_id(ids[i - 1], V), clamp_id(ids[i], V));
            uint32_t *c = table_put(tri, k);
            if (!c)
                return -1;
            ++*c;
        }
    }
    return 0;
}

typedef struct item {
    uint64_t key;
    uint32_t count;
} item_t;

static int by_key(const void *a, const void *b)
{
    uint64_t x = ((const item_t *)a)->key, y = ((const item_t *)b)->key;
    return (x > y) - (x < y);
}

static int by_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The arrays being built (gs_kn_arrays_t's, writable). */
typedef struct build {
    uint32_t *ctx_first, *ctx_w2, *ctx_run, *tri_w, *tri_c, *bi_first, *bi_w, *bi_c;
} build_t;

/* The distinct trigrams sorted by key into tri_w, tri_c, and their keys
 * (*keys, for the contexts and the bigram level). */
static int sort_trigrams(const table_t *tri, build_t *b, uint64_t **keys)
{
    size_t n = tri->n, k = 0;
    item_t *it = malloc((n ? n : 1) * sizeof(item_t));
    *keys = malloc((n ? n : 1) * sizeof(uint64_t));
    b->tri_w = malloc((n ? n : 1) * sizeof(uint32_t));
    b->tri_c = malloc((n ? n : 1) * sizeof(uint32_t));
    if (!it || !*keys || !b->tri_w || !b->tri_c) {
        free(it);
        return -1;
    }
    for (size_t i = 0; i < tri->cap; i++)
        if (tri->key[i] != EMPTY)
            it[k++] = (item_t){tri->key[i], tri->val[i]};
    qsort(it, n, sizeof(item_t), by_key);
    for (size_t i = 0; i < n; i++) {
        (*keys)[i] = it[i].key;
        b->tri_w[i] = (uint32_t)(it[i].key & MASK);
        b->tri_c[i] = it[i].count;
    }
    free(it);
    return 0;
}

/* One context per run of equal (w1, w2) in the sorted keys, grouped by w1
 * (0 .. V, V for GS_KN_START). */
static int build_contexts(gs_kn_arrays_t *a, build_t *b, const uint64_t *keys)
{
    const size_t n = a->n_tri;
    size_t runs = 0;
    for (size_t i = 0; i < n; i++)
        runs += !i || keys[i] >> BITS != keys[i - 1] >> BITS;
    b->ctx_first = calloc((size_t)a->V + 2, sizeof(uint32_t));
    b->ctx_w2 = malloc((runs ? runs : 1) * sizeof(uint32_t));
    b->ctx_run = malloc((runs + 1) * sizeof(uint32_t));
    if (!b->ctx_first || !b->ctx_w2 || !b->ctx_run)
        return -1;
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && keys[i] >> BITS == keys[i - 1] >> BITS)
            continue;
        b->ctx_run[c] = (uint32_t)i;
        b->ctx_w2[c++] = (uint32_t)(keys[i] >> BITS & MASK);
        b->ctx_first[(keys[i] >> (2 * BITS)) + 1]++;
    }
    b->ctx_run[runs] = (uint32_t)n;
    for (uint32_t w1 = 1; w1 <= a->V + 1; w1++) /* counts to offsets */
        b->ctx_first[w1] += b->ctx_first[w1 - 1];
    a->n_ctx = runs;
    return 0;
}

/* Bigram types (w2, w3) with their continuation counts: how many distinct
 * w1 (GS_KN_START included) precede them. */
static int build_bigrams(gs_kn_arrays_t *a, build_t *b, uint64_t *keys)
{
    const size_t n = a->n_tri;
    for (size_t i = 0; i < n; i++)
        keys[i] &= (1ull << (2 * BITS)) - 1; /* (w2, w3) */
    qsort(keys, n, sizeof(uint64_t), by_u64);
    b->bi_first = calloc((size_t)a->V + 1, sizeof(uint32_t));
    b->bi_w = calloc(n ? n : 1, sizeof(uint32_t)); /* zeroed: the analyzer cannot see m <= n */
    b->bi_c = calloc(n ? n : 1, sizeof(uint32_t));
    if (!b->bi_first || !b->bi_w || !b->bi_c)
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && keys[i] == keys[i - 1]) {
            b->bi_c[m - 1]++;
            continue;
        }
        b->bi_w[m] = (uint32_t)(keys[i] & MASK);
        b->bi_c[m++] = 1;
        b->bi_first[(keys[i] >> BITS) + 1] = (uint32_t)m; /* end of this w2's run so far */
    }
    for (uint32_t v = 1; v <= a->V; v++) /* no successors: empty runs */
        if (b->bi_first[v] < b->bi_first[v - 1])
            b->bi_first[v] = b->bi_first[v - 1];
    a->n_bi = m;
    return 0;
}

typedef struct ranked {
    double p;
    uint32_t id;
} ranked_t;

static int by_p(const void *a, const void *b)
{
    const ranked_t *x = a, *y = b;
    if (x->p != y->p)
        return x->p > y->p ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* P1 from the continuation counts N(. w), interpolated with 1 / V, and the
 * vocabulary in P1 order (for gs_kn_rank). */
static int derive_unigrams(gs_kn_t *kn)
{
    const uint32_t V = kn->V;
    uint32_t *cont = calloc(V, sizeof(uint32_t));
    ranked_t *r = malloc(V * sizeof(ranked_t));
    kn->uni = malloc(V * sizeof(double));
    kn->u_order = malloc(V * sizeof(uint32_t));
    if (!cont || !r || !kn->uni || !kn->u_order) {
        free(cont), free(r);
        return -1;
    }
    for (size_t i = 0; i < kn->a.n_bi; i++)
        cont[kn->a.bi_w[i]]++;
    estimate_from(cont, V, kn->d[0]);
    double g, inv;
    weights(kn->d[0], cont, V, &g, &inv);
    for (uint32_t v = 0; v < V; v++) {
        kn->uni[v] = kept(kn->d[0], cont[v]) * inv + g / V;
        r[v] = (ranked_t){kn->uni[v], v};
    }
    qsort(r, V, sizeof(ranked_t), by_p);
    for (uint32_t v = 0; v < V; v++)
        kn->u_order[v] = r[v].id;
    free(cont), free(r);
    return 0;
}

/* Everything that is not in the arrays; -1 when out of memory. */
static int derive(gs_kn_t *kn)
{
    const gs_kn_arrays_t *a = &kn->a;
    estimate_from(a->tri_c, a->n_tri, kn->d[2]);
    estimate_from(a->bi_c, a->n_bi, kn->d[1]);
    kn->b_g = malloc(kn->V * sizeof(double));
    kn->b_inv = malloc(kn->V * sizeof(double));
    if (!kn->b_g || !kn->b_inv)
        return -1;
    for (uint32_t v = 0; v < kn->V; v++)
        weights(kn->d[1], a->bi_c + a->bi_first[v], a->bi_first[v + 1] - a->bi_first[v],
                &kn->b_g[v], &kn->b_inv[v]);
    return derive_unigrams(kn);
}

static int build(gs_kn_t *kn, const uint32_t *ids, const size_t *start, size_t n_seqs)
{
    table_t tri = {0};
    uint64_t *keys = NULL;
    build_t b = {0};
    int bad = count_trigrams(&tri, kn->V, ids, start, n_seqs);
    kn->a.n_tri = tri.n;
    bad = bad || sort_trigrams(&tri, &b, &keys);
    table_free(&tri);
    bad = bad || build_contexts(&kn->a, &b, keys) || build_bigrams(&kn->a, &b, keys);
    free(keys);
    kn->a.ctx_first = b.ctx_first, kn->a.ctx_w2 = b.ctx_w2, kn->a.ctx_run = b.ctx_run;
    kn->a.tri_w = b.tri_w, kn->a.tri_c = b.tri_c;
    kn->a.bi_first = b.bi_first, kn->a.bi_w = b.bi_w, kn->a.bi_c = b.bi_c;
    return bad || derive(kn);
}

gs_err_t gs_kn_new(const uint32_t *ids, const size_t *start, size_t n_seqs, uint32_t V,
                   gs_kn_t **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (V < 1 || V >= MASK)
        return gs_fail(errstr, errstr_size, GS_ERR_INVALID_ARG,
                       "trigram baseline: vocabulary of %u tokens (1 .. %llu)", V,
                       (unsigned long long)MASK - 1);
    if (n_seqs && start[n_seqs] >= UINT32_MAX) /* the arrays' offsets are 32-bit */
        return gs_fail(errstr, errstr_size, GS_ERR_INVALID_ARG,
                       "trigram baseline: %zu tokens, at most %u", start[n_seqs], UINT32_MAX - 1);
    gs_kn_t *kn = calloc(1, sizeof(*kn));
    if (!kn)
        return gs_fail(errstr, errstr_size, GS_ERR_NOMEM, "out of memory");
    kn->V = kn->a.V = V;
    kn->owned = 1;
    if (build(kn, ids, start, n_seqs)) {
        gs_kn_destroy(kn);
        return gs_fail(errstr, errstr_size, GS_ERR_NOMEM, "out of memory for the trigram counts");
    }
    *out = kn;
    return GS_OK;
}

/* ---- loading -------------------------------------------------------------- */

/* Offsets first[0 .. rows]: from 0, not decreasing, to n_items. */
static int bad_offsets(const uint32_t *first, size_t rows, size_t n_items)
{
    if (first[0] != 0 || first[rows] != n_items)
        return 1;
    for (size_t r = 0; r < rows; r++)
        if (first[r] > first[r + 1])
            return 1;
    return 0;
}

/* Every row of ids (by first) strictly increasing and below V, counts
 * (if any) positive. */
static int bad_rows(const uint32_t *first, size_t rows, const uint32_t *ids, const uint32_t *count,
                    uint32_t V)
{
    for (size_t r = 0; r < rows; r++)
        for (uint32_t i = first[r]; i < first[r + 1]; i++)
            if (ids[i] >= V || (i > first[r] && ids[i] <= ids[i - 1]) || (count && !count[i]))
                return 1;
    return 0;
}

static uint32_t lower_bound(const uint32_t *ids, uint32_t lo, uint32_t hi, uint32_t x)
{
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ids[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The checksums catch damage, not a crafted file: every index is checked
 * before it is followed. */
static const char *check_arrays(const gs_kn_arrays_t *a)
{
    if (a->V < 1 || a->V >= MASK || a->n_ctx >= UINT32_MAX || a->n_tri >= UINT32_MAX ||
        a->n_bi >= UINT32_MAX)
        return "sizes out of range";
    if (bad_offsets(a->ctx_first, (size_t)a->V + 1, a->n_ctx) ||
        bad_rows(a->ctx_first, (size_t)a->V + 1, a->ctx_w2, NULL, a->V))
        return "contexts not grouped and sorted";
    if (bad_offsets(a->ctx_run, a->n_ctx, a->n_tri))
        return "bad successor offsets";
    for (size_t c = 0; c < a->n_ctx; c++)
        if (a->ctx_run[c] == a->ctx_run[c + 1])
            return "a context without successors";
    if (bad_rows(a->ctx_run, a->n_ctx, a->tri_w, a->tri_c, a->V))
        return "trigram successors not sorted, out of range or not counted";
    if (bad_offsets(a->bi_first, a->V, a->n_bi) ||
        bad_rows(a->bi_first, a->V, a->bi_w, a->bi_c, a->V))
        return "bigram successors not sorted, out of range or not counted";
    /* That every trigram's (w2, w3) is a bigram type is not checked: the
     * merges (gs_kn_rank, gs_kn_mix) stay in bounds without it, and a
     * crafted file can give wrong probabilities with any counts anyway. */
    return NULL;
}

gs_err_t gs_kn_load(const gs_kn_arrays_t *a, gs_kn_t **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    const char *why = check_arrays(a);
    if (why)
        return gs_fail(errstr, errstr_size, GS_ERR_DECODE, "n-gram model: %s", why);
    gs_kn_t *kn = calloc(1, sizeof(*kn));
    if (!kn)
        return gs_fail(errstr, errstr_size, GS_ERR_NOMEM, "out of memory");
    kn->a = *a;
    kn->V = a->V;
    if (derive(kn)) {
        gs_kn_destroy(kn);
        return gs_fail(errstr, errstr_size, GS_ERR_NOMEM, "out of memory for the n-gram model");
    }
    *out = kn;
    return GS_OK;
}

const gs_kn_arrays_t *gs_kn_arrays(const gs_kn_t *kn)
{
    return &kn->a;
}

/* ---- model-file tensors --------------------------------------------------- */

static const char *const tensor_names[GS_KN_TENSORS] = {"kn_ctx_first", "kn_ctx_w2", "kn_ctx_run",
                                                        "kn_tri_w",     "kn_tri_c",  "kn_bi_first",
                                                        "kn_bi_w",      "kn_bi_c"};

void gs_kn_tensors(const gs_kn_t *kn, gs_tensor_t t[GS_KN_TENSORS])
{
    const gs_kn_arrays_t *a = &kn->a;
    const uint32_t *data[GS_KN_TENSORS] = {a->ctx_first, a->ctx_w2,   a->ctx_run, a->tri_w,
                                           a->tri_c,     a->bi_first, a->bi_w,    a->bi_c};
    const uint64_t count[GS_KN_TENSORS] = {
        (uint64_t)a->V + 2, a->n_ctx,           a->n_ctx + 1, a->n_tri,
        a->n_tri,           (uint64_t)a->V + 1, a->n_bi,      a->n_bi};
    for (int i = 0; i < GS_KN_TENSORS; i++) {
        t[i] = (gs_tensor_t){.dtype = GS_DT_U32,
                             .ndim = 1,
                             .dims = {count[i]},
                             .data = data[i],
                             .nbytes = count[i] * sizeof(uint32_t)};
        snprintf(t[i].name, sizeof(t[i].name), "%s", tensor_names[i]);
    }
}

/* Tensor i of the kn_* with `count` elements (0: any), or NULL. */
static const uint32_t *tensor(const gs_modelfile_t *mf, int i, uint64_t count, size_t *n,
                              char *errstr, size_t errstr_size)
{
    const gs_tensor_t *t =
        gs_modelfile_get(mf, tensor_names[i], GS_DT_U32, count, errstr, errstr_size);
    if (t && n)
        *n = (size_t)(t->nbytes / sizeof(uint32_t));
    return t ? t->data : NULL;
}

gs_err_t gs_kn_from_file(const gs_modelfile_t *mf, uint32_t V, gs_kn_t **out, char *errstr,
                         size_t errstr_size)
{
    *out = NULL;
    if (V < 1 || V >= MASK)
        return gs_fail(errstr, errstr_size, GS_ERR_DECODE, "n-gram part: vocabulary of %u", V);
    gs_kn_arrays_t a = {.V = V};
    char why[256] = "";
    /* each count from the tensor before, so that every size is checked */
    int ok = (a.ctx_first = tensor(mf, 0, (uint64_t)V + 2, NULL, why, sizeof(why))) &&
             (a.ctx_w2 = tensor(mf, 1, 0, &a.n_ctx, why, sizeof(why))) &&
             (a.ctx_run = tensor(mf, 2, (uint64_t)a.n_ctx + 1, NULL, why, sizeof(why))) &&
             (a.tri_w = tensor(mf, 3, 0, &a.n_tri, why, sizeof(why))) &&
             (a.tri_c = tensor(mf, 4, a.n_tri, NULL, why, sizeof(why))) &&
             (a.bi_first = tensor(mf, 5, (uint64_t)V + 1, NULL, why, sizeof(why))) &&
             (a.bi_w = tensor(mf, 6, 0, &a.n_bi, why, sizeof(why))) &&
             (a.bi_c = tensor(mf, 7, a.n_bi, NULL, why, sizeof(why)));
    if (!ok)
        return gs_fail(errstr, errstr_size, GS_ERR_DECODE, "n-gram part: %s", why);
    return gs_kn_load(&a, out, errstr, errstr_size);
}

void gs_kn_destroy(gs_kn_t *kn)
{
    if (!kn)
        return;
    if (kn->owned) {
        const gs_kn_arrays_t *a = &kn->a;
        free((void *)a->ctx_first), free((void *)a->ctx_w2), free((void *)a->ctx_run);
        free((void *)a->tri_w), free((void *)a->tri_c);
        free((void *)a->bi_first), free((void *)a->bi_w), free((void *)a->bi_c);
    }
    free(kn->b_g), free(kn->b_inv), free(kn->uni), free(kn->u_order);
    free(kn);
}

void gs_kn_discounts(const gs_kn_t *kn, int order, double d[3])
{
    memcpy(d, kn->d[order - 1], 3 * sizeof(double));
}

/* ---- probabilities -------------------------------------------------------- */

/* A context's orders: has3 when (w1, w2) was seen (its successors t0 ..
 * t1), has2 when w2 had successors (b0 .. b1). */
typedef struct view {
    int has3, has2;
    uint32_t t0, t1, b0, b1;
    double g3, inv3, g2, inv2;
} view_t;

static view_t view_of(const gs_kn_t *kn, uint32_t w1, uint32_t w2)
{
    const gs_kn_arrays_t *a = &kn->a;
    view_t v = {0};
    if (w2 == GS_KN_START) /* no context at all: P1 */
        return v;
    w1 = w1 == GS_KN_START ? kn->V : clamp_id(w1, kn->V);
    w2 = clamp_id(w2, kn->V);
    v.b0 = a->bi_first[w2], v.b1 = a->bi_first[w2 + 1];
    v.has2 = v.b1 > v.b0;
    if (v.has2)
        v.g2 = kn->b_g[w2], v.inv2 = kn->b_inv[w2];
    uint32_t c0 = a->ctx_first[w1], c1 = a->ctx_first[w1 + 1];
    uint32_t c = lower_bound(a->ctx_w2, c0, c1, w2);
    v.has3 = c < c1 && a->ctx_w2[c] == w2;
    if (v.has3) { /* the weights from the run: no per-context array to keep */
        v.t0 = a->ctx_run[c], v.t1 = a->ctx_run[c + 1];
        weights(kn->d[2], a->tri_c + v.t0, v.t1 - v.t0, &v.g3, &v.inv3);
    }
    return v;
}

/* The one formula every probability goes through, so that equal inputs
 * give equal bits (gs_kn_rank compares them). */
static double mix(const gs_kn_t *kn, const view_t *v, uint32_t c3, uint32_t c2, uint32_t w)
{
    double p = kn->uni[w];
    if (v->has2)
        p = v->g2 * p + kept(kn->d[1], c2) * v->inv2;
    if (v->has3)
        p = v->g3 * p + kept(kn->d[2], c3) * v->inv3;
    return p;
}

/* The count of w in a run of sorted ids, 0 if absent. */
static uint32_t count_in(const uint32_t *ids, const uint32_t *count, uint32_t lo, uint32_t hi,
                         uint32_t w)
{
    uint32_t at = lower_bound(ids, lo, hi, w);
    return at < hi && ids[at] == w ? count[at] : 0;
}

static double prob_in(const gs_kn_t *kn, const view_t *v, uint32_t w)
{
    const gs_kn_arrays_t *a = &kn->a;
    return mix(kn, v, count_in(a->tri_w, a->tri_c, v->t0, v->t1, w),
               count_in(a->bi_w, a->bi_c, v->b0, v->b1, w), w);
}

double gs_kn_prob(const gs_kn_t *kn, uint32_t w1, uint32_t w2, uint32_t w)
{
    view_t v = view_of(kn, w1, w2);
    return prob_in(kn, &v, clamp_id(w, kn->V));
}

double gs_kn_prob2(const gs_kn_t *kn, uint32_t w2, uint32_t w)
{
    view_t v = view_of(kn, GS_KN_START, w2);
    v.has3 = 0, v.t0 = v.t1 = 0;
    return prob_in(kn, &v, clamp_id(w, kn->V));
}

double gs_kn_prob1(const gs_kn_t *kn, uint32_t w)
{
    return kn->uni[clamp_id(w, kn->V)];
}

static int beats(double p, uint32_t x, double pt, uint32_t t)
{
    return p > pt || (p == pt && x < t);
}

size_t gs_kn_rank(const gs_kn_t *kn, uint32_t w1, uint32_t w2, uint32_t w, size_t cap)
{
    const gs_kn_arrays_t *a = &kn->a;
    view_t v = view_of(kn, w1, w2);
    w = clamp_id(w, kn->V);
    const double pt = prob_in(kn, &v, w);
    /* w2's successors, with the trigram counts of the context's run (a
     * subset: every trigram's (w2, w3) is a bigram type; both sorted by id) */
    uint32_t j = v.t0;
    size_t above = 0;
    for (uint32_t i = v.b0; i < v.b1 && above < cap; i++) {
        uint32_t x = a->bi_w[i];
        while (j < v.t1 && a->tri_w[j] < x)
            j++;
        uint32_t c3 = j < v.t1 && a->tri_w[j] == x ? a->tri_c[j] : 0;
        above += x != w && beats(mix(kn, &v, c3, a->bi_c[i], x), x, pt, w);
    }
    /* the others' P3 is g3 g2 P1: walk them in P1 order until one is below */
    for (uint32_t r = 0; r < kn->V && above < cap; r++) {
        uint32_t x = kn->u_order[r];
        if (x == w || count_in(a->bi_w, a->bi_c, v.b0, v.b1, x))
            continue;
        double p = mix(kn, &v, 0, 0, x);
        if (p < pt)
            break;
        above += beats(p, x, pt, w);
    }
    return above < cap ? above : cap;
}

/* The mix off w2's successors, where mix() is g3 (g2 P1): the same
 * product here (g 1 for a missing order), so the same bits. Vectorized like
 * the link (vmath.h: no contraction, the same bits on every clone). */
GS_CLONES static void mix_dense(const double *restrict uni, uint32_t V, double a, double g2,
                                double g3, const float *restrict q, double q_scale,
                                float *restrict out)
{
    const double b = 1 - a;
    for (uint32_t x = 0; x < V; x++)
        out[x] = (float)(a * (q[x] * q_scale) + b * (uni[x] * g2 * g3));
}

void gs_kn_mix(const gs_kn_t *kn, uint32_t w1, uint32_t w2, double a, const float *q,
               double q_scale, float *out)
{
    const gs_kn_arrays_t *ar = &kn->a;
    view_t v = view_of(kn, w1, w2);
    mix_dense(kn->uni, kn->V, a, v.has2 ? v.g2 : 1, v.has3 ? v.g3 : 1, q, q_scale, out);
    /* the context's successors are among w2's (gs_kn_load checks it), both
     * sorted: one step of the merge per match */
    uint32_t j = v.t0;
    for (uint32_t i = v.b0; i < v.b1; i++) {
        uint32_t x = ar->bi_w[i], c3 = 0;
        if (j < v.t1 && ar->tri_w[j] == x)
            c3 = ar->tri_c[j++];
        out[x] = (float)(a * (q[x] * q_scale) + (1 - a) * mix(kn, &v, c3, ar->bi_c[i], x));
    }
}
