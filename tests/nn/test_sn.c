/* test_sn.c — the spectrally normalised layers linear_sn and conv_sn (nn/layers_sn.c):
 * their gradient w.r.t. the input, W and b through σ(W) against central differences
 * (evaluation mode, where u and v are fixed, and training mode once power iteration has
 * converged, where one more step leaves σ unchanged to first order), σ against matrices
 * whose largest singular value is known, u and v kept as buffers, spec text, and the moving
 * average of nn/ema.h (update, swap, checkpoint list). */
#include "tests/test.h"
#include "nn/ema.h"
#include "nn/layer.h"

#include <math.h>
#include <string.h>

static nn_net *build(const char *text, int ndim, const int *shape) {
    ag_rng r;
    ag_rng_seed(&r, 5);
    nn_error err = {{0}};
    nn_net *net = nn_net_parse(text, ndim, shape, NULL, &r, &err);
    if (!net) test_fail(__FILE__, __LINE__, "nn_net_parse: %s", err.msg);
    return net;
}

static ag_tensor *input(int n, int ndim, const int *shape, uint64_t seed) {
    int full[AG_MAX_DIMS] = {n};
    memcpy(full + 1, shape, sizeof(int) * (size_t)ndim);
    ag_tensor *x = ag_tensor_new(ndim + 1, full, true);
    ag_rng r;
    ag_rng_seed(&r, seed);
    ag_fill_uniform(&r, x, -1, 1);
    x->name = "x";
    return x;
}

typedef struct { nn_net *net; bool training; } ctx_t;
static ag_tensor *fwd(ag_tape *t, ag_tensor **in, void *c) {
    ctx_t *k = c;
    return nn_forward(k->net, t, in[0], k->training);
}

/* n forward passes in training mode: n power-iteration steps. */
static void iterate(nn_net *net, ag_tensor *x, int n) {
    ag_tape *t = ag_tape_new(1);
    for (int i = 0; i < n; i++) {
        nn_forward(net, t, x, true);
        ag_tape_clear(t);
    }
    ag_tape_free(t);
}

static void gradcheck_net(const char *label, nn_net *net, ag_tensor *x, bool training) {
    ag_tensor *in[4] = {x};
    int n = 1;
    for (int i = 0; i < net->params.n; i++)
        if (net->params.items[i].trainable) in[n++] = net->params.items[i].value;
    CHECK(n == 3); /* x, W, b: u and v are buffers */
    ctx_t c = {net, training};
    ag_gradcheck_report rep = ag_gradcheck(fwd, in, n, &c, NULL);
    if (!rep.ok) ag_gradcheck_print(label, &rep, stderr);
    CHECK(rep.ok);
}

TEST(gradcheck_layer_linear_sn) {
    nn_net *net = build("linear_sn 3", 1, (int[]){5});
    ag_tensor *x = input(4, 1, (int[]){5}, 3);
    gradcheck_net("linear_sn eval", net, x, false);
    iterate(net, x, 200);
    gradcheck_net("linear_sn training, converged", net, x, true);
    ag_tensor_free(x);
    nn_net_free(net);
}

/* Double build only: the float build's step h = 1e-2 is not small beside the filter's
 * weights (about 0.2), and W / σ(W) curves on that scale (central differences are off by 2x
 * there, the analytic gradient is not). */
#ifdef AG_DOUBLE
TEST(gradcheck_layer_conv_sn_k4_s2_p1) {
    nn_net *net = build("conv_sn 3 k4 s2 p1", 3, (int[]){2, 6, 6});
    ag_tensor *x = input(2, 3, (int[]){2, 6, 6}, 4);
    gradcheck_net("conv_sn eval", net, x, false);
    iterate(net, x, 200);
    gradcheck_net("conv_sn training, converged", net, x, true);
    ag_tensor_free(x);
    nn_net_free(net);
}
#endif

/* y = x (W/σ)ᵀ + b, for a W whose σ is known: diag(3, −2, 1) padded with zero columns, and
 * a rank-one p qᵀ (σ = ‖p‖‖q‖). */
