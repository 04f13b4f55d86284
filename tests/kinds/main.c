/* govstream and govstream-load with one more kind than the product's: the
 * test-only echo kind, registered by the one line in the table below (the
 * product's kinds come first, as in src/kinds/kinds.c).
 *   govstream-test-kinds ARGS...         as govstream
 *   govstream-test-kinds load ARGS...    as govstream-load */
#include <string.h>

#include "cmds.h"
#include "echo/echo.h"
#include "govstream/dialogue.h"
#include "govstream/screen.h"

static const gs_kind_ops_t *const kinds[] = {
    &gs_kind_dialogue,
    &gs_kind_screen,
    &gs_test_kind_echo, /* the one line that adds a kind */
    NULL,
};

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "load"))
        return gs_load_main(argc - 1, argv + 1, kinds);
    return gs_govstream_main(argc, argv, kinds);
}
