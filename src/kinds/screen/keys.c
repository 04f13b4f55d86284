/* Search keys: skeletons, Russian/Ukrainian name equivalents, case endings
 * and the similarity of two keys (docs/SCREEN.md, "Search keys"). */
#include <stdlib.h>
#include <string.h>

#include "govstream/screen.h"
#include "keys.h"

/* ---- skeletons ---------------------------------------------------------------- */

/* Letter groups that romanisation systems write differently for one
 * Cyrillic letter, longest first: BGN/PCGN "shch", GOST "shh", German "sch"
 * for щ; "kh", "x" (and "ks") for х; "ts", "cz", "tz" for ц. */
static const struct {
    const char *from;
    unsigned char len;
    char to;
} groups[] = {
    {"shch", 4, 's'}, {"shh", 3, 's'}, {"sch", 3, 's'}, {"sh", 2, 's'}, {"zh", 2, 'z'},
    {"kh", 2, 'x'},   {"ks", 2, 'x'},  {"ch", 2, 'c'},  {"ts", 2, 'c'}, {"tz", 2, 'c'},
    {"cz", 2, 'c'},   {"ck", 2, 'k'},  {"ph", 2, 'f'},  {"iu", 2, 'u'}, {"yu", 2, 'u'},
    {"ju", 2, 'u'},   {"ia", 2, 'a'},  {"ya", 2, 'a'},  {"ja", 2, 'a'}, {"ie", 2, 'e'},
    {"ye", 2, 'e'},   {"je", 2, 'e'},  {"io", 2, 'o'},  {"yo", 2, 'o'},
};

/* The first letters of the groups: the others are folded at once (the
 * skeleton runs on every key of every word). */
static int starts_group(char c)
{
    return c == 's' || c == 'z' || c == 'k' || c == 'c' || c == 't' || c == 'p' || c == 'i' ||
           c == 'y' || c == 'j';
}

static char fold_letter(char c)
{
    switch (c) {
    case 'y':
    case 'j':
        return 'i';
    case 'w':
        return 'v';
    case 'q':
        return 'k';
    default:
        return c;
    }
}

size_t screen_skeleton(const char *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        char c = 0;
        for (size_t g = 0; starts_group(in[i]) && g < sizeof(groups) / sizeof(groups[0]); g++) {
            size_t gl = groups[g].len;
            if (groups[g].from[0] == in[i] && gl <= len - i &&
                !memcmp(in + i, groups[g].from, gl)) {
                c = groups[g].to;
                i += gl;
                break;
            }
        }
        if (!c)
            c = fold_letter(in[i++]);
        if (o == 0 || out[o - 1] != c) /* doubled letters are written either way */
            out[o++] = c;
    }
    out[o] = '\0';
    return o;
}

/* ---- Russian and Ukrainian forms of one given name ---------------------------- */

/* Ukrainian form, Russian form (normalised: lower case, "ё" as "е", no
 * apostrophe). Names that are written alike in both are left out: their
 * transliterations already meet. */
static const char *const name_pairs[][2] = {
    {"олександр", "александр"}, {"олексій", "алексей"},
    {"андрій", "андрей"},       {"анатолій", "анатолий"},
    {"аркадій", "аркадий"},     {"арсеній", "арсений"},
    {"валерій", "валерий"},     {"василь", "василий"},
    {"віктор", "виктор"},       {"віталій", "виталий"},
    {"володимир", "владимир"},  {"геннадій", "геннадий"},
    {"георгій", "георгий"},     {"григорій", "григорий"},
    {"дмитро", "дмитрий"},      {"євген", "евгений"},
    {"єгор", "егор"},           {"ігор", "игорь"},
    {"ілля", "илья"},           {"йосип", "иосиф"},
    {"кирило", "кирилл"},       {"костянтин", "константин"},
    {"леонід", "леонид"},       {"микита", "никита"},
    {"микола", "николай"},      {"михайло", "михаил"},
    {"павло", "павел"},         {"петро", "петр"},
    {"сергій", "сергей"},       {"станіслав", "станислав"},
    {"тимофій", "тимофей"},     {"федір", "федор"},
    {"юрій", "юрий"},           {"яків", "яков"},
    {"данило", "даниил"},       {"матвій", "матвей"},
    {"пилип", "филипп"},        {"гліб", "глеб"},
    {"олена", "елена"},         {"ганна", "анна"},
    {"наталія", "наталья"},     {"наталя", "наталья"},
    {"тетяна", "татьяна"},      {"катерина", "екатерина"},
    {"марія", "мария"},         {"юлія", "юлия"},
    {"ірина", "ирина"},         {"світлана", "светлана"},
    {"софія", "софья"},         {"анастасія", "анастасия"},
    {"дарія", "дарья"},         {"вікторія", "виктория"},
    {"надія", "надежда"},       {"віра", "вера"},
    {"зінаїда", "зинаида"},     {"лідія", "лидия"},
    {"євгенія", "евгения"},     {"олександра", "александра"},
    {"ксенія", "ксения"},       {"поліна", "полина"},
    {"уляна", "ульяна"},        {"христина", "кристина"},
    {"раїса", "раиса"},         {"олексіївна", "алексеевна"},
    {"сергіївна", "сергеевна"},
};

