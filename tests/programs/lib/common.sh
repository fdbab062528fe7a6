# common.sh — sourced by the training-safety scripts in tests/programs (train_*.sh), run from
# the top of the tree.  Gives them a temporary directory $dir (removed at exit), a tiny
# deterministic MNIST stand-in in $dir/data (256 training and 64 test images, written by
# tiny_mnist.c: CI has no real data), and the bookkeeping: `bad MSG` records a failure,
# `ok MSG` a pass, and the script ends with `exit $failed`.
set -u
# OpenMP threads that spin while they wait crawl on a machine busy with other work; waiting
# passively changes no result, only the time.
OMP_WAIT_POLICY=passive
export OMP_WAIT_POLICY
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failed=0

ok() { printf 'ok   %s\n' "$*"; }
bad() { printf 'FAIL %s\n' "$*"; failed=1; }

# need PROG...: the example programs must be built (make test builds them first).
need() {
    for p in "$@"; do
        [ -x "build/$p" ] || { echo "build/$p is missing (run make first)"; exit 1; }
    done
}

# The data set, once per script (a fraction of a second).
${CC:-cc} -std=c11 -O1 -o "$dir/tiny_mnist" tests/programs/lib/tiny_mnist.c &&
    "$dir/tiny_mnist" "$dir/data" 256 64 || { echo "cannot make the tiny data set"; exit 1; }

# columns FILE N: the first N columns of a CSV log (leaving out timings, which differ).
columns() { cut -d, -f"1-$2" "$1"; }

# same WHAT FILE1 FILE2: the two files must be byte for byte the same.
same() {
    if [ ! -s "$2" ] || [ ! -s "$3" ]; then
        bad "$1: $2 or $3 is missing or empty"
    elif cmp -s "$2" "$3"; then
        ok "$1"
    else
        bad "$1: $2 and $3 differ ($(cmp "$2" "$3" 2>&1 | head -n 1))"
    fi
}

# same_log WHAT FILE1 FILE2 N: the first N columns of two CSV logs must be the same.
same_log() {
    columns "$2" "$4" >"$dir/log1"
    columns "$3" "$4" >"$dir/log2"
    if [ "$(wc -l <"$dir/log1")" -lt 2 ]; then
        bad "$1: $2 has no rows"
    elif cmp -s "$dir/log1" "$dir/log2"; then
        ok "$1"
    else
        bad "$1: the logs differ:"
        diff "$dir/log1" "$dir/log2" | head -n 6 | sed 's/^/    /'
    fi
}

# status_is WHAT EXPECTED ACTUAL STDERR_FILE
status_is() {
    if [ "$3" -eq "$2" ]; then
        ok "$1 (exit status $3)"
    else
        bad "$1: exit status $3, expected $2"
        sed 's/^/    /' "$4" | tail -n 5
    fi
}

# says WHAT FILE PATTERN: FILE (a program's stderr) matches the extended regex PATTERN.
says() {
    if grep -Eq -- "$3" "$2"; then
        ok "$1"
    else
        bad "$1: no line matching /$3/ in:"
        sed 's/^/    /' "$2" | tail -n 5
    fi
}

# refuses WHAT STATUS PATTERN COMMAND...: COMMAND --out DIR/no exits STATUS, its stderr
# matches PATTERN, and DIR/no was not made (a refusal writes nothing).
refuses() {
    what=$1 want=$2 pattern=$3
    shift 3
    "$@" --out "$dir/no" >/dev/null 2>"$dir/err"
    status_is "refuses $what" "$want" $? "$dir/err"
    says "refuses $what: says why" "$dir/err" "$pattern"
    if [ -e "$dir/no" ]; then bad "refuses $what: made --out"; rm -rf "$dir/no"
    else ok "refuses $what: no --out made"; fi
}

# gan_refused PROGRAM 'FLAGS' PATTERN: build/PROGRAM (gan with the data flags $d, gan2d
# without a data set) and FLAGS exits 2, says PATTERN, creates nothing.
gan_refused() {
    flags=$d
    [ "$1" = gan2d ] && flags="--threads 1 --quiet"
    # shellcheck disable=SC2086
    refuses "$1 $2" 2 "$3" build/$1 $flags $2
}

# resume_command FILE: the command after "resume with: " in a stopped program's stderr.
resume_command() { sed -n 's/^  resume with: //p' "$1"; }

# ends_fast WHAT SECONDS PATTERN COMMAND...: the command fails, within SECONDS, and its
# output holds PATTERN.  `limit=60` is passed to COMMAND (a launcher that reads it).
ends_fast() {
    what=$1 secs=$2 pattern=$3; shift 3
    start=$(date +%s)
    limit=60 "$@" >"$dir/out" 2>&1; status=$?
    took=$(($(date +%s) - start))
    if [ $status -eq 0 ]; then bad "$what: the job succeeded"
    elif [ $status -eq 124 ]; then bad "$what: the job hung (killed after 60 s)"
    elif [ $took -gt "$secs" ]; then bad "$what: took $took s (limit $secs)"
    elif ! grep -q "$pattern" "$dir/out"; then bad "$what: no '$pattern' in:"; sed 's/^/    /' "$dir/out"
    else ok "$what (status $status after $took s)"; fi
}
