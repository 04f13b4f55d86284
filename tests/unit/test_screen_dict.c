/* Unit tests of the screen kind's payment-context dictionaries
 * (include/govstream/screen_dict.h) and their Aho-Corasick automaton
 * (src/kinds/screen/aho.c): the automaton against a naive search on seeded
 * random patterns and texts, word boundaries, stems, overlaps, malformed
 * UTF-8, every category in payment sentences of each language, and
 * ident.c's context words. Prints the build time and the scan throughput. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/kinds/screen/aho.h"
#include "../../src/kinds/screen/internal.h"
#include "govstream/screen_dict.h"

#define MAX_HITS 256

/* ---- the automaton against a naive search --------------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33) % n;
}

/* A small alphabet, so that patterns overlap and repeat a lot: Latin,
 * Cyrillic, a digit, separators. */
static const char *const alphabet[] = {"a", "b", "о", "п", "і", "1", " ", ".", "-"};
#define NALPHA (sizeof(alphabet) / sizeof(alphabet[0]))

static size_t random_word(char *out, size_t max_units)
{
    size_t n = 0, units = 1 + rnd((uint32_t)max_units);
    for (size_t i = 0; i < units; i++) {
        const char *u = alphabet[rnd(NALPHA)];
        memcpy(out + n, u, strlen(u));
        n += strlen(u);
    }
    out[n] = '\0';
    return n;
}

static int is_word(uint32_t cp)
{
    return gs_cp_letter(cp) || (cp >= '0' && cp <= '9');
}

/* Code point starts of text, decoded forwards (the scan decodes backwards
 * at a match start: the two must agree). */
typedef struct cps {
    size_t n;
    size_t at[2100];
    uint32_t cp[2100];
} cps_t;

static void decode_all(const char *text, size_t len, cps_t *c)
{
    size_t used = 0;
    c->n = 0;
    for (size_t i = 0; i < len; i += used) {
        c->at[c->n] = i;
        c->cp[c->n++] = gs_cp_decode((const unsigned char *)text + i, len - i, &used);
    }
    c->at[c->n] = len;
}

static int cmp_match(const void *pa, const void *pb)
{
    const gs_screen_aho_match_t *a = pa, *b = pb;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    if (a->end != b->end)
        return a->end > b->end ? -1 : 1;
    return a->pattern < b->pattern ? -1 : a->pattern > b->pattern;
}

static uint32_t first_cp(const char *s, size_t len)
{
    size_t used = 0;
    return gs_cp_decode((const unsigned char *)s, len, &used);
}

static uint32_t last_cp(const char *s, size_t len)
{
    cps_t *c = malloc(sizeof(*c));
    decode_all(s, len, c);
    uint32_t cp = c->cp[c->n - 1];
    free(c);
    return cp;
}

/* Whether pattern p matches at code point k; its end in *end. */
static int naive_at(const gs_screen_aho_pattern_t *p, const char *text, const cps_t *c, size_t k,
                    size_t *end)
{
    size_t start = c->at[k], e = start + p->len, j = k;
    if (e > c->at[c->n] || memcmp(text + start, p->bytes, p->len) != 0)
        return 0;
    if (is_word(first_cp(p->bytes, p->len)) && k > 0 && is_word(c->cp[k - 1]))
        return 0;
    while (c->at[j] < e)
        j++;
    if (p->flags & GS_SCREEN_AHO_PREFIX)
        for (; j < c->n && gs_cp_letter(c->cp[j]); j++)
            e = c->at[j + 1];
    *end = e;
    if (!is_word(last_cp(p->bytes, p->len)) || j == c->n || !is_word(c->cp[j]))
        return 1;
    return (p->flags & GS_SCREEN_AHO_GLUED) && c->cp[j] >= '0' && c->cp[j] <= '9';
}

static size_t naive(const gs_screen_aho_pattern_t *pats, size_t n, const char *text, size_t len,
                    gs_screen_aho_match_t *out)
{
    cps_t *c = malloc(sizeof(*c));
    size_t found = 0, end = 0;
    decode_all(text, len, c);
    for (size_t k = 0; k < c->n; k++)
        for (size_t p = 0; p < n; p++)
            if (naive_at(&pats[p], text, c, k, &end))
                out[found++] = (gs_screen_aho_match_t){
                    .pattern = (uint32_t)p, .tag = pats[p].tag, .start = c->at[k], .end = end};
    free(c);
    qsort(out, found, sizeof(*out), cmp_match);
    return found;
}

