/* Watch-list files: the UN list parser on the real list, the other
 * formats on hand-made fixtures, the file round trip, the command, and
 * every kind of damage refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
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
    gs_tensor_t got[2];
    assert_int_equal(gs_screen_list_sections(l, "index.", got, 2), 1);
    assert_string_equal(got[0].name, "index.test");
    assert_ptr_equal(got[0].data, t->data);
    assert_int_equal(gs_screen_list_sections(l, "list.", got, 2), 4); /* more than cap */
    gs_screen_list_counts_t c = gs_screen_list_counts(l);
    assert_int_equal(c.persons, 1);
    assert_int_equal(c.entities, 0);
    assert_int_equal(c.names, 2);
    assert_int_equal(strlen(gs_screen_list_sha256(l)), 64);
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
    /* two entries, the first with name 0, which says it is the second's */
    uint32_t two[18] = {1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0};
    t[1].data = two, t[1].dims[0] = 18, t[1].nbytes = 72;
    names[0] = 1;
    assert_int_equal(gs_modelfile_write(bad, GS_MODEL_KIND_SCREEN_LIST, "{}", t, 4, err, 256),
                     GS_OK);
    expect_refused(bad, "name 0 is not its own");
    t[1].data = entries, t[1].dims[0] = 9, t[1].nbytes = 36;
    names[0] = 0;
    assert_int_equal(gs_modelfile_write(bad, 1, "{}", t, 4, err, 256), GS_OK);
    expect_refused(bad, "not a watch list");
    assert_int_equal(gs_modelfile_write(bad, GS_MODEL_KIND_SCREEN_LIST, "{}", t, 3, err, 256),
                     GS_OK);
    expect_refused(bad, "tensor list.idents is missing");
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

/* ---- the other formats, on the hand-made fixtures (tests/data/watchlist) */

static void fixture(const char *name, char *out, size_t n)
{
    const char *src = getenv("GS_SOURCE_DIR");
    snprintf(out, n, "%s/tests/data/watchlist/%s", src ? src : ".", name);
}

/* Builds argv (NULL-terminated, after "watchlist build") into a fresh
 * file, opens it. */
static gs_screen_list_t *build_list(char **args, char **out)
{
    char *argv[32] = {"watchlist", "build"};
    int argc = 2;
    for (; args[argc - 2]; argc++)
        argv[argc] = args[argc - 2];
    *out = tmp_path("fx");
    argv[argc++] = "--out";
    argv[argc++] = *out;
    assert_int_equal(gs_screen_watchlist_cmd(argc, argv), 0);
    gs_screen_list_t *l = NULL;
    char err[512];
    if (gs_screen_list_open(*out, &l, err, sizeof(err)))
        fail_msg("%s", err);
    return l;
}

static void drop_list(gs_screen_list_t *l, char *out)
{
    gs_screen_list_close(l);
    unlink(out);
    free(out);
}

/* The entry's names as "KIND:text/family|..." (kinds P, A, W, O). */
static void names_of(const gs_screen_list_t *l, const char *id, char *buf, size_t n)
{
    long e = find_entry(l, id);
    if (e < 0)
        fail_msg("no entry %s", id);
    gs_screen_entry_t en = gs_screen_list_entry(l, (size_t)e);
    buf[0] = 0;
    for (uint32_t k = 0; k < en.n_names; k++) {
        gs_screen_name_t nm = gs_screen_list_name_at(l, en.first_name + k);
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s%c:%s/%s", k ? "|" : "", "PAWO"[nm.kind], nm.text,
                 nm.family);
    }
}

/* The entry's identifiers as "TYPE=value|...". */
static void idents_of(const gs_screen_list_t *l, const char *id, char *buf, size_t n)
{
    gs_screen_entry_t en = gs_screen_list_entry(l, (size_t)find_entry(l, id));
    buf[0] = 0;
    for (uint32_t k = 0; k < en.n_idents; k++) {
        gs_screen_list_ident_t x = gs_screen_list_ident_at(l, en.first_ident + k);
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s%s=%s", k ? "|" : "", x.type, x.value);
    }
}

