#!/usr/bin/python3
"""torch_gan.py -- the PyTorch peer of `build/gan --arch mlp` for `make bench` and the README.

The same MLP GAN as henbun's preset: G z100 -> 256 -> 512 -> 784 (leaky ReLU 0.2, sigmoid
output), D 784 -> 512 -> 256 -> 1 (leaky ReLU 0.2, dropout 0.3, a logit), z ~ N(0, I),
batch 64, Adam lr 2e-4 betas (0.5, 0.999), images in [0, 1].  One iteration does what
vae/gan.c does: D's step on a real batch and a batch of fakes made without gradients
(two forwards of D), then G's step on a fresh batch of z with the
non-saturating loss -E ln D(G(z)).  Real MNIST when --data holds it, else random images
(the speed does not depend on the pixels).  Prints

    result: sec_per_1000_iters=... cpu_sec_per_1000_iters=... iters=N threads=N data=...

(cpu_: CPU seconds of all threads, the figure to compare on a busy machine.)

Run with Debian's python3-torch:  /usr/bin/python3 bench/torch_gan.py --threads 1 --iters 1000
(PyTorch's GEMM threads follow OPENBLAS_NUM_THREADS; for 2 threads also set
OMP_WAIT_POLICY=PASSIVE or its two thread pools fight.)
"""
import argparse
import gzip
import os
import struct
import time
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_images(d):
    """MNIST training images in [0, 1] as (N, 784), or None when d does not hold them."""
    for name in ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"):
        p = os.path.join(d, name)
        if os.path.exists(p):
            return torch.from_numpy(read_idx(p).reshape(-1, 784).astype(np.float32) / 255)
    return None


def write_grid_png(path, x, cols=8):
    """x (n, 28*28) in [0, 1] as a grey PNG grid (a few lines of zlib: no imaging package)."""
    x = (x.detach().clamp(0, 1).reshape(-1, 28, 28).numpy() * 255).astype(np.uint8)
    rows = (len(x) + cols - 1) // cols
    img = np.zeros((rows * 30, cols * 30), dtype=np.uint8)
    for i, tile in enumerate(x):
        r, c = divmod(i, cols)
        img[r * 30 + 1:r * 30 + 29, c * 30 + 1:c * 30 + 29] = tile
    raw = b"".join(b"\0" + row.tobytes() for row in img)  # filter byte 0 on every row

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    head = struct.pack(">IIBBBBB", img.shape[1], img.shape[0], 8, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(raw))
                + chunk(b"IEND", b""))


def make_models(z=100):
    g = nn.Sequential(nn.Linear(z, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
                      nn.Linear(512, 784), nn.Sigmoid())
    d = nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                      nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Linear(256, 1))
    return g, d


def train(g, d, next_real, iters, batch, z, log_every=0):
    """iters iterations of the alternation; returns the seconds they took."""
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    t0 = time.perf_counter()
    for it in range(1, iters + 1):
        x = next_real()
        with torch.no_grad():                       # G is fixed during D's step (eq. (20))
            fake = g(torch.randn(batch, z))
        l_real, l_fake = d(x), d(fake)              # two forwards: batch statistics apart
        d_loss = F.softplus(-l_real).mean() + F.softplus(l_fake).mean()  # -V
        opt_d.zero_grad(set_to_none=False)
        d_loss.backward()
        opt_d.step()
        l = d(g(torch.randn(batch, z)))
        g_loss = F.softplus(-l).mean()              # -E ln D(G(z)), non-saturating
        opt_g.zero_grad(set_to_none=False)
        opt_d.zero_grad(set_to_none=False)
        g_loss.backward()
        opt_g.step()
        if log_every and it % log_every == 0:
            print(f"iter {it:6d}  d_loss {d_loss.item():.4f}  g_loss {g_loss.item():.4f}", flush=True)
    return time.perf_counter() - t0


def batches(images, batch, shape):
    """An endless iterator of shuffled real batches (or uniform noise without data)."""
    def gen():
        while True:
            if images is None:
                yield torch.rand((batch,) + shape)
                continue
            perm = torch.randperm(len(images))
            for i in range(0, len(images) - batch + 1, batch):
                yield images[perm[i:i + batch]].reshape((batch,) + shape)
    it = gen()
    return lambda: next(it)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--data", default="data/mnist", help="directory with MNIST's IDX files")
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=20, help="untimed iterations first")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=0)
    ap.add_argument("--samples", help="write 64 samples of the trained G to this PNG")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    images = load_images(a.data)
    next_real = batches(images, a.batch, (784,))
    g, d = make_models()
    if a.warmup:
        train(g, d, next_real, a.warmup, a.batch, 100)
    cpu0 = time.process_time()
    secs = train(g, d, next_real, a.iters, a.batch, 100, a.log_every)
    cpu = time.process_time() - cpu0   # CPU time of all threads: the cost on a shared machine
    if a.samples:
        with torch.no_grad():
            write_grid_png(a.samples, g(torch.randn(64, 100)))
    print(f"result: sec_per_1000_iters={1000 * secs / a.iters:.2f} "
          f"cpu_sec_per_1000_iters={1000 * cpu / a.iters:.2f} iters={a.iters} seconds={secs:.1f} "
          f"threads={a.threads} data={'mnist' if images is not None else 'synthetic'}")


if __name__ == "__main__":
    main()
