/* govstream - alerts (SPEC 5): rules over the metrics registry, and their
 * delivery as Alertmanager webhook payloads (version 4).
 *
 *   gs_alerter   evaluates the configured rules plus the core's built-in
 *                ones on the poll thread (a few registry reads per second)
 *                and hands every notification to the webhook queue and to
 *                the caller (who writes it to the alerts topic);
 *   gs_webhook   delivers on its own thread: timeouts, exponential backoff
 *                on 5xx and connection errors, none on other 4xx, a bounded
 *                queue that drops the oldest. The stream never waits on it.
 */
#ifndef GOVSTREAM_ALERT_H
#define GOVSTREAM_ALERT_H

#include "govstream/config.h"
#include "govstream/log.h"
#include "govstream/metrics.h"

/* ---- webhook delivery ---------------------------------------------------- */

typedef struct gs_webhook_conf {
    const char *url;
    const char *secret; /* "" or NULL: unsigned */
    int connect_timeout_ms, timeout_ms;
    int retries, backoff_ms, backoff_max_ms;
    size_t queue_max;
} gs_webhook_conf_t;

typedef struct gs_webhook gs_webhook_t;

/* Declares the govstream_alerts_* delivery metrics in m and starts the
 * delivery thread. */
gs_err_t gs_webhook_new(const gs_webhook_conf_t *conf, gs_metrics_t *m, gs_log_t *log,
                        gs_webhook_t **out, char *errstr, size_t errstr_size);
/* Stops the thread: what is queued gets one attempt each within flush_ms,
 * the rest is dropped (and counted). */
void gs_webhook_destroy(gs_webhook_t *w, int flush_ms);
/* Queues a copy of body; never blocks on delivery. */
void gs_webhook_send(gs_webhook_t *w, const char *body, size_t len);

/* X-Govstream-Signature value: "sha256=" + hex HMAC-SHA256(secret, body). */
void gs_webhook_signature(const char *secret, const void *body, size_t len, char out[72]);

/* ---- rules ------------------------------------------------------------- */

typedef struct gs_alerter gs_alerter_t;

/* A notification: the Alertmanager v4 JSON payload and the alert's
 * fingerprint (the key on the alerts topic). */
typedef void(gs_alert_emit_fn)(const char *fingerprint, const char *payload, size_t len,
                               void *opaque);

/* Compiles cfg->alerts.rules and the built-in core rules against the
 * families already declared in m (unknown metrics are configuration
 * errors naming the rule) and starts the webhook when one is configured. */
gs_err_t gs_alerter_new(const gs_config_t *cfg, gs_metrics_t *m, gs_log_t *log, gs_alerter_t **out,
                        char *errstr, size_t errstr_size);
void gs_alerter_destroy(gs_alerter_t *a);
/* Compiles the rules only (check-config). */
gs_err_t gs_alerter_check(const gs_config_t *cfg, gs_metrics_t *m, char *errstr,
                          size_t errstr_size);

/* Evaluates every rule when alerts.eval_interval_ms has passed since the
 * last evaluation (now_us: monotonic; a comparison otherwise, so it can be
 * called every loop iteration). emit may be NULL. */
void gs_alerter_tick(gs_alerter_t *a, int64_t now_us, gs_alert_emit_fn *emit, void *opaque);

/* An alert one request raises (a screening's HIGH), as opposed to a rule
 * over the metrics. Its labels stay bounded (alertname, severity, worker
 * and the event's own, such as the list): what names the request goes in
 * the annotations. It fires once, with endsAt GS_ALERT_EVENT_TTL_S later, so
 * that Alertmanager resolves it by itself; the same labels make the same
 * fingerprint, so Alertmanager groups the requests' alerts into one. */
#define GS_ALERT_EVENT_TTL_S 900
typedef struct gs_alert_event {
    const char *name, *severity;
    const char *const *labels; /* name, value pairs */
    size_t n_labels;
    const char *const *annotations; /* name, value pairs */
    size_t n_annotations;
} gs_alert_event_t;

/* Sends ev to the webhook (when configured) and to emit (may be NULL). */
void gs_alerter_raise(gs_alerter_t *a, const gs_alert_event_t *ev, int64_t wall_ms,
                      gs_alert_emit_fn *emit, void *opaque);

/* Prometheus' label fingerprint (FNV-1a 64 over sorted name, value pairs
 * with 0xff separators), as 16 hex digits. */
void gs_alert_fingerprint(const char *const *labels, size_t n_pairs, char out[17]);

#endif