static void test_ofac_xml(void **state)
{
    (void)state;
    char path[512], buf[1024], *out;
    fixture("ofac-sdn.xml", path, sizeof(path));
    char *args[] = {"--format", "ofac-sdn-xml", path, NULL};
    gs_screen_list_t *l = build_list(args, &out);
    assert_string_equal(gs_screen_list_name(l), "OFAC-SDN");
    assert_string_equal(gs_screen_list_version(l), "2020-11-24");
    assert_int_equal(gs_screen_list_entries(l), 2); /* the nameless vessel skipped */
    names_of(l, "90001", buf, sizeof(buf));
    assert_string_equal(buf, "P:Ivan Petrovich SIDOROV/SIDOROV|A:Ivan SIDOROFF/SIDOROFF|"
                             "W:VANYA/VANYA");
    idents_of(l, "90001", buf, sizeof(buf)); /* Gender is no identifier */
    assert_string_equal(buf, "PASSPORT=721234567|Tax ID No.=500100732259");
    gs_screen_entry_t e = gs_screen_list_entry(l, (size_t)find_entry(l, "90001"));
    assert_int_equal(e.type, GS_SCREEN_PERSON);
    assert_string_equal(e.list, "OFAC-SDN");
    assert_string_equal(e.dobs, "1960-01-12; 1961");
    assert_string_equal(e.countries, "Russia");
    assert_string_equal(gs_screen_list_ident_at(l, e.first_ident).original, "72 1234567");
    names_of(l, "90002", buf, sizeof(buf));
    assert_string_equal(buf, "P:OOO TORGOVYI DOM VOSTOK/|A:TD VOSTOK/");
    idents_of(l, "90002", buf, sizeof(buf));
    assert_string_equal(buf, "BIC=SABRRUMM|Registration Number=1027700132195");
    assert_int_equal(gs_screen_list_entry(l, (size_t)find_entry(l, "90002")).type,
                     GS_SCREEN_ENTITY);
    drop_list(l, out);
}

static void test_ofac_csv(void **state)
{
    (void)state;
    char sdn[512], alt[512], add[512], buf[1024], *out;
    fixture("sdn.csv", sdn, sizeof(sdn));
    fixture("alt.csv", alt, sizeof(alt));
    fixture("add.csv", add, sizeof(add));
    char *args[] = {"--format", "ofac-sdn-csv", alt, sdn, add, "--version", "v7", NULL};
    gs_screen_list_t *l = build_list(args, &out);
    assert_string_equal(gs_screen_list_version(l), "v7");
    assert_int_equal(gs_screen_list_entries(l), 2);
    names_of(l, "90001", buf, sizeof(buf));
    assert_string_equal(buf, "P:Ivan Petrovich SIDOROV/SIDOROV|A:Ivan SIDOROFF/SIDOROFF|"
                             "A:Ivan SIDOROV/SIDOROV|W:VANYA/");
    idents_of(l, "90001", buf, sizeof(buf));
    assert_string_equal(buf, "PASSPORT=721234567|Tax ID No.=500100732259");
    gs_screen_entry_t e = gs_screen_list_entry(l, (size_t)find_entry(l, "90001"));
    assert_string_equal(e.dobs, "1960-01-12; 1961");
    assert_string_equal(e.countries, "Russia");
    names_of(l, "90002", buf, sizeof(buf));
    assert_string_equal(buf, "P:OOO TORGOVYI DOM \"VOSTOK\"/|A:TD VOSTOK/");
    idents_of(l, "90002", buf, sizeof(buf));
    assert_string_equal(buf, "BIC=SABRRUMM|Registration ID=1027700132195");
    drop_list(l, out);
    /* two sdn.csv in one group, or none, is refused */
    char *argv[] = {"watchlist", "build",  "--format", "ofac-sdn-csv", sdn, sdn,
                    "--out",     "/tmp/x", NULL};
    assert_int_equal(gs_screen_watchlist_cmd(8, argv), 1);
    argv[4] = argv[5] = alt;
    assert_int_equal(gs_screen_watchlist_cmd(8, argv), 1);
}

