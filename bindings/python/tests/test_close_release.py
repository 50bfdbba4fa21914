"""close() releases everything the handle holds at once, on both backends:
its descriptors and (shm) its mapping and opener record, even while the
closed MessageQueue object stays referenced; a call running in another
thread keeps the handle until it returns, then it is released too. unlink()
after close() acts on the queue's own backend."""

import gc
import os
import resource
import threading

import pytest

import pmq
from conftest import SMALL, unique_name

BACKENDS = ["kernel", "shm"]


def fds():
    return len(os.listdir("/proc/self/fd"))


def maps(name):
    """Mappings of this process whose path names the shm queue `name`."""
    with open("/proc/self/maps") as f:
        return [line for line in f if name[1:] in line]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def bname(backend):
    name = unique_name("rel-" + backend)
    yield name
    try:
        pmq.unlink_message_queue(name, backend=backend)
    except pmq.ExistentialError:
        pass


def test_closed_queues_hold_no_descriptor(backend, bname):
    gc.disable()  # nothing may be released by a collection meanwhile
    try:
        pmq.MessageQueue(bname, pmq.O_CREX, backend=backend, **SMALL).close()
        before = fds()
        kept = []
        for _ in range(50):
            q = pmq.MessageQueue(bname, backend=backend)
            q.close()
            kept.append(q)  # the closed object stays referenced
        assert fds() == before, "50 closed queues still hold descriptors"
        if backend == "shm":
            assert maps(bname) == [], "closed shm queues still map the queue's file"
        # What still works on them.
        assert all(q.name == bname and q.mqd == -1 for q in kept)
        assert str(kept[0]) == "%s (closed)" % bname
    finally:
        gc.enable()


def test_many_open_close_cycles_while_referenced(backend, bname):
    # A shm queue has 1,024 opener records, and this process is given at
    # most 1,024 descriptors (the usual default): either runs out if closed
    # objects keep theirs.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft > 1024 or soft == resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        pmq.MessageQueue(bname, pmq.O_CREX, backend=backend, **SMALL).close()
        kept = []
        for i in range(1100):
            q = pmq.MessageQueue(bname, backend=backend)
            q.send(b"%d" % i)
            assert q.receive(0) == (b"%d" % i, 0)
            q.close()
            kept.append(q)
        assert len(kept) == 1100
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_call_in_another_thread_keeps_the_handle_until_it_returns(backend, bname):
    q = pmq.MessageQueue(bname, pmq.O_CREX, backend=backend, **SMALL)
    other = pmq.MessageQueue(bname, backend=backend)
    try:
        before = fds()
        q2 = pmq.MessageQueue(bname, backend=backend)
        outcome = []
        started = threading.Event()

        def receive():
            started.set()
            try:
                outcome.append(q2.receive())
            except BaseException as e:  # noqa: B902 - recorded for the assertion
                outcome.append(e)

        t = threading.Thread(target=receive)
        t.start()
        started.wait()
        # Close once the receive waits (or before it starts: same outcome).
        q2.close()
        t.join(60)
        assert not t.is_alive(), "close() did not wake the waiting receive"
        assert len(outcome) == 1 and isinstance(outcome[0], pmq.ExistentialError), outcome
        assert "closed" in str(outcome[0])
        assert fds() == before
        # The other handles are untouched.
        other.send(b"still there")
        assert q.receive(0) == (b"still there", 0)
    finally:
        q.close()
        other.close()


def test_everything_after_close(backend, bname):
    q = pmq.MessageQueue(bname, pmq.O_CREX, backend=backend, **SMALL)
    q.send(b"x")
    q.close()
    for call in (lambda: q.send(b"x"), q.receive, lambda: q.receive(timeout=0),
                 lambda: q.send_batch([b"x"]), lambda: q.receive_batch(2, timeout=0),
                 lambda: q.current_messages, lambda: q.block,
                 lambda: setattr(q, "block", False),
                 lambda: q.request_notification(10),
                 lambda: q.request_notification((print, 1))):
        with pytest.raises(pmq.ExistentialError, match="closed"):
            call()
    with pytest.raises(pmq.ExistentialError, match="already closed"):
        q.close()
    q.request_notification(None)  # nothing to cancel: fine
    assert (q.name, q.backend, q.max_messages, q.max_message_size) == \
        (bname, backend, SMALL["max_messages"], SMALL["max_message_size"])
    assert q.mqd == -1 and q.fileno() == -1


def test_unlink_after_close_acts_on_the_queues_backend(backend, bname):
    other_backend = "shm" if backend == "kernel" else "kernel"
    unrelated = pmq.MessageQueue(bname, pmq.O_CREX, backend=other_backend, **SMALL)
    try:
        unrelated.send(b"unrelated")
        for close_first in (True, False):
            q = pmq.MessageQueue(bname, pmq.O_CREX, backend=backend, **SMALL)
            if close_first:
                q.close()
            q.unlink()
            with pytest.raises(pmq.ExistentialError):
                pmq.MessageQueue(bname, backend=backend)
            assert unrelated.current_messages == 1, "unlink removed the other backend's queue"
            again = pmq.MessageQueue(bname, backend=other_backend)
            again.close()
            with pytest.raises(pmq.ExistentialError):
                q.unlink()  # nothing left to remove
            if not close_first:
                q.close()
    finally:
        unrelated.close()
        pmq.unlink_message_queue(bname, backend=other_backend)
