/* The screen kind's evaluation report (src/kinds/screen/eval.c) and the SVG
 * bars it draws (src/common/svg.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/kinds/screen/eval.h"
#include "govstream/svg.h"

static char *temp_write(const char *text)
{
    char *path = strdup("/tmp/gs_test_evalXXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

static const char *items_text =
    "{\"id\":\"p1\",\"class\":\"typo1\",\"positive\":true,\"entry_id\":\"E1\",\"text\":\"a\"}\n"
    "{\"id\":\"p2\",\"class\":\"typo1\",\"positive\":true,\"entry_id\":\"E2\",\"text\":\"b\"}\n"
    "{\"id\":\"p3\",\"class\":\"bgn\",\"positive\":true,\"entry_id\":\"E3\",\"text\":\"c\","
    "\"counterparty\":\"x\"}\n"
    "\n"
    "{\"id\":\"c1\",\"class\":\"clean\",\"positive\":false,\"entry_id\":null,\"text\":\"d\"}\n"
    "{\"id\":\"c2\",\"class\":\"clean\",\"positive\":false,\"entry_id\":null,\"text\":\"e\"}\n"
    "{\"id\":\"n1\",\"class\":\"neg_sister\",\"positive\":false,\"entry_id\":null,\"text\":\"f\"}"
    "\n";

/* ours: p1 HIGH right entry, p2 MEDIUM wrong entry, p3 LOW; c1 HIGH (a
 * false alert), c2 LOW, n1 MEDIUM. ref: p1 MEDIUM, p3 missing, rest LOW. */
static const char *ours_text =
    "{\"id\":\"p1\",\"decision\":\"HIGH\",\"score\":0.95,\"entry_id\":\"E1\"}\n"
    "{\"id\":\"p2\",\"decision\":\"MEDIUM\",\"score\":0.8,\"entry_id\":\"E9\"}\n"
    "{\"id\":\"p3\",\"decision\":\"LOW\",\"score\":0.2,\"entry_id\":null}\n"
    "{\"id\":\"c1\",\"decision\":\"HIGH\",\"score\":0.91,\"entry_id\":\"E5\"}\n"
    "{\"id\":\"c2\",\"decision\":\"LOW\",\"score\":0,\"entry_id\":null}\n"
    "{\"id\":\"n1\",\"decision\":\"MEDIUM\",\"score\":0.76,\"entry_id\":\"E7\"}\n";
static const char *ref_text =
    "{\"id\":\"p1\",\"decision\":\"MEDIUM\",\"score\":85,\"entry_id\":\"E1\"}\n"
    "{\"id\":\"p2\",\"decision\":\"LOW\",\"score\":10,\"entry_id\":null}\n"
    "{\"id\":\"c1\",\"decision\":\"LOW\",\"score\":0,\"entry_id\":null}\n"
    "{\"id\":\"c2\",\"decision\":\"SKIP\",\"score\":0,\"entry_id\":null}\n"
    "{\"id\":\"n1\",\"decision\":\"LOW\",\"score\":0,\"entry_id\":null}\n";

static double num_at(json_t *j, const char *a, const char *b)
{
    return json_number_value(json_object_get(json_object_get(j, a), b));
}

static const eval_class_t *cls(const eval_report_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_classes; i++)
        if (!strcmp(r->classes[i].name, name))
            return &r->classes[i];
    fail_msg("no class %s", name);
    return NULL;
}

