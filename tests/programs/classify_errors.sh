#!/bin/sh
# classify_errors.sh — build/classify handed bad inputs: it must exit non-zero, say what is
# wrong (the message is checked), and leave the output directory exactly as it was.  The
# inputs are made here: a tiny IDX data set (200 + 100 random 28x28 images, labels 0..9)
# written with printf and /dev/urandom, and a real checkpoint from a one-epoch run on it.
# Each good input is also run once (a tiny training, an --eval), so that a failure below
# is the bad input's doing.  Run by `make test` after the examples are built.
set -u
prog=${CLASSIFY:-build/classify}
[ -x "$prog" ] || { echo "$prog is missing (make test builds it first)"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failed=0

say() { printf '%s\n' "$*"; }
bad() { say "FAIL: $*"; failed=1; }

# be32 N: N as 4 big-endian bytes, the way IDX headers store sizes.
be32() {
    printf "\\$(printf %03o $(($1 >> 24 & 255)))\\$(printf %03o $(($1 >> 16 & 255)))"
    printf "\\$(printf %03o $(($1 >> 8 & 255)))\\$(printf %03o $(($1 & 255)))"
}

# idx_pair DIR SPLIT N: DIR/SPLIT-images-idx3-ubyte (N random 28x28 images) and
# DIR/SPLIT-labels-idx1-ubyte (labels 0, 1, ..., 9, 0, 1, ...; N a multiple of 10).
idx_pair() {
    printf '\000\000\010\003' >"$1/$2-images-idx3-ubyte"
    { be32 "$3"; be32 28; be32 28; head -c $(($3 * 784)) /dev/urandom; } >>"$1/$2-images-idx3-ubyte"
    { printf '\000\000\010\001'; be32 "$3"; } >"$1/$2-labels-idx1-ubyte"
    printf '\000\001\002\003\004\005\006\007\010\011' >"$dir/ten"
    i=0
    while [ $i -lt $(($3 / 10)) ]; do cat "$dir/ten"; i=$((i + 1)); done >>"$1/$2-labels-idx1-ubyte"
}

mkdir -p "$dir/good/mnist"
idx_pair "$dir/good/mnist" train 200
idx_pair "$dir/good/mnist" t10k 100

# ---- the good run: one epoch of a small net, which gives the checkpoint for the cases below
run="$dir/run"
small="flatten, linear 16, relu, linear 10"
if ! "$prog" --data "$dir/good" --net "$small" --epochs 1 --batch 50 --threads 1 --quiet \
        --out "$run" >"$dir/stdout" 2>"$dir/stderr"; then
    say "the tiny training run failed:"; cat "$dir/stderr"; exit 1
fi
grep -q '^result: test_acc=' "$dir/stdout" || bad "the tiny run printed no result line"
for f in classifier.ckpt log.csv errors.png curves.png; do
    [ -s "$run/$f" ] || bad "the tiny run did not write $f"
done
# The checkpoint must be able to rebuild its net (what the GAN examples rely on).
for line in "program=classify" "net=$small" "input=1 28 28" "classes=10"; do
    grep -aqF "$line" "$run/classifier.ckpt" || bad "classifier.ckpt's meta lacks '$line'"
done
"$prog" --data "$dir/good" --eval "$run/classifier.ckpt" --threads 1 >"$dir/stdout" 2>"$dir/stderr" \
    || { bad "--eval of the good checkpoint failed"; cat "$dir/stderr"; }

snapshot() { (cd "$run" && ls -A && cksum ./*); }
snapshot >"$dir/before"

# expect_fail "WHAT" "TEXT IN THE MESSAGE" ARGS...: the run fails, says TEXT on stderr, and
# leaves $run as it was.
expect_fail() {
    what=$1 text=$2
    shift 2
    "$prog" "$@" >"$dir/stdout" 2>"$dir/stderr"
    code=$?
    if [ $code -eq 0 ]; then
        bad "$what: exit code 0"
    elif [ $code -gt 2 ]; then
        bad "$what: exit code $code (a crash?)"; sed 's/^/    /' "$dir/stderr"
    elif ! grep -qF -- "$text" "$dir/stderr"; then
        bad "$what: the message lacks '$text':"; sed 's/^/    /' "$dir/stderr"
    else
        say "ok   $what: $(head -n 1 "$dir/stderr")"
    fi
    snapshot >"$dir/after"
    cmp -s "$dir/before" "$dir/after" || bad "$what: the output directory changed"
}

common="--threads 1 --quiet --epochs 1 --out $run"

# ---- command lines and spec texts
expect_fail "unknown flag" "unknown option '--epoch'" --data "$dir/good" --epoch 3 --out "$run"
expect_fail "malformed number" "expected a whole number" --data "$dir/good" --batch 1x --out "$run"
expect_fail "choice outside the list" "'svm' is not one of" --data "$dir/good" --arch svm --out "$run"
expect_fail "spec with a trailing comma" "trailing comma" --data "$dir/good" --net "linear 10," $common
expect_fail "misspelt layer" "unknown layer 'lineer'" --data "$dir/good" --net "lineer 10" $common
expect_fail "spec not ending in 10 logits" "must end in 10 logits" --data "$dir/good" \
    --net "linear 32, relu, linear 7" $common
expect_fail "spec that does not fit the input" "layer 1" --data "$dir/good" \
    --net "linear 32, conv 8 k3, flatten, linear 10" $common

# ---- data files
mkdir -p "$dir/trunc/mnist" "$dir/magic/mnist"
cp "$dir/good/mnist/"* "$dir/trunc/mnist/"
cp "$dir/good/mnist/"* "$dir/magic/mnist/"
head -c 5000 "$dir/good/mnist/train-images-idx3-ubyte" >"$dir/trunc/mnist/train-images-idx3-ubyte"
printf 'P5\n2' | dd of="$dir/magic/mnist/t10k-images-idx3-ubyte" conv=notrunc 2>/dev/null
expect_fail "truncated IDX file" "truncated" --data "$dir/trunc" $common
expect_fail "IDX file with a wrong magic" "not an IDX file" --data "$dir/magic" $common
expect_fail "missing data directory" "make data" --data "$dir/nowhere" $common

# ---- checkpoints
mkdir -p "$dir/flip"
cp "$run/classifier.ckpt" "$dir/flip/classifier.ckpt"
size=$(wc -c <"$dir/flip/classifier.ckpt")
at=$((size / 2))
byte=$(od -An -tu1 -j $at -N 1 "$dir/flip/classifier.ckpt" | tr -d ' ')
printf "\\$(printf %03o $((255 - byte)))" |
    dd of="$dir/flip/classifier.ckpt" bs=1 seek=$at conv=notrunc 2>/dev/null
expect_fail "--eval of a checkpoint with a flipped byte" "checksum mismatch" \
    --data "$dir/good" --eval "$dir/flip/classifier.ckpt" --threads 1
expect_fail "--eval of a file that is no checkpoint" "not a henbun checkpoint" \
    --data "$dir/good" --eval "$dir/good/mnist/t10k-labels-idx1-ubyte" --threads 1
expect_fail "--resume with another architecture" "net.1.linear.weight" \
    --data "$dir/good" --resume "$run/classifier.ckpt" --net "flatten, linear 32, relu, linear 10" \
    --epochs 2 --threads 1 --quiet
expect_fail "--eval and --resume together" "exclude each other" --data "$dir/good" \
    --eval "$run/classifier.ckpt" --resume "$run/classifier.ckpt"

ls "$run" | grep -q tmp && bad "a temporary file was left in the output directory"
exit $failed
