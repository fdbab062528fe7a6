/* dist.c — data-parallel training over MPI (see dist.h for the contract).
 *
 * One file, two builds: with HENBUN_MPI (make MPI=1, compiled by mpicc) the few calls
 * marked MPI below talk to the other ranks; without it the job is one rank and they do
 * nothing, so the rest of the file — sharding, buckets, the backward hook — is the same
 * code in both and the one-process build runs exactly as a program without it.
 *
 * The gradient sum (DDP's bucketed allreduce, done our way):
 *   - the trainable tensors are laid out in reverse list order in one flat buffer (last
 *     layers first, since backward finishes their gradients first), cut into buckets;
 *   - before backward, one scan of the tape finds for each tensor the lowest node that
 *     reads it: that node's backward is the last to add to its gradient;
 *   - a tape hook runs after every node's backward; once the walk has passed the lowest
 *     such node of the next bucket, the bucket's gradients are copied in and its sum starts
 *     (MPI_Iallreduce).  Buckets start strictly in order, so every rank issues the same
 *     collectives in the same order (MPI's one rule), whatever its slice;
 *   - after backward the remaining buckets start, we wait for all, and copy the sums back.
 * OpenMPI makes progress on a non-blocking collective only inside MPI calls, so the hook
 * also polls the started buckets (MPI_Test), which lets them advance during backward. */
#include "nn/dist.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HENBUN_MPI
#include <mpi.h>
#define MPI_REAL_T (sizeof(ag_real) == sizeof(double) ? MPI_DOUBLE : MPI_FLOAT)
typedef MPI_Request request;

/* Waits for n requests by polling with short sleeps rather than MPI_Waitall, whose busy
 * polling (OpenMPI yields between polls, but keeps the core) starves the very rank it
 * waits for when ranks share cores with each other or with other jobs: on this project's
 * 2-core machine under load, a 2.6 MB sum took 14-19 ms of wall time with MPI_Wait and
 * 2.4-6.4 ms this way, at a quarter of the CPU.  On dedicated cores it costs at most one
 * sleep (~20-70 µs with the kernel's timer slack) per wait. */
static void wait_all(MPI_Request *req, int n) {
    for (;;) {
        int done = 0;
        MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE);
        if (done) return;
        nanosleep(&(struct timespec){0, 20000}, NULL);
    }
}
#else
typedef int request;
#endif

struct nn_dist {
    int rank, size;
    bool started_mpi; /* we called MPI_Init, so we call MPI_Finalize */
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the job ------------------------------------------------------------------------------ */

nn_dist *nn_dist_init(int *argc, char ***argv) {
    nn_dist *d = calloc(1, sizeof *d);
    if (!d) ag_error("dist_init", "out of memory");
    d->size = 1;
#ifdef HENBUN_MPI
    int ready = 0, provided;
    MPI_Initialized(&ready);
    if (!ready) {
        MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
        d->started_mpi = true;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
#else
    (void)argc, (void)argv;
#endif
    return d;
}

void nn_dist_finalize(nn_dist *d) {
    if (!d) return;
#ifdef HENBUN_MPI
    if (d->size > 1) nn_batchnorm_set_reduce(NULL, NULL);
    if (d->started_mpi) MPI_Finalize();
#endif
    free(d);
}

int nn_dist_rank(const nn_dist *d) { return d->rank; }
int nn_dist_size(const nn_dist *d) { return d->size; }
bool nn_dist_is_root(const nn_dist *d) { return d->rank == 0; }

bool nn_dist_mpi(void) {
#ifdef HENBUN_MPI
    return true;
#else
    return false;
#endif
}

void nn_dist_abort(const nn_dist *d, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "henbun: rank %d of %d: %s\n", d->rank, d->size, msg);
    fflush(stderr);
#ifdef HENBUN_MPI
    if (d->size > 1) MPI_Abort(MPI_COMM_WORLD, 1); /* ends every rank, at once */
#endif
    exit(1);
}

/* ---- moving numbers ------------------------------------------------------------------------ */

void nn_dist_broadcast(const nn_dist *d, const nn_param_list *l) {
    (void)l;
    if (d->size == 1) return;
#ifdef HENBUN_MPI
    for (int i = 0; i < l->n; i++) {
        ag_tensor *x = l->items[i].value;
        if (x->size > INT_MAX) ag_error("dist_broadcast", "%s: too large", l->items[i].name);
        MPI_Bcast(x->data, (int)x->size, MPI_REAL_T, 0, MPI_COMM_WORLD);
    }
#endif
}

void nn_dist_sum(const nn_dist *d, double *v, int n) {
    (void)v, (void)n;
    if (d->size == 1) return;
#ifdef HENBUN_MPI
    MPI_Request req;
    MPI_Iallreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &req);
    wait_all(&req, 1);
#endif
}

