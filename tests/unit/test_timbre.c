/* Unit tests of the timbre kind's parts (src/kinds/timbre) other than the
 * features (test_timbre_features.c): the GM family table, request
 * validation naming the field, the recordings' state store (changes,
 * restore bit for bit, close, expiry, drop), the notes file and the WAV
 * reader round trips, the model file (round trip, refusals), and that the
 * perceptron and the CNN learn a problem they must be able to learn. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/kinds/timbre/cnn.h"
#include "../../src/kinds/timbre/internal.h"
#include "../../src/kinds/timbre/model.h"
#include "../../src/kinds/timbre/notes.h"

#define NF GS_TIMBRE_N_FAMILIES

static void test_families(void **state)
{
    (void)state;
    int count[NF] = {0}, mapped = 0;
    for (int p = 0; p < 128; p++) {
        int f = gs_timbre_gm_family(p);
        if (f >= 0) {
            count[f]++;
            mapped++;
        }
    }
    assert_int_equal(mapped, 93);
    for (int f = 0; f < NF; f++) /* every family has at least three programs */
        assert_true(count[f] >= 3);
    assert_string_equal(gs_timbre_family_names[gs_timbre_gm_family(0)], "keyboard");
    assert_string_equal(gs_timbre_family_names[gs_timbre_gm_family(40)], "string");
    assert_string_equal(gs_timbre_family_names[gs_timbre_gm_family(21)], "reed");
    assert_string_equal(gs_timbre_family_names[gs_timbre_gm_family(73)], "flute");
    assert_int_equal(gs_timbre_gm_family(90), -1);  /* a pad */
    assert_int_equal(gs_timbre_gm_family(127), -1); /* gunshot */
    assert_int_equal(gs_timbre_gm_family(128), -1);
    int lo, hi;
    gs_timbre_family_range(0, &lo, &hi);
    assert_true(lo < hi && lo >= 21 && hi <= 108);
}

static char pcm[2 * 48000 * 11];

static gs_avro_timbre_request_t valid_request(void)
{
    return (gs_avro_timbre_request_t){.request_id = gs_avro_cstr("r-1"),
                                      .recording_id = gs_avro_cstr("rec-1"),
                                      .tenant = gs_avro_cstr("t"),
                                      .sample_rate = 16000,
                                      .pcm = {pcm, 2 * 16000},
                                      .last = true,
                                      .top_k = 3};
}

static void expect_invalid(const gs_avro_timbre_request_t *r, const char *field)
{
    char err[256];
    assert_int_equal(timbre_request_validate(r, err, sizeof(err)), GS_ERR_VALIDATION);
    if (strncmp(err, field, strlen(field)) != 0)
        fail_msg("expected an error naming %s, got: %s", field, err);
}

static void test_validation(void **state)
{
    (void)state;
    char err[256];
    gs_avro_timbre_request_t r = valid_request();
    assert_int_equal(timbre_request_validate(&r, err, sizeof(err)), GS_OK);
    r.pcm.len = 2 * 4000; /* 0.25 s exactly */
    assert_int_equal(timbre_request_validate(&r, err, sizeof(err)), GS_OK);
    r.pcm.len = 2 * 3999;
    expect_invalid(&r, "pcm");
    r = valid_request();
    r.pcm.len = 2 * 16000 + 1;
    expect_invalid(&r, "pcm");
    r = valid_request();
    r.sample_rate = 48000, r.pcm.len = 2 * 48000 * 10; /* 10 s exactly */
    assert_int_equal(timbre_request_validate(&r, err, sizeof(err)), GS_OK);
    r.pcm.len += 2;
    expect_invalid(&r, "pcm");
    r = valid_request();
    r.sample_rate = 7999;
    expect_invalid(&r, "sample_rate");
    r.sample_rate = 48001;
    expect_invalid(&r, "sample_rate");
    r = valid_request();
    r.top_k = 0;
    expect_invalid(&r, "top_k");
    r.top_k = 12;
    expect_invalid(&r, "top_k");
    r = valid_request();
    r.clip_index = -1;
    expect_invalid(&r, "clip_index");
    r = valid_request();
    r.recording_id = gs_avro_cstr("");
    expect_invalid(&r, "recording_id");
}

/* ---- the recordings' store ------------------------------------------------ */

