/* bench/timbre [N] [SIGNAL_OUT] [MODEL] - the timbre kind in-process
 * (issue 14): every per-frame feature and the pooled vector of a 10 s clip
 * and of a 3-minute signal at 22,050 Hz, N times each (default 200 and
 * 20). The signal: a few harmonic notes with vibrato over seeded noise, so
 * no frame is silent. Also the FFT alone (ours, and Debian's KissFFT when
 * the bench is built with it), and resampling 10 s from 44.1
 * and 48 kHz (libsoxr HQ). With MODEL (a timbre model file) also features
 * + classifier as the kind serves them: a 10 s clip, and a 3-minute
 * recording as the 18 clips of 10 s a client sends, with each of the
 * model's two learners alone. With SIGNAL_OUT the signal is written there
 * (raw float32) for bench/timbre_librosa.py ("-": not written). One core,
 * one thread. Prints JSON with p50/p99/max in milliseconds per row, wall
 * clock and the thread's CPU time (the machine may be shared). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef GS_BENCH_KISSFFT
#include <kiss_fftr.h>
#endif

#include "../src/kinds/timbre/features.h"
#include "../src/kinds/timbre/fft.h"
#include "../src/kinds/timbre/model.h"
#include "govstream/timbre.h"

static double now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A note every second, 8 harmonics decaying, 5 Hz vibrato, noise at -40 dB. */
static void make_signal(float *y, size_t n)
{
    gs_rng_t rng;
    gs_rng_seed(&rng, 14);
    const double notes[] = {220.0, 277.18, 329.63, 440.0, 392.0, 246.94};
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / GS_TIMBRE_SR, f0 = notes[(i / GS_TIMBRE_SR) % 6];
        double phase = 2 * M_PI * f0 * t + 0.3 * sin(2 * M_PI * 5 * t), s = 0.0;
        for (int h = 1; h <= 8; h++)
            s += sin(h * phase) / (h * h);
        double env = exp(-2.0 * fmod(t, 1.0));
        y[i] = (float)(0.4 * env * s + 0.01 * (gs_rng_unit(&rng) - 0.5));
    }
}

/* p50/p99/max of ms[0..reps), sorted in place, as JSON members. */
static void print_quantiles(const char *prefix, double *ms, int reps)
{
    qsort(ms, (size_t)reps, sizeof(double), cmp_double);
    printf("\"%sp50_ms\": %.3f, \"%sp99_ms\": %.3f, \"%smax_ms\": %.3f", prefix, ms[reps / 2],
           prefix, ms[(reps * 99) / 100], prefix, ms[reps - 1]);
}

/* Runs the features and pooling `reps` times on y[0..n); prints one row. */
static void bench_row(gs_timbre_fx_t *fx, const char *name, const float *y, size_t n, int reps,
                      int last)
{
    double *ms = malloc(sizeof(double) * (size_t)reps * 2), pooled[GS_TIMBRE_N_POOLED];
    char err[256];
    if (!ms)
        exit(1);
    for (int r = 0; r < reps; r++) {
        gs_timbre_frames_t f;
        double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
        if (gs_timbre_fx_frames(fx, y, n, &f, err, sizeof(err)) != GS_OK) {
            fprintf(stderr, "bench-timbre: %s\n", err);
            exit(1);
        }
        gs_timbre_pool(&f, pooled);
        ms[r] = now_ms(CLOCK_MONOTONIC) - t0;
        ms[reps + r] = now_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
    }
    printf("    \"%s\": {\"samples\": %zu, \"frames\": %zu, \"runs\": %d, ", name, n,
           1 + n / GS_TIMBRE_HOP, reps);
    print_quantiles("", ms, reps);
    printf(", ");
    print_quantiles("cpu_", ms + reps, reps);
    printf(", \"mfcc0_mean\": %.4f}%s", pooled[0], last ? "" : ",\n");
    free(ms);
}

