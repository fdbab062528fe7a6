/* test_shape.c — reshape, transpose, permute, concat (including more inputs than a node
 * holds), slice, index_select and gather: values worked out by hand, gradchecks, the
 * scatter-add of repeated indices, index arrays copied at call time, and the errors. */
#include "tests/test.h"
#include "autograd/autograd.h"
#include "tests/check.h"

#include <string.h>

/* Shape ops only move values: results are exact in both precisions. */

#define EXPECT_VALUES(y, ndim, ...) expect_values_at(__FILE__, __LINE__, y, ndim, __VA_ARGS__, 0)

/* x = 0, 1, 2, ... in a tensor of the given shape (on the tape). */
static ag_tensor *counting(ag_tape *t, int ndim, const int *shape) {
    ag_tensor *x = ag_zeros(t, ndim, shape);
    for (size_t i = 0; i < x->size; i++) x->data[i] = (ag_real)i;
    return x;
}

/* Gradcheck of f on heap inputs of the given shapes, filled with N(0, 1). */
static void gradcheck_inputs(int line, const char *label, ag_fn f, void *ctx, int n,
                             const int *ndims, const int (*shapes)[4]) {
    ag_rng r;
    ag_rng_seed(&r, 23);
    ag_tensor *in[8];
    for (int k = 0; k < n; k++) {
        in[k] = ag_tensor_new(ndims[k], shapes[k], true);
        ag_fill_randn(&r, in[k], 1);
    }
    ag_gradcheck_report rep = ag_gradcheck(f, in, n, ctx, NULL);
    if (!rep.ok) {
        ag_gradcheck_print(label, &rep, stderr);
        test_fail(__FILE__, line, "gradcheck of %s failed", label);
    }
    for (int k = 0; k < n; k++) ag_tensor_free(in[k]);
}
/* One input of shape (dims...). */
#define GC1(label, f, ctx, nd, ...) \
    gradcheck_inputs(__LINE__, label, f, ctx, 1, (int[]){nd}, (const int[][4]){{__VA_ARGS__}})

/* ---- reshape ---------------------------------------------------------------------------------- */

typedef struct { int ndim, shape[4]; } shape_ctx;
static ag_tensor *call_reshape(ag_tape *t, ag_tensor **in, void *ctx) {
    shape_ctx *s = ctx;
    return ag_reshape(t, in[0], s->ndim, s->shape);
}

TEST(reshape_forward) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = counting(t, 2, (int[]){2, 3});
    EXPECT_VALUES(ag_reshape(t, x, 2, (int[]){3, -1}), 2, (int[]){3, 2}, (double[]){0, 1, 2, 3, 4, 5});
    EXPECT_VALUES(ag_reshape(t, x, 1, (int[]){-1}), 1, (int[]){6}, (double[]){0, 1, 2, 3, 4, 5});
    EXPECT_VALUES(ag_reshape(t, x, 4, (int[]){1, 2, -1, 1}), 4, (int[]){1, 2, 3, 1},
                  (double[]){0, 1, 2, 3, 4, 5});
    /* a view: no copy, so writing into the input shows through; the same shape is x */
    ag_tensor *y = ag_reshape(t, x, 2, (int[]){6, 1});
    CHECK(y != x && y->data == x->data);
    x->data[0] = 42;
    CHECK(y->data[0] == 42);
    CHECK(ag_reshape(t, x, 2, (int[]){2, -1}) == x);
    ag_tape_free(t);
}

TEST(gradcheck_reshape) {
    shape_ctx a = {2, {4, -1}}, b = {3, {3, 1, 8}};
    GC1("reshape (2,3,4)->(4,-1)", call_reshape, &a, 3, 2, 3, 4);
    GC1("reshape (2,3,4)->(3,1,8)", call_reshape, &b, 3, 2, 3, 4);
}

/* x reaches the output directly, through a chain of views, and through an op whose
 * backward reads its own output (exp) seen through a view: each path's gradient is its own
 * buffer, added into x's. */
static ag_tensor *call_views(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    ag_tensor *x = in[0];                                                       /* (2, 3, 4) */
    ag_tensor *v = ag_reshape(t, ag_reshape(t, x, 2, (int[]){6, 4}), 1, (int[]){24});
    ag_tensor *e = ag_reshape(t, ag_exp(t, v), 3, (int[]){2, 3, 4});
    return ag_add(t, ag_mul(t, e, x), ag_mul(t, ag_reshape(t, v, 3, (int[]){2, 3, 4}), x));
}

