/* Unit tests of the screen kind's text foundations (include/govstream/screen.h):
 * identifiers and their checksums (published and generated vectors, the
 * latter written by tests/unit/screen_ident_oracle.py), identifiers in
 * running text, both transliteration systems against their official
 * tables, and the language by script ratios. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/screen.h"

#define MAX_IDS 16

/* ---- helpers ----------------------------------------------------------------------- */

static size_t find(const char *text, gs_screen_ident_t *ids)
{
    memset(ids, 0xA5, sizeof(*ids) * MAX_IDS); /* stale bytes must not pass for results */
    return gs_screen_idents_find(text, strlen(text), ids, MAX_IDS);
}

/* Exactly one identifier, of this type, value and validity, spanning `span`
 * (a substring of text; NULL: not checked). */
static void expect_one(const char *text, gs_screen_id_type_t type, const char *value, int valid,
                       const char *span)
{
    gs_screen_ident_t ids[MAX_IDS];
    size_t n = find(text, ids);
    if (n != 1)
        fail_msg("\"%s\": %zu identifiers (first %s %s), want 1 %s", text, n,
                 n ? gs_screen_id_type_name(ids[0].type) : "-", n ? ids[0].value : "-",
                 gs_screen_id_type_name(type));
    if (ids[0].type != type || strcmp(ids[0].value, value) != 0 || ids[0].valid != valid)
        fail_msg("\"%s\": %s %s valid=%d, want %s %s valid=%d", text,
                 gs_screen_id_type_name(ids[0].type), ids[0].value, ids[0].valid,
                 gs_screen_id_type_name(type), value, valid);
    assert_int_equal(ids[0].len, strlen(value));
    if (span) {
        const char *at = strstr(text, span);
        assert_non_null(at);
        if (ids[0].start != (size_t)(at - text) || ids[0].end != ids[0].start + strlen(span))
            fail_msg("\"%s\": span [%zu,%zu), want \"%s\" at [%zu,%zu)", text, ids[0].start,
                     ids[0].end, span, (size_t)(at - text), (size_t)(at - text) + strlen(span));
    }
}

static void expect_none(const char *text)
{
    gs_screen_ident_t ids[MAX_IDS];
    size_t n = find(text, ids);
    if (n != 0)
        fail_msg("\"%s\": found %s %s valid=%d, want nothing", text,
                 gs_screen_id_type_name(ids[0].type), ids[0].value, ids[0].valid);
}

static int valid(gs_screen_id_type_t type, const char *v)
{
    return gs_screen_ident_valid(type, v, strlen(v));
}

/* ---- checksums of normalised values -------------------------------------------------- */

static void test_iban_checks(void **state)
{
    (void)state;
    assert_true(valid(GS_SCREEN_ID_IBAN, "DE89370400440532013000"));
    assert_true(valid(GS_SCREEN_ID_IBAN, "GB82WEST12345698765432"));
    assert_true(valid(GS_SCREEN_ID_IBAN, "UA213223130000026007233566001"));
    assert_true(valid(GS_SCREEN_ID_IBAN, "NO9386011117947"));                   /* shortest: 15 */
    assert_true(valid(GS_SCREEN_ID_IBAN, "RU0304452522540817810538091310419")); /* longest: 33 */
    assert_false(valid(GS_SCREEN_ID_IBAN, "DE89370400440532013001"));           /* check fails */
    assert_false(valid(GS_SCREEN_ID_IBAN, "DE98370400440532013000")); /* check digits swapped */
    assert_false(valid(GS_SCREEN_ID_IBAN, "GB82WEST12345698765433"));
    assert_false(valid(GS_SCREEN_ID_IBAN, "DE8937040044053201300"));   /* 21 characters */
    assert_false(valid(GS_SCREEN_ID_IBAN, "DE893704004405320130000")); /* 23 */
    assert_false(valid(GS_SCREEN_ID_IBAN, "US64SVBKUS6S3300958879"));  /* not in the registry */
    assert_false(valid(GS_SCREEN_ID_IBAN, "de89370400440532013000"));  /* not normalised */
    assert_false(valid(GS_SCREEN_ID_IBAN, "DE0537040044053201300A"));  /* mod 97 holds, BBAN n */
    /* MOD 97-10 holds, but 99 and 00 are never computed check digits */
    assert_false(valid(GS_SCREEN_ID_IBAN, "DE99501861209639377519"));
    assert_false(valid(GS_SCREEN_ID_IBAN, "DE00067828548974909530"));
    assert_false(valid(GS_SCREEN_ID_IBAN, ""));
    assert_false(valid(GS_SCREEN_ID_IBAN, "DE"));
    assert_false(gs_screen_ident_valid(GS_SCREEN_ID_IBAN, NULL, 0));
}

static void test_inn_rnokpp_checks(void **state)
{
    (void)state;
    assert_true(valid(GS_SCREEN_ID_INN, "7707083893")); /* Sberbank */
    assert_true(valid(GS_SCREEN_ID_INN, "7736050003")); /* Gazprom */
    assert_true(valid(GS_SCREEN_ID_INN, "605832088002"));
    assert_false(valid(GS_SCREEN_ID_INN, "7707083894"));
    assert_false(valid(GS_SCREEN_ID_INN, "7707083839"));   /* transposed */
    assert_false(valid(GS_SCREEN_ID_INN, "605832088003")); /* second check digit */
    assert_false(valid(GS_SCREEN_ID_INN, "605832088012")); /* first check digit */
    assert_false(valid(GS_SCREEN_ID_INN, "770708389"));
    assert_false(valid(GS_SCREEN_ID_INN, "77070838930"));
    assert_false(valid(GS_SCREEN_ID_INN, "0000000000"));
    assert_false(valid(GS_SCREEN_ID_INN, "77070838a3"));
    assert_true(valid(GS_SCREEN_ID_RNOKPP, "4026818491"));
    assert_false(valid(GS_SCREEN_ID_RNOKPP, "4026818492"));
    assert_false(valid(GS_SCREEN_ID_RNOKPP, "6320882994")); /* an INN, not an RNOKPP */
    assert_false(valid(GS_SCREEN_ID_INN, "4026818491"));    /* and the other way round */
    assert_true(valid(GS_SCREEN_ID_INN, "0593199384"));     /* both checksums hold */
    assert_true(valid(GS_SCREEN_ID_RNOKPP, "0593199384"));
    assert_false(valid(GS_SCREEN_ID_RNOKPP, "402681849"));
    assert_false(valid(GS_SCREEN_ID_RNOKPP, "0000000000"));
    /* a first digit 9 makes the weighted sum negative before the modulus */
    assert_true(valid(GS_SCREEN_ID_RNOKPP, "9000000002"));
    assert_false(valid(GS_SCREEN_ID_RNOKPP, "9000000001"));
}

