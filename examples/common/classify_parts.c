/* classify_parts.c — what examples/classify.c needs besides its model and its step (see
 * classify_parts.h): flags and help, evaluation, the confusion matrix, errors.png and
 * curves.png, and what the program prints. */
#include "examples/common/classify_parts.h"
#include "examples/common/run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- flags, settings, help ------------------------------------------------------------- */

cli_opt *classify_options(classify_flags *c, run_flags *r) {
    static cli_opt opts[32];
    cli_opt table[] = {
        {"dataset", CLI_CHOICE, &c->dataset, "mnist|fashion", "training data"},
        {"data", CLI_STRING, &c->data_dir, "DIR", "where `make data` put the datasets (DIR/mnist, DIR/fashion)"},
        {"arch", CLI_CHOICE, &c->arch, "mlp|cnn", "network preset (listed below)"},
        {"net", CLI_STRING, &c->net, "SPEC", "spec text of your own network, ending in 10 logits"},
        {"epochs", CLI_INT, &r->epochs, "N", "train until this many epochs are done", CLI_IN(0, 1e6)},
        {"batch", CLI_INT, &r->batch, "N", "minibatch size", CLI_IN(1, 65536)},
        {"lr", CLI_REAL, &c->lr, "LR", "base learning rate", CLI_IN_OC(0, 1e30)},
        {"optim", CLI_CHOICE, &c->optim, "adam|adamw|sgd", "optimizer"},
        {"schedule", CLI_CHOICE, &c->schedule, "constant|cosine|step", "learning-rate schedule"},
        {"warmup", CLI_INT, &c->warmup, "STEPS", "linear learning-rate warm-up steps", CLI_IN(0, 1e9)},
        {"weight-decay", CLI_REAL, &c->weight_decay, "WD", "L2 penalty (adam, sgd) or decoupled decay (adamw)", CLI_IN(0, 10)},
        {"seed", CLI_U64, &r->seed, "S", "seed of every random choice"},
        {"threads", CLI_INT, &r->threads, "N", "OpenMP threads (0: all cores)"},
        {"out", CLI_STRING, &r->out, "DIR", "checkpoint, log and pictures [out/classify-DATASET]"},
        {"resume", CLI_STRING, &r->resume, "CKPT", "continue a run from its checkpoint"},
        {"eval", CLI_STRING, &r->eval, "CKPT", "evaluate a saved classifier on the test set and exit"},
        {"export", CLI_STRING, &r->export_to, "FILE",
         "also write the model's weights to FILE.safetensors, spec text and settings in its "
         "metadata (docs/safetensors.md); --eval takes such a file too"},
        {"quiet", CLI_FLAG, &r->quiet, NULL, "no progress bar, no network table"},
        {"sync-bn", CLI_FLAG, &r->sync_bn, NULL, "batch norm under mpirun: global batch statistics"},
        {"fp-trap", CLI_FLAG, &r->fp_trap, NULL,
         "debugging: die at the first operation that makes a NaN or an inf"},
        {0}};
    memcpy(opts, table, sizeof table);
    return opts;
}

const setting *classify_settings(classify_program *p, run_flags *r) {
    static setting table[20];
    classify_flags *c = &p->c;
    setting t[] = {
        {"dataset", SET_STRING, &c->dataset},
        {"input", SET_STRING, &p->input_text},
        {"classes", SET_INT, &p->classes},
        {"arch", SET_STRING, &p->arch},
        {"net", SET_STRING, &c->net},
        {"optim", SET_STRING, &c->optim},
        {"lr", SET_DOUBLE, &c->lr},
        {"schedule", SET_STRING, &c->schedule},
        {"warmup", SET_INT, &c->warmup},
        {"weight_decay", SET_DOUBLE, &c->weight_decay},
        {"batch", SET_INT, &r->batch},
        {"epochs", SET_INT, &r->epochs},
        {"seed", SET_U64, &r->seed},
        {"test_acc", SET_STRING, &p->acc_text},
        {0}};

    memcpy(table, t, sizeof t);
    return table;
}

const harness_caption classify_captions[] = {
    {"errors.png", "test images the classifier gets wrong, each with its label and the predicted class"},
    {"curves.png", "loss and error per epoch on the training and the test set"},
    {0}};

const char *const classify_help_epilog =
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

void classify_spec_error(const char *text, const char *msg) {
    nn_spec_print_error(stderr, "classify: --net", text, msg);
}

int classify_argmax(const ag_real *l, int n) {
    int best = 0;
    for (int j = 1; j < n; j++)
        if (l[j] > l[best]) best = j;
    return best;
}

/* ---- evaluation --------------------------------------------------------------------------- */

