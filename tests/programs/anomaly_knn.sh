#!/bin/sh
# anomaly_knn.sh — build/anomaly --score knn on the tiny data set: it ends in an AUROC per
# held-out class and a result line naming k; it rescores trained checkpoints with --resume
# without training them again (the checkpoint stays byte for byte); it finds the held-out
# class where −ELBO does not (the tiny data's classes are discs at class-specific places:
# after one epoch the codes already sit apart, the −ELBO hardly differs); and the flags
# that cannot work are refused before --out is made.  nn/knn.c itself is tested
# in tests/nn/test_knn.c.
. tests/programs/lib/common.sh
need anomaly

run="build/anomaly --data $dir/data --holdout 3,7 --epochs 1 --batch 32 --latent 4 --threads 1 --quiet"

# aurocs NAME OUT: auroc.csv holds an AUROC in [0, 1] for 3 and 7.
aurocs() {
    rows=$(awk -F, 'NR > 1 && $2 >= 0 && $2 <= 1' "$2/auroc.csv" 2>/dev/null | wc -l)
    [ "$rows" -eq 2 ] && ok "$1: auroc.csv has an AUROC in [0, 1] for 3 and 7" ||
        bad "$1: auroc.csv: $(cat "$2/auroc.csv" 2>&1)"
}

# Train with the default score, then rescore the same checkpoints by knn.
$run --out "$dir/a" >/dev/null 2>"$dir/err" || { bad "elbo: the run failed"; sed 's/^/    /' "$dir/err"; }
cp "$dir/a/holdout_3.ckpt" "$dir/trained.ckpt"
cp "$dir/a/auroc.csv" "$dir/elbo.csv"
$run --score knn --knn-k 3 --resume --out "$dir/a" >"$dir/k3.stdout" 2>"$dir/err" ||
    { bad "knn: the run failed"; sed 's/^/    /' "$dir/err"; }
says "knn: result line with knn_k=3" "$dir/k3.stdout" "^result: mean_auroc=.* score=knn .*knn_k=3 latent=4 "
says "knn: the header names k" "$dir/k3.stdout" "score knn \(k=3, on the latent\)"
aurocs knn "$dir/a"
same "knn --resume: the trained checkpoint is scored, not trained again" "$dir/trained.ckpt" "$dir/a/holdout_3.ckpt"
awk -F, 'FNR == 1 { f++ } FNR > 1 { a[f, $1] = $2 } END {
    exit !(a[2, 3] >= 0.95 && a[2, 7] >= 0.95 && a[2, 3] > a[1, 3] && a[2, 7] > a[1, 7]) }' \
    "$dir/elbo.csv" "$dir/a/auroc.csv" &&
    ok "knn: AUROC >= 0.95 for 3 and 7, above the -ELBO's on the same checkpoints" ||
    bad "knn: AUROCs $(cut -d, -f2 "$dir/a/auroc.csv" | tr '\n' ' ') against the -ELBO's $(cut -d, -f2 "$dir/elbo.csv" | tr '\n' ' ')"

# --knn-on pixels: the images themselves (a reference without the model), named on the result line.
$run --score knn --knn-on pixels --resume --out "$dir/a" >"$dir/px.stdout" 2>"$dir/err" ||
    { bad "knn pixels: the run failed"; sed 's/^/    /' "$dir/err"; }
says "knn pixels: result line with knn_on=pixels" "$dir/px.stdout" "^result: mean_auroc=.* score=knn .*knn_k=5 knn_on=pixels "
aurocs "knn pixels" "$dir/a"

# Refusals: nothing trained, no --out.
refuses "--knn-k beyond the normal images" 2 "--knn-k 1000: .* has only [0-9]+ training images outside class 3" \
    $run --score knn --knn-k 1000
refuses "--knn-k 0" 2 "knn-k" $run --score knn --knn-k 0
refuses "--knn-on colours" 2 "knn-on" $run --score knn --knn-on colours
refuses "--score-k with knn" 2 "--score-k 4: the IWAE bound inside" $run --score knn --score-k 4
exit $failed
