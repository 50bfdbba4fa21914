#!/bin/sh
# Runs the C examples end to end: a producer and a consumer process over one
# queue, the two notification examples, and the epoll selector.
set -e
bin=${1:-build/examples}
name="/pmq-example-$$"
echo "== producer and consumer (two processes, priorities, timeouts)"
"$bin/consumer" "$name" &
consumer=$!
"$bin/producer" "$name"
wait $consumer
echo "== notification by signal"
"$bin/notify_signal" "/pmq-example-signal-$$"
echo "== notification by callback thread"
"$bin/notify_callback" "/pmq-example-callback-$$"
echo "== epoll on two queues and a timer"
"$bin/selector"
echo "example: all C examples finished"
