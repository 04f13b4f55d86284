/* The evaluation report of screeners on a labelled set (docs/SCREEN.md,
 * "Evaluation"): recall per class, precision, and false alerts per 1,000
 * clean payments, for govstream and reference screeners side by side; as
 * JSON and as an SVG picture. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/svg.h"
#include "eval.h"

static const char *const decision_names[] = {"LOW", "MEDIUM", "HIGH", "SKIP"};

int gs_screen_decision_parse(const char *s)
{
    for (int i = 0; s && i < 4; i++)
        if (!strcmp(s, decision_names[i]))
            return i;
    return -1;
}

static int at_least_medium(int d)
{
    return d == GS_AVRO_DECISION_MEDIUM || d == GS_AVRO_DECISION_HIGH;
}

static const char *str_of(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static gs_str_t gstr_of(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? (gs_str_t){json_string_value(v), json_string_length(v)}
                             : (gs_str_t){NULL, 0};
}

/* Every line of a JSON-lines file, as one array. */
static gs_err_t load_lines(const char *path, json_t **out, char *errstr, size_t n)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return gs_fail(errstr, n, GS_ERR_IO, "%s: cannot open", path);
    json_t *arr = json_array();
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    gs_err_t err = GS_OK;
    for (ssize_t len; !err && (len = getline(&line, &cap, fp)) > 0;) {
        lineno++;
        if (len == 1 && line[0] == '\n')
            continue;
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)len, 0, &je);
        if (!json_is_object(j))
            err = gs_fail(errstr, n, GS_ERR_DECODE, "%s:%zu: not a JSON object: %s", path, lineno,
                          j ? "" : je.text);
        if (!err)
            json_array_append(arr, j);
        json_decref(j);
    }
    free(line);
    fclose(fp);
    if (err)
        json_decref(arr);
    else
        *out = arr;
    return err;
}

gs_err_t gs_screen_eval_load(const char *path, eval_set_t *out, char *errstr, size_t n)
{
    *out = (eval_set_t){0};
    gs_err_t err = load_lines(path, &out->docs, errstr, n);
    if (err)
        return err;
    out->n = json_array_size(out->docs);
    out->items = calloc(out->n ? out->n : 1, sizeof(*out->items));
    if (!out->items) {
        gs_screen_eval_free(out);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < out->n; i++) {
        json_t *o = json_array_get(out->docs, i);
        out->items[i] = (eval_item_t){.id = str_of(o, "id"),
                                      .cls = str_of(o, "class"),
                                      .entry_id = str_of(o, "entry_id"),
                                      .text = gstr_of(o, "text"),
                                      .counterparty = gstr_of(o, "counterparty"),
                                      .positive = json_is_true(json_object_get(o, "positive"))};
        if (!*out->items[i].id || !*out->items[i].cls || !out->items[i].text.p) {
            gs_screen_eval_free(out);
            return gs_fail(errstr, n, GS_ERR_DECODE, "%s: item %zu lacks id, class or text", path,
                           i + 1);
        }
    }
    return GS_OK;
}

void gs_screen_eval_free(eval_set_t *s)
{
    free(s->items);
    json_decref(s->docs);
    *s = (eval_set_t){0};
}

/* An item's id and index, sorted by id for lookups. */
typedef struct id_ref {
    const char *id;
    size_t i;
} id_ref_t;

static int by_id(const void *a, const void *b)
{
    return strcmp(((const id_ref_t *)a)->id, ((const id_ref_t *)b)->id);
}

static void take_decision(json_t *o, eval_decision_t *d)
{
    d->present = 1;
    d->decision = gs_screen_decision_parse(str_of(o, "decision"));
    d->score = json_number_value(json_object_get(o, "score"));
    snprintf(d->entry_id, sizeof(d->entry_id), "%s", str_of(o, "entry_id"));
}

