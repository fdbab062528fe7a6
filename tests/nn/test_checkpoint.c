/* test_checkpoint.c — checkpoints: bit-exact round trips, every kind of damaged or foreign
 * file rejected with the tensors untouched, atomic writes, files written by hand from
 * docs/checkpoint-format.md (both precisions, hostile sizes), and the resume test: a run
 * stopped, saved, loaded into fresh objects and continued ends bit-identical to a run that
 * never stopped. */
#include "tests/test.h"
#include "nn/checkpoint.h"
#include "nn/optim.h"

#include <dirent.h>
#include <float.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- helpers ---------------------------------------------------------------------------- */

static char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", test_tmpdir(), name);
    return p;
}

static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

/* Removes and recreates (overwriting in place by truncation makes ext4 flush to disk on
 * close — its guard for programs that do not fsync — which costs milliseconds a file). */
static void write_all(const char *path, const void *b, size_t len) {
    remove(path);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(b, 1, len, f);
        fclose(f);
    }
}

/* A small model: a linear layer, a buffer, and a 4-D conv kernel. */
typedef struct model {
    ag_tensor *w, *b, *mean, *k;
    nn_param_list params;
} model;

static void model_init(model *m, int out, uint64_t seed) {
    ag_rng r;
    ag_rng_seed(&r, seed);
    m->w = ag_param(2, (int[]){out, 3});
    m->b = ag_param(1, (int[]){out});
    m->mean = ag_tensor_new(1, (int[]){out}, false);
    m->k = ag_param(4, (int[]){2, 1, 3, 3});
    ag_fill_randn(&r, m->w, 1);
    ag_fill_randn(&r, m->b, 1);
    ag_fill_randn(&r, m->mean, 1);
    ag_fill_randn(&r, m->k, 1);
    m->params = (nn_param_list){0};
    nn_params_add(&m->params, "encoder.0.linear", "weight", m->w, true);
    nn_params_add(&m->params, "encoder.0.linear", "bias", m->b, true);
    nn_params_add(&m->params, "bn", "running_mean", m->mean, false);
    nn_params_add(&m->params, "conv", "kernel", m->k, true);
}

static void model_free(model *m) {
    ag_tensor_free(m->w);
    ag_tensor_free(m->b);
    ag_tensor_free(m->mean);
    ag_tensor_free(m->k);
    nn_params_free(&m->params);
}

/* All values of a list, concatenated, for "untouched" checks. */
static ag_real *snapshot(const nn_param_list *l, size_t *n) {
    size_t total = 0;
    for (int i = 0; i < l->n; i++) total += l->items[i].value->size;
    ag_real *s = malloc(sizeof *s * (total ? total : 1)), *p = s;
    for (int i = 0; i < l->n; i++) {
        memcpy(p, l->items[i].value->data, sizeof *s * l->items[i].value->size);
        p += l->items[i].value->size;
    }
    *n = total;
    return s;
}

static bool same_as_snapshot(const nn_param_list *l, const ag_real *s) {
    for (int i = 0; i < l->n; i++) {
        if (memcmp(s, l->items[i].value->data, sizeof *s * l->items[i].value->size)) return false;
        s += l->items[i].value->size;
    }
    return true;
}

static bool contains(const char *s, const char *part) { return strstr(s, part) != NULL; }

/* Saves model m (seed 1, out 4) to path; returns 0 on success. */
static int save_model(const char *path, uint64_t seed) {
    model m;
    model_init(&m, 4, seed);
    nn_ckpt_meta meta = {.step = 77, .epoch = 3};
    ag_rng_seed(&meta.rng, 5);
    snprintf(meta.text, sizeof meta.text, "linear 4, relu");
    nn_error err;
    int rc = nn_checkpoint_save(path, &m.params, &meta, &err);
    if (rc) fprintf(stderr, "    %s\n", err.msg);
    model_free(&m);
    return rc;
}

/* ---- round trip ------------------------------------------------------------------------- */

