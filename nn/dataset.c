/* dataset.c — datasets in memory (values in [0, 1], kept as bytes for images, plus labels),
 * MNIST loading, subsets, binarization, and the minibatch iterator that shuffles per epoch
 * and builds each batch straight from the stored bytes into the tape's arena (no malloc
 * per batch, no intermediate copy).
 */
#include "nn/data.h"
#include "autograd/internal.h"
#include "autograd/parallel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void *xmalloc(const char *op, size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) ag_error(op, "out of memory for %zu bytes", n);
    return p;
}

/* The value a stored byte stands for.  Every path that turns bytes into values (batches,
 * nn_dataset_values, binarization) goes through here, and it is the very expression the
 * float datasets of earlier versions were filled with: a true division (a multiplication
 * by 1/255 would round some bytes differently), so training sees the same bits. */
static inline ag_real byte_value(uint8_t b) { return (ag_real)b / 255; }

/* How the examples are stored: bytes per value, and example i's first byte. */
static size_t value_bytes(const nn_dataset *d) { return d->pixels ? 1 : sizeof(ag_real); }
static unsigned char *stored(const nn_dataset *d, size_t i) {
    return d->pixels ? d->pixels + i * d->dim : (unsigned char *)(d->x + i * d->dim);
}

/* ---------------------------------------------------------------------------------------
 * Construction */

/* A dataset's header and labels, checked; the caller attaches the values (x or pixels). */
static nn_dataset *dataset_shell(const char *op, int n, int ndim, const int *shape,
                                 bool labels, size_t value_size) {
    if (n < 0) ag_error(op, "n = %d examples (must be >= 0)", n);
    if (ndim != 1 && ndim != 3)
        ag_error(op, "an example has %d dimensions; use 1 (D) or 3 (C, H, W)", ndim);
    if (!shape) ag_error(op, "shape is NULL");
    size_t dim = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1) ag_error(op, "shape[%d] = %d (must be >= 1)", i, shape[i]);
        dim *= (size_t)shape[i];
    }
    if (dim > SIZE_MAX / value_size / (n ? (size_t)n : 1))
        ag_error(op, "%d examples of %zu values do not fit in memory", n, dim);
    nn_dataset *d = xmalloc(op, sizeof *d);
    *d = (nn_dataset){.n = n, .ndim = ndim, .dim = dim};
    memcpy(d->shape, shape, (size_t)ndim * sizeof *shape);
    if (labels) {
        d->y = calloc(n > 0 ? (size_t)n : 1, sizeof(int));
        if (!d->y) ag_error(op, "out of memory for %d labels", n);
        if (n > 0) d->n_classes = 1;
    }
    return d;
}

nn_dataset *nn_dataset_new(int n, int ndim, const int *shape, bool labels) {
    nn_dataset *d = dataset_shell("nn_dataset_new", n, ndim, shape, labels, sizeof(ag_real));
    size_t count = (size_t)n * d->dim;
    d->x = calloc(count > 0 ? count : 1, sizeof(ag_real));
    if (!d->x) ag_error("nn_dataset_new", "out of memory for %d examples of %zu values", n, d->dim);
    return d;
}

nn_dataset *nn_dataset_new_pixels(int n, int ndim, const int *shape, bool labels) {
    nn_dataset *d = dataset_shell("nn_dataset_new_pixels", n, ndim, shape, labels, 1);
    size_t count = (size_t)n * d->dim;
    d->pixels = calloc(count > 0 ? count : 1, 1);
    if (!d->pixels)
        ag_error("nn_dataset_new_pixels", "out of memory for %d examples of %zu bytes", n, d->dim);
    return d;
}

nn_dataset *nn_dataset_from_data(int n, int ndim, const int *shape, const ag_real *x,
                                 const int *y) {
    if (!x && n > 0) ag_error("nn_dataset_from_data", "x is NULL");
    nn_dataset *d = nn_dataset_new(n, ndim, shape, y != NULL);
    if (n > 0) memcpy(d->x, x, (size_t)n * d->dim * sizeof(ag_real));
    if (y) {
        if (n > 0) memcpy(d->y, y, (size_t)n * sizeof(int));
        nn_dataset_update_classes(d);
    }
    return d;
}

