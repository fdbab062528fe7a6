/* ops_shape.c — ops that move values without computing on them: reshape, transpose,
 * permute, concat, slice, index_select, gather.  Each backward sends every output
 * gradient back to the input element it was copied from (dx[src] += dy[dst]).  Only
 * index_select can copy one input to several outputs (repeated indices); its backward sums
 * those serially, so the additions neither race nor depend on the thread count.
 *
 * Every output but reshape's is a fresh copy.  reshape is a view (ag_apply_view): the same
 * values in the same order need no copy, so its output shares the input's memory (and has
 * a gradient buffer of its own).  No op writes into a tensor it did not make, so a view
 * never changes under its reader; a caller who writes into x->data after reshaping x
 * changes the view too (ag_copy first if that is not wanted). */
#include "autograd/autograd.h"
#include "autograd/internal.h"

#include <string.h>

/* dst[j] += src[j] for j < n: the step most backwards here repeat, row by row. */
static void add_into(ag_real *dst, const ag_real *src, long n) {
    _Pragma("omp simd")
    for (long j = 0; j < n; j++) dst[j] += src[j];
}

/* ---- reshape: the same values in the same order, another shape -------------------------- */

static void reshape_fwd(ag_node *n) { (void)n; /* the output is a view of the input */ }
static void reshape_bwd(ag_node *n) {                     /* dx += dy, element for element */
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    const ag_real *dy = n->out->grad;
    long size = (long)n->out->size;
    AG_PARALLEL_FOR_SIMD(i, size, size > AG_PAR_MIN, { dx[i] += dy[i]; });
}
static const ag_op reshape_op = {"reshape", reshape_fwd, reshape_bwd};

ag_tensor *ag_reshape(ag_tape *t, ag_tensor *x, int ndim, const int *shape) {
    char a[64], b[64];
    if (ndim < 1 || ndim > AG_MAX_DIMS) ag_error("reshape", "ndim %d is not in 1..%d", ndim, AG_MAX_DIMS);
    int s[AG_MAX_DIMS], infer = -1;
    size_t known = 1;
    for (int d = 0; d < ndim; d++) {
        s[d] = shape[d];
        if (shape[d] == -1 && infer < 0) infer = d;
        else if (shape[d] < 0)
            ag_error("reshape", "bad shape %s (at most one -1, no other negative size)",
                     ag_shape_fmt(ndim, shape, b, sizeof b));
        else known *= (size_t)shape[d];
    }
    bool ok = infer >= 0 ? known > 0 && x->size % known == 0 : known == x->size;
    if (!ok)
        ag_error("reshape", "cannot reshape %s (%zu elements) to %s", ag_shape_str(x, a, sizeof a),
                 x->size, ag_shape_fmt(ndim, shape, b, sizeof b));
    if (infer >= 0) s[infer] = (int)(x->size / known);
    if (ndim == x->ndim && memcmp(s, x->shape, sizeof(int) * (size_t)ndim) == 0)
        return x;                                        /* already that shape: no node */
    return ag_apply_view(t, &reshape_op, x, ndim, s);
}

/* ---- permute and transpose ------------------------------------------------------------------
 * out has shape[d] = x.shape[perm[d]].  Both directions run over the output's index space,
 * reading (or adding back into) x through x's strides taken in the permuted order. */

typedef struct { int perm[AG_MAX_DIMS]; } perm_attr;

/* The output's shape padded to 4 dims, and x's stride along each of those dims. */
static void permuted(const ag_node *n, long shape[4], long st[4]) {
    const ag_tensor *x = n->in[0];
    const int *perm = AG_ATTR(n, perm_attr)->perm;
    int nd = x->ndim, lead = AG_MAX_DIMS - nd;
    long xs[AG_MAX_DIMS], s = 1;
    for (int d = nd - 1; d >= 0; d--) xs[d] = s, s *= x->shape[d];
    for (int d = 0; d < AG_MAX_DIMS; d++) {
        shape[d] = d < lead ? 1 : x->shape[perm[d - lead]];
        st[d] = d < lead ? 0 : xs[perm[d - lead]];
    }
}

/* For every output element i (in order) with src its position in x: BODY.  Threads split
 * the (d0, d1) pairs, numbered d01 = d0·S1 + d1. */
