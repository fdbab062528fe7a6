/* check.c — checks shared by several test files; see check.h. */
#include "tests/check.h"

#include "nn/nn.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

/* A tensor on tape t with the given shape and values (converted to ag_real). */
ag_tensor *tensor_of(ag_tape *t, int ndim, const int *shape, const double *v) {
    ag_tensor *x = ag_zeros(t, ndim, shape);
    for (size_t i = 0; i < x->size; i++) x->data[i] = (ag_real)v[i];
    return x;
}

/* y has the given shape and values: within relative tolerance tol (|y-w| <= tol·(1+|w|)),
 * exactly when tol is 0; an infinite expected value must be matched exactly. */
void expect_values_at(const char *file, int line, const ag_tensor *y, int ndim,
                      const int *shape, const double *want, double tol) {
    bool same = y->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = y->shape[d] == shape[d];
    if (!same) {
        char b[64];
        test_fail(file, line, "wrong shape %s", ag_shape_str(y, b, sizeof b));
        return;
    }
    for (size_t i = 0; i < y->size; i++) {
        double v = (double)y->data[i];
        bool ok = isinf(want[i]) || tol == 0 ? v == want[i]
                                             : fabs(v - want[i]) <= tol * (1 + fabs(want[i]));
        if (!ok) test_fail(file, line, "element %zu: %.10g, want %.10g", i, v, want[i]);
    }
}

void expect_build_error_at(const char *file, int line, const char *text, int ndim,
                           const int *shape, const char *want) {
    ag_rng r;
    ag_rng_seed(&r, 1);
    nn_error err = {{0}};
    nn_net *net = nn_net_parse(text, ndim, shape, NULL, &r, &err);
    if (net) test_fail(file, line, "'%s': built, but should have failed", text);
    nn_net_free(net);
    if (!strstr(err.msg, want))
        test_fail(file, line, "'%s': error '%s' does not contain '%s'", text, err.msg, want);
}
