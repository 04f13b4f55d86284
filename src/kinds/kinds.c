/* The kinds this build serves, and what every kind shares. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "govstream/dialogue.h"
#include "govstream/intent.h"
#include "govstream/kind_load.h"
#include "govstream/kinds.h"
#include "govstream/screen.h"
#include "govstream/timbre.h"

const gs_kind_ops_t *const gs_kinds[] = {
    &gs_kind_dialogue, &gs_kind_screen, &gs_kind_intent, &gs_kind_timbre, NULL,
};

const gs_kind_ops_t *gs_kinds_find(const gs_kind_ops_t *const *kinds, const char *name)
{
    for (size_t i = 0; kinds[i]; i++)
        if (!strcmp(kinds[i]->name, name))
            return kinds[i];
    return NULL;
}

size_t gs_kinds_count(const gs_kind_ops_t *const *kinds)
{
    size_t n = 0;
    while (kinds[n])
        n++;
    return n;
}

void gs_kinds_sections(const gs_kind_ops_t *const *kinds, const gs_config_section_t **out,
                       size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; kinds[i] && n + 1 < cap; i++)
        out[n++] = kinds[i]->config;
    out[n] = NULL;
}

gs_err_t gs_kind_check_stream(const gs_config_t *cfg, const gs_config_kind_t *stream, char *errstr,
                              size_t n)
{
    int confluent = stream->enabled && (stream->input_framing == GS_FRAMING_CONFLUENT ||
                                        stream->output_framing == GS_FRAMING_CONFLUENT);
    if (confluent && (!cfg->registry.url || !*cfg->registry.url))
        return gs_fail(errstr, n, GS_ERR_CONFIG,
                       "%s: registry.url: required because a topic uses confluent framing",
                       *cfg->path ? cfg->path : "defaults");
    return GS_OK;
}

gs_err_t gs_kind_check_id(const char *field, gs_str_t s, char *errstr, size_t n)
{
    if (s.len < 1 || s.len > GS_KIND_MAX_ID)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "%s: length %zu, must be 1..%d bytes", field,
                       s.len, GS_KIND_MAX_ID);
    if (memchr(s.p, '\0', s.len) || !gs_utf8_valid(s.p, s.len))
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "%s: not valid UTF-8 text", field);
    return GS_OK;
}

gs_str_t gs_kind_printf(gs_arena_t *a, const char *fmt, ...)
{
    char *p = gs_arena_alloc(a, 400);
    if (!p)
        return (gs_str_t){"", 0};
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(p, 400, fmt, ap);
    va_end(ap);
    return (gs_str_t){p, len < 0 ? 0 : len >= 400 ? 399 : (size_t)len};
}

void gs_kind_json_str(json_t *j, const char *field, gs_str_t *dst)
{
    json_t *v = json_object_get(j, field);
    if (json_is_string(v))
        *dst = (gs_str_t){json_string_value(v), json_string_length(v)};
}

static json_t *str_json(gs_str_t s)
{
    return json_stringn(s.p, s.len);
}

void gs_kind_dump_envelope(json_t *j, const gs_avro_model_ref_t *model, const gs_avro_timings_t *t,
                           const gs_avro_source_t *src, int64_t processed_at_ms)
{
    json_object_set_new(j, "model",
                        json_pack("{s:o,s:o,s:o}", "name", str_json(model->name), "version",
                                  str_json(model->version), "sha256", str_json(model->sha256)));
    json_object_set_new(j, "timings",
                        json_pack("{s:I,s:I,s:I,s:I}", "decode_us", (json_int_t)t->decode_us,
                                  "govern_us", (json_int_t)t->govern_us, "infer_us",
                                  (json_int_t)t->infer_us, "total_us", (json_int_t)t->total_us));
    json_object_set_new(j, "source",
                        json_pack("{s:o,s:i,s:I}", "topic", str_json(src->topic), "partition",
                                  (int)src->partition, "offset", (json_int_t)src->offset));
    json_object_set_new(j, "processed_at_ms", json_integer(processed_at_ms));
}

gs_err_t gs_kind_gate_init(gs_kind_gate_t *g, const char *kind, const gs_kind_rate_t *c,
                           char *errstr, size_t n)
{
    *g = (gs_kind_gate_t){0};
    snprintf(g->store_name, sizeof(g->store_name), "%s.rate_limits", kind);
    if (!(c->rate > 0))
        return GS_OK;
    gs_ratelimit_conf_t rc = {
        .rate = c->rate, .burst = c->burst, .max_buckets = (size_t)c->max_buckets};
    return gs_ratelimit_new(&rc, &g->limiter, errstr, n);
}

void gs_kind_gate_free(gs_kind_gate_t *g)
{
    gs_ratelimit_destroy(g->limiter);
    g->limiter = NULL;
}

int gs_kind_gate_pass(gs_kind_gate_t *g, int32_t partition, gs_str_t tenant, int64_t now_ms)
{
    return !g->limiter || gs_ratelimit_take(g->limiter, partition, tenant, now_ms);
}

size_t gs_kind_gate_stores(gs_kind_gate_t *g, const gs_store_t **out)
{
    if (!g->limiter)
        return 0;
    g->store = (gs_store_t){g->store_name, &gs_ratelimit_store_ops, g->limiter};
    *out = &g->store;
    return 1;
}

void gs_kind_copy_str(char *dst, size_t size, gs_str_t s)
{
    size_t n = s.len < size - 1 ? s.len : size - 1;
    memcpy(dst, s.p, n);
    dst[n] = '\0';
}
