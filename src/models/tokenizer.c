/* Dialogue tokenizer and vocabulary (SPEC 4). Words follow text.h and are
 * lower-cased (ASCII); every other visible character is a token of its
 * own; white space (ASCII and the common Unicode spaces) separates. */
#include <stdlib.h>
#include <string.h>

#include "govstream/model.h"
#include "govstream/text.h"

/* Code point of the UTF-8 sequence at p (n bytes), or 0xFFFD. */
static uint32_t code_point(const unsigned char *p, size_t n)
{
    if (n == 1)
        return p[0];
    uint32_t cp = n == 2 ? p[0] & 0x1F : n == 3 ? p[0] & 0x0F : p[0] & 0x07;
    for (size_t i = 1; i < n; i++)
        cp = (cp << 6) | (p[i] & 0x3F);
    return cp;
}

static int is_space(uint32_t cp)
{
    return cp <= 0x20 || cp == 0x7F || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200D) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

static void emit_word(const unsigned char *s, size_t len, gs_token_fn *fn, void *opaque)
{
    char low[GS_TOKEN_MAX];
    if (len > GS_TOKEN_MAX) { /* cut long words at a character boundary */
        len = GS_TOKEN_MAX;
        while (len > 1 && (s[len] & 0xC0) == 0x80)
            len--;
    }
    for (size_t i = 0; i < len; i++)
        low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] | 0x20 : s[i]);
    fn(low, len, opaque);
}

void gs_tokenize(const char *text, size_t len, gs_token_fn *fn, void *opaque)
{
    const unsigned char *p = (const unsigned char *)text, *end = p + len;
    while (p < end) {
        int word = 0;
        size_t n = gs_word_char(p, end, &word);
        if (!word) {
            if (!is_space(code_point(p, n)))
                fn((const char *)p, n, opaque); /* punctuation: a token of its own */
            p += n;
            continue;
        }
        const unsigned char *start = p;
        while (p < end && (n = gs_word_char(p, end, &word), word))
            p += n;
        const unsigned char *stop = p; /* quotes around a word are punctuation */
        while (start < stop && *start == '\'')
            fn("'", 1, opaque), start++;
        size_t trailing = 0;
        while (stop > start && stop[-1] == '\'')
            stop--, trailing++;
        if (stop > start)
            emit_word(start, (size_t)(stop - start), fn, opaque);
        while (trailing--)
            fn("'", 1, opaque);
    }
}

/* ---- vocabulary -------------------------------------------------------- */

struct gs_vocab {
    char *blob;       /* tokens, NUL-terminated, in id order */
    const char **tok; /* id -> token */
    uint32_t *len;    /* id -> length */
    uint32_t size;
    uint32_t *slots; /* open addressing: id + 1, 0 empty */
    size_t cap;
};

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

gs_err_t gs_vocab_new(const char *blob, size_t len, gs_vocab_t **out, char *errstr, size_t n)
{
    if (!len || blob[len - 1] != '\0')
        return gs_fail(errstr, n, GS_ERR_DECODE, "vocabulary is not NUL-terminated tokens");
    if (!gs_utf8_valid(blob, len)) /* tokens become result text, an Avro string */
        return gs_fail(errstr, n, GS_ERR_DECODE, "vocabulary is not valid UTF-8");
    gs_vocab_t *v = calloc(1, sizeof(*v));
    if (!v)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < len; i++)
        v->size += blob[i] == '\0';
    if (v->size < 2) {
        free(v);
        return gs_fail(errstr, n, GS_ERR_DECODE, "vocabulary must start with <unk> and <eot>");
    }
    v->blob = malloc(len);
    v->tok = malloc(v->size * sizeof(*v->tok));
    v->len = malloc(v->size * sizeof(*v->len));
    v->cap = 16;
    while (v->cap < (size_t)v->size * 2)
        v->cap *= 2;
    v->slots = calloc(v->cap, sizeof(*v->slots));
    if (!v->blob || !v->tok || !v->len || !v->slots) {
        gs_vocab_destroy(v);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    memcpy(v->blob, blob, len);
    const char *p = v->blob;
    for (uint32_t id = 0; id < v->size; id++) {
        v->tok[id] = p;
        v->len[id] = (uint32_t)strlen(p);
        p += v->len[id] + 1;
        size_t i = hash(v->tok[id], v->len[id]) & (v->cap - 1);
        while (v->slots[i]) {
            uint32_t other = v->slots[i] - 1;
            if (v->len[other] == v->len[id] && !memcmp(v->tok[other], v->tok[id], v->len[id])) {
                gs_vocab_destroy(v);
                return gs_fail(errstr, n, GS_ERR_DECODE, "vocabulary token %u is a duplicate", id);
            }
            i = (i + 1) & (v->cap - 1);
        }
        v->slots[i] = id + 1;
    }
    if (strcmp(v->tok[GS_TOK_UNK], "<unk>") != 0 || strcmp(v->tok[GS_TOK_EOT], "<eot>") != 0) {
        gs_vocab_destroy(v);
        return gs_fail(errstr, n, GS_ERR_DECODE, "vocabulary must start with <unk> and <eot>");
    }
    *out = v;
    return GS_OK;
}

