/* test_conv.c — conv2d, conv_transpose2d, max_pool2d and avg_pool2d: forward against naive
 * loops in double, conv_transpose2d as the adjoint of conv2d, gradients against central
 * differences (ag_gradcheck), bit-identical results for 1 and 2 threads, shape errors. */
#include "tests/test.h"
#include "autograd/autograd.h"
#include "autograd/im2col.h"

#include <stdlib.h>
#include <string.h>

/* Forward results vs double loops: a few ulps of the accumulated magnitude. */
#define FWD_TOL (sizeof(ag_real) == 8 ? 1e-12 : 2e-5)

static ag_tensor *rand_tensor(ag_rng *r, int ndim, const int *shape, bool grad)
{
    ag_tensor *x = ag_tensor_new(ndim, shape, grad);
    ag_fill_uniform(r, x, -1, 1);
    return x;
}

/* x[n][c][h][w] of a 4-D tensor, in double. */
static double at(const ag_tensor *x, int n, int c, int h, int w)
{
    const int *s = x->shape;
    return (double)x->data[(((size_t)n * s[1] + c) * s[2] + h) * s[3] + w];
}

/* max |a - b| / max(1, max |b|) over two equally long arrays */
static double rel_diff(const ag_real *a, const double *b, size_t n)
{
    double worst = 0, scale = 1;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - b[i]));
    return worst / scale;
}

/* ---- naive references ------------------------------------------------------------------- */

/* y[n][f][oh][ow] = b[f] + Σ_c,i,j x[n][c][oh·s-p+i][ow·s-p+j] · w[f][c][i][j] */
static double *naive_conv2d(const ag_tensor *x, const ag_tensor *w, const ag_tensor *b, int s,
                            int p, int *Ho, int *Wo)
{
    int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int F = w->shape[0], kh = w->shape[2], kw = w->shape[3];
    *Ho = (H + 2 * p - kh) / s + 1;
    *Wo = (W + 2 * p - kw) / s + 1;
    double *y = calloc((size_t)N * F * *Ho * *Wo, sizeof *y);
    for (int n = 0; n < N; n++)
        for (int f = 0; f < F; f++)
            for (int oh = 0; oh < *Ho; oh++)
                for (int ow = 0; ow < *Wo; ow++) {
                    double sum = b ? (double)b->data[f] : 0;
                    for (int c = 0; c < C; c++)
                        for (int i = 0; i < kh; i++)
                            for (int j = 0; j < kw; j++) {
                                int ih = oh * s - p + i, iw = ow * s - p + j;
                                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                    sum += at(x, n, c, ih, iw) * at(w, f, c, i, j);
                            }
                    y[(((size_t)n * F + f) * *Ho + oh) * *Wo + ow] = sum;
                }
    return y;
}

/* The definition of the transposed convolution: each input pixel scatters its value times
 * the kernel into the output, at stride s, shifted by -p; what lands outside is dropped. */
static double *naive_convt(const ag_tensor *x, const ag_tensor *w, const ag_tensor *b, int s,
                           int p, int op, int *Ho, int *Wo)
{
    int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    int F = w->shape[1], kh = w->shape[2], kw = w->shape[3];
    *Ho = (H - 1) * s - 2 * p + kh + op;
    *Wo = (W - 1) * s - 2 * p + kw + op;
    size_t P = (size_t)*Ho * *Wo;
    double *y = calloc((size_t)N * F * P, sizeof *y);
    for (int n = 0; n < N; n++)
        for (int f = 0; f < F; f++)
            for (size_t q = 0; q < P; q++) y[((size_t)n * F + f) * P + q] = b ? (double)b->data[f] : 0;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int ih = 0; ih < H; ih++)
                for (int iw = 0; iw < W; iw++)
                    for (int f = 0; f < F; f++)
                        for (int i = 0; i < kh; i++)
                            for (int j = 0; j < kw; j++) {
                                int oh = ih * s - p + i, ow = iw * s - p + j;
                                if (oh >= 0 && oh < *Ho && ow >= 0 && ow < *Wo)
                                    y[((size_t)n * F + f) * P + (size_t)oh * *Wo + ow] +=
                                        at(x, n, c, ih, iw) * at(w, c, f, i, j);
                            }
    return y;
}

