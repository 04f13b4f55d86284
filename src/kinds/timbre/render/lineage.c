/* Which sound fonts share samples (render.h): the names in each font's
 * sample headers (shdr). Byte hashes of the samples would miss what
 * matters here: MuseScore's SF3 stores the FluidR3 samples it took
 * Ogg-compressed and resampled, so their bytes differ while their names
 * stay. */
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t le32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* FNV-1a over the 46-byte header's name (its first 20 bytes). Only the
 * name: MuseScore keeps FluidR3's names but stores its samples at other
 * rates and tunings. */
static uint64_t header_key(const uint8_t *h)
{
    uint64_t k = 1469598103934665603ULL;
    for (size_t i = 0; i < 20 && h[i]; i++)
        k = (k ^ h[i]) * 1099511628211ULL;
    return k;
}

/* Finds the pdta LIST's shdr chunk, skipping sdta (the sample data, most
 * of the file) by seeking. */
static gs_err_t find_shdr(FILE *f, const char *path, long *at, uint32_t *size, char *errstr,
                          size_t n)
{
    uint8_t h[12];
    if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) != 0 || memcmp(h + 8, "sfbk", 4) != 0)
        return gs_fail(errstr, n, GS_ERR_DECODE, "%s: not a SoundFont", path);
    while (fread(h, 1, 8, f) == 8) {
        uint32_t len = le32(h + 4);
        if (memcmp(h, "LIST", 4) == 0) {
            uint8_t type[4];
            if (fread(type, 1, 4, f) != 4)
                break;
            if (memcmp(type, "pdta", 4) == 0)
                continue; /* descend: its sub-chunks follow */
            len -= 4;
        } else if (memcmp(h, "shdr", 4) == 0) {
            *at = ftell(f);
            *size = len;
            return GS_OK;
        }
        if (fseek(f, (long)len + (len & 1), SEEK_CUR) != 0)
            break;
    }
    return gs_fail(errstr, n, GS_ERR_DECODE, "%s: no sample headers (shdr)", path);
}

gs_err_t render_sample_keys(const char *path, uint64_t **keys, size_t *n_keys, char *errstr,
                            size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return gs_fail(errstr, n, GS_ERR_IO, "%s: cannot open", path);
    long at = 0;
    uint32_t size = 0;
    gs_err_t err = find_shdr(f, path, &at, &size, errstr, n);
    uint8_t *buf = err ? NULL : malloc(size + 1);
    if (!err && (!buf || fread(buf, 1, size, f) != (size_t)size))
        err = gs_fail(errstr, n, GS_ERR_IO, "%s: short sample headers", path);
    fclose(f);
    size_t count = err ? 0 : size / 46;
    *keys = err ? NULL : malloc((count + 1) * sizeof(uint64_t));
    if (!err && !*keys)
        err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !err && i < count; i++)
        (*keys)[i] = header_key(buf + 46 * i);
    free(buf);
    if (err)
        return err;
    /* the last header is the terminal "EOS" record */
    *n_keys = count ? count - 1 : 0;
    qsort(*keys, *n_keys, sizeof(uint64_t), cmp_u64);
    size_t u = 0; /* a name used twice counts once */
    for (size_t i = 0; i < *n_keys; i++)
        if (u == 0 || (*keys)[i] != (*keys)[u - 1])
            (*keys)[u++] = (*keys)[i];
    *n_keys = u;
    return GS_OK;
}

double render_shared(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
    size_t i = 0, j = 0, common = 0;
    while (i < na && j < nb) {
        if (a[i] == b[j]) {
            common++;
            i++;
            j++;
        } else if (a[i] < b[j]) {
            i++;
        } else {
            j++;
        }
    }
    size_t smaller = na < nb ? na : nb;
    return smaller ? (double)common / (double)smaller : 0.0;
}

static int root(int *parent, int i)
{
    while (parent[i] != i)
        i = parent[i] = parent[parent[i]];
    return i;
}

void render_lineages(const double *shared, int n_fonts, double threshold, int *lineage)
{
    int parent[RENDER_MAX_FONTS];
    for (int i = 0; i < n_fonts; i++)
        parent[i] = i;
    for (int i = 0; i < n_fonts; i++)
        for (int j = i + 1; j < n_fonts; j++)
            if (shared[i * n_fonts + j] >= threshold)
                parent[root(parent, j)] = root(parent, i);
    /* number the lineages in the order of their first font */
    int id[RENDER_MAX_FONTS], next = 0;
    for (int i = 0; i < n_fonts; i++)
        id[i] = -1;
    for (int i = 0; i < n_fonts; i++) {
        int r = root(parent, i);
        if (id[r] < 0)
            id[r] = next++;
        lineage[i] = id[r];
    }
}
