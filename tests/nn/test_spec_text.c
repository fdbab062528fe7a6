/* test_spec_text.c — spec text as the user typed it: nn_describe and build errors quote
 * each layer's own text (not one rebuilt from its fields), columns count UTF-8 characters
 * and non-ASCII words are quoted whole, the caret display (nn_spec_caret,
 * nn_spec_print_error) points at the column, and the memory estimate refuses a net too
 * large before allocating it. */
#define _GNU_SOURCE /* open_memstream is POSIX 2008, getrusage's ru_maxrss */
#include "tests/test.h"
#include "nn/layer.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* A user layer with keys, like one a program adds: "maxout N [kK]" keeps its input shape. */
static int maxout_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    (void)rng;
    if (l->spec.k < 0) return nn_fail(err, "maxout needs k >= 0");
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    if (l->spec.n > 8) return nn_fail(err, "maxout takes at most 8 pieces, got %d", l->spec.n);
    return 0;
}
static ag_tensor *maxout_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    (void)l, (void)t, (void)training;
    return x;
}
static const nn_layer_type maxout_type = {
    .name = "maxout", .usage = "maxout PIECES [kK]", .arg = NN_ARG_INT, .keys = true,
    .build = maxout_build, .forward = maxout_forward};
static const nn_layer_type *const extra[] = {&maxout_type, NULL};

/* What f wrote, via open_memstream. */
typedef struct { FILE *f; char *buf; size_t len; } capture;
static void cap_open(capture *c) { c->buf = NULL, c->len = 0, c->f = open_memstream(&c->buf, &c->len); }
static const char *cap_close(capture *c) { fclose(c->f); return c->buf; }

TEST(spec_describe_shows_the_text_typed) {
    ag_rng r;
    ag_rng_seed(&r, 1);
    nn_error err = {{0}};
    const char *text = "maxout 2,  linear   4 init=he , relu";
    nn_net *net = nn_net_parse(text, 1, (int[]){3}, extra, &r, &err);
    CHECK(net != NULL);
    if (!net) return;
    capture c;
    cap_open(&c);
    nn_describe(net, "net", c.f);
    const char *out = cap_close(&c);
    CHECK(strstr(out, " maxout 2 ") != NULL);             /* not "maxout 2 k0" */
    CHECK(strstr(out, "k0") == NULL);
    CHECK(strstr(out, " linear   4 init=he ") != NULL);    /* spaces and keys as typed */
    if (!strstr(out, " maxout 2 ") || !strstr(out, "linear   4 init=he"))
        test_fail(__FILE__, __LINE__, "describe printed:\n%s", out);
    free(c.buf);
    nn_net_free(net);
    /* a spec written in C is described from its fields, without keys left at 0 */
    net = nn_net_new((nn_spec[]){{.type = &maxout_type, .n = 3}, NN_LINEAR(2), NN_END}, 1,
                     (int[]){3}, &r, &err);
    CHECK(net != NULL);
    cap_open(&c);
    nn_describe(net, NULL, c.f);
    out = cap_close(&c);
    CHECK(strstr(out, " maxout 3 ") != NULL && strstr(out, "k0") == NULL);
    free(c.buf);
    nn_net_free(net);
}

TEST(spec_build_errors_quote_the_text_and_its_column) {
    ag_rng r;
    ag_rng_seed(&r, 1);
    nn_error err = {{0}};
    nn_net *net = nn_net_parse("relu,  maxout 9", 1, (int[]){3}, extra, &r, &err);
    CHECK(net == NULL);
    if (!strstr(err.msg, "spec:8: layer 1 (maxout 9): input (3): maxout takes at most 8"))
        test_fail(__FILE__, __LINE__, "message: %s", err.msg);
    nn_net_free(net);
}

TEST(spec_non_ascii_words_are_quoted_whole) {
    nn_spec out[8];
    nn_error err = {{0}};
    CHECK(nn_spec_parse("linear 4, linéar 3", NULL, out, 8, &err) == -1);
    if (!strstr(err.msg, "spec:11: unknown layer 'linéar' (a non-ASCII letter"))
        test_fail(__FILE__, __LINE__, "message: %s", err.msg);
    /* columns count characters: a two-byte "ü" is one column */
    CHECK(nn_spec_parse("relu, dropout 0.5 ü", NULL, out, 8, &err) == -1);
    if (!strstr(err.msg, "spec:19: unexpected 'ü' after dropout"))
        test_fail(__FILE__, __LINE__, "message: %s", err.msg);
    CHECK(nn_spec_parse("linear 4é", NULL, out, 8, &err) == -1);
    if (!strstr(err.msg, "spec:8: expected a size (a whole number), got '4é'"))
        test_fail(__FILE__, __LINE__, "message: %s", err.msg);
    CHECK(nn_spec_parse("日本, relu", NULL, out, 8, &err) == -1);
    if (!strstr(err.msg, "spec:1: unknown layer '日本'"))
        test_fail(__FILE__, __LINE__, "message: %s", err.msg);
}

