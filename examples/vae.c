/* vae.c — train and evaluate the VAE of seeds 000/001 on MNIST or Fashion-MNIST.
 *
 *   build/vae                                   the classic 784-400-20 VAE, 10 epochs
 *   build/vae --encoder conv --decoder conv     a convolutional VAE
 *   build/vae --latent 2                        adds manifold.png and latent.png
 *   build/vae --eval out/vae/vae.ckpt --iwae-k 5000
 *   build/vae --objective mmd                   the MMD-VAE of seed 002 eq. (6)
 *   build/vae --objective btcvae --tc-beta 6    β-TCVAE (seed 002 eq. (7))
 *
 * --eval also measures what the codes keep (seed 002): I(x;z), total correlation, KL per
 * dimension, active units and the accuracy of a linear probe on E[z|x].
 *
 * Every epoch prints train and test −ELBO (reconstruction + KL, nats per example), appends
 * a row to log.csv and saves a checkpoint; pictures are refreshed every few epochs.  All
 * randomness is a function of (seed, epoch, step), which is what makes --resume exact:
 * the data order of an epoch comes from a generator seeded with (seed, epoch), and the
 * reparameterization noise of a step from one seeded with (seed, step). */
#include "vae/vae.h"
#include "examples/common/cli.h"
#include "examples/common/run.h"
#include "examples/common/settings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "vae"

/* ---- configuration: the flags, and the part of them a checkpoint must remember ---------- */

typedef struct config {
    const char *dataset, *data_dir, *binarize, *encoder, *decoder, *likelihood, *objective;
    int latent, samples, epochs, batch, threads, warmup, iwae_k, eval_n, pictures_every;
    double beta, sigma, lr, lr_min;
    const char *kernel;                        /* seed 002: InfoVAE / MMD-VAE, β-TCVAE */
    double alpha, lambda, kernel_scale, tc_beta, gamma;
    int measure_n, measure_outer, probe_n, probe_epochs;
    uint64_t seed;
    const char *out, *resume, *eval;
    bool quiet, fp_trap;
} config;

static const char *presets_help =
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

