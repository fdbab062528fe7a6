/* test_layers.c — every built-in layer type, built through nn_net_new: output shapes, the
 * gradient of the forward pass w.r.t. the input and every trainable parameter against
 * central differences (ag_gradcheck; tolerance rel 1e-6 in the double build), batch
 * norm's running statistics against a hand-computed EMA, forward values against direct
 * formulas, initialisation scales, build errors, and nn_describe's table. */
#include "tests/test.h"
#include "nn/layer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef AG_DOUBLE
#define FWD_TOL 1e-10
#else
#define FWD_TOL 1e-4
#endif

/* ---- helpers ----------------------------------------------------------------------------- */

static nn_net *build(const nn_spec *spec, int ndim, const int *shape) {
    ag_rng r;
    ag_rng_seed(&r, 7);
    nn_error err = {{0}};
    nn_net *net = nn_net_new(spec, ndim, shape, &r, &err);
    if (!net) test_fail(__FILE__, __LINE__, "nn_net_new: %s", err.msg);
    return net;
}

/* A heap input (N, shape...) with values uniform in [-1, 1], none closer than `gap` to 0
 * (so x ± h never crosses an activation's kink). */
static ag_tensor *input(ag_rng *r, int n, int ndim, const int *shape, double gap) {
    int full[AG_MAX_DIMS] = {n};
    memcpy(full + 1, shape, sizeof(int) * (size_t)ndim);
    ag_tensor *x = ag_tensor_new(ndim + 1, full, true);
    x->name = "x";
    for (size_t i = 0; i < x->size; i++) {
        double v;
        do v = 2 * ag_rng_uniform(r) - 1;
        while (fabs(v) < gap);
        x->data[i] = (ag_real)v;
    }
    return x;
}

/* Distinct values spaced 0.05 apart in random order: no ties (or near ties) in a max. */
static void fill_distinct(ag_rng *r, ag_tensor *x) {
    for (size_t i = 0; i < x->size; i++) x->data[i] = (ag_real)(0.05 * (double)i - 1);
    for (size_t i = x->size - 1; i > 0; i--) {
        size_t j = ag_rng_below(r, (uint32_t)(i + 1));
        ag_real v = x->data[i];
        x->data[i] = x->data[j];
        x->data[j] = v;
    }
}

static bool out_shape_is(const nn_net *net, int ndim, const int *shape) {
    return net->out_ndim == ndim && memcmp(net->out_shape, shape, sizeof(int) * (size_t)ndim) == 0;
}

typedef struct { nn_net *net; bool training; } fwd_ctx;
static ag_tensor *net_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    fwd_ctx *c = ctx;
    ag_tensor *y = nn_forward(c->net, t, in[0], c->training);
    /* The op chain must give what shape inference promised. */
    int want[AG_MAX_DIMS] = {in[0]->shape[0]};
    memcpy(want + 1, c->net->out_shape, sizeof(int) * (size_t)c->net->out_ndim);
    if (y->ndim != c->net->out_ndim + 1 || memcmp(y->shape, want, sizeof(int) * (size_t)y->ndim))
        ag_error("test", "forward output does not have the built shape");
    return y;
}

/* Gradchecks the net's forward w.r.t. x and every trainable parameter.  Also demands that
 * each of them received some nonzero gradient, so a parameter the forward pass ignores
 * (both gradients zero) cannot pass silently — except input `exempt` (-1: none), whose
 * gradient is zero by design.  The gradients stay in .grad (twice the analytic value:
 * gradcheck runs backward twice). */
static void check_grads(const char *label, nn_net *net, ag_tensor *x, bool training, int exempt,
                        const ag_gradcheck_opts *opts) {
    ag_tensor *in[32];
    int n = 0;
    size_t total = x->size;
    in[n++] = x;
    for (int i = 0; i < net->params.n && n < 32; i++)
        if (net->params.items[i].trainable) {
            in[n++] = net->params.items[i].value;
            total += net->params.items[i].value->size;
        }
    fwd_ctx ctx = {net, training};
    ag_gradcheck_report rep = ag_gradcheck(net_fn, in, n, &ctx, opts);
    if (!rep.ok) ag_gradcheck_print(label, &rep, stderr);
    CHECK(rep.ok);
    CHECK(rep.accumulates);
    CHECK(rep.evaluations == (int)(2 * total));
    for (int k = 0; k < n; k++) {
        bool any = false;
        for (size_t i = 0; i < in[k]->size; i++) any |= in[k]->grad[i] != 0;
        if (!any && k != exempt) test_fail(__FILE__, __LINE__, "%s: input %d got no gradient at all", label, k);
    }
}

/* Builds spec for per-example `shape`, checks the output shape, gradchecks with a batch of
 * n, and frees everything. */
static void layer_case(const char *label, const nn_spec *spec, int ndim, const int *shape,
                       int out_ndim, const int *out_shape, int n, double gap, bool training) {
    nn_net *net = build(spec, ndim, shape);
    if (!net) return;
    if (!out_shape_is(net, out_ndim, out_shape)) {
        char a[64], b[64];
        test_fail(__FILE__, __LINE__, "%s: output %s, want %s", label,
                  nn_shape_str(net->out_ndim, net->out_shape, a, sizeof a),
                  nn_shape_str(out_ndim, out_shape, b, sizeof b));
    }
    ag_rng r;
    ag_rng_seed(&r, 11);
    ag_tensor *x = input(&r, n, ndim, shape, gap);
    check_grads(label, net, x, training, -1, NULL);
    ag_tensor_free(x);
    nn_net_free(net);
}

