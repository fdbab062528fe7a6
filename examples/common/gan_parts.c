/* gan_parts.c — what examples/gan.c needs besides its model and its step (see gan_parts.h):
 * its flags and help, the presets, samples.png and progress.png, the classifier's scores
 * and what the program prints. */
#include "examples/common/gan_parts.h"
#include "examples/common/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- flags, settings, presets, help ------------------------------------------------------ */

cli_opt *gan_options(gan_flags *c, run_flags *r) {
    static cli_opt opts[40];
    cli_opt table[] = {
        {"dataset", CLI_CHOICE, &c->dataset, "mnist|fashion", "training data"},
        {"data", CLI_STRING, &c->data_dir, "DIR", "where `make data` put the datasets (DIR/mnist, DIR/fashion)"},
        {"arch", CLI_CHOICE, &c->arch, "mlp|dcgan", "network presets (listed below)"},
        {"generator", CLI_STRING, &c->generator, "SPEC", "spec text of G instead of the preset (z -> image)"},
        {"discriminator", CLI_STRING, &c->discriminator, "SPEC", "spec text of D instead of the preset (image -> 1 logit)"},
        {"latent", CLI_INT, &c->z_dim, "N", "dimensions of z", CLI_IN(1, 4096)},
        {"gen-loss", CLI_CHOICE, &c->gen_loss, "ns|minimax",
         "G minimises -E ln D(G(z)) (non-saturating) or E ln(1 - D(G(z))) (seed 004 eq. (21))"},
        {"d-steps", CLI_INT, &c->d_steps, "K", "discriminator steps per generator step (k of eq. (20))", CLI_IN(1, 1000)},
        {"epochs", CLI_INT, &r->epochs, "N", "train until this many epochs are done (0: 20 for mlp, 5 for dcgan)", CLI_IN(0, 1e6)},
        {"iters", CLI_INT, &c->iters, "N", "train until this many iterations are done (overrides --epochs)", CLI_IN(0, 1e9)},
        {"batch", CLI_INT, &r->batch, "N", "minibatch size (real and fake alike)", CLI_IN(2, 65536)},
        {"lr", CLI_REAL, &c->lr, "LR", "Adam learning rate of G and D", CLI_IN_OC(0, 1e30)},
        {"lr-d", CLI_REAL, &c->lr_d, "LR", "D's own learning rate (TTUR; 0: --lr)", CLI_IN(0, 1e30)},
        {"lr-g", CLI_REAL, &c->lr_g, "LR", "G's own learning rate (TTUR; 0: --lr)", CLI_IN(0, 1e30)},
        {"ema", CLI_REAL, &c->ema, "DECAY",
         "sample from a moving average of G's weights, decay DECAY per G step, e.g. 0.999 "
         "(0: off; see below)", CLI_IN_CO(0, 1)},
        {"ema-warmup", CLI_FLAG, &c->ema_warmup, NULL,
         "with --ema: decay min(DECAY, (1+t)/(10+t)) at G step t, so short runs forget G's "
         "initial weights"},
        {"sn", CLI_FLAG, &c->sn, NULL,
         "spectral normalisation of D: the preset D with linear_sn/conv_sn layers (below)"},
        {"label-smooth", CLI_REAL, &c->label_smooth, "S",
         "one-sided label smoothing: D's target for real images is 1 - S (0: off)", CLI_IN(0, 0.5)},
        {"r1", CLI_REAL, &c->r1, "GAMMA", "R1 gradient penalty on D at real images (0: off)",
         CLI_IN(0, 1e6)},
        {"conditional", CLI_FLAG, &c->conditional, NULL,
         "a class-conditional GAN: G(z, y) and a projection D learn from the labels (see "
         "below)"},
        {"drs", CLI_FLAG, &c->drs, NULL,
         "also score (and draw samples_drs.png from) samples filtered by D: discriminator "
         "rejection sampling (see below)"},
        {"drs-gamma", CLI_REAL, &c->drs_gamma, "G",
         "DRS: shift of the log-odds of keeping a sample (0: exact; < 0 keeps more)",
         CLI_IN(-50, 50)},
        {"beta1", CLI_REAL, &c->beta1, "B", "Adam's first-moment decay", CLI_IN_CO(0, 1)},
        {"seed", CLI_U64, &r->seed, "S", "seed of every random choice"},
        {"threads", CLI_INT, &r->threads, "N", "OpenMP threads (0: all cores)"},
        {"out", CLI_STRING, &r->out, "DIR", "checkpoint, log and pictures [out/gan-ARCH]"},
        {"resume", CLI_STRING, &r->resume, "CKPT", "continue a run from its checkpoint"},
        {"classifier", CLI_STRING, &c->classifier, "CKPT",
         "classifier that scores the samples [out/classify-DATASET/classifier.ckpt]"},
        {"eval", CLI_STRING, &r->eval, "CKPT", "score a saved generator and exit"},
        {"export", CLI_STRING, &r->export_to, "FILE",
         "also write the model's weights to FILE.safetensors, spec text and settings in its "
         "metadata (docs/safetensors.md); --eval takes such a file too"},
        {"eval-n", CLI_INT, &c->eval_n, "N", "samples scored at the end (0: no final scores)", CLI_IN(0, 1e6)},
        {"score-n", CLI_INT, &c->score_n, "N", "samples scored after each epoch (0: none)", CLI_IN(0, 1e6)},
        {"sample-bn", CLI_CHOICE, &c->sample_bn, "batch|running",
         "batch norm of G when sampling: batch statistics (as in training) or running averages"},
        {"quiet", CLI_FLAG, &r->quiet, NULL, "no progress bar, no network tables"},
        {"sync-bn", CLI_FLAG, &r->sync_bn, NULL, "batch norm under mpirun: global batch statistics"},
        {"fp-trap", CLI_FLAG, &r->fp_trap, NULL,
         "debugging: die at the first operation that makes a NaN or an inf"},
        {0}};
    memcpy(opts, table, sizeof table);
    return opts;
}

