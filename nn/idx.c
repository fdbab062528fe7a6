/* idx.c — reading IDX files (MNIST's format), raw or gzipped, without trusting the header.
 *
 * Layout: bytes 00 00 <type> <ndim>, then ndim big-endian uint32 dimensions, then the
 * values row-major.  A header is just a claim: before allocating we check the product of
 * the dimensions for overflow and compare it with the real length of the data.  For a raw
 * file the length is the file's size; a gzip stream's length is only known once it is
 * decompressed, so we decompress into a buffer that grows with the data actually read and
 * never beyond the claimed size (a header claiming 4e9 images in a 1 kB file costs ~1 MB).
 */
#include "nn/data.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

enum { IDX_UBYTE = 0x08 };

static const char *idx_type_name(int type) {
    switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "16-bit integer";
    case 0x0C: return "32-bit integer";
    case 0x0D: return "32-bit float";
    case 0x0E: return "64-bit double";
    default: return NULL;
    }
}

/* "60000 items of 28x28" or "10000 items", for messages. */
static void describe_dims(const nn_idx *x, char *buf, size_t n) {
    int k = snprintf(buf, n, "%d items", x->dims[0]);
    for (int i = 1; i < x->ndim && k > 0 && (size_t)k < n; i++)
        k += snprintf(buf + k, n - (size_t)k, "%s%d", i == 1 ? " of " : "x", x->dims[i]);
}

/* Reads exactly n bytes unless the stream ends or fails: returns the count read, or -1 on a
 * zlib error (message in *why).  gzread takes an unsigned length, so read in chunks. */
