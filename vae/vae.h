/* vae.h — the variational autoencoder of seeds 000 and 001, declared from layer specs.
 *
 * Model (seed 000, fig. 1 and eq. (1)):  p(x) = ∫ p(x|z) p(z) dz,  p(z) = N(0, I),
 *   encoder  q(z|x) = N(mu(x), diag exp(logvar(x)))   — the encoder spec outputs 2·z_dim
 *            values per example: mu first, then logvar;
 *   decoder  p(x|z): Bernoulli with logits, or Gaussian with a fixed or learned variance —
 *            the decoder spec outputs one value per value of x (logits or means); or the
 *            discretized logistic over 8-bit values — two per value of x (locations, then
 *            log-scales), so its −ln p is in nats of the 8-bit image.
 * Training maximises the ELBO, seed 000 eq. (8):
 *   L(x) ≈ (1/L) Σ_l ln p(x|z_l) − KL(q(z|x) ‖ p(z)),  z_l = mu + σ·ε_l  (seed 001),
 * with the KL in closed form (seed 003 eq. (2.10)).  Everything is in nats per example.
 *
 * Example (compiled by make test: tests/programs/header_examples.sh):
 *   vae *m = vae_new(&(vae_config){ .x_ndim = 3, .x_shape = {1, 28, 28}, .z_dim = 20,
 *                    .encoder_text = "linear 400, relu, linear 40",
 *                    .decoder_text = "linear 400, relu, linear 784",
 *                    .likelihood = VAE_BERNOULLI }, &err);
 *   vae_stats st;
 *   ag_tensor *loss = vae_loss(m, tape, x, true, &st); // −ELBO, mean over the batch
 *   ag_backward(tape, loss);
 */
#ifndef HENBUN_VAE_H
#define HENBUN_VAE_H

#include "nn/nn.h"

HENBUN_BEGIN_DECLS

typedef enum {
    VAE_BERNOULLI = 0,       /* x in [0,1]; decoder outputs logits; −ln p = BCE */
    VAE_GAUSSIAN,            /* decoder outputs means; fixed σ (config.sigma) */
    VAE_GAUSSIAN_LEARNED,    /* decoder outputs means; one learned log σ² per value of x */
    VAE_LOGISTIC8,           /* x = k/255, 8-bit values; decoder outputs a location, then
                                a log-scale, per value of x (2× x's size); −ln p is the
                                discretized logistic (ag_discretized_logistic_nll) */
    VAE_LOGISTIC8_MIX,       /* the same with a mixture of config.components logistics per
                                value (PixelCNN++): the decoder outputs K weight logits, K
                                locations, K log-scales per value (3K× x's size), each
                                group component-major (ag_discretized_logistic_mixture_nll) */
} vae_likelihood;

typedef enum {
    VAE_ELBO = 0,            /* seed 000 eq. (8), with β on the KL term */
    VAE_IWAE,                /* importance-weighted bound with k = samples (Burda et al.) */
    VAE_INFOVAE,             /* Zhao et al.: recon + (1−α)·KL + (α+λ−1)·MMD²(q(z), p(z)) */
    VAE_MMD,                 /* the same with α = 1: the MMD-VAE of seed 002 eq. (6) */
    VAE_BTCVAE,              /* Chen et al.: recon + α·MI + β·TC + γ·dim-KL, seed 002 eq. (5), (7) */
} vae_objective;

/* Kernels of the MMD (vae/vae_objectives.c); s = config.mmd_scale. */
typedef enum {
    VAE_KERNEL_GAUSSIAN = 0, /* k(a,b) = exp(−‖a−b‖² / s), i.e. 2σ² = s */
    VAE_KERNEL_IMQ,          /* inverse multiquadric k(a,b) = s / (s + ‖a−b‖²) (Tolstikhin et al.) */
} vae_kernel;

