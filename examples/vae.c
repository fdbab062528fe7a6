/* vae.c — the VAE of seeds 000/001 on MNIST or Fashion-MNIST: build/vae trains the classic
 * 784-400-20 model; --encoder conv, --objective mmd|btcvae|..., --eval CKPT (see --help).
 * Put it beside seed 000: the model is declared in build(), the step on the bound of its
 * eq. (8) is in step(), the figures of an epoch in epoch_end().  Everything around them (flags,
 * checkpoints, exact --resume, Ctrl-C, NaN stops, log.csv, pictures) is the harness's:
 * examples/common/harness.h.  Flags, presets and pictures: examples/common/vae_parts.c.
 * All randomness is a function of (seed, epoch, step), which makes --resume exact. */
#include "examples/common/harness.h"
#include "examples/common/run.h"
#include "examples/common/vae_parts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static nn_dataset *load_split(harness *h, const char *split, nn_error *err) {
    const vae_flags *c = &((vae_program *)h->program)->c;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", c->data_dir, c->dataset);
    nn_dataset *d = nn_dataset_load_mnist(dir, split, err);
    if (d && !strcmp(c->binarize, "static")) /* one fixed draw per image */
        nn_dataset_binarize_bernoulli(d, run_seed(h->flags.seed, !strcmp(split, "test"), 99));
    return d;
}

static int load(harness *h) {
    nn_error err;
    if (!(h->train = load_split(h, "train", &err)) || !(h->test = load_split(h, "test", &err))) {
        fprintf(stderr, "vae: %s\n", err.msg);
        return 1;
    }
    h->batching.binarize = !strcmp(((vae_program *)h->program)->c.binarize, "dynamic");
    return 0;
}

/* The model: encoder q(z|x) and decoder p(x|z) as spec text, and the objective. */
static int build(harness *h) {
    vae_program *p = h->program;
    const vae_flags *c = &p->c;
    char enc[512], dec[512];
    nn_error err;
    vae_config vc = {
        .x_ndim = 3, .x_shape = {h->train->shape[0], h->train->shape[1], h->train->shape[2]},
        .z_dim = c->latent,
        .encoder_text = vae_preset_text(c->encoder, true, c->latent, true, enc, sizeof enc),
        .decoder_text = vae_preset_text(c->decoder, false, c->latent, true, dec, sizeof dec),
        .likelihood = !strcmp(c->likelihood, "bernoulli") ? VAE_BERNOULLI
                      : !strcmp(c->likelihood, "gaussian") ? VAE_GAUSSIAN : VAE_GAUSSIAN_LEARNED,
        .sigma = c->sigma, .samples = c->samples, .beta = c->beta, .warmup_steps = c->warmup,
        .objective = !strcmp(c->objective, "iwae") ? VAE_IWAE : !strcmp(c->objective, "mmd")
                     ? VAE_MMD : !strcmp(c->objective, "infovae") ? VAE_INFOVAE
                     : !strcmp(c->objective, "btcvae") ? VAE_BTCVAE : VAE_ELBO,
        .seed = h->flags.seed, .info_alpha = c->alpha, .info_lambda = c->lambda,
        .mmd_kernel = !strcmp(c->kernel, "imq") ? VAE_KERNEL_IMQ : VAE_KERNEL_GAUSSIAN,
        .mmd_scale = c->kernel_scale, .tc_alpha = c->alpha, .tc_beta = c->tc_beta,
        .tc_gamma = c->gamma, .dataset_size = h->train->n};
    if (!(p->m = vae_new(&vc, &err))) { /* a preset's text is shown too: it is what ran */
        harness_spec_error(h, err.msg, 2, (const char *[]){"encoder", "decoder"},
                           (const char *[]){"--encoder", "--decoder"},
                           (const char *[]){vc.encoder_text, vc.decoder_text});
        return 2;
    }
    p->opt = nn_adam(vae_params(p->m), c->lr);
    int per_epoch = (h->train->n + h->flags.batch - 1) / h->flags.batch;
    if (c->lr_min > 0 && h->flags.epochs > 0) /* cosine decay over the whole run */
        nn_optim_set_schedule(p->opt, &(nn_lr_schedule){
            .kind = NN_LR_COSINE, .min_lr = c->lr_min, .total_steps = h->flags.epochs * per_epoch});
    nn_params_extend(&p->saved, NULL, vae_params(p->m));
    nn_optim_state(p->opt, "optim", &p->saved);
    h->params = vae_params(p->m), h->saved = &p->saved;
    p->train_curve = calloc((size_t)h->flags.epochs + 1, sizeof(double));
    p->test_curve = calloc((size_t)h->flags.epochs + 1, sizeof(double));
    return 0;
}

