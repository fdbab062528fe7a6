/* layer.h — layers, declarative specs and sequential networks.
 *
 * A network is data: an array of specs (or the same thing as text) and an input shape.
 *
 * Example (compiled by make test: tests/programs/header_examples.sh):
 *   static const nn_spec mlp[] = { NN_LINEAR(400), NN_RELU, NN_LINEAR(40), NN_END };
 *   nn_net *enc = nn_net_new(mlp, 3, (int[]){1, 28, 28}, &rng, &err);
 *   nn_net *dec = nn_net_parse("linear 400, relu, linear 784", 1, (int[]){20}, NULL, &rng, &err);
 *   ag_tensor *h = nn_forward(enc, tape, x, true);            // x (N, 1, 28, 28) -> (N, 40)
 *
 * Shapes are inferred layer by layer from the input shape; a spec that cannot fit its input
 * is reported with the layer's index, its spec and both shapes.  Shapes here are per
 * example (no batch dimension): (D) for vectors, (C, H, W) for images.
 *
 * A layer type is one small struct of functions; adding a layer means writing one file
 * that defines an nn_layer_type (see docs/add-a-layer.md).  Built-in types are listed at
 * the end of this header. */
#ifndef HENBUN_NN_LAYER_H
#define HENBUN_NN_LAYER_H

#include <stdio.h>

#include "autograd/autograd.h"
#include "nn/error.h"
#include "nn/params.h"

#ifdef __cplusplus
#include <initializer_list> /* NN_RESHAPE counts its arguments with one under C++ */
#endif

HENBUN_BEGIN_DECLS

#define NN_MAX_SHAPE 3 /* per-example dims: (D) or (C, H, W) */

typedef struct nn_layer nn_layer;
typedef struct nn_layer_type nn_layer_type;

/* Weight initialisation.  NN_INIT_AUTO picks He for a layer followed by a ReLU-family
 * activation and Glorot (Xavier) otherwise; biases start at 0. */
typedef enum {
    NN_INIT_AUTO = 0,
    NN_INIT_HE,      /* N(0, 2/fan_in): keeps activation variance through ReLUs */
    NN_INIT_XAVIER,  /* U(±sqrt(6/(fan_in+fan_out))): for tanh/sigmoid/linear outputs */
    NN_INIT_NORMAL,  /* N(0, init_std²), e.g. 0.02 for DCGAN */
    NN_INIT_TORCH,   /* U(±1/sqrt(fan_in)) for weights and biases: PyTorch's default */
} nn_init;

/* One entry of a spec.  Which fields a type reads is listed with its macro below. */
typedef struct nn_spec {
    const nn_layer_type *type;  /* NULL ends a spec array (NN_END) */
    int n;                      /* units, filters, channels */
    int k, s, p, op;            /* kernel, stride, padding, output padding */
    double f;                   /* slope, alpha, dropout rate, epsilon, ... */
    int ndim, shape[NN_MAX_SHAPE]; /* reshape target */
    nn_init init;
    double init_std;            /* for NN_INIT_NORMAL */
    /* Set by nn_spec_parse: this entry's text as the user typed it ("maxpool 2"), pointing
     * into the parsed string (text_len bytes, not NUL-terminated).  NULL in a spec written
     * in C; a net copies it, so the string need not outlive nn_net_new. */
    const char *text;
    int text_len;
} nn_spec;

struct nn_layer_type {
    const char *name;           /* its keyword in spec text, e.g. "linear" */
    const char *usage;          /* spec-text form, e.g. "linear UNITS [init=he|xavier|...]" */
    /* How spec text fills the spec: the first positional number goes to n (NN_ARG_INT),
     * f (NN_ARG_REAL) or, all of them, to shape (NN_ARG_SHAPE); keys k4 s2 p1 op1 are
     * accepted when `keys` is true. */
    enum { NN_ARG_NONE, NN_ARG_INT, NN_ARG_REAL, NN_ARG_REAL_OPT, NN_ARG_SHAPE } arg;
    bool keys;
    bool is_activation;         /* for NN_INIT_AUTO's look-ahead; `relu_like` below */
    bool relu_like;
    /* NN_INIT_AUTO's look-ahead passes over this layer to the next one: it neither is an
     * activation nor changes which one follows (batch/layer norm, dropout). */
    bool init_transparent;
    /* Checks l->spec against l->in_shape, sets l->out_shape, creates parameters with
     * nn_layer_param (initialised from rng).  Returns 0, or -1 with err filled. */
    int (*build)(nn_layer *l, ag_rng *rng, nn_error *err);
    /* x: (N, in_shape...) -> (N, out_shape...) on the tape. */
    ag_tensor *(*forward)(nn_layer *l, ag_tape *t, ag_tensor *x, bool training);
    void (*free_state)(nn_layer *l);   /* frees l->state; NULL if none */
    /* Optional: this layer and the `next` one as one op, when the pair allows it; NULL
     * when it does not (then nn_forward runs both forwards).  batchnorm takes a following
     * relu or leaky_relu into its own pass (nn/layers_norm.c).  Same results either way. */
    ag_tensor *(*forward_with_next)(nn_layer *l, const nn_layer *next, ag_tape *t, ag_tensor *x,
                                    bool training);
};

