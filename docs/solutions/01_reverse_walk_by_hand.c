/* 01_reverse_walk_by_hand.c — solution to the exercise of docs/01-tape.md.
 *
 * The exercise: for f = Σ_i (a_i·b_i + a_i)² with a, b of shape (3), write the reverse walk
 * yourself — one loop per node, from the last node to the first, each adding its
 * contribution into its inputs' gradients — and check it against ag_backward.  Then run
 * ag_backward a second time and predict a's gradient before looking.
 *
 * The tape holds four nodes:  %0 c = a ⊙ b,  %1 d = c + a,  %2 e = d²,  %3 f = Σ e. */
#include "autograd/autograd.h"

#include <math.h>
#include <stdio.h>

int main(void) {
    const double av[3] = {2, -1, 0.5}, bv[3] = {3, 4, -2};
    ag_tape *t = ag_tape_new(1);
    ag_tensor *a = ag_param(1, (int[]){3}), *b = ag_param(1, (int[]){3});
    a->name = "a", b->name = "b";
    for (int i = 0; i < 3; i++) a->data[i] = (ag_real)av[i], b->data[i] = (ag_real)bv[i];
    ag_tensor *f = ag_sum(t, ag_square(t, ag_add(t, ag_mul(t, a, b), a)));
    ag_tape_print(t, stdout);
    ag_backward(t, f);

    /* The walk by hand.  Forward values first: what the nodes hold that backward reads
     * (square's backward needs d; e and f themselves are not needed) ... */
    double c[3], d[3];
    for (int i = 0; i < 3; i++) c[i] = av[i] * bv[i], d[i] = c[i] + av[i];
    /* ... then the gradients, in reverse node order, each node ADDING into its inputs. */
    double df = 1, de[3] = {0}, dd[3] = {0}, dc[3] = {0}, da[3] = {0}, db[3] = {0};
    for (int i = 0; i < 3; i++) de[i] += df;                   /* %3 f = Σ e:  ∂f/∂e_i = 1 */
    for (int i = 0; i < 3; i++) dd[i] += de[i] * 2 * d[i];     /* %2 e = d²:   ∂e/∂d = 2d */
    for (int i = 0; i < 3; i++) dc[i] += dd[i], da[i] += dd[i];/* %1 d = c + a: 1 and 1 */
    for (int i = 0; i < 3; i++) da[i] += dc[i] * bv[i], db[i] += dc[i] * av[i]; /* %0 c = a⊙b */

    int failures = 0;
    for (int i = 0; i < 3; i++) {
        printf("a[%d]: by hand %8.3f  tape %8.3f     b[%d]: by hand %8.3f  tape %8.3f\n", i, da[i],
               (double)a->grad[i], i, db[i], (double)b->grad[i]);
        failures += fabs(da[i] - a->grad[i]) > 1e-4 || fabs(db[i] - b->grad[i]) > 1e-4;
    }
    /* The prediction: leaves accumulate, so a second sweep doubles a->grad. */
    ag_backward(t, f);
    for (int i = 0; i < 3; i++) failures += fabs(2 * da[i] - a->grad[i]) > 1e-4;
    printf("after a second backward a->grad[0] = %.3f = 2 × %.3f\n", (double)a->grad[0], da[0]);

    ag_tensor_free(a);
    ag_tensor_free(b);
    ag_tape_free(t);
    printf("%s\n", failures ? "FAIL" : "all checks passed");
    return failures != 0;
}
