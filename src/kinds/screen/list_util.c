/* The CSV reader and the date normalisation the list parsers share. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "list_parse.h"

static int grow(void *arrayp, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 256;
    while (c < need)
        c *= 2;
    void *p = realloc(*(void **)arrayp, c * size);
    if (!p)
        return -1;
    *(void **)arrayp = p;
    *cap = c;
    return 0;
}

/* One field from *s, unquoted into place; *s ends past its separator.
 * Returns the separator: ',', '\n', or 0 at the end; -1 for an unclosed
 * quote. */
static int field(char **s, char **out)
{
    char *r = *s, *w = r;
    *out = w;
    if (*r == '"') {
        for (r++;; r++) {
            if (!*r)
                return -1;
            if (*r == '"' && r[1] != '"')
                break;
            *w++ = *r;
            r += *r == '"'; /* "" is one quote */
        }
        r++;
    }
    while (*r && *r != ',' && *r != '\n')
        *w++ = *r++;
    int sep = (unsigned char)*r;
    if (w > *out && w[-1] == '\r')
        w--;
    *w = 0;
    *s = sep ? r + 1 : r;
    return sep;
}

static gs_err_t split(gs_screen_csv_t *c, const char *path, char *errstr, size_t n)
{
    size_t cap_f = 0, cap_r = 0;
    char *s = c->text;
    if (!strncmp(s, "\xef\xbb\xbf", 3)) /* a UTF-8 byte-order mark */
        s += 3;
    while (*s) {
        if (grow(&c->start, &cap_r, c->n_rows + 2, sizeof(size_t)))
            return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
        c->start[c->n_rows++] = c->n_fields;
        int sep;
        do {
            if (grow(&c->field, &cap_f, c->n_fields + 1, sizeof(char *)))
                return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
            sep = field(&s, &c->field[c->n_fields++]);
            if (sep < 0)
                return gs_fail(errstr, n, GS_ERR_DECODE, "%s: row %zu: a quote is not closed", path,
                               c->n_rows);
        } while (sep == ',');
    }
    if (c->start)
        c->start[c->n_rows] = c->n_fields;
    return GS_OK;
}

gs_err_t gs_screen_csv_read(const char *path, gs_screen_csv_t *c, char *errstr, size_t n)
{
    *c = (gs_screen_csv_t){0};
    size_t len;
    gs_err_t err = gs_read_file(path, &c->text, &len, errstr, n);
    if (!err && memchr(c->text, 0, len))
        err = gs_fail(errstr, n, GS_ERR_DECODE, "%s: a NUL byte: not a CSV text", path);
    if (!err)
        err = split(c, path, errstr, n);
    if (err)
        gs_screen_csv_free(c);
    return err;
}

void gs_screen_csv_free(gs_screen_csv_t *c)
{
    free(c->text);
    free(c->start);
    free(c->field);
    *c = (gs_screen_csv_t){0};
}

size_t gs_screen_csv_width(const gs_screen_csv_t *c, size_t row)
{
    return row < c->n_rows ? c->start[row + 1] - c->start[row] : 0;
}

const char *gs_screen_csv_at(const gs_screen_csv_t *c, size_t row, size_t col)
{
    if (col >= gs_screen_csv_width(c, row))
        return "";
    char *f = c->field[c->start[row] + col];
    while (isspace((unsigned char)*f))
        f++;
    for (size_t len = strlen(f); len && isspace((unsigned char)f[len - 1]);)
        f[--len] = 0; /* trimmed once, in place: the text is ours */
    return f;
}

/* ---- dates ----------------------------------------------------------------- */

static int month_of(const char *m)
{
    static const char *const names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                        "jul", "aug", "sep", "oct", "nov", "dec"};
    for (int i = 0; i < 12; i++)
        if (!strncasecmp(m, names[i], 3))
            return i + 1;
    return 0;
}

static int year_ok(int y)
{
    return y >= 1800 && y <= 2100;
}

/* "circa", "c.", "approximately", "about": the list's own uncertainty
 * words; the date is kept, the hedge is not (a match on it is a signal). */
static const char *skip_hedge(const char *s)
{
    static const char *const hedges[] = {"circa ", "c. ", "approximately ", "about ", "ca. "};
    while (isspace((unsigned char)*s))
        s++;
    for (size_t i = 0; i < sizeof(hedges) / sizeof(*hedges); i++)
        if (!strncasecmp(s, hedges[i], strlen(hedges[i])))
            return s + strlen(hedges[i]);
    return s;
}

static int date_dmy(const char *s, char *out, size_t size)
{
    int d, m, y, k = 0;
    char mon[16];
    if (sscanf(s, "%d/%d/%d%n", &d, &m, &y, &k) == 3 && !s[k] && year_ok(y) && m >= 0 && m <= 12 &&
        d >= 0 && d <= 31) {
        if (!m) /* 00/00/1960: the UK's "year only" */
            snprintf(out, size, "%04d", y);
        else if (!d)
            snprintf(out, size, "%04d-%02d", y, m);
        else
            snprintf(out, size, "%04d-%02d-%02d", y, m, d);
        return 1;
    }
    if (sscanf(s, "%d %15s %d%n", &d, mon, &y, &k) == 3 && !s[k] && month_of(mon) && year_ok(y) &&
        d >= 1 && d <= 31) {
        snprintf(out, size, "%04d-%02d-%02d", y, month_of(mon), d);
        return 1;
    }
    if (sscanf(s, "%15s %d%n", mon, &y, &k) == 2 && !s[k] && month_of(mon) && year_ok(y)) {
        snprintf(out, size, "%04d-%02d", y, month_of(mon));
        return 1;
    }
    return 0;
}

void gs_screen_date_norm(const char *in, char *out, size_t size)
{
    const char *s = skip_hedge(in);
    int y, m, d, y2, k = 0;
    out[0] = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &k) == 3 && year_ok(y) && m >= 1 && m <= 12 &&
        d >= 1 && d <= 31)
        snprintf(out, size, "%04d-%02d-%02d", y, m, d);
    else if ((sscanf(s, "%d to %d%n", &y, &y2, &k) == 2 ||
              sscanf(s, "%d - %d%n", &y, &y2, &k) == 2) &&
             !s[k] && year_ok(y) && year_ok(y2))
        snprintf(out, size, "%04d-%04d", y, y2);
    else if (sscanf(s, "%d%n", &y, &k) == 1 && !s[k] && year_ok(y))
        snprintf(out, size, "%04d", y);
    else if (!date_dmy(s, out, size))
        snprintf(out, size, "%s", s); /* unknown forms kept as written, not lost */
}
