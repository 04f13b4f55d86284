/* Identifiers in payment text (docs/SCREEN.md, "Identifiers"): where they
 * are, what they are, and whether their checksums hold.
 *
 * A text is cut into tokens: runs of ASCII letters and digits, and runs of
 * other letters (Cyrillic words). An identifier is one token or a few joined
 * by single spaces or dashes (IBANs in groups of four, passport series and
 * number). What a token is follows from its shape, its checksum and the
 * context word before it (ИНН, ЄДРПОУ, IBAN, SWIFT, паспорт ...):
 *
 * - IBAN: two letters of a registry country and two digits, then up to the
 *   country's length; reported even when invalid (the shape is distinctive
 *   enough), unless shorter than the shortest IBAN (15) without "IBAN".
 * - A run of digits alone: after a context word, the context's types in order
 *   whose length fits, the first with a valid checksum, else the first one
 *   (invalid). Without a context word, the one type of that length (8
 *   EDRPOU, 10 and 12 INN, 13 OGRN, 15 OGRNIP), and only when its checksum
 *   holds: a number that fails it is any number (amounts, references).
 * - BIC: after SWIFT/BIC any 8- or 11-character token of the BIC shape
 *   (an invalid one only in capitals or with a digit: "swift transfer" is
 *   words); without one, only valid, in capitals, not between other words
 *   in capitals (names, all-caps payment texts) and not a common word of
 *   that shape.
 * - Passport: only after a context word (паспорт, passport, серия).
 * Digit runs inside decimal numbers ("10000000.00") and phone numbers
 * ("+380441234567") are not identifiers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/screen.h"
#include "internal.h"

/* ---- reference tables ------------------------------------------------------------ */

/* IBAN countries, their IBAN length and BBAN format (n digits, a capitals,
 * c letters or digits), sorted by country: the SWIFT IBAN Registry, release
 * 100 (the "IBAN prefix country code", "IBAN length" and "IBAN structure"
 * rows of iban-registry-100.txt, SWIFT Standards, ISO 13616 registration
 * authority), 89 countries. Territories that use another country's prefix
 * (Åland FI, Guernsey GB, Réunion FR ...) have no entry of their own. */
typedef struct iban_country {
    char cc[3];
    unsigned char len;
    const char *bban;
} iban_country_t;

static const iban_country_t iban_countries[] = {
    {"AD", 24, "4!n4!n12!c"},
    {"AE", 23, "3!n16!n"},
    {"AL", 28, "8!n16!c"},
    {"AT", 20, "5!n11!n"},
    {"AZ", 28, "4!a20!c"},
    {"BA", 20, "3!n3!n8!n2!n"},
    {"BE", 16, "3!n7!n2!n"},
    {"BG", 22, "4!a4!n2!n8!c"},
    {"BH", 22, "4!a14!c"},
    {"BI", 27, "5!n5!n11!n2!n"},
    {"BR", 29, "8!n5!n10!n1!a1!c"},
    {"BY", 28, "4!c4!n16!c"},
    {"CH", 21, "5!n12!c"},
    {"CR", 22, "4!n14!n"},
    {"CY", 28, "3!n5!n16!c"},
    {"CZ", 24, "4!n6!n10!n"},
    {"DE", 22, "8!n10!n"},
    {"DJ", 27, "5!n5!n11!n2!n"},
    {"DK", 18, "4!n9!n1!n"},
    {"DO", 28, "4!c20!n"},
    {"EE", 20, "2!n14!n"},
    {"EG", 29, "4!n4!n17!n"},
    {"ES", 24, "4!n4!n1!n1!n10!n"},
    {"FI", 18, "3!n11!n"},
    {"FK", 18, "2!a12!n"},
    {"FO", 18, "4!n9!n1!n"},
    {"FR", 27, "5!n5!n11!c2!n"},
    {"GB", 22, "4!a6!n8!n"},
    {"GE", 22, "2!a16!n"},
    {"GI", 23, "4!a15!c"},
    {"GL", 18, "4!n9!n1!n"},
    {"GR", 27, "3!n4!n16!c"},
    {"GT", 28, "4!c20!c"},
    {"HN", 28, "4!a20!n"},
    {"HR", 21, "7!n10!n"},
    {"HU", 28, "3!n4!n1!n15!n1!n"},
    {"IE", 22, "4!a6!n8!n"},
    {"IL", 23, "3!n3!n13!n"},
    {"IQ", 23, "4!a3!n12!n"},
    {"IS", 26, "4!n2!n6!n10!n"},
    {"IT", 27, "1!a5!n5!n12!c"},
    {"JO", 30, "4!a4!n18!c"},
    {"KW", 30, "4!a22!c"},
    {"KZ", 20, "3!n13!c"},
    {"LB", 28, "4!n20!c"},
    {"LC", 32, "4!a24!c"},
    {"LI", 21, "5!n12!c"},
    {"LT", 20, "5!n11!n"},
    {"LU", 20, "3!n13!c"},
    {"LV", 21, "4!a13!c"},
    {"LY", 25, "3!n3!n15!n"},
    {"MC", 27, "5!n5!n11!c2!n"},
    {"MD", 24, "2!c18!c"},
    {"ME", 22, "3!n13!n2!n"},
    {"MK", 19, "3!n10!c2!n"},
    {"MN", 20, "4!n12!n"},
    {"MR", 27, "5!n5!n11!n2!n"},
    {"MT", 31, "4!a5!n18!c"},
    {"MU", 30, "4!a2!n2!n12!n3!n3!a"},
    {"NI", 28, "4!a20!n"},
    {"NL", 18, "4!a10!n"},
    {"NO", 15, "4!n6!n1!n"},
    {"OM", 23, "3!n16!c"},
    {"PK", 24, "4!a16!c"},
    {"PL", 28, "8!n16!n"},
    {"PS", 29, "4!a21!c"},
    {"PT", 25, "4!n4!n11!n2!n"},
    {"QA", 29, "4!a21!c"},
    {"RO", 24, "4!a16!c"},
    {"RS", 22, "3!n13!n2!n"},
    {"RU", 33, "9!n5!n15!c"},
    {"SA", 24, "2!n18!c"},
    {"SC", 31, "4!a2!n2!n16!n3!a"},
    {"SD", 18, "2!n12!n"},
    {"SE", 24, "3!n16!n1!n"},
    {"SI", 19, "5!n8!n2!n"},
    {"SK", 24, "4!n6!n10!n"},
    {"SM", 27, "1!a5!n5!n12!c"},
    {"SO", 23, "4!n3!n12!n"},
    {"ST", 25, "4!n4!n11!n2!n"},
    {"SV", 28, "4!a20!n"},
    {"TL", 23, "3!n14!n2!n"},
    {"TN", 24, "2!n3!n13!n2!n"},
    {"TR", 26, "5!n1!n16!c"},
    {"UA", 29, "6!n19!c"},
    {"VA", 22, "3!n15!n"},
    {"VG", 24, "4!a16!n"},
    {"XK", 20, "4!n10!n2!n"},
    {"YE", 30, "4!a4!n18!c"},
};

