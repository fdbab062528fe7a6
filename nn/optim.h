/* optim.h — optimizers (SGD with momentum/Nesterov, Adam, AdamW), gradient-norm clipping and
 * learning-rate schedules.
 *
 * Example (compiled by make test: tests/programs/header_examples.sh):
 *   nn_optim *opt = nn_adam(&params, 1e-3);
 *   nn_optim_set_clip_norm(opt, 5.0);
 *   nn_optim_set_schedule(opt, &(nn_lr_schedule){ .kind = NN_LR_COSINE, .total_steps = 10000,
 *                                                 .min_lr = 1e-5, .warmup_steps = 500 });
 *   for (long step = 0; step < 10000; step++) {   // each minibatch: loss = ... on t
 *       ag_backward(t, loss);
 *       double gnorm = nn_optim_step(opt);     // global gradient norm before clipping
 *       nn_optim_zero_grad(opt);
 *       ag_tape_clear(t);
 *   }
 *   nn_optim_free(opt);
 *
 * An optimizer keeps a private copy of the trainable entries of the list it was made from
 * (the tensors themselves stay the caller's).  For parameter groups — a GAN's generator and
 * discriminator, or two learning rates — make one optimizer per list.  All state (momentum,
 * Adam's moments) is allocated at creation, so a step calls malloc zero times.
 *
 * Checkpoints: nn_optim_state lists the state tensors by name; save them with the
 * parameters (nn/checkpoint.h) and load them back into an optimizer made with the same
 * kind over the same parameters.  Hyper-parameters and the schedule are not state: the
 * program sets them again when it resumes.
 */
#ifndef HENBUN_NN_OPTIM_H
#define HENBUN_NN_OPTIM_H

#include "autograd/autograd.h"
#include "nn/params.h"

#include <stdbool.h>
#include <stdint.h>

HENBUN_BEGIN_DECLS

typedef struct nn_optim nn_optim;

typedef enum nn_optim_kind { NN_SGD, NN_ADAM, NN_ADAMW } nn_optim_kind;

/* ---------------------------------------------------------------------------------------
 * Making one.  params: the trainable entries are copied (names too); buffers are skipped.
 * A tensor listed twice is an error.  Free with nn_optim_free (the tensors are not freed). */

/* SGD: b = momentum*b + g; w -= lr * (nesterov ? g + momentum*b : b).
 * momentum 0 keeps no state; nesterov needs momentum > 0. */
nn_optim *nn_sgd(const nn_param_list *params, double lr, double momentum, bool nesterov);
/* Adam (Kingma & Ba 2015), betas (0.9, 0.999), eps 1e-8:
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;  w -= lr · (m/(1-b1^t)) / (√(v/(1-b2^t)) + eps) */
nn_optim *nn_adam(const nn_param_list *params, double lr);
/* AdamW (Loshchilov & Hutter 2019): Adam plus a decay separate from the gradient,
 * w -= lr·weight_decay·w, applied before the Adam update (as PyTorch does). */
nn_optim *nn_adamw(const nn_param_list *params, double lr, double weight_decay);
void nn_optim_free(nn_optim *o); /* NULL is fine */

/* Adam/AdamW moment decay rates (each in [0, 1)) and eps > 0; e.g. (0.5, 0.999, 1e-8) for
 * GANs.  An error for SGD. */
void nn_optim_set_betas(nn_optim *o, double beta1, double beta2, double eps);
/* SGD and Adam: L2 penalty folded into the gradient, g += wd·w.  AdamW: the decoupled
 * decay above.  wd >= 0; 0 (the default for SGD and Adam) turns it off. */
void nn_optim_set_weight_decay(nn_optim *o, double wd);
/* The base learning rate (what schedules scale); > 0. */
void nn_optim_set_lr(nn_optim *o, double lr);

/* ---------------------------------------------------------------------------------------
 * Stepping. */

