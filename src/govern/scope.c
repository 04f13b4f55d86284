/* Scopes and the governance flow (SPEC 3). Scopes live in a table of
 * max_scopes slots with an LRU list; idle scopes, and the least recently
 * used ones when the memory budget or the table is full, are evicted. Every
 * byte a scope allocates is counted, so the total is exact. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scope.h"

#define CHUNK 64 /* queries per SGEMM pass */

void gs_govern_conf_from(gs_govern_conf_t *gc, const gs_config_t *cfg)
{
    gc->wake_steps = (uint32_t)cfg->governance.wake_steps;
    gc->sleep_steps = (uint32_t)cfg->governance.sleep_steps;
    gc->sleep_policy = cfg->governance.sleep_policy;
    gc->sleep_max_tokens = cfg->governance.sleep_max_tokens;
    gc->max_scopes = (size_t)cfg->governance.max_scopes;
    gc->memory_capacity = (size_t)cfg->governance.memory_capacity;
    gc->memory_index_min = (size_t)cfg->governance.memory_index_min;
    gc->max_memory_bytes = (size_t)cfg->governance.max_memory_mb << 20;
    gc->scope_idle_us = (int64_t)cfg->governance.scope_idle_s * 1000000;
    gc->memory_off = !cfg->governance.memory;
}

size_t gs_scope_extras_bytes(uint32_t buf_cap)
{
    return 3 * GS_EMBED_DIM * sizeof(float) +
           (size_t)buf_cap * (GS_EMBED_DIM * sizeof(float) + sizeof(buf_meta_t));
}

size_t gs_govern_scope_max_bytes(const gs_govern_conf_t *c)
{
    size_t index = c->memory_index_min && c->memory_index_min <= c->memory_capacity
                       ? gs_pelm_index_bytes(GS_EMBED_DIM, c->memory_capacity)
                       : 0;
    return sizeof(scope_t) + gs_pelm_bytes_full(GS_EMBED_DIM, c->memory_capacity) + index +
           gs_scope_extras_bytes(c->wake_steps + c->sleep_steps);
}

gs_err_t gs_govern_new(const gs_govern_conf_t *conf, const gs_lexicon_t *lexicon, gs_govern_t **out,
                       char *errstr, size_t n)
{
    if (!conf->max_scopes || !conf->memory_capacity || !lexicon)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG,
                       "max_scopes, memory_capacity and a lexicon are required");
    gs_govern_t *g = calloc(1, sizeof(*g));
    if (!g)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    g->conf = *conf;
    g->lexicon = lexicon;
    g->n_buckets = 16;
    while (g->n_buckets < conf->max_scopes)
        g->n_buckets *= 2;
    g->fixed_bytes = conf->max_scopes * sizeof(scope_t) + g->n_buckets * sizeof(scope_t *);
    size_t one = gs_govern_scope_max_bytes(conf) - sizeof(scope_t), fixed = g->fixed_bytes;
    if (fixed + one > conf->max_memory_bytes) {
        free(g);
        return gs_fail(errstr, n, GS_ERR_CONFIG,
                       "governance.max_memory_mb: %zu MB cannot hold the scope table (%zu MB) and "
                       "one full scope memory (%zu MB)",
                       conf->max_memory_bytes >> 20, fixed >> 20, one >> 20);
    }
    g->pool = calloc(conf->max_scopes, sizeof(*g->pool));
    g->buckets = calloc(g->n_buckets, sizeof(scope_t *));
    if (!g->pool || !g->buckets) {
        gs_govern_destroy(g);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory for %zu scopes", conf->max_scopes);
    }
    for (size_t i = conf->max_scopes; i-- > 0;) {
        g->pool[i].hnext = g->free_list;
        g->free_list = &g->pool[i];
    }
    *out = g;
    return GS_OK;
}

static void free_memory(scope_t *s)
{
    gs_pelm_destroy(s->pelm);
    gs_synaptic_free(&s->syn);
    free(s->buf);
    free(s->buf_meta);
    free(s->dirty);
    free(s->cl_slots);
    s->pelm = NULL;
    s->buf = NULL;
    s->buf_meta = NULL;
    s->dirty = NULL;
    s->cl_slots = NULL;
    s->n_cl = s->cap_cl = 0;
    s->buf_n = s->buf_cap = 0;
    s->n_dirty = s->cap_dirty = 0;
}

