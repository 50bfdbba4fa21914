//! Repairs of the layout-3 store after a lock's owner died (see `ring`'s
//! module comment for what each side's repair concludes and why).

use std::sync::atomic::Ordering;

use super::{corrupt, Fault, Ring};
use crate::backend::shm::layout::*;
use crate::backend::shm::lock::{Acquired, Policy};

impl Ring<'_> {
    /// P's owner died: a committed send whose P store was lost is counted.
    #[cold]
    #[inline(never)]
    pub(super) fn repair_p(&self) -> Result<(), Fault> {
        at!("repair.p");
        let ps = &self.head.producers.0;
        let mut p = ps.p.load(Ordering::Relaxed);
        let f = self.head.consumers.0.f.load(Ordering::Acquire);
        // Committed sends whose P store was lost (one per message of a
        // batch the owner died in).
        while p < f && self.published(p)?.is_some() {
            p += 1;
            ps.p.store(p, Ordering::Release);
        }
        // The priority before P is unknown now (the dead owner may have
        // stored its own): the next send records a rise unless it is 0 (a
        // rise the hint misses would let a receive take a lower priority
        // first; one it records needlessly costs only the index).
        ps.last_prio.store(0, Ordering::Relaxed);
        // Read F afresh at the next send.
        ps.free_seen
            .store(ps.p.load(Ordering::Relaxed), Ordering::Relaxed);
        ps.recoveries.fetch_add(1, Ordering::Relaxed);
        self.wake_all();
        Ok(())
    }

    /// Takes and releases the producers' (`producers`) or consumers' lock,
    /// repairing it if its owner died.
    #[cold]
    #[inline(never)]
    pub(super) fn repair_side<'w>(
        &self,
        producers: bool,
        wait: &impl Fn() -> Policy<'w>,
    ) -> Result<(), Fault> {
        let lock = if producers {
            &self.head.plock
        } else {
            &self.head.clock
        };
        let (g, how) = lock.lock_with(wait)?;
        if how == Acquired::OwnerDied {
            if producers {
                self.repair_p()?;
            } else {
                self.repair_c()?;
            }
        }
        drop(g);
        Ok(())
    }

    /// C's owner died: rebuild the consumers' side from the slot states
    /// (live holders keep their leases; dead ones' come back by seq).
    #[cold]
    #[inline(never)]
    pub(super) fn repair_c(&self) -> Result<(), Fault> {
        at!("repair.c");
        let h = self.head;
        let cs = &h.consumers.0;
        let cap = self.g.capacity;
        let p = h.producers.0.p.load(Ordering::Acquire);
        let hh = cs.h.load(Ordering::Relaxed);
        let mut f = cs.f.load(Ordering::Relaxed);
        if hh > p || p > f || f - hh > u64::from(cap) {
            return Err(corrupt("the ring positions (H, P, F)", f));
        }
        let mut producers = vec![false; cap as usize];
        for pos in hh..f {
            let s = self.cell(pos)?;
            if std::mem::replace(&mut producers[s as usize], true) {
                return Err(corrupt("a slot named twice in the ring", u64::from(s)));
            }
        }
        let mut ready = Vec::new();
        let mut free = Vec::new();
        let mut kept = 0u64;
        for s in 0..cap {
            if producers[s as usize] {
                continue;
            }
            let sl = self.header(s);
            let state = sl.state.load(Ordering::Acquire);
            let prio = sl.prio.load(Ordering::Relaxed);
            let sound = prio < PRIORITIES && sl.len.load(Ordering::Relaxed) <= self.g.msgsize;
            if state == LEASED && sound && self.holder_alive(sl.owner.load(Ordering::Relaxed)) {
                // A live holder's lease stays out (its ack or nack comes).
                kept += 1;
                continue;
            }
            if matches!(state, READY | LEASED) && sound {
                ready.push((sl.seq.load(Ordering::Relaxed), s, prio, state == LEASED));
            } else {
                free.push(s);
            }
        }
        if super::super::bus::damaged_at(self.slots as usize) {
            // What was read came from zero pages, not the file: rebuilding
            // from it would lose the messages silently.
            cs.broken.store(1, Ordering::Relaxed);
            return Err(super::unrecoverable());
        }
        if f - hh + free.len() as u64 > u64::from(cap) {
            return Err(corrupt("the ring's free end after repair", f));
        }
        for s in free {
            self.header(s).state.store(FREE, Ordering::Release);
            at!("repair.freeing");
            self.ring[self.at(f)].store(s, Ordering::Relaxed);
            f += 1;
            cs.f.store(f, Ordering::Release);
        }
        let ix = &h.index.0;
        for w in ix.heads.iter().chain(ix.tails.iter()) {
            w.store(0, Ordering::Relaxed);
        }
        ix.l0.store(0, Ordering::Relaxed);
        for w in ix.l1.iter().chain(ix.l2.iter()) {
            w.store(0, Ordering::Relaxed);
        }
        ready.sort_unstable();
        at!("repair.relinking");
        for &(_, s, prio, leased) in &ready {
            if leased {
                // Its holder is dead: back at its place, deliveries kept.
                self.header(s)
                    .owner
                    .store(RETURNED | RETURN_DEAD, Ordering::Relaxed);
            }
            self.header(s).state.store(READY, Ordering::Release);
            self.link(s, prio)?;
        }
        // A receipt naming a message still here: its receiver died before
        // its take committed.
        for o in self.openers {
            let seq = o.receipt_seq.load(Ordering::Relaxed);
            if seq != 0 && ready.binary_search_by_key(&seq, |r| r.0).is_ok() {
                o.receipt_untaken.store(seq, Ordering::Relaxed);
            }
        }
        cs.indexed.store(ready.len() as u64, Ordering::Relaxed);
        cs.leased.store(kept, Ordering::Relaxed);
        // P is read afresh by the next receive.
        cs.p_seen.store(hh, Ordering::Relaxed);
        // The next consumers' lock holder looks at the kept leases' times.
        cs.next_sweep.store(0, Ordering::Relaxed);
        cs.recoveries.fetch_add(1, Ordering::Relaxed);
        self.wake_all();
        Ok(())
    }
}
