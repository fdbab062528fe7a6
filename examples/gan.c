/* gan.c — train the GAN of seed 004 on MNIST or Fashion-MNIST (an MLP GAN or a DCGAN) and
 * judge its samples with a classifier instead of an Inception network.
 *
 *   build/gan                                   MLP GAN on MNIST
 *   build/gan --arch dcgan --epochs 5           the DCGAN of Radford et al. at 28x28
 *   build/gan --eval out/gan-mlp/gan.ckpt       scores of a saved generator
 *   build/gan --iters 300 --eval-n 0 --score-n 0   timing only
 *
 * One iteration is seed 004's alternation: k = --d-steps ascent steps of V(D, G) in D,
 * each on a real minibatch and as many fresh fakes (eq. (20)), then one step of G on a
 * fresh batch of z (eq. (21), or its non-saturating form).  An epoch is one shuffled pass
 * of the training images through D.  Every epoch prints the means of the losses, of D(x)
 * on real and generated images and of the JS estimate (V + 2 ln 2)/2 (eq. (14)), a quick
 * classifier score, appends a row to log.csv, redraws samples.png and progress.png and
 * saves gan.ckpt.  All randomness is a function of (seed, epoch, iteration), which makes
 * --resume exact: data order from (seed, epoch), noise from (seed, iteration). */
#include "vae/gan.h"
#include "examples/common/cli.h"
#include "examples/common/run.h"
#include "examples/common/settings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "gan"
#define PROGRESS_COLS 10  /* fixed z's per row of progress.png */
#define PROGRESS_ROWS 16  /* rows kept; beyond, every other row is dropped */
#define FIXED_N 64        /* fixed z's of samples.png (the first PROGRESS_COLS make progress.png) */

/* ---- configuration ------------------------------------------------------------------------ */

typedef struct config {
    const char *dataset, *data_dir, *arch, *generator, *discriminator, *gen_loss, *sample_bn;
    int z_dim, d_steps, iters, epochs, batch, threads, eval_n, score_n;
    double lr, beta1;
    uint64_t seed;
    const char *out, *resume, *eval, *classifier;
    bool quiet, fp_trap;
} config;

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
    "linear 6272 init=normal:0.02, batchnorm, relu, reshape 128 7 7, "
    "convt 64 k4 s2 p1 init=normal:0.02, batchnorm, relu, convt 1 k4 s2 p1 init=normal:0.02, sigmoid";
static const char *const dc_d =
    "conv 64 k4 s2 p1 init=normal:0.02, leaky_relu 0.2, conv 128 k4 s2 p1 init=normal:0.02, "
    "batchnorm, leaky_relu 0.2, flatten, linear 1 init=normal:0.02";

static const char *presets_help =
    "presets for --arch (--generator / --discriminator SPEC replace either with spec text):\n"
    "  mlp    G: z 100 -> linear 256, leaky_relu 0.2, linear 512, leaky_relu 0.2, linear 784,\n"
    "            sigmoid            (He initialisation)\n"
    "         D: linear 512, leaky_relu 0.2, dropout 0.3, linear 256, leaky_relu 0.2,\n"
    "            dropout 0.3, linear 1\n"
    "  dcgan  G: z 100 -> linear 6272, batchnorm, relu, reshape 128 7 7, convt 64 k4 s2 p1,\n"
    "            batchnorm, relu, convt 1 k4 s2 p1, sigmoid\n"
    "         D: conv 64 k4 s2 p1, leaky_relu 0.2, conv 128 k4 s2 p1, batchnorm, leaky_relu 0.2,\n"
    "            flatten, linear 1   (weights N(0, 0.02^2))\n"
    "Both: z ~ N(0, I), batch 64, Adam lr 2e-4 with beta1 = 0.5, images in [0, 1].\n"
    "\nbatch norm: D sees each real batch and each fake batch separately (its statistics are\n"
    "never mixed); G always runs in training mode, so samples use the statistics of their\n"
    "own batch of 64 as in training (--sample-bn running uses the running averages instead).\n"
    "\nscores: a classifier saved by build/classify (default out/classify-DATASET/classifier.ckpt;\n"
    "train one with `build/classify --arch cnn --dataset DATASET --epochs 3`) gives the\n"
    "Inception score exp(E KL(p(y|x) || p(y))), the KL of the predicted-class histogram to\n"
    "uniform, the classes covered, and the Frechet distance between Gaussian fits of its\n"
    "penultimate features of generated images and of the first half of the test set, beside\n"
    "the floor: the same distance between the two halves of the test set.\n"
    "\nexamples:\n"
    "  build/gan --epochs 15                          MLP GAN, pictures in out/gan-mlp\n"
    "  build/gan --arch dcgan --iters 3000\n"
    "  build/gan --dataset fashion --gen-loss minimax --d-steps 2\n"
    "  build/gan --resume out/gan-mlp/gan.ckpt --epochs 30\n"
    "  build/gan --eval out/gan-dcgan/gan.ckpt --eval-n 10000\n"
    "\nFiles in --out: gan.ckpt, log.csv, samples.png (64 samples of fixed z), progress.png\n"
    "(the first 10 of them, one row per epoch).  Ctrl-C (or SIGTERM) ends the current\n"
    "iteration, saves gan.ckpt and prints the command that resumes the run exactly.  A NaN\n"
    "or inf stops the run, the last checkpoint intact.  The last line printed is\n"
    "'result: key=value ...' with the headline figures, sec_per_1000_iters among them.";

