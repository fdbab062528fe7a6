/* gemm_avx512.c — the GEMM kernel for AVX-512F (compiled with -mavx512f -mavx2 -mfma).
 * The code is gemm_kernel.h; gemm.c picks a kernel at run time.  Empty on other CPUs and
 * in a PORTABLE=1 build. */
#include "autograd/kernels.h"

#ifdef AG_HAVE_X86_KERNELS
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__AVX512F__)
#error "gemm_avx512.c needs the AVX512 target flags (the Makefile passes them to *_avx512.c)"
#endif
#define GEMM_AVX512 1
#define GEMM_ISA avx512
#include "autograd/gemm_kernel.h"
#else
typedef int ag_no_gemm_avx512; /* an empty translation unit is not valid C */
#endif
