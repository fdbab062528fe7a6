#!/usr/bin/env python3
"""henbun_safetensors.py -- henbun's weights in NumPy, with nothing but the standard library
and NumPy (Debian: python3-numpy).  Format and metadata keys: docs/safetensors.md.

As a module:
    arrays, meta = load("vae.safetensors")     # {name: ndarray}, {key: str}
    save("out.safetensors", arrays, meta)       # F32 / F64 as the arrays' dtypes
    dec = MLPDecoder(arrays, meta)              # the VAE decoder the metadata describes
    x = dec(z)                                  # z (N, latent) -> pictures (N, 784)

From the shell (--help for details):
    henbun_safetensors.py info vae.safetensors
    henbun_safetensors.py decode vae.safetensors codes.safetensors out.safetensors
"""
import argparse
import json
import os
import struct
import sys

try:
    import numpy as np
except ImportError:  # say which package, not only which module
    sys.exit("henbun_safetensors.py needs NumPy: apt-get install python3-numpy")

DTYPES = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
HEADER_MAX = 100 << 20


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError("duplicate key %r in the header" % key)
        seen[key] = value
    return seen


def load(path):
    """Reads a .safetensors file: ({name: ndarray}, {metadata key: str}).  The arrays keep
    the file's dtype (float32 or float64).  Raises ValueError on a malformed file."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError("%s: too short for a .safetensors file" % path)
    (n,) = struct.unpack("<Q", buf[:8])
    if n > len(buf) - 8 or n > HEADER_MAX:
        raise ValueError("%s: header length %d does not fit the file" % (path, n))
    header = json.loads(buf[8:8 + n].decode("utf-8"), object_pairs_hook=_no_duplicates)
    meta = header.pop("__metadata__", {})
    data = memoryview(buf)[8 + n:]
    arrays, spans = {}, []
    for name, info in header.items():
        dtype = DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError("%s: tensor %r has dtype %s (F32 or F64 expected)"
                             % (path, name, info["dtype"]))
        shape = tuple(int(d) for d in info["shape"])
        begin, end = (int(x) for x in info["data_offsets"])
        count = int(np.prod(shape, dtype=np.int64))
        if not 0 <= begin <= end <= len(data) or end - begin != count * dtype.itemsize:
            raise ValueError("%s: tensor %r: data_offsets [%d, %d] do not fit shape %s"
                             % (path, name, begin, end, shape))
        arrays[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape).copy()
        spans.append((begin, end))
    spans.sort()
    at = 0
    for begin, end in spans:  # the tensors must tile the data
        if begin != at:
            raise ValueError("%s: the tensors overlap or leave a gap at byte %d" % (path, at))
        at = end
    if at != len(data):
        raise ValueError("%s: %d bytes of data, the tensors cover %d" % (path, len(data), at))
    return arrays, meta


def save(path, arrays, metadata=None):
    """Writes {name: ndarray} (float32 stays F32, anything else becomes F64) and the
    metadata {str: str}, atomically (a temporary file renamed over path)."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, a in arrays.items():
        a = np.asarray(a)
        a = a.astype("<f4" if a.dtype == np.float32 else "<f8")
        raw = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": "F32" if a.dtype.itemsize == 4 else "F64",
                        "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)  # the data starts on a multiple of 8
    tmp = "%s.tmp.%d" % (path, os.getpid())
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for raw in chunks:
                f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# ---- the MLP decoder ------------------------------------------------------------------------

def parse_spec(text):
    """"linear 400 init=torch, relu, linear 784" -> [("linear", [400]), ("relu", []), ...];
    key=value options (init) are dropped: they only matter when henbun creates weights."""
    layers = []
    for part in text.split(","):
        words = [w for w in part.split() if "=" not in w]
        if not words:
            raise ValueError("empty layer in spec %r" % text)
        layers.append((words[0], [float(w) for w in words[1:]]))
    return layers


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow warning for large |x|


ACTIVATIONS = {
    "relu": lambda x, a: np.maximum(x, 0.0),
    "leaky_relu": lambda x, a: np.where(x > 0, x, (a[0] if a else 0.01) * x),
    "elu": lambda x, a: np.where(x > 0, x, (a[0] if a else 1.0) * np.expm1(np.minimum(x, 0.0))),
    "tanh": lambda x, a: np.tanh(x),
    "sigmoid": lambda x, a: _sigmoid(x),
    "softplus": lambda x, a: np.logaddexp(0.0, x),
    "exp": lambda x, a: np.exp(x),
    "dropout": lambda x, a: x,  # evaluation mode: the identity
    "flatten": lambda x, a: x.reshape(x.shape[0], -1),
}


