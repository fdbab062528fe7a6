#!/bin/sh
# gan_conditional.sh — build/gan --conditional (a class-conditional GAN: G(z, y) and a
# projection D, vae/gan.h): --help explains it; a run trains, scores and draws samples.png
# with one class a column (10 columns, not 8); the checkpoint keeps conditional=1, so a
# --resume without the flag goes on exactly (the same gan.ckpt as a straight run) and a
# --resume of an unconditional checkpoint with it is refused naming the setting; --eval of
# the checkpoint and of its --export give the same scores; a run without the flag writes
# no conditional=1; a label above 9 is refused (exit 1, nothing written).
. tests/programs/lib/common.sh
need gan classify
d="--data $dir/data --threads 1 --quiet"

build/gan --help >"$dir/help" 2>&1
says "--help names --conditional" "$dir/help" "--conditional +a class-conditional GAN"
says "--help explains the projection D" "$dir/help" "l\(x, y\) = psi\(phi\(x\)\) \+ e_y"

build/classify $d --net "linear 32, relu, linear 10" --epochs 1 --batch 32 --out "$dir/cls" >/dev/null 2>&1
c="$d --batch 32 --score-n 0 --eval-n 64 --classifier $dir/cls/classifier.ckpt"
# shellcheck disable=SC2086
build/gan $c --epochs 2 --conditional --out "$dir/c2" >"$dir/c2.out" 2>"$dir/err"
status_is "gan --conditional, 2 epochs" 0 $? "$dir/err"
# shellcheck disable=SC2086
build/gan --data "$dir/data" --threads 1 --batch 32 --score-n 0 --eval-n 0 --epochs 1 --conditional \
    --out "$dir/c1v" >"$dir/c1v.out" 2>"$dir/err"
says "the header names the projection D" "$dir/c1v.out" "conditional: G reads z and a one-hot label \(100 \+ 10 values\)"
says "the result line" "$dir/c2.out" "^result: inception_score=[0-9.]+ classes=[0-9]+ "
if grep -aq "conditional=1" "$dir/c2/gan.ckpt"; then ok "gan.ckpt keeps conditional=1"
else bad "gan.ckpt lacks conditional=1"; fi

# samples.png: 64 tiles in 10 columns (one class each) against 8 without the flag
# shellcheck disable=SC2086
build/gan $c --epochs 1 --out "$dir/p1" >/dev/null 2>"$dir/err"
status_is "gan without --conditional" 0 $? "$dir/err"
if grep -aq "conditional=" "$dir/p1/gan.ckpt"; then bad "an unconditional gan.ckpt names conditional"
else ok "an unconditional gan.ckpt does not name conditional"; fi
width() { python3 -c 'import struct,sys; print(struct.unpack(">I", open(sys.argv[1],"rb").read()[16:20])[0])' "$1"; }
wc_=$(width "$dir/c2/samples.png") wp=$(width "$dir/p1/samples.png")
if [ -n "$wc_" ] && [ -n "$wp" ] && awk -v a="$wc_" -v b="$wp" 'BEGIN { exit !(a * 8 > b * 9.5) }'; then
    ok "samples.png has 10 columns with --conditional ($wc_ px against $wp for 8)"
else bad "samples.png: $wc_ px with --conditional, $wp without"; fi

# --resume keeps the setting: 1 epoch, then resumed to 2 without the flag, as the straight run
# shellcheck disable=SC2086
build/gan $c --epochs 1 --conditional --out "$dir/r" >/dev/null 2>"$dir/err"
# shellcheck disable=SC2086
build/gan $c --epochs 2 --resume "$dir/r/gan.ckpt" --out "$dir/r" >/dev/null 2>"$dir/err"
status_is "--resume of a conditional run without the flag" 0 $? "$dir/err"
same "resumed: the straight run's gan.ckpt" "$dir/c2/gan.ckpt" "$dir/r/gan.ckpt"
# shellcheck disable=SC2086
build/gan $c --epochs 2 --resume "$dir/p1/gan.ckpt" --conditional --out "$dir/p1" >/dev/null 2>"$dir/err"
status_is "--resume of an unconditional run with --conditional" 1 $? "$dir/err"
says "the refusal names the setting" "$dir/err" "conditional=0 in the checkpoint, conditional=1 here"

# --eval of the checkpoint and of its export
e="$d --eval-n 64 --classifier $dir/cls/classifier.ckpt"
# shellcheck disable=SC2086
build/gan $e --eval "$dir/c2/gan.ckpt" --export "$dir/c.safetensors" --out "$dir/ev1" >"$dir/ev1.out" 2>"$dir/err"
status_is "--eval of a conditional checkpoint" 0 $? "$dir/err"
# shellcheck disable=SC2086
build/gan $e --eval "$dir/c.safetensors" --out "$dir/ev2" >"$dir/ev2.out" 2>"$dir/err"
status_is "--eval of its export" 0 $? "$dir/err"
grep -o 'inception_score=.*eval_n=[0-9]*' "$dir/ev1.out" >"$dir/s1"
grep -o 'inception_score=.*eval_n=[0-9]*' "$dir/ev2.out" >"$dir/s2"
same "the export scores as the checkpoint (the setting travels in its metadata)" "$dir/s1" "$dir/s2"
# a label G's one-hot cannot hold: refused before anything is written
cp -r "$dir/data" "$dir/bad"
python3 - "$dir/bad/mnist/train-labels-idx1-ubyte" <<'PY'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
b[8 + 5] = 12                      # the 6th label (after the 8-byte IDX header)
open(sys.argv[1], 'wb').write(b)
PY
refuses "a label of 12 with --conditional" 1 "mnist: a label is 12, --conditional takes 0\.\.9" \
    build/gan --data "$dir/bad" --threads 1 --quiet --batch 32 --epochs 1 --conditional --score-n 0 --eval-n 0
exit $failed
