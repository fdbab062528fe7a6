/* ops_conv.c — 2-D convolution, transposed convolution and pooling over NCHW tensors.
 *
 * Convolutions are GEMMs over windows copied out by im2col (im2col.c):
 *
 *   conv2d            y = W · im2col(x)                     W: (F, C·kh·kw)
 *                     dW = dy · im2col(x)ᵀ,  dx = col2im(Wᵀ · dy),  db = Σ dy
 *   conv_transpose2d  y = col2im(Wᵀ · x)                    W: (C, F·kh·kw)
 *                     dW = x · im2col(dy)ᵀ,  dx = W · im2col(dy),  db = Σ dy
 *
 * conv_transpose2d is exactly the adjoint of conv2d with the same weights (the gradient
 * of conv2d with respect to its input), which is why the two share every kernel.
 *
 * Batch layout.  The GEMMs run over a chunk of images at once, the images folded into
 * the GEMM's column index (column n·P + p, P = pixels per image), not one image at a
 * time: per-image GEMMs are thin (49 columns for a 7×7 output; dW summed over K = 49
 * per image, re-reading and re-writing all of dW 64 times), while a chunk gives the GEMM
 * long, well-blocked operands and lets it sum dW over the chunk inside its K loop.  The
 * price is swapping (N, C, P) ↔ (C, N, P) around the GEMM (ag_swap01), a copy.
 * A chunk holds as many images as fit about 2 MB of GEMM operands (chunk_images), not
 * the whole batch: then what im2col writes is still in cache when the GEMM reads it (and
 * what the GEMM writes when col2im reads it), and memory stays small (the whole batch's
 * columns would be 13 MB for the DCGAN's 64→128 layer, and as much again in backward).
 * Measured on the DCGAN layers (bench/conv_bench.c keeps the per-image form to compare):
 * chunks beat per-image GEMMs by 1.0–1.4× on the two large layers at 1 thread and by
 * about 2× on the 64→128 layer at 2 threads, and beat one whole-batch GEMM by 5–10%; on
 * the two small layers (K = 16) per-image GEMMs are up to 0.6 ms faster at 1 thread,
 * not worth a second code path.
 *
 * Memory: every buffer comes from the tape's arena (nothing is malloc'ed per step), sized
 * for one chunk, except conv2d's columns when its weight needs a gradient: then forward
 * writes each chunk's columns into one buffer for the whole batch and keeps it for
 * dW = dy · colᵀ, so backward does no second im2col, as long as that buffer stays within
 * CONV_KEEP_BYTES (16 MB: the DCGAN's 64→128 layer keeps 12.8 MB per call); above that,
 * backward redoes im2col chunk by chunk.  conv_transpose2d has nothing to keep (its
 * backward's columns are of dy).  When the weight needs no gradient (a GAN's frozen
 * discriminator, nn_params_set_requires_grad) nothing is kept.  Backward may run more
 * than once on the same tape; it never writes anything forward made.
 *
 * Threads: the GEMM threads itself; im2col, col2im, the swaps and the pools split over
 * (image, channel) planes, each written by one thread in a fixed order; the chunking
 * depends on the shapes only; gradients are formed whole (dW summed over chunks in a fixed
 * order) and then added to .grad once.  So results are the same for any thread count and
 * backward adds exactly the same gradient every time it runs. */
#include "autograd/autograd.h"
#include "autograd/im2col.h"
#include "autograd/internal.h"

#include <limits.h>
#include <string.h>

typedef struct {
    ag_conv_geom g; /* conv2d: g is x's side; conv_transpose2d: g is the output's side */
    int N, F;       /* batch; channels on the other side of W */
} conv_attr;

static ag_real *scratch(ag_node *n, size_t count) { return ag_tape_alloc(n->tape, count * sizeof(ag_real)); }

/* dst[i] += src[i]: adds a gradient formed in scratch to .grad in one step. */
static void add_into(ag_real *dst, const ag_real *src, size_t count)
{
    for (size_t i = 0; i < count; i++) dst[i] += src[i];
}

/* Window grid size (in + 2·pad - k) / stride + 1 along one axis, or an error. */
static int grid_size(const char *op, const ag_tensor *x, int in, int k, int stride, int pad)
{
    if (in + 2 * pad < k) {
        char sx[64];
        ag_error(op, "input %s: a window of %d does not fit in %d + 2·%d padded pixels, "
                     "the output would be empty", ag_shape_str(x, sx, sizeof sx), k, in, pad);
    }
    return (in + 2 * pad - k) / stride + 1;
}

