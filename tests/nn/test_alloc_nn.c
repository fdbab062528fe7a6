/* test_alloc_nn.c — the zero-malloc promise one floor up (DESIGN.md, nn/optim.h): a net
 * built from spec text, with batch norm, layer norm and dropout, trained with clipped Adam
 * and SGD, calls malloc zero times per step after the first.  Counted with the allocator
 * wrappers of tests/autograd/test_alloc.c (one interposer serves the whole binary), so,
 * like those, compiled out under AddressSanitizer. */
#include "tests/test.h"
#include "tests/check.h"
#include "nn/nn.h"


#ifndef HENBUN_ASAN

void test_alloc_count_begin(void);
long test_alloc_count_end(void);

enum { BATCH = 32 };

/* One step: forward in training mode, cross-entropy, backward, optimizer, clear. */
static double step(nn_net *net, nn_optim *opt, ag_tape *t, const ag_real *x, const int *y) {
    ag_tensor *in = ag_from_data(t, 4, (int[]){BATCH, 1, 28, 28}, x);
    ag_tensor *loss = ag_mean(t, ag_softmax_cross_entropy(t, nn_forward(net, t, in, true), y));
    double value = (double)ag_item(loss);
    ag_backward(t, loss);
    nn_optim_step(opt);
    nn_optim_zero_grad(opt);
    ag_tape_clear(t);
    return value;
}

/* Sized so that batch norm (32·8·28·28 values), Adam and the gradient norm of the big
 * linear layer (1568·64 weights) take the threaded path, the rest the serial one. */
static void check_zero_mallocs(bool adam) {
    ag_rng r;
    ag_rng_seed(&r, 11);
    nn_error err = {0};
    nn_net *net = nn_net_parse("conv 8 k3 p1, batchnorm, relu, maxpool k2, flatten, linear 64, "
                               "layernorm, relu, dropout 0.2, linear 10",
                               3, (int[]){1, 28, 28}, NULL, &r, &err);
    CHECK(net != NULL);
    if (!net) return;
    nn_optim *opt = adam ? nn_adam(&net->params, 1e-3) : nn_sgd(&net->params, 0.01, 0.9, true);
    nn_optim_set_clip_norm(opt, 1.0);
    static ag_real x[BATCH * 28 * 28];
    int y[BATCH];
    for (int i = 0; i < BATCH * 28 * 28; i++) x[i] = (ag_real)ag_rng_uniform(&r);
    for (int i = 0; i < BATCH; i++) y[i] = i % 10;
    ag_tape *t = ag_tape_new(12);
    double first = step(net, opt, t, x, y);
    step(net, opt, t, x, y);
    test_alloc_count_begin();
    double last = 0;
    for (int s = 0; s < 4; s++) last = step(net, opt, t, x, y);
    long n = test_alloc_count_end();
    if (n) test_fail(__FILE__, __LINE__, "%ld allocations in 4 steady-state steps (%s)", n,
                     adam ? "adam" : "sgd");
    CHECK(last < first); /* the same batch six times: the loss must fall */
    ag_tape_free(t);
    nn_optim_free(opt);
    nn_net_free(net);
}

TEST(alloc_nn_adam_step_calls_malloc_zero_times) { check_zero_mallocs(true); }
TEST(alloc_nn_sgd_step_calls_malloc_zero_times) { check_zero_mallocs(false); }

#endif /* !HENBUN_ASAN */
