/* gan.h — the generative adversarial network of seed 004, declared from layer specs.
 *
 * Seed 004 derives the GAN from a density ratio: a discriminator D(x) = σ(logit(x))
 * classifies real (y = 1) against generated (y = 0) samples (eq. (7)-(11)); for a fixed
 * generator the best one is D*(x) = p_d(x) / (p_d(x) + p_g(x)) (eq. (13)), at which the
 * value function
 *     V(D, G) = E_{p_d}[ln D(x)] + E_{p_z}[ln(1 − D(G(z)))]                    (eq. (20))
 * equals 2·JS(p_d ‖ p_g) − 2 ln 2 (eq. (14)).  Training alternates k ascent steps of V in
 * D with one descent step in G (eq. (20)-(21)).  So every batch also gives an estimate
 *     JS ≈ (V + 2 ln 2) / 2,
 * exact only when D is optimal, a lower bound otherwise (V(D) ≤ V(D*)).
 *
 * Example (compiled by make test: tests/programs/header_examples.sh):
 *   gan *g = gan_new(&(gan_config){ .x_ndim = 1, .x_shape = {2}, .z_dim = 2,
 *        .generator_text = "linear 128, relu, linear 128, relu, linear 2",
 *        .discriminator_text = "linear 128, relu, linear 1" }, &err);
 *   ag_tensor *ld = gan_d_loss(g, t, x_real, &st);  ... step D's optimizer ...
 *   ag_tensor *lg = gan_g_loss(g, t, n, &st);       ... step G's optimizer ...
 */
#ifndef HENBUN_GAN_H
#define HENBUN_GAN_H

#include "nn/nn.h"

HENBUN_BEGIN_DECLS

typedef enum {
    GAN_NON_SATURATING = 0, /* G minimises −E ln D(G(z)): strong gradients early on */
    GAN_MINIMAX,            /* G minimises E ln(1 − D(G(z))), eq. (21) as written */
} gan_gen_loss;

typedef enum { GAN_PRIOR_NORMAL = 0, GAN_PRIOR_UNIFORM } gan_prior; /* N(0,I) or U(−1,1) */

typedef struct gan_config {
    int x_ndim, x_shape[NN_MAX_SHAPE];      /* one sample: (D) or (C, H, W) */
    int z_dim;
    gan_prior prior;
    const nn_spec *generator, *discriminator;      /* spec arrays, or ... */
    const char *generator_text, *discriminator_text; /* ... spec text */
    /* NULL-terminated array of the user's layer types that the spec text may name (as
     * nn_net_parse's `extra`, docs/add-a-layer.md); NULL: built-in types only. */
    const nn_layer_type *const *layer_types;
    gan_gen_loss gen_loss;
    int d_steps;   /* k: discriminator steps per generator step (seed 004 eq. (20)); default 1 */
    /* PacGAN (Lin et al. 2018): D judges `pack` samples at once, all real or all fake,
     * which makes a collapsed generator easy to spot.  1 = the vanilla GAN. */
    int pack;
    /* R1 gradient penalty (Mescheder et al. 2018): D's loss gains (γ/2)·E_{p_d} ‖∇_x l(x)‖²,
     * which keeps D flat on the data, so training settles instead of circling the
     * equilibrium.  The tape has no second derivatives, so ‖∇_x l‖² is estimated by a
     * finite difference along a random direction: for u ~ N(0, I), E_u[(∇l·u)²] = ‖∇l‖²
     * and ∇l·u ≈ (l(x + h·u) − l(x)) / h — exact for a D linear in x, and costing one more
     * pass of D over the real batch.  r1_gamma = γ (0: off); r1_step = h (0: 1e-3). */
    double r1_gamma, r1_step;
    /* One-sided label smoothing (Salimans et al. 2016): D's target for real samples is
     * 1 − s instead of 1, so its real term becomes (1 − s)·ln σ(l) + s·ln σ(−l), which keeps
     * D from growing over-confident on the data.  Fakes keep the target 0.  0: off. */
    double label_smooth;
    uint64_t seed; /* parameter initialisation */
    /* A class-conditional GAN (Mirza & Osindero 2014) when n_classes = K > 0: the data are
     * pairs (x, y), y one of K labels.  G(z, y) reads z and y's one-hot code, joined:
     * its spec's input is (z_dim + K).  D is a projection discriminator (Miyato & Koyama
     * 2018): with φ(x) the input of D's last layer (F values) and ψ that layer,
     *     l(x, y) = ψ(φ(x)) + e_yᵀ φ(x),       e_y row y of a (K, F) matrix E.
     * Why that form: D*'s logit is ln p_d(x, y)/p_g(x, y) (eq. (13)) = ln p_d(x)/p_g(x)
     * + ln p_d(y|x)/p_g(y|x); if both class posteriors are softmaxes over the same
     * features, p(y|x) ∝ exp(v_yᵀφ(x)), the second term is (v_y^d − v_y^g)ᵀφ(x) minus a
     * function of x alone, which ψ absorbs.  E starts at 0 (D starts unconditional) and is
     * D's parameter "discriminator.projection" (not spectrally normalised).  pack must be 1.
     * The *_labeled functions below take the labels; the others refuse such a gan. */
    int n_classes;
} gan_config;

