// pmq.hpp: header-only C++17 wrapper over the pmq C API (pmq.h).
//
// Style follows iceoryx2-cxx: everything lives in namespace pmq, the handle
// type pmq::MessageQueue is move-only and frees its C handle in its
// destructor, and construction goes through static constructors
// (MessageQueue::open / create / create_exclusive / create_random) that take
// a pmq::Options value with fluent setters for every field of pmq_options.
//
// Errors are exceptions derived from pmq::Error (itself a
// std::runtime_error): one class per status kind, carrying the status code,
// the detail text of pmq_error_message() and the OS errno. For hot loops,
// try_send / try_receive report "would block" (and "timed out") by return
// value instead of throwing.
//
//   #include <pmq.hpp>
//   auto q = pmq::MessageQueue::create("/demo", pmq::Options().max_messages(8).max_message_size(256));
//   q.send("hello", pmq::forever, 5);          // timeout, then priority
//   pmq::Message m = q.receive(std::chrono::seconds(1));
//   q.unlink();
//
// Link with -lpmq (pkg-config --cflags --libs pmq, or CMake pmq::pmq).
//
// Thread safety: like the C API, every const member function may be called
// from several threads at once on the same MessageQueue. Moving, assigning
// and destroying a MessageQueue must not race with any other use of it.
//
// Why one file of over 600 lines: it is the one header a C++ user includes
// and installs, next to pmq.h, and most of it is the API's own documentation
// (every call says what it throws and when it waits). It reads top to bottom
// in sections: versions and constants; status codes and exceptions;
// timeouts; plain data (messages, batches, receipts, limits); Options;
// functions on names; MessageQueue (construction, send, batch send,
// receive, batch receive, attributes, lifetime, notifications), whose
// private part at the end holds the few helpers every call goes through
// (send_status, receive_status and their batch forms, receive_into).

#ifndef PMQ_HPP
#define PMQ_HPP

#include "pmq.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace pmq {

// ---------------------------------------------------------------------------
// Versions, limits, constants
// ---------------------------------------------------------------------------

/// Version of this header (compare with version_number() at run time).
inline constexpr std::uint32_t header_version_major = PMQ_VERSION_MAJOR;
inline constexpr std::uint32_t header_version_minor = PMQ_VERSION_MINOR;
inline constexpr std::uint32_t header_version_patch = PMQ_VERSION_PATCH;
inline constexpr std::uint32_t header_version_number = PMQ_VERSION_NUMBER;
inline constexpr std::string_view header_version = PMQ_VERSION_STRING;

/// The library's version, e.g. "0.1.0".
inline std::string_view version() { return ::pmq_version(); }
/// The library's version as MAJOR * 10000 + MINOR * 100 + PATCH.
inline std::uint32_t version_number() { return ::pmq_version_number(); }

/// A message priority: 0 (lowest) .. priority_max() (highest).
using Priority = std::uint32_t;

/// Highest priority on Linux (the reference's QUEUE_PRIORITY_MAX).
inline constexpr Priority priority_max_linux = PMQ_PRIORITY_MAX;
/// Default permission bits of a new queue (0600).
inline constexpr std::uint32_t default_mode = PMQ_DEFAULT_MODE;
/// Longest queue name after the leading slash, in bytes, on Backend::Kernel
/// (NAME_MAX, 255).
inline constexpr std::size_t name_max = PMQ_NAME_MAX;
/// Longest queue name after the leading slash, in bytes, on Backend::Shm
/// (251: the queue's file pmq.<name> must fit the file system's 255-byte
/// names). A longer name throws InvalidArgumentError naming this limit;
/// names of at most 251 bytes work on both backends.
inline constexpr std::size_t shm_name_max = PMQ_SHM_NAME_MAX;

/// Values for Options::flags() (named so they cannot clash with <fcntl.h>'s O_CREAT).
namespace flags {
inline constexpr int open_existing = 0;           ///< open an existing queue
inline constexpr int create = PMQ_O_CREAT;        ///< create it if it does not exist
inline constexpr int exclusive = PMQ_O_EXCL;      ///< with create: fail if it exists
inline constexpr int create_exclusive = PMQ_O_CREX;  ///< create | exclusive
}  // namespace flags

/// Whether this system has POSIX message queues (MESSAGE_QUEUES_SUPPORTED).
inline bool message_queues_supported() { return ::pmq_message_queues_supported(); }
/// The highest priority this system accepts (QUEUE_PRIORITY_MAX), from sysconf.
inline Priority priority_max() { return ::pmq_priority_max(); }
/// The system's msg_max, read now (QUEUE_MESSAGES_MAX_DEFAULT).
inline std::int64_t messages_max_default() { return ::pmq_queue_messages_max_default(); }
/// The system's msgsize_max, read now (QUEUE_MESSAGE_SIZE_MAX_DEFAULT).
inline std::int64_t message_size_max_default() { return ::pmq_queue_message_size_max_default(); }
/// Bytes a queue of this shape is charged against RLIMIT_MSGQUEUE.
inline std::uint64_t queue_cost(std::int64_t max_messages, std::int64_t max_message_size) {
    return ::pmq_queue_cost(max_messages, max_message_size);
}

// ---------------------------------------------------------------------------
// Status codes and exceptions
// ---------------------------------------------------------------------------

/// The C API's pmq_status, as a scoped enum (same values).
enum class Status : std::int32_t {
    Ok = PMQ_STATUS_OK,
    WouldBlock = PMQ_STATUS_WOULD_BLOCK,
    TimedOut = PMQ_STATUS_TIMED_OUT,
    Busy = PMQ_STATUS_BUSY,
    Exists = PMQ_STATUS_EXISTS,
    NotFound = PMQ_STATUS_NOT_FOUND,
    Permission = PMQ_STATUS_PERMISSION,
    Interrupted = PMQ_STATUS_INTERRUPTED,
    InvalidArgument = PMQ_STATUS_INVALID_ARGUMENT,
    MessageTooLarge = PMQ_STATUS_MESSAGE_TOO_LARGE,
    BufferTooSmall = PMQ_STATUS_BUFFER_TOO_SMALL,
    SystemLimit = PMQ_STATUS_SYSTEM_LIMIT,
    Closed = PMQ_STATUS_CLOSED,
    OutOfMemory = PMQ_STATUS_OUT_OF_MEMORY,
    OsError = PMQ_STATUS_OS_ERROR,
    Panic = PMQ_STATUS_PANIC,
    NotSupported = PMQ_STATUS_NOT_SUPPORTED,
    Corrupted = PMQ_STATUS_CORRUPTED,
    LeaseLost = PMQ_STATUS_LEASE_LOST,
};

/// Where a queue lives (pmq_options.backend).
enum class Backend : std::uint32_t {
    /// The Linux kernel's POSIX message queues (mq_open), shared with every
    /// program that opens the same name.
    Kernel = PMQ_BACKEND_KERNEL,
    /// pmq's own shared-memory queue under /dev/shm: faster, bounded only by
    /// memory, robust against a killed process; shared with pmq programs.
    /// Names: at most shm_name_max (251) bytes after the slash. A process
    /// stopped (SIGSTOP, a debugger) inside a call never makes another call
    /// outlast its timeout: a try-once call gives up after about 10 ms
    /// (up to 250 ms while the holder runs but was descheduled)
    /// (WouldBlockError), a timed one at its deadline (TimedOutError).
    Shm = PMQ_BACKEND_SHM,
};

/// The status's name, e.g. "PMQ_STATUS_TIMED_OUT".
inline std::string_view status_name(Status s) { return ::pmq_status_name(static_cast<int>(s)); }
/// What the status means, in words.
inline std::string_view status_str(Status s) { return ::pmq_status_str(static_cast<int>(s)); }

/// Base of every pmq exception. what() is "<detail> [PMQ_STATUS_...]".
class Error : public std::runtime_error {
  public:
    /// An exception for `status` with libpmq's `detail` (what was wrong and how to fix it),
    /// the OS errno behind it (0 if none) and, for BufferTooSmallError, the size needed.
    Error(Status status, std::string detail, int os_errno = 0, std::size_t needed = 0)
        : std::runtime_error(make_what(status, detail)),
          status_(status),
          detail_(std::move(detail)),
          os_errno_(os_errno),
          needed_(needed) {}

