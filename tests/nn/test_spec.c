/* test_spec.c — spec text (nn/spec.c): the text forms give the same nn_spec entries and
 * the same built networks as the NN_* macro arrays, every built-in keyword parses, bad text
 * is reported with its column, and shapes that do not fit are reported with the layer's
 * index, its spec and its input shape. */
#include "tests/test.h"
#include "tests/check.h"
#include "nn/layer.h"

#include <string.h>

/* ---- helpers ----------------------------------------------------------------------------- */

static bool same_spec(const nn_spec *a, const nn_spec *b) {
    return a->type == b->type && a->n == b->n && a->k == b->k && a->s == b->s && a->p == b->p &&
           a->op == b->op && a->f == b->f && a->ndim == b->ndim &&
           memcmp(a->shape, b->shape, sizeof a->shape) == 0 && a->init == b->init &&
           a->init_std == b->init_std;
}

static void expect_same_spec(const nn_spec *got, const nn_spec *want, int i, const char *text) {
    if (same_spec(got, want)) return;
    char a[96], b[96];
    test_fail(__FILE__, __LINE__, "'%s' entry %d: parsed '%s' (n %d k %d s %d p %d op %d f %g "
              "ndim %d init %d), macro '%s' (n %d k %d s %d p %d op %d f %g ndim %d init %d)",
              text, i, nn_spec_str(got, a, sizeof a), got->n, got->k, got->s, got->p, got->op,
              got->f, got->ndim, (int)got->init, nn_spec_str(want, b, sizeof b), want->n,
              want->k, want->s, want->p, want->op, want->f, want->ndim, (int)want->init);
}

/* Parses text and compares with the macro array entry by entry, then builds both for the
 * same input and compares every layer's output shape and every parameter's name and shape
 * (and, built from the same seed, its values). */
static void check_text_equals_macros(const char *text, const nn_spec *macros, int ndim,
                                     const int *shape) {
    nn_spec parsed[32];
    nn_error err = {{0}};
    int n = nn_spec_parse(text, NULL, parsed, 32, &err);
    if (n < 0) {
        test_fail(__FILE__, __LINE__, "'%s': %s", text, err.msg);
        return;
    }
    int m = 0;
    while (macros[m].type) m++;
    CHECK(n == m);
    CHECK(parsed[n].type == NULL); /* NN_END written */
    for (int i = 0; i < n && i < m; i++) expect_same_spec(&parsed[i], &macros[i], i, text);

    ag_rng r1, r2;
    ag_rng_seed(&r1, 99);
    ag_rng_seed(&r2, 99);
    nn_net *a = nn_net_parse(text, ndim, shape, NULL, &r1, &err);
    if (!a) test_fail(__FILE__, __LINE__, "'%s': %s", text, err.msg);
    nn_net *b = nn_net_new(macros, ndim, shape, &r2, &err);
    if (!b) test_fail(__FILE__, __LINE__, "macros of '%s': %s", text, err.msg);
    if (a && b) {
        CHECK(a->n_layers == b->n_layers);
        for (int i = 0; i < a->n_layers && i < b->n_layers; i++) {
            CHECK(a->layers[i].out_ndim == b->layers[i].out_ndim);
            CHECK(memcmp(a->layers[i].out_shape, b->layers[i].out_shape,
                         sizeof a->layers[i].out_shape) == 0);
            CHECK(a->layers[i].init == b->layers[i].init);
        }
        CHECK(a->params.n == b->params.n);
        for (int i = 0; i < a->params.n && i < b->params.n; i++) {
            const ag_tensor *x = a->params.items[i].value, *y = b->params.items[i].value;
            CHECK(strcmp(a->params.items[i].name, b->params.items[i].name) == 0);
            CHECK(ag_same_shape(x, y));
            CHECK(ag_same_shape(x, y) && memcmp(x->data, y->data, x->size * sizeof *x->data) == 0);
        }
    }
    nn_net_free(a);
    nn_net_free(b);
}

/* Parses text, which must fail, and checks the message contains `want`. */
static void expect_parse_error(const char *text, const char *want) {
    nn_spec out[16];
    nn_error err = {{0}};
    int n = nn_spec_parse(text, NULL, out, 16, &err);
    if (n >= 0) {
        test_fail(__FILE__, __LINE__, "'%s' parsed (%d layers), expected '%s'", text, n, want);
        return;
    }
    if (!strstr(err.msg, want))
        test_fail(__FILE__, __LINE__, "'%s': error '%s' does not contain '%s'", text, err.msg,
                  want);
}

