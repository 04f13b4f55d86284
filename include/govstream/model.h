/* govstream - models (SPEC 4): the dialogue tokenizer, the sparse
 * sine-activated reservoir, the model file format and the dialogue
 * next-token model built from them. No Kafka dependency. */
#ifndef GOVSTREAM_MODEL_H
#define GOVSTREAM_MODEL_H

#include <stdint.h>
#include <stdio.h>

#include "govstream/common.h"

/* ---- tokenizer -----------------------------------------------------------
 * Tokens: lower-cased words (include/govstream/text.h: letters, digits,
 * inner apostrophes, non-ASCII letters) and every punctuation character on
 * its own. <eot> ends every turn; <unk> stands for words outside the
 * vocabulary. */
#define GS_TOKEN_MAX 64 /* longer words are cut */
#define GS_TOK_UNK   0u
#define GS_TOK_EOT   1u

typedef void(gs_token_fn)(const char *tok, size_t len, void *opaque);
void gs_tokenize(const char *text, size_t len, gs_token_fn *fn, void *opaque);

/* Vocabulary: id -> token and token -> id. Ids 0 and 1 are <unk>, <eot>. */
typedef struct gs_vocab gs_vocab_t;

/* From a blob of NUL-terminated tokens in id order (the model file form). */
gs_err_t gs_vocab_new(const char *blob, size_t len, gs_vocab_t **out, char *errstr,
                      size_t errstr_size);
void gs_vocab_destroy(gs_vocab_t *v);
uint32_t gs_vocab_size(const gs_vocab_t *v);
uint32_t gs_vocab_id(const gs_vocab_t *v, const char *tok, size_t len); /* GS_TOK_UNK if absent */
const char *gs_vocab_token(const gs_vocab_t *v, uint32_t id);

/* Appends the ids of a dialogue window (each turn followed by <eot>) to
 * *ids (grown with realloc; *n updated). -1 when out of memory. */
int gs_vocab_encode_turns(const gs_vocab_t *v, const gs_str_t *turns, size_t n_turns,
                          uint32_t **ids, size_t *n, size_t *cap);

/* Joins tokens into text: a space between words, none before closing
 * punctuation or after opening punctuation. Returns the length written
 * (truncated to cap - 1, NUL-terminated). */
size_t gs_vocab_decode(const gs_vocab_t *v, const uint32_t *ids, size_t n, char *out, size_t cap);

/* ---- reservoir -------------------------------------------------------------
 * x_t = (1 - a) x_{t-1} + a f(W_in u_t + W x_{t-1} + b),
 * f(z) = A exp(-alpha |z|) sin(omega z). W: N x N sparse (CSR), density d,
 * rescaled to spectral radius rho. W_in: `input_nnz` random entries per
 * token column. Everything is drawn from one seed. */
typedef struct gs_reservoir_conf {
    uint32_t units, input_nnz;
    float density, radius, leak, amp, alpha, omega, input_scale, bias_scale;
    uint64_t seed;
} gs_reservoir_conf_t;

void gs_reservoir_conf_default(gs_reservoir_conf_t *c);

typedef struct gs_reservoir {
    gs_reservoir_conf_t conf;
    uint32_t vocab, nnz;
    uint32_t *row_ptr; /* N + 1 */
    uint32_t *col;     /* nnz */
    float *val;        /* nnz */
    uint32_t *in_row;  /* vocab x input_nnz */
    float *in_val;     /* vocab x input_nnz */
    float *bias;       /* N */
    int owned;         /* arrays allocated here (else they point into a model file) */
} gs_reservoir_t;

/* Draws a reservoir for a vocabulary and rescales W to conf.radius. */
gs_err_t gs_reservoir_init(gs_reservoir_t *r, const gs_reservoir_conf_t *conf, uint32_t vocab,
                           char *errstr, size_t errstr_size);
void gs_reservoir_free(gs_reservoir_t *r);

/* Spectral radius of W by power iteration (growth rate of |W^k v|). */
double gs_reservoir_radius(const gs_reservoir_t *r, int iterations, uint64_t seed);

/* One step for sequences 0..B-1 of a batch whose states are unit-major
 * with leading dimension ld >= B: unit i of sequence b is x[i * ld + b].
 * tokens[b] == UINT32_MAX leaves sequence b unchanged; columns from B to
 * ld are not touched. x_out may not alias x_in. */
void gs_reservoir_step(const gs_reservoir_t *r, const uint32_t *tokens, size_t B, size_t ld,
                       const float *x_in, float *x_out);

