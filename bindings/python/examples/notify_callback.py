import pmq as posix_ipc
import threading
import time

def notification_callback(queue_name):
    print(f"Callback called for queue: {queue_name}")
    # Could process message here or signal main thread

mq = posix_ipc.MessageQueue('/callback_queue', posix_ipc.O_CREAT)

# Request notification via callback
mq.request_notification((notification_callback, '/callback_queue'))

print("Waiting for message notification...")

# Send message from another thread
def send_message():
    time.sleep(2)
    sender_mq = posix_ipc.MessageQueue('/callback_queue')
    sender_mq.send(b'Callback test message')
    sender_mq.close()

threading.Thread(target=send_message).start()

# Wait for notification and process message
time.sleep(5)
message, priority = mq.receive()
print(f"Received: {message.decode()}")

mq.close()
mq.unlink()
