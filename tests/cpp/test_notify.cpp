// pmq.hpp notifications: signal, std::function callbacks, a callback that
// re-registers itself 10 times, and the lifetime of the stored function
// (destroyed on cancel/close/replace/destruction, never while running,
// never moved by a move of the MessageQueue).
#include "pmq.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "test_util.hpp"

using namespace std::chrono_literals;
using pmq_test::eventually;
using pmq_test::small;
using pmq_test::unique_name;
using pmq_test::UnlinkGuard;

namespace {
std::atomic<int> g_signals{0};
void on_signal(int) { g_signals.fetch_add(1); }
}  // namespace

TEST(NotifySignal, DeliveredOnEmptyToNonEmptyAndOneShot) {
    struct sigaction sa {}, old{};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);
    const auto name = unique_name("nsig");
    UnlinkGuard g(name);
    {
        auto q = pmq::MessageQueue::create(name, small());
        const int before = g_signals.load();
        q.notify_signal(SIGUSR1);
        q.send("first");
        EXPECT_TRUE(eventually([&] { return g_signals.load() >= before + 1; }));
        EXPECT_EQ(q.receive(pmq::try_once).data, "first");
        // One-shot: ask again for the next one.
        q.notify_signal(SIGUSR1);
        q.send("second");
        EXPECT_TRUE(eventually([&] { return g_signals.load() >= before + 2; }));
        EXPECT_EQ(q.receive(pmq::try_once).data, "second");
        q.notify_signal(SIGUSR1);
        q.notify_cancel();
        q.notify_cancel();  // harmless twice
    }
    ::sigaction(SIGUSR1, &old, nullptr);
}

TEST(NotifyCallback, RunsAndMayReceive) {
    const auto name = unique_name("ncb");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small());
    std::mutex m;
    std::optional<pmq::Message> got;
    std::atomic<bool> called{false};
    std::atomic<bool> on_other_thread{false};
    const auto main_id = std::this_thread::get_id();
    q.notify_callback([&] {
        auto msg = q.try_receive();
        std::lock_guard<std::mutex> lock(m);
        got = msg;
        on_other_thread = std::this_thread::get_id() != main_id;
        called = true;
    });
    q.send("for the callback", pmq::forever, 4);
    ASSERT_TRUE(eventually([&] { return called.load(); }));
    std::lock_guard<std::mutex> lock(m);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->data, "for the callback");
    EXPECT_EQ(got->priority, 4u);
    EXPECT_TRUE(on_other_thread.load());
}

TEST(NotifyCallback, ReRegistersItselfTenTimes) {
    struct State {
        std::mutex m;
        std::condition_variable cv;
        int calls = 0;
        std::vector<std::string> got;
        std::string error;
    } st;
    const auto name = unique_name("rereg");
    UnlinkGuard g(name);
    std::function<void()> cb;
    // Declared after cb and st: destroyed (and its callback waited for) first.
    auto q = pmq::MessageQueue::create(name, small());
    cb = [&] {
        auto msg = q.try_receive();  // drain first, so the next send is empty -> non-empty
        std::lock_guard<std::mutex> lock(st.m);
        if (msg) {
            st.got.push_back(msg->data);
        } else {
            st.error = "callback found the queue empty";
        }
        st.calls++;
        if (st.calls < 10) {
            try {
                // Replaces the std::function that is running right now.
                q.notify_callback(cb);
            } catch (const std::exception &e) {
                st.error = e.what();
            }
        }
        st.cv.notify_all();
    };
    q.notify_callback(cb);
    for (int i = 0; i < 10; i++) {
        q.send("msg " + std::to_string(i));
        std::unique_lock<std::mutex> lock(st.m);
        ASSERT_TRUE(st.cv.wait_for(lock, 10s, [&] { return st.calls == i + 1; }))
            << "callback " << i + 1 << " did not run; error: " << st.error;
    }
    std::lock_guard<std::mutex> lock(st.m);
    EXPECT_EQ(st.calls, 10);
    EXPECT_EQ(st.error, "");
    ASSERT_EQ(st.got.size(), 10u);
    for (int i = 0; i < 10; i++) EXPECT_EQ(st.got[i], "msg " + std::to_string(i));
}

