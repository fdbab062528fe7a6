/* layers_specs.c — chapter 3 of the tour (docs/03-layers-and-specs.md): a network as data.
 * The same network from a spec array and from spec text, its parameters by name, a spec
 * error, and a short training run with Adam on XOR-like points.  Exits 0 when every check
 * passes. */
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int failures;
static void expect(bool ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    failures += !ok;
}

/* n points in [-1, 1]², labelled 1 when x·y > 0 (XOR of the signs): not linearly separable. */
static void make_points(ag_rng *r, ag_real *xy, int *label, int n) {
    for (int i = 0; i < n; i++) {
        double a = 2 * ag_rng_uniform(r) - 1, b = 2 * ag_rng_uniform(r) - 1;
        xy[2 * i] = (ag_real)a, xy[2 * i + 1] = (ag_real)b;
        label[i] = a * b > 0;
    }
}

int main(void) {
    ag_set_num_threads(1); /* tensors this small are fastest on one thread */
    /* ---- 1. one network, two spellings ---------------------------------------------------- */
    static const nn_spec mlp[] = {NN_LINEAR(16), NN_TANH, NN_LINEAR(16), NN_TANH, NN_LINEAR(2),
                                  NN_END};
    const char *text = "linear 16, tanh, linear 16, tanh, linear 2";
    ag_rng r1, r2;
    ag_rng_seed(&r1, 11);
    ag_rng_seed(&r2, 11);
    nn_error err;
    nn_net *net = nn_net_new(mlp, 1, (int[]){2}, &r1, &err);            /* input: (2) */
    nn_net *twin = nn_net_parse(text, 1, (int[]){2}, NULL, &r2, &err);
    if (!net || !twin) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    nn_describe(net, text, stdout);
    bool same = net->params.n == twin->params.n;
    for (int i = 0; same && i < net->params.n; i++) {
        const ag_tensor *a = net->params.items[i].value, *b = twin->params.items[i].value;
        same = strcmp(net->params.items[i].name, twin->params.items[i].name) == 0 &&
               a->size == b->size && memcmp(a->data, b->data, a->size * sizeof(ag_real)) == 0;
    }
    expect(same, "array and text build the same network (same names, same initial values)");
    for (int i = 0; i < net->params.n; i++)   /* "<layer index>.<type>.<name>" */
        printf("  %-18s %zu values\n", net->params.items[i].name, net->params.items[i].value->size);
    expect(nn_params_count(&net->params) == 2 * 16 + 16 + 16 * 16 + 16 + 16 * 2 + 2,
           "parameter count: 354");
    nn_net_free(twin);

    /* ---- 2. text is checked, and errors say where ------------------------------------------- */
    ag_rng r3;
    ag_rng_seed(&r3, 1);
    nn_net *bad = nn_net_parse("linear 16, tanh, lineer 2", 1, (int[]){2}, NULL, &r3, &err);
    printf("expected error: %s\n", bad ? "(none)" : err.msg);
    expect(!bad && strncmp(err.msg, "spec:18: unknown layer 'lineer'", 31) == 0,
           "a misspelt layer is reported with its column");

    /* ---- 3. training: forward, loss, backward, optimizer step, clear ------------------------- */
    enum { N = 512, BATCH = 64, STEPS = 600 };
    static ag_real xy[2 * N];
    static int label[N];
    ag_rng data_rng;
    ag_rng_seed(&data_rng, 2);
    make_points(&data_rng, xy, label, N);
    ag_tape *t = ag_tape_new(3);
    nn_optim *opt = nn_adam(&net->params, 1e-2);
    double first = 0, last = 0;
    for (int step = 0; step < STEPS; step++) {
        int start = (step * BATCH) % N;
        ag_tensor *x = ag_from_data(t, 2, (int[]){BATCH, 2}, xy + 2 * start);   /* (64, 2) */
        ag_tensor *logits = nn_forward(net, t, x, true);                         /* (64, 2) */
        ag_tensor *loss = ag_mean(t, ag_softmax_cross_entropy(t, logits, label + start));
        if (step == 0) first = ag_item(loss);
        last = ag_item(loss);
        ag_backward(t, loss);      /* every parameter's ->grad += d loss / d parameter */
        nn_optim_step(opt);        /* Adam: w -= lr · m̂ / (√v̂ + eps) */
        nn_optim_zero_grad(opt);   /* gradients accumulate: zero them for the next step */
        ag_tape_clear(t);          /* the step's intermediates, freed at once */
    }
    /* accuracy on fresh points, in evaluation mode and without recording a tape */
    static ag_real test_xy[2 * N];
    static int test_label[N];
    make_points(&data_rng, test_xy, test_label, N);
    ag_set_grad_enabled(t, false);
    ag_tensor *logits = nn_forward(net, t, ag_from_data(t, 2, (int[]){N, 2}, test_xy), false);
    int correct = 0;
    for (int i = 0; i < N; i++)
        correct += (logits->data[2 * i + 1] > logits->data[2 * i]) == test_label[i];
    printf("cross-entropy %.3f -> %.3f after %d Adam steps, test accuracy %.1f%%\n", first, last,
           STEPS, 100.0 * correct / N);
    expect(last < 0.5 * first, "training halves the loss at least");
    expect(correct > 0.9 * N, "more than 90% of fresh points classified right");

    ag_tape_free(t);
    nn_optim_free(opt);
    nn_net_free(net);
    printf("%s\n", failures ? "some checks FAILED" : "all checks passed");
    return failures != 0;
}
