/* notes.bin, written by the renderer and read by the trainer (notes.h). */
#include "notes.h"

#include <stdlib.h>
#include <string.h>

static void label_bytes(const note_t *nt, uint8_t b[8])
{
    const uint8_t v[8] = {nt->font,  nt->lineage,  nt->program, nt->family,
                          nt->pitch, nt->velocity, nt->fx,      nt->pitch_index};
    memcpy(b, v, 8);
}

static void put_u32(uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

gs_err_t notes_start(FILE *f, char *errstr, size_t n)
{
    uint8_t count[4] = {0};
    if (fwrite(NOTES_MAGIC, 1, 8, f) != 8 || fwrite(count, 1, 4, f) != 4)
        return gs_fail(errstr, n, GS_ERR_IO, "notes.bin: write failed");
    return GS_OK;
}

gs_err_t notes_write(FILE *f, const note_t *nt, char *errstr, size_t n)
{
    uint8_t head[12];
    label_bytes(nt, head);
    put_u32(head + 8, nt->n);
    int ok = fwrite(head, 1, sizeof(head), f) == sizeof(head);
    for (uint32_t i = 0; ok && i < nt->n; i++) {
        uint8_t s[2] = {(uint8_t)((uint16_t)nt->pcm[i] & 0xff),
                        (uint8_t)((uint16_t)nt->pcm[i] >> 8)};
        ok = fwrite(s, 1, 2, f) == 2;
    }
    return ok ? GS_OK : gs_fail(errstr, n, GS_ERR_IO, "notes.bin: write failed");
}

gs_err_t notes_finish(FILE *f, uint32_t count, char *errstr, size_t n)
{
    uint8_t b[4];
    put_u32(b, count);
    if (fseek(f, 8, SEEK_SET) != 0 || fwrite(b, 1, 4, f) != 4 || fflush(f) != 0)
        return gs_fail(errstr, n, GS_ERR_IO, "notes.bin: write failed");
    return GS_OK;
}

/* The records of buf[0..len) into s (two passes: count, then copy). */
static gs_err_t parse(const uint8_t *buf, size_t len, note_set_t *s, char *errstr, size_t n)
{
    if (len < 12 || memcmp(buf, NOTES_MAGIC, 8) != 0)
        return gs_fail(errstr, n, GS_ERR_DECODE, "notes.bin: not a note set");
    s->n = get_u32(buf + 8);
    size_t total = 0, off = 12;
    for (size_t i = 0; i < s->n; i++) {
        if (len - off < 12 || (len - off - 12) / 2 < get_u32(buf + off + 8))
            return gs_fail(errstr, n, GS_ERR_DECODE, "notes.bin: note %zu truncated", i);
        total += get_u32(buf + off + 8);
        off += 12 + 2 * (size_t)get_u32(buf + off + 8);
    }
    s->notes = calloc(s->n + 1, sizeof(*s->notes));
    s->samples = malloc((total + 1) * sizeof(int16_t));
    if (!s->notes || !s->samples)
        return gs_fail(errstr, n, GS_ERR_NOMEM, "notes.bin: out of memory");
    int16_t *p = s->samples;
    off = 12;
    for (size_t i = 0; i < s->n; i++) {
        const uint8_t *h = buf + off;
        note_t *nt = &s->notes[i];
        *nt = (note_t){.font = h[0],
                       .lineage = h[1],
                       .program = h[2],
                       .family = h[3],
                       .pitch = h[4],
                       .velocity = h[5],
                       .fx = h[6],
                       .pitch_index = h[7],
                       .n = get_u32(h + 8),
                       .pcm = p};
        for (uint32_t k = 0; k < nt->n; k++)
            p[k] = (int16_t)(uint16_t)(h[12 + 2 * k] | h[13 + 2 * k] << 8);
        p += nt->n;
        off += 12 + 2 * (size_t)nt->n;
    }
    return GS_OK;
}

gs_err_t notes_read(const char *dir, note_set_t *out, char *errstr, size_t n)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/notes.bin", dir);
    char *buf = NULL;
    size_t len = 0;
    *out = (note_set_t){0};
    gs_err_t err = gs_read_file(path, &buf, &len, errstr, n);
    if (!err)
        err = parse((const uint8_t *)buf, len, out, errstr, n);
    free(buf);
    if (err)
        notes_free(out);
    return err;
}

void notes_free(note_set_t *s)
{
    free(s->notes);
    free(s->samples);
    *s = (note_set_t){0};
}
