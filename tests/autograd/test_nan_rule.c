/* test_nan_rule.c — the NaN rule of autograd.h: a NaN input gives a NaN output in every
 * op, and the ops that select an input (relu, clamp, maximum, minimum, max, max_axis,
 * max_pool2d) select the NaN and route the gradient to it.  Also pow(x, 0)'s gradient at
 * x = 0, which is 0 (x^0 is 1 everywhere), as PyTorch gives in float64. */
#include "tests/test.h"
#include "autograd/autograd.h"

#include <math.h>

static bool is_nan(ag_real v) { return v != v; }

/* y = op(x) for x = {NaN, 2, -3}, then backward of sum(y): checks y and dx. */
typedef ag_tensor *(*unary_fn)(ag_tape *, ag_tensor *);
static ag_tensor *f_relu(ag_tape *t, ag_tensor *x) { return ag_relu(t, x); }
static ag_tensor *f_clamp(ag_tape *t, ag_tensor *x) { return ag_clamp(t, x, -1, 1); }
static ag_tensor *f_leaky(ag_tape *t, ag_tensor *x) { return ag_leaky_relu(t, x, 0.1f); }
static ag_tensor *f_elu(ag_tape *t, ag_tensor *x) { return ag_elu(t, x, 1); }
static ag_tensor *f_softplus(ag_tape *t, ag_tensor *x) { return ag_softplus(t, x); }
static ag_tensor *f_sigmoid(ag_tape *t, ag_tensor *x) { return ag_sigmoid(t, x); }
static ag_tensor *f_abs(ag_tape *t, ag_tensor *x) { return ag_abs(t, x); }
static ag_tensor *f_pow2(ag_tape *t, ag_tensor *x) { return ag_pow(t, x, 2); }

TEST(nan_rule_unary_ops_keep_the_nan) {
    struct { const char *name; unary_fn f; bool selects; } ops[] = {
        {"relu", f_relu, true}, {"clamp", f_clamp, true}, {"leaky_relu", f_leaky, false},
        {"elu", f_elu, false}, {"softplus", f_softplus, false}, {"sigmoid", f_sigmoid, false},
        {"abs", f_abs, false}, {"pow 2", f_pow2, false}};
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
        ag_tape *t = ag_tape_new(1);
        ag_tensor *x = ag_param(1, (int[]){3});
        x->data[0] = NAN, x->data[1] = 2, x->data[2] = -3;
        ag_tensor *y = ops[k].f(t, x);
        if (!is_nan(y->data[0]))
            test_fail(__FILE__, __LINE__, "%s(NaN) = %g, expected NaN", ops[k].name,
                      (double)y->data[0]);
        CHECK(!is_nan(y->data[1]) && !is_nan(y->data[2]));
        ag_backward(t, ag_sum(t, y));
        /* a selecting op passes the gradient to the NaN it selected, as for x inside */
        if (ops[k].selects && !(x->grad[0] == 1))
            test_fail(__FILE__, __LINE__, "%s: d/dx at NaN = %g, expected 1 (the NaN is "
                      "selected)", ops[k].name, (double)x->grad[0]);
        ag_tensor_free(x);
        ag_tape_free(t);
    }
}

TEST(nan_rule_maximum_minimum_select_the_nan) {
    ag_real nan = NAN;
    /* pairs (a, b): NaN first, NaN second, both NaN, and a regular pair for contrast */
    ag_real A[] = {nan, 1, nan, 2}, B[] = {1, nan, nan, 5};
    for (int which = 0; which < 2; which++) {
        ag_tape *t = ag_tape_new(1);
        ag_tensor *a = ag_param(1, (int[]){4}), *b = ag_param(1, (int[]){4});
        for (int i = 0; i < 4; i++) a->data[i] = A[i], b->data[i] = B[i];
        ag_tensor *y = which == 0 ? ag_maximum(t, a, b) : ag_minimum(t, a, b);
        const char *name = which == 0 ? "maximum" : "minimum";
        for (int i = 0; i < 3; i++)
            if (!is_nan(y->data[i]))
                test_fail(__FILE__, __LINE__, "%s(%g, %g) = %g, expected NaN", name,
                          (double)A[i], (double)B[i], (double)y->data[i]);
        CHECK(y->data[3] == (which == 0 ? 5 : 2));
        ag_backward(t, ag_sum(t, y));
        /* the gradient goes to the NaN operand (to a when both are) */
        CHECK(a->grad[0] == 1 && b->grad[0] == 0);
        CHECK(a->grad[1] == 0 && b->grad[1] == 1);
        CHECK(a->grad[2] == 1 && b->grad[2] == 0);
        CHECK(a->grad[3] + b->grad[3] == 1);
        ag_tensor_free(a);
        ag_tensor_free(b);
        ag_tape_free(t);
    }
}

