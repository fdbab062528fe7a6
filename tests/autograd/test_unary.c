/* test_unary.c — every elementwise unary op of autograd.h: forward values against libm in
 * double, backward against central differences (ag_gradcheck), and the extreme inputs
 * where a naive formula overflows (softplus, log_sigmoid, sigmoid at ±100). */
#include "tests/test.h"
#include "autograd/autograd.h"

#include <math.h>
#include <string.h>

#ifdef AG_DOUBLE
#define FWD_TOL 1e-12 /* relative: libm in double vs the op in double */
#else
#define FWD_TOL 2e-6  /* a few float ulps */
#endif

/* One row per op: how to call it, what it should compute, and where it is smooth. */
typedef struct {
    const char *name;
    ag_tensor *(*apply)(ag_tape *t, ag_tensor *x, double a, double b);
    double (*ref)(double v, double a, double b);
    double a, b;   /* the op's constants (slope, alpha, bounds, exponent, ...) */
    bool positive; /* defined for v > 0 only (log, sqrt, fractional pow) */
} unary_case;

#define WRAP0(op)                                                                      \
    static ag_tensor *w_##op(ag_tape *t, ag_tensor *x, double a, double b) {          \
        (void)a, (void)b;                                                              \
        return ag_##op(t, x);                                                          \
    }
#define WRAP1(op)                                                                      \
    static ag_tensor *w_##op(ag_tape *t, ag_tensor *x, double a, double b) {          \
        (void)b;                                                                       \
        return ag_##op(t, x, (ag_real)a);                                              \
    }
WRAP0(neg) WRAP0(exp) WRAP0(log) WRAP0(sqrt) WRAP0(square) WRAP0(abs) WRAP0(sigmoid)
WRAP0(tanh) WRAP0(relu) WRAP0(softplus) WRAP0(log_sigmoid)
WRAP1(pow) WRAP1(leaky_relu) WRAP1(elu) WRAP1(scale) WRAP1(add_scalar)
static ag_tensor *w_clamp(ag_tape *t, ag_tensor *x, double a, double b) {
    return ag_clamp(t, x, (ag_real)a, (ag_real)b);
}

/* References in double, written the textbook way (the inputs here are moderate). */
static double r_neg(double v, double a, double b) { (void)a, (void)b; return -v; }
static double r_exp(double v, double a, double b) { (void)a, (void)b; return exp(v); }
static double r_log(double v, double a, double b) { (void)a, (void)b; return log(v); }
static double r_sqrt(double v, double a, double b) { (void)a, (void)b; return sqrt(v); }
static double r_square(double v, double a, double b) { (void)a, (void)b; return v * v; }
static double r_abs(double v, double a, double b) { (void)a, (void)b; return fabs(v); }
static double r_pow(double v, double a, double b) { (void)b; return pow(v, a); }
static double r_sigmoid(double v, double a, double b) { (void)a, (void)b; return 1 / (1 + exp(-v)); }
static double r_tanh(double v, double a, double b) { (void)a, (void)b; return tanh(v); }
static double r_relu(double v, double a, double b) { (void)a, (void)b; return v > 0 ? v : 0; }
static double r_leaky(double v, double a, double b) { (void)b; return v > 0 ? v : a * v; }
static double r_elu(double v, double a, double b) { (void)b; return v > 0 ? v : a * (exp(v) - 1); }
static double r_softplus(double v, double a, double b) { (void)a, (void)b; return log(1 + exp(v)); }
static double r_logsig(double v, double a, double b) { (void)a, (void)b; return log(1 / (1 + exp(-v))); }
static double r_clamp(double v, double a, double b) { return v < a ? a : v > b ? b : v; }
static double r_scale(double v, double a, double b) { (void)b; return a * v; }
static double r_add_scalar(double v, double a, double b) { (void)b; return v + a; }

