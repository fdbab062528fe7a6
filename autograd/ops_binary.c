/* ops_binary.c — elementwise ops of two tensors with NumPy broadcasting (add, sub, mul,
 * div, maximum, minimum) and the two broadcasting primitives, broadcast_to and sum_to.
 *
 * Broadcasting: shapes are aligned from the right; a dimension of 1 (or a missing one)
 * stretches to the other operand's size.  Every loop runs over the output's index space
 * and reads each operand through strides that are 0 along its stretched dimensions.  The
 * common layouts get their own plain loops:
 *   SAME       a and b have the output's shape        y[i]   = f(a[i], b[i])
 *   *_SCALAR   one operand has a single element       y[i]   = f(a[i], b[0])
 *   *_ROW      one operand is a trailing block of     y[r,j] = f(a[r,j], b[j])
 *              the output's shape: (N, D) + (D), (N, C, H, W) * (H, W)
 *   GENERAL    anything else: nested strided loops, e.g. (4, 1) - (1, 5), (N, C, H, W) + (C, 1, 1)
 *
 * Backward: an operand that was stretched receives the output gradient summed over the
 * dimensions it was stretched along (∂/∂b Σ_i f(a_i, b_i) = Σ_i ∂f/∂b).  The terms
 * dy·∂f/∂b are formed at every output element, then summed down to b's shape by the same
 * reduction sum_to uses: serially, in double, so the result does not depend on the thread
 * count and a float bias gradient summed over a large batch keeps its accuracy. */
#include "autograd/autograd.h"
#include "autograd/internal.h"

#include <string.h>

enum { SAME, A_SCALAR, B_SCALAR, A_ROW, B_ROW, GENERAL };

/* How operands a and b are read over a (bigger) index space. */
typedef struct {
    int mode;
    long size;          /* elements of the index space (the output's shape) */
    long period;        /* *_ROW: elements of the repeated operand */
    long shape[4];      /* GENERAL: the index space, 4-D with leading 1s */
    long sa[4], sb[4];  /* GENERAL: strides of a and b over it; 0 along stretched dims */
} bcast;

/* x's shape padded on the left with 1s to 4 dims. */
static void pad4(const ag_tensor *x, long p[4]) {
    int lead = AG_MAX_DIMS - x->ndim;
    for (int d = 0; d < AG_MAX_DIMS; d++) p[d] = d < lead ? 1 : x->shape[d - lead];
}

/* Strides of x (padded shape p) over the index space: 0 where x has size 1. */
static void stretch_strides(const long p[4], long st[4]) {
    long s = 1;
    for (int d = AG_MAX_DIMS - 1; d >= 0; d--) {
        st[d] = p[d] == 1 ? 0 : s;
        s *= p[d];
    }
}

/* True if p is 1s followed by the trailing dimensions of shape: x repeats as a block. */
static bool is_trailing_block(const long p[4], const long shape[4]) {
    int d = 0;
    while (d < AG_MAX_DIMS && p[d] == 1) d++;
    for (; d < AG_MAX_DIMS; d++)
        if (p[d] != shape[d]) return false;
    return true;
}

/* Merges neighbouring dimensions that both operands walk alike (contiguously, or
 * stretched over both), and drops dimensions of size 1, so the inner loops run long:
 * (N, C, H, W) + (C, 1, 1) is looped as (N, C, H·W) + (C, 1). */
static void coalesce(bcast *g) {
    long S[4], A[4], B[4];
    int k = 0; /* merged dimensions so far, innermost first */
    for (int d = AG_MAX_DIMS - 1; d >= 0; d--) {
        if (g->shape[d] == 1) continue;
        if (k > 0 && g->sa[d] == A[k - 1] * S[k - 1] && g->sb[d] == B[k - 1] * S[k - 1]) {
            S[k - 1] *= g->shape[d];
            continue;
        }
        S[k] = g->shape[d], A[k] = g->sa[d], B[k] = g->sb[d];
        k++;
    }
    for (int j = 0; j < AG_MAX_DIMS; j++) {
        int d = AG_MAX_DIMS - 1 - j;
        g->shape[d] = j < k ? S[j] : 1;
        g->sa[d] = j < k ? A[j] : 0;
        g->sb[d] = j < k ? B[j] : 0;
    }
}

