/* classify.c — train and evaluate an MNIST / Fashion-MNIST classifier: the end-to-end proof
 * that the layers, optimizers, schedules, checkpoints and pictures work together, and the
 * digit scorer the GAN examples load to judge generated samples.
 *
 *   build/classify                              an MLP on MNIST, 10 epochs
 *   build/classify --arch cnn                   a small CNN
 *   build/classify --net "linear 256, relu, linear 10"
 *   build/classify --eval out/classify-mnist/classifier.ckpt
 *   build/classify --resume out/classify-mnist/classifier.ckpt --epochs 20
 *
 * Every epoch prints train and test loss and accuracy, appends a row to log.csv, saves
 * classifier.ckpt (atomically) and redraws errors.png and curves.png.  The loss is the
 * mean softmax cross-entropy of the logits, −log softmax(l)[y].
 *
 * The checkpoint rebuilds itself: its meta.text holds "key=value" lines, among them
 *   program=classify  dataset=mnist  input=1 28 28  classes=10  net=<spec text>  optim=adam
 * and its tensors are the network's ("net.<index>.<type>.<name>", batch-norm statistics
 * included) and the optimizer's state ("optim.*").  Another program (the GAN examples'
 * digit scorer) loads it as build_model() and main() do: nn_net_parse(net, input), a list
 * with nn_params_extend(&list, "net", &net->params), an optimizer of the kind optim=
 * names over the net's parameters adding nn_optim_state(opt, "optim", &list), then
 * nn_checkpoint_load(path, &list, ...), which accepts only a list that matches exactly.
 *
 * All randomness is a function of (seed, epoch, step), which makes --resume exact: the data
 * order of an epoch comes from a generator seeded with (seed, epoch), the dropout masks of
 * a step from one seeded with (seed, step). */
#include "nn/nn.h"
#include "examples/common/cli.h"
#include "examples/common/run.h"
#include "examples/common/settings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "classify"
#define N_CLASSES 10   /* MNIST's digits, Fashion-MNIST's garments */
#define EVAL_BATCH 500 /* evaluation batches: no gradients, so memory is the forward's */
#define MAX_ERRORS 60  /* misclassified images shown in errors.png (6 rows of 10) */

/* ---- configuration: the flags, and the part of them a checkpoint remembers ------------- */

typedef struct config {
    const char *dataset, *data_dir, *arch, *net, *optim, *schedule;
    int epochs, batch, warmup, threads;
    double lr, weight_decay;
    uint64_t seed;
    const char *out, *resume, *eval;
    bool quiet, fp_trap;
} config;

/* The presets of --arch.  Both are sized to train in minutes on 2 cores (measured figures
 * in the README); He initialisation is chosen automatically before each ReLU. */
static const char *const mlp_spec =
    "linear 512, batchnorm, relu, dropout 0.2, linear 512, batchnorm, relu, dropout 0.2, "
    "linear 10";
static const char *const cnn_spec =
    "conv 32 k5, maxpool k2, batchnorm, relu, conv 64 k5, maxpool k2, batchnorm, relu, "
    "flatten, linear 128, batchnorm, relu, dropout 0.3, linear 10";

static const char *presets_help =
    "presets for --arch (--net SPEC overrides it with any spec text, see docs/spec.md;\n"
    "the last layer must give 10 logits):\n"
    "  mlp  linear 512, batchnorm, relu, dropout 0.2, linear 512, batchnorm, relu,\n"
    "       dropout 0.2, linear 10\n"
    "  cnn  conv 32 k5, maxpool k2, batchnorm, relu, conv 64 k5, maxpool k2, batchnorm,\n"
    "       relu, flatten, linear 128, batchnorm, relu, dropout 0.3, linear 10\n"
    "\noptimizers: adam and adamw (betas 0.9, 0.999), sgd (Nesterov momentum 0.9).\n"
    "--weight-decay is an L2 penalty for adam and sgd, the decoupled decay for adamw.\n"
    "schedules (after --warmup steps of linear ramp): constant; cosine, from --lr down to 0\n"
    "at the last step; step, x0.1 after each third of the run.\n"
    "\n--resume and --eval take the model and the training settings from the checkpoint;\n"
    "flags given on the command line override them (a --net that does not fit the saved\n"
    "tensors is an error naming the tensor).  --resume without --out writes next to the\n"
    "checkpoint; without --epochs it runs to the epochs the checkpoint was planned for.\n"
    "\nexamples:\n"
    "  build/classify                              MLP on MNIST, pictures in out/classify-mnist\n"
    "  build/classify --arch cnn --dataset fashion --epochs 15\n"
    "  build/classify --net \"linear 100, relu, linear 10\" --optim sgd --lr 0.1\n"
    "  build/classify --eval out/classify-mnist/classifier.ckpt\n"
    "\nFiles in --out: classifier.ckpt, log.csv, errors.png (misclassified test images,\n"
    "captioned true>pred), curves.png (loss and error rate per epoch).\n"
    "Ctrl-C (or SIGTERM) ends the current step, saves classifier.ckpt and prints the command\n"
    "that resumes the run exactly.  A NaN or inf stops the run, the last checkpoint intact.\n"
    "The last line printed is 'result: key=value ...' with the headline figures.";