/* ISO 3166-1 alpha-2 codes, sorted, two letters each: the 249 of Debian's
 * iso-codes 4.15.0 (iso_3166-1.json), and XK (Kosovo), which SWIFT uses. */
static const char iso3166[] =
    "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCD"
    "CFCGCHCICKCLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGF"
    "GGGHGIGLGMGNGPGQGRGSGTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKN"
    "KPKRKWKYKZLALBLCLILKLRLSLTLULVLYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNA"
    "NCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPMPNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSI"
    "SJSKSLSMSNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTKTLTMTNTOTRTTTVTWTZUAUGUMUSUYUZVAVCVEVGVI"
    "VNVUWFWSXKYEYTZAZMZW";

/* Capital words of the BIC shape (4 letters, a country, 2 more) that are
 * common in payment texts and are no BIC. */
static const char *const bic_stopwords[] = {
    "ADVANCED", "ADVANCES", "AGENCIES", "BALANCES", "BUSINESS", "CLEANING", "COMMERCE", "CUSTOMER",
    "DELIVERY", "DEPOSITS", "DIVIDEND", "DOCUMENT", "ELECTRIC", "FINANCES", "HOLDINGS", "HOSPITAL",
    "INDUSTRY", "INTEREST", "LOGISTIC", "MACHINES", "MEDICINE", "MORTGAGE", "ORIGINAL", "PACKAGES",
    "PARTNERS", "PHARMACY", "PLATFORM", "PROCEEDS", "PROPERTY", "PROVIDER", "REQUIRED", "RESEARCH",
    "SHIPMENT", "SUPPLIER", "SUPPLIES", "TERMINAL", "TRAINING",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int cmp_cc(const void *key, const void *elem)
{
    return memcmp(key, ((const iban_country_t *)elem)->cc, 2);
}

static const iban_country_t *iban_country(const char *cc)
{
    return bsearch(cc, iban_countries, NELEM(iban_countries), sizeof(iban_countries[0]), cmp_cc);
}

static int cmp_pair(const void *key, const void *elem)
{
    return memcmp(key, elem, 2);
}

static int iso_country(const char *cc)
{
    return bsearch(cc, iso3166, (sizeof(iso3166) - 1) / 2, 2, cmp_pair) != NULL;
}

static int cmp_word(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

/* ---- checksums and formats (of normalised values) ----------------------------------- */

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_upper(int c)
{
    return c >= 'A' && c <= 'Z';
}

static int is_alnum_upper(int c)
{
    return is_digit(c) || is_upper(c);
}

static int digits_only(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(v[i]))
            return 0;
    return n > 0;
}

/* Only zeros pass every weighted checksum, and no register issues them. */
static int all_zero(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] != '0')
            return 0;
    return 1;
}

/* sum(w[i] * v[i]) mod 11 in 0..10 (weights may be negative). */
static int weighted_mod11(const char *v, const int *w, size_t n)
{
    int sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += w[i] * (v[i] - '0');
    return ((sum % 11) + 11) % 11;
}

/* The decimal number v[0..n) modulo m, without overflow. */
static unsigned mod_decimal(const char *v, size_t n, unsigned m)
{
    unsigned r = 0;
    for (size_t i = 0; i < n; i++)
        r = (r * 10 + (unsigned)(v[i] - '0')) % m;
    return r;
}

/* INN (ИНН), FNS order of 2 March 2002: a 10-digit one has one check digit
 * over the first nine, a 12-digit one two, each sum mod 11 mod 10. */
static int inn_valid(const char *v, size_t n)
{
    static const int w10[] = {2, 4, 10, 3, 5, 9, 4, 6, 8};
    static const int w11[] = {7, 2, 4, 10, 3, 5, 9, 4, 6, 8};
    static const int w12[] = {3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8};
    if (!digits_only(v, n) || all_zero(v, n))
        return 0;
    if (n == 10)
        return weighted_mod11(v, w10, 9) % 10 == v[9] - '0';
    if (n == 12)
        return weighted_mod11(v, w11, 10) % 10 == v[10] - '0' &&
               weighted_mod11(v, w12, 11) % 10 == v[11] - '0';
    return 0;
}