/* ---- linear, activations, flatten, reshape, dropout ----------------------------------------- */

TEST(gradcheck_layer_linear) {
    layer_case("linear", (nn_spec[]){NN_LINEAR(3), NN_END}, 1, (int[]){5}, 1, (int[]){3}, 4, 0,
               true);
}

TEST(gradcheck_layer_linear_on_image_input) { /* (C, H, W) is flattened by linear */
    layer_case("linear on (2, 3, 2)", (nn_spec[]){NN_LINEAR(4), NN_END}, 3, (int[]){2, 3, 2}, 1,
               (int[]){4}, 3, 0, true);
}

#define ACTIVATION_CASE(test, label, SPEC)                                                  \
    TEST(test) {                                                                            \
        layer_case(label, (nn_spec[]){SPEC, NN_END}, 2, (int[]){3, 4}, 2, (int[]){3, 4}, 3,  \
                   0.1, true);                                                              \
    }
ACTIVATION_CASE(gradcheck_layer_relu, "relu", NN_RELU)
ACTIVATION_CASE(gradcheck_layer_leaky_relu, "leaky_relu 0.2", NN_LEAKY_RELU(0.2))
ACTIVATION_CASE(gradcheck_layer_elu, "elu 1.5", NN_ELU(1.5))
ACTIVATION_CASE(gradcheck_layer_tanh, "tanh", NN_TANH)
ACTIVATION_CASE(gradcheck_layer_sigmoid, "sigmoid", NN_SIGMOID)
ACTIVATION_CASE(gradcheck_layer_softplus, "softplus", NN_SOFTPLUS)
ACTIVATION_CASE(gradcheck_layer_exp, "exp", NN_EXP)

TEST(gradcheck_layer_flatten) {
    layer_case("flatten + linear", (nn_spec[]){NN_FLATTEN, NN_LINEAR(2), NN_END}, 3,
               (int[]){2, 2, 3}, 1, (int[]){2}, 2, 0, true);
    nn_net *net = build((nn_spec[]){NN_FLATTEN, NN_END}, 3, (int[]){2, 2, 3});
    CHECK(net && out_shape_is(net, 1, (int[]){12}));
    nn_net_free(net);
}

TEST(gradcheck_layer_reshape) {
    /* (12) -> (3, 2, 2) -> conv, so the layout the reshape promises is actually used. */
    layer_case("reshape 3 2 2 + conv",
               (nn_spec[]){NN_RESHAPE(3, 2, 2), NN_CONV(2, 2, 1, 0), NN_END}, 1, (int[]){12}, 3,
               (int[]){2, 1, 1}, 2, 0, true);
}

TEST(gradcheck_layer_dropout_training) {
    /* gradcheck reseeds the tape's PRNG before every evaluation: the mask stays fixed. */
    layer_case("dropout 0.3", (nn_spec[]){NN_DROPOUT(0.3), NN_END}, 1, (int[]){20}, 1,
               (int[]){20}, 4, 0.1, true);
}

TEST(dropout_layer_masks_in_training_only) {
    nn_net *net = build((nn_spec[]){NN_DROPOUT(0.5), NN_END}, 1, (int[]){400});
    ag_tape *t = ag_tape_new(3);
    ag_tensor *x = ag_ones(t, 2, (int[]){5, 400});
    ag_tensor *y = nn_forward(net, t, x, true);
    int zeros = 0, doubled = 0;
    for (size_t i = 0; i < y->size; i++) {
        zeros += y->data[i] == 0;
        doubled += y->data[i] == 2; /* kept values are scaled by 1/(1 - p) */
    }
    CHECK(zeros + doubled == 2000);
    CHECK(zeros > 900 && zeros < 1100); /* Binomial(2000, 0.5): sd ≈ 22 */
    y = nn_forward(net, t, x, false);
    for (size_t i = 0; i < y->size; i++)
        if (y->data[i] != 1) { CHECK(y->data[i] == 1); break; }
    ag_tape_free(t);
    nn_net_free(net);
}

/* ---- conv, convt, pools ---------------------------------------------------------------- */

TEST(gradcheck_layer_conv_k3) {
    layer_case("conv 3 k3", (nn_spec[]){NN_CONV(3, 3, 0, 0), NN_END}, 3, (int[]){2, 5, 4}, 3,
               (int[]){3, 3, 2}, 2, 0, true);
}

TEST(gradcheck_layer_conv_s2_p1) {
    layer_case("conv 3 k3 s2 p1", (nn_spec[]){NN_CONV(3, 3, 2, 1), NN_END}, 3, (int[]){2, 5, 5},
               3, (int[]){3, 3, 3}, 2, 0, true);
}