/* max (is_max) or mean with zero padding counted (count_include_pad) over k×k windows */
static double *naive_pool(const ag_tensor *x, int k, int s, int p, bool is_max, int *Ho, int *Wo)
{
    int N = x->shape[0], C = x->shape[1], H = x->shape[2], W = x->shape[3];
    *Ho = (H + 2 * p - k) / s + 1;
    *Wo = (W + 2 * p - k) / s + 1;
    double *y = calloc((size_t)N * C * *Ho * *Wo, sizeof *y);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int oh = 0; oh < *Ho; oh++)
                for (int ow = 0; ow < *Wo; ow++) {
                    double acc = is_max ? -INFINITY : 0;
                    for (int i = 0; i < k; i++)
                        for (int j = 0; j < k; j++) {
                            int ih = oh * s - p + i, iw = ow * s - p + j;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            double v = at(x, n, c, ih, iw);
                            acc = is_max ? fmax(acc, v) : acc + v;
                        }
                    y[(((size_t)n * C + c) * *Ho + oh) * *Wo + ow] = is_max ? acc : acc / (k * k);
                }
    return y;
}

/* ---- forward ------------------------------------------------------------------------------ */

typedef struct { int N, C, H, W, F, kh, kw, stride, pad; } conv_cfg;

static const conv_cfg configs[] = {
    {2, 3, 7, 7, 4, 3, 3, 1, 1},   /* "same" 3×3 */
    {2, 3, 7, 7, 4, 3, 3, 2, 0},
    {1, 2, 8, 6, 3, 4, 4, 2, 1},   /* DCGAN-style k4 s2 p1 */
    {2, 1, 5, 9, 2, 2, 3, 1, 2},   /* non-square kernel, pad > k/2 */
    {3, 2, 9, 7, 5, 3, 1, 3, 1},   /* stride 3, 1-wide kernel */
    {1, 4, 6, 6, 2, 1, 1, 1, 0},   /* 1×1 conv is a per-pixel linear map */
};

TEST(conv2d_forward_matches_naive_loops)
{
    ag_rng r;
    ag_rng_seed(&r, 11);
    for (size_t t = 0; t < sizeof configs / sizeof *configs; t++) {
        const conv_cfg *c = &configs[t];
        ag_tensor *x = rand_tensor(&r, 4, (int[]){c->N, c->C, c->H, c->W}, false);
        ag_tensor *w = rand_tensor(&r, 4, (int[]){c->F, c->C, c->kh, c->kw}, false);
        ag_tensor *b = rand_tensor(&r, 1, (int[]){c->F}, false);
        ag_tape *tp = ag_tape_new(1);
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            int Ho, Wo;
            double *ref = naive_conv2d(x, w, with_bias ? b : NULL, c->stride, c->pad, &Ho, &Wo);
            ag_tensor *y = ag_conv2d(tp, x, w, with_bias ? b : NULL, c->stride, c->pad);
            CHECK(y->ndim == 4 && y->shape[0] == c->N && y->shape[1] == c->F &&
                  y->shape[2] == Ho && y->shape[3] == Wo);
            CHECK_NEAR(rel_diff(y->data, ref, y->size), 0, FWD_TOL);
            free(ref);
        }
        ag_tape_free(tp);
        ag_tensor_free(x), ag_tensor_free(w), ag_tensor_free(b);
    }
}

TEST(conv_transpose2d_forward_matches_definition)
{
    static const struct { int N, C, H, W, F, kh, kw, stride, pad, op; } cfgs[] = {
        {2, 3, 4, 4, 2, 4, 4, 2, 1, 0},   /* DCGAN generator block: 4 → 8 */
        {2, 3, 5, 3, 4, 3, 3, 2, 1, 1},   /* output_padding */
        {1, 2, 3, 4, 3, 2, 3, 1, 0, 0},   /* non-square, stride 1 */
        {2, 2, 3, 3, 2, 3, 3, 3, 2, 2},   /* stride 3, pad 2: the border is cropped */
    };
    ag_rng r;
    ag_rng_seed(&r, 12);
    for (size_t t = 0; t < sizeof cfgs / sizeof *cfgs; t++) {
        ag_tensor *x = rand_tensor(&r, 4, (int[]){cfgs[t].N, cfgs[t].C, cfgs[t].H, cfgs[t].W}, false);
        ag_tensor *w = rand_tensor(&r, 4, (int[]){cfgs[t].C, cfgs[t].F, cfgs[t].kh, cfgs[t].kw}, false);
        ag_tensor *b = rand_tensor(&r, 1, (int[]){cfgs[t].F}, false);
        ag_tape *tp = ag_tape_new(1);
        int Ho, Wo;
        double *ref = naive_convt(x, w, b, cfgs[t].stride, cfgs[t].pad, cfgs[t].op, &Ho, &Wo);
        ag_tensor *y = ag_conv_transpose2d(tp, x, w, b, cfgs[t].stride, cfgs[t].pad, cfgs[t].op);
        CHECK(y->shape[0] == cfgs[t].N && y->shape[1] == cfgs[t].F && y->shape[2] == Ho &&
              y->shape[3] == Wo);
        CHECK_NEAR(rel_diff(y->data, ref, y->size), 0, FWD_TOL);
        free(ref);
        ag_tape_free(tp);
        ag_tensor_free(x), ag_tensor_free(w), ag_tensor_free(b);
    }
}