classify_eval classify_evaluate(nn_net *net, ag_tape *tape, const nn_dataset *d) {
    classify_eval e = {.n = d->n};
    e.pred = malloc(sizeof(int) * (size_t)d->n);
    e.p_pred = malloc(sizeof(double) * (size_t)d->n);
    int *idx = malloc(sizeof(int) * EVAL_BATCH), *y = malloc(sizeof(int) * EVAL_BATCH);
    if (!e.pred || !e.p_pred || !idx || !y) {
        fprintf(stderr, "classify: out of memory\n");
        exit(1);
    }
    ag_tape *t = tape ? tape : ag_tape_new(0);
    ag_tape_clear(t);
    bool grad_was = ag_set_grad_enabled(t, false);
    double total = 0;
    for (int start = 0; start < d->n; start += EVAL_BATCH) {
        int b = d->n - start < EVAL_BATCH ? d->n - start : EVAL_BATCH;
        for (int i = 0; i < b; i++) idx[i] = start + i;
        ag_tensor *x = nn_dataset_batch(d, t, idx, b, false, y);
        ag_tensor *logits = nn_forward(net, t, x, false);            /* (b, 10) */
        ag_tensor *ce = ag_softmax_cross_entropy(t, logits, y);      /* (b) */
        for (int i = 0; i < b; i++) {
            const ag_real *l = logits->data + (size_t)i * N_CLASSES;
            int k = classify_argmax(l, N_CLASSES);
            total += ce->data[i];
            e.pred[start + i] = k;
            /* p(k) = e^{l_k - logsumexp(l)} and logsumexp(l) = l_y + ce */
            e.p_pred[start + i] = exp((double)l[k] - l[y[i]] - ce->data[i]);
            e.correct += k == y[i];
        }
        ag_tape_clear(t);
    }
    ag_set_grad_enabled(t, grad_was);
    if (!tape) ag_tape_free(t);
    free(idx);
    free(y);
    e.loss = d->n ? total / d->n : NAN;
    e.acc = d->n ? (double)e.correct / d->n : NAN;
    return e;
}

void classify_eval_free(classify_eval *e) {
    free(e->pred);
    free(e->p_pred);
    e->pred = NULL, e->p_pred = NULL;
}

/* A confusion matrix (rows: true class, columns: predicted) and per-class accuracy. */
void classify_print_confusion(const nn_dataset *d, const classify_eval *e, bool fashion) {
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
void classify_errors_png(const char *path, const nn_dataset *test, const classify_eval *e,
                         bool fashion) {
    int n_wrong = test->n - e->correct;
    if (n_wrong == 0) return;
    mistake *w = malloc(sizeof(mistake) * (size_t)n_wrong);
    int n = n_wrong < MAX_ERRORS ? n_wrong : MAX_ERRORS, k = 0;
    ag_real *x = malloc(sizeof(ag_real) * (size_t)n * test->dim);
    char(*cap)[16] = malloc(sizeof *cap * (size_t)n);
    const char **caps = malloc(sizeof *caps * (size_t)n);
    if (!w || !x || !cap || !caps) {
        fprintf(stderr, "classify: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < test->n; i++)
        if (e->pred[i] != test->y[i]) w[k++] = (mistake){i, e->p_pred[i]};
    qsort(w, (size_t)n_wrong, sizeof *w, by_confidence);
    for (int i = 0; i < n; i++) {
        int j = w[i].index;
        nn_dataset_values(test, j, x + (size_t)i * test->dim);
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
    if (nn_image_write_png(im, path, &err)) fprintf(stderr, "classify: %s\n", err.msg);
    nn_image_free(im);
    free(w), free(x), free(cap), free(caps);
}

/* curves.png: losses and error rates (1 − accuracy) share one logarithmic axis; on MNIST
 * both live between about 0.005 and 0.5, and a log scale shows the late epochs' progress. */
void classify_curves_png(const char *path, const classify_row *rows, int n, const char *arch,
                         const char *dataset) {
    double *v = malloc(sizeof(double) * 4 * (size_t)n);
    if (!v) return;
    for (int i = 0; i < n; i++) {
        v[i] = rows[i].train_loss, v[n + i] = rows[i].test_loss;
        v[2 * n + i] = rows[i].train_err, v[3 * n + i] = rows[i].test_err;
    }
    nn_series s[4] = {{"train loss", NULL, v, n}, {"test loss", NULL, v + n, n},
                      {"train error", NULL, v + 2 * n, n}, {"test error", NULL, v + 3 * n, n}};
    char title[96];
    snprintf(title, sizeof title, "%s on %s: loss (nats) and error rate", arch, dataset);
    nn_error err;
    if (nn_plot_lines_png(path, s, 4, &(nn_plot_opts){.title = title, .xlabel = "epoch",
                                                     .ylabel = "loss, error", .log_y = true},
                          &err))
        fprintf(stderr, "classify: %s\n", err.msg);
    free(v);
}

int classify_read_log(const char *path, classify_row *rows, int upto) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        double ep, tl, ta, vl, va;
        if (sscanf(line, "%lf,%lf,%lf,%lf,%lf", &ep, &tl, &ta, &vl, &va) != 5) continue;
        int i = (int)ep - 1;
        if (i < 0 || i >= upto) continue;
        rows[i] = (classify_row){tl, 1 - ta, vl, 1 - va};
        if (i + 1 > n) n = i + 1;
    }
    fclose(f);
    return n;
}

