/* make_corpus.c — writes the seed corpora of the fuzz targets into DIR/<target>/ (the
 * committed tests/fuzz/corpus/ when run by `make fuzz-corpus`): small valid inputs of every
 * kind each parser accepts, and a few damaged ones (truncated, flipped bytes, lying sizes),
 * so that fuzzing starts from inputs that reach deep into the code.  Deterministic: the
 * same program writes the same bytes.  Each directory is emptied first.
 *
 * It also checks its own seeds with the library (valid IDX files and checkpoints load,
 * valid specs build on the fuzz target's input shapes), and that the checkpoint bytes it
 * encodes by hand from docs/checkpoint-format.md are exactly what nn_checkpoint_save
 * writes, so a seed can never silently stop being valid.  Exits 1 if any check fails.
 *   usage: make_corpus DIR */
#include "tests/fuzz/fuzz_common.h"
#include "nn/json.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <zlib.h>

static const char *root;
static int failures;

static void fail(const char *fmt, const char *what, const char *detail) {
    fprintf(stderr, "make_corpus: ");
    fprintf(stderr, fmt, what, detail);
    fputc('\n', stderr);
    failures++;
}

/* ---- files ------------------------------------------------------------------------------ */

static const char *path_of(char *buf, size_t n, const char *target, const char *name) {
    snprintf(buf, n, "%s/%s/%s", root, target, name);
    return buf;
}

/* Creates DIR/<target>/ and removes the files in it. */
static void fresh_dir(const char *target) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, target);
    mkdir(root, 0777);
    if (mkdir(p, 0777) != 0 && errno != EEXIST) {
        perror(p);
        exit(1);
    }
    DIR *d = opendir(p);
    if (!d) {
        perror(p);
        exit(1);
    }
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char f[2048];
        snprintf(f, sizeof f, "%s/%s", p, e->d_name);
        unlink(f);
    }
    closedir(d);
}

static void put_file(const char *target, const char *name, const void *b, size_t n) {
    char p[1024];
    fuzz_write_file(path_of(p, sizeof p, target, name), b, n);
}

/* gzip with zlib's default header (mtime 0), so the bytes are reproducible. */
static void put_gz(const char *target, const char *name, const void *b, size_t n) {
    char p[1024];
    gzFile g = gzopen(path_of(p, sizeof p, target, name), "wb9");
    if (!g || (n && gzwrite(g, b, (unsigned)n) != (int)n) || gzclose(g) != Z_OK) {
        fprintf(stderr, "make_corpus: cannot write %s\n", p);
        exit(1);
    }
}

static uint8_t *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *b = malloc(1 << 16);
    *n = fread(b, 1, 1 << 16, f);
    fclose(f);
    return b;
}

/* ---- IDX --------------------------------------------------------------------------------- */

/* Header 00 00 <type> <ndim> + big-endian dims, then `data` bytes of (5 i + 1) mod 256. */
static size_t idx_bytes(uint8_t *out, int type, int ndim, const uint32_t *dims, size_t data) {
    size_t k = 0;
    out[k++] = 0, out[k++] = 0, out[k++] = (uint8_t)type, out[k++] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++)
        for (int s = 24; s >= 0; s -= 8) out[k++] = (uint8_t)(dims[i] >> s);
    for (size_t i = 0; i < data; i++) out[k++] = (uint8_t)(5 * i + 1);
    return k;
}

static void idx_expect(const char *name, bool loads) {
    char p[1024];
    nn_error err;
    nn_idx *x = nn_idx_load(path_of(p, sizeof p, "idx", name), &err);
    if (!x != !loads) fail("%s: %s", name, loads ? err.msg : "loads but should not");
    nn_idx_free(x);
}

