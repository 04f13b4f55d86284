/* Sparse sine-activated reservoir (SPEC 4). States for a batch are stored
 * unit-major (x[i * B + b]) so the sparse-times-dense product runs over
 * contiguous batch columns. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/model.h"
#include "vmath.h"

void gs_reservoir_conf_default(gs_reservoir_conf_t *c)
{
    *c = (gs_reservoir_conf_t){.units = 512,
                               .input_nnz = 16,
                               .density = 0.1f,
                               .radius = 0.9f,
                               .leak = 0.3f,
                               .amp = 1.0f,
                               .alpha = 0.1f,
                               .omega = 1.0f,
                               .input_scale = 1.0f,
                               .bias_scale = 0.2f,
                               .seed = 42};
}

/* splitmix64: every random number of a reservoir comes from its seed. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float uniform(uint64_t *s) /* [-1, 1) */
{
    return (float)((double)(next(s) >> 11) / 4503599627370496.0 - 1.0);
}

void gs_reservoir_free(gs_reservoir_t *r)
{
    if (r->owned) {
        free(r->row_ptr);
        free(r->col);
        free(r->val);
        free(r->in_row);
        free(r->in_val);
        free(r->bias);
    }
    memset(r, 0, sizeof(*r));
}

double gs_reservoir_radius(const gs_reservoir_t *r, int iterations, uint64_t seed)
{
    uint32_t n = r->conf.units;
    double *v = malloc(n * sizeof(double)), *w = malloc(n * sizeof(double)), acc = 0;
    if (!v || !w) {
        free(v);
        free(w);
        return NAN;
    }
    for (uint32_t i = 0; i < n; i++)
        v[i] = uniform(&seed);
    int counted = 0;
    for (int k = 0; k < iterations; k++) {
        double norm = 0;
        for (uint32_t i = 0; i < n; i++) {
            double s = 0;
            for (uint32_t e = r->row_ptr[i]; e < r->row_ptr[i + 1]; e++)
                s += (double)r->val[e] * v[r->col[e]];
            w[i] = s;
            norm += s * s;
        }
        norm = sqrt(norm);
        if (!(norm > 0))
            break;
        /* the growth rate settles once the dominant eigenvalues dominate;
         * averaging over the second half also smooths complex pairs */
        if (k >= iterations / 2) {
            acc += log(norm);
            counted++;
        }
        for (uint32_t i = 0; i < n; i++)
            v[i] = w[i] / norm;
    }
    free(v);
    free(w);
    return counted ? exp(acc / counted) : 0.0;
}

gs_err_t gs_reservoir_init(gs_reservoir_t *r, const gs_reservoir_conf_t *c, uint32_t vocab,
                           char *errstr, size_t n)
{
    memset(r, 0, sizeof(*r));
    if (!c->units || !(c->density > 0 && c->density <= 1) || !(c->leak > 0 && c->leak <= 1) ||
        !(c->radius > 0) || !c->input_nnz || c->input_nnz > c->units || !vocab)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "bad reservoir configuration");
    r->conf = *c;
    r->vocab = vocab;
    r->owned = 1;
    uint32_t units = c->units;
    uint64_t s = c->seed;
    size_t cap = (size_t)((double)units * units * c->density * 1.2) + units;
    r->row_ptr = malloc((units + 1) * sizeof(uint32_t));
    r->col = malloc(cap * sizeof(uint32_t));
    r->val = malloc(cap * sizeof(float));
    r->in_row = malloc((size_t)vocab * c->input_nnz * sizeof(uint32_t));
    r->in_val = malloc((size_t)vocab * c->input_nnz * sizeof(float));
    r->bias = malloc(units * sizeof(float));
    if (!r->row_ptr || !r->col || !r->val || !r->in_row || !r->in_val || !r->bias) {
        gs_reservoir_free(r);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory for the reservoir");
    }
    /* W: each entry present with probability `density` */
    uint32_t nnz = 0;
    uint64_t threshold = (uint64_t)((double)c->density * 18446744073709551615.0);
    for (uint32_t i = 0; i < units; i++) {
        r->row_ptr[i] = nnz;
        for (uint32_t j = 0; j < units; j++) {
            if (next(&s) > threshold)
                continue;
            if (nnz == cap) {
                size_t ncap = cap * 2;
                if (gs_grow(&r->col, ncap, sizeof(*r->col)) ||
                    gs_grow(&r->val, ncap, sizeof(*r->val))) {
                    gs_reservoir_free(r);
                    return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory for the reservoir");
                }
                cap = ncap;
            }
            r->col[nnz] = j;
            r->val[nnz++] = uniform(&s);
        }
    }
    r->row_ptr[units] = nnz;
    r->nnz = nnz;
    /* W_in: input_nnz distinct rows per token column */
    for (uint32_t t = 0; t < vocab; t++) {
        uint32_t *rows = r->in_row + (size_t)t * c->input_nnz;
        for (uint32_t k = 0; k < c->input_nnz; k++) {
            uint32_t row;
            int dup;
            do {
                row = (uint32_t)(next(&s) % units);
                dup = 0;
                for (uint32_t q = 0; q < k; q++)
                    dup |= rows[q] == row;
            } while (dup);
            rows[k] = row;
            r->in_val[(size_t)t * c->input_nnz + k] = uniform(&s) * c->input_scale;
        }
    }
    for (uint32_t i = 0; i < units; i++)
        r->bias[i] = uniform(&s) * c->bias_scale;
    double rho = gs_reservoir_radius(r, 2000, c->seed ^ 0xA5A5A5A5ull);
    if (!(rho > 0)) {
        gs_reservoir_free(r);
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "reservoir matrix has spectral radius 0");
    }
    float scale = (float)(c->radius / rho);
    for (uint32_t e = 0; e < nnz; e++)
        r->val[e] *= scale;
    return GS_OK;
}

