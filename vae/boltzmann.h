/* boltzmann.h — a VAE that samples a Gibbs distribution μ(x) = e^−U(x) / Z, trained from
 * the energy U alone, without data (seed 003); its exact references and an MCMC baseline.
 *
 * Seed 003 runs the VAE backwards.  Draws start at the prior, z ~ π(z) = N(0, I) (eq. (1.2)),
 * and the decoder Q(x|z) (eq. (1.4)) makes x; the encoder P(z|x) = N(mu(x), diag e^logvar(x))
 * (eq. (1.3)) only scores the pair.  Marginalising z cannot raise a KL divergence, so
 * (eq. (1.6))
 *     D(q(x) ‖ μ(x))  ≤  D(π(z)Q(x|z) ‖ μ(x)P(z|x))
 *                     =  E_{π(z)Q(x|z)}[ log Q(x|z) + log π(z) − log P(z|x) + U(x) ] + log Z,
 * and training minimises the expectation with the constants log π(z) and log Z dropped
 * (eq. (1.7)): no sample of μ is ever needed, only U and its gradient, which the tape gives.
 * The same draws give importance weights
 *     w = e^−U(x) P(z|x) / (π(z) Q(x|z)),        E[w] = Z  exactly,
 * so log Z ≈ log mean w, the effective sample size (Σw)² / Σw², the bound above, and any
 * expectation E_μ[f] ≈ Σ w f / Σ w come for free.
 *
 * Two additions beyond the seed, both reducing to it with their parameter at 1 / 0:
 *   - samples = K > 1 trains on the importance-weighted bound log (1/K) Σ_k w_k ≤ log Z.
 *     Reverse KL (K = 1) charges a draw that lands between two wells its whole −log w, so
 *     keeping a minor well costs more than dropping it; with K draws such a draw only
 *     lowers the average, and minor wells survive (the double well needs this).
 *   - bz_draw with m > 0 averages m extra encoder draws into each weight, which removes
 *     most of the encoder's mismatch from the weights while keeping E[w] = Z.
 *
 * Two notes on the seed's formulas.  Eq. (1.7) writes the first term as
 * E_Q[KL(π(z) ‖ P(z|x))], but z and x are drawn together, so the term is the joint
 * expectation E[log π(z) − log P(z|x)], not a KL for fixed x; we estimate it by Monte Carlo.
 * Eqs. (1.8) and (2.10) drop a factor d on the log term of the isotropic Gaussian KL; the
 * correct closed form is bz_kl_isotropic below (tested against a Monte-Carlo estimate).
 *
 * Example (compiled by make test: tests/programs/header_examples.sh):
 *   bz_energy e = bz_double_well();
 *   bz_sampler *s = bz_new(&e, &(bz_config){ .z_dim = 2,
 *        .encoder_text = "linear 64, tanh, linear 64, tanh, linear 4",
 *        .decoder_text = "linear 64, tanh, linear 64, tanh, linear 4", .seed = 1 }, &err);
 *   nn_optim *opt = nn_adam(bz_params(s), 1e-3);
 *   for (long i = 0; i < 5000; i++)
 *       bz_train_step(s, opt, tape, 256, bz_anneal_beta(i, 2000, 0.1), &stats);
 *   bz_draw(s, 100000, 0, seed, x, log_w, NULL);       // x (n, 2), log w (n)
 *   bz_estimate est = bz_estimate_weights(log_w, n);   // log Z, ESS, ...
 *
 * Discrete x (the Ising model): the decoder is Bernoulli with logits, x cannot be
 * reparameterised, and the decoder's gradient is the score-function (REINFORCE) estimate
 * with a leave-one-out baseline (VIMCO's per-draw baselines for K > 1); the encoder's
 * gradient is still the plain one. */
#ifndef HENBUN_VAE_BOLTZMANN_H
#define HENBUN_VAE_BOLTZMANN_H

#include "nn/nn.h"

HENBUN_BEGIN_DECLS

