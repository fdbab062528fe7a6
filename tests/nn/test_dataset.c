/* test_dataset.c — datasets: loading IDX pairs and MNIST directories (tiny files written
 * here; the real data when `make data` has fetched it), subsets, binarization, and the
 * minibatch iterator (coverage per epoch, determinism, drop_last, shapes, arena use). */
#include "tests/test.h"
#include "nn/data.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* Writes an IDX file of ubytes (gzipped when the name ends in .gz). */
static void write_idx(const char *path, int ndim, const uint32_t *dims, const uint8_t *data) {
    uint8_t head[4 + 16] = {0, 0, 8, (uint8_t)ndim};
    size_t n = 1, k = 4;
    for (int i = 0; i < ndim; i++) {
        head[k++] = (uint8_t)(dims[i] >> 24), head[k++] = (uint8_t)(dims[i] >> 16);
        head[k++] = (uint8_t)(dims[i] >> 8), head[k++] = (uint8_t)dims[i];
        n *= dims[i];
    }
    gzFile g = gzopen(path, strstr(path, ".gz") ? "wb" : "wbT"); /* T: no compression */
    CHECK(g != NULL);
    if (!g) return;
    CHECK(gzwrite(g, head, (unsigned)k) == (int)k);
    CHECK(gzwrite(g, data, (unsigned)n) == (int)n);
    gzclose(g);
}

/* n examples of (1, h, w) bytes with value (i * 13 + j) mod 256 and label i mod 10. */
static void write_pair(const char *images, const char *labels, int n, int h, int w) {
    uint8_t *x = malloc((size_t)n * h * w), *y = malloc((size_t)n);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < h * w; j++) x[(size_t)i * h * w + j] = (uint8_t)(i * 13 + j);
        y[i] = (uint8_t)(i % 10);
    }
    write_idx(images, 3, (uint32_t[]){(uint32_t)n, (uint32_t)h, (uint32_t)w}, x);
    if (labels) write_idx(labels, 1, (uint32_t[]){(uint32_t)n}, y);
    free(x);
    free(y);
}

TEST(dataset_load_idx_pair_scales_bytes) {
    const char *im = test_tmp_path("pair-images.idx"), *lb = test_tmp_path("pair-labels.idx.gz");
    write_pair(im, lb, 12, 2, 3);
    nn_error err = {{0}};
    nn_dataset *d = nn_dataset_load_idx(im, lb, &err);
    CHECK(d != NULL);
    if (!d) { fprintf(stderr, "    %s\n", err.msg); return; }
    CHECK(d->n == 12 && d->ndim == 3 && d->dim == 6);
    CHECK(d->shape[0] == 1 && d->shape[1] == 2 && d->shape[2] == 3);
    CHECK(d->n_classes == 10);
    CHECK(d->y[11] == 1);
    /* Kept as the file's bytes; values come out scaled, copied (no ag_real to point at). */
    CHECK(d->pixels != NULL && d->x == NULL);
    CHECK(d->pixels[5 * 6 + 4] == 5 * 13 + 4 && d->pixels[11 * 6] == 11 * 13 % 256);
    ag_real v[6];
    nn_dataset_values(d, 5, v);
    CHECK_NEAR(v[4], (double)(5 * 13 + 4) / 255, 1e-7);
    nn_dataset_values(d, 11, v);
    CHECK_NEAR(v[0], (double)(11 * 13 % 256) / 255, 1e-7);
    EXPECT_ERROR(nn_dataset_example(d, 0));
    EXPECT_ERROR(nn_dataset_values(d, 12, v));
    nn_dataset_free(d);
}

