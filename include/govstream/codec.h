/* govstream - Avro schemas, framing and safe decoding.
 *
 * The .avsc files in schemas/ are the single source of truth; the build
 * embeds them verbatim (cmake/embed.cmake) and this module parses them with
 * avro-c. Untrusted bytes are first walked against the writer schema
 * (gs_avro_check) so that avro-c only ever reads well-formed input: Debian's
 * avro-c 1.11.1 trusts length prefixes. Writer values are then projected by
 * field name onto our reader schema, filling absent fields with the reader
 * file's defaults (avro-c's resolved reader refuses that case). */
#ifndef GOVSTREAM_CODEC_H
#define GOVSTREAM_CODEC_H

#include <avro.h>
#include <stdint.h>

#include "govstream/common.h"
#include "govstream/config.h"

/* ---- embedded schema texts ------------------------------------------- */

/* Schema file text by record name ("DialogueRequest"), NULL if unknown. */
const char *gs_schema_text(const char *name);
/* i-th embedded schema name, NULL past the end. */
const char *gs_schema_name(size_t i);

/* ---- parsed schemas --------------------------------------------------- */

typedef struct gs_avro_schema gs_avro_schema_t;

/* Parses Avro schema JSON text (ours or a registry's). */
gs_err_t gs_avro_schema_parse(const char *json, size_t len, gs_avro_schema_t **out, char *errstr,
                              size_t errstr_size);
/* Parses the embedded schema NAME. */
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
/* Sets a string value from a C string (NULL: ""); avro-c copies the NUL. */
int gs_avro_set_cstr(avro_value_t *v, const char *s);

/* Positions of a record's fields by name, resolved once from the schema
 * file so that access by index cannot drift from it. GS_ERR_INTERNAL
 * naming the first missing field. */
gs_err_t gs_avro_field_indexes(const gs_avro_schema_t *record, const char *const *names,
                               size_t count, size_t *out, char *errstr, size_t errstr_size);

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

/* Sets every field of record value dst that has a default in `reader` to
 * that default (used by producers writing with an evolved schema). */
gs_err_t gs_avro_set_defaults(avro_value_t *dst, const gs_avro_schema_t *reader, char *errstr,
                              size_t errstr_size);

/* ---- framing ----------------------------------------------------------- */

#define GS_CONFLUENT_HEADER 5

/* Splits a message value into schema id (-1 for raw) and Avro payload. */
gs_err_t gs_frame_parse(const void *buf, size_t len, gs_framing_t mode, int32_t *schema_id,
                        const uint8_t **payload, size_t *payload_len, char *errstr,
                        size_t errstr_size);
void gs_frame_header(uint8_t out[GS_CONFLUENT_HEADER], int32_t schema_id);

/* ---- encoding ---------------------------------------------------------- */

/* Growable output buffer reused across messages (with its avro-c writer).
 * Zero-initialise; release with gs_buf_free. */
typedef struct gs_buf {
    uint8_t *data;
    size_t len, cap;
    avro_writer_t writer;
} gs_buf_t;

void gs_buf_free(gs_buf_t *b);

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

#endif
