/* layers_norm.c — batch normalisation (Ioffe & Szegedy 2015) and layer normalisation
 * (Ba, Kiros & Hinton 2016).
 *
 * Both compute y = γ·(x - μ)/σ + β with σ = √(var + eps); they differ in what μ and var
 * are taken over.  Each is ONE fused op written with the public op API (ag_apply +
 * ag_node_grad, as autograd's own ops are) with the closed-form backward.  Composing it
 * from ~10 elementwise ops (sub, square, mean, add, sqrt, div, mul, ...) would give the
 * same gradients but keep every intermediate of the activation's size on the tape and
 * walk the data ten times; the fused op keeps two numbers per channel (μ, 1/σ) and
 * recomputes x̂ = (x - μ)/σ in backward.
 *
 * batchnorm: x viewed as (N, C, S) — C channels, S positions per channel (S = 1 for a
 *   vector input (D), where C = D; S = H·W for an image (C, H, W); S = L for (C, L)).
 *   μ_c, var_c over the N·S values of channel c.  γ, β of shape (C).
 *   training: batch statistics, and the running averages are updated (PyTorch's
 *     convention, momentum m = 0.1):  running = (1 - m)·running + m·batch, with the
 *     unbiased variance var·M/(M-1), M = N·S, for running_var.  The update happens on
 *     every forward with training = true, whether or not gradients are being recorded.
 *   eval: the running averages, which are then constants of the op.
 *   eps: 1e-5, or the spec's number ("batchnorm 1e-3", .f) when nonzero.
 *   activation: a relu or leaky_relu right after a batchnorm in a net runs inside the
 *     same op (batchnorm's forward_with_next, nn_forward): y = act(γx̂ + β) in the one pass
 *     that normalises, and backward takes dy·act'(γx̂ + β) (recomputed from x) in the passes
 *     it makes anyway.  Unfused, the activation would read and write the whole tensor once
 *     more each way and keep a second tensor on the tape.  The arithmetic is the same, so
 *     the results are the same bits as the two layers run one after the other.
 * layernorm: μ, var over all the features of one example; γ, β have the per-example shape
 *   (elementwise affine, like PyTorch's LayerNorm(x.shape[1:])).  Same in training and
 *   eval; eps as for batchnorm. */
#include "nn/layer.h"
#include "nn/dist.h"     /* nn_batchnorm_set_reduce: synchronized batch norm */
#include "autograd/parallel.h" /* AG_PARALLEL_FOR: threads for big loops, no malloc */

#include <math.h>
#include <string.h>

#define BN_MOMENTUM 0.1
#define NORM_EPS 1e-5
#define PAR_MIN 32768 /* values below which a loop is not worth splitting across threads */

static double norm_eps(const nn_layer *l) { return l->spec.f != 0 ? l->spec.f : NORM_EPS; }

static int check_eps(const nn_layer *l, nn_error *err) {
    if (l->spec.f < 0)
        return nn_fail(err, "%s: eps must be positive, got %g", l->type->name, l->spec.f);
    return 0;
}

/* ---- batchnorm: the op ----------------------------------------------------------------------
 * in: x (N, C, S...), γ (C), β (C).  attr: μ and 1/σ per channel, computed by the layer
 * (from this batch or from the running averages) in the tape's arena, and whether they
 * are batch statistics — then they are functions of x and backward differentiates
 * through them. */

enum { BN_ACT_NONE, BN_ACT_RELU, BN_ACT_LEAKY }; /* the activation fused after the norm */

typedef struct {
    int N, C, S;
    bool batch_stats;
    signed char act;              /* BN_ACT_*; slope for BN_ACT_LEAKY */
    const ag_real *mean, *invstd; /* (C) each, arena */
    double M;                     /* values per channel the statistics were taken over */
    void (*reduce)(double *v, int n, void *ctx); /* synchronized batch norm, or NULL */
    void *reduce_ctx;
    ag_real slope;
} bn_attr;

/* ---- synchronized batch norm (see nn/dist.h) ---------------------------------------------
 * With a reduce hook installed, the per-channel sums behind the batch statistics, and the
 * two sums behind backward's means, are summed over every process of a data-parallel job
 * before use: each process then normalises its slice with the statistics of the whole
 * global batch, exactly as one process would.  The hook is process-wide (like the MPI
 * communicator it stands for); without it nothing below changes by a bit. */