/* RNOKPP (РНОКПП, "ІПН"): sum of the first nine digits by these weights,
 * mod 11 mod 10. */
static int rnokpp_valid(const char *v, size_t n)
{
    static const int w[] = {-1, 5, 7, 9, 4, 6, 10, 5, 7};
    return n == 10 && digits_only(v, n) && !all_zero(v, n) &&
           weighted_mod11(v, w, 9) % 10 == v[9] - '0';
}

/* EDRPOU (ЄДРПОУ), the State Statistics Committee's method: weights 1..7,
 * or 7,1..6 for codes from 30000000 to 60000000; a remainder of 10 is
 * computed again with every weight plus 2, and 10 again is 0. */
static int edrpou_valid(const char *v, size_t n)
{
    if (n != 8 || !digits_only(v, n) || all_zero(v, n))
        return 0;
    unsigned long code = strtoul(v, NULL, 10);
    int shifted = code >= 30000000ul && code <= 60000000ul;
    int w[7];
    for (int i = 0; i < 7; i++)
        w[i] = shifted ? (i == 0 ? 7 : i) : i + 1;
    int r = weighted_mod11(v, w, 7);
    if (r == 10) {
        for (int i = 0; i < 7; i++)
            w[i] += 2;
        r = weighted_mod11(v, w, 7) % 10;
    }
    return r == v[7] - '0';
}

/* OGRN (ОГРН), Ministry of Finance order 165n of 30 October 2017, p. 7:
 * the lowest digit of the first 12 as a number mod 11; the first digit is 1
 * or 5 (2, 6, 7, 8, 9 mark other record numbers, ГРН). */
static int ogrn_valid(const char *v, size_t n)
{
    return n == 13 && digits_only(v, n) && (v[0] == '1' || v[0] == '5') &&
           mod_decimal(v, 12, 11) % 10 == (unsigned)(v[12] - '0');
}

/* OGRNIP (ОГРНИП), the same order: the lowest digit of the first 14 mod 13
 * (remainders 10..12 give 0..2); the first digit is 3 (4: a ГРНИП). */
static int ogrnip_valid(const char *v, size_t n)
{
    return n == 15 && digits_only(v, n) && v[0] == '3' &&
           mod_decimal(v, 14, 13) % 10 == (unsigned)(v[14] - '0');
}

/* BIC (ISO 9362): 4 letters (the bank), an ISO 3166 country, 2 letters or
 * digits (the location), optionally 3 more (the branch). */
static int bic_valid(const char *v, size_t n)
{
    if (n != 8 && n != 11)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (i < 6 ? !is_upper(v[i]) : !is_alnum_upper(v[i]))
            return 0;
    return iso_country(v + 4);
}

/* Whether s[0..n) follows a registry format such as "4!a6!n8!n". */
static int bban_matches(const char *fmt, const char *s, size_t n)
{
    size_t at = 0;
    while (*fmt) {
        char *end = NULL;
        unsigned long k = strtoul(fmt, &end, 10);
        if (end[0] != '!' || !end[1] || k > n - at)
            return 0;
        char cls = end[1];
        for (unsigned long i = 0; i < k; i++, at++) {
            int c = (unsigned char)s[at];
            if (!(cls == 'n' ? is_digit(c) : cls == 'a' ? is_upper(c) : is_alnum_upper(c)))
                return 0;
        }
        fmt = end + 2;
    }
    return at == n;
}

/* ISO 7064 MOD 97-10 over BBAN + country + check digits, letters as 10..35. */
static unsigned iban_mod97(const char *v, size_t n)
{
    unsigned r = 0;
    for (size_t k = 0; k < n; k++) {
        char c = v[(k + 4) % n];
        r = is_digit(c) ? (r * 10 + (unsigned)(c - '0')) % 97
                        : (r * 100 + (unsigned)(c - 'A' + 10)) % 97;
    }
    return r;
}

/* Country, length, BBAN format, check digits 02..98 (the only ones MOD
 * 97-10 computes: 00, 01 and 99 pass the sum but are never issued). */
static int iban_valid(const char *v, size_t n)
{
    if (n < 5 || n > 34 || !is_upper(v[0]) || !is_upper(v[1]))
        return 0;
    const iban_country_t *c = iban_country(v);
    if (!c || n != c->len || !is_digit(v[2]) || !is_digit(v[3]))
        return 0;
    int check = (v[2] - '0') * 10 + (v[3] - '0');
    return check >= 2 && check <= 98 && bban_matches(c->bban, v + 4, n - 4) &&
           iban_mod97(v, n) == 1;
}

/* Cyrillic capitals (2 bytes each) at v: how many of the first `want`. */
static size_t cyrillic_capitals(const char *v, size_t n, size_t want)
{
    size_t at = 0, k = 0, used = 0;
    while (k < want && at < n) {
        uint32_t cp = gs_cp_decode((const unsigned char *)v + at, n - at, &used);
        if (!gs_cp_cyrillic(cp) || !gs_cp_upper(cp))
            break;
        at += used;
        k++;
    }
    return k == want ? at : 0;
}

