/* test_train_mlp.c — the engine end to end: a 2-16-2 tanh MLP learns the XOR quadrants
 * (label = [x₀·x₁ > 0], not linearly separable) with softmax cross-entropy and plain
 * momentum SGD written here, nothing but autograd.h.  Seeded: the run is deterministic. */
#include "tests/test.h"
#include "autograd/autograd.h"

#include <math.h>

enum { N = 256, HIDDEN = 16, STEPS = 600 };

TEST(train_mlp_learns_xor_quadrants) {
    ag_rng r;
    ag_rng_seed(&r, 42);
    /* Points in [-1, 1]², kept 0.1 away from the axes so the classes have a margin. */
    ag_real x[N * 2];
    int y[N];
    for (int i = 0; i < N; i++) {
        double a, b;
        do a = 2 * ag_rng_uniform(&r) - 1, b = 2 * ag_rng_uniform(&r) - 1;
        while (fabs(a) < 0.1 || fabs(b) < 0.1);
        x[2 * i] = (ag_real)a, x[2 * i + 1] = (ag_real)b;
        y[i] = a * b > 0;
    }
    ag_tensor *w1 = ag_param(2, (int[]){HIDDEN, 2}), *b1 = ag_param(1, (int[]){HIDDEN});
    ag_tensor *w2 = ag_param(2, (int[]){2, HIDDEN}), *b2 = ag_param(1, (int[]){2});
    ag_fill_randn(&r, w1, 1.0f);                    /* ~ 1/√fan_in = 0.7, a bit bolder */
    ag_fill_randn(&r, w2, 0.25f);                   /* 1/√16 */
    ag_tensor *params[] = {w1, b1, w2, b2};
    ag_tensor *vel[4];                              /* momentum buffers: same shapes */
    for (int k = 0; k < 4; k++) vel[k] = ag_tensor_new(params[k]->ndim, params[k]->shape, false);

    ag_tape *t = ag_tape_new(42);
    double first = 0, last = 0;
    int correct = 0;
    for (int step = 0; step < STEPS; step++) {
        ag_tensor *xb = ag_from_data(t, 2, (int[]){N, 2}, x);
        ag_tensor *logits = ag_linear(t, ag_tanh(t, ag_linear(t, xb, w1, b1)), w2, b2);
        ag_tensor *loss = ag_mean(t, ag_softmax_cross_entropy(t, logits, y));
        if (step == 0) first = (double)ag_item(loss);
        last = (double)ag_item(loss);
        if (step == STEPS - 1) { /* accuracy of the final model on the training points */
            correct = 0;
            for (int i = 0; i < N; i++)
                correct += (logits->data[2 * i + 1] > logits->data[2 * i]) == y[i];
        }
        ag_backward(t, loss);
        for (int k = 0; k < 4; k++) {               /* v = 0.9 v + g;  p -= lr v */
            ag_tensor *p = params[k];
            for (size_t i = 0; i < p->size; i++) {
                vel[k]->data[i] = (ag_real)0.9 * vel[k]->data[i] + p->grad[i];
                p->data[i] -= (ag_real)0.1 * vel[k]->data[i];
            }
            ag_zero_grad(p);
        }
        ag_tape_clear(t);
    }
    /* Chance level is log 2 = 0.69; ask for a 10× fall and nearly every point right. */
    if (!(last * 10 <= first) || correct < N * 98 / 100)
        test_fail(__FILE__, __LINE__, "loss %.4f -> %.4f, accuracy %d/%d", first, last, correct, N);
    CHECK(first > 0.5 && first < 1.0);
    for (int k = 0; k < 4; k++) ag_tensor_free(params[k]), ag_tensor_free(vel[k]);
    ag_tape_free(t);
}
