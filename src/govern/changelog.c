/* The governor's changelog records (SPEC 3.6; layout in govstream/govern.h):
 * per changed scope one header record and one record per PELM slot
 * written, so that no value is larger than a header (a few KB) and a
 * compacted changelog holds exactly the live bank.
 *
 *   header  u8 version u8 has_synapse u16 0 u32 dim
 *           i32 threshold_x20 f64 ema u32 wake u32 sleep u32 pos u64 steps
 *           u64 accepted u64 rejected u64 at_bound
 *           [has_synapse: 3 x dim f32]  u32 n  n x (f32 conf, id, dim f32)
 *           u32 capacity u32 size u32 head
 *   slot    u8 version u8 0 u16 0 u32 dim f32 phase f32 conf f32 norm
 *           id, dim f32 (the stored unit vector)
 *   id      u8 len, len bytes: the memory id (version 2; version 1 records,
 *           read too, have none: the ids restore empty) */
#include <stdlib.h>
#include <string.h>

#include "scope.h"
#include "wire.h"

#define DIM          GS_EMBED_DIM
#define HEADER_FIXED (8 + 4 + 8 + 4 * 3 + 8 * 4 + 4 + 4 * 3)
#define SLOT_BYTES   (8 + 4 * 3 + 1 + GS_MEMORY_ID_MAX + DIM * 4) /* at most */
#define BUF_ENTRY    ((1 + DIM) * 4 + 1 + GS_MEMORY_ID_MAX)       /* at most */
#define KEY_MAX      (1 + 4 + SCOPE_KEY_MAX)

static size_t header_bytes(const scope_t *s)
{
    return HEADER_FIXED + (s->syn.l1 ? 3 * DIM * 4 : 0) + (size_t)s->buf_n * BUF_ENTRY;
}

static size_t put_key(uint8_t *k, char type, uint32_t slot, const char *scope, size_t len)
{
    writer_t w = {k, 0};
    put_u8(&w, (uint8_t)type);
    if (type == 'S')
        put_u32(&w, slot);
    put(&w, scope, len);
    return w.len;
}

static void emit_header(const scope_t *s, uint8_t *buf, gs_store_emit_fn *emit, void *opaque)
{
    size_t klen = put_key(buf, 'H', 0, s->key, s->key_len);
    writer_t w = {buf + klen, 0};
    put_u8(&w, GS_CHANGELOG_VERSION);
    put_u8(&w, s->syn.l1 != NULL);
    put_u16(&w, 0);
    put_u32(&w, (uint32_t)DIM);
    gs_scope_put_core(&w, s);
    put_u64(&w, s->at_bound);
    if (s->syn.l1)
        put_f32s(&w, s->syn.l1, 3 * DIM); /* l1, l2, l3 are one allocation */
    put_u32(&w, s->buf_n);
    for (uint32_t b = 0; b < s->buf_n; b++) {
        put_f32(&w, s->buf_meta[b].conf);
        put_id(&w, s->buf_meta[b].id, s->buf_meta[b].id_len);
        put_f32s(&w, s->buf + (size_t)b * DIM, DIM);
    }
    put_u32(&w, (uint32_t)gs_pelm_capacity(s->pelm));
    put_u32(&w, (uint32_t)gs_pelm_size(s->pelm));
    put_u32(&w, gs_pelm_head(s->pelm));
    emit(opaque, s->partition, buf, klen, buf + klen, w.len);
}

static void emit_slot(const scope_t *s, uint32_t slot, uint8_t *buf, gs_store_emit_fn *emit,
                      void *opaque)
{
    size_t klen = put_key(buf, 'S', slot, s->key, s->key_len);
    writer_t w = {buf + klen, 0};
    put_u8(&w, GS_CHANGELOG_VERSION);
    put_u8(&w, 0);
    put_u16(&w, 0);
    put_u32(&w, (uint32_t)DIM);
    put_f32(&w, gs_pelm_phase(s->pelm, slot));
    put_f32(&w, gs_pelm_confidence(s->pelm, slot));
    put_f32(&w, gs_pelm_norm(s->pelm, slot));
    gs_str_t id = gs_pelm_id(s->pelm, slot);
    put_id(&w, id.p, (uint8_t)id.len);
    put_f32s(&w, gs_pelm_vector(s->pelm, slot), DIM);
    emit(opaque, s->partition, buf, klen, buf + klen, w.len);
}

