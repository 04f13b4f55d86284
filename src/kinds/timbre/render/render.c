/* govstream-render --out DIR --font F [--font F ...]: every General MIDI
 * program that has an NSynth family (govstream/timbre.h), at --pitches
 * pitches across the family's range and two velocities, rendered note by
 * note (no MIDI files) at 22,050 Hz. Each note draws from the seed whether
 * it is short or long and whether reverb and chorus are on. The fonts are
 * grouped into lineages by the samples they share (lineage.c). Writes
 * DIR/notes.bin and DIR/manifest.json (notes.h). */
#include <errno.h>
#include <fluidsynth.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../notes.h"
#include "govstream/timbre.h"
#include "render.h"

#define SR        22050
#define RELEASE_S 0.5              /* rendered after the note-off: the decay is timbre too */
#define NOTE_MAX  ((size_t)4 * SR) /* samples: the longest hold and the release fit */

static const double holds_s[2] = {0.3, 0.9};
static const int velocities[2] = {64, 112};

typedef struct conf {
    const char *out, *wav, *fonts[RENDER_MAX_FONTS];
    int n_fonts, pitches;
    unsigned char programs[128]; /* --program: only these; none given: every one */
    int n_programs;
    uint64_t seed;
    double threshold;
} conf_t;

typedef struct font_run {
    fluid_settings_t *settings[2]; /* [fx]: dry, reverb and chorus */
    fluid_synth_t *synth[2];
    int sfid[2];
    long rendered, silent, clipped;
    float *left, *right; /* one note's stereo output, NOTE_MAX samples each */
    int16_t *pcm;        /* its mono PCM */
} font_run_t;

static void font_run_free(font_run_t *r)
{
    free(r->left), free(r->right), free(r->pcm);
    for (int fx = 0; fx < 2; fx++) {
        if (r->synth[fx])
            delete_fluid_synth(r->synth[fx]);
        if (r->settings[fx])
            delete_fluid_settings(r->settings[fx]);
    }
}

static gs_err_t font_run_open(font_run_t *r, const char *path, char *errstr, size_t n)
{
    *r = (font_run_t){.left = malloc(NOTE_MAX * sizeof(float)),
                      .right = malloc(NOTE_MAX * sizeof(float)),
                      .pcm = malloc(NOTE_MAX * sizeof(int16_t))};
    if (!r->left || !r->right || !r->pcm)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    for (int fx = 0; fx < 2; fx++) {
        fluid_settings_t *s = r->settings[fx] = new_fluid_settings();
        if (!s)
            return gs_fail(errstr, n, GS_ERR_NOMEM, "fluidsynth: no settings");
        fluid_settings_setnum(s, "synth.sample-rate", SR);
        fluid_settings_setnum(s, "synth.gain", 0.5);
        fluid_settings_setint(s, "synth.reverb.active", fx);
        fluid_settings_setint(s, "synth.chorus.active", fx);
        fluid_settings_setint(s, "synth.cpu-cores", 1);
        r->synth[fx] = new_fluid_synth(s);
        if (!r->synth[fx])
            return gs_fail(errstr, n, GS_ERR_INTERNAL, "fluidsynth: no synth");
        r->sfid[fx] = fluid_synth_sfload(r->synth[fx], path, 1);
        if (r->sfid[fx] == FLUID_FAILED)
            return gs_fail(errstr, n, GS_ERR_DECODE, "%s: fluidsynth cannot load it", path);
    }
    return GS_OK;
}

/* One note into pcm[0..len): note-on, hold, note-off, release; then the
 * synth is silenced and its effects drained so the next note starts clean. */
