/* test_loss.c — the fused losses: values against hand-computed and naive double formulas,
 * stability at logits where the naive formula overflows, gradients for every input
 * (ag_gradcheck), logvar broadcasting, and the errors for bad shapes and labels.  In float
 * on x86-64, BCE runs on the vector exp/log1p of autograd/vecmath_kernel.h: their error
 * bounds are checked against double references, with every kernel this CPU can run. */
#include "tests/test.h"
#include "autograd/autograd.h"
#include "autograd/vecmath.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef AG_DOUBLE
#define TOL 1e-12
#define BIG_TOL 1e-9 /* around logits of 1000 */
#else
#define TOL 2e-6
#define BIG_TOL 2e-4 /* a float ulp at 1000 is 6e-5 */
#endif
#define LOG_2PI 1.8378770664093453

static ag_tensor *heap(ag_rng *r, int ndim, const int *shape, double lo, double hi,
                       const char *name) {
    ag_tensor *x = ag_tensor_new(ndim, shape, true);
    ag_fill_uniform(r, x, (ag_real)lo, (ag_real)hi);
    x->name = name;
    return x;
}

static void expect_ok(const char *label, ag_gradcheck_report rep) {
    if (!rep.ok) ag_gradcheck_print(label, &rep, stderr);
    CHECK(rep.ok);
}

/* ---- bce_with_logits ---------------------------------------------------------------- */

TEST(bce_with_logits_values) {
    ag_tape *t = ag_tape_new(1);
    const ag_real l[] = {0, 2, -3, 0.5, 1}, y[] = {1, 0, 1, 0.3, 0.5};
    ag_tensor *out = ag_bce_with_logits(t, ag_from_data(t, 1, (int[]){5}, l),
                                        ag_from_data(t, 1, (int[]){5}, y));
    CHECK_NEAR(out->data[0], log(2.0), TOL);                 /* l = 0: -log ½ */
    for (int i = 0; i < 5; i++) {
        double s = 1 / (1 + exp(-(double)l[i]));             /* textbook -[y log s + (1-y) log(1-s)] */
        double want = -((double)y[i] * log(s) + (1 - (double)y[i]) * log(1 - s));
        CHECK_NEAR(out->data[i], want, TOL * 10);
    }
    ag_tape_free(t);
}

TEST(bce_with_logits_stable_at_large_logits) {
    ag_tape *t = ag_tape_new(1);
    /* Naively σ(100) rounds to 1 and log(1 - σ) = -inf; e^1000 overflows even in double. */
    const ag_real l[] = {100, -100, 1000, -1000, 100}, y[] = {0, 1, 0, 1, 1};
    ag_tensor *logits = ag_tensor_new(1, (int[]){5}, true);
    memcpy(logits->data, l, sizeof l);
    ag_tensor *out = ag_bce_with_logits(t, logits, ag_from_data(t, 1, (int[]){5}, y));
    CHECK_NEAR(out->data[0], 100, 1e-4);
    CHECK_NEAR(out->data[1], 100, 1e-4);
    CHECK_NEAR(out->data[2], 1000, 1e-3);
    CHECK_NEAR(out->data[3], 1000, 1e-3);
    CHECK(out->data[4] >= 0 && out->data[4] < 1e-30);  /* right and confident: ≈ e^-100 */
    ag_backward_seed(t, out, ag_ones(t, 1, (int[]){5}));
    const double want[] = {1, -1, 1, -1, 0};             /* σ(l) - y */
    for (int i = 0; i < 5; i++) {
        CHECK(isfinite(logits->grad[i]));
        CHECK_NEAR(logits->grad[i], want[i], 1e-6);
    }
    ag_tensor_free(logits);
    ag_tape_free(t);
}

static ag_tensor *bce_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    return ag_bce_with_logits(t, in[0], in[1]);
}

TEST(bce_with_logits_gradcheck) {
    ag_rng r;
    ag_rng_seed(&r, 11);
    ag_tensor *in[2] = {heap(&r, 2, (int[]){3, 4}, -4, 4, "logits"),
                        heap(&r, 2, (int[]){3, 4}, 0, 1, "target")};
    expect_ok("bce_with_logits", ag_gradcheck(bce_fn, in, 2, NULL, NULL));
    ag_tensor_free(in[0]);
    ag_tensor_free(in[1]);
}

