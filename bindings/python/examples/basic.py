import pmq as posix_ipc

# Check if message queues are supported
if not posix_ipc.MESSAGE_QUEUES_SUPPORTED:
    print("Message queues not supported on this platform")
    exit(1)

# Create a message queue
mq = posix_ipc.MessageQueue('/my_queue', posix_ipc.O_CREAT)

# Send a message
message = b'Hello, message queue!'
mq.send(message)

# Receive the message
received_message, priority = mq.receive()
print(f"Received: {received_message.decode()}, Priority: {priority}")

# Clean up
mq.close()
mq.unlink()
