/* bench/govern [DECISIONS] - the governance core in-process (SPEC 8, issue 3):
 *   1. governance decisions per second on one core (gs_govern_decide:
 *      scope lookup, moral filter + adaptation, rhythm), and the full flow
 *      including text embedding, context retrieval and memory commit;
 *   2. PELM top-5 latency per query over a full 20,000 x 384 bank,
 *      unbatched and batched by 64 (one SGEMM per batch);
 *   3. bytes per scope, empty and full.
 * OpenBLAS runs on one thread, so every figure is per core. Prints JSON. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/govern.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static float unit(void)
{
    return (float)((double)(next() >> 11) / 9007199254740992.0);
}

static double now_s(void)
{
    return (double)gs_now_us() / 1e6;
}

static gs_govern_t *governor(const gs_lexicon_t *lx, size_t scopes, size_t capacity)
{
    gs_govern_conf_t c = {.wake_steps = 8,
                          .sleep_steps = 3,
                          .sleep_policy = GS_SLEEP_DEGRADE,
                          .sleep_max_tokens = 16,
                          .max_scopes = scopes,
                          .memory_capacity = capacity,
                          .max_memory_bytes = (size_t)2 << 30,
                          .scope_idle_us = 0};
    gs_govern_t *g;
    char err[256];
    if (gs_govern_new(&c, lx, &g, err, sizeof(err))) {
        fprintf(stderr, "bench-govern: %s\n", err);
        exit(1);
    }
    return g;
}

int main(int argc, char **argv)
{
    size_t n_decisions = argc > 1 ? (size_t)atol(argv[1]) : 4000000;
    openblas_set_num_threads(1);
    static const char *const harm[] = {"kill", "bomb"}, *const care[] = {"help", "care"};
    gs_lexicon_t *lx;
    char err[256];
    if (gs_lexicon_new(harm, 2, care, 2, &lx, err, sizeof(err)))
        return 1;

    /* 1a. decisions: 1,000 scopes (tenants), batches of 256, values given */
    enum { BATCH = 256, SCOPES = 1000 };
    gs_govern_t *g = governor(lx, SCOPES, 16);
    char keys[SCOPES][16];
    for (int i = 0; i < SCOPES; i++)
        snprintf(keys[i], sizeof(keys[i]), "tenant-%d", i);
    gs_govern_req_t reqs[BATCH];
    double t0 = now_s();
    for (size_t done = 0; done < n_decisions; done += BATCH) {
        for (int i = 0; i < BATCH; i++)
            reqs[i] = (gs_govern_req_t){
                .scope = {keys[next() % SCOPES], 0}, .has_value = 1, .value = unit()};
        for (int i = 0; i < BATCH; i++)
            reqs[i].scope.len = strlen(reqs[i].scope.p);
        gs_govern_decide(g, reqs, BATCH, err, sizeof(err));
    }
    double decide_s = now_s() - t0;
    gs_govern_destroy(g);

    /* 1b. the full flow with text: lexicon score, embedding, retrieval of
     * 5 context items and memory commit, 64 sessions, capacity 1,000 */
    static const char *const words[] = {"hello", "plan", "a",    "trip", "to",   "the",    "sea",
                                        "help",  "me",   "with", "my",   "code", "please", "now"};
    g = governor(lx, 64, 1000);
    size_t n_flow = n_decisions / 40;
    char texts[BATCH][96];
    gs_str_t turns[BATCH];
    t0 = now_s();
    for (size_t done = 0; done < n_flow; done += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            size_t len = 0;
            for (int w = 0; w < 8; w++)
                len += (size_t)snprintf(texts[i] + len, sizeof(texts[i]) - len, "%s ",
                                        words[next() % 14]);
            turns[i] = (gs_str_t){texts[i], len};
            reqs[i] = (gs_govern_req_t){.scope = {keys[next() % 64], 0},
                                        .texts = &turns[i],
                                        .n_texts = 1,
                                        .context_top_k = 5};
            reqs[i].scope.len = strlen(reqs[i].scope.p);
        }
        gs_govern_decide(g, reqs, BATCH, err, sizeof(err));
        gs_govern_memory(g, reqs, BATCH, err, sizeof(err));
    }
    double flow_s = now_s() - t0;
    gs_govern_destroy(g);

    /* 2. PELM top-5 over a full 20,000 x 384 bank */
    enum { CAP = 20000, DIM = GS_EMBED_DIM, Q = 64, ROUNDS = 20 };
    gs_pelm_t *p;
    gs_pelm_new(DIM, CAP, &p, err, sizeof(err));
    float *vec = malloc(DIM * sizeof(float)), *queries = malloc((size_t)Q * DIM * sizeof(float));
    float *scratch = malloc((size_t)Q * CAP * sizeof(float)), qphase[Q];
    gs_pelm_hit_t hits[Q * 5];
    size_t counts[Q];
    for (int i = 0; i < CAP; i++) {
        for (int d = 0; d < DIM; d++)
            vec[d] = unit() - 0.5f;
        gs_pelm_insert(p, vec, i % 4 ? GS_PHASE_WAKE_VALUE : GS_PHASE_SLEEP_VALUE, 0.9f, NULL);
    }
    for (int i = 0; i < Q * DIM; i++)
        queries[i] = unit() - 0.5f;
    for (int q = 0; q < Q; q++)
        qphase[q] = GS_PHASE_WAKE_VALUE;
    gs_pelm_retrieve(p, queries, Q, qphase, 5, scratch, hits, counts); /* warm up */
    t0 = now_s();
    for (int r = 0; r < ROUNDS; r++)
        for (int q = 0; q < Q; q++)
            gs_pelm_retrieve(p, queries + (size_t)q * DIM, 1, qphase, 5, scratch, hits, counts);
    double single_ms = (now_s() - t0) * 1e3 / (ROUNDS * Q);
    t0 = now_s();
    for (int r = 0; r < ROUNDS; r++)
        gs_pelm_retrieve(p, queries, Q, qphase, 5, scratch, hits, counts);
    double batched_ms = (now_s() - t0) * 1e3 / (ROUNDS * Q);
    size_t full_bank = gs_pelm_bytes(p);
    gs_pelm_destroy(p);

    /* 3. bytes per scope: its slot in the scope table (allocated up front
     * for max_scopes), what a new scope allocates, and a full scope */
    gs_govern_conf_t def = {.wake_steps = 8,
                            .sleep_steps = 3,
                            .sleep_policy = GS_SLEEP_DEGRADE,
                            .sleep_max_tokens = 16,
                            .max_scopes = 1024,
                            .memory_capacity = CAP,
                            .max_memory_bytes = (size_t)1 << 30,
                            .scope_idle_us = 0};
    g = governor(lx, 1024, CAP);
    gs_scope_stats_t empty_table = gs_govern_stats(g);
    gs_verdict_t v;
    gs_govern_one(g, (gs_str_t){"s", 1}, 1, 0.9, NULL, 0, 0, &v, err, sizeof(err));
    size_t new_scope = gs_govern_stats(g).bytes - empty_table.bytes;
    size_t table_slot = empty_table.bytes / 1024;
    gs_govern_destroy(g);

    printf("{\"decisions_per_s\":%.0f,\"decisions\":%zu,"
           "\"full_flow_per_s\":%.0f,\"full_flow_requests\":%zu,"
           "\"pelm_top5_ms_per_query_unbatched\":%.4f,\"pelm_top5_ms_per_query_batched64\":%.4f,"
           "\"batching_speedup\":%.2f,\"pelm_full_bank_bytes\":%zu,"
           "\"scope_table_bytes_per_slot\":%zu,\"scope_bytes_new\":%zu,"
           "\"scope_bytes_full\":%zu}\n",
           (double)n_decisions / decide_s, n_decisions, (double)n_flow / flow_s, n_flow, single_ms,
           batched_ms, single_ms / batched_ms, full_bank, table_slot, new_scope,
           gs_govern_scope_max_bytes(&def));
    free(vec);
    free(queries);
    free(scratch);
    gs_lexicon_destroy(lx);
    return 0;
}
