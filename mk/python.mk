# Python package (bindings/python, import name `pmq`): posix_ipc's
# MessageQueue API on libpmq.
#
#   make test-python    fresh virtualenv in $(BUILD)/python-venv,
#                       pip install ./bindings/python (which runs cargo and
#                       bundles libpmq), pytest, posix_ipc (for the interop
#                       test; skipped with the reason if it cannot be
#                       installed), then the tests and the examples.

PYTHON      ?= python3
PY_VENV     := $(BUILD)/python-venv
PY_VENV_BIN := $(abspath $(PY_VENV))/bin

.PHONY: test-python python-venv

python-venv: | $(BUILD)
	rm -rf $(PY_VENV)
	$(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV_BIN)/pip install --disable-pip-version-check -q ./bindings/python pytest
	$(PY_VENV_BIN)/pip install --disable-pip-version-check -q posix_ipc \
	    || echo "test-python: posix_ipc could not be installed; its interop test will be skipped"

test-python: python-venv
	cd bindings/python && $(PY_VENV_BIN)/python -m pytest -p no:cacheprovider tests

test: test-python
