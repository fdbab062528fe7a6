#!/bin/sh
# run.sh — the body of `make test`: runs the float and double suites, then the checks that
# need whole programs (install + pkg-config, every example's --help), and ends with one
# line "N passed, N failed" summing everything.
#   usage: tests/run.sh FLOAT_TESTS DOUBLE_TESTS [--no-extras]
set -u
float_bin=$1 double_bin=$2 extras=${3:-}
passed=0 failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

count() { # adds the "N passed, N failed" line of a suite's output to the totals
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "$1: no summary line (crashed?)"; failed=$((failed + 1)); return
    fi
    p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
    passed=$((passed + p)); failed=$((failed + f))
}

check() { # check NAME COMMAND...: one extra test, passes when the command succeeds
    name=$1; shift
    if "$@" >"$log" 2>&1; then
        echo "ok   $name"; passed=$((passed + 1))
    else
        echo "FAIL $name"; sed 's/^/    /' "$log" | tail -n 20; failed=$((failed + 1))
    fi
}

for suite in "$float_bin" "$double_bin"; do
    echo "== $suite"
    "$suite" >"$log" 2>&1
    grep -vE '^[0-9]+ passed' "$log" || true   # one line per test, naming what it checked
    count "$suite"
done

if [ "$extras" != "--no-extras" ]; then
    echo "== programs"
    for ex in build/*; do
        [ -f "$ex" ] && [ -x "$ex" ] || continue
        check "$(basename "$ex") --help" sh -c "'$ex' --help | grep -qi usage"
    done
    # Every program under docs/ is built and run, so the tour cannot drift from the code.
    # The build is the command the pages give readers (docs/README.md: plain -std=c11, no
    # feature macros), with warnings made errors; it runs in build/docs, where a program
    # may leave a file.
    for src in docs/examples/*.c docs/solutions/*.c; do
        [ -f "$src" ] || continue
        bin=build/docs/$(basename "$src" .c)
        mkdir -p build/docs
        check "docs: $src" sh -c "cc -std=c11 -fopenmp -I. '$src' build/float/libhenbun.a -lz -lstb -lm -o '$bin' -Wall -Wextra -Werror -Wno-unknown-pragmas && cd build/docs && './$(basename "$bin")' >/dev/null"
    done
    for t in tests/programs/*.sh; do
        [ -f "$t" ] || continue
        check "$(basename "$t" .sh)" sh "$t"
    done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
