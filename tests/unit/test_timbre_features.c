/* Unit tests of the timbre kind's features (src/kinds/timbre/features.c)
 * against librosa 0.11 itself: tests/data/timbre_librosa_cases.json, made by
 * ops/data/timbre_librosa_oracle.py from synthetic signals (rebuilt here by
 * the same formulas) and from notes rendered by fluidsynth
 * (tests/data/timbre_notes.s16). Every pooled value, four frames of the
 * MFCC and deltas, two frames of the dB mel, and every frame of centroid,
 * bandwidth, rolloff, ZCR and RMS, each within the tolerance of its row in
 * `groups` (docs/TIMBRE.md lists what is reached); the filterbank against
 * librosa.filters.mel; the sparse bands against the dense product. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/kinds/timbre/features.h"

#define SR 22050

static json_t *doc;
static gs_timbre_fx_t *fx;

static int setup(void **state)
{
    (void)state;
    char path[4096], err[256];
    const char *src = getenv("GS_SOURCE_DIR");
    snprintf(path, sizeof(path), "%s/tests/data/timbre_librosa_cases.json", src ? src : ".");
    json_error_t je;
    doc = json_load_file(path, 0, &je);
    if (!doc) {
        fprintf(stderr, "%s: %s\n", path, je.text);
        return -1;
    }
    return gs_timbre_fx_new(&fx, err, sizeof(err)) == GS_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(doc);
    gs_timbre_fx_destroy(fx);
    return 0;
}

/* ---- tolerances ---------------------------------------------------------- */

/* One kind of value: ok when |c - r| <= atol + rtol |r| (numpy's isclose).
 * worst_abs / worst_rel are what was measured (rel over |r| > atol). */
typedef struct group {
    const char *name;
    double rtol, atol;
    double worst_abs, worst_rel;
    int n;
} group_t;

enum {
    G_MFCC_MEAN,
    G_MFCC_STD,
    G_DELTA_MEAN,
    G_DELTA_STD,
    G_SCALAR_POOL,
    G_MFCC,
    G_DELTA,
    G_MEL_DB,
    G_CENTROID,
    G_BANDWIDTH,
    G_ROLLOFF,
    G_ZCR,
    G_RMS,
    G_RESAMPLED,
    N_GROUPS
};

/* The oracle's JSON keeps 12 significant digits, and librosa's RMS is
 * float32; everything else is the same double-precision computation. */
static group_t groups[N_GROUPS] = {
    [G_MFCC_MEAN] = {.name = "pooled mfcc mean", .rtol = 1e-9, .atol = 1e-9},
    [G_MFCC_STD] = {.name = "pooled mfcc std", .rtol = 1e-9, .atol = 1e-9},
    [G_DELTA_MEAN] = {.name = "pooled delta mean", .rtol = 1e-9, .atol = 1e-9},
    [G_DELTA_STD] = {.name = "pooled delta std", .rtol = 1e-9, .atol = 1e-9},
    [G_SCALAR_POOL] = {.name = "pooled centroid..rms", .rtol = 1e-6, .atol = 1e-9},
    [G_MFCC] = {.name = "frame mfcc", .rtol = 1e-9, .atol = 1e-9},
    [G_DELTA] = {.name = "frame delta", .rtol = 1e-9, .atol = 1e-9},
    [G_MEL_DB] = {.name = "frame mel dB", .rtol = 1e-9, .atol = 1e-9},
    [G_CENTROID] = {.name = "frame centroid (Hz)", .rtol = 1e-9, .atol = 1e-9},
    [G_BANDWIDTH] = {.name = "frame bandwidth (Hz)", .rtol = 1e-9, .atol = 1e-9},
    [G_ROLLOFF] = {.name = "frame rolloff (Hz)", .rtol = 0, .atol = 1e-6},
    [G_ZCR] = {.name = "frame zcr", .rtol = 0, .atol = 1e-12},
    [G_RMS] = {.name = "frame rms", .rtol = 1e-6, .atol = 1e-9},
    /* samples out of libsoxr HQ: Debian's 0.1.3 here, python-soxr's bundled
     * build in librosa */
    [G_RESAMPLED] = {.name = "resampled samples", .rtol = 0, .atol = 1e-6},
};

