/* govstream - state stores (SPEC 3.6): per-key state that belongs to the
 * input partition it was built from, as Kafka Streams' state stores do.
 *
 * A store is a table entry of a kind (its governor's scopes, say): it
 * applies changelog records, hands out its changes, and drops a partition.
 * This layer logs every change to the compacted changelog topic
 * (state.topic, partition = the input partition), restores an assigned
 * partition's stores from it before the partition is processed, and frames
 * and checks every record:
 *
 *   key    store name, 0x00, the store's key
 *   value  "GSST" u16 version u16 0 u64 seq  payload  u32 crc32c
 *          (the CRC covers the key, then the value before it); a
 *          tombstone is a NULL value
 *
 * seq counts the records one owner of the input partition wrote, carried
 * on by the next owner from the largest it restored; it orders a key's
 * values should a retried record arrive late. A record that fails its
 * checks is skipped (counted and logged), never applied. */
#ifndef GOVSTREAM_STATE_H
#define GOVSTREAM_STATE_H

#include "govstream/kafka.h"
#include "govstream/store.h"

#define GS_STATE_VERSION     1
#define GS_STATE_STORE_MAX   64 /* bytes of a store name */
#define GS_STATE_FRAME_BYTES (4 + 2 + 2 + 8 + 4)
/* A restore waits for an open transaction on the changelog (a previous
 * owner's) at most delivery.transaction_timeout_ms + this. */
#define GS_STATE_TXN_SLACK_MS 15000

/* The series the state layer updates (borrowed). */
typedef struct gs_state_series {
    gs_series_t *restored_records, *restored_bytes, *restore_us, *skipped, *written, *restoring;
} gs_state_series_t;

typedef struct gs_state gs_state_t;

gs_err_t gs_state_new(const gs_config_t *cfg, gs_log_t *log, gs_kafka_state_t *kstate,
                      const gs_state_series_t *series, gs_state_t **out, char *errstr,
                      size_t errstr_size);
void gs_state_destroy(gs_state_t *st);

/* The stores of one input topic (borrowed), before gs_state_prepare. */
gs_err_t gs_state_add(gs_state_t *st, const char *topic, const gs_store_t *stores, size_t count,
                      char *errstr, size_t errstr_size);
/* 1 when the input topic has stores. */
int gs_state_has(const gs_state_t *st, const char *topic);

/* Creates the changelog topic if it is missing (cleanup.policy=compact, as
 * many partitions as the largest input) and checks it, asking through rk.
 * GS_ERR_TRANSPORT: the brokers did not answer (retry); GS_ERR_CONFIG: the
 * topic exists but is not compacted or has too few partitions. */
gs_err_t gs_state_prepare(gs_state_t *st, rd_kafka_t *rk, char *errstr, size_t errstr_size);

/* An input partition with stores was assigned (and paused by the caller):
 * its restore starts. */
void gs_state_assign(gs_state_t *st, const char *topic, int32_t partition);
/* Revoked or lost: its restore stops and its stores drop it. */
void gs_state_revoke(gs_state_t *st, const char *topic, int32_t partition);
/* 1 while the partition is being restored. */
int gs_state_restoring(const gs_state_t *st, const char *topic, int32_t partition);

typedef void(gs_state_done_fn)(void *opaque, const char *topic, int32_t partition);
/* Serves the restores for up to max_ms; done() for each input partition
 * whose restore completed. A restore completes at the end of its changelog
 * partition once that is past every transaction open when the restore
 * first reached it (bounded: GS_STATE_TXN_SLACK_MS). Returns the
 * partitions still restoring, less those waiting for such a transaction
 * (nothing arrives for them until it ends: the caller may block meanwhile). */
size_t gs_state_poll(gs_state_t *st, int max_ms, gs_state_done_fn *done, void *opaque);

typedef void(gs_state_send_fn)(void *opaque, const char *topic, int32_t partition, const void *key,
                               size_t key_len, const void *value, size_t value_len);
/* Every store's changes since the last call, framed, to send() with the
 * input topic and partition they belong to (the changelog partition). */
gs_err_t gs_state_flush(gs_state_t *st, gs_state_send_fn *send, void *opaque, char *errstr,
                        size_t errstr_size);

/* One changelog record, unframed. Views into the record. */
typedef struct gs_state_record {
    gs_str_t store;
    const uint8_t *key; /* the store's key */
    size_t key_len;
    uint64_t seq;
    const uint8_t *payload; /* NULL for a tombstone */
    size_t payload_len;
} gs_state_record_t;

/* Checks and unframes a record. GS_ERR_DECODE for a bad key, magic, length
 * or CRC; GS_ERR_SCHEMA for another version. */
gs_err_t gs_state_parse(const void *key, size_t key_len, const void *value, size_t value_len,
                        gs_state_record_t *out, char *errstr, size_t errstr_size);
/* Frames a record into buf (key then value; grown as needed). */
gs_err_t gs_state_frame(gs_buf_t *buf, const char *store, const void *key, size_t key_len,
                        uint64_t seq, const void *payload, size_t payload_len, size_t *value_off);

#endif
