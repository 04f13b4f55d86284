/* Schema resolution with a fuzzed writer schema, as for a message whose
 * registry schema id names another schema: input = writer schema JSON, a
 * NUL byte, the Avro payload. Parse (avro-c), compile the plan onto our
 * DialogueRequest (cached with the schema, as in the worker), decode. */
#include "fuzz.h"

#include "govstream/codec.h"
#include "govstream/schemas.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gs_arena_t arena;
    const uint8_t *nul = memchr(data, 0, size);
    size_t json_len = nul ? (size_t)(nul - data) : size;
    const uint8_t *payload = nul ? nul + 1 : data + size;
    size_t payload_len = size - json_len - (nul ? 1 : 0);
    gs_avro_schema_t *writer = NULL;
    char err[512];
    if (gs_avro_schema_parse((const char *)data, json_len, &writer, err, sizeof(err)))
        return 0;
    const gs_avro_plan_t *plan;
    if (!gs_avro_schema_plan(writer, &gs_avro_type_dialogue_request, &plan, err, sizeof(err))) {
        void *req = gs_arena_alloc(&arena, gs_avro_type_dialogue_request.node->size);
        if (req)
            gs_avro_plan_decode(plan, payload, payload_len, &arena, req, err, sizeof(err));
    }
    gs_avro_schema_destroy(writer);
    gs_arena_reset(&arena);
    return 0;
}
