#!/bin/sh
# export_programs.sh — --export FILE.safetensors on vae, gan and classify (docs/safetensors.md):
# after one epoch on the tiny data, --eval of the export prints the very figures --eval of the
# checkpoint prints (the weights-only load of either); --eval CKPT --export converts a
# checkpoint; --resume of an export is refused (no optimizer state in it); a file of another
# program is refused naming it.  And the NumPy script decodes the VAE's export from its
# metadata alone: henbun, loading the same file, decodes the same codes within 1e-5.
. tests/programs/lib/common.sh
need vae gan classify
d="--data $dir/data --threads 1 --quiet --batch 32 --epochs 1"
py=/usr/bin/python3

# figures FILE: the result line without wall-clock figures.
figures() { grep '^result:' "$1" | sed -E 's/ [a-z0-9_]*sec[a-z0-9_]*=[^ ]*//g'; }

for p in vae classify gan; do
    case $p in
    vae) ckpt=vae.ckpt; extra="--measure-n 64 --measure-outer 16 --probe-epochs 0" ;;
    gan) ckpt=gan.ckpt; extra="--eval-n 0 --score-n 0" ;;
    classify) ckpt=classifier.ckpt; extra= ;;
    esac
    e=$dir/$p.safetensors
    # shellcheck disable=SC2086
    build/$p $d $extra --out "$dir/$p" --export "$e" >"$dir/out" 2>"$dir/err"
    status_is "$p: trains and exports" 0 $? "$dir/err"
    says "$p: names the export" "$dir/out" "^weights in $e "
    # gan --eval scores samples with a classifier: the one trained just above
    [ $p = gan ] && extra="--eval-n 64 --classifier $dir/classify/classifier.ckpt"
    # shellcheck disable=SC2086
    build/$p --data "$dir/data" --threads 1 --quiet $extra --eval "$dir/$p/$ckpt" --out "$dir/e1" \
        >"$dir/ev1" 2>"$dir/err" || bad "$p: --eval of the checkpoint failed"
    # shellcheck disable=SC2086
    build/$p --data "$dir/data" --threads 1 --quiet $extra --eval "$e" --out "$dir/e2" \
        >"$dir/ev2" 2>"$dir/err"
    status_is "$p: --eval of the export" 0 $? "$dir/err"
    figures "$dir/ev1" >"$dir/f1"
    figures "$dir/ev2" >"$dir/f2"
    same "$p: --eval of the export gives the checkpoint's figures" "$dir/f1" "$dir/f2"
    # shellcheck disable=SC2086
    build/$p --data "$dir/data" --threads 1 --quiet --resume "$e" >/dev/null 2>"$dir/err"
    status_is "$p: --resume of an export is refused" 1 $? "$dir/err"
    says "$p: ... saying why" "$dir/err" "holds the weights only"
done

# --eval CKPT --export: the same tensors as the training run's export, byte for byte.
build/gan --data "$dir/data" --threads 1 --quiet --eval-n 64 --classifier "$dir/classify/classifier.ckpt" --eval "$dir/gan/gan.ckpt" \
    --export "$dir/gan2.safetensors" --out "$dir/e3" >/dev/null 2>"$dir/err"
status_is "gan: --eval CKPT --export converts the checkpoint" 0 $? "$dir/err"
same "gan: the converted file equals the training run's export" "$dir/gan.safetensors" "$dir/gan2.safetensors"
build/vae --data "$dir/data" --threads 1 --quiet --eval "$dir/classify.safetensors" >/dev/null 2>"$dir/err"
status_is "vae: --eval of classify's export is refused" 1 $? "$dir/err"
says "vae: ... naming it" "$dir/err" "not a vae export"

# NumPy decodes the VAE's export; henbun decodes NumPy's codes with the same file.
if ! "$py" -c 'import numpy' 2>/dev/null; then
    bad "NumPy is missing: install python3-numpy (sh scripts/install_deps.sh as root)"
    exit 1
fi
"$py" - "$dir/codes.safetensors" <<'PY' || bad "cannot write the codes"
import sys
sys.path.insert(0, "scripts")
import numpy as np
from henbun_safetensors import save
save(sys.argv[1], {"z": np.random.default_rng(5).standard_normal((16, 20)).astype(np.float32)})
PY
if "$py" scripts/henbun_safetensors.py decode "$dir/vae.safetensors" "$dir/codes.safetensors" \
        "$dir/x.safetensors" 2>"$dir/err"; then
    ok "NumPy decodes build/vae --export's file from its metadata"
else
    bad "NumPy cannot decode the export:"; sed 's/^/    /' "$dir/err"
fi
"$py" - "$dir/codes.safetensors" "$dir/x.safetensors" "$dir/both.safetensors" <<'PY' || bad "cannot pair codes and pictures"
import sys
sys.path.insert(0, "scripts")
from henbun_safetensors import load, save
save(sys.argv[3], {"z": load(sys.argv[1])[0]["z"], "x": load(sys.argv[2])[0]["x"]})
PY
if ${CC:-cc} -std=c11 -D_DEFAULT_SOURCE -O1 -fopenmp -Wno-unknown-pragmas -I. -o "$dir/st_vae" \
        tests/programs/lib/st_vae.c build/float/libhenbun.a -lz -lstb -lm 2>"$dir/err"; then
    if "$dir/st_vae" import "$dir/vae.safetensors" "$dir/both.safetensors" >"$dir/cmp" 2>&1; then
        ok "henbun decodes like NumPy with the exported file: $(cat "$dir/cmp")"
    else
        bad "henbun and NumPy decode the export differently:"; sed 's/^/    /' "$dir/cmp"
    fi
else
    bad "cannot build st_vae:"; sed 's/^/    /' "$dir/err"
fi
exit $failed
