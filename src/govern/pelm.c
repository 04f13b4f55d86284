/* Phase-entangled lattice memory (SPEC 3.4). The bank is one row-major
 * float array, rows L2-normalised so that one SGEMM of normalised queries
 * against it yields cosines. Rows are allocated by doubling from
 * GROW_FROM up to the capacity, a pure function of the size, so memory use
 * is exact and a restored bank has the same footprint as the saved one. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/memory.h"

#define GROW_FROM 256

struct gs_pelm {
    size_t dim, capacity, size, alloc;
    uint32_t head; /* oldest slot (the next to replace) once full */
    float *bank;   /* alloc x dim */
    float *phase, *conf, *norm;
};

static size_t alloc_for(const gs_pelm_t *p, size_t size)
{
    if (!size)
        return 0; /* an empty bank allocates nothing */
    size_t a = GROW_FROM < p->capacity ? GROW_FROM : p->capacity;
    while (a < size)
        a = a * 2 < p->capacity ? a * 2 : p->capacity;
    return a;
}

static size_t bytes_for(const gs_pelm_t *p, size_t rows)
{
    return rows * (p->dim + 3) * sizeof(float);
}

static gs_err_t grow(gs_pelm_t *p, size_t rows)
{
    if (rows <= p->alloc)
        return GS_OK;
    if (gs_grow(&p->bank, rows * p->dim, sizeof(float)) ||
        gs_grow(&p->phase, rows, sizeof(float)) || gs_grow(&p->conf, rows, sizeof(float)) ||
        gs_grow(&p->norm, rows, sizeof(float)))
        return GS_ERR_NOMEM; /* alloc stays: every array holds at least that much */
    p->alloc = rows;
    return GS_OK;
}

gs_err_t gs_pelm_new(size_t dim, size_t capacity, gs_pelm_t **out, char *errstr, size_t n)
{
    if (!dim || !capacity || capacity > UINT32_MAX)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "PELM dim and capacity must be > 0");
    gs_pelm_t *p = calloc(1, sizeof(*p));
    if (!p)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    p->dim = dim;
    p->capacity = capacity;
    *out = p;
    return GS_OK;
}

void gs_pelm_destroy(gs_pelm_t *p)
{
    if (!p)
        return;
    free(p->bank);
    free(p->phase);
    free(p->conf);
    free(p->norm);
    free(p);
}

size_t gs_pelm_dim(const gs_pelm_t *p)
{
    return p->dim;
}

size_t gs_pelm_capacity(const gs_pelm_t *p)
{
    return p->capacity;
}

size_t gs_pelm_size(const gs_pelm_t *p)
{
    return p->size;
}

size_t gs_pelm_bytes(const gs_pelm_t *p)
{
    return sizeof(*p) + bytes_for(p, p->alloc);
}

size_t gs_pelm_bytes_full(size_t dim, size_t capacity)
{
    return sizeof(gs_pelm_t) + capacity * (dim + 3) * sizeof(float);
}

size_t gs_pelm_bytes_after_insert(const gs_pelm_t *p)
{
    size_t size = p->size < p->capacity ? p->size + 1 : p->size;
    size_t need = alloc_for(p, size);
    return sizeof(*p) + bytes_for(p, need > p->alloc ? need : p->alloc);
}

uint32_t gs_pelm_next_slot(const gs_pelm_t *p)
{
    return p->size < p->capacity ? (uint32_t)p->size : p->head;
}

uint32_t gs_pelm_head(const gs_pelm_t *p)
{
    return p->head;
}

gs_err_t gs_pelm_insert(gs_pelm_t *p, const float *vec, float phase, float confidence,
                        uint32_t *slot)
{
    if (!(confidence >= GS_PELM_MIN_CONFIDENCE) || !(confidence <= 1.0f))
        return GS_ERR_VALIDATION; /* also NaN */
    if (!(phase >= 0.0f && phase <= 1.0f))
        return GS_ERR_VALIDATION;
    double sum = 0;
    for (size_t i = 0; i < p->dim; i++)
        sum += (double)vec[i] * vec[i];
    double norm = sqrt(sum);
    /* in double, so that tiny and huge vectors normalise exactly; the norm
     * itself must fit the float it is stored in */
    if (!(norm > 0) || !(norm <= FLT_MAX))
        return GS_ERR_VALIDATION;
    uint32_t s = gs_pelm_next_slot(p);
    if (p->size < p->capacity) {
        if (grow(p, alloc_for(p, p->size + 1)))
            return GS_ERR_NOMEM;
        p->size++;
    } else {
        p->head = (uint32_t)((p->head + 1) % p->capacity);
    }
    double inv = 1.0 / norm;
    float *row = p->bank + (size_t)s * p->dim;
    for (size_t i = 0; i < p->dim; i++)
        row[i] = (float)(vec[i] * inv);
    p->phase[s] = phase;
    p->conf[s] = confidence;
    p->norm[s] = (float)norm;
    if (slot)
        *slot = s;
    return GS_OK;
}

