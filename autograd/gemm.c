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
 * Blocking (KC, MC, NC) is not fixed for one CPU: it is derived once per kernel from the
 * cache geometry the machine reports (see ag_gemm_derive_blocking below for the model).
 *
 * Memory: the packing buffers are per-thread scratch (`static _Thread_local`), grown on
 * first use and then reused, so steady-state calls never allocate.  This is the file's one
 * deliberate exception to "no global mutable state": each buffer belongs to one thread and
 * holds nothing between calls. */
#include "autograd/autograd.h"
#include "autograd/kernels.h"

#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

static const ag_gemm_kernel *kernel_for(ag_isa isa)
{
    switch (isa) {
#ifdef AG_HAVE_X86_KERNELS
    case AG_ISA_AVX512: return &ag_gemm_kernel_avx512;
    case AG_ISA_AVX2: return &ag_gemm_kernel_avx2;
#endif
    default: return &ag_gemm_kernel_portable;
    }
}

static const ag_gemm_kernel *kernel(void) { return kernel_for(ag_kernel_isa()); }

/* ---- cache blocking ---------------------------------------------------------------------
 * The analytic model of Low, Igual, Smith and Quintana-Ortí ("Analytical modeling is enough
 * for high-performance BLIS", TOMS 2016), for a set-associative L1 of W1 ways of S1 bytes
 * and an L2 of W2 ways of S2 bytes, s bytes per element:
 *
 *   KC: the KC×NR micro-panel of B is reused for every MR×KC micro-panel of A that streams
 *       past it, so it must stay in L1 while they come and go.  Give A's panel C_A ways and
 *       B's panel the rest but one (one way for the C tile and stray lines), in proportion
 *       to their widths: C_A = floor((W1 - 1) / (1 + NR/MR)), KC = C_A·S1 / (MR·s).
 *       (48 KiB 12-way L1, 8×32 float tile: C_A = 2, KC = 256: B's panel is 32 KiB.)
 *   MC: the packed MC×KC block of A is reused for every B micro-panel, so it must stay in
 *       L2 next to the B micro-panel being read and the C tiles being written: give it all
 *       ways but two, MC = (W2 - 2)·S2 / (KC·s), rounded down to whole MR panels.
 *       (1 MiB 8-way L2: MC = 768 rows, 768 KiB.)
 *   NC: the KC×NC block of B lives in L3, shared by the cores and rarely reported right
 *       by virtual machines; NC = 4096 keeps it at KC·16 KiB (4 MiB for the tile above).
 * KC is kept within [64, 1024]: below, C's load and store dominate a tile; above, C is
 * touched so rarely that nothing is left to gain.  A larger KC also means fewer slices of
 * the K sum, so C is read and written fewer times (1024³: 4 slices rather than 8). */
gemm_blocking ag_gemm_derive_blocking(const ag_cache_geometry *cg, int mr, int nr, int elem_size)
{
    long s1 = cg->l1_bytes / cg->l1_ways, s2 = cg->l2_bytes / cg->l2_ways;
    long c_a = (long)((cg->l1_ways - 1) / (1.0 + (double)nr / mr));
    long kc = c_a >= 1 ? c_a * s1 / ((long)mr * elem_size)
                       : cg->l1_bytes / 2 / ((long)nr * elem_size);   /* too few ways: half of L1 */
    if (kc < 64) kc = 64;
    if (kc > 1024) kc = 1024;
    long mc = (cg->l2_ways > 2 ? (cg->l2_ways - 2) * s2 : cg->l2_bytes / 2) / (kc * elem_size);
    mc = mc / mr * mr;
    if (mc < mr) mc = mr;
    return (gemm_blocking){(int)kc, (int)mc, 4096};
}

/* One blocking per kernel, derived on the first call (or read from HENBUN_GEMM_BLOCKING). */
static gemm_blocking blockings[AG_ISA_COUNT];
static pthread_once_t blockings_once = PTHREAD_ONCE_INIT;

static void derive_blockings(void)
{
    const char *env = getenv("HENBUN_GEMM_BLOCKING");
    int kc = 0, mc = 0, nc = 4096, got = 0;
    if (env && *env) {
        char extra;
        got = sscanf(env, "%d,%d,%d%c", &kc, &mc, &nc, &extra);
        if ((got != 2 && got != 3) || kc < 1 || mc < 1 || nc < 1 || kc > 1 << 16 || mc > 1 << 20 ||
            nc > 1 << 20)
            ag_error("gemm", "HENBUN_GEMM_BLOCKING=%s: expected KC,MC or KC,MC,NC (positive "
                     "element counts, e.g. 256,768,4096)", env);
    }
    for (int i = 0; i < AG_ISA_COUNT; i++) {
        const ag_gemm_kernel *k = kernel_for((ag_isa)i);
        if (got) {      /* MC and NC in whole panels of this kernel's tile */
            int m = (mc + k->mr - 1) / k->mr * k->mr, n = (nc + k->nr - 1) / k->nr * k->nr;
            blockings[i] = (gemm_blocking){kc, m, n};
        } else {
            blockings[i] = ag_gemm_derive_blocking(ag_cache_geometry_get(), k->mr, k->nr,
                                                   (int)sizeof(ag_real));
        }
    }
}