/* ---- bce_with_logits_rows: the row sums of the op above, in one op ----------------------- */

/* Against the double formula, over rows of 37 values (vector lanes and a tail), on a 3-D
 * input seen as (N, rest); then its backward against the composed form's. */
TEST(bce_with_logits_rows_values_and_backward) {
    enum { N = 3, D = 37 };
    ag_rng r;
    ag_rng_seed(&r, 12);
    ag_tensor *l = heap(&r, 3, (int[]){N, 1, D}, -30, 30, "logits");
    ag_tensor *y = heap(&r, 3, (int[]){N, 1, D}, 0, 1, "target");
    ag_tape *t = ag_tape_new(1);
    ag_tensor *out = ag_bce_with_logits_rows(t, l, y);
    CHECK(out->ndim == 1 && out->shape[0] == N);
    for (int i = 0; i < N; i++) {
        double want = 0, mag = 0;
        for (int j = 0; j < D; j++) {
            double L = l->data[i * D + j], Y = y->data[i * D + j];
            want += fmax(L, 0) - L * Y + log1p(exp(-fabs(L)));
            mag += fmax(L, 0) + fabs(L * Y) + log1p(exp(-fabs(L)));
        }
        CHECK_NEAR(out->data[i], want, 16 * TOL * mag);
    }
    const ag_real w[N] = {0.5, -2, 3};   /* the gradient of out: different for each row */
    ag_backward_seed(t, out, ag_from_data(t, 1, (int[]){N}, w));
    ag_real got_l[N * D], got_y[N * D];
    memcpy(got_l, l->grad, sizeof got_l), memcpy(got_y, y->grad, sizeof got_y);
    ag_zero_grad(l), ag_zero_grad(y);
    ag_tape_clear(t);
    ag_tensor *per = ag_sum_axis(t, ag_reshape(t, ag_bce_with_logits(t, l, y), 2,
                                               (int[]){N, D}), 1, false);
    ag_backward_seed(t, per, ag_from_data(t, 1, (int[]){N}, w));
    int bad = 0;
    for (int k = 0; k < N * D; k++) bad += got_l[k] != l->grad[k] || got_y[k] != y->grad[k];
    CHECK(bad == 0);    /* the same arithmetic, element by element */
    ag_tape_free(t);
    ag_tensor_free(l), ag_tensor_free(y);
}

static ag_tensor *bce_rows_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    return ag_bce_with_logits_rows(t, in[0], in[1]);
}

/* The logits as an intermediate read by a second op too, in both orders: the op's
 * backward is once the first writer of their gradient (fresh) and once adds into it. */
static ag_tensor *bce_rows_shared_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    bool op_first = *(const bool *)ctx;
    ag_tensor *u = ag_scale(t, in[0], 2);
    ag_tensor *a = op_first ? ag_bce_with_logits_rows(t, u, in[1]) : NULL;
    ag_tensor *b = ag_sum_axis(t, ag_square(t, u), 1, false);
    if (!op_first) a = ag_bce_with_logits_rows(t, u, in[1]);
    return ag_add(t, a, b);
}

TEST(bce_with_logits_rows_gradcheck_shared_logits) {
    ag_rng r;
    ag_rng_seed(&r, 15);
    for (int order = 0; order < 2; order++) {
        bool op_first = order == 0;
        ag_tensor *in[2] = {heap(&r, 2, (int[]){3, 19}, -2, 2, "logits"),
                            heap(&r, 2, (int[]){3, 19}, 0, 1, "target")};
        expect_ok("bce_with_logits_rows, shared logits",
                  ag_gradcheck(bce_rows_shared_fn, in, 2, &op_first, NULL));
        ag_tensor_free(in[0]);
        ag_tensor_free(in[1]);
    }
}

TEST(bce_with_logits_rows_gradcheck) {
    ag_rng r;
    ag_rng_seed(&r, 13);
    ag_tensor *in[2] = {heap(&r, 2, (int[]){3, 19}, -4, 4, "logits"),
                        heap(&r, 2, (int[]){3, 19}, 0, 1, "target")};
    expect_ok("bce_with_logits_rows", ag_gradcheck(bce_rows_fn, in, 2, NULL, NULL));
    ag_tensor_free(in[0]);
    ag_tensor_free(in[1]);
}

