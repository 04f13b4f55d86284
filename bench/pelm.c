/* bench/pelm [CORPUS] - context retrieval over a full 20,000 x 384 PELM,
 * one core (issue 15, SPEC 3.4 and 8): exact search (one SGEMV per query,
 * and SGEMM for 64 queries at a time, as a batch of the worker does) and
 * the approximate index, with its recall@5 and @10 against exact search,
 * its insert cost and bytes. Two banks: embeddings of real dialogue text
 * built as scope.c builds them (a memory: a user turn and its answer; a
 * query: a user turn of a later conversation; 25,000 inserts, so the ring
 * has wrapped), from CORPUS (default .cache/data/chitchat.txt), and dense
 * random unit vectors. Prints JSON. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/chitchat.h"
#include "govstream/memory.h"

enum { DIM = GS_EMBED_DIM, CAP = 20000, N = 25000, NQ = 1000, BATCH = 64, K = 10 };

typedef struct bank {
    float *vec, *phase; /* N inserts */
    float *query;       /* NQ */
    size_t n, nq;
} bank_t;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int text_bank(const char *path, bank_t *b)
{
    chitchat_t c;
    if (chitchat_load(path, &c))
        return -1;
    size_t conv = 0;
    for (; conv < c.n_conv && b->n < N; conv++)
        for (size_t t = c.first[conv]; t + 1 < c.first[conv + 1] && b->n < N; t += 2) {
            gs_str_t pair[2] = {c.turns[t], c.turns[t + 1]};
            if (gs_embed(pair, 2, b->vec + b->n * DIM) > 0)
                b->phase[b->n++] = conv % 4 == 3 ? GS_PHASE_SLEEP_VALUE : GS_PHASE_WAKE_VALUE;
        }
    for (; conv < c.n_conv && b->nq < NQ; conv++) {
        size_t t = c.first[conv] + (((c.first[conv + 1] - c.first[conv]) / 2) & ~(size_t)1);
        if (t < c.first[conv + 1] && gs_embed(&c.turns[t], 1, b->query + b->nq * DIM) > 0)
            b->nq++;
    }
    chitchat_free(&c);
    return b->n == N && b->nq == NQ ? 0 : -1;
}