typedef struct vae_config {
    int x_ndim, x_shape[NN_MAX_SHAPE];  /* per-example data shape, e.g. 3, {1, 28, 28} */
    int z_dim;
    const nn_spec *encoder, *decoder;   /* spec arrays, or ... */
    const char *encoder_text, *decoder_text; /* ... spec text (used when arrays are NULL) */
    /* NULL-terminated array of the user's layer types that the spec text may name (as
     * nn_net_parse's `extra`, docs/add-a-layer.md); NULL: built-in types only.  Spec
     * arrays take any type's address directly. */
    const nn_layer_type *const *layer_types;
    vae_likelihood likelihood;
    double sigma;        /* VAE_GAUSSIAN: the fixed standard deviation (default 1) */
    int components;      /* VAE_LOGISTIC8_MIX: logistics per value K (default 5) */
    vae_objective objective;
    int samples;         /* L of eq. (7)-(8) (ELBO), or k (IWAE); default 1 */
    double beta;         /* weight of the KL term (β-VAE); default 1 */
    int warmup_steps;    /* KL weight rises linearly from 0 to β over this many steps */
    uint64_t seed;       /* parameter initialisation */
    /* VAE_INFOVAE / VAE_MMD (seed 002 eq. (6)); both use one z per example (samples = 1). */
    double info_alpha;   /* α (VAE_MMD forces 1); needs α ≤ 1 and α + λ ≥ 1 */
    double info_lambda;  /* λ; 0 means the default 1000 (Zhao et al.'s MNIST value) */
    vae_kernel mmd_kernel;
    double mmd_scale;    /* s of the kernel; 0 means 2·z_dim (= E‖a−b‖² for a, b ~ N(0, I)) */
    /* VAE_BTCVAE (seed 002 eq. (7)): the weights of index-code MI, total correlation and
     * dimension-wise KL, taken as given — 0 switches a term off, and (0, 1, 1) is seed 002
     * eq. (6)-(7), the ELBO plus I(x;z).  Chen et al. use (1, β, 1). */
    double tc_alpha, tc_beta, tc_gamma;
    int dataset_size;    /* N of minibatch-weighted sampling (required by VAE_BTCVAE) */
} vae_config;

typedef struct vae {
    vae_config cfg;
    nn_net *encoder, *decoder;
    ag_tensor *x_logvar;     /* VAE_GAUSSIAN_LEARNED: (x size), else NULL */
    nn_param_list params;    /* "encoder.*", "decoder.*", "likelihood.logvar" */
    int x_size;              /* values per example */
    long step;               /* training steps taken (drives the KL warm-up) */
    bool training;           /* layers in training mode (dropout, batch norm); default true */
} vae;

/* Per-batch figures, averaged over examples, in nats. */
typedef struct vae_stats {
    double loss;     /* the objective minimised (−ELBO with β and warm-up, or −IWAE) */
    double neg_elbo; /* recon + kl, β = 1 */
    double recon;    /* −E_q ln p(x|z) */
    double kl;       /* KL(q(z|x) ‖ p(z)) */
    double kl_weight;/* β after warm-up at this step */
    double mmd;      /* VAE_INFOVAE / VAE_MMD: MMD² of the batch's codes to prior draws */
    double mi, tc, dim_kl; /* VAE_BTCVAE: minibatch-weighted-sampling estimates (see
                              vae_kl_decompose for their offsets) */
} vae_stats;

/* Builds the networks (encoder input = x_shape, decoder input = (z_dim)) and checks that
 * their output sizes fit: 2·z_dim for the encoder, x's size for the decoder.  NULL with
 * err filled on a spec or shape error. */
vae *vae_new(const vae_config *cfg, nn_error *err);
/* Frees the networks, the parameters and the model itself; NULL is fine. */
void vae_free(vae *m);
/* Every trainable tensor ("encoder.*", "decoder.*", "likelihood.logvar"); owned by m, valid
 * until vae_free.  Hand it to an optimizer or a checkpoint. */
nn_param_list *vae_params(vae *m);

/* The training loss for a batch x (N, x_shape...): a scalar, the mean over the batch of
 * −ELBO (or −IWAE).  Fills stats if non-NULL.  training=true advances the warm-up step. */
ag_tensor *vae_loss(vae *m, ag_tape *t, ag_tensor *x, bool training, vae_stats *stats);
/* The two bounds as losses, which vae_loss picks between (no warm-up bookkeeping here):
 * the −ELBO of seed 000 eq. (8) with L = samples draws and weight kl_weight on the KL, and
 * the −IWAE bound −ln (1/k) Σ_k w_k with k = samples. */
ag_tensor *vae_elbo_loss(vae *m, ag_tape *t, ag_tensor *x, double kl_weight, vae_stats *stats);
ag_tensor *vae_iwae_loss(vae *m, ag_tape *t, ag_tensor *x, vae_stats *stats);
/* mu and logvar of q(z|x), each (N, z_dim). */
void vae_encode(vae *m, ag_tape *t, ag_tensor *x, ag_tensor **mu, ag_tensor **logvar);
/* Decoder output for z (N, z_dim): logits (Bernoulli) or means (Gaussian), (N, x_shape...);
 * VAE_LOGISTIC8: locations then log-scales, twice x's size per example. */