static size_t render_note(font_run_t *r, int fx, int pitch, int vel, double hold, float *l,
                          float *rt, int16_t *pcm, long *clipped)
{
    fluid_synth_t *s = r->synth[fx];
    size_t n_hold = (size_t)(hold * SR), len = n_hold + (size_t)(RELEASE_S * SR);
    fluid_synth_noteon(s, 0, pitch, vel);
    fluid_synth_write_float(s, (int)n_hold, l, 0, 1, rt, 0, 1);
    fluid_synth_noteoff(s, 0, pitch);
    fluid_synth_write_float(s, (int)(len - n_hold), l + n_hold, 0, 1, rt + n_hold, 0, 1);
    for (size_t i = 0; i < len; i++) {
        double v = 0.5 * (l[i] + rt[i]) * 32768.0;
        if (fabs(v) > 32767.0)
            (*clipped)++;
        pcm[i] = (int16_t)lrint(fmax(-32768.0, fmin(32767.0, v)));
    }
    fluid_synth_all_sounds_off(s, -1);
    fluid_synth_write_float(s, SR, l, 0, 1, rt, 0, 1); /* 1 s: the reverb's tail */
    return len;
}

static void put_le(uint8_t *b, uint32_t v, int n)
{
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

/* The note as a 16-bit mono WAV file under --wav, named by its labels. */
static gs_err_t write_wav(const conf_t *c, const note_t *nt, char *errstr, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/l%d-f%d-p%03d-%s-n%03d-v%03d.wav", c->wav, nt->lineage,
             nt->font, nt->program, gs_timbre_family_names[nt->family], nt->pitch, nt->velocity);
    uint8_t h[44] = "RIFF....WAVEfmt ....\1\0\1\0........\2\0\20\0data";
    uint32_t bytes = 2 * nt->n;
    put_le(h + 4, 36 + bytes, 4);
    put_le(h + 16, 16, 4);
    put_le(h + 24, SR, 4);
    put_le(h + 28, 2 * SR, 4);
    put_le(h + 40, bytes, 4);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(h, 1, sizeof(h), f) == sizeof(h);
    for (uint32_t i = 0; ok && i < nt->n; i++) {
        uint8_t s[2];
        put_le(s, (uint16_t)nt->pcm[i], 2);
        ok = fwrite(s, 1, 2, f) == 2;
    }
    if (f && fclose(f) != 0)
        ok = 0;
    return ok ? GS_OK : gs_fail(errstr, n, GS_ERR_IO, "%s: cannot write", path);
}

static int is_silent(const int16_t *pcm, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (abs(pcm[i]) > 32) /* -60 dBFS: a note the preset does not sound */
            return 0;
    return 1;
}

static int pitch_at(int family, int k, int pitches)
{
    int lo, hi;
    gs_timbre_family_range(family, &lo, &hi);
    return pitches > 1 ? lo + (int)lround((double)(hi - lo) * k / (pitches - 1)) : (lo + hi) / 2;
}

static void progress(int font, int n_fonts, int program)
{
    if (isatty(2))
        fprintf(stderr, "\rrender: font %d/%d, program %3d/127", font + 1, n_fonts, program);
}

/* Every note of one program of one font. */
static gs_err_t render_program(const conf_t *c, font_run_t *r, int font, int lineage, int prog,
                               FILE *out, uint32_t *count, char *errstr, size_t n)
{
    float *l = r->left, *rt = r->right;
    int16_t *pcm = r->pcm;
    int family = gs_timbre_gm_family(prog);
    for (int fx = 0; fx < 2; fx++)
        if (fluid_synth_program_select(r->synth[fx], 0, r->sfid[fx], 0, prog) != FLUID_OK)
            return GS_OK; /* a font without this program: nothing to render */
    gs_rng_t rng;
    gs_rng_seed(&rng, c->seed ^ ((uint64_t)font << 32) ^ ((uint64_t)prog << 16));
    for (int k = 0; k < c->pitches; k++)
        for (int v = 0; v < 2; v++) {
            int fx = (int)(gs_rng_next(&rng) & 1), pitch = pitch_at(family, k, c->pitches);
            double hold = holds_s[gs_rng_next(&rng) & 1];
            size_t len = render_note(r, fx, pitch, velocities[v], hold, l, rt, pcm, &r->clipped);
            if (is_silent(pcm, len)) {
                r->silent++;
                continue;
            }
            note_t nt = {.font = (uint8_t)font,
                         .lineage = (uint8_t)lineage,
                         .program = (uint8_t)prog,
                         .family = (uint8_t)family,
                         .pitch = (uint8_t)pitch,
                         .velocity = (uint8_t)velocities[v],
                         .fx = (uint8_t)fx,
                         .pitch_index = (uint8_t)k,
                         .n = (uint32_t)len,
                         .pcm = pcm};
            gs_err_t err = notes_write(out, &nt, errstr, n);
            if (!err && c->wav)
                err = write_wav(c, &nt, errstr, n);
            if (err)
                return err;
            r->rendered++;
            (*count)++;
        }
    return GS_OK;
}

