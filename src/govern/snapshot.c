/* Scope snapshots (SPEC 3.6): one scope's whole state as a versioned,
 * little-endian record ending in a CRC32C of all the bytes before it
 * (version 2; version 1, read too, has no ids: they restore empty).
 *
 *   "GSSN" u16 version u16 0  u32 dim  u32 key_len key
 *   moral   i32 threshold_x20  f64 ema
 *   rhythm  u32 wake u32 sleep u32 pos u64 steps
 *   counts  u64 accepted u64 rejected
 *   synapse u8 present [3 x dim f32: L1 L2 L3]
 *   buffer  u32 cap u32 n  n x (f32 conf, id, dim f32)
 *   pelm    u32 capacity u32 size u32 head  size x (f32 phase, f32 conf,
 *           f32 norm, id, dim f32)
 *   id      u8 len, len bytes: the memory id (the request_id that wrote it)
 *   u32 crc32c
 * Floats are stored as their IEEE-754 bits, so a round trip is exact. */
#include <stdlib.h>
#include <string.h>

#include "scope.h"
#include "wire.h"

static const char magic[4] = {'G', 'S', 'S', 'N'};

void gs_scope_put_core(writer_t *w, const scope_t *s)
{
    put_u32(w, (uint32_t)s->moral.t20);
    put_f64(w, s->moral.ema);
    put_u32(w, s->rhythm.wake_steps);
    put_u32(w, s->rhythm.sleep_steps);
    put_u32(w, s->rhythm.pos);
    put_u64(w, s->rhythm.steps);
    put_u64(w, s->accepted);
    put_u64(w, s->rejected);
}

scope_core_t gs_scope_get_core(reader_t *r)
{
    scope_core_t c;
    c.moral.t20 = (int32_t)get_u32(r);
    c.moral.ema = get_f64(r);
    c.rhythm.wake_steps = get_u32(r);
    c.rhythm.sleep_steps = get_u32(r);
    c.rhythm.pos = get_u32(r);
    c.rhythm.steps = get_u64(r);
    c.accepted = get_u64(r);
    c.rejected = get_u64(r);
    return c;
}

static uint64_t cycle(const scope_core_t *c)
{
    return (uint64_t)c->rhythm.wake_steps + c->rhythm.sleep_steps;
}

int gs_scope_core_valid(const scope_core_t *c)
{
    return c->moral.t20 >= GS_MORAL_T20_MIN && c->moral.t20 <= GS_MORAL_T20_MAX &&
           c->moral.ema >= 0 && c->moral.ema <= 1 && c->rhythm.wake_steps &&
           c->rhythm.sleep_steps && c->rhythm.pos < cycle(c);
}

void gs_scope_set_core(scope_t *s, const scope_core_t *c)
{
    s->moral = c->moral;
    s->rhythm = c->rhythm;
    s->accepted = c->accepted;
    s->rejected = c->rejected;
}

gs_err_t gs_govern_snapshot(const gs_govern_t *g, int32_t partition, gs_str_t key, uint8_t **out,
                            size_t *out_len, char *errstr, size_t n)
{
    /* found without touching the LRU order */
    const scope_t *s = key.len <= SCOPE_KEY_MAX ? gs_scope_find(g, partition, key) : NULL;
    if (!s)
        return gs_fail(errstr, n, GS_ERR_NOT_FOUND, "no scope \"%.*s\" in partition %d",
                       (int)(key.len < SCOPE_KEY_MAX ? key.len : SCOPE_KEY_MAX), key.p, partition);
    const size_t dim = GS_EMBED_DIM, size = gs_pelm_size(s->pelm);
    size_t total = 4 + 2 + 2 + 4 + 4 + s->key_len + 4 + 8 + 4 + 4 + 4 + 8 + 8 + 8 + 1 +
                   (s->syn.l1 ? 3 * dim * 4 : 0) + 4 + 4 +
                   s->buf_n * ((1 + dim) * 4 + 1 + GS_MEMORY_ID_MAX) + 4 + 4 + 4 +
                   size * ((3 + dim) * 4 + 1 + GS_MEMORY_ID_MAX) + 4;
    writer_t w = {malloc(total), 0};
    if (!w.p)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory for a %zu-byte snapshot", total);
    put(&w, magic, 4);
    put_u16(&w, GS_SNAPSHOT_VERSION);
    put_u16(&w, 0);
    put_u32(&w, (uint32_t)dim);
    put_u32(&w, s->key_len);
    put(&w, s->key, s->key_len);
    gs_scope_put_core(&w, s);
    put_u8(&w, s->syn.l1 != NULL);
    if (s->syn.l1)
        put_f32s(&w, s->syn.l1, 3 * dim); /* l1, l2, l3 are one allocation */
    put_u32(&w, s->buf_cap);
    put_u32(&w, s->buf_n);
    for (uint32_t b = 0; b < s->buf_n; b++) {
        put_f32(&w, s->buf_meta[b].conf);
        put_id(&w, s->buf_meta[b].id, s->buf_meta[b].id_len);
        put_f32s(&w, s->buf + (size_t)b * dim, dim);
    }
    put_u32(&w, (uint32_t)gs_pelm_capacity(s->pelm));
    put_u32(&w, (uint32_t)size);
    put_u32(&w, gs_pelm_head(s->pelm));
    for (uint32_t slot = 0; slot < size; slot++) {
        put_f32(&w, gs_pelm_phase(s->pelm, slot));
        put_f32(&w, gs_pelm_confidence(s->pelm, slot));
        put_f32(&w, gs_pelm_norm(s->pelm, slot));
        gs_str_t id = gs_pelm_id(s->pelm, slot);
        put_id(&w, id.p, (uint8_t)id.len);
        put_f32s(&w, gs_pelm_vector(s->pelm, slot), dim);
    }
    put_u32(&w, gs_crc32c(0, w.p, w.len));
    *out = w.p;
    *out_len = w.len;
    return GS_OK;
}

