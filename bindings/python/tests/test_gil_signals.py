"""Blocking calls release the GIL; signals during a blocking call run their
Python handler, then raise SignalError (or the handler's exception)."""

import signal
import threading
import time

import pytest

import pmq


def test_other_threads_run_while_one_blocks_in_receive(queue):
    progress = []

    def worker():
        # Pure Python work: impossible unless the blocked thread released the GIL.
        for i in range(1000):
            progress.append(i)
        queue.send(b"made progress")

    t = threading.Thread(target=worker)
    t.start()
    try:
        # Without a released GIL the worker could never send: BusyError.
        assert queue.receive(timeout=30) == (b"made progress", 0)
    finally:
        t.join()
    assert len(progress) == 1000


def test_other_threads_run_while_one_blocks_in_send(queue):
    for _ in range(queue.max_messages):
        queue.send(b"fill")
    drained = []

    def worker():
        time.sleep(0.05)
        drained.append(queue.receive(timeout=0))

    t = threading.Thread(target=worker)
    t.start()
    try:
        queue.send(b"one more", timeout=30)
    finally:
        t.join()
    assert drained == [(b"fill", 0)]


class Interrupter:
    """Sends `signum` to the main thread every 50 ms until stopped, once the
    main thread says it is about to block (thread-directed, so the signal
    interrupts exactly the blocked call)."""

    def __init__(self, signum):
        self.signum = signum
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.main = threading.main_thread().ident
        self.thread = threading.Thread(target=self.run)

    def run(self):
        self.ready.wait()
        while not self.stop.wait(0.05):
            signal.pthread_kill(self.main, self.signum)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


@pytest.fixture
def sigusr2_counter():
    got = []
    old = signal.signal(signal.SIGUSR2, lambda signum, frame: got.append(signum))
    yield got
    signal.signal(signal.SIGUSR2, old)


def test_signal_during_blocking_receive_raises_signal_error(queue, sigusr2_counter):
    with Interrupter(signal.SIGUSR2) as intr:
        intr.ready.set()
        with pytest.raises(pmq.SignalError, match="signal"):
            queue.receive(timeout=60)
    assert sigusr2_counter  # the Python handler ran
    # Nothing was lost or left in a wrong state.
    queue.send(b"after")
    assert queue.current_messages == 1
    assert queue.receive(timeout=0) == (b"after", 0)


def test_signal_during_blocking_send_raises_signal_error(queue, sigusr2_counter):
    for _ in range(queue.max_messages):
        queue.send(b"fill")
    with Interrupter(signal.SIGUSR2) as intr:
        intr.ready.set()
        with pytest.raises(pmq.SignalError):
            queue.send(b"never", timeout=None)
    assert sigusr2_counter
    assert queue.current_messages == queue.max_messages
    assert [queue.receive(timeout=0)[0] for _ in range(queue.max_messages)] == [b"fill"] * 4


def test_ctrl_c_during_blocking_receive_raises_keyboard_interrupt(queue):
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with Interrupter(signal.SIGINT) as intr:
        intr.ready.set()
        with pytest.raises(KeyboardInterrupt):
            queue.receive()
    queue.send(b"still fine")
    assert queue.receive(timeout=0) == (b"still fine", 0)


def test_handler_exception_wins_over_signal_error(queue):
    class Stop(Exception):
        pass

    def handler(signum, frame):
        raise Stop()

    old = signal.signal(signal.SIGUSR2, handler)
    try:
        with Interrupter(signal.SIGUSR2) as intr:
            intr.ready.set()
            with pytest.raises(Stop):
                queue.receive(timeout=60)
    finally:
        signal.signal(signal.SIGUSR2, old)


def test_error_detail_survives_a_handler_that_fails_a_pmq_call(queue, make_queue):
    # The handler's own failing pmq call runs between the interrupted call's
    # return and the reading of its detail; the detail must still be ours.
    other = make_queue()
    seen = []

    def handler(signum, frame):
        try:
            other.receive(timeout=0)
        except pmq.BusyError as e:
            seen.append(str(e))

    old = signal.signal(signal.SIGUSR2, handler)
    try:
        with Interrupter(signal.SIGUSR2) as intr:
            intr.ready.set()
            with pytest.raises(pmq.SignalError) as info:
                queue.receive(timeout=60)
    finally:
        signal.signal(signal.SIGUSR2, old)
    assert seen and "empty" in seen[0]
    assert "signal" in str(info.value) and "empty" not in str(info.value)
