/* test_idx.c — the IDX reader: exact loads of tiny files written here (raw and gzipped with
 * zlib), and every way a file can lie: truncation, wrong magic, unsupported type, absurd or
 * overflowing dimensions, trailing data. */
#include "tests/test.h"
#include "nn/data.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static void write_raw(const char *path, const uint8_t *b, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(b, 1, n, f) == n);
    fclose(f);
}

static void write_gz(const char *path, const uint8_t *b, size_t n) {
    gzFile g = gzopen(path, "wb");
    CHECK(g != NULL);
    if (!g) return;
    if (n) CHECK(gzwrite(g, b, (unsigned)n) == (int)n);
    gzclose(g);
}

/* The IDX header 00 00 <type> <ndim> + big-endian dims; returns its length. */
static size_t make_header(uint8_t *out, int ndim, const uint32_t *dims, int type) {
    out[0] = 0, out[1] = 0, out[2] = (uint8_t)type, out[3] = (uint8_t)ndim;
    size_t k = 4;
    for (int i = 0; i < ndim; i++) {
        out[k++] = (uint8_t)(dims[i] >> 24), out[k++] = (uint8_t)(dims[i] >> 16);
        out[k++] = (uint8_t)(dims[i] >> 8), out[k++] = (uint8_t)dims[i];
    }
    return k;
}

/* A whole IDX file of ubytes, data[i] = (7 i + 3) mod 256; returns its length. */
static size_t make_idx(uint8_t *out, int ndim, const uint32_t *dims, int type) {
    size_t k = make_header(out, ndim, dims, type), n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    for (size_t i = 0; i < n; i++) out[k + i] = (uint8_t)(7 * i + 3);
    return k + n;
}

static void check_tiny(const nn_idx *x) {
    CHECK(x != NULL);
    if (!x) return;
    CHECK(x->ndim == 3);
    CHECK(x->dims[0] == 3 && x->dims[1] == 2 && x->dims[2] == 4);
    CHECK(x->size == 24);
    int bad = 0;
    for (size_t i = 0; i < x->size; i++) bad += x->data[i] != (uint8_t)(7 * i + 3);
    CHECK(bad == 0);
}

TEST(idx_loads_raw_exactly) {
    uint8_t b[64];
    size_t n = make_idx(b, 3, (uint32_t[]){3, 2, 4}, 0x08);
    const char *p = test_tmp_path("tiny.idx");
    write_raw(p, b, n);
    nn_error err = {{0}};
    nn_idx *x = nn_idx_load(p, &err);
    check_tiny(x);
    nn_idx_free(x);
}

TEST(idx_loads_gzip_exactly) {
    uint8_t b[64];
    size_t n = make_idx(b, 3, (uint32_t[]){3, 2, 4}, 0x08);
    const char *p = test_tmp_path("tiny.idx.gz");
    write_gz(p, b, n);
    nn_error err = {{0}};
    nn_idx *x = nn_idx_load(p, &err);
    check_tiny(x);
    nn_idx_free(x);
    /* One dimension (a label file) too. */
    n = make_idx(b, 1, (uint32_t[]){10}, 0x08);
    write_gz(p, b, n);
    x = nn_idx_load(p, &err);
    CHECK(x && x->ndim == 1 && x->dims[0] == 10 && x->size == 10 && x->data[9] == 66);
    nn_idx_free(x);
}

/* Loads path expecting failure; checks the message names the file and holds `what`. */
static void expect_fail(const char *path, const char *what) {
    nn_error err = {{0}};
    nn_idx *x = nn_idx_load(path, &err);
    CHECK(x == NULL);
    nn_idx_free(x);
    if (!strstr(err.msg, path) || !strstr(err.msg, what))
        test_fail(__FILE__, __LINE__, "message \"%s\" should name %s and say \"%s\"", err.msg,
                  path, what);
    CHECK(nn_idx_load(path, NULL) == NULL); /* err may be NULL */
}

