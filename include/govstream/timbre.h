/* govstream - the timbre kind (issue 14, SPEC 1.4; src/kinds/timbre/):
 * instrument-family recognition from PCM clips, aggregated per recording.
 * docs/TIMBRE.md gives the features, the data and the evaluation. */
#ifndef GOVSTREAM_TIMBRE_H
#define GOVSTREAM_TIMBRE_H

#include <stddef.h>

#include "govstream/kind.h"

/* The kind's table entry (src/kinds/timbre/kind.c). */
extern const gs_kind_ops_t gs_kind_timbre;

/* The 11 instrument families of NSynth (SPEC 1.4), in this order. */
#define GS_TIMBRE_N_FAMILIES 11
extern const char *const gs_timbre_family_names[GS_TIMBRE_N_FAMILIES];

/* The family of a General MIDI program (0..127), or -1 for a program that
 * belongs to none (pads, sound effects, unpitched percussion:
 * docs/TIMBRE.md gives the table and its reasons). */
int gs_timbre_gm_family(int program);

/* The MIDI pitch range a family's notes are rendered in (inclusive). */
void gs_timbre_family_range(int family, int *lo, int *hi);

#endif
