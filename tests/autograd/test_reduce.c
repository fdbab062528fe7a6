/* test_reduce.c — sum, mean, max, logsumexp (whole and along an axis), softmax and
 * log_softmax: values worked out by hand, output shapes for every axis / keepdim choice,
 * gradchecks of each op along each axis, the stable paths (huge and -inf inputs), the
 * double accumulation of float sums, and the axis errors. */
#include "tests/test.h"
#include "autograd/autograd.h"
#include "tests/check.h"

#include <string.h>

#ifdef AG_DOUBLE
#define TOL 1e-12
#else
#define TOL 2e-6
#endif

/* ---- helpers ------------------------------------------------------------------------------ */

#define EXPECT_VALUES(y, ndim, ...) expect_values_at(__FILE__, __LINE__, y, ndim, __VA_ARGS__, TOL)

/* Everything a reduction test calls, so one gradcheck wrapper serves them all. */
typedef struct {
    ag_tensor *(*all)(ag_tape *, ag_tensor *);
    ag_tensor *(*along)(ag_tape *, ag_tensor *, int, bool);
    ag_tensor *(*norm)(ag_tape *, ag_tensor *, int);
    int axis;
    bool keepdim;
} red_ctx;

static ag_tensor *call_reduction(ag_tape *t, ag_tensor **in, void *ctx) {
    const red_ctx *c = ctx;
    if (c->all) return c->all(t, in[0]);
    if (c->along) return c->along(t, in[0], c->axis, c->keepdim);
    return c->norm(t, in[0], c->axis);
}

/* Distinct values spaced `gap` apart in random order: no ties for max, and x ± h never
 * changes which element is the max. */
static void fill_distinct(ag_rng *r, ag_tensor *x, double gap) {
    for (size_t i = 0; i < x->size; i++) x->data[i] = (ag_real)(gap * ((double)i - x->size / 2.0));
    for (size_t i = x->size; i > 1; i--) {
        size_t j = ag_rng_below(r, (uint32_t)i);
        ag_real v = x->data[i - 1];
        x->data[i - 1] = x->data[j];
        x->data[j] = v;
    }
}

static void gradcheck_reduction(int line, const char *label, red_ctx c, int ndim,
                                const int *shape, bool distinct) {
    ag_rng r;
    ag_rng_seed(&r, 17);
    ag_tensor *x = ag_tensor_new(ndim, shape, true);
    x->name = "x";
    if (distinct) fill_distinct(&r, x, 0.3);
    else ag_fill_randn(&r, x, 1);
    ag_gradcheck_report rep = ag_gradcheck(call_reduction, &x, 1, &c, NULL);
    if (!rep.ok) {
        ag_gradcheck_print(label, &rep, stderr);
        test_fail(__FILE__, line, "gradcheck of %s failed", label);
    }
    ag_tensor_free(x);
}
#define GC(...) gradcheck_reduction(__LINE__, __VA_ARGS__)
#define ALL(f) ((red_ctx){.all = f})
#define ALONG(f, ax, keep) ((red_ctx){.along = f, .axis = ax, .keepdim = keep})
#define NORM(f, ax) ((red_ctx){.norm = f, .axis = ax})

/* ---- forward values, by hand --------------------------------------------------------------- */

