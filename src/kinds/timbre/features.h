/* The timbre kind's audio features (issue 14, SPEC 1.4; private to
 * src/kinds/timbre, docs/TIMBRE.md), defined as librosa 0.11's defaults and
 * checked against librosa itself (tests/unit/test_timbre_features.c):
 *
 *   mono float samples at 22,050 Hz, padded by n_fft/2 = 1024 on both sides
 *   (zeros for the STFT and RMS, the edge samples for the ZCR), frames of
 *   2048 every 512 samples: 1 + n / 512 frames;
 *   STFT    periodic Hann, |rfft| (fft.c, double precision);
 *   mel     the power |STFT|^2 through 128 Slaney bands (htk=False,
 *           norm='slaney', 0..11,025 Hz, float32 weights as librosa's),
 *           each band summed over its nonzero bins only;
 *   dB      10 log10(max(1e-10, mel)), floored at the clip's maximum - 80;
 *   MFCC    DCT-II (orthonormal) of the dB mel: the first 20;
 *   delta   of the MFCC over frames: Savitzky-Golay, width 9, order 1,
 *           mode 'interp' (the first and last 4 frames take the slope of
 *           the line fitted to the first or last 9);
 *   centroid, bandwidth (p = 2, normalised), rolloff (85%) of |STFT|;
 *   zcr     sign changes per frame / 2048 (|x| <= 1e-10 counts as +0);
 *   rms     sqrt(mean(x^2)) of each zero-padded frame.
 *
 * One extractor (gs_timbre_fx_t) holds the FFT plan, the window, the
 * filterbank and the per-clip buffers; it is not thread-safe, one per worker
 * thread. A clip needs at least 9 frames (4,096 samples, 0.19 s), as
 * librosa's delta does. */
#ifndef GS_KINDS_TIMBRE_FEATURES_H
#define GS_KINDS_TIMBRE_FEATURES_H

#include <stddef.h>

#include "govstream/common.h"

#define GS_TIMBRE_SR          22050
#define GS_TIMBRE_N_FFT       2048
#define GS_TIMBRE_HOP         512
#define GS_TIMBRE_N_BINS      (GS_TIMBRE_N_FFT / 2 + 1)
#define GS_TIMBRE_N_MELS      128
#define GS_TIMBRE_N_MFCC      20
#define GS_TIMBRE_DELTA_WIDTH 9
#define GS_TIMBRE_MIN_SAMPLES 4096 /* (GS_TIMBRE_DELTA_WIDTH - 1) * GS_TIMBRE_HOP: 9 frames */

/* The per-frame features of one clip, frame-major (row t of mel_db is the
 * 128 bands of frame t). Owned by the extractor: valid until its next call. */
typedef struct gs_timbre_frames {
    size_t n_frames;
    const double *mel_db;                         /* n_frames x GS_TIMBRE_N_MELS */
    const double *mfcc;                           /* n_frames x GS_TIMBRE_N_MFCC */
    const double *delta;                          /* n_frames x GS_TIMBRE_N_MFCC */
    const double *centroid, *bandwidth, *rolloff; /* Hz, n_frames each */
    const double *zcr, *rms;                      /* n_frames each */
} gs_timbre_frames_t;

/* The pooled vector of a clip: the mean and the population standard
 * deviation (ddof 0) over frames of every per-frame feature, in this order:
 *
 *   [0, 20)   mfcc_mean_0..19      [20, 40)  mfcc_std_0..19
 *   [40, 60)  delta_mean_0..19     [60, 80)  delta_std_0..19
 *   80 centroid_mean, 81 centroid_std, 82 bandwidth_mean, 83 bandwidth_std,
 *   84 rolloff_mean, 85 rolloff_std, 86 zcr_mean, 87 zcr_std,
 *   88 rms_mean, 89 rms_std
 *
 * gs_timbre_pooled_name gives these names. */
