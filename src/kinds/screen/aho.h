/* A generic Aho-Corasick automaton over bytes (UTF-8 patterns) with
 * whole-word matching, for the screen kind's dictionaries (dict.c). The
 * automaton is flat: one block of u32 (no pointers inside), so it could be
 * written to a file as it is. docs/SCREEN.md, "Payment context". */
#ifndef GS_SCREEN_AHO_H
#define GS_SCREEN_AHO_H

#include <stddef.h>
#include <stdint.h>

#include "govstream/common.h"

/* Pattern options. */
#define GS_SCREEN_AHO_PREFIX 1u /* a stem: the word may go on ("оплат" -> "оплатить") */
#define GS_SCREEN_AHO_GLUED  2u /* digits may follow directly ("inn7707083893") */

typedef struct gs_screen_aho_pattern {
    const char *bytes; /* UTF-8, already normalised by the caller */
    size_t len;        /* > 0 */
    uint32_t tag;      /* the caller's, reported with each match */
    uint32_t flags;    /* GS_SCREEN_AHO_* */
} gs_screen_aho_pattern_t;

typedef struct gs_screen_aho_match {
    uint32_t pattern; /* index into the build's pattern array */
    uint32_t tag;
    size_t start, end; /* bytes [start, end); a prefix pattern's end is its word's end */
} gs_screen_aho_match_t;

typedef struct gs_screen_aho gs_screen_aho_t;

/* Builds the automaton of pats[0..n). GS_ERR_INVALID_ARG for an empty
 * pattern or one given twice with the same tag; GS_ERR_NOMEM. */
gs_err_t gs_screen_aho_new(gs_screen_aho_t **out, const gs_screen_aho_pattern_t *pats, size_t n,
                           char *errstr, size_t errstr_size);
void gs_screen_aho_destroy(gs_screen_aho_t *a);

/* The whole-word matches in text[0..len), all of them (overlapping ones
 * too), ordered by start, then longest first, then pattern index. Writes the
 * first `cap` to out and returns how many there are. */
size_t gs_screen_aho_scan(const gs_screen_aho_t *a, const char *text, size_t len,
                          gs_screen_aho_match_t *out, size_t cap);

/* The same matches in the order they end (longest first at one end),
 * each given to fn(ctx, m) as it is found: for callers with their own
 * output type. Returns how many there are. */
size_t gs_screen_aho_each(const gs_screen_aho_t *a, const char *text, size_t len,
                          void (*fn)(void *ctx, const gs_screen_aho_match_t *m), void *ctx);

/* States, and the bytes of the flat block (for measurements). */
size_t gs_screen_aho_states(const gs_screen_aho_t *a);
size_t gs_screen_aho_bytes(const gs_screen_aho_t *a);

#endif
