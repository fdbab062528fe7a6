/* ops_likelihood.c — likelihoods over discrete values, as fused ops.
 *
 * The discretized logistic (Salimans et al. 2017, PixelCNN++, one mixture component): an
 * 8-bit pixel value k ∈ {0..255}, seen as x = k/255, has the probability the logistic
 * distribution with location μ and scale s = e^ls puts on its bin [x − h, x + h],
 * h = ½/255, with the two edge bins stretched to ±∞ so the 256 probabilities sum to 1:
 *
 *   p(k) = σ(a) − σ(b),   a = (x − μ + h)/s,  b = (x − μ − h)/s     (0 < k < 255)
 *   p(0) = σ(a),  p(255) = 1 − σ(b).
 *
 * Why its own op (not composed from ag_sigmoid, ag_sub, ag_log): the difference σ(a) − σ(b)
 * cancels to 0 when both sit in the same tail (a pixel far from its mean), and its log is
 * then −inf.  PixelCNN++ patches that with a fallback (the density at the bin centre times
 * the bin width) below a threshold.  Here the difference is factorised exactly,
 *
 *   σ(a) − σ(b) = σ(a) · σ(−b) · (1 − e^−(a−b)),   a − b = 2h/s =: d > 0,
 *
 * so ln p = −softplus(−a) − softplus(b) + ln(1 − e^−d): three terms that are each stable
 * for any a, b, and no threshold is needed.  The one limit left is d → 0 (a scale far wider
 * than the image's range, or ls > ~700 where e^−ls underflows): then ln(1 − e^−d) is taken
 * from its series ln d − d/2 with ln d = ln 2h − ls in closed form, which is the centre-bin
 * density of PixelCNN++'s fallback in the limit.  Everything is computed in double, also
 * in the float build.  Values are in nats; the level of x is round(x·(levels−1)), so x gets
 * gradient 0 (p is piecewise constant in it), exactly. */
#include "autograd/autograd.h"
#include "autograd/internal.h"

#include <math.h>

typedef struct {
    int levels;           /* 256 for 8-bit values */
} dlog_attr;

static double softplus(double v) { return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)); }
static double sigmoid(double v) {
    if (v >= 0) return 1 / (1 + exp(-v));
    double e = exp(v);
    return e / (1 + e);
}

/* The pieces of one element: a, b, d and ln(1 − e^−d) (the middle bins). */
typedef struct { double a, b, d, log1m; int k, last; } dlog_point;

static dlog_point dlog_at(double mu, double ls, double x, int levels) {
    dlog_point p;
    p.last = levels - 1;
    double kk = floor(x * p.last + 0.5);
    p.k = kk < 0 ? 0 : kk > p.last ? p.last : (int)kk;
    double h = 0.5 / p.last, c = (double)p.k / p.last, s_inv = exp(-ls);
    p.a = s_inv * (c - mu + h);                           /* upper edge, in scale units */
    p.b = s_inv * (c - mu - h);                           /* lower edge */
    p.d = 2 * h * s_inv;                                  /* a − b, without the cancellation */
    p.log1m = p.d < 1e-8 ? log(2 * h) - ls - p.d / 2      /* ln d − d/2: the d → 0 limit */
              : p.d < 0.6931471805599453 ? log(-expm1(-p.d)) : log1p(-exp(-p.d));
    return p;
}

static void dlog_fwd(ag_node *n) {
    int levels = AG_ATTR(n, dlog_attr)->levels;
    const ag_real *mu = n->in[0]->data, *ls = n->in[1]->data, *x = n->in[2]->data;
    ag_real *out = n->out->data;
    long size = (long)n->out->size;
    AG_PARALLEL_FOR(i, size, size > AG_PAR_MIN / 8, {
        dlog_point p = dlog_at(mu[i], ls[i], x[i], levels);
        double lp = p.k == 0        ? -softplus(-p.a)                       /* ln σ(a) */
                    : p.k == p.last ? -softplus(p.b)                        /* ln σ(−b) */
                                    : -softplus(-p.a) - softplus(p.b) + p.log1m;
        out[i] = (ag_real)-lp;
    });
}

/* With f = ln p:  ∂f/∂a = σ(−a) (+ 1/(e^d − 1) in the middle), ∂f/∂b = −σ(b) (− the same),
 * and ∂a/∂μ = ∂b/∂μ = −1/s, ∂a/∂ls = −a, ∂b/∂ls = −b.  So
 *   ∂f/∂μ  = −(σ(−a)·[k < last] − σ(b)·[k > 0]) / s
 *   ∂f/∂ls = −a·σ(−a)·[k < last] + b·σ(b)·[k > 0] − [0 < k < last]·d/(e^d − 1),
 * and the op's output is −f. */
static void dlog_bwd(ag_node *n) {
    int levels = AG_ATTR(n, dlog_attr)->levels;
    const ag_real *mu = n->in[0]->data, *ls = n->in[1]->data, *x = n->in[2]->data;
    const ag_real *dout = n->out->grad;
    ag_real *dmu = ag_node_grad(n, 0), *dls = ag_node_grad(n, 1);
    long size = (long)n->out->size;
    AG_PARALLEL_FOR(i, size, size > AG_PAR_MIN / 8, {
        dlog_point p = dlog_at(mu[i], ls[i], x[i], levels);
        double up = p.k < p.last ? sigmoid(-p.a) : 0, lo = p.k > 0 ? sigmoid(p.b) : 0;
        double g_mu = -(up - lo) * exp(-ls[i]);
        double g_ls = (p.k < p.last ? -p.a * up : 0) + (p.k > 0 ? p.b * lo : 0);
        if (p.k > 0 && p.k < p.last)                           /* d/(e^d − 1), → 1 as d → 0 */
            g_ls -= p.d < 1e-8 ? 1 - p.d / 2 : p.d > 700 ? 0 : p.d / expm1(p.d);
        if (dmu) dmu[i] -= (ag_real)(dout[i] * g_mu);
        if (dls) dls[i] -= (ag_real)(dout[i] * g_ls);
    });
}

static const ag_op dlog_op = {"discretized_logistic_nll", dlog_fwd, dlog_bwd};

ag_tensor *ag_discretized_logistic_nll(ag_tape *t, ag_tensor *mean, ag_tensor *log_scale,
                                       ag_tensor *target, int levels) {
    char s0[64], s1[64], s2[64];
    if (!ag_same_shape(mean, log_scale) || !ag_same_shape(mean, target))
        ag_error("discretized_logistic_nll", "mean %s, log_scale %s and target %s must have "
                 "the same shape", ag_shape_str(mean, s0, sizeof s0),
                 ag_shape_str(log_scale, s1, sizeof s1), ag_shape_str(target, s2, sizeof s2));
    if (levels < 2)
        ag_error("discretized_logistic_nll", "levels must be at least 2, got %d", levels);
    dlog_attr a = {levels};
    return ag_apply(t, &dlog_op, (ag_tensor *[]){mean, log_scale, target}, 3, mean->ndim,
                    mean->shape, &a, sizeof a);
}
