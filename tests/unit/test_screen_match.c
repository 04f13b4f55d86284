/* Screening end to end below Kafka: a hand-made list in the UN format is
 * built by `govstream watchlist build` (index included), loaded by the
 * engine, and payment texts are screened: the perturbations the kind must
 * catch, the look-alikes it must not flag, identifiers, SKIP and the key
 * rules. The names are made up. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/kinds/screen/engine.h"
#include "../../src/kinds/screen/keys.h"
#include "govstream/screen_list.h"

static const char fixture[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<CONSOLIDATED_LIST dateGenerated=\"2026-01-02T00:00:00\"><INDIVIDUALS>\n"
    "<INDIVIDUAL><DATAID>1</DATAID><FIRST_NAME>Ivan</FIRST_NAME><SECOND_NAME>Sergeyevich"
    "</SECOND_NAME><THIRD_NAME>Petrovsky</THIRD_NAME><REFERENCE_NUMBER>T.P.1</REFERENCE_NUMBER>"
    "<NAME_ORIGINAL_SCRIPT>Петровский Иван Сергеевич</NAME_ORIGINAL_SCRIPT>"
    "<INDIVIDUAL_DOCUMENT><TYPE_OF_DOCUMENT>Passport</TYPE_OF_DOCUMENT><NUMBER>7512 345678"
    "</NUMBER></INDIVIDUAL_DOCUMENT></INDIVIDUAL>\n"
    "<INDIVIDUAL><DATAID>2</DATAID><FIRST_NAME>Oleksandr</FIRST_NAME><SECOND_NAME>Mykolaiovych"
    "</SECOND_NAME><THIRD_NAME>Kovalchuk</THIRD_NAME><REFERENCE_NUMBER>T.P.2</REFERENCE_NUMBER>"
    "<NAME_ORIGINAL_SCRIPT>Ковальчук Олександр Миколайович</NAME_ORIGINAL_SCRIPT></INDIVIDUAL>\n"
    "<INDIVIDUAL><DATAID>3</DATAID><FIRST_NAME>Taras</FIRST_NAME><SECOND_NAME>Shevchukov"
    "</SECOND_NAME><REFERENCE_NUMBER>T.P.3</REFERENCE_NUMBER></INDIVIDUAL>\n"
    "<INDIVIDUAL><DATAID>4</DATAID><FIRST_NAME>Anna</FIRST_NAME><SECOND_NAME>Ivanova"
    "</SECOND_NAME><REFERENCE_NUMBER>T.P.4</REFERENCE_NUMBER></INDIVIDUAL>\n"
    "</INDIVIDUALS><ENTITIES>\n"
    "<ENTITY><DATAID>5</DATAID><FIRST_NAME>OOO SEVERNYI LUCH</FIRST_NAME>"
    "<REFERENCE_NUMBER>T.E.1</REFERENCE_NUMBER>"
    "<NAME_ORIGINAL_SCRIPT>ООО «Северный Луч»</NAME_ORIGINAL_SCRIPT>"
    "<ENTITY_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME>Northern Ray Trading LLC</ALIAS_NAME>"
    "</ENTITY_ALIAS></ENTITY>\n"
    "<ENTITY><DATAID>6</DATAID><FIRST_NAME>Zarechny Shipping Company</FIRST_NAME>"
    "<REFERENCE_NUMBER>T.E.2</REFERENCE_NUMBER></ENTITY>\n"
    "</ENTITIES></CONSOLIDATED_LIST>\n";

typedef struct fix {
    char xml[64], gsl[64];
    gs_screen_engine_t *e;
    gs_screen_scratch_t *s;
    gs_arena_t arena;
} fix_t;

static int setup(void **state)
{
    fix_t *f = calloc(1, sizeof(*f));
    snprintf(f->xml, sizeof(f->xml), "/tmp/gs_test_matchXXXXXX");
    int fd = mkstemp(f->xml);
    assert_true(fd >= 0);
    assert_true(write(fd, fixture, sizeof(fixture) - 1) == (ssize_t)(sizeof(fixture) - 1));
    close(fd);
    snprintf(f->gsl, sizeof(f->gsl), "%s.gsl", f->xml);
    char *argv[] = {"watchlist", "build", "--list", "TEST", "--format",
                    "un-xml",    f->xml,  "--out",  f->gsl, NULL};
    assert_int_equal(gs_screen_watchlist_cmd(9, argv), 0);
    char err[512];
    gs_err_t e = gs_screen_engine_load(f->gsl, &f->e, err, sizeof(err));
    if (e)
        print_message("%s\n", err);
    assert_int_equal(e, GS_OK);
    assert_int_equal(gs_screen_scratch_new(&f->s, err, sizeof(err)), GS_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix_t *f = *state;
    gs_screen_scratch_destroy(f->s);
    gs_screen_engine_destroy(f->e);
    gs_arena_free(&f->arena);
    unlink(f->xml);
    unlink(f->gsl);
    free(f);
    return 0;
}

static gs_avro_screen_result_t screen2(fix_t *f, const char *text, const char *counterparty)
{
    gs_avro_screen_request_t r = {.request_id = gs_avro_cstr("r"),
                                  .account_id = gs_avro_cstr("a"),
                                  .tenant = gs_avro_cstr("t"),
                                  .text = gs_avro_cstr(text),
                                  .has_counterparty = counterparty != NULL,
                                  .counterparty = gs_avro_cstr(counterparty)};
    gs_avro_screen_result_t res = {0};
    screen_thresholds_t t = {.high = 0.9, .medium = 0.75};
    char err[256];
    assert_int_equal(gs_screen_engine_run(f->e, f->s, &r, &t, &res, &f->arena, err, sizeof(err)),
                     GS_OK);
    return res;
}

static gs_avro_screen_result_t screen(fix_t *f, const char *text)
{
    return screen2(f, text, NULL);
}

static const char *const decisions[] = {"LOW", "MEDIUM", "HIGH", "SKIP"};

/* At least `min` with the entry first. */
static void expect_hit(fix_t *f, const char *text, int min, const char *entry)
{
    gs_avro_screen_result_t r = screen(f, text);
    int ok = (int)r.decision >= min && r.decision != GS_AVRO_DECISION_SKIP && r.n_matches &&
             r.matches[0].entry_id.len == strlen(entry) &&
             !memcmp(r.matches[0].entry_id.p, entry, strlen(entry));
    if (!ok)
        print_message("case %s [%s]: %s score %.3f (%zu matches%s%.*s)\n", entry, text,
                      decisions[r.decision], r.score, r.n_matches, r.n_reasons ? ": " : "",
                      r.n_reasons ? (int)r.reasons[0].len : 0, r.n_reasons ? r.reasons[0].p : "");
    assert_true(ok);
}