/* ---- energies (vae/boltzmann_energies.c, vae/boltzmann_ising.c) -------------------------
 * An energy maps a batch x (N, dim) to U(x) (N), written with henbun ops so that the tape
 * differentiates it.  Optional observables f_k(x) with known expectations under μ let a
 * program compare its estimates against exact values (mode masses, energy per spin). */
#define BZ_MAX_OBS 8

typedef struct bz_energy bz_energy;
typedef ag_tensor *(*bz_energy_fn)(const bz_energy *e, ag_tape *t, ag_tensor *x);

struct bz_energy {
    const char *name;
    int dim;             /* values per sample */
    bool binary;         /* x ∈ {0,1}^dim (spins as bits); otherwise x ∈ R^dim */
    bz_energy_fn energy; /* x (N, dim) -> U(x) (N) */
    double log_z;        /* exact ln Z = ln ∫ e^−U (or Σ over {0,1}^dim), NAN if unknown */
    int n_obs;           /* observables, at most BZ_MAX_OBS */
    const char *obs_name[BZ_MAX_OBS];
    double obs_exact[BZ_MAX_OBS];  /* E_μ[f_k], NAN if unknown */
    /* f_k of one sample x (dim values) into f (n_obs values); NULL when n_obs = 0. */
    void (*observe)(const bz_energy *e, const ag_real *x, double *f);
    /* Binary x, optional: U(x with bit i flipped) − U(x) for one sample, which lets MCMC
     * update one bit without a batched energy call (the Ising model's local field). */
    double (*flip_delta)(const bz_energy *e, const ag_real *x, int i);
    /* Parameters of the built-ins (a user's energy may use them freely, or `user`). */
    int copies;          /* Many-Well: number of 2-D copies (a sum of independent blocks:
                            what bz_config.structure = BZ_COPIES factorises over) */
    /* Optional, with copies: x (N, dim) -> (N, copies), the energy of each block, when
     * U(x) = Σ_k U_k(x_k) over `copies` equal blocks of x (the per-copy bound uses it). */
    bz_energy_fn copy_energy;
    int rows, cols;      /* Ising: lattice size */
    double beta;         /* Ising: inverse temperature (U = β·E) */
    void *user;
};

/* A 2-D mixture of three isotropic Gaussians with weights 0.5, 0.3, 0.2 (means (−2, 0),
 * (2, 0), (0, 2.5); standard deviations 0.6, 0.5, 0.4), U = −ln p(x): normalised, ln Z = 0.
 * Observables: the responsibilities r_k(x) = w_k N_k(x) / p(x), whose means under μ are
 * exactly w_k. */
bz_energy bz_gmm(void);
/* The double well of the Boltzmann-generator paper (Noé et al. 2019),
 *     U = x₁⁴ − 6x₁² + x₁ + ½x₂²,
 * ln Z ≈ 11.020467 and the minor well's mass P(x₁ > 0) ≈ 0.0329 (computed by quadrature at
 * construction).  Observable: 1[x₁ > 0]. */
bz_energy bz_double_well(void);
/* Many-Well: `copies` independent 2-D wells U = x⁴ − 6x² − 0.5x + ½y² side by side,
 * x = (x₁, y₁, x₂, y₂, ...), dim = 2·copies, 2^copies modes.  copies = 16 is Many-Well-32:
 * ln Z ≈ 164.6957, P(x > 0) ≈ 0.844 per copy.  Observables: the mean over copies of
 * 1[x_k > 0], and the same for the first copy alone.  Has copy_energy. */
bz_energy bz_many_well(int copies);
/* The 2-D Ising model on a rows×cols torus, J = 1, spins s = 2x − 1 for bits x:
 *     U(x) = β·E(s),  E(s) = −Σ_{<ij>} s_i s_j  (each site with its right and lower
 * neighbour).  ln Z from Kaufman's formula (bz_ising_log_z).  Observables: energy per spin
 * E/N (exact: −(1/N) d ln Z/dβ), P(m > 0) + ½P(m = 0) (exact ½ by symmetry), |m| (no exact
 * value; compare with MCMC), m = mean spin.  Needs rows, cols ≥ 2. */
