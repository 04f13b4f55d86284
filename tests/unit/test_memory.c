/* Unit tests of the governance memory (SPEC 3.4) and the quality gate (SPEC
 * 3.5): text embedding, PELM, synaptic memory and gs_quality_check, each
 * against an independent reference (double precision where it computes).
 * Property tests use fixed seeds and print the seed and iteration when they
 * fail. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/govern.h"
#include "govstream/memory.h"

#define DIM GS_EMBED_DIM

/* ---- fixture: what a test allocates is freed even when it fails --------- */

#define FX_MAX 32

typedef struct fx {
    void *mem[FX_MAX];
    size_t n_mem;
    gs_pelm_t *pelm[FX_MAX];
    size_t n_pelm;
    gs_synaptic_t syn[4];
    size_t n_syn;
} fx_t;

static int fx_setup(void **state)
{
    *state = calloc(1, sizeof(fx_t));
    return *state ? 0 : -1;
}

static int fx_teardown(void **state)
{
    fx_t *f = *state;
    for (size_t i = 0; i < f->n_mem; i++)
        free(f->mem[i]);
    for (size_t i = 0; i < f->n_pelm; i++)
        gs_pelm_destroy(f->pelm[i]);
    for (size_t i = 0; i < f->n_syn; i++)
        gs_synaptic_free(&f->syn[i]);
    free(f);
    return 0;
}

static void *fx_alloc(fx_t *f, size_t bytes)
{
    assert_true(f->n_mem < FX_MAX);
    void *p = calloc(1, bytes ? bytes : 1);
    assert_non_null(p);
    f->mem[f->n_mem++] = p;
    return p;
}

static gs_pelm_t *fx_pelm(fx_t *f, size_t dim, size_t capacity)
{
    char err[256] = "";
    gs_pelm_t *p = NULL;
    assert_true(f->n_pelm < FX_MAX);
    if (gs_pelm_new(dim, capacity, &p, err, sizeof(err)))
        fail_msg("gs_pelm_new(%zu, %zu): %s", dim, capacity, err);
    f->pelm[f->n_pelm++] = p;
    return p;
}

static gs_synaptic_t *fx_syn(fx_t *f, size_t dim)
{
    assert_true(f->n_syn < 4);
    gs_synaptic_t *s = &f->syn[f->n_syn];
    assert_int_equal(gs_synaptic_init(s, dim), GS_OK);
    f->n_syn++;
    return s;
}

static gs_str_t S(const char *s)
{
    return (gs_str_t){s, strlen(s)};
}

/* Roughly Gaussian, mean 0, from the test rng (no libm involved). */
static float gauss(void)
{
    return (float)(rng_unit() + rng_unit() + rng_unit() + rng_unit() - 2.0);
}

static void random_vec(float *v, size_t dim)
{
    for (size_t i = 0; i < dim; i++)
        v[i] = gauss();
}

static double dnorm(const float *v, size_t dim)
{
    double s = 0;
    for (size_t i = 0; i < dim; i++)
        s += (double)v[i] * v[i];
    return sqrt(s);
}

static double ddot(const float *a, const float *b, size_t dim)
{
    double s = 0;
    for (size_t i = 0; i < dim; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* ==== embedding =============================================================
 * Independent reference of embed.c's documented rule: unigram hash = FNV-1a
 * 64 of the lower-cased word bytes, dimension h % 384, sign - when the top
 * bit is set; bigram hash = FNV-1a continued from (prev ^ 0x1F) * prime over
 * the second word; then L2 normalisation. */

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME  1099511628211ull

static uint64_t ref_fnv(uint64_t h, const char *w)
{
    for (const unsigned char *p = (const unsigned char *)w; *p; p++) {
        unsigned c = *p;
        if (c >= 'A' && c <= 'Z')
            c += 'a' - 'A';
        h = (h ^ c) * FNV_PRIME;
    }
    return h;
}

static void ref_add(double *counts, uint64_t h)
{
    counts[h % DIM] += (h >> 63) ? -1.0 : 1.0;
}

#define REF_MAX_WORDS 32

/* The words of one text as the embedding must see them. */
typedef struct ref_text {
    const char *words[REF_MAX_WORDS];
    size_t n;
} ref_text_t;

/* Feature counts of texts (bigrams only inside one text); returns the
 * sum of squares. */
static double ref_features(const ref_text_t *texts, size_t n_texts, double *counts)
{
    memset(counts, 0, DIM * sizeof(double));
    for (size_t t = 0; t < n_texts; t++) {
        uint64_t prev = 0;
        for (size_t w = 0; w < texts[t].n; w++) {
            uint64_t h = ref_fnv(FNV_OFFSET, texts[t].words[w]);
            ref_add(counts, h);
            if (w > 0)
                ref_add(counts, ref_fnv((prev ^ 0x1F) * FNV_PRIME, texts[t].words[w]));
            prev = h;
        }
    }
    double sum = 0;
    for (size_t i = 0; i < DIM; i++)
        sum += counts[i] * counts[i];
    return sum;
}

/* Compares the library's embedding (and returned norm) with the reference
 * features; what names the case in a failure. */
static void check_embedding(const char *what, const float *out, float norm, const double *counts,
                            double sumsq)
{
    double rnorm = sqrt(sumsq);
    if (sumsq == 0) {
        if (norm != 0.0f)
            fail_msg("%s: returned norm %.9g, expected 0 (no words)", what, (double)norm);
        for (size_t i = 0; i < DIM; i++)
            if (out[i] != 0.0f)
                fail_msg("%s: out[%zu] = %.9g, expected 0", what, i, (double)out[i]);
        return;
    }
    if (!(fabs((double)norm - rnorm) <= rnorm * 1.2e-7))
        fail_msg("%s: returned norm %.9g, expected %.9g", what, (double)norm, rnorm);
    double sum = 0;
    for (size_t i = 0; i < DIM; i++) {
        double want = counts[i] / rnorm;
        if (!(fabs((double)out[i] - want) <= 1e-7))
            fail_msg("%s: out[%zu] = %.9g, expected %.9g (count %g, norm %.9g)", what, i,
                     (double)out[i], want, counts[i], rnorm);
        if (counts[i] == 0 && out[i] != 0.0f)
            fail_msg("%s: out[%zu] = %.9g, expected exactly 0", what, i, (double)out[i]);
        sum += (double)out[i] * out[i];
    }
    if (!(fabs(sqrt(sum) - 1.0) <= 1e-6))
        fail_msg("%s: L2 norm of the output is %.12g, expected 1", what, sqrt(sum));
}

static float embed1(const char *text, float *out)
{
    gs_str_t s = S(text);
    return gs_embed(&s, 1, out);
}

static double cosine(const float *a, const float *b)
{
    return ddot(a, b, DIM) / (dnorm(a, DIM) * dnorm(b, DIM));
}

static void test_embed_deterministic_and_normalised(void **state)
{
    (void)state;
    const char *texts[] = {"hello world",
                           "a",
                           "The quick brown fox jumps over the lazy dog",
                           "don't stop me now",
                           "café naïve straße 日本 42 x1",
                           "word word word word"};
    for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
        float a[DIM], b[DIM];
        memset(b, 0xA5, sizeof(b)); /* garbage: every element must be written */
        float na = embed1(texts[t], a), nb = embed1(texts[t], b);
        if (memcmp(a, b, sizeof(a)) || na != nb)
            fail_msg("\"%s\": two embeddings differ", texts[t]);
        if (!(na > 0))
            fail_msg("\"%s\": returned norm %.9g, expected > 0", texts[t], (double)na);
        double n = dnorm(a, DIM);
        if (!(fabs(n - 1.0) <= 1e-6))
            fail_msg("\"%s\": |out| = %.12g, expected 1 within 1e-6", texts[t], n);
    }
    /* "word word word word": one unigram feature 4 times, one bigram 3 times */
    float out[DIM];
    float n = embed1("word word word word", out);
    ref_text_t r = {{"word", "word", "word", "word"}, 4};
    double counts[DIM];
    double sumsq = ref_features(&r, 1, counts);
    assert_true(sumsq == 25 || sumsq == 49 || sumsq == 1);
    check_embedding("word word word word", out, n, counts, sumsq);
}

static void test_embed_empty(void **state)
{
    (void)state;
    const char *texts[] = {"",         "!!! ...",   " \t\n",      ",;:-()[]{}<>\"/\\?!",
                           "'' ' '''", "“” — … «»", "、。，！？", "¿¡ §¶ ·"};
    float out[DIM];
    for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
        for (size_t i = 0; i < DIM; i++)
            out[i] = 1.0f;
        float n = embed1(texts[t], out);
        if (n != 0.0f)
            fail_msg("\"%s\": returned %.9g, expected 0", texts[t], (double)n);
        for (size_t i = 0; i < DIM; i++)
            if (out[i] != 0.0f)
                fail_msg("\"%s\": out[%zu] = %.9g, expected exactly 0", texts[t], i,
                         (double)out[i]);
    }
    for (size_t i = 0; i < DIM; i++)
        out[i] = -3.0f;
    gs_str_t none = S("ignored");
    assert_true(gs_embed(&none, 0, out) == 0.0f);
    for (size_t i = 0; i < DIM; i++)
        if (out[i] != 0.0f)
            fail_msg("n_texts=0: out[%zu] = %.9g, expected exactly 0", i, (double)out[i]);
    gs_str_t two[2] = {S(""), S("?!")};
    for (size_t i = 0; i < DIM; i++)
        out[i] = 2.0f;
    assert_true(gs_embed(two, 2, out) == 0.0f);
    for (size_t i = 0; i < DIM; i++)
        assert_true(out[i] == 0.0f);
}

