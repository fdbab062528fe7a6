/* tensor_check.h — the two helpers every op test needs: a tensor built from a literal
 * array, and a check that a result has the expected shape and values (tensor_check.c). */
#ifndef HENBUN_TENSOR_CHECK_H
#define HENBUN_TENSOR_CHECK_H

#include "autograd/autograd.h"
#include "tests/test.h"

/* A tensor on tape t with the given shape and values (converted to ag_real). */
ag_tensor *tensor_of(ag_tape *t, int ndim, const int *shape, const double *v);

/* y has the given shape and values: within relative tolerance tol (|y-w| <= tol·(1+|w|)),
 * exactly when tol is 0; an infinite expected value must be matched exactly.  Failures are
 * reported at file:line. */
void expect_values_at(const char *file, int line, const ag_tensor *y, int ndim,
                      const int *shape, const double *want, double tol);

#endif
