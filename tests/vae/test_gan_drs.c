/* test_gan_drs.c — discriminator rejection sampling (vae/gan.h, Azadi et al. 2019) on
 * densities we know, so that the kept samples can be held against the target:
 *   - the probability of keeping: e^{l − M}, and with a shift γ the odds times e^{−γ};
 *   - gan_drs_filter on x ~ N(0, 1) with the exact log ratio of N(1, 0.5²) as logits: the
 *     kept samples follow N(1, 0.5²) (mean, spread, a quantile, the acceptance rate e^{−M})
 *     where the unfiltered ones are far off, and γ < 0 keeps more but corrects less;
 *   - gan_drs_sample through a real gan: G(z) = z with z ~ U(−1, 1) and a D whose logit is
 *     2x + c (after an input dropout that evaluation mode must switch off) gives the density
 *     ∝ e^{2x} on (−1, 1), for single samples and for PacGAN pairs; max_tries stops it. */
#include "tests/test.h"
#include "vae/gan.h"

#include <math.h>
#include <stdlib.h>

static double log_normal(double x, double mu, double sd) {
    return -0.5 * (x - mu) * (x - mu) / (sd * sd) - log(sd) - 0.5 * log(2 * M_PI);
}

TEST(gan_drs_keep_probability_is_the_shifted_odds) {
    const ag_real burn[] = {-1, 0.5f, 2, -3};
    gan_drs d = gan_drs_begin(burn, 4, 0);
    CHECK_NEAR(d.max_logit, 2, 0);
    CHECK(d.tried == 0 && d.kept == 0);
    for (double l = -6; l <= 2; l += 0.5) CHECK_NEAR(gan_drs_accept_prob(&d, l), exp(l - 2), 1e-15);
    CHECK_NEAR(gan_drs_accept_prob(&d, 3), 1, 0); /* above M: kept */
    for (int k = 0; k < 3; k++) {
        d.gamma = (double[]){-2, 1.5, 800}[k];
        for (double l = -6; l < 2; l += 0.5) {
            double a = exp(l - 2), f = log(a / (1 - a)) - d.gamma; /* Azadi et al.'s F */
            CHECK_NEAR(gan_drs_accept_prob(&d, l), 1 / (1 + exp(-f)), 1e-12);
        }
        CHECK_NEAR(gan_drs_accept_prob(&d, 2), 1, 0); /* a = 1 stays 1 for any γ */
    }
}

/* p_g = N(0, 1), p_d = N(1, 0.5²): l(x) = ln p_d(x) − ln p_g(x) is bounded above (p_d is the
 * narrower), by M = ln 2 + 2/3 at x = 4/3, and exact DRS keeps a share e^{−M} ≈ 0.257. */
TEST(gan_drs_filter_turns_a_gaussian_into_the_target) {
    enum { BURN = 10000, N = 300000 };
    ag_real *rows = malloc(sizeof(ag_real) * 2 * N), *l = malloc(sizeof(ag_real) * N);
    ag_real *burn = malloc(sizeof(ag_real) * BURN), *orig = malloc(sizeof(ag_real) * N);
    ag_rng r;
    ag_rng_seed(&r, 11);
    for (int i = 0; i < BURN; i++) {
        double x = ag_rng_normal(&r);
        burn[i] = (ag_real)(log_normal(x, 1, 0.5) - log_normal(x, 0, 1));
    }
    double plain = 0, exact_rate = 0;
    for (int k = 0; k < 2; k++) { /* k = 0: exact; k = 1: γ = −3 */
        ag_rng_seed(&r, 12); /* the same samples both times */
        for (int i = 0; i < N; i++) {
            double x = ag_rng_normal(&r);
            rows[2 * i] = orig[i] = (ag_real)x, rows[2 * i + 1] = (ag_real)i; /* (x, its place) */
            l[i] = (ag_real)(log_normal(x, 1, 0.5) - log_normal(x, 0, 1));
            if (k == 0) plain += x / N;
        }
        gan_drs d = gan_drs_begin(burn, BURN, k ? -3 : 0);
        int kept = gan_drs_filter(&d, l, N, &r, rows, 2);
        CHECK(d.tried == N && d.kept == kept && kept > 1000);
        double mean = 0, var = 0, below = 0, last = -1;
        bool in_order = true;
        for (int i = 0; i < kept; i++) {
            double x = rows[2 * i];
            mean += x / kept, below += x < 0.5 ? 1.0 / kept : 0;
            in_order = in_order && rows[2 * i + 1] > last && orig[(int)rows[2 * i + 1]] == x;
            last = rows[2 * i + 1];
        }
        for (int i = 0; i < kept; i++) var += (rows[2 * i] - mean) * (rows[2 * i] - mean) / (kept - 1);
        CHECK(in_order); /* the kept rows, whole and in their order */
        double se = 0.5 / sqrt(kept), rate = (double)kept / N;
        if (k == 0) {
            /* 4 standard errors: N(1, 0.5²)'s mean, sd, and P(x < 0.5) = Φ(−1) */
            CHECK_NEAR(mean, 1, 4 * se);
            CHECK_NEAR(sqrt(var), 0.5, 4 * 0.5 / sqrt(2.0 * kept));
            CHECK_NEAR(below, 0.158655, 4 * sqrt(0.158655 * 0.841345 / kept));
            double m_true = log(2.0) + 2.0 / 3;
            CHECK(d.max_logit <= m_true + 1e-5 && d.max_logit > m_true - 0.05);
            CHECK_NEAR(rate, exp(-d.max_logit), 4 * sqrt(0.26 * 0.74 / N));
            CHECK(fabs(plain - 1) > 100 * se); /* without the correction: far off */
            exact_rate = rate;
        } else {
            CHECK(rate > exact_rate + 0.2);    /* γ = −3 keeps more ... */
            CHECK(mean < 1 - 20 * se);         /* ... and corrects less */
            CHECK(mean > plain + 0.3);
        }
    }
    free(rows), free(l), free(burn), free(orig);
}

