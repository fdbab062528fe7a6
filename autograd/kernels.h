/* kernels.h — the SIMD kernels the library picks at run time (not public API).
 *
 * The library is compiled for baseline x86-64 (or any other CPU); the few kernels that
 * want wide SIMD are compiled once per instruction set in files named *_avx512.c,
 * *_avx2.c (the Makefile gives those files -mavx512f / -mavx2 -mfma, nothing else gets
 * them) and *_portable.c, and every function in them carries the suffix.  ag_kernel_isa()
 * picks one set on the first call, from what the CPU supports (__builtin_cpu_supports,
 * which also checks that the OS saves the wide registers):
 *   AG_ISA_AVX512  AVX-512F (with AVX2 and FMA)
 *   AG_ISA_AVX2    AVX2 + FMA
 *   AG_ISA_PORTABLE plain C, any CPU
 * HENBUN_KERNEL=portable|avx2|avx512 in the environment forces one (for tests and bug
 * reports; asking for one the CPU lacks is an error).  `make PORTABLE=1` compiles only the
 * plain C kernels; on a CPU other than x86-64 only those exist. */
#ifndef HENBUN_AUTOGRAD_KERNELS_H
#define HENBUN_AUTOGRAD_KERNELS_H

#include "autograd/autograd.h"

#include <stdbool.h>

#if (defined(__x86_64__) || defined(__i386__)) && !defined(AG_PORTABLE) && \
    (defined(__GNUC__) || defined(__clang__))
#define AG_HAVE_X86_KERNELS 1
#endif

typedef enum { AG_ISA_PORTABLE, AG_ISA_AVX2, AG_ISA_AVX512, AG_ISA_COUNT } ag_isa;

ag_isa ag_kernel_isa(void);                 /* the set in use (chosen on the first call) */
const char *ag_isa_name(ag_isa isa);        /* "portable", "avx2", "avx512" */
bool ag_isa_supported(ag_isa isa);          /* compiled in and supported by this CPU */
/* Switches every dispatched kernel to `isa` (tests, benchmarks); false if not supported.
 * Not thread-safe: call it between parallel work, not during. */
bool ag_kernel_force(ag_isa isa);

/* The cache geometry of the core we run on (dispatch.c): what sysconf reports, checked for
 * sanity, else a fallback (32 KiB 8-way L1d, 512 KiB 8-way L2).  Read once. */
typedef struct ag_cache_geometry {
    long l1_bytes, l1_ways, l2_bytes, l2_ways;
    bool reported;                          /* false: the fallback */
} ag_cache_geometry;
const ag_cache_geometry *ag_cache_geometry_get(void);

/* Cache blocking of one GEMM kernel, in elements (gemm.c derives it from the geometry above
 * and the kernel's register tile; HENBUN_GEMM_BLOCKING=KC,MC[,NC] overrides it). */
typedef struct gemm_blocking { int kc, mc, nc; } gemm_blocking;
gemm_blocking ag_gemm_blocking(void);                /* of the kernel in use */
gemm_blocking ag_gemm_derive_blocking(const ag_cache_geometry *cg, int mr, int nr, int elem_size);

/* One GEMM kernel (gemm_kernel.h): C[m0:m1, n0:n1] of the product described by g, done
 * serially by the blocked algorithm with an mr × nr register tile.
 * Two fusions for the linear layer (ops_linalg.c), both optional (NULL):
 *   bias    is added to C in the store of the first K slice:
 *           C = alpha·op(A)·op(B) + (beta·C + bias), the parenthesis added last; bias[j]
 *           to column j of C as stored (length N; with ct, length M: bias[i] to (i, j));
 *   rowsum  (length M) gets rowsum[i] += Σ_k op(A)[i][k], and colsum (length N) gets
 *           colsum[j] += Σ_k op(B)[k][j], each summed in k order from k = 0 while its
 *           operand is packed (by one slab only: the one at n0 = 0, resp. m0 = 0).
 * ct: C is stored transposed, element (i, j) at C[j·ldc + i] (gemm.c computes a narrow
 * C = op(A)·op(B) as Cᵀ = op(B)ᵀ·op(A)ᵀ this way; only kernels with ct_store do it). */
typedef struct gemm_args {
    bool ta, tb;
    int M, N, K;
    ag_real alpha, beta;
    const ag_real *A, *B;
    int lda, ldb, ldc;
    ag_real *C;
    const ag_real *bias;
    ag_real *rowsum, *colsum;
    bool ct;
    gemm_blocking blk;
} gemm_args;

typedef struct ag_gemm_kernel {
    const char *name;
    int mr, nr, vl;             /* register tile, vector lanes */
    bool ct_store;              /* can store C transposed (gemm_args.ct) */
    bool (*slab)(const gemm_args *g, int m0, int m1, int n0, int n1);
} ag_gemm_kernel;

/* ag_gemm (autograd.h) with the fusions of gemm_args: bias and rowsum may be NULL. */
void ag_gemm_fused(bool ta, bool tb, int M, int N, int K, ag_real alpha, const ag_real *A,
                   int lda, const ag_real *B, int ldb, ag_real beta, ag_real *C, int ldc,
                   const ag_real *bias, ag_real *rowsum);

extern const ag_gemm_kernel ag_gemm_kernel_portable;
#ifdef AG_HAVE_X86_KERNELS
extern const ag_gemm_kernel ag_gemm_kernel_avx2;
extern const ag_gemm_kernel ag_gemm_kernel_avx512;
#endif

#endif
