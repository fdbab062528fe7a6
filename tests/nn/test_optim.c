/* test_optim.c — optimizers against hand-computed updates, convergence to known minima,
 * clipping, learning-rate schedules and the exported state.
 *
 * Gradients are written into ->grad by hand (the analytic gradient of a test function), so
 * these tests check the optimizers alone, whatever the state of the op library. */
#include "tests/test.h"
#include "nn/optim.h"
#include "autograd/kernels.h" /* ag_kernel_force: Adam's loop on every kernel */

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A few ulps around 1 in the build's precision. */
#define TOL (sizeof(ag_real) == 8 ? 1e-12 : 2e-6)

/* noinline: gcc -O3 inlines these into calls with compound-literal arguments and then
 * misreports the literals as maybe-uninitialized. */
__attribute__((noinline)) static ag_tensor *vec(int n, const double *values) {
    ag_tensor *x = ag_param(1, (int[]){n});
    for (int i = 0; i < n; i++) x->data[i] = (ag_real)values[i];
    return x;
}

__attribute__((noinline)) static void set_grad(ag_tensor *x, const double *g) {
    for (size_t i = 0; i < x->size; i++) x->grad[i] = (ag_real)g[i];
}

static nn_param_list one_param(ag_tensor *w) {
    nn_param_list l = {0};
    nn_params_add(&l, NULL, "w", w, true);
    return l;
}

TEST(optim_sgd_plain_and_l2_hand_computed) {
    ag_tensor *w = vec(2, (double[]){1, 2});
    nn_param_list l = one_param(w);
    nn_optim *o = nn_sgd(&l, 0.1, 0, false);
    set_grad(w, (double[]){0.5, -1});
    nn_optim_step(o);                                 /* w -= 0.1 g */
    CHECK_NEAR(w->data[0], 0.95, TOL);
    CHECK_NEAR(w->data[1], 2.1, TOL);
    CHECK(nn_optim_steps(o) == 1);
    nn_optim_free(o);

    /* L2: g_eff = g + wd w = 0.5 + 0.1*2 = 0.7; w = 2 - 0.1*0.7 = 1.93 */
    w->data[0] = 2;
    w->data[1] = 0;
    o = nn_sgd(&l, 0.1, 0, false);
    nn_optim_set_weight_decay(o, 0.1);
    set_grad(w, (double[]){0.5, 0});
    nn_optim_step(o);
    CHECK_NEAR(w->data[0], 1.93, TOL);
    CHECK_NEAR(w->data[1], 0, TOL);
    nn_optim_free(o);
    nn_params_free(&l);
    ag_tensor_free(w);
}

TEST(optim_sgd_momentum_and_nesterov_hand_computed) {
    const double g1[] = {1, 0.5}, g2[] = {-2, 0.5};
    /* momentum 0.9, lr 0.1:  b1 = g1 = (1, .5), w1 = (0.9, -1.05);
     *                        b2 = .9 b1 + g2 = (-1.1, .95), w2 = w1 - .1 b2 = (1.01, -1.145) */
    ag_tensor *w = vec(2, (double[]){1, -1});
    nn_param_list l = one_param(w);
    nn_optim *o = nn_sgd(&l, 0.1, 0.9, false);
    set_grad(w, g1);
    nn_optim_step(o);
    CHECK_NEAR(w->data[0], 0.9, TOL);
    CHECK_NEAR(w->data[1], -1.05, TOL);
    set_grad(w, g2);
    nn_optim_step(o);
    CHECK_NEAR(w->data[0], 1.01, TOL);
    CHECK_NEAR(w->data[1], -1.145, TOL);
    nn_optim_free(o);

    /* Nesterov: update g + .9 b.  u1 = g1 + .9 g1 = (1.9, .95), w1 = (0.81, -1.095);
     * b2 = (-1.1, .95), u2 = g2 + .9 b2 = (-2.99, 1.355), w2 = (1.109, -1.2305) */
    w->data[0] = 1;
    w->data[1] = -1;
    o = nn_sgd(&l, 0.1, 0.9, true);
    set_grad(w, g1);
    nn_optim_step(o);
    CHECK_NEAR(w->data[0], 0.81, TOL);
    CHECK_NEAR(w->data[1], -1.095, TOL);
    set_grad(w, g2);
    nn_optim_step(o);
    CHECK_NEAR(w->data[0], 1.109, TOL);
    CHECK_NEAR(w->data[1], -1.2305, TOL);
    nn_optim_free(o);
    nn_params_free(&l);
    ag_tensor_free(w);
}

