/* gemm_bench.c — how fast is ag_gemm, against OpenBLAS and against the machine's peak?
 *
 *   build/bench/gemm_bench [--csv PATH] [--threads 1,2] [--seconds 0.2] [--only TEXT]
 *
 * Times ag_gemm on the shapes a VAE on MNIST multiplies (batch 128, layers 784-400-40 and
 * 20-400-784) and on squares, in the three forms a linear layer uses: forward x·Wᵀ ("nt"),
 * backward dX = dY·W ("nn") and dW = dYᵀ·X ("tn").  Built with -DHAVE_OPENBLAS (bench/bench.mk does this when
 * OpenBLAS is installed) it times cblas_sgemm on the same data with the same thread count,
 * repetitions of the two interleaved so that both see the same machine load.  Each figure
 * is the best of many short repetitions lasting --seconds in all, per library.
 *
 * Prints a table (case, threads, henbun and peer GFLOPS, speedup = henbun / peer, % of the
 * FMA peak measured by bench/peak.c) and appends rows case,threads,henbun,peer,unit,speedup
 * to the --csv file.  Speed is reported here, never asserted in tests. */
#include "autograd/autograd.h"
#include "autograd/kernels.h" /* the blocking in use, printed with the kernel's name */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PEAK_NO_MAIN
#include "peak.c" /* peak_gflops(), peak_best_isa(): one translation unit, no header needed */

#ifdef HAVE_OPENBLAS
#include <cblas.h>
#define PEER_NAME "openblas"
#else
#define PEER_NAME "peer"
#endif

#define REP_SECONDS 0.003       /* one repetition: enough calls to last this long */
#define MIN_REPS 5              /* best of at least this many */
#define MAX_THREADS 16

static const int shapes[][3] = {        /* M, N, K */
    {128, 400, 784}, {128, 784, 400}, {784, 400, 128}, {400, 784, 128},  /* 784-400 layers */
    {256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024},
    {128, 40, 400}, {128, 400, 20}, {40, 400, 128}, {400, 20, 128},      /* 400-40, 20-400 */
};
/* The three products of a linear layer y = x·Wᵀ; "nn" is the headline. */
static const struct { const char *name; bool ta, tb; } forms[] = {
    {"nn", false, false}, {"nt", false, true}, {"tn", true, false},
};

typedef struct problem {
    bool ta, tb;
    int M, N, K, lda, ldb;
    ag_real *A, *B, *C;
} problem;

static void run_henbun(const problem *p)
{
    ag_gemm(p->ta, p->tb, p->M, p->N, p->K, 1, p->A, p->lda, p->B, p->ldb, 0, p->C, p->N);
}

#ifdef HAVE_OPENBLAS
static void run_peer(const problem *p)
{
#ifdef AG_DOUBLE
    cblas_dgemm(
#else
    cblas_sgemm(
#endif
        CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans, p->tb ? CblasTrans : CblasNoTrans,
        p->M, p->N, p->K, 1, p->A, p->lda, p->B, p->ldb, 0, p->C, p->N);
}
#endif

/* The clock: wall time by default; --clock cpu reads the process's CPU time instead, which
 * on a machine shared with many busy processes leaves out the time the benchmark spent
 * preempted (a 1024³ product lasts ~10 ms, longer than a time slice: on a loaded machine
 * almost no wall-clock repetition of it runs undisturbed).  Meaningful at one thread only. */
static bool cpu_clock;

static double now(void)
{
    if (!cpu_clock) return omp_get_wtime();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds per call of f, averaged over `calls` calls. */
static double time_calls(void (*f)(const problem *), const problem *p, int calls)
{
    double t0 = now();
    for (int i = 0; i < calls; i++) f(p);
    return (now() - t0) / calls;
}

/* Best GFLOPS of henbun and of the peer (0 when there is none) on problem p.  Repetitions
 * are short (a few ms) and many: on a shared machine the best of them is the one that ran
 * undisturbed, which is the figure that means something. */
static void measure(const problem *p, double seconds, double *henbun, double *peer)
{
    double flops = 2.0 * p->M * p->N * p->K;
    double once = time_calls(run_henbun, p, 1);         /* warm-up and calibration */
    if (once < 1e-7) once = 1e-7;
    int calls = (int)(REP_SECONDS / once);
    if (calls < 1) calls = 1;
    int reps = (int)(seconds / 2 / (calls * once));
    if (reps < MIN_REPS) reps = MIN_REPS;
    double best_h = INFINITY, best_p = INFINITY;
#ifdef HAVE_OPENBLAS
    run_peer(p);
#endif
    for (int r = 0; r < reps; r++) {
        double t = time_calls(run_henbun, p, calls);
        if (t < best_h) best_h = t;
#ifdef HAVE_OPENBLAS
        t = time_calls(run_peer, p, calls);
        if (t < best_p) best_p = t;
#endif
    }
    *henbun = flops / best_h / 1e9;
    *peer = isinf(best_p) ? 0 : flops / best_p / 1e9;
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--csv PATH] [--threads LIST] [--seconds S] [--only TEXT] [--clock wall|cpu]\n"
            "  --csv PATH      append rows case,threads,henbun,peer,unit,speedup to PATH\n"
            "  --threads LIST  comma-separated thread counts (default 1,2)\n"
            "  --seconds S     time spent per case and library (default 0.2)\n"
            "  --only TEXT     only the cases whose name contains TEXT (e.g. nn_1024)\n"
            "  --clock C       wall (default) or cpu: process CPU time, for one thread on a\n"
            "                  busy machine (time spent preempted is not counted)\n",
            prog);
}

