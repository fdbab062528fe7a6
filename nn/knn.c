/* knn.c — k-th nearest-neighbour distances by blocks of one GEMM each, and the kNN density
 * estimate (knn.h).
 *
 * A block of QB queries against RB reference rows is one GEMM, G = Q·Rᵀ, and
 * ‖q − r‖² = ‖q‖² + ‖r‖² − 2 q·r; each query keeps its k smallest squared distances so far
 * in a sorted array, so a pass over the reference rows costs one comparison per pair once
 * the array is full; the k kept rows' distances are then measured again from their
 * differences.  The blocks bound the workspace (QB·RB values) whatever the sizes. */
#include "nn/knn.h"

#include "autograd/parallel.h"

#include <math.h>
#include <stdlib.h>

enum { QB = 256, RB = 2048 }; /* a 256×2048 block: 2 MB of floats, within L2/L3 */

static void norms(const ag_real *x, int n, int dim, double *out) {
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < dim; j++) s += (double)x[(size_t)i * dim + j] * x[(size_t)i * dim + j];
        out[i] = s;
    }
}

/* best[0..k) sorted ascending, with the rows they came from; v (row j) enters if below
 * best[k−1]. */
static void keep_smallest(double *best, int *row, int k, double v, int j) {
    if (v >= best[k - 1]) return;
    int i = k - 1;
    while (i > 0 && best[i - 1] > v) best[i] = best[i - 1], row[i] = row[i - 1], i--;
    best[i] = v, row[i] = j;
}

/* ‖a − b‖ summed in double from the differences: exact where the expansion cancels. */
static double exact_distance(const ag_real *a, const ag_real *b, int dim) {
    double s = 0;
    for (int c = 0; c < dim; c++) {
        double d = (double)a[c] - (double)b[c];
        s += d * d;
    }
    return sqrt(s);
}

int nn_knn_distances(const ag_real *ref, int n_ref, const ag_real *query, int n_query, int dim,
                     int k, double *dist, nn_error *err) {
    if (n_ref < 1 || dim < 1 || n_query < 0 || k < 1 || k > n_ref)
        return nn_fail(err, "knn: need n_ref >= 1, dim >= 1, n_query >= 0 and 1 <= k <= n_ref "
                            "(got n_ref %d, dim %d, n_query %d, k %d)", n_ref, dim, n_query, k);
    if (n_query == 0) return 0;
    double *rn = malloc(sizeof(double) * (size_t)n_ref), *qn = malloc(sizeof(double) * QB),
           *best = malloc(sizeof(double) * (size_t)QB * (size_t)k);
    int *row = malloc(sizeof(int) * (size_t)QB * (size_t)k);
    ag_real *g = malloc(sizeof(ag_real) * QB * RB);
    if (!rn || !qn || !best || !row || !g) {
        free(rn), free(qn), free(best), free(row), free(g);
        return nn_fail(err, "knn: out of memory (%d reference rows, k %d)", n_ref, k);
    }
    norms(ref, n_ref, dim, rn);
    for (int q0 = 0; q0 < n_query; q0 += QB) {
        int nq = n_query - q0 < QB ? n_query - q0 : QB;
        const ag_real *qb = query + (size_t)q0 * dim;
        norms(qb, nq, dim, qn);
        for (long i = 0; i < (long)nq * k; i++) best[i] = INFINITY;
        for (int r0 = 0; r0 < n_ref; r0 += RB) {
            int nr = n_ref - r0 < RB ? n_ref - r0 : RB;
            ag_gemm(false, true, nq, nr, dim, 1, qb, dim, ref + (size_t)r0 * dim, dim, 0, g, nr);
            AG_PARALLEL_FOR(i, nq, (long)nq * nr >= 65536, {
                double *b = best + i * k;
                int *w = row + i * k;
                const ag_real *gi = g + i * nr;
                for (int j = 0; j < nr; j++)
                    keep_smallest(b, w, k, qn[i] + rn[r0 + j] - 2.0 * gi[j], r0 + j);
            });
        }
        /* The expansion loses the digits of a small distance between long vectors (a query
         * on a reference row gave 1e-3 instead of 0 in float), so the k kept rows' distances
         * are measured again from their differences; the k-th is the largest of them. */
        AG_PARALLEL_FOR(i, nq, (long)nq * k * dim >= 65536, {
            double far = 0;
            for (int j = 0; j < k; j++) {
                double d = exact_distance(qb + i * dim, ref + (size_t)row[i * k + j] * dim, dim);
                if (d > far) far = d;
            }
            dist[q0 + i] = far;
        });
    }
    free(rn), free(qn), free(best), free(row), free(g);
    return 0;
}

double nn_knn_neg_log_density(double r_k, int k, int n, int dim) {
    /* ln V_d = (d/2) ln π − ln Γ(d/2 + 1) */
    double log_vd = 0.5 * dim * log(M_PI) - lgamma(0.5 * dim + 1);
    return dim * log(r_k) + log((double)n) + log_vd - log((double)k);
}
