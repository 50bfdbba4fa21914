// Priority-based messaging: highest priority first, FIFO within a priority.
// C++ version of the reference's "Priority-Based Messaging".
#include <pmq.hpp>

#include <unistd.h>

#include <iostream>
#include <string>

static int run(const std::string &name) {
    auto mq = pmq::MessageQueue::create(name, pmq::Options().max_messages(4).max_message_size(256));

    // Send messages with different priorities (timeout first, then priority,
    // as in the reference's send(message, timeout=None, priority=0))
    mq.send("Low priority message", pmq::forever, 1);
    mq.send("High priority message", pmq::forever, 10);
    mq.send("Medium priority message", pmq::forever, 5);

    // Receive messages (highest priority first)
    const pmq::Priority expected[] = {10, 5, 1};
    int rc = 0;
    for (pmq::Priority want : expected) {
        pmq::Message m = mq.receive();
        std::cout << "Received (priority " << m.priority << "): " << m.data << "\n";
        if (m.priority != want) rc = 1;
    }

    mq.close();
    mq.unlink();
    return rc;
}

int main(int argc, char **argv) {
    // The queue name: the first argument if given (make test passes one with
    // its per-run prefix), else one of this process's own.
    const std::string name =
        argc > 1 ? std::string(argv[1]) : "/pmq-cpp-priority-" + std::to_string(::getpid());
    int rc = 1;
    try {
        rc = run(name);
    } catch (const pmq::Error &e) {
        std::cerr << "priority: " << e.what() << "\n";
    }
    pmq::unlink_if_exists(name);
    return rc;
}
