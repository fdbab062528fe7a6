#!/bin/sh
# docs/bindings/ctypes_gradcheck.py, the binding authors' example, against the installed
# shared libraries of both precisions: Python's standard library only (ctypes) gradchecks
# built-in ops and an op written in Python, and a wrong backward must be caught.
. tests/programs/lib/install.sh
command -v python3 >/dev/null || { echo "python3 is missing"; exit 1; }
for name in henbun-double henbun; do
    if python3 docs/bindings/ctypes_gradcheck.py "$prefix/lib/lib$name.so" >"$dir/out" 2>&1; then
        ok "lib$name.so from Python:"; sed 's/^/    /' "$dir/out"
    else
        bad "lib$name.so from Python:"; sed 's/^/    /' "$dir/out"
    fi
done
exit $failed
