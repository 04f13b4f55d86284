/* The STFT's real FFT of 2048 points, in double (fft.h). A 2048-point real
 * transform is a 1024-point complex one of the even and odd samples,
 * z[m] = x[2m] + i x[2m+1], and a last pass that splits Z into the
 * spectra of the two halves:
 *   X[k] = (Z[k] + conj Z[M-k]) / 2 - i W^k (Z[k] - conj Z[M-k]) / 2,
 *   W = exp(-2 pi i / 2048), k = 0..1024, Z[M] = Z[0].
 * The complex transform is iterative radix-2, decimation in time, on
 * split real and imaginary arrays, so that each stage's butterflies are
 * contiguous and vectorize. */
#include "fft.h"

#include <math.h>
#include <string.h>

#define M     FFT_M
#define LOG_M 10

_Static_assert(M == 1 << LOG_M, "the complex transform has 2^LOG_M points");

void fft_init(fft_t *f)
{
    for (int m = 0; m < M; m++) {
        int r = 0;
        for (int b = 0; b < LOG_M; b++)
            r |= ((m >> b) & 1) << (LOG_M - 1 - b);
        f->rev[m] = (uint16_t)r;
    }
    int at = 0;
    for (int len = 16; len <= M; len *= 2)
        for (int j = 0; j < len / 2; j++, at++) { /* exp(-2 pi i j / len) */
            f->tw_re[at] = cos(2.0 * M_PI * j / len);
            f->tw_im[at] = -sin(2.0 * M_PI * j / len);
        }
    for (int k = 0; k <= M; k++) { /* exp(-2 pi i k / 2M) */
        f->sp_re[k] = cos(2.0 * M_PI * k / GS_TIMBRE_N_FFT);
        f->sp_im[k] = -sin(2.0 * M_PI * k / GS_TIMBRE_N_FFT);
    }
}

/* A 4-point DFT of u (re, im), in place: U1 = s1 - i s3, U3 = s1 + i s3. */
static inline void dft4(double *ur, double *ui)
{
    double s0r = ur[0] + ur[2], s0i = ui[0] + ui[2], s1r = ur[0] - ur[2], s1i = ui[0] - ui[2];
    double s2r = ur[1] + ur[3], s2i = ui[1] + ui[3], s3r = ur[1] - ur[3], s3i = ui[1] - ui[3];
    ur[0] = s0r + s2r, ui[0] = s0i + s2i, ur[2] = s0r - s2r, ui[2] = s0i - s2i;
    ur[1] = s1r + s3i, ui[1] = s1i - s3r, ur[3] = s1r - s3i, ui[3] = s1i + s3r;
}

/* The first three stages (span 2, 4, 8) straight from x: the 8 bit-reversed
 * neighbours from s = rev(q), q < M/8, end up holding the 8-point DFT of
 * z[q + p M/8], p = 0..7, so the arithmetic runs over contiguous q. Then
 * the store to bit-reversed places. */
GS_CLONES static void load_first_stages(fft_t *f, const double *restrict x)
{
    enum { Q = M / 8 };
    const double c = 0.70710678118654752440; /* W_8 = c - ic */
    double *t = f->tmp;
    for (int q = 0; q < Q; q++) {
        double ar[4], ai[4], br[4], bi[4];
        for (int p = 0; p < 4; p++) {
            size_t y = 2 * (size_t)(q + p * Q), z = 2 * (size_t)(q + (p + 4) * Q);
            double yr = x[y], yi = x[y + 1], zr = x[z], zi = x[z + 1];
            ar[p] = yr + zr, ai[p] = yi + zi, br[p] = yr - zr, bi[p] = yi - zi;
        }
        /* b_p times W_8^p */
        double r1 = c * (br[1] + bi[1]), i1 = c * (bi[1] - br[1]);
        double r2 = bi[2], i2 = -br[2];
        double r3 = c * (bi[3] - br[3]), i3 = -c * (br[3] + bi[3]);
        br[1] = r1, bi[1] = i1, br[2] = r2, bi[2] = i2, br[3] = r3, bi[3] = i3;
        dft4(ar, ai);
        dft4(br, bi);
        for (int k = 0; k < 4; k++) { /* X[2k] = A[k], X[2k+1] = B[k] */
            t[(4 * k) * Q + q] = ar[k], t[(4 * k + 1) * Q + q] = ai[k];
            t[(4 * k + 2) * Q + q] = br[k], t[(4 * k + 3) * Q + q] = bi[k];
        }
    }
    for (int q = 0; q < Q; q++) {
        int s = f->rev[q];
        for (int k = 0; k < 8; k++) {
            f->re[s + k] = t[(2 * k) * Q + q];
            f->im[s + k] = t[(2 * k + 1) * Q + q];
        }
    }
}

/* One radix-2 stage of span len >= 16, twiddles at tw_*[0..len/2). */
GS_CLONES static void stage(double *restrict re, double *restrict im, const double *restrict wr,
                            const double *restrict wi, int len)
{
    int half = len / 2;
    for (int s = 0; s < M; s += len) {
        double *ar = re + s, *ai = im + s, *br = ar + half, *bi = ai + half;
        for (int j = 0; j < half; j++) {
            double tr = br[j] * wr[j] - bi[j] * wi[j], ti = br[j] * wi[j] + bi[j] * wr[j];
            br[j] = ar[j] - tr;
            bi[j] = ai[j] - ti;
            ar[j] += tr;
            ai[j] += ti;
        }
    }
}

/* The power spectrum from Z: Z[M-k] read from a reversed copy, so that
 * the loop runs over contiguous k. */
GS_CLONES static void split_power(fft_t *f, double *restrict power)
{
    const double *re = f->re, *im = f->im;
    double *rr = f->tmp, *ri = f->tmp + M;
    rr[0] = re[0], ri[0] = im[0];
    for (int k = 1; k < M; k++)
        rr[k] = re[M - k], ri[k] = im[M - k];
    for (int k = 0; k < M; k++) {
        double zr = re[k], zi = im[k], cr = rr[k], ci = -ri[k]; /* conj Z[M-k] */
        double er = 0.5 * (zr + cr), ei = 0.5 * (zi + ci);      /* the even samples' */
        double dr = 0.5 * (zr - cr), di = 0.5 * (zi - ci);
        double wr = f->sp_re[k], wi = f->sp_im[k];
        double xr = er + (wr * di + wi * dr), xi = ei + (wi * di - wr * dr); /* -i W^k d */
        power[k] = xr * xr + xi * xi;
    }
    double nyq = re[0] - im[0]; /* k = M: W^M = -1, Z[M] = Z[0] */
    power[M] = nyq * nyq;
}

void fft_power(fft_t *f, const double *x, double *power)
{
    load_first_stages(f, x);
    int at = 0;
    for (int len = 16; len <= M; len *= 2) {
        stage(f->re, f->im, f->tw_re + at, f->tw_im + at, len);
        at += len / 2;
    }
    split_power(f, power);
}
