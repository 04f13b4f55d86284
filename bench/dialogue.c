/* bench/dialogue MODEL CORPUS [N] - dialogue model inference on one core
 * (OpenBLAS single-threaded): NEXT_TOKEN requests per second over windows
 * taken from a corpus (one conversation per line, TAB-separated turns:
 * every prefix of up to 4 turns of a conversation is a window), batched
 * by 1 and by 64, and GENERATE (greedy, 32 tokens) per second. Prints JSON. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/model.h"

#define MAX_WINDOWS 4096

static double now_s(void)
{
    return (double)gs_now_us() / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench-dialogue MODEL CORPUS [N]\n");
        return 2;
    }
    long n = argc > 3 ? atol(argv[3]) : 20000;
    openblas_set_num_threads(1);
    char err[512], *text;
    size_t len;
    gs_dmodel_t *m;
    if (gs_dmodel_load(argv[1], &m, err, sizeof(err)) || gs_read_file(argv[2], &text, &len, err, sizeof(err))) {
        fprintf(stderr, "bench-dialogue: %s\n", err);
        return 1;
    }
    /* windows: the first 1..4 turns of the first conversations */
    static gs_str_t turns[MAX_WINDOWS][4];
    static gs_dm_query_t q[MAX_WINDOWS];
    size_t nw = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && nw < MAX_WINDOWS;
         line = strtok_r(NULL, "\n", &save)) {
        gs_str_t t[4];
        size_t nt = 0;
        for (char *p = line; p && nt < 4;) {
            char *tab = strchr(p, '\t');
            t[nt++] = (gs_str_t){p, tab ? (size_t)(tab - p) : strlen(p)};
            p = tab ? tab + 1 : NULL;
        }
        for (size_t k = 1; k <= nt && nw < MAX_WINDOWS; k++, nw++) {
            memcpy(turns[nw], t, k * sizeof(gs_str_t));
            q[nw] = (gs_dm_query_t){turns[nw], k, GS_DM_NEXT, 1, 32, 0, nw};
        }
    }
    gs_dm_answer_t *a = malloc(256 * sizeof(*a));
    double rate[3];
    size_t batches[3] = {1, 64, 256};
    for (int r = 0; r < 3; r++) {
        size_t B = batches[r];
        gs_dmodel_run(m, q, B, a, err, sizeof(err)); /* warm up */
        double t0 = now_s();
        long done = 0;
        for (size_t i = 0; done < n; i = (i + B) % (nw - B), done += (long)B)
            gs_dmodel_run(m, q + i, B, a, err, sizeof(err));
        rate[r] = (double)done / (now_s() - t0);
    }
    for (size_t i = 0; i < 64; i++)
        q[i].op = GS_DM_GENERATE;
    double t0 = now_s();
    long gens = 0;
    for (int rep = 0; rep < 4; rep++, gens += 64)
        gs_dmodel_run(m, q, 64, a, err, sizeof(err));
    double gen_rate = (double)gens / (now_s() - t0);
    printf("{\"model\":\"%s\",\"sha256\":\"%s\",\"windows\":%zu,\"next_token_per_s_batch1\":%.0f,"
           "\"next_token_per_s_batch64\":%.0f,\"next_token_per_s_batch256\":%.0f,"
           "\"batching_speedup\":%.2f,"
           "\"generate32_per_s_batch64\":%.1f}\n",
           argv[1], gs_dmodel_sha256(m), nw, rate[0], rate[1], rate[2], rate[2] / rate[0], gen_rate);
    free(a);
    free(text);
    gs_dmodel_destroy(m);
    return 0;
}