/* The spec text of the configuration: --net when given, else the --arch preset. */
static const char *spec_of(const config *c) {
    if (c->net) return c->net;
    return !strcmp(c->arch, "cnn") ? cnn_spec : mlp_spec;
}

/* "cnn", "mlp", or "custom" for a --net of the user's own. */
static const char *arch_name(const config *c) {
    if (!c->net) return c->arch;
    if (!strcmp(c->net, mlp_spec)) return "mlp";
    if (!strcmp(c->net, cnn_spec)) return "cnn";
    return "custom";
}

/* True when --name appears on the command line (as "--name V" or "--name=V").  On --resume
 * and --eval such flags win over what the checkpoint remembers. */
static bool given(int argc, char **argv, const char *name) {
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "--", 2) && !strncmp(argv[i] + 2, name, n) &&
            (argv[i][2 + n] == 0 || argv[i][2 + n] == '='))
            return true;
    return false;
}

/* ---- the model: the net, its optimizer, and the list a checkpoint holds ---------------- */

typedef struct model {
    nn_net *net;
    nn_optim *opt;
    nn_param_list saved; /* "net.*" then "optim.*" */
} model;

/* Prints a spec-text error, and when it carries a column ("spec:COL: ...") the text with a
 * caret under that column. */
static void spec_error(const char *text, const char *msg) {
    fprintf(stderr, PROG ": --net: %s\n", msg);
    int col = 0;
    if (sscanf(msg, "spec:%d:", &col) == 1 && col >= 1 && strlen(text) < 200 &&
        !strchr(text, '\n')) {
        fprintf(stderr, "  %s\n  %*s^\n", text, col - 1, "");
    }
}

/* Builds the net for (C, H, W) inputs and its optimizer.  Returns 0, or -1 after printing
 * what is wrong with the spec (it does not parse, does not fit the input, or does not end
 * in N_CLASSES logits). */
static int build_model(model *m, const config *c, const int *in_shape) {
    nn_error err;
    ag_rng init;
    ag_rng_seed(&init, run_seed(c->seed, 0, 0));
    const char *spec = spec_of(c);
    memset(m, 0, sizeof *m);
    m->net = nn_net_parse(spec, 3, in_shape, NULL, &init, &err);
    if (!m->net) {
        spec_error(spec, err.msg);
        return -1;
    }
    if (m->net->out_ndim != 1 || m->net->out_shape[0] != N_CLASSES) {
        char s[64];
        fprintf(stderr, PROG ": --net: the network's output is %s per example; a classifier "
                        "of %d classes must end in %d logits (e.g. '..., linear %d')\n  %s\n",
                nn_shape_str(m->net->out_ndim, m->net->out_shape, s, sizeof s), N_CLASSES,
                N_CLASSES, N_CLASSES, spec);
        nn_net_free(m->net);
        m->net = NULL;
        return -1;
    }
    const nn_param_list *p = &m->net->params;
    if (!strcmp(c->optim, "sgd")) m->opt = nn_sgd(p, c->lr, 0.9, true);
    else if (!strcmp(c->optim, "adamw")) m->opt = nn_adamw(p, c->lr, c->weight_decay);
    else m->opt = nn_adam(p, c->lr);
    if (strcmp(c->optim, "adamw") != 0) nn_optim_set_weight_decay(m->opt, c->weight_decay);
    nn_params_extend(&m->saved, "net", p);
    nn_optim_state(m->opt, "optim", &m->saved);
    return 0;
}

static void free_model(model *m) {
    nn_params_free(&m->saved);
    nn_optim_free(m->opt);
    nn_net_free(m->net);
}

/* Index of the largest of n logits. */
static int argmax(const ag_real *l, int n) {
    int best = 0;
    for (int j = 1; j < n; j++)
        if (l[j] > l[best]) best = j;
    return best;
}

/* ---- evaluation --------------------------------------------------------------------------- */

typedef struct eval {
    double loss, acc;   /* mean cross-entropy (nats), fraction correct */
    int n, correct;
    int *pred;          /* n predicted labels */
    double *p_pred;     /* n probabilities the model gives its prediction */
} eval;

/* The net on every example of d in evaluation mode (running batch-norm statistics, no
 * dropout) without recording gradients. */
