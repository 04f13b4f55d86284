/* govstream - Confluent-compatible schema registry client (libcurl).
 *
 * Writer schemas are cached by id for the life of the process (registry ids
 * are immutable); an id the registry does not know is remembered as unknown
 * for negative_cache_ms so a flood of bad messages costs one lookup.
 * Errors: GS_ERR_SCHEMA when the registry answered (unknown id, not Avro,
 * incompatible), GS_ERR_TRANSPORT when it could not be reached or failed
 * (connection, timeout, 5xx) after all retries - the caller pauses then. */
#ifndef GOVSTREAM_REGISTRY_H
#define GOVSTREAM_REGISTRY_H

#include "govstream/codec.h"

typedef struct gs_registry_conf {
    const char *url; /* base, e.g. http://127.0.0.1:8081 or .../apis/ccompat/v7 */
    const char *username, *password, *ca_file; /* "" or NULL: unused */
    int connect_timeout_ms, timeout_ms;
    int retries, backoff_ms, backoff_max_ms;
    int negative_cache_ms;
} gs_registry_conf_t;

typedef struct gs_registry_stats {
    uint64_t lookups, cache_hits, http_requests, failures;
} gs_registry_stats_t;

typedef struct gs_registry gs_registry_t;

gs_err_t gs_registry_new(const gs_registry_conf_t *conf, gs_registry_t **out, char *errstr,
                         size_t errstr_size);
void gs_registry_destroy(gs_registry_t *reg);

/* Writer schema for id; owned by the registry, valid until destroy. */
gs_err_t gs_registry_schema(gs_registry_t *reg, int32_t id, gs_avro_schema_t **out, char *errstr,
                            size_t errstr_size);

/* Registers schema JSON under subject (idempotent) and returns its id. */
gs_err_t gs_registry_register(gs_registry_t *reg, const char *subject, const char *schema_json,
                              int32_t *id, char *errstr, size_t errstr_size);

gs_registry_stats_t gs_registry_stats(const gs_registry_t *reg);

#endif
