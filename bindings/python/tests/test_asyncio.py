"""send_async / receive_async on asyncio, both backends: waits woken by
another thread, asyncio.wait_for timeouts, a full queue making send_async
wait, cancellation at random moments (every message exactly once), no
thread per waiting call, close waking waiters, fairness among tasks and
among processes."""

import asyncio
import os
import random
import subprocess
import sys
import threading
import time

import pytest

import pmq
from conftest import unique_name

BACKENDS = ["kernel", "shm"]


@pytest.fixture(params=BACKENDS)
def aq(request):
    """A queue of 4 x 16 bytes on each backend, closed and unlinked after."""
    name = unique_name("aio")
    q = pmq.MessageQueue(name, pmq.O_CREX, max_messages=4, max_message_size=16,
                         backend=request.param)
    yield q
    try:
        q.close()
    except pmq.ExistentialError:
        pass
    pmq.unlink_message_queue(name, backend=request.param)


def other(q):
    return pmq.MessageQueue(q.name, backend=q.backend)


def test_receive_async_is_woken_by_a_send_and_timeouts_cancel_cleanly(aq):
    sender = other(aq)

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(aq.receive_async(), 0.05)
        threading.Timer(0.03, lambda: sender.send(b"hi", priority=7)).start()
        return await asyncio.wait_for(aq.receive_async(), 10)

    assert asyncio.run(main()) == (b"hi", 7)
    assert aq.current_messages == 0
    sender.close()


def test_send_async_waits_for_room(aq):
    drainer = other(aq)

    async def main():
        async def produce():
            for i in range(20):
                await aq.send_async(bytes([i]))
        task = asyncio.ensure_future(produce())
        got = []
        while len(got) < 20:
            try:
                got.append(drainer.receive(0)[0][0])
            except pmq.BusyError:
                await asyncio.sleep(0.001)
        await task
        return got

    assert asyncio.run(main()) == list(range(20))
    drainer.close()


def test_cancelled_receives_lose_nothing_and_duplicate_nothing(aq):
    n = 2000
    producer_q = other(aq)
    seen = []

    def produce():
        for i in range(n):
            producer_q.send(i.to_bytes(4, "little"), timeout=10, priority=i % 3)
            if i % 64 == 0:
                time.sleep(0.0002)

    async def receiver(rng):
        cancelled = 0
        while len(seen) < n:
            try:
                m, _ = await asyncio.wait_for(aq.receive_async(), rng.random() * 0.0005)
                seen.append(int.from_bytes(m, "little"))
            except asyncio.TimeoutError:
                cancelled += 1
        return cancelled

    async def main():
        t = threading.Thread(target=produce)
        t.start()
        tasks = [asyncio.ensure_future(receiver(random.Random(k))) for k in range(4)]
        # And tasks cancelled while they wait.
        for _ in range(50):
            victim = asyncio.ensure_future(aq.receive_async())
            await asyncio.sleep(0.0003)
            if victim.cancel():
                try:
                    await victim
                except asyncio.CancelledError:
                    pass
            elif not victim.cancelled() and victim.exception() is None:
                seen.append(int.from_bytes(victim.result()[0], "little"))
        counts = await asyncio.wait_for(asyncio.gather(*tasks), 60)
        await asyncio.get_running_loop().run_in_executor(None, t.join)
        return counts

    cancelled = asyncio.run(main())
    assert sorted(seen) == list(range(n)), "lost or duplicated messages"
    print("asyncio %s: %d messages, %d receives cancelled by timeout"
          % (aq.backend, n, sum(cancelled)))
    producer_q.close()


def test_waiting_tasks_hold_no_thread_and_close_wakes_them(aq):
    async def main():
        before = threading.active_count()
        tasks = [asyncio.ensure_future(aq.receive_async()) for _ in range(100)]
        await asyncio.sleep(0.05)
        during = threading.active_count()
        aq.close()
        done = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
        return before, during, done

    before, during, done = asyncio.run(main())
    assert during <= before + 1, "threads while 100 tasks wait: %d -> %d" % (before, during)
    assert all(isinstance(r, pmq.ExistentialError) for r in done)


def test_many_tasks_on_one_queue_all_make_progress(aq):
    n = 3000
    producer_q = other(aq)
    total = [0]

    async def receiver():
        mine = 0
        while total[0] < n:
            try:
                await asyncio.wait_for(aq.receive_async(), 0.02)
            except asyncio.TimeoutError:
                continue
            mine += 1
            total[0] += 1
            await asyncio.sleep(0.0001)
        return mine

    async def main():
        tasks = [asyncio.ensure_future(receiver()) for _ in range(16)]
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: [producer_q.send(b"m", timeout=10)
                                                  for _ in range(n)])
        return await asyncio.wait_for(asyncio.gather(*tasks), 60)

    counts = asyncio.run(main())
    print("asyncio %s: 16 tasks received %s" % (aq.backend, counts))
    assert sum(counts) == n
    assert all(c > 0 for c in counts), counts
    producer_q.close()


CHILD = r"""
import asyncio, sys, pmq
q = pmq.MessageQueue(sys.argv[1], backend=sys.argv[2])
async def main():
    n = s = 0
    while True:
        m, _ = await q.receive_async()
        if not m:
            return n, s
        n += 1
        s += int.from_bytes(m, "little")
        await asyncio.sleep(0.00005)
print("%d %d" % asyncio.run(main()))
"""


def test_several_processes_on_one_queue_all_make_progress(aq):
    n = 2000
    kids = [subprocess.Popen([sys.executable, "-c", CHILD, aq.name, aq.backend],
                             stdout=subprocess.PIPE, text=True) for _ in range(3)]
    time.sleep(0.3)  # let them start waiting
    for i in range(n):
        aq.send(i.to_bytes(4, "little"), timeout=10)
    for _ in kids:
        aq.send(b"", timeout=10)
    counts, total = [], 0
    for k in kids:
        out, _ = k.communicate(timeout=60)
        c, s = map(int, out.split())
        counts.append(c)
        total += s
    print("asyncio %s: 3 processes received %s" % (aq.backend, counts))
    assert sum(counts) == n and total == n * (n - 1) // 2
    assert all(c > 0 for c in counts), counts
