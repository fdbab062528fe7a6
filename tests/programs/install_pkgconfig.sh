#!/bin/sh
# Installs henbun into a temporary prefix and builds a small program against it with
# pkg-config, the way a user's own project would.
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
make -s install PREFIX="$dir" >/dev/null
cat >"$dir/user.c" <<'C'
#include "autograd/autograd.h"
#include <stdio.h>
int main(void) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *w = ag_param(2, (int[]){1, 1});
    w->data[0] = 3;
    ag_tensor *loss = ag_sum(t, ag_square(t, w));  /* d(w^2)/dw = 2w = 6 */
    ag_backward(t, loss);
    printf("%g\n", (double)w->grad[0]);
    int ok = w->grad[0] == 6;
    ag_tensor_free(w);
    ag_tape_free(t);
    return ok ? 0 : 1;
}
C
export PKG_CONFIG_PATH="$dir/lib/pkgconfig"
# shellcheck disable=SC2046
cc -std=c11 -o "$dir/user" "$dir/user.c" $(pkg-config --cflags --libs henbun)
"$dir/user"
