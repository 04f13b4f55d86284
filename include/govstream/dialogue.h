/* govstream - the dialogue kind (SPEC 1.1; src/kinds/dialogue/): next-token
 * prediction, top-k and governed generation over a dialogue window, through
 * the full governance flow (SPEC 3) and the dialogue model (SPEC 4). */
#ifndef GOVSTREAM_DIALOGUE_H
#define GOVSTREAM_DIALOGUE_H

#include "govstream/kind.h"
#include "govstream/schemas.h"

#define GS_DIALOGUE_MAX_TURNS 64
#define GS_DIALOGUE_MAX_TEXT  10000 /* bytes over all turns */
#define GS_DIALOGUE_MAX_ID    GS_KIND_MAX_ID

extern const gs_kind_ops_t gs_kind_dialogue;

/* SPEC 1.1 limits: GS_ERR_VALIDATION naming the field and the limit.
 * Strings must be valid UTF-8 without NUL bytes. */
gs_err_t gs_dialogue_request_validate(const gs_avro_dialogue_request_t *req, char *errstr,
                                      size_t errstr_size);

#endif
