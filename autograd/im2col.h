/* im2col.h — the data-movement kernels under convolution (not public API).
 *
 * A convolution is a GEMM once every k×k window of the input is copied out as a column:
 * im2col builds that matrix, col2im is its adjoint (it adds each column entry back onto
 * the pixel it came from).  ops_conv.c uses them for conv2d (im2col forward, col2im in
 * backward) and for conv_transpose2d (the other way round).
 *
 * The batch is folded into the column index: the column matrix of N images has shape
 * (C·kh·kw, N·Ho·Wo), column n·Ho·Wo + oh·Wo + ow holding window (oh, ow) of image n, so
 * one GEMM covers the whole batch.  Moving between the image layout (N, C, P) and the
 * GEMM layout (C, N, P) is ag_swap01. */
#ifndef HENBUN_AUTOGRAD_IM2COL_H
#define HENBUN_AUTOGRAD_IM2COL_H

#include "autograd/autograd.h"

/* An image (C, H, W) seen through kh×kw windows at `stride` with `pad` zeros around it,
 * giving a grid of Ho×Wo window positions: window (oh, ow) covers rows oh·stride - pad
 * + [0, kh) and columns ow·stride - pad + [0, kw). */
typedef struct ag_conv_geom {
    int C, H, W;
    int kh, kw, stride, pad;
    int Ho, Wo;
} ag_conv_geom;

/* Bytes of scratch ag_im2col and ag_col2im need for geometry g (one padded plane per
 * OpenMP thread, and a table of window offsets); allocate it outside the call. */
size_t ag_conv_scratch_bytes(const ag_conv_geom *g);

/* col (C·kh·kw, N·Ho·Wo) := the windows of img (N, C, H, W); padding reads as 0.
 * Row (c·kh + i)·kw + j, column n·Ho·Wo + oh·Wo + ow holds img[n][c][oh·s-p+i][ow·s-p+j]. */
void ag_im2col(const ag_conv_geom *g, int N, const ag_real *img, ag_real *col, void *scratch);

/* The adjoint of ag_im2col: every entry of col is added to the pixel it was read from
 * (entries that fell on padding are dropped).  The sum is formed first, then
 *   accumulate == false: img := bias[c] + Σ   (bias may be NULL: img := Σ)
 *   accumulate == true:  img += Σ, one addition per pixel, so calling it twice adds
 *                        exactly the same value twice.
 * Each (image, channel) plane is summed by one thread in a fixed order, so the result
 * does not depend on the thread count. */
void ag_col2im(const ag_conv_geom *g, int N, const ag_real *col, ag_real *img,
               const ag_real *bias, bool accumulate, void *scratch);

/* dst (B, A, P) := src (A, B, P) with the first two axes swapped (+ bias[a] if bias is not
 * NULL), or dst += src swapped when accumulate is true. */
void ag_swap01(int A, int B, int P, const ag_real *src, ag_real *dst, const ag_real *bias,
               bool accumulate);

/* sum[c] += Σ_n Σ_p x[n][c][p] for x (N, C, P): the bias gradient.  Each channel is summed
 * in one fixed order into a local and added once. */
void ag_channel_sum(int N, int C, int P, const ag_real *x, ag_real *sum);

#endif
