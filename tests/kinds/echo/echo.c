/* A test-only request kind: it echoes a text `times` times. It exists to
 * show that a kind is one folder (this one, with its schemas/) and one
 * line in a table (tests/kinds/main.c): the worker, the configuration,
 * check-config, the metrics, govstream-load and the docs serve it without
 * a line of theirs naming it. Not part of the product. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "echo.h"
#include "govstream/echo_schemas.h"

#define ECHO_MAX_TEXT  1000
#define ECHO_MAX_TIMES 10

typedef struct echo_conf {
    gs_config_kind_t stream; /* first: the worker reads it */
    char *separator;
} echo_conf_t;

struct gs_kind {
    const echo_conf_t *conf;
};

static gs_err_t validate(const gs_avro_echo_request_t *r, char *errstr, size_t n)
{
    gs_err_t err;
    if ((err = gs_kind_check_id("request_id", r->request_id, errstr, n)) ||
        (err = gs_kind_check_id("echo_id", r->echo_id, errstr, n)) ||
        (err = gs_kind_check_id("tenant", r->tenant, errstr, n)))
        return err;
    if (r->text.len > ECHO_MAX_TEXT || !gs_utf8_valid(r->text.p, r->text.len))
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "text: %zu bytes, must be UTF-8 of <= %d",
                       r->text.len, ECHO_MAX_TEXT);
    if (r->times < 1 || r->times > ECHO_MAX_TIMES)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "times: %d, must be 1..%d", r->times,
                       ECHO_MAX_TIMES);
    return GS_OK;
}

static void echo_one(const gs_kind_t *k, gs_item_t *it, gs_arena_t *arena)
{
    const gs_avro_echo_request_t *r = it->request;
    gs_avro_echo_result_t *res = it->result;
    if ((it->err = validate(r, it->errmsg, sizeof(it->errmsg))))
        return;
    size_t sep = strlen(k->conf->separator), len = (size_t)r->times * (r->text.len + sep) - sep;
    char *out = gs_arena_alloc(arena, len + 1);
    if (!out) {
        it->err = gs_fail(it->errmsg, sizeof(it->errmsg), GS_ERR_INTERNAL, "out of memory");
        return;
    }
    for (int32_t i = 0, at = 0; i < r->times; i++) {
        if (i)
            memcpy(out + at, k->conf->separator, sep), at += (int32_t)sep;
        memcpy(out + at, r->text.p, r->text.len), at += (int32_t)r->text.len;
    }
    *res = (gs_avro_echo_result_t){
        .accepted = true,
        .note = gs_avro_cstr("echoed"),
        .model = {gs_avro_cstr(""), gs_avro_cstr(""), gs_avro_cstr("")},
        .text = {out, len},
        .length = (int64_t)len,
    };
    it->accepted = true;
}

static void process(gs_kind_t *k, const gs_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        echo_one(k, b->items[i], b->arena);
}

static gs_err_t create(const gs_config_t *cfg, const void *conf, gs_kind_t **out, char *errstr,
                       size_t n)
{
    (void)cfg;
    gs_kind_t *k = calloc(1, sizeof(*k));
    if (!k)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    k->conf = conf;
    *out = k;
    return GS_OK;
}

static void destroy(gs_kind_t *k)
{
    free(k);
}

static gs_err_t check(const gs_config_t *cfg, const void *conf, char *errstr, size_t n)
{
    const echo_conf_t *c = conf;
    gs_err_t err = gs_kind_check_stream(cfg, &c->stream, errstr, n);
    if (!err && strlen(c->separator) > 8)
        err = gs_fail(errstr, n, GS_ERR_CONFIG, "%s: echo.separator: at most 8 bytes",
                      *cfg->path ? cfg->path : "defaults");
    return err;
}

/* ---- govstream-load ------------------------------------------------------ */

static gs_str_t arena_str(gs_arena_t *a, const char *prefix, long n)
{
    char *p = gs_arena_alloc(a, 200);
    int len = p ? snprintf(p, 200, "%s%ld", prefix, n) : 0;
    return (gs_str_t){p ? p : "", len > 0 ? (size_t)len : 0};
}