TEST(sum_mean_forward) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = tensor_of(t, 2, (int[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    EXPECT_VALUES(ag_sum(t, x), 1, (int[]){1}, (double[]){21});
    EXPECT_VALUES(ag_mean(t, x), 1, (int[]){1}, (double[]){3.5});
    EXPECT_VALUES(ag_sum_axis(t, x, 0, false), 1, (int[]){3}, (double[]){5, 7, 9});
    EXPECT_VALUES(ag_sum_axis(t, x, 0, true), 2, (int[]){1, 3}, (double[]){5, 7, 9});
    EXPECT_VALUES(ag_sum_axis(t, x, 1, false), 1, (int[]){2}, (double[]){6, 15});
    EXPECT_VALUES(ag_sum_axis(t, x, -1, true), 2, (int[]){2, 1}, (double[]){6, 15});
    EXPECT_VALUES(ag_mean_axis(t, x, 0, false), 1, (int[]){3}, (double[]){2.5, 3.5, 4.5});
    EXPECT_VALUES(ag_mean_axis(t, x, -1, true), 2, (int[]){2, 1}, (double[]){2, 5});
    /* 1-D input without keepdim: shape (1), not a 0-D tensor */
    ag_tensor *v = tensor_of(t, 1, (int[]){4}, (double[]){1, 2, 3, 4});
    EXPECT_VALUES(ag_sum_axis(t, v, 0, false), 1, (int[]){1}, (double[]){10});
    EXPECT_VALUES(ag_mean_axis(t, v, -1, false), 1, (int[]){1}, (double[]){2.5});
    /* 3-D (2, 3, 2) along the middle axis: out[i, k] = Σ_j x[i, j, k] */
    ag_tensor *c = tensor_of(t, 3, (int[]){2, 3, 2}, (double[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    EXPECT_VALUES(ag_sum_axis(t, c, 1, false), 2, (int[]){2, 2}, (double[]){9, 12, 27, 30});
    EXPECT_VALUES(ag_sum_axis(t, c, 1, true), 3, (int[]){2, 1, 2}, (double[]){9, 12, 27, 30});
    EXPECT_VALUES(ag_mean_axis(t, c, 2, false), 2, (int[]){2, 3}, (double[]){1.5, 3.5, 5.5, 7.5, 9.5, 11.5});
    EXPECT_VALUES(ag_sum_axis(t, c, 0, false), 2, (int[]){3, 2}, (double[]){8, 10, 12, 14, 16, 18});
    ag_tape_free(t);
}

TEST(max_forward_and_first_max_gradient) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = tensor_of(t, 2, (int[]){2, 3}, (double[]){1, 8, 3, 4, 5, 6});
    EXPECT_VALUES(ag_max(t, x), 1, (int[]){1}, (double[]){8});
    EXPECT_VALUES(ag_max_axis(t, x, 0, false), 1, (int[]){3}, (double[]){4, 8, 6});
    EXPECT_VALUES(ag_max_axis(t, x, 1, true), 2, (int[]){2, 1}, (double[]){8, 6});
    ag_tensor *neg = tensor_of(t, 1, (int[]){3}, (double[]){-5, -2, -9});
    EXPECT_VALUES(ag_max(t, neg), 1, (int[]){1}, (double[]){-2});
    /* Ties: the whole gradient goes to the first maximal element of each row. */
    ag_tensor *p = ag_tensor_new(2, (int[]){2, 4}, true);
    const ag_real pv[] = {3, 7, 7, 1, /**/ 2, 2, 2, 2};
    memcpy(p->data, pv, sizeof pv);
    ag_backward(t, ag_max(t, p));
    const ag_real want_all[] = {0, 1, 0, 0, 0, 0, 0, 0};
    CHECK(memcmp(p->grad, want_all, sizeof want_all) == 0);
    ag_zero_grad(p);
    ag_backward(t, ag_sum(t, ag_max_axis(t, p, 1, false)));
    const ag_real want_rows[] = {0, 1, 0, 0, 1, 0, 0, 0};
    CHECK(memcmp(p->grad, want_rows, sizeof want_rows) == 0);
    ag_zero_grad(p);
    ag_backward(t, ag_sum(t, ag_max_axis(t, p, 0, false))); /* columns: (3,2) (7,2) (7,2) (1,2) */
    const ag_real want_cols[] = {1, 1, 1, 0, 0, 0, 0, 1};
    CHECK(memcmp(p->grad, want_cols, sizeof want_cols) == 0);
    ag_tensor_free(p);
    ag_tape_free(t);
}

TEST(logsumexp_forward_is_stable) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = tensor_of(t, 2, (int[]){2, 3}, (double[]){1, 2, 3, -1, 0, 1});
    double r0 = log(exp(1) + exp(2) + exp(3)), r1 = log(exp(-1) + exp(0) + exp(1));
    double all = log(exp(1) + exp(2) + exp(3) + exp(-1) + exp(0) + exp(1));
    EXPECT_VALUES(ag_logsumexp(t, x), 1, (int[]){1}, (double[]){all});
    EXPECT_VALUES(ag_logsumexp_axis(t, x, 1, false), 1, (int[]){2}, (double[]){r0, r1});
    EXPECT_VALUES(ag_logsumexp_axis(t, x, -1, true), 2, (int[]){2, 1}, (double[]){r0, r1});
    EXPECT_VALUES(ag_logsumexp_axis(t, x, 0, false), 1, (int[]){3},
                  (double[]){log(exp(1) + exp(-1)), log(exp(2) + 1), log(exp(3) + exp(1))});
    /* e^1000 overflows even a double; e^-1000 underflows: both need the max shifted out. */
    ag_tensor *big = tensor_of(t, 2, (int[]){2, 2}, (double[]){1000, 1000, -1000, -1000});
    EXPECT_VALUES(ag_logsumexp_axis(t, big, 1, false), 1, (int[]){2},
                  (double[]){1000 + log(2), -1000 + log(2)});
    ag_tape_free(t);
}

/* A fully masked row (all -inf) gives -inf with a uniform gradient, not NaN; a row with
 * some -inf entries ignores them. */
TEST(logsumexp_softmax_handle_minus_inf_rows) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_tensor_new(2, (int[]){2, 2}, true);
    const ag_real xv[] = {-INFINITY, -INFINITY, 0, -INFINITY};
    memcpy(x->data, xv, sizeof xv);
    ag_tensor *lse = ag_logsumexp_axis(t, x, 1, false);
    EXPECT_VALUES(lse, 1, (int[]){2}, (double[]){-INFINITY, 0});
    ag_backward(t, ag_sum(t, ag_scale(t, ag_exp(t, lse), 1))); /* e^-inf = 0 is finite */
    for (int i = 0; i < 4; i++) CHECK(isfinite(x->grad[i]));
    ag_zero_grad(x);
    ag_backward_seed(t, lse, ag_ones(t, 1, (int[]){2}));
    CHECK(x->grad[0] == 0.5 && x->grad[1] == 0.5 && x->grad[2] == 1 && x->grad[3] == 0);
    EXPECT_VALUES(ag_softmax(t, x, 1), 2, (int[]){2, 2}, (double[]){0.5, 0.5, 1, 0});
    EXPECT_VALUES(ag_log_softmax(t, x, 1), 2, (int[]){2, 2},
                  (double[]){-log(2), -log(2), 0, -INFINITY});
    ag_tensor_free(x);
    ag_tape_free(t);
}

TEST(softmax_log_softmax_forward) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = tensor_of(t, 2, (int[]){2, 3}, (double[]){1, 2, 3, 0, 0, 1000});
    double s = exp(1) + exp(2) + exp(3);
    EXPECT_VALUES(ag_softmax(t, x, 1), 2, (int[]){2, 3},
                  (double[]){exp(1) / s, exp(2) / s, exp(3) / s, 0, 0, 1});
    EXPECT_VALUES(ag_softmax(t, x, -1), 2, (int[]){2, 3},
                  (double[]){exp(1) / s, exp(2) / s, exp(3) / s, 0, 0, 1});
    EXPECT_VALUES(ag_log_softmax(t, x, 1), 2, (int[]){2, 3},
                  (double[]){1 - log(s), 2 - log(s), 3 - log(s), -1000, -1000, 0});
    /* along axis 0: columns (1, 0), (2, 0), (3, 1000) */
    double c0 = 1 + exp(-1), c1 = 1 + exp(-2);
    EXPECT_VALUES(ag_softmax(t, x, 0), 2, (int[]){2, 3},
                  (double[]){1 / c0, 1 / c1, 0, exp(-1) / c0, exp(-2) / c1, 1});
    EXPECT_VALUES(ag_log_softmax(t, x, 0), 2, (int[]){2, 3},
                  (double[]){-log(c0), -log(c1), -997, -1 - log(c0), -2 - log(c1), 0});
    /* 3-D along the middle: each (i, :, k) sums to one */
    ag_tensor *c = ag_randn(t, 3, (int[]){2, 3, 4}, 2);
    ag_tensor *p = ag_softmax(t, c, 1);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 4; k++) {
            double sum = 0, z = 0;
            for (int j = 0; j < 3; j++) z += exp(c->data[(i * 3 + j) * 4 + k]);
            for (int j = 0; j < 3; j++) {
                double pj = p->data[(i * 3 + j) * 4 + k];
                CHECK_NEAR(pj, exp(c->data[(i * 3 + j) * 4 + k]) / z, 10 * TOL);
                sum += pj;
            }
            CHECK_NEAR(sum, 1, 10 * TOL);
        }
    ag_tape_free(t);
}