/* ---- text == macros ------------------------------------------------------------------------ */

TEST(spec_text_mlp_equals_macros) {
    const nn_spec mlp[] = {NN_LINEAR(400), NN_RELU, NN_LINEAR(40), NN_END};
    check_text_equals_macros("linear 400, relu, linear 40", mlp, 3, (int[]){1, 28, 28});
    /* Whitespace (spaces, tabs, newlines) is free around every word and comma. */
    check_text_equals_macros("  linear\t400 ,\n relu,linear 40  ", mlp, 3, (int[]){1, 28, 28});
}

TEST(spec_text_dcgan_discriminator_equals_macros) {
    const nn_spec d[] = {NN_CONV(32, 4, 2, 1), NN_LEAKY_RELU(0.2), NN_CONV(64, 4, 2, 1),
                         NN_BATCHNORM, NN_LEAKY_RELU(0.2), NN_FLATTEN, NN_LINEAR(1), NN_END};
    check_text_equals_macros("conv 32 k4 s2 p1, leaky_relu 0.2, conv 64 k4 s2 p1, batchnorm, "
                             "leaky_relu 0.2, flatten, linear 1",
                             d, 3, (int[]){1, 28, 28});
}

TEST(spec_text_dcgan_generator_equals_macros) {
    const nn_spec g[] = {NN_LINEAR(64 * 7 * 7), NN_RELU, NN_RESHAPE(64, 7, 7),
                         NN_CONVT(32, 4, 2, 1, 0), NN_BATCHNORM, NN_RELU,
                         NN_CONVT(1, 4, 2, 1, 0), NN_SIGMOID, NN_END};
    check_text_equals_macros("linear 3136, relu, reshape 64 7 7, convt 32 k4 s2 p1, batchnorm, "
                             "relu, convt 1 k4 s2 p1, sigmoid",
                             g, 1, (int[]){20});
}

TEST(spec_text_every_other_layer_equals_macros) {
    const nn_spec s[] = {
        NN_CONV(8, 3, 0, 1), NN_ELU(0.5), NN_MAXPOOL(2, 0), NN_AVGPOOL(2, 1),
        NN_CONVT(4, 3, 2, 1, 1), NN_LAYERNORM, NN_TANH, NN_DROPOUT(0.25), NN_SOFTPLUS,
        NN_FLATTEN, {.type = &nn_batchnorm_type, .f = 0.001}, NN_EXP, NN_LEAKY_RELU(0),
        NN_ELU(0), NN_LINEAR(10), NN_END};
    check_text_equals_macros("conv 8 k3 p1, elu 0.5, maxpool k2, avgpool k2 s1, convt 4 k3 s2 p1 "
                             "op1, layernorm, tanh, dropout 0.25, softplus, flatten, "
                             "batchnorm 1e-3, exp, leaky_relu, elu, linear 10",
                             s, 3, (int[]){2, 8, 8});
}

TEST(spec_text_init_keys_equal_macros) {
    const nn_spec s[] = {{.type = &nn_linear_type, .n = 5, .init = NN_INIT_HE},
                         {.type = &nn_linear_type, .n = 5, .init = NN_INIT_XAVIER},
                         {.type = &nn_linear_type, .n = 5, .init = NN_INIT_TORCH},
                         NN_RESHAPE(5, 1, 1),
                         {.type = &nn_conv_type, .n = 2, .k = 3, .p = 1,
                          .init = NN_INIT_NORMAL, .init_std = 0.02},
                         NN_END};
    check_text_equals_macros("linear 5 init=he, linear 5 init=xavier, linear 5 init=torch, "
                             "reshape 5 1 1, conv 2 k3 p1 init=normal:0.02",
                             s, 1, (int[]){4});
}