/* The GEMM takes int sizes: a column matrix's rows and one image's pixels must fit. */
static void check_gemm_size(const char *op, long long rows, long long pixels)
{
    if (rows > INT_MAX || pixels > INT_MAX)
        ag_error(op, "%lld column rows × %lld pixels per image exceed the GEMM's int sizes",
                 rows, pixels);
}

/* Images per chunk.  The batch is cut into chunks whose GEMM operands (`rows` values per
 * column: the column matrix plus the other side) take about CONV_CHUNK_BYTES, so they are
 * still in cache when the next kernel reads what the previous one wrote, while the GEMM
 * still gets hundreds of columns.  Depends on the shapes only, never on the thread count. */
#ifndef CONV_CHUNK_BYTES
#define CONV_CHUNK_BYTES (2u << 20)
#endif
static int chunk_images(int rows, int P, int N)
{
    size_t per_image = (size_t)rows * P * sizeof(ag_real);
    size_t fit = CONV_CHUNK_BYTES / (per_image ? per_image : 1);
    if (N <= 1 || fit <= 1) return 1;
    if (fit > (size_t)N) fit = (size_t)N;
    int chunks = (int)((N + fit - 1) / fit);
    return (N + chunks - 1) / chunks;   /* even chunks: 64 images as 8 × 8, not 7 × 9 + 1 */
}

static int min_int(int a, int b) { return a < b ? a : b; }

/* conv2d keeps the forward columns for dW up to this many bytes per call (see the top). */
#ifndef CONV_KEEP_BYTES
#define CONV_KEEP_BYTES (16u << 20)
#endif

/* ---- conv2d: y = W · im2col(x) + b ------------------------------------------------------- */

static void conv2d_fwd(ag_node *n)
{
    const conv_attr *a = AG_ATTR(n, conv_attr);
    const ag_conv_geom *g = &a->g;
    const ag_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    int N = a->N, F = a->F, K = g->C * g->kh * g->kw, P = g->Ho * g->Wo;
    size_t in_image = (size_t)g->C * g->H * g->W, out_image = (size_t)F * P;
    int nb = chunk_images(K + F, P, N);
    /* Kept for backward when W needs a gradient (then this node is on the tape): chunk n0's
     * columns at kept + n0·K·P, the layout backward's chunks read. */
    size_t all = (size_t)K * N * P;
    bool keep = w->requires_grad && ag_grad_enabled(n->tape) &&
                all * sizeof(ag_real) <= CONV_KEEP_BYTES;
    ag_real *kept = keep ? scratch(n, all) : NULL;
    ag_real *col = keep ? kept : scratch(n, (size_t)K * nb * P); /* (K, nb·P) per chunk */
    ag_real *yt = scratch(n, (size_t)F * nb * P);              /* (F, nb·P) */
    void *pads = ag_tape_alloc(n->tape, ag_conv_scratch_bytes(g));   /* kernels' scratch */
    n->saved = kept;
    for (int n0 = 0; n0 < N; n0 += nb) {
        int m = min_int(nb, N - n0), cols = m * P;
        if (keep) col = kept + (size_t)n0 * K * P;
        ag_im2col(g, m, x->data + n0 * in_image, col, pads);
        ag_gemm(false, false, F, cols, K, 1, w->data, K, col, cols, 0, yt, cols); /* W·col */
        ag_swap01(F, m, P, yt, n->out->data + n0 * out_image, b ? b->data : NULL, false);
    }
}

/* dW from the columns forward kept, or from columns rebuilt chunk by chunk (see the top
 * of the file); dx through col2im. */
