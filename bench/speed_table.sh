#!/bin/sh
# speed_table.sh — the README's Speed tables, written from a `make bench` run's CSV.
#   sh bench/speed_table.sh [build/bench.csv] > table.md
# The README's section is pasted from this output, never typed: a figure that is not in the
# CSV prints as "–".  Ratios are peer/henbun for times and henbun/peer for GFLOPS, so above
# 1 always means henbun is ahead.  % peak uses the best one-thread float FMA figure of
# bench/peak.c in the same run, times the thread count.
set -u
csv=${1:-build/bench.csv}
[ -f "$csv" ] || { echo "speed_table.sh: $csv: no such file (run make bench first)" >&2; exit 1; }
awk -F, '
NR == 1 { next }
{ v[$1 "," $2] = $3; p[$1 "," $2] = $4; sp[$1 "," $2] = $6; u[$1 "," $2] = $5 }
$1 ~ /^peak_.*_float$/ && $2 == 1 && $3 > peak1 { peak1 = $3 }
function f(x, fmt) { return x == "" ? "–" : sprintf(fmt, x) }
function cell(k, fmt) { return (k in v) ? f(v[k], fmt) : "–" }
function peer(k, fmt) { return (k in p) ? f(p[k], fmt) : "–" }
function ratio(k) { return (k in sp && sp[k] != "") ? sprintf("%.2f", sp[k]) : "–" }
function pct(k, t) { return (k in v && peak1 > 0) ? sprintf("%.0f%%", 100 * v[k] / (t * peak1)) : "–" }
END {
    printf "Peak FMA (bench/peak.c, float, one thread): %.1f GFLOPS.\n\n", peak1
    print "GEMM C = A·B (M×N×K), GFLOPS henbun / OpenBLAS, ratio, and henbun'"'"'s share of the peak:"
    print ""
    print "| shape | 1 thread | ratio | % peak | 2 threads | ratio | % peak |"
    print "| --- | --- | --- | --- | --- | --- | --- |"
    n = split("128x400x784 128x784x400 784x400x128 400x784x128 256x256x256 512x512x512 1024x1024x1024 128x40x400 128x400x20 40x400x128 400x20x128", shapes, " ")
    for (i = 1; i <= n; i++) {
        k1 = "gemm_nn_" shapes[i] ",1"; k2 = "gemm_nn_" shapes[i] ",2"
        s = shapes[i]; gsub("x", "×", s)
        printf "| %s | %s / %s | %s | %s | %s / %s | %s | %s |\n", s, cell(k1, "%.1f"), peer(k1, "%.1f"),
               ratio(k1), pct(k1, 1), cell(k2, "%.1f"), peer(k2, "%.1f"), ratio(k2), pct(k2, 2)
    }
    for (t = 1; t <= 2; t++) {
        split("nn nt tn", forms, " ")
        line = ""
        for (j = 1; j <= 3; j++) {
            lg = 0; c = 0; lo = ""
            for (k in sp) if (index(k, "gemm_" forms[j] "_") == 1 && substr(k, length(k)) == t && sp[k] != "") {
                lg += log(sp[k]); c++
                if (lo == "" || sp[k] + 0 < lo + 0) { lo = sp[k]; low = k }
            }
            if (c) line = line sprintf("%s%s %.2f (lowest %.2f, %s)", (line == "" ? "" : "; "), forms[j], exp(lg / c), lo, substr(low, 1, index(low, ",") - 1))
        }
        if (line != "") printf "\nGeometric-mean ratio over every shape, %d thread%s: %s.\n", t, (t > 1 ? "s" : ""), line
    }
    print ""
    print "End to end, same model and thread count, best of the alternating runs (seconds; CPU"
    print "seconds of all threads; peak RSS in MiB); speedup = PyTorch / henbun:"
    print ""
    print "| case | threads | henbun | PyTorch | speedup | CPU-s henbun | CPU-s PyTorch | CPU speedup | RSS henbun / PyTorch |"
    print "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    split("vae_mnist_epoch gan_mlp_1000_iters dcgan_100_iters", cases, " ")
    split("classic MNIST VAE, s/epoch|MLP GAN, s/1000 iterations|DCGAN, s/100 iterations", names, "|")
    split("vae_mnist gan_mlp dcgan", rssn, " ")
    for (t = 1; t <= 2; t++) for (i = 1; i <= 3; i++) {
        k = cases[i] "," t; kc = cases[i] "_cpu," t; kr = rssn[i] "_peak_rss," t
        if (!(k in v)) continue
        printf "| %s | %d | %s | %s | %s | %s | %s | %s | %s / %s |\n", names[i], t, cell(k, "%.2f"),
               peer(k, "%.2f"), ratio(k), cell(kc, "%.2f"), peer(kc, "%.2f"), ratio(kc), cell(kr, "%.0f"), peer(kr, "%.0f")
    }
    if ("vae_mnist_epoch_peak_share,1" in v)
        printf "\nThe classic VAE epoch (196.8 GFLOP of GEMM) runs at %s%% of the one-thread peak, by CPU time.\n", v["vae_mnist_epoch_peak_share,1"]
    if ("vae_mnist_epoch,1" in v && "vae_mnist_epoch,2" in v && v["vae_mnist_epoch,2"] > 0)
        printf "Two threads against one on the VAE epoch (wall clock): %.2f×.\n", v["vae_mnist_epoch,1"] / v["vae_mnist_epoch,2"]
    if ("vae_epoch_under_load,2" in v)
        printf "Under load (one busy process per core): the 2-thread VAE epoch takes %s s against %s s at 1 thread, t1/t2 = %s (target ≥ 0.80).\n", v["vae_epoch_under_load,2"], p["vae_epoch_under_load,2"], ratio("vae_epoch_under_load,2")
    nd = 0; lo = ""
    for (k in sp) if (k ~ /^dispatch_vs_native_gemm/ && sp[k] != "") { nd++; if (lo == "" || sp[k] + 0 < lo + 0) lo = sp[k] }
    if (nd) printf "Run-time dispatched kernels against a -march=native build, one thread: GEMM %d shapes, lowest ratio %.2f", nd, lo
    if (nd && "dispatch_vs_native_vae_mnist_epoch,1" in sp) printf "; VAE epoch %.3f", sp["dispatch_vs_native_vae_mnist_epoch,1"]
    if (nd) print " (target ≥ 0.97)."
    first = 1
    for (k in v) if (k ~ /^conv_/ && k !~ /_per_image,/) {
        if (first) { print ""; print "DCGAN layers, forward + backward at batch 64 (ms per call), henbun / PyTorch:"; print ""; print "| layer | threads | henbun | PyTorch | speedup |"; print "| --- | --- | --- | --- | --- |"; first = 0 }
        split(k, kk, ",")
        rows[kk[1] " " kk[2]] = sprintf("| %s | %s | %s | %s | %s |", kk[1], kk[2], cell(k, "%.2f"), peer(k, "%.2f"), ratio(k))
    }
    m = 0; for (r in rows) keys[++m] = r
    for (i = 2; i <= m; i++) { x = keys[i]; for (j = i - 1; j >= 1 && keys[j] > x; j--) keys[j + 1] = keys[j]; keys[j + 1] = x }
    for (i = 1; i <= m; i++) print rows[keys[i]]
}' "$csv"
