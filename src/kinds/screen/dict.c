/* The payment-context dictionaries (screen_dict.h) in one Aho-Corasick
 * automaton (aho.c), built at start-up from the static tables below.
 *
 * Entries are written as the normaliser leaves text: lower case, ё as е.
 * A trailing '*' marks a stem, which also matches the words it starts
 * ("оплат*": оплата, оплаты, оплатить). Dotted abbreviations need no
 * trailing dot ("l.l.c" matches "l.l.c."), since a dot ends a word anyway. */
#include "govstream/screen_dict.h"

#include <stdlib.h>
#include <string.h>

#include "aho.h"
#include "internal.h"

#define R        GS_SCREEN_DICT_RU
#define U        GS_SCREEN_DICT_UK
#define E        GS_SCREEN_DICT_EN
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

typedef struct entry {
    const char *word;
    unsigned langs;
} entry_t;

/* Legal forms: their abbreviations (with the dotted and the transliterated
 * spellings payment texts use), and their full names. */
static const entry_t legal_forms[] = {
    {"ооо", R},
    {"о.о.о", R},
    {"оао", R},
    {"о.а.о", R},
    {"зао", R},
    {"з.а.о", R},
    {"пао", R},
    {"п.а.о", R},
    {"ао", R},
    {"нао", R},
    {"нко", R},
    {"ано", R},
    {"ип", R},
    {"гуп", R},
    {"муп", R},
    {"фгуп", R},
    {"тоо", R},
    {"чп", R | U},
    {"общество с ограниченной ответственностью", R},
    {"акционерное общество", R},
    {"открытое акционерное общество", R},
    {"закрытое акционерное общество", R},
    {"публичное акционерное общество", R},
    {"непубличное акционерное общество", R},
    {"индивидуальный предприниматель", R},
    {"некоммерческая организация", R},
    {"автономная некоммерческая организация", R},
    {"унитарное предприятие", R},
    {"товарищество с ограниченной ответственностью", R},
    {"частное предприятие", R},
    {"тов", U},
    {"т.о.в", U},
    {"тдв", U},
    {"пп", U},
    {"прат", U},
    {"пат", U},
    {"ат", U},
    {"фоп", U},
    {"дп", U},
    {"кп", U},
    {"товариство з обмеженою відповідальністю", U},
    {"товариство з додатковою відповідальністю", U},
    {"акціонерне товариство", U},
    {"приватне акціонерне товариство", U},
    {"публічне акціонерне товариство", U},
    {"фізична особа-підприємець", U},
    {"фізична особа - підприємець", U},
    {"фізична особа підприємець", U},
    {"приватне підприємство", U},
    {"державне підприємство", U},
    {"комунальне підприємство", U},
    {"llc", E},
    {"l.l.c", E},
    {"ltd", E},
    {"limited", E},
    {"inc", E},
    {"co", E},
    {"corp", E},
    {"corporation", E},
    {"gmbh", E},
    {"ag", E},
    {"kg", E},
    {"sa", E},
    {"s.a", E},
    {"plc", E},
    {"llp", E},
    {"lp", E},
    {"bv", E},
    {"b.v", E},
    {"nv", E},
    {"n.v", E},
    {"srl", E},
    {"s.r.l", E},
    {"sarl", E},
    {"s.p.a", E},
    {"pte", E},
    {"company", E},
    {"jsc", E},
    {"ojsc", E},
    {"cjsc", E},
    {"pjsc", E},
    {"fze", E},
    {"fzco", E},
    {"fz-llc", E},
    {"fzc", E},
    {"limited liability company", E},
    {"joint stock company", E},
    {"joint-stock company", E},
    {"public limited company", E},
    {"private limited company", E},
    {"limited liability partnership", E},
    {"sole proprietor", E},
    /* Latin spellings of the Russian and Ukrainian abbreviations */
    {"ooo", R | E},
    {"oao", R | E},
    {"zao", R | E},
    {"pao", R | E},
    {"ao", R | E},
    {"tov", U | E},
    {"prat", U | E},
    {"fop", U | E},
};

