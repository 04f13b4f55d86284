/* The kinds this build serves, and what every kind shares. */
#include <string.h>

#include "govstream/dialogue.h"
#include "govstream/kinds.h"

const gs_kind_ops_t *const gs_kinds[] = {
    &gs_kind_dialogue,
    NULL,
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
