/* checkpoint.c — atomic, checksummed checkpoints of named tensors (format:
 * docs/checkpoint-format.md).
 *
 * Saving streams the file through a running CRC-32 into "path.tmp.<pid>", fsyncs it and
 * renames it over path, so a crash or a full disk never leaves a half-written checkpoint
 * where the old one was.  Loading reads the whole file into memory, checks the magic and the
 * CRC, parses it with every length checked against the bytes that remain, matches it
 * against the model's list, and only then copies values into the tensors: a load either
 * succeeds completely or changes nothing.
 *
 * All integers and values are little-endian; they are assembled byte by byte, so the code
 * is the same on any host (compilers turn these shifts into plain loads and stores).
 */
#include "nn/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const unsigned char MAGIC[8] = {'H', 'E', 'N', 'B', 'U', 'N', 'C', 'K'};
/* magic, version, value size, step, epoch, rng, text length */
#define FIXED_HEADER (8 + 4 + 4 + 8 + 8 + 32 + 4)
/* the smallest tensor record: name length, a 1-byte name, ndim, one dimension of 0 */
#define MIN_RECORD (4 + 1 + 4 + 4)

/* ---- little-endian bytes ------------------------------------------------------------- */

static void put32(unsigned char *p, uint32_t x) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(x >> (8 * i));
}
static void put64(unsigned char *p, uint64_t x) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(x >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p) {
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Value number j of an array stored with `width` bytes per value (4 or 8), as a double
 * (exact for both widths). */
static double get_value(const unsigned char *data, size_t j, uint32_t width) {
    if (width == 4) {
        uint32_t u = get32(data + 4 * j);
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    uint64_t u = get64(data + 8 * j);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* ---- saving ---------------------------------------------------------------------------- */

/* A FILE with a running CRC; after the first failed write it does nothing and keeps errno. */
typedef struct writer {
    FILE *f;
    uLong crc;
    int err; /* errno of the first failure, or 0 */
} writer;

static void put(writer *w, const void *p, size_t n) {
    if (w->err || n == 0) return;
    if (fwrite(p, 1, n, w->f) != n) {
        w->err = errno ? errno : EIO;
        return;
    }
    const Bytef *b = p;
    for (size_t done = 0; done < n;) { /* crc32 takes a 32-bit length */
        uInt k = n - done > (1u << 30) ? (1u << 30) : (uInt)(n - done);
        w->crc = crc32(w->crc, b + done, k);
        done += k;
    }
}
static void put_u32(writer *w, uint32_t x) {
    unsigned char b[4];
    put32(b, x);
    put(w, b, 4);
}
static void put_u64(writer *w, uint64_t x) {
    unsigned char b[8];
    put64(b, x);
    put(w, b, 8);
}

/* The values of x, sizeof(ag_real) bytes each, through a small buffer. */
static void put_values(writer *w, const ag_real *x, size_t n) {
    unsigned char buf[8192];
    const size_t per = sizeof buf / sizeof(ag_real);
    for (size_t i = 0; i < n; i += per) {
        size_t k = n - i < per ? n - i : per;
        for (size_t j = 0; j < k; j++) {
#ifdef AG_DOUBLE
            uint64_t u;
            memcpy(&u, &x[i + j], 8);
            put64(buf + 8 * j, u);
#else
            uint32_t u;
            memcpy(&u, &x[i + j], 4);
            put32(buf + 4 * j, u);
#endif
        }
        put(w, buf, k * sizeof(ag_real));
    }
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Misuse of the list (programmer errors): empty, over-long or duplicate names, no tensor.
 * Raised only after the scratch array is freed, so a handler that longjmps leaks nothing. */
static void check_list(const char *op, const nn_param_list *l) {
    for (int i = 0; i < l->n; i++) {
        const nn_param *p = &l->items[i];
        size_t len = p->name ? strlen(p->name) : 0;
        if (len == 0 || len > NN_CKPT_NAME_MAX)
            ag_error(op, "entry %d has an empty or over-long name (%zu bytes, at most %d)", i,
                     len, NN_CKPT_NAME_MAX);
        if (!p->value) ag_error(op, "entry '%s' has no tensor", p->name);
    }
    const char **names = malloc(sizeof *names * (size_t)(l->n ? l->n : 1)), *dup = NULL;
    if (!names) ag_error(op, "out of memory");
    for (int i = 0; i < l->n; i++) names[i] = l->items[i].name;
    qsort(names, (size_t)l->n, sizeof *names, cmp_str_ptr);
    for (int i = 1; i < l->n && !dup; i++)
        if (strcmp(names[i - 1], names[i]) == 0) dup = names[i];
    free(names);
    if (dup) ag_error(op, "the name '%s' appears twice in the list", dup);
}

int nn_checkpoint_save(const char *path, const nn_param_list *tensors, const nn_ckpt_meta *meta,
                       nn_error *err) {
    if (!path || !tensors) ag_error("nn_checkpoint_save", "path or tensors is NULL");
    check_list("nn_checkpoint_save", tensors);
    static const nn_ckpt_meta no_meta;
    if (!meta) meta = &no_meta;
    size_t text_len = strnlen(meta->text, NN_CKPT_TEXT_MAX);
    if (text_len == NN_CKPT_TEXT_MAX)
        ag_error("nn_checkpoint_save", "meta.text is not NUL-terminated");
    if (text_len == NN_CKPT_TEXT_MAX - 1)
        return nn_fail(err, "%s: not saved: the meta text fills all %d bytes of meta.text, so "
                       "it was probably cut short (a cut text would not load); at most %d "
                       "bytes are saved", path, NN_CKPT_TEXT_MAX - 1, NN_CKPT_TEXT_MAX - 2);

    nn_atomic_file out;
    if (nn_atomic_begin(&out, path, err)) return -1;
    writer w = {out.f, crc32(0, Z_NULL, 0), 0};

    put(&w, MAGIC, 8);
    put_u32(&w, NN_CKPT_VERSION);
    put_u32(&w, (uint32_t)sizeof(ag_real));
    put_u64(&w, (uint64_t)meta->step);
    put_u64(&w, (uint64_t)meta->epoch);
    for (int i = 0; i < 4; i++) put_u64(&w, meta->rng.s[i]);
    put_u32(&w, (uint32_t)text_len);
    put(&w, meta->text, text_len);
    put_u32(&w, (uint32_t)tensors->n);
    for (int i = 0; i < tensors->n; i++) {
        const nn_param *p = &tensors->items[i];
        const ag_tensor *x = p->value;
        size_t len = strlen(p->name);
        put_u32(&w, (uint32_t)len);
        put(&w, p->name, len);
        put_u32(&w, (uint32_t)x->ndim);
        for (int d = 0; d < x->ndim; d++) put_u32(&w, (uint32_t)x->shape[d]);
        put_values(&w, x->data, x->size);
    }
    uint32_t crc = (uint32_t)w.crc;
    put_u32(&w, crc);

    return nn_atomic_end(&out, w.err ? strerror(w.err) : NULL, err);
}

/* ---- reading and verifying -------------------------------------------------------------- */

/* One tensor record of a file, pointing into the file's buffer. */
typedef struct record {
    const char *name;         /* not NUL-terminated */
    uint32_t name_len;
    int ndim, shape[AG_MAX_DIMS];
    size_t count;             /* product of shape */
    const unsigned char *data;
    int index;                /* position in the file */
    bool used;                /* matched by an entry of the list */
} record;

/* A verified, parsed checkpoint. */
typedef struct ckpt {
    const char *path;
    unsigned char *buf;
    size_t len;
    uint32_t version, width;  /* width: bytes per value, 4 or 8 */
    nn_ckpt_meta *meta;       /* heap: the text makes it 64 KiB */
    record *recs;             /* sorted by name (for lookups) */
    int n;
} ckpt;

static void ckpt_free(ckpt *c) {
    free(c->buf);
    free(c->meta);
    free(c->recs);
}

/* A bounds-checked cursor over the bytes between the header and the CRC. */
typedef struct cursor {
    const unsigned char *p;
    size_t left;
} cursor;

static bool take(cursor *c, size_t n, const unsigned char **out) {
    if (n > c->left) return false;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return true;
}
static bool take32(cursor *c, uint32_t *x) {
    const unsigned char *p;
    if (!take(c, 4, &p)) return false;
    *x = get32(p);
    return true;
}

static int read_whole_file(ckpt *c, nn_error *err) {
    return nn_read_file(c->path, &c->buf, &c->len, err);
}

static int cmp_record(const void *a, const void *b) {
    const record *x = a, *y = b;
    uint32_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    if (c) return c;
    return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* "(400, 784)" for a record's shape. */
static const char *rec_shape(const record *r, char *buf, size_t n) {
    int k = snprintf(buf, n, "(");
    for (int d = 0; d < r->ndim && k > 0 && (size_t)k < n; d++)
        k += snprintf(buf + k, n - (size_t)k, d ? ", %d" : "%d", r->shape[d]);
    if (k > 0 && (size_t)k < n) snprintf(buf + k, n - (size_t)k, ")");
    return buf;
}

/* One tensor record at the cursor.  Every length is checked before it is used. */
static int parse_record(ckpt *c, cursor *cur, int i, record *r, nn_error *err) {
    const unsigned char *p;
    uint32_t nd;
    r->index = i;
    if (!take32(cur, &r->name_len) || r->name_len == 0 || r->name_len > NN_CKPT_NAME_MAX)
        return nn_fail(err, "%s: tensor #%d: bad or missing name length", c->path, i);
    if (!take(cur, r->name_len, &p))
        return nn_fail(err, "%s: tensor #%d: the file ends inside its name", c->path, i);
    r->name = (const char *)p;
    if (memchr(r->name, 0, r->name_len))
        return nn_fail(err, "%s: tensor #%d: its name holds a NUL byte", c->path, i);
    int nl = (int)r->name_len;
    if (!take32(cur, &nd) || nd < 1 || nd > AG_MAX_DIMS)
        return nn_fail(err, "%s: tensor '%.*s' has a bad number of dimensions (1..%d allowed)",
                       c->path, nl, r->name, AG_MAX_DIMS);
    r->ndim = (int)nd;
    r->count = 1;
    for (int d = 0; d < r->ndim; d++) {
        uint32_t dim;
        if (!take32(cur, &dim))
            return nn_fail(err, "%s: tensor '%.*s': the file ends inside its shape", c->path, nl,
                           r->name);
        if (dim > INT_MAX)
            return nn_fail(err, "%s: tensor '%.*s' has a dimension of %u", c->path, nl, r->name,
                           dim);
        r->shape[d] = (int)dim;
        /* overflow-checked product: count * dim * width must fit in what is left */
        if (dim && r->count > SIZE_MAX / dim) r->count = SIZE_MAX;
        else r->count *= dim;
    }
    char sb[96];
    if (r->count > cur->left / c->width || !take(cur, r->count * c->width, &r->data))
        return nn_fail(err, "%s: tensor '%.*s' of shape %s needs more bytes than the file has",
                       c->path, nl, r->name, rec_shape(r, sb, sizeof sb));
    r->used = false;
    return 0;
}

/* Reads, verifies and parses path into c (c->path set by the caller). */
static int ckpt_open(ckpt *c, nn_error *err) {
    if (read_whole_file(c, err)) return -1;
    const unsigned char *b = c->buf;
    if (c->len == 0) return nn_fail(err, "%s: empty file (truncated checkpoint?)", c->path);
    if (memcmp(b, MAGIC, c->len < 8 ? c->len : 8) != 0)
        return nn_fail(err, "%s: not a henbun checkpoint (it does not start with \"HENBUNCK\")",
                       c->path);
    if (c->len < FIXED_HEADER + 4 + 4)
        return nn_fail(err, "%s: truncated: %zu bytes is shorter than any checkpoint", c->path,
                       c->len);
    /* The CRC comes before any other field is believed: a corrupt size would otherwise send
     * the parser astray with a misleading message.  Every version ends with this CRC. */
    uint32_t stored = get32(b + c->len - 4), computed = (uint32_t)crc32(0, Z_NULL, 0);
    for (size_t done = 0; done < c->len - 4;) {
        uInt k = c->len - 4 - done > (1u << 30) ? (1u << 30) : (uInt)(c->len - 4 - done);
        computed = (uint32_t)crc32(computed, b + done, k);
        done += k;
    }
    if (stored != computed)
        return nn_fail(err, "%s: checksum mismatch (CRC-32 stored %08x, computed %08x over %zu "
                       "bytes): the file is corrupt or truncated", c->path, stored, computed,
                       c->len - 4);
    c->version = get32(b + 8);
    if (c->version != NN_CKPT_VERSION)
        return nn_fail(err, "%s: checkpoint format version %u is not supported (this build "
                       "reads version %d)", c->path, c->version, NN_CKPT_VERSION);
    c->width = get32(b + 12);
    if (c->width != 4 && c->width != 8)
        return nn_fail(err, "%s: values are %u bytes wide; expected 4 (float32) or 8 (float64)",
                       c->path, c->width);

    c->meta = calloc(1, sizeof *c->meta);
    if (!c->meta) return nn_fail(err, "%s: out of memory", c->path);
    c->meta->step = (int64_t)get64(b + 16);
    c->meta->epoch = (int64_t)get64(b + 24);
    for (int i = 0; i < 4; i++) c->meta->rng.s[i] = get64(b + 32 + 8 * i);
    cursor cur = {b + 64, c->len - 64 - 4}; /* from the text length up to the CRC */
    uint32_t text_len = 0, count = 0;
    const unsigned char *text;
    if (!take32(&cur, &text_len) || text_len >= NN_CKPT_TEXT_MAX || !take(&cur, text_len, &text))
        return nn_fail(err, "%s: bad meta text length %u (at most %d bytes)", c->path, text_len,
                       NN_CKPT_TEXT_MAX - 1);
    memcpy(c->meta->text, text, text_len);
    c->meta->text[text_len] = 0;

    if (!take32(&cur, &count) || count > cur.left / MIN_RECORD)
        return nn_fail(err, "%s: bad tensor count %u for a file of %zu bytes", c->path, count,
                       c->len);
    c->n = (int)count;
    c->recs = malloc(sizeof *c->recs * (count ? count : 1));
    if (!c->recs) return nn_fail(err, "%s: out of memory", c->path);
    for (int i = 0; i < c->n; i++)
        if (parse_record(c, &cur, i, &c->recs[i], err)) return -1;
    if (cur.left != 0)
        return nn_fail(err, "%s: %zu unexpected bytes after the last tensor", c->path, cur.left);

    qsort(c->recs, (size_t)c->n, sizeof *c->recs, cmp_record);
    for (int i = 1; i < c->n; i++)
        if (cmp_record(&c->recs[i - 1], &c->recs[i]) == 0)
            return nn_fail(err, "%s: the tensor '%.*s' appears twice", c->path,
                           (int)c->recs[i].name_len, c->recs[i].name);
    return 0;
}

static record *find_record(const ckpt *c, const char *name) {
    size_t len = strlen(name);
    if (len == 0 || len > NN_CKPT_NAME_MAX) return NULL;
    record key = {.name = name, .name_len = (uint32_t)len};
    return bsearch(&key, c->recs, (size_t)c->n, sizeof *c->recs, cmp_record);
}

/* ---- loading ------------------------------------------------------------------------------ */

/* Every check that could fail, done before anything is written.  extra_ok: tensors of the
 * file that the list does not name are passed over (nn_checkpoint_load_weights). */
static int match_list(ckpt *c, const nn_param_list *l, bool extra_ok, nn_error *err) {
    char fs[96], ms[96];
    for (int i = 0; i < l->n; i++) {
        const nn_param *p = &l->items[i];
        record *r = find_record(c, p->name);
        if (!r)
            return nn_fail(err, "%s: tensor '%s' %s is missing from the file (a checkpoint of "
                           "another model?)", c->path, p->name, ag_shape_str(p->value, ms, sizeof ms));
        bool same = r->ndim == p->value->ndim;
        for (int d = 0; same && d < r->ndim; d++) same = r->shape[d] == p->value->shape[d];
        if (!same)
            return nn_fail(err, "%s: tensor '%s' has shape %s in the file but %s in the model",
                           c->path, p->name, rec_shape(r, fs, sizeof fs),
                           ag_shape_str(p->value, ms, sizeof ms));
        r->used = true; /* names in the list are unique (check_list) */
    }
    const record *extra = NULL; /* the first one in file order */
    for (int i = 0; i < c->n; i++)
        if (!c->recs[i].used && (!extra || c->recs[i].index < extra->index)) extra = &c->recs[i];
    if (extra && !extra_ok)
        return nn_fail(err, "%s: the file has a tensor '%.*s' %s that the model does not (a "
                       "checkpoint of another model?)", c->path, (int)extra->name_len,
                       extra->name, rec_shape(extra, fs, sizeof fs));
#ifndef AG_DOUBLE
    /* float64 -> float32: a finite value beyond FLT_MAX would silently become inf. */
    if (c->width == 8)
        for (int i = 0; i < c->n; i++)
            for (size_t j = 0; c->recs[i].used && j < c->recs[i].count; j++) {
                double v = get_value(c->recs[i].data, j, 8);
                if (isfinite(v) && isinf((float)v))
                    return nn_fail(err, "%s: tensor '%.*s' holds %g, which does not fit in float",
                                   c->path, (int)c->recs[i].name_len, c->recs[i].name, v);
            }
#endif
    return 0;
}

/* nn_checkpoint_load and nn_checkpoint_load_weights: op names the caller in misuse errors. */
static int load(const char *op, const char *path, const nn_param_list *tensors,
                nn_ckpt_meta *meta, bool extra_ok, nn_error *err) {
    if (!path || !tensors) ag_error(op, "path or tensors is NULL");
    check_list(op, tensors);
    ckpt c = {.path = path};
    if (ckpt_open(&c, err) || match_list(&c, tensors, extra_ok, err)) {
        ckpt_free(&c);
        return -1;
    }
    /* Everything checked: now, and only now, write. */
    for (int i = 0; i < tensors->n; i++) {
        ag_tensor *x = tensors->items[i].value;
        const record *r = find_record(&c, tensors->items[i].name);
        if (c.width == sizeof(ag_real)) { /* same precision: the bits, exactly */
            for (size_t j = 0; j < x->size; j++) {
#ifdef AG_DOUBLE
                uint64_t u = get64(r->data + 8 * j);
#else
                uint32_t u = get32(r->data + 4 * j);
#endif
                memcpy(&x->data[j], &u, sizeof u);
            }
        } else {
            for (size_t j = 0; j < x->size; j++) x->data[j] = (ag_real)get_value(r->data, j, c.width);
        }
    }
    if (meta) *meta = *c.meta;
    ckpt_free(&c);
    return 0;
}

int nn_checkpoint_load(const char *path, const nn_param_list *tensors, nn_ckpt_meta *meta,
                       nn_error *err) {
    return load("nn_checkpoint_load", path, tensors, meta, false, err);
}

int nn_checkpoint_load_weights(const char *path, const nn_param_list *tensors,
                               nn_ckpt_meta *meta, nn_error *err) {
    return load("nn_checkpoint_load_weights", path, tensors, meta, true, err);
}

int nn_checkpoint_info(const char *path, nn_ckpt_meta *meta, void *file, nn_error *err) {
    if (!path) ag_error("nn_checkpoint_info", "path is NULL");
    ckpt c = {.path = path};
    if (ckpt_open(&c, err)) {
        ckpt_free(&c);
        return -1;
    }
    if (meta) *meta = *c.meta;
    FILE *out = file;
    if (out) {
        /* list in file order: the records were sorted by name for lookups */
        const record **order = malloc(sizeof *order * (size_t)(c.n ? c.n : 1));
        if (!order) {
            ckpt_free(&c);
            return nn_fail(err, "%s: out of memory", path);
        }
        size_t total = 0;
        for (int i = 0; i < c.n; i++) {
            order[c.recs[i].index] = &c.recs[i];
            total += c.recs[i].count;
        }
        fprintf(out, "%s: henbun checkpoint version %u, %s values, %d tensors, %zu values\n",
                path, c.version, c.width == 4 ? "float32" : "float64", c.n, total);
        fprintf(out, "step %lld, epoch %lld, rng %016llx %016llx %016llx %016llx\n",
                (long long)c.meta->step, (long long)c.meta->epoch,
                (unsigned long long)c.meta->rng.s[0], (unsigned long long)c.meta->rng.s[1],
                (unsigned long long)c.meta->rng.s[2], (unsigned long long)c.meta->rng.s[3]);
        fprintf(out, "text: %s\n", c.meta->text);
        char sb[96];
        for (int i = 0; i < c.n; i++)
            fprintf(out, "  %.*s %s\n", (int)order[i]->name_len, order[i]->name,
                    rec_shape(order[i], sb, sizeof sb));
        free(order);
    }
    ckpt_free(&c);
    return 0;
}