typedef struct log_rec {
    int32_t partition;
    char key[160];
    size_t key_len, value_len;
    uint8_t value[256];
    int tomb;
} log_rec_t;

typedef struct changelog {
    log_rec_t rec[64];
    size_t n;
} changelog_t;

static void emit(void *opaque, int32_t partition, const void *key, size_t key_len,
                 const void *value, size_t value_len)
{
    changelog_t *c = opaque;
    assert_true(c->n < 64 && key_len < sizeof(c->rec[0].key) && value_len <= 256);
    log_rec_t *r = &c->rec[c->n++];
    *r = (log_rec_t){
        .partition = partition, .key_len = key_len, .value_len = value_len, .tomb = value == NULL};
    memcpy(r->key, key, key_len);
    if (value)
        memcpy(r->value, value, value_len);
}

static void drain(rec_table_t *t, changelog_t *c)
{
    char err[128];
    assert_int_equal(rec_store_ops.changes(t, emit, c, err, sizeof(err)), GS_OK);
}

static void replay(rec_table_t *t, const changelog_t *c, int32_t partition)
{
    char err[128];
    for (size_t i = 0; i < c->n; i++)
        if (c->rec[i].partition == partition)
            assert_int_equal(rec_store_ops.apply(t, partition, i, c->rec[i].key, c->rec[i].key_len,
                                                 c->rec[i].tomb ? NULL : c->rec[i].value,
                                                 c->rec[i].value_len, err, sizeof(err)),
                             GS_OK);
}

static void test_recordings(void **state)
{
    (void)state;
    char err[128];
    rec_table_t *t, *u;
    assert_int_equal(rec_new(16, 60.0, &t, err, sizeof(err)), GS_OK);
    assert_int_equal(rec_new(16, 60.0, &u, err, sizeof(err)), GS_OK);
    double lp[NF], sum[NF];
    for (int j = 0; j < NF; j++)
        lp[j] = log((j + 1.0) / 66.0) + 1e-17 * j; /* bits that must survive */
    gs_str_t a = gs_avro_cstr("rec-a"), b = gs_avro_cstr("rec-b");
    assert_int_equal(rec_add(t, 3, a, lp, 1000, 0, sum), 1);
    assert_int_equal(rec_add(t, 3, a, lp, 2000, 0, sum), 2);
    assert_int_equal(rec_add(t, 5, b, lp, 2000, 0, sum), 1);
    changelog_t log = {0};
    drain(t, &log);
    assert_int_equal(log.n, 3);
    drain(t, &log); /* nothing new */
    assert_int_equal(log.n, 3);

    /* another worker restores partition 3 and goes on with the same sums */
    replay(u, &log, 3);
    assert_int_equal(rec_store_ops.restored(u, 3), 1);
    double su[NF], st[NF];
    assert_int_equal(rec_add(u, 3, a, lp, 3000, 1, su), 3);
    assert_int_equal(rec_add(t, 3, a, lp, 3000, 1, st), 3);
    assert_memory_equal(su, st, sizeof(su));
    for (int j = 0; j < NF; j++)
        assert_true(fabs(su[j] - 3 * lp[j]) < 1e-12);
    /* the last clip closed it: a tombstone, and a new clip starts over */
    changelog_t l2 = {0};
    drain(t, &l2);
    assert_int_equal(l2.n, 1);
    assert_true(l2.rec[0].tomb);
    assert_int_equal(rec_peek(t, 3, a, 0, sum), 0);

    /* idle for longer than 60 s: expired, logged as a tombstone */
    assert_int_equal(rec_count(t), 1);
    rec_expire(t, 2000 + 61000);
    assert_int_equal(rec_count(t), 0);
    assert_int_equal(rec_expired(t), 1);
    drain(t, &l2);
    assert_int_equal(l2.n, 2);
    assert_true(l2.rec[1].tomb && l2.rec[1].partition == 5);

    /* a dropped partition leaves unlogged */
    rec_add(u, 7, b, lp, 0, 0, sum);
    rec_store_ops.drop(u, 7);
    assert_int_equal(rec_peek(u, 7, b, 0, sum), 0);
    changelog_t l3 = {0};
    drain(u, &l3);
    for (size_t i = 0; i < l3.n; i++)
        assert_int_not_equal(l3.rec[i].partition, 7);
    /* a value that is not ours is refused */
    uint8_t bad[10] = {9};
    assert_int_not_equal(rec_store_ops.apply(u, 1, 0, "k", 1, bad, sizeof(bad), err, sizeof(err)),
                         GS_OK);
    rec_destroy(t);
    rec_destroy(u);
}

