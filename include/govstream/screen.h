/* govstream - the text foundations of the screen kind (issue 12, SPEC 1.5;
 * src/kinds/screen/): identifiers in payment text with their checksums,
 * Cyrillic-to-Latin transliteration of names (BGN/PCGN 1947 for Russian, the
 * Ukrainian national system of 2010), and the language by script ratios.
 * docs/SCREEN.md gives the rules. Nothing here allocates, keeps state
 * between calls or needs Kafka: every function reads the caller's bytes and
 * writes into the caller's buffers. Texts are UTF-8; malformed bytes are
 * tolerated (they count as separators, or are copied through). */
#ifndef GOVSTREAM_SCREEN_H
#define GOVSTREAM_SCREEN_H

#include <stddef.h>
#include <stdint.h>

#include "govstream/common.h"
#include "govstream/kind.h"
#include "govstream/schemas.h"

/* ---- identifiers (ident.c) ------------------------------------------------------ */

typedef enum gs_screen_id_type {
    GS_SCREEN_ID_IBAN = 0, /* ISO 13616: country, length and BBAN format of the SWIFT registry */
    GS_SCREEN_ID_INN,      /* Russian taxpayer number: 10 (organisation) or 12 (person) digits */
    GS_SCREEN_ID_RNOKPP, /* Ukrainian taxpayer number of a person (РНОКПП, "ІПН"): 10 digits */
    GS_SCREEN_ID_EDRPOU,   /* Ukrainian register code of a legal entity (ЄДРПОУ): 8 digits */
    GS_SCREEN_ID_OGRN,     /* Russian primary state registration number: 13 digits */
    GS_SCREEN_ID_OGRNIP,   /* the same for a sole trader (ОГРНИП): 15 digits */
    GS_SCREEN_ID_BIC,      /* SWIFT/BIC, ISO 9362: 8 or 11 characters */
    GS_SCREEN_ID_PASSPORT, /* passport-like number after a context word (format only) */
    GS_SCREEN_ID__COUNT
} gs_screen_id_type_t;

/* Room for a normalised value and its NUL: IBANs have at most 34
 * characters; longer candidates are not reported. */
#define GS_SCREEN_ID_VALUE_MAX 35

typedef struct gs_screen_ident {
    gs_screen_id_type_t type;
    int valid;         /* 1: the checksum and the format hold (passports: the format) */
    size_t start, end; /* its bytes in the text: [start, end), separators inside included */
    size_t len;        /* of value */
    /* Normalised: spaces and dashes removed, letters upper case (a passport's
     * Cyrillic series stays Cyrillic). NUL-terminated. */
    char value[GS_SCREEN_ID_VALUE_MAX];
} gs_screen_ident_t;

/* "IBAN", "INN", "RNOKPP", "EDRPOU", "OGRN", "OGRNIP", "BIC", "PASSPORT"
 * (the Identifier.type of ScreenResult); "?" out of range. */
const char *gs_screen_id_type_name(gs_screen_id_type_t type);

/* The type named `name` (as gs_screen_id_type_name): GS_OK, or
 * GS_ERR_INVALID_ARG naming it. */
gs_err_t gs_screen_id_type_parse(const char *name, gs_screen_id_type_t *out, char *errstr,
                                 size_t errstr_size);

/* True when the normalised value (upper case, no separators) is a valid
 * identifier of that type: checksum, length and format. For watch-list
 * identifiers and tests; gs_screen_idents_find normalises by itself. */
int gs_screen_ident_valid(gs_screen_id_type_t type, const char *value, size_t len);

/* Finds the identifiers in text[0..len), in text order, typed by context
 * words and checksums (docs/SCREEN.md, "Identifiers"). Writes the first
 * `cap` of them to out and returns how many there are (more than cap: some
 * were left out). Run it on the text before case folding: without a
 * context word a BIC must be written in capitals. */
size_t gs_screen_idents_find(const char *text, size_t len, gs_screen_ident_t *out, size_t cap);

