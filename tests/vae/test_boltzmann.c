/* test_boltzmann.c — the Boltzmann sampler of seed 003 (vae/boltzmann.c, boltzmann_energies.c,
 * boltzmann_ising.c, boltzmann_mcmc.c) against what it claims:
 *   - exact references: Kaufman's ln Z against brute force (L = 4 at β = 0.2 and 0.4407,
 *     and non-square lattices), the Ising energy written with henbun ops against the same
 *     sum, the quadratures of the double well and Many-Well against the published values,
 *     the mixture's normalisation;
 *   - the energies' gradients (gradcheck in double; closed forms in both precisions);
 *   - the estimators: perfect weights give ESS 100% and the exact log Z; a hand-set sampler
 *     whose joint equals μ(x)P(z|x) gives log w = log Z for every draw; a briefly trained
 *     one gets close; the loss's gradient is the derivative of the bound it reports;
 *   - structure copies: log Q and log P are the sums of 2-D samplers made from its weights,
 *     copies that are each exact give log w = log Z for every draw (bz_draw with and
 *     without encoder draws, and the per-copy bound), the per-copy and joint bounds'
 *     gradients against central differences, and its refusals;
 *   - the corrected isotropic KL of seed 003 eq. (2.10) against Monte Carlo;
 *   - MCMC: a 1-D Gaussian's mean and variance, the Ising energy per spin, and the
 *     autocorrelation time of an AR(1) series. */
#include "tests/test.h"
#include "vae/boltzmann.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG_2PI 1.8378770664093453

/* ---- exact references ---------------------------------------------------------------------- */

/* ln Σ_s e^−βE(s) over all 2^(R·C) configurations, in plain C (independent of the tape). */
static double ising_brute_log_z(int R, int C, double beta, double *mean_e) {
    int N = R * C;
    long states = 1L << N;
    double *v = malloc(sizeof(double) * (size_t)states), mx = -INFINITY, sum = 0, se = 0;
    for (long s = 0; s < states; s++) {
        double e = 0;
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) {
                int si = (s >> (r * C + c)) & 1 ? 1 : -1;
                int rt = (s >> (r * C + (c + 1) % C)) & 1 ? 1 : -1;
                int dn = (s >> (((r + 1) % R) * C + c)) & 1 ? 1 : -1;
                e -= si * (rt + dn);
            }
        v[s] = e;
        mx = fmax(mx, -beta * e);
    }
    for (long s = 0; s < states; s++) {
        double w = exp(-beta * v[s] - mx);
        sum += w, se += w * v[s];
    }
    free(v);
    if (mean_e) *mean_e = se / sum / N;
    return mx + log(sum);
}

TEST(bz_kaufman_matches_brute_force) {
    /* The values quoted in issue 8, which brute force reproduces. */
    CHECK_NEAR(bz_ising_log_z(4, 4, 0.2), 11.77147036, 1e-8);
    CHECK_NEAR(bz_ising_log_z(4, 4, 0.4407), 15.52224629, 1e-8);
    CHECK_NEAR(ising_brute_log_z(4, 4, 0.2, NULL), 11.77147036, 1e-8);
    CHECK_NEAR(ising_brute_log_z(4, 4, 0.4407, NULL), 15.52224629, 1e-8);
    /* Both sides of the critical point (Z₄ < 0 below K_c), odd and non-square lattices. */
    static const int sizes[][2] = {{2, 2}, {3, 3}, {3, 4}, {4, 3}, {2, 5}};
    static const double betas[] = {0.1, 0.3, 0.6, 1.0};
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++) {
            int R = sizes[i][0], C = sizes[i][1];
            double want = ising_brute_log_z(R, C, betas[j], NULL);
            CHECK_NEAR(bz_ising_log_z(R, C, betas[j]), want, 1e-9 * fabs(want));
        }
    /* The mean energy per spin from the derivative of ln Z. */
    double e_brute;
    ising_brute_log_z(4, 4, 0.4407, &e_brute);
    CHECK_NEAR(bz_ising_energy_per_spin(4, 4, 0.4407), e_brute, 1e-7);
    /* A large lattice stays finite (logs all the way) and near the Onsager limit per spin:
     * ln Z / N → 0.9296953983 at β_c. */
    double lz = bz_ising_log_z(64, 64, 0.44068679350977);
    CHECK(isfinite(lz));
    CHECK_NEAR(lz / 4096, 0.9296953983, 2e-3);
}

TEST(bz_ising_energy_via_tape_matches_kaufman) {
    /* Σ over all 2^12 states of e^−U with U from the henbun ops of bz_ising on a 3x4
     * torus: checks the energy function itself (bonds, wrap-around both ways, β). */
    bz_energy e = bz_ising(3, 4, 0.4407);
    ag_tape *t = ag_tape_new(1);
    ag_set_grad_enabled(t, false);
    const int chunk = 1024, N = 12;
    double mx = -INFINITY, sum = 0;
    for (long start = 0; start < (1L << N); start += chunk) {
        ag_tape_clear(t);
        ag_tensor *x = ag_zeros(t, 2, (int[]){chunk, N});
        for (int i = 0; i < chunk; i++)
            for (int j = 0; j < N; j++) x->data[i * N + j] = (ag_real)(((start + i) >> j) & 1);
        ag_tensor *u = e.energy(&e, t, x);
        CHECK(u->ndim == 1 && u->shape[0] == chunk);
        for (int i = 0; i < chunk; i++) {        /* running log-sum-exp of −U */
            double v = -(double)u->data[i];
            if (v > mx) sum = sum * exp(mx - v) + 1, mx = v;
            else sum += exp(v - mx);
        }
    }
    ag_tape_free(t);
    CHECK_NEAR(mx + log(sum), e.log_z, 1e-5);
    CHECK_NEAR(e.log_z, ising_brute_log_z(3, 4, 0.4407, NULL), 1e-9);
    /* The local-field flip used by MCMC agrees with the energy difference. */
    ag_real x[12];
    ag_rng r;
    ag_rng_seed(&r, 3);
    for (int j = 0; j < 12; j++) x[j] = (ag_real)(ag_rng_uniform(&r) < 0.5);
    double f0[4], f1[4];
    for (int i = 0; i < 12; i++) {
        e.observe(&e, x, f0);
        double du = e.flip_delta(&e, x, i);
        x[i] = 1 - x[i];
        e.observe(&e, x, f1);
        x[i] = 1 - x[i];
        CHECK_NEAR(du, e.beta * 12 * (f1[0] - f0[0]), 1e-9); /* f[0] = E / N */
    }
}

