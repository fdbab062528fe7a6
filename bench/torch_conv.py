#!/usr/bin/python3
"""torch_conv.py -- the PyTorch peer of bench/conv_bench.c: the DCGAN's four convolution
layers at batch 64, forward + backward with gradients for x, W and b, one call each.

    /usr/bin/python3 bench/torch_conv.py [--threads N] [--reps N]

Prints one line per layer, "name threads ms", the median over --reps calls after two
warm-up calls, measured the way conv_bench measures: CPU time of the process at 1 thread
(the cost on a shared machine, where wall time depends on the neighbours), wall time at
more threads.  `make bench-conv` feeds these lines to conv_bench --peer.
"""
import argparse
import time

import torch
from torch import nn

BATCH = 64
# name, transposed, C, H, W, F, k, stride, pad: the same table as conv_bench.c
LAYERS = [
    ("G_convT_128to64_7to14", True, 128, 7, 7, 64, 4, 2, 1),
    ("G_convT_64to1_14to28", True, 64, 14, 14, 1, 4, 2, 1),
    ("D_conv_1to64_28to14", False, 1, 28, 28, 64, 4, 2, 1),
    ("D_conv_64to128_14to7", False, 64, 14, 14, 128, 4, 2, 1),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=21)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(7)
    clock = time.process_time if a.threads == 1 else time.perf_counter
    for name, transposed, C, H, W, F, k, s, p in LAYERS:
        m = (nn.ConvTranspose2d if transposed else nn.Conv2d)(C, F, k, s, p)
        x = torch.rand(BATCH, C, H, W, requires_grad=True)
        dy = torch.rand_like(m(x)).detach()
        times = []
        for i in range(a.reps + 2):
            x.grad = None
            m.zero_grad(set_to_none=True)
            t0 = clock()
            m(x).backward(dy)
            if i >= 2:
                times.append(1e3 * (clock() - t0))
        times.sort()
        print(f"{name} {a.threads} {times[len(times) // 2]:.3f}", flush=True)


if __name__ == "__main__":
    main()