static void make_idx(void) {
    fresh_dir("idx");
    uint8_t b[8192];
    size_t n;
    /* valid: every rank, raw and gzipped */
    static const struct { const char *name; int ndim; uint32_t dims[4]; } ok[] = {
        {"labels-10", 1, {10}},       {"flat-5x7", 2, {5, 7}},
        {"images-3x4x4", 3, {3, 4, 4}}, {"images-2x3x2x2", 4, {2, 3, 2, 2}},
        {"images-1x28x28", 3, {1, 28, 28}}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t data = 1;
        for (int d = 0; d < ok[i].ndim; d++) data *= ok[i].dims[d];
        n = idx_bytes(b, 0x08, ok[i].ndim, ok[i].dims, data);
        char name[64];
        snprintf(name, sizeof name, "%s.idx", ok[i].name);
        put_file("idx", name, b, n);
        idx_expect(name, true);
        snprintf(name, sizeof name, "%s.idx.gz", ok[i].name);
        put_gz("idx", name, b, n);
        idx_expect(name, true);
    }
    /* the other IDX types (2x3 values of 1, 2, 4, 4, 8 bytes): read as unsupported */
    static const struct { int type, width; } types[] = {{0x09, 1}, {0x0B, 2}, {0x0C, 4},
                                                        {0x0D, 4}, {0x0E, 8}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "type-%02x.idx", types[i].type);
        n = idx_bytes(b, types[i].type, 2, (uint32_t[]){2, 3}, 6 * (size_t)types[i].width);
        put_file("idx", name, b, n);
        idx_expect(name, false);
    }
    /* a gzip file of two members (nn/idx.c reads one stream and refuses anything after
     * it, as test_idx.c's idx_rejects_every_damaged_gzip expects) and a highly
     * compressible one (4096 zero bytes in a few dozen) */
    n = idx_bytes(b, 0x08, 2, (uint32_t[]){4, 4}, 16);
    {
        char p[1024];
        gzFile g = gzopen(path_of(p, sizeof p, "idx", "two-members.idx.gz"), "wb9");
        gzwrite(g, b, 12);
        gzclose(g);
        g = gzopen(p, "ab9");
        gzwrite(g, b + 12, (unsigned)(n - 12));
        gzclose(g);
        idx_expect("two-members.idx.gz", false);
    }
    n = idx_bytes(b, 0x08, 2, (uint32_t[]){64, 64}, 0);
    memset(b + n, 0, 4096);
    put_gz("idx", "zeros-64x64.idx.gz", b, n + 4096);
    idx_expect("zeros-64x64.idx.gz", true);

    /* damaged */
    n = idx_bytes(b, 0x08, 3, (uint32_t[]){3, 4, 4}, 48);
    put_file("idx", "cut-data.idx", b, n - 5);
    put_gz("idx", "cut-data.idx.gz", b, n - 5);
    put_file("idx", "cut-header.idx", b, 9);
    put_file("idx", "cut-magic.idx", b, 2);
    put_file("idx", "empty.idx", b, 0);
    b[n] = 0x55, b[n + 1] = 0xAA;
    put_file("idx", "trailing.idx", b, n + 2);
    put_gz("idx", "trailing.idx.gz", b, n + 2);
    b[1] = 0x80;
    put_file("idx", "flipped-magic.idx", b, n);
    b[1] = 0, b[3] = 0;
    put_file("idx", "ndim-0.idx", b, n);
    b[3] = 9;
    put_file("idx", "ndim-9.idx", b, n);
    b[3] = 3, b[7] ^= 0x40; /* first dimension 3 -> 67 */
    put_file("idx", "flipped-dim.idx", b, n);
    {   /* a gzip stream cut in half, and one with a byte of its deflate data flipped */
        char p[1024];
        n = idx_bytes(b, 0x08, 2, (uint32_t[]){16, 16}, 256);
        for (size_t i = 12; i < n; i++) b[i] = (uint8_t)(i * 2654435761u >> 13);
        put_gz("idx", "noise.idx.gz", b, n);
        size_t zn;
        uint8_t *z = read_file(path_of(p, sizeof p, "idx", "noise.idx.gz"), &zn);
        put_file("idx", "cut-stream.idx.gz", z, zn / 2);
        z[zn / 2] ^= 0x10;
        put_file("idx", "flipped-stream.idx.gz", z, zn);
        free(z);
    }
    /* lying sizes: ~4 billion images, 2e9 images of 28x28 in 48 bytes, 4 dimensions whose
     * product overflows 64 bits, a zero dimension */
    n = idx_bytes(b, 0x08, 3, (uint32_t[]){4294967295u, 28, 28}, 48);
    put_file("idx", "huge-4e9-images.idx", b, n);
    n = idx_bytes(b, 0x08, 3, (uint32_t[]){2000000000u, 28, 28}, 48);
    put_file("idx", "huge-2e9-images.idx", b, n);
    put_gz("idx", "huge-2e9-images.idx.gz", b, n);
    n = idx_bytes(b, 0x08, 4, (uint32_t[]){2147483647u, 2147483647u, 2147483647u, 2147483647u}, 16);
    put_file("idx", "huge-overflow.idx", b, n);
    n = idx_bytes(b, 0x08, 2, (uint32_t[]){0, 5}, 0);
    put_file("idx", "zero-dim.idx", b, n);
    for (const char *bad[] = {"huge-4e9-images.idx", "huge-2e9-images.idx.gz", "huge-overflow.idx",
                              "cut-stream.idx.gz", "trailing.idx.gz", NULL}, **q = bad; *q; q++)
        idx_expect(*q, false);
}

