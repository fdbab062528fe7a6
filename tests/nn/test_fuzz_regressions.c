/* test_fuzz_regressions.c — inputs found by the fuzz targets (tests/fuzz/) that once crashed,
 * tripped a sanitizer or aborted, kept here so they never come back; and the hostile headers
 * every loader must refuse without allocating what they claim: an IDX file or a checkpoint
 * claiming ~4 billion images, or dimensions whose product overflows 64 bits.
 *
 * The "no huge allocation" half is checked by loading under an address-space limit of what
 * the process already maps plus 256 MiB: a loader that believed a header and asked for
 * gigabytes would fail with "out of memory" instead of the expected message.  (Not under
 * AddressSanitizer, whose shadow memory alone maps terabytes; the messages are still
 * checked there.) */
#include "tests/test.h"
#include "tests/check.h"
#include "nn/checkpoint.h"
#include "nn/data.h"
#include "nn/layer.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ---- helpers ------------------------------------------------------------------------------ */

static void write_file(const char *path, const void *b, size_t n, bool gz) {
    remove(path);
    if (gz) {
        gzFile g = gzopen(path, "wb");
        CHECK(g != NULL);
        if (g) CHECK(gzwrite(g, b, (unsigned)n) == (int)n && gzclose(g) == Z_OK);
        return;
    }
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) CHECK(fwrite(b, 1, n, f) == n && fclose(f) == 0);
}

/* Limits the address space to what is mapped now plus 256 MiB; false (and no limit) under
 * ASan or when the limit cannot be set. */
static bool limit_address_space(struct rlimit *saved) {
    if (UNDER_ASAN || getrlimit(RLIMIT_AS, saved) != 0) return false;
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!f) return false;
    int got = fscanf(f, "%lu", &pages);
    fclose(f);
    if (got != 1) return false;
    rlim_t want = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)256 << 20);
    if (saved->rlim_max != RLIM_INFINITY && want > saved->rlim_max) return false;
    struct rlimit small = {want, saved->rlim_max};
    return setrlimit(RLIMIT_AS, &small) == 0;
}

static void restore_address_space(const struct rlimit *saved) { setrlimit(RLIMIT_AS, saved); }

static void expect_msg(int line, const char *what, const char *msg, const char *want) {
    if (!strstr(msg, want))
        test_fail(__FILE__, line, "%s: expected '%s' in: %s", what, want, msg);
}

/* ---- IDX: headers that lie about their size -------------------------------------------- */

/* IDX bytes: header (type 0x08) with big-endian dims, then `data` bytes. */
static size_t idx_bytes(uint8_t *out, int ndim, const uint32_t *dims, size_t data) {
    size_t k = 0;
    out[k++] = 0, out[k++] = 0, out[k++] = 8, out[k++] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++)
        for (int s = 24; s >= 0; s -= 8) out[k++] = (uint8_t)(dims[i] >> s);
    memset(out + k, 7, data);
    return k + data;
}

