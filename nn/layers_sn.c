/* layers_sn.c — spectral normalisation (Miyato et al. 2018): linear_sn and conv_sn are
 * linear and conv whose weight W is divided by its largest singular value σ(W) before use,
 * so each layer is 1-Lipschitz and a discriminator built from them cannot grow arbitrarily
 * steep.  W is seen as a matrix (out, rest): (out, in) for linear, (F, C·k·k) for conv.
 *
 * σ(W) comes from power iteration with a vector u (out) kept between steps.  In training
 * mode each forward pass takes one step of it from the u of the last one:
 *     v ← Wᵀu / ‖Wᵀu‖,   u ← W v / ‖W v‖,   σ = uᵀ W v,
 * and in evaluation mode the stored u and v are used as they are (as in
 * torch.nn.utils.spectral_norm).  u and v are buffers, so checkpoints keep them and a
 * resumed run goes on exactly.  The gradient flows through σ with u, v held constant
 * (the paper's eq. (12)): ∂σ/∂W = u vᵀ, recorded on the tape as σ = Σ W ⊙ (u vᵀ). */
#include "nn/layer.h"

#include <math.h>
#include <string.h>

enum { SN_WEIGHT, SN_BIAS, SN_U, SN_V }; /* the order of the layer's entries */

/* ‖x‖ with PyTorch's floor (eps 1e-12), x ← x / ‖x‖. */
static void normalise(ag_real *x, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)x[i] * x[i];
    double norm = sqrt(s);
    if (norm < 1e-12) norm = 1e-12;
    for (int i = 0; i < n; i++) x[i] = (ag_real)(x[i] / norm);
}

/* After the plain layer's build: u (out) and v (rest), random unit vectors. */
static int add_vectors(nn_layer *l, ag_rng *rng) {
    const ag_tensor *w = l->params.items[SN_WEIGHT].value;
    int out = w->shape[0], rest = (int)(w->size / (size_t)out);
    ag_tensor *u = nn_layer_param(l, "u", 1, (int[]){out}, false);
    ag_tensor *v = nn_layer_param(l, "v", 1, (int[]){rest}, false);
    ag_fill_randn(rng, u, 1);
    ag_fill_randn(rng, v, 1);
    normalise(u->data, out);
    normalise(v->data, rest);
    return 0;
}

/* One power-iteration step on the stored u and v (in place: no allocation). */
static void power_step(const ag_tensor *w, ag_tensor *u, ag_tensor *v) {
    int out = w->shape[0], rest = (int)(w->size / (size_t)out);
    for (int j = 0; j < rest; j++) v->data[j] = 0;
    for (int i = 0; i < out; i++) { /* v = Wᵀu, row by row for W's row-major layout */
        const ag_real *row = w->data + (size_t)i * rest;
        ag_real ui = u->data[i];
        for (int j = 0; j < rest; j++) v->data[j] += ui * row[j];
    }
    normalise(v->data, rest);
    for (int i = 0; i < out; i++) { /* u = W v */
        const ag_real *row = w->data + (size_t)i * rest;
        double s = 0;
        for (int j = 0; j < rest; j++) s += (double)row[j] * v->data[j];
        u->data[i] = (ag_real)s;
    }
    normalise(u->data, out);
}

/* W / σ(W) on the tape, σ = Σ W ⊙ (u vᵀ) with u vᵀ a constant. */
static ag_tensor *normalised_weight(nn_layer *l, ag_tape *t, bool training) {
    ag_tensor *w = l->params.items[SN_WEIGHT].value;
    ag_tensor *u = l->params.items[SN_U].value, *v = l->params.items[SN_V].value;
    if (training) power_step(w, u, v);
    int out = w->shape[0], rest = (int)(w->size / (size_t)out);
    ag_tensor *uv = ag_zeros(t, w->ndim, w->shape);
    for (int i = 0; i < out; i++)
        for (int j = 0; j < rest; j++) uv->data[(size_t)i * rest + j] = u->data[i] * v->data[j];
    ag_tensor *sigma = ag_sum(t, ag_mul(t, w, uv));
    return ag_div(t, w, sigma);
}

static int linear_sn_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    if (nn_linear_type.build(l, rng, err)) return -1;
    return add_vectors(l, rng);
}
static ag_tensor *linear_sn_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    if (x->ndim != 2) x = ag_reshape(t, x, 2, (int[]){x->shape[0], (int)(x->size / (size_t)x->shape[0])});
    return ag_linear(t, x, normalised_weight(l, t, training), l->params.items[SN_BIAS].value);
}
const nn_layer_type nn_linear_sn_type = {
    .name = "linear_sn", .usage = "linear_sn UNITS [init=he|xavier|torch|normal:STD]",
    .arg = NN_ARG_INT, .build = linear_sn_build, .forward = linear_sn_forward};

static int conv_sn_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    if (nn_conv_type.build(l, rng, err)) return -1;
    return add_vectors(l, rng);
}
static ag_tensor *conv_sn_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    return ag_conv2d(t, x, normalised_weight(l, t, training), l->params.items[SN_BIAS].value,
                     l->spec.s ? l->spec.s : 1, l->spec.p);
}
const nn_layer_type nn_conv_sn_type = {
    .name = "conv_sn", .usage = "conv_sn FILTERS kK [sS] [pP] [init=...]", .arg = NN_ARG_INT,
    .keys = true, .build = conv_sn_build, .forward = conv_sn_forward};
