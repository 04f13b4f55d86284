/* Building the search index of an opened list (index.c has the layout).
 * Every name is normalised like text is, split into words, and each word
 * becomes a part with its key, its role in a person's name and whether it is
 * a legal form or common word; a Cyrillic name gives one form per
 * transliteration system. */
#include <stdlib.h>
#include <string.h>

#include "index.h"

typedef struct vec {
    uint32_t *v;
    size_t n, cap;
} vec_t;

static int vpush(vec_t *v, uint32_t x)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 1024;
        uint32_t *p = realloc(v->v, cap * sizeof(*p));
        if (!p)
            return -1;
        v->v = p;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return 0;
}

typedef struct builder {
    const screen_text_tools_t *t;
    char *blob; /* key strings */
    size_t blen, bcap;
    vec_t key_off, forms, parts;
    uint64_t *pairs; /* key << 32 | form */
    size_t n_pairs, pairs_cap;
    uint32_t *slots; /* interning: key id + 1 */
    uint32_t mask;
    int oom;
} builder_t;

static const char *bkey(const builder_t *b, uint32_t id, size_t *len)
{
    *len = b->key_off.v[id + 1] - b->key_off.v[id] - 1;
    return b->blob + b->key_off.v[id];
}

static uint32_t *slot_of(uint32_t *slots, uint32_t mask, const builder_t *b, const char *s,
                         size_t len)
{
    for (uint32_t i = screen_fnv(s, len) & mask;; i = (i + 1) & mask) {
        if (!slots[i])
            return &slots[i];
        size_t klen;
        const char *k = bkey(b, slots[i] - 1, &klen);
        if (klen == len && !memcmp(k, s, len))
            return &slots[i];
    }
}

static int grow_slots(builder_t *b)
{
    uint32_t mask = b->mask ? 2 * b->mask + 1 : 4095;
    uint32_t *slots = calloc((size_t)mask + 1, sizeof(*slots));
    if (!slots)
        return -1;
    for (uint32_t id = 0; id + 1 < b->key_off.n; id++) {
        size_t len;
        const char *k = bkey(b, id, &len);
        *slot_of(slots, mask, b, k, len) = id + 1;
    }
    free(b->slots);
    b->slots = slots;
    b->mask = mask;
    return 0;
}

/* The id of a key, added when new. */
static uint32_t intern(builder_t *b, const char *s, size_t len)
{
    size_t n_keys = b->key_off.n ? b->key_off.n - 1 : 0;
    if ((n_keys + 1) * 2 > (size_t)b->mask && grow_slots(b))
        return b->oom = 1, 0;
    uint32_t *slot = slot_of(b->slots, b->mask, b, s, len);
    if (*slot)
        return *slot - 1;
    if (b->blen + len + 1 > b->bcap) {
        size_t cap = b->bcap ? 2 * b->bcap : 65536;
        while (cap < b->blen + len + 1)
            cap *= 2;
        char *p = realloc(b->blob, cap);
        if (!p)
            return b->oom = 1, 0;
        b->blob = p;
        b->bcap = cap;
    }
    memcpy(b->blob + b->blen, s, len);
    b->blen += len;
    b->blob[b->blen++] = '\0';
    if (vpush(&b->key_off, (uint32_t)b->blen))
        return b->oom = 1, 0;
    *slot = (uint32_t)n_keys + 1;
    return (uint32_t)n_keys;
}

/* ---- the parts of one name ------------------------------------------------------ */

typedef struct name_words {
    gs_screen_tok_t tok[FORM_MAX_PARTS];
    screen_key_t keys[FORM_MAX_PARTS][2];
    size_t n_keys[FORM_MAX_PARTS];
    uint32_t flags[FORM_MAX_PARTS]; /* role and flags, as parts carry them */
    size_t n;
    char buf[GS_SCREEN_NORM_SIZE(1024)];
} name_words_t;

static void set_role(name_words_t *w, size_t i, uint32_t role)
{
    w->flags[i] = (w->flags[i] & ~(3u << 24)) | role << 24;
}

static int patronymic_key(const screen_key_t *k)
{
    static const char *const tails[] = {"ovic", "evic", "ivic", "ovna", "evna", "ivna", "icna"};
    for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++)
        if (k->len >= 7 && !memcmp(k->s + k->len - 4, tails[t], 4))
            return 1;
    return 0;
}

/* Two words of a name written with a hyphen between them. */
static int hyphenated(const char *text, const gs_screen_tok_t *a, const gs_screen_tok_t *b)
{
    return b->start == a->end + 1 && text[a->end] == '-';
}

