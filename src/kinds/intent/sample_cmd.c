/* govstream intent sample: labelled requests from the trajectory
 * generator as JSON lines (the form govstream-load --from reads), for
 * tests, demos and an integrator's own checks. Each line carries the
 * request and, beside it, what the generator drew: "label" (the intent),
 * "target" (the target's id or null) and "move_end_ms". */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

static json_t *vec_json(vec3_t v)
{
    return json_pack("{s:f,s:f,s:f}", "x", v.x, "y", v.y, "z", v.z);
}

static json_t *scene_json(const gen_out_t *g, const char *run, long i)
{
    const scene_t *s = &g->scene;
    json_t *hand = json_array(), *targets = json_array();
    long long t0 = 1700000000000LL;
    for (size_t k = 0; k < s->n; k++)
        json_array_append_new(hand, json_pack("{s:I,s:f,s:f,s:f}", "t_ms",
                                              (json_int_t)(t0 + llround(s->t[k] * 1000)), "x",
                                              s->p[k].x, "y", s->p[k].y, "z", s->p[k].z));
    char id[32];
    for (size_t j = 0; j < s->n_targets; j++) {
        snprintf(id, sizeof(id), "object-%zu", j);
        json_array_append_new(
            targets, json_pack("{s:s,s:o}", "id", id, "position", vec_json(s->targets[j])));
    }
    char rid[160], robot[160];
    snprintf(rid, sizeof(rid), "%s-%ld", run, i);
    snprintf(robot, sizeof(robot), "%s-r%ld", run, i % 4);
    snprintf(id, sizeof(id), "object-%d", g->target);
    return json_pack("{s:s,s:s,s:s,s:o,s:{s:o,s:o},s:o,s:i,s:s,s:o,s:I}", "request_id", rid,
                     "robot_id", robot, "tenant", "default", "hand", hand, "robot", "position",
                     vec_json(s->ee), "velocity", vec_json(s->ee_vel), "targets", targets,
                     "horizon_ms", 500, "label", intent_names[g->intent], "target",
                     g->target >= 0 ? json_string(id) : json_null(), "move_end_ms",
                     (json_int_t)llround(g->move_end * 1000));
}

static void usage(void)
{
    fprintf(stderr, "usage: govstream intent sample --out FILE [--n N] [--seed N] [--fraction F]\n"
                    "           [--run-id S]\n"
                    "  N labelled requests (JSON lines), the intents in turn, from subjects and\n"
                    "  seeds of their own (not those `train intent` uses)\n");
}

static int sample(int argc, char **argv)
{
    static const struct option lo[] = {
        {"out", 1, 0, 'o'},    {"n", 1, 0, 'n'},    {"seed", 1, 0, 's'}, {"fraction", 1, 0, 'f'},
        {"run-id", 1, 0, 'r'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *out = NULL, *run = "sample";
    long n = 60;
    double fraction = 1.0;
    train_conf_t c = {.seed = 77};
    optind = 1;
    int o;
    while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (o) {
        case 'o':
            out = optarg;
            break;
        case 'r':
            run = optarg;
            break;
        case 'n':
            n = strtol(optarg, NULL, 10);
            break;
        case 's':
            c.seed = strtoull(optarg, NULL, 10);
            break;
        case 'f':
            fraction = strtod(optarg, NULL);
            break;
        case 'h':
            usage();
            return 0;
        default:
            usage();
            return 2;
        }
    }
    if (!out || n < 1 || n > 10000000 || !(fraction > 0 && fraction <= 1)) {
        usage();
        return 2;
    }
    FILE *fp = fopen(out, "w");
    if (!fp) {
        fprintf(stderr, "govstream intent sample: %s: %s\n", out, strerror(errno));
        return 1;
    }
    static gen_out_t g;
    split_t sp = {"sample", c.seed + 7777, 11, 0, 16};
    for (long i = 0; i < n; i++) {
        split_scene(&c, &sp, (size_t)i, fraction, &g);
        json_t *j = scene_json(&g, run, i);
        char *line = json_dumps(j, JSON_COMPACT);
        fprintf(fp, "%s\n", line);
        free(line);
        json_decref(j);
    }
    return fclose(fp) == 0 ? 0 : 1;
}

int intent_cmd(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "sample") != 0) {
        usage();
        return 2;
    }
    return sample(argc - 1, argv + 1);
}
