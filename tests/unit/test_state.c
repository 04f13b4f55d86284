/* Unit tests of the changelog framing (govstream/state.h): records framed
 * and parsed back, tombstones, and every kind of damage refused. The
 * restore and the logging themselves run against a real broker
 * (it.state). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "govstream/common.h"
#include "govstream/state.h"

static const uint8_t payload[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};

static void frame(gs_buf_t *b, const char *store, const char *key, const void *p, size_t len,
                  size_t *voff)
{
    assert_int_equal(
        gs_state_frame(b, store, key, strlen(key), 0x0102030405060708ull, p, len, voff), GS_OK);
}

static gs_err_t parse(const gs_buf_t *b, size_t voff, int tombstone, gs_state_record_t *r,
                      char *err, size_t n)
{
    return gs_state_parse(b->data, voff, tombstone ? NULL : b->data + voff, b->len - voff, r, err,
                          n);
}

static void test_round_trip(void **state)
{
    (void)state;
    gs_buf_t b = {0};
    size_t voff;
    char err[256] = "";
    gs_state_record_t r;
    frame(&b, "dialogue.scopes", "Htenant-1", payload, sizeof(payload), &voff);
    assert_int_equal(voff, strlen("dialogue.scopes") + 1 + strlen("Htenant-1"));
    assert_int_equal(b.len - voff, GS_STATE_FRAME_BYTES + sizeof(payload));
    assert_memory_equal(b.data + voff, "GSST", 4);
    assert_int_equal(parse(&b, voff, 0, &r, err, sizeof(err)), GS_OK);
    assert_int_equal(r.store.len, strlen("dialogue.scopes"));
    assert_memory_equal(r.store.p, "dialogue.scopes", r.store.len);
    assert_int_equal(r.key_len, strlen("Htenant-1"));
    assert_memory_equal(r.key, "Htenant-1", r.key_len);
    assert_int_equal(r.seq, 0x0102030405060708ull);
    assert_int_equal(r.payload_len, sizeof(payload));
    assert_memory_equal(r.payload, payload, sizeof(payload));
    /* an empty payload is a value, not a tombstone */
    frame(&b, "s", "k", payload, 0, &voff);
    assert_int_equal(parse(&b, voff, 0, &r, err, sizeof(err)), GS_OK);
    assert_non_null(r.payload);
    assert_int_equal(r.payload_len, 0);
    /* a tombstone: the key alone */
    frame(&b, "timbre.recordings", "rec-9", NULL, 0, &voff);
    assert_int_equal(b.len, voff);
    assert_int_equal(parse(&b, voff, 1, &r, err, sizeof(err)), GS_OK);
    assert_null(r.payload);
    assert_memory_equal(r.key, "rec-9", 5);
    gs_buf_free(&b);
}

static void expect(gs_err_t got, gs_err_t want, const char *what, size_t at, const char *err)
{
    if (got != want)
        fail_msg("%s at byte %zu: %d, expected %d (%s)", what, at, (int)got, (int)want, err);
    if (!err[0])
        fail_msg("%s at byte %zu: no reason given", what, at);
}

/* Every flipped bit of key or value, every truncation and every extension
 * fails the CRC or the frame's checks. */
static void test_damage(void **state)
{
    (void)state;
    gs_buf_t b = {0};
    size_t voff;
    char err[256];
    gs_state_record_t r;
    frame(&b, "dialogue.scopes", "Sscope", payload, sizeof(payload), &voff);
    for (size_t i = 0; i < b.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            b.data[i] ^= (uint8_t)(1u << bit);
            err[0] = 0;
            gs_err_t e = parse(&b, voff, 0, &r, err, sizeof(err));
            b.data[i] ^= (uint8_t)(1u << bit);
            if (e == GS_OK)
                fail_msg("flipped bit %d of byte %zu accepted", bit, i);
        }
    for (size_t len = voff; len < b.len; len++) {
        err[0] = 0;
        gs_err_t e = gs_state_parse(b.data, voff, b.data + voff, len - voff, &r, err, sizeof(err));
        expect(e, GS_ERR_DECODE, "truncated value", len, err);
    }
    assert_int_equal(gs_buf_reserve(&b, 1), 0);
    b.data[b.len] = 0;
    err[0] = 0;
    expect(gs_state_parse(b.data, voff, b.data + voff, b.len + 1 - voff, &r, err, sizeof(err)),
           GS_ERR_DECODE, "extended value", b.len, err);
    gs_buf_free(&b);
}

/* Keys without a store name, and a value of another version with a valid
 * CRC (written by a newer build): SCHEMA, so it is reported as such. */
static void test_refused(void **state)
{
    (void)state;
    char err[256] = "";
    gs_state_record_t r;
    expect(gs_state_parse("nonul", 5, NULL, 0, &r, err, sizeof(err)), GS_ERR_DECODE, "no NUL", 0,
           err);
    err[0] = 0;
    expect(gs_state_parse("\0key", 4, NULL, 0, &r, err, sizeof(err)), GS_ERR_DECODE, "empty store",
           0, err);
    err[0] = 0;
    expect(gs_state_parse(NULL, 0, NULL, 0, &r, err, sizeof(err)), GS_ERR_DECODE, "empty key", 0,
           err);
    char longname[GS_STATE_STORE_MAX + 2];
    memset(longname, 'n', GS_STATE_STORE_MAX);
    longname[GS_STATE_STORE_MAX] = 0;
    longname[GS_STATE_STORE_MAX + 1] = 'k';
    err[0] = 0;
    expect(gs_state_parse(longname, sizeof(longname), NULL, 0, &r, err, sizeof(err)), GS_ERR_DECODE,
           "long store name", 0, err);

    gs_buf_t b = {0};
    size_t voff;
    frame(&b, "s", "k", payload, sizeof(payload), &voff);
    b.data[voff + 4] = GS_STATE_VERSION + 1;
    uint32_t crc = gs_crc32c(gs_crc32c(0, b.data, voff), b.data + voff, b.len - voff - 4);
    for (int i = 0; i < 4; i++)
        b.data[b.len - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
    err[0] = 0;
    expect(parse(&b, voff, 0, &r, err, sizeof(err)), GS_ERR_SCHEMA, "next version", voff + 4, err);
    gs_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_damage),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
