import pmq as posix_ipc

# Create queue with specific limits
mq = posix_ipc.MessageQueue('/capacity_queue', posix_ipc.O_CREAT, 
                           max_messages=5, max_message_size=256)

print(f"Max messages: {mq.max_messages}")
print(f"Max message size: {mq.max_message_size}")
print(f"Current messages: {mq.current_messages}")

# Fill the queue to capacity
for i in range(mq.max_messages):
    mq.send(f'Message {i}'.encode())
    print(f"Sent message {i}, queue has {mq.current_messages} messages")

# Try to send one more (should block or fail depending on timeout)
try:
    mq.send(b'Overflow message', timeout=0)
except posix_ipc.BusyError:
    print("Queue full - cannot send more messages")

mq.close()
mq.unlink()
