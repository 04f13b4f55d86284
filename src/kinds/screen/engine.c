/* The screening of one request (docs/SCREEN.md, "Decisions"): identifiers
 * equal to a list entry's are HIGH by themselves; names found in the text and
 * the counterparty are scored (match.c); the best score against the
 * thresholds gives the decision, and the reasons say why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "private.h"
#include "keys.h"
#include "match.h"

#define MAX_IDENTS  32
#define MAX_MATCHES 10
#define MAX_REASONS 4
/* Weaker name hits are not worth a reader's time: no match is listed. */
#define MIN_REPORTED 0.5f

struct gs_screen_engine {
    gs_screen_list_t *list;
    screen_index_t *index;
    screen_matcher_t m;
    uint32_t *id_slots; /* list identifier + 1, by FNV-1a of its value */
    uint32_t id_mask;
};

struct gs_screen_scratch {
    match_scratch_t *m;
    screen_hit_t hits[2 * MAX_MATCHES];
};

/* Identifiers shorter than this are too easily equal by chance. */
#define ID_MIN_LEN 6

static gs_err_t index_idents(gs_screen_engine_t *e, char *errstr, size_t n)
{
    size_t count = gs_screen_list_idents(e->list);
    uint32_t mask = 255;
    while ((size_t)mask + 1 < 2 * count)
        mask = 2 * mask + 1;
    if (!(e->id_slots = calloc((size_t)mask + 1, sizeof(*e->id_slots))))
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    e->id_mask = mask;
    for (size_t i = 0; i < count; i++) {
        const char *v = gs_screen_list_ident_at(e->list, i).value;
        uint32_t s = screen_fnv(v, strlen(v)) & mask;
        while (e->id_slots[s])
            s = (s + 1) & mask;
        e->id_slots[s] = (uint32_t)i + 1;
    }
    return GS_OK;
}

gs_err_t gs_screen_engine_load(const char *path, gs_screen_engine_t **out, char *errstr, size_t n)
{
    gs_screen_engine_t *e = calloc(1, sizeof(*e));
    if (!e)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_err_t err = gs_screen_list_open(path, &e->list, errstr, n);
    if (!err)
        err = screen_index_open(e->list, &e->index, errstr, n);
    if (!err)
        err = screen_tools_new(&e->m.tools, errstr, n);
    if (!err)
        err = index_idents(e, errstr, n);
    if (err) {
        gs_screen_engine_destroy(e);
        return err;
    }
    e->m.list = e->list;
    e->m.index = e->index;
    *out = e;
    return GS_OK;
}

void gs_screen_engine_destroy(gs_screen_engine_t *e)
{
    if (!e)
        return;
    screen_tools_free(&e->m.tools);
    screen_index_close(e->index);
    gs_screen_list_close(e->list);
    free(e->id_slots);
    free(e);
}

gs_avro_model_ref_t gs_screen_engine_ref(const gs_screen_engine_t *e)
{
    if (!e)
        return (gs_avro_model_ref_t){gs_avro_cstr(""), gs_avro_cstr(""), gs_avro_cstr("")};
    return (gs_avro_model_ref_t){.name = gs_avro_cstr(gs_screen_list_name(e->list)),
                                 .version = gs_avro_cstr(gs_screen_list_version(e->list)),
                                 .sha256 = gs_avro_cstr(gs_screen_list_sha256(e->list))};
}

gs_err_t gs_screen_scratch_new(gs_screen_scratch_t **out, char *errstr, size_t n)
{
    gs_screen_scratch_t *s = calloc(1, sizeof(*s));
    if (!s)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_err_t err = match_scratch_new(&s->m, errstr, n);
    if (err) {
        free(s);
        return err;
    }
    *out = s;
    return GS_OK;
}

void gs_screen_scratch_destroy(gs_screen_scratch_t *s)
{
    if (!s)
        return;
    match_scratch_destroy(s->m);
    free(s);
}

/* ---- identifiers ------------------------------------------------------------- */

static void *arena_array(gs_arena_t *a, size_t n, size_t size)
{
    return n ? gs_arena_alloc(a, n * size) : NULL;
}

static gs_str_t slice(gs_str_t s, size_t start, size_t end)
{
    return (gs_str_t){s.p + start, end - start};
}

/* The list identifier equal to a text's, or -1. */
static int64_t ident_lookup(const gs_screen_engine_t *e, const char *value, size_t len)
{
    if (len < ID_MIN_LEN)
        return -1;
    for (uint32_t s = screen_fnv(value, len) & e->id_mask;; s = (s + 1) & e->id_mask) {
        uint32_t v = e->id_slots[s];
        if (!v)
            return -1;
        const char *lv = gs_screen_list_ident_at(e->list, v - 1).value;
        if (strlen(lv) == len && !memcmp(lv, value, len))
            return v - 1;
    }
}