/* ---- checkpoints --------------------------------------------------------------------------
 * Encoded here by hand from docs/checkpoint-format.md; the float file must come out byte for
 * byte equal to nn_checkpoint_save's. */

typedef struct bytes {
    uint8_t b[1 << 16];
    size_t n;
} bytes;

static void b_raw(bytes *x, const void *p, size_t n) {
    memcpy(x->b + x->n, p, n);
    x->n += n;
}
static void b_u32(bytes *x, uint32_t v) {
    for (int i = 0; i < 4; i++) x->b[x->n++] = (uint8_t)(v >> (8 * i));
}
static void b_u64(bytes *x, uint64_t v) {
    for (int i = 0; i < 8; i++) x->b[x->n++] = (uint8_t)(v >> (8 * i));
}
static void b_value(bytes *x, double v, uint32_t width) {
    if (width == 4) {
        float f = (float)v;
        uint32_t u;
        memcpy(&u, &f, 4);
        b_u32(x, u);
    } else {
        uint64_t u;
        memcpy(&u, &v, 8);
        b_u64(x, u);
    }
}
static void b_header(bytes *x, uint32_t version, uint32_t width, const char *text) {
    x->n = 0;
    b_raw(x, "HENBUNCK", 8);
    b_u32(x, version);
    b_u32(x, width);
    b_u64(x, 5);                      /* step */
    b_u64(x, 1);                      /* epoch */
    for (int i = 0; i < 4; i++) b_u64(x, 0x0123456789abcdefull * (uint64_t)(i + 1)); /* rng */
    b_u32(x, (uint32_t)strlen(text));
    b_raw(x, text, strlen(text));
}
static void b_name(bytes *x, const char *name) {
    b_u32(x, (uint32_t)strlen(name));
    b_raw(x, name, strlen(name));
}
/* Appends the CRC-32 of everything so far and writes the file. */
static void b_finish(bytes *x, const char *name) {
    uint32_t crc = (uint32_t)crc32(crc32(0, Z_NULL, 0), x->b, (uInt)x->n);
    b_u32(x, crc);
    put_file("checkpoint", name, x->b, x->n);
    x->n -= 4;
}

/* The records of a list (in list order) with values of the given width. */
/* first_value, unless NaN, replaces the first value of the first tensor. */
static void b_records(bytes *x, const nn_param_list *l, uint32_t width, double first_value) {
    for (int i = 0; i < l->n; i++) {
        const ag_tensor *t = l->items[i].value;
        b_name(x, l->items[i].name);
        b_u32(x, (uint32_t)t->ndim);
        for (int d = 0; d < t->ndim; d++) b_u32(x, (uint32_t)t->shape[d]);
        for (size_t j = 0; j < t->size; j++)
            b_value(x, i == 0 && j == 0 && !isnan(first_value) ? first_value : t->data[j], width);
    }
}

static void ckpt_expect(const char *name, bool loads) {
    char p[1024];
    nn_error err;
    fuzz_model m;
    fuzz_model_new(&m, 2);
    int rc = nn_checkpoint_load(path_of(p, sizeof p, "checkpoint", name), &m.all, NULL, &err);
    if ((rc == 0) != loads) fail("%s: %s", name, loads ? err.msg : "loads but should not");
    fuzz_model_free(&m);
}