gs_err_t gs_screen_eval_decisions(const char *path, const eval_set_t *set, eval_decision_t *out,
                                  char *errstr, size_t n)
{
    json_t *docs;
    gs_err_t err = load_lines(path, &docs, errstr, n);
    if (err)
        return err;
    id_ref_t *refs = calloc(set->n ? set->n : 1, sizeof(*refs));
    if (!refs) {
        json_decref(docs);
        return gs_fail(errstr, n, GS_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < set->n; i++)
        refs[i] = (id_ref_t){set->items[i].id, i};
    qsort(refs, set->n, sizeof(*refs), by_id);
    memset(out, 0, set->n * sizeof(*out));
    for (size_t k = 0; !err && k < json_array_size(docs); k++) {
        json_t *o = json_array_get(docs, k);
        id_ref_t key = {str_of(o, "id"), 0};
        const id_ref_t *hit = bsearch(&key, refs, set->n, sizeof(*refs), by_id);
        if (!hit)
            err = gs_fail(errstr, n, GS_ERR_DECODE, "%s:%zu: id \"%.64s\" is not in the set", path,
                          k + 1, key.id);
        else if (gs_screen_decision_parse(str_of(o, "decision")) < 0)
            err = gs_fail(errstr, n, GS_ERR_DECODE, "%s:%zu: decision \"%.16s\"", path, k + 1,
                          str_of(o, "decision"));
        else
            take_decision(o, &out[hit->i]);
    }
    free(refs);
    json_decref(docs);
    return err;
}

/* The class's place in the report, added when new; -1 when full. */
static long class_of(eval_report_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_classes; i++)
        if (!strcmp(r->classes[i].name, name))
            return (long)i;
    if (r->n_classes == EVAL_MAX_CLASSES)
        return -1;
    snprintf(r->classes[r->n_classes].name, sizeof(r->classes[0].name), "%s", name);
    return (long)r->n_classes++;
}

static void count_one(eval_class_t *k, size_t s, const eval_item_t *it, const eval_decision_t *d)
{
    if (!d->present) {
        k->missing[s]++;
        return;
    }
    int med = at_least_medium(d->decision);
    k->medium[s] += med;
    k->high[s] += d->decision == GS_AVRO_DECISION_HIGH;
    k->right_entry[s] += it->positive && med && *it->entry_id && !strcmp(it->entry_id, d->entry_id);
}

gs_err_t gs_screen_eval_score(const eval_set_t *set, const eval_decision_t *const *dec,
                              const char *const *names, size_t n_screeners, eval_report_t *r,
                              char *errstr, size_t n)
{
    *r = (eval_report_t){.n_screeners = n_screeners};
    if (n_screeners > EVAL_MAX_SCREENERS)
        return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "at most %d screeners", EVAL_MAX_SCREENERS);
    for (size_t s = 0; s < n_screeners; s++)
        r->screeners[s] = names[s];
    for (size_t i = 0; i < set->n; i++) {
        const eval_item_t *it = &set->items[i];
        long c = class_of(r, it->cls);
        if (c < 0)
            return gs_fail(errstr, n, GS_ERR_INVALID_ARG, "more than %d classes", EVAL_MAX_CLASSES);
        eval_class_t *k = &r->classes[c];
        if (k->n && k->positive != it->positive)
            return gs_fail(errstr, n, GS_ERR_INVALID_ARG,
                           "class %s has both positive and negative items", k->name);
        k->positive = it->positive;
        k->n++;
        for (size_t s = 0; s < n_screeners; s++)
            count_one(k, s, it, &dec[s][i]);
    }
    return GS_OK;
}

