// Queue capacity and limits: fill a queue of 5 messages, then a try-once
// send fails with pmq::BusyError (or try_send returns false).
// C++ version of the reference's "Queue Capacity and Limits".
#include <pmq.hpp>

#include <unistd.h>

#include <iostream>
#include <string>

static int run(const std::string &name) {
    // Create queue with specific limits
    auto mq = pmq::MessageQueue::create(name, pmq::Options().max_messages(5).max_message_size(256));

    std::cout << "Max messages: " << mq.max_messages() << "\n";
    std::cout << "Max message size: " << mq.max_message_size() << "\n";
    std::cout << "Current messages: " << mq.current_messages() << "\n";
    std::cout << mq.repr() << "\n";

    // Fill the queue to capacity
    for (std::int64_t i = 0; i < mq.max_messages(); i++) {
        mq.send("Message " + std::to_string(i));
        std::cout << "Sent message " << i << ", queue has " << mq.current_messages()
                  << " messages\n";
    }

    // Try to send one more (would block; fail at once instead)
    int rc = 1;
    try {
        mq.send("Overflow message", pmq::try_once);
    } catch (const pmq::BusyError &) {
        std::cout << "Queue full - cannot send more messages\n";
        rc = 0;
    }
    if (mq.try_send("Overflow message")) rc = 1;  // the non-throwing form agrees
    if (mq.current_messages() != 5) rc = 1;

    // The system's limits, for comparison
    const pmq::Limits l = pmq::limits();
    std::cout << "System: msg_max " << l.msg_max << ", msgsize_max " << l.msgsize_max
              << ", this queue costs " << pmq::queue_cost(5, 256) << " bytes of RLIMIT_MSGQUEUE\n";

    mq.close();
    mq.unlink();
    return rc;
}

int main(int argc, char **argv) {
    // The queue name: the first argument if given (make test passes one with
    // its per-run prefix), else one of this process's own.
    const std::string name =
        argc > 1 ? std::string(argv[1]) : "/pmq-cpp-capacity-" + std::to_string(::getpid());
    int rc = 1;
    try {
        rc = run(name);
    } catch (const pmq::Error &e) {
        std::cerr << "capacity: " << e.what() << "\n";
    }
    pmq::unlink_if_exists(name);
    return rc;
}
