// pmq.hpp on both backends (parametrised): any std::chrono duration is a
// timeout (too large to represent = forever; zero = try once; negative =
// InvalidArgumentError), names with a NUL are refused and never reach the
// queue before the NUL, and unlink() through a handle, open or closed, acts
// on that handle's backend.
#include "pmq.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <string>
#include <thread>

#include "test_util.hpp"

using namespace std::chrono_literals;
using pmq_test::backend_name;
using pmq_test::small;
using pmq_test::unique_name;

namespace {

pmq::Backend other(pmq::Backend b) {
    return b == pmq::Backend::Shm ? pmq::Backend::Kernel : pmq::Backend::Shm;
}

using Guard = pmq_test::BackendGuard;

class OnBackend : public testing::TestWithParam<pmq::Backend> {
  protected:
    pmq::MessageQueue create(const std::string &name, std::int64_t capacity = 2) const {
        return pmq::MessageQueue::create_exclusive(name, small(capacity, 32).backend(GetParam()));
    }
};

}  // namespace

TEST(TimeoutConversion, TooLargeToRepresentIsForever) {
    EXPECT_TRUE(pmq::Timeout(std::chrono::hours::max()).is_forever());
    EXPECT_TRUE(pmq::Timeout(std::chrono::seconds::max()).is_forever());
    EXPECT_TRUE(pmq::Timeout(std::chrono::duration<double>(1e300)).is_forever());
    static_assert(!pmq::Timeout(0s).is_forever() && pmq::Timeout(0s).seconds() == 0.0);
    static_assert(!pmq::Timeout(-1s).is_forever() && pmq::Timeout(-1s).seconds() == -1.0);
    // nanoseconds::max() is about 292 years: representable, a real bound.
    static_assert(!pmq::Timeout(std::chrono::nanoseconds::max()).is_forever());
    const pmq::Timeout inf = std::chrono::duration<double>(std::numeric_limits<double>::infinity());
    EXPECT_TRUE(inf.is_forever());
    const pmq::Timeout ninf = std::chrono::duration<double>(-std::numeric_limits<double>::infinity());
    EXPECT_FALSE(ninf.is_forever());
}

TEST_P(OnBackend, HugeDurationsWaitForever) {
    const auto name = unique_name("hugewait");
    Guard g{name, GetParam()};
    auto q = create(name);
    // Every timed call, with durations too large to represent.
    q.send("a", std::chrono::hours::max());
    EXPECT_TRUE(q.try_send("b", std::chrono::seconds::max()));
    EXPECT_EQ(q.receive(std::chrono::hours::max()).data, "a");
    auto b = q.try_receive_bytes(std::chrono::duration<double>(1e300));
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->data.size(), 1u);
    q.send(std::string("c"), std::chrono::duration<double>(std::numeric_limits<double>::infinity()));
    EXPECT_EQ(q.receive_bytes(std::chrono::hours::max()).data.size(), 1u);
    // A receive that waits "forever" really waits: another handle's send,
    // made once this one waits or before it starts, ends it.
    auto sender = pmq::MessageQueue::open(name, pmq::Options().backend(GetParam()));
    std::thread t([&] { sender.send("late"); });
    EXPECT_EQ(q.receive(std::chrono::hours::max()).data, "late");
    t.join();
    // ... and close ends it with ClosedError.
    std::thread closer([&] { q.close(); });
    EXPECT_THROW(q.receive(std::chrono::hours::max()), pmq::ClosedError);
    closer.join();
}

TEST_P(OnBackend, ZeroAndNegativeDurationsKeepTheirMeaning) {
    const auto name = unique_name("zeroneg");
    Guard g{name, GetParam()};
    auto q = create(name, 1);
    EXPECT_THROW(q.receive(0s), pmq::WouldBlockError);
    EXPECT_FALSE(q.try_receive(0ns).has_value());
    EXPECT_THROW(q.receive(-1ns), pmq::InvalidArgumentError);
    EXPECT_THROW(q.receive(std::chrono::hours::min()), pmq::InvalidArgumentError);
    EXPECT_THROW(q.receive(std::chrono::duration<double>(-std::numeric_limits<double>::infinity())),
                 pmq::InvalidArgumentError);
    EXPECT_THROW(q.receive(std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN())),
                 pmq::InvalidArgumentError);
    q.send("x", 0s);
    EXPECT_THROW(q.send("y", 0s), pmq::WouldBlockError);
    EXPECT_THROW(q.send("y", std::chrono::seconds::min()), pmq::InvalidArgumentError);
    EXPECT_FALSE(q.try_send("y", 0s));
    EXPECT_EQ(q.current_messages(), 1);
}

TEST_P(OnBackend, NamesWithNulAreRefused) {
    const auto victim = unique_name("nulvictim");
    Guard g{victim, GetParam()};
    auto q = create(victim);
    q.send("keep");
    const std::string bad = victim + std::string("\0junk", 5);
    const auto opts = small(2, 32).backend(GetParam());
    EXPECT_THROW(pmq::MessageQueue::open(bad, opts), pmq::InvalidArgumentError);
    EXPECT_THROW(pmq::MessageQueue::create(bad, opts), pmq::InvalidArgumentError);
    EXPECT_THROW(pmq::MessageQueue::create_exclusive(bad, opts), pmq::InvalidArgumentError);
    EXPECT_THROW(pmq::unlink(bad, GetParam()), pmq::InvalidArgumentError);
    if (GetParam() == pmq::Backend::Kernel) {
        EXPECT_THROW(pmq::unlink(bad), pmq::InvalidArgumentError);
        EXPECT_THROW(pmq::unlink_if_exists(bad), pmq::InvalidArgumentError);
    }
    EXPECT_EQ(q.current_messages(), 1);
    EXPECT_NO_THROW(pmq::MessageQueue::open(victim, pmq::Options().backend(GetParam())));
}

TEST_P(OnBackend, UnlinkThroughAHandleActsOnItsBackendOpenOrClosed) {
    const auto name = unique_name("unlinkbk");
    Guard g{name, GetParam()};
    Guard g2{name, other(GetParam())};
    auto unrelated = pmq::MessageQueue::create_exclusive(name, small(2, 32).backend(other(GetParam())));
    unrelated.send("unrelated");
    for (bool close_first : {true, false}) {
        auto q = create(name);
        if (close_first) q.close();
        q.unlink();
        EXPECT_THROW(pmq::MessageQueue::open(name, pmq::Options().backend(GetParam())),
                     pmq::NotFoundError);
        EXPECT_EQ(unrelated.current_messages(), 1) << "close_first " << close_first;
        EXPECT_NO_THROW(pmq::MessageQueue::open(name, pmq::Options().backend(other(GetParam()))));
        EXPECT_THROW(q.unlink(), pmq::NotFoundError);
    }
}

INSTANTIATE_TEST_SUITE_P(Backends, OnBackend,
                         testing::Values(pmq::Backend::Kernel, pmq::Backend::Shm), backend_name);
