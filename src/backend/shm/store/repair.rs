//! Rebuilding the structure from the slot states when the lock's owner
//! died inside it, and the invariant check of the robustness tests.

use std::sync::atomic::Ordering;

use super::super::kp;
use super::super::layout::*;
use super::super::map::Mapping;
use super::Wakes;

impl Mapping {
    /// Rebuilds the free stack, the lists, the bitmap and the count from
    /// the slot states (the lock's previous owner died inside it).
    /// Idempotent: a repairer that dies too leaves the next one the same job.
    /// Stops before it writes anything it concluded when a page of the
    /// mapping faulted (see `bus`): what it read is not the file's. The
    /// lock (`sync::lock`) then leaves the lock unrecoverable.
    pub(in crate::backend::shm) fn repair(&self) {
        let m = self;
        let sh = self.shape;
        // First the counters: a commit the dead owner made but did not count.
        kp!("repair.counters");
        let kind = m.u32(OFF_PENDING_KIND).load(Ordering::Acquire);
        let slot = m.u32(OFF_PENDING_SLOT).load(Ordering::Relaxed);
        let kind = Pending::of(kind).filter(|k| *k != Pending::None);
        if let (Some(kind), true) = (kind, u64::from(slot) < sh.max_messages) {
            let state = m.u32(sh.slot(slot) + SLOT_STATE).load(Ordering::Acquire);
            let ready = state == SlotState::Ready as u32;
            let value = m.u64(OFF_PENDING_VALUE).load(Ordering::Relaxed);
            match kind {
                Pending::Send if ready => m.u64(OFF_COMMITTED).store(value, Ordering::Relaxed),
                Pending::Receive if !ready => m.u64(OFF_RECEIVED).store(value, Ordering::Relaxed),
                _ => {}
            }
        }
        m.pending_done();
        kp!("repair.slots");
        let mut ready: Vec<(u64, u32, u32)> = Vec::new();
        let mut free_head = 0u32;
        for s in (0..sh.max_messages as u32).rev() {
            let base = sh.slot(s);
            let state = m.u32(base + SLOT_STATE).load(Ordering::Acquire);
            let prio = m.u32(base + SLOT_PRIO).load(Ordering::Relaxed);
            let len = m.u32(base + SLOT_LEN).load(Ordering::Relaxed);
            if state == SlotState::Ready as u32
                && prio < PRIORITIES
                && u64::from(len) <= sh.max_message_size
            {
                ready.push((m.u64(base + SLOT_SEQ).load(Ordering::Relaxed), s, prio));
            } else {
                // Not committed (or not valid): free.
                m.u32(base + SLOT_STATE)
                    .store(SlotState::Free as u32, Ordering::Release);
                m.u32(base + SLOT_NEXT).store(free_head, Ordering::Relaxed);
                free_head = s + 1;
            }
        }
        if self.damaged() {
            return;
        }
        kp!("repair.lists");
        for p in 0..PRIORITIES as usize {
            m.u32(OFF_HEADS + 4 * p).store(0, Ordering::Relaxed);
            m.u32(OFF_TAILS + 4 * p).store(0, Ordering::Relaxed);
        }
        m.u64(OFF_BITMAP_L0).store(0, Ordering::Relaxed);
        for i in 0..8 {
            m.u64(OFF_BITMAP_L1 + 8 * i).store(0, Ordering::Relaxed);
        }
        for i in 0..(PRIORITIES as usize / 64) {
            m.u64(OFF_BITMAP_L2 + 8 * i).store(0, Ordering::Relaxed);
        }
        kp!("repair.linked");
        ready.sort_unstable();
        // A receipt naming a message still committed here was written by a
        // receiver that died before its take committed (only the lock's
        // dead owner can have been between the two): mark it untaken, so
        // `dead_receipts` can tell it from one whose take committed even
        // after another receiver has taken the message since.
        for i in 0..OPENERS {
            let rec = sh.opener(i);
            let seq = m.u64(rec + OPENER_RECEIPT_SEQ).load(Ordering::Relaxed);
            if seq != 0 && ready.binary_search_by_key(&seq, |r| r.0).is_ok() {
                m.u64(rec + OPENER_RECEIPT_UNTAKEN)
                    .store(seq, Ordering::Relaxed);
            }
        }
        let mut max_seq = 0;
        for &(seq, s, p) in &ready {
            self.slot(s).u32(SLOT_NEXT).store(0, Ordering::Relaxed);
            let _ = self.link(s, p);
            max_seq = max_seq.max(seq);
        }
        m.u32(OFF_FREE_HEAD).store(free_head, Ordering::Relaxed);
        m.u64(OFF_COUNT)
            .store(ready.len() as u64, Ordering::Relaxed);
        let next = m.u64(OFF_NEXT_SEQ);
        if next.load(Ordering::Relaxed) <= max_seq {
            next.store(max_seq.wrapping_add(1), Ordering::Relaxed);
        }
        kp!("repair.done");
        m.u64(OFF_RECOVERIES).fetch_add(1, Ordering::Relaxed);
        // Whoever waited is woken to look again.
        for w in [OFF_SENT_WORD, OFF_RECV_WORD, OFF_CHANGE_WORD] {
            m.u32(w).fetch_add(1, Ordering::SeqCst);
        }
        for w in [OFF_RECV_WAITERS, OFF_SEND_WAITERS, OFF_CHANGE_WAITERS] {
            m.u32(w).store(0, Ordering::SeqCst);
        }
        self.wake(Wakes {
            sent: true,
            received: true,
            changed: true,
            notify: false,
        });
    }

