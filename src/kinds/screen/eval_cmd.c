/* govstream watchlist eval: the screen engine over a labelled evaluation
 * set (ops/data/gen_screen_eval.py), side by side with other screeners'
 * decisions on the same items (the reference, ops/data/screen_reference.py),
 * reported per class as JSON and SVG. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "engine.h"
#include "eval.h"

typedef struct eval_args {
    const char *list, *items, *out, *decisions;
    const char *ref_name[EVAL_MAX_SCREENERS - 1], *ref_file[EVAL_MAX_SCREENERS - 1];
    size_t n_refs;
    screen_thresholds_t t;
} eval_args_t;

/* What the run measured of the engine itself. */
typedef struct eval_speed {
    double items_per_s, p50_us, p95_us, max_us;
} eval_speed_t;

int gs_screen_eval_usage(FILE *fp)
{
    fprintf(fp, "usage: govstream watchlist eval LIST ITEMS.jsonl --out PREFIX\n"
                "         [--reference NAME=DECISIONS.jsonl]... [--decisions OUT.jsonl]\n"
                "         [--high X] [--medium Y]\n"
                "Screens every item with LIST and writes PREFIX.json and PREFIX.svg: recall\n"
                "per class, precision, false alerts per 1,000 clean payments, for govstream\n"
                "and each reference. Thresholds default to the shipped screen.high (0.9) and\n"
                "screen.medium (0.75).\n");
    return fp == stdout ? 0 : 2;
}

static int arg_error(const char *what, const char *o)
{
    fprintf(stderr, "govstream watchlist eval: %s%s\n", what, o ? o : "");
    return gs_screen_eval_usage(stderr);
}

static int parse_reference(eval_args_t *a, char *spec)
{
    char *eq = strchr(spec, '=');
    if (!eq || eq == spec || !eq[1])
        return arg_error("--reference wants NAME=FILE, not ", spec);
    if (a->n_refs == EVAL_MAX_SCREENERS - 1)
        return arg_error("too many --reference", NULL);
    *eq = 0;
    a->ref_name[a->n_refs] = spec;
    a->ref_file[a->n_refs++] = eq + 1;
    return 0;
}

static int parse_threshold(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*end || end == s || !(v > 0 && v <= 1))
        return arg_error("a threshold is a number in (0, 1], not ", s);
    *out = v;
    return 0;
}

static int parse_eval(int argc, char **argv, eval_args_t *a)
{
    *a = (eval_args_t){.t = {.high = 0.9, .medium = 0.75}};
    const char *pos[2] = {NULL, NULL};
    int n_pos = 0, rc = 0;
    for (int i = 2; i < argc && !rc; i++) { /* argv: watchlist eval ... */
        const char *o = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(o, "--out") && has_value)
            a->out = argv[++i];
        else if (!strcmp(o, "--decisions") && has_value)
            a->decisions = argv[++i];
        else if (!strcmp(o, "--reference") && has_value)
            rc = parse_reference(a, argv[++i]);
        else if (!strcmp(o, "--high") && has_value)
            rc = parse_threshold(argv[++i], &a->t.high);
        else if (!strcmp(o, "--medium") && has_value)
            rc = parse_threshold(argv[++i], &a->t.medium);
        else if (*o == '-' || n_pos == 2)
            rc = arg_error("unexpected argument ", o);
        else
            pos[n_pos++] = o;
    }
    if (!rc && (n_pos != 2 || !a->out))
        rc = arg_error("LIST, ITEMS and --out PREFIX are required", NULL);
    if (!rc && a->t.medium > a->t.high)
        rc = arg_error("--medium above --high", NULL);
    if (!rc)
        a->list = pos[0], a->items = pos[1];
    return rc;
}

/* One decision line: what the report scores, and the best match's list
 * name and the span it matched (the items are generated, not payments). */
static void write_decision(FILE *fp, const eval_item_t *it, const eval_decision_t *d,
                           const gs_avro_screen_result_t *res)
{
    static const char *const names[] = {"LOW", "MEDIUM", "HIGH", "SKIP"};
    json_t *o = json_pack("{s:s,s:s,s:f,s:s}", "id", it->id, "decision", names[d->decision],
                          "score", d->score, "entry_id", d->entry_id);
    if (res->n_matches) {
        const gs_avro_match_t *m = &res->matches[0];
        json_object_set_new(o, "name", json_stringn(m->name.p, m->name.len));
        json_object_set_new(o, "matched_text",
                            json_stringn(m->matched_text.p, m->matched_text.len));
    }
    char *s = json_dumps(o, JSON_COMPACT);
    fprintf(fp, "%s\n", s);
    free(s);
    json_decref(o);
}

