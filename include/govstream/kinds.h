/* govstream - the request kinds this build serves: the one table that
 * lists them (src/kinds/kinds.c). Adding a kind is a folder under
 * src/kinds/, its schemas in schemas/, and one line in that table
 * (docs/ARCHITECTURE.md "Adding a request kind"). */
#ifndef GOVSTREAM_KINDS_H
#define GOVSTREAM_KINDS_H

#include "govstream/kind.h"

/* NULL-terminated. */
extern const gs_kind_ops_t *const gs_kinds[];

/* The kind named name in a table, NULL if none. */
const gs_kind_ops_t *gs_kinds_find(const gs_kind_ops_t *const *kinds, const char *name);
/* The config sections of a table's kinds: NULL-terminated into out, which
 * has room for cap entries (the table's length + 1 is enough). */
void gs_kinds_sections(const gs_kind_ops_t *const *kinds, const gs_config_section_t **out,
                       size_t cap);
/* How many kinds a table lists. */
size_t gs_kinds_count(const gs_kind_ops_t *const *kinds);

#endif
