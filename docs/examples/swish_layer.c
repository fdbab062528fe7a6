/* swish_layer.c — adding a layer that henbun does not have, from outside the library.
 *
 * The layer: swish with a learnable β per feature (Ramachandran et al. 2017),
 *   y_ij = x_ij · σ(β_j x_ij),   x (N, D), β (D), β starting at 1 (or the spec's number)
 * It is written as a user would write it — nothing here is private API — and then used in
 * spec text ("linear 16, swish, linear 1") through the `extra` table of nn_net_parse.
 * docs/add-a-layer.md walks through this file; examples/custom_op.c explains the op API
 * in more depth.
 *
 *   cc -std=c11 -fopenmp -I. docs/examples/swish_layer.c build/float/libhenbun.a \
 *      -lz -lstb -lm -o swish_layer && ./swish_layer
 *
 * It gradchecks the op, checks it against the same function composed from built-in ops,
 * gradchecks a whole network that uses the layer, and exits 0 when all of that passes. */
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- 1. the op: forward and backward side by side ---------------------------------------
 * x (N, D) and β (D).  Forward keeps s = σ(βx) in n->saved (tape memory, freed with the
 * node at ag_tape_clear) because both derivatives use it:
 *   dy/dx = s + βx·s(1 - s)        dy/dβ_j = Σ_i x²·s(1 - s)   (β_j is shared by the rows) */

static void swish_fwd(ag_node *n) {
    const ag_tensor *x = n->in[0];
    const ag_real *beta = n->in[1]->data;
    int D = x->shape[1];
    ag_real *s = n->saved = ag_tape_alloc(n->tape, x->size * sizeof(ag_real));
    for (size_t i = 0; i < x->size; i++) {
        double bx = (double)beta[i % D] * x->data[i];
        s[i] = (ag_real)(bx >= 0 ? 1 / (1 + exp(-bx)) : exp(bx) / (1 + exp(bx))); /* σ, no overflow */
        n->out->data[i] = x->data[i] * s[i];                                      /* x σ(βx) */
    }
}

static void swish_bwd(ag_node *n) {
    const ag_tensor *x = n->in[0];
    const ag_real *beta = n->in[1]->data, *s = n->saved, *dy = n->out->grad;
    int N = x->shape[0], D = x->shape[1];
    /* ag_node_grad: the buffer to ADD into, or NULL when that input needs no gradient. */
    ag_real *dx = ag_node_grad(n, 0), *dbeta = ag_node_grad(n, 1);
    for (int j = 0; j < D; j++) {
        double sum = 0;
        for (int i = 0; i < N; i++) {
            size_t k = (size_t)i * D + j;
            ag_real v = x->data[k], ds = s[k] * (1 - s[k]);          /* σ'(βx) */
            if (dx) dx[k] += dy[k] * (s[k] + beta[j] * v * ds);     /* s + βx s(1-s) */
            sum += (double)dy[k] * v * v * ds;                      /* x² s(1-s) */
        }
        if (dbeta) dbeta[j] += (ag_real)sum; /* summed first, added once: repeatable */
    }
}

static const ag_op swish_op = {"swish", swish_fwd, swish_bwd};

/* The constructor: check shapes (misuse is a programmer error: ag_error), then ag_apply
 * makes the output, runs forward and records the node when a gradient is needed. */
static ag_tensor *swish(ag_tape *t, ag_tensor *x, ag_tensor *beta) {
    if (x->ndim != 2 || beta->ndim != 1 || beta->shape[0] != x->shape[1]) {
        char a[64], b[64];
        ag_error("swish", "expected x (N, D) and beta (D), got %s and %s",
                 ag_shape_str(x, a, sizeof a), ag_shape_str(beta, b, sizeof b));
    }
    return ag_apply(t, &swish_op, (ag_tensor *[]){x, beta}, 2, 2, x->shape, NULL, 0);
}

/* The same function from built-in ops, for comparison: three nodes on the tape and two
 * intermediates of x's size, where the fused op has one node and one saved buffer. */
static ag_tensor *swish_composed(ag_tape *t, ag_tensor *x, ag_tensor *beta) {
    return ag_mul(t, x, ag_sigmoid(t, ag_mul(t, x, beta))); /* β (D) broadcasts over rows */
}

/* ---- 2. the layer type: build (shapes, parameters) and forward --------------------------- */

