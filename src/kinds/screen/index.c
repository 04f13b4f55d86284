/* The watch list's search index: build (into "index.*" sections) and use in
 * place (docs/SCREEN.md, "Search index"). All sections are u32 arrays
 * except the key strings:
 *   index.meta      KEYS_VERSION, keys, forms, key-slot mask, deletion-slot mask, names
 *   index.keys      the keys, NUL-terminated, at index.key_off[id]
 *   index.key_slots open addressing by FNV-1a of the key: id + 1, 0 empty
 *   index.post_off  per key, its range of index.post (form ids, ascending)
 *   index.del       open addressing of (hash of a one-deletion variant, key id + 1)
 *   index.forms     per form: name, first part, parts
 *   index.parts     key | role | flags (index.h)
 */
#include <stdlib.h>
#include <string.h>

#include "index.h"

struct screen_index {
    const uint32_t *meta, *key_off, *key_slots, *post_off, *post, *del, *forms, *parts;
    const char *keys;
    uint8_t *weak; /* per key: every part with it is a legal form or common word */
    size_t keys_len, n_post, n_parts;
    uint32_t n_keys, n_forms, key_mask, del_mask;
};

/* ---- reading ---------------------------------------------------------------- */

size_t screen_index_keys(const screen_index_t *ix)
{
    return ix->n_keys;
}

size_t screen_index_forms(const screen_index_t *ix)
{
    return ix->n_forms;
}

const char *screen_index_key(const screen_index_t *ix, uint32_t id, size_t *len)
{
    *len = ix->key_off[id + 1] - ix->key_off[id] - 1;
    return ix->keys + ix->key_off[id];
}

int64_t screen_index_find(const screen_index_t *ix, const char *key, size_t len)
{
    for (uint32_t i = screen_fnv(key, len) & ix->key_mask;; i = (i + 1) & ix->key_mask) {
        uint32_t v = ix->key_slots[i];
        if (!v)
            return -1;
        size_t klen;
        const char *k = screen_index_key(ix, v - 1, &klen);
        if (klen == len && !memcmp(k, key, len))
            return v - 1;
    }
}

static size_t add_unique(uint32_t *out, size_t n, size_t cap, uint32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (out[i] == id)
            return n;
    if (n < cap)
        out[n++] = id;
    return n;
}

/* The keys one of whose deletions hashes to h. */
static size_t del_lookup(const screen_index_t *ix, uint32_t h, uint32_t *out, size_t n, size_t cap)
{
    for (uint32_t i = h & ix->del_mask;; i = (i + 1) & ix->del_mask) {
        const uint32_t *slot = ix->del + 2 * (size_t)i;
        if (!slot[1])
            return n;
        if (slot[0] == h)
            n = add_unique(out, n, cap, slot[1] - 1);
    }
}

size_t screen_index_fuzzy(const screen_index_t *ix, const char *key, size_t len, unsigned max,
                          uint32_t *out, size_t cap)
{
    if (!screen_fuzzy_key(key, len))
        return 0;
    uint32_t cand[64];
    size_t nc = del_lookup(ix, screen_fnv(key, len), cand, 0, 64); /* key + one letter */
    for (size_t skip = 0; skip < len; skip++) {
        if (skip && key[skip] == key[skip - 1])
            continue; /* the same deletion again */
        char d[KEY_MAX];
        memcpy(d, key, skip);
        memcpy(d + skip, key + skip + 1, len - skip - 1);
        int64_t id = screen_index_find(ix, d, len - 1); /* key - one letter */
        if (id >= 0)
            nc = add_unique(cand, nc, 64, (uint32_t)id);
        nc = del_lookup(ix, screen_fnv_without(key, len, skip), cand, nc, 64); /* one changed */
    }
    size_t n = 0;
    for (size_t i = 0; i < nc; i++) {
        size_t klen;
        const char *k = screen_index_key(ix, cand[i], &klen);
        unsigned d = screen_edit_distance(key, len, k, klen, max);
        if (d >= 1 && d <= max)
            n = add_unique(out, n, cap, cand[i]);
    }
    return n;
}

const uint32_t *screen_index_postings(const screen_index_t *ix, uint32_t id, size_t *n)
{
    *n = ix->post_off[id + 1] - ix->post_off[id];
    return ix->post + ix->post_off[id];
}

screen_form_t screen_index_form(const screen_index_t *ix, uint32_t form)
{
    const uint32_t *f = ix->forms + 3 * (size_t)form;
    return (screen_form_t){.name = f[0], .n_parts = f[2], .parts = ix->parts + f[1]};
}

/* ---- opening ---------------------------------------------------------------- */

static const uint32_t *section(const gs_screen_list_t *l, const char *name, uint64_t elems,
                               size_t *count, char *errstr, size_t n)
{
    const gs_tensor_t *t = gs_screen_list_section(l, name);
    if (!t) {
        gs_errfmt(errstr, n, "the list has no %s: build it again with `govstream watchlist build`",
                  name);
        return NULL;
    }
    size_t width = t->dtype == GS_DT_BYTES ? 1 : 4;
    if ((t->dtype != GS_DT_U32 && t->dtype != GS_DT_BYTES) || t->nbytes % width ||
        (elems && t->nbytes / width != elems)) {
        gs_errfmt(errstr, n, "section %s: %llu bytes, expected %llu elements", name,
                  (unsigned long long)t->nbytes, (unsigned long long)elems);
        return NULL;
    }
    if (count)
        *count = t->nbytes / width;
    return t->data;
}