// The std::function (and what it captured) is destroyed exactly when the
// registration ends; a weak_ptr to a captured token shows it.
TEST(NotifyCallback, FunctionLifetime) {
    const auto name = unique_name("life");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small());
    auto register_token = [&](pmq::MessageQueue &queue) {
        auto token = std::make_shared<int>(1);
        std::weak_ptr<int> weak = token;
        queue.notify_callback([token] { (void)token; });
        return weak;
    };

    auto w = register_token(q);
    EXPECT_FALSE(w.expired());
    q.notify_cancel();
    EXPECT_TRUE(w.expired()) << "cancel must destroy the function";

    auto a = register_token(q);
    auto b = register_token(q);
    EXPECT_TRUE(a.expired()) << "a replaced function must be destroyed";
    EXPECT_FALSE(b.expired());
    q.notify_signal(SIGUSR1);  // a signal registration replaces the callback
    EXPECT_TRUE(b.expired());
    q.notify_cancel();

    {
        auto other = pmq::MessageQueue::open(name);
        auto c = register_token(other);
        other.close();
        EXPECT_TRUE(c.expired()) << "close must destroy the function";
    }
    std::weak_ptr<int> d;
    {
        auto other = pmq::MessageQueue::open(name);
        d = register_token(other);
        EXPECT_FALSE(d.expired());
    }
    EXPECT_TRUE(d.expired()) << "the destructor must destroy the function";
}

namespace {
/// Counts its live copies in `*live`: a copy destroyed twice drives it below 0.
struct Probe {
    std::atomic<int> *live;
    explicit Probe(std::atomic<int> *l) : live(l) { live->fetch_add(1); }
    Probe(const Probe &o) : live(o.live) { live->fetch_add(1); }
    Probe &operator=(const Probe &) = delete;
    ~Probe() { live->fetch_sub(1); }
};
}  // namespace

// libpmq's drop callback destroys each registration's function exactly once,
// when it can no longer fire: after its delivery, when replaced (through
// this handle, another handle of the queue, or by a signal registration),
// cancelled, closed, freed (the destructor), and when Linux dropped it
// because the process closed another descriptor of the queue. Exactly once:
// the probe's count would go below 0 (and ASan, in make test-cpp, would
// report the double free).
TEST(NotifyCallback, DropRunsExactlyOncePerRegistration) {
    const auto name = unique_name("drop");
    UnlinkGuard g(name);
    std::atomic<int> live{0};
    std::atomic<int> calls{0};
    auto arm = [&](const pmq::MessageQueue &queue) {
        queue.notify_callback([p = Probe(&live), &calls] {
            (void)p;
            calls.fetch_add(1);
        });
        ASSERT_EQ(live.load(), 1) << "the registration holds one function";
    };
    auto q = pmq::MessageQueue::create(name, small());
    auto other = pmq::MessageQueue::open(name);

    arm(q);  // delivered
    q.send("x");
    ASSERT_TRUE(eventually([&] { return calls.load() == 1; }));
    EXPECT_TRUE(eventually([&] { return live.load() == 0; })) << "delivered, not dropped";
    EXPECT_EQ(q.receive(pmq::try_once).data, "x");

    arm(q);  // replaced through this handle
    arm(q);
    EXPECT_EQ(live.load(), 1) << "replaced by this handle";
    other.notify_callback([] {});  // replaced through another handle
    EXPECT_EQ(live.load(), 0) << "replaced through another handle";
    arm(q);  // replaced by a signal registration
    q.notify_signal(SIGUSR1);
    EXPECT_EQ(live.load(), 0) << "replaced by notify_signal";
    q.notify_cancel();

    arm(q);  // cancelled
    q.notify_cancel();
    EXPECT_EQ(live.load(), 0) << "cancelled";

    auto third = pmq::MessageQueue::open(name);
    arm(third);  // closed
    third.close();
    EXPECT_EQ(live.load(), 0) << "closed";

    auto fifth = pmq::MessageQueue::open(name);
    arm(q);  // dropped by Linux: this process closes another descriptor
    fifth.close();
    q.notify_cancel();  // dropped at the latest in the next notification call
    EXPECT_EQ(live.load(), 0) << "dropped by Linux";
    {
        auto fourth = pmq::MessageQueue::open(name);
        arm(fourth);  // freed
    }
    EXPECT_EQ(live.load(), 0) << "freed by the destructor";

    // A failed registration keeps nothing.
    other.close();
    EXPECT_THROW(other.notify_callback([p = Probe(&live)] { (void)p; }), pmq::ClosedError);
    EXPECT_EQ(live.load(), 0) << "a failed registration";
    q.send("y");  // nothing armed: no call
    EXPECT_EQ(q.receive(pmq::try_once).data, "y");
    EXPECT_EQ(calls.load(), 1);
}