/* ---- restore ------------------------------------------------------------ */

/* Everything the snapshot holds, decoded before the live scope is touched,
 * so that a bad snapshot leaves the scope as it was. */
typedef struct decoded {
    gs_str_t key;
    scope_core_t core;
    float *syn; /* 3 x dim, or NULL */
    uint32_t buf_cap, buf_n;
    float *buf;
    buf_meta_t *buf_meta;
    uint32_t capacity, size, head;
    float *vec, *phase, *conf, *norm;
    buf_meta_t *ids; /* size: the slots' ids (conf unused) */
} decoded_t;

static void decoded_free(decoded_t *d)
{
    free(d->syn);
    free(d->buf);
    free(d->buf_meta);
    free(d->ids);
    free(d->vec);
    free(d->phase);
    free(d->conf);
    free(d->norm);
}

static gs_err_t decode(const gs_govern_t *g, const uint8_t *data, size_t len, decoded_t *d,
                       char *errstr, size_t n)
{
    const size_t dim = GS_EMBED_DIM;
    if (len < 12 || memcmp(data, magic, 4) != 0)
        return gs_fail(errstr, n, GS_ERR_DECODE, "not a govstream scope snapshot");
    uint32_t crc = (uint32_t)data[len - 4] | (uint32_t)data[len - 3] << 8 |
                   (uint32_t)data[len - 2] << 16 | (uint32_t)data[len - 1] << 24;
    if (gs_crc32c(0, data, len - 4) != crc)
        return gs_fail(errstr, n, GS_ERR_DECODE, "snapshot CRC32C mismatch (corrupted)");
    reader_t r = {data, len - 4, 4, 0};
    uint16_t version = get_u16(&r);
    get_u16(&r);
    if (version != 1 && version != GS_SNAPSHOT_VERSION)
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "snapshot version %u, this build reads 1..%u",
                       version, GS_SNAPSHOT_VERSION);
    int with_ids = version >= 2;
    uint32_t sdim = get_u32(&r);
    if (sdim != dim)
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "snapshot vectors have %u dims, not %zu", sdim,
                       dim);
    uint32_t key_len = get_u32(&r);
    const uint8_t *key = key_len && key_len <= SCOPE_KEY_MAX ? take(&r, key_len) : NULL;
    if (!key)
        return gs_fail(errstr, n, GS_ERR_DECODE, "snapshot scope key of %u bytes", key_len);
    d->key = (gs_str_t){(const char *)key, key_len};
    d->core = gs_scope_get_core(&r);
    const uint8_t *has_syn = take(&r, 1);
    if (has_syn && *has_syn) {
        if (!(d->syn = malloc(3 * dim * sizeof(float))))
            return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
        get_f32s(&r, d->syn, 3 * dim);
    }
    d->buf_cap = get_u32(&r);
    d->buf_n = get_u32(&r);
    /* every length is bounded before anything is allocated: the buffer by
     * what this configuration gives a scope, its entries by the bytes left */
    uint64_t conf_cap = (uint64_t)g->conf.wake_steps + g->conf.sleep_steps;
    if (d->buf_cap > conf_cap || gs_scope_extras_bytes(d->buf_cap) > g->conf.max_memory_bytes)
        return gs_fail(errstr, n, GS_ERR_SCHEMA,
                       "snapshot write buffer of %u entries, this configuration has %llu",
                       d->buf_cap, (unsigned long long)conf_cap);
    if (d->buf_n > d->buf_cap || (uint64_t)d->buf_cap > cycle(&d->core) ||
        (size_t)d->buf_n * (dim + 1) * 4 > r.len - r.off)
        return gs_fail(errstr, n, GS_ERR_DECODE, "snapshot buffer of %u/%u entries", d->buf_n,
                       d->buf_cap);
    if (d->buf_cap) {
        d->buf = malloc((size_t)d->buf_cap * dim * sizeof(float));
        d->buf_meta = calloc(d->buf_cap, sizeof(*d->buf_meta));
        if (!d->buf || !d->buf_meta)
            return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    for (uint32_t b = 0; b < d->buf_n; b++) {
        d->buf_meta[b].conf = get_f32(&r);
        if (with_ids)
            d->buf_meta[b].id_len = get_id(&r, d->buf_meta[b].id, GS_MEMORY_ID_MAX);
        get_f32s(&r, d->buf + (size_t)b * dim, dim);
    }
    d->capacity = get_u32(&r);
    d->size = get_u32(&r);
    d->head = get_u32(&r);
    if (d->capacity != g->conf.memory_capacity)
        return gs_fail(errstr, n, GS_ERR_SCHEMA,
                       "snapshot memory capacity %u, configured governance.memory_capacity %zu",
                       d->capacity, g->conf.memory_capacity);
    if (d->size > d->capacity || (size_t)d->size * (dim + 3) * 4 > r.len - r.off)
        return gs_fail(errstr, n, GS_ERR_DECODE, "snapshot memory of %u vectors", d->size);
    d->vec = malloc(((size_t)d->size * dim + 1) * sizeof(float));
    d->phase = malloc(((size_t)d->size + 1) * sizeof(float));
    d->conf = malloc(((size_t)d->size + 1) * sizeof(float));
    d->norm = malloc(((size_t)d->size + 1) * sizeof(float));
    d->ids = calloc((size_t)d->size + 1, sizeof(*d->ids));
    if (!d->vec || !d->phase || !d->conf || !d->norm || !d->ids)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    for (uint32_t s = 0; s < d->size; s++) {
        d->phase[s] = get_f32(&r);
        d->conf[s] = get_f32(&r);
        d->norm[s] = get_f32(&r);
        if (with_ids)
            d->ids[s].id_len = get_id(&r, d->ids[s].id, GS_MEMORY_ID_MAX);
        get_f32s(&r, d->vec + (size_t)s * dim, dim);
    }
    if (r.short_read || r.off != r.len)
        return gs_fail(errstr, n, GS_ERR_DECODE, "snapshot length does not match its content");
    if (!gs_scope_core_valid(&d->core))
        return gs_fail(errstr, n, GS_ERR_DECODE, "snapshot governance state out of range");
    return GS_OK;
}

