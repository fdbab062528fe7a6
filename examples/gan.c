/* gan.c — the GAN of seed 004 on MNIST or Fashion-MNIST (an MLP GAN or a DCGAN), its samples
 * judged by a classifier instead of an Inception network.
 *
 *   build/gan                                   MLP GAN on MNIST
 *   build/gan --arch dcgan --epochs 5           the DCGAN of Radford et al. at 28x28
 *   build/gan --eval out/gan-mlp/gan.ckpt       scores of a saved generator
 *
 * Put it beside seed 004: the two networks are declared below and in build(); step() is one
 * iteration of the alternation, k = --d-steps ascent steps of V(D, G) in D on a real batch
 * and as many fresh fakes (eq. (20)), then one step of G on a fresh batch of z (eq. (21),
 * or its non-saturating form).  An epoch is one shuffled pass of the training images
 * through D.  The harness (examples/common/harness.h) does the rest: flags, checkpoints,
 * exact --resume, Ctrl-C, NaN stops, log.csv; the scores and pictures are in
 * examples/common/gan_parts.c.  Randomness is a function of (seed, epoch, iteration). */
#include "examples/common/gan_parts.h"
#include "examples/common/harness.h"
#include "examples/common/run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The presets of --arch.  Both generators end in a sigmoid: images live in [0, 1], as the
 * data and the classifier that scores them do (tanh with data in [−1, 1] is the same model
 * up to an affine map of the last layer). */
static const char *const mlp_g =
    "linear 256, leaky_relu 0.2, linear 512, leaky_relu 0.2, linear 784, sigmoid";
/* D's dropout (as in Goodfellow et al. 2014) keeps D from winning outright.  Without it
 * (and in PyTorch alike) G fell onto a few digits early and its classifier score stalled
 * from epoch 5 on; with it the score kept rising. */
static const char *const mlp_d =
    "linear 512, leaky_relu 0.2, dropout 0.3, linear 256, leaky_relu 0.2, dropout 0.3, linear 1";
/* Radford et al. (2016) at 28x28, weights N(0, 0.02²). */
static const char *const dc_g =
    "linear 6272 init=normal:0.02, batchnorm, relu, reshape 128 7 7, convt 64 k4 s2 p1 "
    "init=normal:0.02, batchnorm, relu, convt 1 k4 s2 p1 init=normal:0.02, sigmoid";
static const char *const dc_d =
    "conv 64 k4 s2 p1 init=normal:0.02, leaky_relu 0.2, conv 128 k4 s2 p1 init=normal:0.02, "
    "batchnorm, leaky_relu 0.2, flatten, linear 1 init=normal:0.02";
/* --sn: the same discriminators with spectrally normalised layers (Miyato et al. 2018);
 * the DCGAN's drops its batch norm, which SN replaces in their discriminators. */
static const char *const mlp_d_sn =
    "linear_sn 512, leaky_relu 0.2, dropout 0.3, linear_sn 256, leaky_relu 0.2, dropout 0.3, "
    "linear_sn 1";
static const char *const dc_d_sn =
    "conv_sn 64 k4 s2 p1 init=normal:0.02, leaky_relu 0.2, conv_sn 128 k4 s2 p1 "
    "init=normal:0.02, leaky_relu 0.2, flatten, linear_sn 1 init=normal:0.02";

static int check(harness *h, char *why, size_t n) {
    const gan_program *p = h->program;
    const gan_flags *c = &p->c;
    const run_flags *r = &h->flags;
    if ((c->generator && strchr(c->generator, '\n')) ||
        (c->discriminator && strchr(c->discriminator, '\n'))) {
        snprintf(why, n, "--generator/--discriminator: write the spec on one line");
        return -1;
    }
    if (c->sn && c->discriminator && !h->meta.text[0]) {
        snprintf(why, n, "--sn changes the preset D: with --discriminator, write linear_sn / "
                         "conv_sn in its spec instead");
        return -1;
    }
    if (c->ema_warmup && c->ema == 0) {
        snprintf(why, n, "--ema-warmup warms up the decay of --ema: give --ema DECAY too");
        return -1;
    }
    if (p->ps.stride < 1) {
        snprintf(why, n, "progress_stride must be >= 1");
        return -1;
    }
    long long width = c->z_dim > 784 ? c->z_dim : 784; /* z or an image, per example */
    size_t size;
    if (!cli_product(&size, HARNESS_MAX_VALUES, 2, (long long[]){r->batch, width})) {
        snprintf(why, n, "--batch %d x %lld values is too large (at most %lld a step)", r->batch,
                 width, (long long)HARNESS_MAX_VALUES);
        return -1;
    }
    if (c->z_dim >= 1 && r->batch >= 2 && c->d_steps >= 1 && r->epochs >= 0 && c->iters >= 0 &&
        c->eval_n >= 0 && c->score_n >= 0 && c->lr > 0 && c->beta1 >= 0 && c->beta1 < 1)
        return 0;
    snprintf(why, n, "--latent, --d-steps must be >= 1, --batch >= 2, --epochs, --iters, "
                     "--eval-n, --score-n >= 0, --lr > 0, 0 <= --beta1 < 1");
    return -1;
}

