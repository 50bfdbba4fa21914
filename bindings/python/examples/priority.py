import pmq as posix_ipc

mq = posix_ipc.MessageQueue('/priority_queue', posix_ipc.O_CREAT)

# Send messages with different priorities
mq.send(b'Low priority message', priority=1)
mq.send(b'High priority message', priority=10)  
mq.send(b'Medium priority message', priority=5)

# Receive messages (highest priority first)
for i in range(3):
    message, priority = mq.receive()
    print(f"Received (priority {priority}): {message.decode()}")

mq.close()
mq.unlink()
