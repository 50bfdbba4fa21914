//! pmq's own shared-memory backend: a queue in a file under `/dev/shm`,
//! moved by user-space code, bounded only by memory, and robust against a
//! process killed at any instruction.
//!
//! - One robust process-shared mutex guards the queue. A slot's state word
//!   is the only commit point; a locker that finds the previous owner dead
//!   (EOWNERDEAD) rebuilds everything else from the slot states
//!   ([`ShmQueue::repair`]) before going on, so no committed message is lost
//!   and none is seen twice.
//! - Try-once and expired-deadline calls never enter the kernel (an
//!   uncontended lock is a user-space atomic). Waits are futex waits on a
//!   sequence word with an absolute CLOCK_MONOTONIC deadline; the waker
//!   clears the waiter registration, so a waiter killed while registered
//!   never suppresses a later wake-up.
//! - Openers hold an OFD lock on their own byte of the file for the
//!   handle's life (released by the kernel when the process dies): liveness
//!   is never read from pids.
//! - A damaged file is Corrupted, never a crash: every value read from the
//!   mapping is range-checked before it becomes an index or an offset, and
//!   a page that faults (the file truncated under the mapping, a hole that
//!   cannot be allocated) is replaced by a zero page by the SIGBUS guard
//!   (`bus`), which marks the mapping damaged; every call checks the mark
//!   before it returns. An open allocates a file's holes or refuses.
//!
//! See `../shared/design/shm-backend.md` for the measured costs behind it.

use std::ffi::CString;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{
    Attempt, Attributes, Deliveries, Interest, NotifyError, OpenRequest, Patience, QueueBackend,
    Wake,
};
use crate::error::{Error, ErrorKind, Result};

mod bus;
mod describe;
#[cfg(feature = "fault-injection")]
#[doc(hidden)]
pub mod fault;
mod layout;
mod layout3;
mod lock;
mod map;
mod notify;
mod readiness;
mod ring;
mod sync;

use layout::*;

/// A named kill point (see `fault`): nothing unless built with the
/// `fault-injection` feature.
macro_rules! kp {
    ($name:literal) => {
        #[cfg(feature = "fault-injection")]
        $crate::backend::shm::fault::hit($name);
    };
}
pub(crate) use kp;
use map::Mapping;
pub(crate) use notify::Delivery;

/// Where queue files live: /dev/shm, or the directory in PMQ_SHM_DIR (read
/// once; for a tmpfs of another size, or tests).
pub(crate) fn shm_dir() -> &'static str {
    static DIR: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        std::env::var("PMQ_SHM_DIR")
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "/dev/shm".to_string())
    })
}

/// [`shm_dir`] for format strings (`{SHM_DIR}`).
pub(crate) struct ShmDir;
impl std::fmt::Display for ShmDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(shm_dir())
    }
}
pub(crate) const SHM_DIR: ShmDir = ShmDir;
/// Prefix of a queue file's name: `/name` lives at `/dev/shm/pmq.name`.
pub(crate) const FILE_PREFIX: &str = "pmq.";

/// Longest queue name after the leading slash on the shared-memory
/// backend, in bytes: 251, so that its file name `pmq.<name>` fits the file
/// system's 255-byte limit. (The kernel backend's is
/// [`NAME_MAX`](crate::NAME_MAX), 255.)
pub const SHM_NAME_MAX: usize = 255 - FILE_PREFIX.len();

/// The file of queue `name` ("/name").
pub(crate) fn path_of(name: &str) -> String {
    format!("{SHM_DIR}/{FILE_PREFIX}{}", &name[1..])
}

/// An open shared-memory queue handle.
pub(crate) struct ShmQueue {
    map: Arc<Mapping>,
    /// This handle's opener record.
    opener: u32,
    block: AtomicBool,
    closing: AtomicBool,
    readiness: readiness::Readiness,
    /// The receipt the previous holder of this opener record left.
    inherited: Option<crate::queue::Receipt>,
}

