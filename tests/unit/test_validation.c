/* Unit tests of dialogue request validation (SPEC 1.1 limits), the UTF-8
 * checker, and the request's Avro round trip through the codec (raw and
 * Confluent framing). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/codec.h"
#include "govstream/dialogue.h"
#include "govstream/schemas.h"

static gs_str_t S(const char *s)
{
    return (gs_str_t){s, strlen(s)};
}

/* Byte strings with embedded NULs or invalid bytes need an explicit length. */
#define SL(lit) ((gs_str_t){(lit), sizeof(lit) - 1})

/* 10,001 bytes of text (NUL-terminated, so slices of it are safe to read). */
static char big[GS_DIALOGUE_MAX_TEXT + 2];

/* Room for more turns than allowed: the count is what is checked. */
static gs_str_t turn_views[GS_DIALOGUE_MAX_TURNS + 1];

static void valid_request(gs_avro_dialogue_request_t *r)
{
    memset(r, 0, sizeof(*r));
    r->turns = turn_views;
    r->request_id = S("req-0001");
    r->session_id = S("session-42");
    r->tenant = S("default");
    r->op = GS_AVRO_DIALOGUE_OP_TOP_K;
    r->turns[0] = S("hello there");
    r->turns[1] = S("how are you?");
    r->n_turns = 2;
    r->top_k = 5;
    r->max_tokens = 32;
    r->context_top_k = 5;
    r->has_moral_value = 0;
    r->moral_value = 0.0;
    r->created_at_ms = 1700000000000;
    if (!big[0]) {
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
    }
}

static void expect_valid(const gs_avro_dialogue_request_t *r, const char *what)
{
    char err[512] = "";
    gs_err_t rc = gs_dialogue_request_validate(r, err, sizeof(err));
    if (rc != GS_OK)
        fail_msg("%s: %s (%s), want OK", what, gs_err_name(rc), err);
}

/* VALIDATION with a message naming field (and not other_field, when set). */
static void expect_invalid(const gs_avro_dialogue_request_t *r, const char *what, const char *field,
                           const char *not_field)
{
    char err[512] = "";
    gs_err_t rc = gs_dialogue_request_validate(r, err, sizeof(err));
    if (rc != GS_ERR_VALIDATION)
        fail_msg("%s: %s, want VALIDATION", what, gs_err_name(rc));
    if (!strstr(err, field) || (not_field && strstr(err, not_field)))
        fail_msg("%s: message \"%s\" does not name %s", what, err, field);
}

/* ---- validation ------------------------------------------------------------------ */