/* ---- transliteration (translit.c) ----------------------------------------------- */

typedef enum gs_screen_translit {
    GS_SCREEN_TRANSLIT_RU = 0, /* BGN/PCGN 1947 (Russian) */
    GS_SCREEN_TRANSLIT_UK,     /* Ukrainian national system (Cabinet of Ministers, res. 55, 2010) */
    GS_SCREEN_TRANSLIT__COUNT
} gs_screen_translit_t;

/* Output bytes (with the NUL) always enough for `len` input bytes: a
 * Cyrillic letter is 2 bytes and gives at most 4 ("щ" -> "shch"); anything
 * else is copied. */
#define GS_SCREEN_TRANSLIT_SIZE(len) (2 * (len) + 1)

/* Transliterates in[0..len) into out (NUL-terminated, *out_len bytes
 * before the NUL) by one system. The output is ASCII for every Cyrillic
 * letter of both alphabets (diacritics folded: BGN/PCGN "ë" is "e"); other
 * characters are copied. Case follows the input ("Щербаков" -> "Shcherbakov",
 * "ЩЕРБАКОВ" -> "SHCHERBAKOV"). GS_ERR_INVALID_ARG when out is too small
 * (out is then "") or sys is unknown. A table lookup per code point. */
gs_err_t gs_screen_translit(gs_screen_translit_t sys, const char *in, size_t len, char *out,
                            size_t out_size, size_t *out_len, char *errstr, size_t errstr_size);

/* The distinct transliterations of a token: the Russian one first, then the
 * Ukrainian one when it differs. */
typedef struct gs_screen_variants {
    size_t n;                    /* 1 or 2 */
    gs_str_t v[2];               /* views into the caller's buffer, NUL-terminated */
    gs_screen_translit_t sys[2]; /* the system that gave each */
} gs_screen_variants_t;

/* Room the variants of `len` bytes need in buf. */
#define GS_SCREEN_VARIANTS_SIZE(len) (2 * GS_SCREEN_TRANSLIT_SIZE(len))

/* Fills *out with the variants of in[0..len), written to buf.
 * GS_ERR_INVALID_ARG when buf is smaller than GS_SCREEN_VARIANTS_SIZE(len). */
gs_err_t gs_screen_translit_variants(const char *in, size_t len, char *buf, size_t buf_size,
                                     gs_screen_variants_t *out, char *errstr, size_t errstr_size);

/* ---- language (lang.c) ---------------------------------------------------------- */

typedef enum gs_screen_lang {
    GS_SCREEN_LANG_UNKNOWN = 0, /* no Latin or Cyrillic letters */
    GS_SCREEN_LANG_RU,
    GS_SCREEN_LANG_UK,
    GS_SCREEN_LANG_EN, /* Latin letters (any language written in them) */
    GS_SCREEN_LANG_MIXED,
    GS_SCREEN_LANG__COUNT
} gs_screen_lang_t;

/* Share of letters each script needs for a text to be mixed. */
#define GS_SCREEN_MIXED_SHARE 0.25

/* What the decision was taken on, for reasons and tests. */
typedef struct gs_screen_lang_stats {
    size_t latin, cyrillic;        /* letters of words without digits */
    size_t uk_letters, ru_letters; /* і ї є ґ and in-word apostrophes; ы э ъ ё */
    size_t uk_words, ru_words;     /* words of one of the two languages only ("та", "что") */
    size_t mixed_tokens;           /* words with both Latin and Cyrillic letters */
} gs_screen_lang_stats_t;

/* "ru", "uk", "en", "mixed", "unknown" (ScreenResult.language). */
const char *gs_screen_lang_name(gs_screen_lang_t lang);

/* The language of text[0..len) (docs/SCREEN.md, "Language"). stats may
 * be NULL. */
gs_screen_lang_t gs_screen_lang_detect(const char *text, size_t len, gs_screen_lang_stats_t *stats);