ag_tensor *vae_decode_raw(vae *m, ag_tape *t, ag_tensor *z);
/* The mean of p(x|z): probabilities σ(logits) or the Gaussian means, (N, x_shape...);
 * VAE_LOGISTIC8: the logistic's locations clamped to [0, 1]. */
ag_tensor *vae_decode(vae *m, ag_tape *t, ag_tensor *z);
/* n draws z ~ p(z) decoded to the mean of p(x|z). */
ag_tensor *vae_sample(vae *m, ag_tape *t, int n);
/* Decoded mean of p(x|z) at z = mu(x) (the usual "reconstruction" picture). */
ag_tensor *vae_reconstruct(vae *m, ag_tape *t, ag_tensor *x);
/* −ln p(x|z) summed over the values of each example: (N) for x (N, ...), raw (N, ...). */
ag_tensor *vae_neg_log_likelihood(vae *m, ag_tape *t, ag_tensor *raw, ag_tensor *x);
/* KL(N(mu, e^logvar) ‖ N(0, I)) per example: ½ Σ_j (mu² + e^logvar − 1 − logvar)  (N). */
ag_tensor *vae_kl_normal(ag_tape *t, ag_tensor *mu, ag_tensor *logvar);
/* log w_k = ln p(x|z_k) + ln p(z_k) − ln q(z_k|x) for k draws per example, as (k, N). */
ag_tensor *vae_log_weights(vae *m, ag_tape *t, ag_tensor *x, int k);
/* Switches dropout / batch norm between training and evaluation behaviour. */
void vae_set_training(vae *m, bool on);
/* Importance-weighted bound ln (1/k) Σ_k w_k per example (N), in nats; k = 1 gives the
 * ELBO.  Runs in chunks on a private tape, so k = 5000 fits in memory; its noise is seeded
 * from t's PRNG.  Records nothing. */
void vae_iwae_bound(vae *m, ag_tape *t, ag_tensor *x, int k, double *out);

/* ---- seed 002: the KL term split and replaced (vae/vae_objectives.c) ------------------------
 * Seed 002 eq. (5): E_x KL(q(z|x) ‖ p(z)) = I_q(x;z) + KL(q(z) ‖ p(z)), so the ELBO pushes
 * the mutual information between x and z down.  InfoVAE (eq. (6)) adds I back and keeps
 * only a divergence between the aggregate posterior q(z) and the prior, estimated here by
 * the MMD; β-TCVAE weighs the three terms of eq. (5) + (7) separately:
 *   E_x KL(q(z|x) ‖ p(z)) = I(x;z) + KL(q(z) ‖ Π_d q(z_d)) + Σ_d KL(q(z_d) ‖ p(z_d)). */

/* MMD² between the rows of a (n, d) and of b (m, d) under the kernel k with scale s:
 *   MMD² = E k(a,a') + E k(b,b') − 2 E k(a,b).
 * unbiased: the U-statistic (pairs i ≠ j only in the within-sample means; can be < 0);
 * otherwise the V-statistic over all pairs, whose expectation exceeds MMD² by
 * (1/n)(k(0) − E k(a,a')) + (1/m)(k(0) − E k(b,b')) with k(0) = 1 for both kernels.
 * Differentiable in a and b; shape (1).  Cost O(n·m·d) memory on the tape. */
ag_tensor *vae_mmd(ag_tape *t, ag_tensor *a, ag_tensor *b, vae_kernel kernel, double scale,
                   bool unbiased);

