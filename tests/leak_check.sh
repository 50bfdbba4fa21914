#!/bin/sh
# Checks `make test`'s final "queues left behind" check (it looks only for
# this run's prefix, see tests/common/prefix.rs), with every suite skipped (make -o): it must ignore a queue named like
# pmq's that another program created, and must catch a kernel queue and a
# shm queue left behind under this run's prefix. Run by `make test-leak-check`.
set -u
pmq=${1:-target/debug/pmq}
skip="-o lint -o test-rust -o test-c -o test-bench -o test-cli -o test-cpp -o test-examples
      -o test-go -o test-install -o test-python -o test-readme -o test-reliability
      -o test-sanitize -o test-valgrind"
prefix="pmqt-leakcheck-$$"
foreign="/pmq-foreign-leakcheck-$$"
failed=0
cleanup() {
    "$pmq" rm "$foreign" 2>/dev/null
    "$pmq" rm "/$prefix-left" 2>/dev/null
    "$pmq" --backend shm rm "/$prefix-shm-left" 2>/dev/null
}
trap cleanup EXIT
check() { # what expected-status make-args...
    what=$1 want=$2
    shift 2
    out=$(PMQ_TEST_PREFIX=$prefix make -s $skip "$@" test 2>&1)
    got=$?
    if [ "$got" -ne "$want" ] && ! { [ "$want" -ne 0 ] && [ "$got" -ne 0 ]; }; then
        echo "leak check: FAILED: $what: make test exited $got, expected $want:"
        echo "$out" | sed 's/^/  /'
        failed=1
    else
        echo "leak check: ok: $what"
    fi
}
"$pmq" create "$foreign" --max-messages 1 --max-size 8 >/dev/null || exit 2
check "another program's pmq-named queue is not this run's" 0
"$pmq" create "/$prefix-left" --max-messages 1 --max-size 8 >/dev/null || exit 2
check "a kernel queue this run left behind is caught" 1
"$pmq" rm "/$prefix-left"
"$pmq" --backend shm create "/$prefix-shm-left" --max-messages 1 --max-size 8 >/dev/null || exit 2
check "a shm queue this run left behind is caught" 1
exit $failed
