/* bench/dialogue MODEL CORPUS [N [MODEL2]] - dialogue model inference on
 * one core (OpenBLAS single-threaded), printed as JSON:
 *  - NEXT_TOKEN requests per second over windows taken from a corpus (one
 *    conversation per line, TAB-separated turns: every prefix of up to 4
 *    turns of a conversation is a window, no session), batched by 1, 64
 *    and 256; GENERATE (greedy, 32 tokens) per second batched by 64;
 *  - conversations replayed turn by turn as a stream would bring them
 *    (request k of a conversation carries its first k turns and the
 *    conversation's session; 1,024 conversations interleaved, round-robin,
 *    a new one taking the place of each that ends; the first 1,024 join
 *    at staggered turns, as a stream joined mid-way), batched by 256, with
 *    the state cache and without it on the same stream: the first 4 turns
 *    of each conversation ("replay4", the windows of the rows above) and
 *    whole conversations ("replay_all", whose windows pass context_tokens
 *    and slide); the hit rate and whether both gave the same bits;
 *  - a miss at the bound: a window of context_tokens tokens (the corpus's
 *    turns back to back) read from zero, alone and batched by 64, the most
 *    any request costs whatever its size;
 *  - the readout alone (256 rows through the model's W_out, or U and P),
 *    the ceiling that no reservoir speed-up can pass, in rows per second;
 *  - the same for MODEL2, when given, under "model2". */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/model.h"

#define MAX_WINDOWS 4096
#define POOL        1024 /* conversations interleaved in a replayed stream */
#define BATCH       256

typedef struct corpus {
    gs_str_t *turns; /* all conversations' turns back to back */
    size_t *first;   /* n + 1: conversation c is turns[first[c] .. first[c + 1]) */
    size_t n;
} corpus_t;

typedef struct stream {
    gs_dm_query_t *q;
    size_t n;
    char (*names)[24]; /* session names, one per replayed conversation */
} stream_t;

static double now_s(void)
{
    return (double)gs_now_us() / 1e6;
}

static int parse(char *text, corpus_t *c)
{
    size_t tabs = 1, lines = 1;
    for (char *p = text; *p; p++)
        tabs += *p == '\t' || *p == '\n', lines += *p == '\n';
    c->turns = malloc(tabs * sizeof(*c->turns));
    c->first = malloc((lines + 1) * sizeof(*c->first));
    if (!c->turns || !c->first)
        return -1;
    size_t nt = 0;
    c->n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        c->first[c->n++] = nt;
        for (char *p = line; p;) {
            char *tab = strchr(p, '\t');
            c->turns[nt++] = (gs_str_t){p, tab ? (size_t)(tab - p) : strlen(p)};
            p = tab ? tab + 1 : NULL;
        }
    }
    c->first[c->n] = nt;
    return 0;
}

/* The windows of the batch rows: the first 1..4 turns of the first
 * conversations, without a session. */
static size_t windows(const corpus_t *c, gs_dm_query_t *q)
{
    size_t nw = 0;
    for (size_t i = 0; i < c->n && nw < MAX_WINDOWS; i++) {
        size_t nt = c->first[i + 1] - c->first[i];
        for (size_t k = 1; k <= nt && k <= 4 && nw < MAX_WINDOWS; k++, nw++)
            q[nw] = (gs_dm_query_t){.turns = c->turns + c->first[i],
                                    .n_turns = k,
                                    .op = GS_DM_NEXT,
                                    .k = 1,
                                    .max_tokens = 32,
                                    .seed = nw};
    }
    return nw;
}

/* n requests replaying conversations (their first max_turns turns) from
 * POOL interleaved sessions; conversations are reused, under new session
 * names, when the corpus runs out. */
