"""A producer and a consumer task on one queue with asyncio (pmq only: posix_ipc
has no async API). Run: python asyncio_queue.py [shm]"""
import asyncio
import os
import sys

import pmq

backend = sys.argv[1] if len(sys.argv) > 1 else "kernel"
name = "/pmq-asyncio-example-%d" % os.getpid()


async def main():
    # Small on purpose: the producer waits for room (without a thread).
    q = pmq.MessageQueue(name, pmq.O_CREX, max_messages=2, max_message_size=64, backend=backend)
    try:
        async def produce():
            for i in range(5):
                await q.send_async(("job %d" % i).encode(), priority=i % 2)
            await q.send_async(b"")  # the end

        async def consume():
            while True:
                # Cancel-safe: a receive cancelled by the timeout took nothing.
                try:
                    message, priority = await asyncio.wait_for(q.receive_async(), 5)
                except asyncio.TimeoutError:
                    print("nothing for 5 s")
                    continue
                if not message:
                    return
                print("received (priority %d): %s" % (priority, message.decode()))

        await asyncio.gather(produce(), consume())
    finally:
        q.close()
        pmq.unlink_message_queue(name, backend=backend)


asyncio.run(main())
