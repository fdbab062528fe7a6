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

/* ---- the mixture (ag_discretized_logistic_mixture_nll) ---------------------------------- */

/* The mixture on one row of n values with K components: parameters as (1, K·n). */
static void mix_of(int n, int K, const double *w, const double *mu, const double *ls,
                   const int *k, int levels, double *out) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *tw = ag_zeros(t, 2, (int[]){1, K * n}), *tm = ag_zeros(t, 2, (int[]){1, K * n}),
              *ts = ag_zeros(t, 2, (int[]){1, K * n}), *x = ag_zeros(t, 2, (int[]){1, n});
    for (int i = 0; i < K * n; i++)
        tw->data[i] = (ag_real)w[i], tm->data[i] = (ag_real)mu[i], ts->data[i] = (ag_real)ls[i];
    for (int i = 0; i < n; i++) x->data[i] = (ag_real)((double)k[i] / (levels - 1));
    ag_tensor *o = ag_discretized_logistic_mixture_nll(t, tw, tm, ts, x, levels);
    for (int i = 0; i < n; i++) out[i] = o->data[i];
    ag_tape_free(t);
}

TEST(logistic_mixture_is_the_weighted_sum_of_its_components) {
    /* p = Σ_c softmax(w)_c p_c, each p_c the one-component op's value; K = 3, 5 values,
     * levels in the edge bins, the middle and a far tail of one component. */
    enum { N = 5, K = 3 };
    const double w[K * N] = {0.3, -1, 2, 0, 5, /**/ -0.2, 1, 0, 0, -3, /**/ 1.5, 0, -2, 0, 0};
    const double mu[K * N] = {0.0, 0.5, 1.0, 0.2, 0.9, /**/ 1.0, 0.45, 0.1, 0.8, 0.0,
                              /**/ 0.5, 0.3, 0.6, 0.2, 1.2};
    const double ls[K * N] = {-4, -3, -5, -2, -7, /**/ -5, -1, -3, -4, -2, /**/ -2, -6, -1, -3, 0};
    const int k[N] = {0, 128, 255, 51, 17};
    double got[N], one[1];
    mix_of(N, K, w, mu, ls, k, 256, got);
    for (int i = 0; i < N; i++) {
        double wmax = -INFINITY, z = 0, p = 0;
        for (int c = 0; c < K; c++) wmax = fmax(wmax, w[c * N + i]);
        for (int c = 0; c < K; c++) z += exp(w[c * N + i] - wmax);
        for (int c = 0; c < K; c++) {
            nll_of(1, &mu[c * N + i], &ls[c * N + i], &k[i], 256, one);
            p += exp(w[c * N + i] - wmax) / z * exp(-one[0]);
        }
        CHECK_NEAR(got[i], -log(p), TOL * 10);
    }
    /* one component is the one-component op, whatever its weight */
    const double w1[1] = {4}, mu1[1] = {0.3}, ls1[1] = {-3};
    const int k1[1] = {90};
    mix_of(1, 1, w1, mu1, ls1, k1, 256, got);
    nll_of(1, mu1, ls1, k1, 256, one);
    CHECK_NEAR(got[0], one[0], TOL);
}

TEST(logistic_mixture_probabilities_sum_to_one_and_tails_stay_finite) {
    enum { K = 2 };
    double w[K * 256], mu[K * 256], ls[K * 256], out[256], sum = 0;
    int k[256];
    for (int i = 0; i < 256; i++) {
        w[i] = 0.7, mu[i] = 0.0, ls[i] = -6;          /* a spike at black */
        w[256 + i] = -0.4, mu[256 + i] = 1.0, ls[256 + i] = -3; /* and one at white */
        k[i] = i;
    }
    mix_of(256, K, w, mu, ls, k, 256, out);
    for (int i = 0; i < 256; i++) CHECK(out[i] >= 0 && isfinite(out[i]));
    for (int i = 0; i < 256; i++) sum += exp(-out[i]);
    CHECK_NEAR(sum, 1.0, 1e-5);
    /* both components far from the value: the one-component tail formula, weighted */
    const double w2[2] = {0, 0}, mu2[2] = {0.0, 0.0}, ls2[2] = {-7, -7};
    const int k2[1] = {200};
    mix_of(1, 2, w2, mu2, ls2, k2, 256, out);
    double one[1];
    nll_of(1, mu2, ls2, k2, 256, one);
    CHECK(isfinite(out[0]) && out[0] > 500);
    CHECK_NEAR(out[0], one[0], 1e-6 * one[0]);        /* ln(½ p + ½ p) = ln p */
}

