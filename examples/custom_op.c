/* custom_op.c — how to add your own operation to henbun: the tutorial, as a program.
 *
 * We add swish with a learnable slope,  y = x · σ(βx)  (Ramachandran et al., 2017), an
 * activation henbun does not have.  It takes two inputs, x of any shape and β of shape
 * (1), so it shows everything an op can do: several inputs, saved intermediate values,
 * and a gradient that sums over elements (β is shared by all of them).
 *
 * The program then (1) checks the op's backward against finite differences with
 * ag_gradcheck, exactly as henbun's own tests check the built-in ops, and (2) trains a
 * small regression MLP that uses it, with β learned alongside the weights.
 *
 *   build/custom_op                 # gradcheck, then 500 training steps
 *   build/custom_op --steps 2000 --hidden 64
 *
 * The last line reads "result: key=value ...".  Nothing here is private API: a built-in
 * op is written in exactly this way (see autograd/ops_unary.c). */
#include "autograd/autograd.h"
#include "examples/common/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---------------------------------------------------------------------------------------
 * Step 1: the forward.  ag_apply has already made the output tensor (n->out, of the shape
 * the constructor asked for) and put the inputs in n->in[]; forward fills n->out->data.
 *
 * Anything backward will need can be kept in n->saved: memory from ag_tape_alloc lives
 * until ag_tape_clear, exactly as long as the node.  Here we keep s = σ(βx), which both
 * derivatives use.  (Recomputing it in backward would also be fine — a trade of memory
 * for time.) */
static void swish_forward(ag_node *n) {
    const ag_tensor *x = n->in[0];
    ag_real beta = n->in[1]->data[0];
    ag_real *s = n->saved = ag_tape_alloc(n->tape, x->size * sizeof(ag_real));
    for (size_t i = 0; i < x->size; i++) {
        double bx = (double)beta * x->data[i];
        /* σ written so that exp never overflows, whatever the sign of βx */
        double sig = bx >= 0 ? 1 / (1 + exp(-bx)) : exp(bx) / (1 + exp(bx));
        s[i] = (ag_real)sig;
        n->out->data[i] = x->data[i] * s[i];                       /* y = x σ(βx) */
    }
}

/* ---------------------------------------------------------------------------------------
 * Step 2: the backward.  The tape calls it with n->out->grad holding dL/dy.  For each
 * input, ag_node_grad(n, i) returns the buffer dL/d(input i) — or NULL when that input
 * needs no gradient (a constant, or grad mode off), which we must respect.
 *
 * The one rule: ADD into that buffer (+=), never assign.  An input used by several ops
 * receives one contribution from each, and gradients of parameters accumulate across
 * backward calls until ag_zero_grad.
 *
 * The derivatives, with s = σ(βx) and σ' = σ(1 - σ):
 *   dy/dx = s + βx·s(1 - s)
 *   dy/dβ = x²·s(1 - s)        — summed over every element, since β is shared. */
static void swish_backward(ag_node *n) {
    const ag_tensor *x = n->in[0];
    const ag_real *s = n->saved, *dy = n->out->grad;
    ag_real beta = n->in[1]->data[0];
    ag_real *dx = ag_node_grad(n, 0), *dbeta = ag_node_grad(n, 1);
    double sum = 0;
    for (size_t i = 0; i < x->size; i++) {
        ag_real v = x->data[i], ds = s[i] * (1 - s[i]);            /* σ'(βx) */
        if (dx) dx[i] += dy[i] * (s[i] + beta * v * ds);           /* s + βx s(1-s) */
        if (dbeta) sum += (double)dy[i] * v * v * ds;              /* x² s(1-s) */
    }
    /* Sum first, add once: then every backward adds exactly the same number, which
     * ag_gradcheck verifies ("accumulates"). */
    if (dbeta) dbeta[0] += (ag_real)sum;
}

/* ---------------------------------------------------------------------------------------
 * Step 3: register the pair under a name (used in error messages, ag_tape_print and the
 * Graphviz dump), and write the constructor users call.  The constructor checks shapes —
 * reporting misuse through ag_error with the op's name and the shapes — decides the output
 * shape, and hands over to ag_apply, which runs forward and records a node on the tape
 * when some input requires grad.  Small per-call constants (a stride, a slope) would go
 * in the attr argument and be read back with AG_ATTR(n, type). */