void gs_govern_destroy(gs_govern_t *g)
{
    if (!g)
        return;
    for (size_t i = 0; g->pool && i < g->conf.max_scopes; i++)
        if (g->pool[i].used)
            free_memory(&g->pool[i]);
    free(g->pool);
    free(g->buckets);
    free(g->emb);
    free(g->qnorm);
    free(g->row_off);
    free(g->row_size);
    free(g->qnnz);
    free(g->arena);
    free(g->qblock);
    free(g->cl_dirty);
    free(g->tombs);
    free(g->cl_buf);
    free(g);
}

/* ---- table and LRU ----------------------------------------------------- */

static size_t bucket_of(const gs_govern_t *g, int32_t partition, const char *k, size_t len)
{
    uint64_t h = 1469598103934665603ull ^ (uint32_t)partition; /* FNV-1a 64 */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return (size_t)(h & (g->n_buckets - 1));
}

static void lru_unlink(gs_govern_t *g, scope_t *s)
{
    if (s->lru_prev)
        s->lru_prev->lru_next = s->lru_next;
    else
        g->lru_head = s->lru_next;
    if (s->lru_next)
        s->lru_next->lru_prev = s->lru_prev;
    else
        g->lru_tail = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
}

static void lru_push_front(gs_govern_t *g, scope_t *s)
{
    s->lru_next = g->lru_head;
    if (g->lru_head)
        g->lru_head->lru_prev = s;
    g->lru_head = s;
    if (!g->lru_tail)
        g->lru_tail = s;
}

void gs_scope_drop(gs_govern_t *g, scope_t *victim)
{
    scope_t **pp = &g->buckets[bucket_of(g, victim->partition, victim->key, victim->key_len)];
    while (*pp != victim)
        pp = &(*pp)->hnext;
    *pp = victim->hnext;
    lru_unlink(g, victim);
    if (victim->cl_idx)
        g->cl_dirty[victim->cl_idx - 1] = NULL;
    g->dyn_bytes -= victim->bytes;
    free_memory(victim);
    memset(victim, 0, sizeof(*victim));
    victim->hnext = g->free_list;
    g->free_list = victim;
    g->count--;
}

/* The evicted scope's records go too, or a restore would bring it back. */
static void add_tombstone(gs_govern_t *g, const scope_t *s)
{
    if (gs_grow_one(&g->tombs, g->n_tombs, &g->cap_tombs, sizeof(*g->tombs), 16)) {
        g->changelog_lost++;
        return;
    }
    tombstone_t *t = &g->tombs[g->n_tombs++];
    t->partition = s->partition;
    t->key_len = s->key_len;
    memcpy(t->key, s->key, s->key_len);
    t->slots = (uint32_t)gs_pelm_size(s->pelm);
}

void gs_scope_evict(gs_govern_t *g, scope_t *victim)
{
    if (g->conf.changelog)
        add_tombstone(g, victim);
    gs_scope_drop(g, victim);
    g->evicted++;
}

void gs_scope_changed(gs_govern_t *g, scope_t *s, uint32_t slot)
{
    if (!g->conf.changelog)
        return;
    if (!s->cl_idx) {
        if (gs_grow_one(&g->cl_dirty, g->n_cl_dirty, &g->cap_cl_dirty, sizeof(scope_t *), 64)) {
            g->changelog_lost++;
            return;
        }
        g->cl_dirty[g->n_cl_dirty++] = s;
        s->cl_idx = g->n_cl_dirty;
    }
    if (slot == UINT32_MAX)
        return;
    if (gs_grow_one(&s->cl_slots, s->n_cl, &s->cap_cl, sizeof(*s->cl_slots), 64)) {
        g->changelog_lost++;
        return;
    }
    s->cl_slots[s->n_cl++] = slot;
}

/* Least recently used scope that may go: not pinned by the current batch
 * and not `keep`. */
static scope_t *victim_for(gs_govern_t *g, const scope_t *keep)
{
    scope_t *v = g->lru_tail;
    while (v && (v->pin == g->epoch || v == keep))
        v = v->lru_prev;
    return v;
}

