#!/bin/sh
# train_determinism.sh — the same seed and thread count give bit-identical training: two
# runs of build/vae and of build/gan (their default MLP presets, the GAN's D with dropout)
# on a tiny data set write byte-identical checkpoints (every parameter and Adam moment, bit
# for bit) and the same losses in log.csv, with 1 thread and with 2.  A run with another
# seed must differ, or the comparisons would prove nothing.
. tests/programs/lib/common.sh
need vae gan

vae_flags="--data $dir/data --epochs 2 --batch 32 --quiet --pictures-every 100"
gan_flags="--data $dir/data --epochs 2 --batch 32 --quiet --eval-n 0 --score-n 0"
for threads in 1 2; do
    for run in a b; do
        build/vae $vae_flags --threads $threads --out "$dir/vae$threads$run" \
            >/dev/null 2>"$dir/err" ||
            { bad "vae, $threads thread(s), run $run failed:"; cat "$dir/err"; }
        build/gan $gan_flags --threads $threads --out "$dir/gan$threads$run" \
            >/dev/null 2>"$dir/err" ||
            { bad "gan, $threads thread(s), run $run failed:"; cat "$dir/err"; }
    done
    same "vae, $threads thread(s): two runs, the same checkpoint" \
        "$dir/vae${threads}a/vae.ckpt" "$dir/vae${threads}b/vae.ckpt"
    same_log "vae, $threads thread(s): two runs, the same losses" \
        "$dir/vae${threads}a/log.csv" "$dir/vae${threads}b/log.csv" 7
    same "gan, $threads thread(s): two runs, the same checkpoint" \
        "$dir/gan${threads}a/gan.ckpt" "$dir/gan${threads}b/gan.ckpt"
    same_log "gan, $threads thread(s): two runs, the same losses" \
        "$dir/gan${threads}a/log.csv" "$dir/gan${threads}b/log.csv" 10
done

build/vae $vae_flags --threads 1 --seed 2 --out "$dir/vae_seed2" >/dev/null 2>&1
build/gan $gan_flags --threads 1 --seed 2 --out "$dir/gan_seed2" >/dev/null 2>&1
if [ -s "$dir/vae_seed2/vae.ckpt" ] && [ -s "$dir/gan_seed2/gan.ckpt" ] &&
    ! cmp -s "$dir/vae1a/vae.ckpt" "$dir/vae_seed2/vae.ckpt" &&
    ! cmp -s "$dir/gan1a/gan.ckpt" "$dir/gan_seed2/gan.ckpt"; then
    ok "another seed, another model (vae and gan)"
else
    bad "--seed 2 gave the same checkpoint as --seed 1 (or none)"
fi
exit $failed