const setting *gan_settings(gan_program *p, run_flags *r) {
    static setting table[20];
    gan_flags *c = &p->c;
    setting t[] = {
        {"dataset", SET_STRING, &c->dataset},
        {"arch", SET_STRING, &c->arch},
        {"generator", SET_STRING, &c->generator},
        {"discriminator", SET_STRING, &c->discriminator},
        {"z", SET_INT, &c->z_dim},
        {"gen_loss", SET_STRING, &c->gen_loss},
        {"d_steps", SET_INT, &c->d_steps},
        {"batch", SET_INT, &r->batch},
        {"lr", SET_DOUBLE, &c->lr},
        {"beta1", SET_DOUBLE, &c->beta1},
        {"seed", SET_U64, &r->seed},
        {"progress_stride", SET_INT, &p->ps.stride},
        {0}};

    memcpy(table, t, sizeof t);
    return table;
}

const gan_optional *gan_optionals(gan_flags *c) {
    static gan_optional table[10];
    const gan_optional t[] = {
        {"lr-d", {"lr_d", SET_DOUBLE, &c->lr_d}},
        {"lr-g", {"lr_g", SET_DOUBLE, &c->lr_g}},
        {"ema", {"ema", SET_DOUBLE, &c->ema}},
        {"ema-warmup", {"ema_warmup", SET_BOOL, &c->ema_warmup}},
        {"sn", {"sn", SET_BOOL, &c->sn}},
        {"label-smooth", {"label_smooth", SET_DOUBLE, &c->label_smooth}},
        {"r1", {"r1", SET_DOUBLE, &c->r1}},
        {"conditional", {"conditional", SET_BOOL, &c->conditional}},
        {NULL, {0}}};
    memcpy(table, t, sizeof t);
    return table;
}

