/* vae.c — the VAE's model and its losses, line by line against the seeds:
 *   seed 000 eq. (6):  L = E_q[ln p(x|z)] − KL(q(z|x) ‖ p(z))
 *   seed 000 eq. (7)-(8): the expectation by L Monte-Carlo samples
 *   seed 001:            z = mu + σ·ε, ε ~ N(0, I)  (ag_reparameterize)
 *   seed 003 eq. (2.10): KL between diagonal Gaussians in closed form
 * and the importance-weighted bound of Burda et al. for evaluation (and IWAE training).
 * vae_loss, which picks the objective, lives with seed 002's objectives in
 * vae/vae_objectives.c (that file uses this one, never the reverse); the Gaussian densities
 * shared with the Boltzmann sampler are in vae/gaussian.c. */
#include "vae/vae.h"
#include "vae/gaussian.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Defaults and sanity of the seed 002 objectives' settings (see vae.h); non-zero on error. */
static int check_seed002(vae_config *c, nn_error *err) {
    bool info = c->objective == VAE_INFOVAE || c->objective == VAE_MMD;
    if (c->info_lambda == 0) c->info_lambda = 1000;
    if (c->mmd_scale <= 0) c->mmd_scale = 2.0 * c->z_dim;
    if (info || c->objective == VAE_BTCVAE) {
        if (c->samples > 1) {
            nn_fail(err, "vae: the InfoVAE, MMD and beta-TCVAE objectives use one z per "
                         "example, got samples = %d", c->samples);
            return -1;
        }
    }
    if (info) {
        double a = c->objective == VAE_MMD ? 1 : c->info_alpha, l = c->info_lambda;
        if (a > 1 || a + l < 1) { /* a negative weight would reward a divergence */
            nn_fail(err, "vae: InfoVAE needs alpha <= 1 and alpha + lambda >= 1 (weights "
                         "1-alpha = %g on the KL, alpha+lambda-1 = %g on the MMD)", 1 - a,
                    a + l - 1);
            return -1;
        }
    }
    if (c->objective == VAE_BTCVAE) {
        if (c->dataset_size < 1) {
            nn_fail(err, "vae: beta-TCVAE needs the dataset size N (dataset_size) for its "
                         "minibatch-weighted sampling");
            return -1;
        }
        if (c->tc_alpha < 0 || c->tc_beta < 0 || c->tc_gamma < 0 ||
            c->tc_alpha + c->tc_beta + c->tc_gamma == 0) {
            nn_fail(err, "vae: beta-TCVAE weights must be >= 0 and not all 0, got alpha %g, "
                         "beta %g, gamma %g", c->tc_alpha, c->tc_beta, c->tc_gamma);
            return -1;
        }
    }
    return 0;
}

vae *vae_new(const vae_config *cfg, nn_error *err) {
    vae *m = calloc(1, sizeof *m);
    if (!m) ag_error("vae_new", "out of memory");
    m->cfg = *cfg;
    m->training = true;
    if (m->cfg.samples < 1) m->cfg.samples = 1;
    if (m->cfg.beta == 0 && !cfg->warmup_steps) m->cfg.beta = 1;
    if (m->cfg.sigma <= 0) m->cfg.sigma = 1;
    if (cfg->z_dim < 1) {
        nn_fail(err, "vae: latent size must be at least 1, got %d", cfg->z_dim);
        free(m);
        return NULL;
    }
    if (check_seed002(&m->cfg, err)) {
        free(m);
        return NULL;
    }
    m->x_size = 1;
    for (int i = 0; i < cfg->x_ndim; i++) m->x_size *= cfg->x_shape[i];
    ag_rng rng;
    ag_rng_seed(&rng, cfg->seed);
    bool logistic = cfg->likelihood == VAE_LOGISTIC8;
    bool mix = cfg->likelihood == VAE_LOGISTIC8_MIX;
    if (mix && m->cfg.components < 1) m->cfg.components = 5;
    char why_out[80];
    snprintf(why_out, sizeof why_out, "%d per value of x: weight logits, locations, log-scales",
             3 * m->cfg.components);
    if (vae_build_coder_pair(cfg->encoder, cfg->encoder_text, cfg->decoder, cfg->decoder_text,
                             cfg->layer_types, cfg->x_ndim, cfg->x_shape, cfg->z_dim,
                             logistic ? 2 * m->x_size
                             : mix ? 3 * m->cfg.components * m->x_size : m->x_size,
                             logistic ? "two per value of x: locations, then log-scales"
                             : mix ? why_out : "one per value of x: logits or means", &rng,
                             &m->encoder, &m->decoder, &m->params, err))
        goto fail;
    if (cfg->likelihood == VAE_GAUSSIAN_LEARNED) {
        m->x_logvar = ag_param(1, (int[]){m->x_size});
        nn_params_add(&m->params, "likelihood", "logvar", m->x_logvar, true);
    }
    return m;
fail:
    vae_free(m);
    return NULL;
}

