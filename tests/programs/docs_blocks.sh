#!/bin/sh
# docs_blocks.sh — keeps the C in docs/*.md identical to the code it quotes, so that a
# renamed function or a changed line breaks `make test`, not the reader.
#
# Every fenced C block (```c) in docs/*.md must be preceded, on the line just above the
# fence, by one of these markers:
#
#   <!-- include: PATH -->                       the whole file
#   <!-- include: PATH lines A-B -->             lines A to B (1-based, inclusive)
#   <!-- include: PATH from /START/ to /END/ --> from the first line matching the extended
#                                                regular expression START through the first
#                                                line at or after it matching END
#   <!-- snippet: WHY -->                        not compiled (a sketch, a fragment, output)
#
# PATH is relative to the top of the tree.  An included block must equal the region
# byte for byte (C files under docs/examples/ and docs/solutions/ are themselves built and
# run by tests/run.sh).  Pages written before this check existed are listed in LEGACY:
# their marked blocks are checked, their unmarked C blocks are tolerated.
#
#   usage: sh tests/programs/docs_blocks.sh [FILE.md ...]    (default: docs/*.md)
# Before checking the docs it checks itself on a page made to drift, so it cannot pass
# by checking nothing.
set -u
LEGACY="docs/add-a-layer.md docs/spec.md docs/checkpoint-format.md"

check_pages() { # check_pages FILE... : prints one line per problem, returns 1 if any
    awk -v legacy=" $LEGACY " '
    function problem(msg) { printf "%s:%d: %s\n", FILENAME, fence_line, msg; bad = 1 }
    # Reads the region named by spec ("PATH", "PATH lines A-B", "PATH from /S/ to /E/")
    # into region[1..n]; returns n, or -1 with why set.
    function load(spec,    path, mode, a, b, s, e, line, n, k, started, done, rest, i, r, ab) {
        why = ""; n = 0
        path = spec; sub(/ .*/, "", path)
        rest = substr(spec, length(path) + 2)
        if (rest == "") mode = "all"
        else if (rest ~ /^lines [0-9]+-[0-9]+$/) {
            mode = "lines"; sub(/^lines /, "", rest); split(rest, ab, "-"); a = ab[1] + 0; b = ab[2] + 0
        } else if (rest ~ /^from \/.*\/ to \/.*\/$/) {
            mode = "re"; rest = substr(rest, 7, length(rest) - 7)   # S/ to /E
            i = index(rest, "/ to /")
            s = substr(rest, 1, i - 1); e = substr(rest, i + 6)
        } else { why = "cannot read the marker (see the top of tests/programs/docs_blocks.sh)"; return -1 }
        k = 0; started = 0; done = 0
        while ((r = (getline line < path)) > 0) {
            k++
            if (mode == "all" || (mode == "lines" && k >= a && k <= b)) region[++n] = line
            else if (mode == "re") {
                if (!started && line ~ s) started = 1
                if (started) { region[++n] = line; if (line ~ e) { done = 1; break } }
            }
        }
        if (r < 0 && k == 0) { why = "no such file: " path; return -1 }
        close(path)
        if (mode == "lines" && (b < a || b > k)) { why = sprintf("%s has %d lines, asked for %d-%d", path, k, a, b); return -1 }
        if (mode == "re" && !started) { why = "no line of " path " matches /" s "/"; return -1 }
        if (mode == "re" && !done) { why = "no line of " path " after /" s "/ matches /" e "/"; return -1 }
        return n
    }
    FNR == 1 {
        if (NR > 1 && state != "text") { printf "%s: unclosed code block at the end\n", last_file; bad = 1 }
        state = "text"; prev = ""; last_file = FILENAME; is_legacy = index(legacy, " " FILENAME " ") > 0
    }
    {
        if (state == "text") {
            if ($0 ~ /^[ \t]*```/) {
                fence_line = FNR
                lang = $0; sub(/^[ \t]*```[ \t]*/, "", lang); sub(/[ \t].*/, "", lang)
                if (lang == "c" || lang == "C") {
                    state = "c"; nb = 0
                    mk = prev
                    if (mk ~ /^<!-- include: .* -->$/) {
                        kind = "include"; spec = mk; sub(/^<!-- include: /, "", spec); sub(/ -->$/, "", spec)
                    } else if (mk ~ /^<!-- snippet:.*-->$/) kind = "snippet"
                    else kind = "none"
                } else {
                    state = "other"
                    if (prev ~ /^<!-- include:/) problem("an include marker above a block that is not ```c")
                }
            }
            prev = $0
            next
        }
        if ($0 ~ /^[ \t]*```[ \t]*$/) {          # closing fence
            if (state == "c") {
                blocks++
                if (kind == "none" && !is_legacy)
                    problem("C block without a marker: add <!-- include: PATH ... --> or <!-- snippet: WHY --> on the line above")
                if (kind == "include") {
                    included++
                    n = load(spec)
                    if (n < 0) problem(why)
                    else {
                        for (i = 1; i <= n && i <= nb && block[i] == region[i]; i++) ;
                        if (i <= n || i <= nb)
                            problem(sprintf("line %d of the block differs from %s (block %d lines, source %d):\n    doc:  %s\n    code: %s",
                                            i, spec, nb, n, i <= nb ? block[i] : "(end of block)",
                                            i <= n ? region[i] : "(end of region)"))
                    }
                }
            }
            state = "text"; prev = ""
            next
        }
        if (state == "c") block[++nb] = $0
    }
    END {
        if (state != "text") { fence_line = FNR; problem("unclosed code block at the end") }
        printf "docs_blocks: %d C blocks, %d checked against their source\n", blocks, included
        exit bad
    }' "$@"
}

# ---- self-test: a page whose quote has drifted must fail, its twin that matches must pass.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'int one(void) {\n    return 1;\n}\nint two(void) {\n    return 2;\n}\n' > "$tmp/code.c"
cat > "$tmp/good.md" <<EOF
<!-- include: $tmp/code.c from /^int two/ to /^}/ -->
\`\`\`c
int two(void) {
    return 2;
}
\`\`\`
<!-- include: $tmp/code.c lines 1-1 -->
\`\`\`c
int one(void) {
\`\`\`
<!-- snippet: a fragment -->
\`\`\`c
x = y;
\`\`\`
EOF
sed 's/return 2;/return 3;/' "$tmp/good.md" > "$tmp/drift.md"
printf '```c\nint unmarked;\n```\n' > "$tmp/unmarked.md"
sed 's/int two/int three/' "$tmp/good.md" > "$tmp/renamed.md"
if ! check_pages "$tmp/good.md" >/dev/null; then echo "docs_blocks self-test: a matching page failed"; check_pages "$tmp/good.md"; exit 1; fi
for page in drift unmarked renamed; do
    if check_pages "$tmp/$page.md" >/dev/null; then echo "docs_blocks self-test: the $page page passed"; exit 1; fi
done

# ---- the docs
if [ $# -eq 0 ]; then set -- docs/*.md; fi
check_pages "$@"