static void test_edrpou_checks(void **state)
{
    (void)state;
    assert_true(valid(GS_SCREEN_ID_EDRPOU, "14360570")); /* PrivatBank */
    assert_true(valid(GS_SCREEN_ID_EDRPOU, "00032106")); /* National Bank of Ukraine */
    assert_true(valid(GS_SCREEN_ID_EDRPOU, "20077720")); /* Naftogaz */
    assert_true(valid(GS_SCREEN_ID_EDRPOU, "40075815")); /* Ukrzaliznytsia: weights 7,1..6 */
    assert_true(valid(GS_SCREEN_ID_EDRPOU, "98572296")); /* second pass, weights 3..9 */
    assert_true(valid(GS_SCREEN_ID_EDRPOU, "51740175")); /* second pass, weights 9,3..8 */
    assert_false(valid(GS_SCREEN_ID_EDRPOU, "14360571"));
    assert_false(valid(GS_SCREEN_ID_EDRPOU, "73797228"));
    assert_false(valid(GS_SCREEN_ID_EDRPOU, "1436057"));
    assert_false(valid(GS_SCREEN_ID_EDRPOU, "143605700"));
    assert_false(valid(GS_SCREEN_ID_EDRPOU, "00000000"));
    assert_false(valid(GS_SCREEN_ID_EDRPOU, "60000000"));
    assert_true(valid(GS_SCREEN_ID_EDRPOU, "60000006"));
}

static void test_ogrn_checks(void **state)
{
    (void)state;
    assert_true(valid(GS_SCREEN_ID_OGRN, "1027700132195")); /* Sberbank */
    assert_true(valid(GS_SCREEN_ID_OGRN, "1027700070518")); /* Gazprom */
    assert_true(valid(GS_SCREEN_ID_OGRN, "1117746358608"));
    assert_false(valid(GS_SCREEN_ID_OGRN, "1027700132196"));
    assert_false(valid(GS_SCREEN_ID_OGRN, "1467033997738"));
    assert_false(valid(GS_SCREEN_ID_OGRN, "2375037941364")); /* checksum holds: a ГРН */
    assert_false(valid(GS_SCREEN_ID_OGRN, "102770013219"));
    assert_false(valid(GS_SCREEN_ID_OGRN, "365138147246439"));
    assert_true(valid(GS_SCREEN_ID_OGRNIP, "365138147246439"));
    assert_true(valid(GS_SCREEN_ID_OGRNIP, "305861490563712")); /* remainder 12: digit 2 */
    assert_false(valid(GS_SCREEN_ID_OGRNIP, "305861490563713"));
    assert_false(valid(GS_SCREEN_ID_OGRNIP, "465138147246439")); /* 4: a ГРНИП */
    assert_false(valid(GS_SCREEN_ID_OGRNIP, "1027700132195"));
    assert_false(valid(GS_SCREEN_ID_OGRNIP, "36513814724643"));
}

static void test_bic_passport_checks(void **state)
{
    (void)state;
    assert_true(valid(GS_SCREEN_ID_BIC, "DEUTDEFF"));
    assert_true(valid(GS_SCREEN_ID_BIC, "DEUTDEFF500"));
    assert_true(valid(GS_SCREEN_ID_BIC, "PBANUA2X"));
    assert_true(valid(GS_SCREEN_ID_BIC, "RZBAXK2P"));  /* Kosovo: XK is SWIFT's */
    assert_false(valid(GS_SCREEN_ID_BIC, "DEUTXXFF")); /* no country XX */
    assert_false(valid(GS_SCREEN_ID_BIC, "DEUTUKFF")); /* UK is GB in ISO 3166 */
    assert_false(valid(GS_SCREEN_ID_BIC, "DEUTDEF"));
    assert_false(valid(GS_SCREEN_ID_BIC, "DEUTDEFF5"));
    assert_false(valid(GS_SCREEN_ID_BIC, "DEUTDEFF5000"));
    assert_false(valid(GS_SCREEN_ID_BIC, "DE1TDEFF"));
    assert_false(valid(GS_SCREEN_ID_BIC, "deutdeff"));
    assert_false(valid(GS_SCREEN_ID_BIC, "DEUTDEF!"));
    assert_true(valid(GS_SCREEN_ID_PASSPORT, "4506123456"));
    assert_true(valid(GS_SCREEN_ID_PASSPORT, "751234567"));
    assert_true(valid(GS_SCREEN_ID_PASSPORT, "FA123456"));
    assert_true(valid(GS_SCREEN_ID_PASSPORT, "AB123456789"));
    assert_true(valid(GS_SCREEN_ID_PASSPORT, "КВ123456"));
    assert_true(valid(GS_SCREEN_ID_PASSPORT, "ІЄ123456"));
    assert_false(valid(GS_SCREEN_ID_PASSPORT, "КВ1234567"));
    assert_false(valid(GS_SCREEN_ID_PASSPORT, "FA12345"));
    assert_false(valid(GS_SCREEN_ID_PASSPORT, "FA1234567890"));
    assert_false(valid(GS_SCREEN_ID_PASSPORT, "45061234"));
    assert_false(valid(GS_SCREEN_ID_PASSPORT, "45061234567"));
    assert_false(valid(GS_SCREEN_ID_PASSPORT, "0000000000"));
    assert_false(valid(GS_SCREEN_ID_PASSPORT, "кв123456"));
    assert_false(valid((gs_screen_id_type_t)99, "7707083893"));
}

static void test_type_names(void **state)
{
    (void)state;
    static const char *const names[] = {"IBAN", "INN",    "RNOKPP", "EDRPOU",
                                        "OGRN", "OGRNIP", "BIC",    "PASSPORT"};
    char err[128] = "";
    for (int t = 0; t < GS_SCREEN_ID__COUNT; t++) {
        gs_screen_id_type_t back = GS_SCREEN_ID__COUNT;
        assert_string_equal(gs_screen_id_type_name((gs_screen_id_type_t)t), names[t]);
        assert_int_equal(gs_screen_id_type_parse(names[t], &back, err, sizeof(err)), GS_OK);
        assert_int_equal(back, t);
    }
    assert_string_equal(gs_screen_id_type_name(GS_SCREEN_ID__COUNT), "?");
    gs_screen_id_type_t t = GS_SCREEN_ID_IBAN;
    assert_int_equal(gs_screen_id_type_parse("SWIFT", &t, err, sizeof(err)), GS_ERR_INVALID_ARG);
    assert_contains(err, "SWIFT");
    assert_int_equal(gs_screen_id_type_parse(NULL, &t, err, sizeof(err)), GS_ERR_INVALID_ARG);
}

/* ---- the oracle's vectors ------------------------------------------------------------- */

/* tests/data/screen_ident_vectors.txt, or the file GS_SCREEN_VECTORS names
 * (a larger set: tests/unit/screen_ident_oracle.py --count N --out FILE). */
