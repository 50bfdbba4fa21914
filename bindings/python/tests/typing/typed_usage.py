"""A typed program using pmq's public API: tests/test_typing.py checks it
with mypy --strict against the installed stubs, then runs it (so what the
stubs promise is what the runtime returns). The `type: ignore[...]` lines
are calls the stubs must reject: mypy --strict reports an unused ignore, so
a stub that accepts them fails the check."""

import asyncio
import os
import sys
from typing import Literal

import pmq

Backend = Literal["kernel", "shm"]


def roundtrip(backend: Backend) -> list[tuple[bytes, int]]:
    name = "/pmq-py-typed-%s-%d" % (backend, os.getpid())
    with pmq.MessageQueue(name, pmq.O_CREX, max_messages=8, max_message_size=64,
                          backend=backend) as q:
        try:
            q.send(b"one", priority=1)
            q.send("two", timeout=0)
            q.send(memoryview(b"three"), 0.5, 2)
            sent: int = q.send_batch([b"four", ("five", 3)], timeout=None)
            assert sent == 2
            msg, prio = q.receive()
            assert isinstance(msg, bytes) and isinstance(prio, int)
            got = [(msg, prio)] + q.receive_batch(4, timeout=0)
            q.block = False
            assert q.block is False
            assert q.current_messages == 0
            assert q.max_messages == 8 and q.max_message_size == 64
            assert q.name == name and q.backend == backend and q.mode == 0o600
            assert q.mqd == q.fileno() and q.mqd >= 0
            q.request_notification((print, "unused"))
            q.request_notification(None)
            q.request_notification(pmq.USER_SIGNAL_MIN)
            q.request_notification()
            return got
        finally:
            q.unlink()


async def roundtrip_async() -> tuple[bytes, int]:
    q = pmq.MessageQueue(None, pmq.O_CREX, max_messages=2, max_message_size=16)
    try:
        await q.send_async(b"async", priority=4)
        return await q.receive_async()
    finally:
        q.close()
        pmq.unlink_message_queue(q.name)


def leases() -> int:
    """At-least-once receive on "shm": every lease call typed."""
    q = pmq.MessageQueue(None, pmq.O_CREX, max_messages=4, max_message_size=16, backend="shm",
                         max_deliveries=3, dead_letter=None)
    try:
        q.send_batch([b"a", b"b", b"c"])
        data, prio, lease = q.lease(0, visibility=30.0)
        seq: int = lease.seq
        delivery: int = lease.delivery
        assert data == b"a" and prio == 0 and delivery == 1 and seq >= 1 and lease.slot >= 0
        q.nack(lease)
        batch: list[tuple[bytes, int, pmq.Lease]] = q.lease_batch(4, timeout=0)
        acked: int = q.ack_batch([item[2] for item in batch])
        stats: pmq.LeaseStats = q.lease_stats()
        assert stats.leased == 0 and stats.oldest_age is None
        ident: int = q.instance_id()
        assert ident != 0
        try:
            q.ack(batch[0][2])
            raise AssertionError("a second ack must raise LeaseLostError")
        except pmq.LeaseLostError as e:
            assert e.acked == 0  # set by ack_batch() only
        return acked
    finally:
        q.close()
        pmq.unlink_message_queue(q.name, backend="shm")


def rejected() -> None:
    """Never called: calls the stubs must refuse."""
    q = pmq.MessageQueue("/never")
    q.send(42)  # type: ignore[arg-type]
    q.send(b"x", priority="high")  # type: ignore[arg-type]
    q.receive(timeout="soon")  # type: ignore[arg-type]
    q.request_notification("SIGUSR1")  # type: ignore[arg-type]
    pmq.MessageQueue("/never", backend="disk")  # type: ignore[arg-type]
    pmq.unlink_message_queue(None)  # type: ignore[arg-type]
    q.max_messages = 3  # type: ignore[misc]
    q.lease(visibility="long")  # type: ignore[arg-type]
    q.ack(42)  # type: ignore[arg-type]
    length: str = q.current_messages  # type: ignore[assignment]
    del length


def main() -> int:
    backends: tuple[Backend, ...] = ("kernel", "shm")
    for backend in backends:
        got = roundtrip(backend)
        assert got == [(b"five", 3), (b"three", 2), (b"one", 1), (b"two", 0), (b"four", 0)], got
    assert asyncio.run(roundtrip_async()) == (b"async", 4)
    assert leases() == 3
    errors: tuple[type[pmq.Error], ...] = (pmq.BusyError, pmq.ExistentialError,
                                            pmq.PermissionsError, pmq.SignalError,
                                            pmq.CorruptedError)
    assert all(issubclass(e, Exception) for e in errors)
    limits: list[int] = [pmq.QUEUE_MESSAGES_MAX_DEFAULT, pmq.QUEUE_MESSAGE_SIZE_MAX_DEFAULT,
                         pmq.QUEUE_PRIORITY_MAX, pmq.PAGE_SIZE]
    assert all(v > 0 for v in limits)
    version: str = pmq.__version__
    print("typed usage ok", version, sorted(pmq.BACKENDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
