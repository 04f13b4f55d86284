/* Unit tests of the governance flow with memory (SPEC 3.3-3.6): decide +
 * memory in micro-batches against one-by-one processing, context growth,
 * the memory budget and its exact accounting, idle eviction and scope
 * snapshots. Snapshots are also parsed independently (the format documented
 * in src/govern/snapshot.c) so that tests can see a scope's memory. Property
 * tests use fixed seeds and print the seed and request when they fail. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "govstream/common.h"
#include "govstream/config.h"
#include "govstream/govern.h"
#include "govstream/memory.h"

#define DIM GS_EMBED_DIM
/* Bytes of a PELM row (vector, phase, confidence, norm, id and its
 * length) and of a write-buffer entry (vector, confidence, id length
 * padded to 4, id). */
#define ROW_BYTES (((DIM) + 3) * 4 + GS_MEMORY_ID_MAX + 1)
#define BUF_ENTRY ((DIM)*4 + 4 + 4 + GS_MEMORY_ID_MAX)

/* ---- fixture: what a test allocates is freed even when it fails --------- */

#define FX_MAX 64

typedef struct fx {
    gs_lexicon_t *lx;
    gs_govern_t *g[FX_MAX];
    size_t n_g;
    void *mem[FX_MAX];
    size_t n_mem;
    struct clog *logs[FX_MAX];
    size_t n_logs;
} fx_t;

static void clog_free(struct clog *l);

static int fx_setup(void **state)
{
    fx_t *f = calloc(1, sizeof(fx_t));
    if (!f)
        return -1;
    const char *harm[] = {"kill", "attack", "bomb"}, *care[] = {"help", "kind", "peace", "love"};
    char err[256];
    if (gs_lexicon_new(harm, 3, care, 4, &f->lx, err, sizeof(err))) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx_t *f = *state;
    for (size_t i = 0; i < f->n_g; i++)
        gs_govern_destroy(f->g[i]);
    for (size_t i = 0; i < f->n_mem; i++)
        free(f->mem[i]);
    for (size_t i = 0; i < f->n_logs; i++)
        clog_free(f->logs[i]);
    gs_lexicon_destroy(f->lx);
    free(f);
    return 0;
}

static gs_govern_t *fx_govern(fx_t *f, const gs_govern_conf_t *conf)
{
    char err[256] = "";
    gs_govern_t *g = NULL;
    assert_true(f->n_g < FX_MAX);
    if (gs_govern_new(conf, f->lx, &g, err, sizeof(err)))
        fail_msg("gs_govern_new: %s", err);
    f->g[f->n_g++] = g;
    return g;
}

/* Destroys a governor made with fx_govern before the test ends. */
static void fx_govern_drop(fx_t *f, gs_govern_t *g)
{
    for (size_t i = 0; i < f->n_g; i++)
        if (f->g[i] == g) {
            gs_govern_destroy(g);
            f->g[i] = f->g[--f->n_g];
            return;
        }
    fail_msg("governor not in the fixture");
}

/* Takes ownership of a malloc'd block (freed in teardown). */
static void *fx_own(fx_t *f, void *p)
{
    assert_non_null(p);
    if (f->n_mem == FX_MAX) {
        free(p);
        fail_msg("fixture full: a test keeps more than %d blocks", FX_MAX);
        return NULL; /* not reached: fail_msg ends the test (GCC cannot tell) */
    }
    f->mem[f->n_mem++] = p;
    return p;
}

static void fx_free(fx_t *f, void *p)
{
    for (size_t i = 0; i < f->n_mem; i++)
        if (f->mem[i] == p) {
            free(p);
            f->mem[i] = f->mem[--f->n_mem];
            return;
        }
    fail_msg("block not in the fixture");
}

static gs_str_t S(const char *s)
{
    return (gs_str_t){s, strlen(s)};
}

static gs_govern_conf_t make_conf(uint32_t wake, uint32_t sleep, int policy, size_t capacity,
                                  size_t max_bytes)
{
    gs_govern_conf_t c = {.wake_steps = wake,
                          .sleep_steps = sleep,
                          .sleep_policy = policy,
                          .sleep_max_tokens = 16,
                          .max_scopes = 8,
                          .memory_capacity = capacity,
                          .max_memory_bytes = max_bytes,
                          .scope_idle_us = 0};
    return c;
}

/* ---- snapshots, parsed from the documented format ----------------------- */

typedef struct snap {
    uint16_t version;
    uint32_t dim;
    char key[129];
    int32_t t20;
    double ema;
    uint32_t wake, sleep, pos;
    uint64_t steps, accepted, rejected;
    int syn;
    const uint8_t *syn_data; /* 3 x dim floats when syn */
    uint32_t buf_cap, buf_n;
    const uint8_t *buf[64]; /* buf_n entries: conf, id, dim floats */
    uint32_t capacity, size, head;
    const uint8_t *slots;      /* size x (phase, conf, norm, id, dim floats) */
    const uint8_t *slot[1024]; /* each slot's record (ids make them variable) */
} snap_t;