TEST(dataset_rejects_label_count_mismatch) {
    const char *im = test_tmp_path("mm-images.idx"), *lb = test_tmp_path("mm-labels.idx");
    write_pair(im, NULL, 12, 2, 3);
    uint8_t y[11] = {0};
    write_idx(lb, 1, (uint32_t[]){11}, y);
    nn_error err = {{0}};
    CHECK(nn_dataset_load_idx(im, lb, &err) == NULL);
    if (!strstr(err.msg, "11 labels, but") || !strstr(err.msg, "has 12 images"))
        test_fail(__FILE__, __LINE__, "message: %s", err.msg);
    /* A label file with two dimensions is not a label file. */
    write_idx(lb, 2, (uint32_t[]){12, 1}, (uint8_t[12]){0});
    CHECK(nn_dataset_load_idx(im, lb, &err) == NULL);
    CHECK(strstr(err.msg, "needs 1 dimension") != NULL);
}

TEST(dataset_load_mnist_directory) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/mnist-tiny", test_tmpdir());
    mkdir(dir, 0755);
    nn_error err = {{0}};
    CHECK(nn_dataset_load_mnist(dir, "train", &err) == NULL); /* empty directory */
    if (!strstr(err.msg, "train-images-idx3-ubyte: not found") || !strstr(err.msg, "make data"))
        test_fail(__FILE__, __LINE__, "message: %s", err.msg);
    char im[600], lb[600];
    snprintf(im, sizeof im, "%s/t10k-images-idx3-ubyte.gz", dir); /* gzipped ... */
    snprintf(lb, sizeof lb, "%s/t10k-labels-idx1-ubyte", dir);    /* ... and raw */
    write_pair(im, lb, 7, 28, 28);
    nn_dataset *d = nn_dataset_load_mnist(dir, "test", &err);
    CHECK(d && d->n == 7 && d->dim == 784 && d->y[6] == 6);
    nn_dataset_free(d);
    CHECK(nn_dataset_load_mnist(dir, "valid", &err) == NULL);
    CHECK(strstr(err.msg, "split must be") != NULL);
    CHECK(nn_dataset_load_mnist(test_tmp_path("no-such-dir"), "test", &err) == NULL);
    CHECK(strstr(err.msg, "no such directory") && strstr(err.msg, "make data"));
    /* Not 28x28: refused by the MNIST loader (nn_dataset_load_idx takes any size). */
    write_pair(im, lb, 7, 28, 27);
    CHECK(nn_dataset_load_mnist(dir, "test", &err) == NULL);
    CHECK(strstr(err.msg, "expected 28x28") != NULL);
}

/* n examples of shape (1, 2, 2), example i filled with i, label i mod 10. */
static nn_dataset *counting(int n) {
    nn_dataset *d = nn_dataset_new(n, 3, (int[]){1, 2, 2}, true);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < 4; j++) d->x[i * 4 + j] = (ag_real)i;
        d->y[i] = i % 10;
    }
    nn_dataset_update_classes(d);
    return d;
}

TEST(dataset_batches_cover_each_example_once_per_epoch) {
    nn_dataset *d = counting(103);
    ag_rng rng;
    ag_rng_seed(&rng, 7);
    nn_batcher *it = nn_batcher_new(d, &(nn_batch_opts){.batch_size = 10}, &rng);
    ag_tape *t = ag_tape_new(1);
    CHECK(nn_batcher_num_batches(it) == 11 && nn_batcher_num_examples(it) == 103);
    int first_order[103];
    for (int epoch = 0; epoch < 3; epoch++) {
        int seen[103] = {0}, batches = 0, total = 0, in_order = 0;
        nn_batch b;
        while (nn_batcher_next(it, t, &b)) {
            CHECK(b.epoch == epoch && b.step == batches);
            CHECK(b.x->ndim == 4 && b.x->shape[0] == b.size && b.x->shape[1] == 1 &&
                  b.x->shape[2] == 2 && b.x->shape[3] == 2);
            CHECK(b.size == (batches < 10 ? 10 : 3));
            for (int i = 0; i < b.size; i++) {
                int k = b.index[i];
                seen[k]++;
                if (epoch == 0) first_order[total + i] = k;
                else in_order += first_order[total + i] == k;
                CHECK(b.x->data[i * 4 + 3] == (ag_real)k); /* rows are the right examples */
                CHECK(b.y[i] == k % 10);
            }
            total += b.size;
            batches++;
            ag_tape_clear(t);
        }
        int once = 0;
        for (int i = 0; i < 103; i++) once += seen[i] == 1;
        CHECK(once == 103 && total == 103 && batches == 11);
        if (epoch > 0) CHECK(in_order < 20); /* reshuffled, not the same order again */
    }
    ag_tape_free(t);
    nn_batcher_free(it);
    nn_dataset_free(d);
}

