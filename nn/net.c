/* net.c — sequential networks built from specs: shape inference layer by layer, default
 * initialisation, the memory estimate that refuses a net too large before allocating it,
 * the forward pass, and the summary table (which shows each layer as the user typed it). */
#include "nn/layer.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *nn_shape_str(int ndim, const int *shape, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? ", %d" : "%d", shape[i]);
    if (k < n) snprintf(buf + k, n - k, ")");
    return buf;
}

const char *nn_spec_str(const nn_spec *s, char *buf, size_t n) {
    if (s->text && s->text_len > 0) { /* what the user typed */
        snprintf(buf, n, "%.*s", s->text_len, s->text);
        return buf;
    }
    const nn_layer_type *ty = s->type;
    size_t k = (size_t)snprintf(buf, n, "%s", ty->name);
#define ADD(...) do { if (k < n) k += (size_t)snprintf(buf + k, n - k, __VA_ARGS__); } while (0)
    switch (ty->arg) {
    case NN_ARG_INT: ADD(" %d", s->n); break;
    case NN_ARG_REAL: ADD(" %g", s->f); break;
    case NN_ARG_REAL_OPT: if (s->f != 0) ADD(" %g", s->f); break;
    case NN_ARG_SHAPE: for (int i = 0; i < s->ndim; i++) ADD(" %d", s->shape[i]); break;
    case NN_ARG_NONE: break;
    }
    if (ty->keys) {
        if (s->k) ADD(" k%d", s->k);
        if (s->s) ADD(" s%d", s->s);
        if (s->p) ADD(" p%d", s->p);
        if (s->op) ADD(" op%d", s->op);
    }
    switch (s->init) {
    case NN_INIT_AUTO: break;
    case NN_INIT_HE: ADD(" init=he"); break;
    case NN_INIT_XAVIER: ADD(" init=xavier"); break;
    case NN_INIT_TORCH: ADD(" init=torch"); break;
    case NN_INIT_NORMAL: ADD(" init=normal:%g", s->init_std); break;
    }
#undef ADD
    return buf;
}

ag_tensor *nn_layer_param(nn_layer *l, const char *name, int ndim, const int *shape,
                          bool trainable) {
    ag_tensor *x = ag_tensor_new(ndim, shape, trainable);
    nn_params_add(&l->params, NULL, name, x, trainable);
    return x;
}

void nn_init_weight(const nn_layer *l, ag_tensor *w, int fan_in, int fan_out, ag_rng *rng) {
    switch (l->init) {
    case NN_INIT_HE: ag_fill_randn(rng, w, (ag_real)sqrt(2.0 / fan_in)); break;
    case NN_INIT_NORMAL: ag_fill_randn(rng, w, (ag_real)l->spec.init_std); break;
    case NN_INIT_TORCH: {
        ag_real a = (ag_real)(1 / sqrt((double)fan_in));
        ag_fill_uniform(rng, w, -a, a);
        break;
    }
    case NN_INIT_XAVIER:
    case NN_INIT_AUTO: {
        ag_real a = (ag_real)sqrt(6.0 / (fan_in + fan_out));
        ag_fill_uniform(rng, w, -a, a);
        break;
    }
    }
}

void nn_init_bias(const nn_layer *l, ag_tensor *b, int fan_in, ag_rng *rng) {
    if (l->init == NN_INIT_TORCH) {
        ag_real a = (ag_real)(1 / sqrt((double)fan_in));
        ag_fill_uniform(rng, b, -a, a);
    } else {
        ag_fill(b, 0);
    }
}

/* NN_INIT_AUTO: look at the next activation after this layer, passing over the layers whose
 * type says they are transparent to it (norms, dropout). */
static nn_init resolve_init(const nn_spec *spec, int i) {
    if (spec[i].init != NN_INIT_AUTO) return spec[i].init;
    for (int j = i + 1; spec[j].type; j++) {
        const nn_layer_type *ty = spec[j].type;
        if (ty->init_transparent) continue;
        return ty->is_activation && ty->relu_like ? NN_INIT_HE : NN_INIT_XAVIER;
    }
    return NN_INIT_XAVIER;
}