static bool given(int argc, char **argv, const char *name) {
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "--", 2) && !strncmp(argv[i] + 2, name, n) &&
            (argv[i][2 + n] == 0 || argv[i][2 + n] == '='))
            return true;
    return false;
}

static const char *g_spec(const config *c) {
    return c->generator ? c->generator : !strcmp(c->arch, "dcgan") ? dc_g : mlp_g;
}
static const char *d_spec(const config *c) {
    return c->discriminator ? c->discriminator : !strcmp(c->arch, "dcgan") ? dc_d : mlp_d;
}

/* progress.png's rows: the iteration count at which each was taken; a row is taken at the
 * end of every stride-th epoch and of the run. */
typedef struct progress_state { int rows, stride; long iters[PROGRESS_ROWS]; } progress_state;

/* Appends the line "progress_iters=I1 I2 ...\n" (the rows' iterations) to the meta text. */
static void progress_to_text(const progress_state *ps, char *buf, size_t n) {
    size_t k = strlen(buf);
    k += (size_t)snprintf(buf + k, k < n ? n - k : 0, "progress_iters=");
    for (int i = 0; i < ps->rows && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? " %ld" : "%ld", ps->iters[i]);
    if (k < n) snprintf(buf + k, n - k, "\n");
}

/* Reads that line back (no line: no rows). */
static void progress_from_text(progress_state *ps, const char *text) {
    const char *v = settings_value(text, "progress_iters");
    char line[32 * PROGRESS_ROWS];
    snprintf(line, sizeof line, "%.*s", v ? (int)strcspn(v, "\n") : 0, v ? v : "");
    ps->rows = 0;
    for (char *p = line, *end; ps->rows < PROGRESS_ROWS; p = end) {
        long e = strtol(p, &end, 10);
        if (end == p) break;
        ps->iters[ps->rows++] = e;
    }
}

/* ---- the model: GAN, two optimizers, and what a checkpoint holds --------------------------- */

typedef struct model {
    gan *g;
    nn_optim *opt_g, *opt_d;
    ag_tensor *progress;  /* (PROGRESS_ROWS·PROGRESS_COLS, C, H, W): progress.png's rows */
    nn_param_list saved;  /* generator.*, discriminator.*, opt_g.*, opt_d.*, progress.images */
} model;

static int build_model(model *m, const config *c, const int *x_shape) {
    memset(m, 0, sizeof *m);
    nn_error err;
    gan_config gc = {.x_ndim = 3, .x_shape = {x_shape[0], x_shape[1], x_shape[2]},
                     .z_dim = c->z_dim, .generator_text = g_spec(c),
                     .discriminator_text = d_spec(c),
                     .gen_loss = !strcmp(c->gen_loss, "minimax") ? GAN_MINIMAX : GAN_NON_SATURATING,
                     .d_steps = c->d_steps, .seed = run_seed(c->seed, 0, 0)};
    m->g = gan_new(&gc, &err);
    if (!m->g) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return -1;
    }
    m->opt_g = nn_adam(&m->g->g_params, c->lr);
    m->opt_d = nn_adam(&m->g->d_params, c->lr);
    nn_optim_set_betas(m->opt_g, c->beta1, 0.999, 1e-8);
    nn_optim_set_betas(m->opt_d, c->beta1, 0.999, 1e-8);
    m->progress = ag_tensor_new(4, (int[]){PROGRESS_ROWS * PROGRESS_COLS, x_shape[0], x_shape[1],
                                           x_shape[2]}, false);
    nn_params_extend(&m->saved, NULL, &m->g->g_params);
    nn_params_extend(&m->saved, NULL, &m->g->d_params);
    nn_optim_state(m->opt_g, "opt_g", &m->saved);
    nn_optim_state(m->opt_d, "opt_d", &m->saved);
    nn_params_add(&m->saved, NULL, "progress.images", m->progress, false);
    return 0;
}

static void free_model(model *m) {
    nn_params_free(&m->saved);
    nn_optim_free(m->opt_g);
    nn_optim_free(m->opt_d);
    ag_tensor_free(m->progress);
    gan_free(m->g);
}

/* n samples G(z), z from a generator seeded with `seed`, into out (n × x_size).  They are
 * made in batches of `batch`, the size G trained with: in training mode batch norm uses
 * each batch's own statistics (as every fake D ever saw did); with running_bn, the running
 * averages.  Nothing is recorded for gradients. */
static void generate(gan *g, int n, int batch, uint64_t seed, bool running_bn, ag_real *out) {
    ag_tape *t = ag_tape_new(seed);
    ag_set_grad_enabled(t, false);
    if (running_bn) gan_set_training(g, false);
    for (int start = 0; start < n; start += batch) {
        ag_tensor *x = gan_generate(g, t, gan_sample_z(g, t, batch));
        size_t keep = (size_t)(n - start < batch ? n - start : batch) * (size_t)g->x_size;
        memcpy(out + (size_t)start * g->x_size, x->data, sizeof(ag_real) * keep);
        ag_tape_clear(t);
    }
    gan_set_training(g, true);
    ag_tape_free(t);
}

