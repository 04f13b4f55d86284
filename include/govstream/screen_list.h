/* govstream - watch lists as operator data (issue 12, SPEC 1.5): the
 * entries of official list files (`govstream watchlist build`) compiled into
 * one file in the model-file container (govstream/model.h: magic, version,
 * a CRC32C per section, SHA-256 of the whole, mapped and used in place).
 * Sections are flat arrays of u32 records with offsets into one string
 * section, so reading an entry touches no heap. docs/SCREEN.md, "Watch
 * lists", gives the layout. */
#ifndef GOVSTREAM_SCREEN_LIST_H
#define GOVSTREAM_SCREEN_LIST_H

#include <stddef.h>
#include <stdint.h>

#include "govstream/common.h"
#include "govstream/model.h"

#define GS_MODEL_KIND_SCREEN_LIST 2

typedef enum { GS_SCREEN_PERSON = 0, GS_SCREEN_ENTITY = 1 } gs_screen_entry_type_t;

typedef enum {
    GS_SCREEN_NAME_PRIMARY = 0,
    GS_SCREEN_NAME_ALIAS,      /* a good-quality alias (a.k.a.) */
    GS_SCREEN_NAME_WEAK_ALIAS, /* low quality, f.k.a. */
    GS_SCREEN_NAME_ORIGINAL,   /* the name in its original script */
} gs_screen_name_kind_t;

/* ---- building (what parsers fill) --------------------------------------- */

typedef struct gs_screen_listdata gs_screen_listdata_t;

gs_err_t gs_screen_listdata_new(gs_screen_listdata_t **out, char *errstr, size_t errstr_size);
void gs_screen_listdata_destroy(gs_screen_listdata_t *d);

/* Starts an entry; the next names and identifiers belong to it. Strings are
 * copied. */
gs_err_t gs_screen_listdata_entry(gs_screen_listdata_t *d, const char *list, const char *id,
                                  gs_screen_entry_type_t type, char *errstr, size_t errstr_size);
/* A name of the current entry (trimmed, inner runs of spaces made one; an
 * empty one or one the entry already has is skipped). family: its family
 * name part, or NULL when the source does not say. */
gs_err_t gs_screen_listdata_name(gs_screen_listdata_t *d, gs_screen_name_kind_t kind,
                                 const char *text, const char *family, char *errstr,
                                 size_t errstr_size);
/* An identifier of the current entry: its type as the source says it
 * (mapped here to screen.h's type names where clear: PASSPORT, IBAN, BIC,
 * INN, OGRN, OGRNIP, EDRPOU, RNOKPP, and NATIONAL_ID; else kept) and its
 * number (normalised here: capitals, no spaces, dashes, dots or slashes). */
gs_err_t gs_screen_listdata_ident(gs_screen_listdata_t *d, const char *type, const char *number,
                                  char *errstr, size_t errstr_size);
/* A date of birth ("1964-07-17", "1960", "1960-1965") or a country. */
gs_err_t gs_screen_listdata_dob(gs_screen_listdata_t *d, const char *dob, char *errstr,
                                size_t errstr_size);
gs_err_t gs_screen_listdata_country(gs_screen_listdata_t *d, const char *country, char *errstr,
                                    size_t errstr_size);
/* The date the last parsed file says it was generated ("" when it says
 * none): parsers set it, `build` takes it as the version by default. */
void gs_screen_listdata_set_date(gs_screen_listdata_t *d, const char *date);
const char *gs_screen_listdata_date(const gs_screen_listdata_t *d);
/* Drops the current entry when it got no name; returns 1 when it did. */
int gs_screen_listdata_end(gs_screen_listdata_t *d);

typedef struct gs_screen_list_counts {
    size_t entries, persons, entities, names, identifiers, skipped;
} gs_screen_list_counts_t;
gs_screen_list_counts_t gs_screen_listdata_counts(const gs_screen_listdata_t *d);

/* Writes the list atomically. meta_json: the metadata object (name,
 * version, sources, counts); extra: more sections (the search index),
 * names not starting with "list.". */
gs_err_t gs_screen_list_write(const char *path, const gs_screen_listdata_t *d,
                              const char *meta_json, const gs_tensor_t *extra, size_t n_extra,
                              char *errstr, size_t errstr_size);

