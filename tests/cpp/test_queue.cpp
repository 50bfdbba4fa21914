// pmq.hpp: construction, options, send/receive in every form, priorities,
// timeouts, try_* forms, block, attributes, names, close/unlink, fileno,
// describe, versions and limits.
#include "pmq.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>

#include <array>
#include <fstream>
#include <sstream>
#include <type_traits>

#include "test_util.hpp"

using namespace std::chrono_literals;
using pmq_test::small;
using pmq_test::unique_name;
using pmq_test::UnlinkGuard;

namespace {

std::int64_t read_sysctl(const char *path) {
    std::ifstream f(path);
    std::int64_t v = -1;
    f >> v;
    return v;
}

std::vector<std::byte> bytes(std::initializer_list<int> values) {
    std::vector<std::byte> out;
    for (int v : values) out.push_back(static_cast<std::byte>(v));
    return out;
}

}  // namespace

TEST(Version, MatchesHeaderAndLibrary) {
    EXPECT_EQ(pmq::version(), pmq::header_version);
    EXPECT_EQ(pmq::version_number(), pmq::header_version_number);
    EXPECT_EQ(pmq::header_version_number, pmq::header_version_major * 10000 +
                                              pmq::header_version_minor * 100 +
                                              pmq::header_version_patch);
    std::ostringstream s;
    s << pmq::header_version_major << '.' << pmq::header_version_minor << '.'
      << pmq::header_version_patch;
    EXPECT_EQ(s.str(), std::string(pmq::header_version));
}

TEST(Limits, MatchTheSystem) {
    ASSERT_TRUE(pmq::message_queues_supported());
    const pmq::Limits l = pmq::limits();
    EXPECT_EQ(l.msg_max, read_sysctl("/proc/sys/fs/mqueue/msg_max"));
    EXPECT_EQ(l.msgsize_max, read_sysctl("/proc/sys/fs/mqueue/msgsize_max"));
    EXPECT_EQ(l.queues_max, read_sysctl("/proc/sys/fs/mqueue/queues_max"));
    EXPECT_EQ(l.msg_default, read_sysctl("/proc/sys/fs/mqueue/msg_default"));
    EXPECT_EQ(l.msgsize_default, read_sysctl("/proc/sys/fs/mqueue/msgsize_default"));
    struct rlimit rl {};
    ASSERT_EQ(::getrlimit(RLIMIT_MSGQUEUE, &rl), 0);
    EXPECT_EQ(l.rlimit_soft, rl.rlim_cur == RLIM_INFINITY ? pmq::Limits::unlimited : rl.rlim_cur);
    EXPECT_EQ(l.rlimit_hard, rl.rlim_max == RLIM_INFINITY ? pmq::Limits::unlimited : rl.rlim_max);
    EXPECT_EQ(l.priority_max, pmq::priority_max());
    EXPECT_EQ(pmq::priority_max(), pmq::priority_max_linux);
    EXPECT_EQ(pmq::messages_max_default(), l.msg_max);
    EXPECT_EQ(pmq::message_size_max_default(), l.msgsize_max);
    EXPECT_GT(pmq::queue_cost(4, 128), 4u * 128u);
    EXPECT_EQ(pmq::queue_cost(0, 128), 0u);
}

TEST(Options, DefaultsAndSetters) {
    pmq::Options o;
    EXPECT_EQ(o.flags(), pmq::flags::open_existing);
    EXPECT_EQ(o.mode(), pmq::default_mode);
    EXPECT_EQ(o.mode(), 0600u);
    EXPECT_EQ(o.max_messages(), pmq::messages_max_default());
    EXPECT_EQ(o.max_message_size(), pmq::message_size_max_default());
    EXPECT_TRUE(o.read());
    EXPECT_TRUE(o.write());
    EXPECT_TRUE(o.block());
    EXPECT_FALSE(o.retry_on_interrupt());

    o.flags(pmq::flags::create_exclusive)
        .mode(0640)
        .max_messages(3)
        .max_message_size(64)
        .read(false)
        .write(true)
        .block(false)
        .retry_on_interrupt(true);
    EXPECT_EQ(o.flags(), PMQ_O_CREAT | PMQ_O_EXCL);
    EXPECT_EQ(o.native().flags, PMQ_O_CREX);
    EXPECT_EQ(o.mode(), 0640u);
    EXPECT_EQ(o.native().max_messages, 3);
    EXPECT_EQ(o.native().max_message_size, 64);
    EXPECT_FALSE(o.native().read);
    EXPECT_TRUE(o.native().write);
    EXPECT_FALSE(o.native().block);
    EXPECT_TRUE(o.native().retry_on_interrupt);
}

