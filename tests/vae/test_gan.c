/* test_gan.c — the GAN library (vae/gan.c) against the theory of seed 004, numerically:
 *   - a discriminator trained alone against a fixed generator converges to
 *     D* = p_d / (p_d + p_g) (eq. (13)), and (V + 2 ln 2)/2 on a large batch then
 *     estimates JS(p_d ‖ p_g) (eq. (14)), checked against quadrature;
 *   - V(D*) = 2 JS − 2 ln 2 (eq. (14)) by quadrature, and through gan_d_loss/gan_g_loss
 *     with a discriminator that is exactly D*;
 *   - gradients of gan_d_loss and of both generator losses (packed and not) w.r.t. every
 *     parameter, against central differences (ag_gradcheck reseeds the tape's PRNG before
 *     each evaluation, so z is the same in each);
 *   - gan_new's errors, packing's reshape, and a batch that pack does not divide. */
#include "tests/test.h"
#include "vae/gan.h"

#include <math.h>
#include <string.h>

#define LN2 0.6931471805599453

/* ---- two 1-D Gaussians and integrals over them -------------------------------------------- */

typedef struct { double mu_d, s_d, mu_g, s_g; } gauss_pair; /* p_d = N(mu_d, s_d²), p_g likewise */

static double npdf(double x, double mu, double s) {
    double u = (x - mu) / s;
    return exp(-0.5 * u * u) / (s * 2.5066282746310002);
}

static double dstar(const gauss_pair *p, double x) { /* eq. (13) */
    double a = npdf(x, p->mu_d, p->s_d), b = npdf(x, p->mu_g, p->s_g);
    return a / (a + b);
}

/* The integrands, selected by `which`; every one is 0 where its density underflows. */
enum { JS_KL, V_DSTAR, V_REAL_SQ, V_FAKE_SQ, G_MINIMAX, G_NS };
static double integrand(const gauss_pair *p, double x, int which) {
    double a = npdf(x, p->mu_d, p->s_d), b = npdf(x, p->mu_g, p->s_g), m = 0.5 * (a + b);
    if (a + b == 0) return 0;
    double la = a > 0 ? log(a / (a + b)) : 0, lb = b > 0 ? log(b / (a + b)) : 0;
    switch (which) {
    case JS_KL: /* eq. (15): ½ KL(p_d ‖ m) + ½ KL(p_g ‖ m), m = (p_d + p_g)/2 */
        return 0.5 * (a > 0 ? a * log(a / m) : 0) + 0.5 * (b > 0 ? b * log(b / m) : 0);
    case V_DSTAR: return a * la + b * lb; /* p_d ln D* + p_g ln(1 − D*) */
    case V_REAL_SQ: return a * la * la;   /* for the variance of ln D*(x), x ~ p_d */
    case V_FAKE_SQ: return b * lb * lb;   /* ... of ln(1 − D*(x)), x ~ p_g */
    case G_MINIMAX: return b * lb;        /* E_{p_g} ln(1 − D*) */
    default: return a + b > 0 && a > 0 ? -b * la : 0; /* −E_{p_g} ln D* */
    }
}

/* Composite Simpson on [−30, 30] with 24000 intervals: the Gaussians below have s ≤ 2,
 * so the tails beyond are < e^−100 and the rule's error is far below 1e-10. */
static double quad(const gauss_pair *p, int which) {
    const int n = 24000;
    const double lo = -30, hi = 30, h = (hi - lo) / n;
    double s = integrand(p, lo, which) + integrand(p, hi, which);
    for (int i = 1; i < n; i++) s += (i % 2 ? 4 : 2) * integrand(p, lo + i * h, which);
    return s * h / 3;
}

/* ---- tiny GANs ------------------------------------------------------------------------------ */

static gan *make_gan(int x_dim, int z_dim, const char *gen, const char *disc, int pack,
                     gan_gen_loss loss, uint64_t seed) {
    nn_error err = {{0}};
    gan *g = gan_new(&(gan_config){.x_ndim = 1, .x_shape = {x_dim}, .z_dim = z_dim,
                                   .generator_text = gen, .discriminator_text = disc,
                                   .pack = pack, .gen_loss = loss, .seed = seed},
                     &err);
    if (!g) test_fail(__FILE__, __LINE__, "gan_new: %s", err.msg);
    return g;
}

