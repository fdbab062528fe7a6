#!/bin/sh
# browser.sh — the run page and the compare page, opened in headless Chromium: no console
# errors, every image resolves, a running run's page reloads itself and shows a new epoch,
# the final page stops reloading, the compare page lists every run.  The runs are tiny
# synthetic folders (tests/programs/lib/fake_run.c); the folders, pages and screenshots stay
# under build/browser/ to be looked at.  Without Chromium the test fails and says how to
# install it.
set -u
. tests/programs/lib/common.sh
need report
command -v python3 >/dev/null || {
    echo "FAIL python3 is missing: the browser test drives Chromium from a Python script (install it with: apt-get install python3)"
    exit 1
}
out=build/browser
rm -rf "$out" && mkdir -p "$out/runs"
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O1 -fopenmp -I. \
    -o "$dir/fake_run" tests/programs/lib/fake_run.c examples/common/report.c \
    build/float/libhenbun.a -lz -lstb -lm || { echo "cannot build fake_run"; exit 1; }
"$dir/fake_run" "$out/runs/beta1" 5 1 running &&
    "$dir/fake_run" "$out/runs/beta2" 8 2 done &&
    "$dir/fake_run" "$out/runs/seed3" 6 3 done || { echo "cannot make the run folders"; exit 1; }
for r in beta1 beta2 seed3; do
    build/report --refresh 4 "$out/runs/$r" >/dev/null || { echo "report $r failed"; exit 1; }
done
build/report --compare "$out/runs/beta1" "$out/runs/beta2" "$out/runs/seed3" \
    -o "$out/compare.html" >/dev/null || { echo "report --compare failed"; exit 1; }
python3 tests/programs/lib/browser_check.py "$out" "$out/runs/beta1" "$out/compare.html" \
    beta1,beta2,seed3 "$dir/fake_run" build/report || failed=1
exit $failed
