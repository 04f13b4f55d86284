/* govstream-load's side of the timbre kind: synthetic clips (harmonic
 * tones, three clips to a recording, deterministic per --seed), requests
 * from JSON (--from: "wav" with "offset" and "frames", or "samples"), WAV
 * files or folders of them split into clips of at most 10 s that share a
 * recording_id, and the verifier's JSON line of a result. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "govstream/kind_load.h"
#include "internal.h"

#define CLIPS_PER_RECORDING 3
#define SYNTH_HARMONICS     8

static const int synth_rates[4] = {16000, 22050, 44100, 48000};

static void pcm_put(char *p, size_t i, double v)
{
    int16_t s = (int16_t)lrint(fmax(-32768.0, fmin(32767.0, v * 32768.0)));
    p[2 * i] = (char)((uint16_t)s & 0xff);
    p[2 * i + 1] = (char)((uint16_t)s >> 8);
}

/* One second of a harmonic tone with a decaying envelope: something to
 * classify, not an instrument (the model's accuracy is measured on
 * rendered notes, docs/TIMBRE.md). */
static void synth_clip(gs_avro_timbre_request_t *r, gs_rng_t *rng, gs_arena_t *a)
{
    int rate = synth_rates[gs_rng_next(rng) % 4];
    double f0 = 110.0 * pow(2.0, 3.0 * gs_rng_unit(rng)), amp[SYNTH_HARMONICS];
    double decay = 1.0 + 6.0 * gs_rng_unit(rng);
    for (int h = 0; h < SYNTH_HARMONICS; h++)
        amp[h] = gs_rng_unit(rng) / (h + 1);
    size_t n = (size_t)rate;
    char *p = gs_arena_alloc(a, 2 * n);
    if (!p)
        return;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / rate, v = 0;
        for (int h = 0; h < SYNTH_HARMONICS && f0 * (h + 1) < rate / 2.0; h++)
            v += amp[h] * sin(2 * M_PI * f0 * (h + 1) * t);
        pcm_put(p, i, 0.2 * v * exp(-decay * t) * fmin(1.0, t * 100));
    }
    r->sample_rate = rate;
    r->pcm = (gs_str_t){p, 2 * n};
}

static void generate(const gs_load_params_t *p, long i, gs_rng_t *rng, void *request, gs_arena_t *a)
{
    gs_avro_timbre_request_t *r = request;
    *r = (gs_avro_timbre_request_t){.top_k = 3};
    long rec = i / CLIPS_PER_RECORDING;
    r->request_id = gs_kind_printf(a, "%s-%ld", p->run_id, i);
    r->recording_id = gs_kind_printf(a, "%s-rec%ld", p->run_id, rec);
    r->tenant = gs_kind_printf(a, "tenant-%ld", (long)(gs_rng_next(rng) % (uint64_t)p->tenants));
    r->clip_index = (int32_t)(i % CLIPS_PER_RECORDING);
    r->last = r->clip_index == CLIPS_PER_RECORDING - 1;
    r->created_at_ms = (int64_t)time(NULL) * 1000;
    synth_clip(r, rng, a);
}

static gs_err_t samples_json(json_t *s, gs_avro_timbre_request_t *r, gs_arena_t *a, char *errstr,
                             size_t n)
{
    size_t m = json_array_size(s);
    char *p = gs_arena_alloc(a, 2 * m + 1);
    if (!p)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < m; i++)
        pcm_put(p, i, (double)json_integer_value(json_array_get(s, i)) / 32768.0);
    r->pcm = (gs_str_t){p, 2 * m};
    return GS_OK;
}

static gs_err_t wav_json(json_t *j, gs_avro_timbre_request_t *r, gs_arena_t *a, char *errstr,
                         size_t n)
{
    json_t *first = json_object_get(j, "offset"), *count = json_object_get(j, "frames");
    timbre_wav_t w;
    gs_err_t err = timbre_wav_read(
        json_string_value(json_object_get(j, "wav")), (size_t)json_integer_value(first),
        json_is_integer(count) ? (size_t)json_integer_value(count) : (size_t)-1, &w, errstr, n);
    if (err)
        return err;
    char *p = gs_arena_alloc(a, 2 * w.n + 1);
    if (p) {
        for (size_t i = 0; i < w.n; i++)
            pcm_put(p, i, w.pcm[i] / 32768.0);
        r->pcm = (gs_str_t){p, 2 * w.n};
        r->sample_rate = w.rate;
    }
    free(w.pcm);
    return p ? GS_OK : gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
}

