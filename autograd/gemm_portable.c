/* gemm_portable.c — the GEMM kernel for plain C, any CPU (the compiler may still vectorise it for the baseline ISA).
 * The code is gemm_kernel.h; gemm.c picks a kernel at run time. */
#define GEMM_ISA portable
#include "autograd/gemm_kernel.h"