static void test_recordings_full(void **state)
{
    (void)state;
    char err[128], key[16];
    rec_table_t *t;
    assert_int_equal(rec_new(4, 0.0, &t, err, sizeof(err)), GS_OK);
    double lp[NF] = {0}, sum[NF];
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof(key), "r%d", i);
        rec_add(t, 0, gs_avro_cstr(key), lp, 1000 * i, 0, sum);
    }
    /* the least recently updated ones made room */
    assert_int_equal(rec_count(t), 4);
    assert_int_equal(rec_peek(t, 0, gs_avro_cstr("r0"), 0, sum), 0);
    assert_int_equal(rec_peek(t, 0, gs_avro_cstr("r5"), 0, sum), 1);
    rec_expire(t, 1e9); /* idle_s 0: never */
    assert_int_equal(rec_count(t), 4);
    rec_destroy(t);
}

/* ---- files ----------------------------------------------------------------- */

static void test_notes_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/gs-test-notes.XXXXXX", path[128], err[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/notes.bin", dir);
    FILE *f = fopen(path, "w+b");
    assert_non_null(f);
    int16_t s1[3] = {1, -2, 32767}, s2[2] = {-32768, 0};
    note_t a = {.font = 1,
                .lineage = 0,
                .program = 40,
                .family = 8,
                .pitch = 60,
                .velocity = 64,
                .fx = 1,
                .pitch_index = 2,
                .n = 3,
                .pcm = s1};
    note_t b = {.font = 2,
                .lineage = 1,
                .program = 0,
                .family = 4,
                .pitch = 33,
                .velocity = 112,
                .n = 2,
                .pcm = s2};
    assert_int_equal(notes_start(f, err, sizeof(err)), GS_OK);
    assert_int_equal(notes_write(f, &a, err, sizeof(err)), GS_OK);
    assert_int_equal(notes_write(f, &b, err, sizeof(err)), GS_OK);
    assert_int_equal(notes_finish(f, 2, err, sizeof(err)), GS_OK);
    fclose(f);
    note_set_t set;
    assert_int_equal(notes_read(dir, &set, err, sizeof(err)), GS_OK);
    assert_int_equal(set.n, 2);
    assert_int_equal(set.notes[0].program, 40);
    assert_int_equal(set.notes[0].pitch_index, 2);
    assert_int_equal(set.notes[1].velocity, 112);
    assert_memory_equal(set.notes[0].pcm, s1, sizeof(s1));
    assert_memory_equal(set.notes[1].pcm, s2, sizeof(s2));
    notes_free(&set);
    /* truncated: refused, naming the note */
    assert_int_equal(truncate(path, 12 + 12 + 6 + 12 + 2), 0);
    assert_int_equal(notes_read(dir, &set, err, sizeof(err)), GS_ERR_DECODE);
    assert_non_null(strstr(err, "note 1"));
    unlink(path);
    rmdir(dir);
}

static void put(FILE *f, uint32_t v, int n)
{
    for (int i = 0; i < n; i++)
        fputc((int)((v >> (8 * i)) & 0xff), f);
}

