/* test_gemm.c — ag_gemm against a naive triple loop summed in double.
 *
 * Covers the four transpose combinations, sizes that are not multiples of any tile (edge
 * tiles at the bottom and the right, 1-wide products), leading dimensions larger than
 * the rows (the padding must be neither read nor written), alpha/beta cases including
 * beta = 0 over NaN, K = 0, several K slices, M and N blocks, and bit-identical results
 * for 1 and 2 threads.  Each kernel the CPU supports (portable C, AVX2, AVX-512: see
 * autograd/kernels.h) is run on the same cases, and the kernels agree within rounding.
 *
 * Tolerance: any order of summing K products has |error| <= K·eps·Σ|a·b| (Higham, Accuracy
 * and Stability of Numerical Algorithms, §3.1); alpha and beta add a few roundings more. */
#include "tests/test.h"
#include "autograd/autograd.h"
#include "autograd/kernels.h"

#include <fenv.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>

#ifdef AG_DOUBLE
#define EPS DBL_EPSILON
#else
#define EPS FLT_EPSILON
#endif

/* A matrix of rows × cols with row stride ld >= cols; the padding columns hold NaN so a
 * kernel that reads them poisons its result. */
static ag_real *random_matrix(ag_rng *r, int rows, int cols, int ld)
{
    size_t n = (size_t)(rows > 0 ? rows : 1) * (size_t)ld;
    ag_real *m = malloc(n * sizeof *m);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < ld; j++)
            m[(size_t)i * ld + j] = j < cols ? (ag_real)(2 * ag_rng_uniform(r) - 1) : (ag_real)NAN;
    return m;
}

/* Max over C of |C - reference| / bound, where reference = alpha·op(A)op(B) + beta·C0 in
 * double and bound = (K + 4)·eps·(|alpha|·Σ|a·b| + |beta·c0|) + tiny.  <= 1 passes.
 * Also checks that C's padding columns still hold their sentinel. */
static double gemm_error(bool ta, bool tb, int M, int N, int K, double alpha, const ag_real *A,
                         int lda, const ag_real *B, int ldb, double beta, const ag_real *C0,
                         const ag_real *C, int ldc, int *pad_touched)
{
    double worst = 0;
    *pad_touched = 0;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double s = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += a * b;
                mag += fabs(a * b);
            }
            double c0 = beta == 0 ? 0 : beta * C0[(size_t)i * ldc + j];
            double ref = alpha * s + c0;
            double bound = (K + 4) * EPS * (fabs(alpha) * mag + fabs(c0)) + 1e-300;
            double e = fabs(ref - C[(size_t)i * ldc + j]) / bound;
            if (!(e <= worst)) worst = e;       /* NaN makes worst NaN: fails below */
        }
        for (int j = N; j < ldc; j++)
            if (memcmp(&C[(size_t)i * ldc + j], &C0[(size_t)i * ldc + j], sizeof *C)) *pad_touched = 1;
    }
    return worst;
}

/* One product on fresh random data with the given padding; returns the error ratio.
 * nan_c: fill C with NaN, to check that beta = 0 ignores it; otherwise C0 is random. */
static double run_case(ag_rng *r, bool ta, bool tb, int M, int N, int K, ag_real alpha,
                       ag_real beta, int pad, bool nan_c)
{
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    ag_real *A = random_matrix(r, ta ? K : M, ta ? M : K, lda);
    ag_real *B = random_matrix(r, tb ? N : K, tb ? K : N, ldb);
    ag_real *C0 = random_matrix(r, M, N, ldc);
    if (nan_c)
        for (size_t i = 0; i < (size_t)M * ldc; i++) C0[i] = (ag_real)NAN;
    for (int i = 0; i < M; i++)                 /* C's padding: a sentinel to compare */
        for (int j = N; j < ldc; j++) C0[(size_t)i * ldc + j] = (ag_real)12345;
    ag_real *C = malloc(((size_t)M * ldc + 1) * sizeof *C);
    memcpy(C, C0, (size_t)M * ldc * sizeof *C);
    ag_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    int pad_touched;
    double e = gemm_error(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C0, C, ldc, &pad_touched);
    if (pad_touched) e = INFINITY;
    free(A);
    free(B);
    free(C0);
    free(C);
    return e;
}

