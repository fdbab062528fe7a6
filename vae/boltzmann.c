/* boltzmann.c — the VAE trained as a sampler of μ(x) = e^−U(x)/Z (seed 003), and the
 * estimates its importance weights give.  See boltzmann.h for the derivation; the lines
 * below cite seed 003's equations where they implement them.
 *
 * One batch, decoder first:
 *   z ~ π(z) = N(0, I)                                  eq. (1.2)
 *   x ~ Q(x|z) = N(mean(z), diag e^logvar(z))           eq. (1.4), reparameterised
 *       or Π Bernoulli(σ(logit(z)))                     (binary x: the Ising model)
 *   P(z|x) = N(mu(x), diag e^logvar(x))                 eq. (1.3)
 *   log w = −U(x) + log P(z|x) − log π(z) − log Q(x|z)
 *   loss  = mean[log Q(x|z) − log P(z|x) + β·U(x)]      eq. (1.7), = −mean log w + const
 * With structure BZ_COPIES (an energy of independent copies) the same lines run on the
 * N·C rows of the copies, each with its one-hot code, and every term is a sum over copies. */
#include "vae/boltzmann.h"
#include "vae/gaussian.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- building ----------------------------------------------------------------------------- */

/* BZ_COPIES: the copies C, a copy's values b = dim / C and its latent size l = z_dim / C. */
static int n_copies(const bz_sampler *s) {
    return s->cfg.structure == BZ_COPIES ? s->energy.copies : 1;
}

static int check_copies(const bz_energy *e, const bz_config *c, nn_error *err) {
    int C = e->copies;
    if (e->binary || C < 1 || e->dim % C || c->z_dim % C)
        return nn_fail(err, "bz_new: structure 'copies' needs continuous x made of equal "
                            "independent copies and a latent size that is a multiple of "
                            "them (energy '%s': %d copies, dim %d%s; latent %d)",
                       e->name ? e->name : "?", C, e->dim, e->binary ? ", binary" : "",
                       c->z_dim);
    if (c->samples > 1 && c->copy_bound && !e->copy_energy)
        return nn_fail(err, "bz_new: the per-copy bound (samples %d) needs the energy of each "
                            "copy (bz_energy.copy_energy); energy '%s' has none: use the "
                            "joint bound", c->samples, e->name ? e->name : "?");
    return 0;
}

/* One network pair for all copies: the encoder sees (x_k, code of k), b + C values, and
 * gives 2·l; the decoder sees (z_k, code of k), l + C values, and gives 2·b. */
static int build_copies(bz_sampler *s, ag_rng *rng, nn_error *err) {
    const bz_config *c = &s->cfg;
    int C = s->energy.copies, b = s->energy.dim / C, l = c->z_dim / C;
    s->encoder = vae_build_net(c->encoder, c->encoder_text, c->layer_types, 1, (int[]){b + C},
                               rng, "encoder", err);
    if (!s->encoder) return -1;
    s->decoder = vae_build_net(c->decoder, c->decoder_text, c->layer_types, 1, (int[]){l + C},
                               rng, "decoder", err);
    if (!s->decoder) return -1;
    if (nn_net_out_size(s->encoder) != 2 * l)
        return nn_fail(err, "encoder: one copy's encoder must output 2 x latent/copies = %d "
                            "values (mu, then logvar), it outputs %d (end it with 'linear %d')",
                       2 * l, nn_net_out_size(s->encoder), 2 * l);
    if (nn_net_out_size(s->decoder) != 2 * b)
        return nn_fail(err, "decoder: one copy's decoder must output %d values (mean and "
                            "logvar of the copy's %d), it outputs %d (end it with 'linear %d')",
                       2 * b, b, nn_net_out_size(s->decoder), 2 * b);
    nn_params_extend(&s->params, "encoder", &s->encoder->params);
    nn_params_extend(&s->params, "decoder", &s->decoder->params);
    return 0;
}

