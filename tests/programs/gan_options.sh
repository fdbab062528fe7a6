#!/bin/sh
# gan_options.sh — the GAN quality options of issue #20 in build/gan and build/gan2d: --help
# names them, out-of-range values are refused (exit 2, the flag named, nothing created), a
# short run with all of them on saves G's moving average and D's spectral-norm vectors, a
# run stopped after one epoch and resumed ends in the very checkpoint of the straight run,
# --resume with another value is refused, --ema leaves training untouched (G and D equal to
# a run without it), --eval scores both G's own weights and the average, and gan2d --ema
# scores both and refuses a --resume without it.
. tests/programs/lib/common.sh
need gan gan2d classify
d="--data $dir/data --threads 1 --quiet"

build/gan --help >"$dir/help" 2>&1
for f in --lr-d --lr-g --ema --sn --label-smooth --r1 ema.generator linear_sn; do
    if grep -q -- "$f" "$dir/help"; then ok "gan --help names $f"; else bad "gan --help lacks $f"; fi
done
build/gan2d --help >"$dir/help2" 2>&1
if grep -q -- "--ema" "$dir/help2"; then ok "gan2d --help names --ema"; else bad "gan2d --help lacks --ema"; fi

gan_refused gan "--ema 1" "--ema: must be in \[0, 1\)"
gan_refused gan "--ema -0.1" "--ema: must be in"
gan_refused gan "--ema nan" "--ema: must be a finite number"
gan_refused gan "--label-smooth 0.6" "--label-smooth: must be in \[0, 0.5\]"
gan_refused gan "--r1 -1" "--r1: must be in"
gan_refused gan "--lr-d -1e-4" "--lr-d: must be in"
gan_refused gan "--lr-g inf" "--lr-g: must be a finite number"
gan_refused gan "--sn --discriminator linear_1" "--discriminator|--sn"
gan_refused gan2d "--ema 1" "--ema: must be in \[0, 1\)"

# All options on, 2 epochs straight, and 1 + 1 with --resume: the same checkpoint.
all="--batch 32 --eval-n 0 --score-n 0 --ema 0.9 --sn --lr-d 4e-4 --lr-g 1e-4 --label-smooth 0.1 --r1 1"
# shellcheck disable=SC2086
build/gan $d $all --epochs 2 --out "$dir/a" >/dev/null 2>"$dir/err"
status_is "gan with every option" 0 $? "$dir/err"
for t in ema.generator.0.linear.weight discriminator.0.linear_sn.u discriminator.0.linear_sn.v; do
    if grep -aq "$t" "$dir/a/gan.ckpt"; then ok "gan.ckpt holds $t"; else bad "gan.ckpt lacks $t"; fi
done
# shellcheck disable=SC2086
build/gan $d $all --epochs 1 --out "$dir/b" >/dev/null 2>"$dir/err" &&
    build/gan $d --resume "$dir/b/gan.ckpt" --epochs 2 --eval-n 0 --score-n 0 >/dev/null 2>"$dir/err"
status_is "gan resumed with every option" 0 $? "$dir/err"
same "every option: 1 + 1 epochs resumed = 2 straight" "$dir/a/gan.ckpt" "$dir/b/gan.ckpt"
build/gan $d --resume "$dir/b/gan.ckpt" --epochs 3 --ema 0.5 --eval-n 0 --score-n 0 >/dev/null 2>"$dir/err"
status_is "gan --resume with another --ema" 1 $? "$dir/err"
says "the refusal names the field" "$dir/err" "other flags: ema=0.9"

# --ema changes no step of training: G and D as without it.
build/gan $d --batch 32 --eval-n 0 --score-n 0 --epochs 1 --out "$dir/plain" >/dev/null 2>&1
build/gan $d --batch 32 --eval-n 0 --score-n 0 --epochs 1 --ema 0.99 --out "$dir/ema" >/dev/null 2>&1
if python3 tests/programs/lib/ckpt_compare.py "$dir/ema/gan.ckpt" "$dir/plain/gan.ckpt" 0 \
        ema. progress. >"$dir/cmp" 2>&1; then
    ok "--ema leaves G, D and Adam's state as without it"
else bad "--ema changed training: $(cat "$dir/cmp")"; fi

# --eval of an --ema checkpoint: both G's own weights and the average are scored.
build/classify $d --arch mlp --epochs 1 --batch 32 --out "$dir/cls" >/dev/null 2>&1
build/gan $d --eval "$dir/ema/gan.ckpt" --classifier "$dir/cls/classifier.ckpt" --eval-n 64 \
    >"$dir/eval" 2>"$dir/err"
status_is "gan --eval of an --ema checkpoint" 0 $? "$dir/err"
says "it scores G's own weights" "$dir/eval" "generated \(G's own weights\)"
says "and the moving average" "$dir/eval" "generated \(moving average of G\)"
says "the result line has both" "$dir/eval" "own_inception_score=.* inception_score="

# gan2d --ema: both scored; a --resume without it is refused.
g2="--iters 100 --log-every 50 --runs 1 --batch 32 --pictures 0 --threads 1"
# shellcheck disable=SC2086
build/gan2d $g2 --ema 0.9 --out "$dir/g2" >"$dir/g2.out" 2>"$dir/err"
status_is "gan2d --ema" 0 $? "$dir/err"
says "gan2d scores G's own weights too" "$dir/g2.out" "G's own weights \(the same runs"
# shellcheck disable=SC2086
build/gan2d $g2 --resume --out "$dir/g2" >/dev/null 2>"$dir/err"
status_is "gan2d --resume without --ema" 1 $? "$dir/err"
says "the refusal names ema" "$dir/err" "ema=0.9"
exit $failed
