/* Unit tests of the governance core (SPEC 3.1-3.3): moral filter, rhythm,
 * lexicon scorer and the per-scope decision with LRU eviction. Property
 * tests use a fixed-seed xorshift64 so a failure names its seed and step. */
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
#include <unistd.h>

#include "govstream/config.h"
#include "govstream/govern.h"

/* ---- helpers ------------------------------------------------------------ */

/* cmocka 1.1's assert_float_equal works in float; these compare doubles
 * exactly and print all 17 digits. */
#define assert_dbl_eq(a, b)                                                                        \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(a_ == b_))                                                                           \
            fail_msg("%s = %.17g, expected %s = %.17g", #a, a_, #b, b_);                           \
    } while (0)

/* For scores whose exactness is tested on its own (test_lexicon_score_exact),
 * so that the word-matching tests report word-matching failures. */
#define assert_near(a, b)                                                                          \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) < 1e-9))                                                               \
            fail_msg("%s = %.17g, expected %s = %.17g", #a, a_, #b, b_);                           \
    } while (0)

static gs_str_t S(const char *s)
{
    return (gs_str_t){s, strlen(s)};
}

/* The 13 legal thresholds, compared with ==; returns k or -1. */
static int threshold_k(double t)
{
    for (int k = 6; k <= 18; k++)
        if (t == k / 20.0)
            return k;
    return -1;
}

/* ---- independent reference model (SPEC 3.1, 3.3) ------------------------ */

typedef struct ref_moral {
    int t20;    /* threshold in twentieths */
    double ema; /* of acceptances */
} ref_moral_t;

static void ref_moral_init(ref_moral_t *m)
{
    m->t20 = 10;
    m->ema = 0.5;
}

static int ref_moral_eval(const ref_moral_t *m, double v)
{
    if (v >= 0.90)
        return 1;
    if (v < 0.30)
        return 0;
    return v >= m->t20 / 20.0;
}

static void ref_moral_adapt(ref_moral_t *m, int accepted)
{
    m->ema = 0.1 * (accepted ? 1.0 : 0.0) + 0.9 * m->ema;
    double err = m->ema - 0.5;
    int t = m->t20 + (err > 0.05 + 1e-9) - (err < -0.05 - 1e-9); /* exact dead band */
    m->t20 = t < 6 ? 6 : t > 18 ? 18 : t;
}

/* ---- moral filter -------------------------------------------------------- */

static void test_moral_initial(void **state)
{
    (void)state;
    gs_moral_t m;
    gs_moral_init(&m);
    assert_dbl_eq(gs_moral_threshold(&m), 0.5);
    assert_int_equal(m.t20, 10);
    assert_dbl_eq(m.ema, 0.5);
}

/* Every threshold the filter can hold, with values around each band edge. */
static void test_moral_evaluate_bands(void **state)
{
    (void)state;
    const double always[] = {0.90, nextafter(0.90, 2.0), 0.95, 1.0};
    const double never[] = {0.0, 0.1, 0.29, nextafter(0.30, 0.0)};
    for (int k = 6; k <= 18; k++) {
        gs_moral_t m;
        gs_moral_init(&m);
        m.t20 = k;
        double t = k / 20.0;
        assert_dbl_eq(gs_moral_threshold(&m), t);
        for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
            if (!gs_moral_evaluate(&m, always[i]))
                fail_msg("k=%d: %.17g must always be accepted", k, always[i]);
        for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
            if (gs_moral_evaluate(&m, never[i]))
                fail_msg("k=%d: %.17g must always be rejected", k, never[i]);
        /* Middle band: accept iff v >= threshold, on a fine grid and at
         * the threshold itself and its neighbours. */
        for (int i = 300; i < 900; i++) {
            double v = i / 1000.0;
            int want = v >= t;
            if (gs_moral_evaluate(&m, v) != want)
                fail_msg("k=%d v=%.17g: got %d, want %d", k, v, !want, want);
        }
        if (t < 0.90) {
            assert_int_equal(gs_moral_evaluate(&m, t), 1);
            assert_int_equal(gs_moral_evaluate(&m, nextafter(t, 2.0)), 1);
            if (t > 0.30)
                assert_int_equal(gs_moral_evaluate(&m, nextafter(t, 0.0)), 0);
        }
    }
}

/* The ema formula and the +-0.05 rule, step by step from the start. */
static void test_moral_adapt_rule(void **state)
{
    (void)state;
    gs_moral_t m;
    gs_moral_init(&m);
    double ema = 0.5;

    /* accept: ema 0.55, an error of exactly 0.05 (0.05000000000000004 in
     * doubles, which moved the double-based reference): no change */
    gs_moral_adapt(&m, 1);
    ema = 0.1 * 1.0 + 0.9 * ema;
    assert_dbl_eq(m.ema, ema);
    assert_dbl_eq(gs_moral_threshold(&m), 0.50);

    /* accept again: ema 0.595, err 0.095 -> up */
    gs_moral_adapt(&m, 1);
    ema = 0.1 * 1.0 + 0.9 * ema;
    assert_dbl_eq(m.ema, ema);
    assert_dbl_eq(gs_moral_threshold(&m), 0.55);

    /* reject: ema 0.5355, err 0.0355 -> unchanged */
    gs_moral_adapt(&m, 0);
    ema = 0.9 * ema;
    assert_dbl_eq(m.ema, ema);
    assert_dbl_eq(gs_moral_threshold(&m), 0.55);

    /* reject: ema 0.48195, |err| < 0.05 -> unchanged; then 0.433755 -> down */
    gs_moral_adapt(&m, 0);
    assert_dbl_eq(gs_moral_threshold(&m), 0.55);
    gs_moral_adapt(&m, 0);
    assert_dbl_eq(gs_moral_threshold(&m), 0.50);

    /* keep rejecting: down one step per request to the floor, then stay */
    double expect[] = {0.45, 0.40, 0.35, 0.30, 0.30, 0.30};
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        gs_moral_adapt(&m, 0);
        assert_dbl_eq(gs_moral_threshold(&m), expect[i]);
    }
    assert_int_equal(m.t20, GS_MORAL_T20_MIN);

    /* accepting again: the ema has to climb back over 0.55 before the
     * threshold moves up, and it never moves by more than one step */
    int prev = m.t20;
    for (int i = 0; i < 200; i++) {
        gs_moral_adapt(&m, 1);
        assert_true(m.t20 - prev == 0 || m.t20 - prev == 1);
        prev = m.t20;
    }
    assert_int_equal(m.t20, GS_MORAL_T20_MAX);
    assert_dbl_eq(gs_moral_threshold(&m), 0.90);
}

/* The reference drifted to 0.8000000000000003 after repeated +0.05 and then
 * rejected 0.8; ours must hold the literal 0.8 however it got there. */