struct nn_layer {
    const nn_layer_type *type;
    nn_spec spec;
    int index;                          /* position in the net */
    nn_init init;                       /* resolved: never NN_INIT_AUTO after build */
    int in_ndim, in_shape[NN_MAX_SHAPE];
    int out_ndim, out_shape[NN_MAX_SHAPE];
    nn_param_list params;               /* "weight", "bias", buffers; tensors owned here */
    void *state;                        /* type-specific */
    char *text;                         /* copy of spec.text (NULL: spec written in C) */
};

/* Creates a parameter (or, trainable=false, a buffer) owned by the layer. */
ag_tensor *nn_layer_param(nn_layer *l, const char *name, int ndim, const int *shape,
                          bool trainable);
/* Fills w (fan_in, fan_out given) according to the layer's resolved init. */
void nn_init_weight(const nn_layer *l, ag_tensor *w, int fan_in, int fan_out, ag_rng *rng);
/* Fills a bias: zeros, or U(±1/sqrt(fan_in)) under NN_INIT_TORCH. */
void nn_init_bias(const nn_layer *l, ag_tensor *b, int fan_in, ag_rng *rng);
/* "(1, 28, 28)" for a per-example shape. */
const char *nn_shape_str(int ndim, const int *shape, char *buf, size_t n);
/* The spec entry as text, e.g. "conv 32 k4 s2 p1": the text the user typed when the entry
 * came from nn_spec_parse, else written from the fields (parses back to the same entry). */
const char *nn_spec_str(const nn_spec *s, char *buf, size_t n);

/* ---- networks ------------------------------------------------------------------------- */

typedef struct nn_net {
    int n_layers;
    nn_layer *layers;
    int in_ndim, in_shape[NN_MAX_SHAPE];
    int out_ndim, out_shape[NN_MAX_SHAPE];
    nn_param_list params;   /* every layer's entries, named "<index>.<type>.<name>" */
} nn_net;

/* Memory a network may ask for, in bytes, unless the environment variable
 * HENBUN_NET_MEMORY_MAX says otherwise (bytes, or with a suffix K, M, G, T: "16G").  Before
 * each layer is built its parameters are counted (linear, conv, convt from the spec, other
 * types after their build), and the estimate
 *     4 x parameters (value, gradient, Adam's two moments)
 *   + 2 x activations of a batch of NN_NET_MEMORY_BATCH examples (values and gradients)
 * times sizeof(ag_real) must stay within the limit; else nn_net_new fails naming the layer,
 * before allocating it ("linear 1000000, linear 1000000" fails at once, not after 3 GB). */
#define NN_NET_MEMORY_MAX (4.0 * 1024 * 1024 * 1024)
#define NN_NET_MEMORY_BATCH 64

/* Builds a network for inputs of the given per-example shape.  NULL on error (err says
 * which layer and which shapes, or that it needs more memory than the limit above). */
nn_net *nn_net_new(const nn_spec *spec, int in_ndim, const int *in_shape, ag_rng *rng,
                   nn_error *err);
/* Parses spec text (grammar in docs/spec.md) and builds the net.  `extra` is a
 * NULL-terminated array of user layer types that the text may name (or NULL).  Every error
 * starts "spec:COL: " (a layer that does not fit: the column of that layer), so that
 * nn_spec_print_error can point at it. */
nn_net *nn_net_parse(const char *text, int in_ndim, const int *in_shape,
                     const nn_layer_type *const *extra, ag_rng *rng, nn_error *err);