    /// The status code.
    Status status() const noexcept { return status_; }
    /// The status code as the C API's integer.
    int code() const noexcept { return static_cast<int>(status_); }
    /// The status's name, e.g. "PMQ_STATUS_NOT_FOUND".
    std::string_view name() const { return status_name(status_); }
    /// What was wrong and how to fix it (pmq_error_message() after the failed call).
    const std::string &detail() const noexcept { return detail_; }
    /// The OS errno behind the failure, or 0 if pmq detected it itself.
    int os_errno() const noexcept { return os_errno_; }

  protected:
    /// The size a BufferTooSmallError reports as needed (0 for other errors).
    std::size_t needed_value() const noexcept { return needed_; }

  private:
    static std::string make_what(Status status, const std::string &detail) {
        std::string w = detail.empty() ? std::string(status_str(status)) : detail;
        w += " [";
        w += status_name(status);
        w += ']';
        return w;
    }

    Status status_;
    std::string detail_;
    int os_errno_;
    std::size_t needed_;
};

/// The operation could not complete now or in time (the reference's BusyError).
class BusyError : public Error {
  public:
    using Error::Error;
};
/// WOULD_BLOCK: a try-once call (or a non-blocking handle) found the queue full/empty.
class WouldBlockError : public BusyError {
  public:
    using BusyError::BusyError;
};
/// TIMED_OUT: a bounded wait ran out.
class TimedOutError : public BusyError {
  public:
    using BusyError::BusyError;
};
/// BUSY: held by someone else, e.g. another process holds the notification registration.
class InUseError : public BusyError {
  public:
    using BusyError::BusyError;
};

/// The queue exists or does not (the reference's ExistentialError).
class ExistentialError : public Error {
  public:
    using Error::Error;
};
/// EXISTS: created exclusively but the queue already exists.
class ExistsError : public ExistentialError {
  public:
    using ExistentialError::ExistentialError;
};
/// NOT_FOUND: no queue of that name.
class NotFoundError : public ExistentialError {
  public:
    using ExistentialError::ExistentialError;
};

/// PERMISSION: the queue's mode, or this handle's read/write access.
class PermissionError : public Error {
  public:
    using Error::Error;
};

/// INTERRUPTED: a signal handler ran during a wait; nothing was transferred.
class SignalError : public Error {
  public:
    using Error::Error;
};

/// A bad value was given (the reference's ValueError).
class ValueError : public Error {
  public:
    using Error::Error;
};
/// INVALID_ARGUMENT: bad name, flags, priority, timeout, size...
class InvalidArgumentError : public ValueError {
  public:
    using ValueError::ValueError;
};
/// MESSAGE_TOO_LARGE: the message is larger than the queue's max_message_size.
class MessageTooLargeError : public ValueError {
  public:
    using ValueError::ValueError;
};
/// BUFFER_TOO_SMALL: the receive buffer is smaller than max_message_size.
class BufferTooSmallError : public ValueError {
  public:
    using ValueError::ValueError;
    /// The buffer size the call needed.
    std::size_t needed() const noexcept { return needed_value(); }
};

/// SYSTEM_LIMIT: msg_max, msgsize_max, queues_max, RLIMIT_MSGQUEUE or descriptors.
class LimitError : public Error {
  public:
    using Error::Error;
};
/// CLOSED: the handle was closed (or the MessageQueue was moved from).
class ClosedError : public Error {
  public:
    using Error::Error;
};
/// OUT_OF_MEMORY.
class OutOfMemoryError : public Error {
  public:
    using Error::Error;
};
/// OS_ERROR: another operating-system error; see os_errno().
class OsError : public Error {
  public:
    using Error::Error;
};
/// PANIC: a bug inside pmq was caught at the C boundary.
class InternalError : public Error {
  public:
    using Error::Error;
};
/// NOT_SUPPORTED: no POSIX message queues on this system.
class NotSupportedError : public Error {
  public:
    using Error::Error;
};

/// CORRUPTED: a shared-memory queue's file is damaged (scribbled on,
/// truncated or punched while mapped) or from another layout. A damaged file
/// gives this error, never a signal: libpmq installs a SIGBUS handler for
/// its mappings when the first shm queue is opened, and passes faults
/// outside them on to the handler installed before it. A program that
/// installs its own SIGBUS handler after opening a shm queue must pass the
/// faults it does not recognise on to the previous handler. Whoever the
/// file's mode lets write is trusted: until layout 3 such a process can still
/// crash the others through the lock's robust-list words (see
/// PMQ_STATUS_CORRUPTED in pmq.h).
class CorruptedError : public Error {
  public:
    using Error::Error;
};

/// LEASE_LOST: a lease given to ack() / nack() is no longer this handle's:
/// acked or nacked already, its visibility timeout passed (the message went
/// back to the queue and may have been delivered again), or it was never
/// this handle's. Nothing was changed. From ack_batch(), acked() says how
/// many of the batch were acked all the same (0 otherwise).
class LeaseLostError : public Error {
  public:
    using Error::Error;
    /// How many leases of an ack_batch() were acked (0 for ack() and nack()).
    std::size_t acked() const noexcept { return needed_value(); }
};

/// Throws the exception class that matches `status` (pmq::Error itself for a
/// status this header does not know, e.g. from a newer library).
[[noreturn]] inline void throw_error(Status status, std::string detail, int os_errno = 0,
                                     std::size_t needed = 0) {
    switch (status) {
        case Status::WouldBlock: throw WouldBlockError(status, std::move(detail), os_errno);
        case Status::TimedOut: throw TimedOutError(status, std::move(detail), os_errno);
        case Status::Busy: throw InUseError(status, std::move(detail), os_errno);
        case Status::Exists: throw ExistsError(status, std::move(detail), os_errno);
        case Status::NotFound: throw NotFoundError(status, std::move(detail), os_errno);
        case Status::Permission: throw PermissionError(status, std::move(detail), os_errno);
        case Status::Interrupted: throw SignalError(status, std::move(detail), os_errno);
        case Status::InvalidArgument:
            throw InvalidArgumentError(status, std::move(detail), os_errno);
        case Status::MessageTooLarge:
            throw MessageTooLargeError(status, std::move(detail), os_errno);
        case Status::BufferTooSmall:
            throw BufferTooSmallError(status, std::move(detail), os_errno, needed);
        case Status::SystemLimit: throw LimitError(status, std::move(detail), os_errno);
        case Status::Closed: throw ClosedError(status, std::move(detail), os_errno);
        case Status::OutOfMemory: throw OutOfMemoryError(status, std::move(detail), os_errno);
        case Status::OsError: throw OsError(status, std::move(detail), os_errno);
        case Status::Panic: throw InternalError(status, std::move(detail), os_errno);
        case Status::NotSupported: throw NotSupportedError(status, std::move(detail), os_errno);
        case Status::Corrupted: throw CorruptedError(status, std::move(detail), os_errno);
        case Status::LeaseLost: throw LeaseLostError(status, std::move(detail), os_errno);
        case Status::Ok: break;
    }
    throw Error(status, std::move(detail), os_errno, needed);
}

/// The calling thread's last failure detail, whole, through
/// pmq_error_message() (read again with the size it asked for when the
/// first read was cut; the detail does not change in between). Call it right
/// after the failing C call.
inline std::string last_error_message() {
    std::string text(256, '\0');
    std::size_t needed = 0;
    int st = ::pmq_error_message(&text[0], text.size(), &needed);
    if (st == PMQ_STATUS_BUFFER_TOO_SMALL) {
        text.assign(needed + 1, '\0');
        st = ::pmq_error_message(&text[0], text.size(), &needed);
    }
    if (st != PMQ_STATUS_OK) return std::string();
    text.resize(needed);
    return text;
}

/// Throws for `status` with the calling thread's last-error detail, errno and
/// needed size. Call it right after the failing C call.
[[noreturn]] inline void throw_last_error(int status) {
    std::string detail = last_error_message();
    throw_error(static_cast<Status>(status), std::move(detail), ::pmq_last_error_errno(),
                ::pmq_last_error_needed());
}

namespace detail {
inline void check(int status) {
    if (status != PMQ_STATUS_OK) throw_last_error(status);
}
inline bool is_would_block(int status) {
    return status == PMQ_STATUS_WOULD_BLOCK || status == PMQ_STATUS_TIMED_OUT;
}
/// A C string for a queue name; rejects embedded NULs (C would truncate them).
inline std::string c_name(std::string_view name) {
    auto nul = name.find('\0');
    if (nul != std::string_view::npos) {
        throw_error(Status::InvalidArgument,
                    "the queue name contains a NUL byte at offset " + std::to_string(nul) +
                        "; a name is \"/\" followed by 1-255 bytes (1-251 on the shm backend) "
                        "without NUL or \"/\"");
    }
    return std::string(name);
}
}  // namespace detail

