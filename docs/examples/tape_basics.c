/* tape_basics.c — chapter 1 of the tour (docs/01-tape.md): values and nodes, the reverse
 * walk, why gradients accumulate, grad mode, and the arena.  Every claim the chapter makes
 * is checked here; the program exits non-zero if one of them stops being true.
 *
 *   cc -std=c11 -fopenmp -I. docs/examples/tape_basics.c build/float/libhenbun.a -lz -lstb -lm
 */
#include "autograd/autograd.h"

#include <math.h>
#include <stdio.h>

static int failures;
static void expect(bool ok, const char *what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    failures += !ok;
}

int main(void) {
    ag_set_num_threads(1); /* tensors this small are fastest on one thread */
    /* ---- 1. values and nodes: f(a, b) = (a·b + a)² at a = 2, b = 3 ---------------------- */
    ag_tape *t = ag_tape_new(42);                 /* arena + list of nodes + PRNG */
    ag_tensor *a = ag_param(1, (int[]){1});       /* leaves: on the heap, grad = 0 */
    ag_tensor *b = ag_param(1, (int[]){1});
    a->name = "a", b->name = "b";
    a->data[0] = 2, b->data[0] = 3;

    ag_tensor *c = ag_mul(t, a, b);               /* c = a·b  = 6   (node %0) */
    ag_tensor *d = ag_add(t, c, a);               /* d = c + a = 8  (node %1) */
    ag_tensor *f = ag_square(t, d);               /* f = d²   = 64  (node %2) */
    ag_tape_print(t, stdout);

    expect(ag_item(f) == 64, "values are computed as the ops run: f = 64");
    expect(ag_tape_num_nodes(t) == 3, "one node per op: 3 nodes");
    expect(a->node == NULL && c->node != NULL, "leaves have no node, results do");

    /* ---- 2. the reverse walk ----------------------------------------------------------- */
    ag_backward(t, f);                            /* df/df = 1, then %2, %1, %0 */
    printf("df/da = %g  df/db = %g  df/dd = %g  df/dc = %g\n", (double)a->grad[0],
           (double)b->grad[0], (double)d->grad[0], (double)c->grad[0]);
    expect(d->grad[0] == 16, "df/dd = 2d = 16");
    expect(c->grad[0] == 16, "df/dc = df/dd · 1 = 16");
    expect(b->grad[0] == 32, "df/db = df/dc · a = 32");
    expect(a->grad[0] == 64, "df/da = df/dc · b + df/dd · 1 = 48 + 16 = 64 (two paths, summed)");

    /* ---- 3. gradients of leaves accumulate; those of intermediates are reset ------------- */
    ag_backward(t, f);                            /* the same sweep again */
    expect(a->grad[0] == 128 && b->grad[0] == 64, "a second backward adds again: 128, 64");
    expect(c->grad[0] == 16, "an intermediate's gradient starts from 0 on every sweep");
    ag_zero_grad(a);
    ag_zero_grad(b);
    expect(a->grad[0] == 0, "ag_zero_grad resets a leaf");

    /* ---- 4. grad mode off: values without nodes ------------------------------------------ */
    ag_tape_clear(t);
    bool was = ag_set_grad_enabled(t, false);
    ag_tensor *e = ag_square(t, ag_mul(t, a, b));
    ag_set_grad_enabled(t, was);
    expect(ag_item(e) == 36 && ag_tape_num_nodes(t) == 0, "grad mode off: value 36, no nodes");
    ag_tape_clear(t);

    /* ---- 5. the arena: a training step of a small model, five times ----------------------
     * The step needs about 3 MB, more than the arena's first 1 MB block: during step 0 the
     * arena chains new blocks, ag_tape_clear merges them into one, and from then on every
     * step fits in the memory the previous one left behind. */
    ag_tensor *w = ag_param(2, (int[]){256, 32});  /* parameters live outside the arena */
    ag_fill_randn(ag_tape_rng(t), w, 0.1f);
    size_t reserved0 = ag_tape_bytes_reserved(t), reserved[5], used = 0;
    for (int step = 0; step < 5; step++) {
        ag_tensor *x = ag_randn(t, 2, (int[]){512, 32}, 1);             /* (512, 32) */
        ag_tensor *h = ag_tanh(t, ag_matmul(t, x, w, false, true));     /* (512, 256) */
        ag_tensor *loss = ag_mean(t, ag_square(t, h));                  /* (1) */
        ag_backward(t, loss);
        for (size_t i = 0; i < w->size; i++) w->data[i] -= 0.1f * w->grad[i];   /* SGD */
        ag_zero_grad(w);
        used = ag_tape_bytes_used(t);
        ag_tape_clear(t);                         /* every intermediate freed at once */
        reserved[step] = ag_tape_bytes_reserved(t);
    }
    printf("arena: %zu bytes reserved at the start, a step uses %zu, %zu reserved after "
           "step 0, %zu after step 4\n", reserved0, used, reserved[0], reserved[4]);
    expect(ag_tape_bytes_used(t) == 0, "ag_tape_clear empties the arena");
    expect(reserved[0] >= used && reserved[0] > reserved0, "step 0 grew the arena to fit a step");
    expect(reserved[1] == reserved[0] && reserved[4] == reserved[0],
           "after the first step the arena does not grow");

    ag_tensor_free(w);
    ag_tensor_free(a);
    ag_tensor_free(b);
    ag_tape_free(t);
    printf("%s\n", failures ? "some checks FAILED" : "all checks passed");
    return failures != 0;
}