static void test_score(void **state)
{
    (void)state;
    char err[256];
    char *ip = temp_write(items_text), *op = temp_write(ours_text), *rp = temp_write(ref_text);
    eval_set_t set;
    assert_int_equal(gs_screen_eval_load(ip, &set, err, sizeof(err)), GS_OK);
    assert_int_equal(set.n, 6);
    assert_non_null(set.items[2].counterparty.p);
    assert_null(set.items[0].counterparty.p);
    eval_decision_t *ours = calloc(set.n, sizeof(*ours)), *ref = calloc(set.n, sizeof(*ref));
    assert_int_equal(gs_screen_eval_decisions(op, &set, ours, err, sizeof(err)), GS_OK);
    assert_int_equal(gs_screen_eval_decisions(rp, &set, ref, err, sizeof(err)), GS_OK);
    const eval_decision_t *dec[] = {ours, ref};
    const char *names[] = {"govstream", "rapidfuzz"};
    eval_report_t r;
    assert_int_equal(gs_screen_eval_score(&set, dec, names, 2, &r, err, sizeof(err)), GS_OK);
    assert_int_equal(r.n_classes, 4);
    const eval_class_t *typo = cls(&r, "typo1"), *bgn = cls(&r, "bgn");
    assert_int_equal(typo->medium[0], 2);
    assert_int_equal(typo->high[0], 1);
    assert_int_equal(typo->right_entry[0], 1);
    assert_int_equal(typo->medium[1], 1);
    assert_int_equal(bgn->missing[1], 1);

    json_t *j = gs_screen_eval_json(&r);
    json_t *tot = json_object_get(j, "totals");
    /* ours: 2 of 3 positives; precision 2 / (2 + 2 false) */
    assert_true(fabs(num_at(tot, "govstream", "recall_medium") - 2.0 / 3) < 1e-12);
    assert_true(fabs(num_at(tot, "govstream", "precision") - 0.5) < 1e-12);
    assert_true(fabs(num_at(tot, "govstream", "false_high_per_1000_clean") - 500) < 1e-9);
    assert_true(fabs(num_at(tot, "govstream", "false_medium_per_1000_clean") - 500) < 1e-9);
    /* the reference decided on 2 of 3 positives: recall over those */
    assert_true(fabs(num_at(tot, "rapidfuzz", "recall_medium") - 0.5) < 1e-12);
    assert_true(num_at(tot, "rapidfuzz", "false_high_per_1000_clean") == 0);
    json_decref(j);

    char *svg = strdup("/tmp/gs_test_evalsvgXXXXXX");
    close(mkstemp(svg));
    assert_int_equal(gs_screen_eval_svg(&r, svg, err, sizeof(err)), GS_OK);
    char *text;
    size_t len;
    assert_int_equal(gs_read_file(svg, &text, &len, err, sizeof(err)), GS_OK);
    assert_non_null(strstr(text, "<svg "));
    assert_non_null(strstr(text, "typo1 (2)"));
    assert_non_null(strstr(text, "false: clean (2)"));
    assert_non_null(strstr(text, "rapidfuzz"));
    free(text);
    unlink(svg);
    free(svg);

    /* an unknown id, a bad decision */
    char *bad = temp_write("{\"id\":\"zz\",\"decision\":\"LOW\"}\n");
    assert_int_equal(gs_screen_eval_decisions(bad, &set, ref, err, sizeof(err)), GS_ERR_DECODE);
    assert_non_null(strstr(err, "zz"));
    unlink(bad);
    free(bad);
    bad = temp_write("{\"id\":\"p1\",\"decision\":\"MAYBE\"}\n");
    assert_int_equal(gs_screen_eval_decisions(bad, &set, ref, err, sizeof(err)), GS_ERR_DECODE);
    unlink(bad);
    free(bad);

    free(ours);
    free(ref);
    gs_screen_eval_free(&set);
    for (char **p = (char *[]){ip, op, rp, NULL}; *p; p++) {
        unlink(*p);
        free(*p);
    }
}

static void test_svg_escapes(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    const char *cats[] = {"a<b & \"c\""};
    const char *series[] = {"s'1"};
    double v[] = {NAN};
    gs_svg_bars_t b = {.title = "t>",
                       .axis = "x",
                       .categories = cats,
                       .n_categories = 1,
                       .series = series,
                       .n_series = 1,
                       .values = v};
    char err[64];
    assert_int_equal(gs_svg_bars_write(fp, &b, err, sizeof(err)), GS_OK);
    fclose(fp);
    assert_non_null(strstr(buf, "a&lt;b &amp; &quot;c&quot;"));
    assert_non_null(strstr(buf, "s&apos;1"));
    assert_non_null(strstr(buf, "t&gt;"));
    assert_null(strstr(buf, "a<b"));
    /* NaN: no bar is drawn (only the legend's and the background) */
    size_t rects = 0;
    for (const char *p = buf; (p = strstr(p, "<rect")); p++)
        rects++;
    assert_int_equal(rects, 2);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_score),
        cmocka_unit_test(test_svg_escapes),
    };
    return cmocka_run_group_tests_name("screen_eval", tests, NULL, NULL);
}
