// The block property: with block off, a receive on an empty queue fails at
// once instead of waiting. C++ version of the reference's "Using Block Property".
#include <pmq.hpp>

#include <unistd.h>

#include <iostream>
#include <string>

static int run(const std::string &name) {
    auto mq = pmq::MessageQueue::create(name, pmq::Options().max_messages(4).max_message_size(256));
    int rc = 1;

    // Enable non-blocking mode
    mq.set_block(false);

    try {
        // This will throw pmq::BusyError immediately if the queue is empty
        auto [message, priority] = mq.receive();
        std::cout << "Unexpected message: " << message << " (priority " << priority << ")\n";
    } catch (const pmq::BusyError &) {
        std::cout << "Queue empty (non-blocking mode)\n";
        rc = 0;
    }

    // Re-enable blocking mode
    mq.set_block(true);
    std::cout << "block = " << std::boolalpha << mq.block() << "\n";
    if (!mq.block()) rc = 1;

    mq.close();
    mq.unlink();
    return rc;
}

int main(int argc, char **argv) {
    // The queue name: the first argument if given (make test passes one with
    // its per-run prefix), else one of this process's own.
    const std::string name =
        argc > 1 ? std::string(argv[1]) : "/pmq-cpp-block-" + std::to_string(::getpid());
    int rc = 1;
    try {
        rc = run(name);
    } catch (const pmq::Error &e) {
        std::cerr << "block: " << e.what() << "\n";
    }
    pmq::unlink_if_exists(name);
    return rc;
}
