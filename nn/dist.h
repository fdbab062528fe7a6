/* dist.h — data-parallel training over MPI: N processes ("ranks") train one model on one
 * global minibatch, each on its slice, and end every step with the same parameters as one
 * process would (up to the order of float summation).
 *
 *   nn_dist *d = nn_dist_init(&argc, &argv);
 *   nn_dist_broadcast(d, vae_params(m));              // every rank starts from rank 0's
 *   nn_dist_grads *g = nn_dist_grads_new(d, vae_params(m), 0);
 *   for (each global batch b) {                       // the same b on every rank
 *       nn_dist_shard s = nn_dist_shard_batch(d, t, &b);  // b now holds this rank's rows
 *       ag_rng_seed(ag_tape_rng(t), vae_step_seed(seed, step));
 *       nn_dist_rng_skip(ag_tape_rng(t), 2 * (uint64_t)z_dim * s.offset); // its noise
 *       ag_tensor *loss = vae_loss(m, t, b.x, true, &st); // mean over this rank's rows
 *       if (nn_dist_backward(g, t, loss, s.weight, 0)) { ... every rank stops here ... }
 *       nn_optim_step(opt);                           // the same update on every rank
 *       ...
 *   }
 *   if (nn_dist_is_root(d)) { print, save the checkpoint }
 *   nn_dist_grads_free(g); nn_dist_finalize(d);
 *
 * How N ranks equal one process.  A loss that is a mean over the batch, L = (1/B) Σ_i ℓ_i,
 * is a sum of the ranks' parts: rank r computes the mean over its n_r rows, L_r, and
 * L = Σ_r (n_r/B)·L_r.  So rank r runs backward seeded with its weight n_r/B (instead of 1)
 * and the gradients are SUMMED across ranks: the result is ∇L, whatever the split.  Seeding
 * (rather than scaling the gradients afterwards) keeps it right for synchronized batch
 * norm, whose backward mixes the ranks' upstream gradients.  The split of B rows over N
 * ranks: the first B mod N ranks take ⌈B/N⌉ rows, the others ⌊B/N⌋, in rank order, so
 * rank r's rows are a contiguous slice of the global batch.  Every rank must get at least
 * one row (B >= N; use drop_last when an epoch's last batch could be smaller).
 * Noise: a one-process step draws noise for its rows in order from the step's PRNG; a rank
 * skips the draws of the rows before its slice (nn_dist_rng_skip) to draw the same noise
 * for its rows.  The VAE's ELBO with one sample draws 2·z_dim 64-bit numbers per row.
 *
 * Built two ways.  The default library holds the one-process version of this file (rank 0
 * of 1, every call a no-op or a copy: no dependency, and a program that uses it behaves
 * exactly as without it).  `make MPI=1` compiles it against OpenMPI into
 * build/mpi-float/libhenbun.a (and build/mpi-double), with HENBUN_MPI defined; link with
 * mpicc and run with mpirun.  nn_dist_mpi() says which one a program got.
 *
 * Failures.  Collective calls must be made by every rank in the same order; a rank that
 * fails alone must therefore never just return or exit.  Outside-world errors on one rank
 * (a file it cannot read) go through nn_dist_abort, which ends the whole job at once;
 * non-finite losses and stop requests (Ctrl-C) travel with the gradients, so every rank
 * learns of them at the same step and leaves the loop together; a rank that dies is noticed
 * by mpirun, which ends the others. */
#ifndef HENBUN_NN_DIST_H
#define HENBUN_NN_DIST_H

#include "autograd/autograd.h"
#include "nn/data.h"
#include "nn/params.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

HENBUN_BEGIN_DECLS

typedef struct nn_dist nn_dist;

/* ---- the job ------------------------------------------------------------------------------ */
/* Starts MPI (with MPI_THREAD_FUNNELED: only the main thread talks, OpenMP may run inside
 * a rank) and returns the job's handle.  argc, argv may be NULL. */
nn_dist *nn_dist_init(int *argc, char ***argv);
/* Ends MPI and frees d (NULL is fine).  Call it on every rank, last. */
void nn_dist_finalize(nn_dist *d);
int nn_dist_rank(const nn_dist *d);     /* 0 .. size-1 */
int nn_dist_size(const nn_dist *d);     /* number of ranks (1 without MPI) */
bool nn_dist_is_root(const nn_dist *d); /* rank 0: the one that prints and writes files */
bool nn_dist_mpi(void);                 /* true in the MPI build */
/* Prints "henbun: rank R of N: <message>" to stderr and ends every rank of the job with
 * exit status 1 (MPI_Abort).  For errors one rank meets alone. */
void nn_dist_abort(const nn_dist *d, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3))); /* not _Noreturn: C++ has no such word */

/* ---- moving numbers ------------------------------------------------------------------------ */
/* Every tensor of the list (trainable or not: batch norm's running statistics too) takes
 * rank 0's values.  For the start of training, and after rank 0 alone loaded a file. */
void nn_dist_broadcast(const nn_dist *d, const nn_param_list *l);
/* v[0..n) := its sum over all ranks, in double (losses times row counts, counts, sums for
 * an evaluation).  Every rank gets the same bits. */