static void test_moral_threshold_no_drift(void **state)
{
    (void)state;
    gs_moral_t m;
    gs_moral_init(&m);
    int ups = 0;
    while (gs_moral_threshold(&m) < 0.8 && ups < 100) {
        gs_moral_adapt(&m, 1);
        ups++;
    }
    /* six +0.05 steps; the first acceptance (error exactly 0.05) moves nothing */
    assert_int_equal(ups, 7);
    assert_dbl_eq(gs_moral_threshold(&m), 0.8);
    assert_int_equal(gs_moral_evaluate(&m, 0.8), 1);
    assert_int_equal(gs_moral_evaluate(&m, nextafter(0.8, 0.0)), 0);

    /* 1000 full sweeps up to 0.90 and down to 0.30, then back to 0.8 */
    for (int cycle = 0; cycle < 1000; cycle++) {
        while (m.t20 < GS_MORAL_T20_MAX)
            gs_moral_adapt(&m, 1);
        while (m.t20 > GS_MORAL_T20_MIN)
            gs_moral_adapt(&m, 0);
    }
    assert_dbl_eq(gs_moral_threshold(&m), 0.3);
    assert_int_equal(gs_moral_evaluate(&m, 0.3), 1);
    while (gs_moral_threshold(&m) < 0.8)
        gs_moral_adapt(&m, 1);
    assert_dbl_eq(gs_moral_threshold(&m), 0.8);
    assert_int_equal(gs_moral_evaluate(&m, 0.8), 1);

    /* every threshold on the way is one of the 13 exact values */
    gs_moral_init(&m);
    for (int i = 0; i < 50; i++) {
        gs_moral_adapt(&m, i < 25);
        if (threshold_k(gs_moral_threshold(&m)) < 0)
            fail_msg("step %d: threshold %.17g is not k/20", i, gs_moral_threshold(&m));
    }
}

/* A value the sequence generator picks: uniform, exact grid points, the
 * threshold and its neighbours, band edges. */
static double pick_value(const gs_moral_t *m, double bias)
{
    double t = gs_moral_threshold(m);
    switch (rng_below(6)) {
    case 0:
        return rng_unit();
    case 1:
        return rng_below(21) / 20.0;
    case 2:
        return t;
    case 3:
        return rng_below(2) ? nextafter(t, 0.0) : nextafter(t, 2.0);
    case 4: {
        const double edges[] = {0.30, nextafter(0.30, 0.0), 0.90, nextafter(0.90, 0.0), 0.0, 1.0};
        return edges[rng_below(6)];
    }
    default: /* biased, so sequences reach both ends of the range */
        return rng_unit() < bias ? 0.9 + 0.1 * rng_unit() : 0.3 * rng_unit();
    }
}

static void test_moral_property(void **state)
{
    (void)state;
    const uint64_t base_seed = 0xC0FFEE1234ull;
    int seen_k[19] = {0};
    for (int seq = 0; seq < 5000; seq++) {
        uint64_t seed = base_seed + (uint64_t)seq * 7919u;
        rng_seed(seed);
        double bias = rng_unit();
        gs_moral_t m;
        ref_moral_t r;
        gs_moral_init(&m);
        ref_moral_init(&r);
        for (int i = 0; i < 200; i++) {
            double v = pick_value(&m, bias);
            double before = gs_moral_threshold(&m);
            int kb = threshold_k(before);
            int acc = gs_moral_evaluate(&m, v);
            int racc = ref_moral_eval(&r, v);
            if (acc != racc)
                fail_msg("seed %llu seq %d req %d: v=%.17g t=%.17g accepted %d, reference %d",
                         (unsigned long long)seed, seq, i, v, before, acc, racc);
            gs_moral_adapt(&m, acc);
            ref_moral_adapt(&r, racc);
            double after = gs_moral_threshold(&m);
            int ka = threshold_k(after);
            if (ka < 0 || kb < 0)
                fail_msg("seed %llu seq %d req %d: threshold %.17g not one of k/20",
                         (unsigned long long)seed, seq, i, after);
            if (!(after >= 0.30 && after <= 0.90))
                fail_msg("seed %llu seq %d req %d: threshold %.17g out of [0.30,0.90]",
                         (unsigned long long)seed, seq, i, after);
            if (ka - kb < -1 || ka - kb > 1)
                fail_msg("seed %llu seq %d req %d: threshold moved %.17g -> %.17g",
                         (unsigned long long)seed, seq, i, before, after);
            if (ka != r.t20 || m.ema != r.ema)
                fail_msg("seed %llu seq %d req %d: t20 %d ema %.17g, reference t20 %d ema %.17g",
                         (unsigned long long)seed, seq, i, ka, m.ema, r.t20, r.ema);
            seen_k[ka] = 1;
        }
    }
    /* the generator must have exercised the whole range */
    for (int k = 6; k <= 18; k++)
        if (!seen_k[k])
            fail_msg("threshold %d/20 never reached", k);
}

/* Requests just under the threshold each time: all rejected, the
 * threshold walks down to the floor and stays there. */
static void test_moral_sustained_attack(void **state)
{
    (void)state;
    gs_moral_t m;
    gs_moral_init(&m);
    int accepted = 0;
    for (int i = 0; i < 10000; i++) {
        double t = gs_moral_threshold(&m);
        double v = t - 0.01;
        int a = gs_moral_evaluate(&m, v);
        accepted += a;
        gs_moral_adapt(&m, a);
        double after = gs_moral_threshold(&m);
        if (after < 0.30 || after > 0.90 || threshold_k(after) < 0 || after > t)
            fail_msg("request %d: threshold %.17g -> %.17g", i, t, after);
    }
    assert_int_equal(accepted, 0);
    assert_dbl_eq(gs_moral_threshold(&m), 0.30);
}

/* Everything accepted (v exactly at the threshold): after the first
 * acceptance (error exactly 0.05: no move) the threshold climbs one step
 * per request to 0.90 and stays there. */
static void test_moral_all_accept(void **state)
{
    (void)state;
    gs_moral_t m;
    gs_moral_init(&m);
    for (int i = 0; i < 10000; i++) {
        double t = gs_moral_threshold(&m);
        assert_int_equal(gs_moral_evaluate(&m, t), 1);
        gs_moral_adapt(&m, 1);
        double want = i == 0 ? 0.50 : i < 8 ? (10 + i) / 20.0 : 0.90;
        if (gs_moral_threshold(&m) != want)
            fail_msg("request %d: threshold %.17g, want %.17g", i, gs_moral_threshold(&m), want);
    }
}

/* ---- rhythm --------------------------------------------------------------- */

static void test_rhythm_default_sequence(void **state)
{
    (void)state;
    gs_rhythm_t r;
    gs_rhythm_init(&r, 8, 3);
    /* three periods: W W W W W W W W S S S, entering sleep on step 8 */
    for (int i = 0; i < 33; i++) {
        gs_phase_t want = (i % 11) < 8 ? GS_PHASE_WAKE : GS_PHASE_SLEEP;
        if (gs_rhythm_phase(&r) != want)
            fail_msg("step %d: phase %d, want %d", i, gs_rhythm_phase(&r), want);
        int entered = gs_rhythm_step(&r);
        int want_entered = (i % 11) == 7;
        if (entered != want_entered)
            fail_msg("step %d: step() returned %d, want %d", i, entered, want_entered);
        assert_int_equal(r.steps, (uint64_t)i + 1);
    }
    assert_int_equal(gs_rhythm_phase(&r), GS_PHASE_WAKE);
}

/* Random configurations over 100k steps: runs of each phase have exactly
 * the configured length, and step() reports exactly the WAKE->SLEEP edges. */