TEST(checkpoint_round_trip_is_bit_exact) {
    model a, b;
    model_init(&a, 4, 1);
    model_init(&b, 4, 2);
    /* values a converting or text-parsing format would mangle */
    a.w->data[0] = -0.0f;
    a.w->data[1] = (ag_real)(sizeof(ag_real) == 4 ? FLT_TRUE_MIN : DBL_TRUE_MIN); /* subnormal */
    a.w->data[2] = (ag_real)INFINITY;
    a.w->data[3] = (ag_real)NAN;
    a.w->data[4] = (ag_real)(1.0 / 3.0);

    /* optimizer state after a few steps, saved next to the parameters */
    nn_optim *oa = nn_adam(&a.params, 0.01), *ob = nn_adam(&b.params, 0.01);
    for (int s = 0; s < 5; s++) {
        for (size_t j = 0; j < a.k->size; j++) a.k->grad[j] = (ag_real)(0.1 * (double)j - s);
        nn_optim_step(oa);
    }
    nn_param_list la = {0}, lb = {0};
    nn_params_extend(&la, NULL, &a.params);
    nn_optim_state(oa, NULL, &la);
    nn_params_extend(&lb, NULL, &b.params);
    nn_optim_state(ob, NULL, &lb);

    nn_ckpt_meta meta = {.step = 123456789012LL, .epoch = -2};
    meta.rng = (ag_rng){{1, UINT64_MAX, 0x0123456789abcdefULL, 42}};
    snprintf(meta.text, sizeof meta.text, "encoder: linear 400, relu\ncommand: ./vae --z 20");
    nn_error err = {{0}};
    const char *path = tmp_path("round.ckpt");
    CHECK(nn_checkpoint_save(path, &la, &meta, &err) == 0);

    nn_ckpt_meta got;
    memset(&got, 0xAB, sizeof got);
    CHECK(nn_checkpoint_load(path, &lb, &got, &err) == 0);
    CHECK(err.msg[0] == 0);
    for (int i = 0; i < la.n; i++)
        CHECK(memcmp(la.items[i].value->data, lb.items[i].value->data,
                     sizeof(ag_real) * la.items[i].value->size) == 0);
    CHECK(nn_optim_steps(ob) == 5);
    CHECK(got.step == meta.step && got.epoch == meta.epoch);
    CHECK(memcmp(&got.rng, &meta.rng, sizeof meta.rng) == 0);
    CHECK(strcmp(got.text, meta.text) == 0);

    /* meta alone, without touching tensors, and a listing */
    nn_ckpt_meta info;
    FILE *f = tmpfile();
    CHECK(nn_checkpoint_info(path, &info, f, &err) == 0);
    CHECK(info.step == meta.step && strcmp(info.text, meta.text) == 0);
    char listing[4096] = {0};
    rewind(f);
    size_t nread = fread(listing, 1, sizeof listing - 1, f);
    fclose(f);
    CHECK(nread > 0);
    CHECK(contains(listing, "encoder.0.linear.weight (4, 3)"));
    CHECK(contains(listing, "conv.kernel (2, 1, 3, 3)"));
    CHECK(contains(listing, "adam.v.conv.kernel (2, 1, 3, 3)"));
    CHECK(contains(listing, sizeof(ag_real) == 4 ? "float32" : "float64"));

    /* NULL meta saves zeros and an empty text */
    CHECK(nn_checkpoint_save(path, &la, NULL, &err) == 0);
    CHECK(nn_checkpoint_load(path, &lb, &got, &err) == 0);
    CHECK(got.step == 0 && got.rng.s[1] == 0 && got.text[0] == 0);

    nn_params_free(&la);
    nn_params_free(&lb);
    nn_optim_free(oa);
    nn_optim_free(ob);
    model_free(&a);
    model_free(&b);
}

/* ---- damaged and foreign files ------------------------------------------------------------ */

/* Loads path into a fresh model (seed 9) and checks that it fails, leaving model and meta
 * untouched; returns the error message. */
static const char *expect_load_failure(const char *path, int out) {
    static nn_error err;
    model m;
    model_init(&m, out, 9);
    size_t n;
    ag_real *before = snapshot(&m.params, &n);
    nn_ckpt_meta meta = {.step = -5};
    err.msg[0] = 0;
    CHECK(nn_checkpoint_load(path, &m.params, &meta, &err) == -1);
    CHECK(same_as_snapshot(&m.params, before));
    CHECK(meta.step == -5);
    CHECK(contains(err.msg, path));
    free(before);
    model_free(&m);
    return err.msg;
}

