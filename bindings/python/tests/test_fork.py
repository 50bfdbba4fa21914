"""fork() with a notification callback running: the child may close its
inherited queue (it must not wait for the parent's callback thread, which
does not exist in the child), and the parent's callback still finishes."""

import os
import threading
import time

import pmq


def _wait_child(pid, seconds):
    """The child's exit status, or None if it is still running after
    `seconds` (it is then killed)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return None


def test_close_in_a_child_forked_while_a_callback_runs(queue):
    entered = threading.Event()
    release = threading.Event()

    def callback(_):
        entered.set()
        release.wait(20)

    queue.request_notification((callback, None))
    queue.send(b"go")
    assert entered.wait(5), "the callback never ran"
    pid = os.fork()
    if pid == 0:
        # The child: closing must return (os._exit skips the parent's
        # cleanup handlers and pytest's).
        try:
            queue.close()
            os._exit(0)
        except BaseException:
            os._exit(3)
    try:
        status = _wait_child(pid, 10)
    finally:
        release.set()
    assert status is not None, "close() in the forked child hung"
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    # The parent's handle is untouched by the child's close.
    assert queue.receive(timeout=0)[0] == b"go"