TEST(gemm_matches_naive_all_transposes_and_odd_sizes)
{
    static const int sizes[] = {1, 7, 17, 33, 65, 130};
    const int n = (int)(sizeof sizes / sizeof sizes[0]);
    ag_rng r;
    ag_rng_seed(&r, 1);
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        double worst = 0;
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
                for (int c = 0; c < n; c++) {
                    int pad = (a + b + c) % 3;  /* ld = minimum, +1, +2 */
                    double e = run_case(&r, ta, tb, sizes[a], sizes[b], sizes[c], 1, 0, pad, false);
                    if (!(e <= 1))
                        test_fail(__FILE__, __LINE__, "ta=%d tb=%d M=%d N=%d K=%d pad=%d: error %g x bound",
                                  ta, tb, sizes[a], sizes[b], sizes[c], pad, e);
                    if (e > worst) worst = e;
                }
        CHECK(worst <= 1);
    }
}

TEST(gemm_alpha_beta_and_padding)
{
    static const struct { ag_real alpha, beta; } ab[] = {
        {1, 1}, {(ag_real)0.5, (ag_real)-2}, {-3, 0}, {(ag_real)0.25, 1}, {2, (ag_real)0.5}};
    static const int shapes[][3] = {{5, 3, 4}, {37, 45, 29}, {130, 70, 33}, {64, 64, 64}};
    ag_rng r;
    ag_rng_seed(&r, 2);
    for (int t = 0; t < 4; t++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (size_t k = 0; k < sizeof ab / sizeof ab[0]; k++) {
                double e = run_case(&r, t & 1, t & 2, shapes[s][0], shapes[s][1], shapes[s][2],
                                    ab[k].alpha, ab[k].beta, 5, false);
                if (!(e <= 1))
                    test_fail(__FILE__, __LINE__, "t=%d shape %zu alpha=%g beta=%g: error %g x bound",
                              t, s, (double)ab[k].alpha, (double)ab[k].beta, e);
            }
}

/* beta = 0 must overwrite C without reading it: NaN or Inf in C must not leak through. */
TEST(gemm_beta_zero_ignores_nan_in_c)
{
    static const int shapes[][3] = {{3, 3, 3}, {17, 33, 7}, {130, 65, 65}, {6, 16, 300}};
    ag_rng r;
    ag_rng_seed(&r, 3);
    for (int t = 0; t < 4; t++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            double e = run_case(&r, t & 1, t & 2, shapes[s][0], shapes[s][1], shapes[s][2],
                                (ag_real)1.5, 0, 3, true);
            CHECK(e <= 1);
        }
}

/* Calling twice with beta = 1 accumulates: C = C0 + 2·AB. */
TEST(gemm_beta_one_accumulates)
{
    const int M = 40, N = 50, K = 60;
    ag_rng r;
    ag_rng_seed(&r, 4);
    ag_real *A = random_matrix(&r, M, K, K), *B = random_matrix(&r, K, N, N);
    ag_real *C = random_matrix(&r, M, N, N), *C0 = malloc((size_t)M * N * sizeof *C0);
    ag_real *AB = malloc((size_t)M * N * sizeof *AB);
    memcpy(C0, C, (size_t)M * N * sizeof *C);
    ag_gemm(false, false, M, N, K, 1, A, K, B, N, 0, AB, N);
    ag_gemm(false, false, M, N, K, 1, A, K, B, N, 1, C, N);
    ag_gemm(false, false, M, N, K, 1, A, K, B, N, 1, C, N);
    double worst = 0;
    for (int i = 0; i < M * N; i++) {
        double e = fabs(C[i] - (C0[i] + 2.0 * AB[i])) / ((K + 8) * EPS * (fabs(C0[i]) + 2 * K));
        if (!(e <= worst)) worst = e;
    }
    CHECK(worst <= 1);
    free(A);
    free(B);
    free(C);
    free(C0);
    free(AB);
}

/* Blocking boundaries: several K slices, several M blocks, and N past one column block. */
TEST(gemm_crosses_cache_blocks)
{
    static const int shapes[][3] = {{37, 45, 1100}, {600, 20, 50}, {3, 4200, 5}, {300, 130, 520}};
    ag_rng r;
    ag_rng_seed(&r, 5);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            double e = run_case(&r, t & 1, t & 2, shapes[s][0], shapes[s][1], shapes[s][2],
                                (ag_real)0.75, (ag_real)0.5, 1, false);
            if (!(e <= 1))
                test_fail(__FILE__, __LINE__, "shape %zu t=%d: error %g x bound", s, t, e);
        }
}

