/* Cyrillic-to-Latin transliteration of names by table (docs/SCREEN.md,
 * "Transliteration"). Watch lists romanise Russian names mostly by BGN/PCGN
 * and Ukrainian ones by the national system, so a name is matched under
 * both. The output is ASCII: names are compared case- and accent-
 * insensitively, so BGN/PCGN's "ë", and its primes for ь and ъ, are folded
 * away here once instead of at every comparison.
 *
 * Sources: BGN/PCGN 1947 System for Russian (the table as published by the
 * UK Permanent Committee on Geographical Names); Resolution 55 of the
 * Cabinet of Ministers of Ukraine of 27 January 2010 "On the normalisation
 * of the transliteration of the Ukrainian alphabet in Latin", whose table
 * gives the examples the unit test uses. */
#include <string.h>

#include "govstream/screen.h"
#include "internal.h"

/* One letter's romanisation: `start` at the start of a word (and, in
 * Russian, after a vowel, й, ъ or ь), `other` elsewhere (NULL: the same).
 * Both NULL: not a letter of the system, copied unchanged. */
typedef struct rule {
    const char *start, *other;
} rule_t;

/* Rows are lower-case code points U+0430..U+045F, then ґ (U+0491). */
#define ROWS    49
#define ROW(cp) ((cp) == 0x491 ? 48 : (int)(cp)-0x430)
#define R(s)                                                                                       \
    {                                                                                              \
        s, NULL                                                                                    \
    }
#define P(s, o)                                                                                    \
    {                                                                                              \
        s, o                                                                                       \
    }

/* BGN/PCGN 1947. Ukrainian letters that turn up in Russian text take their
 * usual Russian-style forms (і i, ї yi, є ye, ґ g). */
static const rule_t ru_rules[ROWS] = {
    [ROW(0x430)] = R("a"),       [ROW(0x431)] = R("b"),    [ROW(0x432)] = R("v"),
    [ROW(0x433)] = R("g"),       [ROW(0x434)] = R("d"),    [ROW(0x435)] = P("ye", "e"),
    [ROW(0x436)] = R("zh"),      [ROW(0x437)] = R("z"),    [ROW(0x438)] = R("i"),
    [ROW(0x439)] = R("y"),       [ROW(0x43A)] = R("k"),    [ROW(0x43B)] = R("l"),
    [ROW(0x43C)] = R("m"),       [ROW(0x43D)] = R("n"),    [ROW(0x43E)] = R("o"),
    [ROW(0x43F)] = R("p"),       [ROW(0x440)] = R("r"),    [ROW(0x441)] = R("s"),
    [ROW(0x442)] = R("t"),       [ROW(0x443)] = R("u"),    [ROW(0x444)] = R("f"),
    [ROW(0x445)] = R("kh"),      [ROW(0x446)] = R("ts"),   [ROW(0x447)] = R("ch"),
    [ROW(0x448)] = R("sh"),      [ROW(0x449)] = R("shch"), [ROW(0x44A)] = R(""),
    [ROW(0x44B)] = R("y"),       [ROW(0x44C)] = R(""),     [ROW(0x44D)] = R("e"),
    [ROW(0x44E)] = R("yu"),      [ROW(0x44F)] = R("ya"),   [ROW(0x450)] = P("ye", "e"),
    [ROW(0x451)] = P("ye", "e"), [ROW(0x454)] = R("ye"),   [ROW(0x456)] = R("i"),
    [ROW(0x457)] = R("yi"),      [ROW(0x491)] = R("g"),
};

/* Resolution 55 (2010). Russian letters that turn up in Ukrainian text take
 * the forms of their Ukrainian neighbours (ы y, э e, ъ dropped, ё yo/io). */
