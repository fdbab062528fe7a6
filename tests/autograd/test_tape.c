/* test_tape.c — the tape's contract: accumulation across backward calls, grad mode,
 * clearing, shared subexpressions, deep graphs without recursion, error messages, the
 * printers, and that ag_gradcheck really fails (and says where) on a wrong backward. */
#include "tests/test.h"
#include "autograd/autograd.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ag_tensor *heap_from(int ndim, const int *shape, const ag_real *v, const char *name) {
    ag_tensor *x = ag_tensor_new(ndim, shape, true);
    memcpy(x->data, v, x->size * sizeof(ag_real));
    x->name = name;
    return x;
}

TEST(tape_backward_twice_accumulates_into_leaves_only) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = heap_from(1, (int[]){3}, (const ag_real[]){1, -2, 3}, "x");
    ag_tensor *y = ag_square(t, x);              /* intermediate */
    ag_tensor *loss = ag_sum(t, y);
    ag_backward(t, loss);
    for (int i = 0; i < 3; i++) CHECK(x->grad[i] == 2 * x->data[i]);
    for (int i = 0; i < 3; i++) CHECK(y->grad[i] == 1);
    ag_backward(t, loss);
    for (int i = 0; i < 3; i++) CHECK(x->grad[i] == 4 * x->data[i]); /* exactly twice */
    for (int i = 0; i < 3; i++) CHECK(y->grad[i] == 1);              /* reset, not 2 */
    CHECK(loss->grad[0] == 1);
    ag_zero_grad(x);
    for (int i = 0; i < 3; i++) CHECK(x->grad[i] == 0);
    ag_backward(t, loss);
    for (int i = 0; i < 3; i++) CHECK(x->grad[i] == 2 * x->data[i]);
    ag_tensor_free(x);
    ag_tape_free(t);
}

TEST(tape_zero_grad_allocates_a_missing_buffer) {
    ag_tensor *x = ag_tensor_new(1, (int[]){4}, false);
    CHECK(x->grad == NULL);
    ag_zero_grad(x);
    CHECK(x->grad != NULL && x->grad[3] == 0);
    ag_tensor_free(x);
}

TEST(tape_no_grad_mode_records_nothing) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = heap_from(1, (int[]){2}, (const ag_real[]){1, 2}, "x");
    CHECK(ag_grad_enabled(t));
    CHECK(ag_set_grad_enabled(t, false) == true);
    ag_tensor *loss = ag_sum(t, ag_exp(t, x));
    CHECK(ag_tape_num_nodes(t) == 0);
    CHECK(!loss->requires_grad && loss->node == NULL);
    CHECK_NEAR(loss->data[0], exp(1.0) + exp(2.0), 1e-5);  /* values still computed */
    EXPECT_ERROR(ag_backward(t, loss));
    CHECK(strstr(test_last_error, "backward") != NULL);
    CHECK(ag_set_grad_enabled(t, true) == false);
    ag_sum(t, ag_exp(t, x));
    CHECK(ag_tape_num_nodes(t) == 2);
    /* Inputs that need no gradient: nothing recorded even in grad mode. */
    ag_tensor *c = ag_ones(t, 1, (int[]){2});
    ag_exp(t, c);
    CHECK(ag_tape_num_nodes(t) == 2);
    ag_tensor_free(x);
    ag_tape_free(t);
}

