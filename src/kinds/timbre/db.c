/* 10 log10(max(x, 1e-10)) over an array (features.h): librosa's
 * power_to_db before its floor. Alone in its file because it is compiled
 * with -ffast-math, the only way GCC calls glibc's vector log10 (libmvec,
 * within 4 ulp; measured against the scalar log10 on 55,000 mel values:
 * 3.4e-16 relative) -- and nothing else may be reassociated. */
#include <math.h>

#include "features.h"

GS_CLONES void gs_timbre_power_db(double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 10.0 * log10(x[i] > 1e-10 ? x[i] : 1e-10);
}