TEST(fuzz_idx_huge_headers_fail_without_allocating) {
    const uint32_t M = 2147483647u; /* 2^31 - 1 */
    static const struct {
        const char *what;
        int ndim;
        uint32_t dims[4];
        const char *raw, *gz; /* expected messages */
    } cases[] = {
        {"~4e9 images of 28x28", 3, {4294967295u, 28, 28},
         "IDX dimension 0 is 4294967295 (must be 1 to 2147483647)",
         "IDX dimension 0 is 4294967295 (must be 1 to 2147483647)"},
        {"2e9 images of 28x28 in 48 bytes", 3, {2000000000u, 28, 28},
         "truncated: header says 2000000000 items of 28x28 (1568000000016 bytes)",
         "but the data ends after 48 bytes"},
        {"dims whose product overflows 64 bits", 4, {M, M, M, M},
         "more bytes than this machine can address", "more bytes than this machine can address"},
        {"three dims whose product overflows 64 bits", 3, {M, M, M},
         "more bytes than this machine can address", "more bytes than this machine can address"},
        {"2^62 bytes claimed", 2, {M, M}, "truncated: header says", "but the data ends after 48"},
    };
    uint8_t b[128];
    struct rlimit saved;
    bool limited = limit_address_space(&saved);
    char raw_msg[5][512], gz_msg[5][512];
    bool raw_null[5], gz_null[5], ds_null[5];
    for (int c = 0; c < 5; c++) {
        size_t n = idx_bytes(b, cases[c].ndim, cases[c].dims, 48);
        const char *raw = test_tmp_path("huge.idx"), *gz = test_tmp_path("huge.idx.gz");
        write_file(raw, b, n, false);
        write_file(gz, b, n, true);
        nn_error err = {{0}};
        nn_idx *x = nn_idx_load(raw, &err);
        raw_null[c] = x == NULL;
        nn_idx_free(x);
        snprintf(raw_msg[c], sizeof raw_msg[c], "%s", err.msg);
        x = nn_idx_load(gz, &err);
        gz_null[c] = x == NULL;
        nn_idx_free(x);
        snprintf(gz_msg[c], sizeof gz_msg[c], "%s", err.msg);
        nn_dataset *d = nn_dataset_load_idx(gz, NULL, &err);
        ds_null[c] = d == NULL;
        nn_dataset_free(d);
    }
    if (limited) restore_address_space(&saved);
    else fprintf(stderr, "    (no address-space limit here: messages checked only)\n");
    for (int c = 0; c < 5; c++) {
        CHECK(raw_null[c] && gz_null[c] && ds_null[c]);
        expect_msg(__LINE__, cases[c].what, raw_msg[c], cases[c].raw);
        expect_msg(__LINE__, cases[c].what, gz_msg[c], cases[c].gz);
    }
}

/* ---- checkpoints: records that lie about their size -------------------------------------- */

typedef struct bytes {
    uint8_t b[512];
    size_t n;
} bytes;

static void b_u32(bytes *x, uint32_t v) {
    for (int i = 0; i < 4; i++) x->b[x->n++] = (uint8_t)(v >> (8 * i));
}
static void b_u64(bytes *x, uint64_t v) {
    for (int i = 0; i < 8; i++) x->b[x->n++] = (uint8_t)(v >> (8 * i));
}

/* A version-1 float checkpoint (docs/checkpoint-format.md) holding one tensor "x" of the
 * given shape followed by `values` floats, with a valid CRC: only the shape lies. */
static size_t ckpt_bytes(bytes *x, int ndim, const uint32_t *dims, int values) {
    x->n = 0;
    memcpy(x->b, "HENBUNCK", 8);
    x->n = 8;
    b_u32(x, 1);
    b_u32(x, 4);
    for (int i = 0; i < 6; i++) b_u64(x, 0); /* step, epoch, rng */
    b_u32(x, 0);                             /* no text */
    b_u32(x, 1);                             /* one tensor */
    b_u32(x, 1);
    x->b[x->n++] = 'x';
    b_u32(x, (uint32_t)ndim);
    for (int i = 0; i < ndim; i++) b_u32(x, dims[i]);
    for (int i = 0; i < values; i++) b_u32(x, 0x3f800000u); /* 1.0f */
    b_u32(x, (uint32_t)crc32(crc32(0, Z_NULL, 0), x->b, (uInt)x->n));
    return x->n;
}

