/* Watch-list files (govstream/screen_list.h): the builder's model, the
 * writer over the model-file container, and the mapped reader that checks
 * every record before anything uses it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "govstream/screen_list.h"

#define ENTRY_U32                                                                                  \
    9 /* id, list, type, first_name, n_names, first_ident, n_idents, dobs, countries */
#define NAME_U32  4u /* entry, kind, text, family */
#define IDENT_U32 4u /* entry, type, value, original */

typedef struct u32s {
    uint32_t *v;
    size_t n, cap;
} u32s_t;

struct gs_screen_listdata {
    gs_buf_t strings; /* NUL-terminated strings; offset 0 is "" */
    u32s_t entries, names, idents;
    gs_buf_t dobs, countries; /* the current entry's, "; "-joined */
    int open;                 /* an entry is being filled */
    char date[32];            /* of the last file parsed */
    size_t persons, entities, skipped;
};

static int push(u32s_t *a, const uint32_t *v, size_t k)
{
    if (a->n + k > a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 1024;
        while (cap < a->n + k)
            cap *= 2;
        uint32_t *p = realloc(a->v, cap * sizeof(*p));
        if (!p)
            return -1;
        a->v = p;
        a->cap = cap;
    }
    memcpy(a->v + a->n, v, k * sizeof(*v));
    a->n += k;
    return 0;
}

/* Appends s[0..len) and a NUL; the offset, or UINT32_MAX when out of memory
 * or past 4 GiB. */
static uint32_t intern(gs_screen_listdata_t *d, const char *s, size_t len)
{
    if (d->strings.len + len + 1 > UINT32_MAX || gs_buf_reserve(&d->strings, len + 1))
        return UINT32_MAX;
    uint32_t off = (uint32_t)d->strings.len;
    memcpy(d->strings.data + d->strings.len, s, len);
    d->strings.data[d->strings.len + len] = 0;
    d->strings.len += len + 1;
    return off;
}

static gs_err_t nomem(char *errstr, size_t n)
{
    return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory (or a list above 4 GiB)");
}

gs_err_t gs_screen_listdata_new(gs_screen_listdata_t **out, char *errstr, size_t n)
{
    gs_screen_listdata_t *d = calloc(1, sizeof(*d));
    if (!d || intern(d, "", 0) != 0) {
        gs_screen_listdata_destroy(d);
        return nomem(errstr, n);
    }
    *out = d;
    return GS_OK;
}

void gs_screen_listdata_destroy(gs_screen_listdata_t *d)
{
    if (!d)
        return;
    gs_buf_free(&d->strings);
    gs_buf_free(&d->dobs);
    gs_buf_free(&d->countries);
    free(d->entries.v);
    free(d->names.v);
    free(d->idents.v);
    free(d);
}

/* Whitespace trimmed and inner runs made one space, into out (len + 1). */
static size_t tidy(const char *s, char *out)
{
    size_t k = 0;
    int space = 0;
    for (; *s; s++) {
        if (isspace((unsigned char)*s)) {
            space = k > 0;
            continue;
        }
        if (space)
            out[k++] = ' ';
        space = 0;
        out[k++] = *s;
    }
    out[k] = 0;
    return k;
}

static uint32_t *cur(gs_screen_listdata_t *d)
{
    return d->entries.v + d->entries.n - ENTRY_U32;
}

/* Does the "; "-joined b hold s as one of its items? */
static int joined_has(const gs_buf_t *b, const char *s, size_t len)
{
    const char *p = (const char *)b->data, *end = p + b->len;
    while (p < end) {
        const char *q = p;
        while (q < end && !(q + 1 < end && q[0] == ';' && q[1] == ' '))
            q++;
        if ((size_t)(q - p) == len && !memcmp(p, s, len))
            return 1;
        p = q + 2;
    }
    return 0;
}

/* Tidied and appended once: lists that give one row per name (UK) repeat
 * the facts. */