static void make_checkpoints(void) {
    fresh_dir("checkpoint");
    static bytes x;
    char p[1024];
    nn_error err;
    fuzz_model m;
    fuzz_model_new(&m, 1);
    for (int i = 0; i < m.all.n; i++) /* Adam's state too: values other than zero */
        for (size_t j = 0; j < m.all.items[i].value->size; j++)
            if (m.all.items[i].value->data[j] == 0)
                m.all.items[i].value->data[j] = (ag_real)(0.25 * (double)(i + 1) + (double)j);

    /* the model saved by the library, and the same bytes encoded by hand */
    nn_ckpt_meta meta = {.step = 5, .epoch = 1};
    for (int i = 0; i < 4; i++) meta.rng.s[i] = 0x0123456789abcdefull * (uint64_t)(i + 1);
    snprintf(meta.text, sizeof meta.text, "%s", FUZZ_CKPT_SPEC);
    if (nn_checkpoint_save(path_of(p, sizeof p, "checkpoint", "model-float.ckpt"), &m.all, &meta,
                           &err))
        fail("%s: %s", "model-float.ckpt", err.msg);
    b_header(&x, 1, 4, FUZZ_CKPT_SPEC);
    b_u32(&x, (uint32_t)m.all.n);
    b_records(&x, &m.all, 4, NAN);
    b_finish(&x, "by-hand-float.ckpt");
    size_t n1, n2;
    uint8_t *lib = read_file(path_of(p, sizeof p, "checkpoint", "model-float.ckpt"), &n1);
    uint8_t *hand = read_file(path_of(p, sizeof p, "checkpoint", "by-hand-float.ckpt"), &n2);
    if (!lib || !hand || n1 != n2 || memcmp(lib, hand, n1) != 0)
        fail("%s: %s", "by-hand-float.ckpt", "differs from nn_checkpoint_save's bytes");
    else
        unlink(p); /* identical: keep one copy */
    free(lib);
    free(hand);
    ckpt_expect("model-float.ckpt", true);

    /* the double build's file of the same model, converted on load */
    b_header(&x, 1, 8, FUZZ_CKPT_SPEC);
    b_u32(&x, (uint32_t)m.all.n);
    b_records(&x, &m.all, 8, NAN);
    b_finish(&x, "model-double.ckpt");
    ckpt_expect("model-double.ckpt", true);
    b_header(&x, 1, 8, FUZZ_CKPT_SPEC); /* one value beyond float: the float build refuses */
    b_u32(&x, (uint32_t)m.all.n);
    b_records(&x, &m.all, 8, 1e300);
    b_finish(&x, "model-double-1e300.ckpt");
    ckpt_expect("model-double-1e300.ckpt", sizeof(ag_real) == 8);

    /* the net without the optimizer (a tensor missing), and an empty file of tensors */
    nn_param_list net_only = {0};
    nn_params_extend(&net_only, NULL, &m.net->params);
    b_header(&x, 1, 4, "");
    b_u32(&x, (uint32_t)net_only.n);
    b_records(&x, &net_only, 4, NAN);
    b_finish(&x, "net-only.ckpt");
    ckpt_expect("net-only.ckpt", false);
    nn_params_free(&net_only);
    b_header(&x, 1, 4, "no tensors");
    b_u32(&x, 0);
    b_finish(&x, "no-tensors.ckpt");

    /* damaged: truncated, a flipped byte (caught by the CRC), foreign magic */
    uint8_t *good = read_file(path_of(p, sizeof p, "checkpoint", "model-float.ckpt"), &n1);
    put_file("checkpoint", "cut.ckpt", good, n1 / 2);
    good[n1 / 2] ^= 0x08;
    put_file("checkpoint", "flipped.ckpt", good, n1);
    memcpy(good, "HENBUNCX", 8);
    put_file("checkpoint", "bad-magic.ckpt", good, n1);
    free(good);
    ckpt_expect("flipped.ckpt", false);

    /* lying fields under a valid CRC: each file is the model's header and one tensor
     * record with one field replaced */
    static const struct { const char *name; int what; } lies[] = {
        {"version-2.ckpt", 0},      {"width-2.ckpt", 1},        {"text-9000.ckpt", 2},
        {"count-4e9.ckpt", 3},      {"name-len-2e31.ckpt", 4},  {"ndim-5.ckpt", 5},
        {"dims-overflow.ckpt", 6},  {"dim-4e9-images.ckpt", 7}, {"dims-2e9x28x28.ckpt", 8},
        {"trailing.ckpt", 9},       {"duplicate.ckpt", 10},     {"nul-in-name.ckpt", 11},
        {"double-1e300.ckpt", 12}};
    for (size_t c = 0; c < sizeof lies / sizeof lies[0]; c++) {
        int w = lies[c].what;
        b_header(&x, w == 0 ? 2 : 1, w == 1 ? 2 : (w == 12 ? 8 : 4), w == 2 ? "" : "x");
        if (w == 2) { /* text length 9000 claimed, 2 bytes present */
            x.n -= 4;
            b_u32(&x, 9000);
            b_raw(&x, "hi", 2);
        }
        b_u32(&x, w == 3 ? 4000000000u : (w == 10 ? 2 : 1));
        for (int r = 0; r < (w == 10 ? 2 : 1); r++) {
            if (w == 11) b_u32(&x, 3), b_raw(&x, "a\0b", 3);
            else b_u32(&x, w == 4 ? 0x80000000u : 1), b_raw(&x, "w", 1);
            b_u32(&x, w == 5 ? 5 : (w == 6 ? 4 : (w == 7 || w == 8 ? 3 : 2)));
            if (w == 6) for (int d = 0; d < 4; d++) b_u32(&x, 65536);     /* 2^64 values */
            else if (w == 7) b_u32(&x, 4000000000u), b_u32(&x, 28), b_u32(&x, 28);
            else if (w == 8) b_u32(&x, 2000000000u), b_u32(&x, 28), b_u32(&x, 28);
            else b_u32(&x, 2), b_u32(&x, 2);
            for (int i = 0; i < 4; i++) b_value(&x, w == 12 && i == 2 ? 1e300 : i + 0.5,
                                                w == 12 ? 8 : 4);
        }
        if (w == 9) b_u32(&x, 0);
        b_finish(&x, lies[c].name);
        ckpt_expect(lies[c].name, false);
    }
    fuzz_model_free(&m);
}