TEST(idx_rejects_truncated_raw_and_gzip) {
    uint8_t b[64];
    size_t n = make_idx(b, 3, (uint32_t[]){3, 2, 4}, 0x08);
    const char *raw = test_tmp_path("cut.idx"), *gz = test_tmp_path("cut.idx.gz");
    write_raw(raw, b, n - 5);
    expect_fail(raw, "truncated: header says 3 items of 2x4 (40 bytes) but the file has 35");
    write_gz(gz, b, n - 5);
    expect_fail(gz, "truncated: header says 3 items of 2x4 (24 bytes of data) but the data "
                    "ends after 19 bytes");
    /* A header cut in the middle of its dimensions. */
    write_raw(raw, b, 9);
    expect_fail(raw, "truncated IDX header");
    write_raw(raw, b, 2);
    expect_fail(raw, "too short for an IDX header");
    /* A gzip stream cut short (the compressed file itself truncated). */
    uint8_t big[4096 + 16];
    n = make_idx(big, 2, (uint32_t[]){64, 64}, 0x08);
    for (size_t i = 16; i < n; i++) big[i] = (uint8_t)(i * 2654435761u >> 13); /* noisy */
    write_gz(gz, big, n);
    FILE *f = fopen(gz, "rb");
    uint8_t zbuf[8192];
    size_t zn = f ? fread(zbuf, 1, sizeof zbuf, f) : 0;
    if (f) fclose(f);
    CHECK(zn > 100);
    write_raw(gz, zbuf, zn / 2);
    expect_fail(gz, "truncated");
}

TEST(idx_rejects_trailing_data) {
    uint8_t b[64];
    size_t n = make_idx(b, 3, (uint32_t[]){3, 2, 4}, 0x08);
    b[n] = 1, b[n + 1] = 2;
    const char *raw = test_tmp_path("long.idx"), *gz = test_tmp_path("long.idx.gz");
    write_raw(raw, b, n + 2);
    expect_fail(raw, "2 bytes of unexpected data at the end");
    write_gz(gz, b, n + 2);
    expect_fail(gz, "more data follows");
}

TEST(idx_rejects_bad_magic_and_type) {
    uint8_t b[64];
    size_t n = make_idx(b, 3, (uint32_t[]){3, 2, 4}, 0x08);
    const char *p = test_tmp_path("bad.idx");
    b[0] = 0x12, b[1] = 0x34;
    write_raw(p, b, n);
    expect_fail(p, "not an IDX file: magic bytes 12 34 08 03");
    make_idx(b, 3, (uint32_t[]){3, 2, 4}, 0x0D);
    write_raw(p, b, n);
    expect_fail(p, "IDX type 0x0D (32-bit float) is not supported");
    make_idx(b, 3, (uint32_t[]){3, 2, 4}, 0x42);
    write_raw(p, b, n);
    expect_fail(p, "unknown IDX type byte 0x42");
    write_raw(p, (const uint8_t[]){0, 0, 8, 0}, 4);
    expect_fail(p, "0 dimensions");
    write_raw(p, (const uint8_t[]){0, 0, 8, 9, 0, 0, 0, 1}, 8);
    expect_fail(p, "9 dimensions");
    expect_fail(test_tmp_path("does-not-exist.idx"), "cannot open");
}

TEST(idx_rejects_huge_dims_without_allocating) {
    uint8_t b[64];
    const char *raw = test_tmp_path("huge.idx"), *gz = test_tmp_path("huge.idx.gz");
    /* 4e9 does not fit a dimension. */
    make_header(b, 1, (uint32_t[]){4000000000u}, 0x08);
    write_raw(raw, b, 8);
    expect_fail(raw, "IDX dimension 0 is 4000000000");
    /* Four dimensions of 2^31 - 1 overflow 64 bits. */
    uint32_t m = 2147483647u;
    make_header(b, 4, (uint32_t[]){m, m, m, m}, 0x08);
    write_raw(raw, b, 20);
    expect_fail(raw, "more bytes than this machine can address");
    /* A plausible header that claims far more than the file holds: 2e9 images of 28x28. */
    make_header(b, 3, (uint32_t[]){2000000000u, 28, 28}, 0x08);
    memset(b + 16, 9, 48);
    write_raw(raw, b, 64);
    expect_fail(raw, "truncated: header says 2000000000 items of 28x28 (1568000000016 bytes) "
                     "but the file has 64 bytes");
    /* The same gzipped: decompression stops at the data's real end (no 1.5 TB malloc). */
    write_gz(gz, b, 64);
    expect_fail(gz, "but the data ends after 48 bytes");
    /* A zero dimension is rejected too. */
    make_header(b, 2, (uint32_t[]){0, 5}, 0x08);
    write_raw(raw, b, 12);
    expect_fail(raw, "IDX dimension 0 is 0");
}