#define NPATS 24

static void random_text(char *text, size_t *len)
{
    size_t n = 0, words = 1 + rnd(40);
    for (size_t w = 0; w < words && n < 1000; w++) {
        n += random_word(text + n, 6);
        if (rnd(10) == 0) /* malformed bytes: a stray lead, continuation or 0xFF */
            text[n++] = "\xd0\x80\xff"[rnd(3)];
    }
    text[n] = '\0';
    *len = n;
}

static void check_one_case(void)
{
    static char words[NPATS][64], text[1100];
    gs_screen_aho_pattern_t pats[NPATS];
    size_t npats = 1 + rnd(NPATS), len = 0;
    for (size_t p = 0; p < npats; p++)
        pats[p] = (gs_screen_aho_pattern_t){.bytes = words[p],
                                            .len = random_word(words[p], 4),
                                            .tag = (uint32_t)p, /* duplicates are allowed then */
                                            .flags = rnd(4)};
    random_text(text, &len);
    char err[256] = "";
    gs_screen_aho_t *a = NULL;
    assert_int_equal(gs_screen_aho_new(&a, pats, npats, err, sizeof(err)), GS_OK);
    static gs_screen_aho_match_t want[NPATS * 1100], got[NPATS * 1100];
    size_t nw = naive(pats, npats, text, len, want);
    size_t ng = gs_screen_aho_scan(a, text, len, got, NPATS * 1100);
    assert_int_equal(ng, nw);
    for (size_t i = 0; i < nw; i++) {
        assert_int_equal(got[i].pattern, want[i].pattern);
        assert_int_equal(got[i].tag, want[i].tag);
        assert_int_equal(got[i].start, want[i].start);
        assert_int_equal(got[i].end, want[i].end);
    }
    size_t cap = nw ? rnd((uint32_t)nw) : 0; /* a short buffer keeps the first ones */
    assert_int_equal(gs_screen_aho_scan(a, text, len, got, cap), nw);
    for (size_t i = 0; i < cap; i++)
        assert_int_equal(cmp_match(&got[i], &want[i]), 0);
    gs_screen_aho_destroy(a);
}

static void test_aho_vs_naive(void **state)
{
    (void)state;
    rng_state = 20261203;
    for (int i = 0; i < 3000; i++)
        check_one_case();
}

static void test_aho_refuses(void **state)
{
    (void)state;
    char err[256] = "";
    gs_screen_aho_t *a = (gs_screen_aho_t *)&err; /* must be reset */
    gs_screen_aho_pattern_t empty = {.bytes = "", .len = 0};
    assert_int_equal(gs_screen_aho_new(&a, &empty, 1, err, sizeof(err)), GS_ERR_INVALID_ARG);
    assert_null(a);
    assert_non_null(strstr(err, "empty"));
    gs_screen_aho_pattern_t twice[] = {{.bytes = "ab", .len = 2, .tag = 7},
                                       {.bytes = "ab", .len = 2, .tag = 7}};
    assert_int_equal(gs_screen_aho_new(&a, twice, 2, err, sizeof(err)), GS_ERR_INVALID_ARG);
    assert_null(a);
    twice[1].tag = 8; /* the same word in two categories is fine */
    assert_int_equal(gs_screen_aho_new(&a, twice, 2, err, sizeof(err)), GS_OK);
    gs_screen_aho_match_t m[4];
    assert_int_equal(gs_screen_aho_scan(a, "x ab", 4, m, 4), 2);
    assert_int_equal(m[0].pattern, 0);
    assert_int_equal(m[1].pattern, 1);
    gs_screen_aho_destroy(a);
}

/* ---- the dictionaries ----------------------------------------------------------------- */

static gs_screen_dict_t *dict;