void nn_dataset_free(nn_dataset *d) {
    if (!d) return;
    free(d->pixels);
    free(d->x);
    free(d->y);
    free(d);
}

void nn_dataset_update_classes(nn_dataset *d) {
    if (!d) ag_error("nn_dataset_update_classes", "dataset is NULL");
    int top = -1;
    for (int i = 0; d->y && i < d->n; i++) {
        if (d->y[i] < 0)
            ag_error("nn_dataset_update_classes", "label of example %d is %d (must be >= 0)",
                     i, d->y[i]);
        if (d->y[i] > top) top = d->y[i];
    }
    d->n_classes = top + 1;
}

ag_real *nn_dataset_example(const nn_dataset *d, int i) {
    if (!d) ag_error("nn_dataset_example", "dataset is NULL");
    if (!d->x)
        ag_error("nn_dataset_example", "the dataset holds bytes (pixels), not ag_real values: "
                 "copy example %d out with nn_dataset_values", i);
    if (i < 0 || i >= d->n)
        ag_error("nn_dataset_example", "example %d out of range [0, %d)", i, d->n);
    return d->x + (size_t)i * d->dim;
}

/* Example i's values into out: converted from bytes, or copied. */
static void example_values(const nn_dataset *d, size_t i, ag_real *out) {
    if (d->pixels) {
        const uint8_t *p = d->pixels + i * d->dim;
        for (size_t j = 0; j < d->dim; j++) out[j] = byte_value(p[j]);
    } else {
        memcpy(out, d->x + i * d->dim, d->dim * sizeof(ag_real));
    }
}

void nn_dataset_values(const nn_dataset *d, int i, ag_real *out) {
    if (!d || !out) ag_error("nn_dataset_values", "dataset or out is NULL");
    if (i < 0 || i >= d->n)
        ag_error("nn_dataset_values", "example %d out of range [0, %d)", i, d->n);
    example_values(d, (size_t)i, out);
}

/* ---------------------------------------------------------------------------------------
 * Loading */

nn_dataset *nn_dataset_load_idx(const char *images_path, const char *labels_path,
                                nn_error *err) {
    if (!images_path) ag_error("nn_dataset_load_idx", "images_path is NULL");
    nn_idx *im = nn_idx_load(images_path, err), *lb = NULL;
    if (!im) return NULL;
    nn_dataset *d = NULL;
    int shape[3], ndim;
    if (im->ndim == 2) { /* (N, D): flat examples */
        ndim = 1;
        shape[0] = im->dims[1];
    } else if (im->ndim == 3) { /* (N, H, W): one channel */
        ndim = 3;
        shape[0] = 1, shape[1] = im->dims[1], shape[2] = im->dims[2];
    } else if (im->ndim == 4) { /* (N, C, H, W) */
        ndim = 3;
        shape[0] = im->dims[1], shape[1] = im->dims[2], shape[2] = im->dims[3];
    } else {
        nn_fail(err, "%s: an image file needs 2 to 4 dimensions (N first), this one has %d",
                images_path, im->ndim);
        goto done;
    }
    int n = im->dims[0];
    if (labels_path) {
        lb = nn_idx_load(labels_path, err);
        if (!lb) goto done;
        if (lb->ndim != 1) {
            nn_fail(err, "%s: a label file needs 1 dimension, this one has %d", labels_path,
                    lb->ndim);
            goto done;
        }
        if (lb->dims[0] != n) {
            nn_fail(err, "%s: %d labels, but %s has %d images", labels_path, lb->dims[0],
                    images_path, n);
            goto done;
        }
    }
    /* The file's bytes become the dataset's pixels as they are: no copy, no conversion. */
    d = dataset_shell("nn_dataset_load_idx", n, ndim, shape, lb != NULL, 1);
    d->pixels = im->data;
    im->data = NULL;
    if (lb) {
        for (int i = 0; i < n; i++) d->y[i] = lb->data[i];
        nn_dataset_update_classes(d);
    }
done:
    nn_idx_free(im);
    nn_idx_free(lb);
    return d;
}