TEST(fuzz_checkpoint_huge_shapes_fail_without_allocating) {
    const uint32_t M = 2147483647u;
    static const struct {
        const char *what;
        int ndim;
        uint32_t dims[4];
        const char *want;
    } cases[] = {
        {"~4e9 images of 28x28", 3, {4294967295u, 28, 28}, "has a dimension of 4294967295"},
        {"2e9 images of 28x28 in 16 bytes", 3, {2000000000u, 28, 28},
         "of shape (2000000000, 28, 28) needs more bytes than the file has"},
        {"dims whose product overflows 64 bits", 4, {M, M, M, M}, "needs more bytes than the file"},
        {"2^64 values exactly", 4, {65536, 65536, 65536, 65536}, "needs more bytes than the file"},
        {"2^62 values", 2, {M, M}, "needs more bytes than the file has"},
    };
    ag_tensor *t = ag_tensor_new(1, (int[]){4}, false);
    nn_param_list l = {0};
    nn_params_add(&l, NULL, "x", t, false);
    static bytes x;
    struct rlimit saved;
    bool limited = limit_address_space(&saved);
    char load_msg[5][512], info_msg[5][512];
    int load_rc[5], info_rc[5];
    for (int c = 0; c < 5; c++) {
        const char *p = test_tmp_path("huge.ckpt");
        write_file(p, x.b, ckpt_bytes(&x, cases[c].ndim, cases[c].dims, 4), false);
        nn_error err = {{0}};
        load_rc[c] = nn_checkpoint_load(p, &l, NULL, &err);
        snprintf(load_msg[c], sizeof load_msg[c], "%s", err.msg);
        info_rc[c] = nn_checkpoint_info(p, NULL, NULL, &err);
        snprintf(info_msg[c], sizeof info_msg[c], "%s", err.msg);
    }
    if (limited) restore_address_space(&saved);
    for (int c = 0; c < 5; c++) {
        CHECK(load_rc[c] == -1 && info_rc[c] == -1);
        expect_msg(__LINE__, cases[c].what, load_msg[c], cases[c].want);
        expect_msg(__LINE__, cases[c].what, info_msg[c], cases[c].want);
    }
    CHECK(t->data[0] == 0); /* untouched */
    /* and the same file with an honest shape loads (the cases fail for their reason) */
    const char *p = test_tmp_path("honest.ckpt");
    write_file(p, x.b, ckpt_bytes(&x, 1, (uint32_t[]){4}, 4), false);
    nn_error err;
    CHECK(nn_checkpoint_load(p, &l, NULL, &err) == 0 && t->data[3] == 1);
    nn_params_free(&l);
    ag_tensor_free(t);
}

/* ---- spec text and network building ------------------------------------------------------- */

static void expect_parse_error(const char *text, const char *want) {
    nn_spec out[8];
    nn_error err = {{0}};
    int n = nn_spec_parse(text, NULL, out, 8, &err);
    CHECK(n == -1);
    expect_msg(__LINE__, text, err.msg, want);
}

/* fuzz_spec found "dropout -nan": strtod reads it, NaN passed dropout's range check, and
 * the first training forward aborted in ag_dropout.  No number of a spec may be NaN or
 * infinite. */
TEST(fuzz_spec_rejects_non_finite_numbers) {
    expect_parse_error("dropout -nan", "spec:9: a value must be a finite number, got '-nan'");
    expect_parse_error("relu, leaky_relu -inf", "spec:18: a value must be a finite number");
    expect_parse_error("elu -NAN", "spec:5: a value must be a finite number, got '-NAN'");
    expect_parse_error("batchnorm -infinity", "must be a finite number");
    expect_parse_error("linear 4 init=normal:-nan",
                       "spec:22: a standard deviation must be a finite number, got '-nan'");
    ag_rng r;
    ag_rng_seed(&r, 1);
    nn_error err;
    nn_net *net = nn_net_parse("linear 4, dropout -nan", 1, (int[]){3}, NULL, &r, &err);
    CHECK(net == NULL);
    nn_net_free(net);
    /* finite numbers still parse, negative ones included */
    nn_spec out[4];
    CHECK(nn_spec_parse("leaky_relu -0.5, dropout 0.25", NULL, out, 4, &err) == 2);
    CHECK(out[0].f == -0.5 && out[1].f == 0.25);
}

