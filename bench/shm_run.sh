#!/bin/sh
# The shared-memory rows of the benchmark table (pmq's shm backend against
# Boost.Interprocess message_queue and the raw kernel calls): bench/driver.py
# runs this (its BINDING_HOOKS) from the repository root. `make bench` /
# `make test-bench` build bench/bench_shm.cpp into $PMQ_BENCH_BIN_DIR/bench-shm
# when Boost's headers are installed (Debian: libboost-dev).
# Exit status 2 when it cannot run.
bin="${PMQ_BENCH_BIN_DIR:-build/bench}/bench-shm"
if [ ! -x "$bin" ]; then
    echo "shm bench: cannot run: $bin is not built (it needs Boost's headers: apt-get install libboost-dev)" >&2
    exit 2
fi
if [ "${PMQ_BENCH_QUICK:-}" = 1 ]; then
    exec "$bin" -q -r "${PMQ_BENCH_REPS:-7}"
fi
exec "$bin" -r "${PMQ_BENCH_REPS:-7}"