/* <conv2d(x; w), y> = <x, conv_transpose2d(y; w)>: the transposed convolution is the adjoint
 * of the convolution with the same weights (the output_padding restores x's size). */
TEST(conv_transpose2d_is_adjoint_of_conv2d)
{
    ag_rng r;
    ag_rng_seed(&r, 13);
    for (size_t t = 0; t < sizeof configs / sizeof *configs; t++) {
        const conv_cfg *c = &configs[t];
        ag_tensor *x = rand_tensor(&r, 4, (int[]){c->N, c->C, c->H, c->W}, false);
        ag_tensor *w = rand_tensor(&r, 4, (int[]){c->F, c->C, c->kh, c->kw}, false);
        ag_tape *tp = ag_tape_new(1);
        ag_tensor *cx = ag_conv2d(tp, x, w, NULL, c->stride, c->pad);
        ag_tensor *y = ag_randn(tp, 4, cx->shape, 1);
        /* the rows conv2d's stride skipped at the end; the configs have as many for columns */
        int oph = (c->H + 2 * c->pad - c->kh) % c->stride;
        CHECK(oph == (c->W + 2 * c->pad - c->kw) % c->stride);
        ag_tensor *ty = ag_conv_transpose2d(tp, y, w, NULL, c->stride, c->pad, oph);
        CHECK(ag_same_shape(ty, x));
        double lhs = 0, rhs = 0, scale = 0;
        for (size_t i = 0; i < cx->size; i++) lhs += (double)cx->data[i] * y->data[i];
        for (size_t i = 0; i < x->size; i++) rhs += (double)x->data[i] * ty->data[i];
        for (size_t i = 0; i < x->size; i++) scale += fabs((double)x->data[i] * ty->data[i]);
        CHECK_NEAR(lhs, rhs, FWD_TOL * (1 + scale));
        ag_tape_free(tp);
        ag_tensor_free(x), ag_tensor_free(w);
    }
}

TEST(pool_forward_matches_naive_loops)
{
    static const struct { int H, W, k, stride, pad; } cfgs[] = {
        {7, 7, 2, 2, 0}, {7, 7, 3, 2, 1}, {6, 5, 3, 1, 1}, {8, 8, 4, 4, 2}, {5, 7, 1, 2, 0},
    };
    ag_rng r;
    ag_rng_seed(&r, 14);
    for (size_t t = 0; t < sizeof cfgs / sizeof *cfgs; t++) {
        ag_tensor *x = rand_tensor(&r, 4, (int[]){2, 3, cfgs[t].H, cfgs[t].W}, false);
        ag_tape *tp = ag_tape_new(1);
        for (int is_max = 0; is_max < 2; is_max++) {
            int Ho, Wo;
            double *ref = naive_pool(x, cfgs[t].k, cfgs[t].stride, cfgs[t].pad, is_max, &Ho, &Wo);
            ag_tensor *y = is_max ? ag_max_pool2d(tp, x, cfgs[t].k, cfgs[t].stride, cfgs[t].pad)
                                  : ag_avg_pool2d(tp, x, cfgs[t].k, cfgs[t].stride, cfgs[t].pad);
            CHECK(y->shape[0] == 2 && y->shape[1] == 3 && y->shape[2] == Ho && y->shape[3] == Wo);
            CHECK_NEAR(rel_diff(y->data, ref, y->size), 0, FWD_TOL);
            free(ref);
        }
        ag_tape_free(tp);
        ag_tensor_free(x);
    }
}

/* All inputs negative: a padded window must still return its largest real pixel, not 0. */
TEST(max_pool2d_padding_never_wins)
{
    ag_tape *tp = ag_tape_new(1);
    ag_tensor *x = ag_full(tp, 4, (int[]){1, 1, 3, 3}, -5);
    x->data[0] = -2;                                     /* corner pixel */
    ag_tensor *y = ag_max_pool2d(tp, x, 2, 2, 1);        /* windows hang over the border */
    CHECK(y->shape[2] == 2 && y->shape[3] == 2);
    CHECK(y->data[0] == -2 && y->data[1] == -5 && y->data[3] == -5);
    ag_tape_free(tp);
}

