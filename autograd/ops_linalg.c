/* ops_linalg.c — matrix products, all through the one GEMM (gemm.c).
 *
 * For C = op(A)·op(B) the backward products are dÂ = dC·op(B)ᵀ and dB̂ = op(A)ᵀ·dC;
 * when an operand was read transposed, its gradient is the transpose of that, which the
 * GEMM again expresses with a flag instead of a copy. */
#include "autograd/autograd.h"
#include "autograd/internal.h"
#include "autograd/kernels.h" /* ag_gemm_fused: the bias in the GEMM's store */

#include <string.h>

typedef struct {
    bool ta, tb;
    int batch, M, N, K;
    bool a_shared, b_shared; /* a 2-D operand used by every matrix of a batch */
} mm_attr;

static void matmul_fwd(ag_node *n) {
    const mm_attr *m = AG_ATTR(n, mm_attr);
    const ag_real *A = n->in[0]->data, *B = n->in[1]->data;
    size_t sa = m->a_shared ? 0 : (size_t)m->M * m->K, sb = m->b_shared ? 0 : (size_t)m->K * m->N;
    for (int i = 0; i < m->batch; i++)
        ag_gemm(m->ta, m->tb, m->M, m->N, m->K, 1, A + i * sa, m->ta ? m->M : m->K, B + i * sb,
                m->tb ? m->K : m->N, 0, n->out->data + (size_t)i * m->M * m->N, m->N);
}

static void matmul_bwd(ag_node *n) {
    const mm_attr *m = AG_ATTR(n, mm_attr);
    const ag_real *A = n->in[0]->data, *B = n->in[1]->data;
    ag_real *dA = ag_node_grad(n, 0), *dB = ag_node_grad(n, 1);
    int M = m->M, N = m->N, K = m->K, lda = m->ta ? M : K, ldb = m->tb ? K : N;
    size_t sa = m->a_shared ? 0 : (size_t)M * K, sb = m->b_shared ? 0 : (size_t)K * N;
    for (int i = 0; i < m->batch; i++) {
        const ag_real *dC = n->out->grad + (size_t)i * M * N, *a = A + i * sa, *b = B + i * sb;
        if (dA) {
            if (!m->ta) ag_gemm(false, !m->tb, M, K, N, 1, dC, N, b, ldb, 1, dA + i * sa, K);
            else        ag_gemm(m->tb, true, K, M, N, 1, b, ldb, dC, N, 1, dA + i * sa, M);
        }
        if (dB) {
            if (!m->tb) ag_gemm(!m->ta, false, K, N, M, 1, a, lda, dC, N, 1, dB + i * sb, N);
            else        ag_gemm(true, m->ta, N, K, M, 1, dC, N, a, lda, 1, dB + i * sb, K);
        }
    }
}

static const ag_op matmul_op = {"matmul", matmul_fwd, matmul_bwd};

ag_tensor *ag_matmul(ag_tape *t, ag_tensor *a, ag_tensor *b, bool transpose_a,
                     bool transpose_b) {
    char sa[128], sb[128];
    if (a->ndim < 2 || a->ndim > 3 || b->ndim < 2 || b->ndim > 3)
        ag_error("matmul", "operands must be 2-D or 3-D (batched), got %s and %s",
                 ag_named_shape_str(a, sa, sizeof sa), ag_named_shape_str(b, sb, sizeof sb));
    const int *as = a->shape + (a->ndim - 2), *bs = b->shape + (b->ndim - 2);
    mm_attr m = {.ta = transpose_a, .tb = transpose_b, .batch = 1};
    m.M = transpose_a ? as[1] : as[0];
    m.K = transpose_a ? as[0] : as[1];
    int kb = transpose_b ? bs[1] : bs[0];
    m.N = transpose_b ? bs[0] : bs[1];
    if (m.K != kb)
        ag_error("matmul", "inner dimensions differ: %s%s · %s%s (K %d vs %d)",
                 ag_named_shape_str(a, sa, sizeof sa), transpose_a ? "ᵀ" : "",
                 ag_named_shape_str(b, sb, sizeof sb), transpose_b ? "ᵀ" : "", m.K, kb);
    if (a->ndim == 3 && b->ndim == 3 && a->shape[0] != b->shape[0])
        ag_error("matmul", "batch sizes differ: %s and %s", ag_named_shape_str(a, sa, sizeof sa),
                 ag_named_shape_str(b, sb, sizeof sb));
    if (a->ndim == 3 || b->ndim == 3) {
        m.batch = a->ndim == 3 ? a->shape[0] : b->shape[0];
        m.a_shared = a->ndim == 2;
        m.b_shared = b->ndim == 2;
        return ag_apply(t, &matmul_op, (ag_tensor *[]){a, b}, 2, 3,
                        (int[]){m.batch, m.M, m.N}, &m, sizeof m);
    }
    return ag_apply(t, &matmul_op, (ag_tensor *[]){a, b}, 2, 2, (int[]){m.M, m.N}, &m, sizeof m);
}

