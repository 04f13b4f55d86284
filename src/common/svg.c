/* SVG pictures of reports (govstream/svg.h). Plain SVG 1.1 text: it opens in
 * any browser and diffs in review. */
#include <math.h>
#include <string.h>

#include "govstream/svg.h"

#define ROW_H    18 /* a category of one series; with more, each bar is BAR_H */
#define BAR_H    12
#define BAR_GAP  6
#define LEGEND_W 160 /* per legend entry; entries wrap to fit the plot's width */
#define LABEL_W  190
#define PLOT_W   420
#define NUMBER_W 60
#define TOP      56

static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c",
                                      "#d62728", "#9467bd", "#8c564b"};

void gs_svg_text(FILE *fp, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", fp);
            break;
        case '>':
            fputs("&gt;", fp);
            break;
        case '&':
            fputs("&amp;", fp);
            break;
        case '"':
            fputs("&quot;", fp);
            break;
        case '\'':
            fputs("&apos;", fp);
            break;
        default:
            fputc(*s, fp);
        }
    }
}

static double axis_max(const gs_svg_bars_t *b)
{
    if (b->max > 0)
        return b->max;
    double m = 0;
    for (size_t i = 0; i < b->n_categories * b->n_series; i++)
        if (isfinite(b->values[i]) && b->values[i] > m)
            m = b->values[i];
    return m > 0 ? m : 1;
}

static int legend_per_line(void)
{
    return (PLOT_W + NUMBER_W) / LEGEND_W;
}

/* Where the rows start: below the legend's lines. */
static int top_of(const gs_svg_bars_t *b)
{
    int lines = ((int)b->n_series + legend_per_line() - 1) / legend_per_line();
    return TOP + 18 * (lines > 1 ? lines - 1 : 0);
}

static int bar_h(const gs_svg_bars_t *b)
{
    return b->n_series > 1 ? BAR_H : ROW_H;
}

static void legend(FILE *fp, const gs_svg_bars_t *b)
{
    for (size_t s = 0; s < b->n_series; s++) {
        int x = LABEL_W + (int)s % legend_per_line() * LEGEND_W;
        int y = 30 + 18 * ((int)s / legend_per_line());
        fprintf(fp, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>", x, y,
                colours[s % 6]);
        fprintf(fp, "<text x=\"%d\" y=\"%d\">", x + 16, y + 10);
        gs_svg_text(fp, b->series[s]);
        fputs("</text>\n", fp);
    }
}

static void rows(FILE *fp, const gs_svg_bars_t *b, double max, int group_h)
{
    int h = bar_h(b);
    for (size_t c = 0; c < b->n_categories; c++) {
        int y0 = top_of(b) + (int)c * group_h;
        fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", LABEL_W - 8,
                y0 + group_h / 2 + 2);
        gs_svg_text(fp, b->categories[c]);
        fputs("</text>\n", fp);
        for (size_t s = 0; s < b->n_series; s++) {
            double v = b->values[c * b->n_series + s];
            if (!isfinite(v))
                continue;
            int y = y0 + (int)s * h;
            double w = PLOT_W * (v < 0 ? 0 : v > max ? 1 : v / max);
            fprintf(fp,
                    "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>"
                    "<text x=\"%.1f\" y=\"%d\" font-size=\"10\">",
                    LABEL_W, y, w, h - 1, colours[s % 6], LABEL_W + w + 4, y + h - 3);
            fprintf(fp, b->value_format ? b->value_format : "%.3g", v);
            fputs("</text>\n", fp);
        }
    }
}

gs_err_t gs_svg_bars_write(FILE *fp, const gs_svg_bars_t *b, char *errstr, size_t n)
{
    int group_h = (int)b->n_series * bar_h(b) + BAR_GAP;
    int height = top_of(b) + (int)b->n_categories * group_h + 40;
    int width = LABEL_W + PLOT_W + NUMBER_W;
    double max = axis_max(b);
    fprintf(fp,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"bold\">",
            width, height);
    gs_svg_text(fp, b->title);
    fputs("</text>\n", fp);
    legend(fp, b);
    rows(fp, b, max, group_h);
    int axis_y = top_of(b) + (int)b->n_categories * group_h;
    fprintf(fp, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", LABEL_W,
            axis_y, LABEL_W + PLOT_W, axis_y);
    for (int t = 0; t <= 4; t++)
        fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">%.3g</text>\n",
                LABEL_W + PLOT_W * t / 4, axis_y + 14, max * t / 4);
    fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", LABEL_W + PLOT_W / 2,
            axis_y + 30);
    gs_svg_text(fp, b->axis);
    fputs("</text>\n</svg>\n", fp);
    if (ferror(fp))
        return gs_fail(errstr, n, GS_ERR_IO, "cannot write the SVG");
    return GS_OK;
}

