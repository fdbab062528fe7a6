/* 05_saturation.c — solution to the exercise of docs/05-gan.md.
 *
 * The exercise: seed 004 eq. (21) has the generator minimise E ln(1 − D(G(z))).  Early in
 * training D rejects the fakes easily, D(G(z)) ≈ 0.  Measure, with the tape, the gradient
 * that reaches the discriminator's logit l (D = σ(l)) under the two generator losses of
 * vae/gan.h, and then the gradient that reaches G's parameters through gan_g_loss:
 *   minimax          ln(1 − σ(l)):  d/dl = −σ(l)       → 0 as D(G(z)) → 0 (saturates)
 *   non-saturating  −ln σ(l):       d/dl = −(1 − σ(l)) → −1
 * Both have the same fixed points (they push D(G(z)) up); only their strength differs. */
#include "vae/gan.h"

#include <math.h>
#include <stdio.h>

/* ‖gradient‖ of G's parameters after one backward of gan_g_loss under the given loss. */
static double generator_grad_norm(gan_gen_loss kind) {
    nn_error err;
    gan *g = gan_new(&(gan_config){.x_ndim = 1, .x_shape = {2}, .z_dim = 2,
                                   .generator_text = "linear 16, relu, linear 2",
                                   .discriminator_text = "linear 16, relu, linear 1",
                                   .gen_loss = kind, .seed = 1},
                     &err);
    if (!g) {
        fprintf(stderr, "%s\n", err.msg);
        return NAN;
    }
    /* A discriminator that rejects everything it sees: its last bias at −6, D ≈ 0.0025. */
    nn_param *bias = nn_params_find(&g->d_params, "discriminator.2.linear.bias");
    if (!bias) {
        gan_free(g);
        return NAN;
    }
    bias->value->data[0] = -6;
    ag_tape *t = ag_tape_new(2);
    gan_stats st;
    ag_backward(t, gan_g_loss(g, t, 256, &st));
    nn_params_zero_grad(&g->d_params);      /* only G's gradient is of interest here */
    double norm = nn_params_grad_norm(&g->g_params);
    ag_tape_free(t);
    gan_free(g);
    return norm;
}

int main(void) {
    int failures = 0;
    /* ---- 1. the two losses as functions of the logit --------------------------------------- */
    ag_tape *t = ag_tape_new(1);
    printf("   l     D=σ(l)   d/dl ln(1-D)   d/dl -ln D\n");
    for (int i = 0; i < 4; i++) {
        ag_tensor *l = ag_param(1, (int[]){1});
        l->data[0] = (ag_real)(-6 + 2 * i);
        ag_backward(t, ag_log_sigmoid(t, ag_neg(t, l)));      /* ln(1 − σ(l)) = ln σ(−l) */
        double g_minimax = l->grad[0];
        ag_zero_grad(l);
        ag_backward(t, ag_neg(t, ag_log_sigmoid(t, l)));      /* −ln σ(l) */
        double g_ns = l->grad[0], d = 1 / (1 + exp(-(double)l->data[0]));
        printf("  %4.0f  %.4f   %+.4f        %+.4f\n", (double)l->data[0], d, g_minimax, g_ns);
        failures += fabs(g_minimax + d) > 1e-5 || fabs(g_ns + (1 - d)) > 1e-5;
        ag_tensor_free(l);
        ag_tape_clear(t);
    }
    ag_tape_free(t);

    /* ---- 2. through a whole GAN: the gradient G receives from a confident D ------------------ */
    double mm = generator_grad_norm(GAN_MINIMAX), ns = generator_grad_norm(GAN_NON_SATURATING);
    printf("‖dL/dθ_G‖ with D(G(z)) ≈ 0.0025: minimax %.2e, non-saturating %.2e (ratio %.0f)\n",
           mm, ns, ns / mm);
    failures += !(ns > 100 * mm);  /* per fake the ratio is (1 − D)/D: ≈ 400 at D = 0.0025 */

    printf("%s\n", failures ? "FAIL" : "all checks passed");
    return failures != 0;
}
