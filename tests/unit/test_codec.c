/* Codec: embedded schemas, framing, the byte walker, projection of evolved
 * writer schemas, and result / dead-letter round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testschema.h"
#include "testutil.h"

#include "govstream/deadletter.h"
#include "govstream/metrics_codec.h"
#include "govstream/schemas.h"

static gs_avro_dialogue_request_t sample(void)
{
    static const char *turns[] = {"hello there", "how can I help?"};
    static gs_str_t turn_views[2];
    gs_avro_dialogue_request_t r = {0};
    r.request_id = (gs_str_t){"req-1", 5};
    r.session_id = (gs_str_t){"sess-1", 6};
    r.tenant = (gs_str_t){"acme", 4};
    r.op = GS_AVRO_DIALOGUE_OP_TOP_K;
    r.n_turns = 2;
    r.turns = turn_views;
    for (size_t i = 0; i < 2; i++)
        r.turns[i] = (gs_str_t){turns[i], strlen(turns[i])};
    r.top_k = 7;
    r.max_tokens = 12;
    r.context_top_k = 3;
    r.has_moral_value = 1;
    r.moral_value = 0.625;
    r.created_at_ms = 1795398721000;
    return r;
}

/* ---- schemas and framing --------------------------------------------- */

static void test_embedded_schemas(void **state)
{
    (void)state;
    const char *names[] = {"DeadLetter",    "DialogueRequest", "DialogueResult", "IntentRequest",
                           "IntentResult",  "MetricsSnapshot", "ScreenRequest",  "ScreenResult",
                           "TimbreRequest", "TimbreResult"};
    for (size_t i = 0; i < 10; i++) {
        assert_string_equal(gs_schema_name(i), names[i]);
        gs_avro_schema_t *s;
        char err[256];
        assert_int_equal(gs_avro_schema_load(names[i], &s, err, sizeof(err)), GS_OK);
        assert_string_equal(avro_schema_name(gs_avro_schema_get(s)), names[i]);
        gs_avro_schema_destroy(s);
    }
    assert_null(gs_schema_name(10));
    assert_null(gs_schema_text("Nope"));
    /* byte-identical to the file: the file is the single source of truth */
    char path[1024], err[256], *text;
    snprintf(path, sizeof(path), "%s/schemas/DialogueResult.avsc", getenv("GS_SOURCE_DIR"));
    assert_int_equal(gs_read_file(path, &text, NULL, err, sizeof(err)), GS_OK);
    assert_string_equal(text, gs_schema_text("DialogueResult"));
    free(text);
}

/* A snapshot decodes with its schema; histogram figures cover the interval
 * since the previous snapshot. */