gemm_blocking ag_gemm_blocking(void)
{
    pthread_once(&blockings_once, derive_blockings);
    return blockings[ag_kernel_isa()];
}

/* The share of a kernel's FMA lanes that land in C: edge tiles are padded to MR rows and
 * to whole vectors along N. */
static double tile_fill(const ag_gemm_kernel *k, int M, int N)
{
    return (double)M / ((M + k->mr - 1) / k->mr * k->mr) * N / ((N + k->vl - 1) / k->vl * k->vl);
}

/* A narrow C wastes lanes: N = 20 fills 20 of 32 (AVX-512 float), N = 40 fills 40 of 48.
 * Computed transposed, N is cut into MR-row panels instead (20 of 24, 40 of 40) and M,
 * usually a multiple of the vector width, fills the lanes.  Worth it when the fill grows
 * by 5% or more; only for narrow C (N < 2 NR), where the 8×8 transposes of the store are
 * cheap next to the tile's K loop, and the results are the same bits either way (each
 * element gets the same FMAs, operands swapped, in the same order). */
static bool transposing_pays(const ag_gemm_kernel *k, int M, int N)
{
    return N < 2 * k->nr && tile_fill(k, N, M) > 1.05 * tile_fill(k, M, N);
}

/* rowsum[i] += Σ_k op(A)[i][k] in k order, without the kernel (K == 0 or alpha == 0). */
static void rowsum_plain(const gemm_args *g)
{
    for (int i = 0; i < g->M; i++) {
        ag_real s = 0;
        for (int k = 0; k < g->K; k++) s += g->ta ? g->A[(size_t)k * g->lda + i] : g->A[(size_t)i * g->lda + k];
        g->rowsum[i] += s;
    }
}

/* C = beta * C (+ bias), with beta == 0 clearing (NaN included): K == 0 or alpha == 0. */
static void scale_c(const gemm_args *g)
{
    for (int i = 0; i < g->M; i++) {
        ag_real *c = g->C + (size_t)i * g->ldc;
        if (g->beta == 0) memset(c, 0, (size_t)g->N * sizeof *c);
        else if (g->beta != 1) for (int j = 0; j < g->N; j++) c[j] *= g->beta;
        if (g->bias) for (int j = 0; j < g->N; j++) c[j] += g->bias[j];
    }
}

void ag_gemm(bool ta, bool tb, int M, int N, int K, ag_real alpha, const ag_real *A, int lda,
             const ag_real *B, int ldb, ag_real beta, ag_real *C, int ldc)
{
    ag_gemm_fused(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL, NULL);
}

void ag_gemm_fused(bool ta, bool tb, int M, int N, int K, ag_real alpha, const ag_real *A,
                   int lda, const ag_real *B, int ldb, ag_real beta, ag_real *C, int ldc,
                   const ag_real *bias, ag_real *rowsum)
{
    if (M < 0 || N < 0 || K < 0)
        ag_error("gemm", "negative size M=%d N=%d K=%d", M, N, K);
    if (lda < (ta ? M : K) || lda < 1)
        ag_error("gemm", "lda=%d is less than %s=%d", lda, ta ? "M" : "K", ta ? M : K);
    if (ldb < (tb ? K : N) || ldb < 1)
        ag_error("gemm", "ldb=%d is less than %s=%d", ldb, tb ? "K" : "N", tb ? K : N);
    if (ldc < N || ldc < 1)
        ag_error("gemm", "ldc=%d is less than N=%d", ldc, N);
    gemm_args g = {ta, tb, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C, bias, rowsum, NULL,
                   false, ag_gemm_blocking()};
    if (M == 0) return;
    if (N == 0 || K == 0 || alpha == 0) {       /* B is not read, nor A but for rowsum */
        if (rowsum) rowsum_plain(&g);
        if (N > 0) scale_c(&g);
        return;
    }
    const ag_gemm_kernel *kern = kernel();
    const int MR = kern->mr, NR = kern->nr;
    if (kern->ct_store && transposing_pays(kern, M, N)) {
        /* C = op(A)·op(B) computed as Cᵀ = op(B)ᵀ·op(A)ᵀ, stored transposed: the roles of
         * the operands swap (the row sums of op(A) become column sums of the new op(B)). */
        g = (gemm_args){!tb, !ta, N, M, K, alpha, beta, B, A, ldb, lda, ldc, C, bias, NULL,
                        rowsum, true, g.blk};
        int t = M;
        M = N;
        N = t;
    }

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
