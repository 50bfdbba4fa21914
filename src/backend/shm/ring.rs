//! The layout-3 store: split producer / consumer locks over a ring of slot
//! indices (see `layout` for the file and the ring's positions).
//!
//! - **Send** (under the producers' lock P): take the free slot named at
//!   `ring[P & mask]`, fill it (seq = P), COMMIT with one release store
//!   `state = READY`, then advance P. The ring cell is not written: the
//!   cell that named a free slot now names a published one.
//! - **Receive** (under the consumers' lock C): read P (the receive's
//!   linearisation point), move every position in `[H, P)` into the
//!   consumers' priority index, pop the top, write the receipt, COMMIT
//!   with `state = FREE`, hand the slot back at `ring[F & mask]`, advance F.
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

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
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
    _mapping: PhantomData<&'a [u8]>,
}

// SAFETY: every access to the mapping goes through atomics or raw copies
// of message bytes, which other processes may race with by design.
unsafe impl Send for Ring<'_> {}
// SAFETY: as above.
unsafe impl Sync for Ring<'_> {}

/// The lock policy of a call that waits without limit (the tests').
#[cfg(test)]
fn forever<'w>() -> Policy<'w> {
    static NEVER: AtomicBool = AtomicBool::new(false);
    Policy::Until(None, &NEVER)
}

impl<'a> Ring<'a> {
    /// A view of the queue at `base` (a mapping of `len` bytes).
    ///
    /// # Safety
    /// `base` is page aligned and `len` bytes from it stay mapped read-write
    /// for `'a`.
    pub unsafe fn new(base: *mut u8, len: usize, g: Shape) -> Option<Ring<'a>> {
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

    /// The ring cell of position `pos`.
    #[inline(always)]
    fn at(&self, pos: u64) -> usize {
        // ring_len is a power of two (layout::Shape): a mask, no division.
        (pos as usize) & (self.ring.len() - 1)
    }

    /// The slot a ring cell names, checked.
    fn cell(&self, pos: u64) -> Result<u32, Fault> {
        let s = self.ring[self.at(pos)].load(Ordering::Relaxed);
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
    /// is written under it besides sends (the notification registration).
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
    /// that need the consumers' side still (receipts, the invariants).
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
        let (guard, how) = h.plock.lock_with(wait)?;
        if how == Acquired::OwnerDied {
            self.repair_p()?;
        }
        at!("send.locked");
        let ps = &h.producers.0;
        let cap = u64::from(self.g.capacity);
        let mut p = ps.p.load(Ordering::Relaxed);
        // The registration (a rarely written line): fire it when this send
        // finds the queue empty.
        let fire = h.notify.0.owner.load(Ordering::Relaxed) != 0
            && h.consumers.0.f.load(Ordering::Acquire) == p + cap;
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
            // The rise hint (see `Producers::rise`), before the commit.
            let last = ps.last_prio.load(Ordering::Relaxed);
            if prio != last {
                if prio > last {
                    ps.rise.store(p, Ordering::Relaxed);
                }
                ps.last_prio.store(prio, Ordering::Relaxed);
            }
            sl.seq.store(p, Ordering::Relaxed);
            sl.len.store(msg.len() as u32, Ordering::Relaxed);
            sl.prio.store(prio, Ordering::Relaxed);
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

    // ------------------------------------------------------------- receive

    /// Receives the top message into `buf` (at least the message size
    /// long) and leaves its receipt in opener record `opener`.
    #[cfg(test)]
    pub fn try_receive(
        &self,
        buf: &mut [u8],
        opener: u32,
        end: Option<&libc::timespec>,
    ) -> Result<Taken, Fault> {
        let mut out = None;
        let end = end.copied();
        self.receive_with(
            buf,
            1,
            opener,
            || match end {
                Some(e) => Policy::Until(Some(e), forever_flag()),
                None => forever(),
            },
            |_, t| out = Some(t),
        )?;
        out.ok_or(Fault::Empty)
    }

    /// Receives up to `n` (at least 1) messages in queue order, packed into
    /// `buf` while the next fits, under one consumers' lock taken as `wait`
    /// allows; `got(offset, taken)` is told each. NoRoom when not even the
    /// first fits. Empty while the producers' lock is left by a dead owner:
    /// repairs it (a send it committed becomes visible) and tries once
    /// more.
    #[inline(always)]
    pub fn receive_with<'w>(
        &self,
        buf: &mut [u8],
        n: usize,
        opener: u32,
        wait: impl Fn() -> Policy<'w>,
        mut got: impl FnMut(usize, Taken),
    ) -> Result<usize, Fault> {
        match self.receive_once(buf, n, opener, &wait, &mut got) {
            Err(Fault::Empty) if owner_died(self.head.plock.word()) => {
                self.repair_side(true, &wait)?;
                self.receive_once(buf, n, opener, &wait, &mut got)
            }
            r => r,
        }
    }