const float *gs_pelm_vector(const gs_pelm_t *p, uint32_t slot)
{
    return p->bank + (size_t)slot * p->dim;
}

float gs_pelm_phase(const gs_pelm_t *p, uint32_t slot)
{
    return p->phase[slot];
}

float gs_pelm_confidence(const gs_pelm_t *p, uint32_t slot)
{
    return p->conf[slot];
}

float gs_pelm_norm(const gs_pelm_t *p, uint32_t slot)
{
    return p->norm[slot];
}

/* Below this many queries SGEMM spends more time packing the bank than
 * multiplying; SGEMV per query reads it once each without packing. */
#define GEMM_MIN_QUERIES 4

void gs_pelm_scores(const gs_pelm_t *p, const float *queries, size_t nq, float *scores)
{
    if (!nq || !p->size)
        return;
    if (nq < GEMM_MIN_QUERIES) {
        for (size_t q = 0; q < nq; q++)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)p->size, (int)p->dim, 1.0f, p->bank,
                        (int)p->dim, queries + q * p->dim, 1, 0.0f, scores + q * p->size, 1);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nq, (int)p->size, (int)p->dim,
                    1.0f, queries, (int)p->dim, p->bank, (int)p->dim, 0.0f, scores, (int)p->size);
    }
    /* The bank is normalised; divide by each query's norm for cosines. */
    for (size_t q = 0; q < nq; q++) {
        const float *v = queries + q * p->dim;
        double sum = 0;
        for (size_t i = 0; i < p->dim; i++)
            sum += (double)v[i] * v[i];
        float inv = sum > 0 ? (float)(1.0 / sqrt(sum)) : 0.0f;
        if (inv == 1.0f)
            continue; /* already a unit vector (the embedding's case) */
        float *row = scores + q * p->size;
        for (size_t s = 0; s < p->size; s++)
            row[s] *= inv;
    }
}

/* Keeps hits[0..*n) sorted descending (ties: lower slot first), at most k. */
static void offer(gs_pelm_hit_t *hits, size_t *n, size_t k, uint32_t slot, float score)
{
    if (*n == k &&
        (score < hits[k - 1].score || (score == hits[k - 1].score && slot > hits[k - 1].slot)))
        return;
    size_t i = *n < k ? (*n)++ : k - 1;
    while (i > 0 &&
           (hits[i - 1].score < score || (hits[i - 1].score == score && hits[i - 1].slot > slot))) {
        hits[i] = hits[i - 1];
        i--;
    }
    hits[i] = (gs_pelm_hit_t){slot, score};
}

static int phase_ok(float slot_phase, float qphase)
{
    return fabsf(slot_phase - qphase) <= GS_PELM_PHASE_TOL + 1e-6f;
}

static int cmp_override(const void *a, const void *b)
{
    uint32_t x = ((const gs_pelm_override_t *)a)->slot, y = ((const gs_pelm_override_t *)b)->slot;
    return (x > y) - (x < y);
}

size_t gs_pelm_select(const gs_pelm_t *p, const float *row, size_t row_size, float qphase,
                      const gs_pelm_override_t *ov, size_t n_ov, size_t k, gs_pelm_hit_t *hits)
{
    size_t n = 0;
    if (!k)
        return 0;
    gs_pelm_override_t copy[n_ov > 1 ? n_ov : 1];
    const gs_pelm_override_t *sorted = ov; /* by slot, to skip them in one pass */
    if (n_ov > 1) {
        memcpy(copy, ov, n_ov * sizeof(*ov));
        qsort(copy, n_ov, sizeof(*copy), cmp_override);
        sorted = copy;
    }
    size_t o = 0;
    for (size_t s = 0; s < row_size; s++) {
        if (o < n_ov && sorted[o].slot == s) {
            o++; /* changed since the scores were computed: offered below */
            continue;
        }
        if (phase_ok(p->phase[s], qphase))
            offer(hits, &n, k, (uint32_t)s, row[s]);
    }
    for (size_t i = 0; i < n_ov; i++)
        if (phase_ok(sorted[i].phase, qphase)) /* NaN phase: removed */
            offer(hits, &n, k, sorted[i].slot, sorted[i].score);
    return n;
}