static const ag_op swish_op = {"swish", swish_forward, swish_backward};

static ag_tensor *swish(ag_tape *t, ag_tensor *x, ag_tensor *beta) {
    if (beta->size != 1) {
        char b[64];
        ag_error("swish", "beta must have one element, got shape %s",
                 ag_shape_str(beta, b, sizeof b));
    }
    return ag_apply(t, &swish_op, (ag_tensor *[]){x, beta}, 2, x->ndim, x->shape, NULL, 0);
}

/* ---------------------------------------------------------------------------------------
 * Step 4: gradient-check it.  ag_gradcheck takes a function that builds a tensor from
 * inputs on a tape, perturbs every element of every input that requires grad by ±h, and
 * compares (f(x+h) - f(x-h)) / 2h with what backward says.  The inputs are heap tensors
 * (ag_tensor_new with requires_grad) so they outlive the checker's tape.  In the float
 * build the finite differences are noisy, so the default tolerances are looser there. */
static ag_tensor *swish_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    return swish(t, in[0], in[1]);
}

static bool check_gradients(uint64_t seed, ag_gradcheck_report *rep) {
    ag_rng r;
    ag_rng_seed(&r, seed);
    ag_tensor *x = ag_tensor_new(2, (int[]){4, 5}, true), *beta = ag_tensor_new(1, (int[]){1}, true);
    x->name = "x";
    beta->name = "beta";
    ag_fill_randn(&r, x, 1.5f);
    beta->data[0] = 0.8f;
    *rep = ag_gradcheck(swish_fn, (ag_tensor *[]){x, beta}, 2, NULL, NULL);
    ag_gradcheck_print("swish(x, beta)", rep, stdout);
    ag_tensor_free(x);
    ag_tensor_free(beta);
    return rep->ok;
}

/* ---------------------------------------------------------------------------------------
 * Step 5: use it like any built-in op.  A 1 → H → 1 MLP with the swish in the middle fits
 * f(x) = sin(3x) + 0.3x on [-1, 1] by mean squared error; plain momentum SGD, written
 * here so nothing is hidden. */
static double target(double x) { return sin(3 * x) + 0.3 * x; }

