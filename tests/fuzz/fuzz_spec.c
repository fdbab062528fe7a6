/* fuzz_spec.c — libFuzzer target for the spec-text parser (nn/spec.c) and for what follows
 * it in every program: building the parsed network (nn/net.c and the layers' shape
 * inference), on a vector input (16) and an image input (2, 8, 8), then a forward and
 * backward pass on a batch of 2 and an evaluation-mode forward.  One user layer type
 * ("gain", with keys) is passed as `extra`, so that path is parsed too.
 *
 * Spec text comes from command lines, config files and checkpoint headers.  A crash,
 * sanitizer report (e.g. a signed overflow in shape arithmetic), leak or abort here means
 * some text makes a program die instead of printing "spec:COL: ..." or "layer I (...): ...",
 * or makes the caret display (nn_spec_print_error, nn_spec_caret) misbehave.
 * The target also checks three promises: a parsed spec printed back from its fields with
 * nn_spec_str and parsed again gives the same layers; a failed build says which layer; and a network that
 * builds runs (an ag_error in forward would mean the build accepted a geometry that the
 * ops reject) with the output shape the build announced.
 *
 * Sizes: a spec may legitimately ask for a billion weights.  The target builds only nets
 * whose parameters, estimated layer by layer from the shapes the library itself inferred,
 * stay under PARAM_BUDGET, and runs forward only under WORK_BUDGET; that keeps every
 * execution fast without hiding overflows in shape inference (shapes cost nothing). */
#include "tests/fuzz/fuzz_common.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_SPEC = 256, MAX_BUILD_LAYERS = 32 };
#define PARAM_BUDGET 50000.0 /* parameter values of a net the target builds */
#define WORK_BUDGET 200000.0 /* rough multiply-adds per example for the forward pass */

/* ---- a user layer type: y = gain * x ---------------------------------------------------- */

static int gain_build(nn_layer *l, ag_rng *rng, nn_error *err) {
    (void)rng, (void)err;
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    return 0;
}
static ag_tensor *gain_forward(nn_layer *l, ag_tape *t, ag_tensor *x, bool training) {
    (void)training;
    return ag_scale(t, x, (ag_real)(l->spec.f ? l->spec.f : 1));
}
static const nn_layer_type gain_type = {.name = "gain", .usage = "gain [FACTOR] [kK]",
                                        .arg = NN_ARG_REAL_OPT, .keys = true,
                                        .build = gain_build, .forward = gain_forward};
static const nn_layer_type *const extra[] = {&gain_type, NULL};

/* ---- promise 1: printing and re-parsing gives the same layers ----------------------------- */

static void check_round_trip(const nn_spec *spec, int n) {
    size_t cap = (size_t)n * 160 + 1, k = 0;
    char *text = malloc(cap);
    nn_spec *again = calloc(MAX_SPEC, sizeof *again);
    if (!text || !again) abort();
    text[0] = 0;
    for (int i = 0; i < n; i++) {
        char one[128];
        nn_spec fields = spec[i];
        fields.text = NULL; /* printed from its fields, not the text it was parsed from */
        k += (size_t)snprintf(text + k, cap - k, "%s%s", i ? ", " : "",
                              nn_spec_str(&fields, one, sizeof one));
    }
    nn_error err;
    if (nn_spec_parse(text, extra, again, MAX_SPEC, &err) != n) {
        fprintf(stderr, "round trip: '%s' does not parse back: %s\n", text, err.msg);
        __builtin_trap();
    }
    for (int i = 0; i < n; i++) {
        const nn_spec *a = &spec[i], *b = &again[i];
        bool same = a->type == b->type && a->n == b->n && a->k == b->k && a->s == b->s &&
                    a->p == b->p && a->op == b->op && a->ndim == b->ndim;
        for (int d = 0; same && d < a->ndim; d++) same = a->shape[d] == b->shape[d];
        if (!same) {
            fprintf(stderr, "round trip: layer %d of '%s' changed\n", i, text);
            __builtin_trap();
        }
    }
    free(again);
    free(text);
}

/* ---- budgets ---------------------------------------------------------------------------- */

static double prod(int ndim, const int *shape) {
    double p = 1;
    for (int i = 0; i < ndim; i++) p *= shape[i];
    return p;
}

/* Parameter values the layer would create on this input (an over-estimate is fine). */
static double layer_params(const nn_spec *s, int ndim, const int *shape) {
    double in = prod(ndim, shape), C = ndim == 3 ? shape[0] : in, k2 = (double)s->k * s->k;
    if (s->type == &nn_linear_type) return (in + 1) * s->n;
    if (s->type == &nn_conv_type || s->type == &nn_convt_type) return (C + 1) * s->n * k2;
    if (s->type == &nn_batchnorm_type) return 4 * in;
    if (s->type == &nn_layernorm_type) return 2 * in;
    return 0;
}