/* A float running sum of 2^20 copies of 0.1 is off by ~1%; the double accumulator keeps
 * the mean at 0.1 to float rounding.  Covers both loops: contiguous and strided rows. */
TEST(sum_mean_accumulate_in_double) {
    ag_tape *t = ag_tape_new(1);
    const ag_real tenth = (ag_real)0.1;
    ag_tensor *x = ag_full(t, 1, (int[]){1 << 20}, tenth);
    CHECK_NEAR(ag_item(ag_mean(t, x)), tenth, 1e-7 * tenth);
    CHECK_NEAR(ag_item(ag_sum(t, x)), (double)tenth * (1 << 20), 1e-7 * 0.1 * (1 << 20));
    ag_tensor *cols = ag_full(t, 2, (int[]){1 << 16, 16}, tenth);
    ag_tensor *s = ag_sum_axis(t, cols, 0, false);
    for (int k = 0; k < 16; k++) CHECK_NEAR(s->data[k], (double)tenth * (1 << 16), 1e-7 * 6554);
    ag_tensor *m = ag_mean_axis(t, cols, 0, false);
    for (int k = 0; k < 16; k++) CHECK_NEAR(m->data[k], tenth, 1e-7 * tenth);
    ag_tape_free(t);
}

/* Big inputs take the threaded loops: rows of a (600, 100) softmax sum to one and match
 * a plain loop; sums along both axes match plain double loops. */