// ---------------------------------------------------------------------------
// Timeouts
// ---------------------------------------------------------------------------

/// Tag: wait as long as it takes (the reference's timeout=None).
struct Forever {
    explicit constexpr Forever() = default;
};
/// Tag: try once, never wait (the reference's timeout=0).
struct TryOnce {
    explicit constexpr TryOnce() = default;
};
inline constexpr Forever forever{};
inline constexpr TryOnce try_once{};

/// How long a send or receive may wait: pmq::forever, pmq::try_once, or any
/// std::chrono duration, of any representation and period: zero = try once;
/// negative (or NaN) = InvalidArgumentError; a duration longer than
/// forever_after (about 31.7 million years; std::chrono::hours::max(),
/// seconds::max(), an infinite duration<double>...) waits like
/// pmq::forever. Waits are measured on a monotonic clock.
///
/// pmq::forever is the one spelling of "no timeout" in C++: every call
/// passes seconds() straight to the C API's _timeout function, where
/// forever is PMQ_FOREVER (positive infinity).
class Timeout {
  public:
    /// Durations longer than this many seconds mean forever.
    static constexpr double forever_after = 1e15;
    /// PMQ_FOREVER of pmq.h (positive infinity; spelled here without the C
    /// cast of its macro): what seconds() gives for pmq::forever.
    static constexpr double forever_seconds = std::numeric_limits<double>::infinity();

    /// Wait for as long as it takes (pmq::forever).
    constexpr Timeout(Forever) noexcept : seconds_(forever_seconds) {}
    /// Do not wait: try once (pmq::try_once).
    constexpr Timeout(TryOnce) noexcept : seconds_(0.0) {}
    /// Wait at most `d` (zero tries once; negative is an InvalidArgumentError at the call).
    template <class Rep, class Period>
    constexpr Timeout(std::chrono::duration<Rep, Period> d) noexcept
        : Timeout(std::chrono::duration<double>(d).count()) {}

    /// True for pmq::forever (and durations longer than forever_after).
    constexpr bool is_forever() const noexcept { return seconds_ > forever_after; }
    /// The bound in seconds, as the C API's _timeout calls take it:
    /// forever_seconds (PMQ_FOREVER) when is_forever().
    constexpr double seconds() const noexcept { return seconds_; }

  private:
    // Converted to double seconds first: no integer overflow, whatever the
    // duration's type (hours::max() is about 3.3e22 s).
    explicit constexpr Timeout(double s) noexcept
        : seconds_(s > forever_after ? forever_seconds : s) {}

    double seconds_;
};

// ---------------------------------------------------------------------------
// Plain data
// ---------------------------------------------------------------------------

/// A received message as text bytes (may hold any bytes, NULs included).
struct Message {
    std::string data;       ///< the message's bytes
    Priority priority = 0;  ///< its priority (higher is received first)
};

/// A received message as raw bytes.
struct ByteMessage {
    std::vector<std::byte> data;  ///< the message's bytes
    Priority priority = 0;        ///< its priority (higher is received first)
};

/// What a receive into a caller's buffer got.
struct Received {
    std::size_t size = 0;  ///< bytes written to the buffer
    Priority priority = 0;  ///< the message's priority
};

/// One message of a batch send (MessageQueue::send_batch): a view of its
/// bytes, like std::string_view (they are read only during the call, so they
/// must outlive it, not the OutMessage), and its priority. It has the layout
/// of the C API's pmq_message (checked below), so a batch reaches libpmq as
/// it is: no copy, no allocation.
///   q.send_batch({{"low", 1}, {"high", 7}, {bytes.data(), bytes.size(), 3}});
class OutMessage {
  public:
    /// A string's bytes with `priority`.
    OutMessage(std::string_view data, Priority priority = 0) noexcept
        : raw_{reinterpret_cast<const std::uint8_t *>(data.data()), data.size(), priority} {}
    /// `size` bytes at `data` (nullptr is fine when `size` is 0) with `priority`.
    OutMessage(const std::byte *data, std::size_t size, Priority priority = 0) noexcept
        : raw_{reinterpret_cast<const std::uint8_t *>(data), size, priority} {}
    /// A byte vector's bytes with `priority`.
    OutMessage(const std::vector<std::byte> &data, Priority priority = 0) noexcept
        : OutMessage(data.data(), data.size(), priority) {}

    /// The bytes, as a string view.
    std::string_view data() const noexcept {
        return {reinterpret_cast<const char *>(raw_.data), raw_.len};
    }
    /// How many bytes.
    std::size_t size() const noexcept { return raw_.len; }
    /// The priority.
    Priority priority() const noexcept { return raw_.priority; }

  private:
    ::pmq_message raw_;
};

/// Where a batch receive into the caller's buffer put one message:
/// `size` bytes at `buffer + offset`. Layout of the C API's pmq_received
/// (checked below), so libpmq writes these in place.
struct ReceivedAt {
    std::size_t offset = 0;  ///< start of the message in the buffer
    std::size_t size = 0;    ///< its length in bytes
    Priority priority = 0;   ///< its priority
};

namespace detail {
// The batch calls hand arrays of these to libpmq as arrays of the C structs.
static_assert(std::is_standard_layout_v<OutMessage> &&
                  sizeof(OutMessage) == sizeof(::pmq_message) &&
                  alignof(OutMessage) == alignof(::pmq_message),
              "OutMessage must have pmq_message's layout");
static_assert(std::is_standard_layout_v<ReceivedAt> &&
                  sizeof(ReceivedAt) == sizeof(::pmq_received) &&
                  alignof(ReceivedAt) == alignof(::pmq_received) &&
                  offsetof(ReceivedAt, offset) == offsetof(::pmq_received, offset) &&
                  offsetof(ReceivedAt, size) == offsetof(::pmq_received, len) &&
                  offsetof(ReceivedAt, priority) == offsetof(::pmq_received, priority),
              "ReceivedAt must have pmq_received's layout");
}  // namespace detail

/// A lease on one message (MessageQueue::lease()): pass it to ack() or
/// nack(). The C API's pmq_lease (checked below).
struct Lease {
    std::uint64_t seq = 0;       ///< the message's sequence number (unique in the queue's life)
    std::uint32_t slot = 0;      ///< where it lies in the queue (checked by ack and nack)
    std::uint32_t delivery = 0;  ///< which delivery this is: 1 the first time
    /// The same lease: same message (seq, slot) and same delivery.
    friend bool operator==(const Lease &a, const Lease &b) noexcept {
        return a.seq == b.seq && a.slot == b.slot && a.delivery == b.delivery;
    }
    /// Not the same lease (see operator==).
    friend bool operator!=(const Lease &a, const Lease &b) noexcept { return !(a == b); }
};

/// A message received under a lease (MessageQueue::lease()).
struct LeasedMessage {
    std::string data;       ///< the message's bytes
    Priority priority = 0;  ///< its priority
    Lease lease;            ///< its lease
};

/// Where a batch lease into the caller's buffer put one message: `size`
/// bytes at `buffer + offset`, under `lease`. The C API's pmq_leased.
struct LeasedAt {
    std::size_t offset = 0;  ///< start of the message in the buffer
    std::size_t size = 0;    ///< its length in bytes
    Priority priority = 0;   ///< its priority
    Lease lease;             ///< its lease
};

/// A queue's leases now (MessageQueue::lease_stats()).
struct LeaseStats {
    std::uint64_t leased = 0;  ///< messages handed out, not yet acked or given back
    /// How long ago the oldest of them was handed out (zero: none).
    std::chrono::duration<double> oldest_age{0};
};

