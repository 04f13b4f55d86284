/* Lexicon moral scorer (SPEC 3.2): whole-word, case-insensitive matches
 * against harm and care word lists, words as in text.h (so "killé" does not
 * match "kill", but “kill” and kill—now do). The score is computed in
 * integer twentieths so that it is exact, as the moral threshold is. */
#include "govstream/govern.h"
#include "govstream/text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORD 48

typedef struct word {
    char w[MAX_WORD];
    uint8_t len;
    int8_t weight; /* -1 harm, +1 care */
} word_t;

struct gs_lexicon {
    word_t *tab; /* open addressing, power of two */
    size_t cap;
};

static int is_word_byte(unsigned char c)
{
    return isalnum(c) || c == '\'' || c >= 0x80;
}

static uint32_t hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static gs_err_t insert(gs_lexicon_t *lx, const char *w, int weight, char *errstr, size_t n)
{
    size_t len = strlen(w);
    if (!len || len >= MAX_WORD)
        return gs_fail(errstr, n, GS_ERR_CONFIG, "lexicon word \"%s\": 1..%d bytes", w,
                       MAX_WORD - 1);
    char low[MAX_WORD];
    for (size_t i = 0; i < len; i++) {
        if (!is_word_byte((unsigned char)w[i]))
            return gs_fail(errstr, n, GS_ERR_CONFIG,
                           "lexicon word \"%s\": one word only (letters, digits, ')", w);
        low[i] = (char)tolower((unsigned char)w[i]);
    }
    size_t i = hash(low, len) & (lx->cap - 1);
    while (lx->tab[i].len) {
        if (lx->tab[i].len == len && !memcmp(lx->tab[i].w, low, len)) {
            if (lx->tab[i].weight != weight)
                return gs_fail(errstr, n, GS_ERR_CONFIG,
                               "lexicon word \"%s\" is in both the harm and care lists", w);
            return GS_OK;
        }
        i = (i + 1) & (lx->cap - 1);
    }
    memcpy(lx->tab[i].w, low, len);
    lx->tab[i].len = (uint8_t)len;
    lx->tab[i].weight = (int8_t)weight;
    return GS_OK;
}

gs_err_t gs_lexicon_new(const char *const *harm, size_t n_harm, const char *const *care,
                        size_t n_care, gs_lexicon_t **out, char *errstr, size_t n)
{
    gs_lexicon_t *lx = calloc(1, sizeof(*lx));
    if (!lx)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    lx->cap = 16;
    while (lx->cap < 2 * (n_harm + n_care))
        lx->cap *= 2;
    lx->tab = calloc(lx->cap, sizeof(*lx->tab));
    gs_err_t err = lx->tab ? GS_OK : gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !err && i < n_harm; i++)
        err = insert(lx, harm[i], -1, errstr, n);
    for (size_t i = 0; !err && i < n_care; i++)
        err = insert(lx, care[i], +1, errstr, n);
    if (err) {
        gs_lexicon_destroy(lx);
        return err;
    }
    *out = lx;
    return GS_OK;
}

/* Splits a word-list file in place into its words. */
static gs_err_t read_list(const char *path, char **text, const char ***words, size_t *count,
                          char *errstr, size_t n)
{
    size_t len;
    gs_err_t err = gs_read_file(path, text, &len, errstr, n);
    if (err)
        return err;
    size_t cap = 64;
    *words = malloc(cap * sizeof(**words));
    *count = 0;
    int lineno = 0;
    for (char *save = NULL, *line = strtok_r(*text, "\n", &save); line && *words;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *hash_at = strchr(line, '#');
        if (hash_at)
            *hash_at = '\0';
        char *end = line + strlen(line);
        while (end > line && isspace((unsigned char)end[-1]))
            *--end = '\0';
        while (isspace((unsigned char)*line))
            line++;
        if (!*line)
            continue;
        if (strpbrk(line, " \t"))
            return gs_fail(errstr, n, GS_ERR_CONFIG, "%s: \"%s\": one word per line", path, line);
        if (*count == cap) {
            const char **nw = realloc(*words, (cap *= 2) * sizeof(**words));
            if (!nw)
                break;
            *words = nw;
        }
        (*words)[(*count)++] = line;
    }
    return *words ? GS_OK : gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
}

gs_err_t gs_lexicon_load(const char *harm_path, const char *care_path, gs_lexicon_t **out,
                         char *errstr, size_t n)
{
    char *ht = NULL, *ct = NULL;
    const char **hw = NULL, **cw = NULL;
    size_t hn = 0, cn = 0;
    gs_err_t err = read_list(harm_path, &ht, &hw, &hn, errstr, n);
    if (!err)
        err = read_list(care_path, &ct, &cw, &cn, errstr, n);
    if (!err)
        err = gs_lexicon_new(hw, hn, cw, cn, out, errstr, n);
    free(ht);
    free(ct);
    free(hw);
    free(cw);
    return err;
}

void gs_lexicon_destroy(gs_lexicon_t *lx)
{
    if (!lx)
        return;
    free(lx->tab);
    free(lx);
}

static int lookup(const gs_lexicon_t *lx, const char *w, size_t len)
{
    if (len >= MAX_WORD)
        return 0;
    char low[MAX_WORD] = {0};
    for (size_t i = 0; i < len; i++)
        low[i] = (char)tolower((unsigned char)w[i]);
    for (size_t i = hash(low, len) & (lx->cap - 1); lx->tab[i].len; i = (i + 1) & (lx->cap - 1))
        if (lx->tab[i].len == len && !memcmp(lx->tab[i].w, low, len))
            return lx->tab[i].weight;
    return 0;
}

double gs_lexicon_score(const gs_lexicon_t *lx, const gs_str_t *texts, size_t n_texts)
{
    long harm = 0, care = 0;
    for (size_t t = 0; t < n_texts; t++) {
        const unsigned char *p = (const unsigned char *)texts[t].p, *end = p + texts[t].len, *w;
        size_t len;
        while (gs_next_word(&p, end, &w, &len)) {
            int weight = lookup(lx, (const char *)w, len);
            harm += weight < 0;
            care += weight > 0;
        }
    }
    /* 0.8 - 0.15 h + 0.05 c in twentieths: 16 - 3h + c, clamped to [0, 20] */
    long k = 16 - 3 * harm + care;
    k = k < 0 ? 0 : k > 20 ? 20 : k;
    return (double)k / 20.0;
}
