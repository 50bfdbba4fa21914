//! # pmq: POSIX named message queues with a stable C ABI
//!
//! A safe Rust core ([`Queue`], [`OpenOptions`], [`Timeout`], [`Error`]) on
//! the Linux kernel's POSIX message queues. (The C ABI, `libpmq` and
//! `include/pmq.h`, is a separate crate, `pmq-ffi`, built on this one.) A
//! queue opened by pmq is an ordinary kernel queue: any program calling
//! `mq_open` on the same name shares it.
//!
//! ```no_run
//! use pmq::{Queue, Timeout};
//! let q = Queue::options().create(true).max_messages(4).max_message_size(64)
//!     .open(Some("/pmq_doc_example"))?;
//! q.send(b"hello", 3, Timeout::Forever)?;
//! let (msg, prio) = q.receive_vec(Timeout::TryOnce)?;
//! assert_eq!((msg.as_slice(), prio), (&b"hello"[..], 3));
//! q.unlink()?;
//! # Ok::<(), pmq::Error>(())
//! ```

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod backend;
#[cfg(test)]
mod core_tests;
/// README.md's Rust program runs as a doctest (its other blocks are other
/// languages, which rustdoc does not run).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
mod error;
mod name;
mod notify;
mod queue;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use backend::kernel::limits::{
    queue_cost, Limits, FALLBACK_MSGSIZE_MAX, FALLBACK_MSG_MAX, NAME_MAX, PRIORITY_MAX,
    RLIMIT_INFINITY,
};
pub use backend::shm::SHM_NAME_MAX;
pub use error::{status, Error, ErrorKind, Result, StatusInfo, STATUSES, STATUS_PANIC};
pub use name::{name_from_bytes, random_name, validate_name, validate_name_bytes};
pub use queue::{
    message_queues_supported, unlink, unlink_from, Attributes, BackendKind, DescribeStyle,
    InMessage, OpenOptions, OutMessage, Queue, QueueStats, Timeout, DEFAULT_MODE, O_CREAT, O_CREX,
    O_EXCL, O_NONBLOCK,
};

/// Live callback registrations and per-handle notification states in this
/// process (for leak tests; not part of the API).
#[doc(hidden)]
pub use notify::live_counts as __notify_live_counts;

/// The shared-memory backend's kill points (feature `fault-injection`, for
/// the crash tests only).
#[cfg(feature = "fault-injection")]
#[doc(hidden)]
pub use backend::shm::fault::POINTS as __FAULT_POINTS;

/// The library version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The system's `msg_max` now: the default capacity of new queues.
pub fn queue_messages_max_default() -> i64 {
    backend::kernel::limits::msg_max()
}

/// The system's `msgsize_max` now: the default message size of new queues.
pub fn queue_message_size_max_default() -> i64 {
    backend::kernel::limits::msgsize_max()
}

/// The highest priority this system accepts (sysconf), [`PRIORITY_MAX`] on Linux.
pub fn priority_max() -> u32 {
    backend::kernel::limits::priority_max()
}

/// The version as MAJOR * 10000 + MINOR * 100 + PATCH (PMQ_VERSION_NUMBER).
pub fn version_number() -> u32 {
    let p = |s: &str| s.parse::<u32>().unwrap_or(0);
    p(env!("CARGO_PKG_VERSION_MAJOR")) * 10000
        + p(env!("CARGO_PKG_VERSION_MINOR")) * 100
        + p(env!("CARGO_PKG_VERSION_PATCH"))
}