/* K = 0: op(A)op(B) is the zero matrix, so C = beta·C; M = 0 or N = 0 touch nothing;
 * alpha = 0 does not read A or B (NaN there must not matter). */
TEST(gemm_degenerate_sizes)
{
    ag_real C[6] = {1, 2, 3, 4, 5, 6}, nan_ab[6];
    for (int i = 0; i < 6; i++) nan_ab[i] = (ag_real)NAN;
    ag_gemm(false, false, 2, 3, 0, 1, nan_ab, 1, nan_ab, 3, 2, C, 3);
    for (int i = 0; i < 6; i++) CHECK(C[i] == 2 * (i + 1));
    for (int i = 0; i < 6; i++) C[i] = (ag_real)NAN;
    ag_gemm(true, true, 2, 3, 0, 1, nan_ab, 2, nan_ab, 1, 0, C, 3);
    for (int i = 0; i < 6; i++) CHECK(C[i] == 0);
    for (int i = 0; i < 6; i++) C[i] = (ag_real)(i + 1);
    ag_gemm(false, false, 2, 3, 1, 0, nan_ab, 1, nan_ab, 3, (ag_real)0.5, C, 3);
    for (int i = 0; i < 6; i++) CHECK(C[i] == (ag_real)0.5 * (ag_real)(i + 1));
    ag_gemm(false, false, 0, 3, 4, 1, nan_ab, 4, nan_ab, 3, 0, C, 3);
    ag_gemm(false, false, 2, 0, 4, 1, nan_ab, 4, nan_ab, 1, 0, C, 1);
    for (int i = 0; i < 6; i++) CHECK(C[i] == (ag_real)0.5 * (ag_real)(i + 1));
}

/* One call that must raise an error naming gemm (a function of its own: one setjmp each). */
static void expect_gemm_error(bool ta, bool tb, int M, int N, int K, int lda, int ldb, int ldc)
{
    static ag_real x[16];
    EXPECT_ERROR(ag_gemm(ta, tb, M, N, K, 1, x, lda, x, ldb, 0, x, ldc));
    CHECK(strstr(test_last_error, "gemm") != NULL);
}

TEST(gemm_rejects_bad_arguments)
{
    expect_gemm_error(false, false, 2, 2, 3, 2, 2, 2);     /* lda < K */
    expect_gemm_error(true, false, 3, 2, 2, 2, 2, 2);      /* lda < M */
    expect_gemm_error(false, true, 2, 2, 3, 3, 2, 2);      /* ldb < K */
    expect_gemm_error(false, false, 2, 3, 2, 2, 2, 2);     /* ldb < N */
    expect_gemm_error(false, false, 2, 3, 2, 2, 3, 2);     /* ldc < N */
    expect_gemm_error(false, false, -1, 2, 2, 2, 2, 2);    /* negative M */
}

/* The header's promise: the K sum is never split, so any thread count gives the same bits.
 * The shapes are large enough to run threaded; the last is cut along N, the others along M
 * in some builds and along N in others (the cut depends on the tile shape). */
