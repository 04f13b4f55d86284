/* The screening itself, as the kind calls it (private to src/kinds/screen):
 * a loaded watch list with its search index and the payment-context
 * dictionaries, and the run over one request. */
#ifndef GS_KINDS_SCREEN_ENGINE_H
#define GS_KINDS_SCREEN_ENGINE_H

#include "govstream/screen.h"

typedef struct gs_screen_engine gs_screen_engine_t;   /* immutable once loaded */
typedef struct gs_screen_scratch gs_screen_scratch_t; /* one per thread, reused */

typedef struct screen_thresholds {
    double high, medium;
} screen_thresholds_t;

/* Maps and verifies a watch-list file (govstream watchlist build) and
 * opens its index; the reason for a refusal is precise. */
gs_err_t gs_screen_engine_load(const char *path, gs_screen_engine_t **out, char *errstr,
                               size_t errstr_size);
void gs_screen_engine_destroy(gs_screen_engine_t *e);
/* The list as results name it (empty strings for NULL). */
gs_avro_model_ref_t gs_screen_engine_ref(const gs_screen_engine_t *e);

gs_err_t gs_screen_scratch_new(gs_screen_scratch_t **out, char *errstr, size_t errstr_size);
void gs_screen_scratch_destroy(gs_screen_scratch_t *s);

/* Screens a valid request: fills res's decision, score, language,
 * matches, identifiers and reasons (arrays in the arena). */
gs_err_t gs_screen_engine_run(const gs_screen_engine_t *e, gs_screen_scratch_t *s,
                              const gs_avro_screen_request_t *req, const screen_thresholds_t *t,
                              gs_avro_screen_result_t *res, gs_arena_t *arena, char *errstr,
                              size_t errstr_size);

#endif
