//! The consumers' priority index of the layout-3 store (under the
//! consumers' lock): a 3-level bitmap of non-empty priorities (the top one
//! in three leading-zero counts) and per-priority FIFO lists of slots.

use std::sync::atomic::Ordering;

use super::{corrupt, Fault, Ring};
use crate::backend::shm::layout::*;

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

    /// The oldest message of the highest priority: its priority and slot
    /// (checked: READY, its link in range), or None when the index is
    /// empty.
    fn top(&self) -> Result<Option<(u32, u32)>, Fault> {
        let ix = &self.head.index.0;
        let l0 = ix.l0.load(Ordering::Relaxed);
        if l0 == 0 {
            return Ok(None);
        }
        if l0 >> BITMAP_L1_WORDS != 0 {
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
        let state = self.header(s).state.load(Ordering::Acquire);
        if state != READY {
            return Err(corrupt("a listed slot's state", u64::from(state)));
        }
        Ok(Some((p, s)))
    }

    /// The slot of the oldest message of the highest priority, if any.
    pub(super) fn peek(&self) -> Result<Option<u32>, Fault> {
        Ok(self.top()?.map(|(_, s)| s))
    }

    /// Unlinks the oldest message of the highest priority.
    pub(super) fn pop(&self) -> Result<u32, Fault> {
        let ix = &self.head.index.0;
        let Some((p, s)) = self.top()? else {
            return Err(corrupt("the index's top bitmap word", 0));
        };
        let nx = self.header(s).next.load(Ordering::Relaxed);
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

impl Ring<'_> {
    /// The invariants (both locks held by the caller): see
    /// `Mapping::check_invariants`.
    pub(in crate::backend::shm) fn check(&self) -> Result<(), String> {
        let h = self.head;
        let cap = self.g.capacity as usize;
        let hh = h.consumers.0.h.load(Ordering::Relaxed);
        let f = h.consumers.0.f.load(Ordering::Relaxed);
        let p = h.producers.0.p.load(Ordering::Relaxed);
        let indexed = h.consumers.0.indexed.load(Ordering::Relaxed);
        if !(hh <= p && p <= f && f - hh <= cap as u64) {
            return Err(format!("positions H {hh} P {p} F {f} out of order"));
        }
        let mut seen = vec![false; cap];
        for pos in hh..f {
            let s = self.cell(pos).map_err(|e| format!("{e:?}"))?;
            if std::mem::replace(&mut seen[s as usize], true) {
                return Err(format!("slot {s} is named twice in the ring"));
            }
            let sl = self.header(s);
            let state = sl.state.load(Ordering::Relaxed);
            if pos < p && (state != READY || sl.seq.load(Ordering::Relaxed) != pos) {
                return Err(format!("position {pos} (slot {s}) is not published"));
            }
            if pos >= p && state != FREE {
                return Err(format!("position {pos} (slot {s}) is not free"));
            }
        }
        let ix = &h.index.0;
        let mut listed = 0u64;
        for prio in 0..PRIORITIES as usize {
            let mut at = ix.heads[prio].load(Ordering::Relaxed);
            let mut last = 0;
            let mut last_seq = None;
            while at != 0 {
                if at > self.g.capacity {
                    return Err(format!("list {prio} links to {at}"));
                }
                let s = at - 1;
                if std::mem::replace(&mut seen[s as usize], true) {
                    return Err(format!("slot {s} is listed twice (cycle?)"));
                }
                let sl = self.header(s);
                if sl.state.load(Ordering::Relaxed) != READY
                    || sl.prio.load(Ordering::Relaxed) != prio as u32
                {
                    return Err(format!("slot {s} in list {prio} is not READY at {prio}"));
                }
                let seq = sl.seq.load(Ordering::Relaxed);
                if last_seq.is_some_and(|l| l >= seq) {
                    return Err(format!("list {prio} is out of seq order at slot {s}"));
                }
                last_seq = Some(seq);
                last = at;
                listed += 1;
                at = sl.next.load(Ordering::Relaxed);
            }
            if ix.tails[prio].load(Ordering::Relaxed) != last {
                return Err(format!("the tail of list {prio} is not its last slot"));
            }
            let bit = ix.l2[prio / 64].load(Ordering::Relaxed) >> (prio % 64) & 1 == 1;
            if bit != (last != 0) {
                return Err(format!("the bitmap disagrees with list {prio}"));
            }
        }
        if listed != indexed {
            return Err(format!(
                "{listed} listed but {indexed} counted in the index"
            ));
        }
        let mut leased = 0u64;
        for (s, seen) in seen.iter_mut().enumerate() {
            let sl = self.header(s as u32);
            if *seen || sl.state.load(Ordering::Relaxed) != LEASED {
                continue;
            }
            if sl.owner.load(Ordering::Relaxed) >> 32 >= u64::from(OPENERS) {
                return Err(format!("leased slot {s} names no opener record"));
            }
            *seen = true;
            leased += 1;
        }
        let counted = h.consumers.0.leased.load(Ordering::Relaxed);
        if leased != counted {
            return Err(format!("{leased} slots leased but {counted} counted"));
        }
        if let Some(s) = seen.iter().position(|&x| !x) {
            return Err(format!(
                "slot {s} is neither in the ring nor listed nor leased"
            ));
        }
        let (sent, received, count) = self.counters();
        if sent != received + count || count != (p - hh) + indexed + leased {
            return Err(format!(
                "sent {sent}, received {received}, {count} queued, {} published + {indexed} \
                 indexed + {leased} leased",
                p - hh
            ));
        }
        Ok(())
    }
}