/* The example order of one epoch from a fresh rng seeded with seed. */
static void epoch_order(const nn_dataset *d, uint64_t seed, const nn_batch_opts *o, int *out,
                        int *count) {
    ag_rng rng;
    ag_rng_seed(&rng, seed);
    nn_batcher *it = nn_batcher_new(d, o, &rng);
    ag_tape *t = ag_tape_new(1);
    nn_batch b;
    *count = 0;
    while (nn_batcher_next(it, t, &b)) {
        for (int i = 0; i < b.size; i++) out[(*count)++] = b.index[i];
        ag_tape_clear(t);
    }
    ag_tape_free(t);
    nn_batcher_free(it);
}

TEST(dataset_same_seed_same_order_and_drop_last) {
    nn_dataset *d = counting(50);
    int a[50], b[50], c[50], na, nb, nc;
    nn_batch_opts o = {.batch_size = 8};
    epoch_order(d, 42, &o, a, &na);
    epoch_order(d, 42, &o, b, &nb);
    epoch_order(d, 43, &o, c, &nc);
    CHECK(na == 50 && nb == 50 && nc == 50);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    int identity = 0;
    for (int i = 0; i < 50; i++) identity += a[i] == i;
    CHECK(identity < 10); /* shuffled */
    o.drop_last = true; /* 50 = 6 * 8 + 2: the last 2 are dropped */
    epoch_order(d, 42, &o, c, &nc);
    CHECK(nc == 48);
    o = (nn_batch_opts){.batch_size = 8, .no_shuffle = true};
    epoch_order(d, 42, &o, c, &nc);
    identity = 0;
    for (int i = 0; i < 50; i++) identity += c[i] == i;
    CHECK(nc == 50 && identity == 50);
    nn_dataset_free(d);
}

TEST(dataset_batch_flatten_and_arena_steady_state) {
    nn_dataset *d = counting(40);
    ag_rng rng;
    ag_rng_seed(&rng, 3);
    nn_batcher *it = nn_batcher_new(d, &(nn_batch_opts){.batch_size = 16, .flatten = true},
                                    &rng);
    ag_tape *t = ag_tape_new(1);
    nn_batch b;
    size_t reserved = 0;
    for (int epoch = 0; epoch < 4; epoch++) {
        while (nn_batcher_next(it, t, &b)) {
            CHECK(b.x->ndim == 2 && b.x->shape[0] == b.size && b.x->shape[1] == 4);
            ag_tape_clear(t);
        }
        if (epoch == 0) reserved = ag_tape_bytes_reserved(t);
    }
    CHECK(reserved > 0 && ag_tape_bytes_reserved(t) == reserved); /* arena stopped growing */
    /* nn_dataset_batch picks explicit examples, with labels. */
    int labels[3];
    ag_tensor *x = nn_dataset_batch(d, t, (int[]){39, 0, 12}, 3, false, labels);
    CHECK(x->ndim == 4 && x->shape[0] == 3 && x->data[0] == 39 && x->data[8] == 12);
    CHECK(labels[0] == 9 && labels[1] == 0 && labels[2] == 2);
    EXPECT_ERROR(nn_dataset_batch(d, t, (int[]){40}, 1, false, NULL));
    EXPECT_ERROR(nn_batcher_new(d, &(nn_batch_opts){.batch_size = 0}, &rng));
    EXPECT_ERROR(nn_batcher_new(d, &(nn_batch_opts){.batch_size = 4}, NULL));
    ag_tape_free(t);
    nn_batcher_free(it);
    nn_dataset_free(d);
}

