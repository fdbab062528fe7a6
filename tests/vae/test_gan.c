/* test_gan.c — the GAN library (vae/gan.c) against the theory of seed 004, numerically:
 *   - a discriminator trained alone against a fixed generator converges to
 *     D* = p_d / (p_d + p_g) (eq. (13)), and (V + 2 ln 2)/2 on a large batch then
 *     estimates JS(p_d ‖ p_g) (eq. (14)), checked against quadrature;
 *   - V(D*) = 2 JS − 2 ln 2 (eq. (14)) by quadrature, and through gan_d_loss/gan_g_loss
 *     with a discriminator that is exactly D*;
 *   - the alternating updates of eq. (20)-(21) fitting a Gaussian with a linear generator;
 *   - gradients of gan_d_loss (with and without the R1 penalty) and of both generator
 *     losses, packed and not, and of a conditional gan's losses (the projection E
 *     included), w.r.t. every parameter, against central differences
 *     (ag_gradcheck reseeds the tape's PRNG before each evaluation, so z is the same in each);
 *   - the R1 estimate against ‖∇_x l‖² computed exactly;
 *   - gan_new's errors, packing's reshape, a batch that pack does not divide, the priors. */
#include "tests/test.h"
#include "vae/gan.h"

#include <math.h>
#include <string.h>

#define LN2 0.6931471805599453

#ifdef AG_DOUBLE
#define VAL_TOL 1e-12 /* forward values against direct formulas */
#else
#define VAL_TOL 1e-6
#endif

/* ---- two 1-D Gaussians and integrals over them -------------------------------------------- */

typedef struct { double mu_d, s_d, mu_g, s_g; } gauss_pair; /* p_d = N(mu_d, s_d²), p_g likewise */

static double log_npdf(double x, double mu, double s);

static double dstar(const gauss_pair *p, double x) { /* eq. (13): p_d / (p_d + p_g) */
    return 1 / (1 + exp(log_npdf(x, p->mu_g, p->s_g) - log_npdf(x, p->mu_d, p->s_d)));
}

static double log_npdf(double x, double mu, double s) {
    double u = (x - mu) / s;
    return -0.5 * u * u - log(s) - 0.9189385332046727; /* ln √(2π) */
}

/* The integrands, selected by `which`, from log-densities so far tails neither underflow
 * into 0/0 nor lose the ratios. */
enum { JS_KL, V_DSTAR, REAL_LN_D, REAL_LN_D_SQ, FAKE_LN_1MD, FAKE_LN_1MD_SQ, FAKE_LN_D,
       FAKE_LN_D_SQ };
