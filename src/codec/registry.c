/* Schema registry client: GET /schemas/ids/{id}, POST /subjects/{s}/versions. */
#include "govstream/registry.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BODY (8u << 20) /* a schema larger than this is not a schema */

typedef struct entry {
    int32_t id;
    int used;
    gs_avro_schema_t *schema; /* NULL: known unknown until neg_until_us */
    int64_t neg_until_us;
    char reason[160];
} entry_t;

struct gs_registry {
    gs_registry_conf_t conf;
    char *url, *username, *password, *ca_file;
    CURL *curl;
    entry_t *tab;
    size_t cap, count;
    gs_registry_stats_t stats;
};

typedef struct body {
    char *data;
    size_t len;
    int overflow;
} body_t;

static size_t on_body(char *p, size_t sz, size_t nm, void *opaque)
{
    body_t *b = opaque;
    size_t n = sz * nm;
    if (b->len + n > MAX_BODY) {
        b->overflow = 1;
        return 0;
    }
    char *nd = realloc(b->data, b->len + n + 1);
    if (!nd)
        return 0;
    b->data = nd;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

gs_err_t gs_registry_new(const gs_registry_conf_t *conf, gs_registry_t **out, char *errstr,
                         size_t n)
{
    if (!conf->url || !*conf->url)
        return gs_fail(errstr, n, GS_ERR_CONFIG, "registry.url is empty");
    gs_registry_t *r = calloc(1, sizeof(*r));
    if (!r)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    r->conf = *conf;
    r->url = dup_or_empty(conf->url);
    r->username = dup_or_empty(conf->username);
    r->password = dup_or_empty(conf->password);
    r->ca_file = dup_or_empty(conf->ca_file);
    r->cap = 64;
    r->tab = calloc(r->cap, sizeof(*r->tab));
    r->curl = curl_easy_init();
    if (!r->url || !r->username || !r->password || !r->ca_file || !r->tab || !r->curl) {
        gs_registry_destroy(r);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    size_t ul = strlen(r->url); /* "base/" and "base" mean the same */
    while (ul && r->url[ul - 1] == '/')
        r->url[--ul] = '\0';
    *out = r;
    return GS_OK;
}

void gs_registry_destroy(gs_registry_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->cap && r->tab; i++)
        gs_avro_schema_destroy(r->tab[i].schema);
    free(r->tab);
    if (r->curl)
        curl_easy_cleanup(r->curl);
    if (r->password)
        memset(r->password, 0, strlen(r->password));
    free(r->url);
    free(r->username);
    free(r->password);
    free(r->ca_file);
    free(r);
}

gs_registry_stats_t gs_registry_stats(const gs_registry_t *r)
{
    return r->stats;
}

/* One HTTP exchange with retries on connection errors, 429 and 5xx.
 * Returns GS_OK with *status set for any other HTTP answer. */
static gs_err_t http(gs_registry_t *r, const char *path, const char *post, long *status,
                     body_t *body, char *errstr, size_t n)
{
    char url[1024];
    snprintf(url, sizeof(url), "%s%s", r->url, path);
    int backoff = 0;
    char last[256] = "";
    for (int attempt = 0; attempt <= r->conf.retries; attempt++) {
        if (attempt) {
            backoff = gs_backoff_next(backoff, r->conf.backoff_ms, r->conf.backoff_max_ms);
            gs_sleep_ms(backoff);
        }
        CURL *c = r->curl;
        curl_easy_reset(c);
        free(body->data);
        *body = (body_t){0};
        struct curl_slist *hdrs = curl_slist_append(
            NULL, "Accept: application/vnd.schemaregistry.v1+json, application/json");
        if (post)
            hdrs = curl_slist_append(hdrs, "Content-Type: application/vnd.schemaregistry.v1+json");
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)r->conf.connect_timeout_ms);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)r->conf.timeout_ms);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "govstream/" GS_VERSION);
        if (*r->username) {
            curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
            curl_easy_setopt(c, CURLOPT_USERNAME, r->username);
            curl_easy_setopt(c, CURLOPT_PASSWORD, r->password);
        }
        if (*r->ca_file)
            curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
        if (post)
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
        r->stats.http_requests++;
        CURLcode rc = curl_easy_perform(c);
        curl_slist_free_all(hdrs);
        if (rc == CURLE_OK) {
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
            if (*status < 500 && *status != 429)
                return GS_OK;
            snprintf(last, sizeof(last), "HTTP %ld", *status);
        } else if (body->overflow) {
            return gs_fail(errstr, n, GS_ERR_SCHEMA, "registry %s: response over %u bytes", path,
                           MAX_BODY);
        } else {
            snprintf(last, sizeof(last), "%s", curl_easy_strerror(rc));
        }
    }
    r->stats.failures++;
    return gs_fail(errstr, n, GS_ERR_TRANSPORT, "registry %s: %s after %d attempt(s)", path, last,
                   r->conf.retries + 1);
}