TEST(tape_clear_resets_nodes_and_arena) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *w = ag_param(2, (int[]){8, 8});
    CHECK(ag_tape_bytes_used(t) == 0 && ag_tape_num_nodes(t) == 0);
    ag_backward(t, ag_sum(t, ag_tanh(t, ag_matmul(t, w, w, false, true))));
    CHECK(ag_tape_num_nodes(t) == 3);
    size_t used = ag_tape_bytes_used(t), reserved = ag_tape_bytes_reserved(t);
    CHECK(used > 0 && reserved >= used);
    ag_tape_clear(t);
    CHECK(ag_tape_num_nodes(t) == 0 && ag_tape_bytes_used(t) == 0);
    CHECK(ag_tape_bytes_reserved(t) == reserved); /* memory kept for the next step */
    /* Growing past one block, then clearing, merges the blocks: the next step of that
     * size fits without growing. */
    for (int i = 0; i < 40; i++) ag_zeros(t, 1, (int[]){32768});   /* 40 × 128 KiB in float */
    size_t big = ag_tape_bytes_reserved(t);
    ag_tape_clear(t);
    for (int i = 0; i < 40; i++) ag_zeros(t, 1, (int[]){32768});
    CHECK(ag_tape_bytes_reserved(t) == big);
    ag_tensor_free(w);
    ag_tape_free(t);
}

/* x feeds two branches (and one op twice); backward must add the contributions. */
TEST(tape_diamond_graph_sums_gradients) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = heap_from(1, (int[]){3}, (const ag_real[]){0.5, -1, 2}, "x");
    ag_tensor *h = ag_tanh(t, x);
    /* loss = Σ h·h + 3h + x  ⇒  dloss/dx = (2h + 3)(1 - h²) + 1 */
    ag_tensor *loss = ag_sum(t, ag_add(t, ag_add(t, ag_mul(t, h, h), ag_scale(t, h, 3)), x));
    ag_backward(t, loss);
    for (int i = 0; i < 3; i++) {
        double hv = tanh((double)x->data[i]);
        CHECK_NEAR(x->grad[i], (2 * hv + 3) * (1 - hv * hv) + 1, 1e-5);
    }
    ag_tensor_free(x);
    ag_tape_free(t);
}

/* 100000 nodes: a recursive topological sort would overflow the stack; the tape walks an
 * array.  Alternating ×2 and ×0.5 keeps every value and gradient exact. */
TEST(tape_deep_chain_backward) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = heap_from(1, (int[]){1}, (const ag_real[]){3}, "x");
    ag_tensor *y = x;
    for (int i = 0; i < 100000; i++) y = ag_scale(t, y, i % 2 ? 0.5f : 2.0f);
    CHECK(ag_tape_num_nodes(t) == 100000);
    CHECK(y->data[0] == 3);
    ag_backward(t, y);
    CHECK(x->grad[0] == 1);
    ag_tensor_free(x);
    ag_tape_free(t);
}

TEST(tape_backward_needs_a_scalar) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_param(2, (int[]){2, 3});
    ag_tensor *y = ag_exp(t, x);
    EXPECT_ERROR(ag_backward(t, y));
    CHECK(strstr(test_last_error, "backward") && strstr(test_last_error, "(2, 3)"));
    ag_tensor_free(x);
    ag_tape_free(t);
}

/* ag_backward_seed computes the vector–Jacobian product vᵀJ: for y = x² it is 2x·v. */
TEST(tape_backward_seed_is_a_vjp) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = heap_from(2, (int[]){2, 3}, (const ag_real[]){1, 2, 3, -1, -2, -3}, "x");
    ag_tensor *v = ag_from_data(t, 2, (int[]){2, 3}, (const ag_real[]){1, 0, -1, 0.5, 2, 3});
    ag_tensor *y = ag_square(t, x);
    ag_backward_seed(t, y, v);
    for (int i = 0; i < 6; i++) CHECK(x->grad[i] == 2 * x->data[i] * v->data[i]);
    EXPECT_ERROR(ag_backward_seed(t, y, ag_ones(t, 2, (int[]){3, 2})));
    CHECK(strstr(test_last_error, "(3, 2)") && strstr(test_last_error, "(2, 3)"));
    ag_tensor_free(x);
    ag_tape_free(t);
}

