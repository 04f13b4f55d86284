/* govstream - the Kafka layer: client configuration, the at-least-once
 * offset tracker, and the worker's consumer and producer (the poll loop in
 * src/pipeline/worker.c drives them).
 *
 * Offsets (SPEC 2): an input offset may be committed only after the result
 * or dead letter produced for it was acknowledged by the broker. Deliveries
 * complete out of order, so each assigned partition keeps a ring of its
 * in-flight input offsets and the committable position is the end of the
 * contiguous acknowledged prefix (the watermark). */
#ifndef GOVSTREAM_KAFKA_H
#define GOVSTREAM_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdio.h>

#include "govstream/config.h"
#include "govstream/log.h"
#include "govstream/metrics.h"

/* GS_KAFKA_SIDE: a producer that is never transactional (metrics and
 * alerts in exactly-once mode, which are not part of its contract). */
typedef enum { GS_KAFKA_CONSUMER, GS_KAFKA_PRODUCER, GS_KAFKA_SIDE } gs_kafka_role_t;

/* librdkafka configuration for one client: govstream's defaults, then
 * kafka.*, then kafka_consumer.* or kafka_producer.*, then what the
 * delivery mode needs. An unknown or invalid property is reported with the
 * file, line and key it came from. */
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
/* One more record must be acknowledged before the offset counts as done
 * (a changelog record of the state the input changed). Call before the
 * offset's first acknowledgement; returns 0 for a stale token. */
int gs_offsets_hold(gs_offsets_t *o, void *token);
/* Acknowledges one record of the offset. Returns 0 for a stale token. */
int gs_offsets_ack(gs_offsets_t *o, void *token);
/* Offsets of the slot the watermark has not passed yet: in flight, or
 * acknowledged behind one that is not. */
size_t gs_offsets_inflight(const gs_offsets_t *o, int slot);
/* Advances the watermark; returns the offset to commit (last contiguous
 * acknowledged + 1) if it moved since the last call, else -1. */
int64_t gs_offsets_advance(gs_offsets_t *o, int slot);
/* The committable offset (last contiguous acknowledged + 1), -1 if none. */
int64_t gs_offsets_position(const gs_offsets_t *o, int slot);

/* The librdkafka section of docs/CONFIG.md, defaults included. */
void gs_kafka_docs(FILE *fp);

/* ---- both clients ------------------------------------------------------ */

/* What librdkafka's error callback tells the loop. */
typedef struct gs_kafka_state {
    int brokers_down; /* "all brokers down" until a metadata probe succeeds */
    int transport;    /* a connection failed: the loop probes whether any broker answers */
    int auth_failed;  /* a broker refused our SASL credentials, until a probe succeeds */
    int fatal;        /* a fatal client error: the worker must stop */
} gs_kafka_state_t;

/* The first member of a client's opaque: its error and log callbacks use it. */
typedef struct gs_kafka_base {
    gs_log_t *log;
    gs_kafka_state_t *state;
} gs_kafka_base_t;

/* Creates a client from conf (taken, also on failure) with base as its
 * opaque and the shared error and log callbacks. */
gs_err_t gs_kafka_client_new(rd_kafka_conf_t *conf, gs_kafka_role_t role, gs_kafka_base_t *base,
                             rd_kafka_t **out, char *errstr, size_t errstr_size);
/* 1 when a metadata request succeeds within timeout_ms: librdkafka reports
 * "all brokers down" but not their return. */
int gs_kafka_probe(rd_kafka_t *rk, int timeout_ms);

/* ---- the producer: results, dead letters, metrics and alerts -------------
 * A tracked record (result or dead letter) carries its input's offset
 * token; it is acknowledged in the tracker when the broker has it. A record
 * librdkafka does not take (queue full) or the broker refuses is held and
 * produced again with backoff, its offset unacknowledged meanwhile; when
 * its partition is revoked it is dropped (the new owner redoes it). Side
 * records (metrics, alerts) are not retried and expire instead, so that
 * they never hold up a rebalance or a shutdown. */

typedef struct gs_producer gs_producer_t;

typedef struct gs_producer_stats {
    uint64_t acked, delivery_failures, dropped_revoked, txn_committed, txn_aborted;
} gs_producer_stats_t;

/* offsets, log, state and the series are borrowed. delivery_failures and
 * side_failures count refused tracked and side records. */