static void test_valid_request(void **state)
{
    (void)state;
    gs_avro_dialogue_request_t r;
    valid_request(&r);
    expect_valid(&r, "baseline");
    r.has_moral_value = 1;
    r.moral_value = 0.5;
    expect_valid(&r, "with moral_value");
    /* has_moral_value = 0: the value field is ignored */
    r.has_moral_value = 0;
    r.moral_value = NAN;
    expect_valid(&r, "NaN without has_moral_value");
    /* multi-byte text is fine */
    valid_request(&r);
    r.request_id = S("r\xc3\xa9q-\xe2\x98\x83");
    r.turns[0] = S("caf\xc3\xa9 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
    r.turns[1] = S(""); /* an empty turn is still a turn */
    expect_valid(&r, "UTF-8 text");
}

/* Runs the id checks on one of request_id, session_id, tenant. */
static void check_id(size_t offset, const char *name, const char *not_name)
{
    char buf[GS_DIALOGUE_MAX_ID + 2];
    memset(buf, 'i', sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = '\0';
    gs_avro_dialogue_request_t r;
    char what[64];
    struct {
        gs_str_t s;
        int ok;
        const char *what;
    } cases[] = {
        {{buf, 0}, 0, "empty"},
        {{buf, 1}, 1, "1 byte"},
        {{buf, 128}, 1, "128 bytes"},
        {{buf, 129}, 0, "129 bytes"},
        {SL("\xc0\x80"), 0, "overlong C0 80"},
        {SL("ab\xc1\xbf"), 0, "overlong C1 BF"},
        {SL("\xed\xa0\x80"), 0, "lone surrogate ED A0 80"},
        {SL("id\xe2\x82"), 0, "truncated E2 82"},
        {SL("\xf4\x90\x80\x80"), 0, "above U+10FFFF"},
        {SL("\xff"), 0, "FF byte"},
        {SL("a\0b"), 0, "NUL byte"},
        {SL("\xf4\x8f\xbf\xbf"), 1, "U+10FFFF"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        valid_request(&r);
        *(gs_str_t *)((char *)&r + offset) = cases[i].s;
        snprintf(what, sizeof(what), "%s %s", name, cases[i].what);
        if (cases[i].ok)
            expect_valid(&r, what);
        else
            expect_invalid(&r, what, name, not_name);
    }
}

static void test_ids(void **state)
{
    (void)state;
    check_id(offsetof(gs_avro_dialogue_request_t, request_id), "request_id", NULL);
    check_id(offsetof(gs_avro_dialogue_request_t, session_id), "session_id", NULL);
    check_id(offsetof(gs_avro_dialogue_request_t, tenant), "tenant", NULL);
}

static void test_turn_text(void **state)
{
    (void)state;
    gs_avro_dialogue_request_t r;
    const gs_str_t bad[] = {
        SL("\xc0\x80"), SL("ok \xed\xa0\x80"), SL("cut \xf0\x9f\x98"),    SL("a\0b"),
        SL("\x80"),     SL("\xe0\x80\xaf"),    SL("\xf8\x88\x80\x80\x80")};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (size_t t = 0; t < 2; t++) {
            valid_request(&r);
            r.turns[t] = bad[i];
            char what[64];
            snprintf(what, sizeof(what), "bad text %zu in turn %zu", i, t);
            expect_invalid(&r, what, "turns", NULL);
        }
    }
    /* the message says which turn */
    valid_request(&r);
    r.turns[1] = SL("\xc0\x80");
    char err[256] = "";
    assert_int_equal(gs_dialogue_request_validate(&r, err, sizeof(err)), GS_ERR_VALIDATION);
    assert_contains(err, "turns[1]");
}

static void test_turn_counts(void **state)
{
    (void)state;
    gs_avro_dialogue_request_t r;
    valid_request(&r);
    r.n_turns = 0;
    expect_invalid(&r, "0 turns", "turns", NULL);

    valid_request(&r);
    for (size_t i = 0; i < GS_DIALOGUE_MAX_TURNS; i++)
        r.turns[i] = S("turn");
    r.n_turns = 1;
    expect_valid(&r, "1 turn");
    r.n_turns = 64;
    expect_valid(&r, "64 turns");
    r.n_turns = 65; /* as sent; only 64 are viewed */
    expect_invalid(&r, "65 turns", "turns", NULL);
    r.n_turns = 100000;
    expect_invalid(&r, "100000 turns", "turns", NULL);
}

static void test_turn_total_bytes(void **state)
{
    (void)state;
    gs_avro_dialogue_request_t r;
    valid_request(&r);
    r.turns[0] = (gs_str_t){big, 5000};
    r.turns[1] = (gs_str_t){big, 5000};
    expect_valid(&r, "10,000 bytes in 2 turns");
    r.turns[1].len = 5001;
    expect_invalid(&r, "10,001 bytes in 2 turns", "turns", NULL);

    r.n_turns = 1;
    r.turns[0] = (gs_str_t){big, GS_DIALOGUE_MAX_TEXT};
    expect_valid(&r, "10,000 bytes in 1 turn");
    r.turns[0].len = GS_DIALOGUE_MAX_TEXT + 1;
    expect_invalid(&r, "10,001 bytes in 1 turn", "turns", NULL);

    /* 64 turns: 63 x 156 + 172 = 10,000 */
    r.n_turns = 64;
    for (size_t i = 0; i < 63; i++)
        r.turns[i] = (gs_str_t){big, 156};
    r.turns[63] = (gs_str_t){big, 172};
    expect_valid(&r, "10,000 bytes in 64 turns");
    r.turns[63].len = 173;
    expect_invalid(&r, "10,001 bytes in 64 turns", "turns", NULL);
}

static void test_int_ranges(void **state)
{
    (void)state;
    struct {
        size_t off;
        const char *name, *not_name;
        int32_t lo, hi;
    } f[] = {
        {offsetof(gs_avro_dialogue_request_t, top_k), "top_k", "context_top_k", 1, 20},
        {offsetof(gs_avro_dialogue_request_t, max_tokens), "max_tokens", NULL, 1, 256},
        {offsetof(gs_avro_dialogue_request_t, context_top_k), "context_top_k", NULL, 1, 20},
    };
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        const int32_t values[] = {f[i].lo - 1, f[i].lo,   f[i].hi,  f[i].hi + 1,
                                  -1,          INT32_MIN, INT32_MAX};
        for (size_t k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
            gs_avro_dialogue_request_t r;
            valid_request(&r);
            *(int32_t *)((char *)&r + f[i].off) = values[k];
            char what[64];
            snprintf(what, sizeof(what), "%s = %d", f[i].name, values[k]);
            if (values[k] >= f[i].lo && values[k] <= f[i].hi)
                expect_valid(&r, what);
            else
                expect_invalid(&r, what, f[i].name, f[i].not_name);
        }
    }
}

static void test_moral_value(void **state)
{
    (void)state;
    const double bad[] = {
        NAN, -0.0001, 1.0001, -INFINITY, INFINITY, nextafter(1.0, 2.0), nextafter(0.0, -1.0)};
    const double good[] = {0.0, -0.0, 1.0, 0.5, 1e-300};
    gs_avro_dialogue_request_t r;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        valid_request(&r);
        r.has_moral_value = 1;
        r.moral_value = bad[i];
        char what[64];
        snprintf(what, sizeof(what), "moral_value %.17g", bad[i]);
        expect_invalid(&r, what, "moral_value", NULL);
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        valid_request(&r);
        r.has_moral_value = 1;
        r.moral_value = good[i];
        char what[64];
        snprintf(what, sizeof(what), "moral_value %.17g", good[i]);
        expect_valid(&r, what);
    }
}

