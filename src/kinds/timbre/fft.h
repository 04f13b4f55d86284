/* The STFT's real FFT (private to src/kinds/timbre, fft.c): 2048 points in
 * double precision. Ours, because Debian's KissFFT is a scalar,
 * single-precision build (docs/TIMBRE.md, "The FFT"): this one keeps a
 * frame's data (32 KB) in the L1 cache and vectorizes every stage. */
#ifndef GS_KINDS_TIMBRE_FFT_H
#define GS_KINDS_TIMBRE_FFT_H

#include <stdint.h>

#include "features.h"

#define FFT_M (GS_TIMBRE_N_FFT / 2) /* the complex transform's size */

typedef struct fft {
    uint16_t rev[FFT_M];
    /* the twiddles of each radix-2 stage of span 16 and more, one after
     * the other: W_len^j for j < len / 2 */
    double tw_re[FFT_M], tw_im[FFT_M];
    double sp_re[GS_TIMBRE_N_BINS], sp_im[GS_TIMBRE_N_BINS];
    /* one frame's data, split into real and imaginary parts */
    double re[FFT_M], im[FFT_M], tmp[2 * FFT_M];
} fft_t;

void fft_init(fft_t *f);
/* |X[k]|^2, k = 0..1024, of the real frame w[i] x[i], i < 2048 (the
 * samples in float as they arrive, the window in double). Uses f's
 * buffers: one fft_t per thread. */
void fft_power(fft_t *f, const float *x, const double *w, double *power);

#endif
