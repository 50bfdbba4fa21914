#!/bin/sh
# Runs each C++ example program given as an argument (each must finish in
# 30 s and exit 0), shows the output of those that fail, and prints a summary.
pass=0
fail=0
# Each gets a queue name with make test's per-run prefix (PMQ_TEST_PREFIX),
# so its leak check would find a queue an example left behind.
prefix=${PMQ_TEST_PREFIX:-pmq}
for ex in "$@"; do
    out=$(timeout 30 "$ex" "/$prefix-cpp-$(basename "$ex")-$$" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1))
        echo "  ok   $(basename "$ex")"
    else
        fail=$((fail + 1))
        printf '%s\n' "$out" | sed 's/^/    /'
        echo "  FAIL $(basename "$ex") (exit $rc)"
    fi
done
echo "cpp examples: $pass passed, $fail failed"
[ $fail -eq 0 ]
