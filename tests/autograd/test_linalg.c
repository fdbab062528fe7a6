/* test_linalg.c — matmul (every transpose combination, batched forms) and linear against
 * naive triple loops, their backward against central differences, and their shape errors. */
#include "tests/test.h"
#include "autograd/autograd.h"

#include <stdlib.h>
#include <string.h>

#ifdef AG_DOUBLE
#define DOT_TOL 1e-12 /* per unit of Σ|a||b| */
#else
#define DOT_TOL 1e-6
#endif

/* op(A)[i][k] for A stored (M,K), or (K,M) when read transposed. */
static double at(const ag_real *A, bool tr, int rows, int cols, int i, int k) {
    return tr ? (double)A[(size_t)k * rows + i] : (double)A[(size_t)i * cols + k];
}

/* Checks C (M,N) = op(A)·op(B) element by element, with a bound scaled by Σ|a||b|. */
static void check_product(const ag_real *A, const ag_real *B, const ag_real *C, bool ta,
                          bool tb, int M, int N, int K, const char *what) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0, mag = 0;
            for (int k = 0; k < K; k++) {
                double a = at(A, ta, M, K, i, k), b = at(B, tb, K, N, k, j);
                s += a * b;
                mag += fabs(a * b);
            }
            double got = (double)C[(size_t)i * N + j];
            if (fabs(got - s) > DOT_TOL * (mag + 1)) {
                test_fail(__FILE__, __LINE__, "%s ta=%d tb=%d: C[%d][%d] = %.10g, want %.10g",
                          what, ta, tb, i, j, got, s);
                return;
            }
        }
}

static ag_tensor *randn_heap(ag_rng *r, int ndim, const int *shape, const char *name) {
    ag_tensor *x = ag_tensor_new(ndim, shape, true);
    ag_fill_randn(r, x, 1);
    x->name = name;
    return x;
}

TEST(matmul_all_transposes_match_naive) {
    ag_tape *t = ag_tape_new(3);
    /* Small odd sizes (edge tiles of the micro-kernel) and one larger than a tile. */
    const int sizes[][3] = {{5, 3, 7}, {1, 1, 1}, {37, 29, 53}, {64, 40, 300}};
    for (int s = 0; s < 4; s++) {
        int M = sizes[s][0], N = sizes[s][1], K = sizes[s][2];
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                ag_tensor *a = ag_randn(t, 2, ta ? (int[]){K, M} : (int[]){M, K}, 1);
                ag_tensor *b = ag_randn(t, 2, tb ? (int[]){N, K} : (int[]){K, N}, 1);
                ag_tensor *c = ag_matmul(t, a, b, ta, tb);
                CHECK(c->ndim == 2 && c->shape[0] == M && c->shape[1] == N);
                check_product(a->data, b->data, c->data, ta, tb, M, N, K, "matmul");
            }
        ag_tape_clear(t);
    }
    ag_tape_free(t);
}

TEST(matmul_batched_matches_naive) {
    ag_tape *t = ag_tape_new(4);
    int B = 3, M = 4, N = 5, K = 6;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int ash[2] = {ta ? K : M, ta ? M : K}, bsh[2] = {tb ? N : K, tb ? K : N};
            ag_tensor *a3 = ag_randn(t, 3, (int[]){B, ash[0], ash[1]}, 1);
            ag_tensor *b3 = ag_randn(t, 3, (int[]){B, bsh[0], bsh[1]}, 1);
            ag_tensor *b2 = ag_randn(t, 2, bsh, 1);
            ag_tensor *c33 = ag_matmul(t, a3, b3, ta, tb);  /* (B,M,K)·(B,K,N) */
            ag_tensor *c32 = ag_matmul(t, a3, b2, ta, tb);  /* (B,M,K)·(K,N): b shared */
            CHECK(c33->ndim == 3 && c33->shape[0] == B && c33->shape[1] == M &&
                  c33->shape[2] == N);
            CHECK(c32->ndim == 3 && c32->shape[0] == B);
            for (int i = 0; i < B; i++) {
                const ag_real *ai = a3->data + (size_t)i * M * K;
                ag_real *out33 = c33->data + (size_t)i * M * N, *out32 = c32->data + (size_t)i * M * N;
                check_product(ai, b3->data + (size_t)i * K * N, out33, ta, tb, M, N, K, "3-D x 3-D");
                check_product(ai, b2->data, out32, ta, tb, M, N, K, "3-D x 2-D");
            }
        }
    ag_tape_free(t);
}

