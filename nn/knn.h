/* knn.h — distances to the k-th nearest neighbour, and the density estimate they give.
 *
 * Among n points drawn from a density q on R^d, the ball around z that reaches z's k-th
 * nearest point holds k of the n, so q(z)·V_d·r_k(z)^d ≈ k/n and
 *     q̂(z) = k / (n · V_d · r_k(z)^d),   V_d = π^{d/2} / Γ(d/2 + 1)  (the unit ball's volume)
 * (Loftsgaarden & Quesenberry 1965; consistent as k → ∞ with k/n → 0).  It needs no model
 * of q and no training, only distances, so it suits a space of a few dozen dimensions, such
 * as a VAE's latent space: build/anomaly --score knn estimates the aggregate posterior
 * q(z) = E_x q(z|x) of the normal training images at a test image's code this way.
 *
 * Example:
 *   double r[2];                              // distance of each query to its 3rd nearest
 *   nn_knn_distances(ref, 1000, query, 2, 20, 3, r, &err);   // ref 1000×20, query 2×20
 *   double nats = nn_knn_neg_log_density(r[0], 3, 1000, 20);  // −ln q̂ at query 0
 */
#ifndef HENBUN_NN_KNN_H
#define HENBUN_NN_KNN_H

#include "autograd/autograd.h"
#include "nn/error.h"

HENBUN_BEGIN_DECLS

/* For each of the n_query rows of query (row-major, dim values each), the Euclidean
 * distance to its k-th nearest row of ref (n_ref rows of dim), into dist[n_query].  A query
 * equal to a ref row counts it, at distance 0.  The k nearest are found with one GEMM per
 * block, ‖q − r‖² = ‖q‖² + ‖r‖² − 2 q·r, and their distances then measured from the
 * differences in double: the result is exact (for rows that tie within the GEMM's rounding,
 * either may be taken as the k-th).  Threads: the
 * GEMM's and the selection's (AG_PARALLEL_FOR); the same result for any thread count.
 * Allocates a few MB of workspace per call.  0, or -1 with err on bad sizes (n_ref, dim < 1,
 * k outside [1, n_ref], n_query < 0) or out of memory. */
int nn_knn_distances(const ag_real *ref, int n_ref, const ag_real *query, int n_query, int dim,
                     int k, double *dist, nn_error *err);

/* −ln q̂ = d·ln r_k + ln n + ln V_d − ln k, the estimate above in nats, for r_k from
 * nn_knn_distances over n points of dimension dim (r_k = 0, k samples on the point: −inf). */
double nn_knn_neg_log_density(double r_k, int k, int n, int dim);

HENBUN_END_DECLS

#endif