bool nn_dist_any(const nn_dist *d, bool local) {
    double v = local;
    nn_dist_sum(d, &v, 1);
    return v > 0;
}

/* ---- sharding -------------------------------------------------------------------------------- */

nn_dist_shard nn_dist_shard_of(const nn_dist *d, int n) {
    int base = n / d->size, extra = n % d->size, r = d->rank;
    nn_dist_shard s = {.offset = r * base + (r < extra ? r : extra),
                       .count = base + (r < extra), .global = n};
    s.weight = n > 0 ? (double)s.count / n : 0;
    return s;
}

nn_dist_shard nn_dist_shard_batch(const nn_dist *d, ag_tape *t, nn_batch *b) {
    nn_dist_shard s = nn_dist_shard_of(d, b->size);
    if (s.count < 1)
        ag_error("dist_shard_batch", "a global batch of %d rows leaves rank %d of %d with none "
                                     "(use a batch of at least %d, or drop_last)",
                 b->size, d->rank, d->size, d->size);
    if (d->size == 1) return s;
    b->x = ag_slice(t, b->x, 0, s.offset, s.offset + s.count);
    if (b->y) b->y += s.offset;
    if (b->index) b->index += s.offset;
    b->size = s.count;
    return s;
}

void nn_dist_rng_skip(ag_rng *r, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) (void)ag_rng_u64(r);
}

/* ---- summing gradients ----------------------------------------------------------------------- */

typedef struct {
    size_t lo, hi;    /* its range of the flat buffer */
    int first, last;  /* its tensors: g->p[first .. last) */
    int ready_node;   /* complete once backward has run this node (INT_MAX: from the start) */
    request req;
} bucket;

struct nn_dist_grads {
    const nn_dist *d;
    int n;             /* trainable tensors, in reverse list order */
    ag_tensor **p;
    size_t *off;       /* p[i]'s place in flat */
    int *lowest;       /* per tensor: lowest node reading it in this step's tape */
    ag_real *flat;     /* total values + 2 flag slots (counts of ranks) */
    size_t total;
    bucket *b;
    int nb, next;      /* buckets; the next one to start */
    bool overlap;
    double *fig;       /* nn_dist_grads_set_figures: summed (in double) with every call */
    int n_fig;
    request fig_req;
    double wait;
    long calls;
    int nonfinite_ranks;
};

