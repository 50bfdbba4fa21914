// pmq.hpp: every status maps to its exception class; every status kind that
// can be provoked on Linux is provoked through the wrapper.
#include "pmq.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <typeindex>
#include <typeinfo>

#include "test_util.hpp"

using namespace std::chrono_literals;
using pmq_test::small;
using pmq_test::unique_name;
using pmq_test::UnlinkGuard;

namespace {

// Which leaf classes an exception belongs to (exactly one is expected).
std::vector<std::string> leaves(const pmq::Error &e) {
    std::vector<std::string> out;
#define PMQ_LEAF(T) \
    if (dynamic_cast<const pmq::T *>(&e) != nullptr) out.push_back(#T)
    PMQ_LEAF(WouldBlockError);
    PMQ_LEAF(TimedOutError);
    PMQ_LEAF(InUseError);
    PMQ_LEAF(ExistsError);
    PMQ_LEAF(NotFoundError);
    PMQ_LEAF(PermissionError);
    PMQ_LEAF(SignalError);
    PMQ_LEAF(InvalidArgumentError);
    PMQ_LEAF(MessageTooLargeError);
    PMQ_LEAF(BufferTooSmallError);
    PMQ_LEAF(LimitError);
    PMQ_LEAF(ClosedError);
    PMQ_LEAF(OutOfMemoryError);
    PMQ_LEAF(OsError);
    PMQ_LEAF(InternalError);
    PMQ_LEAF(NotSupportedError);
    PMQ_LEAF(CorruptedError);
    PMQ_LEAF(LeaseLostError);
#undef PMQ_LEAF
    return out;
}

template <class Leaf, class Group>
void expect_mapping(pmq::Status status, const char *leaf_name) {
    SCOPED_TRACE(leaf_name);
    try {
        pmq::throw_error(status, "the detail", 42, 17);
        ADD_FAILURE() << "throw_error returned";
    } catch (const Leaf &e) {
        EXPECT_NE(dynamic_cast<const Group *>(&e), nullptr);
        EXPECT_NE(dynamic_cast<const std::runtime_error *>(&e), nullptr);
        EXPECT_EQ(leaves(e), std::vector<std::string>{leaf_name});
        EXPECT_EQ(e.status(), status);
        EXPECT_EQ(e.code(), static_cast<int>(status));
        EXPECT_EQ(e.detail(), "the detail");
        EXPECT_EQ(e.os_errno(), 42);
        EXPECT_EQ(e.name(), ::pmq_status_name(static_cast<int>(status)));
        const std::string what = e.what();
        EXPECT_NE(what.find("the detail"), std::string::npos) << what;
        EXPECT_NE(what.find(std::string(e.name())), std::string::npos) << what;
    } catch (const std::exception &e) {
        ADD_FAILURE() << "wrong exception type " << typeid(e).name();
    }
}

// Catches the pmq::Error thrown by f, checking it is a T; returns a copy of it.
template <class T, class F>
std::optional<T> catch_as(F f) {
    try {
        f();
    } catch (const T &e) {
        return e;
    } catch (const std::exception &e) {
        ADD_FAILURE() << "wrong exception " << typeid(e).name() << ": " << e.what();
        return std::nullopt;
    }
    ADD_FAILURE() << "nothing thrown";
    return std::nullopt;
}

}  // namespace

TEST(ErrorMapping, EveryStatusHasItsClass) {
    using S = pmq::Status;
    expect_mapping<pmq::WouldBlockError, pmq::BusyError>(S::WouldBlock, "WouldBlockError");
    expect_mapping<pmq::TimedOutError, pmq::BusyError>(S::TimedOut, "TimedOutError");
    expect_mapping<pmq::InUseError, pmq::BusyError>(S::Busy, "InUseError");
    expect_mapping<pmq::ExistsError, pmq::ExistentialError>(S::Exists, "ExistsError");
    expect_mapping<pmq::NotFoundError, pmq::ExistentialError>(S::NotFound, "NotFoundError");
    expect_mapping<pmq::PermissionError, pmq::Error>(S::Permission, "PermissionError");
    expect_mapping<pmq::SignalError, pmq::Error>(S::Interrupted, "SignalError");
    expect_mapping<pmq::InvalidArgumentError, pmq::ValueError>(S::InvalidArgument,
                                                               "InvalidArgumentError");
    expect_mapping<pmq::MessageTooLargeError, pmq::ValueError>(S::MessageTooLarge,
                                                               "MessageTooLargeError");
    expect_mapping<pmq::BufferTooSmallError, pmq::ValueError>(S::BufferTooSmall,
                                                              "BufferTooSmallError");
    expect_mapping<pmq::LimitError, pmq::Error>(S::SystemLimit, "LimitError");
    expect_mapping<pmq::ClosedError, pmq::Error>(S::Closed, "ClosedError");
    expect_mapping<pmq::OutOfMemoryError, pmq::Error>(S::OutOfMemory, "OutOfMemoryError");
    expect_mapping<pmq::OsError, pmq::Error>(S::OsError, "OsError");
    expect_mapping<pmq::InternalError, pmq::Error>(S::Panic, "InternalError");
    expect_mapping<pmq::NotSupportedError, pmq::Error>(S::NotSupported, "NotSupportedError");
    expect_mapping<pmq::LeaseLostError, pmq::Error>(S::LeaseLost, "LeaseLostError");
}

// Every status the library defines, 0..=pmq_status_last() asked at run time
// (not this header's idea of the last one), is known to pmq.hpp: a status
// appended to pmq.h without a pmq::Status enumerator and a case in
// pmq::throw_error() fails here, whichever status it is. Known means
// throw_error() throws a class of its own for it (not the pmq::Error that an
// unknown status gets, nor a group class), a different class for every status,
// a BusyError exactly when pmq_status_is_busy() says so, and the name and
// text are the library's.
TEST(ErrorMapping, EveryLibraryStatusIsKnown) {
    const int last = ::pmq_status_last();
    ASSERT_GE(last, PMQ_STATUS_NOT_SUPPORTED);  // values are only ever appended

    // 0 is success: no exception, but the enumerator and the library agree.
    EXPECT_EQ(static_cast<int>(pmq::Status::Ok), 0);
    EXPECT_EQ(pmq::status_name(pmq::Status::Ok), ::pmq_status_name(0));
    EXPECT_EQ(pmq::status_str(pmq::Status::Ok), ::pmq_status_str(0));
    EXPECT_FALSE(::pmq_status_is_busy(0));
    EXPECT_EQ(pmq::status_name(pmq::Status::TimedOut), "PMQ_STATUS_TIMED_OUT");

    const std::set<std::type_index> not_specific = {
        typeid(pmq::Error), typeid(pmq::BusyError), typeid(pmq::ExistentialError),
        typeid(pmq::ValueError)};
    std::map<std::type_index, int> status_of_class;
    for (int s = 1; s <= last; s++) {
        const std::string name = ::pmq_status_name(s);
        const std::string text = ::pmq_status_str(s);
        SCOPED_TRACE(std::to_string(s) + " " + name);
        ASSERT_NE(name, "PMQ_STATUS_UNKNOWN") << "the library has a gap in its statuses";
        const auto status = static_cast<pmq::Status>(s);
        try {
            pmq::throw_error(status, "");
            ADD_FAILURE() << "throw_error returned";
        } catch (const pmq::Error &e) {
            const std::type_index cls(typeid(e));
            EXPECT_EQ(not_specific.count(cls), 0u)
                << "pmq.hpp does not know this status: throw_error() throws "
                << typeid(e).name() << "; add a pmq::Status enumerator, its exception class "
                << "and its case in pmq::throw_error()";
            const auto seen = status_of_class.emplace(cls, s);
            EXPECT_TRUE(seen.second) << typeid(e).name() << " is thrown for "
                                     << ::pmq_status_name(seen.first->second) << " too";
            EXPECT_EQ(e.status(), status);
            EXPECT_EQ(e.code(), s);
            EXPECT_EQ(e.name(), name);
            EXPECT_EQ(pmq::status_name(status), name);
            EXPECT_EQ(pmq::status_str(status), text);
            // An empty detail falls back to the status's text.
            EXPECT_EQ(std::string(e.what()), text + " [" + name + "]");
            EXPECT_EQ(dynamic_cast<const pmq::BusyError *>(&e) != nullptr,
                      ::pmq_status_is_busy(s))
                << "BusyError-ness differs from pmq_status_is_busy()";
        } catch (...) {
            ADD_FAILURE() << "throw_error threw something that is not a pmq::Error";
        }
    }
}

// A status this header does not know (from a newer library, or any other
// value) is the plain pmq::Error, with the library's "unknown" name and text.
TEST(ErrorMapping, UnknownStatusIsPlainError) {
    const int last = ::pmq_status_last();
    for (int s : {last + 1, 1000, -1}) {
        SCOPED_TRACE(s);
        try {
            pmq::throw_error(static_cast<pmq::Status>(s), "from the future");
            ADD_FAILURE();
        } catch (const pmq::Error &e) {
            EXPECT_TRUE(leaves(e).empty());
            EXPECT_EQ(typeid(e), typeid(pmq::Error));
            EXPECT_EQ(dynamic_cast<const pmq::BusyError *>(&e), nullptr);
            EXPECT_EQ(e.code(), s);
            EXPECT_EQ(e.name(), "PMQ_STATUS_UNKNOWN");
            EXPECT_EQ(std::string(e.what()), "from the future [PMQ_STATUS_UNKNOWN]");
        }
        try {
            pmq::throw_error(static_cast<pmq::Status>(s), "");
            ADD_FAILURE();
        } catch (const pmq::Error &e) {
            EXPECT_EQ(typeid(e), typeid(pmq::Error));
            EXPECT_EQ(std::string(e.what()),
                      std::string(::pmq_status_str(s)) + " [PMQ_STATUS_UNKNOWN]");
        }
        EXPECT_EQ(pmq::status_str(static_cast<pmq::Status>(s)), "unknown status");
    }
}

TEST(ErrorMapping, BufferTooSmallCarriesNeeded) {
    try {
        pmq::throw_error(pmq::Status::BufferTooSmall, "small", 0, 512);
    } catch (const pmq::BufferTooSmallError &e) {
        EXPECT_EQ(e.needed(), 512u);
    }
}

TEST(Provoked, NotFoundAndExists) {
    const auto name = unique_name("exist");
    UnlinkGuard g(name);
    auto nf = catch_as<pmq::NotFoundError>([&] { pmq::MessageQueue::open(name); });
    ASSERT_TRUE(nf);
    EXPECT_EQ(nf->status(), pmq::Status::NotFound);
    EXPECT_EQ(nf->code(), PMQ_STATUS_NOT_FOUND);
    EXPECT_FALSE(nf->detail().empty());
    EXPECT_EQ(nf->detail(), pmq::last_error_message());
    // The one check of the superseded export: it reads the same detail.
    EXPECT_EQ(nf->detail(), ::pmq_last_error());
    EXPECT_EQ(nf->os_errno(), ::pmq_last_error_errno());
    EXPECT_NE(nf->detail().find(name), std::string::npos) << nf->detail();

    auto q = pmq::MessageQueue::create_exclusive(name, small());
    auto ex = catch_as<pmq::ExistsError>(
        [&] { pmq::MessageQueue::create_exclusive(name, small()); });
    ASSERT_TRUE(ex);
    EXPECT_EQ(ex->code(), PMQ_STATUS_EXISTS);
    EXPECT_THROW(pmq::MessageQueue::create_exclusive(name, small()), pmq::ExistentialError);
}

TEST(Provoked, InvalidArguments) {
    using E = pmq::InvalidArgumentError;
    EXPECT_THROW(pmq::MessageQueue::create("noslash", small()), E);
    EXPECT_THROW(pmq::MessageQueue::create("/a/b", small()), E);
    EXPECT_THROW(pmq::MessageQueue::create("/", small()), E);
    EXPECT_THROW(pmq::MessageQueue::create("/" + std::string(256, 'n'), small()), E);
    auto nul = catch_as<E>([] {
        pmq::MessageQueue::create(std::string_view("/nul\0name", 9), small());
    });
    ASSERT_TRUE(nul);
    EXPECT_NE(nul->detail().find("NUL"), std::string::npos) << nul->detail();
    EXPECT_THROW(pmq::unlink(std::string_view("/x\0", 3)), E);

    const auto name = unique_name("inval");
    UnlinkGuard g(name);
    EXPECT_THROW(pmq::MessageQueue::create(name, small().read(false).write(false)), E);
    EXPECT_THROW(pmq::MessageQueue::create(name, small(0, 64)), E);
    EXPECT_THROW(pmq::MessageQueue::create(name, small(4, 0)), E);
    EXPECT_THROW(pmq::MessageQueue::open(name, pmq::Options().flags(12345)), E);

    auto q = pmq::MessageQueue::create(name, small());
    EXPECT_THROW(q.send("x", pmq::forever, 40000), E);
    EXPECT_THROW(q.send("x", -1ms), E);
    EXPECT_THROW(q.receive(-1s), E);
    EXPECT_THROW(q.try_receive(-1s), E);
    EXPECT_THROW(q.notify_signal(0), E);
    EXPECT_THROW(q.notify_signal(100000), E);
    EXPECT_THROW(q.notify_callback(std::function<void()>()), E);
    EXPECT_THROW(q.notify_callback(nullptr), pmq::ValueError);
    EXPECT_EQ(q.current_messages(), 0);
}

// The detail comes through pmq_error_message() whole, also when it is longer
// than the wrapper's first buffer (256 bytes): a missing queue's detail
// names the queue, here by a name of 250 bytes.
TEST(Provoked, LongDetailArrivesWhole) {
    std::string name = unique_name("long");
    name.resize(251, 'l');
    auto e = catch_as<pmq::NotFoundError>([&] { pmq::MessageQueue::open(name); });
    ASSERT_TRUE(e);
    EXPECT_GT(e->detail().size(), 256u) << e->detail();
    EXPECT_NE(e->detail().find(name), std::string::npos) << e->detail();
    // The same text the C API gives (the detail stays until the next failure).
    char buf[1024];
    std::size_t needed = 0;
    ASSERT_EQ(::pmq_error_message(buf, sizeof buf, &needed), PMQ_STATUS_OK);
    EXPECT_EQ(e->detail(), std::string(buf, needed));
}

TEST(Provoked, MessageTooLargeAndBufferTooSmall) {
    const auto name = unique_name("size");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small(4, 64));
    auto big = catch_as<pmq::MessageTooLargeError>([&] { q.send(std::string(65, 'x')); });
    ASSERT_TRUE(big);
    EXPECT_NE(dynamic_cast<const pmq::ValueError *>(&*big), nullptr);
    EXPECT_THROW(q.send(std::vector<std::byte>(65)), pmq::MessageTooLargeError);
    EXPECT_EQ(q.current_messages(), 0);