/* The floor: the FFT alone on the clip's frames (no window, no
 * features): ours (fft.c, double) and, when built with it, Debian's
 * KissFFT (float), the one the features used before. */
static void fft_row(const char *name, const float *y, size_t n, int reps, int kiss)
{
    static fft_t f;
    double *ms = malloc(sizeof(double) * (size_t)reps * 2), check = 0.0, w[GS_TIMBRE_N_FFT];
    double power[GS_TIMBRE_N_BINS];
    size_t frames = (n - GS_TIMBRE_N_FFT) / GS_TIMBRE_HOP + 1;
#ifdef GS_BENCH_KISSFFT
    kiss_fftr_cfg cfg = kiss_fftr_alloc(GS_TIMBRE_N_FFT, 0, NULL, NULL);
    kiss_fft_cpx out[GS_TIMBRE_N_BINS];
#endif
    if (!ms)
        exit(1);
    fft_init(&f);
    for (int i = 0; i < GS_TIMBRE_N_FFT; i++)
        w[i] = 0.5 - 0.5 * cos(2.0 * M_PI * i / GS_TIMBRE_N_FFT);
    for (int r = 0; r < reps; r++) {
        double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
        for (size_t t = 0; t < frames; t++) {
            const float *frame = y + t * GS_TIMBRE_HOP;
#ifdef GS_BENCH_KISSFFT
            if (kiss) {
                kiss_fftr(cfg, frame, out);
                check += out[1].r;
                continue;
            }
#endif
            fft_power(&f, frame, w, power);
            check += power[1];
        }
        ms[r] = now_ms(CLOCK_MONOTONIC) - t0;
        ms[reps + r] = now_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
    }
    printf("    \"%s\": {\"frames\": %zu, \"runs\": %d, ", name, frames, reps);
    print_quantiles("", ms, reps);
    printf(", ");
    print_quantiles("cpu_", ms + reps, reps);
    printf(", \"check\": %.3g},\n", check);
#ifdef GS_BENCH_KISSFFT
    kiss_fftr_free(cfg);
#else
    (void)kiss;
#endif
    free(ms);
}

/* Resampling 10 s at `rate` to 22,050 Hz (the signal taken as at `rate`). */
static void bench_resample(const float *y, int rate, int reps)
{
    size_t n = (size_t)10 * (size_t)rate, len = gs_timbre_resampled_len(n, rate);
    float *out = malloc(len * sizeof(float));
    double *ms = malloc(sizeof(double) * (size_t)reps * 2);
    char err[256];
    if (!out || !ms)
        exit(1);
    for (int r = 0; r < reps; r++) {
        double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
        if (gs_timbre_resample(y, n, rate, out, err, sizeof(err)) != GS_OK) {
            fprintf(stderr, "bench-timbre: %s\n", err);
            exit(1);
        }
        ms[r] = now_ms(CLOCK_MONOTONIC) - t0;
        ms[reps + r] = now_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
    }
    printf("    \"resample_10s_%d\": {\"samples\": %zu, \"out\": %zu, \"runs\": %d, ", rate, n, len,
           reps);
    print_quantiles("", ms, reps);
    printf(", ");
    print_quantiles("cpu_", ms + reps, reps);
    printf("},\n");
    free(out);
    free(ms);
}

/* Features and classifier, as the kind runs them, on `clips` clips of
 * 10 s in turn (1: a clip; 18: a 3-minute recording). */