/* Roles of a person's words: the list's family part where it names one;
 * else around a patronymic (given, patronymic, family in Latin order; family,
 * given, patronymic in Cyrillic order); else unknown. */
static void person_roles(const screen_text_tools_t *t, const char *text, const char *family,
                         name_words_t *w)
{
    if (family && *family) {
        char fbuf[GS_SCREEN_NORM_SIZE(256)];
        gs_screen_tok_t ft[8];
        size_t flen = strlen(family), nf;
        nf = gs_screen_norm_tokens(t->norm, family, flen < 256 ? flen : 256, fbuf, sizeof(fbuf), ft,
                                   8);
        for (size_t i = 0; i < w->n; i++)
            for (size_t j = 0; j < nf; j++)
                if (ft[j].len == w->tok[i].len &&
                    !memcmp(fbuf + ft[j].off, w->buf + w->tok[i].off, ft[j].len))
                    set_role(w, i, ROLE_FAMILY);
        return;
    }
    for (size_t p = 1; p < w->n; p++) {
        if (!w->n_keys[p] || !patronymic_key(&w->keys[p][0]))
            continue;
        size_t q = p; /* a hyphenated patronymic is one: "SEIT-UMAROVICH" */
        while (q > 1 && hyphenated(text, &w->tok[q - 1], &w->tok[q]))
            q--;
        for (size_t i = q; i <= p; i++)
            set_role(w, i, ROLE_PATRONYMIC);
        set_role(w, q - 1, ROLE_GIVEN);
        if (p + 1 < w->n)
            set_role(w, p + 1, ROLE_FAMILY);
        else if (q >= 2)
            set_role(w, q - 2, ROLE_FAMILY);
        return;
    }
}

/* Legal forms and common words ("LLC", "bank") are weak parts. A name
 * made only of common words ("Capital Logistics LLC") keeps those as its
 * own words; a name made only of legal forms keeps them all. */
static void weak_words(const screen_text_tools_t *t, name_words_t *w)
{
    char joined[GS_SCREEN_NORM_SIZE(1024)];
    size_t at[FORM_MAX_PARTS], len = 0;
    for (size_t i = 0; i < w->n; i++) {
        at[i] = len;
        memcpy(joined + len, w->buf + w->tok[i].off, w->tok[i].len);
        len += w->tok[i].len;
        joined[len++] = ' ';
    }
    gs_screen_dict_hit_t hits[32];
    size_t nh = gs_screen_dict_scan(t->dict, joined, len, hits, 32), legal = 0, common = 0;
    nh = nh < 32 ? nh : 32;
    uint8_t cat[FORM_MAX_PARTS] = {0}; /* 1 legal form, 2 common word */
    for (size_t i = 0; i < w->n; i++)
        for (size_t h = 0; h < nh && !cat[i]; h++)
            if (hits[h].start <= at[i] && at[i] < hits[h].end)
                cat[i] = hits[h].category == GS_SCREEN_DICT_LEGAL_FORM    ? 1
                         : hits[h].category == GS_SCREEN_DICT_COMMON_WORD ? 2
                                                                          : 0;
    for (size_t i = 0; i < w->n; i++)
        legal += cat[i] == 1, common += cat[i] == 2;
    for (size_t i = 0; i < w->n; i++) {
        int weak = cat[i] == 1 ? legal < w->n : cat[i] == 2 && legal + common < w->n;
        w->flags[i] |= weak ? PART_WEAK : 0;
    }
}

static void name_words(const screen_text_tools_t *t, const gs_screen_name_t *nm, int person,
                       name_words_t *w)
{
    gs_screen_tok_t tok[FORM_MAX_PARTS * 2];
    size_t len = strlen(nm->text);
    size_t n = gs_screen_norm_tokens(t->norm, nm->text, len < 1024 ? len : 1024, w->buf,
                                     sizeof(w->buf), tok, (size_t)FORM_MAX_PARTS * 2);
    w->n = 0;
    for (size_t i = 0; i < n && w->n < FORM_MAX_PARTS; i++) {
        size_t k = w->n;
        w->tok[k] = tok[i];
        w->n_keys[k] = screen_token_keys(t->keys, w->buf + tok[i].off, tok[i].len, tok[i].script, 0,
                                         w->keys[k], 2);
        if (tok[i].script == GS_SCREEN_SCRIPT_DIGITS) { /* "Office 39": the number as it is */
            w->keys[k][0] = (screen_key_t){.factor = 1.0f};
            w->keys[k][0].len = tok[i].len < KEY_MAX - 1 ? tok[i].len : KEY_MAX - 1;
            memcpy(w->keys[k][0].s, w->buf + tok[i].off, w->keys[k][0].len);
            w->n_keys[k] = 1;
        }
        if (!w->n_keys[k])
            continue;
        w->flags[k] = tok[i].len <= 2 && (tok[i].flags & GS_SCREEN_TOK_INITIAL) ? PART_INITIAL : 0;
        w->n++;
    }
    if (person)
        person_roles(t, nm->text, nm->family, w);
    weak_words(t, w);
}

