# pmq: build, test, examples and install.
#
#   make example   build everything and run the C producer/consumer example
#   make test      the whole test suite (what CI runs)
#   make test-clock  opt-in: the test that steps the machine's wall clock
#
# Parts of the build live in mk/*.mk, one file per area.

CARGO    ?= cargo
CC       ?= cc
CXX      ?= c++
PROFILE  ?= release
BUILD    ?= build
TARGET   := $(or $(CARGO_TARGET_DIR),target)/$(PROFILE)
VERSION  := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
MAJOR    := $(word 1,$(subst ., ,$(VERSION)))
MINOR    := $(word 2,$(subst ., ,$(VERSION)))
SONAME   := $(if $(filter 0,$(MAJOR)),libpmq.so.0.$(MINOR),libpmq.so.$(MAJOR))

CARGO_PROFILE_FLAG := $(if $(filter release,$(PROFILE)),--release,)
CFLAGS_STRICT  := -std=c11 -Wall -Wextra -Werror -pedantic -D_GNU_SOURCE -g
CXXFLAGS_STRICT := -std=c++17 -Wall -Wextra -Werror -pedantic -g
# Native libraries a static link of the Rust staticlib needs
# (cargo rustc -- --print native-static-libs); guarded by a test.
STATIC_LIBS := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

LIB_A  := $(TARGET)/libpmq.a
LIB_SO := $(TARGET)/libpmq.so
# Shared-library links for the build tree: libpmq.so.<soname> next to libpmq.so.
LIB_SONAME_LINK := $(TARGET)/$(SONAME)
SHARED_LDFLAGS := -L$(TARGET) -Wl,-rpath,$(abspath $(TARGET)) -lpmq
STATIC_LDFLAGS := $(LIB_A) $(STATIC_LIBS)

.PHONY: all lib cli example test test-rust test-c lint clean

# The suites share the user's RLIMIT_MSGQUEUE allowance and `test` takes a
# snapshot of /dev/mqueue before them: they must run one after another, so
# `make -j N test` (or any -j) runs this Makefile's targets serially. The
# builds inside (cargo, go) are still parallel on their own.
.NOTPARALLEL:
# Everything a user runs: the libraries, the C and C++ examples, the pmq command.
all: lib examples cpp-examples cli

# `make example` builds all of it first, then runs the C examples (mk/c.mk).
example: all

# The pmq command and the pmq-bridge program it runs for `pmq bridge`.
cli:
	$(CARGO) build $(CARGO_PROFILE_FLAG) -p pmq-cli -p pmq-bridge

lib: $(LIB_SONAME_LINK)

# Cargo names them after the crate's lib (pmq_ffi); consumers link libpmq.
$(LIB_A) $(LIB_SO): FORCE
	$(CARGO) build $(CARGO_PROFILE_FLAG) -p pmq-ffi
	@$(call copy_lib,$(TARGET))

# $(call copy_lib,dir): makes dir/libpmq.{a,so} hard links to cargo's
# dir/libpmq_ffi.{a,so} (as cargo links its outputs from deps/): a new build
# is a new file, never rewritten under a running program, and an unchanged
# one is left alone (nothing relinks).
copy_lib = for x in a so; do [ $(1)/libpmq.$$x -ef $(1)/libpmq_ffi.$$x ] || \
	ln -f $(1)/libpmq_ffi.$$x $(1)/libpmq.$$x || exit 1; done

$(LIB_SONAME_LINK): $(LIB_SO)
	ln -sf libpmq.so $@

FORCE:

$(BUILD):
	mkdir -p $(BUILD)

# The per-run prefix of test queue names: every suite names its queues
# /$(PMQ_TEST_PREFIX)-... (one helper per language: tests/common/prefix.rs,
# tests/common/test_prefix.h, conftest.py's test_prefix, helpers_test.go's
# testPrefix), so the end of `make test` looks for leftovers of exactly this
# run's queues, never for another program's (or another run's) queues named
# like pmq's. Give PMQ_TEST_PREFIX=... to choose it.
ifndef PMQ_TEST_PREFIX
PMQ_TEST_PREFIX := pmqt-$(shell od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
endif
export PMQ_TEST_PREFIX

include mk/*.mk

test: lint test-rust test-c | $(BUILD)
	@{ ls /dev/mqueue 2>/dev/null | grep -E '^$(PMQ_TEST_PREFIX)-'; \
	   (cd /dev/shm 2>/dev/null && ls -a | grep -E '^pmq\.$(PMQ_TEST_PREFIX)-' | sed 's|^|shm:|'); } \
	    > $(BUILD)/queues-left || true
	@if [ -s $(BUILD)/queues-left ]; then \
	    echo "make test: queues left behind by the tests of this run (prefix $(PMQ_TEST_PREFIX); shm: = a file in /dev/shm):"; \
	    sed 's/^/  /' $(BUILD)/queues-left; \
	    exit 1; fi
	@echo "== make test: all suites passed, no queue of this run (prefix $(PMQ_TEST_PREFIX)) left behind"

# The check above, checked: it ignores another program's queue named like
# pmq's and catches a kernel or shm queue left under this run's prefix.
.PHONY: test-leak-check
test-leak-check: cli | $(BUILD)
	sh tests/leak_check.sh $(TARGET)/pmq

# The inner loop (under 3 minutes on a warm tree, offline): format, clippy
# with warnings as errors, the fast Rust suites (the backend contract on
# both backends, the kernel and shm suites, batch, the C boundary's own
# tests) and the C programs on both backends. `make test` stays the whole.
.PHONY: check
check:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --offline --workspace --all-targets -- -D warnings
	$(CARGO) test --offline -p pmq --lib --test contract --test core --test shm --test batch
	$(CARGO) test --offline -p pmq-ffi
	$(MAKE) --no-print-directory test-c-quick
	@echo "== make check: passed (make test runs every suite)"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p pmq --all-targets --features fault-injection -- -D warnings
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings
	# The fuzz target (its own workspace) must keep compiling against the API.
	$(CARGO) check --quiet --manifest-path fuzz/Cargo.toml --bins

test-rust:
	# The pmq-bridge tests (bridge/tests/bridge, ~60 s) run once, in
	# test-bridge, where their figures are printed.
	$(CARGO) test --workspace -- --skip bridge_
	# The shared-memory backend killed at each of its kill points, the
	# model test with kill steps, and leasing consumers killed anywhere (a
	# test-only feature).
	$(CARGO) test -p pmq --features fault-injection --test shm_faults --test shm_model_kills --test shm_lease_chaos
	# pmq::tokio::AsyncQueue (feature tokio; the default build has no tokio),
	# its doc example, and the example program on both backends.
	$(CARGO) test -p pmq --features tokio --test tokio
	$(CARGO) test -p pmq --features tokio --doc
	$(CARGO) run -q -p pmq --features tokio --example tokio_queue -- kernel /$(PMQ_TEST_PREFIX)-tokio-example-kernel
	$(CARGO) run -q -p pmq --features tokio --example tokio_queue -- shm /$(PMQ_TEST_PREFIX)-tokio-example-shm

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