int main(int argc, char **argv) {
    int steps = 500, hidden = 32, print_every = 50, n_points = 128;
    double lr = 0.05, momentum = 0.9;
    uint64_t seed = 1;
    cli_opt opts[] = {
        {"steps", CLI_INT, &steps, "N", "training steps"},
        {"hidden", CLI_INT, &hidden, "H", "hidden units"},
        {"points", CLI_INT, &n_points, "N", "training points on [-1, 1]"},
        {"lr", CLI_REAL, &lr, "RATE", "learning rate"},
        {"momentum", CLI_REAL, &momentum, "M", "momentum of SGD"},
        {"seed", CLI_U64, &seed, "S", "seed of the initialisation"},
        {"print-every", CLI_INT, &print_every, "N", "print the loss every N steps (0: never)"},
        {0}};
    cli_program prog = {"custom_op",
                        "define an op (swish with a learnable beta) through the public op API, "
                        "gradcheck it, train with it",
                        "Read the source: it is the tutorial for extending henbun.\n"
                        "Output: a gradcheck report line, the loss every N steps, and\n"
                        "  result: precision=... gradcheck_rel_err=... gradcheck=ok|FAIL "
                        "initial_loss=... final_loss=... beta=... steps=...\n"
                        "Exit status 1 if the gradient check fails."};
    int rc = cli_parse(argc, argv, &prog, opts);
    if (rc) return rc < 0 ? 2 : 0;
    if (steps < 0 || hidden < 1 || n_points < 1 || print_every < 0 || !(lr > 0) ||
        !(momentum >= 0 && momentum < 1)) {
        fprintf(stderr, "custom_op: need --steps >= 0, --hidden >= 1, --points >= 1, "
                        "--print-every >= 0, --lr > 0 and 0 <= --momentum < 1\n");
        return 2;
    }

    printf("precision: %s\n", AG_REAL_NAME);
    ag_gradcheck_report rep;
    bool grad_ok = check_gradients(seed, &rep);

    /* Training data: n_points evenly spaced inputs, column vectors (N, 1). */
    ag_real *xs = malloc(sizeof(ag_real) * (size_t)n_points);
    ag_real *ys = malloc(sizeof(ag_real) * (size_t)n_points);
    if (!xs || !ys) { fprintf(stderr, "custom_op: out of memory\n"); return 1; }
    for (int i = 0; i < n_points; i++) {
        double x = n_points > 1 ? -1 + 2.0 * i / (n_points - 1) : 0;
        xs[i] = (ag_real)x;
        ys[i] = (ag_real)target(x);
    }

    /* Parameters live outside the tape: ag_param gives a zeroed tensor with a gradient. */
    ag_rng r;
    ag_rng_seed(&r, seed);
    ag_tensor *w1 = ag_param(2, (int[]){hidden, 1}), *b1 = ag_param(1, (int[]){hidden});
    ag_tensor *w2 = ag_param(2, (int[]){1, hidden}), *b2 = ag_param(1, (int[]){1});
    ag_tensor *beta = ag_param(1, (int[]){1});
    w1->name = "w1", b1->name = "b1", w2->name = "w2", b2->name = "b2", beta->name = "beta";
    ag_fill_randn(&r, w1, 2.0f);                         /* wide first layer: varied slopes */
    ag_fill_uniform(&r, b1, -1, 1);
    ag_fill_randn(&r, w2, (ag_real)(1 / sqrt(hidden)));
    beta->data[0] = 1;                                   /* swish-1 = SiLU to start with */
    ag_tensor *params[] = {w1, b1, w2, b2, beta};
    enum { N_PARAMS = 5 };
    ag_tensor *vel[N_PARAMS];
    for (int k = 0; k < N_PARAMS; k++)
        vel[k] = ag_tensor_new(params[k]->ndim, params[k]->shape, false);

    ag_tape *t = ag_tape_new(seed);
    double initial = 0, loss_value = 0;
    for (int step = 0; step <= steps; step++) {
        ag_tensor *x = ag_from_data(t, 2, (int[]){n_points, 1}, xs);
        ag_tensor *y = ag_from_data(t, 2, (int[]){n_points, 1}, ys);
        ag_tensor *h = swish(t, ag_linear(t, x, w1, b1), beta);  /* our op, among built-ins */
        ag_tensor *loss = ag_mean(t, ag_mse(t, ag_linear(t, h, w2, b2), y));
        loss_value = (double)ag_item(loss);
        if (step == 0) initial = loss_value;
        if (print_every && (step % print_every == 0 || step == steps))
            printf("step %5d  loss %.6f  beta %.4f\n", step, loss_value, (double)beta->data[0]);
        if (step == steps) break;                        /* the last pass only measures */
        ag_backward(t, loss);                            /* fills w1->grad, ..., beta->grad */
        for (int k = 0; k < N_PARAMS; k++) {             /* v = m v + g;  p -= lr v */
            ag_tensor *p = params[k];
            for (size_t i = 0; i < p->size; i++) {
                vel[k]->data[i] = (ag_real)momentum * vel[k]->data[i] + p->grad[i];
                p->data[i] -= (ag_real)lr * vel[k]->data[i];
            }
            ag_zero_grad(p);
        }
        ag_tape_clear(t);                                /* every intermediate freed at once */
    }
    bool finite = isfinite(loss_value);
    printf("result: precision=%s gradcheck_rel_err=%.2e gradcheck=%s initial_loss=%.4g "
           "final_loss=%.4g beta=%.4f steps=%d\n",
           AG_REAL_NAME, rep.max_rel_err, grad_ok ? "ok" : "FAIL", initial, loss_value,
           (double)beta->data[0], steps);

    ag_tape_free(t);
    for (int k = 0; k < N_PARAMS; k++) ag_tensor_free(params[k]), ag_tensor_free(vel[k]);
    free(xs);
    free(ys);
    if (!finite) fprintf(stderr, "custom_op: the loss diverged; try a smaller --lr\n");
    return grad_ok && finite ? 0 : 1;
}
