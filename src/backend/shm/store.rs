//! The locked structure: every operation on the queue file that runs
//! under its robust mutex (send, receive, the free stack, the priority
//! bitmap and lists, the counters, the wake-ups they owe), in one place.
//! The repair of a lock whose owner died and the invariant check are in
//! `store/repair.rs`; the receipts of receivers in `store/receipts.rs`.

use std::sync::atomic::Ordering;

use super::errors::{bad_bitmap, corrupt, none_listed, not_free, not_ready, too_long};
use super::layout::*;
use super::map::Mapping;
use super::sync;
use super::{kp, ShmQueue};
use crate::backend::{Attempt, Patience};
use crate::error::{Error, Result};

mod receipts;
mod repair;
mod wait;

pub(super) use receipts::read_receipt;

/// What a critical section wants woken after it unlocked.
#[derive(Default)]
pub(super) struct Wakes {
    pub sent: bool,
    pub received: bool,
    pub changed: bool,
    pub notify: bool,
}

impl Mapping {
    pub(super) fn wake(&self, w: Wakes) {
        let m = self;
        if w.sent {
            sync::futex_wake(m.u32(OFF_SENT_WORD), i32::MAX);
        }
        if w.received {
            sync::futex_wake(m.u32(OFF_RECV_WORD), i32::MAX);
        }
        if w.changed {
            sync::futex_wake(m.u32(OFF_CHANGE_WORD), i32::MAX);
        }
        if w.notify {
            sync::futex_wake(m.u32(OFF_NOTIFY_WORD), i32::MAX);
        }
    }

    /// After a message moved (under the lock): bump the word, and wake its
    /// waiters only if one registered (a wake with nobody waiting costs a
    /// system call). The waker clears the registration.
    #[inline]
    fn moved(&self, word: usize, waiters: usize, w: &mut bool, changed: &mut bool) {
        let m = self;
        // Waiters register and read the word under the lock we hold, so with
        // none registered nobody needs the word to change (and the hot path
        // pays two plain loads, no atomic read-modify-write).
        if m.u32(waiters).load(Ordering::Relaxed) != 0 {
            m.u32(word).fetch_add(1, Ordering::SeqCst);
            m.u32(waiters).store(0, Ordering::SeqCst);
            *w = true;
        }
        if m.u32(OFF_CHANGE_WAITERS).load(Ordering::Relaxed) != 0 {
            m.u32(OFF_CHANGE_WAITERS).store(0, Ordering::SeqCst);
            m.u32(OFF_CHANGE_WORD).fetch_add(1, Ordering::SeqCst);
            *changed = true;
        }
    }

    /// Highest non-empty priority (the bitmap is consistent under the lock),
    /// or [`PRIORITIES`] when the bitmap names a word past the end of a
    /// level (a scribbled file: the caller reports it). Every index the
    /// walk derives from the file is bounded by its level's size, so no
    /// priority above 32767 reaches the lists.
    #[inline]
    fn top_priority(&self) -> Option<u32> {
        let m = self;
        let l0 = m.u64(OFF_BITMAP_L0).load(Ordering::Relaxed);
        if l0 == 0 {
            return None;
        }
        if l0 >> BITMAP_L1_WORDS != 0 {
            return Some(PRIORITIES);
        }
        // Below BITMAP_L1_WORDS (8), so w below 8 * 64 = BITMAP_L2_WORDS.
        let i = (63 - l0.leading_zeros() as usize) % BITMAP_L1_WORDS;
        let l1 = m.u64(OFF_BITMAP_L1 + 8 * i).load(Ordering::Relaxed);
        if l1 == 0 {
            return None;
        }
        let w = i * 64 + 63 - l1.leading_zeros() as usize;
        let l2 = m.u64(OFF_BITMAP_L2 + 8 * w).load(Ordering::Relaxed);
        if l2 == 0 {
            return None;
        }
        Some((w * 64 + 63 - l2.leading_zeros() as usize) as u32)
    }

