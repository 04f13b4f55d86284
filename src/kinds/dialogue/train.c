/* govstream train dialogue ...: the dialogue model's training command
 * (the training itself is src/models/train.c). */
#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/model.h"
#include "internal.h"

static void train_usage(void)
{
    fprintf(stderr,
            "usage: govstream train dialogue --corpus FILE --out MODEL [--seed N] [--vocab V]\n"
            "           [--units N] [--density D] [--radius R] [--leak A] [--input-nnz K]\n"
            "           [--max-train-tokens N] [--eval-tokens N] [--name S] [--version S]\n"
            "           [--code-dims K] [--readout-rank R] [--context-tokens N]\n"
            "           [--context-step S] [--threads N] [--report FILE]\n"
            "  corpus: one conversation per line, turns separated by TAB (docs/DATA.md)\n"
            "  writes MODEL and MODEL.report.json (held-out metrics of the model, of the\n"
            "  model mixed with Kneser-Ney trigrams, which MODEL carries and serving uses,\n"
            "  and of unigram, bigram and trigram baselines)\n"
            "  --readout-rank R: serve the readout factorised to rank R (reduced-rank ridge;\n"
            "  0: the full V x D readout; default 64); the report has ranks 32, 64, 128 too\n"
            "  --context-tokens N: serving reads at most a request's last N tokens (default\n"
            "  256: windows of 128 to 256 tokens; the reservoir forgets within 128); the report's\n"
            "  \"context\"\n"
            "  has the served mix with the state from 128 and N tokens against the whole history\n"
            "  --context-step S: past N tokens the window starts at a multiple of S (default\n"
            "  N / 2), so it moves every S tokens and the state cache extends it in between\n");
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

/* argv[0] is "dialogue" */
int gs_dialogue_train(int argc, char **argv)
{
    gs_train_conf_t c;
    gs_train_conf_default(&c);
    const char *corpus = NULL, *out = NULL, *report_path = NULL;
    int threads = 0;
    static const struct option lo[] = {{"corpus", 1, 0, 'c'},
                                       {"out", 1, 0, 'o'},
                                       {"seed", 1, 0, 's'},
                                       {"vocab", 1, 0, 'V'},
                                       {"units", 1, 0, 'u'},
                                       {"density", 1, 0, 'd'},
                                       {"radius", 1, 0, 'r'},
                                       {"leak", 1, 0, 'l'},
                                       {"input-nnz", 1, 0, 'k'},
                                       {"max-train-tokens", 1, 0, 'M'},
                                       {"eval-tokens", 1, 0, 'E'},
                                       {"name", 1, 0, 'n'},
                                       {"version", 1, 0, 'v'},
                                       {"threads", 1, 0, 't'},
                                       {"report", 1, 0, 'R'},
                                       {"code-dims", 1, 0, 'C'},
                                       {"readout-rank", 1, 0, 'K'},
                                       {"context-tokens", 1, 0, 'X'},
                                       {"context-step", 1, 0, 'S'},
                                       {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
    optind = 1;
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
        case 'K':
            c.readout_rank = (uint32_t)num(name, 0, 65536, &bad);
            break;
        case 'X':
            c.context_tokens = (uint32_t)num(name, 1, 1 << 24, &bad);
            break;
        case 'S':
            c.context_step = (uint32_t)num(name, 1, 1 << 24, &bad);
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
