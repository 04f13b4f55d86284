/* Scope state and the governor, shared by scope.c and snapshot.c (private
 * to src/govern). */
#ifndef GS_GOVERN_SCOPE_H
#define GS_GOVERN_SCOPE_H

#include "govstream/govern.h"

#define SCOPE_KEY_MAX 128

/* A buffered memory write's confidence and memory id. */
typedef struct buf_meta {
    float conf;
    uint8_t id_len;
    char id[GS_MEMORY_ID_MAX];
} buf_meta_t;
/* what the byte accounts (and their tests) take an entry to cost */
_Static_assert(sizeof(buf_meta_t) == 4 + 4 + GS_MEMORY_ID_MAX, "buf_meta_t padding");

typedef struct scope {
    int32_t partition; /* the input partition it belongs to (SPEC 3.6) */
    char key[SCOPE_KEY_MAX];
    uint8_t key_len;
    gs_moral_t moral;
    gs_rhythm_t rhythm;
    uint64_t accepted, rejected;
    uint64_t at_bound; /* consecutive requests with the threshold at a bound */
    gs_pelm_t *pelm;
    gs_synaptic_t syn; /* l1 == NULL until the first memory write */
    /* Consolidation buffer: memory writes since the last consolidation,
     * at most wake + sleep steps of them (one per governed request). */
    float *buf;           /* buf_cap x GS_EMBED_DIM, NULL until first used */
    buf_meta_t *buf_meta; /* buf_cap */
    uint32_t buf_n, buf_cap;
    int64_t last_used_us;
    uint64_t pin;    /* epoch of the batch using it: not evictable */
    size_t bytes;    /* dynamic bytes of this scope (PELM, synaptic, buffer) */
    uint32_t *dirty; /* memory pass: slots changed since the scores */
    size_t n_dirty, cap_dirty;
    /* changelog: slots written since the changes were last taken, and the
     * scope's place in the list of changed scopes (0: not in it) */
    uint32_t *cl_slots;
    size_t n_cl, cap_cl;
    size_t cl_idx;
    uint64_t hdr_seq;                  /* sequence of the header record restored */
    uint8_t hdr_seen;                  /* restoring: a header record was applied */
    struct scope *lru_prev, *lru_next; /* most recent at head */
    struct scope *hnext;               /* hash chain; free list when unused */
    int used;
} scope_t;

/* An evicted scope whose changelog records must be deleted. */
typedef struct tombstone {
    int32_t partition;
    uint8_t key_len;
    char key[SCOPE_KEY_MAX];
    uint32_t slots; /* its PELM size: slot records 0..slots-1 */
} tombstone_t;

struct gs_govern {
    gs_govern_conf_t conf;
    const gs_lexicon_t *lexicon;
    scope_t *pool; /* max_scopes slots, allocated once */
    scope_t **buckets;
    size_t n_buckets, count;
    scope_t *lru_head, *lru_tail, *free_list;
    size_t fixed_bytes, dyn_bytes;
    uint64_t epoch, created, evicted, memory_refused, changelog_lost;
    int64_t next_idle_check_us;
    /* memory-pass scratch, grown to the largest batch */
    float *emb;      /* n x GS_EMBED_DIM query embeddings */
    float *qnorm;    /* n */
    size_t *row_off; /* n: offset of the request's score row, SIZE_MAX if none */
    size_t *row_size;
    uint32_t *qnnz; /* per request: the query's non-zero dimensions */
    size_t scratch_n;
    float *arena; /* score rows of the pass */
    size_t arena_len, arena_cap;
    float *qblock; /* CHUNK x GS_EMBED_DIM contiguous queries for SGEMM */
    /* changelog (conf.changelog): scopes changed since the last
     * gs_govern_changes (NULL entries: evicted since), evicted scopes */
    scope_t **cl_dirty;
    size_t n_cl_dirty, cap_cl_dirty;
    tombstone_t *tombs;
    size_t n_tombs, cap_tombs;
    uint8_t *cl_buf; /* one record's key and value */
    size_t cl_buf_cap;
};

/* Finds or creates the scope, pinning it for the current batch. NULL when
 * every scope in memory is pinned (or out of memory). */
scope_t *gs_scope_get(gs_govern_t *g, int32_t partition, gs_str_t key);
/* The scope if it is in memory (the LRU order untouched), else NULL. */
scope_t *gs_scope_find(const gs_govern_t *g, int32_t partition, gs_str_t key);
/* Removes the scope and frees its memory; with the changelog on, its
 * records are deleted too (tombstones at the next gs_govern_changes). */
void gs_scope_evict(gs_govern_t *g, scope_t *s);
/* The same without tombstones: the partition went to another worker. */
void gs_scope_drop(gs_govern_t *g, scope_t *s);
/* Notes a change of the scope for the changelog (slot: a PELM slot
 * written, or UINT32_MAX for the header only). */
void gs_scope_changed(gs_govern_t *g, scope_t *s, uint32_t slot);
/* Bytes of the synaptic memory and a consolidation buffer of buf_cap. */
size_t gs_scope_extras_bytes(uint32_t buf_cap);
/* Replaces the scope's memory with the given parts (taking ownership; syn
 * and buf may be empty) and accounts for the difference. */
void gs_scope_install(gs_govern_t *g, scope_t *s, gs_pelm_t *pelm, gs_synaptic_t syn, float *buf,
                      buf_meta_t *buf_meta, uint32_t buf_cap);
/* Allocates the synaptic memory and consolidation buffer (one entry per
 * step of the scope's rhythm) if absent, counting them in the budget.
 * GS_ERR_NOMEM when they cannot be had. */
gs_err_t gs_scope_ensure_memory(gs_govern_t *g, scope_t *s);
/* Makes room in the memory budget for `bytes` more (evicting idle scopes
 * in LRU order, never s itself or pinned ones); 0 when it fits. */
int gs_scope_budget(gs_govern_t *g, const scope_t *s, size_t bytes);
/* Re-reads the scope's PELM footprint into the byte accounts. */
void gs_scope_account_pelm(gs_govern_t *g, scope_t *s, size_t before);

/* A scope's filter, rhythm and counts, as snapshots and changelog headers
 * both carry them (snapshot.c): i32 threshold_x20, f64 ema, u32 wake,
 * u32 sleep, u32 pos, u64 steps, u64 accepted, u64 rejected. */
typedef struct scope_core {
    gs_moral_t moral;
    gs_rhythm_t rhythm;
    uint64_t accepted, rejected;
} scope_core_t;
struct writer;
struct reader;
void gs_scope_put_core(struct writer *w, const scope_t *s);
scope_core_t gs_scope_get_core(struct reader *r);
/* 1 when the threshold, the EMA and the rhythm are in range. */
int gs_scope_core_valid(const scope_core_t *c);
void gs_scope_set_core(scope_t *s, const scope_core_t *c);

#endif