TEST(gradcheck_reshape_views) {
    GC1("x·exp(x) + x² through views", call_views, NULL, 3, 2, 3, 4);
}

/* A second backward over the same tape: views get their gradients afresh, leaves add up. */
TEST(reshape_view_backward_twice) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_param(2, (int[]){2, 3});
    for (int i = 0; i < 6; i++) x->data[i] = (ag_real)(i - 2);
    ag_tensor *v = ag_reshape(t, x, 1, (int[]){6});
    ag_tensor *w = ag_reshape(t, ag_reshape(t, x, 2, (int[]){3, 2}), 1, (int[]){6});
    ag_tensor *loss = ag_sum(t, ag_mul(t, v, w));                                   /* Σ x² */
    ag_backward(t, loss);
    ag_backward(t, loss);
    int bad = 0;
    for (int i = 0; i < 6; i++) bad += x->grad[i] != 2 * 2 * x->data[i];        /* twice 2x */
    CHECK(bad == 0);
    ag_tape_free(t);
    ag_tensor_free(x);
}

/* ---- transpose and permute ---------------------------------------------------------------------- */

typedef struct { int a, b; int perm[4]; } axes_ctx;
static ag_tensor *call_transpose(ag_tape *t, ag_tensor **in, void *ctx) {
    axes_ctx *c = ctx;
    return ag_transpose(t, in[0], c->a, c->b);
}
static ag_tensor *call_permute(ag_tape *t, ag_tensor **in, void *ctx) {
    return ag_permute(t, in[0], ((axes_ctx *)ctx)->perm);
}

TEST(transpose_permute_forward) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = tensor_of(t, 2, (int[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    EXPECT_VALUES(ag_transpose(t, x, 0, 1), 2, (int[]){3, 2}, (double[]){1, 4, 2, 5, 3, 6});
    EXPECT_VALUES(ag_transpose(t, x, -1, -2), 2, (int[]){3, 2}, (double[]){1, 4, 2, 5, 3, 6});
    EXPECT_VALUES(ag_transpose(t, x, 1, 1), 2, (int[]){2, 3}, (double[]){1, 2, 3, 4, 5, 6});
    /* (2, 3, 2) -> perm (2, 0, 1) -> (2, 2, 3): y[k, i, j] = x[i, j, k] = 6i + 2j + k */
    ag_tensor *c = counting(t, 3, (int[]){2, 3, 2});
    EXPECT_VALUES(ag_permute(t, c, (int[]){2, 0, 1}), 3, (int[]){2, 2, 3},
                  (double[]){0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11});
    EXPECT_VALUES(ag_transpose(t, c, 0, 2), 3, (int[]){2, 3, 2},
                  (double[]){0, 6, 2, 8, 4, 10, 1, 7, 3, 9, 5, 11});
    /* 4-D, against explicit loops: output index k reads x along axis perm[k] */
    ag_tensor *q = counting(t, 4, (int[]){2, 3, 4, 5});
    const int perm[4] = {3, 1, 0, 2};
    ag_tensor *p = ag_permute(t, q, perm);
    CHECK(p->shape[0] == 5 && p->shape[1] == 3 && p->shape[2] == 2 && p->shape[3] == 4);
    int bad = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 3; b++)
            for (int c2 = 0; c2 < 2; c2++)
                for (int d = 0; d < 4; d++) {
                    int src[4]; /* x index: src[perm[k]] = output index k */
                    src[perm[0]] = a, src[perm[1]] = b, src[perm[2]] = c2, src[perm[3]] = d;
                    double want = ((src[0] * 3 + src[1]) * 4 + src[2]) * 5 + src[3];
                    bad += p->data[((a * 3 + b) * 2 + c2) * 4 + d] != want;
                }
    CHECK(bad == 0);
    ag_tape_free(t);
}

TEST(gradcheck_transpose) {
    axes_ctx a = {0, 1, {0}}, b = {0, -1, {0}};
    GC1("transpose (3,4) 0,1", call_transpose, &a, 2, 3, 4);
    GC1("transpose (2,3,4) 0,-1", call_transpose, &b, 3, 2, 3, 4);
}

TEST(gradcheck_permute) {
    axes_ctx a = {0, 0, {2, 0, 1}}, b = {0, 0, {3, 1, 0, 2}};
    GC1("permute (2,3,4) (2,0,1)", call_permute, &a, 3, 2, 3, 4);
    GC1("permute (2,3,2,3) (3,1,0,2)", call_permute, &b, 4, 2, 3, 2, 3);
}

/* Above AG_PAR_MIN the threaded loop runs; transposing twice gives the input back. */
TEST(permute_big_roundtrip) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_randn(t, 3, (int[]){40, 30, 50}, 1);
    ag_tensor *y = ag_permute(t, ag_permute(t, x, (int[]){2, 0, 1}), (int[]){1, 2, 0});
    CHECK(ag_same_shape(x, y) && memcmp(x->data, y->data, x->size * sizeof(ag_real)) == 0);
    ag_tape_free(t);
}