TEST(gradcheck_layer_conv_k4_s2_p1) { /* the DCGAN down-sampling block: 6 -> 3 */
    layer_case("conv 2 k4 s2 p1", (nn_spec[]){NN_CONV(2, 4, 2, 1), NN_END}, 3, (int[]){1, 6, 6},
               3, (int[]){2, 3, 3}, 2, 0, true);
}

TEST(gradcheck_layer_convt_s2_p1_op1) { /* (3 - 1)·2 - 2 + 3 + 1 = 6 */
    layer_case("convt 2 k3 s2 p1 op1", (nn_spec[]){NN_CONVT(2, 3, 2, 1, 1), NN_END}, 3,
               (int[]){3, 3, 3}, 3, (int[]){2, 6, 6}, 2, 0, true);
}

TEST(gradcheck_layer_convt_k4_s2_p1) { /* the DCGAN up-sampling block: 3 -> 6 */
    layer_case("convt 2 k4 s2 p1", (nn_spec[]){NN_CONVT(2, 4, 2, 1, 0), NN_END}, 3,
               (int[]){2, 3, 3}, 3, (int[]){2, 6, 6}, 2, 0, true);
}

TEST(gradcheck_layer_convt_k3) { /* stride 1: a "full" convolution, 4 -> 6 */
    layer_case("convt 1 k3", (nn_spec[]){NN_CONVT(1, 3, 0, 0, 0), NN_END}, 3, (int[]){2, 4, 3},
               3, (int[]){1, 6, 5}, 2, 0, true);
}

static void pool_case(const char *label, const nn_spec *spec, const int *shape,
                      const int *out_shape) {
    nn_net *net = build(spec, 3, shape);
    if (!net) return;
    CHECK(out_shape_is(net, 3, out_shape));
    CHECK(net->params.n == 0);
    ag_rng r;
    ag_rng_seed(&r, 5);
    ag_tensor *x = input(&r, 2, 3, shape, 0);
    fill_distinct(&r, x);
    check_grads(label, net, x, true, -1, NULL);
    ag_tensor_free(x);
    nn_net_free(net);
}

TEST(gradcheck_layer_maxpool_k2) {
    pool_case("maxpool k2", (nn_spec[]){NN_MAXPOOL(2, 0), NN_END}, (int[]){2, 4, 6},
              (int[]){2, 2, 3});
}

TEST(gradcheck_layer_maxpool_k3_s2_p1) { /* overlapping windows, padded border */
    pool_case("maxpool k3 s2 p1", (nn_spec[]){{.type = &nn_maxpool_type, .k = 3, .s = 2, .p = 1},
                                              NN_END},
              (int[]){2, 5, 5}, (int[]){2, 3, 3});
}

TEST(gradcheck_layer_avgpool_k2) {
    pool_case("avgpool k2", (nn_spec[]){NN_AVGPOOL(2, 0), NN_END}, (int[]){2, 4, 4},
              (int[]){2, 2, 2});
}

TEST(gradcheck_layer_avgpool_k3_s2_p1) {
    pool_case("avgpool k3 s2 p1", (nn_spec[]){{.type = &nn_avgpool_type, .k = 3, .s = 2, .p = 1},
                                              NN_END},
              (int[]){1, 5, 4}, (int[]){1, 3, 2});
}

/* conv's forward against the definition, so stride and padding reach the op as built. */
TEST(conv_layer_forward_matches_direct_sum) {
    nn_net *net = build((nn_spec[]){NN_CONV(2, 3, 2, 1), NN_END}, 3, (int[]){2, 5, 4});
    if (!net) return;
    ag_rng r;
    ag_rng_seed(&r, 9);
    ag_tensor *x = input(&r, 2, 3, (int[]){2, 5, 4}, 0);
    const ag_tensor *w = net->params.items[0].value, *b = net->params.items[1].value;
    ag_fill_uniform(&r, net->params.items[1].value, -1, 1);
    ag_tape *t = ag_tape_new(1);
    ag_tensor *y = nn_forward(net, t, x, false); /* (2, 2, 3, 2) */
    CHECK(y->ndim == 4 && y->shape[1] == 2 && y->shape[2] == 3 && y->shape[3] == 2);
    for (int n = 0; n < 2; n++)
        for (int f = 0; f < 2; f++)
            for (int oh = 0; oh < 3; oh++)
                for (int ow = 0; ow < 2; ow++) {
                    double s = b->data[f];
                    for (int c = 0; c < 2; c++)
                        for (int i = 0; i < 3; i++)
                            for (int j = 0; j < 3; j++) {
                                int h = oh * 2 - 1 + i, v = ow * 2 - 1 + j;
                                if (h < 0 || h >= 5 || v < 0 || v >= 4) continue;
                                s += (double)w->data[((f * 2 + c) * 3 + i) * 3 + j] *
                                     x->data[((n * 2 + c) * 5 + h) * 4 + v];
                            }
                    CHECK_NEAR(y->data[((n * 2 + f) * 3 + oh) * 2 + ow], s, FWD_TOL);
                }
    ag_tape_free(t);
    ag_tensor_free(x);
    nn_net_free(net);
}

/* Sample standard deviation of a tensor's values. */
static double std_of(const ag_tensor *x) {
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < x->size; i++) s1 += x->data[i], s2 += (double)x->data[i] * x->data[i];
    double m = s1 / (double)x->size;
    return sqrt(s2 / (double)x->size - m * m);
}