static void bench_classify(gs_timbre_fx_t *fx, timbre_model_t *m, const char *name, const float *y,
                           size_t clips, int reps)
{
    size_t n = (size_t)10 * GS_TIMBRE_SR;
    double *ms = malloc(sizeof(double) * (size_t)reps * 2), p[GS_TIMBRE_N_FAMILIES];
    float *scratch = malloc((size_t)2 * 1024 * sizeof(float));
    float *cnn_x = malloc(GS_TIMBRE_N_MELS * cnn_width(1 + n / GS_TIMBRE_HOP) * sizeof(float));
    char err[256];
    if (!ms || !scratch || !cnn_x)
        exit(1);
    for (int r = 0; r < reps; r++) {
        double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
        for (size_t c = 0; c < clips; c++) {
            gs_timbre_frames_t f;
            if (gs_timbre_fx_frames(fx, y + c * n, n, &f, err, sizeof(err)) != GS_OK ||
                timbre_model_predict(m, &f, scratch, cnn_x, p) != GS_OK) {
                fprintf(stderr, "bench-timbre: %s\n", err);
                exit(1);
            }
        }
        ms[r] = now_ms(CLOCK_MONOTONIC) - t0;
        ms[reps + r] = now_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
    }
    printf(",\n    \"%s\": {\"clips\": %zu, \"serve\": \"%s\", \"runs\": %d, ", name, clips,
           timbre_serve_names[m->serve], reps);
    print_quantiles("", ms, reps);
    printf(", ");
    print_quantiles("cpu_", ms + reps, reps);
    printf(", \"p0\": %.4f}", p[0]);
    free(ms);
    free(scratch);
    free(cnn_x);
}

static void bench_model(gs_timbre_fx_t *fx, const char *path, const float *y, int reps)
{
    timbre_model_t m;
    char err[512];
    if (timbre_model_load(path, &m, err, sizeof(err)) != GS_OK) {
        fprintf(stderr, "bench-timbre: %s\n", err);
        exit(1);
    }
    timbre_serve_t served = m.serve;
    bench_classify(fx, &m, "classified_clip_10s", y, 1, reps);
    bench_classify(fx, &m, "classified_recording_3min", y, 18, reps / 10 > 0 ? reps / 10 : 1);
    m.serve = SERVE_MLP;
    bench_classify(fx, &m, "classified_clip_10s_mlp_only", y, 1, reps);
    m.serve = SERVE_CNN;
    bench_classify(fx, &m, "classified_clip_10s_cnn_only", y, 1, reps);
    m.serve = served;
    timbre_model_free(&m);
}

static void write_signal(const char *path, const float *y, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(y, sizeof(float), n, f) != n || fclose(f)) {
        fprintf(stderr, "bench-timbre: cannot write %s\n", path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 200;
    openblas_set_num_threads(1); /* one core, as the worker runs it */
    if (reps < 1)
        reps = 1;
    size_t n_clip = (size_t)10 * GS_TIMBRE_SR, n_long = (size_t)180 * GS_TIMBRE_SR;
    float *y = malloc(sizeof(float) * n_long);
    gs_timbre_fx_t *fx = NULL;
    char err[256];
    if (!y || gs_timbre_fx_new(&fx, err, sizeof(err)) != GS_OK) {
        fprintf(stderr, "bench-timbre: setup failed\n");
        free(y);
        return 1;
    }
    make_signal(y, n_long);
    if (argc > 2 && strcmp(argv[2], "-") != 0)
        write_signal(argv[2], y, n_long);
    printf("{\n  \"bench\": \"timbre features (22050 Hz, n_fft 2048, hop 512, 128 mels, 20 "
           "MFCC)\",\n  \"rows\": {\n");
    fft_row("fft_only_10s", y, n_clip, reps, 0);
#ifdef GS_BENCH_KISSFFT
    fft_row("kissfft_only_10s", y, n_clip, reps, 1);
#endif
    bench_resample(y, 44100, reps / 4 > 0 ? reps / 4 : 1);
    bench_resample(y, 48000, reps / 4 > 0 ? reps / 4 : 1);
    bench_row(fx, "clip_10s", y, n_clip, reps, 0);
    bench_row(fx, "recording_3min", y, n_long, reps / 10 > 0 ? reps / 10 : 1, 1);
    if (argc > 3)
        bench_model(fx, argv[3], y, reps);
    printf("\n  }\n}\n");
    gs_timbre_fx_destroy(fx);
    free(y);
    return 0;
}