static double integrand(const gauss_pair *p, double x, int which) {
    double la = log_npdf(x, p->mu_d, p->s_d), lb = log_npdf(x, p->mu_g, p->s_g);
    double lsum = fmax(la, lb) + log1p(exp(-fabs(la - lb))); /* ln(p_d + p_g) */
    double a = exp(la), b = exp(lb);
    double ld = la - lsum, l1 = lb - lsum;                   /* ln D*(x), ln(1 − D*(x)) */
    switch (which) {
    case JS_KL: /* eq. (15): ½ KL(p_d ‖ m) + ½ KL(p_g ‖ m), ln(p/m) = ln(2p/(p_d + p_g)) */
        return 0.5 * a * (ld + LN2) + 0.5 * b * (l1 + LN2);
    case V_DSTAR: return a * ld + b * l1;       /* eq. (14), first line */
    case REAL_LN_D: return a * ld;
    case REAL_LN_D_SQ: return a * ld * ld;
    case FAKE_LN_1MD: return b * l1;
    case FAKE_LN_1MD_SQ: return b * l1 * l1;
    case FAKE_LN_D: return b * ld;
    default: return b * ld * ld;                /* FAKE_LN_D_SQ */
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
 * alone with Adam on fresh samples, 500 steps of 256 real + 256 fake, learning rate
 * 1e-2 falling to 1e-4 (cosine).  Then:
 *   |D(x) − D*(x)| ≤ 0.03 on x ∈ [−2, 3] (where both densities have most of their mass;
 *   over 10 seeds this setting's worst error there was 0.010-0.017);
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
    const int steps = 500, batch = 256;
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
    CHECK_NEAR(st.js, (st.value + 2 * LN2) / 2, VAL_TOL); /* eq. (14) solved for JS */
    CHECK(st.value <= quad(&p, V_DSTAR) + 0.005); /* V(D) ≤ V(D*), up to sampling noise */
    ag_tape_free(t);
    nn_optim_free(opt);
    gan_free(g);
}

/* ---- V(D*) = 2 JS − 2 ln 2 ------------------------------------------------------------------ */

/* Eq. (14) on Gaussian pairs: V with D* of eq. (13) plugged in against 2 JS − 2 ln 2 with
 * JS from its definition eq. (15), both by quadrature (the two integrands differ, so this
 * is the algebra of eq. (14), not one number twice).  Also 0 ≤ JS ≤ ln 2, with the ends
 * reached by identical and by disjoint densities. */
TEST(gan_value_at_dstar_is_two_js_minus_two_ln2) {
    const gauss_pair pairs[] = {{0, 1, 1, 1.5}, {0, 1, 1, 1}, {-1, 0.5, 2, 2}, {0, 1, 0.1, 1},
                                {0, 1, 0, 1}, {0, 0.3, 5, 0.3}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        double v = quad(&pairs[i], V_DSTAR), js = quad(&pairs[i], JS_KL);
        CHECK_NEAR(v, 2 * js - 2 * LN2, 1e-9);
        CHECK(js >= -1e-12 && js <= LN2 + 1e-12);
    }
    CHECK_NEAR(quad(&pairs[4], JS_KL), 0, 1e-12);     /* p_d = p_g: D* = ½, V = −2 ln 2 */
    CHECK_NEAR(quad(&pairs[5], JS_KL), LN2, 1e-6);    /* 16.7 standard deviations apart */
}

/* The same through the library: with p_d = N(0, 1) and G(z) = 1 + z (p_g = N(1, 1)) the
 * log-ratio ln p_d − ln p_g = ½ − x is linear, so a discriminator "linear 1" with w = −1,
 * b = ½ is exactly D* (eq. (4), (13)).  On 200 000 fresh samples gan_d_loss's V and JS and
 * gan_g_loss's two losses must match their integrals within 5 Monte-Carlo standard errors
 * (each error from the integrand's variance, also by quadrature). */
TEST(gan_losses_at_exact_dstar_match_quadrature) {
    const gauss_pair p = {0, 1, 1, 1};
    const int n = 200000;
    for (int loss = 0; loss < 2; loss++) {
        gan *g = make_gan(1, 1, "linear 1", "linear 1", 1,
                          loss ? GAN_MINIMAX : GAN_NON_SATURATING, 3);
        if (!g) return;
        set_affine(g->generator, 1, 1);
        set_affine(g->discriminator, -1, 0.5);
        ag_tape *t = ag_tape_new(40 + (uint64_t)loss);
        ag_set_grad_enabled(t, false);
        /* D* itself, pointwise. */
        ag_tensor *xs = ag_from_data(t, 2, (int[]){3, 1}, (ag_real[]){-1, 0.5, 2});
        ag_tensor *d = gan_discriminate(g, t, xs);
        for (int i = 0; i < 3; i++)
            CHECK_NEAR(d->data[i], dstar(&p, xs->data[i]), VAL_TOL);

        gan_stats st = {0};
        gan_d_loss(g, t, ag_randn(t, 2, (int[]){n, 1}, 1), &st);
        double er = quad(&p, REAL_LN_D), ef = quad(&p, FAKE_LN_1MD);
        double se = sqrt((quad(&p, REAL_LN_D_SQ) - er * er) / n +
                         (quad(&p, FAKE_LN_1MD_SQ) - ef * ef) / n);
        CHECK(se > 1e-4 && se < 3e-3);
        CHECK_NEAR(st.value, 2 * quad(&p, JS_KL) - 2 * LN2, 5 * se);
        CHECK_NEAR(st.js, quad(&p, JS_KL), 2.5 * se);
        CHECK_NEAR(st.d_loss, -st.value, VAL_TOL);
        CHECK(st.d_real > 0.5 && st.d_fake < 0.5);

        gan_g_loss(g, t, n, &st);
        if (loss) { /* minimax, eq. (21): E ln(1 − D(G(z))) */
            double sd = sqrt((quad(&p, FAKE_LN_1MD_SQ) - ef * ef) / n);
            CHECK_NEAR(st.g_loss, ef, 5 * sd);
        } else {    /* non-saturating: −E ln D(G(z)) */
            double e = quad(&p, FAKE_LN_D), sd = sqrt((quad(&p, FAKE_LN_D_SQ) - e * e) / n);
            CHECK_NEAR(st.g_loss, -e, 5 * sd);
        }
        ag_tape_free(t);
        gan_free(g);
    }
}

/* ---- the alternating game ------------------------------------------------------------------ */

/* Seed 004's training, eq. (20)-(21): one D step, then one G step, over and over.  With
 * p_d = N(2, 0.5²) and a generator G(z) = w z + b that can match it exactly, 1500 rounds
 * (batches of 128, Adam, learning rate 1e-2 falling to 1e-4) must bring G to b ≈ 2 and
 * |w| ≈ 0.5 within 0.1 (four seeds of this setting ended within 0.03; the game circles its
 * equilibrium until the learning rate falls),
 * and D to D ≈ ½ on both sides, i.e. JS ≈ 0 (eq. (14): V(D*) = −2 ln 2 when p_g = p_d). */
TEST(gan_alternating_updates_match_a_gaussian) {
    gan *g = make_gan(1, 1, "linear 1", "linear 16, tanh, linear 16, tanh, linear 1", 1,
                      GAN_NON_SATURATING, 70);
    if (!g) return;
    set_affine(g->generator, 1, 0);
    nn_optim *od = nn_adam(&g->d_params, 1e-2), *og = nn_adam(&g->g_params, 1e-2);
    const int rounds = 1500, batch = 128;
    nn_lr_schedule cos = {.kind = NN_LR_COSINE, .total_steps = rounds, .min_lr = 1e-4};
    nn_optim_set_schedule(od, &cos);
    nn_optim_set_schedule(og, &cos);
    nn_optim_set_betas(od, 0.5, 0.999, 1e-8);
    nn_optim_set_betas(og, 0.5, 0.999, 1e-8);
    ag_tape *t = ag_tape_new(71);
    gan_stats st = {0};
    double js = 0, d_real = 0, d_fake = 0;
    for (int r = 0; r < rounds; r++) {
        ag_tensor *x = ag_add_scalar(t, ag_randn(t, 2, (int[]){batch, 1}, 0.5), 2);
        ag_backward(t, gan_d_loss(g, t, x, &st));
        nn_optim_step(od);
        nn_optim_zero_grad(od);
        ag_tape_clear(t);
        if (r >= rounds - 100) js += st.js / 100, d_real += st.d_real / 100, d_fake += st.d_fake / 100;
        ag_backward(t, gan_g_loss(g, t, batch, &st));
        nn_optim_step(og);
        nn_optim_zero_grad(og);
        nn_optim_zero_grad(od); /* G's loss reached D's parameters too */
        ag_tape_clear(t);
    }
    const nn_param_list *gp = &g->generator->params;
    double w = nn_params_find(gp, "0.linear.weight")->value->data[0];
    double b = nn_params_find(gp, "0.linear.bias")->value->data[0];
    CHECK_NEAR(b, 2, 0.1);
    CHECK_NEAR(fabs(w), 0.5, 0.1);
    CHECK_NEAR(d_real, 0.5, 0.05);
    CHECK_NEAR(d_fake, 0.5, 0.05);
    CHECK(fabs(js) < 0.01);
    ag_tape_free(t);
    nn_optim_free(od);
    nn_optim_free(og);
    gan_free(g);
}

/* ---- gradients ------------------------------------------------------------------------------ */

/* y: the labels of a conditional gan (test_gan_conditional.c's case below), else NULL */
typedef struct { gan *g; ag_tensor *x; int n; const int *y; } loss_ctx;

static ag_tensor *d_loss_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)in; /* the inputs are the GAN's own parameters, reached through the nets */
    loss_ctx *c = ctx;
    return gan_d_loss_labeled(c->g, t, c->x, c->y, NULL);
}