/* ---- model files -----------------------------------------------------------
 * "GSMODEL\0", u32 format version, u32 kind, u32 metadata bytes, u32
 * tensors, then the JSON metadata, the tensor table (name, dtype, dims,
 * offset, bytes, CRC32C), the tensor data (64-byte aligned, so the file can
 * be mapped and used in place), and a SHA-256 of everything before it. */
#define GS_MODEL_FORMAT_VERSION 1
#define GS_MODEL_KIND_DIALOGUE  1

typedef enum { GS_DT_F32 = 0, GS_DT_U32 = 1, GS_DT_BYTES = 2 } gs_dtype_t;

typedef struct gs_tensor {
    char name[32];
    uint32_t dtype; /* gs_dtype_t */
    uint32_t ndim;
    uint64_t dims[4];
    const void *data;
    uint64_t nbytes;
    uint64_t offset; /* in the file (read side) */
    uint32_t crc;    /* CRC32C of the data (read side) */
} gs_tensor_t;

typedef struct gs_modelfile gs_modelfile_t;

/* Writes atomically (a temporary file, fsync, rename). meta_json is the
 * metadata object's text. */
gs_err_t gs_modelfile_write(const char *path, uint32_t kind, const char *meta_json,
                            const gs_tensor_t *tensors, size_t n_tensors, char *errstr,
                            size_t errstr_size);
/* Maps and fully verifies a file: size, magic, version, table bounds,
 * every tensor's CRC32C and the whole file's SHA-256. The reason for a
 * refusal is precise (which check, which tensor, which offsets). */
gs_err_t gs_modelfile_open(const char *path, gs_modelfile_t **out, char *errstr,
                           size_t errstr_size);
void gs_modelfile_close(gs_modelfile_t *mf);
uint32_t gs_modelfile_kind(const gs_modelfile_t *mf);
const char *gs_modelfile_meta(const gs_modelfile_t *mf); /* JSON text */
const char *gs_modelfile_sha256(const gs_modelfile_t *mf);
size_t gs_modelfile_size(const gs_modelfile_t *mf);
size_t gs_modelfile_count(const gs_modelfile_t *mf);
const gs_tensor_t *gs_modelfile_at(const gs_modelfile_t *mf, size_t i);
/* A tensor by name with the expected dtype and element count, or NULL
 * (errstr says why). */
const gs_tensor_t *gs_modelfile_get(const gs_modelfile_t *mf, const char *name, gs_dtype_t dtype,
                                    uint64_t elements, char *errstr, size_t errstr_size);

/* ---- the dialogue model ----------------------------------------------------
 * Features [1; c(u_t); x_t] after reading the window (c: a code of the
 * current token from a truncated SVD of the training bigram matrix, the
 * standard ESN form of SPEC 4); a ridge-regression readout
 * gives a linear estimate y of the next-token distribution; probabilities
 * are max(y, eps)^(1/T) normalised (logits log max(y, eps), softmax with
 * temperature T), eps and T fitted on validation data. Files with an
 * n-gram part (kn_* tensors, "ngram" in the metadata) mix that with the
 * Kneser-Ney trigram distribution of the window's last two tokens, for
 * every operation (gs_dmodel_ngram_weight). */
typedef struct gs_dmodel gs_dmodel_t;

gs_err_t gs_dmodel_load(const char *path, gs_dmodel_t **out, char *errstr, size_t errstr_size);
void gs_dmodel_destroy(gs_dmodel_t *m);
const char *gs_dmodel_name(const gs_dmodel_t *m);
const char *gs_dmodel_version(const gs_dmodel_t *m);
const char *gs_dmodel_sha256(const gs_dmodel_t *m);
const gs_vocab_t *gs_dmodel_vocab(const gs_dmodel_t *m);
/* The readout's weight a in the served p = a p_readout + (1 - a) p_trigram
 * (Kneser-Ney, after the window's last two tokens); 1 for files without
 * the n-gram part, which serve the readout alone. */
double gs_dmodel_ngram_weight(const gs_dmodel_t *m);

typedef enum { GS_DM_NEXT = 0, GS_DM_TOP_K = 1, GS_DM_GENERATE = 2 } gs_dm_op_t;

typedef struct gs_dm_pred {
    const char *token; /* in the model's vocabulary (lives as long as the model) */
    double probability;
} gs_dm_pred_t;

#define GS_DM_MAX_K    20
#define GS_DM_TEXT_MAX 4096

typedef struct gs_dm_query {
    const gs_str_t *turns;
    size_t n_turns;
    gs_str_t session; /* the conversation, for the state cache (empty: not cached) */
    gs_dm_op_t op;
    int k;            /* TOP_K: 1..20 */
    int max_tokens;   /* GENERATE */
    int sample_top_k; /* GENERATE: 0 greedy, else sample among the top k */
    uint64_t seed;    /* for sampling */
} gs_dm_query_t;