/* Geometry for reading a and b over the shape of `space` (both broadcast to it). */
static void bcast_init(bcast *g, const ag_tensor *a, const ag_tensor *b,
                       const ag_tensor *space) {
    long pa[4], pb[4];
    pad4(space, g->shape);
    pad4(a, pa);
    pad4(b, pb);
    stretch_strides(pa, g->sa);
    stretch_strides(pb, g->sb);
    g->size = (long)space->size;
    g->period = 1;
    /* An operand with as many elements as the space is not stretched at all. */
    bool a_full = (long)a->size == g->size, b_full = (long)b->size == g->size;
    if (g->size == 0 || (a_full && b_full)) g->mode = SAME;
    else if (a_full && b->size == 1) g->mode = B_SCALAR;
    else if (b_full && a->size == 1) g->mode = A_SCALAR;
    else if (a_full && is_trailing_block(pb, g->shape)) g->mode = B_ROW, g->period = (long)b->size;
    else if (b_full && is_trailing_block(pa, g->shape)) g->mode = A_ROW, g->period = (long)a->size;
    else g->mode = GENERAL, coalesce(g);
}

/* Runs BODY for every element i of the space, with ia and ib the flat indices of the a
 * and b values it reads.  Only for bodies that write element i alone (y[i] = ...,
 * dx[i] += ...): iterations are independent, so big spaces are split across threads and
 * loops are marked `simd` (GCC's -O2 leaves them scalar otherwise; results are the same). */
#define FOR_EACH_PAIR(g, ...)                                                          \
    do {                                                                               \
        const long size_ = (g).size, P_ = (g).period;                                  \
        switch ((g).mode) {                                                            \
        case SAME:                                                                     \
            AG_PARALLEL_FOR_SIMD(i, size_, size_ > AG_PAR_MIN, {                       \
                const long ia = i, ib = i;                                             \
                (void)ia, (void)ib;                                                    \
                __VA_ARGS__;                                                           \
            });                                                                        \
            break;                                                                     \
        case A_SCALAR:                                                                 \
            AG_PARALLEL_FOR_SIMD(i, size_, size_ > AG_PAR_MIN, {                       \
                const long ia = 0, ib = i;                                             \
                (void)ia, (void)ib;                                                    \
                __VA_ARGS__;                                                           \
            });                                                                        \
            break;                                                                     \
        case B_SCALAR:                                                                 \
            AG_PARALLEL_FOR_SIMD(i, size_, size_ > AG_PAR_MIN, {                       \
                const long ia = i, ib = 0;                                             \
                (void)ia, (void)ib;                                                    \
                __VA_ARGS__;                                                           \
            });                                                                        \
            break;                                                                     \
        case A_ROW:                                                                    \
            AG_PARALLEL_FOR(r, size_ / P_, size_ > AG_PAR_MIN, {                       \
                _Pragma("omp simd")                                                    \
                for (long j = 0; j < P_; j++) {                                        \
                    const long i = r * P_ + j, ia = j, ib = i;                         \
                    (void)ia, (void)ib;                                                \
                    __VA_ARGS__;                                                       \
                }                                                                      \
            });                                                                        \
            break;                                                                     \
        case B_ROW:                                                                    \
            AG_PARALLEL_FOR(r, size_ / P_, size_ > AG_PAR_MIN, {                       \
                _Pragma("omp simd")                                                    \
                for (long j = 0; j < P_; j++) {                                        \
                    const long i = r * P_ + j, ia = i, ib = j;                         \
                    (void)ia, (void)ib;                                                \
                    __VA_ARGS__;                                                       \
                }                                                                      \
            });                                                                        \
            break;                                                                     \
        default: { /* threads split the (d0, d1, d2) rows, numbered q */               \
            const long *S_ = (g).shape, *SA_ = (g).sa, *SB_ = (g).sb;                  \
            AG_PARALLEL_FOR(q, S_[0] * S_[1] * S_[2], size_ > AG_PAR_MIN, {            \
                const long d0 = q / (S_[1] * S_[2]), d1 = q / S_[2] % S_[1];           \
                const long d2 = q % S_[2], i0 = q * S_[3];                             \
                const long a0 = d0 * SA_[0] + d1 * SA_[1] + d2 * SA_[2];               \
                const long b0 = d0 * SB_[0] + d1 * SB_[1] + d2 * SB_[2];               \
                _Pragma("omp simd")                                                    \
                for (long d3 = 0; d3 < S_[3]; d3++) {                                  \
                    const long i = i0 + d3, ia = a0 + d3 * SA_[3];                     \
                    const long ib = b0 + d3 * SB_[3];                                  \
                    (void)ia, (void)ib;                                                \
                    __VA_ARGS__;                                                       \
                }                                                                      \
            });                                                                        \
        }                                                                              \
        }                                                                              \
    } while (0)

