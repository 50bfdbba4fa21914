import pmq as posix_ipc
import os
import time
import json

def producer():
    mq = posix_ipc.MessageQueue('/producer_consumer', posix_ipc.O_CREAT)
    
    for i in range(10):
        data = {'id': i, 'timestamp': time.time(), 'value': i * 10}
        message = json.dumps(data).encode()
        mq.send(message, priority=i % 3)  # Vary priority
        print(f"Produced: {data}")
        time.sleep(0.5)
    
    # Send termination message
    mq.send(b'STOP', priority=99)
    mq.close()

def consumer():  
    mq = posix_ipc.MessageQueue('/producer_consumer')
    
    while True:
        message, priority = mq.receive()
        
        if message == b'STOP':
            print("Consumer stopping")
            break
            
        data = json.loads(message.decode())
        print(f"Consumed (priority {priority}): {data}")
        time.sleep(0.2)
    
    mq.close()
    mq.unlink()

# Run producer and consumer in separate processes
if os.fork() == 0:  # Child - consumer
    consumer()
else:  # Parent - producer
    producer()
    os.wait()  # Wait for child to finish
