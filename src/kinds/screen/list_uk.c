/* The UK consolidated list CSV (HM Treasury / OFSI, ConList.csv): a first
 * row "Last Updated,DD/MM/YYYY", then a header row, then one row per name:
 * the rows of one designation share a Group ID, each repeating its facts.
 * Columns are found by their header names, not positions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "list_parse.h"

enum {
    C_N1,
    C_N2,
    C_N3,
    C_N4,
    C_N5,
    C_N6,
    C_NONLATIN,
    C_DOB,
    C_NATIONALITY,
    C_PASSPORT,
    C_NATID,
    C_COUNTRY,
    C_GTYPE,
    C_ATYPE,
    C_AQUALITY,
    C_GID,
    C__COUNT
};

static const char *const headers[C__COUNT] = {[C_N1] = "Name 1",
                                              [C_N2] = "Name 2",
                                              [C_N3] = "Name 3",
                                              [C_N4] = "Name 4",
                                              [C_N5] = "Name 5",
                                              [C_N6] = "Name 6",
                                              [C_NONLATIN] = "Name Non-Latin Script",
                                              [C_DOB] = "DOB",
                                              [C_NATIONALITY] = "Nationality",
                                              [C_PASSPORT] = "Passport Number",
                                              [C_NATID] = "National Identification Number",
                                              [C_COUNTRY] = "Country",
                                              [C_GTYPE] = "Group Type",
                                              [C_ATYPE] = "Alias Type",
                                              [C_AQUALITY] = "Alias Quality",
                                              [C_GID] = "Group ID"};

typedef struct uk {
    gs_screen_csv_t csv;
    size_t col[C__COUNT]; /* SIZE_MAX: the file has no such column */
    size_t header;
} uk_t;

static const char *at(const uk_t *u, size_t row, int c)
{
    return u->col[c] == SIZE_MAX ? "" : gs_screen_csv_at(&u->csv, row, u->col[c]);
}

static gs_err_t find_header(uk_t *u, const char *path, char *errstr, size_t n)
{
    for (size_t r = 0; r < u->csv.n_rows && r < 5; r++) {
        for (int c = 0; c < C__COUNT; c++) {
            u->col[c] = SIZE_MAX;
            for (size_t k = 0; k < gs_screen_csv_width(&u->csv, r); k++)
                if (!strcmp(gs_screen_csv_at(&u->csv, r, k), headers[c]))
                    u->col[c] = k;
        }
        if (u->col[C_N6] != SIZE_MAX && u->col[C_GID] != SIZE_MAX && u->col[C_GTYPE] != SIZE_MAX) {
            u->header = r;
            return GS_OK;
        }
    }
    return gs_fail(errstr, n, GS_ERR_DECODE,
                   "%s: no header row with Name 6, Group Type and Group ID in the first 5 rows",
                   path);
}

/* "(1) Russia (2) Ukraine" → each; a text without numbering is one. */
static gs_err_t each_numbered(gs_screen_listdata_t *d, const char *text, const char *type,
                              char *errstr, size_t n)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", text);
    gs_err_t err = GS_OK;
    char *p = buf;
    while (*p && !err) {
        char *start = p;
        if (*p == '(' && strchr(p, ')'))
            start = strchr(p, ')') + 1;
        char *next = strstr(start, " (");
        while (next && !(next[2] >= '0' && next[2] <= '9'))
            next = strstr(next + 2, " (");
        if (next)
            *next = 0;
        err = type ? gs_screen_listdata_ident(d, type, start, errstr, n)
                   : gs_screen_listdata_country(d, start, errstr, n);
        p = next ? next + 1 : start + strlen(start);
    }
    return err;
}

static gs_err_t row_facts(gs_screen_listdata_t *d, const uk_t *u, size_t r, char *errstr, size_t n)
{
    char date[64];
    gs_screen_date_norm(at(u, r, C_DOB), date, sizeof(date));
    gs_err_t err = gs_screen_listdata_dob(d, date, errstr, n);
    if (!err)
        err = each_numbered(d, at(u, r, C_NATIONALITY), NULL, errstr, n);
    if (!err)
        err = gs_screen_listdata_country(d, at(u, r, C_COUNTRY), errstr, n);
    if (!err)
        err = each_numbered(d, at(u, r, C_PASSPORT), "Passport Number", errstr, n);
    if (!err)
        err = each_numbered(d, at(u, r, C_NATID), "National Identification Number", errstr, n);
    return err;
}

