/* OFAC SDN in CSV: sdn.csv (ent_num, SDN_Name, SDN_Type, Program, Title,
 * Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks),
 * alt.csv (ent_num, alt_num, alt_type, alt_name, alt_remarks) and add.csv
 * (ent_num, add_num, address, city/state/postal code, country,
 * add_remarks). No header row; "-0-" is null. A file's role is known by
 * its width (12, 5 or 6 fields), so they may be given in any order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "list_parse.h"

#define SDN_W 12
#define ALT_W 5
#define ADD_W 6

static const char *val(const gs_screen_csv_t *c, size_t row, size_t col)
{
    const char *v = gs_screen_csv_at(c, row, col);
    return strcmp(v, "-0-") ? v : "";
}

/* Rows of alt.csv or add.csv ordered by ent_num, for a binary search. */
typedef struct by_ent {
    const gs_screen_csv_t *csv;
    size_t *rows, n;
} by_ent_t;

static long ent_of(const gs_screen_csv_t *c, size_t row)
{
    return strtol(gs_screen_csv_at(c, row, 0), NULL, 10);
}

static int cmp_rows(const void *a, const void *b, void *csv)
{
    long x = ent_of(csv, *(const size_t *)a), y = ent_of(csv, *(const size_t *)b);
    return x < y ? -1 : x > y ? 1 : *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static int index_rows(by_ent_t *ix, const gs_screen_csv_t *c)
{
    ix->csv = c;
    ix->n = 0;
    ix->rows = malloc((c->n_rows + 1) * sizeof(size_t));
    if (!ix->rows)
        return -1;
    for (size_t r = 0; r < c->n_rows; r++)
        if (gs_screen_csv_width(c, r) > 1)
            ix->rows[ix->n++] = r;
    qsort_r(ix->rows, ix->n, sizeof(size_t), cmp_rows, (void *)c);
    return 0;
}

/* The first position in ix whose ent_num is ent. */
static size_t lower(const by_ent_t *ix, long ent)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ent_of(ix->csv, ix->rows[mid]) < ent)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* "LAST, First Middle" (a person) → "First Middle LAST", family LAST. */
static gs_err_t add_name(gs_screen_listdata_t *d, gs_screen_name_kind_t kind, const char *sdn,
                         int person, char *errstr, size_t n)
{
    const char *comma = person ? strchr(sdn, ',') : NULL;
    if (!comma)
        return gs_screen_listdata_name(d, kind, sdn, NULL, errstr, n);
    size_t flen = (size_t)(comma - sdn);
    char *buf = malloc(2 * strlen(sdn) + 4);
    if (!buf)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    size_t rest = strlen(comma + 1);
    char *family = buf + strlen(sdn) + 2;
    memcpy(family, sdn, flen);
    family[flen] = 0;
    memcpy(buf, comma + 1, rest);
    buf[rest] = ' ';
    memcpy(buf + rest + 1, sdn, flen + 1); /* up to the comma, then a NUL below */
    buf[rest + 1 + flen] = 0;
    gs_err_t err = gs_screen_listdata_name(d, kind, buf, family, errstr, n);
    free(buf);
    return err;
}

/* One "; "-separated fact of Remarks: "DOB 12 Jan 1960", "alt. DOB 1961",
 * "nationality Russia", "citizen Iran", "Passport A123 (Iran)", "National
 * ID No. 123", "Tax ID No. 7707083893 (Russia)", "SWIFT/BIC XXXXRUMM". */
static gs_err_t remark(gs_screen_listdata_t *d, const char *s, char *errstr, size_t n)
{
    static const char *const ids[] = {"Passport ",
                                      "National ID No. ",
                                      "Tax ID No. ",
                                      "SWIFT/BIC ",
                                      "Registration ID ",
                                      "Identification Number ",
                                      "Cedula No. ",
                                      "NIT # ",
                                      "RFC ",
                                      "Driver's License No. "};
    char buf[512];
    if (!strncasecmp(s, "alt. ", 5))
        s += 5;
    if (!strncasecmp(s, "DOB ", 4)) {
        gs_screen_date_norm(s + 4, buf, sizeof(buf));
        return gs_screen_listdata_dob(d, buf, errstr, n);
    }
    if (!strncasecmp(s, "a.k.a. ", 7) || !strncasecmp(s, "f.k.a. ", 7)) {
        /* weak (low-quality) names live in Remarks, quoted: 'ABU X' */
        snprintf(buf, sizeof(buf), "%s", s + 7);
        for (char *q = buf; *q; q++)
            if (*q == '\'' || *q == '"')
                *q = ' ';
        return gs_screen_listdata_name(d, GS_SCREEN_NAME_WEAK_ALIAS, buf, NULL, errstr, n);
    }
    if (!strncasecmp(s, "nationality ", 12) || !strncasecmp(s, "citizen ", 8))
        return gs_screen_listdata_country(d, strchr(s, ' ') + 1, errstr, n);
    for (size_t i = 0; i < sizeof(ids) / sizeof(*ids); i++) {
        size_t k = strlen(ids[i]);
        if (strncasecmp(s, ids[i], k) != 0)
            continue;
        snprintf(buf, sizeof(buf), "%s", s + k);
        char *paren = strstr(buf, " (");
        if (paren) /* the issuing country, not part of the number */
            *paren = 0;
        char type[64];
        snprintf(type, sizeof(type), "%.*s", (int)k - 1, ids[i]);
        return gs_screen_listdata_ident(d, type, buf, errstr, n);
    }
    return GS_OK;
}