static void assert_same_embedding(const char *x, const char *y)
{
    float a[DIM], b[DIM];
    float na = embed1(x, a), nb = embed1(y, b);
    if (memcmp(a, b, sizeof(a)) || na != nb)
        fail_msg("\"%s\" and \"%s\" must embed identically (cosine %.9g)", x, y, cosine(a, b));
}

static void test_embed_case_and_punctuation(void **state)
{
    (void)state;
    assert_same_embedding("Hello World", "hello world");
    assert_same_embedding("HELLO wOrLd", "hello world");
    assert_same_embedding("hello, world!", "hello world");
    assert_same_embedding("“hello” world", "hello world");
    assert_same_embedding("\"Hello\" — WORLD…", "hello world");
    assert_same_embedding("'hello' (world)", "hello world");
    assert_same_embedding("hello—world", "hello world");
    assert_same_embedding("«hello»，world。", "hello world");
    assert_same_embedding("  hello\t\n\nworld  ", "hello world");
    /* inner apostrophes belong to the word, non-ASCII letters are not
     * separators and are not case-folded */
    assert_same_embedding("DON'T Stop", "don't stop");
    assert_same_embedding("CAFé", "café");
    float a[DIM], b[DIM];
    embed1("dont", a);
    embed1("don't", b);
    if (!memcmp(a, b, sizeof(a)))
        fail_msg("\"dont\" and \"don't\" must differ (the apostrophe is part of the word)");
    embed1("café", a);
    embed1("caf", b);
    if (!memcmp(a, b, sizeof(a)))
        fail_msg("\"café\" and \"caf\" must differ (é is a letter)");
}

static void test_embed_word_order(void **state)
{
    (void)state;
    float a[DIM], b[DIM], u[DIM];
    embed1("dog bites man", a);
    embed1("man bites dog", b);
    if (!memcmp(a, b, sizeof(a)))
        fail_msg("\"dog bites man\" and \"man bites dog\" must differ (bigrams)");
    double c = cosine(a, b);
    if (!(c > 0 && c < 1))
        fail_msg("cosine(dog bites man, man bites dog) = %.12g, expected in (0, 1)", c);
    /* the unigram part alone is the same: three texts of one word each */
    gs_str_t w1[3] = {S("dog"), S("bites"), S("man")}, w2[3] = {S("man"), S("bites"), S("dog")};
    gs_embed(w1, 3, u);
    gs_embed(w2, 3, b);
    assert_memory_equal(u, b, sizeof(u));
    /* and the exact value of the cosine follows from the reference */
    ref_text_t r1 = {{"dog", "bites", "man"}, 3}, r2 = {{"man", "bites", "dog"}, 3};
    double c1[DIM], c2[DIM];
    double s1 = ref_features(&r1, 1, c1), s2 = ref_features(&r2, 1, c2), d = 0;
    for (size_t i = 0; i < DIM; i++)
        d += c1[i] * c2[i];
    double want = d / sqrt(s1 * s2);
    if (!(fabs(c - want) <= 1e-6))
        fail_msg("cosine %.12g, reference %.12g", c, want);
}

static void test_embed_text_boundary(void **state)
{
    (void)state;
    float two[DIM], one[DIM];
    gs_str_t ab[2] = {S("a"), S("b")};
    float n2 = gs_embed(ab, 2, two);
    embed1("a b", one);
    if (!memcmp(two, one, sizeof(one)))
        fail_msg("{\"a\",\"b\"} must differ from \"a b\": a bigram never spans two texts");
    ref_text_t r[2] = {{{"a"}, 1}, {{"b"}, 1}};
    double counts[DIM];
    double sumsq = ref_features(r, 2, counts);
    check_embedding("{\"a\",\"b\"}", two, n2, counts, sumsq);
    /* pure unigram sum: u(a) + u(b), written out independently */
    double manual[DIM] = {0};
    ref_add(manual, ref_fnv(FNV_OFFSET, "a"));
    ref_add(manual, ref_fnv(FNV_OFFSET, "b"));
    assert_memory_equal(manual, counts, sizeof(manual));
    /* empty texts around do not change anything */
    gs_str_t padded[4] = {S(""), S("a b"), S("..."), S("")};
    float p[DIM];
    gs_embed(padded, 4, p);
    assert_memory_equal(p, one, sizeof(p));
}

/* Vocabulary (canonical, lower-cased) and separators for random texts. */
static const char *const vocab[] = {
    "the",   "dog",    "bites",       "man",    "hello", "world", "don't", "o'brien", "café",
    "naïve", "straße", "x1",          "42",     "2024",  "a",     "i",     "über",    "日本",
    "kafka", "stream", "rock'n'roll", "memory", "phase", "sleep", "wake",  "zz9"};
static const char *const seps[] = {" ",   ", ", "! ", "? ", " — ", "—",  "…",   "\t",  "\n",
                                   " - ", "、", "。", "，", "; ",  ": ", "...", " / ", " «"};
static const char *const quotes[][2] = {{"'", "'"},   {"“", "”"}, {"«", "»"},
                                        {"\"", "\""}, {"(", ")"}, {"‘", "’"}};

#define NV (sizeof(vocab) / sizeof(vocab[0]))

static void append(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);
    assert_true(*len + n < cap);
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = 0;
}

/* A random text over vocab; r gets its words. */
static void random_text(char *buf, size_t cap, ref_text_t *r)
{
    size_t len = 0, nw = rng_below(9);
    buf[0] = 0;
    r->n = 0;
    if (rng_below(3) == 0)
        append(buf, cap, &len, seps[rng_below(sizeof(seps) / sizeof(seps[0]))]);
    for (size_t w = 0; w < nw; w++) {
        if (w)
            append(buf, cap, &len, seps[rng_below(sizeof(seps) / sizeof(seps[0]))]);
        const char *canon = vocab[rng_below(NV)];
        char form[64];
        size_t fl = strlen(canon);
        assert_true(fl < sizeof(form));
        for (size_t i = 0; i <= fl; i++) { /* random ASCII case */
            char c = canon[i];
            form[i] = (c >= 'a' && c <= 'z' && rng_below(2)) ? (char)(c - 'a' + 'A') : c;
        }
        int q = rng_below(6) == 0 ? (int)rng_below(sizeof(quotes) / sizeof(quotes[0])) : -1;
        if (q >= 0)
            append(buf, cap, &len, quotes[q][0]);
        append(buf, cap, &len, form);
        if (q >= 0)
            append(buf, cap, &len, quotes[q][1]);
        r->words[r->n++] = canon;
    }
    if (rng_below(3) == 0)
        append(buf, cap, &len, seps[rng_below(sizeof(seps) / sizeof(seps[0]))]);
}

static void test_embed_matches_reference(void **state)
{
    (void)state;
    const uint64_t seed = 0xE5BEDull;
    rng_seed(seed);
    char bufs[3][512];
    for (int it = 0; it < 200; it++) {
        size_t n_texts = 1 + rng_below(3);
        ref_text_t r[3];
        gs_str_t texts[3];
        for (size_t t = 0; t < n_texts; t++) {
            random_text(bufs[t], sizeof(bufs[t]), &r[t]);
            texts[t] = S(bufs[t]);
        }
        float out[DIM];
        float norm = gs_embed(texts, n_texts, out);
        double counts[DIM];
        double sumsq = ref_features(r, n_texts, counts);
        char what[1800];
        snprintf(what, sizeof(what), "seed %#llx iteration %d, texts [\"%s\"%s%s%s%s%s]",
                 (unsigned long long)seed, it, bufs[0], n_texts > 1 ? ", \"" : "",
                 n_texts > 1 ? bufs[1] : "", n_texts > 1 ? "\"" : "", n_texts > 2 ? ", \"" : "",
                 n_texts > 2 ? bufs[2] : "");
        check_embedding(what, out, norm, counts, sumsq);
    }
}

