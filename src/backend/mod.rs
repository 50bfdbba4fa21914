//! The seam between pmq's logic and the mechanisms that move messages.
//!
//! The core (`crate::queue`, `crate::options`, `crate::notify`) names no
//! backend: it speaks the contract below ([`QueueBackend`]) through
//! [`Backend`], an enum of every backend chosen when a queue is opened. One
//! enum (not a generic) keeps one opaque handle type for the C ABI and costs
//! one predictable branch per call. This module is the one place that names
//! each backend (the enum, its dispatch, [`BackendKind`]'s per-backend
//! answers); what the backends share of the system is in [`sys`], and the
//! data that crosses the seam in `crate::types`.
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
//! - **What only some backends have has a default.** Counters (`stats`),
//!   receipts (`inherited_receipt`, `dead_receipts`) and an invariant check
//!   default to "none" / NotSupported / Ok; a backend that has them
//!   overrides them, so the core asks every backend the same way.
//! - **Notification delivery is handed in.** Callback registrations carry an
//!   id; the backend reports deliveries through the functions given to its
//!   delivery state (a [`DeliveryState`] of its own type, which
//!   [`Deliveries`], owned and locked by `crate::notify`, makes on first
//!   use), and never calls into the core itself.

use std::os::fd::RawFd;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

pub(crate) use crate::types::{Attributes, BackendKind, BackendLimits};
use crate::types::{
    DeadReceipt, InMessage, Lease, LeaseStats, LeasedMessage, OutMessage, QueueStats, Receipt,
};
pub(crate) use deliveries::{Deliveries, DeliveryState};

mod deliveries;
pub(crate) use lease::NO_LEASES;
#[cfg(test)]
pub(crate) mod fake;
pub(crate) mod kernel;
pub(crate) mod shm;
pub(crate) mod sys;

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
            match self.try_send(m.data(), m.priority, p) {
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
        out: &mut [InMessage],
        p: Patience,
    ) -> Attempt<usize> {
        let mut n = 0;
        let mut at = 0;
        while n < out.len() && buf.len() - at >= room {
            let p = if n == 0 { p } else { Patience::Once };
            match self.try_receive(&mut buf[at..], p) {
                Attempt::Done((len, priority)) => {
                    out[n] = InMessage {
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
    /// Leases, without waiting, up to `out.len()` (not 0) messages into
    /// `buf` (at least max_message_size bytes), packed while the next fits,
    /// each under a lease of this handle (expiring after `visibility` if
    /// given): `Done(n)` with n >= 1, or what the attempt reported. Leased
    /// messages stay in the queue, invisible to other receivers, until
    /// `ack`, `nack`, the expiry, or the holder's end. Backends without
    /// leases refuse ([`NO_LEASES`]).
    fn try_lease_batch(
        &self,
        _buf: &mut [u8],
        _room: usize,
        _out: &mut [LeasedMessage],
        _visibility: Option<Duration>,
        _p: Patience,
    ) -> Attempt<usize> {
        Attempt::failed(NO_LEASES)
    }
    /// Removes a message this handle leased (LeaseLost, changing nothing,
    /// when the lease is not this handle's now).
    fn ack(&self, _lease: &Lease) -> Result<()> {
        Err(NO_LEASES)
    }
    /// Gives a leased message back at its place (as `ack` for the errors).
    fn nack(&self, _lease: &Lease) -> Result<()> {
        Err(NO_LEASES)
    }
    /// Acks every lease in `leases` this handle holds, under one lock: how
    /// many were acked, and LeaseLost (naming how many and the first) when
    /// some were not.
    fn ack_batch(&self, _leases: &[Lease]) -> (usize, Result<()>) {
        (0, Err(NO_LEASES))
    }
    /// The queue's leases now.
    fn lease_stats(&self) -> Result<LeaseStats> {
        Err(NO_LEASES)
    }
    /// The queue's identity, not its name's (None when the backend has
    /// none).
    fn instance_id(&self) -> Option<u64> {
        None
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

    /// The queue's counters, if the backend keeps any.
    fn stats(&self) -> Option<QueueStats> {
        None
    }
    /// The receipt the previous holder of this handle's place in the queue
    /// left when it went away without closing, if the backend keeps
    /// receipts (see `Queue::inherited_receipt`).
    fn inherited_receipt(&self) -> Option<Receipt> {
        None
    }
    /// Every receipt a receiver that died left, if the backend keeps
    /// receipts (see `Queue::dead_receipts`); a backend that keeps none
    /// says so (NotSupported) in its own terms.
    fn dead_receipts(&self) -> Result<Vec<DeadReceipt>> {
        Err(Error::fixed(
            ErrorKind::NotSupported,
            "this queue's backend keeps no receipts; receipts of dead receivers exist only on \
             the shared-memory backend (open the queue with backend shm)",
        ))
    }
    /// Checks the queue's own invariants (for tests and diagnostics): Ok
    /// when the backend has none it can check.
    fn check_invariants(&self) -> std::result::Result<(), String> {
        Ok(())
    }
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

// After the macros: it uses `dispatch!`.
mod lease;

impl BackendKind {
    /// Longest queue name after the leading slash on this backend, in
    /// bytes: [`NAME_MAX`](crate::NAME_MAX) (255) for the kernel,
    /// [`SHM_NAME_MAX`](crate::SHM_NAME_MAX) (251) for shared memory (its
    /// file `pmq.<name>` must fit the file system's 255). A name that fits
    /// both works on either backend.
    pub fn name_max(self) -> usize {
        dispatch_kind!(self, B => B::NAME_MAX)
    }

    /// Checks a queue name for this backend
    /// ([`validate_name`](crate::validate_name) with
    /// [`name_max`](BackendKind::name_max)); a refusal of a long name says
    /// which backend's limit it broke.
    pub fn validate_name(self, name: &str) -> Result<()> {
        let note = match self {
            BackendKind::Shm => {
                " on the shared-memory backend (SHM_NAME_MAX: its file pmq.<name> must fit the \
                 file system's 255-byte names); the kernel backend takes up to 255"
            }
            _ => " (NAME_MAX)",
        };
        crate::name::validate_name_noted(name, self.name_max(), note)
    }

    /// This backend's limits now: the longest name, the highest priority
    /// and the shape a new queue gets unless told otherwise.
    pub fn limits(self) -> BackendLimits {
        let (default_max_messages, default_max_message_size) = self.default_shape();
        BackendLimits {
            name_max: self.name_max(),
            priority_max: self.priority_max(),
            default_max_messages,
            default_max_message_size,
        }
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
        out: &mut [InMessage],
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

    pub(crate) fn stats(&self) -> Option<QueueStats> {
        dispatch!(self, b => b.stats())
    }

    pub(crate) fn inherited_receipt(&self) -> Option<Receipt> {
        dispatch!(self, b => b.inherited_receipt())
    }

    pub(crate) fn dead_receipts(&self) -> Result<Vec<DeadReceipt>> {
        dispatch!(self, b => b.dead_receipts())
    }

    pub(crate) fn check_invariants(&self) -> std::result::Result<(), String> {
        dispatch!(self, b => b.check_invariants())
    }

    /// The misbehaviour knobs of a queue of the fake backend.
    #[cfg(test)]
    pub(crate) fn fake_knobs(&self) -> &fake::Knobs {
        match self {
            Backend::Fake(f) => f.knobs(),
            _ => panic!("not a fake queue"),
        }
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
