//! The seam between pmq's logic and the mechanisms that move messages.
//!
//! The core (`crate::queue`, `crate::notify`) knows no backend: it speaks the
//! contract below ([`QueueBackend`]) through [`Backend`], an enum of every
//! backend chosen when a queue is opened. One enum (not a generic) keeps one
//! opaque handle type for the C ABI and costs one predictable branch per call.
//!
//! Contract every backend keeps:
//! - **Nothing waits inside a transfer** for a message or for room.
//!   `try_send` / `try_receive` move one message or report
//!   [`Attempt::NotNow`] (full / empty right now). Their [`Patience`] says
//!   whether the caller is about to wait (`will_wait`): if so, a handle whose
//!   `block` switch is off reports [`Attempt::NonBlocking`] instead;
//!   otherwise the block switch is ignored. Neither changes the block switch.
//!   A backend with a lock of its own that another process may hold (shm)
//!   waits for it only as the patience allows: a few milliseconds for a
//!   try-once call, until the deadline for a timed one.
//!   One exception: with [`Patience::Forever`] a backend may wait for the
//!   message or room inside the transfer itself (the kernel backend sleeps
//!   in the kernel's own blocking call), provided `wake_waiters` ends that
//!   wait (the attempt then reports `NotNow` and the core's closed check
//!   reports the close) and a signal handler that ends it is reported as
//!   [`Attempt::Interrupted`].
//! - **Waiting is readiness only.** `wait` waits at most the given time on a
//!   monotonic clock for the queue to become readable / writable; it may wake
//!   early or spuriously (the core tries again and keeps the deadline). After
//!   `wake_waiters` (close) every wait of the handle, now and later, ends at
//!   once; `prepare_wait` is called before the caller's last closed check.
//! - **Errors are the core's.** Failures come back as [`crate::Error`] with a
//!   detail that names the cause and the fix in the backend's own terms; a
//!   signal that interrupts a call is [`Attempt::Interrupted`] /
//!   [`Wake::Interrupted`], so the core applies `retry_on_interrupt`.
//! - **Limits and names are the backend's.** Defaults for new queues, the
//!   priority range and the longest name are asked of it.
//! - **Notification delivery is handed in.** Callback registrations carry an
//!   id; the backend reports deliveries through the functions given to its
//!   delivery state ([`Deliveries`], owned and locked by `crate::notify`),
//!   and never calls into the core itself.

use std::os::fd::RawFd;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::queue::OutMessage;

#[cfg(test)]
pub(crate) mod fake;
pub(crate) mod kernel;
pub(crate) mod shm;

/// How long a transfer attempt may wait for what it needs to even look at
/// the queue (a lock another process holds), never for a message or room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Patience {
    /// A try-once call: returns within milliseconds whatever holds the lock.
    Once,
    /// The caller waits until this monotonic deadline.
    Until(std::time::Instant),
    /// The caller waits without limit.
    Forever,
}

impl Patience {
    /// Whether the caller waits when the queue is full / empty.
    #[inline]
    pub(crate) fn will_wait(self) -> bool {
        self != Patience::Once
    }
}

/// What a non-waiting attempt did.
pub(crate) enum Attempt<T> {
    /// The message moved.
    Done(T),
    /// The queue is full (send) or empty (receive) right now.
    NotNow,
    /// Like `NotNow`, and the handle's `block` switch is off, so the caller
    /// must not wait (reported only when the patience says the caller waits).
    NonBlocking,
    /// A signal handler ran during the call; nothing moved.
    Interrupted,
    /// Any other failure (boxed: the result stays two words wide on the hot
    /// path, which only the cold failures pay for).
    Failed(Box<Error>),
}

impl<T> Attempt<T> {
    /// The same outcome with the value of `Done` mapped.
    pub(crate) fn map_done<U>(self, f: impl FnOnce(T) -> U) -> Attempt<U> {
        match self {
            Attempt::Done(v) => Attempt::Done(f(v)),
            Attempt::NotNow => Attempt::NotNow,
            Attempt::NonBlocking => Attempt::NonBlocking,
            Attempt::Interrupted => Attempt::Interrupted,
            Attempt::Failed(e) => Attempt::Failed(e),
        }
    }