TEST(conv_layers_init_scale) {
    /* conv 64 k3 over 16 channels, then relu: He, std √(2/(16·9)) = 0.118. */
    nn_net *net = build((nn_spec[]){NN_CONV(64, 3, 1, 1), NN_RELU, NN_END}, 3, (int[]){16, 8, 8});
    CHECK(net && net->layers[0].init == NN_INIT_HE);
    if (net) CHECK_NEAR(std_of(net->params.items[0].value), sqrt(2.0 / 144), 0.05 * sqrt(2.0 / 144));
    for (int i = 0; net && i < 64; i++) CHECK(net->params.items[1].value->data[i] == 0);
    nn_net_free(net);
    /* convt 16 k4 s2 from 64 channels, then tanh: Xavier with fans C·k²/s² = 256 and
     * F·k²/s² = 64, i.e. U(±√(6/320)), std √(2/320) = 0.079. */
    net = build((nn_spec[]){NN_CONVT(16, 4, 2, 1, 0), NN_TANH, NN_END}, 3, (int[]){64, 4, 4});
    CHECK(net && net->layers[0].init == NN_INIT_XAVIER);
    if (net) CHECK_NEAR(std_of(net->params.items[0].value), sqrt(2.0 / 320), 0.05 * sqrt(2.0 / 320));
    nn_net_free(net);
}

static void expect_build_error(const nn_spec *spec, int ndim, const int *shape,
                               const char *want) {
    ag_rng r;
    ag_rng_seed(&r, 1);
    nn_error err = {{0}};
    nn_net *net = nn_net_new(spec, ndim, shape, &r, &err);
    CHECK(net == NULL);
    nn_net_free(net);
    if (!strstr(err.msg, want))
        test_fail(__FILE__, __LINE__, "error '%s' does not contain '%s'", err.msg, want);
}

TEST(conv_and_pool_layers_reject_bad_geometry) {
    int img[] = {3, 8, 8};
    expect_build_error((nn_spec[]){NN_CONV(4, 3, 1, 0), NN_END}, 1, (int[]){64},
                       "layer 0 (conv 4 k3 s1): input (64): conv needs an image input (C, H, W)");
    expect_build_error((nn_spec[]){NN_CONV(4, 0, 1, 0), NN_END}, 3, img,
                       "conv needs a kernel size k >= 1");
    expect_build_error((nn_spec[]){NN_CONV(0, 3, 1, 0), NN_END}, 3, img,
                       "conv needs at least 1 filter");
    expect_build_error((nn_spec[]){NN_CONV(4, 9, 1, 0), NN_END}, 3, img,
                       "a 9x9 window with stride 1 and padding 0 does not fit a 8x8 image: "
                       "output would be 0x0");
    expect_build_error((nn_spec[]){NN_CONV(4, 3, -1, 0), NN_END}, 3, img,
                       "stride s-1 must be at least 1");
    expect_build_error((nn_spec[]){{.type = &nn_conv_type, .n = 4, .k = 3, .op = 1}, NN_END}, 3,
                       img, "conv has no output padding (op1); only convt does");
    expect_build_error((nn_spec[]){NN_CONVT(4, 3, 2, 1, 2), NN_END}, 3, img,
                       "output padding op2 must be in [0, s) with s2");
    expect_build_error((nn_spec[]){NN_CONVT(4, 3, 1, 3, 0), NN_END}, 3, (int[]){3, 2, 2},
                       "k3 s1 p3 op0 turns a 2x2 image into -2x-2");
    expect_build_error((nn_spec[]){{.type = &nn_maxpool_type, .k = 2, .p = 2}, NN_END}, 3, img,
                       "maxpool: padding p2 is more than half the window k2");
    expect_build_error((nn_spec[]){NN_AVGPOOL(0, 0), NN_END}, 3, img,
                       "avgpool needs a kernel size k >= 1");
    expect_build_error((nn_spec[]){NN_MAXPOOL(2, 2), NN_MAXPOOL(2, 2), NN_MAXPOOL(2, 2),
                                   NN_MAXPOOL(2, 2), NN_END},
                       3, img, "layer 3 (maxpool k2 s2): input (3, 1, 1): a 2x2 window");
}

/* ---- batchnorm and layernorm ------------------------------------------------------------ */

/* Puts non-trivial values into γ, β and the running statistics, so eval mode and the
 * affine part are really exercised. */
static void scramble_norm_params(nn_net *net, ag_rng *r) {
    for (int i = 0; i < net->params.n; i++) {
        const char *name = net->params.items[i].name;
        ag_tensor *v = net->params.items[i].value;
        if (strstr(name, "running_var") || strstr(name, "gamma")) ag_fill_uniform(r, v, 0.5, 1.5);
        else ag_fill_uniform(r, v, -0.5, 0.5);
    }
}

static void norm_case(const char *label, const nn_spec *spec, int ndim, const int *shape,
                      int n, bool training) {
    nn_net *net = build(spec, ndim, shape);
    if (!net) return;
    CHECK(out_shape_is(net, ndim, shape));
    ag_rng r;
    ag_rng_seed(&r, 21);
    scramble_norm_params(net, &r);
    ag_tensor *x = input(&r, n, ndim, shape, 0);
    check_grads(label, net, x, training, -1, NULL);
    ag_tensor_free(x);
    nn_net_free(net);
}

