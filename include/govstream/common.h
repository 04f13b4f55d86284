/* govstream - shared error codes and small helpers used by every module.
 *
 * Convention (as librdkafka): functions return gs_err_t and, on failure,
 * write a human-readable reason into a caller-provided errstr buffer. */
#ifndef GOVSTREAM_COMMON_H
#define GOVSTREAM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define GS_VERSION "0.1.0"

/* Kernels compiled for AVX-512, AVX2 and the baseline, picked at load time
 * (GCC's ifunc clones). Clang 14's clones do not link here: one baseline
 * build there (the fuzzing build only). */
#if defined(__GNUC__) && !defined(__clang__)
#define GS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define GS_CLONES
#endif

typedef enum gs_err {
    GS_OK = 0,
    /* Input errors: each one becomes exactly one dead letter (SPEC 2). */
    GS_ERR_DECODE,     /* bytes are not a valid encoding (framing, Avro) */
    GS_ERR_SCHEMA,     /* writer schema unknown or incompatible with ours */
    GS_ERR_VALIDATION, /* decoded, but violates a request limit */
    GS_ERR_TOO_LARGE,  /* over limits.max_request_bytes */
    GS_ERR_INTERNAL,   /* our bug or an unexpected library failure */
    /* Infrastructure errors: pause and retry, never dead-lettered. */
    GS_ERR_TRANSPORT, /* broker or registry unreachable, timed out, 5xx */
    /* Local errors. */
    GS_ERR_CONFIG,
    GS_ERR_IO,
    GS_ERR_NOMEM,
    GS_ERR_INVALID_ARG,
    GS_ERR_NOT_FOUND,
    GS_ERR_KAFKA,
    GS_ERR__COUNT
} gs_err_t;

/* A byte string that is not owned (a view into a decoded value). */
typedef struct gs_str {
    const char *p; /* not NUL-terminated: decoded strings are views into the message */
    size_t len;
} gs_str_t;

/* Rhythm phase; the order matches the Avro enum Phase {WAKE, SLEEP}. */
typedef enum { GS_PHASE_WAKE = 0, GS_PHASE_SLEEP = 1 } gs_phase_t;

/* Stable upper-case name ("DECODE", "TRANSPORT", ...). */
const char *gs_err_name(gs_err_t err);

/* True for the errors that produce a dead letter. */
static inline int gs_err_is_input(gs_err_t err)
{
    return err >= GS_ERR_DECODE && err <= GS_ERR_INTERNAL;
}

/* snprintf into errstr (NULL-safe) and evaluate to err:
 * `return gs_fail(errstr, n, GS_ERR_IO, "%s: ...", path)`. A macro so that
 * static analysis sees the value (it does not follow variadic calls). */
void gs_errfmt(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define gs_fail(errstr, errstr_size, err, ...)                                                     \
    (gs_errfmt((errstr), (errstr_size), __VA_ARGS__), (gs_err_t)(err))

/* Resizes the array that *(T **)array points to, to n elements of `size`
 * bytes. On failure (or if n * size overflows) returns -1 and leaves the
 * array as it was, so several arrays can be grown in turn and each stays
 * valid: `if (gs_grow(&a, n, sizeof(*a)) || gs_grow(&b, n, sizeof(*b)))`. */
int gs_grow(void *array, size_t n, size_t size);
/* Room for element `len` of an array of *cap elements: doubles *cap (the
 * first time to `first`) when it is full. -1 as gs_grow. */
int gs_grow_one(void *array, size_t len, size_t *cap, size_t size, size_t first);

/* A growable byte buffer reused across messages (encoded records).
 * Zero-initialise; release with gs_buf_free. */
typedef struct gs_buf {
    uint8_t *data;
    size_t len, cap;
} gs_buf_t;

/* Makes room for `extra` more bytes after len; -1 when out of memory. */
int gs_buf_grow(gs_buf_t *b, size_t extra);
static inline int gs_buf_reserve(gs_buf_t *b, size_t extra)
{
    return b->cap - b->len >= extra ? 0 : gs_buf_grow(b, extra);
}
void gs_buf_free(gs_buf_t *b);

/* A bump allocator for what one micro-batch decodes (arrays of requests):
 * reset between batches, it keeps its chunks, so a steady stream allocates
 * nothing. Zero-initialise; release with gs_arena_free. */
typedef struct gs_arena_chunk gs_arena_chunk_t;
typedef struct gs_arena {
    gs_arena_chunk_t *head, *cur; /* chunks in allocation order; the one in use */
    size_t bytes;                 /* total capacity of the chunks */
} gs_arena_t;

/* 16-byte aligned, uninitialised; NULL when out of memory. */
void *gs_arena_alloc(gs_arena_t *a, size_t size);
void gs_arena_reset(gs_arena_t *a);
void gs_arena_free(gs_arena_t *a);

/* A deterministic random stream (xorshift64*): load generation, tests. */
typedef struct gs_rng {
    uint64_t s;
} gs_rng_t;

static inline void gs_rng_seed(gs_rng_t *r, uint64_t seed)
{
    r->s = seed * 0x9E3779B97F4A7C15ull + 1;
}

static inline uint64_t gs_rng_next(gs_rng_t *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ull;
}

/* Uniform in [0, 1). */
static inline double gs_rng_unit(gs_rng_t *r)
{
    return (double)(gs_rng_next(r) >> 11) / 9007199254740992.0;
}

/* Exponential backoff: the delay after `cur_ms` (0: none yet, so `first_ms`),
 * doubling up to max_ms. The one rule of every retry loop. */
static inline int gs_backoff_next(int cur_ms, int first_ms, int max_ms)
{
    if (cur_ms <= 0)
        return first_ms < max_ms ? first_ms : max_ms;
    return cur_ms > max_ms / 2 ? max_ms : cur_ms * 2;
}

/* Sleeps ms milliseconds (restarting after signals is not needed here). */
void gs_sleep_ms(int ms);

/* Clocks: monotonic for durations, wall for timestamps in records. */
int64_t gs_now_us(void);
int64_t gs_wall_ms(void);

/* Reads a whole file into a NUL-terminated heap buffer. */
gs_err_t gs_read_file(const char *path, char **out, size_t *out_len, char *errstr,
                      size_t errstr_size);

/* CRC32C (Castagnoli), as used by snapshots and model files. Start with
 * crc = 0; feed the previous result to continue over more bytes. */
uint32_t gs_crc32c(uint32_t crc, const void *buf, size_t len);

/* True for [A-Za-z_][A-Za-z0-9_]*: Prometheus metric and label names,
 * alert names. */
int gs_ident_valid(const char *s);

/* True when buf[0..len) is well-formed UTF-8 (no overlongs, surrogates or
 * code points above U+10FFFF). */
int gs_utf8_valid(const char *buf, size_t len);

#endif
