"""A notification callback's references are released exactly once, by
libpmq's drop (pmq_queue_notify_callback(q, fn, param, drop)), whichever way
its registration ends: delivered, replaced (by a callback or a signal),
cancelled, closed, or freed with the handle. On both backends.

Two witnesses: the callback's parameter object's reference count is back to
what it was before the registration (a missing drop keeps one more; a
second drop of the same registration would release references it does not
own, and the count would fall below), and pmq._pmq.notify_counts() (how
many callback registrations libpmq accepted, how many drops ran) move in
step: one registration, one drop."""

import gc
import signal
import sys
import time
import weakref

import pytest

import pmq
from conftest import unique_name

WAIT = 10  # seconds to wait for something that must happen


def wait_until(cond, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class Param:
    """The callback's parameter: its reference count and weak reference show
    whether pmq still holds it."""


@pytest.fixture(params=["kernel", "shm"])
def backend(request):
    return request.param


@pytest.fixture
def open_queue(backend, make_queue):
    """open_queue() creates a 4 x 64-byte queue on the parameter's backend,
    closed and unlinked after the test (conftest's make_queue)."""
    return lambda: make_queue(tag="drop", backend=backend, max_messages=4, max_message_size=64)


def counts():
    return pmq._pmq.notify_counts()


class Witness:
    """Registers (callback, Param()) and checks, at the end, that the param is
    held by nothing pmq made and that drops == registrations since start."""

    def __init__(self):
        gc.collect()
        self.start = counts()
        self.param = Param()
        self.ref = weakref.ref(self.param)
        self.base = self.refs()
        self.calls = []

    def refs(self):
        # Read here, not in an assert: pytest's assert rewriting keeps the
        # asserted expression's parts in temporaries (one reference more).
        return sys.getrefcount(self.param)

    def callback(self, param):
        self.calls.append(param is self.param)

    def register(self, q):
        q.request_notification((self.callback, self.param))
        registered, _ = counts()
        assert registered == self.start[0] + 1
        # Held by the registration: exactly one reference more.
        assert self.refs() == self.base + 1

    def released(self):
        registered, dropped = counts()
        return (dropped - self.start[1] == registered - self.start[0]
                and self.refs() == self.base)

    def check(self):
        assert wait_until(self.released), (counts(), self.start,
                                           self.refs(), self.base)
        # And no further drop comes later.
        time.sleep(0.05)
        registered, dropped = counts()
        assert dropped - self.start[1] == registered - self.start[0] == 1
        assert self.refs() == self.base
        param = self.param
        del self.param
        del param
        gc.collect()
        assert self.ref() is None


def test_drop_once_on_delivery(open_queue):
    q = open_queue()
    w = Witness()
    w.register(q)
    q.send(b"x")
    assert wait_until(lambda: w.calls == [True])
    w.check()


def test_drop_once_on_replace_by_a_callback(open_queue):
    q = open_queue()
    w = Witness()
    w.register(q)
    other = []
    q.request_notification((other.append, "second"))
    # The first registration's references went inside that call.
    assert w.refs() == w.base
    q.request_notification(None)
    registered, dropped = counts()
    assert registered - w.start[0] == dropped - w.start[1] == 2
    assert w.refs() == w.base
    del w.param
    gc.collect()
    assert w.ref() is None
    assert w.calls == [] and other == []


def test_drop_once_on_replace_by_a_signal(open_queue):
    q = open_queue()
    w = Witness()
    w.register(q)
    old = signal.signal(signal.SIGUSR1, lambda *a: None)
    try:
        q.request_notification(signal.SIGUSR1)
        w.check()
        q.request_notification(None)
    finally:
        signal.signal(signal.SIGUSR1, old)


def test_drop_once_on_cancel(open_queue):
    q = open_queue()
    w = Witness()
    w.register(q)
    q.request_notification(None)
    w.check()
    q.send(b"x")  # nothing fires any more
    time.sleep(0.05)
    assert w.calls == []


def test_drop_once_on_close(open_queue):
    q = open_queue()
    w = Witness()
    w.register(q)
    q.close()
    w.check()


def test_drop_once_on_free(backend):
    # The handle itself, freed with a live registration (MessageQueue keeps
    # an armed queue alive, so its handle is freed only after close or
    # delivery; the extension's Handle is where the free happens).
    name = unique_name("dropfree")
    h = pmq._pmq.open(name.encode(), pmq.O_CREX, 0o600, 4, 64, True, True,
                      pmq.BACKENDS[backend])
    try:
        w = Witness()
        ctx = (None, w.callback, w.param, None)
        h.notify_callback(ctx)
        del ctx
        assert counts()[0] == w.start[0] + 1
        assert w.refs() == w.base + 1
        del h  # pmq_queue_free(): drop runs inside it
        w.check()
    finally:
        pmq.unlink_message_queue(name, backend=backend)


def test_no_drop_when_registration_fails(backend):
    # libpmq refuses the registration (a closed handle): it never owned the
    # param, so it never drops it; the extension releases its reference.
    name = unique_name("dropfail")
    h = pmq._pmq.open(name.encode(), pmq.O_CREX, 0o600, 4, 64, True, True,
                      pmq.BACKENDS[backend])
    try:
        h.close()
        w = Witness()
        with pytest.raises(pmq.ExistentialError):
            h.notify_callback((None, w.callback, w.param, None))
        assert counts() == w.start
        assert w.refs() == w.base
    finally:
        del h
        pmq.unlink_message_queue(name, backend=backend)