static FILE *open_vectors(char *path, size_t n)
{
    const char *env = getenv("GS_SCREEN_VECTORS");
    const char *root = getenv("GS_SOURCE_DIR");
    if (env && *env) {
        snprintf(path, n, "%s", env);
    } else if (root && *root) {
        snprintf(path, n, "%s/tests/data/screen_ident_vectors.txt", root);
    } else { /* run by hand: where this file was compiled from */
        snprintf(path, n, "%s", __FILE__);
        char *cut = strstr(path, "/tests/unit/");
        if (cut)
            snprintf(cut, n - (size_t)(cut - path), "/tests/data/screen_ident_vectors.txt");
    }
    return fopen(path, "r");
}

/* The context word that types a value of each kind first. */
static const char *context_of(gs_screen_id_type_t t)
{
    static const char *const words[GS_SCREEN_ID__COUNT] = {
        [GS_SCREEN_ID_IBAN] = "IBAN",  [GS_SCREEN_ID_INN] = "ИНН",
        [GS_SCREEN_ID_RNOKPP] = "ІПН", [GS_SCREEN_ID_EDRPOU] = "ЄДРПОУ",
        [GS_SCREEN_ID_OGRN] = "ОГРН",  [GS_SCREEN_ID_OGRNIP] = "ОГРНИП",
        [GS_SCREEN_ID_BIC] = "SWIFT",  [GS_SCREEN_ID_PASSPORT] = "паспорт",
    };
    return words[t];
}

/* In text after its context word: a valid value is found as itself; an
 * invalid one is never reported valid under its type. */
static void check_in_text(gs_screen_id_type_t t, const char *v, int ok, size_t line)
{
    char text[128];
    snprintf(text, sizeof(text), "оплата, %s: %s; дякуємо", context_of(t), v);
    gs_screen_ident_t ids[MAX_IDS];
    size_t n = find(text, ids);
    if (ok) {
        const char *at = strstr(text, v);
        if (n != 1 || ids[0].type != t || !ids[0].valid || strcmp(ids[0].value, v) != 0 ||
            ids[0].start != (size_t)(at - text) || ids[0].end != ids[0].start + strlen(v))
            fail_msg("line %zu: \"%s\": %zu found, first %s %s valid=%d", line, text, n,
                     n ? gs_screen_id_type_name(ids[0].type) : "-", n ? ids[0].value : "-",
                     n ? ids[0].valid : -1);
        return;
    }
    for (size_t i = 0; i < n && i < MAX_IDS; i++)
        if (ids[i].type == t && ids[i].valid)
            fail_msg("line %zu: \"%s\" found as a valid %s", line, text, gs_screen_id_type_name(t));
}

static void test_oracle_vectors(void **state)
{
    (void)state;
    char path[1024], line[256], err[128];
    FILE *f = open_vectors(path, sizeof(path));
    if (!f)
        fail_msg("cannot open the vectors %s", path);
    size_t lineno = 0, count[GS_SCREEN_ID__COUNT][2] = {{0}};
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char type[16], value[64];
        int ok = -1;
        if (sscanf(line, "%15s %63s %d", type, value, &ok) != 3 || (ok != 0 && ok != 1))
            fail_msg("%s:%zu: malformed line", path, lineno);
        gs_screen_id_type_t t = GS_SCREEN_ID__COUNT;
        if (gs_screen_id_type_parse(type, &t, err, sizeof(err)) != GS_OK)
            fail_msg("%s:%zu: %s", path, lineno, err);
        if (valid(t, value) != ok)
            fail_msg("%s:%zu: %s %s: C says %d, the oracle %d", path, lineno, type, value, !ok, ok);
        check_in_text(t, value, ok, lineno);
        count[t][ok]++;
    }
    fclose(f);
    /* every type has both verdicts, so neither side can pass by saying one thing */
    for (int t = 0; t < GS_SCREEN_ID__COUNT; t++)
        if (count[t][0] < 10 || count[t][1] < 10)
            fail_msg("%s: %s has %zu valid and %zu invalid vectors", path,
                     gs_screen_id_type_name((gs_screen_id_type_t)t), count[t][1], count[t][0]);
    assert_true(count[GS_SCREEN_ID_IBAN][1] >= 89); /* the registry's examples */
}

/* ---- identifiers in text -------------------------------------------------------------- */

static void test_iban_in_text(void **state)
{
    (void)state;
    const char *de = "DE89370400440532013000";
    expect_one("DE89370400440532013000", GS_SCREEN_ID_IBAN, de, 1, "DE89370400440532013000");
    expect_one("IBAN DE89 3704 0044 0532 0130 00 EUR", GS_SCREEN_ID_IBAN, de, 1,
               "DE89 3704 0044 0532 0130 00");
    expect_one("de89 3704 0044 0532 0130 00", GS_SCREEN_ID_IBAN, de, 1, NULL);
    expect_one("(IBAN:DE89370400440532013000).", GS_SCREEN_ID_IBAN, de, 1,
               "DE89370400440532013000");
    expect_one("IBANDE89370400440532013000", GS_SCREEN_ID_IBAN, de, 1, "DE89370400440532013000");
    expect_one("DE89-3704-0044-0532-0130-00", GS_SCREEN_ID_IBAN, de, 1, NULL);
    expect_one("DE89\xC2\xA0"
               "3704\xC2\xA0"
               "0044\xC2\xA0"
               "0532\xC2\xA0"
               "0130\xC2\xA0"
               "00",
               GS_SCREEN_ID_IBAN, de, 1, NULL);
    /* the groups stop at the country's length: the amount after is not in it */
    expect_one("DE89 3704 0044 0532 0130 00 1500", GS_SCREEN_ID_IBAN, de, 1,
               "DE89 3704 0044 0532 0130 00");
    expect_one("рахунок UA21 3223 1300 0002 6007 2335 6600 1, ТОВ", GS_SCREEN_ID_IBAN,
               "UA213223130000026007233566001", 1, "UA21 3223 1300 0002 6007 2335 6600 1");
    expect_one("рахунокUA213223130000026007233566001", GS_SCREEN_ID_IBAN,
               "UA213223130000026007233566001", 1, "UA213223130000026007233566001");
    expect_one("GB82 WEST 1234 5698 7654 33", GS_SCREEN_ID_IBAN, "GB82WEST12345698765433", 0, NULL);
    /* a group lost: invalid, its groups all the same */
    expect_one("DE89 3704 0044 0532 0130 0", GS_SCREEN_ID_IBAN, "DE8937040044053201300", 0,
               "DE89 3704 0044 0532 0130 0");
    expect_one("DE8937040044053201300099", GS_SCREEN_ID_IBAN, "DE8937040044053201300099", 0, NULL);
    expect_one("AT12345678901234", GS_SCREEN_ID_IBAN, "AT12345678901234", 0, NULL);
    /* after IBAN a country outside the registry is reported, invalid */
    expect_one("IBAN: US64 SVBK US6S 3300 9588 79", GS_SCREEN_ID_IBAN, "US64SVBKUS6S3300958879", 0,
               NULL);
    expect_none("US64SVBKUS6S3300958879");
    expect_none("ref GB12345 and DE891234"); /* too short to be IBANs; "and" is no group */
    expect_one("gb82 west 1234 5698 7654 32", GS_SCREEN_ID_IBAN, "GB82WEST12345698765432", 1, NULL);
    expect_one("GB82 WEST 1234 5698 7654 3 and more", GS_SCREEN_ID_IBAN, "GB82WEST1234569876543", 0,
               "GB82 WEST 1234 5698 7654 3");
    expect_none("DE89370400440532013000123456789012345"); /* longer than any IBAN */

    gs_screen_ident_t ids[MAX_IDS];
    const char *two = "from DE89370400440532013000 to GB82 WEST 1234 5698 7654 32.";
    assert_int_equal(find(two, ids), 2);
    assert_string_equal(ids[0].value, de);
    assert_string_equal(ids[1].value, "GB82WEST12345698765432");
    assert_true(ids[0].valid && ids[1].valid);
    assert_int_equal(ids[1].start, strstr(two, "GB82") - two);
    assert_int_equal(ids[1].end, strstr(two, ".") - two);
}

