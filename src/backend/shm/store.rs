//! The store's glue: every transfer of a handle goes through the layout-3
//! engine (`ring`: split producer / consumer locks over a ring of slot
//! numbers), with the handle's patience turned into a lock policy and the
//! engine's faults into the contract's outcomes. The receipts of receivers
//! are in `store/receipts.rs`, the waits in `store/wait.rs`, the invariant
//! check in `store/invariants.rs`.

use std::sync::atomic::Ordering;

use super::errors::{corrupt, damage, lock_busy_now, lock_given_up, lock_timed_out, wedged};
use super::layout::*;
use super::lock::{LockError, Policy};
use super::ring::Fault;
use super::{futex, ShmQueue};
use crate::backend::{Attempt, Patience};
use crate::error::{Error, Result};

mod invariants;
mod lease;
mod receipts;
mod wait;

pub(super) use receipts::read_receipt;

/// How long a lock that waits for nothing else may take before pmq calls
/// it wedged (a critical section is a few hundred nanoseconds; only a
/// stopped or lost owner holds it this long).
pub(super) const WEDGED_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// An engine fault that is not "full", "empty" or "no room", as an error.
#[cold]
#[inline(never)]
pub(super) fn fault_error(f: Fault) -> Error {
    match f {
        Fault::Lock(LockError::TimedOut) => lock_timed_out(),
        Fault::Lock(LockError::Busy(waited)) => lock_busy_now(waited),
        Fault::Lock(LockError::GivenUp) => lock_given_up(),
        Fault::Lock(LockError::NoRobustList) => corrupt(
            "this thread has no kernel robust-futex list to take the queue's lock with (a \
             kernel without robust futexes, or a C library that never registered one); the shm \
             backend cannot run here: use the kernel backend",
        ),
        Fault::Corrupt(what) => corrupt(&what),
        Fault::Full | Fault::Empty | Fault::NoRoom => {
            corrupt("the queue reported no progress where it must have made some")
        }
    }
}

/// The policy of a lock taken for something that waits for nothing else
/// (a notification registration, the invariant check): up to
/// [`WEDGED_AFTER`], then Busy.
pub(super) fn patient_policy<'w>() -> Policy<'w> {
    static NEVER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    Policy::Until(Some(futex::deadline_after(WEDGED_AFTER)), &NEVER)
}

/// A lock failure of a [`patient_policy`] lock, as an error.
#[cold]
pub(super) fn patient_error(f: Fault) -> Error {
    match f {
        Fault::Lock(LockError::TimedOut) => wedged(WEDGED_AFTER),
        f => fault_error(f),
    }
}

