/* Scoring screeners on a labelled evaluation set (private to
 * src/kinds/screen; `govstream watchlist eval`). Items and decisions are
 * JSON lines: {"id", "class", "positive", "entry_id", "text",
 * "counterparty", ...} and {"id", "decision", "score", "entry_id"}. */
#ifndef GS_KINDS_SCREEN_EVAL_H
#define GS_KINDS_SCREEN_EVAL_H

#include <jansson.h>
#include <stdio.h>

#include "govstream/screen.h"

#define EVAL_MAX_SCREENERS 4
#define EVAL_MAX_CLASSES   48

typedef struct eval_item {
    const char *id, *cls, *entry_id; /* entry_id "" when none */
    gs_str_t text, counterparty;     /* counterparty.p NULL when none */
    int positive;
} eval_item_t;

/* The items of a file; the strings belong to it. */
typedef struct eval_set {
    eval_item_t *items;
    size_t n;
    json_t *docs; /* the parsed lines */
} eval_set_t;

typedef struct eval_decision {
    int present;  /* the screener decided on this item */
    int decision; /* gs_avro_decision_t */
    double score;
    char entry_id[64];
} eval_decision_t;

typedef struct eval_class {
    char name[32];
    int positive;
    size_t n;
    size_t missing[EVAL_MAX_SCREENERS], medium[EVAL_MAX_SCREENERS], high[EVAL_MAX_SCREENERS];
    size_t right_entry[EVAL_MAX_SCREENERS]; /* positives at MEDIUM+ naming the right entry */
} eval_class_t;

typedef struct eval_report {
    const char *screeners[EVAL_MAX_SCREENERS];
    size_t n_screeners;
    eval_class_t classes[EVAL_MAX_CLASSES];
    size_t n_classes;
} eval_report_t;

/* "LOW" .. "SKIP" -> gs_avro_decision_t, or -1. */
int gs_screen_decision_parse(const char *s);

gs_err_t gs_screen_eval_load(const char *path, eval_set_t *out, char *errstr, size_t errstr_size);
void gs_screen_eval_free(eval_set_t *s);

/* A screener's decisions for the set's items, by id (out: set->n
 * entries). Unknown ids are errors; items without one stay absent. */
gs_err_t gs_screen_eval_decisions(const char *path, const eval_set_t *set, eval_decision_t *out,
                                  char *errstr, size_t errstr_size);

/* Counts per class. dec[s] holds screener s's decisions, set->n each. */
gs_err_t gs_screen_eval_score(const eval_set_t *set, const eval_decision_t *const *dec,
                              const char *const *names, size_t n_screeners, eval_report_t *r,
                              char *errstr, size_t errstr_size);

/* The report as JSON: per class and screener, and the totals. */
json_t *gs_screen_eval_json(const eval_report_t *r);

/* Recall (MEDIUM or higher) per class, one bar per screener; the negative
 * classes as their false MEDIUM-or-higher share. */
gs_err_t gs_screen_eval_svg(const eval_report_t *r, const char *path, char *errstr,
                            size_t errstr_size);

/* govstream watchlist eval (eval_cmd.c): argv as for the watchlist
 * command ("watchlist", "eval", ...); an exit code. */
int gs_screen_eval_cmd(int argc, char **argv);
int gs_screen_eval_usage(FILE *fp);

#endif
