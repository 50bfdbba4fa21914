# Benchmarks (issue 9): pmq against the raw kernel calls and the reference.
#
#   make bench        the full run (about 2 minutes): prints ONE table
#   make test-bench   a tiny smoke run inside `make test`: proves the benchmark
#                     still builds and runs; no timing is asserted
#
# bench_c links the release static library with -O2; the Rust bench is its own
# small cargo package (bench/rust) sharing the target directory. The reference
# package (posix_ipc) is installed into the benchmark's own virtualenv; if that
# fails, its rows are reported as skipped.

BENCH_DIR     := $(BUILD)/bench
BENCH_C       := $(BENCH_DIR)/bench_c
BENCH_RS      := $(BENCH_DIR)/pmq-bench
BENCH_VENV    := $(BENCH_DIR)/venv
BENCH_PYTHON  ?= python3
BENCH_REPS    ?= 7
BENCH_CARGO_TARGET := $(or $(CARGO_TARGET_DIR),$(abspath target))

.PHONY: bench test-bench bench-bins bench-venv bench-lint

BENCH_OVH     := $(BENCH_DIR)/overhead_c

$(BENCH_C): bench/bench_c.c include/pmq.h $(LIB_A) | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_STRICT) -O2 -Iinclude $< -o $@ $(STATIC_LDFLAGS)

# Defines its own mq_send/mq_receive/...: they replace glibc's for libpmq.a too
# (static link), so pmq's own cost is measured without the kernel's.
$(BENCH_OVH): bench/overhead_c.c include/pmq.h $(LIB_A) | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_STRICT) -O2 -Iinclude $< -o $@ $(STATIC_LDFLAGS)

# Always asks cargo (it knows whether the library's sources changed).
$(BENCH_RS): FORCE | $(BUILD)
	@mkdir -p $(dir $@)
	CARGO_TARGET_DIR=$(BENCH_CARGO_TARGET) $(CARGO) build --release --quiet \
		--manifest-path bench/rust/Cargo.toml
	cp $(BENCH_CARGO_TARGET)/release/pmq-bench $@

bench-bins: $(BENCH_C) $(BENCH_OVH) $(BENCH_RS)

bench-venv:
	@if [ ! -x $(BENCH_VENV)/bin/python ] || ! $(BENCH_VENV)/bin/python -c 'import posix_ipc' 2>/dev/null; then \
		echo "bench: installing posix_ipc into $(BENCH_VENV)"; \
		$(BENCH_PYTHON) -m venv $(BENCH_VENV) && \
		$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check posix_ipc \
		|| echo "bench: note: could not install posix_ipc; its rows will be skipped"; \
	fi

bench: bench-bins bench-venv
	@$(BENCH_PYTHON) bench/driver.py --bin-dir $(BENCH_DIR) -r $(BENCH_REPS) \
		$$( $(BENCH_VENV)/bin/python -c 'import posix_ipc' 2>/dev/null && echo --python $(BENCH_VENV)/bin/python )

# The Rust bench is not a member of the root workspace, so `make lint` does
# not see it: lint it here.
bench-lint:
	CARGO_TARGET_DIR=$(BENCH_CARGO_TARGET) $(CARGO) fmt --manifest-path bench/rust/Cargo.toml -- --check
	CARGO_TARGET_DIR=$(BENCH_CARGO_TARGET) $(CARGO) clippy --quiet --release \
		--manifest-path bench/rust/Cargo.toml --all-targets -- -D warnings

# Smoke run: tiny iteration counts, one repetition; the driver checks that
# every benchmark produced its samples (not their values) and prints a summary.
test-bench: bench-bins bench-lint
	@$(BENCH_PYTHON) bench/driver.py --bin-dir $(BENCH_DIR) -q -r 1 --check \
		$$( [ -x $(BENCH_VENV)/bin/python ] && $(BENCH_VENV)/bin/python -c 'import posix_ipc' 2>/dev/null && echo --python $(BENCH_VENV)/bin/python )

test: test-bench