/* One update of every trainable parameter from its ->grad (entries whose grad is NULL are
 * skipped: nothing flowed into them).  If a clip norm is set and the global norm
 * ‖g‖ = √(Σ g²) over all parameters exceeds it, the update uses g · max_norm/‖g‖ (the grads
 * themselves are left as they are).  Returns ‖g‖ before clipping, for logging; a NaN or
 * inf here means the gradients are not finite and the parameters now hold non-finite
 * values too.  Gradients accumulate across backward calls: zero them after the step. */
double nn_optim_step(nn_optim *o);
void nn_optim_zero_grad(nn_optim *o);      /* grad := 0 for every parameter it updates */
/* Clip the global gradient norm to max_norm inside every step; max_norm <= 0 turns it off. */
void nn_optim_set_clip_norm(nn_optim *o, double max_norm);
double nn_optim_grad_norm(const nn_optim *o); /* ‖g‖ before clipping in the last step */
int64_t nn_optim_steps(const nn_optim *o);    /* steps taken (restored by a checkpoint) */
double nn_optim_lr(const nn_optim *o);        /* learning rate the next step will use */
nn_optim_kind nn_optim_get_kind(const nn_optim *o);
const nn_param_list *nn_optim_params(const nn_optim *o); /* the entries it updates */

/* ---------------------------------------------------------------------------------------
 * Learning-rate schedules.  t counts the steps already taken (0 for the first step).
 * Warm-up comes first and the schedule's own clock starts when it ends, s = t - W:
 *   warm-up      (t < W)  lr = base · (t+1)/W             a linear ramp reaching base at t = W-1
 *   NN_LR_CONSTANT         lr = base
 *   NN_LR_STEP             lr = base · gamma^⌊s/step_size⌋
 *   NN_LR_COSINE           lr = min + (base - min)·(1 + cos(π·min(s,T)/T))/2, T = total_steps,
 *                          so lr(W) = base and lr stays at min from s = T on. */
typedef enum nn_lr_kind { NN_LR_CONSTANT, NN_LR_STEP, NN_LR_COSINE } nn_lr_kind;
typedef struct nn_lr_schedule {
    nn_lr_kind kind;
    int warmup_steps;  /* W; 0: no warm-up */
    int step_size;     /* NN_LR_STEP: decay every step_size steps (> 0) */
    double gamma;      /* NN_LR_STEP: factor per decay, in (0, 1] */
    int total_steps;   /* NN_LR_COSINE: T (> 0), the length of the decay after warm-up */
    double min_lr;     /* NN_LR_COSINE: the final learning rate (absolute, >= 0) */
} nn_lr_schedule;

/* Sets the schedule (copied); NULL means constant.  Misuse (step_size <= 0, ...) is an
 * error.  The schedule follows nn_optim_steps, so it resumes with a loaded checkpoint. */
void nn_optim_set_schedule(nn_optim *o, const nn_lr_schedule *s);
/* The learning rate at step t for base learning rate base_lr (the formulas above);
 * s may be NULL (constant). */
double nn_lr_at(const nn_lr_schedule *s, double base_lr, int64_t t);

/* ---------------------------------------------------------------------------------------
 * State for checkpoints.  Appends the optimizer's state tensors to out as non-trainable
 * entries; the tensors belong to the optimizer, so loading a checkpoint into them restores
 * the optimizer exactly.  Names (with "prefix." in front when prefix is non-NULL — use
 * one per optimizer when a checkpoint holds several, e.g. "opt_g" and "opt_d"):
 *   "optim.step"              shape (2): the step count as {t / 2^20, t mod 2^20}, two
 *                             numbers exact in float and double (t < 2^44)
 *   "sgd.momentum.<param>"    SGD with momentum: b
 *   "adam.m.<param>", "adam.v.<param>"   Adam and AdamW: the moments m and v
 * out keeps pointers into the optimizer: use the list only while the optimizer lives. */
void nn_optim_state(const nn_optim *o, const char *prefix, nn_param_list *out);

HENBUN_END_DECLS

#endif