TEST(tape_errors_name_op_and_shapes) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *a = ag_zeros(t, 2, (int[]){2, 3}), *b = ag_zeros(t, 2, (int[]){4, 2});
    EXPECT_ERROR(ag_add(t, a, b));
    CHECK(strstr(test_last_error, "add") && strstr(test_last_error, "(2, 3)") &&
          strstr(test_last_error, "(4, 2)"));
    EXPECT_ERROR(ag_matmul(t, a, b, false, false));
    CHECK(strncmp(test_last_error, "matmul", 6) == 0 && strstr(test_last_error, "(2, 3)"));
    EXPECT_ERROR(ag_reshape(t, a, 2, (int[]){4, 2}));
    CHECK(strstr(test_last_error, "reshape") && strstr(test_last_error, "(2, 3)"));
    EXPECT_ERROR(ag_sum_axis(t, a, 2, false));
    CHECK(strstr(test_last_error, "(2, 3)") != NULL);
    ag_tape_free(t);
}

/* Sizes that overflow size_t are errors, not a wrapped-around (tiny) allocation: 65536^4
 * is 2^64 elements, which a plain product turns into 0. */
TEST(tape_sizes_that_overflow_are_errors) {
    EXPECT_ERROR(ag_tensor_new(4, (int[]){65536, 65536, 65536, 65536}, false));
    CHECK(strstr(test_last_error, "(65536, 65536, 65536, 65536)") &&
          strstr(test_last_error, "more elements than this machine can address"));
    ag_tape *t = ag_tape_new(1);
    EXPECT_ERROR(ag_zeros(t, 4, (int[]){65536, 65536, 65536, 65537}));
    EXPECT_ERROR(ag_tape_alloc(t, SIZE_MAX - 8));
    CHECK(strstr(test_last_error, "tape_alloc") != NULL);
    ag_tensor *e = ag_zeros(t, 4, (int[]){65536, 65536, 65536, 0}); /* empty: fine */
    CHECK(e->size == 0);
    ag_tape_free(t);
}

/* The file's text (at most n-1 bytes) in buf, or NULL if it cannot be read. */
static const char *read_all(const char *path, char *buf, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = 0;
    fclose(f);
    return buf;
}

TEST(tape_print_and_dot_name_the_ops) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *w = ag_param(2, (int[]){3, 4});
    w->name = "weights";
    ag_tensor *x = ag_randn(t, 2, (int[]){5, 4}, 1);
    ag_tensor *loss = ag_mean(t, ag_relu(t, ag_matmul(t, x, w, false, true)));
    (void)loss;
    char path[512], text[4096];
    snprintf(path, sizeof path, "%s/tape.txt", test_tmpdir());
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        ag_tape_print(t, f);
        fclose(f);
        const char *s = read_all(path, text, sizeof text);
        CHECK(s && strstr(s, "3 nodes") && strstr(s, "matmul") && strstr(s, "relu") &&
              strstr(s, "mean") && strstr(s, "weights") && strstr(s, "(5, 3)"));
    }
    snprintf(path, sizeof path, "%s/tape.dot", test_tmpdir());
    CHECK(ag_tape_write_dot(t, path) == 0);
    const char *s = read_all(path, text, sizeof text);
    CHECK(s && strncmp(s, "digraph", 7) == 0 && strstr(s, "matmul") && strstr(s, "relu") &&
          strstr(s, "weights") && strstr(s, "->"));
    snprintf(path, sizeof path, "%s/no/such/dir/tape.dot", test_tmpdir());
    CHECK(ag_tape_write_dot(t, path) == -1);
    ag_tensor_free(w);
    ag_tape_free(t);
}

/* ---- ag_gradcheck must be able to fail --------------------------------------------------
 * A custom op y = a·b (elementwise) whose backward is wrong in exactly one place: the
 * gradient for b's element 4.  The check must fail and point at input 1, index 4. */