static const rule_t uk_rules[ROWS] = {
    [ROW(0x430)] = R("a"),        [ROW(0x431)] = R("b"),        [ROW(0x432)] = R("v"),
    [ROW(0x433)] = R("h"),        [ROW(0x491)] = R("g"),        [ROW(0x434)] = R("d"),
    [ROW(0x435)] = R("e"),        [ROW(0x454)] = P("ye", "ie"), [ROW(0x436)] = R("zh"),
    [ROW(0x437)] = R("z"),        [ROW(0x438)] = R("y"),        [ROW(0x456)] = R("i"),
    [ROW(0x457)] = P("yi", "i"),  [ROW(0x439)] = P("y", "i"),   [ROW(0x43A)] = R("k"),
    [ROW(0x43B)] = R("l"),        [ROW(0x43C)] = R("m"),        [ROW(0x43D)] = R("n"),
    [ROW(0x43E)] = R("o"),        [ROW(0x43F)] = R("p"),        [ROW(0x440)] = R("r"),
    [ROW(0x441)] = R("s"),        [ROW(0x442)] = R("t"),        [ROW(0x443)] = R("u"),
    [ROW(0x444)] = R("f"),        [ROW(0x445)] = R("kh"),       [ROW(0x446)] = R("ts"),
    [ROW(0x447)] = R("ch"),       [ROW(0x448)] = R("sh"),       [ROW(0x449)] = R("shch"),
    [ROW(0x44C)] = R(""),         [ROW(0x44E)] = P("yu", "iu"), [ROW(0x44F)] = P("ya", "ia"),
    [ROW(0x44A)] = R(""),         [ROW(0x44B)] = R("y"),        [ROW(0x44D)] = R("e"),
    [ROW(0x451)] = P("yo", "io"), [ROW(0x450)] = R("e"),
};

static const rule_t *rule_of(gs_screen_translit_t sys, uint32_t lower)
{
    if (!((lower >= 0x430 && lower <= 0x45F) || lower == 0x491))
        return NULL;
    const rule_t *r = &(sys == GS_SCREEN_TRANSLIT_RU ? ru_rules : uk_rules)[ROW(lower)];
    return r->start ? r : NULL;
}

/* BGN/PCGN writes е, ё as ye after these, as at the start of a word. */
static int ru_iotating(uint32_t prev)
{
    static const uint32_t after[] = {0x430, 0x435, 0x451, 0x438, 0x43E, 0x443, 0x44B, 0x44D,
                                     0x44E, 0x44F, 0x439, 0x44A, 0x44C, 0x456, 0x457, 0x454};
    for (size_t i = 0; i < sizeof(after) / sizeof(after[0]); i++)
        if (after[i] == prev)
            return 1;
    return 0;
}

/* The output, counted past its end so that the caller learns the size. */
typedef struct out {
    char *p;
    size_t size, len;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if (o->len + n < o->size)
        memcpy(o->p + o->len, s, n);
    o->len += n;
}

/* Writes a romanised letter in the case of the source letter: lower, a
 * capital first (Щ in "Щербаков": "Shch") or all capitals (in "ЩЕРБАКОВ"). */
static void put_cased(out_t *o, const char *s, int upper, int all_caps)
{
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        if (upper && (all_caps || i == 0) && c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        put(o, &c, 1);
    }
}

/* What the scan knows of the letters around the current one. */
typedef struct scan {
    const unsigned char *s;
    size_t len, pos;
    uint32_t prev;  /* lower case of the previous letter of this word; 0 at a word start */
    int prev_upper; /* that letter was upper case */
} scan_t;

/* The code point after the one at pos (0 at the end). */
static uint32_t peek_next(const scan_t *sc, size_t used)
{
    size_t at = sc->pos + used, n = 0;
    return at < sc->len ? gs_cp_decode(sc->s + at, sc->len - at, &n) : 0;
}

