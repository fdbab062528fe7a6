/* vae_parts.c — the classic VAE program's interface and its displays (see vae_parts.h):
 * kept out of examples/vae.c so that the program reads as the model and its step. */
#include "examples/common/vae_parts.h"
#include "examples/common/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- flags, settings, help ---------------------------------------------------------------- */

cli_opt *vae_options(vae_flags *c, run_flags *r) {
    static cli_opt opts[64];
    cli_opt table[] = {
        {"dataset", CLI_CHOICE, &c->dataset, "mnist|fashion", "training data"},
        {"data", CLI_STRING, &c->data_dir, "DIR", "where `make data` put the datasets"},
        {"binarize", CLI_CHOICE, &c->binarize, "none|static|dynamic",
         "grey values, one fixed Bernoulli draw, or a fresh draw per batch"},
        {"encoder", CLI_STRING, &c->encoder, "SPEC", "preset mlp|conv|iwae, or spec text"},
        {"decoder", CLI_STRING, &c->decoder, "SPEC", "preset mlp|conv|iwae, or spec text"},
        {"latent", CLI_INT, &c->latent, "N", "latent dimensions", CLI_IN(1, 4096)},
        {"likelihood", CLI_CHOICE, &c->likelihood, "bernoulli|gaussian|gaussian-learned",
         "p(x|z): Bernoulli logits, Gaussian with fixed sigma, or learned variance"},
        {"sigma", CLI_REAL, &c->sigma, "S", "standard deviation of the fixed Gaussian", CLI_IN_OC(0, 1e6)},
        {"objective", CLI_CHOICE, &c->objective, "elbo|iwae|mmd|infovae|btcvae",
         "training objective (see below)"},
        {"samples", CLI_INT, &c->samples, "L", "z samples per example (L of seed 000 eq. (8); k for iwae)", CLI_IN(1, 10000)},
        {"beta", CLI_REAL, &c->beta, "B", "weight of the KL term", CLI_IN(0, 1e6)},
        {"warmup", CLI_INT, &c->warmup, "STEPS", "KL weight rises from 0 to beta over this many steps", CLI_IN(0, 1e9)},
        {"alpha", CLI_REAL, &c->alpha, "A", "infovae: alpha (KL weight 1-alpha); btcvae: weight of MI", CLI_IN(-1e6, 1e6)},
        {"lambda", CLI_REAL, &c->lambda, "L", "infovae/mmd: lambda (MMD weight alpha+lambda-1)", CLI_IN(0, 1e9)},
        {"kernel", CLI_CHOICE, &c->kernel, "gaussian|imq", "MMD kernel"},
        {"kernel-scale", CLI_REAL, &c->kernel_scale, "S", "MMD kernel scale s (default: 2*latent)", CLI_IN_OC(0, 1e9)},
        {"tc-beta", CLI_REAL, &c->tc_beta, "B", "btcvae: weight of the total correlation", CLI_IN(0, 1e6)},
        {"gamma", CLI_REAL, &c->gamma, "G", "btcvae: weight of the dimension-wise KL", CLI_IN(0, 1e6)},
        {"epochs", CLI_INT, &r->epochs, "N", "train until this many epochs are done", CLI_IN(0, 1e6)},
        {"batch", CLI_INT, &r->batch, "N", "minibatch size", CLI_IN(1, 65536)},
        {"lr", CLI_REAL, &c->lr, "LR", "Adam learning rate", CLI_IN_OC(0, 1e30)},
        {"lr-min", CLI_REAL, &c->lr_min, "LR",
         "cosine decay of the learning rate to LR by the last epoch (0: constant)", CLI_IN(0, 10)},
        {"seed", CLI_U64, &r->seed, "S", "seed of every random choice"},
        {"threads", CLI_INT, &r->threads, "N", "OpenMP threads (0: all cores)"},
        {"out", CLI_STRING, &r->out, "DIR",
         "pictures, log.csv, vae.ckpt (--resume: the checkpoint's directory)"},
        {"pictures-every", CLI_INT, &r->pictures_every, "N", "refresh the pictures every N epochs", CLI_IN(1, 1e6)},
        {"resume", CLI_STRING, &r->resume, "CKPT", "continue a run from its checkpoint"},
        {"eval", CLI_STRING, &r->eval, "CKPT", "evaluate a saved model on the test set and exit"},
        {"export", CLI_STRING, &r->export_to, "FILE",
         "also write the model's weights to FILE.safetensors, spec text and settings in its "
         "metadata (docs/safetensors.md); --eval takes such a file too"},
        {"iwae-k", CLI_INT, &c->iwae_k, "K", "also estimate -log p(x) with K importance samples", CLI_IN(0, 100000)},
        {"eval-n", CLI_INT, &c->eval_n, "N", "test examples for the IWAE estimate (0: all)", CLI_IN(0, 1e7)},
        {"measure-n", CLI_INT, &c->measure_n, "N", "test examples for MI and TC (0: all; O(N^2) time)", CLI_IN(0, 1e6)},
        {"measure-outer", CLI_INT, &c->measure_outer, "N",
         "draws z averaged in MI and TC, each against all --measure-n posteriors (0: all)", CLI_IN(0, 1e6)},
        {"probe-n", CLI_INT, &c->probe_n, "N", "training examples for the linear probe (0: all)", CLI_IN(0, 1e7)},
        {"probe-epochs", CLI_INT, &c->probe_epochs, "N", "epochs of the linear probe (0: no probe)", CLI_IN(0, 10000)},
        {"quiet", CLI_FLAG, &r->quiet, NULL, "no progress bar"},
        {"fp-trap", CLI_FLAG, &r->fp_trap, NULL,
         "debugging: die at the first operation that makes a NaN or an inf"},
        {0}};
    memcpy(opts, table, sizeof table);
    return opts;
}