static double optional_value(const setting *s) {
    return s->kind == SET_BOOL ? *(bool *)s->value : *(double *)s->value;
}

void gan_optional_text(const gan_optional *o, char *text, size_t n) {
    for (; o->flag; o++)
        if (optional_value(&o->set) != 0) settings_append(text, n, (setting[]){o->set, {0}});
}

/* The entry's value in a checkpoint's text: 0 when absent; -1 when not a number. */
static int optional_in_text(const setting *s, const char *text, double *x) {
    const char *v = settings_value(text, s->key);
    *x = 0;
    if (!v) return 0;
    char *end;
    *x = strtod(v, &end);
    return end == v || (*end && *end != '\n') || !isfinite(*x) ? -1 : 0;
}

const char *gan_optional_differ(const gan_optional *o, const char *text, char *why, size_t n) {
    for (; o->flag; o++) {
        double x, mine = optional_value(&o->set);
        if (optional_in_text(&o->set, text, &x) || x != mine) {
            snprintf(why, n, "%s=%.17g in the checkpoint, %s=%.17g here", o->set.key, x,
                     o->set.key, mine);
            return why;
        }
    }
    return NULL;
}

static bool flag_given(const harness *h, const char *flag) {
    size_t k = strlen(flag);
    for (int i = 1; i < h->argc; i++) {
        const char *a = h->argv[i];
        if (!strcmp(a, "--")) break;
        if (!strncmp(a, "--", 2) && !strncmp(a + 2, flag, k) && (!a[2 + k] || a[2 + k] == '='))
            return true;
    }
    return false;
}

int gan_optional_read(harness *h, const gan_optional *o) {
    const char *path = h->flags.eval ? h->flags.eval : h->flags.resume;
    if (!path) return 0;
    for (; o->flag; o++) {
        double x, mine = optional_value(&o->set);
        const cli_opt *opt = NULL;
        for (const cli_opt *q = h->opts; q->name; q++)
            if (!strcmp(q->name, o->flag)) opt = q;
        if (optional_in_text(&o->set, h->meta.text, &x) ||
            (o->set.kind == SET_BOOL ? x != 0 && x != 1 : x != 0 && opt && !cli_in_range(opt, x))) {
            fprintf(stderr, "%s: %s: field '%s' is not a valid value of --%s (see --help)\n",
                    h->name, path, o->set.key, o->flag);
            return 1;
        }
        if (h->flags.resume && flag_given(h, o->flag) && x != mine) {
            fprintf(stderr, "%s: %s was made with other flags: %s=%.17g in the checkpoint, "
                            "%s=%.17g here\n", h->name, path, o->set.key, x, o->set.key, mine);
            return 1;
        }
        if (o->set.kind == SET_BOOL) *(bool *)o->set.value = x != 0;
        else *(double *)o->set.value = x;
    }
    return 0;
}

void gan_use_average(nn_ema *ema, bool on) {
    if (ema && ema->swapped != on) nn_ema_swap(ema);
}