static void random_bank(bank_t *b)
{
    gs_rng_t r;
    gs_rng_seed(&r, 15);
    for (size_t i = 0; i < (size_t)(N + NQ) * DIM; i++) {
        float *v = i < (size_t)N * DIM ? b->vec + i : b->query + (i - (size_t)N * DIM);
        *v = (float)(gs_rng_unit(&r) - 0.5);
    }
    for (size_t i = 0; i < N; i++)
        b->phase[i] = i % 4 == 3 ? GS_PHASE_SLEEP_VALUE : GS_PHASE_WAKE_VALUE;
    b->n = N, b->nq = NQ;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Exact top-K of every query (SGEMM by BATCH, then the select): the
 * reference, and its time per query. */
static double exact_all(const gs_pelm_t *p, const bank_t *b, gs_pelm_hit_t *ex, size_t *ne)
{
    float *scores = malloc((size_t)BATCH * CAP * sizeof(float));
    double t0 = now_us();
    for (size_t q0 = 0; q0 < b->nq; q0 += BATCH) {
        size_t m = b->nq - q0 < BATCH ? b->nq - q0 : BATCH;
        gs_pelm_scores(p, b->query + q0 * DIM, m, scores);
        for (size_t j = 0; j < m; j++)
            ne[q0 + j] = gs_pelm_select(p, scores + j * CAP, CAP, GS_PHASE_WAKE_VALUE, NULL, 0, K,
                                        ex + (q0 + j) * K);
    }
    double us = (now_us() - t0) / (double)b->nq;
    free(scores);
    return us;
}

static double exact_single(const gs_pelm_t *p, const bank_t *b)
{
    float *scores = malloc(CAP * sizeof(float));
    gs_pelm_hit_t hits[K];
    size_t m = b->nq < 100 ? b->nq : 100;
    double t0 = now_us();
    for (size_t q = 0; q < m; q++) {
        gs_pelm_scores(p, b->query + q * DIM, 1, scores);
        gs_pelm_select(p, scores, CAP, GS_PHASE_WAKE_VALUE, NULL, 0, K, hits);
    }
    free(scores);
    return (now_us() - t0) / (double)m;
}

static void run(const char *name, const bank_t *b, int last)
{
    gs_pelm_t *p;
    gs_pelm_new(DIM, CAP, &p, NULL, 0);
    gs_pelm_set_index(p, 4096);
    double t0 = now_us();
    for (size_t i = 0; i < b->n; i++)
        gs_pelm_insert(p, b->vec + i * DIM, b->phase[i], 0.9f, NULL);
    double insert_us = (now_us() - t0) / (double)b->n;
    gs_pelm_hit_t *ex = malloc((size_t)NQ * K * sizeof(*ex)), hits[K];
    size_t *ne = malloc(NQ * sizeof(size_t)), same5 = 0, same10 = 0, n5 = 0, n10 = 0, nnz = 0;
    double batched = exact_all(p, b, ex, ne), single = exact_single(p, b),
           *lat = malloc(NQ * sizeof(double));
    for (size_t q = 0; q < b->nq; q++) {
        const float *v = b->query + q * DIM;
        for (size_t d = 0; d < DIM; d++)
            nnz += v[d] != 0.0f;
        double a = now_us(); /* k = 5: context_top_k's default */
        size_t n5i = gs_pelm_search(p, v, GS_PHASE_WAKE_VALUE, 5, hits);
        lat[q] = now_us() - a;
        same5 += hits_overlap(hits, n5i, ex + q * K, ne[q] < 5 ? ne[q] : 5);
        n5 += ne[q] < 5 ? ne[q] : 5;
        size_t n10i = gs_pelm_search(p, v, GS_PHASE_WAKE_VALUE, K, hits);
        same10 += hits_overlap(hits, n10i, ex + q * K, ne[q]);
        n10 += ne[q];
    }
    qsort(lat, b->nq, sizeof(double), cmp_double);
    printf("  \"%s\": {\"inserts\": %zu, \"queries\": %zu, \"query_nonzero_dims\": %.1f, "
           "\"exact_sgemv_us\": %.1f, \"exact_sgemm64_us\": %.1f, \"index_top5_p50_us\": %.1f, "
           "\"index_top5_p99_us\": %.1f, \"speedup_vs_sgemm64\": %.2f, \"recall_at_5\": %.4f, "
           "\"recall_at_10\": %.4f, \"insert_us\": %.2f, \"bytes\": %zu, \"index_bytes\": %zu}%s\n",
           name, b->n, b->nq, (double)nnz / (double)b->nq, single, batched, lat[b->nq / 2],
           lat[b->nq * 99 / 100], batched / lat[b->nq / 2], (double)same5 / (double)n5,
           (double)same10 / (double)n10, insert_us, gs_pelm_bytes(p), gs_pelm_index_bytes(DIM, CAP),
           last ? "" : ",");
    free(ex), free(ne), free(lat);
    gs_pelm_destroy(p);
}

int main(int argc, char **argv)
{
    const char *corpus = argc > 1 ? argv[1] : ".cache/data/chitchat.txt";
    openblas_set_num_threads(1);
    bank_t b = {.vec = malloc((size_t)N * DIM * sizeof(float)),
                .phase = malloc(N * sizeof(float)),
                .query = malloc((size_t)NQ * DIM * sizeof(float))};
    if (!b.vec || !b.phase || !b.query || text_bank(corpus, &b)) {
        fprintf(stderr, "bench-pelm: %s: cannot build the text bank (ops/data/fetch_corpus.sh)\n",
                corpus);
        free(b.vec), free(b.phase), free(b.query);
        return 1;
    }
    printf("{\"bench\": \"PELM top-k, 20,000 x 384, one core\", \"rows\": {\n");
    run("dialogue_text", &b, 0);
    b.n = b.nq = 0;
    random_bank(&b);
    run("random_dense", &b, 1);
    printf("}}\n");
    free(b.vec), free(b.phase), free(b.query);
    return 0;
}
