/* gemm_kernel.h — the body of one GEMM kernel, included once per instruction set by
 * gemm_portable.c, gemm_avx2.c and gemm_avx512.c (each compiled with its own target flags,
 * see the Makefile), so each gets its own micro-kernel, tile shape and packing.  Every
 * function defined here is named with the kernel's suffix (K(name) -> name_avx512 ...), so
 * `objdump -d` shows at a glance that wide SIMD lives only in the dispatched kernels
 * (tests/programs/simd_symbols.sh checks it).  gemm.c picks one at run time and does the
 * argument checks and the thread split; the blocked algorithm is below.
 *
 * The including file defines GEMM_ISA (the suffix) and one of GEMM_AVX512 / GEMM_AVX2 /
 * nothing (plain C). */
#include "autograd/autograd.h"
#include "autograd/kernels.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(GEMM_AVX512) || defined(GEMM_AVX2)
#include <immintrin.h>
#endif

#define K__(name, isa) name##_##isa
#define K_(name, isa) K__(name, isa)
#define K(name) K_(name, GEMM_ISA)

/* ---------------------------------------------------------------------------------------
 * The vector vocabulary of the micro-kernel, one set per build.
 * VL lanes per vector; the tile is MR rows × NV vectors (NR = NV * VL columns). */
#if defined(GEMM_AVX512) && !defined(AG_DOUBLE)
#define KERNEL_NAME "avx512f 8x32 float"
typedef __m512 vec;
#define VL 16
#define MR 8
#define NV 2
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_storeu_ps(p, v)
#define V_SET1(x) _mm512_set1_ps(x)
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c) /* a*b + c, one rounding */
#define V_MUL(a, b) _mm512_mul_ps(a, b)
typedef __mmask16 vmask;                       /* the first n lanes of a partial vector */
#define V_MASK(n) ((__mmask16)((1u << (n)) - 1))
#define V_LOAD_MASK(p, m) _mm512_maskz_loadu_ps(m, p)
#define V_STORE_MASK(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#elif defined(GEMM_AVX512)
#define KERNEL_NAME "avx512f 8x16 double"
typedef __m512d vec;
#define VL 8
#define MR 8
#define NV 2
#define V_LOAD(p) _mm512_loadu_pd(p)
#define V_STORE(p, v) _mm512_storeu_pd(p, v)
#define V_SET1(x) _mm512_set1_pd(x)
#define V_FMA(a, b, c) _mm512_fmadd_pd(a, b, c)
#define V_MUL(a, b) _mm512_mul_pd(a, b)
typedef __mmask8 vmask;
#define V_MASK(n) ((__mmask8)((1u << (n)) - 1))
#define V_LOAD_MASK(p, m) _mm512_maskz_loadu_pd(m, p)
#define V_STORE_MASK(p, m, v) _mm512_mask_storeu_pd(p, m, v)
#elif defined(GEMM_AVX2) && !defined(AG_DOUBLE)
#define KERNEL_NAME "avx2+fma 6x16 float"
typedef __m256 vec;
#define VL 8
#define MR 6
#define NV 2
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_storeu_ps(p, v)
#define V_SET1(x) _mm256_set1_ps(x)
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_MUL(a, b) _mm256_mul_ps(a, b)
typedef __m256i vmask;
#define V_MASK(n) _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define V_LOAD_MASK(p, m) _mm256_maskload_ps(p, m)
#define V_STORE_MASK(p, m, v) _mm256_maskstore_ps(p, m, v)
#elif defined(GEMM_AVX2)
#define KERNEL_NAME "avx2+fma 6x8 double"
typedef __m256d vec;
#define VL 4
#define MR 6
#define NV 2
#define V_LOAD(p) _mm256_loadu_pd(p)
#define V_STORE(p, v) _mm256_storeu_pd(p, v)
#define V_SET1(x) _mm256_set1_pd(x)
#define V_FMA(a, b, c) _mm256_fmadd_pd(a, b, c)
#define V_MUL(a, b) _mm256_mul_pd(a, b)
typedef __m256i vmask;
#define V_MASK(n) _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3))
#define V_LOAD_MASK(p, m) _mm256_maskload_pd(p, m)
#define V_STORE_MASK(p, m, v) _mm256_maskstore_pd(p, m, v)
#else
/* Plain C: a "vector" of one lane.  16 scalar accumulators fit the 16 registers of any
 * x86-64 or ARM64 core; the compiler may vectorise the rows by itself. */