static void conv2d_bwd(ag_node *n)
{
    const conv_attr *a = AG_ATTR(n, conv_attr);
    const ag_conv_geom *g = &a->g;
    const ag_tensor *x = n->in[0], *w = n->in[1];
    int N = a->N, F = a->F, K = g->C * g->kh * g->kw, P = g->Ho * g->Wo;
    size_t in_image = (size_t)g->C * g->H * g->W, out_image = (size_t)F * P;
    const ag_real *dy = n->out->grad;                          /* (N, F, P) */
    ag_real *dx = ag_node_grad(n, 0), *dw = ag_node_grad(n, 1);
    ag_real *db = n->in[2] ? ag_node_grad(n, 2) : NULL;
    if (db) ag_channel_sum(N, F, P, dy, db);                   /* db_f += Σ_n,p dy */
    if (!dx && !dw) return;
    int nb = chunk_images(K + F, P, N);
    const ag_real *kept = n->saved;                            /* (K, N·P) by chunks, or NULL */
    ag_real *col = scratch(n, (size_t)K * nb * P);             /* (K, nb·P) */
    ag_real *dyt = scratch(n, (size_t)F * nb * P);             /* (F, nb·P) */
    ag_real *g_w = dw ? scratch(n, (size_t)F * K) : NULL;      /* (F, K) */
    void *pads = ag_tape_alloc(n->tape, ag_conv_scratch_bytes(g));   /* kernels' scratch */
    for (int n0 = 0; n0 < N; n0 += nb) {
        int m = min_int(nb, N - n0), cols = m * P;
        ag_swap01(m, F, P, dy + n0 * out_image, dyt, NULL, false);
        if (dw) {                                              /* g_w (+)= dy · colᵀ */
            const ag_real *c = kept ? kept + (size_t)n0 * K * P : col;
            if (!kept) ag_im2col(g, m, x->data + n0 * in_image, col, pads);
            ag_gemm(false, true, F, K, cols, 1, dyt, cols, c, cols, n0 ? 1 : 0, g_w, K);
        }
        if (dx) {                                              /* dx += col2im(Wᵀ · dy) */
            ag_gemm(true, false, K, cols, F, 1, w->data, K, dyt, cols, 0, col, cols);
            ag_col2im(g, m, col, dx + n0 * in_image, NULL, true, pads);
        }
    }
    if (dw) add_into(dw, g_w, (size_t)F * K);
}

static const ag_op conv2d_op = {"conv2d", conv2d_fwd, conv2d_bwd};

ag_tensor *ag_conv2d(ag_tape *t, ag_tensor *x, ag_tensor *w, ag_tensor *b, int stride,
                     int pad)
{
    char sx[64], sw[64], sb[64];
    if (x->ndim != 4)
        ag_error("conv2d", "input %s must be 4-D (N, C, H, W)", ag_shape_str(x, sx, sizeof sx));
    if (w->ndim != 4)
        ag_error("conv2d", "weight %s must be 4-D (F, C, kh, kw)", ag_shape_str(w, sw, sizeof sw));
    if (x->shape[1] != w->shape[1])
        ag_error("conv2d", "input %s has %d channels but weight %s expects %d",
                 ag_shape_str(x, sx, sizeof sx), x->shape[1], ag_shape_str(w, sw, sizeof sw),
                 w->shape[1]);
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
        ag_error("conv2d", "bias %s does not match weight %s (expected (%d))",
                 ag_shape_str(b, sb, sizeof sb), ag_shape_str(w, sw, sizeof sw), w->shape[0]);
    if (stride < 1 || pad < 0)
        ag_error("conv2d", "stride %d must be >= 1 and pad %d >= 0", stride, pad);
    conv_attr a = {.N = x->shape[0], .F = w->shape[0]};
    a.g = (ag_conv_geom){.C = x->shape[1], .H = x->shape[2], .W = x->shape[3],
                         .kh = w->shape[2], .kw = w->shape[3], .stride = stride, .pad = pad};
    a.g.Ho = grid_size("conv2d", x, a.g.H, a.g.kh, stride, pad);
    a.g.Wo = grid_size("conv2d", x, a.g.W, a.g.kw, stride, pad);
    check_gemm_size("conv2d", (long long)a.g.C * a.g.kh * a.g.kw, (long long)a.g.Ho * a.g.Wo);
    return ag_apply(t, &conv2d_op, (ag_tensor *[]){x, w, b}, 3, 4,
                    (int[]){a.N, a.F, a.g.Ho, a.g.Wo}, &a, sizeof a);
}

/* ---- conv_transpose2d: y = col2im(Wᵀ · x) + b --------------------------------------------
 * Here the geometry g describes the OUTPUT (F, Ho, Wo) as the image and x's H×W as the
 * window grid: each input pixel scatters one kh×kw patch of W into the output. */

