/* ops_loss.c — losses computed straight from logits / log-variances, each in one fused op.
 *
 * Why fused instead of composed from unary and binary ops: the stable forms below never
 * evaluate e^x for a large x (no overflow) nor log of a number rounded to 0 (no -inf), and
 * their derivatives come out simple (σ(l) - y, softmax - onehot).  Each op returns a value
 * per element (per row for the softmax cross-entropy and the row-summed BCE); reduce with
 * ag_sum / ag_mean. */
#include "autograd/autograd.h"
#include "autograd/internal.h"
#include "autograd/vecmath.h"

#include <math.h>
#include <string.h>

#ifdef AG_DOUBLE
#define EXP exp
#define LOG log
#define LOG1P log1p
#define FABS fabs
#else
#define EXP expf
#define LOG logf
#define LOG1P log1pf
#define FABS fabsf
#endif

#define LOG_2PI ((ag_real)1.8378770664093453) /* log(2π) */

/* σ(v) without overflow for either sign of v. */
static inline ag_real sigmoid(ag_real v) {
    if (v >= 0) return 1 / (1 + EXP(-v));
    ag_real e = EXP(v);
    return e / (1 + e);
}

/* Raises "<op>: <a> and <b> must have the same shape, got (..) and (..)". */
static void check_same(const char *op, const ag_tensor *a, const ag_tensor *b,
                       const char *an, const char *bn) {
    if (ag_same_shape(a, b)) return;
    char sa[64], sb[64];
    ag_error(op, "%s %s and %s %s must have the same shape", an, ag_shape_str(a, sa, sizeof sa),
             bn, ag_shape_str(b, sb, sizeof sb));
}

/* ---- binary cross-entropy from logits --------------------------------------------------
 * -[y log σ(l) + (1-y) log(1-σ(l))] = max(l,0) - l·y + log(1 + e^-|l|): the same value,
 * but e^-|l| ≤ 1 always.  d/dl = σ(l) - y, d/dy = -l (soft targets may be learned). */

/* The plain C loops; in float on x86-64 the vector versions of vecmath.h run instead (the
 * scalar expf/log1pf calls were 15% of a VAE epoch).  Elements are handled in blocks of
 * BCE_BLOCK so the vector loops get whole vectors and each thread whole blocks. */
#define BCE_BLOCK 1024

static void bce_fwd_range(long n, const ag_real *l, const ag_real *y, ag_real *out) {
#ifdef AG_HAVE_VECMATH
    ag_isa isa = ag_kernel_isa();
    if (isa == AG_ISA_AVX512) { ag_bce_fwd_avx512(n, l, y, out); return; }
    if (isa == AG_ISA_AVX2) { ag_bce_fwd_avx2(n, l, y, out); return; }
#endif
    for (long i = 0; i < n; i++)
        out[i] = (l[i] > 0 ? l[i] : 0) - l[i] * y[i] + LOG1P(EXP(-FABS(l[i])));
}

static void bce_bwd_range(long n, const ag_real *l, const ag_real *y, const ag_real *dout,
                          ag_real *dl, ag_real *dy) {
#ifdef AG_HAVE_VECMATH
    ag_isa isa = ag_kernel_isa();
    if (isa == AG_ISA_AVX512) { ag_bce_bwd_avx512(n, l, y, dout, dl, dy); return; }
    if (isa == AG_ISA_AVX2) { ag_bce_bwd_avx2(n, l, y, dout, dl, dy); return; }
#endif
    for (long i = 0; i < n; i++) {
        if (dl) dl[i] += dout[i] * (sigmoid(l[i]) - y[i]); /* σ(l) - y */
        if (dy) dy[i] -= dout[i] * l[i];                    /* -l */
    }
}

static void bce_fwd(ag_node *n) {
    const ag_real *l = n->in[0]->data, *y = n->in[1]->data;
    ag_real *out = n->out->data;
    long size = (long)n->out->size, blocks = (size + BCE_BLOCK - 1) / BCE_BLOCK;
    AG_PARALLEL_FOR(b, blocks, size > AG_PAR_MIN, {
        long lo = b * BCE_BLOCK, len = size - lo < BCE_BLOCK ? size - lo : BCE_BLOCK;
        bce_fwd_range(len, l + lo, y + lo, out + lo);
    });
}

