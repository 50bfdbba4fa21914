"""The shared-memory backend from Python: MessageQueue(..., backend="shm")
takes the same arguments and behaves like a kernel queue (priorities, FIFO
within one, timeouts, the block switch, fileno for select), without the
kernel's size limits; unlink_message_queue(name, backend="shm") removes it."""

import os
import select
import signal

import pytest

import pmq
from conftest import unique_name


@pytest.fixture
def shm_name():
    name = unique_name("shm")
    yield name
    try:
        pmq.unlink_message_queue(name, backend="shm")
    except pmq.ExistentialError:
        pass


def test_same_api_beyond_kernel_limits(shm_name):
    q = pmq.MessageQueue(shm_name, pmq.O_CREX, max_messages=1000, max_message_size=64,
                         backend="shm")
    try:
        assert q.backend == "shm"
        assert (q.max_messages, q.max_message_size) == (1000, 64)
        for i in range(1000):
            q.send(b"%d" % i, priority=i % 4)
        with pytest.raises(pmq.BusyError):
            q.send(b"full", timeout=0)
        assert q.current_messages == 1000
        msg, prio = q.receive()
        assert (msg, prio) == (b"3", 3)
        r, _, _ = select.select([q.mqd], [], [], 5)
        assert r, "a message waits: readable"
        other = pmq.MessageQueue(shm_name, backend="shm")
        assert other.current_messages == 999
        other.close()
        with pytest.raises(pmq.ExistentialError):
            pmq.unlink_message_queue(shm_name)  # not a kernel queue
    finally:
        q.close()


def test_empty_and_timeouts(shm_name):
    q = pmq.MessageQueue(shm_name, pmq.O_CREX, max_messages=2, max_message_size=16,
                         backend="shm")
    try:
        with pytest.raises(pmq.BusyError):
            q.receive(timeout=0)
        with pytest.raises(pmq.BusyError):
            q.receive(timeout=0.02)
        q.block = False
        with pytest.raises(pmq.BusyError):
            q.receive()
    finally:
        q.close()
    pmq.unlink_message_queue(shm_name, backend="shm")
    with pytest.raises(pmq.ExistentialError):
        pmq.unlink_message_queue(shm_name, backend="shm")


def test_bad_backend_is_a_value_error(shm_name):
    with pytest.raises(ValueError, match="backend"):
        pmq.MessageQueue(shm_name, pmq.O_CREX, backend="disk")
    with pytest.raises(ValueError, match="backend"):
        pmq.unlink_message_queue(shm_name, backend=None)


def test_every_status_has_a_class():
    assert pmq._make_error(pmq._pmq.PMQ_STATUS_CORRUPTED, 0, b"x").__class__ is pmq.CorruptedError
    assert issubclass(pmq.CorruptedError, pmq.Error)


def _receive_and_die(name):
    """Forks a receiver that takes one message and is SIGKILLed before it
    closes its handle; returns its pid."""
    pid = os.fork()
    if pid == 0:
        try:
            q = pmq.MessageQueue(name, backend="shm")  # kept: no close before the kill
            q.receive(timeout=0)
            os.kill(os.getpid(), signal.SIGKILL)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
    return pid


def test_dead_receipts_of_killed_receivers(shm_name):
    """Receivers SIGKILLed after a receive leave receipts any handle reads
    (five: more than the first call has room for), each naming the message
    and the dead pid, taken. A live handle keeps each dead record in use so
    the next receiver does not reuse it. The kernel backend keeps none."""
    q = pmq.MessageQueue(shm_name, pmq.O_CREX, max_messages=8, max_message_size=32,
                         backend="shm")
    heirs = []
    try:
        assert q.dead_receipts() == []
        texts = [b"m0", b"m1 is a long message", b"m2", b"m3", b"m4"]
        for t in texts:
            q.send(t, priority=4)
        pids = []
        for _ in texts:
            pids.append(_receive_and_die(shm_name))
            heirs.append(pmq.MessageQueue(shm_name, backend="shm"))
        got = heirs[-1].dead_receipts()
        assert got == [pmq.Receipt(i + 1, len(t), 4, pids[i], True, False, t[:16])
                       for i, t in enumerate(texts)]
        assert got[1].head == b"m1 is a long mes" and got[1].length == 20
    finally:
        for h in heirs:
            h.close()
        q.close()
    with pytest.raises(pmq.ExistentialError):
        q.dead_receipts()
    k = pmq.MessageQueue(unique_name("kr"), pmq.O_CREX, max_messages=1, max_message_size=8)
    try:
        with pytest.raises(pmq.Error) as e:
            k.dead_receipts()
        assert e.value.pmq_status_name == "PMQ_STATUS_NOT_SUPPORTED"
        assert "shared-memory backend" in str(e.value)
    finally:
        k.unlink()
        k.close()


@pytest.mark.parametrize("length, accepted", [(251, True), (252, False), (255, False),
                                              (256, False)])
def test_shm_name_limit_is_251(length, accepted):
    """The shm backend takes 1-251 bytes after the slash
    (its file pmq.<name> must fit 255); a longer name is a ValueError that
    names the shm limit (the kernel takes 255, see test_open.py)."""
    prefix = unique_name("len") + "-"
    name = prefix + "n" * (length + 1 - len(prefix))
    if accepted:
        q = pmq.MessageQueue(name, pmq.O_CREX, max_messages=1, max_message_size=16, backend="shm")
        q.close()
        pmq.unlink_message_queue(name, backend="shm")
    else:
        with pytest.raises(ValueError, match="the limit is 251 on the shared-memory backend"):
            pmq.MessageQueue(name, pmq.O_CREX, max_messages=1, max_message_size=16,
                             backend="shm")
