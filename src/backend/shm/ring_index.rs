//! The consumers' priority index of the layout-3 store (under the
//! consumers' lock): a 3-level bitmap of non-empty priorities (the top one
//! in three leading-zero counts) and per-priority FIFO lists of slots.

use std::sync::atomic::Ordering;

use super::{corrupt, Fault, Ring};
use crate::backend::shm::layout3::*;

impl Ring<'_> {
    pub(super) fn set_bit(&self, p: u32, on: bool) {
        let ix = &self.head.index.0;
        let w = p as usize / 64;
        let (l2, l1) = (&ix.l2[w], &ix.l1[w / 64]);
        if on {
            l2.store(
                l2.load(Ordering::Relaxed) | 1 << (p % 64),
                Ordering::Relaxed,
            );
            l1.store(
                l1.load(Ordering::Relaxed) | 1 << (w % 64),
                Ordering::Relaxed,
            );
            ix.l0.store(
                ix.l0.load(Ordering::Relaxed) | 1 << (w / 64),
                Ordering::Relaxed,
            );
            return;
        }
        let v2 = l2.load(Ordering::Relaxed) & !(1 << (p % 64));
        l2.store(v2, Ordering::Relaxed);
        if v2 == 0 {
            let v1 = l1.load(Ordering::Relaxed) & !(1 << (w % 64));
            l1.store(v1, Ordering::Relaxed);
            if v1 == 0 {
                ix.l0.store(
                    ix.l0.load(Ordering::Relaxed) & !(1 << (w / 64)),
                    Ordering::Relaxed,
                );
            }
        }
    }

    /// Appends slot `s` to priority `p`'s list.
    pub(super) fn link(&self, s: u32, p: u32) -> Result<(), Fault> {
        if p >= PRIORITIES {
            return Err(corrupt("a message priority", u64::from(p)));
        }
        let ix = &self.head.index.0;
        self.header(s).next.store(0, Ordering::Relaxed);
        let t = ix.tails[p as usize].load(Ordering::Relaxed);
        if t == 0 {
            ix.heads[p as usize].store(s + 1, Ordering::Relaxed);
            self.set_bit(p, true);
        } else if t <= self.g.capacity {
            self.header(t - 1).next.store(s + 1, Ordering::Relaxed);
        } else {
            return Err(corrupt("a list tail", u64::from(t)));
        }
        ix.tails[p as usize].store(s + 1, Ordering::Relaxed);
        Ok(())
    }

    /// Unlinks the oldest message of the highest priority.
    pub(super) fn pop(&self) -> Result<u32, Fault> {
        let ix = &self.head.index.0;
        let l0 = ix.l0.load(Ordering::Relaxed);
        if l0 == 0 || l0 >> BITMAP_L1_WORDS != 0 {
            return Err(corrupt("the index's top bitmap word", l0));
        }
        let i = 63 - l0.leading_zeros() as usize;
        let l1 = ix.l1[i].load(Ordering::Relaxed);
        if l1 == 0 {
            return Err(corrupt("an index bitmap word", l1));
        }
        let w = i * 64 + 63 - l1.leading_zeros() as usize;
        let l2 = ix.l2[w].load(Ordering::Relaxed);
        if l2 == 0 {
            return Err(corrupt("an index bitmap word", l2));
        }
        let p = (w * 64 + 63 - l2.leading_zeros() as usize) as u32;
        let hd = ix.heads[p as usize].load(Ordering::Relaxed);
        if hd == 0 || hd > self.g.capacity {
            return Err(corrupt("a list head", u64::from(hd)));
        }
        let s = hd - 1;
        let sl = self.header(s);
        if sl.state.load(Ordering::Acquire) != READY {
            return Err(corrupt(
                "a listed slot's state",
                u64::from(sl.state.load(Ordering::Relaxed)),
            ));
        }
        let nx = sl.next.load(Ordering::Relaxed);
        if nx > self.g.capacity {
            return Err(corrupt("a list link", u64::from(nx)));
        }
        ix.heads[p as usize].store(nx, Ordering::Relaxed);
        if nx == 0 {
            ix.tails[p as usize].store(0, Ordering::Relaxed);
            self.set_bit(p, false);
        }
        Ok(s)
    }
}