/* ---- promise 3: a net that builds runs ------------------------------------------------------ */

static void run_forward(nn_net *net) {
    ag_tape *t = ag_tape_new(3);
    int shape[AG_MAX_DIMS] = {2};
    memcpy(shape + 1, net->in_shape, sizeof(int) * (size_t)net->in_ndim);
    for (int training = 1; training >= 0; training--) {
        ag_tensor *x = ag_randn(t, net->in_ndim + 1, shape, 1);
        ag_tensor *y = nn_forward(net, t, x, training);
        bool ok = y->ndim == net->out_ndim + 1 && y->shape[0] == 2;
        for (int d = 0; ok && d < net->out_ndim; d++) ok = y->shape[d + 1] == net->out_shape[d];
        if (!ok) __builtin_trap();
        if (training && y->requires_grad) ag_backward(t, ag_sum(t, y)); /* a net of weights */
        ag_tape_clear(t);
    }
    ag_tape_free(t);
}

/* Builds the net layer by layer (each prefix is built by the library, so the budget sees
 * the shapes the library infers), then runs it if it is cheap enough. */
static void build_and_run(nn_spec *spec, int n, int in_ndim, const int *in_shape) {
    ag_rng rng;
    ag_rng_seed(&rng, 7);
    int ndim = in_ndim, shape[NN_MAX_SHAPE];
    memcpy(shape, in_shape, sizeof(int) * (size_t)in_ndim);
    double params = 0, work = 0;
    nn_net *net = NULL;
    for (int i = 0; i < n; i++) {
        params += layer_params(&spec[i], ndim, shape);
        if (params > PARAM_BUDGET) {
            nn_net_free(net);
            return;
        }
        nn_spec next = spec[i + 1];
        spec[i + 1] = (nn_spec){0}; /* the prefix spec[0..i] */
        nn_net_free(net);
        nn_error err;
        net = nn_net_new(spec, in_ndim, in_shape, &rng, &err);
        spec[i + 1] = next;
        if (!net) { /* promise 2: the error names the layer (this one: the others built) */
            char want[32];
            snprintf(want, sizeof want, "layer %d (", i);
            if (strncmp(err.msg, want, strlen(want)) != 0) {
                fprintf(stderr, "build error without its layer: %s\n", err.msg);
                __builtin_trap();
            }
            return;
        }
        const nn_layer *l = &net->layers[i];
        double in = prod(l->in_ndim, l->in_shape), out = prod(l->out_ndim, l->out_shape);
        double pix_in = l->in_ndim == 3 ? in / l->in_shape[0] : 1;
        double pix_out = l->out_ndim == 3 ? out / l->out_shape[0] : 1;
        double p = layer_params(&spec[i], l->in_ndim, l->in_shape);
        double k2 = spec[i].type->keys ? (double)spec[i].k * spec[i].k : 1;
        work += p * (pix_in > pix_out ? pix_in : pix_out) + out * (k2 > 1 ? k2 : 1) + in;
        ndim = l->out_ndim;
        memcpy(shape, l->out_shape, sizeof shape);
    }
    if (!net) return;
    if (net->n_layers != n || net->out_ndim != ndim) __builtin_trap();
    char out[2048];
    FILE *f = fmemopen(out, sizeof out, "w"); /* the summary table; overflow is dropped */
    if (!f) abort();
    nn_describe(net, "fuzz", f);
    fclose(f);
    if (work <= WORK_BUDGET) run_forward(net);
    nn_net_free(net);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    nn_spec *spec = calloc(MAX_SPEC, sizeof *spec);
    if (!text || !spec) abort();
    memcpy(text, data, size);
    text[size] = 0; /* an embedded NUL just ends the text early */

    nn_error err;
    int n = nn_spec_parse(text, extra, spec, MAX_SPEC, &err);
    if (n < 0) {
        if (strncmp(err.msg, "spec:", 5) != 0) __builtin_trap(); /* "spec:COL: ..." */
        /* the caret display every program prints: any text, any column */
        char shown[4096];
        FILE *f = fmemopen(shown, sizeof shown, "w");
        if (!f) abort();
        nn_spec_print_error(f, "fuzz: --net", text, err.msg);
        nn_spec_caret(f, text, (int)(size % 300));
        fclose(f);
    } else {
        if (n < 1 || n >= MAX_SPEC || spec[n].type) __builtin_trap();
        check_round_trip(spec, n);
        if (n <= MAX_BUILD_LAYERS) {
            build_and_run(spec, n, 1, (int[]){16});
            build_and_run(spec, n, 3, (int[]){2, 8, 8});
        }
    }
    free(spec);
    free(text);
    return 0;
}
