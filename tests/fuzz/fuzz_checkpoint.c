/* fuzz_checkpoint.c — libFuzzer target for the checkpoint reader (nn/checkpoint.c, format in
 * docs/checkpoint-format.md): nn_checkpoint_info, which parses and prints any checkpoint,
 * and nn_checkpoint_load into a small model with Adam's state (fuzz_common.h).
 *
 * Every input is tried twice: as it is, and with its last four bytes replaced by the CRC-32
 * of the bytes before them.  The first run checks that damage is caught by the checksum;
 * the second lets mutations get past the checksum into the header and record parser,
 * which would otherwise almost never see a mutated byte.
 *
 * A checkpoint is a file a user may download or receive; a crash, sanitizer report, leak or
 * abort here means such a file can take down the program loading it (or make it allocate
 * what a length field claims).  The target also checks the loader's all-or-nothing promise:
 * when a load fails, no tensor of the model has changed. */
#include "tests/fuzz/fuzz_common.h"

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every value of every tensor of the list set to a pattern the files cannot contain by
 * chance (the loader either overwrites all of them or none). */
static void fill_pattern(const nn_param_list *l) {
    for (int i = 0; i < l->n; i++)
        for (size_t j = 0; j < l->items[i].value->size; j++)
            l->items[i].value->data[j] = (ag_real)(-1234.5 - (double)j);
}

static bool has_pattern(const nn_param_list *l) {
    for (int i = 0; i < l->n; i++)
        for (size_t j = 0; j < l->items[i].value->size; j++)
            if (l->items[i].value->data[j] != (ag_real)(-1234.5 - (double)j)) return false;
    return true;
}

static void try_file(const char *path, const uint8_t *data, size_t size, fuzz_model *m) {
    fuzz_write_file(path, data, size);
    nn_error err;
    nn_ckpt_meta *meta = malloc(sizeof *meta); /* 8 KiB of text: not on libFuzzer's stack */
    if (!meta) abort();
    char out[4096];
    FILE *f = fmemopen(out, sizeof out, "w"); /* output past 4 KiB is dropped, not a bug */
    if (!f) abort();
    int info = nn_checkpoint_info(path, meta, f, &err);
    fclose(f);
    if (info == 0 && !memchr(meta->text, 0, sizeof meta->text)) __builtin_trap();

    fill_pattern(&m->all);
    int load = nn_checkpoint_load(path, &m->all, meta, &err);
    if (load != 0 && !has_pattern(&m->all)) __builtin_trap(); /* a failed load wrote */
    if (load == 0 && info != 0) __builtin_trap(); /* load accepted what info rejected */
    free(meta);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    fuzz_tmp_path(path, sizeof path, "ckpt");
    fuzz_model m;
    fuzz_model_new(&m, 1);

    try_file(path, data, size, &m);
    if (size >= 8) { /* the same bytes under a valid CRC */
        uint8_t *fixed = malloc(size);
        if (!fixed) abort();
        memcpy(fixed, data, size);
        uLong crc = crc32(0, Z_NULL, 0);
        crc = crc32(crc, fixed, (uInt)(size - 4));
        for (int i = 0; i < 4; i++) fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
        if (memcmp(fixed, data, size) != 0) try_file(path, fixed, size, &m);
        free(fixed);
    }
    unlink(path);
    fuzz_model_free(&m);
    return 0;
}