/* dir/name or dir/name.gz, whichever exists (the raw file first). */
static int find_file(const char *dir, const char *name, char *out, size_t n, nn_error *err) {
    struct stat st;
    snprintf(out, n, "%s/%s", dir, name);
    if (stat(out, &st) == 0) return 0;
    snprintf(out, n, "%s/%s.gz", dir, name);
    if (stat(out, &st) == 0) return 0;
    return nn_fail(err, "%s/%s: not found (nor %s.gz); run `make data` (sh scripts/"
                   "fetch_data.sh) to fetch MNIST and Fashion-MNIST", dir, name, name);
}

nn_dataset *nn_dataset_load_mnist(const char *dir, const char *split, nn_error *err) {
    if (!dir || !split) ag_error("nn_dataset_load_mnist", "dir or split is NULL");
    const char *prefix = !strcmp(split, "train") ? "train" : !strcmp(split, "test") ? "t10k"
                                                                                   : NULL;
    if (!prefix) {
        nn_fail(err, "%s: split must be \"train\" or \"test\", not \"%s\"", dir, split);
        return NULL;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        nn_fail(err, "%s: no such directory; run `make data` (sh scripts/fetch_data.sh) to "
                "fetch MNIST and Fashion-MNIST", dir);
        return NULL;
    }
    char images[1024], labels[1024], name[64];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
    if (find_file(dir, name, images, sizeof images, err)) return NULL;
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    if (find_file(dir, name, labels, sizeof labels, err)) return NULL;
    nn_dataset *d = nn_dataset_load_idx(images, labels, err);
    if (d && (d->ndim != 3 || d->shape[0] != 1 || d->shape[1] != 28 || d->shape[2] != 28)) {
        nn_fail(err, "%s: expected 28x28 images, found examples of shape (%d, %d, %d)", images,
                d->shape[0], d->ndim == 3 ? d->shape[1] : 1, d->ndim == 3 ? d->shape[2] : 1);
        nn_dataset_free(d);
        return NULL;
    }
    return d;
}

const char *const nn_fashion_mnist_classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

/* ---------------------------------------------------------------------------------------
 * Subsets */

/* A dataset of n zero examples shaped and stored like d (bytes or values), labelled if d is. */
static nn_dataset *dataset_like(const nn_dataset *d, int n) {
    return d->pixels ? nn_dataset_new_pixels(n, d->ndim, d->shape, d->y != NULL)
                     : nn_dataset_new(n, d->ndim, d->shape, d->y != NULL);
}

nn_dataset *nn_dataset_subset(const nn_dataset *d, const int *idx, int n) {
    if (!d || (!idx && n > 0)) ag_error("nn_dataset_subset", "dataset or idx is NULL");
    if (n < 0) ag_error("nn_dataset_subset", "n = %d (must be >= 0)", n);
    for (int i = 0; i < n; i++) /* before allocating: an error handler may longjmp */
        if (idx[i] < 0 || idx[i] >= d->n)
            ag_error("nn_dataset_subset", "idx[%d] = %d out of range [0, %d)", i, idx[i], d->n);
    nn_dataset *s = dataset_like(d, n);
    for (int i = 0; i < n; i++) {
        memcpy(stored(s, (size_t)i), stored(d, (size_t)idx[i]), d->dim * value_bytes(d));
        if (d->y) s->y[i] = d->y[idx[i]];
    }
    s->n_classes = d->n_classes; /* a subset keeps the label space of its parent */
    return s;
}

nn_dataset *nn_dataset_slice(const nn_dataset *d, int start, int end) {
    if (!d) ag_error("nn_dataset_slice", "dataset is NULL");
    if (start < 0 || end > d->n || start > end)
        ag_error("nn_dataset_slice", "[%d, %d) is not within [0, %d)", start, end, d->n);
    nn_dataset *s = dataset_like(d, end - start);
    memcpy(stored(s, 0), stored(d, (size_t)start), (size_t)(end - start) * d->dim *
           value_bytes(d));
    if (d->y) memcpy(s->y, d->y + start, (size_t)(end - start) * sizeof(int));
    s->n_classes = d->n_classes;
    return s;
}