static void (*bn_reduce)(double *v, int n, void *ctx);
static void *bn_reduce_ctx;

void nn_batchnorm_set_reduce(void (*reduce)(double *v, int n, void *ctx), void *ctx) {
    bn_reduce = reduce;
    bn_reduce_ctx = ctx;
}

/* The selects below stay branch-free in vector code only if GCC may compute both arms
 * (slope·v also where v > 0): with trapping math on it keeps a branch per value and the
 * loop scalar.  Computing an arm whose result is dropped changes no result, and the
 * library never reads the FP exception flags; so the kernels (inlined into bn_fwd and
 * bn_bwd, which carry the same attribute) are compiled without trapping math. */
#if defined(__GNUC__) && !defined(__clang__)
#define BN_FAST __attribute__((optimize("no-trapping-math")))
#define BN_INLINE static inline __attribute__((always_inline, optimize("no-trapping-math")))
#elif defined(__GNUC__)
#define BN_FAST
#define BN_INLINE static inline __attribute__((always_inline))
#else
#define BN_FAST
#define BN_INLINE static inline
#endif
/* The fused activation and its derivative at v = γx̂ + β, exactly as ag_relu and
 * ag_leaky_relu compute them (NaN rule included: relu passes a NaN and its gradient).
 * `act` is a constant in every kernel below (BN_KERNEL instantiates one per activation),
 * so these fold into straight-line selects: no branch per value, and loops vectorise. */
BN_INLINE ag_real act_fwd(int act, ag_real slope, ag_real v) {
    if (act == BN_ACT_RELU) return ((v > 0) | (v != v)) ? v : 0;   /* | : no branch */
    if (act == BN_ACT_LEAKY) return v > 0 ? v : slope * v;
    return v;
}
BN_INLINE ag_real act_grad(int act, ag_real slope, ag_real dy, ag_real v) {
    if (act == BN_ACT_RELU) return dy * (ag_real)((v > 0) | (v != v));
    if (act == BN_ACT_LEAKY) return dy * (v > 0 ? 1 : slope);
    return dy;
}

/* Calls KERNEL(..., act) with act a literal for the node's activation. */
#define BN_KERNEL(act_value, KERNEL, ...)                                                  \
    do {                                                                               \
        if ((act_value) == BN_ACT_RELU) KERNEL(__VA_ARGS__, BN_ACT_RELU);              \
        else if ((act_value) == BN_ACT_LEAKY) KERNEL(__VA_ARGS__, BN_ACT_LEAKY);       \
        else KERNEL(__VA_ARGS__, BN_ACT_NONE);                                         \
    } while (0)

/* Per-channel coefficients: y = act(x·scale + shift) with scale = γ/σ, shift = β − μ·scale. */
static ag_real *bn_coefs(ag_node *n, const bn_attr *a) {
    const ag_real *gamma = n->in[1]->data, *beta = n->in[2]->data;
    ag_real *scale = ag_tape_alloc(n->tape, 2 * sizeof(ag_real) * (size_t)a->C);
    for (int c = 0; c < a->C; c++) {
        scale[c] = gamma[c] * a->invstd[c];
        scale[a->C + c] = beta[c] - a->mean[c] * scale[c];
    }
    return scale;
}

/* Layouts.  S > 1 (images): each (example, channel) row of S values is contiguous; the
 * loops run along it.  S == 1 (vectors (N, C)): a channel's values are C apart, so the
 * loops run along an example's row of channels instead, each channel's running sums in
 * its own slot — the same order of additions per channel either way. */
BN_INLINE void bn_fwd_kernel(const bn_attr *a, const ag_real *restrict x, ag_real *restrict y,
                             const ag_real *scale, int act) {
    const int N = a->N, C = a->C, S = a->S;
    const ag_real *shift = scale + C, slope = a->slope;
    if (S == 1) {
        AG_PARALLEL_FOR(i, N, (long)N * C > PAR_MIN, {
            const ag_real *xi = x + (size_t)i * C;
            ag_real *yi = y + (size_t)i * C;
            for (int c = 0; c < C; c++) yi[c] = act_fwd(act, slope, xi[c] * scale[c] + shift[c]);
        });
        return;
    }
    AG_PARALLEL_FOR(c, C, (long)N * C * S > PAR_MIN, {
        ag_real sc = scale[c], sh = shift[c];
        for (int i = 0; i < N; i++) {
            size_t o = ((size_t)i * C + c) * S;
            for (int s = 0; s < S; s++) y[o + s] = act_fwd(act, slope, x[o + s] * sc + sh); /* γx̂ + β */
        }
    });
}