gs_err_t gs_producer_new(const gs_config_t *cfg, gs_log_t *log, gs_offsets_t *offsets,
                         gs_kafka_state_t *state, gs_series_t *delivery_failures,
                         gs_series_t *side_failures, gs_producer_t **out, char *errstr,
                         size_t errstr_size);
void gs_producer_destroy(gs_producer_t *p);
rd_kafka_t *gs_producer_handle(gs_producer_t *p);

/* A topic for tracked records, or (side) for records that expire after
 * 2 x metrics.interval_ms + 30 s. NULL for an empty name. */
rd_kafka_topic_t *gs_producer_topic(gs_producer_t *p, const char *name, int side);

/* Produces a tracked record (copied), or holds it for a retry. */
void gs_producer_send(gs_producer_t *p, rd_kafka_topic_t *rkt, const void *key, size_t key_len,
                      const void *value, size_t value_len, void *token);
/* The token of a record that is retried like a tracked one but holds no
 * offset back (a changelog tombstone of another partition's scope). */
#define GS_PRODUCER_UNTRACKED ((void *)1)
/* The same, to one partition (RD_KAFKA_PARTITION_UA: by key). Tracked
 * records reach librdkafka in the order they were sent, except one the
 * broker refused, which is produced again after a backoff. */
void gs_producer_send_to(gs_producer_t *p, rd_kafka_topic_t *rkt, int32_t partition,
                         const void *key, size_t key_len, const void *value, size_t value_len,
                         void *token);
/* Produces a side record (copied); counted as failed if librdkafka refuses it. */
void gs_producer_send_side(gs_producer_t *p, rd_kafka_topic_t *rkt, const void *key, size_t key_len,
                           const void *value, size_t value_len);
/* Serves delivery reports (waiting up to ms) and retries held records that
 * are due. */
void gs_producer_poll(gs_producer_t *p, int ms);
/* Tracked records not yet acknowledged: in librdkafka or held. */
long gs_producer_unacked(const gs_producer_t *p);
size_t gs_producer_held(const gs_producer_t *p);
/* Waits up to ms for every tracked record in librdkafka to be acknowledged. */
void gs_producer_flush(gs_producer_t *p, int ms);
/* Sends what librdkafka holds now, linger.ms ignored, waiting at most ms
 * (at least 1: librdkafka ignores linger only while a flush call lasts, so
 * a call that returns before its broker threads wake sends nothing). */
void gs_producer_send_now(gs_producer_t *p, int ms);
/* Shutdown, last: drops whatever is still queued or in flight (side
 * records waiting for a missing topic, say). */
void gs_producer_purge(gs_producer_t *p);
/* 1 while librdkafka's queue is above delivery.queue_high_pct, until it
 * drains to delivery.queue_low_pct; the queue length in *len. */
int gs_producer_queue_full(gs_producer_t *p, long *len);
gs_producer_stats_t gs_producer_stats(const gs_producer_t *p);

/* ---- exactly-once (delivery.mode = exactly_once) --------------------------
 * The producer is transactional, with transactional.id
 * <group.id>.<worker.id>: a restarted worker fences the producer of the
 * one it replaces and aborts what that left open. Tracked records (results,
 * dead letters, changelog records) open a transaction; a commit adds the
 * input positions they complete (send_offsets_to_transaction with the
 * group's metadata) and commits all of it, or none. Metrics and alerts go
 * through a second, plain producer: they are outside the contract and must
 * not abort a transaction. */

/* GS_TXN_PENDING: an abort, or a commit that timed out on its way, could
 * not complete yet (brokers unreachable, a stalled process): call
 * gs_producer_txn_abort again, and produce nothing meanwhile. It resumes
 * the commit first (librdkafka takes no other call then), which may still
 * commit (GS_TXN_COMMITTED), and aborts only if that fails. */
typedef enum {
    GS_TXN_NONE,
    GS_TXN_COMMITTED,
    GS_TXN_ABORTED,
    GS_TXN_PENDING,
    GS_TXN_FATAL
} gs_txn_result_t;

typedef struct gs_consumer gs_consumer_t;

/* Registers the transactional id with its coordinator (fencing). At start,
 * before anything is produced. GS_ERR_TRANSPORT: not now, retry. */
