/* internal.h — helpers shared by the files of autograd/ (not part of the public API).
 * Ops use these to check shapes and to make their outputs. */
#ifndef HENBUN_AUTOGRAD_INTERNAL_H
#define HENBUN_AUTOGRAD_INTERNAL_H

#include "autograd/autograd.h"
#include "autograd/parallel.h"

/* Number of elements of a shape; raises an error for ndim out of 1..4 or negative dims. */
size_t ag_shape_size(const char *op, int ndim, const int *shape);
void ag_tensor_init(ag_tensor *x, int ndim, const int *shape, ag_real *data);
/* "(2, 3)" for a raw shape. */
const char *ag_shape_fmt(int ndim, const int *shape, char *buf, size_t n);
/* "'weight' (3, 4)" for a named tensor, "(3, 4)" otherwise: shape errors name tensors. */
const char *ag_named_shape_str(const ag_tensor *x, char *buf, size_t n);
/* Normalised axis (negative counts from the end), or an error naming op and shape. */
int ag_axis(const char *op, const ag_tensor *x, int axis);
/* ag_rng_normal's transform of its two uniforms (u in (0, 1], v in [0, 1)), for loops
 * that draw the uniforms in order and transform them on several threads. */
double ag_normal_of_uniforms(double u, double v);
/* ag_node_grad for an op that writes every element of input i's gradient: a buffer made
 * now is left unzeroed and *fresh set, and the op then stores 0 + its term (the bits of
 * adding into zeros) instead of reading the buffer.  Saves a memset and a read of a
 * gradient the size of the input.  Only when no other input of the op is the same tensor. */
ag_real *ag_node_grad_fresh(ag_node *n, int i, bool *fresh);
/* p[0..n) := 0, by all threads when n is large. */
void ag_zero_fill(ag_real *p, size_t n);
/* Uninitialised tensor on the tape. */
ag_tensor *ag_empty(ag_tape *t, int ndim, const int *shape);
/* ag_apply for an op whose output is x's memory seen with another shape (a view: same
 * size, nothing copied).  The output has its own gradient buffer, so backward works as for
 * any op; only the values are shared. */
ag_tensor *ag_apply_view(ag_tape *t, const ag_op *op, ag_tensor *x, int out_ndim,
                         const int *out_shape);
/* Raises "op: expected <what>, got shape (...)" when cond is false. */
#define AG_CHECK_SHAPE(op, cond, x, what)                                              \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            char b_[64];                                                               \
            ag_error(op, "expected %s, got shape %s", what, ag_shape_str(x, b_, sizeof b_)); \
        }                                                                              \
    } while (0)

/* Loops over more values than this are split across OpenMP threads (AG_PARALLEL_FOR). */
#define AG_PAR_MIN 32768

#endif