/* ---- spec text ------------------------------------------------------------------------------
 * Every keyword, key and init of docs/spec.md, the documented networks (scaled to the fuzz
 * target's inputs (16) and (2, 8, 8)), and the documented errors. */

static const char *const specs_ok_flat[] = {
    "linear 400, relu, linear 40",
    "linear 32, tanh, linear 4",
    "linear 128, leaky_relu 0.2, linear 128, leaky_relu 0.2, linear 1",
    "linear 256, leaky_relu 0.2, linear 64, leaky_relu 0.2, linear 16, sigmoid",
    "linear 64, batchnorm, relu, dropout 0.2, linear 32, batchnorm, relu, dropout 0.2, linear 10",
    "linear 5 init=he, linear 5 init=xavier, linear 5 init=torch, linear 5 init=normal:0.02",
    "batchnorm 1e-3, exp, leaky_relu, elu, linear 10",
    "layernorm 1e-6, softplus, tanh, sigmoid, relu, linear 3",
    "linear 64, relu, reshape 4 4 4, conv 2 k3 p1, flatten, linear 2",
    ("linear 98 init=normal:0.02, batchnorm, relu, reshape 2 7 7, "
     "convt 4 k4 s2 p1 init=normal:0.02, batchnorm, relu, convt 1 k4 s2 p1, sigmoid"),
    "reshape 1 4 4, convt 3 k4 s2 p1 op1, avgpool k2, flatten",
    "gain, gain 2, gain -0.5 k3, linear 4",
    "dropout .1, elu 2, layernorm, linear 7",
    "linear 4 init=torch,\n relu,\tlinear 2",
};
static const char *const specs_ok_image[] = {
    "conv 32 k4 s2 p1, relu, flatten, linear 40",
    "conv 4 k3 p1, leaky_relu 0.2, conv 8 k4 s2 p1, batchnorm, leaky_relu 0.2, flatten, linear 1",
    "conv 8 k3 p1, elu 0.5, maxpool k2, avgpool k2 s1 p1, convt 4 k3 s2 p1 op1, relu",
    "conv 4 k3, maxpool k2, maxpool k2, flatten",
    "conv 3 k5 s2 p2, layernorm, flatten, batchnorm, linear 6",
    "conv 4 k5, maxpool k2 s2 p1, batchnorm, relu, conv 6 k1, flatten",
    "convt 2 k3 s2 op1, conv 2 k3 s2, maxpool k3 s2 p1",
    ("conv 64 k4 s2 p1 init=normal:0.02, leaky_relu 0.2, conv 16 k4 s2 p1 init=normal:0.02, "
     "batchnorm, leaky_relu 0.2, flatten, linear 1, sigmoid"),
    "flatten, linear 10",
    "reshape 8 16, batchnorm, flatten",
};
static const char *const specs_bad[] = {
    "linear 4, relu, lineer 3", "linear", "linear 4.5", "conv 8 k3 x2", "linear 8 relu",
    "linear 4,", "linear 4 5", "linear 4 init=glorot", "", "   ", "linear 4,, relu",
    "linear 4; relu", "dropout 1", "dropout 0.5.1", "linear -3", "linear 0", "conv 8 k",
    "conv 8 k3.5", "linear 1000001", "linear 99999999999999999999", "convt 2 k3 s2 op2",
    "conv 4", "maxpool k3 p2", "conv 4 k9", "reshape 3 3", "linear 4 init=normal:abc",
    "reshape 1000000 1000000 1000000", "convt 1 k1 s1000000, flatten",
    "conv 1 k1 p1000000", "linear 8 k3", "leaky_relu 0.2 0.3", "dropout -nan",
    "linear 4 init=normal:1e999", "avgpool k1000000 s1000000 p500000",
    /* inputs that crashed fuzz_spec once (tests/nn/test_fuzz_regressions.c) */
    "batchnorm, relu, dropout 0.999999999996, batchnorm", "convt 1 k1 s40000, flatten",
    "conv 1 k46341 p23171",
};

