/* bench-codec: decode a DialogueRequest and encode its DialogueResult, per
 * record, with the generated codec and with avro-c generic values (the way
 * the worker did it before the generated codec: walk, avro-c decode, field
 * views, avro-c result encode), same records, same run, alternating rounds.
 * malloc, calloc, realloc and free are counted (this binary interposes
 * them), so allocations per record are measured, not estimated.
 *
 *   bench-codec [RECORDS=20000] [ROUNDS=5]     prints JSON; progress on a terminal */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "govstream/codec.h"
#include "govstream/schemas.h"

/* ---- the allocation counter -------------------------------------------- */

/* glibc's own entry points, which the counting wrappers forward to */
extern void *__libc_malloc(size_t);          // NOLINT(bugprone-reserved-identifier)
extern void *__libc_calloc(size_t, size_t);  // NOLINT(bugprone-reserved-identifier)
extern void *__libc_realloc(void *, size_t); // NOLINT(bugprone-reserved-identifier)
extern void __libc_free(void *);             // NOLINT(bugprone-reserved-identifier)
static unsigned long long allocs;

void *malloc(size_t n)
{
    allocs++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    allocs++;
    return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    allocs++;
    return __libc_realloc(p, n);
}

void free(void *p)
{
    __libc_free(p);
}

/* ---- input: requests as govstream-load makes them ---------------------- */

static const char *const phrases[] = {"hello there",
                                      "can you help me plan a trip",
                                      "thanks for the support",
                                      "what is the weather like",
                                      "i want to learn about peace and trust",
                                      "tell me a story",
                                      "the meeting was fair and honest",
                                      "please protect my data",
                                      "how do i fix this bug",
                                      "good morning"};

typedef struct input {
    gs_buf_t *bytes;
    size_t n;
} input_t;

static void make_input(input_t *in, size_t n)
{
    in->bytes = calloc(n, sizeof(gs_buf_t));
    in->n = n;
    char err[256], rid[64], sid[64], tenant[32];
    gs_str_t turns[4];
    uint64_t x = 42;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        snprintf(rid, sizeof(rid), "bench-%zu", i);
        snprintf(sid, sizeof(sid), "bench-s%llu", (unsigned long long)((x >> 33) % 100));
        snprintf(tenant, sizeof(tenant), "tenant-%llu", (unsigned long long)((x >> 40) % 4));
        size_t nt = 1 + (x >> 50) % 4;
        for (size_t t = 0; t < nt; t++)
            turns[t] = gs_avro_cstr(phrases[(x >> (8 * t)) % 10]);
        gs_avro_dialogue_request_t r = {
            .request_id = gs_avro_cstr(rid),
            .session_id = gs_avro_cstr(sid),
            .tenant = gs_avro_cstr(tenant),
            .op = (gs_avro_dialogue_op_t)((x >> 20) % 3),
            .turns = turns,
            .n_turns = nt,
            .top_k = 5,
            .max_tokens = 32,
            .has_moral_value = (x >> 30) & 1,
            .moral_value = (double)((x >> 12) % 1000) / 1000.0,
            .context_top_k = 5,
            .created_at_ms = 1795398721000 + (int64_t)i,
        };
        if (gs_avro_dialogue_request_encode(&r, -1, &in->bytes[i], err, sizeof(err))) {
            fprintf(stderr, "bench-codec: %s\n", err);
            exit(1);
        }
    }
}

static const gs_avro_prediction_t preds[5] = {
    {{"i", 1}, 0.21}, {{"the", 3}, 0.12}, {{"you", 3}, 0.08}, {{"it", 2}, 0.05}, {{"a", 1}, 0.04}};

/* ---- generated ----------------------------------------------------------- */

typedef struct gen {
    gs_arena_t arena;
    gs_buf_t out;
} gen_t;

static int run_generated(gen_t *g, const gs_buf_t *msg, size_t i)
{
    char err[256];
    gs_avro_dialogue_request_t r;
    if (i % 256 == 0) /* the worker resets its arena per micro-batch */
        gs_arena_reset(&g->arena);
    if (gs_avro_dialogue_request_decode(msg->data, msg->len, &g->arena, &r, err, sizeof(err)))
        return -1;
    gs_avro_dialogue_result_t res = {
        .request_id = r.request_id,
        .session_id = r.session_id,
        .tenant = r.tenant,
        .accepted = true,
        .note = gs_avro_cstr("processed"),
        .phase = GS_AVRO_PHASE_WAKE,
        .step = (int64_t)i,
        .moral_threshold = 0.5,
        .moral_value = r.has_moral_value ? r.moral_value : 0.8,
        .context_items = 5,
        .predictions = (gs_avro_prediction_t *)preds,
        .n_predictions = r.op == GS_AVRO_DIALOGUE_OP_NEXT_TOKEN ? 1 : 5,
        .model = {gs_avro_cstr("chitchat"), gs_avro_cstr("1"), gs_avro_cstr("0123456789abcdef")},
        .timings = {3, 10, 20, 40},
        .source = {gs_avro_cstr("govstream.dialogue.requests"), 3, (int64_t)i},
        .worker_id = gs_avro_cstr("bench"),
        .processed_at_ms = 1795398721000,
    };
    return gs_avro_dialogue_result_encode(&res, -1, &g->out, err, sizeof(err)) ? -1 : 0;
}