    q.send("fits");
    std::array<std::byte, 63> buf{};
    auto small_buf = catch_as<pmq::BufferTooSmallError>(
        [&] { q.receive(buf.data(), buf.size(), pmq::try_once); });
    ASSERT_TRUE(small_buf);
    EXPECT_EQ(small_buf->needed(), 64u);
    EXPECT_EQ(q.current_messages(), 1);  // nothing was taken
    EXPECT_EQ(q.receive().data, "fits");
}

TEST(Provoked, PermissionFromHandleAccess) {
    const auto name = unique_name("perm");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small());
    auto ro = pmq::MessageQueue::open(name, pmq::Options().write(false));
    auto wo = pmq::MessageQueue::open(name, pmq::Options().read(false));
    auto e = catch_as<pmq::PermissionError>([&] { ro.send("x"); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), PMQ_STATUS_PERMISSION);
    EXPECT_THROW(ro.try_send("x"), pmq::PermissionError);
    EXPECT_THROW(wo.receive(pmq::try_once), pmq::PermissionError);
    EXPECT_THROW(wo.receive_bytes(), pmq::PermissionError);
}

TEST(Provoked, SystemLimitFromRlimit) {
    struct rlimit saved {};
    ASSERT_EQ(::getrlimit(RLIMIT_MSGQUEUE, &saved), 0);
    struct Restore {
        struct rlimit r;
        ~Restore() { ::setrlimit(RLIMIT_MSGQUEUE, &r); }
    } restore{saved};
    struct rlimit tiny = saved;
    tiny.rlim_cur = 1;  // no queue fits in one byte
    ASSERT_EQ(::setrlimit(RLIMIT_MSGQUEUE, &tiny), 0);
    const auto name = unique_name("limit");
    UnlinkGuard g(name);
    auto e = catch_as<pmq::LimitError>([&] { pmq::MessageQueue::create(name, small(2, 16)); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), PMQ_STATUS_SYSTEM_LIMIT);
    EXPECT_NE(e->detail().find("RLIMIT_MSGQUEUE"), std::string::npos) << e->detail();
}

