// Basic message queue usage: create, send, receive, close, unlink.
// C++ version of the reference's "Basic Message Queue Usage".
#include <pmq.hpp>

#include <unistd.h>

#include <iostream>
#include <string>

static int run(const std::string &name) {
    // Check if message queues are supported
    if (!pmq::message_queues_supported()) {
        std::cout << "Message queues not supported on this platform\n";
        return 1;
    }

    // Create a message queue (small: the kernel's per-user budget is shared)
    auto mq = pmq::MessageQueue::create(name, pmq::Options().max_messages(4).max_message_size(256));

    // Send a message
    const std::string message = "Hello, message queue!";
    mq.send(message);

    // Receive the message
    auto [received, priority] = mq.receive();
    std::cout << "Received: " << received << ", Priority: " << priority << "\n";

    // Clean up
    mq.close();
    mq.unlink();
    return received == message && priority == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    // The queue name: the first argument if given (make test passes one with
    // its per-run prefix), else one of this process's own.
    const std::string name =
        argc > 1 ? std::string(argv[1]) : "/pmq-cpp-basic-" + std::to_string(::getpid());
    int rc = 1;
    try {
        rc = run(name);
    } catch (const pmq::Error &e) {
        std::cerr << "basic: " << e.what() << "\n";
    }
    pmq::unlink_if_exists(name);  // in case of a failure half-way
    return rc;
}