static void emit_tombstones(gs_govern_t *g, gs_store_emit_fn *emit, void *opaque)
{
    uint8_t key[KEY_MAX];
    for (size_t i = 0; i < g->n_tombs; i++) {
        const tombstone_t *t = &g->tombs[i];
        emit(opaque, t->partition, key, put_key(key, 'H', 0, t->key, t->key_len), NULL, 0);
        for (uint32_t slot = 0; slot < t->slots; slot++)
            emit(opaque, t->partition, key, put_key(key, 'S', slot, t->key, t->key_len), NULL, 0);
    }
    g->n_tombs = 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

gs_err_t gs_govern_changes(gs_govern_t *g, gs_store_emit_fn *emit, void *opaque, char *errstr,
                           size_t n)
{
    emit_tombstones(g, emit, opaque);
    for (size_t i = 0; i < g->n_cl_dirty; i++) {
        scope_t *s = g->cl_dirty[i];
        if (!s)
            continue; /* evicted since: its tombstones went first */
        size_t need = KEY_MAX + (header_bytes(s) > SLOT_BYTES ? header_bytes(s) : SLOT_BYTES);
        if (need > g->cl_buf_cap) {
            if (gs_grow(&g->cl_buf, need, 1))
                return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory for a changelog record");
            g->cl_buf_cap = need;
        }
        /* a slot written twice since the last call is logged once, as it is now */
        if (s->n_cl > 1) /* cl_slots is NULL for a scope that wrote no slot */
            qsort(s->cl_slots, s->n_cl, sizeof(*s->cl_slots), cmp_u32);
        for (size_t j = 0; j < s->n_cl; j++)
            if (!j || s->cl_slots[j] != s->cl_slots[j - 1])
                emit_slot(s, s->cl_slots[j], g->cl_buf, emit, opaque);
        emit_header(s, g->cl_buf, emit, opaque);
        s->n_cl = 0;
        s->cl_idx = 0;
    }
    g->n_cl_dirty = 0;
    return GS_OK;
}

/* ---- restore --------------------------------------------------------------- */

typedef struct header {
    int has_syn;
    scope_core_t core;
    uint64_t at_bound;
    const uint8_t *syn, *buf; /* in the record */
    size_t buf_len;
    int with_ids;
    uint32_t buf_n, capacity, size, head;
} header_t;

/* The version and dimension every value starts with; *version gets the
 * version (1 or 2). */
static gs_err_t check_prefix(reader_t *r, int *version_out, char *errstr, size_t n)
{
    uint8_t version = get_u8(r);
    get_u8(r);
    get_u16(r);
    uint32_t dim = get_u32(r);
    if (r->short_read)
        return gs_fail(errstr, n, GS_ERR_DECODE, "changelog value of %zu bytes", r->len);
    if (version != 1 && version != GS_CHANGELOG_VERSION)
        return gs_fail(errstr, n, GS_ERR_SCHEMA,
                       "changelog payload version %u, this build reads 1..%u", version,
                       GS_CHANGELOG_VERSION);
    *version_out = version;
    if (dim != DIM)
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "changelog vectors of %u dims, not %zu", dim, DIM);
    return GS_OK;
}

static gs_err_t check_header(const gs_govern_t *g, const header_t *h, char *errstr, size_t n)
{
    uint64_t cycle = (uint64_t)h->core.rhythm.wake_steps + h->core.rhythm.sleep_steps;
    if (h->capacity != g->conf.memory_capacity)
        return gs_fail(errstr, n, GS_ERR_SCHEMA,
                       "changelog memory capacity %u, configured governance.memory_capacity %zu",
                       h->capacity, g->conf.memory_capacity);
    if (!gs_scope_core_valid(&h->core) || h->buf_n > cycle || (h->buf_n && !h->has_syn) ||
        cycle > UINT32_MAX || gs_scope_extras_bytes((uint32_t)cycle) > g->conf.max_memory_bytes ||
        h->size > h->capacity || (h->size < h->capacity && h->head) ||
        (h->size && h->head >= h->size))
        return gs_fail(errstr, n, GS_ERR_DECODE, "changelog header out of range");
    return GS_OK;
}

/* One write-buffer entry of a header: conf, id (version 2), vector. */
static void get_entry(reader_t *r, int with_ids, float *vec, buf_meta_t *m)
{
    m->conf = get_f32(r);
    m->id_len = with_ids ? get_id(r, m->id, GS_MEMORY_ID_MAX) : 0;
    get_f32s(r, vec, DIM);
}

/* The write buffer's bytes in the record: n entries walked (ids make
 * them variable), bounded by the bytes left before anything is
 * multiplied out. NULL when they do not fit. */