/* ---- softmax_cross_entropy ------------------------------------------------------------- */

TEST(softmax_cross_entropy_values) {
    ag_tape *t = ag_tape_new(1);
    const ag_real l[] = {1, 2, 3, 0, 0, 0, -1, 5, 2.5};
    const int labels[] = {2, 1, 0};
    ag_tensor *out = ag_softmax_cross_entropy(t, ag_from_data(t, 2, (int[]){3, 3}, l), labels);
    CHECK(out->ndim == 1 && out->shape[0] == 3);
    CHECK_NEAR(out->data[1], log(3.0), TOL);              /* uniform over 3 classes */
    for (int i = 0; i < 3; i++) {                         /* naive -log(e^l_k / Σ e^l_c) */
        double s = 0;
        for (int c = 0; c < 3; c++) s += exp((double)l[i * 3 + c]);
        CHECK_NEAR(out->data[i], -log(exp((double)l[i * 3 + labels[i]]) / s), 10 * TOL);
    }
    ag_tape_free(t);
}

TEST(softmax_cross_entropy_stable_at_large_logits) {
    ag_tape *t = ag_tape_new(1);
    const ag_real l[] = {1000, 0, -1000, 1000, 1000, 1000};
    const int labels[] = {1, 2};
    ag_tensor *logits = ag_tensor_new(2, (int[]){2, 3}, true);
    memcpy(logits->data, l, sizeof l);
    ag_tensor *out = ag_softmax_cross_entropy(t, logits, labels);
    CHECK_NEAR(out->data[0], 1000, BIG_TOL);              /* e^1000 would overflow */
    CHECK_NEAR(out->data[1], log(3.0), BIG_TOL);
    ag_backward_seed(t, out, ag_ones(t, 1, (int[]){2}));
    const double want[] = {1, -1, 0, 1.0 / 3, 1.0 / 3, -2.0 / 3}; /* softmax - onehot */
    for (int i = 0; i < 6; i++) CHECK_NEAR(logits->grad[i], want[i], BIG_TOL);
    ag_tensor_free(logits);
    ag_tape_free(t);
}

typedef struct { int labels[4]; } sce_ctx;
static ag_tensor *sce_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    return ag_softmax_cross_entropy(t, in[0], ((sce_ctx *)ctx)->labels);
}

TEST(softmax_cross_entropy_gradcheck) {
    ag_rng r;
    ag_rng_seed(&r, 12);
    ag_tensor *logits = heap(&r, 2, (int[]){4, 5}, -3, 3, "logits");
    sce_ctx c = {{4, 0, 2, 2}};
    expect_ok("softmax_cross_entropy", ag_gradcheck(sce_fn, &logits, 1, &c, NULL));
    ag_tensor_free(logits);
}

TEST(softmax_cross_entropy_keeps_its_own_labels) {
    /* The caller's label array may be reused before backward: the op copies it. */
    ag_tape *t = ag_tape_new(1);
    ag_tensor *logits = ag_tensor_new(2, (int[]){1, 2}, true);
    int labels[1] = {0};
    ag_tensor *out = ag_softmax_cross_entropy(t, logits, labels);
    labels[0] = 1;
    ag_backward(t, out);
    CHECK_NEAR(logits->grad[0], -0.5, 1e-7);              /* softmax ½ minus onehot at 0 */
    CHECK_NEAR(logits->grad[1], 0.5, 1e-7);
    ag_tensor_free(logits);
    ag_tape_free(t);
}

TEST(softmax_cross_entropy_errors) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *l = ag_zeros(t, 2, (int[]){3, 4});
    EXPECT_ERROR(ag_softmax_cross_entropy(t, l, (const int[]){0, 4, 1}));
    CHECK(strstr(test_last_error, "softmax_cross_entropy") && strstr(test_last_error, "row 1") &&
          strstr(test_last_error, "label 4"));
    EXPECT_ERROR(ag_softmax_cross_entropy(t, l, (const int[]){0, 1, -1}));
    CHECK(strstr(test_last_error, "row 2") && strstr(test_last_error, "label -1"));
    EXPECT_ERROR(ag_softmax_cross_entropy(t, ag_zeros(t, 1, (int[]){4}), (const int[]){0}));
    CHECK(strstr(test_last_error, "(4)") != NULL);
    ag_tape_free(t);
}

