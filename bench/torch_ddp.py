#!/usr/bin/python3
"""torch_ddp.py -- the peer of tests/dist/dist_driver for `make bench-dist`.

The classic MNIST VAE (784-400-40 encoder, 20-400-784 decoder, ReLU, Bernoulli on MNIST
binarized at 0.5, Adam 1e-3, global batch 100, loss = mean over the batch of -ELBO summed
over pixels) trained data-parallel with PyTorch's DistributedDataParallel over the gloo
backend, one process per rank, one thread each: the same model, data, batch split and
step as henbun's driver.  Prints

    result: ranks=N threads=1 steps=... seconds=... cpu_seconds=... ms_per_step=...

(seconds: wall time of rank 0's training loop; cpu_seconds: summed over ranks).
Run with Debian's python3-torch:  /usr/bin/python3 bench/torch_ddp.py --ranks 2 --steps 600
"""
import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
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
    sys.exit(f"torch_ddp.py: {d}/{stem} is missing: run `make data`")


class VAE(nn.Module):
    def __init__(self, z=20, h=400):
        super().__init__()
        self.z = z
        self.enc = nn.Sequential(nn.Linear(784, h), nn.ReLU(), nn.Linear(h, 2 * z))
        self.dec = nn.Sequential(nn.Linear(z, h), nn.ReLU(), nn.Linear(h, 784))

    def forward(self, x):
        h = self.enc(x)
        mu, logvar = h[:, :self.z], h[:, self.z:]
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = self.dec(z)
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kld = 0.5 * torch.sum(mu.pow(2) + logvar.exp() - 1 - logvar)
        return (bce + kld) / x.shape[0]


def worker(rank, a, port, out):
    torch.set_num_threads(a.threads)
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=a.ranks)
    torch.manual_seed(a.seed)
    x_all = read_idx(find(a.data, "train-images-idx3-ubyte")).reshape(-1, 784)
    x_all = torch.from_numpy((x_all > 127).astype(np.float32))
    model = torch.nn.parallel.DistributedDataParallel(VAE())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    base, extra = divmod(a.batch, a.ranks)
    lo = rank * base + min(rank, extra)
    hi = lo + base + (rank < extra)
    g = torch.Generator().manual_seed(a.seed)
    perm = torch.randperm(len(x_all), generator=g)
    per_epoch = len(x_all) // a.batch
    dist.barrier()
    c0, t0 = time.process_time(), time.perf_counter()
    for step in range(a.steps):
        k = step % per_epoch
        if k == 0 and step > 0:
            perm = torch.randperm(len(x_all), generator=g)
        idx = perm[k * a.batch:(k + 1) * a.batch][lo:hi]
        loss = model(x_all[idx]) * ((hi - lo) / a.batch)  # this rank's share of the mean
        opt.zero_grad()
        loss.backward()  # DDP averages over ranks; undo its 1/N: the sum is the global mean
        for p in model.parameters():
            p.grad.mul_(a.ranks)
        opt.step()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    t = torch.tensor([cpu], dtype=torch.float64)
    dist.all_reduce(t)
    if rank == 0:
        out.put((wall, t.item()))
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--ranks", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--port", type=int, default=29500 + os.getpid() % 1000)
    a = ap.parse_args()
    ctx = mp.get_context("spawn")
    out = ctx.SimpleQueue()
    procs = [ctx.Process(target=worker, args=(r, a, a.port, out)) for r in range(a.ranks)]
    for p in procs:
        p.start()
    wall, cpu = out.get()
    for p in procs:
        p.join()
    print(f"result: ranks={a.ranks} threads={a.threads} steps={a.steps} seconds={wall:.3f} "
          f"cpu_seconds={cpu:.3f} ms_per_step={1e3 * wall / a.steps:.3f}")


if __name__ == "__main__":
    main()