TEST(gradcheck_layer_batchnorm1d_train) {
    norm_case("batchnorm 1-D training", (nn_spec[]){NN_BATCHNORM, NN_END}, 1, (int[]){5}, 4, true);
}
TEST(gradcheck_layer_batchnorm1d_eval) {
    norm_case("batchnorm 1-D eval", (nn_spec[]){NN_BATCHNORM, NN_END}, 1, (int[]){5}, 4, false);
}
TEST(gradcheck_layer_batchnorm2d_train) {
    norm_case("batchnorm 2-D training", (nn_spec[]){NN_BATCHNORM, NN_END}, 3, (int[]){3, 2, 3}, 2,
              true);
}
TEST(gradcheck_layer_batchnorm2d_eval) {
    norm_case("batchnorm 2-D eval", (nn_spec[]){NN_BATCHNORM, NN_END}, 3, (int[]){3, 2, 3}, 2,
              false);
}
TEST(gradcheck_layer_batchnorm_eps) { /* "batchnorm 0.1": a large eps changes the gradient */
    norm_case("batchnorm 0.1", (nn_spec[]){{.type = &nn_batchnorm_type, .f = 0.1}, NN_END}, 1,
              (int[]){3}, 3, true);
}
TEST(gradcheck_layer_layernorm) {
    norm_case("layernorm", (nn_spec[]){NN_LAYERNORM, NN_END}, 1, (int[]){6}, 3, true);
}
TEST(gradcheck_layer_layernorm_image) {
    norm_case("layernorm (C, H, W)", (nn_spec[]){NN_LAYERNORM, NN_END}, 3, (int[]){2, 2, 3}, 2,
              false);
}

/* batchnorm + relu / leaky_relu: nn_forward runs them as one op (forward_with_next). */
TEST(gradcheck_layer_batchnorm_relu_fused) {
    norm_case("batchnorm, relu (1-D)", (nn_spec[]){NN_BATCHNORM, NN_RELU, NN_END}, 1, (int[]){5},
              4, true);
    norm_case("batchnorm, relu (2-D)", (nn_spec[]){NN_BATCHNORM, NN_RELU, NN_END}, 3,
              (int[]){3, 2, 3}, 2, true);
}
TEST(gradcheck_layer_batchnorm_leaky_relu_fused) {
    norm_case("batchnorm, leaky_relu 0.2 (2-D)",
              (nn_spec[]){NN_BATCHNORM, NN_LEAKY_RELU(0.2), NN_END}, 3, (int[]){3, 2, 3}, 2, true);
    norm_case("batchnorm, leaky_relu (eval)", (nn_spec[]){NN_BATCHNORM, NN_LEAKY_RELU(0), NN_END},
              1, (int[]){5}, 4, false);
}

/* The fused op gives the very bits of the two layers run one after the other (each
 * layer's own forward), values and every gradient, in training and in eval mode; and it is
 * one node on the tape, not two.  A NaN in the input follows relu's NaN rule either way. */
static void fused_case(const nn_spec *spec, bool training, bool with_nan) {
    nn_net *net = build(spec, 3, (int[]){3, 2, 2});
    if (!net) return;
    ag_rng r;
    ag_rng_seed(&r, 5);
    scramble_norm_params(net, &r);
    ag_tensor *x = input(&r, 4, 3, (int[]){3, 2, 2}, 0);
    if (with_nan) x->data[5] = NAN;
    ag_tensor *dy = ag_tensor_new(4, (int[]){4, 3, 2, 2}, false);
    ag_fill_uniform(&r, dy, -1, 1);
    ag_tensor *y, *gamma = net->params.items[0].value, *beta = net->params.items[1].value;
    ag_real *grads[2][4];   /* x, γ, β, and the output */
    ag_tape *t = ag_tape_new(1);
    for (int pass = 0; pass < 2; pass++) {   /* 0: fused (nn_forward), 1: layer by layer */
        ag_zero_grad(x), ag_zero_grad(gamma), ag_zero_grad(beta);
        if (pass == 0) {
            y = nn_forward(net, t, x, training);
            CHECK(ag_tape_num_nodes(t) == 1);
        } else {
            ag_tensor *h = net->layers[0].type->forward(&net->layers[0], t, x, training);
            y = net->layers[1].type->forward(&net->layers[1], t, h, training);
            CHECK(ag_tape_num_nodes(t) == 2);
        }
        ag_backward_seed(t, y, dy);
        const ag_tensor *g[3] = {x, gamma, beta};
        for (int k = 0; k < 4; k++) {
            const ag_real *v = k < 3 ? g[k]->grad : y->data;
            size_t bytes = (k < 3 ? g[k]->size : y->size) * sizeof(ag_real);
            grads[pass][k] = malloc(bytes);
            memcpy(grads[pass][k], v, bytes);
        }
        ag_tape_clear(t);
    }
    /* Bits compared through memcmp: a NaN equals itself there. */
    CHECK(memcmp(grads[0][3], grads[1][3], x->size * sizeof(ag_real)) == 0);
    CHECK(memcmp(grads[0][0], grads[1][0], x->size * sizeof(ag_real)) == 0);
    CHECK(memcmp(grads[0][1], grads[1][1], gamma->size * sizeof(ag_real)) == 0);
    CHECK(memcmp(grads[0][2], grads[1][2], beta->size * sizeof(ag_real)) == 0);
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < 4; k++) free(grads[pass][k]);
    ag_tape_free(t);
    ag_tensor_free(dy);
    ag_tensor_free(x);
    nn_net_free(net);
}

