/* Metrics registry. Values are relaxed atomics (a scrape may see a
 * histogram's count one observation ahead of its buckets, which Prometheus
 * tolerates); structure changes and readers take the mutex. */
#include "govstream/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 96

typedef struct family {
    char name[NAME_MAX_LEN];
    char *help;
    gs_metric_type_t type;
    double bounds[GS_METRICS_MAX_BUCKETS];
    uint64_t ibounds[GS_METRICS_MAX_BUCKETS]; /* bounds in observed units */
    size_t n_bounds;
    double scale;
} family_t;

struct gs_series {
    int family;
    char *labels[2 * GS_METRICS_MAX_LABELS]; /* name, value pairs */
    size_t n_labels;
    char *rendered; /* {name="value",...} escaped, "" without labels */
    atomic_int hidden;
    const uint64_t *ibounds; /* the family's, copied: families may move */
    uint64_t own_bounds[GS_METRICS_MAX_BUCKETS];
    size_t n_bounds;
    _Atomic uint64_t value; /* counter, or the bits of a gauge's double */
    _Atomic uint64_t buckets[GS_METRICS_MAX_BUCKETS + 1];
    _Atomic uint64_t sum;
    uint64_t prev[GS_METRICS_MAX_BUCKETS + 1], prev_sum; /* gs_metrics_visit */
};

struct gs_metrics {
    pthread_mutex_t lock;
    family_t *families;
    size_t n_families;
    gs_series_t **series;
    size_t n_series;
};

gs_err_t gs_metrics_new(gs_metrics_t **out, char *errstr, size_t n)
{
    gs_metrics_t *m = calloc(1, sizeof(*m));
    if (!m)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return GS_OK;
}

void gs_metrics_destroy(gs_metrics_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_series; i++) {
        gs_series_t *s = m->series[i];
        for (size_t j = 0; j < s->n_labels * 2; j++)
            free(s->labels[j]);
        free(s->rendered);
        free(s);
    }
    for (size_t i = 0; i < m->n_families; i++)
        free(m->families[i].help);
    free(m->series);
    free(m->families);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static int find_family(const gs_metrics_t *m, const char *name)
{
    for (size_t i = 0; i < m->n_families; i++)
        if (!strcmp(m->families[i].name, name))
            return (int)i;
    return -1;
}

gs_err_t gs_metrics_family(gs_metrics_t *m, const char *name, gs_metric_type_t type,
                           const char *help, const double *bounds, size_t n_bounds, double scale,
                           char *errstr, size_t n)
{
    if (!gs_ident_valid(name) || strlen(name) >= NAME_MAX_LEN)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "bad metric name \"%s\"", name);
    if (n_bounds > GS_METRICS_MAX_BUCKETS || !(scale > 0))
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "%s: bad buckets or scale", name);
    for (size_t i = 1; i < n_bounds; i++)
        if (!(bounds[i] > bounds[i - 1]))
            return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "%s: buckets must ascend", name);
    pthread_mutex_lock(&m->lock);
    gs_err_t err = GS_OK;
    if (find_family(m, name) >= 0)
        err = gs_fail(errstr, n, GS_ERR_INVALID_ARG, "metric %s declared twice", name);
    else if (gs_grow(&m->families, m->n_families + 1, sizeof(*m->families)))
        err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    if (!err) {
        family_t *f = &m->families[m->n_families];
        *f = (family_t){.type = type, .n_bounds = n_bounds, .scale = scale};
        snprintf(f->name, sizeof(f->name), "%s", name);
        f->help = strdup(help);
        for (size_t i = 0; i < n_bounds; i++) {
            f->bounds[i] = bounds[i];
            /* v <= bound/scale in observed integers: floor, with a little
             * slack for bounds that are not exact in binary */
            f->ibounds[i] = (uint64_t)floor(bounds[i] / scale * (1 + 1e-12));
        }
        if (!f->help)
            err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
        else
            m->n_families++;
    }
    pthread_mutex_unlock(&m->lock);
    return err;
}

/* ---- a small growable string ------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
}

static void sb_fmt(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(sbuf_t *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    sb_add(b, tmp, len < 0 ? 0 : (size_t)len < sizeof(tmp) ? (size_t)len : sizeof(tmp) - 1);
}

/* Label values escape \, " and newline (text format 0.0.4). */
static void sb_escaped(sbuf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            sb_add(b, "\\", 1), sb_add(b, s, 1);
        else if (*s == '\n')
            sb_add(b, "\\n", 2);
        else
            sb_add(b, s, 1);
    }
}

/* ---- series ------------------------------------------------------------- */

