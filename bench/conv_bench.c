/* conv_bench.c — forward + backward time of the four convolution layers of the 28×28 DCGAN
 * at batch 64, on 1 and 2 threads:
 *
 *   G  convT 128→64 k4 s2 p1   (64,128,7,7)   → (64,64,14,14)
 *   G  convT  64→1  k4 s2 p1   (64,64,14,14)  → (64,1,28,28)
 *   D  conv    1→64 k4 s2 p1   (64,1,28,28)   → (64,64,14,14)
 *   D  conv  64→128 k4 s2 p1   (64,64,14,14)  → (64,128,7,7)
 *
 * One call = forward and backward with gradients for x, W and b (x needs one in a GAN:
 * the generator learns through D's input).  Each layer runs two ways:
 *   batched    the library (ops_conv.c): each GEMM covers a chunk of images (~2 MB of
 *              operands; 8 images for the large layers, 32 for the small ones)
 *   per-image  the same kernels with one GEMM per image, the alternative ops_conv.c
 *              rejected; kept here so the choice can be re-measured on other machines.
 *
 *   build/bench/conv_bench [--csv PATH] [--reps N] [--threads N] [--peer FILE]
 *
 * Columns: median ms per call, GFLOPS of the three GEMMs (2·M·N·K each), per-image /
 * batched, and PyTorch's ms for the same call with henbun's speedup over it when --peer
 * names the output of bench/torch_conv.py (lines "layer threads ms"; `make bench-conv`
 * runs both).  At 1 thread the time is the process's CPU time (on a shared machine wall
 * time measures the neighbours too), at more threads wall time; torch_conv.py does the same.
 * The "DCGAN step" line adds the layers as one GAN iteration uses them: D runs
 * forward + backward three times (real batch, fake batch, and the generator's pass), G
 * once (G's extra forward without gradients, for D's fake batch, is left out; and the
 * generator's pass freezes D, so it skips D's dW, which this sum still counts). */
#include "autograd/autograd.h"
#include "autograd/im2col.h"

#include <omp.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    bool transposed;
    int C, H, W, F, k, stride, pad;  /* x (N, C, H, W); F output channels */
} layer;

static const layer layers[] = {
    {"G_convT_128to64_7to14", true, 128, 7, 7, 64, 4, 2, 1},
    {"G_convT_64to1_14to28", true, 64, 14, 14, 1, 4, 2, 1},
    {"D_conv_1to64_28to14", false, 1, 28, 28, 64, 4, 2, 1},
    {"D_conv_64to128_14to7", false, 64, 14, 14, 128, 4, 2, 1},
};
#define N_LAYERS (int)(sizeof layers / sizeof *layers)
#define BATCH 64

typedef struct {
    ag_tensor *x, *w, *b, *dy;
    ag_conv_geom g;  /* the im2col side: x for conv, the output for convT */
    int Ho, Wo;      /* output size */
} problem;

static problem make_problem(const layer *L, ag_rng *r)
{
    problem p;
    int k = L->k, s = L->stride, pad = L->pad;
    p.x = ag_tensor_new(4, (int[]){BATCH, L->C, L->H, L->W}, true);
    p.w = L->transposed ? ag_param(4, (int[]){L->C, L->F, k, k})
                        : ag_param(4, (int[]){L->F, L->C, k, k});
    p.b = ag_param(1, (int[]){L->F});
    ag_fill_uniform(r, p.x, -1, 1);
    ag_fill_uniform(r, p.w, -0.1, 0.1);
    ag_fill_uniform(r, p.b, -0.1, 0.1);
    if (L->transposed) {
        p.Ho = (L->H - 1) * s - 2 * pad + k;
        p.Wo = (L->W - 1) * s - 2 * pad + k;
        p.g = (ag_conv_geom){L->F, p.Ho, p.Wo, k, k, s, pad, L->H, L->W};
    } else {
        p.Ho = (L->H + 2 * pad - k) / s + 1;
        p.Wo = (L->W + 2 * pad - k) / s + 1;
        p.g = (ag_conv_geom){L->C, L->H, L->W, k, k, s, pad, p.Ho, p.Wo};
    }
    p.dy = ag_tensor_new(4, (int[]){BATCH, L->F, p.Ho, p.Wo}, false);
    ag_fill_uniform(r, p.dy, -1, 1);
    return p;
}