static json_t *font_json(const conf_t *c, int i, int lineage, size_t samples, const font_run_t *r)
{
    return json_pack("{s:s,s:i,s:I,s:I,s:I,s:I}", "file", c->fonts[i], "lineage", lineage,
                     "sample_headers", (json_int_t)samples, "notes", (json_int_t)r->rendered,
                     "silent_skipped", (json_int_t)r->silent, "clipped_samples",
                     (json_int_t)r->clipped);
}

static gs_err_t render_font(const conf_t *c, int i, int lineage, FILE *out, uint32_t *count,
                            font_run_t *r, char *errstr, size_t n)
{
    gs_err_t err = font_run_open(r, c->fonts[i], errstr, n);
    for (int prog = 0; !err && prog < 128; prog++) {
        if (gs_timbre_gm_family(prog) < 0 || (c->n_programs && !c->programs[prog]))
            continue;
        progress(i, c->n_fonts, prog);
        err = render_program(c, r, i, lineage, prog, out, count, errstr, n);
    }
    return err;
}

/* The shared-sample matrix and the lineages of the fonts. */
static gs_err_t group_fonts(const conf_t *c, double *shared, int *lineage, size_t *samples,
                            char *errstr, size_t n)
{
    uint64_t *keys[RENDER_MAX_FONTS] = {0};
    gs_err_t err = GS_OK;
    for (int i = 0; !err && i < c->n_fonts; i++)
        err = render_sample_keys(c->fonts[i], &keys[i], &samples[i], errstr, n);
    for (int i = 0; !err && i < c->n_fonts; i++)
        for (int j = 0; j < c->n_fonts; j++)
            shared[i * c->n_fonts + j] = render_shared(keys[i], samples[i], keys[j], samples[j]);
    if (!err)
        render_lineages(shared, c->n_fonts, c->threshold, lineage);
    for (int i = 0; i < c->n_fonts; i++)
        free(keys[i]);
    return err;
}

static json_t *manifest(const conf_t *c, const double *shared, json_t *fonts, uint32_t count)
{
    json_t *m = json_array(), *fam = json_array();
    for (int i = 0; i < c->n_fonts; i++) {
        json_t *row = json_array();
        for (int j = 0; j < c->n_fonts; j++)
            json_array_append_new(row, json_real(shared[i * c->n_fonts + j]));
        json_array_append_new(m, row);
    }
    for (int f = 0; f < GS_TIMBRE_N_FAMILIES; f++)
        json_array_append_new(fam, json_string(gs_timbre_family_names[f]));
    return json_pack("{s:s,s:o,s:o,s:f,s:o,s:i,s:I,s:[i,i],s:[f,f],s:f,s:I,s:i}", "format",
                     NOTES_MAGIC, "fonts", fonts, "shared_samples", m, "lineage_threshold",
                     c->threshold, "families", fam, "pitches_per_program", c->pitches, "seed",
                     (json_int_t)c->seed, "velocities", velocities[0], velocities[1], "holds_s",
                     holds_s[0], holds_s[1], "release_s", RELEASE_S, "notes", (json_int_t)count,
                     "sample_rate", SR);
}

