/* vae_objectives.c — seed 002's answers to the "harmful" KL term, composed from tape ops so that
 * every piece is differentiable and gradchecked like any other loss:
 *   - vae_mmd: the MMD² between two samples (Gretton et al.), the divergence D(q(z) ‖ p(z))
 *     of InfoVAE (Zhao et al.), seed 002 eq. (6);
 *   - vae_kl_decompose: index-code MI, total correlation and dimension-wise KL of a batch by
 *     minibatch-weighted sampling (Chen et al. 2018), seed 002 eq. (5) and (7);
 *   - the InfoVAE / MMD-VAE and β-TCVAE training losses;
 *   - vae_loss, which picks the configured objective (these, or the ELBO and IWAE bounds of
 *     vae/vae.c) and applies the KL warm-up.
 * This file builds on vae.c (encode, decode, likelihood, KL); vae.c never calls back here. */
#include "vae/vae.h"
#include "vae/gaussian.h"

#include <math.h>
#include <string.h>

/* ---- MMD ------------------------------------------------------------------------------ */

/* K[i][j] = k(a_i, b_j), (n, m).  The squared distances come from broadcasting a (n,1,d)
 * against b (1,m,d) rather than from ‖a‖² + ‖b‖² − 2a·b: O(n·m·d) memory, but exact — in
 * particular ‖a_i − a_i‖² is exactly 0, which the U-statistic below relies on. */
static ag_tensor *kernel_matrix(ag_tape *t, ag_tensor *a, ag_tensor *b, vae_kernel kernel,
                                double s) {
    int n = a->shape[0], m = b->shape[0], d = a->shape[1];
    ag_tensor *diff = ag_sub(t, ag_reshape(t, a, 3, (int[]){n, 1, d}),
                             ag_reshape(t, b, 3, (int[]){1, m, d}));     /* (n, m, d) */
    ag_tensor *d2 = ag_sum_axis(t, ag_square(t, diff), 2, false);         /* ‖a_i − b_j‖² */
    if (kernel == VAE_KERNEL_IMQ)                                          /* s / (s + d²) */
        return ag_pow(t, ag_add_scalar(t, ag_scale(t, d2, (ag_real)(1 / s)), 1), -1);
    return ag_exp(t, ag_scale(t, d2, (ag_real)(-1 / s)));                 /* e^(−d²/s) */
}

ag_tensor *vae_mmd(ag_tape *t, ag_tensor *a, ag_tensor *b, vae_kernel kernel, double scale,
                   bool unbiased) {
    if (a->ndim != 2 || b->ndim != 2 || a->shape[1] != b->shape[1]) {
        char sa[64], sb[64];
        ag_error("vae_mmd", "expected two sets of rows of one width, got %s and %s",
                 ag_shape_str(a, sa, sizeof sa), ag_shape_str(b, sb, sizeof sb));
    }
    int n = a->shape[0], m = b->shape[0];
    if (!(scale > 0)) ag_error("vae_mmd", "kernel scale must be > 0, got %g", scale);
    if (unbiased && (n < 2 || m < 2))
        ag_error("vae_mmd", "the unbiased estimate needs at least 2 rows each, got %d and %d", n, m);
    ag_tensor *saa = ag_sum(t, kernel_matrix(t, a, a, kernel, scale));
    ag_tensor *sbb = ag_sum(t, kernel_matrix(t, b, b, kernel, scale));
    ag_tensor *sab = ag_sum(t, kernel_matrix(t, a, b, kernel, scale));
    ag_tensor *eaa, *ebb;
    if (unbiased) {
        /* mean over i ≠ j: drop the n diagonal terms k(a_i, a_i) = k(0) = 1 (their gradient
         * is exactly 0: the distance is exactly 0) */
        eaa = ag_scale(t, ag_add_scalar(t, saa, (ag_real)-n), (ag_real)(1.0 / ((double)n * (n - 1))));
        ebb = ag_scale(t, ag_add_scalar(t, sbb, (ag_real)-m), (ag_real)(1.0 / ((double)m * (m - 1))));
    } else {
        eaa = ag_scale(t, saa, (ag_real)(1.0 / ((double)n * n)));
        ebb = ag_scale(t, sbb, (ag_real)(1.0 / ((double)m * m)));
    }
    ag_tensor *eab = ag_scale(t, sab, (ag_real)(-2.0 / ((double)n * m)));
    return ag_add(t, ag_add(t, eaa, ebb), eab);   /* E k(a,a') + E k(b,b') − 2 E k(a,b) */
}

