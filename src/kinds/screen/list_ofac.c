/* OFAC's Specially Designated Nationals list, in its two classic exports:
 * sdn.xml (one sdnEntry per designation, lastName being the family name)
 * and the CSV files sdn.csv / alt.csv / add.csv (no header; the columns of
 * OFAC's "SDN data specification"; "-0-" is their null). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "list_parse.h"

#define TEXT_MAX 2048

/* OFAC puts facts that are not identifiers in idList (Gender, sanctions
 * notes, dates); they would only make false identifier hits. */
static int not_an_identifier(const char *type)
{
    static const char *const skip[] = {"Gender",
                                       "Additional Sanctions Information",
                                       "Secondary sanctions risk",
                                       "Transactions Prohibited",
                                       "Organization Established Date",
                                       "Organization Type",
                                       "Target Type",
                                       "Website",
                                       "Email Address",
                                       "Phone Number",
                                       "Nationality of Registration",
                                       "Former Vessel Flag",
                                       "Vessel Year of Build",
                                       "Aircraft Construction Number",
                                       "Aircraft Manufacture Date",
                                       "Aircraft Model",
                                       "Aircraft Operator",
                                       "Aircraft Manufacturer",
                                       "Vessel Flag"};
    for (size_t i = 0; i < sizeof(skip) / sizeof(*skip); i++)
        if (!strncasecmp(type, skip[i], strlen(skip[i])))
            return 1;
    return 0;
}

/* "First Last" with Last as the family part for a person; an entity's
 * name is all in lastName. */
static gs_err_t add_name(gs_screen_listdata_t *d, gs_screen_name_kind_t kind, const char *first,
                         const char *last, int person, char *errstr, size_t n)
{
    char whole[2 * TEXT_MAX + 2];
    snprintf(whole, sizeof(whole), "%s%s%s", first, *first && *last ? " " : "", last);
    return gs_screen_listdata_name(d, kind, whole, person && *last ? last : NULL, errstr, n);
}

/* ---- sdn.xml -------------------------------------------------------------- */

typedef struct ofac_ctx {
    gs_screen_listdata_t *d;
    const char *list;
} ofac_ctx_t;

/* Each child `item` of the list element `list` of e, text of its `field`,
 * through fn. */
typedef gs_err_t (*text_fn)(gs_screen_listdata_t *d, const char *text, char *errstr, size_t n);

static gs_err_t each(gs_screen_listdata_t *d, xmlNodePtr e, const char *list, const char *item,
                     const char *field, text_fn fn, char *errstr, size_t n)
{
    char text[TEXT_MAX];
    gs_err_t err = GS_OK;
    xmlNodePtr l = gs_screen_xml_next(e->children, list);
    for (xmlNodePtr c = l ? gs_screen_xml_next(l->children, item) : NULL; c && !err;
         c = gs_screen_xml_next(c->next, item))
        err = fn(d, gs_screen_xml_child(c, field, text, sizeof(text)), errstr, n);
    return err;
}

static gs_err_t add_dob(gs_screen_listdata_t *d, const char *text, char *errstr, size_t n)
{
    char date[128];
    gs_screen_date_norm(text, date, sizeof(date));
    return gs_screen_listdata_dob(d, date, errstr, n);
}

static gs_err_t xml_akas(gs_screen_listdata_t *d, xmlNodePtr e, int person, char *errstr, size_t n)
{
    char first[TEXT_MAX], last[TEXT_MAX], cat[32];
    gs_err_t err = GS_OK;
    xmlNodePtr l = gs_screen_xml_next(e->children, "akaList");
    for (xmlNodePtr a = l ? gs_screen_xml_next(l->children, "aka") : NULL; a && !err;
         a = gs_screen_xml_next(a->next, "aka")) {
        gs_screen_xml_child(a, "category", cat, sizeof(cat));
        err =
            add_name(d, strcasecmp(cat, "weak") ? GS_SCREEN_NAME_ALIAS : GS_SCREEN_NAME_WEAK_ALIAS,
                     gs_screen_xml_child(a, "firstName", first, sizeof(first)),
                     gs_screen_xml_child(a, "lastName", last, sizeof(last)), person, errstr, n);
    }
    return err;
}

