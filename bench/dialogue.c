/* bench/dialogue MODEL CORPUS [N] - dialogue model inference on one core
 * (OpenBLAS single-threaded): NEXT_TOKEN requests per second over windows
 * taken from a corpus (one conversation per line, TAB-separated turns:
 * every prefix of up to 4 turns of a conversation is a window), batched
 * by 1, 64 and 256; GENERATE (greedy, 32 tokens) per second batched by 64;
 * and, as the ceiling that no reservoir speed-up can pass, the readout
 * SGEMM alone (256 x D times D x V) in rows per second. Prints JSON. */
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
    if (gs_dmodel_load(argv[1], &m, err, sizeof(err)) ||
        gs_read_file(argv[2], &text, &len, err, sizeof(err))) {
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
    if (nw <= 256) {
        fprintf(stderr, "bench-dialogue: the corpus gives %zu windows; 257 or more needed\n", nw);
        return 1;
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

    /* the readout alone, on the model's own W_out */
    gs_modelfile_t *mf;
    if (gs_modelfile_open(argv[1], &mf, err, sizeof(err))) {
        fprintf(stderr, "bench-dialogue: %s\n", err);
        return 1;
    }
    const gs_tensor_t *w = gs_modelfile_get(mf, "w_out", GS_DT_F32, 0, err, sizeof(err));
    const int V = (int)w->dims[0], D = (int)w->dims[1];
    float *phi = calloc((size_t)256 * D, sizeof(float)),
          *y = malloc((size_t)256 * V * sizeof(float));
    for (size_t i = 0; i < (size_t)256 * D; i++)
        phi[i] = (float)(i % 7) * 0.1f;
    t0 = now_s();
    long rows = 0;
    for (; rows < n; rows += 256)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 256, V, D, 1.0f, phi, D, w->data, D,
                    0.0f, y, V);
    double readout_rate = (double)rows / (now_s() - t0);
    free(phi);
    free(y);
    gs_modelfile_close(mf);
    printf("{\"model\":\"%s\",\"sha256\":\"%s\",\"windows\":%zu,\"next_token_per_s_batch1\":%.0f,"
           "\"next_token_per_s_batch64\":%.0f,\"next_token_per_s_batch256\":%.0f,"
           "\"batching_speedup\":%.2f,\"generate32_per_s_batch64\":%.1f,"
           "\"readout_sgemm_rows_per_s\":%.0f,\"next_token_vs_readout_ceiling\":%.2f}\n",
           argv[1], gs_dmodel_sha256(m), nw, rate[0], rate[1], rate[2], rate[2] / rate[0], gen_rate,
           readout_rate, rate[2] / readout_rate);
    free(a);
    free(text);
    gs_dmodel_destroy(m);
    return 0;
}