/* The three terms of the KL for a batch, by minibatch-weighted sampling (Chen et al. 2018):
 * z (M, d) holds one draw z_i ~ q(z|x_i) = N(mu_i, e^logvar_i) per example, and
 *   ln q(z_i)       ≈ logsumexp_j ln q(z_i | x_j) − ln(N·M)
 *   ln q_k(z_ik)    ≈ logsumexp_j ln q(z_ik | x_j) − ln(N·M)      for each dim k,
 * N the dataset size.  Each term is a mean over the batch, shape (1), differentiable:
 *   mi     = mean_i [ln q(z_i|x_i) − ln q(z_i)]
 *   tc     = mean_i [ln q(z_i) − Σ_k ln q_k(z_ik)]
 *   dim_kl = mean_i [Σ_k ln q_k(z_ik) − ln p(z_i)]
 * mi + tc + dim_kl = mean_i [ln q(z_i|x_i) − ln p(z_i)], a one-sample estimate of the KL.
 * Known offsets: against the mixture of the batch's own posteriors (normalised by ln M),
 * every ln q above is lower by exactly ln N, so mi reads ln N high, tc (d−1)·ln N high and
 * dim_kl d·ln N low.  Constants: the gradients are those of the batch-mixture estimate. */
typedef struct vae_kl_terms { ag_tensor *mi, *tc, *dim_kl; } vae_kl_terms;
vae_kl_terms vae_kl_decompose(ag_tape *t, ag_tensor *z, ag_tensor *mu, ag_tensor *logvar,
                              double dataset_size);

/* The training losses vae_loss uses for these objectives (means over the batch of x, one
 * z per example).  kl_scale ∈ [0, 1] is the warm-up factor on the KL-type weights.
 *   InfoVAE:  recon + (1−α)·kl_scale·KL + (α+λ−1)·MMD²(z, draws of N(0, I))  (U-statistic)
 *   β-TCVAE:  recon + kl_scale·(α·mi + β·tc + γ·dim_kl)                       */
ag_tensor *vae_infovae_loss(vae *m, ag_tape *t, ag_tensor *x, double kl_scale,
                            vae_stats *stats);
ag_tensor *vae_btcvae_loss(vae *m, ag_tape *t, ag_tensor *x, double kl_scale,
                           vae_stats *stats);

/* ---- seed 002: measuring what the codes keep (vae/vae_measure.c) ----------------------------
 * All from n posteriors q(z|x_i) = N(mu_i, e^logvar_i) and one draw z_i from each, with the
 * aggregate posterior estimated by the mixture of the n posteriors themselves (He et al.
 * 2019, "Lagging inference networks"):  ln q(z) ≈ logsumexp_j ln q(z|x_j) − ln n. */
typedef struct vae_info {
    int n;              /* posteriors in the mixture q(z) */
    int outer;          /* draws z_i the expectations average over (<= n) */
    int z_dim;
    double mi;          /* I(x;z) = mean_i [ln q(z_i|x_i) − ln q(z_i)]; never above ln n,
                           since the mixture holds q(z_i|x_i)/n itself */
    double mi_max;      /* ln n, that ceiling */
    double tc;          /* KL(q(z) ‖ Π_k q(z_k)) = mean_i [ln q(z_i) − Σ_k ln q_k(z_ik)] */
    double tc_gauss;    /* the TC of a Gaussian with the draws' covariance, −½ ln det of their
                           correlation matrix: linear dependence only, but free of the
                           mixture's ln n ceiling (see mmd) */
    double dim_kl;      /* Σ_k KL(q(z_k) ‖ N(0,1)) */
    double marginal_kl; /* KL(q(z) ‖ p(z)) = tc + dim_kl */
    double kl;          /* mean_i KL(q(z|x_i) ‖ p(z)), closed form; ≈ mi + marginal_kl (eq. (5)) */
    double *kl_per_dim; /* (z_dim) mean closed-form KL per latent dimension; owned */
    double *mu_var;     /* (z_dim) Var_i mu_i,k; owned */
    int active_units;   /* dims with Var_i mu_i,k > 0.01 (Burda et al. 2016) */
    double mmd;         /* vae_measure only: MMD² of the draws to p(z) (vae_mmd_to_prior) —
                           unlike tc and marginal_kl, still meaningful when the posteriors
                           are so narrow that the mixture q(z) is a set of spikes */
} vae_info;
/* The estimates from raw arrays, each (n, d) row-major.  The expectations over z average
 * `outer` evenly spaced draws (all n if outer <= 0), each against the mixture of all n
 * posteriors: O(outer·n·d) time, OpenMP over the draws. */
vae_info vae_info_from_posteriors(const ag_real *mu, const ag_real *logvar, const ag_real *z,
                                  int n, int d, int outer);
/* mu and logvar of q(z|x) for the first n examples of d (all if n <= 0), in evaluation
 * mode: two malloc'd (n, z_dim) arrays for the caller to free.  Returns n. */