static gs_avro_match_t ident_match(const gs_screen_engine_t *e, size_t li, gs_str_t text,
                                   const gs_screen_ident_t *id, gs_arena_t *a)
{
    gs_screen_list_ident_t li_ = gs_screen_list_ident_at(e->list, li);
    gs_screen_entry_t en = gs_screen_list_entry(e->list, li_.entry);
    return (gs_avro_match_t){.entry_id = gs_avro_cstr(en.id),
                             .list = gs_avro_cstr(en.list),
                             .name = gs_kind_printf(a, "%s %s", li_.type, li_.value),
                             .matched_text = slice(text, id->start, id->end),
                             .kind = GS_AVRO_MATCH_KIND_IDENTIFIER,
                             .score = 1.0};
}

/* Fills the result's identifiers and adds a match per listed one. */
static size_t screen_idents(const gs_screen_engine_t *e, gs_str_t text,
                            gs_avro_screen_result_t *res, gs_avro_match_t *m, gs_arena_t *a)
{
    gs_screen_ident_t ids[MAX_IDENTS];
    size_t n = gs_screen_idents_find(text.p, text.len, ids, MAX_IDENTS), nm = 0;
    n = n < MAX_IDENTS ? n : MAX_IDENTS;
    res->identifiers = arena_array(a, n, sizeof(*res->identifiers));
    for (size_t i = 0; res->identifiers && i < n; i++) {
        res->identifiers[res->n_identifiers++] =
            (gs_avro_identifier_t){.type = gs_avro_cstr(gs_screen_id_type_name(ids[i].type)),
                                   .value = gs_kind_printf(a, "%s", ids[i].value),
                                   .valid = ids[i].valid};
        int64_t li = ids[i].valid ? ident_lookup(e, ids[i].value, ids[i].len) : -1;
        if (li >= 0 && nm < MAX_MATCHES)
            m[nm++] = ident_match(e, (size_t)li, text, &ids[i], a);
    }
    return nm;
}

static int str_eq(gs_str_t a, gs_str_t b)
{
    return a.len == b.len && !memcmp(a.p, b.p, a.len);
}

/* ---- names ------------------------------------------------------------------- */

static void how_words(uint32_t how, char *buf, size_t size)
{
    static const struct {
        uint32_t bit;
        const char *word;
    } words[] = {
        {HOW_FUZZY, "a typo"},
        {HOW_ENDING, "a case ending"},
        {HOW_INITIAL, "initials"},
        {HOW_ORDER, "another word order"},
        {HOW_FOLDED, "look-alike or invisible characters"},
        {HOW_DROPPED, "a patronymic or legal form left out"},
        {HOW_LONE, "a rare family name alone"},
        {HOW_EXTRA, "more words in the name than the list's"},
        {HOW_CONFLICT, "another patronymic than the list's"},
    };
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]) && len < size; i++)
        if (how & words[i].bit)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "; with ",
                                    words[i].word);
}

static gs_avro_match_t name_match(const gs_screen_engine_t *e, const screen_hit_t *h,
                                  gs_str_t field)
{
    gs_screen_name_t nm = gs_screen_list_name_at(e->list, h->name);
    gs_screen_entry_t en = gs_screen_list_entry(e->list, h->entry);
    int alias = nm.kind == GS_SCREEN_NAME_ALIAS || nm.kind == GS_SCREEN_NAME_WEAK_ALIAS;
    return (gs_avro_match_t){.entry_id = gs_avro_cstr(en.id),
                             .list = gs_avro_cstr(en.list),
                             .name = gs_avro_cstr(nm.text),
                             .matched_text = slice(field, h->start, h->end),
                             .kind = alias ? GS_AVRO_MATCH_KIND_ALIAS : GS_AVRO_MATCH_KIND_NAME,
                             .score = (double)h->score};
}

/* Adds the name hits of one field, merging with what an entry already has
 * (the better score stays). */
static size_t add_names(const gs_screen_engine_t *e, gs_screen_scratch_t *s, gs_str_t field,
                        gs_avro_match_t *m, size_t nm, screen_hit_t *why, size_t *n_tok)
{
    match_stats_t st = {0};
    size_t nh = screen_match(&e->m, s->m, field.p, field.len, s->hits, MAX_MATCHES, &st);
    *n_tok += st.tokens;
    for (size_t i = 0; i < nh && s->hits[i].score >= MIN_REPORTED; i++) {
        gs_avro_match_t cand = name_match(e, &s->hits[i], field);
        size_t j = 0;
        while (j < nm && !str_eq(m[j].entry_id, cand.entry_id))
            j++;
        if (j == nm && nm < 2 * (size_t)MAX_MATCHES)
            nm++;
        else if (j == nm || m[j].score >= cand.score)
            continue;
        m[j] = cand;
        why[j] = s->hits[i];
    }
    return nm;
}