TEST(bz_quadrature_references) {
    bz_energy dw = bz_double_well(), mw = bz_many_well(16), g = bz_gmm();
    CHECK_NEAR(dw.log_z, 11.020467, 1e-6);
    CHECK_NEAR(dw.obs_exact[0], 0.0329, 5e-5);
    CHECK_NEAR(mw.log_z, 164.6957, 1e-4);
    CHECK_NEAR(mw.obs_exact[0], 0.844, 5e-4);
    CHECK(mw.dim == 32 && dw.dim == 2);
    /* The mixture is normalised: ∫ e^−U over a 2-D grid through the tape energy is 1. */
    ag_tape *t = ag_tape_new(1);
    ag_set_grad_enabled(t, false);
    const int G = 200;
    const double lo = -6, hi = 7, h = (hi - lo) / G;
    ag_tensor *x = ag_zeros(t, 2, (int[]){G * G, 2});
    for (int i = 0; i < G; i++)
        for (int j = 0; j < G; j++) {
            x->data[(i * G + j) * 2] = (ag_real)(lo + (j + 0.5) * h);
            x->data[(i * G + j) * 2 + 1] = (ag_real)(lo + (i + 0.5) * h);
        }
    ag_tensor *u = g.energy(&g, t, x);
    double z = 0, mass1 = 0;
    for (int i = 0; i < G * G; i++) {
        double p = exp(-(double)u->data[i]) * h * h, f[3];
        z += p;
        g.observe(&g, x->data + 2 * i, f);
        mass1 += p * f[1];
    }
    ag_tape_free(t);
    CHECK_NEAR(z, exp(g.log_z), 1e-5);
    CHECK_NEAR(mass1, g.obs_exact[1], 1e-5);    /* E[r_2] = w_2 = 0.3 */
}

/* ---- the energies' gradients ------------------------------------------------------------------ */

#ifdef AG_DOUBLE
typedef struct { bz_energy e; } energy_ctx;

static ag_tensor *energy_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    energy_ctx *c = ctx;
    /* Σ_i a_i U(x_i) with distinct weights, so each row's gradient is checked separately. */
    ag_tensor *u = c->e.energy(&c->e, t, in[0]);
    ag_tensor *a = ag_arange(t, u->shape[0]);
    return ag_sum(t, ag_mul(t, u, ag_add_scalar(t, a, 1)));
}
#endif

static void gradcheck_energy(bz_energy e, int n, double lo, double hi, const char *label) {
    ag_rng r;
    ag_rng_seed(&r, 7);
    ag_tensor *x = ag_tensor_new(2, (int[]){n, e.dim}, true);
    x->name = "x";
    for (size_t i = 0; i < x->size; i++) x->data[i] = (ag_real)(lo + (hi - lo) * ag_rng_uniform(&r));
#ifdef AG_DOUBLE
    energy_ctx c = {e};
    ag_gradcheck_report rep = ag_gradcheck(energy_fn, (ag_tensor *[]){x}, 1, &c, NULL);
    if (!rep.ok) {
        ag_gradcheck_print(label, &rep, stderr);
        test_fail(__FILE__, __LINE__, "%s: gradient check failed", label);
    }
#else
    (void)label;
#endif
    /* Closed forms of ∂U/∂x (both precisions). */
    ag_tape *t = ag_tape_new(1);
    ag_zero_grad(x);                  /* the gradient check left its own sums behind */
    ag_backward(t, ag_sum(t, e.energy(&e, t, x)));
    double tol = sizeof(ag_real) == 8 ? 1e-9 : 2e-3;
    for (int i = 0; i < n; i++) {
        const ag_real *xi = x->data + i * e.dim, *gi = x->grad + i * e.dim;
        if (!strcmp(e.name, "double-well")) {
            double a = xi[0];
            CHECK_NEAR(gi[0], 4 * a * a * a - 12 * a + 1, tol * (1 + fabs(gi[0])));
            CHECK_NEAR(gi[1], xi[1], tol);
        } else if (!strcmp(e.name, "many-well")) {
            for (int k = 0; k < e.copies; k++) {
                double a = xi[2 * k];
                CHECK_NEAR(gi[2 * k], 4 * a * a * a - 12 * a - 0.5, tol * (1 + fabs(gi[2 * k])));
                CHECK_NEAR(gi[2 * k + 1], xi[2 * k + 1], tol);
            }
        } else if (!strcmp(e.name, "ising")) {
            /* ∂(βE)/∂x_i = 2 · ∂(βE)/∂s_i = −2β (sum of the four neighbours' s) */
            for (int j = 0; j < e.dim; j++) {
                int R = e.rows, C = e.cols, rr = j / C, cc = j % C;
                double h = (2 * xi[rr * C + (cc + 1) % C] - 1) + (2 * xi[rr * C + (cc + C - 1) % C] - 1) +
                           (2 * xi[((rr + 1) % R) * C + cc] - 1) + (2 * xi[((rr + R - 1) % R) * C + cc] - 1);
                CHECK_NEAR(gi[j], -2 * e.beta * h, tol * (1 + fabs(gi[j])));
            }
        } else if (!strcmp(e.name, "gmm")) {
            /* ∇(−ln p) = Σ_k r_k (x − m_k)/s_k²: check through the responsibilities. */
            static const double m[3][2] = {{-2, 0}, {2, 0}, {0, 2.5}}, sd[3] = {0.6, 0.5, 0.4};
            double f[3], g0 = 0, g1 = 0;
            e.observe(&e, xi, f);
            for (int k = 0; k < 3; k++) {
                g0 += f[k] * (xi[0] - m[k][0]) / (sd[k] * sd[k]);
                g1 += f[k] * (xi[1] - m[k][1]) / (sd[k] * sd[k]);
            }
            CHECK_NEAR(gi[0], g0, tol * (1 + fabs(g0)));
            CHECK_NEAR(gi[1], g1, tol * (1 + fabs(g1)));
        }
    }
    ag_tape_free(t);
    ag_tensor_free(x);
}