void gs_vocab_destroy(gs_vocab_t *v)
{
    if (!v)
        return;
    free(v->blob);
    free(v->tok);
    free(v->len);
    free(v->slots);
    free(v);
}

uint32_t gs_vocab_size(const gs_vocab_t *v)
{
    return v->size;
}

uint32_t gs_vocab_id(const gs_vocab_t *v, const char *tok, size_t len)
{
    for (size_t i = hash(tok, len) & (v->cap - 1); v->slots[i]; i = (i + 1) & (v->cap - 1)) {
        uint32_t id = v->slots[i] - 1;
        if (v->len[id] == len && !memcmp(v->tok[id], tok, len))
            return id;
    }
    return GS_TOK_UNK;
}

const char *gs_vocab_token(const gs_vocab_t *v, uint32_t id)
{
    return id < v->size ? v->tok[id] : "<unk>";
}

typedef struct encode_ctx {
    const gs_vocab_t *v;
    uint32_t **ids;
    size_t *n, *cap;
    int oom;
} encode_ctx_t;

static int push(encode_ctx_t *c, uint32_t id)
{
    if (*c->n == *c->cap) {
        size_t cap = *c->cap ? *c->cap * 2 : 64;
        uint32_t *ni = realloc(*c->ids, cap * sizeof(*ni));
        if (!ni)
            return c->oom = -1;
        *c->ids = ni;
        *c->cap = cap;
    }
    (*c->ids)[(*c->n)++] = id;
    return 0;
}

static void on_token(const char *tok, size_t len, void *opaque)
{
    encode_ctx_t *c = opaque;
    if (!c->oom)
        push(c, gs_vocab_id(c->v, tok, len));
}

int gs_vocab_encode_turns(const gs_vocab_t *v, const gs_str_t *turns, size_t n_turns,
                          uint32_t **ids, size_t *n, size_t *cap)
{
    encode_ctx_t c = {v, ids, n, cap, 0};
    for (size_t t = 0; t < n_turns && !c.oom; t++) {
        gs_tokenize(turns[t].p, turns[t].len, on_token, &c);
        if (!c.oom)
            push(&c, GS_TOK_EOT);
    }
    return c.oom;
}

static int no_space_before(const char *t)
{
    return t[0] && !t[1] && strchr(".,!?;:)]}%", t[0]);
}

static int no_space_after(const char *t)
{
    return t[0] && !t[1] && strchr("([{$#", t[0]);
}

size_t gs_vocab_decode(const gs_vocab_t *v, const uint32_t *ids, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    const char *prev = NULL;
    if (!cap)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = gs_vocab_token(v, ids[i]);
        size_t tl = strlen(t);
        int space = prev && !no_space_before(t) && !no_space_after(prev);
        if (len + (size_t)space + tl + 1 > cap)
            break;
        if (space)
            out[len++] = ' ';
        memcpy(out + len, t, tl);
        len += tl;
        prev = t;
    }
    out[len] = '\0';
    return len;
}