static const unary_case cases[] = {
    {"neg", w_neg, r_neg, 0, 0, false},
    {"exp", w_exp, r_exp, 0, 0, false},
    {"log", w_log, r_log, 0, 0, true},
    {"sqrt", w_sqrt, r_sqrt, 0, 0, true},
    {"square", w_square, r_square, 0, 0, false},
    {"abs", w_abs, r_abs, 0, 0, false},
    {"pow 2.5", w_pow, r_pow, 2.5, 0, true},
    {"pow 3", w_pow, r_pow, 3, 0, false}, /* integer power: negative bases allowed */
    {"sigmoid", w_sigmoid, r_sigmoid, 0, 0, false},
    {"tanh", w_tanh, r_tanh, 0, 0, false},
    {"relu", w_relu, r_relu, 0, 0, false},
    {"leaky_relu", w_leaky_relu, r_leaky, 0.1, 0, false},
    {"elu", w_elu, r_elu, 1.3, 0, false},
    {"softplus", w_softplus, r_softplus, 0, 0, false},
    {"log_sigmoid", w_log_sigmoid, r_logsig, 0, 0, false},
    {"clamp", w_clamp, r_clamp, -1, 1.5, false},
    {"scale", w_scale, r_scale, 2.5, 0, false},
    {"add_scalar", w_add_scalar, r_add_scalar, -0.7, 0, false},
};
#define N_CASES (int)(sizeof cases / sizeof cases[0])

/* Points where no op has a kink (kinks: 0 for abs/relu/leaky/elu, -1 and 1.5 for clamp). */
static const double points[] = {-2.5, -1.3, -0.4, 0.3, 0.9, 2.2};
#define N_POINTS (int)(sizeof points / sizeof points[0])

static double domain(const unary_case *c, double v) { return c->positive ? fabs(v) + 0.1 : v; }

TEST(unary_forward_matches_libm) {
    ag_tape *t = ag_tape_new(1);
    for (int k = 0; k < N_CASES; k++) {
        const unary_case *c = &cases[k];
        ag_real in[N_POINTS];
        for (int i = 0; i < N_POINTS; i++) in[i] = (ag_real)domain(c, points[i]);
        ag_tensor *y = c->apply(t, ag_from_data(t, 1, (int[]){N_POINTS}, in), c->a, c->b);
        CHECK(y->ndim == 1 && y->shape[0] == N_POINTS);
        for (int i = 0; i < N_POINTS; i++) {
            double want = c->ref((double)in[i], c->a, c->b);
            if (fabs((double)y->data[i] - want) > FWD_TOL * (1 + fabs(want)))
                test_fail(__FILE__, __LINE__, "%s(%g) = %.17g, want %.17g", c->name,
                          (double)in[i], (double)y->data[i], want);
        }
    }
    ag_tape_free(t);
}

typedef struct { const unary_case *c; } gc_ctx;
static ag_tensor *unary_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    const unary_case *c = ((gc_ctx *)ctx)->c;
    return c->apply(t, in[0], c->a, c->b);
}

/* Values in [-2, 2], at least 0.15 from every kink (0, -1, 1.5), or in [0.2, 2.2] for ops
 * defined on positives only: far enough that x ± h never straddles a kink. */
static void fill_smooth(ag_rng *r, ag_tensor *x, bool positive) {
    for (size_t i = 0; i < x->size; i++) {
        double v;
        do v = positive ? 0.2 + 2 * ag_rng_uniform(r) : -2 + 4 * ag_rng_uniform(r);
        while (fabs(v) < 0.15 || fabs(v + 1) < 0.15 || fabs(v - 1.5) < 0.15);
        x->data[i] = (ag_real)v;
    }
}

TEST(unary_gradcheck_every_op) {
    ag_rng r;
    ag_rng_seed(&r, 2024);
    for (int k = 0; k < N_CASES; k++) {
        ag_tensor *x = ag_tensor_new(2, (int[]){3, 4}, true);
        x->name = "x";
        fill_smooth(&r, x, cases[k].positive);
        gc_ctx ctx = {&cases[k]};
        ag_gradcheck_report rep = ag_gradcheck(unary_fn, &x, 1, &ctx, NULL);
        if (!rep.ok) ag_gradcheck_print(cases[k].name, &rep, stderr);
        CHECK(rep.ok);
        CHECK(rep.accumulates);
        CHECK(rep.evaluations == 2 * 12);
        ag_tensor_free(x);
    }
}

/* Each op on an intermediate u = x + 0 that a second op (scale) also reads, in both
 * orders: backward then runs the op once as the first writer of u's gradient (a fresh
 * buffer, stored into) and once after scale wrote it (added into). */
typedef struct { const unary_case *c; bool op_first; } gc2_ctx;
static ag_tensor *shared_input_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    const gc2_ctx *g = ctx;
    ag_tensor *u = ag_add_scalar(t, in[0], 0);
    if (g->op_first) {
        ag_tensor *y = g->c->apply(t, u, g->c->a, g->c->b);
        return ag_add(t, y, ag_scale(t, u, 0.5));      /* backward: scale, then the op */
    }
    ag_tensor *s = ag_scale(t, u, 0.5);
    return ag_add(t, s, g->c->apply(t, u, g->c->a, g->c->b)); /* the op, then scale */
}

