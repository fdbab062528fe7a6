/* test_random.c — the noise ops: the distribution of reparameterized samples, dropout's
 * keep rate and scaling, reproducibility from the tape's seed, and gradients with the
 * noise held fixed (ag_gradcheck reseeds the tape's PRNG before every evaluation). */
#include "tests/test.h"
#include "autograd/autograd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DRAWS 100000

/* z = μ + σ ε with μ = 1.5, σ = 0.5 (logvar = log 0.25).  Over n draws the sample mean
 * has standard error σ/√n = 0.0016 and the sample std σ/√(2n) = 0.0011; 5 standard
 * errors (a 6e-7 chance of a false alarm for a fair generator — and the seed is fixed, so
 * the test is deterministic) still catch a wrong σ = e^logvar instead of e^(logvar/2)
 * (0.25) or a missing μ by a factor of hundreds. */
TEST(reparameterize_has_the_right_mean_and_std) {
    ag_tape *t = ag_tape_new(2024);
    ag_tensor *mu = ag_full(t, 1, (int[]){DRAWS}, 1.5);
    ag_tensor *lv = ag_full(t, 1, (int[]){DRAWS}, (ag_real)log(0.25));
    ag_tensor *z = ag_reparameterize(t, mu, lv);
    double s = 0, ss = 0;
    for (int i = 0; i < DRAWS; i++) s += (double)z->data[i];
    double mean = s / DRAWS;
    for (int i = 0; i < DRAWS; i++) ss += ((double)z->data[i] - mean) * ((double)z->data[i] - mean);
    double std = sqrt(ss / (DRAWS - 1));
    CHECK_NEAR(mean, 1.5, 5 * 0.5 / sqrt(DRAWS));
    CHECK_NEAR(std, 0.5, 5 * 0.5 / sqrt(2.0 * DRAWS));
    /* Nothing required grad: no node recorded. */
    CHECK(ag_tape_num_nodes(t) == 0 && !z->requires_grad);
    ag_tape_free(t);
}

TEST(reparameterize_same_seed_same_noise) {
    ag_tape *a = ag_tape_new(7), *b = ag_tape_new(7), *c = ag_tape_new(8);
    int shape[2] = {4, 5};
    ag_tensor *za = ag_reparameterize(a, ag_zeros(a, 2, shape), ag_zeros(a, 2, shape));
    ag_tensor *zb = ag_reparameterize(b, ag_zeros(b, 2, shape), ag_zeros(b, 2, shape));
    ag_tensor *zc = ag_reparameterize(c, ag_zeros(c, 2, shape), ag_zeros(c, 2, shape));
    CHECK(memcmp(za->data, zb->data, 20 * sizeof(ag_real)) == 0);
    CHECK(memcmp(za->data, zc->data, 20 * sizeof(ag_real)) != 0);
    /* The stream moves on: a second draw on the same tape is new noise. */
    ag_tensor *za2 = ag_reparameterize(a, ag_zeros(a, 2, shape), ag_zeros(a, 2, shape));
    CHECK(memcmp(za->data, za2->data, 20 * sizeof(ag_real)) != 0);
    ag_tape_free(a);
    ag_tape_free(b);
    ag_tape_free(c);
}

/* With μ = 0, logvar = 0 the sample is ε itself: dz/dlogvar = ε/2 and dz/dμ = 1 exactly. */
TEST(reparameterize_backward_uses_the_drawn_noise) {
    ag_tape *t = ag_tape_new(3);
    ag_tensor *mu = ag_tensor_new(1, (int[]){6}, true), *lv = ag_tensor_new(1, (int[]){6}, true);
    ag_tensor *z = ag_reparameterize(t, mu, lv);
    ag_backward_seed(t, z, ag_ones(t, 1, (int[]){6}));
    for (int i = 0; i < 6; i++) {
        CHECK(mu->grad[i] == 1);
        CHECK_NEAR(lv->grad[i], 0.5 * (double)z->data[i], 1e-7);
    }
    ag_tensor_free(mu);
    ag_tensor_free(lv);
    ag_tape_free(t);
}

static ag_tensor *reparam_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    return ag_reparameterize(t, in[0], in[1]);
}

TEST(reparameterize_gradcheck) {
    ag_rng r;
    ag_rng_seed(&r, 31);
    ag_tensor *in[2] = {ag_tensor_new(2, (int[]){3, 4}, true), ag_tensor_new(2, (int[]){3, 4}, true)};
    in[0]->name = "mu";
    in[1]->name = "logvar";
    ag_fill_randn(&r, in[0], 1);
    ag_fill_uniform(&r, in[1], -1, 1);
    ag_gradcheck_report rep = ag_gradcheck(reparam_fn, in, 2, NULL, NULL);
    if (!rep.ok) ag_gradcheck_print("reparameterize", &rep, stderr);
    CHECK(rep.ok);
    ag_tensor_free(in[0]);
    ag_tensor_free(in[1]);
}

TEST(reparameterize_shape_error) {
    ag_tape *t = ag_tape_new(1);
    EXPECT_ERROR(ag_reparameterize(t, ag_zeros(t, 2, (int[]){2, 3}), ag_zeros(t, 1, (int[]){3})));
    CHECK(strstr(test_last_error, "reparameterize") && strstr(test_last_error, "(2, 3)") &&
          strstr(test_last_error, "(3)"));
    ag_tape_free(t);
}