static int check(int g, double c, double r)
{
    group_t *gr = &groups[g];
    double d = fabs(c - r);
    gr->n++;
    if (d > gr->worst_abs)
        gr->worst_abs = d;
    if (fabs(r) > gr->atol && d / fabs(r) > gr->worst_rel)
        gr->worst_rel = d / fabs(r);
    return d <= gr->atol + gr->rtol * fabs(r);
}

/* ---- the signals ---------------------------------------------------------- */

/* The oracle's synthetic() in the same order of operations; NULL if unknown. */
static float *synthetic(const char *name, size_t *n)
{
    size_t len = !strcmp(name, "chirp") ? 2 * SR : !strcmp(name, "short") ? 5512 : SR;
    float *y = calloc(len, sizeof(float));
    gs_rng_t rng;
    gs_rng_seed(&rng, 14);
    for (size_t i = 0; y && i < len; i++) {
        double t = (double)i / SR, v = 0.0;
        if (!strcmp(name, "sine_440"))
            v = 0.5 * sin(2 * M_PI * 440.0 * t);
        else if (!strcmp(name, "tones"))
            v = 0.3 * sin(2 * M_PI * 220.0 * t) + 0.2 * sin(2 * M_PI * 1760.0 * t) +
                0.1 * sin(2 * M_PI * 5000.0 * t);
        else if (!strcmp(name, "chirp"))
            v = 0.5 * sin(2 * M_PI * (100.0 * t + (8000.0 - 100.0) * t * t / (2 * 2.0)));
        else if (!strcmp(name, "noise"))
            v = 0.5 * (gs_rng_unit(&rng) - 0.5);
        else if (!strcmp(name, "click"))
            v = i == SR / 2 ? 0.9 : i == SR / 2 + 1 ? -0.45 : 0.0;
        else if (!strcmp(name, "short"))
            v = 0.6 * exp(-8.0 * t) * sin(2 * M_PI * 1000.0 * t);
        else {
            free(y);
            return NULL;
        }
        y[i] = (float)v;
    }
    *n = len;
    return y;
}

/* NAME_pcm16: NAME as int16 PCM (rounded half to even, as np.round). */
static float *signal(const char *name, size_t *n)
{
    size_t len = strlen(name);
    if (len < 7 || strcmp(name + len - 6, "_pcm16"))
        return synthetic(name, n);
    char base[64];
    snprintf(base, sizeof(base), "%.*s", (int)(len - 6), name);
    float *y = synthetic(base, n);
    for (size_t i = 0; y && i < *n; i++)
        y[i] = (float)(rint((double)y[i] * 32768.0) / 32768.0);
    return y;
}

/* Note `index` of tests/data/timbre_notes.s16: int16 / 32768, as the kind
 * will convert PCM. */
static float *rendered(size_t index, size_t len)
{
    char path[4096];
    const char *src = getenv("GS_SOURCE_DIR");
    snprintf(path, sizeof(path), "%s/%s", src ? src : ".",
             json_string_value(json_object_get(doc, "notes_file")));
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    int16_t *pcm = malloc(len * sizeof(int16_t));
    float *y = malloc(len * sizeof(float));
    assert_true(pcm && y);
    assert_int_equal(fseek(f, (long)(index * len * sizeof(int16_t)), SEEK_SET), 0);
    assert_int_equal(fread(pcm, sizeof(int16_t), len, f), len);
    fclose(f);
    for (size_t i = 0; i < len; i++) /* little-endian host (x86-64, arm64) */
        y[i] = (float)pcm[i] / 32768.0f;
    free(pcm);
    return y;
}

/* The oracle's resample_input(rate), then our resampler; its samples
 * against librosa.resample's (head: the filter's start-up; mid). */