#define KERNEL_NAME "portable 4x4 " AG_REAL_NAME
typedef ag_real vec;
#define VL 1
#define MR 4
#define NV 4
#define V_LOAD(p) (*(p))
#define V_STORE(p, v) (*(p) = (v))
#define V_SET1(x) (x)
#define V_FMA(a, b, c) ((a) * (b) + (c))
#define V_MUL(a, b) ((a) * (b))
typedef int vmask;                              /* one lane: a vector is never partial */
#define V_MASK(n) (n)
#define V_LOAD_MASK(p, m) ((void)(m), *(p))
#define V_STORE_MASK(p, m, v) ((void)(m), *(p) = (v))
#endif

#define NR (NV * VL)

/* Cache blocking (KC, MC, NC) is not a constant of the kernel: gemm.c derives it once from
 * the caches the machine reports and this kernel's MR × NR tile, and passes it in
 * gemm_args (g->blk). */

/* Loops over MR, NV and vector lanes are short and constant: unroll them fully so tiles
 * live in registers (clang reads its own spelling of the request). */
#if defined(__clang__)
#define UNROLL _Pragma("clang loop unroll(full)")
#else
#define UNROLL _Pragma("GCC unroll 32")
#endif
/* The packing helpers take the panel width W as an argument but are only ever called with
 * the constants MR and NR: inlining them turns W into a constant and the loops into moves. */
#if defined(__GNUC__)
#define INLINE inline __attribute__((always_inline))
#else
#define INLINE inline
#endif

static int K(min_int)(int a, int b) { return a < b ? a : b; }

#if (defined(GEMM_AVX2) || defined(GEMM_AVX512)) && !defined(AG_DOUBLE)
/* In-register transpose of an 8×8 float block: r[i] holds row i on entry, column i on exit.
 * Written out in full so the compiler keeps all of it in registers. */
static INLINE void K(transpose8x8)(__m256 r[8])
{
    /* interleave row pairs: t0 = r0[0] r1[0] r0[1] r1[1] | r0[4] r1[4] r0[5] r1[5] */
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    /* pairs of pairs: u0 = column 0 of rows 0-3 | column 4 of rows 0-3 */
    __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    /* join the 128-bit halves: rows 0-3 from u0-u3, rows 4-7 from u4-u7 */
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* Stores the first n (8, 6, 4 or 2) lanes of v. */
static INLINE void K(store_lanes)(float *p, __m256 v, int n)
{
    if (n == 8) { _mm256_storeu_ps(p, v); return; }
    __m128 lo = _mm256_castps256_ps128(v);
    if (n == 2) { _mm_storel_pi((__m64 *)(void *)p, lo); return; }
    _mm_storeu_ps(p, lo);
    if (n == 6) _mm_storel_pi((__m64 *)(void *)(p + 4), _mm256_extractf128_ps(v, 1));
}
#endif


/* The transposed store (gemm_args.ct, float x86 kernels): the tile's element (i, j) goes to
 * c[j·ldc + i].  acc[i][v] holds a row of the tile; 8×8 blocks of it are transposed in
 * registers so that each gives 8 consecutive values of one row of c, stored with the same
 * formula (and so the same bits) as the plain store, with 8-lane vectors masked to the
 * m valid values; the n valid rows of c are written. */
#if (defined(GEMM_AVX2) || defined(GEMM_AVX512)) && !defined(AG_DOUBLE)
#define CT_STORE 1
#if defined(GEMM_AVX512)
#define HALF256(x, h) ((h) == 0 ? _mm512_castps512_ps256(x) \
                                : _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)))
