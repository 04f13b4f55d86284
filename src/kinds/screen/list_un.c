/* The UN Security Council Consolidated List XML (sc-sanctions.xsd): one
 * INDIVIDUAL or ENTITY element at a time from a streaming reader, each
 * expanded into a small tree. No network, no entity expansion, no DTD. */
#include <stdio.h>
#include <string.h>

#include <libxml/xmlreader.h>

#include "govstream/screen_list.h"

/* The text of the first child element named `name`, or "". */
static const char *child_text(xmlNodePtr n, const char *name, char *buf, size_t size)
{
    buf[0] = 0;
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, name) != 0)
            continue;
        xmlChar *t = xmlNodeGetContent(c);
        snprintf(buf, size, "%s", t ? (const char *)t : "");
        xmlFree(t);
        break;
    }
    return buf;
}

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
    char date[64], year[16], from[16], to[16], out[80];
    child_text(b, "DATE", date, sizeof(date));
    child_text(b, "YEAR", year, sizeof(year));
    child_text(b, "FROM_YEAR", from, sizeof(from));
    child_text(b, "TO_YEAR", to, sizeof(to));
    if (*date)
        snprintf(out, sizeof(out), "%.10s", date);
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

/* The document's root must be CONSOLIDATED_LIST; its dateGenerated
 * (2020-11-24T20:23:07.617-05:00) dates the list. */
static gs_err_t check_root(xmlTextReaderPtr r, gs_screen_listdata_t *d, const char *path,
                           const char *name, char *errstr, size_t n)
{
    if (!strcmp(name, "CONSOLIDATED_LIST")) {
        xmlChar *date = xmlTextReaderGetAttribute(r, (const xmlChar *)"dateGenerated");
        char day[11] = "";
        snprintf(day, sizeof(day), "%s", date ? (const char *)date : "");
        gs_screen_listdata_set_date(d, day);
        xmlFree(date);
        return GS_OK;
    }
    return gs_fail(errstr, n, GS_ERR_DECODE, "%s: the root is <%.64s>, not <CONSOLIDATED_LIST>",
                   path, name);
}

gs_err_t gs_screen_parse_un_xml(const char *path, const char *list, gs_screen_listdata_t *d,
                                char *errstr, size_t n)
{
    xmlTextReaderPtr r =
        xmlReaderForFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!r)
        return gs_fail(errstr, n, GS_ERR_IO, "%s: cannot open", path);
    gs_err_t err = GS_OK;
    int rc = xmlTextReaderRead(r), root = 0;
    while (!err && rc == 1) {
        const char *name = (const char *)xmlTextReaderConstName(r);
        int element = xmlTextReaderNodeType(r) == XML_READER_TYPE_ELEMENT;
        int person = element && !strcmp(name, "INDIVIDUAL");
        if (element && xmlTextReaderDepth(r) == 0) {
            err = check_root(r, d, path, name, errstr, n);
            root = 1;
        } else if (person || (element && !strcmp(name, "ENTITY"))) {
            xmlNodePtr e = xmlTextReaderExpand(r);
            if (!e) {
                rc = -1;
                break;
            }
            err = entry(d, list, e, person, errstr, n);
            rc = xmlTextReaderNext(r); /* past the entry, onto what follows it */
            continue;
        }
        rc = xmlTextReaderRead(r);
    }
    if (!err && rc != 0) {
        const xmlError *x = xmlGetLastError();
        err = gs_fail(errstr, n, GS_ERR_DECODE, "%s:%d: not well-formed XML: %s", path,
                      x ? x->line : 0, x && x->message ? x->message : "?");
    }
    if (!err && !root)
        err = gs_fail(errstr, n, GS_ERR_DECODE, "%s: no <CONSOLIDATED_LIST>", path);
    xmlFreeTextReader(r);
    return err;
}