static eval evaluate(nn_net *net, const nn_dataset *d) {
    eval e = {.n = d->n};
    e.pred = malloc(sizeof(int) * (size_t)d->n);
    e.p_pred = malloc(sizeof(double) * (size_t)d->n);
    int *idx = malloc(sizeof(int) * EVAL_BATCH), *y = malloc(sizeof(int) * EVAL_BATCH);
    if (!e.pred || !e.p_pred || !idx || !y) {
        fprintf(stderr, PROG ": out of memory\n");
        exit(1);
    }
    ag_tape *t = ag_tape_new(0);
    ag_set_grad_enabled(t, false);
    double total = 0;
    for (int start = 0; start < d->n; start += EVAL_BATCH) {
        int b = d->n - start < EVAL_BATCH ? d->n - start : EVAL_BATCH;
        for (int i = 0; i < b; i++) idx[i] = start + i;
        ag_tensor *x = nn_dataset_batch(d, t, idx, b, false, y);
        ag_tensor *logits = nn_forward(net, t, x, false);            /* (b, 10) */
        ag_tensor *ce = ag_softmax_cross_entropy(t, logits, y);      /* (b) */
        for (int i = 0; i < b; i++) {
            const ag_real *l = logits->data + (size_t)i * N_CLASSES;
            int k = argmax(l, N_CLASSES);
            total += ce->data[i];
            e.pred[start + i] = k;
            /* p(k) = e^{l_k - logsumexp(l)} and logsumexp(l) = l_y + ce */
            e.p_pred[start + i] = exp((double)l[k] - l[y[i]] - ce->data[i]);
            e.correct += k == y[i];
        }
        ag_tape_clear(t);
    }
    ag_tape_free(t);
    free(idx);
    free(y);
    e.loss = d->n ? total / d->n : NAN;
    e.acc = d->n ? (double)e.correct / d->n : NAN;
    return e;
}

static void eval_free(eval *e) {
    free(e->pred);
    free(e->p_pred);
    e->pred = NULL, e->p_pred = NULL;
}

/* A confusion matrix (rows: true class, columns: predicted) and per-class accuracy. */
static void print_confusion(const nn_dataset *d, const eval *e, bool fashion) {
    int cm[N_CLASSES][N_CLASSES] = {{0}};
    for (int i = 0; i < d->n; i++)
        if (d->y[i] >= 0 && d->y[i] < N_CLASSES) cm[d->y[i]][e->pred[i]]++;
    int name_w = fashion ? 12 : 0; /* " T-shirt/top" */
    printf("confusion matrix (rows: true class, columns: predicted)\n%*s", 3 + name_w, "");
    for (int k = 0; k < N_CLASSES; k++) printf(" %5d", k);
    printf("  accuracy\n");
    for (int r = 0; r < N_CLASSES; r++) {
        int row = 0;
        for (int k = 0; k < N_CLASSES; k++) row += cm[r][k];
        printf("  %d", r);
        if (fashion) printf(" %-11.11s", nn_fashion_mnist_classes[r]);
        for (int k = 0; k < N_CLASSES; k++) printf(" %5d", cm[r][k]);
        printf("  %6.2f%%\n", row ? 100.0 * cm[r][r] / row : 0.0);
    }
}

/* ---- pictures ------------------------------------------------------------------------------ */

static const nn_rgb white = {255, 255, 255}, ink = {0, 0, 0};

typedef struct mistake { int index; double p; } mistake;

static int by_confidence(const void *a, const void *b) {
    double pa = ((const mistake *)a)->p, pb = ((const mistake *)b)->p;
    return pa < pb ? 1 : pa > pb ? -1 : ((const mistake *)a)->index - ((const mistake *)b)->index;
}

/* errors.png: the misclassified test images the model was surest about, captioned
 * "true>pred"; for Fashion-MNIST a legend of the class numbers goes underneath. */