static ag_tensor *g_loss_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)in;
    loss_ctx *c = ctx;
    return gan_g_loss_labeled(c->g, t, c->y, c->n, NULL);
}

/* Collects the trainable tensors of the given lists into out (at most max). */
static int param_tensors(const nn_param_list *a, const nn_param_list *b, ag_tensor **out,
                         int max) {
    int n = 0;
    const nn_param_list *ls[2] = {a, b};
    for (int k = 0; k < 2; k++)
        for (int i = 0; ls[k] && i < ls[k]->n && n < max; i++)
            if (ls[k]->items[i].trainable) out[n++] = ls[k]->items[i].value;
    return n;
}

static void check_report(const char *label, const ag_gradcheck_report *rep) {
    if (!rep->ok || !rep->accumulates) {
        ag_gradcheck_print(label, rep, stderr);
        test_fail(__FILE__, __LINE__, "%s: gradient check failed", label);
    }
}

/* A tiny GAN (z of 2, x of 3; tanh, so finite differences see smooth functions) for every
 * pack that divides the batch of 6.  D's loss is checked w.r.t. D's parameters only: the
 * fakes are constants to it (its analytic gradient w.r.t. G is 0 by design, which the check
 * confirms: G's gradients stay 0). */
TEST(gradcheck_gan_d_loss) {
    ag_rng r;
    ag_rng_seed(&r, 7);
    ag_tensor *x = ag_tensor_new(2, (int[]){6, 3}, false);
    ag_fill_randn(&r, x, 1);
    for (int pack = 1; pack <= 3; pack++) {
        gan *g = make_gan(3, 2, "linear 4, tanh, linear 3", "linear 5, tanh, linear 1", pack,
                          GAN_NON_SATURATING, 20 + (uint64_t)pack);
        if (!g) break;
        ag_tensor *in[16];
        int n = param_tensors(&g->d_params, NULL, in, 16);
        CHECK(n == 4);
        loss_ctx c = {g, x, 6, NULL};
        ag_gradcheck_report rep = ag_gradcheck(d_loss_fn, in, n, &c, NULL);
        char label[64];
        snprintf(label, sizeof label, "gan_d_loss pack=%d", pack);
        check_report(label, &rep);
        CHECK(grads_all_zero(&g->g_params));
        gan_free(g);
    }
    ag_tensor_free(x);
}

