/* 03_noise_layer.c — solution to the exercise of docs/03-layers-and-specs.md.
 *
 * The exercise: add a layer "noise STD" that adds Gaussian noise N(0, STD²) to its input
 * while training and is the identity in evaluation (a regulariser, like dropout).  It has
 * no parameters, reads one real number from spec text, and draws its noise from the tape's
 * PRNG.  Use it in spec text, check the two modes, gradcheck a network that contains it,
 * and check that a bad STD is reported as a spec error.
 *
 * No new op is needed: x + STD·ε is ag_add of x and a tensor of noise that requires no
 * gradient, so the tape differentiates it (dy/dx = 1) for free. */
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int noise_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    (void)rng;
    if (!(l->spec.f >= 0)) return nn_fail(err, "noise STD must be >= 0, got %g", l->spec.f);
    l->out_ndim = l->in_ndim;                                  /* same shape out as in */
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    return 0;
}

static ag_tensor *noise_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    if (!training || l->spec.f == 0) return x;                 /* identity: no node at all */
    ag_tensor *eps = ag_randn(t, x->ndim, x->shape, (ag_real)l->spec.f);  /* tape's PRNG */
    return ag_add(t, x, eps);                                  /* x + STD·ε */
}

static const nn_layer_type noise_type = {
    .name = "noise", .usage = "noise STD", .arg = NN_ARG_REAL,
    .build = noise_build, .forward = noise_forward};

typedef struct { nn_net *net; } net_ctx;
static ag_tensor *net_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    return nn_forward(((net_ctx *)ctx)->net, t, in[0], true);  /* training: noise on */
}

int main(void) {
    int failures = 0;
    const nn_layer_type *extra[] = {&noise_type, NULL};
    ag_rng rng;
    ag_rng_seed(&rng, 1);
    nn_error err;
    nn_net *net = nn_net_parse("linear 8, tanh, noise 0.3, linear 2", 1, (int[]){4}, extra, &rng,
                               &err);
    if (!net) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    nn_describe(net, "with a noise layer", stdout);

    /* Training mode adds noise (two calls differ); evaluation mode is deterministic. */
    ag_tape *t = ag_tape_new(2);
    ag_tensor *x = ag_randn(t, 2, (int[]){16, 4}, 1);
    ag_tensor *y1 = nn_forward(net, t, x, true), *y2 = nn_forward(net, t, x, true);
    ag_tensor *e1 = nn_forward(net, t, x, false), *e2 = nn_forward(net, t, x, false);
    double train_diff = 0, eval_diff = 0;
    for (size_t i = 0; i < y1->size; i++) {
        train_diff = fmax(train_diff, fabs(y1->data[i] - y2->data[i]));
        eval_diff = fmax(eval_diff, fabs(e1->data[i] - e2->data[i]));
    }
    printf("two training passes differ by up to %.3f, two evaluation passes by %.3f\n",
           train_diff, eval_diff);
    failures += !(train_diff > 0.01) + !(eval_diff == 0);
    ag_tape_free(t);

    /* Gradcheck in training mode: it reseeds the tape before every evaluation, so each
     * evaluation draws the same noise and the finite differences are meaningful. */
    ag_tensor *in[8] = {ag_tensor_new(2, (int[]){3, 4}, true)};
    int n_in = 1;
    ag_fill_randn(&rng, in[0], 1);
    for (int i = 0; i < net->params.n && n_in < 8; i++)
        if (net->params.items[i].trainable) in[n_in++] = net->params.items[i].value;
    ag_gradcheck_report rep = ag_gradcheck(net_fn, in, n_in, &(net_ctx){net}, NULL);
    ag_gradcheck_print("linear-tanh-noise-linear", &rep, stdout);
    failures += !rep.ok;
    ag_tensor_free(in[0]);

    /* A negative STD is the user's mistake, reported with the layer and its spec. */
    nn_net *bad = nn_net_parse("noise -1", 1, (int[]){4}, extra, &rng, &err);
    printf("expected error: %s\n", bad ? "(none)" : err.msg);
    failures += bad != NULL || strstr(err.msg, "noise STD must be >= 0") == NULL;

    nn_net_free(net);
    printf("%s\n", failures ? "FAIL" : "all checks passed");
    return failures != 0;
}
