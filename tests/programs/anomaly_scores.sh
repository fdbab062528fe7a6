#!/bin/sh
# anomaly_scores.sh — build/anomaly's corrected scores on the tiny data set (issue 20):
# --likelihood logistic8 with --score elbo, complexity and ratio each end in an AUROC per
# class, auroc.csv, roc.png and the result line naming the score; the ratio trains and
# keeps a background model beside each model, and a run stopped while training it and
# resumed ends in the very checkpoints of a straight run; the complexity score of a model
# is its elbo score in bits minus the compressed length (checked through the scores' means);
# --seeds N reports mean ± s.e. over seeds whose seed 1 is the single run with --seed 1;
# and the flags that cannot work are refused before --out is made.
. tests/programs/lib/common.sh
need anomaly

run="build/anomaly --data $dir/data --holdout 3,7 --epochs 1 --batch 32 --threads 1 --quiet"

# result_of FILE KEY: the value of KEY= on the result line of FILE.
result_of() { sed -n 's/^result: .*[ :]'"$2"'=\([^ ]*\).*/\1/p' "$1" | tail -n 1; }

# scored NAME SCORE OUT FILES: a run with --score SCORE wrote FILES and a sound result line.
scored() {
    name=$1 score=$2 out=$3 files=$4
    for f in $files; do
        [ -s "$out/$f" ] || bad "$name: $out/$f is missing"
    done
    r="$dir/$name.stdout"
    if grep -q "^result: mean_auroc=[0-9.]* auroc_3=[0-9.]* auroc_7=[0-9.]* score=$score .*likelihood=logistic8" "$r"; then
        ok "$name: result line with score=$score"
    else
        bad "$name: no result line for score=$score:"; tail -n 3 "$r" | sed 's/^/    /'
    fi
    rows=$(awk -F, 'NR > 1 && $2 >= 0 && $2 <= 1' "$out/auroc.csv" | wc -l)
    [ "$rows" -eq 2 ] && ok "$name: auroc.csv has an AUROC in [0, 1] for 3 and 7" ||
        bad "$name: auroc.csv: $(cat "$out/auroc.csv")"
}

# --score ratio: both models per class, then the scores from the same checkpoints.
if $run --likelihood logistic8 --score ratio --perturb 0.2 --out "$dir/r" >"$dir/ratio.stdout" 2>"$dir/err"; then
    scored ratio ratio "$dir/r" "auroc.csv roc.png scores_3.png scores_7.png holdout_3.ckpt holdout_3_bg.ckpt holdout_7.ckpt holdout_7_bg.ckpt"
    grep -aq "^perturb=0.2000" "$dir/r/holdout_3_bg.ckpt" &&
        ok "ratio: the background checkpoint records its perturb" ||
        bad "ratio: no perturb=0.2 in holdout_3_bg.ckpt"
else
    bad "ratio: the run failed:"; sed 's/^/    /' "$dir/err"
fi
for score in elbo complexity; do
    if $run --likelihood logistic8 --score $score --out "$dir/r" --resume >"$dir/$score.stdout" 2>"$dir/err"; then
        scored $score $score "$dir/r" "auroc.csv roc.png scores_3.png"
        cp "$dir/r/auroc.csv" "$dir/$score.csv"
    else
        bad "$score: the run from ratio's checkpoints failed:"; sed 's/^/    /' "$dir/err"
    fi
done
# S = −ELBO/ln 2 − L(x) per image, the same draws of z: over all 64 test images (normal and
# held out, weighted by their counts) elbo/ln 2 − complexity is the mean L(x) of the test
# set, whichever class's model scored them.
mean_l() { # CLASS: from the two auroc.csv files and the held-out count complexity printed
    na=$(sed -n "s/^holdout digit $1 .*(\([0-9]*\) test images held out.*/\1/p" "$dir/complexity.stdout")
    awk -F, -v c="$1" -v na="$na" 'FNR == 1 { f++ } $1 == c { n[f] = $3; a[f] = $4 }
        END { print ((64 - na) * (n[1] / log(2) - n[2]) + na * (a[1] / log(2) - a[2])) / 64 }' \
        "$dir/elbo.csv" "$dir/complexity.csv"
}
l3=$(mean_l 3) l7=$(mean_l 7)
awk -v a="$l3" -v b="$l7" 'BEGIN { exit !(a > 200 && a < 8 * 28 * 28 + 100 && (a - b)^2 < 1e-2) }' &&
    ok "complexity = elbo in bits - L(x): mean L of the test set $l3 bits under both models" ||
    bad "complexity: elbo/ln2 - complexity gives a mean L of $l3 and $l7 bits, expected the same"

