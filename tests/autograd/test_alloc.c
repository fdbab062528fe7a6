/* test_alloc.c — DESIGN.md's promise "after the first step, a training step calls malloc
 * zero times", measured: this file replaces malloc & co. for the whole test binary with
 * thin wrappers around glibc's own allocator (__libc_malloc, ...) that count calls while
 * a flag is set, then runs steady-state MLP training steps inside the counted region.
 *
 * Under AddressSanitizer the interposition is compiled out (ASan owns malloc and our
 * definitions would fight its own), leaving only the arena check at the bottom, which
 * needs no interposition. */
#include "tests/test.h"
#include "tests/check.h"
#include "autograd/autograd.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>


/* ---- an MLP training step, shared by the tests below ----------------------------------
 * Big enough that the hidden layer's GEMM takes the packed, two-thread path and the relu
 * (256 × 256 values > AG_PAR_MIN) an OpenMP parallel loop: the step exercises every
 * place where a kernel could allocate. */

enum { BATCH = 256, IN = 64, HIDDEN = 256, CLASSES = 10 };

typedef struct {
    ag_tensor *w1, *b1, *w2, *b2;
    ag_real x[BATCH * IN];
    int labels[BATCH];
} mlp;

static void mlp_init(mlp *m, uint64_t seed) {
    ag_rng r;
    ag_rng_seed(&r, seed);
    m->w1 = ag_param(2, (int[]){HIDDEN, IN});
    m->b1 = ag_param(1, (int[]){HIDDEN});
    m->w2 = ag_param(2, (int[]){CLASSES, HIDDEN});
    m->b2 = ag_param(1, (int[]){CLASSES});
    ag_fill_randn(&r, m->w1, 0.125f);  /* 1/√IN */
    ag_fill_randn(&r, m->w2, 0.0625f); /* 1/√HIDDEN */
    for (int i = 0; i < BATCH * IN; i++) m->x[i] = (ag_real)ag_rng_normal(&r);
    for (int i = 0; i < BATCH; i++) m->labels[i] = (int)ag_rng_below(&r, CLASSES);
}

static void mlp_free(mlp *m) {
    ag_tensor_free(m->w1);
    ag_tensor_free(m->b1);
    ag_tensor_free(m->w2);
    ag_tensor_free(m->b2);
}

/* linear, relu, linear, cross-entropy, backward, SGD, clear: one whole step. */
static double mlp_step(ag_tape *t, mlp *m) {
    ag_tensor *x = ag_from_data(t, 2, (int[]){BATCH, IN}, m->x);
    ag_tensor *h = ag_relu(t, ag_linear(t, x, m->w1, m->b1));
    ag_tensor *loss = ag_mean(t, ag_softmax_cross_entropy(t, ag_linear(t, h, m->w2, m->b2),
                                                          m->labels));
    double value = (double)ag_item(loss);
    ag_backward(t, loss);
    ag_tensor *params[] = {m->w1, m->b1, m->w2, m->b2};
    for (int k = 0; k < 4; k++) {
        for (size_t i = 0; i < params[k]->size; i++)
            params[k]->data[i] -= (ag_real)0.1 * params[k]->grad[i];
        ag_zero_grad(params[k]);
    }
    ag_tape_clear(t);
    return value;
}

#ifndef HENBUN_ASAN

/* glibc's allocator under its internal names: what malloc itself resolves to. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

/* Test-only process state: the interposed allocator cannot take a context argument.
 * Atomic because OpenMP worker threads allocate through the same functions. */
static atomic_bool counting;
static atomic_long n_allocs;

static void note(void) {
    if (atomic_load_explicit(&counting, memory_order_relaxed))
        atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed);
}

