/* ops_reduce.c — reductions (sum, mean, max, logsumexp: over everything or along one
 * axis) and the normalisations along an axis (softmax, log_softmax).
 *
 * Every op here views its input as (outer, len, inner) and works along the middle
 * dimension: a "row" is the len values x[o, :, k], stride `inner` apart.  Reducing
 * everything is the case (1, size, 1).
 *
 * Accuracy: sums accumulate in double even in float builds.  A float running sum of n
 * terms can be off by up to ~n·2⁻²⁴ relative (0.6% for the 10⁵ pixels of a 128×784
 * batch; 2²⁰ terms of 0.1 really do drift by 1%, see test_reduce.c), while a double sum
 * is exact to float rounding; the cost is nil for a memory-bound loop.
 *
 * logsumexp, softmax and log_softmax subtract the row's max m before exponentiating
 * (lse = m + log Σ e^(x-m)), so no exp overflows.  A row whose max is infinite uses the
 * limit instead of NaN: the entries equal to m count as e^0, the others as 0.  So an
 * all -inf row (a fully masked one) has logsumexp -inf and a uniform softmax. */
#include "autograd/autograd.h"
#include "autograd/internal.h"

#include <math.h>
#include <string.h>

#ifdef AG_DOUBLE
#define EXP exp
#else
#define EXP expf
#endif

typedef struct {
    long outer, len, inner; /* the input seen as (outer, len, inner); reduce len */
    double scale;           /* sum and mean: 1 or 1/len */
} rgeom;

/* Where row r (r = o·inner + k) starts; its len values lie `inner` apart. */
static long row_start(const rgeom *g, long r) {
    return (r / g->inner) * g->len * g->inner + r % g->inner;
}

/* ---- sum, mean ------------------------------------------------------------------------- */

/* Σ x[0..n) in double.  The simd reduction keeps one partial sum per vector lane, which
 * breaks the chain of dependent additions; the split is fixed by the build (the vector
 * width), not by the thread count, so results are reproducible. */
static double sum_run(const ag_real *x, long n) {
    double s = 0;
    _Pragma("omp simd reduction(+:s)")
    for (long i = 0; i < n; i++) s += x[i];
    return s;
}

static void sum_fwd(ag_node *n) {
    const rgeom *g = AG_ATTR(n, rgeom);
    const ag_real *x = n->in[0]->data;                    /* (outer, len, inner) */
    ag_real *y = n->out->data;                            /* (outer, inner) */
    long outer = g->outer, len = g->len, inner = g->inner;
    if (inner == 1) { /* contiguous rows */
        AG_PARALLEL_FOR(o, outer, outer > 1 && outer * len > AG_PAR_MIN, {
            y[o] = (ag_real)(sum_run(x + o * len, len) * g->scale);
        });
        return;
    }
    /* Strided rows: add whole (inner)-rows into a double row, which vectorises. */
    double *acc = ag_tape_alloc(n->tape, (size_t)inner * sizeof *acc);
    for (long o = 0; o < outer; o++) {
        memset(acc, 0, (size_t)inner * sizeof *acc);
        for (long j = 0; j < len; j++) {
            const ag_real *xr = x + (o * len + j) * inner;
            _Pragma("omp simd")
            for (long k = 0; k < inner; k++) acc[k] += xr[k];
        }
        for (long k = 0; k < inner; k++) y[o * inner + k] = (ag_real)(acc[k] * g->scale);
    }
}

static void sum_bwd(ag_node *n) {                         /* dx[o, j, k] += scale·dy[o, k] */
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    const rgeom *g = AG_ATTR(n, rgeom);
    const ag_real *dy = n->out->grad, scale = (ag_real)g->scale;
    long len = g->len, inner = g->inner, rows = g->outer * len;
    AG_PARALLEL_FOR(r, rows, rows * inner > AG_PAR_MIN, {
        const ag_real *d = dy + (r / len) * inner;
        _Pragma("omp simd")
        for (long k = 0; k < inner; k++) dx[r * inner + k] += scale * d[k];
    });
}

static const ag_op sum_op = {"sum", sum_fwd, sum_bwd};
static const ag_op mean_op = {"mean", sum_fwd, sum_bwd};

/* ---- max: the gradient goes to the first maximal element of each row ------------------- */

static void max_fwd(ag_node *n) {
    const rgeom *g = AG_ATTR(n, rgeom);
    const ag_real *x = n->in[0]->data;
    ag_real *y = n->out->data;
    long rows = g->outer * g->inner;
    long *arg = ag_tape_alloc(n->tape, (size_t)rows * sizeof *arg); /* backward reads it */
    n->saved = arg;
    AG_PARALLEL_FOR(r, rows, rows * g->len > AG_PAR_MIN, {
        const ag_real *xr = x + row_start(g, r);
        long best = 0;
        for (long j = 1; j < g->len; j++) {
            ag_real v = xr[j * g->inner], m = xr[best * g->inner];
            if (v > m || (v != v && m == m)) best = j; /* a NaN wins and stays */
        }
        arg[r] = best;
        y[r] = xr[best * g->inner];
    });
}