/// Reads the receipt in opener record `i` (just claimed, so no one else
/// writes it): the last message its previous holder took before it went
/// away without closing. The receipt stays in the record until this
/// handle's first receive replaces it (a clean close without a receive
/// keeps it), so a holder killed before it acted on an inherited receipt,
/// or one that only read it, passes it on.
fn read_receipt(m: &Mapping, i: u32) -> Option<crate::queue::Receipt> {
    let rec = m.shape.opener(i);
    let seq = m.u64(rec + OPENER_RECEIPT_SEQ).load(Ordering::Relaxed);
    if seq == 0 {
        return None;
    }
    let mut head = [0u8; RECEIPT_HEAD_LEN];
    m.read_bytes(rec + OPENER_RECEIPT_HEAD, &mut head);
    Some(crate::queue::Receipt {
        seq,
        len: m.u32(rec + OPENER_RECEIPT_LEN).load(Ordering::Relaxed),
        priority: m.u32(rec + OPENER_RECEIPT_PRIO).load(Ordering::Relaxed),
        head,
    })
}

/// What a critical section wants woken after it unlocked.
#[derive(Default)]
struct Wakes {
    sent: bool,
    received: bool,
    changed: bool,
    notify: bool,
}

impl Mapping {
    fn wake(&self, w: Wakes) {
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
        describe::corrupt(&format!(
            "a slot reference {stored} is outside 1..={}",
            self.shape.max_messages
        ))
    }

    /// Rebuilds the free stack, the lists, the bitmap and the count from
    /// the slot states (the lock's previous owner died inside it).
    /// Idempotent: a repairer that dies too leaves the next one the same job.
    /// Notes the counter update of the commit about to happen (see
    /// `OFF_PENDING_KIND`).
    fn pending(&self, kind: u32, slot: u32, value: u64) {
        self.u32(OFF_PENDING_SLOT).store(slot, Ordering::Relaxed);
        self.u64(OFF_PENDING_VALUE).store(value, Ordering::Relaxed);
        self.u32(OFF_PENDING_KIND).store(kind, Ordering::Release);
    }

