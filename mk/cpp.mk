# The C++17 wrapper include/pmq.hpp: its GoogleTest suite (tests/cpp/*.cpp,
# one binary) and the C++ examples (examples/cpp/*.cpp, one program each),
# all built with $(CXXFLAGS_STRICT) against the build tree's shared library.
#
#   make test-cpp    build and run the gtest binary (plain, then under
#                    AddressSanitizer + UBSan: the callback lifetime tests only
#                    prove "no use-after-free" there), then every example

CPP_TEST_SRCS := $(wildcard tests/cpp/*.cpp)
CPP_TEST_OBJS := $(addprefix $(BUILD)/cpp/obj/,$(notdir $(CPP_TEST_SRCS:.cpp=.o)))
CPP_TEST_BIN := $(BUILD)/cpp/pmq_cpp_tests
CPP_TEST_ASAN_BIN := $(BUILD)/cpp/pmq_cpp_tests_asan
CPP_SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CPP_EXAMPLE_SRCS := $(wildcard examples/cpp/*.cpp)
CPP_EXAMPLE_BINS := $(addprefix $(BUILD)/cpp/examples/,$(notdir $(basename $(CPP_EXAMPLE_SRCS))))
CPP_HEADERS := include/pmq.h include/pmq.hpp
# Extra warnings a user's project may enable; the header must stay clean under them.
CPP_PICKY_FLAGS := -Wconversion -Wsign-conversion -Wshadow -Wold-style-cast -Wnon-virtual-dtor \
                   -Wcast-qual -Wundef -Wzero-as-null-pointer-constant

.PHONY: test-cpp cpp-tests cpp-examples cpp-header-check cpp-docs
cpp-tests: $(CPP_TEST_BIN)
cpp-examples: $(CPP_EXAMPLE_BINS)

$(BUILD)/cpp/obj/%.o: tests/cpp/%.cpp tests/cpp/test_util.hpp $(CPP_HEADERS) | $(BUILD)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_STRICT) -Iinclude -Itests/cpp -c $< -o $@

# The library is an order-only prerequisite: these link the shared library,
# whose ABI does not change with a rebuild, so a rebuilt libpmq.so needs no relink.
$(CPP_TEST_BIN): $(CPP_TEST_OBJS) | $(LIB_SONAME_LINK)
	$(CXX) $(CPP_TEST_OBJS) -o $@ $(SHARED_LDFLAGS) -lgtest -lgtest_main -pthread

$(CPP_TEST_ASAN_BIN): $(CPP_TEST_SRCS) tests/cpp/test_util.hpp $(CPP_HEADERS) | $(BUILD) $(LIB_SONAME_LINK)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_STRICT) $(CPP_SANITIZE) -Iinclude -Itests/cpp $(CPP_TEST_SRCS) -o $@ \
	    $(SHARED_LDFLAGS) -lgtest -lgtest_main -pthread

$(BUILD)/cpp/examples/%: examples/cpp/%.cpp $(CPP_HEADERS) | $(BUILD) $(LIB_SONAME_LINK)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_STRICT) -Iinclude $< -o $@ $(SHARED_LDFLAGS) -pthread

# pmq.hpp alone, as the first include, under stricter warnings than ours.
cpp-header-check: | $(BUILD)
	@mkdir -p $(BUILD)/cpp
	printf '#include "pmq.hpp"\nint main() { return pmq::version_number() == pmq::header_version_number ? 0 : 1; }\n' \
	    > $(BUILD)/cpp/header_check.cpp
	$(CXX) $(CXXFLAGS_STRICT) $(CPP_PICKY_FLAGS) -Iinclude -fsyntax-only $(BUILD)/cpp/header_check.cpp

# The book's C++ program (docs/src/cpp.md), built with pkg-config and with CMake against
# a temporary install (the failure output says which step broke).
cpp-docs: lib
	@MAKE='$(MAKE)' CXX='$(CXX)' CXXFLAGS_STRICT='$(CXXFLAGS_STRICT)' \
	    sh tests/cpp/docs_build.sh '$(abspath $(BUILD))/cpp/docs' '$(abspath $(BUILD))/cpp/docs-prefix'

test-cpp: cpp-header-check $(CPP_TEST_BIN) $(CPP_TEST_ASAN_BIN) $(CPP_EXAMPLE_BINS)
	$(CPP_TEST_BIN) --gtest_brief=1
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 $(CPP_TEST_ASAN_BIN) --gtest_brief=1
	@sh examples/cpp/run_examples.sh $(CPP_EXAMPLE_BINS)
	@$(MAKE) --no-print-directory cpp-docs

test: test-cpp