static void test_digits_in_text(void **state)
{
    (void)state;
    expect_one("ИНН 7707083893", GS_SCREEN_ID_INN, "7707083893", 1, "7707083893");
    expect_one("ИНН7707083893", GS_SCREEN_ID_INN, "7707083893", 1, "7707083893");
    expect_one("инн:7707083893;", GS_SCREEN_ID_INN, "7707083893", 1, "7707083893");
    expect_one("INN7707083893", GS_SCREEN_ID_INN, "7707083893", 1, "7707083893");
    expect_one("(ИНН/КПП 7707083893/770701001)", GS_SCREEN_ID_INN, "7707083893", 1, NULL);
    expect_one("ИНН получателя 605832088002", GS_SCREEN_ID_INN, "605832088002", 1, NULL);
    /* the checksum of the one type of its length, without context */
    expect_one("получатель 7707083893", GS_SCREEN_ID_INN, "7707083893", 1, NULL);
    expect_none("счет 7707083894 от 12.03");
    /* after a context word an invalid one is reported, typed by the word */
    expect_one("ИНН 7707083894", GS_SCREEN_ID_INN, "7707083894", 0, NULL);
    expect_one("ИНН 77070838", GS_SCREEN_ID_INN, "77070838", 0, NULL); /* wrong length */
    expect_none("ИНН 12345"); /* too short to be about it */
    /* ИНН in texts from Ukraine names the РНОКПП: the checksum decides */
    expect_one("ИНН 4026818491", GS_SCREEN_ID_RNOKPP, "4026818491", 1, NULL);
    expect_one("ИНН 0593199384", GS_SCREEN_ID_INN, "0593199384", 1, NULL); /* both: INN first */
    expect_one("ІНН 0593199384", GS_SCREEN_ID_RNOKPP, "0593199384", 1, NULL);
    expect_one("ІПН 4026818491", GS_SCREEN_ID_RNOKPP, "4026818491", 1, NULL);
    expect_one("РНОКПП 4574879735", GS_SCREEN_ID_RNOKPP, "4574879735", 0, NULL);
    expect_one("ІПН 6320882994", GS_SCREEN_ID_RNOKPP, "6320882994", 0, NULL); /* an INN */
    expect_none("тел. 4026818491"); /* an RNOKPP needs its word */
    expect_one("код ЄДРПОУ 14360570", GS_SCREEN_ID_EDRPOU, "14360570", 1, NULL);
    expect_one("ЄДРПОУ:00032106", GS_SCREEN_ID_EDRPOU, "00032106", 1, NULL);
    expect_one("ЄДРПОУ 14360571", GS_SCREEN_ID_EDRPOU, "14360571", 0, NULL);
    expect_one("ЄДРПОУ 4026818491", GS_SCREEN_ID_RNOKPP, "4026818491", 1, NULL); /* ФОП */
    expect_one("ТОВ 40075815", GS_SCREEN_ID_EDRPOU, "40075815", 1, NULL);
    expect_one("ОГРН 1027700132195", GS_SCREEN_ID_OGRN, "1027700132195", 1, NULL);
    expect_one("ОГРН 1027700132196", GS_SCREEN_ID_OGRN, "1027700132196", 0, NULL);
    expect_one("ОГРН 305861490563712", GS_SCREEN_ID_OGRNIP, "305861490563712", 1, NULL);
    expect_one("ОГРНИП 365138147246439", GS_SCREEN_ID_OGRNIP, "365138147246439", 1, NULL);
    expect_one("OGRNIP365138147246439", GS_SCREEN_ID_OGRNIP, "365138147246439", 1, NULL);
    expect_one("1027700132195", GS_SCREEN_ID_OGRN, "1027700132195", 1, NULL);
    expect_none("2375037941364");
    /* amounts and phone numbers */
    expect_none("сумма 14360570.00 грн");
    expect_none("сумма 14360570,50");
    expect_none("тел +7707083893");
    expect_none("итого 1.14360570");
    expect_one("ИНН 7707083893. Сумма 100", GS_SCREEN_ID_INN, "7707083893", 1, NULL);
    /* letters glued to digits make a code, not a number */
    expect_none("7707083893abc");
}

static void test_context_reach(void **state)
{
    (void)state;
    /* three words between the context word and the number, at most */
    expect_one("ИНН указан в договоре 7707083894", GS_SCREEN_ID_INN, "7707083894", 0, NULL);
    expect_none("ИНН указан в договоре поставки 7707083894");
    /* another number in between ends it */
    expect_none("ИНН от 2020 7707083894");
    /* a context word is about one identifier */
    gs_screen_ident_t ids[MAX_IDS];
    assert_int_equal(find("ИНН 7707083893, 7707083894", ids), 1);
    assert_int_equal(find("ИНН 7707083893, ОГРН 1027700132195, ЄДРПОУ 14360571", ids), 3);
    assert_int_equal(ids[0].type, GS_SCREEN_ID_INN);
    assert_int_equal(ids[1].type, GS_SCREEN_ID_OGRN);
    assert_int_equal(ids[2].type, GS_SCREEN_ID_EDRPOU);
    assert_int_equal(ids[2].valid, 0);
    /* a word that starts like one is not one */
    expect_none("Иннокентий 7707083894");
}