static void convt_fwd(ag_node *n)
{
    const conv_attr *a = AG_ATTR(n, conv_attr);
    const ag_conv_geom *g = &a->g;
    const ag_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    int N = a->N, C = a->F, FK = g->C * g->kh * g->kw, P = g->Ho * g->Wo;
    size_t in_image = (size_t)C * P, out_image = (size_t)g->C * g->H * g->W;
    int nb = chunk_images(FK + C, P, N);
    ag_real *xt = scratch(n, (size_t)C * nb * P);              /* (C, nb·P) */
    ag_real *col = scratch(n, (size_t)FK * nb * P);            /* (F·kh·kw, nb·P) */
    void *pads = ag_tape_alloc(n->tape, ag_conv_scratch_bytes(g));   /* kernels' scratch */
    for (int n0 = 0; n0 < N; n0 += nb) {
        int m = min_int(nb, N - n0), cols = m * P;
        ag_swap01(m, C, P, x->data + n0 * in_image, xt, NULL, false);
        ag_gemm(true, false, FK, cols, C, 1, w->data, FK, xt, cols, 0, col, cols); /* Wᵀ·x */
        ag_col2im(g, m, col, n->out->data + n0 * out_image, b ? b->data : NULL, false, pads);
    }
}

static void convt_bwd(ag_node *n)
{
    const conv_attr *a = AG_ATTR(n, conv_attr);
    const ag_conv_geom *g = &a->g;
    const ag_tensor *x = n->in[0], *w = n->in[1];
    int N = a->N, C = a->F, FK = g->C * g->kh * g->kw, P = g->Ho * g->Wo;
    size_t in_image = (size_t)C * P, out_image = (size_t)g->C * g->H * g->W;
    const ag_real *dy = n->out->grad;                          /* (N, F, Ho', Wo') */
    ag_real *dx = ag_node_grad(n, 0), *dw = ag_node_grad(n, 1);
    ag_real *db = n->in[2] ? ag_node_grad(n, 2) : NULL;
    if (db) ag_channel_sum(N, g->C, g->H * g->W, dy, db);      /* db_f += Σ_n,p dy */
    if (!dx && !dw) return;
    int nb = chunk_images(FK + C, P, N);
    ag_real *xt = scratch(n, (size_t)C * nb * P);              /* (C, nb·P) */
    ag_real *dcol = scratch(n, (size_t)FK * nb * P);           /* (F·kh·kw, nb·P) */
    ag_real *g_w = dw ? scratch(n, (size_t)C * FK) : NULL;     /* (C, F·kh·kw) */
    void *pads = ag_tape_alloc(n->tape, ag_conv_scratch_bytes(g));   /* kernels' scratch */
    for (int n0 = 0; n0 < N; n0 += nb) {
        int m = min_int(nb, N - n0), cols = m * P;
        ag_im2col(g, m, dy + n0 * out_image, dcol, pads);
        if (dw) {                                              /* g_w (+)= x · dcolᵀ */
            ag_swap01(m, C, P, x->data + n0 * in_image, xt, NULL, false);
            ag_gemm(false, true, C, FK, cols, 1, xt, cols, dcol, cols, n0 ? 1 : 0, g_w, FK);
        }
        if (dx) {                                              /* dx += W · dcol */
            ag_gemm(false, false, C, cols, FK, 1, w->data, FK, dcol, cols, 0, xt, cols);
            ag_swap01(C, m, P, xt, dx + n0 * in_image, NULL, true);
        }
    }
    if (dw) add_into(dw, g_w, (size_t)C * FK);
}

static const ag_op convt_op = {"conv_transpose2d", convt_fwd, convt_bwd};

ag_tensor *ag_conv_transpose2d(ag_tape *t, ag_tensor *x, ag_tensor *w, ag_tensor *b,
                               int stride, int pad, int output_padding)
{
    const char *op = "conv_transpose2d";
    char sx[64], sw[64], sb[64];
    if (x->ndim != 4)
        ag_error(op, "input %s must be 4-D (N, C, H, W)", ag_shape_str(x, sx, sizeof sx));
    if (w->ndim != 4)
        ag_error(op, "weight %s must be 4-D (C, F, kh, kw)", ag_shape_str(w, sw, sizeof sw));
    if (x->shape[1] != w->shape[0])
        ag_error(op, "input %s has %d channels but weight %s expects %d",
                 ag_shape_str(x, sx, sizeof sx), x->shape[1], ag_shape_str(w, sw, sizeof sw),
                 w->shape[0]);
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[1]))
        ag_error(op, "bias %s does not match weight %s (expected (%d))",
                 ag_shape_str(b, sb, sizeof sb), ag_shape_str(w, sw, sizeof sw), w->shape[1]);
    if (stride < 1 || pad < 0 || output_padding < 0 || output_padding >= stride)
        ag_error(op, "need stride >= 1, pad >= 0 and 0 <= output_padding < stride; got "
                     "stride %d, pad %d, output_padding %d", stride, pad, output_padding);
    int H = x->shape[2], W = x->shape[3], kh = w->shape[2], kw = w->shape[3];
    int Ho = (H - 1) * stride - 2 * pad + kh + output_padding;    /* conv2d's size, inverted */
    int Wo = (W - 1) * stride - 2 * pad + kw + output_padding;
    if (Ho < 1 || Wo < 1)
        ag_error(op, "input %s with weight %s, stride %d, pad %d gives an empty output "
                     "(%d × %d)", ag_shape_str(x, sx, sizeof sx), ag_shape_str(w, sw, sizeof sw),
                 stride, pad, Ho, Wo);
    conv_attr a = {.N = x->shape[0], .F = x->shape[1]};
    /* Seen from the output, x's pixels are the window grid: conv2d of an Ho×Wo image gives
     * back exactly H×W positions because output_padding < stride. */
    a.g = (ag_conv_geom){.C = w->shape[1], .H = Ho, .W = Wo, .kh = kh, .kw = kw,
                         .stride = stride, .pad = pad, .Ho = H, .Wo = W};
    check_gemm_size(op, (long long)a.g.C * kh * kw, (long long)H * W);
    return ag_apply(t, &convt_op, (ag_tensor *[]){x, w, b}, 3, 4,
                    (int[]){a.N, a.g.C, Ho, Wo}, &a, sizeof a);
}