static gs_err_t join(gs_buf_t *b, const char *raw, char *errstr, size_t n)
{
    char s[512];
    if (strlen(raw) >= sizeof(s))
        return GS_OK; /* no date or country is that long: not one */
    size_t len = tidy(raw, s);
    if (!len || joined_has(b, s, len))
        return GS_OK;
    if (gs_buf_reserve(b, len + 3))
        return nomem(errstr, n);
    if (b->len) {
        memcpy(b->data + b->len, "; ", 2);
        b->len += 2;
    }
    memcpy(b->data + b->len, s, len);
    b->len += len;
    return GS_OK;
}

gs_err_t gs_screen_listdata_entry(gs_screen_listdata_t *d, const char *list, const char *id,
                                  gs_screen_entry_type_t type, char *errstr, size_t n)
{
    if (d->open)
        gs_screen_listdata_end(d);
    uint32_t rec[ENTRY_U32] = {intern(d, id, strlen(id)),
                               intern(d, list, strlen(list)),
                               (uint32_t)type,
                               (uint32_t)(d->names.n / NAME_U32),
                               0,
                               (uint32_t)(d->idents.n / IDENT_U32),
                               0,
                               0,
                               0};
    if (rec[0] == UINT32_MAX || rec[1] == UINT32_MAX || push(&d->entries, rec, ENTRY_U32))
        return nomem(errstr, n);
    d->dobs.len = d->countries.len = 0;
    d->open = 1;
    return GS_OK;
}

gs_err_t gs_screen_listdata_name(gs_screen_listdata_t *d, gs_screen_name_kind_t kind,
                                 const char *text, const char *family, char *errstr, size_t n)
{
    if (!d->open)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "a name outside an entry");
    size_t len = strlen(text), flen = family ? strlen(family) : 0;
    char *t = malloc(len + flen + 2);
    if (!t)
        return nomem(errstr, n);
    char *f = t + len + 1;
    len = tidy(text, t);
    flen = family ? tidy(family, f) : 0;
    uint32_t *e = cur(d);
    for (uint32_t i = 0; len && i < e[4]; i++) /* the entry has it already */
        if (!strcmp((const char *)d->strings.data + d->names.v[(e[3] + i) * NAME_U32 + 2], t))
            len = 0;
    gs_err_t err = GS_OK;
    if (len) {
        uint32_t rec[NAME_U32] = {(uint32_t)(d->entries.n / ENTRY_U32 - 1), (uint32_t)kind,
                                  intern(d, t, len), flen ? intern(d, f, flen) : 0};
        if (rec[2] == UINT32_MAX || rec[3] == UINT32_MAX || push(&d->names, rec, NAME_U32))
            err = nomem(errstr, n);
        else
            cur(d)[4]++;
    }
    free(t);
    return err;
}

/* Does the type text have this word (ASCII case folded; bytes >= 0x80
 * are word characters, so Cyrillic words compare as written)? */
static int has_word(const char *s, const char *w)
{
    size_t wl = strlen(w);
    for (const char *p = s; *p;) {
        while (*p && !isalnum((unsigned char)*p) && (unsigned char)*p < 0x80)
            p++;
        const char *q = p;
        while (*q && (isalnum((unsigned char)*q) || (unsigned char)*q >= 0x80))
            q++;
        if ((size_t)(q - p) == wl && !strncasecmp(p, w, wl))
            return 1;
        p = q;
    }
    return 0;
}

/* The source's type words mapped to the identifier types of screen.h
 * where the meaning is clear, so a list entry and a payment's identifier
 * compare by type; anything else keeps the source's text. */