static void test_metrics_snapshot(void **state)
{
    (void)state;
    char err[256];
    gs_metrics_t *m;
    gs_msnap_codec_t *c;
    assert_int_equal(gs_metrics_new(&m, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_msnap_codec_new(&c, err, sizeof(err)), GS_OK);
    const double bounds[] = {0.001, 0.01, 0.1};
    assert_int_equal(
        gs_metrics_family(m, "t_total", GS_METRIC_COUNTER, "h", NULL, 0, 1, err, sizeof(err)),
        GS_OK);
    assert_int_equal(gs_metrics_family(m, "t_seconds", GS_METRIC_HISTOGRAM, "h", bounds, 3, 1e-6,
                                       err, sizeof(err)),
                     GS_OK);
    gs_series_t *ctr = gs_metrics_series(m, "t_total", (const char *[]){"k", "a\"b"}, 1);
    gs_series_t *h = gs_metrics_series(m, "t_seconds", NULL, 0);
    assert_non_null(ctr);
    assert_non_null(h);
    gs_counter_add(ctr, 7);
    for (int i = 0; i < 100; i++)
        gs_hist_observe(h, i < 90 ? 500 : 5000); /* 0.5 ms x 90, 5 ms x 10 */
    gs_buf_t buf = {0};
    avro_value_t v, f, e, g;
    assert_int_equal(avro_generic_value_new(gs_avro_schema_iface(gs_msnap_schema(c)), &v), 0);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(gs_msnap_encode(c, m, "w1", 1000, 10, -1, &buf, err, sizeof(err)), GS_OK);
        assert_int_equal(gs_avro_decode(buf.data, buf.len, gs_msnap_schema(c), gs_msnap_schema(c),
                                        &v, err, sizeof(err)),
                         GS_OK);
        double d;
        int64_t n;
        const char *s;
        size_t len;
        assert_int_equal(avro_value_get_by_name(&v, "counters", &f, NULL), 0);
        assert_int_equal(avro_value_get_by_index(&f, 0, &e, NULL), 0);
        assert_int_equal(avro_value_get_by_name(&e, "value", &g, NULL), 0);
        assert_int_equal(avro_value_get_double(&g, &d), 0);
        assert_true(d == 7);
        assert_int_equal(avro_value_get_by_name(&e, "labels", &g, NULL), 0);
        assert_int_equal(avro_value_get_by_name(&g, "k", &g, NULL), 0);
        assert_int_equal(avro_value_get_string(&g, &s, &len), 0);
        assert_string_equal(s, "a\"b");
        assert_int_equal(avro_value_get_by_name(&v, "histograms", &f, NULL), 0);
        assert_int_equal(avro_value_get_by_index(&f, 0, &e, NULL), 0);
        assert_int_equal(avro_value_get_by_name(&e, "count", &g, NULL), 0);
        assert_int_equal(avro_value_get_long(&g, &n), 0);
        assert_int_equal(n, round ? 0 : 100); /* the second interval is empty */
        assert_int_equal(avro_value_get_by_name(&e, "p95", &g, NULL), 0);
        assert_int_equal(avro_value_get_discriminant(&g, (int *)&len), 0);
        if (round) {
            assert_int_equal((int)len, 0); /* null without observations */
            continue;
        }
        assert_int_equal((int)len, 1);
        assert_int_equal(avro_value_get_current_branch(&g, &g), 0);
        assert_int_equal(avro_value_get_double(&g, &d), 0);
        /* rank 95 of 100 falls half way into (0.001, 0.01] */
        assert_true(fabs(d - 0.0055) < 1e-12);
    }
    char *text;
    size_t tl;
    assert_int_equal(gs_metrics_render(m, &text, &tl), GS_OK);
    assert_non_null(strstr(text, "t_total{k=\"a\\\"b\"} 7\n"));
    assert_non_null(strstr(text, "t_seconds_bucket{le=\"0.001\"} 90\n"));
    assert_non_null(strstr(text, "t_seconds_bucket{le=\"+Inf\"} 100\n"));
    assert_non_null(strstr(text, "t_seconds_count 100\n"));
    free(text);
    avro_value_decref(&v);
    gs_buf_free(&buf);
    gs_msnap_codec_destroy(c);
    gs_metrics_destroy(m);
}

static void test_framing(void **state)
{
    (void)state;
    uint8_t hdr[5], msg[8] = {0, 0, 0, 1, 2, 0xAA, 0xBB, 0xCC};
    int32_t id;
    const uint8_t *p;
    size_t n;
    char err[256];
    gs_frame_header(hdr, 0x01020304);
    assert_memory_equal(hdr, ((uint8_t[]){0, 1, 2, 3, 4}), 5);
    assert_int_equal(gs_frame_parse(msg, 8, GS_FRAMING_CONFLUENT, &id, &p, &n, err, sizeof(err)),
                     GS_OK);
    assert_int_equal(id, 258);
    assert_ptr_equal(p, msg + 5);
    assert_int_equal(n, 3);
    assert_int_equal(gs_frame_parse(msg, 8, GS_FRAMING_RAW, &id, &p, &n, err, sizeof(err)), GS_OK);
    assert_int_equal(id, -1);
    assert_int_equal(n, 8);
    assert_int_equal(gs_frame_parse(msg, 4, GS_FRAMING_CONFLUENT, &id, &p, &n, err, sizeof(err)),
                     GS_ERR_DECODE);
    assert_non_null(strstr(err, "5-byte"));
    msg[0] = 0x7B;
    assert_int_equal(gs_frame_parse(msg, 8, GS_FRAMING_CONFLUENT, &id, &p, &n, err, sizeof(err)),
                     GS_ERR_DECODE);
    assert_non_null(strstr(err, "magic byte 0x7b"));
}

