/* layers_basic.c — the layers that are one op each: linear, the activations, flatten,
 * reshape and dropout.  Each layer type is a build function (shape inference and
 * parameters) and a forward function; see layer.h for the interface. */
#include "nn/layer.h"

#include <limits.h>
#include <string.h>

/* Fits an int: nn_net_new refuses larger inputs and outputs of every layer. */
static int per_example_size(const nn_layer *l) {
    int s = 1;
    for (int i = 0; i < l->in_ndim; i++) s *= l->in_shape[i];
    return s;
}

/* Views x (N, ...) as (N, D) for layers that work on vectors. */
static ag_tensor *as_rows(ag_tape *t, ag_tensor *x) {
    if (x->ndim == 2) return x;
    return ag_reshape(t, x, 2, (int[]){x->shape[0], (int)(x->size / (size_t)x->shape[0])});
}

/* ---- linear: y = x·Wᵀ + b; image inputs are flattened first --------------------------- */

static int linear_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    int in = per_example_size(l), out = l->spec.n;
    if (out < 1) return nn_fail(err, "linear needs at least 1 unit, got %d", out);
    ag_tensor *w = nn_layer_param(l, "weight", 2, (int[]){out, in}, true);
    ag_tensor *b = nn_layer_param(l, "bias", 1, (int[]){out}, true);
    nn_init_weight(l, w, in, out, rng);
    nn_init_bias(l, b, in, rng);
    l->out_ndim = 1;
    l->out_shape[0] = out;
    return 0;
}
static ag_tensor *linear_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    (void)training;
    return ag_linear(t, as_rows(t, x), l->params.items[0].value, l->params.items[1].value);
}
const nn_layer_type nn_linear_type = {
    .name = "linear", .usage = "linear UNITS [init=he|xavier|torch|normal:STD]",
    .arg = NN_ARG_INT, .build = linear_build, .forward = linear_forward};

/* ---- activations: same shape in and out, no parameters ---------------------------------- */

static int same_shape_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    (void)rng; (void)err;
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    return 0;
}

#define ACTIVATION(NAME, RELU_LIKE, ARG, CALL)                                            \
    static ag_tensor *NAME##_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) { \
        (void)training; (void)l;                                                          \
        return CALL;                                                                      \
    }                                                                                     \
    const nn_layer_type nn_##NAME##_type = {                                              \
        .name = #NAME, .usage = #NAME, .arg = ARG, .is_activation = true,                 \
        .relu_like = RELU_LIKE, .build = same_shape_build, .forward = NAME##_forward};

ACTIVATION(relu,       true,  NN_ARG_NONE,     ag_relu(t, x))
ACTIVATION(leaky_relu, true,  NN_ARG_REAL_OPT, ag_leaky_relu(t, x, (ag_real)(l->spec.f ? l->spec.f : 0.01)))
ACTIVATION(elu,        true,  NN_ARG_REAL_OPT, ag_elu(t, x, (ag_real)(l->spec.f ? l->spec.f : 1.0)))
ACTIVATION(tanh,       false, NN_ARG_NONE,     ag_tanh(t, x))
ACTIVATION(sigmoid,    false, NN_ARG_NONE,     ag_sigmoid(t, x))
ACTIVATION(softplus,   true,  NN_ARG_NONE,     ag_softplus(t, x))
ACTIVATION(exp,        false, NN_ARG_NONE,     ag_exp(t, x))

/* ---- dropout: active only when training ---------------------------------------------------- */

static int dropout_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    /* Written so that a NaN fails too, and checked as the op sees the rate: as an ag_real
     * (0.999999999996 is below 1 as a double but rounds to a float 1). */
    double f = l->spec.f;
    if (!(f >= 0 && f < 1 && (ag_real)f < 1))
        return nn_fail(err, "dropout rate must be in [0, 1), got %.12g%s", f,
                       f >= 0 && f < 1 ? " (1 in " AG_REAL_NAME " precision)" : "");
    return same_shape_build(l, rng, err);
}
static ag_tensor *dropout_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    return ag_dropout(t, x, (ag_real)l->spec.f, training);
}
const nn_layer_type nn_dropout_type = {
    .name = "dropout", .usage = "dropout RATE", .arg = NN_ARG_REAL, .init_transparent = true,
    .build = dropout_build, .forward = dropout_forward};

/* ---- flatten and reshape -------------------------------------------------------------- */

static int flatten_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    (void)rng; (void)err;
    l->out_ndim = 1;
    l->out_shape[0] = per_example_size(l);
    return 0;
}
static ag_tensor *reshape_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    (void)training;
    int shape[AG_MAX_DIMS] = {x->shape[0]};
    memcpy(shape + 1, l->out_shape, sizeof(int) * (size_t)l->out_ndim);
    return ag_reshape(t, x, l->out_ndim + 1, shape);
}
const nn_layer_type nn_flatten_type = {
    .name = "flatten", .usage = "flatten", .arg = NN_ARG_NONE,
    .build = flatten_build, .forward = reshape_forward};

static int reshape_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    (void)rng;
    char a[64];
    if (l->spec.ndim < 1 || l->spec.ndim > NN_MAX_SHAPE)
        return nn_fail(err, "reshape needs 1 to %d dimensions, got %d", NN_MAX_SHAPE,
                       l->spec.ndim);
    long long size = 1; /* in 64 bits, stopping early: the numbers may be anything */
    for (int i = 0; i < l->spec.ndim && size <= INT_MAX; i++)
        size = l->spec.shape[i] < 1 ? 0 : size * l->spec.shape[i];
    if (size != per_example_size(l))
        return nn_fail(err, "cannot reshape %d values into %s", per_example_size(l),
                       nn_shape_str(l->spec.ndim, l->spec.shape, a, sizeof a));
    l->out_ndim = l->spec.ndim;
    memcpy(l->out_shape, l->spec.shape, sizeof l->out_shape);
    return 0;
}
const nn_layer_type nn_reshape_type = {
    .name = "reshape", .usage = "reshape D [H W]", .arg = NN_ARG_SHAPE,
    .build = reshape_build, .forward = reshape_forward};
