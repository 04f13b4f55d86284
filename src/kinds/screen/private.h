/* What the kind's own files share (private to src/kinds/screen; the text
 * modules' code-point helpers are in internal.h). */
#ifndef GS_KINDS_SCREEN_PRIVATE_H
#define GS_KINDS_SCREEN_PRIVATE_H

#include "govstream/kind_load.h"
#include "govstream/screen.h"

/* load.c: govstream-load's generator and verifier */
extern const gs_kind_load_t gs_screen_load;

#endif
