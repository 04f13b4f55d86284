/* The recordings being aggregated (internal.h): per (input partition,
 * recording_id), the clips so far, the sum of their log-probabilities and
 * when the last one came (its record timestamp). A state store (SPEC
 * 3.6): every change is logged as the entry's new value, a closed or
 * expired recording as a tombstone, so a worker that takes the partition
 * over goes on with the same sums, bit for bit.
 *
 * Value: version 1, u32 clips, i64 last_ms, 11 f64 sums (little-endian).
 * A chained hash table: recordings come and go all the time, and deleting
 * from a chain is simple. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define VERSION   1
#define VALUE_LEN (1 + 4 + 8 + 8 * GS_TIMBRE_N_FAMILIES)

typedef struct rec {
    struct rec *next;
    int32_t partition;
    uint8_t key_len;
    char key[GS_KIND_MAX_ID];
    uint32_t clips;
    int64_t last_ms;
    double sum[GS_TIMBRE_N_FAMILIES];
} rec_t;

typedef struct change {
    int32_t partition;
    uint8_t key_len, tomb;
    char key[GS_KIND_MAX_ID];
    uint8_t value[VALUE_LEN];
} change_t;

struct rec_table {
    rec_t **heads;
    size_t n_heads, count, max;
    int64_t idle_ms;
    change_t *changes;
    size_t n_changes, cap_changes;
    uint64_t expired, evicted;
};

static uint64_t hash_of(int32_t partition, const char *key, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ (uint32_t)partition;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
    return h;
}

gs_err_t rec_new(size_t max, double idle_s, rec_table_t **out, char *errstr, size_t n)
{
    rec_table_t *t = calloc(1, sizeof(*t));
    size_t heads = 1024;
    while (heads < max && heads < ((size_t)1 << 24))
        heads <<= 1;
    if (t)
        t->heads = calloc(heads, sizeof(rec_t *));
    if (!t || !t->heads) {
        free(t);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "timbre: out of memory");
    }
    t->n_heads = heads;
    t->max = max;
    t->idle_ms = (int64_t)(idle_s * 1000);
    *out = t;
    return GS_OK;
}

void rec_destroy(rec_table_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_heads; i++)
        for (rec_t *r = t->heads[i], *next; r; r = next) {
            next = r->next;
            free(r);
        }
    free(t->heads);
    free(t->changes);
    free(t);
}

static rec_t **slot_of(rec_table_t *t, int32_t partition, const char *key, size_t len)
{
    rec_t **p = &t->heads[hash_of(partition, key, len) & (t->n_heads - 1)];
    while (*p && !((*p)->partition == partition && (*p)->key_len == len &&
                   memcmp((*p)->key, key, len) == 0))
        p = &(*p)->next;
    return p;
}

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Queues the entry's value (or its tombstone) for the changelog. */
static void log_change(rec_table_t *t, const rec_t *r, int tomb)
{
    if (t->n_changes == t->cap_changes) {
        size_t cap = t->cap_changes ? 2 * t->cap_changes : 64;
        change_t *c = realloc(t->changes, cap * sizeof(*c));
        if (!c)
            return; /* the next change of the entry logs it whole again */
        t->changes = c;
        t->cap_changes = cap;
    }
    change_t *c = &t->changes[t->n_changes++];
    *c = (change_t){.partition = r->partition, .key_len = r->key_len, .tomb = (uint8_t)tomb};
    memcpy(c->key, r->key, r->key_len);
    if (tomb)
        return;
    c->value[0] = VERSION;
    put_le(c->value + 1, r->clips, 4);
    put_le(c->value + 5, (uint64_t)r->last_ms, 8);
    for (int j = 0; j < GS_TIMBRE_N_FAMILIES; j++) {
        uint64_t bits;
        memcpy(&bits, &r->sum[j], sizeof(bits));
        put_le(c->value + 13 + 8 * (size_t)j, bits, 8);
    }
}

static void unlink_at(rec_table_t *t, rec_t **p, int log)
{
    rec_t *r = *p;
    if (log)
        log_change(t, r, 1);
    *p = r->next;
    free(r);
    t->count--;
}

/* The least recently updated recording makes room (a full table). */
static void evict_oldest(rec_table_t *t)
{
    rec_t **oldest = NULL;
    for (size_t i = 0; i < t->n_heads; i++)
        for (rec_t **p = &t->heads[i]; *p; p = &(*p)->next)
            if (!oldest || (*p)->last_ms < (*oldest)->last_ms)
                oldest = p;
    if (oldest) {
        unlink_at(t, oldest, 1);
        t->evicted++;
    }
}

static rec_t *get_or_add(rec_table_t *t, int32_t partition, gs_str_t key)
{
    size_t len = key.len < GS_KIND_MAX_ID ? key.len : GS_KIND_MAX_ID;
    rec_t *found = *slot_of(t, partition, key.p, len);
    if (found)
        return found;
    if (t->count >= t->max)
        evict_oldest(t);
    rec_t **p = slot_of(t, partition, key.p, len); /* the chain's end */
    rec_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    *r = (rec_t){.partition = partition, .key_len = (uint8_t)len};
    memcpy(r->key, key.p, len);
    *p = r;
    t->count++;
    return r;
}

