/* Shared by the libFuzzer harnesses (tests/fuzz/README.md). */
#ifndef GS_FUZZ_H
#define GS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "govstream/govern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A governor configured as the worker's is but smaller (8 wake + 4 sleep
 * steps, 4 scopes of 8 memory vectors, 64 MiB), made once per harness. */
static inline gs_govern_t *fuzz_governor(int changelog)
{
    static gs_lexicon_t *lx;
    static gs_govern_t *g;
    if (g)
        return g;
    static const char *const harm[] = {"harm"}, *const care[] = {"care"};
    gs_govern_conf_t gc = {.wake_steps = 8,
                           .sleep_steps = 4,
                           .max_scopes = 4,
                           .memory_capacity = 8,
                           .max_memory_bytes = 64u << 20,
                           .changelog = changelog};
    char err[512];
    if (gs_lexicon_new(harm, 1, care, 1, &lx, err, sizeof(err)) ||
        gs_govern_new(&gc, lx, &g, err, sizeof(err))) {
        fprintf(stderr, "fuzz_governor: %s\n", err);
        abort();
    }
    return g;
}

/* The input as a file that path-taking loaders can open: an anonymous
 * memory file, named through /proc. Returns its fd (close it), -1 on
 * failure. */
static inline int fuzz_file(const uint8_t *data, size_t size, char *path, size_t n)
{
    int fd = memfd_create("fuzz", 0);
    if (fd < 0)
        return -1;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return -1;
    }
    snprintf(path, n, "/proc/self/fd/%d", fd);
    return fd;
}

/* A copy of data with a NUL after it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = '\0';
    }
    return s;
}

#endif
