//! pmq's own shared-memory backend: a queue in a file under `/dev/shm`,
//! moved by user-space code, bounded only by memory, and robust against a
//! process killed at any instruction.
//!
//! - One robust process-shared mutex guards the queue. A slot's state word
//!   is the only commit point; a locker that finds the previous owner dead
//!   (EOWNERDEAD) rebuilds everything else from the slot states
//!   (`store::repair`) before going on, so no committed message is lost
//!   and none is seen twice.
//! - Try-once and expired-deadline calls never enter the kernel (an
//!   uncontended lock is a user-space atomic). Waits are futex waits on a
//!   sequence word with an absolute CLOCK_MONOTONIC deadline; the waker
//!   clears the waiter registration, so a waiter killed while registered
//!   never suppresses a later wake-up.
//! - Openers hold an OFD lock on their own byte of the file for the
//!   handle's life (released by the kernel when the process dies): liveness
//!   is never read from pids.
//! - A damaged file is Corrupted, never a crash: every value read from the
//!   mapping is range-checked before it becomes an index or an offset, and
//!   a page that faults (the file truncated under the mapping, a hole that
//!   cannot be allocated) is replaced by a zero page by the SIGBUS guard
//!   (`bus`), which marks the mapping damaged; every call checks the mark
//!   before it returns. An open allocates a file's holes or refuses.
//!
//! See `../shared/design/shm-backend.md` for the measured costs behind it.
//!
//! Rooms: this file is the contract only (argument plumbing); `store` is
//! the locked structure (transfers through one critical section, and in
//! `store/` the repair, the receipts, the waits, the leases); `layout` the file as
//! `#[repr(C)]` structs; `file` creating and opening it, `dir` where it
//! lives; `errors` every detail text; `map` the mapping; `sync` the lock,
//! futexes and liveness; `notify`, `readiness`, `bus` (the SIGBUS guard),
//! `fault` (kill points).

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{
    Attempt, Attributes, Deliveries, Interest, NotifyError, OpenRequest, Patience, QueueBackend,
    Wake,
};
use crate::error::{Error, ErrorKind, Result};

mod bus;
mod dir;
mod errors;
#[cfg(feature = "fault-injection")]
#[doc(hidden)]
pub mod fault;
mod file;
mod futex;
mod layout;
mod lock;
mod map;
mod notify;
mod readiness;
mod ring;
mod store;
mod sync;

pub use dir::SHM_NAME_MAX;
pub(crate) use dir::{name_of_file, path_of, shm_dir};
use errors::damage;
use layout::*;

/// A named kill point (see `fault`): nothing unless built with the
/// `fault-injection` feature.
macro_rules! kp {
    ($name:literal) => {
        #[cfg(feature = "fault-injection")]
        $crate::backend::shm::fault::hit($name);
    };
}
pub(crate) use kp;
use map::Mapping;

/// An open shared-memory queue handle.
pub(crate) struct ShmQueue {
    map: Arc<Mapping>,
    /// This handle's opener record.
    opener: u32,
    block: AtomicBool,
    closing: AtomicBool,
    readiness: readiness::Readiness,
    /// The receipt the previous holder of this opener record left.
    inherited: Option<crate::types::Receipt>,
}

impl ShmQueue {
    /// Counters of the queue: (count, committed, received, recoveries).
    pub(crate) fn counters(&self) -> (u64, u64, u64, u64) {
        let r = self.map.ring();
        let (sent, received, count) = r.counters();
        let (p, c) = r.recoveries();
        (count, sent, received, p.wrapping_add(c))
    }

    /// The receipt this handle's opener record held when it was claimed.
    pub(crate) fn inherited_receipt(&self) -> Option<crate::types::Receipt> {
        self.inherited
    }

    /// See [`Mapping::check_invariants`].
    pub(crate) fn check_invariants(&self) -> std::result::Result<(), String> {
        self.map.check_invariants()
    }
}

impl Drop for ShmQueue {
    fn drop(&mut self) {
        self.readiness.stop();
        // The holder's end: its leases go back to the queue.
        self.sweep_now(true, false);
        self.close_receipt();
    }
}

impl ShmQueue {
    /// `a`, unless a page of the mapping faulted during the call (or
    /// before): then what it read is not the file's, and the call is
    /// Corrupted. The hot path pays one relaxed load.
    #[inline(always)]
    fn sound<T>(&self, a: Attempt<T>) -> Attempt<T> {
        if self.map.damaged() {
            return Attempt::failed(damage(&self.map));
        }
        a
    }
}

impl QueueBackend for ShmQueue {
    const NAME_MAX: usize = SHM_NAME_MAX;
    const PRIORITY_MAX: u32 = PRIORITIES - 1;

    /// The kernel's defaults, so switching backends keeps a program's shape.
    fn default_shape() -> (i64, i64) {
        (10, 8192)
    }

    fn supported() -> bool {
        cfg!(target_os = "linux")
    }

