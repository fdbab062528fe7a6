/* vae.h — the variational autoencoder of seeds 000 and 001, declared from layer specs.
 *
 * Model (seed 000, fig. 1 and eq. (1)):  p(x) = ∫ p(x|z) p(z) dz,  p(z) = N(0, I),
 *   encoder  q(z|x) = N(mu(x), diag exp(logvar(x)))   — the encoder spec outputs 2·z_dim
 *            values per example: mu first, then logvar;
 *   decoder  p(x|z): Bernoulli with logits, or Gaussian with a fixed or learned variance —
 *            the decoder spec outputs one value per value of x (logits or means).
 * Training maximises the ELBO, seed 000 eq. (8):
 *   L(x) ≈ (1/L) Σ_l ln p(x|z_l) − KL(q(z|x) ‖ p(z)),  z_l = mu + σ·ε_l  (seed 001),
 * with the KL in closed form (seed 003 eq. (2.10)).  Everything is in nats per example.
 *
 *   vae *m = vae_new(&(vae_config){ .x_ndim = 3, .x_shape = {1, 28, 28}, .z_dim = 20,
 *                    .encoder_text = "linear 400, relu, linear 40",
 *                    .decoder_text = "linear 400, relu, linear 784",
 *                    .likelihood = VAE_BERNOULLI }, &err);
 *   vae_stats st;
 *   ag_tensor *loss = vae_loss(m, tape, x, &st);    // −ELBO, mean over the batch
 *   ag_backward(tape, loss);
 */
#ifndef HENBUN_VAE_H
#define HENBUN_VAE_H

#include "nn/nn.h"

typedef enum {
    VAE_BERNOULLI = 0,       /* x in [0,1]; decoder outputs logits; −ln p = BCE */
    VAE_GAUSSIAN,            /* decoder outputs means; fixed σ (config.sigma) */
    VAE_GAUSSIAN_LEARNED,    /* decoder outputs means; one learned log σ² per value of x */
} vae_likelihood;

typedef enum {
    VAE_ELBO = 0,            /* seed 000 eq. (8), with β on the KL term */
    VAE_IWAE,                /* importance-weighted bound with k = samples (Burda et al.) */
} vae_objective;

typedef struct vae_config {
    int x_ndim, x_shape[NN_MAX_SHAPE];  /* per-example data shape, e.g. 3, {1, 28, 28} */
    int z_dim;
    const nn_spec *encoder, *decoder;   /* spec arrays, or ... */
    const char *encoder_text, *decoder_text; /* ... spec text (used when arrays are NULL) */
    vae_likelihood likelihood;
    double sigma;        /* VAE_GAUSSIAN: the fixed standard deviation (default 1) */
    vae_objective objective;
    int samples;         /* L of eq. (7)-(8) (ELBO), or k (IWAE); default 1 */
    double beta;         /* weight of the KL term (β-VAE); default 1 */
    int warmup_steps;    /* KL weight rises linearly from 0 to β over this many steps */
    uint64_t seed;       /* parameter initialisation */
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
} vae_stats;

/* Builds the networks (encoder input = x_shape, decoder input = (z_dim)) and checks that
 * their output sizes fit: 2·z_dim for the encoder, x's size for the decoder.  NULL with
 * err filled on a spec or shape error. */
vae *vae_new(const vae_config *cfg, nn_error *err);
void vae_free(vae *m);
nn_param_list *vae_params(vae *m);

/* The training loss for a batch x (N, x_shape...): a scalar, the mean over the batch of
 * −ELBO (or −IWAE).  Fills stats if non-NULL.  training=true advances the warm-up step. */
ag_tensor *vae_loss(vae *m, ag_tape *t, ag_tensor *x, bool training, vae_stats *stats);
/* mu and logvar of q(z|x), each (N, z_dim). */
void vae_encode(vae *m, ag_tape *t, ag_tensor *x, ag_tensor **mu, ag_tensor **logvar);
/* Decoder output for z (N, z_dim): logits (Bernoulli) or means (Gaussian), (N, x_shape...). */
ag_tensor *vae_decode_raw(vae *m, ag_tape *t, ag_tensor *z);
/* The mean of p(x|z): probabilities σ(logits) or the Gaussian means, (N, x_shape...). */
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
 * 500, with noise from `seed`.  iwae_k > 0 also computes the k-sample bound. */
vae_eval vae_evaluate(vae *m, const nn_dataset *d, int n, int iwae_k, uint64_t seed);
void vae_eval_free(vae_eval *e);

/* Area under the ROC curve for scores where higher means "positive" (anomalous): the
 * probability that a random positive outscores a random negative, ties counting ½. */
double vae_auroc(const double *score, const bool *positive, int n);

#endif
