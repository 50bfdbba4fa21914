//! # pmq: POSIX named message queues with a stable C ABI
//!
//! A safe Rust core ([`Queue`], [`OpenOptions`], [`Timeout`], [`Error`]) for
//! named message queues with priorities, blocking / try-once / timed send and
//! receive on a monotonic clock, notifications and batches. (The C ABI,
//! `libpmq` and `include/pmq.h`, is a separate crate, `pmq-ffi`, built on this
//! one; the C++, Go and Python bindings and the `pmq` command use it.)
//!
//! ## Two backends, one API
//!
//! Every queue lives in one of two backends, chosen when it is opened
//! ([`OpenOptions::backend`], [`BackendKind`]):
//!
//! - **kernel** (the default): the Linux kernel's POSIX message queues. A
//!   queue opened by pmq is an ordinary kernel queue: any program calling
//!   `mq_open` on the same name shares it. Bounded by the kernel's limits
//!   (`fs.mqueue.msg_max`, `msgsize_max`, RLIMIT_MSGQUEUE; see [`Limits`]).
//! - **shm** ([`BackendKind::Shm`]): pmq's own queue in a file under
//!   `/dev/shm`, shared by pmq programs in any language. Bounded only by
//!   memory, try-once calls never enter the kernel, and a process killed at
//!   any instruction neither hangs the others nor loses or duplicates a
//!   committed message. Remove one with [`unlink_from`].
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
//!
//! ## Cargo features
//!
//! - `tokio` (off by default): `pmq::tokio::AsyncQueue`, async
//!   send and receive on tokio's `AsyncFd`; the default build pulls in no tokio.
//! - `fault-injection` (off; for pmq's own crash tests only): named kill points
//!   inside the shm backend's critical sections. Never enable it in a program.
//!
//! The book (`docs/`, `make docs`) has a chapter per language, the shm
//! backend's design and guarantees, limits, performance and testing.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod backend;
#[cfg(test)]
mod core_tests;
mod describe;
/// The Rust blocks of README.md and of the book run as doctests (their other
/// blocks are other languages, which rustdoc does not run; tests/readme/snippets.py
/// checks that every file with a Rust block is included here).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
#[cfg(doctest)]
#[doc = include_str!("../docs/src/rust.md")]
struct BookRustDoctests;
#[cfg(doctest)]
#[doc = include_str!("../docs/src/at-least-once.md")]
struct BookLeaseDoctests;
mod error;
mod fork_once;
mod lease;
mod list;
mod name;
mod notify;
mod options;
mod queue;
mod timeout;
#[cfg(feature = "tokio")]
pub mod tokio;
mod transfer;
mod types;

/// The kernel backend's limits: its constants, the system's values now
/// ([`kernel::Limits`]) and what a queue costs against
/// RLIMIT_MSGQUEUE. (The shared-memory backend's longest name is
/// [`SHM_NAME_MAX`]; every backend's limits: [`BackendKind::limits`].)
pub mod kernel {
    pub use crate::backend::kernel::limits::{
        queue_cost, Limits, FALLBACK_MSGSIZE_MAX, FALLBACK_MSG_MAX, FALLBACK_QUEUES_MAX, NAME_MAX,
        PRIORITY_MAX, RLIMIT_INFINITY,
    };
}
// The kernel's limits under their first names (the kernel is the default
// backend); new code says kernel::NAME_MAX and so on.
pub use backend::shm::SHM_NAME_MAX;
pub use describe::DescribeStyle;
pub use error::{Error, ErrorKind, Result};
pub use kernel::{
    queue_cost, Limits, FALLBACK_MSGSIZE_MAX, FALLBACK_MSG_MAX, NAME_MAX, PRIORITY_MAX,
    RLIMIT_INFINITY,
};
pub use list::{list, queue_file};
pub use name::{name_from_bytes, random_name, validate_name, validate_name_bytes};
pub use options::{OpenFlags, OpenOptions, DEFAULT_MODE, O_CREAT, O_CREX, O_EXCL, O_NONBLOCK};
pub use queue::{message_queues_supported, unlink, unlink_from, Queue};
pub use timeout::Timeout;
pub use types::{
    Attributes, BackendKind, BackendLimits, DeadReceipt, InMessage, Lease, LeaseStats,
    LeasedMessage, OutMessage, QueueStats, Receipt,
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
