# pmq-bridge (bridge/, package pmq-bridge; `pmq bridge` runs it): a local
# queue to and from NATS JetStream. Its tests (bridge/tests/bridge/) start
# their own nats-server -js on 127.0.0.1 and run in `make test-bridge` (CI
# sizes, about 60 s); some run it as `pmq bridge`, so pmq is built first.
#
#   make test-bridge    the unit tests and the CI sizes, figures printed
#   make long-bridge    1,000,000 messages end to end; 1,000,000 on shm and 150,000
#                       on a depth-10 kernel queue while up to 100 / 40 SIGKILLs hit
#                       the bridges and the server (the kills stop when the messages
#                       are through); 1,000,000 on shm through 100 kills of bridge
#                       out alone (leases: 0 lost, 0 stored twice); prints lost /
#                       duplicated / kills / time
#   make bench-bridge   bridged throughput and added latency (p50/p99) next to
#                       the plain local queue, same run (docs/src/bridge.md)

.PHONY: test-bridge long-bridge bench-bridge

test-bridge:
	# `pmq bridge` finds pmq-bridge next to itself: both in one target dir.
	$(CARGO) build -p pmq-cli -p pmq-bridge
	$(CARGO) test -p pmq-bridge -- --nocapture

test: test-bridge

# (The sizes go on the test command: on the build line they set nothing.)
long-bridge:
	$(CARGO) build --release -p pmq-cli -p pmq-bridge
	PMQ_BRIDGE_MESSAGES=1000000 PMQ_BRIDGE_KERNEL_MESSAGES=100000 \
	PMQ_BRIDGE_FAULT_MESSAGES=1000000 PMQ_BRIDGE_KILLS=100 \
	PMQ_BRIDGE_KERNEL_FAULT_MESSAGES=150000 PMQ_BRIDGE_KERNEL_KILLS=40 \
	PMQ_BRIDGE_LEASE_MESSAGES=1000000 PMQ_BRIDGE_LEASE_KILLS=100 \
	$(CARGO) test --release -p pmq-bridge --test bridge -- --nocapture

bench-bridge:
	$(CARGO) test --release -p pmq-bridge --test bridge -- --ignored --nocapture bridge_benchmark