/* ---- avro-c generic values, as the worker used them ---------------------- */

typedef struct generic {
    gs_avro_schema_t *req, *res;
    avro_value_t rq, rs;
    avro_writer_t writer;
    char *out;
    size_t cap;
} generic_t;

static int get_str(avro_value_t *rec, size_t idx, gs_str_t *out)
{
    avro_value_t f;
    size_t size;
    if (avro_value_get_by_index(rec, idx, &f, NULL) || avro_value_get_string(&f, &out->p, &size))
        return -1;
    out->len = size ? size - 1 : 0;
    return 0;
}

static int set_str(avro_value_t *rec, size_t idx, gs_str_t s)
{
    avro_value_t f;
    char tmp[256];
    if (s.len >= sizeof(tmp) || avro_value_get_by_index(rec, idx, &f, NULL))
        return -1;
    memcpy(tmp, s.p, s.len);
    tmp[s.len] = '\0';
    return avro_value_set_string_len(&f, tmp, s.len + 1);
}

static int run_generic(generic_t *c, const gs_buf_t *msg, size_t i)
{
    char err[256];
    avro_value_t f, sub, item;
    gs_str_t rid, sid, tenant, turn;
    int32_t top_k;
    int op, branch;
    size_t nt;
    if (gs_avro_check(c->req, msg->data, msg->len, err, sizeof(err)) ||
        gs_avro_decode(msg->data, msg->len, c->req, c->req, &c->rq, err, sizeof(err)))
        return -1;
    /* the view: DialogueRequest field positions */
    int rc = get_str(&c->rq, 0, &rid) || get_str(&c->rq, 1, &sid) || get_str(&c->rq, 2, &tenant) ||
             avro_value_get_by_index(&c->rq, 3, &f, NULL) || avro_value_get_enum(&f, &op) ||
             avro_value_get_by_index(&c->rq, 4, &f, NULL) || avro_value_get_size(&f, &nt);
    for (size_t t = 0; !rc && t < nt; t++)
        rc = avro_value_get_by_index(&f, t, &item, NULL) ||
             avro_value_get_string(&item, &turn.p, &turn.len);
    rc = rc || avro_value_get_by_index(&c->rq, 5, &f, NULL) || avro_value_get_int(&f, &top_k) ||
         avro_value_get_by_index(&c->rq, 7, &f, NULL) || avro_value_get_discriminant(&f, &branch);
    if (rc)
        return -1;
    /* the result */
    avro_value_t *v = &c->rs;
    avro_value_reset(v);
    rc = set_str(v, 0, rid) || set_str(v, 1, sid) || set_str(v, 2, tenant) ||
         avro_value_get_by_index(v, 3, &f, NULL) || avro_value_set_boolean(&f, 1) ||
         set_str(v, 4, gs_avro_cstr("processed")) || avro_value_get_by_index(v, 5, &f, NULL) ||
         avro_value_set_enum(&f, 0) || avro_value_get_by_index(v, 6, &f, NULL) ||
         avro_value_set_long(&f, (int64_t)i) || avro_value_get_by_index(v, 7, &f, NULL) ||
         avro_value_set_double(&f, 0.5) || avro_value_get_by_index(v, 8, &f, NULL) ||
         avro_value_set_double(&f, 0.8) || avro_value_get_by_index(v, 9, &f, NULL) ||
         avro_value_set_int(&f, 5) || avro_value_get_by_index(v, 10, &f, NULL);
    for (int p = 0; !rc && p < (op == 0 ? 1 : 5); p++)
        rc = avro_value_append(&f, &item, NULL) || set_str(&item, 0, preds[p].token) ||
             avro_value_get_by_index(&item, 1, &sub, NULL) ||
             avro_value_set_double(&sub, preds[p].probability);
    rc = rc || avro_value_get_by_index(v, 11, &f, NULL) || avro_value_set_branch(&f, 0, &sub) ||
         avro_value_set_null(&sub) || avro_value_get_by_index(v, 12, &f, NULL) ||
         set_str(&f, 0, gs_avro_cstr("chitchat")) || set_str(&f, 1, gs_avro_cstr("1")) ||
         set_str(&f, 2, gs_avro_cstr("0123456789abcdef")) ||
         avro_value_get_by_index(v, 13, &f, NULL);
    for (size_t t = 0; !rc && t < 4; t++)
        rc = avro_value_get_by_index(&f, t, &sub, NULL) || avro_value_set_long(&sub, 10);
    rc = rc || avro_value_get_by_index(v, 14, &f, NULL) ||
         set_str(&f, 0, gs_avro_cstr("govstream.dialogue.requests")) ||
         avro_value_get_by_index(&f, 1, &sub, NULL) || avro_value_set_int(&sub, 3) ||
         avro_value_get_by_index(&f, 2, &sub, NULL) || avro_value_set_long(&sub, (int64_t)i) ||
         set_str(v, 15, gs_avro_cstr("bench")) || avro_value_get_by_index(v, 16, &f, NULL) ||
         avro_value_set_long(&f, 1795398721000);
    if (rc)
        return -1;
    avro_writer_memory_set_dest(c->writer, c->out, (int64_t)c->cap);
    return avro_value_write(c->writer, v) ? -1 : 0;
}

