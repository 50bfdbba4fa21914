// pmq.hpp across processes (fork: the child opens by name), move semantics,
// and no descriptor leaks (entries of /proc/self/fd).
#include "pmq.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <csignal>
#include <unistd.h>

#include <functional>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using pmq_test::count_fds;
using pmq_test::small;
using pmq_test::unique_name;
using pmq_test::UnlinkGuard;

namespace {

// Runs `body` in a forked child and returns its exit status (0 = success).
// The child never returns into the test framework.
int in_child(const std::function<int()> &body) {
    const pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int rc = 100;
        try {
            rc = body();
        } catch (const std::exception &e) {
            std::fprintf(stderr, "child: %s\n", e.what());
            rc = 101;
        }
        std::fflush(stderr);
        ::_exit(rc);
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return -2;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
}

// A queue with a random name, already unlinked: it disappears with its handle.
pmq::MessageQueue anonymous() {
    auto q = pmq::MessageQueue::create_random(small(2, 32));
    q.unlink();
    return q;
}

pmq::MessageQueue &same(pmq::MessageQueue &q) { return q; }

}  // namespace

TEST(TwoProcesses, ChildOpensByNameAndSends) {
    const auto name = unique_name("fork-send");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create_exclusive(name, small(4, 128));
    const int rc = in_child([&] {
        auto child = pmq::MessageQueue::open(name, pmq::Options().read(false));
        child.send("low from child", pmq::forever, 1);
        child.send("high from child", 5s, 9);
        child.send(std::string("pid ") + std::to_string(::getpid()), pmq::forever, 1);
        return 0;
    });
    ASSERT_EQ(rc, 0);
    pmq::Message m = q.receive(10s);
    EXPECT_EQ(m.data, "high from child");
    EXPECT_EQ(m.priority, 9u);
    EXPECT_EQ(q.receive(10s).data, "low from child");
    m = q.receive(10s);
    EXPECT_EQ(m.data.rfind("pid ", 0), 0u);
    EXPECT_NE(m.data, "pid " + std::to_string(::getpid()));
}

TEST(TwoProcesses, ChildReceivesWhatParentSends) {
    const auto name = unique_name("fork-recv");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create_exclusive(name, small(4, 128));
    q.send(std::string("bytes\0inside", 12), pmq::forever, 3);
    const int rc = in_child([&] {
        auto child = pmq::MessageQueue::open(name, pmq::Options().write(false));
        pmq::Message m = child.receive(10s);
        if (m.data != std::string("bytes\0inside", 12)) return 1;
        if (m.priority != 3) return 2;
        if (child.try_receive()) return 3;  // nothing else waits
        return 0;
    });
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(q.current_messages(), 0);
}

TEST(TwoProcesses, BlockedReceiverWakesOnChildSend) {
    const auto name = unique_name("fork-wake");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create_exclusive(name, small(4, 128));
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int rc = 1;
        try {
            ::usleep(20000);
            pmq::MessageQueue::open(name).send("wake up");
            rc = 0;
        } catch (...) {
        }
        ::_exit(rc);
    }
    const pmq::Message m = q.receive(10s);  // waits for the child
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_EQ(m.data, "wake up");
}

TEST(Move, ConstructAssignSwapAndSelfMove) {
    const auto name = unique_name("move");
    UnlinkGuard g(name);
    auto a = pmq::MessageQueue::create(name, small());
    ::pmq_queue *raw = a.native_handle();
    const int fd = a.fileno();

    pmq::MessageQueue b(std::move(a));
    EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(b.valid());
    EXPECT_EQ(b.native_handle(), raw);
    EXPECT_EQ(b.fileno(), fd);
    EXPECT_EQ(b.name(), name);

    // Assigning over a live queue frees its handle: its descriptors close
    // (however many the library keeps per handle).
    const int without_c = count_fds();
    auto c = anonymous();
    const int per_queue = count_fds() - without_c;
    ASSERT_GE(per_queue, 1);
    const int c_fd = c.fileno();
    const std::string before_list = pmq_test::fd_listing();
    c = std::move(b);
    EXPECT_EQ(count_fds(), without_c) << "before:\n" << before_list << "now:\n"
                                      << pmq_test::fd_listing();
    EXPECT_EQ(c.fileno(), fd);
    EXPECT_NE(c.fileno(), c_fd);
    EXPECT_FALSE(b.valid());  // NOLINT(bugprone-use-after-move)

    // Self-move keeps the queue.
    c = std::move(same(c));
    EXPECT_TRUE(c.valid());
    c.send("after self move");
    EXPECT_EQ(c.receive().data, "after self move");

    // A moved-from object can be assigned again.
    a = pmq::MessageQueue::open(name);
    EXPECT_TRUE(a.valid());
    a.send("via a");
    EXPECT_EQ(c.receive().data, "via a");

    // Moving one moved-from object into another is harmless.
    pmq::MessageQueue d(std::move(b));
    EXPECT_FALSE(d.valid());

    std::swap(a, c);
    EXPECT_EQ(a.native_handle(), raw);
}