/* ---- mse ------------------------------------------------------------------------------- */

static ag_tensor *mse_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    return ag_mse(t, in[0], in[1]);
}

TEST(mse_values_and_gradcheck) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *out = ag_mse(t, ag_from_data(t, 1, (int[]){3}, (const ag_real[]){1, -2, 0.5}),
                            ag_from_data(t, 1, (int[]){3}, (const ag_real[]){3, -2, 0}));
    CHECK_NEAR(out->data[0], 4, TOL);
    CHECK_NEAR(out->data[1], 0, TOL);
    CHECK_NEAR(out->data[2], 0.25, TOL);
    ag_tape_free(t);

    ag_rng r;
    ag_rng_seed(&r, 13);
    ag_tensor *in[2] = {heap(&r, 2, (int[]){2, 5}, -2, 2, "pred"),
                        heap(&r, 2, (int[]){2, 5}, -2, 2, "target")};
    expect_ok("mse", ag_gradcheck(mse_fn, in, 2, NULL, NULL));
    ag_tensor_free(in[0]);
    ag_tensor_free(in[1]);
}

/* ---- gaussian_nll ------------------------------------------------------------------------ */

static double nll(double mu, double lv, double y) { /* -log N(y; mu, e^lv), textbook form */
    double var = exp(lv);
    return -log(exp(-(y - mu) * (y - mu) / (2 * var)) / sqrt(2 * M_PI * var));
}

TEST(gaussian_nll_values) {
    ag_tape *t = ag_tape_new(1);
    /* Standard normal at its mean: ½ log 2π. */
    ag_tensor *z = ag_zeros(t, 1, (int[]){1});
    CHECK_NEAR(ag_gaussian_nll(t, z, z, z)->data[0], 0.5 * LOG_2PI, TOL);
    const ag_real mu[] = {0.5, -1, 2, 0}, lv[] = {0, -1.5, 0.7, 2}, y[] = {1, 0, 2, -3};
    ag_tensor *out = ag_gaussian_nll(t, ag_from_data(t, 1, (int[]){4}, mu),
                                     ag_from_data(t, 1, (int[]){4}, lv),
                                     ag_from_data(t, 1, (int[]){4}, y));
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(out->data[i], nll((double)mu[i], (double)lv[i], (double)y[i]), 10 * TOL);
    ag_tape_free(t);
}

/* logvar of shape (D), (1), (N,1) or the full shape, against a naive loop over (N, D). */
TEST(gaussian_nll_broadcasts_logvar) {
    ag_tape *t = ag_tape_new(2);
    int N = 3, D = 4;
    ag_tensor *mu = ag_randn(t, 2, (int[]){N, D}, 1), *y = ag_randn(t, 2, (int[]){N, D}, 1);
    const struct { int ndim, shape[2]; int rstride, cstride; } lvs[] = {
        {2, {3, 4}, 4, 1}, {1, {4}, 0, 1}, {1, {1}, 0, 0}, {2, {3, 1}, 1, 0}, {2, {1, 4}, 0, 1}};
    for (int k = 0; k < 5; k++) {
        ag_tensor *lv = ag_uniform(t, lvs[k].ndim, lvs[k].shape, -1, 1);
        ag_tensor *out = ag_gaussian_nll(t, mu, lv, y);
        CHECK(out->ndim == 2 && out->shape[0] == N && out->shape[1] == D);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < D; j++) {
                double v = (double)lv->data[i * lvs[k].rstride + j * lvs[k].cstride];
                CHECK_NEAR(out->data[i * D + j],
                           nll((double)mu->data[i * D + j], v, (double)y->data[i * D + j]),
                           10 * TOL);
            }
    }
    /* Broadcasting runs mean's way only, and trailing dims must agree. */
    EXPECT_ERROR(ag_gaussian_nll(t, mu, ag_zeros(t, 1, (int[]){3}), y));
    CHECK(strstr(test_last_error, "gaussian_nll") && strstr(test_last_error, "(3)") &&
          strstr(test_last_error, "(3, 4)"));
    EXPECT_ERROR(ag_gaussian_nll(t, mu, ag_zeros(t, 3, (int[]){2, 3, 4}), y));
    EXPECT_ERROR(ag_gaussian_nll(t, mu, ag_zeros(t, 2, (int[]){3, 4}), ag_zeros(t, 1, (int[]){4})));
    CHECK(strstr(test_last_error, "mean (3, 4)") && strstr(test_last_error, "target (4)"));
    ag_tape_free(t);
}