static const char *ident_type(const char *src)
{
    static const struct {
        const char *word, *type;
    } map[] = {{"passport", "PASSPORT"}, {"паспорт", "PASSPORT"}, {"iban", "IBAN"},
               {"swift", "BIC"},         {"bic", "BIC"},          {"inn", "INN"},
               {"ИНН", "INN"},           {"ogrnip", "OGRNIP"},    {"ОГРНИП", "OGRNIP"},
               {"ogrn", "OGRN"},         {"ОГРН", "OGRN"},        {"edrpou", "EDRPOU"},
               {"ЄДРПОУ", "EDRPOU"},     {"ЕДРПОУ", "EDRPOU"},    {"rnokpp", "RNOKPP"},
               {"РНОКПП", "RNOKPP"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++)
        if (has_word(src, map[i].word))
            return map[i].type;
    if (has_word(src, "national") &&
        (has_word(src, "id") || has_word(src, "identification") || has_word(src, "identity")))
        return "NATIONAL_ID";
    return *src ? src : "document";
}

gs_err_t gs_screen_listdata_ident(gs_screen_listdata_t *d, const char *type, const char *number,
                                  char *errstr, size_t n)
{
    if (!d->open)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "an identifier outside an entry");
    size_t len = strlen(number), k = 0;
    char *v = malloc(len + 1);
    if (!v)
        return nomem(errstr, n);
    for (size_t i = 0; i < len; i++)
        if (!isspace((unsigned char)number[i]) && !strchr("-./", number[i]))
            v[k++] = (char)toupper((unsigned char)number[i]);
    v[k] = 0;
    gs_err_t err = GS_OK;
    const char *t = ident_type(type);
    const uint32_t *e = cur(d);
    for (uint32_t i = 0; k && i < e[6]; i++) { /* the entry has it already */
        const uint32_t *r = d->idents.v + (size_t)(e[5] + i) * IDENT_U32;
        if (!strcmp((const char *)d->strings.data + r[1], t) &&
            !strcmp((const char *)d->strings.data + r[2], v))
            k = 0;
    }
    if (k) {
        uint32_t rec[IDENT_U32] = {(uint32_t)(d->entries.n / ENTRY_U32 - 1),
                                   intern(d, t, strlen(t)), intern(d, v, k),
                                   intern(d, number, len)};
        if (rec[1] == UINT32_MAX || rec[2] == UINT32_MAX || rec[3] == UINT32_MAX ||
            push(&d->idents, rec, IDENT_U32))
            err = nomem(errstr, n);
        else
            cur(d)[6]++;
    }
    free(v);
    return err;
}

gs_err_t gs_screen_listdata_dob(gs_screen_listdata_t *d, const char *dob, char *errstr, size_t n)
{
    return d->open ? join(&d->dobs, dob, errstr, n)
                   : gs_fail(errstr, n, GS_ERR_INVALID_ARG, "a date outside an entry");
}

gs_err_t gs_screen_listdata_country(gs_screen_listdata_t *d, const char *country, char *errstr,
                                    size_t n)
{
    return d->open ? join(&d->countries, country, errstr, n)
                   : gs_fail(errstr, n, GS_ERR_INVALID_ARG, "a country outside an entry");
}

void gs_screen_listdata_set_date(gs_screen_listdata_t *d, const char *date)
{
    snprintf(d->date, sizeof(d->date), "%s", date);
}

const char *gs_screen_listdata_date(const gs_screen_listdata_t *d)
{
    return d->date;
}

int gs_screen_listdata_end(gs_screen_listdata_t *d)
{
    if (!d->open)
        return 0;
    d->open = 0;
    uint32_t *e = cur(d);
    if (!e[4]) { /* no usable name: not screenable, dropped and counted */
        d->idents.n = (size_t)e[5] * IDENT_U32;
        d->entries.n -= ENTRY_U32;
        d->skipped++;
        return 0;
    }
    e[7] = d->dobs.len ? intern(d, (const char *)d->dobs.data, d->dobs.len) : 0;
    e[8] = d->countries.len ? intern(d, (const char *)d->countries.data, d->countries.len) : 0;
    if (e[2] == GS_SCREEN_PERSON)
        d->persons++;
    else
        d->entities++;
    return 1;
}

