#!/bin/sh
# valgrind.sh — every example program runs a tiny training (and its other modes: resume,
# eval, scoring) under valgrind's memcheck, which must find no invalid read or write, no
# use of an uninitialised value and no leak (definite, indirect or possible).  `make
# valgrind` runs it; it is too slow for `make test` (a few minutes on 2 cores).
#
# Why a second build: valgrind cannot execute AVX-512, which the default -march=native
# build may use, so the programs are built again with PORTABLE=1.  The Makefile always
# writes to build/ beside the sources, so the sources are copied to build/valgrind/src and
# built there (the copy keeps file times, so a second run rebuilds only what changed).
# Data: CI has no MNIST, so a tiny IDX set (256 train / 64 test 28x28 images, raw for
# mnist, gzipped for fashion) is written here by a small C generator.
#
#   sh scripts/valgrind.sh                      all programs
#   sh scripts/valgrind.sh gan vae              only the runs whose name starts so
#   VALGRIND_THREADS=2 sh scripts/valgrind.sh   the threaded code paths too (slower)
#
# One thread by default (OMP_NUM_THREADS=1 and --threads 1): the runs are deterministic and
# fastest under valgrind, which runs one thread at a time anyway.  scripts/valgrind.supp
# holds the one suppression needed with more threads (libgomp's worker threads), with its
# reason.  Ends with "N passed, N failed"; the exit status is 1 if any run failed.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
work=${VALGRIND_DIR:-$root/build/valgrind}
src=$work/src
CC=${CC:-cc}

if ! command -v valgrind >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing valgrind"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
    fi
    command -v valgrind >/dev/null 2>&1 ||
        { echo "valgrind.sh: valgrind is missing; run: sudo apt-get install -y valgrind" >&2; exit 1; }
fi

# ---- the portable build, from a fresh copy of the sources ----------------------------------
mkdir -p "$src"
(cd "$src" && find . -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +)
(cd "$root" && tar cf - --exclude=./build --exclude=./data --exclude=./out --exclude=./.git .) |
    (cd "$src" && tar xf -)
echo "building the programs with PORTABLE=1 in $src/build"
if ! nice -n 10 make -C "$src" -j2 PORTABLE=1 CC="$CC" examples >"$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log"
    echo "valgrind.sh: the portable build failed (log: $work/build.log)" >&2
    exit 1
fi
bin=$src/build

# ---- the data: 256 train and 64 test images, 28x28, labels 0..9 ----------------------------
data=$work/data
mkdir -p "$data/mnist" "$data/fashion"
cat >"$work/gen_idx.c" <<'EOF'
/* Writes DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte: a bright bar whose angle
 * depends on the label, over noise from a fixed LCG, so every run sees the same bytes. */