static void expect_low(fix_t *f, const char *what, const char *text)
{
    gs_avro_screen_result_t r = screen(f, text);
    if (r.decision != GS_AVRO_DECISION_LOW)
        print_message("negative %s: %s score %.3f (%.*s)\n", what, decisions[r.decision], r.score,
                      r.n_reasons ? (int)r.reasons[0].len : 0, r.n_reasons ? r.reasons[0].p : "");
    assert_int_equal(r.decision, GS_AVRO_DECISION_LOW);
}

enum { MEDIUM = GS_AVRO_DECISION_MEDIUM, HIGH = GS_AVRO_DECISION_HIGH };

static void test_perturbations(void **state)
{
    fix_t *f = *state;
    expect_hit(f, "Payment to Ivan Sergeyevich Petrovsky for services", HIGH, "T.P.1");
    expect_hit(f, "Оплата по договору 15 от 02.03.2024, получатель Петровский Иван Сергеевич", HIGH,
               "T.P.1");
    expect_hit(f, "перевод Петровскому Ивану Сергеевичу по счету 4411", HIGH, "T.P.1");
    expect_hit(f, "оплата Петровский И.С. за аренду", MEDIUM, "T.P.1");
    expect_hit(f, "invoice 77, I. Petrovsky", MEDIUM, "T.P.1");
    expect_hit(f, "beneficiary Petorvsky Ivan", MEDIUM, "T.P.1");             /* transposed */
    expect_hit(f, "beneficiary Pеtrovsky Ivan Sergeevich", HIGH, "T.P.1");    /* Cyrillic е */
    expect_hit(f, "beneficiary Petro\xE2\x80\x8Bvsky Ivan", MEDIUM, "T.P.1"); /* zero width */
    expect_hit(f, "beneficiary Petrovskij Ivan Sergeevich", HIGH, "T.P.1");   /* GOST-ish */
    expect_hit(f, "Переказ коштів Ковальчуку Олександру Миколайовичу", HIGH, "T.P.2");
    expect_hit(f, "получатель Ковальчук Александр Николаевич", MEDIUM, "T.P.2"); /* ru form */
    expect_hit(f, "оплата Ковальчук Олександр", HIGH, "T.P.2");                  /* no patronymic */
    expect_hit(f, "Оплата по счету 12 ООО «Северный Луч», в т.ч. НДС", HIGH, "T.E.1");
    expect_hit(f, "оплата ТОВ Северный Луч", HIGH, "T.E.1"); /* legal form swapped */
    expect_hit(f, "in favour of Northern Ray Trading Ltd", HIGH, "T.E.1");
    expect_hit(f, "переказ Шевчукову за ремонт", MEDIUM, "T.P.3"); /* a rare family name alone */
}