static void screen_item(const gs_screen_engine_t *e, gs_screen_scratch_t *s,
                        const screen_thresholds_t *t, const eval_item_t *it, gs_arena_t *arena,
                        eval_decision_t *d, gs_avro_screen_result_t *res, char *errstr, size_t n)
{
    gs_avro_screen_request_t req = {
        .request_id = gs_avro_cstr(it->id),
        .account_id = gs_avro_cstr("eval"),
        .tenant = gs_avro_cstr("eval"),
        .text = it->text,
        .has_counterparty = it->counterparty.p != NULL,
        .counterparty = it->counterparty,
    };
    *res = (gs_avro_screen_result_t){0};
    gs_arena_reset(arena);
    *d = (eval_decision_t){0};
    if (gs_screen_request_validate(&req, errstr, n) ||
        gs_screen_engine_run(e, s, &req, t, res, arena, errstr, n))
        return; /* absent: counted as missing, and said */
    d->present = 1;
    d->decision = (int)res->decision;
    d->score = res->score;
    if (res->n_matches)
        snprintf(d->entry_id, sizeof(d->entry_id), "%.*s", (int)res->matches[0].entry_id.len,
                 res->matches[0].entry_id.p);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static eval_speed_t speed_of(double *us, size_t n, double total_s)
{
    if (!n)
        return (eval_speed_t){0};
    qsort(us, n, sizeof(*us), cmp_double);
    return (eval_speed_t){.items_per_s = total_s > 0 ? (double)n / total_s : 0,
                          .p50_us = us[n / 2],
                          .p95_us = us[(size_t)((double)(n - 1) * 0.95)],
                          .max_us = us[n - 1]};
}

/* The engine's decisions for every item, with their latencies. */
static int screen_set(const gs_screen_engine_t *e, const eval_args_t *a, const eval_set_t *set,
                      eval_decision_t *dec, eval_speed_t *speed)
{
    char err[512];
    gs_screen_scratch_t *s = NULL;
    double *us = calloc(set->n ? set->n : 1, sizeof(*us));
    FILE *fp = a->decisions ? fopen(a->decisions, "w") : NULL;
    if (!us || gs_screen_scratch_new(&s, err, sizeof(err)) || (a->decisions && !fp)) {
        fprintf(stderr, "govstream watchlist eval: cannot start: %s\n",
                fp || !a->decisions ? "out of memory" : a->decisions);
        free(us);
        gs_screen_scratch_destroy(s);
        return -1;
    }
    gs_arena_t arena = {0};
    int tty = isatty(2), failed = 0;
    int64_t t0 = gs_now_us();
    for (size_t i = 0; i < set->n; i++) {
        int64_t t1 = gs_now_us();
        gs_avro_screen_result_t res;
        screen_item(e, s, &a->t, &set->items[i], &arena, &dec[i], &res, err, sizeof(err));
        us[i] = (double)(gs_now_us() - t1);
        if (!dec[i].present && failed++ < 5) /* the item's id only: never its text */
            fprintf(stderr, "govstream watchlist eval: item %s not screened: %s\n",
                    set->items[i].id, err);
        if (fp && dec[i].present)
            write_decision(fp, &set->items[i], &dec[i], &res);
        if (tty && (i % 256 == 0 || i + 1 == set->n))
            fprintf(stderr, "\rscreening %zu/%zu", i + 1, set->n);
    }
    *speed = speed_of(us, set->n, (double)(gs_now_us() - t0) / 1e6);
    if (tty)
        fprintf(stderr, "\n");
    gs_arena_free(&arena);
    gs_screen_scratch_destroy(s);
    free(us);
    return (fp && fclose(fp)) ? -1 : 0;
}

static json_t *report_json(const gs_screen_engine_t *e, const eval_args_t *a,
                           const eval_report_t *r, const eval_speed_t *sp)
{
    gs_avro_model_ref_t m = gs_screen_engine_ref(e);
    json_t *o = gs_screen_eval_json(r);
    json_object_set_new(o, "list",
                        json_pack("{s:s%,s:s%,s:s%}", "name", m.name.p, m.name.len, "version",
                                  m.version.p, m.version.len, "sha256", m.sha256.p, m.sha256.len));
    json_object_set_new(o, "items", json_string(a->items));
    json_object_set_new(o, "thresholds",
                        json_pack("{s:f,s:f}", "high", a->t.high, "medium", a->t.medium));
    json_object_set_new(o, "govstream_speed",
                        json_pack("{s:f,s:f,s:f,s:f}", "items_per_s", sp->items_per_s, "p50_us",
                                  sp->p50_us, "p95_us", sp->p95_us, "max_us", sp->max_us));
    return o;
}

/* One line per class: the class, its size, each screener's share. */
static void print_table(const eval_report_t *r)
{
    printf("%-22s %6s", "class", "n");
    for (size_t s = 0; s < r->n_screeners; s++)
        printf(" %12.12s", r->screeners[s]);
    printf("\n");
    for (size_t i = 0; i < r->n_classes; i++) {
        const eval_class_t *k = &r->classes[i];
        printf("%-22s %6zu", k->name, k->n);
        for (size_t s = 0; s < r->n_screeners; s++) {
            size_t seen = k->n - k->missing[s];
            printf(" %12.3f", seen ? (double)k->medium[s] / (double)seen : 0.0);
        }
        printf("%s\n", k->positive ? "" : "   (negative: share flagged)");
    }
}

static int write_report(const gs_screen_engine_t *e, const eval_args_t *a, const eval_report_t *r,
                        const eval_speed_t *sp)
{
    char path[4096], err[512];
    json_t *o = report_json(e, a, r, sp);
    snprintf(path, sizeof(path), "%s.json", a->out);
    int rc = json_dump_file(o, path, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (rc)
        fprintf(stderr, "govstream watchlist eval: %s: cannot write\n", path);
    snprintf(path, sizeof(path), "%s.svg", a->out);
    if (!rc && gs_screen_eval_svg(r, path, err, sizeof(err))) {
        fprintf(stderr, "govstream watchlist eval: %s\n", err);
        rc = -1;
    }
    if (!rc) {
        print_table(r);
        char *totals = json_dumps(json_object_get(o, "totals"), JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("totals: %s\ngovstream: %.0f items/s, p95 %.0f us\n", totals, sp->items_per_s,
               sp->p95_us);
        free(totals);
    }
    json_decref(o);
    return rc ? 1 : 0;
}

/* Loads the references' decisions and scores every screener. */
static int score(const gs_screen_engine_t *e, const eval_args_t *a, const eval_set_t *set,
                 eval_decision_t *const *dec, const eval_speed_t *sp)
{
    char err[512];
    const char *names[EVAL_MAX_SCREENERS] = {"govstream"};
    for (size_t i = 0; i < a->n_refs; i++) {
        names[i + 1] = a->ref_name[i];
        if (gs_screen_eval_decisions(a->ref_file[i], set, dec[i + 1], err, sizeof(err))) {
            fprintf(stderr, "govstream watchlist eval: %s\n", err);
            return 1;
        }
    }
    eval_report_t *r = malloc(sizeof(*r));
    int rc = !r;
    if (r && gs_screen_eval_score(set, (const eval_decision_t *const *)dec, names, a->n_refs + 1, r,
                                  err, sizeof(err))) {
        fprintf(stderr, "govstream watchlist eval: %s\n", err);
        rc = 1;
    }
    if (!rc)
        rc = write_report(e, a, r, sp);
    free(r);
    return rc;
}

int gs_screen_eval_cmd(int argc, char **argv)
{
    eval_args_t a;
    if (parse_eval(argc, argv, &a))
        return 2;
    char err[512];
    eval_set_t set = {0};
    gs_screen_engine_t *e = NULL;
    if (gs_screen_engine_load(a.list, &e, err, sizeof(err)) ||
        gs_screen_eval_load(a.items, &set, err, sizeof(err))) {
        fprintf(stderr, "govstream watchlist eval: %s\n", err);
        gs_screen_engine_destroy(e);
        return 1;
    }
    eval_decision_t *dec[EVAL_MAX_SCREENERS] = {0};
    int rc = 0;
    for (size_t s = 0; s <= a.n_refs; s++)
        rc |= !(dec[s] = calloc(set.n ? set.n : 1, sizeof(eval_decision_t)));
    if (rc)
        fprintf(stderr, "govstream watchlist eval: out of memory\n");
    eval_speed_t sp;
    if (!rc)
        rc = screen_set(e, &a, &set, dec[0], &sp) ? 1 : score(e, &a, &set, dec, &sp);
    for (size_t s = 0; s <= a.n_refs; s++)
        free(dec[s]);
    gs_screen_eval_free(&set);
    gs_screen_engine_destroy(e);
    return rc;
}