int gs_scope_budget(gs_govern_t *g, const scope_t *s, size_t bytes)
{
    while (g->fixed_bytes + g->dyn_bytes + bytes > g->conf.max_memory_bytes) {
        scope_t *v = victim_for(g, s);
        if (!v)
            return -1;
        gs_scope_evict(g, v);
    }
    return 0;
}

void gs_scope_account_pelm(gs_govern_t *g, scope_t *s, size_t before)
{
    size_t now = gs_pelm_bytes(s->pelm);
    s->bytes = s->bytes - before + now;
    g->dyn_bytes = g->dyn_bytes - before + now;
}

scope_t *gs_scope_find(const gs_govern_t *g, int32_t partition, gs_str_t key)
{
    size_t len = key.len < SCOPE_KEY_MAX ? key.len : SCOPE_KEY_MAX;
    for (scope_t *s = g->buckets[bucket_of(g, partition, key.p, len)]; s; s = s->hnext)
        if (s->partition == partition && s->key_len == len && !memcmp(s->key, key.p, len))
            return s;
    return NULL;
}

scope_t *gs_scope_get(gs_govern_t *g, int32_t partition, gs_str_t key)
{
    size_t len = key.len < SCOPE_KEY_MAX ? key.len : SCOPE_KEY_MAX;
    int64_t now = gs_now_us();
    scope_t *found = gs_scope_find(g, partition, key);
    if (found) {
        if (g->lru_head != found) {
            lru_unlink(g, found);
            lru_push_front(g, found);
        }
        found->pin = g->epoch;
        found->last_used_us = now;
        return found;
    }
    if (!g->free_list) {
        scope_t *v = victim_for(g, NULL);
        if (!v)
            return NULL;
        gs_scope_evict(g, v);
    }
    gs_pelm_t *pelm;
    if (gs_scope_budget(g, NULL, gs_pelm_bytes_full(GS_EMBED_DIM, 0)) ||
        gs_pelm_new(GS_EMBED_DIM, g->conf.memory_capacity, &pelm, NULL, 0))
        return NULL;
    gs_pelm_set_index(pelm, g->conf.memory_index_min);
    size_t b = bucket_of(g, partition, key.p, len);
    scope_t *s = g->free_list;
    g->free_list = s->hnext;
    memset(s, 0, sizeof(*s));
    s->partition = partition;
    memcpy(s->key, key.p, len);
    s->key_len = (uint8_t)len;
    s->used = 1;
    s->pelm = pelm;
    s->bytes = gs_pelm_bytes(pelm);
    g->dyn_bytes += s->bytes;
    gs_moral_init(&s->moral);
    gs_rhythm_init(&s->rhythm, g->conf.wake_steps, g->conf.sleep_steps);
    s->pin = g->epoch;
    s->last_used_us = now;
    s->hnext = g->buckets[b];
    g->buckets[b] = s;
    lru_push_front(g, s);
    g->count++;
    g->created++;
    return s;
}

gs_err_t gs_scope_ensure_memory(gs_govern_t *g, scope_t *s)
{
    if (s->syn.l1)
        return GS_OK;
    uint32_t cap = s->rhythm.wake_steps + s->rhythm.sleep_steps;
    size_t need = gs_scope_extras_bytes(cap);
    if (gs_scope_budget(g, s, need))
        return GS_ERR_NOMEM;
    s->buf = malloc((size_t)cap * GS_EMBED_DIM * sizeof(float));
    s->buf_meta = malloc(cap * sizeof(*s->buf_meta));
    if (!s->buf || !s->buf_meta || gs_synaptic_init(&s->syn, GS_EMBED_DIM)) {
        free(s->buf);
        free(s->buf_meta);
        s->buf = NULL;
        s->buf_meta = NULL;
        return GS_ERR_NOMEM;
    }
    s->buf_cap = cap;
    s->buf_n = 0;
    s->bytes += need;
    g->dyn_bytes += need;
    return GS_OK;
}