static void test_rhythm_random_configs(void **state)
{
    (void)state;
    const uint64_t seed = 0xBADC0DEull;
    rng_seed(seed);
    for (int c = 0; c < 20; c++) {
        uint32_t wake = 1 + rng_below(c < 10 ? 4 : 40), sleep = 1 + rng_below(c < 10 ? 4 : 40);
        gs_rhythm_t r;
        gs_rhythm_init(&r, wake, sleep);
        gs_phase_t prev = gs_rhythm_phase(&r);
        uint32_t run = 0;
        int first_run = 1;
        uint64_t entries = 0;
        assert_int_equal(prev, GS_PHASE_WAKE);
        for (int i = 0; i < 100000; i++) {
            gs_phase_t ph = gs_rhythm_phase(&r);
            if (ph == prev) {
                run++;
            } else {
                uint32_t want = prev == GS_PHASE_WAKE ? wake : sleep;
                if (run != want)
                    fail_msg("seed %llu config %d (%u+%u) step %d: %s run of %u",
                             (unsigned long long)seed, c, wake, sleep, i,
                             prev == GS_PHASE_WAKE ? "wake" : "sleep", run);
                run = 1;
                first_run = 0;
                prev = ph;
            }
            if (ph == GS_PHASE_SLEEP && run > sleep)
                fail_msg("seed %llu config %d (%u+%u) step %d: stuck in sleep",
                         (unsigned long long)seed, c, wake, sleep, i);
            int entered = gs_rhythm_step(&r);
            int want = ph == GS_PHASE_WAKE && gs_rhythm_phase(&r) == GS_PHASE_SLEEP;
            if (entered != want)
                fail_msg("seed %llu config %d (%u+%u) step %d: step() %d, want %d",
                         (unsigned long long)seed, c, wake, sleep, i, entered, want);
            entries += (uint64_t)entered;
        }
        assert_false(first_run);
        /* one sleep entry per completed wake run */
        assert_int_equal(entries, (100000 + sleep) / (wake + sleep));
    }
}

/* ---- fixture: lexicon and governor freed even when a test fails ---------- */

static gs_lexicon_t *load_default_lexicon(void);

typedef struct fixture {
    gs_lexicon_t *lx;
    gs_govern_t *g;
    char files[4][64]; /* temp files, removed by the teardown */
    int n_files;
} fixture_t;

static gs_govern_t *new_govern(fixture_t *f, uint32_t wake, uint32_t sleep, int policy,
                               int sleep_max, size_t max_scopes)
{
    gs_govern_conf_t gc = {.wake_steps = wake,
                           .sleep_steps = sleep,
                           .sleep_policy = policy,
                           .sleep_max_tokens = sleep_max,
                           .max_scopes = max_scopes,
                           .memory_capacity = 16,
                           .max_memory_bytes = 64u << 20,
                           .scope_idle_us = 0};
    char err[512] = "";
    if (!f->lx)
        f->lx = load_default_lexicon();
    gs_govern_destroy(f->g);
    f->g = NULL;
    if (gs_govern_new(&gc, f->lx, &f->g, err, sizeof(err)))
        fail_msg("gs_govern_new: %s", err);
    return f->g;
}

static int fixture_setup(void **state)
{
    *state = calloc(1, sizeof(fixture_t));
    return *state ? 0 : -1;
}

static int fixture_teardown(void **state)
{
    fixture_t *f = *state;
    gs_govern_destroy(f->g);
    gs_lexicon_destroy(f->lx);
    for (int i = 0; i < f->n_files; i++)
        unlink(f->files[i]);
    free(f);
    return 0;
}

/* ---- lexicon ---------------------------------------------------------------- */

static char lex_harm[4096], lex_care[4096];

static gs_lexicon_t *load_default_lexicon(void)
{
    const char *root = getenv("GS_SOURCE_DIR");
    assert_non_null(root);
    snprintf(lex_harm, sizeof(lex_harm), "%s/config/lexicon/harm.txt", root);
    snprintf(lex_care, sizeof(lex_care), "%s/config/lexicon/care.txt", root);
    gs_lexicon_t *lx = NULL;
    char err[512] = "";
    if (gs_lexicon_load(lex_harm, lex_care, &lx, err, sizeof(err)))
        fail_msg("lexicon load: %s", err);
    return lx;
}

static double score1(const gs_lexicon_t *lx, const char *text)
{
    gs_str_t t = S(text);
    return gs_lexicon_score(lx, &t, 1);
}

/* Expected score: start 0.8, -0.15 per harm, +0.05 per care, clamped;
 * a multiple of 0.05, so computed in twentieths. */
static double expect_score(int harm, int care)
{
    int k = 16 - 3 * harm + care;
    return (k < 0 ? 0 : k > 20 ? 20 : k) / 20.0;
}

static void test_lexicon_words(void **state)
{
    fixture_t *f = *state;
    gs_lexicon_t *lx = f->lx = load_default_lexicon();
    assert_near(gs_lexicon_score(lx, NULL, 0), 0.8);
    assert_near(score1(lx, ""), 0.8);
    assert_near(score1(lx, "the weather is nice"), 0.8);
    assert_near(score1(lx, "kill"), 0.65);
    assert_near(score1(lx, "KILL"), 0.65);
    assert_near(score1(lx, "Kill them"), 0.65);
    assert_near(score1(lx, "'kill'"), 0.65); /* quotes are not part of the word */
    assert_near(score1(lx, "\"kill\""), 0.65);
    assert_near(score1(lx, "(kill),"), 0.65);
    assert_near(score1(lx, "killer"), 0.8); /* whole words only */
    assert_near(score1(lx, "skill"), 0.8);
    assert_near(score1(lx, "kill2"), 0.8);
    assert_near(score1(lx, "kill_"), 0.65);       /* '_' is not a word character */
    assert_near(score1(lx, "kill\xc3\xa9"), 0.8); /* non-ASCII bytes are word bytes */
    assert_near(score1(lx, "\xc3\xa9kill"), 0.8);
    /* Unicode punctuation separates words as ASCII punctuation does */
    assert_near(score1(lx, "\xe2\x80\x9ckill\xe2\x80\x9d"), 0.65); /* curly double quotes */
    assert_near(score1(lx, "kill\xe2\x80\x94now"), 0.65);          /* em dash */
    assert_near(score1(lx, "\xe3\x80\x8ckill\xe3\x80\x8d"), 0.65); /* CJK corner brackets */
    assert_near(score1(lx, "\xef\xbc\x88kill\xef\xbc\x89"), 0.65); /* full-width parens */
    assert_near(score1(lx, "\xc2\xbfkill?"), 0.65);                /* inverted question mark */
    assert_near(score1(lx, "b\xc3\xb6mb \xce\xbckill"), 0.8);      /* letters stay in words */
    assert_near(score1(lx, "help"), 0.85);
    assert_near(score1(lx, "HeLp"), 0.85);
    assert_near(score1(lx, "helpful"), 0.8);
    assert_near(score1(lx, "kill kill"), 0.5);
    assert_near(score1(lx, "help, kill."), 0.7);
    /* clamped at both ends */
    assert_near(score1(lx, "hate hate hate hate hate hate"), 0.0);
    assert_near(score1(lx, "help love care peace trust"), 1.0);
    assert_near(score1(lx, "help love care peace trust kind fair"), 1.0);

    /* texts are summed, and a word never spans two texts */
    gs_str_t texts[] = {S("kill"), S("bomb the"), S("help"), S("ki"), S("ll")};
    assert_near(gs_lexicon_score(lx, texts, 3), 0.55);
    assert_near(gs_lexicon_score(lx, texts + 3, 2), 0.8);

    /* a view is bounded by its length, not by a NUL */
    gs_str_t part = {"help kill", 4};
    assert_near(gs_lexicon_score(lx, &part, 1), 0.85);
}

