/* Scope snapshot decoding (gs_govern_restore, SPEC 3.6), into a governor
 * configured as the worker's is but smaller (8 wake + 4 sleep steps, 8
 * memory vectors, 64 MiB). First byte 1: the harness writes the right
 * CRC32C over the rest, so that the fuzzer gets past the checksum to the
 * length fields and values; 0: the bytes as they are. */
#include "fuzz.h"

#include "govstream/common.h"
#include "govstream/govern.h"

static gs_govern_t *governor(void)
{
    static gs_lexicon_t *lx;
    static gs_govern_t *g;
    if (g)
        return g;
    static const char *const harm[] = {"harm"}, *const care[] = {"care"};
    gs_govern_conf_t gc = {.wake_steps = 8,
                           .sleep_steps = 4,
                           .max_scopes = 4,
                           .memory_capacity = 8,
                           .max_memory_bytes = 64u << 20};
    char err[512];
    if (gs_lexicon_new(harm, 1, care, 1, &lx, err, sizeof(err)) ||
        gs_govern_new(&gc, lx, &g, err, sizeof(err))) {
        fprintf(stderr, "fuzz_snapshot: %s\n", err);
        abort();
    }
    return g;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t *buf = malloc(size);
    if (!buf)
        return 0;
    size_t len = size - 1;
    memcpy(buf, data + 1, len);
    if ((data[0] & 1) && len >= 4) {
        uint32_t crc = gs_crc32c(0, buf, len - 4);
        for (int i = 0; i < 4; i++)
            buf[len - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
    }
    char err[512];
    gs_govern_restore(governor(), 0, buf, len, err, sizeof(err));
    free(buf);
    return 0;
}