void vae_free(vae *m) {
    if (!m) return;
    nn_net_free(m->encoder);
    nn_net_free(m->decoder);
    ag_tensor_free(m->x_logvar);
    nn_params_free(&m->params);
    free(m);
}

nn_param_list *vae_params(vae *m) { return &m->params; }

/* ---- the pieces ------------------------------------------------------------------------- */

void vae_encode(vae *m, ag_tape *t, ag_tensor *x, ag_tensor **mu, ag_tensor **logvar) {
    vae_gauss_split(t, nn_forward(m->encoder, t, x, m->training), m->cfg.z_dim, mu, logvar);
}

ag_tensor *vae_decode_raw(vae *m, ag_tape *t, ag_tensor *z) {
    return nn_forward(m->decoder, t, z, m->training);
}

ag_tensor *vae_decode(vae *m, ag_tape *t, ag_tensor *z) {
    ag_tensor *raw = vae_decode_raw(m, t, z);
    if (m->cfg.likelihood == VAE_LOGISTIC8) { /* the locations, in x's shape */
        int shape[NN_MAX_SHAPE + 1] = {raw->shape[0]};
        for (int i = 0; i < m->cfg.x_ndim; i++) shape[i + 1] = m->cfg.x_shape[i];
        ag_tensor *loc = ag_slice(t, ag_reshape(t, raw, 2, (int[]){raw->shape[0], 2 * m->x_size}),
                                  1, 0, m->x_size);
        return ag_reshape(t, ag_clamp(t, loc, 0, 1), m->cfg.x_ndim + 1, shape);
    }
    if (m->cfg.likelihood == VAE_LOGISTIC8_MIX) { /* Σ_c π_c · (location c clamped) */
        int shape[NN_MAX_SHAPE + 1] = {raw->shape[0]}, K = m->cfg.components;
        for (int i = 0; i < m->cfg.x_ndim; i++) shape[i + 1] = m->cfg.x_shape[i];
        ag_tensor *r = ag_reshape(t, raw, 3, (int[]){raw->shape[0], 3 * K, m->x_size});
        ag_tensor *pi = ag_softmax(t, ag_slice(t, r, 1, 0, K), 1);
        ag_tensor *loc = ag_clamp(t, ag_slice(t, r, 1, K, 2 * K), 0, 1);
        return ag_reshape(t, ag_sum_axis(t, ag_mul(t, pi, loc), 1, false), m->cfg.x_ndim + 1,
                          shape);
    }
    return m->cfg.likelihood == VAE_BERNOULLI ? ag_sigmoid(t, raw) : raw;
}

ag_tensor *vae_sample(vae *m, ag_tape *t, int n) {
    return vae_decode(m, t, ag_randn(t, 2, (int[]){n, m->cfg.z_dim}, 1));
}

ag_tensor *vae_reconstruct(vae *m, ag_tape *t, ag_tensor *x) {
    ag_tensor *mu, *logvar;
    vae_encode(m, t, x, &mu, &logvar);
    return vae_decode(m, t, mu);
}

/* Rows of a 2-D view of x: (N, x_size). */
static ag_tensor *rows(ag_tape *t, ag_tensor *x) {
    return ag_reshape(t, x, 2, (int[]){x->shape[0], (int)(x->size / (size_t)x->shape[0])});
}

