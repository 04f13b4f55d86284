/* Watch-list files: the UN list parser on the real list, the file round
 * trip, the command, and every kind of damage refused. */
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

#include "govstream/screen_list.h"

static char *tmp_path(const char *tag)
{
    char *p = malloc(64);
    snprintf(p, 64, "/tmp/gs_test_%sXXXXXX", tag);
    int fd = mkstemp(p);
    assert_true(fd >= 0);
    close(fd);
    return p;
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* The list ops/data/fetch_un_list.sh fetches (ops/test.sh runs it first). */
static int un_path(char *out, size_t n)
{
    const char *src = getenv("GS_SOURCE_DIR");
    snprintf(out, n, "%s/.cache/data/un-consolidated.xml", src ? src : ".");
    return access(out, R_OK);
}

static long find_entry(const gs_screen_list_t *l, const char *id)
{
    for (size_t i = 0; i < gs_screen_list_entries(l); i++)
        if (!strcmp(gs_screen_list_entry(l, i).id, id))
            return (long)i;
    return -1;
}

static void test_un_list(void **state)
{
    (void)state;
    char un[512], err[512];
    if (un_path(un, sizeof(un))) {
        print_message("skipped: %s is missing (ops/data/fetch_un_list.sh)\n", un);
        skip();
    }
    char *out = tmp_path("un");
    char *argv[] = {"watchlist", "build", "--format", "un-xml", un, "--out", out, NULL};
    assert_int_equal(gs_screen_watchlist_cmd(7, argv), 0);
    gs_screen_list_t *l;
    if (gs_screen_list_open(out, &l, err, sizeof(err)))
        fail_msg("%s", err);
    assert_string_equal(gs_screen_list_name(l), "UN");
    assert_string_equal(gs_screen_list_version(l), "2020-11-24");
    assert_int_equal(gs_screen_list_entries(l), 713 + 305);
    size_t persons = 0, originals = 0, cyrillic = 0;
    for (size_t i = 0; i < gs_screen_list_entries(l); i++)
        persons += gs_screen_list_entry(l, i).type == GS_SCREEN_PERSON;
    for (size_t i = 0; i < gs_screen_list_names(l); i++) {
        gs_screen_name_t nm = gs_screen_list_name_at(l, i);
        originals += nm.kind == GS_SCREEN_NAME_ORIGINAL;
        cyrillic += nm.kind == GS_SCREEN_NAME_ORIGINAL && strstr(nm.text, "\xd0") != NULL;
        assert_true(nm.entry < gs_screen_list_entries(l));
    }
    assert_int_equal(persons, 713);
    assert_true(originals >= 400);
    assert_true(cyrillic >= 5);
    /* the first entry of the file, as the XML has it */
    long e = find_entry(l, "KPi.033");
    assert_true(e >= 0);
    gs_screen_entry_t en = gs_screen_list_entry(l, (size_t)e);
    assert_string_equal(en.list, "UN");
    assert_string_equal(gs_screen_list_name_at(l, en.first_name).text, "RI WON HO");
    assert_string_equal(en.dobs, "1964-07-17");
    assert_string_equal(en.countries, "Democratic People's Republic of Korea");
    assert_int_equal(en.n_idents, 1);
    gs_screen_list_ident_t id = gs_screen_list_ident_at(l, en.first_ident);
    assert_string_equal(id.type, "PASSPORT");
    assert_string_equal(id.value, "381310014");
    /* an alias of quality Good */
    en = gs_screen_list_entry(l, (size_t)find_entry(l, "KPi.037"));
    int alias = 0;
    for (uint32_t k = 0; k < en.n_names; k++) {
        gs_screen_name_t nm = gs_screen_list_name_at(l, en.first_name + k);
        alias |= nm.kind == GS_SCREEN_NAME_ALIAS && !strcmp(nm.text, "Jang Chang Ha");
    }
    assert_true(alias);
    gs_screen_list_close(l);
    char *vargv[] = {"watchlist", "validate", out, NULL};
    assert_int_equal(gs_screen_watchlist_cmd(3, vargv), 0);
    unlink(out);
    free(out);
}

/* A small list of our own, written and read back. */
static char *small_list(void)
{
    char err[256];
    gs_screen_listdata_t *d;
    assert_int_equal(gs_screen_listdata_new(&d, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_screen_listdata_entry(d, "T", "T.1", GS_SCREEN_PERSON, err, sizeof(err)),
                     GS_OK);
    gs_screen_listdata_name(d, GS_SCREEN_NAME_PRIMARY, "  Ivanov   Ivan ", "Ivanov", err, 64);
    gs_screen_listdata_name(d, GS_SCREEN_NAME_ALIAS, "Ivanov Ivan", NULL, err, 64); /* again */
    gs_screen_listdata_name(d, GS_SCREEN_NAME_ORIGINAL, "Иванов Иван", NULL, err, 64);
    gs_screen_listdata_ident(d, "INN", " 7707-083.893 ", err, 64);
    gs_screen_listdata_dob(d, "1970", err, 64);
    gs_screen_listdata_dob(d, "1971", err, 64);
    gs_screen_listdata_entry(d, "T", "T.2", GS_SCREEN_ENTITY, err, 64); /* no name: dropped */
    gs_screen_listdata_ident(d, "IBAN", "X", err, 64);
    gs_screen_listdata_end(d);
    gs_screen_list_counts_t c = gs_screen_listdata_counts(d);
    assert_int_equal(c.entries, 1);
    assert_int_equal(c.skipped, 1);
    assert_int_equal(c.names, 2);
    assert_int_equal(c.identifiers, 1);
    char *path = tmp_path("list");
    uint32_t extra_data[3] = {7, 8, 9};
    gs_tensor_t extra = {.name = "index.test",
                         .dtype = GS_DT_U32,
                         .ndim = 1,
                         .dims = {3},
                         .data = extra_data,
                         .nbytes = 12};
    assert_int_equal(gs_screen_list_write(path, d, "{\"name\":\"T\",\"version\":\"1\"}", &extra, 1,
                                          err, sizeof(err)),
                     GS_OK);
    gs_screen_listdata_destroy(d);
    return path;
}

static void test_round_trip(void **state)
{
    (void)state;
    char err[256];
    char *path = small_list();
    gs_screen_list_t *l;
    if (gs_screen_list_open(path, &l, err, sizeof(err)))
        fail_msg("%s", err);
    assert_string_equal(gs_screen_list_version(l), "1");
    gs_screen_entry_t e = gs_screen_list_entry(l, 0);
    assert_string_equal(e.id, "T.1");
    assert_string_equal(e.dobs, "1970; 1971");
    assert_string_equal(e.countries, "");
    gs_screen_name_t n0 = gs_screen_list_name_at(l, 0), n1 = gs_screen_list_name_at(l, 1);
    assert_string_equal(n0.text, "Ivanov Ivan");
    assert_string_equal(n0.family, "Ivanov");
    assert_string_equal(n1.text, "Иванов Иван");
    assert_string_equal(n1.family, "");
    gs_screen_list_ident_t id = gs_screen_list_ident_at(l, 0);
    assert_string_equal(id.value, "7707083893");
    assert_string_equal(id.original, " 7707-083.893 ");
    const gs_tensor_t *t = gs_screen_list_section(l, "index.test");
    assert_non_null(t);
    assert_int_equal(((const uint32_t *)t->data)[2], 9);
    assert_null(gs_screen_list_section(l, "index.none"));
    gs_screen_list_close(l);
    unlink(path);
    free(path);
}

static void expect_refused(const char *path, const char *why)
{
    char err[512];
    gs_screen_list_t *l = NULL;
    assert_int_not_equal(gs_screen_list_open(path, &l, err, sizeof(err)), GS_OK);
    assert_null(l);
    if (why && !strstr(err, why))
        fail_msg("refused for \"%s\", expected \"%s\"", err, why);
}

static void test_damage_refused(void **state)
{
    (void)state;
    char *path = small_list();
    char *text;
    size_t len;
    char err[256];
    assert_int_equal(gs_read_file(path, &text, &len, err, sizeof(err)), GS_OK);
    char *bad = tmp_path("bad");
    /* every byte flipped in turn, one at a time: each refused */
    for (size_t i = 0; i < len; i += 7) {
        text[i] ^= 0x5a;
        FILE *fp = fopen(bad, "wb");
        fwrite(text, 1, len, fp);
        fclose(fp);
        expect_refused(bad, NULL);
        text[i] ^= 0x5a;
    }
    FILE *fp = fopen(bad, "wb"); /* truncated */
    fwrite(text, 1, len / 2, fp);
    fclose(fp);
    expect_refused(bad, NULL);
    free(text);
    /* a sound container whose records point outside the strings */
    uint8_t strings[] = {0, 'x', 0};
    uint32_t entries[9] = {1, 1, 0, 0, 1, 0, 0, 99, 0};
    uint32_t names[4] = {0, 0, 1, 0};
    gs_tensor_t t[4] = {
        {.name = "list.strings",
         .dtype = GS_DT_BYTES,
         .ndim = 1,
         .dims = {3},
         .data = strings,
         .nbytes = 3},
        {.name = "list.entries",
         .dtype = GS_DT_U32,
         .ndim = 1,
         .dims = {9},
         .data = entries,
         .nbytes = 36},
        {.name = "list.names",
         .dtype = GS_DT_U32,
         .ndim = 1,
         .dims = {4},
         .data = names,
         .nbytes = 16},
        {.name = "list.idents",
         .dtype = GS_DT_U32,
         .ndim = 1,
         .dims = {0},
         .data = names,
         .nbytes = 0},
    };
    assert_int_equal(gs_modelfile_write(bad, GS_MODEL_KIND_SCREEN_LIST, "{}", t, 4, err, 256),
                     GS_OK);
    expect_refused(bad, "entry 0");
    entries[7] = 0;
    names[0] = 5; /* a name of entry 5 of 1 */
    assert_int_equal(gs_modelfile_write(bad, GS_MODEL_KIND_SCREEN_LIST, "{}", t, 4, err, 256),
                     GS_OK);
    expect_refused(bad, "name 0");
    names[0] = 0;
    assert_int_equal(gs_modelfile_write(bad, 1, "{}", t, 4, err, 256), GS_OK);
    expect_refused(bad, "not a watch list");
    assert_int_equal(gs_modelfile_write(bad, GS_MODEL_KIND_SCREEN_LIST, "{}", t, 3, err, 256),
                     GS_OK);
    expect_refused(bad, "no section list.idents");
    unlink(bad);
    free(bad);
    unlink(path);
    free(path);
}

static void test_bad_xml(void **state)
{
    (void)state;
    char err[512];
    char *x = tmp_path("xml");
    gs_screen_listdata_t *d;
    assert_int_equal(gs_screen_listdata_new(&d, err, sizeof(err)), GS_OK);
    write_text(x, "<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><FIRST_NAME>A</FIRST_NAME>");
    assert_int_equal(gs_screen_parse_un_xml(x, "UN", d, err, sizeof(err)), GS_ERR_DECODE);
    assert_non_null(strstr(err, "not well-formed"));
    write_text(x, "<sdnList/>");
    assert_int_equal(gs_screen_parse_un_xml(x, "UN", d, err, sizeof(err)), GS_ERR_DECODE);
    assert_non_null(strstr(err, "CONSOLIDATED_LIST"));
    /* an external entity is not fetched nor expanded */
    write_text(x, "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
                  "<CONSOLIDATED_LIST><ENTITIES><ENTITY><DATAID>1</DATAID>"
                  "<FIRST_NAME>&e;Acme</FIRST_NAME></ENTITY></ENTITIES></CONSOLIDATED_LIST>");
    gs_err_t e = gs_screen_parse_un_xml(x, "UN", d, err, sizeof(err));
    if (e == GS_OK) {
        char *out = tmp_path("ent");
        assert_int_equal(gs_screen_list_write(out, d, "{}", NULL, 0, err, sizeof(err)), GS_OK);
        gs_screen_list_t *l;
        assert_int_equal(gs_screen_list_open(out, &l, err, sizeof(err)), GS_OK);
        assert_int_equal(gs_screen_list_entries(l), 1);
        assert_null(strstr(gs_screen_list_name_at(l, 0).text, "root"));
        gs_screen_list_close(l);
        unlink(out);
        free(out);
    }
    gs_screen_listdata_destroy(d);
    char *argv[] = {"watchlist", "build", "--format", "ofac-sdn-xml", x, "--out", x, NULL};
    assert_int_equal(gs_screen_watchlist_cmd(7, argv), 1); /* a UN file is not sdn.xml */
    argv[3] = "no-such-format";
    assert_int_equal(gs_screen_watchlist_cmd(7, argv), 2);
    char *argv2[] = {"watchlist", "build", x, NULL};
    assert_int_equal(gs_screen_watchlist_cmd(3, argv2), 2);
    unlink(x);
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_un_list),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_damage_refused),
        cmocka_unit_test(test_bad_xml),
    };
    return cmocka_run_group_tests_name("screen_list", tests, NULL, NULL);
}
