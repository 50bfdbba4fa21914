"""MessageQueue's asyncio face: send_async, receive_async, lease_async and
lease_batch_async, waiting on the
queue's descriptor with the running loop (no thread)."""

import asyncio as _asyncio

from ._errors import BusyError, _closed_error


class _Waiters(set):
    """The asyncio futures of one (loop, direction) of a queue; watching: the
    loop watches the queue's descriptor for them."""

    __slots__ = ("watching",)

    def __init__(self):
        super().__init__()
        self.watching = False


def _wake_futures(futures):
    for fut in list(futures):
        if not fut.done():
            fut.set_result(None)



class _AsyncioMixin:
    """send_async / receive_async of MessageQueue (which sets _aio and
    mqd)."""

    __slots__ = ()

    async def send_async(self, message, priority=0):
        """Like send(), for asyncio: waits for room without a thread (the
        running loop watches the queue's descriptor) and tries once each time
        it is writable. Cancel-safe: cancelled before it returns, nothing was
        sent. Bound it with asyncio.wait_for / asyncio.timeout."""
        loop = _asyncio.get_running_loop()
        while True:
            try:
                return self.send(message, timeout=0, priority=priority)
            except BusyError:
                pass
            await self._aio_ready(loop, True)

    async def receive_async(self):
        """Like receive(), for asyncio: waits for a message without a thread
        and tries once each time the queue's descriptor is readable; returns
        (message, priority). Cancel-safe: cancelled before it returns,
        nothing was taken."""
        loop = _asyncio.get_running_loop()
        while True:
            try:
                return self.receive(0)
            except BusyError:
                pass
            await self._aio_ready(loop, False)

    async def lease_async(self, visibility=None):
        """Like lease(), for asyncio: waits for a message without a thread
        and returns (message, priority, Lease). Cancel-safe: cancelled
        before it returns, nothing was leased."""
        loop = _asyncio.get_running_loop()
        while True:
            try:
                return self.lease(0, visibility)
            except BusyError:
                pass
            await self._aio_ready(loop, False)

    async def lease_batch_async(self, max_messages, visibility=None):
        """Like lease_batch(), for asyncio: waits for the first message
        without a thread, then leases as many more as are there now."""
        loop = _asyncio.get_running_loop()
        while True:
            try:
                return self.lease_batch(max_messages, 0, visibility)
            except BusyError:
                pass
            await self._aio_ready(loop, False)

    async def _aio_ready(self, loop, writable):
        # close() may run in another thread at any point of this: it sets
        # _aio to None, then closes the descriptor, and wakes the waiters it
        # finds in the dict it took. A waiter it cannot have seen (added
        # after it took the dict) sees _aio changed below and raises the
        # closed-queue error itself, so no waiter is left behind and none
        # waits on a descriptor that was closed (or reused since).
        aio = self._aio
        fd = self.mqd
        if aio is None or fd < 0:
            raise _closed_error()
        key = (loop, writable)
        fut = loop.create_future()
        waiters = aio.get(key)
        if waiters is None:
            waiters = aio[key] = _Waiters()
        waiters.add(fut)
        try:
            if not waiters.watching:
                try:
                    if writable:
                        loop.add_writer(fd, self._aio_wake, key)
                    else:
                        loop.add_reader(fd, self._aio_wake, key)
                except OSError:
                    if self._aio is not aio:  # closed: fd is gone or another file's
                        raise _closed_error() from None
                    raise
                waiters.watching = True
            if self._aio is not aio:
                raise _closed_error()
            await fut
        finally:
            waiters.discard(fut)
            if not waiters and aio.get(key) is waiters:
                del aio[key]
                # Unless close() took this watch over (it removes it).
                if waiters.watching:
                    waiters.watching = False
                    if writable:
                        loop.remove_writer(fd)
                    else:
                        loop.remove_reader(fd)

    def _aio_wake(self, key):
        # Every waiter tries again (readiness is only a hint: the losers
        # find nothing and wait again).
        aio = self._aio
        if aio:
            _wake_futures(aio.get(key, ()))
