/* dispatch.c — which instruction set the dispatched kernels use (see kernels.h).
 *
 * Chosen once, on the first call, from the CPU (best supported set) or from
 * HENBUN_KERNEL.  The choice is one global word, the library's only piece of
 * process-wide state besides the thread count: it describes the machine, not a
 * computation, so it is shared by every tape. */
#include "autograd/kernels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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