const setting *vae_settings(vae_flags *c, run_flags *r) {
    static setting table[32];
    setting t[] = {
        {"dataset", SET_STRING, &c->dataset},   {"binarize", SET_STRING, &c->binarize},
        {"encoder", SET_STRING, &c->encoder},   {"decoder", SET_STRING, &c->decoder},
        {"latent", SET_INT, &c->latent},        {"likelihood", SET_STRING, &c->likelihood},
        {"sigma", SET_DOUBLE, &c->sigma},       {"objective", SET_STRING, &c->objective},
        {"samples", SET_INT, &c->samples},      {"beta", SET_DOUBLE, &c->beta},
        {"warmup", SET_INT, &c->warmup},        {"seed", SET_U64, &r->seed},
        {"batch", SET_INT, &r->batch},          {"lr", SET_DOUBLE, &c->lr},
        {"lr_min", SET_DOUBLE, &c->lr_min},     {"alpha", SET_DOUBLE, &c->alpha},
        {"lambda", SET_DOUBLE, &c->lambda},     {"kernel", SET_STRING, &c->kernel},
        {"kernel_scale", SET_DOUBLE, &c->kernel_scale},
        {"tc_beta", SET_DOUBLE, &c->tc_beta},   {"gamma", SET_DOUBLE, &c->gamma},
        {0}};
    memcpy(table, t, sizeof t);
    return table;
}

