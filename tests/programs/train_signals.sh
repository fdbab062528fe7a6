#!/bin/sh
# train_signals.sh — Ctrl-C and SIGTERM: the program finishes its step, saves a checkpoint
# atomically (no temporary file left), says where it stopped and how to resume, and exits
# with 128 + the signal's number; the checkpoint then loads (--eval, --load, --resume).
# SIGINT comes from the test hook HENBUN_STOP_AFTER_STEPS (examples/common/run.h), at an
# exact step; SIGTERM is a real `kill` of a running program, once its first checkpoint is
# on disk.
. tests/programs/lib/common.sh
need vae gan classify boltzmann

data="--data $dir/data"
# stop NAME STEPS PROGRAM ARGS...: runs it with the hook; status 130 and the messages.
stop() {
    name=$1 k=$2
    shift 2
    HENBUN_STOP_AFTER_STEPS=$k "$@" >/dev/null 2>"$dir/$name.err"
    status_is "$name: SIGINT after step $k" 130 $? "$dir/$name.err"
    says "$name: says where it stopped" "$dir/$name.err" \
        "SIGINT: stopped (at|after) .*[0-9]+.*checkpoint"
    says "$name: says how to resume" "$dir/$name.err" "^  resume with: build/$name .*--resume"
}

# loads WHAT COMMAND...: the command (which loads the checkpoint) succeeds.
loads() {
    what=$1
    shift
    if "$@" >"$dir/out" 2>"$dir/err"; then
        ok "$what"
    else
        bad "$what: $*"; sed 's/^/    /' "$dir/err" | tail -n 5
    fi
}

stop vae 13 build/vae $data --epochs 3 --batch 32 --threads 1 --quiet --out "$dir/vae"
loads "vae: the stopped run's checkpoint loads (--eval)" build/vae $data \
    --eval "$dir/vae/vae.ckpt" --threads 1 --measure-n 64 --probe-n 64 --probe-epochs 1
stop classify 13 build/classify $data --epochs 3 --batch 32 --threads 1 --quiet \
    --net "flatten, linear 32, relu, linear 10" --out "$dir/classify"
loads "classify: the stopped run's checkpoint loads (--eval)" build/classify $data \
    --eval "$dir/classify/classifier.ckpt" --threads 1
stop gan 13 build/gan $data --epochs 3 --batch 32 --threads 1 --quiet --eval-n 0 --score-n 0 \
    --out "$dir/gan"
loads "gan: the stopped run's checkpoint loads (--resume)" build/gan $data \
    --resume "$dir/gan/gan.ckpt" --iters 13 --threads 1 --quiet --eval-n 0 --score-n 0
stop boltzmann 73 build/boltzmann --energy gmm --iters 200 --log-every 10 --batch 32 \
    --samples 4 --hidden 16 --eval-n 1000 --mcmc none --latent-draws 0 --threads 1 --quiet \
    --out "$dir/boltzmann"
loads "boltzmann: the stopped run's checkpoint loads (--load)" build/boltzmann --energy gmm \
    --hidden 16 --eval-n 1000 --mcmc none --latent-draws 0 --threads 1 --quiet \
    --out "$dir/boltzmann" --load "$dir/boltzmann/sampler.ckpt"

# A real SIGTERM, whenever it lands: a long run, killed once its first checkpoint exists.
build/gan $data --epochs 100000 --batch 32 --threads 1 --quiet --eval-n 0 --score-n 0 \
    --out "$dir/term" >/dev/null 2>"$dir/term.err" &
pid=$!
i=0
while [ ! -s "$dir/term/gan.ckpt" ] && [ $i -lt 300 ]; do
    sleep 0.1 2>/dev/null || sleep 1
    i=$((i + 1))
done
kill -TERM $pid
wait $pid
status_is "gan: a real SIGTERM" 143 $? "$dir/term.err"
says "gan: says SIGTERM stopped it" "$dir/term.err" "SIGTERM: stopped"
says "gan: SIGTERM: how to resume" "$dir/term.err" "^  resume with: build/gan .*--resume"
loads "gan: the SIGTERM checkpoint loads (--resume)" build/gan $data \
    --resume "$dir/term/gan.ckpt" --iters 1 --threads 1 --quiet --eval-n 0 --score-n 0

if ls "$dir"/*/ | grep -q '\.tmp'; then
    bad "a temporary file was left: $(ls "$dir"/*/ | grep '\.tmp')"
else
    ok "no temporary file left beside the checkpoints"
fi
exit $failed