static void bce_bwd(ag_node *n) {
    const ag_real *l = n->in[0]->data, *y = n->in[1]->data, *dout = n->out->grad;
    ag_real *dl = ag_node_grad(n, 0), *dy = ag_node_grad(n, 1);
    long size = (long)n->out->size, blocks = (size + BCE_BLOCK - 1) / BCE_BLOCK;
    AG_PARALLEL_FOR(b, blocks, size > AG_PAR_MIN, {
        long lo = b * BCE_BLOCK, len = size - lo < BCE_BLOCK ? size - lo : BCE_BLOCK;
        bce_bwd_range(len, l + lo, y + lo, dout + lo, dl ? dl + lo : NULL, dy ? dy + lo : NULL);
    });
}

static const ag_op bce_op = {"bce_with_logits", bce_fwd, bce_bwd};

ag_tensor *ag_bce_with_logits(ag_tape *t, ag_tensor *logits, ag_tensor *target) {
    check_same("bce_with_logits", logits, target, "logits", "target");
    return ag_apply(t, &bce_op, (ag_tensor *[]){logits, target}, 2, logits->ndim, logits->shape,
                    NULL, 0);
}

/* ---- BCE summed over each row: the same values, never stored one by one ---------------
 * out[r] = Σ_j bce(l[r, j], y[r, j]) over the row r of x seen as (N, size/N), the sum in
 * double.  A likelihood summed over pixels is what a VAE needs, and this op saves the
 * composed form's two passes over an (N, D) per-element loss (ag_sum_axis forward, and its
 * backward spreading dy[r] over the row).  Backward: d/dl = dy[r]·(σ(l) - y), d/dy = -dy[r]·l. */

static double bce_row_sum(long D, const ag_real *l, const ag_real *y) {
#ifdef AG_HAVE_VECMATH
    ag_isa isa = ag_kernel_isa();
    if (isa == AG_ISA_AVX512) return ag_bce_sum_avx512(D, l, y);
    if (isa == AG_ISA_AVX2) return ag_bce_sum_avx2(D, l, y);
#endif
    double s = 0;
    for (long j = 0; j < D; j++) s += (l[j] > 0 ? l[j] : 0) - l[j] * y[j] + LOG1P(EXP(-FABS(l[j])));
    return s;
}

/* fresh: dl is not yet written (ag_node_grad_fresh), so it gets 0 + the term. */
static void bce_row_bwd(long D, const ag_real *l, const ag_real *y, ag_real g, ag_real *dl,
                        bool fresh, ag_real *dy) {
#ifdef AG_HAVE_VECMATH
    ag_isa isa = ag_kernel_isa();
    if (isa == AG_ISA_AVX512) { ag_bce_sum_bwd_avx512(D, l, y, g, dl, fresh, dy); return; }
    if (isa == AG_ISA_AVX2) { ag_bce_sum_bwd_avx2(D, l, y, g, dl, fresh, dy); return; }
#endif
    for (long j = 0; j < D; j++) {
        if (dl) dl[j] = (fresh ? 0 : dl[j]) + g * (sigmoid(l[j]) - y[j]); /* σ(l) - y */
        if (dy) dy[j] -= g * l[j];                                         /* -l */
    }
}

static void bce_rows_fwd(ag_node *n) {
    const ag_real *l = n->in[0]->data, *y = n->in[1]->data;           /* (N, D) */
    ag_real *out = n->out->data;                                        /* (N) */
    long N = (long)n->out->size, D = N ? (long)(n->in[0]->size / (size_t)N) : 0;
    AG_PARALLEL_FOR(r, N, N > 1 && N * D > AG_PAR_MIN, {
        out[r] = (ag_real)bce_row_sum(D, l + r * D, y + r * D);
    });
}