static void max_bwd(ag_node *n) {
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    const rgeom *g = AG_ATTR(n, rgeom);
    const long *arg = n->saved;
    long rows = g->outer * g->inner;
    for (long r = 0; r < rows; r++) dx[row_start(g, r) + arg[r] * g->inner] += n->out->grad[r];
}

static const ag_op max_op = {"max", max_fwd, max_bwd};

/* ---- logsumexp ---------------------------------------------------------------------------- */

/* The row's max m and s = Σ_j e^(x_j - m) (in double), with the infinite-max rule above. */
static ag_real row_max(const ag_real *x, long len, long stride) {
    ag_real m = len ? x[0] : -(ag_real)INFINITY;
    for (long j = 1; j < len; j++) {
        ag_real v = x[j * stride];
        if (v > m || (v != v && m == m)) m = v;
    }
    return m;
}
static ag_real shifted(ag_real v, ag_real m) { return v == m ? 0 : v - m; } /* x - m */
static double row_expsum(const ag_real *x, long len, long stride, ag_real m) {
    double s = 0;
    for (long j = 0; j < len; j++) s += EXP(shifted(x[j * stride], m));
    return s;
}

static void logsumexp_fwd(ag_node *n) {                   /* y = m + log Σ e^(x - m) */
    const rgeom *g = AG_ATTR(n, rgeom);
    long rows = g->outer * g->inner, len = g->len, inner = g->inner;
    AG_PARALLEL_FOR(r, rows, rows * len > AG_PAR_MIN, {
        const ag_real *xr = n->in[0]->data + row_start(g, r);
        ag_real m = row_max(xr, len, inner);
        n->out->data[r] = (ag_real)((double)m + log(row_expsum(xr, len, inner, m)));
    });
}

static void logsumexp_bwd(ag_node *n) {                   /* dx_j += dy · softmax(x)_j */
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    const rgeom *g = AG_ATTR(n, rgeom);
    long rows = g->outer * g->inner, len = g->len, inner = g->inner;
    AG_PARALLEL_FOR(r, rows, rows * len > AG_PAR_MIN, {
        long at = row_start(g, r);
        const ag_real *xr = n->in[0]->data + at;
        ag_real m = row_max(xr, len, inner);
        /* Recomputed rather than e^(x - y): that form is NaN on infinite rows. */
        ag_real w = (ag_real)(n->out->grad[r] / row_expsum(xr, len, inner, m));
        for (long j = 0; j < len; j++) dx[at + j * inner] += w * EXP(shifted(xr[j * inner], m));
    });
}

static const ag_op logsumexp_op = {"logsumexp", logsumexp_fwd, logsumexp_bwd};

/* ---- softmax, log_softmax along an axis --------------------------------------------------- */

static void softmax_fwd(ag_node *n) {                     /* y_j = e^(x_j - m) / s */
    const rgeom *g = AG_ATTR(n, rgeom);
    long rows = g->outer * g->inner, len = g->len, inner = g->inner;
    AG_PARALLEL_FOR(r, rows, rows * len > AG_PAR_MIN, {
        long at = row_start(g, r);
        const ag_real *xr = n->in[0]->data + at;
        ag_real *yr = n->out->data + at;
        ag_real m = row_max(xr, len, inner);
        ag_real inv = (ag_real)(1 / row_expsum(xr, len, inner, m));
        for (long j = 0; j < len; j++) yr[j * inner] = EXP(shifted(xr[j * inner], m)) * inv;
    });
}

static void softmax_bwd(ag_node *n) {                     /* dx_j += y_j (dy_j - Σ_k dy_k y_k) */
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    const rgeom *g = AG_ATTR(n, rgeom);
    long rows = g->outer * g->inner, len = g->len, inner = g->inner;
    AG_PARALLEL_FOR(r, rows, rows * len > AG_PAR_MIN, {
        long at = row_start(g, r);
        const ag_real *y = n->out->data + at, *dy = n->out->grad + at;
        double dot = 0;
        for (long j = 0; j < len; j++) dot += (double)dy[j * inner] * y[j * inner];
        for (long j = 0; j < len; j++)
            dx[at + j * inner] += y[j * inner] * (dy[j * inner] - (ag_real)dot);
    });
}

static const ag_op softmax_op = {"softmax", softmax_fwd, softmax_bwd};

static void log_softmax_fwd(ag_node *n) {                 /* y_j = (x_j - m) - log s */
    const rgeom *g = AG_ATTR(n, rgeom);
    long rows = g->outer * g->inner, len = g->len, inner = g->inner;
    AG_PARALLEL_FOR(r, rows, rows * len > AG_PAR_MIN, {
        long at = row_start(g, r);
        const ag_real *xr = n->in[0]->data + at;
        ag_real *yr = n->out->data + at;
        ag_real m = row_max(xr, len, inner);
        ag_real log_s = (ag_real)log(row_expsum(xr, len, inner, m));
        for (long j = 0; j < len; j++) yr[j * inner] = shifted(xr[j * inner], m) - log_s;
    });
}

