/* The search keys of names and text tokens (private to src/kinds/screen;
 * docs/SCREEN.md, "Search keys"). A key is what list names and text are
 * compared on: a normalised token, transliterated to Latin when Cyrillic,
 * reduced to a romanisation-blind skeleton ("Shcherbakov", "Shherbakov" and
 * "Scherbakov" are all "serbakov"), with Ukrainian given names mapped to
 * their Russian form. The list's index and the engine make keys the same way,
 * so the rules may change only with KEYS_VERSION. */
#ifndef GS_KINDS_SCREEN_KEYS_H
#define GS_KINDS_SCREEN_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "govstream/common.h"

/* Bumped whenever a rule here changes: a list's index built by other rules
 * is refused (rebuild it). */
#define KEYS_VERSION 3

#define KEY_MAX 96 /* bytes of a key with its NUL; longer keys are cut */

/* Where a key came from. */
enum { KEY_DIRECT = 0, KEY_ENDING = 1 };

typedef struct screen_key {
    char s[KEY_MAX];
    uint32_t len;
    float factor; /* how much a match on it is worth: 1 direct, less after a case ending */
    uint8_t how;  /* KEY_* */
} screen_key_t;

/* The name-equivalence table, built once; immutable. */
typedef struct screen_keys screen_keys_t;

gs_err_t screen_keys_new(screen_keys_t **out, char *errstr, size_t errstr_size);
void screen_keys_destroy(screen_keys_t *k);

/* The skeleton of an ASCII lower-case word in[0..len) (out has room for
 * len + 1 bytes; it is never longer). Returns its length. */
size_t screen_skeleton(const char *in, size_t len, char *out);

/* Most keys a token gives (variants x case endings). */
#define KEYS_PER_TOKEN 16

/* The keys of one normalised token (gs_screen_norm_tokens' form and
 * script): its transliterations' skeletons (one for a Latin token, one or
 * two for a Cyrillic one, the token itself for another script), and with
 * `endings` also those of its nominative forms when it looks like an
 * inflected Cyrillic word ("Петрову" -> "Петров"). Distinct, at most cap;
 * returns how many. Digits-only tokens have none. */
size_t screen_token_keys(const screen_keys_t *k, const char *tok, size_t len, int script,
                         int endings, screen_key_t *out, size_t cap);

/* FNV-1a of a key: every hash table of the kind (canonical names, the
 * index's keys and deletions, identifiers) uses it. */
static inline uint32_t screen_fnv(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* The same of s without its byte at `skip`: a one-deletion variant. */
static inline uint32_t screen_fnv_without(const char *s, size_t len, size_t skip)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        if (i != skip)
            h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Keys with a typo neighbourhood: four or more ASCII letters (one edit of
 * a three-letter word is another word; deleting a byte of UTF-8 breaks it). */
static inline int screen_fuzzy_key(const char *s, size_t len)
{
    if (len < 4 || len >= KEY_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* The keys of a token's one-slip spellings (a letter left out, two
 * neighbours swapped), made before the skeleton: the skeleton can turn one
 * slip into two edits of its own ("Никиат" -> "nikat", "Никита" ->
 * "nikita"). Latin and Cyrillic tokens of five letters or more; at most cap. */
size_t screen_slip_keys(const screen_keys_t *k, const char *tok, size_t len, int script,
                        screen_key_t *out, size_t cap);

/* Jaro-Winkler similarity of two keys, in [0, 1]. */
double screen_jaro_winkler(const char *a, size_t alen, const char *b, size_t blen);

/* Optimal string alignment distance (Levenshtein with adjacent
 * transpositions), or max + 1 once it is known to be larger. */
unsigned screen_edit_distance(const char *a, size_t alen, const char *b, size_t blen, unsigned max);

#endif