static ag_tensor *dlmix_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    return ag_discretized_logistic_mixture_nll(t, in[0], in[1], in[2], in[3], *(int *)ctx);
}

TEST(logistic_mixture_gradcheck) {
    /* 2 rows of 4 values, K = 3: edge bins, middle bins, a dominant and a negligible
     * component, narrow and wide scales. */
    enum { R = 2, N = 4, K = 3 };
    const ag_real w[R * K * N] = {0.3, -1, 2, 0, -0.2, 1, 0, 0, 1.5, 0, -2, 4,
                                  0, 0, 0, 0, 1, -1, 0.5, 2, -1, 3, 0, -2};
    const ag_real mu[R * K * N] = {0.0, 0.5, 1.0, 0.2, 1.0, 0.45, 0.1, 0.8, 0.5, 0.3, 0.6, 0.2,
                                   0.1, 0.9, 0.5, 0.0, 0.3, 0.6, 1.1, -0.1, 0.7, 0.2, 0.4, 0.95};
    const ag_real ls[R * K * N] = {-4, -3, -5, -2, -5, -1, -3, -4, -2, -6, -1, -3,
                                   -3, -2, 1, -4, -5, -3, -2, -3, -1, -4, -2, -6};
    const int k[R * N] = {0, 128, 255, 51, 17, 230, 255, 0};
    ag_tensor *in[4] = {ag_tensor_new(2, (int[]){R, K * N}, true),
                        ag_tensor_new(2, (int[]){R, K * N}, true),
                        ag_tensor_new(2, (int[]){R, K * N}, true),
                        ag_tensor_new(2, (int[]){R, N}, false)};
    in[0]->name = "logit_weight", in[1]->name = "mean", in[2]->name = "log_scale";
    for (int i = 0; i < R * K * N; i++)
        in[0]->data[i] = w[i], in[1]->data[i] = mu[i], in[2]->data[i] = ls[i];
    for (int i = 0; i < R * N; i++) in[3]->data[i] = (ag_real)(k[i] / 255.0);
    int levels = 256;
    ag_gradcheck_opts o = {0};
    ag_gradcheck_report rep = ag_gradcheck(dlmix_fn, in, 4, &levels, &o);
#ifdef AG_DOUBLE /* as the one-component check: float's step is wider than the bins */
    if (!rep.ok) ag_gradcheck_print("discretized_logistic_mixture_nll", &rep, stderr);
    CHECK(rep.ok);
#endif
    CHECK(rep.accumulates);
    for (int i = 0; i < 4; i++) ag_tensor_free(in[i]);
}

TEST(logistic_mixture_errors_name_op_and_shapes) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *p = ag_zeros(t, 2, (int[]){2, 6}), *q = ag_zeros(t, 2, (int[]){2, 4}),
              *x = ag_zeros(t, 2, (int[]){2, 4}), *y = ag_zeros(t, 2, (int[]){3, 2});
    EXPECT_ERROR(ag_discretized_logistic_mixture_nll(t, p, p, q, x, 256)); /* shapes differ */
    CHECK(strstr(test_last_error, "discretized_logistic_mixture_nll") &&
          strstr(test_last_error, "(2, 6)") && strstr(test_last_error, "(2, 4)"));
    EXPECT_ERROR(ag_discretized_logistic_mixture_nll(t, p, p, p, x, 256)); /* 12 not K·8 */
    CHECK(strstr(test_last_error, "K times"));
    EXPECT_ERROR(ag_discretized_logistic_mixture_nll(t, p, p, p, y, 256)); /* rows differ */
    EXPECT_ERROR(ag_discretized_logistic_mixture_nll(t, q, q, q, x, 1));
    CHECK(strstr(test_last_error, "levels"));
    ag_tape_free(t);
}
