/* The timbre kind's features as librosa 0.11 defines them (features.h says
 * which; docs/TIMBRE.md the tolerances against librosa). Each step follows
 * librosa's source where rounding could differ: the filterbank is built in
 * double and stored as float32 exactly as librosa.filters.mel does, and the
 * rest runs in double, the FFT (fft.c) included. */
#include "features.h"
#include "fft.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_FFT  GS_TIMBRE_N_FFT
#define HOP    GS_TIMBRE_HOP
#define N_BINS GS_TIMBRE_N_BINS
#define N_MELS GS_TIMBRE_N_MELS
#define N_MFCC GS_TIMBRE_N_MFCC
#define HALF   (N_FFT / 2)
/* frames are 4 hops long: RMS and ZCR add up per-hop blocks */
#define BLOCKS_PER_FRAME (N_FFT / HOP)

_Static_assert(GS_TIMBRE_MIN_SAMPLES == (GS_TIMBRE_DELTA_WIDTH - 1) * HOP,
               "the shortest clip has as many frames as the delta is wide");

struct gs_timbre_fx {
    fft_t fft;
    double window[N_FFT];
    double freq[N_BINS];
    size_t band_lo[N_MELS], band_len[N_MELS], band_off[N_MELS];
    float *band_w;
    double dct[N_MFCC * N_MELS];
    /* one frame: the zero-padded copy of an edge frame's samples */
    float edge[N_FFT];
    double mag[N_BINS], power[N_BINS];
    /* one clip, grown to the longest seen */
    size_t cap;
    double *mel, *mfcc, *delta, *centroid, *bandwidth, *rolloff, *zcr, *rms;
    double *energy; /* per hop block of y: sum of squares */
    int *cross;     /* per hop block of y: sign changes */
};

/* ---- construction ------------------------------------------------------- */

/* librosa.mel_frequencies(130, fmin=0, fmax=11025, htk=False): Slaney's
 * scale, linear below 1 kHz and logarithmic above, through np.linspace
 * (i * step, the last one exactly the top). */
static void mel_edges(double *mel_f)
{
    const double f_sp = 200.0 / 3, min_log_hz = 1000.0;
    const double min_log_mel = (min_log_hz - 0.0) / f_sp;
    const double logstep = log(6.4) / 27.0;
    const double fmax = (double)GS_TIMBRE_SR / 2;
    const double max_mel = min_log_mel + log(fmax / min_log_hz) / logstep;
    const double step = max_mel / (N_MELS + 1);
    for (int i = 0; i < N_MELS + 2; i++) {
        double m = i == N_MELS + 1 ? max_mel : i * step;
        mel_f[i] =
            m >= min_log_mel ? min_log_hz * exp(logstep * (m - min_log_mel)) : 0.0 + f_sp * m;
    }
}

/* Band m's float32 weight at bin k, rounded twice as librosa's float32
 * array is: the triangle, then the triangle times the Slaney norm. */
static float mel_weight(const double *mel_f, const double *freq, int m, int k)
{
    double lower = -(mel_f[m] - freq[k]) / (mel_f[m + 1] - mel_f[m]);
    double upper = (mel_f[m + 2] - freq[k]) / (mel_f[m + 2] - mel_f[m + 1]);
    double tri = fmax(0.0, fmin(lower, upper));
    double enorm = 2.0 / (mel_f[m + 2] - mel_f[m]);
    return (float)((double)(float)tri * enorm);
}

