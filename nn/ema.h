/* ema.h — an exponential moving average of parameters (Polyak averaging; for a GAN's
 * generator, Yazıcı et al. 2019): a shadow copy θ̄ of a list's trainable tensors, moved
 * after each optimizer step by
 *     θ̄ ← β·θ̄ + (1 − β)·θ        (β = decay, e.g. 0.999: an average over ~1/(1 − β) steps)
 * and used in place of θ to sample or evaluate.  The shadow starts equal to θ.
 *
 * Use (g a gan of vae/gan.h, saved a checkpoint's list):
 *   nn_ema *avg = nn_ema_new(&g->g_params, 0.999);
 *   nn_ema_state(avg, "ema", &saved);      // checkpointed beside the live weights
 *   ... nn_optim_step(opt_g); nn_ema_update(avg); ...
 *   nn_ema_swap(avg);  ...sample with the averaged weights...  nn_ema_swap(avg);
 *
 * A warm-up of the decay (warmup = true, as TensorFlow's ExponentialMovingAverage with
 * num_updates) lets a short run forget the initial weights: update number t (0, 1, ...)
 * uses β_t = min(β, (1 + t)/(10 + t)), so the first updates nearly copy θ (β_0 = 0.1) and
 * β_t reaches 0.999 only after ~9000 updates; the weight θ_0 keeps after T updates is
 * Π β_t instead of β^T.  t is `updates`, counted by nn_ema_update: a program that resumes
 * sets it from its checkpoint's step count (one update per step), so a resumed run averages
 * exactly as an unbroken one.
 *
 * Buffers (batch norm's running statistics) are not averaged: the live ones stay in use.
 * nn_ema_update and nn_ema_swap allocate nothing. */
#ifndef HENBUN_NN_EMA_H
#define HENBUN_NN_EMA_H

#include "nn/params.h"

HENBUN_BEGIN_DECLS

typedef struct nn_ema {
    double decay;         /* β in [0, 1) */
    bool warmup;          /* update t uses min(β, (1 + t)/(10 + t)) instead of β */
    long updates;         /* t: updates so far (nn_ema_update adds 1; set it on resume) */
    int n;
    ag_tensor **live;     /* the averaged tensors (not owned) */
    nn_param_list shadow; /* their averages, same names and shapes (owned tensors) */
    bool swapped;         /* the live tensors hold the averages now (nn_ema_swap) */
} nn_ema;

/* A shadow copy of every trainable entry of params (equal to it), decay β in [0, 1). */
nn_ema *nn_ema_new(const nn_param_list *params, double decay);
void nn_ema_free(nn_ema *e); /* the shadow tensors and the struct; NULL is fine */
/* θ̄ ← β·θ̄ + (1 − β)·θ for every tensor, written θ̄ += (1 − β)(θ − θ̄), with β =
 * nn_ema_decay(e); then updates += 1. */
void nn_ema_update(nn_ema *e);
/* The decay of the next update: β, or with warmup min(β, (1 + t)/(10 + t)), t = updates. */
double nn_ema_decay(const nn_ema *e);
/* Exchanges the values of the live tensors and their averages (in place, no copy kept):
 * call once to use the averages, once more to go back.  Not while swapped: update. */
void nn_ema_swap(nn_ema *e);
/* Appends the averages to a list (a checkpoint's) as buffers named "prefix.NAME". */
void nn_ema_state(const nn_ema *e, const char *prefix, nn_param_list *dst);

HENBUN_END_DECLS

#endif
