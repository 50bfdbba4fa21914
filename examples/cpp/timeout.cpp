// Non-blocking and timeout operations: pmq::try_once, std::chrono timeouts,
// pmq::BusyError, and the non-throwing try_receive for hot loops.
// C++ version of the reference's "Non-Blocking and Timeout Operations".
#include <pmq.hpp>

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>

using namespace std::chrono_literals;

static int run(const std::string &name) {
    auto mq = pmq::MessageQueue::create(name, pmq::Options().max_messages(4).max_message_size(256));
    int rc = 0;

    // Non-blocking send (queue empty, should succeed)
    try {
        mq.send("Non-blocking message", pmq::try_once);
        std::cout << "Message sent immediately\n";
    } catch (const pmq::BusyError &) {
        std::cout << "Queue full, message not sent\n";
        rc = 1;
    }

    // Non-blocking receive
    try {
        pmq::Message m = mq.receive(pmq::try_once);
        std::cout << "Message received immediately: " << m.data << "\n";
    } catch (const pmq::BusyError &) {
        std::cout << "Queue empty, no message received\n";
        rc = 1;
    }

    // Timeout receive (the reference waits 2 s; 200 ms is enough to show it)
    try {
        pmq::Message m = mq.receive(200ms);
        std::cout << "Message received within timeout: " << m.data << "\n";
        rc = 1;  // the queue is empty: this must time out
    } catch (const pmq::BusyError &e) {
        std::cout << "Timeout expired, no message received (" << e.name() << ")\n";
    }

    // The same without exceptions, for hot loops
    if (auto m = mq.try_receive()) {
        std::cout << "Unexpected message: " << m->data << "\n";
        rc = 1;
    } else {
        std::cout << "try_receive: queue empty\n";
    }

    mq.close();
    mq.unlink();
    return rc;
}

int main(int argc, char **argv) {
    // The queue name: the first argument if given (make test passes one with
    // its per-run prefix), else one of this process's own.
    const std::string name =
        argc > 1 ? std::string(argv[1]) : "/pmq-cpp-timeout-" + std::to_string(::getpid());
    int rc = 1;
    try {
        rc = run(name);
    } catch (const pmq::Error &e) {
        std::cerr << "timeout: " << e.what() << "\n";
    }
    pmq::unlink_if_exists(name);
    return rc;
}