/* ==== PELM ================================================================= */

static void test_pelm_new_args(void **state)
{
    (void)state;
    gs_pelm_t *p = NULL;
    char err[128] = "";
    assert_int_equal(gs_pelm_new(0, 10, &p, err, sizeof(err)), GS_ERR_INVALID_ARG);
    assert_int_equal(gs_pelm_new(DIM, 0, &p, err, sizeof(err)), GS_ERR_INVALID_ARG);
    assert_null(p);
    assert_int_equal(gs_pelm_new(DIM, 5, &p, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_pelm_dim(p), DIM);
    assert_int_equal(gs_pelm_capacity(p), 5);
    assert_int_equal(gs_pelm_size(p), 0);
    assert_int_equal(gs_pelm_next_slot(p), 0);
    gs_pelm_destroy(p);
    gs_pelm_destroy(NULL);
}

static void test_pelm_insert_validation(void **state)
{
    fx_t *f = *state;
    gs_pelm_t *p = fx_pelm(f, DIM, 10);
    float v[DIM], bad[DIM], zero[DIM] = {0};
    rng_seed(11);
    random_vec(v, DIM);
    struct {
        const char *what;
        const float *vec;
        float phase, conf;
    } refused[] = {
        {"confidence 0.4999", v, 0.1f, 0.4999f},
        {"confidence just below 0.5", v, 0.1f, nextafterf(0.5f, 0.0f)},
        {"confidence 0", v, 0.1f, 0.0f},
        {"confidence NaN", v, 0.1f, NAN},
        {"confidence -1", v, 0.1f, -1.0f},
        {"phase -0.0001", v, -0.0001f, 0.8f},
        {"phase 1.0001", v, 1.0001f, 0.8f},
        {"phase NaN", v, NAN, 0.8f},
        {"phase -inf", v, -INFINITY, 0.8f},
        {"phase +inf", v, INFINITY, 0.8f},
        {"zero vector", zero, 0.1f, 0.8f},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        uint32_t slot = 12345;
        gs_err_t e = gs_pelm_insert(p, refused[i].vec, refused[i].phase, refused[i].conf, &slot);
        if (e != GS_ERR_VALIDATION)
            fail_msg("%s: got %d, expected GS_ERR_VALIDATION", refused[i].what, (int)e);
        assert_int_equal(gs_pelm_size(p), 0);
    }
    const float specials[] = {NAN, INFINITY, -INFINITY};
    const size_t where[] = {0, 17, DIM - 1};
    for (size_t s = 0; s < 3; s++)
        for (size_t w = 0; w < 3; w++) {
            memcpy(bad, v, sizeof(bad));
            bad[where[w]] = specials[s];
            gs_err_t e = gs_pelm_insert(p, bad, 0.1f, 0.8f, NULL);
            if (e != GS_ERR_VALIDATION)
                fail_msg("vector with %g at [%zu]: got %d, expected GS_ERR_VALIDATION",
                         (double)specials[s], where[w], (int)e);
            assert_int_equal(gs_pelm_size(p), 0);
        }
    /* the edges are accepted */
    uint32_t slot = 99;
    assert_int_equal(gs_pelm_insert(p, v, 0.1f, 0.5f, &slot), GS_OK);
    assert_int_equal(slot, 0);
    assert_int_equal(gs_pelm_insert(p, v, 0.9f, 1.0f, &slot), GS_OK);
    assert_int_equal(slot, 1);
    assert_int_equal(gs_pelm_insert(p, v, 0.0f, 0.75f, NULL), GS_OK);
    assert_int_equal(gs_pelm_insert(p, v, 1.0f, 0.75f, &slot), GS_OK);
    assert_int_equal(slot, 3);
    assert_int_equal(gs_pelm_size(p), 4);
    assert_true(gs_pelm_confidence(p, 0) == 0.5f);
    assert_true(gs_pelm_confidence(p, 1) == 1.0f);
    assert_true(gs_pelm_phase(p, 0) == 0.1f);
    assert_true(gs_pelm_phase(p, 1) == 0.9f);
    assert_true(gs_pelm_phase(p, 2) == 0.0f);
    assert_true(gs_pelm_phase(p, 3) == 1.0f);
}

/* Vectors of any finite non-zero magnitude: either refused or stored as a
 * unit vector with its finite norm ("any norm > 0"). */
static void test_pelm_extreme_magnitudes(void **state)
{
    fx_t *f = *state;
    gs_pelm_t *p = fx_pelm(f, DIM, 10);
    float big[DIM] = {0}, tiny[DIM] = {0};
    big[0] = big[1] = 3e38f; /* norm 4.2e38 > FLT_MAX */
    tiny[5] = 1e-40f;        /* subnormal norm: 1/norm overflows */
    const struct {
        const char *what;
        const float *vec;
    } cases[] = {{"two elements of 3e38", big}, {"one element of 1e-40", tiny}};
    char msg[1024] = "";
    size_t len = 0;
    for (size_t c = 0; c < 2; c++) {
        uint32_t slot = 0;
        gs_err_t e = gs_pelm_insert(p, cases[c].vec, 0.1f, 0.8f, &slot);
        if (e == GS_ERR_VALIDATION)
            continue;
        if (e != GS_OK)
            fail_msg("%s: got %d", cases[c].what, (int)e);
        const float *row = gs_pelm_vector(p, slot);
        double n = 0;
        int finite = 1;
        for (size_t i = 0; i < DIM; i++) {
            finite &= isfinite(row[i]) != 0;
            n += (double)row[i] * row[i];
        }
        if (!finite || !(fabs(sqrt(n) - 1.0) <= 1e-6) || !isfinite(gs_pelm_norm(p, slot)))
            len += (size_t)snprintf(msg + len, sizeof(msg) - len,
                                    "%s: accepted (GS_OK), but the stored row has |row| = %.9g "
                                    "(all elements finite: %s) and norm %.9g; expected a unit "
                                    "row with a finite norm, or GS_ERR_VALIDATION. ",
                                    cases[c].what, sqrt(n), finite ? "yes" : "no",
                                    (double)gs_pelm_norm(p, slot));
    }
    if (len)
        fail_msg("%s", msg);
}

static void test_pelm_fifo(void **state)
{
    fx_t *f = *state;
    enum { CAP = 7, N = 20 };
    gs_pelm_t *p = fx_pelm(f, DIM, CAP);
    float *orig = fx_alloc(f, (size_t)N * DIM * sizeof(float));
    float phase[N], conf[N];
    rng_seed(0xF1F0);
    for (uint32_t i = 0; i < N; i++) {
        random_vec(orig + (size_t)i * DIM, DIM);
        for (size_t d = 0; d < DIM; d++)
            orig[(size_t)i * DIM + d] *= (float)(1 + i); /* distinct norms */
        phase[i] = (float)rng_unit();
        conf[i] = 0.5f + (float)rng_unit() * 0.5f;
        uint32_t predicted = gs_pelm_next_slot(p), slot = 999;
        if (predicted != i % CAP)
            fail_msg("insert %u: next_slot %u, expected %u", i, predicted, i % CAP);
        assert_int_equal(gs_pelm_insert(p, orig + (size_t)i * DIM, phase[i], conf[i], &slot),
                         GS_OK);
        if (slot != predicted)
            fail_msg("insert %u: written to slot %u, next_slot said %u", i, slot, predicted);
        size_t size = i + 1 < CAP ? i + 1 : CAP;
        assert_int_equal(gs_pelm_size(p), size);
        assert_int_equal(gs_pelm_next_slot(p), (i + 1) % CAP);
        /* slot s holds the last vector j <= i with j % CAP == s */
        for (uint32_t s = 0; s < size; s++) {
            uint32_t j = i - ((i - s) % CAP);
            const float *want = orig + (size_t)j * DIM, *got = gs_pelm_vector(p, s);
            double n = dnorm(want, DIM);
            for (size_t d = 0; d < DIM; d++)
                if (!(fabs((double)got[d] - want[d] / n) <= 1e-6))
                    fail_msg("after insert %u: slot %u [%zu] = %.9g, expected vector %u: %.9g", i,
                             s, d, (double)got[d], j, want[d] / n);
            if (!(fabs((double)gs_pelm_norm(p, s) - n) <= n * 1e-6))
                fail_msg("after insert %u: slot %u norm %.9g, expected %.9g", i, s,
                         (double)gs_pelm_norm(p, s), n);
            if (gs_pelm_phase(p, s) != phase[j] || gs_pelm_confidence(p, s) != conf[j])
                fail_msg("after insert %u: slot %u phase/confidence of vector %u expected", i, s,
                         j);
        }
    }
}

static void test_pelm_bytes(void **state)
{
    fx_t *f = *state;
    const size_t row = (DIM + 3) * sizeof(float) + GS_MEMORY_ID_MAX + 1;
    gs_pelm_t *p = fx_pelm(f, DIM, 1000);
    size_t obj = gs_pelm_bytes(p); /* empty: the object alone */
    assert_int_equal(obj, gs_pelm_bytes_full(DIM, 0));
    assert_true(obj > 0 && obj < 4096);
    float v[DIM];
    rng_seed(0xB17E5);
    for (size_t n = 1; n <= 1000; n++) {
        random_vec(v, DIM);
        size_t predicted = gs_pelm_bytes_after_insert(p);
        assert_int_equal(gs_pelm_insert(p, v, 0.1f, 0.9f, NULL), GS_OK);
        size_t rows = n <= 256 ? 256 : n <= 512 ? 512 : 1000, bytes = gs_pelm_bytes(p);
        if (bytes != obj + rows * row || predicted != bytes)
            fail_msg("after %zu inserts: bytes %zu (predicted %zu), expected %zu (%zu rows)", n,
                     bytes, predicted, obj + rows * row, rows);
        if (n == 256) {
            size_t b256 = bytes;
            random_vec(v, DIM);
            assert_int_equal(gs_pelm_insert(p, v, 0.1f, 0.9f, NULL), GS_OK);
            n++;
            assert_int_equal(gs_pelm_bytes(p) - b256, (512 - 256) * row);
        }
    }
    assert_int_equal(gs_pelm_bytes(p), gs_pelm_bytes_full(DIM, 1000));
    /* full: replacing does not grow */
    for (int i = 0; i < 10; i++) {
        random_vec(v, DIM);
        assert_int_equal(gs_pelm_bytes_after_insert(p), gs_pelm_bytes_full(DIM, 1000));
        assert_int_equal(gs_pelm_insert(p, v, 0.9f, 0.9f, NULL), GS_OK);
        assert_int_equal(gs_pelm_bytes(p), gs_pelm_bytes_full(DIM, 1000));
    }
    /* capacity below 256: one step to the capacity */
    gs_pelm_t *small = fx_pelm(f, DIM, 100);
    assert_int_equal(gs_pelm_bytes_after_insert(small), gs_pelm_bytes_full(DIM, 100));
    assert_int_equal(gs_pelm_insert(small, v, 0.1f, 0.9f, NULL), GS_OK);
    assert_int_equal(gs_pelm_bytes(small), gs_pelm_bytes_full(DIM, 100));
    /* small dim, capacity 3000: 256, 512, 1024, 2048, 3000 rows */
    gs_pelm_t *d8 = fx_pelm(f, 8, 3000);
    size_t obj8 = gs_pelm_bytes_full(8, 0);
    float w[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (size_t n = 1; n <= 3000; n++) {
        assert_int_equal(gs_pelm_insert(d8, w, 0.5f, 0.5f, NULL), GS_OK);
        size_t rows = 256;
        while (rows < n)
            rows = rows * 2 < 3000 ? rows * 2 : 3000;
        if (gs_pelm_bytes(d8) != obj8 + rows * (11 * 4 + GS_MEMORY_ID_MAX + 1))
            fail_msg("dim 8, after %zu inserts: %zu bytes, expected %zu rows", n, gs_pelm_bytes(d8),
                     rows);
    }
    assert_int_equal(gs_pelm_bytes(d8), gs_pelm_bytes_full(8, 3000));
}

/* ---- retrieval against a double-precision brute force ------------------ */

typedef struct ref_hit {
    uint32_t slot;
    double score;
} ref_hit_t;

static int cmp_ref_hit(const void *a, const void *b)
{
    const ref_hit_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->slot > y->slot) - (x->slot < y->slot);
}

/* The bank as the test knows it: per slot the vector last written there
 * (as given, not normalised), its norm and its phase. */
typedef struct ref_bank {
    size_t capacity, size, next;
    float *vec;
    double *norm;
    float *phase;
} ref_bank_t;

static void ref_bank_init(fx_t *f, ref_bank_t *b, size_t capacity)
{
    b->capacity = capacity;
    b->size = b->next = 0;
    b->vec = fx_alloc(f, capacity * DIM * sizeof(float));
    b->norm = fx_alloc(f, capacity * sizeof(double));
    b->phase = fx_alloc(f, capacity * sizeof(float));
}

/* A phase away from every tolerance edge of the query phases used (0.1,
 * 0.5, 0.9): exactly 0.1, exactly 0.9, or uniform in [0, 1]. */
static float random_phase(void)
{
    switch (rng_below(3)) {
    case 0:
        return GS_PHASE_WAKE_VALUE;
    case 1:
        return GS_PHASE_SLEEP_VALUE;
    default:
        for (;;) {
            float ph = (float)rng_unit();
            static const double edges[] = {0.25, 0.35, 0.65, 0.75};
            int near = 0;
            for (size_t e = 0; e < 4; e++)
                near |= fabs(ph - edges[e]) < 1e-4;
            if (!near)
                return ph;
        }
    }
}

/* Inserts a random vector into both. */
static void bank_insert(gs_pelm_t *p, ref_bank_t *b, uint64_t seed, size_t i)
{
    float v[DIM];
    random_vec(v, DIM);
    if (rng_below(4) == 0)
        for (size_t d = 0; d < DIM; d++)
            v[d] *= 7.5f; /* norms vary */
    float ph = random_phase(), conf = 0.5f + 0.5f * (float)rng_unit();
    uint32_t want = (uint32_t)b->next, slot = 0;
    if (gs_pelm_next_slot(p) != want)
        fail_msg("seed %#llx insert %zu: next_slot %u, expected %u", (unsigned long long)seed, i,
                 gs_pelm_next_slot(p), want);
    if (gs_pelm_insert(p, v, ph, conf, &slot) != GS_OK || slot != want)
        fail_msg("seed %#llx insert %zu: failed or wrong slot %u", (unsigned long long)seed, i,
                 slot);
    memcpy(b->vec + (size_t)slot * DIM, v, sizeof(v));
    b->norm[slot] = dnorm(v, DIM);
    b->phase[slot] = ph;
    if (b->size < b->capacity)
        b->size++;
    b->next = (b->next + 1) % b->capacity;
}

static int ref_phase_ok(float slot_phase, float qphase)
{
    return fabs((double)slot_phase - (double)qphase) <= 0.15 + 1e-9;
}

/* Brute force: all candidate slots, sorted; scores[slot] = cosine or NAN
 * for slots that are not candidates. Returns the number of candidates. */
static size_t brute_force(const ref_bank_t *b, const float *q, float qphase, const uint8_t *removed,
                          ref_hit_t *out, double *scores)
{
    double qn = dnorm(q, DIM);
    size_t n = 0;
    for (uint32_t s = 0; s < b->size; s++) {
        scores[s] = NAN;
        if ((removed && removed[s]) || !ref_phase_ok(b->phase[s], qphase))
            continue;
        scores[s] = ddot(q, b->vec + (size_t)s * DIM, DIM) / (qn * b->norm[s]);
        out[n++] = (ref_hit_t){s, scores[s]};
    }
    qsort(out, n, sizeof(*out), cmp_ref_hit);
    return n;
}

/* Reference scores closer than this are a tie as far as float arithmetic
 * can tell; their order may legitimately differ (counted, and printed). */
#define NEAR_TIE 2e-6

/* Checks one top-k answer against the brute force. */
static void check_hits(const char *what, size_t k, const gs_pelm_hit_t *hits, size_t n,
                       const ref_hit_t *ref, size_t nref, const double *scores, const gs_pelm_t *p,
                       float qphase, size_t *near_ties)
{
    size_t want_n = k < nref ? k : nref;
    if (n != want_n)
        fail_msg("%s k=%zu: %zu hits, expected %zu (%zu candidates)", what, k, n, want_n, nref);
    for (size_t i = 0; i < n; i++) {
        uint32_t s = hits[i].slot;
        if (s >= gs_pelm_size(p) || isnan(scores[s]))
            fail_msg("%s k=%zu: hit %zu is slot %u, not a candidate", what, k, i, s);
        if (!(fabs(gs_pelm_phase(p, s) - qphase) <= GS_PELM_PHASE_TOL + 1e-6))
            fail_msg("%s k=%zu: hit %zu slot %u phase %.9g, query phase %.9g", what, k, i, s,
                     (double)gs_pelm_phase(p, s), (double)qphase);
        if (!(fabs((double)hits[i].score - scores[s]) <= 1e-5))
            fail_msg("%s k=%zu: hit %zu slot %u score %.9g, reference %.9g", what, k, i, s,
                     (double)hits[i].score, scores[s]);
        if (i && (hits[i].score > hits[i - 1].score ||
                  (hits[i].score == hits[i - 1].score && hits[i].slot <= hits[i - 1].slot)))
            fail_msg("%s k=%zu: hits %zu and %zu out of order (%u: %.9g, %u: %.9g)", what, k, i - 1,
                     i, hits[i - 1].slot, (double)hits[i - 1].score, s, (double)hits[i].score);
        if (s != ref[i].slot) {
            if (!(fabs(scores[s] - ref[i].score) <= NEAR_TIE))
                fail_msg("%s k=%zu: hit %zu is slot %u (%.9g), expected slot %u (%.9g)", what, k, i,
                         s, scores[s], ref[i].slot, ref[i].score);
            ++*near_ties;
            print_message("note: %s k=%zu position %zu: near tie, slot %u (%.12g) vs %u "
                          "(%.12g)\n",
                          what, k, i, s, scores[s], ref[i].slot, ref[i].score);
        }
    }
}

/* Compares two answers for the same query (batched vs single). */
static void check_same_hits(const char *what, const gs_pelm_hit_t *a, size_t na,
                            const gs_pelm_hit_t *b, size_t nb, const double *scores,
                            size_t *near_ties)
{
    if (na != nb)
        fail_msg("%s: %zu hits vs %zu", what, na, nb);
    for (size_t i = 0; i < na; i++) {
        if (!(fabs((double)a[i].score - b[i].score) <= 1e-6))
            fail_msg("%s: hit %zu scores %.9g vs %.9g", what, i, (double)a[i].score,
                     (double)b[i].score);
        if (a[i].slot != b[i].slot) {
            if (!(fabs(scores[a[i].slot] - scores[b[i].slot]) <= NEAR_TIE))
                fail_msg("%s: hit %zu slot %u vs %u", what, i, a[i].slot, b[i].slot);
            ++*near_ties;
        }
    }
}

static void retrieval_round(fx_t *f, gs_pelm_t *p, const ref_bank_t *b, uint64_t seed,
                            const char *label)
{
    enum { NQ = 64, KMAX = 20 };
    const size_t ks[] = {1, 5, 20};
    size_t size = gs_pelm_size(p), near_ties = 0;
    assert_int_equal(size, b->size);
    float *queries = fx_alloc(f, NQ * DIM * sizeof(float)), qphase[NQ];
    float *scratch = fx_alloc(f, NQ * size * sizeof(float));
    ref_hit_t *ref = fx_alloc(f, size * sizeof(ref_hit_t));
    double *scores = fx_alloc(f, size * sizeof(double));
    gs_pelm_hit_t hits[NQ * KMAX], one[KMAX];
    size_t counts[NQ], c1;
    static const float qph[] = {GS_PHASE_WAKE_VALUE, GS_PHASE_SLEEP_VALUE, 0.5f};
    for (size_t q = 0; q < NQ; q++) {
        random_vec(queries + q * DIM, DIM);
        float scale = q % 3 == 0 ? 1.0f : q % 3 == 1 ? 0.01f : 40.0f; /* not normalised */
        for (size_t d = 0; d < DIM; d++)
            queries[q * DIM + d] *= scale;
        qphase[q] = qph[rng_below(3)];
    }
    /* hits for k = 20 kept for the single-query comparison */
    gs_pelm_hit_t *batched20 = fx_alloc(f, NQ * KMAX * sizeof(gs_pelm_hit_t));
    size_t counts20[NQ];
    for (size_t ki = 0; ki < 3; ki++) {
        size_t k = ks[ki];
        gs_pelm_retrieve(p, queries, NQ, qphase, k, scratch, hits, counts);
        for (size_t q = 0; q < NQ; q++) {
            size_t nref = brute_force(b, queries + q * DIM, qphase[q], NULL, ref, scores);
            char what[160];
            snprintf(what, sizeof(what), "%s seed %#llx query %zu (phase %.2f)", label,
                     (unsigned long long)seed, q, (double)qphase[q]);
            check_hits(what, k, hits + q * k, counts[q], ref, nref, scores, p, qphase[q],
                       &near_ties);
            if (k == KMAX) {
                memcpy(batched20 + q * KMAX, hits + q * k, counts[q] * sizeof(*hits));
                counts20[q] = counts[q];
            }
        }
    }
    for (size_t q = 0; q < NQ; q++) {
        gs_pelm_retrieve(p, queries + q * DIM, 1, &qphase[q], KMAX, scratch, one, &c1);
        brute_force(b, queries + q * DIM, qphase[q], NULL, ref, scores);
        char what[160];
        snprintf(what, sizeof(what), "%s seed %#llx query %zu single vs batched", label,
                 (unsigned long long)seed, q);
        check_same_hits(what, one, c1, batched20 + q * KMAX, counts20[q], scores, &near_ties);
    }
    if (near_ties)
        print_message("%s: %zu near-tie position(s) accepted\n", label, near_ties);
}

static void test_pelm_retrieve_vs_brute_force(void **state)
{
    fx_t *f = *state;
    const uint64_t seed = 0x5E7A11ull;
    rng_seed(seed);
    gs_pelm_t *p = fx_pelm(f, DIM, 3000);
    ref_bank_t b;
    ref_bank_init(f, &b, 3000);
    for (size_t i = 0; i < 3000; i++)
        bank_insert(p, &b, seed, i);
    retrieval_round(f, p, &b, seed, "3000 in 3000");

    /* wrapped ring: 4500 into 3000 */
    const uint64_t seed2 = 0x5E7A12ull;
    rng_seed(seed2);
    gs_pelm_t *w = fx_pelm(f, DIM, 3000);
    ref_bank_t bw;
    ref_bank_init(f, &bw, 3000);
    for (size_t i = 0; i < 4500; i++)
        bank_insert(w, &bw, seed2, i);
    assert_int_equal(gs_pelm_size(w), 3000);
    assert_int_equal(gs_pelm_next_slot(w), 1500);
    assert_int_equal(gs_pelm_head(w), 1500);
    retrieval_round(f, w, &bw, seed2, "4500 in 3000");
}

/* Exact ties (lower slot first), the inclusive phase tolerance, k = 0 and k
 * above the number of candidates, an empty bank. */
static void test_pelm_ties_and_phase_edges(void **state)
{
    fx_t *f = *state;
    enum { D = 4 };
    gs_pelm_t *p = fx_pelm(f, D, 16);
    const float e0[D] = {1, 0, 0, 0}, e1[D] = {0, 1, 0, 0}, e01[D] = {1, 1, 0, 0},
                e0s[D] = {3, 0, 0, 0};
    float q[D] = {2, 0, 0, 0}, scratch[16];
    gs_pelm_hit_t hits[16];
    size_t n;
    float wake = GS_PHASE_WAKE_VALUE;
    gs_pelm_retrieve(p, q, 1, &wake, 5, scratch, hits, &n);
    assert_int_equal(n, 0); /* empty bank */
    const float *vecs[] = {e1, e0, e1, e01, e0s, e1, e0};
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(gs_pelm_insert(p, vecs[i], GS_PHASE_WAKE_VALUE, 0.8f, NULL), GS_OK);
    gs_pelm_retrieve(p, q, 1, &wake, 5, scratch, hits, &n);
    assert_int_equal(n, 5);
    const uint32_t want[] = {1, 4, 6, 3};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(hits[i].slot, want[i]);
        assert_true(hits[i].score == 1.0f);
    }
    assert_int_equal(hits[3].slot, 3);
    assert_true(fabs(hits[3].score - 0.70710678) < 1e-6);
    /* the three zero scores, lower slots first */
    assert_int_equal(hits[4].slot, 0);
    assert_true(hits[4].score == 0.0f);
    gs_pelm_retrieve(p, q, 1, &wake, 16, scratch, hits, &n);
    assert_int_equal(n, 7);
    assert_int_equal(hits[5].slot, 2);
    assert_int_equal(hits[6].slot, 5);
    gs_pelm_retrieve(p, q, 1, &wake, 0, scratch, hits, &n);
    assert_int_equal(n, 0);
    float sleep = GS_PHASE_SLEEP_VALUE;
    gs_pelm_retrieve(p, q, 1, &sleep, 5, scratch, hits, &n);
    assert_int_equal(n, 0);

    /* phase edges: |phase - q| <= 0.15 is a candidate */
    gs_pelm_t *e = fx_pelm(f, D, 16);
    const float phases[] = {0.25f,   0.2502f, 0.35f,   0.3498f, 0.65f,
                            0.6502f, 0.75f,   0.7498f, 0.0f,    1.0f};
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(gs_pelm_insert(e, e0, phases[i], 0.8f, NULL), GS_OK);
    const struct {
        float q;
        uint32_t slots[4];
        size_t n;
    } cases[] = {{0.1f, {0, 8}, 2},        /* 0.25 and 0.0 in, 0.2502 out */
                 {0.5f, {2, 4}, 2},        /* 0.35 and 0.65 in, 0.3498 and 0.6502 out */
                 {0.9f, {6, 9}, 2},        /* 0.75 and 1.0 in, 0.7498 out */
                 {0.4f, {0, 1, 2, 3}, 4},  /* 0.25 .. 0.55 */
                 {0.6f, {4, 5, 6, 7}, 4}}; /* 0.45 .. 0.75 */
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        gs_pelm_retrieve(e, q, 1, &cases[c].q, 16, scratch, hits, &n);
        if (n != cases[c].n)
            fail_msg("query phase %.2f: %zu hits, expected %zu", (double)cases[c].q, n, cases[c].n);
        for (size_t i = 0; i < n; i++) /* equal scores: slot order */
            if (hits[i].slot != cases[c].slots[i])
                fail_msg("query phase %.2f: hit %zu slot %u, expected %u", (double)cases[c].q, i,
                         hits[i].slot, cases[c].slots[i]);
    }
}