/* Words that make a text a payment and point at its payee. */
static const entry_t payment_triggers[] = {
    {"оплат*", R | U},
    {"предоплат*", R},
    {"передоплат*", U},
    {"платеж*", R},
    {"платіж*", U},
    {"перевод*", R},
    {"переказ*", U},
    {"перечислен*", R},
    {"перерахуван*", U},
    {"в пользу", R},
    {"на счет", R},
    {"на расчетный счет", R},
    {"получател*", R},
    {"бенефициар*", R},
    {"плательщик*", R},
    {"по договору", R},
    {"по контракту", R},
    {"по счету", R},
    {"счет-фактур*", R},
    {"счет на оплату", R},
    {"за товар*", R | U},
    {"за услуги", R},
    {"за работы", R},
    {"ндс", R},
    {"без ндс", R},
    {"в т.ч. ндс", R},
    {"в том числе ндс", R},
    {"назначение платежа", R},
    {"аванс*", R | U},
    {"возврат*", R},
    {"погашени*", R},
    {"на користь", U},
    {"на рахунок", U},
    {"на поточний рахунок", U},
    {"отримувач*", U},
    {"бенефіціар*", U},
    {"платник*", U},
    {"за договором", U},
    {"згідно з договором", U},
    {"згідно договору", U},
    {"рахунок-фактур*", U},
    {"за рахунком", U},
    {"за послуги", U},
    {"за роботи", U},
    {"пдв", U},
    {"без пдв", U},
    {"у т.ч. пдв", U},
    {"в т.ч. пдв", U},
    {"у тому числі пдв", U},
    {"призначення платежу", U},
    {"повернення", U},
    {"invoice*", E},
    {"payment*", E},
    {"prepayment*", E},
    {"transfer*", E},
    {"remittance*", E},
    {"beneficiar*", E},
    {"remitter", E},
    {"payer", E},
    {"payee", E},
    {"in favour of", E},
    {"in favor of", E},
    {"on behalf of", E},
    {"for goods", E},
    {"for the goods", E},
    {"for services", E},
    {"contract*", E},
    {"under contract", E},
    {"as per invoice", E},
    {"vat", E},
    {"without vat", E},
    {"excluding vat", E},
    {"including vat", E},
    {"purpose of payment", E},
    {"advance payment", E},
    {"wire transfer", E},
};

/* Frequent words of payment texts that are also parts of organisation
 * names ("ТОРГОВЫЙ ДОМ", "SERVICE GROUP"): a match made only of these is
 * no evidence of a name. */
static const entry_t common_words[] = {
    {"банк", R | U},      {"банка", R},
    {"банку", R | U},     {"банком", R},
    {"банке", R},         {"группа", R},
    {"группы", R},        {"торгов*", R | U},
    {"дом", R},           {"дома", R},
    {"холдинг*", R | U},  {"сервис*", R},
    {"компани*", R},      {"центр*", R | U},
    {"трейд*", R | U},    {"инвест*", R},
    {"строй*", R},        {"энерг*", R},
    {"технолог*", R},     {"промышлен*", R},
    {"завод*", R | U},    {"фабрик*", R | U},
    {"агро*", R | U},     {"транс*", R | U},
    {"логистик*", R},     {"консалтинг*", R | U},
    {"финанс*", R},       {"капитал*", R},
    {"партнер*", R | U},  {"альянс", R | U},
    {"союз", R | U},      {"ресурс*", R | U},
    {"систем*", R | U},   {"регион*", R},
    {"импорт*", R},       {"экспорт*", R},
    {"производств*", R},  {"национальн*", R},
    {"российск*", R},     {"украинск*", R},
    {"международн*", R},  {"група", U},
    {"групи", U},         {"дім", U},
    {"будинок", U},       {"сервіс*", U},
    {"компані*", U},      {"інвест*", U},
    {"будівельн*", U},    {"енерг*", U},
    {"промислов*", U},    {"логістик*", U},
    {"фінанс*", U},       {"капітал*", U},
    {"регіон*", U},       {"імпорт*", U},
    {"експорт*", U},      {"виробництв*", U},
    {"національн*", U},   {"українськ*", U},
    {"міжнародн*", U},    {"bank", E},
    {"banks", E},         {"group", E},
    {"trade*", E},        {"trading", E},
    {"international", E}, {"intl", E},
    {"service*", E},      {"company", E},
    {"companies", E},     {"center", E},
    {"centre", E},        {"holding*", E},
    {"global", E},        {"invest*", E},
    {"capital", E},       {"financ*", E},
    {"energy", E},        {"tech*", E},
    {"industr*", E},      {"logistic*", E},
    {"consult*", E},      {"management", E},
    {"partner*", E},      {"alliance", E},
    {"resource*", E},     {"system*", E},
    {"solution*", E},     {"enterprise*", E},
    {"import*", E},       {"export*", E},
    {"shipping", E},      {"marine", E},
    {"transport*", E},    {"development", E},
    {"national", E},      {"general", E},
    {"united", E},        {"world", E},
    {"commerc*", E},      {"agro", E},
    {"oil", E},           {"gas", E},
    {"metal*", E},        {"product*", E},
    {"project*", E},
};

