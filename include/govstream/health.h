/* govstream - HTTP endpoint (libmicrohttpd, its own thread):
 *   /metrics       Prometheus text format 0.0.4 (the metrics registry)
 *   /health/live   200 while the poll loop runs (heartbeat within 30 s)
 *   /health/ready  200 when ready, else 503 with the reason as JSON
 *   /state         JSON summary of the governance scopes
 * The poll loop publishes with gs_health_set / gs_health_beat (lock-free
 * stores) and gs_health_set_state (a pointer swap). */
#ifndef GOVSTREAM_HEALTH_H
#define GOVSTREAM_HEALTH_H

#include "govstream/metrics.h"

typedef enum {
    GS_READY = 0,
    GS_NOT_READY_STARTING,
    GS_NOT_READY_NOT_JOINED,
    GS_NOT_READY_BROKER_DOWN,
    GS_NOT_READY_AUTH,
    GS_NOT_READY_REGISTRY_DOWN,
    GS_NOT_READY_TOPIC_MISSING,
    GS_NOT_READY_MODEL,
    GS_NOT_READY_DRAINING,
    GS_READINESS__COUNT
} gs_readiness_t;

typedef struct gs_health gs_health_t;

/* listen: "host:port" (IPv4), "" for no HTTP server. Port 0 picks one.
 * metrics (may be NULL) is rendered on /metrics and must outlive h. */
gs_err_t gs_health_new(const char *listen, gs_metrics_t *metrics, gs_health_t **out, char *errstr,
                       size_t errstr_size);
void gs_health_destroy(gs_health_t *h);
void gs_health_set(gs_health_t *h, gs_readiness_t state);
gs_readiness_t gs_health_get(const gs_health_t *h);
const char *gs_readiness_reason(gs_readiness_t state);
void gs_health_beat(gs_health_t *h);
/* Replaces the /state document with json (malloc'd; h takes it). */
void gs_health_set_state(gs_health_t *h, char *json);
/* Bound port (0 when disabled). */
int gs_health_port(const gs_health_t *h);

#endif
