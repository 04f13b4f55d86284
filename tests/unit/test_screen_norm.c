/* The normaliser: word splitting, NFKC and case folding, invisible
 * characters, homoglyphs (each pair checked against ICU's spoof skeletons),
 * diacritics, initials, spans, and random bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/uspoof.h>
#include <unicode/ustring.h>

#include "govstream/screen.h"

typedef struct toks {
    gs_screen_tok_t t[64];
    size_t n;
    char buf[GS_SCREEN_NORM_SIZE(1024)];
} toks_t;

static gs_screen_norm_t *nm;

static int setup(void **state)
{
    (void)state;
    char err[128];
    return gs_screen_norm_new(&nm, err, sizeof(err)) != GS_OK;
}

static int teardown(void **state)
{
    (void)state;
    gs_screen_norm_destroy(nm);
    return 0;
}

static toks_t *split(const char *text)
{
    static toks_t t;
    t.n = gs_screen_norm_tokens(nm, text, strlen(text), t.buf, sizeof(t.buf), t.t, 64);
    return &t;
}

/* The text's words, normalised, joined by "|". */
static const char *words(const char *text)
{
    static char out[2048];
    toks_t *t = split(text);
    out[0] = '\0';
    for (size_t i = 0; i < t->n; i++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? "|" : "",
                 t->buf + t->t[i].off);
    return out;
}

static void test_words(void **state)
{
    (void)state;
    assert_string_equal(words("Оплата: ООО «Северный Луч», ИНН 7707083893."),
                        "оплата|ооо|северный|луч|инн|7707083893");
    assert_string_equal(words("ЩЕРБАКОВ Пётр"), "щербаков|петр");
    assert_string_equal(words("Петров-Водкин"), "петров|водкин");
    assert_string_equal(words("Мар'яна O’Brien"), "маряна|obrien");
    assert_string_equal(words("\xEF\xBC\xA9\xEF\xBC\xB6\xEF\xBC\xA1\xEF\xBC\xAE"),
                        "ivan");                                /* fullwidth */
    assert_string_equal(words("\xEF\xAC\x81nance"), "finance"); /* ligature */
    assert_string_equal(words("Müller Łukasz Straße Éric"), "muller|lukasz|strasse|eric");
    assert_string_equal(words("Ива\xE2\x80\x8Bнов \xE2\x80\xAEПетров\xE2\x80\xAC Сидо\xC2\xADров"),
                        "иванов|петров|сидоров");
    assert_string_equal(words("a\xFF"
                              "b"),
                        "a|b"); /* a malformed byte separates */
    assert_string_equal(words(" -- !!! "), "");
}

static void test_scripts_and_flags(void **state)
{
    (void)state;
    toks_t *t = split("Ivаnov"); /* Cyrillic а */
    assert_int_equal(t->n, 1);
    assert_string_equal(t->buf + t->t[0].off, "ivanov");
    assert_int_equal(t->t[0].script, GS_SCREEN_SCRIPT_LATIN);
    assert_true(t->t[0].flags & GS_SCREEN_TOK_HOMOGLYPH);
    t = split("ИBAНOВ"); /* Latin B and O in a Cyrillic word */
    assert_string_equal(t->buf + t->t[0].off, "иванов");
    assert_int_equal(t->t[0].script, GS_SCREEN_SCRIPT_CYRILLIC);
    t = split("Иванов И.И. 2024 محمد");
    assert_int_equal(t->n, 5);
    assert_true(t->t[1].flags & GS_SCREEN_TOK_INITIAL);
    assert_true(t->t[2].flags & GS_SCREEN_TOK_INITIAL);
    assert_false(t->t[0].flags & GS_SCREEN_TOK_INITIAL);
    assert_int_equal(t->t[3].script, GS_SCREEN_SCRIPT_DIGITS);
    assert_int_equal(t->t[4].script, GS_SCREEN_SCRIPT_OTHER);
    t = split("x Ива\xE2\x80\x8Bнов");
    assert_int_equal(t->t[1].start, 2);
    assert_int_equal(t->t[1].end, 2 + 12 + 3);
    assert_true(t->t[1].flags & GS_SCREEN_TOK_STRIPPED);
}

/* Each look-alike pair has one ICU spoof skeleton. */
static void test_homoglyphs_are_confusable(void **state)
{
    (void)state;
    UErrorCode st = U_ZERO_ERROR;
    USpoofChecker *sc = uspoof_open(&st);
    assert_true(U_SUCCESS(st));
    const uint32_t(*pairs)[2];
    size_t n = gs_screen_norm_homoglyphs(&pairs);
    for (size_t i = 0; i < n; i++) {
        UChar a[2], b[2], sa[16], sb[16];
        int32_t la = 0, lb = 0;
        U16_APPEND_UNSAFE(a, la, (UChar32)pairs[i][0]);
        U16_APPEND_UNSAFE(b, lb, (UChar32)pairs[i][1]);
        st = U_ZERO_ERROR;
        int32_t ka = uspoof_getSkeleton(sc, 0, a, la, sa, 16, &st);
        int32_t kb = uspoof_getSkeleton(sc, 0, b, lb, sb, 16, &st);
        assert_true(U_SUCCESS(st));
        if (ka != kb || memcmp(sa, sb, (size_t)ka * sizeof(UChar)))
            print_message("U+%04X and U+%04X have different skeletons\n", pairs[i][0], pairs[i][1]);
        assert_int_equal(ka, kb);
        assert_memory_equal(sa, sb, (size_t)ka * sizeof(UChar));
    }
    uspoof_close(sc);
}

static void test_random_bytes(void **state)
{
    (void)state;
    uint64_t x = 42;
    char text[300];
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t)(round % 300);
        for (size_t i = 0; i < len; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            text[i] = (char)(x >> 56);
        }
        static char buf[GS_SCREEN_NORM_SIZE(300)];
        gs_screen_tok_t t[400];
        size_t n = gs_screen_norm_tokens(nm, text, len, buf, sizeof(buf), t, 400);
        for (size_t i = 0; i < n; i++) {
            assert_true(t[i].start < t[i].end && t[i].end <= len);
            assert_true(i == 0 || t[i].start >= t[i - 1].end);
            assert_int_equal(strlen(buf + t[i].off), t[i].len);
            assert_true(t[i].len <= GS_SCREEN_TOK_MAX);
        }
    }
}

static void test_speed(void **state)
{
    (void)state;
    char text[1100] = "";
    while (strlen(text) < 1000)
        strcat(text, "Оплата по договору 15 от 02.03.2024, ООО «Северный Луч», invoice 77. ");
    static char buf[GS_SCREEN_NORM_SIZE(1100)];
    gs_screen_tok_t t[400];
    int64_t t0 = gs_now_us();
    for (int i = 0; i < 2000; i++)
        gs_screen_norm_tokens(nm, text, strlen(text), buf, sizeof(buf), t, 400);
    print_message("normalised %zu bytes in %.2f us (mean of 2,000)\n", strlen(text),
                  (double)(gs_now_us() - t0) / 2000.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_scripts_and_flags),
        cmocka_unit_test(test_homoglyphs_are_confusable),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_speed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
