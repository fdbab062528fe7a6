/* test_likelihood.c — the discretized logistic likelihood (autograd/ops_likelihood.c): its
 * values against the textbook difference of sigmoids in long double, the 256 probabilities
 * summing to 1, finite and right values where the textbook form gives −inf (a pixel far in
 * a tail, and a scale so wide its bin width underflows), gradients for mean and log-scale
 * (ag_gradcheck, double build) in the edge bins, the middle and the tails, and the errors. */
#include "tests/test.h"
#include "autograd/autograd.h"

#include <math.h>
#include <string.h>

#ifdef AG_DOUBLE
#define TOL 1e-10
#else
#define TOL 2e-5
#endif

/* −ln p(k) the naive way, in long double: fine where the difference does not cancel. */
static double naive_nll(double mu, double ls, int k, int levels) {
    long double h = 0.5L / (levels - 1), c = (long double)k / (levels - 1), s = expl(ls);
    long double up = k == levels - 1 ? 1 : 1 / (1 + expl(-(c - mu + h) / s));
    long double lo = k == 0 ? 0 : 1 / (1 + expl(-(c - mu - h) / s));
    return (double)-logl(up - lo);
}

/* The op on n scalars (mean, log-scale, level) in one call; values into out. */
static void nll_of(int n, const double *mu, const double *ls, const int *k, int levels,
                   double *out) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *m = ag_zeros(t, 1, (int[]){n}), *s = ag_zeros(t, 1, (int[]){n}),
              *x = ag_zeros(t, 1, (int[]){n});
    for (int i = 0; i < n; i++)
        m->data[i] = (ag_real)mu[i], s->data[i] = (ag_real)ls[i],
        x->data[i] = (ag_real)((double)k[i] / (levels - 1));
    ag_tensor *o = ag_discretized_logistic_nll(t, m, s, x, levels);
    for (int i = 0; i < n; i++) out[i] = o->data[i];
    ag_tape_free(t);
}

TEST(discretized_logistic_values_match_the_difference_of_sigmoids) {
    const double mu[] = {0.5, 0.1, 0.9, 0.0, 1.0, 0.3, 0.7, 0.45};
    const double ls[] = {-3, -5, -2, -4, -4, -1, -6, -5.5};
    const int k[] = {128, 20, 255, 0, 255, 77, 180, 115};
    double got[8];
    nll_of(8, mu, ls, k, 256, got);
    for (int i = 0; i < 8; i++) CHECK_NEAR(got[i], naive_nll(mu[i], ls[i], k[i], 256), TOL);
    /* a 4-level variable too: levels is a parameter, not a constant */
    const int k4[] = {0, 1, 2, 3, 1, 2, 0, 3};
    const double ls4[] = {-1, -2, -1.5, -1, -3, -2, -1, -1.5};
    nll_of(8, mu, ls4, k4, 4, got);
    for (int i = 0; i < 8; i++) CHECK_NEAR(got[i], naive_nll(mu[i], ls4[i], k4[i], 4), TOL);
}

TEST(discretized_logistic_probabilities_sum_to_one) {
    /* Σ_k p(k) = 1 for any location and scale, the edge bins taking the tails. */
    const double mus[] = {0.5, -2, 3, 0.0};
    const double lss[] = {-5, 1, -8, 3};
    for (int c = 0; c < 4; c++) {
        double mu[256], ls[256], out[256], sum = 0;
        int k[256];
        for (int i = 0; i < 256; i++) mu[i] = mus[c], ls[i] = lss[c], k[i] = i;
        nll_of(256, mu, ls, k, 256, out);
        for (int i = 0; i < 256; i++) {
            CHECK(out[i] >= 0); /* a probability is at most 1 */
            sum += exp(-out[i]);
        }
        CHECK_NEAR(sum, 1.0, 1e-5);
    }
}