TEST(Provoked, ClosedAndMovedFrom) {
    const auto name = unique_name("closed");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small());
    q.close();
    auto e = catch_as<pmq::ClosedError>([&] { q.send("x"); });
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), PMQ_STATUS_CLOSED);

    auto a = pmq::MessageQueue::create(name, small());
    auto b = std::move(a);
    EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): testing the moved-from state
    EXPECT_EQ(a.native_handle(), nullptr);
    auto m = catch_as<pmq::ClosedError>([&] { a.send("x"); });
    ASSERT_TRUE(m);
    EXPECT_NE(m->detail().find("moved"), std::string::npos);
    EXPECT_THROW(a.name(), pmq::ClosedError);
    EXPECT_THROW(a.receive(), pmq::ClosedError);
    EXPECT_THROW(a.try_receive(), pmq::ClosedError);
    EXPECT_THROW(a.notify_callback([] {}), pmq::ClosedError);
    EXPECT_THROW(a.close(), pmq::ClosedError);
    b.send("b still works");
    EXPECT_EQ(b.receive().data, "b still works");
}

namespace {
std::atomic<int> g_interrupts{0};
void on_interrupt(int) { g_interrupts.fetch_add(1); }

// Installs a handler for `sig` without SA_RESTART; restores the old one.
struct HandlerGuard {
    int sig;
    struct sigaction old {};
    explicit HandlerGuard(int s) : sig(s) {
        struct sigaction sa {};
        sa.sa_handler = on_interrupt;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        ::sigaction(sig, &sa, &old);
    }
    ~HandlerGuard() { ::sigaction(sig, &old, nullptr); }
};
}  // namespace

