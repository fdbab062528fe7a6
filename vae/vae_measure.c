/* vae_measure.c — what a trained VAE's codes keep of x, the quantities of seed 002 eq. (5)-(7):
 *   I(x;z) as in He et al. 2019 ("Lagging inference networks"), total correlation and
 *   dimension-wise KL of the aggregate posterior, KL per latent dimension, active units
 *   (Burda et al. 2016), and the accuracy of a linear probe trained on the codes.
 * The aggregate posterior q(z) = (1/n) Σ_j q(z|x_j) is the mixture of the evaluation set's
 * own posteriors, so every estimate is that of the empirical q(x) on those n examples: the
 * MI can never exceed ln n (x is then one of n equally likely points).  Plain C in double
 * (no tape): these are measurements, not losses. */
#include "vae/vae.h"
#include "vae/gaussian.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ln Σ_j exp(v[j·stride]) over n values, stably. */
static double logsumexp_strided(const double *v, int n, int stride) {
    double mx = -INFINITY, s = 0;
    for (int j = 0; j < n; j++) mx = fmax(mx, v[(size_t)j * stride]);
    if (mx == -INFINITY) return mx;
    for (int j = 0; j < n; j++) s += exp(v[(size_t)j * stride] - mx);
    return mx + log(s);
}

/* ½ (Σ_k ln C_kk − ln det C) for the covariance C of the rows of z (n, d): the total
 * correlation of a Gaussian with z's covariance, = −½ ln det of the correlation matrix.
 * Dimensions with zero variance are left out (they carry nothing).  Cholesky, d ≤ 256. */
static double gaussian_tc(const ag_real *z, int n, int d) {
    double *c = calloc((size_t)d * (size_t)d, sizeof(double)), *m = calloc((size_t)d, sizeof(double));
    int *keep = malloc(sizeof(int) * (size_t)d), kd = 0;
    if (!c || !m || !keep) ag_error("vae_info_from_posteriors", "out of memory");
    for (int i = 0; i < n; i++)
        for (int k = 0; k < d; k++) m[k] += z[(size_t)i * d + k] / (double)n;
    for (int i = 0; i < n; i++)
        for (int a = 0; a < d; a++)
            for (int b = 0; b <= a; b++)
                c[a * d + b] += (z[(size_t)i * d + a] - m[a]) * (z[(size_t)i * d + b] - m[b]) / n;
    for (int k = 0; k < d; k++)
        if (c[k * d + k] > 0) keep[kd++] = k;
    /* correlation matrix of the kept dims, lower triangle, then its Cholesky factor in place:
     * ln det R = 2 Σ ln L_kk */
    double *r = calloc((size_t)kd * (size_t)kd, sizeof(double)), logdet = 0;
    if (!r) ag_error("vae_info_from_posteriors", "out of memory");
    for (int a = 0; a < kd; a++)
        for (int b = 0; b <= a; b++)
            r[a * kd + b] = c[keep[a] * d + keep[b]] /
                            sqrt(c[keep[a] * d + keep[a]] * c[keep[b] * d + keep[b]]);
    for (int j = 0; j < kd && isfinite(logdet); j++) {
        double v = r[j * kd + j];
        for (int q = 0; q < j; q++) v -= r[j * kd + q] * r[j * kd + q];
        if (!(v > 0)) { logdet = -INFINITY; break; }          /* singular: TC unbounded */
        double l = sqrt(v);
        r[j * kd + j] = l;
        logdet += 2 * log(l);
        for (int i = j + 1; i < kd; i++) {
            double u = r[i * kd + j];
            for (int q = 0; q < j; q++) u -= r[i * kd + q] * r[j * kd + q];
            r[i * kd + j] = u / l;
        }
    }
    free(c), free(m), free(keep), free(r);
    return -0.5 * logdet;
}

