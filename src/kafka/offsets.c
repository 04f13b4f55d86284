/* Per-partition watermark of acknowledged offsets. Tokens pack
 * (slot:16, epoch:16, seq:32) into the pointer-sized delivery opaque, so no
 * allocation is needed per message and reports for revoked partitions are
 * detected instead of dereferenced. */
#include "govstream/kafka.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SLOTS 65535

typedef struct entry {
    int64_t offset;
    uint32_t seq;
    uint32_t pending; /* records not yet acknowledged: the result, changelog records */
} entry_t;

typedef struct tp {
    char *topic;
    int32_t partition;
    int assigned;
    uint16_t epoch;
    uint32_t head, tail; /* seqs: [head, tail) are in flight */
    int64_t position;    /* last contiguous acked + 1, -1 if none */
    int moved;
    entry_t *ring;
} tp_t;

struct gs_offsets {
    size_t ring_size; /* power of two >= max_inflight */
    size_t max_inflight;
    tp_t *tps;
    int n_tps, cap_tps;
};

gs_err_t gs_offsets_new(size_t max_inflight, gs_offsets_t **out, char *errstr, size_t n)
{
    gs_offsets_t *o = calloc(1, sizeof(*o));
    if (!o || !max_inflight)
        return free(o), gs_fail(errstr, n, GS_ERR_INVALID_ARG, "max_inflight must be > 0");
    o->max_inflight = max_inflight;
    o->ring_size = 1;
    while (o->ring_size < max_inflight)
        o->ring_size *= 2;
    *out = o;
    return GS_OK;
}

void gs_offsets_destroy(gs_offsets_t *o)
{
    if (!o)
        return;
    for (int i = 0; i < o->n_tps; i++) {
        free(o->tps[i].topic);
        free(o->tps[i].ring);
    }
    free(o->tps);
    free(o);
}

int gs_offsets_find(const gs_offsets_t *o, const char *topic, int32_t partition)
{
    for (int i = 0; i < o->n_tps; i++)
        if (o->tps[i].assigned && o->tps[i].partition == partition &&
            !strcmp(o->tps[i].topic, topic))
            return i;
    return -1;
}

int gs_offsets_assign(gs_offsets_t *o, const char *topic, int32_t partition)
{
    int slot = gs_offsets_find(o, topic, partition);
    if (slot >= 0)
        return slot;
    for (int i = 0; i < o->n_tps && slot < 0; i++) /* reuse a free slot */
        if (!o->tps[i].assigned)
            slot = i;
    if (slot < 0) {
        if (o->n_tps == MAX_SLOTS)
            return -1;
        if (o->n_tps == o->cap_tps) {
            int cap = o->cap_tps ? o->cap_tps * 2 : 16;
            tp_t *nt = realloc(o->tps, (size_t)cap * sizeof(*nt));
            if (!nt)
                return -1;
            memset(nt + o->cap_tps, 0, (size_t)(cap - o->cap_tps) * sizeof(*nt));
            o->tps = nt;
            o->cap_tps = cap;
        }
        slot = o->n_tps++;
    }
    tp_t *t = &o->tps[slot];
    if (!t->ring)
        t->ring = calloc(o->ring_size, sizeof(*t->ring));
    char *name = strdup(topic);
    if (!t->ring || !name) {
        free(name);
        return -1;
    }
    free(t->topic);
    t->topic = name;
    t->partition = partition;
    t->assigned = 1;
    t->epoch++;
    t->head = t->tail = 0;
    t->position = -1;
    t->moved = 0;
    return slot;
}

void gs_offsets_revoke(gs_offsets_t *o, int slot)
{
    if (slot >= 0 && slot < o->n_tps)
        o->tps[slot].assigned = 0;
}

const char *gs_offsets_topic(const gs_offsets_t *o, int slot)
{
    return o->tps[slot].topic;
}

int32_t gs_offsets_partition(const gs_offsets_t *o, int slot)
{
    return o->tps[slot].partition;
}

int gs_offsets_slots(const gs_offsets_t *o)
{
    return o->n_tps;
}

int gs_offsets_assigned(const gs_offsets_t *o, int slot)
{
    return slot >= 0 && slot < o->n_tps && o->tps[slot].assigned;
}

gs_err_t gs_offsets_track(gs_offsets_t *o, int slot, int64_t offset, void **token)
{
    if (!gs_offsets_assigned(o, slot))
        return GS_ERR_INVALID_ARG;
    tp_t *t = &o->tps[slot];
    if (t->tail - t->head >= o->max_inflight)
        return GS_ERR_TOO_LARGE;
    uint32_t seq = t->tail++;
    entry_t *e = &t->ring[seq & (o->ring_size - 1)];
    e->offset = offset;
    e->seq = seq;
    e->pending = 1;
    *token = (void *)(uintptr_t)(((uint64_t)(slot + 1) << 48) | ((uint64_t)t->epoch << 32) | seq);
    return GS_OK;
}

/* The in-flight entry a token names, NULL when stale. */
static entry_t *token_entry(const gs_offsets_t *o, void *token)
{
    uint64_t v = (uint64_t)(uintptr_t)token;
    int slot = (int)(v >> 48) - 1;
    uint16_t epoch = (uint16_t)(v >> 32);
    uint32_t seq = (uint32_t)v;
    if (!gs_offsets_assigned(o, slot))
        return NULL;
    const tp_t *t = &o->tps[slot];
    entry_t *e = &t->ring[seq & (o->ring_size - 1)];
    /* seq - head < tail - head also holds across 32-bit wrap-around */
    if (t->epoch != epoch || e->seq != seq || seq - t->head >= t->tail - t->head)
        return NULL;
    return e;
}

int gs_offsets_live(const gs_offsets_t *o, void *token)
{
    return token_entry(o, token) != NULL;
}

int gs_offsets_hold(gs_offsets_t *o, void *token)
{
    entry_t *e = token_entry(o, token);
    if (!e || !e->pending)
        return 0;
    e->pending++;
    return 1;
}

int gs_offsets_ack(gs_offsets_t *o, void *token)
{
    entry_t *e = token_entry(o, token);
    if (!e)
        return 0;
    if (e->pending)
        e->pending--;
    return 1;
}

size_t gs_offsets_inflight(const gs_offsets_t *o, int slot)
{
    return gs_offsets_assigned(o, slot) ? o->tps[slot].tail - o->tps[slot].head : 0;
}

int64_t gs_offsets_advance(gs_offsets_t *o, int slot)
{
    if (!gs_offsets_assigned(o, slot))
        return -1;
    tp_t *t = &o->tps[slot];
    while (t->head != t->tail) {
        entry_t *e = &t->ring[t->head & (o->ring_size - 1)];
        if (e->pending)
            break;
        t->position = e->offset + 1;
        t->moved = 1;
        t->head++;
    }
    if (!t->moved)
        return -1;
    t->moved = 0;
    return t->position;
}

int64_t gs_offsets_position(const gs_offsets_t *o, int slot)
{
    return gs_offsets_assigned(o, slot) ? o->tps[slot].position : -1;
}