const char *const gan_help_epilog =
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
    "  --sn   D's linear and conv layers become linear_sn and conv_sn (W / sigma(W), one\n"
    "         power-iteration step per pass, docs/spec.md); the dcgan D also drops its\n"
    "         batch norm, as in Miyato et al. (2018)\n"
    "\nquality options (issue #20; all off by default, each measured alone in docs/05-gan.md):\n"
    "--lr-d/--lr-g (TTUR), --ema, --sn, --label-smooth, --r1.  With --ema DECAY samples.png,\n"
    "progress.png, the scores and --eval use the moving average of G's weights; gan.ckpt and\n"
    "--export keep both G's own weights (generator.*) and the average (ema.generator.*, the\n"
    "sampler to use), so --resume goes on exactly.\n"
    "\n--conditional (Mirza & Osindero 2014; Miyato & Koyama 2018): a class-conditional GAN.\n"
    "G(z, y) reads z joined with y's one-hot code (the preset's first layer gets 10 more\n"
    "inputs); D's logit is l(x, y) = psi(phi(x)) + e_y . phi(x), phi(x) the input of D's last\n"
    "layer, psi that layer, e_y a learned row per class (vae/gan.h says why this form).  D\n"
    "judges real pairs against G(z, y) with the real batch's labels, and G steps on the last\n"
    "real batch's labels.  Samples draw y uniformly (scores, --eval, DRS); samples.png and\n"
    "progress.png show one class a column.  A setting: --resume and --eval keep it.\n"
    "\n--drs (Azadi et al. 2019): D also filters G's samples after training, keeping x with\n"
    "probability exp(l(x) - M), l = D's logit (D in evaluation mode), M its largest value\n"
    "(from 10000 burn-in samples, raised when exceeded).  For the optimal D, exp(l) =\n"
    "p_data/p_g (seed 004 eq. (4), (13)), so the kept samples follow the data.  The final\n"
    "scores and --eval print both, without and with DRS, with the share of samples kept;\n"
    "--drs-gamma G < 0 keeps more (odds of keeping times exp(-G)) but corrects less.  D is\n"
    "needed: gan.ckpt and --export both hold it.  With --ema, DRS filters the average with\n"
    "the D trained against G's own weights (an approximation).\n"
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


/* Appends the line "progress_iters=I1 I2 ...\n" (the rows' iterations) to the meta text. */
void gan_progress_to_text(const gan_progress *ps, char *buf, size_t n) {
    size_t k = strlen(buf);
    k += (size_t)snprintf(buf + k, k < n ? n - k : 0, "progress_iters=");
    for (int i = 0; i < ps->rows && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? " %ld" : "%ld", ps->iters[i]);
    if (k < n) snprintf(buf + k, n - k, "\n");
}