/* Ties: the whole gradient goes to the first maximum in row-major order. */
TEST(max_pool2d_gradient_goes_to_first_max)
{
    ag_tensor *x = ag_tensor_new(4, (int[]){1, 1, 2, 2}, true);
    ag_fill(x, 3);
    ag_tape *tp = ag_tape_new(1);
    ag_tensor *y = ag_max_pool2d(tp, x, 2, 2, 0);
    ag_backward_seed(tp, y, ag_ones(tp, 4, y->shape));
    CHECK(x->grad[0] == 1 && x->grad[1] == 0 && x->grad[2] == 0 && x->grad[3] == 0);
    ag_tape_free(tp);
    ag_tensor_free(x);
}

/* ---- gradients ---------------------------------------------------------------------------- */

typedef struct { int stride, pad, output_padding, k; } op_ctx;

static ag_tensor *f_conv(ag_tape *t, ag_tensor **in, void *ctx)
{
    const op_ctx *c = ctx;
    return ag_conv2d(t, in[0], in[1], in[2], c->stride, c->pad);
}
static ag_tensor *f_conv_nobias(ag_tape *t, ag_tensor **in, void *ctx)
{
    const op_ctx *c = ctx;
    return ag_conv2d(t, in[0], in[1], NULL, c->stride, c->pad);
}
static ag_tensor *f_convt(ag_tape *t, ag_tensor **in, void *ctx)
{
    const op_ctx *c = ctx;
    return ag_conv_transpose2d(t, in[0], in[1], in[2], c->stride, c->pad, c->output_padding);
}
static ag_tensor *f_maxpool(ag_tape *t, ag_tensor **in, void *ctx)
{
    const op_ctx *c = ctx;
    return ag_max_pool2d(t, in[0], c->k, c->stride, c->pad);
}
static ag_tensor *f_avgpool(ag_tape *t, ag_tensor **in, void *ctx)
{
    const op_ctx *c = ctx;
    return ag_avg_pool2d(t, in[0], c->k, c->stride, c->pad);
}

static void expect_gradcheck(const char *label, ag_fn f, ag_tensor **in, int n, op_ctx ctx)
{
    ag_gradcheck_report rep = ag_gradcheck(f, in, n, &ctx, NULL);
    if (!rep.ok) ag_gradcheck_print(label, &rep, stderr);
    CHECK(rep.ok);
    CHECK(rep.accumulates);
}

TEST(conv2d_gradcheck)
{
    static const struct { int C, H, W, F, kh, kw, stride, pad; } cfgs[] = {
        {3, 7, 7, 2, 3, 3, 1, 1}, {3, 7, 7, 2, 3, 3, 2, 0}, {2, 6, 7, 3, 4, 4, 2, 1},
        {2, 5, 6, 2, 2, 3, 1, 2}, {2, 7, 5, 2, 3, 2, 3, 1},
    };
    ag_rng r;
    ag_rng_seed(&r, 21);
    for (size_t t = 0; t < sizeof cfgs / sizeof *cfgs; t++) {
        ag_tensor *in[3] = {
            rand_tensor(&r, 4, (int[]){2, cfgs[t].C, cfgs[t].H, cfgs[t].W}, true),
            rand_tensor(&r, 4, (int[]){cfgs[t].F, cfgs[t].C, cfgs[t].kh, cfgs[t].kw}, true),
            rand_tensor(&r, 1, (int[]){cfgs[t].F}, true)};
        op_ctx ctx = {.stride = cfgs[t].stride, .pad = cfgs[t].pad};
        expect_gradcheck("conv2d x, w, b", f_conv, in, 3, ctx);
        expect_gradcheck("conv2d x, w (no bias)", f_conv_nobias, in, 2, ctx);
        if (t == 0) {   /* backward with only some inputs needing gradients */
            in[0]->requires_grad = false;
            expect_gradcheck("conv2d w, b only", f_conv, in, 3, ctx);
            in[0]->requires_grad = true;
            in[1]->requires_grad = in[2]->requires_grad = false;
            expect_gradcheck("conv2d x only", f_conv, in, 3, ctx);
            in[1]->requires_grad = in[2]->requires_grad = true;
        }
        for (int i = 0; i < 3; i++) ag_tensor_free(in[i]);
    }
}

