/* The limits of TimbreRequest's schema doc (SPEC 1.4), each violation
 * naming its field. */
#include "internal.h"

gs_err_t timbre_request_validate(const gs_avro_timbre_request_t *r, char *errstr, size_t n)
{
    gs_err_t err = gs_kind_check_id("request_id", r->request_id, errstr, n);
    if (!err)
        err = gs_kind_check_id("recording_id", r->recording_id, errstr, n);
    if (!err)
        err = gs_kind_check_id("tenant", r->tenant, errstr, n);
    if (err)
        return err;
    if (r->sample_rate < 8000 || r->sample_rate > 48000)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "sample_rate: %d, must be 8000..48000",
                       (int)r->sample_rate);
    if (r->pcm.len % 2)
        return gs_fail(errstr, n, GS_ERR_VALIDATION,
                       "pcm: %zu bytes, must be an even number (16-bit samples)", r->pcm.len);
    size_t samples = r->pcm.len / 2;
    double ms = 1000.0 * (double)samples / r->sample_rate;
    if (ms < TIMBRE_MIN_MS || ms > TIMBRE_MAX_MS)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "pcm: %.0f ms of audio, must be %d..%d ms", ms,
                       TIMBRE_MIN_MS, TIMBRE_MAX_MS);
    if (r->clip_index < 0 || r->clip_index > TIMBRE_MAX_CLIP_IDX)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "clip_index: %d, must be 0..%d",
                       (int)r->clip_index, TIMBRE_MAX_CLIP_IDX);
    if (r->top_k < 1 || r->top_k > GS_TIMBRE_N_FAMILIES)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "top_k: %d, must be 1..%d", (int)r->top_k,
                       GS_TIMBRE_N_FAMILIES);
    return GS_OK;
}
