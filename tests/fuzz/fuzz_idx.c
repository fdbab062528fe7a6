/* fuzz_idx.c — libFuzzer target for the IDX reader (nn/idx.c) and the dataset loader on top
 * of it (nn_dataset_load_idx, nn/dataset.c).  The input is the whole file, raw or gzipped
 * (the reader detects gzip by its magic 1f 8b, so the fuzzer reaches both paths).
 *
 * IDX files come from outside (downloads, other tools); their headers are claims, not
 * facts.  A crash, a sanitizer report, a leak or an abort here means a file can take down
 * a program that loads it — or make it allocate what the header claims rather than what
 * the file holds — instead of getting an error message back.  The target also checks the
 * promises of nn/data.h on every file that loads: size is the product of the dimensions,
 * and a dataset holds the file's bytes as they are (its values, byte / 255, lie in [0, 1]). */
#include "tests/fuzz/fuzz_common.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    fuzz_tmp_path(path, sizeof path, "idx");
    fuzz_write_file(path, data, size);

    nn_error err;
    nn_idx *x = nn_idx_load(path, &err);
    if (x) {
        size_t n = 1;
        for (int i = 0; i < x->ndim; i++) n *= (size_t)x->dims[i];
        if (x->ndim < 1 || x->ndim > NN_IDX_MAX_DIMS || n != x->size) __builtin_trap();
        unsigned sum = 0; /* touch every byte: ASan checks the buffer really is size long */
        for (size_t i = 0; i < x->size; i++) sum += x->data[i];
        if (sum > 255u * x->size) __builtin_trap();
    } else if (!memchr(err.msg, 0, sizeof err.msg) || !strstr(err.msg, path)) {
        __builtin_trap(); /* every error names the file */
    }

    nn_dataset *d = nn_dataset_load_idx(path, NULL, &err);
    if (d) {
        /* it loads as a dataset only if it loads as an IDX file of 2 to 4 dimensions */
        if (!x || x->ndim < 2 || d->n != x->dims[0] || (size_t)d->n * d->dim != x->size)
            __builtin_trap();
        if (!d->pixels || memcmp(d->pixels, x->data, x->size)) __builtin_trap(); /* as read */
    }
    nn_dataset_free(d);
    nn_idx_free(x);
    unlink(path);
    return 0;
}
