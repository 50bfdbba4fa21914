import pmq as posix_ipc

mq = posix_ipc.MessageQueue('/timeout_queue', posix_ipc.O_CREAT)

# Non-blocking send (queue empty, should succeed)
try:
    mq.send(b'Non-blocking message', timeout=0)
    print("Message sent immediately")
except posix_ipc.BusyError:
    print("Queue full, message not sent")

# Non-blocking receive
try:
    message, priority = mq.receive(timeout=0)
    print(f"Message received immediately: {message.decode()}")
except posix_ipc.BusyError:
    print("Queue empty, no message received")

# Timeout receive
try:
    message, priority = mq.receive(timeout=2.0)
    print(f"Message received within timeout: {message.decode()}")
except posix_ipc.BusyError:
    print("Timeout expired, no message received")

mq.close()
mq.unlink()
