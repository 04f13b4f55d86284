/* The intent model's training command (train.c) and its evaluation
 * (eval.c), private to src/kinds/intent. */
#ifndef GS_KINDS_INTENT_TRAIN_H
#define GS_KINDS_INTENT_TRAIN_H

#include <jansson.h>

#include "internal.h"

typedef struct train_conf {
    uint64_t seed;
    size_t n_train, n_test; /* scenes; test: per observed fraction */
    const char *out, *report, *gunpoint, *name, *version;
} train_conf_t;

/* Which scenes a split draws: its own subject population and subject
 * range, and its own streams of scene and noise seeds. */
typedef struct split {
    const char *name;
    uint64_t subject_seed, stream;
    long first_subject, subjects;
} split_t;

typedef struct dataset {
    double *f; /* n x N_FEATURES */
    int *y;
    size_t n;
} dataset_t;

extern const char *const intent_names[N_INTENTS];

/* The i-th scene of a split (labels cycle through the six intents). */
void split_scene(const train_conf_t *c, const split_t *sp, size_t i, double fraction, gen_out_t *g);
void dataset_free(dataset_t *ds);

/* Held-out evaluation into rep: accuracy at three observed fractions
 * against the baselines, recall per class, the confusion matrix, target
 * choice and the +0.5 s forecast error. */
gs_err_t evaluate(const train_conf_t *c, const intent_params_t *p, const dataset_t *train,
                  json_t *rep, char *errstr, size_t errstr_size);

/* The real-data check on UCR GunPoint (a CSV of split,label,values...). */
gs_err_t gunpoint_check(const train_conf_t *c, const intent_params_t *p, json_t *rep, char *errstr,
                        size_t errstr_size);

/* The q-quantile of v[0..n) (sorted in place; NaN when n is 0). */
double quantile_of(double *v, size_t n, double q);

/* PREFIX.json (text) and PREFIX.svg (accuracy and forecast error). */
gs_err_t write_report(const char *prefix, json_t *rep, const char *text, char *errstr,
                      size_t errstr_size);

#endif
