/* Candidate search and name-part alignment (docs/SCREEN.md, "Candidates
 * and scores"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "match.h"

#define MAX_TOKENS       4096 /* a 10,000-character text has fewer words */
#define TOK_HITS         8
#define DF_RARE          24 /* a key in more forms than this seeds only next to another hit */
#define NEAR             3  /* words between two common hits that pair */
#define PAIR_HITS        3  /* a word's best hits that pair */
#define MAX_CANDS        8192
#define CAND_SLOTS       16384
#define SEEDS            4
#define INITIAL_POSTINGS 512 /* forms of a common word an initial next to it looks through */
#define MAX_BEST         64
#define FUZZY_MIN        0.84f /* Jaro-Winkler a typo must reach */
#define INITIAL_SIM      0.8f
#define SLIP_SIM         0.9f  /* a letter left out or two swapped, as written */
#define SLIP2_SIM        0.85f /* that and one more edit */
#define WIN              (2 * FORM_MAX_PARTS + 3)

typedef struct tok_hit {
    uint32_t key;
    float sim;
    uint8_t how;
} tok_hit_t;

typedef struct text_tok {
    gs_screen_tok_t t;
    tok_hit_t hits[TOK_HITS];
    uint8_t n_hits, common, weak, exact, single;
    uint8_t patro;   /* shaped like a patronymic (-ович, -івна, -ovna) */
    uint8_t vocab;   /* a word of payment texts (dictionary): no typo or lone match */
    uint8_t trigger; /* a payment word ("получатель", "payee"): a name may follow */
    char initial;    /* first letter of its key, for initials */
} text_tok_t;

typedef struct cand {
    uint32_t form;
    uint16_t seed[SEEDS];
    uint8_t n_seeds;
} cand_t;

struct match_scratch {
    const char *text; /* the one being matched */
    size_t text_len;
    char *norm;
    size_t norm_cap;
    gs_screen_tok_t toks[MAX_TOKENS];
    text_tok_t tt[MAX_TOKENS];
    size_t n_tok;
    cand_t cands[MAX_CANDS];
    uint32_t slots[CAND_SLOTS]; /* cand index + 1 */
    size_t n_cands;
    screen_hit_t best[MAX_BEST];
    size_t n_best;
};

gs_err_t match_scratch_new(match_scratch_t **out, char *errstr, size_t n)
{
    match_scratch_t *s = calloc(1, sizeof(*s));
    if (!s)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    *out = s;
    return GS_OK;
}

void match_scratch_destroy(match_scratch_t *s)
{
    if (s)
        free(s->norm);
    free(s);
}

/* ---- the words' hits ---------------------------------------------------------- */

/* A key found as written (or by a case ending) is not a typo of itself:
 * such a hit wins over a fuzzy one of the same key whatever their scores
 * ("Шевчукову" is "Шевчуков" declined, not "Shevchukovu" mistyped). */
static void add_hit(text_tok_t *tt, uint32_t key, float sim, uint8_t how)
{
    for (size_t i = 0; i < tt->n_hits; i++)
        if (tt->hits[i].key == key) {
            int was_fuzzy = (tt->hits[i].how & HOW_FUZZY) != 0, fuzzy = (how & HOW_FUZZY) != 0;
            if (was_fuzzy != fuzzy ? was_fuzzy : sim > tt->hits[i].sim)
                tt->hits[i] = (tok_hit_t){key, sim, how};
            return;
        }
    if (tt->n_hits < TOK_HITS)
        tt->hits[tt->n_hits++] = (tok_hit_t){key, sim, how};
}

static void fuzzy_hits(const screen_index_t *ix, text_tok_t *tt, const screen_key_t *k)
{
    uint32_t ids[16];
    size_t n = screen_index_fuzzy(ix, k->s, k->len, k->len >= 8 ? 2 : 1, ids, 16);
    for (size_t i = 0; i < n; i++) {
        size_t klen;
        const char *key = screen_index_key(ix, ids[i], &klen);
        float jw = (float)screen_jaro_winkler(k->s, k->len, key, klen);
        if (jw >= FUZZY_MIN)
            add_hit(tt, ids[i], jw * k->factor, HOW_FUZZY);
    }
}

/* The whole word is one of the dictionaries' (a legal form, a payment
 * word, a common word, a month): "января" is not a typo of "Anwari". */
