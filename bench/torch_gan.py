#!/usr/bin/python3
"""torch_gan.py -- the PyTorch peer of `build/gan --arch mlp` for `make bench` and the README.

The same MLP GAN as henbun's preset: G z100 -> 256 -> 512 -> 784 (leaky ReLU 0.2, sigmoid
output), D 784 -> 512 -> 256 -> 1 (leaky ReLU 0.2, dropout 0.3, a logit), z ~ N(0, I),
batch 64, Adam lr 2e-4 betas (0.5, 0.999), images in [0, 1].  Initialised as the preset is
(NN_INIT_AUTO, nn/net.c): a Linear followed by a (leaky) ReLU gets He weights N(0, 2/fan_in),
the others (G's last, before the sigmoid; D's last) Glorot U(+-sqrt(6/(fan_in+fan_out))), every
bias 0 -- not PyTorch's default init, with which both libraries collapse to 2 classes.

The quality options of `build/gan` (issue #20), the same flags: --lr-d/--lr-g (TTUR), --ema
DECAY (a moving average of G's weights, updated after each G step, used for --samples),
--sn (torch.nn.utils.spectral_norm on D's Linear/Conv layers: one power-iteration step per
training forward, as henbun's linear_sn/conv_sn; the DCGAN's D drops its batch norm),
--label-smooth S (D's real target 1 - S), --r1 GAMMA, and --drs [--drs-gamma G]: --samples
drawn by discriminator rejection sampling (vae/gan.h: keep x with probability
exp(l(x) - M), M the largest logit of 10000 burn-in samples, raised when exceeded; D in
eval mode; the share kept goes on the result line as drs_accept), --conditional (G(z, y) reads
z joined with y's one-hot code, D is the projection discriminator l(x, y) = psi(phi(x)) +
e_y . phi(x) with E starting at 0, vae/gan.h; fakes take the real batch's labels, --samples one
class a column).  R1 here is exact (a double
backward); henbun estimates E||grad_x l||^2 by a finite difference along a random direction
(vae/gan.h), which is unbiased for a D linear in x, so the two agree in expectation only.  One iteration does what
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


def load_labels(d):
    """MNIST training labels (N,) as int64, or None when d does not hold them."""
    for name in ("train-labels-idx1-ubyte", "train-labels-idx1-ubyte.gz"):
        p = os.path.join(d, name)
        if os.path.exists(p):
            return torch.from_numpy(read_idx(p).astype(np.int64))
    return None


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


def init_like_preset(net):
    """henbun's NN_INIT_AUTO: He before a (leaky) ReLU (dropout passed over), else Glorot; bias 0."""
    mods = list(net)
    for i, m in enumerate(mods):
        if not isinstance(m, nn.Linear):
            continue
        nxt = next((n for n in mods[i + 1:] if not isinstance(n, nn.Dropout)), None)
        if isinstance(nxt, (nn.ReLU, nn.LeakyReLU)):
            nn.init.normal_(m.weight, 0.0, (2.0 / m.in_features) ** 0.5)
        else:
            nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)


def spectral(m, on):
    """--sn: W / sigma(W) with one power-iteration step per training forward (henbun's *_sn)."""
    return nn.utils.spectral_norm(m) if on else m


class CondG(nn.Module):
    """--conditional: G(z, y) = net(z joined with y's one-hot code), as vae/gan.c."""
    def __init__(self, net, classes):
        super().__init__()
        self.net, self.classes = net, classes

    def forward(self, z, y):
        return self.net(torch.cat([z, F.one_hot(y, self.classes).to(z.dtype)], 1))


class ProjD(nn.Module):
    """--conditional: the projection discriminator l(x, y) = psi(phi(x)) + e_y . phi(x), phi the
    input of net's last layer psi, E (classes, features) starting at 0 (vae/gan.h)."""
    def __init__(self, net, classes):
        super().__init__()
        self.body, self.head = net[:-1], net[-1]
        self.embed = nn.Parameter(torch.zeros(classes, self.head.in_features))

    def forward(self, x, y):
        phi = self.body(x).reshape(len(x), -1)
        return self.head(phi) + (self.embed[y] * phi).sum(1, keepdim=True)


def conditional(g, d, classes):
    """The pair for --conditional (classes > 0; G's first layer already reads z + classes)."""
    return (CondG(g, classes), ProjD(d, classes)) if classes else (g, d)


def gen(g, z, y):
    return g(z) if y is None else g(z, y)


def disc(d, x, y):
    return d(x) if y is None else d(x, y)


