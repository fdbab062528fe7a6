#!/bin/sh
# train_resume.sh — a run stopped by Ctrl-C and resumed ends exactly where an uninterrupted
# run does.  For every training example, a straight run is compared with one stopped after
# a given number of steps (the test hook HENBUN_STOP_AFTER_STEPS of examples/common/run.h
# raises SIGINT there, mostly inside an epoch), then continued with the very command its
# "resume with:" line prints (and, where two stops are listed, stopped and resumed again):
# the checkpoints must be byte-identical and the logs' loss columns the same.  Last, a
# --resume with other flags than the checkpoint's is refused.
. tests/programs/lib/common.sh
need vae gan classify boltzmann anomaly gan2d

# resume_case NAME "STOPS" "CHECKPOINTS" LOG NCOLS PROGRAM ARGS... (--out is added)
resume_case() {
    name=$1 stops=$2 ckpts=$3 log=$4 ncols=$5
    shift 5
    straight="$dir/$name.straight" stopped="$dir/$name.stopped"
    if ! "$@" --out "$straight" >/dev/null 2>"$dir/err"; then
        bad "$name: the uninterrupted run failed:"; sed 's/^/    /' "$dir/err"; return
    fi
    cmd=
    for k in $stops; do
        if [ -z "$cmd" ]; then
            (HENBUN_STOP_AFTER_STEPS=$k; export HENBUN_STOP_AFTER_STEPS
             "$@" --out "$stopped" >/dev/null 2>"$dir/err")
        else
            (HENBUN_STOP_AFTER_STEPS=$k; export HENBUN_STOP_AFTER_STEPS
             eval "$cmd" >/dev/null 2>"$dir/err")
        fi
        status=$?
        if [ $status -ne 130 ]; then
            bad "$name: stopping after $k more steps: exit status $status, expected 130"
            sed 's/^/    /' "$dir/err"; return
        fi
        cmd=$(resume_command "$dir/err")
        if [ -z "$cmd" ]; then
            bad "$name: no 'resume with:' line after the stop:"; sed 's/^/    /' "$dir/err"; return
        fi
    done
    if ! eval "$cmd" >/dev/null 2>"$dir/err"; then
        bad "$name: the resumed run failed: $cmd"; sed 's/^/    /' "$dir/err"; return
    fi
    for f in $ckpts; do
        same "$name (stops after $stops steps): $f as without the stop" "$straight/$f" "$stopped/$f"
    done
    same_log "$name (stops after $stops steps): $log as without the stop" \
        "$straight/$log" "$stopped/$log" "$ncols"
}

data="--data $dir/data"
# 256 images in batches of 32: 8 steps an epoch.  Stops inside an epoch, at its end, and
# twice inside one epoch (its running sums carried over two stops).
vae="build/vae $data --epochs 3 --batch 32 --threads 1 --quiet --pictures-every 100"
resume_case vae-mid 13 vae.ckpt log.csv 7 $vae
resume_case vae-end 8 vae.ckpt log.csv 7 $vae
resume_case vae-twice "3 2" vae.ckpt log.csv 7 $vae
gan="build/gan $data --epochs 3 --batch 32 --threads 1 --quiet --eval-n 0 --score-n 0"
resume_case gan-mid 13 gan.ckpt log.csv 10 $gan
resume_case gan-twice "2 3" gan.ckpt log.csv 10 $gan
resume_case classify 13 classifier.ckpt log.csv 6 build/classify $data --epochs 3 --batch 32 \
    --threads 1 --quiet --net "flatten, linear 32, batchnorm, relu, dropout 0.2, linear 10"
resume_case boltzmann 73 sampler.ckpt log.csv 7 build/boltzmann --energy gmm --iters 200 \
    --log-every 10 --batch 32 --samples 4 --hidden 16 --anneal 100 --eval-n 1000 --mcmc none \
    --latent-draws 0 --threads 1 --quiet
# Two held-out classes; the stop comes in the second epoch of the first.
resume_case anomaly 10 "holdout_3.ckpt holdout_7.ckpt" auroc.csv 5 build/anomaly $data \
    --holdout 3,7 --epochs 2 --batch 32 --threads 1 --quiet
# Two runs of 300 iterations; the stop comes in the second.
resume_case gan2d 420 "run_01.ckpt run_02.ckpt" log.csv 10 build/gan2d --iters 300 \
    --log-every 50 --runs 2 --batch 32 --pictures 0 --threads 1 --quiet

# Programs that take their settings from the flags refuse a checkpoint made with others,
# name the first difference, and change nothing.
(cd "$dir/gan2d.stopped" && cksum ./*) >"$dir/before"
build/gan2d --iters 300 --log-every 50 --runs 2 --batch 32 --pictures 0 --threads 1 --quiet \
    --lr 1e-3 --out "$dir/gan2d.stopped" --resume >/dev/null 2>"$dir/err"
status_is "gan2d: --resume with another --lr is refused" 1 $? "$dir/err"
says "gan2d: the refusal names the flag" "$dir/err" \
    "was made with other flags: lr=0.002 in the checkpoint, lr=0.001 here"
(cd "$dir/gan2d.stopped" && cksum ./*) >"$dir/after"
cmp -s "$dir/before" "$dir/after" && ok "gan2d: the refused --resume changed nothing" ||
    bad "gan2d: the refused --resume changed files in its --out"
exit $failed
