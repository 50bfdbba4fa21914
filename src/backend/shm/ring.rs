//! The layout-3 store: split producer / consumer locks over a ring of slot
//! indices (see `layout` for the file and the ring's positions).
//!
//! - **Send** (under the producers' lock P): take the free slot named at
//!   `ring[P & mask]`, fill it (seq = P), COMMIT with one release store
//!   `state = READY`, then advance P. The ring cell is not written: the
//!   cell that named a free slot now names a published one.
//! - **Receive** (under the consumers' lock C): read P, move every
//!   position in `[H, P)` into the consumers' priority index, pop the top,
//!   write the receipt, COMMIT with `state = FREE`, hand the slot back at
//!   `ring[F & mask]`, advance F. The direct path: with the index empty,
//!   no rise after H (`Notify::rise`: a send whose priority is above the
//!   one before stores its position there before its commit) and H below
//!   the P read last (`Consumers::p_seen`), take the message at H without
//!   reading the producers' line, which every send writes.
//! - **Priority order** between concurrent calls: a receive returns the
//!   highest-priority, oldest message among those whose send happens-before
//!   it (on the direct path too: such a send's rise is seen, and sends P
//!   to be read afresh); a send that completes while the receive runs is
//!   not seen by it even if its priority is higher (POSIX promises nothing
//!   stronger across concurrent calls). FIFO within a priority holds
//!   across all producers: the P lock orders them, and positions are
//!   drained in order.
//! - **Counters are derived**, no pending record: committed = P, received
//!   = F - cap, in the queue = P - F + cap.
//! - **Repair.** P (owner died): a READY slot at P with seq == P is a
//!   committed send whose P store was lost: P + 1. C (owner died): slots
//!   named in `[H, F)` belong to producers (one may be filling a slot right
//!   now) and are left alone; every other slot is the consumers': READY
//!   (and LEASED whose holder is dead) back into the index by seq, LEASED
//!   of a live holder left leased, anything else handed back at F. Both
//!   are idempotent: a repairer killed too leaves OWNER_DIED again.
//! - **Leases** (`ring_lease`): a leased slot is out of the ring and the
//!   index until an ack frees it at F or a nack, an expiry or its holder's
//!   end links it back by seq.
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

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::layout::*;
use super::lock::{Acquired, LockError, Policy};

/// The longest one futex sleep of a waiter (see the module comment).
pub(super) const SLICE: Duration = Duration::from_millis(200);
/// Looks at the positions before a waiter registers and sleeps (each a
/// `pause`: some tens of microseconds in all on current x86-64, far less
/// than a futex sleep and wake-up, and long enough to catch a peer that
/// is running but was descheduled for a moment: `make bench`'s depth-10
/// stream went from 1-1.7 M msg/s at 500 to 3.2-4.2 M at 2,000).
const WAIT_SPINS: u32 = 2000;
/// A sender's spin looks at F at most once per this many `pause`s (a
/// receiver's looks at P after each), and no less often than once per
/// slot of the run it waits for (a queue of 10 waits for one slot, and
/// looks after each pause): while the queue is full the consumers' line
/// is the receivers' to write, and a sender that read it after every
/// pause took it away from them between their writes (a lease + ack
/// writes it twice per message: `make bench`'s lease + ack stream went
/// from 0.47x to about 0.65x a plain receive's).
const SEND_SPIN_STRIDE: u32 = 64;
/// A spinning sender waits for this share of the capacity (at most
/// [`SEND_ROOM_MAX`] slots) to be free, not one slot, then sends that run
/// reading F once (`Producers::free_seen`). The spin's end bounds the
/// wait; the registered sleep after it wakes for one slot.
const SEND_ROOM_SHARE: u64 = 8;
const SEND_ROOM_MAX: u64 = 256;

/// Why a call did not move a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fault {
    Full,
    Empty,
    /// The next message does not fit in what is left of the buffer.
    NoRoom,
    /// A lock could not be taken (see `lock::LockError`).
    Lock(LockError),
    /// A value read from the file failed its check: what, and the value.
    Corrupt(String),
}