def sample_labels(g, n, by_column=False):
    """Labels for n samples of a conditional G (None otherwise): uniform, or i % classes."""
    if not isinstance(g, CondG):
        return None
    return torch.arange(n) % g.classes if by_column else torch.randint(0, g.classes, (n,))


def make_models(z=100, sn=False, classes=0):
    g = nn.Sequential(nn.Linear(z + classes, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
                      nn.Linear(512, 784), nn.Sigmoid())
    d = nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                      nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Linear(256, 1))
    init_like_preset(g)
    init_like_preset(d)
    if sn:  # after the init: spectral_norm keeps the initialised weight as weight_orig
        d = nn.Sequential(*[spectral(m, isinstance(m, nn.Linear)) for m in d])
    return conditional(g, d, classes)


class Ema:
    """--ema: theta_bar += (1 - decay) (theta - theta_bar) after each G step (nn/ema.c)."""
    def __init__(self, g, decay):
        self.g, self.decay = g, decay
        self.avg = [p.detach().clone() for p in g.parameters()]

    def update(self):
        with torch.no_grad():
            for a, p in zip(self.avg, self.g.parameters()):
                a.add_(p - a, alpha=1 - self.decay)

    def swap(self):
        """Exchanges G's weights and the averages (twice: back)."""
        with torch.no_grad():
            for a, p in zip(self.avg, self.g.parameters()):
                t = p.detach().clone()
                p.copy_(a)
                a.copy_(t)


def train(g, d, next_real, iters, batch, z, log_every=0, opts=None, ema=None):
    """iters iterations of the alternation; returns the seconds they took.  opts: lr, lr_d,
    lr_g (0: lr), label_smooth, r1 (the flags of build/gan); ema: an Ema of g or None."""
    lr = getattr(opts, "lr", 2e-4)
    lr_d, lr_g = getattr(opts, "lr_d", 0) or lr, getattr(opts, "lr_g", 0) or lr
    smooth, r1 = getattr(opts, "label_smooth", 0), getattr(opts, "r1", 0)
    opt_g = torch.optim.Adam(g.parameters(), lr=lr_g, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=lr_d, betas=(0.5, 0.999))
    t0 = time.perf_counter()
    for it in range(1, iters + 1):
        x, y = next_real()                          # y: the labels with --conditional
        with torch.no_grad():                       # G is fixed during D's step (eq. (20))
            fake = gen(g, torch.randn(batch, z), y)
        if r1 > 0:
            x.requires_grad_(True)
        l_real, l_fake = disc(d, x, y), disc(d, fake, y)  # two forwards: batch statistics apart
        real_term = F.softplus(-l_real)             # -ln D(x); smoothed: target 1 - s
        if smooth > 0:
            real_term = (1 - smooth) * F.softplus(-l_real) + smooth * F.softplus(l_real)
        d_loss = real_term.mean() + F.softplus(l_fake).mean()  # -V
        if r1 > 0:                                  # (gamma/2) E ||grad_x l(x)||^2, exact
            grad, = torch.autograd.grad(l_real.sum(), x, create_graph=True)
            d_loss = d_loss + r1 / 2 * grad.pow(2).reshape(len(x), -1).sum(1).mean()
        opt_d.zero_grad(set_to_none=False)
        d_loss.backward()
        opt_d.step()
        l = disc(d, gen(g, torch.randn(batch, z), y), y)  # the last real batch's labels
        g_loss = F.softplus(-l).mean()              # -E ln D(G(z)), non-saturating
        opt_g.zero_grad(set_to_none=False)
        opt_d.zero_grad(set_to_none=False)
        g_loss.backward()
        opt_g.step()
        if ema is not None:
            ema.update()
        if log_every and it % log_every == 0:
            print(f"iter {it:6d}  d_loss {d_loss.item():.4f}  g_loss {g_loss.item():.4f}", flush=True)
    return time.perf_counter() - t0


def add_quality_flags(ap):
    """The options of build/gan that change the model or its training (issue #20)."""
    ap.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate of G and D")
    ap.add_argument("--lr-d", type=float, default=0, help="D's own rate (TTUR; 0: --lr)")
    ap.add_argument("--lr-g", type=float, default=0, help="G's own rate (TTUR; 0: --lr)")
    ap.add_argument("--ema", type=float, default=0, help="moving average of G for --samples (0: off)")
    ap.add_argument("--sn", action="store_true", help="spectral normalisation of D's layers")
    ap.add_argument("--label-smooth", type=float, default=0, help="D's real target 1 - S")
    ap.add_argument("--r1", type=float, default=0, help="R1 penalty gamma (exact here)")
    ap.add_argument("--conditional", action="store_true",
                    help="class-conditional: G(z, y) and a projection D (vae/gan.h)")
    ap.add_argument("--drs", action="store_true",
                    help="--samples through discriminator rejection sampling")
    ap.add_argument("--drs-gamma", type=float, default=0,
                    help="DRS: shift of the log-odds of keeping (0: exact; < 0 keeps more)")


