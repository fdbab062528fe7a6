#!/bin/sh
# A program compiled with one precision's headers and linked with the other precision's
# library must not link (it would compute garbage: ag_real decides every tensor's layout),
# and the linker's message must say why: the undefined symbol names the library to use.
# Checked both ways, shared and static, C and C++, and under -O2 -Wl,--gc-sections (which
# drops unreferenced sections: the check must survive it).
. tests/programs/lib/install.sh

cat >"$dir/user.c" <<'C'
#include <henbun/autograd/autograd.h>
int main(void) {
    ag_tape *t = ag_tape_new(1);
    ag_tensor *x = ag_ones(t, 1, (int[]){3});
    int ok = ag_item(ag_sum(t, x)) == 3;
    ag_tape_free(t);
    return ok ? 0 : 1;
}
C
cat >"$dir/user.cpp" <<'CXX'
#include <henbun/autograd/autograd.h>
int main() {
    static const int three[] = {3};
    ag_tape *t = ag_tape_new(1);
    bool ok = ag_item(ag_sum(t, ag_ones(t, 1, three))) == 3;
    ag_tape_free(t);
    return ok ? 0 : 1;
}
CXX

# mismatch HEADERS_PKG LIB_PKG LINKAGE LANG EXTRA_FLAGS: link must fail naming the tag.
mismatch() {
    hdr=$1 lib=$2 linkage=$3 lang=$4 extra=$5
    if [ "$hdr" = henbun ]; then tag=henbun_abi_v0_float__link_with_libhenbun
    else tag=henbun_abi_v0_double__link_with_libhenbun_double; fi
    compiler="cc -std=c11"
    [ "$lang" = cpp ] && compiler="c++ -std=c++17"
    what="$lang, $hdr headers with lib$lib, $linkage${extra:+ ($extra)}"
    # shellcheck disable=SC2046
    $compiler $extra -c -o "$dir/user.o" "$dir/user.$lang" $(pkg-config --cflags "$hdr") || {
        bad "$what: does not compile"; return; }
    if [ "$linkage" = static ]; then
        libs=$(pkg-config --static --libs "$lib" | sed "s/-l$lib\\b/-l:lib$lib.a/")
    else
        libs="$(pkg-config --libs "$lib") -Wl,-rpath,$prefix/lib"
    fi
    # shellcheck disable=SC2086
    if $compiler $extra -o "$dir/user" "$dir/user.o" $libs 2>"$dir/err"; then
        bad "$what: linked (the precisions are mixed silently)"
    elif grep -q "undefined reference to \`$tag'" "$dir/err"; then
        ok "$what: link fails with: $(grep -o "undefined reference to \`$tag'" "$dir/err" | head -n 1)"
    else
        bad "$what: link failed without naming $tag:"; sed 's/^/    /' "$dir/err" | head -n 5
    fi
    # the same object links with its own precision's library
    # shellcheck disable=SC2046
    if [ "$linkage" = shared ] &&
        ! { $compiler $extra -o "$dir/user" "$dir/user.o" $(pkg-config --libs "$hdr") \
              -Wl,-rpath,"$prefix/lib" && "$dir/user"; }; then
        bad "$what: the matching library $hdr does not link or run"
    fi
}

for lang in c cpp; do
    for linkage in shared static; do
        mismatch henbun henbun-double $linkage $lang ""
        mismatch henbun-double henbun $linkage $lang ""
    done
done
for linkage in shared static; do
    mismatch henbun henbun-double $linkage c "-O2 -ffunction-sections -fdata-sections -Wl,--gc-sections"
    mismatch henbun-double henbun $linkage c "-O2 -ffunction-sections -fdata-sections -Wl,--gc-sections"
done
exit $failed