TEST(NotifyCallback, SurvivesMoves) {
    const auto name = unique_name("nmove");
    UnlinkGuard g(name);
    std::atomic<int> calls{0};
    auto token = std::make_shared<int>(7);
    std::weak_ptr<int> weak = token;
    {
        auto a = pmq::MessageQueue::create(name, small());
        a.notify_callback([&calls, token] { calls.fetch_add(*token == 7 ? 1 : 100); });
        token.reset();
        auto b = std::move(a);  // the heap cell given to C does not move
        auto c = pmq::MessageQueue::create_random(small());
        c.unlink();
        c = std::move(b);
        EXPECT_FALSE(weak.expired());
        auto sender = pmq::MessageQueue::open(name, pmq::Options().read(false));
        sender.send("ping");
        EXPECT_TRUE(eventually([&] { return calls.load() != 0; }));
        EXPECT_EQ(calls.load(), 1);
        EXPECT_EQ(c.receive(pmq::try_once).data, "ping");
    }
    EXPECT_TRUE(weak.expired());
}

// After notify_cancel / close / destruction returns, a callback that was
// running has finished: the C lifetime guarantee, kept by the wrapper.
class WaitsForRunningCallback : public ::testing::TestWithParam<int> {};

TEST_P(WaitsForRunningCallback, BeforeReturning) {
    const auto name = unique_name("wait");
    UnlinkGuard g(name);
    std::atomic<bool> started{false}, release{false}, finished{false};
    std::optional<pmq::MessageQueue> q(pmq::MessageQueue::create(name, small()));
    q->notify_callback([&] {
        started = true;
        while (!release.load()) std::this_thread::sleep_for(1ms);
        finished = true;
    });
    auto sender = pmq::MessageQueue::open(name);
    sender.send("go");
    ASSERT_TRUE(eventually([&] { return started.load(); }));
    std::thread releaser([&] {
        std::this_thread::sleep_for(50ms);
        release = true;
    });
    switch (GetParam()) {
        case 0: q->notify_cancel(); break;
        case 1: q->close(); break;
        default: q.reset(); break;
    }
    const bool finished_on_return = finished.load();
    releaser.join();
    EXPECT_TRUE(eventually([&] { return finished.load(); }));  // never leave it running
    q.reset();
    EXPECT_TRUE(finished_on_return);
}

INSTANTIATE_TEST_SUITE_P(CancelCloseDestroy, WaitsForRunningCallback, ::testing::Values(0, 1, 2));

TEST(NotifyCallback, MayCancelCloseOrDestroyItsQueueFromInside) {
    const auto name = unique_name("inside");
    UnlinkGuard g(name);
    auto sender = pmq::MessageQueue::create(name, small(4, 32));
    for (int mode = 0; mode < 3; mode++) {
        SCOPED_TRACE(mode);
        auto q = std::make_unique<pmq::MessageQueue>(pmq::MessageQueue::open(name));
        auto token = std::make_shared<int>(mode);
        std::weak_ptr<int> weak = token;
        std::atomic<bool> done{false};
        std::atomic<bool> failed{false};
        q->notify_callback([&q, &done, &failed, mode, token] {
            try {
                if (mode == 0) q->notify_cancel();
                if (mode == 1) q->close();
                if (mode == 2) q.reset();  // destroys the queue (and this function's owner)
            } catch (...) {
                failed = true;
            }
            done = true;
        });
        token.reset();
        sender.send("x");
        ASSERT_TRUE(eventually([&] { return done.load(); }));
        EXPECT_FALSE(failed.load());
        EXPECT_TRUE(eventually([&] { return weak.expired(); }));
        EXPECT_EQ(sender.receive(pmq::try_once).data, "x");
        q.reset();
    }
}

TEST(NotifyCallback, CancelAndReplaceManyTimes) {
    const auto name = unique_name("many");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small());
    for (int i = 0; i < 1000; i++) q.notify_cancel();  // harmless with nothing registered
    auto token = std::make_shared<int>(0);
    std::weak_ptr<int> weak = token;
    for (int i = 0; i < 200; i++) {
        q.notify_callback([token] { (void)token; });
        if (i % 2 == 0) q.notify_cancel();
    }
    token.reset();
    EXPECT_FALSE(weak.expired());  // the last registration still holds it
    std::atomic<bool> called{false};
    q.notify_callback([&called] { called = true; });
    EXPECT_TRUE(weak.expired());
    q.send("x");
    EXPECT_TRUE(eventually([&] { return called.load(); }));
}

TEST(NotifyCallbackDeathTest, EscapingExceptionTerminates) {
    ::testing::FLAGS_gtest_death_test_style = "threadsafe";
    EXPECT_DEATH(
        {
            auto q = pmq::MessageQueue::create_random(small());
            q.unlink();  // nothing is left behind when the child dies
            q.notify_callback([] { throw std::runtime_error("escaped"); });
            q.send("x");
            std::this_thread::sleep_for(10s);  // terminate comes long before
        },
        "");
}