const char *const vae_help_epilog =
    "presets for --encoder/--decoder (or give spec text, see docs/spec.md):\n"
    "  mlp    encoder: linear 400, relu, linear 2*LATENT     decoder: linear 400, relu, linear 784\n"
    "         (both with init=torch: PyTorch's default initialisation, like the reference run)\n"
    "  conv   encoder: conv 32 k4 s2 p1, relu, conv 64 k4 s2 p1, relu, flatten, linear 256, relu,\n"
    "                  linear 2*LATENT\n"
    "         decoder: linear 256, relu, linear 3136, relu, reshape 64 7 7, convt 32 k4 s2 p1,\n"
    "                  relu, convt 1 k4 s2 p1\n"
    "  iwae   encoder: linear 200, tanh, linear 200, tanh, linear 2*LATENT (Burda et al.)\n"
    "         decoder: linear 200, tanh, linear 200, tanh, linear 784\n"
    "\nexamples:\n"
    "  build/vae                                  classic VAE, 10 epochs, pictures in out/vae\n"
    "  build/vae --dataset fashion --likelihood gaussian --sigma 0.1\n"
    "  build/vae --binarize dynamic --encoder iwae --decoder iwae --latent 50 --objective iwae --samples 5\n"
    "  build/vae --eval out/vae/vae.ckpt --iwae-k 5000 --eval-n 1000\n"
    "  build/vae --resume out/vae/vae.ckpt --epochs 20    continue to epoch 20\n"
    "  build/vae --objective mmd --out out/mmd           MMD-VAE (InfoVAE with alpha=1, lambda=1000)\n"
    "  build/vae --objective infovae --alpha 0 --lambda 100   InfoVAE, general form\n"
    "  build/vae --objective btcvae --alpha 1 --tc-beta 6 --gamma 1\n"
    "  build/vae --objective btcvae --alpha 0 --tc-beta 1 --gamma 1   ELBO + I(x;z), seed 002 eq. (7)\n"
    "\nobjectives (seed 002; nats per example, means over a batch):\n"
    "  elbo     recon + beta*KL(q(z|x)||p(z))\n"
    "  iwae     -log (1/k) sum_k w_k, k = --samples\n"
    "  infovae  recon + (1-alpha)*KL + (alpha+lambda-1)*MMD^2(q(z), p(z))   (Zhao et al.)\n"
    "  mmd      infovae with alpha = 1: recon + lambda*MMD^2\n"
    "           MMD^2: unbiased U-statistic between the batch's z ~ q(z|x) and as many draws\n"
    "           of N(0,I); kernel gaussian exp(-|a-b|^2/s) or imq s/(s+|a-b|^2), s = --kernel-scale\n"
    "  btcvae   recon + alpha*MI + tc-beta*TC + gamma*dim-KL (Chen et al.), by minibatch-\n"
    "           weighted sampling: log q(z) ~ logsumexp_j log q(z|x_j) - log(N*M), N = 60000\n"
    "\n--eval measures: mi (I(x;z), He et al. 2019, aggregate posterior = mixture of the\n"
    "--measure-n test posteriors, so mi <= log n = mi_max), tc, dim_kl, marginal_kl (KL(q(z)||p);\n"
    "the last three read far too high when the posteriors are much narrower than the gaps\n"
    "between codes), tc_gauss (TC of a Gaussian with the codes' covariance), mmd (MMD^2 of the\n"
    "codes to N(0,I), gaussian kernel s = 2*latent),\n"
    "active_units (Var E[z|x] > 0.01), kl_dims (KL per dimension), probe_acc (logistic regression\n"
    "on E[z|x] of --probe-n training images, scored on the test set).\n"
    "\nCtrl-C (or SIGTERM) ends the current step, saves vae.ckpt and prints the command that\n"
    "resumes the run; --resume continues it exactly (the same seed and --threads give\n"
    "bit-identical runs).  A NaN or inf stops the run and leaves the last checkpoint alone.\n"
    "\nThe last line printed is 'result: key=value ...' with the headline figures.";

const char *vae_preset_text(const char *s, bool encoder, int latent, bool torch_init, char *buf,
                            size_t n) {
    const char *init = torch_init ? " init=torch" : ""; /* else He/Xavier by look-ahead */
    if (!strcmp(s, "mlp"))
        snprintf(buf, n, "linear 400%s, relu, linear %d%s", init, encoder ? 2 * latent : 784, init);
    else if (!strcmp(s, "conv"))
        snprintf(buf, n, encoder ? "conv 32 k4 s2 p1, relu, conv 64 k4 s2 p1, relu, flatten, "
                                   "linear 256, relu, linear %d"
                                 : "linear 256, relu, linear 3136, relu, reshape 64 7 7, "
                                   "convt 32 k4 s2 p1, relu, convt 1 k4 s2 p1",
                 2 * latent);
    else if (!strcmp(s, "iwae"))
        snprintf(buf, n, encoder ? "linear 200, tanh, linear 200, tanh, linear %d"
                                 : "linear 200, tanh, linear 200, tanh, linear 784",
                 2 * latent);
    else
        return s;
    return buf;
}


