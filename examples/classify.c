/* classify.c — train and evaluate an MNIST / Fashion-MNIST classifier: the end-to-end proof
 * that layers, optimizers, schedules, checkpoints and pictures work together, and the digit
 * scorer the GAN examples load to judge generated samples.
 *
 *   build/classify                              an MLP on MNIST, 10 epochs
 *   build/classify --arch cnn                   a small CNN
 *   build/classify --net "linear 256, relu, linear 10"
 *   build/classify --eval out/classify-mnist/classifier.ckpt
 *
 * The model is declared below (the presets) and in build(); step() is one step of
 * minibatch descent on the mean softmax cross-entropy −log softmax(l)[y].  The harness
 * (examples/common/harness.h) does the rest: flags, checkpoints, exact --resume, Ctrl-C,
 * NaN stops, log.csv; evaluation and pictures are in examples/common/classify_parts.c.
 *
 * The checkpoint rebuilds itself: its text holds "key=value" lines (program=classify
 * dataset=mnist input=1 28 28 classes=10 net=<spec text> optim=adam), its tensors are the
 * network's and the optimizer's; gan_scorer_load (vae/gan.h) loads it to score GAN samples.
 * On --resume and --eval the flags given win over the checkpoint's (but not --batch).  All
 * randomness is a function of (seed, epoch, step), which makes --resume exact. */
#include "examples/common/classify_parts.h"
#include "examples/common/harness.h"
#include "examples/common/run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The presets of --arch, sized to train in minutes on 2 cores; He init before each ReLU. */
static const char *const mlp_spec =
    "linear 512, batchnorm, relu, dropout 0.2, linear 512, batchnorm, relu, dropout 0.2, "
    "linear 10";
static const char *const cnn_spec =
    "conv 32 k5, maxpool k2, batchnorm, relu, conv 64 k5, maxpool k2, batchnorm, relu, "
    "flatten, linear 128, batchnorm, relu, dropout 0.3, linear 10";

static int check(harness *h, char *why, size_t n) {
    const classify_flags *c = &((classify_program *)h->program)->c;
    if (c->net && strchr(c->net, '\n')) { /* the checkpoint's text is one key per line */
        snprintf(why, n, "--net: write the spec on one line");
        return -1;
    }
    if (h->flags.batch >= 1 && h->flags.epochs >= 0 && c->warmup >= 0 && c->lr > 0 &&
        c->weight_decay >= 0)
        return 0;
    snprintf(why, n, "--batch must be >= 1, --epochs and --warmup >= 0, --lr > 0, "
                     "--weight-decay >= 0");
    return -1;
}