impl ShmQueue {
    /// The lock policy of a transfer with patience `p` (asked only when a
    /// lock is contended): a try-once call (or any call of a handle whose
    /// block switch is off) waits briefly, a timed call until its
    /// deadline, a blocking call until the handle is closed. A holder
    /// stopped inside a call never makes a call outlast its timeout.
    #[inline(always)]
    fn policy<'s>(&'s self, p: Patience) -> impl Fn() -> Policy<'s> + 's {
        move || match p {
            Patience::Once => Policy::Brief,
            _ if !self.block.load(Ordering::Relaxed) => Policy::Brief,
            Patience::Until(t) => Policy::Until(
                Some(futex::deadline_after(
                    t.saturating_duration_since(std::time::Instant::now()),
                )),
                &self.closing,
            ),
            Patience::Forever => Policy::Until(None, &self.closing),
        }
    }

    /// The outcome of an engine call that moved nothing.
    #[cold]
    #[inline(never)]
    fn no_move<T>(&self, f: Fault, p: Patience) -> Attempt<T> {
        match f {
            Fault::Full => self.not_now(p.will_wait()),
            Fault::Empty => self.empty(p.will_wait()),
            Fault::NoRoom => Attempt::failed(super::errors::too_long()),
            f => Attempt::failed(fault_error(f)),
        }
    }

    /// Sends `msg`: the batch path with one message.
    #[inline(always)]
    pub(super) fn send_one(&self, msg: &[u8], priority: u32, p: Patience) -> Attempt<()> {
        match self
            .map
            .ring()
            .send_with(1, |_| (msg, priority), self.policy(p), |_| {})
        {
            Ok(_) => Attempt::Done(()),
            Err(f) => self.no_move(f, p),
        }
    }

    /// Sends as many of `msgs` (not empty) as fit now, in order, under one
    /// producers' lock: each message commits on its own, exactly as a
    /// single send.
    #[inline]
    pub(super) fn send_locked(
        &self,
        msgs: &[crate::types::OutMessage<'_>],
        p: Patience,
    ) -> Attempt<usize> {
        match self.map.ring().send_with(
            msgs.len(),
            |i| (msgs[i].data(), msgs[i].priority),
            self.policy(p),
            |_| {},
        ) {
            Ok(n) => Attempt::Done(n),
            Err(f) => self.no_move(f, p),
        }
    }

    /// Takes the head message into `buf` (which holds max_message_size
    /// bytes, checked by the core): the batch path with one message.
    #[inline(always)]
    pub(super) fn receive_one(&self, buf: &mut [u8], p: Patience) -> Attempt<(usize, u32)> {
        let mut got = (0, 0);
        match self
            .map
            .ring()
            .receive_with(buf, 1, self.opener, self.policy(p), |_, t| {
                got = (t.len, t.prio)
            }) {
            Ok(_) => Attempt::Done(got),
            Err(f) => self.no_move(f, p),
        }
    }

    /// Takes up to `out.len()` (not 0) messages, in queue order, packed
    /// into `buf` while the next fits, under one consumers' lock.
    #[inline]
    pub(super) fn receive_locked(
        &self,
        buf: &mut [u8],
        out: &mut [crate::types::InMessage],
        p: Patience,
    ) -> Attempt<usize> {
        let mut n = 0;
        match self.map.ring().receive_with(
            buf,
            out.len(),
            self.opener,
            self.policy(p),
            |offset, t| {
                out[n] = crate::types::InMessage {
                    offset,
                    len: t.len,
                    priority: t.prio,
                };
                n += 1;
            },
        ) {
            Ok(k) => Attempt::Done(k),
            Err(f) => self.no_move(f, p),
        }
    }

    /// A receive found the queue empty: "empty", unless the header is no
    /// longer the queue's. A file cut inside its first page raises no
    /// SIGBUS (the kernel zeroes the rest of that page), so `sound` sees no
    /// fault, and the positions read from the zeroed header would report
    /// the queue's messages as never there instead of the damage.
    #[inline]
    fn empty<T>(&self, will_wait: bool) -> Attempt<T> {
        if let Err(e) = self.header_intact() {
            return Attempt::failed(e);
        }
        self.not_now(will_wait)
    }

    /// The header still names this queue (its magic and capacity, both
    /// fixed at create) and the file still has its size; otherwise
    /// Corrupted, naming the truncation if the file shrank. Only the paths
    /// that would report "empty" (or 0 messages, or no receipt) pay for it:
    /// two header loads and one probe of the file's last word.
    #[inline]
    pub(super) fn header_intact(&self) -> Result<()> {
        let m = &self.map;
        // A probe of the file's last word instead of an fstat (a system
        // call on every operation): a file cut anywhere below its size
        // faults there, the SIGBUS guard marks the mapping damaged, and
        // `damaged()` (read after the probe) says so.
        m.probe_end();
        // The guard's mark is written by the signal handler on this thread:
        // keep the flag's load after the probe.
        std::sync::atomic::compiler_fence(Ordering::SeqCst);
        let id = &m.head().ident.0;
        if id.magic.load(Ordering::Relaxed) == MAGIC
            && id.capacity.load(Ordering::Relaxed) == m.shape.max_messages
            && !m.damaged()
        {
            return Ok(());
        }
        if m.damaged() {
            return Err(damage(m));
        }
        Err(super::errors::header_gone(m))
    }

    pub(super) fn not_now<T>(&self, will_wait: bool) -> Attempt<T> {
        if will_wait && !self.block.load(Ordering::Relaxed) {
            Attempt::NonBlocking
        } else {
            Attempt::NotNow
        }
    }
}