void gs_scope_install(gs_govern_t *g, scope_t *s, gs_pelm_t *pelm, gs_synaptic_t syn, float *buf,
                      buf_meta_t *buf_meta, uint32_t buf_cap)
{
    g->dyn_bytes -= s->bytes;
    free_memory(s);
    s->pelm = pelm;
    s->syn = syn;
    s->buf = buf;
    s->buf_meta = buf_meta;
    s->buf_cap = buf ? buf_cap : 0;
    s->bytes = gs_pelm_bytes(pelm) + (syn.l1 ? gs_scope_extras_bytes(s->buf_cap) : 0);
    g->dyn_bytes += s->bytes;
}

static void evict_idle(gs_govern_t *g)
{
    int64_t now = gs_now_us();
    if (!g->conf.scope_idle_us || now < g->next_idle_check_us)
        return;
    g->next_idle_check_us = now + 1000000;
    while (g->lru_tail && g->lru_tail->pin != g->epoch &&
           now - g->lru_tail->last_used_us > g->conf.scope_idle_us)
        gs_scope_evict(g, g->lru_tail);
}

/* ---- decide: moral value -> evaluate + adapt -> rhythm ----------------- */

gs_err_t gs_govern_decide(gs_govern_t *g, gs_govern_req_t *reqs, size_t n, char *errstr, size_t en)
{
    (void)errstr, (void)en;
    g->epoch++;
    evict_idle(g);
    for (size_t i = 0; i < n; i++) {
        gs_govern_req_t *r = &reqs[i];
        memset(&r->v, 0, sizeof(r->v));
        r->scope_ = NULL;
        r->entered_sleep_ = 0;
        r->commit = 0;
        r->err = GS_OK;
        if (!r->scope.len || r->scope.len > SCOPE_KEY_MAX ||
            (r->has_value && !(r->value >= 0.0 && r->value <= 1.0))) {
            r->err = GS_ERR_VALIDATION;
            continue;
        }
        scope_t *s = gs_scope_get(g, r->partition, r->scope);
        if (!s) {
            r->err = GS_ERR_NOMEM;
            continue;
        }
        r->scope_ = s;
        double v = r->has_value ? r->value : gs_lexicon_score(g->lexicon, r->texts, r->n_texts);
        r->v.moral_threshold = gs_moral_threshold(&s->moral);
        r->v.moral_value = v;
        int accepted = gs_moral_evaluate(&s->moral, v);
        gs_moral_adapt(&s->moral, accepted); /* on every evaluated request */
        s->at_bound = s->moral.t20 == GS_MORAL_T20_MIN || s->moral.t20 == GS_MORAL_T20_MAX
                          ? s->at_bound + 1
                          : 0;
        r->v.phase = gs_rhythm_phase(&s->rhythm);
        r->v.note = accepted ? "processed" : "morally rejected";
        r->v.max_tokens_cap = 256;
        if (r->v.phase == GS_PHASE_SLEEP) {
            if (g->conf.sleep_policy == GS_SLEEP_REJECT && accepted) {
                accepted = 0;
                r->v.note = "sleep phase";
            } else {
                r->v.max_tokens_cap = g->conf.sleep_max_tokens;
            }
        }
        r->v.accepted = accepted;
        r->commit = accepted;
        r->entered_sleep_ = gs_rhythm_step(&s->rhythm);
        r->v.step = (int64_t)s->rhythm.steps;
        if (accepted)
            s->accepted++;
        else
            s->rejected++;
        gs_scope_changed(g, s, UINT32_MAX);
    }
    return GS_OK;
}

/* ---- memory: retrieve -> commit -> consolidate -------------------------- */

static int grow_scratch(gs_govern_t *g, size_t n)
{
    if (n <= g->scratch_n && g->qblock)
        return 0;
    size_t cap = n > g->scratch_n ? n : g->scratch_n;
    if (gs_grow(&g->emb, cap * GS_EMBED_DIM, sizeof(float)) ||
        gs_grow(&g->qnorm, cap, sizeof(float)) || gs_grow(&g->row_off, cap, sizeof(size_t)) ||
        gs_grow(&g->row_size, cap, sizeof(size_t)) || gs_grow(&g->qnnz, cap, sizeof(uint32_t)))
        return -1;
    if (!g->qblock)
        g->qblock = malloc(CHUNK * GS_EMBED_DIM * sizeof(float));
    if (!g->qblock)
        return -1;
    g->scratch_n = cap;
    return 0;
}