/* Σ x[0..n) in double.  The simd reduction keeps one partial sum per vector lane, which
 * breaks the chain of dependent additions; the split is fixed by the build (the vector
 * width), not by the thread count, so results are reproducible. */
static double sum_run(const ag_real *x, long n) {
    double s = 0;
    _Pragma("omp simd reduction(+:s)")
    for (long i = 0; i < n; i++) s += x[i];
    return s;
}

/* small[k] += Σ big[i] over the i that read small[k] (operand a of g), i.e. the sum over
 * the stretched dimensions.  Serial and in double: see the top of the file. */
static void reduce(ag_tape *t, const bcast *g, const ag_real *big, ag_real *small,
                   size_t small_size) {
    if (g->mode == SAME) { /* nothing was stretched */
        AG_PARALLEL_FOR_SIMD(i, g->size, g->size > AG_PAR_MIN, { small[i] += big[i]; });
        return;
    }
    if (g->mode == A_SCALAR) {
        small[0] += (ag_real)sum_run(big, g->size);
        return;
    }
    double *acc = ag_tape_alloc(t, small_size * sizeof *acc);
    memset(acc, 0, small_size * sizeof *acc);
    if (g->mode == A_ROW) { /* (R, P) -> (P): add the rows up */
        long P = g->period;
        for (long r = 0; r < g->size / P; r++) {
            const ag_real *row = big + r * P;
            _Pragma("omp simd")
            for (long j = 0; j < P; j++) acc[j] += row[j];
        }
    } else { /* GENERAL, coalesced: the innermost dimension is either summed or kept */
        const long *S = g->shape, *SA = g->sa;
        const ag_real *b = big;
        for (long d0 = 0; d0 < S[0]; d0++)
            for (long d1 = 0; d1 < S[1]; d1++)
                for (long d2 = 0; d2 < S[2]; d2++, b += S[3]) {
                    double *a = acc + d0 * SA[0] + d1 * SA[1] + d2 * SA[2];
                    if (SA[3] == 0) {
                        a[0] += sum_run(b, S[3]);
                    } else {
                        _Pragma("omp simd")
                        for (long d3 = 0; d3 < S[3]; d3++) a[d3 * SA[3]] += b[d3];
                    }
                }
    }
    for (size_t k = 0; k < small_size; k++) small[k] += (ag_real)acc[k];
}

/* The broadcast shape of a and b, or the error "op: cannot broadcast (2, 3) with (4, 3)". */
static int broadcast_shape(const char *op, const ag_tensor *a, const ag_tensor *b,
                           int shape[AG_MAX_DIMS]) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int d = 1; d <= nd; d++) { /* d-th dimension from the right */
        int da = d <= a->ndim ? a->shape[a->ndim - d] : 1;
        int db = d <= b->ndim ? b->shape[b->ndim - d] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[128], sb[128];
            ag_error(op, "cannot broadcast %s with %s", ag_named_shape_str(a, sa, sizeof sa),
                     ag_named_shape_str(b, sb, sizeof sb));
        }
        shape[nd - d] = da == 1 ? db : da;
    }
    return nd;
}

