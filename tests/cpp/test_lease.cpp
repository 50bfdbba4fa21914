// pmq.hpp's leases (at-least-once receive, issue 30): lease / try_lease /
// lease_batch / ack / nack / ack_batch / lease_stats / instance_id on
// Backend::Shm (FIFO kept after a nack, LeaseLostError with acked(),
// visibility expiry, a destroyed holder's lease coming back, dead letters
// through Options), bad arguments, and NotSupportedError on Backend::Kernel.
#include "pmq.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using pmq_test::BackendGuard;
using pmq_test::small;
using pmq_test::unique_name;

namespace {

pmq::MessageQueue shm_queue(const std::string &name, std::int64_t capacity = 8,
                            pmq::Options options = small(8, 64)) {
    return pmq::MessageQueue::create_exclusive(
        name, options.max_messages(capacity).backend(pmq::Backend::Shm));
}

pmq::MessageQueue shm_open(const std::string &name) {
    return pmq::MessageQueue::open(name, pmq::Options().backend(pmq::Backend::Shm));
}

}  // namespace

TEST(Lease, AckNackKeepFifo) {
    const auto name = unique_name("lease");
    BackendGuard g{name, pmq::Backend::Shm};
    auto q = shm_queue(name);
    q.send("a");
    q.send("b");
    q.send("c");
    auto a = q.lease(pmq::try_once);
    auto b = q.lease(pmq::try_once);
    EXPECT_EQ(a.data, "a");
    EXPECT_EQ(b.data, "b");
    EXPECT_EQ(a.lease.delivery, 1u);
    q.nack(b.lease);
    q.nack(a.lease);
    auto a2 = q.lease(pmq::try_once);
    auto b2 = q.lease(pmq::try_once);
    EXPECT_EQ(a2.data, "a");
    EXPECT_EQ(a2.lease.seq, a.lease.seq);
    EXPECT_EQ(a2.lease.delivery, 2u);
    EXPECT_EQ(b2.data, "b");
    auto c = q.lease(pmq::try_once);
    EXPECT_EQ(c.data, "c");
    q.ack(a2.lease);
    q.ack(b2.lease);
    q.ack(c.lease);
    EXPECT_FALSE(q.try_lease().has_value());
    try {
        q.ack(c.lease);
        ADD_FAILURE() << "a second ack did not throw";
    } catch (const pmq::LeaseLostError &e) {
        EXPECT_EQ(e.status(), pmq::Status::LeaseLost);
        EXPECT_EQ(e.acked(), 0u);
        EXPECT_NE(e.detail().find("lease"), std::string::npos) << e.detail();
    }
    EXPECT_THROW(q.nack(c.lease), pmq::LeaseLostError);
}

TEST(Lease, BatchAndAckBatch) {
    const auto name = unique_name("lease-batch");
    BackendGuard g{name, pmq::Backend::Shm};
    auto q = shm_queue(name);
    q.send_batch({{"m0", 0}, {"m1", 0}, {"m2", 0}});
    auto got = q.lease_batch(8, pmq::try_once, 60s);
    ASSERT_EQ(got.size(), 3u);
    std::vector<pmq::Lease> leases;
    for (std::size_t i = 0; i < got.size(); i++) {
        EXPECT_EQ(got[i].data, "m" + std::to_string(i));
        leases.push_back(got[i].lease);
    }
    q.ack(leases[2]);
    try {
        q.ack_batch(leases);
        ADD_FAILURE() << "ack_batch with a lost lease did not throw";
    } catch (const pmq::LeaseLostError &e) {
        EXPECT_EQ(e.acked(), 2u);
    }
    EXPECT_EQ(q.ack_batch(nullptr, 0), 0u);
    EXPECT_EQ(q.current_messages(), 0);
}

TEST(Lease, CapacityStatsAndInstanceId) {
    const auto name = unique_name("lease-stats");
    BackendGuard g{name, pmq::Backend::Shm};
    auto q = shm_queue(name, 2);
    EXPECT_EQ(q.lease_stats().leased, 0u);
    EXPECT_EQ(q.lease_stats().oldest_age.count(), 0.0);
    q.send("1");
    q.send("2");
    auto one = q.lease(pmq::try_once);
    EXPECT_FALSE(q.try_send("3"));  // leased messages count against the capacity
    const auto st = q.lease_stats();
    EXPECT_EQ(st.leased, 1u);
    EXPECT_GE(st.oldest_age.count(), 0.0);
    q.ack(one.lease);
    EXPECT_TRUE(q.try_send("3"));
    auto again = shm_open(name);
    EXPECT_EQ(again.instance_id(), q.instance_id());
}

