"""request_notification: signal numbers, (function, param) callbacks, None."""

import gc
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
import warnings
import weakref

import pytest

import pmq
from conftest import SMALL

WAIT = 10  # seconds to wait for something that must happen
QUIET = 0.3  # seconds to wait to see that something does not happen


def wait_until(cond, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)  # also lets the main thread run signal handlers
    return True


@pytest.fixture
def sigusr1():
    """Records SIGUSR1 deliveries (Python runs the handler in the main thread)."""
    got = []
    old = signal.signal(signal.SIGUSR1, lambda signum, frame: got.append(signum))
    yield got
    signal.signal(signal.SIGUSR1, old)


# ------------------------------------------------------------------ signals

def test_signal_when_queue_becomes_non_empty(queue, sigusr1):
    queue.request_notification(signal.SIGUSR1)
    assert sigusr1 == []
    queue.send(b"x")
    assert wait_until(lambda: sigusr1 == [signal.SIGUSR1])


def test_signal_is_one_shot(queue, sigusr1):
    queue.request_notification(signal.SIGUSR1)
    queue.send(b"x")
    assert wait_until(lambda: len(sigusr1) == 1)
    queue.receive()
    queue.send(b"y")  # empty -> non-empty again, but no registration
    time.sleep(QUIET)
    assert len(sigusr1) == 1
    queue.receive()
    queue.request_notification(signal.SIGUSR1)  # ask again
    queue.send(b"z")
    assert wait_until(lambda: len(sigusr1) == 2)


def test_only_empty_to_non_empty_notifies(queue, sigusr1):
    queue.send(b"already there")
    queue.request_notification(signal.SIGUSR1)
    queue.send(b"second")
    time.sleep(QUIET)
    assert sigusr1 == []


def test_none_cancels_a_signal(queue, sigusr1):
    queue.request_notification(signal.SIGUSR1)
    queue.request_notification(None)
    queue.send(b"x")
    time.sleep(QUIET)
    assert sigusr1 == []


def test_cancelling_often_is_fine(queue):
    for _ in range(1000):
        queue.request_notification()
    queue.request_notification(signal.SIGUSR1)
    for _ in range(100):
        queue.request_notification(None)


@pytest.mark.parametrize("bad", [0, -1, 999])
def test_bad_signal_number_is_value_error(queue, bad):
    with pytest.raises(ValueError, match="signal"):
        queue.request_notification(bad)


@pytest.mark.parametrize("bad", ["x", (print,), (1, 2), (print, 1, 2), [print, 1], 1.5])
def test_bad_notification_is_value_error(queue, bad):
    with pytest.raises(ValueError, match="notification must be None"):
        queue.request_notification(bad)


# ---------------------------------------------------------------- callbacks

def test_callback_runs_in_a_new_thread_with_param(queue):
    calls = []
    done = threading.Event()

    def cb(param):
        calls.append((param, threading.get_ident()))
        done.set()

    queue.request_notification((cb, "the param"))
    queue.send(b"x")
    assert done.wait(WAIT)
    assert calls[0][0] == "the param"
    assert calls[0][1] != threading.get_ident()
    assert queue.receive() == (b"x", 0)  # the message is still there


def test_callback_is_one_shot(queue):
    calls = []
    queue.request_notification((calls.append, 1))
    queue.send(b"x")
    assert wait_until(lambda: calls == [1])
    queue.receive()
    queue.send(b"y")
    time.sleep(QUIET)
    assert calls == [1]


def test_callback_may_receive_and_register_again(queue):
    got = []
    event = threading.Event()

    def cb(param):
        got.append((param, queue.receive(timeout=0)))
        queue.request_notification((cb, param + 1))
        event.set()

    queue.request_notification((cb, 0))
    for i in range(10):
        queue.send(b"m%d" % i, priority=i)
        assert event.wait(WAIT), "cycle %d" % i
        event.clear()
    assert got == [(i, (b"m%d" % i, i)) for i in range(10)]
    queue.request_notification(None)


def test_none_cancels_a_callback(queue):
    calls = []
    queue.request_notification((calls.append, 1))
    queue.request_notification(None)
    queue.send(b"x")
    time.sleep(QUIET)
    assert calls == []
    assert id(queue) not in pmq._armed


def test_new_registration_replaces_the_old(queue, sigusr1):
    calls = []
    queue.request_notification((calls.append, "old"))
    queue.request_notification((calls.append, "new"))
    queue.send(b"x")
    assert wait_until(lambda: calls == ["new"])
    queue.receive()
    queue.request_notification((calls.append, "callback"))
    queue.request_notification(signal.SIGUSR1)  # a signal replaces a callback
    queue.send(b"y")
    assert wait_until(lambda: sigusr1 == [signal.SIGUSR1])
    time.sleep(QUIET)
    assert calls == ["new"]


def kept_after(step, n=20000):
    """Bytes still allocated (tracemalloc, after a collection) by n calls of
    step(i), after a warm-up."""
    for i in range(100):
        step(i)
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(n):
            step(i)
        gc.collect()
        return tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


# A kept callback registration costs some 300 bytes: 20,000 of them, 6 MB.
KEPT_LIMIT = 200_000


def test_rearming_keeps_only_the_live_registration(queue):
    calls = []
    kept = kept_after(lambda i: queue.request_notification((calls.append, i)))
    assert kept < KEPT_LIMIT, "20,000 re-arms kept %d bytes" % kept
    queue.send(b"x")  # only the last registration is live
    assert wait_until(lambda: calls == [19999])
    time.sleep(QUIET)
    assert calls == [19999]


