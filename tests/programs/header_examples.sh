#!/bin/sh
# header_examples.sh — every usage example in a public header compiles and links, so a
# header cannot show a call the library no longer has (vae.h once called vae_loss with 4 of
# its 5 arguments).
#
# A usage example is the block of comment lines " *   code" right after a line
#   " * Example (compiled by make test: tests/programs/header_examples.sh):"
# in autograd/autograd.h, nn/*.h or vae/*.h.  Each block becomes the body of main() in a
# program of its own, after the declarations it takes for granted (the "given" table
# below: a reader's tape, data, model...), with "... words ..." turned into comments.  It
# is compiled with the docs' flags and linked against build/float/libhenbun.a; nothing
# runs (the examples read data files and train for minutes).
#
# Before the headers it checks itself on a block made to drift (a call with an argument
# missing), so it cannot pass by compiling nothing.
#   usage: sh tests/programs/header_examples.sh      (from the top of the tree, after make)
set -u
lib=build/float/libhenbun.a
[ -f "$lib" ] || { echo "$lib is missing (run make first)"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failed=0

# What the example of block N of a header takes as given, as C declarations.
given() {
    case "$1" in
    autograd/autograd.h:1) ;;
    nn/checkpoint.h:1) cat <<'C' ;;
nn_param_list model_params = {0};
nn_optim *opt = nn_adam(&model_params, 1e-3);
int64_t step = 0, epoch = 0;
ag_rng rng;
ag_rng_seed(&rng, 1);
const char *spec_text = "linear 10";
nn_error err;
C
    nn/checkpoint.h:2) cat <<'C' ;;
nn_net *net = NULL;
nn_error err;
C
    nn/progress.h:1) cat <<'C' ;;
ag_tape *t = ag_tape_new(1);
nn_batcher *it = NULL;
nn_batch b;
double loss = 0, kl = 0;
C
    nn/data.h:1 | nn/optim.h:1) cat <<'C' ;;
ag_rng rng;
ag_tape *t = ag_tape_new(1);
nn_param_list params = {0};
nn_optim *opt = nn_adam(&params, 1e-3);
ag_tensor *loss = NULL;
nn_dataset *train = NULL;
nn_batcher *it = NULL;
nn_batch b;
C
    nn/image.h:1) cat <<'C' ;;
ag_tensor *x = NULL;
C
    nn/layer.h:1) cat <<'C' ;;
ag_rng rng;
nn_error err;
ag_tape *tape = ag_tape_new(1);
ag_tensor *x = NULL;
C
    vae/boltzmann.h:1) cat <<'C' ;;
nn_error err;
ag_tape *tape = ag_tape_new(1);
bz_stats stats;
uint64_t seed = 1;
int n = 100000;
ag_real *x = NULL;
double *log_w = NULL;
C
    vae/gan.h:1) cat <<'C' ;;
nn_error err;
ag_tape *t = ag_tape_new(1);
ag_tensor *x_real = NULL;
gan_stats st;
int n = 64;
C
    vae/gan.h:2) cat <<'C' ;;
nn_error err;
int n = 64;
const ag_real *x = NULL;
double *probs = NULL, *feats = NULL, *feats_real = NULL;
C
    vae/vae.h:1) cat <<'C' ;;
nn_error err;
ag_tape *tape = ag_tape_new(1);
ag_tensor *x = NULL;
C
    *) echo "/* no declarations listed for $1 in header_examples.sh */" ;;
    esac
}

# extract HEADER: writes $dir/<n>.body for each marked block, prints the count.
extract() {
    awk -v out="$dir/" '
        /^ \* Example \(compiled by make test/ { n++; inblock = 1; next }
        inblock && /^ \*   / {
            line = substr($0, 6)
            sub(/ *\*\/$/, "", line)                               # a block ending the comment
            while (match(line, /\.\.\.[^.]*\.\.\./))               # "... words ..." -> comment
                line = substr(line, 1, RSTART - 1) "/*" substr(line, RSTART + 3, RLENGTH - 6) "*/" \
                       substr(line, RSTART + RLENGTH)
            gsub(/\.\.\./, "", line)                               # a lone "..." : elided code
            print line > (out n ".body")
            next
        }
        { inblock = 0 }
        END { print n + 0 }' "$1"
}

# build NAME GIVEN_FILE BODY_FILE: one program; 0 when it compiles and links.
build() {
    {
        printf '#include "nn/nn.h"\n#include "vae/vae.h"\n#include "vae/gan.h"\n'
        printf '#include <stdio.h>\n#include <stdlib.h>\n\nint main(void) {\n'
        cat "$2"
        printf '{\n'
        cat "$3"
        printf '}\nreturn 0;\n}\n'
    } >"$dir/$1.c"
    ${CC:-cc} -std=c11 -O0 -fopenmp -Wall -Wextra -Werror -Wno-unknown-pragmas \
        -Wno-unused-variable -Wno-unused-but-set-variable -Wno-unused-value -I. \
        -o "$dir/$1" "$dir/$1.c" "$lib" -lz -lstb -lm >"$dir/$1.log" 2>&1
}

# The check of the check: the vae.h example with vae_loss's `training` argument left out.
given vae/vae.h:1 >"$dir/self.given"
cat >"$dir/self.body" <<'C'
vae *m = vae_new(&(vae_config){ .x_ndim = 1, .x_shape = {4}, .z_dim = 2 }, &err);
vae_stats st;
ag_tensor *loss = vae_loss(m, tape, x, &st);
C
if build self "$dir/self.given" "$dir/self.body"; then
    echo "FAIL self-check: a vae_loss call with 4 of its 5 arguments compiled"; failed=1
fi

total=0
for h in autograd/autograd.h nn/*.h vae/*.h; do
    rm -f "$dir"/*.body
    n=$(extract "$h")
    i=1
    while [ "$i" -le "$n" ]; do
        name=$(echo "$h" | tr '/.' '__')_$i
        given "$h:$i" >"$dir/$name.given"
        if build "$name" "$dir/$name.given" "$dir/$i.body"; then
            echo "ok   $h example $i"
        else
            echo "FAIL $h example $i does not compile:"
            grep -E 'error|undefined' "$dir/$name.log" | head -n 5 | sed 's/^/    /'
            failed=1
        fi
        total=$((total + 1)); i=$((i + 1))
    done
done
if [ "$total" -lt 13 ]; then
    echo "FAIL only $total marked examples found in the public headers (13 expected)"; failed=1
fi
exit $failed