impl From<LockError> for Fault {
    fn from(e: LockError) -> Fault {
        Fault::Lock(e)
    }
}

#[cold]
#[inline(never)]
pub(super) fn corrupt(what: &str, value: u64) -> Fault {
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
    /// The slot it lay in (a lease's).
    pub slot: u32,
    /// Its delivery count after this take (0 for a plain receive).
    pub delivery: u32,
}

/// What a wait ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Waited {
    /// Look again (something moved, a slice ended, or the handle closes).
    Again,
    /// The deadline passed.
    Elapsed,
    /// A signal handler ran.
    Interrupted,
}

/// A view of a queue in a mapping.
pub(super) struct Ring<'a> {
    head: &'a Head,
    openers: &'a [Opener],
    ring: &'a [AtomicU32],
    slots: *mut u8,
    pub(super) g: Shape,
    /// The file's descriptor (-1: none), for probes of openers' liveness.
    fd: i32,
    /// The opener record of the handle this view belongs to (u32::MAX:
    /// none yet): alive, whatever its own lock probe says.
    me: AtomicU32,
    _mapping: PhantomData<&'a [u8]>,
}

// SAFETY: every access to the mapping goes through atomics or raw copies
// of message bytes, which other processes may race with by design.
unsafe impl Send for Ring<'_> {}
// SAFETY: as above.
unsafe impl Sync for Ring<'_> {}

/// The lock policy of a call that waits without limit (the tests').
#[cfg(test)]
pub(super) fn forever<'w>() -> Policy<'w> {
    static NEVER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    Policy::Until(None, &NEVER)
}

