#!/bin/sh
# dist_programs.sh — build/mpi/vae, build/mpi/gan and build/mpi/classify under mpirun give
# the run of one process, and a failing rank ends the job (the harness's data parallelism,
# examples/common/harness.h; the layer beneath is checked by dist.sh).  On the tiny
# generated data, one thread per rank, 2 ranks on localhost against 1 process, same seed
# and global --batch:
#   - the VAE (55 steps, batch 25: the last batch of each epoch, 6 rows, split 3 + 3), the
#     classifier, and the GAN with a batch-norm generator and --sync-bn: the checkpoints'
#     parameters agree to 1e-5 relative (the VAE's in the double build to 1e-12), the
#     logged figures to 4 significant figures; the DCGAN with --sync-bn in double to 1e-12;
#     without --sync-bn the GAN differs (per-rank batch norm, as documented);
#   - two 2-rank runs write the same checkpoint, bit for bit;
#   - a 2-rank run stopped mid-epoch (HENBUN_STOP_AFTER_STEPS) saves once and prints the
#     resume command; resumed at 1 rank (and at 3) it ends where the uninterrupted run does;
#   - SIGTERM to mpirun saves a checkpoint that resumes;
#   - a killed rank, a rank that cannot read its data and a NaN on one rank end the whole
#     job within seconds, with a message; so does a usage error on one rank of an MPMD
#     launch (each rank its own flags): every rank ends with status 2, nothing written.
# Needs mpirun and build/mpi/<program> (make test builds them when mpicc exists).
. tests/programs/lib/common.sh

if ! command -v mpirun >/dev/null 2>&1; then
    echo "mpirun is not installed (scripts/install_deps.sh installs openmpi-bin): skipped"
    exit 0
fi
for p in vae gan classify; do
    [ -x build/mpi/$p ] || { echo "build/mpi/$p is missing (make test builds it)"; exit 1; }
done
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_rmaps_base_oversubscribe
mpi() { timeout "${limit:-120}" mpirun --oversubscribe --bind-to none "$@"; }
compare="python3 tests/programs/lib/ckpt_compare.py"

# params_agree WHAT A B RTOL [SKIP...]: the checkpoints' tensors (not SKIP...) agree.
params_agree() {
    what=$1; shift
    if out=$($compare "$@" 2>&1); then ok "$what ($out)"; else bad "$what: $out"; fi
}
# logs_agree WHAT LOG1 LOG2 FIRST LAST: columns FIRST..LAST to 4 significant figures.
logs_agree() {
    if [ ! -s "$2" ] || [ ! -s "$3" ]; then bad "$1: a log is missing"; return; fi
    awk -F, -v a="$4" -v b="$5" '
        FNR == 1 { next }
        { s = $1; for (i = a; i <= b; i++) s = s " " sprintf("%.3e", $i) }
        NR == FNR { row[FNR] = s; n1++; next }
        { n2++; if (row[FNR] != s) { print "row " FNR - 1 ": " row[FNR] " vs " s; bad = 1 } }
        END { if (n1 == 0 || n1 != n2) { print n1 " rows vs " n2; bad = 1 }; exit bad }' \
        "$2" "$3" >"$dir/awk" 2>&1 && ok "$1" || { bad "$1:"; head -n 5 "$dir/awk"; }
}

data="--data $dir/data --threads 1 --quiet"
vae="build/mpi/vae $data --epochs 5 --batch 25 --pictures-every 100"

# ---- the same run as one process -------------------------------------------------------------
build/mpi/vae $data --epochs 5 --batch 25 --pictures-every 100 --out "$dir/v1" >/dev/null 2>&1 ||
    bad "vae: 1 process failed"
mpi -np 2 $vae --out "$dir/v2" >"$dir/v2.out" 2>&1 || { bad "vae: 2 ranks failed:"; tail -n 5 "$dir/v2.out"; }
params_agree "vae: parameters after 55 steps, 2 ranks vs 1 process, to 1e-5" \
    "$dir/v2/vae.ckpt" "$dir/v1/vae.ckpt" 1e-5 optim.
logs_agree "vae: logged train and test figures, 2 ranks vs 1 process, to 4 significant figures" \
    "$dir/v1/log.csv" "$dir/v2/log.csv" 2 7
n=$(grep -c '^result:' "$dir/v2.out")
[ "$n" = 1 ] && ok "vae: one result line from 2 ranks" || bad "vae: $n result lines from 2 ranks"
mpi -np 2 $vae --out "$dir/v2b" >/dev/null 2>&1 || bad "vae: second 2-rank run failed"
same "vae: two 2-rank runs write the same checkpoint, bit for bit" "$dir/v2/vae.ckpt" "$dir/v2b/vae.ckpt"