    /// Sets or clears priority `p`'s bit, and the bits above it that
    /// change. Under the lock, so plain loads and stores: a locked
    /// read-modify-write costs ~20 cycles each, six per send+receive.
    #[inline]
    fn set_bit(&self, p: u32, on: bool) {
        let m = self;
        let w = p as usize / 64;
        let l2 = m.u64(OFF_BITMAP_L2 + 8 * w);
        let l1 = m.u64(OFF_BITMAP_L1 + 8 * (w / 64));
        let l0 = m.u64(OFF_BITMAP_L0);
        let (b2, b1, b0) = (1u64 << (p % 64), 1u64 << (w % 64), 1u64 << (w / 64));
        if on {
            l2.store(l2.load(Ordering::Relaxed) | b2, Ordering::Relaxed);
            l1.store(l1.load(Ordering::Relaxed) | b1, Ordering::Relaxed);
            l0.store(l0.load(Ordering::Relaxed) | b0, Ordering::Relaxed);
        } else {
            let left2 = l2.load(Ordering::Relaxed) & !b2;
            l2.store(left2, Ordering::Relaxed);
            if left2 == 0 {
                let left1 = l1.load(Ordering::Relaxed) & !b1;
                l1.store(left1, Ordering::Relaxed);
                if left1 == 0 {
                    l0.store(l0.load(Ordering::Relaxed) & !b0, Ordering::Relaxed);
                }
            }
        }
    }

    /// Appends slot `s` (READY, priority `p`, its next already 0) to its
    /// priority's list.
    #[inline]
    fn link(&self, s: u32, p: u32) -> Result<()> {
        let m = self;
        let tail = m.u32(OFF_TAILS + 4 * p as usize);
        let t = tail.load(Ordering::Relaxed);
        if t == 0 {
            m.u32(OFF_HEADS + 4 * p as usize)
                .store(s + 1, Ordering::Relaxed);
            self.set_bit(p, true);
        } else {
            let t = self.index(t)?;
            m.slot(t).u32(SLOT_NEXT).store(s + 1, Ordering::Relaxed);
        }
        tail.store(s + 1, Ordering::Relaxed);
        Ok(())
    }

    /// A stored slot reference (index + 1), checked.
    #[inline]
    fn index(&self, stored: u32) -> Result<u32> {
        if stored == 0 || stored as u64 > self.shape.max_messages {
            Err(self.bad_index(stored))
        } else {
            Ok(stored - 1)
        }
    }

    #[cold]
    #[inline(never)]
    fn bad_index(&self, stored: u32) -> Error {
        corrupt(&format!(
            "a slot reference {stored} is outside 1..={}",
            self.shape.max_messages
        ))
    }

    /// Notes the counter update of the commit about to happen (see
    /// [`Header::pending_value`]).
    fn pending(&self, kind: Pending, slot: u32, value: u64) {
        self.u32(OFF_PENDING_SLOT).store(slot, Ordering::Relaxed);
        self.u64(OFF_PENDING_VALUE).store(value, Ordering::Relaxed);
        self.u32(OFF_PENDING_KIND)
            .store(kind as u32, Ordering::Release);
    }

    /// The counter update noted by `pending` is done.
    #[inline(always)]
    pub(super) fn pending_done(&self) {
        self.u32(OFF_PENDING_KIND)
            .store(Pending::None as u32, Ordering::Release);
    }

    pub(super) fn lock(&self) -> Result<sync::Guard<'_>> {
        sync::lock(self, || self.repair())
    }

    /// Counters of the queue (for `pmq stat` and the robustness tests):
    /// (count, committed, received, recoveries).
    pub(crate) fn counters(&self) -> (u64, u64, u64, u64) {
        let m = self;
        (
            m.u64(OFF_COUNT).load(Ordering::Relaxed),
            m.u64(OFF_COMMITTED).load(Ordering::Relaxed),
            m.u64(OFF_RECEIVED).load(Ordering::Relaxed),
            m.u64(OFF_RECOVERIES).load(Ordering::Relaxed),
        )
    }

    /// The queue went from empty to non-empty: the registration (if any)
    /// fires, one-shot; its owner's watcher delivers it.
    fn notify_fire(&self, wakes: &mut Wakes) {
        let owner = self.u32(OFF_NOTIFY_OWNER).load(Ordering::Relaxed);
        if owner == 0 || owner > OPENERS {
            return;
        }
        let id = self.u64(OFF_NOTIFY_ID).load(Ordering::Relaxed);
        self.u64(self.shape.opener(owner - 1) + OPENER_FIRED)
            .store(id, Ordering::SeqCst);
        self.u32(OFF_NOTIFY_OWNER).store(0, Ordering::Relaxed);
        self.u32(OFF_NOTIFY_WORD).fetch_add(1, Ordering::SeqCst);
        wakes.notify = true;
    }
}