static void test_negatives(void **state)
{
    fix_t *f = *state;
    expect_low(f, "clean", "Оплата по договору 15 от 02.03.2024 за поставку товара, НДС 20%");
    expect_low(f, "clean en", "Payment for consulting services under invoice 4411, VAT included");
    expect_low(f, "other given name", "получатель Петровский Олег Андреевич");
    expect_low(f, "sister company", "оплата ООО «Северный Ветер»");
    expect_low(f, "common word", "Trading company payment, shipping costs");
    expect_low(f, "other person", "оплата Сидоренко Олена Петрівна");
}

static void test_counterparty_and_skip(void **state)
{
    fix_t *f = *state;
    gs_avro_screen_result_t r = screen2(f, "оплата по счету 15", "Zarechny Shipping Company");
    assert_int_equal(r.decision, GS_AVRO_DECISION_HIGH);
    assert_int_equal(r.matches[0].matched_text.len, strlen("Zarechny Shipping Company"));
    r = screen2(f, "оплата по счету 15", "Zarechny Shipping Co"); /* common words count little */
    assert_int_equal(r.decision, GS_AVRO_DECISION_MEDIUM);
    r = screen(f, " -- !!! ... ");
    assert_int_equal(r.decision, GS_AVRO_DECISION_SKIP);
    assert_int_equal(r.n_matches, 0);
    r = screen(f, "12345");
    assert_int_equal(r.decision, GS_AVRO_DECISION_LOW); /* digits are screened */
    r = screen(f, "Петровский");
    assert_true(r.n_reasons >= 1); /* a lone surname is screened, not skipped */
    assert_int_not_equal(r.decision, GS_AVRO_DECISION_SKIP);
}

static void test_identifiers(void **state)
{
    fix_t *f = *state;
    gs_avro_screen_result_t r = screen(f, "оплата, паспорт 7512 345678, за услуги");
    assert_int_equal(r.decision, GS_AVRO_DECISION_HIGH);
    assert_int_equal(r.matches[0].kind, GS_AVRO_MATCH_KIND_IDENTIFIER);
    assert_int_equal(r.matches[0].entry_id.len, 5);
    assert_memory_equal(r.matches[0].entry_id.p, "T.P.1", 5);
    assert_true(r.n_identifiers >= 1);
    r = screen(f, "ИНН 7707083893, оплата");
    assert_int_equal(r.n_identifiers, 1);
    assert_true(r.identifiers[0].valid);
    assert_int_equal(r.decision, GS_AVRO_DECISION_LOW); /* valid, but on no entry */
}

static void test_keys(void **state)
{
    (void)state;
    const char *same[][2] = {
        {"shcherbakov", "shherbakov"},     {"aleksandr", "alexandr"}, {"yuriy", "iurii"},
        {"khodorkovskiy", "xodorkovskij"}, {"tsoi", "tsoy"},          {"vyacheslav", "viacheslav"}};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        char a[64], b[64];
        screen_skeleton(same[i][0], strlen(same[i][0]), a);
        screen_skeleton(same[i][1], strlen(same[i][1]), b);
        if (strcmp(a, b))
            print_message("%s -> %s, %s -> %s\n", same[i][0], a, same[i][1], b);
        assert_string_equal(a, b);
    }
    assert_int_equal(screen_edit_distance("petrov", 6, "petorv", 6, 2), 1);
    assert_int_equal(screen_edit_distance("petrov", 6, "ptrv", 4, 2), 2);
    assert_int_equal(screen_edit_distance("petrov", 6, "ivanov", 6, 2), 3);
    assert_true(screen_jaro_winkler("martha", 6, "marhta", 6) > 0.96);
    assert_true(screen_jaro_winkler("martha", 6, "marhta", 6) < 0.962);
    screen_keys_t *k;
    char err[128];
    assert_int_equal(screen_keys_new(&k, err, sizeof(err)), GS_OK);
    screen_key_t uk[KEYS_PER_TOKEN], ru[KEYS_PER_TOKEN];
    size_t nu = screen_token_keys(k, "олександр", strlen("олександр"), 1, 0, uk, KEYS_PER_TOKEN);
    size_t nr = screen_token_keys(k, "александр", strlen("александр"), 1, 0, ru, KEYS_PER_TOKEN);
    assert_true(nu >= 1 && nr >= 1);
    assert_string_equal(uk[0].s, ru[0].s);
    screen_keys_destroy(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test_setup_teardown(test_perturbations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_negatives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counterparty_and_skip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identifiers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