TEST(bz_energies_gradcheck) {
    gradcheck_energy(bz_gmm(), 5, -3, 3, "gmm");
    gradcheck_energy(bz_double_well(), 5, -2.5, 2.5, "double-well");
    gradcheck_energy(bz_many_well(3), 4, -2.5, 2.5, "many-well(3)");
    gradcheck_energy(bz_ising(3, 4, 0.4), 3, 0, 1, "ising 3x4"); /* bits relaxed to [0, 1] */
}

/* ---- estimators -------------------------------------------------------------------------------- */

TEST(bz_estimates_from_weights) {
    /* Perfect weights: all equal → ESS exactly 100%, log Z = the common value, no error. */
    double lw[1000], f[1000];
    for (int i = 0; i < 1000; i++) lw[i] = 3.25, f[i] = i % 4 == 0;
    bz_estimate e = bz_estimate_weights(lw, 1000);
    CHECK_NEAR(e.ess, 1, 1e-12);
    CHECK_NEAR(e.log_z, 3.25, 1e-12);
    CHECK_NEAR(e.log_z_se, 0, 1e-12);
    CHECK_NEAR(e.mean_log_w, 3.25, 1e-12);
    CHECK_NEAR(bz_expect(lw, f, 1, 1000), 0.25, 1e-12);
    CHECK_NEAR(bz_kl_bound(&e, 3.25), 0, 1e-12);
    /* w = 1, 3: mean 2, ESS = (Σw)²/Σw²/n = 16/10/2, E_w[f] = (1·0 + 3·1)/4; huge offsets
     * must not overflow. */
    double lw2[2] = {1000, 1000 + log(3.0)}, f2[4] = {0, -7, 1, -7};
    e = bz_estimate_weights(lw2, 2);
    CHECK_NEAR(e.log_z, 1000 + log(2.0), 1e-9);
    CHECK_NEAR(e.ess, 0.8, 1e-12);
    CHECK_NEAR(e.max_w, 0.75, 1e-12);
    CHECK_NEAR(bz_expect(lw2, f2, 2, 2), 0.75, 1e-12);
    /* The annealing schedule: β₀ at 0, geometric, 1 from `steps` on. */
    CHECK_NEAR(bz_anneal_beta(0, 100, 0.1), 0.1, 1e-12);
    CHECK_NEAR(bz_anneal_beta(50, 100, 0.1), sqrt(0.1), 1e-12);
    CHECK_NEAR(bz_anneal_beta(100, 100, 0.1), 1, 0);
    CHECK_NEAR(bz_anneal_beta(5, 0, 0.1), 1, 0);
}

/* U = ½‖x‖² in 2-D, a user's energy: μ = N(0, I), ln Z = ln 2π. */
static ag_tensor *gauss_energy(const bz_energy *e, ag_tape *t, ag_tensor *x) {
    (void)e;
    return ag_scale(t, ag_sum_axis(t, ag_square(t, x), 1, false), (ag_real)0.5);
}

static bz_energy gauss_target(void) {
    return (bz_energy){.name = "gauss", .dim = 2, .energy = gauss_energy, .log_z = LOG_2PI};
}

static void set_param(bz_sampler *s, const char *name, const double *v, size_t n) {
    nn_param *p = nn_params_find(bz_params(s), name);
    CHECK(p != NULL);
    if (!p) return;
    CHECK(p->value->size == n);
    for (size_t i = 0; i < n && i < p->value->size; i++) p->value->data[i] = (ag_real)v[i];
}

