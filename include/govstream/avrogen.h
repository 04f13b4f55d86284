/* govstream - the schema-compiled Avro codec: what the code that
 * src/tools/avrogen.c generates from schemas/ (govstream/schemas.h, built
 * into build/generated/) is made of.
 *
 * Every named record of a schema becomes a C struct, gs_avro_<name>_t, with
 * a decoder and an encoder written out for it:
 *   boolean -> bool; int -> int32_t; long -> int64_t; float; double;
 *   string, bytes, fixed -> gs_str_t, a view into the decoded message (not
 *     NUL-terminated) or into static default bytes;
 *   enum -> gs_avro_<name>_t, a C enum with the schema's symbol order;
 *   record -> the record's struct, inline;
 *   array<T> -> T *field + size_t n_field, the items in the caller's arena;
 *   map<T> -> an entry array {gs_str_t key; T value;} + size_t n_field;
 *   ["null", T] or [T, "null"] -> bool has_field + T field.
 * Decoding allocates nothing but arrays, from a per-batch arena; encoding
 * writes into a reused gs_buf_t. Both check every length against the bytes
 * there are, so untrusted input cannot make them read or allocate wildly.
 *
 * The same layout is described at run time by gs_avro_node_t trees, which
 * the generic code uses: schema resolution plans for other writer schemas
 * (codec.h), defaults, and the tests' oracles. */
#ifndef GOVSTREAM_AVROGEN_H
#define GOVSTREAM_AVROGEN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "govstream/common.h"

/* How deep values and schemas nest before the codec refuses them. */
#define GS_AVRO_MAX_DEPTH 32

/* ---- run-time description of the generated layout -------------------- */

typedef enum gs_avro_kind {
    GS_AVRO_T_NULL,
    GS_AVRO_T_BOOLEAN,
    GS_AVRO_T_INT,
    GS_AVRO_T_LONG,
    GS_AVRO_T_FLOAT,
    GS_AVRO_T_DOUBLE,
    GS_AVRO_T_BYTES,
    GS_AVRO_T_STRING,
    GS_AVRO_T_FIXED,
    GS_AVRO_T_ENUM,
    GS_AVRO_T_RECORD,
    GS_AVRO_T_ARRAY,
    GS_AVRO_T_MAP,
    GS_AVRO_T_OPTIONAL /* ["null", T] or [T, "null"]: record fields only */
} gs_avro_kind_t;

typedef struct gs_avro_node gs_avro_node_t;

typedef struct gs_avro_field {
    const char *name;
    const gs_avro_node_t *type;
    uint32_t offset;    /* of the value in the record's struct */
    uint32_t count;     /* arrays and maps (also optional ones): offset of the size_t count */
    uint32_t has;       /* optional: offset of the bool that says the value is there */
    const uint8_t *def; /* the default as Avro binary of `type`; NULL: no default */
    uint32_t def_len;
} gs_avro_field_t;

struct gs_avro_node {
    gs_avro_kind_t kind;
    const char *name;              /* named types: the full name ("io.govstream.v1.Source") */
    uint32_t size;                 /* bytes of one C value (the stride of an array) */
    uint32_t min_bytes;            /* the shortest encoding of a value */
    const gs_avro_field_t *fields; /* record */
    uint32_t n_fields;
    const char *const *symbols; /* enum */
    uint32_t n_symbols;
    const gs_avro_node_t *items; /* array items, map values, optional's value */
    uint32_t entry_size;         /* map: bytes of one {key, value} entry */
    uint32_t value_offset;       /* map: offset of the value in an entry */
    uint32_t fixed_size;
    uint8_t null_first; /* optional: 1 for ["null", T], 0 for [T, "null"] */
};

/* The primitive types (defined once, in the runtime). */
extern const gs_avro_node_t gs_avro_node_null, gs_avro_node_boolean, gs_avro_node_int,
    gs_avro_node_long, gs_avro_node_float, gs_avro_node_double, gs_avro_node_bytes,
    gs_avro_node_string;

/* A top-level schema of schemas/: one request, result or record kind. */
typedef struct gs_avro_type {
    const char *name;   /* record name = file name: "DialogueRequest" */
    const char *text;   /* the file, byte for byte */
    const char *schema; /* self-contained: shared records inlined (what is parsed) */
    const gs_avro_node_t *node;
    /* Decodes exactly len bytes (trailing bytes are an error). */
    gs_err_t (*decode)(const uint8_t *buf, size_t len, gs_arena_t *arena, void *out, char *errstr,
                       size_t errstr_size);
    /* Replaces out's content; Confluent header first when schema_id >= 0. */
    gs_err_t (*encode)(const void *value, int32_t schema_id, gs_buf_t *out, char *errstr,
                       size_t errstr_size);
} gs_avro_type_t;

