/* moons.c — a new training program on the harness (docs/write-a-program.md): a small MLP
 * learns to tell the two interleaved half-moons apart.  The file declares the model, makes
 * its data and writes out its training step; flags, checkpoints, exact --resume, Ctrl-C,
 * NaN stops, log.csv and the result line come from examples/common/harness.h.
 *
 *   build/docs/moons --epochs 20 --out out/moons
 *   build/docs/moons --resume out/moons/moons.ckpt --epochs 40
 *
 * One file to build (as tests/run.sh builds every program under docs/examples): the harness's sources
 * are compiled in here; a program in examples/ links them instead (see the Makefile). */
#include "examples/common/run.c" /* first: it asks for the GNU extensions it needs */
#include "examples/common/cli.c"
#include "examples/common/harness.c"
#include "examples/common/settings.c"

#include <math.h>

typedef struct moons {
    int hidden, n;
    double lr;
    nn_net *net;
    nn_optim *opt;
    nn_param_list saved; /* the checkpoint: the net and Adam's moments */
} moons;

/* n points, half on each moon (label 0: the upper arc, 1: the lower one, shifted), with
 * Gaussian noise of 0.1: the same points for the same seed. */
static nn_dataset *make_moons(int n, uint64_t seed) {
    nn_dataset *d = nn_dataset_new(n, 1, (int[]){2}, true);
    ag_rng rng;
    ag_rng_seed(&rng, seed);
    for (int i = 0; i < n; i++) {
        int k = i % 2;
        double a = M_PI * ag_rng_uniform(&rng);
        ag_real *x = nn_dataset_example(d, i);
        x[0] = (ag_real)(k ? 1 - cos(a) : cos(a)) + (ag_real)(0.1 * ag_rng_normal(&rng));
        x[1] = (ag_real)(k ? 0.5 - sin(a) : sin(a)) + (ag_real)(0.1 * ag_rng_normal(&rng));
        d->y[i] = k;
    }
    nn_dataset_update_classes(d);
    return d;
}

static int load(harness *h) {
    moons *p = h->program;
    h->train = make_moons(p->n, run_seed(h->flags.seed, 10, 0));
    h->test = make_moons(p->n, run_seed(h->flags.seed, 11, 0));
    return 0;
}

/* The model: 2 inputs -> two hidden layers -> 2 logits, and Adam. */
static int build(harness *h) {
    moons *p = h->program;
    char spec[128];
    snprintf(spec, sizeof spec, "linear %d, tanh, linear %d, tanh, linear 2", p->hidden, p->hidden);
    ag_rng init;
    ag_rng_seed(&init, run_seed(h->flags.seed, 0, 0));
    nn_error err;
    if (!(p->net = nn_net_parse(spec, 1, (int[]){2}, NULL, &init, &err))) {
        fprintf(stderr, "moons: %s\n", err.msg);
        return 2;
    }
    p->opt = nn_adam(&p->net->params, p->lr);
    nn_params_extend(&p->saved, "net", &p->net->params);
    nn_optim_state(p->opt, "optim", &p->saved);
    h->params = &p->net->params, h->saved = &p->saved;
    return 0;
}

/* The training step: forward, loss, backward, optimizer step, tape cleared. */
static harness_step step(harness *h, ag_tape *t, double *stats) {
    moons *p = h->program;
    nn_batch b = harness_batch(h, t);
    nn_optim_zero_grad(p->opt);
    ag_tensor *logits = nn_forward(p->net, t, b.x, true);                     /* (B, 2) */
    ag_tensor *loss = ag_mean(t, ag_softmax_cross_entropy(t, logits, b.y));
    stats[0] = ag_item(loss);
    harness_backward(h, t, loss);  /* ag_backward; under mpirun, + the sum over the ranks */
    double norm = nn_optim_step(p->opt);
    ag_tape_clear(t);
    return (harness_step){stats[0], norm};
}

