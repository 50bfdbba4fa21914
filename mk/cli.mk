# The `pmq` command-line tool (cli/, package pmq-cli): its unit tests and the
# integration tests that run the real binary for every subcommand, the
# send --lines | recv --follow pipeline stopped by signals, the replay of
# the sessions shown in README.md and docs/src/cli.md, and how `pmq bridge`
# runs the separate pmq-bridge program (cli/tests/bridge_dispatch.rs; the
# bridge itself is tested in mk/bridge.mk).

.PHONY: test-cli
test-cli:
	$(CARGO) test -p pmq-cli

test: test-cli