bz_energy bz_ising(int rows, int cols, double beta);

/* Exact ln Z of the rows×cols periodic Ising model at inverse temperature beta (J = 1) by
 * Kaufman's finite-lattice formula (Phys. Rev. 76, 1232 (1949)), computed in logs. */
double bz_ising_log_z(int rows, int cols, double beta);
/* Exact mean energy per spin, −(1/N) d ln Z/dβ, by a central difference of the above. */
double bz_ising_energy_per_spin(int rows, int cols, double beta);

/* ---- the closed-form KL of seed 003 (corrected) ----------------------------------------
 * D(N(mu_x, var_x·I_d) ‖ N(mu_y, var_y·I_d)) for d-dimensional means given as arrays:
 *   ½ [ d·ln(var_y/var_x) − d + d·var_x/var_y + |mu_y − mu_x|² / var_y ]
 * (eq. (2.10) with the factor d on the log term that the seed leaves out). */
double bz_kl_isotropic(int d, const double *mu_x, double var_x, const double *mu_y,
                       double var_y);

/* ---- the sampler (vae/boltzmann.c) ------------------------------------------------------
 * Energy annealing (bz_anneal_beta) trains against e^−βU with β rising to 1, since reverse
 * KL started at β = 1 settles in one well (Noé et al. report the same collapse). */
/* How the networks see x (bz_config.structure). */
typedef enum {
    BZ_JOINT = 0, /* one encoder and one decoder over the whole of x and z (the seed's) */
    /* For an energy of independent copies (bz_energy.copies = C, dim = C·b): z is C blocks
     * of l = z_dim / C, and one network pair, shared by the copies, maps each copy's
     * (block, one-hot code of the copy) alone: Q(x|z) = Π_k Q(x_k | z_k, k) and
     * P(z|x) = Π_k P(z_k | x_k, k), so log Q, log P, log π and log w are sums over copies,
     * as log μ is.  The C copies of a batch of N are the N·C rows of one GEMM per layer.
     * The encoder maps b + C values to 2·l, the decoder l + C values to 2·b. */
    BZ_COPIES
} bz_structure;

typedef struct bz_config {
    int z_dim;
    bz_structure structure; /* BZ_JOINT (default) or BZ_COPIES (continuous x only) */
    /* BZ_COPIES with K = samples > 1: the bound log (1/K) Σ_j w_j is over whole draws,
     * unless copy_bound asks for it per copy, Σ_k log (1/K) Σ_j w_kj (needs the energy's
     * copy_energy).  The per-copy bound is the joint one over all K^C ways to combine the
     * copies' draws (Π_k (1/K) Σ_j w_kj averages every combination), so it is tighter as a
     * bound; but it rewards a broad sampler, and on Many-Well-32 it trained one with a
     * far lower ESS (README, notes/manywell.md), hence not the default. */
    bool copy_bound;
    /* Full specs (as in vae_config): the encoder maps x (dim) to 2·z_dim values (mu, then
     * logvar of P(z|x)); the decoder maps z (z_dim) to 2·dim values (mean, then logvar of
     * a Gaussian Q(x|z)) for a continuous energy, or to dim logits for a binary one
     * (BZ_COPIES: the sizes of one copy, above). */
    const nn_spec *encoder, *decoder;
    const char *encoder_text, *decoder_text;
    const nn_layer_type *const *layer_types; /* the user's types the text may name (as in
                                                vae_config), NULL-terminated; or NULL */
    /* Continuous x: drop the score term of log Q(x|z) from the decoder's gradient, keeping
     * only the path through x ("sticking the landing", Roeder et al. 2017).  Its expectation
     * is zero, and without it the gradient vanishes sample by sample at the optimum. */
    bool path_gradient;
    /* K draws per bound: train on the importance-weighted bound log (1/K) Σ_k w_k ≤ log Z
     * (groups of K consecutive draws of a batch), which K = 1 reduces to eq. (1.7).  A
     * draw wasted between modes costs a larger K only its share of the average, not its
     * whole −log w, so minor modes survive (see bz_loss).  Default 1. */
    int samples;
    uint64_t seed;       /* parameter initialisation */
} bz_config;