TEST(Queue, TypeTraits) {
    static_assert(!std::is_copy_constructible_v<pmq::MessageQueue>);
    static_assert(!std::is_copy_assignable_v<pmq::MessageQueue>);
    static_assert(std::is_nothrow_move_constructible_v<pmq::MessageQueue>);
    static_assert(std::is_nothrow_move_assignable_v<pmq::MessageQueue>);
    static_assert(!std::is_default_constructible_v<pmq::MessageQueue>);
    SUCCEED();
}

TEST(Queue, BasicStringRoundTrip) {
    const auto name = unique_name("basic");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create_exclusive(name, small());
    EXPECT_TRUE(q.valid());
    EXPECT_EQ(q.name(), name);
    q.send("Hello, message queue!");
    pmq::Message m = q.receive();
    EXPECT_EQ(m.data, "Hello, message queue!");
    EXPECT_EQ(m.priority, 0u);

    const std::string s("std::string");
    q.send(s, pmq::forever, 3);
    m = q.receive(1s);
    EXPECT_EQ(m.data, s);
    EXPECT_EQ(m.priority, 3u);
}

TEST(Queue, EmbeddedNulAndEmptyMessages) {
    const auto name = unique_name("nul");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small());
    const std::string with_nul("a\0b\0", 4);
    q.send(with_nul);
    q.send(std::string_view());
    EXPECT_EQ(q.receive().data, with_nul);
    const pmq::Message empty = q.receive();
    EXPECT_TRUE(empty.data.empty());
}

TEST(Queue, ByteVectorsAndPointerSize) {
    const auto name = unique_name("bytes");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small(4, 64));
    const auto v = bytes({0, 1, 2, 255, 0});
    q.send(v, pmq::forever, 7);
    pmq::ByteMessage b = q.receive_bytes();
    EXPECT_EQ(b.data, v);
    EXPECT_EQ(b.priority, 7u);

    const std::array<std::byte, 3> raw{std::byte{9}, std::byte{8}, std::byte{7}};
    q.send(raw.data(), raw.size(), 1s, 2);
    std::array<std::byte, 64> buf{};
    const pmq::Received r = q.receive(buf.data(), buf.size(), 1s);
    EXPECT_EQ(r.size, 3u);
    EXPECT_EQ(r.priority, 2u);
    EXPECT_EQ(buf[0], std::byte{9});
    EXPECT_EQ(buf[2], std::byte{7});

    // A full-size message fits exactly.
    const std::vector<std::byte> full(64, std::byte{0x5a});
    q.send(full);
    EXPECT_EQ(q.receive_bytes().data, full);
}

TEST(Queue, PriorityOrderThenFifo) {
    const auto name = unique_name("prio");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small(8, 64));
    q.send("low", pmq::forever, 1);
    q.send("high-a", pmq::forever, 10);
    q.send("medium", pmq::forever, 5);
    q.send("high-b", pmq::forever, 10);
    q.send("max", pmq::forever, pmq::priority_max());
    q.send("zero", pmq::try_once, 0);
    const std::vector<std::pair<std::string, pmq::Priority>> want{
        {"max", pmq::priority_max()}, {"high-a", 10}, {"high-b", 10},
        {"medium", 5},                {"low", 1},     {"zero", 0}};
    for (const auto &w : want) {
        const pmq::Message m = q.receive(pmq::try_once);
        EXPECT_EQ(m.data, w.first);
        EXPECT_EQ(m.priority, w.second);
    }
    EXPECT_THROW(q.send("x", pmq::forever, pmq::priority_max() + 1), pmq::InvalidArgumentError);
    EXPECT_EQ(q.current_messages(), 0);
}