/* One step on −(the bound of seed 000 eq. (8)), with z = μ + σ·ε as in seed 001; the noise
 * ε comes from (seed, step). */
static harness_step step(harness *h, ag_tape *t, double *stats) {
    vae_program *p = h->program;
    nn_batch b = harness_batch(h, t);
    nn_optim_zero_grad(p->opt);
    ag_rng_seed(ag_tape_rng(t), vae_step_seed(h->flags.seed, h->step));
    harness_skip_draws(h, t, 2 * (uint64_t)p->c.latent * (uint64_t)p->c.samples, false); /* ε */
    p->m->step = h->step;                       /* the KL warm-up follows the step count */
    vae_stats st;
    ag_tensor *loss = vae_loss(p->m, t, b.x, true, &st); /* −ELBO (or −IWAE), batch mean */
    harness_backward(h, t, loss);               /* ag_backward (+ the sum over MPI ranks) */
    double norm = nn_optim_step(p->opt);        /* Adam on every parameter */
    ag_tape_clear(t);
    stats[0] = st.neg_elbo, stats[1] = st.recon, stats[2] = st.kl, stats[3] = st.loss;
    return (harness_step){st.loss, norm};
}

/* After an epoch: the test set's figures, the epoch's line and its row of log.csv. */
static void epoch_end(harness *h, const double *mean, double *row) {
    vae_program *p = h->program;
    vae_eval_free(&p->ev);
    p->ev = vae_evaluate_on(p->m, h->tape, h->test, 0, 0,  /* on the training tape's arena */
                            run_seed(h->flags.seed, 3, (uint64_t)h->epoch));
    const vae_eval *ev = &p->ev;
    p->train_curve[h->epochs_done] = mean[0], p->test_curve[h->epochs_done] = ev->neg_elbo;
    bool iwae = !strcmp(p->c.objective, "iwae"); /* its step has no recon/KL split */
    if (iwae)
        printf("epoch %3d/%d  train -iwae%d %7.2f (-elbo %7.2f)  test -elbo %7.2f (recon %6.2f "
               "kl %5.2f)  %.1fs\n", h->epoch + 1, h->flags.epochs, p->c.samples, mean[3],
               mean[0], ev->neg_elbo, ev->recon, ev->kl, h->epoch_seconds);
    else
        printf("epoch %3d/%d  train -elbo %7.2f (recon %6.2f kl %5.2f)  test -elbo %7.2f "
               "(recon %6.2f kl %5.2f)  %.1fs\n", h->epoch + 1, h->flags.epochs, mean[0], mean[1],
               mean[2], ev->neg_elbo, ev->recon, ev->kl, h->epoch_seconds);
    fflush(stdout);
    memcpy(row + 1, (double[]){mean[0], iwae ? NAN : mean[1], iwae ? NAN : mean[2], ev->neg_elbo,
                               ev->recon, ev->kl, h->epoch_seconds}, 7 * sizeof(double));
}

static const char *const columns[] = {"epoch", "train_neg_elbo", "train_recon", "train_kl",
                                      "test_neg_elbo", "test_recon", "test_kl", "seconds"};

int main(int argc, char **argv) {
    static vae_program p = {.c = {.dataset = "mnist", .data_dir = "data", .binarize = "none",
        .encoder = "mlp", .decoder = "mlp", .likelihood = "bernoulli", .objective = "elbo",
        .latent = 20, .samples = 1, .beta = 1, .sigma = 1, .lr = 1e-3, .kernel = "gaussian",
        .alpha = 1, .lambda = 1000, .tc_beta = 6, .gamma = 1, .measure_n = 10000,
        .measure_outer = 2000, .probe_n = 10000, .probe_epochs = 10}};
    static harness h = {.name = "vae", .ckpt_name = "vae.ckpt", .program = &p,
        .flags = {.epochs = 10, .batch = 128, .pictures_every = 5, .seed = 1, .out = "out/vae"},
        .columns = columns, .n_columns = 8,
        .stats = {"-elbo", "recon", "kl", "loss"}, .n_stats = 4, .n_bar = 3,
        .check = vae_check, .load = load, .build = build, .train_step = step, .epoch_end = epoch_end,
        .describe = vae_describe, .pictures = vae_pictures_hook, .result = vae_print_result,
        .eval = vae_print_eval, .release = vae_release, .captions = vae_captions,
        .export_meta = vae_export_meta};
    h.cli = &(cli_program){"vae", "Train a variational autoencoder (seeds 000, 001) on MNIST or "
                                  "Fashion-MNIST, or evaluate a saved one.", vae_help_epilog};
    h.opts = vae_options(&p.c, &h.flags);
    h.remembered = vae_settings(&p.c, &h.flags);
    return harness_main(&h, argc, argv);
}
