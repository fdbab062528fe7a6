#!/bin/sh
# What `make install` puts where, for both precisions in one prefix: the libraries and their
# sonames, headers only under include/henbun/ (each compiles on its own as C11 and C++17),
# the pkg-config flags, which symbols the shared library exports, no wide SIMD outside
# kernels named for their instruction set, DESTDIR, and `make uninstall` leaving nothing.
. tests/programs/lib/install.sh
version=$(sed -n 's/^#define HENBUN_VERSION_STRING "\(.*\)"/\1/p' autograd/version.h)
major=${version%%.*}

# ---- files and sonames
for name in henbun henbun-double; do
    lib=$prefix/lib/lib$name
    if [ -f "$lib.a" ] && [ -f "$lib.so.$version" ] &&
        [ "$(readlink "$lib.so.$major")" = "lib$name.so.$version" ] &&
        [ "$(readlink "$lib.so")" = "lib$name.so.$major" ]; then
        ok "lib$name: .a, .so.$version, .so.$major and .so links"
    else
        bad "lib$name: missing files or links:"; ls -l "$prefix/lib" | sed 's/^/    /'
    fi
    soname=$(readelf -d "$lib.so.$version" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
    [ "$soname" = "lib$name.so.$major" ] && ok "lib$name soname $soname" ||
        bad "lib$name soname is '$soname', expected lib$name.so.$major"
    [ "$(pkg-config --modversion $name)" = "$version" ] && ok "$name.pc version $version" ||
        bad "$name.pc version $(pkg-config --modversion $name), headers say $version"
done
extra=$(ls "$prefix/include" | grep -vx henbun || true)
[ -z "$extra" ] && ok "include/ holds only henbun/" || bad "include/ also holds: $extra"

# ---- pkg-config: Cflags only what the headers need; dependencies private
cf=$(echo $(pkg-config --cflags henbun)) cfd=$(echo $(pkg-config --cflags henbun-double))
[ "$cf" = "-I$prefix/include" ] && ok "henbun Cflags: $cf" || bad "henbun Cflags: '$cf'"
[ "$cfd" = "-I$prefix/include -DAG_DOUBLE" ] && ok "henbun-double Cflags: $cfd" ||
    bad "henbun-double Cflags: '$cfd'"
libs=$(echo $(pkg-config --libs henbun)) static=$(pkg-config --static --libs henbun)
[ "$libs" = "-L$prefix/lib -lhenbun" ] && ok "henbun Libs: $libs" || bad "henbun Libs: '$libs'"
missing=""
for f in -fopenmp -lstb -lz -lm; do
    case " $static " in *" $f "*) ;; *) missing="$missing $f" ;; esac
done
[ -z "$missing" ] && ok "henbun --static Libs: $static" ||
    bad "henbun --static Libs lack$missing: '$static'"
pkg-config --print-requires-private henbun | grep -qx zlib &&
    ok "Requires.private: $(pkg-config --print-requires-private henbun | tr '\n' ' ')" ||
    bad "zlib is not in Requires.private"