/* ---- decision ---------------------------------------------------------------- */

/* Best first; of equal scores the name with more parts matched (one
 * listed name may contain another). */
static int before(const gs_avro_match_t *a, const screen_hit_t *ha, const gs_avro_match_t *b,
                  const screen_hit_t *hb)
{
    return a->score > b->score || (a->score == b->score && ha->matched > hb->matched);
}

static gs_str_t match_reason(const gs_avro_match_t *m, const screen_hit_t *h, gs_arena_t *a)
{
    if (m->kind == GS_AVRO_MATCH_KIND_IDENTIFIER)
        return gs_kind_printf(a, "identifier %.*s equals the list's for %.*s %.*s",
                              (int)m->name.len, m->name.p, (int)m->list.len, m->list.p,
                              (int)m->entry_id.len, m->entry_id.p);
    char how[200];
    how_words(h->how, how, sizeof(how));
    return gs_kind_printf(a, "%s '%.*s' of %.*s %.*s: %u of %u name parts, score %.2f%s",
                          m->kind == GS_AVRO_MATCH_KIND_ALIAS ? "alias" : "name",
                          (int)(m->name.len < 120 ? m->name.len : 120), m->name.p, (int)m->list.len,
                          m->list.p, (int)m->entry_id.len, m->entry_id.p, h->matched, h->parts,
                          m->score, how);
}

static void decide(const screen_thresholds_t *t, gs_avro_screen_result_t *res, gs_avro_match_t *m,
                   screen_hit_t *why, size_t nm, gs_arena_t *a)
{
    res->score = nm ? m[0].score : 0.0;
    res->decision = res->score >= t->high     ? GS_AVRO_DECISION_HIGH
                    : res->score >= t->medium ? GS_AVRO_DECISION_MEDIUM
                                              : GS_AVRO_DECISION_LOW;
    res->reasons = gs_arena_alloc(a, MAX_REASONS * sizeof(*res->reasons));
    if (!res->reasons)
        return;
    if (!nm)
        res->reasons[res->n_reasons++] = gs_avro_cstr("no list name or identifier matched");
    for (size_t i = 0; i < nm && res->n_reasons < MAX_REASONS - 1; i++)
        if (m[i].score >= t->medium || i == 0)
            res->reasons[res->n_reasons++] = match_reason(&m[i], &why[i], a);
    if (nm && res->decision == GS_AVRO_DECISION_LOW)
        res->reasons[res->n_reasons++] =
            gs_kind_printf(a, "best score %.2f is below screen.medium %.2f", res->score, t->medium);
}

gs_err_t gs_screen_engine_run(const gs_screen_engine_t *e, gs_screen_scratch_t *s,
                              const gs_avro_screen_request_t *req, const screen_thresholds_t *t,
                              gs_avro_screen_result_t *res, gs_arena_t *a, char *errstr, size_t n)
{
    if (!e)
        return gs_fail(errstr, n, GS_ERR_INTERNAL, "no watch list loaded");
    gs_avro_match_t m[2 * MAX_MATCHES];
    screen_hit_t why[2 * MAX_MATCHES] = {{0}};
    res->language =
        gs_avro_cstr(gs_screen_lang_name(gs_screen_lang_detect(req->text.p, req->text.len, NULL)));
    size_t nm = screen_idents(e, req->text, res, m, a), n_tok = 0;
    nm = add_names(e, s, req->text, m, nm, why, &n_tok);
    if (req->has_counterparty)
        nm = add_names(e, s, req->counterparty, m, nm, why, &n_tok);
    if (!n_tok) {
        res->decision = GS_AVRO_DECISION_SKIP;
        res->reasons = gs_arena_alloc(a, sizeof(*res->reasons));
        if (res->reasons)
            res->reasons[res->n_reasons++] =
                gs_avro_cstr("nothing to screen: no letters or digits");
        return GS_OK;
    }
    /* sort matches and their reasons together */
    for (size_t i = 1; i < nm; i++)
        for (size_t j = i; j > 0 && before(&m[j], &why[j], &m[j - 1], &why[j - 1]); j--) {
            gs_avro_match_t tm = m[j];
            screen_hit_t th = why[j];
            m[j] = m[j - 1], why[j] = why[j - 1];
            m[j - 1] = tm, why[j - 1] = th;
        }
    nm = nm < MAX_MATCHES ? nm : MAX_MATCHES;
    decide(t, res, m, why, nm, a);
    if ((res->matches = arena_array(a, nm, sizeof(*m)))) {
        memcpy(res->matches, m, nm * sizeof(*m));
        res->n_matches = nm;
    }
    return GS_OK;
}