bz_sampler *bz_new(const bz_energy *e, const bz_config *c, nn_error *err) {
    if (!e || !e->energy || e->dim < 1) {
        nn_fail(err, "bz_new: the energy needs a function and dim >= 1");
        return NULL;
    }
    if (c->z_dim < 1) {
        nn_fail(err, "bz_new: latent size must be at least 1, got %d", c->z_dim);
        return NULL;
    }
    if (e->n_obs < 0 || e->n_obs > BZ_MAX_OBS || (e->n_obs && !e->observe)) {
        nn_fail(err, "bz_new: %d observables (at most %d, and an observe function)", e->n_obs,
                BZ_MAX_OBS);
        return NULL;
    }
    if (c->structure == BZ_COPIES && check_copies(e, c, err)) return NULL;
    bz_sampler *s = calloc(1, sizeof *s);
    if (!s) ag_error("bz_new", "out of memory");
    s->cfg = *c;
    s->energy = *e;
    ag_rng rng;
    ag_rng_seed(&rng, c->seed);
    if (c->structure == BZ_COPIES) {
        if (build_copies(s, &rng, err)) goto fail;
        return s;
    }
    int dec_out = e->binary ? e->dim : 2 * e->dim;
    if (vae_build_coder_pair(c->encoder, c->encoder_text, c->decoder, c->decoder_text,
                             c->layer_types, 1, (int[]){e->dim}, c->z_dim, dec_out,
                             e->binary ? "one logit per bit" : "mean and logvar of each value of x",
                             &rng, &s->encoder, &s->decoder, &s->params, err))
        goto fail;
    return s;
fail:
    bz_free(s);
    return NULL;
}

void bz_free(bz_sampler *s) {
    if (!s) return;
    nn_net_free(s->encoder);
    nn_net_free(s->decoder);
    nn_params_free(&s->params);
    free(s);
}

nn_param_list *bz_params(bz_sampler *s) { return &s->params; }

/* ---- one batch of draws ------------------------------------------------------------------ */

typedef struct draws {
    ag_tensor *x;       /* (N, dim) */
    ag_tensor *log_q;   /* log Q(x|z)  (N) */
    ag_tensor *log_p;   /* log P(z|x)  (N) */
    ag_tensor *u;       /* U(x)        (N) */
    ag_tensor *z;       /* (N, z_dim) */
    double *log_pi;     /* log π(z)    (N), a constant of the parameters */
    /* BZ_COPIES: the same terms per copy, (N, C) (the ones above are their sums); u_c is
     * NULL when the energy has no copy_energy. */
    ag_tensor *log_q_c, *log_p_c, *u_c;
    double *log_pi_c;   /* (N·C) */
} draws;

/* ---- BZ_COPIES: row i·C + k of an (N·C, ·) batch is copy k of draw i ------------------------ */

/* rows (R, w), R a multiple of C, joined with the one-hot code of each row's copy:
 * (R, w + C), so that one shared network knows which copy it serves. */
static ag_tensor *with_code(ag_tape *t, ag_tensor *rows, int C) {
    int R = rows->shape[0];
    ag_tensor *code = ag_zeros(t, 2, (int[]){R, C});
    for (int r = 0; r < R; r++) code->data[(size_t)r * C + r % C] = 1;
    return ag_concat(t, (ag_tensor *[]){rows, code}, 2, 1);
}

/* v (N, C·w) as the rows (N·C, w) of its copies. */
static ag_tensor *copy_rows(ag_tape *t, ag_tensor *v, int C) {
    return ag_reshape(t, v, 2, (int[]){v->shape[0] * C, -1});
}

/* Per-copy terms (N·C) as (N, C). */
static ag_tensor *per_copy(ag_tape *t, ag_tensor *v, int C) {
    return ag_reshape(t, v, 2, (int[]){(int)v->size / C, C});
}

/* mu and logvar of P(z|x), eq. (1.3), each (N, z_dim); BZ_COPIES: of each copy's
 * P(z_k | x_k, k), each (N·C, l). */