/* A memory id (u8 length, bytes) at p: its total length. */
static size_t id_bytes(const uint8_t *p)
{
    return 1 + (size_t)p[0];
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static float rdf(const uint8_t *p)
{
    uint32_t u = rd32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Parses and checks a snapshot: magic, CRC, lengths. */
static void parse_snapshot(const uint8_t *d, size_t len, snap_t *s)
{
    memset(s, 0, sizeof(*s));
    assert_true(len >= 12);
    assert_memory_equal(d, "GSSN", 4);
    if (gs_crc32c(0, d, len - 4) != rd32(d + len - 4))
        fail_msg("snapshot CRC32C does not match");
    size_t o = 4;
    s->version = (uint16_t)(d[o] | d[o + 1] << 8);
    o += 4;
    s->dim = rd32(d + o);
    o += 4;
    uint32_t kl = rd32(d + o);
    o += 4;
    assert_true(kl >= 1 && kl <= 128 && o + kl < len);
    memcpy(s->key, d + o, kl);
    s->key[kl] = 0;
    o += kl;
    s->t20 = (int32_t)rd32(d + o);
    o += 4;
    uint64_t e = rd64(d + o);
    memcpy(&s->ema, &e, 8);
    o += 8;
    s->wake = rd32(d + o);
    s->sleep = rd32(d + o + 4);
    s->pos = rd32(d + o + 8);
    o += 12;
    s->steps = rd64(d + o);
    s->accepted = rd64(d + o + 8);
    s->rejected = rd64(d + o + 16);
    o += 24;
    s->syn = d[o++];
    s->syn_data = d + o;
    if (s->syn)
        o += 3 * (size_t)s->dim * 4;
    assert_true(o + 8 <= len);
    s->buf_cap = rd32(d + o);
    s->buf_n = rd32(d + o + 4);
    o += 8;
    assert_true(s->version == 2 && s->buf_n <= 64);
    for (uint32_t b = 0; b < s->buf_n; b++) {
        assert_true(o + 5 <= len);
        s->buf[b] = d + o;
        o += 4 + id_bytes(d + o + 4) + (size_t)s->dim * 4;
    }
    assert_true(o + 12 <= len);
    s->capacity = rd32(d + o);
    s->size = rd32(d + o + 4);
    s->head = rd32(d + o + 8);
    o += 12;
    s->slots = d + o;
    assert_true(s->size <= 1024);
    for (uint32_t slot = 0; slot < s->size; slot++) {
        assert_true(o + 13 <= len);
        s->slot[slot] = d + o;
        o += 12 + id_bytes(d + o + 12) + (size_t)s->dim * 4;
    }
    if (o + 4 != len)
        fail_msg("snapshot of %zu bytes, its content says %zu", len, o + 4);
}

static float snap_phase(const snap_t *s, uint32_t slot)
{
    return rdf(s->slot[slot]);
}

static float snap_conf(const snap_t *s, uint32_t slot)
{
    return rdf(s->slot[slot] + 4);
}

static float snap_norm(const snap_t *s, uint32_t slot)
{
    return rdf(s->slot[slot] + 8);
}

/* The slot's memory id as a string (at most 128 bytes). */
static void snap_id(const snap_t *s, uint32_t slot, char out[129])
{
    const uint8_t *p = s->slot[slot] + 12;
    memcpy(out, p + 1, p[0]);
    out[p[0]] = 0;
}

static float snap_vec(const snap_t *s, uint32_t slot, size_t i)
{
    const uint8_t *p = s->slot[slot] + 12;
    return rdf(p + id_bytes(p) + 4 * i);
}

/* Snapshot of key (owned by the fixture until fx_free). */
static uint8_t *take_snapshot(fx_t *f, gs_govern_t *g, const char *key, size_t *len)
{
    uint8_t *d = NULL;
    char err[256] = "";
    gs_err_t e = gs_govern_snapshot(g, 0, S(key), &d, len, err, sizeof(err));
    if (e)
        fail_msg("snapshot of \"%s\": %d %s", key, (int)e, err);
    return fx_own(f, d);
}

static void snapshot_of(fx_t *f, gs_govern_t *g, const char *key, snap_t *s)
{
    size_t len;
    uint8_t *d = take_snapshot(f, g, key, &len);
    parse_snapshot(d, len, s);
    s->slots = NULL; /* d may be recycled */
    fx_free(f, d);
}

/* ---- random requests ------------------------------------------------------ */

static const char *const keys[] = {"alpha", "beta", "gamma", "delta"};

static const char *const phrases[] = {
    "hello world",
    "Hello, world!",
    "the dog bites the man",
    "the man bites the dog",
    "please help me",
    "kill the process",
    "peace and love",
    "kind words help",
    "attack at dawn",
    "world peace",
    "hello",
    "memory phase sleep wake",
    "bomb the bug, kindly",
    "",
    "?!",
    "the quick brown fox",
};
#define N_PHRASES (sizeof(phrases) / sizeof(phrases[0]))

#define MAXT 3

typedef struct rq {
    int key; /* index into keys, -1: an empty (invalid) key */
    int has_value;
    double value;
    size_t n_texts;
    gs_str_t texts[MAXT];
    int top_k;
    gs_str_t output;  /* set after decide (batched runs only) */
    int clear_commit; /* the caller's output checks failed */
    char id[24];      /* its memory id */
} rq_t;

static void random_request(rq_t *r, size_t n_keys)
{
    static const double values[] = {0.0, 0.1, 0.29, 0.3,  0.35, 0.45, 0.5, 0.55,
                                    0.6, 0.7, 0.8,  0.85, 0.9,  0.95, 1.0};
    memset(r, 0, sizeof(*r));
    r->key = rng_below(100) == 0 ? -1 : (int)rng_below((uint32_t)n_keys);
    r->has_value = rng_below(5) != 0;
    uint32_t pick = rng_below(40);
    if (pick == 0)
        r->value = rng_below(2) ? NAN : 1.5; /* invalid */
    else if (pick == 1)
        r->value = -0.1;
    else if (pick < 8)
        r->value = rng_unit();
    else
        r->value = values[rng_below(sizeof(values) / sizeof(values[0]))];
    r->n_texts = rng_below(20) == 0 ? 0 : 1 + rng_below(MAXT);
    for (size_t t = 0; t < r->n_texts; t++)
        r->texts[t] = S(phrases[rng_below(N_PHRASES)]);
    r->top_k = rng_below(25) == 0 ? 0 : 1 + (int)rng_below(20);
    snprintf(r->id, sizeof(r->id), "r%08x", (unsigned)rng_below(UINT32_MAX));
}

/* Also an output for some requests and a cleared commit for others. */
static void random_model_result(rq_t *r)
{
    if (rng_below(2))
        r->output = S(phrases[rng_below(N_PHRASES)]);
    r->clear_commit = rng_below(8) == 0;
}

static gs_str_t rq_key(const rq_t *r)
{
    return r->key >= 0 ? S(keys[r->key]) : S("");
}

/* What a request retrieved: its verdict and context items. */
typedef struct outcome {
    gs_err_t err;
    gs_verdict_t v;
    gs_context_item_t context[GS_CONTEXT_MAX];
} outcome_t;

/* decide + memory over rs[0..n); results in reqs, their context in out. */
static void run_batch(gs_govern_t *g, const rq_t *rs, size_t n, gs_govern_req_t *reqs,
                      outcome_t *out)
{
    char err[256] = "";
    for (size_t i = 0; i < n; i++) {
        memset(&reqs[i], 0, sizeof(reqs[i]));
        reqs[i].scope = rq_key(&rs[i]);
        reqs[i].has_value = rs[i].has_value;
        reqs[i].value = rs[i].value;
        reqs[i].texts = rs[i].texts;
        reqs[i].n_texts = rs[i].n_texts;
        reqs[i].context_top_k = rs[i].top_k;
        reqs[i].memory_id = S(rs[i].id);
        reqs[i].context = out[i].context;
    }
    if (gs_govern_decide(g, reqs, n, err, sizeof(err)))
        fail_msg("decide: %s", err);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(reqs[i].commit, reqs[i].err ? 0 : reqs[i].v.accepted);
        if (rs[i].clear_commit)
            reqs[i].commit = 0;
        reqs[i].output = rs[i].output;
    }
    if (gs_govern_memory(g, reqs, n, err, sizeof(err)))
        fail_msg("memory: %s", err);
    for (size_t i = 0; i < n; i++) {
        out[i].err = reqs[i].err;
        out[i].v = reqs[i].v;
    }
}

/* One request on its own, as a batch of one. */
static void run_one(gs_govern_t *g, const rq_t *r, outcome_t *out)
{
    gs_govern_req_t req;
    run_batch(g, r, 1, &req, out);
}

/* The same memories retrieved, in the same order: the scores agree to
 * rounding (a batch scores with SGEMM, a lone query with SGEMV), so two
 * memories whose scores tie within it may trade places. */
static void check_context(const char *ctx, size_t i, const outcome_t *a, const outcome_t *b)
{
    for (int32_t c = 0; c < a->v.context_items && c < b->v.context_items; c++) {
        const gs_context_item_t *x = &a->context[c], *y = &b->context[c];
        int same_id = x->id_len == y->id_len && !memcmp(x->id, y->id, x->id_len);
        if (!(fabsf(x->score - y->score) <= 1e-5f) || x->phase != y->phase ||
            (!same_id && !(fabsf(x->score - y->score) <= 1e-6f)))
            fail_msg("%s request %zu: context %d is %.*s %.9g %.2g one by one, %.*s %.9g %.2g "
                     "batched",
                     ctx, i, (int)c, (int)x->id_len, x->id, (double)x->score, (double)x->phase,
                     (int)y->id_len, y->id, (double)y->score, (double)y->phase);
    }
}

static void check_verdict(const char *ctx, size_t i, gs_err_t ea, const gs_verdict_t *a,
                          gs_err_t eb, const gs_verdict_t *b)
{
    if (ea != eb)
        fail_msg("%s request %zu: error %d one by one, %d batched", ctx, i, (int)ea, (int)eb);
    const char *na = a->note ? a->note : "(null)", *nb = b->note ? b->note : "(null)";
    if (a->accepted != b->accepted || strcmp(na, nb) || a->phase != b->phase ||
        a->step != b->step || !(a->moral_threshold == b->moral_threshold) ||
        !(a->moral_value == b->moral_value) || a->context_items != b->context_items ||
        a->max_tokens_cap != b->max_tokens_cap)
        fail_msg("%s request %zu: one by one {accepted %d, \"%s\", phase %d, step %lld, "
                 "threshold %.17g, value %.17g, context %d, cap %d} vs batched {%d, \"%s\", %d, "
                 "%lld, %.17g, %.17g, %d, %d}",
                 ctx, i, a->accepted, na, (int)a->phase, (long long)a->step, a->moral_threshold,
                 a->moral_value, (int)a->context_items, a->max_tokens_cap, b->accepted, nb,
                 (int)b->phase, (long long)b->step, b->moral_threshold, b->moral_value,
                 (int)b->context_items, b->max_tokens_cap);
}

/* ---- an independent model of decide (SPEC 3.1-3.3) ---------------------- */

typedef struct ref_scope {
    int t20;
    double ema;
    int64_t steps;
} ref_scope_t;

static int ref_moral_accept(double v, int t20)
{
    return v >= 0.90 ? 1 : v < 0.30 ? 0 : v >= t20 / 20.0;
}

/* Lexicon value of the texts for the fixture's word lists, in twentieths. */
static double ref_lexicon(const gs_str_t *texts, size_t n)
{
    static const char *const harm[] = {"kill", "attack", "bomb"}, *const care[] = {"help", "kind",
                                                                                   "peace", "love"};
    int k = 16;
    for (size_t t = 0; t < n; t++) {
        const char *p = texts[t].p, *end = p + texts[t].len;
        while (p < end) {
            char w[32];
            size_t l = 0;
            while (p < end && !(((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z') || *p == '\''))
                p++;
            while (p < end && (((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z') || *p == '\'')) {
                if (l < sizeof(w) - 1)
                    w[l++] = (char)(*p | 0x20);
                p++;
            }
            w[l] = 0;
            for (size_t i = 0; l && i < 3; i++)
                k -= 3 * !strcmp(w, harm[i]);
            for (size_t i = 0; l && i < 4; i++)
                k += !strcmp(w, care[i]);
        }
    }
    return (k < 0 ? 0 : k > 20 ? 20 : k) / 20.0;
}

/* Checks a verdict against the model (and advances it). */
static void check_model(const char *ctx, size_t i, const rq_t *r, gs_err_t err,
                        const gs_verdict_t *v, ref_scope_t *scopes, const gs_govern_conf_t *c)
{
    int invalid = r->key < 0 || (r->has_value && !(r->value >= 0 && r->value <= 1));
    if (invalid) {
        if (err != GS_ERR_VALIDATION || v->step != 0 || v->accepted || v->context_items)
            fail_msg("%s request %zu: invalid, but error %d step %lld", ctx, i, (int)err,
                     (long long)v->step);
        return;
    }
    if (err)
        fail_msg("%s request %zu: error %d", ctx, i, (int)err);
    ref_scope_t *s = &scopes[r->key];
    if (!s->steps && !s->t20) {
        s->t20 = 10;
        s->ema = 0.5;
    }
    double value = r->has_value ? r->value : ref_lexicon(r->texts, r->n_texts);
    gs_phase_t phase = (uint64_t)s->steps % (c->wake_steps + c->sleep_steps) < c->wake_steps
                           ? GS_PHASE_WAKE
                           : GS_PHASE_SLEEP;
    int moral = ref_moral_accept(value, s->t20);
    int sleep_reject = moral && phase == GS_PHASE_SLEEP && c->sleep_policy == GS_SLEEP_REJECT;
    const char *note = !moral ? "morally rejected" : sleep_reject ? "sleep phase" : "processed";
    int accepted = moral && !sleep_reject;
    int max_ctx = !accepted || r->top_k <= 0 || !r->n_texts ? 0 : r->top_k < 20 ? r->top_k : 20;
    if (max_ctx > (int)c->memory_capacity)
        max_ctx = (int)c->memory_capacity;
    if (v->step != s->steps + 1 || v->phase != phase || !(v->moral_value == value) ||
        !(v->moral_threshold == s->t20 / 20.0) || v->accepted != accepted ||
        strcmp(v->note ? v->note : "", note) || v->context_items < 0 ||
        v->context_items > max_ctx ||
        (accepted && v->max_tokens_cap != (phase == GS_PHASE_WAKE ? 256 : c->sleep_max_tokens)))
        fail_msg("%s request %zu: step %lld phase %d value %.17g threshold %.17g accepted %d "
                 "\"%s\" context %d cap %d; model: %lld %d %.17g %.17g %d \"%s\" context <= %d",
                 ctx, i, (long long)v->step, (int)v->phase, v->moral_value, v->moral_threshold,
                 v->accepted, v->note ? v->note : "(null)", (int)v->context_items,
                 v->max_tokens_cap, (long long)s->steps + 1, (int)phase, value, s->t20 / 20.0,
                 accepted, note, max_ctx);
    s->steps++;
    s->ema = 0.1 * moral + 0.9 * s->ema;
    int t = s->t20 + (s->ema - 0.5 > 0.05 + 1e-9) - (s->ema - 0.5 < -0.05 - 1e-9);
    s->t20 = t < 6 ? 6 : t > 18 ? 18 : t;
}

/* Snapshots of every key must be byte-identical (or both absent). */
static void check_same_scopes(fx_t *f, const char *ctx, gs_govern_t *a, gs_govern_t *b,
                              size_t n_keys)
{
    for (size_t k = 0; k < n_keys; k++) {
        uint8_t *da = NULL, *db = NULL;
        size_t la = 0, lb = 0;
        char err[256];
        gs_err_t ea = gs_govern_snapshot(a, 0, S(keys[k]), &da, &la, err, sizeof(err));
        gs_err_t eb = gs_govern_snapshot(b, 0, S(keys[k]), &db, &lb, err, sizeof(err));
        if (da)
            fx_own(f, da);
        if (db)
            fx_own(f, db);
        if (ea != eb)
            fail_msg("%s: snapshot of \"%s\": %d vs %d", ctx, keys[k], (int)ea, (int)eb);
        if (!ea && (la != lb || memcmp(da, db, la))) {
            size_t at = 0;
            while (at < la && at < lb && da[at] == db[at])
                at++;
            fail_msg("%s: snapshots of \"%s\" differ (%zu vs %zu bytes, first at byte %zu)", ctx,
                     keys[k], la, lb, at);
        }
        if (da)
            fx_free(f, da);
        if (db)
            fx_free(f, db);
    }
}

/* ==== 1. batch equivalence ================================================== */

static void test_batch_equivalence(void **state)
{
    fx_t *f = *state;
    enum { N = 400, SEEDS = 30 };
    rq_t *rs = fx_own(f, calloc(N, sizeof(rq_t)));
    outcome_t *oa = fx_own(f, calloc(N, sizeof(outcome_t)));
    outcome_t *ob = fx_own(f, calloc(200, sizeof(outcome_t)));
    gs_govern_req_t *reqs = fx_own(f, calloc(200, sizeof(gs_govern_req_t)));
    unsigned long long total_context = 0, wraps = 0;
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        for (int policy = GS_SLEEP_DEGRADE; policy <= GS_SLEEP_REJECT; policy++) {
            char ctx[96];
            snprintf(ctx, sizeof(ctx), "seed %llu policy %s%s", (unsigned long long)seed,
                     policy == GS_SLEEP_REJECT ? "reject" : "degrade",
                     seed % 2 == 0 ? " with outputs" : "");
            rng_seed(seed * 0x9E3779B97F4A7C15ull + (uint64_t)policy);
            for (size_t i = 0; i < N; i++)
                random_request(&rs[i], 3);
            /* every other seed: the model's outputs too (set after decide,
             * cleared commits) */
            int with_outputs = seed % 2 == 0;
            if (with_outputs)
                for (size_t i = 0; i < N; i++)
                    random_model_result(&rs[i]);
            gs_govern_conf_t conf = make_conf(3, 2, policy, 16, 64u << 20);
            gs_govern_t *a = fx_govern(f, &conf), *b = fx_govern(f, &conf);
            ref_scope_t model[3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
            for (size_t i = 0; i < N; i++) {
                run_one(a, &rs[i], &oa[i]);
                check_model(ctx, i, &rs[i], oa[i].err, &oa[i].v, model, &conf);
                total_context += (unsigned long long)oa[i].v.context_items;
            }
            /* batches of 1..64, and on every third seed up to 200 (several
             * SGEMM chunks of 64 per scope) */
            uint32_t max_batch = seed % 3 == 0 ? 200 : 64;
            for (size_t i = 0; i < N;) {
                size_t n = 1 + rng_below(max_batch);
                if (n > N - i)
                    n = N - i;
                run_batch(b, &rs[i], n, reqs, ob);
                for (size_t j = 0; j < n; j++) {
                    check_verdict(ctx, i + j, oa[i + j].err, &oa[i + j].v, ob[j].err, &ob[j].v);
                    check_context(ctx, i + j, &oa[i + j], &ob[j]);
                }
                i += n;
            }
            check_same_scopes(f, ctx, a, b, 3);
            gs_scope_stats_t sa = gs_govern_stats(a), sb = gs_govern_stats(b);
            if (sa.bytes != sb.bytes || sa.vectors != sb.vectors || sa.scopes != sb.scopes ||
                sa.memory_refused != sb.memory_refused || sa.evicted != sb.evicted)
                fail_msg("%s: stats differ: bytes %zu/%zu vectors %zu/%zu scopes %zu/%zu", ctx,
                         sa.bytes, sb.bytes, sa.vectors, sb.vectors, sa.scopes, sb.scopes);
            for (size_t k = 0; k < 3; k++) {
                snap_t s;
                uint8_t *d = NULL;
                size_t len;
                if (gs_govern_snapshot(a, 0, S(keys[k]), &d, &len, NULL, 0))
                    continue;
                parse_snapshot(fx_own(f, d), len, &s);
                wraps += s.size == 16 && s.head != 0;
                fx_free(f, d);
            }
            fx_govern_drop(f, a);
            fx_govern_drop(f, b);
        }
    }
    /* the sequences exercised retrieval and wrapped rings */
    if (total_context < 10000 || wraps < 20)
        fail_msg("weak sequences: %llu context items, %llu wrapped scopes", total_context, wraps);
}

/* ==== 2. context growth =====================================================
 * The next request's outcome predicted from the scope's snapshot (SPEC 3.1,
 * 3.3, 3.4, degrade policy): phase, acceptance, context items (memories
 * within the phase tolerance, at most k) and the memory writes. */

typedef struct expect {
    gs_phase_t phase;
    int accepted;
    int32_t context;
    uint32_t size, buf_n, pos;
} expect_t;

static expect_t predict(const snap_t *s, double v, int k, size_t capacity)
{
    expect_t e = {0};
    e.phase = s->pos < s->wake ? GS_PHASE_WAKE : GS_PHASE_SLEEP;
    double t = s->t20 / 20.0;
    e.accepted = v >= 0.9 ? 1 : v < 0.3 ? 0 : v >= t;
    float q = e.phase == GS_PHASE_WAKE ? 0.1f : 0.9f;
    if (e.accepted && k > 0) {
        int32_t c = 0;
        for (uint32_t i = 0; i < s->size; i++)
            c += fabs((double)snap_phase(s, i) - q) <= 0.15 + 1e-6;
        e.context = c < k ? c : k;
    }
    e.size = s->size;
    e.buf_n = s->buf_n;
    if (e.accepted && (float)v >= 0.5f) {
        if (e.phase == GS_PHASE_WAKE && e.size < capacity)
            e.size++;
        if (e.buf_n < s->wake + s->sleep)
            e.buf_n++;
    }
    e.pos = (s->pos + 1) % (s->wake + s->sleep);
    if (e.pos == s->wake) { /* entered sleep: consolidation */
        e.size = e.size + e.buf_n < capacity ? e.size + e.buf_n : (uint32_t)capacity;
        e.buf_n = 0;
    }
    return e;
}

/* One request at value v; checks it against the prediction. */
static gs_verdict_t step_predicted(fx_t *f, gs_govern_t *g, const char *key, const char *text,
                                   double v, int k, size_t capacity, int n)
{
    snap_t before, after;
    size_t len;
    uint8_t *d = take_snapshot(f, g, key, &len);
    parse_snapshot(d, len, &before);
    expect_t e = predict(&before, v, k, capacity);
    fx_free(f, d);
    before.slots = NULL;
    gs_verdict_t out;
    gs_str_t t = S(text);
    char err[256];
    assert_int_equal(gs_govern_one(g, S(key), 1, v, &t, 1, k, &out, err, sizeof(err)), GS_OK);
    snapshot_of(f, g, key, &after);
    if (out.phase != e.phase || out.accepted != e.accepted || out.context_items != e.context ||
        after.size != e.size || after.buf_n != e.buf_n || after.pos != e.pos ||
        out.step != (int64_t)before.steps + 1 || out.moral_threshold != before.t20 / 20.0)
        fail_msg("request %d (value %.2f, k %d): phase %d accepted %d context %d, memory %u "
                 "buffered %u pos %u step %lld; expected %d %d %d, %u %u %u %llu",
                 n, v, k, (int)out.phase, out.accepted, (int)out.context_items, after.size,
                 after.buf_n, after.pos, (long long)out.step, (int)e.phase, e.accepted,
                 (int)e.context, e.size, e.buf_n, e.pos, (unsigned long long)before.steps + 1);
    return out;
}

static void test_context_growth(void **state)
{
    fx_t *f = *state;
    gs_govern_conf_t conf = make_conf(8, 3, GS_SLEEP_DEGRADE, 100, 64u << 20);
    gs_govern_t *g = fx_govern(f, &conf);
    const char *text = "the same words every time";
    gs_str_t t = S(text);
    char err[256];
    const int32_t want_ctx[12] = {0, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 8};
    const size_t want_vec[12] = {1, 2, 3, 4, 5, 6, 7, 16, 16, 16, 16, 17};
    for (int i = 0; i < 12; i++) {
        gs_verdict_t v;
        int k = i == 11 ? 20 : 5;
        assert_int_equal(gs_govern_one(g, S("ctx"), 1, 0.95, &t, 1, k, &v, err, sizeof(err)),
                         GS_OK);
        gs_phase_t want_phase = i < 8 || i == 11 ? GS_PHASE_WAKE : GS_PHASE_SLEEP;
        size_t vectors = gs_govern_stats(g).vectors;
        if (!v.accepted || v.step != i + 1 || v.phase != want_phase ||
            v.context_items != want_ctx[i] || vectors != want_vec[i])
            fail_msg("request %d: accepted %d step %lld phase %d context %d vectors %zu; "
                     "expected 1 %d %d %d %zu",
                     i + 1, v.accepted, (long long)v.step, (int)v.phase, (int)v.context_items,
                     vectors, i + 1, (int)want_phase, (int)want_ctx[i], want_vec[i]);
    }
    snap_t s;
    snapshot_of(f, g, "ctx", &s);
    assert_int_equal(s.buf_n, 4); /* 3 sleep writes + 1 wake write since consolidation */

    /* a rejected request: no context, no write */
    int n = 13;
    size_t vec0 = gs_govern_stats(g).vectors;
    gs_verdict_t v = step_predicted(f, g, "ctx", text, 0.1, 5, 100, n++);
    assert_int_equal(v.accepted, 0);
    assert_int_equal(v.context_items, 0);
    assert_int_equal(gs_govern_stats(g).vectors, vec0);

    /* rejections until the threshold is 0.45 or lower */
    for (;;) {
        snapshot_of(f, g, "ctx", &s);
        if (s.t20 <= 9)
            break;
        assert_true(n < 100);
        step_predicted(f, g, "ctx", text, 0.1, 5, 100, n++);
    }
    /* accepted at 0.45 but below the PELM's minimum confidence: context
     * retrieved, nothing written or buffered */
    snap_t before;
    snapshot_of(f, g, "ctx", &before);
    vec0 = gs_govern_stats(g).vectors;
    v = step_predicted(f, g, "ctx", text, 0.45, 5, 100, n++);
    assert_int_equal(v.accepted, 1);
    assert_true(v.context_items > 0);
    snapshot_of(f, g, "ctx", &s);
    if (s.pos != s.wake) { /* (unless consolidation ran on this step) */
        assert_int_equal(s.size, before.size);
        assert_int_equal(s.buf_n, before.buf_n);
        assert_int_equal(gs_govern_stats(g).vectors, vec0);
    }
    /* 0.5 is written (or buffered in sleep) */
    for (;;) {
        snapshot_of(f, g, "ctx", &s);
        if (s.t20 <= 10)
            break;
        step_predicted(f, g, "ctx", text, 0.1, 5, 100, n++);
    }
    snapshot_of(f, g, "ctx", &before);
    v = step_predicted(f, g, "ctx", text, 0.5, 5, 100, n++);
    assert_int_equal(v.accepted, 1);
    snapshot_of(f, g, "ctx", &s);
    if (s.pos != s.wake)
        assert_int_equal(s.size + s.buf_n,
                         before.size + before.buf_n + 1 + (before.pos < before.wake ? 1 : 0));

    /* then a random mix across several consolidations, until the ring is
     * full and wraps */
    rng_seed(0xC0A7E47);
    static const double mix[] = {0.1, 0.45, 0.5, 0.6, 0.95, 1.0, 0.3, 0.75};
    for (int i = 0; i < 150; i++) {
        double val = mix[rng_below(8)];
        int k = (int)rng_below(21);
        step_predicted(f, g, "ctx", i % 7 ? text : "other words now", val, k, 100, n++);
    }
    snapshot_of(f, g, "ctx", &s);
    assert_int_equal(s.size, 100);
}

/* What is written where: the query embedding of the last text, or of the
 * exchange (last text + output) when the caller sets one; nothing when the
 * caller clears commit or there are no words; wake writes go to the PELM
 * (phase 0.1, confidence = moral value) and the buffer, sleep writes only
 * to the buffer; consolidation re-inserts the buffer (phase 0.9,
 * confidence 0.8); the synaptic memory sees every inserted vector. */

typedef struct written {
    float vec[DIM];
} written_t;

static gs_govern_req_t mem_req(gs_govern_t *g, const char *key, double value, const gs_str_t *texts,
                               size_t n, int k, const char *output, int clear_commit)
{
    gs_govern_req_t r;
    memset(&r, 0, sizeof(r));
    r.scope = S(key);
    r.has_value = 1;
    r.value = value;
    r.texts = texts;
    r.n_texts = n;
    r.context_top_k = k;
    char err[256];
    assert_int_equal(gs_govern_decide(g, &r, 1, err, sizeof(err)), GS_OK);
    assert_int_equal(r.err, GS_OK);
    if (clear_commit)
        r.commit = 0;
    if (output)
        r.output = S(output);
    assert_int_equal(gs_govern_memory(g, &r, 1, err, sizeof(err)), GS_OK);
    return r;
}

/* The scope's memory must be exactly: slots[] (vector, phase, conf),
 * buffer[] (vector bits, conf) and synaptic = replay of inserted[]. */
static void check_memory(fx_t *f, gs_govern_t *g, const char *key, int step, const written_t *slots,
                         const float *phase, const float *conf, uint32_t n_slots,
                         const written_t *buffer, const float *buf_conf, uint32_t n_buf,
                         const written_t *inserted, size_t n_inserted)
{
    size_t len;
    uint8_t *d = take_snapshot(f, g, key, &len);
    snap_t s;
    parse_snapshot(d, len, &s);
    if (s.size != n_slots || s.buf_n != n_buf)
        fail_msg("after request %d: %u vectors, %u buffered; expected %u, %u", step, s.size,
                 s.buf_n, n_slots, n_buf);
    for (uint32_t i = 0; i < n_slots; i++) {
        if (snap_phase(&s, i) != phase[i] || snap_conf(&s, i) != conf[i])
            fail_msg("after request %d: slot %u phase %.9g conf %.9g, expected %.9g %.9g", step, i,
                     (double)snap_phase(&s, i), (double)snap_conf(&s, i), (double)phase[i],
                     (double)conf[i]);
        if (!(fabsf(snap_norm(&s, i) - 1.0f) <= 1e-6f))
            fail_msg("after request %d: slot %u norm %.9g, expected 1 (an embedding)", step, i,
                     (double)snap_norm(&s, i));
        for (size_t j = 0; j < DIM; j++)
            if (!(fabsf(snap_vec(&s, i, j) - slots[i].vec[j]) <= 1e-6f))
                fail_msg("after request %d: slot %u [%zu] = %.9g, expected %.9g", step, i, j,
                         (double)snap_vec(&s, i, j), (double)slots[i].vec[j]);
    }
    for (uint32_t b = 0; b < n_buf; b++) {
        const uint8_t *e = s.buf[b];
        if (rdf(e) != buf_conf[b])
            fail_msg("after request %d: buffer %u conf %.9g, expected %.9g", step, b,
                     (double)rdf(e), (double)buf_conf[b]);
        const uint8_t *v = e + 4 + id_bytes(e + 4);
        for (size_t j = 0; j < DIM; j++)
            if (rdf(v + 4 * j) != buffer[b].vec[j])
                fail_msg("after request %d: buffer %u [%zu] differs", step, b, j);
    }
    gs_synaptic_t syn;
    assert_int_equal(gs_synaptic_init(&syn, DIM), GS_OK);
    fx_own(f, syn.l1);
    for (size_t i = 0; i < n_inserted; i++)
        gs_synaptic_update(&syn, inserted[i].vec);
    assert_true(s.syn);
    for (size_t j = 0; j < 3 * DIM; j++)
        if (rdf(s.syn_data + 4 * j) != syn.l1[j])
            fail_msg("after request %d: synaptic L%zu[%zu] = %.9g, expected %.9g", step,
                     j / DIM + 1, j % DIM, (double)rdf(s.syn_data + 4 * j), (double)syn.l1[j]);
    fx_free(f, syn.l1);
    fx_free(f, d);
}

/* SPEC 3.4 refuses confidence below 0.5: a moral value just below it is
 * refused even though it rounds to 0.5 as a float (issue 10: the Python
 * reference found the worker storing it). */
static void test_confidence_just_below_half(void **state)
{
    fx_t *f = *state;
    gs_govern_conf_t conf = make_conf(8, 3, GS_SLEEP_DEGRADE, 16, 64u << 20);
    gs_govern_t *g = fx_govern(f, &conf);
    gs_str_t t[1] = {S("words to remember")};
    for (int i = 0; i < 3; i++) /* rejections bring the threshold down to 0.45 */
        assert_int_equal(mem_req(g, "c", 0.2, t, 1, 3, NULL, 0).v.accepted, 0);
    double below = nextafter(0.5, 0.0);
    assert_true((float)below == 0.5f); /* the case: it rounds up */
    gs_govern_req_t r = mem_req(g, "c", below, t, 1, 3, NULL, 0);
    assert_int_equal(r.v.accepted, 1);
    assert_int_equal(gs_govern_stats(g).vectors, 0);
    r = mem_req(g, "c", 0.5, t, 1, 3, NULL, 0);
    assert_int_equal(r.v.accepted, 1);
    assert_int_equal(gs_govern_stats(g).vectors, 1);
}

static void test_memory_writes(void **state)
{
    fx_t *f = *state;
    gs_govern_conf_t conf = make_conf(2, 1, GS_SLEEP_DEGRADE, 16, 64u << 20);
    gs_govern_t *g = fx_govern(f, &conf);
    written_t *e = fx_own(f, calloc(8, sizeof(written_t)));
    const float W = GS_PHASE_WAKE_VALUE, Z = GS_PHASE_SLEEP_VALUE;

    /* 1 (wake): two texts, no output -> the last text */
    gs_str_t t1[2] = {S("first turn"), S("Second TURN here")};
    assert_true(gs_embed(&t1[1], 1, e[0].vec) > 0);
    gs_govern_req_t r = mem_req(g, "w", 0.8, t1, 2, 3, NULL, 0);
    assert_int_equal(r.v.phase, GS_PHASE_WAKE);
    assert_int_equal(r.v.context_items, 0);
    {
        written_t slots[] = {e[0]}, buf[] = {e[0]}, ins[] = {e[0]};
        float ph[] = {W}, cf[] = {0.8f}, bc[] = {0.8f};
        check_memory(f, g, "w", 1, slots, ph, cf, 1, buf, bc, 1, ins, 1);
    }
    /* 2 (wake): with an output -> the exchange (last text, output); the
     * rhythm then enters sleep: the buffer is consolidated */
    gs_str_t t2[1] = {S("a question about kafka")};
    gs_str_t ex[2] = {t2[0], S("The Answer, about streams.")};
    assert_true(gs_embed(ex, 2, e[1].vec) > 0);
    r = mem_req(g, "w", 0.7, t2, 1, 3, "The Answer, about streams.", 0);
    assert_int_equal(r.v.context_items, 1);
    {
        written_t slots[] = {e[0], e[1], e[0], e[1]}, ins[] = {e[0], e[1], e[0], e[1]};
        float ph[] = {W, W, Z, Z}, cf[] = {0.8f, 0.7f, 0.8f, 0.8f};
        check_memory(f, g, "w", 2, slots, ph, cf, 4, NULL, NULL, 0, ins, 4);
    }
    /* 3 (sleep): the caller's output checks failed -> nothing */
    gs_str_t t3[1] = {S("sleepy words")};
    r = mem_req(g, "w", 0.95, t3, 1, 3, "some output", 1);
    assert_int_equal(r.v.phase, GS_PHASE_SLEEP);
    assert_int_equal(r.v.accepted, 1);
    assert_int_equal(r.v.max_tokens_cap, 16);
    assert_int_equal(r.v.context_items, 2);
    {
        written_t slots[] = {e[0], e[1], e[0], e[1]}, ins[] = {e[0], e[1], e[0], e[1]};
        float ph[] = {W, W, Z, Z}, cf[] = {0.8f, 0.7f, 0.8f, 0.8f};
        check_memory(f, g, "w", 3, slots, ph, cf, 4, NULL, NULL, 0, ins, 4);
    }
    /* 4 (wake): no words -> no context, nothing written */
    gs_str_t t4[1] = {S("?! ...")};
    r = mem_req(g, "w", 0.95, t4, 1, 3, NULL, 0);
    assert_int_equal(r.v.phase, GS_PHASE_WAKE);
    assert_int_equal(r.v.context_items, 0);
    /* 5 (wake): empty output -> the last text, then the rhythm enters sleep
     * (consolidation); 6 (sleep): no texts at all -> nothing */
    gs_str_t t5[2] = {S("x"), S("final words")};
    assert_true(gs_embed(&t5[1], 1, e[2].vec) > 0);
    r = mem_req(g, "w", 0.95, t5, 2, 10, "", 0);
    assert_int_equal(r.v.phase, GS_PHASE_WAKE);
    assert_int_equal(r.v.context_items, 2);
    r = mem_req(g, "w", 0.95, NULL, 0, 10, NULL, 0);
    assert_int_equal(r.v.phase, GS_PHASE_SLEEP);
    assert_int_equal(r.v.context_items, 0);
    {
        written_t slots[] = {e[0], e[1], e[0], e[1], e[2], e[2]},
                  ins[] = {e[0], e[1], e[0], e[1], e[2], e[2]};
        float ph[] = {W, W, Z, Z, W, Z}, cf[] = {0.8f, 0.7f, 0.8f, 0.8f, 0.95f, 0.8f};
        check_memory(f, g, "w", 6, slots, ph, cf, 6, NULL, NULL, 0, ins, 6);
    }
    /* 7, 8 (wake), then consolidation; 9 (sleep, degrade): buffered only */
    gs_str_t t7[1] = {S("a seventh write")}, t8[1] = {S("the eighth")},
             t9[1] = {S("a sleep write")};
    assert_true(gs_embed(t7, 1, e[3].vec) > 0);
    assert_true(gs_embed(t8, 1, e[4].vec) > 0);
    assert_true(gs_embed(t9, 1, e[5].vec) > 0);
    r = mem_req(g, "w", 0.9, t7, 1, 10, NULL, 0);
    assert_int_equal(r.v.phase, GS_PHASE_WAKE);
    assert_int_equal(r.v.context_items, 3);
    {
        written_t slots[] = {e[0], e[1], e[0], e[1], e[2], e[2], e[3]},
                  ins[] = {e[0], e[1], e[0], e[1], e[2], e[2], e[3]}, buf[] = {e[3]};
        float ph[] = {W, W, Z, Z, W, Z, W}, cf[] = {0.8f, 0.7f, 0.8f, 0.8f, 0.95f, 0.8f, 0.9f},
              bc[] = {0.9f};
        check_memory(f, g, "w", 7, slots, ph, cf, 7, buf, bc, 1, ins, 7);
    }
    r = mem_req(g, "w", 0.95, t8, 1, 10, NULL, 0);
    assert_int_equal(r.v.context_items, 4);
    r = mem_req(g, "w", 0.9, t9, 1, 10, NULL, 0);
    assert_int_equal(r.v.phase, GS_PHASE_SLEEP);
    assert_int_equal(r.v.max_tokens_cap, 16);
    assert_int_equal(r.v.context_items, 5);
    {
        written_t slots[] = {e[0], e[1], e[0], e[1], e[2], e[2], e[3], e[4], e[3], e[4]},
                  ins[] = {e[0], e[1], e[0], e[1], e[2], e[2], e[3], e[4], e[3], e[4]},
                  buf[] = {e[5]};
        float ph[] = {W, W, Z, Z, W, Z, W, W, Z, Z},
              cf[] = {0.8f, 0.7f, 0.8f, 0.8f, 0.95f, 0.8f, 0.9f, 0.95f, 0.8f, 0.8f}, bc[] = {0.9f};
        check_memory(f, g, "w", 9, slots, ph, cf, 10, buf, bc, 1, ins, 10);
    }
}

/* ==== 3. memory budget and stats ============================================
 * A model of the documented sizes: table = max_scopes scope structs +
 * bucket pointers; a scope = PELM object + allocated rows x (dim + 3)
 * floats, plus (from its first memory write) synaptic 3 x dim floats and a
 * consolidation buffer of (wake + sleep) x (dim + 1) floats. */

typedef struct mscope {
    int present;
    uint64_t last_use, steps;
    uint32_t pos, buf_n;
    size_t size, rows;
    int extras;
} mscope_t;

typedef struct model {
    gs_govern_conf_t conf;
    size_t scope_struct, table, pelm_obj, extras, row_bytes;
    mscope_t s[4];
    uint64_t clock, evicted, created, refused;
    int last_evicted;
} model_t;

static void model_init(model_t *m, const gs_govern_conf_t *conf)
{
    memset(m, 0, sizeof(*m));
    m->conf = *conf;
    size_t cap = conf->memory_capacity, cycle = conf->wake_steps + conf->sleep_steps;
    m->extras = 3 * DIM * 4 + cycle * BUF_ENTRY;
    m->scope_struct = gs_govern_scope_max_bytes(conf) - gs_pelm_bytes_full(DIM, cap) - 3 * DIM * 4 -
                      cycle * BUF_ENTRY;
    size_t buckets = 16;
    while (buckets < conf->max_scopes)
        buckets *= 2;
    m->table = conf->max_scopes * m->scope_struct + buckets * sizeof(void *);
    m->pelm_obj = gs_pelm_bytes_full(DIM, 0);
    m->row_bytes = ROW_BYTES;
    m->last_evicted = -1;
}

static size_t m_rows_for(const model_t *m, size_t size)
{
    size_t cap = m->conf.memory_capacity, r = cap < 256 ? cap : 256;
    if (!size)
        return 0;
    while (r < size)
        r = 2 * r < cap ? 2 * r : cap;
    return r;
}

static size_t m_scope_bytes(const model_t *m, const mscope_t *s)
{
    return s->present ? m->pelm_obj + s->rows * m->row_bytes + (s->extras ? m->extras : 0) : 0;
}

static size_t m_total(const model_t *m)
{
    size_t t = m->table;
    for (int i = 0; i < 4; i++)
        t += m_scope_bytes(m, &m->s[i]);
    return t;
}

/* Evicts least recently used scopes other than keep until need fits. */
static int m_budget(model_t *m, int keep, size_t need)
{
    while (m_total(m) + need > m->conf.max_memory_bytes) {
        int v = -1;
        for (int i = 0; i < 4; i++)
            if (m->s[i].present && i != keep && (v < 0 || m->s[i].last_use < m->s[v].last_use))
                v = i;
        if (v < 0)
            return -1;
        m->s[v].present = 0;
        m->evicted++;
        m->last_evicted = v;
    }
    return 0;
}

static void m_insert(model_t *m, int i)
{
    mscope_t *s = &m->s[i];
    size_t size = s->size < m->conf.memory_capacity ? s->size + 1 : s->size;
    size_t rows = m_rows_for(m, size);
    if (rows < s->rows)
        rows = s->rows;
    if (rows > s->rows && m_budget(m, i, (rows - s->rows) * m->row_bytes)) {
        m->refused++;
        return;
    }
    s->rows = rows;
    s->size = size;
}

/* One request with words at value 0.95 (accepted, written) or 0.1
 * (rejected: no write; consolidation still runs on entering sleep). */
static void m_request(model_t *m, int i, int rejected)
{
    mscope_t *s = &m->s[i];
    uint32_t wake = m->conf.wake_steps, cycle = wake + m->conf.sleep_steps;
    if (!s->present) {
        m_budget(m, -1, m->pelm_obj);
        memset(s, 0, sizeof(*s));
        s->present = 1;
        m->created++;
    }
    s->last_use = ++m->clock;
    int in_wake = s->pos < wake;
    s->steps++;
    s->pos = (s->pos + 1) % cycle;
    int entered_sleep = s->pos == wake;
    if (rejected) {
        /* no commit */
    } else if (!s->extras && m_budget(m, i, m->extras)) {
        m->refused++;
    } else {
        s->extras = 1;
        if (in_wake)
            m_insert(m, i);
        if (s->buf_n < cycle)
            s->buf_n++;
    }
    if (entered_sleep) {
        for (uint32_t b = 0; b < s->buf_n; b++)
            m_insert(m, i);
        s->buf_n = 0;
    }
}

static void check_stats(const char *ctx, gs_govern_t *g, const model_t *m)
{
    gs_scope_stats_t st = gs_govern_stats(g);
    size_t vectors = 0, scopes = 0;
    for (int i = 0; i < 4; i++)
        if (m->s[i].present) {
            vectors += m->s[i].size;
            scopes++;
        }
    if (st.bytes > st.max_bytes)
        fail_msg("%s: %zu bytes over the budget of %zu", ctx, st.bytes, st.max_bytes);
    if (st.bytes != m_total(m) || st.scopes != scopes || st.vectors != vectors ||
        st.evicted != m->evicted || st.created != m->created || st.memory_refused != m->refused)
        fail_msg("%s: bytes %zu scopes %zu vectors %zu evicted %llu created %llu refused %llu; "
                 "expected %zu %zu %zu %llu %llu %llu",
                 ctx, st.bytes, st.scopes, st.vectors, (unsigned long long)st.evicted,
                 (unsigned long long)st.created, (unsigned long long)st.memory_refused, m_total(m),
                 scopes, vectors, (unsigned long long)m->evicted, (unsigned long long)m->created,
                 (unsigned long long)m->refused);
}

/* Every scope the model has is there with its steps and size; the others
 * are gone. */
static void check_scopes(fx_t *f, const char *ctx, gs_govern_t *g, const model_t *m)
{
    for (int i = 0; i < 4; i++) {
        uint8_t *d = NULL;
        size_t len;
        char err[256];
        gs_err_t e = gs_govern_snapshot(g, 0, S(keys[i]), &d, &len, err, sizeof(err));
        if (!m->s[i].present) {
            if (e != GS_ERR_NOT_FOUND)
                fail_msg("%s: scope \"%s\" should have been evicted (snapshot: %d)", ctx, keys[i],
                         (int)e);
            assert_null(d);
            continue;
        }
        if (e)
            fail_msg("%s: scope \"%s\" missing: %s", ctx, keys[i], err);
        snap_t s;
        parse_snapshot(fx_own(f, d), len, &s);
        fx_free(f, d);
        if (s.steps != m->s[i].steps || s.size != m->s[i].size)
            fail_msg("%s: scope \"%s\" at step %llu with %u vectors, expected %llu, %zu", ctx,
                     keys[i], (unsigned long long)s.steps, s.size,
                     (unsigned long long)m->s[i].steps, m->s[i].size);
    }
}

/* Runs plan (scope, requests; -1: until its memory is full and 25 more;
 * rejected) one request at a time, checking the stats against the model
 * after every request and which scopes exist after every eviction. */
static void budget_run(fx_t *f, const gs_govern_conf_t *conf, const int (*plan)[3], size_t n_plan,
                       const char *label, model_t *m)
{
    model_init(m, conf);
    gs_govern_t *g = fx_govern(f, conf);
    gs_scope_stats_t st = gs_govern_stats(g);
    assert_int_equal(st.bytes, m->table);
    assert_int_equal(st.max_bytes, conf->max_memory_bytes);
    assert_int_equal(st.scopes, 0);
    gs_str_t t = S("fill the memory of this scope");
    char err[256];
    uint64_t evictions_seen = 0;
    for (size_t o = 0; o < n_plan; o++) {
        int i = plan[o][0];
        size_t extra = 0;
        for (int r = 0; plan[o][1] < 0 ? r < 5000 && extra < 25 : r < plan[o][1]; r++) {
            gs_verdict_t v;
            char ctx[128];
            snprintf(ctx, sizeof(ctx), "%s: plan %zu scope \"%s\" request %d", label, o, keys[i],
                     r);
            double value = plan[o][2] ? 0.1 : 0.95;
            if (gs_govern_one(g, S(keys[i]), 1, value, &t, 1, 2, &v, err, sizeof(err)))
                fail_msg("%s: %s", ctx, err);
            m_request(m, i, plan[o][2]);
            if (v.step != (int64_t)m->s[i].steps) /* 1 after an eviction */
                fail_msg("%s: step %lld, expected %llu", ctx, (long long)v.step,
                         (unsigned long long)m->s[i].steps);
            check_stats(ctx, g, m);
            if (m->evicted != evictions_seen) { /* the least recently used went */
                check_scopes(f, ctx, g, m);
                evictions_seen = m->evicted;
            }
            extra += m->s[i].size == conf->memory_capacity;
        }
        check_scopes(f, label, g, m);
    }
    fx_govern_drop(f, g);
}

static void test_memory_budget(void **state)
{
    fx_t *f = *state;
    const size_t cap = 1000;
    gs_govern_conf_t conf = make_conf(8, 3, GS_SLEEP_DEGRADE, cap, 0);
    model_t m;
    model_init(&m, &conf);
    assert_true(m.scope_struct > 0 && m.scope_struct < 4096);
    size_t full = gs_pelm_bytes_full(DIM, cap) + m.extras; /* one full scope memory */
    assert_int_equal(gs_govern_scope_max_bytes(&conf), m.scope_struct + full);

    /* the budget must hold the table and one full scope */
    gs_govern_t *g = NULL;
    char err[512] = "";
    conf.max_memory_bytes = m.table + full - 1;
    assert_int_equal(gs_govern_new(&conf, f->lx, &g, err, sizeof(err)), GS_ERR_CONFIG);
    assert_null(g);
    assert_contains(err, "governance.max_memory_mb");
    conf.max_memory_bytes = m.table + full;
    assert_int_equal(gs_govern_new(&conf, f->lx, &g, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_govern_stats(g).bytes, m.table);
    gs_govern_destroy(g);

    /* table + 2.5 full scopes; 4 scopes filled one after the other, then
     * the evicted ones come back (at step 1) */
    conf.max_memory_bytes = m.table + full * 5 / 2;
    const int plan1[][3] = {{0, -1, 0}, {1, -1, 0}, {2, -1, 0}, {3, -1, 0},
                            {0, -1, 0}, {2, -1, 0}, {1, -1, 0}};
    budget_run(f, &conf, plan1, 7, "2.5 scopes", &m);
    if (m.evicted < 4)
        fail_msg("only %llu evictions", (unsigned long long)m.evicted);
    assert_int_equal(m.refused, 0);

    /* the smallest budget: a new scope's first bytes evict the full one,
     * also when the request is rejected (no memory write) */
    conf.max_memory_bytes = m.table + full;
    const int plan2[][3] = {{0, -1, 0}, {1, 1, 0}, {0, -1, 0}, {1, 1, 1}, {0, 12, 1}};
    budget_run(f, &conf, plan2, 5, "1 scope", &m);
    assert_int_equal(m.evicted, 3);

    /* a budget one byte short of two scopes' final growth: scope 0 keeps
     * 256 rows until scope 1 grows from 512 to 1000 rows */
    conf.max_memory_bytes = m.table + full + m.pelm_obj + m.extras + 256 * m.row_bytes - 1;
    const int plan3[][3] = {{0, 1, 0}, {1, -1, 0}};
    budget_run(f, &conf, plan3, 2, "1 byte short", &m);
    assert_int_equal(m.evicted, 1);
    assert_false(m.s[0].present);
}

/* A restored snapshot is budgeted like any other memory: the budget is
 * never exceeded. Budget: table + one full scope; scope "alpha" holds ~300
 * vectors (512 rows), then a snapshot of ~300 vectors is restored. */
static void test_memory_budget_restore(void **state)
{
    fx_t *f = *state;
    const size_t cap = 1000;
    gs_govern_conf_t conf = make_conf(8, 3, GS_SLEEP_DEGRADE, cap, 0);
    model_t m;
    model_init(&m, &conf);
    size_t full = gs_pelm_bytes_full(DIM, cap) + m.extras;
    gs_govern_conf_t big = conf;
    big.max_memory_bytes = 256u << 20;
    gs_govern_t *h = fx_govern(f, &big);
    conf.max_memory_bytes = m.table + full;
    gs_govern_t *g = fx_govern(f, &conf);
    gs_str_t t = S("restore budget words");
    char err[256];
    gs_verdict_t v;
    snap_t s;
    do {
        assert_int_equal(gs_govern_one(h, S("beta"), 1, 0.95, &t, 1, 1, &v, err, sizeof(err)),
                         GS_OK);
        snapshot_of(f, h, "beta", &s);
    } while (s.size < 300);
    assert_true(s.size <= 400);
    do {
        assert_int_equal(gs_govern_one(g, S("alpha"), 1, 0.95, &t, 1, 1, &v, err, sizeof(err)),
                         GS_OK);
        snapshot_of(f, g, "alpha", &s);
    } while (s.size < 300);
    size_t len;
    uint8_t *d = take_snapshot(f, h, "beta", &len);
    snap_t ys;
    parse_snapshot(d, len, &ys);
    size_t before = gs_govern_stats(g).bytes;
    gs_err_t e = gs_govern_restore(g, 0, d, len, err, sizeof(err));
    gs_scope_stats_t st = gs_govern_stats(g);
    if (e == GS_OK && st.bytes > st.max_bytes)
        fail_msg("restore of a %zu-byte snapshot (%u vectors, %zu rows' worth) succeeded; bytes "
                 "in use went from %zu to %zu, over the budget of %zu by %zu",
                 len, ys.size, m_rows_for(&m, ys.size), before, st.bytes, st.max_bytes,
                 st.bytes - st.max_bytes);
    if (e != GS_OK && e != GS_ERR_NOMEM)
        fail_msg("restore: %d %s", (int)e, err);
}

/* Idle scopes go; the idle check runs at most once a second. */
static void test_idle_eviction(void **state)
{
    fx_t *f = *state;
    gs_govern_conf_t conf = make_conf(8, 3, GS_SLEEP_DEGRADE, 16, 64u << 20);
    conf.scope_idle_us = 1000;
    gs_govern_t *g = fx_govern(f, &conf);
    gs_str_t t = S("idle words");
    char err[256];
    gs_verdict_t v;
    const struct timespec pause = {1, 200000000}, brief = {0, 5000000};
    assert_int_equal(gs_govern_one(g, S("alpha"), 1, 0.95, &t, 1, 1, &v, err, sizeof(err)), 0);
    assert_int_equal(gs_govern_one(g, S("alpha"), 1, 0.95, &t, 1, 1, &v, err, sizeof(err)), 0);
    assert_int_equal(v.step, 2);
    nanosleep(&pause, NULL);
    assert_int_equal(gs_govern_one(g, S("beta"), 1, 0.95, &t, 1, 1, &v, err, sizeof(err)), 0);
    gs_scope_stats_t st = gs_govern_stats(g);
    assert_int_equal(st.scopes, 1);
    assert_int_equal(st.evicted, 1);
    uint8_t *d = NULL;
    size_t len;
    assert_int_equal(gs_govern_snapshot(g, 0, S("alpha"), &d, &len, err, sizeof(err)),
                     GS_ERR_NOT_FOUND);
    /* within the second after a check: idle scopes stay */
    assert_int_equal(gs_govern_one(g, S("gamma"), 1, 0.95, &t, 1, 1, &v, err, sizeof(err)), 0);
    nanosleep(&brief, NULL);
    assert_int_equal(gs_govern_one(g, S("delta"), 1, 0.95, &t, 1, 1, &v, err, sizeof(err)), 0);
    st = gs_govern_stats(g);
    assert_int_equal(st.scopes, 3);
    assert_int_equal(st.evicted, 1);
    /* a second later, all three idle ones go; beta comes back fresh */
    nanosleep(&pause, NULL);
    assert_int_equal(gs_govern_one(g, S("beta"), 1, 0.95, &t, 1, 1, &v, err, sizeof(err)), 0);
    assert_int_equal(v.step, 1);
    st = gs_govern_stats(g);
    assert_int_equal(st.scopes, 1);
    assert_int_equal(st.evicted, 4);
    /* "alpha" comes back at step 1 too */
    assert_int_equal(gs_govern_one(g, S("alpha"), 1, 0.95, &t, 1, 1, &v, err, sizeof(err)), 0);
    assert_int_equal(v.step, 1);
}

/* ==== 4. snapshots =========================================================== */

static void run_random(fx_t *f, gs_govern_t *a, gs_govern_t *b, uint64_t seed, size_t n,
                       const char *label)
{
    rq_t *rs = fx_own(f, calloc(n, sizeof(rq_t)));
    gs_govern_req_t *reqs = fx_own(f, calloc(64, sizeof(gs_govern_req_t)));
    outcome_t *oa = fx_own(f, calloc(64, sizeof(outcome_t))),
              *ob = fx_own(f, calloc(64, sizeof(outcome_t)));
    rng_seed(seed);
    for (size_t i = 0; i < n; i++)
        random_request(&rs[i], 3);
    char ctx[96];
    snprintf(ctx, sizeof(ctx), "%s seed %#llx", label, (unsigned long long)seed);
    for (size_t i = 0; i < n;) {
        size_t nb = 1 + rng_below(64);
        if (nb > n - i)
            nb = n - i;
        for (size_t j = 0; j < nb; j++)
            run_one(a, &rs[i + j], &oa[j]);
        if (b) {
            run_batch(b, &rs[i], nb, reqs, ob);
            for (size_t j = 0; j < nb; j++) {
                check_verdict(ctx, i + j, oa[j].err, &oa[j].v, ob[j].err, &ob[j].v);
                check_context(ctx, i + j, &oa[j], &ob[j]);
            }
        }
        i += nb;
    }
    fx_free(f, rs);
    fx_free(f, reqs);
    fx_free(f, oa);
    fx_free(f, ob);
}

static gs_err_t restore(gs_govern_t *g, const uint8_t *d, size_t len, char *err, size_t n)
{
    err[0] = 0;
    return gs_govern_restore(g, 0, d, len, err, n);
}

static void test_snapshot_round_trip(void **state)
{
    fx_t *f = *state;
    gs_govern_conf_t conf = make_conf(4, 3, GS_SLEEP_DEGRADE, 64, 64u << 20);
    gs_govern_t *a = fx_govern(f, &conf), *b = fx_govern(f, &conf);
    run_random(f, a, NULL, 0x5A4E0001ull, 300, "first 300");
    char err[256];
    for (size_t k = 0; k < 3; k++) {
        size_t len, len2;
        uint8_t *d = take_snapshot(f, a, keys[k], &len);
        snap_t s;
        parse_snapshot(d, len, &s);
        assert_int_equal(s.version, GS_SNAPSHOT_VERSION);
        assert_int_equal(s.dim, DIM);
        assert_string_equal(s.key, keys[k]);
        assert_int_equal(s.capacity, 64);
        assert_int_equal(s.wake, 4);
        assert_int_equal(s.sleep, 3);
        assert_int_equal(s.steps, s.accepted + s.rejected);
        if (restore(b, d, len, err, sizeof(err)))
            fail_msg("restore \"%s\": %s", keys[k], err);
        uint8_t *d2 = take_snapshot(f, b, keys[k], &len2);
        if (len != len2 || memcmp(d, d2, len))
            fail_msg("\"%s\": snapshot after restore differs", keys[k]);
        fx_free(f, d);
        fx_free(f, d2);
    }
    assert_int_equal(gs_govern_stats(b).vectors, gs_govern_stats(a).vectors);
    /* the same 300 more requests on both (b in micro-batches) */
    run_random(f, a, b, 0x5A4E0002ull, 300, "next 300");
    check_same_scopes(f, "after 600", a, b, 3);
    /* restoring again over existing scopes replaces them */
    gs_govern_t *c = fx_govern(f, &conf);
    run_random(f, c, NULL, 0x5A4E0003ull, 200, "other 200");
    for (size_t k = 0; k < 3; k++) {
        size_t len;
        uint8_t *d = take_snapshot(f, a, keys[k], &len);
        if (restore(c, d, len, err, sizeof(err)))
            fail_msg("restore \"%s\" over an existing scope: %s", keys[k], err);
        fx_free(f, d);
    }
    check_same_scopes(f, "restored over", a, c, 3);
    run_random(f, a, c, 0x5A4E0004ull, 100, "after restoring over");
    check_same_scopes(f, "restored over, then 100", a, c, 3);
    /* unknown key */
    uint8_t *d = NULL;
    size_t len = 0;
    assert_int_equal(gs_govern_snapshot(a, 0, S("nope"), &d, &len, err, sizeof(err)),
                     GS_ERR_NOT_FOUND);
    assert_null(d);
    assert_contains(err, "nope");
}

/* pelm.c: "a restored bank has the same footprint as the saved one"; the
 * byte accounts of a restored governor equal the original's. */
static void test_snapshot_restore_footprint(void **state)
{
    fx_t *f = *state;
    gs_govern_conf_t conf = make_conf(4, 3, GS_SLEEP_DEGRADE, 1000, 64u << 20);
    gs_govern_t *a = fx_govern(f, &conf), *b = fx_govern(f, &conf);
    gs_str_t t = S("footprint words");
    char err[256];
    gs_verdict_t v;
    /* alpha: only rejected requests (no memory at all); beta: accepted,
     * but no words (synaptic memory and buffer, no vectors); gamma: one
     * vector; delta: 257 vectors or more */
    gs_str_t none = S("?!");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(gs_govern_one(a, S("alpha"), 1, 0.1, &t, 1, 3, &v, err, sizeof(err)), 0);
        assert_int_equal(gs_govern_one(a, S("beta"), 1, 0.95, &none, 1, 3, &v, err, sizeof(err)),
                         0);
    }
    assert_int_equal(gs_govern_one(a, S("gamma"), 1, 0.95, &t, 1, 3, &v, err, sizeof(err)), 0);
    snap_t s;
    do {
        assert_int_equal(gs_govern_one(a, S("delta"), 1, 0.95, &t, 1, 3, &v, err, sizeof(err)), 0);
        snapshot_of(f, a, "delta", &s);
    } while (s.size < 257);
    char msg[1024] = "";
    size_t mlen = 0;
    for (size_t k = 0; k < 4; k++) {
        size_t len;
        uint8_t *d = take_snapshot(f, a, keys[k], &len);
        parse_snapshot(d, len, &s);
        size_t before = gs_govern_stats(b).bytes;
        if (restore(b, d, len, err, sizeof(err)))
            fail_msg("restore \"%s\": %s", keys[k], err);
        fx_free(f, d);
        /* what the scope costs in a, from the documented sizes */
        size_t got = gs_govern_stats(b).bytes - before;
        model_t m;
        model_init(&m, &conf);
        size_t want = m.pelm_obj + m_rows_for(&m, s.size) * m.row_bytes + (s.syn ? m.extras : 0);
        if (got != want)
            mlen += (size_t)snprintf(msg + mlen, sizeof(msg) - mlen,
                                     "scope \"%s\" (%u vectors): restored with %zu bytes, the "
                                     "original takes %zu. ",
                                     keys[k], s.size, got, want);
    }
    if (gs_govern_stats(a).bytes != gs_govern_stats(b).bytes)
        mlen += (size_t)snprintf(msg + mlen, sizeof(msg) - mlen,
                                 "total: original %zu bytes, restored %zu",
                                 gs_govern_stats(a).bytes, gs_govern_stats(b).bytes);
    if (mlen)
        fail_msg("%s", msg);
}

/* Every byte flipped, every truncation, a wrong version or shape: refused,
 * and the scope that was there keeps its state. */
static void check_refused(fx_t *f, gs_govern_t *g, const uint8_t *data, size_t len,
                          const uint8_t *keep, size_t keep_len, const char *what, size_t at,
                          int check_keep)
{
    char err[256];
    gs_err_t e = restore(g, data, len, err, sizeof(err));
    if (e != GS_ERR_DECODE && e != GS_ERR_SCHEMA)
        fail_msg("%s at %zu: restore returned %d (%s), expected DECODE or SCHEMA", what, at, (int)e,
                 err);
    if (check_keep) {
        size_t l2;
        uint8_t *now = take_snapshot(f, g, "alpha", &l2);
        if (l2 != keep_len || memcmp(now, keep, l2))
            fail_msg("%s at %zu: the existing scope changed", what, at);
        fx_free(f, now);
    }
}

static void test_snapshot_corruption(void **state)
{
    fx_t *f = *state;
    gs_govern_conf_t conf = make_conf(4, 3, GS_SLEEP_DEGRADE, 64, 64u << 20);
    gs_govern_t *a = fx_govern(f, &conf), *b = fx_govern(f, &conf);
    gs_str_t ta = S("small snapshot words"), tb = S("other state here");
    char err[256];
    gs_verdict_t v;
    for (int i = 0; i < 3; i++)
        assert_int_equal(gs_govern_one(a, S("alpha"), 1, 0.95, &ta, 1, 3, &v, err, sizeof(err)), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(gs_govern_one(b, S("alpha"), 1, 0.7, &tb, 1, 3, &v, err, sizeof(err)), 0);
    size_t len, keep_len;
    uint8_t *small = take_snapshot(f, a, "alpha", &len);
    uint8_t *keep = take_snapshot(f, b, "alpha", &keep_len);
    uint8_t *buf = fx_own(f, malloc(len));
    snap_t s;
    parse_snapshot(small, len, &s);
    assert_int_equal(s.size, 3);
    assert_true(s.syn);
    /* every byte, two ways */
    for (size_t i = 0; i < len; i++) {
        memcpy(buf, small, len);
        buf[i] ^= 0xFF;
        check_refused(f, b, buf, len, keep, keep_len, "byte 0xFF-flipped", i, 1);
        buf[i] ^= 0xFE; /* now: the lowest bit flipped */
        check_refused(f, b, buf, len, keep, keep_len, "bit flipped", i, i % 5 == 0);
    }
    /* every truncation */
    for (size_t l = 0; l < len; l++)
        check_refused(f, b, small, l, keep, keep_len, "truncated to", l, l % 3 == 0);
    /* wrong version, wrong dim: with a valid CRC */
    memcpy(buf, small, len);
    buf[4] = GS_SNAPSHOT_VERSION + 1;
    wr32(buf + len - 4, gs_crc32c(0, buf, len - 4));
    assert_int_equal(restore(b, buf, len, err, sizeof(err)), GS_ERR_SCHEMA);
    check_refused(f, b, buf, len, keep, keep_len, "version", 4, 1);
    memcpy(buf, small, len);
    wr32(buf + 8, DIM - 1);
    wr32(buf + len - 4, gs_crc32c(0, buf, len - 4));
    assert_int_equal(restore(b, buf, len, err, sizeof(err)), GS_ERR_SCHEMA);
    /* another memory capacity */
    gs_govern_conf_t other = conf;
    other.memory_capacity = 32;
    gs_govern_t *c = fx_govern(f, &other);
    assert_int_equal(restore(c, small, len, err, sizeof(err)), GS_ERR_SCHEMA);
    assert_contains(err, "governance.memory_capacity");
    assert_int_equal(gs_govern_stats(c).scopes, 0);
    /* the original restores fine and replaces b's scope */
    assert_int_equal(restore(b, small, len, err, sizeof(err)), GS_OK);
    size_t l2;
    uint8_t *now = take_snapshot(f, b, "alpha", &l2);
    assert_int_equal(l2, len);
    assert_memory_equal(now, small, len);

    /* a large snapshot: every 7th byte flipped, every 7th truncation */
    gs_str_t tl = S("a large snapshot with many vectors");
    for (int i = 0; i < 150; i++)
        assert_int_equal(gs_govern_one(a, S("beta"), 1, 0.95, &tl, 1, 3, &v, err, sizeof(err)), 0);
    size_t big_len;
    uint8_t *big = take_snapshot(f, a, "beta", &big_len);
    parse_snapshot(big, big_len, &s);
    assert_int_equal(s.size, 64);
    assert_true(big_len > 100000);
    for (size_t i = 0; i < big_len; i += 7) {
        big[i] ^= 0x5A;
        check_refused(f, b, big, big_len, now, l2, "large: byte flipped", i, 0);
        big[i] ^= 0x5A;
    }
    for (size_t l = 0; l < big_len; l += 7)
        check_refused(f, b, big, l, now, l2, "large: truncated to", l, 0);
    assert_int_equal(gs_govern_stats(b).scopes, 1); /* no "beta" was created */
    check_refused(f, b, big, 5, now, l2, "large: truncated to", 5, 1);
}

/* A snapshot taken under another wake/sleep configuration (a consolidation
 * buffer of 11 entries restored where it holds 7): whatever the outcome, not
 * "no memory budget" with 64 MB free, and a refused restore leaves the
 * existing scope as it was. */
static void test_snapshot_restore_other_rhythm(void **state)
{
    fx_t *f = *state;
    gs_govern_conf_t c8 = make_conf(8, 3, GS_SLEEP_DEGRADE, 64, 64u << 20);
    gs_govern_conf_t c4 = make_conf(4, 3, GS_SLEEP_DEGRADE, 64, 64u << 20);
    gs_govern_t *a = fx_govern(f, &c8), *b = fx_govern(f, &c4);
    gs_str_t t = S("rhythm change words");
    char err[256];
    gs_verdict_t v;
    for (int i = 0; i < 10; i++) /* 10 steps: 8 wake + 2 sleep; buffer 2 */
        assert_int_equal(gs_govern_one(a, S("alpha"), 1, 0.95, &t, 1, 3, &v, err, sizeof(err)), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(gs_govern_one(b, S("alpha"), 1, 0.95, &t, 1, 3, &v, err, sizeof(err)), 0);
    size_t len, keep_len, now_len;
    uint8_t *d = take_snapshot(f, a, "alpha", &len);
    uint8_t *keep = take_snapshot(f, b, "alpha", &keep_len);
    size_t vectors = gs_govern_stats(b).vectors;
    gs_err_t e = restore(b, d, len, err, sizeof(err));
    uint8_t *now = take_snapshot(f, b, "alpha", &now_len);
    if (e == GS_ERR_NOMEM)
        fail_msg("restore returned GS_ERR_NOMEM (\"%s\") with %zu of %zu bytes in use; the scope "
                 "now has %zu vectors (had %zu) and %s",
                 err, gs_govern_stats(b).bytes, gs_govern_stats(b).max_bytes,
                 gs_govern_stats(b).vectors, vectors,
                 now_len == keep_len && !memcmp(now, keep, now_len) ? "is unchanged"
                                                                    : "lost its memory");
    if (e != GS_OK && (now_len != keep_len || memcmp(now, keep, now_len)))
        fail_msg("refused restore (%d: %s) changed the existing scope", (int)e, err);
}

/* Scope keys are 1..128 bytes; a 129-byte key names no scope, even when its
 * first 128 bytes are a scope's key. */
static void test_snapshot_key_too_long(void **state)
{
    fx_t *f = *state;
    gs_govern_conf_t conf = make_conf(4, 3, GS_SLEEP_DEGRADE, 64, 64u << 20);
    gs_govern_t *g = fx_govern(f, &conf);
    char key[130];
    memset(key, 'k', sizeof(key));
    gs_str_t t = S("long key words");
    char err[256];
    gs_verdict_t v;
    assert_int_equal(
        gs_govern_one(g, (gs_str_t){key, 128}, 1, 0.95, &t, 1, 3, &v, err, sizeof(err)), GS_OK);
    assert_int_equal(
        gs_govern_one(g, (gs_str_t){key, 129}, 1, 0.95, &t, 1, 3, &v, err, sizeof(err)),
        GS_ERR_VALIDATION);
    uint8_t *d = NULL;
    size_t len = 0;
    gs_err_t e = gs_govern_snapshot(g, 0, (gs_str_t){key, 129}, &d, &len, err, sizeof(err));
    if (d)
        fx_own(f, d);
    if (e != GS_ERR_NOT_FOUND)
        fail_msg("snapshot of a 129-byte key returned %d (a %zu-byte snapshot of the 128-byte "
                 "key's scope), expected GS_ERR_NOT_FOUND",
                 (int)e, len);
}

/* ==== the changelog (SPEC 3.6) ============================================= */

/* Records as gs_govern_changes emits them, with the sequence numbers the
 * state layer would give them. */
typedef struct rec {
    int32_t partition;
    uint8_t *key, *val; /* val NULL: a tombstone */
    size_t klen, vlen;
    uint64_t seq;
} rec_t;

typedef struct clog {
    rec_t *r;
    size_t n, cap;
    uint64_t seq;
} clog_t;

static void clog_free(clog_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->r[i].key);
        free(l->r[i].val);
    }
    free(l->r);
    free(l);
}

static clog_t *fx_clog(fx_t *f)
{
    assert_true(f->n_logs < FX_MAX);
    clog_t *l = calloc(1, sizeof(*l));
    assert_non_null(l);
    return f->logs[f->n_logs++] = l;
}

static void *dup_bytes(const void *p, size_t n)
{
    void *d = malloc(n ? n : 1);
    assert_non_null(d);
    memcpy(d, p, n);
    return d;
}

static void collect(void *opaque, int32_t partition, const void *key, size_t klen,
                    const void *value, size_t vlen)
{
    clog_t *l = opaque;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 256;
        rec_t *r = realloc(l->r, l->cap * sizeof(*r));
        assert_non_null(r);
        l->r = r;
    }
    l->r[l->n++] = (rec_t){.partition = partition,
                           .key = dup_bytes(key, klen),
                           .klen = klen,
                           .val = value ? dup_bytes(value, vlen) : NULL,
                           .vlen = vlen,
                           .seq = ++l->seq};
}

static void take_changes(gs_govern_t *g, clog_t *l)
{
    char err[256] = "";
    if (gs_govern_changes(g, collect, l, err, sizeof(err)))
        fail_msg("changes: %s", err);
}

static const rec_t *sort_base;

static int by_key_then_index(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const rec_t *x = &sort_base[i], *y = &sort_base[j];
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    int c = memcmp(x->key, y->key, x->klen);
    return c ? c : (i > j) - (i < j);
}

static int by_index(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return (i > j) - (i < j);
}

/* The records a compacted topic keeps: the last of each key, in log order,
 * with or without the tombstones (the broker deletes them after
 * delete.retention.ms). Returns their count; idx is freed by the caller. */
static size_t compact(const clog_t *l, int keep_tombstones, size_t **idx)
{
    size_t *all = calloc(l->n + 1, sizeof(size_t)), n = 0;
    assert_non_null(all);
    for (size_t i = 0; i < l->n; i++)
        all[i] = i;
    sort_base = l->r;
    qsort(all, l->n, sizeof(size_t), by_key_then_index);
    for (size_t i = 0; i < l->n; i++) {
        const rec_t *r = &l->r[all[i]], *next = i + 1 < l->n ? &l->r[all[i + 1]] : NULL;
        int last = !next || next->klen != r->klen || memcmp(next->key, r->key, r->klen);
        if (last && (r->val || keep_tombstones))
            all[n++] = all[i];
    }
    qsort(all, n, sizeof(size_t), by_index);
    *idx = all;
    return n;
}

static void apply_rec(gs_govern_t *g, int32_t partition, const rec_t *r)
{
    char err[256] = "";
    if (gs_govern_apply(g, partition, r->seq, r->key, r->klen, r->val, r->vlen, err, sizeof(err)))
        fail_msg("apply record %llu: %s", (unsigned long long)r->seq, err);
}

/* Restores `partition` of g from the log as written or as compacted (mode
 * 0: everything, 1: compacted with tombstones, 2: compacted without). */
static size_t restore_log(gs_govern_t *g, int32_t partition, const clog_t *l, int mode)
{
    if (!mode) {
        for (size_t i = 0; i < l->n; i++)
            apply_rec(g, partition, &l->r[i]);
    } else {
        size_t *idx, n = compact(l, mode == 1, &idx);
        for (size_t i = 0; i < n; i++)
            apply_rec(g, partition, &l->r[idx[i]]);
        free(idx);
    }
    return gs_govern_restored(g, partition);
}

/* n requests in slices of 50 with the changes taken after each slice, as
 * the worker takes them after each batch. */
static void run_logged(fx_t *f, gs_govern_t *g, clog_t *l, uint64_t seed, size_t n)
{
    for (size_t i = 0; i < n; i += 50) {
        run_random(f, g, NULL, seed + i, 50, "logged");
        take_changes(g, l);
    }
}

static void check_same_accounts(gs_govern_t *a, gs_govern_t *b)
{
    gs_scope_stats_t x = gs_govern_stats(a), y = gs_govern_stats(b);
    assert_int_equal(x.scopes, y.scopes);
    assert_int_equal(x.vectors, y.vectors);
    assert_int_equal(x.bytes, y.bytes);
}

/* Restoring the log (as written, and compacted) gives scopes identical to
 * the ones that wrote it, byte for byte and in their accounts, and the
 * restored governor then decides exactly as the original. */
static void test_changelog_round_trip(void **state)
{
    fx_t *f = *state;
    gs_govern_conf_t conf = make_conf(4, 3, GS_SLEEP_DEGRADE, 64, 64u << 20);
    conf.changelog = 1;
    gs_govern_t *a = fx_govern(f, &conf);
    clog_t *l = fx_clog(f);
    run_logged(f, a, l, 0xC1A60001ull, 600);
    size_t max_value = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->r[i].vlen > max_value)
            max_value = l->r[i].vlen;
    assert_true(max_value < 64 * 1024); /* incremental: no large values */
    for (int mode = 0; mode < 3; mode++) {
        gs_govern_t *b = fx_govern(f, &conf);
        assert_int_equal(restore_log(b, 0, l, mode), gs_govern_stats(a).scopes);
        check_same_scopes(f, "restored", a, b, 3);
        check_same_accounts(a, b);
        fx_govern_drop(f, b);
    }
    /* the restored governor goes on exactly as the original, and logs the
     * same changes: a restore of its log equals both */
    gs_govern_t *b = fx_govern(f, &conf);
    restore_log(b, 0, l, 1);
    take_changes(b, fx_clog(f)); /* a restore itself logs nothing new */
    assert_int_equal(f->logs[f->n_logs - 1]->n, 0);
    run_random(f, a, b, 0xC1A60002ull, 300, "after restore");
    check_same_scopes(f, "restored, then 300", a, b, 3);
    check_same_accounts(a, b);
}

/* Evicted scopes leave tombstones: a restore has exactly the live scopes,
 * whether the broker still keeps the tombstones or not. */
static void test_changelog_eviction(void **state)
{
    fx_t *f = *state;
    gs_govern_conf_t conf = make_conf(4, 3, GS_SLEEP_DEGRADE, 16, 64u << 20);
    conf.changelog = 1;
    conf.max_scopes = 2; /* three keys: the least recently used goes */
    gs_govern_t *a = fx_govern(f, &conf);
    clog_t *l = fx_clog(f);
    run_logged(f, a, l, 0xC1A60011ull, 800);
    assert_true(gs_govern_stats(a).evicted > 0);
    size_t tombs = 0;
    for (size_t i = 0; i < l->n; i++)
        tombs += l->r[i].val == NULL;
    assert_true(tombs > 0);
    for (int mode = 0; mode < 3; mode++) {
        gs_govern_t *b = fx_govern(f, &conf);
        assert_int_equal(restore_log(b, 0, l, mode), gs_govern_stats(a).scopes);
        check_same_scopes(f, "restored after evictions", a, b, 3);
        check_same_accounts(a, b);
        fx_govern_drop(f, b);
    }
}

/* One key in two partitions is two scopes; dropping a partition leaves
 * the other's scopes and accounts as they were. */
static void test_changelog_partitions(void **state)
{
    fx_t *f = *state;
    gs_govern_conf_t conf = make_conf(4, 3, GS_SLEEP_DEGRADE, 32, 64u << 20);
    conf.changelog = 1;
    gs_govern_t *a = fx_govern(f, &conf), *b = fx_govern(f, &conf);
    clog_t *l = fx_clog(f);
    run_logged(f, a, l, 0xC1A60021ull, 300);
    size_t n = gs_govern_stats(a).scopes;
    assert_int_equal(restore_log(b, 0, l, 1), n);
    assert_int_equal(restore_log(b, 5, l, 1), n);
    assert_int_equal(gs_govern_stats(b).scopes, 2 * n);
    gs_govern_drop(b, 5);
    check_same_scopes(f, "partition 0 after dropping 5", a, b, 3);
    check_same_accounts(a, b);
    uint8_t *d = NULL;
    size_t len = 0;
    char err[256];
    assert_int_equal(gs_govern_snapshot(b, 5, S("alpha"), &d, &len, err, sizeof(err)),
                     GS_ERR_NOT_FOUND);
    /* a request of partition 5 starts its scope afresh, not from partition 0's */
    gs_govern_req_t r = {.scope = S("alpha"), .partition = 5, .has_value = 1, .value = 0.9};
    assert_int_equal(gs_govern_decide(b, &r, 1, err, sizeof(err)), GS_OK);
    assert_int_equal(r.err, GS_OK);
    snap_t s;
    snapshot_of(f, b, "alpha", &s); /* partition 0: untouched */
    assert_int_equal(gs_govern_snapshot(b, 5, S("alpha"), &d, &len, err, sizeof(err)), GS_OK);
    fx_own(f, d);
    snap_t s5;
    parse_snapshot(d, len, &s5);
    assert_int_equal(s5.steps, 1);
    assert_true(s.steps > 1);
}

static const rec_t *find_rec(const clog_t *l, char type)
{
    for (size_t i = l->n; i-- > 0;)
        if (l->r[i].val && l->r[i].key[0] == type)
            return &l->r[i];
    fail_msg("no '%c' record in the log", type);
    return NULL;
}

/* Applies a damaged copy of r: it must be refused with `want`, and the
 * scope (restored before) must be unchanged. */
static void check_apply_refused(fx_t *f, gs_govern_t *g, const rec_t *r, const uint8_t *key,
                                size_t klen, const uint8_t *val, size_t vlen, gs_err_t want,
                                const char *what)
{
    size_t l0, l1;
    uint8_t *before = take_snapshot(f, g, "alpha", &l0);
    char err[256] = "";
    gs_err_t e = gs_govern_apply(g, 0, r->seq + 1000, key, klen, val, vlen, err, sizeof(err));
    if (e != want)
        fail_msg("%s: apply returned %d (%s), expected %d", what, (int)e, err, (int)want);
    assert_true(err[0] != 0);
    uint8_t *after = take_snapshot(f, g, "alpha", &l1);
    if (l0 != l1 || memcmp(before, after, l0))
        fail_msg("%s: the scope changed", what);
    fx_free(f, before);
    fx_free(f, after);
}

/* Records no governor wrote are refused with a reason, and leave the state
 * as it was: truncated and extended values, another version or dimension,
 * unknown key types, slots out of range or with out-of-range values. Slots
 * without their header are dropped when the restore ends, and a late older
 * header does not overwrite a newer one. */
static void test_changelog_corrupt_records(void **state)
{
    fx_t *f = *state;
    gs_govern_conf_t conf = make_conf(4, 3, GS_SLEEP_DEGRADE, 32, 64u << 20);
    conf.changelog = 1;
    gs_govern_t *a = fx_govern(f, &conf), *b = fx_govern(f, &conf);
    clog_t *l = fx_clog(f);
    run_logged(f, a, l, 0xC1A60031ull, 300);
    restore_log(b, 0, l, 1);
    const rec_t *h = find_rec(l, 'H'), *sl = find_rec(l, 'S');
    uint8_t *v = fx_own(f, malloc(h->vlen + 8));
    memcpy(v, h->val, h->vlen);
    check_apply_refused(f, b, h, h->key, h->klen, v, h->vlen - 1, GS_ERR_DECODE, "short header");
    check_apply_refused(f, b, h, h->key, h->klen, v, 3, GS_ERR_DECODE, "3-byte header");
    check_apply_refused(f, b, h, h->key, h->klen, v, h->vlen + 4, GS_ERR_DECODE, "long header");
    v[0] = GS_CHANGELOG_VERSION + 1;
    check_apply_refused(f, b, h, h->key, h->klen, v, h->vlen, GS_ERR_SCHEMA, "next version");
    v[0] = h->val[0];
    wr32(v + 4, DIM + 1);
    check_apply_refused(f, b, h, h->key, h->klen, v, h->vlen, GS_ERR_SCHEMA, "other dimension");
    uint8_t *k = fx_own(f, dup_bytes(h->key, h->klen));
    k[0] = 'X';
    check_apply_refused(f, b, h, k, h->klen, h->val, h->vlen, GS_ERR_DECODE, "key type X");
    check_apply_refused(f, b, h, k, 1, h->val, h->vlen, GS_ERR_DECODE, "key without a scope");
    uint8_t *sv = fx_own(f, dup_bytes(sl->val, sl->vlen));
    check_apply_refused(f, b, sl, sl->key, sl->klen, sv, sl->vlen - 4, GS_ERR_DECODE, "short slot");
    uint8_t *sk = fx_own(f, dup_bytes(sl->key, sl->klen));
    wr32(sk + 1, 32); /* capacity 32: slots 0..31 */
    check_apply_refused(f, b, sl, sk, sl->klen, sv, sl->vlen, GS_ERR_DECODE, "slot 32");
    float nan = NAN;
    memcpy(sv + 8, &nan, 4); /* the phase */
    check_apply_refused(f, b, sl, sl->key, sl->klen, sv, sl->vlen, GS_ERR_DECODE, "NaN phase");
    check_same_scopes(f, "after refused records", a, b, 3);
    /* an older header that arrives late is ignored */
    const rec_t *first = NULL;
    for (size_t i = 0; i < l->n && !first; i++)
        if (l->r[i].val && l->r[i].klen == h->klen && !memcmp(l->r[i].key, h->key, h->klen))
            first = &l->r[i];
    assert_true(first && first->seq < h->seq);
    apply_rec(b, 0, first);
    check_same_scopes(f, "after a late older header", a, b, 3);
    /* slots alone (the header deleted) do not make a scope */
    gs_govern_t *c = fx_govern(f, &conf);
    apply_rec(c, 0, sl);
    assert_int_equal(gs_govern_restored(c, 0), 0);
    assert_int_equal(gs_govern_stats(c).scopes, 0);
    assert_int_equal(gs_govern_stats(c).bytes, gs_govern_stats(fx_govern(f, &conf)).bytes);
}

/* A restore that does not fit the memory budget refuses the scope (NOMEM)
 * and keeps the accounts exact. */
static void test_changelog_budget(void **state)
{
    fx_t *f = *state;
    gs_govern_conf_t conf = make_conf(4, 3, GS_SLEEP_DEGRADE, 64, 64u << 20);
    conf.changelog = 1;
    gs_govern_t *a = fx_govern(f, &conf);
    clog_t *l = fx_clog(f);
    run_logged(f, a, l, 0xC1A60041ull, 600);
    gs_govern_conf_t small = conf;
    small.max_memory_bytes = gs_govern_stats(a).bytes / 2;
    gs_govern_t *b = fx_govern(f, &small);
    size_t *idx, n = compact(l, 1, &idx), refused = 0;
    char err[256];
    for (size_t i = 0; i < n; i++) {
        const rec_t *r = &l->r[idx[i]];
        gs_err_t e =
            gs_govern_apply(b, 0, r->seq, r->key, r->klen, r->val, r->vlen, err, sizeof(err));
        assert_true(e == GS_OK || e == GS_ERR_NOMEM);
        refused += e == GS_ERR_NOMEM;
    }
    free(idx);
    gs_govern_restored(b, 0);
    assert_true(refused > 0);
    gs_scope_stats_t st = gs_govern_stats(b);
    assert_true(st.bytes <= st.max_bytes);
    gs_govern_drop(b, 0);
    assert_int_equal(gs_govern_stats(b).scopes, 0);
    assert_int_equal(gs_govern_stats(b).bytes, gs_govern_stats(fx_govern(f, &small)).bytes);
}

/* A changelog value rewritten as version 1 (no memory ids). */
static void record_v1(rec_t *r)
{
    if (!r->val)
        return;
    uint8_t *v = r->val, *out = malloc(r->vlen);
    assert_non_null(out);
    size_t o = 8, w;
    if (r->key[0] == 'S') {
        memcpy(out, v, 20);
        w = 20;
        o = 20 + id_bytes(v + 20);
    } else {
        size_t fixed = 8 + 48 + 8 + (v[1] ? 3 * DIM * 4 : 0);
        memcpy(out, v, fixed + 4);
        uint32_t n = rd32(v + fixed);
        w = o = fixed + 4;
        for (uint32_t b = 0; b < n; b++) {
            memcpy(out + w, v + o, 4);
            o += 4 + id_bytes(v + o + 4);
            w += 4;
            memcpy(out + w, v + o, DIM * 4);
            o += DIM * 4;
            w += DIM * 4;
        }
    }
    memcpy(out + w, v + o, r->vlen - o);
    w += r->vlen - o;
    out[0] = 1;
    free(r->val);
    r->val = out;
    r->vlen = w;
}

/* A changelog written before the memory ids (version 1) restores: the same
 * scopes, which then decide and retrieve as the original does (the ids
 * empty, the scores the same). */
static void test_changelog_version1(void **state)
{
    fx_t *f = *state;
    gs_govern_conf_t conf = make_conf(4, 3, GS_SLEEP_DEGRADE, 64, 64u << 20);
    conf.changelog = 1;
    gs_govern_t *a = fx_govern(f, &conf), *b = fx_govern(f, &conf);
    clog_t *l = fx_clog(f);
    run_logged(f, a, l, 0xC1A60101ull, 400);
    for (size_t i = 0; i < l->n; i++)
        record_v1(&l->r[i]);
    assert_int_equal(restore_log(b, 0, l, 1), gs_govern_stats(a).scopes);
    assert_int_equal(gs_govern_stats(b).vectors, gs_govern_stats(a).vectors);
    run_random(f, a, b, 0xC1A60102ull, 200, "after a version 1 restore");
}

/* ==== memory ids: what was retrieved ======================================== */

/* One governed request of the id tests: value 0.95 (accepted, written),
 * its context into out. */
static outcome_t ask(gs_govern_t *g, const char *id, const char *text, int k)
{
    rq_t r;
    memset(&r, 0, sizeof(r));
    r.key = 0;
    r.has_value = 1;
    r.value = 0.95;
    r.n_texts = 1;
    r.texts[0] = S(text);
    r.top_k = k;
    snprintf(r.id, sizeof(r.id), "%s", id);
    outcome_t o;
    run_one(g, &r, &o);
    assert_int_equal(o.err, GS_OK);
    return o;
}

static float cosine_of(const char *a, const char *b)
{
    float x[DIM], y[DIM], dot = 0;
    gs_str_t sa = S(a), sb = S(b);
    gs_embed(&sa, 1, x);
    gs_embed(&sb, 1, y);
    for (size_t i = 0; i < DIM; i++)
        dot += x[i] * y[i];
    return dot;
}

static int has_id(const outcome_t *o, int32_t c, const char *id)
{
    return o->context[c].id_len == strlen(id) && !memcmp(o->context[c].id, id, strlen(id));
}

static void same_outcome(const char *ctx, const outcome_t *a, const outcome_t *b)
{
    assert_int_equal(a->v.context_items, b->v.context_items);
    for (int32_t c = 0; c < a->v.context_items; c++)
        if (memcmp(&a->context[c], &b->context[c],
                   offsetof(gs_context_item_t, id) + a->context[c].id_len))
            fail_msg("%s: context %d differs", ctx, (int)c);
}

static const char *const notes[] = {
    "the ferry leaves the harbour at nine", "my cat sleeps on the warm laptop",
    "we planted tomatoes and basil in spring", "the train to the mountains was late again",
    "she plays the cello in a string quartet"};

/* A v2 snapshot rewritten as version 1 (no ids), CRC recomputed. */
static size_t snapshot_v1(const uint8_t *d, size_t len, uint8_t *out)
{
    snap_t s;
    parse_snapshot(d, len, &s);
    size_t o = (size_t)(s.buf_n ? s.buf[0] - d : s.slots - d - 12), w = 0;
    memcpy(out, d, o);
    out[4] = 1, out[5] = 0;
    w = o;
    for (uint32_t b = 0; b < s.buf_n; b++) {
        memcpy(out + w, s.buf[b], 4);
        memcpy(out + w + 4, s.buf[b] + 4 + id_bytes(s.buf[b] + 4), DIM * 4);
        w += 4 + DIM * 4;
    }
    memcpy(out + w, s.slots - 12, 12);
    w += 12;
    for (uint32_t i = 0; i < s.size; i++) {
        memcpy(out + w, s.slot[i], 12);
        memcpy(out + w + 12, s.slot[i] + 12 + id_bytes(s.slot[i] + 12), DIM * 4);
        w += 12 + DIM * 4;
    }
    wr32(out + w, gs_crc32c(0, out, w));
    return w + 4;
}

/* Results name the memories retrieved (SPEC 3.4): the request ids that
 * wrote them, their cosines and phases, best first; the ids survive a
 * snapshot and the changelog, and older records without ids restore with
 * empty ones. */
static void test_context_ids(void **state)
{
    fx_t *f = *state;
    gs_govern_conf_t conf = make_conf(8, 3, GS_SLEEP_DEGRADE, 64, 64u << 20);
    conf.changelog = 1;
    gs_govern_t *a = fx_govern(f, &conf);
    clog_t *l = fx_clog(f);
    char id[16];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "m%d", i);
        ask(a, id, notes[i], 5);
    }
    take_changes(a, l);
    /* the same words as memory 2: it comes first, with cosine 1 */
    outcome_t o = ask(a, "q1", notes[2], 5);
    assert_int_equal(o.v.context_items, 5);
    assert_true(has_id(&o, 0, "m2"));
    assert_true(fabsf(o.context[0].score - 1.0f) <= 1e-6f);
    for (int32_t c = 0; c < 5; c++) {
        int i = o.context[c].id[1] - '0';
        assert_true(o.context[c].id_len == 2 && i >= 0 && i < 5);
        assert_true(fabsf(o.context[c].score - cosine_of(notes[2], notes[i])) <= 1e-6f);
        assert_true(o.context[c].phase == GS_PHASE_WAKE_VALUE);
        assert_true(c == 0 || o.context[c].score <= o.context[c - 1].score);
    }
    /* the snapshot names the writer of every slot */
    size_t len;
    uint8_t *d = take_snapshot(f, a, keys[0], &len);
    snap_t s;
    parse_snapshot(d, len, &s);
    char got[129];
    snap_id(&s, 3, got);
    assert_string_equal(got, "m3");
    /* restored from the snapshot, from the changelog, and from a version 1
     * snapshot (empty ids): the same next answer */
    gs_govern_t *b = fx_govern(f, &conf), *c = fx_govern(f, &conf), *v1 = fx_govern(f, &conf);
    char err[256];
    assert_int_equal(restore(b, d, len, err, sizeof(err)), GS_OK);
    take_changes(a, l);
    restore_log(c, 0, l, 1);
    uint8_t *old = fx_own(f, malloc(len));
    size_t old_len = snapshot_v1(d, len, old);
    if (restore(v1, old, old_len, err, sizeof(err)))
        fail_msg("version 1 snapshot: %s", err);
    outcome_t oa = ask(a, "q2", notes[4], 3), ob = ask(b, "q2", notes[4], 3),
              oc = ask(c, "q2", notes[4], 3), ov = ask(v1, "q2", notes[4], 3);
    same_outcome("snapshot", &oa, &ob);
    same_outcome("changelog", &oa, &oc);
    assert_true(has_id(&oa, 0, "m4") || has_id(&oa, 0, "q2"));
    for (int32_t k = 0; k < ov.v.context_items; k++) {
        assert_true(ov.context[k].score == oa.context[k].score);
        assert_true(ov.context[k].id_len == 0 || has_id(&ov, k, "q1"));
    }
    /* into sleep: the buffered writes come back as sleep memories under
     * the ids that wrote them */
    outcome_t last;
    for (int i = 0; i < 3; i++) /* steps 9..11: the eighth entered sleep */
        last = ask(a, "z", "the ferry leaves the harbour at nine", 20);
    assert_int_equal(last.v.phase, GS_PHASE_SLEEP);
    assert_true(last.v.context_items >= 5);
    for (int32_t k = 0; k < last.v.context_items; k++)
        assert_true(last.context[k].phase == GS_PHASE_SLEEP_VALUE && last.context[k].id_len > 0);
    assert_true(has_id(&last, 0, "m0"));
    fx_free(f, d);
    fx_free(f, old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_batch_equivalence, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_context_growth, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_memory_writes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_confidence_just_below_half, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_memory_budget, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_memory_budget_restore, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_idle_eviction, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_round_trip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_restore_footprint, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_corruption, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_restore_other_rhythm, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_key_too_long, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_changelog_round_trip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_changelog_eviction, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_changelog_partitions, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_changelog_corrupt_records, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_changelog_budget, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_context_ids, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_changelog_version1, fx_setup, fx_teardown),
    };
    /* GS_TEST_FILTER=test_name (or a glob) runs one test */
    if (getenv("GS_TEST_FILTER"))
        cmocka_set_test_filter(getenv("GS_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
