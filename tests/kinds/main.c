/* govstream and govstream-load with one more kind than the product's: the
 * test-only echo kind, registered by the one line below after the
 * product's own table (src/kinds/kinds.c), so that the two never drift.
 *   govstream-test-kinds ARGS...         as govstream
 *   govstream-test-kinds load ARGS...    as govstream-load */
#include <string.h>

#include "cmds.h"
#include "echo/echo.h"
#include "govstream/kinds.h"

#define MAX_KINDS 16

int main(int argc, char **argv)
{
    const gs_kind_ops_t *kinds[MAX_KINDS + 2];
    size_t n = 0;
    for (; gs_kinds[n] && n < MAX_KINDS; n++)
        kinds[n] = gs_kinds[n];
    kinds[n++] = &gs_test_kind_echo; /* the one line that adds a kind */
    kinds[n] = NULL;
    if (argc > 1 && !strcmp(argv[1], "load"))
        return gs_load_main(argc - 1, argv + 1, kinds);
    return gs_govstream_main(argc, argv, kinds);
}
