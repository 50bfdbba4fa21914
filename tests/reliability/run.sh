#!/bin/sh
# Runs each argument as a command line (program plus its arguments, one
# string), shows its output, and fails if it exited non-zero, printed no
# "N passed, N failed" line, or printed a sanitizer/valgrind report (so a
# report that did not change the exit code still fails the run). Sums the
# counts into "<suite>: N passed, N failed".
#   run.sh SUITE "cmd args" "cmd args" ...
suite=$1
shift
total_pass=0
total_fail=0
bad=""
for cmd in "$@"; do
    start=$(date +%s.%N)
    out=$(sh -c "$cmd" 2>&1)
    rc=$?
    end=$(date +%s.%N)
    line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    reports=$(printf '%s\n' "$out" | grep -cE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: UndefinedBehaviorSanitizer|ERROR SUMMARY: [1-9]|definitely lost: [1-9]|indirectly lost: [1-9]')
    printf '%s\n' "$out" | grep -vE '[0-9]+ passed, [0-9]+ failed' | sed 's/^/    /'
    if [ $rc -ne 0 ] || [ -z "$line" ] || [ "$reports" -ne 0 ]; then
        echo "FAILED: $cmd (exit $rc, $reports sanitizer/valgrind report lines)"
        bad="$bad x"
    fi
    p=$(printf '%s' "$line" | sed -n 's/.* \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p')
    f=$(printf '%s' "$line" | sed -n 's/.* \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2/p')
    total_pass=$((total_pass + ${p:-0}))
    total_fail=$((total_fail + ${f:-0}))
    secs=$(awk "BEGIN { printf \"%.1f\", $end - $start }")
    printf '  %s: %s (%s s)\n' "$cmd" "${line:-no result line}" "$secs"
done
if [ -n "$bad" ]; then
    total_fail=$((total_fail + 1))
fi
echo "$suite: $total_pass passed, $total_fail failed"
[ -z "$bad" ]