    /// Stops before it writes anything it concluded when a page of the
    /// mapping faulted (see `bus`): what it read is not the file's. The
    /// lock (`sync::lock`) then leaves the lock unrecoverable.
    fn repair(&self) {
        let m = self;
        let sh = self.shape;
        // First the counters: a commit the dead owner made but did not count.
        kp!("repair.counters");
        let kind = m.u32(OFF_PENDING_KIND).load(Ordering::Acquire);
        let slot = m.u32(OFF_PENDING_SLOT).load(Ordering::Relaxed);
        if (kind == 1 || kind == 2) && u64::from(slot) < sh.max_messages {
            let state = m.u32(sh.slot(slot) + SLOT_STATE).load(Ordering::Acquire);
            let value = m.u64(OFF_PENDING_VALUE).load(Ordering::Relaxed);
            match kind {
                1 if state == READY => m.u64(OFF_COMMITTED).store(value, Ordering::Relaxed),
                2 if state != READY => m.u64(OFF_RECEIVED).store(value, Ordering::Relaxed),
                _ => {}
            }
        }
        m.u32(OFF_PENDING_KIND).store(0, Ordering::Release);
        kp!("repair.slots");
        let mut ready: Vec<(u64, u32, u32)> = Vec::new();
        let mut free_head = 0u32;
        for s in (0..sh.max_messages as u32).rev() {
            let base = sh.slot(s);
            let state = m.u32(base + SLOT_STATE).load(Ordering::Acquire);
            let prio = m.u32(base + SLOT_PRIO).load(Ordering::Relaxed);
            let len = m.u32(base + SLOT_LEN).load(Ordering::Relaxed);
            if state == READY && prio < PRIORITIES && u64::from(len) <= sh.max_message_size {
                ready.push((m.u64(base + SLOT_SEQ).load(Ordering::Relaxed), s, prio));
            } else {
                // Not committed (or not valid): free.
                m.u32(base + SLOT_STATE).store(FREE, Ordering::Release);
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

    fn lock(&self) -> Result<sync::Guard<'_>> {
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
            if m.u32(sh.slot(s) + SLOT_STATE).load(Ordering::Relaxed) == READY {
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
            if m.u32(sh.slot(s as u32) + SLOT_STATE)
                .load(Ordering::Relaxed)
                != FREE
            {
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
                if m.u32(base + SLOT_STATE).load(Ordering::Relaxed) != READY
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

    /// Whether the message a receipt names is still in the queue (under
    /// the lock). A take writes its receipt for the head of the highest
    /// priority just before it commits, so an uncommitted take left that
    /// message at the head of its priority's list (a repair relinks lists
    /// in seq order, which keeps it first), and seqs are never reused.
    fn still_queued(&self, r: &crate::queue::Receipt) -> Result<bool> {
        if r.priority >= PRIORITIES {
            return Err(describe::corrupt(&format!(
                "a receipt names priority {}, above the highest, {}",
                r.priority,
                PRIORITIES - 1
            )));
        }
        let head = self
            .u32(OFF_HEADS + 4 * r.priority as usize)
            .load(Ordering::Relaxed);
        if head == 0 {
            return Ok(false);
        }
        let slot = self.slot(self.index(head)?);
        Ok(slot.u32(SLOT_STATE).load(Ordering::Relaxed) == READY
            && slot.u64(SLOT_SEQ).load(Ordering::Relaxed) == r.seq)
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
    fn header_intact(&self) -> Result<()> {
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
        Err(header_gone(m))
    }

    fn not_now<T>(&self, will_wait: bool) -> Attempt<T> {
        if will_wait && !self.block.load(Ordering::Relaxed) {
            Attempt::NonBlocking
        } else {
            Attempt::NotNow
        }
    }

    /// Counters of the queue: (count, committed, received, recoveries).
    pub(crate) fn counters(&self) -> (u64, u64, u64, u64) {
        self.map.counters()
    }

    /// The receipt this handle's opener record held when it was claimed.
    pub(crate) fn inherited_receipt(&self) -> Option<crate::queue::Receipt> {
        self.inherited
    }

    /// Every receipt a receiver that died left (see
    /// [`crate::Queue::dead_receipts`]), read under the queue's lock so no
    /// take is half-written and a repair (if one was due) has run.
    pub(crate) fn dead_receipts(&self) -> Result<Vec<crate::queue::DeadReceipt>> {
        let m = &self.map;
        let generation = |i: u32| {
            m.u32(m.shape.opener(i) + OPENER_GEN)
                .load(Ordering::Acquire)
        };
        // Liveness costs a system call per record: asked before the lock, so
        // other processes' sends and receives do not wait for it. A record
        // found dead here and claimed again before the lock (its generation
        // moved) is asked again under the lock.
        let mut dead_at: Vec<Option<u32>> = vec![None; OPENERS as usize];
        for i in 0..OPENERS {
            let rec = m.shape.opener(i);
            if i == self.opener
                || m.u64(rec + OPENER_RECEIPT_SEQ).load(Ordering::Relaxed) == 0
                || m.u32(rec + OPENER_RECEIPT_PID).load(Ordering::Relaxed) != 0
            {
                continue;
            }
            let g = generation(i);
            if !sync::opener_alive(m, i) {
                dead_at[i as usize] = Some(g);
            }
        }
        // As a try-once call: a holder stopped inside the lock makes this
        // fail with WouldBlock at once, not wait (it used to wait 10 s and
        // say BUSY).
        let _g = self.lock_for(Patience::Once)?;
        let mut out = Vec::new();
        for i in 0..OPENERS {
            let rec = m.shape.opener(i);
            if m.u64(rec + OPENER_RECEIPT_SEQ).load(Ordering::Relaxed) == 0 {
                continue;
            }
            // The holder's pid first: a claim stores the carried pid before
            // it (see `sync::claim_opener`).
            let holder = m.u32(rec + OPENER_PID).load(Ordering::Acquire);
            let carried = m.u32(rec + OPENER_RECEIPT_PID).load(Ordering::Relaxed);
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
            let untaken =
                m.u64(rec + OPENER_RECEIPT_UNTAKEN).load(Ordering::Relaxed) == receipt.seq;
            out.push(crate::queue::DeadReceipt {
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

    /// See [`Mapping::check_invariants`].
    pub(crate) fn check_invariants(&self) -> std::result::Result<(), String> {
        self.map.check_invariants()
    }
}

/// A slot's length passed the max_message_size check but not the buffer's
/// (which holds at least max_message_size bytes): the shape is corrupt.
#[cold]
fn too_long() -> Error {
    describe::corrupt("a message is longer than the receive buffer of max_message_size bytes")
}

/// What taking the head message did.
enum Taken {
    /// Taken: (length, priority).
    Message(usize, u32),
    /// The head message does not fit in what is left of the buffer.
    NoRoom,
}

impl ShmQueue {
    /// Sends as many of `msgs` (not empty) as fit now, in order, under one
    /// lock: each message commits on its own, exactly as a single send.
    #[inline]
    fn send_locked(&self, msgs: &[crate::queue::OutMessage<'_>], p: Patience) -> Attempt<usize> {
        let g = match self.lock_for(p) {
            Ok(g) => g,
            Err(e) => return Attempt::failed(e),
        };
        let m = &self.map;
        let max = m.shape.max_messages;
        let first = m.u64(OFF_COUNT).load(Ordering::Relaxed);
        if first >= max {
            drop(g);
            return self.not_now(p.will_wait());
        }
        let mut count = first;
        for msg in msgs {
            if count >= max {
                break;
            }
            if let Err(e) = self.push(msg.data, msg.priority, count) {
                if count == first {
                    return Attempt::failed(e);
                }
                // Sent what came before; the next call meets it again.
                break;
            }
            count += 1;
        }
        kp!("send.moved");
        let mut w = Wakes::default();
        self.map
            .moved(OFF_SENT_WORD, OFF_RECV_WAITERS, &mut w.sent, &mut w.changed);
        if first == 0 {
            self.map.notify_fire(&mut w);
        }
        drop(g);
        self.map.wake(w);
        Attempt::Done((count - first) as usize)
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
        if slot.u32(SLOT_STATE).load(Ordering::Relaxed) != FREE {
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
        m.pending(1, s, committed.wrapping_add(1));
        kp!("send.pending");
        // The commit point: from here on the message survives any kill.
        slot.u32(SLOT_STATE).store(READY, Ordering::Release);
        kp!("send.committed");
        m.u64(OFF_COMMITTED)
            .store(committed.wrapping_add(1), Ordering::Relaxed);
        m.u32(OFF_PENDING_KIND).store(0, Ordering::Release);
        kp!("send.counted");
        slot.u32(SLOT_NEXT).store(0, Ordering::Relaxed);
        self.map.link(s, priority)?;
        kp!("send.linked");
        m.u64(OFF_COUNT).store(count + 1, Ordering::Relaxed);
        Ok(())
    }

    /// Takes up to `out.len()` (not 0) messages, in queue order, packed
    /// into `buf` while the next fits, under one lock.
    #[inline]
    fn receive_locked(
        &self,
        buf: &mut [u8],
        out: &mut [crate::queue::InMessage],
        p: Patience,
    ) -> Attempt<usize> {
        let g = match self.lock_for(p) {
            Ok(g) => g,
            Err(e) => return Attempt::failed(e),
        };
        let m = &self.map;
        let first = m.u64(OFF_COUNT).load(Ordering::Relaxed);
        if first == 0 {
            drop(g);
            return self.empty(p.will_wait());
        }
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
                Ok(Taken::NoRoom) => return Attempt::failed(too_long()),
                Err(e) if n == 0 => return Attempt::failed(e),
                // Took what came before; the next call meets it again.
                Err(_) => break,
            }
        }
        kp!("receive.moved");
        let mut w = Wakes::default();
        self.map.moved(
            OFF_RECV_WORD,
            OFF_SEND_WAITERS,
            &mut w.received,
            &mut w.changed,
        );
        drop(g);
        self.map.wake(w);
        Attempt::Done(n)
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
        if slot.u32(SLOT_STATE).load(Ordering::Relaxed) != READY
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
        m.pending(2, s, received.wrapping_add(1));
        // The commit point: the message is taken.
        slot.u32(SLOT_STATE).store(FREE, Ordering::Release);
        kp!("receive.committed");
        m.u64(OFF_RECEIVED)
            .store(received.wrapping_add(1), Ordering::Relaxed);
        m.u32(OFF_PENDING_KIND).store(0, Ordering::Release);
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

// The corruption details of push and take, out of line: the hot path keeps
// no formatting code (and no stack frame for it).
#[cold]
#[inline(never)]
fn not_free(s: u32) -> Error {
    describe::corrupt(&format!("slot {s} on the free stack is not free"))
}

#[cold]
#[inline(never)]
fn not_ready(s: u32, p: u32) -> Error {
    describe::corrupt(&format!(
        "slot {s} at the head of priority {p} is not a ready message"
    ))
}

/// The detail of a damaged mapping: the file shrank, or a page of it could
/// not be allocated.
#[cold]
#[inline(never)]
fn damage(m: &Mapping) -> Error {
    let need = m.shape.file_size as u64;
    match m.file_size_now() {
        Some(now) if now < need => describe::corrupt(&format!(
            "the file was truncated to {now} bytes while this handle had it mapped (the queue \
             needs {need}); every call on this handle now returns this error"
        )),
        _ => describe::corrupt(&format!(
            "a page of the file could not be read while this handle had it mapped (a hole \
             punched into it, with no room in {SHM_DIR} to allocate the page, or the file \
             shrank for a while); every call on this handle now returns this error"
        )),
    }
}

/// The detail of a header that no longer names the queue: the file shrank
/// (cut inside its first page: no fault, the rest of the page reads zeros)
/// or was overwritten.
#[cold]
#[inline(never)]
fn header_gone(m: &Mapping) -> Error {
    match m.file_size_now() {
        Some(now) if now < m.shape.file_size as u64 => damage(m),
        _ if m.damaged() => damage(m),
        _ => describe::corrupt(
            "the header's magic or capacity changed while this handle had the queue open (the \
             file was overwritten)",
        ),
    }
}

#[cold]
#[inline(never)]
fn bad_bitmap(l0: u64) -> Error {
    describe::corrupt(&format!(
        "the priority bitmap's level-0 word is {l0:#x}: it names a level-1 word past the \
         end of that level ({BITMAP_L1_WORDS} words)"
    ))
}

#[cold]
#[inline(never)]
fn none_listed() -> Error {
    describe::corrupt("messages are counted but none is listed")
}

impl Drop for ShmQueue {
    fn drop(&mut self) {
        self.readiness.stop();
        // A clean close: every message this handle took was handed to its
        // caller, so the record keeps no receipt of this handle's own. (A
        // killed holder never gets here and leaves its receipt.) A receipt
        // it only carries for a dead receiver (inherited, not replaced by a
        // receive of its own) stays for the next holder and for
        // `dead_receipts`: closing a handle that merely read receipts must
        // not erase them for everyone else.
        let rec = self.map.shape.opener(self.opener);
        if self
            .map
            .u32(rec + OPENER_RECEIPT_PID)
            .load(Ordering::Relaxed)
            == 0
        {
            self.map
                .u64(rec + OPENER_RECEIPT_SEQ)
                .store(0, Ordering::Relaxed);
        }
    }
}

/// Spins of a wait before it sleeps (each a `pause`: about 14 us in all on
/// this machine), and the shortest timeout that spins at all.
const WAIT_SPINS: u32 = 500;
const SPIN_MIN_TIMEOUT: Duration = Duration::from_micros(100);

impl ShmQueue {
    /// `a`, unless a page of the mapping faulted during the call (or
    /// before): then what it read is not the file's, and the call is
    /// Corrupted. The hot path pays one relaxed load.
    #[inline(always)]
    fn sound<T>(&self, a: Attempt<T>) -> Attempt<T> {
        if self.map.damaged() {
            return Attempt::failed(damage(&self.map));
        }
        a
    }

    #[inline(always)]
    fn send_one(&self, msg: &[u8], priority: u32, p: Patience) -> Attempt<()> {
        // The batch path with one message, written out: the single send is
        // the hot path, and the loop costs it ~10% more instructions.
        let g = match self.lock_for(p) {
            Ok(g) => g,
            Err(e) => return Attempt::failed(e),
        };
        let m = &self.map;
        let count = m.u64(OFF_COUNT).load(Ordering::Relaxed);
        if count >= m.shape.max_messages {
            drop(g);
            return self.not_now(p.will_wait());
        }
        if let Err(e) = self.push(msg, priority, count) {
            return Attempt::failed(e);
        }
        kp!("send.moved");
        let mut w = Wakes::default();
        self.map
            .moved(OFF_SENT_WORD, OFF_RECV_WAITERS, &mut w.sent, &mut w.changed);
        if count == 0 {
            self.map.notify_fire(&mut w);
        }
        drop(g);
        self.map.wake(w);
        Attempt::Done(())
    }

    #[inline(always)]
    fn receive_one(&self, buf: &mut [u8], p: Patience) -> Attempt<(usize, u32)> {
        // The batch path with one message, written out (as in try_send).
        let g = match self.lock_for(p) {
            Ok(g) => g,
            Err(e) => return Attempt::failed(e),
        };
        let count = self.map.u64(OFF_COUNT).load(Ordering::Relaxed);
        if count == 0 {
            drop(g);
            return self.empty(p.will_wait());
        }
        let got = match self.take(buf, count) {
            Ok(Taken::Message(len, p)) => (len, p),
            // `buf` holds max_message_size bytes (checked by the core).
            Ok(Taken::NoRoom) => return Attempt::failed(too_long()),
            Err(e) => return Attempt::failed(e),
        };
        kp!("receive.moved");
        let mut w = Wakes::default();
        self.map.moved(
            OFF_RECV_WORD,
            OFF_SEND_WAITERS,
            &mut w.received,
            &mut w.changed,
        );
        drop(g);
        self.map.wake(w);
        Attempt::Done(got)
    }
}

impl QueueBackend for ShmQueue {
    const NAME_MAX: usize = SHM_NAME_MAX;
    const PRIORITY_MAX: u32 = PRIORITIES - 1;

    /// The kernel's defaults, so switching backends keeps a program's shape.
    fn default_shape() -> (i64, i64) {
        (10, 8192)
    }

    fn supported() -> bool {
        cfg!(target_os = "linux")
    }

    fn open(req: &OpenRequest<'_>) -> Result<ShmQueue> {
        let map = describe::open_file(req)?;
        let opener = sync::claim_opener(&map)?;
        let inherited = read_receipt(&map, opener);
        Ok(ShmQueue {
            map: Arc::new(map),
            opener,
            inherited,
            block: AtomicBool::new(!req.nonblocking),
            closing: AtomicBool::new(false),
            readiness: readiness::Readiness::new(),
        })
    }

    fn exists(name: &str) -> Result<bool> {
        match std::fs::symlink_metadata(path_of(name)) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(crate::backend::exists_error(
                e.raw_os_error().unwrap_or(0),
                name,
            )),
        }
    }

    fn unlink(name: &str) -> Result<()> {
        let path = CString::new(path_of(name)).map_err(|_| Error::invalid("name has a NUL"))?;
        // SAFETY: a valid NUL-terminated path.
        if unsafe { libc::unlink(path.as_ptr()) } == 0 {
            Ok(())
        } else {
            Err(describe::unlink_error(name, sync::errno()))
        }
    }

    fn try_send(&self, msg: &[u8], priority: u32, p: Patience) -> Attempt<()> {
        self.sound(self.send_one(msg, priority, p))
    }

    fn try_send_batch(&self, msgs: &[crate::queue::OutMessage<'_>], p: Patience) -> Attempt<usize> {
        self.sound(self.send_locked(msgs, p))
    }

    fn try_receive(&self, buf: &mut [u8], p: Patience) -> Attempt<(usize, u32)> {
        self.sound(self.receive_one(buf, p))
    }

    fn try_receive_batch(
        &self,
        buf: &mut [u8],
        _room: usize,
        out: &mut [crate::queue::InMessage],
        p: Patience,
    ) -> Attempt<usize> {
        self.sound(self.receive_locked(buf, out, p))
    }

    /// Shutdown stops the readiness helper and closes its eventfd; a send,
    /// receive or wait uses only the mapping (kept until the handle is
    /// freed), the futex words and `closing`.
    const MOVES_NEED_COUNT: bool = false;

    fn prepare_wait(&self) {}

    fn wait(&self, interest: Interest, timeout: Option<Duration>) -> Wake {
        let deadline = timeout.map(sync::deadline_after);
        let (word, waiters) = match interest {
            Interest::Readable => (OFF_SENT_WORD, OFF_RECV_WAITERS),
            Interest::Writable => (OFF_RECV_WORD, OFF_SEND_WAITERS),
        };
        let m = &self.map;
        // A short spin first, reading the count without the lock: a peer
        // that is running moves a message within microseconds, and a futex
        // sleep and wake-up costs far more (both sides: the mover then
        // needs no FUTEX_WAKE either). Only a hint: the caller tries again.
        if timeout.map_or(true, |t| t >= SPIN_MIN_TIMEOUT) {
            let max = self.map.shape.max_messages;
            for _ in 0..WAIT_SPINS {
                let count = m.u64(OFF_COUNT).load(Ordering::Relaxed);
                let ready = match interest {
                    Interest::Readable => count > 0,
                    Interest::Writable => count < max,
                };
                if ready || self.closing.load(Ordering::Relaxed) {
                    return Wake::Ready;
                }
                std::hint::spin_loop();
            }
        }
        let v = {
            // The lock for as long as the wait may take (a holder stopped
            // inside a call ends the wait at its deadline, or at close).
            let g = match sync::lock_within(
                &self.map,
                || self.map.repair(),
                || sync::LockWait::Until(deadline, &self.closing),
            ) {
                Ok(g) => g,
                Err(e) => {
                    return match e.kind() {
                        ErrorKind::TimedOut => Wake::Elapsed,
                        ErrorKind::Closed => Wake::Ready,
                        _ => Wake::Failed(e),
                    }
                }
            };
            let count = m.u64(OFF_COUNT).load(Ordering::Relaxed);
            let ready = match interest {
                Interest::Readable => count > 0,
                Interest::Writable => count < self.map.shape.max_messages,
            };
            if ready {
                return Wake::Ready;
            }
            // Registered under the lock with the word read: a mover after
            // this either changes the word first or sees the registration.
            m.u32(waiters).fetch_add(1, Ordering::SeqCst);
            let v = m.u32(word).load(Ordering::SeqCst);
            drop(g);
            v
        };
        if self.closing.load(Ordering::SeqCst) {
            return Wake::Ready;
        }
        if self.map.damaged() {
            // The word may be the guard's zero page: nobody would wake it.
            return Wake::Failed(damage(&self.map));
        }
        match sync::futex_wait(m.u32(word), v, deadline.as_ref()) {
            _ if self.map.damaged() => Wake::Failed(damage(&self.map)),
            w => w,
        }
    }

    fn wake_waiters(&self) {
        self.closing.store(true, Ordering::SeqCst);
        let m = &self.map;
        for w in [OFF_SENT_WORD, OFF_RECV_WORD] {
            m.u32(w).fetch_add(1, Ordering::SeqCst);
        }
        self.map.wake(Wakes {
            sent: true,
            received: true,
            changed: false,
            notify: false,
        });
        self.readiness.stop();
    }

    fn shutdown(&self) {
        self.readiness.stop();
    }

    fn attributes(&self) -> Result<Attributes> {
        let sh = &self.map.shape;
        let current_messages = self.map.u64(OFF_COUNT).load(Ordering::Relaxed) as i64;
        if self.map.damaged() {
            return Err(damage(&self.map));
        }
        if current_messages == 0 {
            // 0 read from a zeroed header is the damage, not an empty queue.
            self.header_intact()?;
        }
        Ok(Attributes {
            max_messages: sh.max_messages as i64,
            max_message_size: sh.max_message_size as i64,
            current_messages,
            block: self.block.load(Ordering::Relaxed),
        })
    }

    fn block(&self) -> Result<bool> {
        Ok(self.block.load(Ordering::Relaxed))
    }

    fn set_block(&self, block: bool) -> Result<()> {
        self.block.store(block, Ordering::Relaxed);
        Ok(())
    }

    fn readiness_fd(&self) -> Option<RawFd> {
        self.readiness.fd(&self.map)
    }

    fn notify_signal(&self, signo: i32) -> std::result::Result<(), NotifyError> {
        notify::register(self, notify::Kind::Signal(signo), None)
    }

    fn notify_callback(
        &self,
        id: u64,
        deliveries: &mut Deliveries,
    ) -> std::result::Result<(), NotifyError> {
        notify::register(self, notify::Kind::Callback(id), Some(&mut deliveries.shm))
    }

    fn notify_cancel(&self) -> Result<()> {
        notify::cancel(self)
    }

    fn busy_error(name: &str, _own: bool) -> Error {
        Error::new(
            ErrorKind::Busy,
            format!(
                "queue {name} already has a notification registration (another process holds \
                 it); only one is allowed per queue: wait until it is delivered or cancelled"
            ),
        )
        .with_errno(libc::EBUSY)
    }
}
