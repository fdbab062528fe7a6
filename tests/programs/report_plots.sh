#!/bin/sh
# report_plots.sh — draws one picture per fixed plot fault (tests/programs/lib/plot_pictures.c:
# a legend in the free corner or outside, a dashed grey reference line, log ticks in every
# decade and the bottom quarter, z axes around an image grid, 16-pixel row labels, a bar
# chart) into build/plots/ to be looked at, and checks that each is a PNG.  The pixels
# themselves are checked by tests/nn/test_plot.c.
set -u
. tests/programs/lib/common.sh
out=build/plots
mkdir -p "$out"
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O1 -fopenmp -I. \
    -o "$dir/plot_pictures" tests/programs/lib/plot_pictures.c build/float/libhenbun.a \
    -lz -lstb -lm || { echo "cannot build plot_pictures"; exit 1; }
"$dir/plot_pictures" "$out" || { bad "plot_pictures failed"; exit 1; }
for f in roc curves_bz legend_out log_axis manifold traverse kl_bars; do
    if [ "$(head -c 8 "$out/$f.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
        ok "$out/$f.png"
    else
        bad "$out/$f.png is missing or not a PNG"
    fi
done
exit $failed