/* "error_code"/"message" of a registry error body, for error texts. */
static void error_text(const body_t *b, char *out, size_t n)
{
    json_t *j = b->data ? json_loads(b->data, 0, NULL) : NULL;
    const char *msg = json_string_value(json_object_get(j, "message"));
    snprintf(out, n, "%lld %s", (long long)json_integer_value(json_object_get(j, "error_code")),
             msg ? msg : "");
    json_decref(j);
}

static entry_t *slot(gs_registry_t *r, int32_t id)
{
    size_t mask = r->cap - 1, i = (size_t)((uint32_t)id * 2654435761u) & mask;
    while (r->tab[i].used && r->tab[i].id != id)
        i = (i + 1) & mask;
    return &r->tab[i];
}

static gs_err_t grow(gs_registry_t *r)
{
    entry_t *old = r->tab;
    size_t ocap = r->cap;
    entry_t *nt = calloc(ocap * 2, sizeof(*nt));
    if (!nt)
        return GS_ERR_NOMEM;
    r->tab = nt;
    r->cap = ocap * 2;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].used)
            *slot(r, old[i].id) = old[i];
    free(old);
    return GS_OK;
}

gs_err_t gs_registry_schema(gs_registry_t *r, int32_t id, gs_avro_schema_t **out, char *errstr,
                            size_t n)
{
    r->stats.lookups++;
    entry_t *e = slot(r, id);
    if (e->used && (e->schema || gs_now_us() < e->neg_until_us)) {
        r->stats.cache_hits++;
        if (!e->schema)
            return gs_fail(errstr, n, GS_ERR_SCHEMA, "%s", e->reason);
        *out = e->schema;
        return GS_OK;
    }
    char path[64];
    snprintf(path, sizeof(path), "/schemas/ids/%d", id);
    long status = 0;
    body_t body = {0};
    gs_err_t err = http(r, path, NULL, &status, &body, errstr, n);
    if (err) {
        free(body.data);
        return err;
    }
    char reason[160];
    gs_avro_schema_t *schema = NULL;
    if (status == 200) {
        json_t *j = json_loads(body.data ? body.data : "", 0, NULL);
        const char *text = json_string_value(json_object_get(j, "schema"));
        const char *type = json_string_value(json_object_get(j, "schemaType"));
        json_t *refs = json_object_get(j, "references");
        char perr[256];
        if (!text)
            snprintf(reason, sizeof(reason), "schema id %d: registry answer has no schema", id);
        else if (type && strcmp(type, "AVRO") != 0)
            snprintf(reason, sizeof(reason), "schema id %d is %s, not AVRO", id, type);
        else if (json_array_size(refs))
            snprintf(reason, sizeof(reason), "schema id %d uses references (not supported)", id);
        else if (gs_avro_schema_parse(text, strlen(text), &schema, perr, sizeof(perr)))
            snprintf(reason, sizeof(reason), "schema id %d: %s", id, perr);
        json_decref(j);
    } else if (status == 404) {
        char et[120];
        error_text(&body, et, sizeof(et));
        snprintf(reason, sizeof(reason), "schema id %d is unknown to the registry (%s)", id, et);
    } else {
        snprintf(reason, sizeof(reason), "schema id %d: registry answered HTTP %ld", id, status);
    }
    free(body.data);

    if (r->count * 2 >= r->cap && grow(r)) {
        gs_avro_schema_destroy(schema);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    e = slot(r, id);
    if (!e->used)
        r->count++;
    e->used = 1;
    e->id = id;
    e->schema = schema;
    if (!schema) {
        e->neg_until_us = gs_now_us() + (int64_t)r->conf.negative_cache_ms * 1000;
        snprintf(e->reason, sizeof(e->reason), "%s", reason);
        return gs_fail(errstr, n, GS_ERR_SCHEMA, "%s", reason);
    }
    *out = schema;
    return GS_OK;
}

gs_err_t gs_registry_register(gs_registry_t *r, const char *subject, const char *schema_json,
                              int32_t *id, char *errstr, size_t n)
{
    char *esc = curl_easy_escape(r->curl, subject, 0);
    json_t *req = json_pack("{s:s}", "schema", schema_json);
    char *post = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!esc || !post) {
        curl_free(esc);
        free(post);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    char path[512];
    snprintf(path, sizeof(path), "/subjects/%s/versions", esc);
    curl_free(esc);
    long status = 0;
    body_t body = {0};
    gs_err_t err = http(r, path, post, &status, &body, errstr, n);
    free(post);
    if (!err) {
        json_t *j = json_loads(body.data ? body.data : "", 0, NULL);
        json_t *jid = json_object_get(j, "id");
        if (status == 200 && json_is_integer(jid)) {
            *id = (int32_t)json_integer_value(jid);
        } else {
            char et[160];
            error_text(&body, et, sizeof(et));
            err = gs_fail(errstr, n, GS_ERR_SCHEMA, "registering %s: HTTP %ld: %s", subject, status,
                          et);
        }
        json_decref(j);
    }
    free(body.data);
    return err;
}