ag_tensor *vae_neg_log_likelihood(vae *m, ag_tape *t, ag_tensor *raw, ag_tensor *x) {
    raw = rows(t, raw);
    x = rows(t, x);
    ag_tensor *per_value;
    switch (m->cfg.likelihood) {
    case VAE_BERNOULLI:          /* −ln Bern(x; σ(l)) = BCE(l, x), also for grey x ∈ [0,1] */
        return ag_bce_with_logits_rows(t, raw, x);              /* (N): summed in one op */
    case VAE_GAUSSIAN: {         /* −ln N(x; mean, σ²): the squared error of seed 001 */
        ag_tensor *lv = ag_scalar(t, (ag_real)(2 * log(m->cfg.sigma)));
        per_value = ag_gaussian_nll(t, raw, lv, x);
        break;
    }
    case VAE_LOGISTIC8:          /* −ln p of the 8-bit value k = 255·x (ops_likelihood.c) */
        per_value = ag_discretized_logistic_nll(t, ag_slice(t, raw, 1, 0, m->x_size),
                                                ag_slice(t, raw, 1, m->x_size, 2 * m->x_size),
                                                x, 256);
        break;
    case VAE_LOGISTIC8_MIX: {    /* K weight logits, K locations, K log-scales per value */
        int kd = m->cfg.components * m->x_size;
        per_value = ag_discretized_logistic_mixture_nll(t, ag_slice(t, raw, 1, 0, kd),
                                                        ag_slice(t, raw, 1, kd, 2 * kd),
                                                        ag_slice(t, raw, 1, 2 * kd, 3 * kd),
                                                        x, 256);
        break;
    }
    case VAE_GAUSSIAN_LEARNED:
    default:
        per_value = ag_gaussian_nll(t, raw, m->x_logvar, x);
        break;
    }
    return ag_sum_axis(t, per_value, 1, false);                 /* (N) */
}

ag_tensor *vae_kl_normal(ag_tape *t, ag_tensor *mu, ag_tensor *logvar) {
    /* ½ Σ_j (mu² + σ² − 1 − ln σ²)  — seed 003 eq. (2.10) with the prior N(0, I) */
    ag_tensor *terms = ag_sub(t, ag_add(t, ag_square(t, mu), ag_exp(t, logvar)),
                              ag_add_scalar(t, logvar, 1));
    return ag_scale(t, ag_sum_axis(t, terms, 1, false), (ag_real)0.5);
}

/* x repeated k times along the batch: rows [x; x; ...; x], (k·N, ...). */
static ag_tensor *repeat_batch(ag_tape *t, ag_tensor *x, int k) {
    if (k == 1) return x;
    int n = x->shape[0];
    int *idx = ag_tape_alloc(t, sizeof(int) * (size_t)n * (size_t)k);
    for (int r = 0; r < k; r++)
        for (int i = 0; i < n; i++) idx[r * n + i] = i;
    return ag_index_select(t, x, idx, n * k);
}

ag_tensor *vae_log_weights(vae *m, ag_tape *t, ag_tensor *x, int k) {
    int n = x->shape[0];
    ag_tensor *mu, *logvar;
    vae_encode(m, t, x, &mu, &logvar);
    ag_tensor *mu_k = repeat_batch(t, mu, k), *lv_k = repeat_batch(t, logvar, k);
    ag_tensor *z = ag_reparameterize(t, mu_k, lv_k);                         /* (k·N, z) */
    ag_tensor *log_px_z = ag_neg(t, vae_neg_log_likelihood(m, t, vae_decode_raw(m, t, z),
                                                           repeat_batch(t, x, k)));
    ag_tensor *log_pz = vae_gauss_log_prior(t, z);                          /* ln N(z; 0, I) */
    ag_tensor *log_qz = vae_gauss_log_density(t, z, mu_k, lv_k);            /* ln q(z|x) */
    ag_tensor *log_w = ag_sub(t, ag_add(t, log_px_z, log_pz), log_qz);    /* (k·N) */
    return ag_reshape(t, log_w, 2, (int[]){k, n});
}

/* ---- the bounds as losses (vae_loss in vae_objectives.c picks one) ------------------------ */

