//! The receive side of the layout-3 store (under the consumers' lock):
//! choose the top message (directly at H, or through the priority index),
//! copy it, write the receipt, commit, hand the slot back at F.

use std::sync::atomic::Ordering;

use super::lease::LeaseSpec;
use super::{corrupt, owner_died, unrecoverable, Fault, Ring, Taken};
#[cfg(test)]
use super::{forever, forever_flag};
use crate::backend::shm::layout::*;
use crate::backend::shm::lock::Policy;

impl Ring<'_> {
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
        match self.receive_once(buf, n, opener, None, &wait, &mut got) {
            Err(Fault::Empty) if owner_died(self.head.plock.word()) => {
                self.repair_side(true, &wait)?;
                self.receive_once(buf, n, opener, None, &wait, &mut got)
            }
            r => r,
        }
    }

    /// [`Ring::receive_with`] under a lease (`lease`): each message chosen
    /// stays in its slot, LEASED to the lease's owner, out of the ring and
    /// the index (see `ring_lease`).
    #[inline(always)]
    pub fn lease_with<'w>(
        &self,
        buf: &mut [u8],
        n: usize,
        opener: u32,
        lease: LeaseSpec,
        wait: impl Fn() -> Policy<'w>,
        mut got: impl FnMut(usize, Taken),
    ) -> Result<usize, Fault> {
        match self.receive_once(buf, n, opener, Some(lease), &wait, &mut got) {
            Err(Fault::Empty) if owner_died(self.head.plock.word()) => {
                self.repair_side(true, &wait)?;
                self.receive_once(buf, n, opener, Some(lease), &wait, &mut got)
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
        lease: Option<LeaseSpec>,
        wait: &impl Fn() -> Policy<'w>,
        got: &mut impl FnMut(usize, Taken),
    ) -> Result<usize, Fault> {
        let o = self
            .openers
            .get(opener as usize)
            .ok_or_else(|| corrupt("opener record", u64::from(opener)))?;
        let h = self.head;
        let guard = self.lock_consumers(wait)?;
        at!("receive.locked");
        let cs = &h.consumers.0;
        if cs.broken.load(Ordering::Relaxed) != 0 {
            return Err(unrecoverable());
        }
        if cs.leased.load(Ordering::Relaxed) != 0 {
            // Leases are out: give back those whose time is up (one load
            // on a line already read when none is).
            self.sweep_due()?;
        }
        let cap = u64::from(self.g.capacity);
        let mut hh = cs.h.load(Ordering::Relaxed);
        let mut f = cs.f.load(Ordering::Relaxed);
        let mut indexed = cs.indexed.load(Ordering::Relaxed);
        // P as last read, while the message at H can be taken without a
        // look past it: nothing indexed, H below it, no rise after H (a
        // send that completed before this call and rose above H's priority
        // stored its rise before its commit, so it is seen here).
        let mut p = cs.p_seen.load(Ordering::Relaxed);
        let mut rise = 0;
        let mut fresh = indexed != 0 || p <= hh;
        if !fresh {
            rise = h.notify.0.rise.load(Ordering::Acquire);
            fresh = rise > hh;
        }
        if fresh {
            (p, rise) = self.read_p();
        }
        if hh > p || p > f || f - hh > cap || indexed > cap {
            return Err(corrupt("the ring positions (H, P, F)", p));
        }
        if fresh {
            // Kept only once checked (a P scribbled for a moment does not
            // stay in the cache).
            cs.p_seen.store(p, Ordering::Relaxed);
        }
        if indexed == 0 && p == hh {
            drop(guard);
            return Err(Fault::Empty);
        }
        let mut at = 0;
        let mut done = 0;
        while done < n {
            let s;
            if indexed == 0 && hh == p {
                // A batch that took everything up to P as last read: look
                // again (P only grows).
                (p, rise) = self.read_p();
                if p < hh || p > f {
                    return Err(corrupt("the producers' position P", p));
                }
                cs.p_seen.store(p, Ordering::Relaxed);
                if p == hh {
                    break;
                }
            }
            if indexed == 0 && rise <= hh {
                // Nothing indexed, and the priorities of [H, P) do not
                // increase: the message at H is the highest and oldest (a
                // FIFO stream, or exactly one message): no index.
                s = match self.published(hh)? {
                    Some(s) => s,
                    None => {
                        // Not published: a damaged p_seen (it is only a
                        // hint) must not stop the queue; P says.
                        self.p_behind_hint(hh, f)?;
                        if done == 0 {
                            return Err(Fault::Empty);
                        }
                        break;
                    }
                };
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
            let t = match lease {
                None => {
                    let t = self.take(s, &mut buf[at..], o)?;
                    at!("receive.committed");
                    self.ring[self.at(f)].store(s, Ordering::Relaxed);
                    f += 1;
                    cs.f.store(f, Ordering::Release);
                    at!("receive.freed");
                    t
                }
                Some(l) => self.take_leased(s, &mut buf[at..], o, l)?,
            };
            got(at, t);
            at += t.len;
            done += 1;
        }
        drop(guard);
        if done == 0 {
            return Err(Fault::NoRoom);
        }
        if lease.is_none() {
            self.wake(&h.senders.0);
        } else {
            // A lease makes no room: no sender is woken for it.
            self.wake_changed();
        }
        Ok(done)
    }

    /// The position H was found unpublished although below `p_seen`: Ok
    /// (P kept as `p_seen`) if P shows the hint was wrong (H is at P);
    /// Corrupt if H is below P (a published position's slot is not
    /// READY with its seq).
    #[cold]
    #[inline(never)]
    fn p_behind_hint(&self, hh: u64, f: u64) -> Result<(), Fault> {
        let (p, _) = self.read_p();
        if p != hh || p > f {
            return Err(corrupt("an unpublished position", hh));
        }
        self.head.consumers.0.p_seen.store(p, Ordering::Relaxed);
        Ok(())
    }

    /// P now (under the consumers' lock; the caller checks it and keeps
    /// it as `p_seen`), and the rise hint read after it (at least as new
    /// as the sends P counts).
    #[inline(always)]
    fn read_p(&self) -> (u64, u64) {
        let h = self.head;
        let p = h.producers.0.p.load(Ordering::Acquire);
        (p, h.notify.0.rise.load(Ordering::Acquire))
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
        let t = self.copy_out(s, buf, o)?;
        self.header(s).state.store(FREE, Ordering::Release); // COMMIT
        Ok(t)
    }

    /// Copies slot `s`'s message (checked to fit) into `buf` and writes
    /// the receipt; commits nothing.
    #[inline(always)]
    pub(super) fn copy_out(&self, s: u32, buf: &mut [u8], o: &Opener) -> Result<Taken, Fault> {
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
        Ok(Taken {
            len: len as usize,
            prio,
            seq,
            slot: s,
            delivery: 0,
        })
    }
}
