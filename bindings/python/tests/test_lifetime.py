"""close, unlink, unlink_message_queue, context manager, garbage collection."""

import gc
import os
import warnings

import pytest

import pmq
from conftest import SMALL, unique_name


def open_fds(prefix="/pmq-py-"):
    """This process's descriptors of queues whose name starts with prefix."""
    fds = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink("/proc/self/fd/" + fd)
        except OSError:  # the directory's own descriptor, gone by now
            continue
        if link in (prefix, prefix + " (deleted)") or (prefix == "/pmq-py-" and link.startswith(prefix)):
            fds[fd] = link
    return fds


def test_close_then_everything_is_existential(queue):
    queue.send(b"x")
    queue.close()
    assert queue.mqd == -1 and queue.fileno() == -1
    for call in (lambda: queue.send(b"x"), queue.receive, lambda: queue.receive(timeout=0),
                 lambda: queue.current_messages, lambda: queue.block,
                 lambda: setattr(queue, "block", False),
                 lambda: queue.request_notification(10),
                 lambda: queue.request_notification((print, 1))):
        with pytest.raises(pmq.ExistentialError, match="closed"):
            call()
    with pytest.raises(pmq.ExistentialError, match="already closed"):
        queue.close()
    # What works after close, as in the reference:
    assert queue.name.startswith("/")
    assert queue.mode == 0o600
    assert queue.max_messages == 4 and queue.max_message_size == 128
    queue.request_notification(None)  # nothing to cancel: fine


def test_close_releases_the_descriptor(qname):
    assert open_fds(qname) == {}
    q = pmq.MessageQueue(qname, pmq.O_CREX, **SMALL)
    assert len(open_fds(qname)) >= 1  # libpmq may keep a second (O_NONBLOCK) descriptor
    q.close()
    assert open_fds(qname) == {}


def test_other_handles_stay_valid_after_close(queue):
    other = pmq.MessageQueue(queue.name)
    other.send(b"from other")
    other.close()
    assert queue.receive() == (b"from other", 0)


def test_unlink_postpones_destruction(queue):
    other = pmq.MessageQueue(queue.name)
    queue.send(b"kept")
    queue.unlink()
    with pytest.raises(pmq.ExistentialError):
        pmq.MessageQueue(queue.name)  # the name is gone
    assert other.receive() == (b"kept", 0)  # the queue is not
    other.send(b"still")
    assert queue.receive() == (b"still", 0)
    # A new create with the same name makes a new, empty queue.
    fresh = pmq.MessageQueue(queue.name, pmq.O_CREX, **SMALL)
    try:
        queue.send(b"old queue")
        assert fresh.current_messages == 0
    finally:
        fresh.close()
        fresh.unlink()
    other.close()


def test_unlink_works_on_a_closed_handle(qname):
    q = pmq.MessageQueue(qname, pmq.O_CREX, **SMALL)
    q.close()
    q.unlink()
    with pytest.raises(pmq.ExistentialError, match="does not exist"):
        q.unlink()


def test_unlink_message_queue(qname):
    pmq.MessageQueue(qname, pmq.O_CREX, **SMALL).close()
    pmq.unlink_message_queue(qname)
    with pytest.raises(pmq.ExistentialError, match="does not exist"):
        pmq.MessageQueue(qname)
    with pytest.raises(pmq.ExistentialError, match="does not exist"):
        pmq.unlink_message_queue(qname)


def test_unlink_message_queue_accepts_bytes_and_checks_names(qname):
    pmq.MessageQueue(qname, pmq.O_CREX, **SMALL).close()
    pmq.unlink_message_queue(qname.encode())
    with pytest.raises(ValueError, match="NUL"):
        pmq.unlink_message_queue("/a\0b")
    with pytest.raises(ValueError, match="start with '/'"):
        pmq.unlink_message_queue("noslash")
    with pytest.raises(TypeError):
        pmq.unlink_message_queue(None)


def test_context_manager_closes(qname):
    before = open_fds(qname)
    with pmq.MessageQueue(qname, pmq.O_CREX, **SMALL) as q:
        assert isinstance(q, pmq.MessageQueue)
        q.send(b"x")
    assert q.mqd == -1
    assert open_fds(qname) == before
    # Closing inside the block is fine too.
    with pmq.MessageQueue(qname) as q2:
        assert q2.receive() == (b"x", 0)
        q2.close()


def test_context_manager_closes_on_exception(qname):
    with pytest.raises(RuntimeError):
        with pmq.MessageQueue(qname, pmq.O_CREX, **SMALL) as q:
            raise RuntimeError("inside")
    assert q.mqd == -1


def test_garbage_collection_closes_with_resource_warning(qname):
    before = open_fds(qname)
    q = pmq.MessageQueue(qname, pmq.O_CREX, **SMALL)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del q
        gc.collect()
    assert open_fds(qname) == before
    assert any(issubclass(w.category, ResourceWarning) and qname in str(w.message)
               for w in caught)


def test_no_warning_when_closed(qname):
    q = pmq.MessageQueue(qname, pmq.O_CREX, **SMALL)
    q.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del q
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_failed_constructor_leaks_nothing():
    name = unique_name()
    before = open_fds(name)
    for _ in range(50):
        with pytest.raises(pmq.ExistentialError):
            pmq.MessageQueue(name)
    gc.collect()
    assert open_fds(name) == before