static void encode(bz_sampler *s, ag_tape *t, ag_tensor *x, ag_tensor **mu, ag_tensor **lv) {
    int C = n_copies(s);
    if (s->cfg.structure == BZ_COPIES)
        x = with_code(t, copy_rows(t, x, C), C);
    vae_gauss_split(t, nn_forward(s->encoder, t, x, true), s->cfg.z_dim / C, mu, lv);
}

/* log P(z|x) per row (N): the encoder's Gaussian at z.  BZ_COPIES: per copy, (N, C). */
static ag_tensor *encoder_log_p(bz_sampler *s, ag_tape *t, ag_tensor *x, ag_tensor *z) {
    ag_tensor *mu, *lv;
    encode(s, t, x, &mu, &lv);
    if (s->cfg.structure != BZ_COPIES) return vae_gauss_log_density(t, z, mu, lv);
    int C = n_copies(s);
    return per_copy(t, vae_gauss_log_density(t, copy_rows(t, z, C), mu, lv), C);
}

/* BZ_COPIES: the decoder's Gaussian for the copies' latent rows zr (N·C, l): the mean and
 * logvar of each copy's x_k, each (N·C, b). */
static void decode_copies(bz_sampler *s, ag_tape *t, ag_tensor *zr, ag_tensor **mean,
                          ag_tensor **lv) {
    int C = n_copies(s), b = s->energy.dim / C, R = zr->shape[0];
    ag_tensor *h = nn_forward(s->decoder, t, with_code(t, zr, C), true);
    h = ag_reshape(t, h, 2, (int[]){R, (int)(h->size / (size_t)R)});
    *mean = ag_slice(t, h, 1, 0, b), *lv = ag_slice(t, h, 1, b, 2 * b);
}

/* A term's sum over the copies: (N, C) -> (N); (N) as it is. */
static ag_tensor *total(ag_tape *t, ag_tensor *v) {
    return v->ndim == 2 ? ag_sum_axis(t, v, 1, false) : v;
}

/* log Q(x|z) per row for given x and z (no sampling): the decoder's Gaussian or Bernoulli. */
static ag_tensor *decoder_log_q(bz_sampler *s, ag_tape *t, ag_tensor *z, ag_tensor *x) {
    int n = z->shape[0], d = s->energy.dim;
    ag_tensor *h = nn_forward(s->decoder, t, z, true);
    h = ag_reshape(t, h, 2, (int[]){n, (int)(h->size / (size_t)n)});
    if (s->energy.binary)
        return ag_neg(t, ag_sum_axis(t, ag_bce_with_logits(t, h, x), 1, false));
    return vae_gauss_log_density(t, x, ag_slice(t, h, 1, 0, d), ag_slice(t, h, 1, d, 2 * d));
}

/* U(x) as the energy returned it, (N), else a programmer's error. */
static ag_tensor *check_u(const bz_energy *e, ag_tensor *u, int n) {
    if (u->ndim != 1 || u->shape[0] != n) {
        char b[64];
        ag_error("bz_energy", "energy '%s' returned %s for a batch of %d (expected (%d))",
                 e->name ? e->name : "?", ag_shape_str(u, b, sizeof b), n, n);
    }
    return u;
}

