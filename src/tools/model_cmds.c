/* govstream model info|validate FILE */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "govstream/model.h"

/* The kind that reads files of this kind number, or NULL. */
static const gs_kind_ops_t *reader_of(const gs_kind_ops_t *const *kinds, uint32_t model_kind)
{
    for (size_t i = 0; kinds[i]; i++)
        if (kinds[i]->check_model && kinds[i]->model_kind == model_kind)
            return kinds[i];
    return NULL;
}

/* Dialogue files: whether the n-gram part is in (files written before it
 * serve the readout alone). */
static void print_ngram(json_t *meta, uint32_t kind)
{
    if (kind != GS_MODEL_KIND_DIALOGUE)
        return;
    json_t *ng = json_object_get(meta, "ngram");
    if (!json_is_object(ng)) {
        printf("n-gram:  none (the readout alone)\n");
        return;
    }
    printf("n-gram:  Kneser-Ney trigrams (%" JSON_INTEGER_FORMAT " contexts, %" JSON_INTEGER_FORMAT
           " trigrams, %" JSON_INTEGER_FORMAT " bigrams, tensors kn_*), mixed with the readout at "
           "weight %.4g\n",
           json_integer_value(json_object_get(ng, "contexts")),
           json_integer_value(json_object_get(ng, "trigrams")),
           json_integer_value(json_object_get(ng, "bigrams")),
           json_number_value(json_object_get(ng, "weight")));
}

int gs_cmd_model(int argc, char **argv, const gs_kind_ops_t *const *kinds)
{
    if (argc != 3 || (strcmp(argv[1], "info") != 0 && strcmp(argv[1], "validate") != 0)) {
        fprintf(stderr, "usage: govstream model info FILE\n"
                        "       govstream model validate FILE\n");
        return 2;
    }
    char err[1024];
    gs_modelfile_t *mf;
    if (gs_modelfile_open(argv[2], &mf, err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rc = 0;
    if (!strcmp(argv[1], "validate")) {
        /* the file is sound; the model must also load (indices, parameters) */
        const gs_kind_ops_t *k = reader_of(kinds, gs_modelfile_kind(mf));
        if (k && k->check_model(argv[2], err, sizeof(err))) {
            fprintf(stderr, "%s\n", err);
            rc = 1;
        } else {
            printf("%s: OK (kind %u%s%s, %zu bytes, sha256 %s)\n", argv[2], gs_modelfile_kind(mf),
                   k ? ", " : "", k ? k->name : "", gs_modelfile_size(mf), gs_modelfile_sha256(mf));
        }
    } else {
        json_t *meta = json_loads(gs_modelfile_meta(mf), 0, NULL);
        char *pretty = meta ? json_dumps(meta, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        printf("file:    %s\nsize:    %zu bytes\nsha256:  %s\nkind:    %u\nformat:  %u\n", argv[2],
               gs_modelfile_size(mf), gs_modelfile_sha256(mf), gs_modelfile_kind(mf),
               (unsigned)GS_MODEL_FORMAT_VERSION);
        print_ngram(meta, gs_modelfile_kind(mf));
        printf("tensors:\n");
        for (size_t i = 0; i < gs_modelfile_count(mf); i++) {
            const gs_tensor_t *t = gs_modelfile_at(mf, i);
            printf("  %-10s %-5s [", t->name,
                   t->dtype == GS_DT_F32   ? "f32"
                   : t->dtype == GS_DT_U32 ? "u32"
                                           : "bytes");
            for (uint32_t d = 0; d < t->ndim; d++)
                printf("%s%llu", d ? " x " : "", (unsigned long long)t->dims[d]);
            printf("]  %llu bytes at %llu  crc32c %08x\n", (unsigned long long)t->nbytes,
                   (unsigned long long)t->offset, t->crc);
        }
        printf("metadata:\n%s\n", pretty ? pretty : gs_modelfile_meta(mf));
        free(pretty);
        json_decref(meta);
    }
    gs_modelfile_close(mf);
    return rc;
}