/* W x + b for row i of sequences b..b+lanes-1, of which the first `store`
 * are stored: the sums stay in registers
 * across the row (several independent chains when lanes is 64), and every
 * element adds in the same order, bias then the row's entries, whatever
 * the blocking. Inlined with constant lanes, so the loops unroll. */
static inline __attribute__((always_inline)) void pre_block(const gs_reservoir_t *r, uint32_t i,
                                                            const float *restrict x_in, size_t ld,
                                                            float *restrict o, size_t b, int lanes,
                                                            int store)
{
    float acc[64];
    for (int l = 0; l < lanes; l++)
        acc[l] = r->bias[i];
    for (uint32_t e = r->row_ptr[i]; e < r->row_ptr[i + 1]; e++) {
        const float w = r->val[e], *xi = x_in + (size_t)r->col[e] * ld + b;
        for (int l = 0; l < lanes; l++)
            acc[l] += w * xi[l];
    }
    memcpy(o + b, acc, (size_t)store * sizeof(float));
}

/* Compiled for AVX-512, AVX2 and the baseline (chosen at load time): the
 * loops over the batch vectorize, and vmath.h keeps the clones bit-equal. */
GS_CLONES void gs_reservoir_step(const gs_reservoir_t *r, const uint32_t *tokens, size_t B,
                                 size_t ld, const float *restrict x_in, float *restrict x_out)
{
    const uint32_t units = r->conf.units, k_in = r->conf.input_nnz;
    const float a = r->conf.leak, keep = 1.0f - a, amp = r->conf.amp * a, alpha = r->conf.alpha,
                omega = r->conf.omega;
    /* pre-activation: W x + b */
    for (uint32_t i = 0; i < units; i++) {
        float *o = x_out + (size_t)i * ld;
        size_t b = 0;
        for (; b + 64 <= B; b += 64)
            pre_block(r, i, x_in, ld, o, b, 64, 64);
        /* the rest in one wider block while the columns exist (up to ld),
         * storing only those below B: a 16-lane block is one chain of
         * dependent adds, latency-bound, where 32 or 64 lanes run 2 or 4 */
        if (B - b > 32 && b + 64 <= ld)
            pre_block(r, i, x_in, ld, o, b, 64, (int)(B - b)), b = B;
        for (; b + 16 < B && b + 32 <= ld; b += 32)
            pre_block(r, i, x_in, ld, o, b, 32, B - b < 32 ? (int)(B - b) : 32);
        for (; b < B && b + 16 <= ld; b += 16)
            pre_block(r, i, x_in, ld, o, b, 16, B - b < 16 ? (int)(B - b) : 16);
        for (; b < B; b++)
            pre_block(r, i, x_in, ld, o, b, 1, 1);
    }
    /* + W_in u_t: the token's sparse column */
    for (size_t b = 0; b < B; b++) {
        if (tokens[b] >= r->vocab)
            continue;
        const uint32_t *rows = r->in_row + (size_t)tokens[b] * k_in;
        const float *vals = r->in_val + (size_t)tokens[b] * k_in;
        for (uint32_t k = 0; k < k_in; k++)
            x_out[(size_t)rows[k] * ld + b] += vals[k];
    }
    /* leaky integration of f(z) = A exp(-alpha |z|) sin(omega z) */
    for (uint32_t i = 0; i < units; i++) {
        float *o = x_out + (size_t)i * ld;
        const float *xi = x_in + (size_t)i * ld;
        for (size_t b = 0; b < B; b++) {
            const float z = o[b];
            o[b] = keep * xi[b] + amp * gs_vm_exp(-alpha * fabsf(z)) * gs_vm_sin(omega * z);
        }
    }
    for (size_t b = 0; b < B; b++) /* sequences without a token keep their state */
        if (tokens[b] == UINT32_MAX)
            for (uint32_t i = 0; i < units; i++)
                x_out[(size_t)i * ld + b] = x_in[(size_t)i * ld + b];
}