TEST(optim_adam_first_steps_hand_computed) {
    /* lr .01, betas (.9, .999), eps 1e-8.  Element 0: w0 = 1, g = .3, -.1, .2.
     * t=1: m = .03, v = 9e-5, m̂ = .3, v̂ = .09 -> w = 1 - .01·.3/(.3 + 1e-8) = 0.99000000033
     * t=2: m = .017, v = 9.991e-5, m̂ = .017/.19, v̂ = 9.991e-5/.001999 -> 0.98599781479
     * t=3: -> 0.97996695016.  Element 1: w0 = -2, g = 1e-3, 1e-3, -5 (a sign flip with a
     * large gradient: m̂ stays small while v̂ jumps). */
    ag_tensor *w = vec(2, (double[]){1, -2});
    nn_param_list l = one_param(w);
    nn_optim *o = nn_adam(&l, 0.01);
    const double g[3][2] = {{0.3, 1e-3}, {-0.1, 1e-3}, {0.2, -5}};
    const double want[3][2] = {{0.9900000003333334, -2.009999900001},
                               {0.9859978147928081, -2.019999800002},
                               {0.9799669501576139, -2.0136138490276903}};
    for (int t = 0; t < 3; t++) {
        set_grad(w, g[t]);
        nn_optim_step(o);
        CHECK_NEAR(w->data[0], want[t][0], TOL);
        CHECK_NEAR(w->data[1], want[t][1], TOL);
    }
    nn_optim_free(o);
    nn_params_free(&l);
    ag_tensor_free(w);
}

TEST(optim_adamw_decay_is_decoupled_from_the_gradient) {
    ag_tensor *w = vec(1, (double[]){2});
    nn_param_list l = one_param(w);
    /* zero gradient: AdamW only decays, w *= 1 - lr·wd = 0.999 per step */
    nn_optim *o = nn_adamw(&l, 0.1, 0.01);
    set_grad(w, (double[]){0});
    nn_optim_step(o);
    CHECK_NEAR(w->data[0], 1.998, TOL);
    nn_optim_step(o);
    CHECK_NEAR(w->data[0], 1.996002, TOL);
    nn_optim_free(o);

    /* Adam with the same decay as an L2 term: the decay goes through the normalisation,
     * so the first step is ~lr whatever wd is: 2 - .1·.02/(.02 + 1e-8) */
    w->data[0] = 2;
    o = nn_adam(&l, 0.1);
    nn_optim_set_weight_decay(o, 0.01);
    nn_optim_step(o);
    CHECK_NEAR(w->data[0], 1.90000005, 1e-5);
    nn_optim_free(o);

    /* with a gradient: AdamW = Adam's step + the separate decay -lr·wd·w0
     *   2·(1 - .001) - .1·.3/(.3 + 1e-8) = 1.89800000333 */
    w->data[0] = 2;
    o = nn_adamw(&l, 0.1, 0.01);
    set_grad(w, (double[]){0.3});
    nn_optim_step(o);
    CHECK_NEAR(w->data[0], 1.8980000033333333, TOL);
    nn_optim_free(o);
    nn_params_free(&l);
    ag_tensor_free(w);
}