TEST(conv_transpose2d_gradcheck)
{
    static const struct { int C, H, W, F, kh, kw, stride, pad, op; } cfgs[] = {
        {3, 4, 4, 2, 4, 4, 2, 1, 0}, {2, 3, 4, 3, 3, 3, 2, 1, 1}, {2, 3, 3, 2, 2, 3, 1, 0, 0},
        {2, 3, 2, 2, 3, 3, 3, 2, 2},
    };
    ag_rng r;
    ag_rng_seed(&r, 22);
    for (size_t t = 0; t < sizeof cfgs / sizeof *cfgs; t++) {
        ag_tensor *in[3] = {
            rand_tensor(&r, 4, (int[]){2, cfgs[t].C, cfgs[t].H, cfgs[t].W}, true),
            rand_tensor(&r, 4, (int[]){cfgs[t].C, cfgs[t].F, cfgs[t].kh, cfgs[t].kw}, true),
            rand_tensor(&r, 1, (int[]){cfgs[t].F}, true)};
        op_ctx ctx = {.stride = cfgs[t].stride, .pad = cfgs[t].pad, .output_padding = cfgs[t].op};
        expect_gradcheck("conv_transpose2d x, w, b", f_convt, in, 3, ctx);
        if (t == 0) {
            in[0]->requires_grad = false;
            expect_gradcheck("conv_transpose2d w, b only", f_convt, in, 3, ctx);
            in[0]->requires_grad = true;
            in[1]->requires_grad = false;
            expect_gradcheck("conv_transpose2d x, b only", f_convt, in, 3, ctx);
        }
        for (int i = 0; i < 3; i++) ag_tensor_free(in[i]);
    }
}

/* Distinct values 0.05 apart in shuffled order: no ties, and the finite-difference step
 * (1e-2 in float) never changes which pixel wins a window. */
static ag_tensor *tie_free_tensor(ag_rng *r, int ndim, const int *shape)
{
    ag_tensor *x = ag_tensor_new(ndim, shape, true);
    for (size_t i = 0; i < x->size; i++) x->data[i] = (ag_real)(0.05 * ((double)i - x->size / 2.0));
    for (size_t i = x->size - 1; i > 0; i--) {   /* Fisher–Yates */
        size_t j = ag_rng_below(r, (uint32_t)(i + 1));
        ag_real v = x->data[i];
        x->data[i] = x->data[j], x->data[j] = v;
    }
    return x;
}

TEST(pool_gradcheck)
{
    static const op_ctx cfgs[] = {
        {.k = 2, .stride = 2, .pad = 0}, {.k = 3, .stride = 2, .pad = 1},
        {.k = 3, .stride = 1, .pad = 1}, {.k = 4, .stride = 3, .pad = 2},
    };
    ag_rng r;
    ag_rng_seed(&r, 23);
    for (size_t t = 0; t < sizeof cfgs / sizeof *cfgs; t++) {
        ag_tensor *x = tie_free_tensor(&r, 4, (int[]){2, 3, 7, 7});
        expect_gradcheck("max_pool2d", f_maxpool, &x, 1, cfgs[t]);
        expect_gradcheck("avg_pool2d", f_avgpool, &x, 1, cfgs[t]);
        ag_tensor_free(x);
    }
}

/* ---- batching --------------------------------------------------------------------------- */

/* Max |a - b| relative to max |b|, both in ag_real. */
static double rel_diff_r(const ag_real *a, const ag_real *b, size_t n)
{
    double worst = 0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)b[i]));
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - (double)b[i]));
    return worst / scale;
}

/* The ops cut a batch into chunks of about 2 MB of GEMM operands (CONV_CHUNK_BYTES in
 * ops_conv.c); the shapes below have over 512k operand values per image, so each image is
 * a chunk of its own.  The batch must give what each image gives alone: the same outputs
 * and dx, and dW, db summed over the images. */
