/* test_knn.c — nn_knn_distances and the kNN density estimate (nn/knn.c): the k-th nearest
 * distance agrees with a brute-force search in double across the block edges (256 queries,
 * 2048 reference rows), for k = 1, a middle k and k = n_ref; a query equal to a reference
 * row finds it; the result does not depend on the thread count; the density estimate
 * recovers known densities (uniform on [0, 1]: ln q = 0; a standard normal in 2-D at its
 * mode: −ln q = ln 2π, which checks the unit ball's volume); bad sizes are refused. */
#include "tests/test.h"
#include "nn/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The k-th smallest distance from q to the rows of ref, by sorting all of them. */
static double brute(const ag_real *ref, int n, const ag_real *q, int dim, int k, double *work) {
    for (int j = 0; j < n; j++) {
        double s = 0;
        for (int c = 0; c < dim; c++) {
            double d = (double)q[c] - ref[(size_t)j * dim + c];
            s += d * d;
        }
        work[j] = sqrt(s);
    }
    qsort(work, (size_t)n, sizeof *work, cmp_double);
    return work[k - 1];
}

TEST(knn_distances_match_brute_force_across_blocks) {
    enum { N = 3000, Q = 300, D = 7 }; /* past one 2048-row block and one 256-query block */
    ag_real *ref = malloc(sizeof(ag_real) * N * D), *q = malloc(sizeof(ag_real) * Q * D);
    double *got = malloc(sizeof(double) * Q), *work = malloc(sizeof(double) * N);
    ag_rng r;
    ag_rng_seed(&r, 5);
    for (int i = 0; i < N * D; i++) ref[i] = (ag_real)(3 * ag_rng_normal(&r) + 1);
    for (int i = 0; i < Q * D; i++) q[i] = (ag_real)(3 * ag_rng_normal(&r) + 1);
    const int ks[] = {1, 17, N};
    nn_error err;
    for (int t = 0; t < 3; t++) {
        CHECK(nn_knn_distances(ref, N, q, Q, D, ks[t], got, &err) == 0);
        double worst = 0;
        for (int i = 0; i < Q; i++) {
            double want = brute(ref, N, q + (size_t)i * D, D, ks[t], work);
            double rel = fabs(got[i] - want) / want;
            if (rel > worst) worst = rel;
        }
        /* exact but for near-ties the float GEMM may order either way */
        CHECK(worst < (sizeof(ag_real) == 4 ? 1e-6 : 1e-12));
    }
    free(ref), free(q), free(got), free(work);
}

TEST(knn_a_query_in_the_reference_set_finds_itself) {
    enum { N = 500, D = 20 };
    ag_real *ref = malloc(sizeof(ag_real) * N * D);
    ag_rng r;
    ag_rng_seed(&r, 9);
    for (int i = 0; i < N * D; i++) ref[i] = (ag_real)ag_rng_normal(&r);
    double d1[N], d2[N];
    nn_error err;
    CHECK(nn_knn_distances(ref, N, ref, N, D, 1, d1, &err) == 0);
    CHECK(nn_knn_distances(ref, N, ref, N, D, 2, d2, &err) == 0);
    double worst1 = 0, least2 = INFINITY;
    for (int i = 0; i < N; i++) {
        if (d1[i] > worst1) worst1 = d1[i];
        if (d2[i] < least2) least2 = d2[i];
    }
    CHECK(worst1 == 0); /* itself: measured from the differences, exactly 0 */
    CHECK(least2 > 0.5); /* then a true neighbour: 20-D normals lie ~6 apart */
    free(ref);
}

TEST(knn_distances_do_not_depend_on_threads) {
    enum { N = 4100, Q = 600, D = 20 };
    ag_real *ref = malloc(sizeof(ag_real) * N * D), *q = malloc(sizeof(ag_real) * Q * D);
    double *a = malloc(sizeof(double) * Q), *b = malloc(sizeof(double) * Q);
    ag_rng r;
    ag_rng_seed(&r, 11);
    for (int i = 0; i < N * D; i++) ref[i] = (ag_real)ag_rng_normal(&r);
    for (int i = 0; i < Q * D; i++) q[i] = (ag_real)ag_rng_normal(&r);
    int threads = ag_num_threads();
    ag_set_num_threads(1);
    CHECK(nn_knn_distances(ref, N, q, Q, D, 5, a, NULL) == 0);
    ag_set_num_threads(2);
    CHECK(nn_knn_distances(ref, N, q, Q, D, 5, b, NULL) == 0);
    ag_set_num_threads(threads);
    CHECK(memcmp(a, b, sizeof(double) * Q) == 0);
    free(ref), free(q), free(a), free(b);
}

TEST(knn_density_of_known_distributions) {
    enum { N = 20000, K = 50 };
    ag_real *x = malloc(sizeof(ag_real) * N * 2);
    ag_rng r;
    ag_rng_seed(&r, 13);
    /* uniform on [0, 1]: q = 1 inside, so −ln q̂ ≈ 0 at 0.3, 0.5, 0.7 */
    for (int i = 0; i < N; i++) x[i] = (ag_real)ag_rng_uniform(&r);
    ag_real mid[3] = {0.3f, 0.5f, 0.7f};
    double rk[3];
    CHECK(nn_knn_distances(x, N, mid, 3, 1, K, rk, NULL) == 0);
    for (int i = 0; i < 3; i++) CHECK_NEAR(nn_knn_neg_log_density(rk[i], K, N, 1), 0, 0.3);
    /* N(0, I) in 2-D at its mode: q = 1/(2π); V_2 = π enters here */
    for (int i = 0; i < N * 2; i++) x[i] = (ag_real)ag_rng_normal(&r);
    ag_real origin[2] = {0, 0};
    CHECK(nn_knn_distances(x, N, origin, 1, 2, K, rk, NULL) == 0);
    CHECK_NEAR(nn_knn_neg_log_density(rk[0], K, N, 2), log(2 * M_PI), 0.3);
    /* and far out in the tail the density is much lower */
    ag_real far[2] = {3, 3};
    CHECK(nn_knn_distances(x, N, far, 1, 2, K, rk, NULL) == 0);
    CHECK(nn_knn_neg_log_density(rk[0], K, N, 2) > log(2 * M_PI) + 5);
    free(x);
}

TEST(knn_refuses_bad_sizes) {
    ag_real ref[6] = {0, 1, 2, 3, 4, 5}, q[2] = {0, 0};
    double d[1];
    nn_error err;
    CHECK(nn_knn_distances(ref, 3, q, 1, 2, 4, d, &err) == -1); /* k > n_ref */
    CHECK(strstr(err.msg, "k 4") != NULL);
    CHECK(nn_knn_distances(ref, 3, q, 1, 2, 0, d, &err) == -1);
    CHECK(nn_knn_distances(ref, 3, q, 1, 0, 1, d, &err) == -1);
    CHECK(nn_knn_distances(ref, 0, q, 1, 2, 1, d, &err) == -1);
    CHECK(nn_knn_distances(ref, 3, q, -1, 2, 1, d, &err) == -1);
    CHECK(nn_knn_distances(ref, 3, q, 0, 2, 1, d, &err) == 0); /* no queries: nothing to do */
    CHECK(nn_knn_distances(ref, 3, q, 1, 2, 3, d, NULL) == 0);
    CHECK_NEAR(d[0], sqrt(16 + 25), 1e-6); /* (0,0) to (4,5), the farthest of three */
}