/* BZ_COPIES: z ~ π, each copy's x_k ~ Q(x_k | z_k, k), the terms per copy and their sums. */
static draws draw_copies(bz_sampler *s, ag_tape *t, int n) {
    const bz_energy *e = &s->energy;
    int C = n_copies(s);
    draws r;
    r.z = ag_randn(t, 2, (int[]){n, s->cfg.z_dim}, 1);                 /* z ~ π, eq. (1.2) */
    ag_tensor *zr = copy_rows(t, r.z, C);                               /* (N·C, l) */
    r.log_pi_c = ag_tape_alloc(t, sizeof(double) * (size_t)n * C);
    r.log_pi = ag_tape_alloc(t, sizeof(double) * (size_t)n);
    vae_gauss_log_prior_rows(zr, r.log_pi_c);
    for (int i = 0; i < n; i++) {
        r.log_pi[i] = 0;
        for (int k = 0; k < C; k++) r.log_pi[i] += r.log_pi_c[(size_t)i * C + k];
    }
    ag_tensor *mean, *lv;
    decode_copies(s, t, zr, &mean, &lv);
    ag_tensor *xr = ag_reparameterize(t, mean, lv);        /* x_k = mean + σ·ε, eq. (1.4) */
    if (s->cfg.path_gradient) mean = ag_copy(t, mean), lv = ag_copy(t, lv);
    r.log_q_c = per_copy(t, vae_gauss_log_density(t, xr, mean, lv), C);
    r.x = ag_reshape(t, xr, 2, (int[]){n, e->dim});
    r.log_p_c = encoder_log_p(s, t, r.x, r.z);
    r.log_q = total(t, r.log_q_c), r.log_p = total(t, r.log_p_c);
    r.u_c = e->copy_energy ? e->copy_energy(e, t, r.x) : NULL;
    if (r.u_c && (r.u_c->ndim != 2 || r.u_c->shape[0] != n || r.u_c->shape[1] != C)) {
        char b[64];
        ag_error("bz_energy", "copy_energy of '%s' returned %s for a batch of %d (expected "
                 "(%d, %d))", e->name ? e->name : "?", ag_shape_str(r.u_c, b, sizeof b), n, n, C);
    }
    r.u = r.u_c ? total(t, r.u_c) : check_u(e, e->energy(e, t, r.x), n);
    return r;
}

static draws draw_batch(bz_sampler *s, ag_tape *t, int n) {
    if (s->cfg.structure == BZ_COPIES) return draw_copies(s, t, n);
    const bz_energy *e = &s->energy;
    int d = e->dim, zd = s->cfg.z_dim;
    draws r;
    ag_tensor *z = r.z = ag_randn(t, 2, (int[]){n, zd}, 1);             /* z ~ π, eq. (1.2) */
    r.log_pi = ag_tape_alloc(t, sizeof(double) * (size_t)n);
    vae_gauss_log_prior_rows(z, r.log_pi);                             /* log π(z), in double */
    ag_tensor *h = nn_forward(s->decoder, t, z, true);
    h = ag_reshape(t, h, 2, (int[]){n, (int)(h->size / (size_t)n)});
    if (e->binary) {
        /* x ~ Π Bernoulli(σ(logit)): drawn outside the tape, so x is a plain leaf. */
        r.x = ag_zeros(t, 2, (int[]){n, d});
        ag_rng *rng = ag_tape_rng(t);
        for (size_t i = 0; i < r.x->size; i++) {
            double p = 1 / (1 + exp(-(double)h->data[i]));
            r.x->data[i] = (ag_real)(ag_rng_uniform(rng) < p);
        }
        /* log Bern(x; σ(l)) = −BCE(l, x) */
        r.log_q = ag_neg(t, ag_sum_axis(t, ag_bce_with_logits(t, h, r.x), 1, false));
    } else {
        ag_tensor *mean = ag_slice(t, h, 1, 0, d), *lv = ag_slice(t, h, 1, d, 2 * d);
        r.x = ag_reparameterize(t, mean, lv);                 /* x = mean + σ·ε, eq. (1.4) */
        /* With path_gradient the density's own parameters are held fixed (copies), so the
         * decoder's gradient flows only through x. */
        if (s->cfg.path_gradient) mean = ag_copy(t, mean), lv = ag_copy(t, lv);
        r.log_q = vae_gauss_log_density(t, r.x, mean, lv);
    }
    r.log_p = encoder_log_p(s, t, r.x, z);
    r.u = check_u(e, e->energy(e, t, r.x), n);
    return r;
}

/* log w_i = −U + log P − log π − log Q, in double. */
static void log_weights(const draws *r, int n, double *log_w) {
    for (int i = 0; i < n; i++)
        log_w[i] = -(double)r->u->data[i] + r->log_p->data[i] - r->log_pi[i] - r->log_q->data[i];
}

/* ---- the loss ------------------------------------------------------------------------------ */

