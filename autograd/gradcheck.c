/* gradcheck.c — compares an op's backward with central finite differences.
 *
 * The function under test may return any shape: a non-scalar output y is checked through
 * the scalar s = Σ r·y with a fixed random r (so every output element takes part), i.e.
 * we compare the vector–Jacobian product rᵀJ from backward with (s(x+h) - s(x-h)) / 2h.
 * Before every evaluation the tape's PRNG is reseeded, so ops that draw noise
 * (dropout, reparameterization) see the same noise each time.
 *
 * A failing element is also looked at from each side: if (f(x)-f(x-h))/h and
 * (f(x+h)-f(x))/h disagree and the analytic gradient equals one of them, the function has
 * a kink within ±h (a max whose two pieces are closer than h): the central difference is
 * then meaningless there, and the report says so instead of blaming backward. */
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
    ag_gradcheck_report rep = {.ok = true, .accumulates = true, .input = -1, .eps = o.eps,
                               .rtol = o.rtol, .atol = o.atol};
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
    double worst = -1, f0 = evaluate(t, &g, NULL); /* f(x), for one-sided differences */
    bool worst_failing_kink = false;
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
            /* a kink within ±h: one-sided slopes that disagree, backward equal to one */
            bool kink = false;
            double lo_slope = 0, hi_slope = 0;
            if (badness > 1) {
                lo_slope = (f0 - fm) / (keep - lo);
                hi_slope = (fp - f0) / (hi - keep);
                double tol = o.atol + o.rtol * fmax(fabs(lo_slope), fabs(hi_slope));
                kink = fabs(hi_slope - lo_slope) > tol &&
                       (fabs(ana - lo_slope) <= tol || fabs(ana - hi_slope) <= tol);
            }
            /* the worst element; among failing ones, an unexplained failure outranks a kink */
            bool better = badness > worst;
            if (badness > 1 && worst > 1) better = worst_failing_kink && !kink ? true
                                                  : !worst_failing_kink && kink ? false
                                                  : badness > worst;
            if (better) {
                worst = badness;
                worst_failing_kink = kink;
                rep.input = k;
                rep.index = i;
                rep.analytic = ana;
                rep.numeric = num;
                rep.max_abs_err = abs_err;
                rep.max_rel_err = scale > 0 ? abs_err / scale : 0;
                rep.name = x->name;
                rep.passed_on_abs = abs_err <= o.atol && abs_err > o.rtol * scale;
                rep.kink = kink;
                rep.slope_lo = lo_slope;
                rep.slope_hi = hi_slope;
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
    char which[160];
    if (r->name) snprintf(which, sizeof which, "input %d '%s' [%zu]", r->input, r->name, r->index);
    else snprintf(which, sizeof which, "input %d [%zu]", r->input, r->index);
    bool values_ok = r->max_abs_err <= r->atol + r->rtol * fmax(fabs(r->analytic), fabs(r->numeric));
    fprintf(f, "%s %-28s ", r->ok ? "ok  " : "FAIL", label);
    if (r->input < 0)
        fprintf(f, "no input requires a gradient");
    else if (values_ok && r->passed_on_abs)
        fprintf(f, "abs %.2e <= atol %.0e, rel %.2e not needed", r->max_abs_err, r->atol,
                r->max_rel_err);
    else if (values_ok)
        fprintf(f, "rel %.2e <= rtol %.0e (abs %.2e)", r->max_rel_err, r->rtol, r->max_abs_err);
    else
        fprintf(f, "rel %.2e abs %.2e > atol %.0e + rtol %.0e", r->max_rel_err, r->max_abs_err,
                r->atol, r->rtol);
    if (r->input >= 0)
        fprintf(f, " (%s: analytic %.10g, numeric %.10g)", which, r->analytic, r->numeric);
    if (r->kink)
        fprintf(f, "; non-smooth within h=%g here (one-sided slopes %.6g and %.6g): rerun in "
                "double or move the point", r->eps, r->slope_lo, r->slope_hi);
    fprintf(f, "%s\n", r->accumulates ? "" : "; backward does not accumulate");
}