    /// A failure with this error.
    #[cold]
    pub(crate) fn failed(e: Error) -> Attempt<T> {
        Attempt::Failed(Box::new(e))
    }
}

/// How a readiness wait ended.
pub(crate) enum Wake {
    /// The queue may be ready, or the handle is closing: look again.
    Ready,
    /// The time given ran out (possibly a hair early: the caller keeps the deadline).
    Elapsed,
    /// A signal handler ran during the wait.
    Interrupted,
    /// The wait itself failed.
    Failed(Error),
}

/// Which readiness to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interest {
    Readable,
    Writable,
}

/// A snapshot of a queue's attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attributes {
    /// Capacity in messages.
    pub max_messages: i64,
    /// Largest message in bytes.
    pub max_message_size: i64,
    /// Messages waiting now.
    pub current_messages: i64,
    /// Whether this handle blocks.
    pub block: bool,
}

/// Parameters of an open: everything the core validated.
pub(crate) struct OpenRequest<'a> {
    pub name: &'a str,
    pub read: bool,
    pub write: bool,
    pub create: bool,
    pub exclusive: bool,
    /// The handle starts with its block switch off.
    pub nonblocking: bool,
    pub mode: u32,
    pub max_messages: i64,
    pub max_message_size: i64,
}

/// Why a notification request was refused.
pub(crate) enum NotifyError {
    /// The queue already has a registration (its holder is unknown here:
    /// the core knows whether a handle of this process may hold it).
    Busy,
    /// Any other failure.
    Failed(Error),
}