static void errors_png(const char *path, const nn_dataset *test, const eval *e, bool fashion) {
    int n_wrong = test->n - e->correct;
    if (n_wrong == 0) return;
    mistake *w = malloc(sizeof(mistake) * (size_t)n_wrong);
    int n = n_wrong < MAX_ERRORS ? n_wrong : MAX_ERRORS, k = 0;
    ag_real *x = malloc(sizeof(ag_real) * (size_t)n * test->dim);
    char(*cap)[16] = malloc(sizeof *cap * (size_t)n);
    const char **caps = malloc(sizeof *caps * (size_t)n);
    if (!w || !x || !cap || !caps) {
        fprintf(stderr, PROG ": out of memory\n");
        exit(1);
    }
    for (int i = 0; i < test->n; i++)
        if (e->pred[i] != test->y[i]) w[k++] = (mistake){i, e->p_pred[i]};
    qsort(w, (size_t)n_wrong, sizeof *w, by_confidence);
    for (int i = 0; i < n; i++) {
        int j = w[i].index;
        memcpy(x + (size_t)i * test->dim, nn_dataset_example(test, j), sizeof(ag_real) * test->dim);
        snprintf(cap[i], sizeof cap[i], "%d>%d", test->y[j], e->pred[j]);
        caps[i] = cap[i];
    }
    char title[128];
    snprintf(title, sizeof title, "%d of %d misclassified test images, surest first (true>pred)",
             n, n_wrong);
    nn_image *grid = nn_grid_image(x, n, test->shape[0], test->shape[1], test->shape[2],
                                   &(nn_grid_opts){.cols = 10, .scale = 2, .captions = caps,
                                                   .title = title});
    nn_image *im = grid;
    if (fashion) {
        char line[2][128] = {{0}};
        for (int c = 0; c < N_CLASSES; c++) {
            char item[32];
            snprintf(item, sizeof item, "%d %s  ", c, nn_fashion_mnist_classes[c]);
            strncat(line[c / 5], item, sizeof line[0] - strlen(line[c / 5]) - 1);
        }
        int lh = nn_text_height(1) + 2, wd = nn_text_width(line[0], 1);
        if (nn_text_width(line[1], 1) > wd) wd = nn_text_width(line[1], 1);
        im = nn_image_new(grid->w > wd + 4 ? grid->w : wd + 4, grid->h + 2 * lh + 4, white);
        nn_image_blit(im, grid, 0, 0);
        for (int r = 0; r < 2; r++) nn_image_text(im, 2, grid->h + 2 + r * lh, line[r], 1, ink);
        nn_image_free(grid);
    }
    nn_error err;
    if (nn_image_write_png(im, path, &err)) fprintf(stderr, PROG ": %s\n", err.msg);
    nn_image_free(im);
    free(w), free(x), free(cap), free(caps);
}

/* One row of the log: what curves.png plots. */
typedef struct epoch_row { double train_loss, train_err, test_loss, test_err; } epoch_row;

/* curves.png: losses and error rates (1 − accuracy) share one logarithmic axis; on MNIST
 * both live between about 0.005 and 0.5, and a log scale shows the late epochs' progress. */
static void curves_png(const char *path, const epoch_row *rows, int n, const config *c) {
    double *v = malloc(sizeof(double) * 4 * (size_t)n);
    if (!v) return;
    for (int i = 0; i < n; i++) {
        v[i] = rows[i].train_loss, v[n + i] = rows[i].test_loss;
        v[2 * n + i] = rows[i].train_err, v[3 * n + i] = rows[i].test_err;
    }
    nn_series s[4] = {{"train loss", NULL, v, n}, {"test loss", NULL, v + n, n},
                      {"train error", NULL, v + 2 * n, n}, {"test error", NULL, v + 3 * n, n}};
    char title[96];
    snprintf(title, sizeof title, "%s on %s: loss (nats) and error rate", arch_name(c), c->dataset);
    nn_error err;
    if (nn_plot_lines_png(path, s, 4, &(nn_plot_opts){.title = title, .xlabel = "epoch",
                                                     .ylabel = "loss, error", .log_y = true},
                          &err))
        fprintf(stderr, PROG ": %s\n", err.msg);
    free(v);
}

/* A resumed run's curves start with the epochs already in log.csv (rows up to `upto`). */
static int read_log(const char *path, epoch_row *rows, int upto) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        double ep, tl, ta, vl, va;
        if (sscanf(line, "%lf,%lf,%lf,%lf,%lf", &ep, &tl, &ta, &vl, &va) != 5) continue;
        int i = (int)ep - 1;
        if (i < 0 || i >= upto) continue;
        rows[i] = (epoch_row){tl, 1 - ta, vl, 1 - va};
        if (i + 1 > n) n = i + 1;
    }
    fclose(f);
    return n;
}

/* ---- training --------------------------------------------------------------------------- */

typedef struct epoch_stats {
    double loss, acc;   /* means over the epoch so far */
    long steps;
    bool nonfinite, interrupted;
} epoch_stats;

/* One pass over the batcher's epoch (what is left of it): forward in training mode, mean
 * cross-entropy, backward, one optimizer step.  *step counts steps over the whole run;
 * sums = {examples, Σ loss·batch, correct} of the epoch so far (non-zero when a stopped
 * epoch resumes), updated. */