namespace detail {
static_assert(std::is_standard_layout_v<Lease> && sizeof(Lease) == sizeof(::pmq_lease) &&
                  alignof(Lease) == alignof(::pmq_lease) &&
                  offsetof(Lease, seq) == offsetof(::pmq_lease, seq) &&
                  offsetof(Lease, slot) == offsetof(::pmq_lease, slot) &&
                  offsetof(Lease, delivery) == offsetof(::pmq_lease, delivery),
              "Lease must have pmq_lease's layout");
static_assert(std::is_standard_layout_v<LeasedAt> && sizeof(LeasedAt) == sizeof(::pmq_leased) &&
                  alignof(LeasedAt) == alignof(::pmq_leased) &&
                  offsetof(LeasedAt, offset) == offsetof(::pmq_leased, offset) &&
                  offsetof(LeasedAt, size) == offsetof(::pmq_leased, len) &&
                  offsetof(LeasedAt, priority) == offsetof(::pmq_leased, priority) &&
                  offsetof(LeasedAt, lease) == offsetof(::pmq_leased, lease),
              "LeasedAt must have pmq_leased's layout");
}  // namespace detail

/// A queue's attributes, read in one system call.
struct Attributes {
    std::int64_t max_messages = 0;      ///< capacity in messages
    std::int64_t max_message_size = 0;  ///< largest message in bytes
    std::int64_t current_messages = 0;  ///< messages waiting now
    bool block = true;  ///< whether this handle's sends/receives wait
};

/// A receipt a receiver that died left in a shared-memory queue, from
/// MessageQueue::dead_receipts() (see pmq_queue_dead_receipts() in pmq.h).
/// A receipt is written *before* the take commits, so:
/// - `taken`: the take committed; the message left the queue with the dead
///   receiver, which may not have acted on it (the case to recover);
/// - `queued`: the take did not commit and the message is still in the
///   queue (a receiver will get it);
/// - neither: the take did not commit and another receiver took it since.
struct Receipt {
    std::uint64_t seq = 0;       ///< the queue's sequence number of the message (unique)
    std::uint32_t len = 0;       ///< its length in bytes
    Priority priority = 0;       ///< its priority
    std::uint32_t pid = 0;       ///< the process id of the receiver that died
    bool taken = false;          ///< the dead receiver's take committed
    bool queued = false;         ///< the message is still in the queue
    std::string head;            ///< its first bytes (up to 16; fewer if it is shorter)
};

/// The system's message-queue limits (see pmq_limits in pmq.h).
struct Limits {
    /// The value of an RLIMIT_MSGQUEUE field that means no limit.
    static constexpr std::uint64_t unlimited = PMQ_RLIMIT_INFINITY;
    std::int64_t msg_max = 0;          ///< fs.mqueue.msg_max
    std::int64_t msgsize_max = 0;      ///< fs.mqueue.msgsize_max
    std::int64_t queues_max = 0;       ///< fs.mqueue.queues_max
    std::int64_t msg_default = 0;      ///< fs.mqueue.msg_default
    std::int64_t msgsize_default = 0;  ///< fs.mqueue.msgsize_default
    std::uint64_t rlimit_soft = 0;     ///< RLIMIT_MSGQUEUE soft, bytes, or unlimited
    std::uint64_t rlimit_hard = 0;     ///< RLIMIT_MSGQUEUE hard, bytes, or unlimited
    Priority priority_max = 0;         ///< sysconf(_SC_MQ_PRIO_MAX) - 1
};

/// Reads every message-queue limit now.
inline Limits limits() {
    ::pmq_limits l{};
    detail::check(::pmq_limits_get(&l));
    Limits out;
    out.msg_max = l.msg_max;
    out.msgsize_max = l.msgsize_max;
    out.queues_max = l.queues_max;
    out.msg_default = l.msg_default;
    out.msgsize_default = l.msgsize_default;
    out.rlimit_soft = l.rlimit_soft;
    out.rlimit_hard = l.rlimit_hard;
    out.priority_max = l.priority_max;
    return out;
}

/// Styles for MessageQueue::describe().
enum class Describe : int {
    Short = PMQ_DESCRIBE_SHORT,  ///< the reference's str(): name and message count
    Debug = PMQ_DESCRIBE_DEBUG,  ///< the reference's repr(): every attribute
};

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/// Every option of pmq_options, with fluent setters:
///   pmq::Options().max_messages(8).max_message_size(256).write(false)
/// The defaults are pmq_options_init()'s: open existing, read-write, blocking,
/// mode 0600, capacity and size = the system's msg_max / msgsize_max.
class Options {
  public:
    Options() { detail::check(::pmq_options_init(&opts_)); }

    /// flags::open_existing, flags::create or flags::create_exclusive.
    /// MessageQueue::create() and create_exclusive() set it; open() uses it as given;
    /// create_random() always creates exclusively.
    Options &flags(int value) noexcept { opts_.flags = value; return *this; }
    /// Permission bits of a created queue (masked by the umask).
    Options &mode(std::uint32_t value) noexcept { opts_.mode = value; return *this; }
    /// Capacity of a created queue (ignored when opening an existing one).
    Options &max_messages(std::int64_t value) noexcept { opts_.max_messages = value; return *this; }
    /// Largest message of a created queue (ignored when opening an existing one).
    Options &max_message_size(std::int64_t value) noexcept {
        opts_.max_message_size = value;
        return *this;
    }
    /// This handle may receive.
    Options &read(bool value) noexcept { opts_.read = value; return *this; }
    /// This handle may send.
    Options &write(bool value) noexcept { opts_.write = value; return *this; }
    /// Sends and receives may wait (false: they throw WouldBlockError / try_* return false).
    Options &block(bool value) noexcept { opts_.block = value; return *this; }
    /// A signal during a wait: false throws SignalError, true keeps waiting.
    Options &retry_on_interrupt(bool value) noexcept {
        opts_.retry_on_interrupt = value;
        return *this;
    }
    /// Which backend the queue lives in (default Backend::Kernel).
    Options &backend(Backend value) noexcept {
        opts_.backend = static_cast<std::uint32_t>(value);
        return *this;
    }
    /// Leases: hand a message out at most `value` times from this handle (0,
    /// the default: no limit); a lease that would deliver it once more moves
    /// it to the dead_letter() queue (or drops it) and leases the next one.
    Options &max_deliveries(std::uint32_t value) noexcept {
        opts_.max_deliveries = value;
        return *this;
    }
    /// The queue ("/name", same backend, created with this queue's shape if
    /// missing) that receives the messages max_deliveries() stops handing
    /// out; std::nullopt (the default) drops them. A name with a NUL throws
    /// InvalidArgumentError.
    Options &dead_letter(std::optional<std::string_view> name) {
        if (name) {
            dead_letter_ = detail::c_name(*name);
        }
        has_dead_letter_ = name.has_value();
        return *this;
    }

    /// The open flags (PMQ_O_CREAT, PMQ_O_EXCL, ...).
    int flags() const noexcept { return opts_.flags; }
    /// The permission bits a new queue gets.
    std::uint32_t mode() const noexcept { return opts_.mode; }
    /// The capacity a new queue gets.
    std::int64_t max_messages() const noexcept { return opts_.max_messages; }
    /// The largest message of a new queue, in bytes.
    std::int64_t max_message_size() const noexcept { return opts_.max_message_size; }
    /// Whether the handle may receive.
    bool read() const noexcept { return opts_.read; }
    /// Whether the handle may send.
    bool write() const noexcept { return opts_.write; }
    /// Whether sends and receives wait (false: they never wait, whatever their timeout).
    bool block() const noexcept { return opts_.block; }
    /// Whether a wait interrupted by a signal resumes with the time left.
    bool retry_on_interrupt() const noexcept { return opts_.retry_on_interrupt; }
    /// The backend the queue lives in (kernel or shm).
    Backend backend() const noexcept { return static_cast<Backend>(opts_.backend); }
    /// The most deliveries of a message under leases (0: no limit).
    std::uint32_t max_deliveries() const noexcept { return opts_.max_deliveries; }
    /// The dead-letter queue's name, if one is set.
    std::optional<std::string> dead_letter() const {
        if (!has_dead_letter_) return std::nullopt;
        return dead_letter_;
    }

    /// The C struct, for pmq_queue_open(); valid while this Options lives
    /// and is not changed (its dead_letter points into this object).
    const ::pmq_options &native() const noexcept {
        // Set here, not in the setter: a copied Options points at its own string.
        opts_.dead_letter = has_dead_letter_ ? dead_letter_.c_str() : nullptr;
        return opts_;
    }

  private:
    mutable ::pmq_options opts_{};
    std::string dead_letter_;
    bool has_dead_letter_ = false;
};

// ---------------------------------------------------------------------------
// Functions on names
// ---------------------------------------------------------------------------