/* Both generator losses w.r.t. G's and D's parameters (D's gradient is real here: the
 * caller must zero it before D's next step, as gan.h says). */
TEST(gradcheck_gan_g_loss_both_losses) {
    for (int loss = 0; loss < 2; loss++)
        for (int pack = 1; pack <= 2; pack++) {
            gan *g = make_gan(3, 2, "linear 4, tanh, linear 3", "linear 5, tanh, linear 1",
                              pack, loss ? GAN_MINIMAX : GAN_NON_SATURATING,
                              30 + (uint64_t)(2 * loss + pack));
            if (!g) return;
            ag_tensor *in[16];
            int n = param_tensors(&g->g_params, &g->d_params, in, 16);
            CHECK(n == 8);
            loss_ctx c = {g, NULL, 6, NULL};
            ag_gradcheck_report rep = ag_gradcheck(g_loss_fn, in, n, &c, NULL);
            char label[64];
            snprintf(label, sizeof label, "gan_g_loss %s pack=%d", loss ? "minimax" : "ns", pack);
            check_report(label, &rep);
            gan_free(g);
        }
}

/* D's loss with the R1 penalty on, w.r.t. D's parameters (the random direction u comes
 * from the tape's PRNG, so it is the same in every evaluation). */
TEST(gradcheck_gan_d_loss_with_r1) {
    ag_rng r;
    ag_rng_seed(&r, 8);
    ag_tensor *x = ag_tensor_new(2, (int[]){6, 3}, false);
    ag_fill_randn(&r, x, 1);
    for (int pack = 1; pack <= 2; pack++) {
        nn_error err = {{0}};
        gan *g = gan_new(&(gan_config){.x_ndim = 1, .x_shape = {3}, .z_dim = 2,
                                       .generator_text = "linear 4, tanh, linear 3",
                                       .discriminator_text = "linear 5, tanh, linear 1",
                                       .pack = pack, .r1_gamma = 2, .r1_step = 1e-2,
                                       .seed = 40 + (uint64_t)pack},
                         &err);
        CHECK(g);
        if (!g) break;
        ag_tensor *in[16];
        int n = param_tensors(&g->d_params, NULL, in, 16);
        loss_ctx c = {g, x, 6, NULL};
        /* The R1 term is a difference quotient scaled by 1/h² = 1e4, which multiplies the
         * rounding noise of the numeric derivative too: in double it reaches ~1e-9 on the
         * smallest components (1e-4), so the absolute floor is 1e-8 here, not 1e-9. */
#ifdef AG_DOUBLE
        const ag_gradcheck_opts o = {.atol = 1e-8}, *opts = &o; /* other fields: defaults */
#else
        const ag_gradcheck_opts *opts = NULL;
#endif
        ag_gradcheck_report rep = ag_gradcheck(d_loss_fn, in, n, &c, opts);
        check_report(pack == 1 ? "gan_d_loss r1" : "gan_d_loss r1 pack=2", &rep);
        gan_free(g);
    }
    ag_tensor_free(x);
}

