/* Phase-entangled lattice memory (SPEC 3.4). The bank is one row-major
 * float array, rows L2-normalised so that one SGEMM of normalised queries
 * against it yields cosines. Rows are allocated by doubling from
 * GROW_FROM up to the capacity, a pure function of the size, so memory use
 * is exact and a restored bank has the same footprint as the saved one.
 *
 * From index_min vectors on, an approximate index serves sparse queries
 * (gs_pelm_search): every row also as int8 codes (x 127 / max |x|, one
 * scale per row), stored dimension by dimension, so that a query reads
 * only the codes of its non-zero dimensions (the embedding hashes a
 * text's words into a few dozen of the 384); integer screening sums give
 * the best SEARCH_R candidates, re-scored exactly in float. The codes are
 * a function of the bank alone and the screening is integer arithmetic,
 * so a restored replica answers the same (docs/ARCHITECTURE.md). */
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
    char *ids;       /* alloc x GS_MEMORY_ID_MAX: the request that wrote each row */
    uint8_t *id_len; /* alloc */
    /* the index: built once size >= index_min (0: never), for code_rows =
     * alloc rows, rebuilt when the bank grows */
    size_t index_min, code_rows;
    int8_t *codes; /* dim x code_rows: dimension d of row s at d * code_rows + s */
    float *scale;  /* code_rows: row s ~ codes * scale[s] */
    int32_t *acc;  /* code_rows: one query's screening sums */
};

/* Index bytes per row: the codes, the scale and the screening sum. */
#define INDEX_ROW_BYTES(dim) ((dim) * sizeof(int8_t) + sizeof(float) + sizeof(int32_t))

static size_t alloc_for(const gs_pelm_t *p, size_t size)
{
    if (!size)
        return 0; /* an empty bank allocates nothing */
    size_t a = GROW_FROM < p->capacity ? GROW_FROM : p->capacity;
    while (a < size)
        a = a * 2 < p->capacity ? a * 2 : p->capacity;
    return a;
}

/* Bytes per row: the vector, phase, confidence and norm, and the id. */
#define ROW_BYTES(dim) (((dim) + 3) * sizeof(float) + GS_MEMORY_ID_MAX + 1)

static size_t bytes_for(const gs_pelm_t *p, size_t rows)
{
    return rows * ROW_BYTES(p->dim);
}

