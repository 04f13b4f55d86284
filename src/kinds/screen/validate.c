/* SPEC 1.5 request limits (they are also in the schema's docs). */
#include <math.h>
#include <string.h>

#include "govstream/screen.h"

/* Code points of valid UTF-8: the bytes that do not continue a sequence. */
static size_t utf8_chars(gs_str_t s)
{
    size_t n = 0;
    for (size_t i = 0; i < s.len; i++)
        n += ((unsigned char)s.p[i] & 0xC0) != 0x80;
    return n;
}

static gs_err_t check_text(const char *field, gs_str_t s, size_t max_chars, char *errstr, size_t n)
{
    if (!gs_utf8_valid(s.p, s.len) || memchr(s.p, '\0', s.len))
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "%s: not valid UTF-8 text", field);
    size_t chars = utf8_chars(s);
    if (chars > max_chars)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "%s: %zu characters, limit %zu", field, chars,
                       max_chars);
    return GS_OK;
}

static gs_err_t check_currency(gs_str_t c, char *errstr, size_t n)
{
    int ok = c.len == 3;
    for (size_t i = 0; ok && i < 3; i++)
        ok = c.p[i] >= 'A' && c.p[i] <= 'Z';
    return ok ? GS_OK
              : gs_fail(errstr, n, GS_ERR_VALIDATION,
                        "currency: not an ISO 4217 code (three capital letters)");
}

gs_err_t gs_screen_request_validate(const gs_avro_screen_request_t *r, char *errstr, size_t n)
{
    gs_err_t err;
    if ((err = gs_kind_check_id("request_id", r->request_id, errstr, n)) ||
        (err = gs_kind_check_id("account_id", r->account_id, errstr, n)) ||
        (err = gs_kind_check_id("tenant", r->tenant, errstr, n)) ||
        (err = check_text("text", r->text, GS_SCREEN_MAX_TEXT, errstr, n)))
        return err;
    if (r->has_counterparty &&
        (err = check_text("counterparty", r->counterparty, GS_SCREEN_MAX_COUNTERPARTY, errstr, n)))
        return err;
    if (r->has_amount && !(isfinite(r->amount) && r->amount >= 0))
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "amount: %s, must be finite and >= 0",
                       isnan(r->amount) ? "NaN" : "out of range");
    if (r->has_currency && (err = check_currency(r->currency, errstr, n)))
        return err;
    if (r->created_at_ms < 0)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "created_at_ms: negative");
    return GS_OK;
}
