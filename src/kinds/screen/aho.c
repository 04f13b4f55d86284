/* Aho-Corasick over bytes with whole-word checks (aho.h).
 *
 * Layout: one block of u32. The root's transitions are a dense table of 256
 * (every scan starts there, and most bytes of a text leave it at once);
 * every other state has a bitmap-indexed row: 8 words of 256 bits saying
 * which bytes have an edge, the popcounts before each word packed in 2
 * words, and the index of its first target. An edge is then a bit test and
 * a popcount, with no search. Missing edges follow the failure links. */
#include "aho.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ROW          11u /* u32 per state row: bitmap[8], cumulative counts[2], base */
#define F_WORD_FIRST 16u /* the pattern starts with a word character: check before it */
#define F_WORD_LAST  32u /* it ends with one: check after it */

struct gs_screen_aho {
    uint32_t *block; /* everything below points into it */
    size_t words;
    uint32_t nstates, npats, nedges;
    const uint32_t *root;                         /* [256] */
    const uint32_t *fail, *out, *first;           /* [nstates]; first: a pattern + 1, or 0 */
    const uint32_t *rows;                         /* [nstates * ROW] */
    const uint32_t *targets;                      /* [nedges] */
    const uint32_t *plen, *ptag, *pflags, *pnext; /* [npats]; pnext: the next at its state + 1 */
};

/* Bit count without the library call __builtin_popcount becomes when the
 * target has no POPCNT instruction (the portable build): a third of the
 * scan time went there. */
static inline uint32_t popcount(uint32_t x)
{
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0F0F0F0Fu;
    return (x * 0x01010101u) >> 24;
}

/* ---- characters --------------------------------------------------------------------- */

/* Letters of Latin and Cyrillic and ASCII digits make words; apostrophes,
 * punctuation, other scripts and malformed bytes separate them. */
static int word_cp(uint32_t cp)
{
    return gs_cp_letter(cp) || (cp >= '0' && cp <= '9');
}

/* The code point that ends at s[at] (at > 0); a stray byte is GS_CP_BAD. */
static uint32_t cp_before(const unsigned char *s, size_t at)
{
    size_t j = at - 1, used = 0;
    while (j > 0 && at - j < 4 && (s[j] & 0xC0) == 0x80)
        j--;
    uint32_t cp = gs_cp_decode(s + j, at - j, &used);
    return used == at - j ? cp : GS_CP_BAD;
}

/* ---- building ----------------------------------------------------------------------- */

/* The trie while it is built: edges in linked lists (the root's dense). */
typedef struct trie {
    uint32_t root[256];
    uint32_t *edge_head, *pat_head; /* per state: edge + 1, pattern + 1 */
    uint32_t *edge_next, *edge_to;  /* per edge (edge e leads to state e + 1) */
    unsigned char *edge_byte;
    uint32_t *pat_next;
    uint32_t nstates;
} trie_t;

static uint32_t trie_child(const trie_t *t, uint32_t s, unsigned char c)
{
    if (s == 0)
        return t->root[c];
    for (uint32_t e = t->edge_head[s]; e; e = t->edge_next[e - 1])
        if (t->edge_byte[e - 1] == c)
            return t->edge_to[e - 1];
    return 0;
}

static uint32_t trie_add_child(trie_t *t, uint32_t s, unsigned char c)
{
    uint32_t v = t->nstates++, e = v - 1;
    t->edge_byte[e] = c;
    t->edge_to[e] = v;
    t->edge_next[e] = t->edge_head[s];
    t->edge_head[s] = e + 1;
    if (s == 0)
        t->root[c] = v;
    return v;
}

