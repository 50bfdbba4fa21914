"""pmq and posix_ipc on the same queue, both ways."""

import pytest

import pmq

posix_ipc = pytest.importorskip(
    "posix_ipc", reason="posix_ipc is not installed (pip install posix_ipc failed?)")


def test_posix_ipc_sends_pmq_receives(queue):
    other = posix_ipc.MessageQueue(queue.name)
    try:
        other.send(b"from posix_ipc\0with NUL", priority=7)
        other.send("text")
        assert queue.receive() == (b"from posix_ipc\0with NUL", 7)
        assert queue.receive() == (b"text", 0)
    finally:
        other.close()


def test_pmq_sends_posix_ipc_receives(qname):
    theirs = posix_ipc.MessageQueue(qname, posix_ipc.O_CREX, max_messages=4, max_message_size=64)
    try:
        mine = pmq.MessageQueue(qname)
        assert (mine.max_messages, mine.max_message_size) == (4, 64)
        mine.send(b"low", priority=1)
        mine.send(b"high", priority=9)
        assert theirs.current_messages == 2
        assert theirs.receive() == (b"high", 9)
        assert theirs.receive() == (b"low", 1)
        mine.close()
    finally:
        theirs.close()
        theirs.unlink()


def test_same_constants_and_exception_names():
    for name in ("O_CREAT", "O_EXCL", "O_CREX", "QUEUE_PRIORITY_MAX", "MESSAGE_QUEUES_SUPPORTED",
                 "QUEUE_MESSAGES_MAX_DEFAULT", "QUEUE_MESSAGE_SIZE_MAX_DEFAULT"):
        assert getattr(pmq, name) == getattr(posix_ipc, name), name
    for name in ("Error", "BusyError", "ExistentialError", "PermissionsError", "SignalError"):
        assert getattr(pmq, name).__name__ == getattr(posix_ipc, name).__name__


def test_same_behaviour_for_common_calls(qname):
    """The same script against both modules gives the same results."""
    def script(mod, name):
        out = []
        q = mod.MessageQueue(name, mod.O_CREX, max_messages=3, max_message_size=32)
        try:
            out.append((q.name, q.mode, q.max_messages, q.max_message_size, q.current_messages))
            q.send("é")
            q.send(b"b", priority=2)
            out.append(q.receive())
            out.append(q.receive(timeout=0))
            for call in (lambda: q.receive(timeout=0), lambda: q.send(b"x" * 33),
                         lambda: q.send(b"x", priority=-1),
                         lambda: mod.MessageQueue(name, mod.O_CREX),
                         lambda: q.request_notification("bad")):
                try:
                    call()
                    out.append("no error")
                except Exception as e:
                    out.append(type(e).__name__)
            q.block = False
            out.append(q.block)
            out.append(str(q.name))
        finally:
            q.close()
            q.unlink()
        out.append(q.mqd)
        try:
            mod.unlink_message_queue(name)
        except Exception as e:
            out.append(type(e).__name__)
        return out

    assert script(pmq, qname) == script(posix_ipc, qname)