TEST(gemm_bit_identical_across_thread_counts)
{
    static const int shapes[][3] = {{128, 400, 300}, {300, 40, 200}, {97, 203, 777}, {401, 33, 200},
                                      {20, 1000, 300}};
    int saved = ag_num_threads();
    ag_rng r;
    ag_rng_seed(&r, 6);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            bool ta = t & 1, tb = t & 2;
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            ag_real *A = random_matrix(&r, ta ? K : M, ta ? M : K, ta ? M : K);
            ag_real *B = random_matrix(&r, tb ? N : K, tb ? K : N, tb ? K : N);
            ag_real *C1 = random_matrix(&r, M, N, N), *C2 = malloc((size_t)M * N * sizeof *C2);
            memcpy(C2, C1, (size_t)M * N * sizeof *C1);
            ag_set_num_threads(1);
            ag_gemm(ta, tb, M, N, K, (ag_real)0.9, A, ta ? M : K, B, tb ? K : N, (ag_real)0.3, C1, N);
            ag_set_num_threads(2);
            CHECK(ag_num_threads() == 2);
            ag_gemm(ta, tb, M, N, K, (ag_real)0.9, A, ta ? M : K, B, tb ? K : N, (ag_real)0.3, C2, N);
            if (memcmp(C1, C2, (size_t)M * N * sizeof *C1) != 0)
                test_fail(__FILE__, __LINE__, "M=%d N=%d K=%d ta=%d tb=%d differ between 1 and 2 threads",
                          M, N, K, ta, tb);
            free(A);
            free(B);
            free(C1);
            free(C2);
        }
    ag_set_num_threads(saved);
}

/* Fills the stack below the caller with signaling NaNs, so that arithmetic on stale stack
 * contents (an uninitialised scratch tile, say) raises FE_INVALID. */
static ag_real poison_stack(void)
{
#ifdef AG_DOUBLE
    const uint64_t snan = 0x7ff4000000000000u;
#else
    const uint32_t snan = 0x7fa00000u;
#endif
    volatile ag_real junk[4096];
    for (int i = 0; i < 4096; i++) {
        ag_real x;
        memcpy(&x, &snan, sizeof x);
        junk[i] = x;
    }
    return junk[4095];
}

/* Finite inputs raise no invalid, divide-by-zero or overflow flag: padding and scratch
 * lanes hold zeros, not garbage, so a program that traps on these (feenableexcept) can
 * call the GEMM.  One thread, since the flags belong to the thread that raised them. */
TEST(gemm_raises_no_fp_exceptions_on_finite_input)
{
    int saved = ag_num_threads();
    ag_set_num_threads(1);
    ag_rng r;
    ag_rng_seed(&r, 8);
    for (int t = 0; t < 4; t++) {
        const int M = 13, N = 37, K = 300;  /* edge tiles both ways, several K slices */
        bool ta = t & 1, tb = t & 2;
        ag_real *A = random_matrix(&r, ta ? K : M, ta ? M : K, ta ? M : K);
        ag_real *B = random_matrix(&r, tb ? N : K, tb ? K : N, tb ? K : N);
        ag_real *C = random_matrix(&r, M, N, N);
        (void)poison_stack();
        feclearexcept(FE_ALL_EXCEPT);
        ag_gemm(ta, tb, M, N, K, (ag_real)0.5, A, ta ? M : K, B, tb ? K : N, 2, C, N);
        CHECK(!fetestexcept(FE_INVALID | FE_DIVBYZERO | FE_OVERFLOW));
        free(A);
        free(B);
        free(C);
    }
    ag_set_num_threads(saved);
}

/* The kernel in use names its instruction set and precision; by default it is the widest
 * the CPU supports (unless HENBUN_KERNEL forces one). */
TEST(gemm_kernel_name_matches_dispatch)
{
    const char *name = ag_gemm_kernel_name();
    CHECK(name != NULL && strstr(name, AG_REAL_NAME) != NULL);
    ag_isa isa = ag_kernel_isa();
    CHECK(ag_isa_supported(isa));
    CHECK(strncmp(name, isa == AG_ISA_AVX512 ? "avx512" : isa == AG_ISA_AVX2 ? "avx2" : "portable",
                  isa == AG_ISA_AVX2 ? 4 : 6) == 0);
    const char *forced = getenv("HENBUN_KERNEL");
    if (!forced || !*forced)
        for (int i = isa + 1; i < AG_ISA_COUNT; i++) CHECK(!ag_isa_supported((ag_isa)i));
}