def drs_sample(g, d, z, n, gamma=0.0, batch=64, burn_in=10000, max_tries=100):
    """n samples of G kept by D (vae/gan.c's gan_drs_sample): a = exp(l - M), kept with
    probability a / (a + (1 - a) e^gamma); M from burn_in samples, raised when exceeded.
    Returns (samples, share kept)."""
    was = d.training
    d.eval()                                       # no dropout; batch norm's running stats
    out, got, tried, kept, m = [], 0, 0, 0, -np.inf
    with torch.no_grad():
        for _ in range(max(1, -(-burn_in // batch))):   # the burn-in fixes M only
            y = sample_labels(g, batch)
            m = max(m, disc(d, gen(g, torch.randn(batch, z), y), y).max().item())
        while got < n and tried < max_tries * n:
            y = sample_labels(g, batch)                 # D judges the pairs
            x = gen(g, torch.randn(batch, z), y)
            logit = disc(d, x, y).reshape(-1).double()
            keep = torch.zeros(batch, dtype=torch.bool)
            for i in range(batch):                 # in order, raising M as henbun does
                m = max(m, logit[i].item())
                a = float(np.exp(logit[i].item() - m))
                p = a if gamma == 0 or a >= 1 else a / (a + (1 - a) * np.exp(gamma))
                keep[i] = bool(torch.rand(()).item() < p)
            out.append(x[keep])
            got, tried, kept = got + int(keep.sum()), tried + batch, kept + int(keep.sum())
    d.train(was)
    return torch.cat(out)[:n], kept / max(tried, 1)


def write_samples(path, g, z, ema, d=None, opts=None):
    """64 samples of G (of its moving average with --ema), G in training mode as henbun's;
    a conditional G one class a column, as samples.png; with opts.drs, kept by D (returns the
    share kept, else None)."""
    if ema is not None:
        ema.swap()
    accept, cols = None, 8
    with torch.no_grad():
        if opts is not None and opts.drs:
            x, accept = drs_sample(g, d, z, 64, opts.drs_gamma)
        else:
            x = gen(g, torch.randn(64, z), sample_labels(g, 64, by_column=True))
            cols = 10 if isinstance(g, CondG) else 8
        write_grid_png(path, x, cols=cols)
    if ema is not None:
        ema.swap()
    return accept


def batches(images, batch, shape, labels=None, classes=0):
    """An endless iterator of shuffled real batches (x, y): y their labels with classes > 0
    (random labels without data), else None; uniform noise without data."""
    def labels_of(idx):
        if not classes:
            return None
        return labels[idx] if labels is not None else torch.randint(0, classes, (batch,))

    def pairs():
        while True:
            if images is None:
                yield torch.rand((batch,) + shape), labels_of(None)
                continue
            perm = torch.randperm(len(images))
            for i in range(0, len(images) - batch + 1, batch):
                idx = perm[i:i + batch]
                yield images[idx].reshape((batch,) + shape), labels_of(idx)
    it = pairs()
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
    add_quality_flags(ap)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    images = load_images(a.data)
    classes = 10 if a.conditional else 0
    next_real = batches(images, a.batch, (784,), load_labels(a.data), classes)
    g, d = make_models(sn=a.sn, classes=classes)
    if a.warmup:
        train(g, d, next_real, a.warmup, a.batch, 100, opts=a)
    ema = Ema(g, a.ema) if a.ema > 0 else None   # after the warm-up: it starts at G
    cpu0 = time.process_time()
    secs = train(g, d, next_real, a.iters, a.batch, 100, a.log_every, opts=a, ema=ema)
    cpu = time.process_time() - cpu0   # CPU time of all threads: the cost on a shared machine
    accept = write_samples(a.samples, g, 100, ema, d, a) if a.samples else None
    print(f"result: sec_per_1000_iters={1000 * secs / a.iters:.2f} "
          f"cpu_sec_per_1000_iters={1000 * cpu / a.iters:.2f} iters={a.iters} seconds={secs:.1f} "
          f"threads={a.threads} data={'mnist' if images is not None else 'synthetic'}"
          + (f" drs_accept={accept:.4f}" if accept is not None else ""))


if __name__ == "__main__":
    main()