BN_FAST static void bn_fwd(ag_node *n) {
    const bn_attr *a = AG_ATTR(n, bn_attr);
    const ag_real *scale = bn_coefs(n, a);
    BN_KERNEL(a->act, bn_fwd_kernel, a, n->in[0]->data, n->out->data, scale);
}

/* Backward.  g = dy·act'(γx̂ + β) is the gradient at the norm's output (g = dy without a
 * fused activation, recomputed where needed rather than stored); the formulas are in g.
 * sums[c] = Σg and sums[C + c] = Σg·x̂ over channel c. */
#define BN_ROW 256   /* channels summed side by side when S == 1 */
#define BN_GROUP 8   /* ... and when S > 1 */
BN_INLINE void bn_sums_kernel(const bn_attr *a, const ag_real *restrict x,
                              const ag_real *restrict dy, const ag_real *scale, double *sums,
                              int act) {
    const int N = a->N, C = a->C, S = a->S;
    const ag_real *shift = scale + C, slope = a->slope;
    if (S == 1) {
        AG_PARALLEL_FOR(blk, (C + BN_ROW - 1) / BN_ROW, (long)N * C > PAR_MIN, {
            int c0 = (int)blk * BN_ROW, c1 = c0 + BN_ROW < C ? c0 + BN_ROW : C;
            double *sd = sums, *sx = sums + C;
            for (int c = c0; c < c1; c++) sd[c] = 0, sx[c] = 0;
            for (int i = 0; i < N; i++) {
                const ag_real *xi = x + (size_t)i * C, *dyi = dy + (size_t)i * C;
                for (int c = c0; c < c1; c++) {
                    ag_real g = act_grad(act, slope, dyi[c], xi[c] * scale[c] + shift[c]);
                    sd[c] += g;
                    sx[c] += (double)g * ((xi[c] - a->mean[c]) * a->invstd[c]);
                }
            }
        });
        return;
    }
    /* BN_GROUP channels side by side, each with its own two sums in its own order (as
     * channel_sums): 2·BN_GROUP independent chains of additions instead of 2. */
    AG_PARALLEL_FOR(blk, (C + BN_GROUP - 1) / BN_GROUP, (long)N * C * S > PAR_MIN, {
        int c0 = (int)blk * BN_GROUP, m = C - c0 < BN_GROUP ? C - c0 : BN_GROUP;
        double sd[BN_GROUP] = {0}, sx[BN_GROUP] = {0};   /* Σ g,  Σ g·x̂ per channel */
        for (int i = 0; i < N; i++)
            for (int k = 0; k < S; k++) {
                size_t o = ((size_t)i * C + c0) * S + k;   /* channel c0, then +S */
                for (int q = 0; q < m; q++) {
                    int c = c0 + q;
                    ag_real v = x[o + (size_t)q * S];
                    ag_real g = act_grad(act, slope, dy[o + (size_t)q * S], v * scale[c] + shift[c]);
                    sd[q] += g;
                    sx[q] += (double)g * ((v - a->mean[c]) * a->invstd[c]);
                }
            }
        for (int q = 0; q < m; q++) sums[c0 + q] = sd[q], sums[C + c0 + q] = sx[q];
    });
}