TEST(nan_rule_max_and_max_pool_select_the_nan) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_param(2, (int[]){2, 3});
    ag_real v[] = {1, NAN, 7, 4, 5, 6};
    for (int i = 0; i < 6; i++) x->data[i] = v[i];
    ag_tensor *m = ag_max(t, x), *ma = ag_max_axis(t, x, 1, false);
    CHECK(is_nan(m->data[0]));
    CHECK(is_nan(ma->data[0]) && ma->data[1] == 6);
    ag_backward(t, ag_add(t, m, ag_sum(t, ma)));
    CHECK(x->grad[1] == 2 && x->grad[2] == 0 && x->grad[5] == 1); /* max and row 0 -> NaN */
    ag_tensor_free(x);
    ag_tape_clear(t);

    ag_tensor *img = ag_param(4, (int[]){1, 1, 2, 2});
    ag_real p[] = {3, NAN, 1, 2};
    for (int i = 0; i < 4; i++) img->data[i] = p[i];
    ag_tensor *y = ag_max_pool2d(t, img, 2, 2, 0);
    CHECK(is_nan(y->data[0]));
    ag_backward(t, ag_sum(t, y));
    CHECK(img->grad[1] == 1 && img->grad[0] == 0);
    ag_tensor_free(img);
    ag_tape_free(t);
}

/* x^0: value 1 and gradient 0 at every x, 0 included (0 · 0^-1 would be NaN); x^1 at 0
 * has gradient 1, x^2 at 0 gradient 0, and x^0.5 at 0 an infinite one, as in PyTorch. */
TEST(nan_rule_pow_zero_exponent_has_zero_gradient) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_param(1, (int[]){3});
    x->data[0] = 0, x->data[1] = -2, x->data[2] = 3;
    ag_backward(t, ag_sum(t, ag_pow(t, x, 0)));
    for (int i = 0; i < 3; i++) CHECK(x->grad[i] == 0);
    ag_tape_clear(t);
    ag_real exps[] = {1, 2, 0.5};
    double want[] = {1, 0, INFINITY};
    for (int k = 0; k < 3; k++) {
        ag_tensor *z = ag_param(1, (int[]){1});
        z->data[0] = 0;
        ag_backward(t, ag_sum(t, ag_pow(t, z, exps[k])));
        CHECK(z->grad[0] == want[k]);
        ag_tensor_free(z);
        ag_tape_clear(t);
    }
    ag_tensor_free(x);
    ag_tape_free(t);
}

/* The row-summed BCE: a NaN logit makes its row's sum and that element's gradient NaN, and
 * nothing else (16 values a row: one whole AVX-512 vector, two AVX2 ones). */
TEST(nan_rule_bce_rows_keeps_the_nan_in_its_row) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *l = ag_param(2, (int[]){2, 16});
    ag_tensor *y = ag_full(t, 2, (int[]){2, 16}, 0.5);
    for (int i = 0; i < 32; i++) l->data[i] = (ag_real)(i % 5 - 2);
    l->data[3] = NAN;
    ag_tensor *out = ag_bce_with_logits_rows(t, l, y);
    CHECK(is_nan(out->data[0]) && !is_nan(out->data[1]));
    ag_backward(t, ag_sum(t, out));
    int bad = 0;
    for (int i = 0; i < 32; i++) bad += is_nan(l->grad[i]) != (i == 3);
    CHECK(bad == 0);
    ag_tensor_free(l);
    ag_tape_free(t);
}
