/* Error names, clocks, file and UTF-8 helpers shared by all modules. */
#include "govstream/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const err_names[GS_ERR__COUNT] = {
    [GS_OK] = "OK",
    [GS_ERR_DECODE] = "DECODE",
    [GS_ERR_SCHEMA] = "SCHEMA",
    [GS_ERR_VALIDATION] = "VALIDATION",
    [GS_ERR_TOO_LARGE] = "TOO_LARGE",
    [GS_ERR_INTERNAL] = "INTERNAL",
    [GS_ERR_TRANSPORT] = "TRANSPORT",
    [GS_ERR_CONFIG] = "CONFIG",
    [GS_ERR_IO] = "IO",
    [GS_ERR_NOMEM] = "NOMEM",
    [GS_ERR_INVALID_ARG] = "INVALID_ARG",
    [GS_ERR_NOT_FOUND] = "NOT_FOUND",
    [GS_ERR_KAFKA] = "KAFKA",
};

const char *gs_err_name(gs_err_t err)
{
    if ((unsigned)err >= GS_ERR__COUNT)
        return "UNKNOWN";
    return err_names[err];
}

void gs_errfmt(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (errstr && errstr_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
}

int gs_grow(void *array, size_t n, size_t size)
{
    void *old;
    memcpy(&old, array, sizeof(old)); /* array is a T **, whatever T is */
    if (size && n > SIZE_MAX / size)
        return -1;
    size_t bytes = n * size;
    void *p = realloc(old, bytes ? bytes : 1); /* realloc(p, 0) may free p */
    if (!p)
        return -1;
    memcpy(array, &p, sizeof(p)); /* stored through array: not a leak */
    // cppcheck-suppress memleak
    return 0;
}

int gs_grow_one(void *array, size_t len, size_t *cap, size_t size, size_t first)
{
    if (len < *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : first;
    if (gs_grow(array, n, size))
        return -1;
    *cap = n;
    return 0;
}

void gs_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int64_t gs_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t gs_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

gs_err_t gs_read_file(const char *path, char **out, size_t *out_len, char *errstr,
                      size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return gs_fail(errstr, errstr_size, GS_ERR_IO, "%s: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, f);
        if (len < cap - 1)
            break;
        char *nbuf = realloc(buf, cap * 2);
        if (!nbuf) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nbuf;
        cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (!buf)
        return gs_fail(errstr, errstr_size, GS_ERR_NOMEM, "%s: out of memory", path);
    if (failed) {
        free(buf);
        return gs_fail(errstr, errstr_size, GS_ERR_IO, "%s: read error", path);
    }
    buf[len] = '\0';
    *out = buf;
    if (out_len)
        *out_len = len;
    return GS_OK;
}

int gs_ident_valid(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

int gs_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        if (c < 0x80) {
            /* skip runs of ASCII eight bytes at a time */
            uint64_t v;
            while (end - p >= 8 && (memcpy(&v, p, 8), !(v & 0x8080808080808080ull)))
                p += 8;
            if (p < end && *p < 0x80)
                p++;
            continue;
        }
        size_t n;
        unsigned cp, min;
        if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if ((size_t)(end - p) <= n)
            return 0;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        p += n + 1;
    }
    return 1;
}
