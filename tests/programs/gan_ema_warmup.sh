#!/bin/sh
# gan_ema_warmup.sh — --ema-warmup (nn/ema.h: decay min(DECAY, (1+t)/(10+t)) at G step t) in
# build/gan and build/gan2d: --help names it, it is refused without --ema (exit 2, nothing
# created), it changes the average but no step of training, a run stopped after one epoch
# and resumed ends in the very checkpoint of the straight run (t comes back from the
# checkpoint's step count), and a --resume without it is refused.
. tests/programs/lib/common.sh
need gan gan2d
d="--data $dir/data --threads 1 --quiet"

for p in gan gan2d; do
    if build/$p --help 2>&1 | grep -q -- --ema-warmup; then ok "$p --help names --ema-warmup"
    else bad "$p --help lacks --ema-warmup"; fi
done
# shellcheck disable=SC2086
build/gan $d --ema-warmup --out "$dir/never" >/dev/null 2>"$dir/err"
status_is "gan --ema-warmup without --ema" 2 $? "$dir/err"
says "the refusal says why" "$dir/err" "--ema-warmup .*--ema"
build/gan2d --threads 1 --quiet --ema-warmup --out "$dir/never" >/dev/null 2>"$dir/err"
status_is "gan2d --ema-warmup without --ema" 2 $? "$dir/err"
if [ -e "$dir/never" ]; then bad "--out was created"; else ok "nothing created"; fi

w="$d --batch 32 --eval-n 0 --score-n 0 --ema 0.999"
# shellcheck disable=SC2086
build/gan $w --epochs 2 --out "$dir/plain" >/dev/null 2>"$dir/err"
status_is "gan --ema 0.999" 0 $? "$dir/err"
# shellcheck disable=SC2086
build/gan $w --ema-warmup --epochs 2 --out "$dir/a" >/dev/null 2>"$dir/err"
status_is "gan --ema 0.999 --ema-warmup" 0 $? "$dir/err"
if python3 tests/programs/lib/ckpt_compare.py "$dir/a/gan.ckpt" "$dir/plain/gan.ckpt" 0 \
        ema. progress. >"$dir/cmp" 2>&1; then
    ok "--ema-warmup leaves G, D and Adam's state as without it"
else bad "--ema-warmup changed training: $(cat "$dir/cmp")"; fi
if python3 tests/programs/lib/ckpt_compare.py "$dir/a/gan.ckpt" "$dir/plain/gan.ckpt" 0.01 \
        opt_ progress. >"$dir/cmp" 2>&1; then
    bad "--ema-warmup did not change the average: $(cat "$dir/cmp")"
else ok "--ema-warmup changes the average ($(tail -n 1 "$dir/cmp"))"; fi
# shellcheck disable=SC2086
build/gan $w --ema-warmup --epochs 1 --out "$dir/b" >/dev/null 2>"$dir/err" &&
    build/gan $d --resume "$dir/b/gan.ckpt" --epochs 2 --eval-n 0 --score-n 0 >/dev/null 2>"$dir/err"
status_is "gan --ema-warmup resumed" 0 $? "$dir/err"
same "--ema-warmup: 1 + 1 epochs resumed = 2 straight" "$dir/a/gan.ckpt" "$dir/b/gan.ckpt"
build/gan $d --resume "$dir/b/gan.ckpt" --epochs 3 --ema 0.999 --eval-n 0 --score-n 0 \
    --ema-warmup >/dev/null 2>"$dir/err"
status_is "gan --resume with the same --ema-warmup" 0 $? "$dir/err"
build/gan $d --resume "$dir/plain/gan.ckpt" --epochs 3 --ema 0.999 --ema-warmup --eval-n 0 \
    --score-n 0 >/dev/null 2>"$dir/err"
status_is "gan --resume of a run without it, with --ema-warmup" 1 $? "$dir/err"
says "the refusal names the field" "$dir/err" "other flags: ema_warmup=0 in the checkpoint"

# gan2d: a finished run with it, then --resume without it is refused.
g2="--iters 200 --log-every 100 --runs 1 --batch 32 --pictures 0 --threads 1 --quiet --ema 0.99"
# shellcheck disable=SC2086
build/gan2d $g2 --ema-warmup --out "$dir/g2" >/dev/null 2>"$dir/err"
status_is "gan2d --ema --ema-warmup" 0 $? "$dir/err"
# shellcheck disable=SC2086
build/gan2d $g2 --resume --out "$dir/g2" >/dev/null 2>"$dir/err"
status_is "gan2d --resume without --ema-warmup" 1 $? "$dir/err"
says "the refusal names ema_warmup" "$dir/err" "ema_warmup=1"
exit $failed