const harness_caption vae_captions[] = {
    {"samples.png", "64 images decoded from z drawn from the prior N(0, I), the same z every time"},
    {"recon.png", "32 test images (left) and their reconstructions: the decoder's mean at z = E[z|x]"},
    {"curves.png", "-ELBO per epoch on the training and the test set (nats per example; lower is better)"},
    {"manifold.png", "the decoder over a 20x20 grid of z at Gaussian quantiles (latent 2)"},
    {"latent.png", "E[z|x] of the test images, coloured by their digit (latent 2)"},
    {"kl_dims.png", "--eval: KL(q(z_j|x) || N(0,1)) of each latent dimension j, mean over the "
                    "test images; the title counts the active units (Var E[z_j|x] > 0.01)"},
    {"traverse.png", "one latent dimension per row (the most informative first) from -3 to 3, the others "
                     "at the first test image's code"},
    {0}};

const char *const *vae_export_meta(harness *h) {
    const vae_program *p = h->program;
    static char enc[1024], dec[1024], latent[16], shape[48], lik[32];
    const vae_flags *c = &p->c;
    snprintf(latent, sizeof latent, "%d", c->latent);
    snprintf(shape, sizeof shape, "%d,%d,%d", h->test->shape[0], h->test->shape[1], h->test->shape[2]);
    snprintf(lik, sizeof lik, "%s", c->likelihood);
    for (char *q = lik; *q; q++) *q = *q == '-' ? '_' : *q; /* gaussian_learned, as documented */
    static const char *meta[24];
    const char *m[] = {"model", "vae", "encoder", vae_preset_text(c->encoder, true, c->latent, true, enc, sizeof enc),
                       "decoder", vae_preset_text(c->decoder, false, c->latent, true, dec, sizeof dec),
                       "latent", latent, "likelihood", lik, "x_shape", shape, "objective", c->objective,
                       "dataset", c->dataset, NULL};
    memcpy(meta, m, sizeof m);
    return meta;
}

/* The settings are sound (for the flags, and again for a checkpoint's). */
int vae_check(harness *h, char *why, size_t n) {
    const vae_flags *c = &((vae_program *)h->program)->c;
    const run_flags *r = &h->flags;
    if (nn_dist_size(h->dist) > 1 && strcmp(c->objective, "elbo") && strcmp(c->objective, "iwae")) {
        snprintf(why, n, "--objective %s: its loss is not a mean over examples, which training "
                         "on several ranks needs (elbo and iwae are)", c->objective);
        return -1;
    }
    /* What a step holds: batch x samples x (an image, or the 2 x latent of q(z|x)); and the
     * k importance samples of --iwae-k per example.  Checked before anything is allocated. */
    long long width = 2LL * c->latent > 784 ? 2LL * c->latent : 784;
    size_t size;
    if (!cli_product(&size, HARNESS_MAX_VALUES, 3, (long long[]){r->batch, c->samples, width})) {
        snprintf(why, n, "--batch %d x --samples %d x %lld values is too large (at most %lld a "
                 "step)", r->batch, c->samples, width, (long long)HARNESS_MAX_VALUES);
        return -1;
    }
    if (!cli_product(&size, HARNESS_MAX_VALUES, 2, (long long[]){c->iwae_k, width})) {
        snprintf(why, n, "--iwae-k %d x %lld values is too large (at most %lld)", c->iwae_k,
                 width, (long long)HARNESS_MAX_VALUES);
        return -1;
    }
    if (c->latent >= 1 && r->batch >= 1 && c->samples >= 1 && r->epochs >= 0 && c->lr > 0 &&
        c->lr_min >= 0 && c->lr_min <= c->lr && r->pictures_every >= 1 && c->sigma > 0 &&
        c->beta >= 0 && c->warmup >= 0)
        return 0;
    snprintf(why, n, "--latent, --batch, --samples, --pictures-every must be >= 1, --epochs, "
                     "--beta, --warmup >= 0, --lr, --sigma > 0, 0 <= --lr-min <= --lr");
    return -1;
}