gs_screen_list_counts_t gs_screen_listdata_counts(const gs_screen_listdata_t *d)
{
    return (gs_screen_list_counts_t){.entries = d->entries.n / ENTRY_U32,
                                     .persons = d->persons,
                                     .entities = d->entities,
                                     .names = d->names.n / NAME_U32,
                                     .identifiers = d->idents.n / IDENT_U32,
                                     .skipped = d->skipped};
}

/* ---- writing ------------------------------------------------------------ */

static gs_tensor_t section(const char *name, gs_dtype_t dt, const void *data, size_t count,
                           size_t width)
{
    gs_tensor_t t = {
        .dtype = (uint32_t)dt, .ndim = 1, .dims = {count}, .data = data, .nbytes = count * width};
    snprintf(t.name, sizeof(t.name), "%s", name);
    return t;
}

gs_err_t gs_screen_list_write(const char *path, const gs_screen_listdata_t *d,
                              const char *meta_json, const gs_tensor_t *extra, size_t n_extra,
                              char *errstr, size_t n)
{
    if (d->open)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "an entry is still open");
    gs_tensor_t *t = calloc(4 + n_extra, sizeof(*t));
    if (!t)
        return nomem(errstr, n);
    t[0] = section("list.strings", GS_DT_BYTES, d->strings.data, d->strings.len, 1);
    t[1] = section("list.entries", GS_DT_U32, d->entries.v, d->entries.n, 4);
    t[2] = section("list.names", GS_DT_U32, d->names.v, d->names.n, 4);
    t[3] = section("list.idents", GS_DT_U32, d->idents.v, d->idents.n, 4);
    gs_err_t err = GS_OK;
    for (size_t i = 0; i < n_extra && !err; i++) {
        if (!strncmp(extra[i].name, "list.", 5))
            err = gs_fail(errstr, n, GS_ERR_INVALID_ARG, "section %s: the list.* names are taken",
                          extra[i].name);
        t[4 + i] = extra[i];
    }
    if (!err)
        err = gs_modelfile_write(path, GS_MODEL_KIND_SCREEN_LIST, meta_json, t, 4 + n_extra, errstr,
                                 n);
    free(t);
    return err;
}

/* ---- reading ------------------------------------------------------------ */

struct gs_screen_list {
    gs_modelfile_t *mf;
    const char *strings;
    size_t strings_len;
    const uint32_t *entries, *names, *idents;
    size_t n_entries, n_names, n_idents, persons;
    char name[128], version[64];
};

/* A section of whole records (the container has checked its size). */
static const gs_tensor_t *need(gs_modelfile_t *mf, const char *name, gs_dtype_t dt, size_t width,
                               char *errstr, size_t n)
{
    const gs_tensor_t *t = gs_modelfile_get(mf, name, dt, 0, errstr, n);
    if (t && t->nbytes % width) {
        gs_errfmt(errstr, n, "section %s: %llu bytes, not whole records of %zu", name,
                  (unsigned long long)t->nbytes, width);
        return NULL;
    }
    return t;
}

static int str_ok(const gs_screen_list_t *l, uint32_t off)
{
    return off < l->strings_len;
}

/* The names and identifiers in an entry's ranges say they are its own: a
 * file that mixes them up would report a hit on the wrong entry. */
static gs_err_t check_owners(const gs_screen_list_t *l, char *errstr, size_t n)
{
    for (size_t i = 0; i < l->n_entries; i++) {
        const uint32_t *e = l->entries + i * ENTRY_U32;
        for (uint32_t k = 0; k < e[4]; k++)
            if (l->names[(size_t)(e[3] + k) * NAME_U32] != i)
                return gs_fail(errstr, n, GS_ERR_DECODE, "entry %zu: name %u is not its own", i,
                               e[3] + k);
        for (uint32_t k = 0; k < e[6]; k++)
            if (l->idents[(size_t)(e[5] + k) * IDENT_U32] != i)
                return gs_fail(errstr, n, GS_ERR_DECODE, "entry %zu: identifier %u is not its own",
                               i, e[5] + k);
    }
    return GS_OK;
}