/* ---- scores --------------------------------------------------------------------------------- */

/* The real side of the comparison, computed once: the Gaussian fit of the classifier's
 * features of the first half of the test set, the floor (second half against it) and the
 * Inception score of the whole test set. */
typedef struct reference {
    gan_scorer *sc;
    gan_gaussian real;
    double fid_floor, real_is;
    int half;
} reference;

typedef struct scores {
    gan_class_scores cls;
    double fid;
    int n;
} scores;

static int reference_init(reference *r, const char *path, const config *c,
                          const nn_dataset *test) {
    nn_error err;
    memset(r, 0, sizeof *r);
    r->sc = gan_scorer_load(path, &err);
    if (!r->sc) {
        fprintf(stderr, PROG ": %s\n", err.msg);
        return -1;
    }
    if (r->sc->dataset[0] && strcmp(r->sc->dataset, c->dataset)) {
        fprintf(stderr, PROG ": %s was trained on %s, not %s: its scores would mean nothing\n",
                path, r->sc->dataset, c->dataset);
        gan_scorer_free(r->sc);
        r->sc = NULL;
        return -1;
    }
    int n = test->n, K = r->sc->n_classes, F = r->sc->feat_dim;
    double *p = malloc(sizeof(double) * (size_t)n * K), *f = malloc(sizeof(double) * (size_t)n * F);
    if (!p || !f) {
        fprintf(stderr, PROG ": out of memory\n");
        exit(1);
    }
    double t0 = run_seconds();
    gan_scorer_run(r->sc, test->x, n, p, f);
    r->half = n / 2;
    gan_gaussian b;
    gan_gaussian_fit(&r->real, f, r->half, F);
    gan_gaussian_fit(&b, f + (size_t)r->half * F, n - r->half, F);
    r->fid_floor = gan_frechet(&b, &r->real);
    r->real_is = gan_class_scores_of(p, n, K).inception;
    gan_gaussian_free(&b);
    free(p), free(f);
    printf("scorer %s: %d classes, %d features; test set: Inception score %.3f, FID floor "
           "(half vs half, %d each) %.3f  [%.1fs]\n", path, K, F, r->real_is, r->half,
           r->fid_floor, run_seconds() - t0);
    return 0;
}

static void reference_free(reference *r) {
    gan_scorer_free(r->sc);
    if (r->real.mean) gan_gaussian_free(&r->real);
}

static scores score(model *m, const reference *r, const config *c, int n, uint64_t seed) {
    scores s = {.n = n, .fid = NAN};
    int K = r->sc->n_classes, F = r->sc->feat_dim;
    ag_real *x = malloc(sizeof(ag_real) * (size_t)n * m->g->x_size);
    double *p = malloc(sizeof(double) * (size_t)n * K), *f = malloc(sizeof(double) * (size_t)n * F);
    if (!x || !p || !f) {
        fprintf(stderr, PROG ": out of memory\n");
        exit(1);
    }
    generate(m->g, n, c->batch, seed, !strcmp(c->sample_bn, "running"), x);
    gan_scorer_run(r->sc, x, n, p, f);
    s.cls = gan_class_scores_of(p, n, K);
    if (n >= 2) {
        gan_gaussian gen;
        gan_gaussian_fit(&gen, f, n, F);
        s.fid = gan_frechet(&gen, &r->real);
        gan_gaussian_free(&gen);
    }
    free(x), free(p), free(f);
    return s;
}

/* ---- pictures ------------------------------------------------------------------------------- */

/* samples.png: G of FIXED_N fixed z's; the first PROGRESS_COLS of them also become a row of
 * progress.png when `row` (a new snapshot for epoch `epoch`). */