static void vocabulary(const screen_matcher_t *m, text_tok_t *tt, const char *form)
{
    gs_screen_dict_hit_t hits[4];
    size_t n = gs_screen_dict_scan(m->tools.dict, form, tt->t.len, hits, 4);
    for (size_t i = 0; i < n && i < 4; i++)
        if (hits[i].start == 0 && hits[i].end == tt->t.len &&
            hits[i].category != GS_SCREEN_DICT_ID_CONTEXT) {
            tt->vocab = 1;
            tt->trigger |= hits[i].category == GS_SCREEN_DICT_PAYMENT_TRIGGER;
        }
}

/* One letter that can stand for a name: written with a dot or as a
 * capital ("у дома" has no initial, "У. Доку" has). */
static int initial_like(const match_scratch_t *s, const text_tok_t *tt)
{
    size_t used;
    return (tt->t.flags & GS_SCREEN_TOK_INITIAL) ||
           gs_cp_upper(gs_cp_decode((const unsigned char *)s->text + tt->t.start,
                                    s->text_len - tt->t.start, &used));
}

static void token_hits(const screen_matcher_t *m, const match_scratch_t *s, text_tok_t *tt,
                       const char *form)
{
    screen_key_t keys[KEYS_PER_TOKEN];
    int cyr = tt->t.script == GS_SCREEN_SCRIPT_CYRILLIC;
    size_t nk =
        screen_token_keys(m->tools.keys, form, tt->t.len, tt->t.script, cyr, keys, KEYS_PER_TOKEN);
    tt->initial = nk ? keys[0].s[0] : 0;
    tt->single = nk && (tt->t.len == 1 || (cyr && tt->t.len == 2)) && initial_like(s, tt);
    if (tt->t.len > 1)
        vocabulary(m, tt, form);
    for (size_t i = 0; i < nk; i++) {
        int64_t id = screen_index_find(m->index, keys[i].s, keys[i].len);
        if (id >= 0) {
            add_hit(tt, (uint32_t)id, keys[i].factor, keys[i].how == KEY_ENDING ? HOW_ENDING : 0);
            tt->exact = 1;
        }
        /* a typo may turn a name into another listed word ("Mizban" -> "Mizan") */
        if (keys[i].how == KEY_DIRECT && !tt->single && !tt->vocab && (id < 0 || keys[i].len >= 5))
            fuzzy_hits(m->index, tt, &keys[i]);
    }
}

static int patronymic_shaped(const char *form, size_t len)
{
    static const char *const tails[] = {"ович", "евич",  "овна",  "евна", "ична",
                                        "івна", "ovich", "evich", "ovna", "evna"};
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        size_t tl = strlen(tails[i]);
        if (len > tl + 2 && !memcmp(form + len - tl, tails[i], tl))
            return 1;
    }
    return 0;
}

/* Numbers in names ("Office 39") match only as they are. */
static void digit_hit(const screen_index_t *ix, text_tok_t *tt, const char *form)
{
    int64_t id = screen_index_find(ix, form, tt->t.len);
    if (id >= 0)
        add_hit(tt, (uint32_t)id, 1.0f, 0);
}

/* Best hits first: only the first PAIR_HITS pair with a neighbour's. */
static void sort_hits(text_tok_t *tt)
{
    for (size_t i = 1; i < tt->n_hits; i++)
        for (size_t j = i; j > 0 && tt->hits[j].sim > tt->hits[j - 1].sim; j--) {
            tok_hit_t t = tt->hits[j];
            tt->hits[j] = tt->hits[j - 1];
            tt->hits[j - 1] = t;
        }
}

/* A text's initial and a key's first letter: the same, or the key is the
 * Russian form of a Ukrainian name that starts otherwise (О. for
 * Олександр, key "aleksandr"; Олена -> Елена, Ганна -> Анна, Микола ->
 * Николай; keys.c's name table). */
static int initials_agree(char initial, char key)
{
    static const char pairs[][2] = {{'o', 'a'}, {'o', 'e'}, {'g', 'a'}, {'h', 'a'}, {'m', 'n'}};
    if (initial == key)
        return 1;
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
        if (initial == pairs[i][0] && key == pairs[i][1])
            return 1;
    return 0;
}

/* ---- candidates --------------------------------------------------------------- */