static epoch_stats train_epoch(model *m, nn_batcher *it, ag_tape *t, const config *c,
                               long *step, int epoch, nn_progress *bar, double sums[3]) {
    epoch_stats s = {0};
    nn_batch b;
    while (nn_batcher_next(it, t, &b)) {
        ag_rng_seed(ag_tape_rng(t), run_seed(c->seed, 2, (uint64_t)*step)); /* dropout masks */
        ag_tensor *logits = nn_forward(m->net, t, b.x, true);          /* (B, 10) */
        ag_tensor *loss = ag_mean(t, ag_softmax_cross_entropy(t, logits, b.y));
        double l = ag_item(loss);
        int correct = 0;
        for (int i = 0; i < b.size; i++)
            correct += argmax(logits->data + (size_t)i * N_CLASSES, N_CLASSES) == b.y[i];
        ag_backward(t, loss);
        double norm = nn_optim_step(m->opt);
        ag_tape_clear(t);
        if (!run_check_finite(PROG, l, norm, &m->net->params, "epoch %d step %ld", epoch + 1,
                              *step + 1)) {
            s.nonfinite = true;
            break;
        }
        nn_optim_zero_grad(m->opt);
        (*step)++;
        s.steps++;
        sums[0] += b.size, sums[1] += l * b.size, sums[2] += correct;
        if (bar) nn_progress_step(bar, b.size, (double[]){l, (double)correct / b.size});
        if (run_step_done()) {
            s.interrupted = true;
            break;
        }
    }
    if (sums[0] > 0) s.loss = sums[1] / sums[0], s.acc = sums[2] / sums[0];
    return s;
}

/* ---- the program -------------------------------------------------------------------------- */

static nn_dataset *load(const config *c, const char *split, nn_error *err) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", c->data_dir, c->dataset);
    nn_dataset *d = nn_dataset_load_mnist(dir, split, err);
    if (d && d->n_classes > N_CLASSES) {
        nn_fail(err, "%s: %s labels go up to %d, but a classifier here has %d classes", dir,
                split, d->n_classes - 1, N_CLASSES);
        nn_dataset_free(d);
        return NULL;
    }
    return d;
}

/* Prints "classify: <msg>" and returns the exit code. */
static int fail(int code, const char *msg) {
    fprintf(stderr, PROG ": %s\n", msg);
    return code;
}

