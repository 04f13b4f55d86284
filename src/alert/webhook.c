/* Webhook delivery thread. One curl easy handle, reused (keep-alive); the
 * poll thread only takes the queue mutex to append. The URL may carry a
 * token, so it is never logged. */
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "govstream/alert.h"

typedef struct note {
    char *body;
    size_t len;
} note_t;

struct gs_webhook {
    gs_webhook_conf_t conf;
    char *url, *secret;
    gs_log_t *log;
    CURL *curl;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    note_t *queue; /* ring of queue_max */
    size_t head, len;
    int stop;
    int64_t flush_deadline_us;
    gs_series_t *sent, *failed, *dropped, *retries, *depth;
};

void gs_webhook_signature(const char *secret, const void *body, size_t len, char out[72])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, mac, &mac_len);
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "sha256=", 7);
    for (unsigned i = 0; i < mac_len && i < 32; i++) {
        out[7 + 2 * i] = hex[mac[i] >> 4];
        out[8 + 2 * i] = hex[mac[i] & 15];
    }
    out[7 + 2 * (mac_len < 32 ? mac_len : 32)] = '\0';
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p, (void)ud;
    return size * n;
}

/* One POST. Returns the HTTP status, or 0 for a connection error or a
 * timeout (curl's message in err). */
static long post(gs_webhook_t *w, const note_t *nt, long timeout_ms, char *err, size_t en)
{
    struct curl_slist *h = NULL;
    char sig[100];
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "User-Agent: govstream/" GS_VERSION);
    if (*w->secret) {
        char hex[72];
        gs_webhook_signature(w->secret, nt->body, nt->len, hex);
        snprintf(sig, sizeof(sig), "X-Govstream-Signature: %s", hex);
        h = curl_slist_append(h, sig);
    }
    char ebuf[CURL_ERROR_SIZE] = "";
    CURL *c = w->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, w->url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, nt->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)nt->len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)w->conf.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(err, en, "%s", *ebuf ? ebuf : curl_easy_strerror(rc));
    curl_slist_free_all(h);
    return status;
}

/* Waits up to ms or until stopped; returns 1 when stopped. */
static int wait_ms(gs_webhook_t *w, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->lock);
    while (!w->stop && pthread_cond_timedwait(&w->cond, &w->lock, &ts) == 0)
        ;
    int stop = w->stop;
    pthread_mutex_unlock(&w->lock);
    return stop;
}

static void deliver(gs_webhook_t *w, const note_t *nt, int stopping)
{
    int backoff = gs_backoff_next(0, w->conf.backoff_ms, w->conf.backoff_max_ms);
    for (int attempt = 0;; attempt++) {
        char err[CURL_ERROR_SIZE + 32] = "";
        long timeout = w->conf.timeout_ms;
        if (stopping) { /* the flush deadline bounds every attempt */
            long left = (long)((w->flush_deadline_us - gs_now_us()) / 1000);
            timeout = left < 1 ? 1 : left < timeout ? left : timeout;
        }
        long status = post(w, nt, timeout, err, sizeof(err));
        if (status >= 200 && status < 300) {
            gs_counter_add(w->sent, 1);
            return;
        }
        int retry = status == 0 || status >= 500;
        if (!retry || attempt >= w->conf.retries || stopping) {
            gs_counter_add(w->failed, 1);
            gs_log_warn(w->log, "alert webhook delivery failed", GS_LI("status", status),
                        GS_LS("error", status ? "HTTP error status" : err),
                        GS_LI("attempts", attempt + 1));
            return;
        }
        gs_counter_add(w->retries, 1);
        gs_log_debug(w->log, "alert webhook retry", GS_LI("status", status),
                     GS_LI("backoff_ms", backoff));
        if (wait_ms(w, backoff)) /* stopping: cut the backoff short, one last try */
            stopping = 1;
        backoff = gs_backoff_next(backoff, w->conf.backoff_ms, w->conf.backoff_max_ms);
    }
}