/* Every kernel this machine can run (the portable one always) passes the naive-reference
 * check on all transposes, edge sizes, padding and beta cases, and on one product the
 * kernels agree with the portable kernel within twice the rounding bound. */
TEST(gemm_every_supported_kernel_matches_naive_and_each_other)
{
    static const int sizes[] = {1, 5, 17, 40, 67, 300};
    const int n = (int)(sizeof sizes / sizeof sizes[0]);
    ag_isa saved = ag_kernel_isa();
    const int M = 37, N = 45, K = 531;
    ag_rng r;
    ag_rng_seed(&r, 11);
    ag_real *A = random_matrix(&r, M, K, K), *B = random_matrix(&r, K, N, N);
    ag_real *ref = calloc((size_t)M * N, sizeof *ref), *C = calloc((size_t)M * N, sizeof *C);
    int tested = 0;
    for (int isa = 0; isa < AG_ISA_COUNT; isa++) {
        if (!ag_kernel_force((ag_isa)isa)) continue;
        tested++;
        ag_rng_seed(&r, 2);
        for (int t = 0; t < 4; t++)
            for (int a = 0; a < n; a++)
                for (int b = 0; b < n; b++) {
                    int c = (a + 2 * b + t) % n, pad = (a + b) % 3;
                    double e = run_case(&r, t & 1, t & 2, sizes[a], sizes[b], sizes[c],
                                        (ag_real)0.5, (ag_real)(t == 3 ? 0 : 1.5), pad, t == 3);
                    if (!(e <= 1))
                        test_fail(__FILE__, __LINE__, "%s: ta=%d tb=%d M=%d N=%d K=%d pad=%d: error %g x bound",
                                  ag_isa_name((ag_isa)isa), t & 1, (t & 2) != 0, sizes[a], sizes[b],
                                  sizes[c], pad, e);
                }
        ag_gemm(false, false, M, N, K, 1, A, K, B, N, 0, isa == 0 ? ref : C, N);
        if (isa == 0) continue;
        double worst = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double mag = 0;
                for (int k = 0; k < K; k++) mag += fabs((double)A[i * K + k] * B[k * N + j]);
                double e = fabs((double)C[i * N + j] - ref[i * N + j]) / (2 * (K + 4) * EPS * mag);
                if (!(e <= worst)) worst = e;
            }
        if (!(worst <= 1))
            test_fail(__FILE__, __LINE__, "%s differs from portable by %g x the rounding bound",
                      ag_isa_name((ag_isa)isa), worst);
    }
    CHECK(tested >= 1);
    CHECK(ag_kernel_force(saved));
    free(A);
    free(B);
    free(ref);
    free(C);
}

/* HENBUN_KERNEL names a kernel; one this machine cannot run is refused. */
TEST(gemm_kernel_force_refuses_unsupported)
{
    ag_isa saved = ag_kernel_isa();
    CHECK(ag_kernel_force(AG_ISA_PORTABLE));
    CHECK(ag_kernel_isa() == AG_ISA_PORTABLE);
    CHECK(strncmp(ag_gemm_kernel_name(), "portable", 8) == 0);
    CHECK(!ag_kernel_force(AG_ISA_COUNT));
    CHECK(ag_kernel_force(saved));
}

/* The blocking model (gemm.c): on known caches it gives the figures its comment derives,
 * and on any geometry the blocks fit where the model puts them: A's and B's micro-panels
 * together in L1, the A block in L2, in whole MR panels. */