/* The sparse filterbank: each band keeps its contiguous nonzero run. */
static int build_bands(gs_timbre_fx_t *fx)
{
    double mel_f[N_MELS + 2];
    mel_edges(mel_f);
    fx->band_w = malloc(sizeof(float) * N_MELS * N_BINS); /* trimmed below */
    if (!fx->band_w)
        return -1;
    size_t off = 0;
    for (int m = 0; m < N_MELS; m++) {
        size_t lo = N_BINS, hi = 0;
        for (int k = 0; k < N_BINS; k++) {
            if (mel_weight(mel_f, fx->freq, m, k) > 0.0f) {
                lo = lo < (size_t)k ? lo : (size_t)k;
                hi = (size_t)k + 1;
            }
        }
        if (hi <= lo)
            lo = hi = 0; /* an empty band: never at 22,050 Hz with 128 bands */
        fx->band_lo[m] = lo;
        fx->band_len[m] = hi - lo;
        fx->band_off[m] = off;
        for (size_t k = lo; k < hi; k++)
            fx->band_w[off++] = mel_weight(mel_f, fx->freq, m, (int)k);
    }
    float *w = realloc(fx->band_w, sizeof(float) * (off ? off : 1));
    if (w)
        fx->band_w = w;
    return 0;
}

static void build_tables(gs_timbre_fx_t *fx)
{
    /* scipy.signal.get_window('hann', 2048, fftbins=True): periodic */
    for (int n = 0; n < N_FFT; n++)
        fx->window[n] = 0.5 - 0.5 * cos(2.0 * M_PI * n / N_FFT);
    /* np.fft.rfftfreq(2048, 1 / sr), in its order of operations */
    const double d = 1.0 / GS_TIMBRE_SR, val = 1.0 / (N_FFT * d);
    for (int k = 0; k < N_BINS; k++)
        fx->freq[k] = k * val;
    /* scipy.fft.dct(type=2, norm='ortho') as a matrix: 20 x 128 */
    for (int k = 0; k < N_MFCC; k++) {
        double s = sqrt((k ? 2.0 : 1.0) / N_MELS);
        for (int n = 0; n < N_MELS; n++)
            fx->dct[k * N_MELS + n] = s * cos(M_PI * k * (2 * n + 1) / (2.0 * N_MELS));
    }
}

gs_err_t gs_timbre_fx_new(gs_timbre_fx_t **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    gs_timbre_fx_t *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return gs_fail(errstr, errstr_size, GS_ERR_NOMEM, "timbre features: out of memory");
    build_tables(fx);
    fft_init(&fx->fft);
    if (build_bands(fx)) {
        gs_timbre_fx_destroy(fx);
        return gs_fail(errstr, errstr_size, GS_ERR_NOMEM, "timbre features: out of memory");
    }
    *out = fx;
    return GS_OK;
}

static void free_clip(gs_timbre_fx_t *fx)
{
    free(fx->mel);
    free(fx->mfcc);
    free(fx->delta);
    free(fx->centroid);
    free(fx->bandwidth);
    free(fx->rolloff);
    free(fx->zcr);
    free(fx->rms);
    free(fx->energy);
    free(fx->cross);
}

void gs_timbre_fx_destroy(gs_timbre_fx_t *fx)
{
    if (!fx)
        return;
    free(fx->band_w);
    free_clip(fx);
    free(fx);
}

/* Room for n_frames frames (and n_frames + 3 hop blocks). */
static int reserve(gs_timbre_fx_t *fx, size_t n_frames)
{
    if (n_frames <= fx->cap)
        return 0;
    size_t n = n_frames + BLOCKS_PER_FRAME;
    if (gs_grow(&fx->mel, n * N_MELS, sizeof(double)) ||
        gs_grow(&fx->mfcc, n * N_MFCC, sizeof(double)) ||
        gs_grow(&fx->delta, n * N_MFCC, sizeof(double)) ||
        gs_grow(&fx->centroid, n, sizeof(double)) || gs_grow(&fx->bandwidth, n, sizeof(double)) ||
        gs_grow(&fx->rolloff, n, sizeof(double)) || gs_grow(&fx->zcr, n, sizeof(double)) ||
        gs_grow(&fx->rms, n, sizeof(double)) || gs_grow(&fx->energy, n, sizeof(double)) ||
        gs_grow(&fx->cross, n, sizeof(int)))
        return -1;
    fx->cap = n_frames;
    return 0;
}

/* ---- the filterbank ----------------------------------------------------- */

