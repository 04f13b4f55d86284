/* Lookup of the schema texts embedded from schemas/ at build time. */
#include <string.h>

#include "govstream/codec.h"
#include "schemas_table.h"

const char *gs_schema_text(const char *name)
{
    for (size_t i = 0; gs_schema_table[i].name; i++)
        if (!strcmp(gs_schema_table[i].name, name))
            return gs_schema_table[i].text;
    return NULL;
}

const char *gs_schema_name(size_t i)
{
    for (size_t k = 0; gs_schema_table[k].name; k++)
        if (k == i)
            return gs_schema_table[k].name;
    return NULL;
}
