/* test_user_layers.c — a user's layer type (docs/add-a-layer.md) named in the spec text of
 * every model of vae/: vae_config, gan_config and bz_config take the NULL-terminated table
 * in .layer_types; the model builds, the layer's parameter is among the model's, it gets a
 * gradient from the model's loss; without the table the same text fails naming the layer. */
#include "tests/test.h"
#include "vae/gan.h"
#include "vae/vae.h"

#include <string.h>

/* "gain": y = x ⊙ γ, γ (D) learned, starting at 1 */
static int gain_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    (void)rng;
    if (l->in_ndim != 1) return nn_fail(err, "gain needs a vector input");
    ag_fill(nn_layer_param(l, "gamma", 1, l->in_shape, true), 1);
    l->out_ndim = 1;
    l->out_shape[0] = l->in_shape[0];
    return 0;
}
static ag_tensor *gain_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    (void)training;
    return ag_mul(t, x, l->params.items[0].value);
}
static const nn_layer_type gain_type = {.name = "gain", .usage = "gain",
                                        .build = gain_build, .forward = gain_forward};
static const nn_layer_type *const user_types[] = {&gain_type, NULL};

/* The parameter called name in list, or NULL. */
static ag_tensor *find(const nn_param_list *l, const char *name) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->items[i].name, name)) return l->items[i].value;
    return NULL;
}

static bool has_gradient(const ag_tensor *p) {
    if (!p || !p->grad) return false;
    for (size_t i = 0; i < p->size; i++)
        if (p->grad[i] != 0) return true;
    return false;
}

TEST(user_layer_in_vae_encoder_text) {
    vae_config c = {.x_ndim = 1, .x_shape = {6}, .z_dim = 2,
                    .encoder_text = "linear 8, gain, tanh, linear 4",
                    .decoder_text = "linear 8, tanh, linear 6", .layer_types = user_types,
                    .seed = 3};
    nn_error err;
    vae *m = vae_new(&c, &err);
    CHECK(m != NULL);
    if (!m) return;
    ag_tensor *gamma = find(vae_params(m), "encoder.1.gain.gamma");
    CHECK(gamma != NULL && gamma->size == 8);
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_uniform(t, 2, (int[]){5, 6}, 0, 1);
    ag_backward(t, vae_loss(m, t, x, true, NULL));
    CHECK(has_gradient(gamma));
    ag_tape_free(t);
    vae_free(m);
    c.layer_types = NULL;
    CHECK(vae_new(&c, &err) == NULL);
    CHECK(strstr(err.msg, "encoder") != NULL && strstr(err.msg, "gain") != NULL);
}

TEST(user_layer_in_gan_text) {
    gan_config c = {.x_ndim = 1, .x_shape = {2}, .z_dim = 2,
                    .generator_text = "linear 8, gain, relu, linear 2",
                    .discriminator_text = "linear 8, gain, relu, linear 1",
                    .layer_types = user_types, .seed = 3};
    nn_error err;
    gan *g = gan_new(&c, &err);
    CHECK(g != NULL);
    if (!g) return;
    ag_tensor *gd = find(&g->d_params, "discriminator.1.gain.gamma");
    ag_tensor *gg = find(&g->g_params, "generator.1.gain.gamma");
    CHECK(gd && gg);
    ag_tape *t = ag_tape_new(1);
    ag_backward(t, gan_d_loss(g, t, ag_randn(t, 2, (int[]){4, 2}, 1), NULL));
    CHECK(has_gradient(gd));
    ag_tape_clear(t);
    ag_backward(t, gan_g_loss(g, t, 4, NULL));
    CHECK(has_gradient(gg));
    ag_tape_free(t);
    gan_free(g);
    c.layer_types = NULL;
    CHECK(gan_new(&c, &err) == NULL && strstr(err.msg, "gain") != NULL);
}

TEST(user_layer_in_boltzmann_sampler_text) {
    bz_energy e = bz_double_well();
    bz_config c = {.z_dim = 2, .encoder_text = "linear 8, gain, tanh, linear 4",
                   .decoder_text = "linear 8, tanh, linear 4", .layer_types = user_types,
                   .seed = 3};
    nn_error err;
    bz_sampler *s = bz_new(&e, &c, &err);
    CHECK(s != NULL);
    if (!s) return;
    ag_tensor *gamma = find(bz_params(s), "encoder.1.gain.gamma");
    CHECK(gamma != NULL);
    ag_tape *t = ag_tape_new(1);
    ag_backward(t, bz_loss(s, t, 8, 1, NULL));
    CHECK(has_gradient(gamma));
    ag_tape_free(t);
    bz_free(s);
    c.layer_types = NULL;
    CHECK(bz_new(&e, &c, &err) == NULL && strstr(err.msg, "gain") != NULL);
}