typedef struct gs_dm_answer {
    gs_dm_pred_t preds[GS_DM_MAX_K];
    size_t n_preds;
    char text[GS_DM_TEXT_MAX]; /* GENERATE */
    size_t text_len;
    int tokens; /* generated */
} gs_dm_answer_t;

/* Runs a batch: the windows are read together (one reservoir step for all
 * sequences at a time) and read out together (one SGEMM). */
gs_err_t gs_dmodel_run(gs_dmodel_t *m, const gs_dm_query_t *q, size_t n, gs_dm_answer_t *a,
                       char *errstr, size_t errstr_size);

/* The per-session reservoir state cache. An entry holds the window a
 * session's last query read (its token ids, at most context_tokens) and the
 * state after them. A query whose window begins with those ids reads only
 * the rest, from that state: the same bits as reading it all, since the
 * ids are compared in full (the key, a 64-bit hash of the session, only
 * finds the entry). Anything else reads the whole window and replaces the
 * entry. When a window's start moves (past context_tokens, every
 * context_step tokens: gs_dmodel_context_step) it misses and is read in
 * full, as without the cache. The cache is one slab of `bytes` (a ring of variable-length
 * entries, ids as uint16 when V <= 65,536) plus its index; the least
 * recently used entries are evicted to make room; bytes = 0 turns the
 * cache off (and frees it). The default is GS_DM_CACHE_DEFAULT_BYTES. */
#define GS_DM_CACHE_DEFAULT_BYTES ((size_t)8 << 20)
#define GS_DM_CACHE_MAX           ((size_t)16 << 30)
gs_err_t gs_dmodel_set_cache(gs_dmodel_t *m, size_t bytes, char *errstr, size_t errstr_size);
/* Bytes the cache holds now: the slab (the setting rounded down to 8)
 * plus 8 x buckets (a power of two above slab / (32 + 4 units)), allocated
 * on the first query with a session; 0 before that or when off. An entry
 * takes 32 + 4 units + 2 (or 4) x its ids, rounded up to 8.
 * gs_dmodel_set_cache empties the cache and zeroes its counters. */
size_t gs_dmodel_cache_bytes(const gs_dmodel_t *m);
typedef struct gs_dm_cache_stats {
    uint64_t hits, misses; /* queries with a session: read from a cached state, or not */
    uint64_t tokens_saved; /* tokens not read again thanks to hits */
    size_t entries;        /* live entries */
    size_t entry_bytes;    /* their bytes */
    size_t capacity;       /* the setting, bytes */
} gs_dm_cache_stats_t;
void gs_dmodel_cache_stats(const gs_dmodel_t *m, gs_dm_cache_stats_t *out);
/* The window read (the model file's context_tokens and context_step): all
 * of a request's tokens up to context_tokens; past it, from the first
 * multiple of context_step that leaves at most context_tokens (step 1, the
 * files before it: the last context_tokens, sliding with every token). */
uint32_t gs_dmodel_context_tokens(const gs_dmodel_t *m);
uint32_t gs_dmodel_context_step(const gs_dmodel_t *m);
/* The rank of the factorised readout (0: full W_out). */
uint32_t gs_dmodel_readout_rank(const gs_dmodel_t *m);

/* Full next-token distribution after a window (V probabilities), for
 * evaluation. state (units floats) may be NULL. */
gs_err_t gs_dmodel_distribution(gs_dmodel_t *m, const uint32_t *ids, size_t n, float *probs,
                                char *errstr, size_t errstr_size);

/* ---- training --------------------------------------------------------------- */
typedef struct gs_train_conf {
    gs_reservoir_conf_t reservoir;
    uint32_t vocab;            /* V, including <unk> and <eot> */
    uint32_t code_dims;        /* size of the current-token code in the features (0: none) */
    uint32_t readout_rank;     /* r of the factorised readout W_out ~ U P served (0: full) */
    uint64_t max_train_tokens; /* 0: all */
    uint64_t eval_tokens;      /* test tokens evaluated (0: all) */
    uint32_t context_tokens;   /* the served window bound (the file's context_tokens) */
    uint32_t context_step;     /* its start's step past the bound (0: context_tokens / 2) */
    const char *name, *version;
} gs_train_conf_t;

void gs_train_conf_default(gs_train_conf_t *c);

/* Trains on a corpus (one conversation per line, turns separated by TAB),
 * writes MODEL and its report (JSON, also stored in the model metadata)
 * into *report (malloc'd). Progress lines go to `progress` (NULL: none). */
gs_err_t gs_train_dialogue(const gs_train_conf_t *conf, const char *corpus, const char *out,
                           FILE *progress, char **report, char *errstr, size_t errstr_size);

#endif
