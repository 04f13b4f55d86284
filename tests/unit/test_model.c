/* Unit tests of the dialogue model (SPEC 4): tokenizer and vocabulary,
 * reservoir maths against dense references (LAPACK eigenvalues, a naive
 * state update), the Kneser-Ney trigram baseline against hand arithmetic
 * and brute force, training on a small synthetic corpus, batched against
 * one-at-a-time inference, and model-file corruption. The model quality on
 * the real corpus is tested by tests/integration/test_model_quality.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <complex.h>
#include <jansson.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "govstream/model.h"
#include "../../src/models/kn.h"    /* white-box: the trigram baseline */
#include "../../src/models/vmath.h" /* white-box: the kernels' maths */

static gs_str_t S(const char *s)
{
    return (gs_str_t){s, strlen(s)};
}

/* ---- tokenizer and vocabulary ------------------------------------------ */

typedef struct toks {
    char buf[512];
    size_t len;
} toks_t;

static void collect(const char *tok, size_t len, void *opaque)
{
    toks_t *t = opaque;
    memcpy(t->buf + t->len, tok, len);
    t->len += len;
    t->buf[t->len++] = '|';
    t->buf[t->len] = '\0';
}

static void test_tokenize(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"Don't STOP, 42 times!", "don't|stop|,|42|times|!|"},
        {"  'quoted'  ", "'|quoted|'|"},
        {"Caf\xc3\xa9 \xe2\x80\x94 ok?",
         "caf\xc3\xa9|\xe2\x80\x94|ok|?|"}, /* em dash: punctuation */
        {"a\xc2\xa0"
         "b\tc\n",
         "a|b|c|"}, /* NBSP separates */
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        toks_t t = {.len = 0};
        t.buf[0] = '\0';
        gs_tokenize(cases[i].in, strlen(cases[i].in), collect, &t);
        assert_string_equal(t.buf, cases[i].out);
    }
    /* a long word is cut at GS_TOKEN_MAX bytes, on a character boundary */
    char word[200];
    size_t n = 0;
    word[n++] = 'a';
    while (n + 2 < 150) {
        word[n++] = '\xc3';
        word[n++] = '\xa9';
    }
    toks_t t = {.len = 0};
    gs_tokenize(word, n, collect, &t);
    assert_true(t.len - 1 <= GS_TOKEN_MAX);
    assert_true(gs_utf8_valid(t.buf, t.len));
    assert_int_equal(t.len - 1, GS_TOKEN_MAX - 1); /* 'a' + 31 two-byte letters */
}

static const char blob[] = "<unk>\0<eot>\0hello\0world\0,\0!\0(\0bye";