TEST(discretized_logistic_tails_and_wide_scales_stay_finite) {
    /* A pixel far from its mean: both sigmoids round to the same value (to 0 or to 1), so
     * the textbook difference is 0 and its log −inf.  For a, b ≪ 0, σ(a) − σ(b) ≈
     * e^a (1 − e^−d); for a, b ≫ 0 it is ≈ e^−b (1 − e^−d). */
    const double mu[] = {0.0, 1.0}, ls[] = {-7, -7};
    const int k[] = {200, 30};
    double got[2];
    nll_of(2, mu, ls, k, 256, got);
    double s_inv = exp(7), h = 0.5 / 255, d = 2 * h * s_inv;
    double a0 = s_inv * (200 / 255.0 - 0.0 + h);           /* k = 200 above μ = 0: a, b ≫ 0 */
    double b0 = a0 - d;
    double b1 = s_inv * (30 / 255.0 - 1.0 - h), a1 = b1 + d;  /* k = 30 below μ = 1: ≪ 0 */
    (void)a0, (void)b1;
    CHECK(isfinite(got[0]) && isfinite(got[1]));
    CHECK_NEAR(got[0], b0 - log1p(-exp(-d)), 1e-3 * b0);
    CHECK_NEAR(got[1], -a1 - log1p(-exp(-d)), 1e-3 * -a1);
    CHECK(got[0] > 500 && got[1] > 500); /* really that improbable: these are not clamped */
    /* A scale so wide that e^−ls underflows to 0 (ls = 750 in double, 120 in float): the
     * middle bin's mass is the density at its centre, σ'(0) = ¼, times the width 2h/s: */
#ifdef AG_DOUBLE
    const double ls2[] = {750};
#else
    const double ls2[] = {120};
#endif
    const double mu2[] = {0.5};
    const int k2[] = {128};
    nll_of(1, mu2, ls2, k2, 256, got);
    CHECK(isfinite(got[0]));
    CHECK_NEAR(got[0], -(log(0.25) + log(2 * h) - ls2[0]), 1e-6 * ls2[0]);
}

static ag_tensor *dlog_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    return ag_discretized_logistic_nll(t, in[0], in[1], in[2], *(int *)ctx);
}

TEST(discretized_logistic_gradcheck) {
    /* Edge bins, middle bins near and far from the mean, narrow and wide scales. */
    const ag_real mu[] = {0.5, 0.1, 0.9, 0.0, 1.0, 0.3, 0.7, 0.45, -0.5, 1.5, 0.2, 0.6};
    const ag_real ls[] = {-3, -5, -2, -4, -4, -1, -6, -5.5, -2, -3, 2, -7};
    const int k[] = {128, 0, 255, 0, 255, 77, 180, 115, 60, 250, 3, 153};
    ag_tensor *in[3] = {ag_tensor_new(1, (int[]){12}, true), ag_tensor_new(1, (int[]){12}, true),
                        ag_tensor_new(1, (int[]){12}, false)};
    in[0]->name = "mean", in[1]->name = "log_scale";
    for (int i = 0; i < 12; i++)
        in[0]->data[i] = mu[i], in[1]->data[i] = ls[i], in[2]->data[i] = (ag_real)(k[i] / 255.0);
    int levels = 256;
    ag_gradcheck_opts o = {0};
    ag_gradcheck_report rep = ag_gradcheck(dlog_fn, in, 3, &levels, &o);
#ifdef AG_DOUBLE /* float's step h = 0.01 is wider than the narrowest bins: double only */
    if (!rep.ok) ag_gradcheck_print("discretized_logistic_nll", &rep, stderr);
    CHECK(rep.ok);
#endif
    CHECK(rep.accumulates);
    for (int i = 0; i < 3; i++) ag_tensor_free(in[i]);
}

TEST(discretized_logistic_target_gets_no_gradient) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *m = ag_param(1, (int[]){2}), *s = ag_param(1, (int[]){2}), *x = ag_param(1, (int[]){2});
    m->data[0] = 0.2f, m->data[1] = 0.8f, x->data[0] = 0.5f, x->data[1] = 1;
    ag_backward(t, ag_sum(t, ag_discretized_logistic_nll(t, m, s, x, 256)));
    CHECK(x->grad[0] == 0 && x->grad[1] == 0);
    CHECK(m->grad[0] != 0 && s->grad[0] != 0);
    ag_tape_free(t);
    ag_tensor_free(m), ag_tensor_free(s), ag_tensor_free(x);
}

TEST(discretized_logistic_errors_name_op_and_shapes) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *a = ag_zeros(t, 2, (int[]){2, 3}), *b = ag_zeros(t, 2, (int[]){3, 2});
    EXPECT_ERROR(ag_discretized_logistic_nll(t, a, a, b, 256));
    CHECK(strstr(test_last_error, "discretized_logistic_nll") &&
          strstr(test_last_error, "(2, 3)") && strstr(test_last_error, "(3, 2)"));
    EXPECT_ERROR(ag_discretized_logistic_nll(t, a, a, a, 1));
    CHECK(strstr(test_last_error, "levels"));
    ag_tape_free(t);
}
