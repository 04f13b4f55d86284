/* SPEC 1.1 request limits (they are also in the schema's docs). */
#include <math.h>
#include <string.h>

#include "govstream/dialogue.h"

static gs_err_t check_range(const char *field, int32_t v, int32_t lo, int32_t hi, char *errstr,
                            size_t n)
{
    if (v < lo || v > hi)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "%s: %d, must be %d..%d", field, v, lo, hi);
    return GS_OK;
}

static gs_err_t check_turns(const gs_avro_dialogue_request_t *r, char *errstr, size_t n)
{
    if (r->n_turns < 1 || r->n_turns > GS_DIALOGUE_MAX_TURNS)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "turns: %zu turns, must be 1..%d", r->n_turns,
                       GS_DIALOGUE_MAX_TURNS);
    size_t total = 0;
    for (size_t i = 0; i < r->n_turns; i++) {
        total += r->turns[i].len;
        if (!gs_utf8_valid(r->turns[i].p, r->turns[i].len) ||
            memchr(r->turns[i].p, '\0', r->turns[i].len))
            return gs_fail(errstr, n, GS_ERR_VALIDATION, "turns[%zu]: not valid UTF-8 text", i);
    }
    if (total > GS_DIALOGUE_MAX_TEXT)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "turns: %zu bytes in total, limit %d", total,
                       GS_DIALOGUE_MAX_TEXT);
    return GS_OK;
}

gs_err_t gs_dialogue_request_validate(const gs_avro_dialogue_request_t *r, char *errstr, size_t n)
{
    gs_err_t err;
    if ((err = gs_kind_check_id("request_id", r->request_id, errstr, n)) ||
        (err = gs_kind_check_id("session_id", r->session_id, errstr, n)) ||
        (err = gs_kind_check_id("tenant", r->tenant, errstr, n)) ||
        (err = check_range("top_k", r->top_k, 1, 20, errstr, n)) ||
        (err = check_range("max_tokens", r->max_tokens, 1, 256, errstr, n)) ||
        (err = check_range("context_top_k", r->context_top_k, 1, 20, errstr, n)) ||
        (err = check_turns(r, errstr, n)))
        return err;
    if (r->has_moral_value && !(r->moral_value >= 0.0 && r->moral_value <= 1.0))
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "moral_value: %s, must be in [0,1]",
                       isnan(r->moral_value) ? "NaN" : "out of range");
    if (r->created_at_ms < 0)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "created_at_ms: negative");
    return GS_OK;
}