typedef struct bz_sampler {
    bz_config cfg;
    bz_energy energy;     /* a copy */
    nn_net *encoder, *decoder;
    nn_param_list params; /* "encoder.*", "decoder.*" */
} bz_sampler;

/* Builds both networks and checks their output sizes.  NULL with err filled on a spec or
 * size error. */
bz_sampler *bz_new(const bz_energy *e, const bz_config *c, nn_error *err);
void bz_free(bz_sampler *s);
nn_param_list *bz_params(bz_sampler *s);

/* Per-batch figures, means over the batch, in nats. */
typedef struct bz_stats {
    double objective;  /* −mean over groups of log (1/K) Σ_k w_k at β: what training lowers
                          (K = 1: E[log Q − log P + βU + log π], eq. (1.7) with log π) */
    double neg_log_w;  /* E[−log w] at β = 1: D_joint − log Z, so log Z ≤ −this */
    double mean_u;     /* E_q[U(x)] at β = 1 */
    double log_z;      /* log mean w of the batch */
    double ess;        /* (Σw)²/Σw² / n of the batch, in (0, 1] */
    double beta;       /* inverse temperature the loss used */
} bz_stats;

/* The training loss for a batch of n draws z ~ π, x ~ Q(x|z) against the tempered target
 * e^−βU: a scalar whose gradient is that of mean[log Q(x|z) − log P(z|x) + β·U(x)]
 * (eq. (1.7)), or with K = samples > 1 of −mean log (1/K) Σ_k w_k over groups of K (n must
 * be a multiple of K).  Continuous x is reparameterised (with path_gradient and K > 1 the
 * decoder's gradient is the doubly reparameterised one, DReG).  Binary x uses the score
 * function for the decoder: a leave-one-out baseline (K = 1) or VIMCO's per-draw baselines
 * (K > 1).  For binary x and K > 1 the returned value is a surrogate whose gradient is
 * right; the objective itself is in stats.  Fills stats if non-NULL. */
ag_tensor *bz_loss(bz_sampler *s, ag_tape *t, int n, double beta, bz_stats *stats);
/* One step: loss, backward, optimizer step, zero grad, tape clear.  Returns the gradient
 * norm before clipping (NaN/inf if something went non-finite). */
double bz_train_step(bz_sampler *s, nn_optim *opt, ag_tape *t, int n, double beta,
                     bz_stats *stats);
/* The annealing schedule: β rises geometrically from beta0 at step 0 to 1 at `steps`,
 * and stays 1 after (steps ≤ 0 or beta0 ≥ 1: always 1). */
double bz_anneal_beta(long step, long steps, double beta0);

/* n draws of the trained sampler at β = 1, in chunks on a private tape with noise from
 * seed, no gradients: x (n, dim) row-major into x (may be NULL), log w into log_w (n),
 * U(x) into u (may be NULL).
 * m = 0: the joint weights above.  m > 0 also draws z_1..z_m ~ P(z|x) and uses
 *     w = e^−U(x) · (m+1) / Σ_{j=0}^{m} r_j,   r_j = π(z_j) Q(x|z_j) / P(z_j|x),
 * z_0 the latent x was decoded from.  Since z_0 is an exact draw of the decoder's own
 * posterior π(z)Q(x|z)/q(x), E[(m+1)/Σ r_j | x] = 1/q(x) exactly, so E[w] = Z still; as m
 * grows w tends to e^−U(x)/q(x), the encoder's mismatch drops out of the weights, and
 * log Z − E[log w] tends to D(q(x) ‖ μ(x)) itself.  Costs m decoder passes per draw.
 * BZ_COPIES: the same per copy, w = e^−U(x) Π_k (m+1) / Σ_j r_kj (the copies' z_k are
 * independent given x, so the product is still unbiased for 1/q(x)). */
void bz_draw(bz_sampler *s, int n, int m, uint64_t seed, ag_real *x, double *log_w,
             double *u);