static gs_err_t run(const conf_t *c, char *errstr, size_t n)
{
    double shared[RENDER_MAX_FONTS * RENDER_MAX_FONTS];
    int lineage[RENDER_MAX_FONTS];
    size_t samples[RENDER_MAX_FONTS];
    gs_err_t err = group_fonts(c, shared, lineage, samples, errstr, n);
    if (err)
        return err;
    char path[4096];
    if ((mkdir(c->out, 0777) != 0 && errno != EEXIST) ||
        (c->wav && mkdir(c->wav, 0777) != 0 && errno != EEXIST))
        return gs_fail(errstr, n, GS_ERR_IO, "%s: cannot create the folder", c->out);
    snprintf(path, sizeof(path), "%s/notes.bin", c->out);
    FILE *out = fopen(path, "wb");
    if (!out)
        return gs_fail(errstr, n, GS_ERR_IO, "%s: cannot create", path);
    uint32_t count = 0;
    json_t *fonts = json_array();
    err = notes_start(out, errstr, n);
    for (int i = 0; !err && i < c->n_fonts; i++) {
        font_run_t r;
        err = render_font(c, i, lineage[i], out, &count, &r, errstr, n);
        json_array_append_new(fonts, font_json(c, i, lineage[i], samples[i], &r));
        font_run_free(&r);
    }
    if (!err)
        err = notes_finish(out, count, errstr, n);
    if (fclose(out) != 0 && !err)
        err = gs_fail(errstr, n, GS_ERR_IO, "%s: write failed", path);
    json_t *m = manifest(c, shared, fonts, count);
    snprintf(path, sizeof(path), "%s/manifest.json", c->out);
    if (!err && json_dump_file(m, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
        err = gs_fail(errstr, n, GS_ERR_IO, "%s: write failed", path);
    json_decref(m);
    if (isatty(2))
        fprintf(stderr, "\rrender: %u notes%*s\n", count, 30, "");
    return err;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: govstream-render --out DIR --font FILE [--font FILE ...]\n"
            "           [--pitches N] [--seed N] [--program P ...] [--lineage-threshold F]\n"
            "           [--wav WAVDIR]\n"
            "  renders every GM program with an NSynth family from each font (up to %d)\n"
            "  into DIR/notes.bin and DIR/manifest.json; --wav also writes each note as\n"
            "  WAVDIR/l<lineage>-f<font>-p<program>-<family>-n<pitch>-v<velocity>.wav\n",
            RENDER_MAX_FONTS);
}

static int parse_args(int argc, char **argv, conf_t *c)
{
    static const struct option lo[] = {
        {"out", 1, 0, 'o'},  {"font", 1, 0, 'f'},    {"pitches", 1, 0, 'p'},
        {"seed", 1, 0, 's'}, {"program", 1, 0, 'g'}, {"lineage-threshold", 1, 0, 't'},
        {"wav", 1, 0, 'w'},  {"help", 0, 0, 'h'},    {0, 0, 0, 0}};
    *c = (conf_t){.pitches = 8, .seed = 14, .threshold = 0.1};
    for (int o; (o = getopt_long(argc, argv, "", lo, NULL)) != -1;) {
        char *end = NULL;
        switch (o) {
        case 'o':
            c->out = optarg;
            break;
        case 'f':
            if (c->n_fonts == RENDER_MAX_FONTS)
                return 2;
            c->fonts[c->n_fonts++] = optarg;
            break;
        case 'p':
            c->pitches = (int)strtol(optarg, &end, 10);
            break;
        case 's':
            c->seed = strtoull(optarg, &end, 10);
            break;
        case 'g': {
            long p = strtol(optarg, &end, 10);
            if (p < 0 || p > 127)
                return 2;
            c->programs[p] = 1;
            c->n_programs++;
            break;
        }
        case 't':
            c->threshold = strtod(optarg, &end);
            break;
        case 'w':
            c->wav = optarg;
            break;
        default:
            return 2;
        }
        if (end && *end)
            return 2;
    }
    return c->out && c->n_fonts && c->pitches >= 1 && c->pitches <= 64 && optind == argc ? 0 : 2;
}

int main(int argc, char **argv)
{
    conf_t c;
    if (parse_args(argc, argv, &c)) {
        usage();
        return 2;
    }
    fluid_set_log_function(FLUID_WARN, NULL, NULL); /* per-note warnings of missing samples */
    fluid_set_log_function(FLUID_INFO, NULL, NULL);
    char errstr[512];
    gs_err_t err = run(&c, errstr, sizeof(errstr));
    if (err) {
        fprintf(stderr, "govstream-render: %s\n", errstr);
        return 1;
    }
    return 0;
}
