#!/bin/sh
# run.sh — the body of `make bench`: henbun against its peers, measured in the same run.
#   1. peak FMA throughput of this machine (bench/peak.c)
#   2. GEMM GFLOPS on the listed shapes, 1 and 2 threads, against OpenBLAS cblas_sgemm
#   3. end to end, against PyTorch (Debian's python3-torch) when it is installed:
#      the classic MNIST VAE (seconds per epoch), the MLP GAN (seconds per 1000
#      iterations) and the DCGAN (seconds per 100 iterations), with peak RSS.
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
for th in 1 2; do
    time_rss env OMP_NUM_THREADS=$th build/vae --epochs "$epochs" --threads $th --quiet --out build/bench-vae --pictures-every 1000
    h=$(echo "$out" | field sec_per_epoch); hr=$rss
    p="" pr=""
    if [ $have_torch = 1 ]; then
        time_rss env OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=$th OMP_WAIT_POLICY=PASSIVE \
            $py bench/torch_vae.py --epochs "$epochs" --threads $th
        p=$(echo "$out" | field sec_per_epoch); pr=$rss
    fi
    row "vae_mnist_epoch" $th "$h" "$p" "s/epoch"
    row "vae_mnist_peak_rss" $th "$hr" "$pr" "MiB"
done
if [ -x build/gan ]; then
    for th in 1 2; do
        time_rss env OMP_NUM_THREADS=$th build/gan --arch mlp --iters 1000 --threads $th --quiet --out build/bench-gan
        h=$(echo "$out" | field sec_per_1000_iters); hr=$rss
        p="" pr=""
        if [ $have_torch = 1 ]; then
            time_rss env OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=$th OMP_WAIT_POLICY=PASSIVE \
                $py bench/torch_gan.py --iters 1000 --threads $th
            p=$(echo "$out" | field sec_per_1000_iters); pr=$rss
        fi
        row "gan_mlp_1000_iters" $th "$h" "$p" "s"
        row "gan_mlp_peak_rss" $th "$hr" "$pr" "MiB"
        time_rss env OMP_NUM_THREADS=$th build/gan --arch dcgan --iters 100 --threads $th --quiet --out build/bench-dcgan
        h=$(echo "$out" | field sec_per_100_iters); hr=$rss
        p="" pr=""
        if [ $have_torch = 1 ]; then
            time_rss env OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=$th OMP_WAIT_POLICY=PASSIVE \
                $py bench/torch_dcgan.py --iters 100 --threads $th
            p=$(echo "$out" | field sec_per_100_iters); pr=$rss
        fi
        row "dcgan_100_iters" $th "$h" "$p" "s"
        row "dcgan_peak_rss" $th "$hr" "$pr" "MiB"
    done
fi
echo
echo "== dispatched kernels against a -march=native build (bench/native.sh)"
sh bench/native.sh "$csv"
echo
echo "== threads under load (one busy process per core; bench/load.sh)"
sh bench/load.sh "$csv"
echo
echo "table written to $csv"