static void test_pelm_select_overrides(void **state)
{
    fx_t *f = *state;
    enum { CAP = 200, N0 = 120, NQ = 12, K = 20 };
    const uint64_t seed = 0x0BE22ull;
    rng_seed(seed);
    gs_pelm_t *p = fx_pelm(f, DIM, CAP);
    ref_bank_t b;
    ref_bank_init(f, &b, CAP);
    for (size_t i = 0; i < N0; i++)
        bank_insert(p, &b, seed, i);
    float *queries = fx_alloc(f, NQ * DIM * sizeof(float)), qphase[NQ];
    float *rows = fx_alloc(f, NQ * N0 * sizeof(float));
    static const float qph[] = {GS_PHASE_WAKE_VALUE, GS_PHASE_SLEEP_VALUE, 0.5f};
    for (size_t q = 0; q < NQ; q++) {
        random_vec(queries + q * DIM, DIM);
        qphase[q] = qph[q % 3];
    }
    gs_pelm_scores(p, queries, NQ, rows);
    /* 110 more: slots 120..199 appended, then 0..29 replaced */
    uint8_t changed[CAP] = {0};
    for (size_t i = N0; i < N0 + 110; i++) {
        changed[gs_pelm_next_slot(p)] = 1;
        bank_insert(p, &b, seed, i);
    }
    assert_int_equal(gs_pelm_size(p), CAP);
    for (uint32_t s = 0; s < CAP; s++)
        assert_int_equal(changed[s], s < 30 || s >= N0);
    ref_hit_t ref[CAP];
    double scores[CAP];
    gs_pelm_override_t ov[CAP];
    gs_pelm_hit_t hits[K];
    size_t near_ties = 0;
    for (int round = 0; round < 2; round++) {
        /* round 1 also removes a few slots (phase NAN): changed and unchanged
         * ones, and the best unchanged candidate of each query */
        for (size_t q = 0; q < NQ; q++) {
            const float *qv = queries + q * DIM;
            uint8_t removed[CAP] = {0};
            if (round) {
                removed[5] = removed[77] = removed[150] = 1;
                size_t nc = brute_force(&b, qv, qphase[q], NULL, ref, scores);
                for (size_t i = 0; i < nc; i++)
                    if (!changed[ref[i].slot]) {
                        removed[ref[i].slot] = 1;
                        break;
                    }
            }
            size_t n_ov = 0;
            for (uint32_t s = 0; s < CAP; s++) {
                if (!changed[s] && !removed[s])
                    continue;
                double c = ddot(qv, b.vec + (size_t)s * DIM, DIM) / (dnorm(qv, DIM) * b.norm[s]);
                ov[n_ov++] = (gs_pelm_override_t){s, (float)c, removed[s] ? NAN : b.phase[s]};
            }
            for (size_t i = n_ov; i > 1; i--) { /* any order */
                size_t j = rng_below((uint32_t)i);
                gs_pelm_override_t t = ov[i - 1];
                ov[i - 1] = ov[j];
                ov[j] = t;
            }
            size_t nref = brute_force(&b, qv, qphase[q], removed, ref, scores);
            for (size_t k = 1; k <= K; k += 19) {
                size_t n = gs_pelm_select(p, rows + q * N0, N0, qphase[q], ov, n_ov, k, hits);
                char what[128];
                snprintf(what, sizeof(what), "seed %#llx round %d query %zu (phase %.2f)",
                         (unsigned long long)seed, round, q, (double)qphase[q]);
                check_hits(what, k, hits, n, ref, nref, scores, p, qphase[q], &near_ties);
                for (size_t i = 0; i < n; i++)
                    if (removed[hits[i].slot])
                        fail_msg("%s: removed slot %u returned", what, hits[i].slot);
            }
        }
    }
    /* a removal override alone, on the unchanged row */
    gs_pelm_t *small = fx_pelm(f, 4, 8);
    const float a[4] = {1, 0, 0, 0}, c[4] = {1, 1, 0, 0};
    assert_int_equal(gs_pelm_insert(small, a, 0.1f, 0.8f, NULL), GS_OK);
    assert_int_equal(gs_pelm_insert(small, c, 0.1f, 0.8f, NULL), GS_OK);
    float row[2];
    gs_pelm_scores(small, a, 1, row);
    gs_pelm_override_t rm = {0, 1.0f, NAN};
    size_t n = gs_pelm_select(small, row, 2, 0.1f, &rm, 1, 5, hits);
    assert_int_equal(n, 1);
    assert_int_equal(hits[0].slot, 1);
    /* an override can also move a slot out of the query's phase */
    gs_pelm_override_t moved = {1, 0.70710677f, 0.9f};
    n = gs_pelm_select(small, row, 2, 0.1f, &moved, 1, 5, hits);
    assert_int_equal(n, 1);
    assert_int_equal(hits[0].slot, 0);
}