impl ShmQueue {
    /// Takes the lock for a transfer, waiting for another holder only as
    /// the call's patience allows (see [`sync::LockWait`]): a try-once call
    /// (or any call of a handle whose block switch is off) a few
    /// milliseconds, a timed call until its deadline, a blocking call until
    /// the handle is closed. A holder stopped inside a call never makes a
    /// call outlast its timeout.
    #[inline(always)]
    fn lock_for(&self, p: Patience) -> Result<sync::Guard<'_>> {
        sync::lock_within(&self.map, || self.map.repair(), || self.lock_wait(p))
    }

    #[cold]
    fn lock_wait(&self, p: Patience) -> sync::LockWait<'_> {
        match p {
            Patience::Once => sync::LockWait::Brief,
            _ if !self.block.load(Ordering::Relaxed) => sync::LockWait::Brief,
            Patience::Until(t) => sync::LockWait::Until(
                Some(sync::deadline_after(
                    t.saturating_duration_since(std::time::Instant::now()),
                )),
                &self.closing,
            ),
            Patience::Forever => sync::LockWait::Until(None, &self.closing),
        }
    }

    /// A receive found a count of 0: "empty", unless the header is no
    /// longer the queue's. A file cut inside its first page raises no
    /// SIGBUS (the kernel zeroes the rest of that page), so `sound` sees no
    /// fault, and the count of 0 read from the zeroed header would report
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
    /// two header loads and one probe of the file's last word, outside the
    /// lock. A cut anywhere inside the first page leaves the magic and the
    /// sizes (bytes 0..72) but zeroes the count (byte 192): only the probe
    /// beyond the cut tells.
    #[inline]
    pub(super) fn header_intact(&self) -> Result<()> {
        let m = &self.map;
        // A probe of the file's last word instead of an fstat (which cost a
        // ping-pong round trip ~0.1-0.2 us): a file cut anywhere below its
        // size faults there, the SIGBUS guard marks the mapping damaged, and
        // `damaged()` (read after the probe) says so. The line stays cached
        // (only the last slot's message bytes ever live there).
        let _ = m.u64(m.shape.file_size - 8).load(Ordering::Relaxed);
        // The guard's mark is written by the signal handler on this thread:
        // keep the flag's load after the probe.
        std::sync::atomic::compiler_fence(Ordering::SeqCst);
        if m.u64(OFF_MAGIC).load(Ordering::Relaxed) == MAGIC
            && m.u64(OFF_MAX_MESSAGES).load(Ordering::Relaxed) == m.shape.max_messages
            && !m.damaged()
        {
            return Ok(());
        }
        Err(super::errors::header_gone(m))
    }

    fn not_now<T>(&self, will_wait: bool) -> Attempt<T> {
        if will_wait && !self.block.load(Ordering::Relaxed) {
            Attempt::NonBlocking
        } else {
            Attempt::NotNow
        }
    }
}

/// What taking the head message did.
enum Taken {
    /// Taken: (length, priority).
    Message(usize, u32),
    /// The head message does not fit in what is left of the buffer.
    NoRoom,
}

impl ShmQueue {
    /// Sends `msg`: the batch path with one message.
    #[inline(always)]
    pub(super) fn send_one(&self, msg: &[u8], priority: u32, p: Patience) -> Attempt<()> {
        self.critical(Side::Send, p, |count| self.push(msg, priority, count))
    }