static void cand_add(match_scratch_t *s, uint32_t form, size_t pos)
{
    uint32_t i = (form * 2654435761u) & (CAND_SLOTS - 1);
    while (s->slots[i] && s->cands[s->slots[i] - 1].form != form)
        i = (i + 1) & (CAND_SLOTS - 1);
    if (!s->slots[i]) {
        if (s->n_cands == MAX_CANDS)
            return;
        s->cands[s->n_cands] = (cand_t){.form = form};
        s->slots[i] = (uint32_t)++s->n_cands;
    }
    cand_t *c = &s->cands[s->slots[i] - 1];
    for (size_t k = 0; k < c->n_seeds; k++)
        if ((size_t)c->seed[k] + 1 >= pos && pos + 1 >= (size_t)c->seed[k])
            return; /* the same place */
    if (c->n_seeds < SEEDS)
        c->seed[c->n_seeds++] = (uint16_t)pos;
}

/* Forms in both ascending posting lists: each form of the shorter one
 * searched in the longer (the lists of common keys are long). */
static void cand_pair(const screen_index_t *ix, match_scratch_t *s, uint32_t a, uint32_t b,
                      size_t pos)
{
    size_t na, nb;
    const uint32_t *pa = screen_index_postings(ix, a, &na), *pb = screen_index_postings(ix, b, &nb);
    if (na > nb) {
        const uint32_t *tp = pa;
        pa = pb, pb = tp;
        size_t tn = na;
        na = nb, nb = tn;
    }
    size_t lo = 0;
    for (size_t i = 0; i < na && lo < nb; i++) {
        size_t l = lo, h = nb;
        while (l < h) {
            size_t mid = l + (h - l) / 2;
            if (pb[mid] < pa[i])
                l = mid + 1;
            else
                h = mid;
        }
        lo = l;
        if (lo < nb && pb[lo] == pa[i])
            cand_add(s, pa[i], pos);
    }
}

static int rare_key(const screen_index_t *ix, uint32_t key)
{
    size_t n;
    screen_index_postings(ix, key, &n);
    return n <= DF_RARE;
}

/* An initial next to a common listed word ("Остапенко К.Д.", "A. Hoffmann"):
 * the word's forms with a part that initial can stand for are candidates
 * (a common family name does not seed alone, and initials have no key). */
static void seed_with_initial(const screen_index_t *ix, match_scratch_t *s, size_t i)
{
    char initial = 0;
    for (size_t j = i > 2 ? i - 2 : 0; j <= i + 2 && j < s->n_tok && !initial; j++)
        if (j != i && s->tt[j].single)
            initial = s->tt[j].initial;
    const text_tok_t *tt = &s->tt[i];
    for (size_t h = 0; initial && h < tt->n_hits && h < PAIR_HITS; h++) {
        size_t n;
        const uint32_t *post = screen_index_postings(ix, tt->hits[h].key, &n);
        for (size_t k = 0; n <= INITIAL_POSTINGS && k < n; k++) {
            screen_form_t f = screen_index_form(ix, post[k]);
            for (size_t p = 0; p < f.n_parts; p++) {
                size_t klen;
                const char *key = screen_index_key(ix, PART_KEY(f.parts[p]), &klen);
                if (PART_KEY(f.parts[p]) != tt->hits[h].key &&
                    PART_ROLE(f.parts[p]) != ROLE_FAMILY && initials_agree(initial, key[0])) {
                    cand_add(s, post[k], i);
                    break;
                }
            }
        }
    }
}

/* Two common words near each other seed the forms that have both; a weak
 * one (a legal form, a common word: "Trading and Transport Services
 * Company") only with the word right next to it. */
static void pair_words(const screen_index_t *ix, match_scratch_t *s, size_t i, size_t j)
{
    const text_tok_t *x = &s->tt[i], *y = &s->tt[j];
    if (!(x->common || x->weak) || !(y->common || y->weak))
        return;
    for (size_t a = 0; a < x->n_hits && a < PAIR_HITS; a++)
        for (size_t b = 0; b < y->n_hits && b < PAIR_HITS; b++) {
            uint32_t ka = x->hits[a].key, kb = y->hits[b].key;
            int weak = screen_index_weak(ix, ka) || screen_index_weak(ix, kb);
            if (ka != kb && (!weak || j == i + 1) && !rare_key(ix, ka) && !rare_key(ix, kb))
                cand_pair(ix, s, ka, kb, i);
        }
}

