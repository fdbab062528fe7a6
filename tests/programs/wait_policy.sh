#!/bin/sh
# wait_policy.sh — the library makes idle OpenMP threads wait passively unless the user
# chose (autograd/threads.c says why: spinning threads collapse on a busy machine).  The
# OpenMP runtime itself reports what it read (OMP_DISPLAY_ENV), so this checks what the
# runtime uses, not what henbun meant to set.  libgomp's default would show a spin count of
# 300000; passive waiting is a spin count of 0.
set -u
prog=build/vae
[ -x "$prog" ] || { echo "$prog is missing (run make first)"; exit 1; }
failed=0
show() { # show VAR ENV-ARGS...: the runtime's line for VAR when run with these variables
    var=$1; shift
    env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose "$@" "$prog" --help 2>&1 |
        grep "^ *$var = " | head -n 1
}
expect() { # expect WHAT PATTERN LINE
    if printf '%s\n' "$3" | grep -q "$2"; then echo "ok   $1"; else echo "FAIL $1: got '$3'"; failed=1; fi
}
if show OMP_WAIT_POLICY | grep -q .; then
    expect "default: passive" "'PASSIVE'" "$(show OMP_WAIT_POLICY)"
    expect "default: no spinning" "'0'" "$(show GOMP_SPINCOUNT)"
    expect "the user's OMP_WAIT_POLICY wins" "'ACTIVE'" "$(show OMP_WAIT_POLICY OMP_WAIT_POLICY=active)"
    expect "the user's GOMP_SPINCOUNT wins" "'1000'" "$(show GOMP_SPINCOUNT GOMP_SPINCOUNT=1000)"
else    # LLVM's libomp prints no such lines; its policy is set by the plain constructor
    echo "ok   (runtime without OMP_DISPLAY_ENV lines: nothing to check)"
fi
exit $failed
