/* Registry client against an in-process HTTP server that plays the
 * Confluent REST contract, including its failure modes. (The real registry
 * is exercised by the integration tests.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <microhttpd.h>

#include "govstream/registry.h"

typedef struct server {
    struct MHD_Daemon *mhd;
    int port;
    int hits[16];   /* GET /schemas/ids/N per N */
    int flaky_left; /* id 3 fails this many times first */
    char last_auth[256];
    char last_post[4096];
} server_t;

typedef struct upload {
    char *data;
    size_t len;
} upload_t;

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static char *schema_answer(const char *type)
{
    json_t *j = json_pack("{s:s}", "schema", gs_schema_text("DialogueRequest"));
    if (type)
        json_object_set_new(j, "schemaType", json_string(type));
    char *s = json_dumps(j, 0);
    json_decref(j);
    return s;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *data_size, void **req)
{
    (void)version;
    server_t *s = cls;
    if (!strcmp(method, "POST")) { /* collect the body over calls */
        upload_t *u = *req;
        if (!u) {
            *req = calloc(1, sizeof(upload_t));
            return MHD_YES;
        }
        if (*data_size) {
            u->data = realloc(u->data, u->len + *data_size + 1);
            memcpy(u->data + u->len, data, *data_size);
            u->len += *data_size;
            u->data[u->len] = '\0';
            *data_size = 0;
            return MHD_YES;
        }
        snprintf(s->last_post, sizeof(s->last_post), "%s", u->data ? u->data : "");
        free(u->data);
        free(u);
        *req = NULL;
        if (!strcmp(url, "/subjects/t-value/versions"))
            return send_json(c, 200, "{\"id\":11}");
        return send_json(c, 409, "{\"error_code\":409,\"message\":\"incompatible\"}");
    }
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    snprintf(s->last_auth, sizeof(s->last_auth), "%s", auth ? auth : "");
    int id = -1;
    if (sscanf(url, "/schemas/ids/%d", &id) != 1 || id < 0 || id >= 16)
        return send_json(c, 404, "{\"error_code\":404,\"message\":\"no route\"}");
    s->hits[id]++;
    char *body;
    enum MHD_Result ret;
    switch (id) {
    case 1:
        body = schema_answer(NULL);
        ret = send_json(c, 200, body);
        free(body);
        return ret;
    case 3:
        if (s->flaky_left > 0) {
            s->flaky_left--;
            return send_json(c, 503, "{}");
        }
        body = schema_answer("AVRO");
        ret = send_json(c, 200, body);
        free(body);
        return ret;
    case 4:
        return send_json(c, 500, "{\"error_code\":50001,\"message\":\"store down\"}");
    case 5:
        usleep(800000); /* longer than the client's timeout */
        return send_json(c, 200, "{}");
    case 6:
        body = schema_answer("PROTOBUF");
        ret = send_json(c, 200, body);
        free(body);
        return ret;
    case 7:
        return send_json(c, 200, "{\"schema\":\"{not json\"}");
    default:
        return send_json(c, 404, "{\"error_code\":40403,\"message\":\"Schema not found\"}");
    }
}

static int setup(void **state)
{
    server_t *s = calloc(1, sizeof(*s));
    s->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                              NULL, NULL, handler, s, MHD_OPTION_END);
    if (!s->mhd)
        return -1;
    s->port = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    server_t *s = *state;
    MHD_stop_daemon(s->mhd);
    free(s);
    return 0;
}

static gs_registry_t *client(server_t *s, int retries, int timeout_ms, int neg_ms, const char *user)
{
    char url[64], err[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s->port); /* trailing '/' is fine */
    gs_registry_conf_t c = {url, user,  user ? "s3cret" : NULL, NULL, 500, timeout_ms, retries, 10,
                            40,  neg_ms};
    gs_registry_t *r;
    assert_int_equal(gs_registry_new(&c, &r, err, sizeof(err)), GS_OK);
    return r;
}

static void test_fetch_and_cache(void **state)
{
    server_t *s = *state;
    gs_registry_t *r = client(s, 2, 2000, 30000, NULL);
    gs_avro_schema_t *a, *b;
    char err[256];
    assert_int_equal(gs_registry_schema(r, 1, &a, err, sizeof(err)), GS_OK);
    assert_string_equal(avro_schema_name(gs_avro_schema_get(a)), "DialogueRequest");
    assert_int_equal(gs_registry_schema(r, 1, &b, err, sizeof(err)), GS_OK);
    assert_ptr_equal(a, b);
    assert_int_equal(s->hits[1], 1); /* ids are immutable: never refetched */
    gs_registry_stats_t st = gs_registry_stats(r);
    assert_int_equal(st.lookups, 2);
    assert_int_equal(st.cache_hits, 1);
    assert_string_equal(s->last_auth, "");
    gs_registry_destroy(r);
}