/* The bytes of a tiny gzipped IDX file (3x2x4, noisy enough to need real deflate blocks). */
static size_t tiny_gz(uint8_t *z, size_t cap, size_t *raw_len) {
    uint8_t b[4096 + 16];
    size_t n = make_idx(b, 2, (uint32_t[]){64, 64}, 0x08);
    for (size_t i = 12; i < n; i++) b[i] = (uint8_t)(i * 2654435761u >> 13);
    *raw_len = n;
    const char *p = test_tmp_path("whole.idx.gz");
    write_gz(p, b, n);
    FILE *f = fopen(p, "rb");
    size_t zn = f ? fread(z, 1, cap, f) : 0;
    if (f) fclose(f);
    return zn;
}

TEST(idx_rejects_every_damaged_gzip) {
    uint8_t z[8192], d[8192 + 64];
    size_t raw_len, zn = tiny_gz(z, sizeof z, &raw_len);
    CHECK(zn > 100 && zn < sizeof z);
    const char *p = test_tmp_path("damaged.idx.gz");
    /* the intact file loads */
    write_raw(p, z, zn);
    nn_error err = {{0}};
    nn_idx *x = nn_idx_load(p, &err);
    CHECK(x && x->size == 4096);
    nn_idx_free(x);
    /* 1 to 10 bytes cut off the end: the trailer (CRC-32 + length) or more is missing */
    for (size_t cut = 1; cut <= 10; cut++) {
        write_raw(p, z, zn - cut);
        expect_fail(p, "truncated gzip stream");
    }
    /* trailing garbage after a complete stream, and a second stream */
    memcpy(d, z, zn);
    memcpy(d + zn, "garbage", 7);
    write_raw(p, d, zn + 7);
    expect_fail(p, "unexpected bytes after the end of the gzip stream");
    d[zn] = 0;
    write_raw(p, d, zn + 1);
    expect_fail(p, "unexpected bytes after the end of the gzip stream");
    memcpy(d + zn, z, zn);
    write_raw(p, d, 2 * zn);
    expect_fail(p, "unexpected bytes after the end of the gzip stream");
    /* a flipped payload byte, with and without the trailer: CRC mismatch or a bad block */
    for (size_t cut = 0; cut <= 8; cut += 8) {
        for (size_t at = 20; at < zn - 8; at += (zn - 28) / 7) {
            memcpy(d, z, zn);
            d[at] ^= 0x10;
            write_raw(p, d, zn - cut);
            x = nn_idx_load(p, &err);
            if (x) test_fail(__FILE__, __LINE__, "byte %zu flipped, %zu cut: accepted", at, cut);
            nn_idx_free(x);
        }
    }
    /* a bad CRC-32: the message says how far the data got (not "after 0 bytes") */
    memcpy(d, z, zn);
    d[zn - 8] ^= 1;
    write_raw(p, d, zn);
    expect_fail(p, "incorrect data check");
    CHECK(strstr(err.msg, "after 0 ") == NULL);
    x = nn_idx_load(p, &err);
    CHECK(x == NULL && strstr(err.msg, "4096") != NULL && strstr(err.msg, "after 0 ") == NULL);
    nn_idx_free(x);
    /* a bad length field */
    memcpy(d, z, zn);
    d[zn - 4] ^= 1;
    write_raw(p, d, zn);
    expect_fail(p, "incorrect length check");
}

/* A FIFO (or any non-regular file) is refused at once instead of blocking in open(): with
 * nobody writing to it, a blocking open would hang forever (alarm: fail instead of hang). */
TEST(idx_refuses_a_fifo_without_hanging) {
    const char *p = test_tmp_path("fifo.idx");
    remove(p);
    CHECK(mkfifo(p, 0600) == 0);
    unsigned left = alarm(10);
    expect_fail(p, "not a regular file");
    alarm(left);
    remove(p);
    expect_fail(test_tmpdir(), "not a regular file"); /* a directory */
}