uint32_t rec_add(rec_table_t *t, int32_t partition, gs_str_t key, const double *logp,
                 int64_t now_ms, int last, double *sum)
{
    rec_t *r = get_or_add(t, partition, key);
    if (!r) { /* out of memory: this clip alone */
        memcpy(sum, logp, GS_TIMBRE_N_FAMILIES * sizeof(double));
        return 1;
    }
    r->clips++;
    r->last_ms = now_ms > r->last_ms ? now_ms : r->last_ms;
    for (int j = 0; j < GS_TIMBRE_N_FAMILIES; j++)
        sum[j] = r->sum[j] += logp[j];
    uint32_t clips = r->clips;
    if (last)
        unlink_at(t, slot_of(t, partition, r->key, r->key_len), 1);
    else
        log_change(t, r, 0);
    return clips;
}

uint32_t rec_peek(rec_table_t *t, int32_t partition, gs_str_t key, int close, double *sum)
{
    size_t len = key.len < GS_KIND_MAX_ID ? key.len : GS_KIND_MAX_ID;
    rec_t **p = slot_of(t, partition, key.p, len);
    if (!*p)
        return 0;
    uint32_t clips = (*p)->clips;
    memcpy(sum, (*p)->sum, sizeof((*p)->sum));
    if (close)
        unlink_at(t, p, 1);
    return clips;
}

void rec_expire(rec_table_t *t, int64_t now_ms)
{
    if (t->idle_ms <= 0)
        return;
    for (size_t i = 0; i < t->n_heads; i++)
        for (rec_t **p = &t->heads[i]; *p;) {
            if (now_ms - (*p)->last_ms > t->idle_ms) {
                unlink_at(t, p, 1);
                t->expired++;
            } else {
                p = &(*p)->next;
            }
        }
}

size_t rec_count(const rec_table_t *t)
{
    return t->count;
}

uint64_t rec_expired(const rec_table_t *t)
{
    return t->expired + t->evicted;
}

/* ---- the state store ---------------------------------------------------- */

static gs_err_t store_apply(void *self, int32_t partition, uint64_t seq, const void *key,
                            size_t key_len, const void *value, size_t value_len, char *errstr,
                            size_t n)
{
    (void)seq;
    rec_table_t *t = self;
    const uint8_t *v = value;
    if (key_len < 1 || key_len > GS_KIND_MAX_ID)
        return gs_fail(errstr, n, GS_ERR_DECODE, "timbre recordings: key of %zu bytes", key_len);
    rec_t **p = slot_of(t, partition, key, key_len);
    if (!value) {
        if (*p)
            unlink_at(t, p, 0);
        return GS_OK;
    }
    if (value_len != VALUE_LEN || v[0] != VERSION)
        return gs_fail(errstr, n, GS_ERR_DECODE,
                       "timbre recordings: value of %zu bytes, version %d", value_len,
                       value_len ? v[0] : -1);
    rec_t *r = *p ? *p : get_or_add(t, partition, (gs_str_t){key, key_len});
    if (!r)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "timbre recordings: out of memory");
    r->clips = (uint32_t)get_le(v + 1, 4);
    r->last_ms = (int64_t)get_le(v + 5, 8);
    for (int j = 0; j < GS_TIMBRE_N_FAMILIES; j++) {
        uint64_t bits = get_le(v + 13 + 8 * (size_t)j, 8);
        memcpy(&r->sum[j], &bits, sizeof(bits));
    }
    return GS_OK;
}

static size_t store_restored(void *self, int32_t partition)
{
    rec_table_t *t = self;
    size_t k = 0;
    for (size_t i = 0; i < t->n_heads; i++)
        for (rec_t *r = t->heads[i]; r; r = r->next)
            k += r->partition == partition;
    return k;
}

/* The partition's recordings leave, unlogged: the new owner restores them. */
static void store_drop(void *self, int32_t partition)
{
    rec_table_t *t = self;
    for (size_t i = 0; i < t->n_heads; i++)
        for (rec_t **p = &t->heads[i]; *p;)
            if ((*p)->partition == partition)
                unlink_at(t, p, 0);
            else
                p = &(*p)->next;
    size_t k = 0;
    for (size_t i = 0; i < t->n_changes; i++)
        if (t->changes[i].partition != partition)
            t->changes[k++] = t->changes[i];
    t->n_changes = k;
}

static gs_err_t store_changes(void *self, gs_store_emit_fn *emit, void *opaque, char *errstr,
                              size_t n)
{
    (void)errstr, (void)n;
    rec_table_t *t = self;
    for (size_t i = 0; i < t->n_changes; i++) {
        const change_t *c = &t->changes[i];
        emit(opaque, c->partition, c->key, c->key_len, c->tomb ? NULL : c->value,
             c->tomb ? 0 : VALUE_LEN);
    }
    t->n_changes = 0;
    return GS_OK;
}

const gs_store_ops_t rec_store_ops = {
    .apply = store_apply,
    .restored = store_restored,
    .drop = store_drop,
    .changes = store_changes,
};
