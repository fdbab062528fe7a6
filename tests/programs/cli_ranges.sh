#!/bin/sh
# cli_ranges.sh — the examples' command-line layer (examples/common/cli.c) refuses every
# numeric value outside its option's range, and every inf/nan, with
# "driver: --flag: must be in [a, b], got X" and exit status 2; --threads is [0, max]
# unless a table says otherwise; --version prints the precision; cli_product catches
# overflow.  Built here (under ASan/UBSan when the compiler has them) with a small driver
# program (tests/programs/lib/cli_driver.c), so it checks the layer itself and not one
# program's table.  Every program's table gets its ranges from this layer.
set -u
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failed=0
ok() { printf 'ok   %s\n' "$*"; }
bad() { printf 'FAIL %s\n' "$*"; failed=1; }

cc=${CC:-cc}
# autograd/version.c: the headers refer to the precision tag it defines (a link-time check).
src="tests/programs/lib/cli_driver.c examples/common/cli.c autograd/version.c"
flags="-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -I. -g"
$cc $flags -fsanitize=address,undefined -fno-sanitize-recover=all -o "$dir/driver" $src -lm 2>/dev/null ||
    $cc $flags -o "$dir/driver" $src -lm || { echo "cannot build the driver"; exit 1; }
d="$dir/driver"

# refuse EXPECTED_MESSAGE ARGS...: exit 2, the message on stderr, nothing on stdout.
refuse() {
    want=$1; shift
    "$d" "$@" >"$dir/out" 2>"$dir/err"; rc=$?
    if [ $rc -ne 2 ]; then bad "$*: exit $rc, expected 2"
    elif ! grep -qF -- "$want" "$dir/err"; then bad "$*: said '$(cat "$dir/err")', expected '$want'"
    elif [ -s "$dir/out" ]; then bad "$*: printed on stdout"
    else ok "$* -> $want"; fi
}
# accept EXPECTED_OUTPUT_FRAGMENT ARGS...
accept() {
    want=$1; shift
    "$d" "$@" >"$dir/out" 2>"$dir/err"; rc=$?
    if [ $rc -ne 0 ]; then bad "$*: exit $rc ($(cat "$dir/err"))"
    elif ! grep -qF -- "$want" "$dir/out"; then bad "$*: printed '$(cat "$dir/out")', expected '$want'"
    else ok "$* accepted"; fi
}

refuse "driver: --batch: must be in [1, 60000], got 0" --batch 0
refuse "driver: --batch: must be in [1, 60000], got 60001" --batch=60001
refuse "driver: --batch: expected a whole number, got '2147483648'" --batch 2147483648
refuse "driver: --epochs: must be >= 0, got -1" --epochs -1
refuse "driver: --every: must be > 0, got 0" --every 0
refuse "driver: --lr: must be in (0, 10], got 0" --lr 0
refuse "driver: --lr: must be in (0, 10], got -1e-3" --lr -1e-3
refuse "driver: --lr: must be in (0, 10], got 10.5" --lr 10.5
refuse "driver: --p: must be in [0, 1), got 1" --p 1
refuse "driver: --beta: must be > 0, got -1" --beta -1
refuse "driver: --seed: must be in [0, 1000000000000000], got 18446744073709551615" --seed 18446744073709551615
for v in inf -inf nan NaN infinity 1e999 -1e400 0x1p99999; do
    refuse "driver: --x: must be a finite number, got '$v'" --x "$v"
    refuse "driver: --lr: must be a finite number, got '$v'" --lr="$v"
done
refuse "driver: --threads: must be in [0, " --threads -1
refuse "(0 means all cores)" --threads -1
refuse "driver: --threads: must be in [0, " --threads 10000
refuse "driver: --threads: must be in [0, " --threads 257
# A refusal comes before anything after it is looked at: the later bad flag is not reached.
refuse "driver: --batch: must be in [1, 60000], got 0" --batch 0 --lr nan

accept "epochs=0 batch=1 every=1" --epochs 0 --batch 1 --every 1
accept "batch=60000" --batch 60000
accept "lr=10 p=0 beta=1e-30" --lr 10 --p 0 --beta 1e-30
accept "x=-1e+300" --x -1e300
accept "x=0" --x 1e-400   # underflows to 0: finite, so allowed where the range allows 0
accept "threads=0" --threads 0
accept "threads=1" --threads 1
max=$("$d" | sed 's/.*max_threads=//')
accept "threads=$max" --threads "$max"
refuse "driver: --threads: must be in [0, $max], got $((max + 1))" --threads $((max + 1))
[ "$max" -ge 4 ] && [ "$max" -le 256 ] && ok "max threads $max in [4, 256]" || bad "max threads $max"

"$d" --help >"$dir/out" 2>&1 && grep -qF "(in (0, 10])" "$dir/out" && ! grep -qF "(in [0, $max])" "$dir/out" &&
    ok "--help shows the tables' ranges (not --threads', which depends on the machine)" || bad "--help does not show the ranges: $(cat "$dir/out")"
"$d" --version >"$dir/out" 2>&1 && grep -qE '^driver \(henbun [0-9]+\.[0-9]+\.[0-9]+.*, (float|double)\)$' "$dir/out" &&
    ok "--version: $(cat "$dir/out")" || bad "--version printed '$(cat "$dir/out")'"
# The examples themselves answer --version (the program's own name first).
for p in build/*; do
    [ -f "$p" ] && [ -x "$p" ] || continue
    n=$(basename "$p")
    "$p" --version 2>/dev/null | grep -qE "^$n \(henbun .*, (float|double)\)$" &&
        ok "$n --version" || bad "$n --version printed '$("$p" --version 2>&1 | head -n 1)'"
done

[ "$("$d" product 1000 1000 1000 1000000000)" = 1000000000 ] && ok "product at the limit" || bad "product 1e9"
[ "$("$d" product 1000 1000 1001 1000000000)" = overflow ] && ok "product over the limit" || bad "product > limit"
[ "$("$d" product 4294967296 4294967296 2 18446744073709551615)" = overflow ] &&
    ok "product past 2^64" || bad "product 2^65 wrapped"
[ "$("$d" product -1 5 5 100)" = overflow ] && ok "negative factor" || bad "negative factor accepted"
[ "$("$d" product 0 4294967296 4294967296 10)" = 0 ] && ok "a zero factor" || bad "zero factor"
exit $failed
