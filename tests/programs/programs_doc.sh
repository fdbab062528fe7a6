#!/bin/sh
# docs/programs.md must be what scripts/gen_programs_doc.sh makes from the programs' --help.
set -eu
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
sh scripts/gen_programs_doc.sh "$tmp"
if ! cmp -s "$tmp" docs/programs.md; then
    echo "docs/programs.md is out of date with the programs' --help; run: sh scripts/gen_programs_doc.sh"
    diff "$tmp" docs/programs.md | head -20
    exit 1
fi