static gs_err_t xml_ids(gs_screen_listdata_t *d, xmlNodePtr e, char *errstr, size_t n)
{
    char type[256], number[TEXT_MAX];
    gs_err_t err = GS_OK;
    xmlNodePtr l = gs_screen_xml_next(e->children, "idList");
    for (xmlNodePtr c = l ? gs_screen_xml_next(l->children, "id") : NULL; c && !err;
         c = gs_screen_xml_next(c->next, "id")) {
        gs_screen_xml_child(c, "idType", type, sizeof(type));
        if (!not_an_identifier(type))
            err = gs_screen_listdata_ident(
                d, type, gs_screen_xml_child(c, "idNumber", number, sizeof(number)), errstr, n);
    }
    return err;
}

static gs_err_t xml_entry(const ofac_ctx_t *c, xmlNodePtr e, char *errstr, size_t n)
{
    char id[64], type[32], first[TEXT_MAX], last[TEXT_MAX];
    gs_screen_xml_child(e, "uid", id, sizeof(id));
    int person = !strcasecmp(gs_screen_xml_child(e, "sdnType", type, sizeof(type)), "Individual");
    gs_screen_listdata_t *d = c->d;
    gs_err_t err = gs_screen_listdata_entry(
        d, c->list, id, person ? GS_SCREEN_PERSON : GS_SCREEN_ENTITY, errstr, n);
    if (!err)
        err = add_name(d, GS_SCREEN_NAME_PRIMARY,
                       gs_screen_xml_child(e, "firstName", first, sizeof(first)),
                       gs_screen_xml_child(e, "lastName", last, sizeof(last)), person, errstr, n);
    if (!err)
        err = xml_akas(d, e, person, errstr, n);
    if (!err)
        err = xml_ids(d, e, errstr, n);
    if (!err)
        err = each(d, e, "dateOfBirthList", "dateOfBirthItem", "dateOfBirth", add_dob, errstr, n);
    if (!err)
        err = each(d, e, "nationalityList", "nationality", "country", gs_screen_listdata_country,
                   errstr, n);
    if (!err)
        err = each(d, e, "citizenshipList", "citizenship", "country", gs_screen_listdata_country,
                   errstr, n);
    if (!err)
        err =
            each(d, e, "addressList", "address", "country", gs_screen_listdata_country, errstr, n);
    if (!err)
        gs_screen_listdata_end(d);
    return err;
}

/* publshInformation/Publish_Date (OFAC's spelling) is MM/DD/YYYY. */
static gs_err_t on_xml(void *ctx, xmlNodePtr e, char *errstr, size_t n)
{
    const ofac_ctx_t *c = ctx;
    if (strcmp((const char *)e->name, "publshInformation") != 0)
        return xml_entry(c, e, errstr, n);
    char date[64], day[16] = "";
    int m, dd, y;
    if (sscanf(gs_screen_xml_child(e, "Publish_Date", date, sizeof(date)), "%d/%d/%d", &m, &dd,
               &y) == 3)
        snprintf(day, sizeof(day), "%04d-%02d-%02d", y % 10000, m % 100, dd % 100);
    gs_screen_listdata_set_date(c->d, day);
    return GS_OK;
}

gs_err_t gs_screen_parse_ofac_sdn_xml(const char *path, const char *list, gs_screen_listdata_t *d,
                                      char *errstr, size_t n)
{
    static const char *const elems[] = {"sdnEntry", "publshInformation", NULL};
    ofac_ctx_t c = {d, list};
    gs_screen_listdata_set_date(d, "");
    gs_screen_xml_walk_t w = {
        .path = path, .root = "sdnList", .elems = elems, .fn = on_xml, .ctx = &c, .d = d};
    return gs_screen_xml_walk(&w, errstr, n);
}