nn_dist_grads *nn_dist_grads_new(const nn_dist *d, const nn_param_list *params,
                                 size_t bucket_bytes) {
    if (!bucket_bytes) bucket_bytes = (size_t)1 << 20;
    nn_dist_grads *g = calloc(1, sizeof *g);
    if (!g) ag_error("dist_grads_new", "out of memory");
    g->d = d;
    g->overlap = true;
    for (int i = 0; i < params->n; i++) g->n += params->items[i].trainable;
    int n = g->n > 0 ? g->n : 1;
    g->p = malloc(sizeof *g->p * (size_t)n);
    g->off = malloc(sizeof *g->off * (size_t)n);
    g->lowest = malloc(sizeof *g->lowest * (size_t)n);
    g->b = malloc(sizeof *g->b * (size_t)n);
    if (!g->p || !g->off || !g->lowest || !g->b) ag_error("dist_grads_new", "out of memory");
    int k = 0;
    for (int i = params->n - 1; i >= 0; i--)
        if (params->items[i].trainable) {
            ag_tensor *x = params->items[i].value;
            if (!x->grad)
                ag_error("dist_grads_new", "%s has no gradient buffer", params->items[i].name);
            g->off[k] = g->total;
            g->total += x->size;
            g->p[k++] = x;
        }
    /* Buckets: whole tensors, closed once they hold bucket_bytes (a bigger tensor is a
     * bucket of its own). */
    for (int i = 0; i < g->n; i++) {
        if (g->nb == 0 || (g->b[g->nb - 1].hi - g->b[g->nb - 1].lo) * sizeof(ag_real) >=
                              bucket_bytes)
            g->b[g->nb++] = (bucket){.lo = g->off[i], .hi = g->off[i], .first = i, .last = i};
        bucket *c = &g->b[g->nb - 1];
        c->hi += g->p[i]->size;
        c->last = i + 1;
    }
    if (g->nb == 0) g->b[g->nb++] = (bucket){0};
    g->b[g->nb - 1].hi += 2; /* the flag slots travel with the last bucket */
    if (g->b[g->nb - 1].hi - g->b[0].lo > INT_MAX)
        ag_error("dist_grads_new", "%zu gradient values: more than one MPI call can sum",
                 g->total);
    g->flat = calloc(g->total + 2, sizeof *g->flat);
    if (!g->flat) ag_error("dist_grads_new", "out of memory");
    return g;
}

void nn_dist_grads_free(nn_dist_grads *g) {
    if (!g) return;
    free(g->p);
    free(g->off);
    free(g->lowest);
    free(g->b);
    free(g->flat);
    free(g);
}

void nn_dist_grads_set_overlap(nn_dist_grads *g, bool on) { g->overlap = on; }
void nn_dist_grads_set_figures(nn_dist_grads *g, double *v, int n) { g->fig = v, g->n_fig = n; }
double nn_dist_grads_wait_seconds(const nn_dist_grads *g) { return g->wait; }
long nn_dist_grads_calls(const nn_dist_grads *g) { return g->calls; }
int nn_dist_grads_nonfinite_ranks(const nn_dist_grads *g) { return g->nonfinite_ranks; }

/* Copies bucket k's gradients into the flat buffer and starts their sum (MPI). */
static void start_bucket(nn_dist_grads *g, int k) {
    bucket *c = &g->b[k];
    for (int i = c->first; i < c->last; i++)
        memcpy(g->flat + g->off[i], g->p[i]->grad, g->p[i]->size * sizeof(ag_real));
#ifdef HENBUN_MPI
    MPI_Iallreduce(MPI_IN_PLACE, g->flat + c->lo, (int)(c->hi - c->lo), MPI_REAL_T, MPI_SUM,
                   MPI_COMM_WORLD, &c->req);
#endif
}

/* The tape hook: start every bucket (in order) whose gradients are complete once node i
 * has run, and let the started ones progress. */
static void on_node_done(void *ctx, int i) {
    nn_dist_grads *g = ctx;
    while (g->next < g->nb && i <= g->b[g->next].ready_node) start_bucket(g, g->next++);
#ifdef HENBUN_MPI
    for (int k = 0; k < g->next; k++) {
        int done;
        if (g->b[k].req != MPI_REQUEST_NULL) MPI_Test(&g->b[k].req, &done, MPI_STATUS_IGNORE);
    }
#endif
}

/* Starts what is left, waits for every bucket, and copies the sums back; returns the
 * OR of the flags over all ranks. */