TEST(Timeout, Conversions) {
    constexpr pmq::Timeout f = pmq::forever;
    constexpr pmq::Timeout t = pmq::try_once;
    static_assert(f.is_forever());
    static_assert(!t.is_forever() && t.seconds() == 0.0);
    const pmq::Timeout ms = 1500ms;
    EXPECT_FALSE(ms.is_forever());
    EXPECT_DOUBLE_EQ(ms.seconds(), 1.5);
    const pmq::Timeout us = std::chrono::microseconds(250);
    EXPECT_DOUBLE_EQ(us.seconds(), 0.00025);
    const pmq::Timeout d = std::chrono::duration<double>(0.125);
    EXPECT_DOUBLE_EQ(d.seconds(), 0.125);
    const pmq::Timeout m = std::chrono::minutes(2);
    EXPECT_DOUBLE_EQ(m.seconds(), 120.0);
}

TEST(Timeout, EmptyAndFullQueues) {
    const auto name = unique_name("timeout");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small(2, 32));
    EXPECT_THROW(q.receive(pmq::try_once), pmq::WouldBlockError);
    EXPECT_THROW(q.receive(0s), pmq::WouldBlockError);
    EXPECT_THROW(q.receive(20ms), pmq::TimedOutError);
    EXPECT_THROW(q.receive_bytes(1ms), pmq::BusyError);
    EXPECT_THROW(q.receive(-1s), pmq::InvalidArgumentError);

    q.send("one", pmq::try_once);
    q.send("two", 10ms);
    EXPECT_THROW(q.send("three", pmq::try_once), pmq::WouldBlockError);
    EXPECT_THROW(q.send("three", 20ms), pmq::TimedOutError);
    EXPECT_THROW(q.send("three", -5ms), pmq::InvalidArgumentError);
    EXPECT_EQ(q.current_messages(), 2);

    EXPECT_EQ(q.receive(5s).data, "one");
    EXPECT_EQ(q.receive(pmq::forever).data, "two");
}

TEST(Timeout, HugeFiniteDurations) {
    const auto name = unique_name("huge");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small(2, 32));
    q.send("a", std::chrono::hours(24 * 365 * 1000));
    q.send("b", std::chrono::nanoseconds::max());
    EXPECT_EQ(q.receive(std::chrono::seconds::max()).data, "a");
    auto m = q.try_receive(std::chrono::duration<double>(1e15));
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->data, "b");
    // Beyond what the library can represent: forever, neither rejected nor
    // wrapped around (tests/cpp/test_backends.cpp has more).
    EXPECT_TRUE(pmq::Timeout(std::chrono::duration<double>(1e300)).is_forever());
    q.send("c");
    EXPECT_EQ(q.receive(std::chrono::duration<double>(1e300)).data, "c");
    EXPECT_THROW(q.receive(std::chrono::duration<double>(-0.5)), pmq::InvalidArgumentError);
}