static void spec_expect(const char *text, bool flat, int n) {
    ag_rng rng;
    ag_rng_seed(&rng, 1);
    nn_error err;
    static const nn_layer_type *none[] = {NULL};
    if (strstr(text, "gain")) return; /* the target's own layer type: parse-only here */
    nn_net *net = flat ? nn_net_parse(text, 1, (int[]){16}, none, &rng, &err)
                       : nn_net_parse(text, 3, (int[]){2, 8, 8}, none, &rng, &err);
    if (!net) fail("spec seed '%s' does not build: %s", text, err.msg);
    if (net && net->n_layers != n) fail("%s%s", "spec seed has the wrong layer count: ", text);
    nn_net_free(net);
}

static void make_specs(void) {
    fresh_dir("spec");
    char name[32];
    int k = 0;
    for (size_t i = 0; i < sizeof specs_ok_flat / sizeof *specs_ok_flat; i++, k++) {
        const char *t = specs_ok_flat[i];
        snprintf(name, sizeof name, "flat-%02d", k);
        put_file("spec", name, t, strlen(t));
        int layers = 1;
        for (const char *c = t; *c; c++) layers += *c == ',';
        spec_expect(t, true, layers);
    }
    for (size_t i = 0; i < sizeof specs_ok_image / sizeof *specs_ok_image; i++, k++) {
        const char *t = specs_ok_image[i];
        snprintf(name, sizeof name, "image-%02d", k);
        put_file("spec", name, t, strlen(t));
        int layers = 1;
        for (const char *c = t; *c; c++) layers += *c == ',';
        spec_expect(t, false, layers);
    }
    for (size_t i = 0; i < sizeof specs_bad / sizeof *specs_bad; i++, k++) {
        snprintf(name, sizeof name, "bad-%02d", k);
        put_file("spec", name, specs_bad[i], strlen(specs_bad[i]));
    }
}

/* ---- command lines: arguments separated by newlines (and by NULs in a few) --------------- */

/* ---- .safetensors ------------------------------------------------------------------------ */

/* A .safetensors file encoded by hand from docs/safetensors.md: the list's tensors in order,
 * `dtype` F32 or F64, metadata {"spec": FUZZ_CKPT_SPEC}; the first value replaced by
 * first_value unless it is NaN.  Header and data go to *h and *d (caller frees). */
static void st_by_hand(const nn_param_list *l, int width, double first_value, nn_json_out *h,
                       bytes *d) {
    *h = (nn_json_out){0};
    d->n = 0;
    nn_json_raw(h, "{\"__metadata__\":{\"spec\":", 24);
    nn_json_string(h, FUZZ_CKPT_SPEC);
    nn_json_raw(h, "}", 1);
    for (int i = 0; i < l->n; i++) {
        const ag_tensor *t = l->items[i].value;
        nn_json_raw(h, ",", 1);
        nn_json_string(h, l->items[i].name);
        nn_json_raw(h, width == 4 ? ":{\"dtype\":\"F32\",\"shape\":[" : ":{\"dtype\":\"F64\",\"shape\":[", 25);
        for (int k = 0; k < t->ndim; k++) {
            if (k) nn_json_raw(h, ",", 1);
            nn_json_uint_out(h, (uint64_t)t->shape[k]);
        }
        nn_json_raw(h, "],\"data_offsets\":[", 18);
        nn_json_uint_out(h, d->n);
        for (size_t j = 0; j < t->size; j++)
            b_value(d, i == 0 && j == 0 && !isnan(first_value) ? first_value : t->data[j],
                    (uint32_t)width);
        nn_json_raw(h, ",", 1);
        nn_json_uint_out(h, d->n);
        nn_json_raw(h, "]}", 2);
    }
    nn_json_raw(h, "}", 1);
    while ((8 + h->len) % 8) nn_json_raw(h, " ", 1);
}

/* Length prefix, header text, data: one file. */
static void st_put(const char *name, const char *header, size_t header_len, const bytes *d) {
    static bytes x;
    x.n = 0;
    b_u64(&x, header_len);
    b_raw(&x, header, header_len);
    b_raw(&x, d->b, d->n);
    put_file("safetensors", name, x.b, x.n);
}