static void bad_mul_fwd(ag_node *n) {
    for (size_t i = 0; i < n->out->size; i++) n->out->data[i] = n->in[0]->data[i] * n->in[1]->data[i];
}
static void bad_mul_bwd(ag_node *n) {
    ag_real *da = ag_node_grad(n, 0), *db = ag_node_grad(n, 1);
    const ag_real *dy = n->out->grad;
    for (size_t i = 0; i < n->out->size; i++) {
        if (da) da[i] += dy[i] * n->in[1]->data[i];
        if (db) db[i] += dy[i] * n->in[0]->data[i] * (i == 4 ? (ag_real)1.5 : 1); /* the bug */
    }
}
static const ag_op bad_mul_op = {"bad_mul", bad_mul_fwd, bad_mul_bwd};

/* Same op with a backward that assigns instead of adding: breaks accumulation. */
static void assign_mul_bwd(ag_node *n) {
    ag_real *da = ag_node_grad(n, 0), *db = ag_node_grad(n, 1);
    const ag_real *dy = n->out->grad;
    for (size_t i = 0; i < n->out->size; i++) {
        if (da) da[i] = dy[i] * n->in[1]->data[i];
        if (db) db[i] = dy[i] * n->in[0]->data[i];
    }
}
static const ag_op assign_mul_op = {"assign_mul", bad_mul_fwd, assign_mul_bwd};

static void good_mul_bwd(ag_node *n) {
    ag_real *da = ag_node_grad(n, 0), *db = ag_node_grad(n, 1);
    const ag_real *dy = n->out->grad;
    for (size_t i = 0; i < n->out->size; i++) {
        if (da) da[i] += dy[i] * n->in[1]->data[i];
        if (db) db[i] += dy[i] * n->in[0]->data[i];
    }
}
static const ag_op good_mul_op = {"good_mul", bad_mul_fwd, good_mul_bwd};

static ag_tensor *custom_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    return ag_apply(t, ctx, in, 2, in[0]->ndim, in[0]->shape, NULL, 0);
}

TEST(gradcheck_catches_a_wrong_backward) {
    ag_tensor *in[2] = {heap_from(1, (int[]){6}, (const ag_real[]){1, 2, 3, 4, 5, 6}, "a"),
                        heap_from(1, (int[]){6}, (const ag_real[]){-1, 0.5, 2, 1, 3, -2}, "b")};
    ag_gradcheck_report rep = ag_gradcheck(custom_fn, in, 2, (void *)&bad_mul_op, NULL);
    CHECK(!rep.ok);
    CHECK(rep.accumulates); /* the bug is in the value, not in the += */
    CHECK(rep.input == 1 && rep.index == 4);
    CHECK(!rep.kink); /* a wrong backward is not excused as non-smooth */
    char path[512], text[1024];
    snprintf(path, sizeof path, "%s/gradcheck.txt", test_tmpdir());
    FILE *f = fopen(path, "w");
    if (f) {
        ag_gradcheck_print("bad_mul", &rep, f);
        fclose(f);
        const char *s = read_all(path, text, sizeof text);
        CHECK(s && strncmp(s, "FAIL", 4) == 0 && strstr(s, "bad_mul") &&
              strstr(s, "input 1 'b' [4]"));
    } else {
        CHECK(f != NULL);
    }
    /* The analytic value is 1.5× the true one: a[4] · 1.5 · r = 7.5 r vs 5 r. */
    CHECK_NEAR(rep.analytic / rep.numeric, 1.5, 1e-3);

    rep = ag_gradcheck(custom_fn, in, 2, (void *)&assign_mul_op, NULL);
    CHECK(!rep.ok && !rep.accumulates);

    /* Control: the correct backward passes on the same inputs. */
    rep = ag_gradcheck(custom_fn, in, 2, (void *)&good_mul_op, NULL);
    if (!rep.ok) ag_gradcheck_print("good_mul", &rep, stderr);
    CHECK(rep.ok && rep.accumulates);
    ag_tensor_free(in[0]);
    ag_tensor_free(in[1]);
}