TEST(bz_log_z_exact_when_the_joint_is_representable) {
    /* Decoder x = a·z + s·ε and encoder z | x ~ N(a·x, s²) with a² + s² = 1 make
     * π(z)Q(x|z) = μ(x)P(z|x) exactly (the Gaussian pair's two factorisations), so every
     * draw has log w = log Z: ESS 100% and the exact ln 2π from any number of draws. */
    bz_energy e = gauss_target();
    nn_error err = {{0}};
    bz_sampler *s = bz_new(&e, &(bz_config){.z_dim = 2, .encoder_text = "linear 4",
                                            .decoder_text = "linear 4", .seed = 1}, &err);
    CHECK(s != NULL);
    if (!s) return;
    double a = 0.6, lv = log(0.64);
    /* rows 0-1: means (a·I), rows 2-3: logvars (bias only) */
    double w[8] = {a, 0, 0, a, 0, 0, 0, 0}, b[4] = {0, 0, lv, lv};
    set_param(s, "decoder.0.linear.weight", w, 8);
    set_param(s, "decoder.0.linear.bias", b, 4);
    set_param(s, "encoder.0.linear.weight", w, 8);
    set_param(s, "encoder.0.linear.bias", b, 4);
    enum { N = 3000 };
    static double lw[N];
    static ag_real x[N * 2];
    bz_draw(s, N, 0, 5, x, lw, NULL);
    double tol = sizeof(ag_real) == 8 ? 1e-10 : 2e-5;
    for (int i = 0; i < N; i++) CHECK_NEAR(lw[i], LOG_2PI, tol * 10);
    bz_estimate est = bz_estimate_weights(lw, N);
    CHECK_NEAR(est.log_z, LOG_2PI, tol);
    CHECK_NEAR(est.ess, 1, tol);
    CHECK_NEAR(bz_kl_bound(&est, LOG_2PI), 0, tol * 10);
    /* The samples are N(0, I): their second moment is 1 (within Monte-Carlo error). */
    double m2 = 0;
    for (int i = 0; i < 2 * N; i++) m2 += (double)x[i] * x[i] / (2 * N);
    CHECK_NEAR(m2, 1, 0.06);
    /* The training statistics see the same: E[log w] = log Z, ESS 100%. */
    ag_tape *t = ag_tape_new(2);
    bz_stats st;
    bz_loss(s, t, 64, 1, &st);
    CHECK_NEAR(-st.neg_log_w, LOG_2PI, tol * 10);
    CHECK_NEAR(st.ess, 1, tol);
    ag_tape_free(t);
    bz_free(s);
}

TEST(bz_marginal_weights_remove_the_encoder_mismatch) {
    /* The decoder is exact (q(x) = μ(x), a = 0.6, s = 0.8) but the encoder is off (mean
     * 0.3·x, variance 1): the joint weights scatter; with m extra encoder draws the weights
     * (m+1)/Σ r_j stay unbiased and tend to the constant Z = 2π. */
    bz_energy e = gauss_target();
    nn_error err = {{0}};
    bz_sampler *s = bz_new(&e, &(bz_config){.z_dim = 2, .encoder_text = "linear 4",
                                            .decoder_text = "linear 4", .seed = 1}, &err);
    if (!s) { CHECK(s != NULL); return; }
    double lv = log(0.64), w[8] = {0.6, 0, 0, 0.6, 0, 0, 0, 0}, b[4] = {0, 0, lv, lv};
    double we[8] = {0.3, 0, 0, 0.3, 0, 0, 0, 0}, be[4] = {0, 0, 0, 0};
    set_param(s, "decoder.0.linear.weight", w, 8);
    set_param(s, "decoder.0.linear.bias", b, 4);
    set_param(s, "encoder.0.linear.weight", we, 8);
    set_param(s, "encoder.0.linear.bias", be, 4);
    enum { N = 20000 };
    static double lw0[N], lw1[N], lw32[N];
    bz_draw(s, N, 0, 21, NULL, lw0, NULL);
    bz_draw(s, N, 1, 22, NULL, lw1, NULL);
    bz_draw(s, N, 32, 23, NULL, lw32, NULL);
    bz_estimate e0 = bz_estimate_weights(lw0, N), e1 = bz_estimate_weights(lw1, N),
                e32 = bz_estimate_weights(lw32, N);
    /* All three are unbiased: within 4 standard errors of ln 2π. */
    CHECK_NEAR(e0.log_z, LOG_2PI, 4 * e0.log_z_se);
    CHECK_NEAR(e1.log_z, LOG_2PI, 4 * e1.log_z_se);
    CHECK_NEAR(e32.log_z, LOG_2PI, 4 * e32.log_z_se + 1e-9);
    /* More encoder draws, flatter weights and a tighter E[log w] ≤ log Z. */
    CHECK(e0.ess < 0.9 && e1.ess > e0.ess && e32.ess > 0.97);
    CHECK(e0.mean_log_w < e1.mean_log_w && e1.mean_log_w < e32.mean_log_w);
    CHECK(e32.mean_log_w <= LOG_2PI + 1e-9 && bz_kl_bound(&e32, LOG_2PI) < 0.02);
    bz_free(s);
}

TEST(bz_brief_training_finds_log_z) {
    /* From a random start, a few hundred steps of eq. (1.7) on the Gaussian target. */
    bz_energy e = gauss_target();
    nn_error err = {{0}};
    bz_sampler *s = bz_new(&e, &(bz_config){.z_dim = 2, .encoder_text = "linear 4",
                                            .decoder_text = "linear 4", .path_gradient = true,
                                            .seed = 3}, &err);
    CHECK(s != NULL);
    if (!s) return;
    nn_optim *opt = nn_adam(bz_params(s), 2e-2);
    ag_tape *t = ag_tape_new(9);
    bz_stats st;
    for (int i = 0; i < 400; i++) bz_train_step(s, opt, t, 64, 1, &st);
    enum { N = 20000 };
    static double lw[N];
    bz_draw(s, N, 0, 11, NULL, lw, NULL);
    bz_estimate est = bz_estimate_weights(lw, N);
    CHECK_NEAR(est.log_z, LOG_2PI, 0.01);
    CHECK(est.ess > 0.95);
    CHECK(bz_kl_bound(&est, LOG_2PI) < 0.05);
    ag_tape_free(t);
    nn_optim_free(opt);
    bz_free(s);
}