    #[inline(always)]
    fn receive_once<'w>(
        &self,
        buf: &mut [u8],
        n: usize,
        opener: u32,
        wait: &impl Fn() -> Policy<'w>,
        got: &mut impl FnMut(usize, Taken),
    ) -> Result<usize, Fault> {
        let o = self
            .openers
            .get(opener as usize)
            .ok_or_else(|| corrupt("opener record", u64::from(opener)))?;
        let h = self.head;
        let (guard, how) = h.clock.lock_with(wait)?;
        if how == Acquired::OwnerDied {
            self.repair_c()?;
        }
        at!("receive.locked");
        let cs = &h.consumers.0;
        if cs.broken.load(Ordering::Relaxed) != 0 {
            return Err(unrecoverable());
        }
        let cap = u64::from(self.g.capacity);
        let mut hh = cs.h.load(Ordering::Relaxed);
        let mut f = cs.f.load(Ordering::Relaxed);
        let mut indexed = cs.indexed.load(Ordering::Relaxed);
        let p = h.producers.0.p.load(Ordering::Acquire);
        // Read after P: at least as new as the sends P counts.
        let rise = h.producers.0.rise.load(Ordering::Relaxed);
        if hh > p || p > f || f - hh > cap || indexed > cap {
            return Err(corrupt("the ring positions (H, P, F)", p));
        }
        if indexed == 0 && p == hh {
            drop(guard);
            return Err(Fault::Empty);
        }
        let mut at = 0;
        let mut done = 0;
        while done < n {
            let s;
            if indexed == 0 && rise <= hh {
                // Nothing indexed, and the priorities of [H, P) do not
                // increase: the message at H is the highest and oldest (a
                // FIFO stream, or exactly one message): no index.
                s = self
                    .published(hh)?
                    .ok_or_else(|| corrupt("an unpublished position", hh))?;
                if !self.fits(s, buf.len() - at)? {
                    break;
                }
                hh += 1;
                cs.h.store(hh, Ordering::Relaxed);
            } else {
                if hh < p {
                    self.drain(hh, p, indexed)?;
                    indexed += p - hh;
                    hh = p;
                }
                if indexed == 0 {
                    break;
                }
                let Some(top) = self.peek()? else {
                    return Err(corrupt("the index's count of messages", indexed));
                };
                if !self.fits(top, buf.len() - at)? {
                    break;
                }
                s = self.pop()?;
                indexed -= 1;
                cs.indexed.store(indexed, Ordering::Relaxed);
            }
            // Chosen (and no longer published or listed), not yet taken.
            at!("receive.drained");
            let t = self.take(s, &mut buf[at..], o)?;
            at!("receive.committed");
            self.ring[self.at(f)].store(s, Ordering::Relaxed);
            f += 1;
            cs.f.store(f, Ordering::Release);
            at!("receive.freed");
            got(at, t);
            at += t.len;
            done += 1;
            if indexed == 0 && hh == p {
                break;
            }
        }
        drop(guard);
        if done == 0 {
            return Err(Fault::NoRoom);
        }
        self.wake(&h.senders.0);
        Ok(done)
    }

    /// Whether slot `s`'s message fits in `room` bytes (its length checked
    /// against the message size).
    #[inline(always)]
    fn fits(&self, s: u32, room: usize) -> Result<bool, Fault> {
        let len = self.header(s).len.load(Ordering::Relaxed);
        if len > self.g.msgsize {
            return Err(corrupt("a message length", u64::from(len)));
        }
        Ok(len as usize <= room)
    }

    /// Moves the published positions `[hh, p)` into the index.
    fn drain(&self, hh: u64, p: u64, indexed: u64) -> Result<(), Fault> {
        // A bitmap that names words past its levels is refused before
        // anything is linked (nothing is written into a damaged index).
        let l0 = self.head.index.0.l0.load(Ordering::Relaxed);
        if l0 >> BITMAP_L1_WORDS != 0 {
            return Err(corrupt("the index's top bitmap word", l0));
        }
        for pos in hh..p {
            let t = self
                .published(pos)?
                .ok_or_else(|| corrupt("an unpublished position", pos))?;
            let prio = self.header(t).prio.load(Ordering::Relaxed);
            self.link(t, prio)?;
        }
        let cs = &self.head.consumers.0;
        cs.indexed.store(indexed + (p - hh), Ordering::Relaxed);
        cs.h.store(p, Ordering::Relaxed);
        Ok(())
    }

    /// Copies slot `s`'s message (checked to fit) into `buf`, writes the
    /// receipt, and commits the take (`state = FREE`).
    #[inline(always)]
    fn take(&self, s: u32, buf: &mut [u8], o: &Opener) -> Result<Taken, Fault> {
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
        at!("receive.receipt");
        o.receipt_seq.store(seq, Ordering::Relaxed);
        o.receipt_len.store(len, Ordering::Relaxed);
        o.receipt_prio.store(prio, Ordering::Relaxed);
        // The first 16 bytes of the slot's data area (every data area
        // holds at least 32: the stride is a multiple of 64, the header
        // 32), the bytes past the message zeroed: two loads and a mask, no
        // call to memcpy for a length known only now.
        // SAFETY: 16 bytes inside slot s's data area (see above); a read of
        // plain bytes, any alignment.
        let raw =
            unsafe { std::ptr::read_unaligned(self.data(s).cast::<[u8; RECEIPT_HEAD_LEN]>()) };
        let keep = match len as usize {
            n if n >= RECEIPT_HEAD_LEN => u128::MAX,
            n => (1u128 << (8 * n)) - 1,
        };
        let head = (u128::from_le_bytes(raw) & keep).to_le_bytes();
        for (i, w) in o.receipt_head.iter().enumerate() {
            let b = [
                head[4 * i],
                head[4 * i + 1],
                head[4 * i + 2],
                head[4 * i + 3],
            ];
            w.store(u32::from_ne_bytes(b), Ordering::Relaxed);
        }
        o.receipt_pid.store(0, Ordering::Relaxed);
        at!("receive.written");
        sl.state.store(FREE, Ordering::Release); // COMMIT
        Ok(Taken {
            len: len as usize,
            prio,
            seq,
        })
    }

    // ---------------------------------------------------------------- waits

    /// After a commit and unlock: wake the registered waiters, if any (and
    /// the readiness helpers, which wait for any move).
    /// The registrations are taken before the word is bumped (a waiter
    /// reads the word before it registers, so every waiter whose
    /// registration this takes sees the bump).
    #[inline(always)]
    fn wake(&self, w: &Waits) {
        #[cfg(not(target_arch = "x86_64"))]
        std::sync::atomic::fence(Ordering::SeqCst);
        // On x86-64 the unlock's locked exchange already ordered the
        // commit's stores before these loads.
        if w.waiters.load(Ordering::SeqCst) != 0 {
            wake_slow(w);
        }
        let c = &self.head.changed.0;
        if c.waiters.load(Ordering::SeqCst) != 0 {
            wake_slow(c);
        }
    }

    fn wake_all(&self) {
        let h = self.head;
        for w in [&h.receivers.0, &h.senders.0, &h.changed.0] {
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
    /// (read without a lock: a hint): the positions only, so a spinning
    /// waiter reads no line the other side writes per call besides the
    /// position it waits for (the lock words are written twice a call:
    /// reading them in a spin would make every lock and unlock of the
    /// other side miss its cache line).
    #[inline(always)]
    fn moved(&self, readable: bool) -> bool {
        let h = self.head;
        let p = h.producers.0.p.load(Ordering::Acquire);
        if readable {
            // H before the index count: a drain stores the count, then H,
            // so a look that straddles a drain still sees the messages (the
            // other order could see neither: ring_model.rs).
            h.consumers.0.h.load(Ordering::Acquire) < p
                || h.consumers.0.indexed.load(Ordering::Acquire) > 0
        } else {
            p < h.consumers.0.f.load(Ordering::Acquire)
        }
    }

    /// [`Ring::moved`], or the other side's lock left by a dead owner
    /// (the call repairs it: a dead sender's committed message, a dead
    /// receiver's slot).
    pub fn ready(&self, readable: bool) -> bool {
        let h = self.head;
        self.moved(readable)
            || owner_died(if readable {
                h.plock.word()
            } else {
                h.clock.word()
            })
    }

    /// Waits until a receive (`readable`) or a send may succeed, the
    /// deadline (absolute CLOCK_MONOTONIC) passes, or `closing` is set (by
    /// a closer that then calls [`Ring::wake_everyone`]). `spin`: look a
    /// few microseconds before registering (a running peer moves a message
    /// sooner than a futex sleep and wake-up take).
    pub fn wait(
        &self,
        readable: bool,
        end: Option<&libc::timespec>,
        closing: &AtomicBool,
        spin: bool,
    ) -> Waited {
        if spin {
            for _ in 0..WAIT_SPINS {
                if self.moved(readable) || closing.load(Ordering::Relaxed) {
                    return Waited::Again;
                }
                std::hint::spin_loop();
            }
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
            crate::backend::Wake::Interrupted => Waited::Interrupted,
            _ => Waited::Again,
        }
    }

    /// Registers a readiness helper on the `changed` line and returns the
    /// word to sleep on with its value (read before the registration).
    pub fn watch_changes(&self) -> (&AtomicU32, u32) {
        let c = &self.head.changed.0;
        let v = c.word.load(Ordering::SeqCst);
        c.waiters.fetch_add(1, Ordering::SeqCst);
        (&c.word, v)
    }
}

#[cold]
#[inline(never)]
fn wake_slow(w: &Waits) {
    if w.waiters.swap(0, Ordering::SeqCst) != 0 {
        at!("wake.taken");
        w.word.fetch_add(1, Ordering::SeqCst);
        futex_wake(&w.word);
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

#[cfg(test)]
fn forever_flag() -> &'static AtomicBool {
    static NEVER: AtomicBool = AtomicBool::new(false);
    &NEVER
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
#[cfg(test)]
#[path = "ring_model.rs"]
mod model;
#[path = "ring_repair.rs"]
mod repair;
#[cfg(test)]
#[path = "ring_tests.rs"]
mod tests;
