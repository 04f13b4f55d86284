/* Dialogue request/result <-> Avro generic values. Field positions are
 * looked up by name once, at codec creation, from the schema files. */
#include "govstream/dialogue.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    RQ_REQUEST_ID,
    RQ_SESSION_ID,
    RQ_TENANT,
    RQ_OP,
    RQ_TURNS,
    RQ_TOP_K,
    RQ_MAX_TOKENS,
    RQ_MORAL_VALUE,
    RQ_CONTEXT_TOP_K,
    RQ_CREATED_AT_MS,
    RQ__N
};
static const char *const rq_names[RQ__N] = {
    "request_id", "session_id",  "tenant",        "op",           "turns", "top_k",
    "max_tokens", "moral_value", "context_top_k", "created_at_ms"};

enum {
    RS_REQUEST_ID,
    RS_SESSION_ID,
    RS_TENANT,
    RS_ACCEPTED,
    RS_NOTE,
    RS_PHASE,
    RS_STEP,
    RS_MORAL_THRESHOLD,
    RS_MORAL_VALUE,
    RS_CONTEXT_ITEMS,
    RS_PREDICTIONS,
    RS_TEXT,
    RS_MODEL,
    RS_TIMINGS,
    RS_SOURCE,
    RS_WORKER_ID,
    RS_PROCESSED_AT_MS,
    RS__N
};
static const char *const rs_names[RS__N] = {
    "request_id", "session_id",      "tenant",      "accepted",      "note",           "phase",
    "step",       "moral_threshold", "moral_value", "context_items", "predictions",    "text",
    "model",      "timings",         "source",      "worker_id",     "processed_at_ms"};

struct gs_dialogue_codec {
    gs_avro_schema_t *req, *res;
    size_t rq[RQ__N], rs[RS__N];
    avro_value_t res_value; /* reused for every result */
};

gs_err_t gs_dialogue_codec_new(gs_dialogue_codec_t **out, char *errstr, size_t n)
{
    gs_dialogue_codec_t *c = calloc(1, sizeof(*c));
    if (!c)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_err_t err = gs_avro_value_new("DialogueResult", &c->res, &c->res_value, errstr, n);
    if (!err)
        err = gs_avro_schema_load("DialogueRequest", &c->req, errstr, n);
    if (!err)
        err = gs_avro_field_indexes(c->req, rq_names, RQ__N, c->rq, errstr, n);
    if (!err)
        err = gs_avro_field_indexes(c->res, rs_names, RS__N, c->rs, errstr, n);
    if (err) {
        gs_dialogue_codec_destroy(c);
        return err;
    }
    *out = c;
    return GS_OK;
}

void gs_dialogue_codec_destroy(gs_dialogue_codec_t *c)
{
    if (!c)
        return;
    gs_avro_value_free(c->res, &c->res_value);
    gs_avro_schema_destroy(c->req);
    free(c);
}

gs_avro_schema_t *gs_dialogue_request_schema(const gs_dialogue_codec_t *c)
{
    return c->req;
}

gs_avro_schema_t *gs_dialogue_result_schema(const gs_dialogue_codec_t *c)
{
    return c->res;
}

static int get_str(avro_value_t *rec, size_t idx, gs_str_t *out)
{
    avro_value_t f;
    size_t size;
    if (avro_value_get_by_index(rec, idx, &f, NULL) || avro_value_get_string(&f, &out->p, &size))
        return -1;
    out->len = size ? size - 1 : 0; /* avro-c sizes include the NUL */
    return 0;
}

static int get_int(avro_value_t *rec, size_t idx, int32_t *out)
{
    avro_value_t f;
    return avro_value_get_by_index(rec, idx, &f, NULL) || avro_value_get_int(&f, out) ? -1 : 0;
}

gs_err_t gs_dialogue_request_view(const gs_dialogue_codec_t *c, avro_value_t *v,
                                  gs_dialogue_request_t *req, char *errstr, size_t n)
{
    const size_t *ix = c->rq;
    avro_value_t f, item;
    int op = 0;
    memset(req, 0, sizeof(*req));
    if (get_str(v, ix[RQ_REQUEST_ID], &req->request_id) ||
        get_str(v, ix[RQ_SESSION_ID], &req->session_id) ||
        get_str(v, ix[RQ_TENANT], &req->tenant) || get_int(v, ix[RQ_TOP_K], &req->top_k) ||
        get_int(v, ix[RQ_MAX_TOKENS], &req->max_tokens) ||
        get_int(v, ix[RQ_CONTEXT_TOP_K], &req->context_top_k) ||
        avro_value_get_by_index(v, ix[RQ_OP], &f, NULL) || avro_value_get_enum(&f, &op) ||
        avro_value_get_by_index(v, ix[RQ_CREATED_AT_MS], &f, NULL) ||
        avro_value_get_long(&f, &req->created_at_ms))
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "request view: %s", avro_strerror());
    req->op = (gs_dialogue_op_t)op;

    if (avro_value_get_by_index(v, ix[RQ_MORAL_VALUE], &f, NULL) ||
        avro_value_get_discriminant(&f, &op))
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "request view: %s", avro_strerror());
    if (op == 1) { /* ["null","double"] */
        if (avro_value_get_current_branch(&f, &item) ||
            avro_value_get_double(&item, &req->moral_value))
            return gs_fail(errstr, n, GS_ERR_INTERNAL, "request view: %s", avro_strerror());
        req->has_moral_value = 1;
    }

    if (avro_value_get_by_index(v, ix[RQ_TURNS], &f, NULL) ||
        avro_value_get_size(&f, &req->n_turns))
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "request view: %s", avro_strerror());
    for (size_t i = 0; i < req->n_turns && i < GS_DIALOGUE_MAX_TURNS; i++) {
        size_t size;
        if (avro_value_get_by_index(&f, i, &item, NULL) ||
            avro_value_get_string(&item, &req->turns[i].p, &size))
            return gs_fail(errstr, n, GS_ERR_INTERNAL, "request view: %s", avro_strerror());
        req->turns[i].len = size ? size - 1 : 0;
    }
    return GS_OK;
}

