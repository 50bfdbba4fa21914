# make pickup-check: pmq as a new user picks it up, from a clean copy of the
# committed tree (tests/pickup/check.sh; issue 31): licence files and package
# metadata, cargo package --list, the relocated install with the CLI, man
# page and completions, `go get` at a release tag, and docs-check /
# wheel-check where the tree has them. Commit first: the copy is a git clone.
#
#   make pickup-check     about 3-5 minutes once its target directory
#                         ($(BUILD)/pickup-target, kept between runs) has
#                         the dependencies; the first run builds them too
#   PICKUP_TARGET_DIR=... where the copy is built (never the checkout's own
#                         target/: see tests/pickup/check.sh)

.PHONY: pickup-check

pickup-check:
	@MAKE='$(MAKE)' PICKUP_TARGET_DIR='$(abspath $(or $(PICKUP_TARGET_DIR),$(BUILD)/pickup-target))' \
	    sh tests/pickup/check.sh

test: pickup-check