/* ---- the six binary ops ----------------------------------------------------------------
 * BINARY(name, f, ∂f/∂u, ∂f/∂v) writes an op's forward and backward; the expressions
 * read u = a value, v = b value and (derivatives only) y = f(u, v). */

/* dX += dy·DERIV.  For a stretched x the terms are first formed over the whole output,
 * then summed down to x's shape. */
#define GRAD_INTO(dX, x, DERIV)                                                        \
    do {                                                                               \
        if ((long)(x)->size == g.size) {                                               \
            FOR_EACH_PAIR(g, const ag_real u = A[ia], v = B[ib], y = Y[i];             \
                          (void)u, (void)v, (void)y; dX[i] += dY[i] * (DERIV));        \
        } else {                                                                       \
            ag_real *terms = ag_tape_alloc(n->tape, (size_t)g.size * sizeof *terms);   \
            FOR_EACH_PAIR(g, const ag_real u = A[ia], v = B[ib], y = Y[i];             \
                          (void)u, (void)v, (void)y; terms[i] = dY[i] * (DERIV));      \
            bcast gx;                                                                  \
            bcast_init(&gx, (x), n->out, n->out);                                      \
            reduce(n->tape, &gx, terms, dX, (x)->size);                                \
        }                                                                              \
    } while (0)

#define BINARY(name, EXPR, DU, DV)                                                     \
    static void name##_fwd(ag_node *n) {                                               \
        bcast g;                                                                       \
        bcast_init(&g, n->in[0], n->in[1], n->out);                                    \
        const ag_real *A = n->in[0]->data, *B = n->in[1]->data;                        \
        ag_real *Y = n->out->data;                                                     \
        FOR_EACH_PAIR(g, const ag_real u = A[ia], v = B[ib]; Y[i] = (EXPR));           \
    }                                                                                  \
    static void name##_bwd(ag_node *n) {                                               \
        bcast g;                                                                       \
        bcast_init(&g, n->in[0], n->in[1], n->out);                                    \
        const ag_real *A = n->in[0]->data, *B = n->in[1]->data, *Y = n->out->data;     \
        const ag_real *dY = n->out->grad;                                              \
        ag_real *dA = ag_node_grad(n, 0), *dB = ag_node_grad(n, 1);                    \
        if (dA) GRAD_INTO(dA, n->in[0], DU);                                           \
        if (dB) GRAD_INTO(dB, n->in[1], DV);                                           \
    }                                                                                  \
    static const ag_op name##_op = {#name, name##_fwd, name##_bwd};

/*     name      y = f(u, v)          ∂y/∂u        ∂y/∂v                                  */
BINARY(add,      u + v,               1,           1)
BINARY(sub,      u - v,               1,           -1)
BINARY(mul,      u * v,               v,           u)
BINARY(div,      u / v,               1 / v,       -y / v)  /* ∂(u/v)/∂v = -u/v² = -y/v */
/* ties: gradient to a.  NaN rule (autograd.h): a NaN operand is the result, and gets the
 * gradient (u first when both are NaN); a NaN in v makes u >= v false, so v wins. */
BINARY(maximum,  u >= v || u != u ? u : v,   u >= v || u != u,   !(u >= v || u != u))
BINARY(minimum,  u <= v || u != u ? u : v,   u <= v || u != u,   !(u <= v || u != u))

static ag_tensor *binary(ag_tape *t, const ag_op *op, ag_tensor *a, ag_tensor *b) {
    int shape[AG_MAX_DIMS];
    int nd = broadcast_shape(op->name, a, b, shape);
    return ag_apply(t, op, (ag_tensor *[]){a, b}, 2, nd, shape, NULL, 0);
}