# Stopped while training holdout 3's background model (8 steps an epoch: step 12 is in
# it), resumed with the printed command: the same checkpoints as the straight run.
ratio2="$run --holdout 3 --epochs 2 --likelihood logistic8 --score ratio"
$ratio2 --out "$dir/straight" >/dev/null 2>"$dir/err" || { bad "ratio: straight run failed"; sed 's/^/    /' "$dir/err"; }
(HENBUN_STOP_AFTER_STEPS=20; export HENBUN_STOP_AFTER_STEPS
 $ratio2 --out "$dir/stopped" >/dev/null 2>"$dir/err")
status_is "ratio: stopped inside the background model" 130 $? "$dir/err"
cmd=$(resume_command "$dir/err")
if [ -n "$cmd" ] && eval "$cmd" >/dev/null 2>"$dir/err"; then
    same "ratio resumed: holdout_3.ckpt as without the stop" "$dir/straight/holdout_3.ckpt" "$dir/stopped/holdout_3.ckpt"
    same "ratio resumed: holdout_3_bg.ckpt as without the stop" "$dir/straight/holdout_3_bg.ckpt" "$dir/stopped/holdout_3_bg.ckpt"
    same "ratio resumed: auroc.csv's AUROC as without the stop" \
        "$(cut -d, -f1-2 "$dir/straight/auroc.csv" >"$dir/a1"; echo "$dir/a1")" \
        "$(cut -d, -f1-2 "$dir/stopped/auroc.csv" >"$dir/a2"; echo "$dir/a2")"
else
    bad "ratio: no resume command, or the resumed run failed: $cmd"; sed 's/^/    /' "$dir/err"
fi
# The background checkpoint remembers its perturb: another is refused.
$ratio2 --perturb 0.05 --out "$dir/stopped" --resume >/dev/null 2>"$dir/err"
status_is "ratio: --resume with another --perturb is refused" 1 $? "$dir/err"
says "ratio: the refusal names perturb" "$dir/err" "perturb=0.14999999999999999 in the checkpoint, perturb=0.050000000000000003 here"

# --seeds 2: per-seed directories, mean ± s.e., and seed 1 is the plain --seed 1 run.
$run --holdout 3 --seeds 2 --out "$dir/s" >"$dir/seeds.stdout" 2>"$dir/err" || { bad "seeds: the run failed"; sed 's/^/    /' "$dir/err"; }
$run --holdout 3 --out "$dir/s1" >"$dir/s1.stdout" 2>&1 || bad "seeds: the --seed 1 run failed"
for f in seed_1/holdout_3.ckpt seed_2/holdout_3.ckpt seed_1/roc.png seed_2/auroc.csv auroc.csv; do
    [ -s "$dir/s/$f" ] || bad "seeds: $f is missing"
done
a1=$(result_of "$dir/s1.stdout" auroc_3)
c1=$(awk -F, '$1 == 3 { printf "%.3f", $5 }' "$dir/s/auroc.csv")
[ -n "$a1" ] && [ "$a1" = "$c1" ] && ok "seeds: seed 1's AUROC ($c1) is the --seed 1 run's" ||
    bad "seeds: seed 1's AUROC $c1, the --seed 1 run's $a1"
awk -F, '$1 == 3 { m = ($5 + $6) / 2; se = sqrt((($5 - m)^2 + ($6 - m)^2) / 1 / 2)
                   exit !(($2 - m)^2 < 1e-12 && ($3 - se)^2 < 1e-12) }' "$dir/s/auroc.csv" &&
    ok "seeds: auroc.csv's mean and s.e. are those of the two seeds' AUROCs" ||
    bad "seeds: auroc.csv: $(cat "$dir/s/auroc.csv")"
grep -q "^result: mean_auroc=[0-9.]* mean_auroc_se=[0-9.]* auroc_3=[0-9.]* auroc_3_se=.* seeds=2 " "$dir/seeds.stdout" &&
    ok "seeds: result line with mean, s.e. and seeds=2" ||
    bad "seeds: result line: $(grep '^result' "$dir/seeds.stdout")"

# Refusals before anything is written.
# shellcheck disable=SC2086
refused() { n=$1 s=$2 p=$3; shift 3; refuses "$n" "$s" "$p" $run "$@"; }
refused "--score complexity with a Bernoulli likelihood" 2 "needs --likelihood logistic8 or mol8, not bernoulli" --score complexity
refused "--score ratio with a Gaussian likelihood" 2 "needs --likelihood logistic8 or mol8, not gaussian" --score ratio --likelihood gaussian
refused "--perturb 0" 2 "perturb" --likelihood logistic8 --score ratio --perturb 0
refused "--perturb 1.5" 2 "perturb" --likelihood logistic8 --score ratio --perturb 1.5
refused "--seeds 0" 2 "seeds" --seeds 0
refused "--likelihood logistic9" 2 "likelihood" --likelihood logistic9
exit $failed