static void test_eu_xml(void **state)
{
    (void)state;
    char path[512], buf[1024], *out;
    fixture("eu-fsf.xml", path, sizeof(path));
    char *args[] = {"--format", "eu-fsf-xml", path, NULL};
    gs_screen_list_t *l = build_list(args, &out);
    assert_string_equal(gs_screen_list_name(l), "EU-FSF");
    assert_string_equal(gs_screen_list_version(l), "2020-11-23");
    assert_int_equal(gs_screen_list_entries(l), 2);
    names_of(l, "9001", buf, sizeof(buf));
    assert_string_equal(buf, "P:Olena Mykolaivna Kovalenko/Kovalenko|"
                             "O:Олена Миколаївна Коваленко/Коваленко|A:Elena Kovalenko/Kovalenko|"
                             "W:Lena K./");
    idents_of(l, "9001", buf, sizeof(buf));
    assert_string_equal(buf, "PASSPORT=EH123456|NATIONAL_ID=3012345678");
    gs_screen_entry_t e = gs_screen_list_entry(l, (size_t)find_entry(l, "9001"));
    assert_string_equal(e.dobs, "1975-03-08");
    assert_string_equal(e.countries, "UKRAINE");
    names_of(l, "9002", buf, sizeof(buf));
    assert_string_equal(buf, "P:Joint Stock Company Severnyi Port/|O:АО Северный порт/");
    e = gs_screen_list_entry(l, (size_t)find_entry(l, "9002"));
    assert_int_equal(e.type, GS_SCREEN_ENTITY);
    assert_string_equal(e.countries, "RUSSIAN FEDERATION");
    drop_list(l, out);
}