TEST(batchnorm_activation_fused_equals_separate_layers) {
    for (int training = 0; training < 2; training++) {
        fused_case((nn_spec[]){NN_BATCHNORM, NN_RELU, NN_END}, training, false);
        fused_case((nn_spec[]){NN_BATCHNORM, NN_LEAKY_RELU(0.2), NN_END}, training, false);
        fused_case((nn_spec[]){NN_BATCHNORM, NN_LEAKY_RELU(0), NN_END}, training, false);
    }
    fused_case((nn_spec[]){NN_BATCHNORM, NN_RELU, NN_END}, false, true);
    fused_case((nn_spec[]){NN_BATCHNORM, NN_LEAKY_RELU(0.2), NN_END}, false, true);
}

/* A whole small convolutional classifier body, end to end, in training mode. */
TEST(gradcheck_net_conv_batchnorm_relu_maxpool_linear) {
    const nn_spec spec[] = {NN_CONV(3, 3, 1, 1), NN_BATCHNORM, NN_RELU, NN_MAXPOOL(2, 2),
                            NN_FLATTEN, NN_LINEAR(3), NN_END};
    nn_net *net = build(spec, 3, (int[]){2, 4, 4});
    if (!net) return;
    CHECK(out_shape_is(net, 1, (int[]){3}));
    CHECK(net->layers[3].out_shape[1] == 2 && net->layers[4].out_shape[0] == 12);
    ag_rng r;
    ag_rng_seed(&r, 3);
    ag_tensor *x = input(&r, 3, 3, (int[]){2, 4, 4}, 0);
    /* Input 2 is conv's bias: batch norm subtracts each channel's mean right after it, so
     * its gradient is zero (up to rounding) and its central difference is pure rounding
     * noise, ~1e-16·|f|/h ≈ 1e-10 in double: the absolute floor is raised above that. */
#ifdef AG_DOUBLE
    const ag_gradcheck_opts opts = {.atol = 1e-8};
#else
    const ag_gradcheck_opts opts = {0};
#endif
    check_grads("conv-bn-relu-pool-linear", net, x, true, 2, &opts);
    const ag_tensor *bias = net->params.items[1].value, *w = net->params.items[0].value;
    double wmax = 0;
    for (size_t i = 0; i < w->size; i++) wmax = fmax(wmax, fabs(w->grad[i]));
    for (size_t i = 0; i < bias->size; i++) CHECK(fabs(bias->grad[i]) <= 1e-5 * wmax);
    ag_tensor_free(x);
    nn_net_free(net);
}

/* Feeds batches through a training-mode batchnorm and follows the running statistics by
 * hand: running = 0.9·running + 0.1·batch, with the unbiased variance. */
static void ema_case(int ndim, const int *shape, int n) {
    nn_net *net = build((nn_spec[]){NN_BATCHNORM, NN_END}, ndim, shape);
    if (!net) return;
    const ag_tensor *rm = nn_params_find(&net->params, "0.batchnorm.running_mean")->value;
    const ag_tensor *rv = nn_params_find(&net->params, "0.batchnorm.running_var")->value;
    int C = shape[0], S = 1;
    for (int i = 1; i < ndim; i++) S *= shape[i];
    double want_m[8], want_v[8];
    for (int c = 0; c < C; c++) want_m[c] = 0, want_v[c] = 1;
    ag_tape *t = ag_tape_new(1);
    ag_rng r;
    ag_rng_seed(&r, 4);
    for (int step = 0; step < 4; step++) {
        ag_tensor *x = input(&r, n, ndim, shape, 0);
        for (size_t i = 0; i < x->size; i++) x->data[i] = x->data[i] * (ag_real)(step + 1) + 2;
        nn_forward(net, t, x, true);
        for (int c = 0; c < C; c++) {
            double s1 = 0, s2 = 0, M = (double)n * S;
            for (int i = 0; i < n; i++)
                for (int s = 0; s < S; s++) s1 += x->data[((size_t)i * C + c) * S + s];
            for (int i = 0; i < n; i++)
                for (int s = 0; s < S; s++) {
                    double d = x->data[((size_t)i * C + c) * S + s] - s1 / M;
                    s2 += d * d;
                }
            want_m[c] = 0.9 * want_m[c] + 0.1 * s1 / M;
            want_v[c] = 0.9 * want_v[c] + 0.1 * s2 / (M - 1);
        }
        ag_tensor_free(x);
        ag_tape_clear(t);
    }
    for (int c = 0; c < C; c++) {
        CHECK_NEAR(rm->data[c], want_m[c], 1e-5);
        CHECK_NEAR(rv->data[c], want_v[c], 1e-5);
    }
    /* Eval mode uses them: y = γ(x - running_mean)/√(running_var + eps) + β. */
    ag_rng_seed(&r, 8);
    ag_fill_uniform(&r, net->params.items[0].value, 0.5, 1.5);
    ag_fill_uniform(&r, net->params.items[1].value, -0.5, 0.5);
    const ag_real *g = net->params.items[0].value->data, *b = net->params.items[1].value->data;
    ag_tensor *x = input(&r, n, ndim, shape, 0);
    ag_real keep_m = rm->data[0];
    ag_tensor *y = nn_forward(net, t, x, false);
    CHECK(rm->data[0] == keep_m); /* eval leaves the running statistics alone */
    for (int i = 0; i < n; i++)
        for (int c = 0; c < C; c++)
            for (int s = 0; s < S; s++) {
                size_t o = ((size_t)i * C + c) * S + s;
                double want = g[c] * (x->data[o] - rm->data[c]) / sqrt(rv->data[c] + 1e-5) + b[c];
                CHECK_NEAR(y->data[o], want, FWD_TOL);
            }
    ag_tensor_free(x);
    ag_tape_free(t);
    nn_net_free(net);
}

