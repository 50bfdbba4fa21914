"""Two processes on one queue: a producer and a consumer."""

import multiprocessing
import subprocess
import sys

import pmq
from conftest import SMALL

PRODUCER = r"""
import sys, pmq
q = pmq.MessageQueue(sys.argv[1], write=True, read=False)
for i in range(200):
    q.send(b"item %d" % i, priority=i % 3)
q.send(b"STOP", priority=0)
q.close()
"""


def test_subprocess_producer_and_consumer(qname):
    q = pmq.MessageQueue(qname, pmq.O_CREX, **SMALL)
    try:
        child = subprocess.Popen([sys.executable, "-c", PRODUCER, qname])
        got = []
        while True:
            msg, prio = q.receive(timeout=60)
            if msg == b"STOP":
                break
            got.append((msg, prio))
        assert child.wait(60) == 0
    finally:
        q.close()
    assert sorted(int(m.split()[1]) for m, _ in got) == list(range(200))
    assert all(p == int(m.split()[1]) % 3 for m, p in got)
    # Within one priority, FIFO: items of each priority arrive in order.
    for prio in range(3):
        items = [int(m.split()[1]) for m, p in got if p == prio]
        assert items == sorted(items)


def consumer(name, out):
    q = pmq.MessageQueue(name, read=True, write=False)
    total = 0
    count = 0
    while True:
        msg, _ = q.receive(timeout=60)
        if msg == b"STOP":
            break
        total += int(msg)
        count += 1
    q.close()
    out.put((count, total))


def test_multiprocessing_consumer(qname):
    q = pmq.MessageQueue(qname, pmq.O_CREX, **SMALL)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    p = ctx.Process(target=consumer, args=(qname, out))
    p.start()
    try:
        for i in range(500):
            q.send(b"%d" % i, timeout=60)
        q.send(b"STOP")
        assert out.get(timeout=60) == (500, sum(range(500)))
        p.join(60)
        assert p.exitcode == 0
    finally:
        if p.is_alive():
            p.kill()
        q.close()