static ag_tensor *gnll_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    return ag_gaussian_nll(t, in[0], in[1], in[2]);
}

TEST(gaussian_nll_gradcheck) {
    ag_rng r;
    ag_rng_seed(&r, 14);
    const struct { int ndim, shape[2]; const char *label; } lvs[] = {
        {2, {3, 4}, "gaussian_nll full logvar"}, {1, {4}, "gaussian_nll row logvar"},
        {1, {1}, "gaussian_nll scalar logvar"}, {2, {3, 1}, "gaussian_nll column logvar"}};
    for (int k = 0; k < 4; k++) {
        ag_tensor *in[3] = {heap(&r, 2, (int[]){3, 4}, -1, 1, "mean"),
                            heap(&r, lvs[k].ndim, lvs[k].shape, -1, 1, "logvar"),
                            heap(&r, 2, (int[]){3, 4}, -2, 2, "target")};
        expect_ok(lvs[k].label, ag_gradcheck(gnll_fn, in, 3, NULL, NULL));
        for (int i = 0; i < 3; i++) ag_tensor_free(in[i]);
    }
}

TEST(loss_shape_errors_name_op_and_shapes) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *a = ag_zeros(t, 2, (int[]){2, 3}), *b = ag_zeros(t, 2, (int[]){3, 2});
    EXPECT_ERROR(ag_bce_with_logits(t, a, b));
    CHECK(strstr(test_last_error, "bce_with_logits") && strstr(test_last_error, "(2, 3)") &&
          strstr(test_last_error, "(3, 2)"));
    EXPECT_ERROR(ag_bce_with_logits_rows(t, a, b));
    CHECK(strstr(test_last_error, "bce_with_logits_rows") && strstr(test_last_error, "(2, 3)") &&
          strstr(test_last_error, "(3, 2)"));
    EXPECT_ERROR(ag_mse(t, a, b));
    CHECK(strstr(test_last_error, "mse") && strstr(test_last_error, "(2, 3)") &&
          strstr(test_last_error, "(3, 2)"));
    ag_tape_free(t);
}