static long long read_fully(gzFile g, unsigned char *buf, size_t n, const char **why) {
    size_t got = 0;
    while (got < n) {
        size_t want = n - got > (1u << 30) ? (1u << 30) : n - got;
        int r = gzread(g, buf + got, (unsigned)want);
        if (r < 0) {
            int code;
            *why = gzerror(g, &code);
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (long long)got;
}

nn_idx *nn_idx_load(const char *path, nn_error *err) {
    if (!path) ag_error("nn_idx_load", "path is NULL");

    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        nn_fail(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    unsigned char magic[2] = {0, 0};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        nn_fail(err, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    bool gz = read(fd, magic, 2) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (lseek(fd, 0, SEEK_SET) != 0) {
        nn_fail(err, "%s: cannot seek: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    gzFile g = gzdopen(fd, "rb"); /* reads raw files transparently; owns fd from here */
    if (!g) {
        nn_fail(err, "%s: cannot open with zlib", path);
        close(fd);
        return NULL;
    }

    nn_idx *x = calloc(1, sizeof *x);
    const char *why = NULL;
    const char *what = gz ? " (after gzip decompression)" : "";
    if (!x) {
        nn_fail(err, "%s: out of memory", path);
        goto fail;
    }

    /* Header: 00 00 <type> <ndim>, then ndim big-endian uint32. */
    unsigned char head[4 + 4 * NN_IDX_MAX_DIMS];
    long long got = read_fully(g, head, 4, &why);
    if (got < 0) {
        nn_fail(err, "%s: gzip error: %s", path, why);
        goto fail;
    }
    if (got < 4) {
        nn_fail(err, "%s: too short for an IDX header (%lld bytes%s)", path, got, what);
        goto fail;
    }
    if (head[0] != 0 || head[1] != 0) {
        nn_fail(err, "%s: not an IDX file: magic bytes %02x %02x %02x %02x%s, expected "
                "00 00 <type> <ndim>", path, head[0], head[1], head[2], head[3], what);
        goto fail;
    }
    int type = head[2];
    if (type != IDX_UBYTE) {
        const char *name = idx_type_name(type);
        if (name)
            nn_fail(err, "%s: IDX type 0x%02X (%s) is not supported; only 0x08 (unsigned "
                    "byte) is read", path, type, name);
        else
            nn_fail(err, "%s: unknown IDX type byte 0x%02X (expected 0x08, unsigned byte)",
                    path, type);
        goto fail;
    }
    int ndim = head[3];
    if (ndim < 1 || ndim > NN_IDX_MAX_DIMS) {
        nn_fail(err, "%s: IDX header has %d dimensions; henbun reads 1 to %d", path, ndim,
                NN_IDX_MAX_DIMS);
        goto fail;
    }
    got = read_fully(g, head + 4, 4 * (size_t)ndim, &why);
    if (got < 0) {
        nn_fail(err, "%s: gzip error: %s", path, why);
        goto fail;
    }
    if (got < 4 * ndim) {
        nn_fail(err, "%s: truncated IDX header: %d dimensions announced but the header "
                "ends after %lld bytes", path, ndim, 4 + got);
        goto fail;
    }
    x->ndim = ndim;
    size_t size = 1;
    bool overflow = false;
    for (int i = 0; i < ndim; i++) {
        const unsigned char *p = head + 4 + 4 * i;
        uint32_t d = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (d == 0 || d > INT_MAX) {
            nn_fail(err, "%s: IDX dimension %d is %u (must be 1 to %d)", path, i, d, INT_MAX);
            goto fail;
        }
        x->dims[i] = (int)d;
        if (size > SIZE_MAX / d) overflow = true; /* 4 dims of up to 2^31 overflow 64 bits */
        else size *= d;
    }
    size_t header = 4 + 4 * (size_t)ndim;
    char desc[128];
    describe_dims(x, desc, sizeof desc);
    if (overflow || size > SIZE_MAX - header) {
        nn_fail(err, "%s: IDX header claims %s, more bytes than this machine can address",
                path, desc);
        goto fail;
    }
    x->size = size;

    /* Raw file: its size must be exactly header + data, checked before allocating. */
    if (!gz) {
        unsigned long long have = (unsigned long long)st.st_size, want = header + size;
        if (have < want) {
            nn_fail(err, "%s: truncated: header says %s (%llu bytes) but the file has %llu "
                    "bytes", path, desc, want, have);
            goto fail;
        }
        if (have > want) {
            nn_fail(err, "%s: header says %s (%llu bytes) but the file has %llu bytes: "
                    "%llu bytes of unexpected data at the end", path, desc, want, have,
                    have - want);
            goto fail;
        }
    }

    /* Read into a buffer that grows with the data actually read, capped at the claim (a
     * raw file's size is already checked, so it gets its whole buffer at once). */
    size_t cap = !gz || size < ((size_t)1 << 20) ? size : (size_t)1 << 20, len = 0;
    x->data = malloc(cap);
    if (!x->data) {
        nn_fail(err, "%s: out of memory for %zu bytes", path, cap);
        goto fail;
    }
    for (;;) {
        got = read_fully(g, x->data + len, cap - len, &why);
        if (got < 0) {
            nn_fail(err, "%s: truncated or corrupt gzip stream after %zu bytes of data "
                    "(header says %s, %zu bytes): %s", path, len, desc, size, why);
            goto fail;
        }
        len += (size_t)got;
        if (len < cap) break; /* the stream ended */
        if (cap == size) break;
        size_t grow = cap > size / 2 ? size : 2 * cap;
        unsigned char *p = realloc(x->data, grow);
        if (!p) {
            nn_fail(err, "%s: out of memory for %zu bytes", path, grow);
            goto fail;
        }
        x->data = p;
        cap = grow;
    }
    if (len < size) {
        nn_fail(err, "%s: truncated: header says %s (%zu bytes of data) but the data ends "
                "after %zu bytes", path, desc, size, len);
        goto fail;
    }
    unsigned char extra;
    got = read_fully(g, &extra, 1, &why);
    if (got != 0) {
        if (got < 0)
            nn_fail(err, "%s: corrupt gzip stream after the data: %s", path, why);
        else
            nn_fail(err, "%s: header says %s (%zu bytes of data) but more data follows%s",
                    path, desc, size, what);
        goto fail;
    }
    gzclose(g);
    return x;

fail:
    gzclose(g);
    nn_idx_free(x);
    return NULL;
}

void nn_idx_free(nn_idx *x) {
    if (!x) return;
    free(x->data);
    free(x);
}