static void pictures(model *m, const config *c, progress_state *ps, long per_epoch, long step,
                     bool row) {
    int C = m->g->cfg.x_shape[0], H = m->g->cfg.x_shape[1], W = m->g->cfg.x_shape[2];
    size_t img = (size_t)m->g->x_size;
    ag_real *x = malloc(sizeof(ag_real) * FIXED_N * img);
    if (!x) return;
    generate(m->g, FIXED_N, FIXED_N, run_seed(c->seed, 77, 0), !strcmp(c->sample_bn, "running"), x);
    char path[4096], title[96];
    nn_error err;
    snprintf(title, sizeof title, "epoch %.3g, iteration %ld", (double)step / per_epoch, step);
    if (nn_grid_png(run_path(path, sizeof path, c->out, "samples.png"), x, FIXED_N, C, H, W,
                    &(nn_grid_opts){.cols = 8, .scale = 2, .title = title}, &err))
        fprintf(stderr, PROG ": %s\n", err.msg);
    if (row) {
        if (ps->rows == PROGRESS_ROWS) { /* full: snapshot half as often, keep those rows */
            ps->stride *= 2;
            int kept = 0;
            for (int i = 0; i < ps->rows; i++) {
                if (ps->iters[i] % (ps->stride * per_epoch) != 0) continue;
                memmove(m->progress->data + (size_t)kept * PROGRESS_COLS * img,
                        m->progress->data + (size_t)i * PROGRESS_COLS * img,
                        sizeof(ag_real) * PROGRESS_COLS * img);
                ps->iters[kept++] = ps->iters[i];
            }
            ps->rows = kept;
        }
        memcpy(m->progress->data + (size_t)ps->rows * PROGRESS_COLS * img, x,
               sizeof(ag_real) * PROGRESS_COLS * img);
        ps->iters[ps->rows++] = step;
    }
    if (ps->rows > 0) {
        char capbuf[PROGRESS_ROWS * PROGRESS_COLS][16];
        const char *caps[PROGRESS_ROWS * PROGRESS_COLS];
        for (int i = 0; i < ps->rows * PROGRESS_COLS; i++) {
            capbuf[i][0] = 0;  /* a caption under the first tile of each row only */
            if (i % PROGRESS_COLS == 0)
                snprintf(capbuf[i], sizeof capbuf[i], "ep %.3g",
                         (double)ps->iters[i / PROGRESS_COLS] / per_epoch);
            caps[i] = capbuf[i];
        }
        if (nn_grid_png(run_path(path, sizeof path, c->out, "progress.png"), m->progress->data,
                        ps->rows * PROGRESS_COLS, C, H, W,
                        &(nn_grid_opts){.cols = PROGRESS_COLS, .scale = 2, .captions = caps,
                                        .title = "fixed z over training (rows: epochs)"},
                        &err))
            fprintf(stderr, PROG ": %s\n", err.msg);
    }
    free(x);
}

/* ---- training ------------------------------------------------------------------------------- */

typedef struct iter_stats { double d_loss, g_loss, d_real, d_fake, js; bool ok; } iter_stats;

/* One iteration of seed 004's alternation: d_steps steps of D on real batches from the
 * batcher (eq. (20)), then one step of G (eq. (21) or its non-saturating form). */
static iter_stats iteration(model *m, nn_batcher *it, ag_tape *t, const config *c, int epoch,
                            long step) {
    iter_stats r = {.ok = true};
    gan_stats st;
    ag_rng_seed(ag_tape_rng(t), run_seed(c->seed, 2, (uint64_t)step)); /* z of this iteration */
    for (int k = 0; k < c->d_steps; k++) {
        nn_batch b;
        if (!nn_batcher_next(it, t, &b)) ag_error(PROG, "batcher ran dry inside an epoch");
        ag_tensor *ld = gan_d_loss(m->g, t, b.x, &st);
        ag_backward(t, ld);
        double norm = nn_optim_step(m->opt_d);
        ag_tape_clear(t);
        /* before the gradients are zeroed: a bad one is named */
        if (!run_check_finite(PROG, st.d_loss, norm, &m->g->d_params,
                              "epoch %d iteration %ld (D)", epoch + 1, step + 1))
            return (iter_stats){.ok = false};
        nn_optim_zero_grad(m->opt_d);
        r.d_loss += st.d_loss / c->d_steps, r.js += st.js / c->d_steps;
        r.d_real += st.d_real / c->d_steps, r.d_fake += st.d_fake / c->d_steps;
    }
    ag_tensor *lg = gan_g_loss(m->g, t, c->batch, &st);
    ag_backward(t, lg);
    double norm = nn_optim_step(m->opt_g);
    ag_tape_clear(t);
    if (!run_check_finite(PROG, st.g_loss, norm, &m->g->g_params, "epoch %d iteration %ld (G)",
                          epoch + 1, step + 1))
        return (iter_stats){.ok = false};
    nn_optim_zero_grad(m->opt_g);
    nn_optim_zero_grad(m->opt_d); /* G's backward went through D too */
    r.g_loss = st.g_loss;
    return r;
}

/* ---- the program ------------------------------------------------------------------------------ */

static int fail(int code, const char *msg) {
    fprintf(stderr, PROG ": %s\n", msg);
    return code;
}

static void print_scores(const char *label, const scores *s, const reference *r) {
    printf("%s (%d samples): Inception score %.3f (test set %.3f), classes %d, class KL %.4f, "
           "confidence %.3f, FID %.3f (floor %.3f)\n", label, s->n, s->cls.inception, r->real_is,
           s->cls.covered, s->cls.class_kl, s->cls.confidence, s->fid, r->fid_floor);
}