vae_info vae_info_from_posteriors(const ag_real *mu, const ag_real *logvar, const ag_real *z,
                                  int n, int d, int outer) {
    if (n < 1 || d < 1) ag_error("vae_info_from_posteriors", "need n, d >= 1, got %d, %d", n, d);
    if (outer <= 0 || outer > n) outer = n;
    vae_info r = {.n = n, .outer = outer, .z_dim = d, .mi_max = log((double)n)};
    r.kl_per_dim = calloc((size_t)d, sizeof(double));
    r.mu_var = calloc((size_t)d, sizeof(double));
    /* Per posterior j and dim k: 1/σ² and ln N's constant −½(ln 2π + ln σ²). */
    double *inv_var = malloc(sizeof(double) * (size_t)n * (size_t)d);
    double *norm = malloc(sizeof(double) * (size_t)n * (size_t)d);
    if (!r.kl_per_dim || !r.mu_var || !inv_var || !norm)
        ag_error("vae_info_from_posteriors", "out of memory");
    for (size_t q = 0; q < (size_t)n * (size_t)d; q++) {
        inv_var[q] = exp(-(double)logvar[q]);
        norm[q] = -0.5 * (VAE_LOG_2PI + (double)logvar[q]);
    }
    double sum_qzx = 0, sum_qz = 0, sum_prod = 0, sum_pz = 0;
    int failed = 0;
#pragma omp parallel reduction(+ : sum_qzx, sum_qz, sum_prod, sum_pz, failed)
    {
        /* lq[j·d + k] = ln q(z_ik | x_j) for the current i; joint[j] = Σ_k of it. */
        double *lq = malloc(sizeof(double) * (size_t)n * (size_t)d);
        double *joint = malloc(sizeof(double) * (size_t)n);
        if (!lq || !joint) failed = 1;
#pragma omp for schedule(static)
        for (int q = 0; q < outer; q++) {
            int i = (int)((long)q * n / outer);     /* evenly spaced draws z_i */
            if (!lq || !joint) continue;
            const ag_real *zi = z + (size_t)i * d;
            for (int j = 0; j < n; j++) {
                const ag_real *mj = mu + (size_t)j * d;
                const double *iv = inv_var + (size_t)j * d, *c = norm + (size_t)j * d;
                double *row = lq + (size_t)j * d, s = 0;
                for (int k = 0; k < d; k++) {
                    double u = (double)zi[k] - (double)mj[k];
                    row[k] = c[k] - 0.5 * u * u * iv[k];
                    s += row[k];
                }
                joint[j] = s;
            }
            double log_n = log((double)n), pz = 0, prod = 0;
            for (int k = 0; k < d; k++) {
                prod += logsumexp_strided(lq + k, n, d) - log_n;       /* ln q_k(z_ik) */
                pz += -0.5 * ((double)zi[k] * zi[k] + VAE_LOG_2PI);         /* ln N(z_ik; 0, 1) */
            }
            sum_qzx += joint[i];                                        /* ln q(z_i|x_i) */
            sum_qz += logsumexp_strided(joint, n, 1) - log_n;           /* ln q(z_i) */
            sum_prod += prod;
            sum_pz += pz;
        }
        free(lq);
        free(joint);
    }
    if (failed) ag_error("vae_info_from_posteriors", "out of memory");
    free(inv_var);
    free(norm);
    r.mi = (sum_qzx - sum_qz) / outer;                    /* E ln q(z|x) − E ln q(z) */
    r.tc = (sum_qz - sum_prod) / outer;                   /* E ln q(z) − E Σ_k ln q_k(z_k) */
    r.dim_kl = (sum_prod - sum_pz) / outer;               /* E Σ_k ln q_k(z_k) − E ln p(z) */
    r.marginal_kl = r.tc + r.dim_kl;
    r.tc_gauss = gaussian_tc(z, n, d);
    for (int k = 0; k < d; k++) {
        double s = 0, s2 = 0, kl = 0;
        for (int i = 0; i < n; i++) {
            double u = mu[(size_t)i * d + k], lv = logvar[(size_t)i * d + k];
            s += u, s2 += u * u;
            kl += 0.5 * (u * u + exp(lv) - 1 - lv);       /* seed 003 eq. (2.10), per dim */
        }
        r.kl_per_dim[k] = kl / n;
        r.kl += r.kl_per_dim[k];
        r.mu_var[k] = s2 / n - (s / n) * (s / n);
        r.active_units += r.mu_var[k] > 0.01;
    }
    return r;
}