static nn_dataset *load_split(const classify_flags *c, const char *split, nn_error *err) {
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

/* The data, and the settings that follow from the flags and the checkpoint. */
static int load(harness *h) {
    classify_program *p = h->program;
    classify_flags *c = &p->c;
    static char out[4096];
    if ((h->flags.resume || h->flags.eval) && harness_given(h, "arch") && !harness_given(h, "net"))
        c->net = NULL;  /* --arch alone names a preset, which the checkpoint's net= would hide */
    p->arch = !c->net ? c->arch : !strcmp(c->net, mlp_spec) ? "mlp"
              : !strcmp(c->net, cnn_spec) ? "cnn" : "custom";
    if (!c->net) c->net = !strcmp(c->arch, "cnn") ? cnn_spec : mlp_spec;
    if (!h->flags.out) h->flags.out = (snprintf(out, sizeof out, "out/classify-%s", c->dataset), out);
    nn_error err;
    if ((!h->flags.eval && !(h->train = load_split(c, "train", &err))) ||
        !(h->test = load_split(c, "test", &err))) {
        fprintf(stderr, "classify: %s\n", err.msg);
        return 1;
    }
    snprintf(p->input, sizeof p->input, "%d %d %d", h->test->shape[0], h->test->shape[1],
             h->test->shape[2]);
    p->input_text = p->input, p->classes = N_CLASSES, p->acc_text = p->test_acc;
    snprintf(p->test_acc, sizeof p->test_acc, "%.4f", NAN); /* until a test */
    /* Batch norm cannot train on a batch of one example: drop such a last batch. */
    if (h->train) h->batching.drop_last = h->train->n % h->flags.batch == 1;
    return 0;
}

/* The model: the network from spec text, ending in 10 logits, its optimizer and schedule. */
static int build(harness *h) {
    classify_program *p = h->program;
    const classify_flags *c = &p->c;
    nn_error err;
    ag_rng init;
    ag_rng_seed(&init, run_seed(h->flags.seed, 0, 0));
    if (!(p->net = nn_net_parse(c->net, 3, h->test->shape, NULL, &init, &err))) {
        classify_spec_error(c->net, err.msg);
        return 2;
    }
    if (p->net->out_ndim != 1 || p->net->out_shape[0] != N_CLASSES) {
        char s[64];
        fprintf(stderr, "classify: --net: the network's output is %s per example; a classifier "
                        "of %d classes must end in %d logits (e.g. '..., linear %d')\n  %s\n",
                nn_shape_str(p->net->out_ndim, p->net->out_shape, s, sizeof s), N_CLASSES,
                N_CLASSES, N_CLASSES, c->net);
        return 2;
    }
    const nn_param_list *params = &p->net->params;
    if (!strcmp(c->optim, "sgd")) p->opt = nn_sgd(params, c->lr, 0.9, true);
    else if (!strcmp(c->optim, "adamw")) p->opt = nn_adamw(params, c->lr, c->weight_decay);
    else p->opt = nn_adam(params, c->lr);
    if (strcmp(c->optim, "adamw") != 0) nn_optim_set_weight_decay(p->opt, c->weight_decay);
    nn_params_extend(&p->saved, "net", params);
    nn_optim_state(p->opt, "optim", &p->saved);
    h->params = params, h->saved = &p->saved;
    if (h->flags.eval) return 0;
    int n = h->train->n, b = h->flags.batch;
    long decay = (long)h->flags.epochs * (h->batching.drop_last ? n / b : (n + b - 1) / b) - c->warmup;
    if (decay < 1) decay = 1;
    p->sched = (nn_lr_schedule){.kind = NN_LR_CONSTANT, .warmup_steps = c->warmup};
    if (!strcmp(c->schedule, "cosine"))
        p->sched.kind = NN_LR_COSINE, p->sched.total_steps = (int)decay, p->sched.min_lr = 0;
    else if (!strcmp(c->schedule, "step"))
        p->sched.kind = NN_LR_STEP, p->sched.gamma = 0.1,
        p->sched.step_size = (int)(decay / 3 > 0 ? decay / 3 : 1);
    nn_optim_set_schedule(p->opt, &p->sched);
    int start = h->flags.resume ? (int)h->meta.epoch : 0; /* the curves so far, from log.csv */
    p->rows = calloc((size_t)(h->flags.epochs > start ? h->flags.epochs : start) + 1, sizeof *p->rows);
    char log[4096];
    if (p->rows && h->flags.resume)
        p->n_rows = classify_read_log(harness_path(h, log, sizeof log, "log.csv"), p->rows, start);
    return p->rows ? 0 : 1;
}

/* One step: the dropout masks come from (seed, step). */
static harness_step step(harness *h, ag_tape *t, double *stats) {
    classify_program *p = h->program;
    nn_batch b = harness_batch(h, t);
    nn_optim_zero_grad(p->opt);
    ag_rng_seed(ag_tape_rng(t), run_seed(h->flags.seed, 2, (uint64_t)h->step));
    ag_tensor *logits = nn_forward(p->net, t, b.x, true);                    /* (B, 10) */
    ag_tensor *loss = ag_mean(t, ag_softmax_cross_entropy(t, logits, b.y));
    int correct = 0;
    for (int i = 0; i < b.size; i++)
        correct += classify_argmax(logits->data + (size_t)i * N_CLASSES, N_CLASSES) == b.y[i];
    stats[0] = ag_item(loss), stats[1] = correct;
    harness_backward(h, t, loss);               /* ag_backward (+ the sum over MPI ranks) */
    double norm = nn_optim_step(p->opt);
    ag_tape_clear(t);
    return (harness_step){stats[0], norm};
}

/* After an epoch: the test set's figures, the epoch's line and its row of log.csv. */
static void epoch_end(harness *h, const double *mean, double *row) {
    classify_program *p = h->program;
    double lr = nn_lr_at(&p->sched, p->c.lr, (int64_t)h->epoch * h->per_epoch); /* at its start */
    classify_eval_free(&p->ev);
    p->ev = classify_evaluate(p->net, h->tape, h->test); /* on the training tape's arena */
    double secs = run_seconds() - h->epoch_t0;
    p->rows[h->epoch] = (classify_row){mean[0], 1 - mean[1], p->ev.loss, 1 - p->ev.acc};
    p->n_rows = h->epoch + 1;
    printf("epoch %3d/%d  train loss %.4f acc %6.2f%%  test loss %.4f acc %6.2f%%  lr %.2e  "
           "%.1fs\n", h->epoch + 1, h->flags.epochs, mean[0], 100 * mean[1], p->ev.loss,
           100 * p->ev.acc, lr, secs);
    fflush(stdout);
    memcpy(row + 1, (double[]){mean[0], mean[1], p->ev.loss, p->ev.acc, lr, secs}, 6 * sizeof(double));
    snprintf(p->test_acc, sizeof p->test_acc, "%.4f", p->ev.acc);
}

static void pictures(harness *h) {
    classify_program *p = h->program;
    char path[4096];
    classify_errors_png(harness_path(h, path, sizeof path, "errors.png"), h->test, &p->ev,
                        !strcmp(p->c.dataset, "fashion"));
    classify_curves_png(harness_path(h, path, sizeof path, "curves.png"), p->rows, p->n_rows,
                        p->arch, p->c.dataset);
}

static void describe(harness *h) {
    classify_program *p = h->program;
    printf("henbun %s classifier: %s, %s, %s lr %g, %s schedule, %d thread%s\n", AG_REAL_NAME,
           p->c.dataset, p->arch, p->c.optim, p->c.lr, p->c.schedule, h->threads,
           h->threads == 1 ? "" : "s");
    nn_describe(p->net, "network", stdout);
}

static void result(harness *h) {
    classify_program *p = h->program;
    printf("checkpoint, log and pictures in %s/ (classifier.ckpt, log.csv, errors.png, "
           "curves.png)\n", h->flags.out);
    harness_result(h, " test_acc=%.4f test_loss=%.4f epochs=%d seconds=%.1f arch=%s dataset=%s "
                   "sec_per_epoch=%.1f", p->ev.acc, p->ev.loss, h->start_epoch + h->epochs_done,
           h->total_seconds, p->arch, p->c.dataset, h->train_seconds / h->epochs_done);
}

static int eval(harness *h) {
    classify_program *p = h->program;
    double t0 = run_seconds();
    classify_eval ev = classify_evaluate(p->net, NULL, h->test);
    double secs = run_seconds() - t0;
    classify_print_confusion(h->test, &ev, !strcmp(p->c.dataset, "fashion"));
    printf("test loss %.4f, accuracy %.2f%% (%d of %d), after %d epochs of training\n",
           ev.loss, 100 * ev.acc, ev.correct, ev.n, h->start_epoch);
    harness_result(h, " test_acc=%.4f test_loss=%.4f epochs=%d seconds=%.1f arch=%s dataset=%s",
                   ev.acc, ev.loss, h->start_epoch, secs, p->arch, p->c.dataset);
    classify_eval_free(&ev);
    return 0;
}

static void release(harness *h) {
    classify_program *p = h->program;
    classify_eval_free(&p->ev);
    free(p->rows);
    nn_params_free(&p->saved);
    nn_optim_free(p->opt);
    nn_net_free(p->net);
}

/* --export's metadata: the network's spec text and what it reads and answers. */
static const char *const *export_meta(harness *h) {
    classify_program *p = h->program;
    static const char *meta[12];
    const char *m[] = {"model", "classify", "net", p->c.net, "arch", p->arch,
                       "dataset", p->c.dataset, "classes", "10", NULL};
    memcpy(meta, m, sizeof m);
    return meta;
}

static const char *const columns[] = {"epoch", "train_loss", "train_acc", "test_loss",
                                      "test_acc", "lr", "seconds"};
static const char *const may_change[] = {"dataset", "net", "optim", "lr", "schedule", "warmup",
                                         "weight_decay", "epochs", "seed", NULL};

int main(int argc, char **argv) {
    static classify_program p = {.c = {.dataset = "mnist", .data_dir = "data", .arch = "mlp",
        .optim = "adam", .schedule = "cosine", .lr = 1e-3}};
    static harness h = {.name = "classify", .ckpt_name = "classifier.ckpt", .program = &p,
        .flags = {.epochs = 10, .batch = 128, .seed = 1, .pictures_every = 1},
        .may_change = may_change, .columns = columns, .n_columns = 7,
        .stats = {"loss", "acc"}, .n_stats = 2, .n_bar = 2, .counts = 1u << 1,
        .check = check, .load = load, .build = build, .train_step = step, .epoch_end = epoch_end,
        .describe = describe, .pictures = pictures, .result = result, .eval = eval,
        .captions = classify_captions, .export_meta = export_meta,
        .release = release};
    h.cli = &(cli_program){"classify", "Train a classifier on MNIST or Fashion-MNIST, or "
                                       "evaluate a saved one.", classify_help_epilog};
    h.opts = classify_options(&p.c, &h.flags);
    h.remembered = classify_settings(&p, &h.flags);
    return harness_main(&h, argc, argv);
}