TEST(optim_clip_scales_global_norm_to_max_norm) {
    /* two tensors, grads (3, 4) and (12): global norm 13 */
    ag_tensor *a = vec(2, (double[]){0, 0}), *b = vec(1, (double[]){0});
    nn_param_list l = {0};
    nn_params_add(&l, NULL, "a", a, true);
    nn_params_add(&l, NULL, "b", b, true);
    nn_optim *o = nn_sgd(&l, 1.0, 0, false);
    nn_optim_set_clip_norm(o, 2.0);
    set_grad(a, (double[]){3, 4});
    set_grad(b, (double[]){12});
    double norm = nn_optim_step(o);
    CHECK_NEAR(norm, 13, 1e-9);
    CHECK_NEAR(nn_optim_grad_norm(o), 13, 1e-9);
    /* lr 1, plain SGD: the step is -g·2/13, whose norm is exactly 2 */
    double step_norm = sqrt((double)a->data[0] * a->data[0] + (double)a->data[1] * a->data[1] +
                            (double)b->data[0] * b->data[0]);
    CHECK_NEAR(step_norm, 2.0, TOL);
    CHECK_NEAR(a->data[0], -3 * 2.0 / 13, TOL);
    CHECK_NEAR(b->data[0], -12 * 2.0 / 13, TOL);
    CHECK(a->grad[0] == 3 && b->grad[0] == 12); /* grads themselves untouched */

    /* below the threshold nothing is scaled */
    nn_optim_set_clip_norm(o, 100);
    ag_real a0 = a->data[0];
    CHECK_NEAR(nn_optim_step(o), 13, 1e-9);
    CHECK_NEAR(a->data[0], a0 - 3, TOL);

    /* zero_grad zeroes every parameter it updates */
    nn_optim_zero_grad(o);
    CHECK(a->grad[0] == 0 && a->grad[1] == 0 && b->grad[0] == 0);
    nn_optim_free(o);
    nn_params_free(&l);
    ag_tensor_free(a);
    ag_tensor_free(b);
}

TEST(optim_schedules_values_at_given_steps) {
    nn_lr_schedule st = {.kind = NN_LR_STEP, .step_size = 10, .gamma = 0.5};
    CHECK_NEAR(nn_lr_at(&st, 1.0, 0), 1.0, 1e-15);
    CHECK_NEAR(nn_lr_at(&st, 1.0, 9), 1.0, 1e-15);
    CHECK_NEAR(nn_lr_at(&st, 1.0, 10), 0.5, 1e-15);
    CHECK_NEAR(nn_lr_at(&st, 1.0, 25), 0.25, 1e-15);
    CHECK_NEAR(nn_lr_at(NULL, 0.3, 12345), 0.3, 1e-15);

    nn_lr_schedule cs = {.kind = NN_LR_COSINE, .total_steps = 100, .min_lr = 0.1};
    CHECK_NEAR(nn_lr_at(&cs, 1.0, 0), 1.0, 1e-12);
    CHECK_NEAR(nn_lr_at(&cs, 1.0, 50), 0.55, 1e-12);     /* halfway: (1 + .1)/2 */
    CHECK_NEAR(nn_lr_at(&cs, 1.0, 25), 0.1 + 0.9 * (1 + cos(M_PI / 4)) / 2, 1e-12);
    CHECK_NEAR(nn_lr_at(&cs, 1.0, 100), 0.1, 1e-12);
    CHECK_NEAR(nn_lr_at(&cs, 1.0, 1000), 0.1, 1e-12);    /* stays at min after T */

    /* warm-up ramp (t+1)/W, then the schedule's clock starts at t = W */
    nn_lr_schedule wc = cs;
    wc.warmup_steps = 4;
    CHECK_NEAR(nn_lr_at(&wc, 2.0, 0), 0.5, 1e-12);
    CHECK_NEAR(nn_lr_at(&wc, 2.0, 1), 1.0, 1e-12);
    CHECK_NEAR(nn_lr_at(&wc, 2.0, 3), 2.0, 1e-12);
    CHECK_NEAR(nn_lr_at(&wc, 2.0, 4), 2.0, 1e-12);       /* cosine at s = 0 */
    CHECK_NEAR(nn_lr_at(&wc, 2.0, 54), 1.05, 1e-12);     /* cosine at s = 50: (2 + .1)/2 */
    CHECK_NEAR(nn_lr_at(&wc, 2.0, 104), 0.1, 1e-12);
    nn_lr_schedule ws = st;
    ws.warmup_steps = 2;
    CHECK_NEAR(nn_lr_at(&ws, 1.0, 0), 0.5, 1e-15);
    CHECK_NEAR(nn_lr_at(&ws, 1.0, 11), 1.0, 1e-15);
    CHECK_NEAR(nn_lr_at(&ws, 1.0, 12), 0.5, 1e-15);

    EXPECT_ERROR(nn_lr_at(&(nn_lr_schedule){.kind = NN_LR_STEP, .gamma = 0.5}, 1, 0));
    EXPECT_ERROR(nn_lr_at(&(nn_lr_schedule){.kind = NN_LR_COSINE, .total_steps = 0}, 1, 0));
}