impl<'a> Ring<'a> {
    /// A view of the queue at `base` (a mapping of `len` bytes).
    ///
    /// # Safety
    /// `base` is page aligned and `len` bytes from it stay mapped read-write
    /// for `'a`. `fd` is the file's descriptor (-1: none; a lease holder's
    /// liveness is then judged by its record's generation only).
    pub unsafe fn new(base: *mut u8, len: usize, g: Shape, fd: i32) -> Option<Ring<'a>> {
        if len < g.file_size || base as usize % 4096 != 0 {
            return None;
        }
        // SAFETY: the caller's mapping holds the whole shape (checked
        // above); all-bytes-valid atomics, aligned by the layout.
        unsafe {
            Some(Ring {
                head: &*base.cast::<Head>(),
                openers: std::slice::from_raw_parts(
                    base.add(g.openers).cast::<Opener>(),
                    OPENERS as usize,
                ),
                ring: std::slice::from_raw_parts(base.add(g.ring).cast::<AtomicU32>(), g.ring_len),
                slots: base.add(g.slots),
                g,
                fd,
                me: AtomicU32::new(u32::MAX),
                _mapping: PhantomData,
            })
        }
    }

    /// The file's header.
    #[inline(always)]
    pub fn head(&self) -> &'a Head {
        self.head
    }

    /// Opener record `i`.
    #[inline(always)]
    pub fn opener(&self, i: u32) -> Option<&'a Opener> {
        self.openers.get(i as usize)
    }

    /// Lays out a new (zero-filled, not yet visible) queue file; the magic
    /// is stored last.
    pub fn init(&self) {
        let h = self.head;
        let g = self.g;
        let id = &h.ident.0;
        id.version.store(VERSION, Ordering::Relaxed);
        for (off, v, _) in abi_fields() {
            // SAFETY: abi_fields names u32 fields of Ident (offsets
            // asserted in `layout`), inside the header.
            let w = unsafe { &*(h as *const Head).cast::<u8>().add(off).cast::<AtomicU32>() };
            w.store(v, Ordering::Relaxed);
        }
        id.capacity.store(u64::from(g.capacity), Ordering::Relaxed);
        id.msgsize.store(u64::from(g.msgsize), Ordering::Relaxed);
        id.stride.store(g.stride as u64, Ordering::Relaxed);
        id.openers.store(OPENERS, Ordering::Relaxed);
        id.priorities.store(PRIORITIES, Ordering::Relaxed);
        id.file_size.store(g.file_size as u64, Ordering::Relaxed);
        // The free run [FIRST, FIRST + capacity) names every slot once.
        for i in 0..g.capacity {
            self.ring[self.at(FIRST + u64::from(i))].store(i, Ordering::Relaxed);
            // Seq u64::MAX: no position's.
            self.header(i).seq.store(u64::MAX, Ordering::Relaxed);
        }
        let cap = u64::from(g.capacity);
        h.producers.0.p.store(FIRST, Ordering::Relaxed);
        h.producers
            .0
            .free_seen
            .store(FIRST + cap, Ordering::Relaxed);
        h.consumers.0.h.store(FIRST, Ordering::Relaxed);
        h.consumers.0.f.store(FIRST + cap, Ordering::Relaxed);
        h.consumers.0.p_seen.store(FIRST, Ordering::Relaxed);
        id.instance.store(random_instance(), Ordering::Relaxed);
        id.magic.store(MAGIC, Ordering::Release);
    }

    #[inline(always)]
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

    #[inline(always)]
    fn data(&self, s: u32) -> *mut u8 {
        // SAFETY: as `header`; the data follows the slot header, msgsize
        // bytes within the stride.
        unsafe { self.slots.add(s as usize * self.g.stride + SLOT_HEADER) }
    }

    /// The ring cell of position `pos`.
    #[inline(always)]
    fn at(&self, pos: u64) -> usize {
        // ring_len is a power of two (layout::Shape): a mask, no division.
        (pos as usize) & (self.ring.len() - 1)
    }

    /// The slot a ring cell names, checked.
    #[inline(always)]
    fn cell(&self, pos: u64) -> Result<u32, Fault> {
        let s = self.ring[self.at(pos)].load(Ordering::Relaxed);
        if s < self.g.capacity {
            Ok(s)
        } else {
            Err(corrupt("a ring cell's slot number", u64::from(s)))
        }
    }

    /// Whether position `pos` is published: its slot READY with seq = pos.
    #[inline(always)]
    fn published(&self, pos: u64) -> Result<Option<u32>, Fault> {
        let s = self.cell(pos)?;
        let sl = self.header(s);
        let ok = sl.state.load(Ordering::Acquire) == READY && sl.seq.load(Ordering::Relaxed) == pos;
        Ok(ok.then_some(s))
    }

    /// Messages sent, messages received, messages in the queue (each read
    /// without a lock: exact only when nothing moves).
    pub fn counters(&self) -> (u64, u64, u64) {
        let f = self.head.consumers.0.f.load(Ordering::Acquire);
        let p = self.head.producers.0.p.load(Ordering::Acquire);
        let sent = p.wrapping_sub(FIRST);
        let received = f.wrapping_sub(u64::from(self.g.capacity) + FIRST);
        (sent, received, sent.saturating_sub(received))
    }

    /// Messages in the queue now (a hint, read without a lock).
    #[inline]
    pub fn count(&self) -> u64 {
        self.counters().2
    }

    /// Messages a receive could take now: those in the queue but not
    /// leased (a hint, read without a lock).
    pub fn visible(&self) -> u64 {
        // The lease count first: an ack moves one from it to F, so a look
        // that straddles an ack counts one less, never one more.
        let leased = self.head.consumers.0.leased.load(Ordering::Acquire);
        self.count().saturating_sub(leased)
    }

    /// Whether a send at position `p` (under the producers' lock) finds
    /// no message a receive could take: leased ones do not count.
    #[cold]
    fn nothing_visible(&self, p: u64) -> bool {
        let cs = &self.head.consumers.0;
        let leased = cs.leased.load(Ordering::Acquire);
        let f = cs.f.load(Ordering::Acquire);
        // Messages in the queue: p + cap - f; a look that straddles an ack
        // sees one less (see `visible`).
        (p + u64::from(self.g.capacity)).saturating_sub(f) <= leased
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

    /// Takes the producers' lock (repaired if its owner died), for what
    /// is written under it (sends, the notification registration).
    #[inline(always)]
    pub fn lock_producers<'w>(
        &self,
        wait: impl Fn() -> Policy<'w>,
    ) -> Result<super::lock::Held<'_>, Fault> {
        let (g, how) = self.head.plock.lock_with(wait)?;
        if how == Acquired::OwnerDied {
            self.repair_p()?;
        }
        Ok(g)
    }

    /// Takes the consumers' lock (repaired if its owner died), for reads
    /// that need the consumers' side still (receives, receipts, the
    /// invariants).
    #[inline(always)]
    pub fn lock_consumers<'w>(
        &self,
        wait: impl Fn() -> Policy<'w>,
    ) -> Result<super::lock::Held<'_>, Fault> {
        let (g, how) = self.head.clock.lock_with(wait)?;
        if how == Acquired::OwnerDied {
            self.repair_c()?;
        }
        Ok(g)
    }

    /// The seq of the oldest indexed message of priority `prio` (under the
    /// consumers' lock), if any.
    pub fn head_seq(&self, prio: u32) -> Option<u64> {
        let hd = self
            .head
            .index
            .0
            .heads
            .get(prio as usize)?
            .load(Ordering::Relaxed);
        if hd == 0 || hd > self.g.capacity {
            return None;
        }
        let sl = self.header(hd - 1);
        (sl.state.load(Ordering::Acquire) == READY).then(|| sl.seq.load(Ordering::Relaxed))
    }

    // ---------------------------------------------------------------- send

    /// Sends one message if there is room (see [`Ring::send_with`]).
    #[cfg(test)]
    pub fn try_send(
        &self,
        msg: &[u8],
        prio: u32,
        end: Option<&libc::timespec>,
    ) -> Result<u64, Fault> {
        let mut seq = 0;
        let end = end.copied();
        self.send_with(
            1,
            |_| (msg, prio),
            || match end {
                Some(e) => Policy::Until(Some(e), forever_flag()),
                None => forever(),
            },
            |s| seq = s,
        )?;
        Ok(seq)
    }

    /// Sends up to `n` (at least 1) messages, `get(i)` the i-th, in order,
    /// under one producers' lock taken as `wait` allows, as many as there
    /// is room for; `sent(seq)` is told each one's seq. Full (nothing sent)
    /// while the consumers' lock is left by a dead owner: repairs it (the
    /// slot that owner took comes back) and tries once more.
    #[inline(always)]
    pub fn send_with<'m, 'w>(
        &self,
        n: usize,
        get: impl Fn(usize) -> (&'m [u8], u32),
        wait: impl Fn() -> Policy<'w>,
        mut sent: impl FnMut(u64),
    ) -> Result<usize, Fault> {
        match self.send_once(n, &get, &wait, &mut sent) {
            Err(Fault::Full) if owner_died(self.head.clock.word()) => {
                self.repair_side(false, &wait)?;
                self.send_once(n, &get, &wait, &mut sent)
            }
            r => r,
        }
    }

    #[inline(always)]
    fn send_once<'m, 'w>(
        &self,
        n: usize,
        get: &impl Fn(usize) -> (&'m [u8], u32),
        wait: &impl Fn() -> Policy<'w>,
        sent: &mut impl FnMut(u64),
    ) -> Result<usize, Fault> {
        let h = self.head;
        let guard = self.lock_producers(wait)?;
        at!("send.locked");
        let ps = &h.producers.0;
        let cap = u64::from(self.g.capacity);
        let mut p = ps.p.load(Ordering::Relaxed);
        // The registration (a rarely written line): fire it when this send
        // finds the queue empty.
        let fire = h.notify.0.owner.load(Ordering::Relaxed) != 0 && self.nothing_visible(p);
        let mut done = 0;
        while done < n {
            if p == ps.free_seen.load(Ordering::Relaxed) {
                let f = h.consumers.0.f.load(Ordering::Acquire);
                if f < p || f - p > cap {
                    return Err(corrupt("the consumers' free end F", f));
                }
                ps.free_seen.store(f, Ordering::Relaxed);
                if f == p {
                    break;
                }
            }
            let (msg, prio) = get(done);
            if msg.len() > self.g.msgsize as usize || prio >= PRIORITIES {
                return Err(too_big(msg.len(), prio));
            }
            let s = self.cell(p)?;
            let sl = self.header(s);
            // The rise hint (see `Notify::rise`), before the commit.
            let last = ps.last_prio.load(Ordering::Relaxed);
            if prio != last {
                if prio > last {
                    h.notify.0.rise.store(p, Ordering::Release);
                }
                ps.last_prio.store(prio, Ordering::Relaxed);
            }
            sl.seq.store(p, Ordering::Relaxed);
            sl.len.store(msg.len() as u32, Ordering::Relaxed);
            sl.prio.store(prio, Ordering::Relaxed);
            sl.deliveries.store(0, Ordering::Relaxed);
            at!("send.header");
            // SAFETY: msg.len() <= msgsize: inside slot s's data.
            unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), self.data(s), msg.len()) };
            at!("send.data");
            sl.state.store(READY, Ordering::Release); // COMMIT
            at!("send.committed");
            ps.p.store(p + 1, Ordering::Release);
            at!("send.published");
            sent(p);
            p += 1;
            done += 1;
        }
        if done == 0 {
            drop(guard);
            return Err(Fault::Full);
        }
        if fire {
            self.fire();
        }
        drop(guard);
        self.wake(&h.receivers.0);
        Ok(done)
    }

    /// The queue went from empty to non-empty (under the producers' lock):
    /// the registration (if any) fires, one-shot; its owner's watcher
    /// delivers it.
    #[cold]
    #[inline(never)]
    fn fire(&self) {
        let n = &self.head.notify.0;
        let owner = n.owner.load(Ordering::Relaxed);
        let Some(o) = owner.checked_sub(1).and_then(|i| self.opener(i)) else {
            return;
        };
        o.fired
            .store(n.id.load(Ordering::Relaxed), Ordering::SeqCst);
        n.owner.store(0, Ordering::Relaxed);
        n.word.fetch_add(1, Ordering::SeqCst);
        futex_wake(&n.word);
    }
}