/* Builds the scope's new memory completely before touching the live scope,
 * so that a failed restore leaves an existing scope exactly as it was. */
gs_err_t gs_govern_restore(gs_govern_t *g, int32_t partition, const void *data, size_t len,
                           char *errstr, size_t n)
{
    decoded_t d = {0};
    gs_pelm_t *pelm = NULL;
    gs_synaptic_t syn = {0};
    float *buf = NULL;
    buf_meta_t *buf_meta = NULL;
    uint32_t buf_cap = 0;
    gs_err_t err = decode(g, data, len, &d, errstr, n);
    if (!err && gs_pelm_new(GS_EMBED_DIM, g->conf.memory_capacity, &pelm, errstr, n))
        err = GS_ERR_NOMEM;
    if (!err) {
        gs_pelm_set_index(pelm, g->conf.memory_index_min);
        err = gs_pelm_restore(pelm, d.size, d.head, d.vec, d.phase, d.conf, d.norm, errstr, n);
        for (uint32_t slot = 0; !err && slot < d.size; slot++)
            gs_pelm_set_id(pelm, slot, (gs_str_t){d.ids[slot].id, d.ids[slot].id_len});
    }
    if (!err && (d.syn || d.buf_n)) {
        buf_cap = (uint32_t)cycle(&d.core); /* the scope keeps the snapshot's rhythm */
        buf = malloc((size_t)buf_cap * GS_EMBED_DIM * sizeof(float));
        buf_meta = malloc(buf_cap * sizeof(*buf_meta));
        if (!buf || !buf_meta || gs_synaptic_init(&syn, GS_EMBED_DIM))
            err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
        if (!err && d.syn)
            memcpy(syn.l1, d.syn, 3 * GS_EMBED_DIM * sizeof(float));
        if (!err && d.buf_n) {
            memcpy(buf, d.buf, (size_t)d.buf_n * GS_EMBED_DIM * sizeof(float));
            memcpy(buf_meta, d.buf_meta, d.buf_n * sizeof(*buf_meta));
        }
    }
    scope_t *s = NULL;
    uint64_t created = g->created;
    if (!err && !(s = gs_scope_get(g, partition, d.key))) {
        err = GS_ERR_NOMEM;
        gs_errfmt(errstr, n, "no room for the scope in the scope table");
    }
    if (!err && s) {
        size_t need = gs_pelm_bytes(pelm) + (syn.l1 ? gs_scope_extras_bytes(buf_cap) : 0);
        if (need > s->bytes && gs_scope_budget(g, s, need - s->bytes))
            err = gs_fail(errstr, n, GS_ERR_NOMEM,
                          "%zu bytes for the scope do not fit governance.max_memory_mb", need);
        if (err && g->created != created)
            gs_scope_evict(g, s); /* created for this restore only */
    }
    if (!err) {
        gs_scope_install(g, s, pelm, syn, buf, buf_meta, buf_cap);
        pelm = NULL;
        syn = (gs_synaptic_t){0};
        buf = NULL;
        buf_meta = NULL;
        s->buf_n = d.buf_n;
        gs_scope_set_core(s, &d.core);
    }
    gs_pelm_destroy(pelm);
    gs_synaptic_free(&syn);
    free(buf);
    free(buf_meta);
    decoded_free(&d);
    return err;
}
