# Reliability and security suite; see TESTING.md for what each
# part shows and the figures of its last run.
#
#   make test-reliability  load, faults, signals, exhaustion, security (CI sizes)
#   make test-sanitize     every c_tests/test_*.c under ASan + UBSan (static lib)
#   make test-valgrind     every c_tests/test_*.c (shared builds) under memcheck
#   make long-reliability  the long runs (>= 1,000,000 messages), not in `make test`
#   make long-bridge       the long `pmq bridge` runs (mk/bridge.mk): 1,000,000 messages
#                          end to end, 200,000 under 100 SIGKILLs of the bridges and server

REL_SRCS := $(wildcard tests/reliability/*.c)
REL_BINS := $(addprefix $(BUILD)/reliability/,$(notdir $(basename $(REL_SRCS))))
REL_RUN  := sh tests/reliability/run.sh

SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
C_TEST_SAN := $(addprefix $(BUILD)/c_tests/sanitize/,$(C_TEST_NAMES))
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1 \
           UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full \
            --suppressions=tests/reliability/valgrind.supp \
            --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect

.PHONY: test-reliability test-sanitize test-valgrind long-reliability reliability-bins

$(BUILD)/reliability/%: tests/reliability/%.c tests/reliability/rel.h include/pmq.h $(LIB_SONAME_LINK) | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_STRICT) -Iinclude $< -o $@ $(SHARED_LDFLAGS) -lrt

$(BUILD)/c_tests/sanitize/%: c_tests/%.c $(C_TEST_HELPERS) include/pmq.h $(LIB_A) | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_STRICT) $(C_TEST_CFLAGS) $(SAN_FLAGS) -Iinclude -Ic_tests $< -o $@ $(STATIC_LDFLAGS) $(C_TEST_LIBS)

reliability-bins: $(REL_BINS)

# CI sizes: about 20 s on 2 cores.
test-reliability: reliability-bins
	@$(REL_RUN) reliability \
	  "$(BUILD)/reliability/load producers=4 consumers=4 messages=100000" \
	  "$(BUILD)/reliability/load producers=8 consumers=4 messages=40000" \
	  "$(BUILD)/reliability/faults rounds=20 messages=3000" \
	  "$(BUILD)/reliability/signals messages=3000 timeouts=4" \
	  "$(BUILD)/reliability/exhaust" \
	  "$(BUILD)/reliability/security"

test-sanitize: $(C_TEST_SAN)
	@PMQ_TEST_BIN_DIR=$(abspath $(BUILD)) $(SAN_ENV) $(REL_RUN) sanitize $(C_TEST_SAN)

test-valgrind: $(C_TEST_SHARED)
	@PMQ_TEST_BIN_DIR=$(abspath $(BUILD)) $(REL_RUN) valgrind $(foreach t,$(C_TEST_SHARED),"$(VALGRIND) $(t)")

# ThreadSanitizer over the in-process multi-thread tests (the shm backend,
# the core, notifications). Opt-in: it needs a nightly toolchain with
# rust-src (rustup toolchain add nightly; rustup component add rust-src
# --toolchain nightly) and rebuilds std instrumented (~5 min the first time).
TSAN_CARGO = RUSTFLAGS="-Zsanitizer=thread" TSAN_OPTIONS="halt_on_error=1" \
	$(CARGO) +nightly test -Zbuild-std --target x86_64-unknown-linux-gnu --target-dir target/tsan
.PHONY: test-tsan
test-tsan:
	$(TSAN_CARGO) -p pmq --test shm --test core --test notify --test notify_registry --lib

long-reliability: reliability-bins
	@$(REL_RUN) long-reliability \
	  "$(BUILD)/reliability/load producers=4 consumers=4 messages=1000000 timeout=900" \
	  "$(BUILD)/reliability/load producers=8 consumers=8 messages=2000000 timeout=1800" \
	  "$(BUILD)/reliability/faults rounds=500 messages=5000" \
	  "$(BUILD)/reliability/signals messages=100000 timeouts=16" \
	  "$(BUILD)/reliability/exhaust" \
	  "$(BUILD)/reliability/security"
	# The shared-memory backend: 4 producers x 4 consumers, 10,000 random
	# SIGKILLs (about 7 minutes, well over 1,000,000 messages).
	PMQ_CHAOS_KILLS=10000 $(CARGO) test --release -p pmq --test shm_chaos -- --nocapture

test: test-reliability test-sanitize test-valgrind
