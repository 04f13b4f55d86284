/* Scope snapshot decoding (gs_govern_restore, SPEC 3.6), into a governor
 * configured as the worker's is but smaller (8 wake + 4 sleep steps, 8
 * memory vectors, 64 MiB). First byte 1: the harness writes the right
 * CRC32C over the rest, so that the fuzzer gets past the checksum to the
 * length fields and values; 0: the bytes as they are. */
#include "fuzz.h"

#include "govstream/common.h"

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
    gs_govern_restore(fuzz_governor(0), 0, buf, len, err, sizeof(err));
    free(buf);
    return 0;
}
