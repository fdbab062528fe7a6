/* autograd.h — henbun's ground floor: dense tensors, a reverse-mode tape, the op set,
 * gradient checking and the custom-op API.  Read it top to bottom as the floor's manual.
 *
 * Example (compiled by make test: tests/programs/header_examples.sh):
 *   ag_tape *t = ag_tape_new(42);                       // arena + PRNG + list of nodes
 *   ag_tensor *w = ag_param(2, (int[]){3, 4});          // lives outside the arena
 *   ag_tensor *x = ag_randn(t, 2, (int[]){8, 4}, 1);    // lives in the arena
 *   ag_tensor *loss = ag_mean(t, ag_square(t, ag_matmul(t, x, w, false, true)));
 *   ag_backward(t, loss);                               // w->grad += dloss/dw
 *   ag_tape_clear(t);                                   // every intermediate freed at once
 *
 * Precision: ag_real is float, or double when compiled with -DAG_DOUBLE (`make REAL=double`);
 * the gradient checks run in the double build.
 *
 * Threads: kernels use OpenMP.  Results do not depend on the thread count except through
 * the order of float additions inside reductions that are split across threads (GEMM never
 * splits its K sum across threads, so matmul results are bit-identical for any count).
 *
 * Global state: the error handler (ag_set_error_handler) and OpenMP's thread count
 * (ag_set_num_threads).  Everything else hangs off a tape or a tensor.
 */
#ifndef HENBUN_AUTOGRAD_H
#define HENBUN_AUTOGRAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "autograd/version.h"

HENBUN_BEGIN_DECLS

#ifdef AG_DOUBLE
typedef double ag_real;
#define AG_REAL_NAME "double"
#else
typedef float ag_real;
#define AG_REAL_NAME "float"
#endif

/* The precision is checked at link time.  ag_real sets the layout of every tensor, so
 * headers of one precision with the library of the other would compute garbage; instead,
 * every file that includes this header refers to a symbol that only the library of its
 * own precision defines, and a mismatch stops the link with
 *   undefined reference to `henbun_abi_v0_double__link_with_libhenbun_double'
 * (the v0 follows HENBUN_VERSION_MAJOR, the soname's number). */
#ifdef AG_DOUBLE
#define HENBUN_ABI_TAG henbun_abi_v0_double__link_with_libhenbun_double
#else
#define HENBUN_ABI_TAG henbun_abi_v0_float__link_with_libhenbun
#endif
extern const char HENBUN_ABI_TAG[];
#if defined(__GNUC__)
/* `used` keeps the reference when nothing reads it; `retain` keeps it under --gc-sections. */
#if defined(__has_attribute)
#if __has_attribute(retain)
#define HENBUN_RETAIN_ __attribute__((used, retain))
#endif
#endif
#ifndef HENBUN_RETAIN_
#define HENBUN_RETAIN_ __attribute__((used))
#endif
static const char *const henbun_abi_check_ HENBUN_RETAIN_ = HENBUN_ABI_TAG;
#endif

/* _Alignas in C, alignas in C++: the same layout from both languages. */
#ifdef __cplusplus
#define AG_ALIGNAS(n) alignas(n)
#else
#define AG_ALIGNAS(n) _Alignas(n)
#endif

#define AG_MAX_DIMS 4   /* N, C, H, W */
#define AG_MAX_INPUTS 4 /* inputs per op node */
#define AG_MAX_ATTR 64  /* bytes of per-node attributes (axis, stride, ...) */

typedef struct ag_tape ag_tape;
typedef struct ag_node ag_node;

/* A contiguous row-major array with an optional gradient of the same shape.
 * `node` is the tape node that produced it (NULL for leaves: parameters and inputs). */
typedef struct ag_tensor {
    int ndim;
    int shape[AG_MAX_DIMS];
    size_t size;          /* product of shape */
    ag_real *data;        /* size values */
    ag_real *grad;        /* size values, or NULL until needed */
    bool requires_grad;   /* gradients flow into this tensor */
    bool owns_memory;     /* true for ag_param/ag_tensor_new: free with ag_tensor_free */
    ag_node *node;        /* producer on the tape, NULL for a leaf */
    const char *name;     /* optional, used in error and gradcheck reports */
} ag_tensor;

