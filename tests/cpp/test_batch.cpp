// pmq.hpp batch calls on both backends (parametrised): send_batch /
// try_send_batch (pointer + count, vector, braced list) and receive_batch /
// receive_batch_bytes / try_receive_batch[_bytes] / the allocation-free
// receive_batch into the caller's buffer, with and without a timeout:
// order, priorities, partial sends on a full queue, a bad message named by
// index with nothing sent, would-block / timed-out, a forever wait ended by
// another thread's batch and by close().
#include "pmq.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

using namespace std::chrono_literals;
using pmq_test::backend_name;
using pmq_test::small;
using pmq_test::unique_name;

namespace {

using Guard = pmq_test::BackendGuard;

class Batch : public testing::TestWithParam<pmq::Backend> {
  protected:
    pmq::MessageQueue create(const std::string &name, std::int64_t capacity = 4,
                             std::int64_t size = 32) const {
        return pmq::MessageQueue::create_exclusive(name,
                                                   small(capacity, size).backend(GetParam()));
    }
};

std::vector<std::byte> bytes(std::string_view s) {
    const auto *p = reinterpret_cast<const std::byte *>(s.data());
    return std::vector<std::byte>(p, p + s.size());
}

}  // namespace

TEST(BatchTypes, OutMessageViewsItsBytes) {
    const std::string s("abc\0def", 7);
    const pmq::OutMessage m(s, 5);
    EXPECT_EQ(m.data(), s);
    EXPECT_EQ(m.data().data(), s.data()) << "a view, not a copy";
    EXPECT_EQ(m.size(), 7u);
    EXPECT_EQ(m.priority(), 5u);
    const auto v = bytes("xy");
    const pmq::OutMessage b(v, 2);
    EXPECT_EQ(b.data(), "xy");
    const pmq::OutMessage empty(nullptr, 0);
    EXPECT_EQ(empty.size(), 0u);
    EXPECT_EQ(empty.priority(), 0u);
}

TEST_P(Batch, SendsAndReceivesInQueueOrder) {
    const auto name = unique_name("batchrt");
    Guard g{name, GetParam()};
    auto q = create(name);
    const std::string nul("n\0l", 3);
    const auto raw = bytes("raw");
    EXPECT_EQ(q.send_batch({{"low", 1}, {nul, 7}, {"", 3}, {raw.data(), raw.size(), 7}}), 4u);
    EXPECT_EQ(q.current_messages(), 4);
    const auto got = q.receive_batch(10);
    ASSERT_EQ(got.size(), 4u);
    // Highest priority first, FIFO within one.
    EXPECT_EQ(got[0].data, nul);
    EXPECT_EQ(got[0].priority, 7u);
    EXPECT_EQ(got[1].data, "raw");
    EXPECT_EQ(got[1].priority, 7u);
    EXPECT_EQ(got[2].data, "");
    EXPECT_EQ(got[2].priority, 3u);
    EXPECT_EQ(got[3].data, "low");
    EXPECT_EQ(got[3].priority, 1u);
    EXPECT_EQ(q.current_messages(), 0);
}

TEST_P(Batch, VectorPointerAndBytesForms) {
    const auto name = unique_name("batchforms");
    Guard g{name, GetParam()};
    auto q = create(name);
    const std::vector<pmq::OutMessage> v{{"a", 2}, {"b", 2}};
    EXPECT_EQ(q.send_batch(v, 1s), 2u);
    EXPECT_EQ(q.send_batch(v.data(), 1, pmq::forever), 1u);
    EXPECT_EQ(q.send_batch(v.data(), 0), 0u) << "an empty batch sends nothing";
    const auto got = q.receive_batch_bytes(2, 1s);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].data, bytes("a"));
    EXPECT_EQ(got[1].data, bytes("b"));
    EXPECT_EQ(got[1].priority, 2u);
    EXPECT_EQ(q.receive_batch(0).size(), 0u) << "max 0 takes nothing";
    EXPECT_EQ(q.current_messages(), 1);
    EXPECT_EQ(q.try_receive_batch_bytes(4).size(), 1u);
}

TEST_P(Batch, SendStopsWhereTheQueueIsFull) {
    const auto name = unique_name("batchfull");
    Guard g{name, GetParam()};
    auto q = create(name, 2);
    const std::vector<pmq::OutMessage> four{{"1"}, {"2"}, {"3"}, {"4"}};
    EXPECT_EQ(q.send_batch(four), 2u) << "sends what fits now, then returns";
    EXPECT_EQ(q.try_send_batch(four), 0u);
    EXPECT_EQ(q.try_send_batch(four.data() + 2, 2, 1ms), 0u);
    EXPECT_THROW(q.send_batch(four, pmq::try_once), pmq::WouldBlockError);
    EXPECT_THROW(q.send_batch(four, 1ms), pmq::TimedOutError);
    EXPECT_EQ(q.receive(pmq::try_once).data, "1");
    EXPECT_EQ(q.try_send_batch(four.data() + 2, 2), 1u);
    EXPECT_EQ(q.receive_batch(4).size(), 2u);
}