if [ -x build/mpi-double/bin/vae ]; then
    vaed="build/mpi-double/bin/vae $data --epochs 5 --batch 25 --pictures-every 100"
    $vaed --out "$dir/d1" >/dev/null 2>&1 || bad "vae double: 1 process failed"
    mpi -np 2 $vaed --out "$dir/d2" >/dev/null 2>&1 || bad "vae double: 2 ranks failed"
    params_agree "vae, double build: parameters after 55 steps, 2 ranks vs 1 process, to 1e-12" \
        "$dir/d2/vae.ckpt" "$dir/d1/vae.ckpt" 1e-12 optim.
else
    bad "build/mpi-double/bin/vae is missing (make test builds it)"
fi
# The DCGAN preset with --sync-bn, in double: all but the biases directly before a batch
# norm (whose gradient is rounding noise, README "Scaling out") and the running means that
# carry them.
if [ -x build/mpi-double/bin/gan ]; then
    dc="build/mpi-double/bin/gan $data --arch dcgan --iters 6 --batch 8 --score-n 0 --eval-n 0"
    $dc --out "$dir/dc1" >/dev/null 2>&1 || bad "dcgan double: 1 process failed"
    mpi -np 2 $dc --sync-bn --out "$dir/dc2" >/dev/null 2>&1 || bad "dcgan double: 2 ranks failed"
    params_agree "dcgan --sync-bn, double build: G and D after 6 iterations, 2 ranks vs 1 process, to 1e-12" \
        "$dir/dc2/gan.ckpt" "$dir/dc1/gan.ckpt" 1e-12 opt_ progress. generator.0.linear.bias \
        generator.4.convt.bias discriminator.2.conv.bias generator.1.batchnorm.running_mean \
        generator.5.batchnorm.running_mean discriminator.3.batchnorm.running_mean
    # --conditional: D's fakes and G's step take each rank's rows of the real batch's labels
    # (D without the preset's dropout, whose masks are drawn per rank, as for the gan below)
    cg() { "$@" $data --conditional --iters 6 --batch 8 --score-n 0 --eval-n 0 \
               --generator 'linear 32, relu, linear 784, sigmoid' \
               --discriminator 'linear 32, leaky_relu 0.2, linear 1'; }
    cg build/mpi-double/bin/gan --out "$dir/cg1" >/dev/null 2>&1 || bad "gan --conditional double: 1 process failed"
    cg mpi -np 2 build/mpi-double/bin/gan --out "$dir/cg2" >/dev/null 2>&1 || bad "gan --conditional double: 2 ranks failed"
    params_agree "gan --conditional, double build: G, D and the projection after 6 iterations, 2 ranks vs 1 process, to 1e-12" \
        "$dir/cg2/gan.ckpt" "$dir/cg1/gan.ckpt" 1e-12 opt_ progress.
else
    bad "build/mpi-double/bin/gan is missing (make test builds it)"
fi

net='linear 64, relu, linear 10'
build/mpi/classify $data --epochs 2 --batch 25 --net "$net" --out "$dir/c1" >/dev/null 2>&1 ||
    bad "classify: 1 process failed"
mpi -np 2 build/mpi/classify $data --epochs 2 --batch 25 --net "$net" --out "$dir/c2" >/dev/null 2>&1 ||
    bad "classify: 2 ranks failed"
params_agree "classify: parameters, 2 ranks vs 1 process, to 1e-5" \
    "$dir/c2/classifier.ckpt" "$dir/c1/classifier.ckpt" 1e-5 optim.
logs_agree "classify: logged loss and accuracy, 2 ranks vs 1 process, to 4 significant figures" \
    "$dir/c1/log.csv" "$dir/c2/log.csv" 2 5

gan() { "$@" $data --iters 20 --batch 16 --score-n 0 --eval-n 0 \
            --generator 'linear 32, relu, batchnorm, linear 784, sigmoid' \
            --discriminator 'linear 32, leaky_relu 0.2, linear 1'; }
gan build/mpi/gan --out "$dir/g1" >/dev/null 2>&1 || bad "gan: 1 process failed"
gan mpi -np 2 build/mpi/gan --sync-bn --out "$dir/g2" >/dev/null 2>&1 || bad "gan: 2 ranks failed"
params_agree "gan --sync-bn: G and D after 20 iterations, 2 ranks vs 1 process, to 1e-5" \
    "$dir/g2/gan.ckpt" "$dir/g1/gan.ckpt" 1e-5 opt_ progress.
logs_agree "gan --sync-bn: logged losses, 2 ranks vs 1 process, to 4 significant figures" \
    "$dir/g1/log.csv" "$dir/g2/log.csv" 3 7
gan mpi -np 2 build/mpi/gan --out "$dir/g3" >/dev/null 2>&1 || bad "gan: 2 ranks without --sync-bn failed"
if $compare "$dir/g3/gan.ckpt" "$dir/g1/gan.ckpt" 1e-2 opt_ progress. >"$dir/out" 2>&1; then
    bad "gan: per-rank batch norm should differ from one process, but: $(cat "$dir/out")"