static void test_created_at(void **state)
{
    (void)state;
    gs_avro_dialogue_request_t r;
    valid_request(&r);
    r.created_at_ms = -1;
    expect_invalid(&r, "created_at_ms -1", "created_at_ms", NULL);
    r.created_at_ms = INT64_MIN;
    expect_invalid(&r, "created_at_ms min", "created_at_ms", NULL);
    r.created_at_ms = 0;
    expect_valid(&r, "created_at_ms 0");
    r.created_at_ms = INT64_MAX;
    expect_valid(&r, "created_at_ms max");
}

/* ---- UTF-8 ---------------------------------------------------------------------------- */

static void test_utf8_cases(void **state)
{
    (void)state;
    const gs_str_t ok[] = {
        SL(""),
        SL("plain ascii"),
        SL("a\0b"), /* NUL is valid UTF-8; validate refuses it */
        SL("\xc2\x80"),
        SL("\xdf\xbf"),
        SL("\xe0\xa0\x80"),
        SL("\xed\x9f\xbf"),
        SL("\xee\x80\x80"),
        SL("\xef\xbf\xbf"),
        SL("\xf0\x90\x80\x80"),
        SL("\xf4\x8f\xbf\xbf"), /* U+10FFFF, the maximum */
        SL("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
    };
    const gs_str_t bad[] = {
        SL("\x80"),
        SL("\xbf"),
        SL("a\x80z"), /* lone continuation bytes */
        SL("\xc0\x80"),
        SL("\xc1\xbf"), /* overlong 2-byte */
        SL("\xe0\x80\x80"),
        SL("\xe0\x9f\xbf"), /* overlong 3-byte */
        SL("\xf0\x80\x80\x80"),
        SL("\xf0\x8f\xbf\xbf"), /* overlong 4-byte */
        SL("\xed\xa0\x80"),
        SL("\xed\xbf\xbf"), /* surrogates */
        SL("\xf4\x90\x80\x80"),
        SL("\xf5\x80\x80\x80"), /* above U+10FFFF */
        SL("\xf8\x88\x80\x80\x80"),
        SL("\xfc\x84\x80\x80\x80\x80"),
        SL("\xfe"),
        SL("\xff"),
        SL("\xc3"),
        SL("\xe2\x82"),
        SL("\xf0\x9f\x98"),
        SL("ok\xe2\x82"), /* truncated */
        SL("\xc3\x28"),
        SL("\xe2\x28\xa1"),
        SL("\xf0\x9f\x28\x80"), /* bad continuation */
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (!gs_utf8_valid(ok[i].p, ok[i].len))
            fail_msg("valid case %zu rejected", i);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (gs_utf8_valid(bad[i].p, bad[i].len))
            fail_msg("invalid case %zu accepted", i);
    /* the length bounds the check: a sequence cut by len is truncated */
    assert_int_equal(gs_utf8_valid("\xc3\xa9", 1), 0);
    assert_int_equal(gs_utf8_valid("\xf4\x8f\xbf\xbf", 3), 0);
    assert_int_equal(gs_utf8_valid("ab\xff", 2), 1);
}

/* Reference: the well-formed byte sequences of Unicode Table 3-7. Returns
 * the length of the sequence at p, 0 if ill-formed. */
static size_t ref_seq(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    if (c <= 0x7F)
        return 1;
    unsigned lo2 = 0x80, hi2 = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c == 0xE0)
        n = 3, lo2 = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        n = 3;
    else if (c == 0xED)
        n = 3, hi2 = 0x9F;
    else if (c == 0xF0)
        n = 4, lo2 = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        n = 4;
    else if (c == 0xF4)
        n = 4, hi2 = 0x8F;
    else
        return 0;
    if (avail < n || p[1] < lo2 || p[1] > hi2)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

static int ref_utf8_valid(const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = ref_seq(p + i, len - i);
        if (!n)
            return 0;
        i += n;
    }
    return 1;
}

static size_t put_cp(unsigned char *out, uint32_t cp)
{
    if (cp < 0x80)
        return out[0] = (unsigned char)cp, 1;
    if (cp < 0x800)
        return out[0] = (unsigned char)(0xC0 | cp >> 6),
               out[1] = (unsigned char)(0x80 | (cp & 0x3F)), 2;
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static void test_utf8_property(void **state)
{
    (void)state;
    const uint64_t seed = 0x0F8F8ull;
    rng_seed(seed);
    unsigned char buf[64];
    int valid_seen = 0, invalid_seen = 0;
    for (int it = 0; it < 200000; it++) {
        size_t len = 0;
        int parts = (int)rng_below(6);
        for (int k = 0; k < parts && len + 4 <= sizeof(buf); k++) {
            switch (rng_below(4)) {
            case 0: { /* any scalar value, encoded correctly */
                uint32_t cp;
                do
                    cp = rng_below(0x110000);
                while (cp >= 0xD800 && cp <= 0xDFFF);
                len += put_cp(buf + len, cp);
                break;
            }
            case 1: /* values near the edges, including surrogates */
            {
                static const uint32_t edge[] = {0x7F,     0x80,     0x7FF,   0x800,  0xD7FF,
                                                0xD800,   0xDFFF,   0xE000,  0xFFFF, 0x10000,
                                                0x10FFFF, 0x110000, 0x1FFFFF};
                len += put_cp(buf + len, edge[rng_below(13)]);
                break;
            }
            default: /* random bytes */
                buf[len++] = (unsigned char)rng_next();
            }
        }
        /* sometimes cut the last sequence short */
        if (len && rng_below(4) == 0)
            len--;
        int want = ref_utf8_valid(buf, len);
        int got = gs_utf8_valid((const char *)buf, len) != 0;
        if (got != want) {
            char hex[3 * sizeof(buf) + 1] = "";
            for (size_t i = 0; i < len; i++)
                snprintf(hex + 3 * i, 4, "%02X ", buf[i]);
            fail_msg("seed %llu iteration %d: [%s] valid %d, reference %d",
                     (unsigned long long)seed, it, hex, got, want);
        }
        valid_seen += want;
        invalid_seen += !want;
    }
    assert_true(valid_seen > 10000);
    assert_true(invalid_seen > 10000);
}

/* ---- Avro round trip --------------------------------------------------------------------- */

typedef struct rt {
    gs_avro_schema_t *schema; /* ours, parsed by avro-c */
    gs_buf_t buf;
    gs_arena_t arena;
    avro_value_t value;
    int has_value;
} rt_t;

static int rt_setup(void **state)
{
    rt_t *t = calloc(1, sizeof(*t));
    char err[256] = "";
    if (!t || gs_avro_schema_load("DialogueRequest", &t->schema, err, sizeof(err))) {
        fprintf(stderr, "schema: %s\n", err);
        free(t);
        return -1;
    }
    if (avro_generic_value_new(gs_avro_schema_iface(t->schema), &t->value)) {
        gs_avro_schema_destroy(t->schema);
        free(t);
        return -1;
    }
    t->has_value = 1;
    *state = t;
    return 0;
}

static int rt_teardown(void **state)
{
    rt_t *t = *state;
    if (t->has_value)
        avro_value_decref(&t->value);
    gs_buf_free(&t->buf);
    gs_arena_free(&t->arena);
    gs_avro_schema_destroy(t->schema);
    free(t);
    return 0;
}

static void assert_str_eq(gs_str_t got, gs_str_t want, const char *field)
{
    if (got.len != want.len || (want.len && memcmp(got.p, want.p, want.len)))
        fail_msg("%s: got \"%.*s\" (%zu bytes), want \"%.*s\" (%zu bytes)", field, (int)got.len,
                 got.p ? got.p : "", got.len, (int)want.len, want.p, want.len);
}

/* Checks and decodes an encoded payload, then compares the view with req. */
static void decode_and_compare(rt_t *t, const uint8_t *payload, size_t len,
                               const gs_avro_dialogue_request_t *req)
{
    gs_avro_schema_t *schema = t->schema;
    char err[512] = "";
    if (gs_avro_check(schema, payload, len, err, sizeof(err)))
        fail_msg("gs_avro_check: %s", err);
    avro_value_reset(&t->value);
    if (gs_avro_decode(payload, len, schema, schema, &t->value, err, sizeof(err)))
        fail_msg("gs_avro_decode: %s", err);
    gs_avro_dialogue_request_t got;
    if (gs_avro_from_value(&gs_avro_node_dialogue_request, &t->value, &got, &t->arena, err,
                           sizeof(err)))
        fail_msg("view: %s", err);
    assert_str_eq(got.request_id, req->request_id, "request_id");
    assert_str_eq(got.session_id, req->session_id, "session_id");
    assert_str_eq(got.tenant, req->tenant, "tenant");
    assert_int_equal(got.op, req->op);
    assert_int_equal(got.n_turns, req->n_turns);
    for (size_t i = 0; i < req->n_turns; i++) {
        char name[32];
        snprintf(name, sizeof(name), "turns[%zu]", i);
        assert_str_eq(got.turns[i], req->turns[i], name);
        /* views from Avro are NUL-terminated */
        assert_int_equal(got.turns[i].p[got.turns[i].len], '\0');
    }
    assert_int_equal(got.top_k, req->top_k);
    assert_int_equal(got.max_tokens, req->max_tokens);
    assert_int_equal(got.context_top_k, req->context_top_k);
    assert_int_equal(got.has_moral_value, req->has_moral_value);
    if (req->has_moral_value &&
        memcmp(&got.moral_value, &req->moral_value, sizeof(double))) /* bit-exact */
        fail_msg("moral_value: got %.17g, want %.17g", got.moral_value, req->moral_value);
    assert_int_equal(got.created_at_ms, req->created_at_ms);
    expect_valid(&got, "decoded request");
}

static void encode(rt_t *t, const gs_avro_dialogue_request_t *req, int32_t schema_id)
{
    char err[512] = "";
    if (gs_avro_dialogue_request_encode(req, schema_id, &t->buf, err, sizeof(err)))
        fail_msg("encode: %s", err);
}

static void test_round_trip(void **state)
{
    rt_t *t = *state;
    gs_avro_dialogue_request_t r;
    valid_request(&r);
    r.request_id = S("r\xc3\xa9q-\xe2\x98\x83-1");
    r.turns[0] = S("caf\xc3\xa9 \xf0\x9f\x98\x80");
    r.turns[1] = S("");
    r.turns[2] = S("third turn");
    r.n_turns = 3;
    r.top_k = 20;
    r.max_tokens = 256;
    r.context_top_k = 1;
    r.created_at_ms = 1712345678901;

    /* without moral_value, every op */
    for (int op = GS_AVRO_DIALOGUE_OP_NEXT_TOKEN; op <= GS_AVRO_DIALOGUE_OP_GENERATE; op++) {
        r.op = (gs_avro_dialogue_op_t)op;
        encode(t, &r, -1);
        decode_and_compare(t, t->buf.data, t->buf.len, &r);
    }
    /* with moral_value: exact doubles, both ends */
    const double mv[] = {0.0, 1.0, 0.123456789012345678, nextafter(0.5, 1.0), 0.8};
    for (size_t i = 0; i < sizeof(mv) / sizeof(mv[0]); i++) {
        r.has_moral_value = 1;
        r.moral_value = mv[i];
        encode(t, &r, -1);
        decode_and_compare(t, t->buf.data, t->buf.len, &r);
    }
    /* the maxima: 64 turns, 10,000 bytes, 128-byte ids */
    char id[GS_DIALOGUE_MAX_ID + 1];
    memset(id, 'z', GS_DIALOGUE_MAX_ID);
    id[GS_DIALOGUE_MAX_ID] = '\0';
    r.request_id = S(id);
    r.session_id = S(id);
    r.n_turns = 64;
    for (size_t i = 0; i < 63; i++)
        r.turns[i] = S(big + sizeof(big) - 1 - 156);
    r.turns[63] = S(big + sizeof(big) - 1 - 172);
    r.created_at_ms = 0;
    encode(t, &r, -1);
    decode_and_compare(t, t->buf.data, t->buf.len, &r);
}

/* Every proper prefix and any trailing byte is refused before avro-c
 * reads the payload. */
static void test_check_rejects_truncation(void **state)
{
    rt_t *t = *state;
    gs_avro_dialogue_request_t r;
    valid_request(&r);
    r.has_moral_value = 1;
    r.moral_value = 0.25;
    encode(t, &r, -1);
    gs_avro_schema_t *schema = t->schema;
    char err[256];
    for (size_t len = 0; len < t->buf.len; len++) {
        uint8_t *copy = malloc(len ? len : 1); /* exact size: reads past it are caught */
        assert_non_null(copy);
        memcpy(copy, t->buf.data, len);
        gs_err_t rc = gs_avro_check(schema, copy, len, err, sizeof(err));
        free(copy);
        if (rc != GS_ERR_DECODE)
            fail_msg("prefix of %zu of %zu bytes: %s, want DECODE", len, t->buf.len,
                     gs_err_name(rc));
    }
    uint8_t *longer = malloc(t->buf.len + 1);
    assert_non_null(longer);
    memcpy(longer, t->buf.data, t->buf.len);
    longer[t->buf.len] = 0;
    gs_err_t rc = gs_avro_check(schema, longer, t->buf.len + 1, err, sizeof(err));
    free(longer);
    assert_int_equal(rc, GS_ERR_DECODE);
}

static void test_confluent_framing(void **state)
{
    rt_t *t = *state;
    gs_avro_dialogue_request_t r;
    valid_request(&r);
    r.has_moral_value = 1;
    r.moral_value = 0.75;
    encode(t, &r, -1);
    size_t raw_len = t->buf.len;
    uint8_t *raw = malloc(raw_len);
    assert_non_null(raw);
    memcpy(raw, t->buf.data, raw_len);

    encode(t, &r, 42);
    int same = t->buf.len == raw_len + 5 && !memcmp(t->buf.data + 5, raw, raw_len);
    free(raw);
    assert_true(same); /* header + the same Avro body */
    const uint8_t hdr[5] = {0x00, 0x00, 0x00, 0x00, 0x2A};
    assert_memory_equal(t->buf.data, hdr, 5);

    int32_t id = 0;
    const uint8_t *payload = NULL;
    size_t payload_len = 0;
    char err[256] = "";
    assert_int_equal(gs_frame_parse(t->buf.data, t->buf.len, GS_FRAMING_CONFLUENT, &id, &payload,
                                    &payload_len, err, sizeof(err)),
                     GS_OK);
    assert_int_equal(id, 42);
    assert_ptr_equal(payload, t->buf.data + 5);
    assert_int_equal(payload_len, t->buf.len - 5);
    decode_and_compare(t, payload, payload_len, &r);

    /* raw framing: the whole value is the payload */
    assert_int_equal(gs_frame_parse(t->buf.data, t->buf.len, GS_FRAMING_RAW, &id, &payload,
                                    &payload_len, err, sizeof(err)),
                     GS_OK);
    assert_int_equal(id, -1);
    assert_int_equal(payload_len, t->buf.len);

    /* a large id is big-endian */
    encode(t, &r, 0x01020304);
    const uint8_t hdr2[5] = {0x00, 0x01, 0x02, 0x03, 0x04};
    assert_memory_equal(t->buf.data, hdr2, 5);
    assert_int_equal(gs_frame_parse(t->buf.data, t->buf.len, GS_FRAMING_CONFLUENT, &id, &payload,
                                    &payload_len, err, sizeof(err)),
                     GS_OK);
    assert_int_equal(id, 0x01020304);

    /* too short for a header, or the wrong magic byte */
    assert_int_equal(gs_frame_parse(t->buf.data, 4, GS_FRAMING_CONFLUENT, &id, &payload,
                                    &payload_len, err, sizeof(err)),
                     GS_ERR_DECODE);
    uint8_t bad[8] = {0x01, 0, 0, 0, 42, 2, 'a', 0};
    assert_int_equal(gs_frame_parse(bad, sizeof(bad), GS_FRAMING_CONFLUENT, &id, &payload,
                                    &payload_len, err, sizeof(err)),
                     GS_ERR_DECODE);
}

/* Views need not be NUL-terminated (gs_str_t is "NUL-terminated when it
 * comes from Avro"): slices of a larger text encode as the slice. */
static void test_encode_slices(void **state)
{
    rt_t *t = *state;
    const char *text = "XXreq-42YY|sess-7|first turn, second turn";
    gs_avro_dialogue_request_t r;
    valid_request(&r);
    r.request_id = (gs_str_t){text + 2, 6};
    r.session_id = (gs_str_t){text + 11, 6};
    r.turns[0] = (gs_str_t){text + 18, 10};
    r.turns[1] = (gs_str_t){text + 30, 11};
    encode(t, &r, -1);
    decode_and_compare(t, t->buf.data, t->buf.len, &r);
}

/* The same with views that end exactly at the end of their buffer (e.g. a
 * memory-mapped corpus or a Kafka payload): nothing past len may be read. */
static void test_encode_unterminated_buffers(void **state)
{
    rt_t *t = *state;
    const char *parts[] = {"req-exact", "sess-exact", "tenant-exact", "only turn"};
    char *heap[4];
    for (size_t i = 0; i < 4; i++) {
        size_t len = strlen(parts[i]);
        heap[i] = malloc(len); /* no room for a NUL */
        assert_non_null(heap[i]);
        memcpy(heap[i], parts[i], len);
    }
    gs_avro_dialogue_request_t r;
    valid_request(&r);
    r.request_id = (gs_str_t){heap[0], strlen(parts[0])};
    r.session_id = (gs_str_t){heap[1], strlen(parts[1])};
    r.tenant = (gs_str_t){heap[2], strlen(parts[2])};
    r.turns[0] = (gs_str_t){heap[3], strlen(parts[3])};
    r.n_turns = 1;
    char err[512] = "";
    gs_err_t rc = gs_avro_dialogue_request_encode(&r, -1, &t->buf, err, sizeof(err));
    gs_str_t want_turns[1] = {S(parts[3])};
    gs_avro_dialogue_request_t want = r;
    want.turns = want_turns;
    want.request_id = S(parts[0]);
    want.session_id = S(parts[1]);
    want.tenant = S(parts[2]);
    for (size_t i = 0; i < 4; i++)
        free(heap[i]);
    if (rc)
        fail_msg("encode: %s", err);
    decode_and_compare(t, t->buf.data, t->buf.len, &want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_request),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_turn_text),
        cmocka_unit_test(test_turn_counts),
        cmocka_unit_test(test_turn_total_bytes),
        cmocka_unit_test(test_int_ranges),
        cmocka_unit_test(test_moral_value),
        cmocka_unit_test(test_created_at),
        cmocka_unit_test(test_utf8_cases),
        cmocka_unit_test(test_utf8_property),
        cmocka_unit_test_setup_teardown(test_round_trip, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_check_rejects_truncation, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_confluent_framing, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_encode_slices, rt_setup, rt_teardown),
        /* last: under ASan an out-of-bounds read aborts the process */
        cmocka_unit_test_setup_teardown(test_encode_unterminated_buffers, rt_setup, rt_teardown),
    };
    return cmocka_run_group_tests_name("validation", tests, NULL, NULL);
}
