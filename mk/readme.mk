# README.md's snippets, run as written (tests/readme/snippets.py): the C
# program with the README's build command, the shared-memory C fragment, the
# Python program under pmq and under posix_ipc, the Go program. (The C++ and
# CMake blocks: tests/cpp/docs_build.sh; the CLI session: cli/tests/transcript.rs;
# the Rust program: a doctest of the pmq crate, in test-rust.)
#
#   make test-readme

.PHONY: test-readme

test-readme: lib pc-uninstalled python-venv
	$(GO_ENV) CC='$(CC)' $(PYTHON) tests/readme/snippets.py $(CURDIR) $(PY_VENV_BIN)/python $(GO)

test: test-readme