void nn_net_free(nn_net *net); /* the net, its layers and their parameters; NULL is fine */
/* x (N, in_shape...) -> (N, out_shape...).  training switches dropout and batch norm. */
ag_tensor *nn_forward(nn_net *net, ag_tape *t, ag_tensor *x, bool training);
/* The first n_layers layers only (0 <= n_layers <= net->n_layers; 0: x viewed as the net's
 * input): the features a head on top of them reads, e.g. a projection discriminator's
 * (vae/gan.h).  nn_forward is nn_forward_to(net, t, x, training, net->n_layers). */
ag_tensor *nn_forward_to(nn_net *net, ag_tape *t, ag_tensor *x, bool training, int n_layers);
/* Prints a table: layer, output shape, parameters, and the totals. */
void nn_describe(const nn_net *net, const char *title, FILE *f);
/* Number of per-example values of the output (product of out_shape). */
int nn_net_out_size(const nn_net *net);

/* Parses spec text into `out` (at most max entries including the NN_END).  Returns the
 * number of layers, or -1 with err = "spec:COL: what was expected".  COL counts characters
 * from 1 (a UTF-8 character is one column), and a word is reported whole ('linéar', not
 * 'lin'). */
int nn_spec_parse(const char *text, const nn_layer_type *const *extra, nn_spec *out, int max,
                  nn_error *err);
/* Prints the line of text holding column col (characters, from 1) and a caret under that
 * column, both indented by two spaces; a long line is shown as a window around col:
 *     linear 4, relu, lineer 3
 *                     ^                                                                */
void nn_spec_caret(FILE *f, const char *text, int col);
/* Prints "<prefix>: <msg>" (prefix NULL: just msg) and, when msg starts with "spec:COL:",
 * the caret display of text under it.  What every program prints for a bad --net. */
void nn_spec_print_error(FILE *f, const char *prefix, const char *text, const char *msg);

/* ---- built-in layer types and their spec macros ------------------------------------------
 * macro                   text                              reads */
extern const nn_layer_type nn_linear_type, nn_conv_type, nn_convt_type, nn_maxpool_type,
    nn_avgpool_type, nn_batchnorm_type, nn_layernorm_type, nn_dropout_type, nn_flatten_type,
    nn_reshape_type, nn_relu_type, nn_leaky_relu_type, nn_elu_type, nn_tanh_type,
    nn_sigmoid_type, nn_softplus_type, nn_exp_type,
    nn_linear_sn_type, nn_conv_sn_type; /* spectral normalisation: nn/layers_sn.c */

#ifndef __cplusplus
#define NN_END {0}
#define NN_LINEAR(units)        {.type = &nn_linear_type, .n = (units)}       /* linear 400 */
#define NN_CONV(f, k_, s_, p_)  {.type = &nn_conv_type, .n = (f), .k = (k_), .s = (s_), .p = (p_)}
                                                                 /* conv 32 k4 s2 p1 */
#define NN_CONVT(f, k_, s_, p_, op_) \
    {.type = &nn_convt_type, .n = (f), .k = (k_), .s = (s_), .p = (p_), .op = (op_)}
                                                                 /* convt 32 k4 s2 p1 op0 */
#define NN_MAXPOOL(k_, s_)      {.type = &nn_maxpool_type, .k = (k_), .s = (s_)} /* maxpool k2 s2 */
#define NN_AVGPOOL(k_, s_)      {.type = &nn_avgpool_type, .k = (k_), .s = (s_)} /* avgpool k2 s2 */
#define NN_BATCHNORM            {.type = &nn_batchnorm_type}     /* batchnorm (1-D or 2-D by input) */
#define NN_LAYERNORM            {.type = &nn_layernorm_type}     /* layernorm */
#define NN_DROPOUT(p_)          {.type = &nn_dropout_type, .f = (p_)}          /* dropout 0.5 */
#define NN_FLATTEN              {.type = &nn_flatten_type}       /* flatten */
#define NN_RESHAPE(...)         {.type = &nn_reshape_type, .ndim = (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), .shape = {__VA_ARGS__}}
                                                                 /* reshape 128 7 7 */