/* ---- concat --------------------------------------------------------------------------------------- */

typedef struct { int n, axis; } concat_ctx;
static ag_tensor *call_concat(ag_tape *t, ag_tensor **in, void *ctx) {
    concat_ctx *c = ctx;
    return ag_concat(t, in, c->n, c->axis);
}

TEST(concat_forward) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *a = tensor_of(t, 2, (int[]){2, 2}, (double[]){1, 2, 3, 4});
    ag_tensor *b = tensor_of(t, 2, (int[]){1, 2}, (double[]){5, 6});
    ag_tensor *c = tensor_of(t, 2, (int[]){2, 1}, (double[]){7, 8});
    EXPECT_VALUES(ag_concat(t, (ag_tensor *[]){a, b}, 2, 0), 2, (int[]){3, 2},
                  (double[]){1, 2, 3, 4, 5, 6});
    EXPECT_VALUES(ag_concat(t, (ag_tensor *[]){a, c, a}, 3, 1), 2, (int[]){2, 5},
                  (double[]){1, 2, 7, 1, 2, 3, 4, 8, 3, 4});
    EXPECT_VALUES(ag_concat(t, (ag_tensor *[]){c, a}, 2, -1), 2, (int[]){2, 3},
                  (double[]){7, 1, 2, 8, 3, 4});
    EXPECT_VALUES(ag_concat(t, &b, 1, 0), 2, (int[]){1, 2}, (double[]){5, 6});
    ag_tape_free(t);
}

/* 17 inputs need a tree of nodes (4 per node): values in order, every input's gradient. */
TEST(concat_more_inputs_than_a_node_holds) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *xs[17];
    for (int k = 0; k < 17; k++) {
        xs[k] = ag_tensor_new(2, (int[]){2, 1 + k % 2}, true);
        for (size_t i = 0; i < xs[k]->size; i++) xs[k]->data[i] = (ag_real)(100 * k + i);
    }
    ag_tensor *y = ag_concat(t, xs, 17, 1);
    CHECK(y->ndim == 2 && y->shape[0] == 2 && y->shape[1] == 25); /* 9·1 + 8·2 */
    int col = 0, bad = 0;
    for (int k = 0; k < 17; k++) {
        int w = xs[k]->shape[1];
        for (int r = 0; r < 2; r++)
            for (int j = 0; j < w; j++) bad += y->data[r * 25 + col + j] != xs[k]->data[r * w + j];
        col += w;
    }
    CHECK(bad == 0);
    /* seed dy = position in y: each input gets back exactly its own positions */
    ag_tensor *seed = ag_zeros(t, 2, (int[]){2, 25});
    for (int i = 0; i < 50; i++) seed->data[i] = (ag_real)i;
    ag_backward_seed(t, y, seed);
    col = 0;
    for (int k = 0; k < 17; k++) {
        int w = xs[k]->shape[1];
        for (int r = 0; r < 2; r++)
            for (int j = 0; j < w; j++) bad += xs[k]->grad[r * w + j] != r * 25 + col + j;
        col += w;
        ag_tensor_free(xs[k]);
    }
    CHECK(bad == 0);
    ag_tape_free(t);
}

TEST(gradcheck_concat) {
    concat_ctx two0 = {2, 0}, three1 = {3, 1}, six_last = {6, -1};
    gradcheck_inputs(__LINE__, "concat 2 axis 0", call_concat, &two0, 2, (int[]){2, 2},
                     (const int[][4]){{2, 3}, {1, 3}});
    gradcheck_inputs(__LINE__, "concat 3 axis 1", call_concat, &three1, 3, (int[]){3, 3, 3},
                     (const int[][4]){{2, 1, 2}, {2, 3, 2}, {2, 2, 2}});
    gradcheck_inputs(__LINE__, "concat 6 axis -1 (tree)", call_concat, &six_last, 6,
                     (int[]){2, 2, 2, 2, 2, 2},
                     (const int[][4]){{2, 1}, {2, 2}, {2, 1}, {2, 3}, {2, 1}, {2, 2}});
}