TEST(dataset_subsets) {
    nn_dataset *d = counting(30);
    nn_dataset *s = nn_dataset_subset(d, (int[]){5, 5, 29}, 3);
    CHECK(s->n == 3 && s->x[0] == 5 && s->x[4] == 5 && s->x[8] == 29 && s->y[2] == 9);
    CHECK(s->n_classes == 10);
    nn_dataset_free(s);
    s = nn_dataset_slice(d, 10, 14);
    CHECK(s->n == 4 && s->x[0] == 10 && s->x[15] == 13 && s->y[3] == 3);
    nn_dataset_free(s);
    s = nn_dataset_filter_label(d, 3, true);
    CHECK(s->n == 3 && s->y[0] == 3 && s->y[1] == 3 && s->y[2] == 3 && s->x[4] == 13);
    nn_dataset_free(s);
    s = nn_dataset_filter_label(d, 3, false); /* "all except digit 3" */
    int threes = 0;
    for (int i = 0; i < s->n; i++) threes += s->y[i] == 3;
    CHECK(s->n == 27 && threes == 0);
    nn_dataset_free(s);
    nn_dataset *a, *b;
    nn_dataset_split(d, 20, &a, &b);
    CHECK(a->n == 20 && b->n == 10 && b->x[0] == 20 && a->x[79] == 19);
    nn_dataset_free(a);
    nn_dataset_free(b);
    EXPECT_ERROR(nn_dataset_subset(d, (int[]){30}, 1));
    EXPECT_ERROR(nn_dataset_slice(d, 5, 31));
    nn_dataset *u = nn_dataset_new(4, 1, (int[]){3}, false);
    EXPECT_ERROR(nn_dataset_filter_label(u, 0, true)); /* no labels */
    nn_dataset_free(u);
    nn_dataset_free(d);
}

static int count_binary(const ag_real *x, size_t n, double *mean) {
    int ok = 0;
    double s = 0;
    for (size_t i = 0; i < n; i++) ok += x[i] == 0 || x[i] == 1, s += x[i];
    *mean = s / (double)n;
    return ok;
}

TEST(dataset_binarization) {
    /* 200 examples of 50 values, all 0.3 except the first value of each (0.9). */
    nn_dataset *d = nn_dataset_new(200, 1, (int[]){50}, false);
    for (int i = 0; i < 200 * 50; i++) d->x[i] = i % 50 ? (ag_real)0.3 : (ag_real)0.9;
    nn_dataset *s1 = nn_dataset_slice(d, 0, 200), *s2 = nn_dataset_slice(d, 0, 200);
    nn_dataset *th = nn_dataset_slice(d, 0, 200);
    double mean;
    nn_dataset_binarize_bernoulli(s1, 11);
    nn_dataset_binarize_bernoulli(s2, 11);
    CHECK(count_binary(s1->x, 10000, &mean) == 10000);
    CHECK_NEAR(mean, (49 * 0.3 + 0.9) / 50, 0.02);
    CHECK(memcmp(s1->x, s2->x, 10000 * sizeof(ag_real)) == 0); /* same seed, same draw */
    nn_dataset_binarize_threshold(th, (ag_real)0.5);
    CHECK(count_binary(th->x, 10000, &mean) == 10000);
    CHECK_NEAR(mean, 1.0 / 50, 1e-12);

    /* Dynamic: a fresh draw each epoch, binary, with the right mean. */
    ag_rng rng;
    ag_rng_seed(&rng, 5);
    nn_batcher *it = nn_batcher_new(d, &(nn_batch_opts){.batch_size = 200, .binarize = true,
                                                       .no_shuffle = true}, &rng);
    ag_tape *t = ag_tape_new(1);
    ag_real *first = malloc(10000 * sizeof(ag_real));
    nn_batch b;
    CHECK(nn_batcher_next(it, t, &b) && b.size == 200);
    CHECK(count_binary(b.x->data, 10000, &mean) == 10000);
    CHECK_NEAR(mean, (49 * 0.3 + 0.9) / 50, 0.02);
    memcpy(first, b.x->data, 10000 * sizeof(ag_real));
    ag_tape_clear(t);
    CHECK(!nn_batcher_next(it, t, &b));
    CHECK(nn_batcher_next(it, t, &b) && b.epoch == 1);
    int same = 0;
    for (int i = 0; i < 10000; i++) same += first[i] == b.x->data[i];
    CHECK(same < 9000); /* independent draws agree on ~62% of values */
    CHECK(d->x[1] == (ag_real)0.3); /* the dataset itself is untouched */
    free(first);
    ag_tape_free(t);
    nn_batcher_free(it);
    nn_dataset_free(s1);
    nn_dataset_free(s2);
    nn_dataset_free(th);
    nn_dataset_free(d);
}