static void test_wav(void **state)
{
    (void)state;
    char path[] = "/tmp/gs-test-wav.XXXXXX", err[256];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    /* 16-bit stereo at 32 kHz, 5 frames, with a LIST chunk before data */
    fputs("RIFF", f), put(f, 4 + 24 + 12 + 8 + 20, 4), fputs("WAVEfmt ", f), put(f, 16, 4);
    put(f, 1, 2), put(f, 2, 2), put(f, 32000, 4), put(f, 128000, 4), put(f, 4, 2), put(f, 16, 2);
    fputs("LIST", f), put(f, 4, 4), fputs("INFO", f);
    fputs("data", f), put(f, 20, 4);
    const int16_t frames[5][2] = {{100, 300}, {-100, -300}, {32767, 32767}, {0, 1}, {-4, -4}};
    for (int i = 0; i < 5; i++)
        put(f, (uint16_t)frames[i][0], 2), put(f, (uint16_t)frames[i][1], 2);
    fclose(f);
    timbre_wav_t w;
    assert_int_equal(timbre_wav_read(path, 1, 3, &w, err, sizeof(err)), GS_OK);
    assert_int_equal(w.rate, 32000);
    assert_int_equal(w.frames, 5);
    assert_int_equal(w.n, 3);
    assert_int_equal(w.pcm[0], -200); /* the mean of the channels */
    assert_int_equal(w.pcm[1], 32767);
    assert_int_equal(w.pcm[2], 0); /* (0 + 1) / 2: half rounds to even */
    free(w.pcm);
    assert_int_equal(timbre_wav_read(path, 4, 100, &w, err, sizeof(err)), GS_OK);
    assert_int_equal(w.n, 1); /* cut at the end */
    free(w.pcm);
    f = fopen(path, "wb");
    fputs("RIFF\4\0\0\0MIDI", f);
    fclose(f);
    assert_int_equal(timbre_wav_read(path, 0, 1, &w, err, sizeof(err)), GS_ERR_DECODE);
    unlink(path);
}

/* ---- the model ------------------------------------------------------------- */

static void random_model(timbre_model_t *m, uint64_t seed)
{
    char err[128];
    int dims[4] = {GS_TIMBRE_N_POOLED, 32, 16, NF};
    *m = (timbre_model_t){0};
    assert_int_equal(mlp_init(&m->mlp, 3, dims, seed, err, sizeof(err)), GS_OK);
    m->mlp.temperature = 1.5f;
    assert_int_equal(cnn_init(&m->cnn, NF, seed, err, sizeof(err)), GS_OK);
    m->cnn.temperature = 1.25f;
    m->serve = SERVE_MEAN;
    for (int j = 0; j < GS_TIMBRE_N_POOLED; j++)
        m->mean[j] = (float)j, m->scale[j] = 1.0f + (float)j / 10;
    snprintf(m->name, sizeof(m->name), "t");
    snprintf(m->version, sizeof(m->version), "1");
}

static void test_model_file(void **state)
{
    (void)state;
    char path[] = "/tmp/gs-test-timbre.XXXXXX", err[512];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    timbre_model_t m, back;
    random_model(&m, 3);
    assert_int_equal(timbre_model_save(&m, path, "{\"note\":1}", err, sizeof(err)), GS_OK);
    assert_int_equal(timbre_model_load(path, &back, err, sizeof(err)), GS_OK);
    double pooled[GS_TIMBRE_N_POOLED];
    for (int j = 0; j < GS_TIMBRE_N_POOLED; j++)
        pooled[j] = sin(j);
    float x[GS_TIMBRE_N_POOLED], p1[NF], p2[NF], scratch[2 * 1024];
    timbre_model_input(&m, pooled, x);
    mlp_predict(&m.mlp, x, 1, p1, scratch);
    timbre_model_input(&back, pooled, x);
    mlp_predict(&back.mlp, x, 1, p2, scratch);
    assert_memory_equal(p1, p2, sizeof(p1));
    double s = 0;
    for (int j = 0; j < NF; j++)
        s += p1[j];
    assert_true(fabs(s - 1) < 1e-5);
    assert_string_equal(back.name, "t");
    assert_int_equal(strlen(back.sha256), 64);
    timbre_model_free(&back);
    /* a flipped byte in a tensor: refused by its checksum */
    FILE *f = fopen(path, "r+b");
    fseek(f, -20, SEEK_END);
    int c = fgetc(f);
    fseek(f, -20, SEEK_END);
    fputc(c ^ 0x55, f);
    fclose(f);
    assert_int_not_equal(timbre_model_load(path, &back, err, sizeof(err)), GS_OK);
    timbre_model_free(&m);
    unlink(path);
}

/* Two classes told apart by where the energy is (low or high bands) and
 * nine others never seen: both learners must get the two right. */
static void toy_rows(float *x, int *y, size_t n, size_t width, gs_rng_t *r)
{
    for (size_t i = 0; i < n; i++) {
        y[i] = (int)(i % 2);
        float *row = x + i * GS_TIMBRE_N_MELS * width;
        for (size_t m = 0; m < GS_TIMBRE_N_MELS; m++)
            for (size_t c = 0; c < width; c++) {
                int lit = y[i] ? m > 80 : m < 40;
                row[m * width + c] = (float)(0.2 * gs_rng_unit(r) + (lit ? 0.8 : 0.0));
            }
    }
}