/* Reads that line back (no line: no rows). */
void gan_progress_from_text(gan_progress *ps, const char *text) {
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

/* ---- samples and scores ---------------------------------------------------------------------- */

/* n samples G(z), z from a generator seeded with `seed`, into out (n × x_size).  They are
 * made in batches of `batch`, the size G trained with: in training mode batch norm uses
 * each batch's own statistics (as every fake D ever saw did); with running_bn, the running
 * averages.  Nothing is recorded for gradients. */
void gan_generate_n(gan *g, int n, int batch, uint64_t seed, bool running_bn, bool by_column,
                    ag_real *out) {
    ag_tape *t = ag_tape_new(seed);
    ag_set_grad_enabled(t, false);
    if (running_bn) gan_set_training(g, false);
    for (int start = 0; start < n; start += batch) {
        ag_tensor *z = gan_sample_z(g, t, batch);
        int *y = NULL;
        if (g->cfg.n_classes > 0) {
            y = gan_sample_labels(g, t, batch);
            for (int i = 0; by_column && i < batch; i++) y[i] = (start + i) % g->cfg.n_classes;
        }
        ag_tensor *x = gan_generate_labeled(g, t, z, y);
        size_t keep = (size_t)(n - start < batch ? n - start : batch) * (size_t)g->x_size;
        memcpy(out + (size_t)start * g->x_size, x->data, sizeof(ag_real) * keep);
        ag_tape_clear(t);
    }
    gan_set_training(g, true);
    ag_tape_free(t);
}

int gan_reference_init(gan_reference *r, const char *path, const gan_flags *c,
                          const nn_dataset *test) {
    nn_error err;
    memset(r, 0, sizeof *r);
    r->sc = gan_scorer_load(path, &err);
    if (!r->sc) {
        fprintf(stderr, "gan: %s\n", err.msg);
        return -1;
    }
    if (r->sc->dataset[0] && strcmp(r->sc->dataset, c->dataset)) {
        fprintf(stderr, "gan: %s was trained on %s, not %s: its scores would mean nothing\n",
                path, r->sc->dataset, c->dataset);
        gan_scorer_free(r->sc);
        r->sc = NULL;
        return -1;
    }
    int n = test->n, K = r->sc->n_classes, F = r->sc->feat_dim;
    enum { CHUNK = 1000 }; /* test images converted from bytes at a time; a multiple of the
                              scorer's own batch (500), so its batches are the same */
    double *p = malloc(sizeof(double) * (size_t)n * K), *f = malloc(sizeof(double) * (size_t)n * F);
    ag_real *x = malloc(sizeof(ag_real) * CHUNK * test->dim);
    if (!p || !f || !x) {
        fprintf(stderr, "gan: out of memory\n");
        exit(1);
    }
    double t0 = run_seconds();
    for (int start = 0; start < n; start += CHUNK) {
        int b = n - start < CHUNK ? n - start : CHUNK;
        for (int i = 0; i < b; i++) nn_dataset_values(test, start + i, x + (size_t)i * test->dim);
        gan_scorer_run(r->sc, x, b, p + (size_t)start * K, f + (size_t)start * F);
    }
    free(x);
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

void gan_reference_free(gan_reference *r) {
    gan_scorer_free(r->sc);
    if (r->real.mean) gan_gaussian_free(&r->real);
}

int gan_generate_drs(gan *g, int n, int batch, uint64_t seed, bool running_bn, gan_drs *d,
                     ag_real *out) {
    ag_tape *t = ag_tape_new(seed);
    if (running_bn) gan_set_training(g, false);
    int got = gan_drs_sample(g, t, d, GAN_DRS_BURN_IN, n, batch, GAN_DRS_TRIES * (long)n, out);
    gan_set_training(g, true);
    ag_tape_free(t);
    return got;
}

gan_scores gan_score(gan *g, const gan_reference *r, const gan_flags *c, int batch, int n,
                     uint64_t seed, bool drs) {
    gan_scores s = {.n = n, .fid = NAN, .cls = {.inception = NAN, .class_kl = NAN}};
    int K = r->sc->n_classes, F = r->sc->feat_dim;
    ag_real *x = malloc(sizeof(ag_real) * (size_t)n * g->x_size);
    double *p = malloc(sizeof(double) * (size_t)n * K), *f = malloc(sizeof(double) * (size_t)n * F);
    if (!x || !p || !f) {
        fprintf(stderr, "gan: out of memory\n");
        exit(1);
    }
    double t0 = run_seconds();
    clock_t c0 = clock();
    if (drs) {
        s.drs.gamma = c->drs_gamma;
        n = s.n = gan_generate_drs(g, n, batch, seed, !strcmp(c->sample_bn, "running"), &s.drs, x);
    } else {
        gan_generate_n(g, n, batch, seed, !strcmp(c->sample_bn, "running"), false, x);
    }
    s.seconds = run_seconds() - t0, s.cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
    gan_scorer_run(r->sc, x, n, p, f);
    if (n > 0) s.cls = gan_class_scores_of(p, n, K);
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
void gan_pictures(gan_program *p, const run_flags *r, long per_epoch, long step, bool row) {
    gan *g = p->g;
    const gan_flags *c = &p->c;
    gan_progress *ps = &p->ps;
    int C = g->cfg.x_shape[0], H = g->cfg.x_shape[1], W = g->cfg.x_shape[2];
    size_t img = (size_t)g->x_size;
    ag_real *x = malloc(sizeof(ag_real) * FIXED_N * img);
    if (!x) return;
    gan_generate_n(g, FIXED_N, FIXED_N, run_seed(r->seed, 77, 0), !strcmp(c->sample_bn, "running"),
                   true, x);
    int cols = g->cfg.n_classes > 0 ? g->cfg.n_classes : 8; /* conditional: a class a column */
    char path[4096], title[96];
    nn_error err;
    snprintf(title, sizeof title, "epoch %.3g, iteration %ld", (double)step / per_epoch, step);
    if (nn_grid_png(run_path(path, sizeof path, r->out, "samples.png"), x, FIXED_N, C, H, W,
                    &(nn_grid_opts){.cols = cols, .scale = 2, .title = title}, &err))
        fprintf(stderr, "gan: %s\n", err.msg);
    if (row) {
        if (ps->rows == PROGRESS_ROWS) { /* full: snapshot half as often, keep those rows */
            ps->stride *= 2;
            int kept = 0;
            for (int i = 0; i < ps->rows; i++) {
                if (ps->iters[i] % (ps->stride * per_epoch) != 0) continue;
                memmove(p->progress->data + (size_t)kept * PROGRESS_COLS * img,
                        p->progress->data + (size_t)i * PROGRESS_COLS * img,
                        sizeof(ag_real) * PROGRESS_COLS * img);
                ps->iters[kept++] = ps->iters[i];
            }
            ps->rows = kept;
        }
        memcpy(p->progress->data + (size_t)ps->rows * PROGRESS_COLS * img, x,
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
        if (nn_grid_png(run_path(path, sizeof path, r->out, "progress.png"), p->progress->data,
                        ps->rows * PROGRESS_COLS, C, H, W,
                        &(nn_grid_opts){.cols = PROGRESS_COLS, .scale = 2, .captions = caps,
                                        .title = "fixed z over training (rows: epochs)"},
                        &err))
            fprintf(stderr, "gan: %s\n", err.msg);
    }
    free(x);
}

void gan_pictures_drs(gan_program *p, const run_flags *r, const char *dir) {
    gan *g = p->g;
    int C = g->cfg.x_shape[0], H = g->cfg.x_shape[1], W = g->cfg.x_shape[2];
    ag_real *x = malloc(sizeof(ag_real) * FIXED_N * (size_t)g->x_size);
    if (!x) return;
    gan_drs d = {.gamma = p->c.drs_gamma};
    int n = gan_generate_drs(g, FIXED_N, FIXED_N, run_seed(r->seed, 77, 0),
                             !strcmp(p->c.sample_bn, "running"), &d, x);
    char path[4096], title[96];
    nn_error err;
    snprintf(title, sizeof title, "DRS, gamma %g: %.1f%% kept", p->c.drs_gamma,
             100.0 * d.kept / (d.tried ? d.tried : 1));
    if (n > 0 && nn_grid_png(run_path(path, sizeof path, dir, "samples_drs.png"), x, n, C, H, W,
                             &(nn_grid_opts){.cols = 8, .scale = 2, .title = title}, &err))
        fprintf(stderr, "gan: %s\n", err.msg);
    free(x);
}

/* ---- what the program prints ------------------------------------------------------------------ */

static void print_scores(const char *label, const gan_scores *s, const gan_reference *r) {
    printf("%s (%d samples): Inception score %.3f (test set %.3f), classes %d, class KL %.4f, "
           "confidence %.3f, FID %.3f (floor %.3f)\n", label, s->n, s->cls.inception, r->real_is,
           s->cls.covered, s->cls.class_kl, s->cls.confidence, s->fid, r->fid_floor);
}

/* --drs: the scores of the same G through DRS, its line and its keys (prefix "" or "own_"). */
static void score_drs(harness *h, const char *label, const char *prefix, int n) {
    gan_program *p = h->program;
    gan_scores s = gan_score(p->g, &p->ref, &p->c, h->flags.batch, n,
                             run_seed(h->flags.seed, 6, 0), true);
    double accept = s.drs.tried ? (double)s.drs.kept / s.drs.tried : 0;
    print_scores(label, &s, &p->ref);
    printf("  DRS (gamma %g) kept %.2f%% of %ld samples (M = %.3f), %.1f s (CPU %.1f s)%s\n",
           p->c.drs_gamma, 100 * accept, s.drs.tried, s.drs.max_logit, s.seconds, s.cpu,
           s.n < n ? ": fewer samples than asked, D rejects nearly everything" : "");
    harness_result(h, " %sdrs_inception_score=%.3f %sdrs_classes=%d %sdrs_class_kl=%.4f "
                   "%sdrs_confidence=%.3f %sdrs_fid=%.3f %sdrs_n=%d %sdrs_accept=%.4f "
                   "%sdrs_seconds=%.1f %sdrs_cpu_seconds=%.1f", prefix, s.cls.inception, prefix,
                   s.cls.covered, prefix, s.cls.class_kl, prefix, s.cls.confidence, prefix, s.fid,
                   prefix, s.n, prefix, accept, prefix, s.seconds, prefix, s.cpu);
}


void gan_describe(harness *h) {
    gan_program *p = h->program;
    const gan_flags *c = &p->c;
    printf("henbun %s GAN: %s, %s, z %d, %s generator loss, %d D step%s per G step, batch %d, "
           "Adam lr %g beta1 %g, %d thread%s\n", AG_REAL_NAME, c->dataset, c->arch, c->z_dim,
           c->gen_loss, c->d_steps, c->d_steps == 1 ? "" : "s", h->flags.batch, c->lr, c->beta1,
           h->threads, h->threads == 1 ? "" : "s");
    if (c->lr_d > 0 || c->lr_g > 0 || c->ema > 0 || c->sn || c->label_smooth > 0 || c->r1 > 0)
        printf("options: lr D %g G %g%s, EMA of G %g%s, label smoothing %g, R1 %g\n",
               c->lr_d > 0 ? c->lr_d : c->lr, c->lr_g > 0 ? c->lr_g : c->lr,
               c->sn ? ", spectral norm in D" : "", c->ema,
               c->ema_warmup ? " (decay warm-up)" : "", c->label_smooth, c->r1);
    if (c->conditional)
        printf("conditional: G reads z and a one-hot label (%d + %d values); D is a projection "
               "discriminator, l(x, y) = psi(phi(x)) + e_y . phi(x), phi of %d features\n",
               c->z_dim, p->g->cfg.n_classes, p->g->feat_dim);
    nn_describe(p->g->generator, "generator", stdout);
    nn_describe(p->g->discriminator, "discriminator", stdout);
    fflush(stdout); /* the header reaches a log file before the first epoch ends */
}

int gan_print_eval(harness *h) {
    gan_program *p = h->program;
    const gan_flags *c = &p->c;
    double t0 = run_seconds();
    int n = c->eval_n > 0 ? c->eval_n : 5000;
    if (p->ema) { /* G's own weights too, first: the same training without the average */
        gan_scores own = gan_score(p->g, &p->ref, c, h->flags.batch, n, run_seed(h->flags.seed, 6, 0), false);
        print_scores("generated (G's own weights)", &own, &p->ref);
        harness_result(h, " own_inception_score=%.3f own_classes=%d own_class_kl=%.4f "
                       "own_confidence=%.3f own_fid=%.3f", own.cls.inception, own.cls.covered,
                       own.cls.class_kl, own.cls.confidence, own.fid);
    }
    gan_use_average(p->ema, true);
    gan_scores s = gan_score(p->g, &p->ref, c, h->flags.batch, n, run_seed(h->flags.seed, 6, 0), false);
    gan_use_average(p->ema, false);
    print_scores(p->ema ? "generated (moving average of G)" : "generated", &s, &p->ref);
    harness_result(h, " inception_score=%.3f classes=%d class_kl=%.4f confidence=%.3f fid=%.3f "
           "fid_floor=%.3f real_inception_score=%.3f eval_n=%d iters=%ld seconds=%.1f "
           "arch=%s dataset=%s", s.cls.inception, s.cls.covered, s.cls.class_kl,
           s.cls.confidence, s.fid, p->ref.fid_floor, p->ref.real_is, n, h->step,
           run_seconds() - t0, c->arch, c->dataset);
    if (c->drs) { /* the same samplers through DRS, after the rows without it */
        if (p->ema) score_drs(h, "generated (G's own weights) with DRS", "own_", n);
        gan_use_average(p->ema, true);
        score_drs(h, p->ema ? "generated (moving average of G) with DRS" : "generated with DRS",
                  "", n);
        gan_pictures_drs(p, &h->flags, h->flags.out);
        gan_use_average(p->ema, false);
    }
    return 0;
}

const char *const *gan_export_meta(harness *h) {
    const gan_program *p = h->program;
    const gan_flags *c = &p->c;
    static char latent[16];
    snprintf(latent, sizeof latent, "%d", c->z_dim);
    static const char *meta[16];
    const char *m[] = {"model", "gan", "arch", c->arch, "latent", latent, "dataset", c->dataset,
                       c->generator ? "generator" : NULL, c->generator,
                       "discriminator", c->discriminator, NULL};
    if (m[8] && !c->discriminator) m[10] = NULL;
    else if (!m[8] && c->discriminator) m[8] = "discriminator", m[9] = c->discriminator, m[10] = NULL;
    memcpy(meta, m, sizeof m);
    return meta;
}

const harness_caption gan_captions[] = {
    {"samples.png", "64 generated images from a fixed z, the same z every time"},
    {"progress.png", "the same fixed z over training: one row per snapshot, labelled by its epoch"},
    {0}};

void gan_print_result(harness *h) {
    gan_program *p = h->program;
    const gan_flags *c = &p->c;
    const double *last = p->last;
    printf("checkpoint, log and pictures in %s/ (gan.ckpt, log.csv, samples.png, progress.png)\n",
           h->flags.out);
    double per1000 = 1000 * h->train_seconds / h->steps_done;
    bool final_scores = p->ref.sc && c->eval_n > 0;
    gan_scores s = {0};
    if (final_scores) {
        gan_use_average(p->ema, true);
        s = gan_score(p->g, &p->ref, c, h->flags.batch, c->eval_n, run_seed(h->flags.seed, 6, 0), false);
        gan_use_average(p->ema, false);
        print_scores("final", &s, &p->ref);
    }
    if (final_scores)
        harness_result(h, " inception_score=%.3f classes=%d class_kl=%.4f confidence=%.3f fid=%.3f "
               "fid_floor=%.3f real_inception_score=%.3f eval_n=%d", s.cls.inception,
               s.cls.covered, s.cls.class_kl, s.cls.confidence, s.fid, p->ref.fid_floor,
               p->ref.real_is, c->eval_n);
    if (c->drs) { /* the same sampler through DRS: scores, and the picture even without */
        gan_use_average(p->ema, true);
        if (final_scores) score_drs(h, "final with DRS", "", c->eval_n);
        gan_pictures_drs(p, &h->flags, h->flags.out);
        gan_use_average(p->ema, false);
    }
    harness_result(h, " d_real=%.4f d_fake=%.4f js=%.4f iters=%ld epochs=%.2f seconds=%.1f "
           "sec_per_1000_iters=%.2f cpu_sec_per_1000_iters=%.2f", last[2], last[3], last[4],
           h->step, (double)h->step / h->per_epoch, h->total_seconds, per1000,
           1000 * h->train_cpu / h->steps_done);
    if (!strcmp(c->arch, "dcgan"))  /* the unit of bench/torch_dcgan.py */
        harness_result(h, " sec_per_100_iters=%.3f cpu_sec_per_100_iters=%.3f", per1000 / 10,
               100 * h->train_cpu / h->steps_done);
    harness_result(h, " threads=%d arch=%s dataset=%s", h->threads, c->arch, c->dataset);
}

void gan_release(harness *h) {
    gan_program *p = h->program;
    nn_params_free(&p->saved);
    nn_params_free(&p->params);
    nn_optim_free(p->opt_g);
    nn_optim_free(p->opt_d);
    nn_ema_free(p->ema);
    ag_tensor_free(p->progress);
    gan_free(p->g);
    free(p->labels);
    gan_reference_free(&p->ref);
}
