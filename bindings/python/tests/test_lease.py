"""Leases (at-least-once receive, issue 30) through pmq: lease / lease_batch
/ ack / nack / ack_batch / lease_stats / instance_id on the "shm" backend
(FIFO kept after a nack, LeaseLostError on a second ack, ack_batch's .acked,
visibility expiry, a closed or killed holder's leases coming back, dead
letters, capacity), the argument checks, the asyncio forms, and the kernel
backend's NOT_SUPPORTED naming the shm backend."""

import asyncio
import math
import os
import signal
import time

import pytest

import pmq
from conftest import unique_name, unlink_quietly


@pytest.fixture
def shm(make_queue):
    """shm(**kwargs): a new "shm" queue (8 x 64 bytes unless told)."""

    def make(max_messages=8, max_message_size=64, **kwargs):
        return make_queue(tag="lease", backend="shm", max_messages=max_messages,
                          max_message_size=max_message_size, **kwargs)

    return make


def other(q, **kwargs):
    return pmq.MessageQueue(q.name, backend="shm", **kwargs)


def test_lease_ack_nack_keep_fifo(shm):
    q = shm()
    for m in (b"a", b"b", b"c"):
        q.send(m)
    q.send(b"hi", priority=3)
    msg, prio, hi = q.lease(0)
    assert (msg, prio, hi.delivery) == (b"hi", 3, 1)
    assert isinstance(hi, pmq.Lease) and hi == (hi.seq, hi.delivery, hi.slot)
    _, _, a = q.lease(0)
    _, _, b = q.lease(0)
    assert a.seq != b.seq
    q.nack(b)
    q.nack(a)
    assert q.lease(0)[0::2] == (b"a", pmq.Lease((a.seq, 2, a.slot)))
    m2, _, b2 = q.lease(0)
    assert (m2, b2.seq, b2.delivery) == (b"b", b.seq, 2)
    m3, _, c = q.lease(0)
    assert (m3, c.delivery) == (b"c", 1)
    for lease in (hi, pmq.Lease((a.seq, 2, a.slot)), b2, c):
        q.ack(lease)
    with pytest.raises(pmq.BusyError):
        q.lease(0)
    assert q.current_messages == 0


def test_second_ack_raises_lease_lost(shm):
    q = shm()
    q.send(b"x")
    _, _, lease = q.lease(0)
    q.ack(lease)
    with pytest.raises(pmq.LeaseLostError) as e:
        q.ack(lease)
    assert e.value.pmq_status == pmq._pmq.PMQ_STATUS_LEASE_LOST
    assert "lease" in str(e.value)
    with pytest.raises(pmq.LeaseLostError):
        q.nack(lease)
    # Another handle cannot ack this one's lease, nor see the message.
    q.send(b"y")
    _, _, y = q.lease(0)
    with other(q) as o:
        with pytest.raises(pmq.LeaseLostError):
            o.ack(y)
        with pytest.raises(pmq.BusyError):
            o.lease(0)
    q.ack(y)


def test_batches_and_ack_batch_acked(shm):
    q = shm()
    q.send_batch([b"m%d" % i for i in range(5)])
    got = q.lease_batch(3, 0)
    assert [m for m, _, _ in got] == [b"m0", b"m1", b"m2"]
    leases = [lease for _, _, lease in got]
    assert all(lease.delivery == 1 for lease in leases)
    q.ack(leases[1])
    with pytest.raises(pmq.LeaseLostError) as e:
        q.ack_batch(leases)
    assert e.value.acked == 2
    assert q.lease_batch(0, 0) == []
    rest = q.lease_batch(10, 1.0)
    assert [m for m, _, _ in rest] == [b"m3", b"m4"]
    assert q.ack_batch([lease for _, _, lease in rest]) == 2
    assert q.ack_batch([]) == 0
    assert q.current_messages == 0


def test_capacity_and_stats(shm):
    q = shm(max_messages=2)
    assert q.lease_stats() == pmq.LeaseStats(0, None)
    q.send(b"1")
    q.send(b"2")
    _, _, one = q.lease(0)
    with pytest.raises(pmq.BusyError):
        q.send(b"3", timeout=0)
    stats = q.lease_stats()
    assert stats.leased == 1 and 0 <= stats.oldest_age < 3600
    q.ack(one)
    q.send(b"3", timeout=0)
    assert q.lease_stats().leased == 0


def test_visibility_expiry(shm):
    q = shm()
    q.send(b"late", priority=2)
    _, _, lease = q.lease(0, visibility=0.05)
    start = time.monotonic()
    with other(q) as o:
        # Awaited by polling: the expiry is seen to happen, never assumed.
        while True:
            try:
                msg, prio, again = o.lease(0)
                break
            except pmq.BusyError:
                assert time.monotonic() - start < 30
                time.sleep(0.005)
        assert time.monotonic() - start >= 0.04
        assert (msg, prio, again.seq, again.delivery) == (b"late", 2, lease.seq, 2)
        with pytest.raises(pmq.LeaseLostError):
            q.ack(lease)
        o.ack(again)