int main(int argc, char **argv)
{
    const char *csv = NULL, *only = NULL;
    int threads[MAX_THREADS] = {1, 2}, n_threads = 2;
    double seconds = 0.2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
            csv = argv[++i];
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
            if (!(seconds > 0)) { fprintf(stderr, "--seconds: expected a positive number\n"); return 2; }
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            n_threads = 0;
            for (char *s = argv[++i], *end; *s && n_threads < MAX_THREADS; s = *end ? end + 1 : end) {
                long t = strtol(s, &end, 10);
                if (end == s || t < 1 || t > 1024 || (*end && *end != ',')) {
                    fprintf(stderr, "--threads: expected a list like 1,2\n");
                    return 2;
                }
                threads[n_threads++] = (int)t;
            }
        } else if (!strcmp(argv[i], "--clock") && i + 1 < argc) {
            const char *c = argv[++i];
            if (strcmp(c, "wall") && strcmp(c, "cpu")) { fprintf(stderr, "--clock: expected wall or cpu\n"); return 2; }
            cpu_clock = !strcmp(c, "cpu");
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            only = argv[++i];
        } else if (!strcmp(argv[i], "--help")) {
            usage(stdout, argv[0]);
            return 0;
        } else {
            usage(stderr, argv[0]);
            return 2;
        }
    }
    FILE *out = csv ? fopen(csv, "a") : NULL;
    if (csv && !out) { perror(csv); return 1; }
    if (out && ftell(out) == 0) fprintf(out, "case,threads,henbun,peer,unit,speedup\n");

    gemm_blocking blk = ag_gemm_blocking();
    const ag_cache_geometry *cg = ag_cache_geometry_get();
    printf("ag_gemm kernel: %s, blocking KC=%d MC=%d NC=%d (L1d %ld KiB %ld-way, L2 %ld KiB "
           "%ld-way%s)\n", ag_gemm_kernel_name(), blk.kc, blk.mc, blk.nc, cg->l1_bytes >> 10,
           cg->l1_ways, cg->l2_bytes >> 10, cg->l2_ways, cg->reported ? "" : ", fallback");
    /* % of peak is against the peak of the instruction set the GEMM kernel uses */
    enum peak_isa isa = ag_kernel_isa() == AG_ISA_AVX512 ? PEAK_ISA_AVX512
                        : ag_kernel_isa() == AG_ISA_AVX2 ? PEAK_ISA_AVX2 : PEAK_ISA_C;
    FILE *la = fopen("/proc/loadavg", "r");     /* other work on the machine skews timings */
    double load = 0;
    if (la && fscanf(la, "%lf", &load) == 1)
        printf("load average: %.2f on %d cores%s\n", load, omp_get_num_procs(),
               load > 0.5 ? " (busy: figures, most of all threaded ones, understate both sides)" : "");
    if (la) fclose(la);
#ifdef HAVE_OPENBLAS
    printf("peer: %s (%s)\n", openblas_get_config(), openblas_get_corename());
#else
    printf("peer: none (built without OpenBLAS)\n");
