/* `govstream train timbre` (train.c), its data (data.c) and its held-out
 * evaluation (eval.c); private to src/kinds/timbre. docs/TIMBRE.md,
 * "Training data" and "Evaluation". */
#ifndef GS_KINDS_TIMBRE_TRAIN_H
#define GS_KINDS_TIMBRE_TRAIN_H

#include <jansson.h>

#include "cnn.h"
#include "model.h"
#include "notes.h"

/* The pooled vectors of every note, clean and augmented: row
 * copy * n_notes + note, copy 0 the note as rendered. */
typedef struct tdata {
    note_set_t notes;
    size_t copies; /* 1 + the augmented copies of each note */
    double *pooled;
    /* the CNN inputs: row (copy, note) at mel + copy * mel_copy + mel_off[note],
     * GS_TIMBRE_N_MELS x mel_width[note] */
    float *mel;
    size_t *mel_off, *mel_width, mel_copy;
} tdata_t;

typedef struct train_conf {
    const char *notes, *out, *report, *name, *version;
    uint64_t seed;
    size_t augment; /* augmented copies per note */
    int max_epochs;
} train_conf_t;

/* Reads the notes and computes every row's pooled vector; the augmented
 * copies get gain, a tilt EQ, noise and a resampling round trip, each
 * drawn from the seed and the note (data.c). */
gs_err_t tdata_build(const train_conf_t *c, tdata_t *d, char *errstr, size_t errstr_size);
void tdata_free(tdata_t *d);
static inline const double *tdata_row(const tdata_t *d, size_t copy, size_t note)
{
    return d->pooled + (copy * d->notes.n + note) * GS_TIMBRE_N_POOLED;
}

/* A split's role for each note. */
enum { ROLE_NONE = 0, ROLE_TRAIN, ROLE_VAL, ROLE_TEST };

/* Fits a model on the rows of the TRAIN notes (every copy), stopping and
 * calibrating on the clean VAL notes; features: the pooled indices used
 * (GS_TIMBRE_N_POOLED for all, or the seed's 34). */
gs_err_t timbre_fit(const train_conf_t *c, const tdata_t *d, const unsigned char *role,
                    const size_t *features, size_t n_features, timbre_model_t *m,
                    mlp_fit_result_t *res, char *errstr, size_t errstr_size);

/* The same with the CNN on the log-mel rows. */
gs_err_t timbre_fit_cnn(const train_conf_t *c, const tdata_t *d, const unsigned char *role,
                        cnn_t *m, mlp_fit_result_t *res, char *errstr, size_t errstr_size);

/* The held-out evaluation, every split and baseline, into rep (eval.c). */
gs_err_t timbre_evaluate(const train_conf_t *c, const tdata_t *d, json_t *rep, char *errstr,
                         size_t errstr_size);

/* The validation programs: one per family per lineage side, skipping
 * those in `avoid` (128 flags, or NULL). */
void timbre_val_programs(uint64_t seed, const unsigned char *avoid, unsigned char *val);

/* PREFIX.json and the pictures next to it (eval.c). */
gs_err_t timbre_write_report(const char *prefix, json_t *rep, char *errstr, size_t errstr_size);

#endif
