/* govstream - the dialogue kind's request and result (SPEC 1.1) as C views,
 * their validation, and their Avro mapping.
 *
 * A request view points into the decoded Avro value it came from and is
 * valid until that value is decoded into again. */
#ifndef GOVSTREAM_DIALOGUE_H
#define GOVSTREAM_DIALOGUE_H

#include "govstream/codec.h"

#define GS_DIALOGUE_MAX_TURNS 64
#define GS_DIALOGUE_MAX_TEXT  10000 /* bytes over all turns */
#define GS_DIALOGUE_MAX_ID    128

typedef enum { GS_OP_NEXT_TOKEN = 0, GS_OP_TOP_K = 1, GS_OP_GENERATE = 2 } gs_dialogue_op_t;

typedef struct gs_dialogue_request {
    gs_str_t request_id, session_id, tenant;
    gs_dialogue_op_t op;
    gs_str_t turns[GS_DIALOGUE_MAX_TURNS];
    size_t n_turns; /* as sent; only the first GS_DIALOGUE_MAX_TURNS are viewed */
    int32_t top_k, max_tokens, context_top_k;
    int has_moral_value;
    double moral_value;
    int64_t created_at_ms;
} gs_dialogue_request_t;

typedef struct gs_prediction {
    const char *token;
    double probability;
} gs_prediction_t;

typedef struct gs_dialogue_result {
    gs_str_t request_id, session_id, tenant;
    int accepted;
    const char *note;
    gs_phase_t phase;
    int64_t step;
    double moral_threshold, moral_value;
    int32_t context_items;
    const gs_prediction_t *predictions;
    size_t n_predictions;
    const char *text; /* NULL: null */
    struct {
        const char *name, *version, *sha256;
    } model;
    struct {
        int64_t decode_us, govern_us, infer_us, total_us;
    } timings;
    struct {
        const char *topic;
        int32_t partition;
        int64_t offset;
    } source;
    const char *worker_id;
    int64_t processed_at_ms;
} gs_dialogue_result_t;

typedef struct gs_dialogue_codec gs_dialogue_codec_t;

gs_err_t gs_dialogue_codec_new(gs_dialogue_codec_t **out, char *errstr, size_t errstr_size);
void gs_dialogue_codec_destroy(gs_dialogue_codec_t *c);

/* Our reader schemas (DialogueRequest, DialogueResult). */
gs_avro_schema_t *gs_dialogue_request_schema(const gs_dialogue_codec_t *c);
gs_avro_schema_t *gs_dialogue_result_schema(const gs_dialogue_codec_t *c);

/* Fills a view of a decoded DialogueRequest value. */
gs_err_t gs_dialogue_request_view(const gs_dialogue_codec_t *c, avro_value_t *v,
                                  gs_dialogue_request_t *req, char *errstr, size_t errstr_size);

/* SPEC 1.1 limits: GS_ERR_VALIDATION naming the field and the limit. */
gs_err_t gs_dialogue_request_validate(const gs_dialogue_request_t *req, char *errstr,
                                      size_t errstr_size);

/* Encodes a result (Confluent header when schema_id >= 0). */
gs_err_t gs_dialogue_result_encode(gs_dialogue_codec_t *c, const gs_dialogue_result_t *res,
                                   int32_t schema_id, gs_buf_t *out, char *errstr,
                                   size_t errstr_size);

/* Encodes a request with any writer schema that has our field names:
 * fields the writer lacks are skipped, extra writer fields get their
 * defaults. Used by the load generator and tests. */
gs_err_t gs_dialogue_request_encode(const gs_dialogue_request_t *req,
                                    const gs_avro_schema_t *writer, int32_t schema_id,
                                    gs_buf_t *out, char *errstr, size_t errstr_size);

#endif