def mlp_shapes(spec_text, n_in, prefix):
    """The parameters an MLP spec creates on inputs of n_in values, as henbun names them:
    [("prefix.0.linear.weight", (400, n_in)), ("prefix.0.linear.bias", (400,)), ...]."""
    shapes = []
    for i, (kind, args) in enumerate(parse_spec(spec_text)):
        if kind == "linear":
            out = int(args[0])
            shapes.append(("%s.%d.linear.weight" % (prefix, i), (out, n_in)))
            shapes.append(("%s.%d.linear.bias" % (prefix, i), (out,)))
            n_in = out
        elif kind not in ACTIVATIONS:
            raise ValueError("layer %d '%s' of %r: this script rebuilds MLPs only (linear "
                             "and activations)" % (i, kind, spec_text))
    return shapes


class MLPDecoder:
    """The VAE decoder of a henbun export: metadata "decoder" (spec text), "latent" and
    "likelihood"; weights "decoder.<i>.linear.weight" (out, in) and ".bias" (out).  Calling
    it maps codes z (N, latent) to the mean of p(x|z): sigmoid of the logits for a
    Bernoulli likelihood, the decoder's output itself for a Gaussian one.  Computes in
    float64."""

    def __init__(self, arrays, meta):
        for key in ("decoder", "latent", "likelihood"):
            if key not in meta:
                raise ValueError("the metadata has no %r (not a henbun VAE export?)" % key)
        self.latent = int(meta["latent"])
        self.likelihood = meta["likelihood"]
        self.layers = parse_spec(meta["decoder"])
        for name, shape in mlp_shapes(meta["decoder"], self.latent, "decoder"):
            if name not in arrays or arrays[name].shape != shape:
                raise ValueError("tensor %s %s: expected shape %s from the spec"
                                 % (name, arrays[name].shape if name in arrays else "missing",
                                    shape))
        self.arrays = arrays

    def __call__(self, z):
        x = np.asarray(z, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.latent:
            raise ValueError("codes must be (N, %d), got %s" % (self.latent, x.shape))
        for i, (kind, args) in enumerate(self.layers):
            if kind == "linear":
                w = self.arrays["decoder.%d.linear.weight" % i].astype(np.float64)
                b = self.arrays["decoder.%d.linear.bias" % i].astype(np.float64)
                x = x @ w.T + b  # PyTorch's layout: weight (out, in)
            else:
                x = ACTIVATIONS[kind](x, args)
        return _sigmoid(x) if self.likelihood == "bernoulli" else x


# ---- command line ---------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Read henbun .safetensors files with NumPy and decode VAE codes.",
        epilog="usage examples:\n"
               "  %(prog)s info vae.safetensors\n"
               "  %(prog)s decode vae.safetensors codes.safetensors out.safetensors\n"
               "codes.safetensors holds a tensor 'z' (N, latent); out gets 'x' (N, 784).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="print the metadata and every tensor's dtype and shape")
    p.add_argument("file")
    p = sub.add_parser("decode", help="decode the codes 'z' of CODES with the VAE decoder of "
                                      "MODEL, write them as 'x' to OUT (float64)")
    p.add_argument("model")
    p.add_argument("codes")
    p.add_argument("out")
    args = ap.parse_args(argv)
    try:
        if args.command == "info":
            arrays, meta = load(args.file)
            for k, v in meta.items():
                print("%s = %s" % (k, v.replace("\n", "\\n")))
            for name, a in arrays.items():
                print("%s %s %s" % (name, "F32" if a.dtype == np.float32 else "F64", a.shape))
        else:
            arrays, meta = load(args.model)
            codes, _ = load(args.codes)
            if "z" not in codes:
                raise ValueError("%s has no tensor 'z'" % args.codes)
            x = MLPDecoder(arrays, meta)(codes["z"])
            save(args.out, {"x": x}, {"decoded_from": args.model})
    except (OSError, ValueError, KeyError) as e:
        print("henbun_safetensors.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