/* The header with the first `from` replaced by `to`, as a file over the same data. */
static void st_variant(const char *name, const nn_json_out *h, const bytes *d, const char *from,
                       const char *to) {
    const char *at = strstr(h->buf, from);
    if (!at) {
        fail("%s: %s", name, "the text to replace is not in the header");
        return;
    }
    char *v = malloc(h->len + strlen(to) + 1);
    size_t k = (size_t)(at - h->buf);
    memcpy(v, h->buf, k);
    strcpy(v + k, to);
    strcat(v, at + strlen(from));
    st_put(name, v, strlen(v), d);
    free(v);
}

static void st_expect(const char *name, bool all_loads) {
    char p[1024];
    nn_error err;
    fuzz_model m;
    fuzz_model_new(&m, 2);
    int rc = nn_safetensors_load(path_of(p, sizeof p, "safetensors", name), &m.all, &err);
    if ((rc == 0) != all_loads) fail("%s: %s", name, all_loads ? err.msg : "loads but should not");
    fuzz_model_free(&m);
}

static void make_safetensors(void) {
    fresh_dir("safetensors");
    char p[1024];
    nn_error err;
    fuzz_model m;
    fuzz_model_new(&m, 1);
    for (int i = 0; i < m.all.n; i++) /* Adam's state too: values other than zero */
        for (size_t j = 0; j < m.all.items[i].value->size; j++)
            if (m.all.items[i].value->data[j] == 0)
                m.all.items[i].value->data[j] = (ag_real)(0.25 * (double)(i + 1) + (double)j);

    /* the library's file, and the same bytes encoded by hand */
    const char *meta[] = {"spec", FUZZ_CKPT_SPEC, NULL};
    if (nn_safetensors_save(path_of(p, sizeof p, "safetensors", "model-float.safetensors"),
                            &m.all, meta, &err))
        fail("%s: %s", "model-float.safetensors", err.msg);
    nn_json_out h;
    static bytes d;
    st_by_hand(&m.all, 4, NAN, &h, &d);
    st_put("by-hand.safetensors", h.buf, h.len, &d);
    size_t n1, n2;
    uint8_t *lib = read_file(path_of(p, sizeof p, "safetensors", "model-float.safetensors"), &n1);
    uint8_t *hand = read_file(path_of(p, sizeof p, "safetensors", "by-hand.safetensors"), &n2);
    if (!lib || !hand || n1 != n2 || memcmp(lib, hand, n1) != 0)
        fail("%s: %s", "by-hand.safetensors", "differs from nn_safetensors_save's bytes");
    else
        unlink(p);
    free(lib);
    free(hand);
    st_expect("model-float.safetensors", true);

    /* damaged headers of the float file, each refused */
    static const char *const variants[][3] = {
        {"duplicate-key", "\"0.linear.bias\"", "\"0.linear.weight\""},
        {"dtype-f16", "\"F32\"", "\"F16\""},
        {"shape-swapped", "[3,4]", "[4,3]"},
        {"shape-huge", "[3,4]", "[2147483647,2147483647,2147483647]"},
        {"offsets-overlap", "[0,48]", "[0,52]"},
        {"offsets-2e64", "[0,48]", "[0,18446744073709551616]"},
        {"metadata-number", "\"spec\":\"", "\"spec\":1,\"x\":\""},
        {"lone-surrogate", "0.linear.weight", "0.linear\\ud800.weight"},
        {"unknown-field", "\"dtype\"", "\"extra\":[],\"dtype\""},
        {"trailing-comma", "]}}", "]},}"},
    };
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.safetensors", variants[i][0]);
        st_variant(name, &h, &d, variants[i][1], variants[i][2]);
        st_expect(name, false);
    }
    /* cut in the data, a length that lies, deep nesting */
    static bytes x;
    x.n = 0;
    b_u64(&x, h.len);
    b_raw(&x, h.buf, h.len);
    b_raw(&x, d.b, d.n / 2);
    put_file("safetensors", "cut.safetensors", x.b, x.n);
    st_expect("cut.safetensors", false);
    x.n = 0;
    b_u64(&x, 0xFFFFFFFFFFFFull);
    b_raw(&x, h.buf, h.len);
    put_file("safetensors", "length-2e14.safetensors", x.b, x.n);
    st_expect("length-2e14.safetensors", false);
    char deep[512] = "{\"a\":"; /* spaces after: past the cap on values, to the depth check */
    for (int i = 0; i < 80; i++) strcat(deep, "[");
    for (int i = 0; i < 300; i++) strcat(deep, " ");
    static bytes none;
    st_put("deep.safetensors", deep, strlen(deep), &none);
    st_expect("deep.safetensors", false);
    free(h.buf);

    /* the double build's file, converted; one value beyond float; the weights only */
    st_by_hand(&m.all, 8, NAN, &h, &d);
    st_put("model-double.safetensors", h.buf, h.len, &d);
    st_expect("model-double.safetensors", true);
    free(h.buf);
    st_by_hand(&m.all, 8, 1e300, &h, &d);
    st_put("model-double-1e300.safetensors", h.buf, h.len, &d);
    st_expect("model-double-1e300.safetensors", sizeof(ag_real) == 8);
    free(h.buf);
    if (nn_safetensors_save(path_of(p, sizeof p, "safetensors", "net-only.safetensors"),
                            &m.net->params, NULL, &err))
        fail("%s: %s", "net-only.safetensors", err.msg);
    st_expect("net-only.safetensors", false);
    fuzz_model_free(&m);
}