#ifdef AG_DOUBLE /* central differences of a bound need double precision */
/* Analytic gradient of bz_loss against central differences of the bound it reports. */
static void loss_gradient_case(int K, bz_structure structure, bool copy_bound,
                               const char *label) {
    bz_energy e = structure == BZ_COPIES ? bz_many_well(3) : bz_double_well();
    nn_error err = {{0}};
    bz_sampler *s = bz_new(&e, &(bz_config){.z_dim = 2 * (e.copies ? e.copies : 1),
                                            .structure = structure, .copy_bound = copy_bound,
                                            .encoder_text = "linear 5, tanh, linear 4",
                                            .decoder_text = "linear 5, tanh, linear 4",
                                            .samples = K, .seed = 4}, &err);
    CHECK(s != NULL);
    if (!s) return;
    ag_tape *t = ag_tape_new(1);
    const int n = 8;
    nn_params_zero_grad(bz_params(s));
    ag_rng_seed(ag_tape_rng(t), 42);
    ag_backward(t, bz_loss(s, t, n, 0.7, NULL));
    ag_tape_clear(t);
    double worst = 0;
    nn_param_list *pl = bz_params(s);
    for (int p = 0; p < pl->n; p++) {
        ag_tensor *v = pl->items[p].value;
        for (size_t i = 0; i < v->size; i += 3) {
            double keep = v->data[i], h = 1e-6, f[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                v->data[i] = (ag_real)(keep + (sgn ? -h : h));
                bz_stats st;
                ag_rng_seed(ag_tape_rng(t), 42);     /* the same z and ε */
                bz_loss(s, t, n, 0.7, &st);
                ag_tape_clear(t);
                f[sgn] = st.objective;
            }
            v->data[i] = (ag_real)keep;
            double num = (f[0] - f[1]) / (2 * h), ana = v->grad[i];
            double rel = fabs(num - ana) / fmax(1e-4, fmax(fabs(num), fabs(ana)));
            if (rel > worst) worst = rel;
            if (rel > 1e-5)
                test_fail(__FILE__, __LINE__, "%s: %s[%zu]: analytic %.9g numeric %.9g", label,
                          pl->items[p].name, i, ana, num);
        }
    }
    CHECK(worst <= 1e-5);
    ag_tape_free(t);
    bz_free(s);
}

TEST(bz_loss_gradient_is_the_bound_derivative) {
    /* Without path_gradient the reparameterised gradient is the exact derivative of the
     * reported bound for the fixed noise: eq. (1.7) for K = 1, log mean w for K = 4. */
    loss_gradient_case(1, BZ_JOINT, false, "K=1");
    loss_gradient_case(4, BZ_JOINT, false, "K=4");
    /* structure copies: the per-copy bound Σ_k log mean_K w_k, and the joint one */
    loss_gradient_case(1, BZ_COPIES, false, "copies, K=1");
    loss_gradient_case(4, BZ_COPIES, true, "copies, per-copy K=4");
    loss_gradient_case(4, BZ_COPIES, false, "copies, joint K=4");
}
#endif

TEST(bz_path_gradient_vanishes_at_the_optimum) {
    /* At the exact joint of the representable Gaussian case, log w is the same constant for
     * every draw, so the path (STL) and DReG gradients vanish draw by draw; the full
     * reparameterised one does not (its score term is zero only on average). */
    bz_energy e = gauss_target();
    for (int variant = 0; variant < 3; variant++) {
        bool path = variant > 0;
        int K = variant == 2 ? 4 : 1;
        nn_error err = {{0}};
        bz_sampler *s = bz_new(&e, &(bz_config){.z_dim = 2, .encoder_text = "linear 4",
                                                .decoder_text = "linear 4", .path_gradient = path,
                                                .samples = K, .seed = 1}, &err);
        if (!s) { CHECK(s != NULL); return; }
        double a = 0.6, lv = log(0.64), w[8] = {a, 0, 0, a, 0, 0, 0, 0}, b[4] = {0, 0, lv, lv};
        set_param(s, "decoder.0.linear.weight", w, 8);
        set_param(s, "decoder.0.linear.bias", b, 4);
        set_param(s, "encoder.0.linear.weight", w, 8);
        set_param(s, "encoder.0.linear.bias", b, 4);
        ag_tape *t = ag_tape_new(3);
        nn_params_zero_grad(bz_params(s));
        ag_backward(t, bz_loss(s, t, 32, 1, NULL));
        /* The decoder's gradient (the encoder's is zero only in expectation). */
        double g2 = 0;
        nn_param_list *pl = bz_params(s);
        for (int p = 0; p < pl->n; p++)
            if (!strncmp(pl->items[p].name, "decoder", 7))
                for (size_t i = 0; i < pl->items[p].value->size; i++)
                    g2 += (double)pl->items[p].value->grad[i] * pl->items[p].value->grad[i];
        double tol = sizeof(ag_real) == 8 ? 1e-10 : 1e-4;
        if (path) CHECK(sqrt(g2) < tol);
        else CHECK(sqrt(g2) > 1e-3);
        ag_tape_free(t);
        bz_free(s);
    }
}

