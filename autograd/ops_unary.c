/* ops_unary.c — elementwise functions of one tensor.  Each op is three short pieces in a
 * row: the forward loop, the backward loop (dx += dy * f'(x)), and the constructor.
 * Where f' is cheaper from the output y than from x (exp, sigmoid, tanh, sqrt) the
 * backward reads y. */
#include "autograd/autograd.h"
#include "autograd/internal.h"

#include <math.h>

#ifdef AG_DOUBLE
#define EXP exp
#define LOG log
#define LOG1P log1p
#define SQRT sqrt
#define TANH tanh
#define POW pow
#define FABS fabs
#else
#define EXP expf
#define LOG logf
#define LOG1P log1pf
#define SQRT sqrtf
#define TANH tanhf
#define POW powf
#define FABS fabsf
#endif

typedef struct { ag_real a, b; } scalars; /* per-op constants: slope, alpha, bounds, p */

/* The loop every op shares: y[i] = EXPR over x[i] (and a, b).  The constants are read
 * into locals before the loop: read through the node inside it, a load that only some
 * branches make (leaky_relu's slope) kept the loop scalar, as the compiler may not
 * assume the store to y leaves them alone. */
#define FORWARD(name, EXPR)                                                            \
    static void name##_fwd(ag_node *n) {                                               \
        const ag_real *x = n->in[0]->data;                                             \
        ag_real *y = n->out->data;                                                     \
        const ag_real a = AG_ATTR(n, scalars)->a, b = AG_ATTR(n, scalars)->b;         \
        (void)a; (void)b;                                                              \
        long size = (long)n->out->size;                                                \
        AG_PARALLEL_FOR(i, size, size > AG_PAR_MIN, {                                  \
            ag_real v = x[i];                                                          \
            (void)v;                                                                   \
            y[i] = (EXPR);                                                             \
        });                                                                            \
    }
/* dx[i] += dy[i] * DERIV, where DERIV may use v = x[i], out = y[i], a, b.  When dx is
 * fresh (ag_node_grad_fresh: the op's input has no other consumer that wrote it yet), the
 * loop stores 0 + the term instead: the same bits, without zeroing and reading dx. */
#define BACKWARD(name, DERIV)                                                          \
    static void name##_bwd(ag_node *n) {                                               \
        bool fresh;                                                                    \
        ag_real *dx = ag_node_grad_fresh(n, 0, &fresh);                                \
        if (!dx) return;                                                               \
        const ag_real *x = n->in[0]->data, *y = n->out->data, *dy = n->out->grad;      \
        const ag_real a = AG_ATTR(n, scalars)->a, b = AG_ATTR(n, scalars)->b;         \
        (void)a; (void)b; (void)x; (void)y;                                            \
        long size = (long)n->out->size;                                                \
        if (fresh)                                                                     \
            AG_PARALLEL_FOR(i, size, size > AG_PAR_MIN, {                              \
                ag_real v = x[i], out = y[i];                                          \
                (void)v; (void)out;                                                    \
                dx[i] = (ag_real)0 + dy[i] * (DERIV);                                  \
            });                                                                        \
        else                                                                           \
            AG_PARALLEL_FOR(i, size, size > AG_PAR_MIN, {                              \
                ag_real v = x[i], out = y[i];                                          \
                (void)v; (void)out;                                                    \
                dx[i] += dy[i] * (DERIV);                                              \
            });                                                                        \
    }
#define CONSTRUCT(name, opname)                                                        \
    static const ag_op name##_op = {opname, name##_fwd, name##_bwd};                   \
    static ag_tensor *name##_apply(ag_tape *t, ag_tensor *x, ag_real a, ag_real b) {   \
        scalars s = {a, b};                                                            \
        return ag_apply(t, &name##_op, &x, 1, x->ndim, x->shape, &s, sizeof s);        \
    }
#define UNARY(name, opname, EXPR, DERIV) FORWARD(name, EXPR) BACKWARD(name, DERIV) CONSTRUCT(name, opname)

/* relu's backward (dx += dy·[v > 0], from the table) compiles, at baseline SSE2 and with
 * trapping math, to a branch around the multiply: GCC may not compute dy·0 for the lanes
 * that would skip it, and the loop stays scalar (5% of a VAE epoch, 11x the -march=native
 * build's masked AVX-512 loop).  The source always multiplies, so letting the compiler
 * speculate the multiply changes no result and raises no flag the source would not.  A
 * declaration before the table carries the attribute to the definition.  leaky_relu's
 * backward (dy·1 or dy·a) is the same case: the branchy scalar loop was 10% of a DCGAN
 * step; speculating dy·a could only raise an overflow flag for a slope |a| > 1. */
#if defined(__GNUC__) && !defined(__clang__)
static void relu_bwd(ag_node *n) __attribute__((optimize("no-trapping-math")));
static void leaky_relu_bwd(ag_node *n) __attribute__((optimize("no-trapping-math")));
#endif