TEST(Move, QueuesInAGrowingVector) {
    std::vector<pmq::MessageQueue> v;
    std::vector<std::string> names;
    for (int i = 0; i < 6; i++) {  // several reallocations move every element
        v.push_back(anonymous());
        v.back().send("q" + std::to_string(i));
    }
    for (int i = 0; i < 6; i++) EXPECT_EQ(v[static_cast<size_t>(i)].receive().data, "q" + std::to_string(i));
    v.erase(v.begin());  // move-assigns the rest down
    EXPECT_EQ(v.size(), 5u);
    for (auto &q : v) EXPECT_TRUE(q.valid());
}

TEST(Leaks, NoDescriptorLeftBehind) {
    // glibc opens one netlink socket per process the first time a callback
    // notification is requested; do that before counting.
    {
        auto warm = anonymous();
        warm.notify_callback([] {});
    }
    const int before = count_fds();
    const std::string before_list = pmq_test::fd_listing();
    ASSERT_GT(before, 0);
    {
        // Sanity: the count sees each live queue (the library may keep more
        // than one descriptor per handle).
        auto x = anonymous();
        const int per_queue = count_fds() - before;
        EXPECT_GE(per_queue, 1);
        auto y = anonymous();
        auto z = anonymous();
        EXPECT_EQ(count_fds(), before + 3 * per_queue) << pmq_test::fd_listing();
    }
    EXPECT_EQ(count_fds(), before) << "before:\n" << before_list << "now:\n"
                                   << pmq_test::fd_listing();

    const auto name = unique_name("leak");
    UnlinkGuard g(name);
    for (int i = 0; i < 50; i++) {
        auto a = anonymous();
        if (i % 2 == 0) a.notify_callback([i] { (void)i; });
        auto b = std::move(a);
        auto c = anonymous();
        c = std::move(b);
        std::vector<pmq::MessageQueue> v;
        v.push_back(std::move(c));
        v.push_back(anonymous());
        v.push_back(pmq::MessageQueue::create(name, small(2, 32)));
        v.push_back(pmq::MessageQueue::open(name));
        if (i % 3 == 0) v[0].close();
        if (i % 5 == 0) v[1].notify_signal(SIGUSR1), v[1].notify_cancel();
        EXPECT_THROW(pmq::MessageQueue::open(name + "-missing"), pmq::NotFoundError);
        EXPECT_THROW(pmq::MessageQueue::create_exclusive(name, small(2, 32)), pmq::ExistsError);
        v[2].send("x");
        EXPECT_EQ(v[3].receive().data, "x");
        v.erase(v.begin() + 1);
        v.insert(v.begin(), anonymous());
    }
    EXPECT_EQ(count_fds(), before) << "before:\n" << before_list << "now:\n"
                                   << pmq_test::fd_listing();
}

// Receivers SIGKILLed after a receive leave receipts any handle reads, five
// of them (more than dead_receipts() first asks room for): each names the
// message, the dead pid, and says the take committed. The kernel backend
// keeps none and says so.
TEST(TwoProcesses, ReceiptsOfKilledReceivers) {
    const auto name = unique_name("receipts");
    struct ShmGuard {
        std::string n;
        ~ShmGuard() {
            try {
                pmq::unlink(n, pmq::Backend::Shm);
            } catch (const pmq::Error &) {
            }
        }
    } g{name};
    const auto shm = pmq::Options().backend(pmq::Backend::Shm);
    auto q = pmq::MessageQueue::create_exclusive(name, pmq::Options(shm).max_messages(8).max_message_size(32));
    EXPECT_TRUE(q.dead_receipts().empty());
    const std::vector<std::string> texts = {"m0", "m1 is a long message", "m2", "m3", "m4"};
    for (const auto &t : texts) q.send(t, pmq::forever, 4);
    std::vector<pid_t> pids;
    std::vector<pmq::MessageQueue> heirs;  // keep each dead record in use: no child reuses it
    for (std::size_t i = 0; i < texts.size(); i++) {
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            try {
                auto child = pmq::MessageQueue::open(name, shm);
                (void)child.receive(pmq::try_once);
                ::raise(SIGKILL);
            } catch (...) {
            }
            ::_exit(3);
        }
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        pids.push_back(pid);
        heirs.push_back(pmq::MessageQueue::open(name, shm));
    }
    const std::vector<pmq::Receipt> got = heirs.back().dead_receipts();
    ASSERT_EQ(got.size(), texts.size());
    for (std::size_t i = 0; i < got.size(); i++) {
        EXPECT_EQ(got[i].pid, static_cast<std::uint32_t>(pids[i]));
        EXPECT_EQ(got[i].seq, i + 1);
        EXPECT_EQ(got[i].len, texts[i].size());
        EXPECT_EQ(got[i].priority, 4u);
        EXPECT_TRUE(got[i].taken);
        EXPECT_FALSE(got[i].queued);
        EXPECT_EQ(got[i].head, texts[i].substr(0, 16));
    }
    q.close();
    EXPECT_THROW(q.dead_receipts(), pmq::ClosedError);

    const auto kname = unique_name("receipts-kernel");
    UnlinkGuard kg(kname);
    auto k = pmq::MessageQueue::create_exclusive(kname, small(1, 8));
    try {
        (void)k.dead_receipts();
        ADD_FAILURE() << "the kernel backend returned receipts";
    } catch (const pmq::NotSupportedError &e) {
        EXPECT_NE(std::string(e.what()).find("shared-memory backend"), std::string::npos) << e.what();
    }
}