static void mark_dirty(scope_t *s, uint32_t slot)
{
    for (size_t i = 0; i < s->n_dirty; i++)
        if (s->dirty[i] == slot)
            return;
    if (gs_grow_one(&s->dirty, s->n_dirty, &s->cap_dirty, sizeof(*s->dirty), 64))
        return; /* the stale score stays: retrieval degrades, never corrupts */
    s->dirty[s->n_dirty++] = slot;
}

/* Whether query j goes through scope s's index: once it has one, for a
 * sparse query (a text's words hash into a few dozen of the 384
 * dimensions; a dense one costs the index more than the exact SGEMM). A
 * function of the scope's state and the query alone, so that a replica
 * with other batch boundaries answers the same. */
static int use_index(const gs_govern_t *g, size_t j, const scope_t *s)
{
    return s->pelm && gs_pelm_indexed(s->pelm) && g->qnnz[j] <= GS_EMBED_DIM / 4;
}

/* Scores for the next CHUNK queries of scope s from request i on, against
 * the bank as it is now; later changes to the bank are tracked as dirty. */
static int make_chunk(gs_govern_t *g, gs_govern_req_t *reqs, size_t n, size_t i, scope_t *s)
{
    size_t idx[CHUNK], rows = 0, size = gs_pelm_size(s->pelm);
    for (size_t j = i; j < n && rows < CHUNK; j++) {
        if (reqs[j].scope_ != s || g->qnorm[j] <= 0 || g->row_off[j] != SIZE_MAX ||
            use_index(g, j, s))
            continue;
        memcpy(g->qblock + rows * GS_EMBED_DIM, g->emb + j * GS_EMBED_DIM,
               GS_EMBED_DIM * sizeof(float));
        idx[rows++] = j;
    }
    size_t need = g->arena_len + rows * size;
    if (need > g->arena_cap) {
        size_t cap = g->arena_cap ? g->arena_cap : 4096;
        while (cap < need)
            cap *= 2;
        float *a = realloc(g->arena, cap * sizeof(float));
        if (!a)
            return -1;
        g->arena = a;
        g->arena_cap = cap;
    }
    if (rows && size) /* an empty bank has no scores (and the arena may not exist yet) */
        gs_pelm_scores(s->pelm, g->qblock, rows, g->arena + g->arena_len);
    for (size_t r = 0; r < rows; r++) {
        g->row_off[idx[r]] = g->arena_len + r * size;
        g->row_size[idx[r]] = size;
    }
    g->arena_len = need;
    s->n_dirty = 0;
    return 0;
}

static float dot(const float *a, const float *b)
{
    float sum = 0;
    for (size_t i = 0; i < GS_EMBED_DIM; i++)
        sum += a[i] * b[i];
    return sum;
}

/* What was retrieved, copied out: a later write of the batch may reuse
 * the slot. */
static void name_hits(const scope_t *s, const gs_pelm_hit_t *hits, gs_govern_req_t *r)
{
    for (int32_t h = 0; r->context && h < r->v.context_items; h++) {
        gs_context_item_t *c = &r->context[h];
        gs_str_t id = gs_pelm_id(s->pelm, hits[h].slot);
        *c = (gs_context_item_t){.score = hits[h].score,
                                 .phase = gs_pelm_phase(s->pelm, hits[h].slot),
                                 .id_len = (uint8_t)id.len};
        memcpy(c->id, id.p, id.len);
    }
}

