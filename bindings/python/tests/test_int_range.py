"""Every integer parameter: a value out of range is a ValueError however
large it is (never OverflowError), so ``except ValueError`` is enough."""

import signal

import pytest

import pmq
from conftest import SMALL, unique_name

# Beyond a C long (posix_ipc: OverflowError), and beyond a C int.
BEYOND_LONG = [2**63, 2**64, 2**200, -2**63 - 1, -2**64, -2**200]
HUGE = [2**31, -2**31 - 1] + BEYOND_LONG


@pytest.fixture(params=["kernel", "shm"])
def bqueue(request):
    name = unique_name("int-" + request.param)
    q = pmq.MessageQueue(name, pmq.O_CREX, backend=request.param, **SMALL)
    yield q
    q.close()
    pmq.unlink_message_queue(name, backend=request.param)


def only_value_error(call, match=None):
    with pytest.raises(ValueError, match=match) as e:
        call()
    assert not isinstance(e.value, OverflowError), repr(e.value)
    return e.value


def test_priority(bqueue):
    for bad in [-1, pmq.QUEUE_PRIORITY_MAX + 1, 2**63 - 1] + HUGE:
        only_value_error(lambda: bqueue.send(b"x", priority=bad), "QUEUE_PRIORITY_MAX")
        only_value_error(lambda: bqueue.send(b"x", timeout=0, priority=bad), "QUEUE_PRIORITY_MAX")
        only_value_error(lambda: bqueue.send_batch([b"ok", (b"x", bad)]),
                         "QUEUE_PRIORITY_MAX.*message 1")
    assert bqueue.current_messages == 0


def test_timeouts(bqueue):
    for bad in (-1, -2**63 - 1, -2**64, -10**400):
        only_value_error(lambda: bqueue.receive(timeout=bad), "timeout")
        only_value_error(lambda: bqueue.send(b"x", timeout=bad), "timeout")
        only_value_error(lambda: bqueue.receive_batch(1, timeout=bad), "timeout")
        only_value_error(lambda: bqueue.send_batch([b"x"], timeout=bad), "timeout")
    assert bqueue.current_messages == 0


def test_batch_size(bqueue):
    for bad in (-1, -2**63 - 1, -2**64, -2**200):
        only_value_error(lambda: bqueue.receive_batch(bad, timeout=0), "max_messages")


@pytest.mark.parametrize("backend", ["kernel", "shm"])
@pytest.mark.parametrize("param, values", [
    # (2**31 is no error for a shm queue's sizes: the shm backend has no
    # kernel limit.)
    ("max_messages", [-1, 0] + BEYOND_LONG),
    ("max_message_size", [-1, 0] + BEYOND_LONG),
    ("mode", [-1, 0o7777 + 2**31] + HUGE),
    ("flags", [12345678] + HUGE),
])
def test_open_parameters(backend, param, values):
    name = unique_name("int-open")
    try:
        for bad in values:
            opts = dict(SMALL, flags=pmq.O_CREX, backend=backend)
            opts[param] = bad
            only_value_error(lambda: pmq.MessageQueue(name, **opts))
        # Nothing was created.
        with pytest.raises(pmq.ExistentialError):
            pmq.MessageQueue(name, backend=backend)
    finally:
        try:
            pmq.unlink_message_queue(name, backend=backend)
        except pmq.ExistentialError:
            pass


def test_signal_numbers(bqueue):
    for bad in [-1, 0, int(signal.SIGRTMAX) + 1] + HUGE:
        only_value_error(lambda: bqueue.request_notification(bad), "signal")
