#!/usr/bin/python3
"""torch_dcgan.py -- the PyTorch peer of `build/gan --arch dcgan` for `make bench` and the README.

The same DCGAN at 28x28 as henbun's preset:
  G: z100 -> linear 128*7*7, batchnorm, relu, reshape (128, 7, 7), convT 64 k4 s2 p1,
     batchnorm, relu, convT 1 k4 s2 p1, sigmoid
  D: conv 64 k4 s2 p1, leaky_relu 0.2, conv 128 k4 s2 p1, batchnorm, leaky_relu 0.2,
     flatten, linear 1
weights N(0, 0.02^2), biases 0 (batch norm: gamma 1, beta 0), z ~ N(0, I), batch 64, Adam lr
2e-4 betas (0.5, 0.999).  The options of build/gan (--lr-d/--lr-g, --ema, --sn, --label-smooth,
--r1, --conditional) as in torch_gan.py.  One iteration does what vae/gan.c does: D's step on a real batch
and on a batch of fakes made without gradients, in two forwards (D's batch norm never
mixes real and fake), then G's step on a fresh batch of z, non-saturating.  Real MNIST when
--data holds it, else random images.  Prints

    result: sec_per_100_iters=... cpu_sec_per_100_iters=... iters=N threads=N data=...

(cpu_: CPU seconds of all threads, the figure to compare on a busy machine.)

Run with Debian's python3-torch:  /usr/bin/python3 bench/torch_dcgan.py --threads 1 --iters 100
(for 2 threads set OMP_WAIT_POLICY=PASSIVE and OPENBLAS_NUM_THREADS=2, see torch_vae.py).
"""
import argparse
import os
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_gan import (Ema, add_quality_flags, batches, conditional, load_images,  # noqa: E402
                       load_labels, spectral, train, write_samples)  # the same data, loop, options


class Reshape(nn.Module):
    def __init__(self, *shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.reshape((x.shape[0],) + self.shape)


def make_models(z=100, sn=False, classes=0):
    g = nn.Sequential(nn.Linear(z + classes, 128 * 7 * 7), nn.BatchNorm1d(128 * 7 * 7), nn.ReLU(),
                      Reshape(128, 7, 7),
                      nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
                      nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Sigmoid())
    d = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2),
                      nn.Conv2d(64, 128, 4, 2, 1), *([] if sn else [nn.BatchNorm2d(128)]),
                      nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(128 * 7 * 7, 1))
    for m in list(g.modules()) + list(d.modules()):
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
    if sn:  # --sn: conv_sn/linear_sn and no batch norm, as build/gan --arch dcgan --sn
        d = nn.Sequential(*[spectral(m, isinstance(m, (nn.Linear, nn.Conv2d))) for m in d])
    return conditional(g, d, classes)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--data", default="data/mnist", help="directory with MNIST's IDX files")
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5, help="untimed iterations first")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=0)
    ap.add_argument("--samples", help="write 64 samples of the trained G to this PNG")
    add_quality_flags(ap)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    images = load_images(a.data)
    classes = 10 if a.conditional else 0
    next_real = batches(images, a.batch, (1, 28, 28), load_labels(a.data), classes)
    g, d = make_models(sn=a.sn, classes=classes)
    if a.warmup:
        train(g, d, next_real, a.warmup, a.batch, 100, opts=a)
    ema = Ema(g, a.ema) if a.ema > 0 else None   # after the warm-up: it starts at G
    cpu0 = time.process_time()
    secs = train(g, d, next_real, a.iters, a.batch, 100, a.log_every, opts=a, ema=ema)
    cpu = time.process_time() - cpu0   # CPU time of all threads: the cost on a shared machine
    # G in training mode, as henbun samples; with --drs kept by D in eval mode
    accept = write_samples(a.samples, g, 100, ema, d, a) if a.samples else None
    print(f"result: sec_per_100_iters={100 * secs / a.iters:.3f} "
          f"cpu_sec_per_100_iters={100 * cpu / a.iters:.3f} iters={a.iters} seconds={secs:.1f} "
          f"threads={a.threads} data={'mnist' if images is not None else 'synthetic'}"
          + (f" drs_accept={accept:.4f}" if accept is not None else ""))


if __name__ == "__main__":
    main()