/* "convt 1 k1 s40000, flatten" on a (1, 8, 8) input: the convt's output (1, 280001, 280001)
 * has 7.8e10 values per example, and flatten counted them in int (signed overflow).  Every
 * layer's output must now fit an int, and the message says which layer made it too big. */
/* These nets test the shape arithmetic, far beyond the memory limit (nn_net_new refuses
 * them for that first by default): the limit is lifted while they run. */
static void lift_memory_limit(bool on) {
    if (on) setenv("HENBUN_NET_MEMORY_MAX", "1e30", 1);
    else unsetenv("HENBUN_NET_MEMORY_MAX");
}

TEST(fuzz_net_rejects_outputs_beyond_int) {
    lift_memory_limit(true);
    ag_rng r;
    ag_rng_seed(&r, 1);
    nn_error err = {{0}};
    nn_net *net = nn_net_parse("convt 1 k1 s40000, flatten", 3, (int[]){1, 8, 8}, NULL, &r, &err);
    CHECK(net == NULL);
    nn_net_free(net);
    expect_msg(__LINE__, "convt s40000", err.msg,
               "layer 0 (convt 1 k1 s40000): input (1, 8, 8): output (1, 280001, 280001) has more "
               "than 2147483647 values per example");
    /* just below the limit builds: (1, 46334, 46334) is 2146839556 values */
    net = nn_net_parse("convt 1 k1 s6619, flatten", 3, (int[]){1, 8, 8}, NULL, &r, &err);
    CHECK(net != NULL && net->out_ndim == 1 && net->out_shape[0] == 2146839556);
    nn_net_free(net);
    lift_memory_limit(false);
    /* under the default limit, the same net is refused for its activations, at layer 0 */
    net = nn_net_parse("convt 1 k1 s6619, flatten", 3, (int[]){1, 8, 8}, NULL, &r, &err);
    CHECK(net == NULL);
    expect_msg(__LINE__, "convt s6619", err.msg, "spec:1: layer 0 (convt 1 k1 s6619): input "
               "(1, 8, 8): the network up to here would need about");
    nn_net_free(net);
}

TEST(fuzz_net_rejects_bad_input_shapes) {
    ag_rng r;
    ag_rng_seed(&r, 1);
    static const nn_spec mlp[] = {NN_LINEAR(2), NN_END};
    static const struct { int ndim, shape[3]; const char *want; } cases[] = {
        {1, {0}, "network input (0): every dimension must be at least 1"},
        {1, {-3}, "network input (-3): every dimension must be at least 1"},
        {2, {65536, 65536}, "network input (65536, 65536): every dimension must be at least 1 and "
                            "an example at most 2147483647 values"},
        {3, {2, 46341, 46341}, "at most 2147483647 values"},
    };
    for (int c = 0; c < 4; c++) {
        nn_error err = {{0}};
        nn_net *net = nn_net_new(mlp, cases[c].ndim, cases[c].shape, &r, &err);
        CHECK(net == NULL);
        nn_net_free(net);
        expect_msg(__LINE__, "input shape", err.msg, cases[c].want);
    }
}

/* ---- layer shape arithmetic (nn/layers_conv.c, nn/layers_basic.c) ------------------------- */

/* fuzz_spec found "convt 1 k1 s1000000, flatten": the convt's fan-in divided by stride·stride
 * computed in int (signed overflow from s46341 on), and (H - 1)·s, H + 2p, C·k² and a
 * reshape's product could overflow too.  Shape arithmetic is now 64-bit and every size the
 * layers keep in an int is checked to fit one. */
