/* The model-file loader. First byte 0: the rest is a model file, opened by
 * gs_dmodel_load (header, table bounds, CRC32C per tensor, SHA-256; the
 * hash stops most mutations, the structure checks come before it). First
 * byte 1: the rest is the metadata JSON of a dialogue model file that the
 * harness writes with correct checksums and no tensors, so that fuzzed
 * metadata reaches its parsing and range checks. */
#include "fuzz.h"

#include "govstream/model.h"

/* A file of this process's own, removed after every input. */
static const char *scratch(void)
{
    static char path[64];
    if (!*path)
        snprintf(path, sizeof(path), "/tmp/gs-fuzz-model-%d.gsm", (int)getpid());
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char path[64], err[512];
    gs_dmodel_t *m = NULL;
    if (data[0] & 1) {
        char *meta = fuzz_cstr(data + 1, size - 1);
        if (!meta)
            return 0;
        const char *file = scratch();
        if (!gs_modelfile_write(file, GS_MODEL_KIND_DIALOGUE, meta, NULL, 0, err, sizeof(err)) &&
            !gs_dmodel_load(file, &m, err, sizeof(err)))
            gs_dmodel_destroy(m);
        unlink(file);
        free(meta);
        return 0;
    }
    int fd = fuzz_file(data + 1, size - 1, path, sizeof(path));
    if (fd < 0)
        return 0;
    if (!gs_dmodel_load(path, &m, err, sizeof(err)))
        gs_dmodel_destroy(m);
    close(fd);
    return 0;
}