typedef struct gan {
    gan_config cfg;
    nn_net *generator, *discriminator;
    nn_param_list g_params, d_params;  /* two groups: one optimizer each */
    int x_size;
    bool training;                     /* layer mode (batch norm, dropout); default true */
    ag_tensor *projection;             /* n_classes > 0: E (K, feat_dim), in d_params */
    int feat_dim;                      /* F: the size of φ(x), D's last layer's input */
} gan;

typedef struct gan_stats {
    double d_loss, g_loss;
    double d_real, d_fake;  /* mean D(x) on real and on generated samples */
    double value;           /* V(D, G) of eq. (20) on this batch */
    double js;              /* (V + 2 ln 2) / 2, eq. (14) */
    double r1;              /* with r1_gamma > 0: the estimate of E_{p_d} ‖∇_x l(x)‖² */
} gan_stats;

/* Builds G (input (z_dim), output x_shape) and D (input x_shape with `pack` samples
 * stacked along the first axis, output 1 logit).  NULL with err on a spec or shape error. */
gan *gan_new(const gan_config *cfg, nn_error *err);
/* Frees both networks and their parameter lists; NULL is fine. */
void gan_free(gan *g);
/* Training (true) or evaluation mode for batch norm and dropout in G and D. */
void gan_set_training(gan *g, bool on);

/* z ~ prior, (n, z_dim), from the tape's PRNG. */
ag_tensor *gan_sample_z(gan *g, ag_tape *t, int n);
/* G(z): (n, x_shape...). */
ag_tensor *gan_generate(gan *g, ag_tape *t, ag_tensor *z);
/* Discriminator logits l with D = σ(l): one per group of `pack` samples, (n / pack). */
ag_tensor *gan_d_logits(gan *g, ag_tape *t, ag_tensor *x);
/* D's loss −V = −mean ln σ(l(x)) − mean ln σ(−l(G(z))) for a real batch x and as many
 * fresh fakes (G is not updated: its output is detached), plus the R1 penalty when
 * r1_gamma > 0 (then d_loss = −V + (γ/2)·r1); with label_smooth = s the real term is
 * −mean[(1 − s) ln σ(l(x)) + s ln σ(−l(x))] (stats->value stays V).  Fills the D fields
 * of stats. */
ag_tensor *gan_d_loss(gan *g, ag_tape *t, ag_tensor *x_real, gan_stats *stats);
/* G's loss on n fresh samples: −mean ln σ(l) (non-saturating) or mean ln σ(−l)
 * (minimax).  Gradients reach D's parameters too; step only G's optimizer and zero D's
 * gradients before its next step. */
ag_tensor *gan_g_loss(gan *g, ag_tape *t, int n, gan_stats *stats);
/* D(x) = σ(l(x)) for a tensor of samples (pack must be 1), (n). */
ag_tensor *gan_discriminate(gan *g, ag_tape *t, ag_tensor *x);