/* Passport-like: 10 digits (Russian internal, series 4 + number 6), 9
 * digits (Russian foreign 2 + 7, Ukrainian ID card), 2 capitals + 6 to 9
 * digits (foreign passports), 2 Cyrillic capitals + 6 digits (Ukrainian
 * internal booklet). No checksum exists for any of them. */
static int passport_valid(const char *v, size_t n)
{
    if (digits_only(v, n))
        return (n == 9 || n == 10) && !all_zero(v, n);
    if (n >= 8 && is_upper(v[0]) && is_upper(v[1]) && digits_only(v + 2, n - 2))
        return n - 2 >= 6 && n - 2 <= 9;
    size_t series = cyrillic_capitals(v, n, 2);
    return series && n - series == 6 && digits_only(v + series, 6);
}

int gs_screen_ident_valid(gs_screen_id_type_t type, const char *value, size_t len)
{
    if (!value)
        return 0;
    switch (type) {
    case GS_SCREEN_ID_IBAN:
        return iban_valid(value, len);
    case GS_SCREEN_ID_INN:
        return inn_valid(value, len);
    case GS_SCREEN_ID_RNOKPP:
        return rnokpp_valid(value, len);
    case GS_SCREEN_ID_EDRPOU:
        return edrpou_valid(value, len);
    case GS_SCREEN_ID_OGRN:
        return ogrn_valid(value, len);
    case GS_SCREEN_ID_OGRNIP:
        return ogrnip_valid(value, len);
    case GS_SCREEN_ID_BIC:
        return bic_valid(value, len);
    case GS_SCREEN_ID_PASSPORT:
        return passport_valid(value, len);
    default:
        return 0;
    }
}

static const char *const type_names[GS_SCREEN_ID__COUNT] = {
    [GS_SCREEN_ID_IBAN] = "IBAN",     [GS_SCREEN_ID_INN] = "INN",
    [GS_SCREEN_ID_RNOKPP] = "RNOKPP", [GS_SCREEN_ID_EDRPOU] = "EDRPOU",
    [GS_SCREEN_ID_OGRN] = "OGRN",     [GS_SCREEN_ID_OGRNIP] = "OGRNIP",
    [GS_SCREEN_ID_BIC] = "BIC",       [GS_SCREEN_ID_PASSPORT] = "PASSPORT",
};

const char *gs_screen_id_type_name(gs_screen_id_type_t type)
{
    return (unsigned)type < GS_SCREEN_ID__COUNT ? type_names[type] : "?";
}

gs_err_t gs_screen_id_type_parse(const char *name, gs_screen_id_type_t *out, char *errstr,
                                 size_t errstr_size)
{
    for (int t = 0; name && t < GS_SCREEN_ID__COUNT; t++)
        if (strcmp(name, type_names[t]) == 0) {
            *out = (gs_screen_id_type_t)t;
            return GS_OK;
        }
    return gs_fail(errstr, errstr_size, GS_ERR_INVALID_ARG, "unknown identifier type \"%s\"",
                   name ? name : "(null)");
}

/* ---- tokens ------------------------------------------------------------------------ */

enum { TOK_ALNUM = 1, TOK_WORD = 2 };

/* A run of ASCII letters and digits (ALNUM), or of other letters (WORD). */
typedef struct tok {
    size_t start, end;
    int kind;
    size_t letters, digits, capitals;
} tok_t;

typedef struct lexer {
    const unsigned char *s;
    size_t len, pos;
} lexer_t;