    /// Checks the invariants under the lock: count = READY slots, every
    /// FREE slot on the free stack once, every READY slot on its priority's
    /// list once, lists acyclic and in seq order, committed = received + count.
    pub(crate) fn check_invariants(&self) -> std::result::Result<(), String> {
        let _g = self.lock().map_err(|e| e.to_string())?;
        let m = self;
        let sh = self.shape;
        let n = sh.max_messages as usize;
        let mut seen = vec![false; n];
        let mut ready = 0;
        for s in 0..n as u32 {
            if m.slot(s).is(SlotState::Ready) {
                ready += 1;
            }
        }
        let count = m.u64(OFF_COUNT).load(Ordering::Relaxed);
        if count != ready {
            return Err(format!("count {count} but {ready} READY slots"));
        }
        let mut f = m.u32(OFF_FREE_HEAD).load(Ordering::Relaxed);
        let mut free = 0;
        while f != 0 {
            let s = self.index(f).map_err(|e| e.to_string())? as usize;
            if seen[s] {
                return Err(format!("free stack revisits slot {s}"));
            }
            if !m.slot(s as u32).is(SlotState::Free) {
                return Err(format!("slot {s} on the free stack is not FREE"));
            }
            seen[s] = true;
            free += 1;
            f = m.u32(sh.slot(s as u32) + SLOT_NEXT).load(Ordering::Relaxed);
        }
        let mut listed = 0;
        for p in 0..PRIORITIES {
            let mut h = m.u32(OFF_HEADS + 4 * p as usize).load(Ordering::Relaxed);
            let mut last_seq = None;
            let mut last = 0;
            while h != 0 {
                let s = self.index(h).map_err(|e| e.to_string())?;
                if seen[s as usize] {
                    return Err(format!("slot {s} is listed twice (cycle?)"));
                }
                seen[s as usize] = true;
                let base = sh.slot(s);
                if !m.slot(s).is(SlotState::Ready)
                    || m.u32(base + SLOT_PRIO).load(Ordering::Relaxed) != p
                {
                    return Err(format!("slot {s} in list {p} is not READY at {p}"));
                }
                let seq = m.u64(base + SLOT_SEQ).load(Ordering::Relaxed);
                if last_seq.is_some_and(|l| l >= seq) {
                    return Err(format!("list {p} is out of seq order at slot {s}"));
                }
                last_seq = Some(seq);
                last = h;
                listed += 1;
                h = m.u32(base + SLOT_NEXT).load(Ordering::Relaxed);
            }
            if m.u32(OFF_TAILS + 4 * p as usize).load(Ordering::Relaxed) != last {
                return Err(format!("tail of list {p} is not its last slot"));
            }
        }
        if listed != ready || free + listed != n as u64 {
            return Err(format!(
                "{listed} listed + {free} free of {n} slots, {ready} READY"
            ));
        }
        let (_, committed, received, _) = self.counters();
        if committed != received + count {
            return Err(format!(
                "committed {committed} != received {received} + count {count}"
            ));
        }
        Ok(())
    }
}
