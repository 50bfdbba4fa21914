#!/bin/sh
# The Go row of the benchmark table: bench/driver.py runs this (its
# BINDING_HOOKS) from the repository root. `make bench` / `make test-bench`
# build the program first (mk/bench.mk, target bench-go) into
# $PMQ_BENCH_BIN_DIR/go-bench, statically linked to libpmq.a like
# bench/bench_c.c. Environment (set by the driver): PMQ_BENCH_BIN_DIR,
# PMQ_BENCH_REPS (repetitions), PMQ_BENCH_QUICK=1 (tiny smoke run).
# Exit status 2 when it cannot run.
bin="${PMQ_BENCH_BIN_DIR:-build/bench}/go-bench"
if [ ! -x "$bin" ]; then
    echo "go bench: cannot run: $bin is not built (make bench builds it; it needs Go)" >&2
    exit 2
fi
exec "$bin" -r "${PMQ_BENCH_REPS:-7}"
