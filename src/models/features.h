/* The readout's features and link, shared by training and inference (private to
 * src/models): phi = [1; code(u_t); x_t], where u_t is the token just read
 * and code a low-dimensional code of it (the standard ESN form of SPEC 4;
 * code_dims may be 0). x is unit-major for a batch of B (x[i * B + b]). */
#ifndef GS_MODELS_FEATURES_H
#define GS_MODELS_FEATURES_H

#include <stdint.h>
#include <string.h>

static inline void gs_features(float *phi, const float *x, size_t B, size_t b, uint32_t units,
                               const float *code, uint32_t code_dims, uint32_t token)
{
    phi[0] = 1.0f;
    if (code_dims) {
        if (token != UINT32_MAX)
            memcpy(phi + 1, code + (size_t)token * code_dims, code_dims * sizeof(float));
        else
            memset(phi + 1, 0, code_dims * sizeof(float));
    }
    float *xs = phi + 1 + code_dims;
    for (uint32_t i = 0; i < units; i++)
        xs[i] = x[(size_t)i * B + b];
}

/* The link from readout values y to probabilities: terms[v] =
 * max(y_v, eps)^(1/T) relative to the largest (so p_v = terms[v] / sum);
 * returns the sum. Shared so that training reports exactly what serving
 * computes. (dialogue.c) */
double gs_link_terms(const float *y, uint32_t n, float eps, float inv_temp, float *terms);

#endif
