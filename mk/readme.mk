# Every code block of README.md and of the book (docs/src/*.md and what it
# {{#include}}s), run as written by tests/readme/snippets.py: C and C++
# programs compiled with the strict flags and run, C fragments inside the
# checker's named wrappers, Python under pmq (and under posix_ipc where the
# block says so), Go programs in a scratch module, shell blocks in the
# chapter's scratch directory, outputs compared with the ```text,output block
# after them, and every block that is not run here carrying a reason the
# checker verifies (install, network, long, placeholder, tested-by:FILE).
# Relative links must resolve. The Rust blocks are doctests of the pmq crate
# (src/lib.rs includes README.md and docs/src/rust.md; the checker makes sure
# every file with a Rust block is included), the command-line sessions are
# replayed by cli/tests/transcript.rs, the C++ chapter's CMake build by
# tests/cpp/docs_build.sh.
#
#   make test-readme

.PHONY: test-readme

test-readme: lib pc-uninstalled python-venv
	$(GO_ENV) CC='$(CC)' CXX='$(CXX)' $(PYTHON) tests/readme/snippets.py $(CURDIR) $(PY_VENV_BIN)/python $(GO)

# `make test` runs it as part of docs-check, in the pickup check's clean copy
# of the committed tree (tests/pickup/check.sh).
