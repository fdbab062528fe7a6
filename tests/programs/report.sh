#!/bin/sh
# report.sh — build/report and the page writer (examples/common/report.c) on tiny synthetic
# run folders: the page holds the command, settings, result figures, charts and every
# picture, escapes what it shows, fetches nothing; a running run's page reloads itself and
# the final one does not; result.json reads back as JSON with numbers and lists; malformed
# inputs are errors naming the file and place (exit 1) and leave the old page; bad usage
# exits 2; the compare page lists every run and highlights the settings that differ.
set -u
. tests/programs/lib/common.sh
need report
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O1 -fopenmp -I. \
    -o "$dir/fake_run" tests/programs/lib/fake_run.c examples/common/report.c \
    build/float/libhenbun.a -lz -lstb -lm || { echo "cannot build fake_run"; exit 1; }
r1=$dir/runs/a r2=$dir/runs/b
mkdir -p "$dir/runs"
"$dir/fake_run" "$r1" 4 1 running && "$dir/fake_run" "$r2" 6 2 done || exit 1

# has WHAT FILE FIXED-STRING / lacks WHAT FILE FIXED-STRING
has() { if grep -qF -- "$3" "$2"; then ok "$1"; else bad "$1: no '$3' in $2"; fi; }
lacks() { if grep -qF -- "$3" "$2"; then bad "$1: '$3' is in $2"; else ok "$1"; fi; }

build/report "$r1" >"$dir/out" 2>"$dir/err"
status_is "report writes a running run's page" 0 $? "$dir/err"
p=$r1/index.html
has "the page holds the exact command, shell-quoted" "$p" "--note 'it'\\''s a test'"
has "the page holds the settings" "$p" "<td>lr</td><td>0.001</td>"
has "the page holds the result figures" "$p" "<td>active_units</td><td class=\"num\">5</td>"
has "a list of numbers becomes a bar chart" "$p" "<figcaption>kl_dims</figcaption><svg"
has "train_x and test_x share a chart" "$p" "<figcaption>neg_elbo</figcaption>"
has "the page counts the log's rows" "$p" 'data-rows="4"'
has "captions are escaped" "$p" "16 made-up samples &lt;b&gt;escaped&lt;/b&gt;"
has "picture names are escaped in links" "$p" 'src="odd%20name%20%231.png?v='
has "every picture is on the page (3)" "$p" 'data-pictures="3"'
has "a running run's page reloads itself" "$p" '<meta http-equiv="refresh" content="10">'
if grep -qE '(src|href)="(https?:)?//|<script|@import' "$p"; then
    bad "the page fetches something: $(grep -oE '(src|href)="(https?:)?//[^"]*' "$p" | head -n 1)"
else
    ok "the page is self-contained (no remote link, no script)"
fi
build/report --refresh 3 "$r1" >/dev/null && has "--refresh sets the reload period" "$p" 'content="3"'
build/report "$r2" >/dev/null
lacks "a finished run's page does not reload" "$r2/index.html" 'http-equiv="refresh"'

# result.json reads back as JSON: numbers as numbers, lists as lists, text as strings.
if python3 - "$r1/result.json" "$r1/run.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); m = json.load(open(sys.argv[2]))
assert r["active_units"] == 5 and r["test_neg_elbo"] > 90, r
assert r["kl_dims"] == [2.5, 1.9, 0.8, 0.3, 0.004, 0.002, 0.001, 0.0005], r["kl_dims"]
assert r["note"] == "made up"
assert m["status"] == "running" and m["settings"]["lr"] == "0.001" and m["program"] == "fake"
assert m["command"].startswith("build/fake --lr 0.001"), m["command"]
PY
then ok "result.json and run.json read back as JSON"; else bad "result.json or run.json"; fi

# A row being written (no newline yet) is left out; a complete one counts.
printf '5,1,2' >>"$r1/log.csv"
build/report "$r1" >/dev/null && has "a half-written last row is left out" "$p" 'data-rows="4"'
printf ',3,4,0.1,7.5\n' >>"$r1/log.csv"
build/report "$r1" >/dev/null && has "a completed row is counted" "$p" 'data-rows="5"'

# Malformed inputs: exit 1, the file and place named, the old page kept.
cp "$p" "$dir/page_before"
cp "$r1/run.json" "$dir/run.json"
printf '{"program": "fake", "status": running}\n' >"$r1/run.json"
build/report "$r1" >/dev/null 2>"$dir/err"
status_is "a malformed run.json is an error" 1 $? "$dir/err"
says "the error names run.json and the byte" "$dir/err" "run.json: byte 31: expected a value"
same "the old page is kept" "$dir/page_before" "$p"
cp "$dir/run.json" "$r1/run.json"
printf '6,1,2,x,4,0.1,8\n' >>"$r1/log.csv"
build/report "$r1" >/dev/null 2>"$dir/err"
status_is "a malformed log.csv is an error" 1 $? "$dir/err"
says "the error names log.csv, the line and the column" "$dir/err" "log.csv: line 7: field 4 \(test_neg_elbo\)"
build/report "$dir/nowhere" >/dev/null 2>"$dir/err"
status_is "a missing folder is an error" 1 $? "$dir/err"
says "the error names the folder" "$dir/err" "nowhere: No such file"
left=$(find "$dir/runs" -name '*.tmp.*' | head -n 1)
[ -z "$left" ] && ok "no temporary file is left behind" || bad "left behind: $left"

# Usage errors exit 2.
for args in "" "--bogus $r2" "$r1 $r2" "--compare $r1" "--refresh 0 $r2" "-o x.html $r2"; do
    # shellcheck disable=SC2086
    build/report $args >/dev/null 2>"$dir/err"
    status_is "usage error: report $args" 2 $? "$dir/err"
done

# The compare page.
"$dir/fake_run" "$r1" 4 1 done >/dev/null
build/report --compare "$r1" "$r2" -o "$dir/cmp.html" >/dev/null 2>"$dir/err"
status_is "report --compare" 0 $? "$dir/err"
c=$dir/cmp.html
has "the compare page lists run a" "$c" 'href="runs/a/index.html">a</a>'
has "the compare page lists run b" "$c" 'href="runs/b/index.html">b</a>'
has "differing settings are highlighted" "$c" '<tr class="diff"><td>lr</td>'
has "equal settings are not" "$c" '<tr><td>batch</td>'
has "pictures of the same name side by side" "$c" 'src="runs/b/samples.png?v='
has "curves overlaid per column" "$c" '<figcaption>test_neg_elbo</figcaption>'
mkdir -p "$dir/pages"
build/report --compare "$r1" "$r2" -o "$dir/pages/cmp.html" >/dev/null
has "links are relative to the page's folder" "$dir/pages/cmp.html" 'src="../runs/a/samples.png?v='
exit $failed
