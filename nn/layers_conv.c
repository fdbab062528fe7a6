/* layers_conv.c — the image layers: convolution, transposed convolution, max and average
 * pooling.  Each takes (C, H, W) per example and is one op of autograd/ops_conv.c; what
 * lives here is the shape inference (with errors that name the sizes) and the weights.
 *
 * Geometry keys of the spec: k kernel (required), s stride, p zero padding, op output
 * padding (convt only).  Defaults: s = 1 for conv/convt, s = k for pools; p = op = 0. */
#include "nn/layer.h"

#include <limits.h>

/* ---- shared checks ----------------------------------------------------------------------- */

static int need_image(const nn_layer *l, nn_error *err) {
    if (l->in_ndim == 3) return 0;
    return nn_fail(err, "%s needs an image input (C, H, W) per example; put a 'reshape C H W' "
                        "before it", l->type->name);
}

/* The stride a layer uses: its s key, or the type's default when s was not given. */
static int conv_stride(const nn_layer *l) { return l->spec.s ? l->spec.s : 1; }
static int pool_stride(const nn_layer *l) { return l->spec.s ? l->spec.s : l->spec.k; }

/* k ≥ 1, s ≥ 1, p ≥ 0; op only where it means something (the text parser accepts every
 * key for every geometric layer, so this is where a stray key is caught). */
static int check_keys(const nn_layer *l, int stride, bool has_op, nn_error *err) {
    const nn_spec *s = &l->spec;
    const char *name = l->type->name;
    if (s->k < 1)
        return nn_fail(err, "%s needs a kernel size k >= 1 (usage: %s)", name, l->type->usage);
    if (stride < 1) return nn_fail(err, "%s: stride s%d must be at least 1", name, stride);
    if (s->p < 0) return nn_fail(err, "%s: padding p%d must not be negative", name, s->p);
    if (!has_op && s->op)
        return nn_fail(err, "%s has no output padding (op%d); only convt does", name, s->op);
    return 0;
}

/* Window positions along one axis of n pixels: ⌊(n + 2p - k)/s⌋ + 1, which is < 1 when a
 * window does not fit (floor division, so a negative numerator does not round up to 0).
 * In 64 bits: n + 2p overflows int for a large image or padding. */
static long long window_count(int n, int k, int s, int p) {
    long long num = (long long)n + 2LL * p - k;
    return (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
}

/* Sizes the layers compute with in int must fit one: a dimension, and the C·k² values a
 * filter spans (the GEMM's inner dimension and the fan-in). */
static int check_size(const nn_layer *l, const char *what, long long v, nn_error *err) {
    if (v <= INT_MAX) return 0;
    return nn_fail(err, "%s: %s would be %lld, more than %d", l->type->name, what, v, INT_MAX);
}

/* Output (C_out, Ho, Wo) for a sliding window (conv and pools); an error if empty. */
static int window_output(nn_layer *l, int c_out, int stride, nn_error *err) {
    const nn_spec *s = &l->spec;
    int H = l->in_shape[1], W = l->in_shape[2];
    long long Ho = window_count(H, s->k, stride, s->p), Wo = window_count(W, s->k, stride, s->p);
    if (Ho < 1 || Wo < 1)
        return nn_fail(err, "a %dx%d window with stride %d and padding %d does not fit a %dx%d "
                            "image: output would be %lldx%lld", s->k, s->k, stride, s->p, H, W,
                       Ho, Wo);
    if (check_size(l, "the output height", Ho, err) || check_size(l, "the output width", Wo, err))
        return -1;
    l->out_ndim = 3;
    l->out_shape[0] = c_out;
    l->out_shape[1] = (int)Ho;
    l->out_shape[2] = (int)Wo;
    return 0;
}

/* ---- conv: F filters of C×k×k, y = W ⋆ x + b ---------------------------------------------- */

static int conv_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    int stride = conv_stride(l);
    if (need_image(l, err) || check_keys(l, stride, false, err)) return -1;
    int C = l->in_shape[0], F = l->spec.n, k = l->spec.k;
    if (F < 1) return nn_fail(err, "conv needs at least 1 filter, got %d", F);
    if (check_size(l, "a filter's C·k²", (long long)C * k * k, err) ||
        check_size(l, "the fan-out F·k²", (long long)F * k * k, err))
        return -1;
    if (window_output(l, F, stride, err)) return -1;
    ag_tensor *w = nn_layer_param(l, "weight", 4, (int[]){F, C, k, k}, true);
    ag_tensor *b = nn_layer_param(l, "bias", 1, (int[]){F}, true);
    nn_init_weight(l, w, C * k * k, F * k * k, rng); /* each output sums C·k² inputs */
    nn_init_bias(l, b, C * k * k, rng);
    return 0;
}
static ag_tensor *conv_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    (void)training;
    return ag_conv2d(t, x, l->params.items[0].value, l->params.items[1].value, conv_stride(l),
                     l->spec.p);
}
const nn_layer_type nn_conv_type = {
    .name = "conv", .usage = "conv FILTERS kK [sS] [pP] [init=...]", .arg = NN_ARG_INT,
    .keys = true, .build = conv_build, .forward = conv_forward};

