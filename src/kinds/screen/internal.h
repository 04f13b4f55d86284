/* Code-point helpers shared by the screen kind's text modules. Only the
 * scripts screening needs are classified (ASCII, Latin-1 and Latin
 * Extended-A/B, Cyrillic with its supplement); everything else is "other". */
#ifndef GS_SCREEN_INTERNAL_H
#define GS_SCREEN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define GS_CP_BAD 0xFFFDu /* what a malformed byte decodes to */

/* Decodes the code point at s[0..n) (n > 0) and stores its byte length.
 * A malformed or truncated sequence, an overlong form or a surrogate is
 * one byte of GS_CP_BAD, so a scan always advances. */
static inline uint32_t gs_cp_decode(const unsigned char *s, size_t n, size_t *used)
{
    unsigned c = s[0];
    *used = 1;
    if (c < 0x80)
        return c;
    size_t k = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (k == 0 || k > n)
        return GS_CP_BAD;
    uint32_t cp = c & (0x7F >> k);
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return GS_CP_BAD;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return GS_CP_BAD;
    *used = k;
    return cp;
}

/* Encodes a code point below U+0800 (all this code writes) into out;
 * returns its length. */
static inline size_t gs_cp_encode2(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

static inline int gs_cp_cyrillic(uint32_t cp)
{
    return cp >= 0x400 && cp <= 0x52F && !(cp >= 0x482 && cp <= 0x489); /* minus signs, marks */
}

static inline int gs_cp_latin(uint32_t cp)
{
    return (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z') ||
           (cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7);
}

static inline int gs_cp_letter(uint32_t cp)
{
    return gs_cp_latin(cp) || gs_cp_cyrillic(cp);
}

/* Apostrophes that may stand inside a word (Ukrainian "м'ята"): ASCII,
 * right single quotation mark, modifier letter apostrophe. */
static inline int gs_cp_apostrophe(uint32_t cp)
{
    return cp == '\'' || cp == 0x2019 || cp == 0x02BC;
}

/* Lower case of ASCII and of the Cyrillic letters of Russian, Ukrainian and
 * Belarusian (the rest is returned as it is). */
static inline uint32_t gs_cp_lower(uint32_t cp)
{
    if (cp >= 'A' && cp <= 'Z')
        return cp + 32;
    if (cp >= 0x410 && cp <= 0x42F) /* А..Я */
        return cp + 0x20;
    if (cp >= 0x400 && cp <= 0x40F) /* Ѐ..Џ: Ё Є І Ї Ў ... */
        return cp + 0x50;
    if (cp == 0x490) /* Ґ */
        return 0x491;
    return cp;
}

static inline int gs_cp_upper(uint32_t cp)
{
    return gs_cp_lower(cp) != cp;
}

/* Context word i of the identifier finder (ident.c), lower case, or NULL
 * past the last; *prefix: it also starts longer words; *glued_ok: digits may
 * follow it directly ("inn7707083893"). */
const char *gs_screen_ident_context_word(size_t i, int *prefix, int *glued_ok);

#endif