static const uint8_t *take_buffer(reader_t *r, uint32_t n, int with_ids, size_t *len)
{
    size_t start = r->off;
    if (n > (r->len - r->off) / ((1 + DIM) * 4)) {
        r->short_read = 1;
        return NULL;
    }
    for (uint32_t b = 0; b < n && !r->short_read; b++) {
        take(r, 4);
        uint8_t id_len = with_ids ? get_u8(r) : 0;
        take(r, id_len + DIM * 4);
    }
    *len = r->off - start;
    return r->short_read ? NULL : r->p + start;
}

static gs_err_t decode_header(const gs_govern_t *g, const uint8_t *v, size_t len, header_t *h,
                              char *errstr, size_t n)
{
    reader_t r = {v, len, 0, 0};
    int version;
    gs_err_t err = check_prefix(&r, &version, errstr, n);
    if (err)
        return err;
    h->with_ids = version >= 2;
    h->has_syn = v[1] != 0;
    h->core = gs_scope_get_core(&r);
    h->at_bound = get_u64(&r);
    h->syn = h->has_syn ? take(&r, 3 * DIM * 4) : NULL;
    h->buf_n = get_u32(&r);
    h->buf = take_buffer(&r, h->buf_n, h->with_ids, &h->buf_len);
    h->capacity = get_u32(&r);
    h->size = get_u32(&r);
    h->head = get_u32(&r);
    if (r.short_read || r.off != r.len || (h->has_syn && !h->syn) || (h->buf_n && !h->buf))
        return gs_fail(errstr, n, GS_ERR_DECODE, "changelog header length does not match");
    return check_header(g, h, errstr, n);
}

/* The synaptic memory and write buffer of the header (allocated within the
 * budget if the scope has none yet, or none of this rhythm). */
static gs_err_t install_extras(gs_govern_t *g, scope_t *s, const header_t *h)
{
    if (s->syn.l1 &&
        (!h->has_syn || s->buf_cap != h->core.rhythm.wake_steps + h->core.rhythm.sleep_steps)) {
        g->dyn_bytes -= gs_scope_extras_bytes(s->buf_cap);
        s->bytes -= gs_scope_extras_bytes(s->buf_cap);
        gs_synaptic_free(&s->syn);
        free(s->buf), free(s->buf_meta);
        s->buf = NULL;
        s->buf_meta = NULL;
        s->buf_cap = s->buf_n = 0;
    }
    if (!h->has_syn)
        return GS_OK;
    if (gs_scope_ensure_memory(g, s))
        return GS_ERR_NOMEM;
    reader_t r = {h->syn, 3 * DIM * 4, 0, 0};
    get_f32s(&r, s->syn.l1, 3 * DIM);
    r = (reader_t){h->buf, h->buf_len, 0, 0};
    for (uint32_t b = 0; b < h->buf_n; b++)
        get_entry(&r, h->with_ids, s->buf + (size_t)b * DIM, &s->buf_meta[b]);
    s->buf_n = h->buf_n;
    return GS_OK;
}

/* Applies a change of the bank's footprint, evicting others if it must. */
static gs_err_t account(gs_govern_t *g, scope_t *s, size_t before)
{
    gs_scope_account_pelm(g, s, before);
    return gs_scope_budget(g, s, 0) ? GS_ERR_NOMEM : GS_OK;
}

static gs_err_t apply_header(gs_govern_t *g, int32_t partition, uint64_t seq, gs_str_t scope,
                             const uint8_t *v, size_t len, char *errstr, size_t n)
{
    scope_t *s = gs_scope_find(g, partition, scope);
    if (!v) { /* tombstone: the scope was evicted */
        if (s)
            gs_scope_drop(g, s);
        return GS_OK;
    }
    header_t h;
    gs_err_t err = decode_header(g, v, len, &h, errstr, n);
    if (err)
        return err;
    if (s && seq < s->hdr_seq)
        return GS_OK; /* a retried older value that arrived late */
    if (!s && !(s = gs_scope_get(g, partition, scope)))
        return gs_fail(errstr, n, GS_ERR_NOMEM, "no room for the scope in the scope table");
    gs_scope_set_core(s, &h.core);
    s->at_bound = h.at_bound;
    size_t before = gs_pelm_bytes(s->pelm);
    err = install_extras(g, s, &h);
    if (!err)
        err = gs_pelm_set_ring(s->pelm, h.size, h.head);
    if (!err)
        err = account(g, s, before);
    if (err) {
        gs_scope_drop(g, s);
        return gs_fail(errstr, n, GS_ERR_NOMEM,
                       "the scope does not fit governance.max_memory_mb; dropped");
    }
    s->hdr_seq = seq;
    s->hdr_seen = 1;
    return GS_OK;
}

