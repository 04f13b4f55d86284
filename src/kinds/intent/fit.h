/* Fitting the intent model (fit.c), for train.c. */
#ifndef GS_KINDS_INTENT_FIT_H
#define GS_KINDS_INTENT_FIT_H

#include "internal.h"

/* Multinomial logistic regression on standardised features z (n x
 * N_FEATURES) with labels y: w gets N_INTENTS x (N_FEATURES + 1) weights,
 * the bias last; lambda weighs the L2 penalty on the mean log-likelihood. */
gs_err_t lr_fit(const double *z, const int *y, size_t n, double lambda, double *w, int *iters,
                char *errstr, size_t errstr_size);

/* Mean negative log-likelihood under w at temperature t. */
double lr_nll(const double *z, const int *y, size_t n, const double *w, double t);

/* The temperature in [0.2, 5] that minimises lr_nll on (z, y). */
double lr_temperature(const double *z, const int *y, size_t n, const double *w);

#endif
