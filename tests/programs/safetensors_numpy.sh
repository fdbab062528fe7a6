#!/bin/sh
# safetensors_numpy.sh — henbun's weights and NumPy's agree, both ways, in both precisions.
# (a) henbun builds the classic VAE (mlp specs, latent 20), exports it, and NumPy
#     (scripts/henbun_safetensors.py) rebuilds the decoder from the metadata and decodes the
#     same 16 fixed codes: every value within 1e-5 of henbun's vae_decode.
# (b) NumPy writes a VAE's weights (float64) and its own decoded pictures; henbun
#     (tests/programs/lib/st_vae.c) loads the weights into its model, decodes, and compares
#     within 1e-5.  A file with one weight changed must then fail the same comparison.
# Needs Debian's python3-numpy (scripts/install_deps.sh installs it); without it this check
# fails and says so.
set -u
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failed=0
ok() { printf 'ok   %s\n' "$*"; }
bad() { printf 'FAIL %s\n' "$*"; failed=1; }

# Debian's interpreter first: python3-numpy installs there, a python3 earlier on PATH
# (pyenv, a virtualenv) may not have it.
py=
for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import numpy' 2>/dev/null; then py=$p; break; fi
done
if [ -z "$py" ]; then
    echo "FAIL NumPy is missing: install python3-numpy (sh scripts/install_deps.sh as root)"
    exit 1
fi
script=scripts/henbun_safetensors.py

"$py" "$script" --help | grep -q "usage" && ok "henbun_safetensors.py --help" ||
    bad "henbun_safetensors.py --help prints no usage"

for real in float double; do
    lib=build/$real/libhenbun.a
    [ -f "$lib" ] || { bad "$lib is missing (run make test)"; continue; }
    flag=; [ $real = double ] && flag=-DAG_DOUBLE
    helper=$dir/st_vae_$real
    if ! ${CC:-cc} -std=c11 -D_DEFAULT_SOURCE -O1 -fopenmp -Wall -Wextra -Werror \
            -Wno-unknown-pragmas $flag -I. -o "$helper" tests/programs/lib/st_vae.c "$lib" \
            -lz -lstb -lm 2>"$dir/err"; then
        bad "$real: cannot build st_vae:"; sed 's/^/    /' "$dir/err"; continue
    fi

    # (a) henbun -> NumPy
    m=$dir/$real.model.safetensors c=$dir/$real.codes.safetensors o=$dir/$real.out.safetensors
    if ! "$helper" export "$m" "$c" 2>"$dir/err"; then
        bad "$real: export failed:"; sed 's/^/    /' "$dir/err"; continue
    fi
    if "$py" "$script" info "$m" >"$dir/info" 2>&1 &&
        grep -q '^decoder = linear 400 init=torch, relu, linear 784 init=torch$' "$dir/info" &&
        grep -q '^decoder.2.linear.weight F[36][24] (784, 400)$' "$dir/info"; then
        ok "$real: NumPy reads the export's metadata and shapes"
    else
        bad "$real: henbun_safetensors.py info:"; sed 's/^/    /' "$dir/info" | head -n 5
    fi
    if ! "$py" "$script" decode "$m" "$c" "$o" 2>"$dir/err"; then
        bad "$real: NumPy decode failed:"; sed 's/^/    /' "$dir/err"; continue
    fi
    if "$py" - "$c" "$o" >"$dir/cmp" 2>&1 <<'PY'
import sys
sys.path.insert(0, "scripts")
import numpy as np
from henbun_safetensors import load
henbun = load(sys.argv[1])[0]["x"]
numpy = load(sys.argv[2])[0]["x"]
assert henbun.shape == numpy.shape == (16, 784), (henbun.shape, numpy.shape)
diff = float(np.max(np.abs(henbun.astype(np.float64) - numpy)))
print("largest difference %.3g over %d values (pictures in %.3f..%.3f)"
      % (diff, henbun.size, float(numpy.min()), float(numpy.max())))
sys.exit(0 if diff <= 1e-5 else 1)
PY
    then
        ok "$real: NumPy decodes henbun's export like vae_decode: $(cat "$dir/cmp")"
    else
        bad "$real: NumPy's pictures differ from henbun's:"; sed 's/^/    /' "$dir/cmp"
    fi

    # (b) NumPy -> henbun: random weights of the same shapes, float64, and NumPy's pictures
    m2=$dir/$real.np-model.safetensors c2=$dir/$real.np-codes.safetensors
    if ! "$py" - "$c" "$m2" "$c2" >"$dir/err" 2>&1 <<'PY'
import sys
sys.path.insert(0, "scripts")
import numpy as np
from henbun_safetensors import load, save, mlp_shapes, MLPDecoder
meta = {"format": "henbun", "model": "vae", "latent": "20", "likelihood": "bernoulli",
        "encoder": "linear 300, tanh, linear 40", "decoder": "linear 300, elu, linear 784",
        "x_shape": "1,28,28"}
rng = np.random.default_rng(7)
arrays = {}
for prefix, n_in in (("encoder", 784), ("decoder", 20)):
    for name, shape in mlp_shapes(meta[prefix], n_in, prefix):
        arrays[name] = rng.normal(0.0, 1.0 / np.sqrt(shape[-1]), shape)
save(sys.argv[2], arrays, meta)
z = load(sys.argv[1])[0]["z"].astype(np.float64)
save(sys.argv[3], {"z": z, "x": MLPDecoder(arrays, meta)(z)})
PY
    then
        bad "$real: NumPy could not write the weights:"; sed 's/^/    /' "$dir/err"; continue
    fi
    if "$helper" import "$m2" "$c2" >"$dir/cmp" 2>&1; then
        ok "$real: $(cat "$dir/cmp")"
    else
        bad "$real: henbun's pictures of NumPy's weights differ:"; sed 's/^/    /' "$dir/cmp"
    fi
    # The comparison can fail: one bias of the last layer moved by 0.01.
    "$py" - "$m2" <<'PY'
import sys
sys.path.insert(0, "scripts")
from henbun_safetensors import load, save
arrays, meta = load(sys.argv[1])
arrays["decoder.2.linear.bias"][123] += 0.01
save(sys.argv[1], arrays, meta)
PY
    if "$helper" import "$m2" "$c2" >"$dir/cmp" 2>&1; then
        bad "$real: a changed weight went unnoticed: $(cat "$dir/cmp")"
    else
        ok "$real: a changed weight is caught"
    fi
done
exit $failed