    fn open(req: &OpenRequest<'_>) -> Result<ShmQueue> {
        let map = file::open_file(req)?;
        let opener = sync::claim_opener(&map)?;
        map.ring().set_me(opener);
        let inherited = store::read_receipt(&map, opener);
        let q = ShmQueue {
            map: Arc::new(map),
            opener,
            inherited,
            block: AtomicBool::new(!req.nonblocking),
            closing: AtomicBool::new(false),
            readiness: readiness::Readiness::new(),
        };
        // Leases of holders that died (this open may reuse one's record).
        q.sweep_now(false, false);
        Ok(q)
    }

    fn exists(name: &str) -> Result<bool> {
        file::exists(name)
    }

    fn unlink(name: &str) -> Result<()> {
        file::unlink(name)
    }

    fn try_send(&self, msg: &[u8], priority: u32, p: Patience) -> Attempt<()> {
        self.sound(self.send_one(msg, priority, p))
    }

    fn try_send_batch(&self, msgs: &[crate::types::OutMessage<'_>], p: Patience) -> Attempt<usize> {
        self.sound(self.send_locked(msgs, p))
    }

    fn try_receive(&self, buf: &mut [u8], p: Patience) -> Attempt<(usize, u32)> {
        self.sound(self.receive_one(buf, p))
    }

    fn try_receive_batch(
        &self,
        buf: &mut [u8],
        _room: usize,
        out: &mut [crate::types::InMessage],
        p: Patience,
    ) -> Attempt<usize> {
        self.sound(self.receive_locked(buf, out, p))
    }

    /// Shutdown stops the readiness helper and closes its eventfd; a send,
    /// receive or wait uses only the mapping (kept until the handle is
    /// freed), the futex words and `closing`.
    const MOVES_NEED_COUNT: bool = false;

    fn try_lease_batch(
        &self,
        buf: &mut [u8],
        _room: usize,
        out: &mut [crate::types::LeasedMessage],
        visibility: Option<Duration>,
        p: Patience,
    ) -> Attempt<usize> {
        self.sound(self.lease_locked(buf, out, visibility, p))
    }

    #[inline]
    fn ack(&self, lease: &crate::types::Lease) -> Result<()> {
        self.settle_one(lease, false)
    }

    fn nack(&self, lease: &crate::types::Lease) -> Result<()> {
        self.settle_one(lease, true)
    }

    fn ack_batch(&self, leases: &[crate::types::Lease]) -> (usize, Result<()>) {
        self.settle(leases, false)
    }

    fn lease_stats(&self) -> Result<crate::types::LeaseStats> {
        self.lease_stats_now()
    }

    fn instance_id(&self) -> Option<u64> {
        Some(self.instance())
    }

    fn prepare_wait(&self) {}

    fn wait(&self, interest: Interest, timeout: Option<Duration>) -> Wake {
        self.wait_for(interest, timeout)
    }

    fn wake_waiters(&self) {
        self.release_waiters();
        self.readiness.stop();
    }

    fn shutdown(&self) {
        self.readiness.stop();
        // A close is the holder's end: its leases go back to the queue now,
        // not when the handle is freed (a lease taken by a call that raced
        // the close goes back at the drop).
        self.sweep_now(true, false);
    }

    fn attributes(&self) -> Result<Attributes> {
        let sh = &self.map.shape;
        let current_messages = self.map.ring().count() as i64;
        // The positions read from a header cut away (zeros: no fault inside
        // the first page) are not the queue's: checked after the read.
        self.header_intact()?;
        Ok(Attributes {
            max_messages: sh.max_messages as i64,
            max_message_size: sh.max_message_size as i64,
            current_messages,
            block: self.block.load(Ordering::Relaxed),
        })
    }

    fn block(&self) -> Result<bool> {
        Ok(self.block.load(Ordering::Relaxed))
    }

    fn set_block(&self, block: bool) -> Result<()> {
        self.block.store(block, Ordering::Relaxed);
        Ok(())
    }

    fn readiness_fd(&self) -> Option<RawFd> {
        self.readiness.fd(&self.map)
    }

    fn notify_signal(&self, signo: i32) -> std::result::Result<(), NotifyError> {
        notify::register(self, notify::Kind::Signal(signo), None)
    }

    fn notify_callback(
        &self,
        id: u64,
        deliveries: &mut Deliveries,
    ) -> std::result::Result<(), NotifyError> {
        notify::register(self, notify::Kind::Callback(id), Some(deliveries.state()))
    }

    fn notify_cancel(&self) -> Result<()> {
        notify::cancel(self)
    }

    fn busy_error(name: &str, _own: bool) -> Error {
        Error::new(
            ErrorKind::Busy,
            format!(
                "queue {name} already has a notification registration (another process holds \
                 it); only one is allowed per queue: wait until it is delivered or cancelled"
            ),
        )
        .with_errno(libc::EBUSY)
    }

    fn stats(&self) -> Option<crate::types::QueueStats> {
        let (current_messages, committed, received, recoveries) = self.counters();
        Some(crate::types::QueueStats {
            current_messages,
            committed,
            received,
            recoveries,
        })
    }

    fn inherited_receipt(&self) -> Option<crate::types::Receipt> {
        ShmQueue::inherited_receipt(self)
    }

    fn dead_receipts(&self) -> Result<Vec<crate::types::DeadReceipt>> {
        ShmQueue::dead_receipts(self)
    }

    fn check_invariants(&self) -> std::result::Result<(), String> {
        ShmQueue::check_invariants(self)
    }
}
