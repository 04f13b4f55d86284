/* govstream - a state store as a table of operations (SPEC 3.6). A kind
 * lists its stores; the state layer (govstream/state.h) logs their changes
 * to the changelog and restores them from it. Kept apart from the state
 * layer so that a module below the kinds (the governor) can be a store
 * without knowing Kafka. */
#ifndef GOVSTREAM_STORE_H
#define GOVSTREAM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "govstream/common.h"

typedef void(gs_store_emit_fn)(void *opaque, int32_t partition, const void *key, size_t key_len,
                               const void *value, size_t value_len);

typedef struct gs_store_ops {
    /* One record of the store while `partition` is restored (value NULL:
     * a tombstone). An error skips the record. */
    gs_err_t (*apply)(void *self, int32_t partition, uint64_t seq, const void *key, size_t key_len,
                      const void *value, size_t value_len, char *errstr, size_t errstr_size);
    /* The restore of `partition` completed; returns the keys it holds. */
    size_t (*restored)(void *self, int32_t partition);
    /* The partition went to another worker: its state leaves memory. */
    void (*drop)(void *self, int32_t partition);
    /* Every change since the last call, through emit. */
    gs_err_t (*changes)(void *self, gs_store_emit_fn *emit, void *opaque, char *errstr,
                        size_t errstr_size);
} gs_store_ops_t;

typedef struct gs_store {
    const char *name; /* unique in the worker, e.g. "dialogue.scopes" */
    const gs_store_ops_t *ops;
    void *self;
} gs_store_t;

#endif