static int add_pair(builder_t *b, uint32_t key, uint32_t form)
{
    if (b->n_pairs == b->pairs_cap) {
        size_t cap = b->pairs_cap ? 2 * b->pairs_cap : 4096;
        uint64_t *p = realloc(b->pairs, cap * sizeof(*p));
        if (!p)
            return -1;
        b->pairs = p;
        b->pairs_cap = cap;
    }
    b->pairs[b->n_pairs++] = (uint64_t)key << 32 | form;
    return 0;
}

/* One form per transliteration system that changes something. */
static int add_forms(builder_t *b, uint32_t name, const name_words_t *w)
{
    size_t systems = 1;
    for (size_t i = 0; i < w->n; i++)
        systems = w->n_keys[i] > systems ? w->n_keys[i] : systems;
    for (size_t s = 0; s < systems && w->n; s++) {
        uint32_t form = (uint32_t)(b->forms.n / 3);
        if (vpush(&b->forms, name) || vpush(&b->forms, (uint32_t)b->parts.n) ||
            vpush(&b->forms, (uint32_t)w->n))
            return -1;
        for (size_t i = 0; i < w->n; i++) {
            const screen_key_t *k = &w->keys[i][s < w->n_keys[i] ? s : 0];
            uint32_t id = intern(b, k->s, k->len);
            if (b->oom || id > PART_MAX_KEYS || vpush(&b->parts, id | w->flags[i]) ||
                add_pair(b, id, form))
                return -1;
        }
    }
    return 0;
}

/* ---- the sections ------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* index.post_off and index.post from the sorted (key, form) pairs. */
static int postings(builder_t *b, uint32_t n_keys, vec_t *off, vec_t *post)
{
    if (b->n_pairs)
        qsort(b->pairs, b->n_pairs, sizeof(*b->pairs), cmp_u64);
    size_t i = 0;
    for (uint32_t k = 0; k < n_keys; k++) {
        if (vpush(off, (uint32_t)post->n))
            return -1;
        for (; i < b->n_pairs && b->pairs[i] >> 32 == k; i++)
            if ((!i || b->pairs[i] != b->pairs[i - 1]) && vpush(post, (uint32_t)b->pairs[i]))
                return -1;
    }
    return vpush(off, (uint32_t)post->n);
}

static uint32_t mask_for(size_t entries)
{
    uint32_t m = 1023;
    while ((size_t)m + 1 < 2 * entries)
        m = 2 * m + 1;
    return m;
}

/* index.del: every one-deletion variant of every ASCII key of four or more
 * letters (a run of one letter gives its deletion once). */
static uint32_t *deletions(const builder_t *b, uint32_t n_keys, uint32_t *mask_out)
{
    size_t count = 0;
    for (uint32_t id = 0; id < n_keys; id++) {
        size_t len;
        const char *k = bkey(b, id, &len);
        count += screen_fuzzy_key(k, len) ? len : 0;
    }
    uint32_t mask = mask_for(count);
    uint32_t *del = calloc(2 * ((size_t)mask + 1), sizeof(*del));
    if (!del)
        return NULL;
    for (uint32_t id = 0; id < n_keys; id++) {
        size_t len;
        const char *k = bkey(b, id, &len);
        for (size_t s = 0; screen_fuzzy_key(k, len) && s < len; s++) {
            if (s && k[s] == k[s - 1])
                continue;
            uint32_t h = screen_fnv_without(k, len, s), i = h & mask;
            while (del[2 * (size_t)i + 1])
                i = (i + 1) & mask;
            del[2 * (size_t)i] = h;
            del[2 * (size_t)i + 1] = id + 1;
        }
    }
    *mask_out = mask;
    return del;
}

static gs_tensor_t u32_section(const char *name, uint32_t *data, size_t n)
{
    gs_tensor_t t = {.dtype = GS_DT_U32, .ndim = 1, .dims = {n}, .data = data, .nbytes = 4 * n};
    snprintf(t.name, sizeof(t.name), "%s", name);
    return t;
}