/* ==== synaptic memory ====================================================== */

typedef struct ref_syn {
    double *l1, *l2, *l3;
    size_t dim;
    unsigned long long moved12, moved23;
} ref_syn_t;

static void ref_syn_update(ref_syn_t *r, const float *e)
{
    for (size_t i = 0; i < r->dim; i++) {
        r->l1[i] = r->l1[i] * (1 - 0.50) + e[i];
        r->l2[i] *= 1 - 0.10;
        r->l3[i] *= 1 - 0.01;
        if (r->l1[i] > 1.2) {
            double m = 0.45 * r->l1[i];
            r->l1[i] -= m;
            r->l2[i] += m;
            r->moved12++;
        }
        if (r->l2[i] > 2.5) {
            double m = 0.30 * r->l2[i];
            r->l2[i] -= m;
            r->l3[i] += m;
            r->moved23++;
        }
    }
}

static void check_level(uint64_t seed, const char *lvl, int it, size_t i, float got, double want)
{
    if (!(fabs((double)got - want) <= 1e-4 * fabs(want) + 1e-6))
        fail_msg("seed %#llx update %d: %s[%zu] = %.9g, reference %.9g", (unsigned long long)seed,
                 it, lvl, i, (double)got, want);
}

static void test_synaptic_reference(void **state)
{
    fx_t *f = *state;
    const uint64_t seed = 0x5A9A5Eull;
    rng_seed(seed);
    gs_synaptic_t *s = fx_syn(f, DIM);
    assert_int_equal(s->dim, DIM);
    assert_int_equal(gs_synaptic_bytes(s), 3 * DIM * 4);
    for (size_t i = 0; i < DIM; i++)
        assert_true(s->l1[i] == 0.0f && s->l2[i] == 0.0f && s->l3[i] == 0.0f);
    ref_syn_t r = {fx_alloc(f, DIM * sizeof(double)),
                   fx_alloc(f, DIM * sizeof(double)),
                   fx_alloc(f, DIM * sizeof(double)),
                   DIM,
                   0,
                   0};
    float e[DIM];
    for (int it = 0; it < 1000; it++) {
        /* inputs mostly positive so that both transfers happen often; some
         * updates are unit embeddings of random words */
        if (it % 10 == 9) {
            char text[64];
            snprintf(text, sizeof(text), "w%u w%u", rng_below(50), rng_below(50));
            embed1(text, e);
        } else {
            for (size_t i = 0; i < DIM; i++)
                e[i] = (float)(rng_unit() * 2.0 - 0.4);
        }
        gs_synaptic_update(s, e);
        ref_syn_update(&r, e);
        for (size_t i = 0; i < DIM; i++) {
            check_level(seed, "L1", it, i, s->l1[i], r.l1[i]);
            check_level(seed, "L2", it, i, s->l2[i], r.l2[i]);
            check_level(seed, "L3", it, i, s->l3[i], r.l3[i]);
        }
    }
    /* both transfers were exercised, and not on every element */
    if (r.moved12 < 10000 || r.moved23 < 10000 || r.moved12 > 370000 || r.moved23 > 370000)
        fail_msg("transfers L1->L2 %llu, L2->L3 %llu of 384000: inputs do not exercise them",
                 r.moved12, r.moved23);
    assert_int_equal(gs_synaptic_bytes(s), 3 * DIM * 4);
    gs_synaptic_t *s7 = fx_syn(f, 7);
    assert_int_equal(gs_synaptic_bytes(s7), 3 * 7 * 4);
}