typedef struct { bool ta, tb; } mm_ctx;
static ag_tensor *mm_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    const mm_ctx *c = ctx;
    return ag_matmul(t, in[0], in[1], c->ta, c->tb);
}

static void gradcheck_mm(ag_rng *r, int andim, const int *ash, int bndim, const int *bsh,
                         bool ta, bool tb, const char *label) {
    ag_tensor *in[2] = {randn_heap(r, andim, ash, "a"), randn_heap(r, bndim, bsh, "b")};
    mm_ctx c = {ta, tb};
    ag_gradcheck_report rep = ag_gradcheck(mm_fn, in, 2, &c, NULL);
    if (!rep.ok) ag_gradcheck_print(label, &rep, stderr);
    CHECK(rep.ok);
    ag_tensor_free(in[0]);
    ag_tensor_free(in[1]);
}

TEST(matmul_gradcheck) {
    ag_rng r;
    ag_rng_seed(&r, 5);
    int M = 3, N = 4, K = 5, B = 2;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int ash[2] = {ta ? K : M, ta ? M : K}, bsh[2] = {tb ? N : K, tb ? K : N};
            gradcheck_mm(&r, 2, ash, 2, bsh, ta, tb, "matmul 2-D");
            gradcheck_mm(&r, 3, (int[]){B, ash[0], ash[1]}, 3, (int[]){B, bsh[0], bsh[1]}, ta,
                         tb, "matmul 3-D x 3-D");
            /* The shared 2-D operand's gradient sums over the batch. */
            gradcheck_mm(&r, 3, (int[]){B, ash[0], ash[1]}, 2, bsh, ta, tb, "matmul 3-D x 2-D");
        }
}

TEST(linear_matches_naive) {
    ag_tape *t = ag_tape_new(6);
    int N = 7, in = 5, out = 3;
    ag_tensor *x = ag_randn(t, 2, (int[]){N, in}, 1), *w = ag_randn(t, 2, (int[]){out, in}, 1);
    ag_tensor *b = ag_randn(t, 1, (int[]){out}, 1);
    ag_tensor *y = ag_linear(t, x, w, b), *y0 = ag_linear(t, x, w, NULL);
    CHECK(y->ndim == 2 && y->shape[0] == N && y->shape[1] == out);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < out; j++) {
            double s = 0;
            for (int k = 0; k < in; k++)
                s += (double)x->data[i * in + k] * (double)w->data[j * in + k];
            CHECK_NEAR(y0->data[i * out + j], s, 20 * DOT_TOL);
            CHECK_NEAR(y->data[i * out + j], s + (double)b->data[j], 20 * DOT_TOL);
        }
    ag_tape_free(t);
}

/* linear adds its bias in the GEMM's store and sums its bias gradient while packing dy
 * (ops_linalg.c): the forward gives the bits of "bias rows, then += x·Wᵀ", and db is the
 * plain sum of dy's rows in row order, bit for bit, with a batch longer than any K slice
 * and with W frozen (no dW product to ride along: db is summed on its own). */
