/* Changelog records (SPEC 3.6) as a restore reads them: the state layer's
 * frame check (gs_state_parse), then the governor's apply, the end of the
 * restore, the next changes and the revoke, into a governor configured as
 * the worker's is but smaller (8 wake + 4 sleep steps, 8 memory vectors,
 * 64 MiB, changelog on). The input is a sequence of records:
 *   u8 flags  u16 key_len  u16 value_len  key  value
 * flags bit 0: the harness writes the right CRC32C at the value's end, so
 * mutations reach the payload; bit 1: a tombstone (no value); bits 4-5:
 * the input partition (0..3). */
#include "fuzz.h"

#include "govstream/common.h"
#include "govstream/state.h"

#define PARTITIONS 4

static void sink(void *opaque, int32_t partition, const void *key, size_t key_len,
                 const void *value, size_t value_len)
{
    (void)opaque, (void)partition, (void)key, (void)key_len, (void)value, (void)value_len;
}

static size_t u16le(const uint8_t *p)
{
    return (size_t)p[0] | (size_t)p[1] << 8;
}

/* One record of the input at data[*at]; 0 at the end of the input. */
static int one_record(gs_govern_t *g, const uint8_t *data, size_t size, size_t *at, uint8_t *buf)
{
    if (size - *at < 5)
        return 0;
    const uint8_t *h = data + *at;
    size_t klen = u16le(h + 1), vlen = u16le(h + 3);
    if (size - *at - 5 < klen + vlen)
        return 0;
    memcpy(buf, h + 5, klen + vlen);
    *at += 5 + klen + vlen;
    if ((h[0] & 1) && vlen >= 4) {
        uint32_t crc = gs_crc32c(gs_crc32c(0, buf, klen), buf + klen, vlen - 4);
        for (int i = 0; i < 4; i++)
            buf[klen + vlen - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
    }
    int32_t partition = (h[0] >> 4) & (PARTITIONS - 1);
    gs_state_record_t r;
    char err[512];
    if (gs_state_parse(buf, klen, (h[0] & 2) ? NULL : buf + klen, vlen, &r, err, sizeof(err)))
        return 1;
    if (r.store.len == 15 && !memcmp(r.store.p, "dialogue.scopes", 15))
        gs_govern_apply(g, partition, r.seq, r.key, r.key_len, r.payload, r.payload_len, err,
                        sizeof(err));
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gs_govern_t *g = fuzz_governor(1);
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    size_t at = 0;
    while (one_record(g, data, size, &at, buf))
        ;
    free(buf);
    char err[512];
    for (int32_t p = 0; p < PARTITIONS; p++)
        gs_govern_restored(g, p);
    gs_govern_changes(g, sink, NULL, err, sizeof(err));
    for (int32_t p = 0; p < PARTITIONS; p++)
        gs_govern_drop(g, p);
    gs_govern_changes(g, sink, NULL, err, sizeof(err)); /* drops log nothing */
    return 0;
}