TEST(unary_gradcheck_on_a_shared_intermediate) {
    ag_rng r;
    ag_rng_seed(&r, 2025);
    for (int k = 0; k < N_CASES; k++)
        for (int order = 0; order < 2; order++) {
            ag_tensor *x = ag_tensor_new(2, (int[]){3, 4}, true);
            x->name = "x";
            fill_smooth(&r, x, cases[k].positive);
            gc2_ctx ctx = {&cases[k], order == 0};
            ag_gradcheck_report rep = ag_gradcheck(shared_input_fn, &x, 1, &ctx, NULL);
            if (!rep.ok) ag_gradcheck_print(cases[k].name, &rep, stderr);
            CHECK(rep.ok);
            ag_tensor_free(x);
        }
}

/* Gradients at the points where the naive formulas overflow, via a ones seed. */
static void value_and_grad(ag_tape *t, ag_tensor *(*op)(ag_tape *, ag_tensor *), double v,
                           double *y, double *dy) {
    ag_tensor *x = ag_tensor_new(1, (int[]){1}, true);
    x->data[0] = (ag_real)v;
    ag_tensor *out = op(t, x);
    ag_backward_seed(t, out, ag_ones(t, 1, (int[]){1}));
    *y = (double)out->data[0];
    *dy = (double)x->grad[0];
    ag_tensor_free(x);
    ag_tape_clear(t);
}

TEST(unary_extreme_values_are_stable) {
    ag_tape *t = ag_tape_new(1);
    double y, dy;
    value_and_grad(t, ag_softplus, 100, &y, &dy); /* log(1+e^100) overflows e^100 in float */
    CHECK(isfinite(y) && isfinite(dy));
    CHECK_NEAR(y, 100, 1e-4);
    CHECK_NEAR(dy, 1, 1e-6);
    value_and_grad(t, ag_softplus, -100, &y, &dy); /* ≈ e^-100 ≈ 3.7e-44 */
    CHECK(isfinite(y) && y >= 0 && y < 1e-40);
    CHECK(isfinite(dy) && dy >= 0 && dy < 1e-40);
    value_and_grad(t, ag_log_sigmoid, -100, &y, &dy); /* log σ(-100) ≈ -100, not -inf */
    CHECK(isfinite(y) && isfinite(dy));
    CHECK_NEAR(y, -100, 1e-4);
    CHECK_NEAR(dy, 1, 1e-6);
    value_and_grad(t, ag_log_sigmoid, 100, &y, &dy);
    CHECK(isfinite(y) && y <= 0 && y > -1e-40);
    CHECK(isfinite(dy) && dy >= 0 && dy < 1e-40);
    value_and_grad(t, ag_sigmoid, 100, &y, &dy);
    CHECK(isfinite(y) && isfinite(dy));
    CHECK_NEAR(y, 1, 1e-7);
    CHECK_NEAR(dy, 0, 1e-30);
    value_and_grad(t, ag_sigmoid, -100, &y, &dy); /* e^100 / (1 + e^100) would be inf/inf */
    CHECK(isfinite(y) && y >= 0 && y < 1e-40);
    CHECK(isfinite(dy) && dy >= 0 && dy < 1e-40);
    value_and_grad(t, ag_tanh, -100, &y, &dy);
    CHECK_NEAR(y, -1, 1e-7);
    CHECK_NEAR(dy, 0, 1e-7);
    ag_tape_free(t);
}

TEST(unary_clamp_rejects_inverted_bounds) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_zeros(t, 1, (int[]){3});
    EXPECT_ERROR(ag_clamp(t, x, 2, 1));
    CHECK(strstr(test_last_error, "clamp") != NULL);
    ag_tape_free(t);
}

/* The subgradient conventions the header promises: d|x|/dx = 0 at 0, relu' = 0 at 0. */
TEST(unary_kink_conventions) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_tensor_new(1, (int[]){1}, true);
    ag_backward_seed(t, ag_abs(t, x), ag_ones(t, 1, (int[]){1}));
    CHECK(x->grad[0] == 0);
    ag_backward_seed(t, ag_relu(t, x), ag_ones(t, 1, (int[]){1}));
    CHECK(x->grad[0] == 0);
    ag_tensor_free(x);
    ag_tape_free(t);
}