static gs_err_t apply_slot(gs_govern_t *g, int32_t partition, uint32_t slot, gs_str_t scope,
                           const uint8_t *v, size_t len, char *errstr, size_t n)
{
    if (!v)
        return GS_OK; /* the slot of an evicted scope: its header went first */
    reader_t r = {v, len, 0, 0};
    int version;
    gs_err_t err = check_prefix(&r, &version, errstr, n);
    if (err)
        return err;
    float phase = get_f32(&r), conf = get_f32(&r), norm = get_f32(&r), unit[DIM];
    char id[GS_MEMORY_ID_MAX];
    uint8_t id_len = version >= 2 ? get_id(&r, id, sizeof(id)) : 0;
    get_f32s(&r, unit, DIM);
    if (r.short_read || r.off != len || slot >= g->conf.memory_capacity)
        return gs_fail(errstr, n, GS_ERR_DECODE, "changelog slot %u of %zu bytes", slot, len);
    scope_t *s = gs_scope_find(g, partition, scope);
    int created = !s;
    if (!s && !(s = gs_scope_get(g, partition, scope)))
        return gs_fail(errstr, n, GS_ERR_NOMEM, "no room for the scope in the scope table");
    size_t before = gs_pelm_bytes(s->pelm);
    err = gs_pelm_put(s->pelm, slot, unit, phase, conf, norm);
    if (!err)
        gs_pelm_set_id(s->pelm, slot, (gs_str_t){id, id_len});
    if (err != GS_ERR_VALIDATION && account(g, s, before))
        err = GS_ERR_NOMEM;
    if (err && (created || err == GS_ERR_NOMEM))
        gs_scope_drop(g, s);
    if (err == GS_ERR_VALIDATION)
        return gs_fail(errstr, n, GS_ERR_DECODE, "changelog slot %u values out of range", slot);
    if (err)
        return gs_fail(errstr, n, GS_ERR_NOMEM,
                       "the scope does not fit governance.max_memory_mb; dropped");
    return GS_OK;
}

gs_err_t gs_govern_apply(gs_govern_t *g, int32_t partition, uint64_t seq, const void *key,
                         size_t key_len, const void *value, size_t value_len, char *errstr,
                         size_t n)
{
    const uint8_t *k = key;
    size_t at = key_len && k[0] == 'S' ? 5 : 1;
    if (key_len <= at || key_len - at > SCOPE_KEY_MAX || (k[0] != 'H' && k[0] != 'S'))
        return gs_fail(errstr, n, GS_ERR_DECODE, "not a governance changelog key");
    gs_str_t scope = {(const char *)k + at, key_len - at};
    if (k[0] == 'H')
        return apply_header(g, partition, seq, scope, value, value_len, errstr, n);
    reader_t r = {k + 1, 4, 0, 0};
    return apply_slot(g, partition, get_u32(&r), scope, value, value_len, errstr, n);
}

size_t gs_govern_restored(gs_govern_t *g, int32_t partition)
{
    size_t kept = 0;
    for (size_t i = 0; i < g->conf.max_scopes; i++) {
        scope_t *s = &g->pool[i];
        if (!s->used || s->partition != partition)
            continue;
        if (!s->hdr_seen) {
            gs_scope_drop(g, s); /* slots whose header was deleted */
            continue;
        }
        s->hdr_seen = 0;
        kept++;
    }
    return kept;
}

void gs_govern_drop(gs_govern_t *g, int32_t partition)
{
    for (size_t i = 0; i < g->conf.max_scopes; i++)
        if (g->pool[i].used && g->pool[i].partition == partition)
            gs_scope_drop(g, &g->pool[i]);
}

static gs_err_t store_apply(void *self, int32_t partition, uint64_t seq, const void *key,
                            size_t key_len, const void *value, size_t value_len, char *errstr,
                            size_t n)
{
    return gs_govern_apply(self, partition, seq, key, key_len, value, value_len, errstr, n);
}
static size_t store_restored(void *self, int32_t partition)
{
    return gs_govern_restored(self, partition);
}
static void store_drop(void *self, int32_t partition)
{
    gs_govern_drop(self, partition);
}
static gs_err_t store_changes(void *self, gs_store_emit_fn *emit, void *opaque, char *errstr,
                              size_t n)
{
    return gs_govern_changes(self, emit, opaque, errstr, n);
}

const gs_store_ops_t gs_govern_store_ops = {
    .apply = store_apply,
    .restored = store_restored,
    .drop = store_drop,
    .changes = store_changes,
};
