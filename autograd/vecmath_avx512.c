/* vecmath_avx512.c — the loops of vecmath.h, 16 lanes, compiled with -mavx512f -mavx2 -mfma.
 * The code is vecmath_kernel.h. */
#include "autograd/vecmath.h"

#ifdef AG_HAVE_VECMATH
#if !defined(__AVX512F__)
#error "vecmath_avx512.c needs its target flags (the Makefile passes them to *_avx512.c)"
#endif
#define W 16
#define VM_ISA avx512
#include "autograd/vecmath_kernel.h"
#else
typedef int ag_no_vecmath_avx512; /* an empty translation unit is not valid C */
#endif