/*     name        op name        forward y = f(v)                 backward f'(v)          */
UNARY(neg,        "neg",        -v,                                -1)
UNARY(exp_,       "exp",        EXP(v),                            out)              /* (e^v)' = e^v */
UNARY(log_,       "log",        LOG(v),                            1 / v)
UNARY(sqrt_,      "sqrt",       SQRT(v),                           (ag_real)0.5 / out)
UNARY(square,     "square",     v * v,                             2 * v)
UNARY(abs_,       "abs",        FABS(v),                           (v > 0) - (v < 0))
/* x^0 = 1 everywhere, so its derivative is 0 even at x = 0 (where 0 · 0^-1 would be NaN) */
UNARY(pow_,       "pow",        POW(v, a),                         a == 0 ? 0 : a * POW(v, a - 1))
UNARY(sigmoid,    "sigmoid",    v >= 0 ? 1 / (1 + EXP(-v)) : EXP(v) / (1 + EXP(v)),
                                                                   out * (1 - out))  /* σ' = σ(1-σ) */
UNARY(tanh_,      "tanh",       TANH(v),                           1 - out * out)
/* NaN rule (autograd.h): relu(NaN) is NaN, and its gradient flows as for x > 0 */
UNARY(relu,       "relu",       v > 0 || v != v ? v : 0,           v > 0 || v != v)
/* leaky_relu as max(v,0) + a·(v ≤ 0 ? v : 0): branch-free (selects, one multiply in every
 * lane), and a·v only where the source computes it; NaN gives 0 + a·NaN = NaN */
UNARY(leaky_relu, "leaky_relu", (v > 0 ? v : 0) + a * (v > 0 ? 0 : v), v > 0 ? 1 : a)
UNARY(elu,        "elu",        v > 0 ? v : a * (EXP(v) - 1),      v > 0 ? 1 : out + a)
/* softplus(v) = log(1+e^v) = max(v,0) + log1p(e^-|v|): no overflow for large |v|. */
UNARY(softplus,   "softplus",   (v > 0 ? v : 0) + LOG1P(EXP(-FABS(v))),
                                                       v >= 0 ? 1 / (1 + EXP(-v)) : EXP(v) / (1 + EXP(v)))
/* log σ(v) = -softplus(-v); its derivative is σ(-v) = 1 - σ(v). */
UNARY(log_sigmoid,"log_sigmoid",(v < 0 ? v : 0) - LOG1P(EXP(-FABS(v))),
                                                       v >= 0 ? EXP(-v) / (1 + EXP(-v)) : 1 / (1 + EXP(v)))
UNARY(clamp,      "clamp",      v < a ? a : (v > b ? b : v),       /* NaN stays */
                                                                   !(v < a) && !(v > b))
UNARY(scale,      "scale",      a * v,                             a)
UNARY(add_scalar, "add_scalar", v + a,                             1)

ag_tensor *ag_neg(ag_tape *t, ag_tensor *x) { return neg_apply(t, x, 0, 0); }
ag_tensor *ag_exp(ag_tape *t, ag_tensor *x) { return exp__apply(t, x, 0, 0); }
ag_tensor *ag_log(ag_tape *t, ag_tensor *x) { return log__apply(t, x, 0, 0); }
ag_tensor *ag_sqrt(ag_tape *t, ag_tensor *x) { return sqrt__apply(t, x, 0, 0); }
ag_tensor *ag_square(ag_tape *t, ag_tensor *x) { return square_apply(t, x, 0, 0); }
ag_tensor *ag_abs(ag_tape *t, ag_tensor *x) { return abs__apply(t, x, 0, 0); }
ag_tensor *ag_pow(ag_tape *t, ag_tensor *x, ag_real p) { return pow__apply(t, x, p, 0); }
ag_tensor *ag_sigmoid(ag_tape *t, ag_tensor *x) { return sigmoid_apply(t, x, 0, 0); }
ag_tensor *ag_tanh(ag_tape *t, ag_tensor *x) { return tanh__apply(t, x, 0, 0); }
ag_tensor *ag_relu(ag_tape *t, ag_tensor *x) { return relu_apply(t, x, 0, 0); }
ag_tensor *ag_leaky_relu(ag_tape *t, ag_tensor *x, ag_real slope) {
    return leaky_relu_apply(t, x, slope, 0);
}
ag_tensor *ag_elu(ag_tape *t, ag_tensor *x, ag_real alpha) { return elu_apply(t, x, alpha, 0); }
ag_tensor *ag_softplus(ag_tape *t, ag_tensor *x) { return softplus_apply(t, x, 0, 0); }
ag_tensor *ag_log_sigmoid(ag_tape *t, ag_tensor *x) { return log_sigmoid_apply(t, x, 0, 0); }
ag_tensor *ag_clamp(ag_tape *t, ag_tensor *x, ag_real lo, ag_real hi) {
    if (lo > hi) ag_error("clamp", "lo %g is above hi %g", (double)lo, (double)hi);
    return clamp_apply(t, x, lo, hi);
}
ag_tensor *ag_scale(ag_tape *t, ag_tensor *x, ag_real s) { return scale_apply(t, x, s, 0); }
ag_tensor *ag_add_scalar(ag_tape *t, ag_tensor *x, ag_real s) {
    return add_scalar_apply(t, x, s, 0);
}