#define FOR_EACH_PERMUTED(n, ...)                                                      \
    do {                                                                               \
        long S_[4], T_[4];                                                             \
        permuted(n, S_, T_);                                                           \
        AG_PARALLEL_FOR(d01, S_[0] * S_[1], (long)(n)->out->size > AG_PAR_MIN, {       \
            const long d0 = d01 / S_[1], d1 = d01 % S_[1];                             \
            for (long d2 = 0; d2 < S_[2]; d2++) {                                      \
                long i = (d01 * S_[2] + d2) * S_[3];                                   \
                long src = d0 * T_[0] + d1 * T_[1] + d2 * T_[2];                       \
                for (long d3 = 0; d3 < S_[3]; d3++, i++, src += T_[3]) {               \
                    __VA_ARGS__;                                                       \
                }                                                                      \
            }                                                                          \
        });                                                                            \
    } while (0)

static void permute_fwd(ag_node *n) {
    const ag_real *x = n->in[0]->data;
    ag_real *y = n->out->data;
    FOR_EACH_PERMUTED(n, y[i] = x[src]);
}
static void permute_bwd(ag_node *n) {  /* a bijection: every dx element gets one term */
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    const ag_real *dy = n->out->grad;
    FOR_EACH_PERMUTED(n, dx[src] += dy[i]);
}
static const ag_op permute_op = {"permute", permute_fwd, permute_bwd};
static const ag_op transpose_op = {"transpose", permute_fwd, permute_bwd};

