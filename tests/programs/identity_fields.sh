#!/bin/sh
# identity_fields.sh — what the harness (examples/common/harness.c) checks before it trusts
# a checkpoint or a flag: a checkpoint whose CRC is valid but whose content is hostile
# (a setting that does not parse, an inf, an unknown choice, a negative or huge epoch or
# step, a NaN weight) is refused with exit 1 naming the field, before anything is written;
# a --resume with a flag that contradicts the checkpoint is refused; a bad flag is exit 2
# and creates no --out.  The checkpoints are made by tiny runs, then rewritten by
# tests/programs/lib/ckpt_edit.py with a correct CRC.
. tests/programs/lib/common.sh
need vae gan classify
edit="python3 tests/programs/lib/ckpt_edit.py"
d="--data $dir/data --threads 1 --quiet"
build/vae $d --epochs 1 --batch 32 --pictures-every 1 --out "$dir/vae" >/dev/null 2>&1 ||
    bad "vae: the good run failed"
build/classify $d --epochs 1 --batch 32 --out "$dir/cls" >/dev/null 2>&1 ||
    bad "classify: the good run failed"
build/gan $d --epochs 1 --batch 32 --eval-n 0 --score-n 0 --out "$dir/gan" >/dev/null 2>&1 ||
    bad "gan: the good run failed"

# refused NAME PATTERN PROGRAM ARGS...: exit 1, a message matching PATTERN, nothing new in
# the checkpoint's directory.
refused() {
    name=$1 pattern=$2
    shift 2
    (cd "$dir/bad" && cksum ./* | sort) >"$dir/before"
    "$@" >/dev/null 2>"$dir/err"
    status_is "$name: refused" 1 $? "$dir/err"
    says "$name: the message names the field" "$dir/err" "$pattern"
    (cd "$dir/bad" && cksum ./* | sort) >"$dir/after"
    cmp -s "$dir/before" "$dir/after" && ok "$name: nothing written" ||
        bad "$name: files changed in the checkpoint's directory"
}

# hostile PROG CKPT EDIT NAME PATTERN ARGS...: a copy of CKPT edited by EDIT, then --resume.
hostile() {
    prog=$1 ckpt=$2 change=$3 name=$4 pattern=$5
    shift 5
    rm -rf "$dir/bad" && mkdir -p "$dir/bad"
    if ! $edit "$ckpt" "$dir/bad/$(basename "$ckpt")" "$change" 2>"$dir/err"; then
        bad "$name: cannot edit the checkpoint"; sed 's/^/    /' "$dir/err"; return
    fi
    refused "$name" "$pattern" build/$prog $d --resume "$dir/bad/$(basename "$ckpt")" "$@"
}

hostile vae "$dir/vae/vae.ckpt" "text:latent=abc" "vae: latent=abc" "field 'latent'" --epochs 2
hostile vae "$dir/vae/vae.ckpt" "text:latent=2147483648" "vae: latent=2^31" "field 'latent'" --epochs 2
hostile vae "$dir/vae/vae.ckpt" "text:lr=inf" "vae: lr=inf" "field 'lr'" --epochs 2
hostile vae "$dir/vae/vae.ckpt" "text:lr=nan" "vae: lr=nan" "field 'lr'" --epochs 2
hostile vae "$dir/vae/vae.ckpt" "text:objective=bogus" "vae: objective=bogus" "field 'objective'" --epochs 2
hostile vae "$dir/vae/vae.ckpt" "text:samples=-3" "vae: samples=-3" "samples" --epochs 2
# A field twice: settings_read keeps the last line, so the check must see every line (found
# by tests/fuzz/fuzz_settings.c: a good first lr= hid an inf after it).
hostile vae "$dir/vae/vae.ckpt" "$(printf 'text:lr=0.001\nlr=inf')" "vae: lr twice" "field 'lr' appears twice" --epochs 2
hostile vae "$dir/vae/vae.ckpt" "nan:0" "vae: a NaN weight" "holds a NaN or an inf" --epochs 2
hostile classify "$dir/cls/classifier.ckpt" "epoch:-1" "classify: epoch -1" "field 'epoch'" --epochs 3
hostile classify "$dir/cls/classifier.ckpt" "epoch:2147483648" "classify: epoch 2^31" "field 'epoch'" --epochs 3
hostile classify "$dir/cls/classifier.ckpt" "text:optim=bogus" "classify: optim=bogus" "field 'optim'" --epochs 3
hostile gan "$dir/gan/gan.ckpt" "step:-5" "gan: step -5" "field 'epoch' or 'step'" --epochs 2
hostile gan "$dir/gan/gan.ckpt" "step:100" "gan: step 100 in epoch 1" "step 100 is not in epoch" --epochs 20

# --eval of a checkpoint holding a NaN weight does not exit 0.
rm -rf "$dir/bad" && mkdir -p "$dir/bad" && $edit "$dir/vae/vae.ckpt" "$dir/bad/vae.ckpt" "nan:0" &&
    refused "vae --eval: a NaN weight" "holds a NaN or an inf" build/vae $d --eval "$dir/bad/vae.ckpt"

# --resume with a flag that contradicts the checkpoint: refused, naming the setting.
rm -rf "$dir/bad" && cp -r "$dir/vae" "$dir/bad"
for f in "--latent 5" "--batch 64" "--lr 0.01"; do
    k=${f#--}; k=${k%% *}
    refused "vae: --resume with $f" "was made with other flags: $k=.* in the checkpoint, $k=.* here" \
        build/vae $d --resume "$dir/bad/vae.ckpt" --epochs 2 $f
done

# A bad flag is exit 2 and creates no --out.
for f in "--pictures-every 0" "--sigma 0" "--warmup -1"; do
    build/vae $d $f --out "$dir/never" >/dev/null 2>"$dir/err"
    status_is "vae $f: exit 2" 2 $? "$dir/err"
    [ ! -e "$dir/never" ] && ok "vae $f: no --out created" || bad "vae $f: --out was created"
done
exit $failed