/* Layers compute with per-example sizes in int (a flatten multiplies its input's dims), so
 * every shape that reaches a layer — the net's input and each layer's output — has dims of
 * at least 1 and at most INT_MAX values in all.  Returns the number of values, or 0 for an
 * empty shape and -1 for one that is too large. */
static long long shape_values(int ndim, const int *shape) {
    long long n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1) return 0;
        n *= shape[i]; /* both factors < 2^31: no overflow before the test */
        if (n > INT_MAX) return -1;
    }
    return n;
}

/* After a layer's build: its output obeys the rule above, so the next layer may rely on it
 * (on an 8x8 image, "convt 1 k1 s40000" would otherwise hand a flatten 7.8e10 values to
 * count in int). */
static int check_output(const nn_layer *l, nn_error *err) {
    char s[64];
    if (l->out_ndim < 1 || l->out_ndim > NN_MAX_SHAPE)
        return nn_fail(err, "output has %d dims (1 to %d allowed)", l->out_ndim, NN_MAX_SHAPE);
    long long v = shape_values(l->out_ndim, l->out_shape);
    if (v == 0)
        return nn_fail(err, "output %s has an empty dimension",
                       nn_shape_str(l->out_ndim, l->out_shape, s, sizeof s));
    if (v < 0)
        return nn_fail(err, "output %s has more than %d values per example",
                       nn_shape_str(l->out_ndim, l->out_shape, s, sizeof s), INT_MAX);
    return 0;
}

void nn_net_free(nn_net *net) {
    if (!net) return;
    for (int i = 0; i < net->n_layers; i++) {
        nn_layer *l = &net->layers[i];
        if (l->type && l->type->free_state) l->type->free_state(l);
        for (int k = 0; k < l->params.n; k++) ag_tensor_free(l->params.items[k].value);
        nn_params_free(&l->params);
        free(l->text);
    }
    nn_params_free(&net->params);
    free(net->layers);
    free(net);
}

/* ---- the memory estimate -------------------------------------------------------------- */

/* The limit in bytes: HENBUN_NET_MEMORY_MAX ("8G", "500M", "1e10") or NN_NET_MEMORY_MAX.
 * A value that does not parse is ignored (the default holds). */
static double memory_limit(void) {
    const char *e = getenv("HENBUN_NET_MEMORY_MAX");
    if (!e || !*e) return NN_NET_MEMORY_MAX;
    char *end;
    double v = strtod(e, &end);
    double unit = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K': unit = 1024.0, end++; break;
    case 'M': unit = 1024.0 * 1024, end++; break;
    case 'G': unit = 1024.0 * 1024 * 1024, end++; break;
    case 'T': unit = 1024.0 * 1024 * 1024 * 1024, end++; break;
    default: break;
    }
    if (toupper((unsigned char)*end) == 'B') end++;
    if (*end || !(v > 0) || !isfinite(v)) return NN_NET_MEMORY_MAX;
    return v * unit;
}

/* Parameters a built-in layer with many of them will create, from its spec and input alone
 * (before build allocates them); -1 for other types, counted after their build. */
static double params_before_build(const nn_layer *l) {
    double in = 1;
    for (int i = 0; i < l->in_ndim; i++) in *= l->in_shape[i];
    const nn_spec *s = &l->spec;
    if (l->type == &nn_linear_type) return in * s->n + s->n;
    if (l->type == &nn_conv_type || l->type == &nn_convt_type)
        return (double)l->in_shape[0] * s->n * s->k * s->k + s->n;
    return -1;
}

static double estimate_bytes(double params, double activations) {
    return (4 * params + 2.0 * NN_NET_MEMORY_BATCH * activations) * sizeof(ag_real);
}

/* "3.2 GB" */
static const char *bytes_str(double b, char *buf, size_t n) {
    const char *unit[] = {"bytes", "KB", "MB", "GB", "TB", "PB"};
    int u = 0;
    while (b >= 1024 && u < 5) b /= 1024, u++;
    snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
    return buf;
}