static float *resampled(const json_t *c, size_t *n)
{
    int rate = (int)json_integer_value(json_object_get(c, "rate"));
    size_t n_in = (size_t)rate / 2;
    float *x = malloc(n_in * sizeof(float));
    assert_non_null(x);
    for (size_t i = 0; i < n_in; i++) {
        double t = (double)i / rate;
        double v = 0.3 * sin(2 * M_PI * 440.0 * t) + 0.2 * sin(2 * M_PI * 1500.0 * t) +
                   0.05 * sin(2 * M_PI * 3700.0 * t);
        if (rate > 2 * 15000)
            v = v + 0.1 * sin(2 * M_PI * 15000.0 * t);
        x[i] = (float)v;
    }
    *n = gs_timbre_resampled_len(n_in, rate);
    float *y = malloc(*n * sizeof(float));
    char err[256];
    assert_non_null(y);
    assert_int_equal(gs_timbre_resample(x, n_in, rate, y, err, sizeof(err)), GS_OK);
    free(x);
    const json_t *head = json_object_get(c, "head"), *mid = json_object_get(c, "mid");
    size_t at = (size_t)json_integer_value(json_object_get(c, "mid_at"));
    int bad = 0;
    for (size_t i = 0; i < json_array_size(head); i++)
        bad += !check(G_RESAMPLED, y[i], json_number_value(json_array_get(head, i)));
    for (size_t i = 0; i < json_array_size(mid); i++)
        bad += !check(G_RESAMPLED, y[at + i], json_number_value(json_array_get(mid, i)));
    if (bad)
        fprintf(stderr, "resample %d: %d samples off, worst %.3g\n", rate, bad,
                groups[G_RESAMPLED].worst_abs);
    assert_int_equal(bad, 0);
    return y;
}

static float *case_signal(const json_t *c, size_t index_in_notes, size_t *n)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    if (!strcmp(json_string_value(json_object_get(c, "kind")), "resample"))
        return resampled(c, n);
    if (!strcmp(json_string_value(json_object_get(c, "kind")), "synthetic"))
        return signal(name, n);
    *n = (size_t)json_integer_value(json_object_get(doc, "note_samples"));
    return rendered(index_in_notes, *n);
}

/* ---- comparison ----------------------------------------------------------- */

static int check_array(int g, const double *c, size_t stride, const json_t *ref, const char *what)
{
    int bad = 0;
    for (size_t i = 0; i < json_array_size(ref); i++) {
        double r = json_number_value(json_array_get(ref, i)), v = c[i * stride];
        if (!check(g, v, r)) {
            if (bad++ < 3)
                fprintf(stderr, "  %s [%zu]: %.9g, librosa %.9g\n", what, i, v, r);
        }
    }
    return bad;
}

static int pooled_group(size_t i)
{
    if (i < GS_TIMBRE_POOL_MFCC_STD)
        return G_MFCC_MEAN;
    if (i < GS_TIMBRE_POOL_DELTA_MEAN)
        return G_MFCC_STD;
    if (i < GS_TIMBRE_POOL_DELTA_STD)
        return G_DELTA_MEAN;
    return i < GS_TIMBRE_POOL_CENTROID ? G_DELTA_STD : G_SCALAR_POOL;
}

static int compare_pooled(const double *pooled, const json_t *ref, const char *name)
{
    int bad = 0;
    assert_int_equal(json_array_size(ref), GS_TIMBRE_N_POOLED);
    for (size_t i = 0; i < GS_TIMBRE_N_POOLED; i++) {
        double r = json_number_value(json_array_get(ref, i));
        if (!check(pooled_group(i), pooled[i], r)) {
            bad++;
            fprintf(stderr, "  %s %s: %.9g, librosa %.9g\n", name, gs_timbre_pooled_name(i),
                    pooled[i], r);
        }
    }
    return bad;
}

