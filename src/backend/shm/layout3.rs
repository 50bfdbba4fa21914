//! Layout version 3 of the queue file, as `#[repr(C)]` structs with
//! typed atomics (offsets asserted with `offset_of!`).
//!
//! ```text
//! Head3 (page aligned, 270,336 bytes)
//!   ident      magic, layout version (3), byte order, this build's sizes,
//!              the shape (capacity, message size, stride), file size
//!   plock      producers' robust lock (own futex lock, see `lock`)
//!   producers  P (next position to publish), the cached F, recoveries
//!   clock      consumers' robust lock
//!   consumers  H (next position to drain), F (end of the free run),
//!              messages in the index, recoveries
//!   waits      a line each: receivers' and senders' registrations and
//!              futex words
//!   index      consumers' priority index: 3-level bitmap, then per-
//!              priority FIFO heads and tails (slot + 1; 0 = empty)
//! openers      OPENERS records of 64 bytes (receipt; lease owner id)
//! ring         capacity u32 slot indices (positions never wrap: index =
//!              position % capacity)
//! slots        {state, len, prio, next, seq, owner} + data, line aligned
//! ```
//!
//! The ring: `H <= P <= F <= H + capacity`; `[H, P)` published and not yet
//! drained, `[P, F)` free slots for producers. P is written only under the
//! producers' lock, H and F only under the consumers' lock, so producers
//! and consumers never share a lock or a written line on the fast path.

// Not yet used by the queue (wiring it in is the next step of issue 29);
// its tests exercise it.
#![allow(dead_code)]

use std::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicU32, AtomicU64};

use super::lock::RobustLock;

/// "PMQSHM" + layout generation, as layout 2 (the version field tells them
/// apart; its offset is the same in every layout).
pub(super) const MAGIC: u64 = u64::from_le_bytes(*b"PMQSHM\x00\x01");
pub(super) const VERSION: u32 = 3;
pub(super) const ENDIAN: u32 = 0x0102_0304;
pub(super) const PRIORITIES: u32 = 32768;
pub(super) const OPENERS: u32 = 1024;
pub(super) const LINE: usize = 64;
pub(super) const RECEIPT_HEAD_LEN: usize = 16;

/// Slot states: the state word is a slot's only commit point.
pub(super) const FREE: u32 = 0;
pub(super) const READY: u32 = 0x5245_4459; // "REDY"
/// Taken by a receiver that has not acknowledged it yet (room for leases:
/// `owner` names the opener record and its generation). No call makes one
/// yet; a repair puts one back in the queue (at-least-once).
pub(super) const LEASED: u32 = 0x4C45_4153; // "LEAS"

/// A value alone on its cache line.
#[repr(C, align(64))]
pub(super) struct Line<T>(pub T);

#[repr(C)]
pub(super) struct Ident {
    pub magic: AtomicU64,
    pub version: AtomicU32,
    pub endian: AtomicU32,
    pub head_size: AtomicU32,
    pub slot_header: AtomicU32,
    pub lock_size: AtomicU32,
    pub pointer_width: AtomicU32,
    pub capacity: AtomicU64,
    pub msgsize: AtomicU64,
    pub stride: AtomicU64,
    pub openers: AtomicU32,
    pub priorities: AtomicU32,
    pub file_size: AtomicU64,
}

#[repr(C)]
pub(super) struct Producers {
    /// Next position to publish.
    pub p: AtomicU64,
    /// F as last read (a producer reads the consumers' line only when P
    /// reaches it).
    pub free_seen: AtomicU64,
    pub recoveries: AtomicU64,
}

#[repr(C)]
pub(super) struct Consumers {
    /// Next published position not yet in the index.
    pub h: AtomicU64,
    /// End of the free run.
    pub f: AtomicU64,
    /// Messages in the index.
    pub indexed: AtomicU64,
    pub recoveries: AtomicU64,
}

#[repr(C)]
pub(super) struct Waits {
    /// Registered waiters (cleared by the waker that takes them).
    pub waiters: AtomicU32,
    /// The futex word the waiters sleep on (bumped by that waker).
    pub word: AtomicU32,
}

#[repr(C)]
pub(super) struct Index {
    pub l0: AtomicU64,
    pub l1: [AtomicU64; BITMAP_L1_WORDS],
    pub l2: [AtomicU64; BITMAP_L2_WORDS],
    pub heads: [AtomicU32; PRIORITIES as usize],
    pub tails: [AtomicU32; PRIORITIES as usize],
}
pub(super) const BITMAP_L2_WORDS: usize = PRIORITIES as usize / 64;
pub(super) const BITMAP_L1_WORDS: usize = BITMAP_L2_WORDS / 64;