/* ---------------------------------------------------------------------------------------
 * Errors.  Programmer errors (bad shapes, misuse) call the handler; the default prints
 * "henbun: <op>: <message>" to stderr and aborts.  Tests install their own handler, which
 * may longjmp out.  Returns the previous handler. */
typedef void (*ag_error_fn)(const char *op, const char *message, void *user);
ag_error_fn ag_set_error_handler(ag_error_fn fn, void *user); /* fn NULL: the default */
ag_error_fn ag_get_error_handler(void **user); /* the current handler (and its user) */
/* Runs fn(ctx).  A programmer error raised inside returns here instead of aborting:
 * ag_try returns -1 with "op: message" in msg (msg_size bytes, may be NULL), else 0 (msg
 * ""). The handler the caller had is back in place either way.  For bindings and
 * long-lived programs (docs/bindings.md): fn must be C code (the error longjmps over
 * fn's frames, never over C++ destructors or another language's frames); after an error,
 * clear the tape the failed call used and free what fn allocated.  The handler is
 * process-global: one thread at a time. */
int ag_try(void (*fn)(void *ctx), void *ctx, char *msg, size_t msg_size);
/* Raises a programmer error: formats the message (printf-style) and calls the handler;
 * never returns (aborts if the handler does). */
void ag_error(const char *op, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Writes "(2, 3, 4)" into buf; for error messages. */
const char *ag_shape_str(const ag_tensor *x, char *buf, size_t n);

/* ---------------------------------------------------------------------------------------
 * Random numbers: one family (xoshiro256**, seeded through splitmix64).  Each tape owns
 * one; ag_rng_* also work on a standalone generator.  Same seed, same stream. */
typedef struct ag_rng { uint64_t s[4]; } ag_rng;
void ag_rng_seed(ag_rng *r, uint64_t seed);    /* r := the state for `seed` */
uint64_t ag_rng_u64(ag_rng *r);                /* 64 uniform random bits */
double ag_rng_uniform(ag_rng *r);              /* in [0, 1) */
double ag_rng_normal(ag_rng *r);               /* N(0, 1), Box–Muller, no cached pair */
uint32_t ag_rng_below(ag_rng *r, uint32_t n);  /* uniform in [0, n), unbiased */

/* ---------------------------------------------------------------------------------------
 * The tape: an arena for a step's tensors, the list of recorded nodes, a PRNG.
 * Ops record a node only if grad mode is on and some input requires grad. */
ag_tape *ag_tape_new(uint64_t seed);  /* empty tape, 1 MB arena, PRNG seeded with seed */
void ag_tape_free(ag_tape *t);        /* frees the tape and its arena; NULL is fine */
/* Frees every tensor and node made on the tape since the last clear (O(1); keeps the
 * memory for the next step, so a steady-state step calls malloc zero times). */
void ag_tape_clear(ag_tape *t);
ag_rng *ag_tape_rng(ag_tape *t);      /* the tape's PRNG, owned by the tape */
/* Grad mode (on by default).  Off: ops compute values but record nothing (evaluation). */
bool ag_set_grad_enabled(ag_tape *t, bool on); /* returns the previous mode */
bool ag_grad_enabled(const ag_tape *t);        /* the current mode */
/* Bytes the arena currently holds reserved / in use; number of recorded nodes. */
size_t ag_tape_bytes_reserved(const ag_tape *t);
size_t ag_tape_bytes_used(const ag_tape *t);
int ag_tape_num_nodes(const ag_tape *t);
/* Raw arena memory (aligned to 64 bytes), freed by ag_tape_clear.  For ops' saved values. */
void *ag_tape_alloc(ag_tape *t, size_t bytes);

/* Reverse sweep.  `loss` must be a tensor with one element; its gradient is seeded with 1.
 * Gradients of leaves accumulate (+=) across calls until ag_zero_grad; gradients of the
 * tape's intermediates are reset at the start of every call, so backward can be repeated. */
void ag_backward(ag_tape *t, ag_tensor *loss);
/* Same, seeding d(loss) with the given tensor of loss's shape (vector-Jacobian product). */
void ag_backward_seed(ag_tape *t, ag_tensor *out, const ag_tensor *seed);
/* A backward hook: fn(ctx, i) runs right after node i's backward during every sweep of t
 * (i falls from num_nodes-1 to 0).  Node i is the last writer of a leaf's gradient when no
 * node below i has that leaf as input, so a caller can act on a gradient the moment it is
 * complete — nn/dist.c starts sending a bucket of gradients to other processes while
 * backward goes on.  fn NULL removes the hook.  ag_tape_node gives node i (0 <= i < num). */
void ag_tape_set_backward_hook(ag_tape *t, void (*fn)(void *ctx, int i), void *ctx);
ag_node *ag_tape_node(const ag_tape *t, int i);

/* Dump the recorded nodes (index, op, output shape, inputs, bytes) as text to file
 * (stdout if NULL), or as a Graphviz DOT graph: ops are ellipses labelled with name and
 * output shape, leaves are boxes (filled when they require grad) labelled with x->name.
 * The DOT file is written atomically (temporary file + rename); 0, or -1 on failure. */
void ag_tape_print(const ag_tape *t, void *file /* FILE* */);
int ag_tape_write_dot(const ag_tape *t, const char *path); /* dot -Tpng path -o tape.png */

/* ---------------------------------------------------------------------------------------
 * Tensors.  Shapes are given as (ndim, int shape[]).  On a tape (t != NULL) memory comes
 * from the arena; ag_param and ag_tensor_new allocate outside it and need ag_tensor_free. */
ag_tensor *ag_tensor_new(int ndim, const int *shape, bool requires_grad); /* zeros, heap */
ag_tensor *ag_param(int ndim, const int *shape);  /* zeros, heap, requires_grad, grad=0 */
void ag_tensor_free(ag_tensor *x);                /* heap tensors only; NULL is fine */
ag_tensor *ag_zeros(ag_tape *t, int ndim, const int *shape);  /* 0s, on the tape, a leaf */
ag_tensor *ag_ones(ag_tape *t, int ndim, const int *shape);   /* 1s, on the tape, a leaf */
ag_tensor *ag_full(ag_tape *t, int ndim, const int *shape, ag_real value); /* all `value` */
/* A copy of data (product of shape values, row-major) on the tape; data stays the caller's. */
ag_tensor *ag_from_data(ag_tape *t, int ndim, const int *shape, const ag_real *data);
ag_tensor *ag_scalar(ag_tape *t, ag_real value);              /* shape (1) */
ag_tensor *ag_arange(ag_tape *t, int n);                      /* 0, 1, ..., n-1 */
/* N(0, std²) and U[lo, hi) values from the tape's PRNG, on the tape (leaves). */
ag_tensor *ag_randn(ag_tape *t, int ndim, const int *shape, ag_real std);
ag_tensor *ag_uniform(ag_tape *t, int ndim, const int *shape, ag_real lo, ag_real hi);
ag_tensor *ag_copy(ag_tape *t, const ag_tensor *x);           /* values only, a leaf */
/* A tensor sharing x's data with another shape: no copy, not differentiable (use
 * ag_reshape on a tape for the differentiable form).  Lives on t. */
ag_tensor *ag_view(ag_tape *t, ag_tensor *x, int ndim, const int *shape);
/* In place, any tensor (parameters included): x := value, x ~ N(0, std²), x ~ U[lo, hi). */
void ag_fill(ag_tensor *x, ag_real value);
void ag_fill_randn(ag_rng *r, ag_tensor *x, ag_real std);
void ag_fill_uniform(ag_rng *r, ag_tensor *x, ag_real lo, ag_real hi);
void ag_zero_grad(ag_tensor *x);          /* grad := 0 (allocates it on the heap if needed) */
bool ag_same_shape(const ag_tensor *a, const ag_tensor *b); /* same ndim and dims */
ag_real ag_item(const ag_tensor *x);      /* the value of a one-element tensor */
int ag_dim(const ag_tensor *x, int axis); /* shape[axis]; axis may be negative */

/* ---------------------------------------------------------------------------------------
 * Ops.  Each returns a new tensor on the tape; its forward and backward live side by side
 * in one file under autograd/.  Binary ops broadcast like NumPy (shapes aligned from the
 * right; a dimension of 1 stretches).  `axis` may be negative (counted from the end).
 */
/* NaN rule, for every op (as in PyTorch): a NaN input gives a NaN output, never a number —
 * no op turns a NaN into a finite value.  The ops that select one of their inputs (relu,
 * clamp, maximum, minimum, max, max_axis, max_pool2d, and the layers built on them)
 * select the NaN, and backward routes the gradient to it (the first NaN when there
 * are several), so a NaN is traced to the input that held it instead of vanishing.
 * tests/autograd/test_nan_rule.c checks each of these ops. */

/* elementwise unary (ops_unary.c): y has x's shape, y_i = f(x_i) */
ag_tensor *ag_neg(ag_tape *t, ag_tensor *x);                  /* −x */
ag_tensor *ag_exp(ag_tape *t, ag_tensor *x);                  /* e^x */
ag_tensor *ag_log(ag_tape *t, ag_tensor *x);                  /* ln x */
ag_tensor *ag_sqrt(ag_tape *t, ag_tensor *x);                 /* √x */
ag_tensor *ag_square(ag_tape *t, ag_tensor *x);               /* x² */
ag_tensor *ag_abs(ag_tape *t, ag_tensor *x);                  /* d|x|/dx := 0 at 0 */
ag_tensor *ag_pow(ag_tape *t, ag_tensor *x, ag_real p);       /* x^p; p = 0: gradient 0 */
ag_tensor *ag_sigmoid(ag_tape *t, ag_tensor *x);              /* σ(x) = 1/(1 + e^-x) */
ag_tensor *ag_tanh(ag_tape *t, ag_tensor *x);                 /* tanh x */
ag_tensor *ag_relu(ag_tape *t, ag_tensor *x);                 /* max(x, 0) */
ag_tensor *ag_leaky_relu(ag_tape *t, ag_tensor *x, ag_real slope); /* x > 0 ? x : slope·x */
ag_tensor *ag_elu(ag_tape *t, ag_tensor *x, ag_real alpha);   /* x > 0 ? x : α(e^x − 1) */
ag_tensor *ag_softplus(ag_tape *t, ag_tensor *x);             /* log(1 + e^x), stable */
ag_tensor *ag_log_sigmoid(ag_tape *t, ag_tensor *x);          /* -softplus(-x) */
ag_tensor *ag_clamp(ag_tape *t, ag_tensor *x, ag_real lo, ag_real hi); /* min(max(x,lo),hi) */
ag_tensor *ag_scale(ag_tape *t, ag_tensor *x, ag_real s);     /* s * x */
ag_tensor *ag_add_scalar(ag_tape *t, ag_tensor *x, ag_real s);/* x + s */

/* elementwise binary with broadcasting (ops_binary.c): the output has the broadcast shape,
 * and a stretched operand's gradient is summed over the dimensions it was stretched along */
ag_tensor *ag_add(ag_tape *t, ag_tensor *a, ag_tensor *b);   /* a + b */
ag_tensor *ag_sub(ag_tape *t, ag_tensor *a, ag_tensor *b);   /* a − b */
ag_tensor *ag_mul(ag_tape *t, ag_tensor *a, ag_tensor *b);   /* a ⊙ b (elementwise) */
ag_tensor *ag_div(ag_tape *t, ag_tensor *a, ag_tensor *b);   /* a / b */
ag_tensor *ag_maximum(ag_tape *t, ag_tensor *a, ag_tensor *b); /* ties: gradient to a */
ag_tensor *ag_minimum(ag_tape *t, ag_tensor *a, ag_tensor *b); /* ties: gradient to a */
/* Sum x down to `shape` (the reverse of broadcasting); used by broadcasting's backward. */
ag_tensor *ag_sum_to(ag_tape *t, ag_tensor *x, int ndim, const int *shape);
/* x repeated along its size-1 (or missing) dimensions up to `shape`; backward: sum_to. */
ag_tensor *ag_broadcast_to(ag_tape *t, ag_tensor *x, int ndim, const int *shape);

/* reductions (ops_reduce.c).  ag_sum etc. reduce everything to shape (1); the _axis forms
 * reduce one axis, keeping it as size 1 if keepdim. */
ag_tensor *ag_sum(ag_tape *t, ag_tensor *x);                  /* Σ_i x_i */
ag_tensor *ag_mean(ag_tape *t, ag_tensor *x);                 /* (1/n) Σ_i x_i */
ag_tensor *ag_max(ag_tape *t, ag_tensor *x);                  /* gradient to the first max */
ag_tensor *ag_logsumexp(ag_tape *t, ag_tensor *x);   /* ln Σ e^x_i = m + ln Σ e^(x_i − m) */
ag_tensor *ag_sum_axis(ag_tape *t, ag_tensor *x, int axis, bool keepdim);       /* Σ_axis */
ag_tensor *ag_mean_axis(ag_tape *t, ag_tensor *x, int axis, bool keepdim);      /* mean */
ag_tensor *ag_max_axis(ag_tape *t, ag_tensor *x, int axis, bool keepdim); /* first max */
ag_tensor *ag_logsumexp_axis(ag_tape *t, ag_tensor *x, int axis, bool keepdim); /* ln Σe^x */
/* e^x_i / Σ_axis e^x_j and its log, stable (max subtracted); the output has x's shape. */
ag_tensor *ag_softmax(ag_tape *t, ag_tensor *x, int axis);
ag_tensor *ag_log_softmax(ag_tape *t, ag_tensor *x, int axis);

/* linear algebra (ops_linalg.c).  matmul: 2-D a (M,K) · b (K,N) -> (M,N); transpose_a
 * reads a as (K,M), transpose_b reads b as (N,K), without copying.  With 3-D inputs
 * (B,.,.) it is a batched matmul.  linear: x (N,in) · W(out,in)ᵀ + b(out) -> (N,out);
 * b may be NULL. */
ag_tensor *ag_matmul(ag_tape *t, ag_tensor *a, ag_tensor *b, bool transpose_a,
                     bool transpose_b);
ag_tensor *ag_linear(ag_tape *t, ag_tensor *x, ag_tensor *w, ag_tensor *b); /* x·Wᵀ + b */

/* convolution, NCHW (ops_conv.c).  x (N,C,H,W), w (F,C,kh,kw), b (F) or NULL.
 * conv_transpose2d: w (C,F,kh,kw) as in PyTorch; output size (H-1)*stride - 2*pad + kh
 * + output_padding.  Pools: window k, stride s, zero padding p (max ignores padding). */
/* (N, F, (H + 2·pad − kh)/stride + 1, (W + 2·pad − kw)/stride + 1): cross-correlation */
ag_tensor *ag_conv2d(ag_tape *t, ag_tensor *x, ag_tensor *w, ag_tensor *b, int stride,
                     int pad);
/* The adjoint of conv2d (its backward with respect to x): (N, F, H', W'), size above. */
ag_tensor *ag_conv_transpose2d(ag_tape *t, ag_tensor *x, ag_tensor *w, ag_tensor *b,
                               int stride, int pad, int output_padding);
/* max / mean over each k×k window: (N, C, (H + 2p − k)/s + 1, (W + 2p − k)/s + 1).
 * pad ≤ k/2; max ignores padding, avg counts it as zeros (divides by k², PyTorch's
 * count_include_pad=True). */
ag_tensor *ag_max_pool2d(ag_tape *t, ag_tensor *x, int k, int stride, int pad);
ag_tensor *ag_avg_pool2d(ag_tape *t, ag_tensor *x, int k, int stride, int pad);

/* shape (ops_shape.c) */
ag_tensor *ag_reshape(ag_tape *t, ag_tensor *x, int ndim, const int *shape); /* -1 infers */
    /* a view: shares x's values (no copy), gradients flow back; x itself if the shape is
     * the same */
ag_tensor *ag_transpose(ag_tape *t, ag_tensor *x, int axis0, int axis1); /* swap 2 axes */
ag_tensor *ag_permute(ag_tape *t, ag_tensor *x, const int *perm);   /* perm has x->ndim */
ag_tensor *ag_concat(ag_tape *t, ag_tensor **xs, int n, int axis); /* xs[0..n) joined */
ag_tensor *ag_slice(ag_tape *t, ag_tensor *x, int axis, int start, int end); /* [start,end) */
/* Rows of x (its first axis) picked by idx[0..n): out[i] = x[idx[i]]. */
ag_tensor *ag_index_select(ag_tape *t, ag_tensor *x, const int *idx, int n);
/* out[i] = x[i, idx[i]] for 2-D x (N,C): picks one entry per row. */
ag_tensor *ag_gather(ag_tape *t, ag_tensor *x, const int *idx);

/* losses, numerically stable from logits (ops_loss.c).  Each returns per-element values
 * of the input's shape (sum or mean them as you need), except softmax_cross_entropy and
 * bce_with_logits_rows, which return one value per row (N). */
ag_tensor *ag_bce_with_logits(ag_tape *t, ag_tensor *logits, ag_tensor *target);
    /* max(l,0) - l*y + log(1 + e^-|l|) */
ag_tensor *ag_bce_with_logits_rows(ag_tape *t, ag_tensor *logits, ag_tensor *target);
    /* (N): the same values summed over each row x[i, ...], without storing them one by
     * one (a Bernoulli likelihood summed over pixels; ag_sum_axis of the above, fused) */
ag_tensor *ag_softmax_cross_entropy(ag_tape *t, ag_tensor *logits, const int *labels);
    /* logsumexp(l_i) - l_i[label_i] */
ag_tensor *ag_mse(ag_tape *t, ag_tensor *pred, ag_tensor *target);
    /* (p - y)^2 */
ag_tensor *ag_gaussian_nll(ag_tape *t, ag_tensor *mean, ag_tensor *logvar,
                           ag_tensor *target);
    /* ½(log 2π + logvar + (y - mean)² e^-logvar); logvar broadcasts */

/* a likelihood over discrete values (ops_likelihood.c): −ln p(target) per element, in nats,
 * under the discretized logistic of PixelCNN++ (one component): the target in [0, 1] is
 * read as level k = round(target·(levels−1)) (levels = 256: 8-bit pixels), whose bin of
 * width 1/(levels−1) around k/(levels−1) gets the mass of a logistic with location mean
 * and scale e^log_scale; the two edge bins reach to ±∞.  All three of the same shape;
 * gradients for mean and log_scale (the target's is 0: p is a step function of it). */
ag_tensor *ag_discretized_logistic_nll(ag_tape *t, ag_tensor *mean, ag_tensor *log_scale,
                                       ag_tensor *target, int levels);
    /* −ln[σ((x−μ+h)/s) − σ((x−μ−h)/s)], h = ½/(levels−1), s = e^log_scale */
/* The mixture of K such logistics per value (PixelCNN++'s likelihood): the three parameter
 * tensors have one shape, K times target's size with target's first dimension N; row n
 * holds component 0's D = size/N values, then component 1's, ...; the weights are
 * softmax(logit_weight) over the K components.  Output in target's shape. */
ag_tensor *ag_discretized_logistic_mixture_nll(ag_tape *t, ag_tensor *logit_weight,
                                               ag_tensor *mean, ag_tensor *log_scale,
                                               ag_tensor *target, int levels);
    /* −ln Σ_c softmax(w)_c p_c(x), p_c the discretized logistic above */

/* noise (ops_random.c): the noise comes from the tape's PRNG. */
ag_tensor *ag_reparameterize(ag_tape *t, ag_tensor *mu, ag_tensor *logvar);
    /* z = mu + exp(logvar/2) * eps, eps ~ N(0, I)  (seed 001) */
ag_tensor *ag_dropout(ag_tape *t, ag_tensor *x, ag_real p, bool training);
    /* inverted dropout: keep with prob 1-p and scale by 1/(1-p); identity if !training */

/* ---------------------------------------------------------------------------------------
 * The op API — how every op above is built, and how a user adds one.
 *
 * An op is a pair of functions and a name.  Its constructor (the user-facing function)
 * checks shapes, decides the output shape, and calls ag_apply, which allocates the
 * output, runs forward, and records a node when gradients are needed.  backward reads
 * node->out->grad and ADDS into node->in[i]->grad for every input that requires grad
 * (ag_node_grad returns that buffer, or NULL when the input needs no gradient). */
struct ag_node {
    const struct ag_op *op;
    ag_tape *tape;
    ag_tensor *out;
    ag_tensor *in[AG_MAX_INPUTS];
    int n_in;
    void *saved;                        /* op-owned scratch from ag_tape_alloc */
    AG_ALIGNAS(16) unsigned char attr[AG_MAX_ATTR]; /* op-owned parameters, copied in */
};
typedef struct ag_op {
    const char *name;
    void (*forward)(ag_node *n);
    void (*backward)(ag_node *n);       /* NULL: not differentiable (records nothing) */
} ag_op;
/* Makes the output (out_shape, on the tape), copies attr (≤ AG_MAX_ATTR bytes) into the
 * node, runs op->forward, and records the node if grad mode is on and an input requires
 * grad.  in[] may hold NULL for an absent optional input (a bias).  Returns the output. */
ag_tensor *ag_apply(ag_tape *t, const ag_op *op, ag_tensor **in, int n_in, int out_ndim,
                    const int *out_shape, const void *attr, size_t attr_size);
ag_real *ag_node_grad(ag_node *n, int i); /* d/d in[i] accumulator, zeroed on first use */
#define AG_ATTR(node, type) ((type *)(void *)(node)->attr)

/* ---------------------------------------------------------------------------------------
 * Gradient checking.  f builds a scalar from its inputs on the given tape.  Every input
 * with requires_grad is checked element by element against central differences
 * (f(x+h) - f(x-h)) / 2h, with the tape's PRNG reseeded before each evaluation so noisy
 * ops see the same noise.  The report names the worst element. */
typedef ag_tensor *(*ag_fn)(ag_tape *t, ag_tensor **inputs, void *ctx);
typedef struct ag_gradcheck_report {
    double max_rel_err;     /* |a - n| / max(|a|, |n|) at the worst element */
    double max_abs_err;
    int input;              /* which input held the worst element */
    size_t index;           /* flat index within it */
    double analytic, numeric;
    int evaluations;
    bool ok;                /* |a - n| <= atol + rtol·max(|a|, |n|) at every element */
    bool accumulates;       /* a second backward added the same gradient again (to a few ulps) */
    const char *name;       /* the worst input's tensor name (ag_tensor.name), or NULL */
    bool passed_on_abs;     /* the worst element is within atol but not within rtol: it
                             * passes on the absolute tolerance only (a gradient near 0) */
    bool kink;              /* non-smooth within ±h at a failing element: the one-sided
                             * differences disagree and the analytic gradient is one of
                             * them (a max or a relu with pieces closer than h) */
    double slope_lo, slope_hi; /* the one-sided differences (f(x)-f(x-h))/h, (f(x+h)-f(x))/h
                             * at the kink */
    double eps, rtol, atol; /* the step and tolerances used */
} ag_gradcheck_report;
typedef struct ag_gradcheck_opts {
    double eps;             /* step h; default 1e-6 in double, 1e-2 in float */
    double rtol, atol;      /* defaults 1e-6 / 1e-9 in double, 2e-2 / 1e-3 in float */
    uint64_t seed;
} ag_gradcheck_opts;
ag_gradcheck_report ag_gradcheck(ag_fn f, ag_tensor **inputs, int n_inputs, void *ctx,
                                 const ag_gradcheck_opts *opts /* NULL: defaults */);
/* One line, naming the input by index and name and saying which tolerance held:
 *   "ok   conv  rel 3.1e-09 <= rtol 1e-06 (input 1 'bias' [5]: analytic 0.25, numeric 0.25)"
 *   "ok   relu  abs 2.0e-04 <= atol 1e-03, rel 1.0e+00 not needed (input 0 'x' [7]: ...)"
 *   "FAIL max   rel 3.0e-01 abs 3.0e-01 > atol 1e-03 + rtol 2e-02 (input ...); non-smooth
 *    within h=0.01 here (one-sided slopes 0.4 and 1): rerun in double or move the point"
 * The float build's large h (1e-2) makes the last case common for max, relu, maxpool and
 * clamp near a tie: docs/add-a-layer.md says what to do. */
void ag_gradcheck_print(const char *label, const ag_gradcheck_report *r, void *file);

/* ---------------------------------------------------------------------------------------
 * Threads and kernels. */
void ag_set_num_threads(int n);  /* OpenMP threads used by kernels (global, see above) */
int ag_num_threads(void);        /* the thread count kernels use */
/* C = alpha * op(A) · op(B) + beta * C, row-major; op(A) is M×K, op(B) is K×N.
 * A is M×K (lda ≥ K) or, if ta, K×M (lda ≥ M); likewise B.  The one GEMM every matmul,
 * linear and convolution uses (autograd/gemm.c). */
void ag_gemm(bool ta, bool tb, int M, int N, int K, ag_real alpha, const ag_real *A, int lda,
             const ag_real *B, int ldb, ag_real beta, ag_real *C, int ldc);
/* Which GEMM micro-kernel this build uses, e.g. "avx2+fma 8x6" or "portable". */
const char *ag_gemm_kernel_name(void);

HENBUN_END_DECLS

#endif