ag_tensor *ag_add(ag_tape *t, ag_tensor *a, ag_tensor *b) { return binary(t, &add_op, a, b); }
ag_tensor *ag_sub(ag_tape *t, ag_tensor *a, ag_tensor *b) { return binary(t, &sub_op, a, b); }
ag_tensor *ag_mul(ag_tape *t, ag_tensor *a, ag_tensor *b) { return binary(t, &mul_op, a, b); }
ag_tensor *ag_div(ag_tape *t, ag_tensor *a, ag_tensor *b) { return binary(t, &div_op, a, b); }
ag_tensor *ag_maximum(ag_tape *t, ag_tensor *a, ag_tensor *b) {
    return binary(t, &maximum_op, a, b);
}
ag_tensor *ag_minimum(ag_tape *t, ag_tensor *a, ag_tensor *b) {
    return binary(t, &minimum_op, a, b);
}

/* ---- broadcast_to and sum_to: each one's backward is the other's forward ----------------
 * Both read the small tensor as operand a over the big tensor's index space (b = big). */

static void broadcast_to_fwd(ag_node *n) {                /* y[i] = x[ix] */
    bcast g;
    bcast_init(&g, n->in[0], n->out, n->out);
    const ag_real *x = n->in[0]->data;
    ag_real *y = n->out->data;
    FOR_EACH_PAIR(g, y[i] = x[ia]);
}
static void broadcast_to_bwd(ag_node *n) {                /* dx += sum_to(dy) */
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    bcast g;
    bcast_init(&g, n->in[0], n->out, n->out);
    reduce(n->tape, &g, n->out->grad, dx, n->in[0]->size);
}
static const ag_op broadcast_to_op = {"broadcast_to", broadcast_to_fwd, broadcast_to_bwd};

static void sum_to_fwd(ag_node *n) {                      /* y = Σ x over the stretched dims */
    bcast g;
    bcast_init(&g, n->out, n->in[0], n->in[0]);
    memset(n->out->data, 0, n->out->size * sizeof(ag_real));
    reduce(n->tape, &g, n->in[0]->data, n->out->data, n->out->size);
}
static void sum_to_bwd(ag_node *n) {                      /* dx += broadcast_to(dy) */
    ag_real *dx = ag_node_grad(n, 0);
    if (!dx) return;
    bcast g;
    bcast_init(&g, n->out, n->in[0], n->in[0]);
    const ag_real *dy = n->out->grad;
    FOR_EACH_PAIR(g, dx[i] += dy[ia]);
}
static const ag_op sum_to_op = {"sum_to", sum_to_fwd, sum_to_bwd};

/* True if `small` broadcasts to `big` (aligned from the right; extra leading dims of
 * either must be 1). */
static bool broadcasts_to(int ns, const int *small, int nb, const int *big) {
    for (int d = 1; d <= AG_MAX_DIMS; d++) {
        int s = d <= ns ? small[ns - d] : 1, b = d <= nb ? big[nb - d] : 1;
        if (s != b && s != 1) return false;
    }
    return true;
}

ag_tensor *ag_broadcast_to(ag_tape *t, ag_tensor *x, int ndim, const int *shape) {
    ag_shape_size("broadcast_to", ndim, shape);
    if (!broadcasts_to(x->ndim, x->shape, ndim, shape)) {
        char a[64], b[64];
        ag_error("broadcast_to", "cannot broadcast %s to %s", ag_shape_str(x, a, sizeof a),
                 ag_shape_fmt(ndim, shape, b, sizeof b));
    }
    return ag_apply(t, &broadcast_to_op, &x, 1, ndim, shape, NULL, 0);
}

ag_tensor *ag_sum_to(ag_tape *t, ag_tensor *x, int ndim, const int *shape) {
    ag_shape_size("sum_to", ndim, shape);
    if (!broadcasts_to(ndim, shape, x->ndim, x->shape)) {
        char a[64], b[64];
        ag_error("sum_to", "cannot sum %s down to %s (it must broadcast back to %s)",
                 ag_shape_str(x, a, sizeof a), ag_shape_fmt(ndim, shape, b, sizeof b), a);
    }
    return ag_apply(t, &sum_to_op, &x, 1, ndim, shape, NULL, 0);
}