/* dx += γ/σ·(g − mean_g − x̂·mean_gx̂) with the means 0 for fixed statistics. */
BN_INLINE void bn_dx_kernel(const bn_attr *a, const ag_real *restrict x,
                            const ag_real *restrict dy, ag_real *restrict dx,
                            const ag_real *gamma, const ag_real *scale, const ag_real *means,
                            int act) {
    const int N = a->N, C = a->C, S = a->S;
    const ag_real *shift = scale + C, slope = a->slope, *mean_dy = means,
                  *mean_dy_xhat = means + C;
    if (S == 1) {
        AG_PARALLEL_FOR(i, N, (long)N * C > PAR_MIN, {
            const ag_real *xi = x + (size_t)i * C, *dyi = dy + (size_t)i * C;
            ag_real *dxi = dx + (size_t)i * C;
            for (int c = 0; c < C; c++) {
                ag_real k = gamma[c] * a->invstd[c];
                ag_real xhat = (xi[c] - a->mean[c]) * a->invstd[c];
                ag_real g = act_grad(act, slope, dyi[c], xi[c] * scale[c] + shift[c]);
                dxi[c] += k * (g - mean_dy[c] - xhat * mean_dy_xhat[c]);
            }
        });
        return;
    }
    AG_PARALLEL_FOR(c, C, (long)N * C * S > PAR_MIN, {
        ag_real mu = a->mean[c], is = a->invstd[c], sc = scale[c], sh = shift[c];
        ag_real k = gamma[c] * is, md = mean_dy[c], mdx = mean_dy_xhat[c];
        for (int i = 0; i < N; i++) {
            size_t o = ((size_t)i * C + c) * S;
            for (int s = 0; s < S; s++) {
                ag_real xhat = (x[o + s] - mu) * is;
                ag_real g = act_grad(act, slope, dy[o + s], x[o + s] * sc + sh);
                dx[o + s] += k * (g - md - xhat * mdx);
            }
        }
    });
}

BN_FAST static void bn_bwd(ag_node *n) {
    const bn_attr *a = AG_ATTR(n, bn_attr);
    const ag_real *x = n->in[0]->data, *gamma = n->in[1]->data, *dy = n->out->grad;
    ag_real *dx = ag_node_grad(n, 0), *dgamma = ag_node_grad(n, 1), *dbeta = ag_node_grad(n, 2);
    int C = a->C;
    double M = a->M;
    const ag_real *scale = bn_coefs(n, a);
    double *sums = ag_tape_alloc(n->tape, 2 * sizeof(double) * (size_t)C); /* Σg, Σg·x̂ */
    BN_KERNEL(a->act, bn_sums_kernel, a, x, dy, scale, sums);
    for (int c = 0; c < C; c++) {
        if (dgamma) dgamma[c] += (ag_real)sums[C + c];  /* dγ = Σ g·x̂ */
        if (dbeta) dbeta[c] += (ag_real)sums[c];         /* dβ = Σ g */
    }
    if (!dx) return;
    /* Synchronized: dx needs the means over the global batch (dγ, dβ stay this slice's
     * share: the gradient sum across processes adds them up). */
    if (a->batch_stats && a->reduce) a->reduce(sums, 2 * C, a->reduce_ctx);
    /* batch statistics: dx = (1/M)·γ/σ·(M·g − Σg − x̂·Σ(g·x̂));  fixed ones: γ/σ·g */
    ag_real *means = ag_tape_alloc(n->tape, 2 * sizeof(ag_real) * (size_t)C);
    for (int c = 0; c < C; c++) {
        means[c] = a->batch_stats ? (ag_real)(sums[c] / M) : 0;
        means[C + c] = a->batch_stats ? (ag_real)(sums[C + c] / M) : 0;
    }
    BN_KERNEL(a->act, bn_dx_kernel, a, x, dy, dx, gamma, scale, means);
}

static const ag_op batchnorm_op = {"batchnorm", bn_fwd, bn_bwd};

/* ---- batchnorm: the layer ------------------------------------------------------------------ */

enum { BN_GAMMA, BN_BETA, BN_RUNNING_MEAN, BN_RUNNING_VAR }; /* order of l->params */

/* out[c] = Σ over channel c of x (mu NULL) or of (x - mu[c])², in double, each channel's
 * values added in the order they are stored.  Channels are independent running sums, so
 * a block of channels is summed side by side (along a row of channels when S == 1, where
 * that is the memory order; BN_GROUP channels interleaved when S > 1): the additions
 * overlap in the pipeline instead of waiting on one another, and every channel's sum is
 * the same bits as summed alone.  out may be mu. */
