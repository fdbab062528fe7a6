#!/bin/sh
# dist_bench.sh — the body of `make bench-dist`: data-parallel training of the classic
# MNIST VAE (784-400-20, batch 100, Adam; tests/dist/dist_driver.c) at
#   1 rank x 1 thread, 2 ranks x 1 thread (overlap on, and off), 1 rank x 2 threads,
# against PyTorch DDP over gloo (bench/torch_ddp.py, Debian's python3-torch) at 1 and 2
# ranks, one thread each.  The cases alternate, REPS times, and the table holds medians:
# on a shared machine a run can lose the CPU at any moment, so alternating spreads that
# over all cases.  Also reported: CPU seconds (summed over ranks) and, for henbun, the time
# per step each rank waited for gradient sums after its backward ended (what the overlap
# did not hide).  Nothing here is asserted.
#   usage: bench/dist_bench.sh [STEPS=600 (one epoch)] [REPS=3]  (environment variables)
set -u
cd "$(dirname "$0")/.."
steps=${STEPS:-600} reps=${REPS:-3}
drv=build/mpi-float/dist_driver
csv=build/bench.csv
raw=build/bench-dist.raw
py=/usr/bin/python3
OMP_WAIT_POLICY=PASSIVE OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_WAIT_POLICY OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
[ -x $drv ] || { echo "$drv is missing: make bench-dist builds it (needs mpicc)"; exit 1; }
have_torch=0
$py -c 'import torch, torch.distributed' 2>/dev/null && have_torch=1
[ $have_torch = 1 ] || echo "(PyTorch not installed: apt-get install python3-torch for the DDP rows)"
mpi="mpirun --oversubscribe --bind-to none -np"
h="--data data/mnist --batch 100 --steps $steps"

field() { sed -n "s/.*[ :]$1=\([^ ]*\).*/\1/p" | tail -n 1; }
: >"$raw"
run() { # run CASE COMMAND...: appends "CASE ms_per_step cpu_ms_per_step comm_wait_ms"
    name=$1; shift
    line=$("$@" 2>/dev/null | grep '^result:')
    [ -n "$line" ] || { echo "  $name: no result line"; return; }
    ms=$(echo "$line" | field ms_per_step) cpu=$(echo "$line" | field cpu_seconds)
    wait=$(echo "$line" | field comm_wait_ms)
    echo "$name $ms $(awk -v c="$cpu" -v s="$steps" 'BEGIN { printf "%.3f", 1e3 * c / s }') ${wait:--}" >>"$raw"
    echo "  $name: $ms ms/step"
}
for r in $(seq "$reps"); do
    echo "== round $r of $reps ($steps steps each)"
    run henbun-1x1 $drv $h --threads 1
    run henbun-2x1 $mpi 2 $drv $h --threads 1
    run henbun-2x1-no-overlap $mpi 2 $drv $h --threads 1 --no-overlap
    run henbun-1x2 $drv $h --threads 2
    if [ $have_torch = 1 ]; then
        run ddp-1x1 $py bench/torch_ddp.py --ranks 1 --steps "$steps"
        run ddp-2x1 $py bench/torch_ddp.py --ranks 2 --steps "$steps"
    fi
done

median() { # median CASE COLUMN
    awk -v c="$1" -v k="$2" '$1 == c && $k != "-" { print $k }' "$raw" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
base=$(median henbun-1x1 2) dbase=$(median ddp-1x1 2)
cbase=$(median henbun-1x1 3) dcbase=$(median ddp-1x1 3)
[ -f "$csv" ] || echo "case,threads,henbun,peer,unit,speedup" >"$csv"
echo
# wall: the time per step; cpu/rank: CPU time per step of one rank (an upper bound on the
# wall time each rank would need with a core of its own: it includes MPI's busy waiting);
# the two speed-ups are against the same stack's 1x1 case.
printf "%-22s %9s %9s %12s %12s %10s\n" case wall-ms cpu-ms/rank speedup-wall speedup-cpu comm-wait-ms
for c in henbun-1x1 henbun-2x1 henbun-2x1-no-overlap henbun-1x2 ddp-1x1 ddp-2x1; do
    ms=$(median $c 2)
    [ -n "$ms" ] || continue
    ranks=1; case $c in *-2x1*) ranks=2 ;; esac
    ref=$base cref=$cbase; case $c in ddp-*) ref=$dbase cref=$dcbase ;; esac
    cpu=$(awk -v c="$(median $c 3)" -v r=$ranks 'BEGIN { printf "%.2f", c / r }')
    sw=$(awk -v a="$ref" -v b="$ms" 'BEGIN { printf "%.2fx", a / b }')
    sc=$(awk -v a="$cref" -v b="$cpu" 'BEGIN { printf "%.2fx", a / b }')
    case $c in *-1x2) sc=- ;; esac
    printf "%-22s %9s %9s %12s %12s %10s\n" $c "$ms" "$cpu" "$sw" "$sc" "$(median $c 4)"
    echo "dist $c wall,1,$ms,,ms/step," >>"$csv"
    echo "dist $c cpu per rank,1,$cpu,,ms/step," >>"$csv"
done
h2=$(median henbun-2x1 2) d2=$(median ddp-2x1 2) hn=$(median henbun-2x1-no-overlap 2)
echo
awk -v b="$base" -v h="$h2" -v n="$hn" -v d="$d2" 'BEGIN {
    printf "2 ranks vs 1 rank (henbun, 1 thread each, wall): %.2fx\n", b / h
    if (n != "") printf "overlap saves %.2f ms/step (%.1f%%) at 2 ranks (wall)\n", n - h, 100 * (n - h) / n
    if (d != "") printf "henbun vs DDP/gloo at 2 ranks (wall): %.2fx (%.1f vs %.1f ms/step)\n", d / h, h, d }'
echo "(medians of $reps alternating rounds; raw figures in $raw; load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