TEST(Provoked, InterruptedWaitIsSignalError) {
    HandlerGuard h(SIGUSR2);
    const auto name = unique_name("eintr");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small());
    std::atomic<bool> done{false};
    const pthread_t waiter = ::pthread_self();
    // Signals the waiting thread until its receive returns (a signal that
    // lands before the wait starts is simply repeated).
    std::thread kicker([&] {
        while (!done.load()) {
            ::pthread_kill(waiter, SIGUSR2);
            std::this_thread::sleep_for(5ms);
        }
    });
    auto e = catch_as<pmq::SignalError>([&] { q.receive(); });
    done = true;
    kicker.join();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), PMQ_STATUS_INTERRUPTED);
    EXPECT_GE(g_interrupts.load(), 1);
}

TEST(Provoked, RetryOnInterruptKeepsWaiting) {
    HandlerGuard h(SIGUSR2);
    const auto name = unique_name("retry");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small().retry_on_interrupt(true));
    auto sender = pmq::MessageQueue::open(name);
    std::atomic<bool> done{false};
    const pthread_t waiter = ::pthread_self();
    const int before = g_interrupts.load();
    std::thread kicker([&] {
        // Several signals while the receive waits, then the message.
        while (g_interrupts.load() < before + 5 && !done.load()) {
            ::pthread_kill(waiter, SIGUSR2);
            std::this_thread::sleep_for(5ms);
        }
        sender.send("after the signals");
    });
    pmq::Message m;
    EXPECT_NO_THROW(m = q.receive(30s));
    done = true;
    kicker.join();
    EXPECT_EQ(m.data, "after the signals");
    EXPECT_GE(g_interrupts.load(), before + 5);
}

