import pmq as posix_ipc

mq = posix_ipc.MessageQueue('/block_queue', posix_ipc.O_CREAT)

# Enable non-blocking mode
mq.block = False

try:
    # This will raise BusyError immediately if queue is empty
    message, priority = mq.receive()
except posix_ipc.BusyError:
    print("Queue empty (non-blocking mode)")

# Re-enable blocking mode
mq.block = True

mq.close()
mq.unlink()