/* Expands a preset name to spec text (into buf) or returns the text unchanged. */
static const char *spec_text(const char *s, bool encoder, int latent, char *buf, size_t n) {
    if (!strcmp(s, "mlp"))
        /* PyTorch's default initialisation, so the classic model matches its reference run. */
        snprintf(buf, n, encoder ? "linear 400 init=torch, relu, linear %d init=torch"
                                 : "linear 400 init=torch, relu, linear 784 init=torch",
                 2 * latent);
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

/* ---- pictures --------------------------------------------------------------------------- */

static double inv_normal_cdf(double p) {
    /* Φ⁻¹ by bisection on erfc: plenty for picking a grid of quantiles. */
    double lo = -8, hi = 8;
    for (int i = 0; i < 80; i++) {
        double mid = 0.5 * (lo + hi);
        if (0.5 * erfc(-mid / sqrt(2.0)) < p) lo = mid; else hi = mid;
    }
    return 0.5 * (lo + hi);
}

static void pictures(vae *m, const nn_dataset *test, const vae_eval *ev, const config *c,
                     const double *train_curve, const double *test_curve, int n_epochs,
                     const char *title) {
    char path[4096], cap[128];
    nn_error err;
    int z = m->cfg.z_dim, C = test->shape[0], H = test->shape[1], W = test->shape[2];
    ag_tape *t = ag_tape_new(run_seed(c->seed, 77, 0)); /* same z every time: samples comparable */
    ag_set_grad_enabled(t, false);
    vae_set_training(m, false);
    nn_grid_opts g = {.cols = 8, .scale = 2, .title = title};
    int shape4[4] = {64, C, H, W};

    ag_tensor *s = ag_reshape(t, vae_sample(m, t, 64), 4, shape4);
    if (nn_tensor_grid_png(run_path(path, sizeof path, c->out, "samples.png"), s, &g, &err))
        fprintf(stderr, PROG ": %s\n", err.msg);

    int idx[32];
    for (int i = 0; i < 32; i++) idx[i] = i;
    ag_tensor *x = nn_dataset_batch(test, t, idx, 32, false, NULL);
    ag_tensor *rec = ag_reshape(t, vae_reconstruct(m, t, x), 4, (int[]){32, C, H, W});
    nn_grid_opts g2 = {.cols = 4, .scale = 2};
    if (nn_tensor_pair_png(run_path(path, sizeof path, c->out, "recon.png"), x, rec, "test images",
                           "reconstructions", &g2, &err))
        fprintf(stderr, PROG ": %s\n", err.msg);

    if (train_curve && n_epochs > 0) {
        nn_series sr[2] = {{"train -ELBO", NULL, train_curve, n_epochs},
                           {"test -ELBO", NULL, test_curve, n_epochs}};
        snprintf(cap, sizeof cap, "VAE on %s: -ELBO (nats per example)", c->dataset);
        if (nn_plot_lines_png(run_path(path, sizeof path, c->out, "curves.png"), sr, 2,
                              &(nn_plot_opts){.title = cap, .xlabel = "epoch", .ylabel = "nats"},
                              &err))
            fprintf(stderr, PROG ": %s\n", err.msg);
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
        if (nn_tensor_grid_png(run_path(path, sizeof path, c->out, "manifold.png"), img,
                               &(nn_grid_opts){.cols = k, .pad = -1, .title = "decoder over z"}, &err))
            fprintf(stderr, PROG ": %s\n", err.msg);
        if (ev && ev->mu) {
            nn_points pts = {"test codes", ev->mu, ev->n, test->y};
            if (nn_plot_scatter_png(run_path(path, sizeof path, c->out, "latent.png"), &pts, 1,
                                    &(nn_plot_opts){.title = "E[z|x] of test images",
                                                    .xlabel = "z1", .ylabel = "z2"}, &err))
                fprintf(stderr, PROG ": %s\n", err.msg);
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
        char *caps[10 * 11] = {0};
        char capbuf[10 * 11][16];
        for (int r = 0; r < rows; r++)
            for (int q = 0; q < cols; q++) {
                ag_real *row = zs->data + (size_t)(r * cols + q) * z;
                memcpy(row, ev->mu, sizeof(ag_real) * (size_t)z);
                row[order[r]] = (ag_real)(-3 + 6.0 * q / (cols - 1));
                if (q == 0) snprintf(capbuf[r * cols + q], 16, "z%d", order[r]);
                else capbuf[r * cols + q][0] = 0;
                caps[r * cols + q] = capbuf[r * cols + q];
            }
        ag_tensor *img = ag_reshape(t, vae_decode(m, t, zs), 4, (int[]){rows * cols, C, H, W});
        if (nn_tensor_grid_png(run_path(path, sizeof path, c->out, "traverse.png"), img,
                               &(nn_grid_opts){.cols = cols, .scale = 2,
                                               .captions = (const char *const *)caps,
                                               .title = "latent traversal: z_j from -3 to 3"},
                               &err))
            fprintf(stderr, PROG ": %s\n", err.msg);
    }
    vae_set_training(m, true);
    ag_tape_free(t);
}

/* ---- the program ------------------------------------------------------------------------ */

static vae_objective objective_of(const char *s) {
    return !strcmp(s, "iwae") ? VAE_IWAE : !strcmp(s, "mmd") ? VAE_MMD
           : !strcmp(s, "infovae") ? VAE_INFOVAE : !strcmp(s, "btcvae") ? VAE_BTCVAE : VAE_ELBO;
}

/* Seed 002's measurements of a model: the information its codes keep about x (on the test
 * set) and a linear probe's accuracy on them; printed, and appended to `result` as
 * key=value pairs. */
static void measure(vae *m, const nn_dataset *train, const nn_dataset *test, const config *c,
                    char *result, size_t size) {
    int z = m->cfg.z_dim;
    double t0 = run_seconds();
    vae_info info = vae_measure(m, test, c->measure_n, c->measure_outer,
                                run_seed(c->seed, 555, 0));
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
                                      c->probe_epochs, run_seed(c->seed, 556, 0));
        printf("linear probe on E[z|x]: trained on %d images for %d epochs, test accuracy "
               "%.4f  (%.1fs)\n", ntr, c->probe_epochs, acc, run_seconds() - t0);
        snprintf(result + len, size - len, " probe_acc=%.4f", acc);
        free(tr_mu), free(tr_lv), free(te_mu), free(te_lv);
    }
}

