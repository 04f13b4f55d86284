/* Word splitting and normalisation of texts and list names (docs/SCREEN.md,
 * "Normalisation"). ICU does NFKC and the case folding of scripts beyond
 * Latin and Cyrillic; a word made only of ASCII, Latin-1, Latin Extended-A
 * and Cyrillic letters (nearly every word of a payment) never calls it. */
#include <stdlib.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include "govstream/screen.h"
#include "internal.h"

#define LATIN_FOLD_FIRST 0xC0u
#define LATIN_FOLD_LAST  0x24Fu
#define CP_MAX           ((size_t)GS_SCREEN_TOK_MAX * 2) /* code points of a word kept */

struct gs_screen_norm {
    const UNormalizer2 *nfkc;
    /* Latin letters U+00C0..U+024F without their diacritics: up to two
     * ASCII letters ("ß" -> "ss"), "" to keep the letter. */
    char latin_base[LATIN_FOLD_LAST - LATIN_FOLD_FIRST + 1][3];
};

/* Look-alike letters of the two scripts (Unicode's confusables, Latin and
 * Cyrillic only; unit.screen_norm checks each pair against ICU's spoof
 * skeletons). */
static const uint32_t homoglyphs[][2] = {
    {0x410, 'A'}, {0x430, 'a'}, {0x412, 'B'}, {0x415, 'E'}, {0x435, 'e'}, {0x41A, 'K'},
    {0x41C, 'M'}, {0x41D, 'H'}, {0x41E, 'O'}, {0x43E, 'o'}, {0x420, 'P'}, {0x440, 'p'},
    {0x421, 'C'}, {0x441, 'c'}, {0x422, 'T'}, {0x443, 'y'}, {0x423, 'Y'}, {0x425, 'X'},
    {0x445, 'x'}, {0x406, 'I'}, {0x456, 'i'}, {0x408, 'J'}, {0x458, 'j'}, {0x405, 'S'},
    {0x455, 's'}, {0x51B, 'q'}, {0x51D, 'w'}, {0x4BB, 'h'}, {0x501, 'd'},
};

size_t gs_screen_norm_homoglyphs(const uint32_t (**out)[2])
{
    *out = homoglyphs;
    return sizeof(homoglyphs) / sizeof(homoglyphs[0]);
}

static void latin_specials(gs_screen_norm_t *nm)
{
    static const struct {
        uint32_t cp;
        const char *s;
    } sp[] = {{0xDF, "ss"}, {0xE6, "ae"}, {0xC6, "ae"}, {0x153, "oe"}, {0x152, "oe"},
              {0xF8, "o"},  {0xD8, "o"},  {0x142, "l"}, {0x141, "l"},  {0x111, "d"},
              {0x110, "d"}, {0xF0, "d"},  {0xD0, "d"},  {0xFE, "th"},  {0xDE, "th"},
              {0x131, "i"}, {0x127, "h"}, {0x126, "h"}, {0x167, "t"},  {0x166, "t"}};
    for (size_t i = 0; i < sizeof(sp) / sizeof(sp[0]); i++)
        snprintf(nm->latin_base[sp[i].cp - LATIN_FOLD_FIRST], 3, "%s", sp[i].s);
}

gs_err_t gs_screen_norm_new(gs_screen_norm_t **out, char *errstr, size_t n)
{
    gs_screen_norm_t *nm = calloc(1, sizeof(*nm));
    if (!nm)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    UErrorCode st = U_ZERO_ERROR;
    nm->nfkc = unorm2_getNFKCInstance(&st);
    const UNormalizer2 *nfd = U_SUCCESS(st) ? unorm2_getNFDInstance(&st) : NULL;
    if (U_FAILURE(st) || !nfd) {
        free(nm);
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "ICU normaliser: %s", u_errorName(st));
    }
    for (uint32_t cp = LATIN_FOLD_FIRST; cp <= LATIN_FOLD_LAST; cp++) {
        UChar d[8];
        UErrorCode e = U_ZERO_ERROR;
        int32_t len = unorm2_getDecomposition(nfd, (UChar32)cp, d, 8, &e);
        if (U_SUCCESS(e) && len > 0 && d[0] < 0x80 && u_isalpha(d[0])) {
            nm->latin_base[cp - LATIN_FOLD_FIRST][0] = (char)u_tolower(d[0]);
        }
    }
    latin_specials(nm);
    *out = nm;
    return GS_OK;
}

void gs_screen_norm_destroy(gs_screen_norm_t *nm)
{
    free(nm);
}