static int same_labels(const gs_series_t *s, const char *const *labels, size_t n_pairs)
{
    if (s->n_labels != n_pairs)
        return 0;
    for (size_t i = 0; i < 2 * n_pairs; i++)
        if (strcmp(s->labels[i], labels[i]) != 0)
            return 0;
    return 1;
}

static gs_series_t *series_new(const family_t *fam, int family, const char *const *labels,
                               size_t n_pairs)
{
    gs_series_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->family = family;
    memcpy(s->own_bounds, fam->ibounds, sizeof(s->own_bounds));
    s->ibounds = s->own_bounds;
    s->n_bounds = fam->n_bounds;
    sbuf_t b = {0};
    sb_add(&b, "", 0);
    for (size_t i = 0; i < n_pairs; i++) {
        s->labels[2 * i] = strdup(labels[2 * i]);
        s->labels[2 * i + 1] = strdup(labels[2 * i + 1]);
        s->n_labels = i + 1;
        if (!s->labels[2 * i] || !s->labels[2 * i + 1])
            b.oom = 1;
        sb_fmt(&b, "%s%s=\"", i ? "," : "", labels[2 * i]);
        sb_escaped(&b, labels[2 * i + 1]);
        sb_add(&b, "\"", 1);
    }
    s->rendered = b.p;
    if (b.oom) {
        for (size_t j = 0; j < 2 * s->n_labels; j++)
            free(s->labels[j]);
        free(s->rendered);
        free(s);
        return NULL;
    }
    return s;
}

gs_series_t *gs_metrics_series(gs_metrics_t *m, const char *family, const char *const *labels,
                               size_t n_pairs)
{
    if (n_pairs > GS_METRICS_MAX_LABELS)
        return NULL;
    pthread_mutex_lock(&m->lock);
    gs_series_t *found = NULL;
    int f = find_family(m, family);
    for (size_t i = 0; f >= 0 && i < m->n_series && !found; i++)
        if (m->series[i]->family == f && same_labels(m->series[i], labels, n_pairs))
            found = m->series[i];
    if (!found && f >= 0 && !gs_grow(&m->series, m->n_series + 1, sizeof(gs_series_t *))) {
        found = series_new(&m->families[f], f, labels, n_pairs);
        if (found)
            m->series[m->n_series++] = found;
    }
    pthread_mutex_unlock(&m->lock);
    return found;
}

void gs_series_hide(gs_series_t *s)
{
    atomic_store_explicit(&s->hidden, 1, memory_order_relaxed);
}