void gs_pelm_retrieve(const gs_pelm_t *p, const float *queries, size_t nq, const float *qphase,
                      size_t k, float *scratch, gs_pelm_hit_t *hits, size_t *counts)
{
    gs_pelm_scores(p, queries, nq, scratch);
    for (size_t q = 0; q < nq; q++)
        counts[q] =
            gs_pelm_select(p, scratch + q * p->size, p->size, qphase[q], NULL, 0, k, hits + q * k);
}

gs_err_t gs_pelm_restore(gs_pelm_t *p, size_t size, uint32_t head, const float *vectors,
                         const float *phases, const float *confidences, const float *norms,
                         char *errstr, size_t n)
{
    if (size > p->capacity || (size < p->capacity && head) || (size && head >= size))
        return gs_fail(errstr, n, GS_ERR_DECODE, "PELM: size %zu / head %u do not fit capacity %zu",
                       size, head, p->capacity);
    if (grow(p, alloc_for(p, size)))
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory restoring %zu vectors", size);
    if (size) { /* an empty bank has no arrays */
        memcpy(p->bank, vectors, size * p->dim * sizeof(float));
        memcpy(p->phase, phases, size * sizeof(float));
        memcpy(p->conf, confidences, size * sizeof(float));
        memcpy(p->norm, norms, size * sizeof(float));
    }
    p->size = size;
    p->head = head;
    return GS_OK;
}

/* ---- the changelog's view: slots one at a time --------------------------- */

/* Sets the slot count to `size`, new slots zero (they score 0 until they
 * are written), the bank reallocated to what `size` slots take when grown
 * by inserts, so that a restored bank costs exactly what the original did. */
static gs_err_t resize(gs_pelm_t *p, size_t size)
{
    size_t rows = alloc_for(p, size);
    if (rows > p->alloc && grow(p, rows))
        return GS_ERR_NOMEM;
    if (rows < p->alloc) {
        if (!rows) {
            free(p->bank), free(p->phase), free(p->conf), free(p->norm);
            p->bank = p->phase = p->conf = p->norm = NULL;
        } else {
            float *b = realloc(p->bank, rows * p->dim * sizeof(float)); /* shrinking */
            p->bank = b ? b : p->bank;
            float **arrays[] = {&p->phase, &p->conf, &p->norm};
            for (size_t i = 0; i < 3; i++) {
                float *a = realloc(*arrays[i], rows * sizeof(float));
                *arrays[i] = a ? a : *arrays[i];
            }
        }
        p->alloc = rows;
    }
    if (size > p->size && p->bank) { /* bank NULL only with size 0 */
        memset(p->bank + p->size * p->dim, 0, (size - p->size) * p->dim * sizeof(float));
        memset(p->phase + p->size, 0, (size - p->size) * sizeof(float));
        memset(p->conf + p->size, 0, (size - p->size) * sizeof(float));
        memset(p->norm + p->size, 0, (size - p->size) * sizeof(float));
    }
    p->size = size;
    return GS_OK;
}

gs_err_t gs_pelm_put(gs_pelm_t *p, uint32_t slot, const float *unit, float phase, float confidence,
                     float norm)
{
    if (slot >= p->capacity || !(phase >= 0.0f && phase <= 1.0f) ||
        !(confidence >= GS_PELM_MIN_CONFIDENCE && confidence <= 1.0f) ||
        !(norm > 0 && norm <= FLT_MAX))
        return GS_ERR_VALIDATION;
    double sum = 0;
    for (size_t i = 0; i < p->dim; i++)
        sum += (double)unit[i] * unit[i];
    if (!(fabs(sum - 1.0) < 1e-3)) /* also NaN and infinities */
        return GS_ERR_VALIDATION;
    if (slot >= p->size && resize(p, (size_t)slot + 1))
        return GS_ERR_NOMEM;
    memcpy(p->bank + (size_t)slot * p->dim, unit, p->dim * sizeof(float));
    p->phase[slot] = phase;
    p->conf[slot] = confidence;
    p->norm[slot] = norm;
    return GS_OK;
}

gs_err_t gs_pelm_set_ring(gs_pelm_t *p, size_t size, uint32_t head)
{
    if (size > p->capacity || (size < p->capacity && head) || (size && head >= size))
        return GS_ERR_VALIDATION;
    if (resize(p, size))
        return GS_ERR_NOMEM;
    p->head = head;
    return GS_OK;
}