/* Name 1..5 then Name 6, the family name for an individual (an entity's
 * name is all in Name 6). Alias Quality "Low" is a weak alias. */
static gs_err_t row_names(gs_screen_listdata_t *d, const uk_t *u, size_t r, int person,
                          char *errstr, size_t n)
{
    char whole[4096] = "";
    for (int c = C_N1; c <= C_N6; c++) {
        size_t len = strlen(whole);
        const char *part = at(u, r, c);
        if (*part)
            snprintf(whole + len, sizeof(whole) - len, "%s%s", len ? " " : "", part);
    }
    const char *type = at(u, r, C_ATYPE), *family = at(u, r, C_N6);
    gs_screen_name_kind_t kind = !strcasecmp(type, "Primary name") ? GS_SCREEN_NAME_PRIMARY
                                 : !strcasecmp(at(u, r, C_AQUALITY), "Low")
                                     ? GS_SCREEN_NAME_WEAK_ALIAS
                                     : GS_SCREEN_NAME_ALIAS;
    gs_err_t err =
        gs_screen_listdata_name(d, kind, whole, person && *family ? family : NULL, errstr, n);
    if (!err)
        err = gs_screen_listdata_name(d, GS_SCREEN_NAME_ORIGINAL, at(u, r, C_NONLATIN), NULL,
                                      errstr, n);
    return err;
}

static int primary_row(const uk_t *u, size_t r)
{
    return !strcasecmp(at(u, r, C_ATYPE), "Primary name");
}

/* Rows by Group ID, the primary name's row first, else file order. */
static int cmp_rows(const void *a, const void *b, void *ctx)
{
    const uk_t *u = ctx;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(at(u, x, C_GID), at(u, y, C_GID));
    if (!c)
        c = primary_row(u, y) - primary_row(u, x);
    return c ? c : x < y ? -1 : 1;
}

/* Group Type: "Individual", "Entity" or "Ship" (a ship is screened as an
 * entity). */
static gs_err_t groups(gs_screen_listdata_t *d, const char *list, const uk_t *u, const size_t *rows,
                       size_t k, char *errstr, size_t n)
{
    gs_err_t err = GS_OK;
    for (size_t i = 0; i < k && !err; i++) {
        size_t r = rows[i];
        if (!i || strcmp(at(u, r, C_GID), at(u, rows[i - 1], C_GID)) != 0) {
            int person = !strcasecmp(at(u, r, C_GTYPE), "Individual");
            err = gs_screen_listdata_entry(d, list, at(u, r, C_GID),
                                           person ? GS_SCREEN_PERSON : GS_SCREEN_ENTITY, errstr, n);
        }
        int person = !strcasecmp(at(u, r, C_GTYPE), "Individual");
        if (!err)
            err = row_names(d, u, r, person, errstr, n);
        if (!err)
            err = row_facts(d, u, r, errstr, n);
    }
    if (!err)
        gs_screen_listdata_end(d);
    return err;
}

/* "Last Updated,24/11/2020" dates the list. */
static void list_date(gs_screen_listdata_t *d, const uk_t *u)
{
    char date[64] = "";
    if (u->header > 0 && !strcasecmp(gs_screen_csv_at(&u->csv, 0, 0), "Last Updated"))
        gs_screen_date_norm(gs_screen_csv_at(&u->csv, 0, 1), date, sizeof(date));
    gs_screen_listdata_set_date(d, date);
}

gs_err_t gs_screen_parse_uk_csv(const char *path, const char *list, gs_screen_listdata_t *d,
                                char *errstr, size_t n)
{
    uk_t u = {0};
    gs_err_t err = gs_screen_csv_read(path, &u.csv, errstr, n);
    if (err)
        return err;
    err = find_header(&u, path, errstr, n);
    size_t *rows = err ? NULL : malloc((u.csv.n_rows + 1) * sizeof(size_t)), k = 0;
    if (!err && !rows)
        err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    for (size_t r = u.header + 1; !err && r < u.csv.n_rows; r++)
        if (*at(&u, r, C_GID)) /* a blank or short line is no row */
            rows[k++] = r;
    if (!err) {
        list_date(d, &u);
        qsort_r(rows, k, sizeof(size_t), cmp_rows, &u);
        err = groups(d, list, &u, rows, k, errstr, n);
    }
    free(rows);
    gs_screen_csv_free(&u.csv);
    return err;
}