    /// Sends as many of `msgs` (not empty) as fit now, in order, under one
    /// lock: each message commits on its own, exactly as a single send.
    #[inline]
    pub(super) fn send_locked(
        &self,
        msgs: &[crate::queue::OutMessage<'_>],
        p: Patience,
    ) -> Attempt<usize> {
        let max = self.map.shape.max_messages;
        self.critical(Side::Send, p, |first| {
            let mut count = first;
            for msg in msgs {
                if count >= max {
                    break;
                }
                if let Err(e) = self.push(msg.data, msg.priority, count) {
                    if count == first {
                        return Err(e);
                    }
                    // Sent what came before; the next call meets it again.
                    break;
                }
                count += 1;
            }
            Ok((count - first) as usize)
        })
    }

    /// Puts one message in the queue: the lock is held and `count` (below
    /// the capacity) messages are in it.
    #[inline(always)]
    fn push(&self, msg: &[u8], priority: u32, count: u64) -> Result<()> {
        let m = &self.map;
        kp!("send.locked");
        let s = self
            .map
            .index(m.u32(OFF_FREE_HEAD).load(Ordering::Relaxed))?;
        let slot = m.slot(s);
        if !slot.is(SlotState::Free) {
            return Err(not_free(s));
        }
        m.u32(OFF_FREE_HEAD).store(
            slot.u32(SLOT_NEXT).load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        kp!("send.popped");
        let next_seq = m.u64(OFF_NEXT_SEQ);
        let seq = next_seq.load(Ordering::Relaxed);
        next_seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        slot.u32(SLOT_LEN)
            .store(msg.len() as u32, Ordering::Relaxed);
        slot.u32(SLOT_PRIO).store(priority, Ordering::Relaxed);
        slot.u64(SLOT_SEQ).store(seq, Ordering::Relaxed);
        kp!("send.header");
        slot.write_data(msg);
        kp!("send.data");
        let committed = m.u64(OFF_COMMITTED).load(Ordering::Relaxed);
        m.pending(Pending::Send, s, committed.wrapping_add(1));
        kp!("send.pending");
        // The commit point: from here on the message survives any kill.
        slot.commit(SlotState::Ready);
        kp!("send.committed");
        m.u64(OFF_COMMITTED)
            .store(committed.wrapping_add(1), Ordering::Relaxed);
        m.pending_done();
        kp!("send.counted");
        slot.u32(SLOT_NEXT).store(0, Ordering::Relaxed);
        self.map.link(s, priority)?;
        kp!("send.linked");
        m.u64(OFF_COUNT).store(count + 1, Ordering::Relaxed);
        Ok(())
    }

    /// Takes the head message into `buf` (which holds max_message_size
    /// bytes, checked by the core): the batch path with one message.
    #[inline(always)]
    pub(super) fn receive_one(&self, buf: &mut [u8], p: Patience) -> Attempt<(usize, u32)> {
        self.critical(Side::Receive, p, |count| match self.take(buf, count)? {
            Taken::Message(len, p) => Ok((len, p)),
            Taken::NoRoom => Err(too_long()),
        })
    }

    /// Takes up to `out.len()` (not 0) messages, in queue order, packed
    /// into `buf` while the next fits, under one lock.
    #[inline]
    pub(super) fn receive_locked(
        &self,
        buf: &mut [u8],
        out: &mut [crate::queue::InMessage],
        p: Patience,
    ) -> Attempt<usize> {
        self.critical(Side::Receive, p, |first| {
            let mut count = first;
            let mut at = 0;
            let mut n = 0;
            while n < out.len() && count > 0 {
                match self.take(&mut buf[at..], count) {
                    Ok(Taken::Message(len, priority)) => {
                        out[n] = crate::queue::InMessage {
                            offset: at,
                            len,
                            priority,
                        };
                        n += 1;
                        at += len;
                        count -= 1;
                    }
                    Ok(Taken::NoRoom) if n > 0 => break,
                    Ok(Taken::NoRoom) => return Err(too_long()),
                    Err(e) if n == 0 => return Err(e),
                    // Took what came before; the next call meets it again.
                    Err(_) => break,
                }
            }
            Ok(n)
        })
    }

    /// Takes the head message into `buf`: the lock is held and `count`
    /// (above 0) messages are in the queue.
    #[inline(always)]
    fn take(&self, buf: &mut [u8], count: u64) -> Result<Taken> {
        let m = &self.map;
        let sh = self.map.shape;
        let Some(p) = self.map.top_priority() else {
            return Err(none_listed());
        };
        if p >= PRIORITIES {
            return Err(bad_bitmap(m.u64(OFF_BITMAP_L0).load(Ordering::Relaxed)));
        }
        kp!("receive.locked");
        let head = m.u32(OFF_HEADS + 4 * p as usize);
        let s = self.map.index(head.load(Ordering::Relaxed))?;
        let slot = m.slot(s);
        let len = slot.u32(SLOT_LEN).load(Ordering::Relaxed) as usize;
        // The slot must be what the bitmap and the list say it is: a ready
        // message of priority p, no longer than the queue allows.
        if !slot.is(SlotState::Ready)
            || len as u64 > sh.max_message_size
            || slot.u32(SLOT_PRIO).load(Ordering::Relaxed) != p
        {
            return Err(not_ready(s, p));
        }
        if len > buf.len() {
            return Ok(Taken::NoRoom);
        }
        slot.read_data(&mut buf[..len]);
        // The receipt names the message a receiver took, if it dies now.
        let seq = slot.u64(SLOT_SEQ).load(Ordering::Relaxed);
        let rec = sh.opener(self.opener);
        kp!("receive.receipt");
        m.u64(rec + OPENER_RECEIPT_SEQ)
            .store(seq, Ordering::Relaxed);
        m.u32(rec + OPENER_RECEIPT_LEN)
            .store(len as u32, Ordering::Relaxed);
        m.u32(rec + OPENER_RECEIPT_PRIO).store(p, Ordering::Relaxed);
        m.write_bytes(rec + OPENER_RECEIPT_HEAD, &slot.head16(len));
        // This holder's own receipt now (an inherited one is replaced).
        m.u32(rec + OPENER_RECEIPT_PID).store(0, Ordering::Relaxed);
        kp!("receive.pending");
        let received = m.u64(OFF_RECEIVED).load(Ordering::Relaxed);
        m.pending(Pending::Receive, s, received.wrapping_add(1));
        // The commit point: the message is taken.
        slot.commit(SlotState::Free);
        kp!("receive.committed");
        m.u64(OFF_RECEIVED)
            .store(received.wrapping_add(1), Ordering::Relaxed);
        m.pending_done();
        kp!("receive.counted");
        let next = slot.u32(SLOT_NEXT).load(Ordering::Relaxed);
        head.store(next, Ordering::Relaxed);
        if next == 0 {
            m.u32(OFF_TAILS + 4 * p as usize)
                .store(0, Ordering::Relaxed);
            self.map.set_bit(p, false);
        }
        kp!("receive.unlinked");
        slot.u32(SLOT_NEXT).store(
            m.u32(OFF_FREE_HEAD).load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        m.u32(OFF_FREE_HEAD).store(s + 1, Ordering::Relaxed);
        kp!("receive.freed");
        m.u64(OFF_COUNT).store(count - 1, Ordering::Relaxed);
        Ok(Taken::Message(len, p))
    }
}

/// Which way a critical section moves messages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Send,
    Receive,
}

impl ShmQueue {
    /// The one critical section of every transfer, single or batch: takes
    /// the lock as `p` allows, returns "not now" when the queue is full
    /// (sends) or empty (receives), else runs `body` with the count (below
    /// the capacity, or above 0) and, if it moved anything (an error means
    /// it moved nothing), bumps the side's word, fires the notification
    /// when a send found the queue empty, unlocks and wakes whoever
    /// registered. Inlined with `side` a constant, so each path compiles
    /// to what it was when written out.
    #[inline(always)]
    fn critical<T>(
        &self,
        side: Side,
        p: Patience,
        body: impl FnOnce(u64) -> Result<T>,
    ) -> Attempt<T> {
        let g = match self.lock_for(p) {
            Ok(g) => g,
            Err(e) => return Attempt::failed(e),
        };
        let m = &self.map;
        let count = m.u64(OFF_COUNT).load(Ordering::Relaxed);
        match side {
            Side::Send if count >= m.shape.max_messages => {
                drop(g);
                return self.not_now(p.will_wait());
            }
            Side::Receive if count == 0 => {
                drop(g);
                return self.empty(p.will_wait());
            }
            _ => {}
        }
        let done = match body(count) {
            Ok(v) => v,
            Err(e) => return Attempt::failed(e),
        };
        let mut w = Wakes::default();
        match side {
            Side::Send => {
                kp!("send.moved");
                m.moved(OFF_SENT_WORD, OFF_RECV_WAITERS, &mut w.sent, &mut w.changed);
                if count == 0 {
                    m.notify_fire(&mut w);
                }
            }
            Side::Receive => {
                kp!("receive.moved");
                m.moved(
                    OFF_RECV_WORD,
                    OFF_SEND_WAITERS,
                    &mut w.received,
                    &mut w.changed,
                );
            }
        }
        drop(g);
        m.wake(w);
        Attempt::Done(done)
    }
}