static int too_large(nn_error *err, double params, double activations, double limit) {
    char need[32], lim[32];
    return nn_fail(err, "the network up to here would need about %s (%.3g parameters, each "
                   "with a gradient and Adam's two moments, and the activations of a batch "
                   "of %d), above the limit of %s; HENBUN_NET_MEMORY_MAX=BYTES raises it",
                   bytes_str(estimate_bytes(params, activations), need, sizeof need), params,
                   NN_NET_MEMORY_BATCH, bytes_str(limit, lim, sizeof lim));
}

/* nn_net_new, also telling which layer failed (*bad; -1 for the input), for nn_net_parse's
 * column. */
static nn_net *net_build(const nn_spec *spec, int in_ndim, const int *in_shape, ag_rng *rng,
                         nn_error *err, int *bad) {
    char a[64], b[96];
    *bad = -1;
    if (in_ndim < 1 || in_ndim > NN_MAX_SHAPE) {
        nn_fail(err, "network input must have 1 to %d dims per example, got %d", NN_MAX_SHAPE,
                in_ndim);
        return NULL;
    }
    if (shape_values(in_ndim, in_shape) < 1) {
        nn_fail(err, "network input %s: every dimension must be at least 1 and an example at "
                "most %d values", nn_shape_str(in_ndim, in_shape, a, sizeof a), INT_MAX);
        return NULL;
    }
    int n = 0;
    while (spec[n].type) n++;
    nn_net *net = calloc(1, sizeof *net);
    if (!net || !(net->layers = calloc((size_t)(n ? n : 1), sizeof *net->layers)))
        ag_error("net_new", "out of memory");
    net->n_layers = n;
    net->in_ndim = in_ndim;
    memcpy(net->in_shape, in_shape, sizeof(int) * (size_t)in_ndim);
    int ndim = in_ndim, shape[NN_MAX_SHAPE];
    memcpy(shape, in_shape, sizeof(int) * (size_t)in_ndim);
    double limit = memory_limit(), params = 0;
    double activations = (double)shape_values(in_ndim, in_shape);
    for (int i = 0; i < n; i++) {
        nn_layer *l = &net->layers[i];
        l->type = spec[i].type;
        l->spec = spec[i];
        l->spec.text = NULL; /* the caller's string; the layer keeps its own copy */
        if (spec[i].text && spec[i].text_len > 0) {
            l->text = strndup(spec[i].text, (size_t)spec[i].text_len);
            if (!l->text) ag_error("net_new", "out of memory");
            l->spec.text = l->text;
        }
        l->index = i;
        l->init = resolve_init(spec, i);
        l->in_ndim = ndim;
        memcpy(l->in_shape, shape, sizeof shape);
        nn_error inner = {"layer build failed without a message"};
        double guess = params_before_build(l);
        int rc = guess >= 0 && estimate_bytes(params + guess, activations) > limit
                     ? too_large(&inner, params + guess, activations, limit)
                     : 0;
        if (rc == 0) rc = l->type->build(l, rng, &inner) != 0 || check_output(l, &inner) != 0;
        if (rc == 0) {
            params += (double)nn_params_count(&l->params);
            activations += (double)shape_values(l->out_ndim, l->out_shape);
            if (estimate_bytes(params, activations) > limit)
                rc = too_large(&inner, params, activations, limit);
        }
        if (rc) {
            nn_fail(err, "layer %d (%s): input %s: %s", i, nn_spec_str(&l->spec, b, sizeof b),
                    nn_shape_str(ndim, shape, a, sizeof a), inner.msg);
            *bad = i;
            nn_net_free(net);
            return NULL;
        }
        ndim = l->out_ndim;
        memcpy(shape, l->out_shape, sizeof shape);
        char prefix[48];
        snprintf(prefix, sizeof prefix, "%d.%s", i, l->type->name);
        int first = net->params.n;
        nn_params_extend(&net->params, prefix, &l->params);
        /* tensors carry their full name too, for gradcheck reports and shape errors */
        for (int k = first; k < net->params.n; k++)
            if (!net->params.items[k].value->name)
                net->params.items[k].value->name = net->params.items[k].name;
    }
    net->out_ndim = ndim;
    memcpy(net->out_shape, shape, sizeof shape);
    return net;
}