/// Removes the queue called `name` (the reference's unlink_message_queue).
/// Throws NotFoundError if there is none.
inline void unlink(std::string_view name) {
    const std::string n = detail::c_name(name);
    detail::check(::pmq_unlink(n.c_str()));
}

/// Removes the queue called `name` of `backend`. Throws NotFoundError if there is none.
inline void unlink(std::string_view name, Backend backend) {
    const std::string n = detail::c_name(name);
    detail::check(::pmq_unlink_backend(n.c_str(), static_cast<std::uint32_t>(backend)));
}

/// Removes the queue called `name` if it exists; returns whether it did.
inline bool unlink_if_exists(std::string_view name) {
    const std::string n = detail::c_name(name);
    const int st = ::pmq_unlink(n.c_str());
    if (st == PMQ_STATUS_NOT_FOUND) return false;
    detail::check(st);
    return true;
}

// ---------------------------------------------------------------------------
// MessageQueue
// ---------------------------------------------------------------------------

namespace detail {
/// One callback registration: its `param` in the C API. libpmq owns it from
/// a successful pmq_queue_notify_callback() and hands it to `drop` exactly
/// once, when the registration can no longer fire (delivered, replaced,
/// cancelled, closed, freed), which destroys the function. So no
/// MessageQueue keeps a registry, and moving one moves no callback.
struct Registration {
    std::function<void()> function;

    static void call(void *param) noexcept {
        // An exception escaping a callback terminates the program, like one
        // escaping a std::thread.
        static_cast<Registration *>(param)->function();
    }
    static void drop(void *param) noexcept { delete static_cast<Registration *>(param); }
};
}  // namespace detail

/// An open handle to a named POSIX message queue. Move-only; the destructor
/// closes and frees the handle (it does not unlink the queue's name).
class MessageQueue {
  public:
    // --- construction -----------------------------------------------------

    /// Opens a queue with `options` exactly as given (its flags included;
    /// the default flags open an existing queue: NotFoundError if none).
    static MessageQueue open(std::string_view name, const Options &options = Options()) {
        const std::string n = detail::c_name(name);
        return MessageQueue(n.c_str(), options);
    }
    /// Opens the queue, creating it if it does not exist (O_CREAT).
    static MessageQueue create(std::string_view name, Options options = Options()) {
        options.flags(flags::create);
        return open(name, options);
    }
    /// Creates a new queue; ExistsError if it exists (O_CREAT | O_EXCL).
    static MessageQueue create_exclusive(std::string_view name, Options options = Options()) {
        options.flags(flags::create_exclusive);
        return open(name, options);
    }
    /// Creates a new queue with a fresh random name (read it with name()).
    static MessageQueue create_random(const Options &options = Options()) {
        return MessageQueue(nullptr, options);
    }

    MessageQueue(const MessageQueue &) = delete;
    MessageQueue &operator=(const MessageQueue &) = delete;

