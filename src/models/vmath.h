/* Float exp, log and sin for the models' hot loops (private to src/models).
 *
 * libm's expf/sinf/logf are calls that stop loops from vectorizing; these
 * are branch-free polynomials in plain float operations, so loops over them
 * vectorize, and since ISO C mode does not contract a*b+c into FMA, every
 * CPU and every vector width computes the same bits: reservoir states and
 * link terms are the same in training and serving, batched or not. (The
 * readout's SGEMM may round differently on another CPU type.)
 *
 * Accuracy (float): exp within 2 ulp on [-87, 88] (clamped outside), log
 * within 2 ulp for normal positive x, sin within 1e-7 absolute for
 * |x| <= 8192 (Cody-Waite reduction by pi; |x| is clamped to 1e5, where
 * the reservoir never goes: its states are bounded by the amplitude). */
#ifndef GS_MODELS_VMATH_H
#define GS_MODELS_VMATH_H

#include <stdint.h>
#include <string.h>

/* Round to nearest (even) for |x| < 2^22: adding 1.5 * 2^23 leaves no
 * fraction bits. */
static inline float gs_vm_round(float x)
{
    const float magic = 12582912.0f;
    return (x + magic) - magic;
}

static inline float gs_vm_exp(float x)
{
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    const float n = gs_vm_round(x * 1.44269504088896341f);
    float r = x - n * 0.693359375f; /* ln 2 in two parts: the first is exact times n */
    r = r - n * -2.12194440e-4f;
    float p = 1.98412698e-4f; /* Taylor to r^7 on |r| <= ln2 / 2 */
    p = p * r + 1.38888889e-3f;
    p = p * r + 8.33333333e-3f;
    p = p * r + 4.16666667e-2f;
    p = p * r + 1.66666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const uint32_t bits = (uint32_t)((int32_t)n + 127) << 23; /* 2^n */
    float scale;
    memcpy(&scale, &bits, sizeof(scale));
    return p * scale;
}

static inline float gs_vm_log(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof(bits));
    /* x = 2^e m with m in [sqrt(1/2), sqrt(2)) */
    const int32_t e = (int32_t)(bits - 0x3f3504f3u) >> 23;
    bits -= (uint32_t)e << 23;
    float m;
    memcpy(&m, &bits, sizeof(m));
    /* log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172 */
    const float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
    float p = 1.0f / 11;
    p = p * s2 + 1.0f / 9;
    p = p * s2 + 1.0f / 7;
    p = p * s2 + 1.0f / 5;
    p = p * s2 + 1.0f / 3;
    p = p * s2 + 1.0f;
    const float fe = (float)e;
    return fe * 0.693359375f + (2.0f * s * p + fe * -2.12194440e-4f);
}

static inline float gs_vm_sin(float x)
{
    x = x < -1e5f ? -1e5f : x > 1e5f ? 1e5f : x;
    const float k = gs_vm_round(x * 0.318309886183790672f);
    float r = x - k * 3.140625f; /* pi in three parts (Cody-Waite) */
    r = r - k * 9.67502593994140625e-4f;
    r = r - k * 1.509957990978376432e-7f;
    const float r2 = r * r;
    float p = -2.50521084e-8f; /* Taylor to r^11 on |r| <= pi / 2 */
    p = p * r2 + 2.75573192e-6f;
    p = p * r2 - 1.98412698e-4f;
    p = p * r2 + 8.33333333e-3f;
    p = p * r2 - 1.66666667e-1f;
    float s = r + r * r2 * p;
    uint32_t bits; /* sin(r + k pi) = (-1)^k sin r */
    memcpy(&bits, &s, sizeof(bits));
    bits ^= ((uint32_t)(int32_t)k & 1u) << 31;
    memcpy(&s, &bits, sizeof(s));
    return s;
}

#endif