/* ---- reading ------------------------------------------------------------ */

typedef struct gs_screen_list gs_screen_list_t;

typedef struct gs_screen_entry {
    const char *id, *list;
    gs_screen_entry_type_t type;
    uint32_t first_name, n_names, first_ident, n_idents;
    const char *dobs, *countries; /* "; "-separated, "" when none */
} gs_screen_entry_t;

typedef struct gs_screen_name {
    uint32_t entry;
    gs_screen_name_kind_t kind;
    const char *text, *family; /* family "" when not known */
} gs_screen_name_t;

typedef struct gs_screen_list_ident {
    uint32_t entry;
    const char *type, *value, *original;
} gs_screen_list_ident_t;

/* Maps and verifies a list: the container's checks (magic, version, CRCs,
 * SHA-256), the kind, and every record's offsets and ranges. */
gs_err_t gs_screen_list_open(const char *path, gs_screen_list_t **out, char *errstr,
                             size_t errstr_size);
void gs_screen_list_close(gs_screen_list_t *l);
const gs_modelfile_t *gs_screen_list_file(const gs_screen_list_t *l);
const char *gs_screen_list_name(const gs_screen_list_t *l);
const char *gs_screen_list_version(const gs_screen_list_t *l);
size_t gs_screen_list_entries(const gs_screen_list_t *l);
size_t gs_screen_list_names(const gs_screen_list_t *l);
size_t gs_screen_list_idents(const gs_screen_list_t *l);
gs_screen_entry_t gs_screen_list_entry(const gs_screen_list_t *l, size_t i);
gs_screen_name_t gs_screen_list_name_at(const gs_screen_list_t *l, size_t i);
gs_screen_list_ident_t gs_screen_list_ident_at(const gs_screen_list_t *l, size_t i);
/* An extra section by name, or NULL. */
const gs_tensor_t *gs_screen_list_section(const gs_screen_list_t *l, const char *name);
/* The sections whose names start with prefix ("index."), copied into
 * out[0..cap) (their data still points into the mapping, valid until
 * _close); returns how many there are, which may exceed cap. */
size_t gs_screen_list_sections(const gs_screen_list_t *l, const char *prefix, gs_tensor_t *out,
                               size_t cap);
/* The SHA-256 of the whole file (64 hex digits), and the counts (skipped:
 * 0, the file does not keep it; the metadata's counts do). */
const char *gs_screen_list_sha256(const gs_screen_list_t *l);
gs_screen_list_counts_t gs_screen_list_counts(const gs_screen_list_t *l);

/* ---- list formats --------------------------------------------------------- */

/* The UN Security Council Consolidated List XML (list label, e.g. "UN"). */
gs_err_t gs_screen_parse_un_xml(const char *path, const char *list, gs_screen_listdata_t *d,
                                char *errstr, size_t errstr_size);

/* OFAC SDN, sdn.xml (list label, e.g. "OFAC-SDN"). */
gs_err_t gs_screen_parse_ofac_sdn_xml(const char *path, const char *list, gs_screen_listdata_t *d,
                                      char *errstr, size_t errstr_size);
/* OFAC SDN CSV: sdn.csv with, optionally, alt.csv and add.csv (known by
 * their widths, in any order). */
gs_err_t gs_screen_parse_ofac_sdn_csv(const char *const *paths, size_t n_paths, const char *list,
                                      gs_screen_listdata_t *d, char *errstr, size_t errstr_size);
/* The EU Financial Sanctions Files XML export ("EU-FSF"). */
gs_err_t gs_screen_parse_eu_fsf_xml(const char *path, const char *list, gs_screen_listdata_t *d,
                                    char *errstr, size_t errstr_size);
/* The UK HM Treasury / OFSI consolidated list CSV ("UK"). */
gs_err_t gs_screen_parse_uk_csv(const char *path, const char *list, gs_screen_listdata_t *d,
                                char *errstr, size_t errstr_size);

/* `govstream watchlist build|info|validate ...` (argv[0] = "watchlist"). */
int gs_screen_watchlist_cmd(int argc, char **argv);

#endif
