#!/bin/sh
# gen_programs_doc.sh — writes docs/programs.md from every program's --help, so the flags
# documented there are exactly the flags the programs accept.  tests/programs/programs_doc.sh
# fails when the file is out of date; run `sh scripts/gen_programs_doc.sh` to refresh it.
set -eu
cd "$(dirname "$0")/.."
out=${1:-docs/programs.md}
tmp=$out.tmp.$$
{
    echo "# The programs and their flags"
    echo
    echo "Generated from each program's \`--help\` by \`scripts/gen_programs_doc.sh\`; \`make test\`"
    echo "checks that it is current. Build them with \`make\`; they land in \`build/\`."
    for p in vae anomaly classify gan gan2d boltzmann custom_op report; do
        [ -x "build/$p" ] || continue
        echo
        echo "## build/$p"
        echo
        echo '```text'
        "build/$p" --help
        echo '```'
    done
} >"$tmp"
mv "$tmp" "$out"
