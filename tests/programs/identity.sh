#!/bin/sh
# identity.sh — the programs' results do not change when their code is reorganised.  Each
# training program runs a fixed short job on the tiny generated data set (fixed seed, one
# thread), and its checkpoints and pictures (by SHA-256: byte for byte), its CSV logs and
# what it prints (both without the wall-clock figures) must equal the files recorded in
# tests/programs/identity/.  Also a --eval of a saved model, and a run stopped mid-epoch and
# resumed, which must end in the very checkpoint of the straight run.
#
# Bits of floating point depend on the compiler, its flags and the CPU (-march=native picks
# the kernels), so the recorded files hold for the build they were made with, named in
# identity/build.txt; on another build the check says so and compares nothing.  To record
# them again (only when a change is meant to alter results, said so in its commit):
#   HENBUN_IDENTITY_RECORD=1 sh tests/programs/identity.sh
. tests/programs/lib/common.sh
need vae gan classify boltzmann anomaly gan2d
expect=tests/programs/identity
record=${HENBUN_IDENTITY_RECORD:-0}

# What the results depend on besides the code.
fingerprint() {
    ${CC:-cc} --version | head -n 1
    cat build/float/.flags 2>/dev/null
    ldd --version 2>&1 | head -n 1
    grep -m 1 '^flags' /proc/cpuinfo | cksum
    # the GEMM's K blocking follows the caches (autograd/gemm.c), and with it the sums' order
    getconf LEVEL1_DCACHE_SIZE 2>/dev/null; getconf LEVEL1_DCACHE_ASSOC 2>/dev/null
    getconf LEVEL2_CACHE_SIZE 2>/dev/null; getconf LEVEL2_CACHE_ASSOC 2>/dev/null
}
fingerprint >"$dir/build.txt"
if [ "$record" = 1 ]; then
    cp "$dir/build.txt" "$expect/build.txt"
elif ! cmp -s "$dir/build.txt" "$expect/build.txt"; then
    echo "skip: the recorded results were made by another build or CPU:"
    diff "$expect/build.txt" "$dir/build.txt" | sed 's/^/    /'
    exit 0
fi

# Wall-clock figures vary from run to run: fields of the result line and log columns whose
# name holds "sec" (seconds, sec_per_epoch, ...) or ends in "_per_s", and "1.2s" in text;
# the seconds column of gan2d's table; the temporary directory is called DIR.  The line
# naming the run page (index.html, run.json, result.json, eval.json: new files, skipped
# below like the folder's .henbun.lock) is not a result.
normal_text() {
    sed -E -e '/^run page: /d' -e "s|$dir|DIR|g" -e 's/ [a-z0-9_]*(sec[a-z0-9_]*|_per_s)=[^ ]*//g' \
           -e '/^([0-9]+ |GAN \(pack)/s/ +[0-9.]+$/ #/' -e 's/[0-9]+(\.[0-9]+)?s\b/#s/g' -e 's/[0-9]+ effective samples\/s/# effective samples\/s/'
}
normal_csv() {
    awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) drop[i] = $i ~ /sec/ }
                      { s = ""; n = 0
                        for (i = 1; i <= NF; i++) if (!drop[i]) s = s (n++ ? "," : "") $i
                        print s }' "$1"
}