int vae_encode_dataset(vae *m, const nn_dataset *d, int n, ag_real **mu_out,
                       ag_real **logvar_out) {
    if (n <= 0 || n > d->n) n = d->n;
    int zd = m->cfg.z_dim, bs = 500;
    ag_real *mu = malloc(sizeof(ag_real) * (size_t)n * (size_t)zd);
    ag_real *lv = malloc(sizeof(ag_real) * (size_t)n * (size_t)zd);
    int *idx = malloc(sizeof(int) * (size_t)bs);
    if (!mu || !lv || !idx) ag_error("vae_encode_dataset", "out of memory");
    ag_tape *t = ag_tape_new(0);
    ag_set_grad_enabled(t, false);
    bool was_training = m->training;
    vae_set_training(m, false);
    for (int start = 0; start < n; start += bs) {
        int b = n - start < bs ? n - start : bs;
        for (int i = 0; i < b; i++) idx[i] = start + i;
        ag_tape_clear(t);
        ag_tensor *x = nn_dataset_batch(d, t, idx, b, false, NULL), *bm, *bl;
        vae_encode(m, t, x, &bm, &bl);
        memcpy(mu + (size_t)start * zd, bm->data, sizeof(ag_real) * (size_t)b * zd);
        memcpy(lv + (size_t)start * zd, bl->data, sizeof(ag_real) * (size_t)b * zd);
    }
    vae_set_training(m, was_training);
    ag_tape_free(t);
    free(idx);
    *mu_out = mu, *logvar_out = lv;
    return n;
}

double vae_mmd_to_prior(const ag_real *z, int n, int d, uint64_t seed) {
    if (n < 2 || d < 1) ag_error("vae_mmd_to_prior", "need n >= 2 and d >= 1, got %d, %d", n, d);
    double *p = malloc(sizeof(double) * (size_t)n * (size_t)d);
    if (!p) ag_error("vae_mmd_to_prior", "out of memory");
    ag_rng r;
    ag_rng_seed(&r, seed);
    for (size_t q = 0; q < (size_t)n * (size_t)d; q++) p[q] = ag_rng_normal(&r);
    /* U-statistic with k(a,b) = exp(−‖a−b‖²/s), s = 2d, as vae_mmd: the within-sample
     * sums skip i = j, the cross sum takes every pair */
    double s = 2.0 * d, szz = 0, spp = 0, szp = 0;
#pragma omp parallel for schedule(static) reduction(+ : szz, spp, szp)
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            double dzz = 0, dpp = 0, dzp = 0;
            for (int k = 0; k < d; k++) {
                double zi = z[(size_t)i * d + k], pi = p[(size_t)i * d + k];
                double u = zi - z[(size_t)j * d + k], v = pi - p[(size_t)j * d + k],
                       w = zi - p[(size_t)j * d + k];
                dzz += u * u, dpp += v * v, dzp += w * w;
            }
            if (j != i) szz += exp(-dzz / s), spp += exp(-dpp / s);
            szp += exp(-dzp / s);
        }
    }
    free(p);
    return (szz + spp) / ((double)n * (n - 1)) - 2 * szp / ((double)n * n);
}

vae_info vae_measure(vae *m, const nn_dataset *d, int n, int outer, uint64_t seed) {
    ag_real *mu, *lv;
    n = vae_encode_dataset(m, d, n, &mu, &lv);
    size_t size = (size_t)n * (size_t)m->cfg.z_dim;
    ag_real *z = malloc(sizeof(ag_real) * size);
    if (!z) ag_error("vae_measure", "out of memory");
    ag_rng r;
    ag_rng_seed(&r, seed);
    for (size_t q = 0; q < size; q++)                    /* z_i ~ q(z|x_i), seed 001 */
        z[q] = (ag_real)(mu[q] + exp(0.5 * (double)lv[q]) * ag_rng_normal(&r));
    vae_info info = vae_info_from_posteriors(mu, lv, z, n, m->cfg.z_dim, outer);
    /* MMD² against the prior on the same evenly spaced draws */
    int zd = m->cfg.z_dim;
    ag_real *zo = malloc(sizeof(ag_real) * (size_t)info.outer * (size_t)zd);
    if (!zo) ag_error("vae_measure", "out of memory");
    for (int q = 0; q < info.outer; q++)
        memcpy(zo + (size_t)q * zd, z + (size_t)((long)q * n / info.outer) * zd,
               sizeof(ag_real) * (size_t)zd);
    info.mmd = info.outer >= 2 ? vae_mmd_to_prior(zo, info.outer, zd, seed + 1) : NAN;
    free(zo);
    free(mu);
    free(lv);
    free(z);
    return info;
}