#define CANON_SLOTS 1024 /* a power of two, well over the table's forms */
#define CANON_LEN   32

typedef struct canon_slot {
    char from[CANON_LEN], to[CANON_LEN];
    size_t from_len;
} canon_slot_t;

struct screen_keys {
    canon_slot_t slots[CANON_SLOTS];
};

static const char *canon_get(const screen_keys_t *k, const char *s, size_t len)
{
    if (len >= CANON_LEN)
        return NULL;
    for (uint32_t i = screen_fnv(s, len) & (CANON_SLOTS - 1);; i = (i + 1) & (CANON_SLOTS - 1)) {
        const canon_slot_t *c = &k->slots[i];
        if (!c->from[0])
            return NULL;
        if (c->from_len == len && !memcmp(c->from, s, len))
            return c->to;
    }
}

static void canon_put(screen_keys_t *k, const char *from, const char *to)
{
    size_t len = strlen(from);
    if (!strcmp(from, to) || canon_get(k, from, len))
        return;
    uint32_t i = screen_fnv(from, len) & (CANON_SLOTS - 1);
    while (k->slots[i].from[0])
        i = (i + 1) & (CANON_SLOTS - 1);
    snprintf(k->slots[i].from, CANON_LEN, "%s", from);
    k->slots[i].from_len = len;
    snprintf(k->slots[i].to, CANON_LEN, "%s", to);
}

/* The skeletons of both transliterations of a Cyrillic word. */
static size_t word_skeletons(const char *w, char out[2][CANON_LEN])
{
    char buf[GS_SCREEN_VARIANTS_SIZE(64)], err[64];
    gs_screen_variants_t v;
    size_t len = strlen(w);
    if (len > 64 || gs_screen_translit_variants(w, len, buf, sizeof(buf), &v, err, sizeof(err)))
        return 0;
    for (size_t i = 0; i < v.n; i++) {
        char sk[GS_SCREEN_VARIANTS_SIZE(64)];
        screen_skeleton(v.v[i].p, v.v[i].len, sk);
        snprintf(out[i], CANON_LEN, "%s", sk);
    }
    return v.n;
}

gs_err_t screen_keys_new(screen_keys_t **out, char *errstr, size_t n)
{
    screen_keys_t *k = calloc(1, sizeof(*k));
    if (!k)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    for (size_t p = 0; p < sizeof(name_pairs) / sizeof(name_pairs[0]); p++) {
        char uk[2][CANON_LEN], ru[2][CANON_LEN];
        size_t nuk = word_skeletons(name_pairs[p][0], uk);
        size_t nru = word_skeletons(name_pairs[p][1], ru);
        if (!nuk || !nru) {
            free(k);
            return gs_fail(errstr, n, GS_ERR_INTERNAL, "name pair %zu is not transliterable", p);
        }
        for (size_t i = 0; i < nuk; i++)
            canon_put(k, uk[i], ru[0]);
        for (size_t i = 1; i < nru; i++)
            canon_put(k, ru[i], ru[0]);
    }
    *out = k;
    return GS_OK;
}

void screen_keys_destroy(screen_keys_t *k)
{
    free(k);
}

/* Patronymic endings after a given name ("oleksandr" + "ovic"): the name
 * part is mapped like the name. */
static const char *const patronymic_tails[] = {"ovic", "evic", "ivic", "ovna", "evna", "ivna"};

static void canonicalise(const screen_keys_t *k, screen_key_t *key)
{
    const char *to = canon_get(k, key->s, key->len);
    if (to) {
        key->len = (uint32_t)snprintf(key->s, KEY_MAX, "%s", to);
        return;
    }
    for (size_t t = 0; t < sizeof(patronymic_tails) / sizeof(patronymic_tails[0]); t++) {
        size_t tl = strlen(patronymic_tails[t]);
        if (key->len < tl + 4 || memcmp(key->s + key->len - tl, patronymic_tails[t], tl) != 0)
            continue;
        to = canon_get(k, key->s, key->len - tl);
        if (to) {
            char tail[8];
            snprintf(tail, sizeof(tail), "%s", t < 3 ? "ovic" : "ovna");
            key->len = (uint32_t)snprintf(key->s, KEY_MAX, "%s%s", to, tail);
        }
        return;
    }
}

