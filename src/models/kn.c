/* Interpolated modified Kneser-Ney trigrams (kn.h). Trigram counts live in
 * an open-addressing table keyed by (w1, w2, w3) packed into 21 bits each;
 * the contexts (w1, w2) in a second table pointing at their successors,
 * which are the distinct trigrams sorted by key; the bigram level is CSR by
 * w2 (V rows, successors sorted by id). Nothing is V x V. */
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
    uint32_t V;
    double d[3][3];    /* [order - 1]: D_1, D_2, D_3+ */
    table_t tri;       /* (w1, w2, w3) -> count; w1 = V for GS_KN_START */
    table_t ctx;       /* (w1, w2) -> context index */
    size_t n_tri;      /* distinct trigrams */
    uint32_t *tw, *tc; /* the distinct trigrams by key: w3, count */
    size_t *c_off;     /* contexts + 1: a context's run in tw, tc */
    double *c_g, *c_inv;
    size_t *b_off;     /* V + 1: w2's successors in bw, bc */
    uint32_t *bw, *bc; /* successor w3, continuation count N(. w2 w3) */
    double *b_g, *b_inv;
    double *uni;       /* V: P1 */
    uint32_t *u_order; /* V: by P1 descending, ties lower id */
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

static uint32_t table_get(const table_t *t, uint64_t k)
{
    size_t j = table_find(t, k);
    return t->key[j] == k ? t->val[j] : 0;
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

static double kept(const double d[3], uint32_t c)
{
    if (!c)
        return 0;
    double k = (double)c - d[c < 3 ? c - 1 : 2];
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

static int count_trigrams(gs_kn_t *kn, const uint32_t *ids, const size_t *start, size_t n_seqs)
{
    const uint32_t V = kn->V;
    if (table_init(&kn->tri, 1 << 16))
        return -1;
    for (size_t s = 0; s < n_seqs; s++) {
        for (size_t i = start[s] + 1; i < start[s + 1]; i++) {
            uint32_t w1 = i >= start[s] + 2 ? clamp_id(ids[i - 2], V) : V;
            uint64_t k = KEY(w1, clamp_id(ids[i - 1], V), clamp_id(ids[i], V));
            uint32_t *c = table_put(&kn->tri, k);
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

/* The distinct trigrams sorted by key into tw, tc, and their keys (*keys,
 * for the contexts and the bigram level). */
static int sort_trigrams(gs_kn_t *kn, uint64_t **keys)
{
    size_t n = kn->tri.n, k = 0;
    item_t *it = malloc((n ? n : 1) * sizeof(item_t));
    *keys = malloc((n ? n : 1) * sizeof(uint64_t));
    kn->tw = malloc((n ? n : 1) * sizeof(uint32_t));
    kn->tc = malloc((n ? n : 1) * sizeof(uint32_t));
    if (!it || !*keys || !kn->tw || !kn->tc) {
        free(it);
        return -1;
    }
    for (size_t i = 0; i < kn->tri.cap; i++)
        if (kn->tri.key[i] != EMPTY)
            it[k++] = (item_t){kn->tri.key[i], kn->tri.val[i]};
    qsort(it, n, sizeof(item_t), by_key);
    for (size_t i = 0; i < n; i++) {
        (*keys)[i] = it[i].key;
        kn->tw[i] = (uint32_t)(it[i].key & MASK);
        kn->tc[i] = it[i].count;
    }
    kn->n_tri = n;
    free(it);
    return 0;
}

/* One context per run of equal (w1, w2) in the sorted keys. */
static int build_contexts(gs_kn_t *kn, const uint64_t *keys)
{
    const size_t n = kn->n_tri;
    size_t runs = 0;
    for (size_t i = 0; i < n; i++)
        runs += !i || keys[i] >> BITS != keys[i - 1] >> BITS;
    kn->c_off = malloc((runs + 1) * sizeof(size_t));
    kn->c_g = malloc((runs ? runs : 1) * sizeof(double));
    kn->c_inv = malloc((runs ? runs : 1) * sizeof(double));
    size_t cap = 16;
    while (cap < 2 * runs + 2)
        cap *= 2;
    if (!kn->c_off || !kn->c_g || !kn->c_inv || table_init(&kn->ctx, cap))
        return -1;
    estimate_from(kn->tc, n, kn->d[2]);
    size_t c = 0;
    for (size_t i = 0; i < n; c++) {
        size_t e = i + 1;
        while (e < n && keys[e] >> BITS == keys[i] >> BITS)
            e++;
        kn->c_off[c] = i;
        weights(kn->d[2], kn->tc + i, e - i, &kn->c_g[c], &kn->c_inv[c]);
        uint32_t *slot = table_put(&kn->ctx, keys[i] >> BITS); /* sized: never grows */
        if (!slot)
            return -1;
        *slot = (uint32_t)c;
        i = e;
    }
    kn->c_off[runs] = n;
    return 0;
}

/* Bigram types (w2, w3) with their continuation counts: how many distinct
 * w1 (GS_KN_START included) precede them. */
static int build_bigrams(gs_kn_t *kn, uint64_t *keys)
{
    const size_t n = kn->n_tri;
    const uint32_t V = kn->V;
    for (size_t i = 0; i < n; i++)
        keys[i] &= (1ull << (2 * BITS)) - 1; /* (w2, w3) */
    qsort(keys, n, sizeof(uint64_t), by_u64);
    kn->b_off = calloc((size_t)V + 1, sizeof(size_t));
    kn->bw = calloc(n ? n : 1, sizeof(uint32_t)); /* zeroed: the analyzer cannot see m <= n */
    kn->bc = calloc(n ? n : 1, sizeof(uint32_t));
    kn->b_g = malloc(V * sizeof(double));
    kn->b_inv = malloc(V * sizeof(double));
    if (!kn->b_off || !kn->bw || !kn->bc || !kn->b_g || !kn->b_inv)
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && keys[i] == keys[i - 1]) {
            kn->bc[m - 1]++;
            continue;
        }
        kn->bw[m] = (uint32_t)(keys[i] & MASK);
        kn->bc[m++] = 1;
        kn->b_off[(keys[i] >> BITS) + 1] = m; /* end of this w2's run so far */
    }
    for (uint32_t v = 1; v <= V; v++) /* no successors: empty runs */
        if (kn->b_off[v] < kn->b_off[v - 1])
            kn->b_off[v] = kn->b_off[v - 1];
    estimate_from(kn->bc, m, kn->d[1]);
    for (uint32_t v = 0; v < V; v++)
        weights(kn->d[1], kn->bc + kn->b_off[v], kn->b_off[v + 1] - kn->b_off[v], &kn->b_g[v],
                &kn->b_inv[v]);
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
static int build_unigrams(gs_kn_t *kn)
{
    const uint32_t V = kn->V;
    const size_t m = kn->b_off[V];
    uint32_t *cont = calloc(V, sizeof(uint32_t));
    ranked_t *r = malloc(V * sizeof(ranked_t));
    kn->uni = malloc(V * sizeof(double));
    kn->u_order = malloc(V * sizeof(uint32_t));
    if (!cont || !r || !kn->uni || !kn->u_order) {
        free(cont), free(r);
        return -1;
    }
    for (size_t i = 0; i < m; i++)
        cont[kn->bw[i]]++;
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

gs_err_t gs_kn_new(const uint32_t *ids, const size_t *start, size_t n_seqs, uint32_t V,
                   gs_kn_t **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (V < 1 || V >= MASK)
        return gs_fail(errstr, errstr_size, GS_ERR_INVALID_ARG,
                       "trigram baseline: vocabulary of %u tokens (1 .. %llu)", V,
                       (unsigned long long)MASK - 1);
    gs_kn_t *kn = calloc(1, sizeof(*kn));
    uint64_t *keys = NULL;
    if (!kn)
        return gs_fail(errstr, errstr_size, GS_ERR_NOMEM, "out of memory");
    kn->V = V;
    int bad = count_trigrams(kn, ids, start, n_seqs) || sort_trigrams(kn, &keys) ||
              build_contexts(kn, keys) || build_bigrams(kn, keys) || build_unigrams(kn);
    free(keys);
    if (bad) {
        gs_kn_destroy(kn);
        return gs_fail(errstr, errstr_size, GS_ERR_NOMEM, "out of memory for the trigram counts");
    }
    *out = kn;
    return GS_OK;
}

void gs_kn_destroy(gs_kn_t *kn)
{
    if (!kn)
        return;
    table_free(&kn->tri), table_free(&kn->ctx);
    free(kn->tw), free(kn->tc), free(kn->c_off), free(kn->c_g), free(kn->c_inv);
    free(kn->b_off), free(kn->bw), free(kn->bc), free(kn->b_g), free(kn->b_inv);
    free(kn->uni), free(kn->u_order);
    free(kn);
}

void gs_kn_discounts(const gs_kn_t *kn, int order, double d[3])
{
    memcpy(d, kn->d[order - 1], 3 * sizeof(double));
}

/* ---- probabilities -------------------------------------------------------- */

/* A context's orders: has3 when (w1, w2) was seen, has2 when w2 had
 * successors. */
typedef struct view {
    uint32_t w1, w2;
    int has3, has2;
    size_t ctx;
    double g3, inv3, g2, inv2;
} view_t;

static view_t view_of(const gs_kn_t *kn, uint32_t w1, uint32_t w2)
{
    view_t v = {.w1 = w1 == GS_KN_START ? kn->V : clamp_id(w1, kn->V), .w2 = clamp_id(w2, kn->V)};
    v.has2 = kn->b_off[v.w2 + 1] > kn->b_off[v.w2];
    size_t j = table_find(&kn->ctx, KEY(0, v.w1, v.w2));
    v.has3 = kn->ctx.key[j] != EMPTY;
    if (v.has3)
        v.ctx = kn->ctx.val[j], v.g3 = kn->c_g[v.ctx], v.inv3 = kn->c_inv[v.ctx];
    if (v.has2)
        v.g2 = kn->b_g[v.w2], v.inv2 = kn->b_inv[v.w2];
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

/* N(. w2 w) by binary search in w2's successors (sorted by id). */
static uint32_t cont2(const gs_kn_t *kn, uint32_t w2, uint32_t w)
{
    size_t lo = kn->b_off[w2], hi = kn->b_off[w2 + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (kn->bw[mid] < w)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < kn->b_off[w2 + 1] && kn->bw[lo] == w ? kn->bc[lo] : 0;
}

double gs_kn_prob(const gs_kn_t *kn, uint32_t w1, uint32_t w2, uint32_t w)
{
    view_t v = view_of(kn, w1, w2);
    w = clamp_id(w, kn->V);
    return mix(kn, &v, table_get(&kn->tri, KEY(v.w1, v.w2, w)), cont2(kn, v.w2, w), w);
}

double gs_kn_prob2(const gs_kn_t *kn, uint32_t w2, uint32_t w)
{
    view_t v = view_of(kn, GS_KN_START, w2);
    v.has3 = 0;
    w = clamp_id(w, kn->V);
    return mix(kn, &v, 0, cont2(kn, v.w2, w), w);
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
    view_t v = view_of(kn, w1, w2);
    w = clamp_id(w, kn->V);
    const double pt = mix(kn, &v, table_get(&kn->tri, KEY(v.w1, v.w2, w)), cont2(kn, v.w2, w), w);
    /* w2's successors, with the trigram counts of the context's run (a
     * subset: every trigram's (w2, w3) is a bigram type; both sorted by id) */
    size_t j = v.has3 ? kn->c_off[v.ctx] : 0, je = v.has3 ? kn->c_off[v.ctx + 1] : 0, above = 0;
    for (size_t i = kn->b_off[v.w2]; i < kn->b_off[v.w2 + 1] && above < cap; i++) {
        uint32_t x = kn->bw[i];
        while (j < je && kn->tw[j] < x)
            j++;
        uint32_t c3 = j < je && kn->tw[j] == x ? kn->tc[j] : 0;
        above += x != w && beats(mix(kn, &v, c3, kn->bc[i], x), x, pt, w);
    }
    /* the others' P3 is g3 g2 P1: walk them in P1 order until one is below */
    for (uint32_t r = 0; r < kn->V && above < cap; r++) {
        uint32_t x = kn->u_order[r];
        if (x == w || cont2(kn, v.w2, x))
            continue;
        double p = mix(kn, &v, 0, 0, x);
        if (p < pt)
            break;
        above += beats(p, x, pt, w);
    }
    return above < cap ? above : cap;
}
