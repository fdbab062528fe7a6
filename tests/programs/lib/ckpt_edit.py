#!/usr/bin/env python3
# ckpt_edit.py — rewrites a henbun checkpoint (docs/checkpoint-format.md) with one field
# changed and a correct CRC, so that a test can hand a program a file that is whole but
# hostile.  usage: ckpt_edit.py IN OUT CHANGE, CHANGE one of
#   text:KEY=VALUE   the line "KEY=..." of the meta text becomes "KEY=VALUE"
#   epoch:N, step:N  the i64 field
#   nan:K            the first value of the K-th tensor becomes a NaN
import struct, sys, zlib

src, dst, change = sys.argv[1:4]
b = bytearray(open(src, "rb").read())
assert b[:8] == b"HENBUNCK", "not a checkpoint"
width = struct.unpack_from("<I", b, 12)[0]
kind, _, arg = change.partition(":")
if kind in ("epoch", "step"):
    struct.pack_into("<q", b, 24 if kind == "epoch" else 16, int(arg))
elif kind == "text":
    n = struct.unpack_from("<I", b, 64)[0]
    lines = b[68:68 + n].decode().split("\n")
    key = arg.split("=")[0] + "="
    hits = [i for i, l in enumerate(lines) if l.startswith(key)]
    assert hits, "no line " + key
    lines[hits[0]] = arg
    text = "\n".join(lines).encode()
    b[64:68 + n] = struct.pack("<I", len(text)) + text
elif kind == "nan":
    n = struct.unpack_from("<I", b, 64)[0]
    pos = 68 + n + 4
    for k in range(int(arg) + 1):
        klen = struct.unpack_from("<I", b, pos)[0]
        pos += 4 + klen
        ndim = struct.unpack_from("<I", b, pos)[0]
        shape = struct.unpack_from("<%dI" % ndim, b, pos + 4)
        pos += 4 + 4 * ndim
        if k == int(arg):
            struct.pack_into("<f" if width == 4 else "<d", b, pos, float("nan"))
        size = 1
        for s in shape:
            size *= s
        pos += width * size
else:
    sys.exit("unknown change " + change)
body = bytes(b[:-4])
open(dst, "wb").write(body + struct.pack("<I", zlib.crc32(body) & 0xFFFFFFFF))
