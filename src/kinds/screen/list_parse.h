/* Shared by the list-format parsers (list_*.c): a streaming XML walk, a
 * CSV reader, and the normalisation of dates and identifier types. Not a
 * public API. */
#ifndef GS_SCREEN_LIST_PARSE_H
#define GS_SCREEN_LIST_PARSE_H

#include <stddef.h>

#include <libxml/xmlreader.h>

#include "govstream/screen_list.h"

/* Called for each element whose local name is in the walk's list, expanded
 * into a small tree (the reader frees it when it moves on). */
typedef gs_err_t (*gs_screen_xml_fn)(void *ctx, xmlNodePtr e, char *errstr, size_t errstr_size);

typedef struct gs_screen_xml_walk {
    const char *path, *root;  /* the root element's local name, required */
    const char *const *elems; /* NULL-terminated local names */
    gs_screen_xml_fn fn;
    void *ctx;
    const char *date_attr; /* the root's attribute that dates the list, or NULL */
    gs_screen_listdata_t *d;
} gs_screen_xml_walk_t;

gs_err_t gs_screen_xml_walk(const gs_screen_xml_walk_t *w, char *errstr, size_t errstr_size);

/* The text of the first child element named `name` (local name), or "";
 * trimmed. */
const char *gs_screen_xml_child(xmlNodePtr n, const char *name, char *buf, size_t size);
/* An attribute's value, or "". */
const char *gs_screen_xml_attr(xmlNodePtr n, const char *name, char *buf, size_t size);
/* The next sibling element named `name` from c on (c included), or NULL. */
xmlNodePtr gs_screen_xml_next(xmlNodePtr c, const char *name);

/* A whole CSV file (RFC 4180: quoted fields may hold commas, quotes as "",
 * and line breaks), unquoted in place. */
typedef struct gs_screen_csv {
    char *text;
    size_t *start; /* per row, its first field's index in field[] */
    char **field;
    size_t n_rows, n_fields;
} gs_screen_csv_t;

gs_err_t gs_screen_csv_read(const char *path, gs_screen_csv_t *csv, char *errstr,
                            size_t errstr_size);
void gs_screen_csv_free(gs_screen_csv_t *csv);
size_t gs_screen_csv_width(const gs_screen_csv_t *csv, size_t row);
/* Field `col` of `row`, trimmed of surrounding spaces; "" past the end. */
const char *gs_screen_csv_at(const gs_screen_csv_t *csv, size_t row, size_t col);

/* A date of birth as the lists write it ("12 Jan 1960", "Jan 1960",
 * "circa 1960", "1955 to 1958", "28/04/1937", "00/00/1960", "1937-04-28")
 * in our form: "1960-01-12", "1960-01", "1960", "1955-1958"; any other
 * text as written (hedge words dropped). */
void gs_screen_date_norm(const char *in, char *out, size_t size);

#endif