TEST(TryForms, ReportWouldBlockWithoutThrowing) {
    const auto name = unique_name("try");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small(2, 32));
    EXPECT_FALSE(q.try_receive().has_value());
    EXPECT_FALSE(q.try_receive(10ms).has_value());
    EXPECT_FALSE(q.try_receive_bytes().has_value());
    std::array<std::byte, 32> buf{};
    EXPECT_FALSE(q.try_receive(buf.data(), buf.size()).has_value());

    EXPECT_TRUE(q.try_send("a"));
    EXPECT_TRUE(q.try_send(bytes({1, 2}), pmq::try_once, 4));
    EXPECT_FALSE(q.try_send("c"));
    EXPECT_FALSE(q.try_send("c", 10ms, 9));
    const std::byte one{1};
    EXPECT_FALSE(q.try_send(&one, 1));

    auto b = q.try_receive_bytes();
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->data, bytes({1, 2}));
    EXPECT_EQ(b->priority, 4u);
    auto m = q.try_receive(1s);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->data, "a");

    EXPECT_TRUE(q.try_send(&one, 1, pmq::forever, 2));
    auto r = q.try_receive(buf.data(), buf.size());
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->size, 1u);
    EXPECT_EQ(r->priority, 2u);
    EXPECT_EQ(buf[0], one);

    // Other failures still throw.
    EXPECT_THROW(q.try_send(std::string(33, 'x')), pmq::MessageTooLargeError);
    EXPECT_THROW(q.try_receive(buf.data(), 4), pmq::BufferTooSmallError);
    auto wo = pmq::MessageQueue::open(name, pmq::Options().read(false));
    EXPECT_THROW(wo.try_receive(), pmq::PermissionError);
}

TEST(Block, SwitchPerHandle) {
    const auto name = unique_name("block");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small(1, 32));
    auto other = pmq::MessageQueue::open(name);
    EXPECT_TRUE(q.block());
    q.set_block(false);
    EXPECT_FALSE(q.block());
    EXPECT_FALSE(q.attributes().block);
    EXPECT_TRUE(other.block());
    // Would wait forever on a blocking handle; fails at once here.
    EXPECT_THROW(q.receive(), pmq::WouldBlockError);
    EXPECT_THROW(q.receive(5s), pmq::WouldBlockError);
    EXPECT_FALSE(q.try_receive(pmq::forever).has_value());
    q.send("x");
    EXPECT_THROW(q.send("y"), pmq::WouldBlockError);
    EXPECT_FALSE(q.try_send("y", pmq::forever));
    q.set_block(true);
    EXPECT_TRUE(q.block());
    EXPECT_EQ(q.receive().data, "x");

    auto nb = pmq::MessageQueue::open(name, pmq::Options().block(false));
    EXPECT_FALSE(nb.block());
    EXPECT_THROW(nb.receive(), pmq::WouldBlockError);
}

TEST(Attributes, ReadBack) {
    const auto name = unique_name("attrs");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small(5, 256));
    EXPECT_EQ(q.max_messages(), 5);
    EXPECT_EQ(q.max_message_size(), 256);
    EXPECT_EQ(q.current_messages(), 0);
    for (int i = 0; i < 3; i++) q.send("m" + std::to_string(i));
    const pmq::Attributes a = q.attributes();
    EXPECT_EQ(a.max_messages, 5);
    EXPECT_EQ(a.max_message_size, 256);
    EXPECT_EQ(a.current_messages, 3);
    EXPECT_TRUE(a.block);
    EXPECT_EQ(q.current_messages(), 3);
}

TEST(Open, ExistingQueueWinsAndSharesMessages) {
    const auto name = unique_name("open");
    UnlinkGuard g(name);
    auto a = pmq::MessageQueue::create_exclusive(name, small(3, 100));
    // Sizes are ignored when opening an existing queue: its own values win.
    auto b = pmq::MessageQueue::create(name, small(7, 50));
    auto c = pmq::MessageQueue::open(name);
    EXPECT_EQ(b.max_messages(), 3);
    EXPECT_EQ(c.max_message_size(), 100);
    a.send("from a");
    EXPECT_EQ(b.receive().data, "from a");
    c.send("from c");
    EXPECT_EQ(a.receive().data, "from c");
    // open() honours the flags given in the options.
    EXPECT_THROW(pmq::MessageQueue::open(name, pmq::Options().flags(pmq::flags::create_exclusive)),
                 pmq::ExistsError);
    auto d = pmq::MessageQueue::open(name, pmq::Options().flags(pmq::flags::create));
    EXPECT_EQ(d.max_messages(), 3);
}