static void seed_candidates(const screen_index_t *ix, match_scratch_t *s)
{
    for (size_t i = 0; i < s->n_tok; i++) {
        text_tok_t *tt = &s->tt[i];
        for (size_t h = 0; h < tt->n_hits; h++) {
            size_t n;
            const uint32_t *post = screen_index_postings(ix, tt->hits[h].key, &n);
            if (screen_index_weak(ix, tt->hits[h].key)) {
                tt->weak = 1; /* pairs only with the word next to it */
                continue;
            }
            if (n > DF_RARE) {
                tt->common = 1; /* seeds only next to another hit of the same name */
                continue;
            }
            for (size_t k = 0; k < n; k++)
                cand_add(s, post[k], i);
        }
    }
    for (size_t i = 0; i < s->n_tok; i++)
        if (s->tt[i].common)
            seed_with_initial(ix, s, i);
    for (size_t i = 0; i < s->n_tok; i++)
        for (size_t j = i + 1; j < s->n_tok && j <= i + NEAR; j++)
            pair_words(ix, s, i, j);
}

/* ---- alignment and score ------------------------------------------------------ */

static float part_weight(uint32_t part)
{
    static const float role_w[4] = {
        [ROLE_OTHER] = 1.0f, [ROLE_GIVEN] = 1.0f, [ROLE_FAMILY] = 1.5f, [ROLE_PATRONYMIC] = 0.6f};
    float w = role_w[PART_ROLE(part)];
    return part & PART_WEAK ? 0.15f * w : w;
}

static float part_sim(const screen_index_t *ix, const text_tok_t *tt, uint32_t part, uint8_t *how)
{
    uint32_t key = PART_KEY(part);
    int family_or_given = PART_ROLE(part) == ROLE_FAMILY || PART_ROLE(part) == ROLE_GIVEN;
    for (size_t h = 0; h < tt->n_hits; h++)
        if (tt->hits[h].key == key) {
            *how = tt->hits[h].how;
            /* a patronymic is no typo of a family or given name ("Петрівна", "Petrina") */
            return tt->patro && family_or_given && (*how & HOW_FUZZY) ? 0.0f : tt->hits[h].sim;
        }
    int initial_ok = (tt->single && PART_ROLE(part) != ROLE_FAMILY) || (part & PART_INITIAL);
    if (!initial_ok || !tt->initial)
        return 0.0f; /* before the key is read: it is far away in memory */
    size_t klen;
    const char *k = screen_index_key(ix, key, &klen);
    if (initials_agree(tt->initial, k[0]) && (tt->single || klen == 1)) {
        *how = HOW_INITIAL;
        return INITIAL_SIM;
    }
    return 0.0f;
}

typedef struct align {
    int tok[FORM_MAX_PARTS]; /* the word each part took, -1 none */
    float sim[FORM_MAX_PARTS];
    uint8_t how[FORM_MAX_PARTS];
} align_t;

/* Greedy: the best remaining (part, word) pair first. Parts are few. */
static void align(const screen_index_t *ix, const match_scratch_t *s, screen_form_t f, size_t lo,
                  size_t hi, align_t *a)
{
    float sim[FORM_MAX_PARTS][WIN] = {{0}};
    uint8_t how[FORM_MAX_PARTS][WIN] = {{0}};
    for (size_t p = 0; p < f.n_parts; p++) {
        a->tok[p] = -1;
        for (size_t t = lo; t < hi; t++)
            sim[p][t - lo] = part_sim(ix, &s->tt[t], f.parts[p], &how[p][t - lo]);
    }
    int used[WIN] = {0};
    for (;;) {
        float best = 0.0f;
        size_t bp = 0, bt = 0;
        for (size_t p = 0; p < f.n_parts; p++)
            for (size_t t = 0; a->tok[p] < 0 && t < hi - lo; t++)
                if (!used[t] && sim[p][t] > best) {
                    best = sim[p][t];
                    bp = p, bt = t;
                }
        if (best <= 0.0f)
            return;
        a->tok[bp] = (int)(lo + bt);
        a->sim[bp] = best;
        a->how[bp] = how[bp][bt];
        used[bt] = 1;
    }
}

/* How rare a key is, in [0, 1]: 1 for a key of one entry, 0 from about
 * a hundred entries on. */