/* ---- linear: y = x·Wᵀ + b, the layer every MLP is made of ------------------------------- */

/* The bias rides in the GEMM (kernels.h, ag_gemm_fused): forward adds it in the store of
 * the first K slice, y = x·Wᵀ + b with b added where a separate pass would have started y
 * from the bias rows (the same roundings, without the pass); backward sums dy's rows for db
 * while packing dy for dW = dyᵀ·x. */
static void linear_fwd(ag_node *n) {
    const ag_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2];
    int N = x->shape[0], in = x->shape[1], out = w->shape[0];
    ag_real *y = n->out->data;                               /* (N, out) */
    ag_gemm_fused(false, true, N, out, in, 1, x->data, in, w->data, in, 0, y, out,
                  b ? b->data : NULL, NULL);
}

static void linear_bwd(ag_node *n) {
    const ag_tensor *x = n->in[0], *w = n->in[1];
    int N = x->shape[0], in = x->shape[1], out = w->shape[0];
    const ag_real *dy = n->out->grad;                        /* (N, out) */
    ag_real *dx = ag_node_grad(n, 0), *dw = ag_node_grad(n, 1);
    ag_real *db = n->in[2] ? ag_node_grad(n, 2) : NULL;
    /* Σ_rows dy, summed apart (in row order) and added once, so that db += g is one rounding */
    ag_real *sum = NULL;
    if (db) {
        sum = ag_tape_alloc(n->tape, sizeof(ag_real) * (size_t)out);
        for (int j = 0; j < out; j++) sum[j] = 0;
    }
    if (dx) ag_gemm(false, false, N, in, out, 1, dy, out, w->data, in, 1, dx, in); /* dy·W */
    if (dw) ag_gemm_fused(true, false, out, in, N, 1, dy, out, x->data, in, 1, dw, in, NULL,
                          sum);                                                   /* dyᵀ·x */
    else if (db)
        for (int i = 0; i < N; i++)
            for (int j = 0; j < out; j++) sum[j] += dy[(size_t)i * out + j];
    if (db)
        for (int j = 0; j < out; j++) db[j] += sum[j];
}

static const ag_op linear_op = {"linear", linear_fwd, linear_bwd};

ag_tensor *ag_linear(ag_tape *t, ag_tensor *x, ag_tensor *w, ag_tensor *b) {
    char sx[128], sw[128], sb[128];
    if (x->ndim != 2 || w->ndim != 2 || x->shape[1] != w->shape[1])
        ag_error("linear", "x %s and W %s: expected x (N, in) and W (out, in)",
                 ag_named_shape_str(x, sx, sizeof sx), ag_named_shape_str(w, sw, sizeof sw));
    if (b && (b->size != (size_t)w->shape[0]))
        ag_error("linear", "bias %s does not match W %s (expected (%d))",
                 ag_named_shape_str(b, sb, sizeof sb), ag_named_shape_str(w, sw, sizeof sw), w->shape[0]);
    return ag_apply(t, &linear_op, (ag_tensor *[]){x, w, b}, 3, 2,
                    (int[]){x->shape[0], w->shape[0]}, NULL, 0);
}