/* Scores are multiples of 0.05 and must compare exactly against the
 * threshold grid, as SPEC 3.1 requires of the threshold itself: a text whose
 * score is 0.8 must be accepted at threshold 0.8. */
static void test_lexicon_score_exact(void **state)
{
    fixture_t *f = *state;
    f->lx = load_default_lexicon();
    static char text[8192];
    int combos = 0, inexact = 0, below = 0, bh = -1, bc = -1;
    double bgot = 0, bwant = 0;
    for (int h = 0; h <= 40; h++) {
        for (int c = 0; c <= 120; c++) {
            size_t len = 0;
            for (int i = 0; i < h; i++)
                len += (size_t)snprintf(text + len, sizeof(text) - len, "kill ");
            for (int i = 0; i < c; i++)
                len += (size_t)snprintf(text + len, sizeof(text) - len, "help ");
            gs_str_t t = {text, len};
            double got = gs_lexicon_score(f->lx, &t, 1), want = expect_score(h, c);
            combos++;
            inexact += got != want;
            /* below the exact value is the harmful direction: it rejects a
             * text at a threshold equal to its score (thresholds 0.30..0.85) */
            if (got < want && want >= 0.30 && want < 0.90 && !below++)
                bh = h, bc = c, bgot = got, bwant = want;
        }
    }
    if (inexact)
        fail_msg("%d of %d (harm, care) counts score inexactly, %d of them below the exact "
                 "value inside [0.30,0.90); first: %d harm + %d care words score %.17g, want %.17g",
                 inexact, combos, below, bh, bc, bgot, bwant);
}

static void test_lexicon_new_and_conflicts(void **state)
{
    (void)state;
    const char *harm[] = {"Kill", "BOMB"};
    const char *care[] = {"help"};
    gs_lexicon_t *lx = NULL;
    char err[512] = "";
    assert_int_equal(gs_lexicon_new(harm, 2, care, 1, &lx, err, sizeof(err)), GS_OK);
    assert_near(score1(lx, "kill"), 0.65); /* list entries are case-insensitive too */
    assert_near(score1(lx, "bomb Bomb"), 0.5);
    assert_near(score1(lx, "hate"), 0.8); /* only the given words */
    assert_near(score1(lx, "help"), 0.85);
    gs_lexicon_destroy(lx);

    /* a word in both lists (in any case) is an error naming it */
    const char *care2[] = {"peace", "kill"};
    lx = NULL;
    assert_int_equal(gs_lexicon_new(harm, 2, care2, 2, &lx, err, sizeof(err)), GS_ERR_CONFIG);
    assert_null(lx);
    assert_contains(err, "kill");
    assert_contains(err, "both");
    const char *care3[] = {"bomb"};
    assert_int_equal(gs_lexicon_new(harm, 2, care3, 1, &lx, err, sizeof(err)), GS_ERR_CONFIG);

    /* empty lists: nothing matches */
    assert_int_equal(gs_lexicon_new(NULL, 0, NULL, 0, &lx, err, sizeof(err)), GS_OK);
    assert_near(score1(lx, "kill help"), 0.8);
    gs_lexicon_destroy(lx);

    /* many words (table growth) all found */
    enum { N = 500 };
    static char words[N][16];
    const char *wp[N];
    for (int i = 0; i < N; i++) {
        snprintf(words[i], sizeof(words[i]), "w%d", i);
        wp[i] = words[i];
    }
    assert_int_equal(gs_lexicon_new(wp, N, NULL, 0, &lx, err, sizeof(err)), GS_OK);
    for (int i = 0; i < N; i++)
        if (fabs(score1(lx, words[i]) - 0.65) > 1e-9)
            fail_msg("word %s not found", words[i]);
    assert_near(score1(lx, "w500"), 0.8);
    gs_lexicon_destroy(lx);
}

