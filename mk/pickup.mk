# make pickup-check: pmq as a new user picks it up, from a clean copy of the
# committed tree (tests/pickup/check.sh; issue 31): licence files and package
# metadata, cargo package --list, the relocated install with the CLI, man
# page and completions, `go get` at a release tag, and docs-check /
# wheel-check where the tree has them. Commit first: the copy is a git clone.
#
#   make pickup-check     about 3-5 minutes (pmq's own crates recompile in
#                         the copy; dependencies come from target/)

.PHONY: pickup-check

pickup-check:
	@MAKE='$(MAKE)' CARGO_TARGET_DIR='$(abspath $(or $(CARGO_TARGET_DIR),target))' sh tests/pickup/check.sh

test: pickup-check
