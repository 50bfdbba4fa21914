# Python package (bindings/python, import name `pmq`): posix_ipc's
# MessageQueue API on libpmq.
#
#   make test-python    fresh virtualenv in $(BUILD)/python-venv,
#                       pip install ./bindings/python (which runs cargo and
#                       bundles libpmq), pytest, posix_ipc 1.3.2 and its
#                       source (interop, differential and posix_ipc's own
#                       message-queue suite), then the tests and examples.

PYTHON      ?= python3
PY_VENV     := $(BUILD)/python-venv
PY_VENV_BIN := $(abspath $(PY_VENV))/bin
# The reference: installed for the interop and differential tests, and its
# source (from PyPI) for its own message-queue test suite.
POSIX_IPC_VERSION := 1.3.2
POSIX_IPC_SRC     := $(BUILD)/posix_ipc-src

.PHONY: test-python python-venv

python-venv: | $(BUILD)
	rm -rf $(PY_VENV)
	$(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV_BIN)/pip install --disable-pip-version-check -q ./bindings/python pytest
	$(PY_VENV_BIN)/pip install --disable-pip-version-check -q posix_ipc==$(POSIX_IPC_VERSION)
	rm -rf $(POSIX_IPC_SRC) && mkdir -p $(POSIX_IPC_SRC)
	$(PY_VENV_BIN)/pip download --disable-pip-version-check -q --no-binary :all: --no-deps \
	    -d $(POSIX_IPC_SRC) posix_ipc==$(POSIX_IPC_VERSION)
	tar -xzf $(POSIX_IPC_SRC)/posix_ipc-$(POSIX_IPC_VERSION).tar.gz -C $(POSIX_IPC_SRC) --strip-components=1

test-python: python-venv
	cd bindings/python && PMQ_POSIX_IPC_SRC=$(abspath $(POSIX_IPC_SRC)) \
	    $(PY_VENV_BIN)/python -m pytest -p no:cacheprovider tests

test: test-python
