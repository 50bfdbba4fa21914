"""pmq vs posix_ipc, the three benchmarks of the benchmark issue.

    python bench/bench.py [--n N] [--repeat R]

Needs both packages in the running interpreter (pip install posix_ipc).
Prints the best of R runs per case and the ratio posix_ipc time / pmq time
(> 1 means pmq is faster). No assertions: numbers only. The one-process
cases count CPU time (time.process_time), which a busy machine disturbs
less than wall time; the two-process case counts wall time.
"""

import argparse
import os
import subprocess
import sys
import time

import pmq
import posix_ipc

MODULES = {"pmq": pmq, "posix_ipc": posix_ipc}


def name(tag):
    return "/pmq-py-bench-%s-%d" % (tag, os.getpid())


def pairs(mod, n, size, msg):
    q = mod.MessageQueue(name("pairs"), mod.O_CREX, max_messages=10, max_message_size=size)
    try:
        send, receive = q.send, q.receive
        t0 = time.process_time()
        for _ in range(n):
            send(msg)
            receive()
        return time.process_time() - t0
    finally:
        q.close()
        q.unlink()


def empty_try_once(mod, n, size):
    q = mod.MessageQueue(name("empty"), mod.O_CREX, max_messages=10, max_message_size=size)
    try:
        receive, busy = q.receive, mod.BusyError
        t0 = time.process_time()
        for _ in range(n):
            try:
                receive(0)
            except busy:
                pass
        return time.process_time() - t0
    finally:
        q.close()
        q.unlink()


PRODUCER = r"""
import sys, importlib
mod = importlib.import_module(sys.argv[1])
q = mod.MessageQueue(sys.argv[2])
n = int(sys.argv[3]); msg = b"x" * int(sys.argv[4])
send = q.send
sys.stdin.readline()
for _ in range(n):
    send(msg)
q.close()
"""


def throughput(mod, n, size, msg_len):
    qn = name("tp")
    q = mod.MessageQueue(qn, mod.O_CREX, max_messages=10, max_message_size=size)
    try:
        child = subprocess.Popen([sys.executable, "-c", PRODUCER, mod.__name__, qn, str(n),
                                  str(msg_len)], stdin=subprocess.PIPE, text=True)
        time.sleep(0.3)  # let the child import and open
        receive = q.receive
        t0 = time.perf_counter()
        child.stdin.write("go\n")
        child.stdin.flush()
        for _ in range(n):
            receive()
        elapsed = time.perf_counter() - t0
        child.wait()
        return elapsed
    finally:
        q.close()
        q.unlink()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    n = args.n
    cases = [
        ("send+receive pair, 16 B msg, max_message_size 128", lambda m: pairs(m, n, 128, b"x" * 16)),
        ("send+receive pair, 16 B msg, max_message_size 8192", lambda m: pairs(m, n, 8192, b"x" * 16)),
        ("send+receive pair, 4 KiB msg, max_message_size 8192",
         lambda m: pairs(m, n, 8192, b"x" * 4096)),
        ("try-once receive on empty queue (BusyError)", lambda m: empty_try_once(m, n, 128)),
        ("producer->consumer, 2 processes, 16 B msgs", lambda m: throughput(m, n, 128, 16)),
        ("producer->consumer, 2 processes, 4 KiB msgs", lambda m: throughput(m, n, 8192, 4096)),
    ]
    print("n = %d operations per run, best of %d; times in ns per operation" % (n, args.repeat))
    print("%-55s %10s %10s %8s" % ("case", "pmq", "posix_ipc", "ratio"))
    sys.stdout.flush()
    for label, fn in cases:
        best = {}
        for r in range(args.repeat):
            order = list(MODULES.items())
            if r % 2:
                order.reverse()  # neither module always runs first
            for mname, mod in order:
                t = fn(mod)
                best[mname] = min(best.get(mname, t), t)
        a, b = best["pmq"] / n * 1e9, best["posix_ipc"] / n * 1e9
        print("%-55s %10.0f %10.0f %8.2f" % (label, a, b, b / a))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