TEST(batchnorm1d_running_stats_follow_ema) { ema_case(1, (int[]){3}, 5); }
TEST(batchnorm2d_running_stats_follow_ema) { ema_case(3, (int[]){2, 3, 2}, 3); }

TEST(batchnorm_updates_running_stats_with_grad_mode_off) {
    nn_net *net = build((nn_spec[]){NN_BATCHNORM, NN_END}, 1, (int[]){2});
    ag_tape *t = ag_tape_new(1);
    ag_set_grad_enabled(t, false);
    ag_tensor *x = ag_from_data(t, 2, (int[]){2, 2}, (ag_real[]){1, 10, 3, 20});
    nn_forward(net, t, x, true);
    const ag_real *rm = net->params.items[2].value->data, *rv = net->params.items[3].value->data;
    CHECK_NEAR(rm[0], 0.1 * 2, 1e-6);             /* batch mean 2 */
    CHECK_NEAR(rm[1], 0.1 * 15, 1e-6);            /* batch mean 15 */
    CHECK_NEAR(rv[0], 0.9 + 0.1 * 2, 1e-6);       /* unbiased var of {1, 3} = 2 */
    CHECK_NEAR(rv[1], 0.9 + 0.1 * 50, 1e-5);      /* of {10, 20} = 50 */
    ag_tape_free(t);
    nn_net_free(net);
}

/* Training mode: each channel of the output has mean β and standard deviation γ·σ/√(σ²+eps). */
TEST(batchnorm2d_training_output_is_normalised) {
    nn_net *net = build((nn_spec[]){NN_BATCHNORM, NN_END}, 3, (int[]){2, 4, 4});
    ag_rng r;
    ag_rng_seed(&r, 2);
    ag_tensor *x = input(&r, 8, 3, (int[]){2, 4, 4}, 0);
    for (size_t i = 0; i < x->size; i++) x->data[i] = 3 * x->data[i] + 5;
    ag_tensor *gamma = net->params.items[0].value, *beta = net->params.items[1].value;
    gamma->data[0] = 2, gamma->data[1] = 0.5, beta->data[0] = -1, beta->data[1] = 4;
    ag_tape *t = ag_tape_new(1);
    ag_tensor *y = nn_forward(net, t, x, true);
    for (int c = 0; c < 2; c++) {
        double s1 = 0, s2 = 0;
        for (int i = 0; i < 8; i++)
            for (int s = 0; s < 16; s++) s1 += y->data[(i * 2 + c) * 16 + s];
        for (int i = 0; i < 8; i++)
            for (int s = 0; s < 16; s++) {
                double d = y->data[(i * 2 + c) * 16 + s] - s1 / 128;
                s2 += d * d;
            }
        CHECK_NEAR(s1 / 128, beta->data[c], 1e-5);
        CHECK_NEAR(sqrt(s2 / 128), gamma->data[c], 1e-4); /* eps 1e-5 ≪ var ≈ 3 */
    }
    ag_tape_free(t);
    ag_tensor_free(x);
    nn_net_free(net);
}

TEST(batchnorm_eps_from_spec) {
    /* Two values ±1 per channel: var 1, so x̂ = ±1/√(1 + eps). */
    nn_net *net = build((nn_spec[]){{.type = &nn_batchnorm_type, .f = 3}, NN_END}, 1, (int[]){1});
    ag_tape *t = ag_tape_new(1);
    ag_tensor *y = nn_forward(net, t, ag_from_data(t, 2, (int[]){2, 1}, (ag_real[]){-1, 1}), true);
    CHECK_NEAR(y->data[0], -0.5, 1e-6);
    CHECK_NEAR(y->data[1], 0.5, 1e-6);
    ag_tape_free(t);
    nn_net_free(net);
}

