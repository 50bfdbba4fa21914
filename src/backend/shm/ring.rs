//! The layout-3 store: split producer / consumer locks over a ring of slot
//! indices (see `layout3` for the file and the ring's positions).
//!
//! - **Send** (under the producers' lock P): take the free slot named at
//!   `ring[P % cap]`, fill it (seq = P), COMMIT with one release store
//!   `state = READY`, then advance P. The ring cell is not written: the
//!   cell that named a free slot now names a published one.
//! - **Receive** (under the consumers' lock C): read P (the receive's
//!   linearisation point), move every position in `[H, P)` into the
//!   consumers' priority index, pop the top, write the receipt, COMMIT
//!   with `state = FREE`, hand the slot back at `ring[F % cap]`, advance F.
//! - **Priority order** between concurrent calls: a receive returns the
//!   highest-priority, oldest message among those published when it read
//!   P; a send that completes after that point is not seen by that receive
//!   even if its priority is higher (POSIX promises nothing stronger across
//!   concurrent calls). FIFO within a priority holds across all producers:
//!   the P lock orders them, and positions are drained in order.
//! - **Counters are derived**, no pending record: committed = P, received
//!   = F - cap, in the queue = P - F + cap.
//! - **Repair.** P (owner died): a READY slot at P with seq == P is a
//!   committed send whose P store was lost: P + 1. C (owner died): slots
//!   named in `[H, F)` belong to producers (one may be filling a slot right
//!   now) and are left alone; every other slot is the consumers': READY
//!   (and LEASED) back into the index by seq, anything else handed back at
//!   F. Both are idempotent: a repairer killed too leaves OWNER_DIED again.
//! - **Waits** take no lock: a waiter reads its futex word, registers,
//!   re-checks the positions and sleeps while the word holds; a mover,
//!   after its commit and unlock, takes every registration with one swap,
//!   then bumps the word and wakes. A waiter killed while registered costs
//!   one wake. A waker killed between its commit and its wake leaves the
//!   sleepers asleep: each sleep is at most [`SLICE`], after which the
//!   waiter looks at the positions again (so the stall is bounded by one
//!   slice, and counted by no test as lost).
//! - Nothing read from the file becomes an index, a length or an address
//!   unchecked: positions are checked against `H <= P <= F <= H + cap`,
//!   slot numbers against the capacity, lengths against the message size,
//!   priorities against 32768; a failed check is [`Fault::Corrupt`].

// Not yet used by the queue (wiring it in is the next step of issue 29);
// its tests exercise it.
#![allow(dead_code)]

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use super::layout3::*;
use super::lock::{Acquired, LockError};

/// The longest one futex sleep of a waiter (see the module comment).
pub(super) const SLICE: Duration = Duration::from_millis(200);
/// Looks at the positions before a waiter registers and sleeps.
const WAIT_SPINS: u32 = 500;

/// Why a call did not move a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fault {
    Full,
    Empty,
    /// A lock was still held at the deadline.
    TimedOut,
    /// This thread cannot take a robust lock (see `lock::LockError`).
    NoRobustList,
    /// A value read from the file failed its check: what, and the value.
    Corrupt(String),
}

impl From<LockError> for Fault {
    fn from(e: LockError) -> Fault {
        match e {
            LockError::TimedOut => Fault::TimedOut,
            LockError::NoRobustList => Fault::NoRobustList,
        }
    }
}

fn corrupt(what: &str, value: u64) -> Fault {
    Fault::Corrupt(format!("{what} ({value}) is out of range"))
}

/// A named point inside a critical section: a kill point in the
/// fault-injection build, and a hook for this module's tests.
macro_rules! at {
    ($name:literal) => {
        $crate::backend::shm::kp!($name);
        #[cfg(test)]
        $crate::backend::shm::ring::tests::hit($name);
    };
}

/// A received message's facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Taken {
    pub len: usize,
    pub prio: u32,
    pub seq: u64,
}

/// What a wait ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Waited {
    /// Look again (something moved, a slice ended, or the handle closes).
    Again,
    /// The deadline passed.
    Elapsed,
}