const float *gs_timbre_mel_band(const gs_timbre_fx_t *fx, size_t m, size_t *lo, size_t *len)
{
    *lo = fx->band_lo[m];
    *len = fx->band_len[m];
    return fx->band_w + fx->band_off[m];
}

/* w . p over n bins, four sums at a time: a single running sum is bound by
 * the adder's latency (the summation order is not librosa's either way). */
GS_CLONES static double dot_fd(const float *w, const double *p, size_t n)
{
    double a[4] = {0.0, 0.0, 0.0, 0.0};
    size_t k = 0;
    for (; k + 4 <= n; k += 4)
        for (size_t j = 0; j < 4; j++)
            a[j] += (double)w[k + j] * p[k + j];
    for (; k < n; k++)
        a[0] += (double)w[k] * p[k];
    return (a[0] + a[1]) + (a[2] + a[3]);
}

void gs_timbre_mel_apply(const gs_timbre_fx_t *fx, const double *power, double *mel)
{
    for (size_t m = 0; m < N_MELS; m++)
        mel[m] = dot_fd(fx->band_w + fx->band_off[m], power + fx->band_lo[m], fx->band_len[m]);
}

/* ---- RMS and ZCR by hop blocks ------------------------------------------ */

/* Sign as librosa's zero-crossing stencil sees it: |x| <= 1e-10 is +0, so
 * only x < -1e-10 is negative. */
static inline int negative(float x)
{
    return (double)x < -1e-10;
}

/* y[lo..hi): the sum of squares (four running sums, so that the loop is not
 * bound by the adder's latency) and the sign changes y[i-1] -> y[i], i > 0. */
