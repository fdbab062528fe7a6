/* boltzmann.c — train a VAE to sample a Gibbs distribution μ(x) = e^−U(x)/Z from the
 * energy alone (seed 003), then measure it against exact answers and against MCMC.
 *
 *   build/boltzmann --energy double-well          the Boltzmann-generator double well
 *   build/boltzmann --energy gmm                  a normalised 2-D Gaussian mixture
 *   build/boltzmann --energy many-well            Many-Well-32 (16 copies, 2^16 modes), by a
 *                                                 sampler that factorises over the copies
 *                                                 (--structure copies, its default)
 *   build/boltzmann --energy ising --L 8 --beta 0.4407
 *
 * Training draws z ~ N(0, I), x ~ Q(x|z) and lowers E[log Q(x|z) − log P(z|x) + β·U(x)]
 * (seed 003 eq. (1.7)), or with --samples K the importance-weighted −log mean_K w, β rising
 * to 1 over --anneal steps.  Afterwards --eval-n fresh draws give importance weights
 * w = e^−U P(z|x) / (π(z) Q(x|z)) (and, with --latent-draws M, the weights that average M
 * encoder draws): log Z ≈ log mean w against the exact value (quadrature, or Kaufman's
 * formula for the Ising model), the effective sample size, and reweighted mode masses
 * against their exact values.  A Metropolis/MALA run on the same energy gives the
 * baseline's effective samples per second.  The last line is 'result: key=value ...'.
 *
 * There is no data set: the harness runs without one, an "epoch" being a logging interval
 * (--log-every steps, one row of log.csv).  sampler.ckpt holds the networks, Adam's moments
 * and the state of the one PRNG stream of training; it is saved every ten logged steps, at
 * the end, and when Ctrl-C stops a run, which --resume then continues exactly.  The model
 * is declared in build(), the step in step(); flags, pictures and the measurements after
 * training: examples/common/boltzmann_parts.c. */
#include "examples/common/boltzmann_parts.h"
#include "examples/common/harness.h"
#include "examples/common/run.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PROG "boltzmann"

typedef struct boltzmann {
    bz_flags c;
    bz_energy e;
    char enc[1024], dec[1024];     /* the networks' spec text made from --hidden, ... */
    bz_sampler *s;
    nn_optim *opt;
    nn_param_list saved;           /* the networks and Adam's moments */
    ag_tape *t;                    /* its generator is the one stream of training noise */
    bz_stats st;                   /* of the last step */
    double beta, t0;               /* the last step's inverse temperature; training's start */
} boltzmann;

static int check(harness *h, char *why, size_t n) {
    boltzmann *p = h->program;
    boltzmann_check_text(&p->c, h->meta.text); /* a checkpoint's: joint unless it says */
    return boltzmann_check(&p->c, &p->e, p->enc, p->dec, why, n);
}

/* The model: encoder and decoder as spec text, the energy it samples, and Adam with a
 * cosine decay to 1/20 of the learning rate over the run. */
static int build(harness *h) {
    boltzmann *p = h->program;
    const bz_flags *c = &p->c;
    nn_error err;
    bz_config bc = {.z_dim = c->latent, .encoder_text = c->encoder, .decoder_text = c->decoder,
                    .path_gradient = !c->score_gradient, .samples = c->samples, .seed = c->seed,
                    .structure = strcmp(c->structure, "copies") ? BZ_JOINT : BZ_COPIES,
                    .copy_bound = c->copy_bound};
    if (!(p->s = bz_new(&p->e, &bc, &err))) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 2;
    }
    printf("henbun %s Boltzmann sampler: %s, dim %d, exact log Z %.6f, %d thread%s\n",
           AG_REAL_NAME, p->e.name, p->e.dim, p->e.log_z, h->threads, h->threads == 1 ? "" : "s");
    printf("  latent %d, encoder '%s', decoder '%s' (%s likelihood, %s gradient)\n", c->latent,
           c->encoder, c->decoder, p->e.binary ? "Bernoulli" : "Gaussian",
           p->e.binary ? "score-function" : c->score_gradient ? "full reparameterised" : "path");
    if (bc.structure == BZ_COPIES)
        printf("  structure copies: both networks shared by the %d copies, fed (copy, one-hot "
               "code), latent %d per copy; %s bound\n", p->e.copies, c->latent / p->e.copies,
               c->samples == 1 ? "K = 1" : c->copy_bound ? "per-copy" : "joint");
    if (!h->flags.eval)
        printf("  %d steps of %d draws (bounds of K = %d), Adam lr %g, anneal %d steps from "
               "beta %g\n", c->iters, c->batch, c->samples, c->lr, c->anneal,
               c->anneal > 0 ? c->anneal_from : 1.0);
    fflush(stdout);
    p->opt = nn_adam(bz_params(p->s), c->lr);
    if (c->clip > 0) nn_optim_set_clip_norm(p->opt, c->clip);
    if (c->iters > 0)
        nn_optim_set_schedule(p->opt, &(nn_lr_schedule){.kind = NN_LR_COSINE,
                                  .total_steps = c->iters, .min_lr = c->lr / 20});
    nn_params_extend(&p->saved, NULL, bz_params(p->s));
    nn_optim_state(p->opt, "optim", &p->saved);
    h->params = bz_params(p->s), h->saved = &p->saved;
    h->steps_per_epoch = c->log_every, h->max_steps = c->iters;
    return 0;
}