TEST(checkpoint_flipped_byte_anywhere_is_rejected) {
    const char *path = tmp_path("flip_src.ckpt"), *bad = tmp_path("flip.ckpt");
    CHECK(save_model(path, 1) == 0);
    size_t len = 0;
    unsigned char *orig = read_all(path, &len);
    CHECK(orig && len > 100);
    int failures = 0;
    for (size_t i = 0; orig && i < len; i++) {
        orig[i] ^= (unsigned char)(1u << (i % 8));
        write_all(bad, orig, len);
        orig[i] ^= (unsigned char)(1u << (i % 8));
        const char *msg = expect_load_failure(bad, 4);
        bool ok = i < 8 ? contains(msg, "not a henbun checkpoint") : contains(msg, "checksum mismatch");
        if (!ok && failures++ < 3) fprintf(stderr, "    byte %zu: %s\n", i, msg);
    }
    CHECK(failures == 0);
    free(orig);
}

TEST(checkpoint_truncated_file_is_rejected) {
    const char *path = tmp_path("trunc_src.ckpt"), *bad = tmp_path("trunc.ckpt");
    CHECK(save_model(path, 1) == 0);
    size_t len = 0;
    unsigned char *orig = read_all(path, &len);
    size_t cuts[] = {0, 1, 7, 8, 12, 40, 75, 76, 100, len / 2, len - 5, len - 4, len - 1};
    for (size_t c = 0; orig && c < sizeof cuts / sizeof cuts[0]; c++) {
        write_all(bad, orig, cuts[c]);
        const char *msg = expect_load_failure(bad, 4);
        if (!contains(msg, "truncated")) {
            test_fail(__FILE__, __LINE__, "cut at %zu: %s", cuts[c], msg);
        }
    }
    /* and one byte too many */
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, orig, len);
    longer[len] = 0;
    write_all(bad, longer, len + 1);
    expect_load_failure(bad, 4);
    free(longer);
    free(orig);
}

TEST(checkpoint_wrong_magic_and_missing_file) {
    const char *bad = tmp_path("not_a_ckpt.png");
    static const char png[] = "\x89PNG\r\n\x1a\n this is not a checkpoint, but long enough to "
                              "look like one at first glance..............................";
    write_all(bad, png, sizeof png);
    CHECK(contains(expect_load_failure(bad, 4), "not a henbun checkpoint"));
    const char *missing = tmp_path("does_not_exist.ckpt");
    CHECK(contains(expect_load_failure(missing, 4), "cannot open"));
    CHECK(contains(expect_load_failure(test_tmpdir(), 4), "not a regular file"));
}

TEST(checkpoint_of_another_architecture_names_the_tensor) {
    const char *path = tmp_path("arch.ckpt");
    CHECK(save_model(path, 1) == 0);
    /* shape mismatch: out 2 instead of 4; the first mismatch in list order is reported */
    const char *msg = expect_load_failure(path, 2);
    char want[1024];
    snprintf(want, sizeof want, "%s: tensor 'encoder.0.linear.weight' has shape (4, 3) in the "
             "file but (2, 3) in the model", path);
    CHECK(strcmp(msg, want) == 0);
    if (strcmp(msg, want)) fprintf(stderr, "    got: %s\n", msg);

    /* a name the file lacks */
    model m;
    model_init(&m, 4, 9);
    ag_tensor *extra = ag_param(1, (int[]){5});
    nn_params_add(&m.params, "decoder", "weight", extra, true);
    size_t n;
    ag_real *before = snapshot(&m.params, &n);
    nn_error err;
    CHECK(nn_checkpoint_load(path, &m.params, NULL, &err) == -1);
    CHECK(contains(err.msg, "'decoder.weight' (5) is missing"));
    CHECK(same_as_snapshot(&m.params, before));
    free(before);

    /* a name the model lacks (the file is a checkpoint of a bigger model) */
    nn_param_list fewer = {0};
    nn_params_add(&fewer, NULL, "encoder.0.linear.weight", m.w, true);
    nn_params_add(&fewer, NULL, "encoder.0.linear.bias", m.b, true);
    nn_params_add(&fewer, NULL, "conv.kernel", m.k, true);
    before = snapshot(&fewer, &n);
    CHECK(nn_checkpoint_load(path, &fewer, NULL, &err) == -1);
    CHECK(contains(err.msg, "the file has a tensor 'bn.running_mean' (4) that the model does not"));
    CHECK(same_as_snapshot(&fewer, before));
    free(before);
    nn_params_free(&fewer);
    ag_tensor_free(extra);
    model_free(&m);
}

/* ---- atomic writes ------------------------------------------------------------------------- */

static int count_temp_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return n;
}