/* The conditional gan (n_classes = 3: G reads z and a one-hot label, D the projection
 * l = ψ(φ) + e_yᵀφ): D's loss with and without R1 and G's loss, E included among D's
 * parameters (random, so that its path is exercised). */
TEST(gradcheck_gan_conditional_losses) {
    ag_rng r;
    ag_rng_seed(&r, 9);
    ag_tensor *x = ag_tensor_new(2, (int[]){6, 3}, false);
    ag_fill_randn(&r, x, 1);
    const int y[6] = {2, 0, 1, 1, 2, 0};
    for (int r1 = 0; r1 <= 1; r1++) {
#ifndef AG_DOUBLE
        if (r1) break; /* R1's 1/h² = 1e4 lifts float's rounding above the check: double only */
#endif
        nn_error err = {{0}};
        gan *g = gan_new(&(gan_config){.x_ndim = 1, .x_shape = {3}, .z_dim = 2,
                                       .generator_text = "linear 4, tanh, linear 3",
                                       .discriminator_text = "linear 5, tanh, linear 1",
                                       .r1_gamma = r1 ? 2 : 0, .r1_step = 1e-2, .n_classes = 3,
                                       .seed = 50 + (uint64_t)r1},
                         &err);
        CHECK(g);
        if (!g) break;
        ag_fill_randn(&r, g->projection, 0.5);
        ag_tensor *in[16];
        int n = param_tensors(&g->d_params, NULL, in, 16);
        CHECK(n == 5); /* two linears' weights and biases, and E */
        loss_ctx c = {g, x, 6, y};
#ifdef AG_DOUBLE
        const ag_gradcheck_opts o = {.atol = 1e-8}, *opts = r1 ? &o : NULL; /* as above */
#else
        const ag_gradcheck_opts *opts = NULL;
#endif
        ag_gradcheck_report rep = ag_gradcheck(d_loss_fn, in, n, &c, opts);
        check_report(r1 ? "conditional gan_d_loss r1" : "conditional gan_d_loss", &rep);
        if (!r1) {
            n = param_tensors(&g->g_params, &g->d_params, in, 16);
            CHECK(n == 9);
            rep = ag_gradcheck(g_loss_fn, in, n, &c, NULL);
            check_report("conditional gan_g_loss", &rep);
        }
        gan_free(g);
    }
    ag_tensor_free(x);
}

/* The R1 estimate targets E_{p_d} ‖∇_x l(x)‖²: (a) for D linear in x, l = w·x + b, the
 * gradient is w everywhere and (∇l·u)² has mean ‖w‖² and variance 2‖w‖⁴, so on 20 000
 * points the estimate is within 5·‖w‖²·√(2/20000) of ‖w‖² (packed or not: the packed D's
 * w has 2·3 entries); (b) for a tanh net the exact per-point gradients come from one
 * backward of Σ l(x) w.r.t. x (the points do not interact), and the estimate must match
 * their mean squared norm within its own standard error ×5 plus the O(h) bias. */