static void log_softmax_bwd(ag_node *n) {                 /* dx_j += dy_j - e^(y_j) Σ_k dy_k */
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    const rgeom *g = AG_ATTR(n, rgeom);
    long rows = g->outer * g->inner, len = g->len, inner = g->inner;
    AG_PARALLEL_FOR(r, rows, rows * len > AG_PAR_MIN, {
        long at = row_start(g, r);
        const ag_real *y = n->out->data + at, *dy = n->out->grad + at;
        double sum = 0;
        for (long j = 0; j < len; j++) sum += dy[j * inner];
        for (long j = 0; j < len; j++)
            dx[at + j * inner] += dy[j * inner] - EXP(y[j * inner]) * (ag_real)sum;
    });
}

static const ag_op log_softmax_op = {"log_softmax", log_softmax_fwd, log_softmax_bwd};

/* ---- constructors ------------------------------------------------------------------------- */

static rgeom geom_along(const ag_tensor *x, int axis) {
    rgeom g = {1, x->shape[axis], 1, 1};
    for (int d = 0; d < axis; d++) g.outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) g.inner *= x->shape[d];
    return g;
}

/* Reductions that pick or average values (mean, max) refuse an empty axis. */
static void check_not_empty(const ag_op *op, const ag_tensor *x, long len) {
    if (len == 0 && (op == &mean_op || op == &max_op)) {
        char b[64];
        ag_error(op->name, "cannot reduce an empty axis (input %s)", ag_shape_str(x, b, sizeof b));
    }
}

/* Everything -> shape (1). */
static ag_tensor *reduce_all(ag_tape *t, const ag_op *op, ag_tensor *x) {
    rgeom g = {1, (long)x->size, 1, 1};
    check_not_empty(op, x, g.len);
    if (op == &mean_op) g.scale = 1.0 / (double)g.len;
    return ag_apply(t, op, &x, 1, 1, (int[]){1}, &g, sizeof g);
}

/* One axis -> the input's shape without it (size 1 if keepdim; (1) if nothing is left). */
static ag_tensor *reduce_axis(ag_tape *t, const ag_op *op, ag_tensor *x, int axis,
                              bool keepdim) {
    int a = ag_axis(op->name, x, axis), shape[AG_MAX_DIMS], nd = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d != a) shape[nd++] = x->shape[d];
        else if (keepdim) shape[nd++] = 1;
    }
    if (nd == 0) shape[nd++] = 1;
    rgeom g = geom_along(x, a);
    check_not_empty(op, x, g.len);
    if (op == &mean_op) g.scale = 1.0 / (double)g.len;
    return ag_apply(t, op, &x, 1, nd, shape, &g, sizeof g);
}

ag_tensor *ag_sum(ag_tape *t, ag_tensor *x) { return reduce_all(t, &sum_op, x); }
ag_tensor *ag_mean(ag_tape *t, ag_tensor *x) { return reduce_all(t, &mean_op, x); }
ag_tensor *ag_max(ag_tape *t, ag_tensor *x) { return reduce_all(t, &max_op, x); }
ag_tensor *ag_logsumexp(ag_tape *t, ag_tensor *x) { return reduce_all(t, &logsumexp_op, x); }

ag_tensor *ag_sum_axis(ag_tape *t, ag_tensor *x, int axis, bool keepdim) {
    return reduce_axis(t, &sum_op, x, axis, keepdim);
}
ag_tensor *ag_mean_axis(ag_tape *t, ag_tensor *x, int axis, bool keepdim) {
    return reduce_axis(t, &mean_op, x, axis, keepdim);
}
ag_tensor *ag_max_axis(ag_tape *t, ag_tensor *x, int axis, bool keepdim) {
    return reduce_axis(t, &max_op, x, axis, keepdim);
}
ag_tensor *ag_logsumexp_axis(ag_tape *t, ag_tensor *x, int axis, bool keepdim) {
    return reduce_axis(t, &logsumexp_op, x, axis, keepdim);
}

static ag_tensor *along_axis(ag_tape *t, const ag_op *op, ag_tensor *x, int axis) {
    rgeom g = geom_along(x, ag_axis(op->name, x, axis));
    return ag_apply(t, op, &x, 1, x->ndim, x->shape, &g, sizeof g);
}
ag_tensor *ag_softmax(ag_tape *t, ag_tensor *x, int axis) {
    return along_axis(t, &softmax_op, x, axis);
}
ag_tensor *ag_log_softmax(ag_tape *t, ag_tensor *x, int axis) {
    return along_axis(t, &log_softmax_op, x, axis);
}
