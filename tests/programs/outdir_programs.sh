#!/bin/sh
# outdir_programs.sh — the out-folder rules through the real programs (the helpers alone are
# tested by outdir_lock.sh): a second build/vae on the --out of a running one exits 1 naming
# the first's PID and leaves its log alone; a killed run's *.tmp.PID leftovers are removed by
# the next run in the folder, a live process's are kept; an --out too long for PATH_MAX is
# refused with exit 2 and nothing created; gan and classify take the same lock.
. tests/programs/lib/common.sh
need vae gan classify
first=
trap '[ -n "$first" ] && kill -9 "$first" 2>/dev/null; rm -rf "$dir"' EXIT
d="--data $dir/data --threads 1 --quiet --batch 32"
out="$dir/run"

# A first run that lasts: many epochs on the tiny data, stopped with SIGTERM below.
build/vae $d --epochs 100000 --pictures-every 1000 --out "$out" >/dev/null 2>"$dir/err1" &
first=$!
i=0
while [ ! -s "$out/log.csv" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$out/log.csv" ] || bad "the first run wrote no log.csv within 30 s"
for p in vae classify gan; do
    build/$p $d --epochs 1 --out "$out" >/dev/null 2>"$dir/err2"
    status_is "$p: a second run on a busy --out is refused" 1 $? "$dir/err2"
    says "$p: the refusal names the first run's PID" "$dir/err2" "in use by another run \(PID $first\)"
done
if [ -s "$out/log.csv" ] && kill -0 "$first" 2>/dev/null; then
    ok "the first run goes on, its log.csv in place"
else
    bad "the first run or its log.csv is gone"
fi
kill -TERM "$first"
wait "$first"
first=
# Now free: the lock went with its process.
build/vae $d --epochs 1 --out "$out" >/dev/null 2>"$dir/err2"
status_is "vae: the folder is free once the first run ended" 0 $? "$dir/err2"

# Leftovers of a dead process go, those of a live one (this shell) stay.
sleep 30 & live=$!
dead=99999999
: >"$out/vae.ckpt.tmp.$dead"
: >"$out/log.csv.tmp.$live"
build/vae $d --epochs 1 --out "$out" >/dev/null 2>"$dir/err2"
status_is "vae: runs over leftovers" 0 $? "$dir/err2"
[ ! -e "$out/vae.ckpt.tmp.$dead" ] && ok "a dead run's vae.ckpt.tmp.PID is removed" ||
    bad "a dead run's vae.ckpt.tmp.$dead is still there"
[ -e "$out/log.csv.tmp.$live" ] && ok "a live process's log.csv.tmp.PID is kept" ||
    bad "a live process's log.csv.tmp.$live was removed"
kill "$live" 2>/dev/null
wait "$live" 2>/dev/null

# An --out longer than PATH_MAX allows: exit 2, nothing made, nothing cut short.
long=$dir/$(printf 'x%.0s' $(seq 1 250))
long=$long/$(printf 'y%.0s' $(seq 1 250))
while [ ${#long} -lt 4100 ]; do long=$long/$(printf 'z%.0s' $(seq 1 200)); done
for p in vae classify gan; do
    build/$p $d --epochs 1 --out "$long" >/dev/null 2>"$dir/err2"
    status_is "$p: an --out of ${#long} bytes is refused" 2 $? "$dir/err2"
    says "$p: the refusal says how long the path is" "$dir/err2" "--out: the path is ${#long} bytes long"
done
[ ! -e "$dir/$(printf 'x%.0s' $(seq 1 250))" ] && ok "nothing of the long --out was created" ||
    bad "a part of the long --out was created"
exit $failed