/* The conditional GAN (n_classes > 0; see gan_config).  Labels are ints in [0, K), one per
 * row, in memory that lives as long as the call (e.g. nn_batch.y, or from the tape). */
/* n labels y ~ U{0, ..., K−1} from the tape's PRNG (one uniform each), on the tape. */
int *gan_sample_labels(gan *g, ag_tape *t, int n);
/* G(z, y): (n, x_shape...). */
ag_tensor *gan_generate_labeled(gan *g, ag_tape *t, ag_tensor *z, const int *y);
/* l(x, y) = ψ(φ(x)) + e_yᵀφ(x), (n). */
ag_tensor *gan_d_logits_labeled(gan *g, ag_tape *t, ag_tensor *x, const int *y);
/* gan_d_loss on pairs (x_real[i], y[i]); the fakes are G(z_i, y[i]) with the same labels,
 * so the generated labels follow the data's. */
ag_tensor *gan_d_loss_labeled(gan *g, ag_tape *t, ag_tensor *x_real, const int *y,
                              gan_stats *stats);
/* gan_g_loss on n fresh z's with labels y[0..n). */
ag_tensor *gan_g_loss_labeled(gan *g, ag_tape *t, const int *y, int n, gan_stats *stats);

/* =========================================================================================
 * Discriminator rejection sampling (Azadi et al., "Discriminator Rejection Sampling", ICLR
 * 2019): after training, D corrects G's samples.
 *
 * With balanced classes (π = ½) eq. (4) reads r(x) = p_d(x)/p_g(x) = D(x)/(1 − D(x)), and it
 * holds for the optimal D of eq. (13), D* = p_d/(p_d + p_g).  With D = σ(l), D/(1 − D) = e^l,
 * so D*'s logit is the log density ratio.  Rejection sampling with proposal p_g and envelope
 * e^M·p_g ≥ p_d then turns G's samples into the data's:
 *     keep x ~ p_g with probability  a(x) = e^{l(x) − M},   M ≥ max_x l(x)         (exact DRS)
 *     kept density ∝ p_g(x)·a(x) ∝ p_g(x)·p_d(x)/p_g(x) = p_d(x).
 * M is not known: it starts as the largest logit of a burn-in set of samples and is raised
 * to any larger logit met later (that sample is then kept).  With D optimal a share
 * E_{p_g}[a] = e^{−M} of the samples is kept.
 *
 * When that share is small, Azadi et al. shift the log-odds of keeping by γ:
 *     F(x) = logit a(x) − γ = l − M − ln(1 − e^{l − M}) − γ,   keep with probability σ(F),
 *     σ(F) = a / (a + (1 − a)·e^γ).
 * γ = 0 is the exact rule; γ < 0 multiplies the odds of keeping by e^{−γ} and keeps more,
 * at the price of a smaller correction (γ → −∞ keeps every sample: plain G).  Even γ = 0 is
 * exact only as far as D is optimal: a trained D's e^l is an estimate of the ratio.  With
 * PacGAN's pack > 1, D's logit is the log ratio of a group of `pack` samples, and groups are
 * kept or dropped whole (the kept groups follow p_d's product, so each sample follows p_d).
 *
 * Use: gan_drs_sample(g, t, &(gan_drs){.gamma = 0}, burn_in, n, batch, max_tries, out),
 * or, with logits of one's own, gan_drs_begin on a burn-in set, then gan_drs_filter.
 * ========================================================================================= */
typedef struct gan_drs {
    double max_logit;  /* M */
    double gamma;      /* γ, the shift of the log-odds of keeping (0: exact) */
    long tried, kept;  /* samples (groups, with pack > 1) decided and kept: kept/tried is
                          the acceptance rate */
} gan_drs;