/* Writes text to a fresh temp file; path must hold 64 bytes. */
/* Writes text to a fresh temp file that the teardown removes. */
static const char *write_temp(fixture_t *f, const char *text)
{
    assert_true(f->n_files < 4);
    char *path = f->files[f->n_files];
    strcpy(path, "/tmp/gs_test_lexXXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    f->n_files++;
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static void test_lexicon_load_files(void **state)
{
    fixture_t *f = *state;
    const char *harm = write_temp(f, "# harm words\n\nkill\r\n  Bomb  # trailing comment\n");
    const char *care = write_temp(f, "help\n");
    const char *empty = write_temp(f, "");
    const char *both = write_temp(f, "help\nkill\n");
    char err[512] = "";

    if (gs_lexicon_load(harm, care, &f->lx, err, sizeof(err)))
        fail_msg("load: %s", err);
    assert_near(score1(f->lx, "bomb help"), 0.7);
    assert_near(score1(f->lx, "kill"), 0.65);
    assert_near(score1(f->lx, "harm"), 0.8);
    gs_lexicon_destroy(f->lx);
    f->lx = NULL;

    /* an empty care list is fine */
    if (gs_lexicon_load(harm, empty, &f->lx, err, sizeof(err)))
        fail_msg("load with empty care list: %s", err);
    assert_near(score1(f->lx, "help kill"), 0.65);
    gs_lexicon_destroy(f->lx);
    f->lx = NULL;

    /* a word in both files is a load error */
    gs_lexicon_t *lx = NULL;
    assert_int_equal(gs_lexicon_load(harm, both, &lx, err, sizeof(err)), GS_ERR_CONFIG);
    assert_null(lx);
    assert_contains(err, "kill");

    /* a missing file names its path */
    assert_int_equal(gs_lexicon_load("/nonexistent/harm.txt", care, &lx, err, sizeof(err)),
                     GS_ERR_IO);
    assert_contains(err, "/nonexistent/harm.txt");
}

/* ---- decide ------------------------------------------------------------------ */

static gs_verdict_t decide(gs_govern_t *g, const char *key, double v)
{
    gs_verdict_t out;
    char err[256] = "";
    memset(&out, 0xA5, sizeof(out));
    gs_err_t rc = gs_govern_one(g, S(key), 1, v, NULL, 0, 0, &out, err, sizeof(err));
    if (rc)
        fail_msg("decide(%s, %.17g): %s", key, v, err);
    return out;
}

static void test_govern_new_args(void **state)
{
    fixture_t *f = *state;
    f->lx = load_default_lexicon();
    gs_govern_conf_t gc = {.wake_steps = 8,
                           .sleep_steps = 3,
                           .sleep_policy = GS_SLEEP_DEGRADE,
                           .sleep_max_tokens = 16,
                           .max_scopes = 0,
                           .memory_capacity = 16,
                           .max_memory_bytes = 64u << 20,
                           .scope_idle_us = 0};
    gs_govern_t *g = NULL;
    char err[256] = "";
    assert_int_equal(gs_govern_new(&gc, f->lx, &g, err, sizeof(err)), GS_ERR_INVALID_ARG);
    gc.max_scopes = 4;
    assert_int_equal(gs_govern_new(&gc, NULL, &g, err, sizeof(err)), GS_ERR_INVALID_ARG);
    assert_null(g);

    /* conf_from copies the governance section of the configuration */
    gs_config_t *cfg = NULL;
    const char *ov[] = {"governance.wake_steps=5", "governance.sleep_policy=reject",
                        "governance.sleep_max_tokens=7", "governance.max_scopes=42",
                        "batch.max=16"};
    if (gs_config_load(NULL, NULL, ov, 5, &cfg, err, sizeof(err)))
        fail_msg("config: %s", err);
    gs_govern_conf_from(&gc, cfg);
    assert_int_equal(gc.wake_steps, 5);
    assert_int_equal(gc.sleep_steps, 3);
    assert_int_equal(gc.sleep_policy, GS_SLEEP_REJECT);
    assert_int_equal(gc.sleep_max_tokens, 7);
    assert_int_equal(gc.max_scopes, 42);
    gs_config_destroy(cfg);
}

/* step is 1-based per scope, phase is the phase before stepping. */
static void test_govern_steps_and_phases(void **state)
{
    fixture_t *f = *state;
    gs_govern_t *g = new_govern(f, 8, 3, GS_SLEEP_DEGRADE, 16, 16);
    for (int i = 0; i < 33; i++) {
        gs_verdict_t v = decide(g, "tenant-a", 0.95);
        assert_int_equal(v.step, i + 1);
        gs_phase_t want = (i % 11) < 8 ? GS_PHASE_WAKE : GS_PHASE_SLEEP;
        if (v.phase != want)
            fail_msg("request %d: phase %d, want %d", i + 1, v.phase, want);
        assert_int_equal(v.accepted, 1);
        assert_string_equal(v.note, "processed");
        assert_int_equal(v.context_items, 0);
        assert_int_equal(v.max_tokens_cap, want == GS_PHASE_SLEEP ? 16 : 256);
        assert_dbl_eq(v.moral_value, 0.95);
    }
}

/* Two keys never share state: steps, phases and thresholds are separate. */
static void test_govern_scope_isolation(void **state)
{
    fixture_t *f = *state;
    gs_govern_t *g = new_govern(f, 8, 3, GS_SLEEP_DEGRADE, 16, 16);
    /* drive A's threshold to the floor with rejections */
    for (int i = 0; i < 20; i++)
        decide(g, "A", 0.0);
    gs_verdict_t a = decide(g, "A", 0.0);
    assert_int_equal(a.step, 21);
    assert_dbl_eq(a.moral_threshold, 0.30);
    gs_verdict_t b = decide(g, "B", 0.5);
    assert_int_equal(b.step, 1);
    assert_int_equal(b.phase, GS_PHASE_WAKE);
    assert_dbl_eq(b.moral_threshold, 0.5);
    assert_int_equal(b.accepted, 1);
    /* keys differing only in case or length are different scopes */
    assert_int_equal(decide(g, "a", 0.5).step, 1);
    assert_int_equal(decide(g, "AA", 0.5).step, 1);
    assert_int_equal(decide(g, "A", 0.5).step, 22);
    gs_scope_stats_t st = gs_govern_stats(g);
    assert_int_equal(st.scopes, 4);
    assert_int_equal(st.created, 4);
    assert_int_equal(st.evicted, 0);
}

static void test_govern_sleep_reject(void **state)
{
    fixture_t *f = *state;
    gs_govern_t *g = new_govern(f, 8, 3, GS_SLEEP_REJECT, 16, 16);
    for (int i = 0; i < 22; i++) {
        gs_verdict_t v = decide(g, "k", 0.95); /* always morally acceptable */
        int sleeping = (i % 11) >= 8;
        assert_int_equal(v.phase, sleeping ? GS_PHASE_SLEEP : GS_PHASE_WAKE);
        assert_int_equal(v.accepted, !sleeping);
        assert_string_equal(v.note, sleeping ? "sleep phase" : "processed");
    }
    for (int i = 0; i < 22; i++) {
        gs_verdict_t v = decide(g, "r", 0.1); /* always morally rejected */
        assert_int_equal(v.accepted, 0);
        assert_string_equal(v.note, "morally rejected");
        assert_int_equal(v.phase, (i % 11) >= 8 ? GS_PHASE_SLEEP : GS_PHASE_WAKE);
    }
}

static void test_govern_sleep_degrade(void **state)
{
    fixture_t *f = *state;
    gs_govern_t *g = new_govern(f, 3, 2, GS_SLEEP_DEGRADE, 11, 16);
    for (int i = 0; i < 15; i++) {
        gs_verdict_t v = decide(g, "k", 0.95);
        int sleeping = (i % 5) >= 3;
        assert_int_equal(v.phase, sleeping ? GS_PHASE_SLEEP : GS_PHASE_WAKE);
        assert_int_equal(v.accepted, 1);
        assert_string_equal(v.note, "processed");
        assert_int_equal(v.max_tokens_cap, sleeping ? 11 : 256);
    }
    /* rejected requests stay rejected in either phase */
    for (int i = 0; i < 10; i++) {
        gs_verdict_t v = decide(g, "r", 0.2);
        assert_int_equal(v.accepted, 0);
        assert_string_equal(v.note, "morally rejected");
    }
}

/* The verdict carries the threshold the request was judged against. */
static void test_govern_threshold_before_adapt(void **state)
{
    fixture_t *f = *state;
    gs_govern_t *g = new_govern(f, 8, 3, GS_SLEEP_DEGRADE, 16, 16);
    gs_verdict_t v = decide(g, "t", 1.0);
    assert_dbl_eq(v.moral_threshold, 0.5);
    v = decide(g, "t", 1.0); /* the first acceptance moved nothing (error exactly 0.05) */
    assert_dbl_eq(v.moral_threshold, 0.5);
    v = decide(g, "t", 1.0);
    assert_dbl_eq(v.moral_threshold, 0.55);
    /* 0.6 now: 0.59 is judged against 0.6 and rejected */
    v = decide(g, "t", 0.59);
    assert_dbl_eq(v.moral_threshold, 0.6);
    assert_int_equal(v.accepted, 0);
    assert_string_equal(v.note, "morally rejected");
    assert_dbl_eq(v.moral_value, 0.59);
}

/* Without a value the lexicon scores the texts. */
static void test_govern_computed_value(void **state)
{
    fixture_t *f = *state;
    gs_govern_t *g = new_govern(f, 100, 1, GS_SLEEP_DEGRADE, 16, 16);
    gs_verdict_t out;
    char err[256] = "";
    gs_str_t help[] = {S("please help me"), S("with respect")};
    /* the value argument is ignored (even NaN) when has_value is 0 */
    assert_int_equal(gs_govern_one(g, S("x"), 0, NAN, help, 2, 0, &out, err, sizeof(err)), GS_OK);
    assert_near(out.moral_value, 0.9);
    assert_int_equal(out.accepted, 1);

    gs_str_t kill2[] = {S("kill"), S("KILL!")};
    assert_int_equal(gs_govern_one(g, S("y"), 0, 0.0, kill2, 2, 0, &out, err, sizeof(err)), GS_OK);
    assert_near(out.moral_value, 0.5);
    assert_dbl_eq(out.moral_threshold, 0.5);
    assert_int_equal(out.accepted, 1); /* 0.5 >= 0.5 */

    gs_str_t kill3 = S("kill kill kill");
    assert_int_equal(gs_govern_one(g, S("z"), 0, 1.0, &kill3, 1, 0, &out, err, sizeof(err)), GS_OK);
    assert_near(out.moral_value, 0.35);
    assert_int_equal(out.accepted, 0);
    assert_string_equal(out.note, "morally rejected");

    /* no texts at all: the base score */
    assert_int_equal(gs_govern_one(g, S("w"), 0, 0.0, NULL, 0, 0, &out, err, sizeof(err)), GS_OK);
    assert_near(out.moral_value, 0.8);
}

/* A scored 0.8 must pass a threshold of exactly 0.8 (SPEC 3.1's drift
 * example, reached here through the lexicon instead of the threshold). */
static void test_govern_computed_value_at_threshold(void **state)
{
    fixture_t *f = *state;
    gs_govern_t *g = new_govern(f, 1000, 1, GS_SLEEP_DEGRADE, 16, 16);
    for (int i = 0; i < 7; i++) /* 0.50 (first acceptance: no move), then 6 steps up */
        decide(g, "s", 1.0);
    /* 20 harm and 60 care words: 0.8 - 3.0 + 3.0 = 0.8 */
    static char text[1024];
    size_t len = 0;
    for (int i = 0; i < 20; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "kill help help help ");
    gs_str_t t = {text, len};
    gs_verdict_t out;
    char err[256] = "";
    assert_int_equal(gs_govern_one(g, S("s"), 0, 0.0, &t, 1, 0, &out, err, sizeof(err)), GS_OK);
    assert_dbl_eq(out.moral_threshold, 0.8);
    if (!out.accepted)
        fail_msg("scored %.17g (exactly 0.8 by SPEC 3.2) rejected at threshold 0.8 (%s)",
                 out.moral_value, out.note);
    assert_dbl_eq(out.moral_value, 0.8);
}

static void test_govern_invalid(void **state)
{
    fixture_t *f = *state;
    gs_govern_t *g = new_govern(f, 8, 3, GS_SLEEP_DEGRADE, 16, 16);
    const double bad[] = {NAN, -0.1, 1.1, -0.0001, nextafter(1.0, 2.0), INFINITY, -INFINITY};
    gs_verdict_t out;
    char err[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        gs_err_t rc = gs_govern_one(g, S("k"), 1, bad[i], NULL, 0, 0, &out, err, sizeof(err));
        if (rc != GS_ERR_VALIDATION)
            fail_msg("value %.17g: %s, want VALIDATION", bad[i], gs_err_name(rc));
        assert_contains(err, "moral value");
    }
    /* scope keys: 1..128 bytes */
    char key[130];
    memset(key, 'k', sizeof(key));
    assert_int_equal(
        gs_govern_one(g, (gs_str_t){key, 0}, 1, 0.5, NULL, 0, 0, &out, err, sizeof(err)),
        GS_ERR_VALIDATION);
    assert_int_equal(
        gs_govern_one(g, (gs_str_t){key, 129}, 1, 0.5, NULL, 0, 0, &out, err, sizeof(err)),
        GS_ERR_VALIDATION);
    /* invalid requests are not governed: no scope was created or stepped */
    assert_int_equal(gs_govern_stats(g).created, 0);
    assert_int_equal(
        gs_govern_one(g, (gs_str_t){key, 128}, 1, 0.5, NULL, 0, 0, &out, err, sizeof(err)), GS_OK);
    assert_int_equal(out.step, 1);
    /* 0.0 and 1.0 themselves are valid */
    assert_int_equal(decide(g, "k", 0.0).step, 1);
    assert_int_equal(decide(g, "k", 1.0).step, 2);
}

static void test_govern_lru(void **state)
{
    fixture_t *f = *state;
    gs_govern_t *g = new_govern(f, 8, 3, GS_SLEEP_DEGRADE, 16, 3);
    gs_scope_stats_t st = gs_govern_stats(g);
    assert_int_equal(st.max_scopes, 3);
    assert_true(st.bytes > 0);
    assert_int_equal(st.scopes, 0);

    decide(g, "A", 1.0);
    decide(g, "B", 1.0);
    decide(g, "C", 1.0);
    assert_int_equal(decide(g, "A", 1.0).step, 2); /* touch A: LRU order B, C, A */
    st = gs_govern_stats(g);
    assert_int_equal(st.scopes, 3);
    assert_int_equal(st.created, 3);
    assert_int_equal(st.evicted, 0);

    assert_int_equal(decide(g, "D", 1.0).step, 1); /* evicts B */
    st = gs_govern_stats(g);
    assert_int_equal(st.scopes, 3);
    assert_int_equal(st.created, 4);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(decide(g, "A", 1.0).step, 3); /* kept */
    assert_int_equal(decide(g, "C", 1.0).step, 2); /* kept; order D, A, C */

    /* B comes back fresh (step 1, threshold 0.5) and evicts D */
    gs_verdict_t b = decide(g, "B", 1.0);
    assert_int_equal(b.step, 1);
    assert_dbl_eq(b.moral_threshold, 0.5);
    assert_int_equal(decide(g, "A", 1.0).step, 4);
    assert_int_equal(decide(g, "C", 1.0).step, 3);
    assert_int_equal(decide(g, "D", 1.0).step, 1); /* D was evicted; now B goes */
    assert_int_equal(decide(g, "B", 1.0).step, 1);
    st = gs_govern_stats(g);
    assert_int_equal(st.scopes, 3);
    assert_int_equal(st.created, 7);
    assert_int_equal(st.evicted, 4);
    assert_int_equal(st.max_scopes, 3);
}

/* ---- model-based test of decide --------------------------------------------- */

typedef struct ref_scope {
    char key[8];
    int live;
    uint64_t last_used;
    ref_moral_t moral;
    uint32_t pos;
    int64_t steps;
} ref_scope_t;

#define REF_MAX 4

/* Builds a text from known words and returns its expected score. */
static double random_text(char *buf, size_t size)
{
    static const char *const harm[] = {"kill", "Bomb", "HATE", "'murder'"};
    static const char *const care[] = {"help", "Peace", "TRUST", "(kind)"};
    static const char *const none[] = {"the", "killer", "helpful", "river", "b\xc3\xb6mb"};
    int h = 0, c = 0;
    size_t len = 0;
    int words = (int)rng_below(8);
    buf[0] = '\0';
    for (int i = 0; i < words; i++) {
        const char *w;
        switch (rng_below(3)) {
        case 0:
            w = harm[rng_below(4)];
            h++;
            break;
        case 1:
            w = care[rng_below(4)];
            c++;
            break;
        default:
            w = none[rng_below(5)];
        }
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? " " : "", w);
    }
    return expect_score(h, c);
}

static void test_govern_model(void **state)
{
    fixture_t *f = *state;
    static const char *const keys[] = {"k0", "k1", "k2", "k3", "k4", "k5"};
    for (int cfg = 0; cfg < 40; cfg++) {
        uint64_t seed = 0x5EED0000ull + (uint64_t)cfg;
        rng_seed(seed);
        uint32_t wake = 1 + rng_below(10), sleep = 1 + rng_below(5);
        int policy = (int)rng_below(2);
        int cap = 1 + (int)rng_below(256);
        gs_govern_t *g = new_govern(f, wake, sleep, policy, cap, REF_MAX);
        ref_scope_t ref[REF_MAX];
        memset(ref, 0, sizeof(ref));
        uint64_t clock = 0, created = 0, evicted = 0;
        for (int i = 0; i < 3000; i++) {
            const char *key = keys[rng_below(6)];
            int has = rng_below(3) != 0;
            char text[256];
            double want_v = random_text(text, sizeof(text));

            /* reference: find or create (evicting the least recently used) */
            ref_scope_t *s = NULL;
            for (int j = 0; j < REF_MAX; j++)
                if (ref[j].live && !strcmp(ref[j].key, key))
                    s = &ref[j];
            if (!s) {
                for (int j = 0; j < REF_MAX && !s; j++)
                    if (!ref[j].live)
                        s = &ref[j];
                if (!s) {
                    s = &ref[0];
                    for (int j = 1; j < REF_MAX; j++)
                        if (ref[j].last_used < s->last_used)
                            s = &ref[j];
                    evicted++;
                }
                memset(s, 0, sizeof(*s));
                snprintf(s->key, sizeof(s->key), "%s", key);
                s->live = 1;
                ref_moral_init(&s->moral);
                created++;
            }
            s->last_used = ++clock;
            double want_t = s->moral.t20 / 20.0;
            gs_moral_t cur = {s->moral.t20, s->moral.ema};
            double v = has ? pick_value(&cur, 0.5) : 0.0;
            if (has)
                want_v = v;
            int want_acc = ref_moral_eval(&s->moral, want_v);
            ref_moral_adapt(&s->moral, want_acc);
            gs_phase_t want_ph = s->pos < wake ? GS_PHASE_WAKE : GS_PHASE_SLEEP;
            const char *want_note = want_acc ? "processed" : "morally rejected";
            int want_cap = 256;
            if (want_ph == GS_PHASE_SLEEP) {
                if (policy == GS_SLEEP_REJECT && want_acc)
                    want_acc = 0, want_note = "sleep phase";
                else
                    want_cap = cap;
            }
            s->pos = (s->pos + 1) % (wake + sleep);
            s->steps++;

            gs_verdict_t out;
            char err[256] = "";
            gs_str_t t = S(text);
            gs_err_t rc = gs_govern_one(g, S(key), has, v, &t, 1, 0, &out, err, sizeof(err));
            if (rc || out.accepted != want_acc || strcmp(out.note, want_note) ||
                out.phase != want_ph || out.step != s->steps || out.moral_threshold != want_t ||
                !(fabs(out.moral_value - want_v) < 1e-9) || out.max_tokens_cap != want_cap)
                fail_msg("seed %llu request %d key %s text \"%s\" has %d v %.17g: rc %d "
                         "accepted %d/%d note %s/%s phase %d/%d step %lld/%lld "
                         "threshold %.17g/%.17g value %.17g/%.17g cap %d/%d",
                         (unsigned long long)seed, i, key, text, has, v, rc, out.accepted, want_acc,
                         out.note, want_note, out.phase, want_ph, (long long)out.step,
                         (long long)s->steps, out.moral_threshold, want_t, out.moral_value, want_v,
                         out.max_tokens_cap, want_cap);
        }
        gs_scope_stats_t st = gs_govern_stats(g);
        assert_int_equal(st.created, created);
        assert_int_equal(st.evicted, evicted);
        assert_int_equal(st.scopes, REF_MAX);
    }
}

/* ---- rate limits ---------------------------------------------------------- */

static gs_ratelimit_t *limiter(double rate, double burst, size_t max)
{
    gs_ratelimit_t *rl = NULL;
    char err[256];
    gs_ratelimit_conf_t c = {.rate = rate, .burst = burst, .max_buckets = max};
    if (gs_ratelimit_new(&c, &rl, err, sizeof(err)))
        fail_msg("%s", err);
    return rl;
}

/* The changelog as a list of records: the last one per key wins. */
typedef struct rl_log {
    int32_t part[64];
    char key[64][32];
    uint8_t value[64][32];
    size_t value_len[64];
    int tomb[64];
    size_t n;
} rl_log_t;

static void rl_emit(void *opaque, int32_t partition, const void *key, size_t key_len,
                    const void *value, size_t value_len)
{
    rl_log_t *l = opaque;
    assert_true(l->n < 64 && key_len < 32 && value_len <= 32);
    l->part[l->n] = partition;
    memcpy(l->key[l->n], key, key_len);
    l->key[l->n][key_len] = 0;
    l->tomb[l->n] = value == NULL;
    if (value)
        memcpy(l->value[l->n], value, value_len);
    l->value_len[l->n++] = value_len;
}

static void rl_changes(gs_ratelimit_t *rl, rl_log_t *l)
{
    char err[256];
    assert_int_equal(gs_ratelimit_store_ops.changes(rl, rl_emit, l, err, sizeof(err)), GS_OK);
}

static void test_ratelimit_bucket(void **state)
{
    (void)state;
    gs_ratelimit_t *rl = limiter(2, 3, 100); /* 2/s, burst 3 */
    int64_t t = 1000000;
    for (int i = 0; i < 3; i++)
        assert_int_equal(gs_ratelimit_take(rl, 0, S("a"), t), 1);
    assert_int_equal(gs_ratelimit_take(rl, 0, S("a"), t), 0);
    /* another tenant, and the same tenant on another partition, are apart */
    assert_int_equal(gs_ratelimit_take(rl, 0, S("b"), t), 1);
    assert_int_equal(gs_ratelimit_take(rl, 1, S("a"), t), 1);
    /* 499 ms give 0.998 tokens, 500 ms one */
    assert_int_equal(gs_ratelimit_take(rl, 0, S("a"), t + 499), 0);
    assert_int_equal(gs_ratelimit_take(rl, 0, S("a"), t + 500), 1);
    /* a timestamp that goes back adds nothing */
    assert_int_equal(gs_ratelimit_take(rl, 0, S("a"), t - 60000), 0);
    /* an hour later: full again, no more than the burst */
    int passed = 0;
    for (int i = 0; i < 10; i++)
        passed += gs_ratelimit_take(rl, 0, S("a"), t + 3600000);
    assert_int_equal(passed, 3);
    assert_int_equal(gs_ratelimit_refused(rl), 3 + 7);
    gs_ratelimit_destroy(rl);
}

/* What a worker logs, a new owner restores: the same decisions after. */
static void test_ratelimit_restore(void **state)
{
    (void)state;
    gs_ratelimit_t *a = limiter(1, 2, 100), *b = limiter(1, 2, 100);
    rl_log_t l = {0};
    int64_t t = 5000;
    gs_ratelimit_take(a, 3, S("tenant-1"), t);
    gs_ratelimit_take(a, 3, S("tenant-1"), t);
    gs_ratelimit_take(a, 4, S("tenant-2"), t);
    rl_changes(a, &l);
    assert_int_equal(l.n, 2);
    rl_changes(a, &l); /* nothing changed since */
    assert_int_equal(l.n, 2);
    char err[256];
    for (size_t i = 0; i < l.n; i++)
        assert_int_equal(gs_ratelimit_store_ops.apply(b, l.part[i], i, l.key[i], strlen(l.key[i]),
                                                      l.value[i], l.value_len[i], err, sizeof(err)),
                         GS_OK);
    assert_int_equal(gs_ratelimit_store_ops.restored(b, 3), 1);
    assert_int_equal(gs_ratelimit_store_ops.restored(b, 4), 1);
    for (int64_t dt = 0; dt < 5000; dt += 250)
        assert_int_equal(gs_ratelimit_take(a, 3, S("tenant-1"), t + dt),
                         gs_ratelimit_take(b, 3, S("tenant-1"), t + dt));
    /* a corrupt value is refused, the bucket unchanged */
    uint8_t bad[17] = {9};
    assert_int_not_equal(gs_ratelimit_store_ops.apply(b, 3, 9, "x", 1, bad, 17, err, sizeof(err)),
                         GS_OK);
    assert_int_not_equal(gs_ratelimit_store_ops.apply(b, 3, 9, "x", 1, bad, 5, err, sizeof(err)),
                         GS_OK);
    assert_int_equal(gs_ratelimit_store_ops.restored(b, 3), 1);
    /* a tombstone removes it */
    assert_int_equal(
        gs_ratelimit_store_ops.apply(b, 3, 10, "tenant-1", 8, NULL, 0, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_ratelimit_store_ops.restored(b, 3), 0);
    gs_ratelimit_destroy(a);
    gs_ratelimit_destroy(b);
}

/* Full buckets go first when the table is full (a tombstone each); a
 * dropped partition is never logged again. */
static void test_ratelimit_evict_and_drop(void **state)
{
    (void)state;
    gs_ratelimit_t *rl = limiter(1, 1, 2);
    rl_log_t l = {0};
    gs_ratelimit_take(rl, 0, S("a"), 0); /* empty until t = 1000 */
    gs_ratelimit_take(rl, 0, S("b"), 0);
    rl_changes(rl, &l);
    l.n = 0;
    /* both empty at t = 500: nothing to evict, c passes uncounted */
    assert_int_equal(gs_ratelimit_take(rl, 0, S("c"), 500), 1);
    assert_int_equal(gs_ratelimit_store_ops.restored(rl, 0), 2);
    /* at t = 2000 both are full: evicted, c gets a bucket */
    assert_int_equal(gs_ratelimit_take(rl, 0, S("c"), 2000), 1);
    assert_int_equal(gs_ratelimit_take(rl, 0, S("c"), 2000), 0);
    rl_changes(rl, &l);
    int tombs = 0, c = 0;
    for (size_t i = 0; i < l.n; i++) {
        tombs += l.tomb[i];
        c += !strcmp(l.key[i], "c") && !l.tomb[i];
    }
    assert_int_equal(tombs, 2);
    assert_int_equal(c, 1);
    gs_ratelimit_take(rl, 0, S("c"), 9000);
    gs_ratelimit_store_ops.drop(rl, 0);
    l.n = 0;
    rl_changes(rl, &l);
    assert_int_equal(l.n, 0);
    assert_int_equal(gs_ratelimit_store_ops.restored(rl, 0), 0);
    /* the partition comes back: a new bucket, full */
    assert_int_equal(gs_ratelimit_take(rl, 0, S("c"), 9000), 1);
    gs_ratelimit_destroy(rl);
}

/* Tombstones restored in between live records: every lookup still finds
 * its bucket (deletion keeps the probe chains whole). */
static void test_ratelimit_tombstones(void **state)
{
    (void)state;
    gs_ratelimit_t *rl = limiter(1, 4, 600);
    char key[32], err[256];
    uint8_t empty[17] = {1}; /* version 1, 0 tokens at t = 0 */
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(gs_ratelimit_store_ops.apply(rl, i % 3, (uint64_t)i, key, strlen(key),
                                                      empty, sizeof(empty), err, sizeof(err)),
                         GS_OK);
    }
    for (int i = 0; i < 500; i += 2) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(gs_ratelimit_store_ops.apply(rl, i % 3, 1000, key, strlen(key), NULL, 0,
                                                      err, sizeof(err)),
                         GS_OK);
    }
    size_t live = 0;
    for (int32_t p = 0; p < 3; p++)
        live += gs_ratelimit_store_ops.restored(rl, p);
    assert_int_equal(live, 250);
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        /* deleted: a new, full bucket; kept: still empty at t = 0 */
        assert_int_equal(gs_ratelimit_take(rl, i % 3, S(key), 0), i % 2 == 0);
    }
    gs_ratelimit_destroy(rl);
}