TEST(linear_sn_divides_by_the_largest_singular_value) {
    double tol = sizeof(ag_real) == 8 ? 1e-9 : 1e-4;
    for (int which = 0; which < 2; which++) {
        nn_net *net = build("linear_sn 3", 1, (int[]){4});
        nn_layer *l = &net->layers[0];
        ag_tensor *w = nn_params_find(&l->params, "weight")->value;
        ag_tensor *b = nn_params_find(&l->params, "bias")->value;
        double p[3] = {1, -2, 2}, q[4] = {0.5, 0.5, -0.5, 0.5}, sigma = 3; /* both */
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++)
                w->data[i * 4 + j] = (ag_real)(which ? p[i] * q[j]
                                                     : (i == j) * (i == 0 ? 3 : i == 1 ? -2 : 1));
        for (int i = 0; i < 3; i++) b->data[i] = (ag_real)(0.1 * i);
        ag_tensor *x = input(2, 1, (int[]){4}, 9);
        iterate(net, x, which ? 2 : 100); /* rank one: exact after one step */
        ag_tape *t = ag_tape_new(1);
        ag_tensor *y = nn_forward(net, t, x, false);
        for (int r = 0; r < 2; r++)
            for (int i = 0; i < 3; i++) {
                double s = 0.1 * i;
                for (int j = 0; j < 4; j++) s += x->data[r * 4 + j] * w->data[i * 4 + j] / sigma;
                CHECK_NEAR(y->data[r * 3 + i], s, tol);
            }
        ag_tape_free(t);
        ag_tensor_free(x);
        nn_net_free(net);
    }
}

/* u and v are buffers of the net (saved by checkpoints), moved by training-mode passes only;
 * an evaluation pass gives the same output twice. */
TEST(sn_vectors_are_buffers_moved_in_training_only) {
    nn_net *net = build("conv_sn 2 k3, flatten, linear_sn 1", 3, (int[]){1, 4, 4});
    const nn_param *u = nn_params_find(&net->params, "0.conv_sn.u");
    const nn_param *v = nn_params_find(&net->params, "2.linear_sn.v");
    CHECK(u && !u->trainable && u->value->size == 2);
    CHECK(v && !v->trainable && v->value->size == 8);
    CHECK(nn_params_count(&net->params) == (2 * 9 + 2) + (8 + 1));
    ag_real before = u->value->data[0];
    ag_tensor *x = input(3, 3, (int[]){1, 4, 4}, 2);
    ag_tape *t = ag_tape_new(1);
    ag_real y0 = nn_forward(net, t, x, false)->data[0];
    ag_real y1 = nn_forward(net, t, x, false)->data[0];
    CHECK(y0 == y1 && u->value->data[0] == before);
    nn_forward(net, t, x, true);
    CHECK(u->value->data[0] != before);
    ag_tape_free(t);
    ag_tensor_free(x);
    nn_net_free(net);
}

TEST(sn_spec_text_errors_name_the_layer) {
    ag_rng r;
    ag_rng_seed(&r, 1);
    nn_error err = {{0}};
    CHECK(!nn_net_parse("linear_sn", 1, (int[]){3}, NULL, &r, &err));
    CHECK(strstr(err.msg, "linear_sn needs a number"));
    CHECK(!nn_net_parse("conv_sn 4", 3, (int[]){1, 4, 4}, NULL, &r, &err));
    CHECK(strstr(err.msg, "conv_sn needs a kernel size"));
    CHECK(!nn_net_parse("conv_sn 4 k3", 1, (int[]){16}, NULL, &r, &err));
    CHECK(strstr(err.msg, "conv_sn needs an image input"));
}

/* ---- nn_ema --------------------------------------------------------------------------- */

TEST(ema_update_swap_and_state) {
    ag_tensor *w = ag_param(1, (int[]){2}), *buf = ag_tensor_new(1, (int[]){1}, false);
    w->data[0] = 1, w->data[1] = -2;
    nn_param_list l = {0};
    nn_params_add(&l, NULL, "w", w, true);
    nn_params_add(&l, NULL, "running", buf, false);
    nn_ema *e = nn_ema_new(&l, 0.75);
    CHECK(e->n == 1 && e->shadow.n == 1); /* buffers are not averaged */
    w->data[0] = 5, w->data[1] = 2;
    nn_ema_update(e); /* 0.75·1 + 0.25·5 = 2, 0.75·(−2) + 0.25·2 = −1 */
    const ag_real *s = e->shadow.items[0].value->data;
    CHECK_NEAR(s[0], 2, 1e-6);
    CHECK_NEAR(s[1], -1, 1e-6);
    nn_ema_swap(e);
    CHECK(e->swapped && w->data[0] == 2 && w->data[1] == -1 && s[0] == 5);
    EXPECT_ERROR(nn_ema_update(e));
    nn_ema_swap(e);
    CHECK(!e->swapped && w->data[0] == 5 && s[0] == 2);
    nn_param_list saved = {0};
    nn_ema_state(e, "ema", &saved);
    CHECK(saved.n == 1 && !strcmp(saved.items[0].name, "ema.w") && !saved.items[0].trainable);
    CHECK(saved.items[0].value == e->shadow.items[0].value);
    EXPECT_ERROR(nn_ema_new(&l, 1.0));
    nn_params_free(&saved);
    nn_ema_free(e);
    nn_params_free(&l);
    ag_tensor_free(w);
    ag_tensor_free(buf);
}
