/* gemm_avx2.c — the GEMM kernel for AVX2 + FMA (compiled with -mavx2 -mfma).
 * The code is gemm_kernel.h; gemm.c picks a kernel at run time.  Empty on other CPUs and
 * in a PORTABLE=1 build. */
#include "autograd/kernels.h"

#ifdef AG_HAVE_X86_KERNELS
#if !defined(__AVX2__) || !defined(__FMA__) 
#error "gemm_avx2.c needs the AVX2 target flags (the Makefile passes them to *_avx2.c)"
#endif
#define GEMM_AVX2 1
#define GEMM_ISA avx2
#include "autograd/gemm_kernel.h"
#else
typedef int ag_no_gemm_avx2; /* an empty translation unit is not valid C */
#endif
