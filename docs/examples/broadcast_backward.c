/* broadcast_backward.c — chapter 2 of the tour (docs/02-ops-and-gradcheck.md): what the
 * backward of broadcasting and of a transposed matmul compute, checked against loops
 * written out by hand.
 *
 *   y = x + b,  x (4, 3), b (3):       db = Σ_rows dy          (b was stretched over rows)
 *   y = u − v,  u (4, 1), v (1, 3):    du = Σ_cols dy,  dv = −Σ_rows dy
 *   C = A·Bᵀ,   A (2, 3), B (4, 3):    dA = dC·B,       dB = dCᵀ·A
 * In each case the loss is Σ r ⊙ y for a fixed random r, so dy = r. */
#include "autograd/autograd.h"

#include <math.h>
#include <stdio.h>

static int failures;
static void expect_close(const ag_real *got, const double *want, int n, const char *what) {
    double worst = 0;
    for (int i = 0; i < n; i++) worst = fmax(worst, fabs((double)got[i] - want[i]));
    bool ok = worst < 1e-5;
    printf("%s %-46s max |difference| %.1e\n", ok ? "ok  " : "FAIL", what, worst);
    failures += !ok;
}

/* Σ r ⊙ y, the scalar whose gradient with respect to y is r. */
static ag_tensor *dot_with(ag_tape *t, ag_tensor *y, ag_tensor *r) {
    return ag_sum(t, ag_mul(t, y, r));
}

int main(void) {
    ag_set_num_threads(1); /* tensors this small are fastest on one thread */
    ag_tape *t = ag_tape_new(5);
    ag_rng *rng = ag_tape_rng(t);

    /* ---- (4, 3) + (3): the bias of every linear layer ----------------------------------- */
    ag_tensor *x = ag_param(2, (int[]){4, 3}), *b = ag_param(1, (int[]){3});
    ag_fill_randn(rng, x, 1);
    ag_fill_randn(rng, b, 1);
    ag_tensor *r = ag_randn(t, 2, (int[]){4, 3}, 1);
    ag_backward(t, dot_with(t, ag_add(t, x, b), r));
    double want_b[3] = {0}, want_x[12];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            want_x[i * 3 + j] = r->data[i * 3 + j];                   /* dx = dy */
            want_b[j] += r->data[i * 3 + j];                          /* db = Σ_rows dy */
        }
    expect_close(x->grad, want_x, 12, "(4,3)+(3): dx = dy");
    expect_close(b->grad, want_b, 3, "(4,3)+(3): db = column sums of dy");
    /* ag_sum_to is that reduction, as an op of its own */
    ag_tensor *s = ag_sum_to(t, r, 1, (int[]){3});
    expect_close(s->data, want_b, 3, "ag_sum_to(dy, (3)) = the same sums");
    ag_tape_clear(t);

    /* ---- (4, 1) − (1, 3): both operands stretched ---------------------------------------- */
    ag_tensor *u = ag_param(2, (int[]){4, 1}), *v = ag_param(2, (int[]){1, 3});
    ag_fill_randn(rng, u, 1);
    ag_fill_randn(rng, v, 1);
    r = ag_randn(t, 2, (int[]){4, 3}, 1);
    ag_tensor *y = ag_sub(t, u, v);                                    /* (4, 3) */
    ag_backward(t, dot_with(t, y, r));
    double want_u[4] = {0}, want_v[3] = {0};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            want_u[i] += r->data[i * 3 + j];                          /* du = Σ_cols dy */
            want_v[j] -= r->data[i * 3 + j];                          /* dv = −Σ_rows dy */
        }
    printf("(4,1) - (1,3) has shape (%d, %d)\n", y->shape[0], y->shape[1]);
    expect_close(u->grad, want_u, 4, "(4,1)-(1,3): du = row sums of dy");
    expect_close(v->grad, want_v, 3, "(4,1)-(1,3): dv = -column sums of dy");
    ag_tape_clear(t);

    /* ---- C = A·Bᵀ with transpose_b: no copy forward, none backward ------------------------- */
    ag_tensor *A = ag_param(2, (int[]){2, 3}), *B = ag_param(2, (int[]){4, 3});
    ag_fill_randn(rng, A, 1);
    ag_fill_randn(rng, B, 1);
    r = ag_randn(t, 2, (int[]){2, 4}, 1);                              /* dC */
    ag_backward(t, dot_with(t, ag_matmul(t, A, B, false, true), r));
    double want_A[6] = {0}, want_B[12] = {0};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++)
            for (int k = 0; k < 3; k++) {
                want_A[i * 3 + k] += r->data[i * 4 + j] * B->data[j * 3 + k];  /* dC·B */
                want_B[j * 3 + k] += r->data[i * 4 + j] * A->data[i * 3 + k];  /* dCᵀ·A */
            }
    expect_close(A->grad, want_A, 6, "A*B^T: dA = dC*B");
    expect_close(B->grad, want_B, 12, "A*B^T: dB = dC^T*A");

    ag_tape_free(t);
    ag_tensor *all[] = {x, b, u, v, A, B};
    for (int i = 0; i < 6; i++) ag_tensor_free(all[i]);
    printf("%s\n", failures ? "some checks FAILED" : "all checks passed");
    return failures != 0;
}