TEST(optim_follows_its_schedule_while_stepping) {
    /* plain SGD with gradient 1: each step moves w by exactly the scheduled lr */
    ag_tensor *w = vec(1, (double[]){0});
    nn_param_list l = one_param(w);
    nn_optim *o = nn_sgd(&l, 0.5, 0, false);
    nn_lr_schedule s = {.kind = NN_LR_STEP, .step_size = 3, .gamma = 0.5, .warmup_steps = 2};
    nn_optim_set_schedule(o, &s);
    for (int t = 0; t < 12; t++) {
        double lr = nn_optim_lr(o), expect = nn_lr_at(&s, 0.5, t);
        CHECK_NEAR(lr, expect, 1e-15);
        ag_real before = w->data[0];
        set_grad(w, (double[]){1});
        nn_optim_step(o);
        CHECK_NEAR(before - w->data[0], lr, 1e-6);
    }
    CHECK(nn_optim_steps(o) == 12);
    nn_optim_free(o);
    nn_params_free(&l);
    ag_tensor_free(w);
}

/* f(w) = Σ a_i (w_i - c_i)²: anisotropic bowl with its minimum at c. */
static const double bowl_a[3] = {1, 4, 0.25}, bowl_c[3] = {1, -2, 0.5};
static void bowl_grad(ag_tensor *w) {
    for (int i = 0; i < 3; i++) w->grad[i] = (ag_real)(2 * bowl_a[i] * (w->data[i] - bowl_c[i]));
}

static double run_bowl(nn_optim *o, ag_tensor *w, int steps) {
    for (int i = 0; i < 3; i++) w->data[i] = 0;
    for (int t = 0; t < steps; t++) {
        bowl_grad(w);
        nn_optim_step(o);
    }
    double err = 0;
    for (int i = 0; i < 3; i++) err = fmax(err, fabs(w->data[i] - bowl_c[i]));
    return err;
}

TEST(optim_converge_on_a_quadratic) {
    ag_tensor *w = vec(3, (double[]){0, 0, 0});
    nn_param_list l = one_param(w);
    nn_optim *o = nn_sgd(&l, 0.1, 0, false);
    CHECK(run_bowl(o, w, 400) < 1e-5);
    nn_optim_free(o);
    o = nn_sgd(&l, 0.02, 0.9, false);
    CHECK(run_bowl(o, w, 400) < 1e-5);
    nn_optim_free(o);
    o = nn_sgd(&l, 0.02, 0.9, true);
    CHECK(run_bowl(o, w, 400) < 1e-5);
    nn_optim_free(o);
    /* Adam with a constant lr hovers around the minimum at a distance ~lr; the cosine
     * schedule lets it settle. */
    nn_lr_schedule cos_to_0 = {.kind = NN_LR_COSINE, .total_steps = 2000, .min_lr = 0};
    o = nn_adam(&l, 0.05);
    nn_optim_set_schedule(o, &cos_to_0);
    CHECK(run_bowl(o, w, 2000) < 1e-5);
    nn_optim_free(o);
    o = nn_adamw(&l, 0.05, 0);
    nn_optim_set_schedule(o, &cos_to_0);
    CHECK(run_bowl(o, w, 2000) < 1e-5);
    nn_optim_free(o);
    nn_params_free(&l);
    ag_tensor_free(w);
}

