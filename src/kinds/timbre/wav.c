/* WAV files for govstream-load's timbre side (internal.h): RIFF/WAVE with
 * 16- or 24-bit integer PCM or 32-bit float (WAVE_FORMAT_PCM, _IEEE_FLOAT
 * or _EXTENSIBLE with one of those), any channel count, mixed to mono and
 * rounded to int16 as the request carries it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static uint32_t le(const uint8_t *b, int n)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint32_t)b[i] << (8 * i);
    return v;
}

typedef struct fmt {
    int format, channels, bits;
    uint32_t rate;
} fmt_t;

static gs_err_t parse_fmt(const uint8_t *c, uint32_t len, fmt_t *f, const char *path, char *errstr,
                          size_t n)
{
    if (len < 16)
        return gs_fail(errstr, n, GS_ERR_DECODE, "%s: short fmt chunk", path);
    *f = (fmt_t){.format = (int)le(c, 2),
                 .channels = (int)le(c + 2, 2),
                 .rate = le(c + 4, 4),
                 .bits = (int)le(c + 14, 2)};
    if (f->format == 0xFFFE && len >= 26) /* extensible: the sub-format's first two bytes */
        f->format = (int)le(c + 24, 2);
    int ok = f->channels >= 1 && ((f->format == 1 && (f->bits == 16 || f->bits == 24)) ||
                                  (f->format == 3 && f->bits == 32));
    return ok ? GS_OK
              : gs_fail(errstr, n, GS_ERR_DECODE,
                        "%s: format %d with %d bits and %d channels: only 16/24-bit PCM or "
                        "32-bit float",
                        path, f->format, f->bits, f->channels);
}

static double sample_at(const uint8_t *p, const fmt_t *f)
{
    if (f->format == 3) {
        float v;
        uint32_t bits = le(p, 4);
        memcpy(&v, &bits, sizeof(v));
        return v;
    }
    if (f->bits == 16)
        return (int16_t)le(p, 2) / 32768.0;
    int32_t v = (int32_t)(le(p, 3) << 8) >> 8; /* sign-extend 24 bits */
    return v / 8388608.0;
}

/* The mono int16 of frames [first, first + count) of data. */
static gs_err_t mix(const uint8_t *data, uint32_t frames, const fmt_t *f, size_t first,
                    size_t count, timbre_wav_t *w, char *errstr, size_t n)
{
    size_t width = (size_t)f->bits / 8 * (size_t)f->channels;
    if (first > frames)
        first = frames;
    if (count > frames - first)
        count = frames - first;
    int16_t *pcm = malloc((count + 1) * sizeof(int16_t));
    if (!pcm)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        double s = 0;
        for (int ch = 0; ch < f->channels; ch++)
            s += sample_at(data + (first + i) * width + (size_t)ch * (size_t)(f->bits / 8), f);
        pcm[i] = (int16_t)lrint(fmax(-32768.0, fmin(32767.0, 32768.0 * s / f->channels)));
    }
    w->pcm = pcm;
    w->n = count;
    return GS_OK;
}

gs_err_t timbre_wav_read(const char *path, size_t first, size_t count, timbre_wav_t *w,
                         char *errstr, size_t n)
{
    char *buf = NULL;
    size_t len = 0;
    *w = (timbre_wav_t){0};
    gs_err_t err = gs_read_file(path, &buf, &len, errstr, n);
    if (err)
        return err;
    const uint8_t *b = (const uint8_t *)buf;
    fmt_t f = {0};
    int have_fmt = 0;
    err = len >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WAVE", 4)
              ? GS_ERR_NOT_FOUND
              : gs_fail(errstr, n, GS_ERR_DECODE, "%s: not a RIFF/WAVE file", path);
    for (size_t off = 12; err == GS_ERR_NOT_FOUND && len - off >= 8;) {
        uint32_t clen = le(b + off + 4, 4);
        const uint8_t *c = b + off + 8;
        if (clen > len - off - 8)
            clen = (uint32_t)(len - off - 8); /* a streamed file's data chunk: what is there */
        if (!memcmp(b + off, "fmt ", 4)) {
            if (!(err = parse_fmt(c, clen, &f, path, errstr, n)))
                err = GS_ERR_NOT_FOUND;
            have_fmt = 1;
        } else if (!memcmp(b + off, "data", 4) && have_fmt) {
            uint32_t frames = clen / (uint32_t)(f.bits / 8 * f.channels);
            w->rate = (int)f.rate;
            w->frames = frames;
            err = mix(c, frames, &f, first, count, w, errstr, n);
        }
        off += 8 + (size_t)clen + (clen & 1);
    }
    if (err == GS_ERR_NOT_FOUND)
        err = gs_fail(errstr, n, GS_ERR_DECODE, "%s: no fmt or data chunk", path);
    free(buf);
    return err;
}