/* Every built-in type, by its keyword, lands on the right type with the right fields. */
TEST(spec_every_keyword_parses) {
    static const struct { const char *text; const nn_layer_type *type; nn_spec want; } cases[] = {
        {"linear 7", &nn_linear_type, {.n = 7}},
        {"conv 3 k5 s2 p2", &nn_conv_type, {.n = 3, .k = 5, .s = 2, .p = 2}},
        {"convt 3 k4 s2 p1 op1", &nn_convt_type, {.n = 3, .k = 4, .s = 2, .p = 1, .op = 1}},
        {"maxpool k3 s2 p1", &nn_maxpool_type, {.k = 3, .s = 2, .p = 1}},
        {"avgpool k2", &nn_avgpool_type, {.k = 2}},
        {"batchnorm", &nn_batchnorm_type, {0}},
        {"batchnorm 0.01", &nn_batchnorm_type, {.f = 0.01}},
        {"layernorm", &nn_layernorm_type, {0}},
        {"layernorm 1e-6", &nn_layernorm_type, {.f = 1e-6}},
        {"dropout 0.5", &nn_dropout_type, {.f = 0.5}},
        {"dropout .1", &nn_dropout_type, {.f = 0.1}},
        {"flatten", &nn_flatten_type, {0}},
        {"reshape 12", &nn_reshape_type, {.ndim = 1, .shape = {12}}},
        {"reshape 3 4", &nn_reshape_type, {.ndim = 2, .shape = {3, 4}}},
        {"reshape 2 3 4", &nn_reshape_type, {.ndim = 3, .shape = {2, 3, 4}}},
        {"relu", &nn_relu_type, {0}},
        {"leaky_relu", &nn_leaky_relu_type, {0}},
        {"leaky_relu 0.2", &nn_leaky_relu_type, {.f = 0.2}},
        {"elu", &nn_elu_type, {0}},
        {"elu 2", &nn_elu_type, {.f = 2}},
        {"tanh", &nn_tanh_type, {0}},
        {"sigmoid", &nn_sigmoid_type, {0}},
        {"softplus", &nn_softplus_type, {0}},
        {"exp", &nn_exp_type, {0}},
    };
    const nn_layer_type *all[] = {
        &nn_linear_type, &nn_conv_type, &nn_convt_type, &nn_maxpool_type, &nn_avgpool_type,
        &nn_batchnorm_type, &nn_layernorm_type, &nn_dropout_type, &nn_flatten_type,
        &nn_reshape_type, &nn_relu_type, &nn_leaky_relu_type, &nn_elu_type, &nn_tanh_type,
        &nn_sigmoid_type, &nn_softplus_type, &nn_exp_type};
    const int n_cases = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n_cases; i++) {
        nn_spec out[2], want = cases[i].want;
        nn_error err = {{0}};
        want.type = cases[i].type;
        int n = nn_spec_parse(cases[i].text, NULL, out, 2, &err);
        if (n != 1) {
            test_fail(__FILE__, __LINE__, "'%s': %s", cases[i].text, err.msg);
            continue;
        }
        expect_same_spec(&out[0], &want, 0, cases[i].text);
        CHECK(strncmp(cases[i].text, out[0].type->name, strlen(out[0].type->name)) == 0);
    }
    /* ... and the table above covers every built-in type. */
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
        bool seen = false;
        for (int i = 0; i < n_cases; i++) seen |= cases[i].type == all[k];
        if (!seen) test_fail(__FILE__, __LINE__, "no case for '%s'", all[k]->name);
        CHECK(all[k]->usage && strncmp(all[k]->usage, all[k]->name, strlen(all[k]->name)) == 0);
    }
}

/* nn_spec_str writes text that parses back to the same entry. */
TEST(spec_str_round_trips) {
    const char *text = "conv 8 k3 p1, elu 0.5, maxpool k2, avgpool k2 s1 p1, convt 4 k3 s2 p1 op1, "
                       "layernorm, dropout 0.25, batchnorm 0.001, reshape 2 3 4, linear 10, "
                       "leaky_relu, relu";
    nn_spec a[16], b[2];
    nn_error err = {{0}};
    int n = nn_spec_parse(text, NULL, a, 16, &err);
    CHECK(n == 12);
    for (int i = 0; i < n; i++) {
        char buf[96];
        nn_spec_str(&a[i], buf, sizeof buf);
        if (nn_spec_parse(buf, NULL, b, 2, &err) != 1) {
            test_fail(__FILE__, __LINE__, "'%s' does not parse back: %s", buf, err.msg);
            continue;
        }
        expect_same_spec(&b[0], &a[i], i, buf);
    }
}