/* S > 1: BN_GROUP (8) channels from c0 on, each summed along its N rows of S values, the 8
 * sums interleaved in registers.  Kept scalar: GCC would otherwise pack the 8 strided
 * loads into vectors with shuffles, 4× slower than these 8 independent additions. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((noinline, optimize("no-tree-vectorize")))
#endif
static void group_sums(const ag_real *x, int N, int C, int S, int c0, const double *centre,
                       double *out) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (int i = 0; i < N; i++) {
        const ag_real *v = x + ((size_t)i * C + c0) * S;   /* channel c0's row, then +S */
        const ag_real *v1 = v + S, *v2 = v1 + S, *v3 = v2 + S, *v4 = v3 + S, *v5 = v4 + S,
                      *v6 = v5 + S, *v7 = v6 + S;
        if (centre)
            for (int k = 0; k < S; k++) {
#define SQ(sum, row, g) do { double d = (row)[k] - centre[g]; sum += d * d; } while (0)
                SQ(s0, v, 0); SQ(s1, v1, 1); SQ(s2, v2, 2); SQ(s3, v3, 3);
                SQ(s4, v4, 4); SQ(s5, v5, 5); SQ(s6, v6, 6); SQ(s7, v7, 7);
#undef SQ
            }
        else
            for (int k = 0; k < S; k++) {
                s0 += v[k], s1 += v1[k], s2 += v2[k], s3 += v3[k];
                s4 += v4[k], s5 += v5[k], s6 += v6[k], s7 += v7[k];
            }
    }
    out[0] = s0, out[1] = s1, out[2] = s2, out[3] = s3;
    out[4] = s4, out[5] = s5, out[6] = s6, out[7] = s7;
}

static void channel_sums(const bn_attr *a, const ag_real *x, const double *mu, double *out) {
    const int N = a->N, C = a->C, S = a->S;
    const int block = S == 1 ? BN_ROW : BN_GROUP;
    AG_PARALLEL_FOR(blk, (C + block - 1) / block, (long)N * C * S > PAR_MIN, {
        int c0 = (int)blk * block, m = C - c0 < block ? C - c0 : block;
        double sum[BN_ROW], centre[BN_ROW];
        for (int g = 0; g < m; g++) sum[g] = 0, centre[g] = mu ? mu[c0 + g] : 0;
        if (S > 1 && m == BN_GROUP) {
            group_sums(x, N, C, S, c0, mu ? centre : NULL, sum);
        } else {
            for (int i = 0; i < N; i++)
                for (int k = 0; k < S; k++) {
                    const ag_real *v = x + ((size_t)i * C + c0) * S + k; /* channel c0, then +S */
                    if (mu)
                        for (int g = 0; g < m; g++) {
                            double d = v[(size_t)g * S] - centre[g];
                            sum[g] += d * d;
                        }
                    else
                        for (int g = 0; g < m; g++) sum[g] += v[(size_t)g * S];
                }
        }
        for (int g = 0; g < m; g++) out[c0 + g] = sum[g];
    });
}

static int batchnorm_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    (void)rng;
    if (check_eps(l, err)) return -1;
    int C = l->in_shape[0];
    ag_fill(nn_layer_param(l, "gamma", 1, &C, true), 1);
    ag_fill(nn_layer_param(l, "beta", 1, &C, true), 0);
    /* Buffers: not trained, but saved with the parameters so a checkpoint evaluates alike. */
    ag_fill(nn_layer_param(l, "running_mean", 1, &C, false), 0);
    ag_fill(nn_layer_param(l, "running_var", 1, &C, false), 1);
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    return 0;
}

