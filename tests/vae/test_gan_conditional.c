/* test_gan_conditional.c — the class-conditional GAN of vae/gan.h (n_classes > 0: G(z, y)
 * and a projection discriminator l(x, y) = ψ(φ(x)) + e_yᵀφ(x), Miyato & Koyama 2018):
 *   - the logit is that formula: with E = 0 it is the unconditional D's, and two labels
 *     differ by exactly (e_y − e_y')ᵀφ(x), φ the input of D's last layer;
 *   (gradients of the losses, E included: gradcheck_gan_conditional_losses in test_gan.c,
 *   beside the unconditional ones, whose helpers it shares);
 *   - trained on pairs whose label decides the mode (x ≈ −2 for y = 0, +2 for y = 1),
 *     G(z, 0) and G(z, 1) must land on their own modes: a G or D that ignored y could only
 *     give both labels the same distribution;
 *   - labels drawn uniformly, DRS on pairs, and the refusals (labels missing, given to an
 *     unconditional gan, out of range; pack > 1). */
#include "tests/test.h"
#include "vae/gan.h"

#include <math.h>
#include <string.h>

static gan *make_cgan(int x_dim, int z_dim, int K, const char *gen, const char *disc,
                      uint64_t seed) {
    nn_error err = {{0}};
    gan *g = gan_new(&(gan_config){.x_ndim = 1, .x_shape = {x_dim}, .z_dim = z_dim,
                                   .generator_text = gen, .discriminator_text = disc,
                                   .n_classes = K, .seed = seed},
                     &err);
    if (!g) test_fail(__FILE__, __LINE__, "gan_new: %s", err.msg);
    return g;
}

TEST(gan_conditional_logit_is_the_projection) {
    gan *g = make_cgan(3, 2, 4, "linear 4, tanh, linear 3", "linear 5, tanh, linear 1", 3);
    if (!g) return;
    CHECK(g->feat_dim == 5 && g->projection->shape[0] == 4 && g->projection->shape[1] == 5);
    CHECK(nn_params_find(&g->d_params, "discriminator.projection"));
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_randn(t, 2, (int[]){6, 3}, 1);
    const int y0[6] = {0, 1, 2, 3, 0, 1}, y1[6] = {3, 3, 0, 1, 2, 0};
    /* E = 0 at the start: the logit is D's plain one for every label */
    ag_tensor *plain = nn_forward(g->discriminator, t, x, true);
    ag_tensor *l0 = gan_d_logits_labeled(g, t, x, y0);
    for (int i = 0; i < 6; i++) CHECK_NEAR(l0->data[i], plain->data[i], 1e-6);
    ag_rng r;
    ag_rng_seed(&r, 5);
    ag_fill_randn(&r, g->projection, 1);
    ag_tensor *phi = nn_forward_to(g->discriminator, t, x, true, 2); /* tanh(W x + b) */
    EXPECT_ERROR(nn_forward_to(g->discriminator, t, x, true, 4)); /* the net has 3 layers */
    CHECK(strstr(test_last_error, "0..3"));
    l0 = gan_d_logits_labeled(g, t, x, y0);
    ag_tensor *l1 = gan_d_logits_labeled(g, t, x, y1);
    for (int i = 0; i < 6; i++) {
        double d = 0;
        for (int f = 0; f < 5; f++)
            d += (g->projection->data[y0[i] * 5 + f] - g->projection->data[y1[i] * 5 + f]) *
                 phi->data[i * 5 + f];
        CHECK_NEAR(l0->data[i] - l1->data[i], d, 1e-5);
    }
    ag_tape_free(t);
    gan_free(g);
}

/* ---- training: the label picks the mode ------------------------------------------------------ */

/* Pairs (x, y): y ∈ {0, 1} equally often, x = −2 + 0.3ε for y = 0 and +2 + 0.3ε for y = 1.
 * 2000 rounds of eq. (20)-(21) with a small G(z, y) and a projection D; then 4000 samples
 * of each label must have their mean within 0.25 of their mode and a spread under 0.8
 * (an unconditional fit of the mixture would put half of each label's samples on the
 * other mode: mean ≈ 0, spread ≈ 2). */
TEST(gan_conditional_training_follows_the_label) {
    gan *g = make_cgan(1, 2, 2, "linear 32, tanh, linear 1", "linear 32, tanh, linear 1", 61);
    if (!g) return;
    nn_optim *od = nn_adam(&g->d_params, 2e-3), *og = nn_adam(&g->g_params, 2e-3);
    nn_optim_set_betas(od, 0.5, 0.999, 1e-8);
    nn_optim_set_betas(og, 0.5, 0.999, 1e-8);
    enum { ROUNDS = 2000, B = 64, N = 4000 };
    int y[B];
    ag_tape *t = ag_tape_new(62);
    for (int r = 0; r < ROUNDS; r++) {
        ag_tensor *x = ag_randn(t, 2, (int[]){B, 1}, 0.3);
        for (int i = 0; i < B; i++) {
            y[i] = (int)ag_rng_below(ag_tape_rng(t), 2);
            x->data[i] += y[i] ? 2 : -2;
        }
        ag_backward(t, gan_d_loss_labeled(g, t, x, y, NULL));
        nn_optim_step(od);
        nn_optim_zero_grad(od);
        ag_tape_clear(t);
        ag_backward(t, gan_g_loss_labeled(g, t, y, B, NULL));
        nn_optim_step(og);
        nn_optim_zero_grad(og);
        nn_optim_zero_grad(od);
        ag_tape_clear(t);
    }
    ag_set_grad_enabled(t, false);
    static int labels[N];
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < N; i++) labels[i] = k;
        ag_tensor *s = gan_generate_labeled(g, t, gan_sample_z(g, t, N), labels);
        double m = 0, v = 0;
        for (int i = 0; i < N; i++) m += s->data[i] / N;
        for (int i = 0; i < N; i++) v += (s->data[i] - m) * (s->data[i] - m) / (N - 1);
        CHECK_NEAR(m, k ? 2 : -2, 0.25);
        CHECK(sqrt(v) < 0.8);
        ag_tape_clear(t);
    }
    ag_tape_free(t);
    nn_optim_free(od);
    nn_optim_free(og);
    gan_free(g);
}