void nn_dist_sum(const nn_dist *d, double *v, int n);
/* true on every rank if `local` is true on any (a stop request, an error seen by one). */
bool nn_dist_any(const nn_dist *d, bool local);

/* ---- sharding a global batch --------------------------------------------------------------- */
typedef struct nn_dist_shard {
    int offset, count;  /* this rank's rows: [offset, offset + count) of the global batch */
    int global;         /* B */
    double weight;      /* count / B: the seed of this rank's backward */
} nn_dist_shard;
/* This rank's slice of a global batch of n rows (see the split above). */
nn_dist_shard nn_dist_shard_of(const nn_dist *d, int n);
/* Narrows b (a global batch from a batcher that runs identically on every rank) to this
 * rank's rows, in place: x (a copy of its rows, on t), y, index and size.  Returns the
 * slice.  Misuse (a rank left with no row) goes to ag_error. */
nn_dist_shard nn_dist_shard_batch(const nn_dist *d, ag_tape *t, nn_batch *b);
/* Advances r by n 64-bit draws, as if n numbers had been drawn (ag_rng_normal takes two,
 * ag_rng_uniform one). */
void nn_dist_rng_skip(ag_rng *r, uint64_t n);

/* ---- summing gradients --------------------------------------------------------------------- */
/* Flags that travel with the gradients; nn_dist_backward returns their OR over all ranks. */
enum {
    NN_DIST_NONFINITE = 1, /* set by nn_dist_backward itself when this rank's loss is NaN/inf */
    NN_DIST_STOP = 2,      /* the caller's: e.g. "a signal asked this rank to stop" */
};

typedef struct nn_dist_grads nn_dist_grads;
/* Prepares the sum of the gradients of the trainable entries of params: one flat buffer
 * (plus two flag slots) cut into buckets of about bucket_bytes (0: 1 MB), in reverse list
 * order, since backward completes the last layers' gradients first.  All memory is
 * allocated here; a step allocates nothing.  params must stay valid while g lives. */
nn_dist_grads *nn_dist_grads_new(const nn_dist *d, const nn_param_list *params,
                                 size_t bucket_bytes);
void nn_dist_grads_free(nn_dist_grads *g); /* NULL is fine */
/* Overlap (the default): each bucket's sum starts (MPI_Iallreduce) the moment backward has
 * finished every gradient in it, and runs while backward computes the rest.  Off: one sum
 * per bucket after backward ends.  Same results either way. */
void nn_dist_grads_set_overlap(nn_dist_grads *g, bool on);
/* ag_backward_seed(t, loss, weight), with the buckets summed across ranks (overlapped with
 * the walk), so that every rank ends with the gradient of the global loss.  flags (e.g.
 * NN_DIST_STOP) are OR-ed across ranks with NN_DIST_NONFINITE for a non-finite local loss;
 * returns that OR — the same value on every rank.  The whole of each ->grad is summed, so
 * start the step from zeroed gradients; with several backward passes in one step (a GAN's
 * real and fake terms), run the earlier ones with ag_backward_seed(t, loss_i, weight) and
 * only the last through here (or all by hand, then nn_dist_sum_grads once). */
int nn_dist_backward(nn_dist_grads *g, ag_tape *t, ag_tensor *loss, double weight, int flags);
/* Figures to sum with every gradient sum: v[0..n) (e.g. this rank's loss times its row
 * count, and the count) is replaced by its sum over the ranks, in double, when the next
 * nn_dist_backward / nn_dist_sum_grads returns.  Its sum starts before backward and
 * travels during it, so logging every step costs no extra wait (nn_dist_sum would).
 * v must stay valid; n = 0 turns it off. */
void nn_dist_grads_set_figures(nn_dist_grads *g, double *v, int n);
/* For a backward the caller ran itself (ag_backward, several losses, ...): the gradients
 * are multiplied by weight and summed across ranks, no overlap.  Same flags and return. */
int nn_dist_sum_grads(nn_dist_grads *g, double weight, int flags);
/* Seconds spent waiting for gradient sums after backward ended (the communication that
 * was not hidden), summed over calls; and the calls. */
double nn_dist_grads_wait_seconds(const nn_dist_grads *g);
long nn_dist_grads_calls(const nn_dist_grads *g);
/* Number of ranks whose own loss was non-finite in the last call (0 if none). */
int nn_dist_grads_nonfinite_ranks(const nn_dist_grads *g);

/* ---- synchronized batch norm --------------------------------------------------------------- */
/* on: every batchnorm layer of the process normalises with the statistics of the whole
 * global batch (its sums reduced across ranks in forward and backward), so a model with
 * batch norm under N ranks matches one process.  Off (the default, as in PyTorch's DDP):
 * each rank normalises with its own slice's statistics, and the run differs from one
 * process with batch B (it is the run of N processes with batch B/N each). */
void nn_dist_sync_batchnorm(const nn_dist *d, bool on);
/* The hook behind it (nn/layers_norm.c): reduce(v, n, ctx) must replace v[0..n) by its sum
 * over the ranks.  NULL: per-process statistics. */
void nn_batchnorm_set_reduce(void (*reduce)(double *v, int n, void *ctx), void *ctx);

HENBUN_END_DECLS

#endif