#[repr(C, align(4096))]
pub(super) struct Head3 {
    pub ident: Line<Ident>,
    pub plock: RobustLock,
    pub producers: Line<Producers>,
    pub clock: RobustLock,
    pub consumers: Line<Consumers>,
    /// Receivers wait here for a send.
    pub receivers: Line<Waits>,
    /// Senders wait here for a receive.
    pub senders: Line<Waits>,
    pub index: Line<Index>,
}

#[repr(C)]
pub(super) struct Opener {
    pub state: AtomicU32,
    pub gen: AtomicU32,
    pub pid: AtomicU32,
    pub receipt_pid: AtomicU32,
    pub receipt_seq: AtomicU64,
    pub receipt_len: AtomicU32,
    pub receipt_prio: AtomicU32,
    pub receipt_head: [AtomicU32; RECEIPT_HEAD_LEN / 4],
    pub fired: AtomicU64,
    pub receipt_untaken: AtomicU64,
}

#[repr(C)]
pub(super) struct SlotHeader {
    pub state: AtomicU32,
    pub len: AtomicU32,
    pub prio: AtomicU32,
    /// Next slot + 1 in its priority's list (consumers' index); 0 = last.
    pub next: AtomicU32,
    /// The position it was published at (unique, never reused).
    pub seq: AtomicU64,
    /// LEASED: the owner (opener index << 32 | generation).
    pub owner: AtomicU64,
}

pub(super) const SLOT_HEADER: usize = size_of::<SlotHeader>();
pub(super) const HEAD_SIZE: usize = size_of::<Head3>();
pub(super) const OPENER_SIZE: usize = size_of::<Opener>();

const _: () = {
    // The fields an opener of any layout reads first stay where layout 2
    // has them, so a layout-2 file is recognised and refused by name.
    assert!(offset_of!(Ident, magic) == 0);
    assert!(offset_of!(Ident, version) == 8);
    assert!(offset_of!(Ident, endian) == 12);
    assert!(size_of::<Ident>() <= 2 * LINE);
    assert!(offset_of!(Head3, plock) == 128);
    assert!(offset_of!(Head3, producers) == 192);
    assert!(offset_of!(Head3, clock) == 256);
    assert!(offset_of!(Head3, consumers) == 320);
    assert!(offset_of!(Head3, receivers) == 384);
    assert!(offset_of!(Head3, senders) == 448);
    assert!(offset_of!(Head3, index) == 512);
    assert!(HEAD_SIZE % 4096 == 0);
    assert!(SLOT_HEADER == 32);
    assert!(offset_of!(SlotHeader, seq) == 16);
    assert!(OPENER_SIZE == 64);
    assert!(offset_of!(Opener, receipt_untaken) == 56);
};

/// Where everything of a queue of a given shape lies (computed from the
/// shape this process validated, never re-read from the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Geometry {
    pub capacity: u32,
    pub msgsize: u32,
    pub stride: usize,
    pub openers: usize,
    pub ring: usize,
    pub slots: usize,
    pub file_size: usize,
}

/// The largest file pmq agrees to create.
pub(super) const MAX_FILE_SIZE: u64 = 1 << 40;

impl Geometry {
    pub fn new(capacity: u64, msgsize: u64) -> Option<Geometry> {
        let capacity = u32::try_from(capacity)
            .ok()
            .filter(|&c| c > 0 && c < u32::MAX)?;
        let msgsize = u32::try_from(msgsize).ok().filter(|&m| m > 0)?;
        let stride = SLOT_HEADER
            .checked_add(msgsize as usize)?
            .checked_next_multiple_of(LINE)?;
        let openers = HEAD_SIZE;
        let ring = openers + OPENERS as usize * OPENER_SIZE;
        let slots = (ring + 4 * capacity as usize).checked_next_multiple_of(4096)?;
        let file_size = stride.checked_mul(capacity as usize)?.checked_add(slots)?;
        if file_size as u64 > MAX_FILE_SIZE {
            return None;
        }
        Some(Geometry {
            capacity,
            msgsize,
            stride,
            openers,
            ring,
            slots,
            file_size,
        })
    }
}

/// The words an opener compares before trusting a file, for the refusal
/// of a file an older pmq made.
pub(super) fn older_layout(version: u32) -> String {
    format!(
        "the queue file was made by an older pmq (layout {version}); drain it with that version \
         or unlink it"
    )
}
