// Producer-consumer across two processes (fork): the parent produces ten
// JSON messages with varying priorities, the forked child consumes them
// until STOP. C++ version of the reference's "Producer-Consumer Pattern".
#include <pmq.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <set>
#include <string>
#include <thread>

using namespace std::chrono_literals;

static double now_seconds() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

static int producer(const std::string &name) {
    auto mq = pmq::MessageQueue::create(name, pmq::Options().max_messages(10).max_message_size(256));

    for (int i = 0; i < 10; i++) {
        char data[128];
        std::snprintf(data, sizeof data, "{\"id\": %d, \"timestamp\": %.3f, \"value\": %d}", i,
                      now_seconds(), i * 10);
        mq.send(data, pmq::forever, static_cast<pmq::Priority>(i % 3));  // Vary priority
        std::cout << "Produced: " << data << std::endl;
        std::this_thread::sleep_for(20ms);  // the reference sleeps 0.5 s
    }

    // Send termination message. The reference sends it at priority 99, which
    // lets it overtake messages still waiting when the consumer is slow; at
    // the lowest priority it is always received last.
    mq.send("STOP", pmq::forever, 0);
    mq.close();
    return 0;
}

static int consumer(const std::string &name) {
    auto mq = pmq::MessageQueue::open(name, pmq::Options().write(false));
    std::set<int> ids;

    while (true) {
        pmq::Message m = mq.receive(10s);  // bounded, so a dead producer cannot hang us

        if (m.data == "STOP") {
            std::cout << "Consumer stopping" << std::endl;
            break;
        }

        int id = -1, value = -1;
        double timestamp = 0;
        if (std::sscanf(m.data.c_str(), "{\"id\": %d, \"timestamp\": %lf, \"value\": %d}", &id,
                        &timestamp, &value) != 3 ||
            value != id * 10 || m.priority != static_cast<pmq::Priority>(id % 3)) {
            std::cerr << "Consumer: bad message " << m.data << "\n";
            return 1;
        }
        ids.insert(id);
        std::cout << "Consumed (priority " << m.priority << "): " << m.data << std::endl;
        std::this_thread::sleep_for(5ms);  // the reference sleeps 0.2 s
    }

    mq.close();
    mq.unlink();
    return ids.size() == 10 && *ids.begin() == 0 && *ids.rbegin() == 9 ? 0 : 1;
}

int main(int argc, char **argv) {
    // The queue name: the first argument if given (make test passes one with
    // its per-run prefix), else one of this process's own.
    const std::string name =
        argc > 1 ? std::string(argv[1]) : "/pmq-cpp-producer-consumer-" + std::to_string(::getpid());
    int rc = 1;
    try {
        // Create the queue before forking, so the consumer can open it by name.
        pmq::MessageQueue::create(name, pmq::Options().max_messages(10).max_message_size(256));

        // Run producer and consumer in separate processes
        std::cout.flush();
        const pid_t pid = ::fork();
        if (pid < 0) throw std::runtime_error("fork failed");
        if (pid == 0) {  // Child - consumer
            int child_rc = 1;
            try {
                child_rc = consumer(name);
            } catch (const pmq::Error &e) {
                std::cerr << "consumer: " << e.what() << "\n";
            }
            std::cout.flush();
            ::_exit(child_rc);
        }
        // Parent - producer
        rc = producer(name);
        int status = 0;
        ::waitpid(pid, &status, 0);  // Wait for child to finish
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) rc = 1;
    } catch (const std::exception &e) {
        std::cerr << "producer_consumer: " << e.what() << "\n";
        rc = 1;
    }
    pmq::unlink_if_exists(name);
    return rc;
}