static gs_err_t remarks(gs_screen_listdata_t *d, const char *text, char *errstr, size_t n)
{
    char *copy = strdup(text), *save = NULL;
    if (!copy)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_err_t err = GS_OK;
    for (char *t = strtok_r(copy, ";", &save); t && !err; t = strtok_r(NULL, ";", &save)) {
        while (*t == ' ')
            t++;
        size_t len = strlen(t);
        if (len && t[len - 1] == '.' && len > 1 && t[len - 2] != '.')
            t[len - 1] = 0; /* the sentence's closing full stop */
        err = remark(d, t, errstr, n);
    }
    free(copy);
    return err;
}

typedef struct csv_set {
    const gs_screen_csv_t *sdn;
    by_ent_t alt, add;
} csv_set_t;

static gs_err_t csv_extras(gs_screen_listdata_t *d, const csv_set_t *s, long ent, int person,
                           char *errstr, size_t n)
{
    gs_err_t err = GS_OK;
    for (size_t i = lower(&s->alt, ent); !err && i < s->alt.n; i++) {
        size_t r = s->alt.rows[i];
        if (ent_of(s->alt.csv, r) != ent)
            break;
        int weak = strcasestr(val(s->alt.csv, r, 4), "weak") != NULL;
        err = add_name(d, weak ? GS_SCREEN_NAME_WEAK_ALIAS : GS_SCREEN_NAME_ALIAS,
                       val(s->alt.csv, r, 3), person, errstr, n);
    }
    for (size_t i = lower(&s->add, ent); !err && i < s->add.n; i++) {
        size_t r = s->add.rows[i];
        if (ent_of(s->add.csv, r) != ent)
            break;
        err = gs_screen_listdata_country(d, val(s->add.csv, r, 4), errstr, n);
    }
    return err;
}

/* SDN_Type: "individual", "vessel", "aircraft", or null for an entity. */
static gs_err_t csv_entry(gs_screen_listdata_t *d, const char *list, const csv_set_t *s, size_t r,
                          char *errstr, size_t n)
{
    const gs_screen_csv_t *c = s->sdn;
    int person = !strcasecmp(val(c, r, 2), "individual");
    gs_err_t err = gs_screen_listdata_entry(
        d, list, val(c, r, 0), person ? GS_SCREEN_PERSON : GS_SCREEN_ENTITY, errstr, n);
    if (!err)
        err = add_name(d, GS_SCREEN_NAME_PRIMARY, val(c, r, 1), person, errstr, n);
    if (!err)
        err = csv_extras(d, s, ent_of(c, r), person, errstr, n);
    if (!err)
        err = remarks(d, val(c, r, 11), errstr, n);
    if (!err)
        gs_screen_listdata_end(d);
    return err;
}

/* Which of the three a file is, by the width of its first row. */
static gs_err_t classify(const char *path, const gs_screen_csv_t *c, csv_set_t *s,
                         const gs_screen_csv_t **alt, const gs_screen_csv_t **add, char *errstr,
                         size_t n)
{
    size_t w = gs_screen_csv_width(c, 0);
    const gs_screen_csv_t **slot = w == SDN_W   ? &s->sdn
                                   : w == ALT_W ? alt
                                   : w == ADD_W ? add
                                                : NULL;
    if (!slot)
        return gs_fail(errstr, n, GS_ERR_DECODE,
                       "%s: rows of %zu fields: not sdn.csv (12), alt.csv (5) or add.csv (6)", path,
                       w);
    if (*slot)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "%s: a second file of %zu fields", path, w);
    *slot = c;
    return GS_OK;
}

static gs_err_t build_csv(gs_screen_csv_t *files, const char *const *paths, size_t n_paths,
                          const char *list, gs_screen_listdata_t *d, char *errstr, size_t n)
{
    static const gs_screen_csv_t none = {0};
    csv_set_t s = {0};
    const gs_screen_csv_t *alt = NULL, *add = NULL;
    gs_err_t err = GS_OK;
    for (size_t i = 0; i < n_paths && !err; i++)
        err = classify(paths[i], &files[i], &s, &alt, &add, errstr, n);
    if (!err && !s.sdn)
        err = gs_fail(errstr, n, GS_ERR_INVALID_ARG, "ofac-sdn-csv: no sdn.csv among the files");
    if (!err && (index_rows(&s.alt, alt ? alt : &none) || index_rows(&s.add, add ? add : &none)))
        err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    for (size_t r = 0; !err && s.sdn && r < s.sdn->n_rows; r++)
        if (gs_screen_csv_width(s.sdn, r) >= 3)
            err = csv_entry(d, list, &s, r, errstr, n);
    free(s.alt.rows);
    free(s.add.rows);
    return err;
}

gs_err_t gs_screen_parse_ofac_sdn_csv(const char *const *paths, size_t n_paths, const char *list,
                                      gs_screen_listdata_t *d, char *errstr, size_t n)
{
    gs_screen_csv_t *files = calloc(n_paths ? n_paths : 1, sizeof(*files));
    if (!files)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_err_t err = GS_OK;
    for (size_t i = 0; i < n_paths && !err; i++)
        err = gs_screen_csv_read(paths[i], &files[i], errstr, n);
    gs_screen_listdata_set_date(d, ""); /* the CSV files carry no date */
    if (!err)
        err = build_csv(files, paths, n_paths, list, d, errstr, n);
    for (size_t i = 0; i < n_paths; i++)
        gs_screen_csv_free(&files[i]);
    free(files);
    return err;
}