TEST(gan_r1_estimates_the_squared_input_gradient) {
    const int n = 20000;
    for (int pack = 1; pack <= 2; pack++) {
        nn_error err = {{0}};
        gan *g = gan_new(&(gan_config){.x_ndim = 1, .x_shape = {3}, .z_dim = 2,
                                       .generator_text = "linear 3",
                                       .discriminator_text = "linear 1", .pack = pack,
                                       .r1_gamma = 4, .seed = 50},
                         &err);
        CHECK(g);
        if (!g) return;
        ag_tensor *w = g->discriminator->params.items[0].value;
        double w2 = 0;
        for (size_t i = 0; i < w->size; i++) {
            w->data[i] = (ag_real)(0.5 + 0.3 * (double)i * (i % 2 ? -1 : 1));
            w2 += (double)w->data[i] * w->data[i];
        }
        CHECK(w->size == (size_t)(3 * pack));
        ag_tape *t = ag_tape_new(60);
        ag_set_grad_enabled(t, false);
        gan_stats st = {0};
        gan_d_loss(g, t, ag_randn(t, 2, (int[]){n, 3}, 1), &st);
        CHECK_NEAR(st.r1, w2, 5 * w2 * sqrt(2.0 / (n / pack)));
        CHECK_NEAR(st.d_loss, -st.value + 2 * st.r1, 1e-4 * (1 + st.r1)); /* (γ/2)·r1 */
        ag_tape_free(t);
        gan_free(g);
    }

    nn_error err = {{0}};
    gan *g = gan_new(&(gan_config){.x_ndim = 1, .x_shape = {2}, .z_dim = 2,
                                   .generator_text = "linear 2",
                                   .discriminator_text = "linear 8, tanh, linear 8, tanh, linear 1",
                                   .r1_gamma = 1, .seed = 51},
                     &err);
    CHECK(g);
    if (!g) return;
    ag_tape *t = ag_tape_new(61);
    ag_tensor *x = ag_randn(t, 2, (int[]){n, 2}, 1);
    x->requires_grad = true;
    ag_backward(t, ag_sum(t, gan_d_logits(g, t, x)));
    double m = 0, m2 = 0; /* mean and mean square of ‖∇l‖² over the points */
    for (int i = 0; i < n; i++) {
        double q = (double)x->grad[2 * i] * x->grad[2 * i] +
                   (double)x->grad[2 * i + 1] * x->grad[2 * i + 1];
        m += q / n, m2 += q * q / n;
    }
    x->requires_grad = false;
    gan_stats st = {0};
    ag_set_grad_enabled(t, false);
    gan_d_loss(g, t, x, &st);
    /* (∇l·u)² per point: mean ‖∇l‖², variance ≤ 3·E‖∇l‖⁴ − (E‖∇l‖²)² for u ~ N(0, I₂) */
    double se = sqrt((3 * m2 - m * m) / n);
    CHECK(m > 0.01);
    CHECK_NEAR(st.r1, m, 5 * se + 0.01 * m);
    ag_tape_free(t);
    nn_params_zero_grad(&g->d_params);
    gan_free(g);
}

/* ---- configuration errors and packing ------------------------------------------------------ */

static gan *try_new(int x_dim, int z_dim, const char *gen, const char *disc, int pack,
                    nn_error *err) {
    return gan_new(&(gan_config){.x_ndim = 1, .x_shape = {x_dim}, .z_dim = z_dim,
                                 .generator_text = gen, .discriminator_text = disc,
                                 .pack = pack},
                   err);
}