static int build_stream(const corpus_t *c, size_t max_turns, size_t n, stream_t *s)
{
    s->q = malloc(n * sizeof(*s->q));
    s->names = malloc(n * sizeof(*s->names));
    size_t conv[POOL], name[POOL], turn[POOL] = {0}, used = 0; /* turn 0: a free slot */
    if (!s->q || !s->names || !c->n)
        return -1; /* the caller frees */
    s->n = 0;
    while (s->n < n) {
        for (size_t i = 0; i < POOL && s->n < n; i++) {
            if (!turn[i]) { /* a new conversation in this slot */
                conv[i] = used % c->n, name[i] = used, turn[i] = 1;
                size_t nt = c->first[conv[i] + 1] - c->first[conv[i]];
                if (used < POOL) /* the first ones joined mid-way: a steady state at once */
                    turn[i] = 1 + i % (nt < max_turns ? nt : max_turns);
                snprintf(s->names[used], sizeof(s->names[used]), "session-%zu", used);
                used++;
            }
            size_t nt = c->first[conv[i] + 1] - c->first[conv[i]], k = turn[i];
            const char *nm = s->names[name[i]];
            s->q[s->n] = (gs_dm_query_t){.turns = c->turns + c->first[conv[i]],
                                         .n_turns = k,
                                         .session = {nm, strlen(nm)},
                                         .op = GS_DM_NEXT,
                                         .k = 1,
                                         .max_tokens = 32,
                                         .seed = s->n};
            s->n++;
            turn[i] = k >= nt || k >= max_turns ? 0 : k + 1;
        }
    }
    return 0;
}

/* The stream in batches of BATCH: requests per second, and a hash of the
 * answers' bits (tokens and probabilities). */
static double run_stream(gs_dmodel_t *m, const stream_t *s, gs_dm_answer_t *a, uint64_t *hash)
{
    char err[256];
    *hash = 1469598103934665603ull;
    double t0 = now_s();
    for (size_t i = 0; i + BATCH <= s->n; i += BATCH) {
        if (gs_dmodel_run(m, s->q + i, BATCH, a, err, sizeof(err))) {
            fprintf(stderr, "bench-dialogue: %s\n", err);
            exit(1);
        }
        for (size_t j = 0; j < BATCH; j++) {
            uint64_t bits[2] = {(uint64_t)(uintptr_t)a[j].preds[0].token, 0};
            memcpy(&bits[1], &a[j].preds[0].probability, sizeof(double));
            *hash = (*hash ^ bits[0]) * 1099511628211ull;
            *hash = (*hash ^ bits[1]) * 1099511628211ull;
        }
    }
    size_t done = s->n / BATCH * BATCH; /* whole batches only */
    return (double)done / (now_s() - t0);
}

typedef struct replay {
    double on, off, hit_rate, saved_per_request;
    size_t bytes, entries, entry_bytes; /* the cache's, after the stream */
    int identical;
} replay_t;

static replay_t replay(gs_dmodel_t *m, const stream_t *s, gs_dm_answer_t *a)
{
    char err[256];
    replay_t r;
    uint64_t h_on, h_off;
    gs_dm_cache_stats_t st;
    gs_dmodel_set_cache(m, GS_DM_CACHE_DEFAULT_BYTES, err, sizeof(err)); /* empty, zeroed */
    r.on = run_stream(m, s, a, &h_on);
    gs_dmodel_cache_stats(m, &st);
    r.bytes = gs_dmodel_cache_bytes(m);
    r.entries = st.entries, r.entry_bytes = st.entry_bytes;
    r.hit_rate = st.hits + st.misses ? (double)st.hits / (double)(st.hits + st.misses) : 0;
    r.saved_per_request = (double)st.tokens_saved / (double)(st.hits + st.misses);
    gs_dmodel_set_cache(m, 0, err, sizeof(err));
    r.off = run_stream(m, s, a, &h_off);
    r.identical = h_on == h_off;
    gs_dmodel_set_cache(m, GS_DM_CACHE_DEFAULT_BYTES, err, sizeof(err));
    return r;
}

typedef struct bound {
    size_t tokens;
    double us_batch1, per_s_batch64;
} bound_t;

/* A miss at the bound: the corpus's first turns, as many as make
 * context_tokens tokens, read from zero (no session). */