/* Words that start the clauses of payment texts, often capitalised
 * without a full stop before them ("получатель Петров Сумма ..."): no
 * name, and no sign of another person next to a name. */
static const entry_t payment_words[] = {
    {"акт", R},      {"акта", R},        {"акту", R},      {"сумма", R},        {"сумму", R},
    {"суммы", R},    {"счет", R},        {"счета", R},     {"счету", R},        {"счете", R},
    {"счетом", R},   {"срок", R},        {"сроки", R},     {"согласно", R},     {"назначение", R},
    {"код", R},      {"дата", R | U},    {"договор", R},   {"договора", R},     {"договору", R | U},
    {"договоре", R}, {"итого", R},       {"всего", R},     {"поставка", R | U}, {"поставки", R | U},
    {"услуги", R},   {"услуг", R},       {"товар", R},     {"товары", R},       {"товаров", R},
    {"работ", R},    {"работы", R},      {"сума", U},      {"суму", U},         {"суми", U},
    {"рахунок", U},  {"рахунку", U},     {"рахунка", U},   {"рахунком", U},     {"строк", U},
    {"згідно", U},   {"призначення", U}, {"договір", U},   {"послуги", U},      {"послуг", U},
    {"товари", U},   {"товарів", U},     {"робіт", U},     {"amount", E},       {"sum", E},
    {"total", E},    {"ref", E},         {"reference", E}, {"balance", E},      {"delivery", E},
    {"advance", E},  {"charges", E},     {"purpose", E},   {"date", E},         {"account", E},
    {"contract", E}, {"goods", E},       {"terms", E},     {"due", E},
};

/* Month names as dates write them: common words too, so that no date
 * reads as a name ("января" is not "Anwari"). Whole words only: a prefix
 * would take "Мартынов". */
static const entry_t months[] = {
    {"январь", R},   {"января", R},    {"январе", R},  {"февраль", R},  {"февраля", R},
    {"феврале", R},  {"март", R},      {"марта", R},   {"марте", R},    {"апрель", R},
    {"апреля", R},   {"апреле", R},    {"мая", R},     {"мае", R},      {"июнь", R},
    {"июня", R},     {"июне", R},      {"июль", R},    {"июля", R},     {"июле", R},
    {"август", R},   {"августа", R},   {"августе", R}, {"сентябрь", R}, {"сентября", R},
    {"сентябре", R}, {"октябрь", R},   {"октября", R}, {"октябре", R},  {"ноябрь", R},
    {"ноября", R},   {"ноябре", R},    {"декабрь", R}, {"декабря", R},  {"декабре", R},
    {"січень", U},   {"січня", U},     {"лютий", U},   {"лютого", U},   {"березень", U},
    {"березня", U},  {"квітень", U},   {"квітня", U},  {"травень", U},  {"травня", U},
    {"червень", U},  {"червня", U},    {"липень", U},  {"липня", U},    {"серпень", U},
    {"серпня", U},   {"вересень", U},  {"вересня", U}, {"жовтень", U},  {"жовтня", U},
    {"листопад", U}, {"листопада", U}, {"грудень", U}, {"грудня", U},   {"january", E},
    {"february", E}, {"march", E},     {"april", E},   {"june", E},     {"july", E},
    {"august", E},   {"september", E}, {"october", E}, {"november", E}, {"december", E},
};

struct gs_screen_dict {
    gs_screen_aho_t *aho;
    size_t n;
    const char **words; /* per id: the table's text (ID_CONTEXT: ident.c's) */
    unsigned char *cats;
    unsigned char *langs;
};

static const char *const cat_names[GS_SCREEN_DICT__COUNT] = {"LEGAL_FORM", "PAYMENT_TRIGGER",
                                                             "COMMON_WORD", "ID_CONTEXT"};

const char *gs_screen_dict_cat_name(gs_screen_dict_cat_t cat)
{
    return (unsigned)cat < GS_SCREEN_DICT__COUNT ? cat_names[cat] : "?";
}