/// The contract a backend implements (see the module documentation).
pub(crate) trait QueueBackend: Sized + Send + Sync {
    /// Longest name after the leading slash, in bytes.
    const NAME_MAX: usize;
    /// Highest message priority.
    const PRIORITY_MAX: u32;
    /// (max_messages, max_message_size) of a new queue when none is asked
    /// for, read now (a system's limits may change at any time).
    fn default_shape() -> (i64, i64);
    /// Whether this backend works on this system.
    fn supported() -> bool;
    /// Opens or creates a queue.
    fn open(req: &OpenRequest<'_>) -> Result<Self>;
    /// Removes a queue's name; open handles keep working.
    fn unlink(name: &str) -> Result<()>;
    /// Whether a queue called `name` exists, asked without opening it (a
    /// kernel queue's registration is dropped when its owner closes any
    /// descriptor of it, so a probe that opened and closed one would cost
    /// the caller its notification).
    fn exists(name: &str) -> Result<bool>;

    /// Sends one message without waiting.
    fn try_send(&self, msg: &[u8], priority: u32, p: Patience) -> Attempt<()>;
    /// Receives one message without waiting: (length, priority).
    fn try_receive(&self, buf: &mut [u8], p: Patience) -> Attempt<(usize, u32)>;
    /// Sends, without waiting, as many of `msgs` (checked, not empty) as
    /// fit now, in order: `Done(n)` with n >= 1, or what the first attempt
    /// reported. This default sends one at a time; a backend that can do
    /// better (one lock for the batch) overrides it.
    fn try_send_batch(&self, msgs: &[OutMessage<'_>], p: Patience) -> Attempt<usize> {
        let mut sent = 0;
        for m in msgs {
            let p = if sent == 0 { p } else { Patience::Once };
            match self.try_send(m.data, m.priority, p) {
                Attempt::Done(()) => sent += 1,
                // After the first, whatever stops the batch is the next
                // call's to report (a failure recurs; "full" is "sent n").
                _ if sent > 0 => break,
                other => return other.map_done(|()| 0),
            }
        }
        Attempt::Done(sent)
    }
    /// Receives, without waiting, up to `out.len()` (not 0) messages into
    /// `buf` (at least max_message_size bytes), packed, while the next fits:
    /// `Done(n)` with n >= 1, or what the first attempt reported. This
    /// default packs a message only where `room` (max_message_size) bytes
    /// are left, the room one `try_receive` needs.
    fn try_receive_batch(
        &self,
        buf: &mut [u8],
        room: usize,
        out: &mut [crate::queue::InMessage],
        p: Patience,
    ) -> Attempt<usize> {
        let mut n = 0;
        let mut at = 0;
        while n < out.len() && buf.len() - at >= room {
            let p = if n == 0 { p } else { Patience::Once };
            match self.try_receive(&mut buf[at..], p) {
                Attempt::Done((len, priority)) => {
                    out[n] = crate::queue::InMessage {
                        offset: at,
                        len,
                        priority,
                    };
                    n += 1;
                    at += len;
                }
                _ if n > 0 => break,
                other => return other.map_done(|_| 0),
            }
        }
        Attempt::Done(n)
    }
    /// Whether a send or receive in progress uses what `shutdown` releases
    /// (a descriptor), so the core must count it and let the last one shut
    /// the handle down. False only when moves and waits stay valid across
    /// `shutdown`.
    const MOVES_NEED_COUNT: bool = true;
    /// Called before the caller's last closed check ahead of a wait.
    fn prepare_wait(&self);
    /// Waits for readiness at most `timeout` (None: no limit).
    fn wait(&self, interest: Interest, timeout: Option<Duration>) -> Wake;
    /// Ends every wait of this handle, now and later (the handle is closing).
    fn wake_waiters(&self);
    /// Releases the handle's resources; no call is in progress or will start.
    fn shutdown(&self);

    /// The queue's attributes now.
    fn attributes(&self) -> Result<Attributes>;
    /// The block switch.
    fn block(&self) -> Result<bool>;
    /// Sets the block switch of this handle only.
    fn set_block(&self, block: bool) -> Result<()>;
    /// A descriptor poll/epoll report readable (a message waits) and
    /// writable (there is room) on, if the backend has one.
    fn readiness_fd(&self) -> Option<RawFd>;

    /// Asks for signal `signo` when the queue goes from empty to non-empty.
    fn notify_signal(&self, signo: i32) -> std::result::Result<(), NotifyError>;
    /// Asks for delivery of registration `id` through `deliveries`.
    fn notify_callback(
        &self,
        id: u64,
        deliveries: &mut Deliveries,
    ) -> std::result::Result<(), NotifyError>;
    /// Removes this process's registration, if it holds one.
    fn notify_cancel(&self) -> Result<()>;
    /// The error for a refused registration: `own` says whether a handle of
    /// this process may hold it (the backend must then not disturb it).
    fn busy_error(name: &str, own: bool) -> Error;
}

/// Which mechanism a queue lives in, chosen when it is opened
/// ([`crate::OpenOptions::backend`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum BackendKind {
    /// The Linux kernel's POSIX message queues (`mq_open`): shared with every
    /// program that opens the same name, bounded by `fs.mqueue` limits.
    #[default]
    Kernel,
    /// pmq's own queue in a file under `/dev/shm`: several times faster,
    /// bounded only by memory, robust against a process killed anywhere;
    /// shared with pmq programs only. Names: at most
    /// [`SHM_NAME_MAX`](crate::SHM_NAME_MAX) (251) bytes after the slash.
    ///
    /// A process stopped (SIGSTOP, a debugger) while it holds the queue's
    /// lock never makes another call outlast its timeout: a try-once call
    /// (or one on a non-blocking handle) waits about 10 ms for a stopped
    /// holder (at most 250 ms for a running, descheduled one) and fails
    /// with [`ErrorKind::WouldBlock`](crate::ErrorKind::WouldBlock) naming
    /// the lock, a timed call fails with
    /// [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut) at its deadline,
    /// and a call without a timeout waits until the holder resumes or dies
    /// (the queue is then repaired) or the handle is closed.
    ///
    /// **What a queue costs.** The file (memory in `/dev/shm`, allocated up
    /// front) is `335,872 + max_messages × round_up(32 + max_message_size, 64)`
    /// bytes: a fixed 335,872 (header, per-priority lists for all 32,768
    /// priorities, 1,024 opener records) plus one slot per message. The
    /// default shape is the kernel's (10 messages of at most 8,192 bytes):
    /// 418,432 bytes (409 KiB). Size a big queue's messages to fit: 100,000
    /// messages of 8,192 bytes take 826 MB, of 256 bytes 32 MB.
    Shm,
    /// An in-memory stand-in for the core's unit tests.
    #[cfg(test)]
    Fake,
}

/// An open queue of some backend.
pub(crate) enum Backend {
    Kernel(kernel::KernelQueue),
    Shm(shm::ShmQueue),
    #[cfg(test)]
    Fake(fake::FakeQueue),
}

/// Runs `$body` with `$b` bound to the backend inside `$self`.
macro_rules! dispatch {
    ($self:expr, $b:ident => $body:expr) => {
        match $self {
            Backend::Kernel($b) => $body,
            Backend::Shm($b) => $body,
            #[cfg(test)]
            Backend::Fake($b) => $body,
        }
    };
}

/// Runs `$body` with `$B` naming the backend type of `$kind`.
macro_rules! dispatch_kind {
    ($kind:expr, $B:ident => $body:expr) => {
        match $kind {
            BackendKind::Kernel => {
                type $B = kernel::KernelQueue;
                $body
            }
            BackendKind::Shm => {
                type $B = shm::ShmQueue;
                $body
            }
            #[cfg(test)]
            BackendKind::Fake => {
                type $B = fake::FakeQueue;
                $body
            }
        }
    };
}

impl BackendKind {
    /// Longest queue name after the leading slash on this backend, in
    /// bytes: [`NAME_MAX`](crate::NAME_MAX) (255) for the kernel,
    /// [`SHM_NAME_MAX`](crate::SHM_NAME_MAX) (251) for shared memory (its
    /// file `pmq.<name>` must fit the file system's 255). A name that fits
    /// both works on either backend.
    pub fn name_max(self) -> usize {
        dispatch_kind!(self, B => B::NAME_MAX)
    }

