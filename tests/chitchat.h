/* The Chit-Chat corpus as ops/data/fetch_corpus.sh leaves it (a line a
 * conversation, turns separated by tabs), split in place, and recall
 * counting: shared by the tests and benchmarks that embed real dialogue
 * text. Header-only. */
#ifndef GS_TESTS_CHITCHAT_H
#define GS_TESTS_CHITCHAT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "govstream/common.h"
#include "govstream/memory.h"

typedef struct chitchat {
    char *text;
    gs_str_t *turns; /* every turn of every conversation */
    size_t *first;   /* conversation c: turns[first[c] .. first[c + 1]) */
    size_t n_conv, n_turns;
} chitchat_t;

static inline void chitchat_free(chitchat_t *c)
{
    free(c->text), free(c->turns), free(c->first);
    memset(c, 0, sizeof(*c));
}

static inline void chitchat_split(chitchat_t *c)
{
    c->n_conv = c->n_turns = 0;
    for (char *p = c->text; *p;) {
        char *e = strchr(p, '\n');
        e = e ? e : p + strlen(p);
        c->first[c->n_conv++] = c->n_turns;
        for (char *s = p; s < e;) {
            char *tab = memchr(s, '\t', (size_t)(e - s));
            tab = tab ? tab : e;
            c->turns[c->n_turns++] = (gs_str_t){s, (size_t)(tab - s)};
            s = tab + 1;
        }
        p = *e ? e + 1 : e;
    }
    c->first[c->n_conv] = c->n_turns;
}

/* 0, or -1 when the file cannot be read or memory runs out. */
static inline int chitchat_load(const char *path, chitchat_t *c)
{
    memset(c, 0, sizeof(*c));
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    c->text = len >= 0 ? malloc((size_t)len + 1) : NULL;
    size_t got = c->text ? fread(c->text, 1, (size_t)len, f) : 0;
    fclose(f);
    if (!c->text || got != (size_t)len) {
        chitchat_free(c);
        return -1;
    }
    c->text[len] = '\0';
    size_t cap = 1;
    for (long i = 0; i < len; i++)
        cap += c->text[i] == '\t' || c->text[i] == '\n';
    c->turns = malloc(cap * sizeof(gs_str_t));
    c->first = malloc((cap + 1) * sizeof(size_t));
    if (!c->turns || !c->first) {
        chitchat_free(c);
        return -1;
    }
    chitchat_split(c);
    return 0;
}

/* Recall counting: how many of the hits a (an index's) are among b (the
 * exact ones). */
static inline size_t hits_overlap(const gs_pelm_hit_t *a, size_t na, const gs_pelm_hit_t *b,
                                  size_t nb)
{
    size_t same = 0;
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            same += a[i].slot == b[j].slot;
    return same;
}

#endif
