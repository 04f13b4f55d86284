/* The UN Security Council Consolidated List XML (sc-sanctions.xsd): one
 * INDIVIDUAL or ENTITY element at a time from a streaming reader, each
 * expanded into a small tree (list_xml.c: no network, no entity expansion,
 * no DTD). */
#include <stdio.h>
#include <string.h>

#include "list_parse.h"

#define child_text gs_screen_xml_child

#define TEXT_MAX 2048

/* FIRST_NAME .. FOURTH_NAME in the list's order: the UN names no family
 * part reliably (docs/SCREEN.md), so none is recorded. */
static gs_err_t primary_name(gs_screen_listdata_t *d, xmlNodePtr e, char *errstr, size_t n)
{
    static const char *const parts[] = {"FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME"};
    char whole[4 * TEXT_MAX + 4] = "", part[TEXT_MAX];
    for (size_t i = 0; i < 4; i++) {
        child_text(e, parts[i], part, sizeof(part));
        if (!*part)
            continue;
        size_t len = strlen(whole);
        snprintf(whole + len, sizeof(whole) - len, "%s%s", len ? " " : "", part);
    }
    return gs_screen_listdata_name(d, GS_SCREEN_NAME_PRIMARY, whole, NULL, errstr, n);
}

/* Aliases: QUALITY Good / a.k.a. is an alias; Low, f.k.a. or none, weak. */
static gs_err_t alias(gs_screen_listdata_t *d, xmlNodePtr a, char *errstr, size_t n)
{
    char q[64], name[TEXT_MAX];
    child_text(a, "QUALITY", q, sizeof(q));
    child_text(a, "ALIAS_NAME", name, sizeof(name));
    int good = !strcmp(q, "Good") || !strcmp(q, "a.k.a.");
    return gs_screen_listdata_name(d, good ? GS_SCREEN_NAME_ALIAS : GS_SCREEN_NAME_WEAK_ALIAS, name,
                                   NULL, errstr, n);
}

/* EXACT / BETWEEN / year: "1964-07-17", "1960-1965", "1960". */
static gs_err_t dob(gs_screen_listdata_t *d, xmlNodePtr b, char *errstr, size_t n)
{
    char raw[64], date[64], year[16], from[16], to[16], out[80];
    gs_screen_date_norm(child_text(b, "DATE", raw, sizeof(raw)), date, sizeof(date));
    child_text(b, "YEAR", year, sizeof(year));
    child_text(b, "FROM_YEAR", from, sizeof(from));
    child_text(b, "TO_YEAR", to, sizeof(to));
    if (*date)
        snprintf(out, sizeof(out), "%s", date);
    else if (*from && *to)
        snprintf(out, sizeof(out), "%s-%s", from, to);
    else
        snprintf(out, sizeof(out), "%s", year);
    return gs_screen_listdata_dob(d, out, errstr, n);
}

static gs_err_t document(gs_screen_listdata_t *d, xmlNodePtr doc, char *errstr, size_t n)
{
    char type[256], number[TEXT_MAX];
    child_text(doc, "TYPE_OF_DOCUMENT", type, sizeof(type));
    child_text(doc, "NUMBER", number, sizeof(number));
    return gs_screen_listdata_ident(d, *type ? type : "document", number, errstr, n);
}

/* One child of an entry: what it adds, if anything. */
static gs_err_t entry_child(gs_screen_listdata_t *d, xmlNodePtr c, char *errstr, size_t n)
{
    const char *name = (const char *)c->name;
    char text[TEXT_MAX];
    if (!strcmp(name, "NAME_ORIGINAL_SCRIPT")) {
        xmlChar *t = xmlNodeGetContent(c);
        gs_err_t err = gs_screen_listdata_name(d, GS_SCREEN_NAME_ORIGINAL, t ? (const char *)t : "",
                                               NULL, errstr, n);
        xmlFree(t);
        return err;
    }
    if (!strcmp(name, "INDIVIDUAL_ALIAS") || !strcmp(name, "ENTITY_ALIAS"))
        return alias(d, c, errstr, n);
    if (!strcmp(name, "INDIVIDUAL_DATE_OF_BIRTH"))
        return dob(d, c, errstr, n);
    if (!strcmp(name, "INDIVIDUAL_DOCUMENT"))
        return document(d, c, errstr, n);
    if (!strcmp(name, "NATIONALITY"))
        return gs_screen_listdata_country(d, child_text(c, "VALUE", text, sizeof(text)), errstr, n);
    if (!strcmp(name, "INDIVIDUAL_ADDRESS") || !strcmp(name, "ENTITY_ADDRESS"))
        return gs_screen_listdata_country(d, child_text(c, "COUNTRY", text, sizeof(text)), errstr,
                                          n);
    return GS_OK;
}

static gs_err_t entry(gs_screen_listdata_t *d, const char *list, xmlNodePtr e, int person,
                      char *errstr, size_t n)
{
    char id[128];
    child_text(e, "REFERENCE_NUMBER", id, sizeof(id));
    if (!*id)
        child_text(e, "DATAID", id, sizeof(id));
    gs_err_t err = gs_screen_listdata_entry(
        d, list, id, person ? GS_SCREEN_PERSON : GS_SCREEN_ENTITY, errstr, n);
    if (!err)
        err = primary_name(d, e, errstr, n);
    for (xmlNodePtr c = e->children; c && !err; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            err = entry_child(d, c, errstr, n);
    if (!err)
        gs_screen_listdata_end(d);
    return err;
}

typedef struct un_ctx {
    gs_screen_listdata_t *d;
    const char *list;
} un_ctx_t;

static gs_err_t on_entry(void *ctx, xmlNodePtr e, char *errstr, size_t n)
{
    const un_ctx_t *c = ctx;
    return entry(c->d, c->list, e, !strcmp((const char *)e->name, "INDIVIDUAL"), errstr, n);
}

/* The root CONSOLIDATED_LIST's dateGenerated (2020-11-24T20:23:07.617-05:00)
 * dates the list. */
gs_err_t gs_screen_parse_un_xml(const char *path, const char *list, gs_screen_listdata_t *d,
                                char *errstr, size_t n)
{
    static const char *const elems[] = {"INDIVIDUAL", "ENTITY", NULL};
    un_ctx_t c = {d, list};
    gs_screen_xml_walk_t w = {.path = path,
                              .root = "CONSOLIDATED_LIST",
                              .elems = elems,
                              .fn = on_entry,
                              .ctx = &c,
                              .date_attr = "dateGenerated",
                              .d = d};
    return gs_screen_xml_walk(&w, errstr, n);
}
