import pmq as posix_ipc
import signal
import os
import time

# Signal handler
def message_arrived(signum, frame):
    print(f"Signal {signum} received - message available!")

# Set up signal handler
signal.signal(signal.SIGUSR1, message_arrived)

mq = posix_ipc.MessageQueue('/notify_queue', posix_ipc.O_CREAT)

# Request notification via signal
mq.request_notification(signal.SIGUSR1)

print("Waiting for message notification...")

# In another process, send a message to trigger notification
if os.fork() == 0:  # Child process
    time.sleep(2)  # Wait a bit
    child_mq = posix_ipc.MessageQueue('/notify_queue')
    child_mq.send(b'Notification test message')
    child_mq.close()
    exit(0)

# Parent process waits for signal
time.sleep(5)

# Receive the message
message, priority = mq.receive()
print(f"Received: {message.decode()}")

mq.close()
mq.unlink()