static nn_dataset *load(const config *c, const char *split, nn_error *err) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", c->data_dir, c->dataset);
    nn_dataset *d = nn_dataset_load_mnist(dir, split, err);
    if (d && !strcmp(c->binarize, "static"))
        nn_dataset_binarize_bernoulli(d, run_seed(c->seed, !strcmp(split, "test"), 99));
    return d;
}

int main(int argc, char **argv) {
    config c = {.dataset = "mnist", .data_dir = "data", .binarize = "none", .encoder = "mlp",
                .decoder = "mlp", .likelihood = "bernoulli", .objective = "elbo", .latent = 20,
                .samples = 1, .epochs = 10, .batch = 128, .threads = 0, .warmup = 0,
                .iwae_k = 0, .eval_n = 0, .pictures_every = 5, .beta = 1, .sigma = 1,
                .lr = 1e-3, .seed = 1, .out = "out/vae", .kernel = "gaussian", .alpha = 1,
                .lambda = 1000, .kernel_scale = 0, .tc_beta = 6, .gamma = 1,
                .measure_n = 10000, .measure_outer = 2000, .probe_n = 10000, .probe_epochs = 10};
    cli_opt opts[] = {
        {"dataset", CLI_CHOICE, &c.dataset, "mnist|fashion", "training data"},
        {"data", CLI_STRING, &c.data_dir, "DIR", "where `make data` put the datasets"},
        {"binarize", CLI_CHOICE, &c.binarize, "none|static|dynamic",
         "grey values, one fixed Bernoulli draw, or a fresh draw per batch"},
        {"encoder", CLI_STRING, &c.encoder, "SPEC", "preset mlp|conv|iwae, or spec text"},
        {"decoder", CLI_STRING, &c.decoder, "SPEC", "preset mlp|conv|iwae, or spec text"},
        {"latent", CLI_INT, &c.latent, "N", "latent dimensions"},
        {"likelihood", CLI_CHOICE, &c.likelihood, "bernoulli|gaussian|gaussian-learned",
         "p(x|z): Bernoulli logits, Gaussian with fixed sigma, or learned variance"},
        {"sigma", CLI_REAL, &c.sigma, "S", "standard deviation of the fixed Gaussian"},
        {"objective", CLI_CHOICE, &c.objective, "elbo|iwae|mmd|infovae|btcvae",
         "training objective (see below)"},
        {"samples", CLI_INT, &c.samples, "L", "z samples per example (L of seed 000 eq. (8); k for iwae)"},
        {"beta", CLI_REAL, &c.beta, "B", "weight of the KL term"},
        {"warmup", CLI_INT, &c.warmup, "STEPS", "KL weight rises from 0 to beta over this many steps"},
        {"alpha", CLI_REAL, &c.alpha, "A", "infovae: alpha (KL weight 1-alpha); btcvae: weight of MI"},
        {"lambda", CLI_REAL, &c.lambda, "L", "infovae/mmd: lambda (MMD weight alpha+lambda-1)"},
        {"kernel", CLI_CHOICE, &c.kernel, "gaussian|imq", "MMD kernel"},
        {"kernel-scale", CLI_REAL, &c.kernel_scale, "S", "MMD kernel scale s (0: 2*latent)"},
        {"tc-beta", CLI_REAL, &c.tc_beta, "B", "btcvae: weight of the total correlation"},
        {"gamma", CLI_REAL, &c.gamma, "G", "btcvae: weight of the dimension-wise KL"},
        {"epochs", CLI_INT, &c.epochs, "N", "train until this many epochs are done"},
        {"batch", CLI_INT, &c.batch, "N", "minibatch size"},
        {"lr", CLI_REAL, &c.lr, "LR", "Adam learning rate"},
        {"lr-min", CLI_REAL, &c.lr_min, "LR",
         "cosine decay of the learning rate to LR by the last epoch (0: constant)"},
        {"seed", CLI_U64, &c.seed, "S", "seed of every random choice"},
        {"threads", CLI_INT, &c.threads, "N", "OpenMP threads (0: all cores)"},
        {"out", CLI_STRING, &c.out, "DIR",
         "pictures, log.csv, vae.ckpt (--resume: the checkpoint's directory)"},
        {"pictures-every", CLI_INT, &c.pictures_every, "N", "refresh the pictures every N epochs"},
        {"resume", CLI_STRING, &c.resume, "CKPT", "continue a run from its checkpoint"},
        {"eval", CLI_STRING, &c.eval, "CKPT", "evaluate a saved model on the test set and exit"},
        {"iwae-k", CLI_INT, &c.iwae_k, "K", "also estimate -log p(x) with K importance samples"},
        {"eval-n", CLI_INT, &c.eval_n, "N", "test examples for the IWAE estimate (0: all)"},
        {"measure-n", CLI_INT, &c.measure_n, "N", "test examples for MI and TC (0: all; O(N^2) time)"},
        {"measure-outer", CLI_INT, &c.measure_outer, "N",
         "draws z averaged in MI and TC, each against all --measure-n posteriors (0: all)"},
        {"probe-n", CLI_INT, &c.probe_n, "N", "training examples for the linear probe (0: all)"},
        {"probe-epochs", CLI_INT, &c.probe_epochs, "N", "epochs of the linear probe (0: no probe)"},
        {"quiet", CLI_FLAG, &c.quiet, NULL, "no progress bar"},
        {"fp-trap", CLI_FLAG, &c.fp_trap, NULL,
         "debugging: die at the first operation that makes a NaN or an inf"},
        {0}};
    cli_program prog = {PROG, "Train a variational autoencoder (seeds 000, 001) on MNIST or "
                              "Fashion-MNIST, or evaluate a saved one.", presets_help};
    int rc = cli_parse(argc, argv, &prog, opts);
    if (rc) return rc < 0 ? 2 : 0;

    /* What a checkpoint remembers: the settings that define the model and its training,
     * as "key=value" lines in this order.  --resume and --eval take them from there. */
    const setting remembered[] = {
        {"dataset", SET_STRING, &c.dataset},   {"binarize", SET_STRING, &c.binarize},
        {"encoder", SET_STRING, &c.encoder},   {"decoder", SET_STRING, &c.decoder},
        {"latent", SET_INT, &c.latent},        {"likelihood", SET_STRING, &c.likelihood},
        {"sigma", SET_DOUBLE, &c.sigma},       {"objective", SET_STRING, &c.objective},
        {"samples", SET_INT, &c.samples},      {"beta", SET_DOUBLE, &c.beta},
        {"warmup", SET_INT, &c.warmup},        {"seed", SET_U64, &c.seed},
        {"batch", SET_INT, &c.batch},          {"lr", SET_DOUBLE, &c.lr},
        {"lr_min", SET_DOUBLE, &c.lr_min},     {"alpha", SET_DOUBLE, &c.alpha},
        {"lambda", SET_DOUBLE, &c.lambda},     {"kernel", SET_STRING, &c.kernel},
        {"kernel_scale", SET_DOUBLE, &c.kernel_scale},
        {"tc_beta", SET_DOUBLE, &c.tc_beta},   {"gamma", SET_DOUBLE, &c.gamma},
        {0}};

    nn_error err;
    static nn_ckpt_meta meta;                 /* 8 KiB of text: keep it off the stack */
    static char saved_text[NN_CKPT_TEXT_MAX]; /* c's strings point here on --resume/--eval */
    const char *ckpt_in = c.eval ? c.eval : c.resume;
    if (c.eval && c.resume) {
        fprintf(stderr, PROG ": --eval and --resume exclude each other\n");
        return 2;
    }
    if (ckpt_in) { /* the model comes from the checkpoint, whatever the flags say */
        if (nn_checkpoint_info(ckpt_in, &meta, NULL, &err)) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            return 1;
        }
        memcpy(saved_text, meta.text, sizeof saved_text);
        if (settings_read(saved_text, PROG, remembered, ckpt_in)) return 1;
    }
    char out_buf[4096];
    bool out_given = false;
    for (int i = 1; i < argc; i++)
        out_given |= !strcmp(argv[i], "--out") || !strncmp(argv[i], "--out=", 6);
    if (c.resume && !out_given) c.out = run_dirname(out_buf, sizeof out_buf, c.resume);
    if (c.latent < 1 || c.batch < 1 || c.epochs < 0 || c.samples < 1 || c.lr <= 0 ||
        c.lr_min < 0 || c.lr_min > c.lr) {
        fprintf(stderr, PROG ": --latent, --batch, --samples must be >= 1, --epochs >= 0, --lr > 0, "
                "0 <= --lr-min <= --lr\n");
        return 2;
    }
    int threads = run_threads(c.threads);
    if (c.fp_trap && run_fp_trap(PROG)) return 2;

    nn_dataset *train = load(&c, "train", &err), *test = train ? load(&c, "test", &err) : NULL;
    if (!train || !test) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        nn_dataset_free(train);
        return 1;
    }

    char enc_buf[512], dec_buf[512];
    vae_config vc = {
        .x_ndim = 3, .x_shape = {train->shape[0], train->shape[1], train->shape[2]},
        .z_dim = c.latent,
        .encoder_text = spec_text(c.encoder, true, c.latent, enc_buf, sizeof enc_buf),
        .decoder_text = spec_text(c.decoder, false, c.latent, dec_buf, sizeof dec_buf),
        .likelihood = !strcmp(c.likelihood, "bernoulli") ? VAE_BERNOULLI
                      : !strcmp(c.likelihood, "gaussian") ? VAE_GAUSSIAN : VAE_GAUSSIAN_LEARNED,
        .sigma = c.sigma, .objective = objective_of(c.objective),
        .samples = c.samples, .beta = c.beta, .warmup_steps = c.warmup, .seed = c.seed,
        .info_alpha = c.alpha, .info_lambda = c.lambda,
        .mmd_kernel = !strcmp(c.kernel, "imq") ? VAE_KERNEL_IMQ : VAE_KERNEL_GAUSSIAN,
        .mmd_scale = c.kernel_scale, .tc_alpha = c.alpha, .tc_beta = c.tc_beta,
        .tc_gamma = c.gamma, .dataset_size = train->n};
    vae *m = vae_new(&vc, &err);
    if (!m) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        nn_dataset_free(train);
        nn_dataset_free(test);
        return 2;
    }
    nn_optim *opt = nn_adam(vae_params(m), c.lr);
    if (c.lr_min > 0 && c.epochs > 0) /* the schedule follows the optimizer's step count */
        nn_optim_set_schedule(opt, &(nn_lr_schedule){
            .kind = NN_LR_COSINE, .min_lr = c.lr_min,
            .total_steps = c.epochs * (int)((train->n + c.batch - 1) / c.batch)});
    /* What a checkpoint holds: the parameters and Adam's moments. */
    nn_param_list saved = {0};
    nn_params_extend(&saved, NULL, vae_params(m));
    nn_optim_state(opt, "optim", &saved);

    int start_epoch = 0;
    long step = 0;
    if (ckpt_in) {
        if (nn_checkpoint_load(ckpt_in, &saved, &meta, &err)) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            return 1;
        }
        start_epoch = (int)meta.epoch;
        step = (long)meta.step;
        m->step = step;
    }
    if (!c.quiet || c.eval) {
        printf("henbun %s VAE: %s, %s, latent %d, %s likelihood, %s x%d, %d thread%s\n",
               AG_REAL_NAME, c.dataset, c.binarize, c.latent, c.likelihood, c.objective,
               c.samples, threads, threads == 1 ? "" : "s");
        nn_describe(m->encoder, "encoder", stdout);
        nn_describe(m->decoder, "decoder", stdout);
    }

    if (c.eval) {
        double t0 = run_seconds();
        vae_eval ev = vae_evaluate(m, test, 0, 0, run_seed(c.seed, 1234, 0));
        double iwae = NAN;
        if (c.iwae_k > 0) {
            vae_eval e2 = vae_evaluate(m, test, c.eval_n, c.iwae_k, run_seed(c.seed, 4321, 0));
            iwae = e2.iwae_nll;
            printf("IWAE bound, k=%d on %d test examples: -log p(x) <= %.2f nats\n", c.iwae_k,
                   e2.n, iwae);
            vae_eval_free(&e2);
        }
        printf("test -ELBO %.2f (recon %.2f, KL %.2f), active units %d of %d\n", ev.neg_elbo,
               ev.recon, ev.kl, ev.active_units, c.latent);
        static char extra[8192];
        extra[0] = 0;
        measure(m, train, test, &c, extra, sizeof extra);
        printf("result: test_neg_elbo=%.2f recon=%.2f kl=%.2f active_units=%d", ev.neg_elbo,
               ev.recon, ev.kl, ev.active_units);
        if (c.iwae_k > 0) printf(" iwae_nll=%.2f iwae_k=%d iwae_n=%d", iwae, c.iwae_k,
                                 c.eval_n > 0 && c.eval_n < test->n ? c.eval_n : test->n);
        printf("%s epochs=%d seconds=%.1f\n", extra, start_epoch, run_seconds() - t0);
        vae_eval_free(&ev);
        nn_params_free(&saved);
        nn_optim_free(opt);
        vae_free(m);
        nn_dataset_free(train);
        nn_dataset_free(test);
        return 0;
    }

    if (run_mkdir(c.out, &err)) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 1;
    }
    char path[4096], ckpt[4096];
    run_path(ckpt, sizeof ckpt, c.out, "vae.ckpt");
    run_path(path, sizeof path, c.out, "log.csv");
    /* A fresh run starts a fresh log; a resumed one drops the rows of epochs the
     * checkpoint has not seen (written after it, they are written again). */
    if (!c.resume) remove(path);
    else if (run_log_rewind(path, 0, 1, (double[]){(double)start_epoch}, &err)) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 1;
    }
    static const char *cols[] = {"epoch", "train_neg_elbo", "train_recon", "train_kl",
                                 "test_neg_elbo", "test_recon", "test_kl", "seconds"};
    nn_csv *csv = nn_csv_open(path, 8, cols, &err);
    if (!csv) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return 1;
    }
    /* A run stopped inside an epoch left that epoch's examples and its sums of −ELBO, recon
     * and KL (and the loss, for IWAE) in the checkpoint, so the resumed epoch reports the
     * means of all of it. */
    const bool iwae_obj = objective_of(c.objective) == VAE_IWAE;
    double part[5] = {0};
    if (c.resume && run_text_get(meta.text, "epoch_sums", part, 5)) memset(part, 0, sizeof part);
    ag_rng data_rng;
    ag_tape *t = ag_tape_new(c.seed);
    nn_batcher *it = nn_batcher_new(train, &(nn_batch_opts){.batch_size = c.batch,
                                        .binarize = !strcmp(c.binarize, "dynamic")}, &data_rng);
    const long per_epoch = nn_batcher_num_batches(it), n_examples = nn_batcher_num_examples(it);
    if (step < (long)start_epoch * per_epoch || step >= (long)(start_epoch + 1) * per_epoch) {
        fprintf(stderr, PROG ": %s: step %ld is not in epoch %d of this data set (%ld batches "
                        "an epoch): was it trained on other data?\n", ckpt_in, step,
                start_epoch + 1, per_epoch);
        return 1;
    }
    nn_progress *bar = nn_progress_new(&(nn_progress_opts){
        .mode = c.quiet ? NN_PROGRESS_PLAIN : NN_PROGRESS_AUTO, .n_values = 3,
        .names = {"-elbo", "recon", "kl"}});
    double *train_curve = calloc((size_t)c.epochs + 1, sizeof(double));
    double *test_curve = calloc((size_t)c.epochs + 1, sizeof(double));
    double total_seconds = 0, train_seconds = 0;
    int epochs_done = 0, code = 0;
    vae_eval ev = {0};
    run_catch_signals();
    for (int epoch = start_epoch; epoch < c.epochs && !code; epoch++) {
        char label[32];
        snprintf(label, sizeof label, "epoch %d/%d", epoch + 1, c.epochs);
        ag_rng_seed(&data_rng, run_seed(c.seed, 1, (uint64_t)epoch));
        nn_progress_begin(bar, label, n_examples);
        double t0 = run_seconds();
        /* After a mid-epoch stop, skip the batches that were already trained on: the order
         * is the same, (seed, epoch) made it. */
        nn_batch b;
        long before = step - (long)epoch * per_epoch;
        for (long skip = before; skip > 0 && nn_batcher_next(it, t, &b); skip--) ag_tape_clear(t);
        vae_epoch ep = vae_train_epoch(m, opt, it, t, c.seed, &step, bar, run_step_done);
        nn_progress_end(bar);
        if (ep.nonfinite) {
            run_report_nonfinite(PROG, vae_params(m), "epoch %d step %ld", epoch + 1, step + 1);
            code = 1;
            break;
        }
        double train_s = run_seconds() - t0;
        bool whole = step == (long)(epoch + 1) * per_epoch;
        if (before > 0 || !whole) { /* a stopped or resumed epoch: sums for its means */
            double n0 = (double)(before * c.batch < n_examples ? before * c.batch : n_examples);
            long upto = (before + ep.steps) * c.batch;
            double n1 = (double)(upto < n_examples ? upto : n_examples) - n0;
            part[0] += n1, part[1] += ep.neg_elbo * n1, part[2] += ep.recon * n1;
            part[3] += ep.kl * n1, part[4] += ep.loss * n1;
            if (whole)
                ep.neg_elbo = part[1] / part[0], ep.recon = part[2] / part[0],
                ep.kl = part[3] / part[0], ep.loss = part[4] / part[0];
        }
        if (!whole) { /* a signal stopped the epoch half-way */
            meta.epoch = epoch, meta.step = step;
            settings_write(meta.text, sizeof meta.text, PROG, remembered);
            run_text_put(meta.text, sizeof meta.text, "epoch_sums", part, 5);
            code = run_stop_status();
            if (!run_save_checkpoint(PROG, ckpt, &saved, &meta)) {
                fprintf(stderr, PROG ": %s: stopped at epoch %d step %ld (%ld of %ld batches); "
                                "checkpoint %s\n", run_stop_signal(), epoch + 1, step,
                        step - (long)epoch * per_epoch, per_epoch, ckpt);
                run_print_resume(argc, argv, ckpt);
            }
            break;
        }
        memset(part, 0, sizeof part);
        vae_eval_free(&ev);
        ev = vae_evaluate(m, test, 0, 0, run_seed(c.seed, 3, (uint64_t)epoch));
        double secs = run_seconds() - t0;
        train_seconds += train_s;
        total_seconds += secs;
        int i = epochs_done++;
        train_curve[i] = ep.neg_elbo;
        test_curve[i] = ev.neg_elbo;
        if (iwae_obj) /* the IWAE step computes -ELBO but not its split: print the bound */
            printf("epoch %3d/%d  train -iwae%d %7.2f (-elbo %7.2f)  test -elbo %7.2f "
                   "(recon %6.2f kl %5.2f)  %.1fs\n", epoch + 1, c.epochs, c.samples, ep.loss,
                   ep.neg_elbo, ev.neg_elbo, ev.recon, ev.kl, train_s);
        else
            printf("epoch %3d/%d  train -elbo %7.2f (recon %6.2f kl %5.2f)  test -elbo %7.2f "
                   "(recon %6.2f kl %5.2f)  %.1fs\n", epoch + 1, c.epochs, ep.neg_elbo, ep.recon,
                   ep.kl, ev.neg_elbo, ev.recon, ev.kl, train_s);
        fflush(stdout);
        double tr_recon = iwae_obj ? NAN : ep.recon, tr_kl = iwae_obj ? NAN : ep.kl;
        if (nn_csv_row(csv, (double[]){epoch + 1, ep.neg_elbo, tr_recon, tr_kl, ev.neg_elbo,
                                       ev.recon, ev.kl, train_s}, &err))
            fprintf(stderr, PROG ": %s\n", err.msg);
        meta.epoch = epoch + 1, meta.step = step;
        settings_write(meta.text, sizeof meta.text, PROG, remembered);
        if (run_save_checkpoint(PROG, ckpt, &saved, &meta)) {
            code = 1;
            break;
        }
        if ((epoch + 1) % c.pictures_every == 0 || epoch + 1 == c.epochs) {
            char title[64];
            snprintf(title, sizeof title, "prior samples, epoch %d", epoch + 1);
            pictures(m, test, &ev, &c, train_curve, test_curve, epochs_done, title);
        }
        if (run_stop_requested() && epoch + 1 < c.epochs) { /* between epochs: nothing lost */
            fprintf(stderr, PROG ": %s: stopped after epoch %d; checkpoint %s\n",
                    run_stop_signal(), epoch + 1, ckpt);
            run_print_resume(argc, argv, ckpt);
            code = run_stop_status();
        }
    }
    nn_csv_close(csv, NULL);
    if (!code && epochs_done > 0) {
        double iwae = NAN;
        if (c.iwae_k > 0) {
            vae_eval e2 = vae_evaluate(m, test, c.eval_n, c.iwae_k, run_seed(c.seed, 4321, 0));
            iwae = e2.iwae_nll;
            vae_eval_free(&e2);
        }
        printf("pictures and checkpoint in %s/ (samples.png, recon.png, curves.png, %s, log.csv, "
               "vae.ckpt)\n", c.out, c.latent == 2 ? "manifold.png, latent.png" : "traverse.png");
        printf("result: test_neg_elbo=%.2f recon=%.2f kl=%.2f active_units=%d", ev.neg_elbo,
               ev.recon, ev.kl, ev.active_units);
        if (c.iwae_k > 0) printf(" iwae_nll=%.2f iwae_k=%d", iwae, c.iwae_k);
        printf(" epochs=%d seconds=%.1f sec_per_epoch=%.2f\n", start_epoch + epochs_done,
               total_seconds, train_seconds / epochs_done);
    } else if (!code) {
        printf("nothing to do: the checkpoint is already at epoch %d (raise --epochs)\n",
               start_epoch);
    }
    vae_eval_free(&ev);
    free(train_curve);
    free(test_curve);
    nn_progress_free(bar);
    nn_batcher_free(it);
    ag_tape_free(t);
    nn_params_free(&saved);
    nn_optim_free(opt);
    vae_free(m);
    nn_dataset_free(train);
    nn_dataset_free(test);
    return code;
}