static bound_t bound_miss(gs_dmodel_t *m, const corpus_t *c, gs_dm_answer_t *a)
{
    char err[256];
    bound_t b = {0};
    uint32_t *ids = NULL;
    size_t k = 0, cap = 0, total = c->first[c->n];
    while (k < total && b.tokens < gs_dmodel_context_tokens(m)) {
        b.tokens = 0;
        k++;
        gs_vocab_encode_turns(gs_dmodel_vocab(m), c->turns, k, &ids, &b.tokens, &cap);
    }
    free(ids);
    gs_dm_query_t q[64];
    for (int i = 0; i < 64; i++)
        q[i] = (gs_dm_query_t){.turns = c->turns, .n_turns = k, .op = GS_DM_NEXT, .k = 1};
    double t0 = now_s();
    for (int rep = 0; rep < 8; rep++)
        gs_dmodel_run(m, q, 1, a, err, sizeof(err));
    b.us_batch1 = (now_s() - t0) / 8 * 1e6;
    t0 = now_s();
    for (int rep = 0; rep < 2; rep++)
        gs_dmodel_run(m, q, 64, a, err, sizeof(err));
    b.per_s_batch64 = 128 / (now_s() - t0);
    return b;
}

/* The model's readout alone on 256 rows: W_out, or U and P. */
static double readout_rate(const char *path, long n, uint32_t rank)
{
    char err[256];
    gs_modelfile_t *mf;
    if (gs_modelfile_open(path, &mf, err, sizeof(err))) {
        fprintf(stderr, "bench-dialogue: %s\n", err);
        exit(1);
    }
    const gs_tensor_t *w =
        gs_modelfile_get(mf, rank ? "w_out_u" : "w_out", GS_DT_F32, 0, err, sizeof(err));
    const gs_tensor_t *p =
        rank ? gs_modelfile_get(mf, "w_out_p", GS_DT_F32, 0, err, sizeof(err)) : NULL;
    const int V = (int)w->dims[0], D = rank ? (int)p->dims[1] : (int)w->dims[1], r = (int)rank;
    float *phi = calloc((size_t)BATCH * D, sizeof(float)),
          *y = malloc((size_t)BATCH * V * sizeof(float)), *z = malloc((size_t)BATCH * 256 * 4);
    for (size_t i = 0; i < (size_t)BATCH * D; i++)
        phi[i] = (float)(i % 7) * 0.1f;
    double t0 = now_s();
    long rows = 0;
    for (; rows < n; rows += BATCH) {
        if (!rank) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, V, D, 1.0f, phi, D, w->data,
                        D, 0.0f, y, V);
            continue;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, r, D, 1.0f, phi, D, p->data, D,
                    0.0f, z, r);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BATCH, V, r, 1.0f, z, r, w->data, r,
                    0.0f, y, V);
    }
    double rate = (double)rows / (now_s() - t0);
    free(phi), free(y), free(z);
    gs_modelfile_close(mf);
    return rate;
}

