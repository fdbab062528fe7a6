/* data.h — data sets: IDX files (MNIST's format), in-memory datasets, subsets, and shuffled
 * minibatches that land on a tape.
 *
 * Example (compiled by make test: tests/programs/header_examples.sh):
 *   nn_error err;
 *   nn_dataset *train = nn_dataset_load_mnist("data/mnist", "train", &err);
 *   if (!train) { fprintf(stderr, "%s\n", err.msg); return 1; }
 *   nn_batcher *it = nn_batcher_new(train, &(nn_batch_opts){ .batch_size = 100,
 *                                   .flatten = true, .binarize = true }, &rng);
 *   for (int epoch = 0; epoch < 10; epoch++) {
 *       nn_batch b;
 *       while (nn_batcher_next(it, t, &b)) {   // b.x: (100, 784) on t, b.y: 100 labels
 *           ... ag_backward(t, loss); nn_optim_step(opt); ag_tape_clear(t);
 *       }
 *   }
 *   nn_batcher_free(it); nn_dataset_free(train);
 *
 * Outside-world errors (missing, truncated or lying files) are returned through nn_error;
 * misuse (an index out of range, a batch size of 0) goes to ag_error.
 */
#ifndef HENBUN_NN_DATA_H
#define HENBUN_NN_DATA_H

#include "autograd/autograd.h"
#include "nn/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

HENBUN_BEGIN_DECLS

/* ---------------------------------------------------------------------------------------
 * IDX files (the format of MNIST and Fashion-MNIST): a 4-byte magic 00 00 <type> <ndim>,
 * ndim big-endian uint32 dimensions, then the values row-major.  Files may be gzipped
 * (detected by the gzip magic 1f 8b).  Only type 0x08 (unsigned byte) is read.  Nothing in
 * the header is trusted: the dimensions must agree exactly with the length of the data
 * before anything of that size is allocated. */
#define NN_IDX_MAX_DIMS 4

typedef struct nn_idx {
    int ndim;                    /* 1 .. NN_IDX_MAX_DIMS */
    int dims[NN_IDX_MAX_DIMS];   /* e.g. (60000, 28, 28) for MNIST's training images */
    size_t size;                 /* product of dims */
    uint8_t *data;               /* size bytes, owned */
} nn_idx;

/* Reads an IDX file, raw or gzipped.  Returns NULL and fills err on any problem (missing
 * file, bad magic, unsupported type, truncated or over-long data).  Free with nn_idx_free. */
nn_idx *nn_idx_load(const char *path, nn_error *err);
void nn_idx_free(nn_idx *x); /* NULL is fine */

/* ---------------------------------------------------------------------------------------
 * A dataset: n examples of one shape, values in [0, 1], and optionally one integer label
 * per example.  The values are stored in one of two ways:
 *   - pixels: one byte per value, the value being byte / 255 (images: MNIST's 60000 training
 *     images take 47 MB, not 188 MB as floats); what the IDX loaders return;
 *   - x: one ag_real per value (any data: points, features, synthetic sets).
 * Exactly one of the two pointers is non-NULL.  Batches (nn_dataset_batch, nn_batcher) and
 * nn_dataset_values give ag_real values either way; the byte -> value conversion is
 * (ag_real)byte / 255, done per batch, so both ways give the same bits.  Every function
 * returning a dataset returns a new one that the caller frees with nn_dataset_free; the
 * data is always copied, and subsets keep the parent's storage. */
typedef struct nn_dataset {
    int n;              /* number of examples */
    int ndim;           /* dimensions of one example: 1 (D) or 3 (C, H, W) */
    int shape[3];       /* shape of one example, e.g. (1, 28, 28) */
    size_t dim;         /* values per example: product of shape */
    uint8_t *pixels;    /* n * dim bytes (value = byte / 255), example i at pixels + i * dim;
                           owned; NULL when the values are stored in x */
    ag_real *x;         /* n * dim values, example i at x + i * dim; owned; NULL when the
                           dataset holds bytes (pixels) */
    int *y;             /* n labels, or NULL when the data has none; owned */
    int n_classes;      /* 1 + the largest label (0 without labels) */
} nn_dataset;

/* A dataset of n zero examples of the given shape (ndim 1 or 3), stored as values (x), with
 * a zeroed label array when `labels` is true; fill x and y, then call
 * nn_dataset_update_classes if y changed. */
nn_dataset *nn_dataset_new(int n, int ndim, const int *shape, bool labels);
/* The same stored as bytes (pixels, all 0): for images of 8-bit values. */
nn_dataset *nn_dataset_new_pixels(int n, int ndim, const int *shape, bool labels);
/* A value dataset copying n * dim values from x and n labels from y (y may be NULL). */
nn_dataset *nn_dataset_from_data(int n, int ndim, const int *shape, const ag_real *x,
                                 const int *y);
void nn_dataset_free(nn_dataset *d); /* NULL is fine */
/* Recomputes n_classes from y (1 + max label); labels must be >= 0. */
void nn_dataset_update_classes(nn_dataset *d);
/* Example i's dim values, in place (no copy): value datasets only (a byte dataset has no
 * ag_real to point at: use nn_dataset_values). */
ag_real *nn_dataset_example(const nn_dataset *d, int i);
/* Copies example i's dim values into out, from either storage (bytes scaled by 1/255). */
void nn_dataset_values(const nn_dataset *d, int i, ag_real *out);