static int setup(void **state)
{
    (void)state;
    char err[256] = "";
    if (gs_screen_dict_new(&dict, err, sizeof(err)) != GS_OK) {
        fprintf(stderr, "gs_screen_dict_new: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gs_screen_dict_destroy(dict);
    return 0;
}

static size_t scan(const char *text, gs_screen_dict_hit_t *hits)
{
    memset(hits, 0xA5, sizeof(*hits) * MAX_HITS);
    return gs_screen_dict_scan(dict, text, strlen(text), hits, MAX_HITS);
}

/* The hits of text as "CATEGORY:pattern:span|..." (span: the text's bytes). */
static void describe(const char *text, char *out, size_t size)
{
    gs_screen_dict_hit_t hits[MAX_HITS];
    size_t n = scan(text, hits), used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && i < MAX_HITS; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s:%s:%.*s", i ? "|" : "",
                                 gs_screen_dict_cat_name(hits[i].category),
                                 gs_screen_dict_pattern(dict, hits[i].pattern),
                                 (int)(hits[i].end - hits[i].start), text + hits[i].start);
}

static void expect(const char *text, const char *want)
{
    char got[4096];
    describe(text, got, sizeof(got));
    if (strcmp(got, want) != 0)
        fail_msg("\"%s\":\n  got  %s\n  want %s", text, got, want);
}

static void test_word_boundaries(void **state)
{
    (void)state;
    expect("оооо", "");
    expect("хорошоооо", "");
    expect("ооотест", "");
    expect("ооо ромашка", "LEGAL_FORM:ооо:ооо");
    expect("(ооо)", "LEGAL_FORM:ооо:ооо");
    expect("получено от ооо", "LEGAL_FORM:ооо:ооо");
    expect("ооо,ип", "LEGAL_FORM:ооо:ооо|LEGAL_FORM:ип:ип");
    expect("ооо1", "");                               /* a digit is part of the word */
    expect("ооо\xe2\x80\x94x", "LEGAL_FORM:ооо:ооо"); /* em dash */
    expect("ltd.", "LEGAL_FORM:ltd:ltd");
    expect("l.l.c.", "LEGAL_FORM:l.l.c:l.l.c");
    expect("acme co. ltd", "LEGAL_FORM:co:co|LEGAL_FORM:ltd:ltd");
    expect("coco.", "");
    expect("sa", "LEGAL_FORM:sa:sa");
    expect("salt", "");
    expect("ооо\xd0", "LEGAL_FORM:ооо:ооо"); /* a truncated letter is no letter */
}

static void test_stems(void **state)
{
    (void)state;
    expect("оплата", "PAYMENT_TRIGGER:оплат*:оплата");
    expect("оплаты.", "PAYMENT_TRIGGER:оплат*:оплаты");
    expect("оплатить", "PAYMENT_TRIGGER:оплат*:оплатить");
    expect("оплат", "PAYMENT_TRIGGER:оплат*:оплат");
    expect("предоплата", "PAYMENT_TRIGGER:предоплат*:предоплата"); /* not оплат: inside a word */
    expect("оплата1", "");
    expect("invoices", "PAYMENT_TRIGGER:invoice*:invoices");
    expect("паспорта", "ID_CONTEXT:паспорт:паспорта");
    expect("паспорт4506", "ID_CONTEXT:паспорт:паспорт"); /* ident.c splits them too */
    expect("inn7707083893", "ID_CONTEXT:inn:inn");
    expect("swift7707", ""); /* ident.c does not split this one */
}

static void test_overlaps(void **state)
{
    (void)state;
    expect("публичное акционерное общество газпром",
           "LEGAL_FORM:публичное акционерное общество:публичное акционерное общество|"
           "LEGAL_FORM:акционерное общество:акционерное общество");
    expect("без ндс", "PAYMENT_TRIGGER:без ндс:без ндс|PAYMENT_TRIGGER:ндс:ндс");
    expect("acme company", "LEGAL_FORM:company:company|COMMON_WORD:company:company");
    expect("fz-llc", "LEGAL_FORM:fz-llc:fz-llc|LEGAL_FORM:llc:llc");
}

static void test_mixed_scripts(void **state)
{
    (void)state;
    /* a Latin letter glued to a Cyrillic word makes one word */
    expect("ооо romashka llc", "LEGAL_FORM:ооо:ооо|LEGAL_FORM:llc:llc");
    expect("оооllc", "");
    /* the Latin "ooo" and the Cyrillic "ооо" are different entries */
    expect("ooo", "LEGAL_FORM:ooo:ooo");
    expect("оплата invoice 15", "PAYMENT_TRIGGER:оплат*:оплата|PAYMENT_TRIGGER:invoice*:invoice");
}

static void test_sentences(void **state)
{
    (void)state;
    expect("оплата по договору №15 за услуги, в т.ч. ндс 20%. получатель ооо ромашка",
           "PAYMENT_TRIGGER:оплат*:оплата|PAYMENT_TRIGGER:по договору:по договору|"
           "COMMON_WORD:договору:договору|PAYMENT_TRIGGER:за услуги:за услуги|"
           "COMMON_WORD:услуги:услуги|PAYMENT_TRIGGER:в т.ч. ндс:в т.ч. ндс|"
           "PAYMENT_TRIGGER:ндс:ндс|PAYMENT_TRIGGER:получател*:получатель|LEGAL_FORM:ооо:ооо");
    expect("перерахування коштів на користь тов \"торговий дім\" згідно з договором, без пдв",
           "PAYMENT_TRIGGER:перерахуван*:перерахування|PAYMENT_TRIGGER:на користь:на користь|"
           "LEGAL_FORM:тов:тов|COMMON_WORD:торгов*:торговий|COMMON_WORD:дім:дім|"
           "PAYMENT_TRIGGER:згідно з договором:згідно з договором|COMMON_WORD:згідно:згідно|"
           "PAYMENT_TRIGGER:без пдв:без пдв|PAYMENT_TRIGGER:пдв:пдв");
    expect("payment in favour of acme trading ltd for services, vat included",
           "PAYMENT_TRIGGER:payment*:payment|PAYMENT_TRIGGER:in favour of:in favour of|"
           "COMMON_WORD:trading:trading|LEGAL_FORM:ltd:ltd|"
           "PAYMENT_TRIGGER:for services:for services|COMMON_WORD:service*:services|"
           "PAYMENT_TRIGGER:vat:vat");
    expect("инн 7707083893 банк получателя пао сбербанк",
           "ID_CONTEXT:инн:инн|COMMON_WORD:банк:банк|PAYMENT_TRIGGER:получател*:получателя|"
           "LEGAL_FORM:пао:пао");
    expect("отримувач фоп іваненко, іпн 1234567890, єдрпоу 14360570",
           "PAYMENT_TRIGGER:отримувач*:отримувач|LEGAL_FORM:фоп:фоп|ID_CONTEXT:іпн:іпн|"
           "ID_CONTEXT:єдрпоу:єдрпоу");
    expect("transfer to beneficiary iban de89370400440532013000 swift deutdeff",
           "PAYMENT_TRIGGER:transfer*:transfer|PAYMENT_TRIGGER:beneficiar*:beneficiary|"
           "ID_CONTEXT:iban:iban|ID_CONTEXT:swift:swift");
}

static void test_malformed(void **state)
{
    (void)state;
    expect("\xffооо\xff", "LEGAL_FORM:ооо:ооо");
    expect("\x80\x80ооо", "LEGAL_FORM:ооо:ооо"); /* stray continuation bytes */
    expect("\xd0ооо", "LEGAL_FORM:ооо:ооо");
    expect("о\xd0о", "");
    char junk[2048];
    rng_state = 99;
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + rnd(sizeof(junk) - 1);
        for (size_t i = 0; i < n; i++)
            junk[i] = (char)rnd(256);
        gs_screen_dict_hit_t hits[MAX_HITS];
        size_t found = gs_screen_dict_scan(dict, junk, n, hits, MAX_HITS);
        for (size_t i = 0; i < found && i < MAX_HITS; i++)
            assert_true(hits[i].start < hits[i].end && hits[i].end <= n);
    }
    gs_screen_dict_hit_t h;
    assert_int_equal(gs_screen_dict_scan(dict, "", 0, &h, 1), 0);
}