/* The data, and what the defaults become once the settings are known. */
static int load(harness *h) {
    gan_program *p = h->program;
    gan_flags *c = &p->c;
    static char out[4096], cls[4096], dir[4096];
    if (gan_optional_read(h, gan_optionals(c))) return 1; /* --resume, --eval */
    bool dc = !strcmp(c->arch, "dcgan");
    if (!c->generator) c->generator = dc ? dc_g : mlp_g;
    if (!c->discriminator) c->discriminator = c->sn ? (dc ? dc_d_sn : mlp_d_sn) : dc ? dc_d : mlp_d;
    if (h->flags.epochs == 0) h->flags.epochs = !strcmp(c->arch, "dcgan") ? 5 : 20;
    h->max_steps = c->iters;
    if (!h->flags.out) h->flags.out = (snprintf(out, sizeof out, "out/gan-%s", c->arch), out);
    if (!c->classifier)
        c->classifier = (snprintf(cls, sizeof cls, "out/classify-%s/classifier.ckpt", c->dataset), cls);
    gan_progress_from_text(&p->ps, h->meta.text);  /* empty for a new run: no rows */
    nn_error err;
    snprintf(dir, sizeof dir, "%s/%s", c->data_dir, c->dataset);
    if (!h->flags.eval && !(h->train = nn_dataset_load_mnist(dir, "train", &err))) {
        fprintf(stderr, "gan: %s\n", err.msg);
        return 1;
    }
    if (c->conditional && h->train && h->train->n_classes > GAN_CLASSES) { /* G's one-hot */
        fprintf(stderr, "gan: %s: a label is %d, --conditional takes 0..%d\n", dir,
                h->train->n_classes - 1, GAN_CLASSES - 1);
        return 1;
    }
    h->batching.drop_last = true; /* batch norm and V's real/fake balance want equal sizes */
    h->batches_per_step = c->d_steps;
    if (!h->flags.eval && c->eval_n == 0 && c->score_n == 0) return 0; /* no scores */
    if (c->classifier == cls && access(c->classifier, R_OK) != 0) { /* the default: optional */
        fprintf(stderr, "gan: no classifier at %s: samples will not be scored (train one with "
                        "`build/classify --arch cnn --dataset %s --epochs 3`)\n",
                c->classifier, c->dataset);
    } else if (!(h->test = nn_dataset_load_mnist(dir, "test", &err))) {
        fprintf(stderr, "gan: %s\n", err.msg);
        return 1;
    }
    return 0;
}