void *malloc(size_t n) { note(); return __libc_malloc(n); }
void *calloc(size_t n, size_t size) { note(); return __libc_calloc(n, size); }
void *realloc(void *p, size_t n) { note(); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *aligned_alloc(size_t align, size_t n) { note(); return __libc_memalign(align, n); }
int posix_memalign(void **p, size_t align, size_t n) {
    note();
    if (align < sizeof(void *) || (align & (align - 1))) return 22; /* EINVAL */
    *p = __libc_memalign(align, n);
    return *p || !n ? 0 : 12; /* ENOMEM */
}

/* Not static: tests/nn/test_alloc_nn.c counts with them too (one interposer per binary). */
void test_alloc_count_begin(void) {
    atomic_store(&n_allocs, 0);
    atomic_store(&counting, true);
}
long test_alloc_count_end(void) {
    atomic_store(&counting, false);
    return atomic_load(&n_allocs);
}
#define count_begin test_alloc_count_begin
#define count_end test_alloc_count_end

/* The counter must see allocations, or "zero" below would prove nothing: every entry
 * point once, then the library's own calls from another translation unit. */
TEST(alloc_counter_sees_allocations) {
    /* volatile function pointers: the compiler may not elide a malloc/free pair */
    void *(*volatile do_malloc)(size_t) = malloc;
    void *(*volatile do_calloc)(size_t, size_t) = calloc;
    void *(*volatile do_realloc)(void *, size_t) = realloc;
    void *(*volatile do_aligned)(size_t, size_t) = aligned_alloc;
    int (*volatile do_posix)(void **, size_t, size_t) = posix_memalign;
    void *q = NULL;
    count_begin();
    void *p = do_malloc(32);
    long after_malloc = atomic_load(&n_allocs);
    p = do_realloc(p, 4096);
    void *c = do_calloc(4, 8), *a = do_aligned(64, 128);
    int rc = do_posix(&q, 64, 100);
    long direct = count_end();
    free(p), free(c), free(a), free(q);
    CHECK(after_malloc == 1);
    CHECK(direct == 5 && rc == 0 && q != NULL);
    count_begin();
    ag_tensor *x = ag_tensor_new(2, (int[]){3, 3}, true);
    ag_tape *t = ag_tape_new(1);
    long lib = count_end();
    ag_tape_free(t);
    ag_tensor_free(x);
    CHECK(lib >= 2); /* today 5: header, data and grad of x; the tape and its arena block */
}

TEST(alloc_steady_state_training_step_calls_malloc_zero_times) {
    ag_tape *t = ag_tape_new(5);
    mlp m;
    mlp_init(&m, 5);
    double first = mlp_step(t, &m);
    mlp_step(t, &m);          /* warm-up: the arena, the node list, GEMM scratch, threads */
    count_begin();
    double last = 0;
    for (int s = 0; s < 20; s++) last = mlp_step(t, &m);
    long n = count_end();
    if (n) test_fail(__FILE__, __LINE__, "%ld allocations in 20 steady-state steps", n);
    CHECK(last < first);      /* the steps really trained */
    mlp_free(&m);
    ag_tape_free(t);
}

/* The other kernels with loops: convolution both ways (im2col, col2im), pools, permute,
 * reductions along an axis, the fused losses and the noise ops.  Sized so that some loops
 * take the threaded path and others stay on the calling thread: under LLVM's libomp both
 * used to allocate (see AG_PARALLEL_FOR in autograd/internal.h). */
enum { CN = 16, CH = 28 };

typedef struct {
    ag_tensor *w1, *b1, *w2, *lv;
    ag_real x[CN * CH * CH];
    int labels[CN];
} convnet;

static void convnet_init(convnet *m, uint64_t seed) {
    ag_rng r;
    ag_rng_seed(&r, seed);
    m->w1 = ag_param(4, (int[]){8, 1, 3, 3});
    m->b1 = ag_param(1, (int[]){8});
    m->w2 = ag_param(4, (int[]){8, 4, 4, 4});   /* conv_transpose2d: (C, F, kh, kw) */
    m->lv = ag_param(1, (int[]){1});
    ag_fill_randn(&r, m->w1, 0.3f);
    ag_fill_randn(&r, m->w2, 0.1f);
    for (int i = 0; i < CN * CH * CH; i++) m->x[i] = (ag_real)ag_rng_uniform(&r);
    for (int i = 0; i < CN; i++) m->labels[i] = (int)ag_rng_below(&r, 10);
}

static void convnet_free(convnet *m) {
    ag_tensor_free(m->w1);
    ag_tensor_free(m->b1);
    ag_tensor_free(m->w2);
    ag_tensor_free(m->lv);
}

static double convnet_step(ag_tape *t, convnet *m) {
    ag_tensor *x = ag_from_data(t, 4, (int[]){CN, 1, CH, CH}, m->x);
    ag_tensor *h = ag_relu(t, ag_conv2d(t, x, m->w1, m->b1, 1, 1));     /* (16, 8, 28, 28) */
    ag_tensor *mx = ag_max_pool2d(t, h, 2, 2, 0), *av = ag_avg_pool2d(t, h, 2, 2, 0);
    ag_tensor *z = ag_dropout(t, ag_reparameterize(t, mx, ag_scale(t, av, -1)), 0.25f, true);
    ag_tensor *up = ag_conv_transpose2d(t, z, m->w2, NULL, 2, 1, 0);      /* (16, 4, 28, 28) */
    ag_tensor *rows = ag_reshape(t, ag_permute(t, up, (int[]){0, 2, 3, 1}), 2, (int[]){CN, -1});
    ag_tensor *recon = ag_mean(t, ag_gaussian_nll(t, up, m->lv, ag_sigmoid(t, up)));
    ag_tensor *cls = ag_mean(t, ag_softmax_cross_entropy(t, ag_slice(t, rows, 1, 0, 10),
                                                         m->labels));
    ag_tensor *lse = ag_mean(t, ag_logsumexp_axis(t, ag_log_softmax(t, rows, 1), 1, false));
    ag_tensor *loss = ag_add(t, ag_add(t, recon, cls), ag_scale(t, lse, 0.01f));
    double value = (double)ag_item(loss);
    ag_backward(t, loss);
    ag_tensor *params[] = {m->w1, m->b1, m->w2, m->lv};
    for (int k = 0; k < 4; k++) {
        for (size_t i = 0; i < params[k]->size; i++)
            params[k]->data[i] -= (ag_real)0.01 * params[k]->grad[i];
        ag_zero_grad(params[k]);
    }
    ag_tape_clear(t);
    return value;
}

TEST(alloc_steady_state_conv_step_calls_malloc_zero_times) {
    ag_tape *t = ag_tape_new(7);
    convnet m;
    convnet_init(&m, 7);
    convnet_step(t, &m);
    convnet_step(t, &m);
    count_begin();
    double last = 0;
    for (int s = 0; s < 5; s++) last = convnet_step(t, &m);
    long n = count_end();
    if (n) test_fail(__FILE__, __LINE__, "%ld allocations in 5 steady-state conv steps", n);
    CHECK(isfinite(last));
    convnet_free(&m);
    ag_tape_free(t);
}

#endif /* !HENBUN_ASAN */

/* Holds with or without interposition: the arena stops growing after the first step. */
TEST(alloc_arena_stops_growing_after_first_step) {
    ag_tape *t = ag_tape_new(6);
    mlp m;
    mlp_init(&m, 6);
    mlp_step(t, &m);
    size_t reserved = ag_tape_bytes_reserved(t);
    for (int s = 0; s < 10; s++) mlp_step(t, &m);
    CHECK(ag_tape_bytes_reserved(t) == reserved);
    mlp_free(&m);
    ag_tape_free(t);
}
