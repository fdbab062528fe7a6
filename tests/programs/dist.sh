#!/bin/sh
# dist.sh — data-parallel training (nn/dist.h) gives the run of one process, and a failing
# rank ends the job.  The driver tests/dist/dist_driver.c trains the classic MLP VAE for 50
# steps on generated data; 2 ranks on localhost (one thread each) against 1 process:
#   - parameters agree to 1e-5 relative in float, 1e-12 in double (an odd global batch,
#     25 = 13 + 12 rows, so the weighting of uneven slices is checked too);
#   - the logged losses agree to 4 significant figures;
#   - two 2-rank runs are bit-identical, with and without the overlap of the sums;
#   - a 2-rank run whose rank 1 is killed ends at once; resumed at 1 rank from rank 0's
#     checkpoint it ends where the uninterrupted run does; a stop request on one rank stops
#     both at the same step and the 2-rank resume is bit-identical;
#   - a NaN on one rank, or data one rank cannot read, ends the job within seconds with a
#     message naming it;
#   - synchronized batch norm: a model with batch norm matches one process (gradients of
#     the first step and parameters after 50), and without the sync it does not.
# Needs mpirun and the MPI build of the driver (make test builds it when mpicc exists).
. tests/programs/lib/common.sh

if ! command -v mpirun >/dev/null 2>&1; then
    echo "mpirun is not installed (scripts/install_deps.sh installs openmpi-bin): skipped"
    exit 0
fi
for r in float double; do
    [ -x build/mpi-$r/dist_driver ] || { echo "build/mpi-$r/dist_driver is missing (make test builds it)"; exit 1; }
done
# root may run mpirun here (CI containers); one thread per rank, ranks may share cores.
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_rmaps_base_oversubscribe
mpi() { np=$1; shift; timeout "${limit:-120}" mpirun -np "$np" --oversubscribe --bind-to none "$@"; }
F=build/mpi-float/dist_driver D=build/mpi-double/dist_driver
run="--batch 25 --steps 50 --threads 1"

# agree WHAT DRIVER A B RTOL
agree() {
    if out=$("$2" --compare "$3" "$4" "$5" 2>&1); then ok "$1 ($out)"; else bad "$1: $out"; fi
}
# losses_agree WHAT LOG1 LOG2 [FROM_STEP]: every logged figure to 4 significant figures.
losses_agree() {
    if [ ! -s "$2" ] || [ ! -s "$3" ]; then bad "$1: a log is missing"; return; fi
    awk -F, -v from="${4:-0}" '
        function sig4(v) { return sprintf("%.3e", v) }
        NR == FNR { if ($1 > from) a[$1] = sig4($2) " " sig4($3) " " sig4($4); next }
        $1 > from { n++; if (!($1 in a) || a[$1] != sig4($2) " " sig4($3) " " sig4($4)) {
                        print "step " $1 ": " a[$1] " vs " sig4($2) " " sig4($3) " " sig4($4); bad = 1 } }
        END { if (n == 0) { print "no rows"; bad = 1 }; exit bad }' "$2" "$3" >"$dir/awk" 2>&1 &&
        ok "$1" || { bad "$1:"; head -n 5 "$dir/awk"; }
}

# ---- the same run as one process -------------------------------------------------------------
for r in float double; do
    drv=build/mpi-$r/dist_driver
    tol=1e-5; [ $r = double ] && tol=1e-12
    $drv $run --params "$dir/$r.1" --log "$dir/$r.1.log" >/dev/null || bad "$r: 1 process failed"
    mpi 2 $drv $run --params "$dir/$r.2" --log "$dir/$r.2.log" >/dev/null || bad "$r: 2 ranks failed"
    agree "$r: parameters after 50 steps, 2 ranks vs 1 process, to $tol" $drv "$dir/$r.2" "$dir/$r.1" $tol
    losses_agree "$r: losses of 50 steps, 2 ranks vs 1 process, to 4 significant figures" \
        "$dir/$r.1.log" "$dir/$r.2.log"
