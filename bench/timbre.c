/* bench/timbre [N] [SIGNAL_OUT] - the timbre kind's features (src/kinds/
 * timbre/features.h, issue 14) in-process: every per-frame feature and the
 * pooled vector of a 10 s clip and of a 3-minute signal at 22,050 Hz, N
 * times each (default 200 and 20). The signal: a few harmonic notes with
 * vibrato over seeded noise, so no frame is silent. Also KissFFT alone,
 * and resampling 10 s from 44.1 and 48 kHz (libsoxr HQ). With SIGNAL_OUT it is
 * also written there (raw float32) for bench/timbre_librosa.py. One core,
 * one thread. Prints JSON with p50/p99/max in milliseconds per row, wall
 * clock and the thread's CPU time (the machine may be shared). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <kiss_fftr.h>

#include "../src/kinds/timbre/features.h"

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
    printf(", \"mfcc0_mean\": %.4f}%s\n", pooled[0], last ? "" : ",");
    free(ms);
}

/* The floor: KissFFT alone on the clip's frames (no window, no features). */
static void bench_fft(const float *y, size_t n, int reps)
{
    kiss_fftr_cfg cfg = kiss_fftr_alloc(GS_TIMBRE_N_FFT, 0, NULL, NULL);
    kiss_fft_cpx out[GS_TIMBRE_N_BINS];
    double *ms = malloc(sizeof(double) * (size_t)reps * 2), check = 0.0;
    size_t frames = (n - GS_TIMBRE_N_FFT) / GS_TIMBRE_HOP + 1;
    if (!cfg || !ms)
        exit(1);
    for (int r = 0; r < reps; r++) {
        double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
        for (size_t t = 0; t < frames; t++) {
            kiss_fftr(cfg, y + t * GS_TIMBRE_HOP, out);
            check += out[1].r;
        }
        ms[r] = now_ms(CLOCK_MONOTONIC) - t0;
        ms[reps + r] = now_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
    }
    printf("    \"kissfft_only_10s\": {\"frames\": %zu, \"runs\": %d, ", frames, reps);
    print_quantiles("", ms, reps);
    printf(", ");
    print_quantiles("cpu_", ms + reps, reps);
    printf(", \"check\": %.3g},\n", check);
    kiss_fftr_free(cfg);
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
    if (argc > 2)
        write_signal(argv[2], y, n_long);
    printf("{\n  \"bench\": \"timbre features (22050 Hz, n_fft 2048, hop 512, 128 mels, 20 "
           "MFCC)\",\n  \"rows\": {\n");
    bench_fft(y, n_clip, reps);
    bench_resample(y, 44100, reps / 4 > 0 ? reps / 4 : 1);
    bench_resample(y, 48000, reps / 4 > 0 ? reps / 4 : 1);
    bench_row(fx, "clip_10s", y, n_clip, reps, 0);
    bench_row(fx, "recording_3min", y, n_long, reps / 10 > 0 ? reps / 10 : 1, 1);
    printf("  }\n}\n");
    gs_timbre_fx_destroy(fx);
    free(y);
    return 0;
}