TEST(gemm_blocking_follows_the_cache_model)
{
    ag_cache_geometry zen5 = {48 << 10, 12, 1 << 20, 8, true};
    gemm_blocking b = ag_gemm_derive_blocking(&zen5, 8, 32, 4);
    CHECK(b.kc == 256 && b.mc == 768);
    static const ag_cache_geometry geoms[] = {
        {32 << 10, 8, 512 << 10, 8, true}, {48 << 10, 12, 2 << 20, 16, true},
        {32 << 10, 8, 256 << 10, 4, true}, {64 << 10, 4, 1 << 20, 16, true},
        {16 << 10, 2, 128 << 10, 2, true}, {8 << 10, 1, 64 << 10, 1, true}};
    static const int tiles[][3] = {{8, 32, 4}, {8, 16, 8}, {6, 16, 4}, {6, 8, 8}, {4, 4, 4}, {4, 4, 8}};
    for (size_t g = 0; g < sizeof geoms / sizeof geoms[0]; g++)
        for (size_t t = 0; t < sizeof tiles / sizeof tiles[0]; t++) {
            int mr = tiles[t][0], nr = tiles[t][1], s = tiles[t][2];
            b = ag_gemm_derive_blocking(&geoms[g], mr, nr, s);
            bool fits_l1 = (long)b.kc * (mr + nr) * s <= geoms[g].l1_bytes || b.kc == 64;
            bool fits_l2 = (long)b.mc * b.kc * s <= geoms[g].l2_bytes || b.mc == mr;
            if (!(b.kc >= 64 && b.kc <= 1024 && fits_l1 && b.mc >= mr && b.mc % mr == 0 && fits_l2 &&
                  b.nc >= nr))
                test_fail(__FILE__, __LINE__, "geometry %zu tile %dx%d (%d B): KC=%d MC=%d NC=%d",
                          g, mr, nr, s, b.kc, b.mc, b.nc);
        }
    /* The kernel in use: whole panels, and the geometry read from this machine is sane. */
    const ag_cache_geometry *cg = ag_cache_geometry_get();
    CHECK(cg->l1_bytes >= 8 << 10 && cg->l2_bytes > cg->l1_bytes && cg->l1_ways >= 1 && cg->l2_ways >= 1);
    gemm_blocking in_use = ag_gemm_blocking();
    CHECK(in_use.kc >= 1 && in_use.mc >= 1 && in_use.nc >= 1);
}

/* Every kernel, on shapes just around its own block sizes (K across one and two KC slices,
 * M across one MC block, N across whole and partial NR panels), all transposes. */
TEST(gemm_every_kernel_around_its_block_sizes)
{
    ag_isa saved = ag_kernel_isa();
    ag_rng r;
    ag_rng_seed(&r, 12);
    for (int isa = 0; isa < AG_ISA_COUNT; isa++) {
        if (!ag_kernel_force((ag_isa)isa)) continue;
        gemm_blocking b = ag_gemm_blocking();
        int mr = 4, nr = 4;     /* the tile, read from the kernel's name "isa MRxNR ..." */
        const char *x = strchr(ag_gemm_kernel_name(), ' ');
        CHECK(x && sscanf(x, " %dx%d", &mr, &nr) == 2);
        const int shapes[][3] = {{b.mc + 1, nr - 1, b.kc + 1}, {mr + 3, 2 * nr + 5, 2 * b.kc + 3},
                                 {b.mc - 1, nr + 1, b.kc - 1}, {2 * mr - 1, 20, b.kc},
                                 {mr, 40, 3 * b.kc - 1}};
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int t = 0; t < 4; t++) {
                double e = run_case(&r, t & 1, t & 2, shapes[s][0], shapes[s][1], shapes[s][2],
                                    (ag_real)0.75, (ag_real)(t == 2 ? 0 : 0.5), 2, t == 2);
                if (!(e <= 1))
                    test_fail(__FILE__, __LINE__, "%s (KC=%d MC=%d): M=%d N=%d K=%d t=%d: error %g x bound",
                              ag_isa_name((ag_isa)isa), b.kc, b.mc, shapes[s][0], shapes[s][1],
                              shapes[s][2], t, e);
            }
    }
    CHECK(ag_kernel_force(saved));
}