TEST(checkpoint_failed_save_leaves_the_old_file) {
    nn_error err;
    model m;
    model_init(&m, 4, 3);

    /* a directory that does not exist */
    const char *nodir = tmp_path("no/such/dir/x.ckpt");
    CHECK(nn_checkpoint_save(nodir, &m.params, NULL, &err) == -1);
    CHECK(contains(err.msg, nodir) && contains(err.msg, "No such file"));

    /* a write that fails half-way (file size limit; SIGXFSZ ignored so write returns EFBIG)
     * over an existing checkpoint */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/atomic", test_tmpdir());
    mkdir(dir, 0777);
    char path[600];
    snprintf(path, sizeof path, "%s/model.ckpt", dir);
    CHECK(save_model(path, 1) == 0);
    size_t old_len = 0;
    unsigned char *old = read_all(path, &old_len);

    model big;
    model_init(&big, 4, 3);
    ag_tensor *huge = ag_param(1, (int[]){100000});
    nn_params_add(&big.params, NULL, "huge", huge, true);
    struct rlimit saved;
    getrlimit(RLIMIT_FSIZE, &saved);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = {(rlim_t)(old_len / 2 + 4096 * 4), saved.rlim_max};
    if (setrlimit(RLIMIT_FSIZE, &small) == 0) {
        int rc = nn_checkpoint_save(path, &big.params, NULL, &err);
        setrlimit(RLIMIT_FSIZE, &saved);
        CHECK(rc == -1);
        CHECK(contains(err.msg, path) && contains(err.msg, "unchanged"));
    } else {
        fprintf(stderr, "    (setrlimit failed: write-failure case skipped)\n");
    }
    signal(SIGXFSZ, prev);
    size_t now_len = 0;
    unsigned char *now = read_all(path, &now_len);
    CHECK(now && now_len == old_len && memcmp(now, old, old_len) == 0);
    CHECK(count_temp_files(dir) == 0);
    free(now);

    /* a directory we may not write into (meaningless for root, who may write anyway) */
    chmod(dir, 0555);
    if (access(dir, W_OK) != 0) {
        CHECK(nn_checkpoint_save(path, &m.params, NULL, &err) == -1);
        CHECK(contains(err.msg, "Permission denied"));
        now = read_all(path, &now_len);
        CHECK(now && now_len == old_len && memcmp(now, old, old_len) == 0);
        free(now);
    }
    chmod(dir, 0777);

    /* and a good save replaces the file and leaves no temporary behind */
    CHECK(nn_checkpoint_save(path, &big.params, NULL, &err) == 0);
    CHECK(count_temp_files(dir) == 0);
    now = read_all(path, &now_len);
    CHECK(now_len > 400000);
    free(now);
    free(old);
    ag_tensor_free(huge);
    model_free(&big);
    model_free(&m);
}

TEST(checkpoint_misuse_of_the_list_is_an_error) {
    model m;
    model_init(&m, 4, 3);
    nn_params_add(&m.params, NULL, "conv.kernel", m.w, true); /* duplicate name */
    EXPECT_ERROR(nn_checkpoint_save(tmp_path("dup.ckpt"), &m.params, NULL, NULL));
    CHECK(contains(test_last_error, "conv.kernel"));
    model_free(&m);
}

/* ---- files written by hand from docs/checkpoint-format.md -------------------------------- */

typedef struct bytes {
    unsigned char b[1 << 16];
    size_t n;
} bytes;

static void b_raw(bytes *x, const void *p, size_t n) {
    memcpy(x->b + x->n, p, n);
    x->n += n;
}
static void b_u32(bytes *x, uint32_t v) {
    for (int i = 0; i < 4; i++) x->b[x->n++] = (unsigned char)(v >> (8 * i));
}
static void b_u64(bytes *x, uint64_t v) {
    for (int i = 0; i < 8; i++) x->b[x->n++] = (unsigned char)(v >> (8 * i));
}
static void b_f32(bytes *x, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    b_u32(x, u);
}
static void b_f64(bytes *x, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    b_u64(x, u);
}
/* magic, version, width, step 7, epoch 1, rng {1,2,3,4}, text "hi" */
static void b_header(bytes *x, uint32_t version, uint32_t width) {
    x->n = 0;
    b_raw(x, "HENBUNCK", 8);
    b_u32(x, version);
    b_u32(x, width);
    b_u64(x, 7);
    b_u64(x, 1);
    for (int i = 1; i <= 4; i++) b_u64(x, (uint64_t)i);
    b_u32(x, 2);
    b_raw(x, "hi", 2);
}
static void b_name(bytes *x, const char *name) {
    b_u32(x, (uint32_t)strlen(name));
    b_raw(x, name, strlen(name));
}
static void b_finish(bytes *x, const char *path) {
    b_u32(x, (uint32_t)crc32(0, x->b, (uInt)x->n));
    write_all(path, x->b, x->n);
}

