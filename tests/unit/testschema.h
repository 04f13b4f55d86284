/* Schema helpers shared by the codec unit tests. Include after <cmocka.h>. */
#ifndef GS_TESTSCHEMA_H
#define GS_TESTSCHEMA_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/codec.h"

static gs_avro_schema_t *parse(const char *json)
{
    gs_avro_schema_t *s = NULL;
    char err[256];
    if (gs_avro_schema_parse(json, strlen(json), &s, err, sizeof(err)))
        fail_msg("parse: %s", err);
    return s;
}

/* A schema file of the source tree (GS_SOURCE_DIR). */
static gs_avro_schema_t *load_file(const char *rel)
{
    char path[1024], err[256], *text;
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", getenv("GS_SOURCE_DIR"), rel);
    if (gs_read_file(path, &text, &len, err, sizeof(err)))
        fail_msg("%s", err);
    gs_avro_schema_t *s = parse(text);
    free(text);
    return s;
}

#endif