# ---- every installed header compiles on its own, as C11 and as C++17, from <henbun/...>
compilers="cc:c:-std=c11 c++:c++:-std=c++17"
command -v clang >/dev/null && compilers="$compilers clang:c:-std=c11 clang++:c++:-std=c++17"
n=0 broken=""
for h in $(cd "$prefix/include" && find henbun -name '*.h' | sort); do
    for c in $compilers; do
        comp=${c%%:*} rest=${c#*:} lang=${rest%%:*} std=${rest#*:}
        for pkg in henbun henbun-double; do
            # shellcheck disable=SC2046
            printf '#include <%s>\nint henbun_header_check;\n' "$h" |
                $comp -x "$lang" $std -Wall -Wextra -pedantic -Werror -fsyntax-only \
                    $(pkg-config --cflags $pkg) - 2>"$dir/err" || {
                broken="$broken $h($comp,$pkg)"; sed 's/^/    /' "$dir/err" | head -n 4; }
            n=$((n + 1))
        done
    done
done
[ -z "$broken" ] && ok "$n header compilations (each header alone; $compilers; both precisions)" ||
    bad "headers that do not compile alone:$broken"

# ---- exported symbols: what the public headers declare, nothing else
so=$prefix/lib/libhenbun.so.$version
nm -D --defined-only "$so" | awk '{print $3}' | sort -u >"$dir/exported"
nm -g --defined-only "$prefix/lib/libhenbun.a" | awk 'NF == 3 && $2 ~ /[TDRB]/ {print $3}' |
    sort -u >"$dir/global"
cat $(find "$prefix/include/henbun" -name '*.h') >"$dir/headers"
leaked="" hidden=""
while read -r s; do grep -qw "$s" "$dir/headers" || leaked="$leaked $s"; done <"$dir/exported"
while read -r s; do
    grep -qw "$s" "$dir/headers" && ! grep -qx "$s" "$dir/exported" && hidden="$hidden $s"
done <"$dir/global"
[ -z "$leaked" ] && ok "$(wc -l <"$dir/exported") exported symbols, each declared in a public header" ||
    bad "exported but in no public header:$leaked"
[ -z "$hidden" ] && ok "every public function the library defines is exported" ||
    bad "declared in a public header but not exported:$hidden"
grep -qx ag_im2col "$dir/exported" && bad "internal ag_im2col is exported" ||
    ok "internal symbols (ag_im2col, ...) hidden: $(($(wc -l <"$dir/global") - $(wc -l <"$dir/exported"))) of them"

# ---- portable: AVX/AVX-512 registers only in functions named for their instruction set
if [ "$(uname -m)" = x86_64 ]; then
    objdump -d --no-show-raw-insn "$so" | awk '
        /^[0-9a-f]+ <.*>:$/ { fn = $2; next }
        /%[yz]mm/ && fn !~ /avx/ { n[fn]++ }
        END { for (f in n) print f, n[f] }' >"$dir/wide"
    [ ! -s "$dir/wide" ] && ok "no ymm/zmm instruction outside *avx* kernels in libhenbun.so" ||
        bad "wide SIMD outside dispatched kernels: $(head -n 5 "$dir/wide" | tr '\n' ' ')"
fi

# ---- DESTDIR: files staged under it, paths in the .pc are the final ones
make -s install DESTDIR="$dir/stage" PREFIX=/opt/henbun-test >/dev/null
if [ -f "$dir/stage/opt/henbun-test/lib/libhenbun.so.$version" ] && [ ! -e /opt/henbun-test ] &&
    grep -qx 'prefix=/opt/henbun-test' "$dir/stage/opt/henbun-test/lib/pkgconfig/henbun.pc"; then
    ok "DESTDIR: staged under DESTDIR, henbun.pc says prefix=/opt/henbun-test"
else
    bad "DESTDIR not honoured"; find "$dir/stage" | head -n 5 | sed 's/^/    /'
fi
make -s uninstall DESTDIR="$dir/stage" PREFIX=/opt/henbun-test >/dev/null
left=$(find "$dir/stage" -type f -o -type l)
[ -z "$left" ] && ok "uninstall with DESTDIR removes every file" || bad "left behind: $left"

# ---- uninstall one precision, then the other
make -s uninstall PREFIX="$prefix" >/dev/null
if [ ! -e "$prefix/lib/libhenbun.a" ] && [ ! -e "$prefix/lib/libhenbun.so" ] &&
    [ -f "$prefix/lib/libhenbun-double.a" ] && [ -f "$prefix/include/henbun/henbun.h" ]; then
    ok "make uninstall removes libhenbun, keeps libhenbun-double and the headers it needs"
else
    bad "make uninstall (float) removed too much or too little"; find "$prefix" | sed 's/^/    /'
fi
make -s uninstall REAL=double PREFIX="$prefix" >/dev/null
left=$(find "$prefix" -type f -o -type l)
[ -z "$left" ] && ok "make uninstall REAL=double leaves no file in the prefix" ||
    bad "left behind: $left"
exit $failed
