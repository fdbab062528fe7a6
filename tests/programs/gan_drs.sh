#!/bin/sh
# gan_drs.sh — discriminator rejection sampling (--drs, --drs-gamma) in build/gan2d and
# build/gan: --help names both, out-of-range values are refused (exit 2, the flag named,
# nothing created), --drs changes no step of training (the same log, checkpoint and plain
# scores as without it) and adds the DRS row, its acceptance rate and its picture; a shift
# γ < 0 keeps more points; gan --eval --drs scores a checkpoint and an --export (which holds
# D), and a .safetensors without D is refused naming the file and the tensor, nothing written.
. tests/programs/lib/common.sh
need gan gan2d classify
d="--data $dir/data --threads 1 --quiet"

for p in gan gan2d; do
    build/$p --help >"$dir/help" 2>&1
    for f in --drs --drs-gamma "rejection sampling"; do
        if grep -q -- "$f" "$dir/help"; then ok "$p --help names $f"; else bad "$p --help lacks $f"; fi
    done
done

gan_refused gan "--drs --drs-gamma 51" "--drs-gamma: must be in \[-50, 50\]"
gan_refused gan "--drs-gamma nan" "--drs-gamma: must be a finite number"
gan_refused gan2d "--drs --drs-gamma -60" "--drs-gamma: must be in \[-50, 50\]"

# gan2d: the same runs with and without --drs; then γ = −5.
g2="--iters 600 --log-every 300 --runs 2 --batch 32 --pictures 0 --threads 1"
# shellcheck disable=SC2086
build/gan2d $g2 --out "$dir/p2" >"$dir/p2.out" 2>"$dir/err"
status_is "gan2d without --drs" 0 $? "$dir/err"
# shellcheck disable=SC2086
build/gan2d $g2 --drs --out "$dir/d2" >"$dir/d2.out" 2>"$dir/err"
status_is "gan2d --drs" 0 $? "$dir/err"
same_log "gan2d --drs trains the very runs of without it" "$dir/p2/log.csv" "$dir/d2/log.csv" 10
grep '^result:' "$dir/p2.out" | sed 's/ seconds=.*//' >"$dir/r1"
grep '^result:' "$dir/d2.out" | sed 's/ seconds=.*//' >"$dir/r2"
same "gan2d --drs: the plain scores unchanged" "$dir/r1" "$dir/r2"
says "gan2d --drs prints each run's DRS row" "$dir/d2.out" "run 2/2 with DRS: .* modes, .*% high-quality, .*% of points kept"
says "and the mean of the DRS rows" "$dir/d2.out" "^with DRS: mean"
says "the result line has the DRS keys" "$dir/d2.out" "drs_modes=.* drs_hq=.* drs_rkl=.* drs_accept=0\.[0-9]+ drs_accept_se=.* drs_gamma=0 "
if [ -s "$dir/d2/ring_run01_final_drs.png" ] && [ -s "$dir/d2/ring_run01_final.png" ]; then
    ok "gan2d --drs draws ring_run01_final_drs.png beside ring_run01_final.png"
else bad "gan2d --drs: no ring_run01_final_drs.png"; fi
# shellcheck disable=SC2086
build/gan2d $g2 --drs --drs-gamma -5 --out "$dir/d3" >"$dir/d3.out" 2>"$dir/err"
status_is "gan2d --drs --drs-gamma -5" 0 $? "$dir/err"
a0=$(sed -n 's/.* drs_accept=\([0-9.]*\) .*/\1/p' "$dir/d2.out")
a5=$(sed -n 's/.* drs_accept=\([0-9.]*\) .*/\1/p' "$dir/d3.out")
if [ -n "$a0" ] && [ -n "$a5" ] && awk -v a="$a0" -v b="$a5" 'BEGIN { exit !(b > a) }'; then
    ok "gamma -5 keeps more points ($a5 against $a0)"
else bad "gamma -5 does not keep more points: '$a5' against '$a0'"; fi