static float rarity(const screen_matcher_t *m, uint32_t key)
{
    size_t df;
    screen_index_postings(m->index, key, &df);
    double per_entry =
        (double)screen_index_forms(m->index) /
        (double)(gs_screen_list_entries(m->list) ? gs_screen_list_entries(m->list) : 1);
    double entries = (double)df / (per_entry > 1.0 ? per_entry : 1.0);
    double r = 1.0 - log(entries > 1.0 ? entries : 1.0) / log(100.0);
    return (float)(r < 0.0 ? 0.0 : r > 1.0 ? 1.0 : r);
}

/* Looks like part of a person's name: a patronymic ending, or a capital
 * that does not start the text or a sentence. */
static int name_like(const match_scratch_t *s, size_t t)
{
    const text_tok_t *tt = &s->tt[t];
    if (tt->patro)
        return 1;
    size_t used, at = tt->t.start;
    if (!gs_cp_upper(gs_cp_decode((const unsigned char *)s->text + at, s->text_len - at, &used)))
        return 0;
    while (at > 0 && (s->text[at - 1] == ' ' || s->text[at - 1] == '\t'))
        at--;
    return at > 0 && s->text[at - 1] != '.' && s->text[at - 1] != '\n' && s->text[at - 1] != ':';
}

/* A word next to the matched one that is on the list too but not in this
 * name, or looks like a name: the text names someone else with the same
 * family name. */
static int other_name_next(const match_scratch_t *s, const align_t *a, size_t n_parts, int tok)
{
    for (int t = tok - 2; t <= tok + 2; t++) {
        if (t < 0 || (size_t)t >= s->n_tok || t == tok || s->tt[t].vocab ||
            !(s->tt[t].exact || name_like(s, (size_t)t)))
            continue;
        int taken = 0;
        for (size_t p = 0; p < n_parts; p++)
            taken |= a->tok[p] == t;
        if (!taken)
            return 1;
    }
    return 0;
}

typedef struct form_score {
    float score;
    uint32_t how;
    uint8_t matched;
    int lo_tok, hi_tok;
} form_score_t;

/* Where a payee's name stands: after a payment word ("получатель
 * Петров", "payee Smith"), or alone in a short field (the counterparty). */
static int payee_position(const match_scratch_t *s, int tok)
{
    return s->n_tok <= 2 || (tok > 0 && s->tt[tok - 1].trigger);
}

/* One part of several alone: worth a review only when it is a rare family
 * name (or, where the list names no roles, a long rare word); in a payee's
 * place a less rare one is too. */
static float lone_score(const screen_matcher_t *m, const match_scratch_t *s, screen_form_t f,
                        const align_t *a, size_t p)
{
    uint32_t part = f.parts[p];
    size_t klen;
    screen_index_key(m->index, PART_KEY(part), &klen);
    int role = (int)PART_ROLE(part);
    /* where the list names no roles, only a long word written as listed;
     * one word of an organisation's name is another organisation as often
     * ("Koryo Horizon LLC" is not "KORYO BANK") */
    int typo = (a->how[p] & HOW_FUZZY) != 0;
    gs_screen_name_t nm = gs_screen_list_name_at(m->list, f.name);
    if (gs_screen_list_entry(m->list, nm.entry).type != GS_SCREEN_PERSON || a->sim[p] < 0.95f ||
        (role == ROLE_OTHER && typo) ||
        !(role == ROLE_FAMILY || (role == ROLE_OTHER && klen >= 5)) || s->tt[a->tok[p]].vocab ||
        other_name_next(s, a, f.n_parts, a->tok[p]))
        return 0.0f;
    /* at most 0.85: a surname alone is for review, never HIGH by itself */
    float r = rarity(m, PART_KEY(part));
    return a->sim[p] * (payee_position(s, a->tok[p]) ? 0.7f + 0.15f * r : 0.55f + 0.25f * r);
}

/* Only blanks between two words of the text: one phrase. */
static int same_phrase(const match_scratch_t *s, size_t a, size_t b)
{
    for (uint32_t i = s->tt[a].t.end; i < s->tt[b].t.start; i++)
        if (s->text[i] != ' ' && s->text[i] != '-')
            return 0;
    return 1;
}

/* A capitalised word that is no dictionary word, right before or after the
 * match in the same phrase, and not part of it: the text names another
 * organisation that shares words with the list's ("ТОВ «Транзит Исток»"
 * is not "ТОВ «Транзит Агро»", "Koryo Horizon LLC" is not "KORYO BANK"). */
