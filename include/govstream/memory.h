/* govstream - governance memory (SPEC 3.4): text embedding, the
 * phase-entangled lattice memory (PELM) and the multi-level synaptic
 * memory. Pure computation, no Kafka dependency; part of src/govern/. */
#ifndef GOVSTREAM_MEMORY_H
#define GOVSTREAM_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "govstream/common.h"

/* ---- embedding ---------------------------------------------------------
 * Deterministic signed feature hashing of lower-cased word unigrams and
 * bigrams into GS_EMBED_DIM floats, L2-normalised. */
#define GS_EMBED_DIM ((size_t)384)

/* Writes the embedding of texts (concatenated as one word sequence; a
 * bigram never spans two texts) into out[GS_EMBED_DIM]. Returns the norm
 * before normalisation: 0 means no words, and out is all zeros then (no
 * memory write may use it). */
float gs_embed(const gs_str_t *texts, size_t n_texts, float *out);

/* ---- PELM ----------------------------------------------------------------
 * A ring of up to `capacity` vectors of `dim` floats, stored L2-normalised
 * in one contiguous row-major bank (grown on demand, so an empty scope costs
 * little), each with a phase (wake 0.1, sleep 0.9), a confidence and the
 * norm it arrived with. When full, an insert replaces the oldest vector
 * (FIFO). Retrieval: cosine similarity, candidates within GS_PELM_PHASE_TOL
 * of the query phase, top-k descending; scores for a batch of queries come
 * from one SGEMM over the bank. */
#define GS_PHASE_WAKE_VALUE    0.1f
#define GS_PHASE_SLEEP_VALUE   0.9f
#define GS_PELM_PHASE_TOL      0.15f
#define GS_PELM_MIN_CONFIDENCE 0.5f

typedef struct gs_pelm gs_pelm_t;

typedef struct gs_pelm_hit {
    uint32_t slot;
    float score;
} gs_pelm_hit_t;

gs_err_t gs_pelm_new(size_t dim, size_t capacity, gs_pelm_t **out, char *errstr,
                     size_t errstr_size);
void gs_pelm_destroy(gs_pelm_t *p);

size_t gs_pelm_dim(const gs_pelm_t *p);
size_t gs_pelm_capacity(const gs_pelm_t *p);
size_t gs_pelm_size(const gs_pelm_t *p);
/* Bytes allocated for this PELM: the object, the bank and its per-slot
 * data (exact). */
size_t gs_pelm_bytes(const gs_pelm_t *p);
/* Bytes of a full PELM of this shape. */
size_t gs_pelm_bytes_full(size_t dim, size_t capacity);
/* Bytes the bank would hold after growing to fit one more vector. */
size_t gs_pelm_bytes_after_insert(const gs_pelm_t *p);

/* Inserts vec (any norm > 0). GS_ERR_VALIDATION for confidence below
 * GS_PELM_MIN_CONFIDENCE, a phase outside [0,1], or a zero or non-finite
 * vector; GS_ERR_NOMEM when the bank cannot grow. *slot (may be NULL) gets
 * the slot written. */
gs_err_t gs_pelm_insert(gs_pelm_t *p, const float *vec, float phase, float confidence,
                        uint32_t *slot);

/* Slot accessors (slot < size). */
const float *gs_pelm_vector(const gs_pelm_t *p, uint32_t slot); /* normalised */
float gs_pelm_phase(const gs_pelm_t *p, uint32_t slot);
float gs_pelm_confidence(const gs_pelm_t *p, uint32_t slot);
float gs_pelm_norm(const gs_pelm_t *p, uint32_t slot);
/* The memory id of a slot: the request_id of the request that wrote it,
 * at most GS_MEMORY_ID_MAX bytes (SPEC 1.1 bounds request ids so); empty
 * until set. insert, put and restore clear it; the caller sets it. */
#define GS_MEMORY_ID_MAX 128
void gs_pelm_set_id(gs_pelm_t *p, uint32_t slot, gs_str_t id);
gs_str_t gs_pelm_id(const gs_pelm_t *p, uint32_t slot);
/* Slot of the next insert (the oldest one once full). */
uint32_t gs_pelm_next_slot(const gs_pelm_t *p);

/* scores[q * size + s] = cosine(queries[q], slot s) for nq queries of dim
 * floats each (not necessarily normalised), with one SGEMM. */
void gs_pelm_scores(const gs_pelm_t *p, const float *queries, size_t nq, float *scores);