/* Rosenbrock f(x, y) = (1-x)² + 100 (y - x²)², minimum at (1, 1) at the end of a long,
 * curved valley: slow for plain gradient descent, the classic test of momentum and Adam. */
static double run_rosenbrock(nn_optim *o, ag_tensor *w, int steps) {
    w->data[0] = -1.5;
    w->data[1] = 2;
    for (int t = 0; t < steps; t++) {
        double x = w->data[0], y = w->data[1];
        w->grad[0] = (ag_real)(-2 * (1 - x) - 400 * x * (y - x * x));
        w->grad[1] = (ag_real)(200 * (y - x * x));
        nn_optim_step(o);
    }
    return fmax(fabs(w->data[0] - 1), fabs(w->data[1] - 1));
}

TEST(optim_converge_on_rosenbrock) {
    ag_tensor *w = vec(2, (double[]){0, 0});
    nn_param_list l = one_param(w);
    nn_optim *o = nn_adam(&l, 0.02);
    nn_optim_set_schedule(o, &(nn_lr_schedule){.kind = NN_LR_COSINE, .total_steps = 6000});
    double err = run_rosenbrock(o, w, 6000);
    CHECK(err < 1e-4);
    if (err >= 1e-4) fprintf(stderr, "    adam: |w - (1,1)| = %g\n", err);
    nn_optim_free(o);
    o = nn_sgd(&l, 5e-4, 0.9, true);
    err = run_rosenbrock(o, w, 6000);
    CHECK(err < 1e-4);
    if (err >= 1e-4) fprintf(stderr, "    nesterov: |w - (1,1)| = %g\n", err);
    nn_optim_free(o);
    nn_params_free(&l);
    ag_tensor_free(w);
}

TEST(optim_skips_buffers_and_params_without_grad) {
    ag_tensor *a = vec(1, (double[]){1}), *buf = vec(1, (double[]){5});
    ag_tensor *nog = ag_tensor_new(1, (int[]){1}, false); /* no grad buffer at all */
    nog->data[0] = 7;
    nn_param_list l = {0};
    nn_params_add(&l, NULL, "a", a, true);
    nn_params_add(&l, NULL, "running_mean", buf, false);
    nn_params_add(&l, NULL, "nog", nog, true);
    nn_optim *o = nn_adam(&l, 0.1);
    CHECK(nn_optim_params(o)->n == 2); /* the buffer is not copied */
    set_grad(a, (double[]){1});
    buf->grad[0] = 1;                  /* a buffer's grad is never used */
    nn_optim_step(o);
    CHECK_NEAR(a->data[0], 0.9, 1e-6);
    CHECK(buf->data[0] == 5);
    CHECK(nog->data[0] == 7);
    nn_optim_free(o);
    nn_params_free(&l);
    ag_tensor_free(a);
    ag_tensor_free(buf);
    ag_tensor_free(nog);
}

