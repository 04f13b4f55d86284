/* govstream - metrics registry: counters, gauges and histograms with
 * Prometheus names and labels, rendered as text format 0.0.4, read by the
 * alert rules and snapshotted to the metrics topic.
 *
 * Families and series are created under a mutex (rarely: at start and when
 * a partition is assigned); values are updated lock-free with relaxed
 * atomics, so the stream path never waits for a scrape. A series handle
 * stays valid until the registry is destroyed. */
#ifndef GOVSTREAM_METRICS_H
#define GOVSTREAM_METRICS_H

#include "govstream/common.h"

typedef enum { GS_METRIC_COUNTER, GS_METRIC_GAUGE, GS_METRIC_HISTOGRAM } gs_metric_type_t;

#define GS_METRICS_MAX_BUCKETS 24 /* finite histogram buckets; +Inf is implicit */
#define GS_METRICS_MAX_LABELS  4

typedef struct gs_metrics gs_metrics_t;
typedef struct gs_series gs_series_t;

gs_err_t gs_metrics_new(gs_metrics_t **out, char *errstr, size_t errstr_size);
void gs_metrics_destroy(gs_metrics_t *m);

/* Declares a family. Counters and histograms count integers: `scale`
 * turns them into the rendered unit (1e-6 for microseconds -> seconds; 1
 * otherwise); `bounds` are a histogram's bucket upper bounds in that unit,
 * ascending. */
gs_err_t gs_metrics_family(gs_metrics_t *m, const char *name, gs_metric_type_t type,
                           const char *help, const double *bounds, size_t n_bounds, double scale,
                           char *errstr, size_t errstr_size);

/* The series of `family` with these labels (name, value pairs), created on
 * first use. NULL when the family is unknown or memory runs out. */
gs_series_t *gs_metrics_series(gs_metrics_t *m, const char *family, const char *const *labels,
                               size_t n_pairs);
/* A hidden series is neither rendered nor read (a revoked partition's
 * lag); setting a value shows it again. */
void gs_series_hide(gs_series_t *s);

/* Counters and gauges may be updated from any thread; a histogram series
 * has one writer thread (the poll loop). */
void gs_counter_add(gs_series_t *s, uint64_t n);
void gs_gauge_set(gs_series_t *s, double v);
void gs_hist_observe(gs_series_t *s, uint64_t v);

/* Prometheus text exposition format 0.0.4 in a malloc'd string. */
gs_err_t gs_metrics_render(gs_metrics_t *m, char **out, size_t *out_len);

/* ---- reading (alert rules) ----------------------------------------------
 * A selector is a family and label matchers: `name` or
 * `name{label="value",...}`; it matches the series whose labels include
 * every matcher. */
typedef struct gs_metrics_sel {
    int family;
    size_t n_match;
    char match[GS_METRICS_MAX_LABELS][2][64];
} gs_metrics_sel_t;

gs_err_t gs_metrics_sel_parse(const gs_metrics_t *m, const char *text, gs_metrics_sel_t *out,
                              char *errstr, size_t errstr_size);
gs_metric_type_t gs_metrics_sel_type(const gs_metrics_t *m, const gs_metrics_sel_t *sel);

typedef struct gs_metrics_reading {
    size_t series;        /* matched (visible) series; 0: no value */
    double sum, min, max; /* of the values (counters, gauges) */
    /* histograms, summed over the matched series */
    uint64_t buckets[GS_METRICS_MAX_BUCKETS + 1]; /* per bucket, not cumulative; last: +Inf */
    uint64_t count;
    double hsum;
} gs_metrics_reading_t;

void gs_metrics_read(gs_metrics_t *m, const gs_metrics_sel_t *sel, gs_metrics_reading_t *out);

/* The finite bucket bounds of the selector's histogram family. */
const double *gs_metrics_sel_bounds(const gs_metrics_t *m, const gs_metrics_sel_t *sel,
                                    size_t *n_bounds);

/* ---- snapshots (the metrics topic) --------------------------------------
 * Calls fn for every visible series. For histograms `delta` holds the
 * bucket counts observed since the previous visit (per bucket, +Inf last)
 * and `bounds` the finite bounds; the caller turns them into quantiles. One
 * thread must do the visiting (the delta state is not shared). */
typedef struct gs_metrics_point {
    const char *name;
    gs_metric_type_t type;
    const char *const *labels; /* n_labels name, value pairs */
    size_t n_labels;
    double value; /* counter or gauge */
    const uint64_t *delta;
    const double *bounds;
    size_t n_bounds;
    uint64_t delta_count;
    double delta_sum;
} gs_metrics_point_t;

typedef void(gs_metrics_visit_fn)(const gs_metrics_point_t *p, void *opaque);
void gs_metrics_visit(gs_metrics_t *m, gs_metrics_visit_fn *fn, void *opaque);

/* Quantile q of per-bucket counts (n_bounds + 1, +Inf last) as PromQL's
 * histogram_quantile: linear within a bucket, the highest finite bound when
 * it falls in +Inf; NaN when there are no observations. */
double gs_quantile_buckets(const double *bounds, size_t n_bounds, const uint64_t *counts, double q);

#endif
