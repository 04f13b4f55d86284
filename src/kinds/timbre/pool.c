/* Per-clip pooling of the timbre features (features.h gives the layout):
 * mean and population standard deviation (numpy's default, ddof 0) over
 * frames, two-pass as numpy computes them. */
#include "features.h"

#include <math.h>

#define N_MFCC GS_TIMBRE_N_MFCC

/* Mean and std of x[0], x[stride], ... (n values). */
static void mean_std(const double *x, size_t n, size_t stride, double *mean, double *std)
{
    double s = 0.0;
    for (size_t t = 0; t < n; t++)
        s += x[t * stride];
    double m = s / (double)n, v = 0.0;
    for (size_t t = 0; t < n; t++) {
        double d = x[t * stride] - m;
        v += d * d;
    }
    *mean = m;
    *std = sqrt(v / (double)n);
}

void gs_timbre_pool(const gs_timbre_frames_t *f, double *out)
{
    size_t n = f->n_frames;
    for (size_t k = 0; k < N_MFCC; k++) {
        mean_std(f->mfcc + k, n, N_MFCC, &out[GS_TIMBRE_POOL_MFCC_MEAN + k],
                 &out[GS_TIMBRE_POOL_MFCC_STD + k]);
        mean_std(f->delta + k, n, N_MFCC, &out[GS_TIMBRE_POOL_DELTA_MEAN + k],
                 &out[GS_TIMBRE_POOL_DELTA_STD + k]);
    }
    const double *scalar[] = {f->centroid, f->bandwidth, f->rolloff, f->zcr, f->rms};
    for (size_t i = 0; i < 5; i++) {
        size_t at = GS_TIMBRE_POOL_CENTROID + 2 * i;
        mean_std(scalar[i], n, 1, &out[at], &out[at + 1]);
    }
}

_Static_assert(GS_TIMBRE_N_MFCC == 20, "NAMES_20 spells out 20 names");

gs_err_t gs_timbre_fx_pooled(gs_timbre_fx_t *fx, const float *y, size_t n, double *out,
                             char *errstr, size_t errstr_size)
{
    gs_timbre_frames_t f;
    gs_err_t err = gs_timbre_fx_frames(fx, y, n, &f, errstr, errstr_size);
    if (err == GS_OK)
        gs_timbre_pool(&f, out);
    return err;
}

/* The names, spelled out by the preprocessor: no table built at run time. */
#define NAMES_20(p)                                                                                \
    p "_0", p "_1", p "_2", p "_3", p "_4", p "_5", p "_6", p "_7", p "_8", p "_9", p "_10",       \
        p "_11", p "_12", p "_13", p "_14", p "_15", p "_16", p "_17", p "_18", p "_19"

static const char *const pooled_names[GS_TIMBRE_N_POOLED] = {
    NAMES_20("mfcc_mean"),
    NAMES_20("mfcc_std"),
    NAMES_20("delta_mean"),
    NAMES_20("delta_std"),
    "centroid_mean",
    "centroid_std",
    "bandwidth_mean",
    "bandwidth_std",
    "rolloff_mean",
    "rolloff_std",
    "zcr_mean",
    "zcr_std",
    "rms_mean",
    "rms_std",
};

const char *gs_timbre_pooled_name(size_t i)
{
    return i < GS_TIMBRE_N_POOLED ? pooled_names[i] : NULL;
}

size_t gs_timbre_seed_index(size_t i)
{
    static const size_t scalars[] = {GS_TIMBRE_POOL_CENTROID, GS_TIMBRE_POOL_ZCR,
                                     GS_TIMBRE_POOL_RMS, GS_TIMBRE_POOL_ROLLOFF};
    const size_t m = GS_TIMBRE_N_SEED_MFCC;
    if (i < m)
        return GS_TIMBRE_POOL_MFCC_MEAN + i;
    if (i < 2 * m)
        return GS_TIMBRE_POOL_MFCC_STD + i - m;
    return scalars[(i - 2 * m) / 2] + (i - 2 * m) % 2;
}

void gs_timbre_seed(const double *pooled, double *out)
{
    for (size_t i = 0; i < GS_TIMBRE_N_SEED; i++)
        out[i] = pooled[gs_timbre_seed_index(i)];
}