static void test_synaptic_hand_computed(void **state)
{
    fx_t *f = *state;
    gs_synaptic_t *s = fx_syn(f, 1);
    struct {
        float e;
        double l1, l2, l3;
    } steps[] = {
        /* L1 = 0.5*0 + 1 = 1 (<= 1.2, stays) */
        {1.0f, 1.0, 0.0, 0.0},
        /* L1 = 0.5 + 1 = 1.5 > 1.2: move 0.675; L2 = 0.675 (<= 2.5) */
        {1.0f, 0.825, 0.675, 0.0},
        /* L1 = 0.4125 + 3 = 3.4125: move 1.535625 -> L1 1.876875;
         * L2 = 0.6075 + 1.535625 = 2.143125 (<= 2.5) */
        {3.0f, 1.876875, 2.143125, 0.0},
        /* L1 = 0.9384375 + 3 = 3.9384375: move 1.772296875 -> L1 2.166140625;
         * L2 = 1.9288125 + 1.772296875 = 3.701109375 > 2.5: move
         * 1.1103328125 -> L2 2.5907765625, L3 1.1103328125 */
        {3.0f, 2.166140625, 2.5907765625, 1.1103328125},
        /* L1 = 1.0830703125 + 0 (<= 1.2); L2 = 2.33169890625 (<= 2.5);
         * L3 = 1.0992294844 */
        {0.0f, 1.0830703125, 2.33169890625, 1.099229484375},
        /* L1 = 0.54153515625 - 1 = -0.45846484375; L2 = 2.098529015625;
         * L3 = 1.08823718953125 */
        {-1.0f, -0.45846484375, 2.098529015625, 1.08823718953125},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        gs_synaptic_update(s, &steps[i].e);
        double got[3] = {s->l1[0], s->l2[0], s->l3[0]},
               want[3] = {steps[i].l1, steps[i].l2, steps[i].l3};
        for (int l = 0; l < 3; l++)
            if (!(fabs(got[l] - want[l]) <= 1e-6 * (fabs(want[l]) + 1)))
                fail_msg("step %zu: L%d = %.9g, expected %.9g", i + 1, l + 1, got[l], want[l]);
    }
}