static void test_vocab(void **state)
{
    (void)state;
    char err[256];
    gs_vocab_t *v;
    assert_int_equal(gs_vocab_new(blob, sizeof(blob), &v, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_vocab_size(v), 8);
    assert_int_equal(gs_vocab_id(v, "world", 5), 3);
    assert_int_equal(gs_vocab_id(v, "nope", 4), GS_TOK_UNK);
    assert_string_equal(gs_vocab_token(v, 7), "bye");
    assert_string_equal(gs_vocab_token(v, 99), "<unk>");

    gs_str_t turns[] = {S("Hello, WORLD!"), S("so (bye")};
    uint32_t *ids = NULL;
    size_t nid = 0, cap = 0;
    assert_int_equal(gs_vocab_encode_turns(v, turns, 2, &ids, &nid, &cap), 0);
    static const uint32_t want[] = {2, 4, 3, 5, 1, 0, 6, 7, 1};
    assert_int_equal(nid, sizeof(want) / sizeof(want[0]));
    assert_memory_equal(ids, want, sizeof(want));

    char out[64];
    assert_int_equal(gs_vocab_decode(v, want, 4, out, sizeof(out)), strlen("hello, world!"));
    assert_string_equal(out, "hello, world!");
    static const uint32_t paren[] = {2, 6, 7};
    gs_vocab_decode(v, paren, 3, out, sizeof(out));
    assert_string_equal(out, "hello (bye");
    assert_int_equal(gs_vocab_decode(v, want, 4, out, 8), 6); /* whole tokens only */
    assert_string_equal(out, "hello,");
    free(ids);
    gs_vocab_destroy(v);

    /* refused: missing terminator, duplicates, wrong specials, bad UTF-8 */
    static const char dup[] = "<unk>\0<eot>\0a\0a";
    static const char specials[] = "<eot>\0<unk>\0a";
    static const char bad_utf8[] = "<unk>\0<eot>\0\xc3";
    assert_int_equal(gs_vocab_new(blob, sizeof(blob) - 1, &v, err, sizeof(err)), GS_ERR_DECODE);
    assert_int_equal(gs_vocab_new(dup, sizeof(dup), &v, err, sizeof(err)), GS_ERR_DECODE);
    assert_contains(err, "duplicate");
    assert_int_equal(gs_vocab_new(specials, sizeof(specials), &v, err, sizeof(err)), GS_ERR_DECODE);
    assert_contains(err, "<unk> and <eot>");
    assert_int_equal(gs_vocab_new(bad_utf8, sizeof(bad_utf8), &v, err, sizeof(err)), GS_ERR_DECODE);
    assert_contains(err, "UTF-8");
}

/* ---- reservoir maths ---------------------------------------------------- */

static double *dense_w(const gs_reservoir_t *r)
{
    uint32_t N = r->conf.units;
    double *w = calloc((size_t)N * N, sizeof(double));
    assert_non_null(w);
    for (uint32_t i = 0; i < N; i++)
        for (uint32_t e = r->row_ptr[i]; e < r->row_ptr[i + 1]; e++)
            w[(size_t)i * N + r->col[e]] = r->val[e];
    return w;
}

/* Largest |eigenvalue| of the scaled W, by LAPACK dgeev on the dense matrix:
 * an independent check of the power iteration that scaled it. */
static void test_spectral_radius(void **state)
{
    (void)state;
    static const struct {
        uint32_t units;
        float radius, density;
        uint64_t seed;
    } cases[] = {{512, 0.9f, 0.1f, 42}, /* the default reservoir */
                 {256, 0.9f, 0.1f, 1},
                 {200, 0.5f, 0.05f, 3},
                 {128, 1.2f, 0.2f, 99}};
    /* valgrind spends half a minute on the 512-unit eigenproblem alone */
    for (size_t c = RUNNING_ON_VALGRIND ? 1 : 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        gs_reservoir_conf_t conf;
        gs_reservoir_conf_default(&conf);
        conf.units = cases[c].units;
        conf.radius = cases[c].radius;
        conf.density = cases[c].density;
        conf.seed = cases[c].seed;
        gs_reservoir_t r;
        char err[256];
        assert_int_equal(gs_reservoir_init(&r, &conf, 50, err, sizeof(err)), GS_OK);
        /* density as drawn, within 10% */
        double density = (double)r.nnz / ((double)conf.units * conf.units);
        assert_true(fabs(density - conf.density) < 0.1 * conf.density);

        uint32_t N = conf.units;
        double *w = dense_w(&r), *wr = malloc(N * sizeof(double)), *wi = malloc(N * sizeof(double));
        assert_non_null(wr);
        assert_non_null(wi);
        assert_int_equal(LAPACKE_dgeev(LAPACK_ROW_MAJOR, 'N', 'N', (lapack_int)N, w, (lapack_int)N,
                                       wr, wi, NULL, 1, NULL, 1),
                         0);
        double rho = 0;
        for (uint32_t i = 0; i < N; i++)
            rho = fmax(rho, hypot(wr[i], wi[i]));
        print_message("spectral radius %.5f (target %.2f, %u units)\n", rho, conf.radius, N);
        if (fabs(rho - conf.radius) > 0.01 * conf.radius)
            fail_msg("case %zu: spectral radius %.6f, target %.3f", c, rho, conf.radius);
        free(w), free(wr), free(wi);
        gs_reservoir_free(&r);
    }
}

/* f and the leaky update written out densely, in double. */
static void reference_step(const gs_reservoir_t *r, const double *w, const uint32_t *tokens,
                           size_t B, const float *x_in, double *x_out)
{
    const gs_reservoir_conf_t *c = &r->conf;
    uint32_t N = c->units;
    for (size_t b = 0; b < B; b++) {
        for (uint32_t i = 0; i < N; i++) {
            double xi = x_in[(size_t)i * B + b];
            if (tokens[b] == UINT32_MAX) {
                x_out[(size_t)i * B + b] = xi;
                continue;
            }
            double z = r->bias[i];
            for (uint32_t j = 0; j < N; j++)
                z += w[(size_t)i * N + j] * x_in[(size_t)j * B + b];
            for (uint32_t k = 0; k < c->input_nnz; k++)
                if (r->in_row[(size_t)tokens[b] * c->input_nnz + k] == i)
                    z += r->in_val[(size_t)tokens[b] * c->input_nnz + k];
            double f = c->amp * exp(-c->alpha * fabs(z)) * sin(c->omega * z);
            x_out[(size_t)i * B + b] = (1 - c->leak) * xi + c->leak * f;
        }
    }
}

static void test_step_reference(void **state)
{
    (void)state;
    gs_reservoir_conf_t conf;
    gs_reservoir_conf_default(&conf);
    conf.units = 96;
    conf.input_nnz = 8;
    conf.amp = 1.3f, conf.alpha = 0.2f, conf.omega = 1.7f, conf.leak = 0.4f;
    gs_reservoir_t r;
    char err[256];
    const uint32_t V = 30;
    assert_int_equal(gs_reservoir_init(&r, &conf, V, err, sizeof(err)), GS_OK);
    double *w = dense_w(&r);
    const size_t N = conf.units;
    /* batch sizes that take every path: 64-blocks, the wider tail blocks
     * (64 or 32 lanes where ld has room), 16-blocks, partial blocks and
     * single columns; ld > B, whose extra columns stay as they are */
    static const size_t sizes[] = {1, 7, 16, 48, 70, 100, 130, 150};
    for (size_t c = 0; c < sizeof(sizes) / sizeof(sizes[0]); c++) {
        const size_t B = sizes[c], ld = B + (c % 2 ? 70 : 3), STEPS = 30;
        float *x = malloc(N * ld * sizeof(float)), *y = malloc(N * ld * sizeof(float));
        float *x1 = malloc(N * sizeof(float)), *y1 = malloc(N * sizeof(float));
        double *ref = malloc(N * B * sizeof(double));
        uint32_t *tokens = malloc(B * sizeof(uint32_t));
        assert_non_null(x), assert_non_null(y), assert_non_null(x1), assert_non_null(y1);
        assert_non_null(ref), assert_non_null(tokens);
        rng_seed(11 + c);
        for (size_t i = 0; i < N * ld; i++)
            x[i] = (float)(rng_unit() * 4 - 2);
        for (size_t i = 0; i < N * ld; i++)
            y[i] = -7.0f; /* marks the columns past B */
        for (size_t s = 0; s < STEPS; s++) {
            for (size_t b = 0; b < B; b++) /* sequence 3 sits some steps out */
                tokens[b] = b == 3 && s % 3 == 0 ? UINT32_MAX : rng_below(V);
            gs_reservoir_step(&r, tokens, B, ld, x, y);
            float *dense = malloc(N * B * sizeof(float));
            assert_non_null(dense);
            for (size_t i = 0; i < N; i++)
                memcpy(dense + i * B, x + i * ld, B * sizeof(float));
            reference_step(&r, w, tokens, B, dense, ref);
            free(dense);
            for (size_t i = 0; i < N; i++) {
                for (size_t b = 0; b < B; b++)
                    if (fabs(y[i * ld + b] - ref[i * B + b]) > 1e-5)
                        fail_msg("B %zu step %zu unit %zu seq %zu: %.9g, reference %.9g", B, s, i,
                                 b, y[i * ld + b], ref[i * B + b]);
                for (size_t b = B; b < ld; b++)
                    if (y[i * ld + b] != -7.0f)
                        fail_msg("B %zu: column %zu past B written", B, b);
            }
            /* bit-identical to the sequences stepped one at a time */
            for (size_t b = 0; b < B; b++) {
                for (size_t i = 0; i < N; i++)
                    x1[i] = x[i * ld + b];
                gs_reservoir_step(&r, &tokens[b], 1, 1, x1, y1);
                for (size_t i = 0; i < N; i++)
                    if (memcmp(&y1[i], &y[i * ld + b], sizeof(float)) != 0)
                        fail_msg("B %zu step %zu seq %zu unit %zu: %.9g batched, %.9g alone", B, s,
                                 b, i, y[i * ld + b], y1[i]);
            }
            float *t = x;
            x = y, y = t;
            for (size_t i = 0; i < N; i++)
                for (size_t b = B; b < ld; b++)
                    y[i * ld + b] = -7.0f;
        }
        free(x), free(y), free(x1), free(y1), free(ref), free(tokens);
    }
    /* the same seed draws the same reservoir; another seed another one */
    gs_reservoir_t r2;
    assert_int_equal(gs_reservoir_init(&r2, &conf, V, err, sizeof(err)), GS_OK);
    assert_int_equal(r2.nnz, r.nnz);
    assert_memory_equal(r2.val, r.val, r.nnz * sizeof(float));
    assert_memory_equal(r2.in_row, r.in_row, V * conf.input_nnz * sizeof(uint32_t));
    gs_reservoir_free(&r2);
    conf.seed++;
    assert_int_equal(gs_reservoir_init(&r2, &conf, V, err, sizeof(err)), GS_OK);
    assert_true(r2.nnz != r.nnz || memcmp(r2.val, r.val, r.nnz * sizeof(float)) != 0);
    gs_reservoir_free(&r2);
    /* refused configurations */
    conf.density = 0;
    assert_int_equal(gs_reservoir_init(&r2, &conf, V, err, sizeof(err)), GS_ERR_INVALID_ARG);
    free(w);
    gs_reservoir_free(&r);
}

/* The vectorizable float functions against libm in double. */
static void test_vmath(void **state)
{
    (void)state;
    double worst_exp = 0, worst_log = 0, worst_sin = 0;
    for (int i = 0; i <= 2000000; i++) {
        float x = -87.0f + (float)i * (175.0f / 2000000);
        double want = exp((double)x), got = gs_vm_exp(x);
        worst_exp = fmax(worst_exp, fabs(got - want) / want);
        float y = ldexpf(1.0f + (float)(i % 1000) / 1000, i % 200 - 100);
        want = log((double)y);
        got = gs_vm_log(y);
        worst_log = fmax(worst_log, fabs(got - want) / fmax(fabs(want), 1.0));
        float z = -8192.0f + (float)i * (16384.0f / 2000000);
        worst_sin = fmax(worst_sin, fabs(gs_vm_sin(z) - sin((double)z)));
    }
    print_message("vmath worst: exp %.3g relative, log %.3g, sin %.3g absolute\n", worst_exp,
                  worst_log, worst_sin);
    assert_true(worst_exp < 3e-7);
    assert_true(worst_log < 3e-7);
    assert_true(worst_sin < 2e-6);
    assert_true(gs_vm_exp(-1000.0f) > 0 && gs_vm_exp(-1000.0f) < 1e-37f); /* clamped, no denormal */
    assert_true(fabsf(gs_vm_sin(1e9f)) <= 1.0f);                          /* clamped argument */
    assert_true(gs_vm_exp(0.0f) == 1.0f && gs_vm_log(1.0f) == 0.0f && gs_vm_sin(0.0f) == 0.0f);
}

/* ---- the Kneser-Ney trigram baseline ----------------------------------- */

enum { A = 2, B = 3, C = 4 }; /* after <unk> 0 and <eot> 1 */

/* "a b c", "a b a", "b c" (each followed by <eot>), V = 5. */
static gs_kn_t *tiny_kn(void)
{
    static const uint32_t ids[] = {A, B, C, 1, A, B, A, 1, B, C, 1};
    static const size_t start[] = {0, 4, 8, 11};
    gs_kn_t *kn = NULL;
    char err[128];
    assert_int_equal(gs_kn_new(ids, start, 3, 5, &kn, err, sizeof(err)), GS_OK);
    return kn;
}

static size_t brute_rank(const gs_kn_t *kn, uint32_t V, uint32_t w1, uint32_t w2, uint32_t w)
{
    double pt = gs_kn_prob(kn, w1, w2, w);
    size_t above = 0;
    for (uint32_t x = 0; x < V; x++) {
        double p = gs_kn_prob(kn, w1, w2, x);
        above += x != w && (p > pt || (p == pt && x < w));
    }
    return above;
}

static void assert_sums_to_one(const gs_kn_t *kn, uint32_t V, uint32_t w1, uint32_t w2)
{
    double sum = 0;
    for (uint32_t w = 0; w < V; w++) {
        double p = gs_kn_prob(kn, w1, w2, w);
        if (!(p > 0))
            fail_msg("P(%u | %u %u) = %g", w, w1, w2, p);
        sum += p;
    }
    if (fabs(sum - 1) > 1e-9)
        fail_msg("P(. | %u %u) sums to %.15f", w1, w2, sum);
}

/* gs_kn_mix against gs_kn_prob, bit for bit: out[v] = (float)(a q[v] s +
 * (1 - a) P3(v)), and a sum of 1 for a q that sums to 1 / s. */
static void assert_mix_exact(const gs_kn_t *kn, uint32_t V, uint32_t w1, uint32_t w2, double a)
{
    float *q = malloc(V * sizeof(float)), *out = malloc(V * sizeof(float));
    assert_non_null(q), assert_non_null(out);
    double total = 0, sum = 0;
    for (uint32_t v = 0; v < V; v++)
        total += q[v] = (float)(0.01 + rng_unit());
    gs_kn_mix(kn, w1, w2, a, q, 1 / total, out);
    for (uint32_t v = 0; v < V; v++) {
        float want = (float)(a * (q[v] * (1 / total)) + (1 - a) * gs_kn_prob(kn, w1, w2, v));
        if (out[v] != want)
            fail_msg("mix(%u | %u %u) at a %.2f: %.9g, want %.9g", v, w1, w2, a, out[v], want);
        sum += out[v];
    }
    if (fabs(sum - 1) > 1e-5)
        fail_msg("mix(. | %u %u) sums to %.9f", w1, w2, sum);
    free(q), free(out);
}

static void test_kn_discounts(void **state)
{
    (void)state;
    /* Y = 100 / (100 + 2 * 40) = 5/9; D1 = 1 - 2 Y 40/100 = 5/9,
     * D2 = 2 - 3 Y 20/40 = 7/6, D3+ = 3 - 4 Y 10/20 = 17/9 */
    double d[3];
    gs_kn_estimate((const uint64_t[]){100, 40, 20, 10}, d);
    assert_true(fabs(d[0] - 5.0 / 9) < 1e-12 && fabs(d[1] - 7.0 / 6) < 1e-12 &&
                fabs(d[2] - 17.0 / 9) < 1e-12);
    /* no counts of 3: one discount Y = 4 / (4 + 2 * 2) */
    gs_kn_estimate((const uint64_t[]){4, 2, 0, 0}, d);
    assert_true(d[0] == 0.5 && d[1] == 0.5 && d[2] == 0.5);

    /* the tiny corpus: trigram counts (S = GS_KN_START) (S a b) 2, (b c eot)
     * 2, (a b c), (a b a), (b a eot), (S b c) 1: Y = 4 / (4 + 4) = 0.5.
     * Bigram types by distinct left neighbours: (b c) 2 {a, S}, (a b),
     * (c eot), (b a), (a eot) 1: Y = 4 / (4 + 2) = 2/3. Unigram
     * continuation: eot 2, a b c 1, unk 0: Y = 3 / (3 + 2) = 0.6. */
    gs_kn_t *kn = tiny_kn();
    static const double want[] = {0.6, 2.0 / 3, 0.5};
    for (int order = 1; order <= 3; order++) {
        gs_kn_discounts(kn, order, d);
        for (int k = 0; k < 3; k++)
            if (fabs(d[k] - want[order - 1]) > 1e-12)
                fail_msg("order %d D_%d = %.15f", order, k + 1, d[k]);
    }
    gs_kn_destroy(kn);
    gs_kn_destroy(NULL);
    char err[128];
    assert_int_equal(gs_kn_new(NULL, (const size_t[]){0}, 0, 0, &kn, err, sizeof(err)),
                     GS_ERR_INVALID_ARG);
    assert_null(kn);
}

static void test_kn_tiny(void **state)
{
    (void)state;
    gs_kn_t *kn = tiny_kn();
    /* P1: N(. .) = 5 bigram types, g1 = 4 * 0.6 / 5 = 0.48, so
     * P1(a) = (1 - 0.6) / 5 + 0.48 / 5 = 0.176, P1(eot) = 1.4 / 5 + 0.096
     * = 0.376, P1(unk) = 0.096.
     * P2(. | b): successors c (N 2), a (N 1), N(. b .) = 3,
     * g2 = 2 * (2/3) / 3 = 4/9: P2(c | b) = (2 - 2/3) / 3 + 4/9 * 0.176
     * = 4/9 * 1.176 = 0.522666...
     * P3(. | a b): successors c, a once each, g3 = 2 * 0.5 / 2 = 0.5:
     * P3(c | a b) = (1 - 0.5) / 2 + 0.5 * 0.522666... = 0.511333...
     * P3(b | S a): (S a b) twice, g3 = 0.5 / 2 = 0.25; P2(b | a) =
     * (1 - 2/3) / 2 + (2/3) 0.176 = 0.284: 1.5 / 2 + 0.25 * 0.284 = 0.821 */
    assert_true(fabs(gs_kn_prob1(kn, A) - 0.176) < 1e-12);
    assert_true(fabs(gs_kn_prob1(kn, 1) - 0.376) < 1e-12);
    assert_true(fabs(gs_kn_prob1(kn, 0) - 0.096) < 1e-12);
    assert_true(fabs(gs_kn_prob2(kn, B, C) - 4.0 / 9 * 1.176) < 1e-12);
    assert_true(fabs(gs_kn_prob(kn, A, B, C) - (0.25 + 0.5 * 4.0 / 9 * 1.176)) < 1e-12);
    assert_true(fabs(gs_kn_prob(kn, GS_KN_START, A, B) - 0.821) < 1e-12);
    assert_true(fabs(gs_kn_prob(kn, 7, 9, 0) - 0.096) < 1e-12); /* ids >= V are <unk> */

    /* unseen contexts back off: (c b) was never seen, so P3 = P2(. | b);
     * <eot> and <unk> have no successors, so P3 = P1 */
    for (uint32_t w = 0; w < 5; w++) {
        assert_true(gs_kn_prob(kn, C, B, w) == gs_kn_prob2(kn, B, w));
        assert_true(gs_kn_prob(kn, C, 1, w) == gs_kn_prob1(kn, w));
        assert_true(gs_kn_prob(kn, A, 0, w) == gs_kn_prob1(kn, w));
    }
    assert_true(gs_kn_prob(kn, A, B, C) != gs_kn_prob2(kn, B, C)); /* seen: not backed off */
    for (uint32_t w1 = 0; w1 <= 5; w1++)
        for (uint32_t w2 = 0; w2 < 5; w2++)
            assert_sums_to_one(kn, 5, w1 < 5 ? w1 : GS_KN_START, w2);

    /* P3(. | a b): c 0.511, a 0.345, eot 0.084, b 0.039, unk 0.021 */
    static const uint32_t order[] = {C, A, 1, B, 0};
    for (size_t r = 0; r < 5; r++)
        assert_int_equal(gs_kn_rank(kn, A, B, order[r], 5), r);
    assert_int_equal(gs_kn_rank(kn, A, B, 0, 3), 3);
    /* P1 ties a, b, c: the lower id first */
    assert_int_equal(gs_kn_rank(kn, C, 1, A, 5), 1);
    assert_int_equal(gs_kn_rank(kn, C, 1, C, 5), 3);
    gs_kn_destroy(kn);
}

/* A copy of a model's arrays in buffers of its own, to load and to damage. */
typedef struct kn_copy {
    gs_kn_arrays_t a;
    uint32_t *buf[8];
} kn_copy_t;

static uint32_t *dup_u32(const uint32_t *p, size_t n)
{
    uint32_t *d = malloc((n ? n : 1) * sizeof(uint32_t));
    assert_non_null(d);
    memcpy(d, p, n * sizeof(uint32_t));
    return d;
}

static void kn_copy(const gs_kn_t *kn, kn_copy_t *c)
{
    const gs_kn_arrays_t *a = gs_kn_arrays(kn);
    c->a = *a;
    c->a.ctx_first = c->buf[0] = dup_u32(a->ctx_first, a->V + 2);
    c->a.ctx_w2 = c->buf[1] = dup_u32(a->ctx_w2, a->n_ctx);
    c->a.ctx_run = c->buf[2] = dup_u32(a->ctx_run, a->n_ctx + 1);
    c->a.tri_w = c->buf[3] = dup_u32(a->tri_w, a->n_tri);
    c->a.tri_c = c->buf[4] = dup_u32(a->tri_c, a->n_tri);
    c->a.bi_first = c->buf[5] = dup_u32(a->bi_first, a->V + 1);
    c->a.bi_w = c->buf[6] = dup_u32(a->bi_w, a->n_bi);
    c->a.bi_c = c->buf[7] = dup_u32(a->bi_c, a->n_bi);
}

static void kn_copy_free(kn_copy_t *c)
{
    for (int i = 0; i < 8; i++)
        free(c->buf[i]);
}

/* buf[array][at] = value must be refused with `why`, and restored. */
static void expect_kn_refused(kn_copy_t *c, int array, size_t at, uint32_t value, const char *why)
{
    uint32_t saved = c->buf[array][at];
    c->buf[array][at] = value;
    gs_kn_t *kn = (gs_kn_t *)1;
    char err[256];
    assert_int_equal(gs_kn_load(&c->a, &kn, err, sizeof(err)), GS_ERR_DECODE);
    assert_null(kn);
    assert_contains(err, why);
    c->buf[array][at] = saved;
}

/* A model loaded from the arrays of a built one gives the same bits; damaged
 * arrays are refused before any index is followed. */
static void test_kn_load(void **state)
{
    (void)state;
    gs_kn_t *built = tiny_kn(), *kn = NULL;
    kn_copy_t c;
    kn_copy(built, &c);
    char err[256];
    assert_int_equal(gs_kn_load(&c.a, &kn, err, sizeof(err)), GS_OK);
    /* 6 trigrams (S a b) (a b c) (a b a) (b c eot) (b a eot) (S b c) in 5
     * contexts, by w1: (a b), (b a) (b c), (S a) (S b); 5 bigram types (a
     * b) (b c) (c eot) (b a) (a eot) */
    assert_int_equal(c.a.n_ctx, 5);
    assert_int_equal(c.a.n_tri, 6);
    assert_int_equal(c.a.n_bi, 5);
    for (int order = 1; order <= 3; order++) {
        double d1[3], d2[3];
        gs_kn_discounts(built, order, d1), gs_kn_discounts(kn, order, d2);
        assert_memory_equal(d1, d2, sizeof(d1));
    }
    for (uint32_t w1 = 0; w1 <= 5; w1++)
        for (uint32_t w2 = 0; w2 <= 5; w2++) {
            uint32_t x1 = w1 < 5 ? w1 : GS_KN_START, x2 = w2 < 5 ? w2 : GS_KN_START;
            for (uint32_t w = 0; w < 5; w++) {
                assert_true(gs_kn_prob(kn, x1, x2, w) == gs_kn_prob(built, x1, x2, w));
                assert_int_equal(gs_kn_rank(kn, x1, x2, w, 5), gs_kn_rank(built, x1, x2, w, 5));
            }
            assert_mix_exact(kn, 5, x1, x2, 0.3);
        }
    for (uint32_t w = 0; w < 5; w++) /* no context: P1 */
        assert_true(gs_kn_prob(kn, A, GS_KN_START, w) == gs_kn_prob1(kn, w));
    gs_kn_destroy(kn);

    expect_kn_refused(&c, 0, 6, 4, "contexts not grouped"); /* ctx_first[V + 1] != n_ctx */
    assert_int_equal(c.buf[1][1], A), assert_int_equal(c.buf[1][2], C);
    expect_kn_refused(&c, 1, 2, A, "contexts not grouped"); /* (b a) (b a): not increasing */
    expect_kn_refused(&c, 1, 0, 5, "contexts not grouped"); /* w2 = V */
    expect_kn_refused(&c, 2, 1, 0, "a context without successors");
    expect_kn_refused(&c, 2, 5, 7, "bad successor offsets"); /* past n_tri */
    expect_kn_refused(&c, 3, 0, 9, "trigram successors");    /* w3 out of range */
    expect_kn_refused(&c, 4, 2, 0, "trigram successors");    /* a count of 0 */
    expect_kn_refused(&c, 5, 5, 4, "bigram successors");     /* bi_first[V] != n_bi */
    expect_kn_refused(&c, 7, 0, 0, "bigram successors");
    c.a.V = 0;
    assert_int_equal(gs_kn_load(&c.a, &kn, err, sizeof(err)), GS_ERR_DECODE);
    assert_contains(err, "sizes out of range");
    kn_copy_free(&c);
    gs_kn_destroy(built);
}

/* A larger random corpus (Zipf-like, enough distinct trigrams to grow the
 * table, every count of counts non-zero): sums and exact ranks. */
static void test_kn_random(void **state)
{
    (void)state;
    enum { V = 96, N = 60000, SEQS = 600 }; /* 49,285 distinct trigrams */
    uint32_t *ids = malloc(N * sizeof(uint32_t));
    size_t start[SEQS + 1];
    assert_non_null(ids);
    rng_seed(11);
    for (size_t i = 0; i < N; i++) {
        double u = rng_unit();
        ids[i] = (uint32_t)(u * u * (V + 4)); /* some ids >= V: <unk> */
    }
    for (size_t s = 0; s <= SEQS; s++)
        start[s] = s * (N / SEQS);
    gs_kn_t *kn = NULL;
    char err[128];
    assert_int_equal(gs_kn_new(ids, start, SEQS, V, &kn, err, sizeof(err)), GS_OK);
    double d[3];
    gs_kn_discounts(kn, 3, d);
    assert_true(d[0] < d[1] && d[1] < d[2]); /* the modified estimates, not the fallback */
    for (int i = 0; i < 20; i++)
        assert_sums_to_one(kn, V, i ? rng_below(V) : GS_KN_START, rng_below(V));
    for (int i = 0; i < 20; i++) /* seen and unseen contexts, with a model or without */
        assert_mix_exact(kn, V, i % 5 ? ids[i + 100] : GS_KN_START, ids[i + 101],
                         (double)(i % 3) / 2);
    for (int i = 0; i < 2000; i++) {
        uint32_t w1 = i % 7 ? ids[i + 1000] : GS_KN_START, w2 = ids[i + 1001], w = ids[i + 1002];
        w = i % 3 ? (w < V ? w : 0) : rng_below(V); /* brute_rank compares ids */
        size_t want = brute_rank(kn, V, w1, w2, w), got = gs_kn_rank(kn, w1, w2, w, 5);
        if (got != (want < 5 ? want : 5))
            fail_msg("rank of %u after (%u %u): %zu, brute force %zu", w, w1, w2, got, want);
    }
    gs_kn_destroy(kn);
    free(ids);
}

/* ---- a small trained model ---------------------------------------------- */

typedef struct fixture {
    char dir[64], corpus[96], model[96];
    char *report;
    gs_dmodel_t *m;
} fixture_t;

static fixture_t fx;

/* A small synthetic dialogue language with learnable structure: questions
 * are answered by their answers, greetings by greetings; half the answers
 * are followed by a turn of random words, which no trigram context and no
 * reservoir state predicts, so that the n-gram part and the readout each
 * earn a share of the mix. */
static void write_corpus(const char *path)
{
    static const char *q[] = {"how are you?", "what are you doing today?", "do you like music?",
                              "where do you live?", "what is your name?"};
    static const char *a[] = {"i am fine, thanks.", "not much, just working.",
                              "yes, i like music a lot.", "i live in a small town.",
                              "my name is sam."};
    static const char *hi[] = {"hi", "hello", "hey there"};
    static const char *w[] = {"the", "a",   "cat",   "dog",  "sees", "likes",
                              "big", "red", "small", "runs", "and",  "very"};
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    rng_seed(5);
    for (int line = 0; line < 1500; line++) {
        fprintf(fp, "%s\t%s", hi[rng_below(3)], hi[rng_below(3)]);
        int pairs = 1 + (int)rng_below(4);
        for (int p = 0; p < pairs; p++) {
            uint32_t k = rng_below(5);
            fprintf(fp, "\t%s\t%s", q[k], a[k]);
            if (rng_below(2)) {
                int n = 2 + (int)rng_below(5);
                for (int i = 0; i < n; i++)
                    fprintf(fp, "%s%s", i ? " " : "\t", w[rng_below(12)]);
            }
        }
        fputc('\n', fp);
    }
    fclose(fp);
}

static int model_setup(void **state)
{
    (void)state;
    snprintf(fx.dir, sizeof(fx.dir), "/tmp/gs-test-model.XXXXXX");
    if (!mkdtemp(fx.dir))
        return -1;
    snprintf(fx.corpus, sizeof(fx.corpus), "%s/corpus.txt", fx.dir);
    snprintf(fx.model, sizeof(fx.model), "%s/model.gsm", fx.dir);
    write_corpus(fx.corpus);
    gs_train_conf_t c;
    gs_train_conf_default(&c);
    c.vocab = 64;
    c.code_dims = 8;
    c.reservoir.units = 64;
    c.reservoir.input_nnz = 8;
    c.eval_tokens = 5000;
    c.readout_rank = 0; /* the full readout: old files' form (rank 16: test_lowrank) */
    c.context_tokens = 128, c.context_step = 1; /* old files: a sliding 128 (test_context_window) */
    c.name = "unit";
    c.version = "7";
    char err[512];
    if (gs_train_dialogue(&c, fx.corpus, fx.model, NULL, &fx.report, err, sizeof(err))) {
        fprintf(stderr, "training failed: %s\n", err);
        return -1;
    }
    if (gs_dmodel_load(fx.model, &fx.m, err, sizeof(err))) {
        fprintf(stderr, "load failed: %s\n", err);
        return -1;
    }
    return 0;
}

static int model_teardown(void **state)
{
    (void)state;
    gs_dmodel_destroy(fx.m);
    free(fx.report);
    unlink(fx.corpus);
    unlink(fx.model);
    rmdir(fx.dir);
    return 0;
}

static double metric(json_t *report, const char *who, const char *what)
{
    json_t *v = json_object_get(json_object_get(report, who), what);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static void test_training_report(void **state)
{
    (void)state;
    json_t *r = json_loads(fx.report, 0, NULL);
    assert_non_null(r);
    /* the grammar is learnable: the model must beat both baselines clearly */
    double ppl = metric(r, "model", "perplexity"), bi = metric(r, "bigram", "perplexity");
    double uni = metric(r, "unigram", "perplexity");
    if (!(ppl < bi && bi < uni))
        fail_msg("perplexity: model %.3f, bigram %.3f, unigram %.3f", ppl, bi, uni);
    assert_true(metric(r, "model", "top1") > metric(r, "bigram", "top1"));
    assert_true(metric(r, "model", "top5") >= metric(r, "bigram", "top5"));
    assert_true(metric(r, "vocabulary", "coverage") == 1.0);
    /* the trigram baseline on the same samples; the grammar is trigram-friendly */
    double kn = metric(r, "trigram_kn", "perplexity");
    if (!(kn < bi))
        fail_msg("perplexity: trigram KN %.3f, bigram %.3f", kn, bi);
    assert_true(metric(r, "trigram_kn", "samples") == metric(r, "model", "samples"));
    /* the served mix beats both of its parts on the same samples */
    double mix = metric(r, "model_kn_mix", "perplexity");
    if (!(mix < kn && mix < ppl))
        fail_msg("perplexity: mix %.4f, trigram KN %.4f, model %.4f", mix, kn, ppl);
    assert_true(metric(r, "model_kn_mix", "top1") > 0 && metric(r, "model_kn_mix", "top5") < 1);
    assert_true(json_array_size(json_object_get(
                    json_object_get(json_object_get(r, "trigram_kn"), "discounts"), "trigram")) ==
                3);
    json_decref(r);

    assert_string_equal(gs_dmodel_name(fx.m), "unit");
    assert_string_equal(gs_dmodel_version(fx.m), "7");
    assert_int_equal(strlen(gs_dmodel_sha256(fx.m)), 64);

    /* too many code dimensions for the corpus's vocabulary */
    gs_train_conf_t c;
    gs_train_conf_default(&c);
    c.vocab = 64, c.code_dims = 64, c.reservoir.units = 16, c.reservoir.input_nnz = 4;
    char err[256], path[128], *rep = NULL;
    snprintf(path, sizeof(path), "%s/refused.gsm", fx.dir);
    assert_int_equal(gs_train_dialogue(&c, fx.corpus, path, NULL, &rep, err, sizeof(err)),
                     GS_ERR_INVALID_ARG);
    assert_contains(err, "code dims");
    assert_null(rep);
    assert_int_equal(access(path, F_OK), -1);
}

static gs_dm_query_t query(const gs_str_t *turns, size_t n, gs_dm_op_t op, int k)
{
    return (gs_dm_query_t){
        .turns = turns, .n_turns = n, .op = op, .k = k, .max_tokens = 12, .seed = 1234};
}

static void assert_same_answer(const gs_dm_answer_t *a, const gs_dm_answer_t *b, size_t q)
{
    if (a->n_preds != b->n_preds)
        fail_msg("query %zu: %zu predictions, alone %zu", q, a->n_preds, b->n_preds);
    for (size_t i = 0; i < a->n_preds; i++) {
        assert_string_equal(a->preds[i].token, b->preds[i].token);
        if (fabs(a->preds[i].probability - b->preds[i].probability) > 1e-5)
            fail_msg("query %zu prediction %zu: %.9f, alone %.9f", q, i, a->preds[i].probability,
                     b->preds[i].probability);
    }
    assert_int_equal(a->tokens, b->tokens);
    assert_string_equal(a->text, b->text);
}

static void test_batched_equals_single(void **state)
{
    (void)state;
    gs_str_t c1[] = {S("hi"), S("hello"), S("how are you?")};
    gs_str_t c2[] = {S("hi"), S("hello"), S("what is your name?")};
    gs_str_t c3[] = {S("hey there"), S("hi"), S("do you like music?"),
                     S("yes, i like music a lot."), S("where do you live?")};
    gs_str_t c4[] = {S("zebra quantum")}; /* all <unk> */
    gs_str_t c5[40];                      /* longer than the 128-token window */
    for (size_t i = 0; i < 40; i++)
        c5[i] = S(i % 2 ? "i am fine, thanks." : "how are you?");
    gs_dm_query_t q[] = {
        query(c1, 3, GS_DM_NEXT, 0),      query(c2, 3, GS_DM_TOP_K, 5),
        query(c3, 5, GS_DM_GENERATE, 0),  query(c4, 1, GS_DM_TOP_K, 20),
        query(c1, 2, GS_DM_GENERATE, 0),  query(c3, 3, GS_DM_TOP_K, 3),
        query(c2, 3, GS_DM_GENERATE, 0),  query(c5, 40, GS_DM_TOP_K, 4),
        query(c5, 39, GS_DM_GENERATE, 0),
    };
    q[6].sample_top_k = 5; /* seeded sampling */
    q[4].max_tokens = 2;
    enum { NQ = sizeof(q) / sizeof(q[0]) };
    gs_dm_answer_t *batch = calloc(NQ, sizeof(*batch)), *alone = calloc(1, sizeof(*alone));
    assert_non_null(batch), assert_non_null(alone);
    char err[256];
    assert_int_equal(gs_dmodel_run(fx.m, q, NQ, batch, err, sizeof(err)), GS_OK);
    for (size_t i = 0; i < NQ; i++) {
        assert_int_equal(gs_dmodel_run(fx.m, &q[i], 1, alone, err, sizeof(err)), GS_OK);
        assert_same_answer(&batch[i], alone, i);
    }
    /* answers are well-formed */
    for (size_t i = 0; i < NQ; i++) {
        const gs_dm_answer_t *a = &batch[i];
        if (q[i].op == GS_DM_GENERATE) {
            assert_int_equal(a->n_preds, 0);
            assert_true(a->tokens <= q[i].max_tokens);
            assert_int_equal(strlen(a->text), a->text_len);
            continue;
        }
        assert_int_equal(a->n_preds, q[i].op == GS_DM_TOP_K ? (size_t)q[i].k : 1);
        double sum = 0;
        for (size_t p = 0; p < a->n_preds; p++) {
            sum += a->preds[p].probability;
            assert_true(a->preds[p].probability > 0);
            if (p)
                assert_true(a->preds[p].probability <= a->preds[p - 1].probability);
        }
        if (!(sum <= 1.0))
            fail_msg("query %zu: probabilities sum to 1 + %.3g", i, sum - 1);
    }
    /* learned: after a question the answer starts as in the corpus. The
     * readout tells the questions apart; the trigrams, which see "? <eot>",
     * favour "i" (2 of the 5 answers), and hold more than half of the mix. */
    assert_string_equal(batch[1].preds[0].token, "my");
    assert_true(batch[1].preds[0].probability > 0.35);
    assert_string_equal(batch[1].preds[1].token, "i");
    assert_string_equal(batch[2].text, "i live in a small town.");
    assert_true(!strncmp(batch[4].text, "what ", 5)); /* 2 of the 5 questions */
    free(batch), free(alone);
}

static void test_distribution(void **state)
{
    (void)state;
    const gs_vocab_t *v = gs_dmodel_vocab(fx.m);
    const uint32_t V = gs_vocab_size(v);
    gs_str_t turns[] = {S("hello"), S("how are you?")};
    uint32_t *ids = NULL;
    size_t n = 0, cap = 0;
    assert_int_equal(gs_vocab_encode_turns(v, turns, 2, &ids, &n, &cap), 0);
    float *p = malloc(V * sizeof(float));
    assert_non_null(p);
    char err[256];
    assert_int_equal(gs_dmodel_distribution(fx.m, ids, n, p, err, sizeof(err)), GS_OK);
    double sum = 0;
    for (uint32_t i = 0; i < V; i++) {
        assert_true(p[i] > 0);
        sum += p[i];
    }
    assert_true(fabs(sum - 1) < 1e-4);
    /* TOP_K reports the same probabilities */
    gs_dm_query_t q = query(turns, 2, GS_DM_TOP_K, 20);
    gs_dm_answer_t *a = calloc(1, sizeof(*a));
    assert_non_null(a);
    assert_int_equal(gs_dmodel_run(fx.m, &q, 1, a, err, sizeof(err)), GS_OK);
    for (size_t k = 0; k < a->n_preds; k++) {
        uint32_t id = gs_vocab_id(v, a->preds[k].token, strlen(a->preds[k].token));
        assert_true(fabs(p[id] - a->preds[k].probability) < 1e-5);
    }
    assert_string_equal(a->preds[0].token, "i");
    free(a), free(p), free(ids);
}

/* ---- the n-gram part ----------------------------------------------------- */

/* The model file without its n-gram part, as files written before it. */
static void write_without_ngram(const char *from, const char *to)
{
    char err[256];
    gs_modelfile_t *mf;
    assert_int_equal(gs_modelfile_open(from, &mf, err, sizeof(err)), GS_OK);
    json_t *meta = json_loads(gs_modelfile_meta(mf), 0, NULL);
    assert_non_null(meta);
    assert_int_equal(json_object_del(meta, "ngram"), 0);
    char *text = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
    gs_tensor_t t[32];
    size_t n = 0, kn = 0;
    for (size_t i = 0; i < gs_modelfile_count(mf); i++) {
        const gs_tensor_t *x = gs_modelfile_at(mf, i);
        if (strncmp(x->name, "kn_", 3) != 0)
            t[n++] = *x;
        else
            kn++;
    }
    assert_int_equal(kn, GS_KN_TENSORS);
    assert_int_equal(gs_modelfile_write(to, gs_modelfile_kind(mf), text, t, n, err, sizeof(err)),
                     GS_OK);
    free(text);
    json_decref(meta);
    gs_modelfile_close(mf);
}

/* The trigrams of the corpus's training split, built here as the report
 * says the split is made (FNV-1a 64 of the line mod 10: 0-7 train). */
static gs_kn_t *training_split_kn(const char *corpus, const gs_vocab_t *v)
{
    size_t len, n_seqs = 0, n = 0, cap = 0;
    char *text, err[256];
    assert_int_equal(gs_read_file(corpus, &text, &len, err, sizeof(err)), GS_OK);
    uint32_t *ids = NULL;
    size_t *start = malloc((len + 1) * sizeof(size_t));
    assert_non_null(start);
    for (char *line = text, *end = text + len; line < end;) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t l = (size_t)((nl ? nl : end) - line);
        uint64_t h = 14695981039346656037ull;
        for (size_t i = 0; i < l; i++)
            h = (h ^ (unsigned char)line[i]) * 1099511628211ull;
        if (l && h % 10 < 8) {
            gs_str_t turns[64];
            size_t nt = 0;
            for (char *p = line, *e = line + l; p < e && nt < 64;) {
                char *tab = memchr(p, '\t', (size_t)(e - p));
                turns[nt++] = (gs_str_t){p, (size_t)((tab ? tab : e) - p)};
                p = tab ? tab + 1 : e;
            }
            start[n_seqs++] = n;
            assert_int_equal(gs_vocab_encode_turns(v, turns, nt, &ids, &n, &cap), 0);
        }
        line = nl ? nl + 1 : end;
    }
    start[n_seqs] = n;
    gs_kn_t *kn = NULL;
    assert_int_equal(gs_kn_new(ids, start, n_seqs, gs_vocab_size(v), &kn, err, sizeof(err)), GS_OK);
    free(ids), free(start), free(text);
    return kn;
}

/* TOP_K 20 of a model reports its distribution p, best first. */
static void assert_top_k_of(gs_dmodel_t *m, const gs_str_t *turns, size_t n_turns, const float *p)
{
    gs_dm_query_t q = query(turns, n_turns, GS_DM_TOP_K, 20);
    gs_dm_answer_t *a = calloc(1, sizeof(*a));
    char err[256];
    assert_non_null(a);
    assert_int_equal(gs_dmodel_run(m, &q, 1, a, err, sizeof(err)), GS_OK);
    assert_int_equal(a->n_preds, 20);
    const gs_vocab_t *v = gs_dmodel_vocab(m);
    for (size_t k = 0; k < a->n_preds; k++) {
        uint32_t id = gs_vocab_id(v, a->preds[k].token, strlen(a->preds[k].token));
        if (fabs(p[id] - a->preds[k].probability) > 1e-6)
            fail_msg("TOP_K %zu (%s): %.9f, distribution %.9f", k, a->preds[k].token,
                     a->preds[k].probability, p[id]);
        if (k)
            assert_true(a->preds[k].probability <= a->preds[k - 1].probability);
    }
    free(a);
}

/* One window: the served distribution is a p_readout + (1 - a) P3 after
 * the window's last two tokens, with P3 from trigrams of the training
 * split; the old-format file serves p_readout. Returns max |mixed - old|. */
static double check_window(gs_dmodel_t *old, const gs_kn_t *kn, double a, const gs_str_t *turns,
                           size_t n_turns)
{
    const gs_vocab_t *v = gs_dmodel_vocab(fx.m);
    const uint32_t V = gs_vocab_size(v);
    uint32_t *ids = NULL;
    size_t n = 0, cap = 0;
    assert_int_equal(gs_vocab_encode_turns(v, turns, n_turns, &ids, &n, &cap), 0);
    float *pm = malloc(V * sizeof(float)), *po = malloc(V * sizeof(float));
    char err[256];
    assert_non_null(pm), assert_non_null(po);
    assert_int_equal(gs_dmodel_distribution(fx.m, ids, n, pm, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_dmodel_distribution(old, ids, n, po, err, sizeof(err)), GS_OK);
    uint32_t w2 = n ? ids[n - 1] : GS_KN_START, w1 = n >= 2 ? ids[n - 2] : GS_KN_START;
    double sum_m = 0, sum_o = 0, diff = 0;
    for (uint32_t x = 0; x < V; x++) {
        double want = a * po[x] + (1 - a) * gs_kn_prob(kn, w1, w2, x);
        if (!(pm[x] > 0) || fabs(pm[x] - want) > 1e-6)
            fail_msg("%zu turns, token %u: served %.9f, a p_readout + (1 - a) p_kn %.9f", n_turns,
                     x, pm[x], want);
        sum_m += pm[x], sum_o += po[x];
        diff = fmax(diff, fabs(pm[x] - po[x]));
    }
    if (fabs(sum_m - 1) > 1e-5 || fabs(sum_o - 1) > 1e-5)
        fail_msg("%zu turns: sums %.9f mixed, %.9f old", n_turns, sum_m, sum_o);
    if (n_turns) {
        assert_top_k_of(fx.m, turns, n_turns, pm);
        assert_top_k_of(old, turns, n_turns, po);
    }
    free(pm), free(po), free(ids);
    return diff;
}

/* dialogue.c's choice of a next token from a distribution p, replayed:
 * the top `sample` non-<unk> tokens (ties: lower id), then a draw with the
 * request's splitmix64 stream; the best one when not sampling. */
static uint32_t replay_choice(const float *p, uint32_t V, int sample, uint64_t *rng)
{
    uint32_t top[GS_DM_MAX_K];
    size_t k = sample > 0 ? (size_t)sample : 1, n = 0;
    for (uint32_t x = 1; x < V; x++) {
        if (n == k && p[x] <= p[top[k - 1]])
            continue;
        size_t i = n < k ? n++ : k - 1;
        for (; i > 0 && p[top[i - 1]] < p[x]; i--)
            top[i] = top[i - 1];
        top[i] = x;
    }
    if (n <= 1 || sample <= 0)
        return top[0];
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += p[top[i]];
    uint64_t z = (*rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    double r = (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0 * total;
    for (size_t i = 0; i < n; i++)
        if ((r -= p[top[i]]) <= 0)
            return top[i];
    return top[n - 1];
}

/* GENERATE draws every token from the mixed distribution of the growing
 * window (gs_dmodel_distribution of the window and the tokens so far):
 * the n-gram context moves with the generated tokens. Sampling among 20
 * makes every step's probabilities count, not only its best token. */
static void check_generation(const gs_str_t *turns, size_t n_turns, int sample, uint64_t seed)
{
    gs_dm_query_t q = query(turns, n_turns, GS_DM_GENERATE, 0);
    q.sample_top_k = sample, q.seed = seed;
    gs_dm_answer_t *a = calloc(1, sizeof(*a));
    char err[256];
    assert_non_null(a);
    assert_int_equal(gs_dmodel_run(fx.m, &q, 1, a, err, sizeof(err)), GS_OK);
    const gs_vocab_t *v = gs_dmodel_vocab(fx.m);
    const uint32_t V = gs_vocab_size(v);
    uint32_t *ids = NULL;
    size_t n = 0, cap = 0;
    gs_str_t gen = {a->text, a->text_len};
    assert_int_equal(gs_vocab_encode_turns(v, turns, n_turns, &ids, &n, &cap), 0);
    size_t window = n;
    if (a->tokens)
        assert_int_equal(gs_vocab_encode_turns(v, &gen, 1, &ids, &n, &cap), 0);
    else
        ids[n++] = GS_TOK_EOT;                           /* chose <eot> at once */
    assert_int_equal(n - window, (size_t)a->tokens + 1); /* the text's tokens and an <eot> */
    float *p = malloc(V * sizeof(float));
    assert_non_null(p);
    uint64_t rng = seed;
    /* the last <eot> was chosen too, unless max_tokens ended the text */
    size_t last = a->tokens < q.max_tokens ? n : n - 1;
    for (size_t i = window; i < last; i++) {
        assert_int_equal(gs_dmodel_distribution(fx.m, ids, i, p, err, sizeof(err)), GS_OK);
        uint32_t want = replay_choice(p, V, sample, &rng);
        if (want != ids[i])
            fail_msg("seed %llu: generated token %zu is %s, the distribution's choice %s",
                     (unsigned long long)seed, i - window, gs_vocab_token(v, ids[i]),
                     gs_vocab_token(v, want));
    }
    free(p), free(ids), free(a);
}

static void test_ngram_served(void **state)
{
    (void)state;
    json_t *r = json_loads(fx.report, 0, NULL);
    assert_non_null(r);
    const double a = metric(r, "model_kn_mix", "weight");
    print_message("n-gram mix: weight %.2f, perplexity %.4f (model %.4f, trigrams %.4f)\n", a,
                  metric(r, "model_kn_mix", "perplexity"), metric(r, "model", "perplexity"),
                  metric(r, "trigram_kn", "perplexity"));
    assert_true(gs_dmodel_ngram_weight(fx.m) == a);
    assert_true(a > 0 && a < 1); /* both parts count on this corpus */
    assert_true(metric(r, "model_kn_mix", "samples") == metric(r, "model", "samples"));
    json_decref(r);

    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/old.gsm", fx.dir);
    write_without_ngram(fx.model, path);
    gs_dmodel_t *old = NULL;
    assert_int_equal(gs_dmodel_load(path, &old, err, sizeof(err)), GS_OK);
    assert_true(gs_dmodel_ngram_weight(old) == 1);
    gs_kn_t *kn = training_split_kn(fx.corpus, gs_dmodel_vocab(fx.m));

    gs_str_t c1[] = {S("hello"), S("how are you?")};
    gs_str_t c2[] = {S("hey there"), S("hi"), S("what is your name?")};
    gs_str_t c3[] = {S("zebra quantum")}; /* all <unk> */
    gs_str_t c4[40];                      /* longer than the 128-token window */
    for (size_t i = 0; i < 40; i++)
        c4[i] = S(i % 2 ? "i am fine, thanks." : "how are you?");
    assert_true(check_window(old, kn, a, c1, 2) > 1e-3); /* the mix changes the answer */
    check_window(old, kn, a, c2, 3);
    check_window(old, kn, a, c3, 1);
    check_window(old, kn, a, c4, 39);
    check_window(old, kn, a, NULL, 0); /* no token: P1 */
    check_generation(c2, 3, 0, 1);
    for (uint64_t seed = 1; seed <= 40; seed++)
        check_generation(seed % 2 ? c1 : c2, seed % 2 ? 2 : 3, 20, seed);
    gs_kn_destroy(kn);
    gs_dmodel_destroy(old);
    unlink(path);
}

/* ---- the per-session state cache ------------------------------------------ */

/* Runs q on mc (cache on) and mo (cache off): the same answers, bit for bit. */
static void run_both(gs_dmodel_t *mc, gs_dmodel_t *mo, const gs_dm_query_t *q, size_t n)
{
    gs_dm_answer_t *ac = calloc(n, sizeof(*ac)), *ao = calloc(n, sizeof(*ao));
    assert_non_null(ac), assert_non_null(ao);
    char err[256];
    assert_int_equal(gs_dmodel_run(mc, q, n, ac, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_dmodel_run(mo, q, n, ao, err, sizeof(err)), GS_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ac[i].n_preds, ao[i].n_preds);
        for (size_t k = 0; k < ac[i].n_preds; k++) {
            assert_string_equal(ac[i].preds[k].token, ao[i].preds[k].token);
            if (memcmp(&ac[i].preds[k].probability, &ao[i].preds[k].probability, sizeof(double)))
                fail_msg("query %zu prediction %zu: %.17g with the cache, %.17g without", i, k,
                         ac[i].preds[k].probability, ao[i].preds[k].probability);
        }
        assert_int_equal(ac[i].tokens, ao[i].tokens);
        assert_string_equal(ac[i].text, ao[i].text);
    }
    free(ac), free(ao);
}

static gs_dm_query_t in_session(const gs_str_t *turns, size_t n, const char *session)
{
    gs_dm_query_t q = query(turns, n, GS_DM_TOP_K, 20);
    q.session = (gs_str_t){session, strlen(session)};
    return q;
}

/* Turns 1..n of one session, a request each carrying all turns so far,
 * through both models; the cache's statistics after them. */
static gs_dm_cache_stats_t replay_session(gs_dmodel_t *mc, gs_dmodel_t *mo, const gs_str_t *turns,
                                          size_t n, const char *session)
{
    for (size_t k = 1; k <= n; k++) {
        gs_dm_query_t q = in_session(turns, k, session);
        run_both(mc, mo, &q, 1);
    }
    gs_dm_cache_stats_t st;
    gs_dmodel_cache_stats(mc, &st);
    return st;
}

/* 40 turns of a conversation: past 128 tokens */
static void long_conversation(gs_str_t t[40])
{
    for (size_t i = 0; i < 40; i++)
        t[i] = S(i % 3 ? "i am fine, thanks." : "how are you?");
}

static void cache_pair_of(const char *path, gs_dmodel_t **mc, gs_dmodel_t **mo, size_t bytes)
{
    char err[256];
    assert_int_equal(gs_dmodel_load(path, mc, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_dmodel_load(path, mo, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_dmodel_set_cache(*mc, bytes, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_dmodel_set_cache(*mo, 0, err, sizeof(err)), GS_OK);
}

static void cache_pair(gs_dmodel_t **mc, gs_dmodel_t **mo, size_t bytes)
{
    cache_pair_of(fx.model, mc, mo, bytes);
}

static void test_cache_turn_by_turn(void **state)
{
    (void)state;
    gs_dmodel_t *mc, *mo;
    cache_pair(&mc, &mo, GS_DM_CACHE_DEFAULT_BYTES);
    gs_str_t a[] = {S("hi"),
                    S("hello"),
                    S("how are you?"),
                    S("i am fine, thanks."),
                    S("what is your name?"),
                    S("my name is sam.")};
    gs_dm_cache_stats_t st = replay_session(mc, mo, a, 6, "A");
    assert_int_equal(st.misses, 1), assert_int_equal(st.hits, 5);
    assert_int_equal(st.entries, 1);
    assert_true(st.tokens_saved > 20);
    /* edited turns: the prefix no longer matches, read again and replaced */
    gs_str_t e[] = {S("hi"), S("hey there"), S("how are you?")};
    gs_dm_query_t q = in_session(e, 3, "A");
    run_both(mc, mo, &q, 1);
    q = in_session(e, 3, "A"); /* the same window again: nothing left to read */
    run_both(mc, mo, &q, 1);
    gs_dmodel_cache_stats(mc, &st);
    assert_int_equal(st.misses, 2), assert_int_equal(st.hits, 6);
    /* two sessions interleaved in one batch, and one session twice in a
     * batch, with a GENERATE (the state is cached before generating) */
    gs_str_t b[] = {S("hey there"), S("hi"), S("do you like music?"),
                    S("yes, i like music a lot.")};
    for (size_t k = 1; k <= 3; k++) {
        gs_dm_query_t qs[4] = {in_session(a, k, "A2"), in_session(b, k, "B"),
                               in_session(b, k + 1, "B"), in_session(a, k + 1, "A2")};
        qs[1].op = GS_DM_GENERATE;
        qs[2].op = GS_DM_NEXT;
        run_both(mc, mo, qs, 4);
    }
    gs_dmodel_cache_stats(mc, &st);
    assert_true(st.hits >= 6 + 6);
    /* queries without a session are not cached */
    gs_dm_query_t none = query(a, 2, GS_DM_TOP_K, 5);
    run_both(mc, mo, &none, 1);
    gs_dm_cache_stats_t st2;
    gs_dmodel_cache_stats(mc, &st2);
    assert_int_equal(st2.hits + st2.misses, st.hits + st.misses);
    assert_true(gs_dmodel_cache_bytes(mc) > 0);
    assert_int_equal(gs_dmodel_cache_bytes(mo), 0);
    gs_dmodel_destroy(mc), gs_dmodel_destroy(mo);
}

/* A window past context_tokens slides: its start moves, so it misses, and
 * answers as without the cache. */
static void test_cache_long_window(void **state)
{
    (void)state;
    gs_dmodel_t *mc, *mo;
    cache_pair(&mc, &mo, GS_DM_CACHE_DEFAULT_BYTES);
    gs_str_t c[40];
    long_conversation(c);
    gs_dm_cache_stats_t st = replay_session(mc, mo, c, 40, "long");
    assert_int_equal(st.hits + st.misses, 40);
    assert_true(st.hits > 5 && st.misses > 5); /* hits while it fits, misses once it slides */
    gs_dmodel_destroy(mc), gs_dmodel_destroy(mo);
}

/* The bytes of a cache entry of a window of these turns (model.h; the
 * fixture's 64 units, uint16 ids). */
static size_t entry_bytes(const gs_str_t *turns, size_t n)
{
    uint32_t *ids = NULL;
    size_t len = 0, cap = 0;
    assert_int_equal(gs_vocab_encode_turns(gs_dmodel_vocab(fx.m), turns, n, &ids, &len, &cap), 0);
    free(ids);
    return (32 + 4 * 64 + 2 * len + 7) & ~(size_t)7;
}

/* The cache is bounded by bytes, entries of any length: the least recently
 * used ones make room, and one larger than the cache is not kept. */
static void test_cache_eviction(void **state)
{
    (void)state;
    gs_str_t a[] = {S("hi"), S("hello"), S("how are you?"), S("i am fine, thanks.")};
    size_t small = entry_bytes(a, 1), big = small;
    for (size_t s = 0; s < 2; s++)
        for (size_t k = 1; k <= 3; k++)
            big = entry_bytes(a + s, k) > big ? entry_bytes(a + s, k) : big;
    small = entry_bytes(a + 1, 1) < small ? entry_bytes(a + 1, 1) : small;
    /* room for two entries, not three: round robin over 3 sessions misses */
    gs_dmodel_t *mc, *mo;
    size_t budget = 2 * big + 8;
    assert_true(budget < 3 * small);
    cache_pair(&mc, &mo, budget);
    const char *sessions[] = {"X", "Y", "Z"};
    for (size_t k = 1; k <= 3; k++)
        for (size_t s = 0; s < 3; s++) {
            gs_dm_query_t q = in_session(a + s / 2, k, sessions[s]);
            run_both(mc, mo, &q, 1);
        }
    gs_dm_cache_stats_t st;
    gs_dmodel_cache_stats(mc, &st);
    assert_int_equal(st.hits, 0), assert_int_equal(st.misses, 9);
    assert_true(st.entries <= 2 && st.entries >= 1);
    assert_true(st.entry_bytes <= budget), assert_int_equal(st.capacity, budget);
    /* the slab and a power-of-two index above slab / (32 + 4 units) */
    size_t nb = 1;
    while (nb < (budget & ~(size_t)7) / (32 + 4 * 64) + 1)
        nb *= 2;
    assert_int_equal(gs_dmodel_cache_bytes(mc), (budget & ~(size_t)7) + 8 * nb);
    /* room for the two latest whatever the wrap wastes (3 of the largest):
     * two sessions alternating hit after their first query */
    char err[256];
    assert_int_equal(gs_dmodel_set_cache(mc, 3 * big, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_dmodel_cache_bytes(mc), 0); /* allocated on first use */
    for (size_t k = 1; k <= 3; k++)
        for (size_t s = 0; s < 2; s++) {
            gs_dm_query_t q = in_session(a, k, sessions[s]);
            run_both(mc, mo, &q, 1);
        }
    gs_dmodel_cache_stats(mc, &st);
    assert_int_equal(st.hits, 4), assert_int_equal(st.misses, 2);
    assert_int_equal(st.entries, 2);
    assert_int_equal(st.entry_bytes, 2 * entry_bytes(a, 3));
    /* many sessions through a small cache, windows of every length: the
     * same bits as without it, and never more than the budget */
    assert_int_equal(gs_dmodel_set_cache(mc, 7 * big + 40, err, sizeof(err)), GS_OK);
    for (size_t i = 0; i < 200; i++) {
        char name[16];
        snprintf(name, sizeof(name), "s%zu", i % 5); /* the ring wraps many times */
        gs_dm_query_t q = in_session(a + i % 5 % 2, 1 + (i / 5) % 3, name);
        run_both(mc, mo, &q, 1);
        gs_dmodel_cache_stats(mc, &st);
        assert_true(st.entry_bytes <= 7 * big + 40);
    }
    assert_true(st.hits > 0 && st.misses > 0);
    /* an entry larger than the whole cache is not kept */
    assert_int_equal(gs_dmodel_set_cache(mc, small - 8, err, sizeof(err)), GS_OK);
    st = replay_session(mc, mo, a, 3, "X");
    assert_int_equal(st.hits, 0), assert_int_equal(st.entries, 0);
    assert_int_equal(gs_dmodel_set_cache(mc, 0, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_dmodel_cache_bytes(mc), 0);
    assert_int_equal(gs_dmodel_set_cache(mc, GS_DM_CACHE_MAX + 1, err, sizeof(err)),
                     GS_ERR_INVALID_ARG);
    gs_dmodel_destroy(mc), gs_dmodel_destroy(mo);
}

/* The unit model's training configuration with another window. */
static gs_train_conf_t window_conf(uint32_t tokens, uint32_t step, size_t eval_tokens)
{
    gs_train_conf_t c;
    gs_train_conf_default(&c);
    c.vocab = 64, c.code_dims = 8, c.reservoir.units = 64, c.reservoir.input_nnz = 8;
    c.eval_tokens = eval_tokens, c.readout_rank = 0;
    c.context_tokens = tokens, c.context_step = step;
    return c;
}

/* Trains the unit model with that window into path (fx.dir/name); its report. */
static char *train_window(char path[128], const char *name, uint32_t tokens, uint32_t step,
                          size_t eval_tokens)
{
    char err[512], *rep = NULL;
    snprintf(path, 128, "%s/%s", fx.dir, name);
    gs_train_conf_t c = window_conf(tokens, step, eval_tokens);
    assert_int_equal(gs_train_dialogue(&c, fx.corpus, path, NULL, &rep, err, sizeof(err)), GS_OK);
    return rep;
}

/* 16 tokens, step 1: the report's windows, and the cache misses as it slides. */
static void window_sliding(const gs_str_t *t)
{
    char path[128], *rep = train_window(path, "ctx16.gsm", 16, 1, 5000);
    json_t *r = json_loads(rep, 0, NULL);
    assert_non_null(r);
    json_t *ctx = json_object_get(r, "context"), *w = json_object_get(ctx, "windows");
    assert_int_equal(json_integer_value(json_object_get(ctx, "context_tokens")), 16);
    /* the whole history is what the report's served mix measured */
    double full = metric(ctx, "full_history", "perplexity");
    assert_true(full == metric(r, "model_kn_mix", "perplexity"));
    /* no test conversation passes 128 tokens: the same as the whole history */
    json_t *w128 = json_object_get(w, "128"), *w16 = json_object_get(w, "served");
    assert_int_equal(json_integer_value(json_object_get(w16, "context_step")), 1);
    assert_int_equal(json_integer_value(json_object_get(w128, "positions_longer")), 0);
    assert_true(fabs(metric(w128, "all_positions", "perplexity") / full - 1) < 1e-12);
    /* past 16 tokens the window forgets: positions there, and a different
     * perplexity (the synthetic grammar's questions are within 16 tokens) */
    size_t longer = (size_t)json_integer_value(json_object_get(w16, "positions_longer"));
    assert_true(longer > 100);
    assert_true(metric(w16, "longer_window", "samples") == (double)longer);
    assert_true(metric(w16, "longer_full_history", "perplexity") !=
                metric(w16, "longer_window", "perplexity"));
    assert_true(metric(w16, "all_positions", "samples") == metric(r, "model_kn_mix", "samples"));
    json_decref(r), free(rep);

    gs_dmodel_t *mc, *mo;
    cache_pair_of(path, &mc, &mo, GS_DM_CACHE_DEFAULT_BYTES);
    assert_int_equal(gs_dmodel_context_tokens(mc), 16);
    assert_int_equal(gs_dmodel_context_tokens(fx.m), 128);
    gs_dm_cache_stats_t st = replay_session(mc, mo, t, 10, "short");
    assert_true(st.misses >= 8); /* slides from the third turn */
    gs_dmodel_destroy(mc), gs_dmodel_destroy(mo);
    unlink(path);
}

/* A bound of 1024 (its step is then 512): len tokens read from the start,
 * extended by the cache, and batched as alone past 128 tokens. */
static void window_from_start(const gs_str_t *t, size_t len)
{
    char path[128], err[512];
    free(train_window(path, "ctx1024.gsm", 1024, 0, 1000));
    gs_dmodel_t *mc, *mo;
    cache_pair_of(path, &mc, &mo, GS_DM_CACHE_DEFAULT_BYTES);
    assert_int_equal(gs_dmodel_context_tokens(mc), 1024);
    assert_int_equal(gs_dmodel_context_step(mc), 512);
    assert_int_equal(gs_dmodel_context_step(fx.m), 1);
    gs_dm_cache_stats_t st = replay_session(mc, mo, t, 40, "long");
    assert_int_equal(st.misses, 1), assert_int_equal(st.hits, 39);
    assert_int_equal(st.entry_bytes, (32 + 4 * 64 + 2 * len + 7) & ~(size_t)7);
    gs_dm_query_t q[3] = {query(t, 40, GS_DM_TOP_K, 5), query(t, 39, GS_DM_GENERATE, 0),
                          query(t, 2, GS_DM_NEXT, 1)};
    gs_dm_answer_t *batch = calloc(3, sizeof(*batch)), *alone = calloc(1, sizeof(*alone));
    assert_int_equal(gs_dmodel_run(mc, q, 3, batch, err, sizeof(err)), GS_OK);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(gs_dmodel_run(mc, &q[i], 1, alone, err, sizeof(err)), GS_OK);
        assert_same_answer(&batch[i], alone, i);
    }
    free(batch), free(alone);
    gs_dmodel_destroy(mc), gs_dmodel_destroy(mo);
    unlink(path);
}

/* A window whose start moves every 24 tokens past 48: the cache misses
 * only when it moves. */
static void window_stepped(const gs_str_t *t, size_t len)
{
    char path[128], err[512], *rep = train_window(path, "ctx48.gsm", 48, 24, 1000);
    json_t *r = json_loads(rep, 0, NULL);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r, "context"), "context_step")), 24);
    json_decref(r), free(rep);
    gs_dmodel_t *mc, *mo;
    cache_pair_of(path, &mc, &mo, GS_DM_CACHE_DEFAULT_BYTES);
    assert_int_equal(gs_dmodel_context_step(mc), 24);
    gs_dm_cache_stats_t st = replay_session(mc, mo, t, 40, "aligned");
    /* one miss per 24 tokens past 48, and the first */
    if (!(st.misses >= 2 && st.misses <= 2 + (len - 48) / 24 + 1 && st.hits >= 25))
        fail_msg("%zu tokens: %llu misses, %llu hits", len, (unsigned long long)st.misses,
                 (unsigned long long)st.hits);
    gs_dmodel_destroy(mc), gs_dmodel_destroy(mo);
    unlink(path);
    /* a step above the bound is refused */
    gs_train_conf_t c = window_conf(8, 9, 1000);
    assert_int_equal(gs_train_dialogue(&c, fx.corpus, path, NULL, &rep, err, sizeof(err)),
                     GS_ERR_INVALID_ARG);
}

/* A file's context_tokens bounds the window served: trained with 16 and
 * step 1, a window slides past 16 (and the cache misses); with a bound
 * of 1024, a 240-token conversation is read from its start and the cache
 * extends it turn by turn; with 48 and step 24, the start moves every 24
 * tokens and the cache misses only then. The report has the served mix
 * with the state from those windows against the whole history. */
static void test_context_window(void **state)
{
    (void)state;
    gs_train_conf_t c;
    gs_train_conf_default(&c);
    assert_int_equal(c.context_tokens, 256);
    gs_str_t t[40];
    long_conversation(t);
    uint32_t *ids = NULL;
    size_t len = 0, cap = 0; /* the vocabulary is the corpus's, whatever the window */
    assert_int_equal(gs_vocab_encode_turns(gs_dmodel_vocab(fx.m), t, 40, &ids, &len, &cap), 0);
    free(ids);
    assert_true(len > 128); /* past the old bound */
    window_sliding(t);
    /* under valgrind (a minute a model) the stepped window covers its paths */
    if (!RUNNING_ON_VALGRIND)
        window_from_start(t, len);
    window_stepped(t, len);
}

/* ---- the factorised readout ------------------------------------------------- */

static void test_lowrank(void **state)
{
    (void)state;
    char path[128], err[512], *rep = NULL;
    snprintf(path, sizeof(path), "%s/lowrank.gsm", fx.dir);
    gs_train_conf_t c;
    gs_train_conf_default(&c);
    c.vocab = 64, c.code_dims = 8, c.reservoir.units = 64, c.reservoir.input_nnz = 8;
    c.eval_tokens = 5000, c.readout_rank = 16;
    assert_int_equal(gs_train_dialogue(&c, fx.corpus, path, NULL, &rep, err, sizeof(err)), GS_OK);
    json_t *r = json_loads(rep, 0, NULL), *full = json_loads(fx.report, 0, NULL);
    assert_non_null(r), assert_non_null(full);
    assert_int_equal(json_integer_value(json_object_get(r, "readout_rank")), 16);
    json_t *lr = json_object_get(r, "low_rank");
    double mix16 = metric(lr, "16", "mix_perplexity_cost_vs_full_rank");
    double ppl16 = json_number_value(
        json_object_get(json_object_get(json_object_get(lr, "16"), "model_kn_mix"), "perplexity"));
    double full_mix = metric(r, "model_kn_mix", "perplexity");
    /* the same samples as the full readout's, which is unchanged */
    assert_true(full_mix == metric(full, "model_kn_mix", "perplexity"));
    assert_true(fabs(ppl16 / full_mix - 1 - mix16) < 1e-9);
    assert_true(ppl16 < metric(r, "bigram", "perplexity")); /* still a model */
    assert_non_null(json_object_get(lr, "32"));             /* the candidates below min(V, D) */
    assert_null(json_object_get(lr, "64"));
    json_decref(r), json_decref(full), free(rep);

    gs_modelfile_t *mf;
    assert_int_equal(gs_modelfile_open(path, &mf, err, sizeof(err)), GS_OK);
    const uint32_t V = gs_vocab_size(gs_dmodel_vocab(fx.m));
    assert_non_null(gs_modelfile_get(mf, "w_out_u", GS_DT_F32, V * 16, err, sizeof(err)));
    assert_non_null(gs_modelfile_get(mf, "w_out_p", GS_DT_F32, 16 * 73, err, sizeof(err)));
    assert_null(gs_modelfile_get(mf, "w_out", GS_DT_F32, 0, err, sizeof(err)));
    gs_modelfile_close(mf);
    gs_dmodel_t *m;
    assert_int_equal(gs_dmodel_load(path, &m, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_dmodel_readout_rank(m), 16);
    assert_int_equal(gs_dmodel_readout_rank(fx.m), 0);
    /* batched as alone, and a distribution */
    gs_str_t c1[] = {S("hi"), S("hello"), S("what is your name?")};
    gs_dm_query_t q[6];
    for (size_t i = 0; i < 6; i++)
        q[i] = query(c1, 1 + i % 3, i == 4 ? GS_DM_GENERATE : GS_DM_TOP_K, 5);
    gs_dm_answer_t *batch = calloc(6, sizeof(*batch)), *alone = calloc(1, sizeof(*alone));
    assert_int_equal(gs_dmodel_run(m, q, 6, batch, err, sizeof(err)), GS_OK);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(gs_dmodel_run(m, &q[i], 1, alone, err, sizeof(err)), GS_OK);
        assert_same_answer(&batch[i], alone, i);
    }
    int my = 0; /* the rank-16 readout still knows the answer's first word */
    for (size_t k = 0; k < batch[2].n_preds; k++)
        my |= !strcmp(batch[2].preds[k].token, "my");
    assert_true(my);
    float *p = malloc(V * sizeof(float));
    uint32_t ids[] = {2, 3, 4};
    assert_int_equal(gs_dmodel_distribution(m, ids, 3, p, err, sizeof(err)), GS_OK);
    double sum = 0;
    for (uint32_t i = 0; i < V; i++)
        sum += p[i];
    assert_true(fabs(sum - 1) < 1e-4);
    free(batch), free(alone), free(p);
    gs_dmodel_destroy(m);
    unlink(path);
}

/* ---- model-file corruption ---------------------------------------------- */

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    rewind(fp);
    unsigned char *b = malloc(*len);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, *len, fp), *len);
    fclose(fp);
    return b;
}

/* Writes len bytes of b (with byte `at` xor-ed by `flip` when at < len) and
 * expects both the file check and the model load to refuse it with `why`. */
static void expect_refused(const unsigned char *b, size_t len, size_t at, unsigned char flip,
                           const char *why)
{
    char path[128], err[512];
    snprintf(path, sizeof(path), "%s/bad.gsm", fx.dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(b, 1, len, fp), len);
    if (at < len) {
        fseek(fp, (long)at, SEEK_SET);
        fputc(b[at] ^ flip, fp);
    }
    fclose(fp);
    gs_modelfile_t *mf = NULL;
    gs_dmodel_t *m = NULL;
    gs_err_t e1 = gs_modelfile_open(path, &mf, err, sizeof(err));
    if (!e1)
        fail_msg("accepted (%s): %zu bytes, byte %zu ^ %02x", why, len, at, flip);
    assert_contains(err, why);
    assert_int_equal(gs_dmodel_load(path, &m, err, sizeof(err)), e1);
    assert_contains(err, why);
    assert_null(mf), assert_null(m);
    unlink(path);
}

static void test_corruption(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = slurp(fx.model, &len);
    char err[256];
    gs_modelfile_t *mf;
    assert_int_equal(gs_modelfile_open(fx.model, &mf, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_modelfile_size(mf), len);
    assert_int_equal(gs_modelfile_kind(mf), GS_MODEL_KIND_DIALOGUE);
    const gs_tensor_t *w_out = gs_modelfile_get(mf, "w_out", GS_DT_F32, 0, err, sizeof(err));
    const gs_tensor_t *last = gs_modelfile_at(mf, gs_modelfile_count(mf) - 1);
    assert_non_null(w_out);
    assert_null(gs_modelfile_get(mf, "nope", GS_DT_F32, 0, err, sizeof(err)));
    assert_contains(err, "missing");
    assert_null(gs_modelfile_get(mf, "w_out", GS_DT_U32, 0, err, sizeof(err)));
    /* the data is in place: 64-byte aligned offsets into the mapped file */
    for (size_t i = 0; i < gs_modelfile_count(mf); i++)
        assert_int_equal(gs_modelfile_at(mf, i)->offset % 64, 0);
    size_t meta_len = strlen(gs_modelfile_meta(mf));
    size_t table = (24 + meta_len + 7) / 8 * 8;
    size_t w_out_at = (size_t)w_out->offset, w_out_bytes = (size_t)w_out->nbytes;
    size_t data_end = (size_t)(last->offset + last->nbytes);
    gs_modelfile_close(mf);
    assert_int_equal(data_end + 32, len);

    expect_refused(b, 0, SIZE_MAX, 0, "truncated");
    expect_refused(b, 40, SIZE_MAX, 0, "truncated");
    expect_refused(b, table + 10, SIZE_MAX, 0, "truncated");
    expect_refused(b, len / 2, SIZE_MAX, 0, "truncated");
    expect_refused(b, len - 1, SIZE_MAX, 0, "truncated");
    expect_refused(b, len, 0, 0x01, "bad magic");
    expect_refused(b, len, 8, 0x03, "format version 2, this build reads 1");
    expect_refused(b, len, 24 + meta_len / 2, 0x20, "SHA-256 mismatch"); /* metadata */
    expect_refused(b, len, table + 88, 0x01, "CRC32C mismatch");         /* a stored CRC */
    expect_refused(b, len, table + 36, 0x07, "corrupt table entry");     /* ndim */
    expect_refused(b, len, w_out_at + w_out_bytes / 2, 0x10, "tensor w_out: CRC32C mismatch");
    expect_refused(b, len, len - 5, 0x80, "SHA-256 mismatch"); /* trailer */
    /* every single-bit flip is caught, wherever it is: a sample of them */
    rng_seed(77);
    for (int i = 0; i < 300; i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/flip.gsm", fx.dir);
        size_t at = rng_below((uint32_t)len);
        unsigned char bit = (unsigned char)(1u << rng_below(8));
        b[at] ^= bit;
        FILE *fp = fopen(path, "wb");
        assert_non_null(fp);
        fwrite(b, 1, len, fp);
        fclose(fp);
        b[at] ^= bit;
        if (!gs_modelfile_open(path, &mf, err, sizeof(err)))
            fail_msg("flip of byte %zu bit %02x accepted", at, bit);
        unlink(path);
    }
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenize),        cmocka_unit_test(test_vocab),
        cmocka_unit_test(test_spectral_radius), cmocka_unit_test(test_step_reference),
        cmocka_unit_test(test_vmath),           cmocka_unit_test(test_kn_discounts),
        cmocka_unit_test(test_kn_tiny),         cmocka_unit_test(test_kn_random),
        cmocka_unit_test(test_kn_load),
    };
    const struct CMUnitTest trained[] = {
        cmocka_unit_test(test_training_report),
        cmocka_unit_test(test_batched_equals_single),
        cmocka_unit_test(test_distribution),
        cmocka_unit_test(test_ngram_served),
        cmocka_unit_test(test_cache_turn_by_turn),
        cmocka_unit_test(test_cache_long_window),
        cmocka_unit_test(test_cache_eviction),
        cmocka_unit_test(test_context_window),
        cmocka_unit_test(test_lowrank),
        cmocka_unit_test(test_corruption),
    };
    /* GS_TEST_FILTER=test_name (or a glob) runs one test */
    if (getenv("GS_TEST_FILTER"))
        cmocka_set_test_filter(getenv("GS_TEST_FILTER"));
    int failed = cmocka_run_group_tests_name("model", tests, NULL, NULL);
    return failed +
           cmocka_run_group_tests_name("trained model", trained, model_setup, model_teardown);
}