/* ---- case endings of Russian and Ukrainian words -------------------------------- */

/* An inflected ending and the nominative ending it may stand for
 * (surnames, given names, patronymics in the cases running text uses).
 * Several rules may fit one word; each gives a key. */
static const struct {
    const char *from, *to;
} endings[] = {
    {"ову", "ов"},
    {"еву", "ев"},
    {"ину", "ин"},
    {"ого", "ий"},
    {"ому", "ий"},
    {"ого", "ой"},
    {"ому", "ой"},
    {"ым", "ий"},
    {"ой", "а"},
    {"ою", "а"},
    {"ої", "а"},
    {"ій", "а"},
    {"ові", ""},
    {"еві", "й"},
    {"єві", "й"},
    {"ии", "ия"},
    {"ии", "ий"},
    {"ію", "ія"},
    {"ем", "й"},
    {"ем", "ь"},
    {"ем", ""},
    {"ом", ""},
    {"у", ""},
    {"ю", "й"},
    {"ю", "ь"},
    {"ю", "я"},
    {"а", ""},
    {"я", "й"},
    {"я", "ь"},
    {"е", "а"},
    {"і", "а"},
    {"ы", "а"},
    {"и", "а"},
    {"и", "я"},
    {"у", "а"},
    /* instrumental and prepositional (Газиевым, Петровским, Дарьей, о
     * Петрове); Ukrainian -енко declined (Шевченком, Шевченку, Шевченка) */
    {"ым", ""},
    {"им", "ий"},
    {"им", ""},
    {"ей", "я"},
    {"е", ""},
    {"ом", "о"},
    {"у", "о"},
    {"а", "о"},
};

#define ENDING_FACTOR 0.96f

/* ---- the keys of a token -------------------------------------------------------- */

static int has_key(const screen_key_t *out, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (out[i].len == len && !memcmp(out[i].s, s, len))
            return 1;
    return 0;
}

static size_t add_key(const screen_keys_t *k, const char *ascii, size_t len, float factor,
                      uint8_t how, screen_key_t *out, size_t n, size_t cap)
{
    if (n >= cap || len == 0)
        return n;
    screen_key_t key = {.factor = factor, .how = how};
    len = len < KEY_MAX - 1 ? len : KEY_MAX - 1;
    key.len = (uint32_t)screen_skeleton(ascii, len, key.s);
    canonicalise(k, &key);
    if (has_key(out, n, key.s, key.len))
        return n;
    out[n] = key;
    return n + 1;
}

static size_t cyrillic_keys(const screen_keys_t *k, const char *tok, size_t len, float factor,
                            uint8_t how, screen_key_t *out, size_t n, size_t cap)
{
    char buf[GS_SCREEN_VARIANTS_SIZE(GS_SCREEN_TOK_MAX)], err[8];
    gs_screen_variants_t v;
    if (len > GS_SCREEN_TOK_MAX ||
        gs_screen_translit_variants(tok, len, buf, sizeof(buf), &v, err, sizeof(err)))
        return n;
    for (size_t i = 0; i < v.n; i++)
        n = add_key(k, v.v[i].p, v.v[i].len, factor, how, out, n, cap);
    return n;
}

/* The nominative forms an inflected word may have: at least three letters
 * (six bytes) stay before the ending. */
static size_t ending_keys(const screen_keys_t *k, const char *tok, size_t len, screen_key_t *out,
                          size_t n, size_t cap)
{
    for (size_t e = 0; e < sizeof(endings) / sizeof(endings[0]); e++) {
        size_t fl = strlen(endings[e].from), tl = strlen(endings[e].to);
        if (len < fl + 6 || memcmp(tok + len - fl, endings[e].from, fl) != 0)
            continue;
        char form[GS_SCREEN_TOK_MAX + 8];
        memcpy(form, tok, len - fl);
        memcpy(form + len - fl, endings[e].to, tl);
        n = cyrillic_keys(k, form, len - fl + tl, ENDING_FACTOR, KEY_ENDING, out, n, cap);
    }
    return n;
}

size_t screen_token_keys(const screen_keys_t *k, const char *tok, size_t len, int script,
                         int endings_too, screen_key_t *out, size_t cap)
{
    switch (script) {
    case GS_SCREEN_SCRIPT_LATIN:
        return add_key(k, tok, len, 1.0f, KEY_DIRECT, out, 0, cap);
    case GS_SCREEN_SCRIPT_CYRILLIC: {
        size_t n = cyrillic_keys(k, tok, len, 1.0f, KEY_DIRECT, out, 0, cap);
        return endings_too ? ending_keys(k, tok, len, out, n, cap) : n;
    }
    case GS_SCREEN_SCRIPT_OTHER: {
        if (!cap || !len)
            return 0;
        out[0] = (screen_key_t){.factor = 1.0f, .how = KEY_DIRECT};
        out[0].len = (uint32_t)(len < KEY_MAX - 1 ? len : KEY_MAX - 1);
        memcpy(out[0].s, tok, out[0].len);
        out[0].s[out[0].len] = '\0';
        return 1;
    }
    default:
        return 0;
    }
}

