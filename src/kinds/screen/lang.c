/* Language of a payment text by script ratios (docs/SCREEN.md,
 * "Language"). Screening only needs to know which romanisations and
 * dictionaries apply, so the rule is cheap and explainable: count the letters
 * of each script, then tell Ukrainian from Russian by the letters and the
 * short function words only one of them has. */
#include <string.h>

#include "govstream/screen.h"
#include "govstream/text.h"
#include "internal.h"

/* Words common in payment texts that only one of the two languages has and
 * that carry none of its own letters (those are counted anyway). Lower case. */
static const char *const uk_only[] = {"та",     "що",      "це",        "як",        "або",
                                      "щодо",   "рахунок", "рахунку",   "послуги",   "послуг",
                                      "сплата", "платник", "отримувач", "товариство"};
static const char *const ru_only[] = {
    "и",     "что",    "как",   "или",        "от",         "счет",     "счету",
    "счета", "услуги", "услуг", "получатель", "плательщик", "согласно", "товарищество"};

/* A word longer than any listed one is in neither list. */
#define WORD_MAX 32

/* Counts of one word. */
typedef struct word_counts {
    size_t latin, cyrillic, uk, ru, digits;
} word_counts_t;

static int uk_letter(uint32_t lower)
{
    return lower == 0x456 || lower == 0x457 || lower == 0x454 || lower == 0x491; /* і ї є ґ */
}

static int ru_letter(uint32_t lower)
{
    return lower == 0x44B || lower == 0x44D || lower == 0x44A || lower == 0x451; /* ы э ъ ё */
}

/* Counts the word's letters and writes its lower case into low (empty when
 * it does not fit). */
static word_counts_t count_word(const unsigned char *w, size_t n, char *low, size_t low_size)
{
    word_counts_t c = {0};
    size_t at = 0, lo = 0, used = 0;
    uint32_t prev = 0;
    while (at < n) {
        uint32_t cp = gs_cp_decode(w + at, n - at, &used), lower = gs_cp_lower(cp);
        c.latin += gs_cp_latin(cp);
        c.cyrillic += gs_cp_cyrillic(cp);
        c.digits += cp >= '0' && cp <= '9';
        c.uk += uk_letter(lower);
        c.ru += ru_letter(lower);
        /* м'ята, п'ять: Russian writes ъ or nothing there */
        if (gs_cp_apostrophe(cp) && gs_cp_cyrillic(prev) && at + used < n)
            c.uk++;
        if (lo + 2 < low_size && lower < 0x800)
            lo += gs_cp_encode2(lower, low + lo);
        else
            lo = low_size; /* does not fit: matches no listed word */
        prev = cp;
        at += used;
    }
    low[lo < low_size ? lo : 0] = '\0';
    return c;
}

static int listed(const char *word, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(word, list[i]) == 0)
            return 1;
    return 0;
}

static void add_word(gs_screen_lang_stats_t *st, const unsigned char *w, size_t n)
{
    char low[WORD_MAX + 1];
    word_counts_t c = count_word(w, n, low, sizeof(low));
    if (c.latin && c.cyrillic)
        st->mixed_tokens++;
    if (c.digits) /* identifiers and codes: their letters say nothing of the language */
        return;
    st->latin += c.latin;
    st->cyrillic += c.cyrillic;
    st->uk_letters += c.uk;
    st->ru_letters += c.ru;
    st->uk_words += listed(low, uk_only, sizeof(uk_only) / sizeof(uk_only[0]));
    st->ru_words += listed(low, ru_only, sizeof(ru_only) / sizeof(ru_only[0]));
}

static gs_screen_lang_t decide(const gs_screen_lang_stats_t *st)
{
    size_t total = st->latin + st->cyrillic;
    if (total == 0)
        return GS_SCREEN_LANG_UNKNOWN;
    if ((double)st->latin >= GS_SCREEN_MIXED_SHARE * (double)total &&
        (double)st->cyrillic >= GS_SCREEN_MIXED_SHARE * (double)total)
        return GS_SCREEN_LANG_MIXED;
    if (st->latin > st->cyrillic)
        return GS_SCREEN_LANG_EN;
    /* a word is stronger evidence than one letter; a tie (no evidence) is
     * Russian, the more common language of Cyrillic payment texts */
    size_t uk = st->uk_letters + 3 * st->uk_words, ru = st->ru_letters + 3 * st->ru_words;
    return uk > ru ? GS_SCREEN_LANG_UK : GS_SCREEN_LANG_RU;
}

gs_screen_lang_t gs_screen_lang_detect(const char *text, size_t len, gs_screen_lang_stats_t *stats)
{
    gs_screen_lang_stats_t st = {0};
    const unsigned char *p = (const unsigned char *)text, *end = p + (text ? len : 0), *w = NULL;
    size_t n = 0;
    while (gs_next_word(&p, end, &w, &n))
        add_word(&st, w, n);
    if (stats)
        *stats = st;
    return decide(&st);
}

const char *gs_screen_lang_name(gs_screen_lang_t lang)
{
    static const char *const names[GS_SCREEN_LANG__COUNT] = {
        [GS_SCREEN_LANG_UNKNOWN] = "unknown", [GS_SCREEN_LANG_RU] = "ru",
        [GS_SCREEN_LANG_UK] = "uk",           [GS_SCREEN_LANG_EN] = "en",
        [GS_SCREEN_LANG_MIXED] = "mixed",
    };
    return (unsigned)lang < GS_SCREEN_LANG__COUNT ? names[lang] : "unknown";
}

int gs_screen_token_mixed_script(const char *tok, size_t len)
{
    const unsigned char *s = (const unsigned char *)tok;
    int latin = 0, cyrillic = 0;
    size_t at = 0, used = 0;
    while (at < len && !(latin && cyrillic)) {
        uint32_t cp = gs_cp_decode(s + at, len - at, &used);
        latin |= gs_cp_latin(cp);
        cyrillic |= gs_cp_cyrillic(cp);
        at += used;
    }
    return latin && cyrillic;
}

size_t gs_screen_mixed_tokens(const char *text, size_t len, gs_screen_span_t *out, size_t cap)
{
    const unsigned char *base = (const unsigned char *)text, *p = base;
    const unsigned char *end = p + (text ? len : 0), *w = NULL;
    size_t n = 0, found = 0;
    while (gs_next_word(&p, end, &w, &n)) {
        if (!gs_screen_token_mixed_script((const char *)w, n))
            continue;
        if (found < cap)
            out[found] =
                (gs_screen_span_t){.start = (size_t)(w - base), .end = (size_t)(w - base) + n};
        found++;
    }
    return found;
}
