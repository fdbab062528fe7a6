/* gan2d_parts.h — what examples/gan2d.c needs besides its model and its step: its flags and
 * the settings a checkpoint keeps, the help text, the two mixtures (ring, grid) and their
 * scores (modes captured, high-quality points, reverse KL), the scatter pictures, log.csv
 * across runs, and the table and result line over the runs. */
#ifndef HENBUN_EXAMPLES_GAN2D_PARTS_H
#define HENBUN_EXAMPLES_GAN2D_PARTS_H

#include "examples/common/gan_parts.h" /* gan_optional */
#include "examples/common/harness.h"
#include "vae/gan.h"

#define GAN2D_MAX_MODES 25
#define GAN2D_N_EVAL 2500 /* points scored, as in both papers */

typedef struct gan2d_flags {
    const char *dataset, *gen_loss, *prior, *generator, *discriminator, *schedule;
    int runs, pack, d_steps, iters, z, log_every, pictures;
    double lr, lr_min, beta1, r1, r1_step;
    double ema;  /* the moving average of G's weights to sample from (0: off) */
    bool ema_warmup; /* nn_ema's warm-up of the decay (nn/ema.h) */
    bool drs;    /* also score points drawn by discriminator rejection sampling */
    double drs_gamma; /* its shift of the log-odds of keeping (0: exact) */
    bool resume; /* a flag: continue from the checkpoints in --out */
} gan2d_flags;

/* --ema, kept by a checkpoint only when not 0 (gan_parts.h: gan_optional). */
const gan_optional *gan2d_optionals(gan2d_flags *c);

typedef struct mixture {
    int k;                      /* modes, equally likely */
    double std;                 /* per coordinate */
    double mean[GAN2D_MAX_MODES][2];
} mixture;

typedef struct gan2d_scores {
    int modes;      /* captured modes */
    double hq;      /* % of points within 3 std of their nearest mode */
    double rkl;     /* KL(q ‖ uniform) of the high-quality points' mode histogram, nats */
} gan2d_scores;

/* The option table and the checkpoint's settings table (static: one call each). */
cli_opt *gan2d_options(gan2d_flags *c, run_flags *r);
const setting *gan2d_settings(gan2d_flags *c, run_flags *r);
extern const char *const gan2d_help_epilog;

void mixture_init(mixture *m, const char *name);
/* n points, xy[2i], xy[2i+1]: a mode uniformly at random plus N(0, std² I). */
void mixture_sample(const mixture *m, ag_rng *r, ag_real *xy, int n);
gan2d_scores gan2d_score(const mixture *m, const ag_real *xy, int n);
/* GAN2D_N_EVAL generated points into xy (eval mode, no gradients), z from seed. */
void gan2d_generate(gan *g, uint64_t seed, ag_real *xy);
/* A scatter plot of GAN2D_N_EVAL real and n generated points, --out/name. */
void gan2d_picture(const run_flags *r, const ag_real *real, const ag_real *fake, int n,
                   const char *name, const char *title);
/* Run 1's scatter plot at iteration iter (z from seed): DATASET_iterNNNNNN.png. */
void gan2d_snapshot(gan *g, const gan2d_flags *c, const run_flags *r, const mixture *m,
                    uint64_t seed, long iter, const ag_real *real, ag_real *fake);
/* How discriminator rejection sampling went: the share of points kept, the points drawn
 * (GAN2D_N_EVAL, or fewer when D kept under 1% of GAN2D_DRS_TRIES), wall and CPU seconds. */
typedef struct gan2d_drs_stats { double accept, seconds, cpu; int n; } gan2d_drs_stats;
#define GAN2D_DRS_TRIES (GAN_DRS_TRIES * (long)GAN2D_N_EVAL) /* points offered at most */
/* A trained run's scores on points made with z from seed, and DATASET_runNN_final.png;
 * with drs non-NULL, points drawn by DRS (G and D in evaluation mode, γ = c->drs_gamma),
 * DATASET_runNN_final_drs.png, and *drs filled. */
gan2d_scores gan2d_final(gan *g, const gan2d_flags *c, const run_flags *r, const mixture *m,
                         uint64_t seed, int run, const ag_real *real, ag_real *fake,
                         gan2d_drs_stats *drs);
/* log.csv for all runs: a new one, or (--resume) the old one without the rows written after
 * the checkpoints; NULL (after a message) when a checkpoint was made with other flags. */
nn_csv *gan2d_open_log(const gan2d_flags *c, const harness *h);
/* The header: the mixture, the settings and both networks. */
void gan2d_describe(const gan2d_flags *c, const mixture *m, int batch, int threads, gan *g);
/* The table over the runs done, beside the published figures, and "result: ..."; with
 * drs non-NULL (--drs) also the means of the same runs' DRS points (drs_* in the result). */
void gan2d_report(const gan2d_flags *c, const run_flags *r, const mixture *m,
                  const gan2d_scores *s, const double *seconds, int done,
                  const gan2d_scores *drs, const gan2d_drs_stats *ds);

#endif