/* w̄ = softmax of log w within each group of K consecutive draws, into wbar; log_w holds
 * C units per draw (C copies, or 1: the draw), unit c of draw i at i·C + c, each unit its
 * own groups.  Returns Σ over groups and units of log (1/K) Σ_k w_k, the bound's sum. */
static double group_softmax(const double *log_w, int n, int K, int C, double *wbar) {
    double bound = 0;
    for (int c = 0; c < C; c++)
        for (int g = 0; g < n; g += K) {
            const double *l = log_w + (size_t)g * C + c;
            double *w = wbar + (size_t)g * C + c, mx = -INFINITY, sum = 0;
            for (int k = 0; k < K; k++) mx = fmax(mx, l[k * C]);
            for (int k = 0; k < K; k++) sum += w[k * C] = exp(l[k * C] - mx);
            for (int k = 0; k < K; k++) w[k * C] /= sum;
            bound += mx + log(sum / K);
        }
    return bound;
}

/* The score-function surrogate for binary x.  K = 1: ∇θ E[f] = E[(f − b) ∇θ log Q(x|z)]
 * with f = −log w_β and b the mean of the other draws' f (leave-one-out, so b_i does not
 * depend on x_i and the estimate stays unbiased).  K > 1: VIMCO (Mnih & Rezende 2016): draw
 * k's signal is L̂ − L̂₋ₖ, L̂₋ₖ the bound with log w_k replaced by the mean of the others,
 * and the direct term −w̄_k ∇θ log Q_k.  The encoder's gradient is Σ w̄_k ∇φ log P_k. */
static ag_tensor *score_surrogate(ag_tape *t, const draws *r, const double *lw, int n, int K,
                                  const double *wbar) {
    ag_tensor *cq = ag_zeros(t, 1, (int[]){n}), *cp = ag_zeros(t, 1, (int[]){n});
    int G = n / K;
    if (K == 1) {
        double sum = 0;
        for (int i = 0; i < n; i++) sum += lw[i];
        for (int i = 0; i < n; i++) {
            double b = (sum - lw[i]) / (n - 1);                 /* leave-one-out mean */
            cq->data[i] = (ag_real)(-(lw[i] - b) / n);           /* (f − b)/n, f = −log w */
            cp->data[i] = (ag_real)(-1.0 / n);
        }
    } else {
        for (int g = 0; g < n; g += K) {
            const double *l = lw + g;
            double mx = -INFINITY, sum = 0, tot = 0;
            for (int k = 0; k < K; k++) mx = fmax(mx, l[k]), tot += l[k];
            for (int k = 0; k < K; k++) sum += exp(l[k] - mx);
            double bound = mx + log(sum / K);                        /* L̂ */
            for (int k = 0; k < K; k++) {
                double geo = (tot - l[k]) / (K - 1);  /* the others' mean log w, in for w_k */
                double m2 = fmax(mx, geo);
                double s2 = sum * exp(mx - m2) - exp(l[k] - m2) + exp(geo - m2);
                double signal = bound - (m2 + log(fmax(s2, 1e-300) / K));  /* L̂ − L̂₋ₖ */
                cq->data[g + k] = (ag_real)(-(signal - wbar[g + k]) / G);
                cp->data[g + k] = (ag_real)(-wbar[g + k] / G);
            }
        }
    }
    return ag_add(t, ag_sum(t, ag_mul(t, cq, r->log_q)), ag_sum(t, ag_mul(t, cp, r->log_p)));
}