done
mpi 2 $F $run --params "$dir/again" >/dev/null || bad "second 2-rank run failed"
same "two 2-rank runs are bit-identical" "$dir/float.2" "$dir/again"
mpi 2 $F $run --no-overlap --params "$dir/serial" >/dev/null || bad "2-rank run without overlap failed"
same "summing after backward gives the same bits as overlapping it" "$dir/float.2" "$dir/serial"

# ---- failures and resuming -------------------------------------------------------------------
ends_fast "a killed rank ends the 2-rank job" 20 "signal 9" \
    mpi 2 $F $run --ckpt "$dir/killed.ckpt" --every 10 --die-at 33 --log "$dir/killed.log"
if [ -s "$dir/killed.ckpt" ]; then
    $F $run --resume "$dir/killed.ckpt" --params "$dir/resumed" --log "$dir/resumed.log" >/dev/null ||
        bad "resuming the killed run at 1 rank failed"
    agree "killed at step 33, resumed at 1 rank from step 30: parameters as the uninterrupted run" \
        $F "$dir/resumed" "$dir/float.2" 1e-5
    losses_agree "the resumed run's losses (steps 31-50) as the uninterrupted run's" \
        "$dir/float.2.log" "$dir/resumed.log" 30
else
    bad "rank 0 wrote no checkpoint before rank 1 was killed"
fi
mpi 2 $F $run --ckpt "$dir/stop.ckpt" --stop-at 20 >"$dir/out" 2>&1
status=$?
if [ $status -eq 0 ] || ! grep -q "stopped after step 21" "$dir/out"; then
    bad "a stop request on rank 1 (status $status):"; sed 's/^/    /' "$dir/out"
else
    mpi 2 $F $run --resume "$dir/stop.ckpt" --params "$dir/stop.resumed" >/dev/null ||
        bad "resuming the stopped run at 2 ranks failed"
    same "stopped on one rank at step 21, resumed at 2 ranks: bit-identical to the uninterrupted run" \
        "$dir/float.2" "$dir/stop.resumed"
fi
ends_fast "a NaN on one rank stops every rank" 20 "non-finite loss on 1 rank(s) at step 11" \
    mpi 2 $F $run --nan-at 10
ends_fast "data one rank cannot read ends the job" 20 "rank 1 of 2: cannot read" \
    mpi 2 $F $run --bad-data-rank 1

# ---- synchronized batch norm -------------------------------------------------------------------
for r in float double; do
    drv=build/mpi-$r/dist_driver
    tol=1e-5; [ $r = double ] && tol=1e-12
    $drv $run --bn --steps 1 --grads "$dir/g1" --params "$dir/s1" >/dev/null
    mpi 2 $drv $run --bn --sync-bn --steps 1 --grads "$dir/g2" --params "$dir/s2" >/dev/null
    agree "$r: sync batch norm, first-step gradients, 2 ranks vs 1 process, to $tol" \
        $drv "$dir/g2" "$dir/g1" $tol
    agree "$r: sync batch norm, running statistics after one step, to $tol" \
        $drv "$dir/s2" "$dir/s1" $tol
    $drv $run --bn --params "$dir/b1" >/dev/null
    mpi 2 $drv $run --bn --sync-bn --params "$dir/b2" >/dev/null
    agree "$r: sync batch norm, parameters after 50 steps, to $tol" $drv "$dir/b2" "$dir/b1" $tol
done
mpi 2 $F $run --bn --params "$dir/b3" >/dev/null
$F $run --bn --params "$dir/b1f" >/dev/null
if $F --compare "$dir/b3" "$dir/b1f" 1e-2 >"$dir/out" 2>&1; then
    bad "per-rank batch norm should differ from one process, but: $(cat "$dir/out")"
else
    ok "per-rank batch norm (no sync) differs from one process, as documented"
fi
exit $failed
