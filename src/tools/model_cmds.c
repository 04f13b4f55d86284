/* govstream train dialogue ... / govstream model info|validate FILE */
#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "govstream/model.h"

static void train_usage(void)
{
    fprintf(stderr,
            "usage: govstream train dialogue --corpus FILE --out MODEL [--seed N] [--vocab V]\n"
            "           [--units N] [--density D] [--radius R] [--leak A] [--input-nnz K]\n"
            "           [--max-train-tokens N] [--eval-tokens N] [--name S] [--version S]\n"
            "           [--code-dims K] [--threads N] [--report FILE]\n"
            "  corpus: one conversation per line, turns separated by TAB (docs/DATA.md)\n"
            "  writes MODEL and MODEL.report.json (held-out metrics of the model and of\n"
            "  unigram and bigram baselines)\n");
}

/* A numeric option in [lo, hi]; otherwise says why, sets *bad and returns 0. */
static double num(const char *name, double lo, double hi, int *bad)
{
    char *end;
    errno = 0;
    double v = strtod(optarg, &end);
    if (errno || end == optarg || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "govstream train: --%s: expected a number in [%g, %g], got '%s'\n", name,
                lo, hi, optarg);
        *bad = 1;
        return 0;
    }
    return v;
}

int gs_cmd_train(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "dialogue") != 0) {
        train_usage();
        return 2;
    }
    gs_train_conf_t c;
    gs_train_conf_default(&c);
    const char *corpus = NULL, *out = NULL, *report_path = NULL;
    int threads = 0;
    static const struct option lo[] = {{"corpus", 1, 0, 'c'},      {"out", 1, 0, 'o'},
                                       {"seed", 1, 0, 's'},        {"vocab", 1, 0, 'V'},
                                       {"units", 1, 0, 'u'},       {"density", 1, 0, 'd'},
                                       {"radius", 1, 0, 'r'},      {"leak", 1, 0, 'l'},
                                       {"input-nnz", 1, 0, 'k'},   {"max-train-tokens", 1, 0, 'M'},
                                       {"eval-tokens", 1, 0, 'E'}, {"name", 1, 0, 'n'},
                                       {"version", 1, 0, 'v'},     {"threads", 1, 0, 't'},
                                       {"report", 1, 0, 'R'},      {"code-dims", 1, 0, 'C'},
                                       {"help", 0, 0, 'h'},        {0, 0, 0, 0}};
    optind = 2;
    int o, idx = 0, bad = 0;
    while ((o = getopt_long(argc, argv, "", lo, &idx)) != -1) {
        const char *name = lo[idx].name;
        switch (o) {
        case 'c':
            corpus = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'n':
            c.name = optarg;
            break;
        case 'v':
            c.version = optarg;
            break;
        case 'R':
            report_path = optarg;
            break;
        case 'h':
            train_usage();
            return 0;
        case 's': /* every 64-bit value is a seed: checked as a number, read exactly */
            num(name, 0, 18446744073709551615.0, &bad);
            c.reservoir.seed = strtoull(optarg, NULL, 10);
            break;
        case 'V':
            c.vocab = (uint32_t)num(name, 16, 1 << 20, &bad);
            break;
        case 'u':
            c.reservoir.units = (uint32_t)num(name, 1, 16384, &bad);
            break;
        case 'd':
            c.reservoir.density = (float)num(name, 1e-6, 1, &bad);
            break;
        case 'r':
            c.reservoir.radius = (float)num(name, 1e-3, 10, &bad);
            break;
        case 'l':
            c.reservoir.leak = (float)num(name, 1e-3, 1, &bad);
            break;
        case 'k':
            c.reservoir.input_nnz = (uint32_t)num(name, 1, 16384, &bad);
            break;
        case 'M':
            c.max_train_tokens = (uint64_t)num(name, 0, 1e12, &bad);
            break;
        case 'E':
            c.eval_tokens = (uint64_t)num(name, 0, 1e12, &bad);
            break;
        case 't':
            threads = (int)num(name, 1, 256, &bad);
            break;
        case 'C':
            c.code_dims = (uint32_t)num(name, 0, 4096, &bad);
            break;
        default:
            train_usage();
            return 2;
        }
    }
    if (bad)
        return 2;
    if (!corpus || !out) {
        train_usage();
        return 2;
    }
    if (threads > 0)
        openblas_set_num_threads(threads);
    char err[512], path[4096];
    char *report = NULL;
    if (gs_train_dialogue(&c, corpus, out, stderr, &report, err, sizeof(err))) {
        fprintf(stderr, "govstream train: %s\n", err);
        return 1;
    }
    if (!report_path) {
        snprintf(path, sizeof(path), "%s.report.json", out);
        report_path = path;
    }
    FILE *fp = fopen(report_path, "w");
    if (fp) {
        fputs(report, fp);
        fputc('\n', fp);
        fclose(fp);
    }
    printf("%s\n", report);
    fprintf(stderr, "govstream train: wrote %s and %s\n", out, report_path);
    free(report);
    return fp ? 0 : 1;
}

int gs_cmd_model(int argc, char **argv)
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
        gs_dmodel_t *m = NULL;
        if (gs_modelfile_kind(mf) == GS_MODEL_KIND_DIALOGUE &&
            gs_dmodel_load(argv[2], &m, err, sizeof(err))) {
            fprintf(stderr, "%s\n", err);
            rc = 1;
        } else {
            printf("%s: OK (kind %u, %zu bytes, sha256 %s)\n", argv[2], gs_modelfile_kind(mf),
                   gs_modelfile_size(mf), gs_modelfile_sha256(mf));
        }
        gs_dmodel_destroy(m);
    } else {
        json_t *meta = json_loads(gs_modelfile_meta(mf), 0, NULL);
        char *pretty = meta ? json_dumps(meta, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        printf("file:    %s\nsize:    %zu bytes\nsha256:  %s\nkind:    %u\nformat:  %u\n", argv[2],
               gs_modelfile_size(mf), gs_modelfile_sha256(mf), gs_modelfile_kind(mf),
               (unsigned)GS_MODEL_FORMAT_VERSION);
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
