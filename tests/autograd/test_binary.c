/* test_binary.c — the broadcasting binary ops (add, sub, mul, div, maximum, minimum) and
 * broadcast_to / sum_to: forward values worked out by hand for each op and each layout
 * (same shape, row, scalar, outer, general), gradchecks of every op on every layout with
 * both or only one input requiring grad, big inputs that take the threaded paths (checked
 * against plain loops written here), and the broadcasting errors. */
#include "tests/test.h"
#include "autograd/autograd.h"
#include "tests/check.h"

#include <stdlib.h>
#include <string.h>

#ifdef AG_DOUBLE
#define TOL 1e-12
#else
#define TOL 2e-6
#endif

/* ---- helpers ------------------------------------------------------------------------------ */

#define EXPECT_VALUES(y, ndim, ...) expect_values_at(__FILE__, __LINE__, y, ndim, __VA_ARGS__, TOL)

typedef ag_tensor *(*binop)(ag_tape *, ag_tensor *, ag_tensor *);
typedef struct { binop f; } bin_ctx;
static ag_tensor *call_binary(ag_tape *t, ag_tensor **in, void *ctx) {
    return ((bin_ctx *)ctx)->f(t, in[0], in[1]);
}

/* How to fill the operands of an op so the gradcheck stays on smooth ground. */
enum { SMOOTH, DIVISOR, NO_TIES };

static void fill_operands(ag_rng *r, int kind, ag_tensor *a, ag_tensor *b) {
    if (kind == NO_TIES) {
        /* a on the grid 0.5k + 0.2, b on 0.5k: every a-b pair is at least 0.2 apart, far
         * more than the step h, so maximum/minimum never switch sides inside a difference. */
        for (size_t i = 0; i < a->size; i++) a->data[i] = (ag_real)(0.5 * ((int)ag_rng_below(r, 9) - 4) + 0.2);
        for (size_t i = 0; i < b->size; i++) b->data[i] = (ag_real)(0.5 * ((int)ag_rng_below(r, 9) - 4));
        return;
    }
    ag_fill_randn(r, a, 1);
    if (kind == SMOOTH) {
        ag_fill_randn(r, b, 1);
    } else { /* divisors in ±[0.5, 2]: 1/v stays well conditioned */
        for (size_t i = 0; i < b->size; i++)
            b->data[i] = (ag_real)((ag_rng_uniform(r) < 0.5 ? -1 : 1) * (0.5 + 1.5 * ag_rng_uniform(r)));
    }
}

static void gradcheck_binary(int line, const char *label, binop f, int kind, int na,
                             const int *sa, int nb, const int *sb, bool grad_a, bool grad_b) {
    ag_rng r;
    ag_rng_seed(&r, 99);
    ag_tensor *a = ag_tensor_new(na, sa, grad_a), *b = ag_tensor_new(nb, sb, grad_b);
    a->name = "a";
    b->name = "b";
    fill_operands(&r, kind, a, b);
    bin_ctx c = {f};
    ag_gradcheck_report rep = ag_gradcheck(call_binary, (ag_tensor *[]){a, b}, 2, &c, NULL);
    if (!rep.ok) {
        ag_gradcheck_print(label, &rep, stderr);
        test_fail(__FILE__, line, "gradcheck of %s failed", label);
    }
    /* Every element of every input that needs a gradient was differentiated. */
    if (rep.evaluations != 2 * (int)((grad_a ? a->size : 0) + (grad_b ? b->size : 0)))
        test_fail(__FILE__, line, "%s: %d evaluations", label, rep.evaluations);
    ag_tensor_free(a);
    ag_tensor_free(b);
}
#define GC(...) gradcheck_binary(__LINE__, __VA_ARGS__)

/* ---- forward values, by hand ------------------------------------------------------------- */

