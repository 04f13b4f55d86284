/* Resampling to the features' 22,050 Hz (features.h), as librosa 0.11's
 * default: libsoxr HQ (librosa calls python-soxr, which wraps the same
 * library), then the length librosa fixes. libsoxr is LGPL-2.1+, linked
 * dynamically from Debian's package (docs/LICENSES.md). */
#include "features.h"

#include <math.h>
#include <soxr.h>
#include <string.h>

size_t gs_timbre_resampled_len(size_t n, int rate)
{
    /* librosa: int(np.ceil(n * (float(target_sr) / orig_sr))) */
    return (size_t)ceil((double)n * ((double)GS_TIMBRE_SR / rate));
}

gs_err_t gs_timbre_resample(const float *in, size_t n, int rate, float *out, char *errstr,
                            size_t errstr_size)
{
    if (rate < GS_TIMBRE_RATE_MIN || rate > GS_TIMBRE_RATE_MAX)
        return gs_fail(errstr, errstr_size, GS_ERR_INVALID_ARG,
                       "timbre: sample rate %d outside %d..%d", rate, GS_TIMBRE_RATE_MIN,
                       GS_TIMBRE_RATE_MAX);
    size_t len = gs_timbre_resampled_len(n, rate), done = 0;
    if (rate == GS_TIMBRE_SR) {
        memcpy(out, in, n * sizeof(float));
        return GS_OK;
    }
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    soxr_runtime_spec_t rt = soxr_runtime_spec(1); /* one thread: the worker's */
    soxr_error_t e =
        soxr_oneshot(rate, GS_TIMBRE_SR, 1, in, n, NULL, out, len, &done, &io, &q, &rt);
    if (e)
        return gs_fail(errstr, errstr_size, GS_ERR_INTERNAL, "timbre: libsoxr: %s", e);
    if (done < len) /* librosa's fix_length pads with zeros */
        memset(out + done, 0, (len - done) * sizeof(float));
    return GS_OK;
}