#include <stdio.h>
#include <stdlib.h>
static unsigned long long s = 12345;
static unsigned rnd(void) { s = s * 6364136223846793005ULL + 1442695040888963407ULL; return (unsigned)(s >> 33); }
static void be32(FILE *f, unsigned v) { for (int k = 3; k >= 0; k--) fputc((int)(v >> (8 * k) & 255), f); }
static int write_split(const char *dir, const char *split, int n) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte", dir, split);
    FILE *im = fopen(p, "wb");
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte", dir, split);
    FILE *lb = fopen(p, "wb");
    if (!im || !lb) return 1;
    be32(im, 0x803), be32(im, (unsigned)n), be32(im, 28), be32(im, 28);
    be32(lb, 0x801), be32(lb, (unsigned)n);
    for (int i = 0; i < n; i++) {
        int y = i % 10;
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++) {
                int dr = r - 14, dc = c - 14;   /* distance from the line at angle y*18 deg */
                static const int cs[10] = {100, 95, 81, 59, 31, 0, -31, -59, -81, -95};
                static const int sn[10] = {0, 31, 59, 81, 95, 100, 95, 81, 59, 31};
                int d = abs(dr * cs[y] - dc * sn[y]) / 100;
                int v = (d <= 1 && dr * dr + dc * dc < 120 ? 220 : 0) + (int)(rnd() % 40);
                fputc(v > 255 ? 255 : v, im);
            }
        fputc(y, lb);
    }
    return fclose(im) | fclose(lb);
}
int main(int argc, char **argv) {
    if (argc != 2) return 2;
    return write_split(argv[1], "train", 256) || write_split(argv[1], "t10k", 64);
}
EOF
"$CC" -std=c11 -O1 -o "$work/gen_idx" "$work/gen_idx.c" || exit 1
"$work/gen_idx" "$data/mnist" || { echo "valgrind.sh: could not write $data/mnist" >&2; exit 1; }
for f in "$data/mnist"/*-ubyte; do gzip -c "$f" >"$data/fashion/$(basename "$f").gz"; done

# ---- the runs ----------------------------------------------------------------------------------
runs=$work/runs logs=$work/logs
rm -rf "$runs" "$logs"
mkdir -p "$runs" "$logs"
threads=${VALGRIND_THREADS:-1}
export OMP_NUM_THREADS="$threads"
passed=0 failed=0

# vg NAME PROGRAM ARGS...: runs build/PROGRAM under memcheck, which must find nothing, and
# the program must succeed; one line with memcheck's summary.
vg() { vg_status 0 "$@"; }

# vg_status STATUS NAME PROGRAM ARGS...: the same for a run that must exit with STATUS (an
# error path: its clean-up must free everything too).  Memcheck's own status is 99 here.
vg_status() {
    want=$1 name=$2 prog=$3
    shift 3
    if [ -n "$only" ]; then
        hit=0
        for w in $only; do case $name in "$w"*) hit=1 ;; esac; done
        [ $hit -eq 1 ] || return 0
    fi
    log=$logs/$name.log
    vg_code=1
    [ "$want" -eq 0 ] || vg_code=99
    start=$(date +%s)
    nice -n 10 valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
        --error-exitcode=$vg_code --suppressions="$root/scripts/valgrind.supp" --track-origins=yes \
        --log-file="$log.vg" "$bin/$prog" "$@" >"$log" 2>&1
    code=$?
    secs=$(($(date +%s) - start))
    errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$log.vg" | tail -n 1)
    lost() { sed -n "s/.*$1 lost: \([0-9,]*\) bytes in \([0-9,]*\) blocks.*/\1 B/p" "$log.vg" | tail -n 1; }
    def=$(lost definitely) ind=$(lost indirectly) pos=$(lost possibly)
    line="errors ${errors:-?}, definitely lost ${def:-0 B}, indirectly ${ind:-0 B}, possibly ${pos:-0 B} (${secs}s)"
    if [ $code -eq "$want" ]; then
        echo "ok   $name: $line"
        passed=$((passed + 1))
    else
        echo "FAIL $name: exit $code (expected $want); $line"
        echo "     program output (last lines of $log):"
        tail -n 5 "$log" | sed 's/^/       /'
        echo "     valgrind's report: $log.vg"
        grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|Source|[0-9,]+ bytes in)' "$log.vg" |
            head -n 10 | sed 's/^/       /'
        failed=$((failed + 1))
    fi
}
only="$*"

# Flag groups, split into words on purpose (so $work must not hold spaces).
D="--data $data --threads $threads --quiet"
o=$runs

# vae: an MLP and a conv VAE (fashion: the gzip reader), resume, then --eval with every measure
vae_meas="--measure-n 64 --measure-outer 16 --probe-n 128 --probe-epochs 1 --iwae-k 4 --eval-n 16"
vg vae-mlp vae $D --epochs 1 --batch 64 --out "$o/vae" $vae_meas
vg vae-resume vae $D --resume "$o/vae/vae.ckpt" --epochs 2 $vae_meas
vg vae-eval vae $D --eval "$o/vae/vae.ckpt" $vae_meas
vg vae-conv-fashion vae $D --dataset fashion --encoder conv --decoder conv --latent 4 \
    --likelihood gaussian-learned --epochs 1 --batch 64 --out "$o/vae-conv" $vae_meas
vg vae-iwae vae $D --objective iwae --samples 3 --binarize dynamic --encoder iwae --decoder iwae \
    --epochs 1 --batch 64 --out "$o/vae-iwae" --measure-n 32 --measure-outer 8 --probe-epochs 0
vg vae-btcvae vae $D --objective btcvae --epochs 1 --batch 64 --out "$o/vae-btc" \
    --measure-n 32 --measure-outer 8 --probe-epochs 0
vg vae-infovae vae $D --objective infovae --alpha 0 --lambda 100 --epochs 1 --batch 64 \
    --out "$o/vae-info" --measure-n 32 --measure-outer 8 --probe-epochs 0

