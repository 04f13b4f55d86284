/* Per-tenant token buckets (SPEC 1.2), kept per input partition like every
 * state (SPEC 3.6) and logged through the state store interface. The clock
 * is the request's record timestamp, not the wall clock, so a replay or a
 * restore takes the same decisions; a timestamp that goes back adds no
 * tokens. A full bucket is the same as no bucket, so full ones are what is
 * evicted when the table is full (with a tombstone). Tombstones are logged
 * before the buckets changed in the same interval, so a bucket evicted and
 * made again ends up live in the changelog. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/govern.h"

#define KEY_MAX   128
#define VALUE_LEN 17 /* version, tokens (f64), time (i64), little-endian */
#define VERSION   1

typedef struct bucket {
    int32_t partition;
    uint8_t key_len, used, dirty;
    uint32_t dpos; /* dirty: its place in the dirty list */
    char key[KEY_MAX];
    double tokens;
    int64_t t_ms;
} bucket_t;

typedef struct tomb {
    int32_t partition;
    uint8_t key_len;
    char key[KEY_MAX];
} tomb_t;

struct gs_ratelimit {
    gs_ratelimit_conf_t conf;
    bucket_t *slots; /* open addressing, linear probing; cap a power of two */
    size_t cap, count;
    size_t *dirty; /* slots to log */
    size_t n_dirty;
    tomb_t *tombs; /* evicted buckets to log as deleted */
    size_t n_tombs, cap_tombs;
    uint64_t refused;
};

static uint64_t hash_of(int32_t partition, const char *key, size_t len)
{
    uint64_t h = 14695981039346656037ull ^ (uint32_t)partition;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
    return h;
}

gs_err_t gs_ratelimit_new(const gs_ratelimit_conf_t *conf, gs_ratelimit_t **out, char *errstr,
                          size_t n)
{
    if (!(conf->rate > 0) || !(conf->burst >= 1) || conf->max_buckets < 1)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG,
                       "rate limit: rate must be > 0, burst >= 1, max_buckets >= 1");
    gs_ratelimit_t *rl = calloc(1, sizeof(*rl));
    size_t cap = 16;
    while (cap < 2 * conf->max_buckets)
        cap *= 2;
    if (rl) {
        rl->conf = *conf;
        rl->cap = cap;
        rl->slots = calloc(cap, sizeof(*rl->slots));
        rl->dirty = calloc(cap, sizeof(*rl->dirty));
    }
    if (!rl || !rl->slots || !rl->dirty) {
        gs_ratelimit_destroy(rl);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    *out = rl;
    return GS_OK;
}

void gs_ratelimit_destroy(gs_ratelimit_t *rl)
{
    if (!rl)
        return;
    free(rl->slots);
    free(rl->dirty);
    free(rl->tombs);
    free(rl);
}

/* The slot of (partition, key), or the empty one where it would go. */
static bucket_t *find(gs_ratelimit_t *rl, int32_t partition, const char *key, size_t len)
{
    size_t i = hash_of(partition, key, len) & (rl->cap - 1);
    for (;; i = (i + 1) & (rl->cap - 1)) {
        bucket_t *b = &rl->slots[i];
        if (!b->used ||
            (b->partition == partition && b->key_len == len && !memcmp(b->key, key, len)))
            return b;
    }
}

static void mark(gs_ratelimit_t *rl, bucket_t *b)
{
    if (!b->dirty) {
        b->dirty = 1;
        b->dpos = (uint32_t)rl->n_dirty;
        rl->dirty[rl->n_dirty++] = (size_t)(b - rl->slots);
    }
}

static double refilled(const gs_ratelimit_t *rl, const bucket_t *b, int64_t now_ms)
{
    double t = now_ms > b->t_ms ? b->tokens + (double)(now_ms - b->t_ms) * rl->conf.rate / 1000.0
                                : b->tokens;
    return t < rl->conf.burst ? t : rl->conf.burst;
}