/* ---- classes of code points --------------------------------------------------- */

/* Zero-width and bidi format characters: removed, and no word break. */
static int invisible(uint32_t cp)
{
    return (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF ||
           cp == 0xAD || cp == 0x61C || cp == 0x180E;
}

/* Apostrophes and the primes romanisations write for ь and ъ. */
static int in_word_mark(uint32_t cp)
{
    return gs_cp_apostrophe(cp) || cp == '`' || cp == 0x2B9 || cp == 0x2BA || cp == 0x2032;
}

static int fast_cp(uint32_t cp)
{
    return cp < 0x80 || (cp >= 0xC0 && cp <= 0x17F && cp != 0xD7 && cp != 0xF7) ||
           (cp >= 0x400 && cp <= 0x4FF);
}

static int word_cp(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= '0' && cp <= '9') || ((cp | 32) >= 'a' && (cp | 32) <= 'z');
    if (gs_cp_letter(cp))
        return 1;
    return cp != GS_CP_BAD && (u_isalnum((UChar32)cp) || (U_GET_GC_MASK(cp) & U_GC_M_MASK));
}

static int digit_cp(uint32_t cp)
{
    return (cp >= '0' && cp <= '9') || (cp >= 0x80 && u_isdigit((UChar32)cp));
}

/* ---- one word ------------------------------------------------------------------- */

typedef struct word {
    uint32_t cp[CP_MAX];
    size_t n;
    int slow;      /* needs ICU */
    uint8_t flags; /* GS_SCREEN_TOK_* */
} word_t;

static void nfkc(const gs_screen_norm_t *nm, word_t *w)
{
    UChar src[2 * CP_MAX], dst[4 * CP_MAX];
    int32_t len = 0;
    UErrorCode st = U_ZERO_ERROR;
    for (size_t i = 0; i < w->n; i++)
        U16_APPEND_UNSAFE(src, len, (UChar32)w->cp[i]);
    int32_t out = unorm2_normalize(nm->nfkc, src, len, dst, 4 * CP_MAX, &st);
    if (U_FAILURE(st))
        return; /* too long after expansion: keep the word as written */
    w->n = 0;
    for (int32_t i = 0; i < out && w->n < CP_MAX;) {
        UChar32 c;
        U16_NEXT(dst, i, out, c);
        if (!(U_GET_GC_MASK(c) & (U_GC_Z_MASK | U_GC_P_MASK))) /* "ﬀ" or "½" split nothing */
            w->cp[w->n++] = (uint32_t)c;
    }
}

static uint32_t swap_script(uint32_t cp, int to_latin)
{
    for (size_t i = 0; i < sizeof(homoglyphs) / sizeof(homoglyphs[0]); i++)
        if (homoglyphs[i][to_latin ? 0 : 1] == cp)
            return homoglyphs[i][to_latin ? 1 : 0];
    return cp;
}

/* A word with letters of both scripts takes the look-alikes of its main
 * script (on a tie, the script of its first letter). */
static void fold_homoglyphs(word_t *w)
{
    size_t lat = 0, cyr = 0;
    int first = 0;
    for (size_t i = 0; i < w->n; i++) {
        int l = gs_cp_latin(w->cp[i]), c = gs_cp_cyrillic(w->cp[i]);
        lat += l, cyr += c;
        first = first ? first : l ? 1 : c ? 2 : 0;
    }
    if (!lat || !cyr)
        return;
    int to_latin = lat > cyr || (lat == cyr && first == 1);
    for (size_t i = 0; i < w->n; i++) {
        uint32_t c = swap_script(w->cp[i], to_latin);
        if (c != w->cp[i])
            w->flags |= GS_SCREEN_TOK_HOMOGLYPH;
        w->cp[i] = c;
    }
}