# check NAME DIR: DIR's outputs (and $dir/NAME.stdout) against the recorded ones.
check() {
    name=$1 out=$2
    normal_text <"$dir/$name.stdout" >"$dir/$name.txt"
    (cd "$out" && for f in *; do
        # the run page's files are new beside the results, not results themselves
        case $f in *.csv | index.html | run.json | result.json | eval.json) ;;
                   *) sha256sum "$f" ;; esac
    done) >"$dir/$name.files"
    for f in "$out"/*.csv; do [ -f "$f" ] && normal_csv "$f" >"$dir/$name.$(basename "$f")"; done
    if [ "$record" = 1 ]; then
        cp "$dir/$name.txt" "$dir/$name.files" "$expect/"
        for f in "$out"/*.csv; do [ -f "$f" ] && cp "$dir/$name.$(basename "$f")" "$expect/"; done
        ok "$name: recorded"
        return
    fi
    same "$name: files byte for byte" "$expect/$name.files" "$dir/$name.files"
    for f in "$expect/$name".*.csv; do
        [ -f "$f" ] && same "$name: $(basename "$f")" "$f" "$dir/$(basename "$f")"
    done
    same "$name: what it prints" "$expect/$name.txt" "$dir/$name.txt"
}

# run NAME PROGRAM ARGS...: a run into $dir/NAME, then its check.
run() {
    name=$1; shift
    if ! "$@" --out "$dir/$name" >"$dir/$name.stdout" 2>"$dir/err"; then
        bad "$name: the run failed: $*"; sed 's/^/    /' "$dir/err" | tail -n 5; return
    fi
    check "$name" "$dir/$name"
}

d="--data $dir/data --threads 1 --quiet"
run vae build/vae $d --epochs 2 --batch 32 --pictures-every 1
run vae-l2 build/vae $d --epochs 2 --batch 32 --latent 2 --objective btcvae --binarize dynamic \
    --lr-min 1e-4 --warmup 5
run gan build/gan $d --epochs 2 --batch 32 --eval-n 0 --score-n 0
run classify build/classify $d --epochs 2 --batch 32
run anomaly build/anomaly $d --holdout 3,7 --epochs 2 --batch 32
run boltzmann build/boltzmann --energy gmm --iters 100 --log-every 10 --batch 32 --samples 4 \
    --hidden 16 --anneal 50 --eval-n 1000 --mcmc mala --mcmc-chains 8 --mcmc-steps 50 \
    --latent-draws 2 --threads 1 --quiet
run gan2d build/gan2d --iters 200 --log-every 50 --runs 2 --batch 32 --pictures 2 --threads 1 --quiet

# --eval of a saved model prints its figures (and writes only eval.json and the run page).
if [ -f "$dir/vae/vae.ckpt" ]; then
    build/vae $d --eval "$dir/vae/vae.ckpt" --iwae-k 4 --eval-n 32 --measure-n 64 \
        --measure-outer 16 --probe-n 128 --probe-epochs 1 >"$dir/vae-eval.stdout" 2>"$dir/err" ||
        bad "vae-eval: the run failed"
    normal_text <"$dir/vae-eval.stdout" >"$dir/vae-eval.txt"
    if [ "$record" = 1 ]; then cp "$dir/vae-eval.txt" "$expect/"
    else same "vae-eval: what it prints" "$expect/vae-eval.txt" "$dir/vae-eval.txt"; fi
fi
if [ -f "$dir/classify/classifier.ckpt" ]; then
    build/classify $d --eval "$dir/classify/classifier.ckpt" >"$dir/classify-eval.stdout" 2>"$dir/err" ||
        bad "classify-eval: the run failed"
    normal_text <"$dir/classify-eval.stdout" >"$dir/classify-eval.txt"
    if [ "$record" = 1 ]; then cp "$dir/classify-eval.txt" "$expect/"
    else same "classify-eval: what it prints" "$expect/classify-eval.txt" "$dir/classify-eval.txt"; fi
fi

# Stopped after 13 steps (8 an epoch: inside the second), resumed with the printed command:
# the same checkpoint and log as the straight run recorded above.
(HENBUN_STOP_AFTER_STEPS=13; export HENBUN_STOP_AFTER_STEPS
 build/vae $d --epochs 2 --batch 32 --pictures-every 1 --out "$dir/vae-resumed" >/dev/null 2>"$dir/err")
cmd=$(resume_command "$dir/err")
if [ -z "$cmd" ]; then
    bad "vae-resumed: no 'resume with:' line"; sed 's/^/    /' "$dir/err"
elif ! eval "$cmd" >/dev/null 2>"$dir/err"; then
    bad "vae-resumed: the resumed run failed: $cmd"
elif [ "$record" != 1 ]; then
    sha256sum "$dir/vae-resumed/vae.ckpt" | sed 's|  .*/|  |' >"$dir/resumed.sum"
    grep ' vae.ckpt$' "$expect/vae.files" >"$dir/straight.sum"
    same "vae-resumed: vae.ckpt as the straight run's" "$dir/straight.sum" "$dir/resumed.sum"
    normal_csv "$dir/vae-resumed/log.csv" >"$dir/resumed.csv"
    same "vae-resumed: log.csv as the straight run's" "$expect/vae.log.csv" "$dir/resumed.csv"
fi
exit $failed