int main(int argc, char **argv) {
    config c = {.dataset = "mnist", .data_dir = "data", .arch = "mlp", .net = NULL,
                .optim = "adam", .schedule = "cosine", .epochs = 10, .batch = 128,
                .warmup = 0, .threads = 0, .lr = 1e-3, .weight_decay = 0, .seed = 1};
    cli_opt opts[] = {
        {"dataset", CLI_CHOICE, &c.dataset, "mnist|fashion", "training data"},
        {"data", CLI_STRING, &c.data_dir, "DIR", "where `make data` put the datasets (DIR/mnist, DIR/fashion)"},
        {"arch", CLI_CHOICE, &c.arch, "mlp|cnn", "network preset (listed below)"},
        {"net", CLI_STRING, &c.net, "SPEC", "spec text of your own network, ending in 10 logits"},
        {"epochs", CLI_INT, &c.epochs, "N", "train until this many epochs are done"},
        {"batch", CLI_INT, &c.batch, "N", "minibatch size"},
        {"lr", CLI_REAL, &c.lr, "LR", "base learning rate"},
        {"optim", CLI_CHOICE, &c.optim, "adam|adamw|sgd", "optimizer"},
        {"schedule", CLI_CHOICE, &c.schedule, "constant|cosine|step", "learning-rate schedule"},
        {"warmup", CLI_INT, &c.warmup, "STEPS", "linear learning-rate warm-up steps"},
        {"weight-decay", CLI_REAL, &c.weight_decay, "WD", "L2 penalty (adam, sgd) or decoupled decay (adamw)"},
        {"seed", CLI_U64, &c.seed, "S", "seed of every random choice"},
        {"threads", CLI_INT, &c.threads, "N", "OpenMP threads (0: all cores)"},
        {"out", CLI_STRING, &c.out, "DIR", "checkpoint, log and pictures [out/classify-DATASET]"},
        {"resume", CLI_STRING, &c.resume, "CKPT", "continue a run from its checkpoint"},
        {"eval", CLI_STRING, &c.eval, "CKPT", "evaluate a saved classifier on the test set and exit"},
        {"quiet", CLI_FLAG, &c.quiet, NULL, "no progress bar, no network table"},
        {"fp-trap", CLI_FLAG, &c.fp_trap, NULL,
         "debugging: die at the first operation that makes a NaN or an inf"},
        {0}};
    cli_program prog = {PROG, "Train a classifier on MNIST or Fashion-MNIST, or evaluate a "
                              "saved one.", presets_help};
    int rc = cli_parse(argc, argv, &prog, opts);
    if (rc) return rc < 0 ? 2 : 0;
    if (c.eval && c.resume) return fail(2, "--eval and --resume exclude each other");

    /* What a checkpoint remembers, as "key=value" lines in this order.  input=, classes=
     * and arch= are there for other programs that rebuild the net (the GAN examples' digit
     * scorer), test_acc= for the reader: they are set before every save, from what the
     * program knows then, and what a checkpoint says of them is not used. */
    char input[48] = "", test_acc[16] = "";
    const char *input_text = input, *arch = c.arch, *acc_text = test_acc;
    int classes = N_CLASSES;
    const setting remembered[] = {
        {"dataset", SET_STRING, &c.dataset},
        {"input", SET_STRING, &input_text},
        {"classes", SET_INT, &classes},
        {"arch", SET_STRING, &arch},
        {"net", SET_STRING, &c.net},
        {"optim", SET_STRING, &c.optim},
        {"lr", SET_DOUBLE, &c.lr},
        {"schedule", SET_STRING, &c.schedule},
        {"warmup", SET_INT, &c.warmup},
        {"weight_decay", SET_DOUBLE, &c.weight_decay},
        {"batch", SET_INT, &c.batch},
        {"epochs", SET_INT, &c.epochs},
        {"seed", SET_U64, &c.seed},
        {"test_acc", SET_STRING, &acc_text},
        {0}};

    nn_error err;
    static nn_ckpt_meta meta;                /* 8 KiB of text: keep it off the stack */
    static char saved_text[NN_CKPT_TEXT_MAX]; /* c's strings point here on --resume/--eval */
    const char *ckpt_in = c.eval ? c.eval : c.resume;
    int saved_batch = c.batch;
    if (ckpt_in) {
        if (nn_checkpoint_info(ckpt_in, &meta, NULL, &err)) return fail(1, err.msg);
        memcpy(saved_text, meta.text, sizeof saved_text);
        if (settings_read(saved_text, PROG, remembered, ckpt_in)) return 1;
        saved_batch = c.batch;
        /* Flags given on the command line win over the checkpoint: parse it again over what
         * was read.  --arch alone names a preset, which the checkpoint's net= would hide. */
        cli_parse(argc, argv, &prog, opts);
        if (given(argc, argv, "arch") && !given(argc, argv, "net")) c.net = NULL;
        /* The checkpoint may have been written by hand or by another version. */
        if (strcmp(c.dataset, "mnist") && strcmp(c.dataset, "fashion")) {
            fprintf(stderr, PROG ": %s: unknown dataset '%s' in the checkpoint\n", ckpt_in,
                    c.dataset);
            return 1;
        }
        if (strcmp(c.optim, "adam") && strcmp(c.optim, "adamw") && strcmp(c.optim, "sgd")) {
            fprintf(stderr, PROG ": %s: unknown optimizer '%s' in the checkpoint\n", ckpt_in,
                    c.optim);
            return 1;
        }
        if (strcmp(c.schedule, "constant") && strcmp(c.schedule, "cosine") &&
            strcmp(c.schedule, "step")) {
            fprintf(stderr, PROG ": %s: unknown schedule '%s' in the checkpoint\n", ckpt_in,
                    c.schedule);
            return 1;
        }
    }
    if (c.batch < 1 || c.epochs < 0 || c.warmup < 0 || !(c.lr > 0) || !(c.weight_decay >= 0))
        return fail(2, "--batch must be >= 1, --epochs and --warmup >= 0, --lr > 0, "
                       "--weight-decay >= 0");
    if (c.net && strchr(c.net, '\n'))  /* the checkpoint's meta is one key per line */
        return fail(2, "--net: write the spec on one line");
    arch = arch_name(&c);
    c.net = spec_of(&c); /* the preset as spec text */
    bool fashion = !strcmp(c.dataset, "fashion");
    char out_buf[4096];
    if (!c.out) {
        if (c.resume) { /* next to the checkpoint */
            snprintf(out_buf, sizeof out_buf, "%s", c.resume);
            char *slash = strrchr(out_buf, '/');
            if (!slash) snprintf(out_buf, sizeof out_buf, ".");
            else *(slash == out_buf ? slash + 1 : slash) = 0; /* "/x.ckpt" -> "/" */
        } else {
            snprintf(out_buf, sizeof out_buf, "out/classify-%s", c.dataset);
        }
        c.out = out_buf;
    }
    int threads = run_threads(c.threads);
    if (c.fp_trap && run_fp_trap(PROG)) return 2;

    /* Everything that can be wrong with the inputs is found before anything is written. */
    nn_dataset *train = c.eval ? NULL : load(&c, "train", &err);
    nn_dataset *test = c.eval || train ? load(&c, "test", &err) : NULL;
    if ((!c.eval && !train) || !test) {
        nn_dataset_free(train);
        return fail(1, err.msg);
    }
    snprintf(input, sizeof input, "%d %d %d", test->shape[0], test->shape[1], test->shape[2]);
    input_text = input, classes = N_CLASSES, acc_text = test_acc; /* not the checkpoint's */
    model m;
    if (build_model(&m, &c, test->shape)) {
        nn_dataset_free(train);
        nn_dataset_free(test);
        return 2;
    }
    int start_epoch = 0;
    long step = 0;
    if (ckpt_in) {
        if (nn_checkpoint_load(ckpt_in, &m.saved, &meta, &err)) {
            fprintf(stderr, PROG ": %s\n", err.msg);
            free_model(&m);
            nn_dataset_free(train);
            nn_dataset_free(test);
            return 1;
        }
        start_epoch = (int)meta.epoch;
        step = (long)meta.step;
    }
    if (!c.quiet || c.eval) {
        printf("henbun %s classifier: %s, %s, %s lr %g, %s schedule, %d thread%s\n",
               AG_REAL_NAME, c.dataset, arch_name(&c), c.optim, c.lr, c.schedule, threads,
               threads == 1 ? "" : "s");
        nn_describe(m.net, "network", stdout);
    }

    if (c.eval) {
        double t0 = run_seconds();
        eval ev = evaluate(m.net, test);
        double secs = run_seconds() - t0;
        print_confusion(test, &ev, fashion);
        printf("test loss %.4f, accuracy %.2f%% (%d of %d), after %d epochs of training\n",
               ev.loss, 100 * ev.acc, ev.correct, ev.n, start_epoch);
        printf("result: test_acc=%.4f test_loss=%.4f epochs=%d seconds=%.1f arch=%s dataset=%s\n",
               ev.acc, ev.loss, start_epoch, secs, arch_name(&c), c.dataset);
        eval_free(&ev);
        free_model(&m);
        nn_dataset_free(test);
        return 0;
    }

    if (run_mkdir(c.out, &err)) {
        free_model(&m);
        nn_dataset_free(train);
        nn_dataset_free(test);
        return fail(1, err.msg);
    }
    char ckpt[4096], log_path[4096], errors_path[4096], curves_path[4096];
    run_path(ckpt, sizeof ckpt, c.out, "classifier.ckpt");
    run_path(log_path, sizeof log_path, c.out, "log.csv");
    run_path(errors_path, sizeof errors_path, c.out, "errors.png");
    run_path(curves_path, sizeof curves_path, c.out, "curves.png");

    epoch_row *rows = calloc((size_t)(c.epochs > start_epoch ? c.epochs : start_epoch) + 1,
                             sizeof *rows);
    if (!rows) return fail(1, "out of memory");
    int n_rows = c.resume ? read_log(log_path, rows, start_epoch) : 0;
    /* A fresh run starts a fresh log; a resumed one drops the rows of epochs its
     * checkpoint has not seen (they are written again). */
    if (!c.resume) remove(log_path);
    else if (run_log_rewind(log_path, 0, 1, (double[]){(double)start_epoch}, &err)) {
        free(rows);
        free_model(&m);
        nn_dataset_free(train);
        nn_dataset_free(test);
        return fail(1, err.msg);
    }
    static const char *cols[] = {"epoch", "train_loss", "train_acc", "test_loss", "test_acc",
                                 "lr", "seconds"};
    nn_csv *csv = nn_csv_open(log_path, 7, cols, &err);
    if (!csv) {
        free(rows);
        free_model(&m);
        nn_dataset_free(train);
        nn_dataset_free(test);
        return fail(1, err.msg);
    }

    ag_rng data_rng;
    ag_tape *t = ag_tape_new(c.seed);
    /* Batch norm cannot train on a batch of one example: drop such a last batch. */
    nn_batcher *it = nn_batcher_new(train, &(nn_batch_opts){.batch_size = c.batch,
                                        .drop_last = train->n % c.batch == 1}, &data_rng);
    int per_epoch = nn_batcher_num_batches(it);
    long decay_steps = (long)c.epochs * per_epoch - c.warmup;
    if (decay_steps < 1) decay_steps = 1;
    nn_lr_schedule sched = {.kind = NN_LR_CONSTANT, .warmup_steps = c.warmup};
    if (!strcmp(c.schedule, "cosine"))
        sched.kind = NN_LR_COSINE, sched.total_steps = (int)decay_steps, sched.min_lr = 0;
    else if (!strcmp(c.schedule, "step"))
        sched.kind = NN_LR_STEP, sched.gamma = 0.1,
        sched.step_size = (int)(decay_steps / 3 > 0 ? decay_steps / 3 : 1);
    nn_optim_set_schedule(m.opt, &sched);

    nn_progress *bar = nn_progress_new(&(nn_progress_opts){
        .mode = c.quiet ? NN_PROGRESS_PLAIN : NN_PROGRESS_AUTO, .n_values = 2,
        .names = {"loss", "acc"}});
    double total_seconds = 0, train_seconds = 0;
    int epochs_done = 0, code = 0;
    eval ev = {0};
    /* The epoch's examples, Σ loss·batch and correct answers; a run stopped inside an epoch
     * left them in the checkpoint, so the resumed epoch's means are those of all of it. */
    double sums[3] = {0};
    if (c.resume && (saved_batch != c.batch || run_text_get(meta.text, "epoch_sums", sums, 3)))
        memset(sums, 0, sizeof sums);
    run_catch_signals();
    for (int epoch = start_epoch; epoch < c.epochs && !code; epoch++) {
        char label[32];
        snprintf(label, sizeof label, "epoch %d/%d", epoch + 1, c.epochs);
        ag_rng_seed(&data_rng, run_seed(c.seed, 1, (uint64_t)epoch));
        nn_progress_begin(bar, label, nn_batcher_num_examples(it));
        /* The learning rate at the epoch's first step (the log's lr column). */
        double t0 = run_seconds(), lr = nn_lr_at(&sched, c.lr, (int64_t)epoch * per_epoch);
        /* After a mid-epoch stop, skip the batches already trained on (counted in batches of
         * the size the checkpoint was written with: with another size, redo the epoch). */
        nn_batch b;
        long skip = saved_batch == c.batch ? step - (long)epoch * per_epoch : 0;
        for (; skip > 0 && nn_batcher_next(it, t, &b); skip--) ag_tape_clear(t);
        epoch_stats st = train_epoch(&m, it, t, &c, &step, epoch, bar, sums);
        nn_progress_end(bar);
        double train_s = run_seconds() - t0;
        if (st.nonfinite) {
            code = 1;
            break;
        }
        if (st.interrupted && step < (long)(epoch + 1) * per_epoch) { /* stopped half-way */
            meta.epoch = epoch, meta.step = step;
            snprintf(test_acc, sizeof test_acc, "%.4f", ev.pred ? ev.acc : NAN);
            settings_write(meta.text, sizeof meta.text, PROG, remembered);
            run_text_put(meta.text, sizeof meta.text, "epoch_sums", sums, 3);
            code = run_stop_status();
            if (!run_save_checkpoint(PROG, ckpt, &m.saved, &meta)) {
                fprintf(stderr, PROG ": %s: stopped at epoch %d step %ld; checkpoint %s\n",
                        run_stop_signal(), epoch + 1, step, ckpt);
                run_print_resume(argc, argv, ckpt);
            }
            break;
        }
        memset(sums, 0, sizeof sums);
        eval_free(&ev);
        ev = evaluate(m.net, test);
        double secs = run_seconds() - t0;
        train_seconds += train_s, total_seconds += secs;
        epochs_done++;
        rows[epoch] = (epoch_row){st.loss, 1 - st.acc, ev.loss, 1 - ev.acc};
        n_rows = epoch + 1;
        printf("epoch %3d/%d  train loss %.4f acc %6.2f%%  test loss %.4f acc %6.2f%%  "
               "lr %.2e  %.1fs\n", epoch + 1, c.epochs, st.loss, 100 * st.acc, ev.loss,
               100 * ev.acc, lr, secs);
        fflush(stdout);
        if (nn_csv_row(csv, (double[]){epoch + 1, st.loss, st.acc, ev.loss, ev.acc, lr, secs},
                       &err))
            fprintf(stderr, PROG ": %s\n", err.msg);
        meta.epoch = epoch + 1, meta.step = step;
        snprintf(test_acc, sizeof test_acc, "%.4f", ev.acc);
        settings_write(meta.text, sizeof meta.text, PROG, remembered);
        if (run_save_checkpoint(PROG, ckpt, &m.saved, &meta)) {
            code = 1;
            break;
        }
        errors_png(errors_path, test, &ev, fashion);
        curves_png(curves_path, rows, n_rows, &c);
        if (run_stop_requested() && epoch + 1 < c.epochs) { /* between epochs: nothing lost */
            fprintf(stderr, PROG ": %s: stopped after epoch %d; checkpoint %s\n",
                    run_stop_signal(), epoch + 1, ckpt);
            run_print_resume(argc, argv, ckpt);
            code = run_stop_status();
        }
    }
    if (nn_csv_close(csv, &err)) fprintf(stderr, PROG ": %s\n", err.msg);
    if (!code && epochs_done > 0) {
        printf("checkpoint, log and pictures in %s/ (classifier.ckpt, log.csv, errors.png, "
               "curves.png)\n", c.out);
        printf("result: test_acc=%.4f test_loss=%.4f epochs=%d seconds=%.1f arch=%s dataset=%s "
               "sec_per_epoch=%.1f\n", ev.acc, ev.loss, start_epoch + epochs_done, total_seconds,
               arch_name(&c), c.dataset, train_seconds / epochs_done);
    } else if (!code) {
        printf("nothing to do: the checkpoint is already at epoch %d (raise --epochs)\n",
               start_epoch);
    }
    eval_free(&ev);
    free(rows);
    nn_progress_free(bar);
    nn_batcher_free(it);
    ag_tape_free(t);
    free_model(&m);
    nn_dataset_free(train);
    nn_dataset_free(test);
    return code;
}