/* The one-edit variants of one romanised spelling: each letter left out
 * (once per run of it) and each pair of different neighbours swapped. */
static size_t slip_keys(const screen_keys_t *k, const char *v, size_t len, screen_key_t *out,
                        size_t n, size_t cap)
{
    char buf[KEY_MAX];
    if (len < 5 || len >= KEY_MAX)
        return n;
    for (size_t i = 0; i < len && n < cap; i++) {
        if (i && v[i] == v[i - 1])
            continue;
        memcpy(buf, v, i);
        memcpy(buf + i, v + i + 1, len - i - 1);
        n = add_key(k, buf, len - 1, 1.0f, KEY_DIRECT, out, n, cap);
    }
    for (size_t i = 0; i + 1 < len && n < cap; i++) {
        if (v[i] == v[i + 1])
            continue;
        memcpy(buf, v, len);
        buf[i] = v[i + 1], buf[i + 1] = v[i];
        n = add_key(k, buf, len, 1.0f, KEY_DIRECT, out, n, cap);
    }
    return n;
}

size_t screen_slip_keys(const screen_keys_t *k, const char *tok, size_t len, int script,
                        screen_key_t *out, size_t cap)
{
    if (script == GS_SCREEN_SCRIPT_LATIN)
        return screen_fuzzy_key(tok, len) ? slip_keys(k, tok, len, out, 0, cap) : 0;
    char buf[GS_SCREEN_VARIANTS_SIZE(GS_SCREEN_TOK_MAX)], err[8];
    gs_screen_variants_t v;
    if (script != GS_SCREEN_SCRIPT_CYRILLIC || len > GS_SCREEN_TOK_MAX ||
        gs_screen_translit_variants(tok, len, buf, sizeof(buf), &v, err, sizeof(err)))
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < v.n && i < 2; i++)
        n = slip_keys(k, v.v[i].p, v.v[i].len, out, n, cap);
    return n;
}

/* ---- similarity ----------------------------------------------------------------- */

double screen_jaro_winkler(const char *a, size_t alen, const char *b, size_t blen)
{
    if (!alen || !blen)
        return alen == blen ? 1.0 : 0.0;
    if (alen > KEY_MAX || blen > KEY_MAX)
        return 0.0;
    size_t win = (alen > blen ? alen : blen) / 2;
    win = win ? win - 1 : 0;
    unsigned char am[KEY_MAX] = {0}, bm[KEY_MAX] = {0};
    size_t m = 0;
    for (size_t i = 0; i < alen; i++) {
        size_t lo = i > win ? i - win : 0, hi = i + win + 1 < blen ? i + win + 1 : blen;
        for (size_t j = lo; j < hi; j++)
            if (!bm[j] && a[i] == b[j]) {
                am[i] = bm[j] = 1;
                m++;
                break;
            }
    }
    if (!m)
        return 0.0;
    size_t t = 0;
    for (size_t i = 0, j = 0; i < alen; i++) {
        if (!am[i])
            continue;
        while (!bm[j])
            j++;
        t += a[i] != b[j++];
    }
    double md = (double)m;
    double jaro = (md / (double)alen + md / (double)blen + (md - (double)t / 2.0) / md) / 3.0;
    size_t prefix = 0;
    while (prefix < 4 && prefix < alen && prefix < blen && a[prefix] == b[prefix])
        prefix++;
    return jaro + (double)prefix * 0.1 * (1.0 - jaro);
}

unsigned screen_edit_distance(const char *a, size_t alen, const char *b, size_t blen, unsigned max)
{
    if (alen > KEY_MAX || blen > KEY_MAX)
        return max + 1;
    if ((alen > blen ? alen - blen : blen - alen) > max)
        return max + 1;
    unsigned rows[3][KEY_MAX + 1];
    unsigned *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= blen; j++)
        prev[j] = (unsigned)j;
    for (size_t i = 1; i <= alen; i++) {
        cur[0] = (unsigned)i;
        unsigned best = cur[0];
        for (size_t j = 1; j <= blen; j++) {
            unsigned cost = a[i - 1] != b[j - 1];
            unsigned v = prev[j - 1] + cost;
            if (prev[j] + 1 < v)
                v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < v)
                v = prev2[j - 2] + 1;
            cur[j] = v;
            best = v < best ? v : best;
        }
        if (best > max)
            return max + 1;
        unsigned *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[blen] <= max ? prev[blen] : max + 1;
}
