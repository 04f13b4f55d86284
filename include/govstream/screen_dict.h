/* govstream - the payment-context dictionaries of the screen kind (issue 12
 * item 5; src/kinds/screen/dict.c): legal forms, payment triggers, common
 * words of organisation names and identifier context words, in Russian,
 * Ukrainian and English, found in one pass by an Aho-Corasick automaton
 * with whole-word checks. docs/SCREEN.md, "Payment context". */
#ifndef GOVSTREAM_SCREEN_DICT_H
#define GOVSTREAM_SCREEN_DICT_H

#include <stddef.h>
#include <stdint.h>

#include "govstream/common.h"

typedef enum gs_screen_dict_cat {
    GS_SCREEN_DICT_LEGAL_FORM = 0, /* ООО, ТОВ, LLC, "акционерное общество" ... */
    GS_SCREEN_DICT_PAYMENT_TRIGGER, /* оплата, в пользу, отримувач, invoice: a payment and its payee
                                     */
    GS_SCREEN_DICT_COMMON_WORD, /* банк, group, холдинг: in names, but no name evidence */
    GS_SCREEN_DICT_ID_CONTEXT, /* ИНН, ЄДРПОУ, IBAN, паспорт...: the words ident.c knows */
    GS_SCREEN_DICT__COUNT
} gs_screen_dict_cat_t;

/* Languages of a pattern (a mask): a word may belong to several. */
#define GS_SCREEN_DICT_RU 1u
#define GS_SCREEN_DICT_UK 2u
#define GS_SCREEN_DICT_EN 4u

typedef struct gs_screen_dict_hit {
    gs_screen_dict_cat_t category;
    uint32_t pattern;  /* for gs_screen_dict_pattern */
    unsigned langs;    /* GS_SCREEN_DICT_* */
    size_t start, end; /* bytes [start, end) of the text; a stem's end is its word's end */
} gs_screen_dict_hit_t;

typedef struct gs_screen_dict gs_screen_dict_t;

/* "LEGAL_FORM", "PAYMENT_TRIGGER", "COMMON_WORD", "ID_CONTEXT"; "?" out of
 * range. */
const char *gs_screen_dict_cat_name(gs_screen_dict_cat_t cat);

/* Builds the automaton from the static tables (well under a millisecond;
 * docs/SCREEN.md gives the numbers). GS_ERR_NOMEM, or GS_ERR_INTERNAL when
 * a table entry is not normalised (upper case, ё, empty) or repeated. */
gs_err_t gs_screen_dict_new(gs_screen_dict_t **out, char *errstr, size_t errstr_size);
void gs_screen_dict_destroy(gs_screen_dict_t *d);

/* The whole-word hits in norm_text[0..len), which must already be
 * normalised (NFKC, case folded, ё -> е): all of them, overlapping ones
 * too, ordered by start, then longest first. Writes the first `cap` to out
 * and returns how many there are. Malformed UTF-8 separates words. */
size_t gs_screen_dict_scan(const gs_screen_dict_t *d, const char *norm_text, size_t len,
                           gs_screen_dict_hit_t *out, size_t cap);

/* Pattern id's text as it is in the table (for reasons), its category and
 * languages; NULL / GS_SCREEN_DICT__COUNT / 0 for an id out of range. */
const char *gs_screen_dict_pattern(const gs_screen_dict_t *d, uint32_t id);
gs_screen_dict_cat_t gs_screen_dict_category(const gs_screen_dict_t *d, uint32_t id);
unsigned gs_screen_dict_langs(const gs_screen_dict_t *d, uint32_t id);

/* Number of patterns (ids are 0 .. count-1), and the automaton's states. */
size_t gs_screen_dict_count(const gs_screen_dict_t *d);
size_t gs_screen_dict_states(const gs_screen_dict_t *d);

#endif