TEST(reduce_big_inputs_match_loops) {
    ag_tape *t = ag_tape_new(3);
    ag_tensor *x = ag_randn(t, 2, (int[]){600, 100}, 3);
    ag_tensor *p = ag_softmax(t, x, 1), *rows = ag_sum_axis(t, x, 1, false);
    ag_tensor *lse = ag_logsumexp_axis(t, x, 1, false), *mx = ag_max_axis(t, x, 1, false);
    double worst = 0;
    for (int i = 0; i < 600; i++) {
        double z = 0, s = 0, m = -INFINITY;
        for (int j = 0; j < 100; j++) {
            z += exp(x->data[i * 100 + j]);
            s += x->data[i * 100 + j];
            m = fmax(m, x->data[i * 100 + j]);
        }
        for (int j = 0; j < 100; j++)
            worst = fmax(worst, fabs(p->data[i * 100 + j] - exp(x->data[i * 100 + j]) / z));
        worst = fmax(worst, fabs(rows->data[i] - s) / (1 + fabs(s)));
        worst = fmax(worst, fabs(lse->data[i] - log(z)) / (1 + fabs(log(z))));
        worst = fmax(worst, fabs(mx->data[i] - m));
    }
    CHECK(worst < 10 * TOL);
    ag_tape_free(t);
}

/* ---- gradchecks ------------------------------------------------------------------------------- */

TEST(gradcheck_sum) {
    GC("sum (2,3)", ALL(ag_sum), 2, (int[]){2, 3}, false);
    GC("sum (2,3,4)", ALL(ag_sum), 3, (int[]){2, 3, 4}, false);
}
TEST(gradcheck_mean) { GC("mean (2,3,4)", ALL(ag_mean), 3, (int[]){2, 3, 4}, false); }
TEST(gradcheck_max) { GC("max (3,4)", ALL(ag_max), 2, (int[]){3, 4}, true); }
TEST(gradcheck_logsumexp) {
    GC("logsumexp (3,4)", ALL(ag_logsumexp), 2, (int[]){3, 4}, false);
}