/* Every entry matches itself as a text of its own, once in its category. */
static void test_every_entry(void **state)
{
    (void)state;
    size_t n = gs_screen_dict_count(dict);
    assert_true(n > 300);
    for (uint32_t id = 0; id < n; id++) {
        const char *w = gs_screen_dict_pattern(dict, id);
        char text[128];
        snprintf(text, sizeof(text), "%.*s", (int)strcspn(w, "*"), w);
        gs_screen_dict_hit_t hits[MAX_HITS];
        size_t found = scan(text, hits), mine = 0;
        for (size_t i = 0; i < found; i++)
            mine += hits[i].pattern == id && hits[i].start == 0 && hits[i].end == strlen(text) &&
                    hits[i].category == gs_screen_dict_category(dict, id) &&
                    hits[i].langs == gs_screen_dict_langs(dict, id);
        if (mine != 1)
            fail_msg("entry %u \"%s\" found %zu times", id, w, mine);
        assert_true(gs_screen_dict_langs(dict, id) != 0);
    }
    assert_null(gs_screen_dict_pattern(dict, (uint32_t)n));
    assert_int_equal(gs_screen_dict_category(dict, (uint32_t)n), GS_SCREEN_DICT__COUNT);
    assert_string_equal(gs_screen_dict_cat_name(GS_SCREEN_DICT__COUNT), "?");
}