static gs_err_t trie_insert(trie_t *t, const gs_screen_aho_pattern_t *pats, uint32_t p,
                            char *errstr, size_t errstr_size)
{
    const unsigned char *b = (const unsigned char *)pats[p].bytes;
    uint32_t s = 0;
    for (size_t i = 0; i < pats[p].len; i++) {
        uint32_t v = trie_child(t, s, b[i]);
        s = v ? v : trie_add_child(t, s, b[i]);
    }
    for (uint32_t q = t->pat_head[s]; q; q = t->pat_next[q - 1])
        if (pats[q - 1].tag == pats[p].tag)
            return gs_fail(errstr, errstr_size, GS_ERR_INVALID_ARG,
                           "aho: patterns %u and %u are the same with the same tag", q - 1, p);
    t->pat_next[p] = t->pat_head[s];
    t->pat_head[s] = p + 1;
    return GS_OK;
}

static void trie_free(trie_t *t)
{
    free(t->edge_head);
    free(t->pat_head);
    free(t->edge_next);
    free(t->edge_to);
    free(t->edge_byte);
    free(t->pat_next);
}

static gs_err_t trie_build(trie_t *t, const gs_screen_aho_pattern_t *pats, size_t n, char *errstr,
                           size_t errstr_size)
{
    size_t total = 1;
    for (size_t p = 0; p < n; p++) {
        if (pats[p].len == 0 || !pats[p].bytes)
            return gs_fail(errstr, errstr_size, GS_ERR_INVALID_ARG, "aho: pattern %zu is empty", p);
        total += pats[p].len;
        if (total >= UINT32_MAX / ROW)
            return gs_fail(errstr, errstr_size, GS_ERR_INVALID_ARG, "aho: patterns too long");
    }
    /* at most one state per pattern byte: allocate for that, once */
    t->edge_head = calloc(total, sizeof(uint32_t));
    t->pat_head = calloc(total, sizeof(uint32_t));
    t->edge_next = calloc(total, sizeof(uint32_t));
    t->edge_to = calloc(total, sizeof(uint32_t));
    t->edge_byte = calloc(total, 1);
    t->pat_next = calloc(n ? n : 1, sizeof(uint32_t));
    if (!t->edge_head || !t->pat_head || !t->edge_next || !t->edge_to || !t->edge_byte ||
        !t->pat_next)
        return gs_fail(errstr, errstr_size, GS_ERR_NOMEM, "aho: out of memory (%zu states)", total);
    t->nstates = 1;
    for (size_t p = 0; p < n; p++) {
        gs_err_t err = trie_insert(t, pats, (uint32_t)p, errstr, errstr_size);
        if (err)
            return err;
    }
    return GS_OK;
}

/* ---- the flat block ------------------------------------------------------------------ */

static gs_err_t aho_alloc(gs_screen_aho_t *a, uint32_t nstates, uint32_t npats)
{
    a->nstates = nstates;
    a->npats = npats;
    a->nedges = nstates - 1;
    a->words = 256 + (size_t)nstates * (3 + ROW) + a->nedges + (size_t)npats * 4;
    a->block = calloc(a->words, sizeof(uint32_t));
    if (!a->block)
        return GS_ERR_NOMEM;
    uint32_t *w = a->block;
    a->root = w, w += 256;
    a->fail = w, w += nstates;
    a->out = w, w += nstates;
    a->first = w, w += nstates;
    a->rows = w, w += (size_t)nstates * ROW;
    a->targets = w, w += a->nedges;
    a->plen = w, w += npats;
    a->ptag = w, w += npats;
    a->pflags = w, w += npats;
    a->pnext = w;
    return GS_OK;
}

/* Failure and output links in breadth-first order (a state's failure is
 * shallower, so it is done before the state). */
static void link_states(const trie_t *t, gs_screen_aho_t *a, uint32_t *queue)
{
    uint32_t *fail = (uint32_t *)a->fail, *out = (uint32_t *)a->out;
    size_t head = 0, tail = 0;
    queue[tail++] = 0;
    while (head < tail) {
        uint32_t u = queue[head++];
        for (uint32_t e = t->edge_head[u]; e; e = t->edge_next[e - 1]) {
            uint32_t v = t->edge_to[e - 1], f = fail[u];
            unsigned char c = t->edge_byte[e - 1];
            while (f && !trie_child(t, f, c))
                f = fail[f];
            fail[v] = u == 0 ? 0 : trie_child(t, f, c);
            out[v] = t->pat_head[fail[v]] ? fail[v] : out[fail[v]];
            queue[tail++] = v;
        }
    }
}