static ag_tensor *batchnorm_act(nn_layer *l, ag_tape *t, ag_tensor *x, bool training, int act,
                                ag_real slope) {
    bn_attr a = {.N = x->shape[0], .C = l->in_shape[0], .S = 1, .batch_stats = training,
                 .act = (signed char)act, .slope = slope};
    for (int i = 1; i < l->in_ndim; i++) a.S *= l->in_shape[i];
    ag_real *running_mean = l->params.items[BN_RUNNING_MEAN].value->data;
    ag_real *running_var = l->params.items[BN_RUNNING_VAR].value->data;
    double eps = norm_eps(l), M = (double)a.N * a.S;
    ag_real *mean = ag_tape_alloc(t, 2 * sizeof(ag_real) * (size_t)a.C), *invstd = mean + a.C;
    const ag_real *xd = x->data;
    if (!training) {
        for (int c = 0; c < a.C; c++) {
            mean[c] = running_mean[c];
            invstd[c] = (ag_real)(1 / sqrt((double)running_var[c] + eps));
        }
    } else {
        if (bn_reduce) a.reduce = bn_reduce, a.reduce_ctx = bn_reduce_ctx;
        /* Two passes: Σx, then Σ(x - μ)² (no cancellation).  s1[C] carries M through the
         * reduction, so processes with slices of different sizes weigh right. */
        double *s1 = ag_tape_alloc(t, sizeof(double) * (size_t)(2 * a.C + 1)), *s2 = s1 + a.C + 1;
        channel_sums(&a, xd, NULL, s1);
        s1[a.C] = M;
        if (a.reduce) a.reduce(s1, a.C + 1, a.reduce_ctx), M = s1[a.C];
        if (M < 2) {
            char b[64];
            ag_error("batchnorm", "training needs more than one value per channel to estimate "
                                  "a variance; input %s", ag_shape_str(x, b, sizeof b));
        }
        for (int c = 0; c < a.C; c++) s2[c] = s1[c] / M;   /* μ, then Σ(x - μ)² in place */
        channel_sums(&a, xd, s2, s2);
        if (a.reduce) a.reduce(s2, a.C, a.reduce_ctx);
        for (int c = 0; c < a.C; c++) {
            double mu = s1[c] / M, var = s2[c] / M; /* biased: what the batch is normalised with */
            mean[c] = (ag_real)mu;
            invstd[c] = (ag_real)(1 / sqrt(var + eps));
            running_mean[c] = (ag_real)((1 - BN_MOMENTUM) * running_mean[c] + BN_MOMENTUM * mu);
            running_var[c] = (ag_real)((1 - BN_MOMENTUM) * running_var[c] +
                                       BN_MOMENTUM * var * M / (M - 1)); /* unbiased */
        }
    }
    a.M = M;
    a.mean = mean;
    a.invstd = invstd;
    return ag_apply(t, &batchnorm_op,
                    (ag_tensor *[]){x, l->params.items[BN_GAMMA].value,
                                    l->params.items[BN_BETA].value},
                    3, x->ndim, x->shape, &a, sizeof a);
}

static ag_tensor *batchnorm_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    return batchnorm_act(l, t, x, training, BN_ACT_NONE, 0);
}

/* batchnorm, then a relu or leaky_relu: one op (see the top of the file). */
static ag_tensor *batchnorm_forward_with_next(nn_layer *l, const nn_layer *next, ag_tape *t,
                                              ag_tensor *x, bool training) {
    if (next->type == &nn_relu_type) return batchnorm_act(l, t, x, training, BN_ACT_RELU, 0);
    if (next->type == &nn_leaky_relu_type)   /* the slope as nn_leaky_relu_type reads it */
        return batchnorm_act(l, t, x, training, BN_ACT_LEAKY,
                             (ag_real)(next->spec.f ? next->spec.f : 0.01));
    return NULL;
}

const nn_layer_type nn_batchnorm_type = {
    .name = "batchnorm", .usage = "batchnorm [EPS]", .arg = NN_ARG_REAL_OPT,
    .init_transparent = true,
    .build = batchnorm_build, .forward = batchnorm_forward,
    .forward_with_next = batchnorm_forward_with_next};

/* ---- layernorm: the op ------------------------------------------------------------------------
 * in: x (N, D...), γ and β of x's per-example shape.  Statistics per example, computed
 * here and kept in n->saved as (μ, 1/σ) pairs for backward. */

typedef struct {
    int N, D;
    double eps;
} ln_attr;