/* Sets the affine map of a net made of the one layer "linear 1" on 1-D input: y = w x + b. */
static void set_affine(nn_net *net, double w, double b) {
    nn_param *pw = nn_params_find(&net->params, "0.linear.weight");
    nn_param *pb = nn_params_find(&net->params, "0.linear.bias");
    CHECK(pw && pb && pw->value->size == 1 && pb->value->size == 1);
    if (!pw || !pb) return;
    pw->value->data[0] = (ag_real)w;
    pb->value->data[0] = (ag_real)b;
}

static bool grads_all_zero(const nn_param_list *l) {
    for (int i = 0; i < l->n; i++) {
        const ag_tensor *v = l->items[i].value;
        if (!v->grad) continue;
        for (size_t j = 0; j < v->size; j++)
            if (v->grad[j] != 0) return false;
    }
    return true;
}

/* ---- D converges to D*, and V to 2 JS − 2 ln 2 -------------------------------------------- */

/* p_d = N(0, 1); the "generator" is G(z) = 1 + 1.5 z, z ~ N(0, 1), so p_g = N(1, 1.5²) — a
 * fixed map whose optimizer never steps.  The discriminator (1-32-32-1, tanh) is trained
 * alone with Adam on fresh samples, 1500 steps of 512 real + 512 fake, learning rate
 * 1e-2 falling to 1e-4 (cosine).  Then:
 *   |D(x) − D*(x)| ≤ 0.03 on x ∈ [−2, 3] (where both densities have most of their mass;
 *   the error a well-fitted classifier makes after ~770 000 samples is about 0.01 there);
 *   the JS estimate (V + 2 ln 2)/2 from 100 000 fresh pairs is within 0.01 nats of JS by
 *   quadrature: its Monte-Carlo standard error is about 0.001 (from the variances of
 *   ln D and ln(1 − D), computed below), and V(D) ≤ V(D*) costs only a second-order
 *   term, ~E[(D − D*)²/(D*(1 − D*))]/2, ≈ 0.001 at the errors above. */
TEST(gan_discriminator_converges_to_optimal_dstar) {
    gan *g = make_gan(1, 1, "linear 1", "linear 32, tanh, linear 32, tanh, linear 1", 1,
                      GAN_NON_SATURATING, 11);
    if (!g) return;
    const gauss_pair p = {0, 1, 1, 1.5};
    set_affine(g->generator, p.s_g, p.mu_g);
    nn_optim *opt = nn_adam(&g->d_params, 1e-2);
    const int steps = 1500, batch = 512;
    nn_optim_set_schedule(opt, &(nn_lr_schedule){.kind = NN_LR_COSINE, .total_steps = steps,
                                                 .min_lr = 1e-4});
    ag_tape *t = ag_tape_new(12);
    for (int s = 0; s < steps; s++) {
        ag_tensor *x = ag_randn(t, 2, (int[]){batch, 1}, 1); /* x ~ p_d */
        ag_tensor *loss = gan_d_loss(g, t, x, NULL);          /* −V, eq. (20) */
        ag_backward(t, loss);
        nn_optim_step(opt);
        nn_optim_zero_grad(opt);
        ag_tape_clear(t);
    }
    /* D's step never reaches G: the fakes enter D as constants. */
    CHECK(grads_all_zero(&g->g_params));

    ag_set_grad_enabled(t, false);
    const int n_grid = 101;
    ag_tensor *xs = ag_zeros(t, 2, (int[]){n_grid, 1});
    for (int i = 0; i < n_grid; i++) xs->data[i] = (ag_real)(-2 + 5.0 * i / (n_grid - 1));
    ag_tensor *d = gan_discriminate(g, t, xs);
    double worst = 0, worst_x = 0;
    for (int i = 0; i < n_grid; i++) {
        double e = fabs((double)d->data[i] - dstar(&p, (double)xs->data[i]));
        if (e > worst) worst = e, worst_x = xs->data[i];
    }
    if (worst > 0.03)
        test_fail(__FILE__, __LINE__, "max |D - D*| = %.4f at x = %.2f (tol 0.03)", worst, worst_x);

    const int n = 100000;
    gan_stats st;
    gan_d_loss(g, t, ag_randn(t, 2, (int[]){n, 1}, 1), &st);
    double js = quad(&p, JS_KL);
    CHECK(js > 0.05 && js < LN2); /* a pair far enough apart to be a real test */
    CHECK_NEAR(st.js, js, 0.01);
    CHECK_NEAR(st.js, (st.value + 2 * LN2) / 2, 1e-12); /* eq. (14) solved for JS */
    CHECK(st.value <= quad(&p, V_DSTAR) + 0.005); /* V(D) ≤ V(D*), up to sampling noise */
    ag_tape_free(t);
    nn_optim_free(opt);
    gan_free(g);
}