static void bce_rows_bwd(ag_node *n) {
    const ag_real *l = n->in[0]->data, *y = n->in[1]->data, *dout = n->out->grad;
    bool fresh = false;           /* (not when logits and target are one tensor) */
    ag_real *dl = n->in[0] != n->in[1] ? ag_node_grad_fresh(n, 0, &fresh) : ag_node_grad(n, 0);
    ag_real *dy = ag_node_grad(n, 1);
    long N = (long)n->out->size, D = N ? (long)(n->in[0]->size / (size_t)N) : 0;
    AG_PARALLEL_FOR(r, N, N > 1 && N * D > AG_PAR_MIN, {
        bce_row_bwd(D, l + r * D, y + r * D, dout[r], dl ? dl + r * D : NULL, fresh,
                    dy ? dy + r * D : NULL);
    });
}

static const ag_op bce_rows_op = {"bce_with_logits_rows", bce_rows_fwd, bce_rows_bwd};

ag_tensor *ag_bce_with_logits_rows(ag_tape *t, ag_tensor *logits, ag_tensor *target) {
    check_same("bce_with_logits_rows", logits, target, "logits", "target");
    return ag_apply(t, &bce_rows_op, (ag_tensor *[]){logits, target}, 2, 1,
                    (int[]){logits->shape[0]}, NULL, 0);
}

/* ---- softmax cross-entropy over the classes of each row --------------------------------
 * loss_i = -log softmax(l_i)[k_i] = logsumexp(l_i) - l_i[k_i], with logsumexp taken
 * around the row's max m: m + log Σ_c e^(l_ic - m), every exponent ≤ 0.
 * d loss_i / d l_ic = softmax(l_i)_c - [c = k_i].
 * The labels are copied onto the tape (the caller's array may change before backward);
 * the per-row logsumexp is saved so backward needs one exp per element. */

typedef struct {
    const int *labels; /* (N), on the tape */
    int N, C;
} sce_attr;

static void sce_fwd(ag_node *n) {
    const sce_attr *a = AG_ATTR(n, sce_attr);
    const ag_real *l = n->in[0]->data;                                  /* (N, C) */
    ag_real *out = n->out->data;                                        /* (N) */
    ag_real *lse = n->saved = ag_tape_alloc(n->tape, sizeof(ag_real) * (size_t)a->N); /* (N) */
    int N = a->N, C = a->C;
    AG_PARALLEL_FOR(i, N, (long)N * C > AG_PAR_MIN, {
        const ag_real *row = l + (size_t)i * C;
        ag_real m = row[0], s = 0;
        for (int c = 1; c < C; c++) m = row[c] > m ? row[c] : m;
        for (int c = 0; c < C; c++) s += EXP(row[c] - m);
        lse[i] = m + LOG(s);                                            /* logsumexp */
        out[i] = lse[i] - row[a->labels[i]];
    });
}

static void sce_bwd(ag_node *n) {
    const sce_attr *a = AG_ATTR(n, sce_attr);
    ag_real *dl = ag_node_grad(n, 0);
    if (!dl) return;
    const ag_real *l = n->in[0]->data, *lse = n->saved, *dout = n->out->grad;
    int N = a->N, C = a->C;
    AG_PARALLEL_FOR(i, N, (long)N * C > AG_PAR_MIN, {
        const ag_real *row = l + (size_t)i * C;
        ag_real *drow = dl + (size_t)i * C;
        for (int c = 0; c < C; c++)                      /* softmax - onehot, one += each */
            drow[c] += dout[i] * (EXP(row[c] - lse[i]) - (c == a->labels[i]));
    });
}

static const ag_op sce_op = {"softmax_cross_entropy", sce_fwd, sce_bwd};

