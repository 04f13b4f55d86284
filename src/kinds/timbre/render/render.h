/* govstream-render: the timbre kind's training notes, rendered offline from
 * General MIDI sound fonts through libfluidsynth (docs/TIMBRE.md,
 * "Training data"). A tool of its own, so that the worker never links
 * libfluidsynth. */
#ifndef GS_KINDS_TIMBRE_RENDER_H
#define GS_KINDS_TIMBRE_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "govstream/common.h"

#define RENDER_MAX_FONTS 8

/* The sorted identity keys of a font's sample headers (lineage.c). */
gs_err_t render_sample_keys(const char *path, uint64_t **keys, size_t *n_keys, char *errstr,
                            size_t errstr_size);
/* The share of the smaller font's samples that the other one has too. */
double render_shared(const uint64_t *a, size_t na, const uint64_t *b, size_t nb);
/* Lineages: the fonts joined by sharing at least `threshold` (shared is
 * n_fonts x n_fonts), numbered in the order of their first font. */
void render_lineages(const double *shared, int n_fonts, double threshold, int *lineage);

#endif
