/* tensor.c — tensors (creation, filling, shapes), the error handler and the PRNG.
 * The tape and the arena that most tensors live in are in tape.c. */
#include "autograd/autograd.h"
#include "autograd/internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------------------- */

static void default_handler(const char *op, const char *message, void *user) {
    (void)user;
    fprintf(stderr, "henbun: %s: %s\n", op, message);
    abort();
}
/* The one piece of global mutable state besides OpenMP's thread count (see header). */
static ag_error_fn error_fn = default_handler;
static void *error_user;

ag_error_fn ag_set_error_handler(ag_error_fn fn, void *user) {
    ag_error_fn prev = error_fn;
    error_fn = fn ? fn : default_handler;
    error_user = user;
    return prev;
}

ag_error_fn ag_get_error_handler(void **user) {
    if (user) *user = error_user;
    return error_fn;
}

void ag_error(const char *op, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error_fn(op, msg, error_user);
    abort(); /* a handler that returns would leave the caller with a broken tensor */
}

const char *ag_shape_str(const ag_tensor *x, char *buf, size_t n) {
    return ag_shape_fmt(x->ndim, x->shape, buf, n);
}

const char *ag_named_shape_str(const ag_tensor *x, char *buf, size_t n) {
    char s[64];
    ag_shape_str(x, s, sizeof s);
    if (x->name && *x->name) snprintf(buf, n, "'%s' %s", x->name, s);
    else snprintf(buf, n, "%s", s);
    return buf;
}

const char *ag_shape_fmt(int ndim, const int *shape, char *buf, size_t n) {
    size_t k = 0;
    k += (size_t)snprintf(buf + k, n - k, "(");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ", %d" : "%d", shape[i]);
    if (k < n) snprintf(buf + k, n - k, ")");
    return buf;
}

/* ---- PRNG: xoshiro256** seeded by splitmix64 (Blackman & Vigna) ---------------------- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void ag_rng_seed(ag_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ag_rng_u64(ag_rng *r) {
    uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double ag_rng_uniform(ag_rng *r) { return (double)(ag_rng_u64(r) >> 11) * 0x1.0p-53; }

double ag_normal_of_uniforms(double u, double v) {
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);          /* Box–Muller */
}

double ag_rng_normal(ag_rng *r) {
    /* 1 - u keeps the log argument in (0, 1]. */
    double u = 1.0 - ag_rng_uniform(r), v = ag_rng_uniform(r);
    return ag_normal_of_uniforms(u, v);
}

