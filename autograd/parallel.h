/* parallel.h — loops split across OpenMP threads without ever calling malloc.  Internal to
 * the library (autograd/ and nn/ use it); not installed, not part of the API.
 *
 *   AG_PARALLEL_FOR(i, n, big, { body });
 *
 * runs `for (long i = 0; i < n; i++) { body }`: split into one contiguous range of i per
 * thread when `big` is true (the loop is worth the threads), on the calling thread
 * otherwise.  Iterations must be independent (each writes only its own outputs), so the
 * split changes no result.  AG_PARALLEL_FOR_SIMD also marks the loop `omp simd`.
 *
 * Why not `#pragma omp parallel for if (big)`: LLVM's libomp (as Debian builds it) calls
 * malloc in every region the `if` makes serial and in every worksharing `for` (a debug
 * string), some twenty calls per MLP training step under clang, which breaks DESIGN.md's
 * "after the first step, a training step calls malloc zero times".  Here a small loop never
 * enters the OpenMP runtime, and a big one runs in a bare `omp parallel` region that cuts
 * its range by hand, as schedule(static) would: neither allocates, with either runtime,
 * and small loops also skip the cost of starting a one-thread team (GCC's libgomp). */
#ifndef HENBUN_AUTOGRAD_PARALLEL_H
#define HENBUN_AUTOGRAD_PARALLEL_H

#include <omp.h>
#include <stdbool.h>

/* Threads only for a big loop, only when there are several, and never from inside a
 * parallel region (a nested region would run serially, and libomp allocates for that). */
static inline bool ag_use_threads(bool big) {
    return big && omp_get_max_threads() > 1 && !omp_in_parallel();
}

/* The calling thread's share [*lo, *hi) of n iterations, inside a parallel region. */
static inline void ag_thread_range(long n, long *lo, long *hi) {
    long t = omp_get_thread_num(), T = omp_get_num_threads();
    *lo = n * t / T;
    *hi = n * (t + 1) / T;
}

/* INNER is put before both loops: nothing, or _Pragma("omp simd"). */
#define AG_PARALLEL_FOR_WITH(INNER, i, n, big, ...)                                    \
    do {                                                                               \
        const long ag_n_ = (n);                                                        \
        if (ag_use_threads(big)) {                                                     \
            _Pragma("omp parallel")                                                    \
            {                                                                          \
                long ag_lo_, ag_hi_;                                                   \
                ag_thread_range(ag_n_, &ag_lo_, &ag_hi_);                              \
                INNER                                                                  \
                for (long i = ag_lo_; i < ag_hi_; i++) { __VA_ARGS__ }                 \
            }                                                                          \
        } else {                                                                       \
            INNER                                                                      \
            for (long i = 0; i < ag_n_; i++) { __VA_ARGS__ }                           \
        }                                                                              \
    } while (0)

#define AG_PARALLEL_FOR(i, n, big, ...) AG_PARALLEL_FOR_WITH(, i, n, big, __VA_ARGS__)
#define AG_PARALLEL_FOR_SIMD(i, n, big, ...)                                           \
    AG_PARALLEL_FOR_WITH(_Pragma("omp simd"), i, n, big, __VA_ARGS__)

#endif