TEST(spec_reshape_macro_counts_its_dims) {
    const nn_spec one = NN_RESHAPE(10), three = NN_RESHAPE(64, 7, 7);
    CHECK(one.type == &nn_reshape_type && one.ndim == 1 && one.shape[0] == 10);
    CHECK(three.ndim == 3 && three.shape[0] == 64 && three.shape[1] == 7 && three.shape[2] == 7);
    ag_rng r;
    ag_rng_seed(&r, 1);
    nn_error err;
    nn_net *net = nn_net_new((nn_spec[]){NN_RESHAPE(64, 7, 7), NN_END}, 1, (int[]){3136}, &r, &err);
    CHECK(net && net->out_ndim == 3 && net->out_shape[0] == 64 && net->out_shape[2] == 7);
    nn_net_free(net);
    net = nn_net_new((nn_spec[]){NN_RESHAPE(2, 5), NN_FLATTEN, NN_END}, 3, (int[]){1, 2, 5}, &r, &err);
    CHECK(net && net->layers[0].out_ndim == 2 && net->out_ndim == 1 && net->out_shape[0] == 10);
    nn_net_free(net);
}

/* ---- errors in the text: the column (from 1) and what was expected ------------------------ */

TEST(spec_error_unknown_layer) {
    expect_parse_error("linear 4, relu, lineer 3", "spec:17: unknown layer 'lineer' (known: ");
    expect_parse_error("linear 4, relu, lineer 3", "linear, conv, convt, maxpool");
    expect_parse_error("Linear 4", "spec:1: unknown layer 'Linear'"); /* names are lower case */
}

TEST(spec_error_missing_number) {
    expect_parse_error("linear", "spec:7: linear needs a number (usage: linear UNITS");
    expect_parse_error("relu, conv k3", "spec:14: conv needs a number (usage: conv FILTERS");
    expect_parse_error("dropout , relu", "spec:9: dropout needs a number");
    expect_parse_error("reshape", "spec:8: reshape needs a number");
}

TEST(spec_error_bad_number) {
    expect_parse_error("linear 4.5", "spec:8: expected a size (a whole number), got '4.5'");
    expect_parse_error("linear -3", "spec:8: expected a size (a whole number), got '-3'");
    expect_parse_error("dropout 0.5.1", "spec:9: expected a value (a number), got '0.5.1'");
    expect_parse_error("reshape 2 x", "spec:11: unexpected 'x' after reshape");
    expect_parse_error("conv 8 k3.5", "spec:9: expected a size after the key (a whole number), "
                                      "got '3.5'");
}

TEST(spec_error_bad_key) {
    expect_parse_error("conv 8 k3 x2", "spec:11: unknown key 'x2' for conv (usage: conv");
    expect_parse_error("conv 8 k", "spec:8: unknown key 'k' for conv");
    expect_parse_error("maxpool k2 stride2", "spec:12: unknown key 'stride2' for maxpool");
    expect_parse_error("linear 8 k3", "spec:10: unexpected 'k3' after linear (usage: linear");
    expect_parse_error("linear 8 relu", "spec:10: unexpected 'relu' after linear");
}

TEST(spec_error_separators) {
    expect_parse_error("linear 4,", "spec:10: expected a layer name at the end");
    expect_parse_error("linear 4, relu,  ", "spec:18: expected a layer name at the end");
    expect_parse_error("linear 4,, relu", "spec:10: expected a layer name, got ','");
    expect_parse_error(", relu", "spec:1: expected a layer name, got ','");
    expect_parse_error("linear 4; relu", "spec:9: unexpected ';' in 'linear' (layers are "
                                         "separated by commas)");
}

TEST(spec_error_empty) {
    expect_parse_error("", "spec:1: empty spec");
    expect_parse_error(" \t\n", "spec:1: empty spec");
}

TEST(spec_error_too_many_numbers) {
    expect_parse_error("linear 4 5", "spec:10: too many numbers for linear (usage: linear UNITS");
    expect_parse_error("reshape 1 2 3 4", "spec:15: too many numbers for reshape");
    expect_parse_error("relu 2", "spec:6: too many numbers for relu");
    expect_parse_error("maxpool 2", "spec:9: too many numbers for maxpool (usage: maxpool kK");
    expect_parse_error("dropout 0.1 0.2", "spec:13: too many numbers for dropout");
}

TEST(spec_error_bad_init) {
    expect_parse_error("linear 4 init=glorot",
                       "spec:15: unknown init 'glorot' (he, xavier, torch, normal:STD)");
    expect_parse_error("linear 4 init=normal", "spec:15: unknown init 'normal'");
    expect_parse_error("linear 4 init=normal:abc",
                       "spec:22: expected a standard deviation (a number), got 'abc'");
}