TEST(optim_state_names_and_step_count) {
    ag_tensor *a = vec(2, (double[]){1, 2}), *b = vec(1, (double[]){3});
    nn_param_list l = {0};
    nn_params_add(&l, "enc", "weight", a, true);
    nn_params_add(&l, "enc", "bias", b, true);
    nn_optim *o = nn_adam(&l, 0.1);
    set_grad(a, (double[]){1, 1});
    set_grad(b, (double[]){1});
    for (int i = 0; i < 3; i++) nn_optim_step(o);

    nn_param_list s = {0};
    nn_optim_state(o, "opt_g", &s);
    CHECK(s.n == 5);
    const char *names[] = {"opt_g.optim.step", "opt_g.adam.m.enc.weight", "opt_g.adam.v.enc.weight",
                           "opt_g.adam.m.enc.bias", "opt_g.adam.v.enc.bias"};
    for (int i = 0; i < 5 && i < s.n; i++) {
        CHECK(strcmp(s.items[i].name, names[i]) == 0);
        CHECK(!s.items[i].trainable);
    }
    /* m after three steps of g = 1: 1 - .9³ = .271 */
    nn_param *m = nn_params_find(&s, "opt_g.adam.m.enc.weight");
    CHECK(m && ag_same_shape(m->value, a));
    if (m) CHECK_NEAR(m->value->data[1], 0.271, 1e-6);
    /* the step count lives in the state tensor: writing it (as a loaded checkpoint does)
     * moves the optimizer's clock, including past 2^24 where a single float would round */
    nn_param *st = nn_params_find(&s, "opt_g.optim.step");
    CHECK(st && st->value->size == 2);
    if (st) {
        CHECK(st->value->data[0] == 0 && st->value->data[1] == 3);
        int64_t big = ((int64_t)1 << 30) + 12345;   /* 2^30 + 12345 */
        st->value->data[0] = (ag_real)(big >> 20);
        st->value->data[1] = (ag_real)(big & ((1 << 20) - 1));
        CHECK(nn_optim_steps(o) == big);
        nn_optim_step(o);
        CHECK(nn_optim_steps(o) == big + 1);
    }
    nn_params_free(&s);

    nn_optim *sgd = nn_sgd(&l, 0.1, 0.5, false), *plain = nn_sgd(&l, 0.1, 0, false);
    nn_optim_state(sgd, NULL, &s);
    CHECK(s.n == 3 && strcmp(s.items[1].name, "sgd.momentum.enc.weight") == 0);
    nn_params_free(&s);
    nn_optim_state(plain, NULL, &s);
    CHECK(s.n == 1 && strcmp(s.items[0].name, "optim.step") == 0);
    nn_params_free(&s);

    nn_optim_free(o);
    nn_optim_free(sgd);
    nn_optim_free(plain);
    nn_params_free(&l);
    ag_tensor_free(a);
    ag_tensor_free(b);
}

TEST(optim_misuse_is_reported) {
    ag_tensor *a = vec(1, (double[]){1});
    nn_param_list l = {0};
    nn_params_add(&l, NULL, "a", a, true);
    EXPECT_ERROR(nn_sgd(&l, 0.1, 0, true));   /* Nesterov without momentum */
    EXPECT_ERROR(nn_sgd(&l, 0.1, 1.0, false));
    EXPECT_ERROR(nn_adam(&l, -1));
    nn_optim *o = nn_adam(&l, 0.1);
    EXPECT_ERROR(nn_optim_set_betas(o, 1.0, 0.999, 1e-8));
    EXPECT_ERROR(nn_optim_set_schedule(o, &(nn_lr_schedule){.kind = NN_LR_STEP}));
    nn_optim_free(o);
    o = nn_sgd(&l, 0.1, 0, false);
    EXPECT_ERROR(nn_optim_set_betas(o, 0.9, 0.999, 1e-8));
    nn_optim_free(o);
    nn_params_add(&l, NULL, "a_again", a, true);
    EXPECT_ERROR(nn_adam(&l, 0.1));           /* the same tensor twice */
    CHECK(strstr(test_last_error, "a_again") != NULL);
    nn_params_free(&l);
    ag_tensor_free(a);
}

TEST(optim_step_is_the_same_for_any_thread_count) {
    /* big enough for the parallel paths (update loops and the chunked gradient norm) */
    enum { N = 100003 };
    ag_tensor *w[2];
    int prev = ag_num_threads();
    for (int run = 0; run < 2; run++) {
        ag_set_num_threads(run == 0 ? 1 : 2);
        ag_rng r;
        ag_rng_seed(&r, 11);
        w[run] = ag_param(1, (int[]){N});
        ag_fill_randn(&r, w[run], 1);
        nn_param_list l = one_param(w[run]);
        nn_optim *o = nn_adamw(&l, 1e-3, 0.01);
        nn_optim_set_clip_norm(o, 1.0);
        for (int s = 0; s < 3; s++) {
            for (int j = 0; j < N; j++) w[run]->grad[j] = (ag_real)ag_rng_normal(&r);
            nn_optim_step(o);
        }
        nn_optim_free(o);
        nn_params_free(&l);
    }
    ag_set_num_threads(prev);
    CHECK(memcmp(w[0]->data, w[1]->data, sizeof(ag_real) * N) == 0);
    ag_tensor_free(w[0]);
    ag_tensor_free(w[1]);
}