/* The frames the oracle kept (frame_index, mel_db_frames). */
static int compare_frames(const gs_timbre_frames_t *f, const json_t *c)
{
    int bad = 0;
    const json_t *idx = json_object_get(c, "frame_index"), *mel_idx;
    for (size_t j = 0; j < json_array_size(idx); j++) {
        size_t t = (size_t)json_integer_value(json_array_get(idx, j));
        bad += check_array(G_MFCC, f->mfcc + t * GS_TIMBRE_N_MFCC, 1,
                           json_array_get(json_object_get(c, "mfcc"), j), "mfcc");
        bad += check_array(G_DELTA, f->delta + t * GS_TIMBRE_N_MFCC, 1,
                           json_array_get(json_object_get(c, "delta"), j), "delta");
    }
    mel_idx = json_object_get(c, "mel_db_frames");
    for (size_t j = 0; j < json_array_size(mel_idx); j++) {
        size_t t = (size_t)json_integer_value(json_array_get(mel_idx, j));
        bad += check_array(G_MEL_DB, f->mel_db + t * GS_TIMBRE_N_MELS, 1,
                           json_array_get(json_object_get(c, "mel_db"), j), "mel_db");
    }
    const json_t *s = json_object_get(c, "series");
    bad += check_array(G_CENTROID, f->centroid, 1, json_object_get(s, "centroid"), "centroid");
    bad += check_array(G_BANDWIDTH, f->bandwidth, 1, json_object_get(s, "bandwidth"), "bandwidth");
    bad += check_array(G_ROLLOFF, f->rolloff, 1, json_object_get(s, "rolloff"), "rolloff");
    bad += check_array(G_ZCR, f->zcr, 1, json_object_get(s, "zcr"), "zcr");
    bad += check_array(G_RMS, f->rms, 1, json_object_get(s, "rms"), "rms");
    return bad;
}

/* The signal is the oracle's: the same sums to float32 rounding. */
static void check_input(const float *y, size_t n, const json_t *c)
{
    double s = 0.0, s2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        s += y[i];
        s2 += (double)y[i] * y[i];
    }
    assert_int_equal(n, json_integer_value(json_object_get(c, "samples")));
    assert_true(fabs(s - json_number_value(json_object_get(c, "input_sum"))) < 1e-6 * (double)n);
    assert_true(fabs(s2 - json_number_value(json_object_get(c, "input_sumsq"))) < 1e-9 * (double)n);
}