/* Bytes kept as bytes give training the very values the float datasets of earlier
 * versions held: the loader filled those with (ag_real)byte / 255, a correctly rounded
 * division, here recomputed in double and rounded once (exact for a division: 53 bits are
 * more than 2 x 24 + 2).  A multiplication by 1/255 would miss on 126 of the 256 bytes in
 * float.  Checked through the batch path on one thread and two (64 x 784 values take the
 * threaded split) and over an arena left dirty by an earlier batch (the batch tensor is
 * not zeroed first), and through static binarization and subsets. */
TEST(dataset_batch_from_bytes_is_the_float_conversion_bit_for_bit) {
    enum { N = 64, D = 784 };
    ag_rng r;
    ag_rng_seed(&r, 21);
    nn_dataset *px = nn_dataset_new_pixels(N, 3, (int[]){1, 28, 28}, false);
    ag_real *old = malloc(sizeof(ag_real) * N * D); /* the float dataset of earlier versions */
    for (size_t i = 0; i < (size_t)N * D; i++) {
        px->pixels[i] = (uint8_t)(i < 256 ? i : ag_rng_below(&r, 256)); /* every byte, then noise */
        old[i] = (ag_real)((double)px->pixels[i] / 255);
    }
    nn_dataset *fl = nn_dataset_from_data(N, 3, (int[]){1, 28, 28}, old, NULL);
    int idx[N];
    for (int i = 0; i < N; i++) idx[i] = (i * 37 + 5) % N; /* a shuffled order */
    ag_tape *t = ag_tape_new(1);
    int threads = ag_num_threads();
    for (int run = 0; run < 3; run++) {
        ag_set_num_threads(run == 1 ? 2 : 1);
        ag_tensor *a = nn_dataset_batch(px, t, idx, N, true, NULL);
        ag_tensor *b = nn_dataset_batch(fl, t, idx, N, true, NULL);
        CHECK(a->ndim == 2 && a->shape[0] == N && a->shape[1] == D);
        int same = 0;
        for (int i = 0; i < N; i++)
            same += !memcmp(a->data + (size_t)i * D, old + (size_t)idx[i] * D, sizeof(ag_real) * D);
        CHECK(same == N);
        CHECK(memcmp(a->data, b->data, sizeof(ag_real) * N * D) == 0);
        for (size_t i = 0; i < (size_t)N * D; i++) a->data[i] = b->data[i] = (ag_real)-7; /* dirt */
        ag_tape_clear(t);
    }
    ag_set_num_threads(threads);
    ag_real v[D];
    nn_dataset_values(px, 9, v);
    CHECK(memcmp(v, old + 9 * D, sizeof v) == 0);
    /* A subset stays bytes; binarizing bytes draws what binarizing the floats draws. */
    nn_dataset *ps = nn_dataset_subset(px, idx, N), *fs = nn_dataset_subset(fl, idx, N);
    CHECK(ps->pixels && !ps->x && ps->pixels[D] == px->pixels[(size_t)idx[1] * D]);
    nn_dataset *pt = nn_dataset_slice(px, 0, N), *ft = nn_dataset_slice(fl, 0, N);
    nn_dataset_binarize_bernoulli(ps, 11);
    nn_dataset_binarize_bernoulli(fs, 11);
    nn_dataset_binarize_threshold(pt, (ag_real)0.5);
    nn_dataset_binarize_threshold(ft, (ag_real)0.5);
    int agree = 0, ones = 0;
    for (size_t i = 0; i < (size_t)N * D; i++) {
        agree += (ps->pixels[i] == 255 && fs->x[i] == 1) || (ps->pixels[i] == 0 && fs->x[i] == 0);
        agree += (pt->pixels[i] == 255 && ft->x[i] == 1) || (pt->pixels[i] == 0 && ft->x[i] == 0);
        ones += ps->pixels[i] == 255;
    }
    CHECK(agree == 2 * N * D);
    CHECK(ones > N * D / 4 && ones < 3 * N * D / 4); /* uniform bytes: about half are drawn 1 */
    ag_tensor *a = nn_dataset_batch(ps, t, idx, 4, false, NULL);
    CHECK(a->ndim == 4 && (a->data[0] == 0 || a->data[0] == 1));
    ag_tape_free(t);
    free(old);
    nn_dataset_free(ps), nn_dataset_free(fs), nn_dataset_free(pt), nn_dataset_free(ft);
    nn_dataset_free(px), nn_dataset_free(fl);
}