/* The row of state s: its edges in byte order. */
static void fill_row(const trie_t *t, gs_screen_aho_t *a, uint32_t s, uint32_t *next_target)
{
    uint32_t *row = (uint32_t *)a->rows + (size_t)s * ROW, *tg = (uint32_t *)a->targets;
    for (uint32_t e = t->edge_head[s]; e; e = t->edge_next[e - 1]) {
        unsigned c = t->edge_byte[e - 1];
        row[c >> 5] |= 1u << (c & 31);
    }
    uint32_t cum = 0;
    for (unsigned k = 0; k < 8; k++) { /* counts before word k, one byte each (<= 224) */
        row[8 + k / 4] |= cum << (8 * (k % 4));
        cum += popcount(row[k]);
    }
    row[10] = *next_target;
    for (unsigned c = 0; c < 256; c++)
        if (row[c >> 5] & (1u << (c & 31)))
            tg[(*next_target)++] = trie_child(t, s, (unsigned char)c);
}

static void fill_patterns(const trie_t *t, gs_screen_aho_t *a, const gs_screen_aho_pattern_t *pats)
{
    uint32_t *plen = (uint32_t *)a->plen, *ptag = (uint32_t *)a->ptag;
    uint32_t *pflags = (uint32_t *)a->pflags, *pnext = (uint32_t *)a->pnext;
    for (uint32_t p = 0; p < a->npats; p++) {
        const unsigned char *b = (const unsigned char *)pats[p].bytes;
        size_t used = 0;
        plen[p] = (uint32_t)pats[p].len;
        ptag[p] = pats[p].tag;
        pnext[p] = t->pat_next[p];
        pflags[p] = pats[p].flags & (GS_SCREEN_AHO_PREFIX | GS_SCREEN_AHO_GLUED);
        if (word_cp(gs_cp_decode(b, pats[p].len, &used)))
            pflags[p] |= F_WORD_FIRST;
        if (word_cp(cp_before(b, pats[p].len)))
            pflags[p] |= F_WORD_LAST;
    }
}

static void fill(const trie_t *t, gs_screen_aho_t *a, const gs_screen_aho_pattern_t *pats,
                 uint32_t *queue)
{
    memcpy((uint32_t *)a->root, t->root, sizeof(t->root));
    memcpy((uint32_t *)a->first, t->pat_head, a->nstates * sizeof(uint32_t));
    link_states(t, a, queue);
    uint32_t next_target = 0;
    for (uint32_t s = 1; s < a->nstates; s++)
        fill_row(t, a, s, &next_target);
    fill_patterns(t, a, pats);
}

gs_err_t gs_screen_aho_new(gs_screen_aho_t **out, const gs_screen_aho_pattern_t *pats, size_t n,
                           char *errstr, size_t errstr_size)
{
    *out = NULL;
    trie_t t = {.nstates = 0};
    gs_err_t err = trie_build(&t, pats, n, errstr, errstr_size);
    gs_screen_aho_t *a = err ? NULL : calloc(1, sizeof(*a));
    uint32_t *queue = err ? NULL : calloc(t.nstates, sizeof(uint32_t));
    if (!err && (!a || !queue || aho_alloc(a, t.nstates, (uint32_t)n)))
        err =
            gs_fail(errstr, errstr_size, GS_ERR_NOMEM, "aho: out of memory (%u states)", t.nstates);
    if (!err) {
        fill(&t, a, pats, queue);
        *out = a;
        a = NULL;
    }
    free(queue);
    gs_screen_aho_destroy(a);
    trie_free(&t);
    return err;
}

void gs_screen_aho_destroy(gs_screen_aho_t *a)
{
    if (!a)
        return;
    free(a->block);
    free(a);
}

size_t gs_screen_aho_states(const gs_screen_aho_t *a)
{
    return a->nstates;
}