TEST(spec_caret_points_at_the_column) {
    capture c;
    cap_open(&c);
    nn_spec_caret(c.f, "linear 4, relu, lineer 3", 17);
    const char *out = cap_close(&c);
    CHECK(strcmp(out, "  linear 4, relu, lineer 3\n                  ^\n") == 0);
    free(c.buf);
    /* after a two-byte character the caret still sits under the 4th character */
    cap_open(&c);
    nn_spec_caret(c.f, "é, lineer", 4);
    out = cap_close(&c);
    CHECK(strcmp(out, "  é, lineer\n     ^\n") == 0);
    free(c.buf);
    /* a tab stays a tab under it; a column past the end points just after the text */
    cap_open(&c);
    nn_spec_caret(c.f, "\tlinear", 8);
    out = cap_close(&c);
    CHECK(strcmp(out, "  \tlinear\n  \t      ^\n") == 0);
    free(c.buf);
    /* a long line: a window around the column, marked with "..." */
    char lng[400];
    memset(lng, 'a', 399);
    lng[399] = 0;
    lng[299] = 'X';
    cap_open(&c);
    nn_spec_caret(c.f, lng, 300);
    out = cap_close(&c);
    const char *nl = strchr(out, '\n');
    CHECK(nl && nl - out < 120 && strncmp(out, "  ...", 5) == 0);
    if (nl) {
        const char *caret = strchr(nl + 1, '^');
        long at = caret ? (long)(caret - (nl + 1)) : -1;
        CHECK(at >= 0 && out[at] == 'X'); /* the character above the caret is column 300 */
    }
    free(c.buf);
    /* nn_spec_print_error: the message, then the display when the message has a column */
    cap_open(&c);
    nn_spec_print_error(c.f, "vae: --net", "linear 4, lineer", "spec:11: unknown layer 'lineer'");
    out = cap_close(&c);
    CHECK(strcmp(out, "vae: --net: spec:11: unknown layer 'lineer'\n  linear 4, lineer\n"
                      "            ^\n") == 0);
    free(c.buf);
    cap_open(&c);
    nn_spec_print_error(c.f, NULL, "x", "no column here");
    out = cap_close(&c);
    CHECK(strcmp(out, "no column here\n") == 0);
    free(c.buf);
}

static long max_rss_kb(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

TEST(spec_too_large_net_fails_fast_naming_the_layer) {
    ag_rng r;
    ag_rng_seed(&r, 1);
    nn_error err = {{0}};
    long rss = max_rss_kb();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nn_net *net = nn_net_parse("linear 1000000, linear 1000000", 1, (int[]){784}, NULL, &r, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    CHECK(net == NULL);
    nn_net_free(net);
    if (!strstr(err.msg, "spec:1: layer 0 (linear 1000000): input (784): the network up to "
                         "here would need about") ||
        !strstr(err.msg, "above the limit of 4.0 GB; HENBUN_NET_MEMORY_MAX"))
        test_fail(__FILE__, __LINE__, "message: %s", err.msg);
    CHECK(sec < 1.0);
    CHECK(max_rss_kb() - rss < 64 * 1024); /* nothing near the 3 GB of weights was touched */
    /* the limit from the environment, with a unit */
    setenv("HENBUN_NET_MEMORY_MAX", "1M", 1);
    net = nn_net_parse("linear 400", 1, (int[]){784}, NULL, &r, &err); /* 314k parameters */
    CHECK(net == NULL && strstr(err.msg, "above the limit of 1.0 MB") != NULL);
    nn_net_free(net);
    setenv("HENBUN_NET_MEMORY_MAX", "16MB", 1);
    net = nn_net_parse("linear 400", 1, (int[]){784}, NULL, &r, &err);
    CHECK(net != NULL);
    nn_net_free(net);
    /* a layer type counted after its build: its activations count too */
    setenv("HENBUN_NET_MEMORY_MAX", "100K", 1);
    net = nn_net_parse("maxout 2", 1, (int[]){100000}, extra, &r, &err);
    CHECK(net == NULL && strstr(err.msg, "layer 0 (maxout 2)") != NULL);
    nn_net_free(net);
    unsetenv("HENBUN_NET_MEMORY_MAX");
    net = nn_net_parse("maxout 2", 1, (int[]){100000}, extra, &r, &err);
    CHECK(net != NULL);
    nn_net_free(net);
}
