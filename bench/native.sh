#!/bin/sh
# native.sh — the dispatched library (the default build: baseline x86-64 code, SIMD kernels
# picked at run time) against a -march=native build of the same sources, side by side on
# the GEMM shapes (1 thread) and the classic VAE epoch (1 thread).  The target (issue 15):
# the dispatched build within 3% of the native one everywhere (ratio >= 0.97).
# The native build is made in build/native/src (a copy of the sources, as
# scripts/valgrind.sh does, since the Makefile always builds beside its sources).
# Runs alternate between the builds, BENCH_NATIVE_REPEATS times (default 2), best of each.
#   sh bench/native.sh [CSV]       (run by make bench; alone: make bench-native)
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
csv=${1:-build/bench.csv}
repeats=${BENCH_NATIVE_REPEATS:-2}
epochs=${BENCH_NATIVE_EPOCHS:-1}
nat=build/native/src
mkdir -p "$nat"
for d in Makefile autograd nn vae examples bench tests scripts; do
    rm -rf "${nat:?}/$d"
    cp -a "$d" "$nat/"
done
ln -sfn "$root/data" "$nat/data"
echo "building the -march=native copy in $nat"
make -s -C "$nat" NATIVE=1 -j2 build/vae build/bench/gemm_bench >/dev/null || { echo "native build failed"; exit 1; }
make -s -j2 build/vae build/bench/gemm_bench >/dev/null || exit 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
r=0
while [ $r -lt "$repeats" ]; do
    for which in disp nat; do
        dir=.; [ $which = nat ] && dir=$nat
        "$dir/build/bench/gemm_bench" --threads 1 --seconds 0.1 --csv "$tmp/$which-gemm.csv" >/dev/null
        s=$(env OMP_NUM_THREADS=1 "$dir/build/vae" --epochs "$epochs" --threads 1 --quiet \
                --out "$tmp/vae-$which" --pictures-every 1000 | sed -n 's/.*sec_per_epoch=\([^ ]*\).*/\1/p')
        echo "vae_mnist_epoch,$s" >>"$tmp/$which-vae.csv"
    done
    r=$((r + 1))
done
# Best of the repeats per case: GFLOPS (larger is better) and seconds (smaller is better).
awk -F, -v out="$csv" '
    FILENAME ~ /gemm/ && $5 == "GFLOPS" { k = $1; w = FILENAME ~ /disp-/ ? "d" : "n"
        if (!((k, w) in best) || $3 > best[k, w]) best[k, w] = $3; if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
    FILENAME ~ /vae/ { k = $1; w = FILENAME ~ /disp-/ ? "d" : "n"; t = $2 + 0
        if (!((k, w) in best) || t < best[k, w]) best[k, w] = t; if (!(k in seen)) { seen[k] = 1; vae = k } }
    END {
        printf "%-30s %12s %12s %8s\n", "case (1 thread)", "dispatched", "native", "ratio"
        worst = 10
        for (i = 1; i <= n; i++) { k = order[i]; r = best[k, "d"] / best[k, "n"]; if (r < worst) worst = r
            printf "%-30s %8.1f GF/s %8.1f GF/s %8.3f\n", k, best[k, "d"], best[k, "n"], r
            printf "dispatch_vs_native_%s,1,%.2f,%.2f,GFLOPS,%.3f\n", k, best[k, "d"], best[k, "n"], r >> out }
        if (vae != "") { r = best[vae, "n"] / best[vae, "d"]; if (r < worst) worst = r
            printf "%-30s %10.2f s %10.2f s %8.3f\n", vae, best[vae, "d"], best[vae, "n"], r
            printf "dispatch_vs_native_%s,1,%.2f,%.2f,s/epoch,%.3f\n", vae, best[vae, "d"], best[vae, "n"], r >> out }
        printf "worst ratio (dispatched speed / native speed): %.3f (target >= 0.97)\n", worst
    }' "$tmp/disp-gemm.csv" "$tmp/nat-gemm.csv" "$tmp/disp-vae.csv" "$tmp/nat-vae.csv"
