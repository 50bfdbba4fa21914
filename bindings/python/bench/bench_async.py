"""Async receive throughput against the blocking API on the same queue:
a producer process sends N messages (blocking sends) while this process
receives them with receive() in a plain loop, or with await receive_async()
in an asyncio task; messages/s (wall clock), best of R runs each,
interleaved. Both backends.

    python bench/bench_async.py [--n N] [--repeat R]

Numbers only, no assertions.
"""

import argparse
import asyncio
import os
import subprocess
import sys
import time

import pmq

PRODUCER = r"""
import sys, pmq
q = pmq.MessageQueue(sys.argv[1], backend=sys.argv[2])
msg = b"x" * 16
for _ in range(int(sys.argv[3])):
    q.send(msg)
"""


def run(kind, backend, n):
    name = "/pmq-bench-async-%d" % os.getpid()
    q = pmq.MessageQueue(name, pmq.O_CREX, max_messages=10, max_message_size=64, backend=backend)
    try:
        p = subprocess.Popen([sys.executable, "-c", PRODUCER, name, backend, str(n)])
        t0 = time.perf_counter()
        if kind == "blocking":
            receive = q.receive
            for _ in range(n):
                receive()
        else:
            async def consume():
                receive = q.receive_async
                for _ in range(n):
                    await receive()
            asyncio.run(consume())
        dt = time.perf_counter() - t0
        p.wait()
        return n / dt
    finally:
        q.close()
        pmq.unlink_message_queue(name, backend=backend)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    print("| backend | receive() msg/s | await receive_async() msg/s | async / blocking |")
    print("| --- | ---: | ---: | ---: |")
    for backend in ("kernel", "shm"):
        best = {"blocking": 0.0, "async": 0.0}
        for r in range(a.repeat):
            for kind in (("blocking", "async") if r % 2 == 0 else ("async", "blocking")):
                best[kind] = max(best[kind], run(kind, backend, a.n))
        print("| %s | %.0f | %.0f | %.2f |" % (backend, best["blocking"], best["async"],
                                             best["async"] / best["blocking"]))


if __name__ == "__main__":
    main()
