/* The rendered training notes (private to src/kinds/timbre): what
 * `govstream-render` writes and `govstream train timbre` reads.
 *
 * DIR/notes.bin: "GSNOTES1", a u32 count, then per note an 8-byte label
 * (font, lineage, program, family, pitch, velocity, fx, pitch index), a
 * u32 sample count and that many int16 samples (little-endian, mono,
 * 22,050 Hz). DIR/manifest.json names the fonts, their lineages and
 * every rendering choice (docs/TIMBRE.md, "Training data"). */
#ifndef GS_KINDS_TIMBRE_NOTES_H
#define GS_KINDS_TIMBRE_NOTES_H

#include <stdint.h>
#include <stdio.h>

#include "govstream/common.h"

#define NOTES_MAGIC "GSNOTES1"

typedef struct note {
    uint8_t font, lineage, program, family, pitch, velocity, fx, pitch_index;
    uint32_t n;
    int16_t *pcm; /* into the note set's one allocation */
} note_t;

typedef struct note_set {
    note_t *notes;
    size_t n;
    int16_t *samples;
} note_set_t;

/* Appends one note to an open notes.bin (the count is patched by
 * notes_finish). */
gs_err_t notes_write(FILE *f, const note_t *nt, char *errstr, size_t errstr_size);
gs_err_t notes_start(FILE *f, char *errstr, size_t errstr_size);
gs_err_t notes_finish(FILE *f, uint32_t count, char *errstr, size_t errstr_size);

/* Reads DIR/notes.bin whole. GS_ERR_IO, GS_ERR_DECODE (a bad magic or a
 * truncated record), GS_ERR_NOMEM. */
gs_err_t notes_read(const char *dir, note_set_t *out, char *errstr, size_t errstr_size);
void notes_free(note_set_t *s);

#endif
