#!/bin/sh
# bad_files.sh — a program handed files that are not what they seem, end to end (the library
# checks are in tests/nn/test_idx.c and test_checkpoint.c): a FIFO as a data file or as a
# checkpoint is refused at once (run under `timeout`: a blocking open would hang forever),
# and every kind of damaged gzip data — 1 to 10 bytes cut off, trailing garbage, a flipped
# payload byte with the trailer cut — is refused with exit 1 instead of training on corrupt
# pixels.  Data made here (tests/programs/lib/tiny_mnist.c), compressed with gzip.
. tests/programs/lib/common.sh
need classify
p=build/classify
run_flags="--threads 1 --quiet --epochs 1 --batch 32"

# refused WHAT PATTERN ARGS...: exit 1 within 20 s, the message matching PATTERN
refused() {
    what=$1 pattern=$2; shift 2
    timeout 20 "$p" "$@" >"$dir/out" 2>"$dir/err"; rc=$?
    if [ $rc -eq 124 ]; then bad "$what: hung (killed by timeout after 20 s)"; return; fi
    status_is "$what" 1 $rc "$dir/err"
    says "$what: message" "$dir/err" "$pattern"
}

# the gzipped data set trains (so a refusal below is the damage's doing)
mkdir -p "$dir/gz/mnist"
for f in "$dir/data/mnist/"*; do gzip -c "$f" >"$dir/gz/mnist/$(basename "$f").gz"; done
"$p" --data "$dir/gz" $run_flags --out "$dir/run" >"$dir/out" 2>"$dir/err"
status_is "the intact gzipped data trains" 0 $? "$dir/err"

img=train-images-idx3-ubyte.gz
whole="$dir/gz/mnist/$img"
size=$(wc -c <"$whole")
mkdir -p "$dir/bad/mnist"
cp "$dir/gz/mnist/"* "$dir/bad/mnist/"
for cut in 1 4 8 9 10; do
    head -c $((size - cut)) "$whole" >"$dir/bad/mnist/$img"
    refused "gzip with $cut bytes cut off" "truncated gzip stream" --data "$dir/bad" $run_flags --out "$dir/r"
done
{ cat "$whole"; printf 'garbage'; } >"$dir/bad/mnist/$img"
refused "gzip with trailing garbage" "unexpected bytes after the end of the gzip stream" \
    --data "$dir/bad" $run_flags --out "$dir/r"
at=$((size / 2))
head -c $((size - 8)) "$whole" >"$dir/bad/mnist/$img"
byte=$(od -An -tu1 -j $at -N 1 "$dir/bad/mnist/$img" | tr -d ' ')
printf "\\$(printf %03o $((byte ^ 16)))" | dd of="$dir/bad/mnist/$img" bs=1 seek=$at conv=notrunc 2>/dev/null
refused "gzip with a flipped payload byte and no trailer" "gzip" --data "$dir/bad" $run_flags --out "$dir/r"
cp "$whole" "$dir/bad/mnist/$img"
printf '\377' | dd of="$dir/bad/mnist/$img" bs=1 seek=$((size - 8)) conv=notrunc 2>/dev/null
refused "gzip with a wrong CRC-32" "incorrect data check, after [1-9][0-9]* of" --data "$dir/bad" \
    $run_flags --out "$dir/r"

# FIFOs: as a data file, and as a checkpoint for --eval
mkdir -p "$dir/fifo/mnist"
cp "$dir/data/mnist/"* "$dir/fifo/mnist/"
rm "$dir/fifo/mnist/train-images-idx3-ubyte"
mkfifo "$dir/fifo/mnist/train-images-idx3-ubyte"
refused "a FIFO as the training images" "not a regular file" --data "$dir/fifo" $run_flags --out "$dir/r"
mkfifo "$dir/ckpt.fifo"
refused "a FIFO as the checkpoint of --eval" "not a regular file" --data "$dir/data" --threads 1 \
    --eval "$dir/ckpt.fifo"
exit $failed