void vae_info_free(vae_info *info) {
    free(info->kl_per_dim);
    free(info->mu_var);
    memset(info, 0, sizeof *info);
}

/* ---- linear probe ------------------------------------------------------------------------ */

/* Rows idx[0..b) of codes (n, dim), centred by mean, into a new (b, dim) tensor on t. */
static ag_tensor *code_batch(ag_tape *t, const ag_real *codes, const double *mean, int dim,
                             const int *idx, int b) {
    ag_tensor *x = ag_zeros(t, 2, (int[]){b, dim});
    for (int i = 0; i < b; i++)
        for (int k = 0; k < dim; k++)
            x->data[(size_t)i * dim + k] =
                (ag_real)(codes[(size_t)idx[i] * dim + k] - mean[k]);
    return x;
}

double vae_linear_probe(const ag_real *train, const int *train_y, int n_train,
                        const ag_real *test, const int *test_y, int n_test, int dim,
                        int epochs, uint64_t seed) {
    if (n_train < 1 || n_test < 1 || dim < 1)
        ag_error("vae_linear_probe", "need examples and dim >= 1, got %d, %d, %d", n_train,
                 n_test, dim);
    int classes = 0, bs = 128;
    for (int i = 0; i < n_train; i++) classes = train_y[i] + 1 > classes ? train_y[i] + 1 : classes;
    for (int i = 0; i < n_test; i++) classes = test_y[i] + 1 > classes ? test_y[i] + 1 : classes;
    double *mean = calloc((size_t)dim, sizeof(double));
    int *perm = malloc(sizeof(int) * (size_t)(n_train > n_test ? n_train : n_test));
    if (!mean || !perm) ag_error("vae_linear_probe", "out of memory");
    for (int i = 0; i < n_train; i++)
        for (int k = 0; k < dim; k++) mean[k] += train[(size_t)i * dim + k] / (double)n_train;
    /* logits = x Wᵀ + b, zero start: the problem is convex, any start reaches the optimum */
    ag_tensor *w = ag_param(2, (int[]){classes, dim}), *b = ag_param(1, (int[]){classes});
    nn_param_list ps = {0};
    nn_params_add(&ps, "probe", "weight", w, true);
    nn_params_add(&ps, "probe", "bias", b, true);
    nn_optim *opt = nn_adam(&ps, 1e-2);
    ag_tape *t = ag_tape_new(seed);
    ag_rng r;
    ag_rng_seed(&r, seed);
    for (int i = 0; i < n_train; i++) perm[i] = i;
    for (int e = 0; e < epochs; e++) {
        for (int i = n_train - 1; i > 0; i--) { /* Fisher–Yates */
            int j = (int)ag_rng_below(&r, (uint32_t)i + 1), tmp = perm[i];
            perm[i] = perm[j], perm[j] = tmp;
        }
        for (int s = 0; s < n_train; s += bs) {
            int nb = n_train - s < bs ? n_train - s : bs;
            int *y = ag_tape_alloc(t, sizeof(int) * (size_t)nb);
            for (int i = 0; i < nb; i++) y[i] = train_y[perm[s + i]];
            ag_tensor *x = code_batch(t, train, mean, dim, perm + s, nb);
            ag_tensor *loss = ag_mean(t, ag_softmax_cross_entropy(t, ag_linear(t, x, w, b), y));
            ag_backward(t, loss);
            nn_optim_step(opt);
            nn_optim_zero_grad(opt);
            ag_tape_clear(t);
        }
    }
    ag_set_grad_enabled(t, false);
    int correct = 0;
    for (int s = 0; s < n_test; s += 1000) {
        int nb = n_test - s < 1000 ? n_test - s : 1000;
        for (int i = 0; i < nb; i++) perm[i] = s + i;
        ag_tensor *logits = ag_linear(t, code_batch(t, test, mean, dim, perm, nb), w, b);
        for (int i = 0; i < nb; i++) {
            const ag_real *l = logits->data + (size_t)i * classes;
            int arg = 0;
            for (int c = 1; c < classes; c++) arg = l[c] > l[arg] ? c : arg;
            correct += arg == test_y[s + i];
        }
        ag_tape_clear(t);
    }
    ag_tape_free(t);
    nn_optim_free(opt);
    nn_params_free(&ps);
    ag_tensor_free(w);
    ag_tensor_free(b);
    free(mean);
    free(perm);
    return (double)correct / n_test;
}