static void test_against_librosa(void **state)
{
    (void)state;
    const json_t *cases = json_object_get(doc, "cases");
    size_t notes = 0;
    int bad = 0;
    assert_true(json_array_size(cases) >= 16);
    for (size_t i = 0; i < json_array_size(cases); i++) {
        const json_t *c = json_array_get(cases, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        int synth = !strcmp(json_string_value(json_object_get(c, "kind")), "synthetic");
        size_t n = 0;
        float *y = case_signal(c, synth ? 0 : notes++, &n);
        assert_non_null(y);
        check_input(y, n, c);
        gs_timbre_frames_t f;
        char err[256];
        assert_int_equal(gs_timbre_fx_frames(fx, y, n, &f, err, sizeof(err)), GS_OK);
        assert_int_equal(f.n_frames, json_integer_value(json_object_get(c, "frames")));
        double pooled[GS_TIMBRE_N_POOLED], again[GS_TIMBRE_N_POOLED];
        gs_timbre_pool(&f, pooled);
        int b = compare_pooled(pooled, json_object_get(c, "pooled"), name) + compare_frames(&f, c);
        /* the one-call form gives the same vector (f is stale after it) */
        assert_int_equal(gs_timbre_fx_pooled(fx, y, n, again, err, sizeof(err)), GS_OK);
        assert_memory_equal(pooled, again, sizeof(pooled));
        if (b)
            fprintf(stderr, "%s: %d values out of tolerance\n", name, b);
        bad += b;
        free(y);
    }
    printf("%-22s %8s %8s %11s %11s %6s\n", "feature", "rtol", "atol", "max |d|", "max |d|/|r|",
           "n");
    for (int g = 0; g < N_GROUPS; g++)
        printf("%-22s %8.0e %8.0e %11.3e %11.3e %6d\n", groups[g].name, groups[g].rtol,
               groups[g].atol, groups[g].worst_abs, groups[g].worst_rel, groups[g].n);
    assert_int_equal(bad, 0);
}

/* ---- the filterbank -------------------------------------------------------- */

static void test_filterbank(void **state)
{
    (void)state;
    const json_t *fb = json_object_get(doc, "filterbank"), *bands = json_object_get(fb, "bands");
    size_t total = 0, lo, len;
    for (size_t m = 0; m < GS_TIMBRE_N_MELS; m++) {
        const float *w = gs_timbre_mel_band(fx, m, &lo, &len);
        double sum = 0.0;
        for (size_t k = 0; k < len; k++) {
            assert_true(w[k] > 0.0f); /* contiguous: no zero inside a band */
            sum += w[k];
        }
        double r = json_number_value(json_array_get(json_object_get(fb, "row_sums"), m));
        assert_true(fabs(sum - r) <= 1e-6 * r);
        total += len;
    }
    assert_int_equal(total, json_integer_value(json_object_get(fb, "nonzero")));
    for (size_t i = 0; i < json_array_size(bands); i++) {
        const json_t *b = json_array_get(bands, i), *ws = json_object_get(b, "weights");
        const float *w = gs_timbre_mel_band(
            fx, (size_t)json_integer_value(json_object_get(b, "band")), &lo, &len);
        assert_int_equal(lo, json_integer_value(json_object_get(b, "lo")));
        assert_int_equal(len, json_integer_value(json_object_get(b, "len")));
        for (size_t k = 0; k < len; k++) /* float32 as librosa's: equal, or one ulp off */
            assert_true(fabsf(w[k] - (float)json_number_value(json_array_get(ws, k))) <=
                        w[k] * 1.2e-7f);
    }
}

static void test_sparse_equals_dense(void **state)
{
    (void)state;
    double *dense = calloc((size_t)GS_TIMBRE_N_MELS * GS_TIMBRE_N_BINS, sizeof(double));
    double power[GS_TIMBRE_N_BINS], sparse[GS_TIMBRE_N_MELS];
    assert_non_null(dense);
    for (size_t m = 0; m < GS_TIMBRE_N_MELS; m++) {
        size_t lo, len;
        const float *w = gs_timbre_mel_band(fx, m, &lo, &len);
        for (size_t k = 0; k < len; k++)
            dense[m * GS_TIMBRE_N_BINS + lo + k] = w[k];
    }
    gs_rng_t rng;
    gs_rng_seed(&rng, 7);
    for (int rep = 0; rep < 4; rep++) {
        for (size_t k = 0; k < GS_TIMBRE_N_BINS; k++)
            power[k] = pow(10.0, 8.0 * gs_rng_unit(&rng) - 6.0); /* 1e-6 .. 1e2 */
        gs_timbre_mel_apply(fx, power, sparse);
        for (size_t m = 0; m < GS_TIMBRE_N_MELS; m++) {
            double d = 0.0;
            for (size_t k = 0; k < GS_TIMBRE_N_BINS; k++)
                d += dense[m * GS_TIMBRE_N_BINS + k] * power[k];
            assert_true(fabs(sparse[m] - d) <= 1e-13 * d);
        }
    }
    free(dense);
}

/* ---- the layout and the errors ---------------------------------------------- */

static void test_layout(void **state)
{
    (void)state;
    assert_string_equal(gs_timbre_pooled_name(0), "mfcc_mean_0");
    assert_string_equal(gs_timbre_pooled_name(GS_TIMBRE_POOL_MFCC_STD + 19), "mfcc_std_19");
    assert_string_equal(gs_timbre_pooled_name(GS_TIMBRE_POOL_DELTA_MEAN + 3), "delta_mean_3");
    assert_string_equal(gs_timbre_pooled_name(GS_TIMBRE_POOL_ROLLOFF), "rolloff_mean");
    assert_string_equal(gs_timbre_pooled_name(GS_TIMBRE_N_POOLED - 1), "rms_std");
    assert_null(gs_timbre_pooled_name(GS_TIMBRE_N_POOLED));
    double pooled[GS_TIMBRE_N_POOLED], seed[GS_TIMBRE_N_SEED];
    for (size_t i = 0; i < GS_TIMBRE_N_POOLED; i++)
        pooled[i] = (double)i;
    gs_timbre_seed(pooled, seed);
    const char *expect[GS_TIMBRE_N_SEED - 26] = {"centroid_mean", "centroid_std", "zcr_mean",
                                                 "zcr_std",       "rms_mean",     "rms_std",
                                                 "rolloff_mean",  "rolloff_std"};
    for (size_t i = 0; i < GS_TIMBRE_N_SEED; i++) {
        size_t at = gs_timbre_seed_index(i);
        assert_true(seed[i] == (double)at);
        if (i < 13)
            assert_int_equal(at, i);
        else if (i < 26)
            assert_int_equal(at, GS_TIMBRE_POOL_MFCC_STD + i - 13);
        else
            assert_string_equal(gs_timbre_pooled_name(at), expect[i - 26]);
    }
}

static void test_errors(void **state)
{
    (void)state;
    float y[GS_TIMBRE_MIN_SAMPLES] = {0};
    gs_timbre_frames_t f;
    char err[256];
    assert_int_equal(gs_timbre_fx_frames(fx, y, GS_TIMBRE_MIN_SAMPLES - 1, &f, err, sizeof(err)),
                     GS_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "at least"));
    /* the shortest: 9 frames, the width of the delta */
    assert_int_equal(gs_timbre_fx_frames(fx, y, GS_TIMBRE_MIN_SAMPLES, &f, err, sizeof(err)),
                     GS_OK);
    assert_int_equal(f.n_frames, 9);
    y[100] = NAN;
    assert_int_equal(gs_timbre_fx_frames(fx, y, GS_TIMBRE_MIN_SAMPLES, &f, err, sizeof(err)),
                     GS_ERR_INVALID_ARG);
    y[100] = INFINITY;
    assert_int_equal(gs_timbre_fx_frames(fx, y, GS_TIMBRE_MIN_SAMPLES, &f, err, sizeof(err)),
                     GS_ERR_INVALID_ARG);
    gs_timbre_fx_destroy(NULL);
}