#ifdef AG_HAVE_VECMATH
/* Max error in float ulps of the value (|got - ref| / (ulp(ref))) over n points. */
static double worst_ulps(long n, const float *got, const double *ref) {
    double worst = 0;
    for (long i = 0; i < n; i++) {
        double ulp = ref[i] == 0 ? FLT_TRUE_MIN : fabs(ref[i]) * FLT_EPSILON;
        if (fabs(ref[i]) < FLT_MIN) ulp = FLT_TRUE_MIN;
        double e = fabs(got[i] - ref[i]) / ulp;
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

/* exp on [-87, 0] and log1p on [0, 1] within 4 float ulps of the double result, at 2^16
 * points spread over each range plus its end points, for AVX-512 and AVX2 when present. */
TEST(vector_exp_and_log1p_error_bounds) {
    enum { N = 1 << 16 };
    float *x = malloc(N * sizeof *x), *out = malloc(N * sizeof *out);
    double *ref = malloc(N * sizeof *ref);
    int kernels = 0;
    for (int isa = AG_ISA_AVX2; isa <= AG_ISA_AVX512; isa++) {
        if (!ag_isa_supported((ag_isa)isa)) continue;
        kernels++;
        void (*vexp)(long, const float *, float *) = isa == AG_ISA_AVX512 ? ag_vec_exp_neg_avx512 : ag_vec_exp_neg_avx2;
        void (*vlog)(long, const float *, float *) = isa == AG_ISA_AVX512 ? ag_vec_log1p_01_avx512 : ag_vec_log1p_01_avx2;
        for (long i = 0; i < N; i++) x[i] = -87.0f * (float)i / (N - 1);
        x[1] = -1e-30f, x[2] = -FLT_EPSILON, x[3] = -0.34657359f, x[4] = -0.34657360f;
        vexp(N, x, out);
        for (long i = 0; i < N; i++) ref[i] = exp((double)x[i]);
        double e1 = worst_ulps(N, out, ref);
        for (long i = 0; i < N; i++) x[i] = (float)i / (N - 1);
        x[1] = 1e-30f, x[2] = FLT_EPSILON, x[3] = 0.41421354f, x[4] = 0.41421357f;
        vlog(N, x, out);
        for (long i = 0; i < N; i++) ref[i] = log1p((double)x[i]);
        double e2 = worst_ulps(N, out, ref);
        printf("  %s: exp %.2f ulp, log1p %.2f ulp (worst over the sweep)\n",
               ag_isa_name((ag_isa)isa), e1, e2);
        CHECK(e1 <= 4);
        CHECK(e2 <= 4);
    }
    if (!kernels) printf("  (no AVX2 or AVX-512 on this CPU: the scalar loop is used)\n");
    free(x), free(out), free(ref);
}

/* The vector BCE forward and backward against the formula in double, on logits across
 * [-100, 100] (the stable form's both branches, saturation), all kernels present. */
TEST(vector_bce_matches_double_reference) {
    enum { N = 4099 };          /* not a multiple of 16: the padded tail runs too */
    float *l = malloc(N * sizeof *l), *y = malloc(N * sizeof *y), *out = malloc(N * sizeof *out);
    float *dout = malloc(N * sizeof *dout), *dl = malloc(N * sizeof *dl), *dy = malloc(N * sizeof *dy);
    ag_rng r;
    ag_rng_seed(&r, 3);
    for (long i = 0; i < N; i++) {
        l[i] = (float)(200.0 * i / (N - 1) - 100.0);
        y[i] = (float)ag_rng_uniform(&r);
        dout[i] = (float)(2 * ag_rng_uniform(&r) - 1);
    }
    for (int isa = AG_ISA_AVX2; isa <= AG_ISA_AVX512; isa++) {
        if (!ag_isa_supported((ag_isa)isa)) continue;
        (isa == AG_ISA_AVX512 ? ag_bce_fwd_avx512 : ag_bce_fwd_avx2)(N, l, y, out);
        for (long i = 0; i < N; i++) dl[i] = 1, dy[i] = -1;
        (isa == AG_ISA_AVX512 ? ag_bce_bwd_avx512 : ag_bce_bwd_avx2)(N, l, y, dout, dl, dy);
        double wf = 0, wb = 0, wy = 0;
        for (long i = 0; i < N; i++) {
            double L = l[i], Y = y[i];
            double v = fmax(L, 0) - L * Y + log1p(exp(-fabs(L)));
            double mag = fabs(fmax(L, 0)) + fabs(L * Y) + log1p(exp(-fabs(L)));
            double ef = fabs(out[i] - v) / (8 * FLT_EPSILON * mag + FLT_MIN);
            double sg = 1 / (1 + exp(-L));
            double g = 1 + dout[i] * (sg - Y);
            double eb = fabs(dl[i] - g) / (8 * FLT_EPSILON * (1 + fabs(dout[i]) * (sg + Y)));
            double ey = fabs(dy[i] - (-1 - dout[i] * L)) / (4 * FLT_EPSILON * (1 + fabs(dout[i] * L)));
            if (!(ef <= wf)) wf = ef;
            if (!(eb <= wb)) wb = eb;
            if (!(ey <= wy)) wy = ey;
        }
        if (!(wf <= 1 && wb <= 1 && wy <= 1))
            test_fail(__FILE__, __LINE__, "%s: forward %.2f, dl %.2f, dy %.2f x the bound",
                      ag_isa_name((ag_isa)isa), wf, wb, wy);
    }
    free(l), free(y), free(out), free(dout), free(dl), free(dy);
}
#endif