ag_tensor *ag_softmax_cross_entropy(ag_tape *t, ag_tensor *logits, const int *labels) {
    char s[64];
    if (logits->ndim != 2 || logits->shape[1] < 1)
        ag_error("softmax_cross_entropy", "expected logits (N, C) with C >= 1, got shape %s",
                 ag_shape_str(logits, s, sizeof s));
    sce_attr a = {.N = logits->shape[0], .C = logits->shape[1]};
    for (int i = 0; i < a.N; i++)
        if (labels[i] < 0 || labels[i] >= a.C)
            ag_error("softmax_cross_entropy", "label %d of row %d is out of range [0, %d) for "
                     "logits %s", labels[i], i, a.C, ag_shape_str(logits, s, sizeof s));
    int *copy = ag_tape_alloc(t, sizeof(int) * (size_t)(a.N ? a.N : 1));
    memcpy(copy, labels, sizeof(int) * (size_t)a.N);
    a.labels = copy;
    return ag_apply(t, &sce_op, &logits, 1, 1, (int[]){a.N}, &a, sizeof a);
}

/* ---- squared error -----------------------------------------------------------------------
 * (p - y)²; d/dp = 2(p - y), d/dy = -2(p - y). */

static void mse_fwd(ag_node *n) {
    const ag_real *p = n->in[0]->data, *y = n->in[1]->data;
    ag_real *out = n->out->data;
    long size = (long)n->out->size;
    AG_PARALLEL_FOR(i, size, size > AG_PAR_MIN, {
        out[i] = (p[i] - y[i]) * (p[i] - y[i]);
    });
}

static void mse_bwd(ag_node *n) {
    const ag_real *p = n->in[0]->data, *y = n->in[1]->data, *dout = n->out->grad;
    ag_real *dp = ag_node_grad(n, 0), *dy = ag_node_grad(n, 1);
    long size = (long)n->out->size;
    AG_PARALLEL_FOR(i, size, size > AG_PAR_MIN, {
        ag_real g = 2 * (p[i] - y[i]) * dout[i];
        if (dp) dp[i] += g;
        if (dy) dy[i] -= g;
    });
}

static const ag_op mse_op = {"mse", mse_fwd, mse_bwd};

ag_tensor *ag_mse(ag_tape *t, ag_tensor *pred, ag_tensor *target) {
    check_same("mse", pred, target, "pred", "target");
    return ag_apply(t, &mse_op, (ag_tensor *[]){pred, target}, 2, pred->ndim, pred->shape,
                    NULL, 0);
}

/* ---- Gaussian negative log-likelihood ----------------------------------------------------
 * -log N(y; μ, σ²) with logvar v = log σ²:  ½(log 2π + v + (y - μ)² e^-v).
 * With r = y - μ:  d/dμ = -r e^-v,  d/dy = r e^-v,  d/dv = ½(1 - r² e^-v).
 * Parametrising by log σ² keeps σ² > 0 without a constraint (seed 001's Gaussian
 * likelihood, whose fixed-variance case is the squared error above).
 *
 * logvar broadcasts to mean's shape like NumPy (aligned from the right, a dimension of 1
 * or a missing one stretches): the same shape, a row (D) shared by every example, or a
 * single (1) variance.  Shapes are padded to 4-D: the output is walked as rows of length
 * D3 and logvar through per-dimension strides, 0 where it is stretched. */

typedef struct {
    int dim[4];           /* output shape padded to 4-D with leading 1s */
    long lv_stride[4];    /* logvar's stride along each padded dim, 0 if broadcast */
    bool lv_full;         /* logvar has the output's shape (no reduction in backward) */
} gnll_attr;

static void gnll_fwd(ag_node *n) {
    const gnll_attr *a = AG_ATTR(n, gnll_attr);
    const ag_real *mu = n->in[0]->data, *lv = n->in[1]->data, *y = n->in[2]->data;
    ag_real *out = n->out->data;
    long rows = (long)a->dim[0] * a->dim[1] * a->dim[2], D = a->dim[3];
    AG_PARALLEL_FOR(r, rows, rows * D > AG_PAR_MIN, {
        long i0 = r / (a->dim[1] * a->dim[2]), i1 = r / a->dim[2] % a->dim[1], i2 = r % a->dim[2];
        const ag_real *v = lv + i0 * a->lv_stride[0] + i1 * a->lv_stride[1] + i2 * a->lv_stride[2];
        for (long d = 0; d < D; d++) {
            long i = r * D + d;
            ag_real vd = v[d * a->lv_stride[3]], res = y[i] - mu[i];
            out[i] = (ag_real)0.5 * (LOG_2PI + vd + res * res * EXP(-vd));
        }
    });
}