static void test_bic_in_text(void **state)
{
    (void)state;
    expect_one("SWIFT: DEUTDEFF", GS_SCREEN_ID_BIC, "DEUTDEFF", 1, "DEUTDEFF");
    expect_one("swift code deutdeff500", GS_SCREEN_ID_BIC, "DEUTDEFF500", 1, "deutdeff500");
    expect_one("БИК SWIFT: PBANUA2X.", GS_SCREEN_ID_BIC, "PBANUA2X", 1, NULL);
    expect_one("Beneficiary bank SABRRUMM, Moscow", GS_SCREEN_ID_BIC, "SABRRUMM", 1, NULL);
    expect_one("банк отримувача PBANUA2X", GS_SCREEN_ID_BIC, "PBANUA2X", 1, NULL);
    expect_one("SWIFT DEUTXXFF", GS_SCREEN_ID_BIC, "DEUTXXFF", 0, NULL);
    expect_none("bank sabrrumm"); /* without context, BICs are in capitals */
    expect_none("bank DEUTXXFF"); /* ... and have a country */
    expect_none("Payment for DOCUMENT 15");
    expect_none("IVANOV SERGEI ALEKSEEV"); /* capital words around: a name */
    expect_none("ALEKSEEV SERGEI");
    expect_none("swift transfer"); /* shape of a BIC: no */
}

static void test_passport_in_text(void **state)
{
    (void)state;
    expect_one("паспорт 4506 123456", GS_SCREEN_ID_PASSPORT, "4506123456", 1, "4506 123456");
    expect_one("паспорт серии 45 06 № 123456, выдан", GS_SCREEN_ID_PASSPORT, "4506123456", 1,
               "45 06 № 123456");
    expect_one("Паспорт серия 4506 номер 123456", GS_SCREEN_ID_PASSPORT, "4506123456", 1,
               "4506 номер 123456");
    /* NFKC makes "№" "No" */
    expect_one("паспорт серия 4506 No123456", GS_SCREEN_ID_PASSPORT, "4506123456", 1, NULL);
    expect_one("паспорт No 4506123456", GS_SCREEN_ID_PASSPORT, "4506123456", 1, NULL);
    expect_one("паспорт: 4506123456", GS_SCREEN_ID_PASSPORT, "4506123456", 1, NULL);
    expect_one("паспорт гражданина РФ 4506 123456", GS_SCREEN_ID_PASSPORT, "4506123456", 1,
               "4506 123456");
    expect_one("загранпаспорт? no: passport 75 1234567", GS_SCREEN_ID_PASSPORT, "751234567", 1,
               "75 1234567");
    expect_one("passport FA123456", GS_SCREEN_ID_PASSPORT, "FA123456", 1, "FA123456");
    expect_one("passport no. fa 123456", GS_SCREEN_ID_PASSPORT, "FA123456", 1, "fa 123456");
    expect_one("паспорт КВ 123456", GS_SCREEN_ID_PASSPORT, "КВ123456", 1, "КВ 123456");
    expect_one("паспорта серії кв№123456", GS_SCREEN_ID_PASSPORT, "КВ123456", 1, "кв№123456");
    expect_one("паспорт 1234567", GS_SCREEN_ID_PASSPORT, "1234567", 0, NULL);
    expect_one("паспорт КВ 1234567", GS_SCREEN_ID_PASSPORT, "КВ1234567", 0, NULL);
    expect_none("паспорт выдан 12 мая");
    expect_none("4506 123456");
    expect_none("FA123456");
    /* the other identifiers after a passport still count */
    gs_screen_ident_t ids[MAX_IDS];
    assert_int_equal(find("паспорт 4506 123456, ИНН 605832088002", ids), 2);
    assert_int_equal(ids[1].type, GS_SCREEN_ID_INN);
    assert_true(ids[1].valid);
}

static void test_find_limits(void **state)
{
    (void)state;
    const char *text = "ИНН 7707083893 ОГРН 1027700132195 IBAN DE89370400440532013000";
    gs_screen_ident_t ids[2];
    memset(ids, 0, sizeof(ids));
    assert_int_equal(gs_screen_idents_find(text, strlen(text), ids, 1), 3);
    assert_string_equal(ids[0].value, "7707083893");
    assert_int_equal(ids[1].len, 0); /* untouched */
    assert_int_equal(gs_screen_idents_find(text, strlen(text), NULL, 5), 3);
    assert_int_equal(gs_screen_idents_find(NULL, 10, ids, 2), 0);
    assert_int_equal(gs_screen_idents_find("", 0, ids, 2), 0);
    /* only len bytes are read */
    assert_int_equal(gs_screen_idents_find(text, 8, ids, 2), 0);
    /* malformed UTF-8 separates tokens and is skipped */
    expect_one("ÿþИННÀ 7707083893â", GS_SCREEN_ID_INN, "7707083893", 1, NULL);
    /* nothing of interest in plain text */
    expect_none("Оплата за товар згідно рахунку № 15 від 12.03.2024, у т.ч. ПДВ 20% 1500.00 грн");
}

/* Random bytes: never a crash, an identifier out of bounds or a value that
 * is not what its span normalises to in length. */
static void test_find_random(void **state)
{
    (void)state;
    static const char *const pieces[] = {"ИНН",      " ", "7707083893", "DE89", "3704",   "-",
                                         "паспорт",  "№", "45",         "06",   "123456", "SWIFT",
                                         "DEUTDEFF", ".", ",",          "+",    "КВ",     "No",
                                         "Ð",        "ÿ", "ІПН",        "0",    "IBAN",   ":"};
    char text[256];
    gs_screen_ident_t ids[MAX_IDS];
    rng_seed(12);
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = 0;
        while (len < 200) {
            const char *p = pieces[rng_below(sizeof(pieces) / sizeof(pieces[0]))];
            memcpy(text + len, p, strlen(p));
            len += strlen(p);
        }
        size_t n = gs_screen_idents_find(text, len, ids, MAX_IDS);
        for (size_t i = 0; i < n && i < MAX_IDS; i++) {
            if (ids[i].start >= ids[i].end || ids[i].end > len || ids[i].len == 0 ||
                ids[i].len >= GS_SCREEN_ID_VALUE_MAX || strlen(ids[i].value) != ids[i].len ||
                (i && ids[i].start < ids[i - 1].end))
                fail_msg("iteration %d: identifier %zu is malformed", iter, i);
            if (ids[i].valid != gs_screen_ident_valid(ids[i].type, ids[i].value, ids[i].len))
                fail_msg("iteration %d: identifier %zu validity", iter, i);
        }
    }
}

/* ---- transliteration -------------------------------------------------------------- */