/* Images from an IDX file of bytes (a byte dataset: the file's bytes are kept as they are)
 * and, if labels_path is non-NULL, labels from an IDX file of one byte per example; the
 * counts must agree.  Image files of shape (N, H, W) give
 * examples (1, H, W); (N, C, H, W) stays; (N, D) gives flat examples (D). */
nn_dataset *nn_dataset_load_idx(const char *images_path, const char *labels_path,
                                nn_error *err);
/* MNIST or Fashion-MNIST from a directory: split "train" reads train-images-idx3-ubyte and
 * train-labels-idx1-ubyte, "test" reads t10k-...; each name may also end in .gz.  Checks
 * that the images are 28x28 and the two counts agree.  The error for a missing directory
 * or file says to run `make data`. */
nn_dataset *nn_dataset_load_mnist(const char *dir, const char *split, nn_error *err);

/* Fashion-MNIST's ten class names, by label ("T-shirt/top", "Trouser", ... "Ankle boot"):
 * for plot legends (nn_plot_opts.class_names) and captions. */
extern const char *const nn_fashion_mnist_classes[10];

/* Subsets (copies).  subset: examples idx[0..n) in that order (repeats allowed);
 * slice: examples [start, end); filter_label: the examples whose label is `label` when
 * keep is true, or every example except those when keep is false (anomaly detection
 * trains on "all digits but d"); split: the first n_first examples and the rest. */
nn_dataset *nn_dataset_subset(const nn_dataset *d, const int *idx, int n);
nn_dataset *nn_dataset_slice(const nn_dataset *d, int start, int end);
nn_dataset *nn_dataset_filter_label(const nn_dataset *d, int label, bool keep);
void nn_dataset_split(const nn_dataset *d, int n_first, nn_dataset **first,
                      nn_dataset **rest);

/* Static binarization, in place.  threshold: x := (x > threshold); bernoulli: x := 1 with
 * probability x, one fixed draw from a generator seeded with `seed` (the same seed gives
 * the same binary dataset).  A byte dataset stays bytes (0 or 255).  For a fresh draw per
 * batch use nn_batch_opts.binarize. */
void nn_dataset_binarize_threshold(nn_dataset *d, ag_real threshold);
void nn_dataset_binarize_bernoulli(nn_dataset *d, uint64_t seed);

/* Copies examples idx[0..n) into a new tensor on t (bytes converted to values on the way):
 * shape (n, C, H, W) (or (n, D) for flat examples), or (n, dim) when flatten.  When labels
 * is non-NULL and d has labels, writes the n labels there.  For evaluation and pictures (e.g. the first 64 test images). */
ag_tensor *nn_dataset_batch(const nn_dataset *d, ag_tape *t, const int *idx, int n,
                            bool flatten, int *labels);

/* ---------------------------------------------------------------------------------------
 * Minibatches.  A batcher walks the dataset in epochs: at the start of each epoch it
 * shuffles the example order (Fisher–Yates, driven by the rng) unless shuffle is off, then
 * hands out consecutive batches.  Every example appears exactly once per epoch (in the
 * last, partial batch unless drop_last).  Batches are built in the tape's arena, so a
 * steady-state training loop calls malloc zero times. */
typedef struct nn_batch_opts {
    int batch_size;     /* examples per batch, >= 1 */
    bool drop_last;     /* drop the last batch of an epoch if it is smaller than batch_size */
    bool no_shuffle;    /* keep the dataset's order (evaluation) */
    bool flatten;       /* x as (B, dim) instead of (B, C, H, W) */
    bool binarize;      /* dynamic binarization: x := Bernoulli(x), a fresh draw per batch */
} nn_batch_opts;

typedef struct nn_batch {
    ag_tensor *x;       /* (B, C, H, W) or (B, dim), on the tape: freed by ag_tape_clear */
    const int *y;       /* B labels (NULL if the dataset has none), on the tape too */
    const int *index;   /* which examples of the dataset these are, on the tape too */
    int size;           /* B: batch_size, or fewer in an epoch's last batch */
    int epoch;          /* 0 for the first epoch */
    int step;           /* batch number within the epoch, from 0 */
} nn_batch;

typedef struct nn_batcher nn_batcher;

/* A batcher over d (not copied: d must outlive it).  rng (not owned, must outlive it)
 * drives shuffling and dynamic binarization; it may be NULL only with no_shuffle and
 * without binarize.  The same rng state gives the same sequence of batches. */
nn_batcher *nn_batcher_new(const nn_dataset *d, const nn_batch_opts *opts, ag_rng *rng);
void nn_batcher_free(nn_batcher *b); /* NULL is fine */
/* Fills *out with the next batch of the current epoch and returns true; at the end of the
 * epoch returns false (out untouched) and arms the next epoch, so
 * `while (nn_batcher_next(b, t, &batch))` is one epoch. */
bool nn_batcher_next(nn_batcher *b, ag_tape *t, nn_batch *out);
/* Batches per epoch (counting a partial last batch unless drop_last). */
int nn_batcher_num_batches(const nn_batcher *b);
/* Examples per epoch (fewer than d->n when drop_last drops a partial batch). */
int nn_batcher_num_examples(const nn_batcher *b);

HENBUN_END_DECLS

#endif
