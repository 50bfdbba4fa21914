# C tests (c_tests/*.c, each built against the static AND the shared
# library), the one C++17 header test, and the C examples.

# test_clock.c steps the machine's CLOCK_REALTIME (and puts it back): it is
# not part of `make test`, only built there; run it with `make test-clock`.
C_TEST_OPT_IN := c_tests/test_clock.c
C_TEST_SRCS := $(filter-out $(C_TEST_OPT_IN),$(wildcard c_tests/test_*.c))
C_TEST_NAMES := $(notdir $(basename $(C_TEST_SRCS)))
C_TEST_STATIC := $(addprefix $(BUILD)/c_tests/static/,$(C_TEST_NAMES))
C_TEST_SHARED := $(addprefix $(BUILD)/c_tests/shared/,$(C_TEST_NAMES))
C_TEST_HELPERS := $(wildcard c_tests/*.h)
# The C tests compare the header's version macros with Cargo.toml's version,
# and call raw mq_* functions (interop tests) next to pmq's.
C_TEST_CFLAGS := -DPMQ_CARGO_VERSION=\"$(VERSION)\"
C_TEST_LIBS := -lrt -lpthread

EXAMPLE_SRCS := $(wildcard examples/c/*.c)
EXAMPLE_BINS := $(addprefix $(BUILD)/examples/,$(notdir $(basename $(EXAMPLE_SRCS))))

.PHONY: examples example c-tests test-c test-c-cxx
examples: $(EXAMPLE_BINS)

$(BUILD)/examples/%: examples/c/%.c include/pmq.h $(LIB_SONAME_LINK) | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_STRICT) -Iinclude $< -o $@ $(SHARED_LDFLAGS)

$(BUILD)/c_tests/static/%: c_tests/%.c $(C_TEST_HELPERS) include/pmq.h $(LIB_A) | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_STRICT) $(C_TEST_CFLAGS) -Iinclude -Ic_tests $< -o $@ $(STATIC_LDFLAGS) $(C_TEST_LIBS)

$(BUILD)/c_tests/shared/%: c_tests/%.c $(C_TEST_HELPERS) include/pmq.h $(LIB_SONAME_LINK) | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_STRICT) $(C_TEST_CFLAGS) -Iinclude -Ic_tests $< -o $@ $(SHARED_LDFLAGS) $(C_TEST_LIBS)

$(BUILD)/c_tests/cxx_header: c_tests/cxx_header.cpp include/pmq.h $(LIB_SONAME_LINK) | $(BUILD)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_STRICT) -Iinclude $< -o $@ $(SHARED_LDFLAGS)

C_TEST_CLOCK := $(BUILD)/c_tests/shared/test_clock
c-tests: $(C_TEST_STATIC) $(C_TEST_SHARED) $(BUILD)/c_tests/cxx_header $(C_TEST_CLOCK)

# Opt-in: steps CLOCK_REALTIME by +/-1 h for up to 0.3 s (root only; restored,
# also on fatal signals) to show pmq's timeouts ignore the wall clock. Anything
# else on the machine reading the wall clock in that window sees the step.
.PHONY: test-clock
test-clock: $(C_TEST_CLOCK)
	@PMQ_TEST_BIN_DIR=$(abspath $(BUILD)) sh c_tests/run.sh $(C_TEST_CLOCK)

# The C API against a libpmq built with the `fault-injection` feature (kill
# points inside the shm backend's critical sections), in its own target dir
# so the shipped library never has them: receivers SIGKILLed between writing
# their receipt and committing the take, and after the commit.
C_FAULT_TARGET := $(or $(CARGO_TARGET_DIR),target)/fault-injection
C_FAULT_LIB_A := $(C_FAULT_TARGET)/$(PROFILE)/libpmq.a
C_FAULT_TESTS := $(BUILD)/c_tests/faults/test_receipt_faults
.PHONY: test-c-faults c-fault-lib
c-fault-lib:
	$(CARGO) build $(if $(filter release,$(PROFILE)),--release) -p pmq-ffi \
	    --features pmq/fault-injection --target-dir $(C_FAULT_TARGET)
	@$(call copy_lib,$(C_FAULT_TARGET)/$(PROFILE))

$(BUILD)/c_tests/faults/%: c_tests/faults/%.c $(C_TEST_HELPERS) include/pmq.h c-fault-lib | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_STRICT) $(C_TEST_CFLAGS) -Iinclude -Ic_tests $< -o $@ $(C_FAULT_LIB_A) $(STATIC_LIBS) $(C_TEST_LIBS)

test-c-faults: $(C_FAULT_TESTS)
	@PMQ_TEST_BIN_DIR=$(abspath $(BUILD)) sh c_tests/run.sh $(C_FAULT_TESTS)

test: test-c-faults

# The programs whose helpers (test_options, open_existing, ...) carry the
# whole test: they run a second time on the shared-memory backend
# (PMQ_TEST_BACKEND=shm; kernel-only parts print SKIPPED and are listed as
# "shm" lines in c_tests/expected-skips). The others test the kernel's own
# rules (interop with mq_open, sysctl limits, /dev/mqueue) or the C
# boundary's argument checks, which are the same for both backends.
C_TEST_ON_SHM := test_attributes test_basic test_batch test_close_unlink test_edge test_eintr \
	test_lifetime test_notify test_processes test_send_receive
C_TEST_SHM_RUN := $(addprefix $(BUILD)/c_tests/static/,$(C_TEST_ON_SHM))

# Runs every C test program twice (static, shared) and the C++ header test,
# then the backend-neutral programs again on the shm backend.
test-c: c-tests examples
	@PMQ_TEST_BIN_DIR=$(abspath $(BUILD)) sh c_tests/run.sh $(C_TEST_STATIC) $(C_TEST_SHARED) $(BUILD)/c_tests/cxx_header
	@PMQ_TEST_BACKEND=shm PMQ_TEST_BIN_DIR=$(abspath $(BUILD)) sh c_tests/run.sh $(C_TEST_SHM_RUN)
	@sh c_tests/soname.sh $(LIB_SO) $(SONAME) $(VERSION) $(C_TEST_SHARED) $(BUILD)/c_tests/cxx_header

# For `make check`: each program once (static build), then on shm.
.PHONY: test-c-quick
test-c-quick: $(C_TEST_STATIC) $(C_TEST_SHM_RUN)
	@PMQ_TEST_BIN_DIR=$(abspath $(BUILD)) sh c_tests/run.sh $(C_TEST_STATIC)
	@PMQ_TEST_BACKEND=shm PMQ_TEST_BIN_DIR=$(abspath $(BUILD)) sh c_tests/run.sh $(C_TEST_SHM_RUN)

example: examples
	sh examples/c/run_example.sh $(BUILD)/examples

test: test-c