static void expect_translit(gs_screen_translit_t sys, const char *in, const char *want)
{
    char out[256], err[128] = "";
    size_t n = 999;
    gs_err_t rc = gs_screen_translit(sys, in, strlen(in), out, sizeof(out), &n, err, sizeof(err));
    if (rc != GS_OK)
        fail_msg("%s: %s", in, err);
    if (strcmp(out, want) != 0 || n != strlen(want))
        fail_msg("%s (%s): \"%s\", want \"%s\"", in, sys == GS_SCREEN_TRANSLIT_RU ? "ru" : "uk",
                 out, want);
}

/* BGN/PCGN 1947, folded to ASCII. */
static void test_translit_ru(void **state)
{
    (void)state;
    static const char *const v[][2] = {
        {"Щербаков", "Shcherbakov"},
        {"Алексей", "Aleksey"},
        {"Ёлкин", "Yelkin"},
        {"Алексеев", "Alekseyev"},
        {"Ельцин", "Yeltsin"},
        {"Подъезд", "Podyezd"},
        {"Юрий", "Yuriy"},
        {"Хрущёв", "Khrushchev"},
        {"Горбачёв", "Gorbachev"},
        {"Соловьёв", "Solovyev"},
        {"Чайковский", "Chaykovskiy"},
        {"Жуков", "Zhukov"},
        {"Цветаева", "Tsvetayeva"},
        {"Достоевский", "Dostoyevskiy"},
        {"Майя", "Mayya"},
        {"Наталья", "Natalya"},
        {"Эдуард", "Eduard"},
        {"Объём", "Obyem"},
        {"Ильич", "Ilich"},
        {"Москва", "Moskva"},
        {"Рыбаков", "Rybakov"},
        {"Санкт-Петербург", "Sankt-Peterburg"},
        {"Фёдор Шаляпин", "Fedor Shalyapin"},
        {"Ёж", "Yezh"},
        {"Гусь-Хрустальный", "Gus-Khrustalnyy"},
        {"Ивано-Франковск", "Ivano-Frankovsk"},
        {"Елена Ерёменко", "Yelena Yeremenko"},
        {"Пьер", "Pyer"},
        {"объединение", "obyedineniye"},
        /* upper case: a capital first, or all capitals */
        {"ЩЕРБАКОВ", "SHCHERBAKOV"},
        {"Щ", "Shch"},
        {"ЁЛКИН", "YELKIN"},
        {"ЮРИЙ ЩЕРБАКОВ", "YURIY SHCHERBAKOV"},
        {"ООО «Щит»", "OOO «Shchit»"},
        /* Ukrainian letters in Russian text */
        {"Київ", "Kiyiv"},
        {"Ґалаґан", "Galagan"},
        {"Єлисей", "Yelisey"},
        /* not Cyrillic: copied */
        {"Müller 42 €", "Müller 42 €"},
        {"", ""},
        {"Ivanov Иван", "Ivanov Ivan"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        expect_translit(GS_SCREEN_TRANSLIT_RU, v[i][0], v[i][1]);
}

/* The table of resolution 55 of 2010, with its examples, and the
 * positional forms at the start of a word and elsewhere. */
static void test_translit_uk(void **state)
{
    (void)state;
    static const char *const v[][2] = {
        {"Алушта", "Alushta"},
        {"Андрій", "Andrii"},
        {"Борщагівка", "Borshchahivka"},
        {"Борисенко", "Borysenko"},
        {"Вінниця", "Vinnytsia"},
        {"Володимир", "Volodymyr"},
        {"Гадяч", "Hadiach"},
        {"Богдан", "Bohdan"},
        {"Згурський", "Zghurskyi"},
        {"Ґалаґан", "Galagan"},
        {"Ґорґани", "Gorgany"},
        {"Донецьк", "Donetsk"},
        {"Дмитро", "Dmytro"},
        {"Рівне", "Rivne"},
        {"Олег", "Oleh"},
        {"Есмань", "Esman"},
        {"Єнакієве", "Yenakiieve"},
        {"Гаєвич", "Haievych"},
        {"Короп'є", "Koropie"},
        {"Житомир", "Zhytomyr"},
        {"Жанна", "Zhanna"},
        {"Жежелів", "Zhezheliv"},
        {"Закарпаття", "Zakarpattia"},
        {"Казимирчук", "Kazymyrchuk"},
        {"Медвин", "Medvyn"},
        {"Михайленко", "Mykhailenko"},
        {"Іванків", "Ivankiv"},
        {"Іващенко", "Ivashchenko"},
        {"Їжакевич", "Yizhakevych"},
        {"Кадиївка", "Kadyivka"},
        {"Мар'їне", "Marine"},
        {"Йосипівка", "Yosypivka"},
        {"Стрий", "Stryi"},
        {"Олексій", "Oleksii"},
        {"Київ", "Kyiv"},
        {"Коваленко", "Kovalenko"},
        {"Лебедин", "Lebedyn"},
        {"Леонід", "Leonid"},
        {"Миколаїв", "Mykolaiv"},
        {"Маринич", "Marynych"},
        {"Ніжин", "Nizhyn"},
        {"Наталія", "Nataliia"},
        {"Одеса", "Odesa"},
        {"Онищенко", "Onyshchenko"},
        {"Полтава", "Poltava"},
        {"Петро", "Petro"},
        {"Решетилівка", "Reshetylivka"},
        {"Рибчинський", "Rybchynskyi"},
        {"Суми", "Sumy"},
        {"Соломія", "Solomiia"},
        {"Тернопіль", "Ternopil"},
        {"Троць", "Trots"},
        {"Ужгород", "Uzhhorod"},
        {"Уляна", "Uliana"},
        {"Фастів", "Fastiv"},
        {"Філіпчук", "Filipchuk"},
        {"Харків", "Kharkiv"},
        {"Христина", "Khrystyna"},
        {"Біла Церква", "Bila Tserkva"},
        {"Стеценко", "Stetsenko"},
        {"Чернівці", "Chernivtsi"},
        {"Шевченко", "Shevchenko"},
        {"Шостка", "Shostka"},
        {"Кишеньки", "Kyshenky"},
        {"Щербухи", "Shcherbukhy"},
        {"Гоща", "Hoshcha"},
        {"Гаращенко", "Harashchenko"},
        {"Юрій", "Yurii"},
        {"Корюківка", "Koriukivka"},
        {"Яготин", "Yahotyn"},
        {"Ярошенко", "Yaroshenko"},
        {"Костянтин", "Kostiantyn"},
        {"Знам'янка", "Znamianka"},
        {"Феодосія", "Feodosiia"},
        {"Розгон", "Rozghon"},
        {"Згорани", "Zghorany"},
        {"Львів", "Lviv"},
        {"Ярослав Ярославович", "Yaroslav Yaroslavovych"},
        {"Знам\u2019янка", "Znamianka"},
        {"м\u02BCята", "miata"},
        {"ЮРІЙ ЗГУРСЬКИЙ", "YURII ZGHURSKYI"},
        {"Єва", "Yeva"},
        {"Ївга", "Yivha"},
        /* an apostrophe that is no part of a word stays */
        {"'Юрій'", "'Yurii'"},
        /* Russian letters in Ukrainian text */
        {"Соловьёв", "Soloviov"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        expect_translit(GS_SCREEN_TRANSLIT_UK, v[i][0], v[i][1]);
}

static void test_translit_variants(void **state)
{
    (void)state;
    char buf[GS_SCREEN_VARIANTS_SIZE(64)], err[128] = "";
    gs_screen_variants_t v;
    const char *in = "Олексій";
    assert_int_equal(
        gs_screen_translit_variants(in, strlen(in), buf, sizeof(buf), &v, err, sizeof(err)), GS_OK);
    assert_int_equal(v.n, 2);
    assert_string_equal(v.v[0].p, "Oleksiy");
    assert_int_equal(v.v[0].len, 7);
    assert_int_equal(v.sys[0], GS_SCREEN_TRANSLIT_RU);
    assert_string_equal(v.v[1].p, "Oleksii");
    assert_int_equal(v.sys[1], GS_SCREEN_TRANSLIT_UK);
    static const char *const pairs[][3] = {
        {"Иван", "Ivan", "Yvan"},
        {"Юрій", "Yuriy", "Yurii"},
        {"Згурський", "Zgurskiy", "Zghurskyi"},
        {"Ярославович", "Yaroslavovich", "Yaroslavovych"},
        {"Алексеев", "Alekseyev", "Alekseev"},
        {"Ёлкин", "Yelkin", "Yolkyn"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        assert_int_equal(gs_screen_translit_variants(pairs[i][0], strlen(pairs[i][0]), buf,
                                                     sizeof(buf), &v, err, sizeof(err)),
                         GS_OK);
        assert_int_equal(v.n, 2);
        assert_string_equal(v.v[0].p, pairs[i][1]);
        assert_string_equal(v.v[1].p, pairs[i][2]);
    }
    /* one form when both systems agree, or nothing is Cyrillic */
    static const char *const same[][2] = {
        {"Щербаков", "Shcherbakov"}, {"Петро", "Petro"}, {"Ivanov", "Ivanov"}, {"", ""}};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        assert_int_equal(gs_screen_translit_variants(same[i][0], strlen(same[i][0]), buf,
                                                     sizeof(buf), &v, err, sizeof(err)),
                         GS_OK);
        assert_int_equal(v.n, 1);
        assert_string_equal(v.v[0].p, same[i][1]);
    }
    assert_int_equal(gs_screen_translit_variants(in, strlen(in), buf,
                                                 GS_SCREEN_VARIANTS_SIZE(strlen(in)) - 1, &v, err,
                                                 sizeof(err)),
                     GS_ERR_INVALID_ARG);
    assert_contains(err, "needs");
}

static void test_translit_buffers(void **state)
{
    (void)state;
    char out[64], err[128] = "";
    size_t n = 0;
    const char *in = "Щербаков"; /* 16 bytes, 11 out */
    assert_int_equal(
        gs_screen_translit(GS_SCREEN_TRANSLIT_RU, in, strlen(in), out, 12, &n, err, sizeof(err)),
        GS_OK);
    assert_string_equal(out, "Shcherbakov");
    assert_int_equal(n, 11);
    memset(out, 'x', sizeof(out));
    assert_int_equal(
        gs_screen_translit(GS_SCREEN_TRANSLIT_RU, in, strlen(in), out, 11, &n, err, sizeof(err)),
        GS_ERR_INVALID_ARG);
    assert_string_equal(out, "");
    assert_contains(err, "needs 12 bytes");
    assert_int_equal(out[11], 'x'); /* nothing written past the buffer */
    assert_int_equal(gs_screen_translit(GS_SCREEN_TRANSLIT__COUNT, in, strlen(in), out, sizeof(out),
                                        &n, err, sizeof(err)),
                     GS_ERR_INVALID_ARG);
    assert_contains(err, "unknown system");
    assert_int_equal(
        gs_screen_translit(GS_SCREEN_TRANSLIT_UK, in, strlen(in), NULL, 10, &n, err, sizeof(err)),
        GS_ERR_INVALID_ARG);
    assert_int_equal(
        gs_screen_translit(GS_SCREEN_TRANSLIT_UK, NULL, 0, out, sizeof(out), &n, err, sizeof(err)),
        GS_OK);
    assert_string_equal(out, "");
    /* malformed bytes are copied; a truncated letter does not read on */
    static const char bad[] = "\xD0\xA9\xFF\xD0";
    assert_int_equal(gs_screen_translit(GS_SCREEN_TRANSLIT_RU, bad, sizeof(bad) - 1, out,
                                        sizeof(out), &n, err, sizeof(err)),
                     GS_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "Shch\xFF\xD0", 6);
}

/* GS_SCREEN_TRANSLIT_SIZE always suffices: random Cyrillic (both
 * alphabets, both cases), apostrophes, ASCII and malformed bytes. */
static void test_translit_bound(void **state)
{
    (void)state;
    static const char *const pieces[] = {"щ", "Щ", "ш", "ж",    "ю",    "Я", "є", "Ї",
                                         "й", "ь", "Ъ", "з",    "г",    "ґ", "'", "\xE2\x80\x99",
                                         " ", "a", "7", "\xFF", "\xD0", "ё", "Ё", "ы",
                                         "€", "ü"};
    char in[200], out[GS_SCREEN_TRANSLIT_SIZE(200)], err[128];
    rng_seed(55);
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = 0;
        for (;;) {
            const char *p = pieces[rng_below(sizeof(pieces) / sizeof(pieces[0]))];
            if (len + strlen(p) > sizeof(in))
                break;
            memcpy(in + len, p, strlen(p));
            len += strlen(p);
        }
        for (int sys = 0; sys < GS_SCREEN_TRANSLIT__COUNT; sys++) {
            size_t n = 0;
            if (gs_screen_translit((gs_screen_translit_t)sys, in, len, out,
                                   GS_SCREEN_TRANSLIT_SIZE(len), &n, err, sizeof(err)) != GS_OK)
                fail_msg("iteration %d: %s", iter, err);
            if (n != strlen(out))
                fail_msg("iteration %d: length %zu, string %zu", iter, n, strlen(out));
        }
    }
}

/* ---- language ------------------------------------------------------------------------- */

static gs_screen_lang_t lang(const char *text)
{
    return gs_screen_lang_detect(text, strlen(text), NULL);
}

static void test_lang(void **state)
{
    (void)state;
    assert_int_equal(lang(""), GS_SCREEN_LANG_UNKNOWN);
    assert_int_equal(lang("12345 !!! 10.03.2024"), GS_SCREEN_LANG_UNKNOWN);
    assert_int_equal(lang("付款 合同"), GS_SCREEN_LANG_UNKNOWN);
    assert_int_equal(lang("DE89370400440532013000"), GS_SCREEN_LANG_UNKNOWN); /* an identifier */
    assert_int_equal(lang("Оплата по договору"), GS_SCREEN_LANG_RU); /* no evidence: Russian */
    assert_int_equal(lang("Оплата за услуги связи"), GS_SCREEN_LANG_RU);
    assert_int_equal(lang("Объём поставки"), GS_SCREEN_LANG_RU);
    assert_int_equal(lang("Оплата згідно рахунку"), GS_SCREEN_LANG_UK);
    assert_int_equal(lang("Оплата за послуги"), GS_SCREEN_LANG_UK); /* a word only */
    assert_int_equal(lang("Ґрунт"), GS_SCREEN_LANG_UK);
    assert_int_equal(lang("м'ята"), GS_SCREEN_LANG_UK);
    assert_int_equal(lang("ПЕРЕКАЗ КОШТІВ ЗА ДОГОВОРОМ"), GS_SCREEN_LANG_UK);
    /* a Russian name in a Ukrainian text */
    assert_int_equal(lang("Сплата за товар згідно рахунку, отримувач Соловьёв Пётр"),
                     GS_SCREEN_LANG_UK);
    assert_int_equal(lang("Payment for consulting services"), GS_SCREEN_LANG_EN);
    assert_int_equal(lang("Zahlung für Müller GmbH"), GS_SCREEN_LANG_EN);
    /* a few Latin letters in Russian text: still Russian */
    assert_int_equal(
        lang("Оплата по счету 15 от 12.03 за поставку товара, IBAN DE89370400440532013000"),
        GS_SCREEN_LANG_RU);
    assert_int_equal(lang("Оплата услуг ООО Ромашка, payment for consulting services"),
                     GS_SCREEN_LANG_MIXED);
    assert_int_equal(lang("Иван Smith"), GS_SCREEN_LANG_MIXED);
    assert_string_equal(gs_screen_lang_name(GS_SCREEN_LANG_RU), "ru");
    assert_string_equal(gs_screen_lang_name(GS_SCREEN_LANG_UK), "uk");
    assert_string_equal(gs_screen_lang_name(GS_SCREEN_LANG_EN), "en");
    assert_string_equal(gs_screen_lang_name(GS_SCREEN_LANG_MIXED), "mixed");
    assert_string_equal(gs_screen_lang_name(GS_SCREEN_LANG_UNKNOWN), "unknown");
    assert_string_equal(gs_screen_lang_name(GS_SCREEN_LANG__COUNT), "unknown");
}

/* The counts the decision rests on, and the mixed threshold's edge. */
static void test_lang_stats(void **state)
{
    (void)state;
    gs_screen_lang_stats_t st;
    const char *t = "Сплата та Ivаnov що, ИНН 7707083893 ёж";
    assert_int_equal(gs_screen_lang_detect(t, strlen(t), &st), GS_SCREEN_LANG_UK);
    assert_int_equal(st.cyrillic, 6 + 2 + 1 + 2 + 3 + 2); /* Сплата та (а) що ИНН ёж */
    assert_int_equal(st.latin, 5);                        /* Iv nov */
    assert_int_equal(st.uk_words, 3);                     /* сплата, та, що */
    assert_int_equal(st.uk_letters, 0);
    assert_int_equal(st.ru_letters, 1); /* ё */
    assert_int_equal(st.ru_words, 0);
    assert_int_equal(st.mixed_tokens, 1);
    /* 3 Latin letters of 12: exactly a quarter is mixed, less is not */
    assert_int_equal(lang("abc ижзклмнпр"), GS_SCREEN_LANG_MIXED);
    assert_int_equal(lang("abc ижзклмнпрс"), GS_SCREEN_LANG_RU);
    assert_int_equal(lang("абв ijklmnopr"), GS_SCREEN_LANG_MIXED);
    assert_int_equal(lang("абв ijklmnoprs"), GS_SCREEN_LANG_EN);
}

static void test_mixed_script(void **state)
{
    (void)state;
    assert_true(gs_screen_token_mixed_script("Iv\xD0\xB0nov", 7)); /* Cyrillic а */
    assert_true(gs_screen_token_mixed_script("Рetrov", strlen("Рetrov")));
    assert_true(gs_screen_token_mixed_script("ООО\"Roga\"", strlen("ООО\"Roga\"")));
    assert_false(gs_screen_token_mixed_script("Ivanov", 6));
    assert_false(gs_screen_token_mixed_script("Иванов", strlen("Иванов")));
    assert_false(gs_screen_token_mixed_script("ИНН7707083893", strlen("ИНН7707083893")));
    assert_false(gs_screen_token_mixed_script("", 0));
    assert_false(gs_screen_token_mixed_script("Iv\xD0", 3)); /* a truncated letter */

    const char *t = "Оплата Ivаnov и Рetrov, Ivanov; Smithов";
    gs_screen_span_t sp[4];
    assert_int_equal(gs_screen_mixed_tokens(t, strlen(t), sp, 4), 3);
    const char *words[] = {"Ivаnov", "Рetrov", "Smithов"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sp[i].start, strstr(t, words[i]) - t);
        assert_int_equal(sp[i].end - sp[i].start, strlen(words[i]));
    }
    assert_int_equal(gs_screen_mixed_tokens(t, strlen(t), sp, 1), 3);
    assert_int_equal(gs_screen_mixed_tokens(t, strlen(t), NULL, 0), 3);
    assert_int_equal(gs_screen_mixed_tokens("Ivanov Иванов", strlen("Ivanov Иванов"), sp, 4), 0);
    assert_int_equal(gs_screen_mixed_tokens(NULL, 5, sp, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iban_checks),         cmocka_unit_test(test_inn_rnokpp_checks),
        cmocka_unit_test(test_edrpou_checks),       cmocka_unit_test(test_ogrn_checks),
        cmocka_unit_test(test_bic_passport_checks), cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_oracle_vectors),      cmocka_unit_test(test_iban_in_text),
        cmocka_unit_test(test_digits_in_text),      cmocka_unit_test(test_context_reach),
        cmocka_unit_test(test_bic_in_text),         cmocka_unit_test(test_passport_in_text),
        cmocka_unit_test(test_find_limits),         cmocka_unit_test(test_find_random),
        cmocka_unit_test(test_translit_ru),         cmocka_unit_test(test_translit_uk),
        cmocka_unit_test(test_translit_variants),   cmocka_unit_test(test_translit_buffers),
        cmocka_unit_test(test_translit_bound),      cmocka_unit_test(test_lang),
        cmocka_unit_test(test_lang_stats),          cmocka_unit_test(test_mixed_script),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
