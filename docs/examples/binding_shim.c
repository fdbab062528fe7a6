/* binding_shim.c — how a language binding calls henbun without risking an abort.  Each entry
 * point the binding exposes runs the library call under ag_try, which turns a programmer
 * error (here a shape mismatch) into NULL and a message the binding raises as its own
 * exception.  Built and run by `make test`; docs/bindings.md quotes it. */
#include "autograd/autograd.h"

#include <stdio.h>

/* The arguments of one entry point and its result, passed through ag_try's void *ctx. */
typedef struct {
    ag_tape *t;
    ag_tensor *a, *b, *out;
} matmul_call;

static void run_matmul(void *ctx) { /* plain C: ag_try may longjmp over this frame */
    matmul_call *c = ctx;
    c->out = ag_matmul(c->t, c->a, c->b, false, false);
}

/* The entry point the binding wraps: the product, or NULL with "op: message" in err. */
static ag_tensor *shim_matmul(ag_tape *t, ag_tensor *a, ag_tensor *b, char *err, size_t n) {
    matmul_call c = {t, a, b, NULL};
    return ag_try(run_matmul, &c, err, n) == 0 ? c.out : NULL;
}

int main(void) {
    ag_tape *t = ag_tape_new(1);
    char err[256];
    ag_tensor *a = ag_ones(t, 2, (int[]){2, 3});
    ag_tensor *y = shim_matmul(t, a, ag_ones(t, 2, (int[]){4, 3}), err, sizeof err);
    if (y) return 1;
    printf("caught: %s\n", err); /* matmul: inner dimensions differ: (2, 3) · (4, 3) ... */
    ag_tape_clear(t);            /* the failed call may have left tensors on the tape */
    a = ag_ones(t, 2, (int[]){2, 3});
    y = shim_matmul(t, a, ag_ones(t, 2, (int[]){3, 4}), err, sizeof err);
    double total = y ? ag_item(ag_sum(t, y)) : -1;
    printf("the next call works: sum = %g\n", total); /* 2·4 entries of 3 = 24 */
    ag_tape_free(t);
    return total == 24 ? 0 : 1;
}
