#!/bin/sh
# Runs each test program given as an argument, sums their
# "N passed, N failed[, N skipped]" lines, prints every "SKIPPED ..." line,
# and fails if any program failed, printed no such line, or skipped a part
# that c_tests/expected-skips does not allow here.
here=$(dirname "$0")
allowed="$here/expected-skips"
root=no
[ "$(id -u)" = 0 ] && root=yes
total_pass=0
total_fail=0
total_skip=0
bad=""
unexpected=""
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
    prog=$(basename "$t")
    skips=$(printf '%s\n' "$out" | grep '^SKIPPED ' || true)
    if [ -n "$skips" ]; then
        printf '%s\n' "$skips" | while IFS= read -r s; do echo "    $s"; done
        for what in $(printf '%s\n' "$skips" | sed -n 's/^SKIPPED \([^:]*\):.*/\1/p'); do
            total_skip=$((total_skip + 1))
            ok=no
            if grep -qE "^always $prog $what\$" "$allowed"; then ok=yes; fi
            if [ $root = no ] && grep -qE "^nonroot $prog $what\$" "$allowed"; then ok=yes; fi
            if [ "${PMQ_TEST_BACKEND:-kernel}" = shm ] && grep -qE "^shm $prog $what\$" "$allowed"; then ok=yes; fi
            if [ $ok = no ]; then unexpected="$unexpected $prog:$what"; fi
        done
    fi
done
if [ -n "$bad" ]; then
    total_fail=$((total_fail + 1))
fi
echo "c_tests${PMQ_TEST_BACKEND:+ ($PMQ_TEST_BACKEND)}: $total_pass passed, $total_fail failed, $total_skip skipped"
if [ -n "$unexpected" ]; then
    echo "c_tests: unexpected skips (not allowed by c_tests/expected-skips here):$unexpected"
    exit 1
fi
[ -z "$bad" ]