/* ---- minibatch-weighted sampling -------------------------------------------------------- */

vae_kl_terms vae_kl_decompose(ag_tape *t, ag_tensor *z, ag_tensor *mu, ag_tensor *logvar,
                              double dataset_size) {
    if (z->ndim != 2 || !ag_same_shape(z, mu) || !ag_same_shape(z, logvar)) {
        char sz[64], sm[64], sl[64];
        ag_error("vae_kl_decompose", "z %s, mu %s and logvar %s must be the same (M, d)",
                 ag_shape_str(z, sz, sizeof sz), ag_shape_str(mu, sm, sizeof sm),
                 ag_shape_str(logvar, sl, sizeof sl));
    }
    int M = z->shape[0], d = z->shape[1];
    if (dataset_size < M)
        ag_error("vae_kl_decompose", "dataset size %g is smaller than the batch %d", dataset_size, M);
    int cube[3] = {M, M, d};
    /* lq[i][j][k] = ln q(z_ik | x_j): every draw under every posterior of the batch. */
    ag_tensor *zi = ag_broadcast_to(t, ag_reshape(t, z, 3, (int[]){M, 1, d}), 3, cube);
    ag_tensor *mj = ag_broadcast_to(t, ag_reshape(t, mu, 3, (int[]){1, M, d}), 3, cube);
    ag_tensor *lj = ag_broadcast_to(t, ag_reshape(t, logvar, 3, (int[]){1, M, d}), 3, cube);
    ag_tensor *lq = ag_neg(t, ag_gaussian_nll(t, mj, lj, zi));             /* (M, M, d) */
    ag_real c = (ag_real)-log(dataset_size * M);                             /* − ln(N·M) */
    /* ln q(z_i) ≈ logsumexp_j Σ_k lq[i][j][k] − ln(N·M) */
    ag_tensor *log_qz = ag_add_scalar(t, ag_logsumexp_axis(t, ag_sum_axis(t, lq, 2, false), 1,
                                                           false), c);       /* (M) */
    /* Σ_k ln q_k(z_ik) ≈ Σ_k [logsumexp_j lq[i][j][k] − ln(N·M)] */
    ag_tensor *log_prod = ag_sum_axis(t, ag_add_scalar(t, ag_logsumexp_axis(t, lq, 1, false), c),
                                      1, false);                             /* (M) */
    ag_tensor *log_qzx = vae_gauss_log_density(t, z, mu, logvar);           /* ln q(z_i|x_i) */
    ag_tensor *log_pz = vae_gauss_log_prior(t, z);                          /* ln p(z_i) */
    return (vae_kl_terms){
        .mi = ag_mean(t, ag_sub(t, log_qzx, log_qz)),      /* index-code MI */
        .tc = ag_mean(t, ag_sub(t, log_qz, log_prod)),     /* total correlation, eq. (7) */
        .dim_kl = ag_mean(t, ag_sub(t, log_prod, log_pz)), /* Σ_k KL(q(z_k) ‖ p(z_k)) */
    };
}

/* ---- the losses ------------------------------------------------------------------------- */

/* The shared front: encode, draw one z per example, −ln p(x|z) and the closed-form KL,
 * each a mean over the batch. */
typedef struct { ag_tensor *mu, *logvar, *z, *recon, *kl; } front;

static front encode_decode(vae *m, ag_tape *t, ag_tensor *x) {
    front f;
    vae_encode(m, t, x, &f.mu, &f.logvar);
    f.z = ag_reparameterize(t, f.mu, f.logvar);                             /* (N, z_dim) */
    f.recon = ag_mean(t, vae_neg_log_likelihood(m, t, vae_decode_raw(m, t, f.z), x));
    f.kl = ag_mean(t, vae_kl_normal(t, f.mu, f.logvar));
    return f;
}