    pub(crate) fn priority_max(self) -> u32 {
        dispatch_kind!(self, B => B::PRIORITY_MAX)
    }

    pub(crate) fn default_shape(self) -> (i64, i64) {
        dispatch_kind!(self, B => B::default_shape())
    }

    pub(crate) fn supported(self) -> bool {
        dispatch_kind!(self, B => B::supported())
    }

    pub(crate) fn open(self, req: &OpenRequest<'_>) -> Result<Backend> {
        Ok(match self {
            BackendKind::Kernel => Backend::Kernel(kernel::KernelQueue::open(req)?),
            BackendKind::Shm => Backend::Shm(shm::ShmQueue::open(req)?),
            #[cfg(test)]
            BackendKind::Fake => Backend::Fake(fake::FakeQueue::open(req)?),
        })
    }

    pub(crate) fn unlink(self, name: &str) -> Result<()> {
        dispatch_kind!(self, B => B::unlink(name))
    }

    pub(crate) fn exists(self, name: &str) -> Result<bool> {
        dispatch_kind!(self, B => B::exists(name))
    }

    pub(crate) fn busy_error(self, name: &str, own: bool) -> Error {
        dispatch_kind!(self, B => B::busy_error(name, own))
    }
}

impl Backend {
    pub(crate) fn kind(&self) -> BackendKind {
        match self {
            Backend::Kernel(_) => BackendKind::Kernel,
            Backend::Shm(_) => BackendKind::Shm,
            #[cfg(test)]
            Backend::Fake(_) => BackendKind::Fake,
        }
    }

    #[inline]
    pub(crate) fn try_send(&self, msg: &[u8], priority: u32, p: Patience) -> Attempt<()> {
        dispatch!(self, b => b.try_send(msg, priority, p))
    }

    #[inline]
    pub(crate) fn try_receive(&self, buf: &mut [u8], p: Patience) -> Attempt<(usize, u32)> {
        dispatch!(self, b => b.try_receive(buf, p))
    }