int main(int argc, char **argv) {
    config c = {.dataset = "mnist", .data_dir = "data", .arch = "mlp", .gen_loss = "ns",
                .sample_bn = "batch", .z_dim = 100, .d_steps = 1, .iters = 0, .epochs = 0,
                .batch = 64, .threads = 0, .eval_n = 5000, .score_n = 1000, .lr = 2e-4,
                .beta1 = 0.5, .seed = 1};
    cli_opt opts[] = {
        {"dataset", CLI_CHOICE, &c.dataset, "mnist|fashion", "training data"},
        {"data", CLI_STRING, &c.data_dir, "DIR", "where `make data` put the datasets (DIR/mnist, DIR/fashion)"},
        {"arch", CLI_CHOICE, &c.arch, "mlp|dcgan", "network presets (listed below)"},
        {"generator", CLI_STRING, &c.generator, "SPEC", "spec text of G instead of the preset (z -> image)"},
        {"discriminator", CLI_STRING, &c.discriminator, "SPEC", "spec text of D instead of the preset (image -> 1 logit)"},
        {"latent", CLI_INT, &c.z_dim, "N", "dimensions of z"},
        {"gen-loss", CLI_CHOICE, &c.gen_loss, "ns|minimax",
         "G minimises -E ln D(G(z)) (non-saturating) or E ln(1 - D(G(z))) (seed 004 eq. (21))"},
        {"d-steps", CLI_INT, &c.d_steps, "K", "discriminator steps per generator step (k of eq. (20))"},
        {"epochs", CLI_INT, &c.epochs, "N", "train until this many epochs are done (0: 20 for mlp, 5 for dcgan)"},
        {"iters", CLI_INT, &c.iters, "N", "train until this many iterations are done (overrides --epochs)"},
        {"batch", CLI_INT, &c.batch, "N", "minibatch size (real and fake alike)"},
        {"lr", CLI_REAL, &c.lr, "LR", "Adam learning rate of G and D"},
        {"beta1", CLI_REAL, &c.beta1, "B", "Adam's first-moment decay"},
        {"seed", CLI_U64, &c.seed, "S", "seed of every random choice"},
        {"threads", CLI_INT, &c.threads, "N", "OpenMP threads (0: all cores)"},
        {"out", CLI_STRING, &c.out, "DIR", "checkpoint, log and pictures [out/gan-ARCH]"},
        {"resume", CLI_STRING, &c.resume, "CKPT", "continue a run from its checkpoint"},
        {"classifier", CLI_STRING, &c.classifier, "CKPT",
         "classifier that scores the samples [out/classify-DATASET/classifier.ckpt]"},
        {"eval", CLI_STRING, &c.eval, "CKPT", "score a saved generator and exit"},
        {"eval-n", CLI_INT, &c.eval_n, "N", "samples scored at the end (0: no final scores)"},
        {"score-n", CLI_INT, &c.score_n, "N", "samples scored after each epoch (0: none)"},
        {"sample-bn", CLI_CHOICE, &c.sample_bn, "batch|running",
         "batch norm of G when sampling: batch statistics (as in training) or running averages"},
        {"quiet", CLI_FLAG, &c.quiet, NULL, "no progress bar, no network tables"},
        {"fp-trap", CLI_FLAG, &c.fp_trap, NULL,
         "debugging: die at the first operation that makes a NaN or an inf"},
        {0}};
    cli_program prog = {PROG, "Train a GAN (seed 004: an MLP GAN or a DCGAN) on MNIST or "
                              "Fashion-MNIST and score its samples with a classifier.",
                        presets_help};
    int rc = cli_parse(argc, argv, &prog, opts);
    if (rc) return rc < 0 ? 2 : 0;
    if (c.eval && c.resume) return fail(2, "--eval and --resume exclude each other");

    progress_state ps = {.stride = 1};
    /* What a checkpoint remembers: what fixes the model and its training, as "key=value"
     * lines in this order (the generator and discriminator as spec text, so that a
     * checkpoint rebuilds itself); then the state of progress.png, its rows' iterations on
     * a last line "progress_iters=". */
    const setting remembered[] = {
        {"dataset", SET_STRING, &c.dataset},
        {"arch", SET_STRING, &c.arch},
        {"generator", SET_STRING, &c.generator},
        {"discriminator", SET_STRING, &c.discriminator},
        {"z", SET_INT, &c.z_dim},
        {"gen_loss", SET_STRING, &c.gen_loss},
        {"d_steps", SET_INT, &c.d_steps},
        {"batch", SET_INT, &c.batch},
        {"lr", SET_DOUBLE, &c.lr},
        {"beta1", SET_DOUBLE, &c.beta1},
        {"seed", SET_U64, &c.seed},
        {"progress_stride", SET_INT, &ps.stride},
        {0}};

    nn_error err;
    static nn_ckpt_meta meta;                 /* 8 KiB of text: keep it off the stack */
    static char saved_text[NN_CKPT_TEXT_MAX]; /* c's strings point here on --resume/--eval */
    const char *ckpt_in = c.eval ? c.eval : c.resume;
    if (ckpt_in) { /* the model comes from the checkpoint, whatever the flags say */
        if (nn_checkpoint_info(ckpt_in, &meta, NULL, &err)) return fail(1, err.msg);
        memcpy(saved_text, meta.text, sizeof saved_text);
        if (settings_read(saved_text, PROG, remembered, ckpt_in)) return 1;
        if (ps.stride < 1) ps.stride = 1;
        progress_from_text(&ps, meta.text);
        /* The checkpoint may have been written by hand or by another version. */
        if (strcmp(c.dataset, "mnist") && strcmp(c.dataset, "fashion")) {
            fprintf(stderr, PROG ": %s: unknown dataset '%s' in the checkpoint\n", ckpt_in,
                    c.dataset);
            return 1;
        }
        if (strcmp(c.gen_loss, "ns") && strcmp(c.gen_loss, "minimax")) {
            fprintf(stderr, PROG ": %s: unknown gen_loss '%s' in the checkpoint\n", ckpt_in,
                    c.gen_loss);
            return 1;
        }
    }
    if (c.z_dim < 1 || c.batch < 2 || c.d_steps < 1 || c.epochs < 0 || c.iters < 0 ||
        c.eval_n < 0 || c.score_n < 0 || !(c.lr > 0) || !(c.beta1 >= 0 && c.beta1 < 1))
        return fail(2, "--latent, --d-steps must be >= 1, --batch >= 2, --epochs, --iters, "
                       "--eval-n, --score-n >= 0, --lr > 0, 0 <= --beta1 < 1");
    if ((c.generator && strchr(c.generator, '\n')) || (c.discriminator && strchr(c.discriminator, '\n')))
        return fail(2, "--generator/--discriminator: write the spec on one line");
    c.generator = g_spec(&c), c.discriminator = d_spec(&c); /* the presets as spec text */
    if (c.epochs == 0) c.epochs = !strcmp(c.arch, "dcgan") ? 5 : 20;
    char out_buf[4096], cls_buf[4096];
    if (!c.out) {
        if (c.resume && !given(argc, argv, "out")) { /* next to the checkpoint */
            snprintf(out_buf, sizeof out_buf, "%s", c.resume);
            char *slash = strrchr(out_buf, '/');
            if (slash) *slash = 0;
            else snprintf(out_buf, sizeof out_buf, ".");
        } else {
            snprintf(out_buf, sizeof out_buf, "out/gan-%s", c.arch);
        }
        c.out = out_buf;
    }
    bool cls_default = !c.classifier;
    if (cls_default) {
        snprintf(cls_buf, sizeof cls_buf, "out/classify-%s/classifier.ckpt", c.dataset);
        c.classifier = cls_buf;
    }
    int threads = run_threads(c.threads);
    if (c.fp_trap && run_fp_trap(PROG)) return 2;

    /* Everything that can be wrong with the inputs is found before anything is written. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", c.data_dir, c.dataset);
    nn_dataset *train = c.eval ? NULL : nn_dataset_load_mnist(dir, "train", &err);
    if (!c.eval && !train) return fail(1, err.msg);
    /* Iterations per epoch: d_steps full batches each (the batcher drops a partial one). */
    long per_epoch = train ? (long)(train->n / c.batch) / c.d_steps : 1;
    if (per_epoch < 1) {
        fprintf(stderr, PROG ": %d training images make no iteration of %d batches of %d\n",
                train->n, c.d_steps, c.batch);
        nn_dataset_free(train);
        return 2;
    }
    /* The model first: a typo in a spec is reported before the classifier scores the test
     * set.  MNIST and Fashion-MNIST images are (1, 28, 28) (nn_dataset_load_mnist checks). */
    model m;
    int x_shape[3] = {1, 28, 28};
    if (train) memcpy(x_shape, train->shape, sizeof x_shape);
    if (build_model(&m, &c, x_shape)) {
        nn_dataset_free(train);
        return 2;
    }
    long step = 0;
    if (ckpt_in) {
        if (nn_checkpoint_load(ckpt_in, &m.saved, &meta, &err)) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            free_model(&m);
            nn_dataset_free(train);
            return 1;
        }
        step = (long)meta.step;
    }
    bool want_scores = c.eval || c.eval_n > 0 || c.score_n > 0;
    reference ref = {0};
    nn_dataset *test = NULL;
    if (want_scores) {
        if (cls_default && access(c.classifier, R_OK) != 0) {
            fprintf(stderr, PROG ": no classifier at %s: samples will not be scored (train one "
                            "with `build/classify --arch cnn --dataset %s --epochs 3`)\n",
                    c.classifier, c.dataset);
        } else {
            test = nn_dataset_load_mnist(dir, "test", &err);
            if (!test || reference_init(&ref, c.classifier, &c, test)) {
                if (!test) fprintf(stderr, PROG ": %s\n", err.msg);
                free_model(&m);
                nn_dataset_free(train);
                nn_dataset_free(test);
                return 1;
            }
        }
    }
    if (c.eval && !ref.sc) {
        free_model(&m);
        return fail(1, "--eval needs a classifier (--classifier CKPT)");
    }

    if (!c.quiet || c.eval) {
        printf("henbun %s GAN: %s, %s, z %d, %s generator loss, %d D step%s per G step, batch %d, "
               "Adam lr %g beta1 %g, %d thread%s\n", AG_REAL_NAME, c.dataset, c.arch, c.z_dim,
               c.gen_loss, c.d_steps, c.d_steps == 1 ? "" : "s", c.batch, c.lr, c.beta1, threads,
               threads == 1 ? "" : "s");
        nn_describe(m.g->generator, "generator", stdout);
        nn_describe(m.g->discriminator, "discriminator", stdout);
    }
    fflush(stdout); /* the header reaches a log file before the first epoch ends */

    if (c.eval) {
        double t0 = run_seconds();
        int n = c.eval_n > 0 ? c.eval_n : 5000;
        scores s = score(&m, &ref, &c, n, run_seed(c.seed, 6, 0));
        print_scores("generated", &s, &ref);
        printf("result: inception_score=%.3f classes=%d class_kl=%.4f confidence=%.3f fid=%.3f "
               "fid_floor=%.3f real_inception_score=%.3f eval_n=%d iters=%ld seconds=%.1f "
               "arch=%s dataset=%s\n", s.cls.inception, s.cls.covered, s.cls.class_kl,
               s.cls.confidence, s.fid, ref.fid_floor, ref.real_is, n, step,
               run_seconds() - t0, c.arch, c.dataset);
        free_model(&m);
        reference_free(&ref);
        nn_dataset_free(test);
        return 0;
    }

    if (run_mkdir(c.out, &err)) {
        free_model(&m);
        reference_free(&ref);
        nn_dataset_free(train);
        nn_dataset_free(test);
        return fail(1, err.msg);
    }
    char ckpt[4096], log_path[4096];
    run_path(ckpt, sizeof ckpt, c.out, "gan.ckpt");
    run_path(log_path, sizeof log_path, c.out, "log.csv");
    /* A fresh run starts a fresh log; a resumed one drops the rows written after its
     * checkpoint (they are written again). */
    if (!c.resume) remove(log_path);
    else if (run_log_rewind(log_path, 1, 1, (double[]){(double)step}, &err)) {
        free_model(&m);
        reference_free(&ref);
        nn_dataset_free(train);
        nn_dataset_free(test);
        return fail(1, err.msg);
    }
    static const char *cols[] = {"epoch", "iters", "d_loss", "g_loss", "d_real", "d_fake", "js",
                                 "inception", "classes", "fid", "seconds"};
    nn_csv *csv = nn_csv_open(log_path, 11, cols, &err);
    if (!csv) {
        free_model(&m);
        reference_free(&ref);
        nn_dataset_free(train);
        nn_dataset_free(test);
        return fail(1, err.msg);
    }

    ag_rng data_rng;
    ag_tape *t = ag_tape_new(c.seed);
    /* Full batches only: batch norm and the real/fake balance of V want equal sizes. */
    nn_batcher *it = nn_batcher_new(train, &(nn_batch_opts){.batch_size = c.batch,
                                        .drop_last = true}, &data_rng);
    long total = c.iters > 0 ? c.iters : (long)c.epochs * per_epoch;
    nn_progress *bar = nn_progress_new(&(nn_progress_opts){
        .mode = c.quiet ? NN_PROGRESS_PLAIN : NN_PROGRESS_AUTO, .n_values = 5,
        .names = {"d_loss", "g_loss", "D(x)", "D(G(z))", "js"}});
    /* Training time alone (no pictures, scores or checkpoints): wall clock, and the CPU time
     * of all threads (clock()), which on a shared machine says what the work cost. */
    double train_seconds = 0, train_cpu = 0, total_seconds = 0;
    long iters_done = 0;
    int code = 0;
    double last[5] = {NAN, NAN, NAN, NAN, NAN};
    /* The epoch's iterations and sums of d_loss, g_loss, D(x), D(G(z)), js; a run stopped
     * inside an epoch left them in the checkpoint, so the resumed epoch's means are those
     * of all of it. */
    double part[6] = {0};
    if (c.resume && run_text_get(meta.text, "epoch_sums", part, 6)) memset(part, 0, sizeof part);
    run_catch_signals();
    long n_epochs = (total + per_epoch - 1) / per_epoch;
    for (long epoch = step / per_epoch; step < total && !code; epoch++) {
        char label[48];
        snprintf(label, sizeof label, "epoch %ld/%ld", epoch + 1, n_epochs);
        long end = (epoch + 1) * per_epoch < total ? (epoch + 1) * per_epoch : total;
        ag_rng_seed(&data_rng, run_seed(c.seed, 1, (uint64_t)epoch));
        nn_progress_begin(bar, label, (end - step) * c.d_steps * c.batch);
        double t0 = run_seconds();
        clock_t cpu0 = clock();
        nn_batch b; /* after a stop mid-epoch, skip the batches already used */
        for (long skip = (step - epoch * per_epoch) * c.d_steps;
             skip > 0 && nn_batcher_next(it, t, &b); skip--)
            ag_tape_clear(t);
        for (; step < end; step++) {
            iter_stats r = iteration(&m, it, t, &c, (int)epoch, step);
            if (!r.ok) {
                code = 1;
                break;
            }
            iters_done++;
            double v[5] = {r.d_loss, r.g_loss, r.d_real, r.d_fake, r.js};
            part[0] += 1;
            for (int i = 0; i < 5; i++) part[1 + i] += v[i];
            nn_progress_step(bar, (long)c.d_steps * c.batch, v);
            if (run_step_done()) {
                step++;
                break;
            }
        }
        while (nn_batcher_next(it, t, &b)) ag_tape_clear(t); /* the rest of the epoch: unused */
        nn_progress_end(bar);
        double train_s = run_seconds() - t0;
        train_seconds += train_s;
        train_cpu += (double)(clock() - cpu0) / CLOCKS_PER_SEC;
        if (code) break;
        for (int i = 0; i < 5; i++) last[i] = part[1 + i] / part[0];
        if (step < end) { /* a signal stopped the epoch half-way */
            meta.epoch = epoch, meta.step = step;
            settings_write(meta.text, sizeof meta.text, PROG, remembered);
            progress_to_text(&ps, meta.text, sizeof meta.text);
            run_text_put(meta.text, sizeof meta.text, "epoch_sums", part, 6);
            code = run_stop_status();
            if (!run_save_checkpoint(PROG, ckpt, &m.saved, &meta)) {
                fprintf(stderr, PROG ": %s: stopped at epoch %ld iteration %ld; checkpoint %s\n",
                        run_stop_signal(), epoch + 1, step, ckpt);
                run_print_resume(argc, argv, ckpt);
            }
            break;
        }
        memset(part, 0, sizeof part);
        scores s = {.fid = NAN, .cls = {.inception = NAN}};
        if (ref.sc && c.score_n > 0) s = score(&m, &ref, &c, c.score_n, run_seed(c.seed, 5, (uint64_t)epoch));
        double ep = (double)step / per_epoch;
        bool row = step == total || (epoch + 1) % ps.stride == 0;
        pictures(&m, &c, &ps, per_epoch, step, row);
        double secs = run_seconds() - t0;
        total_seconds += secs;
        printf("epoch %3ld/%ld  d_loss %.4f g_loss %.4f  D(x) %.3f D(G(z)) %.3f  js %.4f", epoch + 1,
               n_epochs, last[0], last[1], last[2], last[3], last[4]);
        if (ref.sc && c.score_n > 0)
            printf("  IS %.2f classes %d FID%s %.2f", s.cls.inception, s.cls.covered,
                   c.score_n == 1000 ? "1k" : "", s.fid);
        printf("  %.1fs\n", train_s);
        fflush(stdout);
        if (nn_csv_row(csv, (double[]){ep, (double)step, last[0], last[1], last[2], last[3],
                                       last[4], s.cls.inception, s.cls.covered, s.fid, train_s},
                       &err))
            fprintf(stderr, PROG ": %s\n", err.msg);
        meta.epoch = step / per_epoch, meta.step = step;
        settings_write(meta.text, sizeof meta.text, PROG, remembered);
        progress_to_text(&ps, meta.text, sizeof meta.text);
        if (run_save_checkpoint(PROG, ckpt, &m.saved, &meta)) {
            code = 1;
            break;
        }
        if (run_stop_requested() && step < total) { /* between epochs: nothing lost */
            fprintf(stderr, PROG ": %s: stopped after epoch %ld (iteration %ld); checkpoint %s\n",
                    run_stop_signal(), epoch + 1, step, ckpt);
            run_print_resume(argc, argv, ckpt);
            code = run_stop_status();
        }
    }
    if (nn_csv_close(csv, &err)) fprintf(stderr, PROG ": %s\n", err.msg);
    if (!code && iters_done > 0) {
        printf("checkpoint, log and pictures in %s/ (gan.ckpt, log.csv, samples.png, progress.png)\n",
               c.out);
        double per1000 = 1000 * train_seconds / iters_done;
        bool final_scores = ref.sc && c.eval_n > 0;
        scores s = {0};
        if (final_scores) {
            s = score(&m, &ref, &c, c.eval_n, run_seed(c.seed, 6, 0));
            print_scores("final", &s, &ref);
        }
        printf("result:");
        if (final_scores)
            printf(" inception_score=%.3f classes=%d class_kl=%.4f confidence=%.3f fid=%.3f "
                   "fid_floor=%.3f real_inception_score=%.3f eval_n=%d", s.cls.inception,
                   s.cls.covered, s.cls.class_kl, s.cls.confidence, s.fid, ref.fid_floor,
                   ref.real_is, c.eval_n);
        printf(" d_real=%.4f d_fake=%.4f js=%.4f iters=%ld epochs=%.2f seconds=%.1f "
               "sec_per_1000_iters=%.2f cpu_sec_per_1000_iters=%.2f", last[2], last[3], last[4],
               step, (double)step / per_epoch, total_seconds, per1000,
               1000 * train_cpu / iters_done);
        if (!strcmp(c.arch, "dcgan"))  /* the unit of bench/torch_dcgan.py */
            printf(" sec_per_100_iters=%.3f cpu_sec_per_100_iters=%.3f", per1000 / 10,
                   100 * train_cpu / iters_done);
        printf(" threads=%d arch=%s dataset=%s\n", threads, c.arch, c.dataset);
    } else if (!code) {
        printf("nothing to do: the checkpoint is already at iteration %ld (raise --epochs or "
               "--iters)\n", step);
    }
    nn_progress_free(bar);
    nn_batcher_free(it);
    ag_tape_free(t);
    free_model(&m);
    reference_free(&ref);
    nn_dataset_free(train);
    nn_dataset_free(test);
    return code;
}