static void free_problem(problem *p)
{
    ag_tensor_free(p->x), ag_tensor_free(p->w), ag_tensor_free(p->b), ag_tensor_free(p->dy);
}

/* The library: one op call and one backward sweep on a cleared tape. */
static void run_batched(const layer *L, problem *p, ag_tape *t)
{
    ag_tape_clear(t);
    ag_tensor *y = L->transposed ? ag_conv_transpose2d(t, p->x, p->w, p->b, L->stride, L->pad, 0)
                                 : ag_conv2d(t, p->x, p->w, p->b, L->stride, L->pad);
    ag_backward_seed(t, y, p->dy);
}

/* The rejected alternative: the same products, one GEMM per image (K = one image's pixels
 * for dW, accumulated with beta = 1), writing straight into the NCHW tensors. */
static void run_per_image(const layer *L, problem *p, ag_tape *t)
{
    ag_tape_clear(t);
    const ag_conv_geom *g = &p->g;
    int KK = g->C * g->kh * g->kw, P = g->Ho * g->Wo, M = L->transposed ? L->C : L->F;
    size_t in_img = (size_t)L->C * L->H * L->W, out_img = (size_t)L->F * p->Ho * p->Wo;
    ag_real *col = ag_tape_alloc(t, sizeof(ag_real) * (size_t)KK * P * BATCH);
    ag_real *y = ag_tape_alloc(t, sizeof(ag_real) * out_img * BATCH);
    void *scr = ag_tape_alloc(t, ag_conv_scratch_bytes(g));
    const ag_real *dy = p->dy->data;
    for (int n = 0; n < BATCH; n++) {   /* forward; col of every image kept for backward */
        ag_real *c = col + (size_t)n * KK * P;
        if (!L->transposed) {
            ag_real *yn = y + n * out_img;
            for (int f = 0; f < M; f++)
                for (int q = 0; q < P; q++) yn[(size_t)f * P + q] = p->b->data[f];
            ag_im2col(g, 1, p->x->data + n * in_img, c, scr);
            ag_gemm(false, false, M, P, KK, 1, p->w->data, KK, c, P, 1, yn, P);
        } else {
            ag_gemm(true, false, KK, P, M, 1, p->w->data, KK, p->x->data + n * in_img, P, 0, c, P);
            ag_col2im(g, 1, c, y + n * out_img, p->b->data, false, scr);
        }
    }
    ag_channel_sum(BATCH, L->F, p->Ho * p->Wo, dy, p->b->grad);
    for (int n = 0; n < BATCH; n++) {   /* backward */
        ag_real *c = col + (size_t)n * KK * P;
        const ag_real *xn = p->x->data + n * in_img, *dyn = dy + n * out_img;
        if (!L->transposed) {
            ag_gemm(false, true, M, KK, P, 1, dyn, P, c, P, 1, p->w->grad, KK);     /* dW */
            ag_gemm(true, false, KK, P, M, 1, p->w->data, KK, dyn, P, 0, c, P);     /* dcol */
            ag_col2im(g, 1, c, p->x->grad + n * in_img, NULL, true, scr);
        } else {
            ag_im2col(g, 1, dyn, c, scr);
            ag_gemm(false, true, M, KK, P, 1, xn, P, c, P, 1, p->w->grad, KK);      /* dW */
            ag_gemm(false, false, M, P, KK, 1, p->w->data, KK, c, P, 1, p->x->grad + n * in_img, P);
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Seconds: CPU time of the process at 1 thread, wall time at more (see the top). */
static double now(int threads)
{
    if (threads > 1) return omp_get_wtime();
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Median time of `reps` calls, in ms, after two warm-up calls. */
static double time_ms(void (*run)(const layer *, problem *, ag_tape *), const layer *L,
                      problem *p, ag_tape *t, int reps, int threads)
{
    double *ms = malloc(sizeof *ms * (size_t)reps);
    run(L, p, t);
    run(L, p, t);
    for (int i = 0; i < reps; i++) {
        double t0 = now(threads);
        run(L, p, t);
        ms[i] = 1e3 * (now(threads) - t0);
    }
    qsort(ms, (size_t)reps, sizeof *ms, cmp_double);
    double med = ms[reps / 2];
    free(ms);
    return med;
}

/* PyTorch's ms for (layer, threads) from torch_conv.py's lines, or 0 when not listed. */
static double peer_ms(const char *path, const char *name, int threads)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    char n[64];
    int th;
    double ms, found = 0;
    if (!f) return 0;
    while (fscanf(f, "%63s %d %lf", n, &th, &ms) == 3)
        if (!strcmp(n, name) && th == threads) found = ms;
    fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    const char *csv = NULL, *peer = NULL;
    int reps = 21, only_threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
            csv = argv[++i];
        } else if (!strcmp(argv[i], "--peer") && i + 1 < argc) {
            peer = argv[++i];
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            only_threads = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
            if (reps < 1) reps = 1;
        } else {
            fprintf(stderr, "usage: %s [--csv PATH] [--reps N] [--threads N] [--peer FILE]\n"
                            "  times forward+backward of the DCGAN's conv layers (batch %d) on 1 "
                            "and 2 threads;\n"
                            "  --csv PATH appends rows case,threads,henbun,peer,unit,speedup\n"
                            "  --reps N timed calls per case (median reported; default 21)\n"
                            "  --threads N runs only that thread count\n"
                            "  --peer FILE PyTorch's times, bench/torch_conv.py's output\n",
                    argv[0], BATCH);
            return !strcmp(argv[i], "--help") ? 0 : 2;
        }
    }
    FILE *f = csv ? fopen(csv, "a") : NULL;
    if (csv && !f) { perror(csv); return 1; }
    if (peer) {   /* a missing peer file is an error, not an empty column */
        FILE *pf = fopen(peer, "r");
        if (!pf) { perror(peer); return 1; }
        fclose(pf);
    }

    printf("conv layers, batch %d, %s, GEMM kernel %s\n", BATCH, AG_REAL_NAME,
           ag_gemm_kernel_name());
    printf("%-24s %7s %12s %8s %14s %7s %10s %8s\n", "layer (fwd+bwd)", "threads", "batched ms",
           "GFLOPS", "per-image ms", "ratio", "torch ms", "speedup");
    ag_tape *t = ag_tape_new(1);
    ag_rng r;
    ag_rng_seed(&r, 7);
    int max_threads = only_threads > 2 ? only_threads : omp_get_num_procs() < 2 ? 1 : 2;
    for (int threads = 1; threads <= max_threads; threads++) {
        if (only_threads && threads != only_threads) continue;
        ag_set_num_threads(threads);
        double step = 0, peer_step = 0;
        for (int l = 0; l < N_LAYERS; l++) {
            const layer *L = &layers[l];
            problem p = make_problem(L, &r);
            double gemm_flops = 3 * 2.0 * L->F * L->C * L->k * L->k * BATCH *
                                (L->transposed ? L->H * L->W : p.Ho * p.Wo);
            double batched = time_ms(run_batched, L, &p, t, reps, threads);
            double per_image = time_ms(run_per_image, L, &p, t, reps, threads);
            double torch = peer_ms(peer, L->name, threads);
            printf("%-24s %7d %12.2f %8.1f %14.2f %7.2f", L->name, threads, batched,
                   gemm_flops / batched * 1e-6, per_image, per_image / batched);
            if (torch > 0) printf(" %10.2f %8.2f", torch, torch / batched);
            printf("\n");
            if (f) {   /* per-image is the rejected design, not a peer: its own row */
                if (torch > 0)
                    fprintf(f, "conv_%s,%d,%.3f,%.3f,ms,%.2f\n", L->name, threads, batched,
                            torch, torch / batched);
                else
                    fprintf(f, "conv_%s,%d,%.3f,,ms,\n", L->name, threads, batched);
                fprintf(f, "conv_%s_per_image,%d,%.3f,,ms,\n", L->name, threads, per_image);
            }
            step += (L->transposed ? 1 : 3) * batched;
            peer_step += (L->transposed ? 1 : 3) * torch;
            free_problem(&p);
        }
        printf("%-24s %7d %12.2f", "DCGAN step, convs", threads, step);
        if (peer_step > 0) printf(" %44.2f %8.2f", peer_step, peer_step / step);
        printf("   (3 × D layers + 1 × G layers)\n");
        if (f && peer_step > 0)
            fprintf(f, "conv_dcgan_step,%d,%.3f,%.3f,ms,%.2f\n", threads, step, peer_step,
                    peer_step / step);
        else if (f)
            fprintf(f, "conv_dcgan_step,%d,%.3f,,ms,\n", threads, step);
    }
    ag_tape_free(t);
    if (f && fclose(f) != 0) { perror(csv); return 1; }
    return 0;
}
