/* bench/screen LIST [N] [OUT_PREFIX] - the screen kind in-process (issue 12):
 * per-request latency of gs_screen_engine_run at 100, 1,000 and 10,000
 * characters of payment text with the list loaded; half the texts name a
 * person or entity of the list (perturbed or not), half name none. Also
 * the list's load time and the process's peak RSS. One core, one thread.
 * Prints JSON; with OUT_PREFIX also writes OUT_PREFIX.json and
 * OUT_PREFIX.svg (p50/p95/p99 per size). Progress on a terminal only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "govstream/screen_list.h"
#include "govstream/svg.h"
#include "../src/kinds/screen/engine.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static const char *const filler[] = {
    "Оплата по договору № 15 от 02.03.2024 за поставку товара, в т.ч. НДС 20%. ",
    "Payment for consulting services under invoice 4411, VAT included. ",
    "Переказ коштів згідно рахунку 118/24, без ПДВ. ",
    "Возврат излишне уплаченных средств по договору 77-К. ",
    "Invoice 9001: software licences for 12 months, net 30 days. ",
};

/* A payment text of about `size` characters; with a list name when
 * `name` is not NULL (dropping one letter of it half of the time). */
static size_t make_text(char *out, size_t cap, size_t size, const char *name)
{
    size_t len = 0, chars = 0;
    int named = 0;
    while (chars < size && len + 400 < cap) {
        const char *f = filler[next() % 5];
        if (name && !named && (chars > size / 2 || chars + 120 >= size)) {
            len += (size_t)snprintf(out + len, cap - len, "Получатель: %s. ", name);
            if (next() % 2 && strlen(name) > 6)
                out[len - 5] = 'x'; /* a typo near the end */
            named = 1;
        }
        size_t fl = strlen(f);
        memcpy(out + len, f, fl);
        len += fl;
        for (size_t i = 0; i < fl; i++)
            chars += ((unsigned char)f[i] & 0xC0) != 0x80;
    }
    out[len] = '\0';
    return len;
}

#define TEXT_CAP ((size_t)64 * 1024)

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct size_result {
    size_t chars;
    double p50, p95, p99, max, mean;
    size_t high, medium;
} size_result_t;

static size_result_t run_size(const gs_screen_engine_t *e, const gs_screen_list_t *l,
                              gs_screen_scratch_t *s, size_t chars, size_t n)
{
    size_result_t r = {.chars = chars};
    if (!n)
        return r;
    double *lat = calloc(n, sizeof(*lat));
    char *text = malloc(TEXT_CAP);
    gs_arena_t arena = {0};
    screen_thresholds_t t = {.high = 0.9, .medium = 0.75};
    for (size_t i = 0; i < n && lat && text; i++) {
        const char *name =
            i % 2 ? gs_screen_list_name_at(l, next() % gs_screen_list_names(l)).text : NULL;
        size_t len = make_text(text, TEXT_CAP, chars, name);
        gs_avro_screen_request_t req = {.text = {text, len}};
        gs_avro_screen_result_t res = {0};
        char err[128];
        double t0 = now_ns();
        gs_screen_engine_run(e, s, &req, &t, &res, &arena, err, sizeof(err));
        lat[i] = (now_ns() - t0) / 1e3;
        r.high += res.decision == GS_AVRO_DECISION_HIGH;
        r.medium += res.decision == GS_AVRO_DECISION_MEDIUM;
        r.mean += lat[i] / (double)n;
        gs_arena_reset(&arena);
        if (isatty(2) && i % 200 == 0)
            fprintf(stderr, "\r%zu chars: %zu/%zu", chars, i, n);
    }
    if (!lat || !text) {
        free(lat);
        free(text);
        return r;
    }
    qsort(lat, n, sizeof(*lat), cmp_double);
    r.p50 = lat[n / 2];
    r.p95 = lat[(size_t)(0.95 * (double)n)];
    r.p99 = lat[(size_t)(0.99 * (double)n)];
    r.max = lat[n - 1];
    if (isatty(2))
        fprintf(stderr, "\r%*s\r", 40, "");
    gs_arena_free(&arena);
    free(text);
    free(lat);
    return r;
}

static void write_svg(const char *prefix, const size_result_t *r, size_t n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s.svg", prefix);
    FILE *fp = fopen(path, "w");
    if (!fp)
        return;
    static const char *const cats[] = {"100 chars", "1,000 chars", "10,000 chars"};
    static const char *const series[] = {"p50", "p95", "p99"};
    double v[9];
    for (size_t i = 0; i < n && i < 3; i++)
        v[3 * i] = r[i].p50, v[3 * i + 1] = r[i].p95, v[3 * i + 2] = r[i].p99;
    gs_svg_bars_t b = {.title = "screen: latency per request (µs), list loaded",
                       .axis = "microseconds",
                       .categories = cats,
                       .n_categories = n,
                       .series = series,
                       .n_series = 3,
                       .values = v,
                       .value_format = "%.0f"};
    char err[128];
    gs_svg_bars_write(fp, &b, err, sizeof(err));
    fclose(fp);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench-screen LIST [N] [OUT_PREFIX]\n");
        return 2;
    }
    size_t n = argc > 2 ? (size_t)atol(argv[2]) : 2000;
    char err[512];
    gs_screen_engine_t *e;
    gs_screen_list_t *l;
    double t0 = now_ns();
    if (gs_screen_engine_load(argv[1], &e, err, sizeof(err)) ||
        gs_screen_list_open(argv[1], &l, err, sizeof(err))) {
        fprintf(stderr, "bench-screen: %s\n", err);
        return 1;
    }
    double load_ms = (now_ns() - t0) / 1e6;
    gs_screen_scratch_t *s;
    if (gs_screen_scratch_new(&s, err, sizeof(err)))
        return 1;
    static const size_t sizes[] = {100, 1000, 10000};
    size_result_t r[3];
    for (size_t i = 0; i < 3; i++)
        r[i] = run_size(e, l, s, sizes[i], sizes[i] == 10000 ? n / 4 : n);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char json[4096];
    size_t len = (size_t)snprintf(json, sizeof(json),
                                  "{\"list\":\"%s\",\"names\":%zu,\"entries\":%zu,\"load_ms\":%.1f,"
                                  "\"peak_rss_mb\":%.1f,\"sizes\":[",
                                  argv[1], gs_screen_list_names(l), gs_screen_list_entries(l),
                                  load_ms, (double)ru.ru_maxrss / 1024.0);
    for (size_t i = 0; i < 3; i++)
        len += (size_t)snprintf(json + len, sizeof(json) - len,
                                "%s{\"chars\":%zu,\"p50_us\":%.1f,\"p95_us\":%.1f,\"p99_us\":%.1f,"
                                "\"max_us\":%.1f,\"mean_us\":%.1f,\"high\":%zu,\"medium\":%zu}",
                                i ? "," : "", r[i].chars, r[i].p50, r[i].p95, r[i].p99, r[i].max,
                                r[i].mean, r[i].high, r[i].medium);
    snprintf(json + len, sizeof(json) - len, "]}\n");
    fputs(json, stdout);
    if (argc > 3) {
        char path[1024];
        snprintf(path, sizeof(path), "%s.json", argv[3]);
        FILE *fp = fopen(path, "w");
        if (fp) {
            fputs(json, fp);
            fclose(fp);
        }
        write_svg(argv[3], r, 3);
    }
    gs_screen_scratch_destroy(s);
    gs_screen_list_close(l);
    gs_screen_engine_destroy(e);
    return 0;
}