TEST(spec_error_too_many_layers) {
    nn_spec out[3];
    nn_error err = {{0}};
    CHECK(nn_spec_parse("relu, relu", NULL, out, 3, &err) == 2);
    CHECK(nn_spec_parse("relu, relu, relu", NULL, out, 3, &err) == -1);
    CHECK(strstr(err.msg, "spec:12: more than 2 layers") != NULL);
}

/* ---- errors in the shapes: layer index, spec and input shape ------------------------------ */

TEST(spec_shape_errors_name_layer_spec_and_shape) {
    EXPECT_BUILD_ERROR("linear 400, relu, conv 32 k4 s2 p1", 1, (int[]){784},
                       "layer 2 (conv 32 k4 s2 p1): input (400): conv needs an image input "
                       "(C, H, W)");
    EXPECT_BUILD_ERROR("reshape 3 3", 1, (int[]){10},
                       "layer 0 (reshape 3 3): input (10): cannot reshape 10 values into (3, 3)");
    EXPECT_BUILD_ERROR("conv 4 k5", 3, (int[]){1, 3, 3},
                       "layer 0 (conv 4 k5): input (1, 3, 3): a 5x5 window with stride 1 and "
                       "padding 0 does not fit a 3x3 image: output would be -1x-1");
    EXPECT_BUILD_ERROR("conv 4 k3, maxpool k2, maxpool k2, maxpool k2", 3, (int[]){1, 6, 6},
                       "layer 3 (maxpool k2): input (4, 1, 1): a 2x2 window");
    EXPECT_BUILD_ERROR("conv 4", 3, (int[]){1, 6, 6},
                       "spec:1: layer 0 (conv 4): input (1, 6, 6): conv needs a kernel size k >= 1");
    EXPECT_BUILD_ERROR("maxpool k2 op1", 3, (int[]){1, 6, 6},
                       "maxpool has no output padding (op1); only convt does");
    EXPECT_BUILD_ERROR("convt 2 k3 s2 op2", 3, (int[]){1, 6, 6},
                       "layer 0 (convt 2 k3 s2 op2): input (1, 6, 6): convt: output padding op2 "
                       "must be in [0, s) with s2");
    EXPECT_BUILD_ERROR("linear 0", 1, (int[]){3}, "layer 0 (linear 0): input (3): linear needs at "
                                                  "least 1 unit");
    EXPECT_BUILD_ERROR("dropout 1", 1, (int[]){3}, "dropout rate must be in [0, 1), got 1");
    /* and a spec error comes out of nn_net_parse unchanged */
    EXPECT_BUILD_ERROR("linear 4,", 1, (int[]){3}, "spec:10: expected a layer name at the end");
}

/* ---- user layer types from the `extra` table ---------------------------------------------- */

static int twice_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    (void)rng, (void)err;
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    return 0;
}
static ag_tensor *twice_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    (void)training;
    return ag_scale(t, x, (ag_real)(l->spec.f ? l->spec.f : 2));
}
static const nn_layer_type twice_type = {.name = "twice", .usage = "twice [FACTOR]",
                                         .arg = NN_ARG_REAL_OPT, .build = twice_build,
                                         .forward = twice_forward};

TEST(spec_extra_layer_types) {
    const nn_layer_type *extra[] = {&twice_type, NULL};
    nn_spec out[4];
    nn_error err = {{0}};
    CHECK(nn_spec_parse("linear 3, twice 3, relu", extra, out, 4, &err) == 3);
    CHECK(out[1].type == &twice_type && out[1].f == 3);
    /* without the table it is unknown, and the error lists the extra names when given */
    expect_parse_error("twice", "spec:1: unknown layer 'twice'");
    CHECK(nn_spec_parse("twise", extra, out, 4, &err) == -1);
    CHECK(strstr(err.msg, "(known: twice, linear, conv") != NULL);
    ag_rng r;
    ag_rng_seed(&r, 1);
    nn_net *net = nn_net_parse("twice 3, twice", 1, (int[]){2}, extra, &r, &err);
    CHECK(net != NULL);
    if (net) {
        ag_tape *t = ag_tape_new(1);
        ag_tensor *y = nn_forward(net, t, ag_ones(t, 2, (int[]){1, 2}), false);
        CHECK(y->data[0] == 6 && y->data[1] == 6);
        ag_tape_free(t);
    }
    nn_net_free(net);
}