gs_err_t gs_producer_txn_init(gs_producer_t *p, int timeout_ms, char *errstr, size_t errstr_size);
/* 1 while a transaction is open (records were sent since the last commit). */
int gs_producer_txn_open(const gs_producer_t *p);
/* Commits the open transaction: held records go out, every record is
 * acknowledged, then the consumer's positions (gs_consumer_positions) are
 * sent and the transaction committed, all within timeout_ms. Otherwise it
 * is aborted (GS_TXN_ABORTED): the caller rewinds inputs and state to the
 * last commit. GS_TXN_FATAL: fenced or broken, the worker must stop. */
gs_txn_result_t gs_producer_txn_commit(gs_producer_t *p, gs_consumer_t *c, int timeout_ms);
/* Aborts the open transaction (partitions were lost, or a commit failed);
 * a commit still under way is resumed first (see GS_TXN_PENDING). */
gs_txn_result_t gs_producer_txn_abort(gs_producer_t *p, int timeout_ms);

/* ---- the consumer: one group member, partitions tracked by gs_offsets -----
 * Rebalances are cooperative-sticky and incremental. On revoke the hook
 * drops what is queued for the partitions and, unless they were lost,
 * waits for what is in flight; the watermark is then committed (exactly
 * what the broker acknowledged) and the partitions are unassigned. In
 * exactly-once mode the consumer commits nothing itself: the hook commits
 * the transaction. */

typedef struct gs_consumer_hooks {
    void *opaque;
    void (*revoking)(void *opaque, const rd_kafka_topic_partition_list_t *parts, int lost);
    /* After partitions were assigned (may be NULL). */
    void (*assigned)(void *opaque, const rd_kafka_topic_partition_list_t *parts);
    /* A librdkafka statistics document (consumer lag); may be NULL. */
    void (*stats)(void *opaque, const char *json, size_t len);
} gs_consumer_hooks_t;

gs_err_t gs_consumer_new(const gs_config_t *cfg, gs_log_t *log, gs_offsets_t *offsets,
                         gs_kafka_state_t *state, const gs_consumer_hooks_t *hooks,
                         gs_consumer_t **out, char *errstr, size_t errstr_size);
void gs_consumer_destroy(gs_consumer_t *c);
gs_err_t gs_consumer_subscribe(gs_consumer_t *c, const char *const *topics, size_t count,
                               char *errstr, size_t errstr_size);
/* The next message (waiting up to ms), serving rebalances; consumer errors
 * are logged and skipped. NULL when there is none. */
rd_kafka_message_t *gs_consumer_poll(gs_consumer_t *c, int ms);
/* 1 once partitions were assigned. */
int gs_consumer_joined(const gs_consumer_t *c);
/* Stores the watermarks that advanced (librdkafka's auto-commit sends them). */
void gs_consumer_store(gs_consumer_t *c);
/* Shutdown: store, commit synchronously, close (leave the group). Returns 1
 * when the commit succeeded. */
int gs_consumer_finish(gs_consumer_t *c);
/* Flow control (SPEC 2): pauses every partition while the producer queue is
 * full or the registry is down, and a partition with more than `limit`
 * unacknowledged offsets until half that room is back. Returns 1 when the
 * producer side throttles (the loop then waits for acknowledgements). */
int gs_consumer_flow(gs_consumer_t *c, int queue_full, long queue_len, int registry_down,
                     size_t limit);
/* Holds an assigned partition paused whatever flow control says (while
 * its state is restored), or lets it go. */
void gs_consumer_hold(gs_consumer_t *c, const char *topic, int32_t partition, int hold);
/* Seeks a held partition to its committed offset as the group coordinator
 * has it now (exactly-once, after its state is restored): a restore that
 * waited for another member's open transaction ends after that
 * transaction's changelog records, and the input offsets committed in the
 * same transaction are only now there; the position taken at the
 * assignment may predate them, which would process that batch twice. */
void gs_consumer_seek_committed(gs_consumer_t *c, const char *topic, int32_t partition);
rd_kafka_t *gs_consumer_handle(gs_consumer_t *c);
/* The watermark of every assigned partition (the next offset to read), for
 * a transaction's offsets; the caller destroys the list. */
rd_kafka_topic_partition_list_t *gs_consumer_positions(gs_consumer_t *c);
/* Exactly-once, after an abort: every assigned partition is unassigned
 * (the revoking hook runs with lost = 1) and assigned again from its
 * committed offset (the assigned hook runs), as a rebalance would. */
void gs_consumer_rewind(gs_consumer_t *c);

#endif
