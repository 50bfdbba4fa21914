#!/bin/sh
# Runs each test program given as an argument, sums their "N passed, N failed"
# lines, and fails if any program failed or printed no such line.
total_pass=0
total_fail=0
bad=""
for t in "$@"; do
    out=$("$t" 2>&1)
    rc=$?
    line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [ $rc -ne 0 ] || [ -z "$line" ]; then
        printf '%s\n' "$out"
        echo "FAILED: $t (exit $rc)"
        bad="$bad $t"
    fi
    p=$(printf '%s' "$line" | sed -n 's/.* \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p')
    f=$(printf '%s' "$line" | sed -n 's/.* \([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2/p')
    total_pass=$((total_pass + ${p:-0}))
    total_fail=$((total_fail + ${f:-0}))
    echo "  $t: ${line:-no result line}"
done
if [ -n "$bad" ]; then
    total_fail=$((total_fail + 1))
fi
echo "c_tests: $total_pass passed, $total_fail failed"
[ -z "$bad" ]
