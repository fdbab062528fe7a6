/* gradcheck_report.c — chapter 2 of the tour (docs/02-ops-and-gradcheck.md): an op written
 * through the public op API, and what ag_gradcheck says about it — once when it is right,
 * and twice when it is wrong in the two ways backward usually goes wrong.
 *
 * The op is y = ln cosh x, whose derivative is tanh x.  Three backwards are registered:
 *   logcosh        dx += dy · tanh x          correct
 *   logcosh_sech2  dx += dy · (1 − tanh² x)   the derivative of tanh, not of ln cosh
 *   logcosh_assign dx  = dy · tanh x          right value, but assigned instead of added
 * The program exits 0 when gradcheck passes the first and fails the other two. */
#include "autograd/autograd.h"

#include <math.h>
#include <stdio.h>

/* ---- forward: ln cosh x = |x| + ln(1 + e^{−2|x|}) − ln 2, which never overflows ---------- */
static void logcosh_fwd(ag_node *n) {
    const ag_real *x = n->in[0]->data;
    ag_real *y = n->out->data;
    for (size_t i = 0; i < n->out->size; i++) {
        double a = fabs((double)x[i]);
        y[i] = (ag_real)(a + log1p(exp(-2 * a)) - 0.6931471805599453);
    }
}

/* ---- backward: d ln cosh x / dx = tanh x; ADD into the input's gradient ------------------ */
static void logcosh_bwd(ag_node *n) {
    ag_real *dx = ag_node_grad(n, 0);          /* NULL when x needs no gradient */
    if (!dx) return;
    const ag_real *x = n->in[0]->data, *dy = n->out->grad;
    for (size_t i = 0; i < n->out->size; i++) dx[i] += dy[i] * (ag_real)tanh((double)x[i]);
}

/* ---- the two deliberate mistakes ---------------------------------------------------------- */
static void logcosh_sech2_bwd(ag_node *n) {    /* wrong derivative */
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    const ag_real *x = n->in[0]->data, *dy = n->out->grad;
    for (size_t i = 0; i < n->out->size; i++) {
        double th = tanh((double)x[i]);
        dx[i] += dy[i] * (ag_real)(1 - th * th);
    }
}
static void logcosh_assign_bwd(ag_node *n) {   /* = instead of += */
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    const ag_real *x = n->in[0]->data, *dy = n->out->grad;
    for (size_t i = 0; i < n->out->size; i++) dx[i] = dy[i] * (ag_real)tanh((double)x[i]);
}

/* ---- registration and constructor: the same forward under three names ---------------------- */
static const ag_op ops[3] = {{"logcosh", logcosh_fwd, logcosh_bwd},
                             {"logcosh_sech2", logcosh_fwd, logcosh_sech2_bwd},
                             {"logcosh_assign", logcosh_fwd, logcosh_assign_bwd}};

static ag_tensor *logcosh(ag_tape *t, const ag_op *op, ag_tensor *x) {
    return ag_apply(t, op, &x, 1, x->ndim, x->shape, NULL, 0);  /* output: x's shape */
}

/* ag_gradcheck's view of the op: inputs in, a tensor out (any shape). */
static ag_tensor *check_fn(ag_tape *t, ag_tensor **in, void *ctx) {
    return logcosh(t, ctx, in[0]);
}

int main(void) {
    ag_set_num_threads(1); /* tensors this small are fastest on one thread */
    ag_rng r;
    ag_rng_seed(&r, 3);
    ag_tensor *x = ag_tensor_new(2, (int[]){3, 4}, true);     /* heap: outlives the checker */
    x->name = "x";
    ag_fill_randn(&r, x, 1.5f);

    ag_gradcheck_report rep[3];
    for (int k = 0; k < 3; k++) {
        rep[k] = ag_gradcheck(check_fn, &x, 1, (void *)&ops[k], NULL);
        ag_gradcheck_print(ops[k].name, &rep[k], stdout);
    }
    int failures = 0;
    failures += !rep[0].ok;                                    /* the right op passes */
    failures += rep[1].ok || !rep[1].accumulates;              /* a value mismatch */
    failures += rep[2].ok || rep[2].accumulates || rep[2].max_rel_err > 1e-2; /* only += */

    ag_tensor_free(x);
    printf("%s\n", failures ? "gradcheck did not see what it should have" : "all checks passed");
    return failures != 0;
}
