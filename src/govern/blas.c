/* Which OpenBLAS kernel runs retrieval and the model's readout. Debian's
 * OpenBLAS picks its kernel at run time from the CPU it detects, and can
 * pick a generic one on a virtual CPU that hides its model (it took this
 * project's 2-vCPU VM for a "Prescott" and ran no AVX code): the worker
 * says which kernel it got, and warns when the CPU could do better. */
#include <cblas.h>
#include <string.h>
#include <strings.h>

#include "govstream/govern.h"

/* Kernels by the vector instructions they use (OpenBLAS core names). */
static const char *const avx512_cores[] = {"SkylakeX", "CooperLake", "SapphireRapids", NULL};
static const char *const avx2_cores[] = {"Haswell", "Zen", NULL};
static const char *const old_cores[] = {
    "Prescott",  "Core2",      "Penryn",      "Dunnington", "Nehalem", "Sandybridge", "Atom",
    "Katmai",    "Coppermine", "Northwood",   "Banias",     "Opteron", "Barcelona",   "Bobcat",
    "Bulldozer", "Piledriver", "Steamroller", "Excavator",  "Nano",    "Generic",     NULL};

static int listed(const char *const *list, const char *core)
{
    for (size_t i = 0; list[i]; i++)
        if (!strcasecmp(list[i], core))
            return 1;
    return 0;
}

gs_blas_info_t gs_blas_info(void)
{
    gs_blas_info_t b = {.core = openblas_get_corename(), .config = openblas_get_config()};
    if (!b.core)
        b.core = "unknown";
    __builtin_cpu_init();
    b.cpu_avx2 = __builtin_cpu_supports("avx2") != 0;
    b.cpu_avx512 = __builtin_cpu_supports("avx512f") != 0;
    b.kernel_avx512 = listed(avx512_cores, b.core);
    b.kernel_avx2 = b.kernel_avx512 || listed(avx2_cores, b.core);
    /* only a kernel known to be older: a name this table does not know may be newer */
    b.slow = listed(old_cores, b.core) && (b.cpu_avx2 || b.cpu_avx512);
    return b;
}
