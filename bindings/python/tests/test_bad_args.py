"""No argument crashes the interpreter: every call with odd values either
works or raises an ordinary exception."""

import math

import pytest

import pmq

ODD = [None, True, 0, -1, 2**31, 2**63, 2**100, -2**100, 0.5, -0.5, math.nan, math.inf,
       "", "x", "/", "\0", b"", b"\0", bytearray(b"ab"), memoryview(b"ab")[::2], [], (), {},
       object(), print, (print,), (print, 1, 2), (None, None)]


def call(f, *args, **kwargs):
    try:
        f(*args, **kwargs)
    except (Exception, pmq.Error):
        pass


def test_constructor_with_odd_values(qname):
    for v in ODD:
        for key in ("flags", "mode", "max_messages", "max_message_size", "read", "write"):
            kwargs = dict(flags=pmq.O_CREAT, max_messages=2, max_message_size=16)
            kwargs[key] = v
            try:
                q = pmq.MessageQueue(qname, **kwargs)
            except Exception:
                continue
            q.close()
            q.unlink()
        try:
            q = pmq.MessageQueue(v, pmq.O_CREX, max_messages=2, max_message_size=16)
        except Exception:
            pass
        else:  # v may be None: a random name, which must not be left behind
            q.close()
            q.unlink()
        call(pmq.unlink_message_queue, v)


def test_methods_with_odd_values(queue):
    for v in ODD:
        call(queue.send, v)
        call(queue.send, b"x", v)
        call(queue.send, b"x", 0, v)
        call(queue.send, b"x", timeout=0, priority=v)
        call(queue.receive, v)
        # Never a wait without end: a message is there for a receive with
        # timeout v, room for a send with timeout v.
        while queue.current_messages:
            queue.receive(0)
        queue.send(b"y", timeout=0)
        call(queue.receive_batch, 2, v)
        while queue.current_messages:
            queue.receive(0)
        call(queue.send_batch, [b"x"], v)
        call(queue.send_batch, v, 0)
        call(queue.send_batch, [v], 0)
        call(queue.send_batch, [b"x", (b"x", v)], 0)
        call(queue.receive_batch, v, 0)
        if not (isinstance(v, int) and 1 <= v <= 64):  # a real signal would be sent
            call(queue.request_notification, v)
        call(setattr, queue, "block", v)
        while queue.current_messages:
            queue.receive(0)
    queue.request_notification(None)
    queue.block = True
    queue.send(b"still works")
    assert queue.receive(0) == (b"still works", 0)


def test_uninitialised_object():
    q = pmq.MessageQueue.__new__(pmq.MessageQueue)
    for f in (lambda: q.send(b"x"), lambda: q.receive(0), lambda: q.send_batch([b"x"]),
              lambda: q.receive_batch(1, 0), q.close, q.unlink, lambda: q.block,
              lambda: q.current_messages, lambda: str(q), lambda: q.request_notification(None)):
        with pytest.raises((ValueError, AttributeError, TypeError, pmq.Error)):
            f()


def test_methods_after_close_and_free(qname):
    q = pmq.MessageQueue(qname, pmq.O_CREX, max_messages=2, max_message_size=16)
    q.close()
    q.unlink()
    q.__del__()
    for f in (lambda: q.send(b"x"), lambda: q.receive(0), lambda: q.send_batch([b"x"]),
              lambda: q.receive_batch(4, 0), q.close, q.unlink, lambda: q.block, lambda: setattr(q, "block", False), lambda: q.current_messages,
              lambda: str(q), lambda: q.request_notification(10),
              lambda: q.request_notification((print, 1)), lambda: q.request_notification(None),
              q.fileno):
        call(f)
    assert q.name == qname
    repr(q)
