/* govstream - what the product kinds' govstream-load sides (their load.c)
 * share: strings made in the arena, JSON fields, and the SPEC 1.2 envelope
 * of a verifier line. Kept out of kind.h, which kinds with schemas of their
 * own (tests/kinds/) include too. */
#ifndef GOVSTREAM_KIND_LOAD_H
#define GOVSTREAM_KIND_LOAD_H

#include <jansson.h>

#include "govstream/common.h"
#include "govstream/schemas.h"

/* A printf into the arena (at most 400 bytes); "" when out of memory. */
__attribute__((format(printf, 2, 3))) gs_str_t gs_kind_printf(gs_arena_t *a, const char *fmt, ...);
/* The string field of a JSON object into *dst, when it is a string. */
void gs_kind_json_str(json_t *j, const char *field, gs_str_t *dst);
/* The SPEC 1.2 envelope fields every result has (model, timings, source,
 * processed_at_ms), added to a verifier line. */
void gs_kind_dump_envelope(json_t *j, const gs_avro_model_ref_t *model, const gs_avro_timings_t *t,
                           const gs_avro_source_t *src, int64_t processed_at_ms);

#endif