static int add_tomb(gs_ratelimit_t *rl, const bucket_t *b)
{
    if (rl->n_tombs == rl->cap_tombs) {
        size_t cap = rl->cap_tombs ? 2 * rl->cap_tombs : 64;
        tomb_t *t = realloc(rl->tombs, cap * sizeof(*t));
        if (!t)
            return -1;
        rl->tombs = t;
        rl->cap_tombs = cap;
    }
    tomb_t *t = &rl->tombs[rl->n_tombs++];
    t->partition = b->partition;
    t->key_len = b->key_len;
    memcpy(t->key, b->key, b->key_len);
    return 0;
}

/* What a rebuild leaves out. */
typedef enum { KEEP_ALL, DROP_FULL, DROP_PARTITION } rebuild_t;

/* Rebuilds the table without the buckets `how` leaves out: the full ones
 * at now_ms (evicted, with a tombstone each, as a full bucket is the same
 * as none) or those of one partition (dropped, not logged). Deleting in
 * place would move dirty slots; this is rare and O(capacity). */
static void rebuild(gs_ratelimit_t *rl, rebuild_t how, int64_t now_ms, int32_t partition)
{
    bucket_t *old = rl->slots;
    bucket_t *fresh = calloc(rl->cap, sizeof(*fresh));
    if (!fresh)
        return;
    rl->slots = fresh;
    rl->count = rl->n_dirty = 0;
    for (size_t i = 0; i < rl->cap; i++) {
        const bucket_t *o = &old[i];
        if (!o->used || (how == DROP_PARTITION && o->partition == partition))
            continue;
        if (how == DROP_FULL && refilled(rl, o, now_ms) >= rl->conf.burst && !add_tomb(rl, o))
            continue;
        bucket_t *b = find(rl, o->partition, o->key, o->key_len);
        *b = *o;
        b->dirty = 0;
        if (o->dirty)
            mark(rl, b);
        rl->count++;
    }
    free(old);
}

int gs_ratelimit_take(gs_ratelimit_t *rl, int32_t partition, gs_str_t tenant, int64_t now_ms)
{
    size_t len = tenant.len < KEY_MAX ? tenant.len : KEY_MAX;
    bucket_t *b = find(rl, partition, tenant.p, len);
    if (!b->used) {
        if (rl->count >= rl->conf.max_buckets) {
            rebuild(rl, DROP_FULL, now_ms, 0);
            b = find(rl, partition, tenant.p, len);
        }
        if (rl->count >= rl->conf.max_buckets)
            return 1; /* no bucket is full and every one is in use: let it through */
        *b = (bucket_t){.partition = partition,
                        .key_len = (uint8_t)len,
                        .used = 1,
                        .tokens = rl->conf.burst,
                        .t_ms = now_ms};
        memcpy(b->key, tenant.p, len);
        rl->count++;
    }
    b->tokens = refilled(rl, b, now_ms);
    if (now_ms > b->t_ms)
        b->t_ms = now_ms;
    mark(rl, b);
    if (b->tokens < 1) {
        rl->refused++;
        return 0;
    }
    b->tokens -= 1;
    return 1;
}

uint64_t gs_ratelimit_refused(const gs_ratelimit_t *rl)
{
    return rl->refused;
}

/* ---- the state store ---------------------------------------------------- */

static void put_le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Deletes the bucket in slot i (a tombstone restored, not logged again):
 * backward-shift deletion, so probe chains stay whole without markers. */
static void remove_at(gs_ratelimit_t *rl, size_t i)
{
    size_t mask = rl->cap - 1;
    if (rl->slots[i].dirty) { /* out of the dirty list: the last one takes its place */
        size_t last = rl->dirty[--rl->n_dirty];
        rl->dirty[rl->slots[i].dpos] = last;
        rl->slots[last].dpos = rl->slots[i].dpos;
    }
    for (size_t j = (i + 1) & mask; rl->slots[j].used; j = (j + 1) & mask) {
        const bucket_t *b = &rl->slots[j];
        size_t home = hash_of(b->partition, b->key, b->key_len) & mask;
        /* j may move to i when its home is not in (i, j] (cyclically) */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            rl->slots[i] = *b;
            if (b->dirty)
                rl->dirty[b->dpos] = i;
            i = j;
        }
    }
    rl->slots[i].used = 0;
    rl->count--;
}

