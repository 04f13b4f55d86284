/* Message framing and every kind's request path as the worker runs it for
 * a message without a registry schema id (src/pipeline/batch.c): frame
 * parse, the kind's generated decoder into a per-batch arena, the kind's
 * process (validation, governance with memory, no dialogue model; an
 * intent model trained at start, so that intent requests that validate go
 * through features, forecast, safety and MPC; a timbre model of random
 * weights, so that clips that validate go through resampling, features,
 * both learners and the recordings' store), the result's
 * encoder. The kinds keep their state across inputs, as a worker does, so
 * scopes and memories fill. First byte: 0 raw framing, 1 Confluent.
 * Run from the source tree (the lexicons are config/lexicon/). */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "govstream/codec.h"
#include "govstream/intent.h"
#include "govstream/kinds.h"
#include "govstream/timbre.h"
#include "../../src/kinds/timbre/model.h"

#define MAX_KINDS 16

typedef struct kinds_rt {
    gs_config_t *cfg;
    gs_kind_t *k[MAX_KINDS];
    size_t n;
} kinds_rt_t;

/* A small intent model, trained into a scratch directory (and removed:
 * the kind keeps what it loaded); the override that names it. */
static const char *intent_model(void)
{
    static char dir[] = "/tmp/gs-fuzz-intent.XXXXXX", ov[128], path[96];
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof(path), "%s/m.gsm", dir);
    char *argv[] = {"intent", "--out", path, "--train", "600", "--test", "60", NULL};
    if (gs_kind_intent.train(7, argv) != 0)
        abort();
    snprintf(ov, sizeof(ov), "models.intent=%s", path);
    return ov;
}

static void remove_model(const char *ov)
{
    static const char *const suffix[] = {"", ".report.json", ".report.svg", ".report-forecast.svg",
                                         ".report-confusion.svg"};
    char f[160];
    const char *path = ov + strlen("models.intent=");
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(f, sizeof(f), "%s%s", path, suffix[i]);
        unlink(f);
    }
    snprintf(f, sizeof(f), "%.*s", (int)(strrchr(path, '/') - path), path);
    rmdir(f);
}

/* A timbre model of seeded random weights (what the weights are does not
 * matter to the code paths), serving both learners' mean. */
static const char *timbre_model(void)
{
    static char path[] = "/tmp/gs-fuzz-timbre.XXXXXX", ov[128];
    char err[256];
    int fd = mkstemp(path);
    int dims[4] = {GS_TIMBRE_N_POOLED, 32, 16, GS_TIMBRE_N_FAMILIES};
    timbre_model_t m = {.serve = SERVE_MEAN};
    if (fd < 0 || close(fd) || mlp_init(&m.mlp, 3, dims, 1, err, sizeof(err)) ||
        cnn_init(&m.cnn, GS_TIMBRE_N_FAMILIES, 2, err, sizeof(err)))
        abort();
    for (int j = 0; j < GS_TIMBRE_N_POOLED; j++)
        m.scale[j] = 1.0f;
    snprintf(m.name, sizeof(m.name), "fuzz");
    snprintf(m.version, sizeof(m.version), "0");
    if (timbre_model_save(&m, path, NULL, err, sizeof(err)))
        abort();
    timbre_model_free(&m);
    snprintf(ov, sizeof(ov), "models.timbre=%s", path);
    return ov;
}

static const kinds_rt_t *kinds(void)
{
    static kinds_rt_t rt;
    static const gs_config_section_t *sections[MAX_KINDS + 1];
    if (rt.cfg)
        return &rt;
    const char *ov[] = {"governance.memory_capacity=8", "governance.max_scopes=512",
                        "dialogue.governance_only=true", intent_model(), timbre_model()};
    char err[512];
    gs_kinds_sections(gs_kinds, sections, MAX_KINDS + 1);
    if (gs_config_load("config/govstream.cfg", sections, ov, 5, &rt.cfg, err, sizeof(err))) {
        fprintf(stderr, "fuzz_request: %s (run from the source tree)\n", err);
        abort();
    }
    for (rt.n = 0; gs_kinds[rt.n] && rt.n < MAX_KINDS; rt.n++) {
        const gs_kind_ops_t *ops = gs_kinds[rt.n];
        if (ops->create(rt.cfg, gs_config_section(rt.cfg, ops->name), &rt.k[rt.n], err,
                        sizeof(err))) {
            fprintf(stderr, "fuzz_request: %s: %s\n", ops->name, err);
            abort();
        }
        /* what loads, serves (the intent model); the rest runs without */
        if (ops->load_models)
            (void)ops->load_models(rt.k[rt.n], err, sizeof(err));
    }
    remove_model(ov[3]);
    unlink(ov[4] + strlen("models.timbre="));
    return &rt;
}

static void run_kind(const gs_kind_ops_t *ops, gs_kind_t *k, const uint8_t *p, size_t len,
                     gs_arena_t *arena, gs_buf_t *out)
{
    char err[512];
    void *req = gs_arena_alloc(arena, ops->request->node->size);
    void *res = gs_arena_alloc(arena, ops->result->node->size);
    if (!req || !res || ops->request->decode(p, len, arena, req, err, sizeof(err)))
        return;
    memset(res, 0, ops->result->node->size);
    gs_item_t item = {.request = req, .result = res};
    gs_item_t *items[1] = {&item};
    ops->process(k, &(gs_batch_t){items, 1, arena});
    if (!item.err)
        ops->result->encode(res, -1, out, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gs_arena_t arena; /* reused like the worker's, reset per input */
    static gs_buf_t out;
    if (size < 1)
        return 0;
    const kinds_rt_t *rt = kinds();
    gs_framing_t framing = data[0] & 1 ? GS_FRAMING_CONFLUENT : GS_FRAMING_RAW;
    int32_t id;
    const uint8_t *p;
    size_t len;
    char err[512];
    if (gs_frame_parse(data + 1, size - 1, framing, &id, &p, &len, err, sizeof(err)))
        return 0;
    for (size_t k = 0; k < rt->n; k++)
        run_kind(gs_kinds[k], rt->k[k], p, len, &arena, &out);
    gs_arena_reset(&arena);
    return 0;
}