/* One op along axes 0, 1, -1 of a (3, 4), with and without keepdim, along each axis of a
 * (2, 3, 4), and along the only axis of a (5). */
#define AXIS_GRADCHECKS(op, distinct)                                                  \
    TEST(gradcheck_##op##_2d) {                                                        \
        GC(#op " axis 0 (3,4)", ALONG(ag_##op, 0, false), 2, (int[]){3, 4}, distinct);   \
        GC(#op " axis 0 keepdim", ALONG(ag_##op, 0, true), 2, (int[]){3, 4}, distinct);  \
        GC(#op " axis 1 (3,4)", ALONG(ag_##op, 1, false), 2, (int[]){3, 4}, distinct);   \
        GC(#op " axis -1 keepdim", ALONG(ag_##op, -1, true), 2, (int[]){3, 4}, distinct); \
    }                                                                                  \
    TEST(gradcheck_##op##_3d) {                                                        \
        GC(#op " axis 0 (2,3,4)", ALONG(ag_##op, 0, false), 3, (int[]){2, 3, 4}, distinct); \
        GC(#op " axis 1 (2,3,4)", ALONG(ag_##op, 1, true), 3, (int[]){2, 3, 4}, distinct); \
        GC(#op " axis -1 (2,3,4)", ALONG(ag_##op, -1, false), 3, (int[]){2, 3, 4}, distinct); \
    }                                                                                  \
    TEST(gradcheck_##op##_1d) {                                                        \
        GC(#op " axis 0 (5)", ALONG(ag_##op, 0, false), 1, (int[]){5}, distinct);        \
    }

AXIS_GRADCHECKS(sum_axis, false)
AXIS_GRADCHECKS(mean_axis, false)
AXIS_GRADCHECKS(max_axis, true)
AXIS_GRADCHECKS(logsumexp_axis, false)

#define NORM_GRADCHECKS(op)                                                            \
    TEST(gradcheck_##op##_axis_last) {                                                 \
        GC(#op " axis -1 (3,4)", NORM(ag_##op, -1), 2, (int[]){3, 4}, false);            \
        GC(#op " axis 0 (5)", NORM(ag_##op, 0), 1, (int[]){5}, false);                   \
    }                                                                                  \
    TEST(gradcheck_##op##_axis_0) {                                                    \
        GC(#op " axis 0 (3,4)", NORM(ag_##op, 0), 2, (int[]){3, 4}, false);              \
    }                                                                                  \
    TEST(gradcheck_##op##_3d) {                                                        \
        GC(#op " axis 1 (2,3,4)", NORM(ag_##op, 1), 3, (int[]){2, 3, 4}, false);         \
        GC(#op " axis 2 (2,3,4)", NORM(ag_##op, 2), 3, (int[]){2, 3, 4}, false);         \
    }

NORM_GRADCHECKS(softmax)
NORM_GRADCHECKS(log_softmax)

/* ---- errors ----------------------------------------------------------------------------------- */

TEST(reduce_bad_axes_are_errors) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_zeros(t, 2, (int[]){2, 3});
    EXPECT_ERROR(ag_sum_axis(t, x, 2, false));
    CHECK(strstr(test_last_error, "sum: axis 2 is out of range for shape (2, 3)") != NULL);
    EXPECT_ERROR(ag_mean_axis(t, x, -3, true));
    CHECK(strstr(test_last_error, "mean") != NULL);
    EXPECT_ERROR(ag_max_axis(t, x, 5, false));
    EXPECT_ERROR(ag_logsumexp_axis(t, x, -4, false));
    EXPECT_ERROR(ag_softmax(t, x, 2));
    CHECK(strstr(test_last_error, "softmax") != NULL);
    EXPECT_ERROR(ag_log_softmax(t, x, -3));
    ag_tensor *empty = ag_zeros(t, 2, (int[]){2, 0});
    EXPECT_ERROR(ag_max_axis(t, empty, 1, false));
    CHECK(strstr(test_last_error, "max: cannot reduce an empty axis") != NULL);
    EXPECT_ERROR(ag_mean(t, empty));
    ag_tape_free(t);
}
