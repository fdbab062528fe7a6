/* test_safetensors.c — .safetensors files (nn/safetensors.c) and the JSON reader under them
 * (nn/json.c): bit-exact round trips with the byte layout checked against the format,
 * files written by hand in the other precision, every kind of lying or malformed header
 * rejected with a message naming the problem and the tensors untouched, weights-only
 * loading beside optimizer state, atomic writes, and misuse. */
#include "tests/test.h"
#include "nn/json.h"
#include "nn/nn.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef AG_DOUBLE
#define DTYPE "F64"
#else
#define DTYPE "F32"
#endif

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

/* A .safetensors file from a header text and data bytes (the length prefix added). */
static void write_st(const char *path, const char *header, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    uint64_t len = strlen(header);
    for (int i = 0; i < 8; i++) fputc((int)(len >> (8 * i) & 0xFF), f);
    fputs(header, f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

/* A linear layer (3 -> 2) and Adam-like state under "optim.". */
typedef struct model {
    ag_tensor *w, *b, *step, *m;
    nn_param_list weights, all;
} model;

static void model_init(model *m, uint64_t seed) {
    ag_rng r;
    ag_rng_seed(&r, seed);
    m->w = ag_param(2, (int[]){2, 3});
    m->b = ag_param(1, (int[]){2});
    m->step = ag_tensor_new(1, (int[]){1}, false);
    m->m = ag_tensor_new(2, (int[]){2, 3}, false);
    ag_fill_randn(&r, m->w, 1);
    ag_fill_randn(&r, m->b, 1);
    ag_fill_randn(&r, m->m, 1);
    m->step->data[0] = 7;
    m->weights = m->all = (nn_param_list){0};
    nn_params_add(&m->weights, "0.linear", "weight", m->w, true);
    nn_params_add(&m->weights, "0.linear", "bias", m->b, true);
    nn_params_extend(&m->all, NULL, &m->weights);
    nn_params_add(&m->all, "optim", "step", m->step, false);
    nn_params_add(&m->all, "optim", "m.0.linear.weight", m->m, false);
}

static void model_free(model *m) {
    ag_tensor_free(m->w);
    ag_tensor_free(m->b);
    ag_tensor_free(m->step);
    ag_tensor_free(m->m);
    nn_params_free(&m->weights);
    nn_params_free(&m->all);
}

static void fill(const nn_param_list *l, double v) {
    for (int i = 0; i < l->n; i++)
        for (size_t j = 0; j < l->items[i].value->size; j++) l->items[i].value->data[j] = (ag_real)v;
}
static bool all_equal(const nn_param_list *l, double v) {
    for (int i = 0; i < l->n; i++)
        for (size_t j = 0; j < l->items[i].value->size; j++)
            if (l->items[i].value->data[j] != (ag_real)v) return false;
    return true;
}

/* ---- round trips -------------------------------------------------------------------------- */

TEST(safetensors_round_trip_is_bit_exact_and_follows_the_format) {
    model a, b;
    model_init(&a, 1);
    model_init(&b, 2);
    const char *path = tmp_path("rt.safetensors");
    const char *meta[] = {"spec", "linear 2, \"relu\"\n", "latent", "20", NULL};
    nn_error err;
    CHECK(nn_safetensors_save(path, &a.weights, meta, &err) == 0);
    CHECK(nn_safetensors_load(path, &b.weights, &err) == 0);
    CHECK(memcmp(a.w->data, b.w->data, sizeof(ag_real) * 6) == 0);
    CHECK(memcmp(a.b->data, b.b->data, sizeof(ag_real) * 2) == 0);

    /* The bytes: u64 length, a header padded with spaces so data starts at a multiple of 8,
     * then the values little-endian in list order. */
    size_t len = 0;
    unsigned char *buf = read_all(path, &len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | buf[i];
    CHECK((8 + n) % 8 == 0);
    CHECK(len == 8 + n + 8 * sizeof(ag_real));
    char *h = strndup((char *)buf + 8, (size_t)n);
    CHECK(strstr(h, "\"0.linear.weight\":{\"dtype\":\"" DTYPE) != NULL);
    CHECK(strstr(h, "\"shape\":[2,3],\"data_offsets\":[0,") != NULL);
    CHECK(strstr(h, "\"spec\":\"linear 2, \\\"relu\\\"\\u000a\"") != NULL);
    ag_real first;
    memcpy(&first, buf + 8 + n, sizeof first); /* the test hosts are little-endian */
    CHECK(first == a.w->data[0]);
    free(h);
    free(buf);

    nn_safetensors *f = nn_safetensors_open(path, &err);
    CHECK(f != NULL);
    if (f) {
        CHECK(strcmp(nn_safetensors_meta(f, "spec"), "linear 2, \"relu\"\n") == 0);
        CHECK(strcmp(nn_safetensors_meta(f, "latent"), "20") == 0);
        CHECK(nn_safetensors_meta(f, "nope") == NULL);
        char out[1024];
        FILE *o = fmemopen(out, sizeof out, "w");
        nn_safetensors_print(f, o);
        fclose(o);
        CHECK(strstr(out, "0.linear.bias " DTYPE " (2)") != NULL);
        nn_safetensors_close(f);
    }
    CHECK(nn_safetensors_probe(path));
    CHECK(nn_safetensors_save(path, &a.weights, NULL, &err) == 0); /* no metadata: no key */
    f = nn_safetensors_open(path, &err);
    CHECK(f && !nn_safetensors_meta(f, "spec"));
    nn_safetensors_close(f);
    nn_ckpt_meta cm = {0};
    const char *ckpt = tmp_path("rt.ckpt");
    CHECK(nn_checkpoint_save(ckpt, &a.weights, &cm, &err) == 0 && !nn_safetensors_probe(ckpt));
    model_free(&a);
    model_free(&b);
}

TEST(safetensors_other_precision_loads_converted) {
    model m;
    model_init(&m, 1);
    /* w = 0.5 .. 3.0 and b = {-1, 1e-3}, in the precision the build does not use */
    nn_error err;
    const char *path = tmp_path("other.safetensors");
#ifdef AG_DOUBLE
    float v[8] = {0.5f, 1, 1.5f, 2, 2.5f, 3, -1, 1e-3f};
    write_st(path, "{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
             "\"0.linear.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]}}", v, sizeof v);
#else
    double v[8] = {0.5, 1, 1.5, 2, 2.5, 3, -1, 1e-3};
    write_st(path, "{\"0.linear.bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[48,64]},"
             "\"0.linear.weight\":{\"dtype\":\"F64\",\"shape\":[2,3],\"data_offsets\":[0,48]}}", v, sizeof v);
#endif
    CHECK(nn_safetensors_load(path, &m.weights, &err) == 0);
    for (int i = 0; i < 6; i++) CHECK(m.w->data[i] == (ag_real)v[i]);
    CHECK(m.b->data[0] == -1 && m.b->data[1] == (ag_real)v[7]);
#ifndef AG_DOUBLE
    /* float64 beyond float's range is refused, not turned into inf */
    v[7] = 1e300;
    fill(&m.weights, 9);
    write_st(path, "{\"0.linear.bias\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[48,64]},"
             "\"0.linear.weight\":{\"dtype\":\"F64\",\"shape\":[2,3],\"data_offsets\":[0,48]}}", v, sizeof v);
    CHECK(nn_safetensors_load(path, &m.weights, &err) == -1);
    CHECK(strstr(err.msg, "does not fit in float") != NULL);
    CHECK(all_equal(&m.weights, 9));
#endif
    model_free(&m);
}

/* ---- what is refused ---------------------------------------------------------------------- */

/* A header over 32 bytes of data (for the 2x3 weight and 2 biases in F32), and the phrase
 * the error must contain. */
static const struct bad_case {
    const char *header, *says;
} bad_cases[] = {
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
     "\"0.linear.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]},}",
     "byte 146: JSON header: expected a key string"},
    {"{\"0.linear.weight\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,24]}}",
     "dtype \"F16\"; henbun reads F32 and F64"},
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]},"
     "\"0.linear.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]}}",
     "tensor '0.linear.weight' has shape (3, 2) in the file but (2, 3) in the model"},
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
     "\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]}}",
     "duplicate key"},
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
     "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]}}",
     "tensor '0.linear.bias' (2) is missing"},
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
     "\"0.linear.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]},"
     "\"extra\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[32,32]}}",
     "has a tensor 'extra' (0) that the model does not"},
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
     "\"0.linear.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,40]}}",
     "lie outside the 32 bytes"},
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
     "\"0.linear.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}",
     "they overlap"},
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,32]},"
     "\"0.linear.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}",
     "needs 8 bytes"},
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
     "\"0.linear.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[28,32]}}",
     "a gap"},
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
     "\"0.linear.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[24,28]}}",
     "the tensors cover 28 bytes of data, but the file has 32"},
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,24]}}",
     "holds something other than a size"},
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[2,3.0],\"data_offsets\":[0,24]}}",
     "holds something other than a size"},
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
     "\"data_offsets\":[0,24]}}", "holds something other than a size"},
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],"
     "\"data_offsets\":[0,24]}}", "needs more bytes than the file has"},
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,18446744073709551616]}}",
     "must be [begin, end]"},
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24],\"x\":1}}",
     "unknown field 'x'"},
    {"{\"0.linear.weight\":{\"dtype\":\"F32\",\"data_offsets\":[0,24]}}", "lacks 'shape'"},
    {"{\"__metadata__\":{\"a\":1}}", "metadata 'a' is not a string"},
    {"{\"__metadata__\":[]}", "__metadata__ must be an object"},
    {"{\"\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]}}", "a tensor name must be"},
    {"{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]}}",
     "without NUL"},
    {"{\"\xff\":1}", "byte 10: JSON header: invalid UTF-8"},
    {"{\"\\ud800\":1}", "high surrogate without its low half"},
    {"{\"a\":\"\t\"}", "control character"},
    {"{\"a\":01}", "byte 14: JSON header: expected ',' or '}'"},
    {"{\"a\":1.}", "expected a digit after the decimal point"},
    {"{\"a\":1} x", "byte 16: JSON header: unexpected text after the value"},
    {"[1]", "must start with '{'"},
    {"{\"a\":tru}", "expected a value"},
    {"{\"a\":\"x", "unterminated string"},
};

