/* The product's govstream and govstream-load: the tools over gs_kinds. */

#include "cmds.h"
#include "govstream/kinds.h"

int main(int argc, char **argv)
{
#ifdef GS_MAIN_LOAD
    return gs_load_main(argc, argv, gs_kinds);
#else
    return gs_govstream_main(argc, argv, gs_kinds);
#endif
}
