/* henbun.h — the whole public library in one include, for programs that use several floors:
 * the autograd tape (autograd/autograd.h), layers, optimizers, checkpoints and data
 * (nn/nn.h), and the generative models (vae/vae.h with the Boltzmann sampler, vae/gan.h).
 * Installed as <henbun/henbun.h>; `pkg-config --cflags henbun` finds it. */
#ifndef HENBUN_H
#define HENBUN_H

#include "autograd/autograd.h"
#include "nn/nn.h"
#include "vae/vae.h"
#include "vae/gan.h"

#endif
