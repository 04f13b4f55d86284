/* govstream - pictures of reports, drawn as SVG by the tools themselves
 * (no plotting library): a report a person would rather look at than read
 * is written as JSON and as one of these next to it. */
#ifndef GOVSTREAM_SVG_H
#define GOVSTREAM_SVG_H

#include <stdio.h>

#include "govstream/common.h"

/* Horizontal grouped bars: one row per category, one bar per series. */
typedef struct gs_svg_bars {
    const char *title;
    const char *axis;              /* what the bars measure, under the axis */
    const char *const *categories; /* row labels */
    size_t n_categories;
    const char *const *series; /* legend, one colour each (at most 6) */
    size_t n_series;
    const double *values;     /* n_categories x n_series, row-major; NaN: no bar */
    double max;               /* the axis' end; <= 0: the largest value */
    const char *value_format; /* printf format of the number after a bar, e.g. "%.2f" */
} gs_svg_bars_t;

/* Writes the SVG document to fp. GS_ERR_IO when writing fails. */
gs_err_t gs_svg_bars_write(FILE *fp, const gs_svg_bars_t *b, char *errstr, size_t errstr_size);

/* A confusion matrix: rows are the truth, columns the prediction; each
 * cell shaded and labelled by its share of the row. */
typedef struct gs_svg_matrix {
    const char *title, *note;
    const char *const *labels; /* n */
    size_t n;
    const double *counts; /* n x n, row-major */
} gs_svg_matrix_t;

gs_err_t gs_svg_matrix_write(FILE *fp, const gs_svg_matrix_t *m, char *errstr, size_t errstr_size);

/* A report as files: PREFIX.json, then one picture per page. */
typedef gs_err_t(gs_svg_picture_fn)(FILE *fp, void *ctx, char *errstr, size_t errstr_size);
typedef struct gs_svg_page {
    const char *suffix; /* after the prefix: ".svg", "-confusion.svg", ... */
    gs_svg_picture_fn *draw;
} gs_svg_page_t;

/* Writes json_text to PREFIX.json and each page's picture, drawn from
 * ctx, to PREFIX<suffix>. GS_ERR_IO naming the file that failed. */
gs_err_t gs_svg_report_write(const char *prefix, const char *json_text, const gs_svg_page_t *pages,
                             size_t n_pages, void *ctx, char *errstr, size_t errstr_size);

/* Writes s with XML's five special characters escaped. */
void gs_svg_text(FILE *fp, const char *s);

#endif