static gs_err_t from_json(json_t *j, void *request, gs_arena_t *a, char *errstr, size_t n)
{
    gs_avro_timbre_request_t *r = request;
    gs_err_t err = gs_avro_set_defaults_node(gs_avro_type_timbre_request.node, r, a, errstr, n);
    if (err)
        return err;
    r->request_id = r->recording_id = gs_avro_cstr("");
    gs_kind_json_str(j, "request_id", &r->request_id);
    gs_kind_json_str(j, "recording_id", &r->recording_id);
    gs_kind_json_str(j, "tenant", &r->tenant);
    json_t *v;
    if (json_is_integer(v = json_object_get(j, "sample_rate")))
        r->sample_rate = (int32_t)json_integer_value(v);
    if (json_is_integer(v = json_object_get(j, "clip_index")))
        r->clip_index = (int32_t)json_integer_value(v);
    if (json_is_boolean(v = json_object_get(j, "last")))
        r->last = json_is_true(v);
    if (json_is_integer(v = json_object_get(j, "top_k")))
        r->top_k = (int32_t)json_integer_value(v);
    r->created_at_ms = (int64_t)time(NULL) * 1000;
    if (json_is_string(json_object_get(j, "wav")))
        return wav_json(j, r, a, errstr, n);
    return samples_json(json_object_get(j, "samples"), r, a, errstr, n);
}

/* ---- WAV files as recordings --------------------------------------------- */

static int is_wav(const char *name)
{
    size_t len = strlen(name);
    return len > 4 && !strcasecmp(name + len - 4, ".wav");
}

/* The clips of one file: as few as fit in 10 s each, of equal length. */
static gs_err_t wav_clips(const char *path, const char *run_id, size_t file, json_t *out,
                          char *errstr, size_t n)
{
    timbre_wav_t w;
    gs_err_t err = timbre_wav_read(path, 0, 0, &w, errstr, n);
    if (err)
        return err;
    free(w.pcm);
    size_t max = (size_t)w.rate * (TIMBRE_MAX_MS / 1000), clips = (w.frames + max - 1) / max;
    clips = clips ? clips : 1;
    size_t each = (w.frames + clips - 1) / clips;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char rec[GS_KIND_MAX_ID + 1], id[GS_KIND_MAX_ID + 1];
    snprintf(rec, sizeof(rec), "%s-%.*s", run_id, (int)(strlen(base) - 4), base);
    for (size_t k = 0; k < clips; k++) {
        snprintf(id, sizeof(id), "%s-%zu-%zu", run_id, file, k);
        json_array_append_new(
            out, json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:b}", "request_id", id, "recording_id", rec,
                           "wav", path, "offset", (json_int_t)k * (json_int_t)each, "frames",
                           (json_int_t)each, "clip_index", (json_int_t)k, "last", k + 1 == clips));
    }
    return GS_OK;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int script_of(const char *path, const char *run_id, json_t **out, char *errstr, size_t n)
{
    struct stat st;
    if (stat(path, &st) != 0 || (!S_ISDIR(st.st_mode) && !is_wav(path)))
        return 0; /* not audio: JSON lines */
    *out = json_array();
    if (!S_ISDIR(st.st_mode))
        return wav_clips(path, run_id, 0, *out, errstr, n) ? -1 : 1;
    struct dirent **names = NULL;
    int count = scandir(path, &names, NULL, by_name);
    gs_err_t err = count < 0 ? gs_fail(errstr, n, GS_ERR_IO, "%s: cannot list it", path) : GS_OK;
    char file[4096];
    for (int i = 0, k = 0; i < count; i++) {
        if (!err && is_wav(names[i]->d_name)) {
            snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
            err = wav_clips(file, run_id, (size_t)k++, *out, errstr, n);
        }
        free(names[i]);
    }
    free(names);
    return err ? -1 : 1;
}

static void invalidate(void *request)
{
    gs_avro_timbre_request_t *r = request;
    r->pcm.len |= 1; /* an odd byte count: not 16-bit samples */
}

static json_t *labels_json(const gs_avro_label_t *l, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s#,s:f}", "label", l[i].label.p, l[i].label.len,
                                           "probability", l[i].probability));
    return a;
}

/* Every result field a test may check. */
static json_t *dump(const void *result)
{
    const gs_avro_timbre_result_t *r = result;
    json_t *j = json_pack(
        "{s:s#,s:s#,s:s#,s:b,s:s#,s:o,s:i,s:I,s:s#}", "request_id", r->request_id.p,
        r->request_id.len, "recording_id", r->recording_id.p, r->recording_id.len, "tenant",
        r->tenant.p, r->tenant.len, "accepted", r->accepted, "note", r->note.p, r->note.len,
        "labels", labels_json(r->labels, r->n_labels), "clips", (int)r->clips, "duration_ms",
        (json_int_t)r->duration_ms, "worker_id", r->worker_id.p, r->worker_id.len);
    json_object_set_new(j, "recording_labels",
                        r->has_recording_labels
                            ? labels_json(r->recording_labels, r->n_recording_labels)
                            : json_null());
    json_object_set_new(j, "features",
                        json_pack("{s:f,s:f,s:f}", "rms_dbfs", r->features.rms_dbfs, "centroid_hz",
                                  r->features.centroid_hz, "zcr", r->features.zcr));
    gs_kind_dump_envelope(j, &r->model, &r->timings, &r->source, r->processed_at_ms);
    return j;
}

const gs_kind_load_t timbre_load = {
    .generate = generate,
    .from_json = from_json,
    .script_of = script_of,
    .invalidate = invalidate,
    .dump = dump,
};
