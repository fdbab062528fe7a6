#!/bin/sh
# train_nonfinite.sh — a training that goes non-finite (here: a learning rate of 1e30, so
# the weights overflow within a few steps) stops with exit status 1 and a message naming
# the step and the first tensor at fault, and leaves the checkpoint a good run wrote before
# byte for byte as it was (and no temporary file beside it).  With --fp-trap the program
# dies of SIGFPE at the first overflowing operation instead, saying so.
. tests/programs/lib/common.sh
need vae gan classify boltzmann gan2d anomaly

# expect_nonfinite NAME "FILES" PROGRAM ARGS...: the run fails with the message, and each of
# FILES (checkpoints and logs of a good run before it) is byte for byte as it was.
expect_nonfinite() {
    name=$1 files=$2
    shift 2
    for f in $files; do cksum "$f" 2>&1; done >"$dir/before"
    "$@" >/dev/null 2>"$dir/err"
    status_is "$name: a non-finite run fails" 1 $? "$dir/err"
    says "$name: the message names the step and a tensor" "$dir/err" \
        "non-finite values at .*(step|iteration) [0-9]+.*: first in the (gradient of|parameter) '"
    says "$name: the message says the checkpoint is intact" "$dir/err" \
        "the last checkpoint is left as it was"
    [ -n "$files" ] || return
    for f in $files; do cksum "$f" 2>&1; done >"$dir/after"
    if cmp -s "$dir/before" "$dir/after"; then
        ok "$name: $(echo $files | sed "s|$dir/||g") as before, byte for byte"
    else
        bad "$name: files changed:"; diff "$dir/before" "$dir/after" | sed 's/^/    /'
    fi
}

data="--data $dir/data"
# classify: one good epoch, then --resume with the learning rate overridden: the second
# epoch blows up, the epoch-1 checkpoint and log stay.
classify="build/classify $data --batch 32 --threads 1 --quiet --net"
$classify "flatten, linear 32, relu, linear 10" --epochs 1 --out "$dir/cls" >/dev/null 2>&1 ||
    bad "classify: the good run failed"
expect_nonfinite classify "$dir/cls/classifier.ckpt $dir/cls/log.csv" \
    $classify "flatten, linear 32, relu, linear 10" \
    --resume "$dir/cls/classifier.ckpt" --epochs 3 --lr 1e30

# vae, gan and boltzmann take their settings from a checkpoint or insist on the same ones,
# so here the bad run is a new one into the directory of a good one: it must fail before
# overwriting the checkpoint (a new run's log.csv is new: not compared).
build/vae $data --epochs 1 --batch 32 --threads 1 --quiet --out "$dir/vae" >/dev/null 2>&1 ||
    bad "vae: the good run failed"
expect_nonfinite vae "$dir/vae/vae.ckpt" build/vae $data --epochs 2 --batch 32 --threads 1 --quiet \
    --lr 1e30 --out "$dir/vae"
build/gan $data --epochs 1 --batch 32 --threads 1 --quiet --eval-n 0 --score-n 0 \
    --out "$dir/gan" >/dev/null 2>&1 || bad "gan: the good run failed"
expect_nonfinite gan "$dir/gan/gan.ckpt" build/gan $data --epochs 2 --batch 32 --threads 1 --quiet \
    --eval-n 0 --score-n 0 --lr 1e30 --out "$dir/gan"
bz="build/boltzmann --energy gmm --iters 100 --log-every 10 --batch 32 --samples 4 --hidden 16
    --eval-n 1000 --mcmc none --latent-draws 0 --threads 1 --quiet --out $dir/bz"
$bz >/dev/null 2>&1 || bad "boltzmann: the good run failed"
expect_nonfinite boltzmann "$dir/bz/sampler.ckpt" $bz --lr 1e30
# (a new gan2d or anomaly run deletes the checkpoints of an old one: nothing to keep)
expect_nonfinite gan2d "" build/gan2d --iters 100 --batch 32 --pictures 0 --threads 1 \
    --quiet --lr 1e30 --out "$dir/g2d"
expect_nonfinite anomaly "" build/anomaly $data --holdout 3 --epochs 1 --batch 32 \
    --threads 1 --quiet --lr 1e30 --out "$dir/ano"

# --fp-trap: death by SIGFPE (status 128 + 8) with a message; the checkpoint stays.
cp "$dir/vae/vae.ckpt" "$dir/vae.before"
build/vae $data --epochs 2 --batch 32 --threads 1 --quiet --lr 1e30 --fp-trap \
    --out "$dir/vae" >/dev/null 2>"$dir/err"
status_is "vae --fp-trap: killed by SIGFPE" 136 $? "$dir/err"
says "vae --fp-trap: the message names the exception" "$dir/err" \
    "vae: --fp-trap: an? (overflow|invalid operation|division by zero).* at instruction 0x[0-9a-f]+"
same "vae --fp-trap: the checkpoint is as before" "$dir/vae.before" "$dir/vae/vae.ckpt"
if ls "$dir"/*/ | grep -q '\.tmp'; then
    bad "a temporary file was left behind: $(ls "$dir"/*/ | grep '\.tmp')"
else
    ok "no temporary file left beside the checkpoints"
fi
exit $failed
