/* Finding list names in a text (private to src/kinds/screen; docs/SCREEN.md,
 * "Candidates and scores"): the text's words get their keys and their
 * exact and typo hits in the index; rare hits (and pairs of common ones
 * side by side) make candidate name forms; each candidate's parts are
 * aligned with the words around the hit and scored. */
#ifndef GS_KINDS_SCREEN_MATCH_H
#define GS_KINDS_SCREEN_MATCH_H

#include "index.h"

typedef struct screen_matcher {
    const gs_screen_list_t *list;
    const screen_index_t *index;
    screen_text_tools_t tools;
} screen_matcher_t;

typedef struct match_scratch match_scratch_t;

gs_err_t match_scratch_new(match_scratch_t **out, char *errstr, size_t errstr_size);
void match_scratch_destroy(match_scratch_t *s);

/* What made a match, for reasons (bits). */
#define HOW_FUZZY    0x01u  /* a word within one or two edits */
#define HOW_ENDING   0x02u  /* a case ending taken off */
#define HOW_INITIAL  0x04u  /* an initial for a given name or patronymic */
#define HOW_LONE     0x08u  /* one rare part alone (a lone family name) */
#define HOW_ORDER    0x10u  /* the words in another order than the list's */
#define HOW_FOLDED   0x20u  /* homoglyphs folded or invisible characters removed */
#define HOW_DROPPED  0x40u  /* a patronymic or weak part left out */
#define HOW_EXTRA    0x80u  /* an organisation's name goes on with a word the list's lacks */
#define HOW_CONFLICT 0x100u /* the text gives another patronymic than the list's */

typedef struct screen_hit {
    uint32_t entry, name;
    float score;
    uint32_t start, end; /* bytes of the text */
    uint8_t matched, parts;
    uint32_t how; /* HOW_* */
} screen_hit_t;

typedef struct match_stats {
    size_t tokens, candidates, scored; /* tokens: words of any kind, digits too */
} match_stats_t;

/* The best hit per entry in text[0..len), best first, at most cap;
 * returns how many. Scores are in [0, 1]. */
size_t screen_match(const screen_matcher_t *m, match_scratch_t *s, const char *text, size_t len,
                    screen_hit_t *out, size_t cap, match_stats_t *stats);

#endif
