/* Interpolated modified Kneser-Ney trigram model (Chen & Goodman 1998): the
 * strongest count baseline of the dialogue model's training report, and the
 * n-gram part that the served model mixes in (private to src/models:
 * train.c writes it into the model file, dialogue.c serves it).
 *
 *   P3(w | u v) = max(c(u v w) - D3(c), 0) / c(u v .) + g3(u v) P2(w | v)
 *   P2(w | v)   = max(N(. v w) - D2(N), 0) / N(. v .) + g2(v) P1(w)
 *   P1(w)       = max(N(. w) - D1(N), 0) / N(. .) + g1 / V
 *
 * c are trigram counts, N continuation counts (distinct left neighbours),
 * D(c) one of three discounts per order (D_1, D_2, D_3+) estimated from
 * that order's counts of counts, g(ctx) = sum of the discounts taken in ctx
 * / the context's total. An unseen context skips its order (its weight is
 * 1). Every token below V has P3 > 0, and P3 sums to 1 over 0..V-1. */
#ifndef GS_MODELS_KN_H
#define GS_MODELS_KN_H

#include <stddef.h>
#include <stdint.h>

#include "govstream/common.h"
#include "govstream/model.h"

/* w1 at a sequence's second position: there is no token two back. */
#define GS_KN_START UINT32_MAX

typedef struct gs_kn gs_kn_t;

/* What a model is made of; the rest is derived from these by the same code
 * after gs_kn_new and after gs_kn_load, so both give the same bits. w1 runs
 * over 0 .. V, V standing for GS_KN_START. */
typedef struct gs_kn_arrays {
    uint32_t V;
    size_t n_ctx, n_tri, n_bi;
    /* contexts: (w1, .) are ctx_first[w1] .. ctx_first[w1 + 1] - 1 (V + 2
     * offsets), their w2 in ctx_w2 (increasing within a w1), and context
     * c's successors ctx_run[c] .. ctx_run[c + 1] - 1 (n_ctx + 1 offsets) */
    const uint32_t *ctx_first, *ctx_w2, *ctx_run;
    const uint32_t *tri_w, *tri_c; /* n_tri: w3 (increasing in a run), c(w1 w2 w3) */
    /* bigrams: w2's successors are bi_first[w2] .. bi_first[w2 + 1] - 1
     * (V + 1 offsets): w3 (increasing) and N(. w2 w3) */
    const uint32_t *bi_first, *bi_w, *bi_c;
} gs_kn_arrays_t;

/* Counts sequence i = ids[start[i]] .. ids[start[i + 1] - 1] for i below
 * n_seqs: every position from the second on is a trigram (w1, w2, w), w1
 * GS_KN_START at the second. Ids >= V count as GS_TOK_UNK. V: 1 .. 2^21 - 2
 * (three ids are packed into a uint64). */
gs_err_t gs_kn_new(const uint32_t *ids, const size_t *start, size_t n_seqs, uint32_t V,
                   gs_kn_t **out, char *errstr, size_t errstr_size);
void gs_kn_destroy(gs_kn_t *kn);

/* A model on arrays written by an earlier gs_kn_new (a model file's); they
 * are borrowed and must outlive it. Every offset and id is checked first
 * (GS_ERR_DECODE says which check failed). */
gs_err_t gs_kn_load(const gs_kn_arrays_t *arrays, gs_kn_t **out, char *errstr, size_t errstr_size);
/* The model's arrays (owned by it), to be written out. */
const gs_kn_arrays_t *gs_kn_arrays(const gs_kn_t *kn);

/* The arrays as the model file's tensors kn_ctx_first .. kn_bi_c, in
 * place (borrowed from kn). */
#define GS_KN_TENSORS 8
void gs_kn_tensors(const gs_kn_t *kn, gs_tensor_t t[GS_KN_TENSORS]);
/* A model on a model file's kn_* tensors for a vocabulary of V (borrowed:
 * mf must outlive it). GS_ERR_DECODE names a missing or misshapen tensor
 * or the failed check of gs_kn_load. */
gs_err_t gs_kn_from_file(const gs_modelfile_t *mf, uint32_t V, gs_kn_t **out, char *errstr,
                         size_t errstr_size);

/* Chen & Goodman's discounts from the counts of counts n[k] (how many
 * n-grams occur k + 1 times): Y = n1 / (n1 + 2 n2), D_k = k - (k + 1) Y
 * n_(k+1) / n_k. If a count of counts is 0 or a D_k is not positive (tiny
 * corpora), one discount Y for all three (0.5 unless 0 < Y < 1). */
void gs_kn_estimate(const uint64_t n[4], double d[3]);

/* D_1, D_2, D_3+ of an order: 1 (P1), 2 (P2) or 3 (P3). */
void gs_kn_discounts(const gs_kn_t *kn, int order, double d[3]);

/* P3(w | w1 w2); w1 may be GS_KN_START. Ids >= V (except GS_KN_START) as
 * GS_TOK_UNK. w2 GS_KN_START means no context: P1. */
double gs_kn_prob(const gs_kn_t *kn, uint32_t w1, uint32_t w2, uint32_t w);
/* The lower orders alone: P2(w | w2), P1(w). */
double gs_kn_prob2(const gs_kn_t *kn, uint32_t w2, uint32_t w);
double gs_kn_prob1(const gs_kn_t *kn, uint32_t w);

/* How many tokens of the vocabulary rank above w after (w1, w2) by P3
 * (higher probability, or equal and a lower id), at most `cap`: exact, by
 * w2's successors and then the rest in P1 order, where P3 grows with P1. */
size_t gs_kn_rank(const gs_kn_t *kn, uint32_t w1, uint32_t w2, uint32_t w, size_t cap);

/* The served mix: out[v] = a q[v] q_scale + (1 - a) P3(v | w1 w2) for every
 * v below V, with P3 the same bits as gs_kn_prob. q_scale turns q into
 * probabilities (1 / their sum). One pass over P1, then w2's successors. */
void gs_kn_mix(const gs_kn_t *kn, uint32_t w1, uint32_t w2, double a, const float *q,
               double q_scale, float *out);

#endif