static ag_tensor *apply_perm(ag_tape *t, const ag_op *op, ag_tensor *x, const perm_attr *p) {
    int shape[AG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[p->perm[d]];
    return ag_apply(t, op, &x, 1, x->ndim, shape, p, sizeof *p);
}

ag_tensor *ag_permute(ag_tape *t, ag_tensor *x, const int *perm) {
    perm_attr p = {{0}};
    bool seen[AG_MAX_DIMS] = {false};
    for (int d = 0; d < x->ndim; d++) {
        int a = perm[d] < 0 ? perm[d] + x->ndim : perm[d];
        if (a < 0 || a >= x->ndim || seen[a]) {
            char sp[64], sx[64];
            ag_error("permute", "%s is not a permutation of the %d axes of %s",
                     ag_shape_fmt(x->ndim, perm, sp, sizeof sp), x->ndim,
                     ag_shape_str(x, sx, sizeof sx));
        }
        seen[a] = true;
        p.perm[d] = a;
    }
    return apply_perm(t, &permute_op, x, &p);
}

ag_tensor *ag_transpose(ag_tape *t, ag_tensor *x, int axis0, int axis1) {
    int a = ag_axis("transpose", x, axis0), b = ag_axis("transpose", x, axis1);
    perm_attr p = {{0, 1, 2, 3}};
    p.perm[a] = b;
    p.perm[b] = a;
    return apply_perm(t, &transpose_op, x, &p);
}

/* ---- concat ----------------------------------------------------------------------------------
 * Each output row o (everything before the axis) is the inputs' rows o laid end to end. */

typedef struct { int axis; } axis_attr;

/* Elements before the axis (outer) and after it (inner). */
static void around_axis(const ag_tensor *x, int axis, long *outer, long *inner) {
    *outer = *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= x->shape[d];
    for (int d = axis + 1; d < x->ndim; d++) *inner *= x->shape[d];
}

static void concat_fwd(ag_node *n) {
    int axis = AG_ATTR(n, axis_attr)->axis;
    long outer, inner, out_row = (long)n->out->shape[axis];
    around_axis(n->out, axis, &outer, &inner);
    out_row *= inner;
    for (long o = 0; o < outer; o++) {
        ag_real *y = n->out->data + o * out_row;
        for (int k = 0; k < n->n_in; k++) {
            long row = n->in[k]->shape[axis] * inner;
            memcpy(y, n->in[k]->data + o * row, (size_t)row * sizeof(ag_real));
            y += row;
        }
    }
}
static void concat_bwd(ag_node *n) {
    int axis = AG_ATTR(n, axis_attr)->axis;
    long outer, inner, out_row = (long)n->out->shape[axis];
    around_axis(n->out, axis, &outer, &inner);
    out_row *= inner;
    long offset = 0; /* where input k's part starts within an output row */
    for (int k = 0; k < n->n_in; k++) {
        long row = n->in[k]->shape[axis] * inner;
        ag_real *dx = ag_node_grad(n, k);
        if (dx)
            for (long o = 0; o < outer; o++)
                add_into(dx + o * row, n->out->grad + o * out_row + offset, row);
        offset += row;
    }
}
static const ag_op concat_op = {"concat", concat_fwd, concat_bwd};

/* A node holds at most AG_MAX_INPUTS inputs, so more tensors are joined as a tree: groups of
 * up to 4 are concatenated, then the group results, and so on.  Each value is copied
 * ⌈log₄ n⌉ times (a chain would copy the first ones n/3 times), and the gradient flows back
 * through the same tree. */
static ag_tensor *concat_tree(ag_tape *t, ag_tensor **xs, int n, int axis) {
    if (n <= AG_MAX_INPUTS) {
        int shape[AG_MAX_DIMS];
        memcpy(shape, xs[0]->shape, sizeof shape);
        for (int k = 1; k < n; k++) shape[axis] += xs[k]->shape[axis];
        axis_attr at = {axis};
        return ag_apply(t, &concat_op, xs, n, xs[0]->ndim, shape, &at, sizeof at);
    }
    int groups = (n + AG_MAX_INPUTS - 1) / AG_MAX_INPUTS;
    ag_tensor **parts = ag_tape_alloc(t, (size_t)groups * sizeof *parts);
    for (int g = 0; g < groups; g++) {
        int first = g * AG_MAX_INPUTS, count = n - first < AG_MAX_INPUTS ? n - first : AG_MAX_INPUTS;
        parts[g] = concat_tree(t, xs + first, count, axis);
    }
    return concat_tree(t, parts, groups, axis);
}

ag_tensor *ag_concat(ag_tape *t, ag_tensor **xs, int n, int axis) {
    if (!t) ag_error("concat", "no tape given");
    if (n < 1 || !xs) ag_error("concat", "needs at least one tensor, got %d", n);
    for (int k = 0; k < n; k++)
        if (!xs[k]) ag_error("concat", "tensor %d is NULL", k);
    int a = ag_axis("concat", xs[0], axis);
    for (int k = 1; k < n; k++) {
        bool ok = xs[k]->ndim == xs[0]->ndim;
        for (int d = 0; ok && d < xs[0]->ndim; d++) ok = d == a || xs[k]->shape[d] == xs[0]->shape[d];
        if (!ok) {
            char s0[64], sk[64];
            ag_error("concat", "tensor %d %s does not match tensor 0 %s outside axis %d", k,
                     ag_shape_str(xs[k], sk, sizeof sk), ag_shape_str(xs[0], s0, sizeof s0), a);
        }
    }
    return concat_tree(t, xs, n, a);
}

/* ---- slice: [start, end) along one axis ------------------------------------------------------ */

typedef struct { int axis, start; } slice_attr;

static void slice_fwd(ag_node *n) {
    const slice_attr *s = AG_ATTR(n, slice_attr);
    long outer, inner;
    around_axis(n->in[0], s->axis, &outer, &inner);
    long in_row = n->in[0]->shape[s->axis] * inner, out_row = n->out->shape[s->axis] * inner;
    for (long o = 0; o < outer; o++)
        memcpy(n->out->data + o * out_row, n->in[0]->data + o * in_row + s->start * inner,
               (size_t)out_row * sizeof(ag_real));
}
static void slice_bwd(ag_node *n) {
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    const slice_attr *s = AG_ATTR(n, slice_attr);
    long outer, inner;
    around_axis(n->in[0], s->axis, &outer, &inner);
    long in_row = n->in[0]->shape[s->axis] * inner, out_row = n->out->shape[s->axis] * inner;
    for (long o = 0; o < outer; o++)
        add_into(dx + o * in_row + s->start * inner, n->out->grad + o * out_row, out_row);
}
static const ag_op slice_op = {"slice", slice_fwd, slice_bwd};

/* Negative start/end count from the end, as in Python; the slice must not be empty. */
ag_tensor *ag_slice(ag_tape *t, ag_tensor *x, int axis, int start, int end) {
    int a = ag_axis("slice", x, axis), dim = x->shape[a];
    int s = start < 0 ? start + dim : start, e = end < 0 ? end + dim : end;
    if (s < 0 || e > dim || s >= e) {
        char b[64];
        ag_error("slice", "range [%d, %d) is empty or outside axis %d of %s (size %d)", start,
                 end, a, ag_shape_str(x, b, sizeof b), dim);
    }
    int shape[AG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[a] = e - s;
    slice_attr at = {a, s};
    return ag_apply(t, &slice_op, &x, 1, x->ndim, shape, &at, sizeof at);
}

/* ---- index_select and gather -------------------------------------------------------------------
 * The caller's index array may not outlive the op, so the constructors copy it onto the
 * tape and the node keeps a pointer to that copy. */

typedef struct { const int *idx; int n; } index_attr;

/* A checked copy of idx[0..n) on the tape: every index must be in [0, limit). */
static const int *copy_indices(ag_tape *t, const char *op, const ag_tensor *x, const int *idx,
                               int n, int limit) {
    if (!t) ag_error(op, "no tape given");
    if (!idx) ag_error(op, "no index array given");
    for (int i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= limit) {
            char b[64];
            ag_error(op, "index %d at position %d is out of range [0, %d) for %s", idx[i], i,
                     limit, ag_shape_str(x, b, sizeof b));
        }
    int *copy = ag_tape_alloc(t, (size_t)n * sizeof *copy);
    memcpy(copy, idx, (size_t)n * sizeof *copy);
    return copy;
}

static void index_select_fwd(ag_node *n) {               /* out[i] = x[idx[i]] (whole rows) */
    const index_attr *a = AG_ATTR(n, index_attr);
    long row = (long)(n->out->size / (size_t)a->n);
    AG_PARALLEL_FOR(i, a->n, (long)n->out->size > AG_PAR_MIN, {
        memcpy(n->out->data + i * row, n->in[0]->data + a->idx[i] * row,
               (size_t)row * sizeof(ag_real));
    });
}
/* dx[idx[i]] += dy[i].  A row picked several times first has its dy rows summed (in double),
 * then added once: the amount added to dx does not depend on what dx already held, and
 * the order of the additions is fixed.  Occurrences of a row are chained through `next`. */
static void index_select_bwd(ag_node *n) {
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    const index_attr *a = AG_ATTR(n, index_attr);
    const ag_real *dy = n->out->grad;
    int rows = n->in[0]->shape[0];
    long row = (long)(n->out->size / (size_t)a->n);
    int *first = ag_tape_alloc(n->tape, (size_t)rows * sizeof *first);
    int *next = ag_tape_alloc(n->tape, (size_t)a->n * sizeof *next);
    double *acc = ag_tape_alloc(n->tape, (size_t)row * sizeof *acc);
    for (int r = 0; r < rows; r++) first[r] = -1;
    for (int i = a->n - 1; i >= 0; i--) next[i] = first[a->idx[i]], first[a->idx[i]] = i;
    for (int i = 0; i < a->n; i++) {
        ag_real *d = dx + a->idx[i] * row;
        if (first[a->idx[i]] != i) continue;       /* summed with its first occurrence */
        if (next[i] < 0) {                         /* picked once: add it straight in */
            add_into(d, dy + i * row, row);
            continue;
        }
        memset(acc, 0, (size_t)row * sizeof *acc);
        for (int k = i; k >= 0; k = next[k])
            for (long j = 0; j < row; j++) acc[j] += dy[k * row + j];
        for (long j = 0; j < row; j++) d[j] += (ag_real)acc[j];
    }
}
static const ag_op index_select_op = {"index_select", index_select_fwd, index_select_bwd};

ag_tensor *ag_index_select(ag_tape *t, ag_tensor *x, const int *idx, int n) {
    if (n < 1) ag_error("index_select", "needs at least one index, got n = %d", n);
    index_attr at = {copy_indices(t, "index_select", x, idx, n, x->shape[0]), n};
    int shape[AG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[0] = n;
    return ag_apply(t, &index_select_op, &x, 1, x->ndim, shape, &at, sizeof at);
}

static void gather_fwd(ag_node *n) {                     /* y[i] = x[i, idx[i]] */
    const index_attr *a = AG_ATTR(n, index_attr);
    long C = n->in[0]->shape[1];
    for (int i = 0; i < a->n; i++) n->out->data[i] = n->in[0]->data[i * C + a->idx[i]];
}
static void gather_bwd(ag_node *n) {                     /* dx[i, idx[i]] += dy[i] */
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    const index_attr *a = AG_ATTR(n, index_attr);
    long C = n->in[0]->shape[1];
    for (int i = 0; i < a->n; i++) dx[i * C + a->idx[i]] += n->out->grad[i];
}
static const ag_op gather_op = {"gather", gather_fwd, gather_bwd};

ag_tensor *ag_gather(ag_tape *t, ag_tensor *x, const int *idx) {
    AG_CHECK_SHAPE("gather", x->ndim == 2, x, "a 2-D tensor (N, C)");
    index_attr at = {copy_indices(t, "gather", x, idx, x->shape[0], x->shape[1]), x->shape[0]};
    return ag_apply(t, &gather_op, &x, 1, 1, (int[]){x->shape[0]}, &at, sizeof at);
}