# classify: both presets, resume and eval (the cnn's checkpoint then scores the GAN)
vg classify-mlp classify $D --arch mlp --epochs 1 --batch 64 --out "$o/cls-mlp"
vg classify-resume classify $D --resume "$o/cls-mlp/classifier.ckpt" --epochs 2
vg classify-eval classify $D --eval "$o/cls-mlp/classifier.ckpt"
vg classify-cnn classify $D --arch cnn --epochs 1 --batch 64 --optim sgd --schedule step \
    --out "$o/cls-cnn"

# gan: MLP (scored by the cnn), DCGAN, resume, eval
cls="--classifier $o/cls-cnn/classifier.ckpt"
vg gan-mlp gan $D --arch mlp --iters 8 --batch 32 --out "$o/gan-mlp" $cls --score-n 64 --eval-n 64
vg gan-resume gan $D --resume "$o/gan-mlp/gan.ckpt" --iters 12 $cls --score-n 0 --eval-n 64
vg gan-eval gan $D --eval "$o/gan-mlp/gan.ckpt" $cls --eval-n 64
vg gan-dcgan gan $D --arch dcgan --iters 4 --batch 16 --out "$o/gan-dcgan" --score-n 0 --eval-n 0 \
    --d-steps 2 --gen-loss minimax

# gan2d: ring and grid, PacGAN, R1
vg gan2d-ring gan2d --threads $threads --iters 200 --batch 32 --log-every 100 --pictures 2 --quiet --out "$o/gan2d"
vg gan2d-grid-pack gan2d --threads $threads --dataset grid --pack 2 --runs 2 --iters 100 --batch 16 --r1 1 \
    --pictures 0 --quiet --out "$o/gan2d-grid"

# boltzmann: every energy, a few steps, small evaluations
B="--threads $threads --quiet --iters 20 --batch 32 --eval-n 256 --mcmc-chains 4 --mcmc-steps 50"
vg boltzmann-gmm boltzmann $B --energy gmm --out "$o/bz-gmm"
vg boltzmann-double-well boltzmann $B --energy double-well --mcmc metropolis --out "$o/bz-dw"
vg boltzmann-many-well boltzmann $B --energy many-well --hidden 32 --latent 8 --out "$o/bz-mw"
vg boltzmann-ising boltzmann $B --energy ising --L 4 --hidden 32 --latent 8 --samples 4 --out "$o/bz-ising"
vg boltzmann-load boltzmann $B --energy gmm --load "$o/bz-gmm/sampler.ckpt" --out "$o/bz-gmm-load"

# anomaly: one held-out digit, both scores
vg anomaly-elbo anomaly $D --holdout 3 --epochs 1 --batch 64 --out "$o/anomaly"
vg anomaly-iwae anomaly $D --holdout 1,7 --score iwae --iwae-k 4 --epochs 1 --batch 64 --out "$o/anomaly-iwae"

# custom_op: the gradcheck and a short training
vg custom_op custom_op --steps 30 --print-every 10

# error paths: each must fail with its status and still free everything
mkdir -p "$work/bad/mnist"
cp "$data/mnist"/* "$work/bad/mnist/"
head -c 100000 "$data/mnist/train-images-idx3-ubyte" >"$work/bad/mnist/train-images-idx3-ubyte"
head -c 2000 "$o/cls-mlp/classifier.ckpt" >"$work/truncated.ckpt" 2>/dev/null
small="flatten, linear 16, relu, linear 10"
vg_status 1 error-missing-data vae --data "$work/nowhere" --quiet --out "$o/err"
vg_status 1 error-truncated-idx classify --data "$work/bad" --quiet --out "$o/err"
vg_status 1 error-truncated-ckpt classify $D --eval "$work/truncated.ckpt"
vg_status 1 error-wrong-model classify $D --eval "$o/cls-mlp/classifier.ckpt" --net "$small"
vg_status 2 error-spec-text classify $D --net "flatten, linear 16, lienar 10" --out "$o/err"
vg_status 2 error-bad-flag gan $D --lr fast
vg_status 1 error-non-finite classify $D --net "$small" --epochs 2 --batch 64 --lr 1e30 --out "$o/err-nan"
HENBUN_STOP_AFTER_STEPS=3
export HENBUN_STOP_AFTER_STEPS
vg_status 130 stop-sigint-vae vae $D --epochs 2 --batch 64 --out "$o/stop-vae" --probe-epochs 0
vg_status 130 stop-sigint-gan gan $D --iters 10 --batch 32 --out "$o/stop-gan" --score-n 0 --eval-n 0
unset HENBUN_STOP_AFTER_STEPS

echo "valgrind: logs in $logs"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
