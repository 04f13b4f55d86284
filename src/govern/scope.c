/* Per-scope governance state: a hash table of scopes with an LRU list; when
 * max_scopes is reached the least recently used scope is evicted. Memory is
 * exactly max_scopes x sizeof(scope) + the table, known up front. */
#include "govstream/govern.h"

#include <stdlib.h>
#include <string.h>

#define KEY_MAX 128 /* scope keys are tenants or session ids: 1..128 bytes */

typedef struct scope {
    char key[KEY_MAX];
    uint8_t key_len;
    int used;
    gs_moral_t moral;
    gs_rhythm_t rhythm;
    uint64_t accepted, rejected;
    struct scope *lru_prev, *lru_next; /* most recent at head */
    struct scope *hnext;               /* hash chain */
} scope_t;

struct gs_govern {
    gs_govern_conf_t conf;
    const gs_lexicon_t *lexicon;
    scope_t *pool; /* max_scopes slots, allocated once */
    scope_t **buckets;
    size_t n_buckets, count;
    scope_t *lru_head, *lru_tail, *free_list;
    uint64_t created, evicted;
};

void gs_govern_conf_from(gs_govern_conf_t *gc, const gs_config_t *cfg)
{
    gc->wake_steps = (uint32_t)cfg->governance.wake_steps;
    gc->sleep_steps = (uint32_t)cfg->governance.sleep_steps;
    gc->sleep_policy = cfg->governance.sleep_policy;
    gc->sleep_max_tokens = cfg->governance.sleep_max_tokens;
    gc->max_scopes = (size_t)cfg->governance.max_scopes;
}

gs_err_t gs_govern_new(const gs_govern_conf_t *conf, const gs_lexicon_t *lexicon, gs_govern_t **out,
                       char *errstr, size_t n)
{
    if (!conf->max_scopes || !lexicon)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "max_scopes and lexicon are required");
    gs_govern_t *g = calloc(1, sizeof(*g));
    if (!g)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    g->conf = *conf;
    g->lexicon = lexicon;
    g->n_buckets = 16;
    while (g->n_buckets < conf->max_scopes)
        g->n_buckets *= 2;
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

void gs_govern_destroy(gs_govern_t *g)
{
    if (!g)
        return;
    free(g->pool);
    free(g->buckets);
    free(g);
}

static size_t bucket_of(const gs_govern_t *g, const char *k, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a 64 */
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

static void evict(gs_govern_t *g, scope_t *victim)
{
    scope_t **pp = &g->buckets[bucket_of(g, victim->key, victim->key_len)];
    while (*pp != victim)
        pp = &(*pp)->hnext;
    *pp = victim->hnext;
    lru_unlink(g, victim);
    memset(victim, 0, sizeof(*victim));
    victim->hnext = g->free_list;
    g->free_list = victim;
    g->count--;
    g->evicted++;
}

static scope_t *get_scope(gs_govern_t *g, gs_str_t key)
{
    size_t len = key.len < KEY_MAX ? key.len : KEY_MAX; /* validated to <= 128 */
    size_t b = bucket_of(g, key.p, len);
    for (scope_t *s = g->buckets[b]; s; s = s->hnext) {
        if (s->key_len == len && !memcmp(s->key, key.p, len)) {
            if (g->lru_head != s) {
                lru_unlink(g, s);
                lru_push_front(g, s);
            }
            return s;
        }
    }
    if (!g->free_list)
        evict(g, g->lru_tail);
    scope_t *s = g->free_list;
    g->free_list = s->hnext;
    memset(s, 0, sizeof(*s));
    memcpy(s->key, key.p, len);
    s->key_len = (uint8_t)len;
    s->used = 1;
    gs_moral_init(&s->moral);
    gs_rhythm_init(&s->rhythm, g->conf.wake_steps, g->conf.sleep_steps);
    s->hnext = g->buckets[b];
    g->buckets[b] = s;
    lru_push_front(g, s);
    g->count++;
    g->created++;
    return s;
}

gs_err_t gs_govern_decide(gs_govern_t *g, gs_str_t key, int has_value, double value,
                          const gs_str_t *texts, size_t n_texts, gs_verdict_t *out, char *errstr,
                          size_t n)
{
    if (!key.len || key.len > KEY_MAX)
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "scope key must be 1..%d bytes", KEY_MAX);
    if (has_value && !(value >= 0.0 && value <= 1.0))
        return gs_fail(errstr, n, GS_ERR_VALIDATION, "moral value must be in [0,1]");
    scope_t *s = get_scope(g, key);
    double v = has_value ? value : gs_lexicon_score(g->lexicon, texts, n_texts);

    out->moral_threshold = gs_moral_threshold(&s->moral);
    out->moral_value = v;
    int accepted = gs_moral_evaluate(&s->moral, v);
    gs_moral_adapt(&s->moral, accepted); /* on every evaluated request */

    out->phase = gs_rhythm_phase(&s->rhythm);
    out->note = accepted ? "processed" : "morally rejected";
    out->max_tokens_cap = 256;
    if (out->phase == GS_PHASE_SLEEP) {
        if (g->conf.sleep_policy == GS_SLEEP_REJECT && accepted) {
            accepted = 0;
            out->note = "sleep phase";
        } else {
            out->max_tokens_cap = g->conf.sleep_max_tokens;
        }
    }
    out->accepted = accepted;
    out->context_items = 0; /* vector memory arrives with SPEC 3.4 */
    gs_rhythm_step(&s->rhythm);
    out->step = (int64_t)s->rhythm.steps;
    if (accepted)
        s->accepted++;
    else
        s->rejected++;
    return GS_OK;
}

gs_scope_stats_t gs_govern_stats(const gs_govern_t *g)
{
    return (gs_scope_stats_t){g->count, g->conf.max_scopes,
                              g->conf.max_scopes * sizeof(scope_t) +
                                  g->n_buckets * sizeof(scope_t *),
                              g->created, g->evicted};
}