/* ==== quality gate ========================================================== */

static gs_quality_t qcheck(const char *const *prompt, size_t n_prompt, const char *response)
{
    gs_str_t p[8];
    assert_true(n_prompt <= 8);
    for (size_t i = 0; i < n_prompt; i++)
        p[i] = S(prompt[i]);
    gs_quality_t q;
    memset(&q, 0x5A, sizeof(q));
    assert_int_equal(gs_quality_check(p, n_prompt, S(response), &q), GS_OK);
    return q;
}

static void expect_quality(const char *const *prompt, size_t n_prompt, const char *response,
                           int reject, int degrade, const char *modes)
{
    gs_quality_t q = qcheck(prompt, n_prompt, response);
    if (q.reject != reject || q.degrade != degrade || strcmp(q.modes, modes))
        fail_msg("\"%s\": reject %d degrade %d modes \"%.64s\", expected %d %d \"%s\"", response,
                 q.reject, q.degrade, q.modes, reject, degrade, modes);
}

/* n distinct words "wa", "wb", ..., "wz", "xa", ... (letters only). */
static const char *word(size_t i)
{
    static char words[200][4];
    assert_true(i < 200);
    words[i][0] = (char)('a' + i / 26);
    words[i][1] = (char)('a' + i % 26);
    words[i][2] = 'q';
    words[i][3] = 0;
    return words[i];
}

/* Joins tokens given as word indices, with sep between them. */
static const char *join(const int *idx, size_t n, const char *sep)
{
    static char buf[4096];
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            append(buf, sizeof(buf), &len, sep);
        append(buf, sizeof(buf), &len, word((size_t)idx[i]));
    }
    return buf;
}

static void test_quality_collapse(void **state)
{
    (void)state;
    expect_quality(NULL, 0, "", 1, 0, "collapse");
    expect_quality(NULL, 0, "!!! ...", 1, 0, "collapse");
    expect_quality(NULL, 0, " \n\t -- ?? ", 1, 0, "collapse");
    expect_quality(NULL, 0, "ok", 0, 0, "");
    expect_quality(NULL, 0, "'", 0, 0, ""); /* an apostrophe is a token */
}

static void test_quality_looping_ratio(void **state)
{
    (void)state;
    int idx[64];
    /* 20 tokens, 12 distinct: ratio 0.40 -> clean (no run, one line) */
    for (int i = 0; i < 20; i++)
        idx[i] = i % 12;
    expect_quality(NULL, 0, join(idx, 20, " "), 0, 0, "");
    /* 18 tokens, 9 distinct: ratio 0.50 -> looping */
    for (int i = 0; i < 18; i++)
        idx[i] = i % 9;
    expect_quality(NULL, 0, join(idx, 18, " "), 1, 0, "looping");
    /* 40 tokens, 23 distinct: ratio 0.425 -> clean */
    for (int i = 0; i < 40; i++)
        idx[i] = i % 23;
    expect_quality(NULL, 0, join(idx, 40, " "), 0, 0, "");
    /* 17 tokens of 2 words alternating (ratio 0.88), no run, one line:
     * below 18 tokens -> not looping */
    for (int i = 0; i < 17; i++)
        idx[i] = i % 2;
    expect_quality(NULL, 0, join(idx, 17, " "), 0, 0, "");
    /* ... and the 18th token makes it looping */
    for (int i = 0; i < 18; i++)
        idx[i] = i % 2;
    expect_quality(NULL, 0, join(idx, 18, " "), 1, 0, "looping");
}

/* SPEC 3.5: repeat ratio >= 0.45 rejects; exactly 0.45 is on the rejecting
 * side (20 tokens / 11 distinct, 40 / 22). */
static void test_quality_looping_ratio_exact_boundary(void **state)
{
    (void)state;
    int idx[64];
    for (int i = 0; i < 20; i++)
        idx[i] = i % 11;
    expect_quality(NULL, 0, join(idx, 20, " "), 1, 0, "looping");
    for (int i = 0; i < 40; i++)
        idx[i] = i % 22;
    expect_quality(NULL, 0, join(idx, 40, " "), 1, 0, "looping");
}

static void test_quality_looping_run(void **state)
{
    (void)state;
    int idx[32];
    /* 18 tokens: 14 distinct + one word 4 times in a row */
    for (int i = 0; i < 18; i++)
        idx[i] = i < 5 ? i : i < 9 ? 100 : i - 4;
    expect_quality(NULL, 0, join(idx, 18, " "), 1, 0, "looping");
    /* run of 3 among 15 others: 16 distinct of 18 -> clean */
    for (int i = 0; i < 18; i++)
        idx[i] = i < 5 ? i : i < 8 ? 100 : i - 3;
    expect_quality(NULL, 0, join(idx, 18, " "), 0, 0, "");
    /* the run is case-insensitive and ignores punctuation between */
    expect_quality(NULL, 0,
                   "one two three four five Echo, ECHO! echo... eCho six seven eight nine ten "
                   "eleven twelve thirteen fourteen",
                   1, 0, "looping");
    /* a run of 4 below 18 tokens is not looping */
    expect_quality(NULL, 0, "a b c d e f x x x x g h i j k l m", 0, 0, "");
}

