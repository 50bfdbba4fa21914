#!/bin/sh
# Runs the C examples end to end: a producer and a consumer process over one
# queue, the two notification examples, the epoll selector, and leases.
set -e
bin=${1:-build/examples}
# make test's per-run prefix of test queue names (its leak check finds them).
prefix=${PMQ_TEST_PREFIX:-pmq}
name="/$prefix-example-$$"
echo "== producer and consumer (two processes, priorities, timeouts)"
"$bin/consumer" "$name" &
consumer=$!
"$bin/producer" "$name"
wait $consumer
echo "== notification by signal"
"$bin/notify_signal" "/$prefix-example-signal-$$"
echo "== notification by callback thread"
"$bin/notify_callback" "/$prefix-example-callback-$$"
echo "== epoll on two queues and a timer"
"$bin/selector"
echo "== at-least-once receive: leases, a killed worker, dead letters"
"$bin/lease" "/$prefix-example-lease-$$"
echo "example: all C examples finished"
