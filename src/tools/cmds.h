/* Subcommands of the govstream tool that live outside govstream.c. */
#ifndef GS_TOOLS_CMDS_H
#define GS_TOOLS_CMDS_H

/* govstream train KIND ... ; argv[0] is "train". */
int gs_cmd_train(int argc, char **argv);
/* govstream model info|validate FILE ; argv[0] is "model". */
int gs_cmd_model(int argc, char **argv);

#endif
