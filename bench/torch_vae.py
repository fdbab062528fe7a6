#!/usr/bin/python3
"""torch_vae.py -- the peer of `build/vae` for `make bench` and the README's table.

The classic PyTorch MNIST VAE (784-400-20, ReLU, Bernoulli decoder on grey values, Adam
1e-3, batch 128, loss summed over pixels, z sampled at test time), reading the same IDX
files henbun reads.  Prints one line per epoch and a final

    result: test_neg_elbo=... seconds=... sec_per_epoch=... cpu_sec_per_epoch=... threads=N

Run with Debian's python3-torch:  /usr/bin/python3 bench/torch_vae.py --epochs 10
(PyTorch's GEMM threads follow OPENBLAS_NUM_THREADS; for 2 threads also set
OMP_WAIT_POLICY=PASSIVE or its two thread pools fight.)
"""
import argparse
import gzip
import os
import struct
import sys
import time

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


def find(d, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    sys.exit(f"torch_vae.py: {d}/{stem} is missing: run `make data`")


class VAE(nn.Module):
    def __init__(self, z=20, h=400):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, h), nn.Linear(h, z), nn.Linear(h, z)
        self.fc3, self.fc4 = nn.Linear(z, h), nn.Linear(h, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def loss_fn(logits, x, mu, logvar):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr = torch.from_numpy(read_idx(find(a.data, "train-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / 255)
    xte = torch.from_numpy(read_idx(find(a.data, "t10k-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / 255)
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_s = cpu_s = 0.0
    for epoch in range(1, a.epochs + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        model.train()
        perm = torch.randperm(len(xtr))
        total = 0.0
        for i in range(0, len(xtr), a.batch):
            x = xtr[perm[i:i + a.batch]]
            opt.zero_grad()
            logits, mu, logvar = model(x)
            loss = loss_fn(logits, x, mu, logvar)
            loss.backward()
            opt.step()
            total += loss.item()
        dt = time.perf_counter() - t0
        train_s += dt
        cpu_s += time.process_time() - c0
        model.eval()
        with torch.no_grad():
            test = 0.0
            for i in range(0, len(xte), 1000):
                x = xte[i:i + 1000]
                logits, mu, logvar = model(x)
                test += loss_fn(logits, x, mu, logvar).item()
        print(f"epoch {epoch:3d}  train -elbo {total / len(xtr):7.2f}  test -elbo {test / len(xte):7.2f}  {dt:.2f}s", flush=True)
    print(f"result: test_neg_elbo={test / len(xte):.2f} seconds={train_s:.1f} "
          f"sec_per_epoch={train_s / a.epochs:.2f} cpu_sec_per_epoch={cpu_s / a.epochs:.2f} "
          f"threads={a.threads}")


if __name__ == "__main__":
    main()
