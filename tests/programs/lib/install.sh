# install.sh — sourced by the install_*.sh checks: installs both precisions into one
# temporary prefix, as a user would (`make install`, `make install REAL=double`), and points
# pkg-config at it.  Gives $dir (removed at exit), $prefix, and the bookkeeping: `bad MSG`
# records a failure, `ok MSG` a pass; the script ends with `exit $failed`.
set -u
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
prefix=$dir/prefix
failed=0
ok() { printf 'ok   %s\n' "$*"; }
bad() { printf 'FAIL %s\n' "$*"; failed=1; }

make -s install PREFIX="$prefix" >/dev/null || { echo "make install failed"; exit 1; }
make -s install REAL=double PREFIX="$prefix" >/dev/null ||
    { echo "make install REAL=double failed"; exit 1; }
PKG_CONFIG_PATH=$prefix/lib/pkgconfig
export PKG_CONFIG_PATH

# build OUT SRC COMPILER PACKAGE LINKAGE: compiles and links SRC outside the tree, flags from
# pkg-config only.  LINKAGE shared: -lhenbun with an rpath; static: the same link line with
# the archive named exactly (-l:libhenbun.a) and the private dependencies (--static).
build() {
    out=$1 src=$2 compiler=$3 pkg=$4 linkage=$5
    # shellcheck disable=SC2046
    if [ "$linkage" = static ]; then
        $compiler -o "$out" "$src" $(pkg-config --cflags "$pkg") \
            $(pkg-config --static --libs "$pkg" | sed "s/-l$pkg\\b/-l:lib$pkg.a/")
    else
        $compiler -o "$out" "$src" $(pkg-config --cflags --libs "$pkg") \
            -Wl,-rpath,"$(pkg-config --variable=libdir "$pkg")"
    fi
}