TEST(safetensors_rejects_lying_or_malformed_files_and_changes_nothing) {
    model m;
    model_init(&m, 1);
    const char *path = tmp_path("bad.safetensors");
    float data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        write_st(path, bad_cases[i].header, data, sizeof data);
        fill(&m.weights, 42);
        nn_error err = {{0}};
        int rc = nn_safetensors_load(path, &m.weights, &err);
        if (rc != -1 || !strstr(err.msg, bad_cases[i].says) || !strstr(err.msg, path))
            test_fail(__FILE__, __LINE__, "case %zu: rc %d, message '%s', expected '%s'", i, rc,
                      err.msg, bad_cases[i].says);
        CHECK(all_equal(&m.weights, 42));
    }

    /* brackets nested one level too deep (the object is level 0); spaces after them so
     * that the cap on values (below) is not what stops it */
    char deep[512] = "{\"a\":";
    for (int i = 0; i < NN_JSON_MAX_DEPTH; i++) strcat(deep, "[");
    for (int i = 0; i < 200; i++) strcat(deep, " ");
    write_st(path, deep, data, sizeof data);
    nn_error derr;
    CHECK(nn_safetensors_load(path, &m.weights, &derr) == -1 &&
          strstr(derr.msg, "byte 277: JSON header: nested too deeply"));

    /* a header of tiny values costs at most a few nodes per 4 bytes, then stops */
    char many[512] = "{\"a\":[0";
    for (int i = 0; i < 200; i++) strcat(many, ",0");
    strcat(many, "]}");
    write_st(path, many, data, sizeof data);
    CHECK(nn_safetensors_load(path, &m.weights, &derr) == -1 &&
          strstr(derr.msg, "JSON header: too many values"));

    /* lengths: too short, longer than the file, zero */
    nn_error err;
    static const unsigned char short_file[5] = {1, 0, 0, 0, 0};
    FILE *f = fopen(path, "wb");
    fwrite(short_file, 1, sizeof short_file, f);
    fclose(f);
    CHECK(nn_safetensors_load(path, &m.weights, &err) == -1 && strstr(err.msg, "too short"));
    unsigned char huge[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}'};
    f = fopen(path, "wb");
    fwrite(huge, 1, sizeof huge, f);
    fclose(f);
    CHECK(nn_safetensors_load(path, &m.weights, &err) == -1 &&
          strstr(err.msg, "exceeds the 8 bytes after it"));
    CHECK(!nn_safetensors_probe(path)); /* byte 8 is '{', but the length does not fit */
    write_st(path, "", NULL, 0);
    CHECK(nn_safetensors_load(path, &m.weights, &err) == -1 && strstr(err.msg, "outside 2.."));
    CHECK(nn_safetensors_load(tmp_path("absent.safetensors"), &m.weights, &err) == -1 &&
          strstr(err.msg, "cannot open"));
    CHECK(all_equal(&m.weights, 42));
    model_free(&m);
}