/* ag_gemm_fused: the bias added in the store and the row sums of op(A) gathered while
 * packing.  The bias with beta = 0 gives the very bits of the unfused form (C set to the
 * bias rows, then beta = 1): the linear layer's results did not change when it moved into
 * the store.  The row sums are the plain sum in k order, bit for bit, whatever the thread
 * count or the cut (N-cut slabs share rows: only one of them may add). */
static void check_fused(ag_rng *r, bool ta, bool tb, int M, int N, int K, const char *isa)
{
    int lda = ta ? M : K, ldb = tb ? K : N, ldc = N + 1;
    ag_real *A = random_matrix(r, ta ? K : M, ta ? M : K, lda);
    ag_real *B = random_matrix(r, tb ? N : K, tb ? K : N, ldb);
    ag_real *bias = random_matrix(r, 1, N, N), *r0 = random_matrix(r, 1, M, M);
    ag_real *C1 = random_matrix(r, M, N, ldc), *C2 = malloc((size_t)M * ldc * sizeof *C2);
    ag_real *C3 = malloc((size_t)M * ldc * sizeof *C3), *sum = malloc((size_t)M * sizeof *sum);
    ag_real *sum2 = malloc((size_t)M * sizeof *sum2);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) C1[(size_t)i * ldc + j] = (ag_real)NAN;    /* beta = 0 */
    memcpy(C2, C1, (size_t)M * ldc * sizeof *C1);
    for (int i = 0; i < M; i++) memcpy(C3 + (size_t)i * ldc, bias, (size_t)N * sizeof *bias);
    for (int i = 0; i < M; i++) C3[(size_t)i * ldc + N] = C1[(size_t)i * ldc + N];
    memcpy(sum, r0, (size_t)M * sizeof *sum);
    memcpy(sum2, r0, (size_t)M * sizeof *sum);
    int saved = ag_num_threads();
    ag_set_num_threads(1);
    ag_gemm_fused(ta, tb, M, N, K, (ag_real)0.5, A, lda, B, ldb, 0, C1, ldc, bias, sum);
    ag_gemm(ta, tb, M, N, K, (ag_real)0.5, A, lda, B, ldb, 1, C3, ldc);
    ag_set_num_threads(2);
    ag_gemm_fused(ta, tb, M, N, K, (ag_real)0.5, A, lda, B, ldb, 0, C2, ldc, bias, sum2);
    ag_set_num_threads(saved);
    if (memcmp(C1, C3, (size_t)M * ldc * sizeof *C1) != 0)
        test_fail(__FILE__, __LINE__, "%s M=%d N=%d K=%d ta=%d tb=%d: fused bias differs from "
                  "the bias rows + beta = 1", isa, M, N, K, ta, tb);
    if (memcmp(C1, C2, (size_t)M * ldc * sizeof *C1) != 0 || memcmp(sum, sum2, (size_t)M * sizeof *sum) != 0)
        test_fail(__FILE__, __LINE__, "%s M=%d N=%d K=%d ta=%d tb=%d: 1 and 2 threads differ", isa,
                  M, N, K, ta, tb);
    for (int i = 0; i < M; i++) {
        ag_real s = r0[i];
        for (int k = 0; k < K; k++) s += ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
        if (memcmp(&s, &sum[i], sizeof s) != 0) {
            test_fail(__FILE__, __LINE__, "%s M=%d N=%d K=%d ta=%d: rowsum[%d] = %.9g, the sum "
                      "in k order is %.9g", isa, M, N, K, ta, i, (double)sum[i], (double)s);
            break;
        }
    }
    free(A);
    free(B);
    free(bias);
    free(r0);
    free(C1);
    free(C2);
    free(C3);
    free(sum);
    free(sum2);
}

TEST(gemm_fused_bias_and_rowsum_every_kernel)
{
    static const int shapes[][3] = {{1, 1, 1}, {7, 20, 5}, {40, 17, 300}, {128, 40, 400},
                                    {300, 40, 1100}, {20, 1000, 300}, {130, 400, 20}};
    ag_isa saved = ag_kernel_isa();
    ag_rng r;
    ag_rng_seed(&r, 13);
    for (int isa = 0; isa < AG_ISA_COUNT; isa++) {
        if (!ag_kernel_force((ag_isa)isa)) continue;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int t = 0; t < 4; t++)
                check_fused(&r, t & 1, t & 2, shapes[s][0], shapes[s][1], shapes[s][2],
                            ag_isa_name((ag_isa)isa));
    }
    CHECK(ag_kernel_force(saved));
}

