#!/bin/sh
# scaling_estimate.sh — the README's paper estimate of data-parallel scaling ("Scaling out").
# Measures on this machine, at one thread, the CPU time of one training step of
#   - the classic VAE (batch 100; tests/dist/dist_driver on MNIST), and
#   - the DCGAN (batch 64; build/gan --arch dcgan),
# counts their trainable parameters (the gradients summed each step: for the GAN both
# networks, from the Adam moments in its checkpoint), and prints a Markdown table of the
# estimated speed-up at N = 8, 32, 128 ranks with each rank keeping that batch (weak
# scaling: the global batch is N times larger), for a ring allreduce over links of
# 10 and 100 Gb/s:
#   t_comm(N) = 2·(N−1)/N · bytes / bandwidth + 2·(N−1) · latency   (latency 5 µs a hop)
#   no overlap:       speed-up = N · t / (t + t_comm)
#   perfect overlap:  speed-up = N · t / max(t, t_comm)
# CPU time rather than wall time, so that a busy machine does not inflate t.
#   usage: scripts/scaling_estimate.sh   (after make MPI=1 and make; needs data/mnist)
set -eu
cd "$(dirname "$0")/.."
drv=build/mpi-float/dist_driver
[ -x $drv ] && [ -x build/gan ] || { echo "needs $drv and build/gan: run make MPI=1" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
field() { sed -n "s/.*[ :]$1=\([^ ]*\).*/\1/p" | tail -n 1; }

vae=$($drv --data data/mnist --batch 100 --steps 100 --threads 1 | grep '^result:')
vae_ms=$(echo "$vae" | field cpu_seconds | awk '{ printf "%.2f", $1 * 1e3 / 100 }')
vae_params=$(echo "$vae" | field params)

gan=$(OMP_NUM_THREADS=1 build/gan --arch dcgan --iters 20 --threads 1 --quiet --eval-n 0 \
          --score-n 0 --out "$tmp/gan" | grep '^result:')
gan_ms=$(echo "$gan" | field cpu_sec_per_100_iters | awk '{ printf "%.2f", $1 * 10 }')
# Trainable parameters = the entries of the Adam first moments ("adam.m.*") in the checkpoint.
gan_params=$($drv --info "$tmp/gan/gan.ckpt" | awk '/adam\.m\./ {
        s = $0; sub(/^[^(]*\(/, "", s); sub(/\).*/, "", s); n = split(s, d, /[, ]+/)
        p = 1; for (i = 1; i <= n; i++) if (d[i] != "") p *= d[i]; total += p }
    END { print total }')

echo "Measured on $(hostname) at one thread: classic VAE $vae_ms ms of CPU per step" \
     "(batch 100, $vae_params parameters), DCGAN $gan_ms ms per iteration (batch 64," \
     "$gan_params parameters, generator and discriminator)."
echo
awk -v vt="$vae_ms" -v vp="$vae_params" -v gt="$gan_ms" -v gp="$gan_params" 'BEGIN {
    lat = 5e-6
    print "| model | float gradients | link | N | allreduce ms/step | speed-up, no overlap | speed-up, full overlap |"
    print "| --- | --- | --- | --- | --- | --- | --- |"
    split("VAE DCGAN", name, " "); t[1] = vt / 1e3; t[2] = gt / 1e3; p[1] = vp; p[2] = gp
    split("10 100", bw, " "); split("8 32 128", ns, " ")
    for (m = 1; m <= 2; m++) for (b = 1; b <= 2; b++) for (k = 1; k <= 3; k++) {
        N = ns[k]; bytes = 4 * p[m]; rate = bw[b] * 1e9 / 8
        c = 2 * (N - 1) / N * bytes / rate + 2 * (N - 1) * lat
        no = N * t[m] / (t[m] + c); full = N * t[m] / (t[m] > c ? t[m] : c)
        printf "| %s | %.2f MB | %d Gb/s | %d | %.2f | %.1f (%.0f%%) | %.1f (%.0f%%) |\n",
            name[m], bytes / 1e6, bw[b], N, 1e3 * c, no, 100 * no / N, full, 100 * full / N
    }
}'
