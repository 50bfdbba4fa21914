#!/bin/sh
# Runs the C producer and consumer as two processes over one queue.
set -e
bin=${1:-build/examples}
name="/pmq-example-$$"
"$bin/consumer" "$name" &
consumer=$!
"$bin/producer" "$name"
wait $consumer
echo "example: producer and consumer finished over $name"