#endif
    /* The ceiling for t threads is t times the best per-core rate any measurement showed:
     * on a busy machine some measurements come out low, and the best one is the truth. */
    double peak[MAX_THREADS], measured[MAX_THREADS], per_core = 0;
    for (int t = 0; t < n_threads; t++) {
        measured[t] = peak_gflops(isa, sizeof(ag_real) == 8, threads[t]);
        per_core = fmax(per_core, measured[t] / threads[t]);
    }
    for (int t = 0; t < n_threads; t++) {
        peak[t] = threads[t] * per_core;
        printf("peak FMA %s %s, %d thread%s: %.1f GFLOPS measured, %.1f used for %%peak\n",
               peak_isa_name[isa], AG_REAL_NAME, threads[t], threads[t] > 1 ? "s" : "",
               measured[t], peak[t]);
    }

    int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);
    int n_forms = (int)(sizeof forms / sizeof forms[0]);
    double log_speedup[MAX_THREADS][3] = {{0}};
    int n_speedup[MAX_THREADS][3] = {{0}};
    printf("\n%-22s %7s %10s %10s %8s %7s\n", "case", "threads", "henbun", PEER_NAME, "speedup",
           "%peak");
    for (int f = 0; f < n_forms; f++)
        for (int s = 0; s < n_shapes; s++) {
            char name[64];
            snprintf(name, sizeof name, "gemm_%s_%dx%dx%d", forms[f].name, shapes[s][0],
                     shapes[s][1], shapes[s][2]);
            if (only && !strstr(name, only)) continue;
            problem p = {forms[f].ta, forms[f].tb, shapes[s][0], shapes[s][1], shapes[s][2], 0, 0,
                         NULL, NULL, NULL};
            p.lda = p.ta ? p.M : p.K;
            p.ldb = p.tb ? p.K : p.N;
            p.A = malloc((size_t)p.M * p.K * sizeof *p.A);
            p.B = malloc((size_t)p.K * p.N * sizeof *p.B);
            p.C = malloc((size_t)p.M * p.N * sizeof *p.C);
            if (!p.A || !p.B || !p.C) { fprintf(stderr, "out of memory\n"); return 1; }
            ag_rng r;
            ag_rng_seed(&r, 7);
            for (size_t i = 0; i < (size_t)p.M * p.K; i++) p.A[i] = (ag_real)ag_rng_uniform(&r);
            for (size_t i = 0; i < (size_t)p.K * p.N; i++) p.B[i] = (ag_real)ag_rng_uniform(&r);

            for (int t = 0; t < n_threads; t++) {
                ag_set_num_threads(threads[t]);
#ifdef HAVE_OPENBLAS
                openblas_set_num_threads(threads[t]);
#endif
                double h, pe;
                measure(&p, seconds, &h, &pe);
                double speedup = pe > 0 ? h / pe : 0;
                if (pe > 0) log_speedup[t][f] += log(speedup), n_speedup[t][f]++;
                char peer_s[16] = "-", speed_s[16] = "-";
                if (pe > 0) {
                    snprintf(peer_s, sizeof peer_s, "%.1f", pe);
                    snprintf(speed_s, sizeof speed_s, "%.2f", speedup);
                }
                printf("%-22s %7d %10.1f %10s %8s %6.0f%%\n", name, threads[t], h, peer_s, speed_s,
                       100 * h / peak[t]);
                fflush(stdout);
                if (out) {
                    if (pe > 0)
                        fprintf(out, "%s,%d,%.2f,%.2f,GFLOPS,%.3f\n", name, threads[t], h, pe, speedup);
                    else
                        fprintf(out, "%s,%d,%.2f,,GFLOPS,\n", name, threads[t], h);
                }
            }
            free(p.A);
            free(p.B);
            free(p.C);
        }
#ifdef HAVE_OPENBLAS
    printf("\ngeometric-mean speedup over %s:\n", PEER_NAME);
    for (int t = 0; t < n_threads; t++)
        for (int f = 0; f < n_forms; f++)
            if (n_speedup[t][f] > 0)
                printf("  %s, %d thread%s: %.3f%s\n", forms[f].name, threads[t],
                       threads[t] > 1 ? "s" : "", exp(log_speedup[t][f] / n_speedup[t][f]),
                       f == 0 ? "   <- headline" : "");
#endif
    if (out && fclose(out) != 0) { perror(csv); return 1; }
    return 0;
}