static int extra_word(const match_scratch_t *s, const form_score_t *r)
{
    size_t lo = (size_t)r->lo_tok, hi = (size_t)r->hi_tok;
    size_t used;
    const size_t side[2] = {lo > 0 ? lo - 1 : SIZE_MAX, hi + 1 < s->n_tok ? hi + 1 : SIZE_MAX};
    for (size_t k = 0; k < 2; k++) {
        size_t t = side[k];
        if (t == SIZE_MAX || s->tt[t].vocab || s->tt[t].single ||
            !same_phrase(s, k ? hi : t, k ? t : lo))
            continue;
        const text_tok_t *o = &s->tt[t];
        if (gs_cp_upper(gs_cp_decode((const unsigned char *)s->text + o->t.start,
                                     s->text_len - o->t.start, &used)))
            return 1;
    }
    return 0;
}

/* How close a word of the text comes to a list key (its best key). */
static float word_sim(const screen_matcher_t *m, const match_scratch_t *s, size_t t, uint32_t key)
{
    screen_key_t keys[KEYS_PER_TOKEN];
    const text_tok_t *tt = &s->tt[t];
    size_t nk = screen_token_keys(m->tools.keys, s->norm + tt->t.off, tt->t.len, tt->t.script, 1,
                                  keys, KEYS_PER_TOKEN);
    size_t klen;
    const char *k = screen_index_key(m->index, key, &klen);
    float best = 0.0f;
    for (size_t i = 0; i < nk; i++) {
        float jw = (float)screen_jaro_winkler(keys[i].s, keys[i].len, k, klen);
        best = jw > best ? jw : best;
    }
    return best;
}

/* A patronymic-shaped word or an initial next to or inside the match that
 * took no part and is no typo of the list's patronymic (key): the text
 * gives another one ("Кузнецов Павел Андреевич" is not "Кузнецов Павел
 * Степанович", nor "Морозова Е.В." "Морозова Елена Алексеевна"). */
static int other_patronymic(const screen_matcher_t *m, const match_scratch_t *s, const align_t *a,
                            size_t n_parts, const form_score_t *r, uint32_t key)
{
    size_t lo = r->lo_tok > 0 ? (size_t)r->lo_tok - 1 : 0;
    for (size_t t = lo; t <= (size_t)r->hi_tok + 1 && t < s->n_tok; t++) {
        int taken = 0;
        for (size_t p = 0; p < n_parts; p++)
            taken |= a->tok[p] == (int)t;
        if (taken || !(s->tt[t].patro || s->tt[t].single))
            continue;
        if (s->tt[t].single || word_sim(m, s, t, key) < FUZZY_MIN)
            return 1;
    }
    return 0;
}