static void test_cnn_learns(void **state)
{
    (void)state;
    enum { N = 32, W = 4 };
    static float x[N * GS_TIMBRE_N_MELS * W], xv[16 * GS_TIMBRE_N_MELS * W];
    int y[N], yv[16];
    size_t off[N], width[N];
    gs_rng_t r;
    gs_rng_seed(&r, 11);
    toy_rows(x, y, N, W, &r);
    toy_rows(xv, yv, 16, W, &r);
    for (size_t i = 0; i < N; i++)
        off[i] = i * GS_TIMBRE_N_MELS * W, width[i] = W;
    cnn_rows_t tr = {x, off, width, y, N}, va = {xv, off, width, yv, 16};
    cnn_t c;
    char err[128];
    assert_int_equal(cnn_init(&c, NF, 5, err, sizeof(err)), GS_OK);
    mlp_fit_conf_t fc = {.max_epochs = 25, .patience = 25, .batch = 8, .lr = 3e-3, .seed = 1};
    mlp_fit_result_t res;
    assert_int_equal(cnn_fit(&c, &tr, &va, &fc, &res, err, sizeof(err)), GS_OK);
    int right = 0;
    for (int i = 0; i < 16; i++) {
        float p[NF];
        assert_int_equal(cnn_predict(&c, xv + off[i], W, p), GS_OK);
        right += p[yv[i]] > 0.5f;
    }
    cnn_free(&c);
    if (right < 15)
        fail_msg("the CNN got %d of 16 right (validation loss %.3f)", right, res.val_loss);
}

static void test_mlp_learns(void **state)
{
    (void)state;
    enum { N = 200, D = 8 };
    float x[N * D], xv[N * D];
    int y[N], yv[N];
    gs_rng_t r;
    gs_rng_seed(&r, 2);
    for (int i = 0; i < N; i++) { /* class = the largest of the first three inputs */
        for (int j = 0; j < D; j++)
            x[i * D + j] = (float)gs_rng_unit(&r), xv[i * D + j] = (float)gs_rng_unit(&r);
        y[i] = x[i * D] > x[i * D + 1] ? (x[i * D] > x[i * D + 2] ? 0 : 2)
                                       : (x[i * D + 1] > x[i * D + 2] ? 1 : 2);
        yv[i] = xv[i * D] > xv[i * D + 1] ? (xv[i * D] > xv[i * D + 2] ? 0 : 2)
                                          : (xv[i * D + 1] > xv[i * D + 2] ? 1 : 2);
    }
    mlp_t m;
    char err[128];
    int dims[4] = {D, 32, 16, 3};
    assert_int_equal(mlp_init(&m, 3, dims, 4, err, sizeof(err)), GS_OK);
    mlp_fit_conf_t fc = {.max_epochs = 150, .patience = 30, .batch = 16, .lr = 3e-3, .seed = 1};
    mlp_fit_result_t res;
    assert_int_equal(mlp_fit(&m, x, y, N, xv, yv, N, &fc, &res, err, sizeof(err)), GS_OK);
    float p[N * 3], scratch[2 * N * 32];
    mlp_predict(&m, xv, N, p, scratch);
    int right = 0;
    for (int i = 0; i < N; i++)
        right += p[i * 3 + yv[i]] >= p[i * 3 + (yv[i] + 1) % 3] &&
                 p[i * 3 + yv[i]] >= p[i * 3 + (yv[i] + 2) % 3];
    if (right < 180)
        fail_msg("the perceptron got %d of %d right", right, N);
    assert_true(res.temperature > 0.2 && res.temperature < 9);
    mlp_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_families),   cmocka_unit_test(test_validation),
        cmocka_unit_test(test_recordings), cmocka_unit_test(test_recordings_full),
        cmocka_unit_test(test_notes_file), cmocka_unit_test(test_wav),
        cmocka_unit_test(test_model_file), cmocka_unit_test(test_mlp_learns),
        cmocka_unit_test(test_cnn_learns),
    };
    return cmocka_run_group_tests_name("timbre", tests, NULL, NULL);
}