/* ---- labels, DRS, refusals --------------------------------------------------------------------- */

TEST(gan_sample_labels_are_uniform) {
    gan *g = make_cgan(2, 1, 5, "linear 2", "linear 1", 1);
    if (!g) return;
    ag_tape *t = ag_tape_new(3);
    enum { N = 50000 };
    const int *y = gan_sample_labels(g, t, N);
    int count[5] = {0};
    for (int i = 0; i < N; i++) {
        CHECK(y[i] >= 0 && y[i] < 5);
        if (y[i] >= 0 && y[i] < 5) count[y[i]]++;
    }
    for (int k = 0; k < 5; k++) CHECK_NEAR(count[k], N / 5, 5 * sqrt(N * 0.2 * 0.8));
    ag_tape_free(t);
    gan_free(g);
}

/* DRS draws a label with each sample and D judges the pair.  G(z, y) = z, z ~ N(0, 1),
 * whatever y; D's logit l(x, 0) = 0 and l(x, 1) = 1.5x (its one weight and bias 0, the
 * projection E = (0; 1.5) on φ = x).  Exact DRS keeps (x, y) with weight ½N(x)e^{l}: label 0
 * keeps N(0, 1) with mass 1, label 1 N(1.5, 1) with mass E e^{1.5x} = e^{1.125}, so the kept
 * x have mean 1.5·e^{1.125}/(1 + e^{1.125}) = 1.132 (a D that saw only label 0 would give 0,
 * only label 1: 1.5); sd of the mean ≈ 1.19/√2000. */
TEST(gan_drs_sample_judges_the_pairs) {
    gan *g = make_cgan(1, 1, 2, "linear 1", "linear 1", 4);
    if (!g) return;
    ag_tensor *wg = nn_params_find(&g->generator->params, "0.linear.weight")->value;
    ag_tensor *bg = nn_params_find(&g->generator->params, "0.linear.bias")->value;
    ag_tensor *wd = nn_params_find(&g->discriminator->params, "0.linear.weight")->value;
    ag_tensor *bd = nn_params_find(&g->discriminator->params, "0.linear.bias")->value;
    CHECK(wg->size == 3 && bg->size == 1 && wd->size == 1 && bd->size == 1);
    memset(wg->data, 0, sizeof(ag_real) * 3);
    wg->data[0] = 1, bg->data[0] = 0, wd->data[0] = 0, bd->data[0] = 0; /* z's weight first */
    g->projection->data[0] = 0, g->projection->data[1] = (ag_real)1.5;
    ag_tape *t = ag_tape_new(8);
    gan_drs d = {.gamma = 0};
    enum { N = 2000 };
    static ag_real out[N];
    int got = gan_drs_sample(g, t, &d, 10000, N, 500, 0, out);
    CHECK(got == N);
    double m = 0;
    for (int i = 0; i < got; i++) m += out[i] / got;
    CHECK_NEAR(m, 1.5 * exp(1.125) / (1 + exp(1.125)), 0.12);
    ag_tape_free(t);
    gan_free(g);
}

TEST(gan_conditional_refusals) {
    nn_error err = {{0}};
    gan *g = gan_new(&(gan_config){.x_ndim = 1, .x_shape = {2}, .z_dim = 1,
                                   .generator_text = "linear 2", .discriminator_text = "linear 1",
                                   .n_classes = 3, .pack = 2},
                     &err);
    CHECK(!g && strstr(err.msg, "pack"));
    g = gan_new(&(gan_config){.x_ndim = 1, .x_shape = {2}, .z_dim = 1,
                              .generator_text = "linear 2", .discriminator_text = "linear 1",
                              .n_classes = -1},
                &err);
    CHECK(!g && strstr(err.msg, "n_classes"));
    gan *c = make_cgan(2, 1, 3, "linear 2", "linear 1", 1);
    gan *u = gan_new(&(gan_config){.x_ndim = 1, .x_shape = {2}, .z_dim = 1,
                                   .generator_text = "linear 2", .discriminator_text = "linear 1"},
                     &err);
    if (!c || !u) return;
    CHECK(nn_params_count(&c->g_params) == (1 + 3) * 2 + 2); /* G reads z and the one-hot */
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_randn(t, 2, (int[]){2, 2}, 1), *z = ag_randn(t, 2, (int[]){2, 1}, 1);
    const int ok[2] = {0, 2}, bad[2] = {0, 3};
    EXPECT_ERROR(gan_generate(c, t, z));
    CHECK(strstr(test_last_error, "conditional"));
    EXPECT_ERROR(gan_d_loss(c, t, x, NULL));
    EXPECT_ERROR(gan_g_loss(c, t, 2, NULL));
    EXPECT_ERROR(gan_d_logits(c, t, x));
    EXPECT_ERROR(gan_generate_labeled(c, t, z, bad));
    CHECK(strstr(test_last_error, "label 3 of row 1"));
    EXPECT_ERROR(gan_generate_labeled(u, t, z, ok));
    EXPECT_ERROR(gan_sample_labels(u, t, 2));
    CHECK(gan_generate_labeled(c, t, z, ok)->shape[1] == 2);
    ag_tape_free(t);
    gan_free(c);
    gan_free(u);
}