/* ---- convt: the transpose (adjoint) of conv, an upsampling layer --------------------------
 * Ho = (H - 1)·s - 2p + k + op: the H that a conv with the same k, s, p maps back to H;
 * op (< s) picks among the several sizes that do. */

static int convt_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    const nn_spec *s = &l->spec;
    int stride = conv_stride(l);
    if (need_image(l, err) || check_keys(l, stride, true, err)) return -1;
    int C = l->in_shape[0], H = l->in_shape[1], W = l->in_shape[2], F = s->n, k = s->k;
    if (F < 1) return nn_fail(err, "convt needs at least 1 filter, got %d", F);
    if (s->op < 0 || s->op >= stride)
        return nn_fail(err, "convt: output padding op%d must be in [0, s) with s%d", s->op,
                       stride);
    if (check_size(l, "a filter's C·k²", (long long)C * k * k, err) ||
        check_size(l, "the fan-out F·k²", (long long)F * k * k, err))
        return -1;
    /* in 64 bits: (H - 1)·s overflows int for a large image or stride */
    long long Ho = (long long)(H - 1) * stride - 2LL * s->p + k + s->op,
              Wo = (long long)(W - 1) * stride - 2LL * s->p + k + s->op;
    if (Ho < 1 || Wo < 1)
        return nn_fail(err, "k%d s%d p%d op%d turns a %dx%d image into %lldx%lld: padding too "
                       "large", k, stride, s->p, s->op, H, W, Ho, Wo);
    if (check_size(l, "the output height", Ho, err) || check_size(l, "the output width", Wo, err))
        return -1;
    l->out_ndim = 3;
    l->out_shape[0] = F;
    l->out_shape[1] = (int)Ho;
    l->out_shape[2] = (int)Wo;
    ag_tensor *w = nn_layer_param(l, "weight", 4, (int[]){C, F, k, k}, true);
    ag_tensor *b = nn_layer_param(l, "bias", 1, (int[]){F}, true);
    /* Each output pixel sums about C·k²/s² inputs (every input pixel spreads over k×k
     * outputs at steps of s): that is the fan-in that keeps the activation variance.
     * NN_INIT_TORCH copies PyTorch, which uses F·k² for transposed convolutions. */
    long long s2 = (long long)stride * stride; /* C·k² and F·k² fit an int (checked above) */
    int fan_in = (int)(C * k * k / s2), fan_out = (int)(F * k * k / s2);
    if (l->init == NN_INIT_TORCH) fan_in = F * k * k;
    if (fan_in < 1) fan_in = 1;
    if (fan_out < 1) fan_out = 1;
    nn_init_weight(l, w, fan_in, fan_out, rng);
    nn_init_bias(l, b, fan_in, rng);
    return 0;
}
static ag_tensor *convt_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    (void)training;
    return ag_conv_transpose2d(t, x, l->params.items[0].value, l->params.items[1].value,
                               conv_stride(l), l->spec.p, l->spec.op);
}
const nn_layer_type nn_convt_type = {
    .name = "convt", .usage = "convt FILTERS kK [sS] [pP] [opOP] [init=...]",
    .arg = NN_ARG_INT, .keys = true, .build = convt_build, .forward = convt_forward};

/* ---- pools: k×k windows, channels unchanged ---------------------------------------------- */

static int pool_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    (void)rng;
    int stride = pool_stride(l);
    if (need_image(l, err) || check_keys(l, stride, false, err)) return -1;
    /* As in PyTorch (and ag_max_pool2d): every window must hold at least one real pixel. */
    if (2LL * l->spec.p > l->spec.k)
        return nn_fail(err, "%s: padding p%d is more than half the window k%d", l->type->name,
                       l->spec.p, l->spec.k);
    return window_output(l, l->in_shape[0], stride, err);
}
static ag_tensor *maxpool_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    (void)training;
    return ag_max_pool2d(t, x, l->spec.k, pool_stride(l), l->spec.p);
}
static ag_tensor *avgpool_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    (void)training;
    return ag_avg_pool2d(t, x, l->spec.k, pool_stride(l), l->spec.p);
}
const nn_layer_type nn_maxpool_type = {
    .name = "maxpool", .usage = "maxpool kK [sS] [pP]", .arg = NN_ARG_NONE, .keys = true,
    .build = pool_build, .forward = maxpool_forward};
const nn_layer_type nn_avgpool_type = {
    .name = "avgpool", .usage = "avgpool kK [sS] [pP]", .arg = NN_ARG_NONE, .keys = true,
    .build = pool_build, .forward = avgpool_forward};
