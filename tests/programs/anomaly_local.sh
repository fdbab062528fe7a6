#!/bin/sh
# anomaly_local.sh — build/anomaly's options of session 5 (issue 20) on the tiny data set:
# --likelihood mol8 trains a mixture of --components K logistics per pixel and its
# checkpoint keeps K (another K is refused on --resume, and a logistic8 checkpoint has no
# such line: the defaults' checkpoints are as before); --score-k K puts the K-sample IWAE
# bound inside --score complexity (its mean -ln p of normal images below the -ELBO's);
# --score local and --score latent train their local coders and end in AUROCs, latent with
# any likelihood; and the flags that cannot work are refused before --out is made.
. tests/programs/lib/common.sh
need anomaly

run="build/anomaly --data $dir/data --holdout 3,7 --epochs 1 --batch 32 --threads 1 --quiet"

# result_of FILE KEY: the value of KEY= on the result line of FILE.
result_of() { sed -n 's/^result: .*[ :]'"$2"'=\([^ ]*\).*/\1/p' "$1" | tail -n 1; }

# aurocs NAME OUT: auroc.csv holds an AUROC in [0, 1] for 3 and 7.
aurocs() {
    rows=$(awk -F, 'NR > 1 && $2 >= 0 && $2 <= 1' "$2/auroc.csv" 2>/dev/null | wc -l)
    [ "$rows" -eq 2 ] && ok "$1: auroc.csv has an AUROC in [0, 1] for 3 and 7" ||
        bad "$1: auroc.csv: $(cat "$2/auroc.csv" 2>&1)"
}

# mol8: trains, scores, remembers K.
m="$run --likelihood mol8 --components 2 --score complexity"
if $m --out "$dir/m" >"$dir/mol8.stdout" 2>"$dir/err"; then
    says "mol8: result line names the likelihood and K" "$dir/mol8.stdout" \
        "^result: mean_auroc=.* score=complexity elbo_samples=1 likelihood=mol8 components=2 "
    aurocs mol8 "$dir/m"
    grep -aq "^components=2$" "$dir/m/holdout_3.ckpt" && ok "mol8: the checkpoint records K" ||
        bad "mol8: no components=2 in holdout_3.ckpt"
else
    bad "mol8: the run failed:"; sed 's/^/    /' "$dir/err"
fi
$run --likelihood mol8 --components 3 --score complexity --out "$dir/m" --resume >/dev/null 2>"$dir/err"
status_is "mol8: --resume with another --components is refused" 1 $? "$dir/err"
says "mol8: the refusal names components" "$dir/err" "components=2 in the checkpoint, components=3 here"

# --score-k: the IWAE bound is tighter than the ELBO, on average over the normal images.
for k in 1 64; do
    $m --score-k $k --out "$dir/m" --resume >"$dir/k$k.stdout" 2>"$dir/err" ||
        { bad "score-k $k: the run failed"; sed 's/^/    /' "$dir/err"; }
    cp "$dir/m/auroc.csv" "$dir/k$k.csv"
done
says "score-k: result line with score_k=64" "$dir/k64.stdout" "^result: .* score=complexity score_k=64 "
awk -F, 'FNR == 1 { f++ } $1 == 3 { s[f] = $3 } END { exit !(s[2] < s[1]) }' "$dir/k1.csv" "$dir/k64.csv" &&
    ok "score-k: mean score of normal images lower with the 64-sample IWAE bound than with the ELBO" ||
    bad "score-k: normal images' mean score $(cut -d, -f3 "$dir/k1.csv" | tr '\n' ' ') vs $(cut -d, -f3 "$dir/k64.csv" | tr '\n' ' ')"

# --score local and --score latent: their coders train, the AUROCs come out.
$run --likelihood logistic8 --score local --local-steps 20 --out "$dir/l" >"$dir/local.stdout" 2>"$dir/err" ||
    { bad "local: the run failed"; sed 's/^/    /' "$dir/err"; }
says "local: result line" "$dir/local.stdout" "^result: mean_auroc=.* score=local .*local_steps=20 "
aurocs local "$dir/l"
grep -aq "^components=" "$dir/l/holdout_3.ckpt" && bad "logistic8: its checkpoint names components" ||
    ok "logistic8: its checkpoint has no components line (as before mol8)"
$run --score latent --local-steps 20 --local-radius 1 --out "$dir/b" >"$dir/latent.stdout" 2>"$dir/err" ||
    { bad "latent: the run failed"; sed 's/^/    /' "$dir/err"; }
says "latent: result line (Bernoulli likelihood)" "$dir/latent.stdout" "^result: mean_auroc=.* score=latent .*local_steps=20 local_radius=1 "
aurocs latent "$dir/b"

# --score latent on the mol8 checkpoints: the side image is the mixture's mean (vae_decode).
$m --score latent --local-steps 20 --out "$dir/m" --resume >"$dir/latent8.stdout" 2>"$dir/err" ||
    { bad "latent on mol8: the run failed"; sed 's/^/    /' "$dir/err"; }
says "latent on mol8: result line" "$dir/latent8.stdout" "^result: mean_auroc=.* score=latent .*likelihood=mol8 components=2 "
aurocs "latent on mol8" "$dir/m"

# Refusals before anything is written.
# shellcheck disable=SC2086
refused() { n=$1 s=$2 p=$3; shift 3; refuses "$n" "$s" "$p" $run "$@"; }
refused "--score-k with --score elbo" 2 "score-k 4: the IWAE bound inside" --score-k 4
refused "--score-k with --elbo-samples" 2 "elbo-samples 2" --likelihood mol8 --score complexity --score-k 4 --elbo-samples 2
refused "--score-k 0" 2 "score-k" --score-k 0
refused "--components 0" 2 "components" --likelihood mol8 --components 0
refused "--components 65" 2 "components" --likelihood mol8 --components 65
refused "--local-radius 0" 2 "local-radius" --score latent --local-radius 0
refused "--local-steps 0" 2 "local-steps" --score local --likelihood logistic8 --local-steps 0
refused "--score local with a Bernoulli likelihood" 2 "needs --likelihood logistic8 or mol8, not bernoulli" --score local
exit $failed