static int ascii_alnum(unsigned c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* The non-ASCII letter at pos, or 0 (its length in *used either way). */
static uint32_t other_letter(const lexer_t *lx, size_t pos, size_t *used)
{
    uint32_t cp = gs_cp_decode(lx->s + pos, lx->len - pos, used);
    return lx->s[pos] >= 0x80 && gs_cp_letter(cp) ? cp : 0;
}

static int lex_next(lexer_t *lx, tok_t *t)
{
    size_t used = 0;
    while (lx->pos < lx->len && !ascii_alnum(lx->s[lx->pos]) && !other_letter(lx, lx->pos, &used))
        lx->pos += used;
    if (lx->pos >= lx->len)
        return 0;
    *t = (tok_t){.start = lx->pos, .kind = ascii_alnum(lx->s[lx->pos]) ? TOK_ALNUM : TOK_WORD};
    if (t->kind == TOK_ALNUM) {
        for (unsigned c; lx->pos < lx->len && ascii_alnum(c = lx->s[lx->pos]); lx->pos++) {
            t->digits += is_digit((int)c);
            t->letters += !is_digit((int)c);
            t->capitals += is_upper((int)c);
        }
    } else {
        uint32_t cp;
        while (lx->pos < lx->len && (cp = other_letter(lx, lx->pos, &used))) {
            t->letters++;
            t->capitals += gs_cp_upper(cp) != 0;
            lx->pos += used;
        }
    }
    t->end = lx->pos;
    return 1;
}

/* A normalised value under construction. */
typedef struct val {
    char s[GS_SCREEN_ID_VALUE_MAX];
    size_t n;
    int over; /* too long to be an identifier */
} val_t;

static uint32_t cp_upper(uint32_t cp)
{
    if (cp >= 'a' && cp <= 'z')
        return cp - 32;
    if (cp >= 0x430 && cp <= 0x44F)
        return cp - 0x20;
    if (cp >= 0x450 && cp <= 0x45F)
        return cp - 0x50;
    return cp == 0x491 ? 0x490 : cp;
}

/* Appends text[a..b) in capitals. */
static void val_add(val_t *v, const unsigned char *text, size_t a, size_t b)
{
    size_t used = 0;
    for (size_t at = a; at < b; at += used) {
        uint32_t cp = cp_upper(gs_cp_decode(text + at, b - at, &used));
        if (cp >= 0x800 || v->n + (cp < 0x80 ? 1 : 2) >= sizeof(v->s)) {
            v->over = 1;
            return;
        }
        v->n += gs_cp_encode2(cp, v->s + v->n);
        v->s[v->n] = '\0';
    }
}

/* ---- context words ----------------------------------------------------------------- */

/* A word that says what the next identifier is: its types, most likely
 * first. */
typedef struct keyword {
    const char *word; /* lower case */
    int prefix;       /* also the words it starts ("паспорта", "passports") */
    gs_screen_id_type_t types[2];
    int n;
} keyword_t;

#define KW(w, t)                                                                                   \
    {                                                                                              \
        w, 0, {t, t}, 1                                                                            \
    }
#define KW2(w, t1, t2)                                                                             \
    {                                                                                              \
        w, 0, {t1, t2}, 2                                                                          \
    }
#define KW_PREFIX(w, t)                                                                            \
    {                                                                                              \
        w, 1, {t, t}, 1                                                                            \
    }

/* Russian-language texts from Ukraine call the РНОКПП "ИНН", so ИНН tries
 * both; ЄДРПОУ fields carry the РНОКПП of sole traders. */
static const keyword_t keywords[] = {
    KW2("инн", GS_SCREEN_ID_INN, GS_SCREEN_ID_RNOKPP),
    KW2("inn", GS_SCREEN_ID_INN, GS_SCREEN_ID_RNOKPP),
    KW2("інн", GS_SCREEN_ID_RNOKPP, GS_SCREEN_ID_INN),
    KW("іпн", GS_SCREEN_ID_RNOKPP),
    KW("ipn", GS_SCREEN_ID_RNOKPP),
    KW("рнокпп", GS_SCREEN_ID_RNOKPP),
    KW("rnokpp", GS_SCREEN_ID_RNOKPP),
    KW("дрфо", GS_SCREEN_ID_RNOKPP),
    KW2("єдрпоу", GS_SCREEN_ID_EDRPOU, GS_SCREEN_ID_RNOKPP),
    KW2("едрпоу", GS_SCREEN_ID_EDRPOU, GS_SCREEN_ID_RNOKPP),
    KW2("edrpou", GS_SCREEN_ID_EDRPOU, GS_SCREEN_ID_RNOKPP),
    KW2("usreou", GS_SCREEN_ID_EDRPOU, GS_SCREEN_ID_RNOKPP),
    KW2("огрн", GS_SCREEN_ID_OGRN, GS_SCREEN_ID_OGRNIP),
    KW2("ogrn", GS_SCREEN_ID_OGRN, GS_SCREEN_ID_OGRNIP),
    KW2("огрнип", GS_SCREEN_ID_OGRNIP, GS_SCREEN_ID_OGRN),
    KW2("ogrnip", GS_SCREEN_ID_OGRNIP, GS_SCREEN_ID_OGRN),
    KW("iban", GS_SCREEN_ID_IBAN),
    KW("swift", GS_SCREEN_ID_BIC),
    KW("bic", GS_SCREEN_ID_BIC),
    KW("свифт", GS_SCREEN_ID_BIC),
    KW("свіфт", GS_SCREEN_ID_BIC),
    KW_PREFIX("паспорт", GS_SCREEN_ID_PASSPORT),
    KW_PREFIX("passport", GS_SCREEN_ID_PASSPORT),
    KW("серия", GS_SCREEN_ID_PASSPORT),
    KW("серии", GS_SCREEN_ID_PASSPORT),
    KW("серія", GS_SCREEN_ID_PASSPORT),
    KW("серії", GS_SCREEN_ID_PASSPORT),
};

/* Latin keywords that may be glued to the number ("INN7707083893"),
 * longest first. */
static const char *const glued[] = {"rnokpp", "ogrnip", "edrpou", "usreou",
                                    "ogrn",   "iban",   "inn",    "ipn"};

/* The context words for the dictionaries (dict.c), so that they are not
 * listed twice. */
const char *gs_screen_ident_context_word(size_t i, int *prefix, int *glued_ok)
{
    if (i >= NELEM(keywords))
        return NULL;
    *prefix = keywords[i].prefix;
    *glued_ok = 0;
    for (size_t g = 0; g < NELEM(glued); g++)
        *glued_ok |= strcmp(glued[g], keywords[i].word) == 0;
    return keywords[i].word;
}

/* Words a context word may be away from its identifier ("ИНН получателя",
 * "паспорт серии 4506 номер"). */
#define CONTEXT_WORDS 3

/* Lower case of text[a..b) into low ("" when longer than any keyword). */
static void lower_word(const unsigned char *text, size_t a, size_t b, char *low, size_t size)
{
    size_t n = 0, used = 0;
    for (size_t at = a; at < b; at += used) {
        uint32_t cp = gs_cp_lower(gs_cp_decode(text + at, b - at, &used));
        if (cp >= 0x800 || n + 2 >= size) {
            n = 0;
            break;
        }
        n += gs_cp_encode2(cp, low + n);
    }
    low[n] = '\0';
}

static const keyword_t *keyword_of(const unsigned char *text, const tok_t *t)
{
    char low[32];
    lower_word(text, t->start, t->end, low, sizeof(low));
    for (size_t i = 0; low[0] && i < NELEM(keywords); i++) {
        const keyword_t *k = &keywords[i];
        size_t n = strlen(k->word);
        if (strncmp(low, k->word, n) == 0 && (low[n] == '\0' || k->prefix))
            return k;
    }
    return NULL;
}

/* ---- the finder ---------------------------------------------------------------------- */

typedef struct finder {
    const unsigned char *s;
    size_t len;
    gs_screen_ident_t *out;
    size_t cap, found;
    const keyword_t *ctx; /* the last context word, if it is still near */
    size_t since;         /* words since it */
    int prev_caps_word;   /* the previous token is a word in Latin capitals */
} finder_t;

static int ctx_has(const finder_t *f, gs_screen_id_type_t type)
{
    for (int i = 0; f->ctx && i < f->ctx->n; i++)
        if (f->ctx->types[i] == type)
            return 1;
    return 0;
}

static void emit(finder_t *f, gs_screen_id_type_t type, size_t start, size_t end, const val_t *v)
{
    if (f->found < f->cap) {
        gs_screen_ident_t *id = &f->out[f->found];
        *id = (gs_screen_ident_t){.type = type, .start = start, .end = end, .len = v->n};
        memcpy(id->value, v->s, v->n);
        id->value[v->n] = '\0';
        id->valid = gs_screen_ident_valid(type, v->s, v->n);
    }
    f->found++;
    f->ctx = NULL; /* a context word is about one identifier */
}

/* The bytes between two tokens. */
static int gap_is_join(const finder_t *f, size_t a, size_t b)
{
    const unsigned char *g = f->s + a;
    size_t n = b - a;
    return (n == 1 && (g[0] == ' ' || g[0] == '-')) ||
           (n == 2 && g[0] == 0xC2 && g[1] == 0xA0) || /* no-break space */
           (n == 3 && g[0] == 0xE2 && g[1] == 0x80 &&
            (g[2] == 0xAF || g[2] == 0x89)); /* narrow, thin */
}

/* Between a passport's series and number: spaces, "-", ":", "#", ".", "№". */
static int gap_is_passport(const finder_t *f, size_t a, size_t b)
{
    if (b - a > 8)
        return 0;
    for (size_t i = a; i < b; i++) {
        unsigned c = f->s[i];
        if (c == 0xE2 && i + 2 < b && f->s[i + 1] == 0x84 && f->s[i + 2] == 0x96) {
            i += 2; /* № */
            continue;
        }
        if (!(c == ' ' || c == '-' || c == ':' || c == '#' || c == '.' || c == '\t'))
            return 0;
    }
    return 1;
}

/* Digits inside a decimal number or after "+" (a phone number). */
static int part_of_number(const finder_t *f, const tok_t *t)
{
    const unsigned char *s = f->s;
    size_t a = t->start, b = t->end;
    if (a >= 1 && s[a - 1] == '+')
        return 1;
    if (a >= 2 && (s[a - 1] == '.' || s[a - 1] == ',') && is_digit(s[a - 2]))
        return 1;
    return b + 1 < f->len && (s[b] == '.' || s[b] == ',') && is_digit(s[b + 1]);
}

/* A group of letters only continues an IBAN in the case of its country
 * code: "GB82 WEST ..." and "gb82 west ...", but not "GB12345 and". */
static int iban_group(const finder_t *f, const tok_t *first, const tok_t *g)
{
    if (g->digits)
        return 1;
    int caps = is_upper(f->s[first->start]);
    return caps ? g->capitals == g->letters : g->capitals == 0;
}

/* IBAN: the token and the groups that follow, up to the country's length. */
static int try_iban(finder_t *f, lexer_t *lx, const tok_t *t)
{
    const unsigned char *s = f->s + t->start;
    if (t->kind != TOK_ALNUM || t->end - t->start < 4 || is_digit(s[0]) || is_digit(s[1]) ||
        !is_digit(s[2]) || !is_digit(s[3]))
        return 0;
    char cc[2] = {(char)(s[0] & ~0x20), (char)(s[1] & ~0x20)};
    const iban_country_t *c = iban_country(cc);
    int ctx = ctx_has(f, GS_SCREEN_ID_IBAN);
    if (!c && !ctx)
        return 0;
    size_t want = c ? c->len : 34;
    val_t v = {.n = 0};
    val_add(&v, f->s, t->start, t->end);
    lexer_t la = *lx;
    tok_t last = *t, nx;
    while (!v.over && v.n < want) {
        lexer_t peek = la;
        if (!lex_next(&peek, &nx) || nx.kind != TOK_ALNUM || !gap_is_join(f, last.end, nx.start) ||
            !iban_group(f, t, &nx) || v.n + (nx.end - nx.start) > want)
            break;
        val_add(&v, f->s, nx.start, nx.end);
        last = nx;
        la = peek;
    }
    if (v.over || (v.n < 15 && !ctx))
        return 0;
    emit(f, GS_SCREEN_ID_IBAN, t->start, last.end, &v);
    *lx = la;
    return 1;
}

static int stopword(const val_t *v)
{
    return bsearch(v->s, bic_stopwords, NELEM(bic_stopwords), sizeof(bic_stopwords[0]), cmp_word) !=
           NULL;
}

/* A common capital word, or one between other capital words (names,
 * all-caps payment texts): not a BIC without a context word. */
static int bic_unlikely(const finder_t *f, const lexer_t *lx, const tok_t *t, const val_t *v)
{
    if (t->capitals != t->letters || f->prev_caps_word)
        return 1;
    if (stopword(v))
        return 1;
    lexer_t peek = *lx;
    tok_t nx;
    return lex_next(&peek, &nx) && nx.kind == TOK_ALNUM && nx.digits == 0 && nx.letters >= 2 &&
           nx.capitals == nx.letters;
}

static int try_bic(finder_t *f, const lexer_t *lx, const tok_t *t)
{
    size_t n = t->end - t->start;
    if (t->kind != TOK_ALNUM || (n != 8 && n != 11))
        return 0;
    for (size_t i = 0; i < 6; i++)
        if (is_digit(f->s[t->start + i]))
            return 0;
    val_t v = {.n = 0};
    val_add(&v, f->s, t->start, t->end);
    int ok = bic_valid(v.s, v.n);
    if (!ctx_has(f, GS_SCREEN_ID_BIC)
            ? !ok || bic_unlikely(f, lx, t, &v)
            : stopword(&v) || (!ok && !t->digits && t->capitals < t->letters))
        return 0; /* after SWIFT too, a lower-case word is a word ("swift transfer") */
    emit(f, GS_SCREEN_ID_BIC, t->start, t->end, &v);
    return 1;
}

static int digit_type(gs_screen_id_type_t type)
{
    return type == GS_SCREEN_ID_INN || type == GS_SCREEN_ID_RNOKPP || type == GS_SCREEN_ID_EDRPOU ||
           type == GS_SCREEN_ID_OGRN || type == GS_SCREEN_ID_OGRNIP;
}

static int length_fits(gs_screen_id_type_t type, size_t n)
{
    switch (type) {
    case GS_SCREEN_ID_INN:
        return n == 10 || n == 12;
    case GS_SCREEN_ID_RNOKPP:
        return n == 10;
    case GS_SCREEN_ID_EDRPOU:
        return n == 8;
    case GS_SCREEN_ID_OGRN:
        return n == 13;
    case GS_SCREEN_ID_OGRNIP:
        return n == 15;
    default:
        return 0;
    }
}

/* The type of a digit run after a context word: the first of its types
 * that fits the length and whose checksum holds, else the first that fits,
 * else its first digit type. -1: the context is not about digit runs. */
static int typed_by_context(const keyword_t *k, const val_t *v)
{
    int fits = -1, first = -1;
    for (int i = 0; i < k->n; i++) {
        gs_screen_id_type_t type = k->types[i];
        if (!digit_type(type))
            continue;
        if (first < 0)
            first = (int)type;
        if (!length_fits(type, v->n))
            continue;
        if (gs_screen_ident_valid(type, v->s, v->n))
            return (int)type;
        if (fits < 0)
            fits = (int)type;
    }
    return fits >= 0 ? fits : first;
}

/* Without context: the one type of each length, when its checksum holds. */
static int typed_by_checksum(const val_t *v)
{
    static const gs_screen_id_type_t by_length[] = {GS_SCREEN_ID_EDRPOU, GS_SCREEN_ID_INN,
                                                    GS_SCREEN_ID_OGRN, GS_SCREEN_ID_OGRNIP};
    for (size_t i = 0; i < NELEM(by_length); i++)
        if (length_fits(by_length[i], v->n) && gs_screen_ident_valid(by_length[i], v->s, v->n))
            return (int)by_length[i];
    return -1;
}

/* A shorter digit run after a context word is a number of something else. */
#define MIN_TYPED_DIGITS 6

static int try_digits(finder_t *f, const tok_t *t)
{
    if (t->kind != TOK_ALNUM || t->letters || part_of_number(f, t))
        return 0;
    val_t v = {.n = 0};
    val_add(&v, f->s, t->start, t->end);
    if (v.over)
        return 0;
    int type = -1;
    if (f->ctx && v.n >= MIN_TYPED_DIGITS)
        type = typed_by_context(f->ctx, &v);
    if (type < 0)
        type = typed_by_checksum(&v);
    if (type < 0)
        return 0;
    emit(f, (gs_screen_id_type_t)type, t->start, t->end, &v);
    return 1;
}

/* ---- passports --------------------------------------------------------------------- */

/* Words between a passport's series and number ("серия 4506 номер 123456",
 * "No" is what NFKC makes of "№"). */
static size_t filler_prefix(const finder_t *f, const tok_t *t)
{
    static const char *const fillers[] = {"номер", "nr", "no", "н", "n"};
    char low[16];
    lower_word(f->s, t->start, t->end, low, sizeof(low));
    for (size_t i = 0; i < NELEM(fillers); i++) {
        size_t n = strlen(fillers[i]);
        if (strncmp(low, fillers[i], n) == 0 && (!low[n] || is_digit(low[n])))
            return n;
    }
    return 0;
}

static void recount(const finder_t *f, tok_t *t)
{
    t->letters = t->digits = t->capitals = 0;
    for (size_t i = t->start; i < t->end; i++) {
        int c = f->s[i];
        t->digits += is_digit(c);
        t->letters += !is_digit(c);
        t->capitals += is_upper(c);
    }
}

/* A filler word alone ("номер"), as opposed to one glued to digits. */
static int is_filler(const finder_t *f, const tok_t *t)
{
    size_t n = filler_prefix(f, t);
    return n && t->digits == 0 && t->end - t->start == n; /* n: bytes of its lower case */
}

/* The digits that continue a passport part ending at prev_end: the next
 * token, over a filler word, without a glued "No". la moves past it. */
static int next_number(const finder_t *f, lexer_t *la, size_t prev_end, tok_t *nx)
{
    lexer_t peek = *la;
    if (!lex_next(&peek, nx) || !gap_is_passport(f, prev_end, nx->start))
        return 0;
    if (is_filler(f, nx)) {
        size_t end = nx->end;
        if (!lex_next(&peek, nx) || !gap_is_passport(f, end, nx->start))
            return 0;
    }
    if (nx->kind == TOK_ALNUM && nx->letters && nx->digits) {
        nx->start += filler_prefix(f, nx);
        recount(f, nx);
    }
    if (nx->kind != TOK_ALNUM || nx->letters || !nx->digits)
        return 0;
    *la = peek;
    return 1;
}

/* Series of 4 digits, or 2 + 2, then the number: the Russian internal
 * passport ("4506 123456", "45 06 № 123456"); 2 + 7: the foreign one. */
static void digit_series(const finder_t *f, lexer_t *la, tok_t *last, val_t *v)
{
    lexer_t try = *la;
    tok_t nx, nx2;
    if (!next_number(f, &try, last->end, &nx))
        return;
    size_t have = last->digits;
    if ((have == 4 && nx.digits == 6) || (have == 2 && nx.digits == 7)) {
        val_add(v, f->s, nx.start, nx.end);
        *last = nx;
        *la = try;
    } else if (have == 2 && nx.digits == 2) {
        lexer_t try2 = try;
        if (!next_number(f, &try2, nx.end, &nx2) || nx2.digits != 6)
            return;
        val_add(v, f->s, nx.start, nx.end);
        val_add(v, f->s, nx2.start, nx2.end);
        *last = nx2;
        *la = try2;
    }
}

static int try_passport(finder_t *f, lexer_t *lx, const tok_t *t0)
{
    if (is_filler(f, t0))
        return 0;
    tok_t t = *t0, last, nx;
    if (t.kind == TOK_ALNUM && t.letters && t.digits) { /* "No123456" */
        t.start += filler_prefix(f, &t);
        recount(f, &t);
    }
    val_t v = {.n = 0};
    lexer_t la = *lx;
    val_add(&v, f->s, t.start, t.end);
    last = t;
    if (t.digits == 0) { /* a series of two letters: "КВ 123456", "FA 123456" */
        if (t.letters != 2 || !next_number(f, &la, t.end, &nx) || nx.digits < 6 || nx.digits > 9)
            return 0;
        val_add(&v, f->s, nx.start, nx.end);
        last = nx;
    } else if (t.letters == 0) {
        digit_series(f, &la, &last, &v);
    } else if (t.letters != 2 || is_digit(f->s[t.start]) || is_digit(f->s[t.start + 1])) {
        return 0; /* letters and digits, but not "FA123456" */
    }
    if (v.over || (t.letters == 0 && v.n < MIN_TYPED_DIGITS))
        return 0;
    emit(f, GS_SCREEN_ID_PASSPORT, t.start, last.end, &v);
    *lx = la;
    return 1;
}

/* ---- the scan ---------------------------------------------------------------------- */

/* "INN7707083893": the keyword becomes the context and t the rest. */
static int split_glued(finder_t *f, tok_t *t)
{
    if (!t->letters || !t->digits)
        return 0;
    char low[32];
    lower_word(f->s, t->start, t->end, low, sizeof(low));
    for (size_t i = 0; i < NELEM(glued); i++) {
        size_t n = strlen(glued[i]);
        if (strncmp(low, glued[i], n) != 0 || !low[n])
            continue;
        if (!is_digit(low[n]) && strcmp(glued[i], "iban") != 0)
            continue;
        tok_t kw = {.start = t->start, .end = t->start + n, .kind = TOK_ALNUM};
        f->ctx = keyword_of(f->s, &kw);
        f->since = 0;
        t->start += n;
        recount(f, t);
        return 1;
    }
    return 0;
}

static int identify(finder_t *f, lexer_t *lx, tok_t *t)
{
    if (ctx_has(f, GS_SCREEN_ID_PASSPORT) && try_passport(f, lx, t))
        return 1;
    if (t->kind != TOK_ALNUM)
        return 0;
    if (try_iban(f, lx, t))
        return 1;
    if (split_glued(f, t) && try_iban(f, lx, t))
        return 1;
    return try_bic(f, lx, t) || try_digits(f, t);
}

static void step(finder_t *f, lexer_t *lx, tok_t t)
{
    if (f->ctx && f->since > CONTEXT_WORDS)
        f->ctx = NULL;
    int caps_word =
        t.kind == TOK_ALNUM && t.digits == 0 && t.letters >= 2 && t.capitals == t.letters;
    if (identify(f, lx, &t)) {
        f->prev_caps_word = 0;
        return;
    }
    f->prev_caps_word = caps_word;
    const keyword_t *k = t.digits ? NULL : keyword_of(f->s, &t);
    if (k) {
        f->ctx = k;
        f->since = 0;
    } else if (t.digits) {
        f->ctx = NULL; /* another number: the context word was about it */
    } else {
        f->since++;
    }
}

size_t gs_screen_idents_find(const char *text, size_t len, gs_screen_ident_t *out, size_t cap)
{
    if (!text)
        return 0;
    finder_t f = {.s = (const unsigned char *)text, .len = len, .out = out, .cap = out ? cap : 0};
    lexer_t lx = {.s = f.s, .len = len, .pos = 0};
    tok_t t;
    while (lex_next(&lx, &t))
        step(&f, &lx, t);
    return f.found;
}