/* The model: G and D as spec text, the loss of G, and an Adam for each. */
static int build(harness *h) {
    gan_program *p = h->program;
    const gan_flags *c = &p->c;
    int x[3] = {1, 28, 28}; /* MNIST's and Fashion-MNIST's shape (the loader checks) */
    if (h->train) memcpy(x, h->train->shape, sizeof x);
    gan_config gc = {.x_ndim = 3, .x_shape = {x[0], x[1], x[2]}, .z_dim = c->z_dim,
                     .generator_text = c->generator, .discriminator_text = c->discriminator,
                     .gen_loss = !strcmp(c->gen_loss, "minimax") ? GAN_MINIMAX : GAN_NON_SATURATING,
                     .d_steps = c->d_steps, .r1_gamma = c->r1, .label_smooth = c->label_smooth,
                     .seed = run_seed(h->flags.seed, 0, 0),
                     .n_classes = c->conditional ? GAN_CLASSES : 0};
    nn_error err;
    if (!(p->g = gan_new(&gc, &err))) { /* NULL text: the --arch preset, no caret */
        harness_spec_error(h, err.msg, 2, (const char *[]){"generator", "discriminator"},
                           (const char *[]){"--generator", "--discriminator"},
                           (const char *[]){c->generator, c->discriminator});
        return 2;
    }
    if (c->conditional && !(p->labels = malloc(sizeof(int) * (size_t)h->flags.batch))) {
        fprintf(stderr, "gan: out of memory\n");
        return 1;
    }
    p->opt_g = nn_adam(&p->g->g_params, c->lr_g > 0 ? c->lr_g : c->lr); /* TTUR: own rates */
    p->opt_d = nn_adam(&p->g->d_params, c->lr_d > 0 ? c->lr_d : c->lr);
    nn_optim_set_betas(p->opt_g, c->beta1, 0.999, 1e-8);
    nn_optim_set_betas(p->opt_d, c->beta1, 0.999, 1e-8);
    p->progress = ag_tensor_new(4, (int[]){PROGRESS_ROWS * PROGRESS_COLS, x[0], x[1], x[2]}, false);
    nn_params_extend(&p->params, NULL, &p->g->g_params);
    nn_params_extend(&p->params, NULL, &p->g->d_params);
    nn_params_extend(&p->saved, NULL, &p->params);
    if (c->ema > 0) { /* G's average starts at G and is saved beside it: a model tensor */
        p->ema = nn_ema_new(&p->g->g_params, c->ema);
        p->ema->warmup = c->ema_warmup;
        nn_ema_state(p->ema, "ema", &p->saved);
    }
    nn_optim_state(p->opt_g, "opt_g", &p->saved);
    nn_optim_state(p->opt_d, "opt_d", &p->saved);
    nn_params_add(&p->saved, NULL, "progress.images", p->progress, false);
    h->params = &p->params, h->saved = &p->saved;
    if (h->test && gan_reference_init(&p->ref, c->classifier, c, h->test)) return 1;
    if (h->flags.eval && !p->ref.sc) {
        fprintf(stderr, "gan: --eval needs a classifier (--classifier CKPT)\n");
        return 1;
    }
    return 0;
}

/* One iteration: k steps of D on real batches (eq. (20)), then one step of G (eq. (21)).
 * --conditional: D judges pairs (x, y), the fakes G(z, y) taking the real batch's labels,
 * and G's step the last real batch's labels, so generated labels follow the data's. */
static harness_step step(harness *h, ag_tape *t, double *stats) {
    gan_program *p = h->program;
    const int k = p->c.d_steps;
    const uint64_t z_draws = 2 * (uint64_t)p->c.z_dim; /* a row's z ~ N(0, I) */
    gan_stats st;
    int n_labels = 0; /* --conditional: the last real batch's */
    ag_rng_seed(ag_tape_rng(t), run_seed(h->flags.seed, 2, (uint64_t)h->step)); /* its z's */
    memset(stats, 0, 5 * sizeof *stats);
    for (int i = 0; i < k; i++) {
        nn_batch b = harness_batch(h, t);
        nn_optim_zero_grad(p->opt_d);
        harness_skip_draws(h, t, z_draws, false); /* under MPI: the z's of this rank's rows */
        const int *y = NULL;
        if (p->labels) { /* copied: the tape holding b.y is cleared before G's step */
            memcpy(p->labels, b.y, sizeof(int) * (size_t)b.size);
            y = p->labels, n_labels = b.size;
        }
        ag_tensor *d_loss = gan_d_loss_labeled(p->g, t, b.x, y, &st); /* −V, fakes constant */
        harness_skip_draws(h, t, z_draws, true);
        /* ag_backward, and under MPI the sum of D's gradients over the ranks */
        bool finite = harness_backward_of(h, t, d_loss, &p->g->d_params);
        double norm = nn_optim_step(p->opt_d);
        ag_tape_clear(t);
        if (!finite || !isfinite(norm)) return (harness_step){st.d_loss, norm};
        stats[0] += st.d_loss / k, stats[4] += st.js / k;
        stats[2] += st.d_real / k, stats[3] += st.d_fake / k;
    }
    nn_optim_zero_grad(p->opt_g);
    int n = harness_rows(h, h->flags.batch);                /* this rank's z's, under MPI */
    if (p->labels && n != n_labels)  /* the same rows under MPI: drop_last keeps them equal */
        ag_error("gan", "G's step has %d rows and %d labels", n, n_labels);
    harness_skip_draws(h, t, z_draws, false);
    nn_params_set_requires_grad(&p->g->d_params, false);    /* no dW for D: G's step */
    ag_tensor *g_loss = gan_g_loss_labeled(p->g, t, p->labels, n, &st); /* through D, into G */
    harness_backward_of(h, t, g_loss, &p->g->g_params);     /* ag_backward (+ G's sum) */
    nn_params_set_requires_grad(&p->g->d_params, true);
    double norm = nn_optim_step(p->opt_g);                    /* G's parameters only */
    if (p->ema) {                                             /* --ema: its average */
        p->ema->updates = h->step; /* t of the warm-up: one update per step, resume-exact */
        nn_ema_update(p->ema);
    }
    ag_tape_clear(t);
    stats[1] = st.g_loss;
    return (harness_step){st.g_loss, norm};
}