/* "w" (2, 2) and "b" (1), in the given width, as the format document describes them. */
static void write_hand_file(const char *path, uint32_t width, const double *w, double b) {
    static bytes x;
    b_header(&x, 1, width);
    b_u32(&x, 2);
    b_name(&x, "w");
    b_u32(&x, 2);
    b_u32(&x, 2);
    b_u32(&x, 2);
    for (int i = 0; i < 4; i++) width == 4 ? b_f32(&x, (float)w[i]) : b_f64(&x, w[i]);
    b_name(&x, "b");
    b_u32(&x, 1);
    b_u32(&x, 1);
    width == 4 ? b_f32(&x, (float)b) : b_f64(&x, b);
    b_finish(&x, path);
}

TEST(checkpoint_reads_both_precisions_as_documented) {
    ag_tensor *w = ag_param(2, (int[]){2, 2}), *b = ag_param(1, (int[]){1});
    nn_param_list l = {0};
    nn_params_add(&l, NULL, "w", w, true);
    nn_params_add(&l, NULL, "b", b, true);
    const double vals[4] = {0.5, -3.25, 0.1, 1e-30};
    nn_ckpt_meta meta;
    nn_error err;

    const char *p32 = tmp_path("f32.ckpt");
    write_hand_file(p32, 4, vals, -7);
    CHECK(nn_checkpoint_load(p32, &l, &meta, &err) == 0);
    for (int i = 0; i < 4; i++) CHECK(w->data[i] == (ag_real)(float)vals[i]); /* exact widening */
    CHECK(b->data[0] == -7);
    CHECK(meta.step == 7 && meta.epoch == 1 && meta.rng.s[3] == 4 && strcmp(meta.text, "hi") == 0);

    const char *p64 = tmp_path("f64.ckpt");
    write_hand_file(p64, 8, vals, 2.5);
    CHECK(nn_checkpoint_load(p64, &l, NULL, &err) == 0);
    for (int i = 0; i < 4; i++) CHECK(w->data[i] == (ag_real)vals[i]); /* rounded to nearest */
    CHECK(b->data[0] == 2.5);

    /* a double beyond float's range: the float build refuses rather than load an inf */
    const double far[4] = {1, 2, 1e300, 4};
    write_hand_file(p64, 8, far, 0);
    int rc = nn_checkpoint_load(p64, &l, NULL, &err);
    if (sizeof(ag_real) == 4) {
        CHECK(rc == -1 && contains(err.msg, "'w' holds 1e+300, which does not fit in float"));
        CHECK(w->data[2] == (ag_real)(float)0.1); /* untouched */
    } else {
        CHECK(rc == 0 && w->data[2] == 1e300);
    }
    nn_params_free(&l);
    ag_tensor_free(w);
    ag_tensor_free(b);
}