static gs_err_t store_apply(void *self, int32_t partition, uint64_t seq, const void *key,
                            size_t key_len, const void *value, size_t value_len, char *errstr,
                            size_t n)
{
    (void)seq;
    gs_ratelimit_t *rl = self;
    const uint8_t *v = value;
    if (key_len < 1 || key_len > KEY_MAX)
        return gs_fail(errstr, n, GS_ERR_DECODE, "rate limit: key of %zu bytes", key_len);
    bucket_t *b = find(rl, partition, key, key_len);
    if (!value) { /* tombstone */
        if (b->used)
            remove_at(rl, (size_t)(b - rl->slots));
        return GS_OK;
    }
    if (value_len != VALUE_LEN || v[0] != VERSION)
        return gs_fail(errstr, n, GS_ERR_DECODE, "rate limit: value of %zu bytes, version %d",
                       value_len, value_len ? v[0] : -1);
    if (!b->used && rl->count >= rl->conf.max_buckets)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "rate limit: more buckets than max_buckets");
    uint64_t bits = get_le(v + 1);
    double tokens;
    memcpy(&tokens, &bits, sizeof(tokens));
    if (!(tokens >= 0)) /* NaN or negative */
        tokens = 0;
    rl->count += !b->used;
    *b = (bucket_t){.partition = partition,
                    .key_len = (uint8_t)key_len,
                    .used = 1,
                    .dirty = b->dirty,
                    .dpos = b->dpos,
                    .tokens = tokens < rl->conf.burst ? tokens : rl->conf.burst,
                    .t_ms = (int64_t)get_le(v + 9)};
    memcpy(b->key, key, key_len);
    return GS_OK;
}

static size_t store_restored(void *self, int32_t partition)
{
    gs_ratelimit_t *rl = self;
    size_t k = 0;
    for (size_t i = 0; i < rl->cap; i++)
        k += rl->slots[i].used && rl->slots[i].partition == partition;
    return k;
}

/* The partition's buckets leave, unlogged: the new owner restores them. */
static void store_drop(void *self, int32_t partition)
{
    gs_ratelimit_t *rl = self;
    rebuild(rl, DROP_PARTITION, 0, partition);
    size_t k = 0;
    for (size_t i = 0; i < rl->n_tombs; i++)
        if (rl->tombs[i].partition != partition)
            rl->tombs[k++] = rl->tombs[i];
    rl->n_tombs = k;
}

static gs_err_t store_changes(void *self, gs_store_emit_fn *emit, void *opaque, char *errstr,
                              size_t n)
{
    (void)errstr, (void)n;
    gs_ratelimit_t *rl = self;
    for (size_t i = 0; i < rl->n_tombs; i++)
        emit(opaque, rl->tombs[i].partition, rl->tombs[i].key, rl->tombs[i].key_len, NULL, 0);
    rl->n_tombs = 0;
    for (size_t i = 0; i < rl->n_dirty; i++) {
        bucket_t *b = &rl->slots[rl->dirty[i]];
        b->dirty = 0;
        uint8_t v[VALUE_LEN] = {VERSION};
        uint64_t bits;
        memcpy(&bits, &b->tokens, sizeof(bits));
        put_le(v + 1, bits);
        put_le(v + 9, (uint64_t)b->t_ms);
        emit(opaque, b->partition, b->key, b->key_len, v, sizeof(v));
    }
    rl->n_dirty = 0;
    return GS_OK;
}

const gs_store_ops_t gs_ratelimit_store_ops = {
    .apply = store_apply,
    .restored = store_restored,
    .drop = store_drop,
    .changes = store_changes,
};