TEST(batchnorm_training_needs_two_values_per_channel) {
    nn_net *net = build((nn_spec[]){NN_BATCHNORM, NN_END}, 1, (int[]){4});
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_ones(t, 2, (int[]){1, 4});
    EXPECT_ERROR(nn_forward(net, t, x, true));
    CHECK(strstr(test_last_error, "more than one value per channel") != NULL);
    ag_tensor *y = nn_forward(net, t, x, false); /* eval is fine with one example */
    CHECK_NEAR(y->data[0], 1 / sqrt(1 + 1e-5), 1e-6);
    ag_tape_free(t);
    nn_net_free(net);
}

TEST(batchnorm_params_and_buffers) {
    nn_net *net = build((nn_spec[]){NN_CONV(4, 3, 1, 1), NN_BATCHNORM, NN_END}, 3, (int[]){1, 5, 5});
    if (!net) return;
    const char *names[] = {"1.batchnorm.gamma", "1.batchnorm.beta", "1.batchnorm.running_mean",
                           "1.batchnorm.running_var"};
    const bool trainable[] = {true, true, false, false};
    const double init[] = {1, 0, 0, 1};
    for (int k = 0; k < 4; k++) {
        nn_param *p = nn_params_find(&net->params, names[k]);
        CHECK(p != NULL);
        if (!p) continue;
        CHECK(p->trainable == trainable[k]);
        CHECK(p->value->ndim == 1 && p->value->shape[0] == 4);
        CHECK(p->value->data[3] == init[k]);
    }
    /* 4·1·9 + 4 conv, 4 + 4 batchnorm; the running statistics are not counted. */
    CHECK(nn_params_count(&net->params) == 48);
    nn_net_free(net);
}

TEST(layernorm_output_is_normalised_per_example) {
    nn_net *net = build((nn_spec[]){NN_LAYERNORM, NN_END}, 3, (int[]){2, 3, 3});
    if (!net) return;
    CHECK(net->params.items[0].value->ndim == 3 && net->params.items[0].value->size == 18);
    CHECK(nn_params_count(&net->params) == 36);
    ag_rng r;
    ag_rng_seed(&r, 6);
    ag_tensor *x = input(&r, 3, 3, (int[]){2, 3, 3}, 0);
    for (size_t i = 0; i < x->size; i++) x->data[i] = x->data[i] * (ag_real)(1 + i / 18) - 1;
    ag_tape *t = ag_tape_new(1);
    ag_tensor *y = nn_forward(net, t, x, true), *y_eval = nn_forward(net, t, x, false);
    for (int i = 0; i < 3; i++) {
        double s1 = 0, s2 = 0;
        for (int j = 0; j < 18; j++) s1 += y->data[i * 18 + j], s2 += y->data[i * 18 + j] * y->data[i * 18 + j];
        CHECK_NEAR(s1 / 18, 0, 1e-5);
        CHECK_NEAR(s2 / 18, 1, 1e-3); /* 1 - eps/var */
    }
    for (size_t i = 0; i < y->size; i++) CHECK(y->data[i] == y_eval->data[i]);
    ag_tape_free(t);
    ag_tensor_free(x);
    nn_net_free(net);
}

TEST(norm_layers_reject_negative_eps) {
    expect_build_error((nn_spec[]){{.type = &nn_batchnorm_type, .f = -1}, NN_END}, 1, (int[]){4},
                       "batchnorm: eps must be positive, got -1");
    expect_build_error((nn_spec[]){{.type = &nn_layernorm_type, .f = -1}, NN_END}, 1, (int[]){4},
                       "layernorm: eps must be positive, got -1");
}

/* ---- nn_describe -------------------------------------------------------------------------- */

TEST(describe_lists_every_layer_and_the_total) {
    const nn_spec spec[] = {NN_CONV(8, 3, 1, 1), NN_BATCHNORM, NN_LEAKY_RELU(0.2),
                            NN_MAXPOOL(2, 2), NN_CONVT(4, 4, 2, 1, 0), NN_AVGPOOL(2, 0),
                            NN_FLATTEN, NN_LAYERNORM, NN_DROPOUT(0.5), NN_LINEAR(10), NN_END};
    nn_net *net = build(spec, 3, (int[]){1, 8, 8});
    if (!net) return;
    char buf[4096] = {0};
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    nn_describe(net, "classifier", f);
    fclose(f);
    const char *want[] = {"classifier", "(1, 8, 8)", "conv 8 k3 s1 p1", "(8, 8, 8)", "batchnorm",
                          "leaky_relu 0.2", "maxpool k2 s2", "(8, 4, 4)", "convt 4 k4 s2 p1",
                          "(4, 8, 8)", "avgpool k2", "(4, 4, 4)", "flatten", "(64)", "layernorm",
                          "dropout 0.5", "linear 10", "(10)"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(buf, want[i])) test_fail(__FILE__, __LINE__, "no '%s' in:\n%s", want[i], buf);
    /* conv 8·1·9+8 = 80, batchnorm 16, convt 8·4·16+4 = 516, layernorm 128, linear 650 */
    CHECK(strstr(buf, "total trainable parameters: 1390") != NULL);
    int lines = 0;
    for (const char *p = buf; *p; p++) lines += *p == '\n';
    CHECK(lines == 1 + 2 + 10 + 1); /* title, header, input, one per layer, total */
    nn_net_free(net);
}
