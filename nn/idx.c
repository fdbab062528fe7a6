/* idx.c — reading IDX files (MNIST's format), raw or gzipped, without trusting the header.
 *
 * Layout: bytes 00 00 <type> <ndim>, then ndim big-endian uint32 dimensions, then the
 * values row-major.  A header is just a claim: before allocating we check the product of
 * the dimensions for overflow and compare it with the real length of the data.  For a raw
 * file the length is the file's size; a gzip stream's length is only known once it is
 * decompressed, so we decompress into a buffer that grows with the data actually read and
 * never beyond the claimed size (a header claiming 4e9 images in a 1 kB file costs ~1 MB).
 * A damaged gzip file is refused, never half-read: the stream must end with its end marker,
 * CRC-32 and length intact and nothing after it (see `source` below).  The file is opened
 * non-blocking and must be a regular file, so a FIFO or a device cannot hang the open.
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

/* The bytes of the file, raw or inflated.  A gzip file is inflated here with zlib's
 * inflate() rather than gzread(), because gzread forgives damage: it stops quietly at a
 * stream cut short (a truncated download), ignores garbage after the end, and reports a
 * CRC mismatch only as "data error".  Here the stream must reach its end marker with a
 * matching CRC-32 and length (Z_STREAM_END), and nothing may follow it. */
typedef struct source {
    int fd;
    bool gz, ended;         /* ended: the gzip stream reached Z_STREAM_END */
    z_stream z;
    unsigned char in[1 << 16];
    size_t out_total;       /* bytes delivered so far (for messages) */
    char why[160];          /* the last failure */
} source;

/* Reads up to n bytes of the file (raw) from fd, retrying short reads. */
static long long read_fd(int fd, unsigned char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got > (1u << 30) ? (1u << 30) : n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (long long)got;
}

/* Reads exactly n bytes unless the data ends first: returns the count read, or -1 with
 * s->why set (a read error, a corrupt or truncated gzip stream, data after its end). */
static long long src_read(source *s, unsigned char *buf, size_t n) {
    if (!s->gz) {
        long long r = read_fd(s->fd, buf, n);
        if (r < 0) snprintf(s->why, sizeof s->why, "read error: %s", strerror(errno));
        else s->out_total += (size_t)r;
        return r;
    }
    size_t got = 0;
    while (got < n && !s->ended) {
        if (s->z.avail_in == 0) {
            long long r = read_fd(s->fd, s->in, sizeof s->in);
            if (r < 0) {
                snprintf(s->why, sizeof s->why, "read error: %s", strerror(errno));
                return -1;
            }
            if (r == 0) {
                snprintf(s->why, sizeof s->why, "truncated gzip stream (the file ends "
                         "before the stream's end marker and checksum)");
                return -1;
            }
            s->z.next_in = s->in;
            s->z.avail_in = (uInt)r;
        }
        size_t want = n - got > (1u << 30) ? (1u << 30) : n - got;
        s->z.next_out = buf + got;
        s->z.avail_out = (uInt)want;
        int rc = inflate(&s->z, Z_NO_FLUSH);
        size_t made = want - s->z.avail_out;
        got += made;
        s->out_total += made;
        if (rc == Z_STREAM_END) {
            s->ended = true;
            /* nothing may follow: neither in the buffer nor in the rest of the file */
            unsigned char extra;
            if (s->z.avail_in > 0 || read_fd(s->fd, &extra, 1) != 0) {
                snprintf(s->why, sizeof s->why, "unexpected bytes after the end of the gzip "
                         "stream (trailing garbage, or a second stream)");
                return -1;
            }
        } else if (rc != Z_OK && !(rc == Z_BUF_ERROR && made > 0)) {
            snprintf(s->why, sizeof s->why, "corrupt gzip stream: %s",
                     s->z.msg ? s->z.msg : "inflate failed");
            return -1;
        }
    }
    return (long long)got;
}

/* After the last expected byte: a gzip stream must end here, exactly (its checksum and
 * length are checked by inflate on the way).  0, or -1 with s->why. */
static int src_expect_end(source *s, bool *more) {
    unsigned char extra;
    long long r = src_read(s, &extra, 1);
    *more = r > 0;
    return r < 0 ? -1 : 0;
}

static void src_close(source *s) {
    if (s->gz) inflateEnd(&s->z);
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
}

nn_idx *nn_idx_load(const char *path, nn_error *err) {
    if (!path) ag_error("nn_idx_load", "path is NULL");

    /* O_NONBLOCK: a FIFO or a device must not hang the open; only regular files are read. */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
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
    int fl = fcntl(fd, F_GETFL);
    if (fl != -1) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    bool gz = read(fd, magic, 2) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (lseek(fd, 0, SEEK_SET) != 0) {
        nn_fail(err, "%s: cannot seek: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    source *src = calloc(1, sizeof *src);
    if (!src) {
        nn_fail(err, "%s: out of memory", path);
        close(fd);
        return NULL;
    }
    src->fd = fd;
    if (gz) {
        if (inflateInit2(&src->z, 16 + MAX_WBITS) != Z_OK) { /* 16: a gzip wrapper only */
            nn_fail(err, "%s: cannot start zlib", path);
            close(fd);
            free(src);
            return NULL;
        }
        src->gz = true;
    }

    nn_idx *x = calloc(1, sizeof *x);
    const char *what = gz ? " (after gzip decompression)" : "";
    if (!x) {
        nn_fail(err, "%s: out of memory", path);
        goto fail;
    }

    /* Header: 00 00 <type> <ndim>, then ndim big-endian uint32. */
    unsigned char head[4 + 4 * NN_IDX_MAX_DIMS];
    long long got = src_read(src, head, 4);
    if (got < 0) {
        nn_fail(err, "%s: %s", path, src->why);
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
    got = src_read(src, head + 4, 4 * (size_t)ndim);
    if (got < 0) {
        nn_fail(err, "%s: %s", path, src->why);
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
        got = src_read(src, x->data + len, cap - len);
        if (got < 0) {
            nn_fail(err, "%s: %s, after %zu of the %zu bytes of data the header announces "
                    "(%s)", path, src->why, src->out_total - header, size, desc);
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
    bool more = false;
    if (src_expect_end(src, &more)) {
        nn_fail(err, "%s: %s, after all %zu bytes of data (%s)", path, src->why, size, desc);
        goto fail;
    }
    if (more) {
        nn_fail(err, "%s: header says %s (%zu bytes of data) but more data follows%s", path,
                desc, size, what);
        goto fail;
    }
    src_close(src);
    free(src);
    return x;

fail:
    src_close(src);
    free(src);
    nn_idx_free(x);
    return NULL;
}

void nn_idx_free(nn_idx *x) {
    if (!x) return;
    free(x->data);
    free(x);
}
