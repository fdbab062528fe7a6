/* params.h — named parameter lists: what layers expose, optimizers update and
 * checkpoints save.  A list holds pointers to tensors it does not own; it owns the names.
 * Entries with trainable=false are buffers (batch norm's running statistics, an
 * optimizer's moments): saved in checkpoints, never touched by an optimizer. */
#ifndef HENBUN_NN_PARAMS_H
#define HENBUN_NN_PARAMS_H

#include "autograd/autograd.h"

HENBUN_BEGIN_DECLS

typedef struct nn_param {
    char *name;          /* e.g. "encoder.0.linear.weight"; owned by the list */
    ag_tensor *value;    /* not owned */
    bool trainable;
} nn_param;

typedef struct nn_param_list {
    nn_param *items;
    int n, cap;
} nn_param_list;

/* Appends (name is copied; prefix may be NULL, else the name becomes "prefix.name"). */
void nn_params_add(nn_param_list *l, const char *prefix, const char *name, ag_tensor *value,
                   bool trainable);
/* Appends every entry of src with the prefix added. */
void nn_params_extend(nn_param_list *dst, const char *prefix, const nn_param_list *src);
void nn_params_free(nn_param_list *l);       /* frees names and the array, not tensors */
nn_param *nn_params_find(const nn_param_list *l, const char *name); /* NULL if absent */
size_t nn_params_count(const nn_param_list *l); /* trainable scalars */
void nn_params_zero_grad(const nn_param_list *l); /* grad := 0 for trainable entries */
/* Whether gradients are formed for the trainable entries (their requires_grad; buffers
 * are untouched).  Off, the ops that use these tensors still pass gradients through to
 * their other inputs but skip the products that would form the entries' own (ag_node_grad
 * returns NULL for them) and leave their .grad as it was.  A GAN's generator step freezes
 * the discriminator this way: the gradient flows through D into G, and no dW GEMM of D
 * runs (examples/gan.c).  G's gradients are the same, bit for bit, as with D unfrozen. */
void nn_params_set_requires_grad(const nn_param_list *l, bool on);
/* Σ‖grad‖² over trainable entries, square-rooted: the global gradient norm. */
double nn_params_grad_norm(const nn_param_list *l);
/* First entry whose value (or, if check_grad, gradient) holds a NaN or inf; NULL if none. */
const nn_param *nn_params_first_nonfinite(const nn_param_list *l, bool check_grad);

HENBUN_END_DECLS

#endif
