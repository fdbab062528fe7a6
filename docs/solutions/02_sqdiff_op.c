/* 02_sqdiff_op.c — solution to the exercise of docs/02-ops-and-gradcheck.md.
 *
 * The exercise: write y = (a − b)² as one op, with a of shape (N, D) and b of shape (D)
 * broadcast over the rows (b is a centre, a a batch of points), through the public op API:
 * a forward, a backward that ADDS into both inputs' gradients — b's summed over the rows
 * it was stretched along — and a constructor that checks shapes.  Gradcheck it, and check
 * that it agrees with the composition ag_square(ag_sub(a, b)) in values and gradients.
 *
 *   ∂y/∂a = 2(a − b)            (per element)
 *   ∂L/∂b_j = Σ_i dy_ij · (−2)(a_ij − b_j)   (b_j is read by every row i)
 *
 * What fusing saves: the composition records two nodes and keeps the (N, D) difference
 * a − b on the tape; its backward writes dy·2(a − b) into that difference's gradient (one
 * more (N, D) buffer), and then sub's backward forms the terms for b in a scratch buffer
 * before summing them.  The fused op records one node, keeps nothing, and sums b's
 * gradient in a register. */
#include "autograd/autograd.h"

#include <math.h>
#include <stdio.h>

static void sqdiff_fwd(ag_node *n) {
    const ag_tensor *a = n->in[0];
    const ag_real *b = n->in[1]->data;
    int N = a->shape[0], D = a->shape[1];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) {
            ag_real u = a->data[i * D + j] - b[j];
            n->out->data[i * D + j] = u * u;                          /* (a − b)² */
        }
}

static void sqdiff_bwd(ag_node *n) {
    const ag_tensor *a = n->in[0];
    const ag_real *b = n->in[1]->data, *dy = n->out->grad;
    ag_real *da = ag_node_grad(n, 0), *db = ag_node_grad(n, 1);   /* either may be NULL */
    int N = a->shape[0], D = a->shape[1];
    for (int j = 0; j < D; j++) {
        double sum = 0;                    /* Σ over the rows that read b_j */
        for (int i = 0; i < N; i++) {
            ag_real g = dy[i * D + j] * 2 * (a->data[i * D + j] - b[j]);
            if (da) da[i * D + j] += g;                               /* +2(a − b)·dy */
            sum -= g;                                                 /* −2(a − b)·dy */
        }
        if (db) db[j] += (ag_real)sum;     /* summed first, added once: repeatable */
    }
}

static const ag_op sqdiff_op = {"sqdiff", sqdiff_fwd, sqdiff_bwd};

static ag_tensor *sqdiff(ag_tape *t, ag_tensor *a, ag_tensor *b) {
    if (a->ndim != 2 || b->ndim != 1 || b->shape[0] != a->shape[1]) {
        char sa[64], sb[64];
        ag_error("sqdiff", "expected a (N, D) and b (D), got %s and %s",
                 ag_shape_str(a, sa, sizeof sa), ag_shape_str(b, sb, sizeof sb));
    }
    return ag_apply(t, &sqdiff_op, (ag_tensor *[]){a, b}, 2, 2, a->shape, NULL, 0);
}

static ag_tensor *fused(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    return sqdiff(t, in[0], in[1]);
}
static ag_tensor *composed(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    return ag_square(t, ag_sub(t, in[0], in[1]));    /* two nodes, one intermediate */
}

int main(void) {
    ag_rng r;
    ag_rng_seed(&r, 7);
    ag_tensor *a = ag_tensor_new(2, (int[]){5, 3}, true), *b = ag_tensor_new(1, (int[]){3}, true);
    a->name = "a", b->name = "b";
    ag_fill_randn(&r, a, 1);
    ag_fill_randn(&r, b, 1);
    ag_gradcheck_report rep = ag_gradcheck(fused, (ag_tensor *[]){a, b}, 2, NULL, NULL);
    ag_gradcheck_print("sqdiff", &rep, stdout);
    int failures = !rep.ok;

    /* The same values and gradients as the composition (loss: the sum, so dy = 1). */
    ag_real grad_a[15], grad_b[3], value[2];
    for (int k = 0; k < 2; k++) {
        ag_tape *t = ag_tape_new(1);
        ag_zero_grad(a);
        ag_zero_grad(b);
        ag_tensor *loss = ag_sum(t, (k == 0 ? fused : composed)(t, (ag_tensor *[]){a, b}, NULL));
        ag_backward(t, loss);
        value[k] = ag_item(loss);
        for (int i = 0; i < 15; i++) {
            if (k == 0) grad_a[i] = a->grad[i];
            else failures += fabs(grad_a[i] - a->grad[i]) > 1e-5;
        }
        for (int j = 0; j < 3; j++) {
            if (k == 0) grad_b[j] = b->grad[j];
            else failures += fabs(grad_b[j] - b->grad[j]) > 1e-5;
        }
        ag_tape_free(t);
    }
    printf("sum of (a - b)^2: fused %.6f, composed %.6f\n", (double)value[0], (double)value[1]);
    failures += fabs(value[0] - value[1]) > 1e-5;

    ag_tensor_free(a);
    ag_tensor_free(b);
    printf("%s\n", failures ? "FAIL" : "all checks passed");
    return failures != 0;
}
