/* gradcheck.c — compares an op's backward with central finite differences.
 *
 * The function under test may return any shape: a non-scalar output y is checked through
 * the scalar s = Σ r·y with a fixed random r (so every output element takes part), i.e.
 * we compare the vector–Jacobian product rᵀJ from backward with (s(x+h) - s(x-h)) / 2h.
 * Before every evaluation the tape's PRNG is reseeded, so ops that draw noise
 * (dropout, reparameterization) see the same noise each time. */
#include "autograd/autograd.h"
#include "autograd/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef AG_DOUBLE
#define AG_REAL_EPS 2.220446049250313e-16
#else
#define AG_REAL_EPS 1.1920929e-07
#endif

typedef struct {
    ag_fn f;
    ag_tensor **inputs;
    void *ctx;
    uint64_t seed;
    ag_tensor *proj; /* r, on the heap, made at the first evaluation */
} gc_state;

/* Runs f on a fresh tape state and returns s = Σ r·y in double. */
static double evaluate(ag_tape *t, gc_state *g, ag_tensor **y_out) {
    ag_tape_clear(t);
    ag_rng_seed(ag_tape_rng(t), g->seed);
    ag_tensor *y = g->f(t, g->inputs, g->ctx);
    if (!g->proj) {
        g->proj = ag_tensor_new(y->ndim, y->shape, false);
        ag_rng r;
        ag_rng_seed(&r, g->seed ^ 0x5eedULL);
        /* Away from 0 so no output is silently ignored. */
        for (size_t i = 0; i < y->size; i++)
            g->proj->data[i] = (ag_real)((ag_rng_uniform(&r) < 0.5 ? -1 : 1) *
                                         (0.5 + ag_rng_uniform(&r)));
        if (y->size == 1) g->proj->data[0] = 1;
    } else if (!ag_same_shape(y, g->proj)) {
        ag_error("gradcheck", "the function returned a different shape on a later call");
    }
    double s = 0;
    for (size_t i = 0; i < y->size; i++) s += (double)g->proj->data[i] * (double)y->data[i];
    if (y_out) *y_out = y;
    return s;
}

ag_gradcheck_report ag_gradcheck(ag_fn f, ag_tensor **inputs, int n_inputs, void *ctx,
                                 const ag_gradcheck_opts *opts) {
#ifdef AG_DOUBLE
    ag_gradcheck_opts o = {.eps = 1e-6, .rtol = 1e-6, .atol = 1e-9, .seed = 1234};
#else
    ag_gradcheck_opts o = {.eps = 1e-2, .rtol = 2e-2, .atol = 1e-3, .seed = 1234};
#endif
    if (opts) {
        if (opts->eps > 0) o.eps = opts->eps;
        if (opts->rtol > 0) o.rtol = opts->rtol;
        if (opts->atol > 0) o.atol = opts->atol;
        if (opts->seed) o.seed = opts->seed;
    }
    ag_gradcheck_report rep = {.ok = true, .accumulates = true, .input = -1};
    gc_state g = {.f = f, .inputs = inputs, .ctx = ctx, .seed = o.seed};
    ag_tape *t = ag_tape_new(o.seed);

    /* Analytic gradients, twice: the second backward must add exactly the same again. */
    double **first = calloc((size_t)n_inputs, sizeof *first);
    for (int k = 0; k < n_inputs; k++) {
        ag_tensor *x = inputs[k];
        if (!x->requires_grad) continue;
        if (x->owns_memory) ag_zero_grad(x);
        else x->grad = NULL; /* arena leaves get a fresh buffer from backward */
    }
    ag_tensor *y;
    evaluate(t, &g, &y);
    ag_backward_seed(t, y, y->size == 1 ? NULL : g.proj);
    for (int k = 0; k < n_inputs; k++) {
        ag_tensor *x = inputs[k];
        if (!x->requires_grad) continue;
        first[k] = malloc(x->size * sizeof(double));
        for (size_t i = 0; i < x->size; i++) first[k][i] = x->grad ? x->grad[i] : 0;
    }
    /* Same tape contents, second sweep: leaves accumulate. */
    ag_backward_seed(t, y, y->size == 1 ? NULL : g.proj);
    for (int k = 0; k < n_inputs; k++) {
        ag_tensor *x = inputs[k];
        if (!x->requires_grad || !x->grad) continue;
        /* Exactly twice for a leaf fed by one op; a leaf used by several ops sums its
         * contributions onto a non-zero start the second time, which may round
         * differently, so allow a few units in the last place. */
        for (size_t i = 0; i < x->size; i++) {
            double want = 2 * first[k][i], got = x->grad[i];
            if (fabs(got - want) > 8 * AG_REAL_EPS * fabs(want) + 1e-3 * o.atol)
                rep.accumulates = false;
        }
    }
    /* Keep the gradients of arena leaves from disappearing with the next clear. */
    for (int k = 0; k < n_inputs; k++)
        if (inputs[k]->requires_grad && !inputs[k]->owns_memory) inputs[k]->grad = NULL;

    /* Numeric gradients, grad mode off (nothing recorded). */
    ag_set_grad_enabled(t, false);
    double worst = -1;
    for (int k = 0; k < n_inputs; k++) {
        ag_tensor *x = inputs[k];
        if (!x->requires_grad) continue;
        for (size_t i = 0; i < x->size; i++) {
            ag_real keep = x->data[i];
            x->data[i] = (ag_real)(keep + o.eps);
            double hi = (double)x->data[i], fp = evaluate(t, &g, NULL);
            x->data[i] = (ag_real)(keep - o.eps);
            double lo = (double)x->data[i], fm = evaluate(t, &g, NULL);
            x->data[i] = keep;
            rep.evaluations += 2;
            double num = (fp - fm) / (hi - lo), ana = first[k][i];
            double abs_err = fabs(num - ana), scale = fmax(fabs(num), fabs(ana));
            double badness = abs_err / (o.atol + o.rtol * scale);
            if (badness > 1) rep.ok = false;
            if (badness > worst) {
                worst = badness;
                rep.input = k;
                rep.index = i;
                rep.analytic = ana;
                rep.numeric = num;
                rep.max_abs_err = abs_err;
                rep.max_rel_err = scale > 0 ? abs_err / scale : 0;
            }
        }
    }
    for (int k = 0; k < n_inputs; k++) free(first[k]);
    free(first);
    ag_tensor_free(g.proj);
    ag_tape_free(t);
    if (!rep.accumulates) rep.ok = false;
    return rep;
}

void ag_gradcheck_print(const char *label, const ag_gradcheck_report *r, void *file) {
    FILE *f = file ? file : stdout;
    fprintf(f, "%s %-28s rel %.2e abs %.2e (input %d [%zu]: analytic %.10g, numeric %.10g)%s\n",
            r->ok ? "ok  " : "FAIL", label, r->max_rel_err, r->max_abs_err, r->input, r->index,
            r->analytic, r->numeric, r->accumulates ? "" : " backward does not accumulate");
}