/* ---- weights only -------------------------------------------------------------------------- */

TEST(safetensors_weights_only_file_loads_beside_optimizer_state) {
    model a, b;
    model_init(&a, 1);
    model_init(&b, 2);
    const char *weights = tmp_path("w.safetensors"), *full = tmp_path("full.safetensors");
    nn_error err;
    CHECK(nn_safetensors_save(weights, &a.weights, NULL, &err) == 0);
    CHECK(nn_safetensors_save(full, &a.all, NULL, &err) == 0);

    /* the strict load wants the optimizer state too, and names it */
    CHECK(nn_safetensors_load(weights, &b.all, &err) == -1);
    CHECK(strstr(err.msg, "tensor 'optim.step' (1) is missing") != NULL);
    fill(&b.all, 5);
    CHECK(nn_safetensors_load_weights(weights, &b.all, "optim.", &err) == 0);
    CHECK(memcmp(a.w->data, b.w->data, sizeof(ag_real) * 6) == 0);
    CHECK(b.step->data[0] == 5 && b.m->data[0] == 5); /* state left as it was */
    CHECK(nn_safetensors_load_weights(full, &b.all, "optim.", &err) == 1);
    CHECK(b.step->data[0] == 7 && b.m->data[0] == a.m->data[0]);

    /* part of the state is worse than none: refused */
    nn_param_list part = {0};
    nn_params_extend(&part, NULL, &a.weights);
    nn_params_add(&part, "optim", "step", a.step, false);
    CHECK(nn_safetensors_save(full, &part, NULL, &err) == 0);
    fill(&b.all, 5);
    CHECK(nn_safetensors_load_weights(full, &b.all, "optim.", &err) == -1);
    CHECK(strstr(err.msg, "part of the state") != NULL);
    CHECK(all_equal(&b.all, 5));
    /* a weight is never optional */
    nn_param_list only_w = {0};
    nn_params_add(&only_w, "0.linear", "weight", a.w, true);
    CHECK(nn_safetensors_save(weights, &only_w, NULL, &err) == 0);
    CHECK(nn_safetensors_load_weights(weights, &b.all, "optim.", &err) == -1);
    CHECK(strstr(err.msg, "'0.linear.bias' (2) is missing") != NULL);
    nn_params_free(&part);
    nn_params_free(&only_w);
    model_free(&a);
    model_free(&b);
}

