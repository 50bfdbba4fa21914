//! Receipts: the last message each opener record's holder took, left in
//! the file for a recovery when the holder dies (read when a handle claims
//! a record, and by `dead_receipts`).

use std::sync::atomic::Ordering;

use super::super::layout::*;
use super::super::map::Mapping;
use super::super::sync;
use super::super::ShmQueue;
use super::fault_error;
use crate::error::Result;

/// Reads the receipt in opener record `i` (just claimed, so no one else
/// writes it): the last message its previous holder took before it went
/// away without closing. The receipt stays in the record until this
/// handle's first receive replaces it (a clean close without a receive
/// keeps it), so a holder killed before it acted on an inherited receipt,
/// or one that only read it, passes it on.
pub(in crate::backend::shm) fn read_receipt(m: &Mapping, i: u32) -> Option<crate::types::Receipt> {
    let (seq, len, priority, head) = m.ring().receipt(i)?;
    if seq == 0 {
        return None;
    }
    Some(crate::types::Receipt {
        seq,
        len,
        priority,
        head,
    })
}

impl Mapping {
    /// Whether the message a receipt names is still in the queue (under
    /// the consumers' lock). A take writes its receipt for the top message
    /// just before it commits, so an uncommitted take left that message
    /// at the head of its priority's list (a repair relinks the lists in
    /// seq order, which keeps it first), and seqs are never reused.
    fn still_queued(&self, r: &crate::types::Receipt) -> Result<bool> {
        if r.priority >= PRIORITIES {
            return Err(super::super::errors::corrupt(&format!(
                "a receipt names priority {}, above the highest, {}",
                r.priority,
                PRIORITIES - 1
            )));
        }
        Ok(self.ring().head_seq(r.priority) == Some(r.seq))
    }
}

impl ShmQueue {
    /// Every receipt a receiver that died left (see
    /// [`crate::Queue::dead_receipts`]), read under the consumers' lock so
    /// no take is half-written and a repair (if one was due) has run.
    pub(crate) fn dead_receipts(&self) -> Result<Vec<crate::types::DeadReceipt>> {
        let m = &self.map;
        let generation = |i: u32| m.opener(i).gen.load(Ordering::Acquire);
        // Liveness costs a system call per record: asked before the lock, so
        // other processes' receives do not wait for it. A record found dead
        // here and claimed again before the lock (its generation moved) is
        // asked again under the lock.
        let mut dead_at: Vec<Option<u32>> = vec![None; OPENERS as usize];
        for i in 0..OPENERS {
            let rec = m.opener(i);
            if i == self.opener
                || rec.receipt_seq.load(Ordering::Relaxed) == 0
                || rec.receipt_pid.load(Ordering::Relaxed) != 0
            {
                continue;
            }
            let g = generation(i);
            if !sync::opener_alive(m, i) {
                dead_at[i as usize] = Some(g);
            }
        }
        // As a try-once call: a holder stopped inside the lock makes this
        // fail with WouldBlock at once, not wait.
        let _g = m
            .ring()
            .lock_consumers(|| super::super::lock::Policy::Brief)
            .map_err(fault_error)?;
        let mut out = Vec::new();
        for i in 0..OPENERS {
            let rec = m.opener(i);
            if rec.receipt_seq.load(Ordering::Relaxed) == 0 {
                continue;
            }
            // The holder's pid first: a claim stores the carried pid before
            // it (see `sync::claim_opener`).
            let holder = rec.pid.load(Ordering::Acquire);
            let carried = rec.receipt_pid.load(Ordering::Relaxed);
            let pid = if carried != 0 {
                // Inherited from a dead receiver and not replaced yet.
                carried
            } else if i == self.opener
                || (dead_at[i as usize] != Some(generation(i)) && sync::opener_alive(m, i))
            {
                // A live handle's own receipt (its receiver is not dead).
                continue;
            } else {
                holder
            };
            let Some(receipt) = read_receipt(m, i) else {
                continue;
            };
            let queued = m.still_queued(&receipt)?;
            let untaken = rec.receipt_untaken.load(Ordering::Relaxed) == receipt.seq;
            out.push(crate::types::DeadReceipt {
                receipt,
                pid,
                taken: !queued && !untaken,
                queued,
            });
        }
        // What was read from a mapping that faulted (zeros) or a header cut
        // away is not the file's: "no receipt" would tell a recovery that
        // nothing was lost.
        self.header_intact()?;
        Ok(out)
    }

    /// At a clean close: forgets this handle's own receipt.
    pub(in crate::backend::shm) fn close_receipt(&self) {
        // A clean close: every message this handle took was handed to its
        // caller, so the record keeps no receipt of this handle's own. (A
        // killed holder never gets here and leaves its receipt.) A receipt
        // it only carries for a dead receiver (inherited, not replaced by a
        // receive of its own) stays for the next holder and for
        // `dead_receipts`: closing a handle that merely read receipts must
        // not erase them for everyone else.
        let rec = self.map.opener(self.opener);
        if rec.receipt_pid.load(Ordering::Relaxed) == 0 {
            rec.receipt_seq.store(0, Ordering::Relaxed);
        }
    }
}
