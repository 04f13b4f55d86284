/* The STFT's real FFT of 2048 points, in double (fft.h). A 2048-point real
 * transform is a 1024-point complex one of the even and odd samples,
 * z[m] = x[2m] + i x[2m+1], and a last pass that splits Z into the
 * spectra of the two halves:
 *   X[k] = (Z[k] + conj Z[M-k]) / 2 - i W^k (Z[k] - conj Z[M-k]) / 2,
 *   W = exp(-2 pi i / 2048), k = 0..1024, Z[M] = Z[0].
 * The complex transform is iterative radix-2, decimation in time, on
 * split real and imaginary arrays, so that each stage's butterflies are
 * contiguous and vectorize: the first three stages straight from the
 * samples, then span 16, then the rest two stages to a pass. */
#include "fft.h"

#include <math.h>
#include <string.h>

#define M     FFT_M
#define LOG_M 10

_Static_assert(M == 1 << LOG_M, "the complex transform has 2^LOG_M points");
_Static_assert((LOG_M - 4) % 2 == 0, "after span 16 the stages pair up");

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

/* The first three stages (span 2, 4, 8) straight from the windowed frame
 * w[i] y[i] (the window applied as the samples are read, so the frame is
 * never stored): the 8 bit-reversed
 * neighbours from s = rev(q), q < M/8, end up holding the 8-point DFT of
 * z[q + p M/8], p = 0..7, so the arithmetic runs over contiguous q. Then
 * the store to bit-reversed places. */
GS_CLONES static void load_first_stages(fft_t *f, const float *restrict x, const double *restrict w)
{
    enum { Q = M / 8 };
    const double c = 0.70710678118654752440; /* W_8 = c - ic */
    double *t = f->tmp;
    for (int q = 0; q < Q; q++) {
        double ar[4], ai[4], br[4], bi[4];
        for (int p = 0; p < 4; p++) {
            size_t y = 2 * (size_t)(q + p * Q), z = 2 * (size_t)(q + (p + 4) * Q);
            double yr = w[y] * x[y], yi = w[y + 1] * x[y + 1];
            double zr = w[z] * x[z], zi = w[z + 1] * x[z + 1];
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

/* One block of the stages of span len and 2 len, q = len / 2: the four
 * quarters x0..x3 (re and im each) are separate restrict pointers, or the
 * compiler would need more run-time overlap checks than it will emit and
 * leave the loop scalar. Twiddles: a = W_len^j, b = W_2len^j. */
GS_CLONES static void pair_block(double *restrict x0r, double *restrict x0i, double *restrict x1r,
                                 double *restrict x1i, double *restrict x2r, double *restrict x2i,
                                 double *restrict x3r, double *restrict x3i,
                                 const double *restrict ar, const double *restrict ai,
                                 const double *restrict br, const double *restrict bi, int q)
{
    for (int j = 0; j < q; j++) {
        /* span len: (x0, x1) and (x2, x3), twiddle W_len^j */
        double t1r = x1r[j] * ar[j] - x1i[j] * ai[j], t1i = x1r[j] * ai[j] + x1i[j] * ar[j];
        double t3r = x3r[j] * ar[j] - x3i[j] * ai[j], t3i = x3r[j] * ai[j] + x3i[j] * ar[j];
        double y0r = x0r[j] + t1r, y0i = x0i[j] + t1i, y1r = x0r[j] - t1r, y1i = x0i[j] - t1i;
        double y2r = x2r[j] + t3r, y2i = x2i[j] + t3i, y3r = x2r[j] - t3r, y3i = x2i[j] - t3i;
        /* span 2 len: (y0, y2) with W_2len^j, (y1, y3) with W_2len^(j + q) */
        double u2r = y2r * br[j] - y2i * bi[j], u2i = y2r * bi[j] + y2i * br[j];
        double u3r = y3r * br[j + q] - y3i * bi[j + q], u3i = y3r * bi[j + q] + y3i * br[j + q];
        x0r[j] = y0r + u2r, x0i[j] = y0i + u2i, x2r[j] = y0r - u2r, x2i[j] = y0i - u2i;
        x1r[j] = y1r + u3r, x1i[j] = y1i + u3i, x3r[j] = y1r - u3r, x3i[j] = y1i - u3i;
    }
}

/* The stages of span len and 2 len in one pass over the data: each point
 * goes through both in registers, half the loads and stores of two
 * passes. */
static void stage_pair(double *re, double *im, const double *ar, const double *ai, const double *br,
                       const double *bi, int len)
{
    int q = len / 2;
    for (int s = 0; s < M; s += 2 * len) {
        double *r = re + s, *i = im + s;
        pair_block(r, i, r + q, i + q, r + len, i + len, r + len + q, i + len + q, ar, ai, br, bi,
                   q);
    }
}

/* |X[k]|^2 from Z[k] and c = conj Z[M-k], W^k = (wr, wi). */
static inline double split_bin(double zr, double zi, double cr, double ci, double wr, double wi)
{
    double er = 0.5 * (zr + cr), ei = 0.5 * (zi + ci); /* the even samples' */
    double dr = 0.5 * (zr - cr), di = 0.5 * (zi - ci);
    double xr = er + (wr * di + wi * dr), xi = ei + (wi * di - wr * dr); /* -i W^k d */
    return xr * xr + xi * xi;
}

/* The power spectrum from Z, bins k and M - k together: both come from
 * Z[k] and Z[M-k], so one pass reads Z forwards and backwards. */
GS_CLONES static void split_power(const fft_t *f, const double *restrict zr,
                                  const double *restrict zi, double *restrict power)
{
    const double *wr = f->sp_re, *wi = f->sp_im;
    power[0] = split_bin(zr[0], zi[0], zr[0], -zi[0], wr[0], wi[0]);
    for (int k = 1; k < M / 2; k++) {
        double ar = zr[k], ai = zi[k], br = zr[M - k], bi = zi[M - k];
        power[k] = split_bin(ar, ai, br, -bi, wr[k], wi[k]);
        power[M - k] = split_bin(br, bi, ar, -ai, wr[M - k], wi[M - k]);
    }
    power[M / 2] = split_bin(zr[M / 2], zi[M / 2], zr[M / 2], -zi[M / 2], wr[M / 2], wi[M / 2]);
    double nyq = zr[0] - zi[0]; /* k = M: W^M = -1, Z[M] = Z[0] */
    power[M] = nyq * nyq;
}

void fft_power(fft_t *f, const float *x, const double *w, double *power)
{
    load_first_stages(f, x, w);
    /* span 16 alone, then 32 + 64, 128 + 256, 512 + 1024 in pairs (measured
     * 3% faster than pairing from 16 up and leaving 1024 alone) */
    stage(f->re, f->im, f->tw_re, f->tw_im, 16);
    int at = 8;
    for (int len = 32; len < M; len *= 4) {
        const double *ar = f->tw_re + at, *ai = f->tw_im + at;
        stage_pair(f->re, f->im, ar, ai, ar + len / 2, ai + len / 2, len);
        at += len / 2 + len;
    }
    split_power(f, f->re, f->im, power);
}
