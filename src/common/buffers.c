/* The byte buffer and the batch arena (common.h). */
#include <stdlib.h>
#include <string.h>

#include "govstream/common.h"

int gs_buf_grow(gs_buf_t *b, size_t extra)
{
    if (extra > SIZE_MAX / 2 - b->len)
        return -1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < extra)
        cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

void gs_buf_free(gs_buf_t *b)
{
    free(b->data);
    *b = (gs_buf_t){0};
}

struct gs_arena_chunk {
    gs_arena_chunk_t *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

#define ARENA_MIN_CHUNK ((size_t)64 * 1024)

static void *take(gs_arena_chunk_t *c, size_t size)
{
    size_t at = (c->used + 15) & ~(size_t)15;
    if (at > c->size || c->size - at < size)
        return NULL;
    c->used = at + size;
    return c->data + at;
}

void *gs_arena_alloc(gs_arena_t *a, size_t size)
{
    /* the chunk in use, then the ones a previous batch left after it */
    for (gs_arena_chunk_t *c = a->cur; c; c = c->next) {
        void *p = take(c, size);
        if (p) {
            a->cur = c;
            return p;
        }
    }
    size_t want = a->bytes > ARENA_MIN_CHUNK ? a->bytes : ARENA_MIN_CHUNK;
    if (want < size)
        want = size;
    if (want > SIZE_MAX - sizeof(gs_arena_chunk_t))
        return NULL;
    gs_arena_chunk_t *c = malloc(sizeof(*c) + want);
    if (!c)
        return NULL;
    *c = (gs_arena_chunk_t){.size = want};
    gs_arena_chunk_t **tail = &a->head;
    while (*tail)
        tail = &(*tail)->next;
    *tail = c;
    a->bytes += want;
    a->cur = c;
    return take(c, size);
}

void gs_arena_reset(gs_arena_t *a)
{
    for (gs_arena_chunk_t *c = a->head; c; c = c->next)
        c->used = 0;
    a->cur = a->head;
}

void gs_arena_free(gs_arena_t *a)
{
    for (gs_arena_chunk_t *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    *a = (gs_arena_t){0};
}