static void check_batch_vs_images(bool transposed, const int *xs, const int *ws, int s, int p,
                                  int op)
{
    ag_rng r;
    ag_rng_seed(&r, 41);
    int N = xs[0];
    ag_tensor *x = rand_tensor(&r, 4, xs, true), *w = rand_tensor(&r, 4, ws, true);
    ag_tensor *b = rand_tensor(&r, 1, (int[]){transposed ? ws[1] : ws[0]}, true);
    ag_tensor *w1 = ag_tensor_new(4, ws, true), *b1 = ag_tensor_new(1, b->shape, true);
    memcpy(w1->data, w->data, w->size * sizeof *w->data);
    memcpy(b1->data, b->data, b->size * sizeof *b->data);
    ag_tape *tp = ag_tape_new(1), *t1 = ag_tape_new(1);
    ag_tensor *y = transposed ? ag_conv_transpose2d(tp, x, w, b, s, p, op)
                              : ag_conv2d(tp, x, w, b, s, p);
    ag_tensor *seed = ag_randn(tp, 4, y->shape, 1);
    ag_backward_seed(tp, y, seed);
    size_t xi = x->size / N, yi = y->size / N;
    int one[4] = {1, xs[1], xs[2], xs[3]};
    for (int i = 0; i < N; i++) {
        ag_tape_clear(t1);
        ag_tensor *x1 = ag_tensor_new(4, one, true);
        memcpy(x1->data, x->data + i * xi, xi * sizeof *x1->data);
        ag_tensor *y1 = transposed ? ag_conv_transpose2d(t1, x1, w1, b1, s, p, op)
                                   : ag_conv2d(t1, x1, w1, b1, s, p);
        ag_backward_seed(t1, y1, ag_from_data(t1, 4, y1->shape, seed->data + i * yi));
        CHECK_NEAR(rel_diff_r(y1->data, y->data + i * yi, yi), 0, FWD_TOL);
        CHECK_NEAR(rel_diff_r(x1->grad, x->grad + i * xi, xi), 0, FWD_TOL);
        ag_tensor_free(x1);
    }
    CHECK_NEAR(rel_diff_r(w1->grad, w->grad, w->size), 0, FWD_TOL);
    CHECK_NEAR(rel_diff_r(b1->grad, b->grad, b->size), 0, FWD_TOL);
    ag_tape_free(tp), ag_tape_free(t1);
    ag_tensor_free(x), ag_tensor_free(w), ag_tensor_free(b), ag_tensor_free(w1), ag_tensor_free(b1);
}

TEST(conv2d_batch_equals_image_by_image)
{
    /* per image: (4·5·5 + 2) × (80·80) = 653k values */
    check_batch_vs_images(false, (int[]){2, 4, 80, 80}, (int[]){2, 4, 5, 5}, 1, 2, 0);
}

/* Forward keeps conv2d's columns for dW up to 16 MB per call (ops_conv.c); this one's
 * are 144 × 9·4096 values, 21 MB, so its backward rebuilds them: the other path, same
 * gradients. */
TEST(conv2d_batch_equals_image_by_image_columns_not_kept)
{
    check_batch_vs_images(false, (int[]){9, 16, 64, 64}, (int[]){4, 16, 3, 3}, 1, 1, 0);
}

TEST(conv_transpose2d_batch_equals_image_by_image)
{
    /* per image: (16·8·8 + 4) × (24·24) = 592k values; 48×48 output */
    check_batch_vs_images(true, (int[]){2, 4, 24, 24}, (int[]){4, 16, 8, 8}, 2, 3, 0);
}

/* ---- col2im ------------------------------------------------------------------------------- */

/* ag_col2im against the definition, bit for bit: every column entry added onto its pixel,
 * taps in (i, j) order, from 0, then written (+ bias) or added, for strides, pads, kernels
 * and sizes of every kind.  Any faster col2im must keep these bits (the programs' results
 * are recorded, tests/programs/identity.sh). */