static void ln_fwd(ag_node *n) {
    const ln_attr *a = AG_ATTR(n, ln_attr);
    const ag_real *x = n->in[0]->data, *gamma = n->in[1]->data, *beta = n->in[2]->data;
    ag_real *y = n->out->data;
    int N = a->N, D = a->D;
    ag_real *stats = ag_tape_alloc(n->tape, 2 * sizeof(ag_real) * (size_t)N); /* (μ, 1/σ) */
    n->saved = stats;
    AG_PARALLEL_FOR(i, N, (long)N * D > PAR_MIN, {
        const ag_real *xi = x + (size_t)i * D;
        ag_real *yi = y + (size_t)i * D;
        double s1 = 0, s2 = 0;
        for (int j = 0; j < D; j++) s1 += xi[j];
        double mu = s1 / D;
        for (int j = 0; j < D; j++) s2 += (xi[j] - mu) * (xi[j] - mu);
        ag_real m = (ag_real)mu, is = (ag_real)(1 / sqrt(s2 / D + a->eps));
        stats[2 * i] = m;
        stats[2 * i + 1] = is;
        for (int j = 0; j < D; j++) yi[j] = gamma[j] * ((xi[j] - m) * is) + beta[j]; /* γx̂ + β */
    });
}

static void ln_bwd(ag_node *n) {
    const ln_attr *a = AG_ATTR(n, ln_attr);
    const ag_real *x = n->in[0]->data, *gamma = n->in[1]->data, *dy = n->out->grad;
    const ag_real *stats = n->saved;
    ag_real *dx = ag_node_grad(n, 0), *dgamma = ag_node_grad(n, 1), *dbeta = ag_node_grad(n, 2);
    int N = a->N, D = a->D;
    /* dx = (1/D)·(1/σ)·(D·g − Σg − x̂·Σ(g·x̂)) with g = γ·dy, per example */
    if (dx) {
        AG_PARALLEL_FOR(i, N, (long)N * D > PAR_MIN, {
            const ag_real *xi = x + (size_t)i * D, *dyi = dy + (size_t)i * D;
            ag_real m = stats[2 * i], is = stats[2 * i + 1];
            double sum_g = 0, sum_g_xhat = 0;
            for (int j = 0; j < D; j++) {
                double g = (double)gamma[j] * dyi[j];
                sum_g += g;
                sum_g_xhat += g * ((xi[j] - m) * is);
            }
            ag_real mean_g = (ag_real)(sum_g / D), mean_g_xhat = (ag_real)(sum_g_xhat / D);
            ag_real *dxi = dx + (size_t)i * D;
            for (int j = 0; j < D; j++) {
                ag_real xhat = (xi[j] - m) * is;
                dxi[j] += is * (gamma[j] * dyi[j] - mean_g - xhat * mean_g_xhat);
            }
        });
    }
    /* dγ_j = Σ_i dy·x̂,  dβ_j = Σ_i dy: summed over examples, one thread per feature. */
    if (dgamma || dbeta) {
        AG_PARALLEL_FOR(j, D, (long)N * D > PAR_MIN, {
            double sg = 0, sb = 0;
            for (int i = 0; i < N; i++) {
                size_t o = (size_t)i * D + j;
                sg += (double)dy[o] * ((x[o] - stats[2 * i]) * stats[2 * i + 1]);
                sb += dy[o];
            }
            if (dgamma) dgamma[j] += (ag_real)sg;
            if (dbeta) dbeta[j] += (ag_real)sb;
        });
    }
}

static const ag_op layernorm_op = {"layernorm", ln_fwd, ln_bwd};

/* ---- layernorm: the layer -------------------------------------------------------------------- */

static int layernorm_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    (void)rng;
    if (check_eps(l, err)) return -1;
    ag_fill(nn_layer_param(l, "gamma", l->in_ndim, l->in_shape, true), 1);
    ag_fill(nn_layer_param(l, "beta", l->in_ndim, l->in_shape, true), 0);
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    return 0;
}

static ag_tensor *layernorm_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    (void)training; /* per-example statistics: nothing differs between training and eval */
    ln_attr a = {.N = x->shape[0], .D = (int)(x->size / (size_t)x->shape[0]),
                 .eps = norm_eps(l)};
    return ag_apply(t, &layernorm_op,
                    (ag_tensor *[]){x, l->params.items[0].value, l->params.items[1].value}, 3,
                    x->ndim, x->shape, &a, sizeof a);
}

const nn_layer_type nn_layernorm_type = {
    .name = "layernorm", .usage = "layernorm [EPS]", .arg = NN_ARG_REAL_OPT,
    .init_transparent = true,
    .build = layernorm_build, .forward = layernorm_forward};