uint32_t ag_rng_below(ag_rng *r, uint32_t n) {
    /* Lemire's multiply-and-reject: unbiased without a division in the common case. */
    uint64_t m = (uint64_t)(uint32_t)(ag_rng_u64(r) >> 32) * n;
    uint32_t lo = (uint32_t)m;
    if (lo < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (lo < threshold) {
            m = (uint64_t)(uint32_t)(ag_rng_u64(r) >> 32) * n;
            lo = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

/* ---- shapes --------------------------------------------------------------------------- */

size_t ag_shape_size(const char *op, int ndim, const int *shape) {
    if (ndim < 1 || ndim > AG_MAX_DIMS) ag_error(op, "ndim %d is not in 1..%d", ndim, AG_MAX_DIMS);
    char b[64];
    bool empty = false;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            ag_error(op, "negative dimension in shape %s", ag_shape_fmt(ndim, shape, b, sizeof b));
        empty |= shape[i] == 0;
    }
    if (empty) return 0;
    /* A count whose bytes (and then some: the arena rounds up) fit in size_t: a product
     * that wrapped around would allocate a few bytes for a huge shape. */
    const size_t max = SIZE_MAX / 2 / sizeof(ag_real);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (n > max / (size_t)shape[i])
            ag_error(op, "shape %s has more elements than this machine can address",
                     ag_shape_fmt(ndim, shape, b, sizeof b));
        n *= (size_t)shape[i];
    }
    return n;
}

/* Fills the header of a tensor whose memory the caller provides. */
void ag_tensor_init(ag_tensor *x, int ndim, const int *shape, ag_real *data) {
    memset(x, 0, sizeof *x);
    x->ndim = ndim;
    memcpy(x->shape, shape, sizeof(int) * (size_t)ndim);
    x->size = ag_shape_size("tensor", ndim, shape);
    x->data = data;
}

bool ag_same_shape(const ag_tensor *a, const ag_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

int ag_dim(const ag_tensor *x, int axis) { return x->shape[ag_axis("dim", x, axis)]; }

int ag_axis(const char *op, const ag_tensor *x, int axis) {
    int a = axis < 0 ? axis + x->ndim : axis;
    if (a < 0 || a >= x->ndim) {
        char b[64];
        ag_error(op, "axis %d is out of range for shape %s", axis, ag_shape_str(x, b, sizeof b));
    }
    return a;
}

ag_real ag_item(const ag_tensor *x) {
    if (x->size != 1) {
        char b[64];
        ag_error("item", "tensor of shape %s has %zu elements, not 1", ag_shape_str(x, b, sizeof b),
                 x->size);
    }
    return x->data[0];
}

/* ---- heap tensors (parameters, user-owned data) ---------------------------------------- */

ag_tensor *ag_tensor_new(int ndim, const int *shape, bool requires_grad) {
    size_t n = ag_shape_size("tensor_new", ndim, shape);
    ag_tensor *x = malloc(sizeof *x);
    ag_real *data = calloc(n ? n : 1, sizeof(ag_real));
    if (!x || !data) ag_error("tensor_new", "out of memory for %zu values", n);
    ag_tensor_init(x, ndim, shape, data);
    x->owns_memory = true;
    x->requires_grad = requires_grad;
    if (requires_grad) {
        x->grad = calloc(n ? n : 1, sizeof(ag_real));
        if (!x->grad) ag_error("tensor_new", "out of memory for %zu gradients", n);
    }
    return x;
}

ag_tensor *ag_param(int ndim, const int *shape) { return ag_tensor_new(ndim, shape, true); }

void ag_tensor_free(ag_tensor *x) {
    if (!x) return;
    if (!x->owns_memory) ag_error("tensor_free", "tensor lives on a tape; ag_tape_clear frees it");
    free(x->data);
    free(x->grad);
    free(x);
}

/* Buffers of at least this many values are zeroed by all threads: a serial memset of a
 * VAE's 784x400 weight gradient was one of the serial parts of a 2-thread step, and from
 * about half a megabyte it outlasts waking the other threads. */
#define ZERO_PAR_MIN (1 << 17)
#define ZERO_CHUNK (1 << 14)

void ag_zero_fill(ag_real *p, size_t n) {
    long chunks = (long)((n + ZERO_CHUNK - 1) / ZERO_CHUNK);
    AG_PARALLEL_FOR(c, chunks, n >= ZERO_PAR_MIN, {
        size_t lo = (size_t)c * ZERO_CHUNK, len = n - lo < ZERO_CHUNK ? n - lo : ZERO_CHUNK;
        memset(p + lo, 0, len * sizeof(ag_real));
    });
}

void ag_zero_grad(ag_tensor *x) {
    if (!x->grad) {
        if (!x->owns_memory) ag_error("zero_grad", "tape tensors get their gradient from backward");
        x->grad = calloc(x->size ? x->size : 1, sizeof(ag_real));
        if (!x->grad) ag_error("zero_grad", "out of memory");
        return;
    }
    ag_zero_fill(x->grad, x->size);
}

/* ---- tape tensors ------------------------------------------------------------------------ */

ag_tensor *ag_empty(ag_tape *t, int ndim, const int *shape) {
    size_t n = ag_shape_size("empty", ndim, shape);
    ag_tensor *x = ag_tape_alloc(t, sizeof *x);
    ag_tensor_init(x, ndim, shape, ag_tape_alloc(t, n * sizeof(ag_real)));
    return x;
}

ag_tensor *ag_full(ag_tape *t, int ndim, const int *shape, ag_real value) {
    ag_tensor *x = ag_empty(t, ndim, shape);
    ag_fill(x, value);
    return x;
}
ag_tensor *ag_zeros(ag_tape *t, int ndim, const int *shape) { return ag_full(t, ndim, shape, 0); }
ag_tensor *ag_ones(ag_tape *t, int ndim, const int *shape) { return ag_full(t, ndim, shape, 1); }
ag_tensor *ag_scalar(ag_tape *t, ag_real value) { return ag_full(t, 1, (int[]){1}, value); }

ag_tensor *ag_from_data(ag_tape *t, int ndim, const int *shape, const ag_real *data) {
    ag_tensor *x = ag_empty(t, ndim, shape);
    memcpy(x->data, data, x->size * sizeof(ag_real));
    return x;
}

ag_tensor *ag_arange(ag_tape *t, int n) {
    ag_tensor *x = ag_empty(t, 1, (int[]){n});
    for (int i = 0; i < n; i++) x->data[i] = (ag_real)i;
    return x;
}

ag_tensor *ag_randn(ag_tape *t, int ndim, const int *shape, ag_real std) {
    ag_tensor *x = ag_empty(t, ndim, shape);
    ag_fill_randn(ag_tape_rng(t), x, std);
    return x;
}

ag_tensor *ag_uniform(ag_tape *t, int ndim, const int *shape, ag_real lo, ag_real hi) {
    ag_tensor *x = ag_empty(t, ndim, shape);
    ag_fill_uniform(ag_tape_rng(t), x, lo, hi);
    return x;
}

ag_tensor *ag_copy(ag_tape *t, const ag_tensor *x) { return ag_from_data(t, x->ndim, x->shape, x->data); }

ag_tensor *ag_view(ag_tape *t, ag_tensor *x, int ndim, const int *shape) {
    size_t n = ag_shape_size("view", ndim, shape);
    if (n != x->size) {
        char a[64], b[64];
        ag_error("view", "cannot view %s as %s", ag_shape_str(x, a, sizeof a),
                 ag_shape_fmt(ndim, shape, b, sizeof b));
    }
    ag_tensor *v = ag_tape_alloc(t, sizeof *v);
    ag_tensor_init(v, ndim, shape, x->data);
    return v;
}

void ag_fill(ag_tensor *x, ag_real value) {
    for (size_t i = 0; i < x->size; i++) x->data[i] = value;
}

void ag_fill_randn(ag_rng *r, ag_tensor *x, ag_real std) {
    for (size_t i = 0; i < x->size; i++) x->data[i] = (ag_real)(std * ag_rng_normal(r));
}

void ag_fill_uniform(ag_rng *r, ag_tensor *x, ag_real lo, ag_real hi) {
    for (size_t i = 0; i < x->size; i++)
        x->data[i] = (ag_real)(lo + (hi - lo) * ag_rng_uniform(r));
}