static int retrieve(gs_govern_t *g, gs_govern_req_t *reqs, size_t n, size_t i, scope_t *s)
{
    const float *q = g->emb + i * GS_EMBED_DIM;
    gs_pelm_hit_t hits[GS_CONTEXT_MAX];
    size_t k = (size_t)reqs[i].context_top_k < GS_CONTEXT_MAX ? (size_t)reqs[i].context_top_k
                                                              : GS_CONTEXT_MAX;
    float qphase = reqs[i].v.phase == GS_PHASE_SLEEP ? GS_PHASE_SLEEP_VALUE : GS_PHASE_WAKE_VALUE;
    if (use_index(g, i, s)) {
        reqs[i].v.context_items = (int32_t)gs_pelm_search(s->pelm, q, qphase, k, hits);
        name_hits(s, hits, &reqs[i]);
        return 0;
    }
    if (g->row_off[i] == SIZE_MAX && make_chunk(g, reqs, n, i, s))
        return -1;
    gs_pelm_override_t ov[s->n_dirty ? s->n_dirty : 1];
    for (size_t d = 0; d < s->n_dirty; d++) {
        uint32_t slot = s->dirty[d];
        ov[d] = (gs_pelm_override_t){slot, dot(q, gs_pelm_vector(s->pelm, slot)),
                                     gs_pelm_phase(s->pelm, slot)};
    }
    const float *scores = g->row_size[i] ? g->arena + g->row_off[i] : NULL; /* none: empty */
    reqs[i].v.context_items =
        (int32_t)gs_pelm_select(s->pelm, scores, g->row_size[i], qphase, ov, s->n_dirty, k, hits);
    name_hits(s, hits, &reqs[i]);
    return 0;
}

/* Inserts into the scope's PELM within the memory budget; updates the
 * synaptic memory and marks the slot dirty for later queries. */
static void insert(gs_govern_t *g, scope_t *s, const float *vec, float phase, float conf,
                   gs_str_t id)
{
    size_t before = gs_pelm_bytes(s->pelm), after = gs_pelm_bytes_after_insert(s->pelm);
    if (after > before && gs_scope_budget(g, s, after - before)) {
        g->memory_refused++;
        return;
    }
    uint32_t slot;
    gs_err_t err = gs_pelm_insert(s->pelm, vec, phase, conf, &slot);
    gs_scope_account_pelm(g, s, before);
    if (err) {
        g->memory_refused += err == GS_ERR_NOMEM;
        return;
    }
    gs_pelm_set_id(s->pelm, slot, id);
    mark_dirty(s, slot);
    gs_scope_changed(g, s, slot);
    gs_synaptic_update(&s->syn, vec);
}

static void commit(gs_govern_t *g, gs_govern_req_t *r, size_t i, scope_t *s)
{
    /* the memory is as trusted as the request; refused below 0.5 before the
     * value is rounded to a float (0.49999999 would round up to 0.5) */
    if (!(r->v.moral_value >= GS_PELM_MIN_CONFIDENCE) || !r->n_texts)
        return;
    float conf = (float)r->v.moral_value;
    if (gs_scope_ensure_memory(g, s)) {
        g->memory_refused++;
        return;
    }
    float tmp[GS_EMBED_DIM];
    const float *vec = g->emb + i * GS_EMBED_DIM;
    if (r->output.len) { /* the exchange: last turn and the answer */
        gs_str_t parts[2] = {r->texts[r->n_texts - 1], r->output};
        vec = gs_embed(parts, 2, tmp) > 0 ? tmp : NULL;
    } else if (!(g->qnorm[i] > 0)) {
        vec = gs_embed(&r->texts[r->n_texts - 1], 1, tmp) > 0 ? tmp : NULL;
    }
    if (!vec)
        return; /* no words: nothing to remember */
    if (r->v.phase == GS_PHASE_WAKE)
        insert(g, s, vec, GS_PHASE_WAKE_VALUE, conf, r->memory_id);
    /* in sleep (degrade) the write is only buffered */
    if (s->buf_n < s->buf_cap) {
        memcpy(s->buf + (size_t)s->buf_n * GS_EMBED_DIM, vec, GS_EMBED_DIM * sizeof(float));
        buf_meta_t *m = &s->buf_meta[s->buf_n++];
        m->conf = conf;
        m->id_len =
            (uint8_t)(r->memory_id.len < GS_MEMORY_ID_MAX ? r->memory_id.len : GS_MEMORY_ID_MAX);
        if (m->id_len)
            memcpy(m->id, r->memory_id.p, m->id_len);
    }
}

/* Entering sleep: the buffered writes are re-committed as sleep memories. */
static void consolidate(gs_govern_t *g, scope_t *s)
{
    for (uint32_t b = 0; s->buf_meta && b < s->buf_n; b++)
        insert(g, s, s->buf + (size_t)b * GS_EMBED_DIM, GS_PHASE_SLEEP_VALUE, 0.8f,
               (gs_str_t){s->buf_meta[b].id, s->buf_meta[b].id_len});
    s->buf_n = 0;
}