static void generate(const gs_load_params_t *p, long i, gs_rng_t *rng, void *request, gs_arena_t *a)
{
    static const char *const words[] = {"ping", "hello", "echo", "govstream"};
    gs_avro_echo_request_t *r = request;
    char prefix[160];
    *r = (gs_avro_echo_request_t){.created_at_ms = (int64_t)time(NULL) * 1000};
    snprintf(prefix, sizeof(prefix), "%s-", p->run_id);
    r->request_id = arena_str(a, prefix, i);
    snprintf(prefix, sizeof(prefix), "%s-e", p->run_id);
    r->echo_id = arena_str(a, prefix, (long)(gs_rng_next(rng) % (uint64_t)p->keys));
    r->tenant = arena_str(a, "tenant-", (long)(gs_rng_next(rng) % (uint64_t)p->tenants));
    r->text = gs_avro_cstr(words[gs_rng_next(rng) % 4]);
    r->times = 1 + (int32_t)(gs_rng_next(rng) % 3);
}

static gs_err_t from_json(json_t *j, void *request, gs_arena_t *a, char *errstr, size_t n)
{
    gs_avro_echo_request_t *r = request;
    const char *f[4] = {"request_id", "echo_id", "tenant", "text"};
    gs_str_t *dst[4] = {&r->request_id, &r->echo_id, &r->tenant, &r->text};
    gs_err_t err = gs_avro_set_defaults_node(gs_avro_type_echo_request.node, r, a, errstr, n);
    if (err)
        return err;
    r->created_at_ms = (int64_t)time(NULL) * 1000;
    for (int i = 0; i < 4; i++) {
        json_t *v = json_object_get(j, f[i]);
        if (json_is_string(v))
            *dst[i] = (gs_str_t){json_string_value(v), json_string_length(v)};
        else if (i != 2)
            return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "%s: a string is required", f[i]);
    }
    json_t *t = json_object_get(j, "times");
    if (json_is_integer(t))
        r->times = (int32_t)json_integer_value(t);
    return GS_OK;
}

static void invalidate(void *request)
{
    ((gs_avro_echo_request_t *)request)->times = 0;
}

static json_t *dump(const void *result)
{
    const gs_avro_echo_result_t *r = result;
    return json_pack("{s:s%,s:s%,s:s%,s:b,s:s%,s:s%,s:I,s:s%}", "request_id", r->request_id.p,
                     r->request_id.len, "echo_id", r->echo_id.p, r->echo_id.len, "tenant",
                     r->tenant.p, r->tenant.len, "accepted", r->accepted, "note", r->note.p,
                     r->note.len, "text", r->text.p, r->text.len, "length", (json_int_t)r->length,
                     "worker_id", r->worker_id.p, r->worker_id.len);
}

static const gs_kind_load_t load = {
    .generate = generate,
    .from_json = from_json,
    .invalidate = invalidate,
    .dump = dump,
};

/* ---- the table entry ------------------------------------------------------ */

static const gs_config_key_t keys[] = {
    GS_KIND_STREAM_KEYS("echo", echo_conf_t, "false"),
    GS_CONFIG_STR("echo.separator", echo_conf_t, separator, " ",
                  "what joins the copies of the text (at most 8 bytes)"),
};

static const gs_config_section_t section = {
    .name = "echo",
    .doc = "A test-only kind (tests/kinds/echo/): `EchoRequest` in, `EchoResult` out.",
    .keys = keys,
    .n_keys = sizeof(keys) / sizeof(keys[0]),
    .size = sizeof(echo_conf_t),
    .check = check,
};

const gs_kind_ops_t gs_test_kind_echo = {
    .name = "echo",
    .request = &gs_avro_type_echo_request,
    .result = &gs_avro_type_echo_result,
    .key_field = "echo_id",
    .config = &section,
    .create = create,
    .destroy = destroy,
    .process = process,
    .load = &load,
};