/* ---- pictures ------------------------------------------------------------------------------ */

static double inv_normal_cdf(double p) {
    /* Φ⁻¹ by bisection on erfc: plenty for picking a grid of quantiles. */
    double lo = -8, hi = 8;
    for (int i = 0; i < 80; i++) {
        double mid = 0.5 * (lo + hi);
        if (0.5 * erfc(-mid / sqrt(2.0)) < p) lo = mid; else hi = mid;
    }
    return 0.5 * (lo + hi);
}

void vae_pictures(vae *m, ag_tape *tape, const nn_dataset *test, const vae_eval *ev,
                  const vae_flags *c, const run_flags *r,
                     const double *train_curve, const double *test_curve, int n_epochs,
                     const char *title) {
    char path[4096], cap[128];
    nn_error err;
    int z = m->cfg.z_dim, C = test->shape[0], H = test->shape[1], W = test->shape[2];
    ag_tape *t = tape ? tape : ag_tape_new(0);
    ag_rng rng_was = *ag_tape_rng(t);
    ag_rng_seed(ag_tape_rng(t), run_seed(r->seed, 77, 0)); /* same z every time: comparable */
    bool grad_was = ag_set_grad_enabled(t, false);
    vae_set_training(m, false);
    nn_grid_opts g = {.cols = 8, .scale = 2, .title = title};
    int shape4[4] = {64, C, H, W};

    ag_tensor *s = ag_reshape(t, vae_sample(m, t, 64), 4, shape4);
    if (nn_tensor_grid_png(run_path(path, sizeof path, r->out, "samples.png"), s, &g, &err))
        fprintf(stderr, "vae: %s\n", err.msg);

    int idx[32];
    for (int i = 0; i < 32; i++) idx[i] = i;
    ag_tensor *x = nn_dataset_batch(test, t, idx, 32, false, NULL);
    ag_tensor *rec = ag_reshape(t, vae_reconstruct(m, t, x), 4, (int[]){32, C, H, W});
    nn_grid_opts g2 = {.cols = 4, .scale = 2};
    if (nn_tensor_pair_png(run_path(path, sizeof path, r->out, "recon.png"), x, rec, "test images",
                           "reconstructions", &g2, &err))
        fprintf(stderr, "vae: %s\n", err.msg);

    if (train_curve && n_epochs > 0) {
        nn_series sr[2] = {{"train -ELBO", NULL, train_curve, n_epochs},
                           {"test -ELBO", NULL, test_curve, n_epochs}};
        snprintf(cap, sizeof cap, "VAE on %s: -ELBO (nats per example)", c->dataset);
        if (nn_plot_lines_png(run_path(path, sizeof path, r->out, "curves.png"), sr, 2,
                              &(nn_plot_opts){.title = cap, .xlabel = "epoch", .ylabel = "nats"},
                              &err))
            fprintf(stderr, "vae: %s\n", err.msg);
    }

    if (z == 2) {
        /* The decoder over a 20x20 grid of z at Gaussian quantiles (Kingma & Welling fig. 4). */
        int k = 20;
        ag_tensor *zs = ag_zeros(t, 2, (int[]){k * k, 2});
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                zs->data[(i * k + j) * 2 + 0] = (ag_real)inv_normal_cdf((j + 0.5) / k);
                zs->data[(i * k + j) * 2 + 1] = (ag_real)inv_normal_cdf(1 - (i + 0.5) / k);
            }
        ag_tensor *img = ag_reshape(t, vae_decode(m, t, zs), 4, (int[]){k * k, C, H, W});
        double z1[20], z2[20]; /* the axes: z1 along x, z2 up (its top row first) */
        for (int i = 0; i < k; i++) z1[i] = zs->data[i * 2 + 0], z2[i] = zs->data[i * k * 2 + 1];
        if (nn_tensor_grid_axes_png(run_path(path, sizeof path, r->out, "manifold.png"), img,
                                    &(nn_grid_opts){.cols = k, .pad = -1},
                                    &(nn_grid_axes){.title = "decoder over z", .xlabel = "z1",
                                                    .ylabel = "z2", .col_values = z1,
                                                    .row_values = z2}, &err))
            fprintf(stderr, "vae: %s\n", err.msg);
        if (ev && ev->mu) {
            nn_points pts = {"test codes", ev->mu, ev->n, test->y};
            if (nn_plot_scatter_png(run_path(path, sizeof path, r->out, "latent.png"), &pts, 1,
                                    &(nn_plot_opts){.title = "E[z|x] of test images",
                                                    .xlabel = "z1", .ylabel = "z2"}, &err))
                fprintf(stderr, "vae: %s\n", err.msg);
        }
    } else if (ev && ev->kl_per_dim) {
        /* One row per latent dimension (most informative first, up to 10), z_j from −3 to 3
         * with the others at the code of the first test image. */
        int rows = z < 10 ? z : 10, cols = 11, order[256];
        for (int j = 0; j < z && j < 256; j++) order[j] = j;
        for (int a = 0; a < rows; a++)
            for (int b = a + 1; b < z && b < 256; b++)
                if (ev->kl_per_dim[order[b]] > ev->kl_per_dim[order[a]]) {
                    int tmp = order[a];
                    order[a] = order[b], order[b] = tmp;
                }
        ag_tensor *zs = ag_zeros(t, 2, (int[]){rows * cols, z});
        char labbuf[10][16];
        const char *labels[10];
        double values[11];
        for (int r = 0; r < rows; r++) {
            snprintf(labbuf[r], sizeof labbuf[r], "z%d", order[r]);
            labels[r] = labbuf[r];
            for (int q = 0; q < cols; q++) {
                ag_real *row = zs->data + (size_t)(r * cols + q) * z;
                memcpy(row, ev->mu, sizeof(ag_real) * (size_t)z);
                row[order[r]] = (ag_real)(values[q] = -3 + 6.0 * q / (cols - 1));
            }
        }
        ag_tensor *img = ag_reshape(t, vae_decode(m, t, zs), 4, (int[]){rows * cols, C, H, W});
        /* the row labels beside their rows, the z_j values along the top */
        if (nn_tensor_grid_axes_png(run_path(path, sizeof path, r->out, "traverse.png"), img,
                                    &(nn_grid_opts){.cols = cols, .scale = 2},
                                    &(nn_grid_axes){.title = "latent traversal: z_j from -3 to 3",
                                                    .xlabel = "z_j", .col_values = values,
                                                    .row_labels = labels}, &err))
            fprintf(stderr, "vae: %s\n", err.msg);
    }
    vae_set_training(m, true);
    ag_tape_clear(t);
    ag_set_grad_enabled(t, grad_was);
    *ag_tape_rng(t) = rng_was;
    if (!tape) ag_tape_free(t);
}