#define NN_RELU                 {.type = &nn_relu_type}          /* relu */
#define NN_LEAKY_RELU(a)        {.type = &nn_leaky_relu_type, .f = (a)}        /* leaky_relu 0.2 */
#define NN_ELU(a)               {.type = &nn_elu_type, .f = (a)}               /* elu 1 */
#define NN_TANH                 {.type = &nn_tanh_type}          /* tanh */
#define NN_SIGMOID              {.type = &nn_sigmoid_type}       /* sigmoid */
#define NN_SOFTPLUS             {.type = &nn_softplus_type}      /* softplus */
#define NN_EXP                  {.type = &nn_exp_type}           /* exp */
#define NN_LINEAR_SN(units)     {.type = &nn_linear_sn_type, .n = (units)}    /* linear_sn 400 */
#define NN_CONV_SN(f, k_, s_, p_) {.type = &nn_conv_sn_type, .n = (f), .k = (k_), .s = (s_), .p = (p_)}
                                                                 /* conv_sn 64 k4 s2 p1 */
#else
/* C++17 has no designated initialisers: the same entries, every field in order
 * (type, n, k, s, p, op, f, ndim, shape, init, init_std, text, text_len). */
#define NN_SPEC_CXX_(type_, n_, k_, s_, p_, op_, f_) \
    {(type_), (n_), (k_), (s_), (p_), (op_), (f_), 0, {0, 0, 0}, NN_INIT_AUTO, 0.0, nullptr, 0}
#define NN_END                  {}
#define NN_LINEAR(units)        NN_SPEC_CXX_(&nn_linear_type, (units), 0, 0, 0, 0, 0.0)
#define NN_CONV(f, k_, s_, p_)  NN_SPEC_CXX_(&nn_conv_type, (f), (k_), (s_), (p_), 0, 0.0)
#define NN_CONVT(f, k_, s_, p_, op_) NN_SPEC_CXX_(&nn_convt_type, (f), (k_), (s_), (p_), (op_), 0.0)
#define NN_MAXPOOL(k_, s_)      NN_SPEC_CXX_(&nn_maxpool_type, 0, (k_), (s_), 0, 0, 0.0)
#define NN_AVGPOOL(k_, s_)      NN_SPEC_CXX_(&nn_avgpool_type, 0, (k_), (s_), 0, 0, 0.0)
#define NN_BATCHNORM            NN_SPEC_CXX_(&nn_batchnorm_type, 0, 0, 0, 0, 0, 0.0)
#define NN_LAYERNORM            NN_SPEC_CXX_(&nn_layernorm_type, 0, 0, 0, 0, 0, 0.0)
#define NN_DROPOUT(p_)          NN_SPEC_CXX_(&nn_dropout_type, 0, 0, 0, 0, 0, (p_))
#define NN_FLATTEN              NN_SPEC_CXX_(&nn_flatten_type, 0, 0, 0, 0, 0, 0.0)
#define NN_RESHAPE(...)         {&nn_reshape_type, 0, 0, 0, 0, 0, 0.0, \
                                 (int)std::initializer_list<int>{__VA_ARGS__}.size(), \
                                 {__VA_ARGS__}, NN_INIT_AUTO, 0.0, nullptr, 0}
#define NN_RELU                 NN_SPEC_CXX_(&nn_relu_type, 0, 0, 0, 0, 0, 0.0)
#define NN_LEAKY_RELU(a)        NN_SPEC_CXX_(&nn_leaky_relu_type, 0, 0, 0, 0, 0, (a))
#define NN_ELU(a)               NN_SPEC_CXX_(&nn_elu_type, 0, 0, 0, 0, 0, (a))
#define NN_TANH                 NN_SPEC_CXX_(&nn_tanh_type, 0, 0, 0, 0, 0, 0.0)
#define NN_SIGMOID              NN_SPEC_CXX_(&nn_sigmoid_type, 0, 0, 0, 0, 0, 0.0)
#define NN_SOFTPLUS             NN_SPEC_CXX_(&nn_softplus_type, 0, 0, 0, 0, 0, 0.0)
#define NN_EXP                  NN_SPEC_CXX_(&nn_exp_type, 0, 0, 0, 0, 0, 0.0)
#define NN_LINEAR_SN(units)     NN_SPEC_CXX_(&nn_linear_sn_type, (units), 0, 0, 0, 0, 0.0)
#define NN_CONV_SN(f, k_, s_, p_) NN_SPEC_CXX_(&nn_conv_sn_type, (f), (k_), (s_), (p_), 0, 0.0)
#endif

HENBUN_END_DECLS

#endif
