/* vecmath_avx2.c — the loops of vecmath.h, 8 lanes, compiled with -mavx2 -mfma.
 * The code is vecmath_kernel.h. */
#include "autograd/vecmath.h"

#ifdef AG_HAVE_VECMATH
#if !defined(__AVX2__) || !defined(__FMA__)
#error "vecmath_avx2.c needs its target flags (the Makefile passes them to *_avx2.c)"
#endif
#define W 8
#define VM_ISA avx2
#include "autograd/vecmath_kernel.h"
#else
typedef int ag_no_vecmath_avx2; /* an empty translation unit is not valid C */
#endif