int vae_encode_dataset(vae *m, const nn_dataset *d, int n, ag_real **mu, ag_real **logvar);
/* MMD² (U-statistic, Gaussian kernel with s = 2d, as vae_mmd) between the rows of z
 * (n, d) and n draws of N(0, I) from a generator seeded with seed.  Plain C, O(n²·d). */
double vae_mmd_to_prior(const ag_real *z, int n, int d, uint64_t seed);
/* vae_info of the first n examples of d (all if n <= 0), the draws z_i seeded by seed,
 * `outer` of them averaged (all if <= 0). */
vae_info vae_measure(vae *m, const nn_dataset *d, int n, int outer, uint64_t seed);
/* Frees the arrays inside info (not info itself). */
void vae_info_free(vae_info *info);

/* Test accuracy of a linear probe: multinomial logistic regression on codes (rows of dim
 * values, centred by the training mean) trained with Adam (lr 0.01, batches of 128) for
 * `epochs` epochs on (train, train_y), scored on (test, test_y). */
double vae_linear_probe(const ag_real *train, const int *train_y, int n_train,
                        const ag_real *test, const int *test_y, int n_test, int dim,
                        int epochs, uint64_t seed);

/* ---- training and evaluation helpers (vae/train.c) -----------------------------------
 * The loops every program around a VAE needs, so that examples differ only in what they
 * study.  Randomness is a function of (seed, step): the noise of step s comes from the
 * tape's PRNG reseeded with vae_step_seed(seed, s), which makes resuming exact. */

typedef struct vae_epoch {
    double neg_elbo, recon, kl, loss;   /* means over the epoch's examples */
    long steps;                          /* steps taken in this call */
    double seconds;
    bool nonfinite;                      /* stopped on a NaN/inf loss or gradient (the
                                            gradients are left in place to inspect) */
    bool interrupted;                    /* stopped because should_stop() said so */
} vae_epoch;

/* The PRNG seed of training step `step`: a mix of both, so noise is a function of (seed, step). */
uint64_t vae_step_seed(uint64_t seed, long step);
/* One pass of the batcher: loss, backward, optimizer step, tape clear.  *step counts
 * steps across epochs.  bar (may be NULL) shows the running −ELBO, recon and KL;
 * should_stop (may be NULL) is polled after each step. */
vae_epoch vae_train_epoch(vae *m, nn_optim *opt, nn_batcher *it, ag_tape *t, uint64_t seed,
                          long *step, nn_progress *bar, bool (*should_stop)(void));

typedef struct vae_eval {
    int n;                   /* examples evaluated */
    double neg_elbo, recon, kl; /* means, z sampled once per example (as in training) */
    double iwae_nll;         /* −(1/n) Σ IWAE bound with k samples, or NAN if k = 0 */
    int active_units;        /* dims with Var_x E[z_u|x] > 0.01 (Burda et al. 2016) */
    double *kl_per_dim;      /* (z_dim) mean KL per latent dimension; owned */
    double *mu_var;          /* (z_dim) Var_x E[z_u|x]; owned */
    ag_real *mu;             /* (n, z_dim) posterior means; owned */
    double *score;           /* (n) per-example −ELBO, or −IWAE bound if k > 0; owned */
} vae_eval;
/* Evaluates the first n examples of d (all if n <= 0) in evaluation mode, in batches of
 * 128 (500 with iwae_k > 0), with noise from `seed`.  iwae_k > 0 also computes the
 * k-sample bound. */
vae_eval vae_evaluate(vae *m, const nn_dataset *d, int n, int iwae_k, uint64_t seed);
/* The same on the caller's tape t, e.g. the training tape between two steps (t is cleared;
 * its PRNG state and grad mode are put back): the test pass of every epoch then reuses
 * the training arena instead of allocating one of its own (~15 MB for MNIST). */
vae_eval vae_evaluate_on(vae *m, ag_tape *t, const nn_dataset *d, int n, int iwae_k,
                         uint64_t seed);
/* Frees the arrays inside e and zeroes it. */
void vae_eval_free(vae_eval *e);

/* Area under the ROC curve for scores where higher means "positive" (anomalous): the
 * probability that a random positive outscores a random negative, ties counting ½. */
double vae_auroc(const double *score, const bool *positive, int n);

HENBUN_END_DECLS

/* Seed 003: a VAE trained as a sampler of a Gibbs distribution, without data. */
#include "vae/boltzmann.h"

#endif