nn_dataset *nn_dataset_filter_label(const nn_dataset *d, int label, bool keep) {
    if (!d) ag_error("nn_dataset_filter_label", "dataset is NULL");
    if (!d->y) ag_error("nn_dataset_filter_label", "the dataset has no labels");
    int *idx = xmalloc("nn_dataset_filter_label", (size_t)d->n * sizeof(int)), n = 0;
    for (int i = 0; i < d->n; i++)
        if ((d->y[i] == label) == keep) idx[n++] = i;
    nn_dataset *s = nn_dataset_subset(d, idx, n);
    free(idx);
    return s;
}

void nn_dataset_split(const nn_dataset *d, int n_first, nn_dataset **first,
                      nn_dataset **rest) {
    if (!d || !first || !rest) ag_error("nn_dataset_split", "a pointer argument is NULL");
    if (n_first < 0 || n_first > d->n)
        ag_error("nn_dataset_split", "n_first = %d not within [0, %d]", n_first, d->n);
    *first = nn_dataset_slice(d, 0, n_first);
    *rest = nn_dataset_slice(d, n_first, d->n);
}

/* ---------------------------------------------------------------------------------------
 * Static binarization */

void nn_dataset_binarize_threshold(nn_dataset *d, ag_real threshold) {
    if (!d) ag_error("nn_dataset_binarize_threshold", "dataset is NULL");
    size_t n = (size_t)d->n * d->dim;
    if (d->pixels)
        for (size_t i = 0; i < n; i++)
            d->pixels[i] = byte_value(d->pixels[i]) > threshold ? 255 : 0;
    else
        for (size_t i = 0; i < n; i++) d->x[i] = d->x[i] > threshold ? 1 : 0;
}

void nn_dataset_binarize_bernoulli(nn_dataset *d, uint64_t seed) {
    if (!d) ag_error("nn_dataset_binarize_bernoulli", "dataset is NULL");
    ag_rng r;
    ag_rng_seed(&r, seed);
    size_t n = (size_t)d->n * d->dim;
    if (d->pixels) /* 255 stands for 1 exactly (255 / 255) */
        for (size_t i = 0; i < n; i++)
            d->pixels[i] = ag_rng_uniform(&r) < byte_value(d->pixels[i]) ? 255 : 0;
    else
        for (size_t i = 0; i < n; i++) d->x[i] = ag_rng_uniform(&r) < d->x[i] ? 1 : 0;
}

/* ---------------------------------------------------------------------------------------
 * Batches */

/* A tensor on t for n examples: (n, dim) when flat, else (n, C, H, W).  Not zeroed: every
 * value is written by the copy that follows. */
static ag_tensor *batch_tensor(const nn_dataset *d, ag_tape *t, int n, bool flatten) {
    int shape[AG_MAX_DIMS] = {n, (int)d->dim};
    int ndim = 2;
    if (!flatten && d->ndim == 3) {
        ndim = 4;
        shape[1] = d->shape[0], shape[2] = d->shape[1], shape[3] = d->shape[2];
    }
    return ag_empty(t, ndim, shape);
}

ag_tensor *nn_dataset_batch(const nn_dataset *d, ag_tape *t, const int *idx, int n,
                            bool flatten, int *labels) {
    if (!d || !t || (!idx && n > 0)) ag_error("nn_dataset_batch", "NULL argument");
    if (n < 1) ag_error("nn_dataset_batch", "n = %d examples (must be >= 1)", n);
    if (d->dim > (size_t)INT32_MAX)
        ag_error("nn_dataset_batch", "an example of %zu values is too large", d->dim);
    for (int i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= d->n)
            ag_error("nn_dataset_batch", "idx[%d] = %d out of range [0, %d)", i, idx[i], d->n);
    ag_tensor *x = batch_tensor(d, t, n, flatten);
    /* Straight from the stored bytes (or values) into the batch; examples are independent,
     * so a big batch is split over the threads with no change to any value. */
    const size_t dim = d->dim;
    AG_PARALLEL_FOR(i, n, (long)n * (long)dim > AG_PAR_MIN,
                    { example_values(d, (size_t)idx[i], x->data + (size_t)i * dim); });
    if (labels && d->y)
        for (int i = 0; i < n; i++) labels[i] = d->y[idx[i]];
    return x;
}