/* The text is as the normaliser leaves it: valid UTF-8, no capitals, no ё,
 * single spaces inside only. An entry that is not would never match. */
static int normalised(const char *word, size_t len)
{
    const unsigned char *s = (const unsigned char *)word;
    size_t used = 0;
    if (len == 0 || s[0] == ' ' || s[len - 1] == ' ' || strstr(word, "  "))
        return 0;
    for (size_t i = 0; i < len; i += used) {
        uint32_t cp = gs_cp_decode(s + i, len - i, &used);
        if (cp == GS_CP_BAD || cp == '*' || cp == 0x451 || gs_cp_lower(cp) != cp)
            return 0;
    }
    return 1;
}

/* Languages of an identifier context word, from its letters: Latin is the
 * English spelling, і ї є ґ are Ukrainian, other Cyrillic Russian. */
static unsigned context_langs(const char *word)
{
    if ((unsigned char)word[0] < 0x80)
        return E;
    static const char *const uk[] = {"і", "ї", "є", "ґ"};
    for (size_t i = 0; i < NELEM(uk); i++)
        if (strstr(word, uk[i]))
            return U;
    return R;
}

typedef struct builder {
    gs_screen_dict_t *d;
    gs_screen_aho_pattern_t *pats;
    size_t n;
} builder_t;

static gs_err_t add(builder_t *b, const char *word, unsigned langs, gs_screen_dict_cat_t cat,
                    uint32_t flags, char *errstr, size_t errstr_size)
{
    size_t len = strlen(word);
    if (len > 0 && word[len - 1] == '*') {
        len--;
        flags |= GS_SCREEN_AHO_PREFIX;
    }
    if (!normalised(word, len))
        return gs_fail(errstr, errstr_size, GS_ERR_INTERNAL,
                       "screen dict: %s entry %zu is not normalised", cat_names[cat], b->n);
    b->pats[b->n] =
        (gs_screen_aho_pattern_t){.bytes = word, .len = len, .tag = (uint32_t)cat, .flags = flags};
    b->d->words[b->n] = word;
    b->d->cats[b->n] = (unsigned char)cat;
    b->d->langs[b->n] = (unsigned char)langs;
    b->n++;
    return GS_OK;
}

static gs_err_t add_table(builder_t *b, const entry_t *t, size_t n, gs_screen_dict_cat_t cat,
                          char *errstr, size_t errstr_size)
{
    gs_err_t err = GS_OK;
    for (size_t i = 0; i < n && !err; i++)
        err = add(b, t[i].word, t[i].langs, cat, 0, errstr, errstr_size);
    return err;
}

/* ident.c's context words: a Cyrillic one is a token of its own before
 * digits there, a Latin one only when ident.c splits it off ("inn7707..."). */
static gs_err_t add_context_words(builder_t *b, char *errstr, size_t errstr_size)
{
    gs_err_t err = GS_OK;
    int prefix = 0, glued = 0;
    const char *w;
    for (size_t i = 0; !err && (w = gs_screen_ident_context_word(i, &prefix, &glued)); i++) {
        uint32_t flags = prefix ? GS_SCREEN_AHO_PREFIX : 0;
        if (glued || (unsigned char)w[0] >= 0x80)
            flags |= GS_SCREEN_AHO_GLUED;
        err = add(b, w, context_langs(w), GS_SCREEN_DICT_ID_CONTEXT, flags, errstr, errstr_size);
    }
    return err;
}

static size_t context_word_count(void)
{
    int prefix = 0, glued = 0;
    size_t n = 0;
    while (gs_screen_ident_context_word(n, &prefix, &glued))
        n++;
    return n;
}