    #[inline]
    pub(crate) fn try_send_batch(&self, msgs: &[OutMessage<'_>], p: Patience) -> Attempt<usize> {
        dispatch!(self, b => b.try_send_batch(msgs, p))
    }

    #[inline]
    pub(crate) fn try_receive_batch(
        &self,
        buf: &mut [u8],
        room: usize,
        out: &mut [crate::queue::InMessage],
        p: Patience,
    ) -> Attempt<usize> {
        dispatch!(self, b => b.try_receive_batch(buf, room, out, p))
    }

    /// See [`QueueBackend::MOVES_NEED_COUNT`].
    #[inline]
    pub(crate) fn moves_need_count(&self) -> bool {
        match self {
            Backend::Kernel(_) => kernel::KernelQueue::MOVES_NEED_COUNT,
            Backend::Shm(_) => shm::ShmQueue::MOVES_NEED_COUNT,
            #[cfg(test)]
            Backend::Fake(_) => fake::FakeQueue::MOVES_NEED_COUNT,
        }
    }

    pub(crate) fn prepare_wait(&self) {
        dispatch!(self, b => b.prepare_wait())
    }

    pub(crate) fn wait(&self, interest: Interest, timeout: Option<Duration>) -> Wake {
        dispatch!(self, b => b.wait(interest, timeout))
    }

    pub(crate) fn wake_waiters(&self) {
        dispatch!(self, b => b.wake_waiters())
    }

    pub(crate) fn shutdown(&self) {
        dispatch!(self, b => b.shutdown())
    }

    pub(crate) fn attributes(&self) -> Result<Attributes> {
        dispatch!(self, b => b.attributes())
    }

    pub(crate) fn block(&self) -> Result<bool> {
        dispatch!(self, b => b.block())
    }

    pub(crate) fn set_block(&self, block: bool) -> Result<()> {
        dispatch!(self, b => b.set_block(block))
    }

    pub(crate) fn readiness_fd(&self) -> Option<RawFd> {
        dispatch!(self, b => b.readiness_fd())
    }

    pub(crate) fn notify_signal(&self, signo: i32) -> std::result::Result<(), NotifyError> {
        dispatch!(self, b => b.notify_signal(signo))
    }

    pub(crate) fn notify_callback(
        &self,
        id: u64,
        deliveries: &mut Deliveries,
    ) -> std::result::Result<(), NotifyError> {
        dispatch!(self, b => b.notify_callback(id, deliveries))
    }

    pub(crate) fn notify_cancel(&self) -> Result<()> {
        dispatch!(self, b => b.notify_cancel())
    }
}

/// Every backend's delivery state for callback notifications, owned by the
/// core's notification registry and used only under its lock.
pub(crate) struct Deliveries {
    pub(crate) kernel: kernel::Delivery,
    pub(crate) shm: shm::Delivery,
}

impl Deliveries {
    /// `deliver(id)` runs registration `id`'s callback (called on a thread
    /// made for the delivery); `removed(id)` forgets a registration the
    /// backend dropped without delivering it (must not wait for the
    /// registry's lock: the registering thread may hold it).
    pub(crate) const fn new(deliver: fn(u64), removed: fn(u64)) -> Deliveries {
        Deliveries {
            kernel: kernel::Delivery::new(deliver, removed),
            shm: shm::Delivery::new(deliver, removed),
        }
    }

    /// In a child after fork: what the parent's delivery threads own is
    /// not ours; start afresh.
    pub(crate) fn after_fork_in_child(&mut self) {
        self.kernel.after_fork_in_child();
    }
}

/// A failure to tell whether queue `name` exists (errno `errno`).
pub(crate) fn exists_error(errno: i32, name: &str) -> Error {
    let kind = match errno {
        libc::EACCES | libc::EPERM => ErrorKind::Permission,
        _ => ErrorKind::Os,
    };
    Error::new(
        kind,
        format!(
            "could not tell whether queue {name} exists: {}",
            crate::error::errno_text(errno)
        ),
    )
    .with_errno(errno)
}