/* A letter of the system's table (r is not NULL). */
static void letter(gs_screen_translit_t sys, const scan_t *sc, out_t *o, const rule_t *r,
                   uint32_t cp, uint32_t next)
{
    uint32_t lower = gs_cp_lower(cp);
    int upper = lower != cp;
    int start = sc->prev == 0 || (sys == GS_SCREEN_TRANSLIT_RU && ru_iotating(sc->prev));
    const char *s = start || !r->other ? r->start : r->other;
    if (sys == GS_SCREEN_TRANSLIT_UK && lower == 0x433 && sc->prev == 0x437)
        s = "gh"; /* зг: zgh, so that it is not read as zh */
    int next_upper = gs_cp_letter(next) && gs_cp_upper(next);
    int next_lower = gs_cp_letter(next) && !gs_cp_upper(next);
    put_cased(o, s, upper, next_upper || (sc->prev_upper && !next_lower));
}

static void scan_one(gs_screen_translit_t sys, scan_t *sc, out_t *o)
{
    size_t used = 0;
    uint32_t cp = gs_cp_decode(sc->s + sc->pos, sc->len - sc->pos, &used);
    uint32_t next = peek_next(sc, used);
    uint32_t lower = gs_cp_lower(cp);
    const rule_t *r = rule_of(sys, lower);
    if (r) {
        letter(sys, sc, o, r, cp, next);
        sc->prev = lower;
        sc->prev_upper = lower != cp;
    } else if (gs_cp_apostrophe(cp) && sc->prev && rule_of(sys, gs_cp_lower(next))) {
        /* inside a word ("Знам'янка"): dropped, and the word goes on */
    } else {
        put(o, (const char *)sc->s + sc->pos, used);
        sc->prev = gs_cp_letter(cp) ? lower : 0;
        sc->prev_upper = gs_cp_letter(cp) && lower != cp;
    }
    sc->pos += used;
}

gs_err_t gs_screen_translit(gs_screen_translit_t sys, const char *in, size_t len, char *out,
                            size_t out_size, size_t *out_len, char *errstr, size_t errstr_size)
{
    if (sys != GS_SCREEN_TRANSLIT_RU && sys != GS_SCREEN_TRANSLIT_UK)
        return gs_fail(errstr, errstr_size, GS_ERR_INVALID_ARG, "translit: unknown system %d",
                       (int)sys);
    if (!out || out_size == 0 || (!in && len))
        return gs_fail(errstr, errstr_size, GS_ERR_INVALID_ARG, "translit: no buffer");
    out_t o = {.p = out, .size = out_size, .len = 0};
    scan_t sc = {.s = (const unsigned char *)in, .len = len, .pos = 0, .prev = 0};
    while (sc.pos < sc.len)
        scan_one(sys, &sc, &o);
    if (o.len >= out_size) {
        out[0] = '\0';
        return gs_fail(errstr, errstr_size, GS_ERR_INVALID_ARG,
                       "translit: output needs %zu bytes, the buffer has %zu", o.len + 1, out_size);
    }
    out[o.len] = '\0';
    if (out_len)
        *out_len = o.len;
    return GS_OK;
}

gs_err_t gs_screen_translit_variants(const char *in, size_t len, char *buf, size_t buf_size,
                                     gs_screen_variants_t *out, char *errstr, size_t errstr_size)
{
    size_t half = GS_SCREEN_TRANSLIT_SIZE(len);
    if (!buf || buf_size < 2 * half)
        return gs_fail(errstr, errstr_size, GS_ERR_INVALID_ARG,
                       "translit variants: the buffer needs %zu bytes, it has %zu", 2 * half,
                       buf_size);
    size_t n0 = 0, n1 = 0;
    gs_err_t err;
    if ((err = gs_screen_translit(GS_SCREEN_TRANSLIT_RU, in, len, buf, half, &n0, errstr,
                                  errstr_size)) ||
        (err = gs_screen_translit(GS_SCREEN_TRANSLIT_UK, in, len, buf + half, half, &n1, errstr,
                                  errstr_size)))
        return err;
    *out = (gs_screen_variants_t){
        .n = 1,
        .v = {{buf, n0}, {buf + half, n1}},
        .sys = {GS_SCREEN_TRANSLIT_RU, GS_SCREEN_TRANSLIT_UK},
    };
    if (n0 != n1 || memcmp(buf, buf + half, n0) != 0)
        out->n = 2;
    return GS_OK;
}
