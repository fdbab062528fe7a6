/* kernels.h — compile-time choices shared by autograd's speed kernels (not public API).
 *
 * One switch decides which SIMD code a build uses, so every kernel agrees:
 *   AG_KERNEL_AVX2    AVX2 + FMA intrinsics (the target machines: Zen 3 and later)
 *   AG_KERNEL_AVX512  additionally AVX-512F, when the compiler targets it
 * `make PORTABLE=1` defines AG_PORTABLE and drops -march=native: plain C only.
 * -DAG_NO_AVX512 keeps an AVX-512 machine on the AVX2 kernels (to measure or test them). */
#ifndef HENBUN_AUTOGRAD_KERNELS_H
#define HENBUN_AUTOGRAD_KERNELS_H

#if defined(__AVX2__) && defined(__FMA__) && !defined(AG_PORTABLE)
#define AG_KERNEL_AVX2 1
#if defined(__AVX512F__) && !defined(AG_NO_AVX512)
#define AG_KERNEL_AVX512 1
#endif
#endif

#endif
