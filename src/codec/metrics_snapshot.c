/* MetricsSnapshot encoding: one generic Avro value, reset and refilled per
 * snapshot (a few hundred series every 10 s; not a hot path). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/metrics_codec.h"

struct gs_msnap_codec {
    gs_avro_schema_t *schema;
    avro_value_t value;
};

gs_err_t gs_msnap_codec_new(gs_msnap_codec_t **out, char *errstr, size_t n)
{
    gs_msnap_codec_t *c = calloc(1, sizeof(*c));
    if (!c)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_err_t err = gs_avro_value_new("MetricsSnapshot", &c->schema, &c->value, errstr, n);
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
    gs_avro_value_free(c->schema, &c->value);
    free(c);
}

gs_avro_schema_t *gs_msnap_schema(const gs_msnap_codec_t *c)
{
    return c->schema;
}

typedef struct fill {
    avro_value_t counters, gauges, histograms, lag;
    int rc;
} fill_t;

static int set_labels(avro_value_t *rec, const gs_metrics_point_t *p)
{
    avro_value_t map, e;
    if (avro_value_get_by_name(rec, "labels", &map, NULL))
        return -1;
    for (size_t i = 0; i < p->n_labels; i++)
        if (avro_value_add(&map, p->labels[2 * i], &e, NULL, NULL) ||
            gs_avro_set_cstr(&e, p->labels[2 * i + 1]))
            return -1;
    return 0;
}

static int set_opt_double(avro_value_t *rec, const char *name, double v)
{
    avro_value_t u, b;
    if (avro_value_get_by_name(rec, name, &u, NULL))
        return -1;
    if (isnan(v))
        return avro_value_set_branch(&u, 0, &b) || avro_value_set_null(&b);
    return avro_value_set_branch(&u, 1, &b) || avro_value_set_double(&b, v);
}

static const char *label(const gs_metrics_point_t *p, const char *name)
{
    for (size_t i = 0; i < p->n_labels; i++)
        if (!strcmp(p->labels[2 * i], name))
            return p->labels[2 * i + 1];
    return NULL;
}

static void add_point(const gs_metrics_point_t *p, void *opaque)
{
    fill_t *f = opaque;
    avro_value_t rec, fld;
    if (f->rc)
        return;
    if (p->type == GS_METRIC_HISTOGRAM) {
        f->rc = avro_value_append(&f->histograms, &rec, NULL) ||
                avro_value_get_by_name(&rec, "name", &fld, NULL) ||
                gs_avro_set_cstr(&fld, p->name) || set_labels(&rec, p) ||
                avro_value_get_by_name(&rec, "count", &fld, NULL) ||
                avro_value_set_long(&fld, (int64_t)p->delta_count) ||
                avro_value_get_by_name(&rec, "sum", &fld, NULL) ||
                avro_value_set_double(&fld, p->delta_sum) ||
                set_opt_double(&rec, "p50",
                               gs_quantile_buckets(p->bounds, p->n_bounds, p->delta, 0.50)) ||
                set_opt_double(&rec, "p95",
                               gs_quantile_buckets(p->bounds, p->n_bounds, p->delta, 0.95)) ||
                set_opt_double(&rec, "p99",
                               gs_quantile_buckets(p->bounds, p->n_bounds, p->delta, 0.99));
        return;
    }
    avro_value_t *arr = p->type == GS_METRIC_COUNTER ? &f->counters : &f->gauges;
    f->rc = avro_value_append(arr, &rec, NULL) ||
            avro_value_get_by_name(&rec, "name", &fld, NULL) || gs_avro_set_cstr(&fld, p->name) ||
            set_labels(&rec, p) || avro_value_get_by_name(&rec, "value", &fld, NULL) ||
            avro_value_set_double(&fld, p->value);
    const char *topic = label(p, "topic"), *part = label(p, "partition");
    if (!f->rc && !strcmp(p->name, "govstream_consumer_lag") && topic && part)
        f->rc = avro_value_append(&f->lag, &rec, NULL) ||
                avro_value_get_by_name(&rec, "topic", &fld, NULL) ||
                gs_avro_set_cstr(&fld, topic) ||
                avro_value_get_by_name(&rec, "partition", &fld, NULL) ||
                avro_value_set_int(&fld, atoi(part)) ||
                avro_value_get_by_name(&rec, "lag", &fld, NULL) ||
                avro_value_set_long(&fld, (int64_t)p->value);
}

gs_err_t gs_msnap_encode(gs_msnap_codec_t *c, gs_metrics_t *m, const char *worker_id,
                         int64_t taken_at_ms, int64_t interval_ms, int32_t schema_id, gs_buf_t *out,
                         char *errstr, size_t n)
{
    avro_value_t *v = &c->value, fld;
    fill_t f = {0};
    avro_value_reset(v);
    int rc = avro_value_get_by_name(v, "worker_id", &fld, NULL) ||
             gs_avro_set_cstr(&fld, worker_id) ||
             avro_value_get_by_name(v, "taken_at_ms", &fld, NULL) ||
             avro_value_set_long(&fld, taken_at_ms) ||
             avro_value_get_by_name(v, "interval_ms", &fld, NULL) ||
             avro_value_set_long(&fld, interval_ms) ||
             avro_value_get_by_name(v, "counters", &f.counters, NULL) ||
             avro_value_get_by_name(v, "gauges", &f.gauges, NULL) ||
             avro_value_get_by_name(v, "histograms", &f.histograms, NULL) ||
             avro_value_get_by_name(v, "lag", &f.lag, NULL);
    if (!rc) {
        gs_metrics_visit(m, add_point, &f);
        rc = f.rc;
    }
    if (rc)
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "metrics snapshot encode: %s", avro_strerror());
    return gs_avro_encode(v, schema_id, out, errstr, n);
}