ag_tensor *bz_loss(bz_sampler *s, ag_tape *t, int n, double beta, bz_stats *stats) {
    int K = s->cfg.samples > 1 ? s->cfg.samples : 1;
    if (n < 2 || n % K)
        ag_error("bz_loss", "a batch needs at least 2 draws and a multiple of samples = %d, "
                 "got %d", K, n);
    draws r = draw_batch(s, t, n);
    /* The bound's units: the draw, or with BZ_COPIES and K > 1 each copy of a draw, whose
     * terms the energy gives (the per-copy bound, bz_config.copy_bound). */
    int C = K > 1 && s->cfg.structure == BZ_COPIES && s->cfg.copy_bound ? n_copies(s) : 1;
    ag_tensor *lq = C > 1 ? r.log_q_c : r.log_q, *lp = C > 1 ? r.log_p_c : r.log_p;
    ag_tensor *uu = C > 1 ? r.u_c : r.u;
    const double *lpi = C > 1 ? r.log_pi_c : r.log_pi;
    /* log w_β = −βU + log P − log π − log Q per unit, in double, and w̄ within groups. */
    double *lw = ag_tape_alloc(t, sizeof(double) * (size_t)n * C);
    double *wbar = ag_tape_alloc(t, sizeof(double) * (size_t)n * C);
    for (size_t i = 0; i < (size_t)n * C; i++)
        lw[i] = -beta * uu->data[i] + lp->data[i] - lpi[i] - lq->data[i];
    double bound = group_softmax(lw, n, K, C, wbar);
    ag_tensor *loss;
    if (s->energy.binary) {
        loss = score_surrogate(t, &r, lw, n, K, wbar);
    } else {
        /* The tape's log w (log π is a constant: left out), then −Σ c_i log w_i / G.
         * K = 1 gives mean[log Q − log P + βU], eq. (1.7).  K > 1: the importance-weighted
         * bound log (1/K) Σ w_k, whose gradient is Σ w̄_k ∇ log w_k; with path_gradient the
         * decoder's part uses w̄_k² instead (DReG, Tucker et al. 2019), so a second encoder
         * pass on a detached x carries the encoder's remaining (w̄ − w̄²) share. */
        ag_tensor *u = beta == 1 ? uu : ag_scale(t, uu, (ag_real)beta);
        ag_tensor *log_w = ag_sub(t, ag_sub(t, lp, lq), u);       /* (N), or (N, C) */
        int G = n / K;
        if (K == 1) {
            loss = ag_neg(t, ag_mean(t, log_w));
        } else {
            bool dreg = s->cfg.path_gradient;
            ag_tensor *c1 = ag_zeros(t, log_w->ndim, log_w->shape);
            ag_tensor *c2 = ag_zeros(t, log_w->ndim, log_w->shape);
            for (size_t i = 0; i < (size_t)n * C; i++) {
                double w = wbar[i];
                c1->data[i] = (ag_real)(-(dreg ? w * w : w) / G);
                c2->data[i] = (ag_real)(-(w - w * w) / G);
            }
            loss = ag_sum(t, ag_mul(t, c1, log_w));
            if (dreg) {
                ag_tensor *lpd = encoder_log_p(s, t, ag_copy(t, r.x), r.z);
                if (C == 1) lpd = total(t, lpd);
                loss = ag_add(t, loss, ag_sum(t, ag_mul(t, c2, lpd)));
            }
        }
    }
    if (stats) {
        double *lw1 = ag_tape_alloc(t, sizeof(double) * (size_t)n), usum = 0;
        log_weights(&r, n, lw1);
        bz_estimate est = bz_estimate_weights(lw1, n);
        for (int i = 0; i < n; i++) usum += r.u->data[i];
        *stats = (bz_stats){.objective = -bound / (n / K), .neg_log_w = -est.mean_log_w,
                            .mean_u = usum / n, .log_z = est.log_z, .ess = est.ess,
                            .beta = beta};
    }
    return loss;
}

double bz_train_step(bz_sampler *s, nn_optim *opt, ag_tape *t, int n, double beta,
                     bz_stats *stats) {
    ag_tensor *loss = bz_loss(s, t, n, beta, stats);
    ag_backward(t, loss);
    double norm = nn_optim_step(opt);
    nn_optim_zero_grad(opt);
    ag_tape_clear(t);
    return norm;
}

double bz_anneal_beta(long step, long steps, double beta0) {
    if (steps <= 0 || beta0 >= 1 || step >= steps) return 1;
    if (beta0 <= 0) ag_error("bz_anneal_beta", "beta0 must be > 0, got %g", beta0);
    return beta0 * pow(1 / beta0, (double)step / (double)steps);   /* β₀^(1 − s/S) */
}

