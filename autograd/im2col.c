/* im2col.c — the data-movement kernels under convolution: im2col, its adjoint col2im,
 * the (N, C, P) ↔ (C, N, P) axis swap and the per-channel sum (see im2col.h).
 *
 * None of these does arithmetic worth the name; they are memory-bound copies.  What
 * keeps them fast is walking rows: for each kernel tap (i, j) the window positions that
 * read real pixels (not padding) form one contiguous range of (oh, ow), computed once, so
 * the inner loops have no bounds tests (stride 1 becomes a memcpy).  Threads split the
 * batch × channel planes: no two threads ever write the same memory. */
#include "autograd/im2col.h"
#include "autograd/internal.h"

#include <omp.h>
#include <string.h>

/* The grid positions o in [0, n_out) whose pixel o·s + d lies inside [0, n_in): [*lo, *hi).
 * d = tap - pad is where window 0 puts this tap. */
static void valid_range(int d, int s, int n_in, int n_out, int *lo, int *hi)
{
    int a = d >= 0 ? 0 : (-d + s - 1) / s;                  /* first o with o·s + d >= 0 */
    int b = n_in - 1 - d < 0 ? 0 : (n_in - 1 - d) / s + 1;  /* past the last o·s + d < n_in */
    if (b > n_out) b = n_out;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

void ag_im2col(const ag_conv_geom *g, int N, const ag_real *img, ag_real *col)
{
    const int C = g->C, H = g->H, W = g->W, kh = g->kh, kw = g->kw, s = g->stride;
    const int Ho = g->Ho, Wo = g->Wo, P = Ho * Wo;
    const size_t ld = (size_t)N * P;                        /* row length of col */
    const long work = (long)N * C * kh * kw * P;
#pragma omp parallel for collapse(2) schedule(static) if (work > AG_PAR_MIN)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            const ag_real *plane = img + ((size_t)n * C + c) * H * W;   /* (H, W) */
            for (int i = 0; i < kh; i++) {
                int oh0, oh1;
                valid_range(i - g->pad, s, H, Ho, &oh0, &oh1);
                for (int j = 0; j < kw; j++) {
                    int ow0, ow1, dj = j - g->pad;
                    valid_range(dj, s, W, Wo, &ow0, &ow1);
                    ag_real *dst = col + ((size_t)(c * kh + i) * kw + j) * ld + (size_t)n * P;
                    memset(dst, 0, sizeof *dst * (size_t)oh0 * Wo);     /* rows in the top pad */
                    for (int oh = oh0; oh < oh1; oh++) {
                        ag_real *d = dst + (size_t)oh * Wo;
                        const ag_real *row = plane + (size_t)(oh * s + i - g->pad) * W;
                        for (int ow = 0; ow < ow0; ow++) d[ow] = 0;
                        if (s == 1)
                            memcpy(d + ow0, row + ow0 + dj, sizeof *d * (size_t)(ow1 - ow0));
                        else
                            for (int ow = ow0; ow < ow1; ow++) d[ow] = row[ow * s + dj];
                        for (int ow = ow1; ow < Wo; ow++) d[ow] = 0;
                    }
                    memset(dst + (size_t)oh1 * Wo, 0, sizeof *dst * (size_t)(Ho - oh1) * Wo);
                }
            }
        }
}

size_t ag_col2im_scratch(const ag_conv_geom *g)
{
    return (size_t)omp_get_max_threads() * g->H * g->W;
}

void ag_col2im(const ag_conv_geom *g, int N, const ag_real *col, ag_real *img,
               const ag_real *bias, bool accumulate, ag_real *scratch)
{
    const int C = g->C, H = g->H, W = g->W, kh = g->kh, kw = g->kw, s = g->stride;
    const int Wo = g->Wo, P = g->Ho * Wo;
    const size_t ld = (size_t)N * P, HW = (size_t)H * W;
    const long work = (long)N * C * kh * kw * P;
#pragma omp parallel for collapse(2) schedule(static) if (work > AG_PAR_MIN)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            ag_real *out = img + ((size_t)n * C + c) * HW;
            /* Sum into the plane itself, or into this thread's scratch plane when the sum
             * must reach `out` as a single addition. */
            ag_real *acc = accumulate ? scratch + (size_t)omp_get_thread_num() * HW : out;
            ag_real init = bias && !accumulate ? bias[c] : 0;
            for (size_t k = 0; k < HW; k++) acc[k] = init;
            for (int i = 0; i < kh; i++) {
                int oh0, oh1;
                valid_range(i - g->pad, s, H, g->Ho, &oh0, &oh1);
                for (int j = 0; j < kw; j++) {
                    int ow0, ow1, dj = j - g->pad;
                    valid_range(dj, s, W, Wo, &ow0, &ow1);
                    const ag_real *src = col + ((size_t)(c * kh + i) * kw + j) * ld + (size_t)n * P;
                    for (int oh = oh0; oh < oh1; oh++) {
                        const ag_real *r = src + (size_t)oh * Wo;
                        ag_real *row = acc + (size_t)(oh * s + i - g->pad) * W;
                        for (int ow = ow0; ow < ow1; ow++) row[ow * s + dj] += r[ow];
                    }
                }
            }
            if (accumulate)
                for (size_t k = 0; k < HW; k++) out[k] += acc[k];
        }
}

void ag_swap01(int A, int B, int P, const ag_real *src, ag_real *dst, const ag_real *bias,
               bool accumulate)
{
    const long work = (long)A * B * P;
#pragma omp parallel for collapse(2) schedule(static) if (work > AG_PAR_MIN)
    for (int a = 0; a < A; a++)
        for (int b = 0; b < B; b++) {
            const ag_real *x = src + ((size_t)a * B + b) * P;
            ag_real *y = dst + ((size_t)b * A + a) * P;
            if (accumulate)
                for (int p = 0; p < P; p++) y[p] += x[p];
            else if (bias)
                for (int p = 0; p < P; p++) y[p] = x[p] + bias[a];
            else
                memcpy(y, x, sizeof *y * (size_t)P);
        }
}

void ag_channel_sum(int N, int C, int P, const ag_real *x, ag_real *sum)
{
    const long work = (long)N * C * P;
#pragma omp parallel for schedule(static) if (work > AG_PAR_MIN)
    for (int c = 0; c < C; c++) {
        double total = 0;   /* N·P terms: a double keeps float's rounding out of the bias */
        for (int n = 0; n < N; n++) {
            const ag_real *v = x + ((size_t)n * C + c) * P;
            ag_real part = 0;
#pragma omp simd reduction(+ : part)  /* lanes of partial sums: a fixed order, vectorised */
            for (int p = 0; p < P; p++) part += v[p];
            total += part;
        }
        sum[c] += (ag_real)total;
    }
}