/* Every row for one model, as a JSON object's members (no braces). */
static void bench_model(const char *path, const corpus_t *c, const stream_t *s4,
                        const stream_t *sall, long n, FILE *out)
{
    char err[512];
    gs_dmodel_t *m;
    if (gs_dmodel_load(path, &m, err, sizeof(err))) {
        fprintf(stderr, "bench-dialogue: %s\n", err);
        exit(1);
    }
    gs_dm_query_t *q = malloc(MAX_WINDOWS * sizeof(*q));
    gs_dm_answer_t *a = malloc(BATCH * sizeof(*a));
    size_t nw = windows(c, q);
    if (nw <= BATCH) {
        fprintf(stderr, "bench-dialogue: the corpus gives %zu windows; 257 or more needed\n", nw);
        exit(1);
    }
    double rate[3];
    size_t batches[3] = {1, 64, BATCH};
    for (int r = 0; r < 3; r++) {
        size_t B = batches[r];
        gs_dmodel_run(m, q, B, a, err, sizeof(err)); /* warm up */
        double t0 = now_s();
        long done = 0;
        for (size_t i = 0; done < n; i = (i + B) % (nw - B), done += (long)B)
            gs_dmodel_run(m, q + i, B, a, err, sizeof(err));
        rate[r] = (double)done / (now_s() - t0);
    }
    for (size_t i = 0; i < 64; i++)
        q[i].op = GS_DM_GENERATE;
    double t0 = now_s();
    long gens = 0;
    for (int rep = 0; rep < 4; rep++, gens += 64)
        gs_dmodel_run(m, q, 64, a, err, sizeof(err));
    double gen_rate = (double)gens / (now_s() - t0);
    replay_t r4 = replay(m, s4, a), ra = replay(m, sall, a);
    bound_t bd = bound_miss(m, c, a);
    uint32_t rank = gs_dmodel_readout_rank(m);
    double ro = readout_rate(path, n, rank);
    fprintf(out,
            "\"model\":\"%s\",\"sha256\":\"%s\",\"windows\":%zu,\"next_token_per_s_batch1\":%.0f,"
            "\"next_token_per_s_batch64\":%.0f,\"next_token_per_s_batch256\":%.0f,"
            "\"batching_speedup\":%.2f,\"generate32_per_s_batch64\":%.1f,"
            "\"readout_sgemm_rows_per_s\":%.0f,\"next_token_vs_readout_ceiling\":%.2f,"
            "\"readout_rank\":%u,\"context_tokens\":%u,\"cache_bytes\":%zu,"
            "\"cache_entries_after_replay_all\":%zu,\"cache_entry_bytes_after_replay_all\":%zu,"
            "\"bound_miss_tokens\":%zu,\"bound_miss_us_batch1\":%.0f,"
            "\"bound_miss_per_s_batch64\":%.1f",
            path, gs_dmodel_sha256(m), nw, rate[0], rate[1], rate[2], rate[2] / rate[0], gen_rate,
            ro, rate[2] / ro, rank, gs_dmodel_context_tokens(m), ra.bytes, ra.entries,
            ra.entry_bytes, bd.tokens, bd.us_batch1, bd.per_s_batch64);
    const replay_t *rs[2] = {&r4, &ra};
    const char *names[2] = {"replay4", "replay_all"};
    for (int i = 0; i < 2; i++)
        fprintf(out,
                ",\"%s_next_token_per_s_batch256_cache\":%.0f,"
                "\"%s_next_token_per_s_batch256_nocache\":%.0f,\"%s_cache_hit_rate\":%.4f,"
                "\"%s_tokens_saved_per_request\":%.1f,\"%s_cache_identical\":%s",
                names[i], rs[i]->on, names[i], rs[i]->off, names[i], rs[i]->hit_rate, names[i],
                rs[i]->saved_per_request, names[i], rs[i]->identical ? "true" : "false");
    free(q), free(a);
    gs_dmodel_destroy(m);
}

/* Every row of the JSON: the model, and a second one if given. */
static void run_all(char **argv, int argc, const corpus_t *c, const stream_t *s4,
                    const stream_t *sall, long n)
{
    printf("{");
    bench_model(argv[1], c, s4, sall, n, stdout);
    if (argc > 4) {
        printf(",\"model2\":{");
        bench_model(argv[4], c, s4, sall, n, stdout);
        printf("}");
    }
    printf("}\n");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench-dialogue MODEL CORPUS [N [MODEL2]]\n");
        return 2;
    }
    long n = argc > 3 ? atol(argv[3]) : 20000;
    openblas_set_num_threads(1);
    char err[512], *text;
    size_t len;
    corpus_t c = {0};
    stream_t s4 = {0}, sall = {0};
    if (gs_read_file(argv[2], &text, &len, err, sizeof(err))) {
        fprintf(stderr, "bench-dialogue: %s\n", err);
        return 1;
    }
    int bad = parse(text, &c) || build_stream(&c, 4, (size_t)n, &s4) ||
              build_stream(&c, SIZE_MAX, (size_t)n, &sall);
    if (bad)
        fprintf(stderr, "bench-dialogue: out of memory, or a corpus without conversations\n");
    else
        run_all(argv, argc, &c, &s4, &sall, n);
    free(s4.q), free(s4.names), free(sall.q), free(sall.names);
    free(c.turns), free(c.first), free(text);
    return bad;
}