/* ---- the walker ------------------------------------------------------ */

/* Our DialogueRequest schema, parsed by avro-c. */
static gs_avro_schema_t *request_schema(void)
{
    gs_avro_schema_t *s;
    char err[256];
    if (gs_avro_schema_load("DialogueRequest", &s, err, sizeof(err)))
        fail_msg("%s", err);
    return s;
}

static void encode_sample(gs_buf_t *buf)
{
    gs_avro_dialogue_request_t r = sample();
    char err[256];
    assert_int_equal(gs_avro_dialogue_request_encode(&r, -1, buf, err, sizeof(err)), GS_OK);
}

static void test_check_truncations(void **state)
{
    (void)state;
    char err[256];
    gs_buf_t buf = {0};
    gs_avro_schema_t *s = request_schema();
    encode_sample(&buf);
    assert_int_equal(gs_avro_check(s, buf.data, buf.len, err, sizeof(err)), GS_OK);
    for (size_t cut = 0; cut < buf.len; cut++) {
        assert_int_equal(gs_avro_check(s, buf.data, cut, err, sizeof(err)), GS_ERR_DECODE);
        assert_non_null(strstr(err, "invalid Avro at byte"));
    }
    uint8_t longer[1024];
    memcpy(longer, buf.data, buf.len);
    longer[buf.len] = 0;
    assert_int_equal(gs_avro_check(s, longer, buf.len + 1, err, sizeof(err)), GS_ERR_DECODE);
    assert_non_null(strstr(err, "trailing bytes"));
    gs_buf_free(&buf);
    gs_avro_schema_destroy(s);
}