void gs_counter_add(gs_series_t *s, uint64_t n)
{
    atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void gs_gauge_set(gs_series_t *s, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    atomic_store_explicit(&s->value, bits, memory_order_relaxed);
    atomic_store_explicit(&s->hidden, 0, memory_order_relaxed);
}

static double gauge_value(const gs_series_t *s)
{
    uint64_t bits = atomic_load_explicit(&((gs_series_t *)s)->value, memory_order_relaxed);
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

/* A series' value as a double: counters are integers (times the family's
 * scale), gauges are bits. */
static double series_value(const gs_metrics_t *m, const gs_series_t *s)
{
    const family_t *f = &m->families[s->family];
    if (f->type == GS_METRIC_GAUGE)
        return gauge_value(s);
    return (double)atomic_load_explicit(&((gs_series_t *)s)->value, memory_order_relaxed) *
           f->scale;
}

/* One writer per histogram (the poll thread): relaxed load + store, no
 * locked instruction; readers still never see a torn value. */
static void bump(_Atomic uint64_t *a, uint64_t n)
{
    atomic_store_explicit(a, atomic_load_explicit(a, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void gs_hist_observe(gs_series_t *s, uint64_t v)
{
    size_t b = 0;
    while (b < s->n_bounds && v > s->ibounds[b])
        b++;
    bump(&s->buckets[b], 1);
    bump(&s->sum, v);
}

static uint64_t load(const _Atomic uint64_t *a)
{
    return atomic_load_explicit((_Atomic uint64_t *)a, memory_order_relaxed);
}

static int visible(const gs_series_t *s)
{
    return !atomic_load_explicit(&((gs_series_t *)s)->hidden, memory_order_relaxed);
}

/* ---- rendering ----------------------------------------------------------- */

static void sb_double(sbuf_t *b, double v)
{
    if (isnan(v))
        sb_add(b, "NaN", 3);
    else if (isinf(v))
        sb_add(b, v > 0 ? "+Inf" : "-Inf", 4);
    else {
        /* the shortest form that reads back exactly, as Prometheus writes */
        char tmp[32];
        for (int prec = 6; prec <= 17; prec++) {
            snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
            if (strtod(tmp, NULL) == v)
                break;
        }
        sb_add(b, tmp, strlen(tmp));
    }
}

static void render_histogram(sbuf_t *b, const family_t *f, const gs_series_t *s)
{
    uint64_t cum = 0;
    const char *sep = *s->rendered ? "," : "";
    for (size_t i = 0; i <= f->n_bounds; i++) {
        cum += load(&s->buckets[i]);
        sb_fmt(b, "%s_bucket{%s%sle=\"", f->name, s->rendered, sep);
        if (i < f->n_bounds)
            sb_double(b, f->bounds[i]);
        else
            sb_add(b, "+Inf", 4);
        sb_fmt(b, "\"} %llu\n", (unsigned long long)cum);
    }
    /* count is the +Inf bucket, so the two always agree */
    const char *open = *s->rendered ? "{" : "", *close = *s->rendered ? "}" : "";
    sb_fmt(b, "%s_sum%s%s%s ", f->name, open, s->rendered, close);
    sb_double(b, (double)load(&s->sum) * f->scale);
    sb_fmt(b, "\n%s_count%s%s%s %llu\n", f->name, open, s->rendered, close,
           (unsigned long long)cum);
}

gs_err_t gs_metrics_render(gs_metrics_t *m, char **out, size_t *out_len)
{
    sbuf_t b = {0};
    sb_add(&b, "", 0);
    pthread_mutex_lock(&m->lock);
    for (size_t fi = 0; fi < m->n_families; fi++) {
        const family_t *f = &m->families[fi];
        static const char *const types[] = {"counter", "gauge", "histogram"};
        int header = 0;
        for (size_t i = 0; i < m->n_series; i++) {
            const gs_series_t *s = m->series[i];
            if (s->family != (int)fi || !visible(s))
                continue;
            if (!header) {
                sb_fmt(&b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                       types[f->type]);
                header = 1;
            }
            if (f->type == GS_METRIC_HISTOGRAM) {
                render_histogram(&b, f, s);
                continue;
            }
            sb_add(&b, f->name, strlen(f->name));
            if (*s->rendered)
                sb_fmt(&b, "{%s}", s->rendered);
            sb_add(&b, " ", 1);
            if (f->type == GS_METRIC_COUNTER && f->scale == 1)
                sb_fmt(&b, "%llu", (unsigned long long)load(&s->value));
            else
                sb_double(&b, series_value(m, s));
            sb_add(&b, "\n", 1);
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (b.oom) {
        free(b.p);
        return GS_ERR_NOMEM;
    }
    *out = b.p;
    *out_len = b.len;
    return GS_OK;
}

/* ---- selectors and reading ------------------------------------------------ */

gs_err_t gs_metrics_sel_parse(const gs_metrics_t *m, const char *text, gs_metrics_sel_t *out,
                              char *errstr, size_t n)
{
    *out = (gs_metrics_sel_t){0};
    char name[NAME_MAX_LEN];
    size_t len = strcspn(text, "{");
    if (len >= sizeof(name))
        return gs_fail(errstr, n, GS_ERR_CONFIG, "metric name too long in \"%s\"", text);
    memcpy(name, text, len);
    name[len] = '\0';
    pthread_mutex_lock((pthread_mutex_t *)&m->lock);
    out->family = find_family(m, name);
    pthread_mutex_unlock((pthread_mutex_t *)&m->lock);
    if (out->family < 0)
        return gs_fail(errstr, n, GS_ERR_CONFIG, "unknown metric \"%s\"", name);
    const char *p = text + len;
    if (!*p)
        return GS_OK;
    p++; /* '{' */
    while (*p && *p != '}') {
        if (out->n_match == GS_METRICS_MAX_LABELS)
            return gs_fail(errstr, n, GS_ERR_CONFIG, "too many label matchers in \"%s\"", text);
        char(*kv)[64] = out->match[out->n_match];
        size_t kl = strcspn(p, "=");
        if (!kl || kl >= 64 || p[kl] != '=' || p[kl + 1] != '"')
            return gs_fail(errstr, n, GS_ERR_CONFIG, "expected label=\"value\" in \"%s\"", text);
        memcpy(kv[0], p, kl);
        kv[0][kl] = '\0';
        p += kl + 2;
        size_t vl = strcspn(p, "\"");
        if (vl >= 64 || p[vl] != '"')
            return gs_fail(errstr, n, GS_ERR_CONFIG, "unterminated label value in \"%s\"", text);
        memcpy(kv[1], p, vl);
        kv[1][vl] = '\0';
        p += vl + 1;
        out->n_match++;
        if (*p == ',')
            p++;
        else if (*p != '}')
            return gs_fail(errstr, n, GS_ERR_CONFIG, "expected , or } in \"%s\"", text);
    }
    if (*p != '}' || p[1])
        return gs_fail(errstr, n, GS_ERR_CONFIG, "unterminated selector \"%s\"", text);
    return GS_OK;
}

gs_metric_type_t gs_metrics_sel_type(const gs_metrics_t *m, const gs_metrics_sel_t *sel)
{
    return m->families[sel->family].type;
}

const double *gs_metrics_sel_bounds(const gs_metrics_t *m, const gs_metrics_sel_t *sel,
                                    size_t *n_bounds)
{
    *n_bounds = m->families[sel->family].n_bounds;
    return m->families[sel->family].bounds;
}

static int matches(const gs_series_t *s, const gs_metrics_sel_t *sel)
{
    for (size_t i = 0; i < sel->n_match; i++) {
        size_t j = 0;
        while (j < s->n_labels && (strcmp(s->labels[2 * j], sel->match[i][0]) != 0 ||
                                   strcmp(s->labels[2 * j + 1], sel->match[i][1]) != 0))
            j++;
        if (j == s->n_labels)
            return 0;
    }
    return 1;
}

void gs_metrics_read(gs_metrics_t *m, const gs_metrics_sel_t *sel, gs_metrics_reading_t *out)
{
    *out = (gs_metrics_reading_t){.min = INFINITY, .max = -INFINITY};
    pthread_mutex_lock(&m->lock);
    const family_t *f = &m->families[sel->family];
    for (size_t i = 0; i < m->n_series; i++) {
        const gs_series_t *s = m->series[i];
        if (s->family != sel->family || !visible(s) || !matches(s, sel))
            continue;
        out->series++;
        if (f->type == GS_METRIC_HISTOGRAM) {
            for (size_t b = 0; b <= f->n_bounds; b++) {
                uint64_t c = load(&s->buckets[b]);
                out->buckets[b] += c;
                out->count += c;
            }
            out->hsum += (double)load(&s->sum) * f->scale;
            continue;
        }
        double v = series_value(m, s);
        out->sum += v;
        out->min = v < out->min ? v : out->min;
        out->max = v > out->max ? v : out->max;
    }
    pthread_mutex_unlock(&m->lock);
}

double gs_quantile_buckets(const double *bounds, size_t n_bounds, const uint64_t *counts, double q)
{
    uint64_t total = 0;
    for (size_t i = 0; i <= n_bounds; i++)
        total += counts[i];
    if (!total || !(q >= 0 && q <= 1))
        return NAN;
    double rank = q * (double)total;
    uint64_t cum = 0;
    for (size_t i = 0; i <= n_bounds; i++) {
        if (!counts[i] || (double)(cum + counts[i]) < rank) {
            cum += counts[i];
            continue;
        }
        if (i == n_bounds) /* in +Inf: the highest finite bound */
            return n_bounds ? bounds[n_bounds - 1] : NAN;
        double lo = i ? bounds[i - 1] : 0, hi = bounds[i];
        return lo + (hi - lo) * ((rank - (double)cum) / (double)counts[i]);
    }
    return n_bounds ? bounds[n_bounds - 1] : NAN;
}

/* ---- snapshots ------------------------------------------------------------ */

void gs_metrics_visit(gs_metrics_t *m, gs_metrics_visit_fn *fn, void *opaque)
{
    pthread_mutex_lock(&m->lock);
    for (size_t fi = 0; fi < m->n_families; fi++) {
        const family_t *f = &m->families[fi];
        for (size_t i = 0; i < m->n_series; i++) {
            gs_series_t *s = m->series[i];
            if (s->family != (int)fi || !visible(s))
                continue;
            gs_metrics_point_t p = {.name = f->name,
                                    .type = f->type,
                                    .labels = (const char *const *)s->labels,
                                    .n_labels = s->n_labels};
            uint64_t delta[GS_METRICS_MAX_BUCKETS + 1];
            if (f->type == GS_METRIC_HISTOGRAM) {
                for (size_t b = 0; b <= f->n_bounds; b++) {
                    uint64_t c = load(&s->buckets[b]);
                    delta[b] = c - s->prev[b];
                    p.delta_count += delta[b];
                    s->prev[b] = c;
                }
                uint64_t sum = load(&s->sum);
                p.delta_sum = (double)(sum - s->prev_sum) * f->scale;
                s->prev_sum = sum;
                p.delta = delta;
                p.bounds = f->bounds;
                p.n_bounds = f->n_bounds;
            } else {
                p.value = series_value(m, s);
            }
            fn(&p, opaque);
        }
    }
    pthread_mutex_unlock(&m->lock);
}