TEST(Open, ModeAndAccess) {
    const auto name = unique_name("mode");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small().mode(0640));
    EXPECT_EQ(q.mode(), 0640u);
    EXPECT_TRUE(q.can_read());
    EXPECT_TRUE(q.can_write());
    auto ro = pmq::MessageQueue::open(name, pmq::Options().write(false));
    EXPECT_TRUE(ro.can_read());
    EXPECT_FALSE(ro.can_write());
    auto wo = pmq::MessageQueue::open(name, pmq::Options().read(false));
    EXPECT_FALSE(wo.can_read());
    EXPECT_TRUE(wo.can_write());
    wo.send("w");
    EXPECT_EQ(ro.receive().data, "w");
    EXPECT_EQ(pmq::MessageQueue::open(name).mode(), pmq::default_mode);
}

TEST(Open, RandomNames) {
    auto a = pmq::MessageQueue::create_random(small());
    UnlinkGuard ga(a.name());
    auto b = pmq::MessageQueue::create_random(small().flags(pmq::flags::open_existing));
    UnlinkGuard gb(b.name());
    EXPECT_EQ(a.name().rfind('/', 0), 0u);
    EXPECT_GT(a.name().size(), 1u);
    EXPECT_NE(a.name(), b.name());
    EXPECT_TRUE(std::ifstream("/dev/mqueue" + a.name()).good());
    auto a2 = pmq::MessageQueue::open(a.name());
    a2.send("via name");
    EXPECT_EQ(a.receive().data, "via name");
}

TEST(Lifetime, CloseMakesIoThrowClosedError) {
    const auto name = unique_name("close");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small().mode(0600));
    EXPECT_FALSE(q.is_closed());
    q.close();
    EXPECT_TRUE(q.is_closed());
    EXPECT_THROW(q.send("x"), pmq::ClosedError);
    EXPECT_THROW(q.receive(), pmq::ClosedError);
    EXPECT_THROW(q.try_receive(), pmq::ClosedError);
    // What was fixed at open stays known, as in every other binding.
    EXPECT_EQ(q.max_messages(), 4);
    EXPECT_EQ(q.max_message_size(), 128);
}

TEST(Lifetime, CloseThenOperations) {
    const auto name = unique_name("close2");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small());
    q.close();
    EXPECT_THROW(q.try_send("x"), pmq::ClosedError);
    EXPECT_THROW(q.attributes(), pmq::ClosedError);
    EXPECT_THROW(q.block(), pmq::ClosedError);
    EXPECT_THROW(q.set_block(false), pmq::ClosedError);
    EXPECT_THROW(q.fileno(), pmq::ClosedError);
    EXPECT_THROW(q.current_messages(), pmq::ClosedError);
    EXPECT_THROW(q.close(), pmq::ClosedError);
    EXPECT_THROW(q.notify_cancel(), pmq::ClosedError);
    EXPECT_THROW(q.notify_callback([] {}), pmq::ClosedError);
    EXPECT_EQ(q.name(), name);
    EXPECT_EQ(q.mode(), 0600u);
    EXPECT_TRUE(q.can_read());
    EXPECT_NE(q.str().find("closed"), std::string::npos) << q.str();
    q.unlink();
    EXPECT_THROW(pmq::MessageQueue::open(name), pmq::NotFoundError);
}

TEST(Lifetime, UnlinkKeepsOpenHandlesWorking) {
    const auto name = unique_name("unlink");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small());
    q.unlink();
    EXPECT_THROW(pmq::MessageQueue::open(name), pmq::NotFoundError);
    q.send("still works");
    EXPECT_EQ(q.receive().data, "still works");
    EXPECT_THROW(q.unlink(), pmq::NotFoundError);
    // A new create with the same name is a new, empty queue.
    q.send("old");
    auto fresh = pmq::MessageQueue::create(name, small());
    EXPECT_EQ(fresh.current_messages(), 0);
    EXPECT_EQ(q.current_messages(), 1);
}