static gs_err_t check_id(const char *field, gs_str_t s, char *errstr, size_t n)
{
    if (s.len < 1 || s.len > GS_DIALOGUE_MAX_ID)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "%s: length %zu, must be 1..%d bytes", field,
                       s.len, GS_DIALOGUE_MAX_ID);
    if (memchr(s.p, '\0', s.len) || !gs_utf8_valid(s.p, s.len))
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "%s: not valid UTF-8 text", field);
    return GS_OK;
}

static gs_err_t check_range(const char *field, int32_t v, int32_t lo, int32_t hi, char *errstr,
                            size_t n)
{
    if (v < lo || v > hi)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "%s: %d, must be %d..%d", field, v, lo, hi);
    return GS_OK;
}

gs_err_t gs_dialogue_request_validate(const gs_dialogue_request_t *r, char *errstr, size_t n)
{
    gs_err_t err;
    if ((err = check_id("request_id", r->request_id, errstr, n)) ||
        (err = check_id("session_id", r->session_id, errstr, n)) ||
        (err = check_id("tenant", r->tenant, errstr, n)) ||
        (err = check_range("top_k", r->top_k, 1, 20, errstr, n)) ||
        (err = check_range("max_tokens", r->max_tokens, 1, 256, errstr, n)) ||
        (err = check_range("context_top_k", r->context_top_k, 1, 20, errstr, n)))
        return err;
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
    if (r->has_moral_value && !(r->moral_value >= 0.0 && r->moral_value <= 1.0))
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "moral_value: %s, must be in [0,1]",
                       isnan(r->moral_value) ? "NaN" : "out of range");
    if (r->created_at_ms < 0)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "created_at_ms: negative");
    return GS_OK;
}

/* ---- encoding ---------------------------------------------------------- */

/* avro-c copies len + 1 bytes and expects the last to be NUL; a view need
 * not be terminated, so copy it (on the stack for the usual short ids). */
static int set_gstr(avro_value_t *v, gs_str_t s)
{
    char small[256];
    char *tmp = s.len < sizeof(small) ? small : malloc(s.len + 1);
    if (!tmp)
        return -1;
    if (s.len)
        memcpy(tmp, s.p, s.len);
    tmp[s.len] = '\0';
    int rc = avro_value_set_string_len(v, tmp, s.len + 1);
    if (tmp != small)
        free(tmp);
    return rc;
}

#define FIELD(rec, i) (avro_value_get_by_index((rec), (i), &f, NULL) ? -1 : 0)