nn_net *nn_net_new(const nn_spec *spec, int in_ndim, const int *in_shape, ag_rng *rng,
                   nn_error *err) {
    int bad;
    return net_build(spec, in_ndim, in_shape, rng, err, &bad);
}

nn_net *nn_net_parse(const char *text, int in_ndim, const int *in_shape,
                     const nn_layer_type *const *extra, ag_rng *rng, nn_error *err) {
    enum { MAX_LAYERS = 256 };
    nn_spec *spec = calloc(MAX_LAYERS, sizeof *spec);
    if (!spec) ag_error("net_parse", "out of memory");
    nn_net *net = NULL;
    int bad = -1;
    if (nn_spec_parse(text, extra, spec, MAX_LAYERS, err) >= 0) {
        net = net_build(spec, in_ndim, in_shape, rng, err, &bad);
        if (!net && err && bad >= 0 && spec[bad].text) { /* "spec:COL: layer 2 (...): ..." */
            nn_error e = *err;
            int c = 1;
            for (const char *q = text; q < spec[bad].text; q++) c += ((unsigned char)*q & 0xC0) != 0x80;
            nn_fail(err, "spec:%d: %s", c, e.msg);
        }
    }
    free(spec);
    return net;
}

int nn_net_out_size(const nn_net *net) {
    int s = 1;
    for (int i = 0; i < net->out_ndim; i++) s *= net->out_shape[i];
    return s;
}

ag_tensor *nn_forward(nn_net *net, ag_tape *t, ag_tensor *x, bool training) {
    return nn_forward_to(net, t, x, training, net->n_layers);
}

ag_tensor *nn_forward_to(nn_net *net, ag_tape *t, ag_tensor *x, bool training, int n_layers) {
    if (n_layers < 0 || n_layers > net->n_layers)
        ag_error("nn_forward_to", "n_layers %d is not in 0..%d", n_layers, net->n_layers);
    /* The batch is x's first dimension; the rest must be the net's input shape (any
     * layout with the same number of values is accepted and viewed as that shape). */
    size_t per = 1;
    for (int i = 0; i < net->in_ndim; i++) per *= (size_t)net->in_shape[i];
    if (x->ndim < 2 || x->size != (size_t)x->shape[0] * per) {
        char a[64], b[64];
        ag_error("nn_forward", "input %s does not fit the network's input (N, %s)",
                 ag_shape_str(x, a, sizeof a),
                 nn_shape_str(net->in_ndim, net->in_shape, b, sizeof b) + 1);
    }
    if (x->ndim != net->in_ndim + 1 || memcmp(x->shape + 1, net->in_shape,
                                              sizeof(int) * (size_t)net->in_ndim) != 0) {
        int shape[AG_MAX_DIMS] = {x->shape[0]};
        memcpy(shape + 1, net->in_shape, sizeof(int) * (size_t)net->in_ndim);
        x = ag_reshape(t, x, net->in_ndim + 1, shape);
    }
    for (int i = 0; i < n_layers; i++) {
        nn_layer *l = &net->layers[i];
        ag_tensor *y = NULL;   /* a layer that takes the next one into its op (layer.h) */
        if (l->type->forward_with_next && i + 1 < n_layers)
            y = l->type->forward_with_next(l, &net->layers[i + 1], t, x, training);
        if (y)
            i++;
        else
            y = l->type->forward(l, t, x, training);
        x = y;
    }
    return x;
}

void nn_describe(const nn_net *net, const char *title, FILE *f) {
    char a[64], b[96];
    fprintf(f, "%s\n", title ? title : "network");
    fprintf(f, "  %-3s %-28s %-18s %10s\n", "#", "layer", "output", "params");
    fprintf(f, "  %-3s %-28s %-18s %10s\n", "", "input", nn_shape_str(net->in_ndim, net->in_shape, a, sizeof a), "");
    size_t total = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const nn_layer *l = &net->layers[i];
        size_t p = nn_params_count(&l->params);
        total += p;
        fprintf(f, "  %-3d %-28s %-18s %10zu\n", i, nn_spec_str(&l->spec, b, sizeof b),
                nn_shape_str(l->out_ndim, l->out_shape, a, sizeof a), p);
    }
    fprintf(f, "  total trainable parameters: %zu\n", total);
}