/* The fusions where the kernel does not run: K = 0 or alpha = 0 (C = beta·C + bias, and the
 * row sums still read A), N = 0 (no C at all, row sums still wanted). */
TEST(gemm_fused_degenerate_sizes)
{
    ag_real A[6] = {1, 2, 3, 4, 5, 6}, nan_b[6], C[6] = {1, 2, 3, 4, 5, 6}, bias[3] = {10, 20, 30};
    ag_real sum[2] = {0, 0};
    for (int i = 0; i < 6; i++) nan_b[i] = (ag_real)NAN;
    ag_gemm_fused(false, false, 2, 3, 0, 1, nan_b, 1, nan_b, 3, 2, C, 3, bias, sum);
    for (int i = 0; i < 6; i++) CHECK(C[i] == 2 * (i + 1) + bias[i % 3]);
    CHECK(sum[0] == 0 && sum[1] == 0);
    ag_gemm_fused(false, false, 2, 3, 3, 0, A, 3, nan_b, 3, 0, C, 3, bias, sum);  /* alpha = 0 */
    for (int i = 0; i < 6; i++) CHECK(C[i] == bias[i % 3]);
    CHECK(sum[0] == 6 && sum[1] == 15);
    ag_gemm_fused(true, false, 2, 0, 2, 1, A, 3, nan_b, 1, 0, C, 1, NULL, sum);    /* N = 0 */
    CHECK(sum[0] == 6 + 5 && sum[1] == 15 + 7 && C[0] == bias[0]);
}

/* A narrow C (N = 20, 40) is computed transposed where that fills more vector lanes
 * (gemm.c, transposing_pays): the bits must be those of the plain path, here obtained by
 * asking for Cᵀ = op(B)ᵀ·op(A)ᵀ directly (N' = M is wide: not transposed again). */
TEST(gemm_narrow_c_transposed_gives_the_same_bits)
{
    static const int shapes[][3] = {{128, 40, 400}, {400, 20, 128}, {45, 20, 300}, {131, 9, 70}};
    ag_isa saved = ag_kernel_isa();
    ag_rng r;
    ag_rng_seed(&r, 14);
    for (int isa = 0; isa < AG_ISA_COUNT; isa++) {
        if (!ag_kernel_force((ag_isa)isa)) continue;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int t = 0; t < 4; t++) {
                bool ta = t & 1, tb = t & 2;
                int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                int lda = ta ? M : K, ldb = tb ? K : N;
                ag_real *A = random_matrix(&r, ta ? K : M, ta ? M : K, lda);
                ag_real *B = random_matrix(&r, tb ? N : K, tb ? K : N, ldb);
                ag_real *C = random_matrix(&r, M, N, N), *CT = malloc((size_t)M * N * sizeof *CT);
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) CT[(size_t)j * M + i] = C[(size_t)i * N + j];
                ag_gemm(ta, tb, M, N, K, (ag_real)0.7, A, lda, B, ldb, (ag_real)0.4, C, N);
                ag_gemm(!tb, !ta, N, M, K, (ag_real)0.7, B, ldb, A, lda, (ag_real)0.4, CT, M);
                int differ = 0;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++)
                        differ += memcmp(&C[(size_t)i * N + j], &CT[(size_t)j * M + i], sizeof *C) != 0;
                if (differ)
                    test_fail(__FILE__, __LINE__, "%s M=%d N=%d K=%d ta=%d tb=%d: %d elements differ "
                              "from the transposed product", ag_isa_name((ag_isa)isa), M, N, K, ta, tb, differ);
                free(A);
                free(B);
                free(C);
                free(CT);
            }
    }
    CHECK(ag_kernel_force(saved));
}
