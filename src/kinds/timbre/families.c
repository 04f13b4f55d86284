/* The NSynth families and the General MIDI programs that make them
 * (docs/TIMBRE.md, "Families"). NSynth names a family by how the sound is
 * made, so a program goes where its source instrument would: free reeds
 * (accordion, harmonica, bagpipe) are reed, the harp and the fiddle are
 * string, plucked ethnic strings are guitar. Programs with no such source
 * (pads, effects, unpitched percussion, orchestra hit) are left out
 * rather than forced into a family. */
#include "govstream/timbre.h"

enum { BASS, BRASS, FLUTE, GUITAR, KEYBOARD, MALLET, ORGAN, REED, STRING, SYNTH_LEAD, VOCAL };

const char *const gs_timbre_family_names[GS_TIMBRE_N_FAMILIES] = {
    "bass",  "brass", "flute",  "guitar",     "keyboard", "mallet",
    "organ", "reed",  "string", "synth_lead", "vocal"};

#define NO (-1)
static const signed char gm_family[128] = {
    /* 0-7 pianos, 8-15 chromatic percussion (15 dulcimer: a struck string, left out) */
    KEYBOARD, KEYBOARD, KEYBOARD, KEYBOARD, KEYBOARD, KEYBOARD, KEYBOARD, KEYBOARD, MALLET, MALLET,
    MALLET, MALLET, MALLET, MALLET, MALLET, NO,
    /* 16-23 organs; accordion, harmonica, tango accordion are free reeds */
    ORGAN, ORGAN, ORGAN, ORGAN, ORGAN, REED, REED, REED,
    /* 24-31 guitars, 32-39 basses */
    GUITAR, GUITAR, GUITAR, GUITAR, GUITAR, GUITAR, GUITAR, GUITAR, BASS, BASS, BASS, BASS, BASS,
    BASS, BASS, BASS,
    /* 40-47 strings (47 timpani left out), 48-55 ensembles (synth strings
     * and the orchestra hit left out; the choirs are vocal) */
    STRING, STRING, STRING, STRING, STRING, STRING, STRING, NO, STRING, STRING, NO, NO, VOCAL,
    VOCAL, VOCAL, NO,
    /* 56-63 brass, 64-71 reeds, 72-79 pipes */
    BRASS, BRASS, BRASS, BRASS, BRASS, BRASS, BRASS, BRASS, REED, REED, REED, REED, REED, REED,
    REED, REED, FLUTE, FLUTE, FLUTE, FLUTE, FLUTE, FLUTE, FLUTE, FLUTE,
    /* 80-87 synth leads, 88-95 pads, 96-103 effects */
    SYNTH_LEAD, SYNTH_LEAD, SYNTH_LEAD, SYNTH_LEAD, SYNTH_LEAD, SYNTH_LEAD, SYNTH_LEAD, SYNTH_LEAD,
    NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO,
    /* 104-111 ethnic: sitar, banjo, shamisen, koto; kalimba; bagpipe; fiddle; shanai */
    GUITAR, GUITAR, GUITAR, GUITAR, MALLET, REED, STRING, REED,
    /* 112-119 percussive: tinkle bell and steel drums are pitched mallets */
    MALLET, NO, MALLET, NO, NO, NO, NO, NO,
    /* 120-127 sound effects */
    NO, NO, NO, NO, NO, NO, NO, NO};

int gs_timbre_gm_family(int program)
{
    return program >= 0 && program < 128 ? gm_family[program] : NO;
}

void gs_timbre_family_range(int family, int *lo, int *hi)
{
    /* where the family's instruments play (MIDI 60 = C4), kept inside what
     * the GM fonts sample well */
    static const unsigned char range[GS_TIMBRE_N_FAMILIES][2] = {
        [BASS] = {28, 60},     [BRASS] = {45, 82},      [FLUTE] = {60, 96}, [GUITAR] = {40, 81},
        [KEYBOARD] = {33, 96}, [MALLET] = {53, 96},     [ORGAN] = {36, 91}, [REED] = {46, 86},
        [STRING] = {43, 93},   [SYNTH_LEAD] = {41, 89}, [VOCAL] = {48, 79}};
    int f = family >= 0 && family < GS_TIMBRE_N_FAMILIES ? family : KEYBOARD;
    *lo = range[f][0];
    *hi = range[f][1];
}
