"""close() from another thread at every step of send_async / receive_async
registering its wait: between reading the descriptor and the loop watching
it, just before and just after the loop watches it, with the freed
descriptor number taken by another file. On both backends the call must end
with the closed-queue ExistentialError, and the loop must watch nothing of
the queue afterwards. The steps are hit deterministically (a hook runs the
close in another thread and waits for it), not by chance."""

import asyncio
import os
import tempfile
import threading

import pytest

import pmq
from conftest import unique_name

ROUNDS = 5
# A failure bound, not a timing: with the bug the call waits forever.
BOUND = 10


class HookedQueue(pmq.MessageQueue):
    """Runs self.hook (once) right after mqd reads the descriptor."""

    def __init__(self, *args, **kwargs):
        self.hook = None
        super().__init__(*args, **kwargs)

    @property
    def mqd(self):
        fd = super().mqd
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()
        return fd


def close_in_another_thread(q, reused):
    """Closes q in another thread and waits for it; with reused (a list),
    other files then take the lowest free descriptor numbers (likely q's)."""
    t = threading.Thread(target=q.close)
    t.start()
    t.join()
    if reused is not None:
        for _ in range(4):
            reused.append(os.open(tempfile.gettempdir(), os.O_RDONLY))


@pytest.mark.parametrize("backend", ["kernel", "shm"])
@pytest.mark.parametrize("reuse", [False, True], ids=["fd-free", "fd-reused"])
@pytest.mark.parametrize("direction", ["receive", "send"])
@pytest.mark.parametrize("step", ["after-reading-the-descriptor", "before-the-loop-watches",
                                  "after-the-loop-watches"])
def test_close_from_another_thread_ends_the_wait(backend, reuse, direction, step):
    for _ in range(ROUNDS):
        name = unique_name("aio-close")
        q = HookedQueue(name, pmq.O_CREX, max_messages=2, max_message_size=16, backend=backend)
        reused = [] if reuse else None
        try:
            if direction == "send":
                while True:
                    try:
                        q.send(b"fill", timeout=0)
                    except pmq.BusyError:
                        break

            async def main():
                loop = asyncio.get_running_loop()
                watched_before = len(loop._selector.get_map())
                watch_name = "add_writer" if direction == "send" else "add_reader"
                real_watch = getattr(loop, watch_name)

                def watch(fd, *args):
                    if step == "before-the-loop-watches":
                        close_in_another_thread(q, reused)
                    real_watch(fd, *args)
                    if step == "after-the-loop-watches":
                        close_in_another_thread(q, reused)

                setattr(loop, watch_name, watch)
                if step == "after-reading-the-descriptor":
                    q.hook = lambda: close_in_another_thread(q, reused)
                call = q.send_async(b"x") if direction == "send" else q.receive_async()
                try:
                    await asyncio.wait_for(call, BOUND)
                except asyncio.TimeoutError:
                    pytest.fail("%s_async still waiting %d s after close()" % (direction, BOUND))
                except pmq.ExistentialError as e:
                    assert "closed" in str(e), e
                else:
                    pytest.fail("%s_async succeeded on a closed queue" % direction)
                # Let close()'s cleanup scheduled from the other thread run.
                for _ in range(3):
                    await asyncio.sleep(0)
                assert len(loop._selector.get_map()) == watched_before, \
                    "the loop still watches a descriptor of the closed queue"

            asyncio.run(main())
        finally:
            for fd in reused or ():
                os.close(fd)
            try:
                q.close()
            except pmq.ExistentialError:
                pass
            pmq.unlink_message_queue(name, backend=backend)