/* ---- slice ------------------------------------------------------------------------------------------ */

typedef struct { int axis, start, end; } slice_ctx;
static ag_tensor *call_slice(ag_tape *t, ag_tensor **in, void *ctx) {
    slice_ctx *s = ctx;
    return ag_slice(t, in[0], s->axis, s->start, s->end);
}

TEST(slice_forward) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = counting(t, 2, (int[]){3, 4});
    EXPECT_VALUES(ag_slice(t, x, 1, 1, 3), 2, (int[]){3, 2}, (double[]){1, 2, 5, 6, 9, 10});
    EXPECT_VALUES(ag_slice(t, x, 0, -2, 3), 2, (int[]){2, 4}, (double[]){4, 5, 6, 7, 8, 9, 10, 11});
    EXPECT_VALUES(ag_slice(t, x, -1, 3, 4), 2, (int[]){3, 1}, (double[]){3, 7, 11});
    EXPECT_VALUES(ag_slice(t, x, 1, 0, -1), 2, (int[]){3, 3}, (double[]){0, 1, 2, 4, 5, 6, 8, 9, 10});
    ag_tensor *c = counting(t, 3, (int[]){2, 3, 2});
    EXPECT_VALUES(ag_slice(t, c, 1, 1, 2), 3, (int[]){2, 1, 2}, (double[]){2, 3, 8, 9});
    ag_tape_free(t);
}

TEST(gradcheck_slice) {
    slice_ctx a = {1, 1, 3}, b = {0, -2, 3}, c = {-1, 0, 1};
    GC1("slice (2,4,3) axis 1 [1,3)", call_slice, &a, 3, 2, 4, 3);
    GC1("slice (3,4) axis 0 [-2,3)", call_slice, &b, 2, 3, 4);
    GC1("slice (2,3,2) axis -1 [0,1)", call_slice, &c, 3, 2, 3, 2);
}

/* ---- index_select and gather ---------------------------------------------------------------------- */

typedef struct { const int *idx; int n; } index_ctx;
static ag_tensor *call_index_select(ag_tape *t, ag_tensor **in, void *ctx) {
    index_ctx *c = ctx;
    return ag_index_select(t, in[0], c->idx, c->n);
}
static ag_tensor *call_gather(ag_tape *t, ag_tensor **in, void *ctx) {
    return ag_gather(t, in[0], ((index_ctx *)ctx)->idx);
}

TEST(index_select_forward_and_repeated_rows) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_tensor_new(2, (int[]){3, 2}, true);
    for (int i = 0; i < 6; i++) x->data[i] = (ag_real)(i + 1);
    int idx[4] = {2, 0, 2, 2};
    ag_tensor *y = ag_index_select(t, x, idx, 4);
    EXPECT_VALUES(y, 2, (int[]){4, 2}, (double[]){5, 6, 1, 2, 5, 6, 5, 6});
    /* The op kept its own copy of idx: scribbling on ours changes nothing. */
    idx[0] = idx[1] = idx[2] = idx[3] = 1;
    ag_backward(t, ag_sum(t, y));
    EXPECT_VALUES((const ag_tensor *)&(ag_tensor){.ndim = 2, .shape = {3, 2}, .size = 6,
                                                   .data = x->grad},
                  2, (int[]){3, 2}, (double[]){1, 1, 0, 0, 3, 3});
    /* 1-D x: rows are single values */
    ag_tensor *v = tensor_of(t, 1, (int[]){4}, (double[]){10, 20, 30, 40});
    EXPECT_VALUES(ag_index_select(t, v, (int[]){3, 1}, 2), 1, (int[]){2}, (double[]){40, 20});
    ag_tensor_free(x);
    ag_tape_free(t);
}

TEST(gather_forward_and_gradient) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_tensor_new(2, (int[]){3, 4}, true);
    for (int i = 0; i < 12; i++) x->data[i] = (ag_real)i;
    int idx[3] = {1, 3, 0};
    ag_tensor *y = ag_gather(t, x, idx);
    EXPECT_VALUES(y, 1, (int[]){3}, (double[]){1, 7, 8});
    idx[0] = 2; /* copied at call time */
    ag_backward_seed(t, y, tensor_of(t, 1, (int[]){3}, (double[]){10, 20, 30}));
    const ag_real want[12] = {0, 10, 0, 0, 0, 0, 0, 20, 30, 0, 0, 0};
    CHECK(memcmp(x->grad, want, sizeof want) == 0);
    ag_tensor_free(x);
    ag_tape_free(t);
}