/* The generated type of top-level schema NAME; NULL if there is none. */
const gs_avro_type_t *gs_avro_type(const char *name);
/* The field of record node `record` named `name`, NULL if none. */
const gs_avro_field_t *gs_avro_field(const gs_avro_node_t *record, const char *name);

/* ---- embedded schema texts (generated from schemas/) ------------------ */

/* The file's text, byte for byte, by record name ("DialogueRequest",
 * "Source"); NULL if unknown. Shared records (schemas/common/) may be
 * referred to by name, so a text need not stand alone. */
const char *gs_schema_text(const char *name);
/* The self-contained schema: shared records inlined where first used. This
 * is what is parsed, registered and printed by `schema print --resolved`. */
const char *gs_schema_resolved(const char *name);
/* i-th top-level schema name (requests, results, records), NULL past the end. */
const char *gs_schema_name(size_t i);

/* ---- Confluent framing ------------------------------------------------- */

#define GS_CONFLUENT_HEADER 5

/* Byte 0 = 0, bytes 1-4 = the big-endian schema id (codec.h parses it). */
void gs_frame_header(uint8_t out[GS_CONFLUENT_HEADER], int32_t schema_id);

/* ---- decoding ---------------------------------------------------------- */

typedef struct gs_avro_in {
    const uint8_t *start, *p, *end;
    gs_arena_t *arena;
    const char *why; /* the first error, NULL while there is none */
    gs_err_t err;    /* its class: DECODE, SCHEMA (resolution), NOMEM or INTERNAL */
    char detail[160];
    uint64_t steps_left; /* values a resolution plan may still visit (resolve.c) */
} gs_avro_in_t;

#define GS_AVRO_IN(buf, len, arena_)                                                               \
    (gs_avro_in_t)                                                                                 \
    {                                                                                              \
        .start = (buf), .p = (buf), .end = (buf) + (len), .arena = (arena_), .err = GS_OK          \
    }

/* Records the first error (class DECODE) at the current position; -1. */
int gs_avro_bad(gs_avro_in_t *in, const char *why) __attribute__((cold));
/* A resolution error (class SCHEMA) with a formatted reason; -1. */
int gs_avro_bad_schema(gs_avro_in_t *in, const char *fmt, ...)
    __attribute__((cold, format(printf, 2, 3)));
/* After a whole record: trailing bytes are an error (a producer framing with
 * the wrong schema is the usual cause). */
int gs_avro_end(gs_avro_in_t *in);
/* "invalid Avro at byte N of M: why" into errstr; returns the class. */
gs_err_t gs_avro_in_fail(const gs_avro_in_t *in, char *errstr, size_t errstr_size);

/* Getters set *out to 0 on failure too (so that no caller reads garbage). */
static inline int gs_avro_get_long(gs_avro_in_t *in, int64_t *out)
{
    const uint8_t *p = in->p;
    *out = 0;
    if (p < in->end && !(*p & 0x80)) { /* one byte: the common case */
        in->p = p + 1;
        *out = (int64_t)((uint64_t)(*p >> 1) ^ (0 - (uint64_t)(*p & 1)));
        return 0;
    }
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (p >= in->end) {
            in->p = p;
            return gs_avro_bad(in, "truncated varint");
        }
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            in->p = p;
            *out = (int64_t)((v >> 1) ^ (0 - (v & 1)));
            return 0;
        }
    }
    in->p = p;
    return gs_avro_bad(in, "varint longer than 10 bytes");
}

static inline int gs_avro_get_int(gs_avro_in_t *in, int32_t *out)
{
    int64_t v;
    *out = 0;
    if (gs_avro_get_long(in, &v))
        return -1;
    if (v < INT32_MIN || v > INT32_MAX)
        return gs_avro_bad(in, "int out of range");
    *out = (int32_t)v;
    return 0;
}

static inline int gs_avro_get_boolean(gs_avro_in_t *in, bool *out)
{
    if (in->p >= in->end)
        return gs_avro_bad(in, "truncated boolean");
    if (*in->p > 1)
        return gs_avro_bad(in, "boolean byte is not 0 or 1");
    *out = *in->p++;
    return 0;
}

/* Avro stores floating point little-endian, as x86 and ARM do. */
static inline int gs_avro_get_double(gs_avro_in_t *in, double *out)
{
    if (in->end - in->p < 8)
        return gs_avro_bad(in, "truncated floating-point value");
    memcpy(out, in->p, 8);
    in->p += 8;
    return 0;
}

static inline int gs_avro_get_float(gs_avro_in_t *in, float *out)
{
    if (in->end - in->p < 4)
        return gs_avro_bad(in, "truncated floating-point value");
    memcpy(out, in->p, 4);
    in->p += 4;
    return 0;
}