else
    ok "gan: per-rank batch norm (no --sync-bn) differs from one process, as documented"
fi

# ---- stopping and resuming -------------------------------------------------------------------
HENBUN_STOP_AFTER_STEPS=13 mpi -np 2 $vae --out "$dir/s" >/dev/null 2>"$dir/s.err"
status_is "vae: a 2-rank run stopped mid-epoch" 130 $? "$dir/s.err"
n=$(grep -c 'stopped at epoch' "$dir/s.err")
[ "$n" = 1 ] && ok "vae: the stop is reported once" || bad "vae: the stop is reported $n times"
cmd=$(resume_command "$dir/s.err")
if [ -z "$cmd" ]; then
    bad "vae: no resume command printed"
else
    cp -r "$dir/s" "$dir/s3"
    mpi -np 3 $vae --resume "$dir/s3/vae.ckpt" >/dev/null 2>&1 || bad "vae: resuming at 3 ranks failed"
    params_agree "vae: stopped at 2 ranks, resumed at 3: parameters as the uninterrupted run, to 1e-5" \
        "$dir/s3/vae.ckpt" "$dir/v2/vae.ckpt" 1e-5 optim.
    eval "$cmd" >/dev/null 2>&1 || bad "vae: resuming at 1 rank failed ($cmd)"
    params_agree "vae: stopped at 2 ranks, resumed at 1: parameters as the uninterrupted run, to 1e-5" \
        "$dir/s/vae.ckpt" "$dir/v2/vae.ckpt" 1e-5 optim.
    logs_agree "vae: stopped at 2 ranks, resumed at 1: the log as the uninterrupted run's" \
        "$dir/v2/log.csv" "$dir/s/log.csv" 2 7
fi
mpirun --oversubscribe --bind-to none -np 2 build/mpi/vae $data --epochs 1000 --batch 25 \
    --pictures-every 1000 --out "$dir/t" >/dev/null 2>"$dir/t.err" &
job=$!
sleep 4
kill -TERM $job
start=$(date +%s)
wait $job
status=$? took=$(($(date +%s) - start))
if [ $took -le 20 ] && [ -s "$dir/t/vae.ckpt" ] && grep -q 'resume with:' "$dir/t.err"; then
    ok "vae: SIGTERM to mpirun saves and prints the resume command (status $status after $took s)"
    cmd=$(resume_command "$dir/t.err")
    eval "HENBUN_STOP_AFTER_STEPS=2 $cmd" >/dev/null 2>"$dir/t2.err"
    status_is "vae: its resume command runs at 1 rank (stopped 2 steps on)" 130 $? "$dir/t2.err"
    says "vae: ... 2 steps after the SIGTERM's step" "$dir/t2.err" \
        "step $(($(sed -n 's/.*stopped.*[ (]step \([0-9][0-9]*\).*/\1/p' "$dir/t.err") + 2))[ )]"
else
    bad "vae: SIGTERM to mpirun (status $status after $took s):"; tail -n 5 "$dir/t.err"
fi

# ---- failures --------------------------------------------------------------------------------
mpirun --oversubscribe --bind-to none -np 2 build/mpi/vae $data --epochs 1000 --batch 25 \
    --pictures-every 1000 --out "$dir/k" >/dev/null 2>"$dir/k.err" &
job=$!
sleep 4
victim=$(pgrep -P $job | tail -n 1)
if [ -z "$victim" ]; then
    bad "vae: no rank process under mpirun to kill"
    kill -KILL $job
else
    kill -KILL "$victim"
    start=$(date +%s)
    wait $job
    status=$? took=$(($(date +%s) - start))
    if [ $status -ne 0 ] && [ $took -le 20 ]; then
        ok "vae: a killed rank ends the 2-rank job (status $status after $took s)"
    else
        bad "vae: after a killed rank: status $status after $took s"
    fi
fi
ends_fast "vae: data one rank cannot read ends the job" 20 "rank 1 of 2: vae stopped" \
    mpi -np 1 $vae --out "$dir/b" : -np 1 $vae --data "$dir/none" --out "$dir/b"
ends_fast "vae: a usage error on one rank of an MPMD launch ends every rank" 20 \
    "rank 0 of 2: another rank's flags were refused" \
    mpi -np 1 $vae --out "$dir/u" : -np 1 $vae --no-such-flag --out "$dir/u"
grep -q "unknown option '--no-such-flag'" "$dir/out" && [ ! -e "$dir/u" ] &&
    ok "vae: the MPMD usage error names the flag, and no output folder was made" ||
    bad "vae: after the MPMD usage error: no message naming the flag, or $dir/u exists"
ends_fast "vae: a NaN on one rank (its own --lr 1e30) stops every rank" 20 \
    "a NaN or an inf on 1 of 2 ranks" \
    mpi -np 1 $vae --out "$dir/n" : -np 1 $vae --lr 1e30 --out "$dir/n"
exit $failed
