/* MetricsSnapshot encoding with the generated codec: one visit of the
 * registry fills the record's arrays in an arena, reset per snapshot (a few
 * hundred series every 10 s). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/metrics_codec.h"
#include "govstream/schemas.h"

struct gs_msnap_codec {
    gs_avro_schema_t *schema; /* parsed, for the registry */
    gs_arena_t arena;
};

gs_err_t gs_msnap_codec_new(gs_msnap_codec_t **out, char *errstr, size_t n)
{
    gs_msnap_codec_t *c = calloc(1, sizeof(*c));
    if (!c)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_err_t err = gs_avro_schema_load("MetricsSnapshot", &c->schema, errstr, n);
    if (err) {
        free(c);
        return err;
    }
    *out = c;
    return GS_OK;
}

void gs_msnap_codec_destroy(gs_msnap_codec_t *c)
{
    if (!c)
        return;
    gs_avro_schema_destroy(c->schema);
    gs_arena_free(&c->arena);
    free(c);
}

gs_avro_schema_t *gs_msnap_schema(const gs_msnap_codec_t *c)
{
    return c->schema;
}

typedef struct fill {
    gs_arena_t *a;
    gs_avro_metrics_snapshot_t *s;
    size_t cap[4]; /* counters, gauges, histograms, lag */
    int oom;
} fill_t;

/* Room for one more item in an arena array that doubles (copying). */
static void *push(fill_t *f, void *items, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return items;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *p = gs_arena_alloc(f->a, ncap * size);
    if (!p) {
        f->oom = 1;
        return NULL;
    }
    if (n)
        memcpy(p, items, n * size);
    *cap = ncap;
    return p;
}

/* Label pairs as map entries; each type's entry is {key, value} views. */
static void *labels(fill_t *f, const gs_metrics_point_t *p, size_t entry_size)
{
    gs_str_t *e = gs_arena_alloc(f->a, p->n_labels * entry_size + 1);
    if (!e) {
        f->oom = 1;
        return NULL;
    }
    for (size_t i = 0; i < p->n_labels; i++) {
        gs_str_t kv[2] = {gs_avro_cstr(p->labels[2 * i]), gs_avro_cstr(p->labels[2 * i + 1])};
        memcpy((char *)e + i * entry_size, kv, sizeof(kv));
    }
    return e;
}

static const char *label(const gs_metrics_point_t *p, const char *name)
{
    for (size_t i = 0; i < p->n_labels; i++)
        if (!strcmp(p->labels[2 * i], name))
            return p->labels[2 * i + 1];
    return NULL;
}

static void quantile(const gs_metrics_point_t *p, double q, bool *has, double *v)
{
    *v = gs_quantile_buckets(p->bounds, p->n_bounds, p->delta, q);
    *has = !isnan(*v); /* null without observations */
}

static void add_histogram(fill_t *f, const gs_metrics_point_t *p)
{
    gs_avro_metrics_snapshot_t *s = f->s;
    s->histograms = push(f, s->histograms, s->n_histograms, &f->cap[2], sizeof(*s->histograms));
    if (!s->histograms)
        return;
    gs_avro_histogram_summary_t *h = &s->histograms[s->n_histograms++];
    *h = (gs_avro_histogram_summary_t){
        .name = gs_avro_cstr(p->name),
        .labels = labels(f, p, sizeof(*h->labels)),
        .n_labels = p->n_labels,
        .count = (int64_t)p->delta_count,
        .sum = p->delta_sum,
    };
    quantile(p, 0.50, &h->has_p50, &h->p50);
    quantile(p, 0.95, &h->has_p95, &h->p95);
    quantile(p, 0.99, &h->has_p99, &h->p99);
}

static void add_lag(fill_t *f, const gs_metrics_point_t *p)
{
    const char *topic = label(p, "topic"), *part = label(p, "partition");
    gs_avro_metrics_snapshot_t *s = f->s;
    if (!topic || !part)
        return;
    s->lag = push(f, s->lag, s->n_lag, &f->cap[3], sizeof(*s->lag));
    if (s->lag)
        s->lag[s->n_lag++] =
            (gs_avro_partition_lag_t){gs_avro_cstr(topic), atoi(part), (int64_t)p->value};
}

static void add_point(const gs_metrics_point_t *p, void *opaque)
{
    fill_t *f = opaque;
    gs_avro_metrics_snapshot_t *s = f->s;
    if (f->oom)
        return;
    if (p->type == GS_METRIC_HISTOGRAM) {
        add_histogram(f, p);
        return;
    }
    int counter = p->type == GS_METRIC_COUNTER;
    gs_avro_metric_sample_t **arr = counter ? &s->counters : &s->gauges;
    size_t *n = counter ? &s->n_counters : &s->n_gauges;
    *arr = push(f, *arr, *n, &f->cap[counter ? 0 : 1], sizeof(**arr));
    if (!*arr)
        return;
    (*arr)[(*n)++] = (gs_avro_metric_sample_t){
        .name = gs_avro_cstr(p->name),
        .labels = labels(f, p, sizeof(*(*arr)->labels)),
        .n_labels = p->n_labels,
        .value = p->value,
    };
    if (!strcmp(p->name, "govstream_consumer_lag"))
        add_lag(f, p);
}

gs_err_t gs_msnap_encode(gs_msnap_codec_t *c, gs_metrics_t *m, const char *worker_id,
                         int64_t taken_at_ms, int64_t interval_ms, int32_t schema_id, gs_buf_t *out,
                         char *errstr, size_t n)
{
    gs_arena_reset(&c->arena);
    gs_avro_metrics_snapshot_t s = {
        .worker_id = gs_avro_cstr(worker_id),
        .taken_at_ms = taken_at_ms,
        .interval_ms = interval_ms,
    };
    fill_t f = {.a = &c->arena, .s = &s};
    gs_metrics_visit(m, add_point, &f);
    if (f.oom)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "metrics snapshot: out of memory");
    return gs_avro_metrics_snapshot_encode(&s, schema_id, out, errstr, n);
}