/* A slot whose content changed after the scores were computed: its score
 * and phase as of now, or removed. */
typedef struct gs_pelm_override {
    uint32_t slot;
    float score, phase;
} gs_pelm_override_t;

/* Top-k of one row of gs_pelm_scores (row_size = size when it was
 * computed; may be less than the size now) among slots within the phase
 * tolerance of qphase, descending, ties by lower slot. overrides (sorted by
 * slot, or any order; n_ov small) replace row entries or add slots beyond
 * row_size. Returns the number of hits (<= k). */
size_t gs_pelm_select(const gs_pelm_t *p, const float *row, size_t row_size, float qphase,
                      const gs_pelm_override_t *ov, size_t n_ov, size_t k, gs_pelm_hit_t *hits);

/* Convenience: scores + select for nq queries (hits: nq x k, counts: nq).
 * scratch: nq x size floats. */
void gs_pelm_retrieve(const gs_pelm_t *p, const float *queries, size_t nq, const float *qphase,
                      size_t k, float *scratch, gs_pelm_hit_t *hits, size_t *counts);

/* The approximate index (SPEC 3.4; pelm.c says how it works): built
 * once the PELM holds min_size vectors (0, the default: never) and kept
 * from then on, at gs_pelm_index_bytes(dim, rows) for the bank's
 * allocated rows on top of the bank. */
void gs_pelm_set_index(gs_pelm_t *p, size_t min_size);
int gs_pelm_indexed(const gs_pelm_t *p);
size_t gs_pelm_index_bytes(size_t dim, size_t rows);

/* Candidates screened per search (at least; 4 k when k is larger), then
 * re-scored exactly; at most GS_PELM_SEARCH_MAX_DIMS dimensions. */
#define GS_PELM_SEARCH_R        32
#define GS_PELM_SEARCH_MAX_DIMS 1024

/* Top-k of q through the index, as gs_pelm_select would rank the exact
 * cosines (descending, ties by lower slot; phase filter), among the
 * GS_PELM_SEARCH_R best by the int8 screening. 0 hits without an index.
 * Uses p's screening buffer: one search at a time per PELM. */
size_t gs_pelm_search(gs_pelm_t *p, const float *q, float qphase, size_t k, gs_pelm_hit_t *hits);

/* Serialisation hooks for snapshots: the ring in slot order. */
uint32_t gs_pelm_head(const gs_pelm_t *p);
gs_err_t gs_pelm_restore(gs_pelm_t *p, size_t size, uint32_t head, const float *vectors,
                         const float *phases, const float *confidences, const float *norms,
                         char *errstr, size_t errstr_size);

/* Changelog hooks (SPEC 3.6): one slot at a time, in any order. put
 * writes a stored (unit) vector into slot, growing the size to slot + 1 if
 * needed (slots in between are zero until written); set_ring sets the final
 * size and head, the bank reallocated to exactly what `size` slots take.
 * GS_ERR_VALIDATION for values no insert could have made. */
gs_err_t gs_pelm_put(gs_pelm_t *p, uint32_t slot, const float *unit, float phase, float confidence,
                     float norm);
gs_err_t gs_pelm_set_ring(gs_pelm_t *p, size_t size, uint32_t head);

/* ---- synaptic memory ------------------------------------------------------
 * Three float vectors L1, L2, L3 of dim: per update, decay by
 * (1 - 0.50 / 0.10 / 0.01), L1 += e, then element-wise where L1 > 1.2 move
 * 0.45 * L1 to L2, and where L2 > 2.5 move 0.30 * L2 to L3. */
#define GS_SYN_LAMBDA1 0.50f
#define GS_SYN_LAMBDA2 0.10f
#define GS_SYN_LAMBDA3 0.01f
#define GS_SYN_THETA1  1.2f
#define GS_SYN_THETA2  2.5f
#define GS_SYN_GATE12  0.45f
#define GS_SYN_GATE23  0.30f

typedef struct gs_synaptic {
    size_t dim;
    float *l1, *l2, *l3; /* one allocation of 3 x dim */
} gs_synaptic_t;

gs_err_t gs_synaptic_init(gs_synaptic_t *s, size_t dim);
void gs_synaptic_free(gs_synaptic_t *s);
void gs_synaptic_update(gs_synaptic_t *s, const float *e);
size_t gs_synaptic_bytes(const gs_synaptic_t *s);

#endif