/* A fresh sampler: M = the largest of n burn-in logits (n >= 1), counts 0. */
gan_drs gan_drs_begin(const ag_real *logits, int n, double gamma);
/* The probability of keeping a sample of logit l <= M: a / (a + (1 − a)·e^γ), a = e^{l − M}. */
double gan_drs_accept_prob(const gan_drs *d, double logit);
/* Decides on n samples in order, sample i being row i of rows (row_size values) with the
 * logit logits[i]: M is raised to a logit above it, then the sample is kept with
 * gan_drs_accept_prob (one uniform from rng each).  Kept rows move to the front of rows in
 * their order (rows NULL: decide and count only).  Returns how many were kept.  Allocates
 * nothing. */
int gan_drs_filter(gan_drs *d, const ag_real *logits, int n, ag_rng *rng, ag_real *rows,
                   size_t row_size);
/* n samples of G through DRS into out (n × x_size), d->gamma as given (M and the counts are
 * set here).  G runs in its current mode (gan_set_training: batch norm's batch statistics
 * in training mode), D always in evaluation mode (no dropout; batch norm's running
 * statistics), in batches of `batch` samples (a multiple of pack); z and the uniforms come
 * from t's PRNG (a conditional gan: also each batch's labels, gan_sample_labels, and D
 * judges the pairs), and t is cleared after each batch.  The first `burn_in` samples (whole
 * batches, at least one) only fix M.  Stops after max_tries samples past the burn-in (0: no
 * limit) and returns how many it wrote: n, or fewer when D rejects nearly everything. */
int gan_drs_sample(gan *g, ag_tape *t, gan_drs *d, int burn_in, int n, int batch,
                   long max_tries, ag_real *out);

/* =========================================================================================
 * Classifier-based scores of generated images (gan_eval.c).
 *
 * Without an Inception network, a classifier trained on the same data (build/classify)
 * judges the samples:
 *   - the "Inception" score  IS = exp(E_x KL(p(y|x) ‖ p(y))),  p(y) = E_x p(y|x):
 *     between 1 (every image gets the same prediction) and K (confident predictions,
 *     spread evenly over K classes);
 *   - the KL divergence of the histogram h of predicted classes (argmax) to uniform,
 *     Σ h_k ln(K h_k): 0 when every class is generated equally often (mode coverage);
 *   - classes covered (argmax of at least one image) and the mean confidence max_y p(y|x);
 *   - a Fréchet distance between Gaussian fits of the classifier's penultimate activations
 *     of generated and of real images (FID, with the classifier in place of Inception):
 *         ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½).
 *
 * Example (compiled by make test: tests/programs/header_examples.sh):
 *   gan_scorer *sc = gan_scorer_load("out/classify-mnist/classifier.ckpt", &err);
 *   // or, spec and shape known: gan_scorer_new("linear 128, relu, linear 10", 3,
 *   //                             (int[]){1, 28, 28}, NULL, "weights.ckpt", &err);
 *   gan_scorer_run(sc, x, n, probs, feats);            // p(y|x) (n, K), features (n, F)
 *   gan_class_scores s = gan_class_scores_of(probs, n, sc->n_classes);
 *   gan_gaussian a, b;  gan_gaussian_fit(&a, feats, n, sc->feat_dim);  ...
 *   double fid = gan_frechet(&a, &b);
 * ========================================================================================= */

/* The classifier that scores the samples: any net from images to K logits.  Its tensors
 * are the net's parameters named "net.*" (nn_params_extend(&list, GAN_SCORER_PREFIX,
 * &net->params)), in a weights-only file or in a training checkpoint that also holds other
 * tensors (an optimizer's state: passed over, see nn_checkpoint_load_weights).
 *
 * gan_scorer_new takes the net's spec text and input shape from the caller.  gan_scorer_load
 * reads them from the checkpoint's meta text, where this library defines three lines (a
 * program may write others beside them; build/classify writes these):
 *   net=<spec text>       GAN_SCORER_KEY_NET
 *   input=C H W           GAN_SCORER_KEY_INPUT (1 to 3 numbers: the per-example shape)
 *   dataset=NAME          GAN_SCORER_KEY_DATASET (optional: what it was trained on)
 * gan_scorer_describe writes them. */