TEST(bz_ising_sampler_trains_briefly) {
    /* A 3x3 Ising model at β = 0.2 with the Bernoulli decoder and the score-function
     * gradient (K = 1: leave-one-out baseline; K = 4: VIMCO): after a short run the
     * importance-weighted ln Z lands near Kaufman's value. */
    for (int K = 1; K <= 4; K += 3) {
        bz_energy e = bz_ising(3, 3, 0.2);
        nn_error err = {{0}};
        bz_sampler *s = bz_new(&e, &(bz_config){.z_dim = 4, .encoder_text = "linear 16, tanh, linear 8",
                                                .decoder_text = "linear 16, tanh, linear 9",
                                                .samples = K, .seed = 2}, &err);
        if (!s) { CHECK(s != NULL); return; }
        nn_optim *opt = nn_adam(bz_params(s), 1e-2);
        ag_tape *t = ag_tape_new(5);
        bz_stats st;
        double first = 0, last = 0;
        for (int i = 0; i < 200; i++) {
            bz_train_step(s, opt, t, 64, 1, &st);
            if (i < 20) first += st.neg_log_w / 20;
            if (i >= 180) last += st.neg_log_w / 20;
        }
        CHECK(last < first);                 /* the bound tightened */
        enum { N = 10000 };
        static double lw[N];
        bz_draw(s, N, 0, 8, NULL, lw, NULL);
        bz_estimate est = bz_estimate_weights(lw, N);
        CHECK_NEAR(est.log_z, e.log_z, 0.02);
        CHECK(est.mean_log_w <= e.log_z + 0.01);   /* E[log w] ≤ log Z (Jensen) */
        /* Bernoulli decoder, m = 4 encoder draws: still unbiased, and tighter. */
        bz_draw(s, N / 4, 4, 9, NULL, lw, NULL);
        bz_estimate est4 = bz_estimate_weights(lw, N / 4);
        CHECK_NEAR(est4.log_z, e.log_z, 0.02);
        CHECK(est4.mean_log_w > est.mean_log_w);
        ag_tape_free(t);
        nn_optim_free(opt);
        bz_free(s);
    }
}

TEST(bz_new_reports_bad_sizes) {
    bz_energy e = bz_double_well();
    nn_error err = {{0}};
    CHECK(!bz_new(&e, &(bz_config){.z_dim = 2, .encoder_text = "linear 4",
                                    .decoder_text = "linear 2"}, &err));
    CHECK(strstr(err.msg, "decoder") && strstr(err.msg, "linear 4"));
    CHECK(!bz_new(&e, &(bz_config){.z_dim = 2, .encoder_text = "linear 3",
                                    .decoder_text = "linear 4"}, &err));
    CHECK(strstr(err.msg, "encoder"));
    bz_energy is = bz_ising(3, 3, 0.3); /* binary: one logit per bit */
    CHECK(!bz_new(&is, &(bz_config){.z_dim = 2, .encoder_text = "linear 4",
                                     .decoder_text = "linear 18"}, &err));
    CHECK(strstr(err.msg, "logit"));
    CHECK(!bz_new(&e, &(bz_config){.z_dim = 0, .encoder_text = "linear 4",
                                    .decoder_text = "linear 4"}, &err));
}

/* ---- the copies structure ---------------------------------------------------------------------- */

/* U = ½‖x‖² over C copies of 2 values (a user's energy of copies): μ = N(0, I), ln Z =
 * C ln 2π, with the energy of each copy for the per-copy bound. */
static ag_tensor *gauss_copy_energy(const bz_energy *e, ag_tape *t, ag_tensor *x) {
    ag_tensor *xy = ag_reshape(t, x, 3, (int[]){x->shape[0], e->copies, 2});
    return ag_scale(t, ag_sum_axis(t, ag_square(t, xy), 2, false), (ag_real)0.5);  /* (N, C) */
}

static bz_energy gauss_copies(int C, bool with_copy_energy) {
    return (bz_energy){.name = "gauss copies", .dim = 2 * C, .energy = gauss_energy,
                       .log_z = C * LOG_2PI, .copies = C,
                       .copy_energy = with_copy_energy ? gauss_copy_energy : NULL};
}

TEST(bz_copies_log_q_is_a_sum_over_copies) {
    /* A sampler with structure copies on Many-Well(3) against three 2-D samplers made from
     * its weights: copy k's first layers take (z_k, x_k) alone, the one-hot code's weight
     * column k folded into their bias.  log Q(x|z) and log P(z|x) of the structured
     * sampler must be the sums of the three, for any z and x: the factorisation, the
     * copies' order, and the code. */
    enum { C = 3, L = 2, N = 7 };
    bz_energy e = bz_many_well(C), one = bz_many_well(1);
    nn_error err = {{0}};
    bz_sampler *s = bz_new(&e, &(bz_config){.z_dim = C * L, .structure = BZ_COPIES,
                                            .encoder_text = "linear 8, tanh, linear 4",
                                            .decoder_text = "linear 8, tanh, linear 4",
                                            .samples = 4, .seed = 5}, &err);
    if (!s) { CHECK(s != NULL); return; }
    ag_rng r;
    ag_rng_seed(&r, 3);
    static ag_real z[N * C * L], x[N * 2 * C], zk[N * L], xk[N * 2];
    for (int i = 0; i < N * C * L; i++) z[i] = (ag_real)ag_rng_normal(&r);
    for (int i = 0; i < N * 2 * C; i++) x[i] = (ag_real)(2 * ag_rng_normal(&r));
    double lq[N], lp[N], sum_q[N] = {0}, sum_p[N] = {0}, kq[N], kp[N];
    bz_log_densities(s, N, z, x, lq, lp);
    for (int k = 0; k < C; k++) {
        bz_sampler *b = bz_new(&one, &(bz_config){.z_dim = L, .encoder_text = "linear 8, tanh, "
                                                  "linear 4", .decoder_text = "linear 8, tanh, "
                                                  "linear 4", .seed = 9}, &err);
        if (!b) { CHECK(b != NULL); break; }
        nn_param_list *pa = bz_params(s);
        for (int p = 0; p < pa->n; p++) {
            ag_tensor *va = pa->items[p].value, *vb = nn_params_find(bz_params(b),
                                                                     pa->items[p].name)->value;
            if (va->size == vb->size) {
                memcpy(vb->data, va->data, sizeof(ag_real) * va->size);
                continue;
            }
            /* the first layer's weight, (8, 2 + C) -> (8, 2), and its bias */
            int in = va->shape[1];
            char bias[64];
            snprintf(bias, sizeof bias, "%.*sbias", (int)(strlen(pa->items[p].name) - 6),
                     pa->items[p].name);
            ag_tensor *ba = nn_params_find(pa, bias)->value, *bb = nn_params_find(bz_params(b), bias)->value;
            for (int o = 0; o < va->shape[0]; o++) {
                for (int i = 0; i < 2; i++) vb->data[o * 2 + i] = va->data[o * in + i];
                bb->data[o] = ba->data[o] + va->data[o * in + 2 + k];
            }
            p++; /* the bias, set above */
        }
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < L; j++) zk[i * L + j] = z[i * C * L + k * L + j];
            for (int j = 0; j < 2; j++) xk[i * 2 + j] = x[i * 2 * C + 2 * k + j];
        }
        bz_log_densities(b, N, zk, xk, kq, kp);
        for (int i = 0; i < N; i++) sum_q[i] += kq[i], sum_p[i] += kp[i];
        bz_free(b);
    }
    double tol = sizeof(ag_real) == 8 ? 1e-10 : 1e-3;
    for (int i = 0; i < N; i++) {
        CHECK_NEAR(lq[i], sum_q[i], tol * (1 + fabs(sum_q[i])));
        CHECK_NEAR(lp[i], sum_p[i], tol * (1 + fabs(sum_p[i])));
    }
    bz_free(s);
}

