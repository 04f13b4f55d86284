/* Quality gate for generated text (SPEC 3.5). Tokens are the maximal runs of
 * [a-z0-9'] after ASCII lower-casing.
 *   reject  collapse     no tokens
 *           looping      >= 18 tokens and (repeat ratio >= 0.45, or a run of
 *                        >= 4 identical tokens, or >= 4 non-empty lines of
 *                        which one (the same text) makes >= 50%)
 *           incoherence  >= 12 tokens and < 60% of them contain a letter
 *   degrade drift        response >= 20 tokens, prompt >= 3 tokens, and
 *                        < 5% of response tokens occur in the prompt
 * repeat ratio = 1 - distinct tokens / tokens. All modes that apply are
 * reported. */
#include <stdlib.h>
#include <string.h>

#include "govstream/govern.h"

typedef struct tok {
    const char *p;
    size_t len;
} tok_t;

static int tok_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'';
}

static unsigned lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? c | 0x20u : c;
}

static uint64_t tok_hash(tok_t t)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < t.len; i++)
        h = (h ^ lower((unsigned char)t.p[i])) * 1099511628211ull;
    return h;
}

static int tok_eq(tok_t a, tok_t b)
{
    if (a.len != b.len)
        return 0;
    for (size_t i = 0; i < a.len; i++)
        if (lower((unsigned char)a.p[i]) != lower((unsigned char)b.p[i]))
            return 0;
    return 1;
}

/* Appends the tokens of text to *v (grown as needed); -1 on no memory. */
static int tokenize(gs_str_t text, tok_t **v, size_t *n, size_t *cap)
{
    const char *p = text.p, *end = p + text.len;
    while (p < end) {
        while (p < end && !tok_byte((unsigned char)*p))
            p++;
        const char *start = p;
        while (p < end && tok_byte((unsigned char)*p))
            p++;
        if (p == start)
            continue;
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 64;
            tok_t *nv = realloc(*v, c * sizeof(*nv));
            if (!nv)
                return -1;
            *v = nv;
            *cap = c;
        }
        (*v)[(*n)++] = (tok_t){start, (size_t)(p - start)};
    }
    return 0;
}

/* Open-addressing set of tokens (or lines). */
typedef struct set {
    tok_t *slot;
    size_t cap, count;
    size_t *mult; /* occurrences per slot */
} set_t;

static int set_init(set_t *s, size_t items)
{
    s->cap = 16;
    while (s->cap < items * 2)
        s->cap *= 2;
    s->count = 0;
    s->slot = calloc(s->cap, sizeof(*s->slot));
    s->mult = calloc(s->cap, sizeof(*s->mult));
    return s->slot && s->mult ? 0 : -1;
}

static void set_free(set_t *s)
{
    free(s->slot);
    free(s->mult);
}

/* Adds t; returns its occurrence count so far. */
static size_t set_add(set_t *s, tok_t t, uint64_t h)
{
    size_t i = (size_t)h & (s->cap - 1);
    while (s->slot[i].p && !tok_eq(s->slot[i], t))
        i = (i + 1) & (s->cap - 1);
    if (!s->slot[i].p) {
        s->slot[i] = t;
        s->count++;
    }
    return ++s->mult[i];
}

static int set_has(const set_t *s, tok_t t, uint64_t h)
{
    size_t i = (size_t)h & (s->cap - 1);
    while (s->slot[i].p) {
        if (tok_eq(s->slot[i], t))
            return 1;
        i = (i + 1) & (s->cap - 1);
    }
    return 0;
}

static void add_mode(gs_quality_t *q, const char *mode)
{
    size_t len = strlen(q->modes);
    snprintf(q->modes + len, sizeof(q->modes) - len, "%s%s", len ? "," : "", mode);
}

/* Most frequent non-empty line (trimmed) and the number of such lines. */
static int line_stats(gs_str_t text, size_t *lines, size_t *top)
{
    size_t cap = 1;
    for (size_t i = 0; i < text.len; i++)
        cap += text.p[i] == '\n';
    set_t s;
    if (set_init(&s, cap))
        return set_free(&s), -1;
    *lines = *top = 0;
    const char *p = text.p, *end = p + text.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end, *b = p;
        while (b < e && (*b == ' ' || *b == '\t' || *b == '\r'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (e > b) {
            tok_t line = {b, (size_t)(e - b)};
            size_t m = set_add(&s, line, tok_hash(line));
            (*lines)++;
            *top = m > *top ? m : *top;
        }
        p = nl ? nl + 1 : end;
    }
    set_free(&s);
    return 0;
}

gs_err_t gs_quality_check(const gs_str_t *prompt, size_t n_prompt, gs_str_t response,
                          gs_quality_t *q)
{
    memset(q, 0, sizeof(*q));
    tok_t *rt = NULL, *pt = NULL;
    size_t rn = 0, rcap = 0, pn = 0, pcap = 0;
    set_t rs = {0}, ps = {0};
    gs_err_t err = GS_ERR_NOMEM;
    if (tokenize(response, &rt, &rn, &rcap))
        goto out;
    for (size_t i = 0; i < n_prompt; i++)
        if (tokenize(prompt[i], &pt, &pn, &pcap))
            goto out;
    if (!rn) {
        q->reject = 1;
        add_mode(q, "collapse");
        err = GS_OK;
        goto out;
    }
    if (set_init(&rs, rn))
        goto out;
    size_t run = 1, max_run = 1, with_letter = 0;
    for (size_t i = 0; i < rn; i++) {
        set_add(&rs, rt[i], tok_hash(rt[i]));
        if (i && tok_eq(rt[i], rt[i - 1]))
            max_run = ++run > max_run ? run : max_run;
        else
            run = 1;
        for (size_t j = 0; j < rt[i].len; j++) {
            unsigned c = lower((unsigned char)rt[i].p[j]);
            if (c >= 'a' && c <= 'z') {
                with_letter++;
                break;
            }
        }
    }
    if (rn >= 18) {
        size_t lines, top;
        if (line_stats(response, &lines, &top))
            goto out;
        /* repeat ratio (rn - distinct) / rn >= 0.45, in integers so that the
         * boundary is exact */
        if (20 * (rn - rs.count) >= 9 * rn || max_run >= 4 || (lines >= 4 && 2 * top >= lines)) {
            q->reject = 1;
            add_mode(q, "looping");
        }
    }
    if (rn >= 12 && 5 * with_letter < 3 * rn) { /* < 60% */
        q->reject = 1;
        add_mode(q, "incoherence");
    }
    if (rn >= 20 && pn >= 3) {
        if (set_init(&ps, pn))
            goto out;
        for (size_t i = 0; i < pn; i++)
            set_add(&ps, pt[i], tok_hash(pt[i]));
        size_t in_prompt = 0;
        for (size_t i = 0; i < rn; i++)
            in_prompt += (size_t)set_has(&ps, rt[i], tok_hash(rt[i]));
        if (20 * in_prompt < rn) { /* < 5% */
            q->degrade = 1;
            add_mode(q, "drift");
        }
    }
    err = GS_OK;
out:
    set_free(&rs);
    set_free(&ps);
    free(rt);
    free(pt);
    return err;
}
