/* The govstream tools' entry points: main.c (the product's kinds) and
 * tests/kinds/ (the product's kinds plus a test-only one) call them. */
#ifndef GS_TOOLS_CMDS_H
#define GS_TOOLS_CMDS_H

#include "govstream/kind.h"

/* govstream ... (argv[0] is the program). */
int gs_govstream_main(int argc, char **argv, const gs_kind_ops_t *const *kinds);
/* govstream-load ... (argv[0] is the program). */
int gs_load_main(int argc, char **argv, const gs_kind_ops_t *const *kinds);
/* govstream model info|validate FILE ; argv[0] is "model". validate also
 * loads the model by the kind whose model_kind the file has. */
int gs_cmd_model(int argc, char **argv, const gs_kind_ops_t *const *kinds);

#endif
