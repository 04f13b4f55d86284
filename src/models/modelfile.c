/* Model files: header, JSON metadata, tensor table, 64-byte aligned tensor
 * data, SHA-256 trailer. Checks run from the cheapest and most specific
 * (truncation, bounds, per-tensor CRC32C) to the whole-file hash, so the
 * reason for a refusal names what is wrong. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "govstream/model.h"

#define HEADER  24
#define ENTRY   96
#define TRAILER 32
#define ALIGN   64

static const char magic[8] = {'G', 'S', 'M', 'O', 'D', 'E', 'L', '\0'};

struct gs_modelfile {
    const uint8_t *map;
    size_t size;
    uint32_t version, kind;
    char *meta;
    gs_tensor_t *tensors;
    size_t n;
    char sha256[65];
};

static size_t align_up(size_t v, size_t a)
{
    return (v + a - 1) / a * a;
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void hex(const uint8_t *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static size_t dtype_size(uint32_t dt)
{
    return dt == GS_DT_F32 || dt == GS_DT_U32 ? 4 : dt == GS_DT_BYTES ? 1 : 0;
}

/* ---- writing ------------------------------------------------------------ */

typedef struct out {
    FILE *fp;
    EVP_MD_CTX *md;
    uint64_t pos;
    int err;
} out_t;

static void put(out_t *o, const void *p, size_t n)
{
    if (o->err || !n)
        return;
    if (fwrite(p, 1, n, o->fp) != n || !EVP_DigestUpdate(o->md, p, n))
        o->err = 1;
    o->pos += n;
}

static void pad_to(out_t *o, uint64_t target)
{
    static const uint8_t zeros[ALIGN];
    while (o->pos < target) {
        size_t n = target - o->pos < ALIGN ? (size_t)(target - o->pos) : ALIGN;
        put(o, zeros, n);
    }
}

gs_err_t gs_modelfile_write(const char *path, uint32_t kind, const char *meta_json,
                            const gs_tensor_t *t, size_t count, char *errstr, size_t n)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    out_t o = {fopen(tmp, "wb"), EVP_MD_CTX_new(), 0, 0};
    if (!o.fp || !o.md || !EVP_DigestInit_ex(o.md, EVP_sha256(), NULL)) {
        if (o.fp)
            fclose(o.fp);
        EVP_MD_CTX_free(o.md);
        return gs_fail(errstr, n, GS_ERR_IO, "%s: %s", tmp, strerror(errno));
    }
    size_t meta_len = strlen(meta_json);
    uint8_t head[HEADER];
    memcpy(head, magic, 8);
    le32(head + 8, GS_MODEL_FORMAT_VERSION);
    le32(head + 12, kind);
    le32(head + 16, (uint32_t)meta_len);
    le32(head + 20, (uint32_t)count);
    put(&o, head, HEADER);
    put(&o, meta_json, meta_len);
    uint64_t table = align_up(HEADER + meta_len, 8);
    pad_to(&o, table);
    uint64_t data = align_up(table + count * ENTRY, ALIGN), off = data;
    for (size_t i = 0; i < count; i++) {
        uint8_t e[ENTRY] = {0};
        snprintf((char *)e, 32, "%s", t[i].name);
        le32(e + 32, t[i].dtype);
        le32(e + 36, t[i].ndim);
        for (int d = 0; d < 4; d++)
            le64(e + 40 + 8 * (size_t)d, d < (int)t[i].ndim ? t[i].dims[d] : 0);
        le64(e + 72, off);
        le64(e + 80, t[i].nbytes);
        le32(e + 88, gs_crc32c(0, t[i].data, t[i].nbytes));
        put(&o, e, ENTRY);
        off = align_up(off + t[i].nbytes, ALIGN);
    }
    for (size_t i = 0; i < count; i++) {
        pad_to(&o, align_up(o.pos, ALIGN));
        put(&o, t[i].data, t[i].nbytes);
    }
    uint8_t sha[TRAILER];
    unsigned int sha_len = 0;
    if (!o.err && !EVP_DigestFinal_ex(o.md, sha, &sha_len))
        o.err = 1;
    if (!o.err && fwrite(sha, 1, TRAILER, o.fp) != TRAILER)
        o.err = 1;
    if (!o.err && (fflush(o.fp) || fsync(fileno(o.fp))))
        o.err = 1;
    int saved = errno;
    fclose(o.fp);
    EVP_MD_CTX_free(o.md);
    if (o.err || rename(tmp, path)) {
        if (!o.err)
            saved = errno;
        unlink(tmp);
        return gs_fail(errstr, n, GS_ERR_IO, "writing %s: %s", path, strerror(saved));
    }
    return GS_OK;
}

/* ---- reading ------------------------------------------------------------ */

