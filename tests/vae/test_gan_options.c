/* test_gan_options.c — the GAN's quality options of issue #20 in the library: one-sided
 * label smoothing of D's loss against its formula (D a constant logit), and the gradient of
 * D's loss with label smoothing and a spectrally normalised discriminator (linear_sn,
 * evaluation mode so that u and v stay fixed) against central differences. */
#include "tests/test.h"
#include "vae/gan.h"

#include <math.h>

static gan *make(const char *disc, double smooth) {
    nn_error err = {{0}};
    gan *g = gan_new(&(gan_config){.x_ndim = 1, .x_shape = {3}, .z_dim = 2,
                                   .generator_text = "linear 4, tanh, linear 3",
                                   .discriminator_text = disc, .label_smooth = smooth,
                                   .seed = 3},
                     &err);
    if (!g) test_fail(__FILE__, __LINE__, "gan_new: %s", err.msg);
    return g;
}

static double log_sigmoid(double l) { return -log1p(exp(-l)); }

/* D = σ(c) everywhere (weights 0, bias c): d_loss = −[(1 − s) ln σ(c) + s ln σ(−c)] − ln σ(−c),
 * while the value V = ln σ(c) + ln σ(−c) is the unsmoothed one. */
TEST(gan_label_smoothing_moves_the_real_target) {
    double tol = sizeof(ag_real) == 8 ? 1e-12 : 1e-6, c = 0.8;
    for (int k = 0; k < 2; k++) {
        double s = k ? 0.1 : 0;
        gan *g = make("linear 1", s);
        if (!g) return;
        ag_fill(g->discriminator->params.items[0].value, 0);
        ag_fill(g->discriminator->params.items[1].value, (ag_real)c);
        ag_tape *t = ag_tape_new(1);
        ag_tensor *x = ag_zeros(t, 2, (int[]){4, 3});
        gan_stats st;
        ag_tensor *loss = gan_d_loss(g, t, x, &st);
        double want = -((1 - s) * log_sigmoid(c) + s * log_sigmoid(-c)) - log_sigmoid(-c);
        CHECK_NEAR(ag_item(loss), want, tol);
        CHECK_NEAR(st.value, log_sigmoid(c) + log_sigmoid(-c), tol);
        ag_tape_free(t);
        gan_free(g);
    }
}

typedef struct { gan *g; ag_tensor *x; } ctx_t;
static ag_tensor *d_loss_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)in;
    ctx_t *c = ctx;
    return gan_d_loss(c->g, t, c->x, NULL);
}

TEST(gradcheck_gan_d_loss_label_smoothing_and_sn) {
    gan *g = make("linear_sn 5, tanh, linear_sn 1", 0.2);
    if (!g) return;
    gan_set_training(g, false); /* u, v fixed: the loss is a function of the weights */
    ag_rng r;
    ag_rng_seed(&r, 4);
    ag_tensor *x = ag_tensor_new(2, (int[]){6, 3}, false);
    ag_fill_randn(&r, x, 1);
    ag_tensor *in[8];
    int n = 0;
    for (int i = 0; i < g->d_params.n; i++)
        if (g->d_params.items[i].trainable) in[n++] = g->d_params.items[i].value;
    CHECK(n == 4);
    ctx_t c = {g, x};
    ag_gradcheck_report rep = ag_gradcheck(d_loss_fn, in, n, &c, NULL);
    if (!rep.ok) ag_gradcheck_print("gan_d_loss smooth+sn", &rep, stderr);
    CHECK(rep.ok);
    ag_tensor_free(x);
    gan_free(g);
}
