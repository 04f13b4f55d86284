/* A small multilayer perceptron (private to src/kinds/timbre): dense
 * layers with ReLU between them and a softmax at the end, in float32 with
 * OpenBLAS SGEMM. The timbre model's classifier on the pooled features
 * (docs/TIMBRE.md, "Classifier"), and its trainer: Adam on a class-
 * weighted cross-entropy, dropout on the hidden layers, early stopping on
 * the validation loss, then a temperature fitted on the validation set. */
#ifndef GS_KINDS_TIMBRE_MLP_H
#define GS_KINDS_TIMBRE_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "govstream/common.h"

#define MLP_MAX_LAYERS 4

typedef struct mlp {
    int n_layers;                 /* dense layers */
    int dims[MLP_MAX_LAYERS + 1]; /* dims[0] inputs ... dims[n_layers] classes */
    float *w[MLP_MAX_LAYERS];     /* layer l: dims[l+1] x dims[l], row-major */
    float *b[MLP_MAX_LAYERS];     /* dims[l+1] */
    float temperature;            /* logits are divided by it */
} mlp_t;

/* He-initialised weights (seeded). GS_ERR_INVALID_ARG, GS_ERR_NOMEM. */
gs_err_t mlp_init(mlp_t *m, int n_layers, const int *dims, uint64_t seed, char *errstr,
                  size_t errstr_size);
void mlp_free(mlp_t *m);

/* The widest layer: scratch sizes are rows x mlp_width floats. */
int mlp_width(const mlp_t *m);

/* Class probabilities (rows x classes) of x (rows x dims[0]); scratch
 * holds 2 x rows x mlp_width floats. */
void mlp_predict(const mlp_t *m, const float *x, size_t rows, float *probs, float *scratch);

typedef struct mlp_fit_conf {
    int max_epochs, patience, batch;
    double lr, l2, dropout;
    uint64_t seed;
    const char *progress; /* a label for the progress line on a terminal, or NULL */
} mlp_fit_conf_t;

typedef struct mlp_fit_result {
    int epochs, best_epoch;
    double val_loss, temperature;
} mlp_fit_result_t;

/* Fits m to (x, y) (n rows), keeping the weights of the epoch with the
 * lowest validation loss on (xv, yv), then fits the temperature there.
 * GS_ERR_NOMEM. */
gs_err_t mlp_fit(mlp_t *m, const float *x, const int *y, size_t n, const float *xv, const int *yv,
                 size_t nv, const mlp_fit_conf_t *c, mlp_fit_result_t *res, char *errstr,
                 size_t errstr_size);

/* The mean negative log-likelihood of labels y under probs (rows x k). */
double mlp_nll(const float *probs, const int *y, size_t rows, int k);

/* ---- what the CNN's trainer shares ------------------------------------- */
/* Softmax of each row of z (rows x k) at a temperature, in place. */
void nn_softmax(float *z, size_t rows, int k, float temperature);
/* One Adam step (beta 0.9, 0.999) on p[0..n) with gradient g. */
void nn_adam(float *p, const float *g, float *m, float *v, size_t n, double lr, long step);
/* The temperature on a log grid 0.25..8 with the lowest loss of the
 * logits z (rows x k); probs: rows x k scratch. */
double nn_temperature(const float *z, const int *y, size_t rows, int k, float *probs);
/* Per-class loss weights that make every class weigh the same. */
void nn_class_weights(const int *y, size_t n, int k, double *w);

#endif
