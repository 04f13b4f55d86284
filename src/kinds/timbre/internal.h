/* The timbre kind's private declarations (src/kinds/timbre). */
#ifndef GS_KINDS_TIMBRE_INTERNAL_H
#define GS_KINDS_TIMBRE_INTERNAL_H

#include "govstream/kind.h"
#include "govstream/schemas.h"
#include "govstream/timbre.h"

/* SPEC 1.4 limits. */
#define TIMBRE_MIN_MS       250
#define TIMBRE_MAX_MS       10000
#define TIMBRE_MAX_CLIP_IDX 100000

/* `govstream train timbre ...` (train.c). */
int timbre_train_main(int argc, char **argv);

/* GS_ERR_VALIDATION naming the field and the limit (validate.c). */
gs_err_t timbre_request_validate(const gs_avro_timbre_request_t *r, char *errstr,
                                 size_t errstr_size);

/* ---- the recordings being aggregated (recordings.c) ---------------------- */
typedef struct rec_table rec_table_t;

gs_err_t rec_new(size_t max, double idle_s, rec_table_t **out, char *errstr, size_t errstr_size);
void rec_destroy(rec_table_t *t);
/* Adds a clip's log-probabilities to its recording (made on its first
 * clip; the least recently updated one is evicted from a full table) and
 * gives the sums so far and the clips counted; `last` closes it. */
uint32_t rec_add(rec_table_t *t, int32_t partition, gs_str_t key, const double *logp,
                 int64_t now_ms, int last, double *sum);
/* The sums and clips of a recording without adding a clip (0: none);
 * `close` ends it. */
uint32_t rec_peek(rec_table_t *t, int32_t partition, gs_str_t key, int close, double *sum);
/* Ends the recordings idle for longer than idle_s at now_ms. */
void rec_expire(rec_table_t *t, int64_t now_ms);
size_t rec_count(const rec_table_t *t);
uint64_t rec_expired(const rec_table_t *t);
extern const gs_store_ops_t rec_store_ops;

/* ---- govstream-load's side (load.c, wav.c) -------------------------------- */
extern const gs_kind_load_t timbre_load;

typedef struct timbre_wav {
    int rate;
    size_t frames; /* in the file */
    int16_t *pcm;  /* the frames read, mixed to mono (malloc'd) */
    size_t n;
} timbre_wav_t;

/* Frames [first, first + count) of a WAV file (cut at its end).
 * GS_ERR_IO, GS_ERR_DECODE naming what it cannot read, GS_ERR_NOMEM. */
gs_err_t timbre_wav_read(const char *path, size_t first, size_t count, timbre_wav_t *w,
                         char *errstr, size_t errstr_size);

#endif