/* Seed 002's measurements of a model: the information its codes keep about x (on the test
 * set) and a linear probe's accuracy on them; printed, and appended to `result` as
 * key=value pairs. */
void vae_measure_codes(vae *m, const nn_dataset *train, const nn_dataset *test,
                       const vae_flags *c, const run_flags *r,
                    char *result, size_t size) {
    int z = m->cfg.z_dim;
    double t0 = run_seconds();
    vae_info info = vae_measure(m, test, c->measure_n, c->measure_outer,
                                run_seed(r->seed, 555, 0));
    printf("codes of %d test images (aggregate posterior = their mixture, He et al. 2019; "
           "%d draws):\n"
           "  I(x;z) %.3f nats (ceiling ln n = %.3f)  TC %.3f (Gaussian fit %.3f)  dim-wise KL "
           "%.3f  KL(q(z)||p(z)) %.3f  MMD^2(q(z), p(z)) %.4f\n"
           "  E KL(q(z|x)||p(z)) %.3f = I + KL(q(z)||p(z)) %.3f (seed 002 eq. (5))  "
           "active units %d of %d  (%.1fs)\n  KL per dimension:",
           info.n, info.outer, info.mi, info.mi_max, info.tc, info.tc_gauss, info.dim_kl, info.marginal_kl, info.mmd, info.kl,
           info.mi + info.marginal_kl, info.active_units, z, run_seconds() - t0);
    for (int k = 0; k < z; k++) printf(" %.2f", info.kl_per_dim[k]);
    printf("\n");
    /* The same as a bar chart (a dashed line at 0.01 nats: a dimension below it carries
     * next to nothing); active units (Var E[z|x] > 0.01) are counted in the title. */
    char path[4096], title[96];
    nn_error err;
    snprintf(title, sizeof title, "KL per latent dimension (%d of %d active)", info.active_units, z);
    if (nn_plot_bars_png(run_path(path, sizeof path, r->out, "kl_dims.png"), NULL,
                         info.kl_per_dim, z,
                         &(nn_plot_opts){.title = title, .xlabel = "latent dimension",
                                         .ylabel = "nats", .ref_name = "0.01 nats",
                                         .ref_y = 0.01}, &err))
        fprintf(stderr, "vae: %s\n", err.msg);
    size_t len = strlen(result);
    len += (size_t)snprintf(result + len, size - len, " mi=%.3f mi_max=%.3f tc=%.3f tc_gauss=%.3f "
                            "dim_kl=%.3f marginal_kl=%.3f mmd=%.4f measure_n=%d measure_outer=%d "
                            "kl_dims=", info.mi, info.mi_max, info.tc, info.tc_gauss, info.dim_kl,
                            info.marginal_kl, info.mmd, info.n, info.outer);
    for (int k = 0; k < z && len < size; k++)
        len += (size_t)snprintf(result + len, size - len, k ? ",%.2f" : "%.2f", info.kl_per_dim[k]);
    vae_info_free(&info);
    if (c->probe_epochs > 0 && train->y && test->y && len < size) {
        t0 = run_seconds();
        ag_real *tr_mu, *tr_lv, *te_mu, *te_lv;
        int ntr = vae_encode_dataset(m, train, c->probe_n, &tr_mu, &tr_lv);
        int nte = vae_encode_dataset(m, test, 0, &te_mu, &te_lv);
        double acc = vae_linear_probe(tr_mu, train->y, ntr, te_mu, test->y, nte, z,
                                      c->probe_epochs, run_seed(r->seed, 556, 0));
        printf("linear probe on E[z|x]: trained on %d images for %d epochs, test accuracy "
               "%.4f  (%.1fs)\n", ntr, c->probe_epochs, acc, run_seconds() - t0);
        snprintf(result + len, size - len, " probe_acc=%.4f", acc);
        free(tr_mu), free(tr_lv), free(te_mu), free(te_lv);
    }
}