TEST(add_forward_layouts) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *a = tensor_of(t, 2, (int[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    ag_tensor *row = tensor_of(t, 1, (int[]){3}, (double[]){10, 20, 30});
    ag_tensor *col = tensor_of(t, 2, (int[]){2, 1}, (double[]){100, 200});
    ag_tensor *one = tensor_of(t, 1, (int[]){1}, (double[]){0.5});
    EXPECT_VALUES(ag_add(t, a, a), 2, (int[]){2, 3}, (double[]){2, 4, 6, 8, 10, 12});
    EXPECT_VALUES(ag_add(t, a, row), 2, (int[]){2, 3}, (double[]){11, 22, 33, 14, 25, 36});
    EXPECT_VALUES(ag_add(t, row, a), 2, (int[]){2, 3}, (double[]){11, 22, 33, 14, 25, 36});
    EXPECT_VALUES(ag_add(t, a, col), 2, (int[]){2, 3}, (double[]){101, 102, 103, 204, 205, 206});
    EXPECT_VALUES(ag_add(t, one, a), 2, (int[]){2, 3}, (double[]){1.5, 2.5, 3.5, 4.5, 5.5, 6.5});
    /* (2, 1) + (3): an outer sum of a column and a row */
    EXPECT_VALUES(ag_add(t, col, row), 2, (int[]){2, 3},
                  (double[]){110, 120, 130, 210, 220, 230});
    ag_tape_free(t);
}

TEST(sub_forward_layouts) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *a = tensor_of(t, 2, (int[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    ag_tensor *row = tensor_of(t, 1, (int[]){3}, (double[]){10, 20, 30});
    EXPECT_VALUES(ag_sub(t, a, row), 2, (int[]){2, 3}, (double[]){-9, -18, -27, -6, -15, -24});
    EXPECT_VALUES(ag_sub(t, row, a), 2, (int[]){2, 3}, (double[]){9, 18, 27, 6, 15, 24});
    /* (4, 1) - (1, 5) -> (4, 5): a_i - b_j */
    ag_tensor *c = tensor_of(t, 2, (int[]){4, 1}, (double[]){1, 2, 3, 4});
    ag_tensor *d = tensor_of(t, 2, (int[]){1, 5}, (double[]){0, 10, 20, 30, 40});
    EXPECT_VALUES(ag_sub(t, c, d), 2, (int[]){4, 5},
                  (double[]){1, -9, -19, -29, -39, 2, -8, -18, -28, -38,
                             3, -7, -17, -27, -37, 4, -6, -16, -26, -36});
    ag_tape_free(t);
}

TEST(mul_forward_layouts) {
    ag_tape *t = ag_tape_new(1);
    /* (2, 1, 2) * (3, 1) -> (2, 3, 2) */
    ag_tensor *a = tensor_of(t, 3, (int[]){2, 1, 2}, (double[]){1, 2, 3, 4});
    ag_tensor *b = tensor_of(t, 2, (int[]){3, 1}, (double[]){10, 20, 30});
    EXPECT_VALUES(ag_mul(t, a, b), 3, (int[]){2, 3, 2},
                  (double[]){10, 20, 20, 40, 30, 60, 30, 40, 60, 80, 90, 120});
    EXPECT_VALUES(ag_mul(t, b, a), 3, (int[]){2, 3, 2},
                  (double[]){10, 20, 20, 40, 30, 60, 30, 40, 60, 80, 90, 120});
    ag_tensor *s = tensor_of(t, 1, (int[]){1}, (double[]){-2});
    EXPECT_VALUES(ag_mul(t, a, s), 3, (int[]){2, 1, 2}, (double[]){-2, -4, -6, -8});
    ag_tape_free(t);
}

TEST(div_forward_layouts) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *a = tensor_of(t, 2, (int[]){2, 2}, (double[]){1, 2, 3, 4});
    ag_tensor *two = tensor_of(t, 1, (int[]){1}, (double[]){2});
    ag_tensor *twelve = tensor_of(t, 1, (int[]){1}, (double[]){12});
    ag_tensor *row = tensor_of(t, 1, (int[]){2}, (double[]){4, -8});
    EXPECT_VALUES(ag_div(t, a, two), 2, (int[]){2, 2}, (double[]){0.5, 1, 1.5, 2});
    EXPECT_VALUES(ag_div(t, twelve, a), 2, (int[]){2, 2}, (double[]){12, 6, 4, 3});
    EXPECT_VALUES(ag_div(t, a, row), 2, (int[]){2, 2}, (double[]){0.25, -0.25, 0.75, -0.5});
    EXPECT_VALUES(ag_div(t, a, a), 2, (int[]){2, 2}, (double[]){1, 1, 1, 1});
    ag_tape_free(t);
}

TEST(maximum_minimum_forward_layouts) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *a = tensor_of(t, 2, (int[]){2, 3}, (double[]){1, 5, -2, 0, -1, 7});
    ag_tensor *row = tensor_of(t, 1, (int[]){3}, (double[]){0, 2, 3});
    EXPECT_VALUES(ag_maximum(t, a, row), 2, (int[]){2, 3}, (double[]){1, 5, 3, 0, 2, 7});
    EXPECT_VALUES(ag_minimum(t, a, row), 2, (int[]){2, 3}, (double[]){0, 2, -2, 0, -1, 3});
    ag_tensor *zero = tensor_of(t, 1, (int[]){1}, (double[]){0});
    EXPECT_VALUES(ag_maximum(t, zero, a), 2, (int[]){2, 3}, (double[]){1, 5, 0, 0, 0, 7});
    EXPECT_VALUES(ag_minimum(t, zero, a), 2, (int[]){2, 3}, (double[]){0, 0, -2, 0, -1, 0});
    ag_tape_free(t);
}

/* The header's promise: at a tie the whole gradient goes to a. */
TEST(maximum_minimum_ties_send_gradient_to_a) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *a = ag_tensor_new(1, (int[]){3}, true), *b = ag_tensor_new(1, (int[]){3}, true);
    const ag_real av[] = {1, 2, 5}, bv[] = {1, 3, 4};
    memcpy(a->data, av, sizeof av);
    memcpy(b->data, bv, sizeof bv);
    ag_backward(t, ag_sum(t, ag_maximum(t, a, b)));
    CHECK(a->grad[0] == 1 && a->grad[1] == 0 && a->grad[2] == 1);
    CHECK(b->grad[0] == 0 && b->grad[1] == 1 && b->grad[2] == 0);
    ag_zero_grad(a);
    ag_zero_grad(b);
    ag_backward(t, ag_sum(t, ag_minimum(t, a, b)));
    CHECK(a->grad[0] == 1 && a->grad[1] == 1 && a->grad[2] == 0);
    CHECK(b->grad[0] == 0 && b->grad[1] == 0 && b->grad[2] == 1);
    ag_tensor_free(a);
    ag_tensor_free(b);
    ag_tape_free(t);
}

/* Gradients of a broadcast operand are sums over the stretched dimensions, by hand. */
TEST(add_mul_broadcast_gradients_by_hand) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *a = ag_tensor_new(2, (int[]){2, 3}, true), *b = ag_tensor_new(1, (int[]){3}, true);
    ag_tensor *s = ag_tensor_new(1, (int[]){1}, true);
    const ag_real av[] = {1, 2, 3, 4, 5, 6}, bv[] = {10, 20, 30};
    memcpy(a->data, av, sizeof av);
    memcpy(b->data, bv, sizeof bv);
    s->data[0] = 3;
    /* loss = Σ (a + b) * s  ->  da = s, db_j = 2 s, ds = Σ (a + b) = 21 + 120 = 141 */
    ag_backward(t, ag_sum(t, ag_mul(t, ag_add(t, a, b), s)));
    for (int i = 0; i < 6; i++) CHECK(a->grad[i] == 3);
    for (int j = 0; j < 3; j++) CHECK(b->grad[j] == 6);
    CHECK_NEAR(s->grad[0], 141, TOL);
    /* loss = Σ a * b  ->  db_j = Σ_i a_ij = (5, 7, 9) */
    ag_zero_grad(b);
    ag_backward(t, ag_sum(t, ag_mul(t, a, b)));
    CHECK(b->grad[0] == 5 && b->grad[1] == 7 && b->grad[2] == 9);
    ag_tensor_free(a);
    ag_tensor_free(b);
    ag_tensor_free(s);
    ag_tape_free(t);
}

