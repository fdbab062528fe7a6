/* test_gan_freeze.c — nn_params_set_requires_grad, as a GAN's generator step uses it
 * (examples/gan.c, gan2d.c): with D's parameters frozen, G's gradients are the very same
 * bits as with D unfrozen (the gradient still flows through D into G), D's .grad is left
 * exactly as it was (no dW product ran), and unfreezing brings D's gradients back.  The
 * DCGAN-like nets below cover every op with a weight: linear, conv, convt, batchnorm. */
#include "tests/test.h"
#include "vae/gan.h"

#include <stdlib.h>
#include <string.h>

#define SENTINEL ((ag_real)7.25)

static gan *make_dcgan(void) {
    nn_error err = {{0}};
    gan *g = gan_new(&(gan_config){
        .x_ndim = 3, .x_shape = {1, 8, 8}, .z_dim = 5,
        .generator_text = "linear 32, batchnorm, relu, reshape 8 2 2, convt 4 k4 s2 p1, "
                          "batchnorm, relu, convt 1 k4 s2 p1, sigmoid",
        .discriminator_text = "conv 4 k4 s2 p1, leaky_relu 0.2, conv 6 k4 s2 p1, batchnorm, "
                              "leaky_relu 0.2, flatten, linear 1",
        .seed = 3}, &err);
    if (!g) test_fail(__FILE__, __LINE__, "gan_new: %s", err.msg);
    return g;
}

/* G's loss on 6 samples from a fixed z stream, backward; returns G's gradients flattened. */
static size_t g_step_grads(gan *g, ag_tape *t, ag_real *out) {
    ag_rng_seed(ag_tape_rng(t), 11);
    ag_backward(t, gan_g_loss(g, t, 6, &(gan_stats){0}));
    size_t k = 0;
    for (int i = 0; i < g->g_params.n; i++) {
        const ag_tensor *v = g->g_params.items[i].value;
        if (!g->g_params.items[i].trainable) continue;
        memcpy(out + k, v->grad, v->size * sizeof(ag_real));
        k += v->size;
    }
    ag_tape_clear(t);
    return k;
}

static void fill_grads(const nn_param_list *l, ag_real v) {
    for (int i = 0; i < l->n; i++)
        if (l->items[i].trainable) {
            ag_tensor *x = l->items[i].value;
            ag_zero_grad(x);
            for (size_t j = 0; j < x->size; j++) x->grad[j] = v;
        }
}

/* Whether every trainable gradient of l equals v. */
static bool grads_all(const nn_param_list *l, ag_real v) {
    for (int i = 0; i < l->n; i++)
        if (l->items[i].trainable)
            for (size_t j = 0; j < l->items[i].value->size; j++)
                if (l->items[i].value->grad[j] != v) return false;
    return true;
}

TEST(gan_g_step_with_frozen_d_gives_the_same_g_gradients) {
    gan *g = make_dcgan();
    ag_tape *t = ag_tape_new(1);
    size_t n = nn_params_count(&g->g_params);
    ag_real *before = calloc(n, sizeof(ag_real)), *after = calloc(n, sizeof(ag_real));

    nn_params_zero_grad(&g->g_params);
    fill_grads(&g->d_params, SENTINEL);
    CHECK(g_step_grads(g, t, before) == n);
    CHECK(!grads_all(&g->d_params, SENTINEL));        /* unfrozen: D's gradients formed */

    nn_params_zero_grad(&g->g_params);
    fill_grads(&g->d_params, SENTINEL);
    nn_params_set_requires_grad(&g->d_params, false);
    CHECK(g_step_grads(g, t, after) == n);
    CHECK(grads_all(&g->d_params, SENTINEL));         /* frozen: untouched */
    CHECK(memcmp(before, after, n * sizeof(ag_real)) == 0);   /* bit for bit */
    bool any = false;
    for (size_t i = 0; i < n; i++) any |= after[i] != 0;
    CHECK(any);                                       /* the gradient did reach G */

    nn_params_set_requires_grad(&g->d_params, true);  /* and back */
    nn_params_zero_grad(&g->g_params);
    fill_grads(&g->d_params, SENTINEL);
    CHECK(g_step_grads(g, t, after) == n);
    CHECK(!grads_all(&g->d_params, SENTINEL));
    CHECK(memcmp(before, after, n * sizeof(ag_real)) == 0);

    free(before), free(after);
    ag_tape_free(t);
    gan_free(g);
}

/* Buffers (batch norm's running statistics) never require grad, frozen or not. */
TEST(set_requires_grad_leaves_buffers_alone) {
    gan *g = make_dcgan();
    nn_params_set_requires_grad(&g->d_params, false);
    for (int i = 0; i < g->d_params.n; i++)
        CHECK(!g->d_params.items[i].value->requires_grad);
    nn_params_set_requires_grad(&g->d_params, true);
    for (int i = 0; i < g->d_params.n; i++)
        CHECK(g->d_params.items[i].value->requires_grad == g->d_params.items[i].trainable);
    gan_free(g);
}
