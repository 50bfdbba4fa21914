// Asynchronous notification with a callback: a std::function runs on a new
// thread when the queue goes from empty to non-empty. The MessageQueue owns
// the function; it is destroyed safely on cancel, close or destruction.
// C++ version of the reference's "Asynchronous Notifications with Function Callback".
#include <pmq.hpp>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

static int run(const std::string &name) {
    std::mutex m;
    std::condition_variable cv;
    bool called = false;

    auto mq = pmq::MessageQueue::create(name, pmq::Options().max_messages(4).max_message_size(256));

    // Request notification via callback (the reference's (function, param):
    // the lambda captures what it needs)
    mq.notify_callback([&m, &cv, &called, queue_name = name] {
        std::lock_guard<std::mutex> lock(m);
        std::cout << "Callback called for queue: " << queue_name << std::endl;
        // Could process message here or signal main thread
        called = true;
        cv.notify_all();
    });

    std::cout << "Waiting for message notification..." << std::endl;

    // Send message from another thread
    std::thread sender([&name] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        auto sender_mq = pmq::MessageQueue::open(name);
        sender_mq.send("Callback test message");
        sender_mq.close();
    });

    // Wait for notification (at most 10 s instead of sleeping 5 s) and process message
    bool notified = false;
    {
        std::unique_lock<std::mutex> lock(m);
        notified = cv.wait_for(lock, std::chrono::seconds(10), [&] { return called; });
    }
    sender.join();
    pmq::Message msg = mq.receive(std::chrono::seconds(10));
    std::cout << "Received: " << msg.data << "\n";

    mq.close();
    mq.unlink();
    return notified && msg.data == "Callback test message" ? 0 : 1;
}

int main(int argc, char **argv) {
    // The queue name: the first argument if given (make test passes one with
    // its per-run prefix), else one of this process's own.
    const std::string name =
        argc > 1 ? std::string(argv[1]) : "/pmq-cpp-callback-" + std::to_string(::getpid());
    int rc = 1;
    try {
        rc = run(name);
    } catch (const pmq::Error &e) {
        std::cerr << "callback_notification: " << e.what() << "\n";
    }
    pmq::unlink_if_exists(name);
    return rc;
}