static gs_err_t bad(char *errstr, size_t n, const char *what, size_t at)
{
    return gs_fail(errstr, n, GS_ERR_DECODE, "index: %s at %zu is out of range", what, at);
}

static gs_err_t check_keys(const screen_index_t *ix, char *errstr, size_t n)
{
    for (uint32_t i = 0; i < ix->n_keys; i++) {
        uint32_t a = ix->key_off[i], b = ix->key_off[i + 1];
        if (a >= b || b > ix->keys_len || ix->keys[b - 1] != '\0')
            return bad(errstr, n, "key offset", i);
        if (ix->post_off[i] > ix->post_off[i + 1] || ix->post_off[i + 1] > ix->n_post)
            return bad(errstr, n, "posting range", i);
    }
    for (uint32_t i = 0; i <= ix->key_mask; i++)
        if (ix->key_slots[i] > ix->n_keys)
            return bad(errstr, n, "key slot", i);
    for (uint32_t i = 0; i <= ix->del_mask; i++)
        if (ix->del[2 * (size_t)i + 1] > ix->n_keys)
            return bad(errstr, n, "deletion slot", i);
    for (size_t i = 0; i < ix->n_post; i++)
        if (ix->post[i] >= ix->n_forms)
            return bad(errstr, n, "posting", i);
    return GS_OK;
}

static gs_err_t check_forms(const screen_index_t *ix, uint32_t n_names, char *errstr, size_t n)
{
    for (uint32_t f = 0; f < ix->n_forms; f++) {
        const uint32_t *r = ix->forms + 3 * (size_t)f;
        if (r[0] >= n_names || r[2] == 0 || r[2] > FORM_MAX_PARTS || r[1] > ix->n_parts ||
            r[2] > ix->n_parts - r[1])
            return bad(errstr, n, "form", f);
    }
    for (size_t i = 0; i < ix->n_parts; i++)
        if (PART_KEY(ix->parts[i]) >= ix->n_keys)
            return bad(errstr, n, "part", i);
    return GS_OK;
}

static gs_err_t open_sections(const gs_screen_list_t *l, screen_index_t *ix, char *errstr, size_t n)
{
    if (!(ix->meta = section(l, "index.meta", META_N, NULL, errstr, n)))
        return GS_ERR_DECODE;
    if (ix->meta[META_VERSION] != KEYS_VERSION)
        return gs_fail(errstr, n, GS_ERR_DECODE,
                       "index made by key rules %u, this build uses %u: build the list again",
                       ix->meta[META_VERSION], KEYS_VERSION);
    ix->n_keys = ix->meta[META_KEYS];
    ix->n_forms = ix->meta[META_FORMS];
    ix->key_mask = ix->meta[META_KEY_MASK];
    ix->del_mask = ix->meta[META_DEL_MASK];
    if (ix->meta[META_NAMES] != gs_screen_list_names(l) || ((ix->key_mask + 1) & ix->key_mask) ||
        ((ix->del_mask + 1) & ix->del_mask) || ix->key_mask == UINT32_MAX ||
        ix->del_mask == UINT32_MAX || ix->key_mask < ix->n_keys)
        return gs_fail(errstr, n, GS_ERR_DECODE, "index.meta does not fit the list");
    uint64_t k1 = (uint64_t)ix->n_keys + 1;
    ix->keys = (const char *)section(l, "index.keys", 0, &ix->keys_len, errstr, n);
    if (!ix->keys || !(ix->key_off = section(l, "index.key_off", k1, NULL, errstr, n)) ||
        !(ix->key_slots = section(l, "index.key_slots", ix->key_mask + 1ull, NULL, errstr, n)) ||
        !(ix->post_off = section(l, "index.post_off", k1, NULL, errstr, n)) ||
        !(ix->post = section(l, "index.post", 0, &ix->n_post, errstr, n)) ||
        !(ix->del = section(l, "index.del", 2 * (ix->del_mask + 1ull), NULL, errstr, n)) ||
        !(ix->forms = section(l, "index.forms", 3ull * ix->n_forms, NULL, errstr, n)) ||
        !(ix->parts = section(l, "index.parts", 0, &ix->n_parts, errstr, n)))
        return GS_ERR_DECODE;
    gs_err_t err = check_keys(ix, errstr, n);
    return err ? err : check_forms(ix, ix->meta[META_NAMES], errstr, n);
}

gs_err_t screen_index_open(const gs_screen_list_t *l, screen_index_t **out, char *errstr, size_t n)
{
    screen_index_t *ix = calloc(1, sizeof(*ix));
    if (!ix)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    gs_err_t err = open_sections(l, ix, errstr, n);
    if (!err && !(ix->weak = malloc(ix->n_keys ? ix->n_keys : 1)))
        err = gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    if (err) {
        free(ix);
        return err;
    }
    memset(ix->weak, 1, ix->n_keys);
    for (size_t i = 0; i < ix->n_parts; i++)
        if (!(ix->parts[i] & PART_WEAK))
            ix->weak[PART_KEY(ix->parts[i])] = 0;
    *out = ix;
    return GS_OK;
}

void screen_index_close(screen_index_t *ix)
{
    if (ix)
        free(ix->weak);
    free(ix);
}

int screen_index_weak(const screen_index_t *ix, uint32_t id)
{
    return ix->weak[id];
}
