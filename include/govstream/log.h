/* govstream - structured logs: one JSON object per line on stderr,
 *   {"ts":"2026-11-23T10:00:00.123Z","level":"info","msg":"...", fields...}
 *
 * Only ids, counts and error texts go in fields: request text, generated
 * text and secrets must never be logged (tests grep for them). */
#ifndef GOVSTREAM_LOG_H
#define GOVSTREAM_LOG_H

#include <stdint.h>

#include "govstream/config.h"

typedef struct gs_log gs_log_t;

typedef enum { GS_LF_STR, GS_LF_INT, GS_LF_DBL } gs_log_field_type_t;

typedef struct gs_log_field {
    const char *key;
    gs_log_field_type_t type;
    const char *s;
    int64_t i;
    double d;
} gs_log_field_t;

#define GS_LS(k, v) ((gs_log_field_t){(k), GS_LF_STR, (v), 0, 0})
#define GS_LI(k, v) ((gs_log_field_t){(k), GS_LF_INT, NULL, (int64_t)(v), 0})
#define GS_LD(k, v) ((gs_log_field_t){(k), GS_LF_DBL, NULL, 0, (double)(v)})

/* fd: where lines go (2 = stderr). worker_id is added to every line. */
gs_log_t *gs_log_new(int fd, gs_log_level_t level, const char *worker_id);
void gs_log_destroy(gs_log_t *log);
int gs_log_enabled(const gs_log_t *log, gs_log_level_t level);

/* Thread-safe: one write(2) per line. */
void gs_log_write(gs_log_t *log, gs_log_level_t level, const char *msg,
                  const gs_log_field_t *fields, size_t n_fields);

#define GS_LOG_(log, lvl, msg, ...)                                                                \
    gs_log_write((log), (lvl), (msg), (const gs_log_field_t[]){__VA_ARGS__},                       \
                 sizeof((const gs_log_field_t[]){__VA_ARGS__}) / sizeof(gs_log_field_t))
/* Usage: gs_log_info(log, "assigned", GS_LS("topic", t), GS_LI("partition", p));
 * a line without fields: gs_log_msg(log, GS_LOG_INFO, "ready"). */
#define gs_log_msg(log, lvl, msg)   gs_log_write((log), (lvl), (msg), NULL, 0)
#define gs_log_debug(log, msg, ...) GS_LOG_(log, GS_LOG_DEBUG, msg, __VA_ARGS__)
#define gs_log_info(log, msg, ...)  GS_LOG_(log, GS_LOG_INFO, msg, __VA_ARGS__)
#define gs_log_warn(log, msg, ...)  GS_LOG_(log, GS_LOG_WARN, msg, __VA_ARGS__)
#define gs_log_error(log, msg, ...) GS_LOG_(log, GS_LOG_ERROR, msg, __VA_ARGS__)

#endif
