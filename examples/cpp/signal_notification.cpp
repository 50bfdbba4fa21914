// Asynchronous notification with a signal: the kernel sends SIGUSR1 when the
// queue goes from empty to non-empty; a forked child sends the message.
// C++ version of the reference's "Asynchronous Notifications with Signals".
#include <pmq.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

static volatile sig_atomic_t g_arrived = 0;

// Signal handler (async-signal-safe: write(), no iostreams)
static void message_arrived(int signum) {
    char text[64] = "Signal ";
    char num[8];
    int n = 0;
    for (int v = signum; v > 0 && n < 7; v /= 10) num[n++] = static_cast<char>('0' + v % 10);
    size_t len = std::strlen(text);
    while (n > 0) text[len++] = num[--n];
    const char tail[] = " received - message available!\n";
    std::memcpy(text + len, tail, sizeof tail);
    (void)!::write(STDOUT_FILENO, text, std::strlen(text));
    g_arrived = 1;
}

static int run(const std::string &name) {
    // Set up signal handler
    struct sigaction sa {};
    sa.sa_handler = message_arrived;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (::sigaction(SIGUSR1, &sa, nullptr) != 0) return 1;

    auto mq = pmq::MessageQueue::create(name, pmq::Options().max_messages(4).max_message_size(256));

    // Request notification via signal
    mq.notify_signal(SIGUSR1);

    std::cout << "Waiting for message notification..." << std::endl;

    // In another process, send a message to trigger notification
    const pid_t child = ::fork();
    if (child < 0) return 1;
    if (child == 0) {
        int rc = 1;
        try {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));  // wait a bit
            auto child_mq = pmq::MessageQueue::open(name);
            child_mq.send("Notification test message");
            child_mq.close();
            rc = 0;
        } catch (const pmq::Error &e) {
            std::cerr << "child: " << e.what() << "\n";
        }
        ::_exit(rc);
    }

    // Parent waits for the signal (at most 10 s instead of sleeping 5 s)
    for (int i = 0; i < 1000 && !g_arrived; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    int status = 0;
    ::waitpid(child, &status, 0);

    // Receive the message
    pmq::Message m = mq.receive(std::chrono::seconds(10));
    std::cout << "Received: " << m.data << "\n";

    mq.close();
    mq.unlink();
    const bool child_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    return g_arrived && child_ok && m.data == "Notification test message" ? 0 : 1;
}

int main(int argc, char **argv) {
    // The queue name: the first argument if given (make test passes one with
    // its per-run prefix), else one of this process's own.
    const std::string name =
        argc > 1 ? std::string(argv[1]) : "/pmq-cpp-signal-" + std::to_string(::getpid());
    int rc = 1;
    try {
        rc = run(name);
    } catch (const pmq::Error &e) {
        std::cerr << "signal_notification: " << e.what() << "\n";
    }
    pmq::unlink_if_exists(name);
    return rc;
}