static void count_emit(void *opaque, int32_t partition, const void *key, size_t key_len,
                       const void *value, size_t value_len)
{
    (void)partition, (void)key, (void)key_len, (void)value, (void)value_len;
    ++*(size_t *)opaque;
}

static void test_ratelimit_many(void **state)
{
    (void)state;
    gs_ratelimit_t *rl = limiter(10, 5, 1000);
    char key[32], err[256];
    size_t records = 0;
    /* far more tenants than buckets, over time: the table never jams, and
     * never holds more than max_buckets */
    for (int i = 0; i < 200000; i++) {
        snprintf(key, sizeof(key), "t%d", i % 5000);
        gs_ratelimit_take(rl, i % 7, S(key), (int64_t)i);
        if (i % 1000 == 999)
            assert_int_equal(
                gs_ratelimit_store_ops.changes(rl, count_emit, &records, err, sizeof(err)), GS_OK);
    }
    size_t live = 0;
    for (int32_t p = 0; p < 7; p++)
        live += gs_ratelimit_store_ops.restored(rl, p);
    if (!(live > 0 && live <= 1000))
        fail_msg("%zu live buckets", live);
    assert_true(records >= 200000 / 1000);
    gs_ratelimit_destroy(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moral_initial),
        cmocka_unit_test(test_moral_evaluate_bands),
        cmocka_unit_test(test_moral_adapt_rule),
        cmocka_unit_test(test_moral_threshold_no_drift),
        cmocka_unit_test(test_moral_property),
        cmocka_unit_test(test_moral_sustained_attack),
        cmocka_unit_test(test_moral_all_accept),
        cmocka_unit_test(test_rhythm_default_sequence),
        cmocka_unit_test(test_rhythm_random_configs),
        cmocka_unit_test_setup_teardown(test_lexicon_words, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_lexicon_score_exact, fixture_setup, fixture_teardown),
        cmocka_unit_test(test_lexicon_new_and_conflicts),
        cmocka_unit_test_setup_teardown(test_lexicon_load_files, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_govern_new_args, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_govern_steps_and_phases, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_govern_scope_isolation, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_govern_sleep_reject, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_govern_sleep_degrade, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_govern_threshold_before_adapt, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_govern_computed_value, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_govern_computed_value_at_threshold, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_govern_invalid, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_govern_lru, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_govern_model, fixture_setup, fixture_teardown),
        cmocka_unit_test(test_ratelimit_bucket),
        cmocka_unit_test(test_ratelimit_restore),
        cmocka_unit_test(test_ratelimit_evict_and_drop),
        cmocka_unit_test(test_ratelimit_tombstones),
        cmocka_unit_test(test_ratelimit_many),
    };
    return cmocka_run_group_tests_name("govern", tests, NULL, NULL);
}
