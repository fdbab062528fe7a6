/* vecmath.h — dispatched SIMD loops for the elementwise math that dominates a step after
 * the GEMM (not public API).  Each has an *_avx512 and an *_avx2 version (vecmath_avx512.c,
 * vecmath_avx2.c, compiled with their target flags); callers go through the ag_vec_*
 * wrappers, which pick by ag_kernel_isa() and fall back to the plain C loop they are given.
 *
 * The vector exp and log1p are our own polynomials (vecmath_kernel.h states their error
 * bounds; tests/autograd/test_loss.c checks them), so results differ from the scalar loop
 * in the last bits.  Float only; the double build keeps the scalar loops. */
#ifndef HENBUN_AUTOGRAD_VECMATH_H
#define HENBUN_AUTOGRAD_VECMATH_H

#include "autograd/kernels.h"

#include <stdbool.h>

#if defined(AG_HAVE_X86_KERNELS) && !defined(AG_DOUBLE)
#define AG_HAVE_VECMATH 1
/* out[i] = max(l,0) - l·y + log1p(e^-|l|)     (BCE with logits, forward) */
void ag_bce_fwd_avx512(long n, const float *l, const float *y, float *out);
void ag_bce_fwd_avx2(long n, const float *l, const float *y, float *out);
/* dl[i] += dout[i]·(σ(l) - y)  (dl may be NULL);  dy[i] -= dout[i]·l  (dy may be NULL) */
void ag_bce_bwd_avx512(long n, const float *l, const float *y, const float *dout, float *dl, float *dy);
void ag_bce_bwd_avx2(long n, const float *l, const float *y, const float *dout, float *dl, float *dy);
/* Σ_i [max(l,0) - l·y + log1p(e^-|l|)], added in double   (BCE summed over a row) */
double ag_bce_sum_avx512(long n, const float *l, const float *y);
double ag_bce_sum_avx2(long n, const float *l, const float *y);
/* The backward of that sum, whose gradient g is one value for the n elements:
 * dl[i] += g·(σ(l) - y) (dl may be NULL; dl_fresh: dl is not yet written, store 0 + that
 * instead of reading it);  dy[i] -= g·l (dy may be NULL) */
void ag_bce_sum_bwd_avx512(long n, const float *l, const float *y, float g, float *dl,
                           bool dl_fresh, float *dy);
void ag_bce_sum_bwd_avx2(long n, const float *l, const float *y, float g, float *dl,
                         bool dl_fresh, float *dy);
/* One Adam/AdamW update of n parameters (nn/optim.c states the formula and its scalar
 * loop; these give the same bits).  With sumsq != NULL, also *sumsq = Σ g² in double. */
typedef struct ag_adam_hyper {
    float c, l2, b1, b2, step, inv_sqrt_bc2, eps, decay;
} ag_adam_hyper;
void ag_adam_update_avx512(long n, float *w, const float *g, float *m, float *v,
                           const ag_adam_hyper *h, double *sumsq);
void ag_adam_update_avx2(long n, float *w, const float *g, float *m, float *v,
                         const ag_adam_hyper *h, double *sumsq);
/* For the tests: e^x for x <= 0 and log1p(t) for 0 <= t <= 1, on whole vectors only
 * (n a multiple of 16). */
void ag_vec_exp_neg_avx512(long n, const float *x, float *out);
void ag_vec_exp_neg_avx2(long n, const float *x, float *out);
void ag_vec_log1p_01_avx512(long n, const float *x, float *out);
void ag_vec_log1p_01_avx2(long n, const float *x, float *out);
#endif

#endif
