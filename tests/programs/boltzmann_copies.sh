#!/bin/sh
# boltzmann_copies.sh — build/boltzmann's --structure copies (issue 20: Many-Well with a
# sampler that factorises over the copies), in short runs: many-well takes it by default
# and says so, writes the per-copy masses (mode_masses.png, the result line), keeps the
# structure in its checkpoint (so --load needs no flag, and a joint sampler's checkpoint has
# no such line), resumes exactly after a stop, and the flags that cannot go with it are
# refused before anything is written.
. tests/programs/lib/common.sh
need boltzmann

small="--iters 40 --log-every 10 --batch 16 --samples 4 --hidden 8 --anneal 20 --eval-n 400 \
--latent-draws 2 --mcmc none --threads 1 --quiet"

# many-well: structure copies by default, one line says how it is built
# shellcheck disable=SC2086
if build/boltzmann --energy many-well $small --out "$dir/mw" >"$dir/mw.txt" 2>"$dir/err"; then
    ok "many-well, default structure: runs"
else
    bad "many-well, default structure: failed"; sed 's/^/    /' "$dir/err" | tail -n 5
fi
says "many-well: structure copies by default" "$dir/mw.txt" \
    "structure copies: both networks shared by the 16 copies.*latent 2 per copy; joint bound"
says "many-well: networks of one copy" "$dir/mw.txt" \
    "encoder 'linear 8, tanh, linear 8, tanh, linear 4', decoder 'linear 8, tanh, linear 8, tanh, linear 4'"
says "many-well: the 16 per-copy masses" "$dir/mw.txt" \
    "per-copy P\(x>0\), reweighted:( [01]\.[0-9]{3}){16}$"
says "many-well: result line" "$dir/mw.txt" \
    "^result: energy=many-well .* copy_mass_min=[01]\.[0-9]+ copy_mass_max="
[ -s "$dir/mw/mode_masses.png" ] && ok "many-well: mode_masses.png" ||
    bad "many-well: no mode_masses.png"
grep -q '^structure=copies$' "$dir/mw/sampler.ckpt" && ok "checkpoint keeps structure=copies" ||
    bad "the checkpoint has no structure=copies line"

# --load with no structure flag: the checkpoint's; the same weights give the same estimate.
lz() { sed -n 's/^result: .* log_z=\([^ ]*\) .*/\1/p' "$1"; }
# shellcheck disable=SC2086
build/boltzmann --energy many-well $small --load "$dir/mw/sampler.ckpt" --out "$dir/ev" \
    >"$dir/ev.txt" 2>"$dir/err" || { bad "--load of a copies sampler failed"; sed 's/^/    /' "$dir/err"; }
if [ -n "$(lz "$dir/mw.txt")" ] && [ "$(lz "$dir/mw.txt")" = "$(lz "$dir/ev.txt")" ]; then
    ok "--load: the same log Z as after training"
else
    bad "--load: log Z $(lz "$dir/ev.txt"), after training $(lz "$dir/mw.txt")"
fi

# --copy-bound and --structure joint: what the sampler prints; a joint checkpoint has no
# structure lines (the other energies' checkpoints are what they were).
# shellcheck disable=SC2086
build/boltzmann --energy many-well $small --copy-bound --iters 10 --out "$dir/jb" \
    >"$dir/jb.txt" 2>&1 || bad "--copy-bound run failed"
says "--copy-bound: the per-copy bound" "$dir/jb.txt" "latent 2 per copy; per-copy bound"
# shellcheck disable=SC2086
build/boltzmann --energy many-well $small --structure joint --iters 10 --out "$dir/j" \
    >"$dir/j.txt" 2>&1 || bad "--structure joint run failed"
grep -q "structure copies" "$dir/j.txt" && bad "--structure joint: says structure copies" ||
    ok "--structure joint: one network over all of x"
grep -q "encoder 'linear 8, tanh, linear 8, tanh, linear 64'" "$dir/j.txt" &&
    ok "--structure joint: networks of the whole draw" || bad "--structure joint: networks"
grep -aq '^structure=\|^copy_bound=' "$dir/j/sampler.ckpt" &&
    bad "a joint sampler's checkpoint has structure lines" ||
    ok "a joint sampler's checkpoint has no structure lines"

# shellcheck disable=SC2086
build/boltzmann --energy many-well $small --load "$dir/j/sampler.ckpt" --out "$dir/jev" \
    >"$dir/jev.txt" 2>"$dir/err" && ok "--load of a joint sampler: no --structure needed" ||
    { bad "--load of a joint sampler failed"; sed 's/^/    /' "$dir/err" | tail -n 3; }

# Stopped after 23 steps and resumed: the very checkpoint of the straight run.
# shellcheck disable=SC2086
(HENBUN_STOP_AFTER_STEPS=23; export HENBUN_STOP_AFTER_STEPS
 build/boltzmann --energy many-well $small --out "$dir/st" >/dev/null 2>"$dir/err")
status_is "stopped after 23 steps" 130 $? "$dir/err"
cmd=$(resume_command "$dir/err")
if [ -n "$cmd" ] && eval "$cmd" >/dev/null 2>"$dir/err"; then
    same "copies: resumed checkpoint as the straight run's" "$dir/mw/sampler.ckpt" "$dir/st/sampler.ckpt"
else
    bad "copies: no resume, or it failed: $cmd"; sed 's/^/    /' "$dir/err" | tail -n 5
fi

# refuses NAME PATTERN ARGS...: exit 2, the reason, no --out.
refuses() {
    name=$1 pattern=$2
    shift 2
    build/boltzmann "$@" --threads 1 --quiet --out "$dir/no" >/dev/null 2>"$dir/err"
    status_is "$name: refused" 2 $? "$dir/err"
    says "$name: says why" "$dir/err" "$pattern"
    [ -e "$dir/no" ] && bad "$name: created --out" || ok "$name: --out not created"
}
refuses "copies on the double well" "--structure copies needs an energy made of independent copies" \
    --energy double-well --structure copies
refuses "--copy-bound without copies" "--copy-bound goes with --structure copies" \
    --energy many-well --structure joint --copy-bound
refuses "a latent size the copies cannot share" "--latent \(20\) must be a multiple of the 16 copies" \
    --energy many-well --latent 20
refuses "an unknown structure" "structure" --energy many-well --structure rows
exit $failed