TEST(checkpoint_hostile_sizes_are_rejected_cleanly) {
    ag_tensor *w = ag_param(2, (int[]){2, 2}), *b = ag_param(1, (int[]){1});
    nn_param_list l = {0};
    nn_params_add(&l, NULL, "w", w, true);
    nn_params_add(&l, NULL, "b", b, true);
    const char *p = tmp_path("hostile.ckpt");
    static bytes x;
    nn_error err;
    struct { const char *what, *expect; } cases[] = {
        {"version 2", "version 2 is not supported"},
        {"width 2", "2 bytes wide"},
        {"text too long", "bad meta text length"},
        {"count 2^32-1", "bad tensor count"},
        {"name length 2^31", "bad or missing name length"},
        {"ndim 5", "bad number of dimensions"},
        {"dims overflow", "needs more bytes than the file has"},
        {"dim > INT_MAX", "has a dimension of"},
        {"trailing bytes", "unexpected bytes after the last tensor"},
        {"duplicate name", "appears twice"},
        {"NUL in name", "NUL"},
    };
    for (int c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++) {
        b_header(&x, c == 0 ? 2 : 1, c == 1 ? 2 : 4);
        if (c == 2) { /* rewrite the text length: 9000 bytes claimed, 2 present */
            x.n -= 6;
            b_u32(&x, 9000);
            b_raw(&x, "hi", 2);
        }
        b_u32(&x, c == 3 ? UINT32_MAX : 2);
        const char *first = c == 10 ? "a\0b" : "w";
        b_u32(&x, c == 4 ? (1u << 31) : (c == 10 ? 3 : (uint32_t)strlen(first)));
        b_raw(&x, first, c == 10 ? 3 : strlen(first));
        b_u32(&x, c == 5 ? 5 : (c == 6 ? 4 : 2));
        if (c == 6) for (int d = 0; d < 4; d++) b_u32(&x, 65536); /* 2^64 values */
        else {
            b_u32(&x, c == 7 ? 0x80000000u : 2);
            b_u32(&x, 2);
        }
        for (int i = 0; i < 4; i++) b_f32(&x, 1);
        b_name(&x, c == 9 ? "w" : "b");
        b_u32(&x, 1);
        b_u32(&x, 1);
        b_f32(&x, 1);
        if (c == 8) b_u32(&x, 0);
        b_finish(&x, p);
        int rc = nn_checkpoint_load(p, &l, NULL, &err);
        CHECK(rc == -1);
        if (rc == -1 && !contains(err.msg, cases[c].expect))
            test_fail(__FILE__, __LINE__, "%s: expected '%s' in: %s", cases[c].what,
                      cases[c].expect, err.msg);
        CHECK(w->data[0] == 0 && b->data[0] == 0);
    }
    /* and the same file without the damage loads (so the cases above fail for their reason) */
    b_header(&x, 1, 4);
    b_u32(&x, 2);
    b_name(&x, "w");
    b_u32(&x, 2);
    b_u32(&x, 2);
    b_u32(&x, 2);
    for (int i = 0; i < 4; i++) b_f32(&x, 1);
    b_name(&x, "b");
    b_u32(&x, 1);
    b_u32(&x, 1);
    b_f32(&x, 1);
    b_finish(&x, p);
    CHECK(nn_checkpoint_load(p, &l, NULL, &err) == 0 && w->data[3] == 1 && b->data[0] == 1);
    nn_params_free(&l);
    ag_tensor_free(w);
    ag_tensor_free(b);
}

/* ---- the resume test ------------------------------------------------------------------- */

/* A tiny MLP regression y = sin(x0) + x1·x2/2 on 64 fixed points, trained on minibatches
 * of 8 drawn from the tape's PRNG, with dropout (also the tape's PRNG), gradient clipping
 * and a warm-up + cosine schedule: every piece of state a resumed run must restore. */
enum { N_DATA = 64, BATCH = 8, HIDDEN = 16 };

typedef struct run {
    ag_tensor *w1, *b1, *w2, *b2;
    nn_param_list params;
    nn_optim *opt;
    ag_tape *tape;
    double loss;
} run;

static ag_real data_x[N_DATA * 3], data_y[N_DATA];

static void make_data(void) {
    ag_rng r;
    ag_rng_seed(&r, 1234);
    for (int i = 0; i < N_DATA; i++) {
        for (int j = 0; j < 3; j++) data_x[3 * i + j] = (ag_real)ag_rng_normal(&r);
        data_y[i] = (ag_real)(sin(data_x[3 * i]) + 0.5 * data_x[3 * i + 1] * data_x[3 * i + 2]);
    }
}

static void run_new(run *r, uint64_t seed, bool adam) {
    r->tape = ag_tape_new(seed);
    r->w1 = ag_param(2, (int[]){HIDDEN, 3});
    r->b1 = ag_param(1, (int[]){HIDDEN});
    r->w2 = ag_param(2, (int[]){1, HIDDEN});
    r->b2 = ag_param(1, (int[]){1});
    ag_fill_randn(ag_tape_rng(r->tape), r->w1, 0.5);
    ag_fill_randn(ag_tape_rng(r->tape), r->w2, 0.5);
    r->params = (nn_param_list){0};
    nn_params_add(&r->params, "mlp.0", "weight", r->w1, true);
    nn_params_add(&r->params, "mlp.0", "bias", r->b1, true);
    nn_params_add(&r->params, "mlp.2", "weight", r->w2, true);
    nn_params_add(&r->params, "mlp.2", "bias", r->b2, true);
    r->opt = adam ? nn_adam(&r->params, 0.02) : nn_sgd(&r->params, 0.02, 0.9, true);
    nn_optim_set_clip_norm(r->opt, 1.0);
    nn_optim_set_schedule(r->opt, &(nn_lr_schedule){.kind = NN_LR_COSINE, .warmup_steps = 10,
                                                    .total_steps = 200, .min_lr = 1e-3});
}

