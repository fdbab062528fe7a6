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
 *   gan *g = gan_new(&(gan_config){ .x_ndim = 1, .x_shape = {2}, .z_dim = 2,
 *        .generator_text = "linear 128, relu, linear 128, relu, linear 2",
 *        .discriminator_text = "linear 128, relu, linear 1" }, &err);
 *   ag_tensor *ld = gan_d_loss(g, t, x_real, &st);  ... step D's optimizer ...
 *   ag_tensor *lg = gan_g_loss(g, t, n, &st);       ... step G's optimizer ...
 */
#ifndef HENBUN_GAN_H
#define HENBUN_GAN_H

#include "nn/nn.h"

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
    gan_gen_loss gen_loss;
    int d_steps;   /* k: discriminator steps per generator step (seed 004 eq. (20)); default 1 */
    /* PacGAN (Lin et al. 2018): D judges `pack` samples at once, all real or all fake,
     * which makes a collapsed generator easy to spot.  1 = the vanilla GAN. */
    int pack;
    uint64_t seed; /* parameter initialisation */
} gan_config;

typedef struct gan {
    gan_config cfg;
    nn_net *generator, *discriminator;
    nn_param_list g_params, d_params;  /* two groups: one optimizer each */
    int x_size;
    bool training;                     /* layer mode (batch norm, dropout); default true */
} gan;

typedef struct gan_stats {
    double d_loss, g_loss;
    double d_real, d_fake;  /* mean D(x) on real and on generated samples */
    double value;           /* V(D, G) of eq. (20) on this batch */
    double js;              /* (V + 2 ln 2) / 2, eq. (14) */
} gan_stats;

/* Builds G (input (z_dim), output x_shape) and D (input x_shape with `pack` samples
 * stacked along the first axis, output 1 logit).  NULL with err on a spec or shape error. */
gan *gan_new(const gan_config *cfg, nn_error *err);
void gan_free(gan *g);
void gan_set_training(gan *g, bool on);

/* z ~ prior, (n, z_dim), from the tape's PRNG. */
ag_tensor *gan_sample_z(gan *g, ag_tape *t, int n);
/* G(z): (n, x_shape...). */
ag_tensor *gan_generate(gan *g, ag_tape *t, ag_tensor *z);
/* Discriminator logits l with D = σ(l): one per group of `pack` samples, (n / pack). */
ag_tensor *gan_d_logits(gan *g, ag_tape *t, ag_tensor *x);
/* D's loss −V = −mean ln σ(l(x)) − mean ln σ(−l(G(z))) for a real batch x and as many
 * fresh fakes (G is not updated: its output is detached).  Fills the D fields of stats. */
ag_tensor *gan_d_loss(gan *g, ag_tape *t, ag_tensor *x_real, gan_stats *stats);
/* G's loss on n fresh samples: −mean ln σ(l) (non-saturating) or mean ln σ(−l)
 * (minimax).  Gradients reach D's parameters too; step only G's optimizer and zero D's
 * gradients before its next step. */
ag_tensor *gan_g_loss(gan *g, ag_tape *t, int n, gan_stats *stats);
/* D(x) = σ(l(x)) for a tensor of samples (pack must be 1), (n). */
ag_tensor *gan_discriminate(gan *g, ag_tape *t, ag_tensor *x);

#endif
