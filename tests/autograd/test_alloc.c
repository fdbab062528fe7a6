/* test_alloc.c — DESIGN.md's promise "after the first step, a training step calls malloc
 * zero times", measured: this file replaces malloc & co. for the whole test binary with
 * thin wrappers around glibc's own allocator (__libc_malloc, ...) that count calls while
 * a flag is set, then runs steady-state MLP training steps inside the counted region.
 *
 * Under AddressSanitizer the interposition is compiled out (ASan owns malloc and our
 * definitions would fight its own), leaving only the arena check at the bottom, which
 * needs no interposition. */
#include "tests/test.h"
#include "autograd/autograd.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define HENBUN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HENBUN_ASAN 1
#endif
#endif

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

static void count_begin(void) {
    atomic_store(&n_allocs, 0);
    atomic_store(&counting, true);
}
static long count_end(void) {
    atomic_store(&counting, false);
    return atomic_load(&n_allocs);
}

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