#else
#define HALF256(x, h) (x)
#endif
static INLINE void K(store_ct)(int nv, vec acc[MR][NV], ag_real *restrict c, ptrdiff_t ldc,
                            ag_real alpha, ag_real beta, int m, int n, const ag_real *restrict bias)
{
    __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32(m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    bool part = m < 8;
#define LD8(p) (part ? _mm256_maskload_ps(p, mk) : _mm256_loadu_ps(p))
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    __m256 add = bias ? LD8(bias) : _mm256_setzero_ps();
    UNROLL for (int v = 0; v < nv; v++)
        UNROLL for (int h = 0; h < VL / 8; h++) {
            if (v * VL + h * 8 >= n) continue;
            __m256 r[8];
            UNROLL for (int i = 0; i < 8; i++) r[i] = _mm256_setzero_ps();
            UNROLL for (int i = 0; i < MR; i++) r[i] = HALF256(acc[i][v], h);
            K(transpose8x8)(r);
            UNROLL for (int l = 0; l < 8; l++) {
                int j = v * VL + h * 8 + l;
                if (j >= n) continue;
                float *p = c + j * ldc;
                __m256 x;
                if (beta == 0) x = bias ? _mm256_fmadd_ps(va, r[l], add) : _mm256_mul_ps(va, r[l]);
                else {
                    __m256 bc = bias ? _mm256_fmadd_ps(vb, LD8(p), add) : _mm256_mul_ps(vb, LD8(p));
                    x = _mm256_fmadd_ps(va, r[l], bc);
                }
                if (part) _mm256_maskstore_ps(p, mk, x);
                else _mm256_storeu_ps(p, x);
            }
        }
#undef LD8
}
#else
#define CT_STORE 0
#endif

/* ---------------------------------------------------------------------------------------
 * The micro-kernel: c[m × n] = alpha * a·b + (beta * c + bias) over kc rank-1 updates.
 * a: MR-tall packed panel (a[k*MR + i]), b: NR-wide packed panel (b[k*NR + j]), of which
 * the first nv vectors are used: nv = NV everywhere but in the last panel of a narrow
 * matrix (N = 40 needs 40 columns of FMAs, not 64).  Inlined with a constant nv, so every
 * loop below unrolls and acc lives in registers.
 *
 * Edges: the packed panels are zero-padded to whole tiles, so the arithmetic is always a
 * whole MR × nv·VL tile; only the store is cut to the m <= MR valid rows and, in the last
 * vector, the `last` <= VL valid lanes (masked loads and stores).  Edge elements thus get
 * the very same operations as interior ones (the thread-count promise relies on it), and
 * no scratch tile is copied: a narrow C (N = 20, 40) is written in place.
 *
 * beta == 0 writes without reading c, so NaN or garbage in c is ignored.  bias (NULL, or
 * this tile's nv·VL columns of the bias row) is added in the same store. */
static INLINE void K(kernel_body)(int nv, int kc, const ag_real *restrict a,
                               const ag_real *restrict b, ag_real *restrict c, ptrdiff_t ldc,
                               ag_real alpha, ag_real beta, int m, int last,
                               const ag_real *restrict bias, bool ct)
{
    /* Fetch the C tile (its first and last line per row) while the K loop runs: when C is
     * big (1024², 4 MiB), its rows come from L3 or memory, and the tile's loads would
     * otherwise stall the store at the end of the loop; with beta == 0 it still saves the
     * store's read-for-ownership.  MR·2 prefetches against kc·MR·nv FMAs. */
#if defined(__GNUC__)
    UNROLL for (int i = 0; i < MR; i++) {
        if (i < m && !ct) {
            __builtin_prefetch(c + i * ldc, 1, 3);
            __builtin_prefetch(c + i * ldc + nv * VL - 1, 1, 3);
        }
    }
#endif
    vec acc[MR][NV];
    UNROLL for (int i = 0; i < MR; i++)
        UNROLL for (int v = 0; v < nv; v++) acc[i][v] = V_SET1(0);

    for (int k = 0; k < kc; k++, a += MR, b += NR) {
        vec bv[NV];
        UNROLL for (int v = 0; v < nv; v++) bv[v] = V_LOAD(b + v * VL);
        UNROLL for (int i = 0; i < MR; i++) {
            vec ai = V_SET1(a[i]);
            UNROLL for (int v = 0; v < nv; v++) acc[i][v] = V_FMA(ai, bv[v], acc[i][v]);
        }
    }

#if CT_STORE
    if (ct) {
        K(store_ct)(nv, acc, c, ldc, alpha, beta, m, (nv - 1) * VL + last, bias);
        return;
    }
#endif
    /* The last vector is partial when last < VL: masked, so no byte past column n moves. */
    vmask mk = V_MASK(last);
    bool part = last < VL;
#define V_LD(p, v) (part && (v) == nv - 1 ? V_LOAD_MASK(p, mk) : V_LOAD(p))
#define V_ST(p, v, x)                                                          \
    do {                                                                       \
        if (part && (v) == nv - 1) V_STORE_MASK(p, mk, x); else V_STORE(p, x); \
    } while (0)
    vec va = V_SET1(alpha), vb = V_SET1(beta), add[NV];
    UNROLL for (int v = 0; v < nv; v++) add[v] = bias ? V_LD(bias + v * VL, v) : V_SET1(0);
    UNROLL for (int i = 0; i < MR; i++) {
        if (i < m) UNROLL for (int v = 0; v < nv; v++) {
            ag_real *p = c + i * ldc + v * VL;
            vec r;
            if (beta == 0) r = bias ? V_FMA(va, acc[i][v], add[v])            /* alpha·ab + bias */
                                    : V_MUL(va, acc[i][v]);                   /* alpha·ab */
            else {
                vec bc = bias ? V_FMA(vb, V_LD(p, v), add[v]) : V_MUL(vb, V_LD(p, v));
                r = V_FMA(va, acc[i][v], bc);                               /* alpha·ab + beta·c */
            }
            V_ST(p, v, r);
        }
    }
#undef V_LD
#undef V_ST
}

/* A tile of m <= MR rows and n <= NR columns, one instance per vector count, so each is
 * compiled with its own constant nv. */
static void K(tile_kernel)(int m, int n, int kc, const ag_real *a, const ag_real *b, ag_real *c,
                        int ldc, ag_real alpha, ag_real beta, const ag_real *bias, bool ct)
{
    _Static_assert(NV <= 4, "one case per vector count");
    int nv = (n + VL - 1) / VL, last = n - (nv - 1) * VL;
    switch (nv) {
    case 1: K(kernel_body)(1, kc, a, b, c, ldc, alpha, beta, m, last, bias, ct); break;
#if NV >= 2
    case 2: K(kernel_body)(2, kc, a, b, c, ldc, alpha, beta, m, last, bias, ct); break;
#endif
#if NV >= 3
    case 3: K(kernel_body)(3, kc, a, b, c, ldc, alpha, beta, m, last, bias, ct); break;
#endif
#if NV >= 4
    case 4: K(kernel_body)(4, kc, a, b, c, ldc, alpha, beta, m, last, bias, ct); break;
#endif
    default: break;
    }
}

/* ---------------------------------------------------------------------------------------
 * Packing.  A packed panel is W values wide (W = MR for A, NR for B) and kc deep:
 * out[k*W + r] for r < W.  Of the four (matrix, transpose) cases two read the panel's W
 * values for one k contiguously (A when ta, B when !tb): a copy.  The other two read them
 * from W different rows (A when !ta, B when tb): a transpose, done 8×8 at a time with
 * AVX in float because a scalar transpose would cost as much as 10% of a VAE-sized product. */

/* out[k*W + r] = src[k*ld + r] for r < w, zero for w <= r < W. */
static INLINE void K(pack_copy)(const ag_real *src, size_t ld, int w, int W, int kc, ag_real *restrict out)
{
    if (w == W) {               /* W is a constant: the copy becomes a few vector moves */
        for (int k = 0; k < kc; k++) memcpy(out + (size_t)k * W, src + k * ld, (size_t)W * sizeof *out);
        return;
    }
    for (int k = 0; k < kc; k++)    /* the edge panel: W is small, unrolled, no calls */
        UNROLL for (int r = 0; r < W; r++) out[(size_t)k * W + r] = r < w ? src[k * ld + r] : 0;
}

/* out[k*W + r] = src[r*ld + k] for r < w, zero for w <= r < W. */
static INLINE void K(pack_transpose)(const ag_real *src, size_t ld, int w, int W, int kc,
                           ag_real *restrict out)
{
    int k0 = 0;
#if (defined(GEMM_AVX2) || defined(GEMM_AVX512)) && !defined(AG_DOUBLE)
    _Static_assert(MR % 2 == 0 && NR % 8 == 0, "K(store_lanes) handles 8, 6, 4 or 2 lanes");
    int k8 = kc / 8 * 8;
    for (int r0 = 0; r0 < W; r0 += 8) {         /* rows r0..r0+7 of the panel */
        const float *row[8];
        for (int i = 0; i < 8; i++) row[i] = src + K(min_int)(r0 + i, w - 1) * ld;
        int lanes = K(min_int)(8, W - r0), valid = w - r0;
        for (k0 = 0; k0 < k8; k0 += 8) {        /* × columns k0..k0+7 */
            __m256 v[8];
            if (valid >= 8)
                UNROLL for (int i = 0; i < 8; i++) v[i] = _mm256_loadu_ps(row[i] + k0);
            else
                UNROLL for (int i = 0; i < 8; i++)
                    v[i] = i < valid ? _mm256_loadu_ps(row[i] + k0) : _mm256_setzero_ps();
            K(transpose8x8)(v);
            float *o = out + (size_t)k0 * W + r0;
            UNROLL for (int c = 0; c < 8; c++) K(store_lanes)(o + c * W, v[c], lanes);
        }
    }
#endif
    for (int k = k0; k < kc; k++) {
        int r = 0;
        for (; r < w; r++) out[(size_t)k * W + r] = src[r * ld + k];
        for (; r < W; r++) out[(size_t)k * W + r] = 0;
    }
}

/* Rows [i0, i0+mc) × columns [p0, p0+kc) of op(A) into MR-tall panels, one after another:
 * panel p holds out[k*MR + i] = op(A)[i0 + p*MR + i][p0 + k], rows past mc set to zero.
 * With rowsum (not NULL), rowsum[i0 + i] += the panel's row i, one element at a time in
 * k order (the slices of K come in order): read from the freshly packed panel (in L1), so
 * the linear layer's bias gradient costs no pass over dY of its own. */
static void K(pack_a)(bool ta, const ag_real *A, int lda, int i0, int mc, int p0, int kc,
                   ag_real *restrict out, ag_real *restrict rowsum)
{
    for (int ir = 0; ir < mc; ir += MR, out += (size_t)MR * kc) {
        int m = K(min_int)(MR, mc - ir);
        if (ta) K(pack_copy)(A + (size_t)p0 * lda + i0 + ir, (size_t)lda, m, MR, kc, out);
        else K(pack_transpose)(A + (size_t)(i0 + ir) * lda + p0, (size_t)lda, m, MR, kc, out);
        if (rowsum) {           /* carried on from the previous slice: one sum in k order */
            ag_real s[MR];
            UNROLL for (int i = 0; i < MR; i++) s[i] = i < m ? rowsum[i0 + ir + i] : 0;
            for (int k = 0; k < kc; k++)
                UNROLL for (int i = 0; i < MR; i++) s[i] += out[(size_t)k * MR + i];
            for (int i = 0; i < m; i++) rowsum[i0 + ir + i] = s[i];
        }
    }
}

/* Rows [p0, p0+kc) × columns [j0, j0+nc) of op(B) into NR-wide panels:
 * panel p holds out[k*NR + j] = op(B)[p0 + k][j0 + p*NR + j], columns past nc set to zero.
 * With colsum (not NULL), colsum[j0 + j] += the panel's column j, in k order (as pack_a). */
static void K(pack_b)(bool tb, const ag_real *B, int ldb, int p0, int kc, int j0, int nc,
                   ag_real *restrict out, ag_real *restrict colsum)
{
    for (int jr = 0; jr < nc; jr += NR, out += (size_t)NR * kc) {
        int n = K(min_int)(NR, nc - jr);
        if (tb) K(pack_transpose)(B + (size_t)(j0 + jr) * ldb + p0, (size_t)ldb, n, NR, kc, out);
        else K(pack_copy)(B + (size_t)p0 * ldb + j0 + jr, (size_t)ldb, n, NR, kc, out);
        if (colsum) {
            ag_real s[NR];
            UNROLL for (int j = 0; j < NR; j++) s[j] = j < n ? colsum[j0 + jr + j] : 0;
            for (int k = 0; k < kc; k++)
                UNROLL for (int j = 0; j < NR; j++) s[j] += out[(size_t)k * NR + j];
            for (int j = 0; j < n; j++) colsum[j0 + jr + j] = s[j];
        }
    }
}

/* ---------------------------------------------------------------------------------------
 * Per-thread packing scratch (see gemm.c): grows, never shrinks. */
static _Thread_local ag_real *K(scratch);
static _Thread_local size_t K(scratch_cap);   /* elements */

static ag_real *K(get_scratch)(size_t n)
{
    if (n > K(scratch_cap)) {
        size_t bytes = (n * sizeof(ag_real) + 63) / 64 * 64;    /* aligned_alloc wants a multiple */
        ag_real *p = aligned_alloc(64, bytes);
        if (!p) return NULL;
        free(K(scratch));
        K(scratch) = p;
        K(scratch_cap) = n;
    }
    return K(scratch);
}

/* The K sum is cut into ceil(K/KC) nearly equal slices (with KC = 256, K = 784 gives
 * 4 × 196 rather than 3 × 256 + 16).  Depends on K and the blocking only, so every thread
 * count sums in the same order. */
static int K(k_slices)(int K, int kc) { return (K + kc - 1) / kc; }

/* The serial blocked algorithm on the slab rows [m0, m1) × columns [n0, n1) of C.
 * Returns false if the scratch could not be allocated. */
bool K(gemm_slab)(const gemm_args *g, int m0, int m1, int n0, int n1)
{
    const int KC = g->blk.kc, MC = g->blk.mc, NC = g->blk.nc;
    int ns = K(k_slices)(g->K, KC);
    int kc_max = (g->K + ns - 1) / ns;
    int nc_max = K(min_int)(NC, n1 - n0);
    int mc_max = K(min_int)(MC, m1 - m0);
    size_t b_size = (size_t)kc_max * ((nc_max + NR - 1) / NR * NR);
    size_t a_size = (size_t)kc_max * ((mc_max + MR - 1) / MR * MR);
    ag_real *pb = K(get_scratch)(b_size + a_size);
    if (!pb) return false;
    ag_real *pa = pb + b_size;

    for (int jc = n0; jc < n1; jc += NC) {
        int nc = K(min_int)(NC, n1 - jc);
        /* rows of op(A) are summed once: in the first column block of the slab at n0 = 0;
         * columns of op(B) by the slab at m0 = 0 (every M slab packs the same B) */
        ag_real *rowsum = jc == 0 ? g->rowsum : NULL, *colsum = m0 == 0 ? g->colsum : NULL;
        for (int s = 0; s < ns; s++) {
            int p0 = (int)((long long)g->K * s / ns), kc = (int)((long long)g->K * (s + 1) / ns) - p0;
            ag_real beta = s == 0 ? g->beta : 1;    /* later slices add to the first */
            const ag_real *bias = s == 0 ? g->bias : NULL;
            K(pack_b)(g->tb, g->B, g->ldb, p0, kc, jc, nc, pb, colsum);
            for (int ic = m0; ic < m1; ic += MC) {
                int mc = K(min_int)(MC, m1 - ic);
                K(pack_a)(g->ta, g->A, g->lda, ic, mc, p0, kc, pa, rowsum);
                for (int jr = 0; jr < nc; jr += NR) {
                    int n = K(min_int)(NR, nc - jr);
                    const ag_real *b = pb + (size_t)jr * kc;
                    for (int ir = 0; ir < mc; ir += MR) {
                        int m = K(min_int)(MR, mc - ir);
                        const ag_real *a = pa + (size_t)ir * kc;
                        ag_real *c = g->ct ? g->C + (size_t)(jc + jr) * g->ldc + ic + ir
                                           : g->C + (size_t)(ic + ir) * g->ldc + jc + jr;
                        const ag_real *bt = !bias ? NULL : g->ct ? bias + ic + ir : bias + jc + jr;
                        K(tile_kernel)(m, n, kc, a, b, c, g->ldc, g->alpha, beta, bt, g->ct);
                    }
                }
            }
        }
    }
    return true;
}

const ag_gemm_kernel K(ag_gemm_kernel) = {KERNEL_NAME, MR, NR, VL, CT_STORE, K(gemm_slab)};