#define CELL 44

static void matrix_labels(FILE *fp, const gs_svg_matrix_t *m, int x0, int y0)
{
    for (size_t i = 0; i < m->n; i++) {
        fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", x0 - 6,
                y0 + (int)i * CELL + CELL / 2 + 4);
        gs_svg_text(fp, m->labels[i]);
        fprintf(fp, "</text>\n<text transform=\"translate(%d,%d) rotate(-45)\">",
                x0 + (int)i * CELL + CELL / 2, y0 - 6);
        gs_svg_text(fp, m->labels[i]);
        fputs("</text>\n", fp);
    }
}

gs_err_t gs_svg_matrix_write(FILE *fp, const gs_svg_matrix_t *m, char *errstr, size_t n)
{
    int x0 = LABEL_W / 2 + 40, y0 = TOP + 60;
    int size = (int)m->n * CELL;
    fprintf(fp,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"bold\">",
            x0 + size + 20, y0 + size + 40);
    gs_svg_text(fp, m->title);
    fputs("</text>\n<text x=\"8\" y=\"36\">", fp);
    gs_svg_text(fp, m->note);
    fputs("</text>\n", fp);
    matrix_labels(fp, m, x0, y0);
    for (size_t r = 0; r < m->n; r++) {
        double total = 0;
        for (size_t c = 0; c < m->n; c++)
            total += m->counts[r * m->n + c];
        for (size_t c = 0; c < m->n; c++) {
            double v = m->counts[r * m->n + c], share = total > 0 ? v / total : 0;
            int shade = 255 - (int)lround(200 * share);
            fprintf(fp,
                    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,255)\" "
                    "stroke=\"#ccc\"/><text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
                    "font-size=\"11\">%.0f%%</text>\n",
                    x0 + (int)c * CELL, y0 + (int)r * CELL, CELL, CELL, shade, shade,
                    x0 + (int)c * CELL + CELL / 2, y0 + (int)r * CELL + CELL / 2 + 4, 100 * share);
        }
    }
    fprintf(fp,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">predicted (columns); true "
            "(rows); row shares</text>\n</svg>\n",
            x0 + size / 2, y0 + size + 24);
    if (ferror(fp))
        return gs_fail(errstr, n, GS_ERR_IO, "cannot write the SVG");
    return GS_OK;
}

/* One file of a report: text, or a picture drawn into it. */
static gs_err_t write_file(const char *prefix, const char *suffix, const char *text,
                           gs_svg_picture_fn *draw, void *ctx, char *errstr, size_t n)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s%s", prefix, suffix);
    FILE *fp = fopen(path, "w");
    if (!fp)
        return gs_fail(errstr, n, GS_ERR_IO, "%s: cannot write", path);
    gs_err_t err = draw ? draw(fp, ctx, errstr, n) : (fputs(text, fp) < 0 ? GS_ERR_IO : GS_OK);
    if (fclose(fp) != 0 && !err)
        err = GS_ERR_IO;
    return err == GS_ERR_IO ? gs_fail(errstr, n, GS_ERR_IO, "%s: cannot write", path) : err;
}

gs_err_t gs_svg_report_write(const char *prefix, const char *json_text, const gs_svg_page_t *pages,
                             size_t n_pages, void *ctx, char *errstr, size_t n)
{
    gs_err_t err = write_file(prefix, ".json", json_text, NULL, NULL, errstr, n);
    for (size_t i = 0; !err && i < n_pages; i++)
        err = write_file(prefix, pages[i].suffix, NULL, pages[i].draw, ctx, errstr, n);
    return err;
}
