# The `pmq` command-line tool (cli/, package pmq-cli): its unit tests and the
# integration tests that run the real binary for every subcommand, the
# send --lines | recv --follow pipeline stopped by signals, and the replay of
# the sessions shown in README.md and docs/src/cli.md, and `pmq bridge`
# against a real nats-server -js (cli/tests/bridge.rs; mk/bridge.mk).

.PHONY: test-cli
test-cli:
	$(CARGO) test -p pmq-cli -- --skip bridge_
	# pmq bridge against a real nats-server: the figures (messages, kills, lost,
	# duplicated, time) are printed.
	$(CARGO) test -p pmq-cli --test bridge -- --nocapture

test: test-cli