static size_t put_utf8(uint32_t cp, char *out)
{
    if (cp < 0x800)
        return gs_cp_encode2(cp, out);
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

typedef struct counts {
    size_t latin, cyrillic, other, digits;
} counts_t;

/* Case folding, ё, Latin diacritics and combining marks; writes UTF-8 (at
 * most GS_SCREEN_TOK_MAX bytes, cut at a code point). */
static size_t fold_write(const gs_screen_norm_t *nm, const word_t *w, char *out, counts_t *c)
{
    size_t len = 0;
    for (size_t i = 0; i < w->n; i++) {
        uint32_t cp = w->cp[i];
        if (cp >= 0x80 && (U_GET_GC_MASK(cp) & U_GC_M_MASK))
            continue; /* accents NFKC could not compose */
        int table = cp < 0x80 || (cp >= 0x400 && cp <= 0x45F) || cp == 0x490;
        cp = table ? gs_cp_lower(cp) : (uint32_t)u_foldCase((UChar32)cp, U_FOLD_CASE_DEFAULT);
        cp = cp == 0x451 ? 0x435 : cp; /* ё */
        char tmp[4];
        const char *base = cp >= LATIN_FOLD_FIRST && cp <= LATIN_FOLD_LAST
                               ? nm->latin_base[cp - LATIN_FOLD_FIRST]
                               : "";
        size_t k = *base ? strlen(base) : put_utf8(cp, tmp);
        if (len + k > GS_SCREEN_TOK_MAX)
            break;
        memcpy(out + len, *base ? base : tmp, k);
        len += k;
        c->digits += digit_cp(cp);
        c->latin += gs_cp_latin(cp);
        c->cyrillic += gs_cp_cyrillic(cp);
        c->other += !digit_cp(cp) && !gs_cp_latin(cp) && !gs_cp_cyrillic(cp);
    }
    out[len] = '\0';
    return len;
}

static uint8_t script_of(const counts_t *c)
{
    if (!c->latin && !c->cyrillic && !c->other)
        return GS_SCREEN_SCRIPT_DIGITS;
    if (c->other > c->latin + c->cyrillic)
        return GS_SCREEN_SCRIPT_OTHER;
    return c->cyrillic > c->latin ? GS_SCREEN_SCRIPT_CYRILLIC : GS_SCREEN_SCRIPT_LATIN;
}

/* ---- the text ------------------------------------------------------------------- */

typedef struct cursor {
    const unsigned char *s;
    size_t len, at;
} cursor_t;

static uint32_t peek(const cursor_t *c, size_t at, size_t *used)
{
    if (at >= c->len) {
        *used = 0;
        return 0;
    }
    return gs_cp_decode(c->s + at, c->len - at, used);
}

/* Reads the word starting at c->at into w; leaves c->at after it. */
static void read_word(cursor_t *c, word_t *w)
{
    w->n = 0;
    w->slow = 0;
    w->flags = 0;
    for (;;) {
        size_t used;
        uint32_t cp = peek(c, c->at, &used);
        if (!used)
            return;
        if (invisible(cp)) {
            w->flags |= GS_SCREEN_TOK_STRIPPED;
        } else if (in_word_mark(cp)) {
            size_t u2;
            uint32_t next = peek(c, c->at + used, &u2);
            if (!w->n || !u2 || !word_cp(next) || digit_cp(next))
                return;
        } else if (word_cp(cp) && !in_word_mark(cp)) {
            if (w->n < CP_MAX)
                w->cp[w->n++] = cp;
            w->slow |= !fast_cp(cp);
        } else {
            return;
        }
        c->at += used;
    }
}

static int initial_next(const cursor_t *c, const counts_t *k)
{
    return k->latin + k->cyrillic + k->other == 1 && !k->digits && c->at < c->len &&
           c->s[c->at] == '.';
}

size_t gs_screen_norm_tokens(const gs_screen_norm_t *nm, const char *text, size_t len, char *buf,
                             size_t buf_size, gs_screen_tok_t *toks, size_t cap)
{
    cursor_t c = {(const unsigned char *)text, len, 0};
    word_t w;
    size_t n = 0, used_buf = 0;
    while (c.at < len && n < cap) {
        size_t used;
        uint32_t cp = peek(&c, c.at, &used);
        if (!word_cp(cp) && !invisible(cp)) {
            c.at += used;
            continue;
        }
        size_t start = c.at;
        read_word(&c, &w);
        if (c.at == start) /* a mark that is a letter too (U+02B9) with no word around */
            c.at += used;
        if (!w.n)
            continue; /* invisible characters alone */
        if (w.slow)
            nfkc(nm, &w);
        fold_homoglyphs(&w);
        if (used_buf + GS_SCREEN_TOK_MAX + 1 > buf_size)
            break;
        counts_t k = {0};
        size_t tl = fold_write(nm, &w, buf + used_buf, &k);
        if (!tl)
            continue;
        toks[n++] = (gs_screen_tok_t){
            .start = (uint32_t)start,
            .end = (uint32_t)c.at,
            .off = (uint32_t)used_buf,
            .len = (uint32_t)tl,
            .script = script_of(&k),
            .flags = (uint8_t)(w.flags | (initial_next(&c, &k) ? GS_SCREEN_TOK_INITIAL : 0))};
        used_buf += tl + 1;
    }
    return n;
}
