/* gan_1d.c — chapter 5 of the tour (docs/05-gan.md): seed 004's GAN on the real line,
 * where every density is known and every claim can be checked.
 *
 *   p_d = N(1, 0.5²), the data;   G(z) = w·z + b with z ~ N(0, 1), so p_g = N(b, w²).
 *   1. G held at N(0, 1), D trained alone (eq. (20) in D only) approaches
 *      D*(x) = p_d(x) / (p_d(x) + p_g(x)) (eq. (13)), and (V + 2 ln 2)/2 approaches
 *      JS(p_d ‖ p_g) (eq. (14)), computed here by quadrature;
 *   2. the alternating game (eq. (20)-(21)) moves G onto the data: b → 1, |w| → 0.5,
 *      and the JS estimate falls towards 0. */
#include "vae/gan.h"

#include <math.h>
#include <stdio.h>

#define LN2 0.6931471805599453
#define TWO_PI 6.283185307179586 /* C11 has no M_PI */

static int failures;
static void expect(bool ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    failures += !ok;
}

static double normal_pdf(double x, double mu, double s) {
    return exp(-0.5 * (x - mu) * (x - mu) / (s * s)) / (s * sqrt(TWO_PI));
}

/* JS(N(m1, s1²) ‖ N(m2, s2²)) = ½ KL(p ‖ m) + ½ KL(q ‖ m), m = (p + q)/2 (eq. (15)),
 * by the midpoint rule on [−12, 12]. */
static double js_normal(double m1, double s1, double m2, double s2) {
    double js = 0, h = 1e-3;
    for (double x = -12 + h / 2; x < 12; x += h) {
        double p = normal_pdf(x, m1, s1), q = normal_pdf(x, m2, s2), m = (p + q) / 2;
        if (p > 0) js += 0.5 * p * log(p / m) * h;
        if (q > 0) js += 0.5 * q * log(q / m) * h;
    }
    return js;
}

/* x ~ p_d, (n, 1). */
static ag_tensor *real_batch(ag_tape *t, int n) {
    return ag_add_scalar(t, ag_randn(t, 2, (int[]){n, 1}, 0.5f), 1);
}

int main(void) {
    ag_set_num_threads(1); /* tensors this small are fastest on one thread */
    nn_error err;
    const char *disc = "linear 32, tanh, linear 32, tanh, linear 1";
    gan *g = gan_new(&(gan_config){.x_ndim = 1, .x_shape = {1}, .z_dim = 1,
                                   .generator_text = "linear 1", .discriminator_text = disc,
                                   .seed = 3},
                     &err);
    if (!g) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    ag_tensor *w = g->g_params.items[0].value, *b = g->g_params.items[1].value;
    w->data[0] = 1, b->data[0] = 0;                       /* p_g = N(0, 1) */
    ag_tape *t = ag_tape_new(4);

    /* ---- 1. D alone: ascent on V(D) = E_pd ln D + E_pg ln(1 − D), eq. (11) ---------------- */
    nn_optim *opt_d = nn_adam(&g->d_params, 1e-2);
    /* a learning rate decaying to 1e-4 lets D settle instead of jittering around D* */
    nn_optim_set_schedule(opt_d, &(nn_lr_schedule){.kind = NN_LR_COSINE, .total_steps = 500,
                                                   .min_lr = 1e-4});
    for (int step = 0; step < 500; step++) {
        ag_backward(t, gan_d_loss(g, t, real_batch(t, 256), NULL));  /* loss = −V */
        nn_optim_step(opt_d);
        nn_optim_zero_grad(opt_d);
        ag_tape_clear(t);
    }
    ag_set_grad_enabled(t, false);
    /* D against D* on a grid; the error is averaged under m = (p_d + p_g)/2, the density
     * D was trained on (where neither p_d nor p_g puts mass, nothing pins D down). */
    enum { GRID = 141 };
    ag_tensor *xs = ag_zeros(t, 2, (int[]){GRID, 1});
    for (int i = 0; i < GRID; i++) xs->data[i] = (ag_real)(-3 + 0.05 * i);   /* [-3, 4] */
    ag_tensor *d = gan_discriminate(g, t, xs);                                /* (GRID) */
    double err_m = 0;
    printf("     x    D(x)   D*(x)\n");
    for (int i = 0; i < GRID; i++) {
        double x = xs->data[i], pd = normal_pdf(x, 1, 0.5), pg = normal_pdf(x, 0, 1);
        double dstar = pd / (pd + pg);                                        /* eq. (13) */
        err_m += 0.05 * (pd + pg) / 2 * fabs(d->data[i] - dstar);
        if (i % 10 == 0 && x >= -1 && x <= 2.5)
            printf("  %4.1f  %.3f  %.3f\n", x, (double)d->data[i], dstar);
    }
    gan_stats st;
    gan_d_loss(g, t, real_batch(t, 20000), &st);
    double js = js_normal(1, 0.5, 0, 1);
    printf("V = %.4f, (V + 2 ln 2)/2 = %.4f, JS by quadrature %.4f\n", st.value, st.js, js);
    printf("mean |D - D*| under (p_d + p_g)/2: %.4f\n", err_m);
    expect(err_m < 0.03, "D approaches D* = p_d / (p_d + p_g) (eq. (13)): mean error < 0.03");
    expect(fabs(st.js - js) < 0.02, "(V + 2 ln 2)/2 estimates JS (eq. (14)) within 0.02");
    ag_set_grad_enabled(t, true);
    ag_tape_clear(t);

    /* ---- 2. the game: a D step (eq. (20)), then a G step (eq. (21), non-saturating) -------- */
    nn_optim_set_schedule(opt_d, NULL);                  /* back to a constant rate */
    nn_optim *opt_g = nn_adam(&g->g_params, 1e-2);
    double js_start = st.js, js_end = 0;
    for (int it = 0; it < 800; it++) {
        ag_backward(t, gan_d_loss(g, t, real_batch(t, 128), &st));
        nn_optim_step(opt_d);
        nn_optim_zero_grad(opt_d);
        ag_tape_clear(t);
        ag_backward(t, gan_g_loss(g, t, 128, NULL));      /* −E ln D(G(z)) */
        nn_optim_step(opt_g);
        nn_optim_zero_grad(opt_g);
        nn_optim_zero_grad(opt_d);   /* G's loss also reached D's parameters: drop that */
        ag_tape_clear(t);
        if (it >= 700) js_end += st.js / 100;                /* the last 100 iterations */
    }
    printf("after the game: p_g = N(%.3f, %.3f²), JS estimate %.4f -> %.4f\n",
           (double)b->data[0], fabs((double)w->data[0]), js_start, js_end);
    expect(fabs(b->data[0] - 1) < 0.15, "G's mean moved to the data's, 1 (within 0.15)");
    expect(fabs(fabs(w->data[0]) - 0.5) < 0.15,
           "G's spread moved to the data's, 0.5 (within 0.15)");
    expect(js_end < 0.5 * js_start, "the JS estimate fell by half at least");

    nn_optim_free(opt_d);
    nn_optim_free(opt_g);
    gan_free(g);
    ag_tape_free(t);
    printf("%s\n", failures ? "some checks FAILED" : "all checks passed");
    return failures != 0;
}