/* ---- writing ---------------------------------------------------------------------------- */

TEST(safetensors_save_is_atomic_and_reports_the_file) {
    model m;
    model_init(&m, 1);
    nn_error err;
    const char *path = tmp_path("atomic.safetensors");
    CHECK(nn_safetensors_save(path, &m.weights, NULL, &err) == 0);
    size_t n1 = 0, n2 = 0;
    unsigned char *before = read_all(path, &n1);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.safetensors", test_tmpdir());
    CHECK(nn_safetensors_save(bad, &m.weights, NULL, &err) == -1);
    CHECK(strstr(err.msg, bad) != NULL && strstr(err.msg, "cannot create") != NULL);
    /* the rename fails (a directory is in the way): the temporary file goes, the error says */
    char *blocked = tmp_path("blocked.safetensors");
    mkdir(blocked, 0777);
    CHECK(nn_safetensors_save(blocked, &m.weights, NULL, &err) == -1);
    CHECK(strstr(err.msg, "cannot write") != NULL && strstr(err.msg, "unchanged") != NULL);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", blocked, (long)getpid());
    CHECK(access(tmp, F_OK) != 0);
    rmdir(blocked);
    unsigned char *after = read_all(path, &n2);
    CHECK(n1 == n2 && memcmp(before, after, n1) == 0);
    free(before);
    free(after);
    model_free(&m);
}

TEST(safetensors_save_misuse_is_a_programmer_error) {
    model m;
    model_init(&m, 1);
    nn_error err;
    const char *path = tmp_path("misuse.safetensors");
    nn_param_list dup = {0};
    nn_params_add(&dup, NULL, "w", m.w, true);
    nn_params_add(&dup, NULL, "w", m.b, true);
    EXPECT_ERROR(nn_safetensors_save(path, &dup, NULL, &err));
    CHECK(strstr(test_last_error, "'w' appears twice") != NULL);
    nn_param_list reserved = {0};
    nn_params_add(&reserved, NULL, "__metadata__", m.w, true);
    EXPECT_ERROR(nn_safetensors_save(path, &reserved, NULL, &err));
    const char *meta[] = {"k", "v", "k", "w", NULL};
    EXPECT_ERROR(nn_safetensors_save(path, &m.weights, meta, &err));
    CHECK(strstr(test_last_error, "'k' appears twice") != NULL);
    const char *bad_utf8[] = {"k", "\xc3(", NULL};
    EXPECT_ERROR(nn_safetensors_save(path, &m.weights, bad_utf8, &err));
    CHECK(access(path, F_OK) != 0); /* nothing written */
    nn_params_free(&dup);
    nn_params_free(&reserved);
    model_free(&m);
}

