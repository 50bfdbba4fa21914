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


def test_shm_child_gets_its_own_readiness_descriptor():
    """The shm backend's readiness descriptor across fork: the parent reads
    fileno() (starting its helper thread) before fork; after the parent closes its
    queue, the child's fileno() is a new descriptor that turns readable when
    a message arrives, and the child's close() works. Driven by pipes."""
    import select

    from conftest import unique_name

    name = unique_name("shm-fork-fd")
    q = pmq.MessageQueue(name, pmq.O_CREX, max_messages=4, max_message_size=16, backend="shm")
    try:
        before = q.fileno()
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(down_w)
                os.close(up_r)
                os.read(down_r, 1)  # the parent closed its handle
                fd = q.fileno()
                code = 2
                if fd != before and not select.select([fd], [], [], 0)[0]:
                    os.write(up_w, b"r")
                    code = 3
                    if select.select([fd], [], [], 5)[0]:
                        code = 4
                        q.close()
                        code = 0
            except BaseException:
                pass
            os._exit(code)
        os.close(down_r)
        os.close(up_w)
        q.close()
        os.write(down_w, b"c")
        assert os.read(up_r, 1) == b"r", "the child's descriptor was the dead one"
        sender = pmq.MessageQueue(name, backend="shm")
        sender.send(b"wake")
        sender.close()
        status = _wait_child(pid, 10)
        os.close(down_w)
        os.close(up_r)
        assert status is not None and os.WIFEXITED(status), status
        assert os.WEXITSTATUS(status) == 0, "child failed at step %d" % os.WEXITSTATUS(status)
    finally:
        pmq.unlink_message_queue(name, backend="shm")