static form_score_t score_align(const screen_matcher_t *m, const match_scratch_t *s,
                                screen_form_t f, const align_t *a)
{
    form_score_t r = {.lo_tok = -1, .hi_tok = -1};
    float got = 0.0f, total = 0.0f, strong = 0.0f, dropped_patronymic = 0.0f;
    uint32_t patronymic_key = 0;
    size_t strong_parts = 0, strong_matched = 0, lone = 0;
    int last = -1;
    for (size_t p = 0; p < f.n_parts; p++) {
        float w = part_weight(f.parts[p]);
        int weak = (f.parts[p] & PART_WEAK) != 0;
        strong_parts += !weak;
        if (a->tok[p] < 0) {
            int patronymic = PART_ROLE(f.parts[p]) == ROLE_PATRONYMIC;
            total += patronymic ? 0.25f * w : w;
            if (patronymic)
                dropped_patronymic = w, patronymic_key = PART_KEY(f.parts[p]);
            r.how |= patronymic || weak ? HOW_DROPPED : 0;
            continue;
        }
        const text_tok_t *tt = &s->tt[a->tok[p]];
        got += w * a->sim[p];
        total += w;
        r.matched++;
        size_t klen;
        screen_index_key(m->index, PART_KEY(f.parts[p]), &klen);
        if (!weak && a->how[p] != HOW_INITIAL && klen >= 3) { /* "al", "za": no evidence alone */
            strong += w, strong_matched++;
            lone = p;
        }
        r.how |= a->how[p];
        r.how |= tt->t.flags & (GS_SCREEN_TOK_HOMOGLYPH | GS_SCREEN_TOK_STRIPPED) ? HOW_FOLDED : 0;
        r.how |= a->tok[p] < last ? HOW_ORDER : 0;
        last = a->tok[p];
        r.lo_tok = r.lo_tok < 0 || a->tok[p] < r.lo_tok ? a->tok[p] : r.lo_tok;
        r.hi_tok = a->tok[p] > r.hi_tok ? a->tok[p] : r.hi_tok;
    }
    if (strong < 1.0f || total <= 0.0f)
        return (form_score_t){.lo_tok = -1};
    if (dropped_patronymic > 0.0f && other_patronymic(m, s, a, f.n_parts, &r, patronymic_key)) {
        total += 1.75f * dropped_patronymic; /* it counts twice its weight, against */
        r.how |= HOW_CONFLICT;
    }
    r.score = got / total;
    if (strong_parts == 1 && (r.how & HOW_FUZZY))
        r.score *= 0.8f; /* a one-word name must be written as listed */
    gs_screen_name_t nm = gs_screen_list_name_at(m->list, f.name);
    if (gs_screen_list_entry(m->list, nm.entry).type == GS_SCREEN_ENTITY && extra_word(s, &r)) {
        r.score *= 0.8f;
        r.how |= HOW_EXTRA;
    }
    if (strong_matched == 1 && strong_parts >= 2) {
        float ls = lone_score(m, s, f, a, lone);
        if (ls > r.score) {
            r.score = ls;
            r.how |= HOW_LONE;
        }
    }
    return r;
}

static void keep_best(const screen_matcher_t *m, match_scratch_t *s, screen_form_t f,
                      const form_score_t *r)
{
    gs_screen_name_t nm = gs_screen_list_name_at(m->list, f.name);
    float score = nm.kind == GS_SCREEN_NAME_WEAK_ALIAS ? 0.95f * r->score : r->score;
    screen_hit_t h = {.entry = nm.entry,
                      .name = f.name,
                      .score = score,
                      .start = s->tt[r->lo_tok].t.start,
                      .end = s->tt[r->hi_tok].t.end,
                      .matched = r->matched,
                      .parts = (uint8_t)f.n_parts,
                      .how = r->how};
    size_t worst = 0;
    for (size_t i = 0; i < s->n_best; i++) {
        if (s->best[i].entry == h.entry) {
            if (score > s->best[i].score ||
                (score == s->best[i].score && h.matched > s->best[i].matched))
                s->best[i] = h;
            return;
        }
        worst = s->best[i].score < s->best[worst].score ? i : worst;
    }
    if (s->n_best < MAX_BEST)
        s->best[s->n_best++] = h;
    else if (score > s->best[worst].score)
        s->best[worst] = h;
}

static void score_candidates(const screen_matcher_t *m, match_scratch_t *s, match_stats_t *st)
{
    for (size_t c = 0; c < s->n_cands; c++) {
        screen_form_t f = screen_index_form(m->index, s->cands[c].form);
        for (size_t k = 0; k < s->cands[c].n_seeds; k++) {
            size_t seed = s->cands[c].seed[k], reach = f.n_parts + 1;
            size_t lo = seed > reach ? seed - reach : 0;
            size_t hi = seed + reach + 1 < s->n_tok ? seed + reach + 1 : s->n_tok;
            align_t a;
            align(m->index, s, f, lo, hi, &a);
            form_score_t r = score_align(m, s, f, &a);
            st->scored++;
            if (r.lo_tok >= 0 && r.score > 0.0f)
                keep_best(m, s, f, &r);
        }
    }
}

static int by_score(const void *a, const void *b)
{
    const screen_hit_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    if (x->matched != y->matched) /* the longer of two names, one inside the other */
        return x->matched < y->matched ? 1 : -1;
    return x->entry < y->entry ? -1 : x->entry > y->entry;
}

/* A word that matched nothing but stands where a name would (it looks
 * like one, or it is next to a word on the list) gets a second, dearer
 * search: its one-slip spellings as found, and next to a listed word also
 * within one edit of those (docs/SCREEN.md, "Candidates and scores"). */
