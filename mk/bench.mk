# Benchmarks: pmq against the raw kernel calls and the reference.
#
#   make bench        the full run (about 2.5 minutes once built, every binding and the
#                     shm rows against Boost): prints ONE table (docs/src/performance.md,
#                     "Performance", has the last one and what it means); the shm rows
#                     carry issue 29's floors as their targets
#   make bench-bridge `pmq bridge` over NATS JetStream next to the plain local
#                     queue (mk/bridge.mk; needs nats-server)
#   make test-bench   a tiny smoke run inside `make test`: proves the benchmark
#                     (and the binding hooks) still build and run; no timing
#                     is asserted
#
# bench_c links the release static library with -O2; the Rust bench is its own
# small cargo package (bench/rust) sharing the target directory. The Go row is
# bindings/go/pmq/bench (built here, statically linked like bench_c). The Python
# rows run in the benchmark's own virtualenv, which gets the reference package
# (posix_ipc) and pmq's Python package (pip install ./bindings/python,
# reinstalled when the library or the package changed). Whatever cannot be
# built or installed (no Go, no network) is reported by the driver as not
# run; `make bench` still prints the rest and exits 0.

BENCH_DIR     := $(BUILD)/bench
BENCH_C       := $(BENCH_DIR)/bench_c
BENCH_RS      := $(BENCH_DIR)/pmq-bench
BENCH_VENV    := $(BENCH_DIR)/venv
BENCH_PYTHON  ?= python3
BENCH_REPS    ?= 7
BENCH_CARGO_TARGET := $(or $(CARGO_TARGET_DIR),$(abspath target))

.PHONY: bench test-bench bench-bins bench-venv bench-lint bench-go bench-shm

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

# The Go row's program (bindings/go/pmq/bench, run through bindings/go/pmq/bench/run.sh).
# Removed first, so a failed build leaves no stale binary behind; without Go
# the driver reports the row as not run (and test-bench fails only if `go`
# exists but the program does not build or run).
BENCH_GO := $(BENCH_DIR)/go-bench
bench-go: $(LIB_A) | $(BUILD)
	@mkdir -p $(BENCH_DIR)
	@rm -f $(BENCH_GO)
	@if command -v $(GO) >/dev/null 2>&1; then \
		cd $(GO_DIR) && $(GO_STATIC_ENV) $(GO) build -tags pmq_static -o $(abspath $(BENCH_GO)) ./bench \
		|| echo "bench: note: could not build the Go bench; its row will be reported as not run"; \
	else echo "bench: note: $(GO) not found; the Go row will be reported as not run"; fi

# The shared-memory rows (bench/bench_shm.cpp, run through bench/shm_run.sh)
# need Boost.Interprocess (header-only; Debian's libboost-dev). Without it the
# driver reports the rows as not run, and test-bench does not ask for them.
BENCH_SHM := $(BENCH_DIR)/bench-shm
BOOST_MQ_HEADER := /usr/include/boost/interprocess/ipc/message_queue.hpp
bench-shm: $(LIB_A) | $(BUILD)
	@mkdir -p $(BENCH_DIR)
	@rm -f $(BENCH_SHM)
	@if [ -f $(BOOST_MQ_HEADER) ]; then \
		$(CXX) $(CXXFLAGS_STRICT) -O2 -Iinclude bench/bench_shm.cpp -o $(BENCH_SHM) $(STATIC_LDFLAGS); \
	else echo "bench: note: Boost.Interprocess not installed (libboost-dev); the shm rows will be reported as not run"; fi

bench-bins: $(BENCH_C) $(BENCH_OVH) $(BENCH_RS) bench-go bench-shm

# The virtualenv: posix_ipc once; pmq's Python package again whenever the
# library or the package's sources are newer than the last install.
BENCH_PY_STAMP := $(BENCH_VENV)/.pmq-installed
BENCH_PY_SRC := $(wildcard bindings/python/src/pmq/*.py bindings/python/src/pmq/*.c) \
	bindings/python/setup.py bindings/python/pyproject.toml

$(BENCH_VENV)/bin/python: | $(BUILD)
	$(BENCH_PYTHON) -m venv $(BENCH_VENV) \
	|| echo "bench: note: could not create $(BENCH_VENV); the Python rows will be reported as not run"

$(BENCH_PY_STAMP): $(LIB_SO) $(BENCH_PY_SRC) | $(BENCH_VENV)/bin/python
	@$(BENCH_VENV)/bin/python -c 'import posix_ipc' 2>/dev/null || { \
		echo "bench: installing posix_ipc into $(BENCH_VENV)"; \
		$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check posix_ipc \
		|| echo "bench: note: could not install posix_ipc; its rows will be skipped"; }
	@echo "bench: installing pmq's Python package (./bindings/python) into $(BENCH_VENV)"
	@rm -f $@
	@$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps \
		--force-reinstall ./bindings/python > $(BENCH_DIR)/pip-pmq.log 2>&1 \
	&& touch $@ \
	|| { tail -n 5 $(BENCH_DIR)/pip-pmq.log; \
	     echo "bench: note: could not install pmq's Python package; its rows will be reported as not run"; }

bench-venv: $(BENCH_PY_STAMP)

# --python only when the venv has posix_ipc (the driver checks for pmq itself).
BENCH_PY_ARG = $$( $(BENCH_VENV)/bin/python -c 'import posix_ipc' 2>/dev/null \
	&& echo --python $(BENCH_VENV)/bin/python )

bench: bench-bins bench-venv
	@$(BENCH_PYTHON) bench/driver.py --bin-dir $(BENCH_DIR) -r $(BENCH_REPS) $(BENCH_PY_ARG)

# The Rust bench is not a member of the root workspace, so `make lint` does
# not see it: lint it here.
bench-lint:
	CARGO_TARGET_DIR=$(BENCH_CARGO_TARGET) $(CARGO) fmt --manifest-path bench/rust/Cargo.toml -- --check
	CARGO_TARGET_DIR=$(BENCH_CARGO_TARGET) $(CARGO) clippy --quiet --release \
		--manifest-path bench/rust/Cargo.toml --all-targets -- -D warnings

# Smoke run: tiny iteration counts, one repetition; the driver checks that
# every benchmark produced its samples (not their values) and prints a summary.
test-bench: bench-bins bench-venv bench-lint
	@$(BENCH_PYTHON) bench/driver.py --bin-dir $(BENCH_DIR) -q -r 1 --check $(BENCH_PY_ARG)

test: test-bench
