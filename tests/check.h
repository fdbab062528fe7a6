/* check.h — checks shared by several test files (check.c): a tensor built from a literal
 * array, a result's shape and values, and the error a spec text must fail to build with.
 * Also HENBUN_ASAN, defined when AddressSanitizer is on (its allocator hides malloc from
 * the tests that count calls). */
#ifndef HENBUN_TESTS_CHECK_H
#define HENBUN_TESTS_CHECK_H

#if defined(__SANITIZE_ADDRESS__)
#define HENBUN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HENBUN_ASAN 1
#endif
#endif

#include "autograd/autograd.h"
#include "tests/test.h"

/* A tensor on tape t with the given shape and values (converted to ag_real). */
ag_tensor *tensor_of(ag_tape *t, int ndim, const int *shape, const double *v);

/* y has the given shape and values: within relative tolerance tol (|y-w| <= tol·(1+|w|)),
 * exactly when tol is 0; an infinite expected value must be matched exactly.  Failures are
 * reported at file:line. */
void expect_values_at(const char *file, int line, const ag_tensor *y, int ndim,
                      const int *shape, const double *want, double tol);

/* nn_net_parse(text) on an input of the given shape must fail with an error message that
 * contains `want`; failures are reported at file:line. */
void expect_build_error_at(const char *file, int line, const char *text, int ndim,
                           const int *shape, const char *want);

/* EXPECT_BUILD_ERROR(text, ndim, shape, want); variadic because a shape literal has commas */
#define EXPECT_BUILD_ERROR(...) expect_build_error_at(__FILE__, __LINE__, __VA_ARGS__)

#endif
