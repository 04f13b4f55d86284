/* Little-endian writer and bounded reader of the governor's records
 * (snapshots, changelog values); private to src/govern. Floats travel as
 * their IEEE-754 bits, so a round trip is exact. */
#ifndef GS_GOVERN_WIRE_H
#define GS_GOVERN_WIRE_H

#include <stdint.h>
#include <string.h>

typedef struct writer {
    uint8_t *p; /* sized by the caller for everything written */
    size_t len;
} writer_t;

static inline void put(writer_t *w, const void *v, size_t n)
{
    memcpy(w->p + w->len, v, n);
    w->len += n;
}
/* x86-64 and aarch64 Linux are little-endian; the formats are too. */
static inline void put_u8(writer_t *w, uint8_t v)
{
    put(w, &v, 1);
}
static inline void put_u16(writer_t *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(w, b, 2);
}
static inline void put_u32(writer_t *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(w, b, 4);
}
static inline void put_u64(writer_t *w, uint64_t v)
{
    put_u32(w, (uint32_t)v);
    put_u32(w, (uint32_t)(v >> 32));
}
static inline void put_f32(writer_t *w, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(w, u);
}
static inline void put_f64(writer_t *w, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    put_u64(w, u);
}
static inline void put_f32s(writer_t *w, const float *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_f32(w, f[i]);
}

/* A memory id: u8 length, the bytes. */
static inline void put_id(writer_t *w, const char *id, uint8_t len)
{
    put_u8(w, len);
    put(w, id, len);
}

typedef struct reader {
    const uint8_t *p;
    size_t len, off;
    int short_read; /* a read past len: every later read yields 0 */
} reader_t;

static inline const uint8_t *take(reader_t *r, size_t n)
{
    if (r->short_read || n > r->len - r->off) {
        r->short_read = 1;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}
static inline uint8_t get_u8(reader_t *r)
{
    const uint8_t *b = take(r, 1);
    return b ? *b : 0;
}
static inline uint16_t get_u16(reader_t *r)
{
    const uint8_t *b = take(r, 2);
    return b ? (uint16_t)(b[0] | b[1] << 8) : 0;
}
static inline uint32_t get_u32(reader_t *r)
{
    const uint8_t *b = take(r, 4);
    return b ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24
             : 0;
}
static inline uint64_t get_u64(reader_t *r)
{
    uint64_t lo = get_u32(r);
    return lo | (uint64_t)get_u32(r) << 32;
}
static inline float get_f32(reader_t *r)
{
    uint32_t u = get_u32(r);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline double get_f64(reader_t *r)
{
    uint64_t u = get_u64(r);
    double d;
    memcpy(&d, &u, 8);
    return d;
}
static inline void get_f32s(reader_t *r, float *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        f[i] = get_f32(r);
}
/* A memory id into id[max]; its length (0 on a short read or one over max,
 * which also marks the read short). */
static inline uint8_t get_id(reader_t *r, char *id, size_t max)
{
    uint8_t len = get_u8(r);
    const uint8_t *b = len <= max ? take(r, len) : NULL;
    if (!b) {
        r->short_read = 1;
        return 0;
    }
    memcpy(id, b, len);
    return len;
}

#endif