#define N_SECTIONS 9

static gs_err_t emit(builder_t *b, uint32_t n_names, gs_tensor_t **out, size_t *n_out, char *errstr,
                     size_t n)
{
    uint32_t n_keys = (uint32_t)(b->key_off.n - 1), del_mask = 0;
    vec_t off = {0}, post = {0};
    uint32_t *del = deletions(b, n_keys, &del_mask);
    uint32_t *meta = calloc(META_N, sizeof(*meta)), key_mask = mask_for(n_keys);
    uint32_t *slots = calloc((size_t)key_mask + 1, sizeof(*slots));
    gs_tensor_t *t = calloc(N_SECTIONS, sizeof(*t));
    if (!del || !meta || !slots || !t || postings(b, n_keys, &off, &post)) {
        free(del), free(meta), free(slots), free(t), free(off.v), free(post.v);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory building the index");
    }
    for (uint32_t id = 0; id < n_keys; id++) {
        size_t len;
        const char *k = bkey(b, id, &len);
        *slot_of(slots, key_mask, b, k, len) = id + 1;
    }
    uint32_t m[META_N] = {KEYS_VERSION, n_keys,   (uint32_t)(b->forms.n / 3),
                          key_mask,     del_mask, n_names};
    memcpy(meta, m, sizeof(m));
    t[0] = u32_section("index.meta", meta, META_N);
    t[1] = (gs_tensor_t){.name = "index.keys",
                         .dtype = GS_DT_BYTES,
                         .ndim = 1,
                         .dims = {b->blen},
                         .data = b->blob,
                         .nbytes = b->blen};
    t[2] = u32_section("index.key_off", b->key_off.v, b->key_off.n);
    t[3] = u32_section("index.key_slots", slots, (size_t)key_mask + 1);
    t[4] = u32_section("index.post_off", off.v, off.n);
    t[5] = u32_section("index.post", post.v, post.n);
    t[6] = u32_section("index.del", del, 2 * ((size_t)del_mask + 1));
    t[7] = u32_section("index.forms", b->forms.v, b->forms.n);
    t[8] = u32_section("index.parts", b->parts.v, b->parts.n);
    b->blob = NULL, b->key_off.v = b->forms.v = b->parts.v = NULL; /* now the sections' */
    *out = t;
    *n_out = N_SECTIONS;
    return GS_OK;
}

gs_err_t screen_index_build(const gs_screen_list_t *l, const screen_text_tools_t *tools,
                            gs_tensor_t **out, size_t *n_out, char *errstr, size_t n)
{
    builder_t b = {.t = tools};
    name_words_t *w = malloc(sizeof(*w));
    gs_err_t err = GS_OK;
    if (!w || vpush(&b.key_off, 0))
        err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory building the index");
    size_t names = gs_screen_list_names(l);
    for (size_t i = 0; !err && i < names; i++) {
        gs_screen_name_t nm = gs_screen_list_name_at(l, i);
        gs_screen_entry_t e = gs_screen_list_entry(l, nm.entry);
        name_words(tools, &nm, e.type == GS_SCREEN_PERSON, w);
        if (add_forms(&b, (uint32_t)i, w))
            err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory building the index");
    }
    if (!err)
        err = emit(&b, (uint32_t)names, out, n_out, errstr, n);
    free(w), free(b.blob), free(b.key_off.v), free(b.forms.v), free(b.parts.v);
    free(b.pairs), free(b.slots);
    return err;
}

void screen_index_sections_free(gs_tensor_t *sections, size_t n)
{
    for (size_t i = 0; sections && i < n; i++)
        free((void *)sections[i].data);
    free(sections);
}

gs_err_t screen_tools_new(screen_text_tools_t *t, char *errstr, size_t n)
{
    *t = (screen_text_tools_t){0};
    gs_err_t err = gs_screen_norm_new(&t->norm, errstr, n);
    if (!err)
        err = screen_keys_new(&t->keys, errstr, n);
    if (!err)
        err = gs_screen_dict_new(&t->dict, errstr, n);
    if (err)
        screen_tools_free(t);
    return err;
}

void screen_tools_free(screen_text_tools_t *t)
{
    gs_screen_norm_destroy(t->norm);
    screen_keys_destroy(t->keys);
    gs_screen_dict_destroy(t->dict);
    *t = (screen_text_tools_t){0};
}