/* log Q(x|z) and log P(z|x) of n given pairs, z (n, z_dim) and x (n, dim) row-major, into
 * log_q and log_p (n values each; either may be NULL), on a private tape without
 * gradients: to score pairs, and to see a structure at work (BZ_COPIES: each is the sum of
 * the copies' terms, copy k's depending on z_k and x_k alone). */
void bz_log_densities(bz_sampler *s, int n, const ag_real *z, const ag_real *x, double *log_q,
                      double *log_p);

/* ---- estimates from importance weights ------------------------------------------------- */
typedef struct bz_estimate {
    int n;
    double log_z;     /* ln (1/n) Σ w: its exponential is unbiased for Z */
    double log_z_se;  /* delta-method standard error of log_z: sd(w) / (√n · mean w) */
    double ess;       /* (Σw)² / Σw² / n, in (0, 1]: 1 for equal weights */
    double mean_log_w;/* E[log w] ≤ log Z (the ELBO of the joint model) */
    double max_w;     /* largest normalised weight w_i / Σw: one sample's share */
} bz_estimate;
bz_estimate bz_estimate_weights(const double *log_w, int n);
/* Self-normalised E_μ[f] ≈ Σ w_i f_i / Σ w_i, f_i = f[i·stride]. */
double bz_expect(const double *log_w, const double *f, int stride, int n);
/* The joint KL bound D(π Q ‖ μ P) ≥ D(q ‖ μ) given the exact log Z: log Z − E[log w]. */
double bz_kl_bound(const bz_estimate *est, double log_z_exact);

/* ---- the MCMC baseline (vae/boltzmann_mcmc.c) -------------------------------------------
 * Parallel chains on the same energies.  Continuous x: random-walk Metropolis or MALA
 * (x' = x − ½h²∇U + h·ε with the Metropolis–Hastings correction), one batched energy
 * call per step for all chains, ∇U from the tape; h is tuned during burn-in towards an
 * acceptance of 0.3 (Metropolis) or 0.57 (MALA).  Binary x: a step is one sweep of
 * single-bit-flip Metropolis: with flip_delta (the Ising model's local field, as any
 * practical Ising code does) the bits are visited in raster order; without it, one random
 * bit per chain is flipped per batched energy call, dim calls a sweep. */
typedef enum { BZ_METROPOLIS = 0, BZ_MALA } bz_mcmc_kind;

typedef struct bz_mcmc_opts {
    bz_mcmc_kind kind;
    int chains;        /* parallel chains; default 64 */
    int steps;         /* recorded steps per chain after burn-in; default 1000 */
    int burn_in;       /* default steps / 4 */
    double step;       /* initial proposal scale h (continuous); default 0.5 */
    uint64_t seed;
    const ag_real *init; /* (chains, dim) start, or NULL: N(0, I) / random bits */
    /* If non-NULL, receives the recorded traces, (1 + n_obs) × chains × steps values:
     * U, then each observable, chain after chain (caller-allocated). */
    double *traces;
} bz_mcmc_opts;

typedef struct bz_mcmc_result {
    int chains, steps;
    double accept;     /* mean acceptance rate after burn-in */
    double step;       /* h after tuning */
    double seconds;    /* wall time of the recorded steps (burn-in excluded) */
    double tau;        /* integrated autocorrelation time, in steps: the largest over the
                          traces of U and of every observable */
    double ess;        /* chains·steps / tau */
    double ess_per_second;
    double mean_u;
    double obs[BZ_MAX_OBS]; /* chain averages of the observables */
} bz_mcmc_result;
bz_mcmc_result bz_mcmc(const bz_energy *e, const bz_mcmc_opts *o);

/* Integrated autocorrelation time of `chains` traces of length n stored one after another
 * (trace c at trace[c·n]): τ = 1 + 2 Σ_{t≥1} ρ(t), ρ from the autocovariance averaged over
 * chains (about the overall mean), summed up to Sokal's self-consistent window t ≥ 5τ.
 * A constant trace gives 1. */
double bz_autocorr_time(const double *trace, int chains, int n);

HENBUN_END_DECLS

#endif