size_t gs_screen_aho_bytes(const gs_screen_aho_t *a)
{
    return a->words * sizeof(uint32_t);
}

/* ---- scanning ------------------------------------------------------------------------ */

static inline uint32_t step(const gs_screen_aho_t *a, uint32_t s, unsigned c)
{
    for (;;) {
        if (s == 0)
            return a->root[c];
        const uint32_t *row = a->rows + (size_t)s * ROW;
        uint32_t w = row[c >> 5], bit = 1u << (c & 31);
        if (w & bit) {
            uint32_t k = c >> 5, before = (row[8 + k / 4] >> (8 * (k % 4))) & 0xFF;
            return a->targets[row[10] + before + popcount(w & (bit - 1))];
        }
        s = a->fail[s];
    }
}

/* Whether pattern p, ending at `end`, is a whole word; sets its span. */
static int whole_word(const gs_screen_aho_t *a, uint32_t p, const unsigned char *s, size_t len,
                      size_t end, gs_screen_aho_match_t *m)
{
    uint32_t fl = a->pflags[p];
    size_t used = 0;
    m->start = end - a->plen[p];
    if ((fl & F_WORD_FIRST) && m->start > 0 && word_cp(cp_before(s, m->start)))
        return 0;
    if (fl & GS_SCREEN_AHO_PREFIX) /* a stem takes the rest of its word's letters */
        while (end < len && gs_cp_letter(gs_cp_decode(s + end, len - end, &used)))
            end += used;
    m->end = end;
    if (!(fl & F_WORD_LAST) || end == len)
        return 1;
    if ((fl & GS_SCREEN_AHO_GLUED) && s[end] >= '0' && s[end] <= '9')
        return 1;
    return !word_cp(gs_cp_decode(s + end, len - end, &used));
}

size_t gs_screen_aho_each(const gs_screen_aho_t *a, const char *text, size_t len,
                          void (*fn)(void *ctx, const gs_screen_aho_match_t *m), void *ctx)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t found = 0;
    uint32_t state = 0;
    for (size_t i = 0; i < len; i++) {
        state = step(a, state, s[i]);
        for (uint32_t t = a->first[state] ? state : a->out[state]; t; t = a->out[t]) {
            for (uint32_t q = a->first[t]; q; q = a->pnext[q - 1]) {
                gs_screen_aho_match_t m = {.pattern = q - 1, .tag = a->ptag[q - 1]};
                if (whole_word(a, q - 1, s, len, i + 1, &m)) {
                    fn(ctx, &m);
                    found++;
                }
            }
        }
    }
    return found;
}

/* x goes before y: by start, the longer first, then by pattern */
static int before(const gs_screen_aho_match_t *x, const gs_screen_aho_match_t *y)
{
    if (x->start != y->start)
        return x->start < y->start;
    if (x->end != y->end)
        return x->end > y->end;
    return x->pattern < y->pattern;
}

/* The first `cap` matches in order, while `found` are seen. */
typedef struct kept {
    gs_screen_aho_match_t *out;
    size_t cap, found;
} kept_t;

/* Matches come by end, so a new one moves back only past the few that
 * overlap it. */
static void keep_one(void *ctx, const gs_screen_aho_match_t *m)
{
    kept_t *k = ctx;
    size_t i = k->found < k->cap ? k->found : k->cap;
    k->found++;
    if (i == k->cap && (k->cap == 0 || !before(m, &k->out[k->cap - 1])))
        return;
    if (i == k->cap)
        i--;
    while (i > 0 && before(m, &k->out[i - 1])) {
        k->out[i] = k->out[i - 1];
        i--;
    }
    k->out[i] = *m;
}

size_t gs_screen_aho_scan(const gs_screen_aho_t *a, const char *text, size_t len,
                          gs_screen_aho_match_t *out, size_t cap)
{
    kept_t k = {.out = out, .cap = cap};
    return gs_screen_aho_each(a, text, len, keep_one, &k);
}