def test_a_signal_registration_releases_the_callback_it_replaces(queue, sigusr1):
    calls = []

    def step(i):
        queue.request_notification((calls.append, i))
        queue.request_notification(signal.SIGUSR1)

    kept = kept_after(step, 10000)
    assert kept < KEPT_LIMIT, "10,000 callback+signal registrations kept %d bytes" % kept
    assert id(queue) not in pmq._armed
    queue.send(b"x")
    assert wait_until(lambda: sigusr1 == [signal.SIGUSR1])
    time.sleep(QUIET)
    assert calls == []


CHURN = r"""
import sys, time, pmq
q = pmq.MessageQueue(sys.argv[1])
print("open", flush=True)
end = time.monotonic() + float(sys.argv[2])
n = 0
while time.monotonic() < end:  # empty -> non-empty, again and again
    q.send(b"x")
    q.receive()
    n += 1
q.close()
print(n)
"""

REARM_WHILE_DELIVERING = r"""
import subprocess, sys, time, pmq
q = pmq.MessageQueue(sys.argv[1], pmq.O_CREX, max_messages=2, max_message_size=8)
churn = subprocess.Popen([sys.executable, "-c", sys.argv[2], sys.argv[1], "1.5"],
                         stdout=subprocess.PIPE, text=True)
assert churn.stdout.readline() == "open\n"
calls = []
rearms = 0
while churn.poll() is None:
    q.request_notification((calls.append, rearms))
    rearms += 1
    if rearms % 2:
        time.sleep(0.0002)  # lets some deliveries reach Python
q.request_notification(None)
assert churn.wait() == 0
assert len(calls) == len(set(calls)), "a registration was called twice"
print("ok: %d re-arms, %d calls, %s transitions" % (rearms, len(calls), churn.stdout.read().strip()))
q.close()
"""


def test_rearming_while_deliveries_run_never_uses_a_released_registration(qname):
    # A delivery libpmq had started when a re-arm replaced its registration
    # may reach Python after the re-arm returned; the released registration
    # must not be used then. In a child: a crash there fails the test.
    child = subprocess.run([sys.executable, "-c", REARM_WHILE_DELIVERING, qname, CHURN],
                           capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    assert child.stdout.startswith("ok")


def test_close_cancels_and_no_callback_runs_after(make_queue):
    q = make_queue()
    other = pmq.MessageQueue(q.name)
    try:
        calls = []
        q.request_notification((calls.append, 1))
        q.close()
        assert id(q) not in pmq._armed
        other.send(b"x")
        time.sleep(QUIET)
        assert calls == []
    finally:
        other.close()


def test_closing_any_descriptor_drops_the_registration(queue):
    # The kernel's rule, which libpmq documents: a process closing any
    # descriptor of the queue loses its registration.
    calls = []
    queue.request_notification((calls.append, 1))
    pmq.MessageQueue(queue.name).close()
    queue.send(b"x")
    time.sleep(QUIET)
    assert calls == []


def test_armed_queue_is_kept_alive_until_the_callback(qname):
    q = pmq.MessageQueue(qname, pmq.O_CREX, **SMALL)
    other = pmq.MessageQueue(qname)
    try:
        calls = []
        done = threading.Event()

        def cb(param):
            calls.append(param)
            done.set()

        q.request_notification((cb, "alive"))
        ref = weakref.ref(q)
        del q
        gc.collect()
        assert ref() is not None  # kept while armed, as the reference does
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            other.send(b"x")
            assert done.wait(WAIT)
            assert wait_until(lambda: (gc.collect(), ref() is None)[1])
        assert calls == ["alive"]
    finally:
        other.close()


def test_callback_exception_is_reported(queue, monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)

    def cb(param):
        raise RuntimeError("callback failed: %s" % param)

    queue.request_notification((cb, "p"))
    queue.send(b"x")
    assert wait_until(lambda: reported)
    args = reported[0]
    assert args.exc_type is RuntimeError
    assert str(args.exc_value) == "callback failed: p"
    assert args.object is cb  # reported as the callback's
    notes = getattr(args.exc_value, "__notes__", [])
    assert any(queue.name in n for n in notes) or sys.version_info < (3, 11)


CHILD_HOLDS_REGISTRATION = r"""
import signal, sys, pmq
signal.signal(signal.SIGUSR2, lambda *a: None)
q = pmq.MessageQueue(sys.argv[1])
q.request_notification(signal.SIGUSR2)
print("registered", flush=True)
sys.stdin.readline()
q.close()
"""


def test_busy_when_another_process_holds_the_registration(queue):
    child = subprocess.Popen([sys.executable, "-c", CHILD_HOLDS_REGISTRATION, queue.name],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "registered"
        with pytest.raises(pmq.BusyError, match="notif"):
            queue.request_notification(signal.SIGUSR1)
        with pytest.raises(pmq.BusyError):
            queue.request_notification((print, 1))
        queue.request_notification(None)  # leaves the other process's alone
        with pytest.raises(pmq.BusyError):
            queue.request_notification(signal.SIGUSR1)
    finally:
        child.stdin.write("\n")
        child.stdin.close()
        assert child.wait(WAIT) == 0
    calls = []
    queue.request_notification((calls.append, "mine now"))
    queue.send(b"x")
    assert wait_until(lambda: calls == ["mine now"])
