/* gemm.c — the one matrix multiply: C = alpha * op(A) · op(B) + beta * C, row-major.
 *
 * Every matmul, linear layer and convolution lands here, so this is where the speed
 * tricks live.  The method is the classic one (Goto & van de Geijn, "Anatomy of
 * high-performance matrix multiplication", 2008):
 *
 *   for each NC-wide column block of C                     (B block stays in L3)
 *     for each KC-deep slice of the K sum                  pack B[kc × nc] in NR-wide panels
 *       for each MC-tall row block                         pack A[mc × kc] in MR-tall panels (L2)
 *         for each NR panel, for each MR panel             micro-kernel: MR×NR tile of C
 *
 * Packing copies op(A) and op(B) into the exact order the micro-kernel reads them, so the
 * transposes are handled once, while packing, and the kernel sees a single layout; edge
 * panels are zero-padded to full MR / NR so the kernel never branches.
 *
 * The micro-kernel keeps an MR×NR tile of C in vector registers and adds one rank-1 update
 * per k: acc[i][:] += a[i] * b[:] (MR broadcasts, NR/VL loads, MR·NR/VL FMAs).  It is
 * written once, in gemm_kernel.h, over a few vector macros, and compiled three times:
 * AVX-512, AVX2+FMA and plain C (gemm_avx512.c, gemm_avx2.c, gemm_portable.c).  This file
 * checks the arguments, picks the kernel the CPU supports at run time (kernels.h) and cuts
 * the work between threads.
 *
 * Threads: C is cut into one slab of whole panels per thread, along N or M, and each thread
 * runs the serial algorithm on its slab.  The K sum is never split, and every element of C
 * goes through the same sequence of operations whichever slab and tile it falls in (edge
 * tiles run the same kernel on a scratch tile), so results are bit-identical for any thread
 * count.
 *
 * Memory: the packing buffers are per-thread scratch (`static _Thread_local`), grown on
 * first use and then reused, so steady-state calls never allocate.  This is the file's one
 * deliberate exception to "no global mutable state": each buffer belongs to one thread and
 * holds nothing between calls. */
#include "autograd/autograd.h"
#include "autograd/kernels.h"

#include <omp.h>
#include <string.h>

/* Each thread gets at least this many multiply-adds (about 5 µs of work): below it, the
 * few µs of waking a thread and joining it cost more than they save. */
#ifndef GEMM_WORK_PER_THREAD
#define GEMM_WORK_PER_THREAD (64 * 64 * 64)
#endif
/* Packing one element costs about as much time as this many multiply-adds in the kernel
 * (measured: ~8 elements/ns packed against ~50 multiply-adds/ns computed per core). */
#define PACK_COST 6

static int min_int(int a, int b) { return a < b ? a : b; }

static const ag_gemm_kernel *kernel(void)
{
    switch (ag_kernel_isa()) {
#ifdef AG_HAVE_X86_KERNELS
    case AG_ISA_AVX512: return &ag_gemm_kernel_avx512;
    case AG_ISA_AVX2: return &ag_gemm_kernel_avx2;
#endif
    default: return &ag_gemm_kernel_portable;
    }
}

/* C = beta * C, with beta == 0 clearing (NaN included): K == 0 or alpha == 0. */
static void scale_c(const gemm_args *g)
{
    for (int i = 0; i < g->M; i++) {
        ag_real *c = g->C + (size_t)i * g->ldc;
        if (g->beta == 0) memset(c, 0, (size_t)g->N * sizeof *c);
        else if (g->beta != 1) for (int j = 0; j < g->N; j++) c[j] *= g->beta;
    }
}

void ag_gemm(bool ta, bool tb, int M, int N, int K, ag_real alpha, const ag_real *A, int lda,
             const ag_real *B, int ldb, ag_real beta, ag_real *C, int ldc)
{
    if (M < 0 || N < 0 || K < 0)
        ag_error("gemm", "negative size M=%d N=%d K=%d", M, N, K);
    if (lda < (ta ? M : K) || lda < 1)
        ag_error("gemm", "lda=%d is less than %s=%d", lda, ta ? "M" : "K", ta ? M : K);
    if (ldb < (tb ? K : N) || ldb < 1)
        ag_error("gemm", "ldb=%d is less than %s=%d", ldb, tb ? "K" : "N", tb ? K : N);
    if (ldc < N || ldc < 1)
        ag_error("gemm", "ldc=%d is less than N=%d", ldc, N);
    if (M == 0 || N == 0) return;

    gemm_args g = {ta, tb, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C};
    const ag_gemm_kernel *kern = kernel();
    const int MR = kern->mr, NR = kern->nr;
    if (K == 0 || alpha == 0) { scale_c(&g); return; }    /* A and B are not read */

    /* No separate path for small products: measured down to 4×4×4, packing into the
     * kernel's layout is never slower than plain loops (which -O2 does not vectorise). */
    double work = (double)M * N * K;            /* multiply-adds */
    int nt = ag_num_threads();
    if (nt > work / GEMM_WORK_PER_THREAD) nt = (int)(work / GEMM_WORK_PER_THREAD);
    if (nt < 1) nt = 1;

    /* Cut C into nt slabs of whole panels, along N or along M, whichever makes the busiest
     * thread finish first: it computes its share, rounded up to whole panels, and packs its
     * part of one operand plus all of the other (every thread packs all of A when N is cut,
     * all of B when M is cut). */
    int m_panels = (M + MR - 1) / MR, n_panels = (N + NR - 1) / NR;
    double n_share = (double)((n_panels + nt - 1) / nt * NR), m_share = (double)((m_panels + nt - 1) / nt * MR);
    double cost_n = n_share * M * K + PACK_COST * ((double)M * K + n_share * K);
    double cost_m = m_share * N * K + PACK_COST * ((double)K * N + m_share * K);
    bool cut_n = cost_n <= cost_m;
    int panels = cut_n ? n_panels : m_panels;
    if (nt > panels) nt = panels;

    bool ok = true;
    if (nt == 1) {
        ok = kern->slab(&g, 0, M, 0, N);
    } else {
#pragma omp parallel num_threads(nt) reduction(&& : ok)
        {
            int t = omp_get_thread_num(), T = omp_get_num_threads();
            int p0 = (int)((long long)panels * t / T), p1 = (int)((long long)panels * (t + 1) / T);
            if (cut_n)
                ok = kern->slab(&g, 0, M, p0 * NR, min_int(N, p1 * NR));
            else
                ok = kern->slab(&g, p0 * MR, min_int(M, p1 * MR), 0, N);
        }
    }
    if (!ok) ag_error("gemm", "out of memory for packing buffers (M=%d N=%d K=%d)", M, N, K);
}

const char *ag_gemm_kernel_name(void) { return kernel()->name; }