static double share(size_t a, size_t b)
{
    return b ? (double)a / (double)b : NAN;
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *class_json(const eval_report_t *r, const eval_class_t *k)
{
    json_t *o = json_pack("{s:s,s:I,s:b}", "class", k->name, "n", (json_int_t)k->n, "positive",
                          k->positive);
    json_t *by = json_object();
    for (size_t s = 0; s < r->n_screeners; s++) {
        size_t seen = k->n - k->missing[s];
        json_t *c =
            json_pack("{s:o,s:o,s:I}", k->positive ? "recall_medium" : "false_medium",
                      num(share(k->medium[s], seen)), k->positive ? "recall_high" : "false_high",
                      num(share(k->high[s], seen)), "missing", (json_int_t)k->missing[s]);
        if (k->positive)
            json_object_set_new(c, "right_entry", num(share(k->right_entry[s], seen)));
        json_object_set_new(by, r->screeners[s], c);
    }
    json_object_set_new(o, "screeners", by);
    return o;
}

/* The totals of screener s: recall over every positive, precision over
 * every MEDIUM-or-higher, false alerts per 1,000 clean payments. */
static json_t *totals_json(const eval_report_t *r, size_t s)
{
    size_t pos = 0, pos_med = 0, pos_high = 0, neg_med = 0, clean = 0, clean_med = 0,
           clean_high = 0;
    for (size_t i = 0; i < r->n_classes; i++) {
        const eval_class_t *k = &r->classes[i];
        size_t seen = k->n - k->missing[s];
        if (k->positive) {
            pos += seen, pos_med += k->medium[s], pos_high += k->high[s];
            continue;
        }
        neg_med += k->medium[s];
        if (!strcmp(k->name, "clean"))
            clean += seen, clean_med += k->medium[s], clean_high += k->high[s];
    }
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:I,s:I}", "recall_medium", num(share(pos_med, pos)),
                     "recall_high", num(share(pos_high, pos)), "precision",
                     num(share(pos_med, pos_med + neg_med)), "false_high_per_1000_clean",
                     num(1000 * share(clean_high, clean)), "false_medium_per_1000_clean",
                     num(1000 * share(clean_med, clean)), "positives", (json_int_t)pos, "clean",
                     (json_int_t)clean);
}

json_t *gs_screen_eval_json(const eval_report_t *r)
{
    json_t *classes = json_array(), *totals = json_object();
    for (size_t i = 0; i < r->n_classes; i++)
        json_array_append_new(classes, class_json(r, &r->classes[i]));
    for (size_t s = 0; s < r->n_screeners; s++)
        json_object_set_new(totals, r->screeners[s], totals_json(r, s));
    return json_pack("{s:o,s:o}", "totals", totals, "classes", classes);
}

gs_err_t gs_screen_eval_svg(const eval_report_t *r, const char *path, char *errstr, size_t n)
{
    const char *cats[EVAL_MAX_CLASSES];
    char labels[EVAL_MAX_CLASSES][48];
    double vals[EVAL_MAX_CLASSES * EVAL_MAX_SCREENERS];
    for (size_t i = 0; i < r->n_classes; i++) {
        const eval_class_t *k = &r->classes[i];
        snprintf(labels[i], sizeof(labels[i]), "%s%s (%zu)", k->positive ? "" : "false: ", k->name,
                 k->n);
        cats[i] = labels[i];
        for (size_t s = 0; s < r->n_screeners; s++)
            vals[i * r->n_screeners + s] = share(k->medium[s], k->n - k->missing[s]);
    }
    gs_svg_bars_t b = {
        .title = "Screening: recall per class (MEDIUM or higher); negatives: share flagged",
        .axis = "share of the class's items at MEDIUM or HIGH",
        .categories = cats,
        .n_categories = r->n_classes,
        .series = r->screeners,
        .n_series = r->n_screeners,
        .values = vals,
        .max = 1,
        .value_format = "%.3f",
    };
    FILE *fp = fopen(path, "w");
    if (!fp)
        return gs_fail(errstr, n, GS_ERR_IO, "%s: cannot write", path);
    gs_err_t err = gs_svg_bars_write(fp, &b, errstr, n);
    if (fclose(fp) && !err)
        err = gs_fail(errstr, n, GS_ERR_IO, "%s: cannot write", path);
    return err;
}