/* ---- rounds ------------------------------------------------------------- */

typedef struct result {
    double ns_per_record;
    double allocs_per_record;
} result_t;

typedef int(run_fn)(void *ctx, const gs_buf_t *msg, size_t i);

static result_t round_of(run_fn *fn, void *ctx, const input_t *in)
{
    for (size_t i = 0; i < in->n / 10; i++) /* warm: buffers and arena at their size */
        if (fn(ctx, &in->bytes[i], i))
            fprintf(stderr, "bench-codec: record %zu failed\n", i), exit(1);
    unsigned long long a0 = allocs;
    int64_t t0 = gs_now_us();
    for (size_t i = 0; i < in->n; i++)
        if (fn(ctx, &in->bytes[i], i))
            fprintf(stderr, "bench-codec: record %zu failed\n", i), exit(1);
    int64_t t1 = gs_now_us();
    return (result_t){(double)(t1 - t0) * 1000.0 / (double)in->n,
                      (double)(allocs - a0) / (double)in->n};
}

static int gen_fn(void *ctx, const gs_buf_t *msg, size_t i)
{
    return run_generated(ctx, msg, i);
}

static int generic_fn(void *ctx, const gs_buf_t *msg, size_t i)
{
    return run_generic(ctx, msg, i);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 20000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (n < 10 || rounds < 1 || rounds > 99) {
        fprintf(stderr, "usage: bench-codec [RECORDS>=10] [ROUNDS 1..99]\n");
        return 2;
    }
    int tty = isatty(2);
    char err[256];
    input_t in;
    make_input(&in, n);
    gen_t g = {0};
    generic_t c = {0};
    c.cap = 1 << 16;
    c.out = malloc(c.cap);
    c.writer = avro_writer_memory(c.out, (int64_t)c.cap);
    if (gs_avro_value_new("DialogueRequest", &c.req, &c.rq, err, sizeof(err)) ||
        gs_avro_value_new("DialogueResult", &c.res, &c.rs, err, sizeof(err))) {
        fprintf(stderr, "bench-codec: %s\n", err);
        return 1;
    }
    double gns[99], cns[99];
    result_t gr = {0}, cr = {0};
    for (int r = 0; r < rounds; r++) {
        gr = round_of(gen_fn, &g, &in);
        cr = round_of(generic_fn, &c, &in);
        gns[r] = gr.ns_per_record;
        cns[r] = cr.ns_per_record;
        if (tty)
            fprintf(stderr,
                    "\rbench-codec: round %d/%d: generated %.0f ns, avro-c %.0f ns per record",
                    r + 1, rounds, gns[r], cns[r]);
    }
    if (tty)
        fprintf(stderr, "\n");
    qsort(gns, (size_t)rounds, sizeof(double), cmp_double);
    qsort(cns, (size_t)rounds, sizeof(double), cmp_double);
    double gm = gns[rounds / 2], cm = cns[rounds / 2];
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += in.bytes[i].len;
    printf("{\"records\": %zu, \"rounds\": %d, \"request_bytes_mean\": %.1f,\n"
           " \"generated\": {\"ns_per_record_median\": %.1f, \"allocations_per_record\": %.4f},\n"
           " \"avro_c\": {\"ns_per_record_median\": %.1f, \"allocations_per_record\": %.4f},\n"
           " \"speedup\": %.2f}\n",
           n, rounds, (double)bytes / (double)n, gm, gr.allocs_per_record, cm, cr.allocs_per_record,
           cm / gm);
    for (size_t i = 0; i < n; i++)
        gs_buf_free(&in.bytes[i]);
    free(in.bytes);
    gs_arena_free(&g.arena);
    gs_buf_free(&g.out);
    avro_writer_free(c.writer);
    free(c.out);
    gs_avro_value_free(c.req, &c.rq);
    gs_avro_value_free(c.res, &c.rs);
    return 0;
}
