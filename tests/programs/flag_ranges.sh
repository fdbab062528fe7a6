#!/bin/sh
# flag_ranges.sh — every numeric flag of vae, gan and classify has a range and a finiteness
# check (their option tables, examples/common/cli.h): the values issue #19 found crashing or
# silently replaced are refused (the learning rate may go up to 1e30: train_nonfinite.sh
# drives runs to NaN with one) with exit 2, a message naming the flag, and no --out made;
# flags whose product sizes a step's memory are refused together (cli_product); spec text
# errors show the text with a caret under the column, naming the flag.
. tests/programs/lib/common.sh
need vae gan classify
out="$dir/never"

# refused PROGRAM 'FLAGS' PATTERN: exit 2, stderr matches PATTERN, nothing created.
refused() {
    prog=$1 flags=$2 want=$3
    # shellcheck disable=SC2086
    build/$prog --data "$dir/data" --threads 1 --quiet $flags --out "$out" >/dev/null 2>"$dir/err"
    rc=$?
    if [ $rc -ne 2 ]; then bad "$prog $flags: exit $rc, expected 2"; sed 's/^/    /' "$dir/err" | tail -n 3
    elif ! grep -Eq -- "$want" "$dir/err"; then bad "$prog $flags: no /$want/ in: $(cat "$dir/err")"
    elif [ -e "$out" ]; then bad "$prog $flags: $out was created"; rm -rf "$out"
    else ok "$prog $flags -> $(head -n 1 "$dir/err")"; fi
}

for p in vae gan classify; do
    refused $p "--epochs 2147483647" "--epochs: must be in \[0, 1000000\]"
    refused $p "--epochs -1" "--epochs: must be in"
    refused $p "--lr inf" "--lr: must be a finite number"
    refused $p "--lr nan" "--lr: must be a finite number"
    refused $p "--lr -0.001" "--lr: must be in \(0, 1e\+30\]"
    refused $p "--lr 0" "--lr: must be in \(0, 1e\+30\]"
    refused $p "--batch 100000000" "--batch: must be in"
    refused $p "--batch 0" "--batch: must be in"
    refused $p "--threads 10000" "--threads: must be in \[0, "
    refused $p "--threads -1" "--threads: must be in \[0, "
    refused $p "--seed -1" "--seed"
done
refused vae "--pictures-every 0" "--pictures-every: must be in \[1, "
refused vae "--kernel-scale nan" "--kernel-scale: must be a finite number"
refused vae "--kernel-scale 0" "--kernel-scale: must be in \(0, "
refused vae "--latent 2147483647" "--latent: must be in \[1, 4096\]"
refused vae "--samples 2147483647" "--samples: must be in \[1, 10000\]"
refused vae "--sigma 0" "--sigma: must be in \(0, "
refused vae "--sigma -1" "--sigma: must be in \(0, "
refused vae "--beta -1" "--beta: must be in \[0, "
refused vae "--warmup -1" "--warmup: must be in \[0, "
refused vae "--lr-min nan" "--lr-min: must be a finite number"
refused vae "--iwae-k -1" "--iwae-k: must be in"
refused vae "--probe-epochs 1000000000" "--probe-epochs: must be in"
refused vae "--batch 65536 --samples 10000" "--batch 65536 x --samples 10000 x 784 values is too large"
refused vae "--iwae-k 100000 --latent 4096" "--iwae-k 100000 x 8192 values is too large"
refused gan "--latent 2147483647" "--latent: must be in \[1, 4096\]"
refused gan "--d-steps 2147483647" "--d-steps: must be in"
refused gan "--iters -5" "--iters: must be in"
refused gan "--beta1 1" "--beta1: must be in \[0, 1\)"
refused gan "--eval-n 2147483647" "--eval-n: must be in"
refused gan "--score-n -1" "--score-n: must be in"
refused classify "--warmup -1" "--warmup: must be in \[0, "
refused classify "--weight-decay nan" "--weight-decay: must be a finite number"
refused classify "--weight-decay -1" "--weight-decay: must be in \[0, "

# spec text: the flag, the message, then the text and a caret under the column.
caret() {
    prog=$1 flag=$2 spec=$3 col=$4
    extra=
    [ "$prog" = gan ] && extra="--eval-n 0 --score-n 0" # no classifier needed
    # shellcheck disable=SC2086
    build/$prog --data "$dir/data" --threads 1 --quiet $extra "$flag" "$spec" --out "$out" \
        >/dev/null 2>"$dir/err"
    rc=$?
    pad=$(printf "%$((col + 1))s" "")
    if [ $rc -ne 2 ]; then bad "$prog $flag '$spec': exit $rc, expected 2"; sed 's/^/    /' "$dir/err"
    elif ! grep -q -- "^$prog: $flag: spec:$col: " "$dir/err" ||
         ! grep -qxF -- "  $spec" "$dir/err" || ! grep -qx -- "$pad^" "$dir/err"; then
        bad "$prog $flag '$spec': no caret display at column $col:"; sed 's/^/    /' "$dir/err"
    elif [ -e "$out" ]; then bad "$prog $flag: $out was created"; rm -rf "$out"
    else ok "$prog $flag: spec error with a caret under column $col"; fi
}
caret vae --encoder "linear 400, relu, lineer 40" 19
caret vae --decoder "linear 400, relu, linear 78x" 26
caret gan --generator "linear 400, relu, linear 7x" 26
caret gan --discriminator "linear 400, bogus, linear 1" 13
caret classify --net "linear 400, relu, linear 7x" 26
exit $failed