static gs_err_t grow(gs_pelm_t *p, size_t rows)
{
    if (rows <= p->alloc)
        return GS_OK;
    if (gs_grow(&p->bank, rows * p->dim, sizeof(float)) ||
        gs_grow(&p->phase, rows, sizeof(float)) || gs_grow(&p->conf, rows, sizeof(float)) ||
        gs_grow(&p->norm, rows, sizeof(float)) || gs_grow(&p->ids, rows, GS_MEMORY_ID_MAX) ||
        gs_grow(&p->id_len, rows, 1))
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

static void index_free(gs_pelm_t *p)
{
    free(p->codes), free(p->scale), free(p->acc);
    p->codes = NULL, p->scale = NULL, p->acc = NULL;
    p->code_rows = 0;
}

void gs_pelm_destroy(gs_pelm_t *p)
{
    if (!p)
        return;
    index_free(p);
    free(p->bank);
    free(p->phase);
    free(p->conf);
    free(p->norm);
    free(p->ids);
    free(p->id_len);
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
    return sizeof(*p) + bytes_for(p, p->alloc) + p->code_rows * INDEX_ROW_BYTES(p->dim);
}

size_t gs_pelm_index_bytes(size_t dim, size_t rows)
{
    return rows * INDEX_ROW_BYTES(dim);
}

size_t gs_pelm_bytes_full(size_t dim, size_t capacity)
{
    return sizeof(gs_pelm_t) + capacity * ROW_BYTES(dim);
}

size_t gs_pelm_bytes_after_insert(const gs_pelm_t *p)
{
    size_t size = p->size < p->capacity ? p->size + 1 : p->size;
    size_t need = alloc_for(p, size), rows = need > p->alloc ? need : p->alloc;
    size_t index = p->index_min && size >= p->index_min ? rows * INDEX_ROW_BYTES(p->dim) : 0;
    return sizeof(*p) + bytes_for(p, rows) + index;
}

uint32_t gs_pelm_next_slot(const gs_pelm_t *p)
{
    return p->size < p->capacity ? (uint32_t)p->size : p->head;
}

uint32_t gs_pelm_head(const gs_pelm_t *p)
{
    return p->head;
}

/* ---- the approximate index --------------------------------------------- */

void gs_pelm_set_index(gs_pelm_t *p, size_t min_size)
{
    p->index_min = min_size;
}

int gs_pelm_indexed(const gs_pelm_t *p)
{
    return p->codes != NULL;
}

static float max_abs(const float *x, size_t n)
{
    float top = 0.0f;
    for (size_t d = 0; d < n; d++)
        top = fabsf(x[d]) > top ? fabsf(x[d]) : top;
    return top;
}

/* Row s as int8 codes: round(x * 127 / max |x|); a zero row (a slot the
 * changelog has not written yet) codes as zeros with scale 0. */
static void index_encode(gs_pelm_t *p, size_t s)
{
    const float *row = p->bank + s * p->dim;
    float top = max_abs(row, p->dim);
    float k = top > 0.0f ? 127.0f / top : 0.0f;
    for (size_t d = 0; d < p->dim; d++)
        p->codes[d * p->code_rows + s] = (int8_t)lrintf(row[d] * k);
    p->scale[s] = top / 127.0f;
}

/* After any change of size or alloc: the index exists iff size >=
 * index_min, for alloc rows. Failing to allocate it leaves the exact path
 * (GS_ERR_NOMEM, and no index). */
static gs_err_t index_update(gs_pelm_t *p)
{
    if (!p->index_min || p->size < p->index_min) {
        index_free(p);
        return GS_OK;
    }
    if (p->codes && p->code_rows == p->alloc)
        return GS_OK;
    index_free(p);
    p->codes = malloc(p->alloc * p->dim * sizeof(int8_t));
    p->scale = malloc(p->alloc * sizeof(float));
    p->acc = malloc(p->alloc * sizeof(int32_t));
    if (!p->codes || !p->scale || !p->acc) {
        index_free(p);
        return GS_ERR_NOMEM;
    }
    p->code_rows = p->alloc;
    memset(p->codes, 0, p->alloc * p->dim * sizeof(int8_t));
    memset(p->scale, 0, p->alloc * sizeof(float));
    for (size_t s = 0; s < p->size; s++)
        index_encode(p, s);
    return GS_OK;
}

/* Row s has changed: its codes (building the index if it is due). */
static void index_row(gs_pelm_t *p, size_t s)
{
    if (index_update(p) == GS_OK && p->codes)
        index_encode(p, s);
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
    p->id_len[s] = 0;
    index_row(p, s);
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

void gs_pelm_set_id(gs_pelm_t *p, uint32_t slot, gs_str_t id)
{
    size_t len = id.len < GS_MEMORY_ID_MAX ? id.len : GS_MEMORY_ID_MAX;
    if (len)
        memcpy(p->ids + (size_t)slot * GS_MEMORY_ID_MAX, id.p, len);
    p->id_len[slot] = (uint8_t)len;
}

gs_str_t gs_pelm_id(const gs_pelm_t *p, uint32_t slot)
{
    return (gs_str_t){p->ids + (size_t)slot * GS_MEMORY_ID_MAX, p->id_len[slot]};
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

/* ---- search through the index ------------------------------------------- */

/* The query's non-zero dimensions (all of them: the exact re-scoring
 * needs them) and their int8 codes, scaled as the rows' (0 for the
 * dimensions too small to code). */
static size_t query_codes(const gs_pelm_t *p, const float *q, uint32_t *dims, int32_t *qc)
{
    float top = max_abs(q, p->dim);
    size_t n = 0;
    for (size_t d = 0; top > 0.0f && d < p->dim; d++)
        if (q[d] != 0.0f) {
            dims[n] = (uint32_t)d;
            qc[n++] = (int32_t)lrintf(q[d] * (127.0f / top));
        }
    return n;
}

/* acc[s] (+)= sum over 4 query dimensions of qc * codes: integers, so the
 * sums are exact whatever the vector width. A pair of products is at most
 * 2 x 127 x 127 = 32,258 and fits 16 bits: the pairs are summed in
 * int16 (32 lanes to a vector, not 16), only their sum widened. (Eight
 * dimensions to a pass measured slower: 61 us a query against 47.) */
GS_CLONES static void screen4(int32_t *restrict acc, const int8_t *restrict c0,
                              const int8_t *restrict c1, const int8_t *restrict c2,
                              const int8_t *restrict c3, const int32_t *q, size_t n, int first)
{
    int16_t a = (int16_t)q[0], b = (int16_t)q[1], c = (int16_t)q[2], d = (int16_t)q[3];
    if (first)
        for (size_t s = 0; s < n; s++)
            acc[s] = (int16_t)(a * c0[s] + b * c1[s]) + (int16_t)(c * c2[s] + d * c3[s]);
    else
        for (size_t s = 0; s < n; s++)
            acc[s] += (int16_t)(a * c0[s] + b * c1[s]) + (int16_t)(c * c2[s] + d * c3[s]);
}

/* The screening sums of every slot: the coded dimensions four at a time
 * (weight 0 pads the last group). */
static void screen(gs_pelm_t *p, const uint32_t *dims, const int32_t *qc, size_t nd)
{
    uint32_t cd[GS_PELM_SEARCH_MAX_DIMS];
    int32_t cq[GS_PELM_SEARCH_MAX_DIMS];
    size_t m = 0;
    for (size_t i = 0; i < nd; i++)
        if (qc[i]) {
            cd[m] = dims[i];
            cq[m++] = qc[i];
        }
    if (!m) {
        memset(p->acc, 0, p->size * sizeof(int32_t));
        return;
    }
    for (size_t g = 0; g < m; g += 4) {
        const int8_t *c[4];
        int32_t q[4];
        for (size_t j = 0; j < 4; j++) {
            c[j] = p->codes + (size_t)cd[g + j < m ? g + j : g] * p->code_rows;
            q[j] = g + j < m ? cq[g + j] : 0;
        }
        screen4(p->acc, c[0], c[1], c[2], c[3], q, p->size, g == 0);
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

/* The cosine of q (norm qn) and row s over q's non-zero dimensions, in a
 * fixed order of additions: the index's answers must not depend on the
 * CPU's vector width. */
static float cosine(const gs_pelm_t *p, const float *q, const uint32_t *dims, size_t nd, double qn,
                    uint32_t s)
{
    const float *row = p->bank + (size_t)s * p->dim;
    double sum = 0;
    for (size_t i = 0; i < nd; i++)
        sum += (double)q[dims[i]] * row[dims[i]];
    return (float)(sum / qn);
}

/* Whether any slot of [b, e) screens above thr: one vector pass, so that
 * the slots below the candidates' worst (nearly all) cost no branch each.
 * Strictly above: the slots come in increasing order, and a later slot
 * that ties the worst candidate loses the tie (a bank of many equal
 * vectors would otherwise walk every block slot by slot). */
#define CAND_BLOCK 64
GS_CLONES static int block_reaches(const gs_pelm_t *p, size_t b, size_t e, float thr)
{
    int any = 0;
    for (size_t s = b; s < e; s++)
        any |= (float)p->acc[s] * p->scale[s] > thr;
    return any;
}

size_t gs_pelm_search(gs_pelm_t *p, const float *q, float qphase, size_t k, gs_pelm_hit_t *hits)
{
    uint32_t dims[GS_PELM_SEARCH_MAX_DIMS];
    int32_t qc[GS_PELM_SEARCH_MAX_DIMS];
    if (!k || !p->codes || !p->size || p->dim > GS_PELM_SEARCH_MAX_DIMS)
        return 0;
    size_t nd = query_codes(p, q, dims, qc), nc = 0, n = 0;
    if (!nd)
        return 0;
    screen(p, dims, qc, nd);
    /* the best candidates by screening score, phase filter applied */
    size_t r = k * 4 > GS_PELM_SEARCH_R ? k * 4 : GS_PELM_SEARCH_R;
    gs_pelm_hit_t cand[4 * 20 > GS_PELM_SEARCH_R ? 4 * 20 : GS_PELM_SEARCH_R];
    r = r < sizeof(cand) / sizeof(cand[0]) ? r : sizeof(cand) / sizeof(cand[0]);
    for (size_t b = 0; b < p->size; b += CAND_BLOCK) {
        size_t e = b + CAND_BLOCK < p->size ? b + CAND_BLOCK : p->size;
        if (nc == r && !block_reaches(p, b, e, cand[r - 1].score))
            continue;
        for (size_t s = b; s < e; s++) {
            float a = (float)p->acc[s] * p->scale[s];
            if ((nc < r || a > cand[r - 1].score) && phase_ok(p->phase[s], qphase))
                offer(cand, &nc, r, (uint32_t)s, a);
        }
    }
    double qn = 0;
    for (size_t i = 0; i < nd; i++)
        qn += (double)q[dims[i]] * q[dims[i]];
    qn = sqrt(qn);
    for (size_t i = 0; i < nc; i++)
        offer(hits, &n, k, cand[i].slot, cosine(p, q, dims, nd, qn, cand[i].slot));
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
        memset(p->id_len, 0, size); /* the caller sets the ids */
    }
    p->size = size;
    p->head = head;
    (void)index_update(p); /* no index: the exact path serves */
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
    if (rows < p->alloc) { /* shrinking: a failed realloc keeps the larger block */
        void **arrays[] = {(void **)&p->bank, (void **)&p->phase, (void **)&p->conf,
                           (void **)&p->norm, (void **)&p->ids,   (void **)&p->id_len};
        size_t row_bytes[] = {p->dim * sizeof(float), sizeof(float),    sizeof(float),
                              sizeof(float),          GS_MEMORY_ID_MAX, 1};
        for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) {
            void *a = rows ? realloc(*arrays[i], rows * row_bytes[i]) : NULL;
            if (!rows)
                free(*arrays[i]);
            if (a || !rows)
                *arrays[i] = a;
        }
        p->alloc = rows;
    }
    if (size > p->size && p->codes && p->code_rows == p->alloc) { /* else rebuilt after */
        for (size_t d = 0; d < p->dim; d++)
            memset(p->codes + d * p->code_rows + p->size, 0, size - p->size);
        memset(p->scale + p->size, 0, (size - p->size) * sizeof(float));
    }
    if (size > p->size && p->bank) { /* bank NULL only with size 0 */
        memset(p->bank + p->size * p->dim, 0, (size - p->size) * p->dim * sizeof(float));
        memset(p->phase + p->size, 0, (size - p->size) * sizeof(float));
        memset(p->conf + p->size, 0, (size - p->size) * sizeof(float));
        memset(p->norm + p->size, 0, (size - p->size) * sizeof(float));
        memset(p->id_len + p->size, 0, size - p->size);
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
    p->id_len[slot] = 0;
    index_row(p, slot);
    return GS_OK;
}

gs_err_t gs_pelm_set_ring(gs_pelm_t *p, size_t size, uint32_t head)
{
    if (size > p->capacity || (size < p->capacity && head) || (size && head >= size))
        return GS_ERR_VALIDATION;
    if (resize(p, size))
        return GS_ERR_NOMEM;
    p->head = head;
    (void)index_update(p); /* no index: the exact path serves */
    return GS_OK;
}