/* Adam's vector loops (AVX-512, AVX2) give the plain C loop's bits: weights, moments and
 * the returned gradient norm, over sizes with tails (not multiples of 8 or 16), for Adam
 * with an L2 term and AdamW, with and without clipping. */
TEST(optim_adam_same_bits_on_every_kernel) {
    enum { N = 2 * 16384 + 37, STEPS = 3 };
    ag_isa saved = ag_kernel_isa();
    ag_real *refs = malloc(sizeof(ag_real) * 9 * N);
    int kernels = 0;
    for (int isa = AG_ISA_PORTABLE; isa < AG_ISA_COUNT; isa++) { /* the reference first */
        if (!ag_kernel_force((ag_isa)isa)) continue;
        kernels++;
        for (int variant = 0; variant < 3; variant++) {
            ag_rng r;
            ag_rng_seed(&r, 5);
            ag_tensor *w = ag_param(1, (int[]){N}), *b = ag_param(1, (int[]){7});
            ag_fill_randn(&r, w, 1);
            ag_fill_randn(&r, b, 1);
            nn_param_list l = {0};
            nn_params_add(&l, NULL, "w", w, true);
            nn_params_add(&l, NULL, "b", b, true);
            nn_optim *o = variant == 1 ? nn_adamw(&l, 1e-2, 0.1) : nn_adam(&l, 1e-2);
            if (variant == 0) nn_optim_set_weight_decay(o, 0.01);
            if (variant == 2) nn_optim_set_clip_norm(o, 10.0);
            double norms = 0;
            for (int s = 0; s < STEPS; s++) {
                for (int j = 0; j < N; j++) w->grad[j] = (ag_real)ag_rng_normal(&r);
                for (int j = 0; j < 7; j++) b->grad[j] = (ag_real)ag_rng_normal(&r);
                norms += nn_optim_step(o);
            }
            nn_param_list st = {0};
            nn_optim_state(o, NULL, &st);
            const ag_tensor *m = NULL, *v = NULL;
            for (int k = 0; k < st.n; k++) {
                if (strcmp(st.items[k].name, "adam.m.w") == 0) m = st.items[k].value;
                if (strcmp(st.items[k].name, "adam.v.w") == 0) v = st.items[k].value;
            }
            CHECK(m && v);
            static double ref_norm[3];
            ag_real *ref = refs + 3 * N * variant;
            if (isa == AG_ISA_PORTABLE) {
                memcpy(ref, w->data, sizeof(ag_real) * N);
                memcpy(ref + N, m->data, sizeof(ag_real) * N);
                memcpy(ref + 2 * N, v->data, sizeof(ag_real) * N);
                ref_norm[variant] = norms;
            } else {
                bool same = memcmp(ref, w->data, sizeof(ag_real) * N) == 0 &&
                            memcmp(ref + N, m->data, sizeof(ag_real) * N) == 0 &&
                            memcmp(ref + 2 * N, v->data, sizeof(ag_real) * N) == 0;
                if (!same || norms != ref_norm[variant])
                    test_fail(__FILE__, __LINE__, "Adam on %s, variant %d: not the plain C "
                              "loop's bits", ag_isa_name((ag_isa)isa), variant);
            }
            nn_params_free(&st);
            nn_optim_free(o);
            nn_params_free(&l);
            ag_tensor_free(w);
            ag_tensor_free(b);
        }
    }
    CHECK(kernels >= 1);
    CHECK(ag_kernel_force(saved));
    free(refs);
}
