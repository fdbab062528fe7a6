#!/bin/sh
# Installs henbun (float and double) into a temporary prefix and builds a small C program and
# a small C++ program outside the tree with pkg-config, the way a user's own project would:
# each precision, against the shared and the static library; runs them; checks the shared
# builds load the installed .so and the static builds do not need it.
. tests/programs/lib/install.sh

cat >"$dir/user.c" <<'C'
/* d(sum tanh(w)²)/dw by the tape, against the gradient check, in the installed precision. */
#include <henbun/autograd/autograd.h>
#include <stdio.h>
#include <string.h>
static ag_tensor *f(ag_tape *t, ag_tensor **in, void *ctx) {
    (void)ctx;
    return ag_sum(t, ag_square(t, ag_tanh(t, in[0])));
}
int main(void) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *w = ag_param(2, (int[]){2, 3});
    ag_fill_randn(ag_tape_rng(t), w, 1);
    ag_tensor *loss = ag_sum(t, ag_square(t, w)); /* d(w²)/dw = 2w */
    ag_backward(t, loss);
    int ok = w->grad[4] == 2 * w->data[4];
    ag_gradcheck_report r = ag_gradcheck(f, &w, 1, NULL, NULL);
    ok = ok && r.ok && strcmp(henbun_version(), HENBUN_VERSION_STRING) == 0;
    printf("henbun %s, %s, sizeof(ag_real) %zu, gradcheck rel %.1e: %s\n", henbun_version(),
           AG_REAL_NAME, sizeof(ag_real), r.max_rel_err, ok ? "ok" : "FAIL");
    ag_tensor_free(w);
    ag_tape_free(t);
    return ok ? 0 : 1;
}
C

cat >"$dir/user.cpp" <<'CXX'
// A small convolutional net from the spec macros, one Adam step that lowers the loss, and
// a programmer error returned by ag_try instead of aborting.
#include <henbun/henbun.h>
#include <cstdio>
#include <string>
#include <vector>
static const nn_spec spec[] = {NN_CONV(4, 3, 1, 1), NN_RELU, NN_MAXPOOL(2, 2), NN_FLATTEN,
                               NN_LINEAR(8), NN_TANH, NN_RESHAPE(2, 2, 2), NN_FLATTEN,
                               NN_LINEAR(1), NN_END};
static void bad_matmul(void *ctx) { // no C++ objects here: ag_try longjmps over this frame
    ag_tape *t = static_cast<ag_tape *>(ctx);
    const int a_shape[] = {2, 3}, b_shape[] = {4, 3};
    ag_matmul(t, ag_zeros(t, 2, a_shape), ag_zeros(t, 2, b_shape), false, false);
}
int main() {
    ag_rng rng;
    ag_rng_seed(&rng, 7);
    nn_error err;
    const int in_shape[] = {1, 6, 6};
    nn_net *net = nn_net_new(spec, 3, in_shape, &rng, &err);
    if (!net) { std::fprintf(stderr, "%s\n", err.msg); return 1; }
    nn_optim *opt = nn_adam(&net->params, 0.01);
    ag_tape *t = ag_tape_new(3);
    const int x_shape[] = {5, 1, 6, 6};
    std::vector<double> losses;
    for (int step = 0; step < 2; step++) {
        ag_tensor *x = ag_randn(t, 4, x_shape, 1);
        ag_tensor *y = nn_forward(net, t, x, true);
        ag_tensor *loss = ag_mean(t, ag_square(t, y));
        nn_params_zero_grad(&net->params);
        ag_backward(t, loss);
        nn_optim_step(opt);
        losses.push_back(ag_item(loss));
        ag_tape_clear(t);
        ag_rng_seed(ag_tape_rng(t), 3); // the same batch again
    }
    char msg[256];
    int status = ag_try(bad_matmul, t, msg, sizeof msg);
    std::string caught = msg;
    bool ok = losses[1] < losses[0] && status == -1 && caught.find("matmul: inner dimensions differ") == 0;
    std::printf("C++: %s, loss %.4f -> %.4f, caught \"%s\": %s\n", AG_REAL_NAME, losses[0],
                losses[1], caught.c_str(), ok ? "ok" : "FAIL");
    ag_tape_free(t);
    nn_optim_free(opt);
    nn_net_free(net);
    return ok ? 0 : 1;
}
CXX

# The README's example, as printed there, with the README's shared and static commands.
awk '/^## Installing henbun as a library/ { on = 1 } on && /^```c$/ { c = 1; next }
     c && /^```$/ { exit } c' README.md >"$dir/readme.c"
for linkage in shared static; do
    if [ ! -s "$dir/readme.c" ]; then bad "no C example under the README's Installing section"; break; fi
    if build "$dir/readme" "$dir/readme.c" "cc -std=c11 -Wall -Wextra -Werror" henbun $linkage \
        >"$dir/log" 2>&1 && "$dir/readme" >"$dir/out" 2>&1 && grep -q ': 6$' "$dir/out"; then
        ok "the README's example, $linkage: $(cat "$dir/out")"
    else
        bad "the README's example, $linkage:"; cat "$dir/log" "$dir/out" | sed 's/^/    /' | head
    fi
done

for pkg in henbun henbun-double; do
    for linkage in shared static; do
        for lang in c cpp; do
            compiler="cc -std=c11 -Wall -Wextra -Werror"
            [ $lang = cpp ] && compiler="c++ -std=c++17 -Wall -Wextra -Werror"
            exe=$dir/user-$pkg-$linkage-$lang
            what="$lang program, $pkg, $linkage"
            if ! build "$exe" "$dir/user.$lang" "$compiler" $pkg $linkage >"$dir/log" 2>&1; then
                bad "$what: does not build:"; sed 's/^/    /' "$dir/log" | head -n 10
                continue
            fi
            if ! "$exe" >"$dir/out" 2>&1; then
                bad "$what: fails:"; sed 's/^/    /' "$dir/out" | head -n 10
                continue
            fi
            needs_so=$(readelf -d "$exe" | grep -c "lib$pkg\\.so" || true)
            if [ $linkage = shared ] && [ "$needs_so" -eq 0 ]; then
                bad "$what: does not load lib$pkg.so"
            elif [ $linkage = static ] && [ "$needs_so" -ne 0 ]; then
                bad "$what: still needs lib$pkg.so"
            else
                ok "$what: $(cat "$dir/out")"
            fi
        done
    done
done
exit $failed