static void test_unknown_id_negative_cache(void **state)
{
    server_t *s = *state;
    gs_registry_t *r = client(s, 2, 2000, 150, NULL);
    gs_avro_schema_t *a;
    char err[256];
    assert_int_equal(gs_registry_schema(r, 9, &a, err, sizeof(err)), GS_ERR_SCHEMA);
    assert_non_null(strstr(err, "schema id 9 is unknown to the registry (40403"));
    assert_int_equal(gs_registry_schema(r, 9, &a, err, sizeof(err)), GS_ERR_SCHEMA);
    assert_int_equal(s->hits[9], 1); /* remembered */
    usleep(200000);
    assert_int_equal(gs_registry_schema(r, 9, &a, err, sizeof(err)), GS_ERR_SCHEMA);
    assert_int_equal(s->hits[9], 2); /* expired, asked again */
    gs_registry_destroy(r);
}

static void test_retry_then_success(void **state)
{
    server_t *s = *state;
    s->flaky_left = 2;
    gs_registry_t *r = client(s, 2, 2000, 0, NULL);
    gs_avro_schema_t *a;
    char err[256];
    assert_int_equal(gs_registry_schema(r, 3, &a, err, sizeof(err)), GS_OK);
    assert_int_equal(s->hits[3], 3);
    gs_registry_destroy(r);
}

static void test_5xx_is_transport_and_not_cached(void **state)
{
    server_t *s = *state;
    gs_registry_t *r = client(s, 1, 2000, 30000, NULL);
    gs_avro_schema_t *a;
    char err[256];
    assert_int_equal(gs_registry_schema(r, 4, &a, err, sizeof(err)), GS_ERR_TRANSPORT);
    assert_non_null(strstr(err, "HTTP 500 after 2 attempt(s)"));
    assert_int_equal(s->hits[4], 2);
    assert_int_equal(gs_registry_schema(r, 4, &a, err, sizeof(err)), GS_ERR_TRANSPORT);
    assert_int_equal(s->hits[4], 4); /* infrastructure errors are not remembered */
    gs_registry_destroy(r);
}

static void test_timeout_is_transport(void **state)
{
    server_t *s = *state;
    gs_registry_t *r = client(s, 0, 200, 0, NULL);
    gs_avro_schema_t *a;
    char err[256];
    int64_t t0 = gs_now_us();
    assert_int_equal(gs_registry_schema(r, 5, &a, err, sizeof(err)), GS_ERR_TRANSPORT);
    int64_t took_ms = (gs_now_us() - t0) / 1000;
    assert_true(took_ms < 700); /* bounded by timeout_ms, not by the server */
    assert_non_null(strstr(err, "imeout"));
    gs_registry_destroy(r);
}

static void test_not_avro(void **state)
{
    server_t *s = *state;
    gs_registry_t *r = client(s, 0, 2000, 30000, NULL);
    gs_avro_schema_t *a;
    char err[256];
    assert_int_equal(gs_registry_schema(r, 6, &a, err, sizeof(err)), GS_ERR_SCHEMA);
    assert_non_null(strstr(err, "PROTOBUF"));
    assert_int_equal(gs_registry_schema(r, 7, &a, err, sizeof(err)), GS_ERR_SCHEMA);
    assert_non_null(strstr(err, "schema id 7"));
    gs_registry_destroy(r);
}

static void test_register_and_auth(void **state)
{
    server_t *s = *state;
    gs_registry_t *r = client(s, 0, 2000, 0, "svc");
    int32_t id = 0;
    char err[256];
    assert_int_equal(
        gs_registry_register(r, "t-value", gs_schema_text("DeadLetter"), &id, err, sizeof(err)),
        GS_OK);
    assert_int_equal(id, 11);
    json_t *body = json_loads(s->last_post, 0, NULL);
    assert_non_null(body); /* {"schema": "<the schema as a JSON string>"} */
    assert_string_equal(json_string_value(json_object_get(body, "schema")),
                        gs_schema_text("DeadLetter"));
    json_decref(body);
    assert_int_equal(gs_registry_register(r, "other-value", "{}", &id, err, sizeof(err)),
                     GS_ERR_SCHEMA);
    assert_non_null(strstr(err, "HTTP 409"));
    gs_avro_schema_t *a;
    assert_int_equal(gs_registry_schema(r, 1, &a, err, sizeof(err)), GS_OK);
    assert_string_equal(s->last_auth, "Basic c3ZjOnMzY3JldA=="); /* svc:s3cret */
    gs_registry_destroy(r);
}

static void test_unreachable(void **state)
{
    (void)state;
    gs_registry_conf_t c = {"http://127.0.0.1:1", NULL, NULL, NULL, 500, 1000, 1, 10, 20, 0};
    gs_registry_t *r;
    gs_avro_schema_t *a;
    char err[256];
    assert_int_equal(gs_registry_new(&c, &r, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_registry_schema(r, 1, &a, err, sizeof(err)), GS_ERR_TRANSPORT);
    assert_int_equal(gs_registry_stats(r).http_requests, 2);
    gs_registry_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fetch_and_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_id_negative_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_then_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_5xx_is_transport_and_not_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_is_transport, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_avro, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_and_auth, setup, teardown),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
