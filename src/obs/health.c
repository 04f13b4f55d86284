/* HTTP endpoint. Readiness and the heartbeat are atomics written by the
 * poll loop and read by libmicrohttpd's thread; /metrics renders the
 * registry (atomics); /state serves the latest JSON the poll loop
 * published, under a mutex held only to swap or copy it. */
#include "govstream/health.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_WINDOW_US (30LL * 1000000)

struct gs_health {
    struct MHD_Daemon *mhd;
    atomic_int state;
    atomic_llong beat_us;
    int port;
    gs_metrics_t *metrics;
    pthread_mutex_t state_lock;
    char *state_json;
};

static const char *const reasons[GS_READINESS__COUNT] = {
    [GS_READY] = "ready",
    [GS_NOT_READY_STARTING] = "starting",
    [GS_NOT_READY_NOT_JOINED] = "consumer group not joined yet",
    [GS_NOT_READY_BROKER_DOWN] = "all brokers are down",
    [GS_NOT_READY_AUTH] = "broker authentication failed",
    [GS_NOT_READY_REGISTRY_DOWN] = "schema registry unreachable",
    [GS_NOT_READY_TOPIC_MISSING] = "an output topic does not exist",
    [GS_NOT_READY_MODEL] = "model not loaded",
    [GS_NOT_READY_DRAINING] = "shutting down",
};

const char *gs_readiness_reason(gs_readiness_t s)
{
    return (unsigned)s < GS_READINESS__COUNT ? reasons[s] : "unknown";
}

/* body: copied unless `owned` (malloc'd, freed by libmicrohttpd). */
static enum MHD_Result reply_as(struct MHD_Connection *c, unsigned code, char *body, size_t len,
                                int owned, const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (!r) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *body)
{
    return reply_as(c, code, (char *)body, strlen(body), 0, "application/json");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
    (void)version, (void)upload, (void)upload_size, (void)req_cls;
    gs_health_t *h = cls;
    char body[256];
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "{\"error\":\"method not allowed\"}\n");
    if (!strcmp(url, "/health/live")) {
        int alive = gs_now_us() - atomic_load(&h->beat_us) < LIVE_WINDOW_US;
        snprintf(body, sizeof(body), "{\"status\":\"%s\"}\n", alive ? "alive" : "stalled");
        return reply(c, alive ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body);
    }
    if (!strcmp(url, "/health/ready")) {
        gs_readiness_t s = (gs_readiness_t)atomic_load(&h->state);
        snprintf(body, sizeof(body), "{\"status\":\"%s\",\"reason\":\"%s\"}\n",
                 s == GS_READY ? "ready" : "not ready", gs_readiness_reason(s));
        return reply(c, s == GS_READY ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body);
    }
    if (!strcmp(url, "/metrics") && h->metrics) {
        char *text;
        size_t len;
        if (gs_metrics_render(h->metrics, &text, &len))
            return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "{\"error\":\"out of memory\"}\n");
        return reply_as(c, MHD_HTTP_OK, text, len, 1, "text/plain; version=0.0.4; charset=utf-8");
    }
    if (!strcmp(url, "/state")) {
        pthread_mutex_lock(&h->state_lock);
        char *json = strdup(h->state_json ? h->state_json : "{}\n");
        pthread_mutex_unlock(&h->state_lock);
        if (!json)
            return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "{\"error\":\"out of memory\"}\n");
        return reply_as(c, MHD_HTTP_OK, json, strlen(json), 1, "application/json");
    }
    return reply(c, MHD_HTTP_NOT_FOUND, "{\"error\":\"not found\"}\n");
}

gs_err_t gs_health_new(const char *listen, gs_metrics_t *metrics, gs_health_t **out, char *errstr,
                       size_t n)
{
    gs_health_t *h = calloc(1, sizeof(*h));
    if (!h)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    h->metrics = metrics;
    pthread_mutex_init(&h->state_lock, NULL);
    atomic_init(&h->state, GS_NOT_READY_STARTING);
    atomic_init(&h->beat_us, gs_now_us());
    if (listen && *listen) {
        char host[64];
        int port;
        struct sockaddr_in sa = {.sin_family = AF_INET};
        if (sscanf(listen, "%63[^:]:%d", host, &port) != 2 || port < 0 || port > 65535 ||
            inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
            gs_health_destroy(h);
            return gs_fail(errstr, n, GS_ERR_CONFIG, "http.listen: \"%s\" is not an IPv4 host:port",
                           listen);
        }
        sa.sin_port = htons((uint16_t)port);
        h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL,
                                  handle, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                  MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
        if (!h->mhd) {
            gs_health_destroy(h);
            return gs_fail(errstr, n, GS_ERR_IO, "http.listen: cannot listen on %s", listen);
        }
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
        h->port = info ? info->port : port;
    }
    *out = h;
    return GS_OK;
}

void gs_health_destroy(gs_health_t *h)
{
    if (!h)
        return;
    if (h->mhd)
        MHD_stop_daemon(h->mhd);
    pthread_mutex_destroy(&h->state_lock);
    free(h->state_json);
    free(h);
}

void gs_health_set_state(gs_health_t *h, char *json)
{
    pthread_mutex_lock(&h->state_lock);
    char *old = h->state_json;
    h->state_json = json;
    pthread_mutex_unlock(&h->state_lock);
    free(old);
}

void gs_health_set(gs_health_t *h, gs_readiness_t s)
{
    atomic_store(&h->state, (int)s);
}

gs_readiness_t gs_health_get(const gs_health_t *h)
{
    return (gs_readiness_t)atomic_load(&((gs_health_t *)h)->state);
}

void gs_health_beat(gs_health_t *h)
{
    atomic_store(&h->beat_us, gs_now_us());
}

int gs_health_port(const gs_health_t *h)
{
    return h->port;
}