/* The test set's accuracy after each epoch: its line and its row of log.csv. */
static double test_acc(moons *p, const nn_dataset *d) {
    ag_tape *t = ag_tape_new(0);
    ag_set_grad_enabled(t, false);
    int idx[1024], y[1024], n = d->n < 1024 ? d->n : 1024, right = 0;
    for (int i = 0; i < n; i++) idx[i] = i;
    ag_tensor *l = nn_forward(p->net, t, nn_dataset_batch(d, t, idx, n, false, y), false);
    for (int i = 0; i < n; i++) right += (l->data[2 * i + 1] > l->data[2 * i]) == y[i];
    ag_tape_free(t);
    return (double)right / n;
}

static void epoch_end(harness *h, const double *mean, double *row) {
    double acc = test_acc(h->program, h->test);
    printf("epoch %d/%d  train loss %.4f  test accuracy %.3f\n", h->epoch + 1, h->n_epochs,
           mean[0], acc);
    row[1] = mean[0], row[2] = acc;
}

static void result(harness *h) {
    printf("result: test_acc=%.3f epochs=%d\n", test_acc(h->program, h->test),
           h->start_epoch + h->epochs_done);
}

static int eval(harness *h) {
    result(h);
    return 0;
}

static void release(harness *h) {
    moons *p = h->program;
    nn_params_free(&p->saved);
    nn_optim_free(p->opt);
    nn_net_free(p->net);
}

static int check(harness *h, char *why, size_t n) {
    moons *p = h->program;
    if (p->hidden >= 1 && p->n >= 2 && p->n <= 1024 && p->lr > 0 && h->flags.batch >= 1 &&
        h->flags.epochs >= 0)
        return 0;
    snprintf(why, n, "--hidden, --batch >= 1, --epochs >= 0, 2 <= --n <= 1024, --lr > 0");
    return -1;
}

static const char *const columns[] = {"epoch", "train_loss", "test_acc"}; /* log.csv */

int main(int argc, char **argv) {
    static moons p = {.hidden = 16, .n = 512, .lr = 0.01};
    static harness h = {.name = "moons", .ckpt_name = "moons.ckpt", .program = &p,
        .flags = {.epochs = 5, .batch = 32, .seed = 1, .threads = 1, .out = "out/moons"},
        .columns = columns, .n_columns = 3,
        .stats = {"loss"}, .n_stats = 1, .n_bar = 1, .check = check, .load = load,
        .build = build, .train_step = step, .epoch_end = epoch_end, .result = result,
        .eval = eval, .release = release};
    cli_opt opts[] = {
        {"hidden", CLI_INT, &p.hidden, "H", "units per hidden layer"},
        {"n", CLI_INT, &p.n, "N", "points in the training and the test set"},
        {"epochs", CLI_INT, &h.flags.epochs, "N", "train until this many epochs are done"},
        {"batch", CLI_INT, &h.flags.batch, "N", "minibatch size"},
        {"lr", CLI_REAL, &p.lr, "LR", "Adam learning rate"},
        {"seed", CLI_U64, &h.flags.seed, "S", "seed of every random choice"},
        {"threads", CLI_INT, &h.flags.threads, "N", "OpenMP threads (0: all cores)"},
        {"out", CLI_STRING, &h.flags.out, "DIR", "moons.ckpt and log.csv go here"},
        {"resume", CLI_STRING, &h.flags.resume, "CKPT", "continue a run from its checkpoint"},
        {"eval", CLI_STRING, &h.flags.eval, "CKPT", "evaluate a saved model and exit"},
        {"quiet", CLI_FLAG, &h.flags.quiet, NULL, "no progress bar"},
        {"fp-trap", CLI_FLAG, &h.flags.fp_trap, NULL, "die at the first NaN or inf made"},
        {0}};
    /* What a checkpoint keeps of the settings: --resume and --eval rebuild the model. */
    const setting remembered[] = {{"hidden", SET_INT, &p.hidden}, {"n", SET_INT, &p.n},
                                  {"lr", SET_DOUBLE, &p.lr},      {"batch", SET_INT, &h.flags.batch},
                                  {"seed", SET_U64, &h.flags.seed}, {0}};
    h.cli = &(cli_program){"moons", "Tell two half-moons apart with a small MLP.", NULL};
    h.opts = opts, h.remembered = remembered;
    return harness_main(&h, argc, argv);
}
