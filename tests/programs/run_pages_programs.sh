#!/bin/sh
# run_pages_programs.sh — every training program leaves a run page (docs/run-pages.md):
# OUT/index.html whose path is printed before the result line, run.json with the command
# and status "done", result.json holding exactly the figures of the `result:` line, the
# pictures captioned on the page; --eval adds eval.json with its result line's figures.
. tests/programs/lib/common.sh
need vae gan classify
d="--data $dir/data --threads 1 --quiet --batch 32 --epochs 1"

# figures_match WHAT STDOUT JSON: the result: line's key=value pairs are JSON's, in order.
figures_match() {
    /usr/bin/python3 - "$2" "$3" <<'PY' >"$dir/why" 2>&1 && ok "$1" || { bad "$1"; sed 's/^/    /' "$dir/why"; }
import json, sys
line = [l for l in open(sys.argv[1]) if l.startswith("result:")][-1]
pairs = [t.split("=", 1) for t in line[len("result:"):].split()]
got = json.load(open(sys.argv[2]))
assert list(got) == [k for k, _ in pairs], (list(got), [k for k, _ in pairs])
for k, v in pairs:
    g = got[k]
    if isinstance(g, list): assert g == [float(x) for x in v.split(",")], (k, g, v)
    elif isinstance(g, str): assert g == v, (k, g, v)
    else: assert float(g) == float(v), (k, g, v)
PY
}

for p in vae classify gan; do
    extra=
    [ $p = gan ] && extra="--eval-n 0 --score-n 0"
    out="$dir/$p"
    build/$p $d $extra --out "$out" >"$dir/$p.stdout" 2>"$dir/err"
    status_is "$p: trains" 0 $? "$dir/err"
    tail -n 2 "$dir/$p.stdout" | head -n 1 >"$dir/line"
    says "$p: prints its page's path before the result line" "$dir/line" "^run page: $out/index.html$"
    [ -s "$out/index.html" ] && ok "$p: index.html written" || bad "$p: no index.html"
    figures_match "$p: result.json holds the result line's figures" "$dir/$p.stdout" "$out/result.json"
    says "$p: run.json says done" "$out/run.json" '"status": "done"'
    says "$p: run.json holds the command" "$out/run.json" "\"command\": \"build/$p .*--out $out\""
    if grep -q 'http-equiv="refresh"' "$out/index.html"; then bad "$p: the finished page still reloads"
    else ok "$p: the finished page does not reload"; fi
done
says "vae: the page captions samples.png" "$dir/vae/index.html" "64 images decoded from z drawn from the prior"
says "gan: the page captions progress.png" "$dir/gan/index.html" "the same fixed z over training"
says "classify: the page captions curves.png" "$dir/classify/index.html" "loss and error per epoch"

# --eval: eval.json beside the checkpoint, the same figures as its result line.
build/vae --data "$dir/data" --threads 1 --quiet --eval "$dir/vae/vae.ckpt" --measure-n 64 \
    --measure-outer 16 --probe-epochs 0 >"$dir/eval.stdout" 2>"$dir/err"
status_is "vae --eval" 0 $? "$dir/err"
figures_match "vae --eval: eval.json holds the result line's figures (kl_dims a list)" \
    "$dir/eval.stdout" "$dir/vae/eval.json"
says "vae --eval: the page shows the eval figures" "$dir/vae/index.html" "kl_dims"
build/classify --data "$dir/data" --threads 1 --quiet --eval "$dir/classify/classifier.ckpt" \
    --out "$dir/ceval" >"$dir/eval.stdout" 2>"$dir/err"
status_is "classify --eval --out" 0 $? "$dir/err"
figures_match "classify --eval: eval.json in --out" "$dir/eval.stdout" "$dir/ceval/eval.json"
exit $failed