GS_CLONES static void block_sums(const float *y, size_t lo, size_t hi, double *energy, int *cross)
{
    double a[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = lo;
    for (; i + 4 <= hi; i += 4)
        for (size_t j = 0; j < 4; j++)
            a[j] += (double)y[i + j] * y[i + j];
    for (; i < hi; i++)
        a[0] += (double)y[i] * y[i];
    int c = 0;
    for (i = lo > 0 ? lo : 1; i < hi; i++)
        c += negative(y[i - 1]) != negative(y[i]);
    *energy = (a[0] + a[1]) + (a[2] + a[3]);
    *cross = c;
}

/* Block j (the hop-long blocks of y) into energy[j + 2] and cross[j + 2]:
 * frame t spans blocks t-2 .. t+1, i.e. entries t .. t+3. */
static int hop_blocks(gs_timbre_fx_t *fx, const float *y, size_t n, size_t n_frames)
{
    size_t n_blocks = n_frames + BLOCKS_PER_FRAME - 1;
    fx->energy[0] = fx->energy[1] = 0.0;
    fx->cross[0] = fx->cross[1] = 0;
    for (size_t j = 0; j + 2 < n_blocks; j++) {
        size_t lo = j * HOP < n ? j * HOP : n, hi = lo + HOP < n ? lo + HOP : n;
        block_sums(y, lo, hi, &fx->energy[j + 2], &fx->cross[j + 2]);
        if (!isfinite(fx->energy[j + 2]))
            return -1;
    }
    return 0;
}

/* Frame t's RMS (zero padding) and ZCR (edge padding: no changes in the pad;
 * the frame's first sample counts no change, as librosa's pad=False). */
static void rms_zcr(gs_timbre_fx_t *fx, const float *y, size_t n, size_t n_frames)
{
    for (size_t t = 0; t < n_frames; t++) {
        double e = 0.0;
        int c = 0;
        for (size_t b = t; b < t + BLOCKS_PER_FRAME; b++) {
            e += fx->energy[b];
            c += fx->cross[b];
        }
        /* the frame starts at y[t * HOP - HALF]: its change from the sample
         * before belongs to block t - 2 but not to the frame */
        size_t first = t * HOP;
        if (first >= HALF) {
            size_t i = first - HALF;
            c -= i > 0 && i < n && negative(y[i - 1]) != negative(y[i]);
        }
        fx->rms[t] = sqrt(e / N_FFT);
        fx->zcr[t] = (double)c / N_FFT;
    }
}

/* ---- one STFT frame ------------------------------------------------------ */

/* The samples of frame t of the zero-padded signal: in place in y, or
 * for a frame that reaches into the padding a zero-padded copy. */
static const float *frame_samples(gs_timbre_fx_t *fx, const float *y, size_t n, size_t t)
{
    size_t start = t * HOP; /* in the padded signal, where y[0] is at HALF */
    if (start >= HALF && start - HALF + N_FFT <= n)
        return y + (start - HALF);
    size_t lo = start < HALF ? HALF - start : 0;          /* first frame index on y */
    size_t end = n + HALF > start ? n + HALF - start : 0; /* one past the last */
    size_t hi = end < N_FFT ? end : N_FFT;
    memset(fx->edge, 0, sizeof(fx->edge));
    if (hi > lo)
        memcpy(fx->edge + lo, y + (start + lo - HALF), (hi - lo) * sizeof(float));
    return fx->edge;
}

/* Centroid, bandwidth and rolloff of |STFT| (librosa.feature.spectral_*),
 * with librosa's normalisation: a frame whose sum is below the smallest
 * normal double is divided by 1, so silence gives 0 for all three. */
GS_CLONES static void shape_sums(const double *s, const double *f, double *total, double *fs)
{
    double a[4] = {0.0, 0.0, 0.0, 0.0}, b[4] = {0.0, 0.0, 0.0, 0.0};
    size_t k = 0;
    for (; k + 4 <= N_BINS; k += 4)
        for (size_t j = 0; j < 4; j++) {
            a[j] += s[k + j];
            b[j] += f[k + j] * s[k + j];
        }
    for (; k < N_BINS; k++) {
        a[0] += s[k];
        b[0] += f[k] * s[k];
    }
    *total = (a[0] + a[1]) + (a[2] + a[3]);
    *fs = (b[0] + b[1]) + (b[2] + b[3]);
}

/* sum_k s[k] (f[k] - c)^2, two-pass as librosa (no E[f^2] - c^2 cancellation) */
GS_CLONES static double shape_var(const double *s, const double *f, double c)
{
    double a[4] = {0.0, 0.0, 0.0, 0.0};
    size_t k = 0;
    for (; k + 4 <= N_BINS; k += 4)
        for (size_t j = 0; j < 4; j++)
            a[j] += s[k + j] * ((f[k + j] - c) * (f[k + j] - c));
    for (; k < N_BINS; k++)
        a[0] += s[k] * ((f[k] - c) * (f[k] - c));
    return (a[0] + a[1]) + (a[2] + a[3]);
}

/* The first bin whose running sum reaches thr. Bin by bin, as np.cumsum
 * adds, the sum is one chain of dependent additions (a third of a frame's
 * time besides the FFT); instead the running sum goes 8 bins at a time,
 * each block's sum independent of the chain, and only the block where it
 * crosses is walked bin by bin. The sums differ from np.cumsum's in the
 * last bits only (docs/TIMBRE.md). */
static size_t rolloff_bin(const double *s, double thr)
{
    double cum = 0.0;
    size_t k = 0;
    for (; k + 8 <= N_BINS; k += 8) {
        const double *b = s + k;
        double blk = ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7]));
        if (cum + blk >= thr)
            break;
        cum += blk;
    }
    for (; k < N_BINS; k++) {
        cum += s[k];
        if (cum >= thr)
            return k;
    }
    return N_BINS - 1;
}

static void spectral_shape(gs_timbre_fx_t *fx, size_t t)
{
    const double *s = fx->mag, *f = fx->freq;
    double total, fs;
    shape_sums(s, f, &total, &fs);
    double norm = total < DBL_MIN ? 1.0 : total;
    double cen = fs / norm;
    fx->centroid[t] = cen;
    fx->bandwidth[t] = sqrt(shape_var(s, f, cen) / norm);
    fx->rolloff[t] = f[rolloff_bin(s, 0.85 * total)];
}

/* |X| from |X|^2 (librosa's power is np.abs(stft) ** 2, its magnitude
 * np.abs(stft): the square root of the same sum of squares). */
