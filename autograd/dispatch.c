/* dispatch.c — what the machine offers the kernels (see kernels.h): which instruction set
 * they use, and how big the caches are that the GEMM blocks for.
 *
 * Both are found once, on the first call: the instruction set from the CPU (best supported
 * set) or from HENBUN_KERNEL, the cache geometry from sysconf.  They are the library's only
 * process-wide state besides the thread count: they describe the machine, not a
 * computation, so they are shared by every tape. */
#include "autograd/kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const isa_names[AG_ISA_COUNT] = {"portable", "avx2", "avx512"};

const char *ag_isa_name(ag_isa isa) { return isa >= 0 && isa < AG_ISA_COUNT ? isa_names[isa] : "?"; }

bool ag_isa_supported(ag_isa isa)
{
    switch (isa) {
    case AG_ISA_PORTABLE: return true;
#ifdef AG_HAVE_X86_KERNELS
    case AG_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case AG_ISA_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
#endif
    default: return false;
    }
}

/* -1 until chosen.  Racing first calls compute the same value, so relaxed is enough. */
static _Atomic int chosen = -1;

static ag_isa choose(void)
{
    const char *want = getenv("HENBUN_KERNEL");
    if (want && *want) {
        for (int i = 0; i < AG_ISA_COUNT; i++) {
            if (strcmp(want, isa_names[i]) != 0) continue;
            if (!ag_isa_supported((ag_isa)i))
                ag_error("kernels", "HENBUN_KERNEL=%s: this CPU or build does not support it "
                         "(use portable%s)", want, ag_isa_supported(AG_ISA_AVX2) ? ", avx2" : "");
            return (ag_isa)i;
        }
        ag_error("kernels", "HENBUN_KERNEL=%s: expected portable, avx2 or avx512", want);
    }
    for (int i = AG_ISA_COUNT - 1; i > 0; i--)
        if (ag_isa_supported((ag_isa)i)) return (ag_isa)i;
    return AG_ISA_PORTABLE;
}

ag_isa ag_kernel_isa(void)
{
    int isa = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (isa < 0) {
        isa = (int)choose();
        atomic_store_explicit(&chosen, isa, memory_order_relaxed);
    }
    return (ag_isa)isa;
}

bool ag_kernel_force(ag_isa isa)
{
    if (!ag_isa_supported(isa)) return false;
    atomic_store_explicit(&chosen, (int)isa, memory_order_relaxed);
    return true;
}

/* ---- cache geometry ------------------------------------------------------------------ */

static ag_cache_geometry geometry;
static pthread_once_t geometry_once = PTHREAD_ONCE_INIT;

/* sysconf's value for `name` if it is known and within [lo, hi], else 0.  glibc reads
 * these from cpuid (leaf 4 on Intel, 0x8000001D on AMD); elsewhere, or under some
 * hypervisors, they are 0, -1 or nonsense. */
static long sysconf_in(int name, long lo, long hi)
{
    long v = sysconf(name);
    return v >= lo && v <= hi ? v : 0;
}

static void find_geometry(void)
{
    ag_cache_geometry g = {32 * 1024, 8, 512 * 1024, 8, false};   /* Zen 3-like fallback */
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE)
    long l1 = sysconf_in(_SC_LEVEL1_DCACHE_SIZE, 8 << 10, 1 << 20);
    long l2 = sysconf_in(_SC_LEVEL2_CACHE_SIZE, 64 << 10, 64 << 20);
    if (l1 && l2 && l2 > l1) {
        long w1 = sysconf_in(_SC_LEVEL1_DCACHE_ASSOC, 2, 64);
        long w2 = sysconf_in(_SC_LEVEL2_CACHE_ASSOC, 2, 64);
        g = (ag_cache_geometry){l1, w1 ? w1 : 8, l2, w2 ? w2 : 8, true};
    }
#endif
    geometry = g;
}

const ag_cache_geometry *ag_cache_geometry_get(void)
{
    pthread_once(&geometry_once, find_geometry);
    return &geometry;
}
