/* JSON-lines logger. Lines are assembled in a stack buffer and written with
 * a single write(2), so lines from librdkafka's threads never interleave. */
#include "govstream/log.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct gs_log {
    int fd;
    gs_log_level_t level;
    char *worker_id;
};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

gs_log_t *gs_log_new(int fd, gs_log_level_t level, const char *worker_id)
{
    gs_log_t *log = calloc(1, sizeof(*log));
    if (!log)
        return NULL;
    log->fd = fd;
    log->level = level;
    log->worker_id = strdup(worker_id ? worker_id : "");
    if (!log->worker_id) {
        free(log);
        return NULL;
    }
    return log;
}

void gs_log_destroy(gs_log_t *log)
{
    if (!log)
        return;
    free(log->worker_id);
    free(log);
}

int gs_log_enabled(const gs_log_t *log, gs_log_level_t level)
{
    return log && level >= log->level;
}

typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
    if (b->len + n >= b->cap) /* keep room for the newline; truncate long lines */
        n = b->cap - b->len - 1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void putf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n < b->cap - b->len ? (size_t)n : b->cap - b->len - 1;
}

/* JSON string escaping; control bytes as \u00XX. */
static void put_str(buf_t *b, const char *s)
{
    put(b, "\"", 1);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(b, e, 2);
        } else if (c < 0x20) {
            putf(b, "\\u%04x", c);
        } else {
            put(b, (const char *)&c, 1);
        }
    }
    put(b, "\"", 1);
}

void gs_log_write(gs_log_t *log, gs_log_level_t level, const char *msg,
                  const gs_log_field_t *fields, size_t n_fields)
{
    if (!gs_log_enabled(log, level))
        return;
    char mem[4096];
    buf_t b = {mem, 0, sizeof(mem)};
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    putf(&b, "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\",\"msg\":",
         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
         ts.tv_nsec / 1000000, level_names[level]);
    put_str(&b, msg);
    put(&b, ",\"worker_id\":", 13);
    put_str(&b, log->worker_id);
    for (size_t i = 0; i < n_fields; i++) {
        put(&b, ",", 1);
        put_str(&b, fields[i].key);
        put(&b, ":", 1);
        switch (fields[i].type) {
        case GS_LF_STR:
            put_str(&b, fields[i].s);
            break;
        case GS_LF_INT:
            putf(&b, "%lld", (long long)fields[i].i);
            break;
        case GS_LF_DBL:
            if (isfinite(fields[i].d))
                putf(&b, "%.6g", fields[i].d);
            else
                put(&b, "null", 4);
            break;
        }
    }
    put(&b, "}", 1);
    b.p[b.len++] = '\n';
    ssize_t off = 0;
    while (off < (ssize_t)b.len) {
        ssize_t w = write(log->fd, b.p + off, b.len - (size_t)off);
        if (w <= 0)
            break;
        off += w;
    }
}