/* ---- pooling ------------------------------------------------------------------------------
 * Windows of k×k at `stride` over an input padded by `pad` on each side.  Average
 * pooling's backward is a gather (each input pixel sums the windows that cover it), so no
 * two threads touch the same pixel; max pooling scatters through its saved argmax. */

typedef struct {
    int N, C, H, W, k, stride, pad, Ho, Wo;
} pool_attr;

/* Clipped window of output position o along one axis: input rows [*lo, *hi). */
static void window(int o, const pool_attr *a, int in, int *lo, int *hi)
{
    int start = o * a->stride - a->pad, end = start + a->k;
    *lo = start < 0 ? 0 : start;
    *hi = end > in ? in : end;
}

/* Output positions whose window covers input position i along one axis: [*lo, *hi). */
static void covering(int i, const pool_attr *a, int out, int *lo, int *hi)
{
    int first = i + a->pad - a->k + 1;                  /* o·stride >= first */
    *lo = first <= 0 ? 0 : (first + a->stride - 1) / a->stride;
    *hi = (i + a->pad) / a->stride + 1;                 /* o·stride <= i + pad */
    if (*hi > out) *hi = out;
}

/* max_pool2d: y = max over the window's real pixels (padding never wins); the index of
 * the first maximum in row-major order is saved, and backward routes dy there.  A NaN in
 * a window wins (and propagates), so NaNs are not silently dropped. */
static void maxpool_fwd(ag_node *n)
{
    const pool_attr *a = AG_ATTR(n, pool_attr);
    const ag_real *x = n->in[0]->data;
    ag_real *y = n->out->data;
    size_t HW = (size_t)a->H * a->W, P = (size_t)a->Ho * a->Wo;
    int32_t *arg = ag_tape_alloc(n->tape, (size_t)a->N * a->C * P * sizeof *arg);
    long planes = (long)a->N * a->C;
    AG_PARALLEL_FOR(pl, planes, planes * (long)P * a->k * a->k > AG_PAR_MIN, {
        const ag_real *in = x + pl * HW;
        for (int oh = 0; oh < a->Ho; oh++) {
            int h0, h1;
            window(oh, a, a->H, &h0, &h1);
            for (int ow = 0; ow < a->Wo; ow++) {
                int w0, w1, best = -1;
                window(ow, a, a->W, &w0, &w1);
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) {
                        int i = ih * a->W + iw;
                        ag_real v = in[i];
                        if (best < 0 || v > in[best] || (v != v && in[best] == in[best])) best = i;
                    }
                size_t o = pl * P + (size_t)oh * a->Wo + ow;
                y[o] = in[best];  /* pad <= k/2 guarantees a real pixel in every window */
                arg[o] = best;
            }
        }
    });
    n->saved = arg;
}

static void maxpool_bwd(ag_node *n)
{
    const pool_attr *a = AG_ATTR(n, pool_attr);
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    const ag_real *dy = n->out->grad;
    const int32_t *arg = n->saved;
    size_t HW = (size_t)a->H * a->W, P = (size_t)a->Ho * a->Wo;
    long planes = (long)a->N * a->C;
    /* A scatter through the saved argmax: one addition per output, where a gather would
     * visit every window covering every input pixel.  Threads own whole planes, so two
     * threads never add into the same pixel. */
    AG_PARALLEL_FOR(pl, planes, planes * (long)P > AG_PAR_MIN, {
        ag_real *d = dx + pl * HW;
        const ag_real *g = dy + pl * P;
        const int32_t *w = arg + pl * P;
        for (size_t o = 0; o < P; o++) d[w[o]] += g[o];
    });
}