/* A copies sampler whose every copy is the exact Gaussian pair of
 * bz_log_z_exact_when_the_joint_is_representable (code columns zero). */
static bz_sampler *exact_gauss_copies(const bz_energy *e, int K, bool copy_bound) {
    int C = e->copies;
    nn_error err = {{0}};
    bz_sampler *s = bz_new(e, &(bz_config){.z_dim = 2 * C, .structure = BZ_COPIES,
                                           .encoder_text = "linear 4", .decoder_text = "linear 4",
                                           .path_gradient = true, .samples = K,
                                           .copy_bound = copy_bound, .seed = 1},
                           &err);
    if (!s) return NULL;
    double w[4 * (2 + 8)] = {0}, b[4] = {0, 0, log(0.64), log(0.64)};
    w[0 * (2 + C) + 0] = w[1 * (2 + C) + 1] = 0.6;   /* mean = 0.6 z_k (or 0.6 x_k) */
    set_param(s, "decoder.0.linear.weight", w, (size_t)4 * (2 + C));
    set_param(s, "decoder.0.linear.bias", b, 4);
    set_param(s, "encoder.0.linear.weight", w, (size_t)4 * (2 + C));
    set_param(s, "encoder.0.linear.bias", b, 4);
    return s;
}

TEST(bz_copies_exact_when_each_copy_is_representable) {
    /* Every copy's joint is μ_k(x_k)P(z_k|x_k), so every draw has log w = C ln 2π: the
     * copies' draws, densities, log π and the per-copy encoder draws of bz_draw all add up,
     * and the per-copy bound of the loss is log Z itself. */
    enum { C = 4, N = 2000 };
    bz_energy e = gauss_copies(C, true);
    bz_sampler *s = exact_gauss_copies(&e, 4, true);
    if (!s) { CHECK(s != NULL); return; }
    static double lw[N];
    static ag_real x[N * 2 * C];
    double tol = sizeof(ag_real) == 8 ? 1e-9 : 1e-4;
    for (int m = 0; m <= 3; m += 3) {
        bz_draw(s, N, m, 5 + m, x, lw, NULL);
        for (int i = 0; i < N; i++) CHECK_NEAR(lw[i], C * LOG_2PI, tol * 10);
        bz_estimate est = bz_estimate_weights(lw, N);
        CHECK_NEAR(est.ess, 1, tol);
    }
    double m2 = 0; /* the samples are N(0, I) */
    for (int i = 0; i < N * 2 * C; i++) m2 += (double)x[i] * x[i] / (N * 2 * C);
    CHECK_NEAR(m2, 1, 0.05);
    ag_tape *t = ag_tape_new(2);
    bz_stats st;
    bz_loss(s, t, 32, 1, &st);
    CHECK_NEAR(st.objective, -C * LOG_2PI, tol * 10);
    CHECK_NEAR(-st.neg_log_w, C * LOG_2PI, tol * 10);
    ag_tape_free(t);
    bz_free(s);
}

TEST(bz_copies_refusals) {
    nn_error err = {{0}};
    bz_energy dw = bz_double_well(), mw = bz_many_well(4), is = bz_ising(3, 3, 0.3);
    bz_energy plain = gauss_copies(2, false);
    const char *two = "linear 4";
    /* no copies, binary x, a latent size that does not split */
    CHECK(!bz_new(&dw, &(bz_config){.z_dim = 2, .structure = BZ_COPIES, .encoder_text = two,
                                     .decoder_text = two}, &err));
    CHECK(strstr(err.msg, "copies") && strstr(err.msg, "double-well"));
    is.copies = 9;
    CHECK(!bz_new(&is, &(bz_config){.z_dim = 9, .structure = BZ_COPIES, .encoder_text = "linear 2",
                                     .decoder_text = "linear 2"}, &err));
    CHECK(strstr(err.msg, "binary"));
    CHECK(!bz_new(&mw, &(bz_config){.z_dim = 6, .structure = BZ_COPIES, .encoder_text = two,
                                     .decoder_text = two}, &err));
    CHECK(strstr(err.msg, "latent 6"));
    /* one copy's sizes: encoder 2·l, decoder 2·b */
    CHECK(!bz_new(&mw, &(bz_config){.z_dim = 8, .structure = BZ_COPIES, .encoder_text = "linear 16",
                                     .decoder_text = two}, &err));
    CHECK(strstr(err.msg, "encoder") && strstr(err.msg, "linear 4"));
    CHECK(!bz_new(&mw, &(bz_config){.z_dim = 4, .structure = BZ_COPIES, .encoder_text = "linear 2",
                                     .decoder_text = "linear 8"}, &err));
    CHECK(strstr(err.msg, "decoder") && strstr(err.msg, "linear 4"));
    /* the per-copy bound needs each copy's energy; the joint bound does not */
    CHECK(!bz_new(&plain, &(bz_config){.z_dim = 4, .structure = BZ_COPIES, .encoder_text = two,
                                        .decoder_text = two, .samples = 4, .copy_bound = true},
                  &err));
    CHECK(strstr(err.msg, "copy_energy"));
    bz_sampler *s = bz_new(&plain, &(bz_config){.z_dim = 4, .structure = BZ_COPIES,
                                                .encoder_text = two, .decoder_text = two,
                                                .samples = 4}, &err);
    CHECK(s != NULL);
    bz_free(s);
}

