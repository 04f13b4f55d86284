/* What the files of the dialogue kind share (private to src/kinds/dialogue). */
#ifndef GS_KINDS_DIALOGUE_INTERNAL_H
#define GS_KINDS_DIALOGUE_INTERNAL_H

#include "govstream/kind_load.h"
#include "govstream/dialogue.h"

/* load.c: govstream-load's generator and verifier */
extern const gs_kind_load_t gs_dialogue_load;
/* train.c: govstream train dialogue ... */
int gs_dialogue_train(int argc, char **argv);

#endif
