/* The search index of a watch list (private to src/kinds/screen;
 * docs/SCREEN.md, "Search index"): the keys of every name's words, which
 * name forms have each key, and the keys' one-deletion neighbourhood for
 * typos. Built by `govstream watchlist build` into the list file's
 * "index.*" sections and used in place from the mapping. */
#ifndef GS_KINDS_SCREEN_INDEX_H
#define GS_KINDS_SCREEN_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "govstream/model.h"
#include "govstream/screen.h"
#include "govstream/screen_dict.h"
#include "govstream/screen_list.h"
#include "keys.h"

/* A name part: bits 0-23 its key, then its role and flags. */
#define PART_KEY(p)    ((p)&0xFFFFFFu)
#define PART_ROLE(p)   (((p) >> 24) & 3u)
#define PART_WEAK      (1u << 26) /* a legal form or common word: little evidence */
#define PART_INITIAL   (1u << 27) /* the list itself gives only an initial */
#define PART_MAX_KEYS  0xFFFFFFu
#define FORM_MAX_PARTS 12

/* index.meta's fields. */
enum { META_VERSION, META_KEYS, META_FORMS, META_KEY_MASK, META_DEL_MASK, META_NAMES, META_N };

enum { ROLE_OTHER = 0, ROLE_GIVEN = 1, ROLE_FAMILY = 2, ROLE_PATRONYMIC = 3 };

/* What the engine needs to make keys the way the index did. */
typedef struct screen_text_tools {
    gs_screen_norm_t *norm;
    screen_keys_t *keys;
    gs_screen_dict_t *dict;
} screen_text_tools_t;

/* Makes (and frees) the normaliser, the key tables and the dictionaries. */
gs_err_t screen_tools_new(screen_text_tools_t *t, char *errstr, size_t errstr_size);
void screen_tools_free(screen_text_tools_t *t);

typedef struct screen_index screen_index_t;

typedef struct screen_form {
    uint32_t name; /* in the list */
    uint32_t n_parts;
    const uint32_t *parts;
} screen_form_t;

/* Builds the index of an opened list into sections (named "index.*") owned
 * by *out_sections (free with screen_index_sections_free). */
gs_err_t screen_index_build(const gs_screen_list_t *l, const screen_text_tools_t *tools,
                            gs_tensor_t **out_sections, size_t *n_sections, char *errstr,
                            size_t errstr_size);
void screen_index_sections_free(gs_tensor_t *sections, size_t n);

/* Opens the index in a list's sections (pointing into its mapping) and
 * checks every offset and id; refuses an index made by other key rules. */
gs_err_t screen_index_open(const gs_screen_list_t *l, screen_index_t **out, char *errstr,
                           size_t errstr_size);
void screen_index_close(screen_index_t *ix);

size_t screen_index_keys(const screen_index_t *ix);
size_t screen_index_forms(const screen_index_t *ix);

/* The key's id, or -1. */
int64_t screen_index_find(const screen_index_t *ix, const char *key, size_t len);
/* The ids of keys 1..max edits from key (not key itself), at most cap. */
size_t screen_index_fuzzy(const screen_index_t *ix, const char *key, size_t len, unsigned max,
                          uint32_t *out, size_t cap);
const char *screen_index_key(const screen_index_t *ix, uint32_t id, size_t *len);
/* The forms that have key id (ascending, each once). */
const uint32_t *screen_index_postings(const screen_index_t *ix, uint32_t id, size_t *n);
screen_form_t screen_index_form(const screen_index_t *ix, uint32_t form);
/* True when every part with key id is a legal form or common word: such a
 * key never makes a candidate ("LLC"). */
int screen_index_weak(const screen_index_t *ix, uint32_t id);

#endif