static void run_free(run *r) {
    nn_optim_free(r->opt);
    nn_params_free(&r->params);
    ag_tensor_free(r->w1);
    ag_tensor_free(r->b1);
    ag_tensor_free(r->w2);
    ag_tensor_free(r->b2);
    ag_tape_free(r->tape);
}

static void run_steps(run *r, int steps) {
    ag_tape *t = r->tape;
    for (int s = 0; s < steps; s++) {
        ag_real xb[BATCH * 3], yb[BATCH];
        for (int i = 0; i < BATCH; i++) {
            uint32_t k = ag_rng_below(ag_tape_rng(t), N_DATA);
            memcpy(&xb[3 * i], &data_x[3 * k], sizeof(ag_real) * 3);
            yb[i] = data_y[k];
        }
        ag_tensor *x = ag_from_data(t, 2, (int[]){BATCH, 3}, xb);
        ag_tensor *h = ag_dropout(t, ag_relu(t, ag_linear(t, x, r->w1, r->b1)), 0.1, true);
        ag_tensor *pred = ag_linear(t, h, r->w2, r->b2); /* (8, 1) */
        /* mean squared error L = Σ(p - y)²/B, its gradient 2(p - y)/B as the seed */
        ag_tensor *seed = ag_zeros(t, 2, (int[]){BATCH, 1});
        r->loss = 0;
        for (int i = 0; i < BATCH; i++) {
            double d = pred->data[i] - yb[i];
            r->loss += d * d / BATCH;
            seed->data[i] = (ag_real)(2 * d / BATCH);
        }
        ag_backward_seed(t, pred, seed);
        nn_optim_step(r->opt);
        nn_optim_zero_grad(r->opt);
        ag_tape_clear(t);
    }
}

/* Full mean squared error over the data, without dropout. */
static double full_loss(run *r) {
    ag_tape *t = r->tape;
    bool prev = ag_set_grad_enabled(t, false);
    ag_tensor *x = ag_from_data(t, 2, (int[]){N_DATA, 3}, data_x);
    ag_tensor *pred = ag_linear(t, ag_relu(t, ag_linear(t, x, r->w1, r->b1)), r->w2, r->b2);
    double l = 0;
    for (int i = 0; i < N_DATA; i++) l += pow(pred->data[i] - data_y[i], 2) / N_DATA;
    ag_tape_clear(t);
    ag_set_grad_enabled(t, prev);
    return l;
}

/* everything a checkpoint of a run holds: parameters and optimizer state */
static nn_param_list run_tensors(run *r) {
    nn_param_list l = {0};
    nn_params_extend(&l, NULL, &r->params);
    nn_optim_state(r->opt, "opt", &l);
    return l;
}

TEST(checkpoint_resume_is_bit_identical) {
    make_data();
    const int k = 60;
    for (int adam = 0; adam <= 1; adam++) {
        /* straight: 2k steps */
        run a;
        run_new(&a, 7, adam);
        double before = full_loss(&a);
        run_steps(&a, 2 * k);
        double after = full_loss(&a);
        CHECK(after < 0.5 * before); /* it learns, so the comparison below means something */

        /* k steps, save, drop everything */
        const char *path = tmp_path("resume.ckpt");
        run b;
        run_new(&b, 7, adam);
        run_steps(&b, k);
        nn_param_list lb = run_tensors(&b);
        nn_ckpt_meta meta = {.step = k};
        meta.rng = *ag_tape_rng(b.tape);
        snprintf(meta.text, sizeof meta.text, "mlp 3-16-1, %s", adam ? "adam" : "nesterov");
        nn_error err;
        CHECK(nn_checkpoint_save(path, &lb, &meta, &err) == 0);
        nn_params_free(&lb);
        run_free(&b);

        /* fresh objects with other random values, load, k more steps */
        run c;
        run_new(&c, 99, adam);
        nn_param_list lc = run_tensors(&c);
        nn_ckpt_meta got;
        CHECK(nn_checkpoint_load(path, &lc, &got, &err) == 0);
        nn_params_free(&lc);
        CHECK(got.step == k && nn_optim_steps(c.opt) == k);
        *ag_tape_rng(c.tape) = got.rng;
        run_steps(&c, k);

        CHECK(nn_optim_steps(c.opt) == 2 * k);
        CHECK(nn_optim_lr(c.opt) == nn_optim_lr(a.opt));
        nn_param_list la = run_tensors(&a), lc2 = run_tensors(&c);
        for (int i = 0; i < la.n; i++) {
            const ag_tensor *x = la.items[i].value, *y = lc2.items[i].value;
            if (memcmp(x->data, y->data, sizeof(ag_real) * x->size))
                test_fail(__FILE__, __LINE__, "%s: '%s' differs after resuming",
                          adam ? "adam" : "nesterov", la.items[i].name);
        }
        CHECK(a.loss == c.loss);
        nn_params_free(&la);
        nn_params_free(&lc2);
        run_free(&a);
        run_free(&c);
    }
}