/* Hostile encodings that avro-c 1.11.1 would trust. */
static void test_check_hostile(void **state)
{
    (void)state;
    char err[256];
    gs_avro_schema_t *str = parse("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                                  "{\"name\":\"s\",\"type\":\"string\"}]}");
    gs_avro_schema_t *arr =
        parse("{\"type\":\"record\",\"name\":\"A\",\"fields\":["
              "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"null\"}}]}");
    gs_avro_schema_t *misc = parse(
        "{\"type\":\"record\",\"name\":\"M\",\"fields\":["
        "{\"name\":\"b\",\"type\":\"boolean\"},"
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\",\"Y\"]}},"
        "{\"name\":\"u\",\"type\":[\"null\",\"int\"]},"
        "{\"name\":\"i\",\"type\":\"int\"}]}");
    struct {
        gs_avro_schema_t *s;
        uint8_t bytes[16];
        size_t len;
        const char *why;
    } cases[] = {
        {str, {0x01}, 1, "negative length"},                   /* zigzag(1) = -1 */
        {str, {0xFE, 0xFF, 0xFF, 0xFF, 0x0F}, 5, "runs past"}, /* 2^31-1 bytes */
        {str,
         {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
         11,
         "longer than 10"},
        {arr, {0xFE, 0xFF, 0xFF, 0xFF, 0x0F, 0x00}, 6, "block count larger"},
        {arr, {0x01, 0x7F, 0x00}, 3, "block byte size"},
        {misc, {0x02, 0x00, 0x00, 0x00}, 4, "boolean byte"},
        {misc, {0x01, 0x04, 0x00, 0x00}, 4, "enum index"},
        {misc, {0x01, 0x02, 0x04, 0x00}, 4, "union branch"},
        {misc, {0x01, 0x02, 0x00, 0xFE, 0xFF, 0xFF, 0xFF, 0x1F}, 8, "int out of range"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gs_err_t e = gs_avro_check(cases[i].s, cases[i].bytes, cases[i].len, err, sizeof(err));
        if (e != GS_ERR_DECODE || !strstr(err, cases[i].why))
            fail_msg("case %zu: got %s \"%s\", want \"%s\"", i, gs_err_name(e), err, cases[i].why);
    }
    gs_avro_schema_destroy(str);
    gs_avro_schema_destroy(arr);
    gs_avro_schema_destroy(misc);
}

/* Whatever bytes arrive: the walker never crashes, and when it accepts, the
 * avro-c decode it guards succeeds too. */
static void test_check_fuzz(void **state)
{
    (void)state;
    char err[256];
    gs_buf_t buf = {0};
    gs_avro_schema_t *s = request_schema();
    avro_value_t v;
    assert_int_equal(avro_generic_value_new(gs_avro_schema_iface(s), &v), 0);
    encode_sample(&buf);
    uint8_t m[512];
    size_t accepted = 0;
    for (int i = 0; i < 200000; i++) {
        size_t len;
        if (i % 2) { /* mutate a valid encoding */
            len = buf.len;
            memcpy(m, buf.data, len);
            for (int k = 0, flips = 1 + (int)(rng_next() % 3); k < flips; k++)
                m[rng_next() % len] = (uint8_t)rng_next();
        } else { /* random bytes */
            len = rng_next() % 64;
            for (size_t k = 0; k < len; k++)
                m[k] = (uint8_t)rng_next();
        }
        if (gs_avro_check(s, m, len, err, sizeof(err)) == GS_OK) {
            accepted++;
            if (gs_avro_decode(m, len, s, s, &v, err, sizeof(err)) != GS_OK)
                fail_msg("iteration %d: checked bytes failed to decode: %s", i, err);
        }
    }
    assert_true(accepted > 0); /* some mutations keep the record valid */
    avro_value_decref(&v);
    gs_buf_free(&buf);
    gs_avro_schema_destroy(s);
}

/* ---- schema resolution ----------------------------------------------- */

static void test_evolved_writer(void **state)
{
    (void)state;
    char err[256];
    gs_arena_t arena = {0};
    gs_avro_schema_t *reader = request_schema();
    gs_avro_schema_t *v2 = load_file("tests/data/DialogueRequest_v2.avsc");
    assert_int_equal(gs_avro_compatible(v2, reader, err, sizeof(err)), GS_OK);

    gs_avro_dialogue_request_t r = sample(), back;
    gs_buf_t buf = {0};
    assert_int_equal(
        gs_avro_encode_as(&gs_avro_type_dialogue_request, &r, v2, 77, &buf, err, sizeof(err)),
        GS_OK);
    int32_t id;
    const uint8_t *p;
    size_t n;
    assert_int_equal(
        gs_frame_parse(buf.data, buf.len, GS_FRAMING_CONFLUENT, &id, &p, &n, err, sizeof(err)),
        GS_OK);
    assert_int_equal(id, 77);
    assert_int_equal(gs_avro_check(v2, p, n, err, sizeof(err)), GS_OK);
    /* the reader schema cannot read it directly: the layouts differ */
    assert_int_not_equal(gs_avro_check(reader, p, n, err, sizeof(err)), GS_OK);
    avro_value_t v;
    assert_int_equal(avro_generic_value_new(gs_avro_schema_iface(reader), &v), 0);
    assert_int_equal(gs_avro_decode(p, n, v2, reader, &v, err, sizeof(err)), GS_OK);
    assert_int_equal(
        gs_avro_from_value(&gs_avro_node_dialogue_request, &v, &back, &arena, err, sizeof(err)),
        GS_OK);
    assert_string_equal(back.request_id.p, "req-1");
    assert_string_equal(back.session_id.p, "sess-1");
    assert_string_equal(back.tenant.p, "default"); /* absent in v2: reader default */
    assert_int_equal(back.has_moral_value, 0);     /* absent in v2: default null */
    assert_int_equal(back.op, GS_AVRO_DIALOGUE_OP_TOP_K);
    assert_int_equal(back.n_turns, 2);
    assert_string_equal(back.turns[1].p, "how can I help?");
    assert_int_equal(back.top_k, 7);
    assert_int_equal(back.context_top_k, 3);
    assert_int_equal(back.created_at_ms, 1795398721000);
    avro_value_decref(&v);
    gs_buf_free(&buf);
    gs_arena_free(&arena);
    gs_avro_schema_destroy(v2);
    gs_avro_schema_destroy(reader);
}

static void test_incompatible_writers(void **state)
{
    (void)state;
    char err[256];
    gs_avro_schema_t *reader = request_schema();
    struct {
        const char *schema, *why;
    } cases[] = {
        {"{\"type\":\"record\",\"name\":\"DialogueRequest\",\"fields\":["
         "{\"name\":\"session_id\",\"type\":\"string\"}]}",
         "request_id: missing in the writer schema and has no default"},
        {"{\"type\":\"record\",\"name\":\"DialogueRequest\",\"fields\":["
         "{\"name\":\"request_id\",\"type\":\"string\"},{\"name\":\"session_id\",\"type\":"
         "\"string\"},"
         "{\"name\":\"op\",\"type\":{\"type\":\"enum\",\"name\":\"DialogueOp\",\"symbols\":[\"TOP_"
         "K\"]}},"
         "{\"name\":\"turns\",\"type\":\"string\"},"
         "{\"name\":\"created_at_ms\",\"type\":\"long\"}]}",
         "turns: writer type string cannot be read as array"},
        {"{\"type\":\"record\",\"name\":\"IntentRequest\",\"fields\":[]}",
         "writer type IntentRequest cannot be read as DialogueRequest"},
        {"{\"type\":\"record\",\"name\":\"DialogueRequest\",\"fields\":["
         "{\"name\":\"request_id\",\"type\":\"string\"},{\"name\":\"session_id\",\"type\":"
         "\"string\"},"
         "{\"name\":\"op\",\"type\":{\"type\":\"enum\",\"name\":\"DialogueOp\",\"symbols\":[\"TOP_"
         "K\"]}},"
         "{\"name\":\"turns\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
         "{\"name\":\"top_k\",\"type\":\"long\"},"
         "{\"name\":\"created_at_ms\",\"type\":\"long\"}]}",
         "top_k: writer type long cannot be read as int"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gs_avro_schema_t *w = parse(cases[i].schema);
        gs_err_t e = gs_avro_compatible(w, reader, err, sizeof(err));
        if (e != GS_ERR_SCHEMA || !strstr(err, cases[i].why))
            fail_msg("case %zu: got %s \"%s\", want \"%s\"", i, gs_err_name(e), err, cases[i].why);
        gs_avro_schema_destroy(w);
    }
    gs_avro_schema_destroy(reader);
}

/* A writer enum symbol unknown to us fails that value only, and int is
 * promoted to long. */
static void test_enum_symbol_and_promotion(void **state)
{
    (void)state;
    char err[256];
    gs_arena_t arena = {0};
    gs_avro_schema_t *reader = request_schema();
    gs_avro_schema_t *w =
        parse("{\"type\":\"record\",\"name\":\"DialogueRequest\",\"fields\":["
              "{\"name\":\"request_id\",\"type\":\"string\"},{\"name\":\"session_id\",\"type\":"
              "\"string\"},"
              "{\"name\":\"op\",\"type\":{\"type\":\"enum\",\"name\":\"DialogueOp\","
              "\"symbols\":[\"TOP_K\",\"SUMMARIZE\"]}},"
              "{\"name\":\"turns\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
              "{\"name\":\"created_at_ms\",\"type\":\"int\"}]}");
    assert_int_equal(gs_avro_compatible(w, reader, err, sizeof(err)), GS_OK);
    avro_value_t wv, f, item, rv;
    avro_generic_value_new(gs_avro_schema_iface(w), &wv);
    avro_generic_value_new(gs_avro_schema_iface(reader), &rv);
    avro_value_get_by_name(&wv, "request_id", &f, NULL);
    avro_value_set_string(&f, "r");
    avro_value_get_by_name(&wv, "session_id", &f, NULL);
    avro_value_set_string(&f, "s");
    avro_value_get_by_name(&wv, "turns", &f, NULL);
    avro_value_append(&f, &item, NULL);
    avro_value_set_string(&item, "hi");
    avro_value_get_by_name(&wv, "created_at_ms", &f, NULL);
    avro_value_set_int(&f, 12345);
    avro_value_get_by_name(&wv, "op", &f, NULL);
    avro_value_set_enum(&f, 0);
    assert_int_equal(gs_avro_project(&wv, &rv, reader, err, sizeof(err)), GS_OK);
    gs_avro_dialogue_request_t back;
    assert_int_equal(
        gs_avro_from_value(&gs_avro_node_dialogue_request, &rv, &back, &arena, err, sizeof(err)),
        GS_OK);
    assert_int_equal(back.op, GS_AVRO_DIALOGUE_OP_TOP_K); /* index 0 in writer, 1 in reader */
    assert_int_equal(back.created_at_ms, 12345);
    assert_int_equal(back.top_k, 5); /* default */
    avro_value_set_enum(&f, 1);      /* SUMMARIZE */
    assert_int_equal(gs_avro_project(&wv, &rv, reader, err, sizeof(err)), GS_ERR_SCHEMA);
    assert_non_null(strstr(err, "symbol SUMMARIZE is unknown"));
    avro_value_decref(&wv);
    avro_value_decref(&rv);
    gs_arena_free(&arena);
    gs_avro_schema_destroy(w);
    gs_avro_schema_destroy(reader);
}

/* ---- results and dead letters ---------------------------------------- */

static void test_result_round_trip(void **state)
{
    (void)state;
    char err[256];
    gs_avro_prediction_t preds[2] = {{gs_avro_cstr("the"), 0.5}, {gs_avro_cstr("a"), 0.25}};
    gs_avro_dialogue_result_t r = {
        .request_id = {"req-9", 5},
        .session_id = {"s", 1},
        .tenant = {"t", 1},
        .accepted = 1,
        .note = gs_avro_cstr("processed"),
        .phase = GS_AVRO_PHASE_SLEEP,
        .step = 42,
        .moral_threshold = 0.55,
        .moral_value = 0.8,
        .context_items = 3,
        .predictions = preds,
        .n_predictions = 2,
        .has_text = 1,
        .text = gs_avro_cstr("hello"),
        .model = {gs_avro_cstr("m"), gs_avro_cstr("1"), gs_avro_cstr("abc")},
        .timings = {1, 2, 3, 6},
        .source = {gs_avro_cstr("topic-a"), 4, 99},
        .worker_id = gs_avro_cstr("w1"),
        .processed_at_ms = 1000};
    gs_buf_t buf = {0};
    gs_avro_schema_t *s;
    assert_int_equal(gs_avro_schema_load("DialogueResult", &s, err, sizeof(err)), GS_OK);
    for (int round = 0; round < 2; round++) { /* reuse of the output buffer */
        assert_int_equal(gs_avro_dialogue_result_encode(&r, round ? 5 : -1, &buf, err, sizeof(err)),
                         GS_OK);
        size_t hdr = round ? 5 : 0;
        assert_int_equal(gs_avro_check(s, buf.data + hdr, buf.len - hdr, err, sizeof(err)), GS_OK);
        avro_value_t v, f, g;
        avro_generic_value_new(gs_avro_schema_iface(s), &v);
        assert_int_equal(gs_avro_decode(buf.data + hdr, buf.len - hdr, s, s, &v, err, sizeof(err)),
                         GS_OK);
        const char *str;
        size_t sz;
        int64_t l;
        double d;
        int i;
        avro_value_get_by_name(&v, "request_id", &f, NULL);
        avro_value_get_string(&f, &str, &sz);
        assert_string_equal(str, "req-9");
        avro_value_get_by_name(&v, "phase", &f, NULL);
        avro_value_get_enum(&f, &i);
        assert_int_equal(i, GS_PHASE_SLEEP);
        avro_value_get_by_name(&v, "step", &f, NULL);
        avro_value_get_long(&f, &l);
        assert_int_equal(l, 42);
        avro_value_get_by_name(&v, "moral_threshold", &f, NULL);
        avro_value_get_double(&f, &d);
        assert_true(d == 0.55);
        avro_value_get_by_name(&v, "predictions", &f, NULL);
        avro_value_get_size(&f, &sz);
        assert_int_equal(sz, round ? 0 : 2);
        if (!round) {
            avro_value_get_by_index(&f, 1, &g, NULL);
            avro_value_get_by_name(&g, "probability", &f, NULL);
            avro_value_get_double(&f, &d);
            assert_true(d == 0.25);
        }
        avro_value_get_by_name(&v, "text", &f, NULL);
        avro_value_get_discriminant(&f, &i);
        assert_int_equal(i, round ? 0 : 1);
        avro_value_get_by_name(&v, "source", &f, NULL);
        avro_value_get_by_name(&f, "offset", &g, NULL);
        avro_value_get_long(&g, &l);
        assert_int_equal(l, 99);
        avro_value_decref(&v);
        r.n_predictions = 0; /* second round: no predictions, no text */
        r.has_text = 0;
    }
    gs_buf_free(&buf);
    gs_avro_schema_destroy(s);
}

static void test_deadletter_round_trip(void **state)
{
    (void)state;
    gs_deadletter_codec_t *c;
    char err[256];
    assert_int_equal(gs_deadletter_codec_new(&c, err, sizeof(err)), GS_OK);
    uint8_t value[100];
    for (int i = 0; i < 100; i++)
        value[i] = (uint8_t)i;
    gs_deadletter_t dl = {"in",
                          3,
                          1234,
                          "dialogue",
                          "key",
                          3,
                          value,
                          100,
                          100,
                          17,
                          GS_ERR_VALIDATION,
                          "turns: 0 turns",
                          "w",
                          5};
    gs_buf_t buf = {0};
    gs_avro_schema_t *s = gs_deadletter_schema(c);
    for (int trunc = 0; trunc < 2; trunc++) {
        assert_int_equal(
            gs_deadletter_encode(c, &dl, trunc ? 10 : 1000, -1, &buf, err, sizeof(err)), GS_OK);
        avro_value_t v, f, b;
        avro_generic_value_new(gs_avro_schema_iface(s), &v);
        assert_int_equal(gs_avro_check(s, buf.data, buf.len, err, sizeof(err)), GS_OK);
        assert_int_equal(gs_avro_decode(buf.data, buf.len, s, s, &v, err, sizeof(err)), GS_OK);
        const void *p;
        size_t sz;
        int i;
        int64_t l;
        avro_value_get_by_name(&v, "value", &f, NULL);
        avro_value_get_current_branch(&f, &b);
        avro_value_get_bytes(&b, &p, &sz);
        assert_int_equal(sz, trunc ? 10 : 100);
        assert_memory_equal(p, value, sz);
        avro_value_get_by_name(&v, "value_truncated", &f, NULL);
        avro_value_get_boolean(&f, &i);
        assert_int_equal(i, trunc);
        avro_value_get_by_name(&v, "value_size", &f, NULL);
        avro_value_get_long(&f, &l);
        assert_int_equal(l, 100);
        avro_value_get_by_name(&v, "error_class", &f, NULL);
        avro_value_get_enum(&f, &i);
        assert_string_equal(avro_schema_enum_get(avro_value_get_schema(&f), i), "VALIDATION");
        avro_value_get_by_name(&v, "schema_id", &f, NULL);
        avro_value_get_current_branch(&f, &b);
        avro_value_get_int(&b, &i);
        assert_int_equal(i, 17);
        avro_value_decref(&v);
    }
    gs_buf_free(&buf);
    gs_deadletter_codec_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_schemas),
        cmocka_unit_test(test_metrics_snapshot),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_check_truncations),
        cmocka_unit_test(test_check_hostile),
        cmocka_unit_test(test_check_fuzz),
        cmocka_unit_test(test_evolved_writer),
        cmocka_unit_test(test_incompatible_writers),
        cmocka_unit_test(test_enum_symbol_and_promotion),
        cmocka_unit_test(test_result_round_trip),
        cmocka_unit_test(test_deadletter_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