/* Keep rate 1-p = 0.7 over n draws: standard error √(p(1-p)/n) = 0.0014, tolerance 5 of
 * them.  The mean of y = x·m/(1-p) for x = 1 is 1 with standard error √(p/(1-p)/n)
 * = 0.0021. */
TEST(dropout_keep_rate_and_scaling) {
    ag_tape *t = ag_tape_new(5);
    const double p = 0.3;
    ag_tensor *x = ag_tensor_new(1, (int[]){DRAWS}, true);
    ag_fill(x, 1);
    ag_tensor *y = ag_dropout(t, x, (ag_real)p, true);
    CHECK(y != x && ag_tape_num_nodes(t) == 1);
    int kept = 0, bad = 0;
    double s = 0;
    for (int i = 0; i < DRAWS; i++) {
        double v = (double)y->data[i];
        if (v != 0) kept++;
        if (v != 0 && fabs(v - 1 / (1 - p)) > 1e-6) bad++;
        s += v;
    }
    CHECK(bad == 0);
    CHECK_NEAR((double)kept / DRAWS, 1 - p, 5 * sqrt(p * (1 - p) / DRAWS));
    CHECK_NEAR(s / DRAWS, 1, 5 * sqrt(p / (1 - p) / DRAWS));
    /* Backward routes the gradient through the same mask, with the same scale. */
    ag_backward_seed(t, y, ag_ones(t, 1, (int[]){DRAWS}));
    int mismatch = 0;
    for (int i = 0; i < DRAWS; i++) mismatch += x->grad[i] != y->data[i];
    CHECK(mismatch == 0);
    ag_tensor_free(x);
    ag_tape_free(t);
}

TEST(dropout_eval_mode_is_identity) {
    ag_tape *t = ag_tape_new(5);
    ag_tensor *x = ag_tensor_new(2, (int[]){3, 3}, true);
    CHECK(ag_dropout(t, x, 0.5, false) == x);
    CHECK(ag_dropout(t, x, 0, true) == x);
    CHECK(ag_tape_num_nodes(t) == 0 && ag_tape_bytes_used(t) == 0);
    EXPECT_ERROR(ag_dropout(t, x, 1, true));
    CHECK(strstr(test_last_error, "dropout") != NULL);
    EXPECT_ERROR(ag_dropout(t, x, -0.1, false));
    EXPECT_ERROR(ag_dropout(t, x, (ag_real)NAN, true));
    ag_tensor_free(x);
    ag_tape_free(t);
}

TEST(dropout_same_seed_same_mask) {
    ag_tape *a = ag_tape_new(9), *b = ag_tape_new(9);
    ag_tensor *ya = ag_dropout(a, ag_ones(a, 1, (int[]){64}), 0.5, true);
    ag_tensor *yb = ag_dropout(b, ag_ones(b, 1, (int[]){64}), 0.5, true);
    CHECK(memcmp(ya->data, yb->data, 64 * sizeof(ag_real)) == 0);
    ag_tape_free(a);
    ag_tape_free(b);
}

static ag_tensor *dropout_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    /* tanh after the mask, so the check also sees values flow through dropout. */
    return ag_tanh(t, ag_dropout(t, in[0], 0.4f, true));
}

TEST(dropout_gradcheck) {
    ag_rng r;
    ag_rng_seed(&r, 32);
    ag_tensor *x = ag_tensor_new(2, (int[]){4, 5}, true);
    x->name = "x";
    ag_fill_randn(&r, x, 1);
    ag_gradcheck_report rep = ag_gradcheck(dropout_fn, &x, 1, NULL, NULL);
    if (!rep.ok) ag_gradcheck_print("dropout", &rep, stderr);
    CHECK(rep.ok);
    ag_tensor_free(x);
}

/* Enough draws for the threaded transform: the same z on 1 and 2 threads, and the noise is
 * ag_rng_normal's stream from the tape's seed, element for element. */
TEST(reparameterize_same_noise_for_any_thread_count) {
    enum { N = 5003 };
    int prev = ag_num_threads();
    ag_real *z[2];
    for (int run = 0; run < 2; run++) {
        ag_set_num_threads(run + 1);
        ag_tape *t = ag_tape_new(99);
        ag_tensor *mu = ag_full(t, 1, (int[]){N}, 0.25), *lv = ag_full(t, 1, (int[]){N}, -1);
        ag_tensor *out = ag_reparameterize(t, mu, lv);
        z[run] = malloc(N * sizeof(ag_real));
        memcpy(z[run], out->data, N * sizeof(ag_real));
        ag_tape_free(t);
    }
    ag_set_num_threads(prev);
    CHECK(memcmp(z[0], z[1], N * sizeof(ag_real)) == 0);
    ag_tape *t = ag_tape_new(99);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        ag_real eps = (ag_real)ag_rng_normal(ag_tape_rng(t));
        bad += fabs((double)z[0][i] - (0.25 + exp(-0.5) * (double)eps)) > 1e-6;
    }
    CHECK(bad == 0);
    ag_tape_free(t);
    free(z[0]), free(z[1]);
}