/* ---- the JSON reader ---------------------------------------------------------------------- */

TEST(json_reader_decodes_escapes_numbers_and_nesting) {
    const char *text = " {\"a\\\"b\": [1, -0.5e+3, 0, true, false, null, \"\\u00e9\\ud83d\\ude00\\n\"],"
                       " \"n\": 18446744073709551615, \"big\": 18446744073709551616} ";
    nn_json d;
    size_t pos;
    const char *why;
    CHECK(nn_json_parse(&d, text, strlen(text), 0, &pos, &why) == 0);
    CHECK(d.nodes[0].kind == NN_JSON_OBJECT && d.nodes[0].count == 3);
    int a = d.nodes[0].first;
    CHECK(strcmp(nn_json_key(&d, a), "a\"b") == 0 && d.nodes[a].count == 7);
    int c = d.nodes[a].first;
    uint64_t u;
    CHECK(nn_json_uint(&d, c, &u) && u == 1);
    c = d.nodes[c].next;
    CHECK(d.nodes[c].kind == NN_JSON_NUMBER && !nn_json_uint(&d, c, &u));
    c = d.nodes[c].next;
    CHECK(nn_json_uint(&d, c, &u) && u == 0);
    c = d.nodes[c].next;
    CHECK(d.nodes[c].kind == NN_JSON_TRUE);
    c = d.nodes[d.nodes[c].next].next;
    CHECK(d.nodes[c].kind == NN_JSON_NULL);
    c = d.nodes[c].next;
    CHECK(strcmp(nn_json_str(&d, c), "\xc3\xa9\xf0\x9f\x98\x80\n") == 0);
    int n = d.nodes[a].next;
    CHECK(nn_json_uint(&d, n, &u) && u == UINT64_MAX);
    CHECK(!nn_json_uint(&d, d.nodes[n].next, &u)); /* one past 2^64 - 1 */
    nn_json_free(&d);

    static const struct { const char *text; size_t pos; } bad[] = {
        {"", 0}, {"{", 1}, {"{\"a\" 1}", 5}, {"[1,]", 3}, {"-", 1}, {"1e", 2}, {"\"\\x\"", 1},
        {"\"\\udc00\"", 1}, {"{\"a\":1,\"a\":2}", 7}, {"nul", 0}, {"\"\xe0\x80\x80\"", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = nn_json_parse(&d, bad[i].text, strlen(bad[i].text), 0, &pos, &why);
        if (rc != -1 || pos != bad[i].pos)
            test_fail(__FILE__, __LINE__, "'%s': rc %d, error at %zu (%s), expected at %zu",
                      bad[i].text, rc, pos, rc ? why : "", bad[i].pos);
        nn_json_free(&d);
    }
}

TEST(json_writer_escapes_what_the_reader_reads_back) {
    const char *s = "q\"b\\s/\x01\t\xc3\xa9";
    nn_json_out arr = {0};
    nn_json_raw(&arr, "[", 1);
    nn_json_string(&arr, s);
    nn_json_raw(&arr, ",", 1);
    nn_json_uint_out(&arr, 18446744073709551615ull);
    nn_json_raw(&arr, "]", 1);
    CHECK(!arr.oom && strcmp(arr.buf, "[\"q\\\"b\\\\s/\\u0001\\u0009\xc3\xa9\",18446744073709551615]") == 0);
    nn_json d;
    CHECK(nn_json_parse(&d, arr.buf, arr.len, 0, NULL, NULL) == 0);
    CHECK(d.n == 3 && strcmp(nn_json_str(&d, 1), s) == 0);
    uint64_t u;
    CHECK(nn_json_uint(&d, 2, &u) && u == UINT64_MAX);
    CHECK(!nn_json_utf8_ok("\xc3") && nn_json_utf8_ok(s));
    nn_json_free(&d);
    free(arr.buf);
}