static gs_err_t build(gs_screen_dict_t *d, char *errstr, size_t errstr_size)
{
    size_t total = NELEM(legal_forms) + NELEM(payment_triggers) + NELEM(common_words) +
                   NELEM(months) + NELEM(payment_words) + context_word_count();
    builder_t b = {.d = d, .pats = calloc(total, sizeof(*b.pats))};
    d->words = calloc(total, sizeof(*d->words));
    d->cats = calloc(total, 1);
    d->langs = calloc(total, 1);
    gs_err_t err = GS_OK;
    if (!b.pats || !d->words || !d->cats || !d->langs)
        err = gs_fail(errstr, errstr_size, GS_ERR_NOMEM, "screen dict: out of memory");
    if (!err)
        err = add_table(&b, legal_forms, NELEM(legal_forms), GS_SCREEN_DICT_LEGAL_FORM, errstr,
                        errstr_size);
    if (!err)
        err = add_table(&b, payment_triggers, NELEM(payment_triggers),
                        GS_SCREEN_DICT_PAYMENT_TRIGGER, errstr, errstr_size);
    if (!err)
        err = add_table(&b, common_words, NELEM(common_words), GS_SCREEN_DICT_COMMON_WORD, errstr,
                        errstr_size);
    if (!err)
        err = add_table(&b, months, NELEM(months), GS_SCREEN_DICT_COMMON_WORD, errstr, errstr_size);
    if (!err)
        err = add_table(&b, payment_words, NELEM(payment_words), GS_SCREEN_DICT_COMMON_WORD, errstr,
                        errstr_size);
    if (!err)
        err = add_context_words(&b, errstr, errstr_size);
    if (!err)
        err = gs_screen_aho_new(&d->aho, b.pats, b.n, errstr, errstr_size);
    d->n = b.n;
    free(b.pats);
    return err == GS_ERR_INVALID_ARG ? GS_ERR_INTERNAL : err; /* a repeated entry: our bug */
}

gs_err_t gs_screen_dict_new(gs_screen_dict_t **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    gs_screen_dict_t *d = calloc(1, sizeof(*d));
    if (!d)
        return gs_fail(errstr, errstr_size, GS_ERR_NOMEM, "screen dict: out of memory");
    gs_err_t err = build(d, errstr, errstr_size);
    if (err) {
        gs_screen_dict_destroy(d);
        return err;
    }
    *out = d;
    return GS_OK;
}

void gs_screen_dict_destroy(gs_screen_dict_t *d)
{
    if (!d)
        return;
    gs_screen_aho_destroy(d->aho);
    free(d->words);
    free(d->cats);
    free(d->langs);
    free(d);
}

/* The first `cap` hits in order (as aho.c keeps its matches). */
typedef struct kept {
    const gs_screen_dict_t *d;
    gs_screen_dict_hit_t *out;
    size_t cap, found;
} kept_t;

static int before(const gs_screen_dict_hit_t *x, const gs_screen_dict_hit_t *y)
{
    if (x->start != y->start)
        return x->start < y->start;
    if (x->end != y->end)
        return x->end > y->end;
    return x->pattern < y->pattern;
}

static void keep_hit(void *ctx, const gs_screen_aho_match_t *m)
{
    kept_t *k = ctx;
    gs_screen_dict_hit_t h = {
        .category = (gs_screen_dict_cat_t)m->tag,
        .pattern = m->pattern,
        .langs = k->d->langs[m->pattern],
        .start = m->start,
        .end = m->end,
    };
    size_t i = k->found < k->cap ? k->found : k->cap;
    k->found++;
    if (i == k->cap && (k->cap == 0 || !before(&h, &k->out[k->cap - 1])))
        return;
    if (i == k->cap)
        i--;
    while (i > 0 && before(&h, &k->out[i - 1])) {
        k->out[i] = k->out[i - 1];
        i--;
    }
    k->out[i] = h;
}

size_t gs_screen_dict_scan(const gs_screen_dict_t *d, const char *norm_text, size_t len,
                           gs_screen_dict_hit_t *out, size_t cap)
{
    kept_t k = {.d = d, .out = out, .cap = cap};
    return gs_screen_aho_each(d->aho, norm_text, len, keep_hit, &k);
}

const char *gs_screen_dict_pattern(const gs_screen_dict_t *d, uint32_t id)
{
    return id < d->n ? d->words[id] : NULL;
}

gs_screen_dict_cat_t gs_screen_dict_category(const gs_screen_dict_t *d, uint32_t id)
{
    return id < d->n ? (gs_screen_dict_cat_t)d->cats[id] : GS_SCREEN_DICT__COUNT;
}

unsigned gs_screen_dict_langs(const gs_screen_dict_t *d, uint32_t id)
{
    return id < d->n ? d->langs[id] : 0;
}

size_t gs_screen_dict_count(const gs_screen_dict_t *d)
{
    return d->n;
}

size_t gs_screen_dict_states(const gs_screen_dict_t *d)
{
    return gs_screen_aho_states(d->aho);
}
