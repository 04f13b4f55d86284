/* The training rows (train.h): each rendered note as it is, and augmented
 * copies of it, pooled by the same extractor the kind serves with. The
 * augmentation stands in for what a recording adds to a sound font's
 * note: another level, another microphone and room colour, noise, and a
 * trip through another sample rate. Each copy's draws come from the seed,
 * the note and the copy, so a note's copies never depend on the others. */
#include <math.h>
#include <soxr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train.h"

static const int round_trip_rates[3] = {11025, 16000, 44100};

static double gauss(gs_rng_t *r)
{
    double u1 = gs_rng_unit(r) + 1e-300, u2 = gs_rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* A tilt: a one-pole split at fc, the low and the high part each given
 * its own gain (up to 6 dB either way). */
static void tilt(float *y, size_t n, gs_rng_t *r)
{
    double fc = 300.0 * pow(10.0, gs_rng_unit(r)); /* 300 Hz .. 3 kHz */
    double a = exp(-2.0 * M_PI * fc / GS_TIMBRE_SR), lp = 0;
    double gl = pow(10.0, (12 * gs_rng_unit(r) - 6) / 20),
           gh = pow(10.0, (12 * gs_rng_unit(r) - 6) / 20);
    for (size_t i = 0; i < n; i++) {
        lp = (1 - a) * y[i] + a * lp;
        y[i] = (float)(gl * lp + gh * (y[i] - lp));
    }
}

static double rms(const float *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)y[i] * y[i];
    return n ? sqrt(s / (double)n) : 0.0;
}

/* 22,050 Hz to `rate` and back with libsoxr (the length kept). */
static gs_err_t round_trip(float *y, size_t n, int rate, char *errstr, size_t en)
{
    size_t mid_n = (size_t)ceil((double)n * rate / GS_TIMBRE_SR) + 16, done = 0;
    float *mid = malloc(mid_n * sizeof(float)), *back = malloc((n + 16) * sizeof(float));
    gs_err_t err = mid && back ? GS_OK : gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    if (!err && soxr_oneshot(GS_TIMBRE_SR, rate, 1, y, n, NULL, mid, mid_n, &done, &io, &q, NULL))
        err = gs_fail(errstr, en, GS_ERR_INTERNAL, "libsoxr failed");
    if (!err)
        err = gs_timbre_resample(mid, done, rate, back, errstr, en);
    if (!err) { /* gs_timbre_resample gives ceil(done * 22050 / rate) >= n - 1 samples */
        size_t got = gs_timbre_resampled_len(done, rate);
        memcpy(y, back, (got < n ? got : n) * sizeof(float));
        if (got < n)
            memset(y + got, 0, (n - got) * sizeof(float));
    }
    free(mid);
    free(back);
    return err;
}

/* One augmented copy of y (in place), then back to int16 and to float, as
 * a client would send it. */
static gs_err_t augment(float *y, size_t n, gs_rng_t *r, char *errstr, size_t en)
{
    gs_err_t err = GS_OK;
    if (gs_rng_unit(r) < 0.5)
        err = round_trip(y, n, round_trip_rates[gs_rng_next(r) % 3], errstr, en);
    tilt(y, n, r);
    double gain = pow(10.0, (18 * gs_rng_unit(r) - 12) / 20); /* -12 .. +6 dB */
    double noise = gs_rng_unit(r) < 0.7 ? rms(y, n) * pow(10.0, -(15 + 25 * gs_rng_unit(r)) / 20)
                                        : 0.0; /* SNR 15 .. 40 dB */
    for (size_t i = 0; i < n; i++) {
        double v = gain * (y[i] + noise * gauss(r));
        y[i] = (float)(lrint(fmax(-32768.0, fmin(32767.0, v * 32768.0))) / 32768.0);
    }
    return err;
}

static void progress(size_t i, size_t n)
{
    if (isatty(2) && (i % 200 == 0 || i + 1 == n))
        fprintf(stderr, "\rfeatures: %zu/%zu%s", i + 1, n, i + 1 == n ? "\n" : "");
}

/* The pooled rows of every copy of note i. */
static gs_err_t note_rows(const train_conf_t *c, tdata_t *d, gs_timbre_fx_t *fx, size_t i, float *y,
                          char *errstr, size_t en)
{
    const note_t *nt = &d->notes.notes[i];
    gs_err_t err = GS_OK;
    for (size_t k = 0; !err && k < d->copies; k++) {
        for (uint32_t s = 0; s < nt->n; s++)
            y[s] = nt->pcm[s] / 32768.0f;
        gs_rng_t r;
        gs_rng_seed(&r, c->seed * 0x9E3779B97F4A7C15ULL + i * 131 + k);
        if (k > 0)
            err = augment(y, nt->n, &r, errstr, en);
        gs_timbre_frames_t f;
        if (!err)
            err = gs_timbre_fx_frames(fx, y, nt->n, &f, errstr, en);
        if (err)
            break;
        gs_timbre_pool(&f, d->pooled + (k * d->notes.n + i) * GS_TIMBRE_N_POOLED);
        cnn_input(&f, d->mel + k * d->mel_copy + d->mel_off[i]);
    }
    return err;
}

/* Where each note's CNN input goes (its width is that of every copy). */
static gs_err_t mel_layout(tdata_t *d, char *errstr, size_t en)
{
    d->mel_off = malloc((d->notes.n + 1) * sizeof(size_t));
    d->mel_width = malloc((d->notes.n + 1) * sizeof(size_t));
    if (!d->mel_off || !d->mel_width)
        return gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    size_t at = 0;
    for (size_t i = 0; i < d->notes.n; i++) {
        d->mel_off[i] = at;
        d->mel_width[i] = cnn_width(1 + d->notes.notes[i].n / GS_TIMBRE_HOP);
        at += GS_TIMBRE_N_MELS * d->mel_width[i];
    }
    d->mel_copy = at;
    d->mel = malloc((d->copies * at + 1) * sizeof(float));
    return d->mel ? GS_OK : gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
}

gs_err_t tdata_build(const train_conf_t *c, tdata_t *d, char *errstr, size_t en)
{
    *d = (tdata_t){.copies = 1 + c->augment};
    gs_timbre_fx_t *fx = NULL;
    gs_err_t err = notes_read(c->notes, &d->notes, errstr, en);
    size_t longest = 0;
    for (size_t i = 0; !err && i < d->notes.n; i++)
        longest = d->notes.notes[i].n > longest ? d->notes.notes[i].n : longest;
    float *y = err ? NULL : malloc((longest + 1) * sizeof(float));
    d->pooled =
        err ? NULL : malloc((d->copies * d->notes.n + 1) * GS_TIMBRE_N_POOLED * sizeof(double));
    if (!err && (!y || !d->pooled))
        err = gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory");
    if (!err)
        err = mel_layout(d, errstr, en);
    if (!err)
        err = gs_timbre_fx_new(&fx, errstr, en);
    for (size_t i = 0; !err && i < d->notes.n; i++) {
        err = note_rows(c, d, fx, i, y, errstr, en);
        progress(i, d->notes.n);
    }
    gs_timbre_fx_destroy(fx);
    free(y);
    if (err)
        tdata_free(d);
    return err;
}

void tdata_free(tdata_t *d)
{
    notes_free(&d->notes);
    free(d->pooled);
    free(d->mel);
    free(d->mel_off);
    free(d->mel_width);
    *d = (tdata_t){0};
}