static int swish_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    (void)rng; /* nothing random: β starts at a constant */
    if (l->in_ndim != 1)
        return nn_fail(err, "swish needs a vector input (D) per example; put 'flatten' before it");
    ag_tensor *beta = nn_layer_param(l, "beta", 1, l->in_shape, true); /* (D), owned by l */
    ag_fill(beta, (ag_real)(l->spec.f != 0 ? l->spec.f : 1));            /* "swish 0.5" */
    l->out_ndim = 1;
    l->out_shape[0] = l->in_shape[0];
    return 0;
}

static ag_tensor *swish_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    (void)training; /* behaves the same in training and evaluation */
    return swish(t, x, l->params.items[0].value);
}

static const nn_layer_type swish_type = {
    .name = "swish",                /* its keyword in spec text */
    .usage = "swish [BETA0]",       /* shown in parse errors */
    .arg = NN_ARG_REAL_OPT,         /* an optional number, stored in spec.f */
    .is_activation = true,          /* so NN_INIT_AUTO initialises the layer before it */
    .relu_like = true,              /* ... with He, as before a ReLU */
    .build = swish_build,
    .forward = swish_forward,
};

/* ---- 3. using and checking it ------------------------------------------------------------ */

static ag_tensor *op_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    return swish(t, in[0], in[1]);
}

typedef struct { nn_net *net; } net_ctx;
static ag_tensor *net_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    return nn_forward(((net_ctx *)ctx)->net, t, in[0], true);
}

int main(void) {
    ag_rng rng;
    ag_rng_seed(&rng, 1);
    bool ok = true;

    /* (a) The op alone: backward against central differences. */
    ag_tensor *x = ag_tensor_new(2, (int[]){5, 3}, true), *beta = ag_tensor_new(1, (int[]){3}, true);
    x->name = "x";
    beta->name = "beta";
    ag_fill_randn(&rng, x, 1.5);
    ag_fill_uniform(&rng, beta, 0.5, 1.5);
    ag_gradcheck_report op_rep = ag_gradcheck(op_fn, (ag_tensor *[]){x, beta}, 2, NULL, NULL);
    ag_gradcheck_print("swish op", &op_rep, stdout);
    ok &= op_rep.ok;

    /* (b) The fused op computes what the composition of built-in ops computes. */
    ag_tape *t = ag_tape_new(1);
    ag_tensor *y1 = swish(t, x, beta), *y2 = swish_composed(t, x, beta);
    double max_diff = 0;
    for (size_t i = 0; i < y1->size; i++) max_diff = fmax(max_diff, fabs((double)y1->data[i] - y2->data[i]));
    printf("fused vs composed: max |difference| %.2e\n", max_diff);
    ok &= max_diff < 1e-5;
    ag_tensor_free(x);
    ag_tensor_free(beta);

    /* (c) The layer in spec text: the `extra` table makes "swish" a keyword. */
    const nn_layer_type *extra[] = {&swish_type, NULL};
    nn_error err;
    nn_net *net = nn_net_parse("linear 16, swish, linear 1", 1, (int[]){4}, extra, &rng, &err);
    if (!net) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    nn_describe(net, "linear 16, swish, linear 1", stdout);

    /* (d) The whole network: gradients w.r.t. the input and every trainable parameter
     * (the layers' weights, and swish's β). */
    ag_tensor *in[8] = {ag_tensor_new(2, (int[]){3, 4}, true)};
    int n_in = 1;
    ag_fill_randn(&rng, in[0], 1);
    for (int i = 0; i < net->params.n && n_in < 8; i++)
        if (net->params.items[i].trainable) in[n_in++] = net->params.items[i].value;
    ag_gradcheck_report net_rep = ag_gradcheck(net_fn, in, n_in, &(net_ctx){net}, NULL);
    ag_gradcheck_print("linear-swish-linear", &net_rep, stdout);
    ok &= net_rep.ok;

    /* (e) A shape error is reported with the layer, its spec and its input. */
    nn_net *bad = nn_net_parse("swish", 3, (int[]){1, 4, 4}, extra, &rng, &err);
    printf("expected error: %s\n", bad ? "(none)" : err.msg);
    ok &= bad == NULL && strstr(err.msg, "layer 0 (swish): input (1, 4, 4)") != NULL;

    printf("result: op_rel_err=%.2e net_rel_err=%.2e fused_vs_composed=%.2e ok=%d\n",
           op_rep.max_rel_err, net_rep.max_rel_err, max_diff, ok);
    nn_net_free(bad);
    ag_tensor_free(in[0]);
    nn_net_free(net);
    ag_tape_free(t);
    return ok ? 0 : 1;
}