static void test_quality_looping_lines(void **state)
{
    (void)state;
    /* 4 non-empty lines of 5 tokens, one line twice (50%): 15 distinct of 20
     * (ratio 0.25), no run */
    expect_quality(NULL, 0,
                   "one two three four five\n"
                   "six seven eight nine ten\n"
                   "one two three four five\n"
                   "eleven twelve thirteen fourteen fifteen",
                   1, 0, "looping");
    /* the same with surrounding blanks, CRs and empty lines in between */
    expect_quality(NULL, 0,
                   "  one two three four five\r\n"
                   "\n"
                   "six seven eight nine ten\n"
                   "\t\n"
                   "one two three four five   \n"
                   "eleven twelve thirteen fourteen fifteen\n",
                   1, 0, "looping");
    /* 4 lines all different */
    expect_quality(NULL, 0,
                   "one two three four five\n"
                   "six seven eight nine ten\n"
                   "eleven twelve thirteen fourteen fifteen\n"
                   "sixteen seventeen eighteen nineteen twenty",
                   0, 0, "");
    /* 3 lines, 2 identical (67%): needs >= 4 lines; 12 distinct of 18 */
    expect_quality(NULL, 0,
                   "one two three four five six\n"
                   "seven eight nine ten eleven twelve\n"
                   "one two three four five six",
                   0, 0, "");
    /* 5 lines, the top one twice (40%) -> clean */
    expect_quality(NULL, 0,
                   "one two three four\n"
                   "five six seven eight\n"
                   "one two three four\n"
                   "nine ten eleven twelve\n"
                   "thirteen fourteen fifteen sixteen",
                   0, 0, "");
    /* 4 lines with one twice but only 8 tokens: not looping (< 18) */
    expect_quality(NULL, 0, "a b\nc d\na b\ne f", 0, 0, "");
}

static void test_quality_incoherence(void **state)
{
    (void)state;
    /* 12 tokens, 7 with a letter (58%) */
    expect_quality(NULL, 0, "a1 b2 c3 d e f g 1 2 3 4 5", 1, 0, "incoherence");
    /* 12 tokens, 8 with a letter (66%) */
    expect_quality(NULL, 0, "a1 b2 c3 d e f g h 2 3 4 5", 0, 0, "");
    /* exactly 60%: 20 tokens, 12 with a letter -> clean ("< 60%") */
    expect_quality(NULL, 0, "a b c d e f g h i j k l 1 2 3 4 5 6 7 8", 0, 0, "");
    /* 11 digit tokens: below 12 */
    expect_quality(NULL, 0, "1 2 3 4 5 6 7 8 9 10 11", 0, 0, "");
    /* 12 tokens of digits and apostrophes */
    expect_quality(NULL, 0, "1 2 3 4 5 6 7 8 9 10 11 ''", 1, 0, "incoherence");
}

static void test_quality_modes_together(void **state)
{
    (void)state;
    const char *prompt[] = {"what is the answer"};
    const char *r = "1 1 1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17";
    expect_quality(NULL, 0, r, 1, 0, "looping,incoherence");
    expect_quality(prompt, 1, r, 1, 1, "looping,incoherence,drift");
    /* incoherence + drift, no looping */
    const char *r2 = "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20";
    expect_quality(prompt, 1, r2, 1, 1, "incoherence,drift");
}

static void test_quality_drift(void **state)
{
    (void)state;
    int idx[32];
    for (int i = 0; i < 20; i++)
        idx[i] = i;
    char resp[512];
    snprintf(resp, sizeof(resp), "%s", join(idx, 20, " ")); /* aaq abq ... atq */
    const char *p3[] = {"what is this"};
    expect_quality(p3, 1, resp, 0, 1, "drift");
    /* the prompt may be several texts; only its tokens count */
    const char *p3b[] = {"what", "is", "this?!"};
    expect_quality(p3b, 3, resp, 0, 1, "drift");
    /* 1 of 20 in the prompt (exactly 5%) -> not drift; matching is
     * case-insensitive */
    const char *p1[] = {"what is AAQ"};
    expect_quality(p1, 1, resp, 0, 0, "");
    /* 2 of 40 (5%) -> not drift, 1 of 40 (2.5%) -> drift */
    int idx40[40];
    for (int i = 0; i < 40; i++)
        idx40[i] = i;
    char resp40[1024];
    snprintf(resp40, sizeof(resp40), "%s", join(idx40, 40, " "));
    const char *p2of40[] = {"aaq and abq"};
    expect_quality(p2of40, 1, resp40, 0, 0, "");
    const char *p1of40[] = {"aaq and more"};
    expect_quality(p1of40, 1, resp40, 0, 1, "drift");
    /* a prompt of 2 tokens -> not drift */
    const char *p2[] = {"what now"};
    expect_quality(p2, 1, resp, 0, 0, "");
    /* 19 response tokens -> not drift */
    expect_quality(p3, 1, join(idx, 19, " "), 0, 0, "");
    /* Hello in the prompt matches hello in the response */
    const char *ph[] = {"Hello there friend"};
    expect_quality(ph, 1,
                   "hello aaq abq acq adq aeq afq agq ahq aiq ajq akq alq amq anq aoq apq aqq "
                   "arq asq",
                   0, 0, "");
    expect_quality(ph, 1,
                   "hellos aaq abq acq adq aeq afq agq ahq aiq ajq akq alq amq anq aoq apq aqq "
                   "arq asq",
                   0, 1, "drift");
}

static void test_quality_tokens(void **state)
{
    (void)state;
    /* tokens are [a-z0-9']+ after ASCII lower-casing: "DON'T" == "don't",
     * "café" is "caf" then a separator */
    expect_quality(NULL, 0, "DON'T don't Don't DoN'T a b c d e f g h i j k l m n", 1, 0, "looping");
    expect_quality(NULL, 0, "DON'T dont Don't DoN'T a b c d e f g h i j k l m n", 0, 0, "");
    expect_quality(NULL, 0, "caf café CAF Café x y z w v u t s r q p o n m", 1, 0, "looping");
    expect_quality(NULL, 0, "caf cafe CAF Café x y z w v u t s r q p o n m", 0, 0, "");
    /* case-insensitive over larger token sets too: 40 tokens, 20 distinct */
    char big[1024] = "", upper[1024] = "";
    size_t bl = 0, ul = 0;
    for (size_t i = 0; i < 40; i++) {
        char w[8];
        snprintf(w, sizeof(w), "%s", word(i % 20));
        if (i >= 20)
            for (char *c = w; *c; c++)
                *c = (char)(*c - 'a' + 'A');
        append(big, sizeof(big), &bl, i ? " " : "");
        append(big, sizeof(big), &bl, w);
    }
    expect_quality(NULL, 0, big, 1, 0, "looping");
    /* a prompt of 40 upper-case tokens; 2 of 40 response tokens in it */
    for (size_t i = 0; i < 40; i++) {
        char w[8];
        snprintf(w, sizeof(w), "%s", word(i));
        for (char *c = w; *c; c++)
            *c = (char)(*c - 'a' + 'A');
        append(upper, sizeof(upper), &ul, i ? " " : "");
        append(upper, sizeof(upper), &ul, w);
    }
    int idx40[40];
    for (int i = 0; i < 40; i++)
        idx40[i] = i < 2 ? i : 100 + i;
    const char *pu[] = {upper};
    expect_quality(pu, 1, join(idx40, 40, " "), 0, 0, "");
    idx40[1] = 150;
    expect_quality(pu, 1, join(idx40, 40, " "), 0, 1, "drift");
    /* non-ASCII only: no tokens */
    expect_quality(NULL, 0, "日本語のテキスト", 1, 0, "collapse");
    /* punctuation splits tokens: "a-b" is two */
    const char *prompt[] = {"x-ray vision test"};
    int idx[32];
    for (int i = 0; i < 19; i++)
        idx[i] = i;
    char resp[512];
    snprintf(resp, sizeof(resp), "%s ray", join(idx, 19, " "));
    expect_quality(prompt, 1, resp, 0, 0, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embed_deterministic_and_normalised),
        cmocka_unit_test(test_embed_empty),
        cmocka_unit_test(test_embed_case_and_punctuation),
        cmocka_unit_test(test_embed_word_order),
        cmocka_unit_test(test_embed_text_boundary),
        cmocka_unit_test(test_embed_matches_reference),
        cmocka_unit_test(test_pelm_new_args),
        cmocka_unit_test_setup_teardown(test_pelm_insert_validation, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_pelm_extreme_magnitudes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_pelm_fifo, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_pelm_bytes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_pelm_select_overrides, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_synaptic_reference, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_synaptic_hand_computed, fx_setup, fx_teardown),
        cmocka_unit_test(test_quality_collapse),
        cmocka_unit_test(test_quality_looping_ratio),
        cmocka_unit_test(test_quality_looping_ratio_exact_boundary),
        cmocka_unit_test(test_quality_looping_run),
        cmocka_unit_test(test_quality_looping_lines),
        cmocka_unit_test(test_quality_incoherence),
        cmocka_unit_test(test_quality_modes_together),
        cmocka_unit_test(test_quality_drift),
        cmocka_unit_test(test_quality_tokens),
        /* last: gs_pelm_retrieve passes NULL overrides to gs_pelm_select, which
         * memcpy()s from them (undefined behaviour that UBSan aborts on) */
        cmocka_unit_test_setup_teardown(test_pelm_retrieve_vs_brute_force, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_pelm_ties_and_phase_edges, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
