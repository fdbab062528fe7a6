/* peak.c — how many floating-point operations per second can this machine do at most?
 *
 * A tight loop of independent fused multiply-adds on many accumulators (more than FMA
 * latency × FMA ports, so the pipes never wait), timed on one core and on all cores
 * (OpenMP).  The result is the ceiling that bench/gemm_bench.c reports "% of peak" against.
 *
 *   build/bench/peak [--csv PATH]
 *
 * The widest vector unit the CPU supports is measured (AVX-512, else AVX2+FMA, else plain
 * C, where the figure is only a rough guide), chosen at run time like the library's kernels:
 * the default build has no -mavx512f, so the vector loops are compiled with target
 * attributes.  With AVX-512 the AVX2 figure is printed too, since a core may run both at
 * the same rate (Zen 4) or not (Intel server parts).  gemm_bench.c includes this file with
 * PEAK_NO_MAIN defined to reuse peak_gflops(). */
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && !defined(AG_PORTABLE) && \
    (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PEAK_AVX2 1
#define PEAK_AVX512 1
#define PEAK_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define PEAK_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#endif

enum peak_isa { PEAK_ISA_C, PEAK_ISA_AVX2, PEAK_ISA_AVX512 };
static const char *const peak_isa_name[] = {"scalar", "avx2", "avx512"};

/* Twelve accumulators: Zen's FMA has latency 4 on two ports (8 in flight); Intel's 4 × 2. */
#define PEAK_ACC 12
#define PEAK_UNROLL _Pragma("GCC unroll 12")

/* acc = acc * m + a converges to a / (1 - m) = 1: no overflow, no denormals.  No chain
 * starts at 1 itself, which compilers recognise as a fixed point and hoist out of the loop. */
#define PEAK_LOOP(vec, set1, fma, lanes, reduce_first)                                 \
    do {                                                                               \
        vec acc[PEAK_ACC], m = set1(0.999999), a = set1(1e-6);                         \
        PEAK_UNROLL for (int j = 0; j < PEAK_ACC; j++) acc[j] = set1(j + 2);           \
        _Pragma("GCC unroll 4") for (long it = 0; it < iters; it++)                    \
            PEAK_UNROLL for (int j = 0; j < PEAK_ACC; j++) acc[j] = fma(m, acc[j], a); \
        PEAK_UNROLL for (int j = 0; j < PEAK_ACC; j++) sink += reduce_first(acc[j]);   \
        flops = 2.0 * lanes * PEAK_ACC * (double)iters;                                \
    } while (0)

#define PEAK_SCALAR_FMA(x, m, a) ((x) * (m) + (a))
#define PEAK_ID(x) (x)

#ifdef PEAK_AVX512
PEAK_TARGET_AVX512 static double peak_run_avx512(int dbl, long iters, double *out)
{
    double flops = 0, sink = 0;
    if (dbl) PEAK_LOOP(__m512d, _mm512_set1_pd, _mm512_fmadd_pd, 8, _mm512_cvtsd_f64);
    else PEAK_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, 16, _mm512_cvtss_f32);
    *out = sink;
    return flops;
}
#endif
#ifdef PEAK_AVX2
PEAK_TARGET_AVX2 static double peak_run_avx2(int dbl, long iters, double *out)
{
    double flops = 0, sink = 0;
    if (dbl) PEAK_LOOP(__m256d, _mm256_set1_pd, _mm256_fmadd_pd, 4, _mm256_cvtsd_f64);
    else PEAK_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, 8, _mm256_cvtss_f32);
    *out = sink;
    return flops;
}
#endif

/* Runs `iters` rounds on the calling thread; returns the flops done and, in *out, the sum
 * of the accumulators (the caller checks it, so no compiler may skip the work). */
static double peak_run(enum peak_isa isa, int dbl, long iters, double *out)
{
    double flops = 0, sink = 0;
    switch (isa) {
#ifdef PEAK_AVX512
    case PEAK_ISA_AVX512: return peak_run_avx512(dbl, iters, out);
#endif
#ifdef PEAK_AVX2
    case PEAK_ISA_AVX2: return peak_run_avx2(dbl, iters, out);
#endif
    default:
        if (dbl) PEAK_LOOP(double, (double), PEAK_SCALAR_FMA, 1, PEAK_ID);
        else PEAK_LOOP(float, (float), PEAK_SCALAR_FMA, 1, PEAK_ID);
        break;
    }
    *out = sink;
    return flops;
}

/* Peak GFLOPS of `threads` cores together: the best of many bursts of about 2 ms, for
 * 0.3 s in all.  Short bursts, because on a shared machine the best one is the one that
 * ran undisturbed. */
static double peak_gflops(enum peak_isa isa, int dbl, int threads)
{
    double check = 0, sink;
    long iters = 1024;
    for (;;) {                                  /* one burst on this thread: >= 2 ms */
        double t0 = omp_get_wtime();
        peak_run(isa, dbl, iters, &sink);
        check += sink;
        if (omp_get_wtime() - t0 >= 0.002) break;
        iters *= 2;
    }
    double best = 0, spent = 0;
    for (int burst = 0; burst < 5 || spent < 0.3; burst++) {
        double flops = 0, t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads) reduction(+ : flops, check)
        {
            double s;
            flops += peak_run(isa, dbl, iters, &s);
            check += s;
        }
        double dt = omp_get_wtime() - t0;
        spent += dt;
        if (flops / dt / 1e9 > best) best = flops / dt / 1e9;
    }
    if (!(check < 1e300)) fprintf(stderr, "peak: accumulators overflowed (%g)\n", check);
    return best;
}

#ifndef PEAK_NO_MAIN
/* The widest vector unit this build and this CPU can use. */
static enum peak_isa peak_best_isa(void)
{
#if defined(PEAK_AVX512)
    __builtin_cpu_init();
    bool fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (fma && __builtin_cpu_supports("avx512f")) return PEAK_ISA_AVX512;
    if (fma) return PEAK_ISA_AVX2;
#endif
    return PEAK_ISA_C;
}

int main(int argc, char **argv)
{
    const char *csv = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
            csv = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--csv PATH]\n"
                            "  measures peak FMA GFLOPS of one core and of all cores;\n"
                            "  --csv PATH appends rows case,threads,henbun,peer,unit,speedup\n",
                    argv[0]);
            return !strcmp(argv[i], "--help") ? 0 : 2;
        }
    }
    FILE *f = csv ? fopen(csv, "a") : NULL;
    if (csv && !f) { perror(csv); return 1; }
    if (f && ftell(f) == 0) fprintf(f, "case,threads,henbun,peer,unit,speedup\n");

    int cores = omp_get_num_procs();
    enum peak_isa isas[2] = {peak_best_isa(), PEAK_ISA_AVX2};
    int n_isa = isas[0] == PEAK_ISA_AVX512 ? 2 : 1;
    printf("%-28s %8s %14s\n", "peak FMA", "threads", "GFLOPS");
    for (int s = 0; s < n_isa; s++)
        for (int dbl = 0; dbl <= 1; dbl++)
            for (int t = 1; t <= cores; t = t < cores && 2 * t > cores ? cores : 2 * t) {
                double g = peak_gflops(isas[s], dbl, t);
                char name[64];
                snprintf(name, sizeof name, "peak_%s_%s", peak_isa_name[isas[s]],
                         dbl ? "double" : "float");
                printf("%-28s %8d %14.1f\n", name, t, g);
                if (f) fprintf(f, "%s,%d,%.2f,,GFLOPS,\n", name, t, g);
            }
    if (f && fclose(f) != 0) { perror(csv); return 1; }
    return 0;
}
#endif