static void test_uk_csv(void **state)
{
    (void)state;
    char path[512], buf[1024], *out;
    fixture("uk-conlist.csv", path, sizeof(path));
    char *args[] = {"--format", "uk-csv", path, NULL};
    gs_screen_list_t *l = build_list(args, &out);
    assert_string_equal(gs_screen_list_name(l), "UK");
    /* info --json, its stdout caught in a file */
    char *js = tmp_path("json"), *text;
    size_t len;
    fflush(stdout);
    int saved = dup(1), fd = open(js, O_WRONLY | O_TRUNC);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    char *iargv[] = {"watchlist", "info", "--json", out, NULL};
    int rc = gs_screen_watchlist_cmd(4, iargv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    assert_int_equal(rc, 0);
    assert_int_equal(gs_read_file(js, &text, &len, buf, sizeof(buf)), GS_OK);
    assert_non_null(strstr(text, "\"sections\":[{\"name\":\"list.strings\""));
    assert_non_null(strstr(text, "\"counts\":{\"entries\":2,\"persons\":1,\"entities\":1"));
    assert_non_null(strstr(text, "\"skipped_without_name\":1"));
    assert_non_null(strstr(text, "\"file\":\"uk-conlist.csv\""));
    free(text);
    unlink(js);
    free(js);
    assert_string_equal(gs_screen_list_version(l), "2020-11-24");
    assert_int_equal(gs_screen_list_entries(l), 2); /* 90103 has no name */
    names_of(l, "90101", buf, sizeof(buf));
    assert_string_equal(buf, "P:Taras Ivanovych MELNYK/MELNYK|O:Тарас Іванович Мельник/|"
                             "W:Taras MELNIK/MELNIK");
    idents_of(l, "90101", buf, sizeof(buf));
    assert_string_equal(buf, "PASSPORT=FA765432|NATIONAL_ID=2512345678");
    gs_screen_entry_t e = gs_screen_list_entry(l, (size_t)find_entry(l, "90101"));
    assert_string_equal(e.dobs, "1968");
    assert_string_equal(e.countries, "Ukraine; Russia");
    names_of(l, "90102", buf, sizeof(buf));
    assert_string_equal(buf, "P:OOO SEVERSTROI/|A:SEVERSTROI, LLC/");
    drop_list(l, out);
}

/* --list labels one group; several formats merge into one file. */
static void test_merge_labels(void **state)
{
    (void)state;
    char uk[512], *out;
    fixture("uk-conlist.csv", uk, sizeof(uk));
    char *gen = tmp_path("gen");
    write_text(gen,
               "<CONSOLIDATED_LIST dateGenerated=\"2026-01-01T00:00:00\"><INDIVIDUALS>"
               "<INDIVIDUAL><DATAID>1</DATAID><REFERENCE_NUMBER>GEN.P.000001</REFERENCE_NUMBER>"
               "<FIRST_NAME>PETRO</FIRST_NAME><SECOND_NAME>HRYTSENKO</SECOND_NAME>"
               "</INDIVIDUAL></INDIVIDUALS><ENTITIES/></CONSOLIDATED_LIST>");
    char *args[] = {"--list", "GEN", "--format", "un-xml", gen, "--format", "uk-csv", uk, NULL};
    gs_screen_list_t *l = build_list(args, &out);
    assert_string_equal(gs_screen_list_name(l), "GEN+UK");
    assert_int_equal(gs_screen_list_entries(l), 3);
    assert_string_equal(gs_screen_list_entry(l, (size_t)find_entry(l, "GEN.P.000001")).list, "GEN");
    assert_string_equal(gs_screen_list_entry(l, (size_t)find_entry(l, "90102")).list, "UK");
    assert_string_not_equal(gs_screen_list_version(l), "2026-01-01"); /* two sources: build date */
    drop_list(l, out);
    char *bad[] = {"watchlist", "build", "--format", "un-xml", gen,
                   "--list",    "X",     "--out",    gen,      NULL};
    assert_int_equal(gs_screen_watchlist_cmd(9, bad), 2); /* a --list that labels nothing */
    unlink(gen);
    free(gen);
}

/* Every prefix of every fixture (a truncated download) parses or is
 * refused with a reason; none crashes (ASan and valgrind watch). */
static void test_truncated_sources(void **state)
{
    (void)state;
    static const char *const files[] = {"ofac-sdn.xml", "eu-fsf.xml", "sdn.csv", "uk-conlist.csv"};
    char path[512], err[512];
    char *cut = tmp_path("cut");
    for (size_t f = 0; f < 4; f++) {
        char *text;
        size_t len;
        fixture(files[f], path, sizeof(path));
        assert_int_equal(gs_read_file(path, &text, &len, err, sizeof(err)), GS_OK);
        for (size_t k = 0; k < len; k += 13) {
            FILE *fp = fopen(cut, "wb");
            fwrite(text, 1, k, fp);
            fclose(fp);
            gs_screen_listdata_t *d;
            assert_int_equal(gs_screen_listdata_new(&d, err, sizeof(err)), GS_OK);
            const char *one = cut;
            err[0] = 0;
            gs_err_t e = f == 0   ? gs_screen_parse_ofac_sdn_xml(cut, "X", d, err, sizeof(err))
                         : f == 1 ? gs_screen_parse_eu_fsf_xml(cut, "X", d, err, sizeof(err))
                         : f == 2 ? gs_screen_parse_ofac_sdn_csv(&one, 1, "X", d, err, sizeof(err))
                                  : gs_screen_parse_uk_csv(cut, "X", d, err, sizeof(err));
            if (e != GS_OK)
                assert_true(err[0] != 0);
            gs_screen_listdata_end(d);
            gs_screen_listdata_destroy(d);
        }
        free(text);
    }
    unlink(cut);
    free(cut);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_un_list),        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_damage_refused), cmocka_unit_test(test_bad_xml),
        cmocka_unit_test(test_ofac_xml),       cmocka_unit_test(test_ofac_csv),
        cmocka_unit_test(test_eu_xml),         cmocka_unit_test(test_uk_csv),
        cmocka_unit_test(test_merge_labels),   cmocka_unit_test(test_truncated_sources),
    };
    return cmocka_run_group_tests_name("screen_list", tests, NULL, NULL);
}