TEST(fuzz_layer_shape_arithmetic_does_not_overflow) {
    lift_memory_limit(true);
    /* stride² = 2.5e9: the output (1, 350001, 350001) is then refused by nn_net_new */
    EXPECT_BUILD_ERROR("convt 1 k1 s50000", 3, (int[]){1, 8, 8},
                       "output (1, 350001, 350001) has more than 2147483647 values per example");
    /* (H - 1)·s = 3.2e9 along a 1x1073741824 image */
    EXPECT_BUILD_ERROR("convt 1 k1 s3", 3, (int[]){1, 1, 1073741824},
                       "convt: the output width would be 3221225470, more than 2147483647");
    /* W + 2p = 2.1e9 + 2e6 */
    EXPECT_BUILD_ERROR("conv 1 k1 p1000000", 3, (int[]){1, 1, 2147000000},
                       "conv: the output width would be 2149000000, more than 2147483647");
    /* C·k² = 46341² > INT_MAX, before any weight is allocated */
    EXPECT_BUILD_ERROR("conv 1 k46341 p23171", 3, (int[]){1, 1, 1},
                       "conv: a filter's C·k² would be 2147488281, more than 2147483647");
    EXPECT_BUILD_ERROR("convt 1 k46341", 3, (int[]){1, 1, 1},
                       "convt: a filter's C·k² would be 2147488281");
    /* a reshape whose numbers multiply past 2^63 */
    EXPECT_BUILD_ERROR("reshape 1000000 1000000 1000000", 1, (int[]){16},
                       "cannot reshape 16 values into (1000000, 1000000, 1000000)");
    lift_memory_limit(false);
}

/* What only a C spec array can say (the text parser refuses it): a NaN dropout rate, a
 * pool's padding of INT_MAX (2p overflowed), a reshape to negative dimensions (-2·-8 = 16). */
TEST(fuzz_layer_specs_from_c_arrays_are_checked) {
    ag_rng r;
    ag_rng_seed(&r, 1);
    nn_error err = {{0}};
    nn_net *net = nn_net_new((nn_spec[]){{.type = &nn_dropout_type, .f = NAN}, NN_END}, 1,
                             (int[]){4}, &r, &err);
    CHECK(net == NULL);
    expect_msg(__LINE__, "dropout NaN", err.msg, "dropout rate must be in [0, 1), got nan");
    nn_net_free(net);
    net = nn_net_new((nn_spec[]){{.type = &nn_maxpool_type, .k = 3, .p = INT_MAX}, NN_END}, 3,
                     (int[]){1, 8, 8}, &r, &err);
    CHECK(net == NULL);
    expect_msg(__LINE__, "maxpool p=INT_MAX", err.msg, "is more than half the window k3");
    nn_net_free(net);
    net = nn_net_new((nn_spec[]){NN_RESHAPE(-2, -8), NN_END}, 1, (int[]){16}, &r, &err);
    CHECK(net == NULL);
    expect_msg(__LINE__, "reshape -2 -8", err.msg, "cannot reshape 16 values into (-2, -8)");
    nn_net_free(net);
}

/* fuzz_spec found "dropout 0.999999999996": below 1 as the double the build checked, but a
 * float 1 in the op, which aborted the first training forward.  The float build refuses
 * it; the double build trains with it. */
TEST(fuzz_dropout_rate_checked_in_the_ops_precision) {
    ag_rng r;
    ag_rng_seed(&r, 1);
    nn_error err = {{0}};
    nn_net *net = nn_net_parse("linear 4, dropout 0.999999999996", 1, (int[]){3}, NULL, &r, &err);
    if (sizeof(ag_real) == sizeof(float)) {
        CHECK(net == NULL);
        expect_msg(__LINE__, "dropout 0.999999999996", err.msg,
                   "spec:11: layer 1 (dropout 0.999999999996): input (4): dropout rate must be in [0, 1), got "
                   "0.999999999996 (1 in float precision)");
    } else if (net) {
        ag_tape *t = ag_tape_new(1);
        ag_tensor *y = nn_forward(net, t, ag_ones(t, 2, (int[]){2, 3}), true);
        CHECK(y->shape[0] == 2 && y->shape[1] == 4);
        ag_tape_free(t);
    } else {
        test_fail(__FILE__, __LINE__, "double build refused it: %s", err.msg);
    }
    nn_net_free(net);
}