gs_err_t gs_govern_memory(gs_govern_t *g, gs_govern_req_t *reqs, size_t n, char *errstr, size_t en)
{
    if (g->conf.memory_off) { /* governance.memory = false: the moral filter and rhythm only */
        for (size_t i = 0; i < n; i++)
            reqs[i].v.context_items = 0;
        return GS_OK;
    }
    if (grow_scratch(g, n))
        return gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory for a batch of %zu", n);
    g->arena_len = 0;
    for (size_t i = 0; i < n; i++) {
        gs_govern_req_t *r = &reqs[i];
        g->row_off[i] = SIZE_MAX;
        g->qnorm[i] = 0;
        g->qnnz[i] = 0;
        if (!r->err && r->scope_ && r->v.accepted && r->context_top_k > 0 && r->n_texts) {
            float *q = g->emb + i * GS_EMBED_DIM;
            g->qnorm[i] = gs_embed(&r->texts[r->n_texts - 1], 1, q);
            for (size_t d = 0; d < GS_EMBED_DIM; d++)
                g->qnnz[i] += q[d] != 0.0f;
        }
    }
    gs_err_t err = GS_OK;
    for (size_t i = 0; i < n; i++) {
        gs_govern_req_t *r = &reqs[i];
        scope_t *s = r->scope_;
        if (r->err || !s)
            continue;
        if (g->qnorm[i] > 0 && !err && retrieve(g, reqs, n, i, s))
            err = gs_fail(errstr, en, GS_ERR_NOMEM, "out of memory for retrieval scores");
        if (r->commit)
            commit(g, r, i, s);
        if (r->entered_sleep_)
            consolidate(g, s);
    }
    for (size_t i = 0; i < n; i++) { /* dirty lists only live for the pass */
        scope_t *s = reqs[i].scope_;
        if (s && s->dirty) {
            free(s->dirty);
            s->dirty = NULL;
            s->n_dirty = s->cap_dirty = 0;
        }
    }
    return err;
}

gs_err_t gs_govern_one(gs_govern_t *g, gs_str_t key, int has_value, double value,
                       const gs_str_t *texts, size_t n_texts, int context_top_k, gs_verdict_t *out,
                       char *errstr, size_t en)
{
    gs_govern_req_t r = {.scope = key,
                         .has_value = has_value,
                         .value = value,
                         .texts = texts,
                         .n_texts = n_texts,
                         .context_top_k = context_top_k};
    gs_err_t err = gs_govern_decide(g, &r, 1, errstr, en);
    if (!err && r.err)
        err = gs_fail(errstr, en, r.err,
                      r.err == GS_ERR_VALIDATION ? "scope key must be 1..128 bytes and the moral "
                                                   "value in [0,1]"
                                                 : "no scope available");
    if (!err)
        err = gs_govern_memory(g, &r, 1, errstr, en);
    *out = r.v;
    return err;
}

gs_scope_stats_t gs_govern_stats(const gs_govern_t *g)
{
    gs_scope_stats_t st = {g->count,
                           g->conf.max_scopes,
                           g->fixed_bytes + g->dyn_bytes,
                           g->conf.max_memory_bytes,
                           0,
                           g->created,
                           g->evicted,
                           g->memory_refused,
                           g->changelog_lost};
    for (const scope_t *s = g->lru_head; s; s = s->lru_next)
        st.vectors += gs_pelm_size(s->pelm);
    return st;
}

void gs_govern_visit(const gs_govern_t *g, gs_scope_visit_fn *fn, void *opaque)
{
    for (const scope_t *s = g->lru_head; s; s = s->lru_next) {
        gs_scope_info_t info = {
            .partition = s->partition,
            .key = {s->key, s->key_len},
            .threshold = gs_moral_threshold(&s->moral),
            .ema = s->moral.ema,
            .phase = gs_rhythm_phase(&s->rhythm),
            .step = s->rhythm.steps,
            .vectors = gs_pelm_size(s->pelm),
            .capacity = gs_pelm_capacity(s->pelm),
            .accepted = s->accepted,
            .rejected = s->rejected,
            .at_bound_steps = s->at_bound,
        };
        fn(&info, opaque);
    }
}