TEST(broadcast_to_and_sum_to_forward) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *row = tensor_of(t, 1, (int[]){3}, (double[]){1, 2, 3});
    EXPECT_VALUES(ag_broadcast_to(t, row, 2, (int[]){2, 3}), 2, (int[]){2, 3},
                  (double[]){1, 2, 3, 1, 2, 3});
    ag_tensor *col = tensor_of(t, 2, (int[]){2, 1}, (double[]){7, 8});
    EXPECT_VALUES(ag_broadcast_to(t, col, 3, (int[]){2, 2, 3}), 3, (int[]){2, 2, 3},
                  (double[]){7, 7, 7, 8, 8, 8, 7, 7, 7, 8, 8, 8});
    ag_tensor *x = tensor_of(t, 2, (int[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    EXPECT_VALUES(ag_sum_to(t, x, 1, (int[]){3}), 1, (int[]){3}, (double[]){5, 7, 9});
    EXPECT_VALUES(ag_sum_to(t, x, 2, (int[]){1, 3}), 2, (int[]){1, 3}, (double[]){5, 7, 9});
    EXPECT_VALUES(ag_sum_to(t, x, 2, (int[]){2, 1}), 2, (int[]){2, 1}, (double[]){6, 15});
    EXPECT_VALUES(ag_sum_to(t, x, 1, (int[]){1}), 1, (int[]){1}, (double[]){21});
    EXPECT_VALUES(ag_sum_to(t, x, 2, (int[]){2, 3}), 2, (int[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    ag_tape_free(t);
}

/* Constant inputs record nothing: the op runs, the tape stays empty. */
TEST(binary_records_only_when_needed) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *a = ag_ones(t, 2, (int[]){2, 3}), *b = ag_ones(t, 1, (int[]){3});
    ag_add(t, a, b);
    ag_sum_to(t, a, 1, (int[]){3});
    CHECK(ag_tape_num_nodes(t) == 0);
    ag_tensor *p = ag_param(1, (int[]){3});
    ag_tensor *y = ag_mul(t, a, p);
    CHECK(ag_tape_num_nodes(t) == 1 && y->requires_grad);
    ag_tensor_free(p);
    ag_tape_free(t);
}

/* ---- gradchecks: every op on every layout ------------------------------------------------ */

#define BINARY_GRADCHECKS(op, kind)                                                     \
    TEST(gradcheck_##op##_same_shape) {                                                \
        GC(#op " (2,3),(2,3)", ag_##op, kind, 2, (int[]){2, 3}, 2, (int[]){2, 3}, true, true); \
    }                                                                                  \
    TEST(gradcheck_##op##_broadcast_row) {                                             \
        GC(#op " (2,3),(3)", ag_##op, kind, 2, (int[]){2, 3}, 1, (int[]){3}, true, true); \
        GC(#op " (3),(2,3)", ag_##op, kind, 1, (int[]){3}, 2, (int[]){2, 3}, true, true); \
        GC(#op " (2,2,3),(2,3)", ag_##op, kind, 3, (int[]){2, 2, 3}, 2, (int[]){2, 3}, true, true); \
    }                                                                                  \
    TEST(gradcheck_##op##_broadcast_3d) {                                              \
        GC(#op " (2,1,4),(3,1)", ag_##op, kind, 3, (int[]){2, 1, 4}, 2, (int[]){3, 1}, true, true); \
    }                                                                                  \
    TEST(gradcheck_##op##_broadcast_4d) {                                              \
        GC(#op " (2,3,1,2),(3,4,1)", ag_##op, kind, 4, (int[]){2, 3, 1, 2}, 3, (int[]){3, 4, 1}, \
           true, true);                                                                \
    }                                                                                  \
    TEST(gradcheck_##op##_scalar) {                                                    \
        GC(#op " (2,3),(1)", ag_##op, kind, 2, (int[]){2, 3}, 1, (int[]){1}, true, true); \
        GC(#op " (1),(2,3)", ag_##op, kind, 1, (int[]){1}, 2, (int[]){2, 3}, true, true); \
    }                                                                                  \
    TEST(gradcheck_##op##_outer) {                                                     \
        GC(#op " (4,1),(1,5)", ag_##op, kind, 2, (int[]){4, 1}, 2, (int[]){1, 5}, true, true); \
    }                                                                                  \
    TEST(gradcheck_##op##_one_input_needs_grad) {                                      \
        GC(#op " a only (2,3),(3)", ag_##op, kind, 2, (int[]){2, 3}, 1, (int[]){3}, true, false); \
        GC(#op " b only (2,3),(3)", ag_##op, kind, 2, (int[]){2, 3}, 1, (int[]){3}, false, true); \
        GC(#op " b only (4,1),(1,5)", ag_##op, kind, 2, (int[]){4, 1}, 2, (int[]){1, 5}, false, true); \
    }

BINARY_GRADCHECKS(add, SMOOTH)
BINARY_GRADCHECKS(sub, SMOOTH)
BINARY_GRADCHECKS(mul, SMOOTH)
BINARY_GRADCHECKS(div, DIVISOR)
BINARY_GRADCHECKS(maximum, NO_TIES)
BINARY_GRADCHECKS(minimum, NO_TIES)

/* The same tensor on both sides: both gradient contributions land in one buffer. */
static ag_tensor *square_by_mul(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    return ag_mul(t, in[0], in[0]);
}
TEST(gradcheck_mul_same_tensor_twice) {
    ag_rng r;
    ag_rng_seed(&r, 3);
    ag_tensor *x = ag_tensor_new(2, (int[]){2, 3}, true);
    ag_fill_randn(&r, x, 1);
    ag_gradcheck_report rep = ag_gradcheck(square_by_mul, &x, 1, NULL, NULL);
    if (!rep.ok) ag_gradcheck_print("mul x*x", &rep, stderr);
    CHECK(rep.ok);
    ag_tensor_free(x);
}

typedef struct { int ndim; int shape[4]; } shape_ctx;
static ag_tensor *call_broadcast_to(ag_tape *t, ag_tensor **in, void *ctx) {
    shape_ctx *s = ctx;
    return ag_broadcast_to(t, in[0], s->ndim, s->shape);
}
static ag_tensor *call_sum_to(ag_tape *t, ag_tensor **in, void *ctx) {
    shape_ctx *s = ctx;
    return ag_sum_to(t, in[0], s->ndim, s->shape);
}
static void gradcheck_unary_shape(int line, const char *label, ag_fn f, int ndim,
                                  const int *shape, shape_ctx target) {
    ag_rng r;
    ag_rng_seed(&r, 5);
    ag_tensor *x = ag_tensor_new(ndim, shape, true);
    ag_fill_randn(&r, x, 1);
    ag_gradcheck_report rep = ag_gradcheck(f, &x, 1, &target, NULL);
    if (!rep.ok) {
        ag_gradcheck_print(label, &rep, stderr);
        test_fail(__FILE__, line, "gradcheck of %s failed", label);
    }
    ag_tensor_free(x);
}

TEST(gradcheck_broadcast_to) {
    gradcheck_unary_shape(__LINE__, "broadcast_to (3)->(2,3)", call_broadcast_to, 1,
                          (int[]){3}, (shape_ctx){2, {2, 3}});
    gradcheck_unary_shape(__LINE__, "broadcast_to (2,1)->(3,2,4)", call_broadcast_to, 2,
                          (int[]){2, 1}, (shape_ctx){3, {3, 2, 4}});
    gradcheck_unary_shape(__LINE__, "broadcast_to (1)->(2,3)", call_broadcast_to, 1,
                          (int[]){1}, (shape_ctx){2, {2, 3}});
}

TEST(gradcheck_sum_to) {
    gradcheck_unary_shape(__LINE__, "sum_to (2,3)->(3)", call_sum_to, 2, (int[]){2, 3},
                          (shape_ctx){1, {3}});
    gradcheck_unary_shape(__LINE__, "sum_to (3,2,4)->(2,1)", call_sum_to, 3,
                          (int[]){3, 2, 4}, (shape_ctx){2, {2, 1}});
    gradcheck_unary_shape(__LINE__, "sum_to (2,3)->(1)", call_sum_to, 2, (int[]){2, 3},
                          (shape_ctx){1, {1}});
}

/* ---- big inputs: the threaded loops against plain ones ------------------------------------- */

/* y = a·b + a with a (R, 1, C) or (R, C) and b broadcast; checks y and both gradients of
 * Σ w·y against loops over explicit indices. */
static void check_big(int line, int na, const int *sa, int nb, const int *sb) {
    ag_tape *t = ag_tape_new(1);
    ag_rng r;
    ag_rng_seed(&r, 11);
    ag_tensor *a = ag_tensor_new(na, sa, true), *b = ag_tensor_new(nb, sb, true);
    ag_fill_randn(&r, a, 1);
    ag_fill_randn(&r, b, 1);
    ag_tensor *y = ag_add(t, ag_mul(t, a, b), a);
    ag_tensor *w = ag_randn(t, y->ndim, y->shape, 1);
    ag_backward(t, ag_sum(t, ag_mul(t, y, w)));
    /* Index maps by hand: pad both shapes to y's and use stride 0 where a dim is 1. */
    long ys[4] = {1, 1, 1, 1}, as[4], bs[4];
    int lead = 4 - y->ndim;
    for (int d = 0; d < y->ndim; d++) ys[lead + d] = y->shape[d];
    const ag_tensor *ops[2] = {a, b};
    long *st[2] = {as, bs};
    for (int k = 0; k < 2; k++) {
        long s = 1;
        for (int d = 3; d >= 0; d--) {
            int od = d - (4 - ops[k]->ndim);
            long dim = od >= 0 ? ops[k]->shape[od] : 1;
            st[k][d] = dim == 1 ? 0 : s;
            s *= dim;
        }
    }
    double *da = calloc(a->size, sizeof *da), *db = calloc(b->size, sizeof *db);
    double worst_y = 0, worst_g = 0;
    long i = 0;
    for (long d0 = 0; d0 < ys[0]; d0++)
        for (long d1 = 0; d1 < ys[1]; d1++)
            for (long d2 = 0; d2 < ys[2]; d2++)
                for (long d3 = 0; d3 < ys[3]; d3++, i++) {
                    long ia = d0 * as[0] + d1 * as[1] + d2 * as[2] + d3 * as[3];
                    long ib = d0 * bs[0] + d1 * bs[1] + d2 * bs[2] + d3 * bs[3];
                    double u = a->data[ia], v = b->data[ib], want = u * v + u;
                    worst_y = fmax(worst_y, fabs(y->data[i] - want) / (1 + fabs(want)));
                    da[ia] += w->data[i] * (v + 1);
                    db[ib] += w->data[i] * u;
                }
    for (size_t k = 0; k < a->size; k++)
        worst_g = fmax(worst_g, fabs(a->grad[k] - da[k]) / (1 + fabs(da[k])));
    for (size_t k = 0; k < b->size; k++)
        worst_g = fmax(worst_g, fabs(b->grad[k] - db[k]) / (1 + fabs(db[k])));
#ifdef AG_DOUBLE
    const double tol = 1e-12;
#else
    const double tol = 1e-4; /* the float run adds ~300 float products per b element */
#endif
    if (worst_y > tol || worst_g > tol)
        test_fail(__FILE__, line, "worst relative error: values %.3g, gradients %.3g", worst_y,
                  worst_g);
    free(da);
    free(db);
    ag_tensor_free(a);
    ag_tensor_free(b);
    ag_tape_free(t);
}

TEST(binary_big_inputs_match_loops) { /* 60 000 to 120 000 elements: above AG_PAR_MIN */
    check_big(__LINE__, 2, (int[]){300, 200}, 2, (int[]){300, 200});    /* same shape */
    check_big(__LINE__, 2, (int[]){300, 200}, 1, (int[]){200});         /* row */
    check_big(__LINE__, 2, (int[]){300, 200}, 1, (int[]){1});           /* scalar */
    check_big(__LINE__, 3, (int[]){300, 1, 200}, 2, (int[]){2, 1});     /* general */
    check_big(__LINE__, 2, (int[]){300, 1}, 2, (int[]){1, 200});        /* outer */
    check_big(__LINE__, 4, (int[]){16, 8, 16, 32}, 3, (int[]){8, 1, 1}); /* a bias (C,1,1) */
}

/* The header's promise: results do not depend on the thread count.  Every layout, values
 * and gradients, bit for bit with 1 and 2 threads. */
static void run_layouts(ag_tensor *out[11], ag_tensor *a, ag_tensor *b[5], ag_tape *t) {
    for (int k = 0; k < 5; k++) {
        ag_zero_grad(a);
        ag_zero_grad(b[k]);
        ag_tensor *y = ag_div(t, ag_mul(t, a, b[k]), ag_add_scalar(t, ag_square(t, b[k]), 1));
        ag_backward(t, ag_sum(t, y));
        out[k] = ag_copy(t, y);
        out[5 + k] = ag_from_data(t, b[k]->ndim, b[k]->shape, b[k]->grad);
    }
    out[10] = ag_from_data(t, a->ndim, a->shape, a->grad);
}
TEST(binary_results_do_not_depend_on_thread_count) {
    int keep = ag_num_threads();
    ag_rng r;
    ag_rng_seed(&r, 8);
    ag_tensor *a = ag_tensor_new(4, (int[]){8, 8, 16, 64}, true), *b[5];
    const int nd[5] = {4, 1, 1, 3, 2}, shapes[5][4] = {{8, 8, 16, 64}, {64}, {1}, {8, 1, 1}, {16, 1}};
    ag_fill_randn(&r, a, 1);
    for (int k = 0; k < 5; k++) {
        b[k] = ag_tensor_new(nd[k], shapes[k], true);
        ag_fill_randn(&r, b[k], 1);
    }
    ag_tape *t1 = ag_tape_new(1), *t2 = ag_tape_new(1);
    ag_tensor *one[11], *two[11];
    ag_set_num_threads(1);
    run_layouts(one, a, b, t1);
    ag_set_num_threads(2);
    run_layouts(two, a, b, t2);
    ag_set_num_threads(keep);
    for (int k = 0; k < 11; k++)
        if (memcmp(one[k]->data, two[k]->data, one[k]->size * sizeof(ag_real)) != 0)
            test_fail(__FILE__, __LINE__, "result %d differs between 1 and 2 threads", k);
    for (int k = 0; k < 5; k++) ag_tensor_free(b[k]);
    ag_tensor_free(a);
    ag_tape_free(t1);
    ag_tape_free(t2);
}

/* ---- errors ----------------------------------------------------------------------------------- */

TEST(binary_bad_broadcasts_are_errors) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *a = ag_zeros(t, 2, (int[]){2, 3}), *b = ag_zeros(t, 2, (int[]){4, 3});
    EXPECT_ERROR(ag_add(t, a, b));
    CHECK(strstr(test_last_error, "add: cannot broadcast (2, 3) with (4, 3)") != NULL);
    EXPECT_ERROR(ag_mul(t, a, ag_zeros(t, 1, (int[]){2})));
    CHECK(strstr(test_last_error, "mul: cannot broadcast (2, 3) with (2)") != NULL);
    EXPECT_ERROR(ag_sub(t, ag_zeros(t, 3, (int[]){2, 3, 4}), ag_zeros(t, 2, (int[]){2, 4})));
    EXPECT_ERROR(ag_div(t, a, ag_zeros(t, 1, (int[]){4})));
    EXPECT_ERROR(ag_maximum(t, a, ag_zeros(t, 2, (int[]){3, 2})));
    EXPECT_ERROR(ag_minimum(t, ag_zeros(t, 2, (int[]){3, 1}), ag_zeros(t, 2, (int[]){2, 1})));
    EXPECT_ERROR(ag_broadcast_to(t, ag_zeros(t, 2, (int[]){3, 2}), 2, (int[]){3, 4}));
    CHECK(strstr(test_last_error, "broadcast_to") != NULL);
    EXPECT_ERROR(ag_broadcast_to(t, a, 1, (int[]){3})); /* cannot drop a dimension of 2 */
    EXPECT_ERROR(ag_sum_to(t, a, 1, (int[]){4}));
    CHECK(strstr(test_last_error, "sum_to") != NULL);
    EXPECT_ERROR(ag_sum_to(t, a, 3, (int[]){2, 2, 3})); /* cannot grow */
    ag_tape_free(t);
}