static void gnll_bwd(ag_node *n) {
    const gnll_attr *a = AG_ATTR(n, gnll_attr);
    const ag_real *mu = n->in[0]->data, *lv = n->in[1]->data, *y = n->in[2]->data;
    const ag_real *dout = n->out->grad;
    ag_real *dmu = ag_node_grad(n, 0), *dlv = ag_node_grad(n, 1), *dy = ag_node_grad(n, 2);
    long rows = (long)a->dim[0] * a->dim[1] * a->dim[2], D = a->dim[3];
    /* A broadcast logvar sums over the elements that share it: into a zeroed scratch sum
     * first (serially, no race), added to its gradient once at the end, so that every
     * backward adds exactly the same amount. */
    ag_real *dv = dlv;
    if (dlv && !a->lv_full) {
        dv = ag_tape_alloc(n->tape, n->in[1]->size * sizeof(ag_real));
        memset(dv, 0, n->in[1]->size * sizeof(ag_real));
    }
    /* Threads only when every row has its own logvar (no two rows add into one dv[j]). */
    AG_PARALLEL_FOR(r, rows, a->lv_full && rows * D > AG_PAR_MIN, {
        long i0 = r / (a->dim[1] * a->dim[2]), i1 = r / a->dim[2] % a->dim[1], i2 = r % a->dim[2];
        long off = i0 * a->lv_stride[0] + i1 * a->lv_stride[1] + i2 * a->lv_stride[2];
        for (long d = 0; d < D; d++) {
            long i = r * D + d, j = off + d * a->lv_stride[3];
            ag_real res = y[i] - mu[i], iv = EXP(-lv[j]), g = dout[i] * res * iv;
            if (dmu) dmu[i] -= g;                                           /* -r e^-v */
            if (dy) dy[i] += g;                                             /* r e^-v */
            if (dv) dv[j] += dout[i] * (ag_real)0.5 * (1 - res * res * iv); /* ½(1 - r² e^-v) */
        }
    });
    if (dv != dlv)
        for (size_t j = 0; j < n->in[1]->size; j++) dlv[j] += dv[j];
}

static const ag_op gnll_op = {"gaussian_nll", gnll_fwd, gnll_bwd};

ag_tensor *ag_gaussian_nll(ag_tape *t, ag_tensor *mean, ag_tensor *logvar, ag_tensor *target) {
    check_same("gaussian_nll", mean, target, "mean", "target");
    gnll_attr a = {.lv_full = ag_same_shape(mean, logvar)};
    int pad = AG_MAX_DIMS - mean->ndim, lpad = AG_MAX_DIMS - logvar->ndim;
    bool ok = logvar->ndim <= mean->ndim;
    long stride = 1;
    for (int k = AG_MAX_DIMS - 1; k >= 0; k--) {
        a.dim[k] = k < pad ? 1 : mean->shape[k - pad];
        int ld = k < lpad ? 1 : logvar->shape[k - lpad];
        if (ld != 1 && ld != a.dim[k]) ok = false;
        a.lv_stride[k] = ld == 1 ? 0 : stride;
        stride *= ld;
    }
    if (!ok) {
        char sm[64], sl[64];
        ag_error("gaussian_nll", "logvar %s does not broadcast to mean %s (expected the same "
                 "shape, a row, or (1))", ag_shape_str(logvar, sl, sizeof sl),
                 ag_shape_str(mean, sm, sizeof sm));
    }
    return ag_apply(t, &gnll_op, (ag_tensor *[]){mean, logvar, target}, 3, mean->ndim,
                    mean->shape, &a, sizeof a);
}
