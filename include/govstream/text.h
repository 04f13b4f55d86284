/* govstream - text scanning shared by the lexicon scorer, the embedding and
 * the model tokenizer. A word is a run of ASCII letters, digits and inner
 * apostrophes and of non-ASCII characters; ASCII punctuation, white space
 * and Unicode punctuation (curly quotes, dashes, CJK and full-width
 * punctuation...) separate words. */
#ifndef GOVSTREAM_TEXT_H
#define GOVSTREAM_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Non-ASCII code points that separate words: Latin-1 punctuation and
 * symbols, General Punctuation, arrows/math/technical/box symbols, CJK and
 * full-width punctuation. */
static inline int gs_word_separator(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0xBF && cp != 0xAA && cp != 0xB5 && cp != 0xBA) || cp == 0xD7 ||
           cp == 0xF7 || (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x2190 && cp <= 0x2BFF) ||
           (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
           (cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
           (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65);
}

/* Byte length of the character at p and whether it belongs to a word.
 * Malformed UTF-8 (validated away upstream) counts byte by byte as word. */
static inline size_t gs_word_char(const unsigned char *p, const unsigned char *end, int *word)
{
    unsigned c = p[0];
    if (c < 0x80) { /* the common case, without a locale-aware call */
        unsigned low = c | 0x20;
        *word = (c >= '0' && c <= '9') || (low >= 'a' && low <= 'z') || c == '\'';
        return 1;
    }
    size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    uint32_t cp = n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    if (n > (size_t)(end - p))
        n = 1;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            n = 1;
            break;
        }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    *word = n == 1 || !gs_word_separator(cp);
    return n;
}

/* Finds the next word at or after *p; quotes around it are not part of it.
 * Returns 0 at the end. */
static inline int gs_next_word(const unsigned char **p, const unsigned char *end,
                               const unsigned char **word, size_t *len)
{
    while (*p < end) {
        int w = 0;
        size_t n = 0;
        while (*p < end && (n = gs_word_char(*p, end, &w), !w))
            *p += n;
        const unsigned char *start = *p;
        while (*p < end && (n = gs_word_char(*p, end, &w), w))
            *p += n;
        const unsigned char *stop = *p;
        while (start < stop && *start == '\'')
            start++;
        while (stop > start && stop[-1] == '\'')
            stop--;
        if (stop > start) {
            *word = start;
            *len = (size_t)(stop - start);
            return 1;
        }
    }
    return 0;
}

#endif