/* Every offset is inside the strings (which end in a NUL, so each is a
 * C string), and every range inside its array. */
static gs_err_t check_records(gs_screen_list_t *l, char *errstr, size_t n)
{
    for (size_t i = 0; i < l->n_entries; i++) {
        const uint32_t *e = l->entries + i * ENTRY_U32;
        if (!str_ok(l, e[0]) || !str_ok(l, e[1]) || e[2] > GS_SCREEN_ENTITY || e[3] > l->n_names ||
            e[4] > l->n_names - e[3] || e[5] > l->n_idents || e[6] > l->n_idents - e[5] ||
            !str_ok(l, e[7]) || !str_ok(l, e[8]))
            return gs_fail(errstr, n, GS_ERR_DECODE, "entry %zu: a field out of range", i);
        l->persons += e[2] == GS_SCREEN_PERSON;
    }
    for (size_t i = 0; i < l->n_names; i++) {
        const uint32_t *r = l->names + i * NAME_U32;
        if (r[0] >= l->n_entries || r[1] > GS_SCREEN_NAME_ORIGINAL || !str_ok(l, r[2]) ||
            !str_ok(l, r[3]))
            return gs_fail(errstr, n, GS_ERR_DECODE, "name %zu: a field out of range", i);
    }
    for (size_t i = 0; i < l->n_idents; i++) {
        const uint32_t *r = l->idents + i * IDENT_U32;
        if (r[0] >= l->n_entries || !str_ok(l, r[1]) || !str_ok(l, r[2]) || !str_ok(l, r[3]))
            return gs_fail(errstr, n, GS_ERR_DECODE, "identifier %zu: a field out of range", i);
    }
    return check_owners(l, errstr, n);
}

static void meta_str(const char *meta, const char *key, char *out, size_t size)
{
    json_error_t je;
    json_t *j = json_loads(meta, 0, &je);
    const char *v = json_string_value(json_object_get(j, key));
    snprintf(out, size, "%s", v ? v : "");
    json_decref(j);
}

static gs_err_t map_sections(gs_screen_list_t *l, char *errstr, size_t n)
{
    const gs_tensor_t *s = need(l->mf, "list.strings", GS_DT_BYTES, 1, errstr, n);
    const gs_tensor_t *e =
        s ? need(l->mf, "list.entries", GS_DT_U32, (size_t)4 * ENTRY_U32, errstr, n) : NULL;
    const gs_tensor_t *nm =
        e ? need(l->mf, "list.names", GS_DT_U32, (size_t)4 * NAME_U32, errstr, n) : NULL;
    const gs_tensor_t *id =
        nm ? need(l->mf, "list.idents", GS_DT_U32, (size_t)4 * IDENT_U32, errstr, n) : NULL;
    if (!id)
        return GS_ERR_DECODE;
    l->strings = s->data;
    l->strings_len = s->nbytes;
    if (!l->strings_len || l->strings[l->strings_len - 1])
        return gs_fail(errstr, n, GS_ERR_DECODE, "list.strings does not end in a NUL");
    l->entries = e->data, l->n_entries = e->nbytes / ((size_t)4 * ENTRY_U32);
    l->names = nm->data, l->n_names = nm->nbytes / ((size_t)4 * NAME_U32);
    l->idents = id->data, l->n_idents = id->nbytes / ((size_t)4 * IDENT_U32);
    return check_records(l, errstr, n);
}