/* bytes and string: a view into the input. */
static inline int gs_avro_get_bytes(gs_avro_in_t *in, gs_str_t *out)
{
    int64_t len;
    if (gs_avro_get_long(in, &len))
        return -1;
    if (len < 0)
        return gs_avro_bad(in, "negative length");
    if (len > in->end - in->p)
        return gs_avro_bad(in, "length runs past the end of the message");
    out->p = (const char *)in->p;
    out->len = (size_t)len;
    in->p += len;
    return 0;
}

static inline int gs_avro_get_fixed(gs_avro_in_t *in, gs_str_t *out, uint32_t size)
{
    if ((size_t)(in->end - in->p) < size)
        return gs_avro_bad(in, "truncated fixed");
    out->p = (const char *)in->p;
    out->len = size;
    in->p += size;
    return 0;
}

/* An enum index or union branch in [0, n). */
static inline int gs_avro_get_index(gs_avro_in_t *in, int *out, uint32_t n, const char *why)
{
    int64_t v;
    *out = 0;
    if (gs_avro_get_long(in, &v))
        return -1;
    if (v < 0 || v >= (int64_t)n)
        return gs_avro_bad(in, why);
    *out = (int)v;
    return 0;
}

/* The next block of an array or map: *count items (0 ends it). A count is
 * refused when the bytes left cannot hold that many items of min_bytes. */
int gs_avro_get_block(gs_avro_in_t *in, int64_t *count, uint32_t min_bytes);
/* Grows the arena array *items of *n items by `add` (copying the ones
 * there) and returns the first new item; NULL (and an error) when out of
 * memory. */
void *gs_avro_extend(gs_avro_in_t *in, void **items, size_t *n, size_t add, size_t size);

/* Reads a value of `node` into the storage at `value` (count: arrays and
 * maps; has: optional), by the node tree: what the generated decoders do,
 * for code that only has the node (defaults, tests). */
int gs_avro_read_node(gs_avro_in_t *in, const gs_avro_node_t *node, void *value, size_t *count,
                      bool *has);
/* Reads field f's default into the record at `record`; -1 (an INTERNAL
 * error: the generator wrote it) if it does not decode. */
int gs_avro_read_default(gs_avro_in_t *in, const gs_avro_field_t *f, char *record);
/* Sets every field of a record value to its default (zero where it has
 * none); strings point into the static default bytes. */
gs_err_t gs_avro_set_defaults_node(const gs_avro_node_t *record, void *value, gs_arena_t *arena,
                                   char *errstr, size_t errstr_size);

/* ---- encoding ---------------------------------------------------------- */

/* Starts a record in b: empties it and writes the Confluent header when
 * schema_id >= 0. */
int gs_avro_begin(gs_buf_t *b, int32_t schema_id);

static inline int gs_avro_put_long(gs_buf_t *b, int64_t v)
{
    if (gs_buf_reserve(b, 10))
        return -1;
    uint64_t z = ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));
    uint8_t *d = b->data + b->len;
    size_t n = 0;
    while (z > 0x7f) {
        d[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    d[n++] = (uint8_t)z;
    b->len += n;
    return 0;
}

static inline int gs_avro_put_boolean(gs_buf_t *b, bool v)
{
    if (gs_buf_reserve(b, 1))
        return -1;
    b->data[b->len++] = v ? 1 : 0;
    return 0;
}

static inline int gs_avro_put_raw(gs_buf_t *b, const void *p, size_t n)
{
    if (gs_buf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static inline int gs_avro_put_double(gs_buf_t *b, double v)
{
    return gs_avro_put_raw(b, &v, 8);
}

static inline int gs_avro_put_float(gs_buf_t *b, float v)
{
    return gs_avro_put_raw(b, &v, 4);
}

static inline int gs_avro_put_bytes(gs_buf_t *b, gs_str_t s)
{
    return gs_avro_put_long(b, (int64_t)s.len) || gs_avro_put_raw(b, s.p, s.len);
}

/* Exactly `size` bytes: a shorter view is padded with zeros, a longer one cut. */
static inline int gs_avro_put_fixed(gs_buf_t *b, gs_str_t s, uint32_t size)
{
    if (gs_buf_reserve(b, size))
        return -1;
    size_t n = s.len < size ? s.len : size;
    if (n)
        memcpy(b->data + b->len, s.p, n);
    memset(b->data + b->len + n, 0, size - n);
    b->len += size;
    return 0;
}

/* A C string as an Avro string (NULL: ""). */
static inline gs_str_t gs_avro_cstr(const char *s)
{
    return (gs_str_t){s ? s : "", s ? strlen(s) : 0};
}

#endif