GS_CLONES static void magnitudes(const double *power, double *mag)
{
    for (size_t k = 0; k < N_BINS; k++)
        mag[k] = sqrt(power[k]);
}

static void stft_frame(gs_timbre_fx_t *fx, const float *y, size_t n, size_t t)
{
    fft_power(&fx->fft, frame_samples(fx, y, n, t), fx->window, fx->power);
    magnitudes(fx->power, fx->mag);
    spectral_shape(fx, t);
    gs_timbre_mel_apply(fx, fx->power, fx->mel + t * N_MELS);
}

/* ---- clip-level steps --------------------------------------------------- */

/* power_to_db(ref=1, amin=1e-10, top_db=80), the floor from the clip's max. */
static void mel_to_db(double *mel, size_t count)
{
    double top = -INFINITY;
    gs_timbre_power_db(mel, count);
    for (size_t i = 0; i < count; i++)
        top = mel[i] > top ? mel[i] : top;
    double floor_db = top - 80.0;
    for (size_t i = 0; i < count; i++)
        mel[i] = mel[i] > floor_db ? mel[i] : floor_db;
}

/* All frames at once: (n_frames x 128 dB) times the DCT's transpose. */
static void mfcc_frames(gs_timbre_fx_t *fx, size_t n_frames)
{
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n_frames, N_MFCC, N_MELS, 1.0,
                fx->mel, N_MELS, fx->dct, N_MELS, 0.0, fx->mfcc, N_MFCC);
}

/* savgol_filter(width 9, polyorder 1, deriv 1, mode 'interp'): the slope of
 * the least-squares line over 9 frames, sum_j j x[t + j] / 60; the first and
 * last 4 frames take the slope of the line over the first or last 9. */
static void delta_frames(gs_timbre_fx_t *fx, size_t n_frames)
{
    const size_t h = GS_TIMBRE_DELTA_WIDTH / 2;
    for (size_t t = 0; t < n_frames; t++) {
        size_t c = t < h ? h : t + h >= n_frames ? n_frames - 1 - h : t;
        for (size_t k = 0; k < N_MFCC; k++) {
            double s = 0.0;
            for (size_t j = 1; j <= h; j++)
                s += (double)j * (fx->mfcc[(c + j) * N_MFCC + k] - fx->mfcc[(c - j) * N_MFCC + k]);
            fx->delta[t * N_MFCC + k] = s / 60.0;
        }
    }
}

gs_err_t gs_timbre_fx_frames(gs_timbre_fx_t *fx, const float *y, size_t n, gs_timbre_frames_t *out,
                             char *errstr, size_t errstr_size)
{
    if (n < GS_TIMBRE_MIN_SAMPLES)
        return gs_fail(errstr, errstr_size, GS_ERR_INVALID_ARG,
                       "timbre features: %zu samples, at least %d", n, GS_TIMBRE_MIN_SAMPLES);
    size_t n_frames = 1 + n / HOP;
    if (reserve(fx, n_frames))
        return gs_fail(errstr, errstr_size, GS_ERR_NOMEM, "timbre features: out of memory");
    if (hop_blocks(fx, y, n, n_frames))
        return gs_fail(errstr, errstr_size, GS_ERR_INVALID_ARG,
                       "timbre features: a sample is not finite");
    rms_zcr(fx, y, n, n_frames);
    for (size_t t = 0; t < n_frames; t++)
        stft_frame(fx, y, n, t);
    mel_to_db(fx->mel, n_frames * N_MELS);
    mfcc_frames(fx, n_frames);
    delta_frames(fx, n_frames);
    *out = (gs_timbre_frames_t){
        .n_frames = n_frames,
        .mel_db = fx->mel,
        .mfcc = fx->mfcc,
        .delta = fx->delta,
        .centroid = fx->centroid,
        .bandwidth = fx->bandwidth,
        .rolloff = fx->rolloff,
        .zcr = fx->zcr,
        .rms = fx->rms,
    };
    return GS_OK;
}