/// A repair met pages the file no longer had (see `Consumers::broken`).
#[cold]
#[inline(never)]
pub(super) fn unrecoverable() -> Fault {
    Fault::Corrupt(
        "the queue is unrecoverable: a repair after a receiver died found pages of the file \
         missing, so the messages they held are lost; unlink the queue and create it again"
            .into(),
    )
}

#[cold]
#[inline(never)]
fn too_big(len: usize, prio: u32) -> Fault {
    Fault::Corrupt(format!(
        "a message of {len} bytes at priority {prio} passed the caller's checks but not the \
         queue's"
    ))
}

/// A random, non-zero queue identity (`Ident::instance`).
fn random_instance() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most b.len() bytes into b.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    let mut v = u64::from_ne_bytes(b);
    if n != b.len() as isize {
        // No entropy source: the time and pid still tell queues apart.
        let t = crate::backend::sys::deadline_after(Duration::ZERO);
        v = (t.tv_sec as u64) << 32 ^ t.tv_nsec as u64 ^ u64::from(std::process::id()) << 40;
    }
    v.max(1)
}

#[cfg(test)]
pub(super) fn forever_flag() -> &'static std::sync::atomic::AtomicBool {
    static NEVER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    &NEVER
}

/// Whether a lock word says its owner died and nobody took it since.
fn owner_died(word: &AtomicU32) -> bool {
    let v = word.load(Ordering::Relaxed);
    v & libc::FUTEX_OWNER_DIED != 0 && v & libc::FUTEX_TID_MASK == 0
}

fn futex_wake(word: &AtomicU32) {
    super::futex::futex_wake(word, i32::MAX);
}

#[path = "ring_index.rs"]
mod index;
#[path = "ring_lease.rs"]
pub(super) mod lease;
#[cfg(test)]
#[path = "ring_model.rs"]
mod model;
#[path = "ring_receive.rs"]
mod receive;
#[path = "ring_repair.rs"]
mod repair;
#[cfg(test)]
#[path = "ring_tests.rs"]
mod tests;
#[path = "ring_wait.rs"]
mod wait;
