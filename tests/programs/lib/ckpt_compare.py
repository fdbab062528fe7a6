#!/usr/bin/env python3
# ckpt_compare.py — do two henbun checkpoints (docs/checkpoint-format.md) hold the same
# model up to a tolerance?  For tests/programs/dist_programs.sh: N ranks against one process.
# usage: ckpt_compare.py A B RTOL [SKIP_PREFIX...]
# Every tensor (except those whose name starts with a SKIP_PREFIX: optimizer state, pictures)
# must be in both with the same shape, and ‖a − b‖ / ‖b‖ <= RTOL.  Prints the worst tensor;
# exit 0 when all agree, 1 when not.
import math, struct, sys


def tensors(path):
    b = open(path, "rb").read()
    if b[:8] != b"HENBUNCK":
        sys.exit("%s: not a checkpoint" % path)
    width = struct.unpack_from("<I", b, 12)[0]
    n = struct.unpack_from("<I", b, 64)[0]
    count = struct.unpack_from("<I", b, 68 + n)[0]
    pos, out = 68 + n + 4, {}
    for _ in range(count):
        klen = struct.unpack_from("<I", b, pos)[0]
        name = b[pos + 4:pos + 4 + klen].decode()
        pos += 4 + klen
        ndim = struct.unpack_from("<I", b, pos)[0]
        shape = struct.unpack_from("<%dI" % ndim, b, pos + 4)
        pos += 4 + 4 * ndim
        size = math.prod(shape)
        out[name] = (shape, struct.unpack_from("<%d%s" % (size, "f" if width == 4 else "d"), b, pos))
        pos += width * size
    return out


a, b, rtol, skip = tensors(sys.argv[1]), tensors(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
worst, worst_name, count = 0.0, "", 0
for name, (shape, vb) in b.items():
    if any(name.startswith(s) for s in skip):
        continue
    if name not in a or a[name][0] != shape:
        sys.exit("%s: no tensor %s of shape %s as in %s" % (sys.argv[1], name, shape, sys.argv[2]))
    va = a[name][1]
    d2 = sum((x - y) * (x - y) for x, y in zip(va, vb))
    b2 = sum(y * y for y in vb)
    rel = math.sqrt(d2 / b2) if b2 > 0 else math.sqrt(d2)
    if not math.isfinite(rel):
        rel = math.inf
    if rel >= worst:
        worst, worst_name = rel, name
    count += 1
if count == 0:
    sys.exit("no tensor to compare")
print("%d tensors, worst relative difference %.3g (%s), tolerance %g" % (count, worst, worst_name, rtol))
sys.exit(0 if worst <= rtol else 1)