static void slip_hits(const screen_matcher_t *m, text_tok_t *tt, const char *form, int two)
{
    screen_key_t keys[64];
    size_t nk = screen_slip_keys(m->tools.keys, form, tt->t.len, tt->t.script, keys, 64);
    for (size_t i = 0; i < nk; i++) {
        int64_t id = screen_index_find(m->index, keys[i].s, keys[i].len);
        if (id >= 0) {
            add_hit(tt, (uint32_t)id, SLIP_SIM, HOW_FUZZY);
            continue;
        }
        uint32_t ids[8];
        size_t n = two && keys[i].len >= 6
                       ? screen_index_fuzzy(m->index, keys[i].s, keys[i].len, 1, ids, 8)
                       : 0;
        for (size_t j = 0; j < n; j++) {
            size_t klen;
            const char *key = screen_index_key(m->index, ids[j], &klen);
            if (screen_jaro_winkler(keys[i].s, keys[i].len, key, klen) >= FUZZY_MIN)
                add_hit(tt, ids[j], SLIP2_SIM, HOW_FUZZY);
        }
    }
}

/* A word two or fewer from a rare listed word that is no dictionary word:
 * where the rest of a name would be. */
static int near_exact(const screen_matcher_t *m, const match_scratch_t *s, size_t i)
{
    for (size_t j = i > 2 ? i - 2 : 0; j <= i + 2 && j < s->n_tok; j++) {
        const text_tok_t *o = &s->tt[j];
        for (size_t h = 0; j != i && !o->vocab && h < o->n_hits; h++)
            if (!(o->hits[h].how & HOW_FUZZY) && !screen_index_weak(m->index, o->hits[h].key) &&
                rare_key(m->index, o->hits[h].key))
                return 1;
    }
    return 0;
}

static void second_search(const screen_matcher_t *m, match_scratch_t *s)
{
    for (size_t i = 0; i < s->n_tok; i++) {
        text_tok_t *tt = &s->tt[i];
        int letters =
            tt->t.script == GS_SCREEN_SCRIPT_LATIN || tt->t.script == GS_SCREEN_SCRIPT_CYRILLIC;
        if (tt->n_hits || tt->vocab || tt->single || !letters || tt->t.len < 5)
            continue;
        int near = near_exact(m, s, i); /* two slips only next to a name */
        if (near || name_like(s, i))
            slip_hits(m, tt, s->norm + tt->t.off, near);
        sort_hits(tt);
    }
}

static void reset(match_scratch_t *s)
{
    for (size_t c = 0; c < s->n_cands; c++) {
        uint32_t i = (s->cands[c].form * 2654435761u) & (CAND_SLOTS - 1);
        while (s->slots[i])
            s->slots[i] = 0, i = (i + 1) & (CAND_SLOTS - 1);
    }
    s->n_cands = s->n_best = s->n_tok = 0;
}

size_t screen_match(const screen_matcher_t *m, match_scratch_t *s, const char *text, size_t len,
                    screen_hit_t *out, size_t cap, match_stats_t *st)
{
    reset(s);
    s->text = text;
    s->text_len = len;
    size_t need = GS_SCREEN_NORM_SIZE(len);
    if (need > s->norm_cap) {
        char *p = realloc(s->norm, need);
        if (!p)
            return 0;
        s->norm = p;
        s->norm_cap = need;
    }
    size_t nt =
        gs_screen_norm_tokens(m->tools.norm, text, len, s->norm, s->norm_cap, s->toks, MAX_TOKENS);
    for (size_t i = 0; i < nt; i++) {
        text_tok_t *tt = &s->tt[s->n_tok++];
        *tt = (text_tok_t){.t = s->toks[i]};
        if (s->toks[i].script == GS_SCREEN_SCRIPT_DIGITS)
            digit_hit(m->index, tt, s->norm + s->toks[i].off);
        else
            token_hits(m, s, tt, s->norm + s->toks[i].off);
        tt->patro = (uint8_t)patronymic_shaped(s->norm + tt->t.off, tt->t.len);
        sort_hits(tt);
    }
    second_search(m, s);
    seed_candidates(m->index, s);
    st->tokens += nt; /* digits too: they are something to screen */
    st->candidates += s->n_cands;
    score_candidates(m, s, st);
    qsort(s->best, s->n_best, sizeof(*s->best), by_score);
    size_t n = s->n_best < cap ? s->n_best : cap;
    memcpy(out, s->best, n * sizeof(*out));
    return n;
}