TEST(gan_new_reports_bad_configs) {
    nn_error err = {{0}};
    CHECK(!try_new(2, 2, "linear 8, relu, linear 3", "linear 8, relu, linear 1", 1, &err));
    CHECK(strstr(err.msg, "generator") && strstr(err.msg, "2 values") &&
          strstr(err.msg, "outputs 3"));
    CHECK(!try_new(2, 2, "linear 8, relu, linear 2", "linear 8, relu, linear 2", 1, &err));
    CHECK(strstr(err.msg, "discriminator") && strstr(err.msg, "1 logit") &&
          strstr(err.msg, "outputs 2"));
    CHECK(!try_new(2, 2, "linear 8, relux, linear 2", "linear 8, relu, linear 1", 1, &err));
    CHECK(strstr(err.msg, "generator") && strstr(err.msg, "spec"));
    CHECK(!try_new(2, 2, "linear 8, relu, linear 2", NULL, 1, &err));
    CHECK(strstr(err.msg, "discriminator") && strstr(err.msg, "no spec"));
    CHECK(!try_new(2, 0, "linear 8, relu, linear 2", "linear 8, relu, linear 1", 1, &err));
    CHECK(strstr(err.msg, "z_dim"));
    /* Good ones: defaults filled in, D's input widened by the pack. */
    gan *g = try_new(2, 2, "linear 8, relu, linear 2", "linear 8, relu, linear 1", 0, &err);
    CHECK(g && g->cfg.pack == 1 && g->cfg.d_steps == 1 && g->x_size == 2 &&
          g->discriminator->in_shape[0] == 2);
    gan_free(g);
    g = try_new(2, 2, "linear 8, relu, linear 2", "linear 8, relu, linear 1", 4, &err);
    CHECK(g && g->discriminator->in_shape[0] == 8);
    CHECK(g && nn_params_count(&g->d_params) == (8 * 8 + 8) + (8 + 1));
    gan_free(g);
}

/* Packing (PacGAN): D sees samples 2i and 2i+1 side by side, one logit per pair; batches
 * that the pack does not divide, and D(x) of single samples under a pack, are errors. */
TEST(gan_packing_groups_consecutive_samples) {
    gan *g = make_gan(2, 2, "linear 4, tanh, linear 2", "linear 6, tanh, linear 1", 2,
                      GAN_NON_SATURATING, 9);
    if (!g) return;
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_randn(t, 2, (int[]){6, 2}, 1);
    ag_tensor *l = gan_d_logits(g, t, x);
    CHECK(l->ndim == 1 && l->shape[0] == 3);
    ag_tensor *pairs = ag_view(t, x, 2, (int[]){3, 4}); /* row i: x[2i], x[2i+1] */
    ag_tensor *ref = nn_forward(g->discriminator, t, pairs, true);
    for (int i = 0; i < 3; i++) CHECK(l->data[i] == ref->data[i]);

    ag_tensor *x5 = ag_randn(t, 2, (int[]){5, 2}, 1);
    EXPECT_ERROR(gan_d_logits(g, t, x5));
    CHECK(strstr(test_last_error, "5 samples") && strstr(test_last_error, "pack = 2"));
    EXPECT_ERROR(gan_d_loss(g, t, x5, NULL));
    EXPECT_ERROR(gan_g_loss(g, t, 5, NULL));
    EXPECT_ERROR(gan_discriminate(g, t, x));
    CHECK(strstr(test_last_error, "pack = 1"));
    ag_tape_free(t);
    gan_free(g);
}

/* The two priors: N(0, I) and U(−1, 1), from the tape's PRNG, shape (n, z_dim). */
TEST(gan_sample_z_follows_the_prior) {
    nn_error err;
    for (int prior = 0; prior < 2; prior++) {
        gan *g = gan_new(&(gan_config){.x_ndim = 1, .x_shape = {2}, .z_dim = 3,
                                       .prior = prior ? GAN_PRIOR_UNIFORM : GAN_PRIOR_NORMAL,
                                       .generator_text = "linear 2",
                                       .discriminator_text = "linear 1"},
                         &err);
        CHECK(g);
        if (!g) return;
        ag_tape *t = ag_tape_new(5);
        ag_tensor *z = gan_sample_z(g, t, 20000);
        CHECK(z->ndim == 2 && z->shape[0] == 20000 && z->shape[1] == 3);
        double s = 0, s2 = 0, lo = 1e9, hi = -1e9;
        for (size_t i = 0; i < z->size; i++) {
            double v = z->data[i];
            s += v, s2 += v * v, lo = fmin(lo, v), hi = fmax(hi, v);
        }
        double mean = s / (double)z->size, var = s2 / (double)z->size - mean * mean;
        CHECK_NEAR(mean, 0, 0.02);                      /* SE ≤ 1/sqrt(60000) = 0.004 */
        CHECK_NEAR(var, prior ? 1.0 / 3 : 1.0, 0.03);
        if (prior) CHECK(lo >= -1 && hi < 1);
        else CHECK(lo < -3.5 && hi > 3.5);
        ag_tape_free(t);
        gan_free(g);
    }
}