/* avg_pool2d with PyTorch's default count_include_pad=True: every window divides by k·k,
 * padding counting as zeros, also where the window hangs over the border. */
static void avgpool_fwd(ag_node *n)
{
    const pool_attr *a = AG_ATTR(n, pool_attr);
    const ag_real *x = n->in[0]->data;
    ag_real *y = n->out->data;
    size_t HW = (size_t)a->H * a->W, P = (size_t)a->Ho * a->Wo;
    ag_real inv = (ag_real)1 / ((ag_real)a->k * a->k);
    long planes = (long)a->N * a->C;
    AG_PARALLEL_FOR(pl, planes, planes * (long)P * a->k * a->k > AG_PAR_MIN, {
        const ag_real *in = x + pl * HW;
        for (int oh = 0; oh < a->Ho; oh++) {
            int h0, h1;
            window(oh, a, a->H, &h0, &h1);
            for (int ow = 0; ow < a->Wo; ow++) {
                int w0, w1;
                window(ow, a, a->W, &w0, &w1);
                ag_real sum = 0;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) sum += in[ih * a->W + iw];
                y[pl * P + (size_t)oh * a->Wo + ow] = sum * inv;   /* Σ x / k² */
            }
        }
    });
}

static void avgpool_bwd(ag_node *n)
{
    const pool_attr *a = AG_ATTR(n, pool_attr);
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    const ag_real *dy = n->out->grad;
    size_t HW = (size_t)a->H * a->W, P = (size_t)a->Ho * a->Wo;
    ag_real inv = (ag_real)1 / ((ag_real)a->k * a->k);
    long planes = (long)a->N * a->C;
    AG_PARALLEL_FOR(pl, planes, planes * (long)HW > AG_PAR_MIN, {
        for (int ih = 0; ih < a->H; ih++) {
            int oh0, oh1;
            covering(ih, a, a->Ho, &oh0, &oh1);
            for (int iw = 0; iw < a->W; iw++) {
                int ow0, ow1;
                covering(iw, a, a->Wo, &ow0, &ow1);
                ag_real sum = 0;
                for (int oh = oh0; oh < oh1; oh++)
                    for (int ow = ow0; ow < ow1; ow++) sum += dy[pl * P + (size_t)oh * a->Wo + ow];
                dx[pl * HW + (size_t)ih * a->W + iw] += sum * inv;   /* Σ dy / k² */
            }
        }
    });
}

static const ag_op maxpool_op = {"max_pool2d", maxpool_fwd, maxpool_bwd};
static const ag_op avgpool_op = {"avg_pool2d", avgpool_fwd, avgpool_bwd};

static ag_tensor *pool(ag_tape *t, const ag_op *op, ag_tensor *x, int k, int stride, int pad)
{
    char sx[64];
    if (x->ndim != 4)
        ag_error(op->name, "input %s must be 4-D (N, C, H, W)", ag_shape_str(x, sx, sizeof sx));
    /* As in PyTorch: pad <= k/2 keeps a real pixel in every window. */
    if (k < 1 || stride < 1 || pad < 0 || 2 * pad > k)
        ag_error(op->name, "need k >= 1, stride >= 1 and 0 <= pad <= k/2; got k %d, stride %d, "
                           "pad %d", k, stride, pad);
    pool_attr a = {.N = x->shape[0], .C = x->shape[1], .H = x->shape[2], .W = x->shape[3],
                   .k = k, .stride = stride, .pad = pad};
    a.Ho = grid_size(op->name, x, a.H, k, stride, pad);
    a.Wo = grid_size(op->name, x, a.W, k, stride, pad);
    return ag_apply(t, op, (ag_tensor *[]){x}, 1, 4, (int[]){a.N, a.C, a.Ho, a.Wo}, &a, sizeof a);
}

ag_tensor *ag_max_pool2d(ag_tape *t, ag_tensor *x, int k, int stride, int pad)
{
    return pool(t, &maxpool_op, x, k, stride, pad);
}

ag_tensor *ag_avg_pool2d(ag_tape *t, ag_tensor *x, int k, int stride, int pad)
{
    return pool(t, &avgpool_op, x, k, stride, pad);
}