TEST(Lease, VisibilityExpiry) {
    const auto name = unique_name("lease-vis");
    BackendGuard g{name, pmq::Backend::Shm};
    auto q = shm_queue(name);
    auto other = shm_open(name);
    q.send("late");
    auto first = q.lease(pmq::try_once, 50ms);
    const auto start = std::chrono::steady_clock::now();
    std::optional<pmq::LeasedMessage> again;
    EXPECT_TRUE(pmq_test::eventually([&] { return (again = other.try_lease()).has_value(); }));
    ASSERT_TRUE(again.has_value());
    EXPECT_GE(std::chrono::steady_clock::now() - start, 40ms);
    EXPECT_EQ(again->lease.seq, first.lease.seq);
    EXPECT_EQ(again->lease.delivery, 2u);
    EXPECT_THROW(q.ack(first.lease), pmq::LeaseLostError);
    other.ack(again->lease);
}

TEST(Lease, DestroyedHolderGivesBack) {
    const auto name = unique_name("lease-end");
    BackendGuard g{name, pmq::Backend::Shm};
    auto q = shm_queue(name);
    q.send("x");
    {
        auto holder = shm_open(name);
        EXPECT_EQ(holder.lease(pmq::try_once).data, "x");
        EXPECT_FALSE(q.try_lease().has_value());
    }
    auto back = q.lease(pmq::try_once);
    EXPECT_EQ(back.data, "x");
    EXPECT_EQ(back.lease.delivery, 2u);
    q.ack(back.lease);
}

TEST(Lease, DeadLetterThroughOptions) {
    const auto name = unique_name("lease-dl");
    const auto dl = unique_name("lease-dlq");
    BackendGuard g{name, pmq::Backend::Shm};
    BackendGuard gd{dl, pmq::Backend::Shm};
    pmq::Options o = small(8, 64).max_deliveries(1).dead_letter(dl);
    EXPECT_EQ(o.max_deliveries(), 1u);
    EXPECT_EQ(o.dead_letter(), dl);
    auto q = shm_queue(name, 8, o);  // o is copied: its dead_letter must follow the copy
    q.send("poison", pmq::forever, 3);
    q.nack(q.lease(pmq::try_once).lease);
    EXPECT_FALSE(q.try_lease().has_value());
    auto d = shm_open(dl);
    auto m = d.receive(pmq::try_once);
    EXPECT_EQ(m.data, "poison");
    EXPECT_EQ(m.priority, 3u);
    EXPECT_THROW(pmq::Options().dead_letter(std::string_view("/a\0b", 4)),
                 pmq::InvalidArgumentError);
    EXPECT_THROW(shm_queue(unique_name("lease-bad"), 8, small(8, 64).max_deliveries(1).dead_letter("x")),
                 pmq::InvalidArgumentError);
}

TEST(Lease, BadArguments) {
    const auto name = unique_name("lease-args");
    BackendGuard g{name, pmq::Backend::Shm};
    auto q = shm_queue(name);
    q.send("z");
    EXPECT_THROW(q.lease(pmq::try_once, -1s), pmq::InvalidArgumentError);
    EXPECT_THROW(q.lease(-1s), pmq::InvalidArgumentError);
    EXPECT_THROW(q.lease_batch(2, pmq::try_once, -1s), pmq::InvalidArgumentError);
    std::byte small_buf[4];
    pmq::LeasedAt at[2];
    EXPECT_THROW(q.lease_batch(small_buf, sizeof small_buf, at, 2), pmq::BufferTooSmallError);
    EXPECT_EQ(q.lease_stats().leased, 0u);
    auto l = q.lease(pmq::try_once).lease;
    q.close();
    EXPECT_THROW(q.lease(pmq::try_once), pmq::ClosedError);
    EXPECT_THROW(q.ack(l), pmq::ClosedError);
    EXPECT_THROW(q.lease_stats(), pmq::ClosedError);
    EXPECT_THROW(q.instance_id(), pmq::ClosedError);
    pmq::MessageQueue moved = std::move(q);
    EXPECT_THROW(q.ack(l), pmq::ClosedError);  // moved-from
}

TEST(Lease, KernelNotSupported) {
    const auto name = unique_name("lease-k");
    BackendGuard g{name, pmq::Backend::Kernel};
    auto q = pmq::MessageQueue::create_exclusive(name, small(2, 64));
    q.send("k");
    const pmq::Lease l{1, 0, 1};
    for (int i = 0; i < 6; i++) {
        SCOPED_TRACE(i);
        try {
            switch (i) {
                case 0: q.lease(pmq::try_once); break;
                case 1: q.lease_batch(2, pmq::try_once); break;
                case 2: q.ack(l); break;
                case 3: q.nack(l); break;
                case 4: q.ack_batch({l}); break;
                default: q.lease_stats(); break;
            }
            ADD_FAILURE() << "no exception";
        } catch (const pmq::NotSupportedError &e) {
            EXPECT_NE(e.detail().find("PMQ_BACKEND_SHM"), std::string::npos) << e.detail();
        }
    }
    EXPECT_THROW(q.instance_id(), pmq::NotSupportedError);
    EXPECT_EQ(q.current_messages(), 1);
}