/* ---- long meta text, and files that are not regular ------------------------------------- */

/* A text of tens of kilobytes (a long spec) is saved and loaded whole; a text that fills
 * meta.text to its last byte (what snprintf leaves when it cuts) is refused, not saved cut. */
TEST(checkpoint_long_meta_text_is_never_cut) {
    static nn_ckpt_meta meta, back;
    model m;
    model_init(&m, 4, 2);
    nn_error err = {{0}};
    const char *path = tmp_path("longtext.ckpt");
    size_t n = 40000; /* 5 x the old 8 KiB limit */
    for (size_t i = 0; i < n; i++) meta.text[i] = (char)('a' + i % 26);
    meta.text[n] = 0;
    CHECK(nn_checkpoint_save(path, &m.params, &meta, &err) == 0);
    CHECK(nn_checkpoint_load(path, &m.params, &back, &err) == 0);
    CHECK(strlen(back.text) == n && memcmp(back.text, meta.text, n + 1) == 0);

    /* the largest text saved */
    memset(meta.text, 'x', NN_CKPT_TEXT_MAX - 2);
    meta.text[NN_CKPT_TEXT_MAX - 2] = 0;
    CHECK(nn_checkpoint_save(path, &m.params, &meta, &err) == 0);
    CHECK(nn_checkpoint_load(path, &m.params, &back, &err) == 0);
    CHECK(strlen(back.text) == NN_CKPT_TEXT_MAX - 2);

    /* a cut text: snprintf of a longer string; refused, the old file stays */
    size_t old_len = 0, now_len = 0;
    unsigned char *old = read_all(path, &old_len);
    char *longer = malloc(NN_CKPT_TEXT_MAX + 100);
    memset(longer, 'y', NN_CKPT_TEXT_MAX + 99);
    longer[NN_CKPT_TEXT_MAX + 99] = 0;
    int k = snprintf(meta.text, sizeof meta.text, "%s", longer);
    CHECK(k > (int)sizeof meta.text - 1);
    CHECK(nn_checkpoint_save(path, &m.params, &meta, &err) == -1);
    CHECK(contains(err.msg, path) && contains(err.msg, "probably cut short"));
    unsigned char *now = read_all(path, &now_len);
    CHECK(now && now_len == old_len && memcmp(now, old, old_len) == 0);
    free(now);
    free(old);
    free(longer);
    model_free(&m);
}

/* A FIFO where a checkpoint (or its temporary file) should be: refused at once, no hang
 * (nobody writes to the FIFO, so a blocking open would wait forever; alarm turns a hang
 * into a failure). */
TEST(checkpoint_fifo_is_refused_without_hanging) {
    model m;
    model_init(&m, 4, 2);
    nn_error err = {{0}};
    const char *path = tmp_path("fifo.ckpt");
    remove(path);
    CHECK(mkfifo(path, 0600) == 0);
    unsigned left = alarm(10);
    CHECK(nn_checkpoint_load(path, &m.params, NULL, &err) == -1);
    CHECK(contains(err.msg, path) && contains(err.msg, "not a regular file"));
    nn_ckpt_meta *meta = calloc(1, sizeof *meta);
    CHECK(nn_checkpoint_info(path, meta, NULL, &err) == -1);
    CHECK(contains(err.msg, "not a regular file"));
    /* the temporary name taken by a FIFO: the save fails, it does not block */
    const char *target = tmp_path("fifo2.ckpt");
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", target, (long)getpid());
    remove(tmp);
    CHECK(mkfifo(tmp, 0600) == 0);
    CHECK(nn_checkpoint_save(target, &m.params, NULL, &err) == -1);
    CHECK(contains(err.msg, "not a regular file") || contains(err.msg, "No such device"));
    alarm(left);
    remove(tmp);
    remove(path);
    free(meta);
    model_free(&m);
}