/// A view of a layout-3 queue in a mapping.
pub(super) struct Ring<'a> {
    head: &'a Head3,
    openers: &'a [Opener],
    ring: &'a [AtomicU32],
    slots: *mut u8,
    g: Geometry,
    _mapping: PhantomData<&'a [u8]>,
}

// SAFETY: every access to the mapping goes through atomics or raw copies
// of message bytes, which other processes may race with by design.
unsafe impl Send for Ring<'_> {}
// SAFETY: as above.
unsafe impl Sync for Ring<'_> {}

impl<'a> Ring<'a> {
    /// A view of the queue at `base` (a mapping of `len` bytes).
    ///
    /// # Safety
    /// `base` is page aligned and `len` bytes from it stay mapped read-write
    /// for `'a`.
    pub unsafe fn new(base: *mut u8, len: usize, g: Geometry) -> Option<Ring<'a>> {
        if len < g.file_size || base as usize % 4096 != 0 {
            return None;
        }
        // SAFETY: the caller's mapping holds the whole geometry (checked
        // above); all-bytes-valid atomics, aligned by the layout.
        unsafe {
            Some(Ring {
                head: &*base.cast::<Head3>(),
                openers: std::slice::from_raw_parts(
                    base.add(g.openers).cast::<Opener>(),
                    OPENERS as usize,
                ),
                ring: std::slice::from_raw_parts(
                    base.add(g.ring).cast::<AtomicU32>(),
                    g.capacity as usize,
                ),
                slots: base.add(g.slots),
                g,
                _mapping: PhantomData,
            })
        }
    }

    /// Lays out a new (zero-filled, not yet visible) queue file; the magic
    /// is stored last.
    pub fn init(&self) {
        let h = self.head;
        let g = self.g;
        let id = &h.ident.0;
        id.version.store(VERSION, Ordering::Relaxed);
        id.endian.store(ENDIAN, Ordering::Relaxed);
        id.head_size.store(HEAD_SIZE as u32, Ordering::Relaxed);
        id.slot_header.store(SLOT_HEADER as u32, Ordering::Relaxed);
        id.lock_size.store(64, Ordering::Relaxed);
        id.pointer_width.store(usize::BITS, Ordering::Relaxed);
        id.capacity.store(u64::from(g.capacity), Ordering::Relaxed);
        id.msgsize.store(u64::from(g.msgsize), Ordering::Relaxed);
        id.stride.store(g.stride as u64, Ordering::Relaxed);
        id.openers.store(OPENERS, Ordering::Relaxed);
        id.priorities.store(PRIORITIES, Ordering::Relaxed);
        id.file_size.store(g.file_size as u64, Ordering::Relaxed);
        for (i, cell) in self.ring.iter().enumerate() {
            cell.store(i as u32, Ordering::Relaxed);
            // Seq u64::MAX: no position's.
            self.header(i as u32).seq.store(u64::MAX, Ordering::Relaxed);
        }
        let cap = u64::from(g.capacity);
        h.producers.0.free_seen.store(cap, Ordering::Relaxed);
        h.consumers.0.f.store(cap, Ordering::Relaxed);
        id.magic.store(MAGIC, Ordering::Release);
    }

    fn header(&self, s: u32) -> &SlotHeader {
        debug_assert!(s < self.g.capacity);
        // SAFETY: s < capacity (every caller checks): inside the slots.
        unsafe {
            &*self
                .slots
                .add(s as usize * self.g.stride)
                .cast::<SlotHeader>()
        }
    }

    fn data(&self, s: u32) -> *mut u8 {
        // SAFETY: as `header`; the data follows the slot header, msgsize
        // bytes within the stride.
        unsafe { self.slots.add(s as usize * self.g.stride + SLOT_HEADER) }
    }

    /// The slot a ring cell names, checked.
    fn cell(&self, pos: u64) -> Result<u32, Fault> {
        let s = self.ring[(pos % u64::from(self.g.capacity)) as usize].load(Ordering::Relaxed);
        if s < self.g.capacity {
            Ok(s)
        } else {
            Err(corrupt("a ring cell's slot number", u64::from(s)))
        }
    }

    /// Whether position `pos` is published: its slot READY with seq = pos.
    fn published(&self, pos: u64) -> Result<Option<u32>, Fault> {
        let s = self.cell(pos)?;
        let sl = self.header(s);
        let ok = sl.state.load(Ordering::Acquire) == READY && sl.seq.load(Ordering::Relaxed) == pos;
        Ok(ok.then_some(s))
    }

    /// Messages sent, messages received, messages in the queue (each read
    /// without a lock: exact only when nothing moves).
    pub fn counters(&self) -> (u64, u64, u64) {
        let p = self.head.producers.0.p.load(Ordering::Acquire);
        let f = self.head.consumers.0.f.load(Ordering::Acquire);
        let received = f.wrapping_sub(u64::from(self.g.capacity));
        (p, received, p.wrapping_sub(received))
    }

    /// Repairs done by the producers' and consumers' sides.
    pub fn recoveries(&self) -> (u64, u64) {
        (
            self.head.producers.0.recoveries.load(Ordering::Relaxed),
            self.head.consumers.0.recoveries.load(Ordering::Relaxed),
        )
    }

    /// The receipt of opener `i`: seq, len, prio, first bytes.
    pub fn receipt(&self, i: u32) -> Option<(u64, u32, u32, [u8; RECEIPT_HEAD_LEN])> {
        let o = self.openers.get(i as usize)?;
        let seq = o.receipt_seq.load(Ordering::Relaxed);
        let mut head = [0u8; RECEIPT_HEAD_LEN];
        for (k, w) in o.receipt_head.iter().enumerate() {
            head[4 * k..4 * k + 4].copy_from_slice(&w.load(Ordering::Relaxed).to_ne_bytes());
        }
        Some((
            seq,
            o.receipt_len.load(Ordering::Relaxed),
            o.receipt_prio.load(Ordering::Relaxed),
            head,
        ))
    }

    // ---------------------------------------------------------------- send

    /// Sends one message if there is room (the lock waited for until `end`).
    /// Full while the consumers' lock is left by a dead owner: repairs it
    /// (the slot that owner took comes back) and tries once more.
    #[inline]
    pub fn try_send(
        &self,
        msg: &[u8],
        prio: u32,
        end: Option<&libc::timespec>,
    ) -> Result<u64, Fault> {
        match self.send_once(msg, prio, end) {
            Err(Fault::Full) if owner_died(self.head.clock.word()) => {
                self.repair_side(false, end)?;
                self.send_once(msg, prio, end)
            }
            r => r,
        }
    }

    fn send_once(&self, msg: &[u8], prio: u32, end: Option<&libc::timespec>) -> Result<u64, Fault> {
        if msg.len() > self.g.msgsize as usize || prio >= PRIORITIES {
            return Err(Fault::Corrupt(
                "message too long or priority too high".into(),
            ));
        }
        let h = self.head;
        let (guard, how) = h.plock.lock(end)?;
        if how == Acquired::OwnerDied {
            self.repair_p()?;
        }
        at!("send3.locked");
        let ps = &h.producers.0;
        let p = ps.p.load(Ordering::Relaxed);
        if p == ps.free_seen.load(Ordering::Relaxed) {
            let f = h.consumers.0.f.load(Ordering::Acquire);
            if f < p || f - p > u64::from(self.g.capacity) {
                return Err(corrupt("the consumers' free end F", f));
            }
            ps.free_seen.store(f, Ordering::Relaxed);
            if f == p {
                drop(guard);
                return Err(Fault::Full);
            }
        }
        let s = self.cell(p)?;
        let sl = self.header(s);
        sl.seq.store(p, Ordering::Relaxed);
        sl.len.store(msg.len() as u32, Ordering::Relaxed);
        sl.prio.store(prio, Ordering::Relaxed);
        at!("send3.header");
        // SAFETY: msg.len() <= msgsize: inside slot s's data.
        unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), self.data(s), msg.len()) };
        at!("send3.data");
        sl.state.store(READY, Ordering::Release); // COMMIT
        at!("send3.committed");
        ps.p.store(p + 1, Ordering::Release);
        at!("send3.published");
        drop(guard);
        self.wake(&h.receivers.0);
        Ok(p)
    }

    // ------------------------------------------------------------- receive

    /// Receives the top message into `buf` (at least the message size
    /// long) and leaves its receipt in opener record `opener`. Empty while
    /// the producers' lock is left by a dead owner: repairs it (a send it
    /// committed becomes visible) and tries once more.
    #[inline]
    pub fn try_receive(
        &self,
        buf: &mut [u8],
        opener: u32,
        end: Option<&libc::timespec>,
    ) -> Result<Taken, Fault> {
        match self.receive_once(buf, opener, end) {
            Err(Fault::Empty) if owner_died(self.head.plock.word()) => {
                self.repair_side(true, end)?;
                self.receive_once(buf, opener, end)
            }
            r => r,
        }
    }

    fn receive_once(
        &self,
        buf: &mut [u8],
        opener: u32,
        end: Option<&libc::timespec>,
    ) -> Result<Taken, Fault> {
        let o = self
            .openers
            .get(opener as usize)
            .ok_or_else(|| corrupt("opener record", u64::from(opener)))?;
        let h = self.head;
        let (guard, how) = h.clock.lock(end)?;
        if how == Acquired::OwnerDied {
            self.repair_c()?;
        }
        at!("receive3.locked");
        let cs = &h.consumers.0;
        let cap = u64::from(self.g.capacity);
        let hh = cs.h.load(Ordering::Relaxed);
        let f = cs.f.load(Ordering::Relaxed);
        let n = cs.indexed.load(Ordering::Relaxed);
        let p = h.producers.0.p.load(Ordering::Acquire);
        if hh > p || p > f || f - hh > cap || n > cap {
            return Err(corrupt("the ring positions (H, P, F)", p));
        }
        let s;
        if n == 0 && p == hh {
            drop(guard);
            return Err(Fault::Empty);
        } else if n == 0 && p - hh == 1 {
            // Exactly one message: no index.
            s = self
                .published(hh)?
                .ok_or_else(|| corrupt("an unpublished position", hh))?;
            cs.h.store(hh + 1, Ordering::Relaxed);
        } else {
            for pos in hh..p {
                let t = self
                    .published(pos)?
                    .ok_or_else(|| corrupt("an unpublished position", pos))?;
                let prio = self.header(t).prio.load(Ordering::Relaxed);
                self.link(t, prio)?;
            }
            cs.indexed.store(n + (p - hh), Ordering::Relaxed);
            cs.h.store(p, Ordering::Relaxed);
            at!("receive3.drained");
            s = self.pop()?;
            cs.indexed.store(n + (p - hh) - 1, Ordering::Relaxed);
        }
        let sl = self.header(s);
        let len = sl.len.load(Ordering::Relaxed);
        let prio = sl.prio.load(Ordering::Relaxed);
        let seq = sl.seq.load(Ordering::Relaxed);
        if len > self.g.msgsize || len as usize > buf.len() {
            return Err(corrupt("a message length", u64::from(len)));
        }
        // SAFETY: len <= msgsize: inside slot s's data; buf holds len bytes.
        unsafe { std::ptr::copy_nonoverlapping(self.data(s), buf.as_mut_ptr(), len as usize) };
        // The receipt (before the commit, so a receiver killed after it
        // names the message it took).
        o.receipt_seq.store(seq, Ordering::Relaxed);
        o.receipt_len.store(len, Ordering::Relaxed);
        o.receipt_prio.store(prio, Ordering::Relaxed);
        let mut head = [0u8; RECEIPT_HEAD_LEN];
        let k = (len as usize).min(RECEIPT_HEAD_LEN);
        head[..k].copy_from_slice(&buf[..k]);
        for (i, w) in o.receipt_head.iter().enumerate() {
            w.store(
                u32::from_ne_bytes(head[4 * i..4 * i + 4].try_into().unwrap()),
                Ordering::Relaxed,
            );
        }
        o.receipt_pid.store(0, Ordering::Relaxed);
        at!("receive3.receipt");
        sl.state.store(FREE, Ordering::Release); // COMMIT
        at!("receive3.committed");
        self.ring[(f % cap) as usize].store(s, Ordering::Relaxed);
        cs.f.store(f + 1, Ordering::Release);
        at!("receive3.freed");
        drop(guard);
        self.wake(&h.senders.0);
        Ok(Taken {
            len: len as usize,
            prio,
            seq,
        })
    }

    // ---------------------------------------------------------------- waits

    /// After a commit and unlock: wake the registered waiters, if any.
    /// The registrations are taken before the word is bumped (a waiter
    /// reads the word before it registers, so every waiter whose
    /// registration this takes sees the bump).
    #[inline(always)]
    fn wake(&self, w: &Waits) {
        #[cfg(not(target_arch = "x86_64"))]
        std::sync::atomic::fence(Ordering::SeqCst);
        // On x86-64 the unlock's locked exchange already ordered the
        // commit's stores before this load.
        if w.waiters.load(Ordering::SeqCst) != 0 {
            self.wake_slow(w);
        }
    }

    #[cold]
    #[inline(never)]
    fn wake_slow(&self, w: &Waits) {
        if w.waiters.swap(0, Ordering::SeqCst) != 0 {
            at!("wake3.taken");
            w.word.fetch_add(1, Ordering::SeqCst);
            futex_wake(&w.word);
        }
    }

    fn wake_all(&self) {
        for w in [&self.head.receivers.0, &self.head.senders.0] {
            w.waiters.store(0, Ordering::SeqCst);
            w.word.fetch_add(1, Ordering::SeqCst);
            futex_wake(&w.word);
        }
    }

    /// Wakes every waiter (a handle closing).
    pub fn wake_everyone(&self) {
        self.wake_all();
    }

    /// Whether a receive (`readable`) or a send may find something now
    /// (read without a lock: a hint). A side whose lock a dead owner left
    /// counts as ready: the call repairs it.
    fn ready(&self, readable: bool) -> bool {
        let h = self.head;
        let p = h.producers.0.p.load(Ordering::Acquire);
        if readable {
            h.consumers.0.indexed.load(Ordering::Relaxed) > 0
                || h.consumers.0.h.load(Ordering::Relaxed) < p
                || owner_died(h.plock.word())
        } else {
            p < h.consumers.0.f.load(Ordering::Acquire) || owner_died(h.clock.word())
        }
    }

    /// Waits until a receive (`readable`) or a send may succeed, the
    /// deadline (absolute CLOCK_MONOTONIC) passes, or `closing` is set (by
    /// a closer that then calls [`Ring::wake_everyone`]).
    pub fn wait(
        &self,
        readable: bool,
        end: Option<&libc::timespec>,
        closing: &AtomicBool,
    ) -> Waited {
        for _ in 0..WAIT_SPINS {
            if self.ready(readable) || closing.load(Ordering::Relaxed) {
                return Waited::Again;
            }
            std::hint::spin_loop();
        }
        let w = if readable {
            &self.head.receivers.0
        } else {
            &self.head.senders.0
        };
        // The word first, then the registration (see `wake`).
        let v = w.word.load(Ordering::SeqCst);
        w.waiters.fetch_add(1, Ordering::SeqCst);
        if self.ready(readable) || closing.load(Ordering::SeqCst) {
            return Waited::Again;
        }
        let slice = super::sync::deadline_after(SLICE);
        let (ts, last) = match end {
            Some(d) if (d.tv_sec, d.tv_nsec) <= (slice.tv_sec, slice.tv_nsec) => (d, true),
            _ => (&slice, false),
        };
        match super::sync::futex_wait(&w.word, v, Some(ts)) {
            crate::backend::Wake::Elapsed if last => Waited::Elapsed,
            _ => Waited::Again,
        }
    }
}

/// Whether a lock word says its owner died and nobody took it since.
fn owner_died(word: &AtomicU32) -> bool {
    let v = word.load(Ordering::Relaxed);
    v & libc::FUTEX_OWNER_DIED != 0 && v & libc::FUTEX_TID_MASK == 0
}

fn futex_wake(word: &AtomicU32) {
    super::sync::futex_wake(word, i32::MAX);
}

#[path = "ring_index.rs"]
mod index;
#[path = "ring_repair.rs"]
mod repair;
#[cfg(test)]
#[path = "ring_tests.rs"]
mod tests;