static void test_resample_edges(void **state)
{
    (void)state;
    float in[1000], out[3000];
    char err[256];
    for (size_t i = 0; i < 1000; i++)
        in[i] = (float)i / 1000.0f;
    assert_int_equal(gs_timbre_resample(in, 1000, 7999, out, err, sizeof(err)), GS_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "7999"));
    assert_int_equal(gs_timbre_resample(in, 1000, 48001, out, err, sizeof(err)),
                     GS_ERR_INVALID_ARG);
    /* 22,050 Hz is a copy; lengths as librosa's ceil(n * 22050 / rate) */
    assert_int_equal(gs_timbre_resampled_len(1000, GS_TIMBRE_SR), 1000);
    assert_int_equal(gs_timbre_resample(in, 1000, GS_TIMBRE_SR, out, err, sizeof(err)), GS_OK);
    assert_memory_equal(in, out, sizeof(in));
    assert_int_equal(gs_timbre_resampled_len(1000, 8000), 2757); /* 2756.25 */
    assert_int_equal(gs_timbre_resampled_len(1000, 44100), 500); /* exactly 500 */
    assert_int_equal(gs_timbre_resampled_len(1001, 44100), 501); /* 500.5 */
    assert_int_equal(gs_timbre_resampled_len(1000, 48000), 460); /* 459.375 */
    /* the padded tail (librosa's fix_length) is zeros, never stale memory */
    for (size_t i = 0; i < 3000; i++)
        out[i] = 7.0f;
    assert_int_equal(gs_timbre_resample(in, 1000, 8000, out, err, sizeof(err)), GS_OK);
    for (size_t i = 0; i < 2757; i++)
        assert_true(out[i] != 7.0f && isfinite(out[i]));
    assert_true(out[2757] == 7.0f); /* nothing written past the length */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_librosa),
        cmocka_unit_test(test_filterbank),
        cmocka_unit_test(test_sparse_equals_dense),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_resample_edges),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