/* ---- drawing and estimating ---------------------------------------------------------------- */

/* BZ_COPIES, bz_draw's m > 0: per copy, log r_0 = log π(z_k) + log Q(x_k|z_k) −
 * log P(z_k|x_k), then m draws z_kj ~ P(z_k|x_k) in a running log-sum-exp, and
 * log w = −U + Σ_k [log(m+1) − log Σ_j r_kj].  lse and lpi hold n·C values. */
static void copies_latent_draws(bz_sampler *s, ag_tape *t, const draws *r, int n, int m,
                                double *lse, double *lpi, double *log_w) {
    int C = n_copies(s);
    size_t R = (size_t)n * C;
    for (size_t i = 0; i < R; i++)
        lse[i] = r->log_pi_c[i] + r->log_q_c->data[i] - r->log_p_c->data[i];
    ag_tensor *mu, *lv, *xr = copy_rows(t, r->x, C);
    encode(s, t, r->x, &mu, &lv);
    for (int j = 1; j <= m; j++) {
        ag_tensor *zj = ag_reparameterize(t, mu, lv), *mean, *dlv;
        decode_copies(s, t, zj, &mean, &dlv);
        ag_tensor *lq = vae_gauss_log_density(t, xr, mean, dlv);
        ag_tensor *lp = vae_gauss_log_density(t, zj, mu, lv);
        vae_gauss_log_prior_rows(zj, lpi);
        for (size_t i = 0; i < R; i++) {
            double v = lpi[i] + lq->data[i] - lp->data[i], a = fmax(lse[i], v);
            lse[i] = a + log(exp(lse[i] - a) + exp(v - a));
        }
    }
    for (int i = 0; i < n; i++) {
        log_w[i] = -(double)r->u->data[i];
        for (int k = 0; k < C; k++) log_w[i] += log(m + 1.0) - lse[(size_t)i * C + k];
    }
}

void bz_draw(bz_sampler *s, int n, int m, uint64_t seed, ag_real *x, double *log_w,
             double *u) {
    int d = s->energy.dim, chunk = 4096, C = n_copies(s);
    ag_tape *t = ag_tape_new(seed);
    ag_set_grad_enabled(t, false);
    double *lse = malloc(sizeof(double) * chunk * C), *lpi = malloc(sizeof(double) * chunk * C);
    if (!lse || !lpi) ag_error("bz_draw", "out of memory");
    for (int done = 0; done < n; done += chunk) {
        int k = n - done < chunk ? n - done : chunk;
        ag_tape_clear(t);
        draws r = draw_batch(s, t, k);
        log_weights(&r, k, log_w + done);
        if (m > 0 && s->cfg.structure == BZ_COPIES) {
            copies_latent_draws(s, t, &r, k, m, lse, lpi, log_w + done);
        } else if (m > 0) {
            /* log r_j = log π(z_j) + log Q(x|z_j) − log P(z_j|x), z_0 the generating latent,
             * z_1..m ~ P(z|x); log w = −U + log(m+1) − log Σ_j r_j (see bz_draw in the
             * header: unbiased, since z_0 is an exact draw of the decoder's posterior). */
            for (int i = 0; i < k; i++) lse[i] = -(log_w[done + i] + r.u->data[i]); /* log r_0 */
            ag_tensor *mu, *lv;
            encode(s, t, r.x, &mu, &lv);
            for (int j = 1; j <= m; j++) {
                ag_tensor *zj = ag_reparameterize(t, mu, lv);
                ag_tensor *lq = decoder_log_q(s, t, zj, r.x);
                ag_tensor *lp = vae_gauss_log_density(t, zj, mu, lv);
                vae_gauss_log_prior_rows(zj, lpi);
                for (int i = 0; i < k; i++) {             /* running log-sum-exp */
                    double v = lpi[i] + lq->data[i] - lp->data[i], a = fmax(lse[i], v);
                    lse[i] = a + log(exp(lse[i] - a) + exp(v - a));
                }
            }
            for (int i = 0; i < k; i++)
                log_w[done + i] = -(double)r.u->data[i] + log(m + 1.0) - lse[i];
        }
        if (x) memcpy(x + (size_t)done * d, r.x->data, sizeof(ag_real) * (size_t)k * d);
        if (u)
            for (int i = 0; i < k; i++) u[done + i] = r.u->data[i];
    }
    free(lse), free(lpi);
    ag_tape_free(t);
}