/* Every context word ident.c knows is an ID_CONTEXT entry, and nothing
 * else is. */
static void test_ident_context_words(void **state)
{
    (void)state;
    int prefix = 0, glued = 0;
    size_t words = 0, entries = 0;
    const char *w;
    for (; (w = gs_screen_ident_context_word(words, &prefix, &glued)); words++) {
        gs_screen_dict_hit_t hits[MAX_HITS];
        size_t found = scan(w, hits), ok = 0;
        for (size_t i = 0; i < found; i++)
            ok += hits[i].category == GS_SCREEN_DICT_ID_CONTEXT &&
                  strcmp(gs_screen_dict_pattern(dict, hits[i].pattern), w) == 0;
        if (ok != 1)
            fail_msg("context word \"%s\": %zu ID_CONTEXT hits", w, ok);
    }
    for (uint32_t id = 0; id < gs_screen_dict_count(dict); id++)
        entries += gs_screen_dict_category(dict, id) == GS_SCREEN_DICT_ID_CONTEXT;
    assert_int_equal(entries, words);
    assert_true(words >= 27); /* docs/SCREEN.md, "Context words" */
}

/* ---- measurements --------------------------------------------------------------------- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_measure(void **state)
{
    (void)state;
    static const char unit[] = "оплата по счету-фактуре 15 от 01.02.2026 за товар, в т.ч. ндс. "
                               "перерахування на користь тов \"альфа\", єдрпоу 14360570. "
                               "payment for services to acme trading ltd, iban gb82. ";
    char text[1100];
    size_t len = 0;
    while (len + sizeof(unit) < 1000) {
        memcpy(text + len, unit, sizeof(unit) - 1);
        len += sizeof(unit) - 1;
    }
    gs_screen_dict_hit_t hits[MAX_HITS];
    size_t per_unit = gs_screen_dict_scan(dict, unit, sizeof(unit) - 1, hits, MAX_HITS);
    size_t found = gs_screen_dict_scan(dict, text, len, hits, MAX_HITS);
    assert_true(per_unit >= 12);
    assert_int_equal(found, per_unit * (len / (sizeof(unit) - 1)));

    double t0 = now_ms();
    int builds = 20;
    for (int i = 0; i < builds; i++) {
        gs_screen_dict_t *d = NULL;
        char err[256];
        assert_int_equal(gs_screen_dict_new(&d, err, sizeof(err)), GS_OK);
        gs_screen_dict_destroy(d);
    }
    double build_ms = (now_ms() - t0) / builds;
    int scans = 20000;
    t0 = now_ms();
    size_t sum = 0;
    for (int i = 0; i < scans; i++)
        sum += gs_screen_dict_scan(dict, text, len, hits, MAX_HITS);
    double scan_ms = (now_ms() - t0) / scans;
    assert_int_equal(sum, found * (size_t)scans);
    printf("screen dict: %zu patterns, %zu states; build %.3f ms; scan of %zu bytes "
           "(%zu hits) %.2f us, %.0f MB/s\n",
           gs_screen_dict_count(dict), gs_screen_dict_states(dict), build_ms, len, found,
           scan_ms * 1e3, (double)len / (scan_ms * 1e3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aho_vs_naive),    cmocka_unit_test(test_aho_refuses),
        cmocka_unit_test(test_word_boundaries), cmocka_unit_test(test_stems),
        cmocka_unit_test(test_overlaps),        cmocka_unit_test(test_mixed_scripts),
        cmocka_unit_test(test_sentences),       cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_every_entry),     cmocka_unit_test(test_ident_context_words),
        cmocka_unit_test(test_measure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