ag_tensor *vae_iwae_loss(vae *m, ag_tape *t, ag_tensor *x, vae_stats *stats) {
    int L = m->cfg.samples;
    /* −ln (1/k) Σ_k w_k, the k-sample bound (k = samples). */
    ag_tensor *log_w = vae_log_weights(m, t, x, L);                          /* (k, N) */
    ag_tensor *bound = ag_add_scalar(t, ag_logsumexp_axis(t, log_w, 0, false),
                                     (ag_real)-log((double)L));             /* (N) */
    ag_tensor *loss = ag_neg(t, ag_mean(t, bound));
    if (stats) {
        /* For the log: the plain −ELBO, averaged over the same k draws (an unbiased
         * estimate of it); its split into recon and KL is not computed here. */
        memset(stats, 0, sizeof *stats);
        stats->loss = ag_item(loss);
        double s = 0;
        for (size_t i = 0; i < log_w->size; i++) s += log_w->data[i];
        stats->neg_elbo = -s / (double)log_w->size;
        stats->kl_weight = 1;
    }
    return loss;
}

ag_tensor *vae_elbo_loss(vae *m, ag_tape *t, ag_tensor *x, double w, vae_stats *stats) {
    int n = x->shape[0], L = m->cfg.samples;
    /* seed 000 eq. (8): −L = KL + (1/L) Σ_l −ln p(x|z_l), the L draws as one batch. */
    ag_tensor *mu, *logvar, *loss, *recon, *kl;
    vae_encode(m, t, x, &mu, &logvar);
    kl = vae_kl_normal(t, mu, logvar);                                        /* (N) */
    ag_tensor *z = ag_reparameterize(t, repeat_batch(t, mu, L), repeat_batch(t, logvar, L));
    ag_tensor *nll = vae_neg_log_likelihood(m, t, vae_decode_raw(m, t, z),
                                            repeat_batch(t, x, L));           /* (L·N) */
    recon = ag_scale(t, ag_sum(t, nll), (ag_real)(1.0 / ((double)L * n)));   /* mean */
    ag_tensor *kl_mean = ag_mean(t, kl);
    loss = ag_add(t, recon, ag_scale(t, kl_mean, (ag_real)w));
    if (stats) {
        memset(stats, 0, sizeof *stats);
        stats->recon = ag_item(recon);
        stats->kl = ag_item(kl_mean);
        stats->neg_elbo = stats->recon + stats->kl;
        stats->loss = ag_item(loss);
        stats->kl_weight = w;
    }
    return loss;
}

void vae_iwae_bound(vae *m, ag_tape *t, ag_tensor *x, int k, double *out) {
    /* ln (1/k) Σ w_k computed stably as max + ln Σ exp(· − max), in double, over chunks
     * of draws so that k = 5000 does not need k copies of the batch at once. */
    int n = x->shape[0];
    int chunk = 8192 / n > 1 ? 8192 / n : 1; /* draws per pass: about 8192 decoded rows */
    if (chunk > k) chunk = k;
    /* A private tape, cleared after each chunk, holds the chunk's intermediates; its noise
     * continues the caller's stream. */
    ag_tape *tt = ag_tape_new(ag_rng_u64(ag_tape_rng(t)));
    ag_set_grad_enabled(tt, false);
    double *mx = malloc(sizeof(double) * (size_t)n), *acc = malloc(sizeof(double) * (size_t)n);
    if (!mx || !acc) ag_error("vae_iwae_bound", "out of memory");
    for (int i = 0; i < n; i++) mx[i] = -INFINITY, acc[i] = 0;
    for (int done = 0; done < k; done += chunk) {
        int kk = k - done < chunk ? k - done : chunk;
        ag_tape_clear(tt);
        ag_tensor *lw = vae_log_weights(m, tt, x, kk);                        /* (kk, N) */
        for (int r = 0; r < kk; r++)
            for (int i = 0; i < n; i++) {
                double v = lw->data[(size_t)r * n + i];
                if (v > mx[i]) { acc[i] = acc[i] * exp(mx[i] - v) + 1; mx[i] = v; }
                else acc[i] += exp(v - mx[i]);
            }
    }
    ag_tape_free(tt);
    for (int i = 0; i < n; i++) out[i] = mx[i] + log(acc[i]) - log((double)k);
    free(mx);
    free(acc);
}

void vae_set_training(vae *m, bool on) { m->training = on; }
