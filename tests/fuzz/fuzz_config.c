/* The config loader: the input is a configuration file (libconfig
 * syntax), loaded with every kind's section as `govstream run -c` does,
 * then destroyed; also with the input as one command-line override. */
#include "fuzz.h"

#include "govstream/config.h"
#include "govstream/kinds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const gs_config_section_t *sections[16];
    if (!sections[0])
        gs_kinds_sections(gs_kinds, sections, sizeof(sections) / sizeof(sections[0]));
    char path[64], err[512];
    gs_config_t *cfg = NULL;
    int fd = fuzz_file(data, size, path, sizeof(path));
    if (fd < 0)
        return 0;
    if (!gs_config_load(path, sections, NULL, 0, &cfg, err, sizeof(err)))
        gs_config_destroy(cfg);
    close(fd);
    char *line = fuzz_cstr(data, size);
    const char *ov[1] = {line};
    cfg = NULL;
    if (line && !gs_config_load(NULL, sections, ov, 1, &cfg, err, sizeof(err)))
        gs_config_destroy(cfg);
    free(line);
    return 0;
}