/* ---- what the program prints --------------------------------------------------------------- */

void vae_describe(harness *h) {
    const vae_program *p = h->program;
    vae *m = p->m;
    const vae_flags *c = &p->c;
    printf("henbun %s VAE: %s, %s, latent %d, %s likelihood, %s x%d, %d thread%s\n",
           AG_REAL_NAME, c->dataset, c->binarize, c->latent, c->likelihood,
           c->objective, c->samples, h->threads, h->threads == 1 ? "" : "s");
    nn_describe(m->encoder, "encoder", stdout);
    nn_describe(m->decoder, "decoder", stdout);
}


/* An IWAE estimate of −log p(x) on n test examples when --iwae-k asks, else NaN. */
static double iwae_nll(const harness *h, vae *m, const vae_flags *c, int n) {
    if (c->iwae_k <= 0) return NAN;
    vae_eval e = vae_evaluate(m, h->test, n, c->iwae_k, run_seed(h->flags.seed, 4321, 0));
    double nll = e.iwae_nll;
    vae_eval_free(&e);
    return nll;
}

void vae_print_result(harness *h) {
    vae_program *p = h->program;
    vae *m = p->m;
    const vae_flags *c = &p->c;
    const vae_eval *ev = &p->ev;
    double iwae = iwae_nll(h, m, c, c->eval_n);
    printf("pictures and checkpoint in %s/ (samples.png, recon.png, curves.png, %s, log.csv, "
           "vae.ckpt)\n", h->flags.out, c->latent == 2 ? "manifold.png, latent.png" : "traverse.png");
    harness_result(h, " test_neg_elbo=%.2f recon=%.2f kl=%.2f active_units=%d", ev->neg_elbo,
                   ev->recon, ev->kl, ev->active_units);
    if (c->iwae_k > 0) harness_result(h, " iwae_nll=%.2f iwae_k=%d", iwae, c->iwae_k);
    /* cpu_sec_per_epoch: all threads' CPU time, which other work on a shared machine
     * inflates far less than the wall clock (make bench compares it at one thread). */
    harness_result(h, " epochs=%d seconds=%.1f sec_per_epoch=%.2f cpu_sec_per_epoch=%.2f",
                   h->start_epoch + h->epochs_done, h->total_seconds,
                   h->train_seconds / h->epochs_done, h->train_cpu / h->epochs_done);
}