    /// Takes over `other`'s handle (and its notification); `other` is left closed.
    MessageQueue(MessageQueue &&other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)),
          max_message_size_(std::exchange(other.max_message_size_, 0)),
          max_messages_(std::exchange(other.max_messages_, 0)) {}

    /// Frees this queue's handle, then takes over `other`'s; `other` is left closed.
    MessageQueue &operator=(MessageQueue &&other) noexcept {
        if (this != &other) {
            reset();
            handle_ = std::exchange(other.handle_, nullptr);
            max_message_size_ = std::exchange(other.max_message_size_, 0);
            max_messages_ = std::exchange(other.max_messages_, 0);
        }
        return *this;
    }

    /// Closes and frees the handle. If a callback notification is armed, it
    /// is cancelled and a running callback is waited for (unless the
    /// destructor runs inside that callback) before its function is destroyed.
    ~MessageQueue() { reset(); }

    /// False for a moved-from MessageQueue (every operation on it throws ClosedError).
    bool valid() const noexcept { return handle_ != nullptr; }
    /// The C handle (owned by this object), for calls into pmq.h.
    ::pmq_queue *native_handle() const noexcept { return handle_; }

    // --- sending ----------------------------------------------------------
    // The timeout comes before the priority, as in the reference's
    // send(message, timeout=None, priority=0): q.send(msg, pmq::forever, 5).

    /// Sends `size` bytes at `data`. Waits while the queue is full, up to
    /// `timeout` (unless the handle is non-blocking). Throws WouldBlockError /
    /// TimedOutError when it cannot, MessageTooLargeError, InvalidArgumentError
    /// (priority), PermissionError (read-only handle), SignalError, ClosedError.
    void send(const std::byte *data, std::size_t size, Timeout timeout = forever,
              Priority priority = 0) const {
        detail::check(send_status(data, size, timeout, priority));
    }
    /// send() of a string's bytes.
    void send(std::string_view message, Timeout timeout = forever, Priority priority = 0) const {
        send(reinterpret_cast<const std::byte *>(message.data()), message.size(), timeout,
             priority);
    }
    /// send() of a byte vector.
    void send(const std::vector<std::byte> &message, Timeout timeout = forever,
              Priority priority = 0) const {
        send(message.data(), message.size(), timeout, priority);
    }

    /// Like send(), but returns false instead of throwing when the queue is
    /// full (would block, or the timeout ran out). Other errors still throw.
    bool try_send(const std::byte *data, std::size_t size, Timeout timeout = try_once,
                  Priority priority = 0) const {
        const int st = send_status(data, size, timeout, priority);
        if (detail::is_would_block(st)) return false;
        detail::check(st);
        return true;
    }
    /// try_send() of a string's bytes.
    bool try_send(std::string_view message, Timeout timeout = try_once,
                  Priority priority = 0) const {
        return try_send(reinterpret_cast<const std::byte *>(message.data()), message.size(),
                        timeout, priority);
    }
    /// try_send() of a byte vector.
    bool try_send(const std::vector<std::byte> &message, Timeout timeout = try_once,
                  Priority priority = 0) const {
        return try_send(message.data(), message.size(), timeout, priority);
    }

    // --- sending several at once ------------------------------------------
    // One call for many messages (sendmmsg style): waits, as send() does, up
    // to `timeout` until the first can be sent, then sends, in order, as many
    // more as fit now, and returns how many it sent (at least 1, unless the
    // batch is empty): send the rest again. Every message is checked first:
    // if one is invalid (too large, priority too high) the exception's
    // detail names its index and nothing is sent. On Backend::Shm the batch
    // takes the queue's lock once; on Backend::Kernel it is one mq_send per
    // message. Errors as for send(), for the first message.

    /// Sends up to `count` messages from `msgs`; returns how many were sent.
    std::size_t send_batch(const OutMessage *msgs, std::size_t count,
                           Timeout timeout = forever) const {
        std::size_t sent = 0;
        detail::check(send_batch_status(msgs, count, timeout, sent));
        return sent;
    }
    /// send_batch() of a vector of messages.
    std::size_t send_batch(const std::vector<OutMessage> &msgs, Timeout timeout = forever) const {
        return send_batch(msgs.data(), msgs.size(), timeout);
    }
    /// send_batch() of a braced list: q.send_batch({{"a", 1}, {"b", 2}}).
    std::size_t send_batch(std::initializer_list<OutMessage> msgs,
                           Timeout timeout = forever) const {
        return send_batch(msgs.begin(), msgs.size(), timeout);
    }

    /// Like send_batch(), but returns 0 instead of throwing when the queue
    /// stays full (would block, or the timeout ran out). Other errors throw.
    std::size_t try_send_batch(const OutMessage *msgs, std::size_t count,
                               Timeout timeout = try_once) const {
        std::size_t sent = 0;
        const int st = send_batch_status(msgs, count, timeout, sent);
        if (detail::is_would_block(st)) return 0;
        detail::check(st);
        return sent;
    }
    /// try_send_batch() of a vector of messages.
    std::size_t try_send_batch(const std::vector<OutMessage> &msgs,
                               Timeout timeout = try_once) const {
        return try_send_batch(msgs.data(), msgs.size(), timeout);
    }
    /// try_send_batch() of a braced list.
    std::size_t try_send_batch(std::initializer_list<OutMessage> msgs,
                               Timeout timeout = try_once) const {
        return try_send_batch(msgs.begin(), msgs.size(), timeout);
    }

    // --- receiving --------------------------------------------------------

    /// Receives the oldest message of the highest priority, waiting up to
    /// `timeout` while the queue is empty. Throws WouldBlockError /
    /// TimedOutError when there is none, PermissionError (write-only
    /// handle), SignalError, ClosedError.
    Message receive(Timeout timeout = forever) const {
        return *receive_into<Message>(timeout, true);
    }
    /// receive() into a byte vector.
    ByteMessage receive_bytes(Timeout timeout = forever) const {
        return *receive_into<ByteMessage>(timeout, true);
    }
    /// Receives into the caller's buffer, which must hold at least
    /// max_message_size() bytes (else BufferTooSmallError, no message taken).
    Received receive(std::byte *buffer, std::size_t size, Timeout timeout = forever) const {
        Received r;
        detail::check(receive_status(buffer, size, timeout, r));
        return r;
    }

    /// Like receive(), but std::nullopt instead of throwing when the queue is
    /// empty (would block, or the timeout ran out). Other errors still throw.
    std::optional<Message> try_receive(Timeout timeout = try_once) const {
        return receive_into<Message>(timeout, false);
    }
    /// Like try_receive(), as raw bytes: an empty optional when the queue stayed empty.
    std::optional<ByteMessage> try_receive_bytes(Timeout timeout = try_once) const {
        return receive_into<ByteMessage>(timeout, false);
    }
    /// The allocation-free form for hot loops.
    std::optional<Received> try_receive(std::byte *buffer, std::size_t size,
                                        Timeout timeout = try_once) const {
        Received r;
        const int st = receive_status(buffer, size, timeout, r);
        if (detail::is_would_block(st)) return std::nullopt;
        detail::check(st);
        return r;
    }

    // --- receiving several at once ----------------------------------------
    // One call for many messages (recvmmsg style): waits, as receive() does,
    // up to `timeout` until one is there, then takes, in queue order
    // (highest priority first, FIFO within one), as many more as are there
    // now, up to `max`. Errors as for receive(), for the first message.

    /// Takes up to `max` messages (at most max_messages(), whatever `max`
    /// says) into one buffer of up to 1 MiB (or one max_message_size(), if
    /// larger) and returns them as strings. Empty only when `max` is 0.
    std::vector<Message> receive_batch(std::size_t max, Timeout timeout = forever) const {
        return receive_batch_into<Message>(max, timeout, true);
    }
    /// receive_batch() as raw bytes.
    std::vector<ByteMessage> receive_batch_bytes(std::size_t max,
                                                 Timeout timeout = forever) const {
        return receive_batch_into<ByteMessage>(max, timeout, true);
    }
    /// Like receive_batch(), but an empty vector instead of throwing when the
    /// queue stays empty (would block, or the timeout ran out).
    std::vector<Message> try_receive_batch(std::size_t max, Timeout timeout = try_once) const {
        return receive_batch_into<Message>(max, timeout, false);
    }
    /// try_receive_batch() as raw bytes.
    std::vector<ByteMessage> try_receive_batch_bytes(std::size_t max,
                                                     Timeout timeout = try_once) const {
        return receive_batch_into<ByteMessage>(max, timeout, false);
    }

    /// The allocation-free form: takes up to `max` messages into the
    /// caller's `buffer` (at least max_message_size() bytes, else
    /// BufferTooSmallError, nothing taken) and returns how many; message i
    /// is out[i].size bytes at buffer + out[i].offset. Backend::Shm packs
    /// messages by their length; Backend::Kernel packs another one only
    /// where max_message_size() bytes are left, so `max` *
    /// max_message_size() bytes never limit a batch.
    std::size_t receive_batch(std::byte *buffer, std::size_t size, ReceivedAt *out,
                              std::size_t max, Timeout timeout = forever) const {
        std::size_t n = 0;
        detail::check(receive_batch_status(buffer, size, out, max, timeout, n));
        return n;
    }
    /// Like the allocation-free receive_batch(), but 0 instead of throwing
    /// when the queue stays empty.
    std::size_t try_receive_batch(std::byte *buffer, std::size_t size, ReceivedAt *out,
                                  std::size_t max, Timeout timeout = try_once) const {
        std::size_t n = 0;
        const int st = receive_batch_status(buffer, size, out, max, timeout, n);
        if (detail::is_would_block(st)) return 0;
        detail::check(st);
        return n;
    }

    // --- at-least-once receive (leases; Backend::Shm only) -----------------
    // A lease hands a message out but keeps it in the queue, invisible to
    // other receivers, until ack() removes it or nack() gives it back; if
    // the MessageQueue is closed or destroyed, or its process dies (SIGKILL
    // included), first, it goes back at
    // its place (ahead of later messages of its priority). `visibility`: pmq::forever (the default) for a lease
    // that lasts until then, or a duration after which an unacked message
    // goes back even if its holder lives (a later ack() throws
    // LeaseLostError). Leased messages count against the capacity.
    // Backend::Kernel throws NotSupportedError.

    /// Leases the oldest message of the highest priority, waiting up to
    /// `timeout` as receive() does (errors as receive()'s).
    LeasedMessage lease(Timeout timeout = forever, Timeout visibility = forever) const {
        return *lease_into(timeout, visibility, true);
    }
    /// Like lease(), but std::nullopt instead of throwing when the queue
    /// stays empty (would block, or the timeout ran out).
    std::optional<LeasedMessage> try_lease(Timeout timeout = try_once,
                                           Timeout visibility = forever) const {
        return lease_into(timeout, visibility, false);
    }
    /// Leases up to `max` messages in one call (as receive_batch() takes
    /// them), each under its own lease.
    std::vector<LeasedMessage> lease_batch(std::size_t max, Timeout timeout = forever,
                                           Timeout visibility = forever) const {
        constexpr std::size_t buffer_max = std::size_t{1} << 20;
        const std::size_t size = buffer_size();
        if (max_messages_ > 0 && max > max_messages_) max = max_messages_;
        const std::size_t room = size > buffer_max ? size : buffer_max;
        const std::size_t fit = room / size;
        std::vector<std::byte> buf((max < fit ? (max > 0 ? max : 1) : fit) * size);
        std::vector<LeasedAt> at(max);
        const std::size_t n = lease_batch(buf.data(), buf.size(), at.data(), max, timeout,
                                          visibility);
        std::vector<LeasedMessage> out(n);
        for (std::size_t i = 0; i < n; i++) {
            const auto *first = reinterpret_cast<const char *>(buf.data() + at[i].offset);
            out[i].data.assign(first, first + at[i].size);
            out[i].priority = at[i].priority;
            out[i].lease = at[i].lease;
        }
        return out;
    }
    /// The allocation-free form: leases up to `max` messages into the
    /// caller's `buffer` (at least max_message_size() bytes) and returns
    /// how many; message i is out[i].size bytes at buffer + out[i].offset.
    std::size_t lease_batch(std::byte *buffer, std::size_t size, LeasedAt *out, std::size_t max,
                            Timeout timeout = forever, Timeout visibility = forever) const {
        const ::pmq_queue *h = handle();
        std::size_t n = 0;
        // LeasedAt has pmq_leased's layout (detail's static_assert).
        detail::check(::pmq_queue_lease_batch_timeout(
            h, reinterpret_cast<std::uint8_t *>(buffer), size,
            reinterpret_cast<::pmq_leased *>(out), max, &n, visibility_seconds(visibility),
            timeout.seconds()));
        return n;
    }

    /// Removes a leased message for good. Throws LeaseLostError (nothing
    /// changed) when the lease is no longer this handle's.
    void ack(const Lease &lease) const {
        detail::check(::pmq_queue_ack(handle(), reinterpret_cast<const ::pmq_lease *>(&lease)));
    }
    /// Gives a leased message back at its place; its delivery count goes on.
    void nack(const Lease &lease) const {
        detail::check(::pmq_queue_nack(handle(), reinterpret_cast<const ::pmq_lease *>(&lease)));
    }
    /// Acks `count` leases under one lock; returns `count`. When some were
    /// no longer this handle's, the others are acked all the same and
    /// LeaseLostError is thrown with acked() = how many were.
    std::size_t ack_batch(const Lease *leases, std::size_t count) const {
        const ::pmq_queue *h = handle();
        std::size_t acked = 0;
        const int st = ::pmq_queue_ack_batch(h, reinterpret_cast<const ::pmq_lease *>(leases),
                                             count, &acked);
        if (st == PMQ_STATUS_LEASE_LOST) {
            throw LeaseLostError(Status::LeaseLost, last_error_message(),
                                 ::pmq_last_error_errno(), acked);
        }
        detail::check(st);
        return acked;
    }
    /// ack_batch() of a vector.
    std::size_t ack_batch(const std::vector<Lease> &leases) const {
        return ack_batch(leases.data(), leases.size());
    }
    /// The queue's leases now (all handles').
    LeaseStats lease_stats() const {
        std::uint64_t leased = 0;
        double age = 0;
        detail::check(::pmq_queue_lease_stats(handle(), &leased, &age));
        LeaseStats out;
        out.leased = leased;
        out.oldest_age = std::chrono::duration<double>(age);
        return out;
    }
    /// An identity of the queue, not of its name (a queue made later under
    /// the same name has another): with a Lease's seq it names a message
    /// uniquely (a de-duplication id).
    std::uint64_t instance_id() const {
        std::uint64_t id = 0;
        detail::check(::pmq_queue_instance_id(handle(), &id));
        return id;
    }

    // --- attributes -------------------------------------------------------

    /// Capacity, message size, messages waiting and the block switch, read at once.
    Attributes attributes() const {
        ::pmq_attributes a{};
        detail::check(::pmq_queue_get_attributes(handle(), &a));
        Attributes out;
        out.max_messages = a.max_messages;
        out.max_message_size = a.max_message_size;
        out.current_messages = a.current_messages;
        out.block = a.block;
        return out;
    }
    /// Capacity in messages.
    std::int64_t max_messages() const { return get_i64(&::pmq_queue_max_messages); }
    /// Largest message in bytes: the smallest receive buffer that works.
    std::int64_t max_message_size() const { return get_i64(&::pmq_queue_max_message_size); }
    /// Messages waiting now.
    std::int64_t current_messages() const { return get_i64(&::pmq_queue_current_messages); }
    /// The backend the queue lives in (also after close).
    Backend backend() const {
        std::uint32_t b = 0;
        detail::check(::pmq_queue_backend(handle(), &b));
        return static_cast<Backend>(b);
    }

    /// Whether sends and receives on this handle wait.
    bool block() const {
        bool b = false;
        detail::check(::pmq_queue_get_block(handle(), &b));
        return b;
    }
    /// Sets the block switch of this handle (other handles are not affected).
    void set_block(bool block) const { detail::check(::pmq_queue_set_block(handle(), block)); }

    /// The queue's name ("/..."); for create_random() the generated one. Works after close().
    std::string name() const {
        const char *n = ::pmq_queue_name(handle());
        if (n == nullptr) throw_last_error(::pmq_last_error_status());
        return n;
    }
    /// The mode given at open (e.g. 0600). Works after close().
    std::uint32_t mode() const {
        std::uint32_t m = 0;
        detail::check(::pmq_queue_mode(handle(), &m));
        return m;
    }
    /// Whether this handle may receive. Works after close().
    bool can_read() const {
        bool r = false;
        detail::check(::pmq_queue_access(handle(), &r, nullptr));
        return r;
    }
    /// Whether this handle may send. Works after close().
    bool can_write() const {
        bool w = false;
        detail::check(::pmq_queue_access(handle(), nullptr, &w));
        return w;
    }

    /// The descriptor (the reference's fileno()/mqd), usable with
    /// poll/select/epoll: readable = a message waits, writable = room.
    /// Owned by this object: do not close it. On Backend::Shm it belongs to
    /// the process that asked for it: after fork(), call fileno() again in
    /// the child for a descriptor of its own (the one from before fork
    /// follows the queue only while the parent's handle is open).
    int fileno() const {
        int fd = -1;
        detail::check(::pmq_queue_fileno(handle(), &fd));
        return fd;
    }

    /// Every receipt a receiver that died left in this shared-memory queue
    /// (any handle's, not only one this handle inherited): see Receipt for
    /// what `taken` and `queued` say (a receipt is written before the take
    /// commits). Reading changes nothing; act on each receipt once by its
    /// `seq`. Throws NotSupportedError on the kernel backend (it keeps no
    /// receipts), ClosedError after close().
    std::vector<Receipt> dead_receipts() const {
        std::vector<::pmq_receipt> raw(4);
        for (;;) {
            std::size_t count = 0;
            const int st = ::pmq_queue_dead_receipts(handle(), raw.data(), raw.size(), &count);
            if (st == PMQ_STATUS_BUFFER_TOO_SMALL) {
                raw.resize(count + 4);  // more may die before the next call
                continue;
            }
            detail::check(st);
            std::vector<Receipt> out;
            out.reserve(count);
            for (std::size_t i = 0; i < count; i++) {
                const ::pmq_receipt &r = raw[i];
                Receipt x;
                x.seq = r.seq;
                x.len = r.len;
                x.priority = r.priority;
                x.pid = r.pid;
                x.taken = r.taken;
                x.queued = r.queued;
                const std::size_t n = r.len < sizeof r.head ? r.len : sizeof r.head;
                x.head.assign(reinterpret_cast<const char *>(r.head), n);
                out.push_back(std::move(x));
            }
            return out;
        }
    }

    /// A description: Describe::Short is the reference's str(), Describe::Debug its repr().
    std::string describe(Describe style = Describe::Short) const {
        std::string buf(128, '\0');
        for (;;) {
            std::size_t needed = 0;
            const int st = ::pmq_queue_describe(handle(), static_cast<int>(style), &buf[0],
                                                buf.size(), &needed);
            if (st == PMQ_STATUS_BUFFER_TOO_SMALL && needed > buf.size()) {
                buf.assign(needed, '\0');
                continue;
            }
            detail::check(st);
            buf.resize(needed > 0 ? needed - 1 : 0);
            return buf;
        }
    }
    /// Short description, e.g. "/jobs (2 of 10 messages)" (like the reference's str()).
    std::string str() const { return describe(Describe::Short); }
    /// Debug description with every attribute (like the reference's repr()).
    std::string repr() const { return describe(Describe::Debug); }

    // --- lifetime ---------------------------------------------------------

    /// Closes the descriptor now (the handle stays; later calls throw
    /// ClosedError except name(), mode(), can_read/can_write(), describe()
    /// and unlink()). Closing twice throws ClosedError. Every thread waiting
    /// in send() or receive() on this handle (with or without a timeout)
    /// wakes at once and throws ClosedError, having moved nothing; waits on
    /// other handles of the queue go on. A callback notification of this
    /// handle is gone afterwards and its function destroyed.
    ///
    /// After fork(), the child may use, close and destroy the handles it
    /// inherited; the parent's notifications stay the parent's (none of its
    /// callbacks runs in the child, and nothing in the child waits for them),
    /// and the child's own registrations are delivered to the child only.
    void close() const {
        detail::check(::pmq_queue_close(handle()));
    }
    /// Whether close() was called.
    bool is_closed() const {
        bool c = false;
        detail::check(::pmq_queue_is_closed(handle(), &c));
        return c;
    }
    /// Removes the queue's name (works after close() too). Open handles keep
    /// working; the queue is destroyed when the last one closes.
    void unlink() const { detail::check(::pmq_queue_unlink(handle())); }

    // --- notifications ----------------------------------------------------
    // Kernel rules (see pmq.h): one-shot; only on the empty -> non-empty
    // transition; one registration per queue system-wide (InUseError if
    // another process holds it); none while a receiver is blocked inside
    // the kernel's mq_receive() (a raw caller, or a pmq receive without a
    // timeout; a timed pmq receive waits in ppoll and does not suppress it);
    // Linux drops the registration when this process closes
    // ANY descriptor of the queue. A new registration of this process on
    // the queue, through any handle, replaces the old one.

    /// Sends signal `signo` to this process when the queue becomes non-empty.
    void notify_signal(int signo) const {
        detail::check(::pmq_queue_notify_signal(handle(), signo));
    }

    /// Calls `callback` on a new thread when the queue becomes non-empty.
    /// The registration keeps the function, and destroys it exactly once
    /// when it can no longer fire: after its call returned (one-shot), or
    /// when it is replaced (by a registration of this process on the queue,
    /// through any handle, callback or signal), cancelled, or the handle is
    /// closed or destroyed (by then it is not running, unless called from
    /// inside it, and will not be called). If this throws, nothing was
    /// registered and `callback` is destroyed with it. The callback may call
    /// notify_callback() again from inside itself, receive from the queue,
    /// cancel, close, and even destroy the queue (destroying from inside
    /// waits for the queue's other running callbacks; a registration made by
    /// a callback while a cancel, close or destroy of the queue is in
    /// progress throws ClosedError). It must not throw (an escaping
    /// exception calls std::terminate).
    void notify_callback(std::function<void()> callback) const {
        const ::pmq_queue *h = handle();
        if (!callback) {
            throw_error(Status::InvalidArgument,
                        "the callback is empty; pass a callable, or call notify_cancel()");
        }
        auto reg = std::make_unique<detail::Registration>();
        reg->function = std::move(callback);
        const int st = ::pmq_queue_notify_callback(h, &detail::Registration::call, reg.get(),
                                                   &detail::Registration::drop);
        if (st != PMQ_STATUS_OK) throw_last_error(st);  // not registered: still ours
        reg.release();  // libpmq's now: Registration::drop deletes it
    }

    /// Cancels this process's notification registration (harmless when there
    /// is none). Afterwards the callback is not running (unless this is
    /// called from inside it) and will not be called.
    void notify_cancel() const {
        detail::check(::pmq_queue_notify_cancel(handle()));
    }

  private:
    MessageQueue(const char *name, const Options &options) {
        ::pmq_queue *q = nullptr;
        detail::check(::pmq_queue_open(name, &options.native(), &q));
        handle_ = q;
        // Both fixed for the queue's life (read back at open, no system
        // call): what the receives size their buffers by.
        std::int64_t size = 0;
        std::int64_t capacity = 0;
        int st = ::pmq_queue_max_message_size(handle_, &size);
        if (st == PMQ_STATUS_OK) st = ::pmq_queue_max_messages(handle_, &capacity);
        if (st != PMQ_STATUS_OK) {
            std::string detail = last_error_message();
            reset();
            throw_error(static_cast<Status>(st), std::move(detail));
        }
        max_message_size_ = static_cast<std::size_t>(size);
        max_messages_ = static_cast<std::size_t>(capacity);
    }

    /// Frees the handle (its callback registration is dropped inside).
    void reset() noexcept {
        if (handle_ != nullptr) {
            ::pmq_queue_free(std::exchange(handle_, nullptr));
        }
        max_message_size_ = 0;
        max_messages_ = 0;
    }

    const ::pmq_queue *handle() const {
        if (handle_ == nullptr) {
            throw_error(Status::Closed,
                        "this pmq::MessageQueue was moved from; it no longer owns a queue");
        }
        return handle_;
    }

    std::size_t buffer_size() const {
        handle();
        return max_message_size_ > 0 ? max_message_size_ : 1;
    }

    std::int64_t get_i64(::pmq_status (*fn)(const ::pmq_queue *, std::int64_t *)) const {
        std::int64_t v = 0;
        detail::check(fn(handle(), &v));
        return v;
    }

    int send_status(const std::byte *data, std::size_t size, Timeout timeout,
                    Priority priority) const {
        const ::pmq_queue *h = handle();
        const auto *bytes = reinterpret_cast<const std::uint8_t *>(data);
        return ::pmq_queue_send_timeout(h, bytes, size, priority, timeout.seconds());
    }

    int receive_status(std::byte *buffer, std::size_t size, Timeout timeout,
                       Received &out) const {
        const ::pmq_queue *h = handle();
        auto *bytes = reinterpret_cast<std::uint8_t *>(buffer);
        std::size_t n = 0;
        std::uint32_t prio = 0;
        const int st =
            ::pmq_queue_receive_timeout(h, bytes, size, &n, &prio, timeout.seconds());
        if (st == PMQ_STATUS_OK) {
            out.size = n;
            out.priority = prio;
        }
        return st;
    }

    /// Every receive that returns a Message or ByteMessage: receives straight
    /// into the message's own container (std::string or std::vector<std::byte>,
    /// sized to max_message_size(), then shrunk to the message), so the bytes
    /// are written once and never copied. A would-block or timeout gives
    /// std::nullopt, or throws when `busy_throws`; other failures throw.
    template <class Msg>
    std::optional<Msg> receive_into(Timeout timeout, bool busy_throws) const {
        Msg m;
        m.data.resize(buffer_size());
        Received r;
        const int st = receive_status(reinterpret_cast<std::byte *>(m.data.data()),
                                      m.data.size(), timeout, r);
        if (!busy_throws && detail::is_would_block(st)) return std::nullopt;
        detail::check(st);
        m.data.resize(r.size);
        m.priority = r.priority;
        return m;
    }

    /// Every batch receive that returns messages: one C call into a buffer
    /// sized for `max` messages (within the limits receive_batch() names),
    /// then one Message or ByteMessage per message taken.
    template <class Msg>
    std::vector<Msg> receive_batch_into(std::size_t max, Timeout timeout,
                                        bool busy_throws) const {
        constexpr std::size_t buffer_max = std::size_t{1} << 20;
        const std::size_t size = buffer_size();
        if (max_messages_ > 0 && max > max_messages_) max = max_messages_;
        const std::size_t room = size > buffer_max ? size : buffer_max;
        const std::size_t fit = room / size;
        std::vector<std::byte> buf((max < fit ? (max > 0 ? max : 1) : fit) * size);
        std::vector<ReceivedAt> at(max);
        std::size_t n = 0;
        const int st = receive_batch_status(buf.data(), buf.size(), at.data(), max, timeout, n);
        if (!busy_throws && detail::is_would_block(st)) return {};
        detail::check(st);
        std::vector<Msg> out(n);
        using Byte = typename decltype(Msg::data)::value_type;  // char or std::byte
        for (std::size_t i = 0; i < n; i++) {
            const auto *first = reinterpret_cast<const Byte *>(buf.data() + at[i].offset);
            out[i].data.assign(first, first + at[i].size);
            out[i].priority = at[i].priority;
        }
        return out;
    }

    /// A visibility timeout as the C API takes it: pmq::forever is none (0
    /// or PMQ_FOREVER there); zero is none as well; negative throws there.
    static double visibility_seconds(Timeout visibility) noexcept {
        return visibility.is_forever() ? 0.0 : visibility.seconds();
    }

    std::optional<LeasedMessage> lease_into(Timeout timeout, Timeout visibility,
                                            bool busy_throws) const {
        LeasedMessage m;
        m.data.resize(buffer_size());
        const ::pmq_queue *h = handle();
        std::size_t n = 0;
        std::uint32_t prio = 0;
        ::pmq_lease l{};
        const int st = ::pmq_queue_lease_timeout(
            h, reinterpret_cast<std::uint8_t *>(&m.data[0]), m.data.size(), &n, &prio, &l,
            visibility_seconds(visibility), timeout.seconds());
        if (!busy_throws && detail::is_would_block(st)) return std::nullopt;
        detail::check(st);
        m.data.resize(n);
        m.priority = prio;
        m.lease.seq = l.seq;
        m.lease.slot = l.slot;
        m.lease.delivery = l.delivery;
        return m;
    }

    int send_batch_status(const OutMessage *msgs, std::size_t count, Timeout timeout,
                          std::size_t &sent) const {
        const ::pmq_queue *h = handle();
        // OutMessage has pmq_message's layout (detail's static_assert).
        const auto *raw = reinterpret_cast<const ::pmq_message *>(msgs);
        return ::pmq_queue_send_batch_timeout(h, raw, count, &sent, timeout.seconds());
    }

    int receive_batch_status(std::byte *buffer, std::size_t size, ReceivedAt *out,
                             std::size_t max, Timeout timeout, std::size_t &count) const {
        const ::pmq_queue *h = handle();
        auto *bytes = reinterpret_cast<std::uint8_t *>(buffer);
        // ReceivedAt has pmq_received's layout (detail's static_assert).
        auto *raw = reinterpret_cast<::pmq_received *>(out);
        return ::pmq_queue_receive_batch_timeout(h, bytes, size, raw, max, &count,
                                                 timeout.seconds());
    }

    ::pmq_queue *handle_ = nullptr;
    std::size_t max_message_size_ = 0;
    std::size_t max_messages_ = 0;
};

/// Writes q.str() (the reference's str()).
inline std::ostream &operator<<(std::ostream &os, const MessageQueue &q) { return os << q.str(); }

}  // namespace pmq

#endif  // PMQ_HPP