TEST(linear_bias_fused_in_the_gemm_gives_the_same_bits) {
    const int N = 1100, in = 37, out = 45;
    ag_rng r;
    ag_rng_seed(&r, 9);
    for (int frozen_w = 0; frozen_w <= 1; frozen_w++) {
        ag_tape *t = ag_tape_new(9);
        ag_tensor *x = randn_heap(&r, 2, (int[]){N, in}, "x"), *b = randn_heap(&r, 1, (int[]){out}, "b");
        ag_tensor *w = ag_tensor_new(2, (int[]){out, in}, !frozen_w);
        ag_fill_randn(&r, w, 1);
        ag_tensor *y = ag_linear(t, x, w, b);
        ag_real *ref = malloc(sizeof(ag_real) * (size_t)N * out);
        for (int i = 0; i < N; i++) memcpy(ref + (size_t)i * out, b->data, sizeof(ag_real) * out);
        ag_gemm(false, true, N, out, in, 1, x->data, in, w->data, in, 1, ref, out);
        CHECK(memcmp(ref, y->data, sizeof(ag_real) * (size_t)N * out) == 0);
        ag_tensor *seed = ag_tensor_new(2, (int[]){N, out}, false);
        ag_fill_randn(&r, seed, 1);
        ag_backward_seed(t, y, seed);
        for (int j = 0; j < out; j++) {
            ag_real s = 0;
            for (int i = 0; i < N; i++) s += seed->data[(size_t)i * out + j];
            if (memcmp(&s, &b->grad[j], sizeof s) != 0) {
                test_fail(__FILE__, __LINE__, "frozen W=%d: db[%d] = %.9g, the row-order sum is %.9g",
                          frozen_w, j, (double)b->grad[j], (double)s);
                break;
            }
        }
        CHECK(frozen_w ? w->grad == NULL || w->grad[0] == 0 : w->grad != NULL);
        free(ref);
        ag_tensor_free(seed);
        ag_tensor_free(x);
        ag_tensor_free(w);
        ag_tensor_free(b);
        ag_tape_free(t);
    }
}

static ag_tensor *linear_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    return ag_linear(t, in[0], in[1], in[2]);
}

TEST(linear_gradcheck_with_and_without_bias) {
    ag_rng r;
    ag_rng_seed(&r, 7);
    ag_tensor *in[3] = {randn_heap(&r, 2, (int[]){4, 3}, "x"), randn_heap(&r, 2, (int[]){5, 3}, "W"),
                        randn_heap(&r, 1, (int[]){5}, "b")};
    ag_gradcheck_report rep = ag_gradcheck(linear_fn, in, 3, NULL, NULL);
    if (!rep.ok) ag_gradcheck_print("linear", &rep, stderr);
    CHECK(rep.ok);
    ag_tensor *no_bias[3] = {in[0], in[1], NULL};
    rep = ag_gradcheck(linear_fn, no_bias, 2, NULL, NULL); /* in[2] = NULL: no bias */
    if (!rep.ok) ag_gradcheck_print("linear without bias", &rep, stderr);
    CHECK(rep.ok);
    for (int i = 0; i < 3; i++) ag_tensor_free(in[i]);
}

TEST(linalg_shape_errors_name_the_shapes) {
    ag_tape *t = ag_tape_new(8);
    ag_tensor *a = ag_zeros(t, 2, (int[]){2, 3}), *b = ag_zeros(t, 2, (int[]){4, 5});
    EXPECT_ERROR(ag_matmul(t, a, b, false, false)); /* K 3 vs 4 */
    CHECK(strstr(test_last_error, "matmul") && strstr(test_last_error, "(2, 3)") &&
          strstr(test_last_error, "(4, 5)"));
    EXPECT_ERROR(ag_matmul(t, a, a, false, false));
    CHECK(strstr(test_last_error, "(2, 3)") != NULL);
    ag_tensor *v = ag_zeros(t, 1, (int[]){3});
    EXPECT_ERROR(ag_matmul(t, v, a, false, false)); /* 1-D operand */
    CHECK(strstr(test_last_error, "(3)") != NULL);
    ag_tensor *a3 = ag_zeros(t, 3, (int[]){2, 2, 3}), *b3 = ag_zeros(t, 3, (int[]){3, 3, 2});
    EXPECT_ERROR(ag_matmul(t, a3, b3, false, false)); /* batch 2 vs 3 */
    CHECK(strstr(test_last_error, "(2, 2, 3)") && strstr(test_last_error, "(3, 3, 2)"));
    ag_tensor *w = ag_zeros(t, 2, (int[]){4, 5});
    EXPECT_ERROR(ag_linear(t, a, w, NULL)); /* in 3 vs 5 */
    CHECK(strstr(test_last_error, "linear") && strstr(test_last_error, "(2, 3)") &&
          strstr(test_last_error, "(4, 5)"));
    ag_tensor *w2 = ag_zeros(t, 2, (int[]){4, 3}), *bias = ag_zeros(t, 1, (int[]){3});
    EXPECT_ERROR(ag_linear(t, a, w2, bias)); /* bias 3 vs out 4 */
    CHECK(strstr(test_last_error, "bias") && strstr(test_last_error, "(3)"));
    ag_tape_free(t);
}