#define GAN_SCORER_PREFIX "net"
#define GAN_SCORER_KEY_NET "net"
#define GAN_SCORER_KEY_INPUT "input"
#define GAN_SCORER_KEY_DATASET "dataset"

typedef struct gan_scorer {
    nn_net *net;        /* run in evaluation mode (running batch-norm statistics, no dropout) */
    int n_classes;      /* K: the net's output size */
    int feat_dim;       /* F: size of the input to the net's last layer */
    char dataset[32];   /* dataset= of the meta text, "" when absent or given by the caller */
} gan_scorer;

/* The classifier of spec text `spec` (user layer types: `layer_types`, NULL-terminated, or
 * NULL) for inputs of the per-example shape (ndim, shape), its weights read from path.
 * NULL with err when the spec does not build, does not end in a layer giving one logit
 * per class, or the file is missing, corrupt or lacks a tensor of the net / has it in
 * another shape. */
gan_scorer *gan_scorer_new(const char *spec, int ndim, const int *shape,
                           const nn_layer_type *const *layer_types, const char *path,
                           nn_error *err);
/* The same, with the spec, shape and dataset read from the checkpoint's meta text (the
 * lines above).  NULL with err also when those lines are missing or malformed. */
gan_scorer *gan_scorer_load(const char *path, nn_error *err);
/* Appends the three lines (dataset: when non-NULL) to a meta text of cap bytes, e.g.
 * nn_ckpt_meta.text.  Returns 0, or -1 when they do not fit (text unchanged) or a value
 * holds a newline. */
int gan_scorer_describe(char *text, size_t cap, const char *spec, int ndim, const int *shape,
                        const char *dataset);
void gan_scorer_free(gan_scorer *s); /* NULL is fine */
/* The classifier on n images stored contiguously (n × the net's input size): class
 * probabilities p(y|x) into probs (n, K) and penultimate activations into feats (n, F),
 * both row-major doubles; either may be NULL. */
void gan_scorer_run(const gan_scorer *s, const ag_real *x, int n, double *probs,
                    double *feats);

typedef struct gan_class_scores {
    double inception;   /* exp(E_x KL(p(y|x) ‖ p(y))) */
    double class_kl;    /* KL(argmax histogram ‖ uniform), nats */
    int covered;        /* classes predicted for at least one image */
    double confidence;  /* mean of max_y p(y|x) */
} gan_class_scores;

/* Scores of n rows of k class probabilities (each row sums to 1). */
gan_class_scores gan_class_scores_of(const double *probs, int n, int k);

/* A Gaussian fit of n points of dimension d: their mean and unbiased covariance (n − 1). */
typedef struct gan_gaussian {
    int d;
    double *mean;   /* (d) */
    double *cov;    /* (d, d) */
} gan_gaussian;

/* Fits rows x[i*d .. i*d+d) for i < n (n >= 2); free with gan_gaussian_free. */
void gan_gaussian_fit(gan_gaussian *g, const double *x, int n, int d);
void gan_gaussian_free(gan_gaussian *g);
/* The squared Fréchet (2-Wasserstein) distance between two Gaussians of the same d,
 *   ‖μa − μb‖² + tr Σa + tr Σb − 2 tr (Σa^½ Σb Σa^½)^½,
 * with both square roots from symmetric eigen-decompositions in double. */
double gan_frechet(const gan_gaussian *a, const gan_gaussian *b);

/* Symmetric eigen-decomposition by cyclic Jacobi rotations: a (n, n) symmetric = V diag(w) Vᵀ,
 * w (n) in ascending order, v (n, n) row-major with eigenvectors as columns.  a is not
 * modified.  Returns the number of sweeps used. */
int gan_sym_eigen(const double *a, int n, double *w, double *v);
/* The symmetric square root of a symmetric positive semi-definite a (n, n): s with
 * s·s = a (negative eigenvalues from rounding are taken as 0). */
void gan_sqrtm_psd(const double *a, int n, double *s);

HENBUN_END_DECLS

#endif