TEST(col2im_equals_scatter_bit_for_bit)
{
    static const ag_conv_geom geoms[] = {
        /* C  H   W  kh kw s  p  Ho Wo */
        {3, 14, 14, 4, 4, 2, 1, 7, 7},    /* DCGAN convT 7 → 14 */
        {2, 8, 6, 3, 3, 1, 1, 8, 6},      /* stride 1, "same" */
        {2, 9, 7, 3, 1, 3, 1, 3, 3},      /* stride 3, 1-wide kernel */
        {1, 5, 9, 2, 3, 1, 2, 8, 11},     /* pad > k/2 */
        {2, 7, 8, 3, 3, 3, 2, 3, 3},      /* stride 3, pad 2, rows the windows never reach */
        {1, 6, 6, 2, 2, 4, 0, 2, 2},      /* stride > kernel: pixels no window covers */
    };
    ag_rng r;
    ag_rng_seed(&r, 17);
    for (size_t t = 0; t < sizeof geoms / sizeof *geoms; t++) {
        const ag_conv_geom *g = &geoms[t];
        const int N = 2, K = g->C * g->kh * g->kw, P = g->Ho * g->Wo;
        size_t img_size = (size_t)N * g->C * g->H * g->W;
        ag_tensor *col = rand_tensor(&r, 2, (int[]){K, N * P}, false);
        ag_tensor *bias = rand_tensor(&r, 1, (int[]){g->C}, false);
        ag_tensor *start = rand_tensor(&r, 1, (int[]){(int)img_size}, false);
        ag_real *want = calloc(img_size, sizeof *want), *got = malloc(img_size * sizeof *got);
        void *scratch = malloc(ag_conv_scratch_bytes(g));
        for (int acc = 0; acc < 2; acc++) {
            for (int n = 0; n < N; n++)   /* the scatter: sums from 0, taps in (i, j) order */
                for (int c = 0; c < g->C; c++) {
                    ag_real *sum = calloc((size_t)g->H * g->W, sizeof *sum);
                    for (int i = 0; i < g->kh; i++)
                        for (int j = 0; j < g->kw; j++)
                            for (int oh = 0; oh < g->Ho; oh++)
                                for (int ow = 0; ow < g->Wo; ow++) {
                                    int h = oh * g->stride - g->pad + i;
                                    int w = ow * g->stride - g->pad + j;
                                    if (h < 0 || h >= g->H || w < 0 || w >= g->W) continue;
                                    sum[h * g->W + w] += col->data[
                                        (size_t)((c * g->kh + i) * g->kw + j) * N * P +
                                        (size_t)n * P + oh * g->Wo + ow];
                                }
                    ag_real *o = want + ((size_t)n * g->C + c) * g->H * g->W;
                    const ag_real *s0 = start->data + ((size_t)n * g->C + c) * g->H * g->W;
                    for (int k = 0; k < g->H * g->W; k++)
                        o[k] = acc ? s0[k] + sum[k] : sum[k] + bias->data[c];
                    free(sum);
                }
            memcpy(got, start->data, img_size * sizeof *got);
            ag_col2im(g, N, col->data, got, acc ? NULL : bias->data, acc, scratch);
            if (memcmp(got, want, img_size * sizeof *got) != 0)
                test_fail(__FILE__, __LINE__, "geometry %zu (accumulate %d): col2im differs "
                          "from the scatter", t, acc);
        }
        free(scratch), free(want), free(got);
        ag_tensor_free(col), ag_tensor_free(bias), ag_tensor_free(start);
    }
}

/* ---- threads ------------------------------------------------------------------------------ */

/* Forward and gradients of a conv → convT → max pool → avg pool chain large enough for
 * every kernel to split across threads: 1 and 2 threads must agree bit for bit. */
static void run_chain(int threads, ag_tensor **in, ag_real *out)
{
    int prev = ag_num_threads();
    ag_set_num_threads(threads);
    for (int i = 0; i < 5; i++) ag_zero_grad(in[i]);
    ag_tape *tp = ag_tape_new(1);
    ag_tensor *h = ag_conv2d(tp, in[0], in[1], in[2], 2, 1);               /* (4,16,16,16) */
    h = ag_conv_transpose2d(tp, h, in[3], in[4], 2, 1, 0);                /* (4,8,32,32) */
    h = ag_avg_pool2d(tp, ag_max_pool2d(tp, h, 3, 1, 1), 3, 1, 1);
    ag_tensor *seed = ag_randn(tp, 4, h->shape, 1);
    ag_backward_seed(tp, h, seed);
    memcpy(out, h->data, h->size * sizeof *out);
    size_t k = h->size;
    for (int i = 0; i < 5; i++) {
        memcpy(out + k, in[i]->grad, in[i]->size * sizeof *out);
        k += in[i]->size;
    }
    ag_tape_free(tp);
    ag_set_num_threads(prev);
}

TEST(conv_results_do_not_depend_on_thread_count)
{
    ag_rng r;
    ag_rng_seed(&r, 31);
    ag_tensor *in[5] = {rand_tensor(&r, 4, (int[]){4, 8, 32, 32}, true),
                        rand_tensor(&r, 4, (int[]){16, 8, 4, 4}, true),
                        rand_tensor(&r, 1, (int[]){16}, true),
                        rand_tensor(&r, 4, (int[]){16, 8, 4, 4}, true),
                        rand_tensor(&r, 1, (int[]){8}, true)};
    size_t n = 4 * 8 * 32 * 32;
    for (int i = 0; i < 5; i++) n += in[i]->size;
    ag_real *one = malloc(n * sizeof *one), *two = malloc(n * sizeof *two);
    run_chain(1, in, one);
    run_chain(2, in, two);
    CHECK(memcmp(one, two, n * sizeof *one) == 0);
    free(one), free(two);
    for (int i = 0; i < 5; i++) ag_tensor_free(in[i]);
}