static void *run(void *arg)
{
    gs_webhook_t *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (!w->len && !w->stop)
            pthread_cond_wait(&w->cond, &w->lock);
        if (!w->len || (w->stop && gs_now_us() >= w->flush_deadline_us)) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        note_t nt = w->queue[w->head];
        w->head = (w->head + 1) % w->conf.queue_max;
        w->len--;
        int stopping = w->stop;
        gs_gauge_set(w->depth, (double)w->len);
        pthread_mutex_unlock(&w->lock);
        deliver(w, &nt, stopping);
        free(nt.body);
    }
    return NULL;
}

gs_err_t gs_webhook_new(const gs_webhook_conf_t *conf, gs_metrics_t *m, gs_log_t *log,
                        gs_webhook_t **out, char *errstr, size_t n)
{
    gs_webhook_t *w = calloc(1, sizeof(*w));
    if (!w)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    w->conf = *conf;
    w->log = log;
    w->url = strdup(conf->url);
    w->secret = strdup(conf->secret ? conf->secret : "");
    w->queue = calloc(conf->queue_max ? conf->queue_max : 1, sizeof(*w->queue));
    w->curl = curl_easy_init();
    gs_err_t err = w->url && w->secret && w->queue && w->curl && conf->queue_max
                       ? GS_OK
                       : gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    static const struct {
        const char *name, *help;
        gs_metric_type_t type;
    } fams[] = {
        {"govstream_alerts_sent_total", "Alert notifications the webhook accepted (2xx).",
         GS_METRIC_COUNTER},
        {"govstream_alerts_failed_total",
         "Alert notifications given up: a 4xx, or retries exhausted.", GS_METRIC_COUNTER},
        {"govstream_alerts_dropped_total",
         "Alert notifications dropped from a full queue (oldest first) or at shutdown.",
         GS_METRIC_COUNTER},
        {"govstream_alert_retries_total",
         "Webhook attempts retried after a 5xx or a connection "
         "error.",
         GS_METRIC_COUNTER},
        {"govstream_alert_queue_depth", "Alert notifications waiting for delivery.",
         GS_METRIC_GAUGE},
    };
    gs_series_t **series[] = {&w->sent, &w->failed, &w->dropped, &w->retries, &w->depth};
    for (size_t i = 0; !err && i < sizeof(fams) / sizeof(fams[0]); i++) {
        err = gs_metrics_family(m, fams[i].name, fams[i].type, fams[i].help, NULL, 0, 1, errstr, n);
        if (!err && !(*series[i] = gs_metrics_series(m, fams[i].name, NULL, 0)))
            err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    if (!err) {
        gs_gauge_set(w->depth, 0);
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        if (pthread_create(&w->thread, NULL, run, w)) {
            pthread_cond_destroy(&w->cond);
            pthread_mutex_destroy(&w->lock);
            err = gs_fail(errstr, n, GS_ERR_NOMEM, "cannot start the webhook thread");
        }
    }
    if (err) {
        curl_easy_cleanup(w->curl);
        free(w->queue);
        free(w->url);
        free(w->secret);
        free(w);
        return err;
    }
    *out = w;
    return GS_OK;
}

void gs_webhook_send(gs_webhook_t *w, const char *body, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy) {
        gs_counter_add(w->dropped, 1);
        return;
    }
    memcpy(copy, body, len);
    copy[len] = '\0';
    pthread_mutex_lock(&w->lock);
    if (w->len == w->conf.queue_max) { /* full: the oldest goes */
        free(w->queue[w->head].body);
        w->head = (w->head + 1) % w->conf.queue_max;
        w->len--;
        gs_counter_add(w->dropped, 1);
    }
    w->queue[(w->head + w->len) % w->conf.queue_max] = (note_t){copy, len};
    w->len++;
    gs_gauge_set(w->depth, (double)w->len);
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void gs_webhook_destroy(gs_webhook_t *w, int flush_ms)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    w->flush_deadline_us = gs_now_us() + (int64_t)flush_ms * 1000;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    for (; w->len; w->len--, w->head = (w->head + 1) % w->conf.queue_max) {
        free(w->queue[w->head].body);
        gs_counter_add(w->dropped, 1);
    }
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    curl_easy_cleanup(w->curl);
    if (*w->secret)
        memset(w->secret, 0, strlen(w->secret));
    free(w->secret);
    free(w->url);
    free(w->queue);
    free(w);
}
