#!/bin/sh
# run.sh — the body of `make fuzz`: runs each libFuzzer target in turn for SECONDS, starting
# from its committed seeds (tests/fuzz/corpus/<t>/) plus what earlier runs found
# (build/fuzz/work/<t>/), and prints one line per target with libFuzzer's execution count.
# Exits non-zero if any target crashed, leaked, timed out or tripped a sanitizer; the input
# is then in build/fuzz/crashes/<t>/ and the report in build/fuzz/<t>.log.
#   usage: tests/fuzz/run.sh SECONDS TARGET:MAXLEN:FDMASK...
set -u
seconds=$1; shift
fz=build/fuzz
failed=0
for spec in "$@"; do
    t=${spec%%:*} rest=${spec#*:}
    maxlen=${rest%%:*} mask=${rest#*:}
    mkdir -p "$fz/work/$t" "$fz/crashes/$t"
    seeds=tests/fuzz/corpus/$t
    [ -d "$seeds" ] || seeds=
    dict=tests/fuzz/$t.dict
    [ -f "$dict" ] && dict="-dict=$dict" || dict=
    log=$fz/$t.log
    # One thread (the kernels' OpenMP loops stay deterministic and cheap); -close_fd_mask
    # silences what the code under test prints, not libFuzzer's own report.
    OMP_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$fz/fuzz_$t" -max_total_time="$seconds" -max_len="$maxlen" -timeout=10 \
        -print_final_stats=1 -close_fd_mask="$mask" $dict \
        -artifact_prefix="$fz/crashes/$t/" "$fz/work/$t" $seeds >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ $rc -eq 0 ]; then
        echo "fuzz $t: ${execs:-?} executions in ${seconds} s, no crash"
    else
        echo "FAIL fuzz $t: exit $rc after ${execs:-?} executions; report in $log, inputs in $fz/crashes/$t/"
        grep -E '^==[0-9]+==ERROR|runtime error|^SUMMARY|deadly signal|out-of-memory|timeout' "$log" | head -n 5 | sed 's/^/    /'
        failed=$((failed + 1))
    fi
done
[ $failed -eq 0 ]