#define GS_TIMBRE_POOL_MFCC_MEAN  0
#define GS_TIMBRE_POOL_MFCC_STD   20
#define GS_TIMBRE_POOL_DELTA_MEAN 40
#define GS_TIMBRE_POOL_DELTA_STD  60
#define GS_TIMBRE_POOL_CENTROID   80 /* mean; std at +1, as for the next four */
#define GS_TIMBRE_POOL_BANDWIDTH  82
#define GS_TIMBRE_POOL_ROLLOFF    84
#define GS_TIMBRE_POOL_ZCR        86
#define GS_TIMBRE_POOL_RMS        88
#define GS_TIMBRE_N_POOLED        90

/* The seed's 34-value set (SPEC 1.4), a subset of the pooled vector:
 * mfcc_mean_0..12, mfcc_std_0..12, then centroid, zcr, rms and rolloff,
 * each as mean, std. */
#define GS_TIMBRE_N_SEED      34
#define GS_TIMBRE_N_SEED_MFCC 13

typedef struct gs_timbre_fx gs_timbre_fx_t;

/* The FFT plan, window, filterbank and DCT. GS_ERR_NOMEM. */
gs_err_t gs_timbre_fx_new(gs_timbre_fx_t **out, char *errstr, size_t errstr_size);
void gs_timbre_fx_destroy(gs_timbre_fx_t *fx);

/* Every per-frame feature of y[0..n) (22,050 Hz). GS_ERR_INVALID_ARG for
 * fewer than GS_TIMBRE_MIN_SAMPLES samples or a sample that is not finite;
 * GS_ERR_NOMEM. */
gs_err_t gs_timbre_fx_frames(gs_timbre_fx_t *fx, const float *y, size_t n, gs_timbre_frames_t *out,
                             char *errstr, size_t errstr_size);

/* The pooled vector (GS_TIMBRE_N_POOLED values) of frames from
 * gs_timbre_fx_frames. */
void gs_timbre_pool(const gs_timbre_frames_t *f, double *out);
/* Both in one call: the pooled vector of y[0..n) (errors as
 * gs_timbre_fx_frames). */
gs_err_t gs_timbre_fx_pooled(gs_timbre_fx_t *fx, const float *y, size_t n, double *out,
                             char *errstr, size_t errstr_size);
/* "mfcc_mean_0", ..., "rms_std"; NULL past the end. */
const char *gs_timbre_pooled_name(size_t i);

/* The seed's 34 values out of a pooled vector, and where each comes from. */
void gs_timbre_seed(const double *pooled, double *out);
size_t gs_timbre_seed_index(size_t i);

/* ---- resampling (resample.c) ---------------------------------------------
 * To 22,050 Hz as librosa.resample(res_type='soxr_hq') does: libsoxr's HQ
 * recipe (20-bit, linear phase) in one shot, the output cut or zero-padded
 * to ceil(n * 22050 / rate) samples (librosa's fix_length). */
#define GS_TIMBRE_RATE_MIN 8000
#define GS_TIMBRE_RATE_MAX 48000

/* The resampled length of n samples at `rate`. */
size_t gs_timbre_resampled_len(size_t n, int rate);

/* in[0..n) at `rate` (GS_TIMBRE_RATE_MIN..MAX) into out[0..len), len =
 * gs_timbre_resampled_len(n, rate) (out must have room for it); a copy at
 * 22,050 Hz. GS_ERR_INVALID_ARG for a rate out of range, GS_ERR_INTERNAL
 * when libsoxr fails (its message in errstr). */
gs_err_t gs_timbre_resample(const float *in, size_t n, int rate, float *out, char *errstr,
                            size_t errstr_size);

/* The filterbank, for tests: band m (0..127) is nonzero on bins
 * [*lo, *lo + *len) with these weights (borrowed from the extractor). */
const float *gs_timbre_mel_band(const gs_timbre_fx_t *fx, size_t m, size_t *lo, size_t *len);
/* x[i] = 10 log10(max(x[i], 1e-10)) (db.c). */
void gs_timbre_power_db(double *x, size_t n);

/* One frame's mel power from its power spectrum (GS_TIMBRE_N_BINS values)
 * by the sparse bands. */
void gs_timbre_mel_apply(const gs_timbre_fx_t *fx, const double *power, double *mel);

#endif
