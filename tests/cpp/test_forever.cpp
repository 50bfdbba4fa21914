// pmq.hpp's one spelling of forever: pmq::forever (and any duration longer
// than Timeout::forever_after) is PMQ_FOREVER, passed straight to the C API's
// _timeout calls; the untimed calls are never used.
//
// The proof interposes libpmq's send and receive exports: this executable's
// definitions below win for its own calls (the dynamic linker resolves the
// wrapper's calls to them first), count the call and its timeout on the
// calling thread, and forward to the library's function (dlsym RTLD_NEXT).
// Every other test in this binary goes through them too, unchanged.
#include "pmq.hpp"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "test_util.hpp"

using pmq_test::small;
using pmq_test::unique_name;

namespace {

/// What this thread's interposed calls saw.
struct Seen {
    int untimed = 0;              // calls of the untimed functions
    std::vector<double> timeouts;  // the timeout of each _timeout call
};
thread_local Seen seen;

template <class Fn>
Fn real(const char *symbol) {
    void *f = ::dlsym(RTLD_NEXT, symbol);
    if (f == nullptr) std::abort();  // libpmq must export it
    return reinterpret_cast<Fn>(f);
}

}  // namespace

extern "C" {

pmq_status pmq_queue_send(const pmq_queue *q, const uint8_t *msg, size_t len, uint32_t prio) {
    static const auto f = real<decltype(&pmq_queue_send)>("pmq_queue_send");
    seen.untimed++;
    return f(q, msg, len, prio);
}

pmq_status pmq_queue_send_timeout(const pmq_queue *q, const uint8_t *msg, size_t len,
                                  uint32_t prio, double timeout) {
    static const auto f = real<decltype(&pmq_queue_send_timeout)>("pmq_queue_send_timeout");
    seen.timeouts.push_back(timeout);
    return f(q, msg, len, prio, timeout);
}

pmq_status pmq_queue_receive(const pmq_queue *q, uint8_t *buf, size_t len, size_t *out_len,
                             uint32_t *out_prio) {
    static const auto f = real<decltype(&pmq_queue_receive)>("pmq_queue_receive");
    seen.untimed++;
    return f(q, buf, len, out_len, out_prio);
}

pmq_status pmq_queue_receive_timeout(const pmq_queue *q, uint8_t *buf, size_t len,
                                     size_t *out_len, uint32_t *out_prio, double timeout) {
    static const auto f = real<decltype(&pmq_queue_receive_timeout)>("pmq_queue_receive_timeout");
    seen.timeouts.push_back(timeout);
    return f(q, buf, len, out_len, out_prio, timeout);
}

pmq_status pmq_queue_send_batch(const pmq_queue *q, const pmq_message *msgs, size_t count,
                                size_t *out_sent) {
    static const auto f = real<decltype(&pmq_queue_send_batch)>("pmq_queue_send_batch");
    seen.untimed++;
    return f(q, msgs, count, out_sent);
}

pmq_status pmq_queue_send_batch_timeout(const pmq_queue *q, const pmq_message *msgs,
                                        size_t count, size_t *out_sent, double timeout) {
    static const auto f =
        real<decltype(&pmq_queue_send_batch_timeout)>("pmq_queue_send_batch_timeout");
    seen.timeouts.push_back(timeout);
    return f(q, msgs, count, out_sent, timeout);
}

pmq_status pmq_queue_receive_batch(const pmq_queue *q, uint8_t *buf, size_t len,
                                   pmq_received *out, size_t max, size_t *out_count) {
    static const auto f = real<decltype(&pmq_queue_receive_batch)>("pmq_queue_receive_batch");
    seen.untimed++;
    return f(q, buf, len, out, max, out_count);
}

pmq_status pmq_queue_receive_batch_timeout(const pmq_queue *q, uint8_t *buf, size_t len,
                                           pmq_received *out, size_t max, size_t *out_count,
                                           double timeout) {
    static const auto f =
        real<decltype(&pmq_queue_receive_batch_timeout)>("pmq_queue_receive_batch_timeout");
    seen.timeouts.push_back(timeout);
    return f(q, buf, len, out, max, out_count, timeout);
}

}  // extern "C"

TEST(Forever, IsPmqForever) {
    static_assert(pmq::Timeout::forever_seconds == std::numeric_limits<double>::infinity());
    static_assert(pmq::Timeout(pmq::forever).is_forever());
    EXPECT_EQ(pmq::Timeout(pmq::forever).seconds(), PMQ_FOREVER);
    EXPECT_EQ(pmq::Timeout(std::chrono::hours::max()).seconds(), PMQ_FOREVER);
    EXPECT_EQ(pmq::Timeout(std::chrono::duration<double>(PMQ_FOREVER)).seconds(), PMQ_FOREVER);
    EXPECT_TRUE(std::isnan(
        pmq::Timeout(std::chrono::duration<double>(std::numeric_limits<double>::quiet_NaN()))
            .seconds()));
}

TEST(Forever, GoesStraightToTheTimeoutCalls) {
    for (const auto backend : {pmq::Backend::Kernel, pmq::Backend::Shm}) {
        SCOPED_TRACE(backend == pmq::Backend::Shm ? "shm" : "kernel");
        const auto name = unique_name("forever");
        auto q = pmq::MessageQueue::create_exclusive(name, small(8, 32).backend(backend));
        q.unlink();  // nothing is left behind, whatever happens
        seen = Seen{};
        // Every call that waits forever: the default timeout and the spellings.
        q.send("a");
        q.send("b", pmq::forever, 1);
        EXPECT_TRUE(q.try_send("c", pmq::forever));
        EXPECT_EQ(q.send_batch({{"d"}}), 1u);
        EXPECT_EQ(q.try_send_batch({{"e"}}, std::chrono::hours::max()), 1u);
        EXPECT_EQ(q.receive().data, "b");
        EXPECT_EQ(q.receive_bytes().data.size(), 1u);
        EXPECT_TRUE(q.try_receive(pmq::forever).has_value());
        std::byte buf[32];
        q.receive(buf, sizeof buf);
        pmq::ReceivedAt at[2];
        EXPECT_EQ(q.receive_batch(buf, sizeof buf, at, 2), 1u);
        EXPECT_EQ(seen.untimed, 0) << "an untimed C call was used";
        EXPECT_EQ(seen.timeouts.size(), 10u);
        for (const double t : seen.timeouts) EXPECT_EQ(t, PMQ_FOREVER);
        // A bounded wait passes its bound, try_once 0.
        seen = Seen{};
        EXPECT_FALSE(q.try_receive(std::chrono::milliseconds(5)).has_value());
        EXPECT_FALSE(q.try_receive().has_value());
        ASSERT_EQ(seen.timeouts.size(), 2u);
        EXPECT_EQ(seen.timeouts[0], 0.005);
        EXPECT_EQ(seen.timeouts[1], 0.0);
    }
}
