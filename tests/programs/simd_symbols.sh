#!/bin/sh
# simd_symbols.sh — wide SIMD lives only in the dispatched kernels: in the library's
# objects (float and double), every function that touches a ymm (AVX) or zmm (AVX-512)
# register is named *_avx2 or *_avx512 (compiler clones such as .constprop.0 included), and
# no *_avx2 function touches a zmm register.  So the library runs on any x86-64 CPU, and
# picks the wide kernels at run time (autograd/kernels.h).  Only meaningful for the default
# build on x86-64; a -march=native build (NATIVE=1) fails it, as it should.
set -u
command -v objdump >/dev/null 2>&1 || { echo "objdump missing (binutils): nothing to check"; exit 0; }
case $(${CC:-cc} -dumpmachine 2>/dev/null) in
x86_64* | i?86*) ;;
*) echo "not x86: nothing to check"; exit 0 ;;
esac
failed=0
for lib in build/float/libhenbun.a build/double/libhenbun.a; do
    [ -f "$lib" ] || { echo "$lib is missing (run make first)"; exit 1; }
    if grep -q -- '-march=native' "$(dirname "$lib")/.flags" 2>/dev/null; then
        echo "$lib was built with -march=native (NATIVE=1): rebuild without it to check"; exit 1
    fi
    # One line per function that uses a wide register: "NAME ymm" or "NAME zmm".
    objdump -d --no-show-raw-insn "$lib" | awk '
        /^[0-9a-f]+ <.*>:$/ { name = $2; gsub(/[<>:]/, "", name); next }
        /%zmm/ { if (!(name SUBSEP "z" in seen)) { seen[name, "z"] = 1; print name, "zmm" } }
        /%ymm/ { if (!(name SUBSEP "y" in seen)) { seen[name, "y"] = 1; print name, "ymm" } }
    ' >/tmp/henbun-simd.$$
    wide=$(wc -l </tmp/henbun-simd.$$)
    bad=$(awk '
        { base = $1; sub(/\..*/, "", base) }
        base ~ /_avx512$/ { next }
        base ~ /_avx2$/ && $2 == "ymm" { next }
        { print }' /tmp/henbun-simd.$$)
    kernels=$(awk '{ base = $1; sub(/\..*/, "", base) } base ~ /_avx512$/ { n++ } END { print n + 0 }' /tmp/henbun-simd.$$)
    rm -f /tmp/henbun-simd.$$
    if [ -n "$bad" ]; then
        echo "FAIL $lib: wide SIMD outside the dispatched kernels:"; echo "$bad" | sed 's/^/    /'; failed=1
    elif [ "$kernels" -eq 0 ]; then
        echo "FAIL $lib: no *_avx512 function uses zmm/ymm (are the kernels compiled in?)"; failed=1
    else
        echo "ok   $lib: $wide wide-SIMD function(s), all *_avx2 / *_avx512"
    fi
done
exit $failed