/* One stream of noise for the whole run (the tape's), as the checkpoint left it. */
static void begin_training(harness *h, ag_tape *t, bool resumed) {
    boltzmann *p = h->program;
    p->t = t, p->t0 = run_seconds();
    ag_rng_seed(ag_tape_rng(t), p->c.seed * 0x9E3779B97F4A7C15ULL + 1);
    if (resumed) {
        *ag_tape_rng(t) = h->meta.rng;
        printf("  resuming %s at step %ld\n", h->flags.resume, h->step);
    }
}

/* One step on −(the K-draw bound on log Z, seed 003 eq. (1.7) at K = 1) at inverse
 * temperature β; the draws of z and x come from the tape's stream. */
static harness_step step(harness *h, ag_tape *t, double *stats) {
    boltzmann *p = h->program;
    nn_optim_zero_grad(p->opt);
    p->beta = bz_anneal_beta((int)h->step, p->c.anneal, p->c.anneal_from);
    ag_tensor *loss = bz_loss(p->s, t, p->c.batch, p->beta, &p->st);
    ag_backward(t, loss);
    double norm = nn_optim_step(p->opt);
    ag_tape_clear(t);
    stats[0] = p->st.log_z, stats[1] = -p->st.neg_log_w;
    return (harness_step){p->st.objective, norm};
}

/* A logging interval: its row of log.csv (row[0] is the step), a line every ten. */
static void epoch_end(harness *h, const double *mean, double *row) {
    boltzmann *p = h->program;
    double sec = run_seconds() - p->t0;
    memcpy(row + 1, (double[]){p->beta, p->st.objective, p->st.neg_log_w, mean[1], mean[0],
                               p->st.ess, sec}, 7 * sizeof(double));
    if (!h->flags.quiet && (h->step % (p->c.log_every * 10) == 0 || h->step == p->c.iters))
        printf("step %6ld  beta %.3f  E[log w] %9.4f  batch log Z %9.4f  ESS %5.1f%%  %.0fs\n",
               h->step, p->beta, mean[1], mean[0], 100 * p->st.ess, sec);
    fflush(stdout);
}

/* Besides the settings: the interval's sums as they always were (a stopped interval's
 * are the harness's epoch_sums), and the stream's state. */
static void meta_text(harness *h, char *text, size_t size) {
    boltzmann *p = h->program;
    boltzmann_strip_joint(&p->c, text);
    run_text_put(text, size, "interval_sums", (double[]){0, 0, 0}, 3);
    h->meta.rng = *ag_tape_rng(p->t);
}

/* After training (or --load): curves.png, then the measurements and the result line. */
static void result(harness *h) {
    boltzmann *p = h->program;
    char log[4096], png[4096];
    if (!h->flags.eval)
        boltzmann_curves_png(harness_path(h, log, sizeof log, "log.csv"), &p->e,
                             p->c.log_every, harness_path(h, png, sizeof png, "curves.png"));
    boltzmann_measure(p->s, &p->e, &p->c, h->flags.out, h->train_seconds, h->step);
}

static int eval(harness *h) {
    nn_error err;
    if (run_mkdir(h->flags.out, &err)) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 1;
    }
    printf("  loaded %s (trained %lld steps); no training\n", h->flags.eval,
           (long long)h->meta.step);
    h->step = 0;
    result(h);
    return 0;
}

static void release(harness *h) {
    boltzmann *p = h->program;
    nn_params_free(&p->saved);
    nn_optim_free(p->opt);
    bz_free(p->s);
}

int main(int argc, char **argv) {
    static boltzmann p = {.c = {.energy = "double-well", .act = "tanh", .mcmc = "mala",
        .structure = "auto",
        .L = 8, .beta = 0.4407, .layers = 2, .anneal = -1, .clip = 100, .latent_draws = 8,
        .mcmc_chains = 64, .log_every = 50, .seed = 1}};
    static const char *const columns[] = {"step", "beta", "objective", "neg_log_w",
        "mean_log_w", "batch_log_z", "batch_ess", "seconds"};
    static harness h = {.name = PROG, .ckpt_name = "sampler.ckpt", .program = &p,
        .flags = {.threads = 1, .out = "out/boltzmann"}, .columns = columns, .n_columns = 8,
        .stats = {"log Z", "E[log w]"}, .n_stats = 2, .n_bar = 2, .steps_weigh_equally = true,
        .step_name = "step", .save_every = 10, .check = check, .build = build,
        .begin_training = begin_training, .train_step = step, .epoch_end = epoch_end,
        .meta_text = meta_text, .result = result, .eval = eval, .release = release};
    h.cli = &(cli_program){PROG, "Train a VAE as a sampler of exp(-U(x))/Z from the energy "
                                 "alone (seed 003) and measure it against exact answers and "
                                 "MCMC.", boltzmann_help_epilog};
    h.opts = boltzmann_options(&p.c, &h.flags);
    h.remembered = boltzmann_settings(&p.c);
    return harness_main(&h, argc, argv);
}