/* After an epoch: a quick score, the pictures, the epoch's line and its row of log.csv. */
static void epoch_end(harness *h, const double *mean, double *row) {
    gan_program *p = h->program;
    const gan_flags *c = &p->c;
    long total = h->max_steps > 0 ? h->max_steps : (long)h->flags.epochs * h->per_epoch;
    memcpy(p->last, mean, sizeof p->last);
    gan_scores s = {.fid = NAN, .cls = {.inception = NAN}};
    gan_use_average(p->ema, true); /* --ema: scores and pictures from G's average */
    if (p->ref.sc && c->score_n > 0)
        s = gan_score(p->g, &p->ref, c, h->flags.batch, c->score_n,
                      run_seed(h->flags.seed, 5, (uint64_t)h->epoch), false);
    gan_pictures(p, &h->flags, h->per_epoch, h->step,
                 h->step == total || (h->epoch + 1) % p->ps.stride == 0);
    gan_use_average(p->ema, false);
    printf("epoch %3d/%d  d_loss %.4f g_loss %.4f  D(x) %.3f D(G(z)) %.3f  js %.4f", h->epoch + 1,
           h->n_epochs, mean[0], mean[1], mean[2], mean[3], mean[4]);
    if (p->ref.sc && c->score_n > 0)
        printf("  IS %.2f classes %d FID%s %.2f", s.cls.inception, s.cls.covered,
               c->score_n == 1000 ? "1k" : "", s.fid);
    printf("  %.1fs\n", h->epoch_seconds);
    fflush(stdout);
    memcpy(row, (double[]){(double)h->step / h->per_epoch, (double)h->step, mean[0], mean[1],
                           mean[2], mean[3], mean[4], s.cls.inception, s.cls.covered, s.fid,
                           h->epoch_seconds}, 11 * sizeof(double));
}

static void meta_text(harness *h, char *text, size_t size) {
    gan_program *p = h->program;
    gan_optional_text(gan_optionals(&p->c), text, size); /* only those not 0 */
    gan_progress_to_text(&p->ps, text, size);
}

static const char *const columns[] = {"epoch", "iters", "d_loss", "g_loss", "d_real", "d_fake",
                                      "js", "inception", "classes", "fid", "seconds"};

/* The checkpoint's training state: Adam's moments and the progress picture's rows. */
static const char *const gan_state[] = {"opt_g.", "opt_d.", "progress.", NULL};

int main(int argc, char **argv) {
    static gan_program p = {.c = {.dataset = "mnist", .data_dir = "data", .arch = "mlp",
        .gen_loss = "ns", .sample_bn = "batch", .z_dim = 100, .d_steps = 1, .eval_n = 5000,
        .score_n = 1000, .lr = 2e-4, .beta1 = 0.5}, .ps = {.stride = 1}};
    static harness h = {.name = "gan", .ckpt_name = "gan.ckpt", .program = &p,
        .flags = {.batch = 64, .seed = 1}, .step_name = "iteration",
        .columns = columns, .n_columns = 11, .log_step_column = 1,
        .stats = {"d_loss", "g_loss", "D(x)", "D(G(z))", "js"}, .n_stats = 5, .n_bar = 5,
        .steps_weigh_equally = true, .check = check, .load = load, .build = build,
        .train_step = step, .epoch_end = epoch_end, .meta_text = meta_text,
        .describe = gan_describe, .result = gan_print_result, .eval = gan_print_eval, .captions = gan_captions, .export_meta = gan_export_meta,
        .state_prefixes = gan_state,
        .release = gan_release};
    h.cli = &(cli_program){"gan", "Train a GAN (seed 004: an MLP GAN or a DCGAN) on MNIST or "
                                  "Fashion-MNIST and score its samples with a classifier.",
                           gan_help_epilog};
    h.opts = gan_options(&p.c, &h.flags);
    h.remembered = gan_settings(&p, &h.flags);
    return harness_main(&h, argc, argv);
}
