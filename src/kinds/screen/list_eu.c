/* The EU Financial Sanctions Files XML export (namespace
 * http://eu.europa.ec/fpi/fsd/export, root <export generationDate=...>):
 * one sanctionEntity per designation, its facts as attributes of child
 * elements (nameAlias, identification, birthdate, citizenship, address). */
#include <stdio.h>
#include <string.h>

#include "list_parse.h"

#define TEXT_MAX 2048

typedef struct eu_ctx {
    gs_screen_listdata_t *d;
    const char *list;
} eu_ctx_t;

/* Any letter from U+0370 on (Greek, Cyrillic, Arabic, CJK ...) other than
 * the Latin Extended Additional block: the name is in its own script. */
static int non_latin(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned cp = *p, k = 0;
        if (cp >= 0xf0)
            cp &= 0x07, k = 3;
        else if (cp >= 0xe0)
            cp &= 0x0f, k = 2;
        else if (cp >= 0xc0)
            cp &= 0x1f, k = 1;
        for (p++; k && (*p & 0xc0) == 0x80; k--, p++)
            cp = (cp << 6) | (*p & 0x3f);
        if (cp >= 0x370 && !(cp >= 0x1e00 && cp <= 0x1eff) && !(cp >= 0x2000 && cp <= 0x206f))
            return 1;
    }
    return 0;
}

/* The first Latin-script nameAlias is the primary name (the export names none); then
 * strong="true" is an alias and "false" a weak one; a name in a non-Latin
 * script is the original-script name. wholeName, else the parts. */
static gs_err_t name_alias(gs_screen_listdata_t *d, xmlNodePtr a, int *have_primary, char *errstr,
                           size_t n)
{
    char whole[TEXT_MAX], fn[TEXT_MAX], mn[TEXT_MAX], ln[TEXT_MAX], strong[16];
    gs_screen_xml_attr(a, "wholeName", whole, sizeof(whole));
    gs_screen_xml_attr(a, "firstName", fn, sizeof(fn));
    gs_screen_xml_attr(a, "middleName", mn, sizeof(mn));
    gs_screen_xml_attr(a, "lastName", ln, sizeof(ln));
    gs_screen_xml_attr(a, "strong", strong, sizeof(strong));
    if (!*whole)
        snprintf(whole, sizeof(whole), "%.680s %.680s %.680s", fn, mn, ln);
    gs_screen_name_kind_t kind = non_latin(whole)          ? GS_SCREEN_NAME_ORIGINAL
                                 : !*have_primary          ? GS_SCREEN_NAME_PRIMARY
                                 : strcmp(strong, "false") ? GS_SCREEN_NAME_ALIAS
                                                           : GS_SCREEN_NAME_WEAK_ALIAS;
    *have_primary |= kind == GS_SCREEN_NAME_PRIMARY && whole[strspn(whole, " ")];
    return gs_screen_listdata_name(d, kind, whole, *ln ? ln : NULL, errstr, n);
}

static gs_err_t birthdate(gs_screen_listdata_t *d, xmlNodePtr b, char *errstr, size_t n)
{
    char raw[64], date[64];
    gs_screen_xml_attr(b, "birthdate", raw, sizeof(raw));
    if (!*raw)
        gs_screen_xml_attr(b, "year", raw, sizeof(raw));
    gs_screen_date_norm(raw, date, sizeof(date));
    return gs_screen_listdata_dob(d, date, errstr, n);
}

/* The country's name as written (countryDescription), like the other
 * lists; the ISO code only when there is no name. */
static gs_err_t country(gs_screen_listdata_t *d, xmlNodePtr c, char *errstr, size_t n)
{
    char name[256];
    gs_screen_xml_attr(c, "countryDescription", name, sizeof(name));
    if (!*name || !strcmp(name, "UNKNOWN"))
        gs_screen_xml_attr(c, "countryIso2Code", name, sizeof(name));
    return gs_screen_listdata_country(d, strcmp(name, "00") ? name : "", errstr, n);
}

static gs_err_t eu_child(gs_screen_listdata_t *d, xmlNodePtr c, int *names, char *errstr, size_t n)
{
    const char *name = (const char *)c->name;
    char type[256], number[TEXT_MAX];
    if (!strcmp(name, "nameAlias"))
        return name_alias(d, c, names, errstr, n);
    if (!strcmp(name, "identification")) {
        /* the description ("National passport") maps and reads better
         * than the code ("id") */
        if (!*gs_screen_xml_attr(c, "identificationTypeDescription", type, sizeof(type)))
            gs_screen_xml_attr(c, "identificationTypeCode", type, sizeof(type));
        return gs_screen_listdata_ident(
            d, type, gs_screen_xml_attr(c, "number", number, sizeof(number)), errstr, n);
    }
    if (!strcmp(name, "birthdate"))
        return birthdate(d, c, errstr, n);
    if (!strcmp(name, "citizenship") || !strcmp(name, "address"))
        return country(d, c, errstr, n);
    return GS_OK;
}

/* subjectType code "person" or "enterprise". */
static gs_err_t on_entity(void *ctx, xmlNodePtr e, char *errstr, size_t n)
{
    const eu_ctx_t *c = ctx;
    char id[64], code[32];
    gs_screen_xml_attr(e, "logicalId", id, sizeof(id));
    xmlNodePtr st = gs_screen_xml_next(e->children, "subjectType");
    int person = !strcmp(gs_screen_xml_attr(st, "code", code, sizeof(code)), "person");
    gs_err_t err = gs_screen_listdata_entry(
        c->d, c->list, id, person ? GS_SCREEN_PERSON : GS_SCREEN_ENTITY, errstr, n);
    int names = 0;
    for (xmlNodePtr k = e->children; k && !err; k = k->next)
        if (k->type == XML_ELEMENT_NODE)
            err = eu_child(c->d, k, &names, errstr, n);
    if (!err)
        gs_screen_listdata_end(c->d);
    return err;
}

gs_err_t gs_screen_parse_eu_fsf_xml(const char *path, const char *list, gs_screen_listdata_t *d,
                                    char *errstr, size_t n)
{
    static const char *const elems[] = {"sanctionEntity", NULL};
    eu_ctx_t c = {d, list};
    gs_screen_xml_walk_t w = {.path = path,
                              .root = "export",
                              .elems = elems,
                              .fn = on_entity,
                              .ctx = &c,
                              .date_attr = "generationDate",
                              .d = d};
    return gs_screen_xml_walk(&w, errstr, n);
}