/* The real data, when `make data` has fetched it: cheap checks of the test splits (10000
 * images each) and the training labels.  Skipped with a message otherwise. */
static bool have_dir(const char *dir) {
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

TEST(dataset_real_mnist_and_fashion) {
    const char *dirs[2] = {"data/mnist", "data/fashion"};
    for (int k = 0; k < 2; k++) {
        if (!have_dir(dirs[k])) {
            fprintf(stderr, "    skipped %s: not present (run `make data`)\n", dirs[k]);
            continue;
        }
        nn_error err = {{0}};
        nn_dataset *d = nn_dataset_load_mnist(dirs[k], "test", &err);
        CHECK(d != NULL);
        if (!d) { fprintf(stderr, "    %s\n", err.msg); continue; }
        CHECK(d->n == 10000 && d->dim == 784 && d->n_classes == 10);
        int per_class[10] = {0};
        for (int i = 0; i < d->n; i++) per_class[d->y[i]]++;
        int balanced = 0; /* MNIST: 892..1135 per digit; Fashion: exactly 1000 per class */
        for (int c = 0; c < 10; c++) balanced += per_class[c] >= 850 && per_class[c] <= 1150;
        CHECK(balanced == 10);
        double mean = 0;
        for (size_t i = 0; i < (size_t)d->n * d->dim; i++) mean += d->pixels[i] / 255.0;
        mean /= (double)d->n * (double)d->dim;
        if (k == 0) {
            CHECK_NEAR(mean, 0.1325, 0.002); /* MNIST's test-set mean intensity */
            CHECK(d->y[0] == 7 && d->y[1] == 2 && d->y[2] == 1 && d->y[3] == 0);
        } else {
            CHECK_NEAR(mean, 0.2868, 0.004); /* Fashion-MNIST's test-set mean intensity */
            CHECK(d->y[0] == 9 && per_class[0] == 1000);
            CHECK(strcmp(nn_fashion_mnist_classes[d->y[0]], "Ankle boot") == 0);
        }
        nn_dataset_free(d);
        char path[256];
        snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dirs[k]);
        nn_idx *y = nn_idx_load(path, NULL);
        if (!y) {
            snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", dirs[k]);
            y = nn_idx_load(path, NULL);
        }
        CHECK(y && y->ndim == 1 && y->dims[0] == 60000);
        nn_idx_free(y);
    }
}