# gan: one short training with and without --drs, a small classifier to score with.
build/classify $d --net "linear 32, relu, linear 10" --epochs 1 --batch 32 --out "$dir/cls" >/dev/null 2>&1
c="$d --batch 32 --epochs 1 --score-n 0 --eval-n 64 --classifier $dir/cls/classifier.ckpt"
# shellcheck disable=SC2086
build/gan $c --out "$dir/plain" >"$dir/plain.out" 2>"$dir/err"
status_is "gan without --drs" 0 $? "$dir/err"
# shellcheck disable=SC2086
build/gan $c --drs --out "$dir/drs" >"$dir/drs.out" 2>"$dir/err"
status_is "gan --drs" 0 $? "$dir/err"
same "gan --drs: the same checkpoint as without it" "$dir/plain/gan.ckpt" "$dir/drs/gan.ckpt"
grep -o 'inception_score=[^ ]* .* eval_n=[0-9]*' "$dir/plain.out" >"$dir/r1"
grep -o 'inception_score=[^ ]* .* eval_n=[0-9]*' "$dir/drs.out" | head -c "$(wc -c <"$dir/r1")" >"$dir/r2"
same "gan --drs: the plain final scores unchanged" "$dir/r1" "$dir/r2"
says "gan --drs prints the DRS scores" "$dir/drs.out" "^final with DRS \(64 samples\): Inception score"
says "and the share kept" "$dir/drs.out" "DRS \(gamma 0\) kept .*% of [0-9]+ samples"
says "the result line has the DRS keys" "$dir/drs.out" "drs_inception_score=.* drs_fid=.* drs_n=64 drs_accept=0\.[0-9]+"
if [ -s "$dir/drs/samples_drs.png" ] && [ ! -e "$dir/plain/samples_drs.png" ]; then
    ok "gan --drs draws samples_drs.png (and only with --drs)"
else bad "samples_drs.png missing with --drs or present without"; fi

# --eval --drs of the checkpoint, of an --export, and of a .safetensors without D.
e="--threads 1 --quiet --data $dir/data --eval-n 64 --classifier $dir/cls/classifier.ckpt --drs"
# shellcheck disable=SC2086
build/gan $e --eval "$dir/plain/gan.ckpt" --export "$dir/g.safetensors" --out "$dir/ev1" \
    >"$dir/ev1.out" 2>"$dir/err"
status_is "gan --eval CKPT --drs" 0 $? "$dir/err"
says "--eval --drs prints both rows" "$dir/ev1.out" "^generated with DRS \(64 samples\)"
# shellcheck disable=SC2086
build/gan $e --eval "$dir/g.safetensors" --out "$dir/ev2" >"$dir/ev2.out" 2>"$dir/err"
status_is "gan --eval EXPORT --drs (an export holds D)" 0 $? "$dir/err"
grep -o 'drs_inception_score=.*drs_accept=[^ ]*' "$dir/ev1.out" >"$dir/r1"
grep -o 'drs_inception_score=.*drs_accept=[^ ]*' "$dir/ev2.out" >"$dir/r2"
same "the export's DRS scores are the checkpoint's" "$dir/r1" "$dir/r2"
python3 - "$dir/g.safetensors" "$dir/gonly.safetensors" <<'PY'
import json, struct, sys   # the export without D's tensors, a valid .safetensors
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
head, data, out, chunks, at = json.loads(b[8:8 + n]), b[8 + n:], {}, [], 0
for k, v in head.items():
    if k.startswith('discriminator.'):
        continue
    if k != '__metadata__':
        s, e = v['data_offsets']
        chunks.append(data[s:e])
        v = dict(v, data_offsets=[at, at + e - s])
        at += e - s
    out[k] = v
j = json.dumps(out).encode()
j += b' ' * (-len(j) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(j)) + j + b''.join(chunks))
PY
# shellcheck disable=SC2086
build/gan $e --eval "$dir/gonly.safetensors" --out "$dir/ev3" >/dev/null 2>"$dir/err"
status_is "gan --eval --drs of a .safetensors without D" 1 $? "$dir/err"
says "the refusal names the file and D's tensor" "$dir/err" "gonly.safetensors: tensor 'discriminator\..*' .* is missing from the file"
if [ -e "$dir/ev3" ]; then bad "--out was created for the refused file"; else ok "nothing written"; fi
exit $failed