static const char *const cli_lines[] = {
    "--epochs\n5\n--lr\n1e-3\n--dataset\nfashion\n--quiet",
    "--epochs=20\n--batch=128\n--seed=42\n--model=iwae\n--beta=0.5\n--out=runs/a",
    "--help",
    "-h",
    "--data\ndata/fashion\n--binarize\n--model\ntcvae",
    "--seed\n18446744073709551615\n--epochs\n2147483647",
    "--seed\n18446744073709551616",
    "--epochs\n-2147483649",
    "--lr\n1e400",
    "--lr\nnan\n--beta\n-inf",
    "--epochs\nten",
    "--epoch\n3",
    "--modle=vae",
    "--quiet=yes",
    "--dataset\ncifar",
    "--model\nvae|iwae",
    "--out",
    "epochs\n3",
    "--\n--=",
    "--lr=",
    "--this-option-name-is-far-longer-than-sixty-four-characters-so-the-suggestion-skips-it",
};

static void make_cli(void) {
    fresh_dir("cli");
    char name[32];
    size_t i = 0;
    for (; i < sizeof cli_lines / sizeof *cli_lines; i++) {
        snprintf(name, sizeof name, "line-%02zu", i);
        put_file("cli", name, cli_lines[i], strlen(cli_lines[i]));
    }
    static const char nul[] = "--epochs\0" "3\0" "--out\0" "\0" "--quiet";
    snprintf(name, sizeof name, "line-%02zu", i);
    put_file("cli", name, nul, sizeof nul - 1);
}

/* fuzz_settings' meta texts: what its table writes, and hostile fields of every class. */
static const char *const settings_texts[] = {
    "program=fuzz\nlatent=20\nwarmup=0\nsamples=1\nstep=0\nseed=1\nlr=0.001\nbeta=1\n"
    "drop=0.5\nshift=0\nbinarize=0\ndataset=mnist\nobjective=elbo\nnet=linear 10\n",
    "program=fuzz\nlatent=4096\nseed=1000000000000000\nlr=10\ndrop=0\nshift=-1e300\n"
    "binarize=1\ndataset=fashion\nobjective=iwae\nepoch_sums=1,2,3\n",
    "program=fuzz\nlatent=0\n",
    "program=fuzz\nlatent=2147483648\n",
    "program=fuzz\nlr=inf\n",
    "program=fuzz\nlr=nan\n",
    "program=fuzz\nlr=0.001\nlr=-1\n",
    "program=fuzz\ndrop=1\n",
    "program=fuzz\nseed=-1\n",
    "program=fuzz\nseed= -1\n",
    "program=fuzz\nobjective=bogus\n",
    "program=fuzz\nobjective=elbo|iwae\n",
    "program=fuzz\nbinarize=2\n",
    "program=fuzz\nlatent=\n",
    "program=vae\nlatent=20\n",
};

static void make_settings(void) {
    fresh_dir("settings");
    char name[32];
    for (size_t i = 0; i < sizeof settings_texts / sizeof *settings_texts; i++) {
        snprintf(name, sizeof name, "meta-%02zu", i);
        put_file("settings", name, settings_texts[i], strlen(settings_texts[i]));
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR   (writes DIR/{idx,checkpoint,spec,cli,safetensors,settings}/)\n", argv[0]);
        return 2;
    }
    root = argv[1];
    make_idx();
    make_checkpoints();
    make_specs();
    make_cli();
    make_safetensors();
    make_settings();
    if (failures) fprintf(stderr, "make_corpus: %d check(s) failed\n", failures);
    else printf("make_corpus: seeds written to %s/{idx,checkpoint,spec,cli,safetensors,settings}\n", root);
    return failures ? 1 : 0;
}