def test_closed_and_killed_holders_give_leases_back(shm):
    q = shm()
    q.send(b"closed")
    h = other(q)
    h.lease(0)
    h.close()
    msg, _, lease = q.lease(0)
    assert (msg, lease.delivery) == (b"closed", 2)
    q.ack(lease)
    q.send(b"killed")
    pid = os.fork()
    if pid == 0:
        try:
            c = other(q)
            c.lease(0)
            os.kill(os.getpid(), signal.SIGKILL)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    msg, _, lease = q.lease(5.0)
    assert (msg, lease.delivery) == (b"killed", 2)
    q.ack(lease)


def test_dead_letters(shm, make_queue):
    dl_name = unique_name("dlq")
    try:
        q = shm(max_deliveries=2, dead_letter=dl_name)
        q.send(b"poison", priority=4)
        q.send(b"fine")
        for delivery in (1, 2):
            msg, _, lease = q.lease(0)
            assert (msg, lease.delivery) == (b"poison", delivery)
            q.nack(lease)
        msg, _, lease = q.lease(0)
        assert msg == b"fine"
        q.ack(lease)
        with pmq.MessageQueue(dl_name, backend="shm") as dl:
            assert dl.receive(0) == (b"poison", 4)
        dropped = shm(max_deliveries=1)
        dropped.send(b"once")
        dropped.nack(dropped.lease(0)[2])
        with pytest.raises(pmq.BusyError):
            dropped.lease(0)
        assert dropped.current_messages == 0
    finally:
        unlink_quietly(dl_name, "shm")


def test_instance_id(shm):
    a = shm()
    b = shm()
    assert a.instance_id() != b.instance_id()
    with other(a) as a2:
        assert a2.instance_id() == a.instance_id()


def test_bad_arguments(shm):
    q = shm()
    q.send(b"z")
    for bad in (0, -1, float("nan"), -math.inf, -(10 ** 400)):
        with pytest.raises(ValueError, match="visibility"):
            q.lease(0, visibility=bad)
        with pytest.raises(ValueError, match="visibility"):
            q.lease_batch(2, 0, visibility=bad)
    with pytest.raises(TypeError, match="visibility"):
        q.lease(0, visibility="1")
    with pytest.raises(ValueError):
        q.lease(-1)
    with pytest.raises(TypeError):
        q.lease(0, 1, 2)
    for bad in (None, b"xyz", (1, 2), (1, 2, 3, 4)):
        with pytest.raises(TypeError, match="lease"):
            q.ack(bad)
    for bad in ((-1, 1, 0), (1, 1 << 32, 0), (1, 1, "x")):
        with pytest.raises(ValueError, match="lease"):
            q.nack(bad)
    with pytest.raises(TypeError):
        q.ack_batch(5)
    with pytest.raises(TypeError, match="message 1 of the batch"):
        q.ack_batch([(1, 1, 0), None])
    with pytest.raises(ValueError):
        pmq.MessageQueue(unique_name(), pmq.O_CREX, backend="shm", max_deliveries=-1)
    with pytest.raises(ValueError):
        pmq.MessageQueue(unique_name(), pmq.O_CREX, backend="shm", max_deliveries=1 << 32)
    with pytest.raises(ValueError, match="dead"):
        pmq.MessageQueue(unique_name(), pmq.O_CREX, backend="shm", max_deliveries=1,
                         dead_letter="no-slash")
    # Nothing above leased anything.
    assert q.lease_stats().leased == 0
    with pmq.MessageQueue(q.name, backend="shm", write=True, read=False) as w:
        with pytest.raises(pmq.PermissionsError):
            w.lease(0)
    _, _, lease = q.lease(0)
    q.close()
    for call in (lambda: q.lease(0), lambda: q.lease_batch(1, 0), lambda: q.ack(lease),
                 lambda: q.nack(lease), lambda: q.ack_batch([lease]), q.lease_stats,
                 q.instance_id):
        with pytest.raises(pmq.ExistentialError):
            call()


def test_kernel_backend_not_supported(make_queue):
    q = make_queue(tag="lease-k")
    q.send(b"k")
    calls = [lambda: q.lease(0), lambda: q.lease_batch(2, 0), lambda: q.ack((1, 1, 0)),
             lambda: q.nack((1, 1, 0)), lambda: q.ack_batch([(1, 1, 0)]), q.lease_stats,
             q.instance_id]
    for call in calls:
        with pytest.raises(pmq.Error) as e:
            call()
        assert e.value.pmq_status_name == "PMQ_STATUS_NOT_SUPPORTED"
        assert "PMQ_BACKEND_SHM" in str(e.value)
    assert q.current_messages == 1


def test_asyncio_lease(shm):
    q = shm()

    async def main():
        waiter = asyncio.ensure_future(q.lease_async())
        await asyncio.sleep(0)
        assert not waiter.done()
        q.send(b"async")
        msg, prio, lease = await asyncio.wait_for(waiter, 30)
        assert (msg, prio, lease.delivery) == (b"async", 0, 1)
        q.nack(lease)
        got = await asyncio.wait_for(q.lease_batch_async(4, visibility=60), 30)
        assert [(m, lease.delivery) for m, _, lease in got] == [(b"async", 2)]
        assert q.ack_batch([lease for _, _, lease in got]) == 1

    asyncio.run(main())
