/* The XML side of the list parsers: libxml2's streaming reader, one entry
 * element expanded at a time so a 100 MB list never becomes one DOM. No
 * network (XML_PARSE_NONET), no entity substitution (no XML_PARSE_NOENT),
 * no DTD loading, and libxml2's default limits kept (no XML_PARSE_HUGE):
 * a text node above 10 MB or nesting above 256 is refused, not followed. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "list_parse.h"

static void trim_into(const char *s, char *buf, size_t size)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    snprintf(buf, size, "%s", s);
    size_t len = strlen(buf);
    while (len && isspace((unsigned char)buf[len - 1]))
        buf[--len] = 0;
}

xmlNodePtr gs_screen_xml_next(xmlNodePtr c, const char *name)
{
    for (; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name))
            return c;
    return NULL;
}

const char *gs_screen_xml_child(xmlNodePtr n, const char *name, char *buf, size_t size)
{
    buf[0] = 0;
    xmlNodePtr c = gs_screen_xml_next(n ? n->children : NULL, name);
    if (c) {
        xmlChar *t = xmlNodeGetContent(c);
        trim_into(t ? (const char *)t : "", buf, size);
        xmlFree(t);
    }
    return buf;
}

const char *gs_screen_xml_attr(xmlNodePtr n, const char *name, char *buf, size_t size)
{
    xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)name) : NULL;
    trim_into(v ? (const char *)v : "", buf, size);
    xmlFree(v);
    return buf;
}

static int wanted(const gs_screen_xml_walk_t *w, const char *name)
{
    for (const char *const *e = w->elems; *e; e++)
        if (!strcmp(*e, name))
            return 1;
    return 0;
}

/* The root must be the format's; its date attribute, if any, dates the
 * list (the first 10 characters: "2020-11-24T20:23:07" → "2020-11-24"). */
static gs_err_t check_root(const gs_screen_xml_walk_t *w, xmlTextReaderPtr r, const char *name,
                           char *errstr, size_t n)
{
    if (strcmp(name, w->root) != 0)
        return gs_fail(errstr, n, GS_ERR_DECODE, "%s: the root is <%.64s>, not <%s>", w->path, name,
                       w->root);
    if (w->date_attr) {
        xmlChar *date = xmlTextReaderGetAttribute(r, (const xmlChar *)w->date_attr);
        char day[11] = "";
        snprintf(day, sizeof(day), "%s", date ? (const char *)date : "");
        gs_screen_listdata_set_date(w->d, day);
        xmlFree(date);
    }
    return GS_OK;
}

static gs_err_t read_error(const char *path, char *errstr, size_t n)
{
    const xmlError *x = xmlGetLastError();
    return gs_fail(errstr, n, GS_ERR_DECODE, "%s:%d: not well-formed XML: %s", path,
                   x ? x->line : 0, x && x->message ? x->message : "?");
}

gs_err_t gs_screen_xml_walk(const gs_screen_xml_walk_t *w, char *errstr, size_t n)
{
    xmlTextReaderPtr r =
        xmlReaderForFile(w->path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!r)
        return gs_fail(errstr, n, GS_ERR_IO, "%s: cannot open", w->path);
    gs_err_t err = GS_OK;
    int rc = xmlTextReaderRead(r), root = 0;
    while (!err && rc == 1) {
        const char *name = (const char *)xmlTextReaderConstLocalName(r);
        int element = xmlTextReaderNodeType(r) == XML_READER_TYPE_ELEMENT;
        if (element && xmlTextReaderDepth(r) == 0) {
            err = check_root(w, r, name, errstr, n);
            root = 1;
        } else if (element && wanted(w, name)) {
            xmlNodePtr e = xmlTextReaderExpand(r);
            if (!e) {
                rc = -1;
                break;
            }
            err = w->fn(w->ctx, e, errstr, n);
            rc = xmlTextReaderNext(r); /* past the element, onto what follows it */
            continue;
        }
        rc = xmlTextReaderRead(r);
    }
    if (!err && rc != 0)
        err = read_error(w->path, errstr, n);
    if (!err && !root)
        err = gs_fail(errstr, n, GS_ERR_DECODE, "%s: no <%s>", w->path, w->root);
    xmlFreeTextReader(r);
    return err;
}