struct nn_batcher {
    const nn_dataset *d;
    nn_batch_opts opts;
    ag_rng *rng;
    int *order;      /* this epoch's permutation of 0..n-1 */
    int per_epoch;   /* examples handed out per epoch (drop_last may cut the tail) */
    int pos;         /* next position in order */
    int epoch, step;
    bool fresh;      /* the epoch has not started: shuffle before the first batch */
};

nn_batcher *nn_batcher_new(const nn_dataset *d, const nn_batch_opts *opts, ag_rng *rng) {
    if (!d || !opts) ag_error("nn_batcher_new", "dataset or opts is NULL");
    if (opts->batch_size < 1)
        ag_error("nn_batcher_new", "batch_size = %d (must be >= 1)", opts->batch_size);
    if (!rng && (!opts->no_shuffle || opts->binarize))
        ag_error("nn_batcher_new", "shuffling and dynamic binarization need an rng");
    nn_batcher *b = xmalloc("nn_batcher_new", sizeof *b);
    *b = (nn_batcher){.d = d, .opts = *opts, .rng = rng, .fresh = true};
    b->order = xmalloc("nn_batcher_new", (size_t)d->n * sizeof(int));
    b->per_epoch = opts->drop_last ? d->n - d->n % opts->batch_size : d->n;
    return b;
}

void nn_batcher_free(nn_batcher *b) {
    if (!b) return;
    free(b->order);
    free(b);
}

int nn_batcher_num_batches(const nn_batcher *b) {
    if (!b) ag_error("nn_batcher_num_batches", "batcher is NULL");
    return (b->per_epoch + b->opts.batch_size - 1) / b->opts.batch_size;
}

int nn_batcher_num_examples(const nn_batcher *b) {
    if (!b) ag_error("nn_batcher_num_examples", "batcher is NULL");
    return b->per_epoch;
}

bool nn_batcher_next(nn_batcher *b, ag_tape *t, nn_batch *out) {
    if (!b || !t || !out) ag_error("nn_batcher_next", "NULL argument");
    const nn_dataset *d = b->d;
    if (b->fresh) {
        /* Start from the identity so an epoch's order depends only on the rng state. */
        for (int i = 0; i < d->n; i++) b->order[i] = i;
        if (!b->opts.no_shuffle) /* Fisher–Yates: swap i with a uniform j in [0, i] */
            for (int i = d->n - 1; i > 0; i--) {
                int j = (int)ag_rng_below(b->rng, (uint32_t)i + 1);
                int tmp = b->order[i];
                b->order[i] = b->order[j], b->order[j] = tmp;
            }
        b->fresh = false;
    }
    if (b->pos >= b->per_epoch) { /* end of the epoch: arm the next one */
        b->pos = 0, b->step = 0, b->epoch++;
        b->fresh = true;
        return false;
    }
    int n = b->per_epoch - b->pos < b->opts.batch_size ? b->per_epoch - b->pos
                                                        : b->opts.batch_size;
    /* Index and labels live on the tape with x, so all three die at ag_tape_clear. */
    int *index = ag_tape_alloc(t, (size_t)n * sizeof(int));
    int *labels = d->y ? ag_tape_alloc(t, (size_t)n * sizeof(int)) : NULL;
    memcpy(index, b->order + b->pos, (size_t)n * sizeof(int));
    ag_tensor *x = nn_dataset_batch(d, t, index, n, b->opts.flatten, labels);
    if (b->opts.binarize) /* dynamic binarization: a fresh x ~ Bernoulli(x) each time */
        for (size_t i = 0; i < x->size; i++)
            x->data[i] = ag_rng_uniform(b->rng) < x->data[i] ? 1 : 0;
    *out = (nn_batch){.x = x, .y = labels, .index = index, .size = n, .epoch = b->epoch,
                      .step = b->step};
    b->pos += n;
    b->step++;
    return true;
}
