#!/bin/sh
# run.sh — the body of `make bench`: henbun against its peers, measured in the same run.
#   1. peak FMA throughput of this machine (bench/peak.c)
#   2. GEMM GFLOPS on the listed shapes, 1 and 2 threads, against OpenBLAS cblas_sgemm
#   3. end to end, against PyTorch (Debian's python3-torch) when it is installed:
#      the classic MNIST VAE (seconds per epoch), the MLP GAN (seconds per 1000
#      iterations) and the DCGAN (seconds per 100 iterations): wall clock, CPU seconds and
#      peak RSS, each the best of BENCH_REPEATS (3) alternating runs; the VAE epoch's share
#      of the FMA peak; the DCGAN's layers one by one (bench/conv_bench.c)
#   4. the dispatched build against a -march=native build (bench/native.sh)
#   5. threads under load: the VAE epoch at 2 threads against 1 thread, both beside one
#      busy competitor process per core (bench/load.sh).
# Every row also goes to build/bench.csv: case,threads,henbun,peer,unit,speedup (speedup > 1
# means henbun is faster).  Nothing here is a test: speed is reported, never asserted.
set -u
cd "$(dirname "$0")/.."
csv=build/bench.csv
mkdir -p build
echo "case,threads,henbun,peer,unit,speedup" >"$csv"
py=/usr/bin/python3
have_torch=0
$py -c 'import torch' 2>/dev/null && have_torch=1
[ $have_torch = 1 ] || echo "(PyTorch not installed: apt-get install python3-torch for the peer columns)"

build/bench/peak --csv "$csv"
build/bench/gemm_bench --csv "$csv"

field() { # field KEY < result line  ->  value of KEY=...
    sed -n "s/.*[ :]$1=\([^ ]*\).*/\1/p" | tail -n 1
}
# time_rss CMD...: runs CMD, keeps its result line in $out, its peak RSS (MiB) in $rss
time_rss() {
    out=$(/usr/bin/time -f 'rss_kib=%M' "$@" 2>/tmp/henbun-bench-time.$$ | grep '^result:')
    rss=$(grep -o 'rss_kib=[0-9]*' /tmp/henbun-bench-time.$$ | tail -n 1 | cut -d= -f2)
    rss=$(awk -v k="${rss:-0}" 'BEGIN { printf "%.0f", k / 1024 }')
    rm -f /tmp/henbun-bench-time.$$
}
row() { # row CASE THREADS HENBUN PEER UNIT  (time units: smaller is better)
    sp=$(awk -v h="$3" -v p="$4" 'BEGIN { if (p == "" || h == "" || h == 0) print ""; else printf "%.2f", p / h }')
    echo "$1,$2,$3,$4,$5,$sp" >>"$csv"
    printf "%-34s %2s threads  henbun %8s  peer %8s %-10s speedup %s\n" "$1" "$2" "$3" "${4:--}" "$5" "${sp:--}"
}

echo
echo "== end to end (MNIST from data/, fetched now if missing)"
[ -f data/mnist/train-images-idx3-ubyte ] || [ -f data/mnist/train-images-idx3-ubyte.gz ] \
    || sh scripts/fetch_data.sh mnist
epochs=${BENCH_VAE_EPOCHS:-2}
repeats=${BENCH_REPEATS:-3}
# pair NAME THREADS UNIT WALL_KEY CPU_KEY "HENBUN COMMAND" "PEER COMMAND"
# Runs henbun and its peer alternately $repeats times and keeps the best of each (a burst of
# other work on a shared machine then hurts both alike).  Writes three rows: wall clock, CPU
# seconds of all threads (the figure to trust at one thread on a busy machine) and peak RSS.
# The commands are split on blanks (none of their words holds one).
pair() {
    name=$1 th=$2 unit=$3 wk=$4 ck=$5 hcmd=$6 pcmd=$7
    hw="" hc="" hr="" pw="" pc="" pr="" r=0
    while [ $r -lt "$repeats" ]; do
        time_rss $hcmd
        hw=$(min "$hw" "$(echo "$out" | field "$wk")"); hc=$(min "$hc" "$(echo "$out" | field "$ck")")
        hr=$rss
        if [ $have_torch = 1 ]; then
            time_rss $pcmd
            pw=$(min "$pw" "$(echo "$out" | field "$wk")"); pc=$(min "$pc" "$(echo "$out" | field "$ck")")
            pr=$rss
        fi
        r=$((r + 1))
    done
    row "$name" "$th" "$hw" "$pw" "$unit"
    row "${name}_cpu" "$th" "$hc" "$pc" "cpu-$unit"
    row "${name%%_[0-9e]*}_peak_rss" "$th" "$hr" "$pr" "MiB"
}
min() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || (b != "" && b + 0 < a + 0)) print b; else print a }'; }
torch_env() { echo "env OMP_NUM_THREADS=$1 OPENBLAS_NUM_THREADS=$1 OMP_WAIT_POLICY=PASSIVE"; }
for th in 1 2; do
    pair vae_mnist_epoch $th s/epoch sec_per_epoch cpu_sec_per_epoch \
        "env OMP_NUM_THREADS=$th build/vae --epochs $epochs --threads $th --quiet --out build/bench-vae --pictures-every 1000" \
        "$(torch_env $th) $py bench/torch_vae.py --epochs $epochs --threads $th"
done
# The share of the machine's peak the whole VAE epoch reaches: 196.8 GFLOP of GEMM per
# training epoch (784-400-20 VAE, 60 000 images: forward 1.30 MFLOP an image, backward
# 1.98 — dW of all four layers, dX of the last three), over 1-thread CPU seconds and the best
# 1-thread float peak of bench/peak.c above.
awk -F, '$1 ~ /^peak_.*_float$/ && $2 == 1 && $3 > pk { pk = $3 }
         $1 == "vae_mnist_epoch_cpu" && $2 == 1 { t = $3 }
         END { if (pk > 0 && t > 0) printf "vae_mnist_epoch_peak_share,1,%.1f,,%% of %.1f GFLOPS,\n", 100 * 196.8 / (t * pk), pk }' \
    "$csv" >>"$csv"
tail -n 1 "$csv" | grep -q peak_share && tail -n 1 "$csv" | awk -F, '{ printf "%-34s %2s thread   henbun %8s  %s\n", $1, $2, $3, $5 }'
if [ -x build/gan ]; then
    for th in 1 2; do
        pair gan_mlp_1000_iters $th s sec_per_1000_iters cpu_sec_per_1000_iters \
            "env OMP_NUM_THREADS=$th build/gan --arch mlp --iters 1000 --threads $th --quiet --out build/bench-gan" \
            "$(torch_env $th) $py bench/torch_gan.py --iters 1000 --threads $th"
        pair dcgan_100_iters $th s sec_per_100_iters cpu_sec_per_100_iters \
            "env OMP_NUM_THREADS=$th build/gan --arch dcgan --iters 100 --threads $th --quiet --out build/bench-dcgan" \
            "$(torch_env $th) $py bench/torch_dcgan.py --iters 100 --threads $th"
    done
fi
if [ -x build/bench/conv_bench ]; then
    echo
    echo "== the DCGAN's convolution layers, forward + backward (bench/conv_bench.c)"
    make --no-print-directory -s bench-conv   # with bench/torch_conv.py as the peer
fi
echo
echo "== dispatched kernels against a -march=native build (bench/native.sh)"
sh bench/native.sh "$csv"
echo
echo "== threads under load (one busy process per core; bench/load.sh)"
sh bench/load.sh "$csv"
echo
echo "table written to $csv"
