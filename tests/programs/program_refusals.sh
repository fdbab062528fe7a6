#!/bin/sh
# program_refusals.sh — anomaly and boltzmann refuse what they cannot use before they write
# anything (issue 19 item 8): anomaly with no image to train on (exit 1, not an AUROC of an
# untrained model), a bad flag (exit 2) creating no --out, and boltzmann given another
# program's checkpoint (exit 1, as the README says of a checkpoint that is not its own).
. tests/programs/lib/common.sh
need anomaly boltzmann

# refuses NAME STATUS PATTERN OUT PROGRAM ARGS...: exit STATUS, a message matching
# PATTERN, and OUT not created.
refuses() {
    name=$1 status=$2 pattern=$3 out=$4
    shift 4
    "$@" --out "$out" >/dev/null 2>"$dir/err"
    status_is "$name: refused" "$status" $? "$dir/err"
    says "$name: says why" "$dir/err" "$pattern"
    [ -e "$out" ] && bad "$name: created $out" || ok "$name: --out not created"
}

# One training image, of class 0: holding out 0 leaves nothing to train on.
"$dir/tiny_mnist" "$dir/one" 1 64 || bad "cannot make the one-image data set"
refuses "anomaly: zero training images" 1 "no training images outside class 0" "$dir/a0" \
    build/anomaly --data "$dir/one" --holdout 0 --epochs 1 --batch 32 --threads 1 --quiet
refuses "anomaly: bad --encoder" 2 "unknown layer 'bogus'" "$dir/a1" \
    build/anomaly --data "$dir/data" --holdout 3 --epochs 1 --encoder bogus --threads 1 --quiet
refuses "boltzmann: bad --encoder" 2 "unknown layer 'bogus'" "$dir/b0" \
    build/boltzmann --energy gmm --encoder bogus --threads 1 --quiet

# A good anomaly checkpoint handed to boltzmann.
build/anomaly --data "$dir/data" --holdout 3 --epochs 1 --batch 32 --threads 1 --quiet \
    --out "$dir/an" >/dev/null 2>&1 || bad "anomaly: the good run failed"
refuses "boltzmann: another program's checkpoint" 1 "not a checkpoint of this program" \
    "$dir/b1" build/boltzmann --energy gmm --threads 1 --quiet --resume "$dir/an/holdout_3.ckpt"
refuses "boltzmann: another program's checkpoint (--load)" 1 \
    "not a checkpoint of this program" "$dir/b2" build/boltzmann --energy gmm --threads 1 \
    --quiet --load "$dir/an/holdout_3.ckpt"
exit $failed