static int finish(nn_dist_grads *g) {
    while (g->next < g->nb) start_bucket(g, g->next++);
    double t0 = now();
#ifdef HENBUN_MPI
    for (int k = 0; k < g->nb; k++) wait_all(&g->b[k].req, 1);
    if (g->n_fig) wait_all(&g->fig_req, 1);
#endif
    g->wait += now() - t0;
    for (int i = 0; i < g->n; i++)
        memcpy(g->p[i]->grad, g->flat + g->off[i], g->p[i]->size * sizeof(ag_real));
    const ag_real *flag = g->flat + g->total;
    g->nonfinite_ranks = (int)flag[0];
    return (flag[0] > 0 ? NN_DIST_NONFINITE : 0) | (flag[1] > 0 ? NN_DIST_STOP : 0);
}

/* Sets the flag slots and starts the sum of the figures, which then travels while
 * backward runs. */
static void set_flags(nn_dist_grads *g, int flags) {
    g->flat[g->total] = (flags & NN_DIST_NONFINITE) ? 1 : 0;
    g->flat[g->total + 1] = (flags & NN_DIST_STOP) ? 1 : 0;
    g->next = 0;
    g->calls++;
#ifdef HENBUN_MPI
    if (g->n_fig)
        MPI_Iallreduce(MPI_IN_PLACE, g->fig, g->n_fig, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD,
                       &g->fig_req);
#endif
}

int nn_dist_backward(nn_dist_grads *g, ag_tape *t, ag_tensor *loss, double weight, int flags) {
    if (loss->size != 1) ag_error("dist_backward", "the loss must have one element");
    if (!isfinite(ag_item(loss))) flags |= NN_DIST_NONFINITE;
    const ag_tensor *seed = weight == 1 ? NULL : ag_full(t, loss->ndim, loss->shape,
                                                         (ag_real)weight);
    if (g->d->size == 1) { /* nothing to sum: exactly ag_backward */
        ag_backward_seed(t, loss, seed);
        g->calls++, g->nonfinite_ranks = !!(flags & NN_DIST_NONFINITE);
        return flags & (NN_DIST_NONFINITE | NN_DIST_STOP);
    }
    set_flags(g, flags);
    if (g->overlap) {
        /* The lowest node reading each tensor: the last one whose backward adds to it. */
        for (int i = 0; i < g->n; i++) g->lowest[i] = INT_MAX;
        int nodes = ag_tape_num_nodes(t);
        for (int j = nodes - 1; j >= 0; j--) {
            const ag_node *nd = ag_tape_node(t, j);
            for (int k = 0; k < nd->n_in; k++)
                for (int i = 0; i < g->n; i++)
                    if (nd->in[k] == g->p[i]) g->lowest[i] = j;
        }
        for (int k = 0; k < g->nb; k++) {
            int r = INT_MAX;
            for (int i = g->b[k].first; i < g->b[k].last; i++)
                if (g->lowest[i] < r) r = g->lowest[i];
            g->b[k].ready_node = r;
        }
        ag_tape_set_backward_hook(t, on_node_done, g);
        ag_backward_seed(t, loss, seed);
        ag_tape_set_backward_hook(t, NULL, NULL);
    } else {
        ag_backward_seed(t, loss, seed);
    }
    return finish(g);
}

int nn_dist_sum_grads(nn_dist_grads *g, double weight, int flags) {
    if (weight != 1)
        for (int i = 0; i < g->n; i++)
            for (size_t j = 0; j < g->p[i]->size; j++) g->p[i]->grad[j] *= (ag_real)weight;
    if (g->d->size == 1) {
        g->calls++, g->nonfinite_ranks = !!(flags & NN_DIST_NONFINITE);
        return flags & (NN_DIST_NONFINITE | NN_DIST_STOP);
    }
    set_flags(g, flags);
    return finish(g);
}

/* ---- synchronized batch norm ------------------------------------------------------------------ */

#ifdef HENBUN_MPI
static void bn_sum(double *v, int n, void *ctx) { nn_dist_sum(ctx, v, n); }
#endif

void nn_dist_sync_batchnorm(const nn_dist *d, bool on) {
    (void)on;
#ifdef HENBUN_MPI
    if (d->size > 1) nn_batchnorm_set_reduce(on ? bn_sum : NULL, (void *)d);
#else
    (void)d;
#endif
}