TEST(Provoked, BusyWhenAnotherProcessHoldsTheNotification) {
    const auto name = unique_name("busy");
    UnlinkGuard g(name);
    auto q = pmq::MessageQueue::create(name, small());
    int ready[2], release[2];
    ASSERT_EQ(::pipe(ready), 0);
    ASSERT_EQ(::pipe(release), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        char c = 'n';
        // Kept open until exit: closing any descriptor of the queue would
        // drop this process's registration.
        std::optional<pmq::MessageQueue> cq;
        try {
            cq.emplace(pmq::MessageQueue::open(name));
            cq->notify_signal(SIGUSR1);
            c = 'y';
        } catch (...) {
        }
        if (::write(ready[1], &c, 1) != 1) ::_exit(3);
        (void)::read(release[0], &c, 1);  // until the parent is done
        ::_exit(0);
    }
    char c = 0;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    ASSERT_EQ(c, 'y');
    auto e = catch_as<pmq::InUseError>([&] { q.notify_signal(SIGUSR1); });
    EXPECT_THROW(q.notify_callback([] {}), pmq::BusyError);
    // Cancelling leaves the other process's registration alone.
    EXPECT_NO_THROW(q.notify_cancel());
    EXPECT_THROW(q.notify_signal(SIGUSR1), pmq::InUseError);
    ASSERT_EQ(::write(release[1], "x", 1), 1);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    for (int fd : {ready[0], ready[1], release[0], release[1]}) ::close(fd);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code(), PMQ_STATUS_BUSY);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    // Once the holder is gone, registering works.
    EXPECT_NO_THROW(q.notify_signal(SIGUSR1));
    EXPECT_NO_THROW(q.notify_cancel());
}