TEST_P(Batch, ABadMessageIsNamedAndNothingIsSent) {
    const auto name = unique_name("batchbad");
    Guard g{name, GetParam()};
    auto q = create(name, 4, 16);
    const std::string big(17, 'x');
    try {
        q.send_batch({{"ok"}, {"ok"}, {big}});
        FAIL() << "a message over max_message_size was sent";
    } catch (const pmq::MessageTooLargeError &e) {
        EXPECT_NE(e.detail().find("message 2"), std::string::npos) << e.detail();
    }
    try {
        q.try_send_batch({{"ok"}, {"bad priority", pmq::priority_max() + 1}});
        FAIL() << "a priority above priority_max() was sent";
    } catch (const pmq::InvalidArgumentError &e) {
        EXPECT_NE(e.detail().find("message 1"), std::string::npos) << e.detail();
    }
    EXPECT_EQ(q.current_messages(), 0);
    // Read-only handle: the first message's error, as send() reports it.
    auto ro = pmq::MessageQueue::open(name, pmq::Options().write(false).backend(GetParam()));
    EXPECT_THROW(ro.send_batch({{"x"}}), pmq::PermissionError);
}

TEST_P(Batch, ReceiveTimeoutsOnAnEmptyQueue) {
    const auto name = unique_name("batchempty");
    Guard g{name, GetParam()};
    auto q = create(name);
    EXPECT_THROW(q.receive_batch(4, pmq::try_once), pmq::WouldBlockError);
    EXPECT_THROW(q.receive_batch_bytes(4, 1ms), pmq::TimedOutError);
    EXPECT_TRUE(q.try_receive_batch(4).empty());
    EXPECT_TRUE(q.try_receive_batch(4, 1ms).empty());
    EXPECT_THROW(q.receive_batch(4, -1s), pmq::InvalidArgumentError);
    std::vector<std::byte> buf(32);
    std::vector<pmq::ReceivedAt> at(4);
    EXPECT_EQ(q.try_receive_batch(buf.data(), buf.size(), at.data(), at.size()), 0u);
    EXPECT_THROW(q.receive_batch(buf.data(), buf.size(), at.data(), at.size(), 1ms),
                 pmq::TimedOutError);
}

TEST_P(Batch, IntoTheCallersBuffer) {
    const auto name = unique_name("batchbuf");
    Guard g{name, GetParam()};
    auto q = create(name, 4, 16);
    q.send_batch({{"first", 1}, {"second", 1}, {"third", 0}});
    std::vector<pmq::ReceivedAt> at(4);
    // Smaller than max_message_size: refused, the size needed named, nothing taken.
    std::vector<std::byte> tiny(15);
    try {
        q.receive_batch(tiny.data(), tiny.size(), at.data(), at.size());
        FAIL() << "a buffer below max_message_size was accepted";
    } catch (const pmq::BufferTooSmallError &e) {
        EXPECT_EQ(e.needed(), 16u);
    }
    EXPECT_EQ(q.current_messages(), 3);
    // Room for every message on both backends (the kernel one needs
    // max_message_size per message).
    std::vector<std::byte> buf(4 * 16);
    const std::size_t n = q.receive_batch(buf.data(), buf.size(), at.data(), at.size(), 1s);
    ASSERT_EQ(n, 3u);
    const char *expect[] = {"first", "second", "third"};
    for (std::size_t i = 0; i < n; i++) {
        const std::string got(reinterpret_cast<const char *>(buf.data() + at[i].offset),
                              at[i].size);
        EXPECT_EQ(got, expect[i]) << "message " << i;
        EXPECT_LE(at[i].offset + at[i].size, buf.size());
    }
    EXPECT_EQ(at[0].priority, 1u);
    EXPECT_EQ(at[2].priority, 0u);
    // `max` bounds the batch.
    q.send_batch({{"a"}, {"b"}});
    EXPECT_EQ(q.try_receive_batch(buf.data(), buf.size(), at.data(), 1), 1u);
    EXPECT_EQ(q.current_messages(), 1);
}

TEST_P(Batch, MaxAboveTheCapacityTakesWhatIsThere) {
    const auto name = unique_name("batchmax");
    Guard g{name, GetParam()};
    auto q = create(name, 3, 8);
    q.send_batch({{"1"}, {"2"}, {"3"}});
    // A `max` far above the capacity (clamped to it) takes what is there.
    const auto got = q.receive_batch(1'000'000, pmq::try_once);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[2].data, "3");
}

TEST_P(Batch, ForeverWaitsEndByAnotherThreadOrClose) {
    const auto name = unique_name("batchwait");
    Guard g{name, GetParam()};
    auto q = create(name, 2);
    auto sender = pmq::MessageQueue::open(name, pmq::Options().backend(GetParam()));
    std::thread t([&] { sender.send_batch({{"x", 1}, {"y", 1}}); });
    std::vector<pmq::Message> got;
    while (got.size() < 2) {
        for (auto &m : q.receive_batch(2)) got.push_back(std::move(m));
    }
    t.join();
    EXPECT_EQ(got[0].data, "x");
    EXPECT_EQ(got[1].data, "y");
    // A full queue: a forever batch send waits until a receive makes room.
    q.send_batch({{"1"}, {"2"}});
    std::thread r([&] { EXPECT_EQ(sender.receive().data, "1"); });
    EXPECT_EQ(q.send_batch({{"3"}}), 1u);
    r.join();
    // close() ends a forever wait with ClosedError (the queue stays full).
    std::thread closer([&] { q.close(); });
    EXPECT_THROW(q.send_batch({{"4"}}), pmq::ClosedError);
    closer.join();
    EXPECT_THROW(q.receive_batch(1), pmq::ClosedError);
}

INSTANTIATE_TEST_SUITE_P(Backends, Batch, testing::Values(pmq::Backend::Kernel, pmq::Backend::Shm),
                         backend_name);