TEST(Lifetime, UnlinkByName) {
    const auto name = unique_name("unlinkname");
    UnlinkGuard g(name);
    EXPECT_FALSE(pmq::unlink_if_exists(name));
    EXPECT_THROW(pmq::unlink(name), pmq::NotFoundError);
    { auto q = pmq::MessageQueue::create(name, small()); }
    EXPECT_TRUE(std::ifstream("/dev/mqueue" + name).good());
    pmq::unlink(name);
    EXPECT_FALSE(std::ifstream("/dev/mqueue" + name).good());
    { auto q = pmq::MessageQueue::create(name, small()); }
    EXPECT_TRUE(pmq::unlink_if_exists(name));
    EXPECT_FALSE(pmq::unlink_if_exists(name));
}

TEST(Fileno, PollsReadableAndWritable) {
    const auto name = unique_name("fileno");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small(1, 32));
    const int fd = q.fileno();
    ASSERT_GE(fd, 0);
    EXPECT_EQ(q.fileno(), fd);
    struct pollfd p {};
    p.fd = fd;
    p.events = POLLIN | POLLOUT;
    ASSERT_EQ(::poll(&p, 1, 0), 1);
    EXPECT_FALSE(p.revents & POLLIN);
    EXPECT_TRUE(p.revents & POLLOUT);
    q.send("x");
    p.revents = 0;
    ASSERT_EQ(::poll(&p, 1, 0), 1);
    EXPECT_TRUE(p.revents & POLLIN);
    EXPECT_FALSE(p.revents & POLLOUT);
}

TEST(Describe, StrReprAndStream) {
    const auto name = unique_name("describe");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small(4, 128));
    q.send("one");
    const std::string s = q.str();
    EXPECT_EQ(s, q.describe());
    EXPECT_EQ(s, q.describe(pmq::Describe::Short));
    EXPECT_NE(s.find(name), std::string::npos) << s;
    EXPECT_NE(s.find('1'), std::string::npos) << s;
    const std::string r = q.repr();
    EXPECT_EQ(r, q.describe(pmq::Describe::Debug));
    EXPECT_NE(r.find(name), std::string::npos) << r;
    EXPECT_NE(r.find("128"), std::string::npos) << r;
    EXPECT_NE(r, s);
    std::ostringstream os;
    os << q;
    EXPECT_EQ(os.str(), s);

    // A long name needs more than the first buffer.
    const std::string long_name = "/" + std::string(200, 'd') + std::to_string(::getpid());
    UnlinkGuard gl(long_name);
    auto l = pmq::MessageQueue::create(long_name, small());
    EXPECT_NE(l.repr().find(long_name), std::string::npos);
    EXPECT_NE(l.str().find(long_name), std::string::npos);
}

// The shared-memory backend through the C++ API: chosen with
// Options().backend(), the same calls, and capacities above fs.mqueue.msg_max.
TEST(Backend, SharedMemoryQueueWorksLikeTheKernelOne) {
    const auto name = unique_name("shm");
    struct ShmGuard {
        std::string n;
        ~ShmGuard() {
            try {
                pmq::unlink(n, pmq::Backend::Shm);
            } catch (const pmq::Error &) {
            }
        }
    } g{name};
    auto q = pmq::MessageQueue::create_exclusive(
        name, pmq::Options().backend(pmq::Backend::Shm).max_messages(500).max_message_size(32));
    EXPECT_EQ(q.backend(), pmq::Backend::Shm);
    for (int i = 0; i < 500; i++) q.send(std::to_string(i), pmq::forever, static_cast<pmq::Priority>(i % 3));
    EXPECT_EQ(q.current_messages(), 500);
    EXPECT_FALSE(q.try_send("full"));
    auto m = q.receive();
    EXPECT_EQ(m.priority, 2u);
    EXPECT_EQ(m.data, "2");
    EXPECT_THROW(pmq::unlink(name), pmq::NotFoundError);  // not a kernel queue
    pmq::unlink(name, pmq::Backend::Shm);
    EXPECT_THROW(pmq::unlink(name, pmq::Backend::Shm), pmq::NotFoundError);
    EXPECT_EQ(q.receive().data, "5");  // unlinked: the handle keeps working
}