gs_err_t gs_dialogue_result_encode(gs_dialogue_codec_t *c, const gs_dialogue_result_t *r,
                                   int32_t schema_id, gs_buf_t *out, char *errstr, size_t n)
{
    avro_value_t *v = &c->res_value, f, sub, item;
    const size_t *ix = c->rs;
    int rc = 0;
    avro_value_reset(v);
    rc |= FIELD(v, ix[RS_REQUEST_ID]) || set_gstr(&f, r->request_id);
    rc |= FIELD(v, ix[RS_SESSION_ID]) || set_gstr(&f, r->session_id);
    rc |= FIELD(v, ix[RS_TENANT]) || set_gstr(&f, r->tenant);
    rc |= FIELD(v, ix[RS_ACCEPTED]) || avro_value_set_boolean(&f, r->accepted);
    rc |= FIELD(v, ix[RS_NOTE]) || gs_avro_set_cstr(&f, r->note);
    rc |= FIELD(v, ix[RS_PHASE]) || avro_value_set_enum(&f, (int)r->phase);
    rc |= FIELD(v, ix[RS_STEP]) || avro_value_set_long(&f, r->step);
    rc |= FIELD(v, ix[RS_MORAL_THRESHOLD]) || avro_value_set_double(&f, r->moral_threshold);
    rc |= FIELD(v, ix[RS_MORAL_VALUE]) || avro_value_set_double(&f, r->moral_value);
    rc |= FIELD(v, ix[RS_CONTEXT_ITEMS]) || avro_value_set_int(&f, r->context_items);
    rc |= FIELD(v, ix[RS_PREDICTIONS]);
    for (size_t i = 0; !rc && i < r->n_predictions; i++) {
        if ((rc = avro_value_append(&f, &item, NULL)) != 0)
            break;
        rc |= avro_value_get_by_index(&item, 0, &sub, NULL) ||
              gs_avro_set_cstr(&sub, r->predictions[i].token);
        rc |= avro_value_get_by_index(&item, 1, &sub, NULL) ||
              avro_value_set_double(&sub, r->predictions[i].probability);
    }
    rc |= FIELD(v, ix[RS_TEXT]);
    if (!rc && r->text)
        rc |= avro_value_set_branch(&f, 1, &sub) || gs_avro_set_cstr(&sub, r->text);
    else if (!rc)
        rc |= avro_value_set_branch(&f, 0, &sub) || avro_value_set_null(&sub);
    rc |= FIELD(v, ix[RS_MODEL]);
    const char *model[3] = {r->model.name, r->model.version, r->model.sha256};
    for (size_t i = 0; !rc && i < 3; i++)
        rc |= avro_value_get_by_index(&f, i, &sub, NULL) || gs_avro_set_cstr(&sub, model[i]);
    rc |= FIELD(v, ix[RS_TIMINGS]);
    const int64_t t[4] = {r->timings.decode_us, r->timings.govern_us, r->timings.infer_us,
                          r->timings.total_us};
    for (size_t i = 0; !rc && i < 4; i++)
        rc |= avro_value_get_by_index(&f, i, &sub, NULL) || avro_value_set_long(&sub, t[i]);
    rc |= FIELD(v, ix[RS_SOURCE]);
    if (!rc) {
        rc |= avro_value_get_by_index(&f, 0, &sub, NULL) || gs_avro_set_cstr(&sub, r->source.topic);
        rc |= avro_value_get_by_index(&f, 1, &sub, NULL) ||
              avro_value_set_int(&sub, r->source.partition);
        rc |= avro_value_get_by_index(&f, 2, &sub, NULL) ||
              avro_value_set_long(&sub, r->source.offset);
    }
    rc |= FIELD(v, ix[RS_WORKER_ID]) || gs_avro_set_cstr(&f, r->worker_id);
    rc |= FIELD(v, ix[RS_PROCESSED_AT_MS]) || avro_value_set_long(&f, r->processed_at_ms);
    if (rc)
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "result encode: %s", avro_strerror());
    return gs_avro_encode(v, schema_id, out, errstr, n);
}

gs_err_t gs_dialogue_request_encode(const gs_dialogue_request_t *r, const gs_avro_schema_t *writer,
                                    int32_t schema_id, gs_buf_t *out, char *errstr, size_t n)
{
    avro_value_t v, f, sub;
    if (avro_generic_value_new(gs_avro_schema_iface(writer), &v))
        return gs_fail(errstr, n, GS_ERR_NOMEM, "%s", avro_strerror());
    gs_err_t err = gs_avro_set_defaults(&v, writer, errstr, n);
    int rc = 0;
#define BYNAME(name) (avro_value_get_by_name(&v, (name), &f, NULL) == 0)
    if (!err) {
        if (BYNAME("request_id"))
            rc |= set_gstr(&f, r->request_id);
        if (BYNAME("session_id"))
            rc |= set_gstr(&f, r->session_id);
        if (BYNAME("tenant"))
            rc |= set_gstr(&f, r->tenant);
        if (BYNAME("op"))
            rc |= avro_value_set_enum(&f, (int)r->op);
        if (BYNAME("turns")) {
            avro_value_reset(&f);
            for (size_t i = 0; !rc && i < r->n_turns && i < GS_DIALOGUE_MAX_TURNS; i++)
                rc |= avro_value_append(&f, &sub, NULL) || set_gstr(&sub, r->turns[i]);
        }
        if (BYNAME("top_k"))
            rc |= avro_value_set_int(&f, r->top_k);
        if (BYNAME("max_tokens"))
            rc |= avro_value_set_int(&f, r->max_tokens);
        if (BYNAME("context_top_k"))
            rc |= avro_value_set_int(&f, r->context_top_k);
        if (BYNAME("moral_value")) {
            if (r->has_moral_value)
                rc |= avro_value_set_branch(&f, 1, &sub) ||
                      avro_value_set_double(&sub, r->moral_value);
            else
                rc |= avro_value_set_branch(&f, 0, &sub) || avro_value_set_null(&sub);
        }
        if (BYNAME("created_at_ms"))
            rc |= avro_value_set_long(&f, r->created_at_ms);
        if (rc)
            err = gs_fail(errstr, n, GS_ERR_INTERNAL, "request encode: %s", avro_strerror());
    }
#undef BYNAME
    if (!err)
        err = gs_avro_encode(&v, schema_id, out, errstr, n);
    avro_value_decref(&v);
    return err;
}