/* ---- the KL closed form of seed 003 ------------------------------------------------------------ */

TEST(bz_kl_isotropic_corrects_seed_eq_2_10) {
    /* Monte Carlo of E_x[ln N(x; μx, σx²I) − ln N(x; μy, σy²I)] against the closed form. */
    const int d = 3;
    double mx[3] = {0.5, -1, 0.2}, my[3] = {0, 0.3, 1}, vx = 0.5, vy = 2;
    ag_rng r;
    ag_rng_seed(&r, 12);
    double mc = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double lp = 0, lq = 0;
        for (int j = 0; j < d; j++) {
            double x = mx[j] + sqrt(vx) * ag_rng_normal(&r);
            lp += -0.5 * (log(2 * M_PI * vx) + (x - mx[j]) * (x - mx[j]) / vx);
            lq += -0.5 * (log(2 * M_PI * vy) + (x - my[j]) * (x - my[j]) / vy);
        }
        mc += (lp - lq) / n;
    }
    double kl = bz_kl_isotropic(d, mx, vx, my, vy);
    CHECK_NEAR(kl, mc, 0.01);
    /* The seed's (2.10) has ln(σy²/σx²) without the d: off by (d − 1)/2 · ln(σy²/σx²). */
    double dist = 0;
    for (int j = 0; j < d; j++) dist += (my[j] - mx[j]) * (my[j] - mx[j]);
    double seed_form = 0.5 * (log(vy / vx) - d + d * vx / vy + dist / vy);
    CHECK_NEAR(kl - seed_form, 0.5 * (d - 1) * log(vy / vx), 1e-12);
    CHECK(fabs(seed_form - mc) > 0.5);
}

/* ---- MCMC ----------------------------------------------------------------------------------------- */

/* U = (x − 1)² / (2·4): N(1, 4) in 1-D. */
static ag_tensor *shifted_gauss(const bz_energy *e, ag_tape *t, ag_tensor *x) {
    (void)e;
    ag_tensor *d = ag_add_scalar(t, x, -1);
    return ag_reshape(t, ag_scale(t, ag_square(t, d), (ag_real)0.125), 1, (int[]){x->shape[0]});
}

static void gauss_observe(const bz_energy *e, const ag_real *x, double *f) {
    (void)e;
    f[0] = x[0], f[1] = (x[0] - 1) * (x[0] - 1);
}

TEST(bz_mcmc_samples_a_gaussian) {
    bz_energy e = {.name = "gauss1", .dim = 1, .energy = shifted_gauss, .n_obs = 2,
                   .observe = gauss_observe, .obs_exact = {1, 4}};
    for (int kind = 0; kind < 2; kind++) {
        bz_mcmc_result r = bz_mcmc(&e, &(bz_mcmc_opts){.kind = kind, .chains = 64, .steps = 2000,
                                                       .seed = 3 + kind});
        CHECK_NEAR(r.obs[0], 1, 0.1);             /* mean */
        CHECK_NEAR(r.obs[1], 4, 0.3);             /* variance */
        CHECK_NEAR(r.accept, kind == BZ_MALA ? 0.57 : 0.3, 0.08);
        CHECK(r.tau >= 1 && r.tau < 30 && r.ess > 1000);
    }
}

TEST(bz_mcmc_ising_energy_per_spin) {
    bz_energy e = bz_ising(4, 4, 0.3);
    bz_mcmc_result r = bz_mcmc(&e, &(bz_mcmc_opts){.chains = 32, .steps = 2000, .seed = 1});
    CHECK_NEAR(r.obs[0], e.obs_exact[0], 0.02);
    CHECK_NEAR(r.obs[1], 0.5, 0.05);                   /* P(m > 0) + ½P(m = 0) */
}

TEST(bz_autocorr_time_of_ar1) {
    /* x_t = ρ x_{t−1} + √(1 − ρ²) ε: τ = (1 + ρ)/(1 − ρ) = 19 for ρ = 0.9. */
    const int chains = 16, n = 20000;
    double *tr = malloc(sizeof(double) * chains * n), rho = 0.9;
    ag_rng r;
    ag_rng_seed(&r, 4);
    for (int c = 0; c < chains; c++) {
        double x = ag_rng_normal(&r);
        for (int i = 0; i < n; i++) {
            x = rho * x + sqrt(1 - rho * rho) * ag_rng_normal(&r);
            tr[c * n + i] = x;
        }
    }
    CHECK_NEAR(bz_autocorr_time(tr, chains, n), 19, 19 * 0.12);
    for (int i = 0; i < chains * n; i++) tr[i] = 2.5;      /* constant: τ = 1 */
    CHECK_NEAR(bz_autocorr_time(tr, chains, n), 1, 0);
    free(tr);
}