/* ---- errors ------------------------------------------------------------------------------- */

TEST(conv_shape_errors)
{
    ag_tape *tp = ag_tape_new(1);
    ag_tensor *x = ag_zeros(tp, 4, (int[]){2, 3, 8, 8});
    ag_tensor *w = ag_zeros(tp, 4, (int[]){4, 1, 3, 3});
    EXPECT_ERROR(ag_conv2d(tp, x, w, NULL, 1, 0));
    CHECK(strstr(test_last_error,
                 "conv2d: input (2, 3, 8, 8) has 3 channels but weight (4, 1, 3, 3) expects 1"));
    ag_tensor *w3 = ag_zeros(tp, 4, (int[]){4, 3, 3, 3});
    EXPECT_ERROR(ag_conv2d(tp, x, w3, ag_zeros(tp, 1, (int[]){3}), 1, 0));   /* bias (3) */
    CHECK(strstr(test_last_error, "bias (3)"));
    EXPECT_ERROR(ag_conv2d(tp, ag_zeros(tp, 3, (int[]){3, 8, 8}), w3, NULL, 1, 0));
    CHECK(strstr(test_last_error, "4-D"));
    EXPECT_ERROR(ag_conv2d(tp, x, ag_zeros(tp, 2, (int[]){4, 27}), NULL, 1, 0));
    EXPECT_ERROR(ag_conv2d(tp, x, w3, NULL, 0, 0));                          /* stride 0 */
    EXPECT_ERROR(ag_conv2d(tp, x, w3, NULL, 1, -1));                         /* pad -1 */
    EXPECT_ERROR(ag_conv2d(tp, ag_zeros(tp, 4, (int[]){2, 3, 2, 8}), w3, NULL, 1, 0));
    CHECK(strstr(test_last_error, "empty"));                                 /* 3 > 2 rows */

    /* an empty batch is not an error: it gives an empty batch */
    ag_tensor *none = ag_conv2d(tp, ag_zeros(tp, 4, (int[]){0, 3, 8, 8}), w3, NULL, 1, 1);
    CHECK(none->shape[0] == 0 && none->shape[1] == 4 && none->shape[2] == 8 && none->size == 0);

    /* conv_transpose2d: w is (C_in, C_out, kh, kw) */
    ag_tensor *wt = ag_zeros(tp, 4, (int[]){3, 5, 4, 4});
    ag_tensor *y = ag_conv_transpose2d(tp, x, wt, NULL, 2, 1, 0);
    CHECK(y->shape[1] == 5 && y->shape[2] == 16 && y->shape[3] == 16);
    EXPECT_ERROR(ag_conv_transpose2d(tp, x, w, NULL, 2, 1, 0));
    CHECK(strstr(test_last_error, "has 3 channels but weight (4, 1, 3, 3) expects 4"));
    EXPECT_ERROR(ag_conv_transpose2d(tp, x, wt, ag_zeros(tp, 1, (int[]){3}), 2, 1, 0));
    EXPECT_ERROR(ag_conv_transpose2d(tp, x, wt, NULL, 2, 1, 2));             /* op >= stride */
    EXPECT_ERROR(ag_conv_transpose2d(tp, ag_zeros(tp, 4, (int[]){1, 3, 1, 1}), wt, NULL, 1, 2, 0));
    CHECK(strstr(test_last_error, "empty"));                                 /* 4 - 4 = 0 */
    ag_tape_free(tp);
}

TEST(pool_shape_errors)
{
    ag_tape *tp = ag_tape_new(1);
    ag_tensor *x = ag_zeros(tp, 4, (int[]){2, 3, 4, 4});
    EXPECT_ERROR(ag_max_pool2d(tp, x, 3, 1, 2));      /* pad > k/2 */
    CHECK(strstr(test_last_error, "max_pool2d"));
    EXPECT_ERROR(ag_avg_pool2d(tp, x, 0, 1, 0));
    CHECK(strstr(test_last_error, "avg_pool2d"));
    EXPECT_ERROR(ag_max_pool2d(tp, x, 2, 0, 0));
    EXPECT_ERROR(ag_avg_pool2d(tp, x, 5, 1, 0));      /* window larger than the input */
    CHECK(strstr(test_last_error, "(2, 3, 4, 4)"));
    EXPECT_ERROR(ag_max_pool2d(tp, ag_zeros(tp, 2, (int[]){4, 4}), 2, 2, 0));
    ag_tape_free(tp);
}