/* True when the token has both Latin and Cyrillic letters: the homoglyph
 * case ("Ivаnov" with a Cyrillic "а"). */
int gs_screen_token_mixed_script(const char *tok, size_t len);

typedef struct gs_screen_span {
    size_t start, end; /* bytes [start, end) */
} gs_screen_span_t;

/* The words of the text (as govstream/text.h splits them) with both scripts.
 * Writes the first cap to out and returns how many there are. */
size_t gs_screen_mixed_tokens(const char *text, size_t len, gs_screen_span_t *out, size_t cap);

/* ---- normalisation (norm.c) ----------------------------------------------------- */

/* ICU's normaliser and the folding tables: immutable once made, shared by
 * threads. */
typedef struct gs_screen_norm gs_screen_norm_t;

gs_err_t gs_screen_norm_new(gs_screen_norm_t **out, char *errstr, size_t errstr_size);
void gs_screen_norm_destroy(gs_screen_norm_t *nm);

typedef enum gs_screen_script {
    GS_SCREEN_SCRIPT_LATIN = 0, /* letters (and maybe digits), Latin after folding */
    GS_SCREEN_SCRIPT_CYRILLIC,  /* letters (and maybe digits), Cyrillic after folding */
    GS_SCREEN_SCRIPT_DIGITS,    /* digits only */
    GS_SCREEN_SCRIPT_OTHER      /* letters of another script (Arabic, CJK, ...) */
} gs_screen_script_t;

/* What happened to a token on its way (flags). */
#define GS_SCREEN_TOK_HOMOGLYPH 0x01u /* letters of the other script were folded */
#define GS_SCREEN_TOK_STRIPPED  0x02u /* zero-width or bidi characters were removed */
#define GS_SCREEN_TOK_INITIAL   0x04u /* one letter followed by "." in the text */

typedef struct gs_screen_tok {
    uint32_t start, end; /* its bytes in the original text: [start, end) */
    uint32_t off, len;   /* the normalised form: buf + off, len bytes, NUL-terminated */
    uint8_t script;      /* gs_screen_script_t */
    uint8_t flags;       /* GS_SCREEN_TOK_* */
} gs_screen_tok_t;

/* Longest normalised token kept (bytes); longer ones are cut there. */
#define GS_SCREEN_TOK_MAX 128

/* Room in buf always enough for the tokens of `len` input bytes. */
#define GS_SCREEN_NORM_SIZE(len) (4 * (len) + 64)

/* Splits text[0..len) into words and normalises each (docs/SCREEN.md,
 * "Normalisation"): NFKC and case folding, zero-width and bidi characters
 * removed, homoglyphs of a mixed Latin/Cyrillic word folded to its main
 * script, "ё" -> "е", Latin diacritics removed. Writes the first `cap`
 * tokens (text order) to toks and their forms to buf, and returns how many
 * were written: fewer than the text has when cap or buf_size ran out. */
size_t gs_screen_norm_tokens(const gs_screen_norm_t *nm, const char *text, size_t len, char *buf,
                             size_t buf_size, gs_screen_tok_t *toks, size_t cap);

/* The look-alike table (Cyrillic, Latin code point pairs) for tests;
 * returns its length. */
size_t gs_screen_norm_homoglyphs(const uint32_t (**out)[2]);

/* ---- the kind's requests (validate.c) ----------------------------------------- */

#define GS_SCREEN_MAX_TEXT         10000 /* characters (code points) of `text` */
#define GS_SCREEN_MAX_COUNTERPARTY 512

/* SPEC 1.5 limits: GS_ERR_VALIDATION naming the field and the limit. Text
 * fields must be valid UTF-8 without NUL bytes. */
gs_err_t gs_screen_request_validate(const gs_avro_screen_request_t *req, char *errstr,
                                    size_t errstr_size);

/* The kind (kind.c), for src/kinds/kinds.c. */
extern const gs_kind_ops_t gs_kind_screen;

#endif