static void fill_stats(vae_stats *st, const front *f, ag_tensor *loss, double kl_weight) {
    memset(st, 0, sizeof *st);
    st->recon = ag_item(f->recon);
    st->kl = ag_item(f->kl);
    st->neg_elbo = st->recon + st->kl;
    st->loss = ag_item(loss);
    st->kl_weight = kl_weight;
}

ag_tensor *vae_infovae_loss(vae *m, ag_tape *t, ag_tensor *x, double kl_scale,
                            vae_stats *stats) {
    const vae_config *c = &m->cfg;
    double alpha = c->objective == VAE_MMD ? 1 : c->info_alpha, lambda = c->info_lambda;
    front f = encode_decode(m, t, x);
    /* D(q(z) ‖ p(z)): the batch's codes z ~ q(z|x) against as many draws of p(z) = N(0, I) */
    ag_tensor *prior = ag_randn(t, 2, (int[]){f.z->shape[0], c->z_dim}, 1);
    ag_tensor *mmd = vae_mmd(t, f.z, prior, c->mmd_kernel, c->mmd_scale, true);
    /* Zhao et al.: −L = recon + (1−α)·KL(q(z|x) ‖ p(z)) + (α+λ−1)·D(q(z) ‖ p(z)) */
    double w_kl = (1 - alpha) * kl_scale, w_mmd = alpha + lambda - 1;
    ag_tensor *loss = ag_add(t, f.recon, ag_scale(t, mmd, (ag_real)w_mmd));
    if (w_kl != 0) loss = ag_add(t, loss, ag_scale(t, f.kl, (ag_real)w_kl));
    if (stats) {
        fill_stats(stats, &f, loss, w_kl);
        stats->mmd = ag_item(mmd);
    }
    return loss;
}

ag_tensor *vae_btcvae_loss(vae *m, ag_tape *t, ag_tensor *x, double kl_scale,
                           vae_stats *stats) {
    const vae_config *c = &m->cfg;
    front f = encode_decode(m, t, x);
    vae_kl_terms k = vae_kl_decompose(t, f.z, f.mu, f.logvar, c->dataset_size);
    /* seed 002 eq. (5) + (7), each term with its weight: recon + α·MI + β·TC + γ·dim-KL */
    ag_tensor *reg = ag_add(t, ag_add(t, ag_scale(t, k.mi, (ag_real)c->tc_alpha),
                                      ag_scale(t, k.tc, (ag_real)c->tc_beta)),
                            ag_scale(t, k.dim_kl, (ag_real)c->tc_gamma));
    ag_tensor *loss = ag_add(t, f.recon, ag_scale(t, reg, (ag_real)kl_scale));
    if (stats) {
        fill_stats(stats, &f, loss, kl_scale);
        stats->mi = ag_item(k.mi);
        stats->tc = ag_item(k.tc);
        stats->dim_kl = ag_item(k.dim_kl);
    }
    return loss;
}

/* ---- the objective of the config ------------------------------------------------------- */

ag_tensor *vae_loss(vae *m, ag_tape *t, ag_tensor *x, bool training, vae_stats *stats) {
    const vae_config *c = &m->cfg;
    double ramp = 1;                               /* the warm-up factor, 0 → 1 */
    if (c->warmup_steps > 0 && m->step < c->warmup_steps)
        ramp = (double)m->step / c->warmup_steps;
    if (training) m->step++;
    switch (c->objective) {
    /* seed 002: the warm-up scales InfoVAE's and β-TCVAE's KL-type weights by the same
     * factor as the ELBO's β */
    case VAE_INFOVAE:
    case VAE_MMD: return vae_infovae_loss(m, t, x, ramp, stats);
    case VAE_BTCVAE: return vae_btcvae_loss(m, t, x, ramp, stats);
    case VAE_IWAE: return vae_iwae_loss(m, t, x, stats);
    case VAE_ELBO:
    default: return vae_elbo_loss(m, t, x, c->beta * ramp, stats);
    }
}