/* G(z) = z, z ~ U(−1, 1); D: dropout 0.5 on x, then logit w·x + c.  In evaluation mode
 * D's logit is 2x + c (pairs: 2x₁ + 2x₂ + c), so the kept samples have density ∝ e^{2x} on
 * (−1, 1): mean coth 2 − 1/2, P(x > 0) = (e² − 1)/(e² − e^{−2}).  In training mode the
 * dropout would make the logit 4x + c or c, half the time each: another density. */
TEST(gan_drs_sample_draws_the_density_d_implies) {
    for (int pack = 1; pack <= 2; pack++) {
        nn_error err = {{0}};
        gan *g = gan_new(&(gan_config){.x_ndim = 1, .x_shape = {1}, .z_dim = 1,
                                       .prior = GAN_PRIOR_UNIFORM, .generator_text = "linear 1",
                                       .discriminator_text = "dropout 0.5, linear 1",
                                       .pack = pack, .seed = 5},
                         &err);
        if (!g) {
            test_fail(__FILE__, __LINE__, "gan_new: %s", err.msg);
            return;
        }
        ag_fill(g->generator->params.items[0].value, 1);
        ag_fill(g->generator->params.items[1].value, 0);
        ag_fill(g->discriminator->params.items[0].value, 2);
        ag_fill(g->discriminator->params.items[1].value, 0.3f);
        gan_set_training(g, true); /* G as in training; D must still drop no input */
        enum { N = 40000 };
        ag_real *x = malloc(sizeof(ag_real) * N);
        ag_tape *t = ag_tape_new(21);
        gan_drs d = {.gamma = 0};
        int got = gan_drs_sample(g, t, &d, 5000, N, 500, 0, x);
        CHECK(got == N);
        double mean = 0, pos = 0;
        for (int i = 0; i < N; i++) mean += x[i] / N, pos += x[i] > 0 ? 1.0 / N : 0;
        double want = cosh(2.0) / sinh(2.0) - 0.5, sd = sqrt(0.25 - 1 / (sinh(2.0) * sinh(2.0)));
        double p = (exp(2.0) - 1) / (exp(2.0) - exp(-2.0));
        CHECK_NEAR(mean, want, 4 * sd / sqrt(N));
        CHECK_NEAR(pos, p, 4 * sqrt(p * (1 - p) / N));
        /* M ≈ 2·pack + 0.3 and a share (sinh 2 / 2)^pack / e^{2·pack} of the groups is kept */
        CHECK(d.max_logit > 2 * pack + 0.3 - 0.05 && d.max_logit <= 2 * pack + 0.3 + 1e-5);
        double rate = pow(sinh(2.0) / 2, pack) * exp(-(d.max_logit - 0.3));
        CHECK_NEAR((double)d.kept / d.tried, rate, 0.01);
        CHECK(d.kept * pack >= N && d.kept * pack < N + 500);

        /* A D that keeps ~1 in 80 (logit 80x): 1000 tries give far fewer than 1000. */
        ag_fill(g->discriminator->params.items[0].value, 80);
        gan_drs e = {.gamma = 0};
        got = gan_drs_sample(g, t, &e, 1000, 1000, 500, 1000, x);
        CHECK(e.tried * pack == 1000 && got < 200 && got == e.kept * pack);
        ag_tape_free(t);
        free(x);
        gan_free(g);
    }
}