void bz_log_densities(bz_sampler *s, int n, const ag_real *z, const ag_real *x, double *log_q,
                      double *log_p) {
    ag_tape *t = ag_tape_new(0);
    ag_set_grad_enabled(t, false);
    ag_tensor *zt = ag_from_data(t, 2, (int[]){n, s->cfg.z_dim}, z);
    ag_tensor *xt = ag_from_data(t, 2, (int[]){n, s->energy.dim}, x);
    ag_tensor *lq, *lp = total(t, encoder_log_p(s, t, xt, zt));
    if (s->cfg.structure == BZ_COPIES) {
        int C = n_copies(s);
        ag_tensor *mean, *lv;
        decode_copies(s, t, copy_rows(t, zt, C), &mean, &lv);
        lq = total(t, per_copy(t, vae_gauss_log_density(t, copy_rows(t, xt, C), mean, lv), C));
    } else {
        lq = decoder_log_q(s, t, zt, xt);
    }
    for (int i = 0; i < n; i++) {
        if (log_q) log_q[i] = lq->data[i];
        if (log_p) log_p[i] = lp->data[i];
    }
    ag_tape_free(t);
}

bz_estimate bz_estimate_weights(const double *log_w, int n) {
    bz_estimate e = {.n = n, .log_z = NAN, .log_z_se = NAN, .ess = NAN, .mean_log_w = NAN,
                     .max_w = NAN};
    if (n < 1) return e;
    double mx = -INFINITY, s1 = 0, s2 = 0, sl = 0, big = 0;
    for (int i = 0; i < n; i++)
        if (log_w[i] > mx) mx = log_w[i];
    if (!isfinite(mx)) return e;
    for (int i = 0; i < n; i++) {           /* w_i / w_max, so nothing overflows */
        double w = exp(log_w[i] - mx);
        s1 += w, s2 += w * w, sl += log_w[i];
        if (w > big) big = w;
    }
    double mean = s1 / n, var = s2 / n - mean * mean;
    e.log_z = mx + log(mean);                            /* ln (1/n) Σ w */
    e.log_z_se = sqrt((var > 0 ? var : 0) / n) / mean;  /* sd(w) / (√n mean w) */
    e.ess = s1 * s1 / s2 / n;                            /* (Σw)² / Σw² / n */
    e.mean_log_w = sl / n;
    e.max_w = big / s1;
    return e;
}

double bz_expect(const double *log_w, const double *f, int stride, int n) {
    double mx = -INFINITY, sw = 0, swf = 0;
    for (int i = 0; i < n; i++)
        if (log_w[i] > mx) mx = log_w[i];
    for (int i = 0; i < n; i++) {
        double w = exp(log_w[i] - mx);
        sw += w, swf += w * f[(size_t)i * stride];
    }
    return swf / sw;                                     /* Σ w f / Σ w */
}

double bz_kl_bound(const bz_estimate *est, double log_z_exact) {
    return log_z_exact - est->mean_log_w;   /* E[log π Q − log μ P] = log Z − E[log w] */
}

double bz_kl_isotropic(int d, const double *mu_x, double var_x, const double *mu_y,
                       double var_y) {
    double dist = 0;
    for (int j = 0; j < d; j++) dist += (mu_y[j] - mu_x[j]) * (mu_y[j] - mu_x[j]);
    /* ½ [d ln(σ_y²/σ_x²) − d + d σ_x²/σ_y² + |μ_y − μ_x|²/σ_y²], seed 003 eq. (2.10) with the
     * d that multiplies the log term (ln det(σ² I_d) = d ln σ²) */
    return 0.5 * (d * log(var_y / var_x) - d + d * var_x / var_y + dist / var_y);
}