int vae_print_eval(harness *h) {
    vae_program *p = h->program;
    vae *m = p->m;
    const vae_flags *c = &p->c;
    double t0 = run_seconds();
    vae_eval ev = vae_evaluate(m, h->test, 0, 0, run_seed(h->flags.seed, 1234, 0));
    int n = c->eval_n > 0 && c->eval_n < h->test->n ? c->eval_n : h->test->n;
    double iwae = iwae_nll(h, m, c, c->eval_n);
    if (c->iwae_k > 0)
        printf("IWAE bound, k=%d on %d test examples: -log p(x) <= %.2f nats\n", c->iwae_k, n, iwae);
    printf("test -ELBO %.2f (recon %.2f, KL %.2f), active units %d of %d\n", ev.neg_elbo,
           ev.recon, ev.kl, ev.active_units, c->latent);
    static char extra[8192];
    vae_measure_codes(m, h->train, h->test, c, &h->flags, extra, sizeof extra);
    harness_result(h, " test_neg_elbo=%.2f recon=%.2f kl=%.2f active_units=%d", ev.neg_elbo,
                   ev.recon, ev.kl, ev.active_units);
    if (c->iwae_k > 0) harness_result(h, " iwae_nll=%.2f iwae_k=%d iwae_n=%d", iwae, c->iwae_k, n);
    harness_result(h, "%s epochs=%d seconds=%.1f", extra, h->start_epoch, run_seconds() - t0);
    vae_eval_free(&ev);
    return 0;
}

void vae_pictures_hook(harness *h) {
    vae_program *p = h->program;
    char title[64];
    snprintf(title, sizeof title, "prior samples, epoch %d", h->epoch + 1);
    vae_pictures(p->m, h->tape, h->test, &p->ev, &p->c, &h->flags, p->train_curve, p->test_curve,
                 h->epochs_done, title);
}

void vae_release(harness *h) {
    vae_program *p = h->program;
    vae_eval_free(&p->ev);
    free(p->train_curve), free(p->test_curve);
    nn_params_free(&p->saved);
    nn_optim_free(p->opt);
    vae_free(p->m);
}
