# Documentation: the book (docs/, mdBook), the API references, and the checks
# that keep them true.
#
#   make docs        build the book into $(BUILD)/book (mdbook from crates.io,
#                    installed once into $(BUILD)/tools), the C/C++ reference
#                    (Doxygen, $(BUILD)/doxygen) and the Rust one (cargo doc)
#   make docs-check  part of `make test`: README.md <= 10 KB, licence files
#                    present and every package's metadata saying the same
#                    licence, every README and book code block run
#                    (test-readme), cargo doc with warnings as errors, Doxygen
#                    with warnings as errors, and the book builds

MDBOOK_VERSION := 0.5.4
TOOLS          ?= $(BUILD)/tools
# A matching mdbook already installed elsewhere may be named: make docs MDBOOK=...
MDBOOK         ?= $(TOOLS)/bin/mdbook
DOXYGEN        ?= doxygen
README_MAX     := 10240

.PHONY: docs docs-book docs-check docs-readme-size docs-licences docs-rustdoc docs-doxygen

docs: docs-book docs-doxygen docs-rustdoc
	@echo "docs: book in $(BUILD)/book/index.html, C/C++ reference in $(BUILD)/doxygen/html/index.html, Rust in $(TARGET:/$(PROFILE)=)/doc/pmq/index.html"

# mdbook without its `serve` / `watch` parts (no web server, far less to
# compile); the version is pinned and checked, so a stale one is rebuilt.
$(MDBOOK):
	$(CARGO) install mdbook --locked --version $(MDBOOK_VERSION) --no-default-features \
	    --features search --root $(abspath $(TOOLS))

docs-book: $(MDBOOK) | $(BUILD)
	@$(MDBOOK) --version | grep -qF ' v$(MDBOOK_VERSION)' || { \
	    echo "docs: $(MDBOOK) is not mdbook $(MDBOOK_VERSION); remove it and run make docs again"; exit 1; }
	@$(MDBOOK) build docs > $(BUILD)/mdbook.log 2>&1; st=$$?; cat $(BUILD)/mdbook.log; \
	if [ $$st -ne 0 ]; then echo "docs: mdbook build failed (exit $$st)"; exit 1; fi; \
	if grep -E '(WARN|ERROR)' $(BUILD)/mdbook.log >/dev/null; then echo "docs: mdbook warned (above)"; exit 1; fi

docs-readme-size:
	@size=$$(wc -c < README.md); \
	if [ $$size -gt $(README_MAX) ]; then \
	    echo "docs: README.md is $$size bytes, more than $(README_MAX): move detail into the book (docs/src)"; exit 1; fi; \
	echo "docs: README.md is $$size bytes (at most $(README_MAX))"

docs-licences:
	@sh tests/readme/licences.sh

docs-rustdoc:
	RUSTDOCFLAGS=-Dwarnings $(CARGO) doc --workspace --no-deps --all-features

docs-doxygen: | $(BUILD)
	@command -v $(DOXYGEN) >/dev/null || { echo "docs: doxygen is missing (apt-get install doxygen)"; exit 1; }
	$(DOXYGEN) Doxyfile
	@echo "docs: Doxygen for pmq.h and pmq.hpp, no warnings"

docs-check: docs-readme-size docs-licences test-readme docs-rustdoc docs-doxygen docs-book
	@echo "== docs-check: README size, licences, every snippet, cargo doc, Doxygen, the book: ok"

# `make test` runs docs-check once, in the pickup check's clean copy of the
# committed tree (tests/pickup/check.sh), not a second time here.
