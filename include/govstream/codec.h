/* govstream - Avro schemas (parsed with avro-c), framing, and schema
 * resolution for writer schemas other than ours.
 *
 * The .avsc files in schemas/ are the single source of truth; the build
 * compiles them into C (govstream/avrogen.h, govstream/schemas.h), which is
 * what the worker decodes and encodes with. avro-c parses schemas (ours and
 * the registry's) and is the oracle the generated code is tested against:
 * gs_avro_check, gs_avro_decode and gs_avro_project work on its generic
 * values. Debian's avro-c 1.11.1 trusts length prefixes, so it only ever
 * reads bytes gs_avro_check has walked. A writer schema other than ours is
 * read through a resolution plan (gs_avro_plan_*), compiled once and cached
 * with the parsed writer schema. */
#ifndef GOVSTREAM_CODEC_H
#define GOVSTREAM_CODEC_H

#include <avro.h>
#include <stdint.h>

#include "govstream/avrogen.h"
#include "govstream/common.h"
#include "govstream/config.h"

/* The schema a named reference (avro-c's LINK) stands for. */
static inline avro_schema_t gs_avro_deref(avro_schema_t s)
{
    while (s && avro_typeof(s) == AVRO_LINK)
        s = avro_schema_link_target(s);
    return s;
}

/* ---- parsed schemas --------------------------------------------------- */

typedef struct gs_avro_schema gs_avro_schema_t;

/* Parses Avro schema JSON text (ours or a registry's). */
gs_err_t gs_avro_schema_parse(const char *json, size_t len, gs_avro_schema_t **out, char *errstr,
                              size_t errstr_size);
/* Parses the embedded schema NAME (its resolved, self-contained text). */
gs_err_t gs_avro_schema_load(const char *name, gs_avro_schema_t **out, char *errstr,
                             size_t errstr_size);
void gs_avro_schema_destroy(gs_avro_schema_t *s);
avro_schema_t gs_avro_schema_get(const gs_avro_schema_t *s);
avro_value_iface_t *gs_avro_schema_iface(const gs_avro_schema_t *s);
const char *gs_avro_schema_json(const gs_avro_schema_t *s);

/* The embedded schema NAME and a generic value of it, to encode into:
 * both or neither (on failure *schema is NULL and value unset). */
gs_err_t gs_avro_value_new(const char *name, gs_avro_schema_t **schema, avro_value_t *value,
                           char *errstr, size_t errstr_size);
/* Releases what gs_avro_value_new made; safe after its failure. */
void gs_avro_value_free(gs_avro_schema_t *schema, avro_value_t *value);

/* Walks buf against schema without allocating: every length must fit the
 * remaining bytes, union branches and enum symbols must exist, and the
 * record must end exactly at len. GS_ERR_DECODE with the byte offset. */
gs_err_t gs_avro_check(const gs_avro_schema_t *schema, const void *buf, size_t len, char *errstr,
                       size_t errstr_size);

/* Can values of `writer` be projected onto `reader`? GS_ERR_SCHEMA with the
 * first offending field otherwise. */
gs_err_t gs_avro_compatible(const gs_avro_schema_t *writer, const gs_avro_schema_t *reader,
                            char *errstr, size_t errstr_size);

/* Copies src (a writer value) into dst (a value of `reader`), matching record
 * fields by name, promoting numbers as Avro resolution allows and taking the
 * reader's defaults for absent fields. */
gs_err_t gs_avro_project(avro_value_t *src, avro_value_t *dst, const gs_avro_schema_t *reader,
                         char *errstr, size_t errstr_size);

/* ---- framing ----------------------------------------------------------- */

/* Splits a message value into schema id (-1 for raw) and Avro payload. */
gs_err_t gs_frame_parse(const void *buf, size_t len, gs_framing_t mode, int32_t *schema_id,
                        const uint8_t **payload, size_t *payload_len, char *errstr,
                        size_t errstr_size);

/* ---- avro-c values (oracle, tools) --------------------------------------- */

/* Serialises value into out (replacing its content), prefixed with the
 * Confluent header when schema_id >= 0. */
gs_err_t gs_avro_encode(avro_value_t *value, int32_t schema_id, gs_buf_t *out, char *errstr,
                        size_t errstr_size);

/* Decodes bytes of `writer` (already passed gs_avro_check) into dst, a value
 * of `reader`: directly when the schemas are equal, else through the
 * writer's scratch value and gs_avro_project. The writer schema object
 * holds that scratch value and a reused reader, so it must not be shared
 * between threads. */
gs_err_t gs_avro_decode(const uint8_t *payload, size_t len, gs_avro_schema_t *writer,
                        const gs_avro_schema_t *reader, avro_value_t *dst, char *errstr,
                        size_t errstr_size);

/* A value of the generated layout (node) as an avro-c value of the same
 * schema, and back (arrays go to the arena, strings stay in avro-c's value:
 * valid while it is). */
gs_err_t gs_avro_to_value(const gs_avro_node_t *node, const void *value, avro_value_t *out,
                          char *errstr, size_t errstr_size);
gs_err_t gs_avro_from_value(const gs_avro_node_t *node, avro_value_t *in, void *value,
                            gs_arena_t *arena, char *errstr, size_t errstr_size);

/* Encodes a value of the generated type with another writer schema that
 * has our field names (a producer's newer or older schema): what the writer
 * lacks is left out, writer-only fields take their defaults. For the load
 * generator and tests. */
gs_err_t gs_avro_encode_as(const gs_avro_type_t *type, const void *value,
                           const gs_avro_schema_t *writer, int32_t schema_id, gs_buf_t *out,
                           char *errstr, size_t errstr_size);

/* ---- resolution plans ------------------------------------------------------ */

typedef struct gs_avro_plan gs_avro_plan_t;

/* Compiles how bytes of `writer` become a value of `reader`'s generated
 * layout. GS_ERR_SCHEMA naming the first field that cannot be resolved. */
gs_err_t gs_avro_plan_new(const gs_avro_schema_t *writer, const gs_avro_type_t *reader,
                          gs_avro_plan_t **out, char *errstr, size_t errstr_size);
void gs_avro_plan_destroy(gs_avro_plan_t *p);
/* True when the writer schema is the reader's: decoding is the generated
 * decoder. */
int gs_avro_plan_identity(const gs_avro_plan_t *p);
/* Decodes exactly len bytes; errors as the generated decoders', plus
 * GS_ERR_SCHEMA for a value the reader cannot hold (an unknown enum symbol,
 * a writer union branch that does not resolve). */
gs_err_t gs_avro_plan_decode(const gs_avro_plan_t *p, const uint8_t *buf, size_t len,
                             gs_arena_t *arena, void *out, char *errstr, size_t errstr_size);

/* The plan from writer to reader, compiled on first use and kept with the
 * writer schema (a failure too, so a bad schema id costs one compile). The
 * plan lives as long as the writer schema. Not thread-safe. */
gs_err_t gs_avro_schema_plan(gs_avro_schema_t *writer, const gs_avro_type_t *reader,
                             const gs_avro_plan_t **out, char *errstr, size_t errstr_size);

#endif
