/* govstream - the MetricsSnapshot record (schemas/MetricsSnapshot.avsc):
 * the metrics registry as one Avro record for the metrics topic. */
#ifndef GOVSTREAM_METRICS_CODEC_H
#define GOVSTREAM_METRICS_CODEC_H

#include "govstream/codec.h"
#include "govstream/metrics.h"

typedef struct gs_msnap_codec gs_msnap_codec_t;

gs_err_t gs_msnap_codec_new(gs_msnap_codec_t **out, char *errstr, size_t errstr_size);
void gs_msnap_codec_destroy(gs_msnap_codec_t *c);
gs_avro_schema_t *gs_msnap_schema(const gs_msnap_codec_t *c);

/* Encodes every visible series of m. Histograms give the count, sum and
 * p50/p95/p99 of the interval since the previous call (gs_metrics_visit);
 * govstream_consumer_lag series also fill `lag`. */
gs_err_t gs_msnap_encode(gs_msnap_codec_t *c, gs_metrics_t *m, const char *worker_id,
                         int64_t taken_at_ms, int64_t interval_ms, int32_t schema_id, gs_buf_t *out,
                         char *errstr, size_t errstr_size);

#endif