TEST(gradcheck_index_select) {
    index_ctx dup = {(int[]){2, 0, 2, 1, 2}, 5}, one = {(int[]){3}, 1};
    GC1("index_select (4,3) rows 2,0,2,1,2", call_index_select, &dup, 2, 4, 3);
    GC1("index_select (4,2,2) row 3", call_index_select, &one, 3, 4, 2, 2);
}

TEST(gradcheck_gather) {
    index_ctx c = {(int[]){2, 0, 3, 3}, 4};
    GC1("gather (4,5)", call_gather, &c, 2, 4, 5);
}

/* ---- errors ------------------------------------------------------------------------------------------- */

TEST(shape_errors) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_zeros(t, 2, (int[]){2, 3});
    EXPECT_ERROR(ag_reshape(t, x, 2, (int[]){4, 2}));
    CHECK(strstr(test_last_error, "reshape: cannot reshape (2, 3) (6 elements) to (4, 2)") != NULL);
    EXPECT_ERROR(ag_reshape(t, x, 2, (int[]){4, -1}));
    EXPECT_ERROR(ag_reshape(t, x, 2, (int[]){-1, -1}));
    EXPECT_ERROR(ag_reshape(t, x, 2, (int[]){0, -1}));
    EXPECT_ERROR(ag_reshape(t, x, 2, (int[]){-2, -3}));
    EXPECT_ERROR(ag_reshape(t, x, 5, (int[]){1, 1, 1, 2, 3}));
    EXPECT_ERROR(ag_transpose(t, x, 0, 2));
    CHECK(strstr(test_last_error, "transpose") != NULL);
    EXPECT_ERROR(ag_permute(t, x, (int[]){0, 0}));
    CHECK(strstr(test_last_error, "permute: (0, 0) is not a permutation") != NULL);
    EXPECT_ERROR(ag_permute(t, x, (int[]){1, 2}));
    ag_tensor *y = ag_zeros(t, 2, (int[]){3, 3}), *z = ag_zeros(t, 3, (int[]){2, 3, 1});
    EXPECT_ERROR(ag_concat(t, (ag_tensor *[]){x, y}, 2, 1)); /* rows differ */
    CHECK(strstr(test_last_error, "concat: tensor 1 (3, 3) does not match tensor 0 (2, 3)") != NULL);
    EXPECT_ERROR(ag_concat(t, (ag_tensor *[]){x, z}, 2, 0)); /* ndim differs */
    EXPECT_ERROR(ag_concat(t, (ag_tensor *[]){x, x}, 2, 2)); /* no such axis */
    EXPECT_ERROR(ag_concat(t, (ag_tensor *[]){x}, 0, 0));
    EXPECT_ERROR(ag_slice(t, x, 1, 2, 2));   /* empty */
    CHECK(strstr(test_last_error, "slice: range [2, 2)") != NULL);
    EXPECT_ERROR(ag_slice(t, x, 1, 1, 4));   /* past the end */
    EXPECT_ERROR(ag_slice(t, x, 0, -3, 1));  /* before the start */
    EXPECT_ERROR(ag_slice(t, x, 0, 1, 0));   /* reversed */
    EXPECT_ERROR(ag_slice(t, x, 2, 0, 1));   /* no such axis */
    EXPECT_ERROR(ag_index_select(t, x, (int[]){0, 2}, 2));
    CHECK(strstr(test_last_error, "index_select: index 2 at position 1 is out of range [0, 2)") != NULL);
    EXPECT_ERROR(ag_index_select(t, x, (int[]){-1}, 1));
    EXPECT_ERROR(ag_index_select(t, x, (int[]){0}, 0));
    EXPECT_ERROR(ag_gather(t, x, (int[]){0, 3}));
    CHECK(strstr(test_last_error, "gather: index 3 at position 1 is out of range [0, 3)") != NULL);
    EXPECT_ERROR(ag_gather(t, x, (int[]){-1, 0}));
    EXPECT_ERROR(ag_gather(t, ag_zeros(t, 1, (int[]){3}), (int[]){0}));
    ag_tape_free(t);
}
