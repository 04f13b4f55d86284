/* govstream - the Kafka layer: client configuration and the at-least-once
 * offset tracker.
 *
 * Offsets (SPEC 2): an input offset may be committed only after the result
 * or dead letter produced for it was acknowledged by the broker. Deliveries
 * complete out of order, so each assigned partition keeps a ring of its
 * in-flight input offsets and the committable position is the end of the
 * contiguous acknowledged prefix (the watermark). */
#ifndef GOVSTREAM_KAFKA_H
#define GOVSTREAM_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "govstream/config.h"

typedef enum { GS_KAFKA_CONSUMER, GS_KAFKA_PRODUCER } gs_kafka_role_t;

/* librdkafka configuration for one client: govstream's defaults, then
 * kafka.*, then kafka_consumer.* or kafka_producer.*. An unknown or invalid
 * property is reported with the file, line and key it came from. */
gs_err_t gs_kafka_conf_build(const gs_config_t *cfg, gs_kafka_role_t role, rd_kafka_conf_t **out,
                             char *errstr, size_t errstr_size);

/* ---- offset tracker ---------------------------------------------------- */

typedef struct gs_offsets gs_offsets_t;

/* Up to max_inflight unacknowledged offsets per partition. */
gs_err_t gs_offsets_new(size_t max_inflight, gs_offsets_t **out, char *errstr, size_t errstr_size);
void gs_offsets_destroy(gs_offsets_t *o);

/* Starts tracking a newly assigned partition; returns its slot (>= 0) or
 * -1 when out of slots. A slot reused later gets a new epoch, so delivery
 * reports for a revoked assignment are recognised as stale. */
int gs_offsets_assign(gs_offsets_t *o, const char *topic, int32_t partition);
void gs_offsets_revoke(gs_offsets_t *o, int slot);
/* Slot of an assigned partition, -1 if not assigned. */
int gs_offsets_find(const gs_offsets_t *o, const char *topic, int32_t partition);
const char *gs_offsets_topic(const gs_offsets_t *o, int slot);
int32_t gs_offsets_partition(const gs_offsets_t *o, int slot);
/* Number of slots in use or ever used (iterate 0..n-1, skip unassigned). */
int gs_offsets_slots(const gs_offsets_t *o);
int gs_offsets_assigned(const gs_offsets_t *o, int slot);

/* Records a consumed offset (in consumption order) and returns the token
 * to pass as the produced record's opaque. Fails when the partition already
 * has max_inflight offsets in flight (callers pause before that). */
gs_err_t gs_offsets_track(gs_offsets_t *o, int slot, int64_t offset, void **token);
/* True while the token's partition is still assigned (same epoch). */
int gs_offsets_live(const gs_offsets_t *o, void *token);
/* Marks the offset acknowledged. Returns 0 for a stale token. */
int gs_offsets_ack(gs_offsets_t *o, void *token);
/* Offsets of the slot the watermark has not passed yet: in flight, or
 * acknowledged behind one that is not. */
size_t gs_offsets_inflight(const gs_offsets_t *o, int slot);
/* Advances the watermark; returns the offset to commit (last contiguous
 * acknowledged + 1) if it moved since the last call, else -1. */
int64_t gs_offsets_advance(gs_offsets_t *o, int slot);
/* The committable offset (last contiguous acknowledged + 1), -1 if none. */
int64_t gs_offsets_position(const gs_offsets_t *o, int slot);

#endif