gs_err_t gs_modelfile_open(const char *path, gs_modelfile_t **out, char *errstr, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gs_fail(errstr, n, GS_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return gs_fail(errstr, n, GS_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    if (size < HEADER + TRAILER) {
        close(fd);
        return gs_fail(errstr, n, GS_ERR_DECODE, "%s: truncated: %zu bytes, less than a header",
                       path, size);
    }
    /* populated: the checks below read every byte anyway, and a served
     * file should not page-fault on the request path */
    const uint8_t *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return gs_fail(errstr, n, GS_ERR_IO, "%s: mmap: %s", path, strerror(errno));
    gs_modelfile_t *mf = calloc(1, sizeof(*mf));
    gs_err_t err = GS_OK;
    if (!mf) {
        munmap((void *)map, size);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    mf->map = map;
    mf->size = size;
    size_t body = size - TRAILER;
    if (memcmp(map, magic, 8) != 0) {
        err = gs_fail(errstr, n, GS_ERR_DECODE, "%s: not a govstream model file (bad magic)", path);
        goto out;
    }
    mf->version = rd32(map + 8);
    mf->kind = rd32(map + 12);
    uint32_t meta_len = rd32(map + 16);
    mf->n = rd32(map + 20);
    if (mf->version != GS_MODEL_FORMAT_VERSION) {
        err = gs_fail(errstr, n, GS_ERR_SCHEMA, "%s: format version %u, this build reads %u", path,
                      mf->version, GS_MODEL_FORMAT_VERSION);
        goto out;
    }
    uint64_t table = align_up((uint64_t)HEADER + meta_len, 8);
    if (table + (uint64_t)mf->n * ENTRY > body || mf->n > 1024) {
        err = gs_fail(errstr, n, GS_ERR_DECODE,
                      "%s: truncated or corrupt: metadata of %u bytes and %zu tensor entries do "
                      "not fit %zu bytes",
                      path, meta_len, mf->n, size);
        goto out;
    }
    mf->meta = strndup((const char *)map + HEADER, meta_len);
    mf->tensors = calloc(mf->n ? mf->n : 1, sizeof(*mf->tensors));
    if (!mf->meta || !mf->tensors) {
        err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < mf->n; i++) {
        const uint8_t *e = map + table + i * ENTRY;
        gs_tensor_t *t = &mf->tensors[i];
        memcpy(t->name, e, 31);
        t->name[31] = '\0';
        t->dtype = rd32(e + 32);
        t->ndim = rd32(e + 36);
        uint64_t elems = 1;
        int huge = 0; /* the product of the dims is checked before it could wrap */
        for (int d = 0; d < 4; d++) {
            t->dims[d] = rd64(e + 40 + 8 * (size_t)d);
            if (d >= (int)t->ndim)
                continue;
            if (t->dims[d] && elems > body / t->dims[d])
                huge = 1;
            else
                elems *= t->dims[d];
        }
        t->offset = rd64(e + 72);
        t->nbytes = rd64(e + 80);
        t->crc = rd32(e + 88);
        if (huge || !dtype_size(t->dtype) || t->ndim < 1 || t->ndim > 4 ||
            elems * dtype_size(t->dtype) != t->nbytes || t->offset % ALIGN) {
            err = gs_fail(errstr, n, GS_ERR_DECODE, "%s: tensor %zu (%s): corrupt table entry",
                          path, i, t->name);
            goto out;
        }
        if (t->offset > body || t->nbytes > body - t->offset) {
            err = gs_fail(errstr, n, GS_ERR_DECODE,
                          "%s: truncated: tensor %s ends at byte %" PRIu64 ", the data ends at %zu",
                          path, t->name, t->offset + t->nbytes, body);
            goto out;
        }
        t->data = map + t->offset;
        uint32_t crc = gs_crc32c(0, t->data, t->nbytes);
        if (crc != t->crc) {
            err = gs_fail(errstr, n, GS_ERR_DECODE,
                          "%s: tensor %s: CRC32C mismatch (stored %08x, computed %08x)", path,
                          t->name, t->crc, crc);
            goto out;
        }
    }
    uint8_t sha[32];
    unsigned int sha_len = 0;
    if (!EVP_Digest(map, body, sha, &sha_len, EVP_sha256(), NULL)) {
        err = gs_fail(errstr, n, GS_ERR_INTERNAL, "SHA-256 failed");
        goto out;
    }
    if (memcmp(sha, map + body, TRAILER) != 0) {
        char want[65], got[65];
        hex(map + body, 32, want);
        hex(sha, 32, got);
        err = gs_fail(errstr, n, GS_ERR_DECODE,
                      "%s: SHA-256 mismatch: trailer %.16s..., content %.16s... (header, "
                      "metadata or trailer damaged)",
                      path, want, got);
        goto out;
    }
    hex(sha, 32, mf->sha256);
out:
    if (err) {
        gs_modelfile_close(mf);
        return err;
    }
    *out = mf;
    return GS_OK;
}

void gs_modelfile_close(gs_modelfile_t *mf)
{
    if (!mf)
        return;
    if (mf->map)
        munmap((void *)mf->map, mf->size);
    free(mf->meta);
    free(mf->tensors);
    free(mf);
}

uint32_t gs_modelfile_kind(const gs_modelfile_t *mf)
{
    return mf->kind;
}

const char *gs_modelfile_meta(const gs_modelfile_t *mf)
{
    return mf->meta;
}

const char *gs_modelfile_sha256(const gs_modelfile_t *mf)
{
    return mf->sha256;
}

size_t gs_modelfile_size(const gs_modelfile_t *mf)
{
    return mf->size;
}

size_t gs_modelfile_count(const gs_modelfile_t *mf)
{
    return mf->n;
}

const gs_tensor_t *gs_modelfile_at(const gs_modelfile_t *mf, size_t i)
{
    return i < mf->n ? &mf->tensors[i] : NULL;
}

const gs_tensor_t *gs_modelfile_get(const gs_modelfile_t *mf, const char *name, gs_dtype_t dtype,
                                    uint64_t elements, char *errstr, size_t n)
{
    for (size_t i = 0; i < mf->n; i++) {
        const gs_tensor_t *t = &mf->tensors[i];
        if (strcmp(t->name, name) != 0)
            continue;
        const uint64_t want = elements * dtype_size(dtype);
        if (t->dtype != dtype || (elements && t->nbytes != want)) {
            gs_errfmt(errstr, n,
                      "tensor %s: %" PRIu64 " bytes of type %u, expected %" PRIu64 " of %u", name,
                      t->nbytes, t->dtype, want, (unsigned)dtype);
            return NULL;
        }
        return t;
    }
    gs_errfmt(errstr, n, "tensor %s is missing", name);
    return NULL;
}
