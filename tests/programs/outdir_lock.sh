#!/bin/sh
# outdir_lock.sh — the --out folder helpers (examples/common/outdir.c) every training
# program calls before it writes: a second run on a locked folder is refused with exit 1
# and the first run's PID; the lock dies with its process (kill -9 included); stale
# *.tmp.PID files of dead processes are removed and nothing else is; an --out longer than
# PATH_MAX allows is refused (exit 2), never truncated.  Built here, under ASan/UBSan when
# the compiler has them, with a small driver (tests/programs/lib/outdir_driver.c).
set -u
dir=$(mktemp -d)
holder=
trap '[ -n "$holder" ] && kill -9 "$holder" 2>/dev/null; rm -rf "$dir"' EXIT
failed=0
ok() { printf 'ok   %s\n' "$*"; }
bad() { printf 'FAIL %s\n' "$*"; failed=1; }

cc=${CC:-cc}
src="tests/programs/lib/outdir_driver.c examples/common/outdir.c"
flags="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror -I. -g"
$cc $flags -fsanitize=address,undefined -fno-sanitize-recover=all -o "$dir/driver" $src 2>/dev/null ||
    $cc $flags -o "$dir/driver" $src || { echo "cannot build the driver"; exit 1; }
d="$dir/driver"
out="$dir/out"
mkdir "$out"

# wait_for FILE: until FILE has a line (at most 10 s)
wait_for() {
    i=0
    while [ ! -s "$1" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    [ -s "$1" ]
}

# ---- the lock: a second run is refused and told who holds the folder
"$d" lock "$out" 30 >"$dir/first" 2>&1 &
holder=$!
wait_for "$dir/first" || bad "the first run never took the lock: $(cat "$dir/first")"
"$d" lock "$out" 0 >"$dir/second" 2>&1; rc=$?
[ $rc -eq 1 ] && ok "second run refused with exit 1" || bad "second run: exit $rc"
grep -qF "driver: $out is in use by another run (PID $holder)" "$dir/second" &&
    ok "the message names the running PID $holder" || bad "message: $(cat "$dir/second")"
# kill -9: the kernel drops the lock with the process
kill -9 "$holder"; wait "$holder" 2>/dev/null; holder=
"$d" lock "$out" 0 >"$dir/third" 2>&1 && grep -q '^locked' "$dir/third" &&
    ok "after kill -9 of the holder the folder can be locked again" || bad "lock stuck: $(cat "$dir/third")"
# A lock released normally, then taken again
"$d" lock "$out" 0 >/dev/null 2>&1 && ok "released lock taken again" || bad "lock not released"
# A FIFO where the lock file goes: refused, no hang
mkdir "$dir/fifo" && mkfifo "$dir/fifo/.henbun.lock"
timeout 10 "$d" lock "$dir/fifo" 0 >"$dir/msg" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "not a regular file" "$dir/msg" && ok "a FIFO lock file is refused at once" ||
    bad "FIFO lock file: exit $rc, $(cat "$dir/msg")"

# ---- stale temporary files
sh -c 'echo $$' >"$dir/deadpid"; dead=$(cat "$dir/deadpid")  # that shell has exited
sleep 30 & live=$!
for f in "ckpt.bin.tmp.$dead" "log.csv.tmp.$dead" "ckpt.bin.tmp.$live" "notes.tmp.txt" \
         "x.tmp.12ab" "ckpt.bin" "log.csv"; do
    echo data >"$out/$f"
done
mkdir "$out/sub.tmp.$dead"
n=$("$d" clean "$out" 2>"$dir/msg")
kill "$live" 2>/dev/null; wait "$live" 2>/dev/null
[ "$n" = 2 ] && ok "2 stale temporary files removed" || bad "removed '$n' ($(cat "$dir/msg"))"
[ ! -e "$out/ckpt.bin.tmp.$dead" ] && [ ! -e "$out/log.csv.tmp.$dead" ] && ok "the dead run's files are gone" ||
    bad "stale files left: $(ls "$out")"
kept=1
for f in "ckpt.bin.tmp.$live" "notes.tmp.txt" "x.tmp.12ab" "ckpt.bin" "log.csv" "sub.tmp.$dead"; do
    [ -e "$out/$f" ] || { bad "$f was removed"; kept=0; }
done
[ $kept = 1 ] && ok "a live process's temporary file, other files and directories are kept"
grep -q "removed 2 temporary files" "$dir/msg" && ok "the removal is reported" || bad "report: $(cat "$dir/msg")"

# ---- path length
long=$(printf '%05000d' 0 | tr 0 a)
"$d" check "/tmp/$long" 32 >/dev/null 2>"$dir/msg"; rc=$?
[ $rc -eq 2 ] && grep -q "driver: --out: the path is 5005 bytes long; at most" "$dir/msg" &&
    ok "an --out of 5005 bytes is refused with exit 2" || bad "long --out: exit $rc, $(cat "$dir/msg")"
fit=$(printf '%04000d' 0 | tr 0 b)
"$d" check "/tmp/$fit" 32 >"$dir/o" 2>&1 && ok "an --out of 4005 bytes is accepted" || bad "4005 bytes: $(cat "$dir/o")"
"$d" check "/tmp/$fit" 100 >/dev/null 2>&1; [ $? -eq 2 ] && ok "no room left for the file names: refused" ||
    bad "4005 + 100 accepted"
[ "$("$d" check "$fit" 0)" = "join refused" ] && ok "outdir_join refuses instead of truncating" || bad "join truncated"
[ "$("$d" check out 16)" = "out/log.csv" ] && ok "outdir_join" || bad "outdir_join"
exit $failed