gs_err_t gs_screen_list_open(const char *path, gs_screen_list_t **out, char *errstr, size_t n)
{
    gs_screen_list_t *l = calloc(1, sizeof(*l));
    if (!l)
        return nomem(errstr, n);
    gs_err_t err = gs_modelfile_open(path, &l->mf, errstr, n);
    if (!err && gs_modelfile_kind(l->mf) != GS_MODEL_KIND_SCREEN_LIST)
        err = gs_fail(errstr, n, GS_ERR_DECODE, "%s: a model file of kind %u, not a watch list",
                      path, gs_modelfile_kind(l->mf));
    if (!err)
        err = map_sections(l, errstr, n);
    if (err) {
        gs_screen_list_close(l);
        return err;
    }
    meta_str(gs_modelfile_meta(l->mf), "name", l->name, sizeof(l->name));
    meta_str(gs_modelfile_meta(l->mf), "version", l->version, sizeof(l->version));
    *out = l;
    return GS_OK;
}

void gs_screen_list_close(gs_screen_list_t *l)
{
    if (!l)
        return;
    if (l->mf)
        gs_modelfile_close(l->mf);
    free(l);
}

const gs_modelfile_t *gs_screen_list_file(const gs_screen_list_t *l)
{
    return l->mf;
}
const char *gs_screen_list_name(const gs_screen_list_t *l)
{
    return l->name;
}
const char *gs_screen_list_version(const gs_screen_list_t *l)
{
    return l->version;
}
size_t gs_screen_list_entries(const gs_screen_list_t *l)
{
    return l->n_entries;
}
size_t gs_screen_list_names(const gs_screen_list_t *l)
{
    return l->n_names;
}
size_t gs_screen_list_idents(const gs_screen_list_t *l)
{
    return l->n_idents;
}

gs_screen_entry_t gs_screen_list_entry(const gs_screen_list_t *l, size_t i)
{
    const uint32_t *e = l->entries + i * ENTRY_U32;
    return (gs_screen_entry_t){.id = l->strings + e[0],
                               .list = l->strings + e[1],
                               .type = (gs_screen_entry_type_t)e[2],
                               .first_name = e[3],
                               .n_names = e[4],
                               .first_ident = e[5],
                               .n_idents = e[6],
                               .dobs = l->strings + e[7],
                               .countries = l->strings + e[8]};
}

gs_screen_name_t gs_screen_list_name_at(const gs_screen_list_t *l, size_t i)
{
    const uint32_t *r = l->names + i * NAME_U32;
    return (gs_screen_name_t){r[0], (gs_screen_name_kind_t)r[1], l->strings + r[2],
                              l->strings + r[3]};
}

gs_screen_list_ident_t gs_screen_list_ident_at(const gs_screen_list_t *l, size_t i)
{
    const uint32_t *r = l->idents + i * IDENT_U32;
    return (gs_screen_list_ident_t){r[0], l->strings + r[1], l->strings + r[2], l->strings + r[3]};
}

const gs_tensor_t *gs_screen_list_section(const gs_screen_list_t *l, const char *name)
{
    for (size_t i = 0; i < gs_modelfile_count(l->mf); i++)
        if (!strcmp(gs_modelfile_at(l->mf, i)->name, name))
            return gs_modelfile_at(l->mf, i);
    return NULL;
}

size_t gs_screen_list_sections(const gs_screen_list_t *l, const char *prefix, gs_tensor_t *out,
                               size_t cap)
{
    size_t k = 0, plen = strlen(prefix);
    for (size_t i = 0; i < gs_modelfile_count(l->mf); i++) {
        const gs_tensor_t *t = gs_modelfile_at(l->mf, i);
        if (strncmp(t->name, prefix, plen) != 0)
            continue;
        if (k < cap)
            out[k] = *t; /* the data stays in the mapping */
        k++;
    }
    return k;
}

const char *gs_screen_list_sha256(const gs_screen_list_t *l)
{
    return gs_modelfile_sha256(l->mf);
}

gs_screen_list_counts_t gs_screen_list_counts(const gs_screen_list_t *l)
{
    return (gs_screen_list_counts_t){.entries = l->n_entries,
                                     .persons = l->persons,
                                     .entities = l->n_entries - l->persons,
                                     .names = l->n_names,
                                     .identifiers = l->n_idents,
                                     .skipped = 0};
}
